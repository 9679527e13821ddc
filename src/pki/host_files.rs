//! Which certificates and keys go to which host, at kubeadm's paths.
//!
//! - Every host (every host runs a kubelet): `/etc/kubernetes/pki/ca.crt`,
//!   `/var/lib/kubelet/pki/kubelet-client-current.pem` (certificate then key, as kubeadm),
//!   `/var/lib/kubelet/pki/kubelet.crt` and `.key` (serving).
//! - Control-plane hosts: `ca.key` (kube-controller-manager signs cluster CSRs with it; no
//!   other host ever gets it), `apiserver.*`, `apiserver-kubelet-client.*`,
//!   `apiserver-etcd-client.*`, `front-proxy-ca.crt`, `front-proxy-client.*`, `sa.key`,
//!   `sa.pub`, `etcd/ca.crt`.
//! - etcd members: `etcd/ca.crt`, `etcd/server.*`, `etcd/peer.*`, `etcd/healthcheck-client.*`.
//!
//! `etcd/ca.key` and `front-proxy-ca.key` never leave the machine v6deploy runs from: every
//! certificate they sign is issued here, and nothing running on a host signs with them
//! (kubeadm copies them to control planes only for `kubeadm join --control-plane`).

use std::collections::BTreeMap;

use super::PkiError;
use super::role::CertRole;
use super::rotate::trust_bundle;
use super::store::{Mode, Store};
use crate::inventory::{Inventory, Role};
use crate::net::NodeName;

/// kubeadm's PKI directory on a host.
pub const KUBERNETES_PKI: &str = "/etc/kubernetes/pki";
/// The kubelet's certificate directory on a host.
pub const KUBELET_PKI: &str = "/var/lib/kubelet/pki";

/// One file to put on a host.
#[derive(Clone, PartialEq, Eq)]
pub struct PkiFile {
    /// Absolute path on the host.
    pub path: String,
    /// Unix permission bits: 0o600 for anything holding a private key, else 0o644.
    pub mode: u32,
    pub contents: Vec<u8>,
}

impl std::fmt::Debug for PkiFile {
    /// Never prints the contents (they may hold a private key).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PkiFile({} {:o}, {} bytes)", self.path, self.mode, self.contents.len())
    }
}

/// The files each host needs, sorted by path. Reads the store only: run `generate` first
/// (a missing file is an error that says so).
pub fn host_files(inv: &Inventory, store: &Store) -> Result<BTreeMap<NodeName, Vec<PkiFile>>, PkiError> {
    let mut all = BTreeMap::new();
    for host in &inv.hosts {
        let mut files: BTreeMap<String, PkiFile> = BTreeMap::new();
        let mut add = |path: String, mode: Mode, contents: Vec<u8>| {
            files.insert(path.clone(), PkiFile { path, mode: mode.bits(), contents });
        };
        let pki = |name: &str| format!("{KUBERNETES_PKI}/{name}");
        let name = &host.name;

        add(pki("ca.crt"), Mode::Public, trust_bundle(store, &CertRole::KubernetesCa)?);
        let client = CertRole::KubeletClient(name.clone());
        let mut current = store.require(&client.cert_file())?;
        current.extend(store.require(&client.key_file())?);
        add(format!("{KUBELET_PKI}/kubelet-client-current.pem"), Mode::Secret, current);
        let serving = CertRole::KubeletServing(name.clone());
        add(format!("{KUBELET_PKI}/kubelet.crt"), Mode::Public, store.require(&serving.cert_file())?);
        add(format!("{KUBELET_PKI}/kubelet.key"), Mode::Secret, store.require(&serving.key_file())?);

        if host.has(Role::ControlPlane) {
            // An external kubernetes CA has no key here; then no host gets one.
            if let Some(key) = store.read("ca.key")? {
                add(pki("ca.key"), Mode::Secret, key);
            }
            for role in [CertRole::Apiserver, CertRole::ApiserverKubeletClient, CertRole::ApiserverEtcdClient, CertRole::FrontProxyClient] {
                add(pki(&role.cert_file()), Mode::Public, store.require(&role.cert_file())?);
                add(pki(&role.key_file()), Mode::Secret, store.require(&role.key_file())?);
            }
            add(pki("front-proxy-ca.crt"), Mode::Public, trust_bundle(store, &CertRole::FrontProxyCa)?);
            add(pki("sa.key"), Mode::Secret, store.require("sa.key")?);
            add(pki("sa.pub"), Mode::Public, store.require("sa.pub")?);
            add(pki("etcd/ca.crt"), Mode::Public, trust_bundle(store, &CertRole::EtcdCa)?);
        }

        if host.has(Role::Etcd) {
            add(pki("etcd/ca.crt"), Mode::Public, trust_bundle(store, &CertRole::EtcdCa)?);
            let roles = [
                (CertRole::EtcdServer(name.clone()), "etcd/server"),
                (CertRole::EtcdPeer(name.clone()), "etcd/peer"),
                (CertRole::EtcdHealthcheckClient, "etcd/healthcheck-client"),
            ];
            for (role, on_host) in roles {
                add(pki(&format!("{on_host}.crt")), Mode::Public, store.require(&role.cert_file())?);
                add(pki(&format!("{on_host}.key")), Mode::Secret, store.require(&role.key_file())?);
            }
        }
        all.insert(name.clone(), files.into_values().collect());
    }
    Ok(all)
}
