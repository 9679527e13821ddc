//! Real Kubernetes in the lab: the lab's bundle carries Kubernetes 1.20.2 built from source,
//! containerd, runc, the CNI plugins and two images, and `install` starts every component
//! with a health check that was really made. These boot labs and need root: `#[ignore]`d,
//! run by `scripts/test.sh` as root. Each test has its own lab (names start with `tk`).

mod support;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use serde_json::Value;
use support::{TestLab, json, ok, run, text};

/// The services every host of a 3-machine lab runs (all have every role).
const SERVICES: [&str; 8] = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "api-proxy", "containerd", "kubelet", "kube-proxy"];

/// Each service's MainPID on a host.
fn main_pids(lab: &TestLab, address: Ipv6Addr) -> BTreeMap<String, String> {
    let script = SERVICES.iter().map(|s| format!("echo {s}=$(systemctl show -p MainPID --value {s})")).collect::<Vec<_>>().join("; ");
    lab.ssh_ok(address, &script).lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn real_kubernetes_starts_healthy_registers_ipv6_nodes_and_a_second_run_restarts_nothing() {
    let lab = TestLab::up_kubernetes("tk1", 3);
    let first = json(&ok(&lab, &["install", "--output", "json"]));
    for host in first["recap"]["hosts"].as_array().unwrap() {
        let address = host["host"].as_str().unwrap();
        assert_eq!(host["status"], "changed", "{host}");
        for service in SERVICES {
            assert_eq!(first["components"][address][service], "started", "{address} {service}: {}", first["components"][address]);
        }
        // Each health check was made, and says which.
        let notes = host["notes"].to_string();
        for evidence in [
            "etcdctl endpoint health",
            "GET https://[::1]:6443/healthz",
            "GET https://[::1]:10257/healthz",
            "GET https://[::1]:10259/healthz",
            "GET https://[::1]:7443/readyz through the proxy",
            "ctr version",
            "GET http://[::1]:10248/healthz, its Node Ready (or waiting for the pod network) as posted by this kubelet",
            "GET http://[::1]:10256/healthz",
        ] {
            assert!(notes.contains(evidence), "{address}: no {evidence:?} in {notes}");
        }
        assert!(notes.contains("imported"), "{address}: images not imported: {notes}");
    }

    // From this machine, over IPv6, with the cluster's admin.conf.
    let nodes = json(&lab.kubectl_ok(&["get", "nodes", "-o", "json"]));
    let items = nodes["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{nodes}");
    let pod_cidr: ipnet::Ipv6Net = "2001:db8:42::/56".parse().unwrap();
    for ordinal in 1..=3 {
        let address = lab.address(ordinal);
        let name = v6deploy::net::NodeName::encode(address).to_string();
        let node = items.iter().find(|n| n["metadata"]["name"] == name.as_str()).unwrap_or_else(|| panic!("no node {name}: {nodes}"));
        let internal: Vec<&Value> = node["status"]["addresses"].as_array().unwrap().iter().filter(|a| a["type"] == "InternalIP").collect();
        assert_eq!(internal.len(), 1, "{node}");
        assert_eq!(internal[0]["address"].as_str().unwrap().parse::<Ipv6Addr>().unwrap(), address);
        let cidr: ipnet::Ipv6Net = node["spec"]["podCIDR"].as_str().unwrap().parse().unwrap();
        assert_eq!(cidr.prefix_len(), 64, "{node}");
        assert!(pod_cidr.contains(&cidr), "{cidr} not in {pod_cidr}");
    }
    let wide = lab.kubectl_ok(&["get", "nodes", "-o", "wide"]);
    println!("{wide}");

    // Nothing changes, nothing restarts.
    let before: Vec<_> = (1..=3).map(|o| main_pids(&lab, lab.address(o))).collect();
    assert!(before.iter().all(|pids| pids.values().all(|p| p != "0")), "{before:?}");
    let second = json(&ok(&lab, &["install", "--output", "json"]));
    for host in second["recap"]["hosts"].as_array().unwrap() {
        assert_eq!(host["changes"], 0, "{host}");
        assert_eq!(host["status"], "ok", "{host}");
    }
    let after: Vec<_> = (1..=3).map(|o| main_pids(&lab, lab.address(o))).collect();
    assert_eq!(before, after, "a second install restarted a service");
}

/// A kube-scheduler whose unit has a flag it does not know crash-loops (`Restart=always`):
/// install fails on the host, naming the service and the journal line, instead of calling
/// it healthy.
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_crash_looping_component_fails_the_install_with_its_journal() {
    let lab = TestLab::up_kubernetes("tk2", 1);
    let templates = lab.project.path().join("broken-templates");
    std::fs::create_dir_all(&templates).unwrap();
    let unit = include_str!("../templates/kube-scheduler.service.j2").replace("--leader-elect=true", "--leader-elect=true \\\n  --no-such-flag=1");
    std::fs::write(templates.join("kube-scheduler.service.j2"), unit).unwrap();
    let output = run(&lab, &["--templates", templates.to_str().unwrap(), "install"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let all = text(&output);
    assert!(all.contains("kube-scheduler is not healthy"), "{all}");
    assert!(all.contains("unknown flag: --no-such-flag"), "the journal line is missing: {all}");
    assert!(!all.contains("kube-scheduler started and healthy"), "{all}");
}

/// Without the Kubernetes binaries in the bundle and with `bundle.missing: stage`, their
/// configuration is installed and verified but not started, and install says so.
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_bundle_without_kubernetes_binaries_stages_them_and_says_so() {
    let lab = TestLab::up_kubernetes("tk3", 1);
    lab.stage_kubernetes();
    let output = run(&lab, &["install", "--output", "json"]);
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("these are staged"), "{stderr}");
    let report = json(&String::from_utf8_lossy(&output.stdout));
    let address = lab.address(1).to_string();
    for staged in ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"] {
        assert_eq!(report["components"][&address][staged], "staged", "{staged}: {}", report["components"]);
    }
    assert_eq!(report["components"][&address]["etcd"], "started");
    assert_eq!(report["components"][&address]["containerd"], "started");
    // The bundle has haproxy: the API proxy runs, with no apiserver behind it to check, so
    // its check is that it accepts connections; that check fails once the proxy is stopped.
    assert_eq!(report["components"][&address]["api-proxy"], "started");
    let bundle = v6deploy::bundle::BundleCheck { root: "bundle".into(), present: Vec::new(), missing: vec!["kube-apiserver"], dirs: Vec::new(), missing_files: Vec::new() };
    let proxy = &v6deploy::components::API_PROXY;
    let shows = proxy.health(&bundle).shows();
    assert!(shows.contains("[::1]:7443") && output.stdout.windows(shows.len()).any(|w| w == shows.as_bytes()), "the recap does not name the check {shows:?}");
    let inventory = v6deploy::inventory::load(&lab.inventory()).unwrap().inventory;
    let check = proxy.health_script(&inventory, &inventory.hosts[0], &bundle);
    lab.ssh_ok(lab.address(1), &check);
    lab.ssh_ok(lab.address(1), "systemctl stop api-proxy");
    assert!(!lab.ssh(lab.address(1), &check).status.success(), "{check} passed with the proxy stopped");
}
