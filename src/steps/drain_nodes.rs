//! The "Drain nodes" step of `node remove`: on a control-plane host that stays, through the
//! API server as the cluster admin, each leaving node is cordoned (no new pods) and drained
//! (`kubectl drain`: every pod evicted, respecting PodDisruptionBudgets, except DaemonSet
//! pods, which go with the node), within a timeout.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::time::Duration;

use anyhow::Context;

use crate::components::kubectl_local;
use crate::facts::Query;
use crate::inventory::HostSpec;
use crate::net::NodeName;
use crate::runner::{HostContext, Step, StepFuture};

/// The "Drain nodes" step: on `api_host` only.
pub struct DrainNodes {
    /// A control-plane host that stays in the cluster.
    pub api_host: Ipv6Addr,
    /// The nodes to drain.
    pub nodes: Vec<NodeName>,
    /// How long `kubectl drain` may take for each node.
    pub timeout: Duration,
}

/// The names of the Node objects the API server has now.
pub(super) async fn registered(cx: &HostContext<'_>) -> anyhow::Result<BTreeSet<String>> {
    let nodes = cx.read_fresh(&Query::node_pod_cidrs()).await.context("list the Node objects")?;
    Ok(nodes.into_iter().map(|(name, _)| name).collect())
}

impl DrainNodes {
    /// Cordon, then drain: pods of DaemonSets stay (they go with the node), emptyDir data is
    /// lost with the pod, and pods no controller manages are deleted too (`--force`: they
    /// would be lost with the node anyway).
    pub fn script(&self, node: &NodeName) -> String {
        let timeout = format!("--timeout={}s", self.timeout.as_secs());
        format!(
            "{} && {}",
            kubectl_local(&["cordon", node.as_str()]),
            kubectl_local(&["drain", node.as_str(), "--ignore-daemonsets", "--delete-emptydir-data", "--force", &timeout])
        )
    }
}

impl Step for DrainNodes {
    fn title(&self) -> String {
        "Drain nodes".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.address == self.api_host
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let registered = registered(cx).await?;
            let mut drained = Vec::new();
            let mut absent = Vec::new();
            for node in &self.nodes {
                if !registered.contains(node.as_str()) {
                    absent.push(node.to_string());
                    continue;
                }
                cx.say(&format!("draining {node} (up to {} s)", self.timeout.as_secs()));
                let what = format!("kubectl cordon and drain {node} (all pods but DaemonSets' evicted, up to {} s)", self.timeout.as_secs());
                cx.command(&what, &self.script(node), "node removed").await.with_context(|| {
                    format!(
                        "{node} was not drained within {} s (a PodDisruptionBudget, or a pod that does not stop?); it stays cordoned and nothing was removed: \
                         see `kubectl get pods -A -o wide --field-selector spec.nodeName={node}`, then run node remove again (--drain-timeout), or `kubectl uncordon {node}` to keep it",
                        self.timeout.as_secs()
                    )
                })?;
                drained.push(node.to_string());
            }
            let mut summary = format!("{} drained", drained.len());
            if !absent.is_empty() {
                summary.push_str(&format!("; no Node object for {}", absent.join(", ")));
            }
            Ok(summary)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{Gate, Mode, Progress, Snapshot};
    use crate::transport::Output;
    use crate::transport::fake::FakeTransport;

    fn step(inv: &crate::inventory::Inventory) -> DrainNodes {
        DrainNodes { api_host: inv.hosts[0].address, nodes: vec![inv.hosts[1].name.clone(), inv.hosts[2].name.clone()], timeout: Duration::from_secs(30) }
    }

    /// Only registered nodes are drained, cordoned first, DaemonSet pods left, through the
    /// staying host's own API server; the plan says so.
    #[tokio::test]
    async fn registered_nodes_are_cordoned_and_drained_through_the_gate() {
        let inv = crate::inventory::field_report();
        let step = step(&inv);
        let fake = FakeTransport::new("a").answer(&Query::node_pod_cidrs(), &format!("{} 2001:cafe:42::/64\n{} 2001:cafe:42:1::/64\n", inv.hosts[0].name, inv.hosts[1].name));
        let gate = Gate::new(Mode::DryRun);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(&inv, &inv.hosts[0], &fake, &gate, &Progress::Silent, &snapshot);
        assert_eq!(step.run(&cx).await.unwrap(), format!("1 drained; no Node object for {}", inv.hosts[2].name));
        fake.verify();
        let plan: Vec<String> = gate.changes().iter().map(ToString::to_string).collect();
        assert_eq!(plan, [format!("{}: would run kubectl cordon and drain {} (all pods but DaemonSets' evicted, up to 30 s) (node removed)", inv.hosts[0].address, inv.hosts[1].name)]);
        let script = step.script(&inv.hosts[1].name);
        assert!(script.contains(&format!("cordon {}", inv.hosts[1].name)) && script.contains("--ignore-daemonsets --delete-emptydir-data --force --timeout=30s"), "{script}");
        assert!(script.contains("'--server=https://[::1]:6443'"), "{script}");
    }

    /// A drain that does not finish stops the step with what to do.
    #[tokio::test]
    async fn a_drain_that_times_out_says_what_to_do() {
        let inv = crate::inventory::field_report();
        let step = DrainNodes { nodes: vec![inv.hosts[1].name.clone()], ..step(&inv) };
        let timed_out = Output { status: 1, stdout: Vec::new(), stderr: b"error: timed out waiting for the condition".to_vec() };
        let fake = FakeTransport::new("a").answer(&Query::node_pod_cidrs(), &format!("{} 2001:cafe:42:1::/64\n", inv.hosts[1].name)).expect_output("drain", timed_out, 1);
        let gate = Gate::new(Mode::Apply);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(&inv, &inv.hosts[0], &fake, &gate, &Progress::Silent, &snapshot);
        let error = format!("{:#}", step.run(&cx).await.unwrap_err());
        fake.verify();
        assert!(error.contains(&format!("{} was not drained within 30 s", inv.hosts[1].name)) && error.contains("it stays cordoned and nothing was removed"), "{error}");
        assert!(error.contains("timed out waiting for the condition"), "{error}");
    }
}
