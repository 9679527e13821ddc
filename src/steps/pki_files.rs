//! PKI: each host's certificates and keys at kubeadm's paths (keys 0600; the kubernetes CA key
//! only on control-plane hosts, as `pki::host_files` decides).

use std::sync::Arc;

use super::InstallState;
use super::service::note_pending_restarts;
use crate::inventory::HostSpec;
use crate::runner::{HostContext, Read, Step, StepFuture};

/// Whether a path is PKI material.
pub fn is_pki(path: &str) -> bool {
    path.starts_with("/etc/kubernetes/pki/") || path.starts_with("/var/lib/kubelet/pki/")
}

/// The "Install certificates" step.
pub struct PkiFiles {
    pub state: Arc<InstallState>,
}

impl Step for PkiFiles {
    fn title(&self) -> String {
        "Install certificates and keys".into()
    }

    fn reads(&self, host: &HostSpec) -> Vec<Read> {
        self.state.files(host.address, is_pki).into_iter().map(|f| Read::Probe(f.path)).collect()
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let specs = self.state.files(cx.host.address, is_pki);
            let changed: Vec<String> = cx.files(&specs).await?.into_iter().map(|(p, _)| p).collect();
            self.state.mark_changed(cx.host.address, changed.iter().cloned());
            note_pending_restarts(cx, &self.state, &changed).await?;
            Ok(format!("{} files, {} changed", specs.len(), changed.len()))
        })
    }
}
