//! Checks across hosts and the cluster's addresses: where nodelocaldns may bind. (Whether a
//! host reaches its peers is judged on the host, by the preflight check `routes`: routes may
//! come from router advertisements or a routing daemon the inventory does not describe.)

use serde_saphyr::Spanned;

use super::Validator;
use crate::inventory::model::{Cluster, HostSpec};
use crate::inventory::raw::RawCluster;
use crate::inventory::ProblemKind;

impl Validator<'_> {
    /// nodelocaldns binds its address on every node (a dummy interface): inside the pod or
    /// service CIDR it shadows a pod or a Service, equal to a host's address it takes that
    /// host's address away from its NIC.
    pub(super) fn nodelocaldns_clear(&mut self, raw: &Spanned<RawCluster>, cluster: &Cluster, hosts: &[HostSpec]) {
        let address = cluster.nodelocaldns;
        let mut clashes = Vec::new();
        for (net, name) in [(cluster.pod_cidr, "the pod CIDR"), (cluster.service_cidr, "the service CIDR")] {
            if net.contains(&address) {
                clashes.push(format!("inside {name} {net}"));
            }
        }
        if let Some(host) = hosts.iter().find(|h| h.address == address) {
            clashes.push(format!("the address of host {}", host.name));
        }
        for clash in clashes {
            let kind = ProblemKind::NodeLocalDnsClash { address, clash };
            match &raw.value.nodelocaldns {
                Some(text) => self.report(text, "cluster.nodelocaldns", kind),
                None => self.report(raw, "cluster.nodelocaldns", kind),
            }
        }
    }
}
