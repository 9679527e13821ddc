//! Recognising the addresses a single-stack cluster must refuse, each with its reason.

use std::net::{IpAddr, Ipv6Addr};

use super::NetError;

/// What kind of IPv6 address a value is, for the inventory's checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// Global unicast or ULA: usable as a host or service address.
    Unicast,
    /// `fe80::/10`: needs a zone to be bound or reached.
    LinkLocal,
    /// `::ffff:0:0/96`: IPv4 in disguise.
    Ipv4Mapped,
    /// `::`.
    Unspecified,
    /// `::1`.
    Loopback,
    /// `ff00::/8`.
    Multicast,
}

/// Classifies a parsed address.
pub fn classify(address: Ipv6Addr) -> AddressKind {
    let first = address.segments()[0];
    if address.is_unspecified() {
        AddressKind::Unspecified
    } else if address.is_loopback() {
        AddressKind::Loopback
    } else if address.is_multicast() {
        AddressKind::Multicast
    } else if first & 0xffc0 == 0xfe80 {
        AddressKind::LinkLocal
    } else if address.to_ipv4_mapped().is_some() {
        AddressKind::Ipv4Mapped
    } else {
        AddressKind::Unicast
    }
}

/// Parses text as a unicast IPv6 address a host or service can use, naming the reason when
/// it is something else: IPv4, IPv4-mapped, a zone id, link-local, `::`, `::1`, multicast.
pub fn parse_host_address(text: &str) -> Result<Ipv6Addr, NetError> {
    let text_owned = || text.to_string();
    if let Some((address, zone)) = text.split_once('%') {
        return Err(if address.parse::<Ipv6Addr>().is_ok() {
            NetError::ZoneId { text: text_owned(), zone: zone.to_string() }
        } else {
            NetError::NotIpv6 { text: text_owned() }
        });
    }
    let address = match text.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(a)) => a,
        Ok(IpAddr::V4(_)) => return Err(NetError::Ipv4 { text: text_owned() }),
        Err(_) => return Err(NetError::NotIpv6 { text: text_owned() }),
    };
    match classify(address) {
        AddressKind::Unicast => Ok(address),
        AddressKind::LinkLocal => Err(NetError::LinkLocal { text: text_owned() }),
        AddressKind::Ipv4Mapped => Err(NetError::Ipv4Mapped { text: text_owned() }),
        AddressKind::Unspecified => Err(NetError::Unspecified { text: text_owned() }),
        AddressKind::Loopback => Err(NetError::Loopback { text: text_owned() }),
        AddressKind::Multicast => Err(NetError::Multicast { text: text_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_textual_form_of_a_unicast_address() {
        let expected: Ipv6Addr = "fc00:0:130f::9c0:876a:130b".parse().unwrap();
        for form in ["FC00:0:130F::9C0:876A:130B", "fc00:0000:130f:0000:0000:09c0:876a:130b", " fc00:0:130f::9c0:876a:130b"] {
            assert_eq!(parse_host_address(form), Ok(expected), "{form}");
        }
        assert!(parse_host_address("fd00:169:254::a").is_ok());
    }

    #[test]
    fn refuses_each_kind_with_its_reason() {
        type Expected = fn(String) -> NetError;
        let cases: [(&str, Expected); 7] = [
            ("10.0.0.1", |text| NetError::Ipv4 { text }),
            ("::ffff:10.0.0.1", |text| NetError::Ipv4Mapped { text }),
            ("fe80::1", |text| NetError::LinkLocal { text }),
            ("fe80:169:254::1", |text| NetError::LinkLocal { text }),
            ("::", |text| NetError::Unspecified { text }),
            ("::1", |text| NetError::Loopback { text }),
            ("ff02::1", |text| NetError::Multicast { text }),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_host_address(text), Err(expected(text.to_string())), "{text}");
        }
        assert_eq!(
            parse_host_address("fe80::1%eth0"),
            Err(NetError::ZoneId { text: "fe80::1%eth0".into(), zone: "eth0".into() })
        );
        assert_eq!(parse_host_address("2002:db8::1::2"), Err(NetError::NotIpv6 { text: "2002:db8::1::2".into() }));
        assert_eq!(parse_host_address("host%x"), Err(NetError::NotIpv6 { text: "host%x".into() }));
    }

    #[test]
    fn febf_is_link_local_but_fec0_is_not() {
        assert_eq!(classify("febf::1".parse().unwrap()), AddressKind::LinkLocal);
        assert_eq!(classify("fec0::1".parse().unwrap()), AddressKind::Unicast);
    }
}
