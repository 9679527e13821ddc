//! Host key verification against known_hosts: `strict` refuses unknown and changed keys,
//! `accept-new` records unknown keys and still refuses changed ones. A host with a recorded
//! key of any type is known: a key of another type is a changed key, never a new one (a man
//! in the middle offering only ECDSA for a host known by its ed25519 key is refused).
//! known_hosts is read as OpenSSH reads it (`known_hosts`: tabs, wildcards, negation, hashed
//! names, `@revoked`); a host named by a line that cannot be used is never "unknown", so
//! `accept-new` never appends a key beside a line it could not read.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use russh::keys::{HashAlg, PublicKey};

use super::TransportError;
use super::error::HandlerError;
use super::known_hosts;
use crate::inventory::HostKeyCheck;

/// The russh client handler: checks the server's key and nothing else.
pub(crate) struct HostKeyVerifier {
    pub address: Ipv6Addr,
    pub port: u16,
    pub known_hosts: PathBuf,
    pub check: HostKeyCheck,
}

/// What known_hosts says about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// Recorded for the host.
    Known,
    /// The host has no recorded key at all.
    Unknown,
    /// The host has recorded keys and this is none of them (this line records one).
    Changed { line: usize },
}

/// Judges `key` against the keys known_hosts records for the host (line, key): any recorded
/// key that is not `key`, whatever its type, makes it changed.
fn judge(key: &PublicKey, recorded: &[(usize, PublicKey)]) -> Verdict {
    if recorded.iter().any(|(_, known)| known == key) {
        return Verdict::Known;
    }
    // A recorded key of the same type is the clearest line to name; else the first one.
    let same_type = recorded.iter().find(|(_, known)| known.algorithm() == key.algorithm());
    match same_type.or(recorded.first()) {
        Some((line, _)) => Verdict::Changed { line: *line },
        None => Verdict::Unknown,
    }
}

impl HostKeyVerifier {
    fn verify(&self, key: &PublicKey) -> Result<(), TransportError> {
        let host = self.address.to_string();
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let file = self.known_hosts.clone();
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(TransportError::KnownHosts { host, file, reason: e.to_string() }),
        };
        let found = known_hosts::lookup(&known_hosts::parse(&text), self.address, self.port);
        if let Some((line, _)) = found.revoked.iter().find(|(_, revoked)| revoked == key) {
            return Err(TransportError::HostKeyRevoked { host, file, line: *line, fingerprint });
        }
        match judge(key, &found.keys) {
            Verdict::Known => Ok(()),
            Verdict::Unknown if !found.unusable.is_empty() => {
                let (line, reason) = found.unusable[0].clone();
                Err(TransportError::KnownHostsLine { host, file, line, reason })
            }
            Verdict::Unknown if self.check == HostKeyCheck::AcceptNew => {
                learn(&host, self.port, key, &file).map_err(|reason| TransportError::KnownHosts { host, file, reason })
            }
            Verdict::Unknown => {
                let scan = if self.port == 22 { format!("ssh-keyscan -t ed25519 {host}") } else { format!("ssh-keyscan -t ed25519 -p {} {host}", self.port) };
                Err(TransportError::HostKeyUnknown { host, scan, file, fingerprint })
            }
            Verdict::Changed { line } => {
                let known_as = if self.port == 22 { host.clone() } else { format!("[{host}]:{}", self.port) };
                Err(TransportError::HostKeyChanged { host, known_as, file, line, fingerprint })
            }
        }
    }
}

/// Appends `key` to known_hosts as OpenSSH writes it (`[host]:port` only for a port other
/// than 22), creating the file. The line goes out in one `write` to a file opened for
/// appending, so hosts learned in parallel do not interleave. (russh's
/// `learn_known_hosts_path` starts an empty file with a blank line.)
fn learn(host: &str, port: u16, key: &PublicKey, path: &Path) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new().read(true).append(true).create(true).open(path).map_err(|e| e.to_string())?;
    let mut line = String::new();
    if file.metadata().map_err(|e| e.to_string())?.len() > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::End(-1)).and_then(|_| file.read_exact(&mut last)).map_err(|e| e.to_string())?;
        if last[0] != b'\n' {
            line.push('\n');
        }
    }
    if port == 22 {
        line.push_str(host);
    } else {
        line.push_str(&format!("[{host}]:{port}"));
    }
    line.push(' ');
    line.push_str(&key.to_openssh().map_err(|e| e.to_string())?);
    line.push('\n');
    file.write_all(line.as_bytes()).map_err(|e| e.to_string())
}

impl russh::client::Handler for HostKeyVerifier {
    type Error = HandlerError;

    async fn check_server_key(&mut self, server_key: &russh::keys::PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        let key = match server_key {
            russh::keys::PublicKeyOrCertificate::PublicKey { key, .. } => key.clone(),
            russh::keys::PublicKeyOrCertificate::Certificate(cert) => PublicKey::from(cert.public_key().clone()),
        };
        self.verify(&key).map(|()| true).map_err(HandlerError::Rejected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFrWBxYU96802n+NORwv/miFYVmW3Jm2ro52nK80bQDz";
    const OTHER: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAEJ1bUMVv2jyjQh5DRK4PglzW6/aooDBlqvV1bE298L";

    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHrgXeLGy90MNJ6mynQQ24XNve9UNl4XXh49OyIVU7o1DZ+7M/IUcEEDJ5+VQfJT//eIE5ioqZFvjLl7hNbAcc8=";

    fn verifier(known_hosts: &Path, check: HostKeyCheck) -> HostKeyVerifier {
        HostKeyVerifier { address: "2001:db8::101".parse().unwrap(), port: 22, known_hosts: known_hosts.to_path_buf(), check }
    }

    /// Regression: with accept-new, a host known by its ed25519 key that offered only an ECDSA
    /// key had that key recorded as new (a man in the middle received the private keys that
    /// install uploads). A key of another type is a changed key, with its fingerprint.
    #[test]
    fn a_key_of_another_type_for_a_known_host_is_a_changed_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let fixture = format!("# fixture\n2001:db8::102 {OTHER}\n2001:db8::101 {KEY}\n");
        std::fs::write(&path, &fixture).unwrap();
        let ecdsa = PublicKey::from_openssh(ECDSA).unwrap();
        for check in [HostKeyCheck::AcceptNew, HostKeyCheck::Strict] {
            let error = verifier(&path, check).verify(&ecdsa).unwrap_err();
            let TransportError::HostKeyChanged { fingerprint, .. } = &error else { panic!("{check:?}: {error}") };
            assert_eq!(*fingerprint, ecdsa.fingerprint(HashAlg::Sha256).to_string());
            assert!(error.to_string().contains("HOST KEY CHANGED"), "{error}");
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), fixture, "nothing learned");
        // The recorded key still passes; another ed25519 key is changed; a new host is learned.
        assert!(verifier(&path, HostKeyCheck::Strict).verify(&PublicKey::from_openssh(KEY).unwrap()).is_ok());
        assert!(matches!(verifier(&path, HostKeyCheck::AcceptNew).verify(&PublicKey::from_openssh(OTHER).unwrap()), Err(TransportError::HostKeyChanged { .. })));
        let fresh = HostKeyVerifier { address: "2001:db8::103".parse().unwrap(), ..verifier(&path, HostKeyCheck::AcceptNew) };
        fresh.verify(&ecdsa).unwrap();
        assert!(std::fs::read_to_string(&path).unwrap().ends_with(&format!("2001:db8::103 {ECDSA}\n")));
    }

    /// The attack of the security review: the host's real key recorded with a tab, with a
    /// wildcard, or hashed; an impostor offers another key. It was treated as unknown
    /// (accept-new appended the impostor's key and commands ran on it; strict said "not in
    /// known_hosts"). Now it is a changed key in both modes and nothing is appended.
    #[test]
    fn a_key_recorded_with_a_tab_a_wildcard_or_hashed_is_known_and_an_impostor_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let impostor = PublicKey::from_openssh(OTHER).unwrap();
        let real = PublicKey::from_openssh(KEY).unwrap();
        let forms = [format!("2001:db8::101\t{KEY}\n"), format!("2001:db8::*,!2001:db8::1 {KEY}\n"), format!("2001:db8::10?\t\t{KEY}\n")];
        for fixture in forms {
            std::fs::write(&path, &fixture).unwrap();
            for check in [HostKeyCheck::AcceptNew, HostKeyCheck::Strict] {
                let error = verifier(&path, check).verify(&impostor).unwrap_err();
                assert!(matches!(error, TransportError::HostKeyChanged { line: 1, .. }), "{fixture:?} {check:?}: {error}");
                verifier(&path, check).verify(&real).unwrap();
            }
            assert_eq!(std::fs::read_to_string(&path).unwrap(), fixture, "accept-new appended a key");
        }
    }

    /// A line that names the host but cannot be read (a key type this build does not know, a
    /// broken key, a certificate authority) stops accept-new from recording a second key, and
    /// a revoked key is refused.
    #[test]
    fn an_unreadable_line_for_the_host_stops_accept_new_and_revoked_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let key = PublicKey::from_openssh(KEY).unwrap();
        for fixture in ["2001:db8::101 ssh-ed25519 AAAAnot-a-key\n".to_string(), format!("@cert-authority 2001:db8::* {OTHER}\n")] {
            std::fs::write(&path, &fixture).unwrap();
            for check in [HostKeyCheck::AcceptNew, HostKeyCheck::Strict] {
                let error = verifier(&path, check).verify(&key).unwrap_err();
                assert!(matches!(error, TransportError::KnownHostsLine { line: 1, .. }), "{fixture:?} {check:?}: {error}");
            }
            assert_eq!(std::fs::read_to_string(&path).unwrap(), fixture);
        }
        std::fs::write(&path, format!("@revoked 2001:db8::101 {KEY}\n")).unwrap();
        let error = verifier(&path, HostKeyCheck::AcceptNew).verify(&key).unwrap_err();
        assert!(matches!(error, TransportError::HostKeyRevoked { line: 1, .. }), "{error}");
    }

    /// The `ssh-keygen -R` of a changed key names the host as known_hosts does: with its port
    /// when it is not 22 (a host's own `ssh_port`), so that the command removes that line.
    #[test]
    fn a_changed_key_on_another_port_is_removed_by_address_and_port() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, format!("[2001:db8::101]:2222 {KEY}\n")).unwrap();
        let on_2222 = HostKeyVerifier { port: 2222, ..verifier(&path, HostKeyCheck::Strict) };
        let error = on_2222.verify(&PublicKey::from_openssh(OTHER).unwrap()).unwrap_err().to_string();
        assert!(error.starts_with("2001:db8::101: HOST KEY CHANGED") && error.contains(&format!("(ssh-keygen -R [2001:db8::101]:2222 -f {})", path.display())), "{error}");
    }

    /// The ssh-keyscan of an unknown key names the port when it is not 22, so that the line
    /// it prints is the one known_hosts needs (`[address]:port`).
    #[test]
    fn an_unknown_key_on_another_port_is_scanned_on_that_port() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        let key = PublicKey::from_openssh(KEY).unwrap();
        let on_22 = verifier(&path, HostKeyCheck::Strict).verify(&key).unwrap_err().to_string();
        assert!(on_22.contains(&format!("`ssh-keyscan -t ed25519 2001:db8::101 >> {}`", path.display())), "{on_22}");
        let on_2222 = HostKeyVerifier { port: 2222, ..verifier(&path, HostKeyCheck::Strict) }.verify(&key).unwrap_err().to_string();
        assert!(on_2222.contains("`ssh-keyscan -t ed25519 -p 2222 2001:db8::101 >> "), "{on_2222}");
    }

    #[test]
    fn verdicts() {
        let key = PublicKey::from_openssh(KEY).unwrap();
        let other = PublicKey::from_openssh(OTHER).unwrap();
        let ecdsa = PublicKey::from_openssh(ECDSA).unwrap();
        assert_eq!(judge(&key, &[]), Verdict::Unknown);
        assert_eq!(judge(&key, &[(1, ecdsa.clone()), (2, key.clone())]), Verdict::Known);
        assert_eq!(judge(&ecdsa, &[(3, key.clone())]), Verdict::Changed { line: 3 });
        assert_eq!(judge(&other, &[(1, ecdsa), (4, key)]), Verdict::Changed { line: 4 });
    }

    /// Regression: accept-new made an empty known_hosts start with a blank line.
    #[test]
    fn accept_new_into_an_empty_known_hosts_adds_no_blank_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, "").unwrap();
        let key = PublicKey::from_openssh(KEY).unwrap();
        learn("2001:db8::101", 22, &key, &path).unwrap();
        learn("2001:db8::102", 2222, &PublicKey::from_openssh(OTHER).unwrap(), &path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, format!("2001:db8::101 {KEY}\n[2001:db8::102]:2222 {OTHER}\n"));
        assert!(russh::keys::check_known_hosts_path("2001:db8::101", 22, &key, &path).unwrap());
    }

    #[test]
    fn accept_new_completes_a_last_line_without_newline_and_creates_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_hosts");
        std::fs::write(&path, format!("2001:db8::102 {OTHER}")).unwrap();
        learn("2001:db8::101", 22, &PublicKey::from_openssh(KEY).unwrap(), &path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("2001:db8::102 {OTHER}\n2001:db8::101 {KEY}\n"));
        let created = dir.path().join("sub/known_hosts");
        learn("2001:db8::101", 22, &PublicKey::from_openssh(KEY).unwrap(), &created).unwrap();
        assert_eq!(std::fs::read_to_string(&created).unwrap(), format!("2001:db8::101 {KEY}\n"));
    }
}
