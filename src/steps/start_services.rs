//! Starting the services of one stage (etcd, the control plane, the node services): on every
//! host that runs one of the stage's components, their files through the gate, (re)start when
//! needed, and their health checks (see `service::install`). The components and what each
//! one needs come from the catalog (`crate::components`).
//!
//! etcd members all start at once (`Start::Together`: quorum needs them together); a host
//! joining a running etcd cluster is left to the `EtcdJoin` step (`Join::MemberAdd`).

use std::net::Ipv6Addr;
use std::sync::Arc;

use super::InstallState;
use super::service::{install, reads};
use crate::inventory::Inventory;
use crate::components::{self, Component, Join, Stage};
use crate::inventory::HostSpec;
use crate::runner::{HostContext, Read, Step, StepFuture};

/// The step of one stage.
pub struct StartServices {
    pub stage: Stage,
    pub state: Arc<InstallState>,
    /// Hosts joining a running cluster: services that join by `member add` are not started
    /// here on them.
    pub joining: Vec<Ipv6Addr>,
}

impl StartServices {
    /// The stage's services on `host`.
    fn services(&self, host: &HostSpec) -> Vec<&'static Component> {
        let joining = self.joining.contains(&host.address);
        components::in_stage(self.stage).filter(|c| c.runs_on(host) && !(joining && c.service().is_some_and(|s| s.join == Join::MemberAdd))).collect()
    }
}

impl Step for StartServices {
    fn title(&self) -> String {
        self.stage.title()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        !self.services(host).is_empty()
    }

    fn reads(&self, inv: &Inventory, host: &HostSpec) -> Vec<Read> {
        reads(&self.state, inv, host, &self.services(host))
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move { install(cx, &self.state, &self.services(cx.host)).await })
    }
}
