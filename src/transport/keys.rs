//! Client credentials: a private key file (OpenSSH, PEM or PKCS#8, optionally encrypted) or
//! the ssh-agent. Loaded once per run and shared by every connection.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use russh::keys::PrivateKey;

use super::TransportError;

/// Environment variable holding the passphrase of an encrypted private key.
pub const PASSPHRASE_ENV: &str = "V6DEPLOY_SSH_PASSPHRASE";

/// How v6deploy proves who it is.
#[derive(Clone)]
pub enum Credentials {
    /// A decoded private key.
    Key { path: PathBuf, key: Arc<PrivateKey> },
    /// Keys held by the ssh-agent at `$SSH_AUTH_SOCK`.
    Agent,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Never print key material.
            Credentials::Key { path, .. } => write!(f, "key {}", path.display()),
            Credentials::Agent => f.write_str("ssh-agent"),
        }
    }
}

impl Credentials {
    /// Loads `path`; falls back to the agent when the file does not exist and
    /// `SSH_AUTH_SOCK` is set. An encrypted key takes its passphrase from
    /// `V6DEPLOY_SSH_PASSPHRASE`, else from a prompt on the terminal.
    pub fn load(path: &Path) -> Result<Credentials, TransportError> {
        let key_error = |reason: String| TransportError::Key { path: path.to_path_buf(), reason };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && std::env::var_os("SSH_AUTH_SOCK").is_some() => {
                return Ok(Credentials::Agent);
            }
            Err(e) => return Err(key_error(format!("{e} (set ssh.private_key in the inventory, or start ssh-agent)"))),
        };
        let key = match russh::keys::decode_secret_key(&text, None) {
            Ok(key) => key,
            Err(russh::keys::Error::KeyIsEncrypted) => {
                let passphrase = passphrase(path).map_err(key_error)?;
                russh::keys::decode_secret_key(&text, Some(&passphrase))
                    .map_err(|e| key_error(format!("{e} (wrong passphrase in {PASSPHRASE_ENV}?)")))?
            }
            Err(e) => return Err(key_error(e.to_string())),
        };
        Ok(Credentials::Key { path: path.to_path_buf(), key: Arc::new(key) })
    }

    /// What was offered, for messages.
    pub fn describe(&self) -> String {
        format!("{self:?}")
    }
}

fn passphrase(path: &Path) -> Result<String, String> {
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        return Ok(p);
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        return Err(format!("the key is encrypted: set {PASSPHRASE_ENV}"));
    }
    rpassword::prompt_password(format!("passphrase for {}: ", path.display()))
        .map_err(|e| format!("cannot read the passphrase: {e}"))
}
