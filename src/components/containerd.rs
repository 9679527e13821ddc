//! containerd, the container runtime of every node: CRI on `/run/containerd/containerd.sock`
//! (enabled whatever an earlier package configured: docker's ships `disabled_plugins =
//! ["cri"]`), runc through the runc v2 shim, the cgroup driver the kubelet uses, the
//! inventory's sandbox image and snapshotter. Started and healthy (its socket answers) before
//! the images are imported and the kubelet starts.

use super::{Component, Health, HostFile, Kind, Service, Stage, binary_path};
use crate::inventory::{HostSpec, Inventory, Role};

/// containerd's CRI socket.
pub const SOCKET: &str = "/run/containerd/containerd.sock";

/// `ctr version` over the socket: the daemon answers.
fn health(_: &Inventory, _: &HostSpec) -> String {
    format!("{} --address {SOCKET} version", binary_path("ctr"))
}

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
    kind: Kind::Service(Service {
        health: Health::Script { needs: &["ctr"], script: health, shows: "ctr version over /run/containerd/containerd.sock" },
        ..Service::new(Stage::Runtime, "containerd")
    }),
};
