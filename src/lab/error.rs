//! Lab errors: what failed and what to do about it.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Why a lab command failed.
#[derive(Debug, Error)]
pub enum LabError {
    /// The lab creates namespaces, mounts and bridges: only root can.
    #[error("the lab needs root (it creates network namespaces, overlay mounts and a bridge): run it as root, e.g. with sudo")]
    NotRoot,
    /// Programs the lab runs are not installed.
    #[error("missing {programs}: apt-get install {packages}")]
    MissingPrograms { programs: String, packages: String },
    /// A lab name that would not fit interface names or the inventory's cluster name.
    #[error("{name:?} is not a lab name: use 1 to 9 characters a-z, 0-9 and '-' (not at either end), e.g. exp1")]
    BadName { name: String },
    /// `--hosts` outside 1..=50.
    #[error("--hosts {requested} is out of range: a lab has 1 to {max} machines")]
    HostCount { requested: u16, max: u16 },
    /// A machine argument that names no machine of the lab.
    #[error("lab {lab:?} has no machine {machine:?}: write its number (e.g. 101) or name (e.g. {lab}-101); `v6deploy lab status` lists them")]
    NoSuchMachine { lab: String, machine: String },
    /// `lab up --flavor` naming another flavor than the existing lab's.
    #[error("lab {name:?} is a {flavor} lab: machines do not change flavor; `v6deploy lab down --name {name}` first, or choose another --name")]
    OtherFlavor { name: String, flavor: String },
    /// A command for a lab that does not exist.
    #[error("there is no lab named {name:?}: `v6deploy lab status` lists the labs, `v6deploy lab up --name {name}` creates it")]
    NoSuchLab { name: String },
    /// The machine is not running, so nothing can be run in it.
    #[error("machine {machine} is not running: `v6deploy lab up` starts it")]
    NotRunning { machine: String },
    /// The lab exists but was created from another project directory.
    #[error("lab {name:?} belongs to the project in {}: run this command there, or choose another --name", project.display())]
    OtherProject { name: String, project: PathBuf },
    /// Every /64 of 2001:db8:0::/48 is taken by a lab.
    #[error("no free /64 left in 2001:db8:0::/48 for a new lab: remove a lab with `v6deploy lab down --name NAME`")]
    NoFreeSubnet,
    /// An external program could not be started.
    #[error("cannot run `{command}`")]
    Spawn {
        command: String,
        #[source]
        source: io::Error,
    },
    /// An external program exited with an error.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command { command: String, status: String, stderr: String },
    /// A file or directory could not be read, written or removed.
    #[error("cannot {action} {}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A state file the lab wrote no longer parses.
    #[error("cannot read lab state {}: remove it with `v6deploy lab down --name {name}` and start again", path.display())]
    State {
        name: String,
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// The inventory file cannot take the new hosts at its end.
    #[error("cannot append hosts to {}: {reason}; add these entries under `hosts:` by hand:\n{entries}", path.display())]
    InventoryAppend { path: PathBuf, reason: String, entries: String },
    /// Machines that did not open their SSH port in time.
    #[error("{} did not answer on port 22 within {seconds} s; see their logs in {}", machines.join(", "), logs.display())]
    NotReady { machines: Vec<String>, seconds: u64, logs: PathBuf },
    /// Processes that did not end when asked.
    #[error("{what} (pid {pid}) did not stop within {seconds} s")]
    DidNotStop { what: String, pid: u32, seconds: u64 },
    /// A second supervisor for a machine that has one.
    #[error("{} already has a supervisor (pid {pid})", machine.display())]
    AlreadySupervised { machine: PathBuf, pid: u32 },
    /// `lab down` finished but found something of the lab still there.
    #[error("lab {name:?} was not removed completely; still present: {}", leftovers.join("; "))]
    Leftovers { name: String, leftovers: Vec<String> },
}

impl LabError {
    /// An `Io` error for `action` on `path`.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> LabError {
        let path = path.into();
        move |source| LabError::Io { action, path, source }
    }
}
