//! How a command reaches its hosts: one tokio runtime and one SSH connection per host for the
//! whole command, passed to every workflow explicitly (no process-wide state).
//!
//! `install` and `node add` read the membership markers in a run of their own before the
//! real run; reusing the connections spares a second SSH handshake per host (at 50 hosts, a
//! second).

use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;

use crate::inventory::{HostSpec, Inventory, Route};
use crate::runner::{Connected, HostLock, HostLockError, Interrupt, Mode, Progress, Recap, RunOptions, Runner, Step, connect_all, lock_hosts};
use crate::transport::{Transport, TransportError};

/// Whether a run shows progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Spinners on a terminal, lines otherwise.
    Progress,
    /// Nothing (`--output json`).
    Silent,
}

/// How a command works on hosts (the `RunArgs` of the command line).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Hosts worked on at once (0: all).
    pub forks: usize,
    /// Stop every host once more than this percentage of hosts failed or was unreachable.
    pub max_fail_percent: Option<u8>,
    /// How long to wait for a host's SSH to answer.
    pub connect_timeout: Duration,
    /// Whether runs show progress.
    pub feedback: Feedback,
    /// Only these hosts (addresses in any textual form, or node names); empty: all.
    pub hosts: Vec<String>,
}

/// A connection is reused for the same route (address, port, user, bastion), key and
/// known_hosts file.
type SessionKey = (Route, PathBuf, PathBuf);

/// The runtime and connections of one command; every run of the command goes through it.
pub struct Remote {
    /// What the command line asked for.
    pub settings: Settings,
    /// The connections opened so far (a lost one reconnects by itself).
    sessions: Mutex<Vec<(SessionKey, Arc<dyn Transport>)>>,
    /// The hosts locked by this command (`runner::lock_hosts`), held until it ends.
    locks: Mutex<Vec<HostLock>>,
    /// Set by the first Ctrl-C (a second one exits 130 at once).
    interrupt: Interrupt,
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Remote {
    /// A runtime and no connection yet.
    pub fn new(settings: Settings) -> Result<Remote> {
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
        let interrupt = Interrupt::default();
        runtime.spawn(listen_for_ctrl_c(interrupt.clone()));
        Ok(Remote { settings, sessions: Mutex::default(), locks: Mutex::default(), interrupt, runtime: Some(runtime) })
    }

    /// The inventory hosts selected by `--hosts` (all when not given).
    pub fn select(&self, inv: &Inventory) -> Result<Vec<HostSpec>> {
        select(inv, &self.settings.hosts)
    }

    /// Connects to the selected hosts and runs `steps`; Ctrl-C stops before the next step.
    pub fn run_steps(&self, inv: &Inventory, mode: Mode, steps: &[Box<dyn Step>]) -> Result<Recap> {
        self.run_on(inv, &self.select(inv)?, self.settings.feedback, mode, steps, Lock::Take)
    }

    /// Runs `steps` on every host of `inv`, whatever `--hosts` says.
    pub fn run_steps_on_all(&self, inv: &Inventory, feedback: Feedback, mode: Mode, steps: &[Box<dyn Step>]) -> Result<Recap> {
        self.run_on(inv, &inv.hosts, feedback, mode, steps, Lock::Take)
    }

    /// [`Remote::run_steps`] without taking the hosts' run lock: for `unlock` only, whose
    /// work is that lock.
    pub fn run_steps_without_lock(&self, inv: &Inventory, mode: Mode, steps: &[Box<dyn Step>]) -> Result<Recap> {
        self.run_on(inv, &self.select(inv)?, self.settings.feedback, mode, steps, Lock::Leave)
    }

    fn run_on(&self, inv: &Inventory, hosts: &[HostSpec], feedback: Feedback, mode: Mode, steps: &[Box<dyn Step>], lock: Lock) -> Result<Recap> {
        self.block_on(async {
            let progress = match feedback {
                Feedback::Progress => Progress::auto(),
                Feedback::Silent => Progress::Silent,
            };
            let options = RunOptions { mode, forks: self.settings.forks, max_fail_percent: self.settings.max_fail_percent };
            let mut runner = Runner::new(inv, options, progress);
            runner.cancel = self.interrupt.clone();
            let labels: Vec<String> = hosts.iter().map(|h| h.address.to_string()).collect();
            runner.progress.hosts(labels.iter().map(String::as_str));
            let seconds = self.settings.connect_timeout.as_secs();
            for (label, host) in labels.iter().zip(hosts) {
                runner.progress.host_message(label, &format!("connecting over SSH ({}, up to {seconds} s)", inv.route(host)));
            }
            let connected = tokio::select! {
                connected = self.connect(inv, hosts) => connected?,
                () = self.interrupt.wait() => {
                    runner.progress.finish();
                    return Err(anyhow::Error::new(crate::exit::Interrupted("while connecting; nothing was changed")));
                }
            };
            if mode == Mode::Apply && lock == Lock::Take {
                self.lock(&connected).await?;
            }
            Ok(runner.run(connected, steps).await)
        })
    }

    /// Locks the reachable hosts not locked yet by this command, for the rest of it; refuses
    /// when another run holds one of them (a dry run changes nothing and takes no lock).
    async fn lock(&self, connected: &[Connected]) -> Result<(), HostLockError> {
        let locked: Vec<String> = self.locks.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|l| l.host.clone()).collect();
        let transports: Vec<Arc<dyn Transport>> = connected.iter().filter_map(|c| c.transport.as_ref().ok()).filter(|t| !locked.iter().any(|l| l == t.label())).cloned().collect();
        if transports.is_empty() {
            return Ok(());
        }
        let (locks, outcome) = lock_hosts(&transports, &crate::localfs::lock_owner()).await;
        self.locks.lock().unwrap_or_else(|p| p.into_inner()).extend(locks);
        outcome
    }

    /// Runs `future` on the command's runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        // Invariant: `runtime` is only taken in `drop`.
        self.runtime.as_ref().expect("the runtime lives until the Remote is dropped").block_on(future)
    }

    /// `connect_all`, reusing the connections earlier runs of this command opened.
    pub(crate) async fn connect(&self, inv: &Inventory, hosts: &[HostSpec]) -> Result<Vec<Connected>, TransportError> {
        let key = |h: &HostSpec| (inv.route(h), inv.ssh.private_key.clone(), inv.ssh.known_hosts.clone());
        let cached = |h: &HostSpec| {
            let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
            sessions.iter().find(|(k, _)| *k == key(h)).map(|(_, t)| Arc::clone(t))
        };
        let fresh: Vec<HostSpec> = hosts.iter().filter(|h| cached(h).is_none()).cloned().collect();
        let opened = if fresh.is_empty() { Vec::new() } else { connect_all(inv, &fresh, self.settings.connect_timeout).await? };
        let mut opened = opened.into_iter();
        let mut connected = Vec::with_capacity(hosts.len());
        for host in hosts {
            if let Some(transport) = cached(host) {
                connected.push(Connected { host: host.clone(), transport: Ok(transport) });
                continue;
            }
            let Some(new) = opened.next() else { break };
            if let Ok(transport) = &new.transport {
                self.sessions.lock().unwrap_or_else(|p| p.into_inner()).push((key(host), Arc::clone(transport)));
            }
            connected.push(new);
        }
        Ok(connected)
    }
}

impl Drop for Remote {
    /// Closes the connections inside the runtime, then lets the runtime go without waiting for
    /// its tasks (the Ctrl-C listeners never end), as a process exit would.
    fn drop(&mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        {
            let _inside = runtime.enter();
            self.locks.get_mut().unwrap_or_else(|p| p.into_inner()).clear();
            self.sessions.get_mut().unwrap_or_else(|p| p.into_inner()).clear();
        }
        runtime.shutdown_background();
    }
}

/// The first Ctrl-C interrupts the command's runs (pending connections and waits are
/// abandoned, no further step starts, the recap says "interrupted", exit 130); the second
/// exits 130 at once.
async fn listen_for_ctrl_c(interrupt: Interrupt) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    eprintln!("interrupted: stopping (pending connections and waits are abandoned, no further step starts); press Ctrl-C again to exit at once");
    interrupt.trigger();
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("interrupted again: exiting now");
        std::process::exit(i32::from(crate::exit::INTERRUPTED));
    }
}

/// The hosts of `inv` named in `wanted` (addresses in any textual form, or node names); all of
/// them when `wanted` is empty.
pub fn select(inv: &Inventory, wanted: &[String]) -> Result<Vec<HostSpec>> {
    if wanted.is_empty() {
        return Ok(inv.hosts.clone());
    }
    wanted
        .iter()
        .map(|wanted| {
            let address = wanted.parse::<Ipv6Addr>().ok();
            inv.hosts
                .iter()
                .find(|h| Some(h.address) == address || h.name.as_str() == wanted)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("--hosts {wanted}: not in the inventory {}", inv.source.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{HostContext, HostStatus, StepFuture};
    use crate::transport::fake::FakeTransport;

    /// Runs one command on each host.
    struct Probe;

    impl Step for Probe {
        fn title(&self) -> String {
            "probe".into()
        }
        fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
            Box::pin(async move {
                cx.command("probe", "echo probe", "test").await?;
                Ok("probed".into())
            })
        }
    }

    fn remote(hosts: &[&str]) -> Remote {
        let settings = Settings { forks: 0, max_fail_percent: None, connect_timeout: Duration::from_secs(1), feedback: Feedback::Silent, hosts: hosts.iter().map(ToString::to_string).collect() };
        Remote::new(settings).unwrap()
    }

    /// Connections opened by one run are used by the next (`install` reads the membership
    /// markers, then installs, over the same connection).
    #[test]
    fn the_second_run_reuses_the_connections_of_the_first() {
        let inv = crate::inventory::field_report();
        let remote = remote(&[]);
        let fakes: Vec<Arc<FakeTransport>> = inv.hosts.iter().map(|h| Arc::new(FakeTransport::new(&h.address.to_string()).always("echo probe", "").expect("flock -n 9", "v6deploy-locked\n"))).collect();
        for (host, fake) in inv.hosts.iter().zip(&fakes) {
            let key = (inv.route(host), inv.ssh.private_key.clone(), inv.ssh.known_hosts.clone());
            remote.sessions.lock().unwrap().push((key, fake.clone() as Arc<dyn Transport>));
        }
        for _ in 0..2 {
            let recap = remote.run_steps_on_all(&inv, Feedback::Silent, Mode::Apply, &[Box::new(Probe)]).unwrap();
            assert!(recap.hosts.iter().all(|h| h.status == HostStatus::Changed), "{:?}", recap.hosts);
        }
        for fake in &fakes {
            fake.verify();
            assert_eq!(fake.log().iter().filter(|c| c.contains("echo probe")).count(), 2, "{:?}", fake.log());
        }
    }

    /// Regression: nothing stopped two runs against the same hosts. A run whose host is locked
    /// by another refuses before any step, naming the holder; a dry run takes no lock.
    #[test]
    fn a_run_refuses_a_host_locked_by_another_run() {
        let inv = crate::inventory::field_report();
        let remote = remote(&[]);
        for (i, host) in inv.hosts.iter().enumerate() {
            let answer = if i == 1 { "v6deploy-busy\n4242@laptop (v6deploy install) since 20250101T000000Z\n" } else { "v6deploy-locked\n" };
            let fake = Arc::new(FakeTransport::new(&host.address.to_string()).expect("flock -n 9", answer).always("echo probe", ""));
            let key = (inv.route(host), inv.ssh.private_key.clone(), inv.ssh.known_hosts.clone());
            remote.sessions.lock().unwrap().push((key, fake as Arc<dyn Transport>));
        }
        let dry = remote.run_steps_on_all(&inv, Feedback::Silent, Mode::DryRun, &[Box::new(Probe)]);
        assert!(dry.is_ok(), "a dry run takes no lock");
        let error = format!("{:#}", remote.run_steps_on_all(&inv, Feedback::Silent, Mode::Apply, &[Box::new(Probe)]).unwrap_err());
        assert!(error.contains(&format!("{} (locked by 4242@laptop (v6deploy install) since 20250101T000000Z)", inv.hosts[1].address)), "{error}");
    }

    #[test]
    fn hosts_are_selected_by_address_in_any_form_or_by_node_name() {
        let inv = crate::inventory::field_report();
        let name = inv.hosts[2].name.to_string();
        let selected = remote(&["2002:db8:0:1:0:0:0:101", &name]).select(&inv).unwrap();
        assert_eq!(selected.iter().map(|h| h.address).collect::<Vec<_>>(), vec![inv.hosts[0].address, inv.hosts[2].address]);
        assert_eq!(remote(&[]).select(&inv).unwrap().len(), inv.hosts.len());
        let error = remote(&["2001:db8::9"]).select(&inv).unwrap_err().to_string();
        assert!(error.starts_with("--hosts 2001:db8::9: not in the inventory"), "{error}");
    }
}

/// Whether a run takes the hosts' run lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lock {
    Take,
    Leave,
}
