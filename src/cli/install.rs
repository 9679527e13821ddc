//! `v6deploy -i FILE install`: bare hosts to a running cluster.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};

use v6deploy::bundle;
use v6deploy::checks::Check;
use v6deploy::desired::desired_state;
use v6deploy::inventory::{Loaded, Role};
use v6deploy::net::url;
use v6deploy::pki::{Store, generate};
use v6deploy::render::Templates;
use v6deploy::runner::Mode;
use v6deploy::steps::InstallState;
use v6deploy::workflows::install;

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
#[derive(Debug, clap::Args)]
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
    #[command(flatten)]
    upgrade: super::kernel::UpgradeArgs,
    #[command(flatten)]
    run: RunArgs,
}

pub fn run(args: &Args, loaded: &Loaded, templates_dir: Option<&std::path::Path>) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    let bundle = bundle::check(inv)?;
    let membership = super::membership::read(inv, &args.run)?;
    if let Some((address, other)) = membership.foreign.iter().next() {
        anyhow::bail!("{address} belongs to another cluster ({other}); nothing was changed");
    }
    if !membership.members.is_empty() {
        let outside: Vec<String> = inv.hosts.iter().filter(|h| !membership.members.contains(&h.address) && !membership.unreachable.contains_key(&h.address)).map(|h| h.address.to_string()).collect();
        if !outside.is_empty() {
            anyhow::bail!(
                "cluster {} is running and {} not in it yet: add them with `v6deploy -i {} node add {}`; nothing was changed",
                inv.cluster.name,
                outside.join(", "),
                inv.source.display(),
                outside.join(" ")
            );
        }
    }
    let store = Store::for_inventory(inv);
    let report = generate(inv, &store).with_context(|| format!("prepare the PKI in {}", store.root().display()))?;
    eprintln!("PKI in {}: {report}", store.root().display());
    let templates = Templates::load(templates_dir)?;
    let desired = desired_state(inv, &templates, &store)?;
    if !bundle.missing.is_empty() {
        let names: Vec<&str> = bundle.missing.iter().map(|c| c.name()).collect();
        eprintln!("bundle {}: no binary for {} (bundle.missing: stage): these are staged", bundle.root.display(), names.join(", "));
    }
    let mut skip_checks = args.skip_check.clone();
    if args.upgrade_kernel {
        // The kernel is upgraded before the kernel gate, which still checks it afterwards.
        skip_checks.push(Check::Kernel);
    }
    let state = Arc::new(InstallState::new(desired, bundle, skip_checks)?);
    let mode = if args.dry_run { Mode::DryRun } else { Mode::Apply };
    let options = install::Options { upgrade_kernel: args.upgrade_kernel.then(|| args.upgrade.options()) };
    let steps = install::steps(inv, &state, &options);
    let recap = super::run_args::run_steps(inv, &args.run, mode, &steps)?;
    if args.run.output == OutputFormat::Json {
        let outcomes = state.outcomes();
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"recap": recap, "components": outcomes}))?);
        return Ok(ExitCode::from(recap.exit_code()));
    }
    if args.dry_run {
        println!("PLAN (dry-run: nothing was changed)");
    }
    super::print_recap(&recap, args.run.output)?;
    print_components(&state, args.dry_run);
    if recap.succeeded() && !args.dry_run {
        print_next_steps(loaded, &store, &state);
    }
    Ok(ExitCode::from(recap.exit_code()))
}

fn print_next_steps(loaded: &Loaded, store: &Store, state: &InstallState) {
    let inv = &loaded.inventory;
    let endpoints: Vec<String> = inv.hosts.iter().filter(|h| h.has(Role::Etcd)).map(|h| url("https", h.address, 2379)).collect();
    // Absolute paths, so the lines can be pasted in any directory.
    let absolute = |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let etcdctl = state.bundle.binary(bundle::Component::Etcdctl).map_or_else(|| "etcdctl".to_string(), |p| absolute(p).display().to_string());
    let pki = absolute(store.root());
    println!();
    if state.bundle.is_staged(bundle::Component::KubeApiserver) {
        println!("kubectl: none yet: kube-apiserver is staged (no binary in the bundle {})", state.bundle.root.display());
    } else {
        println!("kubectl: KUBECONFIG={} kubectl get nodes", pki.join("admin.conf").display());
    }
    // Last, so a terminal shows it: the line to copy.
    println!("The etcd cluster, from this machine:");
    println!(
        "  ETCDCTL_API=3 {etcdctl} --endpoints={} --cacert={} --cert={} --key={} endpoint health -w table",
        endpoints.join(","),
        pki.join("etcd/ca.crt").display(),
        pki.join("etcd/healthcheck-client.crt").display(),
        pki.join("etcd/healthcheck-client.key").display()
    );
}

/// The component table: what runs, what restarted and why, what is staged.
pub fn print_components(state: &InstallState, dry_run: bool) {
    let outcomes = state.outcomes();
    if !outcomes.is_empty() {
        println!("{}", if dry_run { "\nCOMPONENTS (as the run would leave them)" } else { "\nCOMPONENTS" });
        for (address, components) in &outcomes {
            for (component, outcome) in components {
                println!("{address:<28} {component:<24} {outcome}");
            }
        }
    }
}
