//! `host:port`, URLs and DSNs with IPv6 literals bracketed, and a split that also accepts
//! the unbracketed form Redis puts in `MOVED`/`ASK` replies.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use super::NetError;

/// `[addr]:port`, e.g. `[2002:db8:0:1::101]:6443`.
pub fn hostport(address: Ipv6Addr, port: u16) -> String {
    format!("[{address}]:{port}")
}

/// `scheme://[addr]:port`, e.g. `https://[2002:db8:0:1::101]:6443`.
pub fn url(scheme: &str, address: Ipv6Addr, port: u16) -> String {
    format!("{scheme}://[{address}]:{port}")
}

/// The address part of a Go MySQL driver DSN: `tcp([2002:db8:0:1::101]:3306)`.
/// The unbracketed `tcp(2002:db8:0:1::101:3306)` is misparsed by the driver.
pub fn mysql_dsn_address(address: Ipv6Addr, port: u16) -> String {
    format!("tcp({})", hostport(address, port))
}

/// The host part of a `host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IP literal (IPv6 or IPv4).
    Ip(IpAddr),
    /// A DNS name.
    Name(String),
}

/// A parsed `host:port`; `Display` always brackets IPv6 literals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: Host,
    pub port: u16,
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]:{}", self.port),
            Host::Ip(IpAddr::V4(a)) => write!(f, "{a}:{}", self.port),
            Host::Name(n) => write!(f, "{n}:{}", self.port),
        }
    }
}

/// Splits `[addr]:port`, `name:port`, `a.b.c.d:port`, or the unbracketed IPv6 form that Redis
/// sends (`2002:db8:0:1::103:8533`), which is split at the last colon as go-redis does.
pub fn split_hostport(text: &str) -> Result<HostPort, NetError> {
    let refuse = || NetError::NotHostPort { text: text.to_string() };
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or_else(refuse)?;
        let port = after.strip_prefix(':').ok_or_else(refuse)?;
        let address: Ipv6Addr = inside.parse().map_err(|_| refuse())?;
        (Host::Ip(IpAddr::V6(address)), port)
    } else {
        let (host, port) = text.rsplit_once(':').ok_or_else(refuse)?;
        let host = match host.parse::<IpAddr>() {
            Ok(ip) => Host::Ip(ip),
            Err(_) if is_dns_name(host) => Host::Name(host.to_string()),
            Err(_) => return Err(refuse()),
        };
        (host, port)
    };
    let port_ok = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    let port: u16 = if port_ok { port.parse().map_err(|_| refuse())? } else { return Err(refuse()) };
    Ok(HostPort { host, port })
}

fn is_dns_name(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|label| {
            !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(text: &str) -> Ipv6Addr {
        text.parse().unwrap()
    }

    #[test]
    fn joins_bracket_the_address() {
        assert_eq!(hostport(v6("2002:db8:0:1::101"), 6443), "[2002:db8:0:1::101]:6443");
        assert_eq!(hostport(v6("::1"), 2379), "[::1]:2379");
        assert_eq!(url("https", v6("2002:0db8:0:1:0:0:0:101"), 6443), "https://[2002:db8:0:1::101]:6443");
        assert_eq!(mysql_dsn_address(v6("2002:db8:0:1::101"), 3306), "tcp([2002:db8:0:1::101]:3306)");
    }

    #[test]
    fn splits_bracketed_named_and_ipv4() {
        let p = split_hostport("[2002:db8:0:1::101]:6443").unwrap();
        assert_eq!(p.host, Host::Ip(IpAddr::V6(v6("2002:db8:0:1::101"))));
        assert_eq!(p.port, 6443);
        let p = split_hostport("redis-0.redis:6379").unwrap();
        assert_eq!((p.host, p.port), (Host::Name("redis-0.redis".into()), 6379));
        let p = split_hostport("192.0.2.7:80").unwrap();
        assert_eq!(p.to_string(), "192.0.2.7:80");
    }

    #[test]
    fn redis_moved_reply_unbracketed_is_split_at_the_last_colon() {
        // `MOVED 14443 2002:db8:0:1::103:8533` from the field report.
        let reply = "MOVED 14443 2002:db8:0:1::103:8533";
        let target = reply.rsplit(' ').next().unwrap();
        let p = split_hostport(target).unwrap();
        assert_eq!(p.host, Host::Ip(IpAddr::V6(v6("2002:db8:0:1::103"))));
        assert_eq!(p.port, 8533);
        assert_eq!(p.to_string(), "[2002:db8:0:1::103]:8533");
    }

    #[test]
    fn refuses_what_is_not_host_port() {
        for bad in ["2002:db8::1", "[2002:db8::1]", "[2002:db8::1]:", "[zz::1]:80", "host:", "host:99999", "host:-1", ":80", "a b:80", "[::1]80"] {
            assert_eq!(split_hostport(bad), Err(NetError::NotHostPort { text: bad.into() }), "{bad}");
        }
    }
}
