//! The IPv6 model: node names, `host:port` and URL forms, CIDR arithmetic and the
//! classification of addresses a single-stack cluster must refuse.
//!
//! Everything here is pure. Addresses are `Ipv6Addr`/`Ipv6Net` values; text only appears at
//! the edges (parsing input, formatting output), so every textual form of an address compares
//! equal and every `[addr]:port` is bracketed.

mod cidr;
mod classify;
pub(crate) mod error;
mod hostport;
mod nodename;

pub use cidr::{nth_host, overlaps, subnet_capacity};
pub use classify::{AddressKind, classify, parse_host_address};
pub use error::NetError;
pub use hostport::{Host, HostPort, hostport, mysql_dsn_address, split_hostport, url};
pub use nodename::{NodeName, RFC1123_SUBDOMAIN};
