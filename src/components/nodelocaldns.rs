//! node-local-dns: a DNS cache on every node at `cluster.nodelocaldns` (never link-local).

use super::Component;

pub const NODELOCALDNS: Component = Component::addon("nodelocaldns", "nodelocaldns.yaml.j2", "nodelocaldns.yaml", |_| true, |inv| vec![inv.images.nodelocaldns.to_string()]);
