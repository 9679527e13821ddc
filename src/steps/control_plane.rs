//! Control plane: kube-apiserver, kube-controller-manager and kube-scheduler units and
//! kubeconfigs; the apiserver's `/healthz` over `https://[::1]:6443` once started.

use std::sync::Arc;

use super::InstallState;
use super::service::{ServiceSpec, install, reads};
use crate::bundle::Component;
use crate::inventory::{HostSpec, Role};
use crate::runner::{HostContext, Read, Step, StepFuture};

fn apiserver_health(_: &HostSpec) -> String {
    "/usr/local/bin/kubectl --kubeconfig=/etc/kubernetes/admin.conf --server=https://[::1]:6443 get --raw=/healthz".into()
}

/// kube-apiserver, kube-controller-manager and kube-scheduler (certificate rotation restarts
/// them from these too).
pub const SERVICES: [ServiceSpec; 3] = [
    ServiceSpec {
        component: Component::KubeApiserver,
        owns: &["/etc/systemd/system/kube-apiserver.service", "/etc/kubernetes/admin.conf"],
        restart_on: &["/etc/systemd/system/kube-apiserver.service", "/etc/kubernetes/pki/ca.", "/etc/kubernetes/pki/apiserver", "/etc/kubernetes/pki/front-proxy", "/etc/kubernetes/pki/sa.", "/etc/kubernetes/pki/etcd/ca.crt"],
        health: Some(apiserver_health),
        no_block: false,
        bootstrap_file: None,
        rolling: true,
    },
    ServiceSpec {
        component: Component::KubeControllerManager,
        owns: &["/etc/systemd/system/kube-controller-manager.service", "/etc/kubernetes/controller-manager.conf"],
        restart_on: &["/etc/systemd/system/kube-controller-manager.service", "/etc/kubernetes/controller-manager.conf", "/etc/kubernetes/pki/ca.", "/etc/kubernetes/pki/sa.key"],
        health: None,
        no_block: false,
        bootstrap_file: None,
        rolling: false,
    },
    ServiceSpec {
        component: Component::KubeScheduler,
        owns: &["/etc/systemd/system/kube-scheduler.service", "/etc/kubernetes/scheduler.conf"],
        restart_on: &["/etc/systemd/system/kube-scheduler.service", "/etc/kubernetes/scheduler.conf"],
        health: None,
        no_block: false,
        bootstrap_file: None,
        rolling: false,
    },
];

/// The "Control plane" step.
pub struct ControlPlane {
    pub state: Arc<InstallState>,
}

impl Step for ControlPlane {
    fn title(&self) -> String {
        "Control plane".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.has(Role::ControlPlane)
    }

    fn reads(&self, host: &HostSpec) -> Vec<Read> {
        reads(&self.state, host, &SERVICES)
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(install(cx, &self.state, &SERVICES))
    }
}
