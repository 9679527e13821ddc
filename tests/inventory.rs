//! One test per bad inventory input: each asserts the whole message (file, line, column,
//! field, value, reason, what to write instead).

use std::path::Path;

use v6deploy::inventory::{InventoryError, PackageName, Role, parse};

const BASE: &str = include_str!("../inventories/field-report.yaml");

/// Parses `text` as `t.yaml` and returns the error's Display.
fn error_of(text: &str) -> String {
    match parse(Path::new("t.yaml"), text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// The base inventory with one textual replacement that must apply exactly once.
fn with(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "{from:?} must occur once in the base inventory");
    BASE.replacen(from, to, 1)
}

/// Line (1-based) of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect("needle in text") + 1
}

/// A minimal inventory: cluster header plus the given hosts block.
fn minimal(hosts: &str) -> String {
    format!(
        "cluster:\n  name: t\n  kubernetes_version: \"1.27.15\"\n  service_cidr: \"2001:cafe:43::/112\"\n  pod_cidr: \"2001:cafe:42::/56\"\nhosts:\n{hosts}"
    )
}

#[test]
fn field_report_loads_with_derived_values() {
    let loaded = parse(Path::new("inventories/field-report.yaml"), BASE).unwrap();
    let inv = loaded.inventory;
    assert!(loaded.warnings.is_empty());
    assert_eq!(inv.cluster.api_service_ip.to_string(), "2001:cafe:43::1");
    assert_eq!(inv.cluster.dns_service_ip.to_string(), "2001:cafe:43::a");
    assert_eq!(inv.cluster.node_capacity, 256);
    let names: Vec<&str> = inv.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "2002.0db8.0000.0001.0000.0000.0000.0101",
            "2002.0db8.0000.0001.0000.0000.0000.0102",
            "2002.0db8.0000.0001.0000.0000.0000.0103"
        ]
    );
    assert!(inv.hosts.iter().all(|h| Role::ALL.iter().all(|r| h.has(*r))));
    assert_eq!(inv.hosts[0].gateway.unwrap().to_string(), "2002:db8:0:1::1");
}

#[test]
fn any_textual_form_of_an_address_is_accepted() {
    let text = with("\"2002:db8:0:1::101\"", "\"2002:0DB8:0000:0001:0000:0000:0000:0101\"");
    let inv = parse(Path::new("t.yaml"), &text).unwrap().inventory;
    assert_eq!(inv.hosts[0].address.to_string(), "2002:db8:0:1::101");
    assert_eq!(inv.hosts[0].name.as_str(), "2002.0db8.0000.0001.0000.0000.0000.0101");
}

#[test]
fn malformed_address() {
    let text = with("\"2002:db8:0:1::102\"", "\"2002:db8:0:1::10g\"");
    let line = line_of(&text, "::10g");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:14: hosts[1].address: \"2002:db8:0:1::10g\" is not an IPv6 address (expected e.g. 2001:db8:0:1::101)")
    );
}

#[test]
fn ipv4_address() {
    let text = with("\"2002:db8:0:1::102\"", "\"192.0.2.102\"");
    let line = line_of(&text, "192.0.2.102");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:14: hosts[1].address: \"192.0.2.102\" is an IPv4 address; an IPv6 single-stack cluster has no IPv4: write the host's IPv6 address")
    );
}

#[test]
fn ipv4_mapped_address() {
    let text = with("\"2002:db8:0:1::102\"", "\"::ffff:192.0.2.102\"");
    assert!(error_of(&text).contains("hosts[1].address: \"::ffff:192.0.2.102\" is an IPv4-mapped address (::ffff:0:0/96)"));
}

#[test]
fn link_local_node_address() {
    let text = with("\"2002:db8:0:1::103\"", "\"fe80::103\"");
    let line = line_of(&text, "fe80::103");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:14: hosts[2].address: \"fe80::103\" is link-local (fe80::/10): it cannot be bound or reached without a zone (`bind: invalid argument`); use a global or ULA (fd00::/8) address")
    );
}

#[test]
fn zone_id_address() {
    let text = with("\"2002:db8:0:1::103\"", "\"fe80::103%ens160\"");
    assert!(error_of(&text).contains("hosts[2].address: \"fe80::103%ens160\" carries a zone id (\"ens160\")"));
}

#[test]
fn duplicate_address_in_another_textual_form() {
    let text = with("\"2002:db8:0:1::103\"", "\"2002:0db8:0000:0001:0000:0000:0000:0101\"");
    let first = line_of(&text, "2002:db8:0:1::101");
    let line = line_of(&text, "2002:0db8:0000");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:14: hosts[2].address: 2002:db8:0:1::101 is already listed as hosts[0] (line {first}): every textual form of an address is the same host; remove one entry")
    );
}

#[test]
fn duplicate_node_name() {
    let text = minimal(
        "  - address: \"2001:db8::1\"\n    roles: [control-plane, etcd, worker]\n    interface: eth0\n    name: node-a\n  - address: \"2001:db8::2\"\n    roles: [worker]\n    interface: eth0\n    name: node-a\n",
    );
    assert_eq!(
        error_of(&text),
        "t.yaml:14:11: hosts[1].name: node name \"node-a\" is already used by hosts[0] (line 7); node names must be unique: change or remove `name`"
    );
}

#[test]
fn invalid_node_name() {
    let text = minimal("  - address: \"2001:db8::1\"\n    roles: [control-plane, etcd]\n    interface: eth0\n    name: \"2001.db8..1\"\n");
    let error = error_of(&text);
    assert!(error.starts_with("t.yaml:10:11: hosts[0].name: \"2001.db8..1\" is not a valid node name: a lowercase RFC 1123 subdomain"), "{error}");
    assert!(error.ends_with("leave `name` out to use the encoded address"), "{error}");
}

#[test]
fn unknown_role_with_suggestion() {
    let text = with("roles: [control-plane, etcd, worker]\n    interface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::103\"", "roles: [control-plane, etcd, wroker]\n    interface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::103\"");
    let line = line_of(&text, "wroker");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:34: hosts[1].roles: unknown role \"wroker\" (did you mean \"worker\"?); roles are control-plane, etcd, worker")
    );
}

#[test]
fn no_control_plane() {
    let text = minimal("  - address: \"2001:db8::1\"\n    roles: [etcd, worker]\n    interface: eth0\n");
    assert_eq!(
        error_of(&text),
        "t.yaml:7:3: hosts: no host has the control-plane role; give it to at least one host (the field report runs control-plane, etcd and worker on all three)"
    );
}

#[test]
fn no_etcd() {
    let text = minimal("  - address: \"2001:db8::1\"\n    roles: [control-plane, worker]\n    interface: eth0\n");
    assert!(error_of(&text).ends_with("hosts: no host has the etcd role; give it to at least one host (the field report runs control-plane, etcd and worker on all three)"));
}

#[test]
fn even_number_of_etcd_members_warns() {
    let text = minimal(
        "  - address: \"2001:db8::1\"\n    roles: [control-plane, etcd]\n    interface: eth0\n  - address: \"2001:db8::2\"\n    roles: [etcd]\n    interface: eth0\n",
    );
    let loaded = parse(Path::new("t.yaml"), &text).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(
        warnings,
        ["t.yaml:7:3: hosts: warning: 2 etcd members: an even count tolerates no more failures than 1 (quorum is 2); use an odd count such as 3"]
    );
}

#[test]
fn service_cidr_larger_than_108() {
    let text = with("\"2001:cafe:43::/112\"", "\"2001:cafe:43::/100\"");
    let line = line_of(&text, "/100");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:17: cluster.service_cidr: 2001:cafe:43::/100 has 28 host bits; kube-apiserver accepts at most 20 (a prefix of /108 or longer): write e.g. 2001:cafe:43::/112")
    );
}

#[test]
fn pod_cidr_too_small_for_the_hosts() {
    let text = with("\"2001:cafe:42::/56\"", "\"2001:cafe:42::/63\"");
    let line = line_of(&text, "/63");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:13: cluster.pod_cidr: pod_cidr 2001:cafe:42::/63 with node_cidr_mask /64 holds 2 node subnets but the inventory has 3 hosts; use a larger pod CIDR (e.g. a /56 holds 256 /64s)")
    );
}

#[test]
fn node_cidr_mask_out_of_range() {
    let text = with("node_cidr_mask: 64", "node_cidr_mask: 80");
    let line = line_of(&text, "node_cidr_mask");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:19: cluster.node_cidr_mask: node_cidr_mask /80 does not fit pod_cidr 2001:cafe:42::/56: it must be at least /56 and at most /72 (16 bits longer, kube-controller-manager's limit); /64 is usual")
    );
}

#[test]
fn overlapping_service_and_pod_cidrs() {
    let text = with("\"2001:cafe:43::/112\"", "\"2001:cafe:42::/112\"");
    let line = line_of(&text, "service_cidr");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:17: cluster.service_cidr: service_cidr 2001:cafe:42::/112 overlaps pod_cidr 2001:cafe:42::/56; they must be disjoint, e.g. 2001:cafe:43::/112 and 2001:cafe:42::/56")
    );
}

#[test]
fn host_inside_a_cluster_cidr() {
    let text = with("\"2001:cafe:42::/56\"", "\"2002:db8:0::/56\"");
    let error = error_of(&text);
    let line = line_of(&text, "pod_cidr");
    assert!(error.starts_with("3 problems in the inventory:\n"), "{error}");
    assert!(
        error.contains(&format!("t.yaml:{line}:13: cluster.pod_cidr: 2002:db8:0:1::101 lies inside pod_cidr 2002:db8::/56; host addresses must be outside the cluster's CIDRs: pick CIDRs that do not contain the hosts")),
        "{error}"
    );
}

#[test]
fn link_local_nodelocaldns() {
    // The upstream IPv6 nodelocaldns example the field report copied.
    let text = with("\"fd00:169:254::a\"", "\"fe80:169:254::1\"");
    let line = line_of(&text, "fe80:169");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:17: cluster.nodelocaldns: \"fe80:169:254::1\" is link-local (fe80::/10): it cannot be bound or reached without a zone (`bind: invalid argument`); use a global or ULA (fd00::/8) address")
    );
}

#[test]
fn ipv4_upstream_dns() {
    let text = with("  nodelocaldns: \"fd00:169:254::a\"\n", "  nodelocaldns: \"fd00:169:254::a\"\n  upstream_dns: [\"2001:db8::53\", \"8.8.8.8\"]\n");
    let line = line_of(&text, "upstream_dns");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:34: cluster.upstream_dns[1]: \"8.8.8.8\" is an IPv4 address; an IPv6 single-stack cluster has no IPv4: write the host's IPv6 address")
    );
}

#[test]
fn unknown_key_with_did_you_mean() {
    let text = with("    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"", "    prefix_length: 64\n    gatway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"");
    let line = line_of(&text, "gatway");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:5: hosts[0]: unknown key `gatway`: did you mean `gateway`? (allowed here: address, roles, interface, prefix_length, gateway, name, ssh_user, ssh_port)")
    );
}

#[test]
fn unknown_top_level_key() {
    let text = format!("{BASE}clutser_extra: 1\n");
    let error = error_of(&text);
    assert!(error.contains("unknown key `clutser_extra`"), "{error}");
    assert!(error.contains("allowed here: cluster, ssh, hosts"), "{error}");
}

#[test]
fn malformed_yaml_names_the_place() {
    let text = with("roles: [control-plane, etcd, worker]\n    interface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::103\"", "roles: [control-plane, etcd, worker\n    interface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::103\"");
    let error = error_of(&text);
    assert!(error.starts_with("t.yaml:"), "{error}");
    assert!(!error.contains("error: line"), "location printed twice: {error}");
}

#[test]
fn choice_values_are_checked() {
    let text = with("host_key_check: strict", "host_key_check: yes-please");
    let line = line_of(&text, "host_key_check");
    assert_eq!(error_of(&text), format!("t.yaml:{line}:19: ssh.host_key_check: \"yes-please\" is not one of: strict, accept-new"));
}

#[test]
fn unreadable_file_names_the_path() {
    let error = v6deploy::inventory::load(Path::new("/nonexistent/inv.yaml")).unwrap_err();
    assert!(matches!(error, InventoryError::Read { .. }));
    assert_eq!(format!("{:#}", anyhow::Error::from(error)), "cannot read inventory /nonexistent/inv.yaml: No such file or directory (os error 2)");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = with("\"2002:db8:0:1::101\"", "\"10.0.0.1\"").replacen("\"fd00:169:254::a\"", "\"fe80::a\"", 1);
    let error = error_of(&text);
    assert!(error.starts_with("2 problems in the inventory:\n"), "{error}");
}

#[test]
fn kernel_source_and_network_rollback_window() {
    use v6deploy::inventory::{KernelSource, NetworkManagement};
    let inv = parse(Path::new("t.yaml"), BASE).unwrap().inventory;
    assert_eq!(inv.kernel.source, KernelSource::Bundle);
    assert_eq!((inv.network.manage, inv.network.rollback_seconds), (NetworkManagement::Leave, 120));
    let text = format!("{}\nnetwork:\n  manage: true\n  rollback_seconds: 30\n", with("kernel:\n", "kernel:\n  package: kernel-lt\n  repository: elrepo-kernel\n"));
    let inv = parse(Path::new("t.yaml"), &text).unwrap().inventory;
    assert_eq!(inv.kernel.source, KernelSource::Repository { package: "kernel-lt".parse().unwrap(), repository: Some(PackageName::parse_repository("elrepo-kernel").unwrap()) });
    assert_eq!((inv.network.manage, inv.network.rollback_seconds), (NetworkManagement::Manage, 30));
    let too_short = format!("{BASE}\nnetwork:\n  rollback_seconds: 3\n");
    let error = error_of(&too_short);
    assert!(error.contains("network.rollback_seconds") && error.contains("10 to 3600 seconds"), "{error}");
    let repository_alone = with("kernel:\n", "kernel:\n  repository: elrepo-kernel\n");
    assert!(error_of(&repository_alone).contains("kernel.repository needs kernel.package too"));
}

/// Regression: `ssh.user` accepted a newline (and anything else), which reached the SSH
/// login and messages.
#[test]
fn ssh_user_must_be_a_posix_user_name() {
    let text = with("  user: root", "  user: \"root\\nProxyCommand x\"");
    let line = line_of(&text, "user:");
    let error = error_of(&text);
    assert!(error.starts_with(&format!("t.yaml:{line}:9: ssh.user: \"root\\nProxyCommand x\"")), "{error}");
    assert!(error.contains("a POSIX user name"), "{error}");
    let text = with("  user: root", "  user: centos");
    assert_eq!(parse(Path::new("t.yaml"), &text).unwrap().inventory.ssh.user, "centos");
}

/// Regression: `kernel.package` starting with `-` became a yum option.
#[test]
fn kernel_package_must_be_a_package_name() {
    let text = with("kernel:\n", "kernel:\n  package: \"--nogpgcheck\"\n");
    let line = line_of(&text, "package:");
    let error = error_of(&text);
    assert!(error.starts_with(&format!("t.yaml:{line}:12: kernel.package: \"--nogpgcheck\"")), "{error}");
    assert!(error.contains("not starting with '-'"), "{error}");
    let text = with("kernel:\n", "kernel:\n  package: kernel-lt\n  repository: \"elrepo;reboot\"\n");
    assert!(error_of(&text).contains("kernel.repository: \"elrepo;reboot\""));
    let text = with("kernel:\n", "kernel:\n  package: kernel-lt\n  repository: elrepo-kernel\n");
    assert!(parse(Path::new("t.yaml"), &text).is_ok());
}

/// Regression: nodelocaldns was not checked against the pod CIDR, the service CIDR or the
/// hosts' addresses (it binds its address on every node).
#[test]
fn nodelocaldns_inside_a_cidr_or_on_a_host_is_refused() {
    for (value, clash) in [
        ("2001:cafe:42::53", "inside the pod CIDR 2001:cafe:42::/56"),
        ("2001:cafe:43::a", "inside the service CIDR 2001:cafe:43::/112"),
        ("2002:db8:0:1::102", "the address of host 2002.0db8.0000.0001.0000.0000.0000.0102"),
    ] {
        let text = with("nodelocaldns: \"fd00:169:254::a\"", &format!("nodelocaldns: \"{value}\""));
        let error = error_of(&text);
        let line = line_of(&text, "nodelocaldns:");
        assert!(error.starts_with(&format!("t.yaml:{line}:")), "{error}");
        assert!(error.contains("cluster.nodelocaldns") && error.contains(clash) && error.contains("e.g. fd00:169:254::a"), "{error}");
    }
}

/// Hosts without `gateway` on different prefixes are accepted: their routes may come from
/// router advertisements (v6deploy sets accept_ra 2 so a forwarding host keeps them) or a
/// routing daemon. Whether each host reaches the others is the preflight check `routes`, on
/// the host itself (the security review found such sites could not be described at all).
#[test]
fn hosts_without_gateway_on_different_prefixes_load() {
    let hosts = "  - address: \"2001:db8:1::1\"\n    roles: [control-plane, etcd, worker]\n    interface: eth0\n  - address: \"2001:db8:2::1\"\n    roles: [worker]\n    interface: eth0\n";
    let loaded = parse(Path::new("t.yaml"), &minimal(hosts)).unwrap();
    assert!(loaded.inventory.hosts.iter().all(|h| h.gateway.is_none()));
}

/// Hostile interface names are refused at load with the place, the value and what to write.
#[test]
fn interface_with_shell_metacharacters_is_refused() {
    let text = with("interface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"", "interface: \"ens160;reboot\"\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"");
    let error = error_of(&text);
    let line = line_of(&text, "ens160;reboot");
    assert!(error.starts_with(&format!("t.yaml:{line}:16: hosts[0].interface: \"ens160;reboot\": it contains ';'; write a Linux interface name")), "{error}");
}

/// The note every YAML syntax error ends with: the parser reads no further.
const STOPS: &str = "\n(reading stops at the first YAML syntax error: fix it and run again to see any other problem)";

#[test]
fn list_entry_indented_differently_from_the_hosts_above() {
    for indent in ["   ", " "] {
        let text = with("  - address: \"2002:db8:0:1::102\"", &format!("{indent}- address: \"2002:db8:0:1::102\""));
        let line = line_of(&text, "::102");
        assert_eq!(
            error_of(&text),
            format!("t.yaml:{line}:{}: this line is indented differently from the entries of `hosts` above it: use the same indentation (2 spaces) for every `- address:` entry{STOPS}", indent.len() + 1)
        );
    }
}

#[test]
fn key_indented_differently_from_its_section() {
    let text = with("  kubernetes_version:", "   kubernetes_version:");
    let line = line_of(&text, "kubernetes_version");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:4: this line is indented by 3 spaces, unlike the keys of `cluster` (line 4: 2 spaces): indent every key of a section the same{STOPS}")
    );
}

#[test]
fn tab_in_the_indentation() {
    let text = with("    interface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"", "\tinterface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"");
    let line = line_of(&text, "\tinterface");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:1: a tab in the indentation: YAML allows only spaces there; replace the tab with spaces, e.g. 4 spaces like line {} above{STOPS}", line - 1)
    );
}

#[test]
fn missing_colon_and_unclosed_brackets_and_quotes() {
    let text = with("  name: field-report", "  name field-report");
    assert_eq!(error_of(&text), format!("t.yaml:4:3: `name field-report` has no `: ` after its key: write `name: field-report` (a colon, then a space){STOPS}"));
    let text = with("  name: field-report", "  name: \"field-report");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:4:9: this quoted value has no closing quote: add the `\"` at its end (without it the value runs on to the next `\"`, on line 5){STOPS}")
    );
    let text = with("  dns_domain: cluster.local", "  upstream_dns: [\"2001:db8::53\"\n  dns_domain: cluster.local");
    let error = error_of(&text);
    assert!(error.starts_with("t.yaml:9:17: the list opened with `[` here is not closed: add the `]` after its last item (the reading stopped at line "), "{error}");
}

#[test]
fn empty_file_or_only_comments() {
    for text in ["", "# an inventory to write\n\n", "---\n"] {
        assert_eq!(error_of(text), "t.yaml: the inventory is empty: it needs at least cluster: and hosts: (see `v6deploy init`)");
    }
}

/// Regression: a host without `roles` was reported at the entry's last line, without `hosts[N]`.
#[test]
fn host_without_roles_is_reported_at_the_entry() {
    let text = with("    roles: [control-plane, etcd, worker]\n    interface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::103\"", "    interface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::103\"");
    let line = line_of(&text, "::102");
    assert_eq!(error_of(&text), format!("t.yaml:{line}:5: hosts[1]: `roles` is missing: add e.g. `roles: [control-plane, etcd, worker]` (any of the three)"));
    let error = error_of(&minimal("  - roles: [worker]\n"));
    assert_eq!(
        error,
        "2 problems in the inventory:\nt.yaml:7:5: hosts[0]: `address` is missing: add the host's IPv6 address, e.g. `address: \"2001:db8:0:1::101\"`\nt.yaml:7:5: hosts[0]: `interface` is missing: add the NIC that carries the address, e.g. `interface: eth0`"
    );
}

#[test]
fn several_unknown_keys_are_all_listed() {
    let text = BASE.replace("    gateway:", "    gatway:").replacen("  port: 22", "  prot: 22", 1).replacen("kernel:", "kernal:", 1);
    let error = error_of(&text);
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines[0], "5 problems in the inventory:", "{error}");
    assert_eq!(lines[1], "t.yaml:13:3: ssh: unknown key `prot`: did you mean `port`? (allowed here: user, port, private_key, known_hosts, host_key_check, become, bastion)");
    for (i, host) in [(2, 0), (3, 1), (4, 2)] {
        assert!(lines[i].starts_with(&format!("t.yaml:{}:5: hosts[{host}]: unknown key `gatway`: did you mean `gateway`?", 22 + 5 * host)), "{error}");
    }
    assert!(lines[5].starts_with("t.yaml:33:1: unknown key `kernal`: did you mean `kernel`? (allowed here: cluster, ssh, hosts, kernel, "), "{error}");
}

#[test]
fn misshapen_values_are_all_listed() {
    let text = with("  port: 22", "  port: twenty-two").replacen("roles: [control-plane, etcd, worker]", "roles: etcd", 1);
    assert_eq!(
        error_of(&text),
        "2 problems in the inventory:\nt.yaml:13:9: ssh.port: \"twenty-two\" is not a whole number from 0 to 65535\nt.yaml:19:12: hosts[0].roles: should be a list, e.g. [control-plane, etcd, worker], not \"etcd\""
    );
}

#[test]
fn duplicate_key_without_library_jargon() {
    let text = with("  dns_domain: cluster.local\n", "  dns_domain: cluster.local\n  name: again\n");
    let line = line_of(&text, "again");
    assert_eq!(error_of(&text), format!("t.yaml:{line}:3: `cluster.name` is given twice (lines 4 and {line}): keep one"));
}

#[test]
fn one_problem_is_not_counted_as_problems() {
    let error = error_of(&with("\"2002:db8:0:1::101\"", "\"10.0.0.1\""));
    assert!(!error.contains("problems") && error.lines().count() == 1, "{error}");
    let error = error_of(&with("  port: 22", "  port: x").replacen("  user: root", "  usr: root", 1));
    assert!(error.starts_with("2 problems in the inventory:\n"), "{error}");
}

/// The field report's `ssh:` section with a `bastion:` section (`lines`, indented by four).
fn with_bastion(lines: &str) -> String {
    with("  host_key_check: strict\n", &format!("  host_key_check: strict\n  bastion:\n{lines}"))
}

#[test]
fn a_bastion_in_any_textual_form_takes_the_ssh_section_for_what_it_leaves_out() {
    let text = with_bastion("    address: \"2002:0DB8:0000:0001:0000:0000:0000:0010\"\n");
    let inv = parse(Path::new("/site/t.yaml"), &text).unwrap().inventory;
    let bastion = inv.ssh.bastion.clone().unwrap();
    assert_eq!(bastion.address.to_string(), "2002:db8:0:1::10");
    assert_eq!((bastion.user.as_str(), bastion.port, &bastion.private_key), ("root", 22, &inv.ssh.private_key));
    assert_eq!(inv.route(&inv.hosts[1]).to_string(), "root@[2002:db8:0:1::102]:22 via bastion root@[2002:db8:0:1::10]:22");

    let text = with_bastion("    address: \"2002:db8:0:1::10\"\n    user: jump\n    port: 2022\n    private_key: keys/jump\n");
    let bastion = parse(Path::new("/site/t.yaml"), &text).unwrap().inventory.ssh.bastion.unwrap();
    assert_eq!((bastion.user.as_str(), bastion.port, bastion.private_key.as_path()), ("jump", 2022, Path::new("/site/keys/jump")));
}

#[test]
fn a_bastion_address_that_is_not_a_unicast_ipv6_address() {
    let text = with_bastion("    address: \"2002:db8::1::10\"\n");
    let line = line_of(&text, "::1::10");
    assert_eq!(error_of(&text), format!("t.yaml:{line}:14: ssh.bastion.address: \"2002:db8::1::10\" is not an IPv6 address (expected e.g. 2001:db8:0:1::101)"));
    let text = with_bastion("    address: \"fe80::10\"\n");
    assert!(error_of(&text).starts_with(&format!("t.yaml:{}:14: ssh.bastion.address: \"fe80::10\" is link-local", line_of(&text, "fe80::10"))));
}

#[test]
fn a_bastion_needs_an_address_and_is_a_section() {
    let text = with_bastion("    user: jump\n");
    let line = line_of(&text, "user: jump");
    assert_eq!(error_of(&text), format!("t.yaml:{line}:5: ssh.bastion: `address` is missing: add the bastion's IPv6 address, e.g. `address: \"2001:db8:0:1::10\"`"));
    let text = with("  host_key_check: strict\n", "  host_key_check: strict\n  bastion: \"2002:db8:0:1::10\"\n");
    let line = line_of(&text, "bastion:");
    assert_eq!(error_of(&text), format!("t.yaml:{line}:12: ssh.bastion: should be a section: indented `key: value` lines below it, not \"2002:db8:0:1::10\""));
    let text = with_bastion("    address: \"2002:db8:0:1::10\"\n    jump: yes\n");
    assert!(error_of(&text).contains("ssh.bastion: unknown key `jump` (allowed here: address, user, port, private_key)"), "{}", error_of(&text));
}

#[test]
fn ports_are_1_to_65535_for_the_hosts_and_the_bastion() {
    let text = with_bastion("    address: \"2002:db8:0:1::10\"\n    port: 0\n").replacen("  port: 22\n", "  port: 0\n", 1);
    let error = error_of(&text);
    let expected = "0 is out of range: an SSH port is 1 to 65535 (22 is usual); leave the key out for the default";
    assert_eq!(
        error,
        format!("2 problems in the inventory:\nt.yaml:{}:9: ssh.port: {expected}\nt.yaml:{}:11: ssh.bastion.port: {expected}", line_of(&text, "port: 0"), line_of(&text, "    port: 0"))
    );
}

#[test]
fn a_host_may_have_its_own_ssh_user_and_port() {
    let text = with("  - address: \"2002:db8:0:1::102\"\n", "  - address: \"2002:db8:0:1::102\"\n    ssh_user: centos\n    ssh_port: 2222\n");
    let inv = parse(Path::new("t.yaml"), &text).unwrap().inventory;
    assert_eq!((inv.hosts[1].ssh_user.as_ref().map(|u| u.as_str()), inv.hosts[1].ssh_port), (Some("centos"), Some(2222)));
    assert_eq!(inv.route(&inv.hosts[1]).to_string(), "centos@[2002:db8:0:1::102]:2222");
    assert_eq!(inv.route(&inv.hosts[0]).to_string(), "root@[2002:db8:0:1::101]:22");
}

#[test]
fn a_host_ssh_user_or_port_that_cannot_be_used() {
    let text = with("  - address: \"2002:db8:0:1::102\"\n", "  - address: \"2002:db8:0:1::102\"\n    ssh_user: \"-oProxyCommand=x\"\n    ssh_port: 0\n");
    let error = error_of(&text);
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines[0], "2 problems in the inventory:", "{error}");
    assert!(lines[1].starts_with(&format!("t.yaml:{}:15: hosts[1].ssh_user: \"-oProxyCommand=x\": ", line_of(&text, "ssh_user"))) && lines[1].contains("a POSIX user name"), "{error}");
    assert_eq!(lines[2], format!("t.yaml:{}:15: hosts[1].ssh_port: 0 is out of range: an SSH port is 1 to 65535 (22 is usual); leave the key out for the default", line_of(&text, "ssh_port")));
    let text = with("  - address: \"2002:db8:0:1::102\"\n", "  - address: \"2002:db8:0:1::102\"\n    ssh_port: 70000\n");
    assert_eq!(error_of(&text), format!("t.yaml:{}:15: hosts[1].ssh_port: \"70000\" is not a whole number from 0 to 65535", line_of(&text, "ssh_port")));
}

#[test]
fn a_bastion_that_is_one_of_the_hosts_is_warned_about() {
    let text = with_bastion("    address: \"2002:db8:0:1:0:0:0:102\"\n");
    let loaded = parse(Path::new("t.yaml"), &text).unwrap();
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with(&format!("t.yaml:{}:14: ssh.bastion.address: warning: the bastion is also hosts[1] of the inventory: while it reboots (kernel upgrade)", line_of(&text, "0:0:0:102"))), "{warnings:?}");
    assert!(parse(Path::new("t.yaml"), &with_bastion("    address: \"2002:db8:0:1::10\"\n")).unwrap().warnings.is_empty());
}

#[test]
fn api_endpoint_is_an_address_in_any_form_or_a_dns_name() {
    use v6deploy::inventory::ApiEndpoint;
    let endpoint = |value: &str| {
        let text = with("  nodelocaldns: \"fd00:169:254::a\"\n", &format!("  nodelocaldns: \"fd00:169:254::a\"\n  api_endpoint: \"{value}\"\n"));
        parse(Path::new("t.yaml"), &text).unwrap().inventory.cluster.api_endpoint
    };
    let vip = endpoint("2002:0DB8:0:1:0:0:0:0100").unwrap();
    assert_eq!(vip, ApiEndpoint::Address("2002:db8:0:1::100".parse().unwrap()));
    assert_eq!(vip.url(6443), "https://[2002:db8:0:1::100]:6443");
    let name = endpoint("api.example.com").unwrap();
    assert!(matches!(&name, ApiEndpoint::Name(n) if n.as_str() == "api.example.com"), "{name:?}");
    assert_eq!(name.url(6443), "https://api.example.com:6443");
    assert_eq!(parse(Path::new("t.yaml"), BASE).unwrap().inventory.cluster.api_endpoint, None);
}

#[test]
fn api_endpoint_ipv4_or_a_bad_name_is_refused() {
    for (value, message) in [
        ("192.0.2.10", "\"192.0.2.10\" is an IPv4 address; an IPv6 single-stack cluster has no IPv4: write the host's IPv6 address"),
        (
            "*.example.com",
            "\"*.example.com\": it contains '*'; write the IPv6 address (a virtual IP) or the DNS name in front of the apiservers, e.g. api.example.com",
        ),
    ] {
        let text = with("  nodelocaldns: \"fd00:169:254::a\"\n", &format!("  nodelocaldns: \"fd00:169:254::a\"\n  api_endpoint: \"{value}\"\n"));
        let line = line_of(&text, "api_endpoint");
        assert_eq!(error_of(&text), format!("t.yaml:{line}:17: cluster.api_endpoint: {message}"));
    }
}

/// CoreDNS 1.11 watches only discovery.k8s.io/v1 EndpointSlices (Kubernetes 1.21+): on a 1.20
/// cluster its pods never become Ready, so the inventory is refused at the image's line; a
/// suffixed tag (a build of its own, like the lab's v1beta1 one) is not judged.
#[test]
fn coredns_1_11_on_kubernetes_1_20() {
    let old = with("  kubernetes_version: \"1.27.15\"", "  kubernetes_version: \"1.20.2\"");
    let text = format!("{old}images:\n  coredns: \"registry.k8s.io/coredns/coredns:v1.11.3\"\n");
    let line = line_of(&text, "  coredns: ");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:12: images.coredns: \"registry.k8s.io/coredns/coredns:v1.11.3\": CoreDNS 1.11 and later watch only discovery.k8s.io/v1 EndpointSlices, which Kubernetes serves from 1.21: with this kubernetes_version use CoreDNS 1.10 (registry.k8s.io/coredns/coredns:v1.10.1)")
    );
    let custom = format!("{old}images:\n  coredns: \"v6deploy.lab/coredns:v1.11.3-endpointslice-v1beta1\"\n");
    parse(Path::new("t.yaml"), &custom).expect("a suffixed tag is not judged");
    parse(Path::new("t.yaml"), &old).expect("the default CoreDNS (1.10) runs on 1.20");
    let new = format!("{BASE}images:\n  coredns: \"registry.k8s.io/coredns/coredns:v1.11.3\"\n");
    parse(Path::new("t.yaml"), &new).expect("CoreDNS 1.11 on Kubernetes 1.27");
}

/// flannel before 0.16 has no IPv6-only mode.
#[test]
fn flannel_without_ipv6_only_mode() {
    let text = format!("{BASE}images:\n  flannel: \"docker.io/flannel/flannel:v0.14.0\"\n");
    let line = line_of(&text, "  flannel: ");
    assert_eq!(
        error_of(&text),
        format!("t.yaml:{line}:12: images.flannel: \"docker.io/flannel/flannel:v0.14.0\": flannel before v0.16 cannot run an IPv6-only network (EnableIPv4: false): use v0.20 or later, e.g. docker.io/flannel/flannel:v0.25.5")
    );
}
