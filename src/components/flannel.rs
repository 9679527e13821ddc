//! flannel: the pod network (IPv6 vxlan; needs kernel >= 3.12), a DaemonSet on every node.

use super::{AddonNetwork, Component, Leaves, Script, Workload, WorkloadKind, delete_link};
use crate::inventory::PodNetwork;

pub const FLANNEL: Component = Component::addon("flannel", "flannel.yaml.j2", "flannel.yaml", |inv| inv.cluster.pod_network == PodNetwork::Flannel, |inv| vec![inv.images.flannel.to_string(), inv.images.flannel_cni_plugin.to_string()], &[DAEMONSET], AddonNetwork::Host)
    // Its pods write their subnet lease, the CNI configuration and the flannel CNI plugin on
    // every node and make the vxlan interface and the pods' bridge there.
    .leaving(Leaves {
        state: &["/run/flannel", "/etc/cni/net.d/10-flannel.conflist", "/opt/cni/bin/flannel"],
        undo: Some(Script { what: "remove the flannel-v6.1 and cni0 interfaces", script: || format!("{}\n{}", delete_link("flannel-v6.1"), delete_link("cni0")) }),
        ..Leaves::NOTHING
    });

/// One flanneld per node; a node is Ready once its pod wrote the CNI configuration.
const DAEMONSET: Workload = Workload { kind: WorkloadKind::DaemonSet, namespace: "kube-flannel", name: "kube-flannel-ds", selector: "app=flannel" };
