//! Addresses, routes, resolvers and listening ports.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;

use serde::Serialize;

/// A NIC and its IPv6 addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interface {
    pub name: String,
    pub addresses: Vec<(Ipv6Addr, u8)>,
}

/// Parses `ip -6 -o addr show` (`2: eth0    inet6 2001:db8::1/64 scope global ...`).
pub fn parse_interfaces(output: &str) -> Vec<Interface> {
    let mut interfaces: Vec<Interface> = Vec::new();
    for line in output.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(name), Some(pos)) = (fields.get(1), fields.iter().position(|f| *f == "inet6")) else { continue };
        let name = name.split('@').next().unwrap_or(name).to_string();
        let Some((address, prefix)) = fields.get(pos + 1).and_then(|a| a.split_once('/')) else { continue };
        let (Ok(address), Ok(prefix)) = (address.parse::<Ipv6Addr>(), prefix.parse::<u8>()) else { continue };
        match interfaces.iter_mut().find(|i| i.name == name) {
            Some(i) => i.addresses.push((address, prefix)),
            None => interfaces.push(Interface { name, addresses: vec![(address, prefix)] }),
        }
    }
    interfaces
}

/// Parses `ip -6 route show default`: the `via` of each default route (None: device route).
pub fn parse_default_routes(output: &str) -> Vec<Option<Ipv6Addr>> {
    output
        .lines()
        .filter(|l| l.starts_with("default"))
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            fields.iter().position(|f| *f == "via").and_then(|i| fields.get(i + 1)).and_then(|a| a.parse().ok())
        })
        .collect()
}

/// What the host's own routing table says about its peers, and where its default routes
/// come from (`Query::PeerRoutes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PeerRoutes {
    pub peers: Vec<PeerRoute>,
    /// Default routes learned from router advertisements (`proto ra`): the device and its
    /// `accept_ra` now.
    pub ra_defaults: Vec<(String, Option<u8>)>,
}

/// What `ip -6 route get PEER` said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerRoute {
    pub address: Ipv6Addr,
    /// Its first line: the route picked, or the error.
    pub said: String,
    /// A usable route (not unreachable, prohibited, a blackhole or an error).
    pub reachable: bool,
}

/// The script of `Query::PeerRoutes`: the answer of `ip -6 route get` for every peer, then
/// `ra DEVICE ACCEPT_RA` for each default route from router advertisements. All peers are
/// asked of one `ip -batch` (a `batch-peers A B ...` line, ip's lines, `batch-end`; its stdout
/// line-buffered by `stdbuf` so that its errors stay in order): a process per peer made
/// reading 30 hosts cost 30 x 29 processes. Without `stdbuf`, `peer ADDRESS ROUTE-OR-ERROR`
/// lines from one `ip` each.
pub fn peer_routes_script(peers: &[Ipv6Addr]) -> String {
    let list: Vec<String> = peers.iter().map(ToString::to_string).collect();
    format!(
        "set -- {}
         if [ $# -gt 0 ] && command -v stdbuf >/dev/null 2>&1; then echo \"batch-peers $*\"; for a; do echo \"route get $a\"; done | stdbuf -oL ip -6 -force -batch - 2>&1; echo batch-end
         else for a; do printf 'peer %s %s\\n' \"$a\" \"$(ip -6 route get \"$a\" 2>&1 | head -n 1)\"; done; fi
         ip -6 route show default proto ra 2>/dev/null | while read -r l; do set -- $l; d=''; while [ $# -gt 0 ]; do [ \"$1\" = dev ] && d=$2; shift; done
         [ -n \"$d\" ] && printf 'ra %s %s\\n' \"$d\" \"$(cat /proc/sys/net/ipv6/conf/$d/accept_ra 2>/dev/null)\"; done; true",
        list.join(" ")
    )
}

/// Whether what `ip -6 route get` said is a usable route (not unreachable, prohibited, a
/// blackhole or an error).
fn usable(said: &str) -> bool {
    let first = said.split_whitespace().next().unwrap_or("");
    !(said.is_empty() || ["unreachable", "prohibit", "blackhole", "RTNETLINK", "Error:"].contains(&first) || said.contains("unreachable"))
}

/// Parses the output of [`peer_routes_script`]. In the batch, each command gives a route line
/// (and maybe indented lines after it), or error lines and `Command failed -:N`; the routes
/// come in the order the peers were asked.
pub fn parse_peer_routes(output: &str) -> PeerRoutes {
    let mut routes = PeerRoutes::default();
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        if let Some(list) = line.strip_prefix("batch-peers ") {
            let peers: Vec<Ipv6Addr> = list.split_whitespace().filter_map(|a| a.parse().ok()).collect();
            let mut said: Vec<Option<String>> = vec![None; peers.len()];
            let (mut next, mut errors) = (0usize, Vec::new());
            for line in lines.by_ref() {
                if line == "batch-end" {
                    break;
                }
                if let Some(n) = line.strip_prefix("Command failed -:").and_then(|n| n.trim().parse::<usize>().ok()) {
                    if let Some(slot) = n.checked_sub(1).and_then(|i| said.get_mut(i)) {
                        *slot = Some(errors.join("; "));
                    }
                    errors.clear();
                    next = n;
                } else if line.starts_with("RTNETLINK") || line.starts_with("Error:") {
                    errors.push(line.trim().to_string());
                } else if line.starts_with(char::is_whitespace) || line.is_empty() {
                    // A continuation of the route above (`cache ...`).
                } else {
                    if let Some(slot) = said.get_mut(next) {
                        *slot = Some(line.trim().to_string());
                    }
                    next += 1;
                }
            }
            for (address, said) in peers.into_iter().zip(said) {
                let said = said.unwrap_or_default();
                routes.peers.push(PeerRoute { address, reachable: usable(&said), said });
            }
            continue;
        }
        let mut fields = line.splitn(3, ' ');
        match (fields.next(), fields.next(), fields.next().unwrap_or("").trim()) {
            (Some("peer"), Some(address), route) => {
                let Ok(address) = address.parse::<Ipv6Addr>() else { continue };
                routes.peers.push(PeerRoute { address, said: route.to_string(), reachable: usable(route) });
            }
            (Some("ra"), Some(device), accept) => routes.ra_defaults.push((device.to_string(), accept.parse().ok())),
            _ => {}
        }
    }
    routes
}

/// The `nameserver` lines of resolv.conf, as written.
pub fn parse_nameservers(resolv: &str) -> Vec<String> {
    resolv
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .map(|rest| rest.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// TCP ports in LISTEN state from /proc/net/tcp6 and /proc/net/tcp (no `ss` needed).
pub fn parse_listening_ports(tcp6: &str, tcp: &str) -> Vec<u16> {
    let mut ports = BTreeSet::new();
    for line in tcp6.lines().chain(tcp.lines()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else { continue };
        if *state != "0A" {
            continue;
        }
        if let Some(port) = local.rsplit_once(':').and_then(|(_, p)| u16::from_str_radix(p, 16).ok()) {
            ports.insert(port);
        }
    }
    ports.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_from_ip_addr() {
        let out = "1: lo    inet6 ::1/128 scope host \\       valid_lft forever preferred_lft forever\n\
                   2: eth0@if7    inet6 2001:db8:0:1::101/64 scope global nodad \\       valid_lft forever preferred_lft forever\n\
                   2: eth0@if7    inet6 fe80::1c3:aff:fe00:1/64 scope link \\       valid_lft forever preferred_lft forever\n";
        let ifs = parse_interfaces(out);
        assert_eq!(ifs.len(), 2);
        assert_eq!(ifs[1].name, "eth0");
        assert_eq!(ifs[1].addresses[0], ("2001:db8:0:1::101".parse().unwrap(), 64));
        assert_eq!(ifs[1].addresses.len(), 2);
    }

    #[test]
    fn peer_routes_and_ra_defaults() {
        let out = "peer 2001:db8:1::2 2001:db8:1::2 dev eth0 proto kernel src 2001:db8:1::1 metric 256 pref medium\n\
                   peer 2001:db8:2::1 2001:db8:2::1 from :: via fe80::1 dev eth0 proto ra src 2001:db8:1::1 metric 1024 pref medium\n\
                   peer 2001:db8:3::1 RTNETLINK answers: Network is unreachable\n\
                   peer 2001:db8:4::1 unreachable 2001:db8::/32 dev lo table main proto kernel metric 1024 error -113 pref medium\n\
                   ra eth1 1\n";
        let routes = parse_peer_routes(out);
        let ok: Vec<bool> = routes.peers.iter().map(|r| r.reachable).collect();
        assert_eq!(ok, [true, true, false, false]);
        assert_eq!(routes.ra_defaults, [("eth1".to_string(), Some(1))]);
        let script = peer_routes_script(&["2001:db8:1::2".parse().unwrap()]);
        assert!(std::process::Command::new("sh").arg("-n").arg("-c").arg(&script).status().unwrap().success(), "{script}");
    }

    /// One `ip -batch` for every peer: errors come as their message and `Command failed -:N`,
    /// a route may have indented lines after it; a peer the output never reached has no route.
    #[test]
    fn peer_routes_from_one_batch() {
        let out = "batch-peers 2001:db8:1::2 2001:db8:3::1 2001:db8:2::1 2001:db8:5::1 2001:db8:6::1\n\
                   2001:db8:1::2 from :: dev eth0 proto kernel src 2001:db8:1::1 metric 256 pref medium\n\
                   RTNETLINK answers: No route to host\n\
                   Command failed -:2\n\
                   2001:db8:2::1 from :: via fe80::1 dev eth0 proto ra src 2001:db8:1::1 metric 1024 pref medium\n    cache expires 599sec mtu 1280 pref medium\n\
                   unreachable 2001:db8:5::1 from :: dev lo table main proto kernel metric 1024 error -113 pref medium\n\
                   batch-end\n\
                   ra eth1 0\n";
        let routes = parse_peer_routes(out);
        let found: Vec<(String, bool)> = routes.peers.iter().map(|r| (r.address.to_string(), r.reachable)).collect();
        assert_eq!(
            found,
            [("2001:db8:1::2".into(), true), ("2001:db8:3::1".into(), false), ("2001:db8:2::1".into(), true), ("2001:db8:5::1".into(), false), ("2001:db8:6::1".into(), false)]
        );
        assert_eq!(routes.peers[1].said, "RTNETLINK answers: No route to host");
        assert_eq!(routes.ra_defaults, [("eth1".to_string(), Some(0))]);
    }

    /// The script run for real with this machine's `ip`, in a network namespace of its own
    /// (root only) where only loopback is up: a peer with no route between two that have one,
    /// each answered in order.
    #[test]
    fn the_batch_runs_with_this_machines_ip() {
        if std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m)).unwrap_or(1) != 0 {
            return;
        }
        let script = peer_routes_script(&["::1".parse().unwrap(), "2001:db8:ffff:ffff::1".parse().unwrap(), "::1".parse().unwrap()]);
        let out = std::process::Command::new("unshare").args(["-n", "sh", "-c"]).arg(format!("ip link set lo up && {script}")).output().unwrap();
        let routes = parse_peer_routes(&String::from_utf8_lossy(&out.stdout));
        let reachable: Vec<bool> = routes.peers.iter().map(|r| r.reachable).collect();
        assert_eq!(reachable, [true, false, true], "{:?}", routes.peers);
    }

    #[test]
    fn default_routes_with_and_without_via() {
        let out = "default via 2002:db8:0:1::1 dev ens160 proto static metric 100 pref medium\ndefault dev wg0 metric 1024 pref medium\n";
        assert_eq!(parse_default_routes(out), [Some("2002:db8:0:1::1".parse().unwrap()), None]);
        assert!(parse_default_routes("").is_empty());
    }

    #[test]
    fn nameservers_from_resolv_conf() {
        let out = "# generated\nsearch example.com\nnameserver 2001:db8::53\nnameserver 192.0.2.53\n";
        assert_eq!(parse_nameservers(out), ["2001:db8::53", "192.0.2.53"]);
    }

    #[test]
    fn listening_ports_from_proc() {
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
                      0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n\
                      1: 00000000000000000000000001000000:094B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n\
                      2: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D3A2 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n";
        let tcp = "  sl  local_address rem_address   st\n   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n";
        assert_eq!(parse_listening_ports(tcp6, tcp), [22, 2379, 3306]);
    }
}
