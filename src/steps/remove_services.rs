//! The "Stop and remove services" step of `node remove`, on each leaving host: its
//! v6deploy services stopped and disabled (the kubelet and kube-proxy first, then the pods'
//! containers killed while containerd still runs, then the rest), their units removed, the
//! etcd data dir moved aside (a removed member must never start on it again, and `node add`
//! needs it empty), and the membership marker removed last. Binaries, configuration and
//! certificates stay on the host (a later `node add` rewrites them).

use crate::inventory::Inventory;
use crate::components::{self, CONTAINERD, ETCD_DATA_DIR, ETCD_REMOVED_DATA_PREFIX, POD_ROUTES, POD_ROUTES_UNIT, STOP_UNIT, UNIT_DIR};
use crate::facts::Query;
use crate::inventory::{HostSpec, Role};
use crate::runner::{HostContext, Read, Step, StepFuture};
use crate::shell::{command, quote};

use super::MARKER;

/// The "Stop and remove services" step: on the leaving hosts.
pub struct RemoveServices {
    /// The hosts leaving the cluster.
    pub leaving: Vec<std::net::Ipv6Addr>,
    /// A UTC time stamp for the moved-aside etcd data dir (`/var/lib/etcd.removed-<stamp>`).
    pub stamp: String,
    /// Whether the cluster uses the host-routes pod network (its unit is removed too).
    pub pod_routes: bool,
}

impl RemoveServices {
    /// The units v6deploy may have put on `host`, in stopping order: the node's services
    /// first, the runtime, then the control plane and etcd.
    pub fn units(&self, host: &HostSpec) -> Vec<String> {
        let mut units: Vec<String> = components::services_on(host).map(|c| c.name.to_string()).collect();
        if self.pod_routes && POD_ROUTES.runs_on(host) {
            units.push(POD_ROUTES_UNIT.to_string());
        }
        units.reverse();
        units
    }

    fn unit_path(unit: &str) -> String {
        format!("{UNIT_DIR}/{unit}.service")
    }
}

impl Step for RemoveServices {
    fn title(&self) -> String {
        "Stop and remove services".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        self.leaving.contains(&host.address)
    }

    fn reads(&self, _: &Inventory, host: &HostSpec) -> Vec<Read> {
        let mut paths: Vec<String> = self.units(host).iter().map(|u| Self::unit_path(u)).collect();
        paths.extend([MARKER.to_string(), ETCD_DATA_DIR.to_string()]);
        paths.iter().map(|p| Read::query(&Query::marker_exists(p))).collect()
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let mut present = Vec::new();
            for unit in self.units(cx.host) {
                if cx.query(&Query::marker_exists(&Self::unit_path(&unit))).await? {
                    present.push(unit);
                }
            }
            let node: Vec<&String> = present.iter().filter(|u| ["kubelet", "kube-proxy"].contains(&u.as_str())).collect();
            let rest: Vec<&String> = present.iter().filter(|u| !node.contains(u)).collect();
            if !node.is_empty() {
                cx.command(&format!("stop and disable {}", join(&node)), &stop_and_disable(&node), "node removed").await?;
            }
            // containerd's unit (KillMode=process) stops only the daemon: the pods'
            // containers are deleted while it still answers, as reset does.
            if let Some(delete) = CONTAINERD.leaves.before_stop.filter(|_| present.iter().any(|u| u == CONTAINERD.name)) {
                cx.command(delete.what, &(delete.script)(), "node removed").await?;
            }
            if !rest.is_empty() {
                cx.command(&format!("stop and disable {}", join(&rest)), &stop_and_disable(&rest), "node removed").await?;
            }
            if cx.host.has(Role::Etcd) && cx.query(&Query::marker_exists(ETCD_DATA_DIR)).await? {
                let aside = format!("{ETCD_REMOVED_DATA_PREFIX}{}", self.stamp);
                cx.command(&format!("move {ETCD_DATA_DIR} aside to {aside}"), &format!("mv {} {}", quote(ETCD_DATA_DIR), quote(&aside)), "its member was removed").await?;
            }
            if !present.is_empty() {
                let paths: Vec<String> = present.iter().map(|u| Self::unit_path(u)).collect();
                let script = format!("rm -f {} && systemctl daemon-reload && systemctl reset-failed", command(&paths));
                cx.command(&format!("remove the units of {}", join(&present.iter().collect::<Vec<_>>())), &script, "node removed").await?;
            }
            let marked = cx.query(&Query::marker_exists(MARKER)).await?;
            if marked {
                cx.command(&format!("remove {MARKER}"), &format!("rm -f {}", quote(MARKER)), "no longer a member").await?;
            }
            Ok(match (present.len(), marked) {
                (0, false) => "nothing left to remove".into(),
                (n, _) => format!("{n} services stopped, disabled and their units removed; no longer a member"),
            })
        })
    }
}

/// Each unit stopped with what it left in its control group ([`STOP_UNIT`]), then disabled.
fn stop_and_disable(units: &[&String]) -> String {
    format!("{STOP_UNIT}\nfor u in {units}; do stop_unit \"$u\" || exit 1; done\nsystemctl disable --quiet {units}", units = command(units))
}

fn join(units: &[&String]) -> String {
    units.iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{Gate, Mode, Progress, Snapshot};
    use crate::transport::Output;
    use crate::transport::fake::FakeTransport;

    /// On a control-plane, etcd and worker host: the node's services stop first, the pods'
    /// containers are killed while containerd runs, etcd's data goes aside, the units go and
    /// the marker last; in dry-run all of it is only planned.
    #[tokio::test]
    async fn a_leaving_host_loses_its_services_in_order_and_its_marker_last() {
        let inv = crate::inventory::field_report();
        let host = &inv.hosts[2];
        let step = RemoveServices { leaving: vec![host.address], stamp: "20261129T080000Z".into(), pod_routes: false };
        assert_eq!(step.units(host), ["kube-proxy", "kubelet", "containerd", "api-proxy", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]);
        let mut fake = FakeTransport::new("c");
        for unit in step.units(host) {
            fake = fake.answer(&Query::marker_exists(&RemoveServices::unit_path(&unit)), "");
        }
        let fake = fake.answer(&Query::marker_exists(ETCD_DATA_DIR), "").answer(&Query::marker_exists(MARKER), "");
        let gate = Gate::new(Mode::DryRun);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(&inv, host, &fake, &gate, &Progress::Silent, &snapshot);
        let summary = step.run(&cx).await.unwrap();
        fake.verify();
        assert_eq!(summary, "8 services stopped, disabled and their units removed; no longer a member");
        let plan: Vec<String> = gate.changes().iter().map(ToString::to_string).collect();
        let label = host.address;
        assert_eq!(
            plan,
            [
                format!("{label}: would run stop and disable kube-proxy, kubelet (node removed)"),
                format!("{label}: would run delete every container and task (node removed)"),
                format!("{label}: would run stop and disable containerd, api-proxy, kube-scheduler, kube-controller-manager, kube-apiserver, etcd (node removed)"),
                format!("{label}: would run move /var/lib/etcd aside to /var/lib/etcd.removed-20261129T080000Z (its member was removed)"),
                format!("{label}: would run remove the units of kube-proxy, kubelet, containerd, api-proxy, kube-scheduler, kube-controller-manager, kube-apiserver, etcd (node removed)"),
                format!("{label}: would run remove /etc/v6deploy/member (no longer a member)"),
            ]
        );
    }

    /// A host removed before has nothing left: nothing is planned.
    #[tokio::test]
    async fn a_host_removed_before_is_left_alone() {
        let inv = crate::inventory::field_report();
        let host = &inv.hosts[2];
        let step = RemoveServices { leaving: vec![host.address], stamp: "t".into(), pod_routes: true };
        let absent = || Output { status: 1, stdout: Vec::new(), stderr: Vec::new() };
        let mut fake = FakeTransport::new("c");
        for unit in step.units(host) {
            fake = fake.answer_output(&Query::marker_exists(&RemoveServices::unit_path(&unit)), absent(), 1);
        }
        let fake = fake.answer_output(&Query::marker_exists(ETCD_DATA_DIR), absent(), 1).answer_output(&Query::marker_exists(MARKER), absent(), 1);
        let gate = Gate::new(Mode::Apply);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(&inv, host, &fake, &gate, &Progress::Silent, &snapshot);
        assert_eq!(step.run(&cx).await.unwrap(), "nothing left to remove");
        fake.verify();
        assert!(gate.changes().is_empty());
    }
}
