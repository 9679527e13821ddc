//! `certs rotate` on a running lab cluster, for real: new serials served by every etcd
//! member while a client keeps reading and writing, backups locally and on the hosts, a bad
//! certificate stopped and rolled back at its host, and a CA rotation interrupted between
//! phases and finished by a re-run.
//!
//! Like tests/lab.rs these are `#[ignore]`d and run only as root (`scripts/test.sh`).

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{JoinHandle, sleep};
use std::time::{Duration, Instant};

mod support;
use support::*;

fn store(lab: &TestLab) -> PathBuf {
    lab.project.path().join("certs").join(lab.name.as_str())
}

fn etcd_members(lab: &TestLab) -> Vec<Ipv6Addr> {
    (1..=3).map(|i| lab.address(i)).collect()
}

/// The client credentials a loop uses: CA file(s) and client certificate/key files.
#[derive(Clone)]
struct Client {
    etcdctl: PathBuf,
    cacert: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Client {
    fn etcdctl(&self, endpoints: &[Ipv6Addr], args: &[&str]) -> Output {
        let endpoints: Vec<String> = endpoints.iter().map(|a| format!("https://[{a}]:2379")).collect();
        Command::new(&self.etcdctl)
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .arg(format!("--cacert={}", self.cacert.display()))
            .arg(format!("--cert={}", self.cert.display()))
            .arg(format!("--key={}", self.key.display()))
            .args(["--command-timeout=2s", "--dial-timeout=2s"])
            .args(args)
            .output()
            .unwrap()
    }
}

/// Copies the store's healthcheck client and etcd CA into `dir` (they are rotated later).
fn client_now(lab: &TestLab, dir: &Path, tag: &str) -> Client {
    let pki = store(lab).join("etcd");
    let copy = |name: &str| {
        let to = dir.join(format!("{tag}-{name}"));
        std::fs::copy(pki.join(name), &to).unwrap();
        to
    };
    Client { etcdctl: lab.files().join("bundle/bin/etcdctl"), cacert: copy("ca.crt"), cert: copy("healthcheck-client.crt"), key: copy("healthcheck-client.key") }
}

/// A client writing and reading a key every ~100 ms until stopped. A request counts as
/// failed only when it still fails after a bounded retry (3 tries within ~3 s), with every
/// client in `clients` (old and new credentials during a CA rotation).
struct Loop {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    last_error: Arc<std::sync::Mutex<String>>,
    thread: Option<JoinHandle<()>>,
}

impl Loop {
    fn start(endpoints: Vec<Ipv6Addr>, clients: impl Fn() -> Vec<Client> + Send + 'static) -> Loop {
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let last_error = Arc::new(std::sync::Mutex::new(String::new()));
        let (s, o, f, e) = (stop.clone(), ok.clone(), failed.clone(), last_error.clone());
        let thread = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s.load(Ordering::SeqCst) {
                n += 1;
                let value = format!("v{n}");
                let mut done = false;
                'tries: for _ in 0..3 {
                    for client in clients() {
                        let put = client.etcdctl(&endpoints, &["put", "rotate-loop", &value]);
                        let get = client.etcdctl(&endpoints, &["get", "rotate-loop", "--print-value-only"]);
                        if put.status.success() && get.status.success() && String::from_utf8_lossy(&get.stdout).trim() == value {
                            done = true;
                            break 'tries;
                        }
                        *e.lock().unwrap() = format!("{}\n{}", text(&put), text(&get));
                    }
                    sleep(Duration::from_millis(500));
                }
                if done { o.fetch_add(1, Ordering::SeqCst) } else { f.fetch_add(1, Ordering::SeqCst) };
                sleep(Duration::from_millis(100));
            }
        });
        Loop { stop, ok, failed, last_error, thread: Some(thread) }
    }

    /// Stops the loop; returns (succeeded, failed, last error).
    fn finish(mut self) -> (usize, usize, String) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
        (self.ok.load(Ordering::SeqCst), self.failed.load(Ordering::SeqCst), self.last_error.lock().unwrap().clone())
    }
}

/// The certificate a member serves on `[addr]:2379`, PEM, read from outside with openssl.
fn served_cert(client: &Client, address: Ipv6Addr) -> String {
    let output = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect '[{address}]:2379' -cert {} -key {} </dev/null 2>/dev/null | openssl x509",
            client.cert.display(),
            client.key.display()
        ))
        .output()
        .unwrap();
    assert!(output.status.success(), "s_client {address}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn serial(pem: &str) -> String {
    let mut child = Command::new("openssl").args(["x509", "-noout", "-serial"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), pem.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// `openssl verify -CAfile ca cert` (cert given as PEM text).
fn verifies(ca: &Path, pem: &str, dir: &Path) -> bool {
    let file = dir.join("to-verify.pem");
    std::fs::write(&file, pem).unwrap();
    Command::new("openssl").arg("verify").arg("-CAfile").arg(ca).arg(&file).output().unwrap().status.success()
}

fn healthy(client: &Client, endpoints: &[Ipv6Addr]) {
    let health = client.etcdctl(endpoints, &["endpoint", "health"]);
    assert!(health.status.success(), "etcd health: {}", text(&health));
}

fn assert_data(client: &Client, endpoints: &[Ipv6Addr]) {
    for address in endpoints {
        let get = client.etcdctl(&[*address], &["get", "written-before-rotation", "--print-value-only"]);
        assert_eq!(String::from_utf8_lossy(&get.stdout).trim(), "still-here", "{address}: {}", text(&get));
    }
}

fn node_name(_lab: &TestLab, address: Ipv6Addr) -> String {
    v6deploy::net::NodeName::encode(address).to_string()
}

/// An installed 3-machine lab with data in etcd, and a client with the install's credentials.
fn installed(name: &str) -> (TestLab, Vec<Ipv6Addr>, tempfile::TempDir, Client) {
    let started = Instant::now();
    let lab = TestLab::up(name, 3);
    ok(&lab, &["install"]);
    eprintln!("{name}: lab up + install: {:?}", started.elapsed());
    let members = etcd_members(&lab);
    let scratch = tempfile::tempdir().unwrap();
    let client = client_now(&lab, scratch.path(), "install");
    let put = client.etcdctl(&members, &["put", "written-before-rotation", "still-here"]);
    assert!(put.status.success(), "{}", text(&put));
    (lab, members, scratch, client)
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn leaves_rotate_while_etcd_serves_reads_and_writes() {
    let (lab, members, scratch, client) = installed("roleaf");
    leaves_rotate_with_etcd_available(&lab, &members, &client, scratch.path());
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_bad_certificate_stops_the_rollout_and_is_rolled_back() {
    let (lab, members, _scratch, client) = installed("robad");
    let t = Instant::now();
    a_bad_certificate_stops_at_its_host_and_is_rolled_back(&lab, &members, &client);
    eprintln!("bad certificate rollback and resume: {:?}", t.elapsed());
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn ca_rotation_interrupted_between_phases_finishes_on_rerun() {
    let (lab, members, scratch, _client) = installed("roca");
    let t = Instant::now();
    ca_rotation_interrupted_and_finished(&lab, &members, scratch.path());
    eprintln!("CA rotation: {:?}", t.elapsed());
}

fn leaves_rotate_with_etcd_available(lab: &TestLab, members: &[Ipv6Addr], client: &Client, dir: &Path) {
    let before: Vec<String> = members.iter().map(|a| serial(&served_cert(client, *a))).collect();
    let check_before = ok(lab, &["certs", "check", "--remote"]);
    let dry = ok(lab, &["certs", "rotate", "--dry-run"]);
    assert!(dry.contains("would run systemctl restart etcd"), "{dry}");
    assert!(!std::fs::read_dir(store(lab).join("backup")).is_ok_and(|mut d| d.next().is_some()), "a dry run made a backup");
    assert_eq!(before, members.iter().map(|a| serial(&served_cert(client, *a))).collect::<Vec<_>>(), "a dry run changed a served certificate");

    let old_server = std::fs::read_to_string(store(lab).join(format!("nodes/{}/etcd/server.crt", node_name(lab, members[0])))).unwrap();
    let fixed = client.clone();
    let clients = Loop::start(members.to_vec(), move || vec![fixed.clone()]);
    let t = Instant::now();
    let out = ok(lab, &["certs", "rotate"]);
    eprintln!("certs rotate (leaves): {:?}", t.elapsed());
    sleep(Duration::from_secs(1));
    let (done, failed, last) = clients.finish();
    assert!(done > 10, "the client loop made only {done} requests");
    assert_eq!(failed, 0, "{failed} requests failed after retries during the rotation (of {}): {last}\n{out}", done + failed);

    let after: Vec<String> = members.iter().map(|a| serial(&served_cert(client, *a))).collect();
    for (i, address) in members.iter().enumerate() {
        assert_ne!(before[i], after[i], "{address} serves the same certificate after the rotation");
    }
    healthy(client, members);
    assert_data(client, members);
    // Backups: locally the whole store, on each host every replaced file beside itself.
    let backups: Vec<PathBuf> = std::fs::read_dir(store(lab).join("backup")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let name = node_name(lab, members[0]);
    assert_eq!(std::fs::read_to_string(backups[0].join(format!("nodes/{name}/etcd/server.crt"))).unwrap(), old_server);
    let stamp = backups[0].file_name().unwrap().to_string_lossy().into_owned();
    let on_host = lab.ssh_ok(members[0], &format!("cat /etc/kubernetes/pki/etcd/server.crt.v6deploy-{stamp}"));
    assert_eq!(on_host, old_server, "the host's backup is the old certificate");
    for address in members {
        lab.ssh_ok(*address, &format!("test -f /etc/kubernetes/pki/etcd/peer.key.v6deploy-{stamp} && test -f /var/lib/kubelet/pki/kubelet.crt.v6deploy-{stamp}"));
    }
    let check_after = ok(lab, &["certs", "check", "--remote"]);
    assert_ne!(check_before, check_after);
    let new_serial = v6deploy::pki::parse_cert(&std::fs::read(store(lab).join(format!("nodes/{name}/etcd/server.crt"))).unwrap()).unwrap().serial;
    assert!(check_after.contains(&new_serial), "certs check --remote does not show {new_serial}:\n{check_after}");
    let _ = dir;
}

fn a_bad_certificate_stops_at_its_host_and_is_rolled_back(lab: &TestLab, members: &[Ipv6Addr], client: &Client) {
    ok(lab, &["certs", "rotate", "--only", "etcd", "--no-rollout"]);
    // The second member's new server certificate is self-signed: its key matches, no client
    // trusts it.
    let name = node_name(lab, members[1]);
    let cert = store(lab).join(format!("nodes/{name}/etcd/server.crt"));
    let key = store(lab).join(format!("nodes/{name}/etcd/server.key"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-days", "2", "-subj"])
        .arg(format!("/CN={name}"))
        .arg("-addext")
        .arg(format!("subjectAltName=IP:{},IP:::1,DNS:localhost", members[1]))
        .arg("-key")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made));
    let host2_before = lab.ssh_ok(members[1], "cat /etc/kubernetes/pki/etcd/server.crt /etc/kubernetes/pki/etcd/server.key");
    let host3_before = lab.ssh_ok(members[2], "cat /etc/kubernetes/pki/etcd/server.crt /etc/kubernetes/pki/etcd/peer.crt");
    let host1_before = lab.ssh_ok(members[0], "cat /etc/kubernetes/pki/etcd/server.crt");

    let out = run(lab, &["certs", "rotate", "--resume", "--only", "etcd", "--health-timeout", "15"]);
    eprintln!("the stopped rollout said:\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The host is named once, then the step and the reason.
    assert!(stderr.contains(&format!("{}: Rotate certificates (resume): rotation stopped at this host", members[1])), "{}", text(&out));
    assert!(stderr.contains("the previous files were restored and the services are healthy again"), "{}", text(&out));
    assert!(stderr.contains("certs rotate --resume --only etcd"), "{}", text(&out));
    assert_ne!(lab.ssh_ok(members[0], "cat /etc/kubernetes/pki/etcd/server.crt"), host1_before, "the first host was rotated");
    assert_eq!(lab.ssh_ok(members[1], "cat /etc/kubernetes/pki/etcd/server.crt /etc/kubernetes/pki/etcd/server.key"), host2_before, "the failed host's files were not restored");
    assert_eq!(lab.ssh_ok(members[2], "cat /etc/kubernetes/pki/etcd/server.crt /etc/kubernetes/pki/etcd/peer.crt"), host3_before, "a host after the failure was touched");
    healthy(client, members);
    assert_data(client, members);

    // Fixed in the store (reissued properly), the resumed rollout finishes.
    ok(lab, &["certs", "rotate", "--only", "etcd", "--hosts", &members[1].to_string(), "--no-rollout"]);
    ok(lab, &["certs", "rotate", "--resume", "--only", "etcd"]);
    healthy(client, members);
}

fn ca_rotation_interrupted_and_finished(lab: &TestLab, members: &[Ipv6Addr], dir: &Path) {
    let old_ca = store(lab).join("etcd/ca.crt");
    let old_ca_copy = dir.join("old-etcd-ca.crt");
    std::fs::copy(&old_ca, &old_ca_copy).unwrap();
    let old_client = client_now(lab, dir, "before-ca");
    let (lab_store, dir_owned) = (store(lab), dir.to_path_buf());
    // Trust old and new CA; present the old client certificate, else the store's current one.
    let clients = Loop::start(members.to_vec(), move || {
        let bundle = dir_owned.join("loop-bundle.crt");
        let mut pem = std::fs::read(&old_ca_copy).unwrap();
        pem.extend(std::fs::read(lab_store.join("etcd/ca.crt")).unwrap_or_default());
        std::fs::write(&bundle, pem).unwrap();
        let current = Client {
            etcdctl: old_client.etcdctl.clone(),
            cacert: bundle.clone(),
            cert: lab_store.join("etcd/healthcheck-client.crt"),
            key: lab_store.join("etcd/healthcheck-client.key"),
        };
        vec![Client { cacert: bundle, ..old_client.clone() }, current]
    });
    let t = Instant::now();
    ok(lab, &["certs", "rotate", "--ca", "--stop-after", "bundle"]);
    let record = std::fs::read_to_string(store(lab).join("ca-rotation.json")).unwrap();
    assert!(record.contains("\"bundle\""), "{record}");
    for address in members {
        let on_host = lab.ssh_ok(*address, "grep -c 'BEGIN CERTIFICATE' /etc/kubernetes/pki/etcd/ca.crt");
        assert_eq!(on_host.trim(), "2", "{address} does not trust both CAs");
    }
    // Mid-rotation, generate and install refuse instead of reissuing everything.
    let refused = run(lab, &["certs", "generate"]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("a CA rotation is in progress"), "{}", text(&refused));
    ok(lab, &["certs", "rotate", "--ca", "--stop-after", "leaves"]);
    assert!(std::fs::read_to_string(store(lab).join("ca-rotation.json")).unwrap().contains("\"leaves\""));
    let out = ok(lab, &["certs", "rotate", "--ca"]);
    eprintln!("certs rotate --ca (3 runs): {:?}", t.elapsed());
    assert!(out.contains("CA rotation finished"), "{out}");
    sleep(Duration::from_secs(1));
    let (done, failed, last) = clients.finish();
    assert!(done > 10, "the client loop made only {done} requests");
    assert_eq!(failed, 0, "{failed} requests failed after retries during the CA rotation (of {}): {last}", done + failed);

    let new_ca = store(lab).join("etcd/ca.crt");
    assert_ne!(std::fs::read(&new_ca).unwrap(), std::fs::read(dir.join("old-etcd-ca.crt")).unwrap());
    let new_client = client_now(lab, dir, "after-ca");
    for address in members {
        let served = served_cert(&new_client, *address);
        assert!(verifies(&new_ca, &served, dir), "{address} serves a certificate the new CA does not verify");
        assert!(!verifies(&dir.join("old-etcd-ca.crt"), &served, dir), "{address} serves a certificate the old CA still verifies");
        let on_host = lab.ssh_ok(*address, "grep -c 'BEGIN CERTIFICATE' /etc/kubernetes/pki/etcd/ca.crt /etc/kubernetes/pki/ca.crt");
        assert!(on_host.lines().all(|l| l.ends_with(":1")), "{address} still trusts two CAs: {on_host}");
        // Every leaf on the host verifies against the new CA only.
        for (ca_file, leaves) in [
            ("etcd/ca.crt", "/etc/kubernetes/pki/etcd/server.crt /etc/kubernetes/pki/etcd/peer.crt /etc/kubernetes/pki/etcd/healthcheck-client.crt /etc/kubernetes/pki/apiserver-etcd-client.crt"),
            ("ca.crt", "/etc/kubernetes/pki/apiserver.crt /etc/kubernetes/pki/apiserver-kubelet-client.crt /var/lib/kubelet/pki/kubelet.crt"),
        ] {
            for leaf in leaves.split(' ') {
                let pem = lab.ssh_ok(*address, &format!("cat {leaf}"));
                assert!(verifies(&store(lab).join(ca_file), &pem, dir), "{address}:{leaf} does not verify against the new {ca_file}");
                let old = store_backup_old_ca(lab, ca_file);
                assert!(!verifies(&old, &pem, dir), "{address}:{leaf} still verifies against the old {ca_file}");
            }
        }
    }
    healthy(&new_client, members);
    assert_data(&new_client, members);
    // A finished rotation leaves a consistent store: generate keeps everything.
    let generate = ok(lab, &["certs", "generate"]);
    assert!(generate.contains("reissued 0"), "{generate}");
}

/// The old CA archived by the drop phase.
fn store_backup_old_ca(lab: &TestLab, ca_file: &str) -> PathBuf {
    let backups = store(lab).join("backup");
    let dir = std::fs::read_dir(&backups).unwrap().map(|e| e.unwrap().path()).find(|p| p.to_string_lossy().ends_with("-old-ca")).expect("an archived old CA");
    dir.join(ca_file)
}
