//! node-local-dns: a DNS cache on every node at `cluster.nodelocaldns` (never link-local).

use super::{Component, Kind, Manifest};

pub const NODELOCALDNS: Component = Component {
    name: "nodelocaldns",
    roles: &[],
    binaries: &[],
    files: &[],
    certificates: &[],
    ports: &[],
    kind: Kind::ClusterAddon(Manifest { template: "nodelocaldns.yaml.j2", file: "nodelocaldns.yaml", wanted: |_| true }),
};
