//! `node remove` on a real Kubernetes lab of 5 machines (3 control-plane + etcd members that
//! are workers too, 2 workers): a worker and an etcd member removed at once (drained through
//! the API server, the etcd member removed, services and units gone, Node objects deleted, the
//! staying hosts' /etc/hosts and host routes updated) while the rest keeps working; a removal
//! that would break etcd's quorum refused with the reason; `node add` brings both back.
//!
//! Like tests/node_add.rs it is `#[ignore]`d and runs only as root (`scripts/test.sh`).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

mod support;
use support::*;
use v6deploy::net::NodeName;

/// A Deployment of the lab's test image that prefers the node `{node}` (so draining that node
/// must move it), and a ClusterIP Service in front of it.
const WORKLOAD: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              preference: {matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: ["{node}"]}]}
      terminationGracePeriodSeconds: 1
      containers:
        - name: web
          image: v6deploy.lab/busybox:1.35
          imagePullPolicy: Never
          command: ["/bin/sh", "-c", "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 8080 -h /www"]
          ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  ipFamilies: [IPv6]
  ipFamilyPolicy: SingleStack
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"#;

/// The nodes by name, and whether each is Ready and schedulable (`None` when the API server
/// does not answer).
fn nodes(lab: &TestLab) -> Option<BTreeMap<String, (bool, bool)>> {
    let output = lab.kubectl(&["get", "nodes", "-o", "json"]);
    if !output.status.success() {
        return None;
    }
    let nodes = json(&String::from_utf8_lossy(&output.stdout));
    Some(
        nodes["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                let ready = n["status"]["conditions"].as_array().unwrap().iter().any(|c| c["type"] == "Ready" && c["status"] == "True");
                (n["metadata"]["name"].as_str().unwrap().to_string(), (ready, n["spec"]["unschedulable"] != true))
            })
            .collect(),
    )
}

fn wait_ready(lab: &TestLab, addresses: &[Ipv6Addr]) {
    let wanted = names(addresses);
    wait_for(&format!("exactly these nodes Ready and schedulable: {wanted:?}"), Duration::from_secs(240), || {
        nodes(lab).is_some_and(|n| n.keys().cloned().collect::<Vec<_>>() == wanted && n.values().all(|(ready, schedulable)| *ready && *schedulable))
    });
}

/// The web pod: (node, running).
fn web_pod(lab: &TestLab) -> Option<(String, bool)> {
    let pods = json(&lab.kubectl_ok(&["get", "pods", "-l", "app=web", "-o", "json"]));
    let pod = pods["items"].as_array().unwrap().iter().find(|p| p["metadata"]["deletionTimestamp"].is_null())?.clone();
    let running = pod["status"]["phase"] == "Running" && pod["status"]["podIP"].is_string();
    Some((pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string(), running))
}

fn names(addresses: &[Ipv6Addr]) -> Vec<String> {
    let mut names: Vec<String> = addresses.iter().map(|a| NodeName::encode(*a).to_string()).collect();
    names.sort();
    names
}

/// The web Service's answer from a lab machine (the pod's hostname), or the failure.
fn served(lab: &TestLab, from: Ipv6Addr, service_ip: &str) -> Result<String, String> {
    let output = lab.ssh(from, &format!("curl -fsS --max-time 3 http://[{service_ip}]/"));
    if output.status.success() { Ok(String::from_utf8_lossy(&output.stdout).trim().to_string()) } else { Err(text(&output)) }
}

/// Runs v6deploy with `args` on a terminal (tmux), answers its question with `answer`, and
/// returns the screen once it exited (`None`, skipped, without tmux).
fn answer_on_a_terminal(lab: &TestLab, args: &[&str], answer: &str) -> Option<String> {
    if !Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped the terminal confirmation: no tmux");
        return None;
    }
    let session = format!("v6deploy-noderm-{}", std::process::id());
    let script = format!("{} -i {} {}; echo exit $?; sleep 60", support::BIN, lab.inventory().display(), args.join(" "));
    let tmux = |args: &[&str]| Command::new("tmux").args(args).output().unwrap();
    assert!(tmux(&["new-session", "-d", "-s", &session, "-x", "200", "-y", "50", &script]).status.success());
    let pane = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-J", "-t", &session]).stdout).into_owned();
    wait_for("the confirmation question", Duration::from_secs(60), || pane().contains("Type yes to go on"));
    tmux(&["send-keys", "-t", &session, answer, "Enter"]);
    wait_for("node remove to exit", Duration::from_secs(30), || pane().contains("exit "));
    let screen = pane();
    tmux(&["kill-session", "-t", &session]);
    Some(screen)
}

/// The inventory text without the `hosts:` entries of `addresses`.
fn without_hosts(inventory: &str, addresses: &[Ipv6Addr]) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in inventory.lines() {
        if let Some(address) = line.strip_prefix("  - address: ") {
            skipping = addresses.iter().any(|a| address.trim_matches('"') == a.to_string());
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_eq!(out.matches("  - address: ").count(), inventory.matches("  - address: ").count() - addresses.len(), "{out}");
    out
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_worker_and_an_etcd_member_leave_the_rest_keeps_working_and_node_add_brings_them_back() {
    let lab = TestLab::up_kubernetes("tnr1", 5);
    // The lab gives hosts 1-3 [control-plane, etcd, worker] and 4-5 [worker]: 3 etcd members
    // and 2 workers, as the test needs.
    let inventory = std::fs::read_to_string(lab.inventory()).unwrap();
    assert_eq!(inventory.matches("roles: [control-plane, etcd, worker]").count(), 3, "{inventory}");
    assert_eq!(inventory.matches("roles: [worker]").count(), 2, "{inventory}");
    let all: Vec<Ipv6Addr> = (1..=5).map(|i| lab.address(i)).collect();
    let (member, worker) = (all[2], all[4]);
    let staying = [all[0], all[1], all[3]];
    let staying_etcd = [all[0], all[1]];
    ok(&lab, &["install"]);
    wait_ready(&lab, &all);

    let worker_name = NodeName::encode(worker).to_string();
    let manifest = lab.project.path().join("web.yaml");
    std::fs::write(&manifest, WORKLOAD.replace("{node}", &worker_name)).unwrap();
    lab.kubectl_ok(&["apply", "-f", &manifest.display().to_string()]);
    wait_for("the web pod running on the worker to remove", Duration::from_secs(180), || web_pod(&lab) == Some((worker_name.clone(), true)));
    let service_ip = lab.kubectl_ok(&["get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"]);
    wait_for("the web Service to answer", Duration::from_secs(60), || served(&lab, all[0], &service_ip).is_ok());

    // The plan changes nothing; without a terminal, --yes is needed.
    let targets = [member.to_string(), worker_name.clone()];
    let plan = ok(&lab, &["node", "remove", "--dry-run", &targets[0], &targets[1]]);
    assert!(plan.contains("PLAN (dry-run: nothing was changed)"), "{plan}");
    assert!(plan.contains(&format!("{}: would run kubectl cordon and drain {worker_name}", all[0])), "{plan}");
    assert!(plan.contains(&format!("{}: would run etcdctl member remove", all[0])), "{plan}");
    assert!(plan.contains(&format!("{member}: would run remove /etc/v6deploy/member")), "{plan}");
    assert!(plan.contains(&format!("{}: would write /etc/hosts (content differs)", all[0])), "{plan}");
    let unconfirmed = run(&lab, &["node", "remove", &targets[0], &targets[1]]);
    assert_eq!(unconfirmed.status.code(), Some(1), "{}", text(&unconfirmed));
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("add --yes"), "{}", text(&unconfirmed));
    if let Some(pane) = answer_on_a_terminal(&lab, &["node", "remove", &targets[0], &targets[1]], "no") {
        assert!(pane.contains("Type yes to go on") && pane.contains(&format!("{member} ({}; roles ", NodeName::encode(member))), "{pane}");
        assert!(pane.contains("not confirmed: nothing was changed") && pane.contains("exit 1"), "{pane}");
    }
    assert_eq!(lab.etcd_member_names(all[0]).len(), 3, "the dry run or a refusal removed an etcd member");
    lab.ssh_ok(member, "test -f /etc/v6deploy/member && systemctl is-active --quiet kubelet");

    // The removal.
    let removed = run(&lab, &["node", "remove", "--yes", "--output", "json", &targets[0], &targets[1]]);
    assert!(removed.status.success(), "{}", text(&removed));
    let report = json(&String::from_utf8_lossy(&removed.stdout));
    assert_eq!(report["schema"], 1, "{report:#}");
    assert_eq!(report["removed"], serde_json::json!([member.to_string(), worker.to_string()]), "{report:#}");
    assert!(report["recap"]["hosts"].as_array().unwrap().iter().all(|h| h["status"] == "changed" || h["status"] == "ok"), "{report:#}");

    // The rest is healthy: 3 nodes Ready, etcd of 2 healthy members, the pod moved and served.
    wait_ready(&lab, &staying);
    assert_eq!(lab.etcd_member_names(all[0]), names(&staying_etcd));
    let health = lab.etcdctl(&staying_etcd, &["endpoint", "health"]);
    assert!(health.status.success(), "{}", text(&health));
    wait_for("the web pod running on a staying node", Duration::from_secs(180), || web_pod(&lab).is_some_and(|(node, running)| running && node != worker_name));
    wait_for("the web Service to answer from the moved pod", Duration::from_secs(60), || served(&lab, all[1], &service_ip).is_ok());
    // The staying hosts no longer know the removed ones; the removed ones run nothing of ours.
    for address in staying {
        let hosts = lab.ssh_ok(address, "cat /etc/hosts");
        assert!(!hosts.contains(&NodeName::encode(member).to_string()) && !hosts.contains(&worker_name), "{address}: {hosts}");
        let routes = lab.ssh_ok(address, "cat /etc/v6deploy/pod-routes; ip -6 route");
        assert!(!routes.contains(&format!("via {member}")) && !routes.contains(&format!("via {worker}")), "{address}: {routes}");
    }
    for address in [member, worker] {
        lab.ssh_ok(address, "! test -e /etc/v6deploy/member && ! test -e /etc/systemd/system/kubelet.service && ! systemctl is-active --quiet kubelet && ! systemctl is-active --quiet containerd");
    }
    lab.ssh_ok(member, "! systemctl is-active --quiet etcd && ! test -e /var/lib/etcd && ls -d /var/lib/etcd.removed-*");

    // While the removed hosts are still listed, install refuses and says what to do.
    let refused = run(&lab, &["install"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("node add"), "{}", text(&refused));

    // A second etcd member cannot go while etcd could not keep a healthy quorum: with the
    // other member's etcd stopped, removing this one is refused before any change.
    lab.ssh_ok(all[1], "systemctl stop etcd");
    let quorum = run(&lab, &["node", "remove", "--yes", &all[0].to_string()]);
    assert_eq!(quorum.status.code(), Some(2), "{}", text(&quorum));
    let stderr = String::from_utf8_lossy(&quorum.stderr);
    let states = format!("{} running without a quorum, {} down", all[0], all[1]);
    assert!(stderr.contains("etcd has lost its quorum already") && stderr.contains(&states) && stderr.contains("nothing was changed"), "{}", text(&quorum));
    lab.ssh_ok(all[1], "systemctl start etcd");
    let health = || lab.etcdctl(&staying_etcd, &["endpoint", "health"]).status.success();
    wait_for("etcd healthy again", Duration::from_secs(60), health);
    lab.ssh_ok(all[0], "test -f /etc/v6deploy/member && systemctl is-active --quiet etcd");
    assert_eq!(lab.etcd_member_names(all[0]), names(&staying_etcd));

    // The staying hosts are what install makes of the inventory without the removed hosts.
    let listed = std::fs::read_to_string(lab.inventory()).unwrap();
    std::fs::write(lab.inventory(), without_hosts(&listed, &[member, worker])).unwrap();
    let install = run(&lab, &["install", "--output", "json"]);
    assert!(install.status.success(), "{}", text(&install));
    let report = json(&String::from_utf8_lossy(&install.stdout));
    // The kubelet's image garbage collection may have deleted the test image where no pod
    // uses it (it counts the disk's reserved blocks as used: this machine's disk is past its
    // 85 % threshold by that count); install imports it again. Nothing else may change.
    let changes: Vec<&Value> = report["recap"]["changes"].as_array().unwrap().iter().filter(|c| c["step"] != "Import images").collect();
    assert!(changes.is_empty(), "install without the removed hosts changed something after node remove: {changes:#?}");
    std::fs::write(lab.inventory(), listed).unwrap();
    // node remove again (the hosts still listed) finds nothing left to do.
    let again = run(&lab, &["node", "remove", "--yes", "--output", "json", &targets[0], &targets[1]]);
    assert!(again.status.success(), "{}", text(&again));
    let report = json(&String::from_utf8_lossy(&again.stdout));
    let changes: Vec<&Value> = report["recap"]["changes"].as_array().unwrap().iter().filter(|c| c["step"] != "Import images").collect();
    assert!(changes.is_empty(), "a second node remove changed something: {changes:#?}");
    let notes = report["recap"]["hosts"].to_string();
    assert!(notes.contains("Stop and remove services: nothing left to remove") && notes.contains("Delete Node objects: no Node object left to delete"), "{report:#}");

    // node add brings both back.
    ok(&lab, &["node", "add", &targets[0], &targets[1]]);
    wait_ready(&lab, &all);
    assert_eq!(lab.etcd_member_names(all[0]), names(&all[..3]));
    let health = lab.etcdctl(&all[..3], &["endpoint", "health"]);
    assert!(health.status.success(), "{}", text(&health));
    wait_for("the web Service to answer on the re-added member", Duration::from_secs(60), || served(&lab, member, &service_ip).is_ok());
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn the_first_control_plane_leaves_by_node_name_and_comes_back() {
    let lab = TestLab::up_kubernetes("tnr2", 3);
    let all: Vec<Ipv6Addr> = (1..=3).map(|i| lab.address(i)).collect();
    let (first, staying) = (all[0], &all[1..]);
    ok(&lab, &["install"]);
    wait_ready(&lab, &all);
    let admin = lab.project.path().join("certs").join(lab.name.as_str()).join("admin.conf");
    assert!(std::fs::read_to_string(&admin).unwrap().contains(&format!("[{first}]:6443")));

    // Named by its node name: the API server is asked on the next control plane, admin.conf
    // (here and on the hosts) moves to it.
    let out = ok(&lab, &["node", "remove", "--yes", NodeName::encode(first).as_str()]);
    assert!(out.contains(&format!("removed from cluster tnr2: {first}")) && out.contains("Now delete"), "{out}");
    assert!(std::fs::read_to_string(&admin).unwrap().contains(&format!("[{}]:6443", staying[0])), "admin.conf still names the removed host");
    wait_ready(&lab, staying);
    assert_eq!(lab.etcd_member_names(staying[0]), names(staying));
    let health = lab.etcdctl(staying, &["endpoint", "health"]);
    assert!(health.status.success(), "{}", text(&health));
    for address in staying {
        lab.ssh_ok(*address, &format!("grep -q '\\[{}\\]:6443' /etc/kubernetes/admin.conf && ! grep -q '{first} ' /etc/hosts", staying[0]));
    }
    lab.ssh_ok(first, "! test -e /etc/v6deploy/member && ! systemctl is-active --quiet kube-apiserver && ! systemctl is-active --quiet etcd");

    ok(&lab, &["node", "add", &first.to_string()]);
    wait_ready(&lab, &all);
    assert_eq!(lab.etcd_member_names(staying[0]), names(&all));
    let health = lab.etcdctl(&all, &["endpoint", "health"]);
    assert!(health.status.success(), "{}", text(&health));
}
