//! `v6deploy -i FILE node add HOST...`: bring hosts that were added to the inventory into the
//! running cluster.

use std::net::Ipv6Addr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use v6deploy::bundle;
use v6deploy::checks::Check;
use v6deploy::desired::desired_state_with;
use v6deploy::inventory::{Inventory, Loaded, Role};
use v6deploy::pki::{Store, generate};
use v6deploy::render::{RenderOptions, Templates};
use v6deploy::runner::Mode;
use v6deploy::steps::InstallState;
use v6deploy::workflows::node_add;

use super::run_args::{OutputFormat, RunArgs};

/// Grow a running cluster: workers, control-plane nodes or etcd members.
#[derive(Debug, clap::Args)]
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

pub fn run(args: &Args, loaded: &Loaded, templates_dir: Option<&std::path::Path>) -> Result<ExitCode> {
    let NodeCommand::Add(args) = &args.command;
    let inv = &loaded.inventory;
    let mut wanted = Vec::new();
    for text in &args.nodes {
        let address = text.parse::<Ipv6Addr>().ok();
        let host = inv.hosts.iter().find(|h| Some(h.address) == address || h.name.as_str() == text);
        match host {
            Some(h) => wanted.push(h.address),
            None => bail!("{text} is not in the inventory {}: add it under hosts: first", inv.source.display()),
        }
    }
    let membership = super::membership::read(inv, &args.run)?;
    if let Some((address, why)) = membership.unreachable.iter().find(|(a, _)| wanted.contains(a)) {
        bail!("cannot reach {address}, which is to be added: {why}; nothing was changed");
    }
    if !membership.unreachable.is_empty() {
        let list: Vec<String> = membership.unreachable.iter().map(|(a, e)| format!("{a}: {e}")).collect();
        bail!("node add needs every host reachable; unreachable: {}; nothing was changed", list.join("; "));
    }
    if let Some((address, other)) = membership.foreign.iter().next() {
        bail!("{address} belongs to another cluster ({other}); nothing was changed");
    }
    if let Some(already) = wanted.iter().find(|a| membership.members.contains(a)) {
        bail!("{already} is already a member of cluster {} (its /etc/v6deploy/member says so); nothing was changed", inv.cluster.name);
    }
    if membership.members.is_empty() {
        bail!("no host of {} is in cluster {} yet: run `v6deploy -i {} install` first", inv.source.display(), inv.cluster.name, inv.source.display());
    }
    let grown = Inventory {
        hosts: inv.hosts.iter().filter(|h| membership.members.contains(&h.address) || wanted.contains(&h.address)).cloned().collect(),
        ..inv.clone()
    };
    let running_etcd: Vec<Ipv6Addr> = grown.hosts.iter().filter(|h| h.has(Role::Etcd) && membership.members.contains(&h.address)).map(|h| h.address).collect();
    let joining: Vec<Ipv6Addr> = grown.hosts.iter().filter(|h| h.has(Role::Etcd) && wanted.contains(&h.address)).map(|h| h.address).collect();
    let etcd_after = running_etcd.len() + joining.len();
    if !joining.is_empty() && etcd_after.is_multiple_of(2) {
        eprintln!("warning: etcd will have {etcd_after} members: an even count tolerates no more failures than {}; add one more", etcd_after - 1);
    }

    let bundle = bundle::check(&grown)?;
    let store = Store::for_inventory(&grown);
    let report = generate(&grown, &store).with_context(|| format!("issue the new nodes' certificates in {}", store.root().display()))?;
    eprintln!("PKI in {}: {report}", store.root().display());
    let mut options = RenderOptions::default();
    let mut members = running_etcd.clone();
    for address in &joining {
        options.etcd_joining.insert(*address, members.clone());
        members.push(*address);
    }
    let desired = desired_state_with(&grown, &Templates::load(templates_dir)?, &store, options)?;
    let state = Arc::new(InstallState::new(desired, bundle, args.skip_check.clone())?);
    let steps = node_add::steps(&grown, &state, running_etcd, joining);
    let mode = if args.dry_run { Mode::DryRun } else { Mode::Apply };
    let mut run_args = args.run.clone();
    run_args.hosts.clear();
    let recap = super::run_args::run_steps(&grown, &run_args, mode, &steps)?;
    if args.run.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&serde_json::json!({"recap": recap, "components": state.outcomes()}))?);
        return Ok(ExitCode::from(recap.exit_code()));
    }
    if args.dry_run {
        println!("PLAN (dry-run: nothing was changed)");
    }
    super::print_recap(&recap, args.run.output)?;
    super::install::print_components(&state, args.dry_run);
    Ok(ExitCode::from(recap.exit_code()))
}
