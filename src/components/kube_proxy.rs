//! kube-proxy on every worker (iptables mode, IPv6 cluster CIDR), health on `[::]:10256`,
//! metrics on `[::1]:10249`.

use super::{Component, Health, HostFile, Identity, Join, Kind, Restart, Server, Service, Stage, Start};
use crate::inventory::Role;
use crate::pki::KubeconfigUser;

pub const KUBE_PROXY: Component = Component {
    name: "kube-proxy",
    roles: &[Role::Worker],
    binaries: &["kube-proxy"],
    files: &[
        HostFile::config("/var/lib/kube-proxy/config.yaml", "kube-proxy-config.yaml.j2"),
        HostFile::config("/etc/systemd/system/kube-proxy.service", "kube-proxy.service.j2"),
        HostFile::kubeconfig("/etc/kubernetes/kube-proxy.conf", Identity::User(KubeconfigUser::KubeProxy), Server::Nearest),
    ],
    certificates: &[],
    ports: &[10256, 10249],
    kind: Kind::Service(Service {
        stage: Stage::Node,
        binary: "kube-proxy",
        start: Start::WhenReady,
        restart: Restart::Parallel,
        bootstrap: None,
        health: Health::Active,
        join: Join::Plain,
    }),
};
