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
