//! node-local-dns: a DNS cache on every node at `cluster.nodelocaldns` (never link-local).

use super::{Component, Leaves, Script, Workload, WorkloadKind, delete_link};

pub const NODELOCALDNS: Component = Component::addon("nodelocaldns", "nodelocaldns.yaml.j2", "nodelocaldns.yaml", |_| true, |inv| vec![inv.images.nodelocaldns.to_string()], &[DAEMONSET])
    // Its pods make a dummy interface holding the cache's address on every node.
    .leaving(Leaves { undo: Some(Script { what: "remove the nodelocaldns interface", script: || delete_link("nodelocaldns") }), ..Leaves::NOTHING });

/// One cache per node; Ready when its health endpoint on the cache's address answers.
const DAEMONSET: Workload = Workload { kind: WorkloadKind::DaemonSet, namespace: "kube-system", name: "node-local-dns", selector: "k8s-app=node-local-dns" };
