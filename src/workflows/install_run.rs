//! Running `install`: refuse hosts of another cluster and hosts that `node add` is for, make
//! or check the PKI, build the desired state, run [`install::steps`](super::install::steps)
//! and report what each component ended as. Shared with `node add`: the PKI, the state and
//! the report.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use crate::bundle::{self, BundleCheck, BundleImage};
use crate::components::Component;
use crate::checks::Check;
use crate::desired::desired_state;
use crate::inventory::Inventory;
use crate::pki::{self, Store};
use crate::render::Templates;
use crate::runner::{Mode, Recap};
use crate::steps::{ComponentOutcome, InstallState};

use super::remote::Remote;
use super::{install, kernel, membership};

/// How every component ended on every host.
pub type Outcomes = BTreeMap<Ipv6Addr, BTreeMap<&'static Component, ComponentOutcome>>;

/// What `install` is asked to do beyond the inventory.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Apply, or only plan.
    pub mode: Mode,
    /// Failed preflight checks that do not stop the run.
    pub skip_checks: Vec<Check>,
    /// `--upgrade-kernel`: upgrade hosts below `kernel.minimum` first.
    pub upgrade_kernel: Option<kernel::Options>,
    /// Template overrides.
    pub templates_dir: Option<&'a Path>,
}

/// Something worth telling before the hosts are changed (the run takes a while).
#[derive(Debug)]
pub enum Note {
    /// The PKI is ready: what `pki::generate` did in the store (`scratch`: in a scratch copy
    /// of it, for a dry run; the store itself was not touched).
    Pki { root: PathBuf, report: pki::Report, scratch: bool },
    /// The bundle lacks these binaries (`bundle.missing: stage`): what needs them is staged.
    Staged { root: PathBuf, binaries: Vec<&'static str> },
    /// `node add` leaves etcd with an even number of members.
    EvenEtcd { members: usize },
    /// The PKI store is locked by another v6deploy command (`holder`); this one waits.
    StoreLocked { root: PathBuf, holder: String },
    /// Something about the bundle worth knowing (a binary that cannot be checked here, an
    /// image the hosts must pull).
    Bundle { root: PathBuf, note: String },
}

/// The end of an `install` or `node add` run.
pub struct Report {
    /// Per host ok / changed / failed, and every change.
    pub recap: Recap,
    /// How every component ended on every host.
    pub outcomes: Outcomes,
    /// The bundle the binaries came from.
    pub bundle: BundleCheck,
    /// The cluster's PKI on this machine (a dry run's: a scratch copy, gone with the report).
    pub store: Store,
    /// A dry run's scratch copy of the store, removed when the report is dropped.
    pub scratch: Option<pki::Scratch>,
}

/// Installs the cluster onto the hosts of `inv`, telling `notes` what happens before the run.
pub fn run(remote: &Remote, inv: &Inventory, request: &Request<'_>, notes: &mut dyn FnMut(Note)) -> Result<Report> {
    let (bundle, images) = prepare_bundle(inv, notes)?;
    let membership = membership::read(remote, inv)?;
    if let Some((address, other)) = membership.foreign.iter().next() {
        bail!("{address} belongs to another cluster ({other}); nothing was changed");
    }
    if !membership.members.is_empty() {
        let outside: Vec<String> = inv.hosts.iter().filter(|h| !membership.members.contains(&h.address) && !membership.unreachable.contains_key(&h.address)).map(|h| h.address.to_string()).collect();
        if !outside.is_empty() {
            bail!(
                "cluster {} is running and {} not in it: add them with `v6deploy -i {} node add {}`, or delete them from the inventory if `node remove` took them out; nothing was changed",
                inv.cluster.name,
                outside.join(", "),
                inv.source.display(),
                outside.join(" ")
            );
        }
    }
    let (store, scratch) = prepare_pki(inv, "prepare the PKI in", request.mode, notes)?;
    let templates = Templates::load(request.templates_dir)?;
    let desired = desired_state(inv, &templates, &store)?;
    let mut skip_checks = request.skip_checks.clone();
    if request.upgrade_kernel.is_some() {
        // The kernel is upgraded before the kernel gate, which still checks it afterwards.
        skip_checks.push(Check::Kernel);
    }
    let state = Arc::new(InstallState::new(desired, bundle, skip_checks)?.with_images(images));
    let options = install::Options { upgrade_kernel: request.upgrade_kernel.clone() };
    let steps = install::steps(inv, &state, &options)?;
    let recap = remote.run_steps(inv, request.mode, &steps)?;
    Ok(report(recap, &state, store, scratch))
}

/// Checks the bundle before any host is touched: the binaries the inventory needs (missing
/// ones refused, or staged), the Kubernetes binaries' release, the image archives and the
/// references they hold.
pub(crate) fn prepare_bundle(inv: &Inventory, notes: &mut dyn FnMut(Note)) -> Result<(BundleCheck, Vec<BundleImage>)> {
    let bundle = bundle::check(inv)?;
    let root = bundle.root.clone();
    for note in bundle::check_versions(&bundle, inv.cluster.kubernetes_version)? {
        notes(Note::Bundle { root: root.clone(), note });
    }
    let images = bundle::images(&bundle)?;
    if !bundle::holds(&images, inv.images.sandbox.as_str()) {
        let note = format!("images/ has no archive of images.sandbox {}: every node must be able to pull it", inv.images.sandbox);
        notes(Note::Bundle { root: root.clone(), note });
    }
    if !bundle.missing.is_empty() {
        notes(Note::Staged { root: root.clone(), binaries: bundle.missing.clone() });
    }
    if !bundle.missing_files.is_empty() {
        notes(Note::Bundle { root, note: format!("lacks {} (bundle.missing: stage): not installed", bundle.missing_files.join(", ")) });
    }
    Ok((bundle, images))
}

/// Locks the inventory's PKI store for the rest of the command (`Store::lock`), makes what is
/// missing in it and tells `notes` what was done; `doing` says what for in an error ("prepare
/// the PKI in").
pub(crate) fn prepare_pki(inv: &Inventory, doing: &str, mode: Mode, notes: &mut dyn FnMut(Note)) -> Result<(Store, Option<pki::Scratch>)> {
    let unlocked = Store::for_inventory(inv);
    let root = unlocked.root().to_path_buf();
    if mode == Mode::DryRun {
        // A shared lock while the store is copied; nothing in the store is written.
        let _reading = unlocked.read_lock(&mut |holder| notes(Note::StoreLocked { root: root.clone(), holder: holder.to_string() }))?;
        let scratch = pki::Scratch::copy_of(&unlocked).with_context(|| format!("copy {} for the dry run", root.display()))?;
        let report = pki::generate(inv, &scratch.store).with_context(|| format!("{doing} a scratch copy of {}", root.display()))?;
        notes(Note::Pki { root, report, scratch: true });
        return Ok((scratch.store.clone(), Some(scratch)));
    }
    // Held until the command ends (the report keeps the store).
    let store = unlocked.lock(&mut |holder| notes(Note::StoreLocked { root: root.clone(), holder: holder.to_string() }))?;
    let report = pki::generate(inv, &store).with_context(|| format!("{doing} {}", store.root().display()))?;
    notes(Note::Pki { root: store.root().to_path_buf(), report, scratch: false });
    Ok((store, None))
}

/// The report of a run of `steps` over `state`.
pub(crate) fn report(recap: Recap, state: &InstallState, store: Store, scratch: Option<pki::Scratch>) -> Report {
    Report { recap, outcomes: state.outcomes(), bundle: state.bundle.clone(), store, scratch }
}
