//! For sites whose policy is an enterprise CA: `certs csr -o DIR` exports every leaf's CSR
//! (making keys and CSRs where missing), and `certs import DIR` takes the signed
//! certificates back, each verified against its CSR's key, its CA and the inventory.
//!
//! DIR mirrors the store's layout: `apiserver.csr` comes back as `apiserver.crt`,
//! `nodes/<node>/kubelet.csr` as `nodes/<node>/kubelet.crt`. The enterprise CA certificates
//! may come back too (`ca.crt`, `etcd/ca.crt`, `front-proxy-ca.crt`); they are taken only
//! for a CA whose key is not in the store.

use std::collections::BTreeMap;
use std::path::Path;

use time::OffsetDateTime;

use super::PkiError;
use super::ca::{self, Expiry};
use super::inspect::{CertInfo, Reason, compare_names, parse_cert, parse_csr};
use super::leaf::{KeyChoice, ensure_request};
use super::role::{CAS, CertRole};
use super::store::{Mode, Store, Written};
use crate::inventory::Inventory;

/// What `export_csrs` did.
#[derive(Debug, Clone, Default)]
pub struct ExportReport {
    /// CSR files written to DIR, relative to it.
    pub exported: Vec<String>,
    /// Leaves whose key or CSR was made in the store on the way.
    pub made: Vec<String>,
}

/// Writes every leaf's CSR under `out_dir`, making keys and CSRs that are missing or no
/// longer match the inventory (keys are never exported).
pub fn export_csrs(inv: &Inventory, store: &Store, out_dir: &Path) -> Result<ExportReport, PkiError> {
    let out = Store::at(out_dir);
    let mut report = ExportReport::default();
    for role in CertRole::leaves(inv) {
        let request = ensure_request(store, &role, &role.spec(inv)?, KeyChoice::Reuse)?;
        if request.wrote {
            report.made.push(role.csr_file());
        }
        out.write(&role.csr_file(), request.csr_pem.as_bytes(), Mode::Public)?;
        report.exported.push(role.csr_file());
    }
    Ok(report)
}

/// What `import_certs` did.
#[derive(Debug, Clone, Default)]
pub struct ImportReport {
    /// Certificates written to the store.
    pub imported: Vec<String>,
    /// Certificates the store already held.
    pub unchanged: Vec<String>,
}

/// `import_certs_at` now.
pub fn import_certs(inv: &Inventory, store: &Store, in_dir: &Path) -> Result<ImportReport, PkiError> {
    import_certs_at(inv, store, in_dir, OffsetDateTime::now_utc())
}

/// Verifies every certificate found under `in_dir`, then writes them all (nothing is
/// written when any one is refused).
pub fn import_certs_at(inv: &Inventory, store: &Store, in_dir: &Path, now: OffsetDateTime) -> Result<ImportReport, PkiError> {
    let source = Store::at(in_dir);
    let mut accepted: Vec<(String, Vec<u8>)> = Vec::new();
    let mut cas: BTreeMap<CertRole, CertInfo> = BTreeMap::new();
    for role in CAS {
        let file = role.cert_file();
        if let Some(bytes) = source.read(&file)? {
            let info = import_ca(store, &source, &role, &bytes, now)?;
            accepted.push((file, bytes));
            cas.insert(role, info);
        } else if let Some(ca) = ca::load(store, &role, Expiry::Refuse, now)? {
            cas.insert(role, ca.info);
        }
    }
    for role in CertRole::leaves(inv) {
        let file = role.cert_file();
        let Some(bytes) = source.read(&file)? else { continue };
        let cert_path = source.path(&file);
        let info = parse_cert(&bytes).map_err(|reason| PkiError::ImportUnreadable { path: cert_path.clone(), reason })?;
        let csr_path = store.path(&role.csr_file());
        let csr_bytes = store.read(&role.csr_file())?.ok_or_else(|| PkiError::ImportWithoutCsr { cert: cert_path.clone(), csr: csr_path.clone() })?;
        let csr = parse_csr(&csr_bytes).map_err(|_| PkiError::CsrInvalid { path: csr_path.clone() })?;
        if csr.public_key != info.public_key {
            return Err(PkiError::ImportKeyMismatch { cert: cert_path, csr: csr_path });
        }
        let issuer = role.issuer();
        let ca = cas.get(&issuer).ok_or_else(|| PkiError::Missing { path: store.path(&issuer.cert_file()) })?;
        if !info.signed_by(ca) {
            return Err(PkiError::ImportWrongIssuer { cert: cert_path, ca: store.path(&issuer.cert_file()) });
        }
        if info.expired(now) {
            return Err(PkiError::ImportExpired { cert: cert_path, not_after: info.not_after.date().to_string() });
        }
        let spec = role.spec(inv)?;
        let mut reasons = compare_names(&spec, &info.subject, &info.alt_names);
        if !info.usages.is_superset(&spec.usages) {
            reasons.push(Reason::Usages { found: info.usages.clone(), wanted: spec.usages.clone() });
        }
        if info.is_ca {
            reasons.push(Reason::IsCa);
        }
        if !reasons.is_empty() {
            let reasons: Vec<String> = reasons.iter().map(ToString::to_string).collect();
            return Err(PkiError::ImportMismatch { cert: cert_path, reasons: reasons.join("; ") });
        }
        accepted.push((file, bytes));
    }
    if accepted.is_empty() {
        return Err(PkiError::NothingToImport { dir: in_dir.to_path_buf() });
    }
    let mut report = ImportReport::default();
    for (file, bytes) in accepted {
        match store.write(&file, &bytes, Mode::Public)? {
            Written::Unchanged => report.unchanged.push(file),
            Written::Created | Written::Replaced => report.imported.push(file),
        }
    }
    Ok(report)
}

/// An enterprise CA certificate: a CA, not expired, and not replacing a CA whose key is here.
fn import_ca(store: &Store, source: &Store, role: &CertRole, bytes: &[u8], now: OffsetDateTime) -> Result<CertInfo, PkiError> {
    let file = role.cert_file();
    let path = source.path(&file);
    let info = parse_cert(bytes).map_err(|reason| PkiError::ImportUnreadable { path: path.clone(), reason })?;
    if !info.is_ca {
        return Err(PkiError::ImportMismatch { cert: path, reasons: "not a CA certificate (basic constraints CA:TRUE missing)".into() });
    }
    if info.expired(now) {
        return Err(PkiError::ImportExpired { cert: path, not_after: info.not_after.date().to_string() });
    }
    let differs = store.read(&file)?.is_some_and(|current| current != bytes);
    if differs && store.exists(&role.key_file()) {
        return Err(PkiError::ImportOverOwnCa { new: path, cert: store.path(&file), key: store.path(&role.key_file()) });
    }
    Ok(info)
}
