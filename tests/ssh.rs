//! SSH and the runner against the real IPv6 lab: `check` and `push` through the `v6deploy`
//! binary, their `--output json` recaps, and faults made inside the machines with
//! `lab exec` (a new host key, sshd killed during an upload, a reboot).
//!
//! Like tests/lab.rs these are `#[ignore]`d and run only as root (`scripts/test.sh`); each
//! test has its own lab, removed by a guard.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest, Sha256};

mod support;
use support::*;

/// `v6deploy -i INVENTORY ARGS...` in the lab's project directory.
fn run_with(lab: &TestLab, inventory: &Path, args: &[&str]) -> Output {
    let inventory = inventory.display().to_string();
    let mut all = vec!["-i", inventory.as_str()];
    all.extend_from_slice(args);
    lab.v6deploy(&all)
}

/// Runs with `--output json` and returns the exit code and the document on stdout.
fn json_with(lab: &TestLab, inventory: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--output", "json"]);
    let output = run_with(lab, inventory, &all);
    let document = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("v6deploy {args:?}: no JSON ({e}): {}", text(&output)));
    (output.status.code().unwrap_or(-1), document)
}

/// `check --output json` with the lab's inventory: exit code, recap, per-host reports.
fn check(lab: &TestLab, inventory: &Path) -> (i32, Value) {
    json_with(lab, inventory, &["check", "--connect-timeout", "3"])
}

/// The recap entry of `address` (`recap` is a push recap or check's `recap`).
fn host(recap: &Value, address: Ipv6Addr) -> &Value {
    recap["hosts"].as_array().unwrap().iter().find(|h| h["host"] == address.to_string()).unwrap_or_else(|| panic!("no {address} in {recap:#}"))
}

fn status(recap: &Value, address: Ipv6Addr) -> String {
    host(recap, address)["status"].as_str().unwrap().to_string()
}

fn error(recap: &Value, address: Ipv6Addr) -> String {
    host(recap, address)["error"].as_str().unwrap_or_default().to_string()
}

fn changes(recap: &Value, address: Ipv6Addr) -> u64 {
    host(recap, address)["changes"].as_u64().unwrap()
}

/// `sh -c SCRIPT` inside a machine (by number, e.g. 102) via `lab exec`; its stdout.
fn exec(lab: &TestLab, machine: u16, script: &str) -> String {
    let output = lab.v6deploy(&["lab", "exec", &machine.to_string(), "--", "sh", "-c", script]);
    assert!(output.status.success(), "lab exec {machine} {script:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The SHA256 fingerprint of a machine's ed25519 host key, as `ssh-keygen -lf` prints it.
fn host_key_fingerprint(lab: &TestLab, machine: u16) -> String {
    let out = exec(lab, machine, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub");
    out.split_whitespace().find(|w| w.starts_with("SHA256:")).unwrap_or_else(|| panic!("no fingerprint in {out:?}")).to_string()
}

/// A copy of the lab's inventory with `known_hosts` and `host_key_check` replaced.
fn inventory_variant(lab: &TestLab, file: &str, known_hosts: &str, check: &str) -> PathBuf {
    let original = fs::read_to_string(lab.inventory()).unwrap();
    let line = format!("known_hosts: ../.lab/{}/known_hosts", lab.name);
    assert!(original.contains(&line) && original.contains("host_key_check: strict"), "{original}");
    let text = original
        .replace(&line, &format!("known_hosts: ../.lab/{}/{known_hosts}", lab.name))
        .replace("host_key_check: strict", &format!("host_key_check: {check}"));
    let path = lab.inventory().with_file_name(file);
    fs::write(&path, text).unwrap();
    path
}

/// Runs `command`, killing it if it has not ended within `timeout` (a hang is a failure).
fn bounded(mut command: Command, timeout: Duration) -> Output {
    let child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    match receiver.recv_timeout(timeout) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("{command:?} still ran after {timeout:?}: it hangs");
        }
    }
}

/// Deterministic incompressible bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `files` (relative path, contents) under `dir`.
fn write_tree(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (path, contents) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
}

/// Every file under `remote` on a machine, read back over ssh: relative path -> (mode and
/// owner, contents).
fn remote_tree(lab: &TestLab, address: Ipv6Addr, remote: &str) -> BTreeMap<String, (String, Vec<u8>)> {
    let script = format!(
        "cd {remote} && find . -type f | sort | while IFS= read -r f; do printf '%s\\t%s\\t' \"${{f#./}}\" \"$(stat -c '%a %U:%G' -- \"$f\")\"; base64 -w0 < \"$f\"; echo; done"
    );
    lab.ssh_ok(address, &script)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            assert_eq!(fields.len(), 3, "{line:?}");
            (fields[0].to_string(), (fields[1].to_string(), STANDARD.decode(fields[2]).unwrap()))
        })
        .collect()
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn check_reports_three_hosts_ok_over_ipv6() {
    let lab = TestLab::up("sschk", 3);
    let machines = lab.machines();
    let (code, report) = check(&lab, &lab.inventory());
    assert_eq!(code, 0, "{report:#}");
    let recap = &report["recap"];
    for machine in &machines {
        assert_eq!(status(recap, machine.address), "ok", "{recap:#}");
        // The first control plane is also asked about the addons' pods.
        let steps = if machine.address == machines[0].address { 2 } else { 1 };
        assert_eq!(host(recap, machine.address)["steps_done"], steps, "{recap:#}");
        let facts = report["hosts"].as_array().unwrap().iter().find(|h| h["host"] == machine.address.to_string()).unwrap();
        let verdicts = facts["verdicts"].as_array().unwrap();
        assert!(verdicts.len() >= 10 && verdicts.iter().all(|v| v["status"] != "fail"), "{verdicts:#?}");
        // The facts were read over SSH to the machine's IPv6 address, and eth0 has nothing else
        // (no IPv4 at all: the connection cannot have used one).
        let eth0 = facts["facts"]["interfaces"].as_array().unwrap().iter().find(|i| i["name"] == "eth0").unwrap();
        let addresses: Vec<Ipv6Addr> = eth0["addresses"].as_array().unwrap().iter().map(|a| a[0].as_str().unwrap().parse().unwrap()).collect();
        assert!(addresses.contains(&machine.address), "{eth0:#}");
    }
    // No API server runs in this lab (Kubernetes staged): the addons are not judged.
    assert_eq!(report["addons"]["status"], "not-judged", "{report:#}");
    let text_output = run_with(&lab, &lab.inventory(), &["check"]);
    assert!(text_output.status.success(), "{}", text(&text_output));
    assert!(String::from_utf8_lossy(&text_output.stdout).contains("3 of 3 hosts pass every check"), "{}", text(&text_output));

    // `lab down` leaves nothing: namespaces, mounts, bridge, routes, processes, runtime dir.
    let subnet = v6deploy::lab::labs(Some(&lab.name)).unwrap()[0].record.subnet();
    let pids: Vec<u32> = machines.iter().flat_map(|m| [m.supervisor, m.nspawn]).flatten().map(|p| p.pid).collect();
    let down = lab.v6deploy(&["lab", "down", "-q"]);
    assert!(down.status.success(), "{}", text(&down));
    let stdout = |program: &str, args: &[&str]| String::from_utf8_lossy(&Command::new(program).args(args).output().unwrap().stdout).into_owned();
    assert!(!stdout("ip", &["netns", "list"]).contains("v6lab-sschk-"));
    let mounts = stdout("findmnt", &["-rn", "-o", "TARGET"]);
    assert!(!mounts.contains("/sschk/") && !mounts.contains("v6lab-sschk-"), "{mounts}");
    assert!(!Path::new("/sys/class/net").join(lab.name.bridge()).exists());
    assert!(!stdout("ip", &["-6", "route", "show"]).contains(&subnet.net().to_string()));
    for pid in pids {
        assert!(!Path::new(&format!("/proc/{pid}")).exists() || fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z "), "process {pid} is left");
    }
    assert!(!Path::new(v6deploy::lab::RUNTIME_ROOT).join("sschk").exists());
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn changed_host_key_is_refused_with_fingerprint_and_others_proceed() {
    let lab = TestLab::up("sskey", 3);
    let [first, second, third] = [lab.address(1), lab.address(2), lab.address(3)];
    let known_hosts = fs::read_to_string(lab.files().join("known_hosts")).unwrap();
    let old = host_key_fingerprint(&lab, 102);
    exec(&lab, 102, "rm /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh");
    let new = host_key_fingerprint(&lab, 102);
    assert_ne!(old, new);

    let (code, report) = check(&lab, &lab.inventory());
    assert_eq!(code, 2, "{report:#}");
    let recap = &report["recap"];
    assert_eq!(status(recap, second), "unreachable", "{recap:#}");
    let message = error(recap, second);
    assert!(message.contains("HOST KEY CHANGED") && message.contains(&new) && !message.contains(&old), "{message}");
    assert!(message.contains("line 2") && message.contains(&format!("ssh-keygen -R {second}")), "{message}");
    for address in [first, third] {
        assert_eq!(status(recap, address), "ok", "{recap:#}");
    }
    let reported: Vec<&str> = report["hosts"].as_array().unwrap().iter().map(|h| h["host"].as_str().unwrap()).collect();
    assert_eq!(reported, [first.to_string(), third.to_string()]);
    // The text report says it per host.
    let text_output = run_with(&lab, &lab.inventory(), &["check"]);
    let stdout = String::from_utf8_lossy(&text_output.stdout);
    assert!(stdout.contains(&format!("{second} UNREACHABLE: ")) && stdout.contains("2 of 3 hosts pass every check"), "{}", text(&text_output));

    // accept-new learns unknown keys only: a changed one is refused all the same, not learned.
    let accept_new = inventory_variant(&lab, "accept-new.yaml", "known_hosts", "accept-new");
    let (code, report) = check(&lab, &accept_new);
    assert_eq!(code, 2);
    assert!(error(&report["recap"], second).contains("HOST KEY CHANGED"), "{report:#}");
    assert_eq!(fs::read_to_string(lab.files().join("known_hosts")).unwrap(), known_hosts);
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn accept_new_learns_an_unknown_host_once() {
    let lab = TestLab::up("ssacc", 3);
    let learned = lab.files().join("learned_hosts");
    fs::write(&learned, "").unwrap();
    let accept_new = inventory_variant(&lab, "accept-new.yaml", "learned_hosts", "accept-new");
    let (code, report) = check(&lab, &accept_new);
    assert_eq!(code, 0, "{report:#}");
    // Three lines, the same keys `lab up` recorded, as OpenSSH writes them.
    let text_learned = fs::read_to_string(&learned).unwrap();
    let mut lines: Vec<&str> = text_learned.lines().collect();
    assert_eq!(lines.len(), 3, "{text_learned:?}");
    assert!(text_learned.ends_with('\n') && !text_learned.starts_with('\n'), "{text_learned:?}");
    lines.sort();
    let recorded = fs::read_to_string(lab.files().join("known_hosts")).unwrap();
    let mut expected: Vec<&str> = recorded.lines().collect();
    expected.sort();
    assert_eq!(lines, expected);
    // OpenSSH's own client accepts the learned file.
    let keygen = Command::new("ssh-keygen").args(["-F", &lab.address(2).to_string(), "-f"]).arg(&learned).output().unwrap();
    assert!(keygen.status.success(), "{}", text(&keygen));

    // Once: a second run adds nothing.
    let (code, report) = check(&lab, &accept_new);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(fs::read_to_string(&learned).unwrap(), text_learned);

    // Strict with an empty known_hosts refuses every host, naming the key and the file.
    let empty = lab.files().join("empty_known_hosts");
    fs::write(&empty, "").unwrap();
    let strict = inventory_variant(&lab, "strict-empty.yaml", "empty_known_hosts", "strict");
    let (code, report) = check(&lab, &strict);
    assert_eq!(code, 2, "{report:#}");
    for ordinal in 1..=3 {
        let address = lab.address(ordinal);
        assert_eq!(status(&report["recap"], address), "unreachable");
        let message = error(&report["recap"], address);
        assert!(message.contains(&host_key_fingerprint(&lab, 100 + ordinal)) && message.contains("is not in") && message.contains("empty_known_hosts"), "{message}");
        assert!(message.contains("accept-new"), "{message}");
    }
    assert_eq!(fs::read_to_string(&empty).unwrap(), "");
}

/// Inside machine 102: waits until the push's write script runs `head -c SIZE` (reading the
/// upload from stdin), freezes it so the upload is held open, then stops sshd and kills every
/// sshd process, i.e. the connection v6deploy is using. Ends (status 3) when
/// `/run/ssh-test-stop` appears instead. Only a `head` of 10 bytes or more: the run lock's
/// holder reads its heartbeats with `head -c 1` all along, and freezing that one cut the
/// connection before the upload began (the push then failed to reconnect, "connection
/// refused", instead of losing its connection mid-upload).
const KILL_SSHD_DURING_UPLOAD: &str = "echo ready; \
    until pkill -STOP -f '^head -c [0-9]{2,}$'; do [ -e /run/ssh-test-stop ] && exit 3; sleep 0.01; done; \
    systemctl stop ssh; pkill -KILL -x sshd; pkill -KILL -f '^head -c [0-9]{2,}$'; echo killed";

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn sshd_stopped_mid_run_is_unreachable_and_others_finish() {
    let lab = TestLab::up("ssstop", 3);
    let [first, second, third] = [lab.address(1), lab.address(2), lab.address(3)];
    let local = lab.project.path().join("upload");
    let mut files: BTreeMap<String, Vec<u8>> = (0..4).map(|i| (format!("small-{i}.conf"), format!("setting = {i}\n").into_bytes())).collect();
    // Bigger than the SSH window and the pipe buffers, so the upload is still running when
    // its reader is frozen.
    files.insert("big.bin".into(), noise(32 << 20, 7));
    write_tree(&local, &files);
    let push = |remote: &str| {
        let mut command = Command::new(BIN);
        command.current_dir(lab.project.path()).arg("-i").arg(lab.inventory()).args(["push", "--output", "json"]).arg(&local).arg(remote);
        bounded(command, Duration::from_secs(120))
    };

    // The freeze can only miss if the whole upload to 102 ends between two polls 10 ms apart;
    // then the attempt is repeated with a fresh directory.
    let mut attempt = 0;
    let (output, recap, remote) = loop {
        attempt += 1;
        let remote = format!("/srv/upload-{attempt}");
        let mut killer = Command::new(BIN)
            .current_dir(lab.project.path())
            .args(["lab", "exec", &format!("--name={}", lab.name), "102", "--", "sh", "-c", KILL_SSHD_DURING_UPLOAD])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(killer.stdout.take().unwrap()).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        let output = push(&remote);
        let recap: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {}", text(&output)));
        if status(&recap, second) == "changed" && attempt < 3 {
            exec(&lab, 102, "touch /run/ssh-test-stop");
            killer.wait().unwrap();
            exec(&lab, 102, "rm /run/ssh-test-stop");
            continue;
        }
        assert_eq!(lines.next().map(Result::unwrap).as_deref(), Some("killed"), "{}", text(&output));
        killer.wait().unwrap();
        eprintln!("sshd on 102 killed during the upload at attempt {attempt}");
        break (output, recap, remote);
    };

    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert_eq!(status(&recap, second), "unreachable", "{recap:#}");
    assert!(error(&recap, second).contains("connection lost"), "{recap:#}");
    for address in [first, third] {
        assert_eq!(status(&recap, address), "changed", "{recap:#}");
        assert_eq!(changes(&recap, address), 5);
        let sums = lab.ssh_ok(address, &format!("cd {remote} && sha256sum big.bin small-3.conf"));
        assert!(sums.contains(&sha256_hex(&files["big.bin"])) && sums.contains(&sha256_hex(&files["small-3.conf"])), "{sums}");
    }
    // 102 got nothing, not even a partial file: the write script removed its temp files.
    let mut left = String::new();
    wait_for("the interrupted write script on 102 to clean up", Duration::from_secs(10), || {
        left = exec(&lab, 102, &format!("ls -A {remote} 2>/dev/null; true"));
        left.trim().is_empty()
    });

    // With sshd back, the next run finishes the job on 102 only.
    exec(&lab, 102, "systemctl start ssh");
    let again = push(&remote);
    let recap: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert_eq!((status(&recap, second).as_str(), changes(&recap, second)), ("changed", 5));
    assert_eq!([status(&recap, first), status(&recap, third)], ["ok", "ok"]);
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn rebooted_machine_is_reachable_again() {
    let lab = TestLab::up("ssboot", 3);
    let (code, report) = check(&lab, &lab.inventory());
    assert_eq!(code, 0, "{report:#}");
    let before = lab.nspawn_pids()["ssboot-102"];
    let known_hosts = fs::read_to_string(lab.files().join("known_hosts")).unwrap();
    let reboot = lab.v6deploy(&["lab", "exec", "102", "--", "systemctl", "reboot"]);
    assert!(reboot.status.success(), "{}", text(&reboot));
    wait_for("machine 102 to go down and boot again", Duration::from_secs(60), || lab.nspawn_pids()["ssboot-102"] != before);
    let started = Instant::now();
    let mut last = Value::Null;
    wait_for("check to pass on all three machines again", Duration::from_secs(60), || {
        let (code, report) = check(&lab, &lab.inventory());
        last = report;
        code == 0
    });
    eprintln!("check passed again {:?} after the new boot began", started.elapsed());
    for ordinal in 1..=3 {
        assert_eq!(status(&last["recap"], lab.address(ordinal)), "ok", "{last:#}");
    }
    // It really rebooted, and came back with its host key (strict known_hosts, unchanged).
    let uptime: u64 = lab.ssh_ok(lab.address(2), "ps -o etimes= -p 1").trim().parse().unwrap();
    assert!(uptime < 90, "init of 102 is {uptime} s old");
    assert_eq!(fs::read_to_string(lab.files().join("known_hosts")).unwrap(), known_hosts);
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn pushing_the_same_files_twice_changes_nothing() {
    let lab = TestLab::up("sspush", 3);
    let addresses: Vec<Ipv6Addr> = (1..=3).map(|o| lab.address(o)).collect();
    let mut files: BTreeMap<String, Vec<u8>> = (0..15).map(|i| (format!("etc/app-{i:02}.conf"), format!("name = app-{i}\nlisten = [::]:{}\n", 8000 + i).into_bytes())).collect();
    files.insert("nested/deeper/data.bin".into(), (0..=255u8).cycle().take(4096).collect());
    files.insert("with space.txt".into(), b"spaces in names are quoted\n".to_vec());
    files.insert("it's.txt".into(), b"so are quotes\n".to_vec());
    files.insert("empty".into(), Vec::new());
    files.insert("pki/[2001:db8::1]:2379.crt".into(), noise(3000, 3));
    assert_eq!(files.len(), 20);
    let local = lab.project.path().join("files");
    write_tree(&local, &files);
    let local_arg = local.display().to_string();
    let remote = "/srv/ssh-test";
    let push = |lab: &TestLab| json_with(lab, &lab.inventory(), &["push", "--mode", "640", &local_arg, remote]);

    let (code, recap) = push(&lab);
    assert_eq!(code, 0, "{recap:#}");
    for &address in &addresses {
        assert_eq!((status(&recap, address).as_str(), changes(&recap, address)), ("changed", 20), "{recap:#}");
        // Read back over ssh: every file, nothing else (no temp file), right bytes and mode.
        let found = remote_tree(&lab, address, remote);
        let expected: BTreeMap<String, (String, Vec<u8>)> = files.iter().map(|(p, c)| (p.clone(), ("640 root:root".to_string(), c.clone()))).collect();
        assert_eq!(found, expected, "{address}");
    }
    let changes_listed = recap["changes"].as_array().unwrap();
    assert_eq!(changes_listed.len(), 60);
    assert!(changes_listed.iter().all(|c| c["reason"] == "new file" && c["applied"] == true));

    let (code, recap) = push(&lab);
    assert_eq!(code, 0, "{recap:#}");
    for &address in &addresses {
        assert_eq!((status(&recap, address).as_str(), changes(&recap, address)), ("ok", 0), "{recap:#}");
    }
    assert_eq!(recap["changes"], serde_json::json!([]));

    // A mode changed by hand on one host is put back, and only there.
    lab.ssh_ok(addresses[0], &format!("chmod 600 '{remote}/with space.txt'"));
    let (code, recap) = push(&lab);
    assert_eq!(code, 0, "{recap:#}");
    assert_eq!(changes(&recap, addresses[0]), 1);
    assert_eq!(recap["changes"][0]["reason"], "mode/owner differ (was 600 root:root)");
    assert_eq!([status(&recap, addresses[1]), status(&recap, addresses[2])], ["ok", "ok"]);
}

/// Regression: a write script that failed before reading its stdin (here: `mkdir` under a
/// regular file) left v6deploy waiting forever for SSH window space to send the upload.
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_command_that_exits_without_reading_its_stdin_does_not_hang() {
    let lab = TestLab::up("ssnoin", 1);
    let local = lab.project.path().join("upload");
    write_tree(&local, &BTreeMap::from([("big.bin".to_string(), noise(16 << 20, 11))]));
    let mut command = Command::new(BIN);
    command.current_dir(lab.project.path()).arg("-i").arg(lab.inventory()).args(["push", "--output", "json"]).arg(&local).arg("/etc/hostname/sub");
    let output = bounded(command, Duration::from_secs(60));
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let recap: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(status(&recap, lab.address(1)), "failed");
    assert!(error(&recap, lab.address(1)).contains("Not a directory"), "{recap:#}");
}

/// An address in its longest textual form (`2001:db8:0:7:0:0:0:101`), as an inventory may
/// write it.
fn expanded(address: Ipv6Addr) -> String {
    address.segments().iter().map(|s| format!("{s:x}")).collect::<Vec<_>>().join(":")
}

/// [`TestLab::etcdctl`] against `endpoint`; it must succeed.
fn etcdctl(lab: &TestLab, endpoint: Ipv6Addr, args: &[&str]) -> String {
    let output = lab.etcdctl(&[endpoint], args);
    assert!(output.status.success(), "etcdctl {args:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Whether a TCP connection from this machine to `[address]:port` opens within 3 s.
fn reachable(address: Ipv6Addr, port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&std::net::SocketAddr::from((address, port)), Duration::from_secs(3)).is_ok()
}

/// Hosts 2 and 3 answer nothing to this machine, only to host 1: `check` and `install` reach
/// them through `ssh.bastion` (host 1), host 2 with its own `ssh_user` and host 3 with its
/// own `ssh_port`; one bastion connection carries more channels than OpenSSH's MaxSessions;
/// a bastion that refuses, or shows a changed host key, is named in every host's error.
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn hosts_reached_only_through_a_bastion_are_checked_and_installed() {
    let lab = TestLab::up("tbh1", 3);
    let [first, second, third] = [lab.address(1), lab.address(2), lab.address(3)];
    let record = v6deploy::lab::labs(Some(&lab.name)).unwrap().remove(0).record;
    let bridge = record.subnet().gateway();

    // Straight to every host first: no bastion in the route.
    let (code, report) = check(&lab, &lab.inventory());
    assert_eq!(code, 0, "{report:#}");
    for address in [first, second, third] {
        assert_eq!(host(&report["recap"], address)["route"], format!("root@[{address}]:22"));
    }

    // Host 3's sshd listens on port 2222 only; host 2 has a login `ops` (uid 0, so that it
    // may do what an install does without sudo, which the lab machines lack) with root's keys.
    exec(&lab, 103, "printf 'Port 2222\\n' > /etc/ssh/sshd_config.d/port.conf && systemctl restart ssh");
    exec(&lab, 102, "useradd -o -u 0 -g 0 -M -d /root -s /bin/sh ops");
    // Hosts 2 and 3 drop every packet to this machine (the bridge address it talks from);
    // host 1, on their link, still reaches them.
    for machine in [102, 103] {
        let netns = format!("v6lab-{}-{machine}", lab.name);
        let route = Command::new("ip").args(["-n", &netns, "-6", "route", "add", "unreachable", &format!("{bridge}/128")]).output().unwrap();
        assert!(route.status.success(), "{}", text(&route));
    }
    assert!(lab.ssh(first, "true").status.success());
    let direct = lab.ssh(second, "true");
    assert!(!direct.status.success(), "ssh straight to host 2 still works: {}", text(&direct));
    assert!(!reachable(third, 2222) && reachable(first, 22));
    assert!(exec(&lab, 101, &format!("ping -c1 -W2 {second} >/dev/null && ping -c1 -W2 {third} >/dev/null && echo reached")).contains("reached"));

    // The bastion in the inventory (its address in another textual form), the per-host
    // overrides, and host 3's key recorded for its port as OpenSSH records it.
    let original = fs::read_to_string(lab.inventory()).unwrap();
    let entry = |address: Ipv6Addr| format!("- address: \"{address}\"\n");
    let bastion_text = original
        .replace("  host_key_check: strict\n", &format!("  host_key_check: strict\n  bastion:\n    address: \"{}\"\n", expanded(first)))
        .replace(&entry(second), &format!("{}    ssh_user: ops\n", entry(second)));
    let without_port = lab.inventory().with_file_name("bastion-no-port.yaml");
    fs::write(&without_port, &bastion_text).unwrap();
    let inventory = lab.inventory().with_file_name("bastion.yaml");
    fs::write(&inventory, bastion_text.replace(&entry(third), &format!("{}    ssh_port: 2222\n", entry(third)))).unwrap();
    let known_hosts = lab.files().join("known_hosts");
    let recorded = fs::read_to_string(&known_hosts).unwrap();
    let third_line = recorded.lines().find(|l| l.starts_with(&format!("{third} "))).unwrap().to_string();
    fs::write(&known_hosts, format!("{recorded}{}\n", third_line.replacen(&third.to_string(), &format!("[{third}]:2222"), 1))).unwrap();

    // Where each host's journal stands before the first run through the bastion.
    let cursors: BTreeMap<u16, String> =
        [102, 103].into_iter().map(|m| (m, exec(&lab, m, "journalctl -n 1 --show-cursor -o cat | sed -n 's/^-- cursor: //p'").trim().to_string())).collect();
    assert!(cursors.values().all(|c| !c.is_empty()), "{cursors:?}");

    // Without host 3's port, the bastion cannot open a connection to its port 22, and says so;
    // the others pass.
    let (code, report) = check(&lab, &without_port);
    assert_eq!(code, 2, "{report:#}");
    assert_eq!([status(&report["recap"], first), status(&report["recap"], second)], ["ok", "ok"], "{report:#}");
    let message = error(&report["recap"], third);
    assert!(message.contains(&format!("the bastion {first} cannot open a connection to [{third}]:22: the connection failed")), "{message}");

    // check passes on all three, through the bastion.
    let started = Instant::now();
    let (code, report) = check(&lab, &inventory);
    eprintln!("check through the bastion: {:?}", started.elapsed());
    assert_eq!(code, 0, "{report:#}");
    let via = format!(" via bastion root@[{first}]:22");
    for (address, route) in [(first, format!("root@[{first}]:22")), (second, format!("ops@[{second}]:22")), (third, format!("root@[{third}]:2222"))] {
        assert_eq!(status(&report["recap"], address), "ok", "{report:#}");
        assert_eq!(host(&report["recap"], address)["route"], format!("{route}{via}"));
    }
    let text_check = run_with(&lab, &inventory, &["check", "--connect-timeout", "3"]);
    let stdout = String::from_utf8_lossy(&text_check.stdout);
    assert!(stdout.contains(&format!("{second} (")) && stdout.contains(&format!("over ops@[{second}]:22{via}")) && stdout.contains("3 of 3 hosts pass every check"), "{}", text(&text_check));
    // The hosts' sshd saw the logins come from host 1, as the users the inventory names.
    let logins = |machine: u16| {
        let since = &cursors[&machine];
        exec(&lab, machine, &format!("journalctl -u ssh --after-cursor '{since}' --no-pager -o cat | grep 'Accepted publickey' || true"))
    };
    assert!(logins(102).contains(&format!("Accepted publickey for ops from {first} ")), "{}", logins(102));
    assert!(logins(103).contains(&format!("Accepted publickey for root from {first} ")), "{}", logins(103));
    assert!(!logins(102).contains(&format!("from {bridge} ")) && !logins(103).contains(&format!("from {bridge} ")));

    // install: the dry run shows the route, the real run installs the three hosts.
    let dry = run_with(&lab, &inventory, &["install", "--dry-run"]);
    let dry_out = String::from_utf8_lossy(&dry.stdout);
    assert!(dry.status.success(), "{}", text(&dry));
    for address in [first, second, third] {
        let row = dry_out.lines().find(|l| l.starts_with(&address.to_string()) && l.contains("steps=")).unwrap_or_else(|| panic!("no recap row for {address}: {dry_out}"));
        assert!(row.ends_with(&format!("via bastion [{first}]:22")), "{row}");
    }
    let started = Instant::now();
    let (code, report) = json_with(&lab, &inventory, &["install"]);
    eprintln!("install through the bastion: {:?}", started.elapsed());
    assert_eq!(code, 0, "{report:#}");
    for address in [first, second, third] {
        assert_eq!(status(&report["recap"], address), "changed", "{report:#}");
        assert_eq!(report["components"][address.to_string()]["etcd"], "started", "{report:#}");
    }
    // A 3-member etcd cluster (asked from here through host 1, the one that answers).
    let members = etcdctl(&lab, first, &["member", "list"]);
    for address in [first, second, third] {
        assert!(members.lines().any(|l| l.contains("started") && l.contains(&format!("https://[{address}]:2380"))), "{address}: {members}");
    }
    let (code, report) = json_with(&lab, &inventory, &["install"]);
    assert_eq!((code, report["recap"]["changes"].as_array().map(Vec::len)), (0, Some(0)), "{report:#}");

    // One bastion connection carries more host connections at once than MaxSessions (10)
    // allows sessions: a direct-tcpip channel is not a session.
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let outputs = runtime.block_on(async {
        use v6deploy::transport::{Credentials, Endpoint, Jump, SshSession, Transport};
        let credentials = Credentials::load(&lab.files().join("id_ed25519")).unwrap();
        let endpoint = |address: Ipv6Addr, jump: Option<std::sync::Arc<Jump>>| Endpoint {
            address,
            port: 22,
            user: "root".into(),
            credentials: credentials.clone(),
            known_hosts: known_hosts.clone(),
            host_key_check: v6deploy::inventory::HostKeyCheck::Strict,
            become_method: v6deploy::inventory::Become::None,
            connect_timeout: Duration::from_secs(10),
            jump,
        };
        let jump = std::sync::Arc::new(Jump::new(endpoint(first, None)));
        jump.connect().await.unwrap();
        // One after the other: twelve handshakes at once would meet host 2's own MaxStartups
        // (10 unauthenticated connections), which has nothing to do with the bastion.
        let mut sessions = Vec::new();
        for _ in 0..12 {
            sessions.push(SshSession::connect(endpoint(second, Some(jump.clone()))).await.unwrap());
        }
        let running = sessions.iter().map(|s| s.exec("sleep 1; echo $SSH_CONNECTION", b""));
        futures::future::try_join_all(running).await.unwrap()
    });
    assert_eq!(outputs.len(), 12);
    assert!(outputs.iter().all(|o| o.success() && o.stdout_text().starts_with(&format!("{first} "))), "{outputs:?}");

    // A bastion that refuses the connection is named in every host's error (the recap's
    // errors leave out the host they belong to).
    let refusing = lab.inventory().with_file_name("bastion-refusing.yaml");
    fs::write(&refusing, fs::read_to_string(&inventory).unwrap().replace(&format!("    address: \"{}\"\n", expanded(first)), &format!("    address: \"{}\"\n    port: 2299\n", expanded(first)))).unwrap();
    let (code, report) = check(&lab, &refusing);
    assert_eq!(code, 2, "{report:#}");
    for address in [first, second, third] {
        assert_eq!(status(&report["recap"], address), "unreachable");
        let message = error(&report["recap"], address);
        assert!(message.starts_with(&format!("through bastion {first}: cannot connect to [{first}]:2299")), "{address}: {message}");
    }

    // A bastion with a changed host key is refused, with the key's fingerprint, for every host.
    exec(&lab, 101, "rm /etc/ssh/ssh_host_ed25519_key* && ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && systemctl restart ssh");
    let new = host_key_fingerprint(&lab, 101);
    let (code, report) = check(&lab, &inventory);
    assert_eq!(code, 2, "{report:#}");
    for address in [first, second, third] {
        assert_eq!(status(&report["recap"], address), "unreachable");
        let message = error(&report["recap"], address);
        assert!(message.starts_with(&format!("through bastion {first}: HOST KEY CHANGED: the host now presents {new}")), "{address}: {message}");
    }
}
