//! CoreDNS: the cluster DNS Service at the tenth service IP; its pods are Ready when its
//! `ready` plugin says every plugin (the kubernetes one: synced with the API) is.

use super::{AddonNetwork, Component, Workload, WorkloadKind};

pub const COREDNS: Component = Component::addon("coredns", "coredns.yaml.j2", "coredns.yaml", |_| true, |inv| vec![inv.images.coredns.to_string()], &[DEPLOYMENT], AddonNetwork::Pod);

const DEPLOYMENT: Workload = Workload { kind: WorkloadKind::Deployment, namespace: "kube-system", name: "coredns", selector: "k8s-app=kube-dns" };
