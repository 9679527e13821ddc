//! node-local-dns: a DNS cache on every node at `cluster.nodelocaldns` (never link-local).
//! node-cache puts that address on the node's loopback device (`-interfacename lo`), not on a
//! dummy interface of its own as upstream's manifest has it: kernels built without
//! CONFIG_DUMMY exist (the lab's is one), and an address on `lo` is local on every kernel.
//! The address is also written to [`ADDRESS_FILE`] on every node, so that `reset` removes
//! exactly it from `lo` (its pods stop with the runtime; node-cache's own teardown cannot
//! delete `lo`, and leaves the address).

use super::{AddonNetwork, Component, HostFile, Leaves, Script, Workload, WorkloadKind, delete_link};
use crate::inventory::Role;

/// The cache's address, one line, for `reset`.
pub const ADDRESS_FILE: &str = "/etc/v6deploy/nodelocaldns-address";

pub const NODELOCALDNS: Component = Component {
    roles: &Role::ALL,
    files: &[HostFile::config(ADDRESS_FILE, "nodelocaldns-address.j2").without_restart()],
    ..Component::addon("nodelocaldns", "nodelocaldns.yaml.j2", "nodelocaldns.yaml", |_| true, |inv| vec![inv.images.nodelocaldns.to_string()], &[DAEMONSET], AddonNetwork::Host)
}
.leaving(Leaves { undo: Some(Script { what: "remove the cache's address from lo (and an older dummy interface)", script: remove_address }), ..Leaves::NOTHING });

/// One cache per node; Ready when its health endpoint on the cache's address answers.
const DAEMONSET: Workload = Workload { kind: WorkloadKind::DaemonSet, namespace: "kube-system", name: "node-local-dns", selector: "k8s-app=node-local-dns" };

/// The address of [`ADDRESS_FILE`] deleted from `lo` when it is there.
fn remove_address() -> String {
    format!(
        "if [ -f {ADDRESS_FILE} ]; then a=$(grep -v '^#' {ADDRESS_FILE} | head -n 1); if [ -n \"$a\" ] && ip -6 addr show dev lo | grep -q \" $a/128 \"; then ip -6 addr del \"$a/128\" dev lo; fi; fi\n{}",
        delete_link("nodelocaldns")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_removes_only_the_recorded_address_from_lo() {
        let script = remove_address();
        assert!(script.contains("ip -6 addr del \"$a/128\" dev lo"), "{script}");
        assert!(script.contains(ADDRESS_FILE), "{script}");
        let syntax = std::process::Command::new("sh").arg("-n").arg("-c").arg(&script).status().unwrap();
        assert!(syntax.success());
    }
}
