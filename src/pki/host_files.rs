//! Where the cluster's certificates and keys live on a host (kubeadm's paths), and which go to
//! which host. This file is the one place that knows those paths: components declare the
//! groups they use (`HostPki`), templates and health checks take the paths from here.
//!
//! Which host gets which group follows from the component catalog: a host gets the groups of
//! every component that runs there (`crate::components`). As a result:
//! - every host (each is a Kubernetes node): `ca.crt`, the kubelet's
//!   `kubelet-client-current.pem` (certificate then key, as kubeadm) and `kubelet.crt`/`.key`;
//! - control-plane hosts: `ca.key` (kube-controller-manager signs cluster CSRs with it; no
//!   other host ever gets it), `apiserver.*`, `apiserver-kubelet-client.*`,
//!   `apiserver-etcd-client.*`, `front-proxy-ca.crt`, `front-proxy-client.*`, `sa.key`,
//!   `sa.pub`, `etcd/ca.crt`;
//! - etcd members: `etcd/ca.crt`, `etcd/server.*`, `etcd/peer.*`, `etcd/healthcheck-client.*`.
//!
//! `etcd/ca.key` and `front-proxy-ca.key` never leave the machine v6deploy runs from: every
//! certificate they sign is issued here, and nothing running on a host signs with them
//! (kubeadm copies them to control planes only for `kubeadm join --control-plane`).

use std::collections::BTreeMap;

use super::PkiError;
use super::kubeconfig::KubeconfigUser;
use super::role::CertRole;
use super::rotate::trust_bundle;
use super::store::{Mode, Store};
use crate::components;
use crate::inventory::{HostSpec, Inventory};
use crate::net::NodeName;

/// kubeadm's PKI directory on a host.
pub const KUBERNETES_PKI: &str = "/etc/kubernetes/pki";
/// The kubelet's certificate directory on a host.
pub const KUBELET_PKI: &str = "/var/lib/kubelet/pki";
/// Where the kubeconfigs live on a host.
pub const KUBERNETES_DIR: &str = "/etc/kubernetes";

/// A group of PKI files on a host: a certificate with its key, a CA bundle, or a key pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostPki {
    /// The kubernetes CA bundle (`ca.crt`).
    KubernetesCa,
    /// The kubernetes CA key (`ca.key`), when the store has it (not with an external CA).
    KubernetesCaKey,
    /// kube-apiserver's serving certificate.
    Apiserver,
    /// kube-apiserver's client certificate for kubelets.
    ApiserverKubeletClient,
    /// kube-apiserver's client certificate for etcd.
    ApiserverEtcdClient,
    /// The front-proxy CA bundle.
    FrontProxyCa,
    /// The front-proxy (aggregation layer) client certificate.
    FrontProxyClient,
    /// The service-account signing key (`sa.key`).
    ServiceAccountKey,
    /// The service-account verification key (`sa.pub`).
    ServiceAccountPublicKey,
    /// The etcd CA bundle.
    EtcdCa,
    /// This member's etcd serving certificate.
    EtcdServer,
    /// This member's etcd peer certificate.
    EtcdPeer,
    /// The client certificate of etcd's health checks.
    EtcdHealthcheckClient,
    /// This node's kubelet client certificate and key, in one file.
    KubeletClient,
    /// This node's kubelet serving certificate.
    KubeletServing,
}

/// How a component uses a PKI group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkiUse {
    /// The service reads it: a change restarts the service.
    Reads,
    /// Only its health check uses it: delivered, no restart.
    HealthCheck,
}

impl HostPki {
    /// The group's files on a host; a certificate comes before its key.
    pub fn paths(self) -> &'static [&'static str] {
        match self {
            HostPki::KubernetesCa => &["/etc/kubernetes/pki/ca.crt"],
            HostPki::KubernetesCaKey => &["/etc/kubernetes/pki/ca.key"],
            HostPki::Apiserver => &["/etc/kubernetes/pki/apiserver.crt", "/etc/kubernetes/pki/apiserver.key"],
            HostPki::ApiserverKubeletClient => &["/etc/kubernetes/pki/apiserver-kubelet-client.crt", "/etc/kubernetes/pki/apiserver-kubelet-client.key"],
            HostPki::ApiserverEtcdClient => &["/etc/kubernetes/pki/apiserver-etcd-client.crt", "/etc/kubernetes/pki/apiserver-etcd-client.key"],
            HostPki::FrontProxyCa => &["/etc/kubernetes/pki/front-proxy-ca.crt"],
            HostPki::FrontProxyClient => &["/etc/kubernetes/pki/front-proxy-client.crt", "/etc/kubernetes/pki/front-proxy-client.key"],
            HostPki::ServiceAccountKey => &["/etc/kubernetes/pki/sa.key"],
            HostPki::ServiceAccountPublicKey => &["/etc/kubernetes/pki/sa.pub"],
            HostPki::EtcdCa => &["/etc/kubernetes/pki/etcd/ca.crt"],
            HostPki::EtcdServer => &["/etc/kubernetes/pki/etcd/server.crt", "/etc/kubernetes/pki/etcd/server.key"],
            HostPki::EtcdPeer => &["/etc/kubernetes/pki/etcd/peer.crt", "/etc/kubernetes/pki/etcd/peer.key"],
            HostPki::EtcdHealthcheckClient => &["/etc/kubernetes/pki/etcd/healthcheck-client.crt", "/etc/kubernetes/pki/etcd/healthcheck-client.key"],
            HostPki::KubeletClient => &["/var/lib/kubelet/pki/kubelet-client-current.pem"],
            HostPki::KubeletServing => &["/var/lib/kubelet/pki/kubelet.crt", "/var/lib/kubelet/pki/kubelet.key"],
        }
    }

    /// The certificate (or the only file) of the group.
    pub fn cert(self) -> &'static str {
        self.paths()[0]
    }

    /// The key of the group (the same file as `cert` for a combined PEM or a single file).
    pub fn key(self) -> &'static str {
        let paths = self.paths();
        paths[paths.len() - 1]
    }

    /// The group's files for the host named `name`, from the store.
    fn files(self, store: &Store, name: &NodeName) -> Result<Vec<PkiFile>, PkiError> {
        let file = |path: &str, mode: Mode, contents: Vec<u8>| PkiFile { path: path.to_string(), mode: mode.bits(), contents };
        let pair = |role: CertRole| -> Result<Vec<PkiFile>, PkiError> {
            Ok(vec![file(self.cert(), Mode::Public, store.require(&role.cert_file())?), file(self.key(), Mode::Secret, store.require(&role.key_file())?)])
        };
        let bundle = |role: CertRole| -> Result<Vec<PkiFile>, PkiError> { Ok(vec![file(self.cert(), Mode::Public, trust_bundle(store, &role)?)]) };
        match self {
            HostPki::KubernetesCa => bundle(CertRole::KubernetesCa),
            // An external kubernetes CA has no key here; then no host gets one.
            HostPki::KubernetesCaKey => Ok(store.read("ca.key")?.map(|key| file(self.cert(), Mode::Secret, key)).into_iter().collect()),
            HostPki::Apiserver => pair(CertRole::Apiserver),
            HostPki::ApiserverKubeletClient => pair(CertRole::ApiserverKubeletClient),
            HostPki::ApiserverEtcdClient => pair(CertRole::ApiserverEtcdClient),
            HostPki::FrontProxyCa => bundle(CertRole::FrontProxyCa),
            HostPki::FrontProxyClient => pair(CertRole::FrontProxyClient),
            HostPki::ServiceAccountKey => Ok(vec![file(self.cert(), Mode::Secret, store.require("sa.key")?)]),
            HostPki::ServiceAccountPublicKey => Ok(vec![file(self.cert(), Mode::Public, store.require("sa.pub")?)]),
            HostPki::EtcdCa => bundle(CertRole::EtcdCa),
            HostPki::EtcdServer => pair(CertRole::EtcdServer(name.clone())),
            HostPki::EtcdPeer => pair(CertRole::EtcdPeer(name.clone())),
            HostPki::EtcdHealthcheckClient => pair(CertRole::EtcdHealthcheckClient),
            HostPki::KubeletClient => {
                let client = CertRole::KubeletClient(name.clone());
                let mut current = store.require(&client.cert_file())?;
                current.extend(store.require(&client.key_file())?);
                Ok(vec![file(self.cert(), Mode::Secret, current)])
            }
            HostPki::KubeletServing => pair(CertRole::KubeletServing(name.clone())),
        }
    }
}

/// Whether a path on a host is PKI material (a certificate, key or CA bundle).
pub fn is_host_pki(path: &str) -> bool {
    path.starts_with(&format!("{KUBERNETES_PKI}/")) || path.starts_with(&format!("{KUBELET_PKI}/"))
}

/// The kubeconfig of `user` on a host.
pub fn kubeconfig_path(user: KubeconfigUser) -> String {
    format!("{KUBERNETES_DIR}/{}", user.file_name())
}

/// The client certificate and key a kubeconfig of `user` names when its credentials are not
/// embedded (`render` without a PKI): `/etc/kubernetes/pki/<user>.crt` and `.key`.
pub fn kubeconfig_client_files(user: KubeconfigUser) -> (String, String) {
    let stem = user.file_name().trim_end_matches(".conf");
    (format!("{KUBERNETES_PKI}/{stem}.crt"), format!("{KUBERNETES_PKI}/{stem}.key"))
}

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

/// The PKI groups `host` gets: those of every component that runs there.
pub fn groups_for(host: &HostSpec) -> Vec<HostPki> {
    let mut groups: Vec<HostPki> = components::on_host(host).flat_map(|c| c.certificates.iter().map(|(group, _)| *group)).collect();
    groups.sort();
    groups.dedup();
    groups
}

/// The files each host needs, sorted by path. Reads the store only: run `generate` first
/// (a missing file is an error that says so).
pub fn host_files(inv: &Inventory, store: &Store) -> Result<BTreeMap<NodeName, Vec<PkiFile>>, PkiError> {
    let mut all = BTreeMap::new();
    for host in &inv.hosts {
        let mut files: BTreeMap<String, PkiFile> = BTreeMap::new();
        for group in groups_for(host) {
            for file in group.files(store, &host.name)? {
                files.insert(file.path.clone(), file);
            }
        }
        all.insert(host.name.clone(), files.into_values().collect());
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_lives_under_a_pki_directory_and_keys_come_last() {
        use HostPki::*;
        let all = [
            KubernetesCa, KubernetesCaKey, Apiserver, ApiserverKubeletClient, ApiserverEtcdClient, FrontProxyCa, FrontProxyClient, ServiceAccountKey,
            ServiceAccountPublicKey, EtcdCa, EtcdServer, EtcdPeer, EtcdHealthcheckClient, KubeletClient, KubeletServing,
        ];
        for group in all {
            assert!(group.paths().iter().all(|p| is_host_pki(p)), "{group:?}");
            if group.paths().len() == 2 {
                assert!(group.cert().ends_with(".crt") && group.key().ends_with(".key"), "{group:?}");
            }
        }
    }

    #[test]
    fn only_control_planes_get_the_ca_key_and_every_host_its_node_identity() {
        let inv = crate::inventory::field_report();
        let mut worker = inv.hosts[0].clone();
        worker.roles = crate::inventory::Roles([crate::inventory::Role::Worker].into());
        let groups = groups_for(&worker);
        assert!(groups.contains(&HostPki::KubeletClient) && groups.contains(&HostPki::KubernetesCa));
        assert!(!groups.contains(&HostPki::KubernetesCaKey) && !groups.contains(&HostPki::EtcdCa));
        assert!(groups_for(&inv.hosts[0]).contains(&HostPki::KubernetesCaKey));
    }
}
