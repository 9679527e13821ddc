//! Client certificates for people and tools (`v6deploy kubeconfig`): CN = the user, O = an
//! optional group (e.g. `system:masters`, or a group bound with RBAC), signed by the
//! kubernetes CA in the store, for a kubeconfig of their own instead of a copy of
//! `admin.conf`. The certificate is recorded in the store (`users/<name>.crt`), the key only
//! in the kubeconfig.
//!
//! Names are parsed, not trusted: a user name becomes a file name in the store, so it is a
//! [`UserName`] (letters, digits and `._@:+-`, not starting with `.` or `-`: never a path such
//! as `../ca`), and names of Kubernetes' own identities (`system:...`: components, nodes,
//! `system:anonymous`) are refused unless the caller allows them ([`SystemNames::Allow`]).

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

/// The prefix of Kubernetes' own users and groups.
pub const SYSTEM_PREFIX: &str = "system:";
/// The group whose members RBAC cannot restrict: every right on the cluster.
pub const MASTERS_GROUP: &str = "system:masters";
/// The longest name accepted (a CN holds 64 characters).
const MAX_LEN: usize = 64;

/// Whether names of Kubernetes' own identities may be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SystemNames {
    /// `system:` users, and `system:` groups other than `system:masters`, are refused.
    Refuse,
    /// Allowed: the certificate then acts as that component, node or group.
    Allow,
}

/// Why a user or group name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("{what} {name:?}: use 1 to {MAX_LEN} letters, digits and . _ @ : + -, not starting with '.' or '-' (the user name is also the file name users/<name>.crt in the store)")]
    NotAFileName { what: &'static str, name: String },
    #[error("{what} {name:?}: use 1 to {MAX_LEN} printable characters without spaces, not starting with '-'")]
    NotPrintable { what: &'static str, name: String },
    #[error("{what} {name:?} is one of Kubernetes' own identities ({SYSTEM_PREFIX}...: a component, a node, the anonymous user): a certificate for it acts as that identity; add --allow-system-name if that is what you mean")]
    System { what: &'static str, name: String },
}

/// A user name safe as a file name in the store and as a certificate's CN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(name: &str, system: SystemNames) -> Result<UserName, NameError> {
        let what = "--user";
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._@:+-".contains(c);
        if name.is_empty() || name.len() > MAX_LEN || name.starts_with(['.', '-']) || !name.chars().all(allowed) {
            return Err(NameError::NotAFileName { what, name: name.to_string() });
        }
        if system == SystemNames::Refuse && name.starts_with(SYSTEM_PREFIX) {
            return Err(NameError::System { what, name: name.to_string() });
        }
        Ok(UserName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Where the store records the user's certificate: `users/<name>.crt`.
    fn recorded(&self) -> String {
        format!("users/{}.crt", self.0)
    }
}

impl std::fmt::Display for UserName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A group name (the certificate's O): printable, no spaces, at most 64 characters, not
/// starting with `-`; `system:` groups other than `system:masters` only when allowed.
pub fn parse_group(name: &str, system: SystemNames) -> Result<String, NameError> {
    let what = "--group";
    if name.is_empty() || name.len() > MAX_LEN || name.starts_with('-') || !name.chars().all(|c| c.is_ascii_graphic()) {
        return Err(NameError::NotPrintable { what, name: name.to_string() });
    }
    if system == SystemNames::Refuse && name.starts_with(SYSTEM_PREFIX) && name != MASTERS_GROUP {
        return Err(NameError::System { what, name: name.to_string() });
    }
    Ok(name.to_string())
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

fn user_subject(user: &UserName, group: Option<&str>) -> Subject {
    match group {
        Some(group) => Subject::new(group, user.as_str()),
        None => Subject::cn(user.as_str()),
    }
}

/// The plan of [`issue_user`]: checks what issuing needs, writes nothing (`--dry-run`).
pub fn plan_user(store: &Store, user: &UserName, group: Option<&str>, days: u32, now: OffsetDateTime) -> Result<UserPlan, PkiError> {
    user_signer(store, now)?;
    let subject = match group {
        Some(group) => format!("O = {group}, CN = {user}"),
        None => format!("CN = {user}"),
    };
    let validity = Validity::days_from(now, days);
    Ok(UserPlan { subject, not_after: validity.not_after, recorded: store.path(&user.recorded()) })
}

/// Issues a client certificate for `user` (in `group`, if any), valid for `days`.
pub fn issue_user(store: &Store, user: &UserName, group: Option<&str>, days: u32, now: OffsetDateTime) -> Result<UserCredentials, PkiError> {
    let role = CertRole::KubernetesCa;
    let ca = user_signer(store, now)?;
    let signer = ca.signer().ok_or_else(|| PkiError::UserWithoutCaKey { cert: store.path(&role.cert_file()) })?;
    let spec = CertSpec::client(user_subject(user, group));
    let key = issue::new_key(&format!("user {user}"))?;
    let csr = issue::request(&spec, &key, &format!("a request for user {user}"))?;
    let cert_pem = issue::sign(&csr, Path::new("(user request)"), &spec, &signer, Validity::days_from(now, days))?;
    store.write(&user.recorded(), cert_pem.as_bytes(), Mode::Public)?;
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
        let alice = UserName::parse("alice", SystemNames::Refuse).unwrap();
        let issued = issue_user(&store, &alice, Some("system:masters"), 30, now).unwrap();
        let info = parse_cert(issued.cert_pem.as_bytes()).unwrap();
        let subject = info.subject.to_string();
        assert_eq!(subject, "O = system:masters, CN = alice");
        assert!(info.issuer.to_string().contains("kubernetes"), "{}", info.issuer);
        assert!(store.exists("users/alice.crt"));
        assert!(issued.key_pem.contains("PRIVATE KEY"));
    }

    /// The attack: user names that are paths (`../ca` replaced the store's CA certificate with
    /// a leaf; `../../x` wrote outside the store) are refused, and nothing is written.
    #[test]
    fn user_names_that_are_paths_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let inv = crate::inventory::field_report();
        let store = Store::at(dir.path().join("field-report").join("store"));
        crate::pki::generate(&inv, &store).unwrap();
        let ca_before = store.require("ca.crt").unwrap();
        let apiserver_before = store.require("apiserver.crt").unwrap();
        for name in ["../ca", "../../x", "../apiserver", "a/b", "/etc/passwd", ".hidden", "..", "-rf", "a b", "é", ""] {
            let refused = UserName::parse(name, SystemNames::Allow);
            assert!(matches!(refused, Err(NameError::NotAFileName { .. })), "{name:?}: {refused:?}");
        }
        assert_eq!(store.require("ca.crt").unwrap(), ca_before);
        assert_eq!(store.require("apiserver.crt").unwrap(), apiserver_before);
        assert!(!dir.path().join("x.crt").exists() && !dir.path().join("field-report/x.crt").exists());
        // What people and tools are called still works.
        for name in ["alice", "alice@example.com", "ci-bot", "oidc:bob", "svc.deployer+1", "A_B"] {
            let user = UserName::parse(name, SystemNames::Refuse).unwrap();
            assert_eq!(plan_user(&store, &user, None, 1, OffsetDateTime::now_utc()).unwrap().recorded, store.path(&format!("users/{name}.crt")));
        }
    }

    /// The attack: Kubernetes' own identities issued silently. `system:` users and groups
    /// (but `system:masters`, which is what an administrator's group is) need the flag.
    #[test]
    fn kubernetes_own_identities_are_refused_unless_allowed() {
        for name in ["system:kube-controller-manager", "system:node:2001.0db8.0000.0001.0000.0000.0000.0101", "system:anonymous", "system:kube-scheduler"] {
            let refused = UserName::parse(name, SystemNames::Refuse);
            assert!(matches!(refused, Err(NameError::System { .. })), "{name}: {refused:?}");
            assert!(refused.unwrap_err().to_string().contains("--allow-system-name"));
            assert_eq!(UserName::parse(name, SystemNames::Allow).unwrap().as_str(), name);
        }
        for group in ["system:nodes", "system:authenticated", "system:serviceaccounts"] {
            assert!(matches!(parse_group(group, SystemNames::Refuse), Err(NameError::System { .. })), "{group}");
            assert!(parse_group(group, SystemNames::Allow).is_ok());
        }
        assert_eq!(parse_group(MASTERS_GROUP, SystemNames::Refuse).unwrap(), MASTERS_GROUP);
        assert!(parse_group("deployers", SystemNames::Refuse).is_ok());
        for bad in ["a b", "-x", "a\nb", ""] {
            assert!(matches!(parse_group(bad, SystemNames::Allow), Err(NameError::NotPrintable { .. })), "{bad:?}");
        }
    }
}
