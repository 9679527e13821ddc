use thiserror::Error;

/// Errors of the IPv6 model.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum NetError {
    /// Text that is not an IPv6 address in any textual form.
    #[error("{} is not an IPv6 address{}", shown(text), not_ipv6_hint(text))]
    NotIpv6 { text: String },
    /// An IPv4 address where a single-stack cluster needs IPv6.
    #[error("{} is an IPv4 address; an IPv6 single-stack cluster has no IPv4: write the host's IPv6 address", shown(text))]
    Ipv4 { text: String },
    /// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), which is IPv4 traffic in disguise.
    #[error("{} is an IPv4-mapped address (::ffff:0:0/96), i.e. IPv4 traffic; write the host's native IPv6 address", shown(text))]
    Ipv4Mapped { text: String },
    /// An address with a zone id (`fe80::1%eth0`), meaningful only on one host.
    #[error("{} carries a zone id ({}); zone ids are local to one host and cannot appear in cluster configuration", shown(text), shown(zone))]
    ZoneId { text: String, zone: String },
    /// A link-local address, which cannot be bound or reached without a zone.
    #[error("{} is link-local (fe80::/10): it cannot be bound or reached without a zone (`bind: invalid argument`); use a global or ULA (fd00::/8) address", shown(text))]
    LinkLocal { text: String },
    /// The unspecified address `::`.
    #[error("{} is the unspecified address (::), which means 'all addresses', not a host", shown(text))]
    Unspecified { text: String },
    /// The loopback address `::1`.
    #[error("{} is the loopback address (::1); other hosts cannot reach it", shown(text))]
    Loopback { text: String },
    /// A multicast address.
    #[error("{} is a multicast address (ff00::/8), not a host", shown(text))]
    Multicast { text: String },
    /// A node name that is not the 39-character encoding of an address.
    #[error("{} is not an encoded node name (expected 8 groups of 4 lower-case hex digits joined by '.', e.g. 2002.0db8.0000.0001.0000.0000.0000.0101)", shown(text))]
    NotEncodedNodeName { text: String },
    /// A node name that is not a valid RFC 1123 subdomain.
    #[error("{} is not a valid node name: a lowercase RFC 1123 subdomain of at most 253 characters must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", shown(text))]
    InvalidNodeName { text: String },
    /// Text that is not `[addr]:port`, `host:port` or an unbracketed `addr:port`.
    #[error("{} is not host:port (write [2001:db8::1]:443 for an IPv6 address)", shown(text))]
    NotHostPort { text: String },
    /// A CIDR too small to hold the requested host.
    #[error("{net} has no host number {index} (it holds {capacity} addresses)")]
    NoSuchHost { net: ipnet::Ipv6Net, index: u128, capacity: String },
}

/// A value as a message shows it: quoted and escaped (a newline shows as `\n`), cut after 60
/// characters so a very long value does not flood the terminal.
pub(crate) fn shown(value: &str) -> String {
    let count = value.chars().count();
    if count <= 60 {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(60).collect();
        format!("{head:?}... ({count} characters)")
    }
}

/// What to strip from text that is an IPv6 address with something around it (brackets, a
/// port, a prefix length), or an example.
fn not_ipv6_hint(text: &str) -> String {
    let is_address = |t: &str| t.parse::<std::net::Ipv6Addr>().is_ok();
    let text = text.trim();
    if let Some(inner) = text.strip_prefix('[') {
        if let Some(address) = inner.strip_suffix(']').filter(|a| is_address(a)) {
            return format!(": remove the brackets (write {address})");
        }
        if let Some((address, _port)) = inner.split_once("]:").filter(|(a, _)| is_address(a)) {
            return format!(": write the address alone, without brackets and port (write {address})");
        }
    }
    if let Some((address, prefix)) = text.split_once('/').filter(|(a, _)| is_address(a)) {
        return format!(": remove the prefix length /{prefix} (write {address}; a host's prefix goes in hosts[].prefix_length)");
    }
    " (expected e.g. 2001:db8:0:1::101)".to_string()
}

#[cfg(test)]
mod tests {
    use super::NetError;

    #[test]
    fn an_address_with_brackets_port_or_prefix_says_what_to_strip() {
        let message = |text: &str| NetError::NotIpv6 { text: text.into() }.to_string();
        assert_eq!(message("[2001:db8::1]"), "\"[2001:db8::1]\" is not an IPv6 address: remove the brackets (write 2001:db8::1)");
        assert!(message("[2001:db8::1]:22").ends_with("without brackets and port (write 2001:db8::1)"), "{}", message("[2001:db8::1]:22"));
        assert!(message("2001:db8::1/64").contains("remove the prefix length /64 (write 2001:db8::1;"), "{}", message("2001:db8::1/64"));
        assert_eq!(message("master-1"), "\"master-1\" is not an IPv6 address (expected e.g. 2001:db8:0:1::101)");
    }
}
