//! A working IPv6-only cluster in the lab (issue: "Ready nodes, pods across nodes, Services,
//! and the three jobs on it"): the `host-routes` pod network (set here; the lab's default
//! is flannel, tested in tests/network.rs), node authorization, pods on
//! every node reaching each other over IPv6, a ClusterIP Service through kube-proxy's
//! ip6tables rules, the `kubernetes` Service over TLS verified with a pod's service-account
//! CA, a second install that restarts nothing, node add of two machines and a certificate
//! rotation on the running cluster. Boots a lab and needs root: `#[ignore]`d, run by
//! `scripts/test.sh` as root.

mod support;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use support::{TestLab, json, ok, text, wait_for};
use v6deploy::net::NodeName;

/// A Deployment of the lab's test image with one pod per node (3 replicas, a required
/// anti-affinity on the hostname, control planes tolerated), serving HTTP on 8080, and a
/// ClusterIP Service in front of it.
const WORKLOAD: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: echo, namespace: default}
spec:
  replicas: 3
  selector: {matchLabels: {app: echo}}
  template:
    metadata: {labels: {app: echo}}
    spec:
      tolerations: [{key: node-role.kubernetes.io/control-plane, operator: Exists, effect: NoSchedule}]
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - {labelSelector: {matchLabels: {app: echo}}, topologyKey: kubernetes.io/hostname}
      containers:
        - name: echo
          image: v6deploy.lab/busybox:1.35
          imagePullPolicy: Never
          command: ["/bin/sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
          ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  ipFamilies: [IPv6]
  ipFamilyPolicy: SingleStack
  selector: {app: echo}
  ports: [{port: 80, targetPort: 8080}]
"#;

/// The nodes, by name: (Ready, taints, podCIDR, InternalIP).
fn nodes(lab: &TestLab) -> BTreeMap<String, (bool, Vec<String>, String, String)> {
    let nodes = json(&lab.kubectl_ok(&["get", "nodes", "-o", "json"]));
    nodes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let ready = n["status"]["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
            let taints = n["spec"]["taints"].as_array().map(|t| t.iter().map(|t| t["key"].as_str().unwrap().to_string()).collect()).unwrap_or_default();
            let internal = n["status"]["addresses"].as_array().unwrap().iter().find(|a| a["type"] == "InternalIP").unwrap()["address"].as_str().unwrap().to_string();
            (n["metadata"]["name"].as_str().unwrap().to_string(), (ready, taints, n["spec"]["podCIDR"].as_str().unwrap_or_default().to_string(), internal))
        })
        .collect()
}

/// The echo pods, by node: (name, uid, IP, restarts, running).
fn echo_pods(lab: &TestLab) -> BTreeMap<String, (String, String, String, u64, bool)> {
    let pods = json(&lab.kubectl_ok(&["get", "pods", "-l", "app=echo", "-o", "json"]));
    pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["spec"]["nodeName"].is_string())
        .map(|p| {
            let restarts = p["status"]["containerStatuses"].as_array().map_or(0, |c| c.iter().map(|c| c["restartCount"].as_u64().unwrap_or(0)).sum());
            let running = p["status"]["phase"] == "Running" && p["status"]["podIP"].is_string();
            (
                p["spec"]["nodeName"].as_str().unwrap().to_string(),
                (p["metadata"]["name"].as_str().unwrap().to_string(), p["metadata"]["uid"].as_str().unwrap().to_string(), p["status"]["podIP"].as_str().unwrap_or_default().to_string(), restarts, running),
            )
        })
        .collect()
}

fn wait_ready(lab: &TestLab, count: usize) {
    wait_for(&format!("{count} Ready nodes"), Duration::from_secs(180), || {
        let nodes = nodes(lab);
        nodes.len() == count && nodes.values().all(|n| n.0)
    });
    wait_for(&format!("an echo pod running on each of {count} nodes"), Duration::from_secs(240), || {
        let pods = echo_pods(lab);
        pods.len() == count && pods.values().all(|p| p.4)
    });
}

/// `kubectl exec` in a pod.
fn exec(lab: &TestLab, pod: &str, command: &str) -> String {
    support::pod_exec(lab, pod, command)
}

fn get_from_pod(lab: &TestLab, pod: &str, address: Ipv6Addr, port: u16, path: &str) -> String {
    support::get_from_pod(lab, pod, &address.to_string(), port, path)
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn an_ipv6_only_cluster_runs_pods_across_nodes_and_the_three_jobs_keep_it_running() {
    let lab = TestLab::up_kubernetes("tc1", 3);
    // The first host is a control plane that is not a worker: it is tainted.
    let inventory = std::fs::read_to_string(lab.inventory()).unwrap();
    let first_roles = "roles: [control-plane, etcd, worker]";
    let at = inventory.find(first_roles).expect("the lab's first host roles");
    let inventory = format!("{}roles: [control-plane, etcd]{}", &inventory[..at], &inventory[at + first_roles.len()..]);
    // This test keeps the host-routes pod network covered (the lab's default is flannel:
    // tests/network.rs).
    let inventory = inventory.replace("pod_network: flannel", "pod_network: host-routes");
    std::fs::write(lab.inventory(), inventory).unwrap();

    ok(&lab, &["install"]);
    let addresses: Vec<Ipv6Addr> = (1..=3).map(|o| lab.address(o)).collect();
    let names: Vec<String> = addresses.iter().map(|a| NodeName::encode(*a).to_string()).collect();
    wait_for("3 Ready nodes", Duration::from_secs(180), || {
        let nodes = nodes(&lab);
        nodes.len() == 3 && nodes.values().all(|n| n.0)
    });
    let found = nodes(&lab);
    for (name, address) in names.iter().zip(&addresses) {
        let (_, taints, pod_cidr, internal) = &found[name];
        assert_eq!(internal.parse::<Ipv6Addr>().unwrap(), *address);
        assert!(pod_cidr.ends_with("/64"), "{name}: {pod_cidr}");
        let tainted = taints.iter().any(|t| t == "node-role.kubernetes.io/control-plane");
        assert_eq!(tainted, name == &names[0], "{name}: {taints:?}");
    }
    println!("{}", lab.kubectl_ok(&["get", "nodes", "-o", "wide"]));

    // Node authorization: a kubelet's own certificate may change its Node, not another's.
    let store = lab.project.path().join("certs").join(lab.name.as_str());
    let server = format!("https://[{}]:6443", addresses[0]);
    let as_kubelet = |node: &str, target: &str| {
        let crt = store.join("nodes").join(node).join("kubelet-client.crt");
        let key = crt.with_extension("key");
        Command::new(lab.files().join("bundle/bin/kubectl"))
            .args(["--server", &server, "--certificate-authority"])
            .arg(store.join("ca.crt"))
            .arg("--client-certificate")
            .arg(&crt)
            .arg("--client-key")
            .arg(&key)
            .args(["annotate", "--overwrite", "node", target, "v6deploy.test/by=kubelet"])
            .output()
            .unwrap()
    };
    let own = as_kubelet(&names[1], &names[1]);
    assert!(own.status.success(), "a kubelet could not annotate its own Node: {}", text(&own));
    let other = as_kubelet(&names[1], &names[2]);
    assert!(!other.status.success(), "a kubelet annotated another node's Node: {}", text(&other));
    assert!(String::from_utf8_lossy(&other.stderr).contains("Forbidden") || String::from_utf8_lossy(&other.stderr).contains("forbidden"), "{}", text(&other));

    // Pods on every node, each with an address from its node's podCIDR, reaching every other.
    let mut apply = lab.kubectl_command(&["apply", "-f", "-"]).stdin(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(apply.stdin.as_mut().unwrap(), WORKLOAD.as_bytes()).unwrap();
    assert!(apply.wait().unwrap().success());
    wait_ready(&lab, 3);
    let pods = echo_pods(&lab);
    for (node, (pod, _, ip, _, _)) in &pods {
        let cidr: ipnet::Ipv6Net = found[node].2.parse().unwrap();
        assert!(cidr.contains(&ip.parse::<Ipv6Addr>().unwrap()), "{pod} on {node}: {ip} not in {cidr}");
        for (other, (_, _, other_ip, _, _)) in &pods {
            if other != node {
                let answer = get_from_pod(&lab, pod, other_ip.parse().unwrap(), 8080, "/");
                assert_eq!(answer, pods[other].0, "{pod} asked the pod on {other}");
                exec(&lab, pod, &format!("ping6 -c 1 -W 3 {other_ip} >/dev/null"));
            }
        }
    }
    println!("{}", lab.kubectl_ok(&["get", "pods", "-A", "-o", "wide"]));

    // The ClusterIP Service, from a pod and from a node (kube-proxy's ip6tables rules).
    let service_ip = lab.kubectl_ok(&["get", "service", "echo", "-o", "jsonpath={.spec.clusterIP}"]);
    let service_ip: Ipv6Addr = service_ip.trim().parse().unwrap();
    let first_pod = &pods.values().next().unwrap().0;
    let pod_names: Vec<&String> = pods.values().map(|p| &p.0).collect();
    let from_pod = get_from_pod(&lab, first_pod, service_ip, 80, "/");
    assert!(pod_names.contains(&&from_pod), "the Service answered {from_pod:?} to a pod");
    let from_node = lab.ssh_ok(addresses[1], &format!("curl -fsS --max-time 5 http://[{service_ip}]/"));
    assert!(pod_names.contains(&&from_node.trim().to_string()), "the Service answered {from_node:?} to a node");

    // The kubernetes Service (the first service IP) over TLS, verified with a pod's
    // service-account CA: the apiserver certificate carries that address.
    let ca = exec(&lab, first_pod, "cat /var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
    lab.ssh_ok(addresses[1], &format!("cat > /tmp/sa-ca.crt <<'EOF'\n{ca}EOF"));
    let health = lab.ssh_ok(addresses[1], "curl -fsS --max-time 5 --cacert /tmp/sa-ca.crt https://[2001:db8:43::1]:443/healthz");
    assert_eq!(health.trim(), "ok");
    // And the pod reaches it (plain HTTP to the TLS port: the apiserver answers 400).
    let plain = exec(&lab, first_pod, "printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' | nc -w 5 2001:db8:43::1 443 | head -n 1");
    assert!(plain.contains("400"), "{plain}");

    // A second install changes nothing and restarts no pod.
    let second = json(&ok(&lab, &["install", "--output", "json"]));
    for host in second["recap"]["hosts"].as_array().unwrap() {
        assert_eq!(host["changes"], 0, "{host}");
    }
    let after = echo_pods(&lab);
    assert_eq!(pods.iter().map(|(n, p)| (n, &p.1, p.3)).collect::<Vec<_>>(), after.iter().map(|(n, p)| (n, &p.1, p.3)).collect::<Vec<_>>());

    // Node add of two machines: both join Ready and get pods; the others are untouched.
    let grown = lab.v6deploy(&["lab", "up", "-q", "--hosts", "5"]);
    assert!(grown.status.success(), "{}", text(&grown));
    let new: Vec<String> = (4..=5).map(|o| lab.address(o).to_string()).collect();
    let mut args = vec!["node", "add"];
    args.extend(new.iter().map(String::as_str));
    ok(&lab, &args);
    lab.kubectl_ok(&["scale", "deployment", "echo", "--replicas=5"]);
    wait_ready(&lab, 5);
    let grown_pods = echo_pods(&lab);
    for (node, pod) in &pods {
        assert_eq!((&grown_pods[node].1, grown_pods[node].3), (&pod.1, pod.3), "the pod on {node} was restarted");
    }
    let new_pod = &grown_pods[&NodeName::encode(lab.address(4)).to_string()];
    let old = pods.values().next().unwrap();
    assert_eq!(get_from_pod(&lab, &new_pod.0, old.2.parse().unwrap(), 8080, "/"), old.0, "a new node's pod cannot reach an old one's");

    // Certificate rotation while a client loop hits the Service from a node.
    let served = Arc::new(AtomicU32::new(0));
    let failed = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let client = {
        let (served, failed, stop) = (served.clone(), failed.clone(), stop.clone());
        let files = lab.files();
        let node = lab.address(2);
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let output = support::lab_ssh(&files, node, &format!("curl -fsS --max-time 2 http://[{service_ip}]/"));
                if output.status.success() { served.fetch_add(1, Ordering::SeqCst) } else { failed.fetch_add(1, Ordering::SeqCst) };
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let serial = |address: Ipv6Addr, port: u16| {
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!("openssl s_client -connect '[{address}]:{port}' </dev/null 2>/dev/null | openssl x509 -noout -serial"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let before = (serial(addresses[0], 6443), serial(addresses[1], 10250));
    ok(&lab, &["certs", "rotate"]);
    stop.store(true, Ordering::SeqCst);
    client.join().unwrap();
    let after = (serial(addresses[0], 6443), serial(addresses[1], 10250));
    assert_ne!(before.0, after.0, "the apiserver still serves its old certificate");
    assert_ne!(before.1, after.1, "the kubelet still serves its old certificate");
    assert!(nodes(&lab).values().all(|n| n.0), "a node is not Ready after the rotation");
    let (served, failed) = (served.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    assert!(served > 0 && failed <= 5, "the Service answered {served} times and failed {failed} times during the rotation");
}
