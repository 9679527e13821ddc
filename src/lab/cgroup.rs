//! A control group per machine. `systemd-nspawn --keep-unit` without a host systemd puts the
//! container in `<its own cgroup>/payload` and itself in `<its own cgroup>/supervisor`; two
//! machines started from the same cgroup would share those. So each supervisor first moves
//! itself into `v6lab/<lab>/<host>` of every cgroup hierarchy nspawn uses.
//!
//! On a cgroup v1 host the supervisor also makes the machine a cgroup of its own in every
//! controller (memory, cpu, pids, ...), below the cgroup it was started in there (this
//! machine's own tooling may have put it in one, which it does not leave), and records
//! their paths in the machine directory: a lab machine that runs a kubelet then has its own
//! `/kubepods` (see `node`).

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

/// The cgroup v1 controller mounts (not `name=systemd`) in mountinfo text, each with the
/// cgroup that `proc_cgroup` (a `/proc/PID/cgroup`) names in it: `(mount point, cgroup)`.
pub fn controllers(mountinfo: &str, proc_cgroup: &str) -> Vec<(PathBuf, PathBuf)> {
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(dash) = fields.iter().position(|f| *f == "-") else { continue };
        let (Some(&"cgroup"), Some(options), Some(point)) = (fields.get(dash + 1), fields.get(dash + 3), fields.get(4)) else { continue };
        let names: Vec<&str> = options.split(',').filter(|o| !matches!(*o, "rw" | "ro" | "xattr" | "noprefix" | "clone_children" | "cpuset_v2_mode") && !o.contains('=')).collect();
        if names.is_empty() || options.split(',').any(|o| o.starts_with("name=")) {
            continue;
        }
        let current = proc_cgroup.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, list, path) = (parts.next()?, parts.next()?, parts.next()?);
            let mut listed: Vec<&str> = list.split(',').collect();
            let mut wanted = names.clone();
            listed.sort_unstable();
            wanted.sort_unstable();
            (listed == wanted).then(|| PathBuf::from(path))
        });
        found.push((PathBuf::from(point), current.unwrap_or_else(|| PathBuf::from("/"))));
    }
    found
}

/// Moves process `pid` into `<its cgroup>/<relative>` of every cgroup v1 controller, creating
/// it; returns the directories (to be recorded for `remove_dirs`).
pub fn enter_controllers(relative: &Path, pid: u32) -> Result<Vec<PathBuf>, LabError> {
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").map_err(LabError::io("read", "/proc/self/mountinfo"))?;
    let proc_cgroup = fs::read_to_string("/proc/self/cgroup").map_err(LabError::io("read", "/proc/self/cgroup"))?;
    let mut dirs = Vec::new();
    for (point, current) in controllers(&mountinfo, &proc_cgroup) {
        let base = point.join(current.strip_prefix("/").unwrap_or(&current));
        let dir = base.join(relative);
        create_levels(&base, relative)?;
        let procs = dir.join("cgroup.procs");
        fs::write(&procs, pid.to_string()).map_err(LabError::io("write", &procs))?;
        dirs.push(dir);
    }
    Ok(dirs)
}

/// Creates each level of `relative` below `base`; a new cpuset cgroup gets its parent's CPUs
/// and memory nodes (it takes no process without them).
fn create_levels(base: &Path, relative: &Path) -> Result<(), LabError> {
    let mut dir = base.to_path_buf();
    for part in relative.components() {
        let parent = dir.clone();
        dir.push(part);
        if dir.is_dir() {
            continue;
        }
        fs::create_dir(&dir).map_err(LabError::io("create cgroup", &dir))?;
        for file in ["cpuset.cpus", "cpuset.mems"] {
            if let Ok(value) = fs::read_to_string(parent.join(file)) {
                let path = dir.join(file);
                fs::write(&path, value.trim()).map_err(LabError::io("write", &path))?;
            }
        }
    }
    Ok(())
}

/// Removes cgroup directories `enter_controllers` made (and every cgroup below them), then
/// their `v6lab/<lab>` and `v6lab` parents where empty.
pub fn remove_dirs(dirs: &[PathBuf]) -> Result<(), LabError> {
    // Only what the lab made: a recorded path that is not a `v6lab/...` cgroup is ignored.
    let dirs = dirs.iter().filter(|d| d.starts_with(ROOT) && d.components().any(|c| c.as_os_str() == "v6lab"));
    for dir in dirs {
        remove_tree(dir)?;
        for parent in dir.ancestors().skip(1).take(2) {
            // Fails harmlessly while another machine's cgroup is still inside.
            let _ = fs::remove_dir(parent);
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controllers_are_the_v1_mounts_with_the_process_s_cgroup_in_each() {
        let mountinfo = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
        let proc_cgroup = "9:name=systemd:/\n4:memory:/process_api/7fb1\n1:cpuacct,cpu:/\n0::/\n";
        assert_eq!(
            controllers(mountinfo, proc_cgroup),
            vec![("/sys/fs/cgroup/cpu,cpuacct".into(), "/".into()), ("/sys/fs/cgroup/memory".into(), "/process_api/7fb1".into())]
        );
        assert!(controllers("41 31 0:38 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "0::/\n").is_empty());
    }
}
