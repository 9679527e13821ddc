//! The CNI plugins of every node (`bundle/cni/*` to `/opt/cni/bin`): the pod network's
//! configuration chains `bridge`, `host-local` and `portmap`; `loopback` gives every pod its
//! `lo`.

use super::{Leaves, BundleDir, Component, Kind};
use crate::inventory::Role;

/// Where the kubelet's runtime looks for CNI plugins.
pub const CNI_BIN_DIR: &str = "/opt/cni/bin";

pub const CNI_PLUGINS: Component = Component {
    name: "cni-plugins",
    roles: &Role::ALL,
    binaries: &[],
    bundle_dirs: &[BundleDir { dir: "cni", host_dir: CNI_BIN_DIR, mode: 0o755, required: &["bridge", "host-local", "loopback", "portmap"] }],
    files: &[],
    certificates: &[],
    ports: &[],
    // The plugins' own state: host-local's address leases, libcni's result cache.
    leaves: Leaves { state: &["/var/lib/cni"], ..Leaves::NOTHING },
    kind: Kind::HostFiles,
};
