//! The inventory file exactly as written: strings with their locations, unknown keys refused.
//! `validate` turns this into the typed model; nothing else reads these types. `shape` lists the
//! same keys to report them all at once; its tests keep the two in step.

use serde::Deserialize;
use serde_saphyr::Spanned;

pub type Text = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInventory {
    pub cluster: Spanned<RawCluster>,
    #[serde(default)]
    pub ssh: Option<RawSsh>,
    pub hosts: Spanned<Vec<RawHost>>,
    #[serde(default)]
    pub kernel: Option<RawKernel>,
    #[serde(default)]
    pub network: Option<RawNetwork>,
    #[serde(default)]
    pub bundle: Option<RawBundle>,
    #[serde(default)]
    pub images: Option<RawImages>,
    #[serde(default)]
    pub containerd: Option<RawContainerd>,
    #[serde(default)]
    pub kubelet: Option<RawKubelet>,
    #[serde(default)]
    pub elasticsearch: Option<Spanned<RawElasticsearch>>,
    #[serde(default)]
    pub pki: Option<RawPki>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    pub name: Text,
    pub kubernetes_version: Text,
    pub service_cidr: Text,
    pub pod_cidr: Text,
    pub node_cidr_mask: Option<Spanned<u8>>,
    pub dns_domain: Option<Text>,
    pub nodelocaldns: Option<Text>,
    pub upstream_dns: Option<Vec<Text>>,
    #[serde(default)]
    pub extra_sans: Vec<Text>,
    pub api_endpoint: Option<Text>,
    pub cgroup_driver: Option<Text>,
    pub pod_network: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSsh {
    pub user: Option<Text>,
    pub port: Option<Spanned<u16>>,
    pub private_key: Option<Text>,
    pub known_hosts: Option<Text>,
    pub host_key_check: Option<Text>,
    #[serde(rename = "become")]
    pub become_method: Option<Text>,
    pub bastion: Option<Spanned<RawBastion>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBastion {
    pub address: Text,
    pub user: Option<Text>,
    pub port: Option<Spanned<u16>>,
    pub private_key: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    pub address: Text,
    pub roles: Spanned<Vec<Text>>,
    pub interface: Text,
    pub prefix_length: Option<Spanned<u8>>,
    pub gateway: Option<Text>,
    pub name: Option<Text>,
    pub ssh_user: Option<Text>,
    pub ssh_port: Option<Spanned<u16>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKernel {
    pub minimum: Option<Text>,
    pub package: Option<Text>,
    pub repository: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub manage: Option<bool>,
    pub rollback_seconds: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBundle {
    pub path: Option<Text>,
    pub missing: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImages {
    pub flannel: Option<Text>,
    pub flannel_cni_plugin: Option<Text>,
    pub coredns: Option<Text>,
    pub nodelocaldns: Option<Text>,
    pub sandbox: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContainerd {
    pub snapshotter: Option<Text>,
    pub restrict_oom_score_adj: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubelet {
    #[serde(default)]
    pub eviction_hard: std::collections::BTreeMap<String, Text>,
    pub image_gc_high_percent: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawElasticsearch {
    pub replicas: Option<Spanned<u16>>,
    pub interface: Option<Text>,
    pub image: Option<Text>,
    pub heap: Option<Text>,
    pub storage: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPki {
    pub dir: Option<Text>,
    pub ca_days: Option<Spanned<u32>>,
    pub leaf_days: Option<Spanned<u32>>,
}
