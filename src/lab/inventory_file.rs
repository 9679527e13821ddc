//! The lab's inventory file: written whole when the lab is new, and when the lab grows only
//! the new hosts are appended as text, so the entries already there (and any edits the user
//! made) stay as they are. Every result is loaded with the inventory parser before it is
//! written.

use std::collections::BTreeSet;
use std::fs;
use std::net::Ipv6Addr;
use std::path::Path;

use super::LabError;
use super::addressing::{HostNumber, LabName, Subnet};
use super::images;
use super::kubernetes;
use crate::inventory;

/// The first three hosts run the control plane and etcd (an odd etcd count); the rest are
/// workers. A role depends only on the host number, so growing a lab never changes one.
pub fn roles(host: HostNumber) -> &'static str {
    if host.ordinal() <= 3 { "[control-plane, etcd, worker]" } else { "[worker]" }
}

/// One `hosts:` entry, indented by `indent` spaces.
pub fn host_entry(subnet: Subnet, host: HostNumber, indent: usize) -> String {
    let pad = " ".repeat(indent);
    format!(
        "{pad}- address: \"{address}\"\n{pad}  roles: {roles}\n{pad}  interface: eth0\n{pad}  prefix_length: 64\n{pad}  gateway: \"{gateway}\"\n",
        address = subnet.host(host),
        roles = roles(host),
        gateway = subnet.gateway(),
    )
}

/// The pod network a new lab's inventory names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabNetwork {
    /// flannel, CoreDNS and node-cache from the bundle's images (the addons were built).
    Flannel,
    /// Routes between the nodes; the DNS pods have no image.
    HostRoutes,
}

impl LabNetwork {
    /// The inventory lines of `cluster:` (indented) naming the pod network.
    fn cluster_lines(self) -> &'static str {
        match self {
            LabNetwork::Flannel => "  # flannel's IPv6 vxlan between the nodes (its images built from source, in the bundle).\n  pod_network: flannel\n",
            LabNetwork::HostRoutes => "  # No flannel image could be built (no source archives): routes between the nodes.\n  pod_network: host-routes\n",
        }
    }

    /// The `images:` entries beyond the sandbox.
    fn image_lines(self) -> String {
        match self {
            LabNetwork::Flannel => format!(
                "  flannel: \"{}\"\n  flannel_cni_plugin: \"{}\"\n  coredns: \"{}\"\n  nodelocaldns: \"{}\"\n",
                images::FLANNEL.reference,
                images::FLANNEL_CNI_PLUGIN.reference,
                images::COREDNS.reference,
                images::NODE_CACHE.reference
            ),
            LabNetwork::HostRoutes => String::new(),
        }
    }
}

/// The whole file for a new lab. `hosts:` comes last so that later hosts can be appended.
pub fn full_text(name: &LabName, subnet: Subnet, hosts: &[HostNumber], network: LabNetwork) -> String {
    let mut text = format!(
        "\
# The v6deploy lab \"{name}\": IPv6-only Debian machines (systemd-nspawn) on bridge {bridge},
# {net}, gateway {gateway}. Written by `v6deploy lab up`; machines added by a later
# `v6deploy lab up --hosts N` are appended at the end, so keep `hosts:` last.
# Every address, including the cluster's ranges, is inside 2001:db8::/32, which is routed
# nowhere but to the lab's bridges.
cluster:
  name: {name}
  # The version the lab builds from Debian's source package.
  kubernetes_version: \"{kubernetes_version}\"
  service_cidr: \"2001:db8:43::/112\"
  pod_cidr: \"2001:db8:42::/56\"
  node_cidr_mask: 64
  dns_domain: cluster.local
  nodelocaldns: \"2001:db8:169:254::a\"
  # The lab has no DNS server: CoreDNS answers the cluster's names only.
  upstream_dns: []
  # Lab only: the machines' systemd does not manage their cgroup v1 controllers.
  cgroup_driver: cgroupfs
{network_lines}ssh:
  user: root
  port: 22
  private_key: ../.lab/{name}/id_ed25519
  known_hosts: ../.lab/{name}/known_hosts
  host_key_check: strict
kernel:
  minimum: \"4.19\"
# The lab bundle is complete: etcd, containerd, runc, haproxy and the CNI plugins from Debian 12,
# Kubernetes built from Debian's source, the images built locally (flannel, CoreDNS and
# node-cache from their upstream sources, when those were there).
bundle:
  path: ../.lab/{name}/bundle
  missing: refuse
# The lab's PKI in the project's certs/{name}/ (pki.dir is relative to this file).
pki:
  dir: ../certs
# Lab only (see the README's lab section): processes in a machine lack CAP_SYS_RESOURCE for
# the sandbox's oom_score_adj.
containerd:
  restrict_oom_score_adj: true
# Lab only: the machines' disks are the development machine's, often fuller than the
# kubelet's default thresholds (10% and 15% free) allow; it would evict the imported images.
kubelet:
  eviction_hard: {{nodefs.available: \"1%\", imagefs.available: \"1%\", memory.available: \"100Mi\"}}
# No registry is reachable: every image is one of the bundle's images/*.tar, built here.
images:
  sandbox: \"{sandbox}\"
{image_lines}hosts:
",
        bridge = name.bridge(),
        net = subnet.net(),
        gateway = subnet.gateway(),
        kubernetes_version = kubernetes::VERSION,
        sandbox = images::PAUSE.reference,
        network_lines = network.cluster_lines(),
        image_lines = network.image_lines(),
    );
    for host in hosts {
        text.push_str(&host_entry(subnet, *host, 2));
    }
    text
}

/// What `ensure` did to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Created,
    Appended(Vec<Ipv6Addr>),
    Unchanged,
}

/// Makes `path` list every one of `hosts`: creates the file, or appends the missing hosts.
pub fn ensure(path: &Path, name: &LabName, subnet: Subnet, hosts: &[HostNumber], network: LabNetwork) -> Result<Change, LabError> {
    let (text, change) = match fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (full_text(name, subnet, hosts, network), Change::Created),
        Err(e) => return Err(LabError::io("read", path)(e)),
        Ok(existing) => match appended(path, &existing, subnet, hosts)? {
            Some((text, added)) => (text, Change::Appended(added)),
            None => return Ok(Change::Unchanged),
        },
    };
    check(path, &text, &hosts.iter().map(|h| subnet.host(*h)).collect(), None)?;
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(LabError::io("create", dir))?;
    }
    let temporary = path.with_extension("yaml.tmp");
    fs::write(&temporary, &text).map_err(LabError::io("write", &temporary))?;
    fs::rename(&temporary, path).map_err(LabError::io("rename into", path))?;
    Ok(change)
}

/// Removes from an existing inventory the entries of this lab's machines numbered above
/// `count` (a kept inventory of an earlier, larger lab); returns their addresses. Entries
/// are cut from their `- address:` line to the next entry (hosts are last in the file).
pub fn trim(path: &Path, subnet: Subnet, count: u16) -> Result<Vec<Ipv6Addr>, LabError> {
    let Ok(text) = fs::read_to_string(path) else { return Ok(Vec::new()) };
    let keep: BTreeSet<Ipv6Addr> = HostNumber::first(count).map(|h| subnet.host(h)).collect();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let entry_of = |line: &str| -> Option<Ipv6Addr> {
        let rest = line.trim_start().strip_prefix("- address:")?;
        rest.trim().trim_matches('"').parse().ok()
    };
    let mut out = String::with_capacity(text.len());
    let mut removed = Vec::new();
    let mut dropping = false;
    for line in &lines {
        if let Some(address) = entry_of(line) {
            dropping = subnet.net().contains(&address) && !keep.contains(&address);
            if dropping {
                removed.push(address);
            }
        }
        if !dropping {
            out.push_str(line);
        }
    }
    if removed.is_empty() {
        return Ok(removed);
    }
    check(path, &out, &keep, None)?;
    let temporary = path.with_extension("yaml.tmp");
    fs::write(&temporary, &out).map_err(LabError::io("write", &temporary))?;
    fs::rename(&temporary, path).map_err(LabError::io("rename into", path))?;
    Ok(removed)
}

/// The host addresses an existing inventory file lists; `None` when there is no file or it
/// does not load.
pub fn listed_addresses(path: &Path) -> Option<Vec<Ipv6Addr>> {
    let loaded = inventory::load(path).ok()?;
    Some(loaded.inventory.hosts.iter().map(|h| h.address).collect())
}

/// The existing text with the hosts it lacks appended, or `None` when it lacks none.
pub fn appended(path: &Path, existing: &str, subnet: Subnet, hosts: &[HostNumber]) -> Result<Option<(String, Vec<Ipv6Addr>)>, LabError> {
    let listed: BTreeSet<Ipv6Addr> = match inventory::parse(path, existing) {
        Ok(loaded) => loaded.inventory.hosts.iter().map(|h| h.address).collect(),
        Err(error) => {
            let entries: String = hosts.iter().map(|h| host_entry(subnet, *h, 2)).collect();
            return Err(LabError::InventoryAppend { path: path.to_path_buf(), reason: format!("it does not load: {error}"), entries });
        }
    };
    let missing: Vec<HostNumber> = hosts.iter().copied().filter(|h| !listed.contains(&subnet.host(*h))).collect();
    if missing.is_empty() {
        return Ok(None);
    }
    let indent = entry_indent(existing);
    let mut text = existing.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let entries: String = missing.iter().map(|h| host_entry(subnet, *h, indent)).collect();
    text.push_str(&entries);
    let wanted = hosts.iter().map(|h| subnet.host(*h)).collect();
    check(path, &text, &wanted, Some(&entries))?;
    Ok(Some((text, missing.iter().map(|h| subnet.host(*h)).collect())))
}

/// Refuses text that does not load or does not list every wanted address.
fn check(path: &Path, text: &str, wanted: &BTreeSet<Ipv6Addr>, entries: Option<&str>) -> Result<(), LabError> {
    let refuse = |reason: String| LabError::InventoryAppend { path: path.to_path_buf(), reason, entries: entries.unwrap_or_default().to_string() };
    let loaded = inventory::parse(path, text).map_err(|e| refuse(format!("with the new hosts at its end it would not load (is `hosts:` still the last section?): {e}")))?;
    let listed: BTreeSet<Ipv6Addr> = loaded.inventory.hosts.iter().map(|h| h.address).collect();
    match wanted.difference(&listed).next() {
        Some(address) => Err(refuse(format!("{address} would not be among its hosts (is `hosts:` still the last section?)"))),
        None => Ok(()),
    }
}

/// The indentation of the last `- address:` entry, so appended entries line up with it.
fn entry_indent(text: &str) -> usize {
    text.lines()
        .rev()
        .find(|line| line.trim_start().starts_with("- address:"))
        .map_or(2, |line| line.len() - line.trim_start().len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{HostKeyCheck, Role};

    fn hosts(count: u16) -> Vec<HostNumber> {
        HostNumber::first(count).collect()
    }

    fn lab() -> (LabName, Subnet) {
        (LabName::default(), Subnet::new(1).unwrap())
    }

    #[test]
    fn a_new_lab_inventory_loads_with_field_report_roles() {
        let (name, subnet) = lab();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventories/lab.yaml");
        assert_eq!(ensure(&path, &name, subnet, &hosts(5), LabNetwork::Flannel).unwrap(), Change::Created);
        let loaded = inventory::load(&path).unwrap();
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let inv = loaded.inventory;
        assert_eq!(inv.cluster.name, "lab");
        assert_eq!(inv.cluster.kubernetes_version.to_string(), kubernetes::VERSION);
        assert_eq!(inv.cluster.api_service_ip.to_string(), "2001:db8:43::1");
        assert_eq!(inv.ssh.private_key, dir.path().join(".lab/lab/id_ed25519"));
        assert_eq!(inv.ssh.known_hosts, dir.path().join(".lab/lab/known_hosts"));
        assert_eq!(inv.ssh.host_key_check, HostKeyCheck::Strict);
        let addresses: Vec<String> = inv.hosts.iter().map(|h| h.address.to_string()).collect();
        assert_eq!(addresses, ["2001:db8:0:1::101", "2001:db8:0:1::102", "2001:db8:0:1::103", "2001:db8:0:1::104", "2001:db8:0:1::105"]);
        for (i, host) in inv.hosts.iter().enumerate() {
            assert_eq!(host.has(Role::ControlPlane), i < 3);
            assert_eq!(host.has(Role::Etcd), i < 3);
            assert!(host.has(Role::Worker));
            assert_eq!(host.interface, "eth0");
            assert_eq!(host.gateway, Some(subnet.gateway()));
        }
    }

    #[test]
    fn growing_appends_only_new_hosts_and_keeps_user_edits() {
        let (name, subnet) = lab();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.yaml");
        ensure(&path, &name, subnet, &hosts(3), LabNetwork::Flannel).unwrap();
        let edited = fs::read_to_string(&path).unwrap().replacen("interface: eth0", "interface: eth0  # edited by hand", 1);
        fs::write(&path, &edited).unwrap();
        let change = ensure(&path, &name, subnet, &hosts(5), LabNetwork::Flannel).unwrap();
        assert_eq!(change, Change::Appended(vec!["2001:db8:0:1::104".parse().unwrap(), "2001:db8:0:1::105".parse().unwrap()]));
        let grown = fs::read_to_string(&path).unwrap();
        assert!(grown.starts_with(&edited), "existing text changed");
        assert!(grown[edited.len()..].starts_with("  - address: \"2001:db8:0:1::104\"\n    roles: [worker]\n"));
        assert_eq!(inventory::load(&path).unwrap().inventory.hosts.len(), 5);
        assert_eq!(ensure(&path, &name, subnet, &hosts(5), LabNetwork::Flannel).unwrap(), Change::Unchanged);
    }

    /// Regression: after `lab down` of a 5-machine lab (inventory kept), `lab up --hosts 3`
    /// left an inventory listing 5 hosts, 2 of which did not exist.
    #[test]
    fn a_kept_inventory_of_a_larger_lab_is_trimmed_to_the_new_one() {
        let (name, subnet) = lab();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.yaml");
        fs::write(&path, full_text(&name, subnet, &hosts(5), LabNetwork::Flannel)).unwrap();
        let removed = trim(&path, subnet, 3).unwrap();
        assert_eq!(removed, ["2001:db8:0:1::104".parse::<Ipv6Addr>().unwrap(), "2001:db8:0:1::105".parse().unwrap()]);
        let loaded = inventory::load(&path).unwrap().inventory;
        assert_eq!(loaded.hosts.len(), 3);
        assert_eq!(fs::read_to_string(&path).unwrap(), full_text(&name, subnet, &hosts(3), LabNetwork::Flannel));
        assert!(trim(&path, subnet, 3).unwrap().is_empty(), "nothing more to trim");
    }

    #[test]
    fn appended_entries_follow_the_file_s_indentation() {
        let (name, subnet) = lab();
        let flush_left = full_text(&name, subnet, &hosts(3), LabNetwork::Flannel).replace("\n  - address", "\n- address").replace("\n    ", "\n  ");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.yaml");
        let (text, added) = appended(&path, &flush_left, subnet, &hosts(4)).unwrap().unwrap();
        assert_eq!(added.len(), 1);
        assert!(text.ends_with("- address: \"2001:db8:0:1::104\"\n  roles: [worker]\n  interface: eth0\n  prefix_length: 64\n  gateway: \"2001:db8:0:1::1\"\n"));
    }

    #[test]
    fn refuses_to_append_when_hosts_is_not_last() {
        let (name, subnet) = lab();
        let moved = full_text(&name, subnet, &hosts(3), LabNetwork::Flannel).replace("kernel:\n  minimum: \"4.19\"\n", "") + "kernel:\n  minimum: \"4.19\"\n";
        let dir = tempfile::tempdir().unwrap();
        let error = appended(&dir.path().join("lab.yaml"), &moved, subnet, &hosts(4)).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("cannot append hosts") && text.contains("- address: \"2001:db8:0:1::104\""), "{text}");
    }

    #[test]
    fn named_labs_use_their_own_subnet_and_cluster_name() {
        let name = LabName::parse("exp").unwrap();
        let subnet = Subnet::new(7).unwrap();
        let text = full_text(&name, subnet, &hosts(1), LabNetwork::Flannel);
        let loaded = inventory::parse(Path::new("inventories/lab-exp.yaml"), &text).unwrap();
        assert_eq!(loaded.inventory.cluster.name, "exp");
        assert_eq!(loaded.inventory.hosts[0].address.to_string(), "2001:db8:0:7::101");
        assert!(text.contains("../.lab/exp/id_ed25519"));
    }
}
