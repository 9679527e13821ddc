//! known_hosts read as OpenSSH reads it (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"), so that a
//! host recorded in any form OpenSSH writes or accepts is known here too: fields separated by
//! spaces or tabs; comma-separated host patterns with `*` and `?` wildcards and `!` negation;
//! `[host]:port` for a port other than 22; hashed names (`|1|salt|hash`, HMAC-SHA1 of the
//! name, as `ssh-keygen -H` and `HashKnownHosts` write them); the markers `@revoked` and
//! `@cert-authority`. A literal IPv6 pattern matches the same address in any spelling.
//!
//! Nothing here fails: a line that cannot be read becomes an [`Entry`] whose key is the
//! reason, and the caller decides (a host named by such a line is not "unknown").

use std::net::Ipv6Addr;

use base64::Engine as _;
use russh::keys::PublicKey;

/// What one line of known_hosts says.
#[derive(Debug, Clone)]
pub struct Entry {
    /// 1-based line number.
    pub line: usize,
    pub marker: Marker,
    hosts: Hosts,
    /// The key, or why it could not be read.
    pub key: Result<PublicKey, String>,
}

/// A line's marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A plain host key.
    None,
    /// `@revoked`: this key must never be accepted.
    Revoked,
    /// `@cert-authority`: a CA for host certificates (v6deploy does not verify host certificates).
    CertAuthority,
}

#[derive(Debug, Clone)]
enum Hosts {
    /// `|1|salt|hash`: HMAC-SHA1(key = salt, name), both base64.
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
    /// Patterns, each possibly negated.
    Patterns(Vec<(bool, String)>),
    /// The host field itself could not be read (a hashed name with bad base64).
    Unreadable,
}

/// The lines of a known_hosts file that concern one host.
#[derive(Debug, Default)]
pub struct Lookup {
    /// Plain keys recorded for the host: (line, key).
    pub keys: Vec<(usize, PublicKey)>,
    /// Keys marked `@revoked` for the host.
    pub revoked: Vec<(usize, PublicKey)>,
    /// Lines that name the host (or may: an unreadable host field) but cannot be used:
    /// (line, why).
    pub unusable: Vec<(usize, String)>,
}

/// Every line of `text` that is not blank or a comment.
pub fn parse(text: &str) -> Vec<Entry> {
    text.lines().enumerate().filter_map(|(index, line)| parse_line(index + 1, line)).collect()
}

fn parse_line(line: usize, text: &str) -> Option<Entry> {
    let mut fields = text.split([' ', '\t']).filter(|f| !f.is_empty());
    let first = fields.next()?;
    if first.starts_with('#') {
        return None;
    }
    let (marker, hosts) = match first {
        "@revoked" => (Marker::Revoked, fields.next()),
        "@cert-authority" => (Marker::CertAuthority, fields.next()),
        _ => (Marker::None, Some(first)),
    };
    let Some(hosts) = hosts else {
        return Some(Entry { line, marker, hosts: Hosts::Unreadable, key: Err("the line has no host names".into()) });
    };
    let hosts = parse_hosts(hosts);
    let key = match (fields.next(), fields.next()) {
        (Some(kind), Some(data)) => PublicKey::from_openssh(&format!("{kind} {data}")).map_err(|e| format!("the {kind} key cannot be read: {e}")),
        (Some(kind), None) => Err(format!("no key after the key type {kind}")),
        _ => Err("no key type and key after the host names".into()),
    };
    Some(Entry { line, marker, hosts, key })
}

fn parse_hosts(field: &str) -> Hosts {
    if let Some(hashed) = field.strip_prefix("|1|") {
        let engine = base64::engine::general_purpose::STANDARD;
        return match hashed.split_once('|').map(|(salt, hash)| (engine.decode(salt), engine.decode(hash))) {
            Some((Ok(salt), Ok(hash))) => Hosts::Hashed { salt, hash },
            _ => Hosts::Unreadable,
        };
    }
    Hosts::Patterns(field.split(',').filter(|p| !p.is_empty()).map(|p| match p.strip_prefix('!') {
        Some(negated) => (true, negated.to_string()),
        None => (false, p.to_string()),
    }).collect())
}

/// The name known_hosts records for a host: the address, or `[address]:port` for a port other
/// than 22 (the address in its canonical, compressed form, as OpenSSH writes it).
pub fn host_name(address: Ipv6Addr, port: u16) -> String {
    if port == 22 { address.to_string() } else { format!("[{address}]:{port}") }
}

impl Entry {
    /// Whether this line names the host: `Some(true)`/`Some(false)`, or `None` when its host
    /// field cannot be read.
    pub fn names(&self, address: Ipv6Addr, port: u16) -> Option<bool> {
        let name = host_name(address, port);
        match &self.hosts {
            Hosts::Unreadable => None,
            Hosts::Hashed { salt, hash } => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, salt);
                Some(ring::hmac::verify(&key, name.as_bytes(), hash).is_ok())
            }
            Hosts::Patterns(patterns) => {
                let matches = |pattern: &str| pattern_matches(pattern, &name, address, port);
                // Any negated match excludes the host, whatever else matches (match_hostname).
                if patterns.iter().any(|(negated, p)| *negated && matches(p)) {
                    return Some(false);
                }
                Some(patterns.iter().any(|(negated, p)| !negated && matches(p)))
            }
        }
    }
}

/// One pattern against the host's name: wildcards as OpenSSH's `match_pattern` (ASCII case
/// ignored), and a literal address (or `[address]:port`) compared as an address.
fn pattern_matches(pattern: &str, name: &str, address: Ipv6Addr, port: u16) -> bool {
    if !pattern.contains(['*', '?']) {
        let literal = match pattern.strip_prefix('[').and_then(|rest| rest.split_once("]:")) {
            Some((host, p)) => p.parse::<u16>().ok().filter(|p| *p != 22 || port == 22).map(|p| (host, p)),
            None => Some((pattern, 22)),
        };
        if let Some((host, pattern_port)) = literal
            && let Ok(pattern_address) = host.parse::<Ipv6Addr>()
        {
            return pattern_address == address && pattern_port == port;
        }
    }
    wildcard(pattern.to_ascii_lowercase().as_bytes(), name.to_ascii_lowercase().as_bytes())
}

/// `*` matches any run, `?` any one character.
fn wildcard(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| wildcard(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && wildcard(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && wildcard(rest, &text[1..]),
    }
}

/// The lines of `entries` that concern the host.
pub fn lookup(entries: &[Entry], address: Ipv6Addr, port: u16) -> Lookup {
    let mut found = Lookup::default();
    for entry in entries {
        match (entry.names(address, port), &entry.key, entry.marker) {
            (Some(false), _, _) => {}
            (None, _, _) => found.unusable.push((entry.line, "its host names cannot be read (a hashed name that is not base64)".into())),
            (Some(true), Err(reason), _) => found.unusable.push((entry.line, reason.clone())),
            (Some(true), Ok(key), Marker::None) => found.keys.push((entry.line, key.clone())),
            (Some(true), Ok(key), Marker::Revoked) => found.revoked.push((entry.line, key.clone())),
            (Some(true), Ok(_), Marker::CertAuthority) => {
                found.unusable.push((entry.line, "@cert-authority: v6deploy does not verify host certificates; record the host's own key".into()))
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFrWBxYU96802n+NORwv/miFYVmW3Jm2ro52nK80bQDz";
    const OTHER: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEJ1bUMVv2jyjQh5DRK4PglzW6/aooDBlqvV1bE298L";

    fn host() -> Ipv6Addr {
        "2001:db8:0:1::101".parse().unwrap()
    }

    fn keys(text: &str, port: u16) -> Vec<usize> {
        lookup(&parse(text), host(), port).keys.into_iter().map(|(line, _)| line).collect()
    }

    /// The field separators OpenSSH accepts: a tab, several spaces, trailing comments.
    #[test]
    fn tabs_and_runs_of_spaces_separate_fields() {
        let text = format!("2001:db8:0:1::101\t{}\n2001:db8:0:1::101   {KEY} root@somewhere\n", KEY.replace(' ', "\t"));
        assert_eq!(keys(&text, 22), [1, 2]);
    }

    /// Wildcards and negation, as `match_hostname` judges them; a negated match wins.
    #[test]
    fn wildcards_and_negation() {
        assert_eq!(keys(&format!("2001:db8:0:1::*,other {KEY}\n"), 22), [1]);
        assert_eq!(keys(&format!("2001:db8:0:1::10? {KEY}\n"), 22), [1]);
        assert_eq!(keys(&format!("2001:db8:0:1::*,!2001:db8:0:1::101 {KEY}\n"), 22), Vec::<usize>::new());
        assert_eq!(keys(&format!("!2001:db8:0:1::102,2001:db8:* {KEY}\n"), 22), [1]);
        assert_eq!(keys(&format!("[2001:db8:0:1::101]:* {KEY}\n"), 2222), [1]);
        assert_eq!(keys(&format!("[2001:db8:0:1::101]:* {KEY}\n"), 22), Vec::<usize>::new(), "port 22 is looked up without brackets");
    }

    /// A literal address matches in any spelling; a port must match.
    #[test]
    fn literal_addresses_compare_as_addresses() {
        assert_eq!(keys(&format!("2001:DB8:0:1:0:0:0:101 {KEY}\n"), 22), [1]);
        assert_eq!(keys(&format!("[2001:db8:0:1::101]:2222 {KEY}\n"), 2222), [1]);
        assert_eq!(keys(&format!("[2001:db8:0:1::101]:2222 {KEY}\n"), 22), Vec::<usize>::new());
        assert_eq!(keys(&format!("2001:db8:0:1::101 {KEY}\n"), 2222), Vec::<usize>::new());
        assert_eq!(keys(&format!("[2001:db8:0:1::101]:22 {KEY}\n"), 22), [1]);
    }

    /// Hashed names (`ssh-keygen -H`): HMAC-SHA1 of the name with the line's salt.
    #[test]
    fn hashed_names() {
        let salt = [7u8; 20];
        let engine = base64::engine::general_purpose::STANDARD;
        let hashed = |name: &str| {
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &salt);
            format!("|1|{}|{}", engine.encode(salt), engine.encode(ring::hmac::sign(&key, name.as_bytes())))
        };
        assert_eq!(keys(&format!("{} {KEY}\n", hashed("2001:db8:0:1::101")), 22), [1]);
        assert_eq!(keys(&format!("{} {KEY}\n", hashed("[2001:db8:0:1::101]:2222")), 2222), [1]);
        assert_eq!(keys(&format!("{} {KEY}\n", hashed("2001:db8:0:1::102")), 22), Vec::<usize>::new());
        let bad = lookup(&parse(&format!("|1|!!|!! {KEY}\n")), host(), 22);
        assert_eq!(bad.unusable.len(), 1);
    }

    /// `ssh-keygen -H` itself, when it is installed: what it writes is found.
    #[test]
    fn what_ssh_keygen_hashes_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, format!("2001:db8:0:1::101 {KEY}\n[2001:db8:0:1::101]:2222 {OTHER}\n")).unwrap();
        let Ok(status) = std::process::Command::new("ssh-keygen").arg("-H").arg("-f").arg(&path).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).status() else {
            eprintln!("ssh-keygen is not installed: skipped");
            return;
        };
        assert!(status.success());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("|1|"), "{text}");
        let on_22 = lookup(&parse(&text), host(), 22);
        assert_eq!(on_22.keys.len(), 1);
        assert_eq!(on_22.keys[0].1, PublicKey::from_openssh(KEY).unwrap());
        let on_2222 = lookup(&parse(&text), host(), 2222);
        assert_eq!(on_2222.keys[0].1, PublicKey::from_openssh(OTHER).unwrap());
    }

    /// Markers, comments, and lines that name the host but cannot be used.
    #[test]
    fn markers_comments_and_unusable_lines() {
        let text = format!(
            "# comment\n\n@revoked 2001:db8:0:1::101 {OTHER}\n@cert-authority 2001:db8:0:1::* {KEY}\n2001:db8:0:1::101 ssh-ed25519 not-base64\n2001:db8:0:1::101\n2001:db8:0:1::102 ssh-ed25519 broken\n"
        );
        let found = lookup(&parse(&text), host(), 22);
        assert!(found.keys.is_empty());
        assert_eq!(found.revoked.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [3]);
        assert_eq!(found.unusable.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [4, 5, 6], "{found:?}");
    }

    #[test]
    fn wildcard_matching() {
        assert!(wildcard(b"a*c", b"abbbc") && wildcard(b"*", b"") && wildcard(b"a?c", b"abc"));
        assert!(!wildcard(b"a?c", b"ac") && !wildcard(b"a*d", b"abc"));
    }
}
