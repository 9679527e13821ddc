//! Client certificates for people and tools (`v6deploy kubeconfig`): CN = the user, O = an
//! optional group (e.g. `system:masters`, or a group bound with RBAC), signed by the
//! kubernetes CA in the store, for a kubeconfig of their own instead of a copy of
//! `admin.conf`. The certificate is recorded in the store (`users/<name>.crt`), the key only
//! in the kubeconfig.

use std::path::Path;

use time::OffsetDateTime;

use super::ca::{self, Expiry};
use super::role::{CertRole, CertSpec, Subject, Validity};
use super::rotate::trust_bundle;
use super::store::{Mode, Store};
use super::{PkiError, issue};

/// What a kubeconfig of the user embeds.
#[derive(Clone)]
pub struct UserCredentials {
    /// The kubernetes CA bundle, PEM.
    pub ca_pem: Vec<u8>,
    pub cert_pem: String,
    /// Secret: never print or log it.
    pub key_pem: String,
}

/// Whether `name` can be a user or group name here: printable, no spaces or control
/// characters, at most 64 characters, not starting with `-`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && !name.starts_with('-') && name.chars().all(|c| c.is_ascii_graphic())
}

/// What [`issue_user`] would issue, read off the store without writing anything: the
/// kubernetes CA must be there, unexpired, with its key.
#[derive(Debug, Clone)]
pub struct UserPlan {
    /// `O = group, CN = user`, or `CN = user`.
    pub subject: String,
    pub not_after: OffsetDateTime,
    /// Where the certificate is recorded (`users/<user>.crt` in the store).
    pub recorded: std::path::PathBuf,
}

/// The signer of user certificates: the kubernetes CA, with its key.
fn user_signer(store: &Store, now: OffsetDateTime) -> Result<ca::Ca, PkiError> {
    let role = CertRole::KubernetesCa;
    let ca = ca::load(store, &role, Expiry::Refuse, now)?.ok_or_else(|| PkiError::Missing { path: store.path(&role.cert_file()) })?;
    if ca.signer().is_none() {
        return Err(PkiError::UserWithoutCaKey { cert: store.path(&role.cert_file()) });
    }
    Ok(ca)
}

fn user_subject(user: &str, group: Option<&str>) -> Subject {
    match group {
        Some(group) => Subject::new(group, user),
        None => Subject::cn(user),
    }
}

/// The plan of [`issue_user`]: checks what issuing needs, writes nothing (`--dry-run`).
pub fn plan_user(store: &Store, user: &str, group: Option<&str>, days: u32, now: OffsetDateTime) -> Result<UserPlan, PkiError> {
    user_signer(store, now)?;
    let subject = match group {
        Some(group) => format!("O = {group}, CN = {user}"),
        None => format!("CN = {user}"),
    };
    let validity = Validity::days_from(now, days);
    Ok(UserPlan { subject, not_after: validity.not_after, recorded: store.path(&format!("users/{user}.crt")) })
}

/// Issues a client certificate for `user` (in `group`, if any), valid for `days`.
pub fn issue_user(store: &Store, user: &str, group: Option<&str>, days: u32, now: OffsetDateTime) -> Result<UserCredentials, PkiError> {
    let role = CertRole::KubernetesCa;
    let ca = user_signer(store, now)?;
    let signer = ca.signer().ok_or_else(|| PkiError::UserWithoutCaKey { cert: store.path(&role.cert_file()) })?;
    let spec = CertSpec::client(user_subject(user, group));
    let key = issue::new_key(&format!("user {user}"))?;
    let csr = issue::request(&spec, &key, &format!("a request for user {user}"))?;
    let cert_pem = issue::sign(&csr, Path::new("(user request)"), &spec, &signer, Validity::days_from(now, days))?;
    store.write(&format!("users/{user}.crt"), cert_pem.as_bytes(), Mode::Public)?;
    Ok(UserCredentials { ca_pem: trust_bundle(store, &role)?, cert_pem, key_pem: key.serialize_pem() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::parse_cert;

    #[test]
    fn a_user_certificate_names_the_user_and_group_and_is_signed_by_the_cluster_ca() {
        let dir = tempfile::tempdir().unwrap();
        let inv = crate::inventory::field_report();
        let store = Store::at(dir.path().join("field-report"));
        crate::pki::generate(&inv, &store).unwrap();
        let now = OffsetDateTime::now_utc();
        let issued = issue_user(&store, "alice", Some("system:masters"), 30, now).unwrap();
        let info = parse_cert(issued.cert_pem.as_bytes()).unwrap();
        let subject = info.subject.to_string();
        assert_eq!(subject, "O = system:masters, CN = alice");
        assert!(info.issuer.to_string().contains("kubernetes"), "{}", info.issuer);
        assert!(store.exists("users/alice.crt"));
        assert!(issued.key_pem.contains("PRIVATE KEY"));
        assert!(valid_name("system:masters") && !valid_name("a b") && !valid_name("-x") && !valid_name("a\nb"));
    }
}
