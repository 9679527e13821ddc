//! What the install steps share: the desired files of every host, the bundle, the facts, and
//! which files each step changed (so a service restarts only when one of its files changed).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::bundle::{BundleCheck, BundleImage};
use crate::components::{Component, binary_path};
use crate::checks::Check;
use crate::hash_cache;
use crate::render::{HostFiles, Rendered};
use crate::transport::files::FileSpec;

use super::FactsStore;

/// How a component ended on a host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ComponentOutcome {
    /// Already running, and nothing it reads changed: left alone.
    Unchanged,
    /// Was not running: started (and enabled).
    Started,
    /// Was running and restarted because these files changed.
    Restarted { changed: Vec<String> },
    /// Configured and verified, not started: the bundle has no binary for it.
    Staged,
}

impl ComponentOutcome {
    /// Whether the service runs after the install (started, restarted or left running).
    pub fn is_running(&self) -> bool {
        !matches!(self, ComponentOutcome::Staged)
    }
}

/// How many changed files the recap names before "...".
const NAMED_FILES: usize = 3;

impl std::fmt::Display for ComponentOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ComponentOutcome::Unchanged => f.write_str("running (unchanged)"),
            ComponentOutcome::Started => f.write_str("started"),
            ComponentOutcome::Restarted { changed } => {
                let names: Vec<&str> = changed.iter().take(NAMED_FILES).map(String::as_str).collect();
                let more = if changed.len() > NAMED_FILES { ", ..." } else { "" };
                let files = if changed.len() == 1 { "file" } else { "files" };
                write!(f, "restarted ({} {files} changed: {}{more})", changed.len(), names.join(", "))
            }
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
    pub binaries: BTreeMap<&'static str, FileSpec>,
    /// The files of the bundle directories (CNI plugins, images), read once, by directory.
    pub bundle_files: BTreeMap<&'static str, Vec<FileSpec>>,
    /// The bundle's image archives and the references each holds.
    pub images: Vec<BundleImage>,
    /// Each node's pod subnet, as the API server has it (the host-routes pod network).
    pub pod_subnets: Mutex<BTreeMap<Ipv6Addr, ipnet::Ipv6Net>>,
    changed: Mutex<BTreeMap<Ipv6Addr, BTreeSet<String>>>,
    units_verified: Mutex<BTreeSet<Ipv6Addr>>,
    outcomes: Mutex<BTreeMap<Ipv6Addr, BTreeMap<&'static Component, ComponentOutcome>>>,
}

impl InstallState {
    /// Hashes the bundle's binaries and directory files (from the checksum cache when they
    /// are unchanged since an earlier run, see `hash_cache`); their contents are read only when sent.
    pub fn new(desired: Rendered, bundle: BundleCheck, skip_checks: Vec<Check>) -> std::io::Result<InstallState> {
        let mut paths: Vec<PathBuf> = bundle.present.iter().map(|(_, path)| path.clone()).collect();
        paths.extend(bundle.dirs.iter().flat_map(|(_, files)| files.iter().map(|(_, path)| path.clone())));
        let (hashed, stats) = hash_cache::hash_files(&paths, hash_cache::cache_file().as_deref())?;
        tracing::debug!("bundle: {} files, {} hashed ({} bytes), the rest from the checksum cache", stats.files, stats.hashed, stats.bytes_hashed);
        let mut hashed = hashed.iter();
        let mut binaries = BTreeMap::new();
        for (name, _) in &bundle.present {
            let file = hashed.next().ok_or_else(|| std::io::Error::other("bundle hashing lost a file"))?;
            binaries.insert(*name, FileSpec::local(binary_path(name), 0o755, file));
        }
        let mut bundle_files = BTreeMap::new();
        for (dir, files) in &bundle.dirs {
            let mut specs = Vec::new();
            for (name, _) in files {
                let file = hashed.next().ok_or_else(|| std::io::Error::other("bundle hashing lost a file"))?;
                specs.push(FileSpec::local(format!("{}/{name}", dir.host_dir), dir.mode, file));
            }
            bundle_files.insert(dir.dir, specs);
        }
        Ok(InstallState {
            desired,
            bundle,
            facts: FactsStore::default(),
            skip_checks,
            restart_lock: tokio::sync::Mutex::new(()),
            binaries,
            bundle_files,
            images: Vec::new(),
            pod_subnets: Mutex::default(),
            changed: Mutex::default(),
            units_verified: Mutex::default(),
            outcomes: Mutex::default(),
        })
    }

    /// The state with the bundle's image archives (see `bundle::images`).
    pub fn with_images(mut self, images: Vec<BundleImage>) -> InstallState {
        self.images = images;
        self
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

    /// Whether the run has changed nothing on a host so far: no file written, no service
    /// started or restarted.
    pub fn untouched(&self, address: Ipv6Addr) -> bool {
        let no_files = self.changed.lock().unwrap_or_else(|p| p.into_inner()).get(&address).is_none_or(|c| c.is_empty());
        let outcomes = self.outcomes.lock().unwrap_or_else(|p| p.into_inner());
        no_files && outcomes.get(&address).is_none_or(|o| o.values().all(|o| matches!(o, ComponentOutcome::Unchanged | ComponentOutcome::Staged)))
    }

    /// Whether the run has changed nothing on any host so far (see [`Self::untouched`]).
    pub fn nothing_changed(&self) -> bool {
        let mut hosts: Vec<Ipv6Addr> = self.changed.lock().unwrap_or_else(|p| p.into_inner()).keys().copied().collect();
        hosts.extend(self.outcomes.lock().unwrap_or_else(|p| p.into_inner()).keys().copied());
        hosts.into_iter().all(|address| self.untouched(address))
    }

    /// Records that a host's units, as this run wrote them, passed `systemd-analyze verify`.
    pub fn mark_units_verified(&self, address: Ipv6Addr) {
        self.units_verified.lock().unwrap_or_else(|p| p.into_inner()).insert(address);
    }

    /// Whether a host's units passed verification in this run.
    pub fn units_verified(&self, address: Ipv6Addr) -> bool {
        self.units_verified.lock().unwrap_or_else(|p| p.into_inner()).contains(&address)
    }

    /// Records how a component ended on a host.
    pub fn set_outcome(&self, address: Ipv6Addr, component: &'static Component, outcome: ComponentOutcome) {
        self.outcomes.lock().unwrap_or_else(|p| p.into_inner()).entry(address).or_default().insert(component, outcome);
    }

    /// Every component outcome.
    pub fn outcomes(&self) -> BTreeMap<Ipv6Addr, BTreeMap<&'static Component, ComponentOutcome>> {
        self.outcomes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::ComponentOutcome;

    /// Regression: a first start listed every file it had written as a restart reason.
    #[test]
    fn recap_outcome_says_started_or_restarted_with_a_short_file_list() {
        assert_eq!(ComponentOutcome::Started.to_string(), "started");
        assert_eq!(ComponentOutcome::Unchanged.to_string(), "running (unchanged)");
        let one = ComponentOutcome::Restarted { changed: vec!["/etc/etcd/etcd.conf.yml".into()] };
        assert_eq!(one.to_string(), "restarted (1 file changed: /etc/etcd/etcd.conf.yml)");
        let many = ComponentOutcome::Restarted { changed: (1..=5).map(|i| format!("/f{i}")).collect() };
        assert_eq!(many.to_string(), "restarted (5 files changed: /f1, /f2, /f3, ...)");
        assert!(!ComponentOutcome::Staged.is_running() && ComponentOutcome::Started.is_running());
    }

    /// The run has changed nothing while every host is untouched: a file written or a service
    /// (re)started anywhere ends that.
    #[test]
    fn nothing_changed_until_a_file_or_a_service_on_any_host() {
        use super::InstallState;
        use crate::bundle::BundleCheck;
        use crate::render::Rendered;
        let fresh = || InstallState::new(Rendered { hosts: vec![], cluster: vec![] }, BundleCheck { root: "/b".into(), present: vec![], missing: vec![], dirs: vec![], missing_files: vec![] }, vec![]).unwrap();
        let (a, b): (std::net::Ipv6Addr, std::net::Ipv6Addr) = ("2001:db8::1".parse().unwrap(), "2001:db8::2".parse().unwrap());
        let state = fresh();
        state.set_outcome(a, &crate::components::ETCD, ComponentOutcome::Unchanged);
        state.mark_changed(b, Vec::<String>::new());
        assert!(state.nothing_changed());
        state.mark_changed(b, vec!["/etc/hosts".to_string()]);
        assert!(!state.nothing_changed() && state.untouched(a) && !state.untouched(b));
        let state = fresh();
        state.set_outcome(b, &crate::components::CONTAINERD, ComponentOutcome::Started);
        assert!(!state.nothing_changed());
    }
}
