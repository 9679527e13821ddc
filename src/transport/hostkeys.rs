//! Host key verification against known_hosts: `strict` refuses unknown and changed keys,
//! `accept-new` records unknown keys and still refuses changed ones.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use russh::keys::{HashAlg, PublicKey};

use super::TransportError;
use super::error::HandlerError;
use crate::inventory::HostKeyCheck;

/// The russh client handler: checks the server's key and nothing else.
pub(crate) struct HostKeyVerifier {
    pub address: Ipv6Addr,
    pub port: u16,
    pub known_hosts: PathBuf,
    pub check: HostKeyCheck,
}

impl HostKeyVerifier {
    fn verify(&self, key: &PublicKey) -> Result<(), TransportError> {
        let host = self.address.to_string();
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        let file = self.known_hosts.clone();
        match russh::keys::check_known_hosts_path(&host, self.port, key, &file) {
            Ok(true) => Ok(()),
            Ok(false) if self.check == HostKeyCheck::AcceptNew => {
                learn(&host, self.port, key, &file).map_err(|reason| TransportError::KnownHosts { host, file, reason })
            }
            Ok(false) => Err(TransportError::HostKeyUnknown { host, file, fingerprint }),
            Err(russh::keys::Error::KeyChanged { line }) => Err(TransportError::HostKeyChanged { host, file, line, fingerprint }),
            Err(e) => Err(TransportError::KnownHosts { host, file, reason: e.to_string() }),
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
