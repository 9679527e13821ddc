//! Command-line parsing and dispatch: one file per command.

#[macro_use]
pub mod out;

mod certs;
mod extras;
mod init;
mod certs_local;
mod certs_remote;
mod certs_rotate;
mod etcd;
mod check;
mod install;
mod inventory;
mod kernel;
mod kubeconfig;
mod lab;
mod lint;
mod network;
mod node;
mod nodename;
mod push;
mod render;
mod reset;
mod unlock;
mod run_args;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use v6deploy::inventory::{Loaded, load};
use v6deploy::workflows::Recap;

use run_args::OutputFormat;

/// Deploys Kubernetes and its middleware onto IPv6 single-stack hosts over SSH.
///
/// Hosts are given by IPv6 address in an inventory file (`v6deploy init` writes a starter;
/// README.md lists every key); every address is parsed at load time, so any textual form is
/// accepted and the same host written twice is caught.
///
/// Exit codes: 0 ok, 1 usage, inventory or local error, 2 a host failed or was unreachable
/// (or a check found a problem), 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "v6deploy", version = VERSION, about, long_about)]
#[command(after_help = "Start here:\n  v6deploy init --hosts 2001:db8::11,2001:db8::12 --output cluster.yaml\n  v6deploy -i cluster.yaml inventory\n  v6deploy -i cluster.yaml check\n  v6deploy -i cluster.yaml install --dry-run\n  v6deploy -i cluster.yaml install")]
pub struct Cli {
    /// Inventory file (YAML); `v6deploy init` writes a starter.
    #[arg(short, long, global = true, env = "V6DEPLOY_INVENTORY", value_name = "FILE")]
    pub inventory: Option<PathBuf>,

    /// Directory of template overrides: a file there replaces the embedded template of the
    /// same relative name (e.g. DIR/kubelet.service.j2).
    #[arg(long, global = true, env = "V6DEPLOY_TEMPLATES", value_name = "DIR")]
    pub templates: Option<PathBuf>,

    /// More detail on stderr: -v shows what v6deploy does (reconnects, ...), -vv debug
    /// detail. RUST_LOG (e.g. RUST_LOG=v6deploy=debug,russh=info) overrides both.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// No progress on stderr: only errors, warnings and the result.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// The version with the commit it was built from (`build.rs`), e.g. "0.1.0 (a1b2c3d)".
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("V6DEPLOY_COMMIT"), ")");

/// What the global flags give every command.
#[derive(Debug, Clone, Default)]
pub struct Globals {
    /// `--templates DIR`.
    pub templates: Option<PathBuf>,
    /// `-q`: no progress.
    pub quiet: bool,
}

/// The global flags a command does nothing with: `-i` and `--templates` are accepted there
/// (scripts pass them everywhere) but not shown in its help.
#[derive(Debug, Clone, clap::Args)]
pub struct Unused {
    #[arg(short, long, hide = true, value_name = "FILE")]
    inventory: Option<PathBuf>,
    #[arg(long, hide = true, value_name = "DIR")]
    templates: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter inventory (required keys marked) to fill in.
    Init(init::Args),
    /// Check the inventory and show hosts, roles and derived values (service IP, DNS IP, ...).
    Inventory(inventory::Args),
    /// Write every host's files and the cluster manifests into a directory, for review.
    Render(render::Args),
    /// Connect to every host and report facts and preflight verdicts (changes nothing).
    Check(check::Args),
    /// Install the cluster onto the inventory's hosts (idempotent; --dry-run shows the plan).
    Install(install::Args),
    /// Grow or shrink a running cluster: `node add HOST...`, `node remove HOST...`.
    Node(node::Args),
    /// Generate, check (locally or on the hosts), export (CSR), import and rotate the cluster's certificates.
    Certs(certs::Args),
    /// Check the hosts' kernels against kernel.minimum, or upgrade them (install, boot default, reboot, verify).
    Kernel(kernel::Args),
    /// Back up etcd (a snapshot kept on this machine) or restore it on every member.
    Etcd(etcd::Args),
    /// Print a kubeconfig for a user of its own (a client certificate from the cluster's CA).
    Kubeconfig(kubeconfig::Args),
    /// Stop and remove everything v6deploy installed on the hosts (etcd's data kept unless --purge-data).
    Reset(reset::Args),
    /// Find the field report's IPv6 pitfalls in application configuration (read-only, offline).
    Lint(lint::Args),
    /// Show who holds the hosts' run locks, and release them (--yes).
    Unlock(unlock::Args),
    /// Apply the hosts' ifcfg files under a rollback timer (network.manage: true).
    Network(network::Args),
    /// Copy a local directory's files to a directory on every host (atomic, skips identical files).
    Push(push::Args),
    /// Encode an IPv6 address as a node name, or decode a node name (`--decode`).
    Nodename(nodename::Args),
    /// A local lab of IPv6-only machines to deploy to: `lab up`, `lab status`, `lab down`.
    Lab(lab::Args),
    /// Print a shell completion script: `v6deploy completions bash > /etc/bash_completion.d/v6deploy`.
    Completions(extras::CompletionsArgs),
    /// Print the manual page (roff): `v6deploy man | man -l -`.
    Man(extras::ManArgs),
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    extras::init_tracing(cli.verbose, cli.quiet);
    let globals = Globals { templates: cli.templates.clone(), quiet: cli.quiet };
    let inventory = || load_inventory(cli.inventory.as_deref());
    match &cli.command {
        Command::Init(args) => init::run(args),
        Command::Nodename(args) => nodename::run(args),
        Command::Check(args) => check::run(args, &inventory()?, &globals),
        Command::Install(args) => install::run(args, &inventory()?, &globals),
        Command::Node(args) => node::run(args, &inventory()?, &globals),
        Command::Kernel(args) => kernel::run(args, &inventory()?, &globals),
        Command::Etcd(args) => etcd::run(args, &inventory()?, &globals),
        Command::Kubeconfig(args) => kubeconfig::run(args, &inventory()?, &globals),
        Command::Network(args) => network::run(args, &inventory()?, &globals),
        Command::Reset(args) => reset::run(args, &inventory()?, &globals),
        Command::Unlock(args) => unlock::run(args, &inventory()?, &globals),
        Command::Lint(args) => lint::run(args),
        Command::Push(args) => push::run(args, &inventory()?, &globals),
        Command::Inventory(args) => inventory::run(args, &inventory()?),
        Command::Render(args) => render::run(args, &inventory()?, &globals),
        Command::Certs(args) => certs::run(args, &inventory()?, &globals),
        Command::Lab(args) => lab::run(args),
        Command::Completions(args) => extras::completions(args),
        Command::Man(args) => extras::man(args),
    }
}

/// "1 host", "2 hosts".
pub fn plural(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
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

/// Prints the recap (table, or JSON with every change) and the failure summary.
pub fn print_recap(recap: &Recap, output: OutputFormat) -> Result<()> {
    if output == OutputFormat::Json {
        out::json(recap)?;
        return Ok(());
    }
    for change in &recap.changes {
        out!("{change}");
    }
    out_raw!("{}", recap.table());
    if let Some(summary) = recap.failure_summary() {
        eprintln!("{summary}");
    }
    Ok(())
}

/// Prints a run that changes hosts (`kernel upgrade`, `network apply`): "PLAN" in a dry run,
/// the recap, then what the step titled `step` says about each host (text output only).
/// Returns the recap's exit code.
pub fn print_plan(recap: &Recap, dry_run: bool, output: OutputFormat, step: &str) -> Result<ExitCode> {
    if dry_run && output == OutputFormat::Text {
        out!("PLAN (dry-run: nothing was changed)");
    }
    print_recap(recap, output)?;
    if output == OutputFormat::Text {
        for host in &recap.hosts {
            for note in host.notes.iter().filter(|n| n.starts_with(step)) {
                out!("{}: {note}", host.host);
            }
        }
    }
    Ok(ExitCode::from(recap.exit_code()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Regression: `node add` once had two arguments named `hosts`, which clap only reports
    /// when the subcommand is parsed; check every command's definition up front.
    #[test]
    fn every_command_definition_is_valid() {
        fn check(command: &clap::Command, path: &str) {
            let mut command = command.clone();
            command.build();
            for sub in command.get_subcommands() {
                check(sub, &format!("{path} {}", sub.get_name()));
            }
        }
        check(&super::Cli::command(), "v6deploy");
    }
}
