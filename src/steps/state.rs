//! What the install steps share: the desired files of every host, the bundle, the facts, and
//! which files each step changed (so a service restarts only when one of its files changed).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::sync::Mutex;

use crate::bundle::{BundleCheck, Component};
use crate::checks::Check;
use crate::render::{HostFiles, Rendered};
use crate::transport::files::FileSpec;

use super::FactsStore;

/// How a component ended on a host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentOutcome {
    /// Running; restarted because these files changed (empty: already running, untouched).
    Running { restarted_for: Vec<String> },
    /// Configured and verified, not started: the bundle has no binary for it.
    Staged,
}

impl std::fmt::Display for ComponentOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ComponentOutcome::Running { restarted_for } if restarted_for.is_empty() => f.write_str("running (unchanged)"),
            ComponentOutcome::Running { restarted_for } => write!(f, "running (restarted: {} changed)", restarted_for.join(", ")),
            ComponentOutcome::Staged => f.write_str("staged (no binary in bundle)"),
        }
    }
}

/// State shared by the steps of one install run.
pub struct InstallState {
    pub desired: Rendered,
    pub bundle: BundleCheck,
    pub facts: FactsStore,
    pub skip_checks: Vec<Check>,
    /// Held while a running service restarts, so rolling restarts go one host at a time.
    pub restart_lock: tokio::sync::Mutex<()>,
    /// The bundle's binaries, read and hashed once, at their path on the hosts.
    pub binaries: BTreeMap<Component, FileSpec>,
    changed: Mutex<BTreeMap<Ipv6Addr, BTreeSet<String>>>,
    outcomes: Mutex<BTreeMap<Ipv6Addr, BTreeMap<Component, ComponentOutcome>>>,
}

impl InstallState {
    /// Reads the bundle's binaries once.
    pub fn new(desired: Rendered, bundle: BundleCheck, skip_checks: Vec<Check>) -> std::io::Result<InstallState> {
        let mut binaries = BTreeMap::new();
        for (component, path) in &bundle.present {
            let contents = std::fs::read(path).map_err(|e| std::io::Error::new(e.kind(), format!("read {}: {e}", path.display())))?;
            binaries.insert(*component, FileSpec::root(component.host_path(), 0o755, contents));
        }
        Ok(InstallState { desired, bundle, facts: FactsStore::default(), skip_checks, restart_lock: tokio::sync::Mutex::new(()), binaries, changed: Mutex::default(), outcomes: Mutex::default() })
    }

    /// The desired files of a host.
    pub fn host(&self, address: Ipv6Addr) -> Option<&HostFiles> {
        self.desired.hosts.iter().find(|h| h.address == address)
    }

    /// A host's desired files whose path satisfies `select`, as root-owned file specs.
    pub fn files(&self, address: Ipv6Addr, select: impl Fn(&str) -> bool) -> Vec<FileSpec> {
        self.host(address)
            .map(|h| h.files.iter().filter(|f| select(&f.path)).map(|f| FileSpec::root(f.path.clone(), f.mode, f.contents.as_bytes())).collect())
            .unwrap_or_default()
    }

    /// Records paths that changed (or would) on a host.
    pub fn mark_changed(&self, address: Ipv6Addr, paths: impl IntoIterator<Item = String>) {
        self.changed.lock().unwrap_or_else(|p| p.into_inner()).entry(address).or_default().extend(paths);
    }

    /// Changed paths on a host that satisfy `select`.
    pub fn changed(&self, address: Ipv6Addr, select: impl Fn(&str) -> bool) -> Vec<String> {
        self.changed.lock().unwrap_or_else(|p| p.into_inner()).get(&address).map(|s| s.iter().filter(|p| select(p)).cloned().collect()).unwrap_or_default()
    }

    /// Records how a component ended on a host.
    pub fn set_outcome(&self, address: Ipv6Addr, component: Component, outcome: ComponentOutcome) {
        self.outcomes.lock().unwrap_or_else(|p| p.into_inner()).entry(address).or_default().insert(component, outcome);
    }

    /// Every component outcome.
    pub fn outcomes(&self) -> BTreeMap<Ipv6Addr, BTreeMap<Component, ComponentOutcome>> {
        self.outcomes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
