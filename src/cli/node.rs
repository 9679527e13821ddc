//! `v6deploy -i FILE node add HOST...`: bring hosts that were added to the inventory into the
//! running cluster.

use std::process::ExitCode;

use anyhow::Result;

use v6deploy::checks::Check;
use v6deploy::inventory::Loaded;
use v6deploy::workflows::Mode;
use v6deploy::workflows::node_add_run::{self, Request};

use super::run_args::RunArgs;

/// Grow a running cluster: workers, control-plane nodes or etcd members.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples (add the hosts to the inventory first):\n  v6deploy -i cluster.yaml node add 2001:db8::14 --dry-run\n  v6deploy -i cluster.yaml node add 2001:db8::14 2001:db8::15\n\nEvery host of the inventory must be reachable; an unreachable one stops node add before any change (exit 2).")]
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

/// Runs `node add` and prints the report.
pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let NodeCommand::Add(args) = &args.command;
    let request = Request { nodes: &args.nodes, mode: if args.dry_run { Mode::DryRun } else { Mode::Apply }, skip_checks: args.skip_check.clone(), templates_dir: globals.templates.as_deref() };
    let report = node_add_run::run(&args.run.remote(globals)?, &loaded.inventory, &request, &mut super::install::print_note)?;
    super::install::print_report(&report, args.dry_run, args.run.output)?;
    Ok(ExitCode::from(report.recap.exit_code()))
}
