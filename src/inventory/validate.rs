//! Turns the raw inventory into the typed model, collecting every problem with its place.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv6Net;
use serde_saphyr::Spanned;

use super::error::{Place, Problem, ProblemKind, Warning, WarningKind};
use super::model::*;
use super::raw::*;
use super::suggest::closest;

mod names;
mod addons;
mod runtime;
mod ssh;
mod topology;
use crate::kernel::KernelVersion;
use crate::net::{NodeName, nth_host, overlaps, parse_host_address, subnet_capacity};

/// Defaults of the inventory contract.
pub mod defaults {
    pub const DNS_DOMAIN: &str = "cluster.local";
    pub const NODELOCALDNS: &str = "fd00:169:254::a";
    pub const NODE_CIDR_MASK: u8 = 64;
    pub const PREFIX_LENGTH: u8 = 64;
    pub const KERNEL_MINIMUM: &str = "4.19";
    pub const SSH_USER: &str = "root";
    pub const SSH_PORT: u16 = 22;
    pub const PRIVATE_KEY: &str = "~/.ssh/id_ed25519";
    pub const KNOWN_HOSTS: &str = "~/.ssh/known_hosts";
    pub const BUNDLE: &str = "./bundle";
    pub const FLANNEL_IMAGE: &str = "docker.io/flannel/flannel:v0.25.5";
    pub const FLANNEL_CNI_PLUGIN_IMAGE: &str = "docker.io/flannel/flannel-cni-plugin:v1.5.1-flannel1";
    pub const COREDNS_IMAGE: &str = "registry.k8s.io/coredns/coredns:v1.10.1";
    pub const NODELOCALDNS_IMAGE: &str = "registry.k8s.io/dns/k8s-dns-node-cache:1.22.28";
    pub const SANDBOX_IMAGE: &str = "registry.k8s.io/pause:3.9";
    pub const ELASTICSEARCH_IMAGE: &str = "docker.elastic.co/elasticsearch/elasticsearch:7.17.25";
    /// Relative to the current directory (the repository's `/certs/` is git-ignored).
    pub const PKI_DIR: &str = "certs";
    pub const CA_DAYS: u32 = 3650;
    pub const LEAF_DAYS: u32 = 365;
    pub const ROLLBACK_SECONDS: u32 = 120;
}

/// Shortest rollback window: v6deploy needs a few seconds to reconnect after the change.
const MIN_ROLLBACK_SECONDS: u32 = 10;

/// Collects problems and warnings while building the model.
pub struct Validator<'a> {
    path: &'a Path,
    pub problems: Vec<Problem>,
    pub warnings: Vec<Warning>,
}

impl<'a> Validator<'a> {
    pub fn new(path: &'a Path) -> Self {
        Validator { path, problems: Vec::new(), warnings: Vec::new() }
    }

    fn place<T>(&self, spanned: &Spanned<T>, field: impl Into<String>) -> Place {
        Place {
            path: self.path.to_path_buf(),
            line: spanned.referenced.line() as usize,
            column: spanned.referenced.column() as usize,
            field: field.into(),
        }
    }

    pub(super) fn report<T>(&mut self, spanned: &Spanned<T>, field: impl Into<String>, kind: ProblemKind) {
        let place = self.place(spanned, field);
        self.problems.push(Problem { place, kind });
    }

    /// Parses a typed string (see `values`), reporting why it does not parse.
    pub(super) fn typed<T>(&mut self, text: &Text, field: impl Into<String>, parse: fn(&str) -> Result<T, ValueError>) -> Option<T> {
        parse(&text.value).map_err(|error| self.report(text, field, ProblemKind::Invalid { value: text.value.clone(), error })).ok()
    }

    /// [`Validator::typed`] for an optional key with a default (the default stands in for a
    /// refused value, whose problem stops the load anyway).
    pub(super) fn typed_or<T>(&mut self, text: Option<&Text>, field: &str, default: &str, parse: fn(&str) -> Result<T, ValueError>) -> T {
        text.and_then(|t| self.typed(t, field, parse)).unwrap_or_else(|| default_value(default, parse))
    }

    fn address(&mut self, text: &Text, field: &str) -> Option<Ipv6Addr> {
        parse_host_address(&text.value).map_err(|e| self.report(text, field, ProblemKind::Address(e))).ok()
    }

    fn cidr(&mut self, text: &Text, field: &str, example: &'static str) -> Option<Ipv6Net> {
        match text.value.trim().parse::<Ipv6Net>() {
            Ok(net) => Some(net.trunc()),
            Err(_) => {
                let kind = ProblemKind::NotCidr { value: text.value.clone(), example };
                self.report(text, field, kind);
                None
            }
        }
    }

    fn choice<T: Copy>(&mut self, text: Option<&Text>, field: &str, options: &[(&'static str, T)], allowed: &'static [&'static str], default: T) -> T {
        let Some(text) = text else { return default };
        match options.iter().find(|(word, _)| *word == text.value) {
            Some((_, value)) => *value,
            None => {
                self.report(text, field, ProblemKind::NotOneOf { value: text.value.clone(), allowed });
                default
            }
        }
    }

    /// Builds the model, or returns `None` when problems were recorded.
    pub fn inventory(&mut self, raw: RawInventory) -> Option<Inventory> {
        let hosts = self.hosts(&raw.hosts);
        let cluster = self.cluster(&raw.cluster, &hosts);
        let ssh = self.ssh(raw.ssh.as_ref());
        let kernel = self.kernel(raw.kernel.as_ref());
        let network = self.network(raw.network.as_ref());
        let bundle = self.bundle(raw.bundle.as_ref());
        let images = self.images(raw.images.as_ref());
        let containerd = self.containerd(raw.containerd.as_ref());
        let kubelet = self.kubelet(raw.kubelet.as_ref());
        let elasticsearch = raw.elasticsearch.as_ref().map(|es| self.elasticsearch(es));
        let pki = self.pki(raw.pki.as_ref());
        self.roles_present(&raw.hosts, &hosts);
        self.bastion_apart(raw.ssh.as_ref(), &ssh, &hosts);
        if let Some(cluster) = cluster.as_ref().filter(|_| hosts.len() == raw.hosts.value.len()) {
            self.nodelocaldns_clear(&raw.cluster, cluster, &hosts);
        }
        if let Some(cluster) = &cluster {
            self.addon_releases(&raw, cluster, &images);
        }
        if !self.problems.is_empty() {
            return None;
        }
        Some(Inventory {
            source: self.path.to_path_buf(),
            cluster: cluster?,
            ssh,
            hosts,
            kernel,
            network,
            bundle,
            images,
            containerd,
            kubelet,
            elasticsearch,
            pki,
        })
    }

    fn cluster(&mut self, raw: &Spanned<RawCluster>, hosts: &[HostSpec]) -> Option<Cluster> {
        let c = &raw.value;
        let name = self.typed(&c.name, "cluster.name", ClusterName::parse);
        let version = self.kubernetes_version(&c.kubernetes_version);
        let cgroup_driver = self.choice(c.cgroup_driver.as_ref(), "cluster.cgroup_driver", &[("systemd", CgroupDriver::Systemd), ("cgroupfs", CgroupDriver::Cgroupfs)], &["systemd", "cgroupfs"], CgroupDriver::Systemd);
        let pod_network = self.choice(c.pod_network.as_ref(), "cluster.pod_network", &[("flannel", PodNetwork::Flannel), ("host-routes", PodNetwork::HostRoutes)], &["flannel", "host-routes"], PodNetwork::Flannel);
        let dns_domain = match &c.dns_domain {
            Some(text) => self.typed(text, "cluster.dns_domain", DnsName::parse),
            None => Some(default_value(defaults::DNS_DOMAIN, DnsName::parse)),
        };
        let service = self.cidr(&c.service_cidr, "cluster.service_cidr", "2001:cafe:43::/112");
        let pod = self.cidr(&c.pod_cidr, "cluster.pod_cidr", "2001:cafe:42::/56");
        let mask = c.node_cidr_mask.as_ref().map_or(defaults::NODE_CIDR_MASK, |m| m.value);
        if let Some(service) = service {
            let host_bits = 128 - service.prefix_len();
            if host_bits > 20 {
                self.report(&c.service_cidr, "cluster.service_cidr", ProblemKind::ServiceCidrTooLarge { net: service, host_bits });
            } else if host_bits < 4 {
                let kind = ProblemKind::BadValue { value: c.service_cidr.value.clone(), expected: "the service CIDR needs at least 16 addresses (the DNS Service is the 10th); /112 is usual" };
                self.report(&c.service_cidr, "cluster.service_cidr", kind);
            }
        }
        if let Some(pod) = pod {
            let fits = mask >= pod.prefix_len() && mask <= pod.prefix_len().saturating_add(16) && mask <= 128;
            if !fits {
                let spanned_mask = c.node_cidr_mask.as_ref().map_or_else(|| self.place(&c.pod_cidr, "cluster.node_cidr_mask"), |m| self.place(m, "cluster.node_cidr_mask"));
                self.problems.push(Problem { place: spanned_mask, kind: ProblemKind::NodeMaskOutOfRange { mask, pod } });
            } else {
                let capacity = subnet_capacity(pod, mask);
                if capacity < hosts.len() as u128 {
                    self.report(&c.pod_cidr, "cluster.pod_cidr", ProblemKind::PodCidrTooSmall { pod, mask, capacity, hosts: hosts.len() });
                }
            }
        }
        if let (Some(service), Some(pod)) = (service, pod)
            && overlaps(service, pod) {
                self.report(&c.service_cidr, "cluster.service_cidr", ProblemKind::CidrsOverlap { service, pod });
            }
        for host in hosts {
            for (net, cidr_field, text) in [(service, "service_cidr", &c.service_cidr), (pod, "pod_cidr", &c.pod_cidr)] {
                if let Some(net) = net.filter(|n| n.contains(&host.address)) {
                    self.report(text, format!("cluster.{cidr_field}"), ProblemKind::HostInCidr { address: host.address, cidr_field, net });
                }
            }
        }
        let nodelocaldns = match &c.nodelocaldns {
            Some(text) => self.address(text, "cluster.nodelocaldns"),
            None => defaults::NODELOCALDNS.parse().ok(),
        };
        let upstream_dns = match &c.upstream_dns {
            None => UpstreamDns::NodeResolvers,
            Some(list) if list.is_empty() => UpstreamDns::Nowhere,
            Some(list) => UpstreamDns::Servers(list.iter().enumerate().filter_map(|(i, text)| self.address(text, &format!("cluster.upstream_dns[{i}]"))).collect()),
        };
        let extra_sans = c.extra_sans.iter().enumerate().filter_map(|(i, text)| self.san(text, i)).collect();
        let api_endpoint = c.api_endpoint.as_ref().and_then(|text| self.api_endpoint(text));
        let service = service?;
        let pod = pod?;
        Some(Cluster {
            name: name?,
            kubernetes_version: version?,
            cgroup_driver,
            pod_network,
            service_cidr: service,
            pod_cidr: pod,
            node_cidr_mask: mask,
            dns_domain: dns_domain?,
            nodelocaldns: nodelocaldns?,
            upstream_dns,
            extra_sans,
            api_endpoint,
            api_service_ip: nth_host(service, 1).ok()?,
            dns_service_ip: nth_host(service, 10).ok()?,
            node_capacity: subnet_capacity(pod, mask),
        })
    }

    fn san(&mut self, text: &Text, index: usize) -> Option<San> {
        let field = format!("cluster.extra_sans[{index}]");
        if text.value.contains(':') || text.value.parse::<std::net::Ipv4Addr>().is_ok() {
            return self.address(text, &field).map(San::Ip);
        }
        match DnsName::parse_san(&text.value) {
            Ok(name) => Some(San::Dns(name)),
            Err(error) => {
                let error = ValueError { why: error.why, write: "write an IPv6 address or a lower-case DNS name, e.g. api.example.com" };
                self.report(text, field, ProblemKind::Invalid { value: text.value.clone(), error });
                None
            }
        }
    }

    /// `cluster.api_endpoint`: an IPv6 address (checked like a host's) or a DNS name.
    fn api_endpoint(&mut self, text: &Text) -> Option<ApiEndpoint> {
        let field = "cluster.api_endpoint";
        if text.value.contains(':') || text.value.parse::<std::net::Ipv4Addr>().is_ok() {
            return self.address(text, field).map(ApiEndpoint::Address);
        }
        match DnsName::parse(&text.value) {
            Ok(name) => Some(ApiEndpoint::Name(name)),
            Err(error) => {
                let error = ValueError { why: error.why, write: "write the IPv6 address (a virtual IP) or the DNS name in front of the apiservers, e.g. api.example.com" };
                self.report(text, field, ProblemKind::Invalid { value: text.value.clone(), error });
                None
            }
        }
    }

    fn hosts(&mut self, raw: &Spanned<Vec<RawHost>>) -> Vec<HostSpec> {
        let mut by_address: HashMap<Ipv6Addr, (String, usize)> = HashMap::new();
        let mut by_name: HashMap<NodeName, (String, usize)> = HashMap::new();
        let mut hosts = Vec::new();
        for (i, h) in raw.value.iter().enumerate() {
            let field = format!("hosts[{i}]");
            let address = self.address(&h.address, &format!("{field}.address"));
            let roles = self.roles(&h.roles, &field);
            let name = match (&h.name, address) {
                (Some(text), _) => NodeName::parse_override(&text.value)
                    .map_err(|e| self.report(text, format!("{field}.name"), ProblemKind::InvalidName(e)))
                    .ok(),
                (None, Some(address)) => Some(NodeName::encode(address)),
                (None, None) => None,
            };
            let interface = self.typed(&h.interface, format!("{field}.interface"), InterfaceName::parse);
            let prefix_length = match &h.prefix_length {
                Some(p) if p.value == 0 || p.value > 128 => {
                    self.report(p, format!("{field}.prefix_length"), ProblemKind::OutOfRange { value: p.value.into(), expected: "a prefix length is 1 to 128; /64 is usual" });
                    defaults::PREFIX_LENGTH
                }
                Some(p) => p.value,
                None => defaults::PREFIX_LENGTH,
            };
            let gateway = h.gateway.as_ref().and_then(|g| self.address(g, &format!("{field}.gateway")));
            if let (Some(address), Some(gateway), Some(g)) = (address, gateway, &h.gateway)
                && let Ok(net) = Ipv6Net::new(address, prefix_length).map(|n| n.trunc())
                    && !net.contains(&gateway) {
                        self.report(g, format!("{field}.gateway"), ProblemKind::GatewayOffLink { gateway, net });
                    }
            let line = h.address.referenced.line() as usize;
            let mut duplicate = false;
            if let Some(address) = address {
                if let Some((first, first_line)) = by_address.get(&address) {
                    let kind = ProblemKind::DuplicateAddress { address, first: first.clone(), first_line: *first_line };
                    self.report(&h.address, format!("{field}.address"), kind);
                    duplicate = true;
                } else {
                    by_address.insert(address, (field.clone(), line));
                }
            }
            // A duplicate address already explains a duplicate encoded name.
            if let Some(name) = name.as_ref().filter(|_| !(duplicate && h.name.is_none())) {
                if let Some((first, first_line)) = by_name.get(name) {
                    let kind = ProblemKind::DuplicateName { name: name.to_string(), first: first.clone(), first_line: *first_line };
                    let at = h.name.as_ref().unwrap_or(&h.address);
                    self.report(at, format!("{field}.name"), kind);
                } else {
                    by_name.insert(name.clone(), (field.clone(), line));
                }
            }
            let ssh_user = h.ssh_user.as_ref().and_then(|t| self.typed(t, format!("{field}.ssh_user"), UserName::parse));
            let ssh_port = h.ssh_port.as_ref().map(|p| self.port(p, &format!("{field}.ssh_port")));
            if let (Some(address), Some(name), Some(roles), Some(interface)) = (address, name, roles, interface) {
                hosts.push(HostSpec { address, name, roles, interface, prefix_length, gateway, ssh_user, ssh_port });
            }
        }
        hosts
    }

    fn roles(&mut self, raw: &Spanned<Vec<Text>>, field: &str) -> Option<Roles> {
        let mut roles = BTreeSet::new();
        let mut ok = true;
        for text in &raw.value {
            match Role::ALL.iter().find(|r| r.as_str() == text.value) {
                Some(role) if !roles.insert(*role) => {
                    self.report(text, format!("{field}.roles"), ProblemKind::RepeatedRole { value: text.value.clone() });
                    ok = false;
                }
                Some(_) => {}
                None => {
                    let suggestion = closest(&text.value, &Role::ALL.map(Role::as_str));
                    self.report(text, format!("{field}.roles"), ProblemKind::UnknownRole { value: text.value.clone(), suggestion });
                    ok = false;
                }
            }
        }
        if raw.value.is_empty() {
            self.report(raw, format!("{field}.roles"), ProblemKind::NoRoles);
            ok = false;
        }
        ok.then_some(Roles(roles))
    }

    /// Needs a control plane and etcd; warns about an even number of etcd members.
    fn roles_present(&mut self, raw: &Spanned<Vec<RawHost>>, hosts: &[HostSpec]) {
        if hosts.len() != raw.value.len() {
            return; // a host was refused already; counting roles now would mislead
        }
        for role in [Role::ControlPlane, Role::Etcd] {
            if !hosts.iter().any(|h| h.has(role)) {
                self.report(raw, "hosts", ProblemKind::MissingRole { role: role.as_str() });
            }
        }
        let etcd = hosts.iter().filter(|h| h.has(Role::Etcd)).count();
        if etcd > 0 && etcd % 2 == 0 {
            let place = self.place(raw, "hosts");
            self.warnings.push(Warning { place, kind: WarningKind::EvenEtcd { count: etcd } });
        }
    }

    fn kernel(&mut self, raw: Option<&RawKernel>) -> Kernel {
        let default = || defaults::KERNEL_MINIMUM.parse().unwrap_or(KernelVersion { major: 4, minor: 19, patch: 0 });
        let minimum = match raw.and_then(|k| k.minimum.as_ref()) {
            None => default(),
            Some(text) => text.value.parse().unwrap_or_else(|_| {
                let kind = ProblemKind::BadValue { value: text.value.clone(), expected: "a kernel version in quotes, e.g. \"4.19\" (flannel's IPv6 vxlan needs at least 3.12)" };
                self.report(text, "kernel.minimum", kind);
                default()
            }),
        };
        let package = raw.and_then(|k| k.package.as_ref()).and_then(|t| self.package_name(t, "kernel.package"));
        let repository = raw.and_then(|k| k.repository.as_ref()).and_then(|t| self.package_name(t, "kernel.repository"));
        let source = match (package, raw.and_then(|k| k.repository.as_ref())) {
            (Some(package), _) => KernelSource::Repository { package, repository },
            (None, Some(text)) => {
                let kind = ProblemKind::BadValue { value: text.value.clone(), expected: "kernel.repository needs kernel.package too, e.g. package: kernel-lt with repository: elrepo-kernel" };
                self.report(text, "kernel.repository", kind);
                KernelSource::Bundle
            }
            (None, None) => KernelSource::Bundle,
        };
        Kernel { minimum, source }
    }

    fn network(&mut self, raw: Option<&RawNetwork>) -> Network {
        let manage = match raw.and_then(|n| n.manage) {
            Some(true) => NetworkManagement::Manage,
            _ => NetworkManagement::Leave,
        };
        let rollback_seconds = raw.and_then(|n| n.rollback_seconds.as_ref()).map_or(defaults::ROLLBACK_SECONDS, |r| r.value);
        if let Some(r) = raw.and_then(|n| n.rollback_seconds.as_ref()).filter(|r| !(MIN_ROLLBACK_SECONDS..=3600).contains(&r.value)) {
            let kind = ProblemKind::OutOfRange { value: u64::from(r.value), expected: "10 to 3600 seconds: long enough to reconnect after the change, short enough to wait for [120]" };
            self.report(r, "network.rollback_seconds", kind);
        }
        Network { manage, rollback_seconds }
    }

    fn bundle(&mut self, raw: Option<&RawBundle>) -> Bundle {
        let missing = self.choice(
            raw.and_then(|b| b.missing.as_ref()),
            "bundle.missing",
            &[("refuse", MissingBinary::Refuse), ("stage", MissingBinary::Stage)],
            &["refuse", "stage"],
            MissingBinary::Refuse,
        );
        let path = raw.and_then(|b| b.path.as_ref()).map_or(defaults::BUNDLE, |p| p.value.as_str()).to_string();
        Bundle { path: self.resolve(&path), missing }
    }

    fn pki(&mut self, raw: Option<&RawPki>) -> Pki {
        let mut days = |value: Option<&Spanned<u32>>, field: &str, default: u32| match value {
            Some(d) if d.value == 0 => {
                self.report(d, field, ProblemKind::OutOfRange { value: 0, expected: "a validity is at least 1 day (defaults: ca_days 3650, leaf_days 365)" });
                default
            }
            Some(d) => d.value,
            None => default,
        };
        let ca_days = days(raw.and_then(|p| p.ca_days.as_ref()), "pki.ca_days", defaults::CA_DAYS);
        let leaf_days = days(raw.and_then(|p| p.leaf_days.as_ref()), "pki.leaf_days", defaults::LEAF_DAYS);
        if let Some(d) = raw.and_then(|p| p.leaf_days.as_ref()).filter(|d| d.value > ca_days) {
            self.report(d, "pki.leaf_days", ProblemKind::OutOfRange { value: d.value.into(), expected: "a leaf cannot outlive its CA: leaf_days must not exceed ca_days" });
        }
        let dir = match raw.and_then(|p| p.dir.as_ref()) {
            Some(text) => self.resolve(&text.value),
            None => self.resolve(defaults::PKI_DIR),
        };
        Pki { dir, ca_days, leaf_days }
    }

    /// `~/x` from $HOME; relative paths from the inventory's directory.
    fn resolve(&self, text: &str) -> PathBuf {
        if let Some(rest) = text.strip_prefix("~/") {
            let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("/root"), PathBuf::from);
            return home.join(rest);
        }
        let path = Path::new(text);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            lexical(&self.path.parent().unwrap_or(Path::new(".")).join(path))
        }
    }
}

/// `path` with `.` and `dir/..` removed without reading the file system, so messages show
/// `.lab/lab/bundle`, not `inventories/../.lab/lab/bundle`. (Through a symbolic link to a
/// directory, `dir/..` is not the link's parent; inventories are not expected to rely on it.)
fn lexical(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match out.components().next_back() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(".."),
            },
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}


/// A default of the inventory contract, parsed like a written value.
fn default_value<T>(text: &str, parse: fn(&str) -> Result<T, ValueError>) -> T {
    // invariant: every default parses (`defaults_parse` below checks each one).
    parse(text).expect("the inventory's defaults parse")
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    /// Regression: the lab's bundle printed as `inventories/../.lab/lab/bundle`.
    #[test]
    fn relative_paths_resolve_lexically() {
        for (input, expected) in [
            ("inventories/../.lab/lab/bundle", ".lab/lab/bundle"),
            ("./inventories/./x", "inventories/x"),
            ("../certs", "../certs"),
            ("a/../../b", "../b"),
            ("/a/../../b", "/b"),
            ("inventories/..", "."),
            ("/srv/site/inventories/../bundle", "/srv/site/bundle"),
        ] {
            assert_eq!(lexical(Path::new(input)), PathBuf::from(expected), "{input}");
        }
    }

    /// `default_value` relies on it.
    #[test]
    fn defaults_parse() {
        for image in [defaults::FLANNEL_IMAGE, defaults::FLANNEL_CNI_PLUGIN_IMAGE, defaults::COREDNS_IMAGE, defaults::NODELOCALDNS_IMAGE, defaults::SANDBOX_IMAGE, defaults::ELASTICSEARCH_IMAGE] {
            ImageRef::parse(image).unwrap();
        }
        DnsName::parse(defaults::DNS_DOMAIN).unwrap();
        UserName::parse(defaults::SSH_USER).unwrap();
        InterfaceName::parse("eth0").unwrap();
        HeapSize::parse("1g").unwrap();
        Quantity::parse("10Gi").unwrap();
    }
}
