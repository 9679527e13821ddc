//! The `host-routes` pod network (`cluster.pod_network: host-routes`), kindnet's design for
//! nodes on one link and no daemon of our own: each node's pods on a `bridge` CNI network over
//! the node's `spec.podCIDR` (`host-local` addresses, `portmap` for host ports), and on every
//! node a route `<peer podCIDR> via <peer address>` for each other node. The routes are
//! persisted in `ROUTES` and set at every boot by the `v6deploy-pod-routes` unit; the
//! "Pod network" steps write both from the Node objects, so node add keeps them in step.

use std::net::Ipv6Addr;

use ipnet::Ipv6Net;
use serde_json::json;

use super::{Leaves, Script, delete_link, Component, HostFile, Kind};
use crate::inventory::{Inventory, PodNetwork, Role};

/// The CNI configuration (the kubelet's runtime reads `/etc/cni/net.d`).
pub const CONFLIST: &str = "/etc/cni/net.d/10-v6deploy.conflist";
/// The routes to the other nodes' pod subnets, `PODCIDR ADDRESS` per line.
pub const ROUTES: &str = "/etc/v6deploy/pod-routes";
/// The unit that sets them.
pub const UNIT: &str = "v6deploy-pod-routes";

pub const POD_ROUTES: Component = Component {
    name: "pod-routes",
    roles: &Role::ALL,
    binaries: &[],
    bundle_dirs: &[],
    files: &[HostFile::config("/etc/systemd/system/v6deploy-pod-routes.service", "v6deploy-pod-routes.service.j2")],
    certificates: &[],
    ports: &[],
    leaves: Leaves {
        state: &[CONFLIST, ROUTES],
        undo: Some(Script { what: "remove the routes to the other nodes' pod subnets and the cni0 bridge", script: remove_routes }),
        ..Leaves::NOTHING
    },
    kind: Kind::PodNetwork,
};

/// The routes of `ROUTES` removed (those still there), then the pods' bridge.
fn remove_routes() -> String {
    format!("if [ -f {ROUTES} ]; then while read -r cidr via; do [ -z \"$cidr\" ] || ip -6 route del \"$cidr\" via \"$via\" 2>/dev/null || true; done < {ROUTES}; fi\n{}", delete_link("cni0"))
}

/// Whether the inventory uses this pod network.
pub fn wanted(inv: &Inventory) -> bool {
    inv.cluster.pod_network == PodNetwork::HostRoutes
}

/// The node's CNI configuration: a bridge (`cni0`, the gateway of its pod subnet) with
/// addresses from its podCIDR, and a default route for the pods.
pub fn conflist(pod_cidr: Ipv6Net) -> String {
    let config = json!({
        "cniVersion": "0.4.0",
        "name": "v6deploy",
        "plugins": [
            {
                "type": "bridge",
                "bridge": "cni0",
                "isGateway": true,
                "ipMasq": false,
                "hairpinMode": true,
                "ipam": {"type": "host-local", "ranges": [[{"subnet": pod_cidr.to_string()}]], "routes": [{"dst": "::/0"}]}
            },
            {"type": "portmap", "capabilities": {"portMappings": true}}
        ]
    });
    // invariant: a json! value always serializes.
    serde_json::to_string_pretty(&config).expect("JSON value") + "\n"
}

/// The routes file of a node: every other node's podCIDR via its address, by subnet.
pub fn routes(peers: &[(Ipv6Net, Ipv6Addr)]) -> String {
    let mut peers = peers.to_vec();
    peers.sort();
    peers.iter().map(|(cidr, via)| format!("{cidr} {via}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cni_config_and_the_routes_file() {
        let conf: serde_json::Value = serde_json::from_str(&conflist("2001:db8:42:1::/64".parse().unwrap())).unwrap();
        assert_eq!(conf["plugins"][0]["ipam"]["ranges"][0][0]["subnet"], "2001:db8:42:1::/64");
        assert_eq!(conf["plugins"][1]["type"], "portmap");
        let peers = [("2001:db8:42:3::/64".parse().unwrap(), "2001:db8:0:1::103".parse().unwrap()), ("2001:db8:42:2::/64".parse().unwrap(), "2001:db8:0:1::102".parse().unwrap())];
        assert_eq!(routes(&peers), "2001:db8:42:2::/64 2001:db8:0:1::102\n2001:db8:42:3::/64 2001:db8:0:1::103\n");
    }
}
