//! A leaf's three files (`.key`, `.csr`, `.crt`) as found in the store, and making sure a
//! key and a CSR that match the wanted state exist before anything is signed.

use rcgen::KeyPair;

use super::PkiError;
use super::inspect::{CertInfo, Reason, compare_names, parse_cert, parse_csr, parse_key, public_key};
use super::issue::{new_key, request};
use super::role::{CertRole, CertSpec};
use super::store::{Mode, Store, Written};

/// The leaf's private key, or why it cannot be used.
pub fn read_key(store: &Store, role: &CertRole) -> Result<Result<KeyPair, Reason>, PkiError> {
    Ok(match store.read(&role.key_file())? {
        None => Err(Reason::KeyMissing),
        Some(bytes) => parse_key(&bytes).map_err(Reason::KeyUnreadable),
    })
}

/// The leaf's certificate: `None` when missing, `Err(reason)` when unreadable.
pub fn read_cert(store: &Store, role: &CertRole) -> Result<Option<Result<CertInfo, String>>, PkiError> {
    Ok(store.read(&role.cert_file())?.map(|bytes| parse_cert(&bytes)))
}

/// A CSR ready to be signed (its key is in the store).
pub struct Request {
    pub csr_pem: String,
    /// Whether the key or the CSR file was written.
    pub wrote: bool,
}

/// Which key the CSR is made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyChoice {
    /// Keep the stored key when it parses (a reissue for new SANs keeps the key).
    Reuse,
    /// Make a new key (the stored one does not match its certificate).
    Fresh,
}

/// Makes sure the leaf has a key and a CSR for `spec` with that key; keeps a stored CSR
/// that already asks for exactly this.
pub fn ensure_request(store: &Store, role: &CertRole, spec: &CertSpec, choice: KeyChoice) -> Result<Request, PkiError> {
    let mut wrote = false;
    let stored = match choice {
        KeyChoice::Reuse => read_key(store, role)?.ok(),
        KeyChoice::Fresh => None,
    };
    let key = match stored {
        Some(key) => key,
        None => {
            let key = new_key(&store.path(&role.cert_file()).display().to_string())?;
            wrote |= store.write(&role.key_file(), key.serialize_pem().as_bytes(), Mode::Secret)? != Written::Unchanged;
            key
        }
    };
    let existing = store.read(&role.csr_file())?.and_then(|bytes| {
        let text = String::from_utf8(bytes).ok()?;
        let info = parse_csr(text.as_bytes()).ok()?;
        let matches = info.public_key == public_key(&key)
            && compare_names(spec, &info.subject, &info.alt_names).is_empty()
            && info.usages == spec.usages;
        matches.then_some(text)
    });
    let csr_pem = match existing {
        Some(text) => text,
        None => {
            let what = format!("a CSR for {}", store.path(&role.cert_file()).display());
            let text = request(spec, &key, &what)?;
            wrote |= store.write(&role.csr_file(), text.as_bytes(), Mode::Public)? != Written::Unchanged;
            text
        }
    };
    Ok(Request { csr_pem, wrote })
}
