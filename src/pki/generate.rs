//! `certs generate`: make what is missing, keep what is valid, reissue what no longer matches
//! the inventory (saying why). Idempotent: a second run writes no file.

use std::collections::BTreeMap;
use std::fmt;

use time::OffsetDateTime;

use super::PkiError;
use super::ca::{self, Ca, CaOutcome};
use super::check::usage_match;
use super::inspect::{Reason, assess, parse_key, public_key};
use super::issue::{new_key, request, sign};
use super::kubeconfig::admin_conf;
use super::leaf::{KeyChoice, ensure_request, read_cert, read_key};
use super::role::{CAS, CertRole, Validity};
use super::store::{Mode, Store, Written};
use crate::inventory::Inventory;

/// What happened to one certificate or file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Created,
    /// Valid and matching: not touched.
    Kept,
    Reissued(Vec<Reason>),
    /// Its CA is external: key and CSR are ready, the certificate must be signed elsewhere.
    Pending(Vec<Reason>),
    /// A file that is not a certificate was rewritten (the reason says why).
    Updated(String),
    /// A node directory for a host no longer in the inventory (left in place).
    Stale,
}

/// One line of the report: a file relative to the store, and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub file: String,
    pub action: Action,
}

/// Everything `generate` did, in order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub entries: Vec<Entry>,
}

impl Report {
    fn push(&mut self, file: impl Into<String>, action: Action) {
        self.entries.push(Entry { file: file.into(), action });
    }

    /// The files with a given kind of action.
    pub fn files(&self, matches: impl Fn(&Action) -> bool) -> Vec<&str> {
        self.entries.iter().filter(|e| matches(&e.action)).map(|e| e.file.as_str()).collect()
    }
}

impl fmt::Display for Report {
    /// `created N, kept M, reissued K (SANs changed: 1)`, plus pending/updated/stale when any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = |matches: fn(&Action) -> bool| self.entries.iter().filter(|e| matches(&e.action)).count();
        let mut tags: BTreeMap<&str, usize> = BTreeMap::new();
        for entry in &self.entries {
            if let Action::Reissued(reasons) = &entry.action {
                for reason in reasons {
                    *tags.entry(reason.tag()).or_default() += 1;
                }
            }
        }
        let reissued = count(|a| matches!(a, Action::Reissued(_)));
        write!(f, "created {}, kept {}, reissued {reissued}", count(|a| *a == Action::Created), count(|a| *a == Action::Kept))?;
        if !tags.is_empty() {
            let tags: Vec<String> = tags.iter().map(|(tag, n)| format!("{tag}: {n}")).collect();
            write!(f, " ({})", tags.join(", "))?;
        }
        for (label, n) in [
            ("updated", count(|a| matches!(a, Action::Updated(_)))),
            ("pending external signature", count(|a| matches!(a, Action::Pending(_)))),
            ("stale", count(|a| *a == Action::Stale)),
        ] {
            if n > 0 {
                write!(f, ", {label} {n}")?;
            }
        }
        Ok(())
    }
}

/// `generate_at` now.
pub fn generate(inv: &Inventory, store: &Store) -> Result<Report, PkiError> {
    generate_at(inv, store, OffsetDateTime::now_utc())
}

/// Brings the store to the state the inventory wants, as of `now`.
pub fn generate_at(inv: &Inventory, store: &Store, now: OffsetDateTime) -> Result<Report, PkiError> {
    // Mid-rotation the leaves are deliberately under two CAs; generate would reissue them all.
    if let Some(rotation) = super::rotate::ca_rotation_in_progress(store)? {
        return Err(PkiError::CaRotationInProgress { phase: rotation.phase.to_string(), started: rotation.started });
    }
    let mut report = Report::default();
    // A key or kubeconfig that group or others may read is made private first.
    for (file, mode) in store.tighten_secrets()? {
        report.push(file, Action::Updated(format!("mode {mode:o} -> {:o}: it was readable by group or others", mode & !crate::localfs::PRIVATE_MASK)));
    }
    let mut cas: BTreeMap<CertRole, Ca> = BTreeMap::new();
    for role in CAS {
        let (ca, outcome) = ca::ensure(store, inv, &role, now)?;
        let action = match outcome {
            CaOutcome::Created => Action::Created,
            CaOutcome::Kept | CaOutcome::External => Action::Kept,
        };
        report.push(role.cert_file(), action);
        cas.insert(role, ca);
    }
    service_account_key(store, &mut report)?;
    for role in CertRole::leaves(inv) {
        // Every leaf's issuer is one of CAS, all inserted above.
        let Some(ca) = cas.get(&role.issuer()) else { continue };
        leaf(inv, store, &role, ca, now, &mut report)?;
    }
    // With an external kubernetes CA the admin certificate may still be pending.
    if store.exists(&CertRole::Admin.cert_file()) {
        let conf = admin_conf(inv, store)?;
        match store.write("admin.conf", &conf, Mode::Secret)? {
            Written::Created => report.push("admin.conf", Action::Created),
            Written::Replaced => report.push("admin.conf", Action::Updated("the admin certificate or the first control plane changed".into())),
            Written::Unchanged => report.push("admin.conf", Action::Kept),
        }
    }
    let wanted: Vec<String> = inv.hosts.iter().map(|h| h.name.to_string()).collect();
    for dir in store.node_dirs()? {
        if !wanted.contains(&dir) {
            report.push(format!("nodes/{dir}/"), Action::Stale);
        }
    }
    Ok(report)
}

/// `sa.key` (ECDSA P-256, PKCS#8) and `sa.pub` (PEM SubjectPublicKeyInfo) derived from it.
fn service_account_key(store: &Store, report: &mut Report) -> Result<(), PkiError> {
    let (key, created) = match store.read("sa.key")? {
        Some(bytes) => (parse_key(&bytes).map_err(|reason| PkiError::KeyUnreadable { path: store.path("sa.key"), reason })?, false),
        None => {
            let key = new_key(&store.path("sa.key").display().to_string())?;
            store.write("sa.key", key.serialize_pem().as_bytes(), Mode::Secret)?;
            (key, true)
        }
    };
    report.push("sa.key", if created { Action::Created } else { Action::Kept });
    let action = match store.write("sa.pub", key.public_key_pem().as_bytes(), Mode::Public)? {
        Written::Unchanged => Action::Kept,
        Written::Created if created => Action::Created,
        Written::Created => Action::Updated("sa.pub was missing; derived from sa.key".into()),
        Written::Replaced => Action::Updated("sa.pub did not match sa.key".into()),
    };
    report.push("sa.pub", action);
    Ok(())
}

fn leaf(inv: &Inventory, store: &Store, role: &CertRole, ca: &Ca, now: OffsetDateTime, report: &mut Report) -> Result<(), PkiError> {
    let spec = role.spec(inv)?;
    let key = read_key(store, role)?;
    let reasons = match read_cert(store, role)? {
        None => None,
        Some(Err(why)) => Some(vec![Reason::Unreadable(why)]),
        Some(Ok(info)) => Some(assess(&spec, &info, &key, Some(&ca.info), usage_match(ca.key.is_some()), now)),
    };
    if reasons.as_ref().is_some_and(Vec::is_empty) {
        report.push(role.cert_file(), Action::Kept);
        if let (false, Ok(key)) = (store.exists(&role.csr_file()), &key) {
            let csr = request(&spec, key, &format!("a CSR for {}", store.path(&role.cert_file()).display()))?;
            store.write(&role.csr_file(), csr.as_bytes(), Mode::Public)?;
            report.push(role.csr_file(), Action::Updated("the CSR was missing; made from the kept key".into()));
        }
        return Ok(());
    }
    let fresh = reasons.as_ref().is_some_and(|r| r.contains(&Reason::KeyMismatch));
    let choice = if fresh { KeyChoice::Fresh } else { KeyChoice::Reuse };
    let request = ensure_request(store, role, &spec, choice)?;
    let Some(signer) = ca.signer() else {
        report.push(role.cert_file(), Action::Pending(reasons.unwrap_or_else(|| vec![Reason::Missing])));
        return Ok(());
    };
    debug_assert_eq!(public_key(signer.key), ca.info.public_key);
    let mut validity = Validity::days_from(now, inv.pki.leaf_days);
    validity.not_after = validity.not_after.min(ca.info.not_after);
    let pem = sign(&request.csr_pem, &store.path(&role.csr_file()), &spec, &signer, validity)?;
    store.write(&role.cert_file(), pem.as_bytes(), Mode::Public)?;
    report.push(role.cert_file(), match reasons {
        None => Action::Created,
        Some(reasons) => Action::Reissued(reasons),
    });
    Ok(())
}
