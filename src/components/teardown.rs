//! What `reset` takes off a host, read off the catalog: for every component, in reverse
//! install order, its units (stopped and disabled), its files (units, configuration,
//! kubeconfigs), the PKI files of its groups, its binaries, its bundle directories, what it
//! [`Leaves`] (state, data, scripts that undo its changes to the running host). Nothing here is
//! a list of its own: a component added to the catalog is reset with it.
//!
//! Kept: the host's network configuration (the `Kind::Network` components' files, written only
//! by `network apply`, and their rollback copies), its kernel settings as they are now (the
//! sysctl and modules-load files go, the values set and modules loaded stay until reboot), the
//! lock of the run that resets it, and the components' data unless purged.

use super::{ALL, BIN_DIR, Component, Kind, Script, UNIT_DIR, binary_path};
use crate::inventory::HostSpec;

/// Defines `stop_unit UNIT`: stops the unit, then kills with SIGKILL what it left in its
/// control group and waits (up to 10 s) until that is empty. containerd's unit
/// (`KillMode=process`, so that a restart keeps the pods) leaves its shims and any CNI plugin
/// it was running when it stopped; a plugin left running goes on writing `/var/lib/cni` after
/// the reset removed it. Every unit a reset or `node remove` stops goes through it.
pub const STOP_UNIT: &str = "stop_unit() {\n\
  systemctl stop \"$1\" || return\n\
  systemctl kill -s KILL \"$1\" 2>/dev/null || true\n\
  n=0\n\
  until [ \"$(systemctl show -p ControlGroup \"$1\")\" = ControlGroup= ]; do\n\
    n=$((n + 1)); if [ $n -gt 100 ]; then echo \"$1: processes still run in its control group 10 s after SIGKILL (systemctl status $1)\" >&2; return 1; fi\n\
    sleep 0.1\n\
  done\n\
}";

/// A systemd unit of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// `etcd.service`.
    pub name: String,
    /// Its file.
    pub path: String,
}

/// What one component has on a host, to take off.
#[derive(Debug, Clone)]
pub struct Part {
    pub component: &'static Component,
    /// Its units, stopped and disabled before anything is removed.
    pub units: Vec<Unit>,
    /// Files removed: its own (units among them), its PKI files, its binaries. A file two
    /// components share is listed under the first of them here (the last installed).
    pub files: Vec<String>,
    /// Directories removed with all they hold (and paths ending in `*`, every match): its
    /// state and the host directories of its bundle directories.
    pub dirs: Vec<String>,
    /// Its data, removed only when purged.
    pub data: Vec<String>,
    /// Directories removed when nothing is left in them (a bundle directory's parent).
    pub if_empty: Vec<String>,
    pub before_stop: Option<Script>,
    pub undo: Option<Script>,
}

impl Part {
    /// Every path it names (files, directories, data, patterns).
    pub fn paths(&self) -> impl Iterator<Item = &String> {
        self.files.iter().chain(&self.dirs).chain(&self.data)
    }
}

/// A path reset leaves on the host, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keep {
    pub path: String,
    pub why: &'static str,
}

/// What reset takes off one host, and what it keeps.
#[derive(Debug, Clone)]
pub struct Teardown {
    /// In reverse install order: the kubelet stops before containerd, the control plane
    /// before etcd.
    pub parts: Vec<Part>,
    /// Kept whatever the options (data is in `Part::data`).
    pub kept: Vec<Keep>,
}

/// The lock of the run, which reset keeps (removing it while held would let another run in).
fn lock_files() -> [String; 2] {
    let dir = crate::runner::LOCK_DIR;
    [format!("{dir}/lock"), format!("{dir}/lock.owner")]
}

/// Everything of the catalog's on `host`, whatever its roles now and whatever the inventory
/// wants now: an earlier inventory may have given it more (reset removes only what exists).
/// Cluster addons count on every host: their pods run on every node.
pub fn teardown(host: &HostSpec) -> Teardown {
    let mut parts: Vec<Part> = Vec::new();
    let mut kept = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for component in ALL.iter().rev().copied() {
        if matches!(component.kind, Kind::Network) {
            kept.extend(component.paths(host).map(|path| Keep { path, why: "the host's network configuration (written by network apply)" }));
            continue;
        }
        let mut files: Vec<String> = component.paths(host).collect();
        files.extend(component.certificates.iter().flat_map(|(group, _)| group.paths().iter().map(|p| p.to_string())));
        files.extend(component.binaries.iter().map(|b| binary_path(b)));
        files.retain(|f| !seen.contains(f));
        seen.extend(files.iter().cloned());
        let units = files
            .iter()
            .filter_map(|f| f.strip_prefix(&format!("{UNIT_DIR}/")).filter(|n| n.ends_with(".service")).map(|name| Unit { name: name.to_string(), path: f.clone() }))
            .collect();
        let mut dirs: Vec<String> = component.leaves.state.iter().map(|s| s.to_string()).collect();
        dirs.extend(component.bundle_dirs.iter().map(|d| d.host_dir.to_string()));
        let if_empty = component.bundle_dirs.iter().filter_map(|d| std::path::Path::new(d.host_dir).parent()).map(|p| p.display().to_string()).filter(|p| p != BIN_DIR && p != "/").collect();
        let data = component.leaves.data.iter().map(|s| s.to_string()).collect();
        parts.push(Part { component, units, files, dirs, data, if_empty, before_stop: component.leaves.before_stop, undo: component.leaves.undo });
    }
    kept.extend(lock_files().into_iter().map(|path| Keep { path, why: "the lock of this run" }));
    Teardown { parts, kept }
}

impl Teardown {
    /// Every unit, in stop order.
    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.parts.iter().flat_map(|p| &p.units)
    }

    /// Every path to look for on the host (what is removed, purged or kept).
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.parts.iter().flat_map(|p| p.paths().cloned()).collect();
        paths.extend(self.kept.iter().map(|k| k.path.clone()));
        paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::field_report;
    use crate::pki::HostPki;

    fn plan() -> (HostSpec, Teardown) {
        let host = field_report().hosts[0].clone();
        let plan = teardown(&host);
        (host, plan)
    }

    /// The plan is the catalog's: every file, unit, binary, PKI file, bundle directory, state
    /// and data path of every non-network component is in it, each once; the network
    /// configuration is kept.
    #[test]
    fn the_plan_is_read_off_the_catalog() {
        let (host, plan) = plan();
        let removed: Vec<&String> = plan.parts.iter().flat_map(|p| p.files.iter().chain(&p.dirs)).collect();
        for component in ALL.iter().filter(|c| !matches!(c.kind, Kind::Network)) {
            for path in component.paths(&host).chain(component.binaries.iter().map(|b| binary_path(b))) {
                assert!(removed.contains(&&path), "{component}: {path} is not removed");
            }
            for group in component.certificates.iter().map(|(g, _)| g) {
                for path in group.paths() {
                    assert!(removed.iter().any(|r| r == path), "{component}: {path} is not removed");
                }
            }
            for dir in component.bundle_dirs {
                assert!(removed.iter().any(|r| *r == dir.host_dir), "{component}: {} is not removed", dir.host_dir);
            }
            for state in component.leaves.state {
                assert!(removed.iter().any(|r| r == state), "{component}: {state} is not removed");
            }
            if let Some(service) = component.service() {
                assert!(plan.units().any(|u| u.name == format!("{}.service", component.name)), "{component}: {} is not stopped", service.binary);
            }
        }
        let mut unique = removed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), removed.len(), "a path is removed twice");
        let ifcfg = format!("/etc/sysconfig/network-scripts/ifcfg-{}", host.interface);
        assert!(plan.kept.iter().any(|k| k.path == ifcfg), "{:?}", plan.kept);
        assert!(!removed.contains(&&ifcfg));
        assert!(plan.kept.iter().any(|k| k.path == "/var/lib/v6deploy/lock"));
        // etcd's data is data, not state; ca.key (control planes only) is among the PKI files.
        let etcd = plan.parts.iter().find(|p| p.component.name == "etcd").unwrap();
        assert_eq!(etcd.data, ["/var/lib/etcd", "/var/lib/etcd.before-restore-*", "/var/lib/etcd.removed-*"]);
        // What `node remove` moves aside is data too: `reset --purge-data` removes it.
        let aside = format!("{}20261204T000000Z", crate::components::ETCD_REMOVED_DATA_PREFIX);
        assert!(etcd.data.iter().any(|pattern| pattern.strip_suffix('*').is_some_and(|prefix| aside.starts_with(prefix))), "{aside} is in no data pattern");
        assert!(!removed.iter().any(|r| r.starts_with("/var/lib/etcd/") || *r == "/var/lib/etcd"));
        assert!(removed.iter().any(|r| *r == HostPki::KubernetesCaKey.cert()));
    }

    /// Services stop in reverse install order (the kubelet before containerd and the API proxy, the API server
    /// before etcd), and the pod-routes unit, a host file, is a unit too.
    #[test]
    fn units_stop_in_reverse_install_order() {
        let (_, plan) = plan();
        let units: Vec<&str> = plan.units().map(|u| u.name.as_str()).collect();
        assert_eq!(
            units,
            ["v6deploy-pod-routes.service", "kube-proxy.service", "kubelet.service", "containerd.service", "api-proxy.service", "kube-scheduler.service", "kube-controller-manager.service", "kube-apiserver.service", "etcd.service"]
        );
        let containerd = plan.parts.iter().find(|p| p.component.name == "containerd").unwrap();
        assert!(containerd.before_stop.is_some() && containerd.undo.is_some());
    }

    /// The state paths the steps write outside the components' files are in the catalog (a
    /// new one would be left behind by reset).
    #[test]
    fn the_steps_state_paths_are_in_the_catalog() {
        let (_, plan) = plan();
        let dirs: Vec<&String> = plan.parts.iter().flat_map(|p| p.dirs.iter().chain(&p.data)).collect();
        let covered = |path: &str| dirs.iter().any(|d| path == d.as_str() || path.starts_with(&format!("{d}/")));
        for path in [crate::facts::PENDING_DIR, crate::steps::VERIFIED_UNITS, crate::steps::MARKER, super::super::POD_ROUTES_FILE, super::super::POD_NETWORK_CONFLIST, super::super::IMAGES_DIR, "/var/lib/etcd/member"] {
            assert!(covered(path), "{path} is in no component's leaves");
        }
    }

    /// Every undo and before-stop script is valid shell.
    #[test]
    fn the_scripts_are_valid_shell() {
        let (_, plan) = plan();
        for script in plan.parts.iter().flat_map(|p| p.before_stop.iter().chain(&p.undo)) {
            let text = (script.script)();
            let status = std::process::Command::new("sh").arg("-n").arg("-c").arg(&text).status().unwrap();
            assert!(status.success(), "{}: {text}", script.what);
        }
    }

    /// `stop_unit` run by the local `sh` with `systemctl` stubbed: the unit's control group
    /// still holds a process after the stop (containerd's shims), so it is killed with
    /// SIGKILL, and the function returns once systemd shows the control group gone.
    #[test]
    fn stop_unit_kills_what_the_stop_left_and_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("calls");
        let stub = dir.path().join("systemctl");
        // The control group empties on the second look after the kill.
        let body = format!(
            "#!/bin/sh\necho \"$*\" >> {log}\ncase \"$1\" in show) n=$(grep -c '^show' {log}); if [ \"$n\" -lt 2 ]; then echo ControlGroup=/system.slice/containerd.service; else echo ControlGroup=; fi ;; esac\n",
            log = log.display()
        );
        std::fs::write(&stub, body).unwrap();
        std::fs::set_permissions(&stub, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("set -e\n{STOP_UNIT}\nstop_unit containerd.service\necho done"))
            .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
        let calls = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            calls.lines().collect::<Vec<_>>(),
            ["stop containerd.service", "kill -s KILL containerd.service", "show -p ControlGroup containerd.service", "show -p ControlGroup containerd.service"]
        );
    }
}
