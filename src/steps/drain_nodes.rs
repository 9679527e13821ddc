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
