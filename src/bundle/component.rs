//! The components v6deploy installs from the bundle.

use serde::Serialize;

use crate::inventory::Role;

/// A binary from the bundle and the service it runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    Etcd,
    Etcdctl,
    KubeApiserver,
    KubeControllerManager,
    KubeScheduler,
    Kubectl,
    Kubelet,
    KubeProxy,
}

impl Component {
    /// The binary's file name (also the systemd unit's name for services).
    pub fn name(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::Etcdctl => "etcdctl",
            Component::KubeApiserver => "kube-apiserver",
            Component::KubeControllerManager => "kube-controller-manager",
            Component::KubeScheduler => "kube-scheduler",
            Component::Kubectl => "kubectl",
            Component::Kubelet => "kubelet",
            Component::KubeProxy => "kube-proxy",
        }
    }

    /// Path inside the bundle.
    pub fn bundle_path(self) -> String {
        format!("bin/{}", self.name())
    }

    /// Path on the host.
    pub fn host_path(self) -> String {
        format!("{}/{}", super::BIN_DIR, self.name())
    }

    /// Whether it runs as a systemd service (`<name>.service`).
    pub fn is_service(self) -> bool {
        !matches!(self, Component::Etcdctl | Component::Kubectl)
    }

    /// What a host with `role` needs.
    pub fn for_role(role: Role) -> &'static [Component] {
        match role {
            Role::Etcd => &[Component::Etcd, Component::Etcdctl],
            Role::ControlPlane => &[Component::KubeApiserver, Component::KubeControllerManager, Component::KubeScheduler, Component::Kubectl],
            Role::Worker => &[Component::Kubelet, Component::KubeProxy],
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}
