//! Command-line parsing and dispatch: one file per command.

mod inventory;
mod lab;
mod nodename;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use v6deploy::inventory::{Loaded, load};

/// Exit code for usage and inventory errors.
pub const EXIT_USAGE: u8 = 1;

/// Deploys Kubernetes and its middleware onto IPv6 single-stack hosts over SSH.
///
/// Hosts are given by IPv6 address in an inventory file (see README.md for the format);
/// every address is parsed at load time, so any textual form is accepted and the same host
/// written twice is caught.
#[derive(Debug, Parser)]
#[command(name = "v6deploy", version, about, long_about)]
pub struct Cli {
    /// Inventory file (YAML). See inventories/field-report.yaml for an example.
    #[arg(short, long, global = true, env = "V6DEPLOY_INVENTORY", value_name = "FILE")]
    pub inventory: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Encode an IPv6 address as a node name, or decode a node name (`--decode`).
    Nodename(nodename::Args),
    /// Check the inventory and show hosts, roles and derived values (service IP, DNS IP, ...).
    Inventory(inventory::Args),
    /// A local lab of IPv6-only machines to deploy to: `lab up`, `lab status`, `lab down`.
    Lab(lab::Args),
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Nodename(args) => nodename::run(args),
        Command::Inventory(args) => inventory::run(args, &load_inventory(cli.inventory.as_deref())?),
        Command::Lab(args) => lab::run(args),
    }
}

/// Loads the inventory named by `-i`, printing its warnings to stderr.
pub fn load_inventory(path: Option<&Path>) -> Result<Loaded> {
    let path = path.context("this command needs an inventory: pass -i FILE (e.g. -i inventories/field-report.yaml) or set V6DEPLOY_INVENTORY")?;
    let loaded = load(path)?;
    for warning in &loaded.warnings {
        eprintln!("{warning}");
    }
    Ok(loaded)
}
