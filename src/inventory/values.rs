//! The inventory's typed strings: every free-form value that reaches a host, a template or a
//! script is one of these, parsed at load time (parse, don't validate). Each keeps its text
//! (serialized as a plain string, so templates see the value) and can only be made by
//! `parse`, so later code never holds an unchecked string. Every grammar is a conservative
//! subset of what the target accepts: none of them admits whitespace, a quote, a backslash,
//! `$`, a backtick, `;`, `|`, `&`, `<`, `>`, a glob character or a leading `-`.

use std::fmt;
use std::net::Ipv6Addr;

use serde::Serialize;
use thiserror::Error;

/// Why a value does not parse, and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{why}; {write}")]
pub struct ValueError {
    /// What is wrong, e.g. "it has 17 characters (at most 15)".
    pub why: String,
    /// What the value should look like, with an example.
    pub write: &'static str,
}

fn refuse<T>(why: impl Into<String>, write: &'static str) -> Result<T, ValueError> {
    Err(ValueError { why: why.into(), write })
}

/// The first character of `text` outside `allowed`, described for a message.
fn first_bad(text: &str, allowed: impl Fn(char) -> bool) -> Option<String> {
    text.chars().find(|c| !allowed(*c)).map(|c| match c {
        '\n' => "a newline".to_string(),
        '\0' => "a NUL byte".to_string(),
        c if c.is_control() => format!("the control character U+{:04X}", c as u32),
        ' ' => "a space".to_string(),
        c if !c.is_ascii() => format!("the non-ASCII character {c:?}"),
        c => format!("{c:?}"),
    })
}

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The value as written (already checked).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValueError;

            fn from_str(text: &str) -> Result<Self, ValueError> {
                $name::parse(text)
            }
        }
    };
}

string_value! {
    /// A Linux network interface name (`ens160`, `eth0`, `bond0.100`): 1 to 15 characters of
    /// `[A-Za-z0-9_.-]`, not starting with `-`, not `.` or `..`. The kernel also takes other
    /// printable characters, but this name lands in ifcfg files (sourced by a shell), in
    /// flannel's and Elasticsearch's arguments and in `ip` commands.
    InterfaceName
}

const INTERFACE: &str = "write a Linux interface name: 1 to 15 of letters, digits, '.', '_' and '-', not starting with '-', e.g. ens160";

impl InterfaceName {
    /// Parses an interface name.
    pub fn parse(text: &str) -> Result<InterfaceName, ValueError> {
        if text.is_empty() {
            return refuse("it is empty", INTERFACE);
        }
        if let Some(bad) = first_bad(text, |c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return refuse(format!("it contains {bad}"), INTERFACE);
        }
        if text.len() > 15 {
            return refuse(format!("it has {} characters (Linux allows at most 15)", text.len()), INTERFACE);
        }
        if text.starts_with('-') {
            return refuse("it starts with '-' (it would be read as an option)", INTERFACE);
        }
        if text == "." || text == ".." {
            return refuse("'.' and '..' are not interface names", INTERFACE);
        }
        Ok(InterfaceName(text.to_string()))
    }
}

string_value! {
    /// A container image reference, `[registry[:port]/]path[:tag][@sha256:hex]`, with the
    /// grammar of the distribution project's `reference` package: a registry is a host name,
    /// `localhost` or a bracketed IPv6 address, optionally with a port; path components are
    /// lower-case `[a-z0-9]` runs joined by `.`, `_`, `__` or dashes; a tag is
    /// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; a digest is `sha256:` and 64 lower-case hex digits.
    ImageRef
}

const IMAGE: &str = "write an image reference [registry[:port]/]name[:tag][@sha256:digest] with lower-case name components, e.g. registry.k8s.io/pause:3.9";

impl ImageRef {
    /// The release its tag names, `(major, minor, patch)`: a plain `1.11.3`/`v1.11` tag only.
    /// A tag with a suffix (`v1.11.3-custom`) is a build of its own, a digest or `latest` names
    /// no release: `None`, and nothing is judged by it.
    pub fn release(&self) -> Option<(u32, u32, u32)> {
        let text = self.as_str().split('@').next()?;
        let last_slash = text.rfind('/').map_or(0, |i| i + 1);
        let tag = &text[last_slash..].rsplit_once(':')?.1;
        let numbers: Vec<u32> = tag.strip_prefix('v').unwrap_or(tag).split('.').map(|n| n.parse().ok()).collect::<Option<_>>()?;
        match numbers[..] {
            [major, minor] => Some((major, minor, 0)),
            [major, minor, patch] => Some((major, minor, patch)),
            _ => None,
        }
    }

    /// Parses an image reference.
    pub fn parse(text: &str) -> Result<ImageRef, ValueError> {
        if text.is_empty() {
            return refuse("it is empty", IMAGE);
        }
        if let Some(bad) = first_bad(text, |c| c.is_ascii_graphic()) {
            return refuse(format!("it contains {bad}"), IMAGE);
        }
        if text.len() > 512 {
            return refuse(format!("it has {} characters", text.len()), IMAGE);
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => (rest, Some(digest)),
            None => (text, None),
        };
        if let Some(digest) = digest {
            let hex = digest.strip_prefix("sha256:").unwrap_or("");
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return refuse(format!("the digest {digest:?} is not sha256: and 64 lower-case hex digits"), IMAGE);
            }
        }
        // A tag follows the last ':' after the last '/' (a registry's port comes before a '/').
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let ok = (1..=128).contains(&tag.len())
                && tag.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !ok {
                return refuse(format!("the tag {tag:?} is not [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"), IMAGE);
            }
        }
        if name.len() > 255 {
            return refuse(format!("the name has {} characters (at most 255)", name.len()), IMAGE);
        }
        let mut components: Vec<&str> = name.split('/').collect();
        let first = components[0];
        let is_registry = components.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('['));
        if is_registry {
            registry(first)?;
            components.remove(0);
        }
        for component in components {
            if !is_path_component(component) {
                return refuse(format!("the name component {component:?} is not lower-case letters and digits joined by '.', '_', '__' or '-'"), IMAGE);
            }
        }
        Ok(ImageRef(text.to_string()))
    }
}

/// `host[:port]`, `localhost[:port]` or `[ipv6][:port]`.
fn registry(text: &str) -> Result<(), ValueError> {
    let bad = || refuse(format!("the registry {text:?} is not a host name or [IPv6 address], optionally with :port"), IMAGE);
    let (host, port) = if let Some(inner) = text.strip_prefix('[') {
        let Some((address, after)) = inner.split_once(']') else { return bad() };
        if address.parse::<Ipv6Addr>().is_err() {
            return bad();
        }
        match after {
            "" => (None, None),
            p => match p.strip_prefix(':') {
                Some(port) => (None, Some(port)),
                None => return bad(),
            },
        }
    } else {
        match text.split_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(text), None),
        }
    };
    if let Some(port) = port
        && (port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err())
    {
        return bad();
    }
    if let Some(host) = host {
        let label_ok = |l: &str| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') && !l.starts_with('-') && !l.ends_with('-')
        };
        if host.len() > 253 || !host.split('.').all(label_ok) {
            return bad();
        }
    }
    Ok(())
}

/// `[a-z0-9]+` runs joined by one of `.`, `_`, `__` or any number of `-`.
fn is_path_component(text: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = text.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else { return false };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &text[start..i];
        if !(separator == "." || separator == "_" || separator == "__" || separator.bytes().all(|b| b == b'-')) {
            return false;
        }
    }
    true
}

string_value! {
    /// A DNS name of lower-case RFC 1123 labels (`cluster.local`, `api.example.com`), at most
    /// 253 characters; as a certificate name it may start with one `*.` (a wildcard).
    DnsName
}

const DNS: &str = "write a DNS name of lower-case labels (a-z, 0-9, '-' inside), e.g. cluster.local";

impl DnsName {
    /// Parses a DNS name (no wildcard).
    pub fn parse(text: &str) -> Result<DnsName, ValueError> {
        if text.is_empty() {
            return refuse("it is empty", DNS);
        }
        if let Some(bad) = first_bad(text, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.') {
            return refuse(format!("it contains {bad}"), DNS);
        }
        if crate::net::NodeName::parse_override(text).is_err() {
            return refuse("a label is empty, longer than 63 characters, or starts or ends with '-' (or the name is longer than 253)", DNS);
        }
        Ok(DnsName(text.to_string()))
    }

    /// A certificate name: a DNS name, optionally prefixed by `*.`.
    pub fn parse_san(text: &str) -> Result<DnsName, ValueError> {
        DnsName::parse(text.strip_prefix("*.").unwrap_or(text))?;
        Ok(DnsName(text.to_string()))
    }
}

string_value! {
    /// The cluster's name: `[a-z0-9-]`, not `-` at either end, 1 to 63 characters (the certs
    /// directory, kubeconfig names, `--cluster-name`, etcd's cluster token).
    ClusterName
}

/// A cluster name is one safe path component (no `/`, never `.` or `..`): the store is
/// `<pki.dir>/<name>`.
impl AsRef<std::path::Path> for ClusterName {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&self.0)
    }
}

const CLUSTER: &str = "a cluster name uses a-z, 0-9 and '-' (not at either end), at most 63 characters, e.g. demo";

impl ClusterName {
    /// Parses a cluster name.
    pub fn parse(text: &str) -> Result<ClusterName, ValueError> {
        if text.is_empty() {
            return refuse("it is empty", CLUSTER);
        }
        if let Some(bad) = first_bad(text, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return refuse(format!("it contains {bad}"), CLUSTER);
        }
        if text.len() > 63 {
            return refuse(format!("it has {} characters", text.len()), CLUSTER);
        }
        if text.starts_with('-') || text.ends_with('-') {
            return refuse("it starts or ends with '-'", CLUSTER);
        }
        Ok(ClusterName(text.to_string()))
    }
}

string_value! {
    /// A JVM heap size as `-Xms`/`-Xmx` take it: a positive number of bytes with an optional
    /// `k`, `m`, `g` or `t` unit (either case), e.g. `1g`, `512m`.
    HeapSize
}

const HEAP: &str = "write a JVM heap size: digits and one of k, m, g, e.g. 1g or 512m";

impl HeapSize {
    /// Parses a heap size.
    pub fn parse(text: &str) -> Result<HeapSize, ValueError> {
        let digits = text.strip_suffix(['k', 'K', 'm', 'M', 'g', 'G', 't', 'T']).unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 12 {
            let why = match first_bad(digits, |c| c.is_ascii_digit()) {
                Some(bad) => format!("it contains {bad}"),
                None => "it is not a number with a unit".to_string(),
            };
            return refuse(why, HEAP);
        }
        if digits.bytes().all(|b| b == b'0') {
            return refuse("it is zero", HEAP);
        }
        Ok(HeapSize(text.to_string()))
    }
}

string_value! {
    /// A Kubernetes resource quantity of bytes: a positive decimal number with an optional
    /// binary (`Ki` .. `Ei`) or decimal (`k`, `M` .. `E`) suffix, e.g. `10Gi`, `500M`.
    Quantity
}

const QUANTITY: &str = "write a Kubernetes quantity: a number and a unit such as Ki, Mi, Gi, Ti or k, M, G, T, e.g. 10Gi";

impl Quantity {
    /// Parses a quantity.
    pub fn parse(text: &str) -> Result<Quantity, ValueError> {
        const UNITS: [&str; 13] = ["Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E", ""];
        let number = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
        let unit = &text[number.len()..];
        let well_formed = !number.is_empty()
            && number.len() <= 20
            && number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            && number.bytes().filter(|b| *b == b'.').count() <= 1
            && !number.starts_with('.')
            && !number.ends_with('.');
        if !well_formed || !UNITS.contains(&unit) {
            let why = match first_bad(text, |c| c.is_ascii_alphanumeric() || c == '.') {
                Some(bad) => format!("it contains {bad}"),
                None => "it is not a number with a unit".to_string(),
            };
            return refuse(why, QUANTITY);
        }
        if number.bytes().all(|b| b == b'0' || b == b'.') {
            return refuse("it is zero", QUANTITY);
        }
        Ok(Quantity(text.to_string()))
    }
}

string_value! {
    /// A kubelet eviction threshold: a percentage (`5%`, `0.5%`) or a quantity (`500Mi`).
    Threshold
}

const THRESHOLD: &str = "write a percentage or a quantity in quotes, e.g. \"5%\" or \"500Mi\"";

impl Threshold {
    /// Parses a threshold.
    pub fn parse(text: &str) -> Result<Threshold, ValueError> {
        let number = |t: &str| !t.is_empty() && t.len() <= 20 && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') && t.bytes().filter(|b| *b == b'.').count() <= 1 && !t.starts_with('.');
        let ok = match text.strip_suffix('%') {
            Some(percent) => number(percent),
            None => {
                let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                number(digits) && ["", "Ki", "Mi", "Gi", "Ti", "k", "M", "G", "T"].contains(&&text[digits.len()..])
            }
        };
        if !ok {
            return refuse(first_bad(text, |c| c.is_ascii_alphanumeric() || c == '.' || c == '%').map_or_else(|| "it is not a percentage or a quantity".to_string(), |b| format!("it contains {b}")), THRESHOLD);
        }
        Ok(Threshold(text.to_string()))
    }
}

string_value! {
    /// A POSIX portable user name: `[A-Za-z0-9._-]`, not starting with `-`, 1 to 32
    /// characters (the limit of `useradd`).
    UserName
}

const USER: &str = "write a POSIX user name: letters, digits, '.', '_' and '-', not starting with '-', at most 32 characters, e.g. root";

impl UserName {
    /// Parses a user name.
    pub fn parse(text: &str) -> Result<UserName, ValueError> {
        if text.is_empty() {
            return refuse("it is empty", USER);
        }
        if let Some(bad) = first_bad(text, |c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return refuse(format!("it contains {bad}"), USER);
        }
        if text.len() > 32 || text.starts_with('-') {
            return refuse("it is longer than 32 characters or starts with '-'", USER);
        }
        Ok(UserName(text.to_string()))
    }
}

string_value! {
    /// An RPM package name (`kernel-lt`) or a yum repository id (which may also hold `:`):
    /// `[A-Za-z0-9._+-]`, not starting with `-`, at most 255 characters; they become yum's
    /// arguments.
    PackageName
}

const PACKAGE: &str = "write an RPM package name: letters, digits, '.', '_', '+' and '-', not starting with '-', e.g. kernel-lt";
const REPOSITORY: &str = "write a yum repository id: letters, digits, '.', '_', '+', '-' and ':', not starting with '-', e.g. elrepo-kernel";

impl PackageName {
    /// Parses a package name.
    pub fn parse(text: &str) -> Result<PackageName, ValueError> {
        package(text, "", PACKAGE)
    }

    /// Parses a yum repository id.
    pub fn parse_repository(text: &str) -> Result<PackageName, ValueError> {
        package(text, ":", REPOSITORY)
    }
}

fn package(text: &str, extra: &str, write: &'static str) -> Result<PackageName, ValueError> {
    if text.is_empty() {
        return refuse("it is empty", write);
    }
    if let Some(bad) = first_bad(text, |c| c.is_ascii_alphanumeric() || "._+-".contains(c) || extra.contains(c)) {
        return refuse(format!("it contains {bad}"), write);
    }
    if text.len() > 255 || text.starts_with('-') {
        return refuse("it is longer than 255 characters or starts with '-' (it would be read as an option)", write);
    }
    Ok(PackageName(text.to_string()))
}

#[cfg(test)]
#[path = "values_tests.rs"]
mod tests;
