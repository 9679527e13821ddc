//! kube-proxy on every worker (iptables mode, IPv6 cluster CIDR), health on `[::]:10256`,
//! metrics on `[::1]:10249`.

use super::{Component, HostFile, Identity, Kind, Server, Service, Stage};
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
    kind: Kind::Service(Service::new(Stage::Node, "kube-proxy")),
};
