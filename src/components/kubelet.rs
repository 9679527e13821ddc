//! The kubelet on every worker: node name = the encoded address, `--node-ip` = the host's
//! address, serving on `[::]:10250`, health on `[::1]:10248`; its client certificate has CN
//! `system:node:<node name>` (kubeadm's `kubelet-client-current.pem`).

use super::{Component, HostFile, Identity, Kind, Server, Service, Stage};
use crate::inventory::Role;
use crate::pki::{HostPki, PkiUse};

pub const KUBELET: Component = Component {
    name: "kubelet",
    roles: &[Role::Worker],
    binaries: &["kubelet"],
    files: &[
        HostFile::config("/var/lib/kubelet/config.yaml", "kubelet-config.yaml.j2"),
        HostFile::config("/etc/systemd/system/kubelet.service", "kubelet.service.j2"),
        HostFile::kubeconfig("/etc/kubernetes/kubelet.conf", Identity::Node, Server::Nearest),
    ],
    certificates: &[(HostPki::KubernetesCa, PkiUse::Reads), (HostPki::KubeletClient, PkiUse::Reads), (HostPki::KubeletServing, PkiUse::Reads)],
    ports: &[10250, 10248],
    kind: Kind::Service(Service::new(Stage::Node, "kubelet")),
};
