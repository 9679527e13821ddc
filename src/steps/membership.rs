//! Cluster membership, as the hosts themselves record it (never a local state file that can be
//! lost or stale): `/etc/v6deploy/member` names the cluster a host was installed into. It is
//! written as the last step of `install` and `node add`, read first by both.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use crate::inventory::{HostSpec, Inventory};
use crate::runner::{HostContext, Read, Step, StepFuture};
use crate::transport::files::FileSpec;

/// The marker file on each member host.
pub const MARKER: &str = "/etc/v6deploy/member";

/// The marker's contents for a host of `inv`.
pub fn marker(inv: &Inventory, host: &HostSpec) -> String {
    format!("# Managed by v6deploy: this host belongs to the cluster below.\ncluster: {}\nnode: {}\nroles: {}\n", inv.cluster.name, host.name, host.roles)
}

/// The cluster a marker names.
pub fn parse_marker(text: &str) -> Option<String> {
    field(text, "cluster:")
}

/// The node name a marker recorded (markers of every version have it).
pub fn parse_marker_node(text: &str) -> Option<String> {
    field(text, "node:")
}

fn field(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(name)).map(|c| c.trim().to_string())
}

/// What a host's marker says: its cluster and the node name install gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub cluster: String,
    pub node: Option<String>,
}

/// What each host's marker says (`None`: no marker).
pub type MembershipStore = Arc<Mutex<BTreeMap<Ipv6Addr, Option<Marker>>>>;

/// The "Read cluster membership" step (read-only).
pub struct ReadMembership {
    pub store: MembershipStore,
}

impl Step for ReadMembership {
    fn title(&self) -> String {
        "Read cluster membership".into()
    }

    fn reads(&self, _: &Inventory, _: &HostSpec) -> Vec<Read> {
        vec![Read::Contents(MARKER.into())]
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let text = cx.read_file(MARKER).await?.map(|b| String::from_utf8_lossy(&b).into_owned());
            let marker = text.as_deref().and_then(|t| Some(Marker { cluster: parse_marker(t)?, node: parse_marker_node(t) }));
            let summary = match &marker {
                Some(m) => format!("member of cluster {}", m.cluster),
                None => "not in a cluster".to_string(),
            };
            self.store.lock().unwrap_or_else(|p| p.into_inner()).insert(cx.host.address, marker);
            Ok(summary)
        })
    }
}

/// The "Record cluster membership" step.
pub struct RecordMembership;

impl Step for RecordMembership {
    fn title(&self) -> String {
        "Record cluster membership".into()
    }

    fn reads(&self, _: &Inventory, _: &HostSpec) -> Vec<Read> {
        vec![Read::Probe(MARKER.into())]
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let spec = FileSpec::root(MARKER, 0o644, marker(cx.inventory, cx.host).into_bytes());
            let changed = cx.files(&[spec]).await?;
            Ok(if changed.is_empty() { "already recorded".into() } else { format!("recorded in {MARKER}") })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_round_trips() {
        let inv = crate::inventory::field_report();
        let text = marker(&inv, &inv.hosts[0]);
        assert_eq!(parse_marker(&text).as_deref(), Some("field-report"));
        assert!(text.contains("node: 2002.0db8.0000.0001.0000.0000.0000.0101\n"));
        assert_eq!(parse_marker("garbage"), None);
    }
}
