//! CoreDNS: the cluster DNS Service at the tenth service IP.

use super::Component;

pub const COREDNS: Component = Component::addon("coredns", "coredns.yaml.j2", "coredns.yaml", |_| true, |inv| vec![inv.images.coredns.to_string()]);
