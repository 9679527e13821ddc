//! Checks across hosts and the cluster's addresses: where nodelocaldns may bind, and whether
//! a host without a gateway can reach its peers.

use ipnet::Ipv6Net;
use serde_saphyr::Spanned;

use super::Validator;
use crate::inventory::model::{Cluster, HostSpec};
use crate::inventory::raw::{RawCluster, RawHost};
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

    /// A host without `gateway` has no default route of v6deploy's making (and, forwarding,
    /// takes one from router advertisements only with accept_ra 2): every peer must be on its
    /// link. Refused rather than warned about: the install would otherwise fail half-way with
    /// etcd or the API server unreachable, and the fix is one key.
    pub(super) fn peers_on_link(&mut self, raw: &[RawHost], hosts: &[HostSpec]) {
        for (i, (host, raw_host)) in hosts.iter().zip(raw).enumerate() {
            if host.gateway.is_some() {
                continue;
            }
            let Ok(net) = Ipv6Net::new(host.address, host.prefix_length).map(|n| n.trunc()) else { continue };
            let off_link: Vec<String> = hosts.iter().filter(|peer| !net.contains(&peer.address)).map(|peer| peer.address.to_string()).collect();
            if !off_link.is_empty() {
                let kind = ProblemKind::PeersOffLink { net, peers: off_link.join(", ") };
                self.report(&raw_host.address, format!("hosts[{i}].gateway"), kind);
            }
        }
    }
}
