//! What the lab needs before it touches anything: root, and the programs it runs.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::LabError;

/// Each program the lab runs and the Debian package that has it.
const PROGRAMS: &[(&str, &str)] = &[
    ("systemd-nspawn", "systemd-container"),
    ("debootstrap", "debootstrap"),
    ("ip", "iproute2"),
    ("ssh-keygen", "openssh-client"),
    ("nsenter", "util-linux"),
    ("mount", "mount"),
    ("umount", "mount"),
    // The lab bundle: Debian packages, the Kubernetes build, the images.
    ("apt-get", "apt"),
    ("dpkg-deb", "dpkg"),
    ("tar", "tar"),
    ("make", "make"),
    ("rsync", "rsync"),
    ("jq", "jq"),
    ("gcc", "gcc"),
    ("strip", "binutils"),
    ("zstd", "zstd"),
    // The centos7-sim lab's test kernel package.
    ("rpmbuild", "rpm"),
];

/// Refuses to go on without root or with programs missing, naming what to install.
pub fn check() -> Result<(), LabError> {
    check_root()?;
    let missing = missing_programs(on_path);
    if missing.is_empty() {
        return Ok(());
    }
    let programs: Vec<&str> = missing.iter().map(|(program, _)| *program).collect();
    let mut packages: Vec<&str> = missing.iter().map(|(_, package)| *package).collect();
    packages.dedup();
    Err(LabError::MissingPrograms { programs: programs.join(", "), packages: packages.join(" ") })
}

/// Refuses to go on without root.
pub fn check_root() -> Result<(), LabError> {
    // /proc/self belongs to the process's effective user.
    let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
    if uid == 0 { Ok(()) } else { Err(LabError::NotRoot) }
}

fn missing_programs(found: impl Fn(&str) -> bool) -> Vec<(&'static str, &'static str)> {
    PROGRAMS.iter().copied().filter(|(program, _)| !found(program)).collect()
}

fn on_path(program: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| is_executable(&dir.join(program)))
}

fn is_executable(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_packages_of_missing_programs() {
        let missing = missing_programs(|p| !matches!(p, "systemd-nspawn" | "debootstrap"));
        assert_eq!(missing, vec![("systemd-nspawn", "systemd-container"), ("debootstrap", "debootstrap")]);
        assert!(missing_programs(|_| true).is_empty());
    }
}
