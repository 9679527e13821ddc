//! Removing a lab's machines, and finding what an interrupted run left behind: processes
//! found by command line, namespaces by name, mounts by path. Shared by `lab down` and by
//! `lab up`, which cleans leftovers before it builds.

use std::fs;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use super::LabError;
use super::addressing::{HostNumber, Subnet};
use super::cgroup;
use super::command::Runner;
use super::machine::MachineDir;
use super::mounts;
use super::network;
use super::process::{self, ProcessId};
use super::state::LabDir;
use super::supervisor;

/// Supervisors and nspawns of `lab`, found by their command lines (they name a directory
/// under the lab's runtime directory), whether or not a pid file records them.
pub fn lab_processes(lab: &LabDir) -> Vec<ProcessId> {
    let prefix = format!("{}/", lab.root.display());
    let me = std::process::id();
    process::find(|words| {
        let supervisor = words.iter().any(|w| w == "supervise") && words.windows(2).any(|w| w[0] == "--machine" && w[1].starts_with(&prefix));
        let nspawn = words[0].ends_with("systemd-nspawn")
            && words.iter().any(|w| w.strip_prefix("--directory=").is_some_and(|d| d.starts_with(&prefix)));
        supervisor || nspawn
    })
    .into_iter()
    .filter(|p| p.pid != me)
    .collect()
}

/// Ends processes the lab started: SIGTERM (nspawn halts its machine), then after `grace`
/// SIGKILL to each and to nspawn's child, the machine's init.
pub fn end_processes(runner: &Runner, processes: &[ProcessId], grace: Duration) -> Result<(), LabError> {
    if processes.is_empty() {
        return Ok(());
    }
    for process in processes {
        runner.note(format!("ending leftover lab process {} (SIGTERM)", process.pid));
        process.signal(Signal::SIGTERM);
    }
    let left = process::wait_gone(processes, grace);
    let mut targets = left.clone();
    for process in &left {
        targets.extend(process::children(process.pid));
    }
    for process in &targets {
        runner.note(format!("lab process {} did not end; sending SIGKILL", process.pid));
        process.signal(Signal::SIGKILL);
    }
    match process::wait_gone(&targets, Duration::from_secs(5)).first() {
        Some(p) => Err(LabError::DidNotStop { what: "a lab process".into(), pid: p.pid, seconds: grace.as_secs() + 5 }),
        None => Ok(()),
    }
}

/// Hosts that have a machine directory.
pub fn hosts_on_disk(lab: &LabDir) -> Vec<HostNumber> {
    let mut hosts: Vec<HostNumber> = fs::read_dir(lab.machines())
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| lab.name.host_of_machine(e.file_name().to_str()?))
        .collect();
    hosts.sort();
    hosts
}

/// Removes what a machine has on the host once its processes are gone: mounts, namespace,
/// veth, cgroup and directory.
pub fn remove_machine(runner: &Runner, lab: &LabDir, subnet: Option<Subnet>, host: HostNumber) -> Result<(), LabError> {
    let dir = lab.machine(host);
    MachineDir::new(dir.clone()).unmount(runner)?;
    let veth = subnet.map(|s| s.veth(host));
    network::remove_machine(runner, &lab.name.netns(host), veth.as_deref())?;
    cgroup::remove(&cgroup::path(lab.name.as_str(), Some(host.label())))?;
    remove_controller_cgroups(&dir)?;
    remove_unmounted_dir(&dir)
}

/// Removes the cgroup v1 controller directories the machine's supervisor recorded.
pub fn remove_controller_cgroups(dir: &Path) -> Result<(), LabError> {
    let listed = supervisor::Files::new(dir).cgroups();
    let dirs: Vec<std::path::PathBuf> = fs::read_to_string(&listed).unwrap_or_default().lines().map(Into::into).collect();
    cgroup::remove_dirs(&dirs)
}

/// Stops machines: their supervisors and nspawns first (a clean halt), then whatever is
/// still in their cgroups; a machine whose nspawn was killed keeps running without it,
/// and only its cgroup still finds it.
pub fn stop_machines(runner: &Runner, lab: &LabDir, hosts: &[HostNumber]) -> Result<(), LabError> {
    stop_machines_within(runner, lab, hosts, HALT_SECONDS)
}

/// How long a machine has to halt cleanly before it is killed.
pub const HALT_SECONDS: Duration = Duration::from_secs(20);

/// `stop_machines`, giving the machines `grace` to halt cleanly (zero: killed at once, for a
/// machine whose disk is thrown away next: a pod that ignores SIGTERM would hold a clean halt
/// for the whole grace).
pub fn stop_machines_within(runner: &Runner, lab: &LabDir, hosts: &[HostNumber], grace: Duration) -> Result<(), LabError> {
    let dirs: Vec<_> = hosts.iter().map(|h| lab.machine(*h)).collect();
    supervisor::stop_all(runner, &dirs, grace)?;
    let me = std::process::id();
    let mut left = Vec::new();
    for &host in hosts {
        let cgroup = cgroup::path(lab.name.as_str(), Some(host.label()));
        left.extend(cgroup::processes(&cgroup).into_iter().filter(|pid| *pid != me).filter_map(ProcessId::of));
    }
    for process in &left {
        runner.note(format!("killing process {} left in a lab machine's cgroup (SIGKILL)", process.pid));
        process.signal(Signal::SIGKILL);
    }
    match process::wait_gone(&left, Duration::from_secs(10)).first() {
        Some(p) => Err(LabError::DidNotStop { what: "a process of a lab machine".into(), pid: p.pid, seconds: 10 }),
        None => Ok(()),
    }
}

/// Removes a directory tree, refusing while anything is mounted below it (removing through
/// a mounted overlay would reach into other file systems).
pub fn remove_unmounted_dir(dir: &Path) -> Result<(), LabError> {
    if let Some(point) = mounts::below(dir).first() {
        let busy = std::io::Error::other(format!("{} is still mounted", point.display()));
        return Err(LabError::io("remove", dir)(busy));
    }
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LabError::io("remove", dir)(e)),
        _ => Ok(()),
    }
}
