//! The field report's network, running in the lab: flannel's IPv6 VXLAN between the nodes,
//! CoreDNS on the DNS Service IP and NodeLocal DNSCache on every node, from the images the lab
//! builds from the upstream sources. Pods on different nodes talk HTTP through the tunnel,
//! names resolve from nodes and pods, a Service made later resolves on every node, a second
//! install changes nothing, and node add gives the new node flannel and the cache. Boots a lab
//! and needs root: `#[ignore]`d, run by `scripts/test.sh` as root.

mod support;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::Duration;

use support::{TestLab, json, ok, wait_for};
use v6deploy::net::NodeName;

/// The lab's cluster addresses (inventories written by `lab up`).
const KUBERNETES_SERVICE: &str = "2001:db8:43::1";
const DNS_SERVICE: &str = "2001:db8:43::a";
const NODELOCALDNS: &str = "2001:db8:169:254::a";

/// One pod per node serving its pod name over HTTP on 8080, and a Service made after the
/// install (it must resolve through every node's cache).
const WORKLOAD: &str = r#"
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: echo, namespace: default}
spec:
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
      containers:
        - name: echo
          image: v6deploy.lab/busybox:1.35
          imagePullPolicy: Never
          command: ["/bin/sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
---
apiVersion: v1
kind: Service
metadata: {name: late, namespace: default}
spec:
  ipFamilies: [IPv6]
  ipFamilyPolicy: SingleStack
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
"#;

/// One pod: (name, uid, IP, restarts, ready).
type Pod = (String, String, String, u64, bool);

/// Pods of `selector` in `namespace`, by node.
fn pods(lab: &TestLab, namespace: &str, selector: &str) -> BTreeMap<String, Vec<Pod>> {
    let list = json(&lab.kubectl_ok(&["-n", namespace, "get", "pods", "-l", selector, "-o", "json"]));
    let mut by_node: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for p in list["items"].as_array().unwrap().iter().filter(|p| p["spec"]["nodeName"].is_string()) {
        let statuses = p["status"]["containerStatuses"].as_array().cloned().unwrap_or_default();
        let ready = !statuses.is_empty() && statuses.iter().all(|s| s["ready"] == true);
        let restarts = statuses.iter().map(|s| s["restartCount"].as_u64().unwrap_or(0)).sum();
        by_node.entry(p["spec"]["nodeName"].as_str().unwrap().to_string()).or_default().push((
            p["metadata"]["name"].as_str().unwrap().to_string(),
            p["metadata"]["uid"].as_str().unwrap().to_string(),
            p["status"]["podIP"].as_str().unwrap_or_default().to_string(),
            restarts,
            ready,
        ));
    }
    by_node
}

/// Each node's podCIDR, by node name.
fn pod_cidrs(lab: &TestLab) -> BTreeMap<String, String> {
    let nodes = json(&lab.kubectl_ok(&["get", "nodes", "-o", "json"]));
    nodes["items"].as_array().unwrap().iter().map(|n| (n["metadata"]["name"].as_str().unwrap().to_string(), n["spec"]["podCIDR"].as_str().unwrap_or_default().to_string())).collect()
}

/// The echo pods: one Ready on each of `count` nodes.
fn wait_echo(lab: &TestLab, count: usize) -> BTreeMap<String, (String, String)> {
    wait_for(&format!("an echo pod Ready on each of {count} nodes"), Duration::from_secs(240), || {
        let found = pods(lab, "default", "app=echo");
        found.len() == count && found.values().all(|p| p.len() == 1 && p[0].4)
    });
    pods(lab, "default", "app=echo").into_iter().map(|(node, p)| (node, (p[0].0.clone(), p[0].2.clone()))).collect()
}

fn exec(lab: &TestLab, pod: &str, command: &str) -> String {
    support::pod_exec(lab, pod, command)
}

fn get_from_pod(lab: &TestLab, pod: &str, address: &str, port: u16) -> String {
    support::get_from_pod(lab, pod, address, port, "/")
}

/// `dig +short AAAA NAME @SERVER` on a node.
fn dig(lab: &TestLab, node: Ipv6Addr, server: &str, name: &str) -> String {
    lab.ssh_ok(node, &format!("dig +short +time=3 +tries=2 AAAA {name} @{server}")).trim().to_string()
}

/// flannel on `node`: its vxlan device's tunnel source is the node's own address, and every
/// other node's pod subnet is routed through it.
fn assert_tunnel(lab: &TestLab, node: Ipv6Addr, others: &[String]) {
    let link = lab.ssh_ok(node, "ip -d link show flannel-v6.1");
    assert!(link.contains(&format!("vxlan id 1 local {node} ")), "{node}: {link}");
    for cidr in others {
        let route = lab.ssh_ok(node, &format!("ip -6 route show {cidr}"));
        assert!(route.contains("dev flannel-v6.1"), "{node}: no route to {cidr} through flannel-v6.1: {route}");
    }
    let left = lab.ssh(node, "test ! -e /etc/v6deploy/pod-routes && ! systemctl -q is-active v6deploy-pod-routes");
    assert!(left.status.success(), "{node}: the host-routes network is set up beside flannel");
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn flannel_vxlan_coredns_and_nodelocaldns_over_ipv6_and_node_add() {
    let lab = TestLab::up_kubernetes("tnet", 3);
    let inventory = std::fs::read_to_string(lab.inventory()).unwrap();
    assert!(inventory.contains("pod_network: flannel"), "the lab was made without its network addons:\n{inventory}");
    let addresses: Vec<Ipv6Addr> = (1..=3).map(|o| lab.address(o)).collect();
    let names: Vec<String> = addresses.iter().map(|a| NodeName::encode(*a).to_string()).collect();
    // A second address on one node's NIC, added after its own (the kernel lists it first):
    // flannel must still make the node's own address the tunnel's source.
    lab.ssh_ok(addresses[1], "ip -6 addr add 2001:db8:0:1::f2/64 dev eth0 nodad");

    let install = support::run(&lab, &["install"]);
    let install = support::text(&install);
    assert!(install.contains("pods Ready: kube-flannel-ds 3/3, coredns 2/2, node-local-dns 3/3"), "{install}");
    // The lab's kernel has every feature built in (no /lib/modules): "Prepare hosts" says
    // nothing is missing.
    assert!(!install.contains("the kernel lacks"), "{install}");

    // Every node Ready: flannel wrote its CNI configuration.
    let nodes = json(&lab.kubectl_ok(&["get", "nodes", "-o", "json"]));
    let ready = |n: &serde_json::Value| n["status"]["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
    assert!(nodes["items"].as_array().unwrap().len() == 3 && nodes["items"].as_array().unwrap().iter().all(ready), "{nodes:#}");

    // `check` asks the first control plane: every addon's pods Ready.
    let checked = json(&ok(&lab, &["check", "--output", "json"]));
    assert_eq!(checked["addons"]["status"], "pass", "{checked:#}");
    let ready: Vec<String> = checked["addons"]["ready"].as_array().unwrap().iter().map(|r| format!("{} {}", r["workload"].as_str().unwrap(), r["pods"].as_str().unwrap())).collect();
    assert_eq!(ready, ["kube-flannel-ds 3/3", "coredns 2/2", "node-local-dns 3/3"]);

    // The tunnel: on every node, the other nodes' pod /64s through flannel-v6.1.
    let cidrs = pod_cidrs(&lab);
    for (node, name) in addresses.iter().zip(&names) {
        let others: Vec<String> = cidrs.iter().filter(|(n, _)| *n != name).map(|(_, c)| c.clone()).collect();
        assert_eq!(others.len(), 2, "{cidrs:?}");
        assert_tunnel(&lab, *node, &others);
    }

    // Pods on different nodes exchange HTTP over the tunnel.
    let mut apply = lab.kubectl_command(&["apply", "-f", "-"]).stdin(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(apply.stdin.as_mut().unwrap(), WORKLOAD.as_bytes()).unwrap();
    assert!(apply.wait().unwrap().success());
    let echo = wait_echo(&lab, 3);
    for (node, (pod, _)) in &echo {
        for (other, (other_pod, other_ip)) in echo.iter().filter(|(n, _)| *n != node) {
            assert_eq!(get_from_pod(&lab, pod, other_ip, 8080), *other_pod, "{pod} on {node} asked the pod on {other}");
        }
    }

    // CoreDNS from a node: a CoreDNS pod's address and the DNS Service address answer AAAA for
    // the kubernetes Service with the first service IP.
    let coredns = pods(&lab, "kube-system", "k8s-app=kube-dns");
    let coredns_ip = coredns.values().flatten().next().expect("a CoreDNS pod").2.clone();
    for server in [coredns_ip.as_str(), DNS_SERVICE] {
        assert_eq!(dig(&lab, addresses[0], server, "kubernetes.default.svc.cluster.local"), KUBERNETES_SERVICE, "asked {server}");
    }

    // A pod asks its node's cache (its resolv.conf names it) and gets the answer.
    let (pod, _) = &echo[&names[2]];
    let resolv = exec(&lab, pod, "cat /etc/resolv.conf");
    assert!(resolv.lines().any(|l| l.trim() == format!("nameserver {NODELOCALDNS}")), "{resolv}");
    let lookup = exec(&lab, pod, "nslookup -type=AAAA kubernetes.default.svc.cluster.local");
    assert!(lookup.contains(&format!("Address: {KUBERNETES_SERVICE}")) && lookup.contains(NODELOCALDNS), "{lookup}");

    // The Service made after the install resolves through the cache on every node.
    let late = lab.kubectl_ok(&["get", "service", "late", "-o", "jsonpath={.spec.clusterIP}"]);
    for node in &addresses {
        wait_for(&format!("late.default on {node}'s cache"), Duration::from_secs(30), || dig(&lab, *node, NODELOCALDNS, "late.default.svc.cluster.local") == late.trim());
    }

    // A second install changes nothing and restarts no addon pod.
    let addon_pods = |lab: &TestLab| {
        let mut all = Vec::new();
        for (namespace, selector) in [("kube-flannel", "app=flannel"), ("kube-system", "k8s-app=kube-dns"), ("kube-system", "k8s-app=node-local-dns")] {
            all.extend(pods(lab, namespace, selector).into_values().flatten().map(|p| (p.0, p.1, p.3)));
        }
        all.sort();
        all
    };
    let before = addon_pods(&lab);
    let second = json(&ok(&lab, &["install", "--output", "json"]));
    for host in second["recap"]["hosts"].as_array().unwrap() {
        assert_eq!(host["changes"], 0, "{host}");
    }
    assert_eq!(addon_pods(&lab), before, "a second install restarted addon pods");

    // node add: the new node gets flannel and the cache; its pod reaches the old ones and
    // resolves names through its own node's cache.
    let grown = lab.v6deploy(&["lab", "up", "-q", "--hosts", "4"]);
    assert!(grown.status.success(), "{}", support::text(&grown));
    let new = lab.address(4);
    let added = support::run(&lab, &["node", "add", &new.to_string()]);
    let added = support::text(&added);
    assert!(added.contains("kube-flannel-ds 4/4") && added.contains("node-local-dns 4/4"), "{added}");
    let cidrs = pod_cidrs(&lab);
    let new_name = NodeName::encode(new).to_string();
    let others: Vec<String> = cidrs.iter().filter(|(n, _)| **n != new_name).map(|(_, c)| c.clone()).collect();
    assert_tunnel(&lab, new, &others);
    let echo = wait_echo(&lab, 4);
    let (new_pod, _) = &echo[&new_name];
    let (old_pod, old_ip) = &echo[&names[0]];
    assert_eq!(get_from_pod(&lab, new_pod, old_ip, 8080), *old_pod, "the new node's pod cannot reach an old one's");
    let lookup = exec(&lab, new_pod, "nslookup -type=AAAA late.default.svc.cluster.local");
    assert!(lookup.contains(&format!("Address: {}", late.trim())), "{lookup}");
    assert_eq!(dig(&lab, new, NODELOCALDNS, "kubernetes.default.svc.cluster.local"), KUBERNETES_SERVICE);
}
