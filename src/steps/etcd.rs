//! etcd: configuration and unit on every member, all members started together (one step, all
//! hosts at once, `--no-block`), then each member's health over `https://[addr]:2379` with the
//! healthcheck client certificate.

use std::sync::Arc;

use super::InstallState;
use super::service::{ServiceSpec, install, reads};
use crate::bundle::Component;
use crate::inventory::{HostSpec, Role};
use crate::net::url;
use crate::runner::{HostContext, Read, Step, StepFuture};

/// `etcdctl endpoint health` against this member, with TLS client certificates.
pub fn health_command(host: &HostSpec) -> String {
    format!(
        "ETCDCTL_API=3 /usr/local/bin/etcdctl --endpoints={} --cacert=/etc/kubernetes/pki/etcd/ca.crt \
         --cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt --key=/etc/kubernetes/pki/etcd/healthcheck-client.key \
         --command-timeout=3s endpoint health",
        url("https", host.address, 2379)
    )
}

/// The etcd service.
pub const ETCD: ServiceSpec = ServiceSpec {
    component: Component::Etcd,
    owns: &["/etc/etcd/", "/etc/systemd/system/etcd.service"],
    // Not the bootstrap file: it is read only while the data dir is empty.
    restart_on: &["/etc/etcd/etcd.conf.yml", "/etc/systemd/system/etcd.service", "/etc/kubernetes/pki/etcd/server.", "/etc/kubernetes/pki/etcd/peer.", "/etc/kubernetes/pki/etcd/ca.crt"],
    health: Some(health_command),
    no_block: true,
    bootstrap_file: Some(("/etc/etcd/etcd-bootstrap.conf.yml", "/var/lib/etcd/member")),
    rolling: true,
};

/// The "etcd" step.
pub struct Etcd {
    pub state: Arc<InstallState>,
    /// Hosts joining a running cluster (handled by `EtcdJoin`, not here).
    pub joining: Vec<std::net::Ipv6Addr>,
}

impl Step for Etcd {
    fn title(&self) -> String {
        "etcd cluster".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.has(Role::Etcd) && !self.joining.contains(&host.address)
    }

    fn reads(&self, host: &HostSpec) -> Vec<Read> {
        reads(&self.state, host, &[ETCD])
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let mut cx_spec = ETCD;
            if self.state.bundle.is_staged(Component::Etcdctl) {
                cx_spec.health = None;
            }
            install(cx, &self.state, &[cx_spec]).await
        })
    }
}
