//! `v6deploy -i FILE network apply`: each host's ifcfg file, applied under a rollback timer.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use v6deploy::inventory::Loaded;
use v6deploy::workflows::{Mode, network};

use super::run_args::RunArgs;

/// The hosts' network configuration (CentOS/RHEL ifcfg files; `network.manage: true`).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: NetworkCommand,
}

#[derive(Debug, Subcommand)]
enum NetworkCommand {
    /// Write each host's /etc/sysconfig/network-scripts/ifcfg-<interface> from the inventory
    /// (keeping the host's UUID and HWADDR, dropping IPV6_ADDR_GEN_MODE=stable-privacy) and
    /// restart networking, guarded: a timer on the host restores the previous file after
    /// network.rollback_seconds unless v6deploy reconnects first. A host that cannot be
    /// reached after the change rolls back by itself and is reported "rolled back".
    Apply {
        /// Show what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        run: RunArgs,
    },
}

/// Runs `network apply` and prints its plan or recap.
pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let NetworkCommand::Apply { dry_run, run } = &args.command;
    let mode = if *dry_run { Mode::DryRun } else { Mode::Apply };
    let recap = network::apply(&run.remote(globals)?, &loaded.inventory, globals.templates.as_deref(), mode)?;
    super::print_plan(&recap, *dry_run, run.output, "Apply ifcfg")
}
