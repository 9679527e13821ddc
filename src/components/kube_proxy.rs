//! kube-proxy on every worker (iptables mode, IPv6 cluster CIDR), health on `[::]:10256`,
//! metrics on `[::1]:10249`.

use super::{Leaves, Script, binary_path, Component, Health, HostFile, Identity, Kind, Server, Service, Stage, curl};
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
    leaves: Leaves {
        state: &["/var/lib/kube-proxy"],
        // `--cleanup` exits non-zero where a proxy mode was never used (no ipvs modules),
        // having removed the rules of the others.
        undo: Some(Script { what: "remove its iptables rules (kube-proxy --cleanup)", script: || format!("[ ! -x {0} ] || {0} --cleanup >/dev/null 2>&1 || true", binary_path("kube-proxy")) }),
        ..Leaves::NOTHING
    },
    kind: Kind::Service(Service {
        health: Health::Script { needs: &[], script: |_, _| curl("http://[::1]:10256/healthz", ""), shows: "GET http://[::1]:10256/healthz" },
        ..Service::new(Stage::Node, "kube-proxy")
    }),
};
