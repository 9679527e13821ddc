//! Kernel gate: stop a host below `kernel.minimum` before anything is installed on it.

use std::sync::Arc;

use anyhow::bail;

use super::InstallState;
use crate::runner::{HostContext, Mode, Step, StepFuture};

/// The "Kernel gate" step.
pub struct KernelGate {
    pub state: Arc<InstallState>,
    /// `install --upgrade-kernel`: in dry-run the upgrade before the gate only planned, so a
    /// host still below the minimum passes with that note.
    pub upgrade_planned: bool,
}

impl Step for KernelGate {
    fn title(&self) -> String {
        "Kernel gate".into()
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let facts = self.state.facts.lock().unwrap_or_else(|p| p.into_inner()).get(&cx.host.address).map(|(f, _)| f.clone());
            let minimum = cx.inventory.kernel.minimum;
            match facts.as_ref().and_then(|f| f.kernel.map(|k| (k, f.kernel_release.clone()))) {
                Some((kernel, release)) if kernel >= minimum => Ok(format!("kernel {release} >= {minimum}")),
                Some((_, release)) if self.upgrade_planned && cx.gate.mode() == Mode::DryRun => {
                    Ok(format!("kernel {release} < {minimum}: the kernel upgrade above would upgrade it"))
                }
                Some((_, release)) => bail!(
                    "kernel {release} is below kernel.minimum {minimum} (flannel's IPv6 vxlan needs >= 3.12); run `v6deploy -i {} kernel upgrade --hosts {}` first, or `install --upgrade-kernel`",
                    cx.inventory.source.display(),
                    cx.host.address
                ),
                None => bail!("kernel version unknown (no facts)"),
            }
        })
    }
}
