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

/// Issues a client certificate for `user` (in `group`, if any), valid for `days`.
pub fn issue_user(store: &Store, user: &str, group: Option<&str>, days: u32, now: OffsetDateTime) -> Result<UserCredentials, PkiError> {
    let role = CertRole::KubernetesCa;
    let ca = ca::load(store, &role, Expiry::Refuse, now)?.ok_or_else(|| PkiError::Missing { path: store.path(&role.cert_file()) })?;
    let signer = ca.signer().ok_or_else(|| PkiError::UserWithoutCaKey { cert: store.path(&role.cert_file()) })?;
    let subject = match group {
        Some(group) => Subject::new(group, user),
        None => Subject::cn(user),
    };
    let spec = CertSpec::client(subject);
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
