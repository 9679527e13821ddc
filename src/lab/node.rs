//! What lets a lab machine be a Kubernetes node (kubelet, containerd, runc). Lab only: none of
//! this is installed on real hosts, which have their own kernel and cgroups.
//!
//! - nspawn options: every capability and the `@keyring` and `bpf` system calls (runc needs a
//!   session keyring and loads BPF device filters; nspawn's default seccomp filter denies
//!   both), and `/dev/kmsg` (the kubelet's OOM watcher reads it).
//! - A unit that runs early at each boot, inside the machine, `node-setup`:
//!   - cgroup v1 controllers are mounted read-only in a container; each is remounted
//!     writable. nspawn gives the machine a cgroup namespace, so what it sees as each
//!     controller's root is the cgroup its supervisor was in: the supervisor puts itself in
//!     `v6lab/<lab>/<host>` of every controller (`cgroup::enter_controllers`), so every
//!     machine's kubelet has its own `/kubepods` and never sees (or cleans up) another
//!     machine's pods.
//!   - the kubelet's container manager insists on some kernel tunables (`vm.overcommit_memory=1`,
//!     `kernel.panic=10`, `kernel.panic_on_oops=1`, ...) and `/proc/sys` is read-only here:
//!     a read-only file holding the expected value is bound over each, inside the machine
//!     only. Writing them would change the development machine itself (`panic_on_oops=1`).
//! - `/var/lib/containerd` bound in from a directory of the machine's own on this machine's
//!   disk ([`CONTAINERD_DIR`]): containerd's overlayfs snapshotter cannot mount on the
//!   machine's overlay root ("invalid argument"), and the `native` snapshotter it needed
//!   before copies every layer and every container's root file system (the first install's
//!   image import took twice as long).

use std::os::unix::fs::symlink;
use std::path::Path;

use super::LabError;
use super::base_image::write;

/// systemd-nspawn options of every lab machine.
pub const NSPAWN_ARGS: &[&str] = &["--capability=all", "--system-call-filter=@keyring bpf", "--bind=/dev/kmsg"];

/// The kernel tunables the kubelet's container manager checks, as `/proc/sys` paths with
/// the values it wants (Kubernetes `pkg/kubelet/cm/container_manager_linux.go`,
/// `setupKernelTunables`).
pub const KERNEL_TUNABLES: &[(&str, &str)] = &[
    ("vm/overcommit_memory", "1"),
    ("vm/panic_on_oom", "0"),
    ("kernel/panic", "10"),
    ("kernel/panic_on_oops", "1"),
    ("kernel/keys/root_maxkeys", "1000000"),
    ("kernel/keys/root_maxbytes", "25000000"),
    // kube-proxy's conntrack settings (its configuration's `conntrack` defaults: 86400 s and
    // 3600 s; nf_conntrack_max 32768 per CPU, at least 131072, computed by the script).
    ("net/netfilter/nf_conntrack_tcp_timeout_established", "86400"),
    ("net/netfilter/nf_conntrack_tcp_timeout_close_wait", "3600"),
    ("net/netfilter/nf_conntrack_max", "$conntrack_max"),
];

/// Where the script and unit go in a machine's root.
const SCRIPT_PATH: &str = "usr/lib/v6deploy-lab/node-setup";
const UNIT_PATH: &str = "etc/systemd/system/v6lab-node.service";
const UNIT_LINK: &str = "etc/systemd/system/sysinit.target.wants/v6lab-node.service";
const ENVIRONMENT: &str = "etc/environment";

/// What earlier labs put in a machine's `/etc/environment` for `ctr` (the `native`
/// snapshotter): removed again.
const OLD_ENVIRONMENT: [&str; 2] = ["# v6deploy lab: `ctr` uses the lab containerd's snapshotter.", "CONTAINERD_SNAPSHOTTER=native"];
/// Where the machine's containerd keeps its images and snapshots: a bind mount.
pub const CONTAINERD_DIR: &str = "/var/lib/containerd";

const UNIT: &str = "\
# v6deploy lab only: lets this machine run a kubelet and containerd (see node-setup).
[Unit]
Description=v6deploy lab: writable cgroups and the kubelet's kernel tunables
DefaultDependencies=no
Before=sysinit.target
ConditionVirtualization=container

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/lib/v6deploy-lab/node-setup

[Install]
WantedBy=sysinit.target
";

/// The boot script (POSIX sh; runs inside the machine, never on the development machine).
pub fn script() -> String {
    let tunables: String = KERNEL_TUNABLES.iter().map(|(key, value)| format!("{key} {value}\n")).collect();
    format!(
        r#"#!/bin/sh
# v6deploy lab only, written by `v6deploy lab up` (src/lab/node.rs): makes this machine able
# to run a kubelet and containerd. Runs at boot, inside the machine.
set -eu
# Never anywhere but in a lab machine: these mounts would change a real host.
[ "$(cat /run/systemd/container 2>/dev/null)" = systemd-nspawn ] || {{ echo "node-setup: not in a lab machine; nothing done" >&2; exit 0; }}

mounted() {{ awk -v p="$1" '$5 == p {{ found = 1 }} END {{ exit !found }}' /proc/self/mountinfo; }}

# cgroup v1 controllers: writable. (nspawn gives the machine a cgroup namespace, so each
# controller's root here is the machine's own cgroup, v6lab/<lab>/<host> on the host.)
for mount in $(awk '{{ for (i = 7; i <= NF; i++) if ($i == "-") {{ if ($(i+1) == "cgroup") print $5; break }} }}' /proc/self/mountinfo); do
  mount -o remount,bind,rw "$mount"
done

# The kubelet's kernel tunables, read-only, inside this machine only.
conntrack_max=$(( $(nproc) * 32768 )); [ "$conntrack_max" -ge 131072 ] || conntrack_max=131072
mkdir -p /run/v6deploy-lab/sysctl
while read -r key value; do
  [ -e "/proc/sys/$key" ] || continue
  file=/run/v6deploy-lab/sysctl/$(echo "$key" | tr / .)
  echo "$value" > "$file"
  if ! mounted "/proc/sys/$key"; then
    mount --bind "$file" "/proc/sys/$key"
    mount -o remount,bind,ro "/proc/sys/$key"
  fi
done <<TUNABLES
{tunables}TUNABLES

# kube-proxy reads nf_conntrack's hashsize (and writes it only when it is below a quarter of
# nf_conntrack_max); /sys here is nspawn's small read-only tmpfs, without /sys/module.
if [ ! -e /sys/module/nf_conntrack/parameters/hashsize ]; then
  mount -o remount,rw /sys
  mkdir -p /sys/module/nf_conntrack/parameters
  echo "$conntrack_max" > /sys/module/nf_conntrack/parameters/hashsize
  mount -o remount,ro /sys
fi
"#
    )
}

/// Writes the script and its enabled unit into a machine's (mounted) root.
pub fn install(root: &Path) -> Result<(), LabError> {
    let path = root.join(SCRIPT_PATH);
    write(&path, &script())?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).map_err(LabError::io("set the mode of", &path))?;
    write(&root.join(UNIT_PATH), UNIT)?;
    let link = root.join(UNIT_LINK);
    if link.symlink_metadata().is_err() {
        if let Some(dir) = link.parent() {
            std::fs::create_dir_all(dir).map_err(LabError::io("create", dir))?;
        }
        symlink("../v6lab-node.service", &link).map_err(LabError::io("link", &link))?;
    }
    let environment = root.join(ENVIRONMENT);
    if let Ok(existing) = std::fs::read_to_string(&environment)
        && existing.lines().any(|l| OLD_ENVIRONMENT.contains(&l))
    {
        let kept: String = existing.lines().filter(|l| !OLD_ENVIRONMENT.contains(l)).map(|l| format!("{l}\n")).collect();
        write(&environment, &kept)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_binds_every_tunable_and_only_inside_a_machine() {
        let text = script();
        for (key, value) in KERNEL_TUNABLES {
            assert!(text.contains(&format!("\n{key} {value}\n")), "{key}");
        }
        assert!(text.contains("[ \"$(cat /run/systemd/container 2>/dev/null)\" = systemd-nspawn ] ||"));
        assert!(!text.contains("sysctl -w"), "never writes a tunable");
    }

    #[test]
    fn the_script_is_valid_sh() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node-setup");
        std::fs::write(&path, script()).unwrap();
        let output = std::process::Command::new("sh").arg("-n").arg(&path).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    #[test]
    fn install_writes_an_enabled_unit() {
        let root = tempfile::tempdir().unwrap();
        install(root.path()).unwrap();
        install(root.path()).unwrap();
        assert!(root.path().join(SCRIPT_PATH).is_file());
        let link = std::fs::read_link(root.path().join(UNIT_LINK)).unwrap();
        assert_eq!(link, Path::new("../v6lab-node.service"));
    }

    /// A machine made by an earlier lab loses the `native` snapshotter line it was given.
    #[test]
    fn install_removes_the_old_snapshotter_environment() {
        let root = tempfile::tempdir().unwrap();
        let environment = root.path().join(ENVIRONMENT);
        std::fs::create_dir_all(environment.parent().unwrap()).unwrap();
        std::fs::write(&environment, format!("LANG=C.UTF-8\n{}\n{}\n", OLD_ENVIRONMENT[0], OLD_ENVIRONMENT[1])).unwrap();
        install(root.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&environment).unwrap(), "LANG=C.UTF-8\n");
    }
}
