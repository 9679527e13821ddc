//! Binaries: the bundle's binaries each host's roles need, to /usr/local/bin (0755), skipped
//! when the host already has the same bytes. Missing ones are staged components (the bundle
//! check before the run refused them unless `bundle.missing: stage`).

use std::sync::Arc;

use super::InstallState;
use super::service::note_pending_restarts;
use crate::bundle::Component;
use crate::inventory::{HostSpec, Role};
use crate::runner::{HostContext, Read, Step, StepFuture};

/// The "Install binaries" step.
pub struct Binaries {
    pub state: Arc<InstallState>,
}

impl Step for Binaries {
    fn title(&self) -> String {
        "Install binaries from the bundle".into()
    }

    fn reads(&self, host: &HostSpec) -> Vec<Read> {
        let components = Role::ALL.iter().filter(|r| host.has(**r)).flat_map(|r| Component::for_role(*r));
        components.filter_map(|c| self.state.binaries.get(c)).map(|spec| Read::Probe(spec.path.clone())).collect()
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let mut specs = Vec::new();
            let mut staged = Vec::new();
            for role in Role::ALL.iter().filter(|r| cx.host.has(**r)) {
                for component in Component::for_role(*role) {
                    match self.state.binaries.get(component) {
                        Some(spec) => specs.push(spec.clone()),
                        None => staged.push(component.name()),
                    }
                }
            }
            let changed: Vec<String> = cx.files(&specs).await?.into_iter().map(|(p, _)| p).collect();
            self.state.mark_changed(cx.host.address, changed.iter().cloned());
            note_pending_restarts(cx, &self.state, &changed).await?;
            let mut summary = format!("{} binaries, {} updated", specs.len(), changed.len());
            if !staged.is_empty() {
                summary.push_str(&format!("; not in bundle (staged): {}", staged.join(", ")));
            }
            Ok(summary)
        })
    }
}
