//! Options shared by commands that work on hosts, and the glue that connects and runs steps.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Result;

use v6deploy::inventory::{HostSpec, Inventory};
use v6deploy::runner::{Connected, Mode, Progress, Recap, RunOptions, Runner, Step, connect_all};
use v6deploy::transport::{Transport, TransportError};

/// How output is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Tables for people.
    Text,
    /// One JSON document on stdout, for machines.
    Json,
}

/// Options of every command that works on hosts.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Hosts worked on at once (default: all).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub forks: usize,
    /// Stop every host once more than this percentage of hosts failed or was unreachable
    /// (default: never; the others always finish).
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_fail_percent: Option<u8>,
    /// Seconds to wait for a host's SSH to answer.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub connect_timeout: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Only these hosts (addresses in any textual form, or node names).
    #[arg(long, value_delimiter = ',', value_name = "HOST,...")]
    pub hosts: Vec<String>,
}

impl RunArgs {
    /// The inventory hosts selected by `--hosts` (all when not given).
    pub fn select(&self, inv: &Inventory) -> Result<Vec<HostSpec>> {
        if self.hosts.is_empty() {
            return Ok(inv.hosts.clone());
        }
        self.hosts
            .iter()
            .map(|wanted| {
                let address = wanted.parse::<std::net::Ipv6Addr>().ok();
                inv.hosts
                    .iter()
                    .find(|h| Some(h.address) == address || h.name.as_str() == wanted)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("--hosts {wanted}: not in the inventory {}", inv.source.display()))
            })
            .collect()
    }
}

/// Connects to the selected hosts and runs `steps`; Ctrl-C stops before the next step.
pub fn run_steps(inv: &Inventory, args: &RunArgs, mode: Mode, steps: &[Box<dyn Step>]) -> Result<Recap> {
    let hosts = args.select(inv)?;
    let runtime = runtime()?;
    runtime.block_on(async {
        let progress = if args.output == OutputFormat::Json { Progress::Silent } else { Progress::auto() };
        let options = RunOptions { mode, forks: args.forks, max_fail_percent: args.max_fail_percent };
        let runner = Runner::new(inv, options, progress);
        let cancel = runner.cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("interrupted: finishing the current step, then stopping");
                cancel.store(true, Ordering::SeqCst);
            }
        });
        runner.progress.run_message(&format!("connecting to {} hosts over SSH", hosts.len()));
        let connected = connect_reusing(inv, &hosts, Duration::from_secs(args.connect_timeout)).await?;
        Ok(runner.run(connected, steps).await)
    })
}

/// One runtime for the whole process, so that connections outlive a run: `install` and `node
/// add` read the membership markers in a run of their own before the real run, and would
/// otherwise connect to every host twice (at 50 hosts, a second of SSH handshakes).
fn runtime() -> Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(runtime) = RUNTIME.get() {
        return Ok(runtime);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    Ok(RUNTIME.get_or_init(|| runtime))
}

/// A connection is reused for the same address, port, user, key and known_hosts file.
type SessionKey = (std::net::Ipv6Addr, u16, String, std::path::PathBuf, std::path::PathBuf);

/// The connections opened by earlier runs of this process (a lost one reconnects by itself).
type Sessions = Mutex<Vec<(SessionKey, Arc<dyn Transport>)>>;

fn sessions() -> &'static Sessions {
    static SESSIONS: OnceLock<Sessions> = OnceLock::new();
    SESSIONS.get_or_init(Mutex::default)
}

/// `connect_all`, reusing the connections earlier runs of this process opened.
async fn connect_reusing(inv: &Inventory, hosts: &[HostSpec], timeout: Duration) -> Result<Vec<Connected>, TransportError> {
    let key = |h: &HostSpec| (h.address, inv.ssh.port, inv.ssh.user.clone(), inv.ssh.private_key.clone(), inv.ssh.known_hosts.clone());
    let cached = |h: &HostSpec| {
        let sessions = sessions().lock().unwrap_or_else(|p| p.into_inner());
        sessions.iter().find(|(k, _)| *k == key(h)).map(|(_, t)| Arc::clone(t))
    };
    let fresh: Vec<HostSpec> = hosts.iter().filter(|h| cached(h).is_none()).cloned().collect();
    let mut opened = connect_all(inv, &fresh, timeout).await?.into_iter();
    let mut connected = Vec::with_capacity(hosts.len());
    for host in hosts {
        if let Some(transport) = cached(host) {
            connected.push(Connected { host: host.clone(), transport: Ok(transport) });
            continue;
        }
        let Some(new) = opened.next() else { break };
        if let Ok(transport) = &new.transport {
            sessions().lock().unwrap_or_else(|p| p.into_inner()).push((key(host), Arc::clone(transport)));
        }
        connected.push(new);
    }
    Ok(connected)
}
