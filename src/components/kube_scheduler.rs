//! kube-scheduler on every control-plane host (leader-elected).

use super::{Component, HostFile, Identity, Kind, Server, Service, Stage};
use crate::inventory::Role;
use crate::pki::KubeconfigUser;

pub const KUBE_SCHEDULER: Component = Component {
    name: "kube-scheduler",
    roles: &[Role::ControlPlane],
    binaries: &["kube-scheduler"],
    files: &[
        HostFile::config("/etc/systemd/system/kube-scheduler.service", "kube-scheduler.service.j2"),
        HostFile::kubeconfig("/etc/kubernetes/scheduler.conf", Identity::User(KubeconfigUser::Scheduler), Server::Loopback),
    ],
    certificates: &[],
    ports: &[10259],
    kind: Kind::Service(Service::new(Stage::ControlPlane, "kube-scheduler")),
};
