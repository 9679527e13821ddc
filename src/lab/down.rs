//! `lab down`: stops and removes a lab's machines, namespaces, mounts, cgroups and bridge,
//! then checks that nothing of it is left. The unreachable route and rules go with the last lab.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use super::LabError;
use super::addressing::{HostNumber, LabName};
use super::cgroup;
use super::command::Runner;
use super::mounts;
use super::network;
use super::preflight;
use super::state::{LabDir, Lock, ProjectFiles, all_names, forget_kept_subnet, keep_subnet};
use super::teardown;

/// Whether `lab down` also removes the lab's files in the project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Keep `.lab/<name>/` and the inventory (the default).
    KeepFiles,
    /// Remove them too.
    Files,
}

/// What `lab down` did.
#[derive(Debug, Clone)]
pub struct DownReport {
    pub name: LabName,
    pub machines: usize,
    /// Project files kept (with `Purge::KeepFiles`) or removed.
    pub files: ProjectFiles,
    pub purge: Purge,
    /// Whether this was the last lab, so the unreachable route was dropped.
    pub last: bool,
    pub elapsed: Duration,
}

/// Removes lab `name`. `project` is where its files are when no record says otherwise.
pub fn down(runner: &Runner, name: &LabName, purge: Purge, project: &Path) -> Result<DownReport, LabError> {
    let started = Instant::now();
    preflight::check()?;
    let _lock = Lock::acquire(runner)?;
    let lab = LabDir::new(name);
    let record = lab.load()?;
    let mut hosts: Vec<HostNumber> = teardown::hosts_on_disk(&lab);
    hosts.extend(network::lab_namespaces(name).into_iter().map(|(h, _)| h));
    hosts.sort();
    hosts.dedup();
    let anything = record.is_some() || lab.root.exists() || !hosts.is_empty() || network::link_exists(&name.bridge());
    let files = ProjectFiles { project: record.as_ref().map_or_else(|| project.to_path_buf(), |r| r.project.clone()), name: name.clone() };
    if !anything {
        if purge == Purge::Files {
            // Also when its project is gone (a deleted directory): nothing will come back for
            // the subnet.
            forget_kept_subnet(name)?;
            // `lab down --purge` after a plain `lab down`: only the kept files are left.
            if files.dir().exists() || files.inventory().exists() {
                remove_project_files(&files)?;
                return Ok(DownReport { name: name.clone(), machines: 0, files, purge, last: all_names().is_empty(), elapsed: started.elapsed() });
            }
        }
        return Err(LabError::NoSuchLab { name: name.to_string() });
    }
    runner.note(format!("stopping {} machine(s) of lab {name}", hosts.len()));
    // Purged machines are killed at once: nothing on their disks is kept.
    let grace = if purge == Purge::Files { Duration::ZERO } else { teardown::HALT_SECONDS };
    teardown::stop_machines_within(runner, &lab, &hosts, grace)?;
    teardown::end_processes(runner, &teardown::lab_processes(&lab), Duration::from_secs(10))?;
    let subnet = record.as_ref().map(|r| r.subnet());
    for &host in &hosts {
        teardown::remove_machine(runner, &lab, subnet, host)?;
    }
    for point in mounts::below(&lab.root) {
        runner.run("umount", [&point])?;
    }
    cgroup::remove(&cgroup::path(name.as_str(), None))?;
    network::remove_bridge(runner, name)?;
    teardown::remove_unmounted_dir(&lab.root)?;
    let last = all_names().is_empty();
    if last {
        network::release_lab_range(runner)?;
        network::release_netns_dir(runner)?;
        cgroup::remove_root_if_empty();
    }
    match (purge, subnet) {
        (Purge::Files, _) => {
            remove_project_files(&files)?;
            forget_kept_subnet(name)?;
        }
        // The kept inventory names this subnet: other labs leave it for this one's return.
        (Purge::KeepFiles, Some(subnet)) => keep_subnet(name, subnet)?,
        (Purge::KeepFiles, None) => {}
    }
    check_gone(&lab, last)?;
    Ok(DownReport { name: name.clone(), machines: hosts.len(), files, purge, last, elapsed: started.elapsed() })
}

fn remove_project_files(files: &ProjectFiles) -> Result<(), LabError> {
    let dir = files.dir();
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(LabError::io("remove", &dir))?;
    }
    let inventory = files.inventory();
    if inventory.exists() {
        fs::remove_file(&inventory).map_err(LabError::io("remove", &inventory))?;
    }
    Ok(())
}

/// Everything of the lab that is still there.
pub fn leftovers(lab: &LabDir, last: bool) -> Result<Vec<String>, LabError> {
    let mut left = Vec::new();
    for (_, netns) in network::lab_namespaces(&lab.name) {
        left.push(format!("network namespace {netns}"));
    }
    for point in mounts::below(&lab.root) {
        left.push(format!("mount {}", point.display()));
    }
    if network::link_exists(&lab.name.bridge()) {
        left.push(format!("bridge {}", lab.name.bridge()));
    }
    for process in teardown::lab_processes(lab) {
        left.push(format!("process {}", process.pid));
    }
    if lab.root.exists() {
        left.push(format!("directory {}", lab.root.display()));
    }
    if cgroup::exists(&cgroup::path(lab.name.as_str(), None)) {
        left.push(format!("cgroup {}", cgroup::path(lab.name.as_str(), None).display()));
    }
    if last {
        left.extend(network::lab_range_held()?);
    }
    Ok(left)
}

fn check_gone(lab: &LabDir, last: bool) -> Result<(), LabError> {
    let left = leftovers(lab, last)?;
    if left.is_empty() { Ok(()) } else { Err(LabError::Leftovers { name: lab.name.to_string(), leftovers: left }) }
}
