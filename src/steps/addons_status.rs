//! "Addons status" (`check`): whether the cluster addons' pods are Ready now, asked once on
//! the first control plane through its own API server; changes nothing and waits for nothing.

use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use anyhow::Context;

use crate::components::{self, kubectl_local};
use crate::facts::{AddonsReady, Query};
use crate::inventory::{HostSpec, Inventory};
use crate::runner::{HostContext, Step, StepFuture};

/// What the addons' check found: `None` until asked (or when no API server answered).
pub type AddonsStore = Arc<Mutex<Option<AddonsStatus>>>;

/// The answer of the first control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddonsStatus {
    /// No API server answers there (nothing installed yet, or it is down): not judged.
    NoApiServer,
    /// The workloads Ready, and why the first that is not, is not.
    Checked(AddonsReady),
}

/// The "Addons status" step.
pub struct CheckAddons {
    pub store: AddonsStore,
    pub first_control_plane: Ipv6Addr,
}

/// Every workload of the addons the inventory wants, in apply order.
fn workloads(inv: &Inventory) -> Vec<components::Workload> {
    components::addon_workloads(inv, |_| true)
}

/// The script: "no api server" unless the local API server is ready, else the addons' ready
/// script with no wait beyond a second per workload.
fn script(inv: &Inventory) -> String {
    let readyz = kubectl_local(&["get", "--raw", "/readyz"]);
    format!("if ! {readyz} >/dev/null 2>&1; then echo 'no api server'; exit 0; fi\n{}", components::ready_script(&workloads(inv), 1))
}

impl Step for CheckAddons {
    fn title(&self) -> String {
        "Addons status".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.address == self.first_control_plane
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let ask = Query::addons_ready(script(cx.inventory));
            let output = cx.read_fresh(&ask).await.context("ask for the addons' pods")?;
            // The script printed only "no api server" (and succeeded): nothing was judged.
            let status = if output.ready.is_empty() && output.failure.is_none() && !workloads(cx.inventory).is_empty() {
                AddonsStatus::NoApiServer
            } else {
                AddonsStatus::Checked(output)
            };
            let summary = match &status {
                AddonsStatus::NoApiServer => "no API server answers here: addons not judged".to_string(),
                AddonsStatus::Checked(found) if found.failure.is_some() => "an addon is not Ready".to_string(),
                AddonsStatus::Checked(found) => format!("{} workloads Ready", found.ready.len()),
            };
            *self.store.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
            Ok(summary)
        })
    }
}
