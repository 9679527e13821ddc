//! The "Read etcd health" step (read-only): from one etcd member, how each member answers:
//! healthy (`etcdctl endpoint health`), running without a quorum (`endpoint status` only), or
//! down. `node remove` reads it before changing anything, to refuse a
//! removal that would leave etcd without a quorum of healthy members.

use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use crate::facts::{EtcdState, Query};
use crate::inventory::HostSpec;
use crate::runner::{HostContext, Step, StepFuture};

/// Each member's health, as read.
pub type EtcdHealthStore = Arc<Mutex<Vec<(Ipv6Addr, EtcdState)>>>;

/// The "Read etcd health" step: on `on` only.
pub struct ReadEtcdHealth {
    /// The host that asks (an etcd member: it has etcdctl and the client certificate).
    pub on: Ipv6Addr,
    /// The members asked about.
    pub members: Vec<Ipv6Addr>,
    pub store: EtcdHealthStore,
}

impl Step for ReadEtcdHealth {
    fn title(&self) -> String {
        "Read etcd health".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.address == self.on
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let health = cx.read_fresh(&Query::etcd_health(&self.members)).await?;
            let healthy = health.iter().filter(|(_, s)| *s == EtcdState::Healthy).count();
            *self.store.lock().unwrap_or_else(|p| p.into_inner()) = health;
            Ok(format!("{healthy} of {} members healthy", self.members.len()))
        })
    }
}
