//! The `host-routes` pod network (see `components::pod_routes`), in two steps: "Read pod
//! subnets" asks the API server, on the first control plane, for every Node's podCIDR (the
//! controller-manager allocates it right after the kubelet registers; waited for up to a
//! minute), then "Pod network (host routes)" writes on every node its CNI configuration and
//! its routes to the others, sets them (the `v6deploy-pod-routes` unit, which sets them again
//! at boot) and checks that each route is in place.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use ipnet::Ipv6Net;

use super::InstallState;
use crate::inventory::Inventory;
use crate::components::{self, KUBE_APISERVER, POD_NETWORK_CONFLIST, POD_ROUTES_FILE, POD_ROUTES_UNIT};
use crate::facts::{Health, Query};
use crate::inventory::HostSpec;
use crate::runner::{HostContext, Mode, Read, Step, StepFuture};
use crate::transport::files::FileSpec;
use crate::shell::quote;

/// How long the controller-manager has to give every node a podCIDR.
const ALLOCATION_SECONDS: u64 = 60;

/// The "Read pod subnets" step: on the first control plane only.
pub struct ReadPodSubnets {
    pub state: Arc<InstallState>,
    pub first_control_plane: Ipv6Addr,
}

impl Step for ReadPodSubnets {
    fn title(&self) -> String {
        "Read pod subnets".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.address == self.first_control_plane
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            if KUBE_APISERVER.is_staged(&self.state.bundle) || self.state.bundle.lacks("kubectl") {
                return Ok("no API server running (staged): no pod subnets".into());
            }
            let names: BTreeMap<String, Ipv6Addr> = cx.inventory.hosts.iter().map(|h| (h.name.to_string(), h.address)).collect();
            let attempts = if cx.gate.mode() == Mode::DryRun { 1 } else { ALLOCATION_SECONDS };
            let mut waiting = Vec::new();
            for attempt in 0..attempts {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                let nodes = cx.read_fresh(&Query::node_pod_cidrs()).await.context("list the Node objects")?;
                let found: BTreeMap<Ipv6Addr, Ipv6Net> = nodes.iter().filter_map(|(name, cidr)| Some((*names.get(name)?, (*cidr)?))).collect();
                waiting = names.iter().filter(|(_, a)| !found.contains_key(a)).map(|(n, _)| n.clone()).collect();
                if waiting.is_empty() || cx.gate.mode() == Mode::DryRun {
                    let count = found.len();
                    *self.state.pod_subnets.lock().unwrap_or_else(|p| p.into_inner()) = found;
                    if !waiting.is_empty() {
                        return Ok(format!("{count} nodes have a pod subnet; {} would be waited for", waiting.len()));
                    }
                    return Ok(format!("{count} nodes, each with a pod subnet"));
                }
            }
            bail!("no pod subnet after {ALLOCATION_SECONDS} s for {} (is kube-controller-manager running with --allocate-node-cidrs, and are the nodes registered?)", waiting.join(", "))
        })
    }
}

/// The "Pod network (host routes)" step: every node.
pub struct HostRoutes {
    pub state: Arc<InstallState>,
}

impl HostRoutes {
    /// This node's CNI configuration and routes file, from the subnets read before.
    fn files(&self, host: &HostSpec) -> anyhow::Result<Vec<FileSpec>> {
        let subnets = self.state.pod_subnets.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(own) = subnets.get(&host.address) else {
            bail!("the Node object of {} has no pod subnet (spec.podCIDR)", host.name);
        };
        let peers: Vec<(Ipv6Net, Ipv6Addr)> = subnets.iter().filter(|(a, _)| **a != host.address).map(|(a, c)| (*c, *a)).collect();
        Ok(vec![
            FileSpec::root(POD_NETWORK_CONFLIST, 0o644, components::conflist(*own).into_bytes()),
            FileSpec::root(POD_ROUTES_FILE, 0o644, components::routes(&peers).into_bytes()),
        ])
    }

    /// A check that every route of `peers` is in the host's table.
    fn routes_check(&self, host: &HostSpec) -> String {
        let subnets = self.state.pod_subnets.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let checks: Vec<String> = subnets
            .iter()
            .filter(|(a, _)| **a != host.address)
            .map(|(via, cidr)| format!("ip -6 route show {} | grep -q {} || {{ echo 'no route to {cidr} via {via}'; false; }}", quote(&cidr.to_string()), quote(&format!("via {via}"))))
            .collect();
        if checks.is_empty() { "true".into() } else { checks.join(" && ") }
    }
}

impl Step for HostRoutes {
    fn title(&self) -> String {
        "Pod network (host routes)".into()
    }

    fn reads(&self, _: &Inventory, _: &HostSpec) -> Vec<Read> {
        vec![Read::Probe(POD_NETWORK_CONFLIST.into()), Read::Probe(POD_ROUTES_FILE.into()), Read::query(&Query::service_state(POD_ROUTES_UNIT))]
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            if self.state.pod_subnets.lock().unwrap_or_else(|p| p.into_inner()).is_empty() {
                return Ok("no pod subnets (API server staged, or dry-run before the first install)".into());
            }
            let specs = self.files(cx.host)?;
            let changed = cx.files(&specs).await?;
            let unit = format!("{}/{POD_ROUTES_UNIT}.service", components::UNIT_DIR);
            let unit_changed = !self.state.changed(cx.host.address, |p| p == unit).is_empty();
            let routes_changed = changed.iter().any(|(p, _)| p == POD_ROUTES_FILE);
            let active = cx.query(&Query::service_state(POD_ROUTES_UNIT)).await?.active;
            let peers = self.state.pod_subnets.lock().unwrap_or_else(|p| p.into_inner()).len().saturating_sub(1);
            if unit_changed || routes_changed || !active {
                let reload = if unit_changed { "systemctl daemon-reload && " } else { "" };
                let command = format!("{reload}systemctl enable --quiet {POD_ROUTES_UNIT} && systemctl restart {POD_ROUTES_UNIT}");
                let why = if routes_changed { "routes changed" } else if unit_changed { "unit changed" } else { "not set yet" };
                cx.command(&format!("set the routes to {peers} other nodes' pod subnets"), &command, why).await?;
            }
            if cx.gate.mode() == Mode::Apply
                && let Health::Unhealthy(why) = cx.read_fresh(&Query::health(POD_ROUTES_UNIT, self.routes_check(cx.host), 10)).await?
            {
                bail!("the routes to the other nodes' pod subnets are not in place: {why}");
            }
            Ok(format!("{} files changed; {peers} routes to the other nodes' pod subnets in place", changed.len()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::BundleCheck;
    use crate::render::Rendered;
    use crate::runner::{Gate, Progress, Snapshot};
    use crate::transport::fake::FakeTransport;

    /// Every node of the field report with a /64 of the pod CIDR.
    fn state() -> Arc<InstallState> {
        let inv = crate::inventory::field_report();
        let bundle = BundleCheck { root: "/b".into(), present: vec![], missing: vec![], dirs: vec![], missing_files: vec![] };
        let state = InstallState::new(Rendered { hosts: vec![], cluster: vec![] }, bundle, vec![]).unwrap();
        let subnets = inv.hosts.iter().enumerate().map(|(i, h)| (h.address, format!("2001:cafe:42:{i}::/64").parse().unwrap())).collect();
        *state.pod_subnets.lock().unwrap() = subnets;
        Arc::new(state)
    }

    /// A node gets its own subnet in its CNI configuration and a route to each other node's,
    /// then the unit sets them and each route is checked.
    #[tokio::test]
    async fn a_node_gets_its_subnet_and_a_route_to_every_other() {
        let inv = crate::inventory::field_report();
        let state = state();
        let step = HostRoutes { state: state.clone() };
        let host = &inv.hosts[1];
        let fake = FakeTransport::new("b")
            .no_files()
            .accepts_writes()
            .answer(&Query::service_state(POD_ROUTES_UNIT), "inactive\n")
            .answer(&Query::health(POD_ROUTES_UNIT, step.routes_check(host), 10), "")
            .accepts_commands();
        let gate = Gate::new(Mode::Apply);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(&inv, host, &fake, &gate, &Progress::Silent, &snapshot);
        let summary = step.run(&cx).await.unwrap();
        fake.verify();
        assert_eq!(summary, "2 files changed; 2 routes to the other nodes' pod subnets in place");
        let changes: Vec<String> = gate.changes().iter().map(|c| format!("{} ({})", c.target, c.reason)).collect();
        assert_eq!(changes, [format!("{POD_NETWORK_CONFLIST} (new file)"), format!("{POD_ROUTES_FILE} (new file)"), "set the routes to 2 other nodes' pod subnets (routes changed)".into()]);
        let specs = step.files(host).unwrap();
        let routes = String::from_utf8(specs[1].contents.in_memory().unwrap().to_vec()).unwrap();
        assert_eq!(routes, format!("2001:cafe:42::/64 {}\n2001:cafe:42:2::/64 {}\n", inv.hosts[0].address, inv.hosts[2].address));
        assert!(String::from_utf8(specs[0].contents.in_memory().unwrap().to_vec()).unwrap().contains("\"subnet\": \"2001:cafe:42:1::/64\""));
    }
}
