//! Which files each host gets, by role, at kubeadm-style paths, and which manifests are
//! applied to the cluster.

use std::net::Ipv6Addr;

use crate::inventory::{HostSpec, Inventory, Role};

use super::kubeconfig::{Credentials, Kubeconfig};

/// Mode of configuration files and units.
const PUBLIC: u32 = 0o644;
/// Mode of kubeconfigs (they may embed a private key; kubeadm writes them 0600).
const PRIVATE: u32 = 0o600;

/// Credentials to embed in kubeconfigs, by component name.
pub type EmbeddedCredentials = std::collections::BTreeMap<String, Credentials>;

/// What a planned file is rendered from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A template with the host's [`super::Context`].
    Template(&'static str),
    /// The kubeconfig template with its own context.
    Kubeconfig(Kubeconfig),
}

/// One file to put on a host.
#[derive(Debug, Clone)]
pub struct PlannedFile {
    /// Absolute path on the host.
    pub path: String,
    pub mode: u32,
    pub source: Source,
}

/// One manifest applied to the cluster, written as `cluster/<file>`.
#[derive(Debug, Clone, Copy)]
pub struct PlannedManifest {
    pub template: &'static str,
    pub file: &'static str,
}

/// The files of `host`: the base files every host gets, then etcd, control-plane and worker
/// files for the roles it has. `first_control_plane` is the API server of worker-only hosts
/// and of `admin.conf`.
///
/// `embedded` maps a component (`admin`, `controller-manager`, `scheduler`, `kube-proxy`) to
/// credentials embedded in its kubeconfig; a component not in it gets the file form
/// (`/etc/kubernetes/pki/<component>.crt/.key`).
pub fn host_files(inv: &Inventory, host: &HostSpec, first_control_plane: Ipv6Addr, embedded: &EmbeddedCredentials) -> Vec<PlannedFile> {
    let template = |path: &str, name| PlannedFile { path: path.to_string(), mode: PUBLIC, source: Source::Template(name) };
    // Components on a control-plane host talk to their own apiserver over loopback.
    let local_server = if host.has(Role::ControlPlane) { Ipv6Addr::LOCALHOST } else { first_control_plane };
    let kubeconfig = |path: &str, server, user: String, credentials| PlannedFile {
        path: path.to_string(),
        mode: PRIVATE,
        source: Source::Kubeconfig(Kubeconfig { cluster_name: inv.cluster.name.clone(), server, user, credentials }),
    };
    let pki = |component: &str| {
        embedded.get(component).cloned().unwrap_or_else(|| {
            Credentials::files(&format!("/etc/kubernetes/pki/{component}.crt"), &format!("/etc/kubernetes/pki/{component}.key"))
        })
    };

    let mut files = vec![
        template("/etc/sysctl.d/90-v6deploy.conf", "sysctl.conf.j2"),
        template("/etc/modules-load.d/v6deploy.conf", "modules-load.conf.j2"),
        template(&format!("/etc/sysconfig/network-scripts/ifcfg-{}", host.interface), "ifcfg.j2"),
    ];
    if host.has(Role::Etcd) {
        files.push(template("/etc/etcd/etcd.conf.yml", "etcd.conf.yml.j2"));
        files.push(template("/etc/etcd/etcd-bootstrap.conf.yml", "etcd-bootstrap.conf.yml.j2"));
        files.push(template("/etc/systemd/system/etcd.service", "etcd.service.j2"));
    }
    if host.has(Role::ControlPlane) {
        files.extend([
            template("/etc/systemd/system/kube-apiserver.service", "kube-apiserver.service.j2"),
            template("/etc/systemd/system/kube-controller-manager.service", "kube-controller-manager.service.j2"),
            template("/etc/systemd/system/kube-scheduler.service", "kube-scheduler.service.j2"),
            kubeconfig("/etc/kubernetes/controller-manager.conf", Ipv6Addr::LOCALHOST, "system:kube-controller-manager".into(), pki("controller-manager")),
            kubeconfig("/etc/kubernetes/scheduler.conf", Ipv6Addr::LOCALHOST, "system:kube-scheduler".into(), pki("scheduler")),
            kubeconfig("/etc/kubernetes/admin.conf", first_control_plane, "kubernetes-admin".into(), pki("admin")),
        ]);
    }
    if host.has(Role::Worker) {
        // kubeadm's layout: the kubelet's rotated client certificate and key share one file.
        let kubelet_client = "/var/lib/kubelet/pki/kubelet-client-current.pem";
        files.extend([
            template("/var/lib/kubelet/config.yaml", "kubelet-config.yaml.j2"),
            template("/etc/systemd/system/kubelet.service", "kubelet.service.j2"),
            kubeconfig("/etc/kubernetes/kubelet.conf", local_server, format!("system:node:{}", host.name), Credentials::files(kubelet_client, kubelet_client)),
            template("/var/lib/kube-proxy/config.yaml", "kube-proxy-config.yaml.j2"),
            template("/etc/systemd/system/kube-proxy.service", "kube-proxy.service.j2"),
            kubeconfig("/etc/kubernetes/kube-proxy.conf", local_server, "system:kube-proxy".into(), pki("kube-proxy")),
        ]);
    }
    files
}

/// The manifests applied to the cluster, in the order they are applied.
pub fn cluster_manifests(inv: &Inventory) -> Vec<PlannedManifest> {
    let manifest = |template, file| PlannedManifest { template, file };
    let mut manifests = vec![
        manifest("flannel.yaml.j2", "flannel.yaml"),
        manifest("coredns.yaml.j2", "coredns.yaml"),
        manifest("nodelocaldns.yaml.j2", "nodelocaldns.yaml"),
    ];
    if inv.elasticsearch.is_some() {
        manifests.push(manifest("elasticsearch.yaml.j2", "elasticsearch.yaml"));
    }
    manifests
}
