//! Runs steps on many hosts at once: every selected host in parallel (bounded by `forks`),
//! rolling batches where a step asks for them, one gate for every remote change (so dry-run
//! is exact), progress per host, and a recap at the end.

mod connect;
mod gate;
mod host_lock;
mod interrupt;
mod progress;
mod quorum;
mod recap;
mod run;
mod snapshot;
mod step;

pub use connect::connect_all;
pub use interrupt::Interrupt;
pub use host_lock::{HostLock, HostLockError, LOCK_DIR, UNLOCK_SCRIPT, lock_hosts, lock_script};
pub use gate::{Change, ChangeKind, FollowUp, Gate};
pub use progress::Progress;
pub use quorum::{DownAtOnce, batches, quorum};
pub use recap::{HostRecap, HostStatus, Recap};
pub use run::{Connected, Runner};
pub use snapshot::{Read, Snapshot};
pub use step::{Batch, HostContext, Step, StepFuture};

/// Whether changes are made or only planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Make the changes.
    Apply,
    /// Record what would change; change nothing.
    DryRun,
}

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub mode: Mode,
    /// Hosts worked on at once (0: all).
    pub forks: usize,
    /// Stop every host when more than this share of hosts failed or was unreachable.
    pub max_fail_percent: Option<u8>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { mode: Mode::Apply, forks: 0, max_fail_percent: None }
    }
}

#[cfg(test)]
mod tests;
