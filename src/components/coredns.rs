//! CoreDNS: the cluster DNS Service at the tenth service IP.

use super::{Component, Kind, Manifest};

pub const COREDNS: Component = Component {
    name: "coredns",
    roles: &[],
    binaries: &[],
    files: &[],
    certificates: &[],
    ports: &[],
    kind: Kind::ClusterAddon(Manifest { template: "coredns.yaml.j2", file: "coredns.yaml", wanted: |_| true }),
};
