//! Push files: put a set of files on every host (one probe and at most one write round trip
//! per host), skipping those already in place.

use crate::runner::{HostContext, Step, StepFuture};
use crate::transport::files::FileSpec;

/// The "Push files" step: the same files to every host.
pub struct PushFiles {
    pub files: Vec<FileSpec>,
}

impl Step for PushFiles {
    fn title(&self) -> String {
        format!("Push {} files", self.files.len())
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let changed = cx.files(&self.files).await?;
            Ok(if changed.is_empty() { format!("{} files already in place", self.files.len()) } else { format!("{} of {} files written", changed.len(), self.files.len()) })
        })
    }
}
