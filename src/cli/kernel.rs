//! `v6deploy -i FILE kernel check|upgrade`: the hosts' kernels against `kernel.minimum`, and
//! the upgrade (install, boot default, reboot, verify), one host at a time by default.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Subcommand;

use v6deploy::exit;
use v6deploy::facts::Facts;
use v6deploy::inventory::{Inventory, Loaded};
use v6deploy::workflows::gather::{Addons, gather};
use v6deploy::workflows::kernel::{self, Offer, Options, Plan, plan};
use v6deploy::workflows::{HostStatus, Mode};

use super::run_args::{OutputFormat, RunArgs};

/// The hosts' kernels: check them against `kernel.minimum`, or upgrade the ones below it.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy -i inventories/field-report.yaml kernel check\n  v6deploy -i inventories/field-report.yaml kernel upgrade --dry-run\n  v6deploy -i inventories/field-report.yaml kernel upgrade --hosts 2002:db8:0:1::101")]
pub struct Args {
    #[command(subcommand)]
    command: KernelCommand,
}

#[derive(Debug, Subcommand)]
enum KernelCommand {
    /// Show each host's distribution, running kernel, installed kernels and boot default, and
    /// whether it is at or above kernel.minimum (exit 2 when one is below). Changes nothing.
    Check {
        #[command(flatten)]
        run: RunArgs,
    },
    /// Upgrade the hosts below kernel.minimum: install the kernel (the bundle's rpms/, or
    /// kernel.package from a repository), make it GRUB's default, reboot, wait for the host
    /// and check `uname -r`. Hosts at or above the minimum are skipped with the reason; a
    /// failed host stops the rollout.
    Upgrade {
        /// Show what would be done; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        upgrade: UpgradeArgs,
        #[command(flatten)]
        run: RunArgs,
    },
}

/// How hosts are upgraded (shared with `install --upgrade-kernel`).
#[derive(Debug, Clone, clap::Args)]
pub struct UpgradeArgs {
    /// Hosts upgraded (and rebooted) at once; a batch never holds every control-plane host
    /// nor more than (members - 1) / 2 etcd members, whatever N is.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub parallel: usize,
    /// Seconds a host may take to go down and come back after the reboot.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub reboot_timeout: u64,
}

impl UpgradeArgs {
    /// The upgrade's options.
    pub fn options(&self) -> Options {
        Options { parallel: self.parallel, reboot_timeout: Duration::from_secs(self.reboot_timeout) }
    }
}

/// Runs `kernel check` or `kernel upgrade` and prints the report.
pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    match &args.command {
        KernelCommand::Check { run } => check(run, &loaded.inventory, globals),
        KernelCommand::Upgrade { dry_run, upgrade, run } => upgrade_hosts(*dry_run, upgrade, run, &loaded.inventory, globals),
    }
}

/// One line about what the upgrade would do for a host.
fn verdict(inv: &Inventory, facts: &Facts, offer: &Offer) -> (bool, String) {
    let minimum = inv.kernel.minimum;
    match plan(facts, minimum, offer) {
        Plan::Skip(reason) => (true, format!("ok    {reason}")),
        Plan::Refuse(reason) => (false, format!("BELOW {reason}")),
        Plan::Upgrade { target, .. } => (
            false,
            format!(
                "BELOW {} < kernel.minimum {minimum}; `kernel upgrade` would boot {}",
                facts.kernel_release,
                target.unwrap_or_else(|| "the repository's package".into())
            ),
        ),
    }
}

fn check(run: &RunArgs, inv: &Inventory, globals: &super::Globals) -> Result<ExitCode> {
    let remote = run.remote(globals)?;
    let gathered = gather(&remote, inv, Addons::Skip)?;
    let (recap, facts) = (&gathered.recap, &gathered.facts);
    let offer = kernel::offer(inv)?;
    let mut below = 0;
    let mut report = Vec::new();
    for host in remote.select(inv)? {
        let Some((f, _)) = facts.get(&host.address) else { continue };
        let (ok, line) = verdict(inv, f, &offer);
        below += usize::from(!ok);
        report.push((host, f, ok, line));
    }
    if run.output == OutputFormat::Json {
        let hosts: Vec<serde_json::Value> = report
            .iter()
            .map(|(h, f, ok, line)| serde_json::json!({"host": h.address, "name": h.name, "os": f.os, "running": f.kernel_release, "at_or_above_minimum": ok, "verdict": line, "installed": f.kernels, "boot_default": f.boot_default, "boot_entries": f.boot_entries}))
            .collect();
        super::out::json(&serde_json::json!({"minimum": inv.kernel.minimum, "hosts": hosts, "recap": recap}))?;
    } else {
        out!("kernel.minimum {} (flannel's IPv6 vxlan needs >= 3.12)", inv.kernel.minimum);
        for (host, f, _, line) in &report {
            out!("{} ({})", host.address, f.os.pretty);
            out!("  running   {}", f.kernel_release);
            out!("  verdict   {line}");
            let installed: Vec<&str> = f.kernels.iter().map(|k| k.release.as_str()).collect();
            if !installed.is_empty() {
                out!("  installed {}", installed.join(", "));
            }
            if let Some(default) = &f.boot_default {
                out!("  boots     {default}");
            }
        }
        for h in recap.hosts.iter().filter(|h| matches!(h.status, HostStatus::Unreachable | HostStatus::Failed)) {
            out!("{} UNREACHABLE: {}", h.host, h.error.as_deref().unwrap_or(""));
        }
        out!("\n{} of {} hosts at or above kernel.minimum {}", report.len() - below, remote.select(inv)?.len(), inv.kernel.minimum);
    }
    Ok(if below > 0 || !recap.succeeded() { ExitCode::from(exit::HOST_FAILED) } else { ExitCode::SUCCESS })
}

fn upgrade_hosts(dry_run: bool, upgrade: &UpgradeArgs, run: &RunArgs, inv: &Inventory, globals: &super::Globals) -> Result<ExitCode> {
    let options = upgrade.options();
    if let (_, Some(note)) = kernel::safe_parallel(inv, options.parallel) {
        eprintln!("{note}");
    }
    let mode = if dry_run { Mode::DryRun } else { Mode::Apply };
    let recap = kernel::upgrade(&run.remote(globals)?, inv, mode, &options)?;
    super::print_plan(&recap, dry_run, run.output, "Upgrade kernel")
}
