//! kube-proxy on every worker (iptables mode, IPv6 cluster CIDR), health on `[::]:10256`,
//! metrics on `[::1]:10249`.

use super::{Component, Health, HostFile, Identity, Kind, Server, Service, Stage, curl};
use crate::inventory::Role;
use crate::pki::KubeconfigUser;

pub const KUBE_PROXY: Component = Component {
    name: "kube-proxy",
    roles: &Role::ALL,
    binaries: &["kube-proxy"],
    bundle_dirs: &[],
    files: &[
        HostFile::config("/var/lib/kube-proxy/config.yaml", "kube-proxy-config.yaml.j2"),
        HostFile::config("/etc/systemd/system/kube-proxy.service", "kube-proxy.service.j2"),
        HostFile::kubeconfig("/etc/kubernetes/kube-proxy.conf", Identity::User(KubeconfigUser::KubeProxy), Server::LocalProxy),
    ],
    certificates: &[],
    ports: &[10256, 10249],
    kind: Kind::Service(Service {
        health: Health::Script { needs: &[], script: |_, _| curl("http://[::1]:10256/healthz", ""), shows: "GET http://[::1]:10256/healthz" },
        ..Service::new(Stage::Node, "kube-proxy")
    }),
};
