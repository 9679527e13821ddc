//! `node add` on a running lab cluster, for real: etcd members added one at a time over TLS
//! and IPv6, existing members untouched, refusals that change nothing, and a member that does
//! not come up removed again.
//!
//! Like tests/lab.rs these are `#[ignore]`d and run only as root (`scripts/test.sh`).

use std::net::Ipv6Addr;

use serde_json::Value;

mod support;
use support::*;

/// [`ok`] with `--output json` among `args`: the document.
fn ok_json(lab: &TestLab, args: &[&str]) -> Value {
    let out = ok(lab, args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("v6deploy {args:?}: no JSON ({e}): {out}"))
}

fn main_pid(lab: &TestLab, address: Ipv6Addr) -> String {
    lab.ssh_ok(address, "systemctl show -p MainPID --value etcd").trim().to_string()
}

/// Gives hosts 104 and 105 (workers in a grown lab) the etcd role too.
fn make_etcd_members(lab: &TestLab) {
    let path = lab.inventory();
    let mut text = std::fs::read_to_string(&path).unwrap();
    for host in ["104", "105"] {
        let from = format!("  - address: \"2001:db8:0:{}::{host}\"\n    roles: [worker]", subnet_group(lab));
        assert!(text.contains(&from), "{from:?} not in {text}");
        text = text.replace(&from, &from.replace("[worker]", "[etcd, worker]"));
    }
    std::fs::write(&path, text).unwrap();
}

/// The lab subnet's fourth group (`2001:db8:0:<k>::/64`).
fn subnet_group(lab: &TestLab) -> String {
    let a = lab.address(1).segments();
    format!("{:x}", a[3])
}

fn installed_lab(name: &str) -> TestLab {
    let lab = TestLab::up(name, 3);
    ok(&lab, &["install"]);
    lab
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn two_etcd_members_join_and_the_old_ones_keep_running() {
    let lab = installed_lab("nadd");
    let old: Vec<Ipv6Addr> = (1..=3).map(|i| lab.address(i)).collect();
    let put = lab.etcdctl(&old, &["put", "written-before-the-add", "still-here"]);
    assert!(put.status.success(), "{}", text(&put));
    let pids_before: Vec<String> = old.iter().map(|a| main_pid(&lab, *a)).collect();
    let nspawn_before = lab.nspawn_pids();

    let grown = lab.v6deploy(&["lab", "up", "-q", "--hosts", "5"]);
    assert!(grown.status.success(), "{}", text(&grown));
    for (name, pid) in &nspawn_before {
        assert_eq!(lab.nspawn_pids()[name], *pid, "lab up --hosts 5 restarted {name}");
    }
    make_etcd_members(&lab);
    let new = [lab.address(4), lab.address(5)];

    let refused = run(&lab, &["install"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("node add"), "{}", text(&refused));

    let added = ok_json(&lab, &["node", "add", "--output", "json", &new[0].to_string(), &new[1].to_string()]);
    let names = lab.etcd_member_names(old[0]);
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names.iter().all(|n| !n.starts_with("(unstarted")), "{names:?}");
    let all: Vec<Ipv6Addr> = old.iter().chain(new.iter()).copied().collect();
    let health = lab.etcdctl(&all, &["endpoint", "health"]);
    assert!(health.status.success(), "{}", text(&health));
    for address in new {
        let get = lab.etcdctl(&[address], &["get", "written-before-the-add", "--print-value-only"]);
        assert_eq!(String::from_utf8_lossy(&get.stdout).trim(), "still-here", "{}", text(&get));
    }
    let pids_after: Vec<String> = old.iter().map(|a| main_pid(&lab, *a)).collect();
    assert_eq!(pids_before, pids_after, "old members' etcd restarted:\n{added:#}");
    // The recap names what changed on the old members, and etcd there is unchanged.
    let changes = added["recap"]["changes"].as_array().unwrap();
    for address in &old {
        let on = |c: &&Value| c["host"] == address.to_string() && c["applied"] == true;
        assert!(changes.iter().filter(on).any(|c| c["kind"] == "write" && c["target"] == "/etc/hosts" && c["reason"] == "content differs"), "{added:#}");
        assert!(!changes.iter().filter(on).any(|c| c["kind"] == "command" && c["target"].as_str().unwrap_or_default().starts_with("systemctl restart etcd")), "{added:#}");
    }
    let mut outcomes = added["components"].as_object().unwrap().values().flat_map(|c| c.as_object().unwrap().values());
    assert!(outcomes.any(|o| o == "unchanged"), "{added:#}");

    // A host that is already a member is refused, and nothing changes.
    let again = run(&lab, &["node", "add", &new[0].to_string()]);
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(String::from_utf8_lossy(&again.stderr).contains("is already a member of cluster nadd"), "{}", text(&again));
    // And a plain install now changes nothing anywhere.
    let install = run(&lab, &["install", "--output", "json"]);
    let recap: Value = serde_json::from_slice(&install.stdout).unwrap();
    let changed: Vec<&Value> = recap["recap"]["changes"].as_array().unwrap().iter().collect();
    assert!(changed.is_empty(), "install after node add changed: {changed:?}");
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_worker_joins_without_touching_etcd() {
    let lab = installed_lab("nwork");
    let grown = lab.v6deploy(&["lab", "up", "-q", "--hosts", "4"]);
    assert!(grown.status.success(), "{}", text(&grown));
    let worker = lab.address(4);
    // The dry run prints the plan and leaves the new host untouched.
    let plan = ok(&lab, &["node", "add", "--dry-run", &worker.to_string()]);
    assert!(plan.contains("PLAN (dry-run: nothing was changed)"), "{plan}");
    assert!(plan.contains(&format!("{worker}: would write /etc/kubernetes/kubelet.conf (new file)")), "{plan}");
    lab.ssh_ok(worker, "! test -e /etc/kubernetes && ! test -e /etc/v6deploy/member");
    let out = ok_json(&lab, &["node", "add", "--output", "json", &worker.to_string()]);
    assert_eq!(lab.etcd_member_names(lab.address(1)).len(), 3);
    let components = &out["components"][worker.to_string()];
    assert_eq!(components["kubelet"], "staged", "{out:#}");
    assert_eq!(components["kube-proxy"], "staged", "{out:#}");
    lab.ssh_ok(worker, "test -f /etc/kubernetes/kubelet.conf && test -f /var/lib/kubelet/pki/kubelet-client-current.pem && ! test -e /etc/etcd");
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn an_unreachable_new_host_changes_nothing() {
    let lab = installed_lab("nunre");
    let grown = lab.v6deploy(&["lab", "up", "-q", "--hosts", "4"]);
    assert!(grown.status.success(), "{}", text(&grown));
    let path = lab.inventory();
    let text_before = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text_before.replace("roles: [worker]", "roles: [etcd, worker]")).unwrap();
    let new = lab.address(4);
    lab.ssh_ok(new, "systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh; true");
    let out = run(&lab, &["node", "add", "--connect-timeout", "3", &new.to_string()]);
    // Exit 2: a host was unreachable (1 is for usage and inventory errors).
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("cannot reach {new}")), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was changed"), "{}", text(&out));
    assert_eq!(lab.etcd_member_names(lab.address(1)).len(), 3, "a member was added for an unreachable host");
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_member_that_does_not_come_up_is_removed_again() {
    let lab = installed_lab("nfail");
    let grown = lab.v6deploy(&["lab", "up", "-q", "--hosts", "4"]);
    assert!(grown.status.success(), "{}", text(&grown));
    let path = lab.inventory();
    let text_before = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text_before.replace("roles: [worker]", "roles: [etcd, worker]")).unwrap();
    let new = lab.address(4);
    // Its data dir path is taken by a file, so the new member's etcd cannot start.
    lab.ssh_ok(new, "touch /var/lib/etcd");
    let out = run(&lab, &["node", "add", &new.to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("it was removed from the etcd cluster again"), "{}", text(&out));
    let names = lab.etcd_member_names(lab.address(1));
    assert_eq!(names.len(), 3, "half-added member left: {names:?}");
    let health = lab.etcdctl(&[lab.address(1), lab.address(2), lab.address(3)], &["endpoint", "health"]);
    assert!(health.status.success(), "{}", text(&health));
}
