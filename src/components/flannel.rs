//! flannel: the pod network (IPv6 vxlan; needs kernel >= 3.12), a DaemonSet on every node.

use super::{Component, Kind, Manifest};

pub const FLANNEL: Component = Component {
    name: "flannel",
    roles: &[],
    binaries: &[],
    files: &[],
    certificates: &[],
    ports: &[],
    kind: Kind::ClusterAddon(Manifest { template: "flannel.yaml.j2", file: "flannel.yaml", wanted: |_| true }),
};
