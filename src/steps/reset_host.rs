//! The "Reset" step: everything v6deploy put on a host taken off it. What there is to take
//! is the catalog's (`components::teardown`); what of it exists (paths, units systemd knows)
//! is read with the run's snapshot, so the plan names only what is there and a second reset
//! changes nothing. The changes go in one round trip: v6deploy's node names out of
//! `/etc/hosts` (an atomic write), then one script (`set -e`): the units stopped and disabled
//! in reverse install order (containerd's containers deleted before it stops), the undo
//! scripts (routes, interfaces, iptables rules, the pods' network namespaces), the files,
//! binaries and directories removed (mounts below a directory unmounted first), systemd
//! reloaded. Data (etcd's) stays unless purged; the host's network configuration stays.
//!
//! Only this cluster's hosts are reset: a host whose membership marker names another cluster
//! is refused, and so is a host with no marker at all (a machine v6deploy never finished
//! installing, or not v6deploy's: its distribution's containerd or etcd would be stopped and
//! removed) unless `--force` ([`Unmarked::Reset`]). A reset that keeps data leaves a record of
//! the cluster (`/var/lib/v6deploy/reset-of`), so that a later `reset --purge-data` of the same
//! cluster needs no `--force`; a purge removes the record last.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use anyhow::bail;

use super::install_files::HOSTS;
use super::membership::{MARKER, parse_marker};
use crate::inventory::Inventory;
use crate::components::{Part, STOP_UNIT, Teardown, teardown};
use crate::facts::{Ask, Leftovers, Query};
use crate::inventory::HostSpec;
use crate::ops::hosts_file;
use crate::runner::{FollowUp, HostContext, Read, Step, StepFuture};
use crate::transport::files::FileSpec;
use crate::shell::quote;

/// Removes a file or a directory with all it holds: the mounts below it unmounted first
/// (the kubelet's pod volumes, containerd's sandbox memory), never crossing into another
/// file system; a directory that is itself a mount point keeps its mount and loses its
/// contents.
const PURGE: &str = "purge() {\n\
  awk -v d=\"$1/\" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount \"$m\" 2>/dev/null || umount -l \"$m\"; done\n\
  if mountpoint -q \"$1\"; then find \"$1\" -xdev -mindepth 1 -delete; else rm -rf --one-file-system \"$1\"; fi\n\
}";

/// A host's record of the cluster it was reset out of (kept until its data is purged).
pub const RESET_RECORD: &str = "/var/lib/v6deploy/reset-of";

/// What to do with a host that carries no marker of this cluster (neither the membership
/// marker nor the record of a reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unmarked {
    /// Refuse it when there is anything to remove (the default).
    Refuse,
    /// Reset it anyway (`--force`).
    Reset,
}

/// The cluster a marker or reset record names (`cluster: NAME`).
fn named_cluster(text: Option<Vec<u8>>) -> Option<String> {
    text.and_then(|b| parse_marker(&String::from_utf8_lossy(&b)))
}

/// Whether the host is this cluster's to reset: `Err` says why not.
pub fn judge_host(cluster: &str, member: Option<&str>, record: Option<&str>, unmarked: Unmarked, anything_to_remove: bool) -> Result<(), String> {
    match (member, record) {
        (Some(other), _) if other != cluster => Err(format!("{MARKER} says this host belongs to cluster {other}, not {cluster}: not reset (reset it with that cluster's inventory)")),
        (Some(_), _) => Ok(()),
        (None, Some(other)) if other != cluster && unmarked == Unmarked::Refuse && anything_to_remove => {
            Err(format!("{RESET_RECORD} says this host was reset out of cluster {other}, not {cluster}: not reset (use that cluster's inventory, or --force)"))
        }
        (None, Some(_)) => Ok(()),
        (None, None) if unmarked == Unmarked::Refuse && anything_to_remove => Err(format!(
            "no membership marker of cluster {cluster} ({MARKER}): this host is not known to be this cluster's, and a reset would stop and remove its containerd, kubelet and etcd units, whoever installed them; not reset. If v6deploy's install or reset of this cluster was interrupted on it, reset it with --force"
        )),
        (None, None) => Ok(()),
    }
}

/// Whether data is removed too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Data {
    Keep,
    Purge,
}

/// A path left on a host, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Kept {
    pub path: String,
    pub why: String,
}

/// What the step did (or would do) on one host.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HostReset {
    /// Every change, as the plan names it ("remove /etc/etcd", "stop and disable etcd.service").
    pub removed: Vec<String>,
    /// What stays, among what v6deploy made or manages.
    pub kept: Vec<Kept>,
}

/// The reports of the step, by host.
pub type ResetReports = Arc<Mutex<BTreeMap<Ipv6Addr, HostReset>>>;

/// The "Reset" step.
pub struct ResetHost {
    pub data: Data,
    pub unmarked: Unmarked,
    pub reports: ResetReports,
}

/// The record a reset that keeps data leaves.
fn reset_record(cluster: &str) -> String {
    format!("# Written by v6deploy reset: this host was reset out of the cluster below; its data is kept.\ncluster: {cluster}\n")
}

/// The question the snapshot asks: which paths of the plan exist, which units systemd knows.
fn ask(plan: &Teardown) -> Ask<Leftovers> {
    let units: Vec<String> = plan.units().map(|u| u.name.clone()).collect();
    Query::leftovers(&plan.paths(), &units)
}

/// The paths on the host that `pattern` names (itself, or every match of a trailing `*`).
fn found<'a>(leftovers: &'a Leftovers, pattern: &'a str) -> impl Iterator<Item = &'a String> + 'a {
    leftovers.paths.iter().filter(move |p| match pattern.strip_suffix('*') {
        Some(prefix) => p.starts_with(prefix),
        None => *p == pattern,
    })
}

/// The commands that take `plan` off a host where `leftovers` is what exists, in order, and
/// what is kept; every command but the definitions is a change of the plan.
pub fn commands(plan: &Teardown, leftovers: &Leftovers, data: Data) -> (Vec<FollowUp>, Vec<Kept>) {
    let change = |what: String, script: String, part: &Part| FollowUp { what, script, reason: part.component.name.to_string(), change: true };
    let present = |part: &Part| part.paths().any(|p| found(leftovers, p).next().is_some()) || part.units.iter().any(|u| leftovers.units.contains_key(&u.name));
    let mut commands = vec![FollowUp { what: "define stop_unit".into(), script: STOP_UNIT.into(), reason: String::new(), change: false }];
    for part in &plan.parts {
        for unit in &part.units {
            let Some(state) = leftovers.units.get(&unit.name) else { continue };
            let name = quote(&unit.name);
            if let Some(before) = part.before_stop.filter(|_| state.running()) {
                commands.push(change(before.what.to_string(), (before.script)(), part));
            }
            match (state.running(), state.enabled) {
                (true, true) => commands.push(change(format!("stop and disable {}", unit.name), format!("stop_unit {name}\nsystemctl disable -q {name}"), part)),
                (true, false) => commands.push(change(format!("stop {}", unit.name), format!("stop_unit {name}"), part)),
                (false, true) => commands.push(change(format!("disable {}", unit.name), format!("systemctl disable -q {name}"), part)),
                (false, false) => {}
            }
        }
    }
    for part in plan.parts.iter().filter(|p| present(p)) {
        if let Some(undo) = part.undo {
            commands.push(change(undo.what.to_string(), (undo.script)(), part));
        }
    }
    commands.push(FollowUp { what: "define purge".into(), script: PURGE.into(), reason: String::new(), change: false });
    let mut kept: Vec<Kept> = Vec::new();
    for part in &plan.parts {
        for file in part.files.iter().flat_map(|f| found(leftovers, f)) {
            commands.push(change(format!("remove {file}"), format!("rm -f {}", quote(file)), part));
        }
        for path in part.dirs.iter().flat_map(|d| found(leftovers, d)) {
            let what = if leftovers.dirs.contains(path) { format!("remove {path} (with all it holds)") } else { format!("remove {path}") };
            commands.push(change(what, format!("purge {}", quote(path)), part));
        }
        for dir in part.data.iter().flat_map(|d| found(leftovers, d)) {
            match data {
                Data::Purge => commands.push(change(format!("remove {dir} ({}'s data, --purge-data)", part.component.name), format!("purge {}", quote(dir)), part)),
                Data::Keep => kept.push(Kept { path: dir.clone(), why: format!("{}'s data: reset --purge-data removes it", part.component.name) }),
            }
        }
        for dir in &part.if_empty {
            commands.push(FollowUp { what: format!("remove {dir} if empty"), script: format!("rmdir {} 2>/dev/null || true", quote(dir)), reason: String::new(), change: false });
        }
    }
    let units_removed: Vec<&str> = plan.units().filter(|u| found(leftovers, &u.path).next().is_some() || leftovers.units.contains_key(&u.name)).map(|u| u.name.as_str()).collect();
    if !units_removed.is_empty() {
        commands.push(FollowUp { what: "systemctl daemon-reload".into(), script: "systemctl daemon-reload".into(), reason: format!("unit files removed: {}", units_removed.join(", ")), change: true });
        let names: Vec<String> = units_removed.iter().map(|u| quote(u).into_owned()).collect();
        commands.push(FollowUp { what: "systemctl reset-failed".into(), script: format!("systemctl reset-failed {} 2>/dev/null || true", names.join(" ")), reason: String::new(), change: false });
    }
    kept.extend(plan.kept.iter().filter(|k| found(leftovers, &k.path).next().is_some()).map(|k| Kept { path: k.path.clone(), why: k.why.to_string() }));
    (commands, kept)
}

impl Step for ResetHost {
    fn title(&self) -> String {
        "Reset".into()
    }

    fn reads(&self, _: &Inventory, host: &HostSpec) -> Vec<Read> {
        vec![Read::query(&ask(&teardown(host))), Read::Contents(HOSTS.into()), Read::Probe(HOSTS.into()), Read::Contents(MARKER.into()), Read::Contents(RESET_RECORD.into())]
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let cluster = cx.inventory.cluster.name.as_str();
            let member = named_cluster(cx.read_file(MARKER).await?);
            let record = named_cluster(cx.read_file(RESET_RECORD).await?);
            let plan = teardown(cx.host);
            let leftovers = cx.query(&ask(&plan)).await?;
            let (mut commands, kept) = commands(&plan, &leftovers, self.data);
            let mut removed: Vec<String> = Vec::new();
            let mut specs = Vec::new();
            let hosts = cx.read_file(HOSTS).await?.unwrap_or_default();
            if let Some(without) = hosts_file::remove(&String::from_utf8_lossy(&hosts)) {
                specs.push(FileSpec::root(HOSTS, 0o644, without.into_bytes()));
                removed.push(format!("v6deploy's node names from {HOSTS}"));
            }
            removed.extend(commands.iter().filter(|c| c.change).map(|c| c.what.clone()));
            if let Err(why) = judge_host(cluster, member.as_deref(), record.as_deref(), self.unmarked, !removed.is_empty()) {
                bail!("{why}");
            }
            // The record of the reset goes first (the marker goes with /etc/v6deploy), and is
            // removed last when the data is purged.
            match self.data {
                Data::Keep if !removed.is_empty() => specs.push(FileSpec::root(RESET_RECORD, 0o644, reset_record(cluster).into_bytes())),
                Data::Purge if record.is_some() => {
                    let what = format!("remove {RESET_RECORD}");
                    commands.push(FollowUp { what: what.clone(), script: format!("rm -f {}", quote(RESET_RECORD)), reason: "its data was purged".into(), change: true });
                    removed.push(what);
                }
                _ => {}
            }
            let nothing = removed.is_empty();
            if !nothing {
                cx.files_then(&specs, |_| commands).await?;
            }
            let data = kept.iter().find(|k| k.why.contains("--purge-data"));
            let summary = match (nothing, data) {
                (true, _) => "nothing of v6deploy's left".to_string(),
                (false, None) => format!("{} removed or stopped", removed.len()),
                (false, Some(data)) => format!("{} removed or stopped; kept {} ({})", removed.len(), data.path, data.why),
            };
            self.reports.lock().unwrap_or_else(|p| p.into_inner()).insert(cx.host.address, HostReset { removed, kept });
            Ok(summary)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::UnitState;

    /// Every path of the plan there, every unit running and enabled.
    fn everything(plan: &Teardown) -> Leftovers {
        let mut paths: Vec<String> = plan.paths().into_iter().map(|p| p.replace('*', "20260101T000000Z")).collect();
        paths.dedup();
        // The state paths are directories here, but for the files among them.
        let files = [crate::components::POD_ROUTES_FILE, crate::steps::VERIFIED_UNITS];
        let is_dir = |p: &String| plan.parts.iter().any(|part| part.dirs.contains(p) || part.data.contains(p)) && !files.contains(&p.as_str()) && !p.rsplit('/').next().unwrap_or("").contains('.');
        let dirs = paths.iter().filter(|p| is_dir(p)).cloned().collect();
        let units = plan.units().map(|u| (u.name.clone(), UnitState { loaded: true, active: "active".into(), enabled: true })).collect();
        Leftovers { paths, dirs, units }
    }

    fn position(commands: &[FollowUp], what: &str) -> usize {
        commands.iter().position(|c| c.what == what).unwrap_or_else(|| panic!("no {what:?} in {:#?}", commands.iter().map(|c| &c.what).collect::<Vec<_>>()))
    }

    /// On a host with everything: the services stop in reverse install order, containerd's
    /// containers are deleted before it stops, the undo scripts run once everything stopped
    /// and before the files go, systemd is reloaded last; etcd's data is kept, the network
    /// configuration too; the whole batch is valid shell.
    #[test]
    fn a_full_host_is_taken_down_in_order_and_keeps_its_data() {
        let host = crate::inventory::field_report().hosts[0].clone();
        let plan = teardown(&host);
        let (commands, kept) = commands(&plan, &everything(&plan), Data::Keep);
        let kubelet = position(&commands, "stop and disable kubelet.service");
        let delete = position(&commands, "delete every container and task");
        let containerd = position(&commands, "stop and disable containerd.service");
        let apiserver = position(&commands, "stop and disable kube-apiserver.service");
        let etcd = position(&commands, "stop and disable etcd.service");
        let routes = position(&commands, "remove the routes to the other nodes' pod subnets and the cni0 bridge");
        let conf = position(&commands, "remove /etc/etcd/etcd.conf.yml");
        let reload = position(&commands, "systemctl daemon-reload");
        assert!(kubelet < delete && delete < containerd && containerd < apiserver && apiserver < etcd && etcd < routes && routes < conf && conf < reload);
        for path in ["/usr/local/bin/etcd", "/etc/kubernetes/pki/ca.key", "/etc/kubernetes/admin.conf", "/etc/systemd/system/v6deploy-pod-routes.service", "/etc/sysctl.d/90-v6deploy.conf"] {
            position(&commands, &format!("remove {path}"));
        }
        for dir in ["/var/lib/kubelet", "/var/lib/containerd", "/opt/cni/bin", "/var/lib/v6deploy/images", "/etc/kubernetes"] {
            position(&commands, &format!("remove {dir} (with all it holds)"));
        }
        assert!(!commands.iter().any(|c| c.script.contains("/var/lib/etcd'") || c.script.ends_with("/var/lib/etcd") || c.what.contains("ifcfg")), "{commands:#?}");
        let kept: Vec<&str> = kept.iter().map(|k| k.path.as_str()).collect();
        assert_eq!(kept, ["/var/lib/etcd", "/var/lib/etcd.before-restore-20260101T000000Z", "/var/lib/etcd.removed-20260101T000000Z", "/etc/sysconfig/network-scripts/ifcfg-ens160", "/var/lib/v6deploy/lock", "/var/lib/v6deploy/lock.owner"]);
        let script: Vec<&str> = commands.iter().map(|c| c.script.as_str()).collect();
        let status = std::process::Command::new("sh").arg("-n").arg("-c").arg(script.join("\n")).status().unwrap();
        assert!(status.success());
    }

    /// --purge-data removes etcd's data dir and the ones `etcd restore` kept.
    #[test]
    fn purged_data_is_removed() {
        let plan = teardown(&crate::inventory::field_report().hosts[0]);
        let (commands, kept) = commands(&plan, &everything(&plan), Data::Purge);
        position(&commands, "remove /var/lib/etcd (etcd's data, --purge-data)");
        position(&commands, "remove /var/lib/etcd.before-restore-20260101T000000Z (etcd's data, --purge-data)");
        position(&commands, "remove /etc/v6deploy/pod-routes");
        assert!(!kept.iter().any(|k| k.path.starts_with("/var/lib/etcd")), "{kept:?}");
    }

    /// The attack of the security review: a host that is not this cluster's (no marker; its
    /// distribution's containerd, kubelet or etcd running) was reset. Refused now unless
    /// --force; a host of another cluster is refused even with it; a host this cluster reset
    /// before (its record) may be purged; a host with nothing to remove is no error.
    #[test]
    fn hosts_without_this_clusters_marker_are_refused_unless_forced() {
        let refused = judge_host("prod", None, None, Unmarked::Refuse, true).unwrap_err();
        assert!(refused.contains("no membership marker of cluster prod") && refused.contains("--force"), "{refused}");
        assert!(judge_host("prod", None, None, Unmarked::Reset, true).is_ok());
        assert!(judge_host("prod", None, None, Unmarked::Refuse, false).is_ok(), "nothing to remove is no error");
        assert!(judge_host("prod", Some("prod"), None, Unmarked::Refuse, true).is_ok());
        for unmarked in [Unmarked::Refuse, Unmarked::Reset] {
            let other = judge_host("prod", Some("staging"), None, unmarked, true).unwrap_err();
            assert!(other.contains("belongs to cluster staging"), "{other}");
        }
        assert!(judge_host("prod", None, Some("prod"), Unmarked::Refuse, true).is_ok(), "reset before by this cluster");
        assert!(judge_host("prod", None, Some("staging"), Unmarked::Refuse, true).unwrap_err().contains("reset out of cluster staging"));
        assert!(judge_host("prod", None, Some("staging"), Unmarked::Reset, true).is_ok());
        assert_eq!(named_cluster(Some(reset_record("prod").into_bytes())).as_deref(), Some("prod"));
    }

    /// Containers are deleted only in the namespace the cluster's kubelet uses (`k8s.io`):
    /// Docker's `moby` and every other namespace of a shared containerd are left alone.
    #[test]
    fn containers_are_deleted_only_in_the_clusters_namespace() {
        let plan = teardown(&crate::inventory::field_report().hosts[0]);
        let (commands, _) = commands(&plan, &everything(&plan), Data::Keep);
        let delete = &commands[position(&commands, "delete every container and task")].script;
        assert!(delete.contains("-n k8s.io'") && !delete.contains("namespaces ls") && !delete.contains("$ns"), "{delete}");
    }

    /// A reset host has nothing left to change: no command is a change, so a second reset
    /// changes nothing.
    #[test]
    fn nothing_left_means_no_change() {
        let plan = teardown(&crate::inventory::field_report().hosts[1]);
        let (commands, kept) = commands(&plan, &Leftovers { paths: vec!["/var/lib/v6deploy/lock".into()], ..Leftovers::default() }, Data::Keep);
        assert!(commands.iter().all(|c| !c.change), "{commands:#?}");
        assert_eq!(kept, [Kept { path: "/var/lib/v6deploy/lock".into(), why: "the lock of this run".into() }]);
    }
}
