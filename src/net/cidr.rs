//! CIDR arithmetic on `Ipv6Net`.

use std::net::Ipv6Addr;

use ipnet::Ipv6Net;

use super::NetError;

/// The `index`-th address of `net` counting from its network address (index 0), so the
/// first service IP is `nth_host(service_cidr, 1)` and the DNS service `nth_host(.., 10)`.
pub fn nth_host(net: Ipv6Net, index: u128) -> Result<Ipv6Addr, NetError> {
    let host_bits = 128 - u32::from(net.prefix_len());
    let fits = host_bits == 128 || index < (1u128 << host_bits);
    if !fits {
        let capacity = if host_bits == 128 { "2^128".to_string() } else { (1u128 << host_bits).to_string() };
        return Err(NetError::NoSuchHost { net, index, capacity });
    }
    Ok(Ipv6Addr::from(u128::from(net.network()) + index))
}

/// Whether two networks share any address.
pub fn overlaps(a: Ipv6Net, b: Ipv6Net) -> bool {
    a.contains(&b) || b.contains(&a)
}

/// How many subnets of length `subnet_len` fit in `net` (saturating at `u128::MAX`);
/// 0 when `subnet_len` is shorter than the network's own prefix.
pub fn subnet_capacity(net: Ipv6Net, subnet_len: u8) -> u128 {
    match subnet_len.checked_sub(net.prefix_len()) {
        None => 0,
        Some(bits) if bits >= 128 => u128::MAX,
        Some(bits) => 1u128 << bits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Ipv6Net {
        text.parse().unwrap()
    }

    #[test]
    fn service_and_dns_ips_of_the_field_report() {
        let service = net("2001:cafe:43::/112");
        assert_eq!(nth_host(service, 1).unwrap(), "2001:cafe:43::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(nth_host(service, 10).unwrap(), "2001:cafe:43::a".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn nth_host_counts_from_the_network_address_even_if_written_with_host_bits() {
        let written = net("2001:cafe:43::5/112");
        assert_eq!(nth_host(written, 1).unwrap(), "2001:cafe:43::1".parse::<Ipv6Addr>().unwrap());
    }

    #[test]
    fn nth_host_refuses_past_the_end() {
        let small = net("2001:db8::/126");
        assert!(nth_host(small, 3).is_ok());
        assert_eq!(
            nth_host(small, 4),
            Err(NetError::NoSuchHost { net: small, index: 4, capacity: "4".into() })
        );
        assert!(nth_host(net("::/0"), u128::MAX).is_ok());
    }

    #[test]
    fn overlap_and_containment() {
        assert!(overlaps(net("2001:cafe:42::/56"), net("2001:cafe:42:ff::/64")));
        assert!(overlaps(net("2001:cafe:42:ff::/64"), net("2001:cafe:42::/56")));
        assert!(!overlaps(net("2001:cafe:42::/56"), net("2001:cafe:43::/112")));
        assert!(net("2001:cafe:42::/56").contains(&"2001:cafe:42:1::7".parse::<Ipv6Addr>().unwrap()));
    }

    #[test]
    fn capacity_of_pod_cidrs() {
        assert_eq!(subnet_capacity(net("2001:cafe:42::/56"), 64), 256);
        assert_eq!(subnet_capacity(net("2001:cafe:42::/48"), 64), 65536);
        assert_eq!(subnet_capacity(net("2001:cafe:42::/64"), 64), 1);
        assert_eq!(subnet_capacity(net("2001:cafe:42::/64"), 56), 0);
        assert_eq!(subnet_capacity(net("::/0"), 128), u128::MAX);
    }
}
