//! The runner: steps in order, hosts in parallel.

use std::sync::Arc;

use futures::StreamExt;
use tracing::Instrument as _;

use super::recap::{HostRecap, HostStatus, Recap};
use super::step::{Batch, HostContext, Step};
use super::quorum::{DownAtOnce, batches};
use super::{Gate, Interrupt, Progress, Read, RunOptions, Snapshot};
use crate::inventory::{HostSpec, Inventory};
use crate::transport::{Transport, TransportError};

/// A host and its connection, or why it could not be reached.
pub struct Connected {
    pub host: HostSpec,
    pub transport: Result<Arc<dyn Transport>, TransportError>,
}

/// Runs steps on hosts.
pub struct Runner<'a> {
    pub inventory: &'a Inventory,
    pub options: RunOptions,
    pub progress: Progress,
    pub gate: Gate,
    /// Set by Ctrl-C: stop before the next step, abandon what is in flight.
    pub cancel: Interrupt,
}

struct HostRun {
    host: HostSpec,
    transport: Option<Arc<dyn Transport>>,
    status: HostStatus,
    steps_done: usize,
    error: Option<String>,
    notes: Vec<String>,
    snapshot: Snapshot,
}

impl<'a> Runner<'a> {
    pub fn new(inventory: &'a Inventory, options: RunOptions, progress: Progress) -> Runner<'a> {
        let gate = Gate::new(options.mode);
        Runner { inventory, options, progress, gate, cancel: Interrupt::default() }
    }

    /// Runs `steps` in order on every reachable host and returns the recap.
    pub async fn run(&self, hosts: Vec<Connected>, steps: &[Box<dyn Step>]) -> Recap {
        let mut runs: Vec<HostRun> = hosts.into_iter().map(start).collect();
        self.progress.hosts(runs.iter().map(|r| host_label(&r.host)).collect::<Vec<_>>().iter().map(String::as_str));
        for r in runs.iter().filter(|r| r.status == HostStatus::Unreachable) {
            self.progress.host_message(&host_label(&r.host), &format!("unreachable: {}", r.error.as_deref().unwrap_or("")));
        }
        let mut ran = Vec::new();
        let started = std::time::Instant::now();
        if self.read_hosts(&mut runs, steps).await {
            ran.push(("Read hosts".to_string(), started.elapsed().as_millis() as u64));
        }
        let mut stopped = self.too_many_failures(&runs);
        if stopped.is_none() && !runs.is_empty() && runs.iter().all(|r| r.transport.is_none()) {
            stopped = Some(format!("no host is reachable (of {})", plural(runs.len(), "host")));
        }
        for step in steps {
            if stopped.is_some() {
                break;
            }
            if self.cancel.is_set() {
                stopped = Some(format!("interrupted before step \"{}\"", step.title()));
                break;
            }
            let title = step.title();
            let started = std::time::Instant::now();
            self.gate.set_step(&title);
            self.progress.run_message(&format!("== {title}"));
            let selected: Vec<usize> = (0..runs.len()).filter(|&i| runs[i].transport.is_some() && runs[i].status != HostStatus::Failed && step.prepare(&runs[i].host)).collect();
            // Rolling batches never hold more etcd members or control-plane hosts than quorum
            // allows down at once, whatever size the step asks for.
            let batches = match step.batch() {
                Batch::All => vec![selected.clone()],
                Batch::Rolling(n) => {
                    let hosts: Vec<&HostSpec> = runs.iter().map(|r| &r.host).collect();
                    batches(&hosts, &selected, n, DownAtOnce::of(self.inventory))
                }
            };
            for batch in &batches {
                let results = self.run_batch(step.as_ref(), batch, &runs).await;
                let mut batch_failed = false;
                for (i, result) in batch.iter().zip(results) {
                    let run = &mut runs[*i];
                    let label = host_label(&run.host);
                    match result {
                        Ok(summary) => {
                            run.steps_done += 1;
                            self.progress.host_message(&label, &format!("{title}: {summary}"));
                            run.notes.push(format!("{title}: {summary}"));
                        }
                        Err(error) => {
                            batch_failed = true;
                            run.status = if is_unreachable(&error) { HostStatus::Unreachable } else { HostStatus::Failed };
                            let message = format!("{title}: {}", without_host(&label, &format!("{error:#}")));
                            self.progress.host_message(&label, &format!("FAILED {message}"));
                            run.error = Some(message);
                            if run.status == HostStatus::Unreachable {
                                run.transport = None;
                            }
                        }
                    }
                }
                if batch_failed && matches!(step.batch(), Batch::Rolling(_)) {
                    stopped = Some(format!("step \"{title}\" failed during a rolling batch; later hosts were not touched"));
                    break;
                }
                if batch_failed && step.all_or_none() {
                    stopped = Some(format!("step \"{title}\" failed on a host, and its later steps run on every host or on none: no later step ran"));
                }
            }
            step.cleanup();
            ran.push((title, started.elapsed().as_millis() as u64));
            stopped = stopped.or_else(|| self.too_many_failures(&runs));
        }
        self.progress.finish();
        self.recap(runs, ran, steps.len(), stopped)
    }

    async fn run_batch(&self, step: &dyn Step, batch: &[usize], runs: &[HostRun]) -> Vec<anyhow::Result<String>> {
        let forks = if self.options.forks == 0 { batch.len().max(1) } else { self.options.forks };
        let futures = batch.iter().map(|&i| {
            let run = &runs[i];
            async move {
                let Some(transport) = run.transport.as_deref() else {
                    return Err(anyhow::anyhow!("no connection"));
                };
                let cx = HostContext::new(self.inventory, &run.host, transport, &self.gate, &self.progress, &run.snapshot);
                let span = tracing::info_span!("host", host = %host_label(&run.host));
                tokio::select! {
                    result = step.run(&cx).instrument(span) => result,
                    () = self.cancel.wait() => Err(anyhow::Error::new(crate::exit::Interrupted("(the step was abandoned)"))),
                }
            }
        });
        futures::stream::iter(futures).buffered(forks).collect().await
    }

    /// Takes every host's snapshot of what the steps will read (one round trip per host, all
    /// hosts at once); returns whether any step declared a read. A snapshot that fails is
    /// left empty: the steps then read for themselves and meet the problem there.
    async fn read_hosts(&self, runs: &mut [HostRun], steps: &[Box<dyn Step>]) -> bool {
        let reads: Vec<Vec<Read>> = runs.iter().map(|r| steps.iter().filter(|s| s.prepare(&r.host)).flat_map(|s| s.reads(self.inventory, &r.host)).collect()).collect();
        if reads.iter().all(Vec::is_empty) {
            return false;
        }
        self.progress.run_message("== Read hosts");
        let forks = if self.options.forks == 0 { runs.len().max(1) } else { self.options.forks };
        let taking = runs.iter().zip(&reads).map(|(run, reads)| async move {
            match run.transport.as_deref() {
                Some(transport) => Snapshot::take(transport, reads).await.unwrap_or_else(|error| {
                    tracing::debug!(host = %transport.label(), %error, "snapshot not taken");
                    Snapshot::default()
                }),
                None => Snapshot::default(),
            }
        });
        let taken: Vec<Snapshot> = futures::stream::iter(taking).buffered(forks).collect().await;
        for (run, snapshot) in runs.iter_mut().zip(taken) {
            run.snapshot = snapshot;
        }
        true
    }

    fn too_many_failures(&self, runs: &[HostRun]) -> Option<String> {
        let limit = self.options.max_fail_percent?;
        let bad = runs.iter().filter(|r| matches!(r.status, HostStatus::Failed | HostStatus::Unreachable)).count();
        let percent = bad * 100 / runs.len().max(1);
        (percent > usize::from(limit)).then(|| format!("{bad} of {} hosts failed or unreachable ({percent}%), above --max-fail-percent {limit}", runs.len()))
    }

    fn recap(&self, runs: Vec<HostRun>, ran: Vec<(String, u64)>, total_steps: usize, stopped: Option<String>) -> Recap {
        let hosts = runs
            .into_iter()
            .map(|r| {
                let label = host_label(&r.host);
                let changes = self.gate.changes_for(&label);
                let status = match r.status {
                    HostStatus::Ok if stopped.is_some() && r.steps_done < total_steps => HostStatus::Skipped,
                    HostStatus::Ok if changes > 0 => HostStatus::Changed,
                    other => other,
                };
                let route = self.inventory.route(&r.host);
                HostRecap { host: label, name: r.host.name.to_string(), route: route.to_string(), via: route.via(), status, steps_done: r.steps_done, changes, error: r.error, notes: r.notes }
            })
            .collect();
        let (steps, step_ms) = ran.into_iter().unzip();
        Recap { hosts, steps, step_ms, stopped, interrupted: self.cancel.is_set(), changes: self.gate.changes() }
    }
}

fn start(c: Connected) -> HostRun {
    let (transport, status, error) = match c.transport {
        Ok(t) => (Some(t), HostStatus::Ok, None),
        Err(e) => (None, HostStatus::Unreachable, Some(without_host(&host_label(&c.host), &format!("{:#}", anyhow::Error::from(e))))),
    };
    HostRun { host: c.host, transport, status, steps_done: 0, error, notes: Vec::new(), snapshot: Snapshot::default() }
}

/// `text` without a leading "HOST: " (transport errors name their host; every line that
/// shows them already starts with it).
fn without_host(label: &str, text: &str) -> String {
    text.strip_prefix(label).and_then(|rest| rest.strip_prefix(": ")).unwrap_or(text).to_string()
}

/// "1 host", "2 hosts".
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

/// The label every per-host line starts with: the host's address.
pub fn host_label(host: &HostSpec) -> String {
    host.address.to_string()
}

fn is_unreachable(error: &anyhow::Error) -> bool {
    error.chain().any(|e| e.downcast_ref::<TransportError>().is_some_and(TransportError::is_unreachable))
}
