//! `v6deploy -i FILE install`: bare hosts to a running cluster.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;

use v6deploy::checks::Check;
use v6deploy::inventory::{Loaded, Role};
use v6deploy::net::url;
use v6deploy::workflows::Mode;
use v6deploy::workflows::kernel::Options;
use v6deploy::workflows::install_run::{self, Note, Outcomes, Report, Request};

use super::run_args::{OutputFormat, RunArgs};

/// Install the cluster: preflight, kernel gate, every file a host needs (configuration,
/// certificates, binaries from the bundle) in one atomic write per host, host preparation,
/// etcd (TLS over IPv6), control plane, kubelet and kube-proxy, addons, and a verification.
/// Idempotent: a second run changes nothing and restarts nothing. Each host is read once per
/// run (one round trip) and the recap ends with the time each step took.
///
/// Before any host is touched the bundle is checked: a missing binary is refused unless the
/// inventory says `bundle: {missing: stage}` (then that component is configured and verified
/// but not started, and the recap says "staged").
///
/// --forks bounds how many hosts are worked on at once; hosts that restart services do so
/// one at a time where quorum needs it. With --upgrade-kernel, hosts reboot one at a time
/// (`kernel upgrade --parallel N` reboots more at once, before an install).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy -i cluster.yaml install --dry-run      # the exact plan; changes nothing\n  v6deploy -i cluster.yaml install\n  v6deploy -i cluster.yaml install --output json | jq '.recap.hosts[] | {host, status}'\n  v6deploy -i cluster.yaml install --upgrade-kernel --skip-check swap\n\nExit codes: 0 every host ok, 1 usage or inventory error, 2 a host failed or was unreachable, 130 interrupted.")]
pub struct Args {
    /// Show exactly what would change on each host; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Do not stop on these failed preflight checks (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',', value_name = "CHECK,...")]
    skip_check: Vec<Check>,
    /// Upgrade hosts below kernel.minimum first (as `kernel upgrade` does: install, boot
    /// default, reboot, verify; one host at a time) instead of stopping at the kernel gate.
    #[arg(long)]
    upgrade_kernel: bool,
    /// With --upgrade-kernel: seconds a host may take to go down and come back after its reboot.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    reboot_timeout: u64,
    #[command(flatten)]
    run: RunArgs,
}

/// Runs `install` and prints the report.
pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let request = Request {
        mode: if args.dry_run { Mode::DryRun } else { Mode::Apply },
        skip_checks: args.skip_check.clone(),
        upgrade_kernel: args.upgrade_kernel.then(|| Options { parallel: 1, reboot_timeout: Duration::from_secs(args.reboot_timeout) }),
        templates_dir: globals.templates.as_deref(),
    };
    let report = install_run::run(&args.run.remote(globals)?, &loaded.inventory, &request, &mut print_note)?;
    print_report(&report, args.dry_run, args.run.output)?;
    if args.run.output == OutputFormat::Text && report.recap.succeeded() && !args.dry_run {
        print_next_steps(loaded, &report)?;
    }
    Ok(ExitCode::from(report.recap.exit_code()))
}

/// Prints what happens before the hosts are changed (on stderr, beside the progress).
pub fn print_note(note: Note) {
    match note {
        Note::Pki { root, report, scratch: false } => eprintln!("PKI in {}: {report}", root.display()),
        Note::Pki { root, report, scratch: true } => eprintln!("PKI: a scratch copy of {} (dry run: the store is not changed): {report}", root.display()),
        Note::Staged { root, binaries } => {
            let names: Vec<&str> = binaries.clone();
            eprintln!("bundle {}: no binary for {} (bundle.missing: stage): these are staged", root.display(), names.join(", "));
        }
        Note::Bundle { root, note } => eprintln!("bundle {}: {note}", root.display()),
        Note::StoreLocked { root, holder } => eprintln!("{} is locked by {holder}; waiting for it", root.display()),
        Note::EvenEtcd { members } => {
            eprintln!("warning: etcd will have {members} members: an even count tolerates no more failures than {}; add one more", members - 1);
        }
    }
}

/// Prints the end of an `install` or `node add` run: the recap and the component table, or
/// both as one JSON document.
pub fn print_report(report: &Report, dry_run: bool, output: OutputFormat) -> Result<()> {
    if output == OutputFormat::Json {
        super::out::json(&serde_json::json!({"recap": report.recap, "components": report.outcomes}))?;
        return Ok(());
    }
    if dry_run {
        out!("PLAN (dry-run: nothing was changed)");
    }
    super::print_recap(&report.recap, output)?;
    print_components(&report.outcomes, dry_run)?;
    Ok(())
}

fn print_next_steps(loaded: &Loaded, report: &Report) -> Result<()> {
    let inv = &loaded.inventory;
    let endpoints: Vec<String> = inv.hosts.iter().filter(|h| h.has(Role::Etcd)).map(|h| url("https", h.address, v6deploy::components::ETCD_CLIENT_PORT)).collect();
    // Absolute paths, so the lines can be pasted in any directory.
    let absolute = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let etcdctl = report.bundle.binary("etcdctl").map_or_else(|| "etcdctl".to_string(), |p| absolute(p).display().to_string());
    let pki = absolute(report.store.root());
    out!();
    if v6deploy::components::KUBE_APISERVER.is_staged(&report.bundle) {
        out!("kubectl: none yet: kube-apiserver is staged (no binary in the bundle {})", report.bundle.root.display());
    } else {
        out!("kubectl: KUBECONFIG={} kubectl get nodes", pki.join("admin.conf").display());
    }
    // Last, so a terminal shows it: the line to copy.
    out!("The etcd cluster, from this machine:");
    out!(
        "  ETCDCTL_API=3 {etcdctl} --endpoints={} --cacert={} --cert={} --key={} endpoint health -w table",
        endpoints.join(","),
        pki.join("etcd/ca.crt").display(),
        pki.join("etcd/healthcheck-client.crt").display(),
        pki.join("etcd/healthcheck-client.key").display()
    );
    Ok(())
}

/// The component table: what runs, what restarted and why, what is staged.
fn print_components(outcomes: &Outcomes, dry_run: bool) -> Result<()> {
    if !outcomes.is_empty() {
        out!("{}", if dry_run { "\nCOMPONENTS (as the run would leave them)" } else { "\nCOMPONENTS" });
        for (address, components) in outcomes {
            for (component, outcome) in components {
                out!("{address:<28} {component:<24} {outcome}");
            }
        }
    }
    Ok(())
}
