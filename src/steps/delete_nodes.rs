//! The "Delete Node objects" step of `node remove`: once the leaving hosts' kubelets are
//! stopped (so none registers its Node again), their Node objects are deleted through the API
//! server, on a control-plane host that stays.

use std::net::Ipv6Addr;

use super::drain_nodes::registered;
use crate::components::kubectl_local;
use crate::inventory::HostSpec;
use crate::net::NodeName;
use crate::runner::{HostContext, Step, StepFuture};

/// The "Delete Node objects" step: on `api_host` only.
pub struct DeleteNodes {
    /// A control-plane host that stays in the cluster.
    pub api_host: Ipv6Addr,
    /// The Node objects to delete.
    pub nodes: Vec<NodeName>,
}

impl Step for DeleteNodes {
    fn title(&self) -> String {
        "Delete Node objects".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.address == self.api_host
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let registered = registered(cx).await?;
            let present: Vec<&NodeName> = self.nodes.iter().filter(|n| registered.contains(n.as_str())).collect();
            for node in &present {
                let script = kubectl_local(&["delete", "node", node.as_str(), "--ignore-not-found"]);
                cx.command(&format!("kubectl delete node {node}"), &script, "node removed").await?;
            }
            Ok(match present.len() {
                0 => "no Node object left to delete".into(),
                n => format!("{n} deleted"),
            })
        })
    }
}
