//! The hostile-input suite (issue 16): every string field of the inventory and the file names
//! of `push` and the bundle, each given a table of hostile values (newlines, quotes, `$()`,
//! backticks, `;`, a leading `-`, globs, NUL, very long, non-ASCII). Each value is either
//! refused at load with a clear message (place, field, the value escaped, why, what to write),
//! or rendered inert: the YAML still parses to the same structure with the value as one
//! scalar, and generated shell (ifcfg files, the write script) passes `sh -n` and, run in a
//! sandbox (a temp dir, the local `sh`), does nothing it should not.
//!
//! Paths (`ssh.private_key`, `ssh.known_hosts`, `bundle.path`, `pki.dir`) are read on this
//! machine only and never reach a host or a template, so they are not in the table.

#[allow(dead_code)] // the helpers other test files use
mod util;

use std::path::Path;
use std::process::{Command, Stdio};

use v6deploy::inventory::{InventoryError, parse};
use v6deploy::render::quoting;
use v6deploy::render::{Templates, render};
use v6deploy::transport::files::{FileSpec, has_control_characters, write_script};

use util::{cluster_file, document, documents, host_file};

const BASE: &str = include_str!("../inventories/field-report.yaml");

/// The hostile values, written into the inventory as YAML double-quoted scalars (so a NUL or a
/// newline is really in the value).
fn hostile() -> Vec<String> {
    let mut values: Vec<String> = [
        "x\nsecurityContext: {privileged: true}",
        "x\"; reboot; \"",
        "x'; reboot; '",
        "$(touch /tmp/pwned)",
        "`touch /tmp/pwned`",
        "a;reboot",
        "-oProxyCommand=x",
        "--privileged",
        "*",
        "[ab]?",
        "a\0b",
        "ünïcødé",
        "a b",
        "a|b&c>d",
        "{{ x }}",
        "%n$HOME",
        "x\r\ny",
        "\u{2028}",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    values.push("a".repeat(5000));
    values
}

/// Every string field: (YAML to replace in the field report, template with `{}` for the
/// quoted value, the field name in messages).
fn fields() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        ("  name: field-report\n", "  name: {}\n", "cluster.name"),
        ("  kubernetes_version: \"1.27.15\"\n", "  kubernetes_version: {}\n", "cluster.kubernetes_version"),
        ("  service_cidr: \"2001:cafe:43::/112\"\n", "  service_cidr: {}\n", "cluster.service_cidr"),
        ("  pod_cidr: \"2001:cafe:42::/56\"\n", "  pod_cidr: {}\n", "cluster.pod_cidr"),
        ("  nodelocaldns: \"fd00:169:254::a\"\n", "  nodelocaldns: {}\n", "cluster.nodelocaldns"),
        ("  dns_domain: cluster.local\n", "  dns_domain: {}\n", "cluster.dns_domain"),
        ("  nodelocaldns: \"fd00:169:254::a\"\n", "  nodelocaldns: \"fd00:169:254::a\"\n  extra_sans: [{}]\n", "cluster.extra_sans[0]"),
        ("  nodelocaldns: \"fd00:169:254::a\"\n", "  nodelocaldns: \"fd00:169:254::a\"\n  upstream_dns: [{}]\n", "cluster.upstream_dns[0]"),
        ("  nodelocaldns: \"fd00:169:254::a\"\n", "  nodelocaldns: \"fd00:169:254::a\"\n  cgroup_driver: {}\n", "cluster.cgroup_driver"),
        ("  nodelocaldns: \"fd00:169:254::a\"\n", "  nodelocaldns: \"fd00:169:254::a\"\n  pod_network: {}\n", "cluster.pod_network"),
        ("  - address: \"2002:db8:0:1::101\"\n", "  - address: {}\n", "hosts[0].address"),
        ("    interface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"", "    interface: {}\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"", "hosts[0].interface"),
        ("  - address: \"2002:db8:0:1::101\"\n", "  - address: \"2002:db8:0:1::101\"\n    name: {}\n", "hosts[0].name"),
        ("    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"", "    gateway: {}\n  - address: \"2002:db8:0:1::102\"", "hosts[0].gateway"),
        ("  - address: \"2002:db8:0:1::101\"\n    roles: [control-plane, etcd, worker]", "  - address: \"2002:db8:0:1::101\"\n    roles: [control-plane, etcd, {}]", "hosts[0].roles"),
        ("  user: root\n", "  user: {}\n", "ssh.user"),
        ("  host_key_check: strict\n", "  host_key_check: {}\n", "ssh.host_key_check"),
        ("  host_key_check: strict\n", "  host_key_check: strict\n  become: {}\n", "ssh.become"),
        ("  minimum: \"4.19\"\n", "  minimum: {}\n", "kernel.minimum"),
        ("  minimum: \"4.19\"\n", "  minimum: \"4.19\"\n  package: {}\n", "kernel.package"),
        ("  minimum: \"4.19\"\n", "  minimum: \"4.19\"\n  package: kernel-lt\n  repository: {}\n", "kernel.repository"),
        ("hosts:\n", "bundle:\n  missing: {}\nhosts:\n", "bundle.missing"),
        ("hosts:\n", "images:\n  flannel: {}\nhosts:\n", "images.flannel"),
        ("hosts:\n", "images:\n  flannel_cni_plugin: {}\nhosts:\n", "images.flannel_cni_plugin"),
        ("hosts:\n", "images:\n  coredns: {}\nhosts:\n", "images.coredns"),
        ("hosts:\n", "images:\n  nodelocaldns: {}\nhosts:\n", "images.nodelocaldns"),
        ("hosts:\n", "images:\n  sandbox: {}\nhosts:\n", "images.sandbox"),
        ("hosts:\n", "containerd:\n  snapshotter: {}\nhosts:\n", "containerd.snapshotter"),
        ("hosts:\n", "kubelet:\n  eviction_hard:\n    nodefs.available: {}\nhosts:\n", "kubelet.eviction_hard.nodefs.available"),
        ("  interface: eth0\n", "  interface: {}\n", "elasticsearch.interface"),
        ("  replicas: 3\n", "  replicas: 3\n  image: {}\n", "elasticsearch.image"),
        ("  replicas: 3\n", "  replicas: 3\n  heap: {}\n", "elasticsearch.heap"),
        ("  replicas: 3\n", "  replicas: 3\n  storage: {}\n", "elasticsearch.storage"),
    ]
}

/// The field report with `field` set to `value`.
fn inventory_with(from: &str, template: &str, value: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "{from:?} must occur once in the field report");
    BASE.replacen(from, &template.replace("{}", &quoting::yaml(value)), 1)
}

#[test]
fn every_string_field_refuses_every_hostile_value_with_a_clear_message() {
    let mut checked = 0;
    for (from, template, field) in fields() {
        for value in hostile() {
            let text = inventory_with(from, template, &value);
            let error = match parse(Path::new("t.yaml"), &text) {
                Ok(_) => panic!("{field}: {value:?} was accepted"),
                Err(InventoryError::Invalid { problems }) => {
                    let problem = problems.iter().find(|p| p.place.field == field).unwrap_or_else(|| panic!("{field}: {value:?}: no problem for the field: {problems:?}"));
                    assert!(problem.place.line > 0, "{field}: {value:?}: no line in {problem}");
                    problem.to_string()
                }
                Err(other) => panic!("{field}: {value:?}: not a value problem: {other}"),
            };
            // One line: the value is escaped, never printed raw; cut when very long.
            assert!(!error.contains('\n') && !error.contains('\0') && !error.contains('\r') && !error.contains('\u{2028}'), "{field}: {error:?}");
            assert!(error.starts_with("t.yaml:") && error.contains(&format!(": {field}: ")), "{field}: {error}");
            assert!(error.len() < 600, "{field}: the message is {} bytes: {error}", error.len());
            checked += 1;
        }
    }
    assert_eq!(checked, fields().len() * hostile().len());
}

/// The refusal says why and what to write, e.g. for an image with a newline (the value that
/// added `securityContext: {privileged: true}` to the CoreDNS pod).
#[test]
fn an_image_with_a_newline_is_refused_saying_what_to_write() {
    let text = inventory_with("hosts:\n", "images:\n  coredns: {}\nhosts:\n", "registry.k8s.io/coredns:v1\n  privileged: true");
    let error = parse(Path::new("t.yaml"), &text).unwrap_err().to_string();
    assert!(error.contains("images.coredns: \"registry.k8s.io/coredns:v1\\n  privileged: true\": it contains a newline; write an image reference"), "{error}");
}

/// Unusual but valid values render into manifests as one scalar each, with the same
/// structure as the plain field report.
#[test]
fn unusual_valid_values_render_as_one_scalar() {
    let digest = format!("[2001:db8::5]:5000/team/core-dns__x:v1.10.1@sha256:{}", "a".repeat(64));
    let mut text = inventory_with("hosts:\n", "images:\n  coredns: {}\n  sandbox: {}\nhosts:\n", &digest);
    text = text.replacen("interface: ens160\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"", "interface: bond0.100\n    prefix_length: 64\n    gateway: \"2002:db8:0:1::1\"\n  - address: \"2002:db8:0:1::102\"", 1);
    let inv = parse(Path::new("t.yaml"), &text).unwrap().inventory;
    let rendered = render(&inv, &Templates::embedded().unwrap()).unwrap();
    let coredns = cluster_file(&rendered, "coredns.yaml");
    let plain = util::rendered();
    assert_eq!(documents(coredns).len(), documents(cluster_file(&plain, "coredns.yaml")).len());
    let deployment = document(coredns, "Deployment", "coredns");
    assert_eq!(deployment["spec"]["template"]["spec"]["containers"][0]["image"], digest.as_str());
    assert!(deployment["spec"]["template"]["spec"].get("securityContext").is_none());
    let containerd = host_file(&rendered, util::FIRST, "/etc/containerd/config.toml");
    assert!(containerd.contains(&format!("sandbox_image = \"{digest}\"\n")), "{containerd}");
    let sysctl = host_file(&rendered, util::FIRST, "/etc/sysctl.d/90-v6deploy.conf");
    let _ = sysctl; // bond0.100 has a gateway: no accept_ra line; its ifcfg below.
    let ifcfg = host_file(&rendered, util::FIRST, "/etc/sysconfig/network-scripts/ifcfg-bond0.100");
    assert!(ifcfg.contains("\nDEVICE=bond0.100\n"), "{ifcfg}");
}

/// The quoting filters carry every hostile value as one value of their syntax.
#[test]
fn quoting_filters_keep_every_hostile_value_one_value() {
    for value in hostile() {
        // YAML: a mapping with the value and a sentinel key keeps both, the value intact.
        let yaml = format!("key: {}\nsentinel: 1\n", quoting::yaml(&value));
        let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(&yaml).unwrap_or_else(|e| panic!("{value:?}: {e}\n{yaml}"));
        assert_eq!(docs.len(), 1, "{yaml}");
        assert_eq!(docs[0]["key"], value.as_str(), "{yaml}");
        assert_eq!(docs[0]["sentinel"], 1, "{yaml}");
        assert_eq!(docs[0].as_object().unwrap().len(), 2, "{yaml}");
        // JSON.
        let json: serde_json::Value = serde_json::from_str(&format!("{{\"key\": {}}}", quoting::json(&value))).unwrap();
        assert_eq!(json["key"], value.as_str());
        // systemd: one line, specifiers and variables escaped.
        if let Ok(word) = quoting::systemd(&value) {
            assert!(!word.contains('\n') && !word.contains('\r'), "{word:?}");
            assert_eq!(word.matches('%').count(), 2 * value.matches('%').count(), "{word}");
        } else {
            assert!(value.contains('\0'));
        }
    }
}

/// ifcfg files are sourced by a shell (initscripts): a quoted value passes `sh -n`, sourcing
/// it in a sandbox sets the variable to the value and runs nothing; a value with a control
/// character is refused.
#[test]
fn ifcfg_values_are_inert_when_sourced() {
    let dir = tempfile::tempdir().unwrap();
    for value in hostile() {
        let Ok(quoted) = quoting::ifcfg(&value) else {
            assert!(value.chars().any(char::is_control), "{value:?} refused");
            continue;
        };
        let file = dir.path().join("ifcfg-x");
        std::fs::write(&file, format!("DEVICE={quoted}\nONBOOT=yes\n")).unwrap();
        let syntax = Command::new("sh").arg("-n").arg(&file).output().unwrap();
        assert!(syntax.status.success(), "{value:?}: {}", String::from_utf8_lossy(&syntax.stderr));
        let out = Command::new("sh").arg("-c").arg(". ./ifcfg-x && printf '%s|%s' \"$DEVICE\" \"$ONBOOT\"").current_dir(dir.path()).env("HOME", dir.path()).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{value}|yes"), "{value:?}");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["ifcfg-x"], "{value:?} created files");
    }
    assert!(!Path::new("/tmp/pwned").exists());
}

/// `push` and bundle file names: a control character is refused before any host is touched;
/// every other name is only ever a quoted word in the write script, which passes `sh -n`
/// and, run in a sandbox, writes exactly the files under their names and nothing else.
#[test]
fn push_and_bundle_file_names_are_refused_or_inert() {
    for name in ["a\nb", "a\rb", "a\0b", "a\x1bb", "x\nV6DEPLOY_SUMS\ntouch pwned"] {
        assert!(has_control_characters(name), "{name:?}");
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("out");
    let owner = String::from_utf8(Command::new("sh").arg("-c").arg("echo $(id -un):$(id -gn)").output().unwrap().stdout).unwrap().trim().to_string();
    let names: Vec<String> = hostile().into_iter().filter(|n| !n.is_empty() && !has_control_characters(n) && !n.contains('/') && n.len() < 255).chain(["-rf".to_string(), "..x".to_string()]).collect();
    let specs: Vec<FileSpec> = names.iter().map(|n| FileSpec::new(format!("{}/{n}", root.display()), 0o600, owner.clone(), n.as_bytes())).collect();
    let refs: Vec<&FileSpec> = specs.iter().collect();
    let written = write_script(&refs);
    let syntax = Command::new("sh").arg("-n").arg("-c").arg(&written.script).output().unwrap();
    assert!(syntax.status.success(), "sh -n: {}", String::from_utf8_lossy(&syntax.stderr));
    let mut child = Command::new("sh").arg("-c").arg(&written.script).current_dir(dir.path()).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin: Vec<u8> = specs.iter().flat_map(|s| s.contents.load().unwrap().to_vec()).collect();
    stdin.extend_from_slice(written.trailer.as_bytes());
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &stdin).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut found: Vec<String> = std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    found.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(found, expected);
    for name in &names {
        assert_eq!(std::fs::read(root.join(name)).unwrap(), name.as_bytes());
    }
    let top: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(top, ["out"], "nothing but the files was created");
    assert!(!Path::new("/tmp/pwned").exists());
}
