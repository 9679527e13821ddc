//! flannel: the pod network (IPv6 vxlan; needs kernel >= 3.12), a DaemonSet on every node.

use super::Component;

pub const FLANNEL: Component = Component::addon("flannel", "flannel.yaml.j2", "flannel.yaml", |_| true);
