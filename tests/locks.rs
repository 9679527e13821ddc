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

/// The attacks of the security review on the lock, against a real sshd: a connection that
/// drops released the host's lock, the session reconnected without it, and a second run could
/// lock the host while the first went on. Now a reconnect takes the lock again for the same
/// run (and a host that another run locked meanwhile fails the first run there); `unlock`
/// shows the holder and releases it.
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_reconnect_takes_the_lock_again_and_unlock_releases_it() {
    use std::time::Duration;
    use v6deploy::runner::lock_hosts;
    use v6deploy::transport::{Credentials, Endpoint, SshSession, Transport, TransportError};

    let lab = TestLab::up("hlck", 1);
    let address = lab.address(1);
    let credentials = Credentials::load(&lab.files().join("id_ed25519")).unwrap();
    let endpoint = Endpoint {
        address,
        port: 22,
        user: "root".into(),
        credentials,
        known_hosts: lab.files().join("known_hosts"),
        host_key_check: v6deploy::inventory::HostKeyCheck::Strict,
        become_method: v6deploy::inventory::Become::None,
        connect_timeout: Duration::from_secs(10),
        jump: None,
    };
    // What the host says, read with nsenter (not over SSH: the test cuts SSH connections).
    let on_host = |script: &str| {
        let output = lab.v6deploy(&["lab", "exec", "101", "--", "sh", "-c", script]);
        assert!(output.status.success(), "{script}: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let cut_ssh = || on_host("pkill -f 'sshd: root@[n]otty' || true; sleep 0.5");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let first: std::sync::Arc<dyn Transport> = std::sync::Arc::new(SshSession::connect(endpoint.clone()).await.unwrap());
        let (locks, outcome) = lock_hosts(std::slice::from_ref(&first), "1@first (v6deploy install) since t").await;
        outcome.unwrap();
        assert_eq!(on_host("cat /var/lib/v6deploy/lock.owner"), "1@first (v6deploy install) since t");

        // The connection drops; the next command reconnects and holds the lock again.
        cut_ssh();
        let output = first.exec("echo still here", b"").await.unwrap();
        assert_eq!(output.stdout_text().trim(), "still here");
        // The new holder takes the lock over as the old one (cut off) goes.
        assert_eq!(on_host("for i in $(seq 50); do [ -s /var/lib/v6deploy/lock.pid ] && break; sleep 0.1; done; cat /var/lib/v6deploy/lock.owner"), "1@first (v6deploy install) since t", "the lock was not taken again");
        let second: std::sync::Arc<dyn Transport> = std::sync::Arc::new(SshSession::connect(endpoint.clone()).await.unwrap());
        let (_, refused) = lock_hosts(std::slice::from_ref(&second), "2@second (v6deploy install) since t").await;
        assert!(refused.unwrap_err().to_string().contains("locked by 1@first"), "a second run locked the host while the first holds it");

        // `unlock` shows the holder and changes nothing; with --yes it releases the lock.
        let shown = lab.v6deploy(&["-i", lab.inventory().to_str().unwrap(), "unlock"]);
        assert!(shown.status.success() && String::from_utf8_lossy(&shown.stdout).contains(&format!("{address}: locked by 1@first (v6deploy install) since t")), "{}", text(&shown));
        assert_eq!(on_host("cat /var/lib/v6deploy/lock.owner"), "1@first (v6deploy install) since t");
        let released = lab.v6deploy(&["-i", lab.inventory().to_str().unwrap(), "unlock", "--yes"]);
        assert!(released.status.success() && String::from_utf8_lossy(&released.stdout).contains("released the lock of 1@first"), "{}", text(&released));
        assert_eq!(on_host("cat /var/lib/v6deploy/lock.owner 2>/dev/null; true"), "");

        // Another run takes the free lock (a holder started on the host, so that cutting SSH
        // leaves it); the first run's next reconnect is refused there.
        use base64::Engine as _;
        let script = base64::engine::general_purpose::STANDARD.encode(v6deploy::runner::lock_script("2@second (v6deploy install) since t"));
        on_host(&format!(
            "echo {script} | base64 -d > /tmp/lock.sh && (setsid sh -c 'yes | sh /tmp/lock.sh' >/dev/null 2>&1 </dev/null &); \
             for i in $(seq 50); do grep -q 2@second /var/lib/v6deploy/lock.owner 2>/dev/null && break; sleep 0.1; done"
        ));
        assert_eq!(on_host("cat /var/lib/v6deploy/lock.owner"), "2@second (v6deploy install) since t");
        cut_ssh();
        let lost = first.exec("true", b"").await.unwrap_err();
        assert!(matches!(lost, TransportError::LockLost { .. }), "{lost}");
        assert!(lost.to_string().contains("2@second"), "{lost}");
        drop(locks);
    });
}
