//! Running `certs rotate`: the local part (backup, reissue; for a CA rotation, its phases
//! recorded in the store) and one rollout of [`rotate::steps`](super::rotate::steps) after
//! each, telling the caller every event so it can print it as it happens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use time::OffsetDateTime;

use crate::bundle;
use crate::desired::desired_state;
use crate::exit;
use crate::inventory::Inventory;
use crate::pki::{self, CaPhase, CaRotation, Keys, LeafGroup, Reissued, Store};
use crate::render::Templates;
use crate::runner::{Mode, Recap};
use crate::pki::is_host_pki as is_pki;
use crate::steps::RotateState;

use super::remote::Remote;
use super::rotate;

pub use crate::steps::KEEP_BACKUPS;

/// What `certs rotate` is asked to do.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Which rotation.
    pub kind: Kind,
    /// Apply, or only plan (a dry run reissues into a copy of the store).
    pub mode: Mode,
    /// Seconds a restarted service has to become healthy before the host's files are restored.
    pub health_timeout: u64,
    /// Backups `F.v6deploy-<stamp>` of each file kept on a host (the newest; at least 1).
    pub keep_backups: usize,
    /// The command that continues a stopped rotation, for the hosts' failure messages.
    pub resume: String,
    /// Template overrides.
    pub templates_dir: Option<&'a Path>,
}

/// Leaves from the same CAs, or the CAs themselves.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Reissue leaves from the same CAs and roll them out.
    Leaves {
        /// Only these groups (empty: all).
        only: Vec<LeafGroup>,
        /// New keys, or new certificates for the current keys.
        keys: Keys,
        /// What to do with the store: reissue and roll out, reissue only, or roll out only.
        stage: Stage,
    },
    /// Rotate the CAs in phases with a trust overlap.
    Cas {
        /// Stop once this phase is rolled out.
        stop_after: Option<CaPhase>,
    },
}

/// Which part of a leaf rotation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Back up, reissue, roll out.
    All,
    /// Back up and reissue; no rollout (`--no-rollout`).
    ReissueOnly,
    /// Roll out what the store holds (`--resume`).
    RolloutOnly,
}

/// What happened, in order.
pub enum Event<'a> {
    /// The store was copied to a backup directory.
    BackedUp { store: &'a Path, to: PathBuf },
    /// Leaves were reissued in the store.
    Reissued { certificates: &'a [Reissued], keys: Keys },
    /// Reissued only (`--no-rollout`).
    NotRolledOut,
    /// A rollout ended.
    RolledOut(&'a Recap),
    /// A CA rotation is continued from its recorded phase.
    CaResumed { started: &'a str, phase: CaPhase },
    /// Phase bundle, local part: the new CAs are made.
    CaBundled,
    /// Phase leaves, local part: this many leaves reissued from the new CAs.
    CaLeavesReissued { count: usize },
    /// Phase drop, local part: the old CAs archived there.
    CaOldArchived { to: PathBuf },
    /// The rotation is done.
    CaFinished,
    /// The rollout of `phase` failed; the phase is recorded in `record`.
    CaStopped { phase: CaPhase, record: PathBuf },
    /// A dry run shows one phase only.
    CaDryRunStopped { phase: CaPhase },
    /// `--stop-after` was reached.
    CaStoppedAfter { phase: CaPhase },
}

/// Rotates as `request` says, telling `events` what happens; returns the exit code.
pub fn run(remote: &Remote, inv: &Inventory, store: &Store, request: &Request<'_>, events: &mut dyn FnMut(Event<'_>) -> Result<()>) -> Result<u8> {
    let now = OffsetDateTime::now_utc();
    let rollout = Rollout { remote, inv, request, templates: Templates::load(request.templates_dir)?, stamp: pki::timestamp(now) };
    let (only, keys, stage) = match &request.kind {
        Kind::Cas { stop_after } => return rotate_cas(&rollout, store, now, *stop_after, events),
        Kind::Leaves { only, keys, stage } => (only, *keys, *stage),
    };
    if let Some(rotation) = pki::ca_rotation_in_progress(store)? {
        bail!("a CA rotation is in progress (phase {}, started {}): finish it with `{}` first", rotation.phase, rotation.started, format_args!("v6deploy -i {} certs rotate --ca", inv.source.display()));
    }
    let groups = if only.is_empty() { LeafGroup::ALL.to_vec() } else { only.clone() };
    let nodes: Vec<_> = if remote.settings.hosts.is_empty() { Vec::new() } else { remote.select(inv)?.into_iter().map(|h| h.name).collect() };
    let roles = pki::selected_leaves(inv, &groups, &nodes);
    let select = move |path: &str| pki::selects(&groups, path);
    if stage == Stage::RolloutOnly {
        return rollout.run(store, "Rotate certificates (resume)", select, events);
    }
    let (work, _scratch) = rollout.work_store(store, events)?;
    let reissued = pki::reissue(inv, &work, &roles, keys, now).with_context(|| format!("reissue certificates in {}", work.root().display()))?;
    events(Event::Reissued { certificates: &reissued, keys })?;
    if stage == Stage::ReissueOnly {
        events(Event::NotRolledOut)?;
        return Ok(exit::OK);
    }
    rollout.run(&work, "Rotate certificates", select, events)
}

/// What one rollout needs besides the store.
struct Rollout<'a> {
    remote: &'a Remote,
    inv: &'a Inventory,
    request: &'a Request<'a>,
    templates: Templates,
    stamp: String,
}

impl Rollout<'_> {
    /// The store to change: in a dry run a private scratch copy (so the plan is the real one;
    /// it lives as long as the second value), else `store` after a backup.
    fn work_store(&self, store: &Store, events: &mut dyn FnMut(Event<'_>) -> Result<()>) -> Result<(Store, Option<pki::Scratch>)> {
        if self.request.mode == Mode::DryRun {
            let scratch = pki::Scratch::copy_of(store)?;
            return Ok((scratch.store.clone(), Some(scratch)));
        }
        let saved = pki::backup(store, &self.stamp).with_context(|| format!("back up {}", store.root().display()))?;
        events(Event::BackedUp { store: store.root(), to: saved })?;
        Ok((store.clone(), None))
    }

    /// Pushes the selected files of the store to the hosts, one host at a time; returns the
    /// exit code.
    fn run(&self, store: &Store, title: &str, select: impl Fn(&str) -> bool + Send + Sync + 'static, events: &mut dyn FnMut(Event<'_>) -> Result<()>) -> Result<u8> {
        let bundle = bundle::check(self.inv)?;
        let desired = desired_state(self.inv, &self.templates, store)?;
        let state = Arc::new(RotateState {
            desired,
            bundle,
            select: Box::new(move |path| (is_pki(path) || path.ends_with(".conf")) && select(path)),
            stamp: self.stamp.clone(),
            keep_backups: self.request.keep_backups,
            resume: self.request.resume.clone(),
            health_seconds: self.request.health_timeout,
            title: title.to_string(),
        });
        let recap = self.remote.run_steps(self.inv, self.request.mode, &rotate::steps(&state))?;
        events(Event::RolledOut(&recap))?;
        Ok(recap.exit_code())
    }
}

/// The CA rotation, from the recorded phase to the end (or `stop_after`).
fn rotate_cas(rollout: &Rollout<'_>, store: &Store, now: OffsetDateTime, stop_after: Option<CaPhase>, events: &mut dyn FnMut(Event<'_>) -> Result<()>) -> Result<u8> {
    let inv = rollout.inv;
    let dry_run = rollout.request.mode == Mode::DryRun;
    let recorded = pki::ca_rotation_in_progress(store)?;
    let started = recorded.as_ref().map_or_else(|| rollout.stamp.clone(), |r| r.started.clone());
    let mut phase = recorded.as_ref().map_or(CaPhase::Bundle, |r| r.phase);
    match &recorded {
        Some(r) => events(Event::CaResumed { started: &r.started, phase: r.phase })?,
        None if !dry_run => {
            let saved = pki::backup(store, &rollout.stamp)?;
            events(Event::BackedUp { store: store.root(), to: saved })?;
        }
        None => {}
    }
    let scratch = if dry_run { Some(pki::Scratch::copy_of(store)?) } else { None };
    let work = scratch.as_ref().map_or_else(|| store.clone(), |s| s.store.clone());
    loop {
        // Record first, then act: every local part is idempotent, so a re-run redoes it safely.
        if phase != CaPhase::Done {
            pki::record_phase(&work, &CaRotation { phase, started: started.clone() })?;
        }
        let title = match phase {
            CaPhase::Bundle => {
                pki::start_ca_rotation(inv, &work, now)?;
                events(Event::CaBundled)?;
                "CA rotation 1/3: trust old and new CA"
            }
            CaPhase::Leaves => {
                let reissued = pki::reissue_from_new_ca(inv, &work, now)?;
                events(Event::CaLeavesReissued { count: reissued.len() })?;
                "CA rotation 2/3: leaves from the new CA"
            }
            CaPhase::Drop => {
                if let Some(archived) = pki::drop_old_ca(inv, &work, &rollout.stamp)? {
                    events(Event::CaOldArchived { to: archived })?;
                }
                "CA rotation 3/3: drop the old CA"
            }
            CaPhase::Done => {
                pki::record_phase(&work, &CaRotation { phase, started: started.clone() })?;
                events(Event::CaFinished)?;
                return Ok(exit::OK);
            }
        };
        let code = rollout.run(&work, title, pki::ca_rotation_selects, events)?;
        if code != exit::OK {
            events(Event::CaStopped { phase, record: store.path(pki::CA_ROTATION_FILE) })?;
            return Ok(code);
        }
        if dry_run {
            events(Event::CaDryRunStopped { phase })?;
            return Ok(exit::OK);
        }
        if stop_after == Some(phase) {
            events(Event::CaStoppedAfter { phase })?;
            return Ok(exit::OK);
        }
        phase = match phase {
            CaPhase::Bundle => CaPhase::Leaves,
            CaPhase::Leaves => CaPhase::Drop,
            CaPhase::Drop | CaPhase::Done => CaPhase::Done,
        };
    }
}

