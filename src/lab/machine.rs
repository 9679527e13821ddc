//! One machine's files: an overlay (base image below, the machine's own `upper` above)
//! mounted at `rootfs`, and what makes the machine itself: hostname, machine id, host key,
//! `/etc/hosts` and root's authorized key.

use std::fs;
use std::io::{ErrorKind, Read};
use std::net::Ipv6Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::LabError;
use super::base_image::write;
use super::command::Runner;
use super::mounts;

/// A machine's directory under the lab's runtime directory, e.g. `.../machines/101`.
#[derive(Debug, Clone)]
pub struct MachineDir {
    pub dir: PathBuf,
}

impl MachineDir {
    pub fn new(dir: PathBuf) -> MachineDir {
        MachineDir { dir }
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// The machine's `/var/lib/containerd`, bound in from here (see `node`).
    pub fn containerd(&self) -> PathBuf {
        self.dir.join("containerd")
    }

    fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    /// The machine's SSH host public key, as the machine keeps it.
    pub fn host_key_path(&self) -> PathBuf {
        self.upper().join("etc/ssh/ssh_host_ed25519_key.pub")
    }

    pub fn is_mounted(&self) -> bool {
        mounts::is_mounted(&self.rootfs())
    }

    /// Mounts the overlay at `rootfs` unless it is mounted already.
    pub fn ensure_mounted(&self, runner: &Runner, base: &Path) -> Result<(), LabError> {
        if self.is_mounted() {
            return Ok(());
        }
        for dir in [self.upper(), self.work(), self.rootfs(), self.containerd()] {
            fs::create_dir_all(&dir).map_err(LabError::io("create", &dir))?;
        }
        let options = format!("lowerdir={},upperdir={},workdir={}", base.display(), self.upper().display(), self.work().display());
        let rootfs = self.rootfs().display().to_string();
        runner.run("mount", ["-t", "overlay", "overlay", "-o", &options, &rootfs])?;
        Ok(())
    }

    /// Unmounts everything at or below the machine's directory.
    pub fn unmount(&self, runner: &Runner) -> Result<(), LabError> {
        for point in mounts::below(&self.dir) {
            runner.run("umount", [&point])?;
        }
        Ok(())
    }

    /// Writes the machine's identity into its (mounted) root; the host key and machine id
    /// are made once and kept, so a machine keeps them across `lab down`-less restarts.
    pub fn ensure_identity(&self, runner: &Runner, hostname: &str, address: Ipv6Addr, authorized_key: &str) -> Result<(), LabError> {
        let root = self.rootfs();
        write(&root.join("etc/hostname"), &format!("{hostname}\n"))?;
        let machine_id = root.join("etc/machine-id");
        if fs::read_to_string(&machine_id).map_or(true, |id| id.trim().is_empty()) {
            write(&machine_id, &format!("{}\n", random_machine_id()?))?;
        }
        let hosts = root.join("etc/hosts");
        if let Some(text) = hosts_update(fs::read_to_string(&hosts).ok().as_deref(), hostname, address) {
            write(&hosts, &text)?;
        }
        let host_key = root.join("etc/ssh/ssh_host_ed25519_key");
        if !host_key.exists() || !host_key.with_extension("pub").exists() {
            remove_if_present(&host_key)?;
            remove_if_present(&host_key.with_extension("pub"))?;
            let comment = format!("root@{hostname}");
            let file = host_key.display().to_string();
            runner.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", &comment, "-f", &file])?;
        }
        let ssh_dir = root.join("root/.ssh");
        fs::create_dir_all(&ssh_dir).map_err(LabError::io("create", &ssh_dir))?;
        fs::set_permissions(&ssh_dir, fs::Permissions::from_mode(0o700)).map_err(LabError::io("set the mode of", &ssh_dir))?;
        let authorized = ssh_dir.join("authorized_keys");
        write(&authorized, &format!("{}\n", authorized_key.trim()))?;
        fs::set_permissions(&authorized, fs::Permissions::from_mode(0o600)).map_err(LabError::io("set the mode of", &authorized))?;
        Ok(())
    }

    /// The machine's host public key (`ssh-ed25519 AAAA...`).
    pub fn host_key(&self) -> Result<String, LabError> {
        let path = self.host_key_path();
        fs::read_to_string(&path).map_err(LabError::io("read", &path))
    }
}

/// `/etc/hosts` of a machine: loopback names and its own name on its lab address.
pub fn hosts_file(hostname: &str, address: Ipv6Addr) -> String {
    format!(
        "127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\nff02::1\t\tip6-allnodes\nff02::2\t\tip6-allrouters\n{address}\t{hostname}\n"
    )
}

/// The `/etc/hosts` to write when a machine starts, or `None` to keep the one it has: a
/// file that already names the machine on its address stays as it is, so what was added to
/// it (install's node names) survives a restart, as on a real host.
pub fn hosts_update(existing: Option<&str>, hostname: &str, address: Ipv6Addr) -> Option<String> {
    let names_itself = |text: &str| {
        text.lines().any(|line| {
            let mut fields = line.split_whitespace();
            fields.next().and_then(|a| a.parse::<Ipv6Addr>().ok()) == Some(address) && fields.any(|name| name == hostname)
        })
    };
    match existing {
        Some(text) if names_itself(text) => None,
        _ => Some(hosts_file(hostname, address)),
    }
}

/// 32 lower-case hex digits from the kernel's random source, as `/etc/machine-id` wants.
fn random_machine_id() -> Result<String, LabError> {
    let mut bytes = [0u8; 16];
    let path = "/dev/urandom";
    fs::File::open(path).and_then(|mut f| f.read_exact(&mut bytes)).map_err(LabError::io("read", path))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn remove_if_present(path: &Path) -> Result<(), LabError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(LabError::io("remove", path)(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_names_the_machine_on_its_lab_address() {
        let text = hosts_file("lab-101", "2001:db8:0:1::101".parse().unwrap());
        assert!(text.ends_with("2001:db8:0:1::101\tlab-101\n"), "{text}");
        assert!(text.contains("::1\t\tlocalhost"));
    }

    /// Regression: `lab up` restarting a stopped machine rewrote its /etc/hosts, dropping the
    /// node names install had put there, so the next install changed it again.
    #[test]
    fn a_restart_keeps_etc_hosts_that_names_the_machine() {
        let address = "2001:db8:0:1::101".parse().unwrap();
        let fresh = hosts_file("lab-101", address);
        assert_eq!(hosts_update(None, "lab-101", address), Some(fresh.clone()));
        let installed = format!("{fresh}# BEGIN v6deploy node names (managed, do not edit)\n2001:db8:0:1::101 2001.0db8.0000.0001.0000.0000.0000.0101\n# END v6deploy node names\n");
        assert_eq!(hosts_update(Some(&installed), "lab-101", address), None);
        // Another machine's file, or one without its own line, is replaced.
        assert_eq!(hosts_update(Some(&hosts_file("lab-102", address)), "lab-101", address), Some(fresh.clone()));
        assert_eq!(hosts_update(Some("127.0.0.1 localhost\n"), "lab-101", address), Some(fresh));
    }

    #[test]
    fn machine_ids_are_32_hex_digits_and_differ() {
        let a = random_machine_id().unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_ne!(a, random_machine_id().unwrap());
    }
}
