//! `lab up`: makes machines 1..=N of a lab exist and run. Machines already running are left
//! as they are; what an interrupted run left is cleaned first; new hosts are appended to the
//! inventory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::bundle;
use super::LabError;
use super::addressing::{DEFAULT_HOSTS, HostNumber, LabName, MAX_HOSTS, Subnet, allocate_subnet, subnet_of};
use super::base_image;
use super::cgroup;
use super::flavor::{self, Flavor, MachineInfo};
use super::command::Runner;
use super::host_limits;
use super::inventory_file::{self, Change, LabNetwork};
use super::machine::MachineDir;
use super::network;
use super::network_addons::{self, Addons};
use super::node;
use super::preflight;
use super::process::ProcessId;
use super::ssh_files;
use super::state::{LabDir, LabRecord, Lock, ProjectFiles, all_records, forget_kept_subnet, subnets_kept_for_others};
use super::status::{self, State};
use super::supervisor::{self, Files, Spec};
use super::teardown;
use super::test_kernel;

/// What `lab up` is asked to do.
#[derive(Debug, Clone)]
pub struct UpOptions {
    pub name: LabName,
    /// `--hosts`; `None` keeps the lab's size (3 for a new lab).
    pub hosts: Option<u16>,
    /// The project directory for `.lab/` and `inventories/`.
    pub project: PathBuf,
    pub mirror: String,
    /// `--flavor`; `None` keeps the lab's (Debian for a new lab).
    pub flavor: Option<Flavor>,
    /// `--addon-sources`: the network addons' source archives; `None`: looked for (see
    /// `network_addons::source_dirs`).
    pub addon_sources: Option<PathBuf>,
}

/// What `lab up` did.
#[derive(Debug, Clone)]
pub struct UpReport {
    pub name: LabName,
    pub flavor: Flavor,
    pub subnet: Subnet,
    pub files: ProjectFiles,
    /// Machines booted by this run.
    pub started: Vec<String>,
    /// Machines that were running and were left alone.
    pub kept: Vec<String>,
    /// Asked for fewer machines than the lab has: none are removed.
    pub larger_than_asked: Option<u16>,
    pub inventory: Change,
    /// Why flannel, CoreDNS and node-cache are not in the bundle (`None`: they are).
    pub addons_missing: Option<String>,
    pub elapsed: Duration,
}

/// Seconds to wait for sshd: a machine boots in about a second, but 50 at once on two cores
/// take longer.
fn ready_timeout(machines: usize) -> Duration {
    Duration::from_secs(60 + 3 * machines as u64)
}

pub fn up(runner: &Runner, options: &UpOptions) -> Result<UpReport, LabError> {
    let started_at = Instant::now();
    if let Some(requested) = options.hosts.filter(|n| !(1..=MAX_HOSTS).contains(n)) {
        return Err(LabError::HostCount { requested, max: MAX_HOSTS });
    }
    preflight::check()?;
    let _lock = Lock::acquire(runner)?;
    let lab = LabDir::new(&options.name);
    let others: u64 = all_records()?.iter().filter(|r| r.name != options.name.as_str()).map(|r| u64::from(r.hosts)).sum();
    let files = ProjectFiles { project: options.project.clone(), name: options.name.clone() };
    let new_lab = lab.load()?.is_none();
    let mut record = match lab.load()? {
        Some(record) if record.project != options.project => {
            return Err(LabError::OtherProject { name: record.name, project: record.project });
        }
        Some(record) if options.flavor.is_some_and(|f| f != record.flavor) => {
            return Err(LabError::OtherFlavor { name: record.name, flavor: record.flavor.to_string() });
        }
        Some(record) => record,
        None => {
            let used: BTreeSet<u16> = all_records()?.iter().map(|r| r.subnet).collect();
            let listed = inventory_file::listed_addresses(&files.inventory());
            let preferred = listed.as_ref().and_then(|a| a.first()).and_then(|a| subnet_of(*a));
            let kept = subnets_kept_for_others(&options.name);
            let subnet = allocate_subnet(&options.name, &used, &kept, preferred)?;
            set_aside_stale_inventory(runner, &files, subnet, listed.as_deref())?;
            LabRecord { name: options.name.to_string(), subnet: subnet.index(), project: options.project.clone(), hosts: 0, flavor: options.flavor.unwrap_or_default() }
        }
    };
    let requested = options.hosts.unwrap_or(DEFAULT_HOSTS);
    let larger_than_asked = (record.hosts > requested && options.hosts.is_some()).then_some(record.hosts);
    let count = requested.max(record.hosts);
    record.hosts = count;
    // Recorded before anything is made, so that a crash from here on leaves a record of it.
    lab.save(&record)?;
    // Up again: the record holds the subnet from here on.
    forget_kept_subnet(&options.name)?;
    if new_lab {
        // An inventory kept by `lab down` may list more machines than this new lab has.
        let removed = inventory_file::trim(&files.inventory(), record.subnet(), count)?;
        if !removed.is_empty() {
            let list: Vec<String> = removed.iter().map(ToString::to_string).collect();
            runner.note(format!("{}: removed {} (kept from an earlier, larger lab; this one has {count})", files.inventory().display(), list.join(", ")));
        }
    }
    let base = base_image::ensure(runner, &options.mirror, record.flavor)?;
    let sources = network_addons::source_dirs(&options.project, options.addon_sources.as_deref());
    let addons = bundle::ensure(runner, &files.bundle(), &options.mirror, &sources)?;
    let (network, addons_missing) = match addons {
        Addons::Built(_) => (LabNetwork::Flannel, None),
        Addons::Missing(why) => (LabNetwork::HostRoutes, Some(why)),
    };
    if record.flavor == Flavor::Centos7Sim {
        test_kernel::ensure(runner, &files.bundle())?;
    }
    host_limits::ensure(runner, others + u64::from(count))?;
    let subnet = record.subnet();
    let hosts: Vec<HostNumber> = HostNumber::first(count).collect();
    clean_leftovers(runner, &lab, subnet, &hosts)?;

    network::hold_lab_range(runner)?;
    network::ensure_bridge(runner, &options.name, subnet)?;
    let lab_key = ssh_files::ensure_key(runner, &files.key(), &format!("v6deploy-lab-{}", options.name))?;

    let mut started = Vec::new();
    let mut kept = Vec::new();
    for &host in &hosts {
        let machine = status::inspect(&lab, subnet, host);
        if machine.state.supervised() {
            kept.push(machine.name);
            continue;
        }
        if let State::Failed(reason) = &machine.state {
            runner.note(format!("{} had failed ({reason}); starting it again", machine.name));
        }
        start_machine(runner, &lab, subnet, host, &base, &lab_key, record.flavor)?;
        started.push((machine.name, machine.address));
    }
    if !started.is_empty() {
        runner.note(format!("waiting for sshd on {} machine(s)", started.len()));
        let late = status::wait_ssh(&started, ready_timeout(started.len()));
        if !late.is_empty() {
            return Err(LabError::NotReady { machines: late, seconds: ready_timeout(started.len()).as_secs(), logs: lab.machines() });
        }
    }

    let mut known = Vec::new();
    for &host in &hosts {
        known.push((subnet.host(host), MachineDir::new(lab.machine(host)).host_key()?));
    }
    ssh_files::write_known_hosts(&files.known_hosts(), &known)?;
    let inventory = inventory_file::ensure(&files.inventory(), &options.name, subnet, &hosts, network)?;
    Ok(UpReport {
        name: options.name.clone(),
        flavor: record.flavor,
        subnet,
        files,
        started: started.into_iter().map(|(name, _)| name).collect(),
        kept,
        larger_than_asked,
        inventory,
        addons_missing,
        elapsed: started_at.elapsed(),
    })
}

/// A new lab whose inventory file (kept by `lab down`) lists addresses outside the lab's
/// subnet would get its new hosts appended to stale ones: that file is renamed to `.old`.
fn set_aside_stale_inventory(runner: &Runner, files: &ProjectFiles, subnet: Subnet, listed: Option<&[std::net::Ipv6Addr]>) -> Result<(), LabError> {
    let path = files.inventory();
    let stale = match listed {
        Some(addresses) => addresses.iter().any(|a| !subnet.net().contains(a)),
        None => path.exists(),
    };
    if stale {
        let old = path.with_extension("yaml.old");
        runner.note(format!("{} does not match the lab's {} (left by an earlier lab?); moving it to {}", path.display(), subnet.net(), old.display()));
        std::fs::rename(&path, &old).map_err(LabError::io("rename", &path))?;
    }
    Ok(())
}

/// Removes machines beyond `hosts` (namespaces or directories left by a crash), and lab
/// processes that no pid file records.
fn clean_leftovers(runner: &Runner, lab: &LabDir, subnet: Subnet, hosts: &[HostNumber]) -> Result<(), LabError> {
    let recorded: Vec<_> = teardown::hosts_on_disk(lab)
        .into_iter()
        .flat_map(|h| {
            let files = Files::new(&lab.machine(h));
            [ProcessId::running(&files.supervisor_pid()), ProcessId::running(&files.nspawn_pid())]
        })
        .flatten()
        .collect();
    let strays: Vec<_> = teardown::lab_processes(lab).into_iter().filter(|p| !recorded.contains(p)).collect();
    teardown::end_processes(runner, &strays, Duration::from_secs(10))?;
    let wanted: BTreeSet<HostNumber> = hosts.iter().copied().collect();
    let mut extra: BTreeSet<HostNumber> = teardown::hosts_on_disk(lab).into_iter().filter(|h| !wanted.contains(h)).collect();
    extra.extend(network::lab_namespaces(&lab.name).into_iter().map(|(h, _)| h).filter(|h| !wanted.contains(h)));
    for host in extra {
        runner.note(format!("removing leftover machine {}", lab.name.machine(host)));
        teardown::stop_machines(runner, lab, &[host])?;
        teardown::remove_machine(runner, lab, Some(subnet), host)?;
    }
    Ok(())
}

/// Makes one machine and starts its supervisor. Everything is idempotent, so a machine left
/// half made (or stopped by a host restart) is completed; its host key and machine id stay.
fn start_machine(runner: &Runner, lab: &LabDir, subnet: Subnet, host: HostNumber, base: &Path, lab_key: &str, flavor: Flavor) -> Result<(), LabError> {
    let name = lab.name.machine(host);
    runner.note(format!("starting {name} at {}", subnet.host(host)));
    // An nspawn whose supervisor died, or a machine whose nspawn died, is stopped before
    // the machine is booted again.
    teardown::stop_machines(runner, lab, &[host])?;
    let dir = lab.machine(host);
    let machine = MachineDir::new(dir.clone());
    machine.ensure_mounted(runner, base)?;
    machine.ensure_identity(runner, &name, subnet.host(host), lab_key)?;
    network::ensure_machine(runner, &lab.name, subnet, host)?;
    let rootfs = machine.rootfs();
    node::install(&rootfs)?;
    let netns = lab.name.netns(host);
    flavor::setup(runner, flavor, &MachineInfo { rootfs: &rootfs, netns: &netns, address: subnet.host(host), gateway: subnet.gateway() })?;
    let cgroup = cgroup::path(lab.name.as_str(), Some(host.label()));
    // Empty cgroups of an earlier boot would be reused by nspawn; start from none.
    cgroup::remove(&cgroup)?;
    teardown::remove_controller_cgroups(&dir)?;
    let files = Files::new(&dir);
    let capabilities = flavor.capabilities().iter().map(|c| c.to_string()).collect();
    let binds = vec![(machine.containerd(), PathBuf::from(node::CONTAINERD_DIR))];
    let spec = Spec { machine: name, rootfs: machine.rootfs(), netns: network::netns_path(&lab.name.netns(host)), cgroup, capabilities, binds };
    supervisor::write_spec(&files, &spec)?;
    supervisor::start(runner, &files)?;
    Ok(())
}
