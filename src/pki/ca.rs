//! The three CAs: loaded and checked (a foreign or unreadable key, an expired CA or a
//! certificate that is not a CA are errors, never silently replaced), or made when absent.
//! A CA certificate without its key is an external (enterprise) CA: leaves under it are
//! signed elsewhere (`certs csr` / `certs import`).

use rcgen::KeyPair;
use time::OffsetDateTime;

use super::PkiError;
use super::inspect::{CertInfo, parse_cert, parse_key, public_key};
use super::issue::{Signer, new_key, self_signed_ca};
use super::role::{CertRole, Validity};
use super::store::{Mode, Store};
use crate::inventory::Inventory;

/// A CA as found in the store.
pub struct Ca {
    pub info: CertInfo,
    /// `None` for an external CA.
    pub key: Option<KeyPair>,
}

impl Ca {
    /// The signer, when v6deploy holds the key.
    pub fn signer(&self) -> Option<Signer<'_>> {
        self.key.as_ref().map(|key| Signer { cert_der: &self.info.der, key })
    }
}

/// Whether an expired CA is an error (generate, import) or shown (check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    Refuse,
    Allow,
}

/// Loads a CA; `None` when neither its certificate nor its key exists.
pub fn load(store: &Store, role: &CertRole, expiry: Expiry, now: OffsetDateTime) -> Result<Option<Ca>, PkiError> {
    let (cert_file, key_file) = (role.cert_file(), role.key_file());
    let dir = store.root().to_path_buf();
    let key_bytes = store.read(&key_file)?;
    let Some(cert_bytes) = store.read(&cert_file)? else {
        return match key_bytes {
            Some(_) => Err(PkiError::CaKeyWithoutCert { key: store.path(&key_file), cert: store.path(&cert_file) }),
            None => Ok(None),
        };
    };
    let info = parse_cert(&cert_bytes).map_err(|reason| PkiError::CaUnreadable { path: store.path(&cert_file), dir: dir.clone(), reason })?;
    if !info.is_ca {
        return Err(PkiError::NotCa { path: store.path(&cert_file), dir });
    }
    if expiry == Expiry::Refuse && info.expired(now) {
        return Err(PkiError::CaExpired { path: store.path(&cert_file), dir, not_after: info.not_after.date().to_string() });
    }
    let key = match key_bytes {
        None => None,
        Some(bytes) => {
            let key = parse_key(&bytes).map_err(|reason| PkiError::KeyUnreadable { path: store.path(&key_file), reason })?;
            if public_key(&key) != info.public_key {
                return Err(PkiError::ForeignCaKey { key: store.path(&key_file), cert: store.path(&cert_file), dir });
            }
            Some(key)
        }
    };
    Ok(Some(Ca { info, key }))
}

/// What `ensure` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaOutcome {
    Created,
    Kept,
    /// The certificate is there without its key: an enterprise CA.
    External,
}

/// Loads a CA, or makes it (key first, then certificate) when neither file exists.
pub fn ensure(store: &Store, inv: &Inventory, role: &CertRole, now: OffsetDateTime) -> Result<(Ca, CaOutcome), PkiError> {
    if let Some(ca) = load(store, role, Expiry::Refuse, now)? {
        let outcome = if ca.key.is_some() { CaOutcome::Kept } else { CaOutcome::External };
        return Ok((ca, outcome));
    }
    let what = store.path(&role.cert_file()).display().to_string();
    let key = new_key(&what)?;
    let pem = self_signed_ca(&role.spec(inv)?, &key, Validity::days_from(now, inv.pki.ca_days), &what)?;
    store.write(&role.key_file(), key.serialize_pem().as_bytes(), Mode::Secret)?;
    store.write(&role.cert_file(), pem.as_bytes(), Mode::Public)?;
    let info = parse_cert(pem.as_bytes()).map_err(|reason| PkiError::CaUnreadable { path: store.path(&role.cert_file()), dir: store.root().to_path_buf(), reason })?;
    Ok((Ca { info, key: Some(key) }, CaOutcome::Created))
}
