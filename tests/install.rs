//! `install` against the real IPv6 lab: a 3-member etcd cluster with TLS over IPv6, every
//! rendered file on its host with its content and mode, units that pass `systemd-analyze
//! verify`, a second run that changes and restarts nothing, an exact dry-run, a machine
//! killed mid-install, and a bundle refused before any host is touched.
//!
//! Like `tests/lab.rs` these boot machines, so they are `#[ignore]`d and run only as root
//! (`scripts/test.sh`, which passes `--include-ignored`). Each test has its own lab (names start
//! with `in`) in its own project directory, so cluster names, PKI directories (`certs/<lab>`)
//! and inventories never collide, and a guard removes the lab even when the test fails.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::Ipv6Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};
use v6deploy::inventory::{HostSpec, NetworkManagement, Role};
use v6deploy::lab;

mod support;
use support::{TestLab, text, wait_for};

/// The Kubernetes components the lab's bundle lacks, so install stages them.
const STAGED: [&str; 5] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"];

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What these tests add to the shared lab helper.
impl TestLab {
    /// `install --output json`, parsed; the exit code with it.
    fn install_json(&self, extra: &[&str]) -> (i32, Value, Output) {
        let mut args = vec!["install", "--output", "json"];
        args.extend_from_slice(extra);
        let output = support::run(self, &args);
        let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("install --output json: {e}: {}", text(&output)));
        (output.status.code().unwrap_or(-1), json, output)
    }

    fn hosts(&self) -> Vec<HostSpec> {
        v6deploy::inventory::load(&self.inventory()).unwrap().inventory.hosts
    }

    fn etcdctl_ok(&self, endpoints: &[Ipv6Addr], args: &[&str]) -> String {
        let output = self.etcdctl(endpoints, args);
        assert!(output.status.success(), "etcdctl {args:?} at {endpoints:?}: {}", text(&output));
        stdout(&output)
    }

    /// etcd's MainPID on a host (0 when not running).
    fn etcd_pid(&self, address: Ipv6Addr) -> u32 {
        self.ssh_ok(address, "systemctl show -p MainPID --value etcd").trim().parse().unwrap()
    }

    /// What install must not change on a machine: every path under the directories it
    /// writes to (with mode, size and modification time), and every unit's state (login
    /// sessions aside), once the machine has finished booting. The session sleeps briefly so
    /// that its own login is in sshd's journal before it counts logins (the last line).
    fn snapshot(&self, address: Ipv6Addr) -> String {
        self.ssh_ok(
            address,
            "systemctl is-system-running --wait >/dev/null 2>&1; sleep 0.5; \
             find /etc /usr/local /var/lib /root /opt -xdev -printf '%p %m %s %T@\\n' 2>/dev/null | sort; \
             systemctl list-units --all --no-legend --plain | grep -Ev '^(session-|user)' | sort; \
             echo logins $(journalctl -u ssh --no-pager -o cat | grep -c 'Accepted publickey')",
        )
    }

    /// Cuts machine `host`'s power: every process of the machine, its supervisor and
    /// systemd-nspawn included, is SIGKILLed at once through its cgroup. Nothing shuts down
    /// cleanly and the SSH connections to it drop; `lab up` boots it again.
    fn power_cut(&self, host: u16) {
        let relative = Path::new("v6lab").join(self.name.as_str()).join(host.to_string());
        let hierarchies = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/systemd"].map(|h| Path::new(h).join(&relative));
        if let Some(kill) = hierarchies.iter().map(|h| h.join("cgroup.kill")).find(|k| k.exists()) {
            fs::write(&kill, "1").unwrap();
        }
        // Without cgroup.kill (kernel < 5.14), or for stragglers: SIGKILL until none is left.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pids: Vec<String> = hierarchies.iter().flat_map(|h| processes(h)).collect();
            if pids.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "machine {host} still has processes {pids:?}");
            let _ = Command::new("kill").arg("-KILL").args(&pids).stderr(Stdio::null()).status();
            sleep(Duration::from_millis(50));
        }
    }
}

/// Every process in cgroup `dir` and below.
fn processes(dir: &Path) -> Vec<String> {
    let mut found: Vec<String> = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default().lines().map(str::to_string).collect();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.extend(processes(&entry.path()));
        }
    }
    found
}

fn etcd_hosts(hosts: &[HostSpec]) -> Vec<Ipv6Addr> {
    hosts.iter().filter(|h| h.has(Role::Etcd)).map(|h| h.address).collect()
}

/// A component's outcome on a host in install's COMPONENTS table (`ADDRESS COMPONENT OUTCOME`).
/// Only for the run that a machine's power cut interrupts: that run prints its progress on
/// stderr, which `--output json` silences, so its result is read from the text output.
fn component_outcome(out: &str, address: Ipv6Addr, component: &str) -> Option<String> {
    let table = out.split_once("\nCOMPONENTS").map_or("", |(_, t)| t);
    table.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()).find(|w| w.len() > 2 && w[0] == address.to_string() && w[1] == component).map(|w| w[2..].join(" "))
}

/// The recap entry of `address` in install's JSON.
fn recap_of(json: &Value, address: Ipv6Addr) -> &Value {
    let hosts = json["recap"]["hosts"].as_array().unwrap();
    hosts.iter().find(|h| h["host"] == address.to_string()).unwrap_or_else(|| panic!("no recap for {address}: {json:#}"))
}

/// `etcdctl member list`: every member's peer URL is its bracketed IPv6 address, and its
/// name is the host's node name.
fn assert_members(lab: &TestLab, hosts: &[HostSpec]) {
    let members: Value = serde_json::from_str(&lab.etcdctl_ok(&etcd_hosts(hosts), &["member", "list", "-w", "json"])).unwrap();
    let mut found: Vec<(String, Vec<Value>, Vec<Value>)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap_or_default().to_string(), m["peerURLs"].as_array().unwrap().clone(), m["clientURLs"].as_array().unwrap().clone()))
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: Vec<(String, Vec<Value>, Vec<Value>)> = hosts
        .iter()
        .filter(|h| h.has(Role::Etcd))
        .map(|h| (h.name.to_string(), vec![Value::from(format!("https://[{}]:2380", h.address))], vec![Value::from(format!("https://[{}]:2379", h.address))]))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found, expected, "member list: {members:#}");
}

/// `endpoint health` of every member, one line each.
fn assert_healthy(lab: &TestLab, endpoints: &[Ipv6Addr]) {
    let output = lab.etcdctl(endpoints, &["endpoint", "health"]);
    let all = format!("{}{}", stdout(&output), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "endpoint health: {}", text(&output));
    for address in endpoints {
        assert!(all.contains(&format!("https://[{address}]:2379 is healthy")), "{address} not healthy: {all}");
    }
}

/// Every file `render` writes for a host is on that host with the same SHA-256, mode and
/// owner (one ssh per host); the cluster manifests are in /etc/kubernetes/addons on the
/// first control plane. The ifcfg file is rendered for review only unless the inventory
/// says `network: {manage: true}` (the lab's does not), so it must not be on the host then.
fn assert_rendered_files_on_hosts(lab: &TestLab, hosts: &[HostSpec]) {
    let inventory = v6deploy::inventory::load(&lab.inventory()).unwrap().inventory;
    let review_only = |path: &str| inventory.network.manage == NetworkManagement::Leave && path.starts_with("/etc/sysconfig/network-scripts/");
    let out = lab.project.path().join("rendered");
    let render = support::run(lab, &["render", "-o", out.to_str().unwrap()]);
    assert!(render.status.success(), "{}", text(&render));
    let first_control_plane = hosts.iter().find(|h| h.has(Role::ControlPlane)).unwrap().address;
    for host in hosts {
        let mut expected: BTreeMap<String, (String, u32)> = BTreeMap::new();
        let root = out.join(host.name.as_str());
        for (relative, path) in walk(&root) {
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
            expected.insert(format!("/{}", relative.display()), (sha256_hex(&fs::read(&path).unwrap()), mode));
        }
        let (review, expected): (BTreeMap<_, _>, BTreeMap<_, _>) = expected.into_iter().partition(|(p, _)| review_only(p));
        assert_eq!(review.len(), 1, "{}: one ifcfg file rendered for review: {review:?}", host.address);
        let mut expected = expected;
        if host.address == first_control_plane {
            for (relative, path) in walk(&out.join("cluster")) {
                expected.insert(format!("/etc/kubernetes/addons/{}", relative.display()), (sha256_hex(&fs::read(&path).unwrap()), 0o644));
            }
        }
        assert!(expected.len() > 30, "{}: only {} rendered files", host.address, expected.len());
        let paths: Vec<String> = expected.keys().map(|p| format!("'{p}'")).collect();
        let script = format!(
            "for p in {}; do if [ -f \"$p\" ]; then echo \"$p $(stat -c '%a %U:%G' \"$p\") $(sha256sum < \"$p\" | cut -d' ' -f1)\"; else echo \"$p missing\"; fi; done",
            paths.join(" ")
        );
        let review: Vec<String> = review.keys().map(|p| format!("'{p}'")).collect();
        let listing = lab.ssh_ok(host.address, &format!("{script}; for p in {}; do [ ! -e \"$p\" ] || echo \"$p present\"; done", review.join(" ")));
        let mut problems = Vec::new();
        for line in listing.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            if fields.get(1) == Some(&"present") {
                problems.push(format!("{}: review-only file installed", fields[0]));
                continue;
            }
            let (hash, mode) = &expected[fields[0]];
            match fields[..] {
                [path, "missing"] => problems.push(format!("{path}: missing")),
                [path, found_mode, owner, found_hash] => {
                    if found_hash != hash {
                        problems.push(format!("{path}: content differs from render"));
                    }
                    if u32::from_str_radix(found_mode, 8).unwrap() != *mode {
                        problems.push(format!("{path}: mode {found_mode}, rendered {mode:o}"));
                    }
                    if owner != "root:root" {
                        problems.push(format!("{path}: owner {owner}"));
                    }
                }
                _ => problems.push(format!("unexpected line {line:?}")),
            }
        }
        assert_eq!(listing.lines().count(), expected.len(), "{listing}\n{problems:?}");
        assert!(problems.is_empty(), "{}: {}", host.address, problems.join("\n"));
    }
}

/// Files under `dir`, as (path relative to `dir`, path).
fn walk(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    fn visit(root: &Path, dir: &Path, found: &mut Vec<(PathBuf, PathBuf)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                visit(root, &path, found);
            } else {
                found.push((path.strip_prefix(root).unwrap().to_path_buf(), path));
            }
        }
    }
    let mut found = Vec::new();
    visit(dir, dir, &mut found);
    found
}

/// Every unit install put on a host passes `systemd-analyze verify` there. A staged unit's
/// binary is absent by design, so for those the only complaint allowed is that its
/// ExecStart binary (`/usr/local/bin/<name>`) is missing; etcd's unit must verify cleanly.
fn assert_units_verify(lab: &TestLab, hosts: &[HostSpec]) {
    for host in hosts {
        let units = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"];
        let script: Vec<String> = units
            .iter()
            .map(|u| format!("echo '=== {u}'; systemd-analyze verify /etc/systemd/system/{u}.service 2>&1; echo \"=== rc $?\""))
            .collect();
        let report = lab.ssh_ok(host.address, &script.join("; "));
        for section in report.split("=== ").filter(|s| !s.is_empty() && !s.starts_with("rc ")) {
            let (unit, output) = section.split_once('\n').unwrap();
            let binary = format!("/usr/local/bin/{unit}");
            if unit == "etcd" {
                assert!(output.trim().is_empty(), "{}: etcd.service does not verify: {output}", host.address);
                continue;
            }
            for line in output.lines().filter(|l| !l.trim().is_empty()) {
                let missing_binary = line.contains(&binary) && (line.contains("is not executable") || line.contains("No such file"));
                assert!(missing_binary || line.ends_with("Unit configuration has fatal error, unit will not be started."), "{}: {unit}.service: {line}", host.address);
            }
        }
        assert_eq!(report.matches("=== rc ").count(), units.len(), "{report}");
        assert!(report.contains("=== etcd\n=== rc 0"), "{}: {report}", host.address);
    }
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn fresh_install_forms_a_tls_etcd_cluster_over_ipv6_and_a_second_run_changes_nothing() {
    let lab = TestLab::up("inst1", 3);
    let hosts = lab.hosts();
    let members = etcd_hosts(&hosts);
    assert_eq!(members.len(), 3);

    let (code, json, output) = lab.install_json(&[]);
    assert_eq!(code, 0, "{}", text(&output));
    // The recap: every host changed; etcd started everywhere; the Kubernetes components
    // staged, each named.
    for host in &hosts {
        assert_eq!(recap_of(&json, host.address)["status"], "changed", "{json:#}");
        let components = &json["components"][host.address.to_string()];
        assert_eq!(components["etcd"], "started", "{components:#}");
        for component in STAGED {
            assert_eq!(components[component], "staged", "{component}: {components:#}");
        }
    }

    // A real 3-member cluster with TLS over IPv6: healthy, bracketed peer URLs, and a key
    // written at one member is read at another.
    assert_healthy(&lab, &members);
    assert_members(&lab, &hosts);
    lab.etcdctl_ok(&members[..1], &["put", "/v6deploy/test", "written at 101"]);
    assert!(lab.etcdctl_ok(&members[2..], &["get", "/v6deploy/test"]).contains("written at 101"));

    assert_rendered_files_on_hosts(&lab, &hosts);
    assert_units_verify(&lab, &hosts);

    // Second run: nothing changes, nothing restarts.
    let pids: Vec<u32> = members.iter().map(|a| lab.etcd_pid(*a)).collect();
    assert!(pids.iter().all(|p| *p > 0), "{pids:?}");
    let (code, json, output) = lab.install_json(&[]);
    assert_eq!(code, 0, "{}", text(&output));
    assert_eq!(json["recap"]["changes"].as_array().unwrap().len(), 0, "{json:#}");
    for host in &hosts {
        let recap = recap_of(&json, host.address);
        assert_eq!((recap["status"].as_str(), recap["changes"].as_u64()), (Some("ok"), Some(0)), "{recap:#}");
        let components = &json["components"][host.address.to_string()];
        assert_eq!(components["etcd"], "unchanged", "{components:#}");
        for component in STAGED {
            assert_eq!(components[component], "staged", "{components:#}");
        }
    }
    let after: Vec<u32> = members.iter().map(|a| lab.etcd_pid(*a)).collect();
    assert_eq!(after, pids, "etcd was restarted by a run that changed nothing");
    assert!(lab.etcdctl_ok(&members, &["get", "/v6deploy/test"]).contains("written at 101"));

    // The text output ends with the copy-paste etcdctl line, which works as printed, in any
    // directory. (A third run: the first two gave JSON, which has no such line.)
    let text_run = support::run(&lab, &["install"]);
    assert!(text_run.status.success(), "{}", text(&text_run));
    let out = stdout(&text_run);
    let line = out.lines().last().unwrap_or_default();
    assert!(line.starts_with("  ETCDCTL_API=3 "), "the output does not end with the etcdctl line: {out}");
    assert!(line.contains(&format!("{}/bin/etcdctl ", lab.bundle().canonicalize().unwrap().display())) && !line.contains("/../"), "{line}");
    let words: Vec<&str> = line.split_whitespace().skip(1).collect();
    let health = Command::new(words[0]).args(&words[1..]).env("ETCDCTL_API", "3").current_dir("/").output().unwrap();
    assert!(health.status.success(), "{line}: {}", text(&health));
    let table = stdout(&health);
    for address in &members {
        let row = table.lines().find(|l| l.contains(&format!("https://[{address}]:2379"))).unwrap_or_else(|| panic!("{address} missing: {table}"));
        assert!(row.contains("true"), "{row}");
    }
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn dry_run_on_a_fresh_lab_prints_the_plan_and_leaves_the_machines_untouched() {
    let lab = TestLab::up("indry", 3);
    let hosts = lab.hosts();
    let before: Vec<String> = hosts.iter().map(|h| lab.snapshot(h.address)).collect();
    let output = support::run(&lab, &["install", "--dry-run"]);
    assert!(output.status.success(), "{}", text(&output));
    let plan = stdout(&output);
    assert!(plan.starts_with("PLAN (dry-run: nothing was changed)\n"), "{plan}");
    for host in &hosts {
        for expected in [
            format!("{}: would write /etc/etcd/etcd.conf.yml (new file)", host.address),
            format!("{}: would write /etc/systemd/system/kubelet.service (new file)", host.address),
            format!("{}: would write /etc/kubernetes/pki/etcd/server.key (new file)", host.address),
            format!("{}: would write /usr/local/bin/etcd (new file)", host.address),
            format!("{}: would run systemctl start etcd (not running)", host.address),
        ] {
            assert!(plan.lines().any(|l| l == expected), "missing {expected:?} in the plan:\n{plan}");
        }
    }
    assert!(!plan.lines().any(|l| l.contains(": wrote ") || l.contains(": ran ")), "{plan}");
    assert!(plan.contains("COMPONENTS (as the run would leave them)"), "{plan}");
    // Nothing on any machine changed: files, modes, times, units; etcd is not running.
    for (host, before) in hosts.iter().zip(&before) {
        let after = lab.snapshot(host.address);
        let body = |s: &str| s.lines().filter(|l| !l.starts_with("logins ")).collect::<Vec<_>>().join("\n");
        let changed: Vec<String> = diff(&body(before), &body(&after));
        assert!(changed.is_empty(), "{}: the dry-run changed:\n{}", host.address, changed.join("\n"));
        let active = lab.ssh(host.address, "systemctl is-active etcd");
        assert_eq!(stdout(&active).trim(), "inactive", "{}", text(&active));
    }
}

/// Lines only in one of two listings, marked `-` (before) or `+` (after).
fn diff(before: &str, after: &str) -> Vec<String> {
    let (b, a): (std::collections::BTreeSet<&str>, std::collections::BTreeSet<&str>) = (before.lines().collect(), after.lines().collect());
    b.difference(&a).map(|l| format!("- {l}")).chain(a.difference(&b).map(|l| format!("+ {l}"))).collect()
}

/// The machine is killed while install runs: when the progress shows the etcd step has
/// begun, machine 103 loses power (every process SIGKILLed through its cgroup). That point
/// is deterministic enough: the step has begun on every host, and the steps left take more
/// than a second, while the kill lands within milliseconds. Wherever 103 was, the run must
/// say 103 is unreachable and finish the others; 101 and 102 form the cluster (2 of 3
/// members is a quorum).
///
/// On a fresh lab there is no etcd before the install's etcd step, so the data checks are
/// done twice: a key written while 103 is down must survive the re-run and reach 103 when
/// it is back; and a key written to the full cluster must survive a second power cut of
/// 103 and the install after it.
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_machine_killed_mid_install_is_named_and_a_rerun_completes_keeping_etcd_data() {
    let lab = TestLab::up("inkill", 3);
    let hosts = lab.hosts();
    let members = etcd_hosts(&hosts);
    let (survivors, killed) = (&members[..2], members[2]);

    let mut child = lab
        .command(&["-i", lab.inventory().to_str().unwrap(), "install"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut progress = String::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let line = received.recv_timeout(deadline.saturating_duration_since(Instant::now())).unwrap_or_else(|_| panic!("the etcd step never began:\n{progress}"));
        progress.push_str(&line);
        progress.push('\n');
        if line.ends_with(" == etcd cluster") {
            lab.power_cut(103);
            break;
        }
    }
    let output = child.wait_with_output().unwrap();
    reader.join().unwrap();
    progress.extend(received.try_iter().map(|l| l + "\n"));
    let recap = stdout(&output);
    assert_eq!(output.status.code(), Some(2), "{recap}\n{progress}");
    // A clear failure naming 103, as unreachable (the connection dropped, or a reconnect was
    // refused), in the recap and in the summary on stderr.
    let line = recap.lines().find(|l| l.starts_with(&format!("{killed} "))).unwrap_or_else(|| panic!("{recap}"));
    assert!(line.contains("UNREACHABLE") && (line.contains("connection lost") || line.contains("cannot connect")), "{line}");
    assert!(progress.contains(&format!("failed on 1 host:\n - {killed}: ")), "{progress}");
    assert!(!progress.contains("exited 255"), "{progress}");
    // The others finished every step, and their etcd members are healthy with quorum.
    for address in survivors {
        let line = recap.lines().find(|l| l.starts_with(&format!("{address} "))).unwrap();
        assert!(line.contains(" changed ") && !line.contains("FAILED"), "{line}");
        assert_eq!(component_outcome(&recap, *address, "etcd").as_deref(), Some("started"), "{recap}");
    }
    assert_ne!(lab.machines()[2].state, lab::State::Running, "machine 103 is still running");
    assert_healthy(&lab, survivors);
    lab.etcdctl_ok(survivors, &["put", "/v6deploy/while-103-was-down", "kept"]);
    let pids: Vec<u32> = survivors.iter().map(|a| lab.etcd_pid(*a)).collect();

    // 103 comes back; the re-run completes and touches only 103.
    let up = lab.v6deploy(&["lab", "up", "-q"]);
    assert!(up.status.success(), "{}", text(&up));
    wait_for("sshd on 103", Duration::from_secs(60), || lab::ssh_port_open(killed, Duration::from_millis(500)));
    let (code, json, output) = lab.install_json(&[]);
    assert_eq!(code, 0, "{}", text(&output));
    assert_eq!(recap_of(&json, killed)["status"], "changed", "{json:#}");
    for address in survivors {
        let recap = recap_of(&json, *address);
        assert_eq!((recap["status"].as_str(), recap["changes"].as_u64()), (Some("ok"), Some(0)), "{recap:#}");
    }
    assert_eq!(survivors.iter().map(|a| lab.etcd_pid(*a)).collect::<Vec<_>>(), pids, "the survivors' etcd was restarted");
    assert_healthy(&lab, &members);
    assert_members(&lab, &hosts);
    // 103 has the key written while it was down, in its own copy (a serializable read is
    // answered by the member itself).
    assert!(lab.etcdctl_ok(&[killed], &["get", "--consistency=s", "/v6deploy/while-103-was-down"]).contains("kept"));

    // Data written to the full cluster survives a power cut of a member and the install
    // after it.
    lab.etcdctl_ok(&members, &["put", "/v6deploy/before-the-kill", "still here"]);
    lab.power_cut(103);
    let up = lab.v6deploy(&["lab", "up", "-q"]);
    assert!(up.status.success(), "{}", text(&up));
    wait_for("sshd on 103", Duration::from_secs(60), || lab::ssh_port_open(killed, Duration::from_millis(500)));
    let (code, json, output) = lab.install_json(&[]);
    assert_eq!(code, 0, "{}", text(&output));
    assert_eq!(json["recap"]["changes"].as_array().unwrap().len(), 0, "{json:#}");
    assert_healthy(&lab, &members);
    for address in &members {
        assert!(lab.etcdctl_ok(&[*address], &["get", "--consistency=s", "/v6deploy/before-the-kill"]).contains("still here"), "{address}");
        assert!(lab.etcdctl_ok(&[*address], &["get", "--consistency=s", "/v6deploy/while-103-was-down"]).contains("kept"), "{address}");
    }
}

/// A bundle without the kubelet, and an inventory that does not allow staging (the default,
/// `bundle.missing: refuse`): install names the missing binary and stops before it makes
/// the PKI or connects to any host.
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_bundle_missing_a_binary_without_stage_is_refused_before_any_host_is_touched() {
    let lab = TestLab::up("inbnd", 1);
    let host = lab.hosts()[0].address;
    // Every binary but the kubelet: etcd and etcdctl from the lab bundle, the rest stand-ins.
    let bundle = lab.project.path().join("partial-bundle");
    fs::create_dir_all(bundle.join("bin")).unwrap();
    for name in ["etcd", "etcdctl"] {
        fs::copy(lab.files().join("bundle/bin").join(name), bundle.join("bin").join(name)).unwrap();
    }
    for name in ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "kubectl"] {
        fs::copy("/bin/true", bundle.join("bin").join(name)).unwrap();
    }
    let inventory = fs::read_to_string(lab.inventory()).unwrap();
    assert!(inventory.contains("  path: ../bundle-staged\n  missing: stage\n"), "{inventory}");
    let refusing = inventory.replace("  path: ../bundle-staged\n  missing: stage\n", "  path: ../partial-bundle\n");
    let refusing_path = lab.project.path().join("inventories/refuse.yaml");
    fs::write(&refusing_path, refusing).unwrap();

    let before = lab.snapshot(host);
    let output = lab.v6deploy(&["-i", refusing_path.to_str().unwrap(), "install"]);
    let after = lab.snapshot(host);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("partial-bundle/bin/kubelet") && stderr.contains("missing: stage"), "{stderr}");
    for present in ["etcd", "kube-apiserver", "kube-proxy"] {
        assert!(!stderr.contains(&format!("bin/{present},")) && !stderr.contains(&format!("bin/{present}:")), "{stderr}");
    }
    assert!(!stderr.contains("connecting to"), "{stderr}");
    assert!(!lab.project.path().join("certs").exists(), "the PKI was made for a refused install");
    // Nothing on the machine changed, and nobody but the snapshots logged in: the second
    // snapshot sees exactly one more login (its own).
    let logins = |s: &str| s.lines().last().unwrap().strip_prefix("logins ").unwrap().parse::<u32>().unwrap();
    assert_eq!(logins(&after), logins(&before) + 1, "install connected to the host");
    let body = |s: &str| s.lines().filter(|l| !l.starts_with("logins ")).collect::<Vec<_>>().join("\n");
    assert_eq!(diff(&body(&before), &body(&after)), Vec::<String>::new());
}

/// The program etcd runs from (`/usr/local/bin/etcd`, or `... (deleted)` when the file was
/// replaced after it started).
fn etcd_executable(lab: &TestLab, address: Ipv6Addr) -> String {
    lab.ssh_ok(address, "readlink /proc/$(systemctl show -p MainPID --value etcd)/exe").trim().to_string()
}

/// Regression: a run that wrote a new etcd binary and stopped before the etcd step left etcd
/// running the old one for good, because the next run found every file in place and etcd
/// active. The run is made to stop there deterministically: a sysctl template that turns IPv6
/// forwarding off again makes the "Prepare hosts" step fail, after every file was written
/// and before the etcd step. (A binary, not a certificate: etcd reads its certificates again
/// at each TLS handshake, but its program only when started.)
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_restart_left_pending_by_a_failed_run_happens_on_the_next_run() {
    let lab = TestLab::up("inpend", 1);
    let address = lab.hosts()[0].address;
    let (code, _, output) = lab.install_json(&[]);
    assert_eq!(code, 0, "{}", text(&output));
    let pid = lab.etcd_pid(address);
    assert_eq!(etcd_executable(&lab, address), "/usr/local/bin/etcd");

    // A new etcd in the bundle (the same program with a byte appended, which ELF ignores).
    let binary = lab.bundle().join("bin/etcd");
    let mut bytes = fs::read(&binary).unwrap();
    bytes.push(b'\n');
    fs::write(&binary, &bytes).unwrap();
    let overrides = lab.project.path().join("templates");
    fs::create_dir_all(&overrides).unwrap();
    let sysctl = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/sysctl.conf.j2")).unwrap();
    fs::write(overrides.join("sysctl.conf.j2"), format!("{sysctl}\nnet.ipv6.conf.all.forwarding = 0\n")).unwrap();
    let output = lab.v6deploy(&["--templates", overrides.to_str().unwrap(), "-i", lab.inventory().to_str().unwrap(), "install", "--output", "json"]);
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    let json: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output)));
    let error = recap_of(&json, address)["error"].as_str().unwrap_or_default().to_string();
    assert!(error.starts_with("Prepare hosts") && error.contains("forwarding is still 0"), "{error}");
    let on_host = lab.ssh_ok(address, "sha256sum < /usr/local/bin/etcd");
    assert!(on_host.starts_with(&sha256_hex(&bytes)), "the files were not written");
    assert_eq!((lab.etcd_pid(address), etcd_executable(&lab, address)), (pid, "/usr/local/bin/etcd (deleted)".to_string()), "not the half-done state");
    assert_eq!(lab.ssh_ok(address, "cat /var/lib/v6deploy/restart-pending/etcd"), "/usr/local/bin/etcd\n", "the host did not record the restart it owes");

    fs::remove_dir_all(&overrides).unwrap();
    let (code, json, output) = lab.install_json(&[]);
    assert_eq!(code, 0, "{}", text(&output));
    let etcd = &json["components"][address.to_string()]["etcd"];
    let changed: Vec<&str> = etcd["restarted"]["changed"].as_array().unwrap_or_else(|| panic!("etcd not restarted: {json:#}")).iter().filter_map(Value::as_str).collect();
    assert_eq!(changed, ["/usr/local/bin/etcd"], "{etcd}");
    assert_ne!(lab.etcd_pid(address), pid);
    assert_eq!(etcd_executable(&lab, address), "/usr/local/bin/etcd", "etcd does not run the new binary");
    assert_healthy(&lab, &[address]);
    // Done: the next run changes nothing.
    let (code, json, output) = lab.install_json(&[]);
    assert_eq!(code, 0, "{}", text(&output));
    assert_eq!(json["components"][address.to_string()]["etcd"], "unchanged", "{json:#}");
    assert_eq!(json["recap"]["changes"].as_array().unwrap().len(), 0, "{json:#}");
}

/// A unit that systemd-analyze finds fault with fails the install on that host right after
/// the files are written (before any service restarts), whether the component is staged or
/// runs, even for a problem systemd only warns about (`Unknown key ..., ignoring`); the fixed
/// unit is verified on the next run (the host's record of verified units does not let the
/// broken one pass as verified).
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_unit_that_does_not_pass_systemd_analyze_verify_fails_the_install() {
    let lab = TestLab::up("inunit", 1);
    let address = lab.hosts()[0].address;
    let overrides = lab.project.path().join("templates");
    // The override directory holds at most one template, `name` with a typo in its unit.
    let broken = |name: Option<&str>| {
        let _ = fs::remove_dir_all(&overrides);
        fs::create_dir_all(&overrides).unwrap();
        let Some(name) = name else { return };
        let text = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates").join(name)).unwrap();
        assert!(text.contains("\nWants="), "{name}");
        fs::write(overrides.join(name), text.replace("\nWants=", "\nWantz=")).unwrap();
    };
    let run = || {
        let output = lab.v6deploy(&["--templates", overrides.to_str().unwrap(), "-i", lab.inventory().to_str().unwrap(), "install", "--output", "json"]);
        let json: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&output)));
        (output.status.code(), recap_of(&json, address)["error"].as_str().unwrap_or_default().to_string())
    };

    broken(Some("kubelet.service.j2"));
    let (code, error) = run();
    assert_eq!(code, Some(2), "{error}");
    assert!(error.starts_with("Install files") && error.contains("units do not pass systemd-analyze verify: /etc/systemd/system/kubelet.service") && error.contains("Unknown key 'Wantz'"), "{error}");

    // Fixed, the install completes.
    broken(None);
    assert_eq!(run(), (Some(0), String::new()));

    broken(Some("etcd.service.j2"));
    let (code, error) = run();
    assert_eq!(code, Some(2), "{error}");
    assert!(error.starts_with("Install files") && error.contains("units do not pass systemd-analyze verify: ") && error.contains("etcd.service") && error.contains("Unknown key 'Wantz'"), "{error}");
}
