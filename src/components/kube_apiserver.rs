//! kube-apiserver on every control-plane host, `https://[addr]:6443`; health is `/healthz`
//! over `https://[::1]:6443`, the server's certificate verified against the cluster CA (so it
//! must carry `::1`), asked anonymously as kubeadm's probes do (`curl`: a fraction of
//! `kubectl`'s start-up on every run's health check). Restarted one host at a time. It also carries `kubectl` (its health check and the addons use it) and the
//! admin kubeconfig.

use super::{Leaves, Component, Health, HostFile, Identity, Kind, Restart, Server, Service, Stage, binary_path};
use crate::inventory::{HostSpec, Inventory, Role};
use crate::net::url;
use crate::pki::{APISERVER_PORT, HostPki, KubeconfigUser, PkiUse, kubeconfig_path};

fn health(_: &Inventory, _: &HostSpec) -> String {
    super::curl(&format!("https://[::1]:{APISERVER_PORT}/healthz"), &format!("--cacert {}", HostPki::KubernetesCa.cert()))
}

/// `kubectl` on a control-plane host, as the cluster admin, against the host's own apiserver
/// (`https://[::1]:6443`, whatever host `admin.conf` names: that host may be leaving).
pub fn kubectl_local(args: &[&str]) -> String {
    let mut words = vec![
        binary_path("kubectl"),
        format!("--kubeconfig={}", kubeconfig_path(KubeconfigUser::Admin)),
        format!("--server={}", url("https", std::net::Ipv6Addr::LOCALHOST, APISERVER_PORT)),
    ];
    words.extend(args.iter().map(|a| a.to_string()));
    crate::shell::command(&words)
}

pub const KUBE_APISERVER: Component = Component {
    name: "kube-apiserver",
    roles: &[Role::ControlPlane],
    binaries: &["kube-apiserver", "kubectl"],
    bundle_dirs: &[],
    files: &[
        HostFile::config("/etc/systemd/system/kube-apiserver.service", "kube-apiserver.service.j2"),
        HostFile::kubeconfig("/etc/kubernetes/admin.conf", Identity::User(KubeconfigUser::Admin), Server::FirstControlPlane).without_restart(),
    ],
    certificates: &[
        (HostPki::KubernetesCa, PkiUse::Reads),
        (HostPki::Apiserver, PkiUse::Reads),
        (HostPki::ApiserverKubeletClient, PkiUse::Reads),
        (HostPki::ApiserverEtcdClient, PkiUse::Reads),
        (HostPki::FrontProxyCa, PkiUse::Reads),
        (HostPki::FrontProxyClient, PkiUse::Reads),
        (HostPki::ServiceAccountKey, PkiUse::Reads),
        (HostPki::ServiceAccountPublicKey, PkiUse::Reads),
        (HostPki::EtcdCa, PkiUse::Reads),
    ],
    ports: &[APISERVER_PORT],
    leaves: Leaves::NOTHING,
    kind: Kind::Service(Service {
        restart: Restart::Rolling,
        health: Health::Script { needs: &[], script: health, shows: "GET https://[::1]:6443/healthz" },
        ..Service::new(Stage::ControlPlane, "kube-apiserver")
    }),
};
