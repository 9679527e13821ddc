//! Where a lab keeps its state, and the record of what it is.
//!
//! Runtime state (overlays, pid files, logs) lives under `/var/lib/v6deploy/lab/<name>/`;
//! the files a user works with (SSH key, known_hosts, inventory) live in the project
//! directory the lab was created from: `.lab/<name>/` and `inventories/`.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::LabError;
use super::addressing::{HostNumber, LabName, Subnet};

/// Every lab's runtime directory is under this one.
pub const RUNTIME_ROOT: &str = "/var/lib/v6deploy/lab";

/// What `lab up` recorded about a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabRecord {
    pub name: String,
    /// The lab's /64 is `2001:db8:0:<subnet>::/64`.
    pub subnet: u16,
    /// The project directory holding `.lab/<name>/` and the inventory.
    pub project: PathBuf,
    /// Machines 1..=hosts exist (or are being made).
    pub hosts: u16,
    /// What the machines are (a record written before flavors existed is Debian).
    #[serde(default)]
    pub flavor: super::flavor::Flavor,
}

impl LabRecord {
    pub fn subnet(&self) -> Subnet {
        // `max(1)` keeps the index non-zero, which is all `Subnet::new` asks.
        Subnet::new(self.subnet.max(1)).expect("a non-zero subnet index")
    }
}

/// A lab's runtime directory.
#[derive(Debug, Clone)]
pub struct LabDir {
    pub name: LabName,
    pub root: PathBuf,
}

impl LabDir {
    pub fn new(name: &LabName) -> LabDir {
        LabDir { name: name.clone(), root: Path::new(RUNTIME_ROOT).join(name.as_str()) }
    }

    fn record_path(&self) -> PathBuf {
        self.root.join("lab.json")
    }

    pub fn machines(&self) -> PathBuf {
        self.root.join("machines")
    }

    pub fn machine(&self, host: HostNumber) -> PathBuf {
        self.machines().join(host.label().to_string())
    }

    /// The lab's record, if `lab up` ever wrote one.
    pub fn load(&self) -> Result<Option<LabRecord>, LabError> {
        let path = self.record_path();
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|source| LabError::State { name: self.name.to_string(), path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LabError::io("read", path)(e)),
        }
    }

    /// Writes the record (to a temporary file renamed into place).
    pub fn save(&self, record: &LabRecord) -> Result<(), LabError> {
        fs::create_dir_all(&self.root).map_err(LabError::io("create", &self.root))?;
        let path = self.record_path();
        let temporary = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(record).map_err(|source| LabError::State { name: self.name.to_string(), path: path.clone(), source })?;
        fs::write(&temporary, text + "\n").map_err(LabError::io("write", &temporary))?;
        fs::rename(&temporary, &path).map_err(LabError::io("rename into", &path))
    }
}

/// The records of every lab on this host, by name.
pub fn all_records() -> Result<Vec<LabRecord>, LabError> {
    let entries = match fs::read_dir(RUNTIME_ROOT) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(LabError::io("read", RUNTIME_ROOT)(e)),
    };
    let mut records = Vec::new();
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().and_then(|n| LabName::parse(n).ok()) else { continue };
        if let Some(record) = LabDir::new(&name).load()? {
            records.push(record);
        }
    }
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(records)
}

/// Where `lab down` without `--purge` notes the subnet of each lab whose files it kept: one
/// file per lab, named after it, holding the subnet index. Not a lab name (leading dot), so
/// never taken for a lab's runtime directory.
const KEPT_DIR: &str = ".kept-subnets";

fn kept_dir() -> PathBuf {
    Path::new(RUNTIME_ROOT).join(KEPT_DIR)
}

fn kept_path(name: &LabName) -> PathBuf {
    kept_dir().join(name.as_str())
}

/// Notes that lab `name` went down with its files kept, its inventory naming `subnet`: other
/// labs made meanwhile leave that subnet alone while another is free (`allocate_subnet`),
/// so the kept inventory's addresses are still the lab's when it comes back up.
pub fn keep_subnet(name: &LabName, subnet: super::addressing::Subnet) -> Result<(), LabError> {
    let (dir, path) = (kept_dir(), kept_path(name));
    fs::create_dir_all(&dir).map_err(LabError::io("create", &dir))?;
    fs::write(&path, format!("{}\n", subnet.index())).map_err(LabError::io("write", &path))
}

/// Drops lab `name`'s note (it is up again, or its files were purged).
pub fn forget_kept_subnet(name: &LabName) -> Result<(), LabError> {
    let path = kept_path(name);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LabError::io("remove", &path)(e)),
        _ => Ok(()),
    }
}

/// The subnets kept for labs other than `name` (see `keep_subnet`); unreadable notes are
/// skipped (they only steer the choice of a free subnet).
pub fn subnets_kept_for_others(name: &LabName) -> BTreeSet<u16> {
    fs::read_dir(kept_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_str() != Some(name.as_str()))
        .filter_map(|e| fs::read_to_string(e.path()).ok()?.trim().parse().ok())
        .collect()
}

/// Names of every lab with a runtime directory, recorded or not (a crash can leave one
/// without its record).
pub fn all_names() -> Vec<LabName> {
    let mut names: Vec<LabName> = fs::read_dir(RUNTIME_ROOT)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().and_then(|n| LabName::parse(n).ok()))
        .collect();
    names.sort();
    names
}

/// Held while `lab up` or `lab down` runs: one lab command changes the host at a time, so
/// subnet allocation, the shared unreachable route and the base image never race.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn acquire(runner: &super::command::Runner) -> Result<Lock, LabError> {
        fs::create_dir_all(RUNTIME_ROOT).map_err(LabError::io("create", RUNTIME_ROOT))?;
        let path = Path::new(RUNTIME_ROOT).join(".lock");
        let file = File::create(&path).map_err(LabError::io("create", &path))?;
        if file.try_lock().is_err() {
            runner.note(format!("waiting for another lab command to finish (lock {})", path.display()));
            file.lock().map_err(LabError::io("lock", &path))?;
        }
        Ok(Lock { _file: file })
    }
}

/// The user-facing files of a lab inside its project directory.
#[derive(Debug, Clone)]
pub struct ProjectFiles {
    pub project: PathBuf,
    pub name: LabName,
}

impl ProjectFiles {
    /// `.lab/<name>` relative to the project.
    pub fn relative_dir(&self) -> PathBuf {
        Path::new(".lab").join(self.name.as_str())
    }

    pub fn dir(&self) -> PathBuf {
        self.project.join(self.relative_dir())
    }

    /// The lab's offline bundle (etcd from Debian).
    pub fn bundle(&self) -> PathBuf {
        self.dir().join("bundle")
    }

    pub fn key(&self) -> PathBuf {
        self.dir().join("id_ed25519")
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.dir().join("known_hosts")
    }

    /// `inventories/lab.yaml` or `inventories/lab-<name>.yaml`, relative to the project.
    pub fn relative_inventory(&self) -> PathBuf {
        Path::new("inventories").join(self.name.inventory_file())
    }

    pub fn inventory(&self) -> PathBuf {
        self.project.join(self.relative_inventory())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_files_sit_in_dot_lab_and_inventories() {
        let files = ProjectFiles { project: "/p".into(), name: LabName::parse("exp").unwrap() };
        assert_eq!(files.key(), Path::new("/p/.lab/exp/id_ed25519"));
        assert_eq!(files.known_hosts(), Path::new("/p/.lab/exp/known_hosts"));
        assert_eq!(files.inventory(), Path::new("/p/inventories/lab-exp.yaml"));
        let dir = LabDir::new(&LabName::default());
        assert_eq!(dir.machine(HostNumber::new(2).unwrap()), Path::new("/var/lib/v6deploy/lab/lab/machines/102"));
    }
}
