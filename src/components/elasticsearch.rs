//! Elasticsearch, when the inventory has an `elasticsearch:` section: a StatefulSet that
//! publishes each pod's IPv6 address (`network.publish_host: _eth0:ipv6_`, the field report's
//! fix) and brackets its seed hosts.

use super::{AddonNetwork, Component, Workload, WorkloadKind};

pub const ELASTICSEARCH: Component = Component::addon("elasticsearch", "elasticsearch.yaml.j2", "elasticsearch.yaml", |inv| inv.elasticsearch.is_some(), |inv| inv.elasticsearch.iter().map(|es| es.image.to_string()).collect(), &[STATEFULSET], AddonNetwork::Pod);

const STATEFULSET: Workload = Workload { kind: WorkloadKind::StatefulSet, namespace: "elasticsearch", name: "elasticsearch", selector: "app=elasticsearch" };
