//! Preflight: the verdicts of `check`, failing fast on any failed check not skipped.

use std::sync::Arc;

use anyhow::bail;

use super::InstallState;
use crate::checks::{Status, verdicts};
use crate::runner::{HostContext, Step, StepFuture};

/// The "Preflight checks" step.
pub struct Preflight {
    pub state: Arc<InstallState>,
}

impl Step for Preflight {
    fn title(&self) -> String {
        "Preflight checks".into()
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let facts = self.state.facts.lock().unwrap_or_else(|p| p.into_inner()).get(&cx.host.address).cloned();
            let Some((facts, skew)) = facts else { bail!("no facts gathered") };
            let all = verdicts(cx.inventory, cx.host, &facts, skew);
            let failed: Vec<String> = all
                .iter()
                .filter(|v| v.status == Status::Fail && !self.state.skip_checks.contains(&v.check))
                .map(|v| format!("{}: {} -> {}", v.check.name(), v.detail, v.fix.as_deref().unwrap_or("")))
                .collect();
            if !failed.is_empty() {
                bail!("preflight failed ({}); fix it, or pass --skip-check NAME if you know better", failed.join("; "));
            }
            let warnings = all.iter().filter(|v| v.status == Status::Warn).count();
            let skipped = all.iter().filter(|v| v.status == Status::Fail).count();
            Ok(format!("{} checks passed, {warnings} warnings, {skipped} skipped failures", all.len() - warnings - skipped))
        })
    }
}
