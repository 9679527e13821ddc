//! Verification: every unit v6deploy installed passes `systemd-analyze verify` (a staged
//! unit may only lack its binary), and every started service is active.

use std::sync::Arc;

use anyhow::bail;

use super::{ComponentOutcome, InstallState};
use crate::bundle::Component;
use crate::ops::units::verify_ok_except_missing;
use crate::runner::{HostContext, Mode, Step, StepFuture};
use crate::transport::quote::command;

/// The "Verify" step.
pub struct Verify {
    pub state: Arc<InstallState>,
}

impl Step for Verify {
    fn title(&self) -> String {
        "Verify units and services".into()
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            if cx.gate.mode() == Mode::DryRun {
                return Ok("skipped in dry-run".into());
            }
            let units: Vec<String> = self.state.files(cx.host.address, |p| p.starts_with("/etc/systemd/system/") && p.ends_with(".service")).into_iter().map(|f| f.path).collect();
            let outcomes = self.state.outcomes().get(&cx.host.address).cloned().unwrap_or_default();
            let mut problems = Vec::new();
            for unit in &units {
                let name = unit.trim_start_matches("/etc/systemd/system/").trim_end_matches(".service");
                let output = cx.transport.exec(&format!("{} 2>&1", command(&["systemd-analyze", "verify", unit])), &[]).await?;
                let binary = format!("{}/{name}", crate::bundle::BIN_DIR);
                let staged = outcomes.iter().any(|(c, o)| c.name() == name && *o == ComponentOutcome::Staged);
                let acceptable = output.success() || (staged && verify_ok_except_missing(&output.stdout_text(), &binary));
                if !acceptable {
                    problems.push(format!("{unit}: {}", output.stdout_text().trim()));
                }
            }
            let running: Vec<&Component> = outcomes.iter().filter(|(_, o)| o.is_running()).map(|(c, _)| c).collect();
            for component in &running {
                if !cx.transport.exec(&command(&["systemctl", "is-active", "--quiet", component.name()]), &[]).await?.success() {
                    problems.push(format!("{} is not active", component.name()));
                }
            }
            if !problems.is_empty() {
                bail!("verification failed: {}", problems.join("; "));
            }
            Ok(format!("{} units verified, {} services active", units.len(), running.len()))
        })
    }
}
