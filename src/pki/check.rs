//! `certs check`: every certificate of the local store against the inventory, without
//! writing anything. (`--remote`, comparing what the hosts hold, needs the SSH transport.)

use std::collections::BTreeMap;
use std::fmt;

use time::OffsetDateTime;

use super::PkiError;
use super::ca::{self, Expiry};
use super::inspect::{CertInfo, Reason, UsageMatch, assess, parse_key};
use super::leaf::{read_cert, read_key};
use super::role::{CAS, CertRole};
use super::store::Store;
use crate::inventory::Inventory;

/// The state of one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// Valid, but fewer than `--warn-days` days left.
    ExpiresSoon,
    /// Expired, missing or not what the inventory needs.
    Bad(Vec<Reason>),
    /// Unusable for a reason that is not about one certificate (e.g. a foreign CA key).
    Error(String),
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Status::Ok => f.write_str("ok"),
            Status::ExpiresSoon => f.write_str("WARNING: expires soon"),
            Status::Bad(reasons) => {
                let word = if reasons.iter().any(|r| matches!(r, Reason::Expired { .. })) {
                    "EXPIRED"
                } else if reasons.contains(&Reason::Missing) {
                    "MISSING"
                } else {
                    "MISMATCH"
                };
                let details: Vec<String> = reasons.iter().map(ToString::to_string).collect();
                write!(f, "{word}: {}", details.join("; "))
            }
            Status::Error(message) => write!(f, "ERROR: {message}"),
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Relative to the store, e.g. `nodes/<node>/kubelet.crt`.
    pub file: String,
    pub subject: String,
    /// Space-separated `DNS:`/`IP:` names.
    pub alt_names: String,
    pub issuer: String,
    pub days_left: Option<i64>,
    pub status: Status,
}

/// The whole table.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub rows: Vec<Row>,
    /// Keys and kubeconfigs of the store that group or others may read (relative path, mode):
    /// reported, not changed (`certs generate` makes them 0600).
    pub exposed: Vec<(String, u32)>,
}

impl CheckReport {
    /// Whether something is expired, missing, mismatched or unusable.
    pub fn failed(&self) -> bool {
        self.rows.iter().any(|r| matches!(r.status, Status::Bad(_) | Status::Error(_)))
    }

    /// How many certificates expire within the warning window.
    pub fn warnings(&self) -> usize {
        self.rows.iter().filter(|r| r.status == Status::ExpiresSoon).count()
    }
}

/// `check_at` now.
pub fn check(inv: &Inventory, store: &Store, warn_days: u32) -> Result<CheckReport, PkiError> {
    check_at(inv, store, warn_days, OffsetDateTime::now_utc())
}

/// Checks every certificate as of `now`; only I/O failures are errors.
pub fn check_at(inv: &Inventory, store: &Store, warn_days: u32, now: OffsetDateTime) -> Result<CheckReport, PkiError> {
    let mut report = CheckReport { exposed: store.exposed_secrets()?, ..CheckReport::default() };
    // Each CA, and how strictly the usages of its leaves are compared (see `usage_match`).
    let mut cas: BTreeMap<CertRole, (CertInfo, UsageMatch)> = BTreeMap::new();
    let timed = |info: &CertInfo, reasons: Vec<Reason>| {
        if !reasons.is_empty() {
            Status::Bad(reasons)
        } else if info.days_left(now) < i64::from(warn_days) {
            Status::ExpiresSoon
        } else {
            Status::Ok
        }
    };
    for role in CAS {
        let file = role.cert_file();
        match ca::load(store, &role, Expiry::Allow, now) {
            Ok(Some(ca)) => {
                let mut reasons = Vec::new();
                if ca.info.expired(now) {
                    reasons.push(Reason::Expired { on: ca.info.not_after.date().to_string() });
                }
                let status = timed(&ca.info, reasons);
                report.rows.push(row(file, &ca.info, now, status));
                let usages = usage_match(ca.key.is_some());
                cas.insert(role, (ca.info, usages));
            }
            Ok(None) => report.rows.push(empty_row(file, Status::Bad(vec![Reason::Missing]))),
            Err(PkiError::Read { path, source }) => return Err(PkiError::Read { path, source }),
            Err(error) => report.rows.push(empty_row(file, Status::Error(error.to_string()))),
        }
    }
    report.rows.push(service_account_row(store)?);
    for role in CertRole::leaves(inv) {
        let file = role.cert_file();
        let spec = role.spec(inv)?;
        let key = read_key(store, &role)?;
        match read_cert(store, &role)? {
            None => report.rows.push(empty_row(file, Status::Bad(vec![Reason::Missing]))),
            Some(Err(why)) => report.rows.push(empty_row(file, Status::Bad(vec![Reason::Unreadable(why)]))),
            Some(Ok(info)) => {
                let ca = cas.get(&role.issuer());
                let usages = ca.map_or(UsageMatch::AtLeast, |(_, usages)| *usages);
                let reasons = assess(&spec, &info, &key, ca.map(|(info, _)| info), usages, now);
                let status = timed(&info, reasons);
                report.rows.push(row(file, &info, now, status));
            }
        }
    }
    Ok(report)
}

/// Leaves v6deploy signs carry exactly the role's usages; an enterprise CA may add more.
pub(super) fn usage_match(own_ca_key: bool) -> UsageMatch {
    if own_ca_key { UsageMatch::Exact } else { UsageMatch::AtLeast }
}

fn row(file: String, info: &CertInfo, now: OffsetDateTime, status: Status) -> Row {
    let alt_names: Vec<String> = info.alt_names.iter().map(ToString::to_string).collect();
    Row {
        file,
        subject: info.subject.to_string(),
        alt_names: alt_names.join(" "),
        issuer: info.issuer.to_string(),
        days_left: Some(info.days_left(now)),
        status,
    }
}

fn empty_row(file: String, status: Status) -> Row {
    Row { file, subject: String::new(), alt_names: String::new(), issuer: String::new(), days_left: None, status }
}

fn service_account_row(store: &Store) -> Result<Row, PkiError> {
    let status = match store.read("sa.key")? {
        None => Status::Bad(vec![Reason::Missing]),
        Some(bytes) => match parse_key(&bytes) {
            Err(reason) => Status::Error(PkiError::KeyUnreadable { path: store.path("sa.key"), reason }.to_string()),
            Ok(key) if store.read("sa.pub")?.as_deref() != Some(key.public_key_pem().as_bytes()) => {
                Status::Error(format!("{} is missing or does not match sa.key: run `certs generate`", store.path("sa.pub").display()))
            }
            Ok(_) => Status::Ok,
        },
    };
    Ok(Row { subject: "service-account key pair".into(), ..empty_row("sa.key".into(), status) })
}
