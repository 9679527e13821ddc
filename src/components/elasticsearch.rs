//! Elasticsearch, when the inventory has an `elasticsearch:` section: a StatefulSet that
//! publishes each pod's IPv6 address (`network.publish_host: _eth0:ipv6_`, the field report's
//! fix) and brackets its seed hosts.

use super::{Component, Kind, Manifest};

pub const ELASTICSEARCH: Component = Component {
    name: "elasticsearch",
    roles: &[],
    binaries: &[],
    files: &[],
    certificates: &[],
    ports: &[],
    kind: Kind::ClusterAddon(Manifest { template: "elasticsearch.yaml.j2", file: "elasticsearch.yaml", wanted: |inv| inv.elasticsearch.is_some() }),
};
