//! kube-scheduler on every control-plane host (leader-elected).

use super::{Leaves, Component, Health, HostFile, Identity, Kind, Server, Service, Stage, curl};
use crate::inventory::Role;
use crate::pki::KubeconfigUser;

pub const KUBE_SCHEDULER: Component = Component {
    name: "kube-scheduler",
    roles: &[Role::ControlPlane],
    binaries: &["kube-scheduler"],
    bundle_dirs: &[],
    files: &[
        HostFile::config("/etc/systemd/system/kube-scheduler.service", "kube-scheduler.service.j2"),
        HostFile::kubeconfig("/etc/kubernetes/scheduler.conf", Identity::User(KubeconfigUser::Scheduler), Server::Loopback),
    ],
    certificates: &[],
    ports: &[10259],
    leaves: Leaves::NOTHING,
    kind: Kind::Service(Service {
        // Its serving certificate is self-signed: -k; /healthz is open to anonymous requests.
        health: Health::Script { needs: &[], script: |_, _| curl("https://[::1]:10259/healthz", "-k"), shows: "GET https://[::1]:10259/healthz" },
        // It ends itself when it cannot renew its leader lease (klog.Fatalf in 1.20).
        exits_by_design: Some("leaderelection lost"),
        ..Service::new(Stage::ControlPlane, "kube-scheduler")
    }),
};
