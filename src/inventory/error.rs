//! Inventory errors: where (file, line, column), which value, why, and what to write instead.

use std::fmt;
use std::io;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use ipnet::Ipv6Net;
use thiserror::Error;

use crate::net::NetError;
use crate::net::error::shown;

/// Why an inventory could not be loaded.
#[derive(Debug, Error)]
pub enum InventoryError {
    /// The file could not be read.
    #[error("cannot read inventory {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file has no content (empty, or only comments).
    #[error("{}: the inventory is empty: it needs at least cluster: and hosts: (see `v6deploy init`)", path.display())]
    Empty { path: PathBuf },
    /// The YAML is malformed; the parser stops at the first such error.
    #[error("{}:{line}:{column}: {message}\n(reading stops at the first YAML syntax error: fix it and run again to see any other problem)", path.display())]
    Syntax { path: PathBuf, line: usize, column: usize, message: String },
    /// A value of the right shape that serde still refuses (a form `shape` lets through).
    #[error("{}:{line}:{column}: {message}", path.display())]
    Value { path: PathBuf, line: usize, column: usize, message: String },
    /// The YAML is well formed but values are wrong; every problem found is listed.
    #[error("{}", Problems(problems))]
    Invalid { problems: Vec<Problem> },
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() > 1 {
            writeln!(f, "{} problems in the inventory:", self.0.len())?;
        }
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Where in the file a value was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub path: PathBuf,
    /// 1-based line and column; 0 when the parser does not know.
    pub line: usize,
    pub column: usize,
    /// The key path, e.g. `hosts[1].address`; empty when the message names the key itself.
    pub field: String,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        Ok(())
    }
}

/// One wrong value, with its place.
#[derive(Debug, Error)]
#[error("{place}: {kind}")]
pub struct Problem {
    pub place: Place,
    pub kind: ProblemKind,
}

/// One finding that does not stop loading (shown before any work starts).
#[derive(Debug, Error)]
#[error("{place}: warning: {kind}")]
pub struct Warning {
    pub place: Place,
    pub kind: WarningKind,
}

/// What is wrong with a value.
#[derive(Debug, Error)]
pub enum ProblemKind {
    /// A key the section does not have.
    #[error("unknown key `{key}`{} (allowed here: {allowed})", suggestion.map(|s| format!(": did you mean `{s}`?")).unwrap_or_default())]
    UnknownKey { key: String, suggestion: Option<&'static str>, allowed: String },
    /// A required key left out.
    #[error("`{key}` is missing: add {write}")]
    MissingKey { key: &'static str, write: &'static str },
    /// A required key written without a value.
    #[error("no value: write {write}")]
    EmptyKey { write: &'static str },
    /// The same key twice in one section (YAML keeps one silently in other tools).
    #[error("`{key}` is given twice (lines {first_line} and {line}): keep one")]
    DuplicateKey { key: String, first_line: usize, line: usize },
    /// A section where a value belongs, a value where a list belongs, ...
    #[error("should be {expected}, not {found}")]
    WrongShape { expected: String, found: String },
    /// A number that is not a whole number or is too large.
    #[error("{} is not a whole number from 0 to {max}", shown(value))]
    NotANumber { value: String, max: u64 },
    /// An address the cluster cannot use (IPv4, link-local, malformed, ...).
    #[error("{0}")]
    Address(NetError),
    /// A CIDR that does not parse or is not IPv6.
    #[error("{} is not an IPv6 CIDR; write e.g. {example}", shown(value))]
    NotCidr { value: String, example: &'static str },
    /// The same host listed twice, possibly in another textual form.
    #[error("{address} is already listed as {first} (line {first_line}): every textual form of an address is the same host; remove one entry")]
    DuplicateAddress { address: Ipv6Addr, first: String, first_line: usize },
    /// Two hosts with the same node name.
    #[error("node name {name:?} is already used by {first} (line {first_line}); node names must be unique: change or remove `name`")]
    DuplicateName { name: String, first: String, first_line: usize },
    /// A node name override that the kubelet would reject.
    #[error("{0}; leave `name` out to use the encoded address")]
    InvalidName(NetError),
    /// A role the tool does not know.
    #[error("unknown role {}{}; roles are control-plane, etcd, worker", shown(value), suggestion_text(.suggestion))]
    UnknownRole { value: String, suggestion: Option<&'static str> },
    /// A role listed twice on one host.
    #[error("role {} is listed twice; list each role once", shown(value))]
    RepeatedRole { value: String },
    /// A host without roles.
    #[error("a host needs at least one role: control-plane, etcd or worker")]
    NoRoles,
    /// No host has the named role.
    #[error("no host has the {role} role; give it to at least one host (the field report runs control-plane, etcd and worker on all three)")]
    MissingRole { role: &'static str },
    /// A service CIDR larger than kube-apiserver accepts.
    #[error("{net} has {host_bits} host bits; kube-apiserver accepts at most 20 (a prefix of /108 or longer): write e.g. 2001:cafe:43::/112")]
    ServiceCidrTooLarge { net: Ipv6Net, host_bits: u8 },
    /// A node CIDR mask that does not fit the pod CIDR.
    #[error("node_cidr_mask /{mask} does not fit pod_cidr {pod}: it must be at least /{} and at most /{} (16 bits longer, kube-controller-manager's limit); /64 is usual", pod.prefix_len(), pod.prefix_len().saturating_add(16).min(128))]
    NodeMaskOutOfRange { mask: u8, pod: Ipv6Net },
    /// A pod CIDR with room for fewer nodes than there are hosts.
    #[error("pod_cidr {pod} with node_cidr_mask /{mask} holds {capacity} node subnets but the inventory has {hosts} hosts; use a larger pod CIDR (e.g. a /56 holds 256 /64s)")]
    PodCidrTooSmall { pod: Ipv6Net, mask: u8, capacity: u128, hosts: usize },
    /// Service and pod CIDRs share addresses.
    #[error("service_cidr {service} overlaps pod_cidr {pod}; they must be disjoint, e.g. 2001:cafe:43::/112 and 2001:cafe:42::/56")]
    CidrsOverlap { service: Ipv6Net, pod: Ipv6Net },
    /// A host address inside the service or pod CIDR.
    #[error("{address} lies inside {cidr_field} {net}; host addresses must be outside the cluster's CIDRs: pick CIDRs that do not contain the hosts")]
    HostInCidr { address: Ipv6Addr, cidr_field: &'static str, net: Ipv6Net },
    /// A gateway outside the host's own prefix.
    #[error("gateway {gateway} is not in the host's prefix {net}; the default gateway must be on-link: write an address inside {net}")]
    GatewayOffLink { gateway: Ipv6Addr, net: Ipv6Net },
    /// A nodelocaldns address that another part of the cluster already uses.
    #[error("{address} is {clash}: node-local-dns binds it on every node; use an address outside the pod and service CIDRs and the hosts, e.g. fd00:169:254::a")]
    NodeLocalDnsClash { address: Ipv6Addr, clash: String },
    /// A value that must be one of a few words.
    #[error("{} is not one of: {}", shown(value), allowed.join(", "))]
    NotOneOf { value: String, allowed: &'static [&'static str] },
    /// A free-form value with the wrong shape.
    #[error("{} is not valid: {expected}", shown(value))]
    BadValue { value: String, expected: &'static str },
    /// A string that does not parse as its type: why, and what to write instead.
    #[error("{}: {error}", shown(value))]
    Invalid { value: String, error: crate::inventory::ValueError },
    /// A number out of its range.
    #[error("{value} is out of range: {expected}")]
    OutOfRange { value: u64, expected: &'static str },
    /// An addon's release that cannot work with the cluster's settings.
    #[error("{}: {why}", shown(value))]
    Incompatible { value: String, why: &'static str },
}

/// What is doubtful but allowed.
#[derive(Debug, Error)]
pub enum WarningKind {
    /// An even number of etcd members tolerates no more failures than one fewer.
    #[error("{count} etcd members: an even count tolerates no more failures than {} (quorum is {}); use an odd count such as {}", count - 1, count / 2 + 1, count + 1)]
    EvenEtcd { count: usize },
    /// The bastion is one of the hosts: while it reboots (`kernel upgrade`), or its network
    /// restarts (`network apply`), no other host can be reached.
    #[error("the bastion is also {host} of the inventory: while it reboots (kernel upgrade) or restarts its network (network apply), every connection through it drops; prefer a bastion outside the cluster, or run those commands with --hosts on it alone")]
    BastionIsAHost { host: String },
}

fn suggestion_text(suggestion: &Option<&'static str>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean {s:?}?)"),
        None => String::new(),
    }
}
