//! `v6deploy init`: a commented starter inventory, every required key marked, that
//! `v6deploy inventory` accepts as written (the operator then edits addresses, interfaces
//! and versions).

use std::fmt::Write as _;
use std::net::Ipv6Addr;

/// The addresses of the starter when none are given (documentation prefix, RFC 3849).
pub const EXAMPLE_HOSTS: [Ipv6Addr; 3] = [
    Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x101),
    Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x102),
    Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, 0x103),
];

/// The roles of the `index`-th of `count` hosts: the first three (or the first, with fewer
/// than three) run the control plane and etcd too; an odd etcd count keeps quorum.
fn roles(index: usize, count: usize) -> &'static str {
    let control = if count >= 3 { 3 } else { 1 };
    if index < control { "[control-plane, etcd, worker]" } else { "[worker]" }
}

/// The starter inventory for `hosts` (the example hosts when empty).
pub fn starter(hosts: &[Ipv6Addr]) -> String {
    let hosts = if hosts.is_empty() { &EXAMPLE_HOSTS[..] } else { hosts };
    let mut text = String::from(STARTER_HEAD);
    for (index, address) in hosts.iter().enumerate() {
        // Writing to a String cannot fail.
        let _ = write!(
            text,
            "  - address: \"{address}\"            # REQUIRED: the host's IPv6 address (any textual form)\n    roles: {}     # REQUIRED: control-plane, etcd, worker\n    interface: eth0                  # REQUIRED: the NIC that carries the address (`ip -6 addr` on the host)\n    prefix_length: 64                # [64]\n    # gateway: \"2001:db8:0:1::1\"     # optional; inside the host's prefix\n",
            roles(index, hosts.len())
        );
    }
    text.push_str(STARTER_TAIL);
    text
}

const STARTER_HEAD: &str = r#"# A v6deploy inventory. Keys marked REQUIRED must be set; every other key shows its default
# in brackets and may be deleted. Paths are relative to this file's directory.
# Check it with: v6deploy -i THIS_FILE inventory
cluster:
  name: mycluster                    # REQUIRED: [a-z0-9-]; the PKI store is pki.dir/<name>/
  kubernetes_version: "1.27.15"      # REQUIRED: 1.20 to 1.30; must match the bundle's binaries
  service_cidr: "fd00:10:96::/112"   # REQUIRED: IPv6, at most 20 host bits
  pod_cidr: "fd00:10:244::/56"       # REQUIRED: IPv6, disjoint from service_cidr
  # node_cidr_mask: 64               # [64] each node's pod subnet
  # dns_domain: cluster.local        # [cluster.local]
  # upstream_dns: ["2001:db8::53"]   # [the nodes' resolv.conf]; [] for none (CoreDNS answers cluster names only)
  # pod_network: flannel             # flannel | host-routes  [flannel]
  # api_endpoint: api.example.com    # [the first control plane] a VIP or DNS name in front of the apiservers: admin.conf's server
ssh:
  user: root                         # [root]
  # port: 22                         # [22]
  # private_key: ~/.ssh/id_ed25519   # [~/.ssh/id_ed25519]; without it, the ssh-agent
  # host_key_check: strict           # strict | accept-new  [strict]
  # become: none                     # none | sudo  [none]
hosts:                               # REQUIRED: at least one
"#;

const STARTER_TAIL: &str = r#"bundle:
  path: bundle                       # [bundle] the offline bundle: bin/, cni/, images/, rpms/
  # missing: refuse                  # refuse | stage  [refuse]
pki:
  dir: certs                         # [certs] the CA and every certificate, in certs/<cluster.name>/
kernel:
  minimum: "4.19"                    # ["4.19"] hosts below it are stopped at the kernel gate
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_three_hosts_hold_the_control_plane_and_etcd() {
        let hosts: Vec<Ipv6Addr> = (1..=5).map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, i)).collect();
        let text = starter(&hosts);
        assert_eq!(text.matches("roles: [control-plane, etcd, worker]").count(), 3, "{text}");
        assert_eq!(text.matches("roles: [worker]").count(), 2, "{text}");
        let one = starter(&hosts[..2]);
        assert_eq!(one.matches("roles: [control-plane, etcd, worker]").count(), 1, "{one}");
    }

    #[test]
    fn the_starter_parses_as_an_inventory() {
        for hosts in [&[][..], &EXAMPLE_HOSTS[..1]] {
            let text = starter(hosts);
            let loaded = crate::inventory::parse(std::path::Path::new("/tmp/starter.yaml"), &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            assert_eq!(loaded.inventory.hosts.len(), hosts.len().max(1) + if hosts.is_empty() { 2 } else { 0 });
        }
    }
}
