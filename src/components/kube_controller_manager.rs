//! kube-controller-manager on every control-plane host (leader-elected): allocates each node
//! a /`node_cidr_mask` of the pod CIDR and signs cluster CSRs with the kubernetes CA key.

use super::{Leaves, Component, Health, HostFile, Identity, Kind, Server, Service, Stage, curl};
use crate::inventory::Role;
use crate::pki::{HostPki, KubeconfigUser, PkiUse};

pub const KUBE_CONTROLLER_MANAGER: Component = Component {
    name: "kube-controller-manager",
    roles: &[Role::ControlPlane],
    binaries: &["kube-controller-manager"],
    bundle_dirs: &[],
    files: &[
        HostFile::config("/etc/systemd/system/kube-controller-manager.service", "kube-controller-manager.service.j2"),
        HostFile::kubeconfig("/etc/kubernetes/controller-manager.conf", Identity::User(KubeconfigUser::ControllerManager), Server::Loopback),
    ],
    certificates: &[(HostPki::KubernetesCa, PkiUse::Reads), (HostPki::KubernetesCaKey, PkiUse::Reads), (HostPki::ServiceAccountKey, PkiUse::Reads)],
    ports: &[10257],
    leaves: Leaves::NOTHING,
    kind: Kind::Service(Service {
        // Its serving certificate is self-signed: -k; /healthz is open to anonymous requests.
        health: Health::Script { needs: &[], script: |_, _| curl("https://[::1]:10257/healthz", "-k"), shows: "GET https://[::1]:10257/healthz" },
        // It ends itself when it cannot renew its leader lease (klog.Fatalf in 1.20).
        exits_by_design: Some("leaderelection lost"),
        ..Service::new(Stage::ControlPlane, "kube-controller-manager")
    }),
};
