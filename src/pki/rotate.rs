//! `certs rotate`, the local part: back up the store, reissue the selected leaves from the
//! same CA (new keys unless asked to keep them), and, for a CA rotation, the phases and the
//! trust bundles (old and new CA side by side) the hosts get while both are trusted.
//!
//! The rollout to the hosts is `steps::RotateHost`; this module only touches the store.
//!
//! During a CA rotation the store signs with the new CA (`ca.crt`, `etcd/ca.crt`,
//! `front-proxy-ca.crt`) and keeps the old one under `ca-rotation/old/` until the last phase;
//! [`trust_bundle`] is what the hosts trust meanwhile (new, then old).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;

use super::PkiError;
use super::ca::{self, Ca, Expiry};
use super::inspect::parse_cert;
use super::issue::sign;
use super::kubeconfig::admin_conf;
use super::leaf::{KeyChoice, ensure_request, read_cert};
use super::role::{CAS, CertRole, Validity};
use super::store::{BACKUP_DIR, Mode, Store};
use super::host_files::{HostPki, KUBERNETES_DIR, is_host_pki, kubeconfig_path};
use super::kubeconfig::KubeconfigUser;
use crate::inventory::Inventory;
use crate::net::NodeName;

/// The file recording the phase of a CA rotation, relative to the store.
pub const CA_ROTATION_FILE: &str = "ca-rotation.json";
/// Where the old CAs stay while both are trusted, relative to the store.
const OLD_CA_DIR: &str = "ca-rotation/old";

/// A group of leaves rotated together (`certs rotate --only`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum LeafGroup {
    /// etcd server, peer and healthcheck-client certificates.
    Etcd,
    /// kube-apiserver serving certificate and its kubelet and etcd client certificates.
    Apiserver,
    /// The front-proxy client certificate (aggregation layer).
    FrontProxy,
    /// The kubelet's client and serving certificates.
    Kubelet,
    /// kube-controller-manager's kubeconfig.
    ControllerManager,
    /// kube-scheduler's kubeconfig.
    Scheduler,
    /// kube-proxy's kubeconfig.
    KubeProxy,
    /// admin.conf (the hosts' and the local one).
    Admin,
}

impl LeafGroup {
    /// Every group.
    pub const ALL: [LeafGroup; 8] = [
        LeafGroup::Etcd,
        LeafGroup::Apiserver,
        LeafGroup::FrontProxy,
        LeafGroup::Kubelet,
        LeafGroup::ControllerManager,
        LeafGroup::Scheduler,
        LeafGroup::KubeProxy,
        LeafGroup::Admin,
    ];

    /// Whether `role` (a leaf) belongs to this group.
    pub fn contains(self, role: &CertRole) -> bool {
        use CertRole::*;
        match self {
            LeafGroup::Etcd => matches!(role, EtcdServer(_) | EtcdPeer(_) | EtcdHealthcheckClient),
            LeafGroup::Apiserver => matches!(role, Apiserver | ApiserverKubeletClient | ApiserverEtcdClient),
            LeafGroup::FrontProxy => matches!(role, FrontProxyClient),
            LeafGroup::Kubelet => matches!(role, KubeletClient(_) | KubeletServing(_)),
            LeafGroup::ControllerManager => matches!(role, ControllerManager),
            LeafGroup::Scheduler => matches!(role, Scheduler),
            LeafGroup::KubeProxy => matches!(role, KubeProxy),
            LeafGroup::Admin => matches!(role, Admin),
        }
    }

    /// The files on a host that carry this group's certificates (the kubeconfigs embed
    /// theirs); the paths come from `host_files`, the one place that knows them.
    pub fn host_paths(self) -> Vec<String> {
        let pki = |groups: &[HostPki]| groups.iter().flat_map(|g| g.paths().iter().map(|p| p.to_string())).collect();
        match self {
            LeafGroup::Etcd => pki(&[HostPki::EtcdServer, HostPki::EtcdPeer, HostPki::EtcdHealthcheckClient]),
            LeafGroup::Apiserver => pki(&[HostPki::Apiserver, HostPki::ApiserverKubeletClient, HostPki::ApiserverEtcdClient]),
            LeafGroup::FrontProxy => pki(&[HostPki::FrontProxyClient]),
            LeafGroup::Kubelet => pki(&[HostPki::KubeletClient, HostPki::KubeletServing]),
            LeafGroup::ControllerManager => vec![kubeconfig_path(KubeconfigUser::ControllerManager)],
            LeafGroup::Scheduler => vec![kubeconfig_path(KubeconfigUser::Scheduler)],
            LeafGroup::KubeProxy => vec![kubeconfig_path(KubeconfigUser::KubeProxy)],
            LeafGroup::Admin => vec![kubeconfig_path(KubeconfigUser::Admin)],
        }
    }
}

/// Whether `path` on a host carries a certificate of one of `groups`.
pub fn selects(groups: &[LeafGroup], path: &str) -> bool {
    groups.iter().any(|g| g.host_paths().iter().any(|p| p == path))
}

/// The paths a CA rotation changes on a host: every certificate and key, and every kubeconfig
/// (they embed the CA).
pub fn ca_rotation_selects(path: &str) -> bool {
    is_host_pki(path) || (path.starts_with(&format!("{KUBERNETES_DIR}/")) && path.ends_with(".conf"))
}

/// A UTC timestamp for backup names, e.g. `20250102T030405Z`.
pub fn timestamp(now: OffsetDateTime) -> String {
    let utc = now.to_offset(time::UtcOffset::UTC);
    format!("{:04}{:02}{:02}T{:02}{:02}{:02}Z", utc.year(), u8::from(utc.month()), utc.day(), utc.hour(), utc.minute(), utc.second())
}

/// Copies every file of the store (not earlier backups) to `backup/<stamp>/`, modes kept;
/// returns the backup directory. A second backup in the same second gets a `-2` suffix.
pub fn backup(store: &Store, stamp: &str) -> Result<PathBuf, PkiError> {
    let mut target = store.path(&format!("{BACKUP_DIR}/{stamp}"));
    let mut n = 2;
    while target.exists() {
        target = store.path(&format!("{BACKUP_DIR}/{stamp}-{n}"));
        n += 1;
    }
    copy_tree(store.root(), &target, &store.not_copied()).map_err(|source| PkiError::Write { path: target.clone(), source })?;
    Ok(target)
}

/// A copy of the store (without its backups) at `to`, e.g. for a dry run.
pub fn copy_store(store: &Store, to: &Path) -> Result<Store, PkiError> {
    copy_tree(store.root(), to, &store.not_copied()).map_err(|source| PkiError::Write { path: to.to_path_buf(), source })?;
    Ok(Store::at(to))
}

fn copy_tree(from: &Path, to: &Path, skip: &[PathBuf]) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new().recursive(true).mode(0o700).create(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        if skip.contains(&path) {
            continue;
        }
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            copy_tree(&path, &to.join(entry.file_name()), skip)?;
        } else if file_type.is_file() {
            // fs::copy keeps the permission bits (keys stay 0600).
            fs::copy(&path, to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

/// Which key a reissued leaf gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// A new private key per leaf (the default).
    New,
    /// The stored key, a new certificate.
    Keep,
}

/// The leaves to rotate: those of `groups`, per-node ones only for `nodes` (all when empty).
pub fn selected_leaves(inv: &Inventory, groups: &[LeafGroup], nodes: &[NodeName]) -> Vec<CertRole> {
    CertRole::leaves(inv)
        .into_iter()
        .filter(|role| groups.iter().any(|g| g.contains(role)))
        .filter(|role| match role.node() {
            Some(node) => nodes.is_empty() || nodes.contains(node),
            None => true,
        })
        .collect()
}

/// One reissued certificate: its file and the serials before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reissued {
    pub file: String,
    pub old_serial: Option<String>,
    pub new_serial: String,
}

/// Issues `roles` again from the store's CAs (a new serial each; a new key unless
/// `keys` is `Keep`), and rewrites admin.conf. The CAs must hold their keys.
pub fn reissue(inv: &Inventory, store: &Store, roles: &[CertRole], keys: Keys, now: OffsetDateTime) -> Result<Vec<Reissued>, PkiError> {
    let mut done = Vec::new();
    for role in roles {
        let ca = load_own_ca(store, &role.issuer(), now)?;
        done.push(reissue_one(inv, store, role, &ca, keys, now)?);
    }
    if store.exists(&CertRole::Admin.cert_file()) {
        store.write("admin.conf", &admin_conf(inv, store)?, Mode::Secret)?;
    }
    Ok(done)
}

fn load_own_ca(store: &Store, role: &CertRole, now: OffsetDateTime) -> Result<Ca, PkiError> {
    let ca = ca::load(store, role, Expiry::Refuse, now)?.ok_or_else(|| PkiError::Missing { path: store.path(&role.cert_file()) })?;
    if ca.key.is_none() {
        return Err(PkiError::ExternalCa { cert: store.path(&role.cert_file()) });
    }
    Ok(ca)
}

fn reissue_one(inv: &Inventory, store: &Store, role: &CertRole, ca: &Ca, keys: Keys, now: OffsetDateTime) -> Result<Reissued, PkiError> {
    let spec = role.spec(inv)?;
    let old_serial = read_cert(store, role)?.and_then(Result::ok).map(|info| info.serial);
    let choice = match keys {
        Keys::New => KeyChoice::Fresh,
        Keys::Keep => KeyChoice::Reuse,
    };
    let request = ensure_request(store, role, &spec, choice)?;
    let signer = ca.signer().ok_or_else(|| PkiError::ExternalCa { cert: store.path(&role.issuer().cert_file()) })?;
    let mut validity = Validity::days_from(now, inv.pki.leaf_days);
    validity.not_after = validity.not_after.min(ca.info.not_after);
    let pem = sign(&request.csr_pem, &store.path(&role.csr_file()), &spec, &signer, validity)?;
    store.write(&role.cert_file(), pem.as_bytes(), Mode::Public)?;
    let new_serial = parse_cert(pem.as_bytes()).map(|i| i.serial).unwrap_or_default();
    Ok(Reissued { file: role.cert_file(), old_serial, new_serial })
}

/// What the hosts trust for a CA: its certificate, followed by the old CA's while a CA
/// rotation keeps both.
pub fn trust_bundle(store: &Store, role: &CertRole) -> Result<Vec<u8>, PkiError> {
    let mut pem = store.require(&role.cert_file())?;
    if let Some(old) = store.read(&format!("{OLD_CA_DIR}/{}", role.cert_file()))? {
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        pem.extend(old);
    }
    Ok(pem)
}

/// The phases of a CA rotation, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum CaPhase {
    /// New CAs made; hosts get old+new bundles.
    Bundle,
    /// Every leaf reissued from the new CAs and pushed.
    Leaves,
    /// The old CAs dropped from the bundles.
    Drop,
    /// Finished.
    Done,
}

impl std::fmt::Display for CaPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CaPhase::Bundle => "bundle",
            CaPhase::Leaves => "leaves",
            CaPhase::Drop => "drop",
            CaPhase::Done => "done",
        })
    }
}

/// `ca-rotation.json`: the phase reached and when the rotation started.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaRotation {
    pub phase: CaPhase,
    pub started: String,
}

/// The recorded CA rotation, if any.
pub fn ca_rotation(store: &Store) -> Result<Option<CaRotation>, PkiError> {
    let Some(bytes) = store.read(CA_ROTATION_FILE)? else { return Ok(None) };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| PkiError::RotationRecord { path: store.path(CA_ROTATION_FILE), reason: e.to_string() })
}

/// Whether a CA rotation is under way (recorded and not done).
pub fn ca_rotation_in_progress(store: &Store) -> Result<Option<CaRotation>, PkiError> {
    Ok(ca_rotation(store)?.filter(|r| r.phase != CaPhase::Done))
}

/// Records the phase reached.
pub fn record_phase(store: &Store, rotation: &CaRotation) -> Result<(), PkiError> {
    let text = serde_json::to_string_pretty(rotation).map_err(|e| PkiError::RotationRecord { path: store.path(CA_ROTATION_FILE), reason: e.to_string() })?;
    store.write(CA_ROTATION_FILE, format!("{text}\n").as_bytes(), Mode::Public)?;
    Ok(())
}

/// Phase 1, locally: the CAs move to `ca-rotation/old/` and new ones are made in their place
/// (idempotent: once the old ones are there, nothing moves again). External CAs are refused.
pub fn start_ca_rotation(inv: &Inventory, store: &Store, now: OffsetDateTime) -> Result<(), PkiError> {
    for role in CAS {
        let old_cert = format!("{OLD_CA_DIR}/{}", role.cert_file());
        if store.exists(&old_cert) {
            continue;
        }
        // Loaded first: only a readable CA whose key is here is rotated.
        load_own_ca(store, &role, now)?;
        let key = store.require(&role.key_file())?;
        store.write(&format!("{OLD_CA_DIR}/{}", role.key_file()), &key, Mode::Secret)?;
        store.write(&old_cert, &store.require(&role.cert_file())?, Mode::Public)?;
        for file in [role.cert_file(), role.key_file()] {
            fs::remove_file(store.path(&file)).map_err(|source| PkiError::Write { path: store.path(&file), source })?;
        }
        ca::ensure(store, inv, &role, now)?;
    }
    if store.exists(&CertRole::Admin.cert_file()) {
        store.write("admin.conf", &admin_conf(inv, store)?, Mode::Secret)?;
    }
    Ok(())
}

/// Phase 2, locally: every leaf not yet signed by the new CA is reissued with a new key
/// (idempotent: a re-run after an interruption reissues only what is left).
pub fn reissue_from_new_ca(inv: &Inventory, store: &Store, now: OffsetDateTime) -> Result<Vec<Reissued>, PkiError> {
    let mut pending = Vec::new();
    for role in CertRole::leaves(inv) {
        let ca = load_own_ca(store, &role.issuer(), now)?;
        let signed = read_cert(store, &role)?.and_then(Result::ok).is_some_and(|info| info.signed_by(&ca.info));
        if !signed {
            pending.push(role);
        }
    }
    reissue(inv, store, &pending, Keys::New, now)
}

/// Phase 3, locally: the old CAs leave `ca-rotation/old/` for `backup/<stamp>-old-ca/`.
pub fn drop_old_ca(inv: &Inventory, store: &Store, stamp: &str) -> Result<Option<PathBuf>, PkiError> {
    let old = store.path(OLD_CA_DIR);
    if !old.exists() {
        return Ok(None);
    }
    let target = store.path(&format!("{BACKUP_DIR}/{stamp}-old-ca"));
    copy_tree(&old, &target, &[]).map_err(|source| PkiError::Write { path: target.clone(), source })?;
    fs::remove_dir_all(&old).map_err(|source| PkiError::Write { path: old.clone(), source })?;
    if store.exists(&CertRole::Admin.cert_file()) {
        store.write("admin.conf", &admin_conf(inv, store)?, Mode::Secret)?;
    }
    Ok(Some(target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::generate_at;

    fn field_report() -> Inventory {
        crate::inventory::field_report()
    }

    #[test]
    fn timestamps_are_utc_and_sortable() {
        let at = OffsetDateTime::from_unix_timestamp(1_735_779_845).unwrap().to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(timestamp(at), "20250102T010405Z");
    }

    #[test]
    fn selection_maps_groups_to_leaves_and_host_paths() {
        let inv = field_report();
        let etcd = selected_leaves(&inv, &[LeafGroup::Etcd], &[]);
        assert_eq!(etcd.len(), 1 + 2 * 3);
        let one = selected_leaves(&inv, &[LeafGroup::Etcd], &[inv.hosts[0].name.clone()]);
        assert_eq!(one.len(), 1 + 2, "{one:?}");
        let all = selected_leaves(&inv, &LeafGroup::ALL, &[]);
        assert_eq!(all, CertRole::leaves(&inv), "every leaf is in some group");
        assert!(selects(&[LeafGroup::Apiserver], "/etc/kubernetes/pki/apiserver-etcd-client.key"));
        assert!(selects(&[LeafGroup::Etcd], "/etc/kubernetes/pki/etcd/server.crt"));
        assert!(!selects(&[LeafGroup::Etcd], "/etc/kubernetes/pki/etcd/ca.crt"));
        assert!(!selects(&[LeafGroup::Kubelet], "/etc/kubernetes/pki/ca.crt"));
        assert!(ca_rotation_selects("/etc/kubernetes/admin.conf"));
        assert!(!ca_rotation_selects("/etc/etcd/etcd.conf.yml"));
    }

    /// etcd snapshots (`backups/`, every Secret of the cluster) stay out of certificate backups
    /// and scratch copies: neither `certs rotate`'s backup nor `render`'s copy carries them.
    #[test]
    fn backups_and_copies_leave_the_etcd_snapshots_out() {
        let dir = tempfile::tempdir().unwrap();
        let inv = field_report();
        let store = Store::at(dir.path().join("demo"));
        generate_at(&inv, &store, OffsetDateTime::now_utc()).unwrap();
        let snapshot = store.path("backups/20261204T000000Z/snapshot.db");
        fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
        fs::write(&snapshot, "every secret of the cluster").unwrap();
        let saved = backup(&store, "20261205T000000Z").unwrap();
        assert!(saved.join("ca.crt").exists());
        assert!(!saved.join("backups").exists(), "the backup copied the etcd snapshots");
        let copy = copy_store(&store, &dir.path().join("copy")).unwrap();
        assert!(copy.path("ca.crt").exists());
        assert!(!copy.path("backups").exists(), "the scratch copy copied the etcd snapshots");
        assert!(snapshot.exists());
    }

    #[test]
    fn reissue_gives_new_serials_and_keys_and_backup_keeps_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let inv = field_report();
        let store = Store::at(dir.path().join("demo"));
        let now = OffsetDateTime::now_utc();
        generate_at(&inv, &store, now).unwrap();
        let roles = selected_leaves(&inv, &[LeafGroup::Etcd], &[]);
        let server = roles.iter().find(|r| matches!(r, CertRole::EtcdServer(_))).unwrap().clone();
        let key_before = store.require(&server.key_file()).unwrap();
        let cert_before = store.require(&server.cert_file()).unwrap();
        let saved = backup(&store, "20250101T000000Z").unwrap();
        assert_eq!(fs::read(saved.join(server.cert_file())).unwrap(), cert_before);
        assert!(!saved.join("backup").exists());
        let again = backup(&store, "20250101T000000Z").unwrap();
        assert!(again.ends_with("20250101T000000Z-2"));

        let done = reissue(&inv, &store, &roles, Keys::New, now).unwrap();
        assert_eq!(done.len(), roles.len());
        assert!(done.iter().all(|r| r.old_serial.as_deref() != Some(r.new_serial.as_str())));
        assert_ne!(store.require(&server.key_file()).unwrap(), key_before);
        let kept = reissue(&inv, &store, std::slice::from_ref(&server), Keys::Keep, now).unwrap();
        assert_ne!(kept[0].old_serial.as_deref(), Some(kept[0].new_serial.as_str()));
        // Only the selected leaves changed; the store is consistent (generate keeps all).
        let report = generate_at(&inv, &store, now).unwrap();
        assert!(report.files(|a| !matches!(a, crate::pki::Action::Kept)).is_empty(), "{report}");
    }

    #[test]
    fn ca_rotation_phases_bundle_then_reissue_then_drop() {
        let dir = tempfile::tempdir().unwrap();
        let inv = field_report();
        let store = Store::at(dir.path().join("demo"));
        let now = OffsetDateTime::now_utc();
        generate_at(&inv, &store, now).unwrap();
        let old_ca = store.require("etcd/ca.crt").unwrap();
        start_ca_rotation(&inv, &store, now).unwrap();
        start_ca_rotation(&inv, &store, now).unwrap();
        let new_ca = store.require("etcd/ca.crt").unwrap();
        assert_ne!(old_ca, new_ca);
        let bundle = trust_bundle(&store, &CertRole::EtcdCa).unwrap();
        assert_eq!(pem::parse_many(&bundle).unwrap().len(), 2);
        assert!(bundle.starts_with(&new_ca) && bundle.ends_with(&old_ca));
        let first = reissue_from_new_ca(&inv, &store, now).unwrap();
        assert_eq!(first.len(), CertRole::leaves(&inv).len());
        assert!(reissue_from_new_ca(&inv, &store, now).unwrap().is_empty(), "a re-run reissues nothing");
        let archived = drop_old_ca(&inv, &store, "20250101T000000Z").unwrap().unwrap();
        assert_eq!(fs::read(archived.join("etcd/ca.crt")).unwrap(), old_ca);
        assert_eq!(trust_bundle(&store, &CertRole::EtcdCa).unwrap(), new_ca);
        let report = generate_at(&inv, &store, now).unwrap();
        assert!(report.files(|a| !matches!(a, crate::pki::Action::Kept)).is_empty(), "{report}");
    }
}
