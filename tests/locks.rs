//! Two runs at once against the same lab: the host lock (`/var/lib/v6deploy/lock`, see
//! src/runner/host_lock.rs) lets one install through and refuses the other, naming the holder;
//! the cluster is consistent afterwards. `#[ignore]`d lab test (root; lab name `hcon`).
//!
//! Two installs from one project share the local PKI store, whose lock makes the second one
//! wait for the first (and then find nothing to do); the host lock is what stops two
//! operators with their own copies of the store, so the second install here uses a copy.

use std::net::Ipv6Addr;
use std::process::Output;

use serde_json::Value;

mod support;
use support::{TestLab, text};

fn etcd_members(lab: &TestLab) -> Vec<Ipv6Addr> {
    let inventory = v6deploy::inventory::load(&lab.inventory()).unwrap().inventory;
    inventory.hosts.iter().filter(|h| h.has(v6deploy::inventory::Role::Etcd)).map(|h| h.address).collect()
}

fn install_command(lab: &TestLab, inventory: &std::path::Path) -> std::process::Command {
    let inventory = inventory.display().to_string();
    lab.command(&["-i", &inventory, "install", "--output", "json"])
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("install --output json: {e}: {}", text(output)))
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn hosts_locked_two_concurrent_installs_one_refused_cluster_consistent() {
    let lab = TestLab::up("hcon", 3);
    let members = etcd_members(&lab);
    assert_eq!(members.len(), 3);

    // A second operator: the same inventory with a copy of the store.
    support::ok(&lab, &["certs", "generate"]);
    let copied = std::process::Command::new("cp").arg("-a").arg(lab.project.path().join("certs")).arg(lab.project.path().join("certs-b")).status().unwrap();
    assert!(copied.success());
    let other = lab.inventory().with_file_name("lab-hcon-b.yaml");
    let inventory = std::fs::read_to_string(lab.inventory()).unwrap();
    assert!(inventory.contains("pki:\n  dir: ../certs\n"), "the lab inventory names its store: {inventory}");
    std::fs::write(&other, inventory.replace("pki:\n  dir: ../certs\n", "pki:\n  dir: ../certs-b\n")).unwrap();

    let first = install_command(&lab, &lab.inventory()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let second = install_command(&lab, &other).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    // Both read at once: a run blocked on a full pipe would hold its locks for ever.
    let second = std::thread::spawn(move || second.wait_with_output().unwrap());
    let outputs = [first.wait_with_output().unwrap(), second.join().unwrap()];
    let succeeded: Vec<&Output> = outputs.iter().filter(|o| o.status.success()).collect();
    let refused: Vec<&Output> = outputs.iter().filter(|o| !o.status.success()).collect();
    assert_eq!((succeeded.len(), refused.len()), (1, 1), "one install runs, the other is refused:\n{}\n---\n{}", text(&outputs[0]), text(&outputs[1]));
    let message = text(refused[0]);
    assert!(message.contains("another v6deploy run is working on") && message.contains("(locked by ") && message.contains("install"), "the refusal names the holder: {message}");
    assert_eq!(json(succeeded[0])["recap"]["hosts"].as_array().unwrap().len(), 3);

    // Consistent: every member healthy, no lock left behind.
    let health = v6deploy::components::etcdctl(&members, 5, &["endpoint", "health"]);
    let out = lab.ssh_ok(members[0], &format!("{health} 2>&1"));
    for member in &members {
        assert!(out.contains(&format!("https://[{member}]:2379 is healthy")), "{member}: {out}");
        assert_eq!(lab.ssh_ok(*member, "cat /var/lib/v6deploy/lock.owner 2>/dev/null || true").trim(), "", "lock owner left on {member}");
    }

    // A third install changes nothing.
    let third = install_command(&lab, &lab.inventory()).output().unwrap();
    assert!(third.status.success(), "{}", text(&third));
    let recap = json(&third);
    assert_eq!(recap["recap"]["changes"].as_array().unwrap().len(), 0, "{recap:#}");
}
