//! containerd, the container runtime of every node: CRI on `/run/containerd/containerd.sock`
//! (enabled whatever an earlier package configured: docker's ships `disabled_plugins =
//! ["cri"]`), runc through the runc v2 shim, the cgroup driver the kubelet uses, the
//! inventory's sandbox image and snapshotter. Started and healthy (its socket answers) before
//! the images are imported and the kubelet starts.

use super::{Leaves, Script, Component, Health, HostFile, Kind, Service, Stage, binary_path};
use crate::inventory::{HostSpec, Inventory, Role};

/// containerd's CRI socket.
pub const SOCKET: &str = "/run/containerd/containerd.sock";

/// `ctr version` over the socket: the daemon answers.
fn health(_: &Inventory, _: &HostSpec) -> String {
    format!("{} --address {SOCKET} version", binary_path("ctr"))
}

/// The containerd namespace of the CRI: the kubelet's pods, the images v6deploy imports.
pub const CRI_NAMESPACE: &str = "k8s.io";

/// Every task and container of the cluster's namespace ([`CRI_NAMESPACE`]; never another's,
/// e.g. Docker's `moby` on a shared containerd) deleted (tasks killed first), in passes until
/// one finds nothing: a request the kubelet made before it stopped may still be creating a
/// pod (at most 20 passes, 0.5 s apart).
fn delete_containers() -> String {
    format!(
        "if systemctl is-active --quiet containerd; then c='{ctr} --address {SOCKET} -n {CRI_NAMESPACE}'; pass=0\n\
         while :; do found=''\n\
         for t in $($c tasks ls -q); do found=1; $c tasks delete -f \"$t\" >/dev/null 2>&1 || true; done\n\
         for k in $($c containers ls -q); do found=1; $c containers delete \"$k\" >/dev/null 2>&1 || true; done\n\
         [ -n \"$found\" ] || break\n\
         pass=$((pass + 1)); if [ $pass -ge 20 ]; then echo \"containerd still has containers after 20 passes of deleting them\" >&2; exit 1; fi\n\
         sleep 0.5\n\
         done; fi",
        ctr = binary_path("ctr")
    )
}

/// The pods' network namespaces (containerd's CRI pins them as bind mounts): unmounted and
/// removed, so their interfaces go.
const REMOVE_POD_NETNS: &str = "for n in /run/netns/cni-*; do [ -e \"$n\" ] || continue; umount \"$n\" 2>/dev/null || true; rm -f \"$n\"; done";

pub const CONTAINERD: Component = Component {
    name: "containerd",
    roles: &Role::ALL,
    binaries: &["containerd", "containerd-shim-runc-v2", "runc", "ctr"],
    bundle_dirs: &[],
    files: &[
        HostFile::config("/etc/containerd/config.toml", "containerd-config.toml.j2"),
        HostFile::config("/etc/systemd/system/containerd.service", "containerd.service.j2"),
    ],
    certificates: &[],
    ports: &[],
    leaves: Leaves {
        state: &["/etc/containerd", "/var/lib/containerd", "/run/containerd", "/opt/containerd"],
        // Its unit stops only the daemon (KillMode=process, so that a restart keeps the
        // pods): the pods' containers are deleted while it still answers.
        before_stop: Some(Script { what: "delete every container and task", script: delete_containers }),
        undo: Some(Script { what: "remove the pods' network namespaces", script: || REMOVE_POD_NETNS.into() }),
        data: &[],
    },
    kind: Kind::Service(Service {
        health: Health::Script { needs: &["ctr"], script: health, shows: "ctr version over /run/containerd/containerd.sock" },
        ..Service::new(Stage::Runtime, "containerd")
    }),
};
