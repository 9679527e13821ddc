//! The typed inventory: what every later stage reads. Built only by `validate`, so every
//! address here is a parsed `Ipv6Addr`/`Ipv6Net` and every name is valid.

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use ipnet::Ipv6Net;
use serde::Serialize;

use crate::kernel::KernelVersion;
use crate::net::NodeName;

pub use super::route::{Bastion, Route};
pub use super::values::{ClusterName, DnsName, HeapSize, ImageRef, InterfaceName, PackageName, Quantity, Threshold, UserName, ValueError};

/// A whole inventory file, parsed.
#[derive(Debug, Clone, Serialize)]
pub struct Inventory {
    /// The file it was read from.
    pub source: PathBuf,
    pub cluster: Cluster,
    pub ssh: Ssh,
    pub hosts: Vec<HostSpec>,
    pub kernel: Kernel,
    pub network: Network,
    pub bundle: Bundle,
    pub images: Images,
    pub containerd: Containerd,
    pub kubelet: Kubelet,
    pub elasticsearch: Option<Elasticsearch>,
    pub pki: Pki,
}

impl Inventory {
    /// Every host's address, in inventory order.
    pub fn addresses(&self) -> Vec<Ipv6Addr> {
        self.hosts.iter().map(|h| h.address).collect()
    }

    /// The first control-plane host in inventory order: where `admin.conf` points, the API
    /// server of worker-only hosts, and where the addons are applied. Validation makes sure
    /// there is one; an inventory narrowed by hand may have none.
    pub fn first_control_plane(&self) -> Option<&HostSpec> {
        self.hosts.iter().find(|h| h.has(Role::ControlPlane))
    }
}

/// Cluster-wide settings and the values derived from them (computed once, at load).
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    /// `[a-z0-9-]`, used for the certs directory and kubeconfig names.
    pub name: ClusterName,
    /// A supported release (1.20 to 1.30); templates see `major.minor.patch`.
    pub kubernetes_version: KubernetesVersion,
    /// The cgroup driver of the kubelet and of containerd (they must agree).
    pub cgroup_driver: CgroupDriver,
    /// How pods on different nodes reach each other.
    pub pod_network: PodNetwork,
    pub service_cidr: Ipv6Net,
    pub pod_cidr: Ipv6Net,
    /// Prefix length of each node's pod subnet (`--node-cidr-mask-size-ipv6`).
    pub node_cidr_mask: u8,
    pub dns_domain: DnsName,
    /// Address nodelocaldns binds on every node (never link-local).
    pub nodelocaldns: Ipv6Addr,
    /// Where CoreDNS sends the names outside the cluster.
    pub upstream_dns: UpstreamDns,
    /// Extra subject alternative names for the apiserver certificate.
    pub extra_sans: Vec<San>,
    /// Where clients off the hosts reach the API (a virtual IP or a DNS name in front of the
    /// apiservers, port 6443): `admin.conf` and `kubeconfig` point there, and it is a name of
    /// the apiserver certificate. `None`: the first control plane.
    pub api_endpoint: Option<ApiEndpoint>,
    /// First host of the service CIDR: the `kubernetes` Service.
    pub api_service_ip: Ipv6Addr,
    /// Tenth host of the service CIDR: the cluster DNS Service.
    pub dns_service_ip: Ipv6Addr,
    /// How many node subnets the pod CIDR holds (saturating).
    pub node_capacity: u128,
}

/// The address or name of `cluster.api_endpoint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ApiEndpoint {
    /// A virtual IP (keepalived, a load balancer).
    Address(Ipv6Addr),
    /// A DNS name (no wildcard) whose AAAA records lead to the apiservers.
    Name(DnsName),
}

impl ApiEndpoint {
    /// `https://[address]:port` or `https://name:port`.
    pub fn url(&self, port: u16) -> String {
        match self {
            ApiEndpoint::Address(address) => crate::net::url("https", *address, port),
            ApiEndpoint::Name(name) => format!("https://{name}:{port}"),
        }
    }
}

/// A subject alternative name given in the inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum San {
    Ip(Ipv6Addr),
    /// A DNS name, possibly a `*.` wildcard.
    Dns(DnsName),
}

/// How to reach the hosts.
#[derive(Debug, Clone, Serialize)]
pub struct Ssh {
    pub user: UserName,
    pub port: u16,
    /// Resolved path (`~` expanded, relative paths taken from the inventory's directory).
    pub private_key: PathBuf,
    pub known_hosts: PathBuf,
    pub host_key_check: HostKeyCheck,
    pub become_method: Become,
    /// The jump host every connection goes through (`ssh.bastion`), if any.
    pub bastion: Option<Bastion>,
}

/// What to do with host keys not in known_hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostKeyCheck {
    /// Refuse unknown and changed keys.
    Strict,
    /// Record unknown keys; still refuse changed ones.
    AcceptNew,
}

/// How a non-root user gains root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Become {
    /// Commands run as the SSH user (root).
    None,
    /// Commands run through `sudo -n`.
    Sudo,
}

/// One host of the inventory.
#[derive(Debug, Clone, Serialize)]
pub struct HostSpec {
    pub address: Ipv6Addr,
    /// The encoded address, or a validated override.
    pub name: NodeName,
    pub roles: Roles,
    /// The NIC carrying `address` (its ifcfg file).
    pub interface: InterfaceName,
    pub prefix_length: u8,
    pub gateway: Option<Ipv6Addr>,
    /// This host's own SSH user and port (`ssh_user`, `ssh_port`), over the `ssh:` section's;
    /// see `Inventory::route`.
    pub ssh_user: Option<UserName>,
    pub ssh_port: Option<u16>,
}

impl HostSpec {
    /// Whether the host has `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.0.contains(&role)
    }
}

/// What a host does in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ControlPlane,
    Etcd,
    Worker,
}

impl Role {
    /// Every role, in the order they are listed.
    pub const ALL: [Role; 3] = [Role::ControlPlane, Role::Etcd, Role::Worker];

    /// The name used in the inventory.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Etcd => "etcd",
            Role::Worker => "worker",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A host's set of roles (never empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Roles(pub BTreeSet<Role>);

impl fmt::Display for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.0.iter().map(|r| r.as_str()).collect();
        f.write_str(&names.join(","))
    }
}

/// Kernel policy.
#[derive(Debug, Clone, Serialize)]
pub struct Kernel {
    /// Hosts below this are stopped at the kernel gate (flannel's IPv6 vxlan needs >= 3.12).
    pub minimum: KernelVersion,
    /// Where `kernel upgrade` takes the new kernel from.
    pub source: KernelSource,
}

/// Where a new kernel comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KernelSource {
    /// The newest kernel package in the bundle's `rpms/` (offline sites).
    Bundle,
    /// A package installed by yum from the host's repositories (online sites), e.g. ELRepo's
    /// `kernel-lt` with the repository `elrepo-kernel` enabled.
    Repository { package: PackageName, repository: Option<PackageName> },
}

/// Whether v6deploy manages the hosts' ifcfg files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkManagement {
    /// Render ifcfg for review only.
    Leave,
    /// Apply ifcfg (guarded by a rollback timer).
    Manage,
}

/// Network policy.
#[derive(Debug, Clone, Serialize)]
pub struct Network {
    pub manage: NetworkManagement,
    /// Seconds after which a host restores its previous ifcfg file by itself unless v6deploy
    /// reconnected and disarmed the timer.
    pub rollback_seconds: u32,
}

/// What to do when the bundle lacks a component's binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MissingBinary {
    /// Refuse to install before touching any host.
    Refuse,
    /// Install configs, certificates and units, but do not start the component.
    Stage,
}

/// The offline bundle of binaries and images.
#[derive(Debug, Clone, Serialize)]
pub struct Bundle {
    pub path: PathBuf,
    pub missing: MissingBinary,
}

/// Container images of the addons.
#[derive(Debug, Clone, Serialize)]
pub struct Images {
    pub flannel: ImageRef,
    pub flannel_cni_plugin: ImageRef,
    pub coredns: ImageRef,
    pub nodelocaldns: ImageRef,
    /// The pod sandbox ("pause") image: containerd's `sandbox_image`, the kubelet's
    /// `--pod-infra-container-image`.
    pub sandbox: ImageRef,
}

/// How containerd runs on the nodes.
#[derive(Debug, Clone, Serialize)]
pub struct Containerd {
    pub snapshotter: Snapshotter,
    /// containerd's CRI `restrict_oom_score_adj`: never ask for an OOM score below the
    /// runtime's own (needed where processes lack CAP_SYS_RESOURCE, e.g. in containers).
    pub restrict_oom_score_adj: bool,
}

/// Kubelet settings beyond the defaults.
#[derive(Debug, Clone, Serialize)]
pub struct Kubelet {
    /// `evictionHard` of the kubelet's configuration (signal -> threshold, e.g.
    /// `nodefs.available: "5%"`); empty: the kubelet's defaults.
    pub eviction_hard: std::collections::BTreeMap<&'static str, Threshold>,
    /// `imageGCHighThresholdPercent`: the disk usage above which the kubelet deletes unused
    /// images. 100 (the default) turns that off: on an offline site the images come from the
    /// bundle and no registry can give a deleted one back, so a pod whose image was collected
    /// never starts again (seen on the lab: its shared disk at 85 % deleted test images).
    pub image_gc_high_percent: u8,
}

impl Default for Kubelet {
    fn default() -> Kubelet {
        Kubelet { eviction_hard: Default::default(), image_gc_high_percent: 100 }
    }
}

/// containerd's snapshotter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Snapshotter {
    /// The default: overlay mounts (needs a file system that overlayfs accepts under
    /// /var/lib/containerd).
    Overlayfs,
    /// Plain copies: works on any file system (e.g. a container's own overlay root), uses
    /// more disk.
    Native,
}

/// Where CoreDNS forwards the names it does not serve (`cluster.upstream_dns`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", content = "servers", rename_all = "kebab-case")]
pub enum UpstreamDns {
    /// Not set: the resolvers of each node's `/etc/resolv.conf` (CoreDNS runs with the node's).
    NodeResolvers,
    /// A list of IPv6 resolvers.
    Servers(Vec<Ipv6Addr>),
    /// `[]`: nowhere; CoreDNS answers the cluster's names only (a site without DNS).
    Nowhere,
}

impl UpstreamDns {
    /// The resolvers named in the inventory.
    pub fn servers(&self) -> &[Ipv6Addr] {
        match self {
            UpstreamDns::Servers(servers) => servers,
            UpstreamDns::NodeResolvers | UpstreamDns::Nowhere => &[],
        }
    }
}

/// The pod network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodNetwork {
    /// flannel's DaemonSet with its IPv6 vxlan backend (needs kernel >= 3.12 and flannel's
    /// images): nodes on any IPv6 network that routes between them.
    Flannel,
    /// No daemon: a `bridge` CNI network over each node's podCIDR and, on every node, a route
    /// `<peer podCIDR> via <peer address>` per other node, written by v6deploy from the Node
    /// objects. Nodes must share one link (one /64, as in the field report).
    HostRoutes,
}

/// The cgroup driver of the kubelet and containerd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CgroupDriver {
    /// systemd manages the cgroups (kubeadm's default since 1.22; required with cgroup v2).
    Systemd,
    /// The kubelet writes cgroupfs itself.
    Cgroupfs,
}

/// A Kubernetes release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubernetesVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KubernetesVersion {
    /// The oldest and newest minor releases v6deploy's templates are written for.
    pub const SUPPORTED: std::ops::RangeInclusive<(u32, u32)> = (1, 20)..=(1, 30);

    /// Whether this release is `1.minor` or later.
    pub fn at_least(self, minor: u32) -> bool {
        (self.major, self.minor) >= (1, minor)
    }
}

impl fmt::Display for KubernetesVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for KubernetesVersion {
    type Err = ();

    /// `1.27.15` or `v1.27.15`.
    fn from_str(text: &str) -> Result<Self, ()> {
        let text = text.trim().trim_start_matches('v');
        let mut parts = text.split('.').map(|p| if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) { p.parse::<u32>().ok() } else { None });
        match (parts.next().flatten(), parts.next().flatten(), parts.next().flatten(), parts.next()) {
            (Some(major), Some(minor), Some(patch), None) => Ok(KubernetesVersion { major, minor, patch }),
            _ => Err(()),
        }
    }
}

impl Serialize for KubernetesVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The optional Elasticsearch StatefulSet.
#[derive(Debug, Clone, Serialize)]
pub struct Elasticsearch {
    pub replicas: u16,
    /// The pod interface whose IPv6 address ES publishes (`_eth0:ipv6_`).
    pub interface: InterfaceName,
    pub image: ImageRef,
    /// JVM heap, e.g. `1g` (`-Xms`/`-Xmx`).
    pub heap: HeapSize,
    /// Volume size per replica, e.g. `10Gi`.
    pub storage: Quantity,
}

/// Where the cluster's PKI lives on the machine v6deploy runs from, and how long it lasts.
#[derive(Debug, Clone, Serialize)]
pub struct Pki {
    /// The directory holding `<cluster name>/`: `pki.dir` resolved like other inventory paths
    /// (relative to the inventory's directory), or `certs` in the current directory.
    pub dir: PathBuf,
    /// Validity of a new CA certificate, in days (at least 1).
    pub ca_days: u32,
    /// Validity of a new leaf certificate, in days (at least 1, at most `ca_days`).
    pub leaf_days: u32,
}
