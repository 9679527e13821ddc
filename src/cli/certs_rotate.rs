//! `v6deploy -i FILE certs rotate`: renew certificates on a running cluster, one host at a
//! time, with backups (locally and on each host) and a health check after every restart.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use time::OffsetDateTime;

use v6deploy::bundle;
use v6deploy::desired::desired_state;
use v6deploy::inventory::Inventory;
use v6deploy::pki::{self, CaPhase, CaRotation, Keys, LeafGroup, Store};
use v6deploy::render::Templates;
use v6deploy::runner::Mode;
use v6deploy::steps::{RotateState, is_pki};
use v6deploy::workflows::rotate;

use super::run_args::RunArgs;

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
    #[command(flatten)]
    run: RunArgs,
}

/// What one rollout needs besides the store.
struct Rollout<'a> {
    inv: &'a Inventory,
    args: &'a RotateArgs,
    templates: &'a Templates,
    stamp: String,
    resume: String,
}

pub fn run(args: &RotateArgs, inv: &Inventory, store: &Store, templates_dir: Option<&Path>) -> Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    let templates = Templates::load(templates_dir)?;
    let inventory = inv.source.display();
    let hosts = if args.run.hosts.is_empty() { String::new() } else { format!(" --hosts {}", args.run.hosts.join(",")) };
    let resume = if args.ca {
        format!("v6deploy -i {inventory} certs rotate --ca")
    } else {
        let only = if args.only.is_empty() { String::new() } else { format!(" --only {}", args.only.iter().map(|g| clap::ValueEnum::to_possible_value(g).map(|v| v.get_name().to_string()).unwrap_or_default()).collect::<Vec<_>>().join(",")) };
        format!("v6deploy -i {inventory} certs rotate --resume{only}{hosts}")
    };
    let rollout = Rollout { inv, args, templates: &templates, stamp: pki::timestamp(now), resume };
    if args.ca {
        return rotate_cas(&rollout, store, now);
    }
    if let Some(rotation) = pki::ca_rotation_in_progress(store)? {
        bail!("a CA rotation is in progress (phase {}, started {}): finish it with `{}` first", rotation.phase, rotation.started, format_args!("v6deploy -i {inventory} certs rotate --ca"));
    }
    let groups = if args.only.is_empty() { LeafGroup::ALL.to_vec() } else { args.only.clone() };
    let nodes: Vec<_> = if args.run.hosts.is_empty() { Vec::new() } else { args.run.select(inv)?.into_iter().map(|h| h.name).collect() };
    let select = move |path: &str| pki::selects(&groups, path);
    if args.resume {
        return rollout.run(store, "Rotate certificates (resume)", select);
    }
    // A dry run reissues into a copy of the store, so its plan is the real one.
    let scratch = Scratch::new();
    let work = if args.dry_run {
        pki::copy_store(store, &scratch.0)?
    } else {
        let saved = pki::backup(store, &rollout.stamp).with_context(|| format!("back up {}", store.root().display()))?;
        println!("backed up {} to {}", store.root().display(), saved.display());
        store.clone()
    };
    let groups = if args.only.is_empty() { LeafGroup::ALL.to_vec() } else { args.only.clone() };
    let roles = pki::selected_leaves(inv, &groups, &nodes);
    let keys = if args.keep_keys { Keys::Keep } else { Keys::New };
    let reissued = pki::reissue(inv, &work, &roles, keys, now).with_context(|| format!("reissue certificates in {}", work.root().display()))?;
    for r in &reissued {
        println!("reissued {:<60} serial {} -> {}", r.file, r.old_serial.as_deref().unwrap_or("-"), r.new_serial);
    }
    println!("{} certificates reissued ({})", reissued.len(), if args.keep_keys { "keys kept" } else { "new keys" });
    if args.no_rollout {
        println!("not rolled out (--no-rollout): roll out with `{}`", rollout.resume);
        return Ok(ExitCode::SUCCESS);
    }
    rollout.run(&work, "Rotate certificates", select)
}

impl Rollout<'_> {
    /// Pushes the selected files of the store to the hosts, one host at a time.
    fn run(&self, store: &Store, title: &str, select: impl Fn(&str) -> bool + Send + Sync + 'static) -> Result<ExitCode> {
        let bundle = bundle::check(self.inv)?;
        let desired = desired_state(self.inv, self.templates, store)?;
        let state = Arc::new(RotateState {
            desired,
            bundle,
            select: Box::new(move |path| (is_pki(path) || path.ends_with(".conf")) && select(path)),
            stamp: self.stamp.clone(),
            resume: self.resume.clone(),
            health_seconds: self.args.health_timeout,
            title: title.to_string(),
        });
        let mode = if self.args.dry_run { Mode::DryRun } else { Mode::Apply };
        let recap = super::run_args::run_steps(self.inv, &self.args.run, mode, &rotate::steps(&state))?;
        if self.args.dry_run {
            println!("PLAN (dry-run: nothing was changed, the store neither)");
        }
        super::print_recap(&recap, self.args.run.output)?;
        if !recap.succeeded() {
            eprintln!("rotation stopped; the store holds the new certificates; once the cause is fixed, resume with: {}", self.resume);
        }
        Ok(ExitCode::from(recap.exit_code()))
    }
}

/// The CA rotation, from the recorded phase to the end (or `--stop-after`).
fn rotate_cas(rollout: &Rollout<'_>, store: &Store, now: OffsetDateTime) -> Result<ExitCode> {
    let inv = rollout.inv;
    let args = rollout.args;
    let recorded = pki::ca_rotation_in_progress(store)?;
    let started = recorded.as_ref().map_or_else(|| rollout.stamp.clone(), |r| r.started.clone());
    let mut phase = recorded.as_ref().map_or(CaPhase::Bundle, |r| r.phase);
    match &recorded {
        Some(r) => println!("CA rotation started {} is at phase {}: checking the hosts and continuing", r.started, r.phase),
        None if !args.dry_run => {
            let saved = pki::backup(store, &rollout.stamp)?;
            println!("backed up {} to {}", store.root().display(), saved.display());
        }
        None => {}
    }
    let scratch = Scratch::new();
    let work = if args.dry_run { pki::copy_store(store, &scratch.0)? } else {
        store.clone()
    };
    loop {
        // Record first, then act: every local part is idempotent, so a re-run redoes it safely.
        if phase != CaPhase::Done {
            pki::record_phase(&work, &CaRotation { phase, started: started.clone() })?;
        }
        let title = match phase {
            CaPhase::Bundle => {
                pki::start_ca_rotation(inv, &work, now)?;
                println!("phase bundle: new CAs made; hosts get old+new CA bundles");
                "CA rotation 1/3: trust old and new CA"
            }
            CaPhase::Leaves => {
                let reissued = pki::reissue_from_new_ca(inv, &work, now)?;
                println!("phase leaves: {} leaves reissued from the new CAs", reissued.len());
                "CA rotation 2/3: leaves from the new CA"
            }
            CaPhase::Drop => {
                if let Some(archived) = pki::drop_old_ca(inv, &work, &rollout.stamp)? {
                    println!("phase drop: old CAs archived in {}", archived.display());
                }
                "CA rotation 3/3: drop the old CA"
            }
            CaPhase::Done => {
                pki::record_phase(&work, &CaRotation { phase, started: started.clone() })?;
                println!("CA rotation finished: every leaf is signed by the new CAs, the hosts trust only them");
                return Ok(ExitCode::SUCCESS);
            }
        };
        let code = rollout.run(&work, title, pki::ca_rotation_selects)?;
        if code != ExitCode::SUCCESS {
            eprintln!("CA rotation stopped in phase {phase} (recorded in {}); both CAs are still trusted where needed", store.path(pki::CA_ROTATION_FILE).display());
            return Ok(code);
        }
        if args.dry_run {
            println!("dry-run shows phase {phase} only; the later phases depend on it");
            return Ok(ExitCode::SUCCESS);
        }
        if args.stop_after == Some(phase) {
            println!("stopped after phase {phase} (--stop-after); continue with `{}`", rollout.resume);
            return Ok(ExitCode::SUCCESS);
        }
        phase = match phase {
            CaPhase::Bundle => CaPhase::Leaves,
            CaPhase::Leaves => CaPhase::Drop,
            CaPhase::Drop | CaPhase::Done => CaPhase::Done,
        };
    }
}

/// A private directory for a dry run's copy of the store, removed when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Scratch {
        Scratch(std::env::temp_dir().join(format!("v6deploy-dry-run-{}", std::process::id())))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
