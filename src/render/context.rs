//! What templates see. Addresses stay `Ipv6Addr`/`Ipv6Net` values (serialized in their
//! canonical text form); templates format them only through the filters.

use serde::Serialize;

use crate::inventory::{Cluster, Elasticsearch, HostSpec, Images, Inventory, Role};

/// The variables of every host and cluster template.
#[derive(Debug, Clone, Serialize)]
pub struct Context<'a> {
    /// Cluster settings and derived values (`service_cidr`, `dns_service_ip`, ...).
    pub cluster: &'a Cluster,
    pub images: &'a Images,
    /// `none` when the inventory has no Elasticsearch.
    pub elasticsearch: Option<&'a Elasticsearch>,
    /// Hosts with the etcd role, in inventory order.
    pub etcd_hosts: Vec<&'a HostSpec>,
    /// Hosts with the control-plane role, in inventory order.
    pub control_plane_hosts: Vec<&'a HostSpec>,
    /// The hosts' distinct NICs, sorted (flannel's `--iface` list).
    pub interfaces: Vec<&'a str>,
    /// The host a file is for; `none` for cluster manifests.
    pub host: Option<&'a HostSpec>,
}

impl<'a> Context<'a> {
    /// The cluster-wide context (no `host`).
    pub fn new(inv: &'a Inventory) -> Context<'a> {
        let with_role = |role| inv.hosts.iter().filter(|h| h.has(role)).collect();
        let mut interfaces: Vec<&str> = inv.hosts.iter().map(|h| h.interface.as_str()).collect();
        interfaces.sort_unstable();
        interfaces.dedup();
        Context {
            cluster: &inv.cluster,
            images: &inv.images,
            elasticsearch: inv.elasticsearch.as_ref(),
            etcd_hosts: with_role(Role::Etcd),
            control_plane_hosts: with_role(Role::ControlPlane),
            interfaces,
            host: None,
        }
    }

    /// The same context for one host's files.
    pub fn for_host(&self, host: &'a HostSpec) -> Context<'a> {
        Context { host: Some(host), ..self.clone() }
    }
}
