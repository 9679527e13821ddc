//! Kernel upgrade: gather facts, then upgrade the hosts below `kernel.minimum` in rolling
//! batches (one host at a time by default; never every control-plane host, nor more etcd
//! members than quorum survives, at once: see `runner::batches`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::bundle::BundleError;
use crate::inventory::{Inventory, KernelSource};
use crate::ops::kernel::bundle_kernel;
use crate::runner::{DownAtOnce, Mode, Recap, Step};
use crate::steps::{FactsStore, GatherFacts, KernelUpgrade};
use crate::transport::files::has_control_characters;

use super::remote::Remote;

pub use crate::ops::kernel::{Offer, Plan, plan};

/// How the upgrade runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Hosts upgraded at once, as asked (`--parallel`).
    pub parallel: usize,
    /// How long a host may take to reboot.
    pub reboot_timeout: Duration,
}

/// The bundle's `rpms/` directory.
pub fn rpms_dir(inv: &Inventory) -> PathBuf {
    inv.bundle.path.join("rpms")
}

/// What can be installed: the inventory's repository package, or the bundle's newest kernel.
/// A file of `rpms/` whose name holds a control character (or is not UTF-8) is refused.
pub fn offer(inv: &Inventory) -> Result<Offer, BundleError> {
    Ok(match &inv.kernel.source {
        KernelSource::Repository { package, repository } => Offer::Repository { package: package.to_string(), repository: repository.as_ref().map(ToString::to_string) },
        KernelSource::Bundle => Offer::Bundle(bundle_kernel(&file_names(&rpms_dir(inv))?)),
    })
}

fn file_names(dir: &Path) -> Result<Vec<String>, BundleError> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match entry.file_name().into_string() {
            Ok(name) if !has_control_characters(&name) => names.push(name),
            _ => return Err(BundleError::UnsafeName { path: entry.path() }),
        }
    }
    names.sort();
    Ok(names)
}

/// The batch size for `--parallel requested`, with a note when quorum keeps batches smaller
/// for some hosts: the runner never puts more than (members − 1) / 2 etcd members, nor every
/// control-plane host, in one batch (`runner::batches`), whatever `--parallel` says.
pub fn safe_parallel(inv: &Inventory, requested: usize) -> (usize, Option<String>) {
    let requested = requested.max(1);
    let limits = DownAtOnce::of(inv);
    let (etcd, control_plane) = limits.members;
    let mut caps = Vec::new();
    if etcd > 0 && requested > limits.etcd {
        caps.push(format!("{} of {etcd} etcd members", limits.etcd));
    }
    if control_plane > 0 && requested > limits.control_plane {
        caps.push(format!("{} of {control_plane} control-plane hosts", limits.control_plane));
    }
    let note = (!caps.is_empty()).then(|| format!("--parallel {requested}: at most {} in a batch (quorum)", caps.join(" and ")));
    (requested, note)
}

/// The steps of `kernel upgrade`.
pub fn steps(inv: &Inventory, facts: &FactsStore, options: &Options) -> Result<Vec<Box<dyn Step>>> {
    let (parallel, _) = safe_parallel(inv, options.parallel);
    Ok(vec![
        Box::new(GatherFacts { store: facts.clone(), peers: inv.addresses() }),
        Box::new(KernelUpgrade { facts: facts.clone(), offer: offer(inv)?, rpms_dir: rpms_dir(inv), parallel, reboot_timeout: options.reboot_timeout }),
    ])
}

/// Upgrades the selected hosts below `kernel.minimum` (or, in a dry run, plans it).
pub fn upgrade(remote: &Remote, inv: &Inventory, mode: Mode, options: &Options) -> Result<Recap> {
    let store = FactsStore::default();
    remote.run_steps(inv, mode, &steps(inv, &store, options)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: `--parallel 3` was lowered to 2 on 3 etcd members (2 down: quorum lost),
    /// and this test asserted it. Batches now take one etcd member at a time.
    #[test]
    fn never_more_etcd_members_than_quorum_allows_at_once() {
        let text = include_str!("../../inventories/field-report.yaml");
        let inv = crate::inventory::parse(Path::new("field-report.yaml"), text).unwrap().inventory;
        assert_eq!(safe_parallel(&inv, 1), (1, None));
        assert_eq!(safe_parallel(&inv, 0).0, 1);
        let (n, note) = safe_parallel(&inv, 3);
        assert_eq!(n, 3);
        assert_eq!(note.unwrap(), "--parallel 3: at most 1 of 3 etcd members and 2 of 3 control-plane hosts in a batch (quorum)");
        let hosts: Vec<&crate::inventory::HostSpec> = inv.hosts.iter().collect();
        let batches = crate::runner::batches(&hosts, &[0, 1, 2], n, DownAtOnce::of(&inv));
        assert_eq!(batches, [vec![0], vec![1], vec![2]], "one etcd member per reboot");
    }
}
