//! A control group per machine. `systemd-nspawn --keep-unit` without a host systemd puts the
//! container in `<its own cgroup>/payload` and itself in `<its own cgroup>/supervisor`; two
//! machines started from the same cgroup would share those. So each supervisor first moves
//! itself into `v6lab/<lab>/<host>` of every cgroup hierarchy nspawn uses.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use super::LabError;

const ROOT: &str = "/sys/fs/cgroup";

/// The hierarchies nspawn places containers in: the unified one, or on a hybrid or legacy
/// host the `name=systemd` one plus the unified one when mounted.
fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new(ROOT);
    if root.join("cgroup.controllers").exists() {
        return vec![root.to_path_buf()];
    }
    ["systemd", "unified"].iter().map(|h| root.join(h)).filter(|p| p.join("cgroup.procs").exists()).collect()
}

/// `v6lab/<lab>` or `v6lab/<lab>/<host>`, relative to each hierarchy.
pub fn path(lab: &str, host: Option<u16>) -> PathBuf {
    let lab = Path::new("v6lab").join(lab);
    match host {
        Some(label) => lab.join(label.to_string()),
        None => lab,
    }
}

/// Moves process `pid` into `relative` in every hierarchy, creating it.
pub fn enter(relative: &Path, pid: u32) -> Result<(), LabError> {
    for hierarchy in hierarchies() {
        let dir = hierarchy.join(relative);
        fs::create_dir_all(&dir).map_err(LabError::io("create cgroup", &dir))?;
        let procs = dir.join("cgroup.procs");
        fs::write(&procs, pid.to_string()).map_err(LabError::io("write", &procs))?;
    }
    Ok(())
}

/// Removes `relative` and every cgroup below it, deepest first. A cgroup that still holds
/// processes cannot be removed; that is an error naming it.
pub fn remove(relative: &Path) -> Result<(), LabError> {
    for hierarchy in hierarchies() {
        remove_tree(&hierarchy.join(relative))?;
    }
    Ok(())
}

/// Removes the `v6lab` cgroup itself when no lab has one left.
pub fn remove_root_if_empty() {
    for hierarchy in hierarchies() {
        // Fails harmlessly while another lab's cgroup is still inside.
        let _ = fs::remove_dir(hierarchy.join("v6lab"));
    }
}

fn remove_tree(dir: &Path) -> Result<(), LabError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(LabError::io("read cgroup", dir)(e)),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    match fs::remove_dir(dir) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(LabError::io("remove cgroup", dir)(e)),
        _ => Ok(()),
    }
}

/// Every process in `relative` or below it, in any hierarchy.
pub fn processes(relative: &Path) -> Vec<u32> {
    let mut found = Vec::new();
    for hierarchy in hierarchies() {
        collect(&hierarchy.join(relative), &mut found);
    }
    found.sort_unstable();
    found.dedup();
    found
}

fn collect(dir: &Path, found: &mut Vec<u32>) {
    if let Ok(text) = fs::read_to_string(dir.join("cgroup.procs")) {
        found.extend(text.lines().filter_map(|l| l.trim().parse::<u32>().ok()));
    }
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect(&entry.path(), found);
        }
    }
}

/// Whether any hierarchy still has `relative`.
pub fn exists(relative: &Path) -> bool {
    hierarchies().iter().any(|h| h.join(relative).exists())
}
