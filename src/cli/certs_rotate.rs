//! `v6deploy -i FILE certs rotate`: renew certificates on a running cluster, one host at a
//! time, with backups (locally and on each host) and a health check after every restart.

use std::process::ExitCode;

use anyhow::Result;

use v6deploy::inventory::Inventory;
use v6deploy::pki::{CaPhase, Keys, LeafGroup, Store};
use v6deploy::workflows::Mode;
use v6deploy::workflows::certs_rotate::{self, Event, KEEP_BACKUPS, Kind, Request, Stage};

use super::run_args::{OutputFormat, RunArgs};

/// Renew certificates on a running cluster without downtime.
///
/// Leaves (default): the store is backed up to certs/<cluster>/backup/<UTC time>/, the
/// selected leaves are issued again from the same CA (new keys unless --keep-keys), then each
/// host in turn gets them (its current files kept beside them as *.v6deploy-<UTC time>) and
/// the services that read them are restarted and health-checked (etcd over TLS, the
/// apiserver's /healthz) before the next host. A failed health check restores that host's
/// previous files and stops; `--resume` rolls out what the store holds without reissuing.
///
/// --ca: CA rotation with a trust overlap, in phases recorded in
/// certs/<cluster>/ca-rotation.json: bundle (new CAs made, hosts trust old and new),
/// leaves (every leaf reissued from the new CAs), drop (the old CAs removed from the
/// bundles and archived under backup/). Re-running continues from the recorded phase.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// Only these certificates (comma-separated) [default: all leaves].
    #[arg(long, value_enum, value_delimiter = ',', value_name = "GROUP,...")]
    only: Vec<LeafGroup>,
    /// New certificates for the current private keys.
    #[arg(long)]
    keep_keys: bool,
    /// Rotate the CAs (kubernetes, etcd, front-proxy) with a trust overlap.
    #[arg(long, conflicts_with_all = ["only", "keep_keys", "no_rollout", "resume"])]
    ca: bool,
    /// With --ca: stop once this phase is rolled out (re-run to continue).
    #[arg(long, requires = "ca", value_enum, value_name = "PHASE")]
    stop_after: Option<CaPhase>,
    /// Back up and reissue in the store only; roll out later with --resume.
    #[arg(long)]
    no_rollout: bool,
    /// Roll out what the store holds, without backing up or reissuing (after a stopped rollout).
    #[arg(long, conflicts_with = "no_rollout")]
    resume: bool,
    /// Show what would change on each host; change nothing (the store neither).
    #[arg(long)]
    dry_run: bool,
    /// Seconds a restarted service has to become healthy before the host's files are restored.
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    health_timeout: u64,
    /// Backups (*.v6deploy-<UTC time>) of each replaced file kept on a host, newest first;
    /// older ones are removed.
    #[arg(long, default_value_t = KEEP_BACKUPS, value_name = "N", value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    keep_backups: usize,
    #[command(flatten)]
    run: RunArgs,
}

/// Runs the rotation and prints every event as it happens.
pub fn run(args: &RotateArgs, inv: &Inventory, store: &Store, globals: &super::Globals) -> Result<ExitCode> {
    let inventory = inv.source.display();
    let hosts = if args.run.hosts.is_empty() { String::new() } else { format!(" --hosts {}", args.run.hosts.join(",")) };
    let resume = if args.ca {
        format!("v6deploy -i {inventory} certs rotate --ca")
    } else {
        let only = if args.only.is_empty() { String::new() } else { format!(" --only {}", args.only.iter().map(|g| clap::ValueEnum::to_possible_value(g).map(|v| v.get_name().to_string()).unwrap_or_default()).collect::<Vec<_>>().join(",")) };
        format!("v6deploy -i {inventory} certs rotate --resume{only}{hosts}")
    };
    let kind = if args.ca {
        Kind::Cas { stop_after: args.stop_after }
    } else {
        let stage = if args.resume { Stage::RolloutOnly } else if args.no_rollout { Stage::ReissueOnly } else { Stage::All };
        Kind::Leaves { only: args.only.clone(), keys: if args.keep_keys { Keys::Keep } else { Keys::New }, stage }
    };
    let mode = if args.dry_run { Mode::DryRun } else { Mode::Apply };
    let request = Request { kind, mode, health_timeout: args.health_timeout, keep_backups: args.keep_backups, resume: resume.clone(), templates_dir: globals.templates.as_deref() };
    if args.run.output == OutputFormat::Json {
        // One document at the end: every event in order, then the exit code.
        let mut events = Vec::new();
        let mut collect = |event: Event<'_>| {
            events.push(event_json(&event));
            Ok(())
        };
        let code = certs_rotate::run(&args.run.remote(globals)?, inv, store, &request, &mut collect)?;
        super::out::json(&serde_json::json!({"events": events, "resume": resume, "exit_code": code}))?;
        return Ok(ExitCode::from(code));
    }
    let mut print = |event: Event<'_>| print_event(event, args, &resume);
    let code = certs_rotate::run(&args.run.remote(globals)?, inv, store, &request, &mut print)?;
    Ok(ExitCode::from(code))
}

/// One event as JSON (`--output json`): `{"event": "...", ...}`.
fn event_json(event: &Event<'_>) -> serde_json::Value {
    use serde_json::json;
    match event {
        Event::BackedUp { store, to } => json!({"event": "backed-up", "store": store, "to": to}),
        Event::Reissued { certificates, keys } => json!({
            "event": "reissued",
            "keys": if *keys == Keys::Keep { "kept" } else { "new" },
            "certificates": certificates.iter().map(|r| json!({"file": r.file, "old_serial": r.old_serial, "new_serial": r.new_serial})).collect::<Vec<_>>(),
        }),
        Event::NotRolledOut => json!({"event": "not-rolled-out"}),
        Event::RolledOut(recap) => json!({"event": "rolled-out", "recap": recap}),
        Event::CaResumed { started, phase } => json!({"event": "ca-resumed", "started": started.to_string(), "phase": phase.to_string()}),
        Event::CaBundled => json!({"event": "ca-bundled"}),
        Event::CaLeavesReissued { count } => json!({"event": "ca-leaves-reissued", "count": count}),
        Event::CaOldArchived { to } => json!({"event": "ca-old-archived", "to": to}),
        Event::CaFinished => json!({"event": "ca-finished"}),
        Event::CaStopped { phase, record } => json!({"event": "ca-stopped", "phase": phase.to_string(), "record": record}),
        Event::CaDryRunStopped { phase } => json!({"event": "ca-dry-run-stopped", "phase": phase.to_string()}),
        Event::CaStoppedAfter { phase } => json!({"event": "ca-stopped-after", "phase": phase.to_string()}),
    }
}

/// Prints one event of the rotation (`resume`: the command that continues it).
fn print_event(event: Event<'_>, args: &RotateArgs, resume: &str) -> Result<()> {
    match event {
        Event::BackedUp { store, to } => out!("backed up {} to {}", store.display(), to.display()),
        Event::Reissued { certificates, keys } => {
            for r in certificates {
                out!("reissued {:<60} serial {} -> {}", r.file, r.old_serial.as_deref().unwrap_or("-"), r.new_serial);
            }
            out!("{} certificates reissued ({})", certificates.len(), if keys == Keys::Keep { "keys kept" } else { "new keys" });
        }
        Event::NotRolledOut => out!("not rolled out (--no-rollout): roll out with `{resume}`"),
        Event::RolledOut(recap) => {
            if args.dry_run {
                out!("PLAN (dry-run: nothing was changed, the store neither)");
            }
            super::print_recap(recap, args.run.output)?;
            if !recap.succeeded() {
                eprintln!("rotation stopped; the store holds the new certificates; once the cause is fixed, resume with: {resume}");
            }
        }
        Event::CaResumed { started, phase } => out!("CA rotation started {started} is at phase {phase}: checking the hosts and continuing"),
        Event::CaBundled => out!("phase bundle: new CAs made; hosts get old+new CA bundles"),
        Event::CaLeavesReissued { count } => out!("phase leaves: {count} leaves reissued from the new CAs"),
        Event::CaOldArchived { to } => out!("phase drop: old CAs archived in {}", to.display()),
        Event::CaFinished => out!("CA rotation finished: every leaf is signed by the new CAs, the hosts trust only them"),
        Event::CaStopped { phase, record } => eprintln!("CA rotation stopped in phase {phase} (recorded in {}); both CAs are still trusted where needed", record.display()),
        Event::CaDryRunStopped { phase } => out!("dry-run shows phase {phase} only; the later phases depend on it"),
        Event::CaStoppedAfter { phase } => out!("stopped after phase {phase} (--stop-after); continue with `{resume}`"),
    }
    Ok(())
}
