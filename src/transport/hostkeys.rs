//! Host key verification against known_hosts: `strict` refuses unknown and changed keys,
//! `accept-new` records unknown keys and still refuses changed ones.

use std::net::Ipv6Addr;
use std::path::PathBuf;

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
                russh::keys::known_hosts::learn_known_hosts_path(&host, self.port, key, &file)
                    .map_err(|e| TransportError::KnownHosts { host, file, reason: e.to_string() })
            }
            Ok(false) => Err(TransportError::HostKeyUnknown { host, file, fingerprint }),
            Err(russh::keys::Error::KeyChanged { line }) => Err(TransportError::HostKeyChanged { host, file, line, fingerprint }),
            Err(e) => Err(TransportError::KnownHosts { host, file, reason: e.to_string() }),
        }
    }
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
