//! The step trait: a title and `run`; optional `prepare` (which hosts need it), `batch`
//! (rolling) and `cleanup`.

use std::future::Future;
use std::pin::Pin;

use super::{FollowUp, Gate, Progress, Read, Snapshot};
use crate::facts::Ask;
use crate::inventory::{HostSpec, Inventory};
use crate::transport::files::{self, FileSpec, FileState};
use crate::transport::{Output, Transport, TransportError};

/// What a step's `run` returns: a one-line summary (e.g. "3 files in place").
pub type StepFuture<'a> = Pin<Box<dyn Future<Output = anyhow::Result<String>> + Send + 'a>>;

/// Everything a step sees for one host. The connection is not among it: a step changes the
/// host only through the gate (`files`, `command`, ...), so every change is in the recap and
/// the dry-run plan, and reads it through typed queries (`query`, `read_fresh`).
pub struct HostContext<'a> {
    pub inventory: &'a Inventory,
    pub host: &'a HostSpec,
    transport: &'a dyn Transport,
    /// Every remote change goes through here.
    pub gate: &'a Gate,
    pub progress: &'a Progress,
    /// What was read from the host at the start of the run (see `Step::reads`).
    pub snapshot: &'a Snapshot,
}

impl<'a> HostContext<'a> {
    /// The context of one step on `host`, reached through `transport`.
    pub fn new(inventory: &'a Inventory, host: &'a HostSpec, transport: &'a dyn Transport, gate: &'a Gate, progress: &'a Progress, snapshot: &'a Snapshot) -> HostContext<'a> {
        HostContext { inventory, host, transport, gate, progress, snapshot }
    }

    /// The label of this host in messages and the recap (its address).
    pub fn label(&self) -> String {
        self.host.address.to_string()
    }

    /// Puts files on this host through the gate (see `Gate::files`).
    pub async fn files(&self, specs: &[FileSpec]) -> anyhow::Result<Vec<(String, FileState)>> {
        self.gate.files(&self.label(), self.transport, specs, self.snapshot).await
    }

    /// `files`, and in the same round trip the command `then` makes of the changed paths
    /// (see `Gate::files_then`).
    pub async fn files_then(&self, specs: &[FileSpec], then: impl FnOnce(&[String]) -> Vec<FollowUp>) -> anyhow::Result<Vec<(String, FileState)>> {
        self.gate.files_then(&self.label(), self.transport, specs, self.snapshot, then).await
    }

    /// Runs a changing command on this host through the gate (see `Gate::command`).
    pub async fn command(&self, what: &str, command: &str, reason: &str) -> anyhow::Result<Option<Output>> {
        self.gate.command(&self.label(), self.transport, what, command, reason).await
    }

    /// Runs changing commands on this host in one round trip (see `Gate::commands`).
    pub async fn commands(&self, commands: &[(String, String, String)]) -> anyhow::Result<()> {
        self.gate.commands(&self.label(), self.transport, commands).await
    }

    /// Runs a check through the gate (see `Gate::check`): its output, `None` in dry-run.
    pub async fn check(&self, script: &str) -> anyhow::Result<Option<Output>> {
        self.gate.check(self.transport, script).await
    }

    /// A file's contents (`None`: no such file), from the snapshot when it was read there.
    pub async fn read_file(&self, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match self.snapshot.contents(path) {
            Some(contents) => Ok(contents),
            None => Ok(files::read_file(self.transport, path).await?),
        }
    }

    /// The answer to a query declared as `Read::query` to be read with the snapshot; read now
    /// when the snapshot has no answer (or a failed one, for a query whose exit status is not
    /// part of its answer).
    pub async fn query<T>(&self, ask: &Ask<T>) -> anyhow::Result<T> {
        match self.snapshot.query(ask.query()) {
            Some(output) if output.success() || ask.query().status_is_answer() => Ok(ask.parse(&output)?),
            _ => self.read_fresh(ask).await,
        }
    }

    /// The snapshot's answer to a query (`None`: the snapshot did not read it, or it failed
    /// and its status is not the answer); never reads the host.
    pub fn snapshot_answer<T>(&self, ask: &Ask<T>) -> Option<anyhow::Result<T>> {
        match self.snapshot.query(ask.query()) {
            Some(output) if output.success() || ask.query().status_is_answer() => Some(ask.parse(&output).map_err(anyhow::Error::from)),
            _ => None,
        }
    }

    /// The answer to a query read now, never from the snapshot (health after a restart, the
    /// kernel after a reboot, etcd's members).
    pub async fn read_fresh<T>(&self, ask: &Ask<T>) -> anyhow::Result<T> {
        let script = ask.query().script();
        let output = if ask.query().status_is_answer() { self.transport.exec(&script, &[]).await? } else { self.transport.run(&script).await? };
        Ok(ask.parse(&output)?)
    }

    /// How `specs` differ from the files on the host now, in one round trip (not from the
    /// snapshot, and not recorded in it).
    pub async fn compare_files(&self, specs: &[FileSpec]) -> anyhow::Result<Vec<FileState>> {
        Ok(files::probe(self.transport, specs).await?)
    }

    /// Drops the connection to this host and opens a new one (after a change that may have
    /// cut the old one without closing it: a new address, a reboot).
    pub async fn reconnect(&self) -> Result<(), TransportError> {
        self.transport.reconnect().await
    }

    /// A session held open on the current connection for `seconds` (it runs `sleep`): it ends
    /// early when the connection does, e.g. when the host shuts down.
    pub async fn hold_open(&self, seconds: u64) -> Result<Output, TransportError> {
        self.transport.exec(&format!("sleep {seconds}"), &[]).await
    }

    /// Reports progress for this host.
    pub fn say(&self, message: &str) {
        self.progress.host_message(&self.host.address.to_string(), message);
    }
}

/// How many hosts a step works on at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// Every selected host at once (bounded by `--forks`).
    All,
    /// At most this many at a time; the next batch starts when the previous one succeeded.
    Rolling(usize),
}

/// One step of a workflow, run on each selected host.
pub trait Step: Send + Sync {
    /// Shown in progress and the recap, e.g. "Upload etcd configuration".
    fn title(&self) -> String;

    /// Whether `host` needs this step at all (default: every host).
    fn prepare(&self, host: &HostSpec) -> bool {
        let _ = host;
        true
    }

    /// How hosts are batched (default: all at once).
    fn batch(&self) -> Batch {
        Batch::All
    }

    /// What the step will read on `host` (only asked when `prepare` chose the host). The
    /// runner reads it for every step in one round trip before the first step; the step gets
    /// it through `HostContext::files`, `read_file` and `query`.
    fn reads(&self, inv: &Inventory, host: &HostSpec) -> Vec<Read> {
        let _ = (inv, host);
        Vec::new()
    }

    /// Whether a failure on one host stops the whole run after this step (default: no, the
    /// other hosts go on). For steps whose later steps must run on every host or on none,
    /// e.g. restoring etcd members: starting some on diverging data splits the cluster.
    fn all_or_none(&self) -> bool {
        false
    }

    /// Does the step's work on one host.
    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a>;

    /// Runs once after every host finished the step (default: nothing).
    fn cleanup(&self) {}
}
