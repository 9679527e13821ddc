//! Node services: kubelet and kube-proxy on workers.

use std::sync::Arc;

use super::InstallState;
use super::service::{ServiceSpec, install, reads};
use crate::bundle::Component;
use crate::inventory::{HostSpec, Role};
use crate::runner::{HostContext, Read, Step, StepFuture};

/// kubelet and kube-proxy (certificate rotation restarts them from these too).
pub const SERVICES: [ServiceSpec; 2] = [
    ServiceSpec {
        component: Component::Kubelet,
        owns: &["/etc/systemd/system/kubelet.service", "/var/lib/kubelet/config.yaml", "/etc/kubernetes/kubelet.conf"],
        restart_on: &["/etc/systemd/system/kubelet.service", "/var/lib/kubelet/", "/etc/kubernetes/kubelet.conf", "/etc/kubernetes/pki/ca.crt"],
        health: None,
        no_block: false,
        bootstrap_file: None,
        rolling: false,
    },
    ServiceSpec {
        component: Component::KubeProxy,
        owns: &["/etc/systemd/system/kube-proxy.service", "/var/lib/kube-proxy/", "/etc/kubernetes/kube-proxy.conf"],
        restart_on: &["/etc/systemd/system/kube-proxy.service", "/var/lib/kube-proxy/", "/etc/kubernetes/kube-proxy.conf"],
        health: None,
        no_block: false,
        bootstrap_file: None,
        rolling: false,
    },
];

/// The "kubelet and kube-proxy" step.
pub struct NodeServices {
    pub state: Arc<InstallState>,
}

impl Step for NodeServices {
    fn title(&self) -> String {
        "kubelet and kube-proxy".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.has(Role::Worker)
    }

    fn reads(&self, host: &HostSpec) -> Vec<Read> {
        reads(&self.state, host, &SERVICES)
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(install(cx, &self.state, &SERVICES))
    }
}
