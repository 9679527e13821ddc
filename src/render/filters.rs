//! The filters templates use. Addresses: every `[addr]`, `[addr]:port`, URL and node name in
//! rendered output comes from here, and each is formatted by `crate::net`. Strings: `yaml`
//! (also TOML), `json`, `ifcfg` and `systemd` quote a value for the syntax it lands in
//! (`super::quoting`), so no value can break out of its place.
//!
//! Each filter parses its input as an IPv6 address (any textual form) and raises a template
//! error otherwise, so an IPv4 literal or a typo in a template or context cannot reach a host.

use std::net::{IpAddr, Ipv6Addr};

use ipnet::Ipv6Net;
use minijinja::value::Kwargs;
use minijinja::{Environment, Error, ErrorKind};

use super::quoting;
use crate::net::{self, NetError, NodeName};

/// Adds `bracket`, `hostport`, `url`, `nodename`, `nth_host`, `yaml`, `json`, `ifcfg` and
/// `systemd` to `env`.
pub(super) fn register(env: &mut Environment<'_>) {
    env.add_filter("yaml", |value: &str| quoting::yaml(value));
    env.add_filter("json", |value: &str| quoting::json(value));
    env.add_filter("ifcfg", |value: &str| quoting::ifcfg(value).map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("ifcfg: {e}"))));
    env.add_filter("systemd", |value: &str| quoting::systemd(value).map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("systemd: {e}"))));
    env.add_filter("bracket", bracket);
    env.add_filter("hostport", hostport);
    env.add_filter("url", url);
    env.add_filter("nodename", nodename);
    env.add_filter("nth_host", nth_host);
}

/// `{{ "2002:db8:0:1::101" | bracket }}` -> `[2002:db8:0:1::101]`.
fn bracket(address: &str) -> Result<String, Error> {
    Ok(format!("[{}]", parse_address("bracket", address)?))
}

/// `{{ addr | hostport(6443) }}` -> `[addr]:6443`.
fn hostport(address: &str, port: u16) -> Result<String, Error> {
    Ok(net::hostport(parse_address("hostport", address)?, port))
}

/// `{{ addr | url(2379) }}` -> `https://[addr]:2379`; `url(2381, scheme="http")` for others.
fn url(address: &str, port: u16, options: Kwargs) -> Result<String, Error> {
    let scheme: Option<&str> = options.get("scheme")?;
    options.assert_all_used()?;
    Ok(net::url(scheme.unwrap_or("https"), parse_address("url", address)?, port))
}

/// `{{ addr | nodename }}` -> `2002.0db8.0000.0001.0000.0000.0000.0101`.
fn nodename(address: &str) -> Result<String, Error> {
    Ok(NodeName::encode(parse_address("nodename", address)?).to_string())
}

/// `{{ "2001:cafe:43::/112" | nth_host(10) }}` -> `2001:cafe:43::a`.
fn nth_host(cidr: &str, index: u64) -> Result<String, Error> {
    let net: Ipv6Net = cidr.trim().parse().map_err(|_| {
        Error::new(ErrorKind::InvalidOperation, format!("nth_host: {cidr:?} is not an IPv6 CIDR (expected e.g. 2001:cafe:43::/112)"))
    })?;
    let address = net::nth_host(net, u128::from(index)).map_err(|e| refuse("nth_host", &e))?;
    Ok(address.to_string())
}

/// Parses any textual form of an IPv6 address; `::` and `::1` are accepted (they are what
/// bind addresses and loopback URLs need), IPv4 and anything else is refused with the reason.
fn parse_address(filter: &str, text: &str) -> Result<Ipv6Addr, Error> {
    match text.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(address)) => Ok(address),
        Ok(IpAddr::V4(_)) => Err(refuse(filter, &NetError::Ipv4 { text: text.to_string() })),
        Err(_) => Err(refuse(filter, &NetError::NotIpv6 { text: text.to_string() })),
    }
}

fn refuse(filter: &str, error: &NetError) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{filter}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(source: &str) -> Result<String, Error> {
        let mut env = Environment::new();
        register(&mut env);
        env.render_str(source, ())
    }

    #[test]
    fn format_through_the_net_module() {
        let cases = [
            (r#"{{ "2002:0DB8:0:1:0:0:0:101" | bracket }}"#, "[2002:db8:0:1::101]"),
            (r#"{{ "2002:db8:0:1::101" | hostport(6443) }}"#, "[2002:db8:0:1::101]:6443"),
            (r#"{{ "::1" | url(2379) }}"#, "https://[::1]:2379"),
            (r#"{{ "::1" | url(2381, scheme="http") }}"#, "http://[::1]:2381"),
            (r#"{{ "::" | hostport(10256) }}"#, "[::]:10256"),
            (r#"{{ "2002:db8:0:1::101" | nodename }}"#, "2002.0db8.0000.0001.0000.0000.0000.0101"),
            (r#"{{ "2001:cafe:43::/112" | nth_host(10) }}"#, "2001:cafe:43::a"),
        ];
        for (source, expected) in cases {
            assert_eq!(render(source).unwrap(), expected, "{source}");
        }
    }

    #[test]
    fn refuse_what_is_not_ipv6() {
        for (source, reason) in [
            (r#"{{ "127.0.0.1" | bracket }}"#, "bracket: \"127.0.0.1\" is an IPv4 address"),
            (r#"{{ "0.0.0.0" | hostport(80) }}"#, "hostport: \"0.0.0.0\" is an IPv4 address"),
            (r#"{{ "fe80::1%eth0" | url(80) }}"#, "url: \"fe80::1%eth0\" is not an IPv6 address"),
            (r#"{{ "master-1" | nodename }}"#, "nodename: \"master-1\" is not an IPv6 address"),
            (r#"{{ "10.96.0.0/12" | nth_host(1) }}"#, "nth_host: \"10.96.0.0/12\" is not an IPv6 CIDR"),
            (r#"{{ "2001:db8::/126" | nth_host(4) }}"#, "nth_host: 2001:db8::/126 has no host number 4"),
            (r#"{{ "::1" | url(80, schema="http") }}"#, "unknown keyword argument 'schema'"),
        ] {
            let error = render(source).unwrap_err().to_string();
            assert!(error.contains(reason), "{source}: {error}");
        }
    }
}
