//! The API proxy (issue 18, "HA API endpoint"): every host's kubelet and kube-proxy talk to
//! the host's own HAProxy on `[::1]:7443`, which balances across every apiserver and leaves a
//! down one out. On the real Kubernetes lab: the first control plane's apiserver is stopped
//! for longer than the node-monitor grace period (40 s) and every node stays Ready, its
//! kubelet renewing its lease through the proxy, `kubectl` through the proxy working on every
//! node (the first one too); then it is started again, the proxies take it back, a second
//! install finds everything healthy and changes nothing, and a kubelet certificate rotation
//! (restarts checked through the proxy) passes. The inventory's `cluster.api_endpoint` names
//! the third machine (the lab has no virtual IP; any address other than the first control
//! plane's shows the point): the `admin.conf` of this machine goes there and keeps working
//! during the outage. Boots a lab and needs root: `#[ignore]`d, run by `scripts/test.sh` as
//! root.

mod support;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use support::{TestLab, json, ok, text, wait_for};
use v6deploy::net::NodeName;

/// kube-controller-manager's default `--node-monitor-grace-period` (v6deploy sets none).
const NODE_MONITOR_GRACE: Duration = Duration::from_secs(40);

/// `kubectl` on the lab machine at `address`, through that host's API proxy
/// (`https://[::1]:7443`) with the admin credentials installed there; `None` when it fails.
fn kubectl_through_proxy(lab: &TestLab, address: Ipv6Addr, args: &str) -> Option<String> {
    let output = lab.ssh(address, &format!("kubectl --kubeconfig /etc/kubernetes/admin.conf --server 'https://[::1]:7443' --request-timeout=10s {args}"));
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// `kubectl get nodes` on this machine with the store's `admin.conf`: whether it answered.
fn kubectl_from_here(lab: &TestLab) -> bool {
    let admin = lab.project.path().join("certs").join(lab.name.as_str()).join("admin.conf");
    let output = Command::new(lab.files().join("bundle/bin/kubectl")).arg("--kubeconfig").arg(admin).args(["--request-timeout=10s", "get", "nodes"]).output().unwrap();
    output.status.success()
}

/// Every node's Ready condition and its lease's `renewTime`, by node name, as seen through
/// the API proxy of `address`.
fn readiness(lab: &TestLab, address: Ipv6Addr) -> BTreeMap<String, (bool, String)> {
    let nodes = json(&kubectl_through_proxy(lab, address, "get nodes -o json").unwrap_or_else(|| panic!("kubectl through the proxy on {address} failed")));
    let leases = json(&kubectl_through_proxy(lab, address, "get leases -n kube-node-lease -o json").unwrap_or_else(|| panic!("kubectl through the proxy on {address} failed")));
    let renewed = |name: &str| {
        let lease = leases["items"].as_array().unwrap().iter().find(|l| l["metadata"]["name"] == name);
        lease.and_then(|l| l["spec"]["renewTime"].as_str()).unwrap_or_default().to_string()
    };
    nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let name = n["metadata"]["name"].as_str().unwrap();
            let ready = n["status"]["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
            (name.to_string(), (ready, renewed(name)))
        })
        .collect()
}

/// The machine's UTC clock as `YYYY-MM-DDTHH:MM:SS`, the prefix of a lease's `renewTime`
/// (the lab machines share this machine's clock).
fn machine_now(lab: &TestLab, address: Ipv6Addr) -> String {
    lab.ssh_ok(address, "date -u +%Y-%m-%dT%H:%M:%S").trim().to_string()
}

/// How often each host's API proxy logged the apiserver of `node` going `state` (UP, DOWN).
fn proxy_saw(lab: &TestLab, address: Ipv6Addr, node: &str, state: &str) -> usize {
    let journal = lab.ssh_ok(address, "journalctl -u api-proxy --no-pager -o cat");
    journal.lines().filter(|l| l.contains(&format!("Server apiservers/{node} is {state}"))).count()
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn nodes_stay_ready_through_the_api_proxy_while_the_first_apiserver_is_down() {
    let lab = TestLab::up_kubernetes("tha1", 3);
    let addresses: Vec<Ipv6Addr> = (1..=3).map(|o| lab.address(o)).collect();
    let inventory = std::fs::read_to_string(lab.inventory()).unwrap();
    let endpoint = format!("  api_endpoint: \"{}\"\n", addresses[2]);
    std::fs::write(lab.inventory(), inventory.replacen("cluster:\n", &format!("cluster:\n{endpoint}"), 1)).unwrap();
    let install = json(&ok(&lab, &["install", "--output", "json"]));
    let admin = std::fs::read_to_string(lab.project.path().join("certs/tha1/admin.conf")).unwrap();
    assert!(admin.contains(&format!("    server: https://[{}]:6443\n", addresses[2])), "{admin}");
    let names: Vec<String> = addresses.iter().map(|a| NodeName::encode(*a).to_string()).collect();
    for address in &addresses {
        let key = address.to_string();
        assert_eq!(install["components"][&key]["api-proxy"], "started", "{}", install["components"]);
        // The kubelet and kube-proxy of every host, control planes included, use the proxy.
        for kubeconfig in ["kubelet.conf", "kube-proxy.conf"] {
            let text = lab.ssh_ok(*address, &format!("cat /etc/kubernetes/{kubeconfig}"));
            assert!(text.contains("    server: https://[::1]:7443\n"), "{address} {kubeconfig}: {text}");
        }
        let listening = lab.ssh_ok(*address, "ss -Hltn 'sport = :7443'");
        assert!(listening.contains("[::1]:7443"), "{address}: the proxy does not listen on [::1]:7443: {listening}");
    }
    let notes = install["recap"]["hosts"].to_string();
    assert!(notes.contains("GET https://[::1]:7443/readyz through the proxy"), "{notes}");
    wait_for("3 Ready nodes with leases", Duration::from_secs(180), || {
        let seen = readiness(&lab, addresses[1]);
        seen.len() == 3 && seen.values().all(|(ready, renewed)| *ready && !renewed.is_empty())
    });

    // The first control plane loses its apiserver.
    let first = addresses[0];
    let seen_before = |state: &str| addresses.iter().map(|a| proxy_saw(&lab, *a, &names[0], state)).collect::<Vec<_>>();
    let (down_before, up_before) = (seen_before("DOWN"), seen_before("UP"));
    lab.ssh_ok(first, "systemctl stop kube-apiserver");
    let stopped = Instant::now();
    let direct = lab.ssh(addresses[1], &format!("curl -ks --max-time 3 https://[{first}]:6443/healthz"));
    assert!(!direct.status.success(), "the stopped apiserver still answers: {}", text(&direct));
    // Long enough that a node without a working API server would be NotReady by the end even
    // if the node controller's leader was on the first host: a new leader (15 s lease) marks
    // a node NotReady once its lease is older than the grace period.
    let outage = NODE_MONITOR_GRACE + Duration::from_secs(50);
    let mut late = None;
    let mut samples = 0;
    while stopped.elapsed() < outage {
        // kubectl through the proxy works on every node, the first one too (its own
        // apiserver is down: the proxy takes it to another); every node stays Ready.
        for address in &addresses {
            let seen = readiness(&lab, *address);
            assert_eq!(seen.len(), 3, "{address}: {seen:?}");
            assert!(seen.values().all(|(ready, _)| *ready), "{:?} after the first apiserver stopped, through the proxy of {address}: a node is not Ready: {seen:?}", stopped.elapsed());
        }
        assert!(kubectl_from_here(&lab), "kubectl with admin.conf (cluster.api_endpoint) failed {:?} after the stop", stopped.elapsed());
        samples += 1;
        if late.is_none() && stopped.elapsed() >= NODE_MONITOR_GRACE + Duration::from_secs(20) {
            late = Some(machine_now(&lab, addresses[1]));
        }
        sleep(Duration::from_secs(5));
    }
    assert!(samples >= 5, "only {samples} samples in {:?}", stopped.elapsed());
    let late = late.unwrap();
    println!("first apiserver down for {:?}: {samples} rounds of kubectl through every node's proxy, all nodes Ready", stopped.elapsed());
    // Each kubelet renewed its lease well after the grace period had passed (they renew every
    // 10 s): through the proxy, the first host's kubelet as well.
    let seen = readiness(&lab, addresses[2]);
    for name in &names {
        let (ready, renewed) = &seen[name];
        assert!(*ready, "{name}: {seen:?}");
        assert!(renewed.as_str() >= late.as_str(), "{name}: lease renewed at {renewed}, not since {late} ({:?} after the stop)", stopped.elapsed());
    }
    assert_eq!(lab.ssh(first, "systemctl is-active --quiet kube-apiserver").status.code(), Some(3), "kube-apiserver came back during the test");
    for (address, before) in addresses.iter().zip(&down_before) {
        assert!(proxy_saw(&lab, *address, &names[0], "DOWN") > *before, "{address}: the proxy did not mark the stopped apiserver down");
    }

    // Back again: every proxy takes it back after its check passes (GET /readyz, TLS
    // verified against the cluster CA), and a second install finds every component healthy.
    lab.ssh_ok(first, "systemctl start kube-apiserver");
    wait_for("every proxy to see the first apiserver up", Duration::from_secs(120), || {
        addresses.iter().zip(&up_before).all(|(a, before)| proxy_saw(&lab, *a, &names[0], "UP") > *before)
    });
    let second = json(&ok(&lab, &["install", "--output", "json"]));
    for host in second["recap"]["hosts"].as_array().unwrap() {
        assert_eq!(host["status"], "ok", "{host}");
        assert_eq!(host["changes"], 0, "{host}");
    }
    let seen = readiness(&lab, first);
    assert!(seen.len() == 3 && seen.values().all(|(ready, _)| *ready), "{seen:?}");

    // Rotating the kubelet's and kube-proxy's certificates restarts both on every host, each
    // checked through its proxy.
    let client = |address: Ipv6Addr| lab.ssh_ok(address, "sha256sum /var/lib/kubelet/pki/kubelet-client-current.pem");
    let before: Vec<String> = addresses.iter().map(|a| client(*a)).collect();
    ok(&lab, &["certs", "rotate", "--only", "kubelet,kube-proxy"]);
    let after: Vec<String> = addresses.iter().map(|a| client(*a)).collect();
    assert!(before.iter().zip(&after).all(|(b, a)| b != a), "a kubelet client certificate was not rotated: {before:?} {after:?}");
    wait_for("3 Ready nodes after the rotation", Duration::from_secs(120), || {
        let seen = readiness(&lab, addresses[1]);
        seen.len() == 3 && seen.values().all(|(ready, _)| *ready)
    });
}
