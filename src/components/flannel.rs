//! flannel: the pod network (IPv6 vxlan; needs kernel >= 3.12), a DaemonSet on every node.

use super::Component;
use crate::inventory::PodNetwork;

pub const FLANNEL: Component = Component::addon("flannel", "flannel.yaml.j2", "flannel.yaml", |inv| inv.cluster.pod_network == PodNetwork::Flannel, |inv| vec![inv.images.flannel.to_string(), inv.images.flannel_cni_plugin.to_string()]);
