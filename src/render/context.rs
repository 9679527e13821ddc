//! What templates see. Addresses stay `Ipv6Addr`/`Ipv6Net` values (serialized in their
//! canonical text form); templates format them only through the filters.

use serde::Serialize;

use super::versions::Versions;
use crate::inventory::{Cluster, Containerd, Elasticsearch, HostSpec, Images, Inventory, Kubelet, Role};

/// The variables of every host and cluster template.
#[derive(Debug, Clone, Serialize)]
pub struct Context<'a> {
    /// Cluster settings and derived values (`service_cidr`, `dns_service_ip`, ...).
    pub cluster: &'a Cluster,
    pub images: &'a Images,
    pub containerd: &'a Containerd,
    pub kubelet: &'a Kubelet,
    /// Version predicates (`k8s.kubelet_runtime_flags`, ...).
    pub k8s: Versions,
    /// `none` when the inventory has no Elasticsearch.
    pub elasticsearch: Option<&'a Elasticsearch>,
    /// Hosts with the etcd role, in inventory order.
    pub etcd_hosts: Vec<&'a HostSpec>,
    /// Hosts with the control-plane role, in inventory order.
    pub control_plane_hosts: Vec<&'a HostSpec>,
    /// The host a file is for; `none` for cluster manifests.
    pub host: Option<&'a HostSpec>,
    /// How this host's etcd member bootstraps (etcd hosts only).
    pub etcd_bootstrap: Option<EtcdBootstrap<'a>>,
}

/// The bootstrap settings of an etcd member, used only while its data dir is empty.
#[derive(Debug, Clone, Serialize)]
pub struct EtcdBootstrap<'a> {
    /// `new` for members created together by `install`; `existing` for a member joining a
    /// running cluster (after `etcdctl member add`).
    pub state: &'static str,
    /// The `initial-cluster` members: every etcd host for `new`; the running members plus
    /// this one for `existing`.
    pub members: Vec<&'a HostSpec>,
}

impl<'a> Context<'a> {
    /// The cluster-wide context (no `host`).
    pub fn new(inv: &'a Inventory) -> Context<'a> {
        let with_role = |role| inv.hosts.iter().filter(|h| h.has(role)).collect();
        Context {
            cluster: &inv.cluster,
            images: &inv.images,
            containerd: &inv.containerd,
            kubelet: &inv.kubelet,
            k8s: Versions::of(inv.cluster.kubernetes_version),
            elasticsearch: inv.elasticsearch.as_ref(),
            etcd_hosts: with_role(Role::Etcd),
            control_plane_hosts: with_role(Role::ControlPlane),
            host: None,
            etcd_bootstrap: None,
        }
    }

    /// The same context for one host's files; an etcd member bootstraps with every etcd host
    /// (`new`) unless `joining` lists the running members it joins.
    pub fn for_host(&self, host: &'a HostSpec, joining: Option<Vec<&'a HostSpec>>) -> Context<'a> {
        let etcd_bootstrap = host.has(Role::Etcd).then(|| match joining {
            Some(mut members) => {
                if !members.iter().any(|m| m.address == host.address) {
                    members.push(host);
                }
                EtcdBootstrap { state: "existing", members }
            }
            None => EtcdBootstrap { state: "new", members: self.etcd_hosts.clone() },
        });
        Context { host: Some(host), etcd_bootstrap, ..self.clone() }
    }
}
