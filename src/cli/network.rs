//! `v6deploy -i FILE network apply`: each host's ifcfg file, applied under a rollback timer.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;

use v6deploy::inventory::{Loaded, NetworkManagement};
use v6deploy::render::{Templates, render};
use v6deploy::runner::Mode;
use v6deploy::steps::FactsStore;
use v6deploy::workflows::network;

use super::run_args::{OutputFormat, RunArgs};

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

pub fn run(args: &Args, loaded: &Loaded, templates_dir: Option<&std::path::Path>) -> Result<ExitCode> {
    let NetworkCommand::Apply { dry_run, run } = &args.command;
    let inv = &loaded.inventory;
    if inv.network.manage != NetworkManagement::Manage {
        bail!("network.manage is false in {}: set `network: {{manage: true}}` to let v6deploy apply ifcfg files (`v6deploy render` shows them)", inv.source.display());
    }
    let rendered = render(inv, &Templates::load(templates_dir)?)?;
    let store = FactsStore::default();
    let steps = network::steps(&store, &rendered);
    let recap = super::run_args::run_steps(inv, run, if *dry_run { Mode::DryRun } else { Mode::Apply }, &steps)?;
    if *dry_run && run.output == OutputFormat::Text {
        println!("PLAN (dry-run: nothing was changed)");
    }
    super::print_recap(&recap, run.output)?;
    if run.output == OutputFormat::Text {
        for host in &recap.hosts {
            for note in host.notes.iter().filter(|n| n.starts_with("Apply ifcfg")) {
                println!("{}: {note}", host.host);
            }
        }
    }
    Ok(ExitCode::from(recap.exit_code()))
}
