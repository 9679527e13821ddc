//! `v6deploy -i FILE node add HOST...`: bring hosts that were added to the inventory into the
//! running cluster; `node remove HOST...`: take hosts out of it.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};

use v6deploy::checks::Check;
use v6deploy::inventory::Loaded;
use v6deploy::workflows::Mode;
use v6deploy::workflows::node_add_run::{self, Request};
use v6deploy::workflows::node_remove_run::{self, Prepared};

use super::run_args::{OutputFormat, RunArgs};

/// Grow or shrink a running cluster: workers, control-plane nodes or etcd members.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples (add the hosts to the inventory first; remove them from it last):\n  v6deploy -i cluster.yaml node add 2001:db8::14 --dry-run\n  v6deploy -i cluster.yaml node add 2001:db8::14 2001:db8::15\n  v6deploy -i cluster.yaml node remove 2001:db8::15 --dry-run\n  v6deploy -i cluster.yaml node remove 2001:db8::15 --yes\n\nEvery host of the inventory must be reachable; an unreachable one stops node add and node remove before any change (exit 2).")]
pub struct Args {
    #[command(subcommand)]
    command: NodeCommand,
}

#[derive(Debug, clap::Subcommand)]
enum NodeCommand {
    /// Add hosts that are in the inventory but not yet in the cluster (the hosts say which
    /// they are: /etc/v6deploy/member). The CA is reused; only the new nodes' certificates
    /// are issued (and the apiserver's, when a control-plane node is added). etcd members are
    /// added one at a time (member add, start with initial-cluster-state existing, healthy and
    /// caught up before the next); a member that does not come up is removed again.
    /// Existing hosts only get what must change (e.g. /etc/hosts); nothing else restarts.
    Add(AddArgs),
    /// Take hosts out of the running cluster; they must still be listed in the inventory (their
    /// address and SSH access are needed). In order: each node cordoned and drained through
    /// the API server (every pod evicted but DaemonSets', up to --drain-timeout), its etcd
    /// member removed (`etcdctl member remove`, while it still runs), its services stopped and
    /// disabled, their units removed, its etcd data dir moved aside
    /// (/var/lib/etcd.removed-<UTC time>) and its /etc/v6deploy/member marker removed, then its
    /// Node object deleted; the staying hosts are then brought in line as `install` would with
    /// the host gone (/etc/hosts, the API servers' etcd list and certificate, the host routes).
    /// Refused before any change when it would leave no control-plane host or etcd member, or
    /// when etcd would lose its quorum of healthy members (each member's `endpoint health` is
    /// read first). Binaries, configuration and certificates stay on the removed host.
    ///
    /// Afterwards delete the hosts from the inventory: while they are listed but not members,
    /// `install` refuses to run (it says to use `node add`), and `node add HOST` brings a host
    /// back. Running node remove again for a removed host only brings the staying hosts in line.
    Remove(RemoveArgs),
}

#[derive(Debug, clap::Args)]
struct RemoveArgs {
    /// The hosts to remove: addresses (any textual form) or node names from the inventory.
    #[arg(required = true, value_name = "HOST")]
    nodes: Vec<String>,
    /// Show the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not ask for confirmation (needed when stdin is not a terminal).
    #[arg(long)]
    yes: bool,
    /// Seconds draining one node may take before node remove stops (the node stays cordoned).
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    drain_timeout: u64,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, clap::Args)]
struct AddArgs {
    /// The hosts to add: addresses (any textual form) or node names from the inventory.
    #[arg(required = true, value_name = "HOST")]
    nodes: Vec<String>,
    /// Show the plan; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not stop on these failed preflight checks (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "CHECK,...")]
    skip_check: Vec<Check>,
    #[command(flatten)]
    run: RunArgs,
}

/// Runs `node add` or `node remove` and prints the report.
pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    match &args.command {
        NodeCommand::Add(args) => add(args, loaded, globals),
        NodeCommand::Remove(args) => remove(args, loaded, globals),
    }
}

fn add(args: &AddArgs, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let request = Request { nodes: &args.nodes, mode: if args.dry_run { Mode::DryRun } else { Mode::Apply }, skip_checks: args.skip_check.clone(), templates_dir: globals.templates.as_deref() };
    let report = node_add_run::run(&args.run.remote(globals)?, &loaded.inventory, &request, &mut super::install::print_note)?;
    super::install::print_report(&report, args.dry_run, args.run.output)?;
    Ok(ExitCode::from(report.recap.exit_code()))
}

fn remove(args: &RemoveArgs, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let request = node_remove_run::Request {
        nodes: &args.nodes,
        mode: if args.dry_run { Mode::DryRun } else { Mode::Apply },
        drain_timeout: Duration::from_secs(args.drain_timeout),
        templates_dir: globals.templates.as_deref(),
    };
    let remote = args.run.remote(globals)?;
    let prepared = node_remove_run::prepare(&remote, &loaded.inventory, &request)?;
    if !args.dry_run && !args.yes {
        confirm(&prepared)?;
    }
    let report = node_remove_run::run(&remote, &prepared, &request, &mut super::install::print_note)?;
    let removed: Vec<String> = prepared.shrink.leaving.iter().map(|h| h.address.to_string()).collect();
    if args.run.output == OutputFormat::Json {
        super::out::json(&serde_json::json!({"recap": report.recap, "components": report.outcomes, "removed": removed}))?;
    } else {
        super::install::print_report(&report, args.dry_run, args.run.output)?;
        if report.recap.succeeded() && !args.dry_run {
            let file = loaded.inventory.source.display();
            out!();
            out!("removed from cluster {}: {}", loaded.inventory.cluster.name, removed.join(", "));
            out!("Now delete {} from hosts: in {file}: while listed there, `install` refuses to run; `v6deploy -i {file} node add {}` brings them back.", removed.join(", "), removed.join(" "));
        }
    }
    Ok(ExitCode::from(report.recap.exit_code()))
}

/// Asks on the terminal before a removal; refuses without a terminal (--yes is needed then).
fn confirm(prepared: &Prepared) -> Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("node remove is destructive and stdin is not a terminal to confirm it on: add --yes (or --dry-run to see the plan); nothing was changed");
    }
    eprintln!("{}", prepared.describe());
    eprint!("Remove them? Type yes to go on: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("not confirmed: nothing was changed");
    }
    Ok(())
}
