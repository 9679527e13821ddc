//! `kernel check`, `kernel upgrade` and `network apply` against real lab machines of the
//! `centos7-sim` flavor (see src/lab/flavor/centos7-sim/README.md for what is simulated: the
//! running kernel follows GRUB's default at each boot; yum, grubby and the network service act
//! on the machine's files; the reboots, SSH, systemd timers and addresses are real).
//!
//! Like tests/lab.rs, these are `#[ignore]`d and run only as root (`scripts/test.sh`), each
//! with its own lab (names starting with `kr`), removed by a guard even when the test fails.
//! They also need `rpmbuild` (Debian's `rpm` package) to build the test kernel package.

use std::fs;
use std::net::Ipv6Addr;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;


mod support;
use support::{TestLab, text};

/// The release the test kernel package installs (the field report's kernel).
const NEW: &str = "4.19.113-300.el7.x86_64";
/// The centos7-sim machines' stock kernel.
const STOCK: &str = "3.10.0-1160.el7.x86_64";

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}


/// A centos7-sim lab of this test (the shared `TestLab`, removed when dropped), with the test
/// kernel package in its bundle.
struct SimLab {
    lab: TestLab,
}

impl std::ops::Deref for SimLab {
    type Target = TestLab;

    fn deref(&self) -> &TestLab {
        &self.lab
    }
}

impl SimLab {
    fn up(name: &str, hosts: u16) -> SimLab {
        let lab = TestLab::up_flavor(name, hosts, "centos7-sim");
        // `lab up` stages the test kernel package (test data, not a kernel) for this flavor.
        assert!(lab.files().join(format!("bundle/rpms/kernel-{NEW}.rpm")).exists(), "the centos7-sim lab bundle has no test kernel package");
        // The kernel flow, not Kubernetes: the copy of the bundle keeps the test kernel.
        lab.stage_kubernetes();
        SimLab { lab }
    }

    /// Runs v6deploy in the project; `lab ...` gets this lab's name, other commands its inventory.
    fn v6deploy(&self, args: &[&str]) -> Output {
        if args.first() == Some(&"lab") { self.lab.v6deploy(args) } else { support::run(&self.lab, args) }
    }

    fn addresses(&self) -> Vec<Ipv6Addr> {
        self.machines().iter().map(|m| m.address).collect()
    }

    /// `v6deploy ARGS --output json` with the lab's inventory: the exit code, the document, and
    /// the output (for messages).
    fn json(&self, args: &[&str]) -> (Option<i32>, Value, Output) {
        let mut all = args.to_vec();
        all.extend(["--output", "json"]);
        let output = self.v6deploy(&all);
        let json = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("v6deploy {all:?}: no JSON ({e}): {}", text(&output)));
        (output.status.code(), json, output)
    }

    /// Runs a command inside machine `number` without SSH.
    fn exec(&self, number: &str, command: &str) {
        let output = self.v6deploy(&["lab", "exec", number, "--", "sh", "-c", command]);
        assert!(output.status.success(), "lab exec {number} {command:?}: {}", text(&output));
    }
}

/// The recap entry of `host` in a JSON recap (`{"hosts": [...], ...}`).
fn recap_of(recap: &Value, host: Ipv6Addr) -> &Value {
    recap["hosts"].as_array().unwrap().iter().find(|h| h["host"] == host.to_string()).unwrap_or_else(|| panic!("no recap for {host}: {recap:#}"))
}

/// A string field of a JSON value ("" when absent).
fn field<'a>(value: &'a Value, name: &str) -> &'a str {
    value[name].as_str().unwrap_or_default()
}

/// The index of the first log line containing every one of `parts`.
fn line_of(log: &str, parts: &[&str]) -> usize {
    log.lines().position(|l| parts.iter().all(|p| l.contains(p))).unwrap_or_else(|| panic!("no line with {parts:?} in:\n{log}"))
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn kernel_upgrade_of_three_centos7_machines_one_at_a_time() {
    let lab = SimLab::up("krup", 3);
    let hosts = lab.addresses();

    let (code, report, check) = lab.json(&["kernel", "check"]);
    assert_eq!(code, Some(2), "{}", text(&check));
    let checked = report["hosts"].as_array().unwrap();
    assert_eq!(checked.len(), 3, "{report:#}");
    for host in checked {
        assert!(field(host, "verdict").starts_with(&format!("BELOW {STOCK} < kernel.minimum 4.19.0")), "{report:#}");
        assert_eq!(host["at_or_above_minimum"], false, "{report:#}");
        assert!(field(&host["os"], "pretty").contains("CentOS Linux release 7.8.2003 (Core)"), "{report:#}");
    }

    // The plan changes nothing.
    let dry = lab.v6deploy(&["kernel", "upgrade", "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry));
    assert_eq!(stdout(&dry).matches("would run reboot").count(), 3, "{}", text(&dry));
    assert_eq!(lab.ssh_ok(hosts[0], "uname -r").trim(), STOCK);

    let started = Instant::now();
    let upgrade = lab.v6deploy(&["kernel", "upgrade"]);
    let took = started.elapsed();
    assert!(upgrade.status.success(), "{}", text(&upgrade));
    eprintln!("kernel upgrade of 3 machines took {:.1} s", took.as_secs_f64());
    // One at a time: each host goes down and comes back before the next one is touched.
    let log = String::from_utf8_lossy(&upgrade.stderr).into_owned();
    let mut previous_back = 0;
    for (i, host) in hosts.iter().enumerate() {
        let host = format!("[{host}]");
        let installing = line_of(&log, &[&host, "installing kernel-4.19.113-300.el7.x86_64.rpm"]);
        let down = line_of(&log, &[&host, "down after"]);
        let back = line_of(&log, &[&host, "back after"]);
        assert!(i == 0 || installing > previous_back, "host {host} started before the previous one was back:\n{log}");
        assert!(installing < down && down < back, "{log}");
        previous_back = back;
    }
    for host in &hosts {
        assert_eq!(lab.ssh_ok(*host, "uname -r").trim(), NEW);
        let installed = lab.ssh_ok(*host, "rpm -q kernel");
        assert!(installed.contains(&format!("kernel-{STOCK}")) && installed.contains(&format!("kernel-{NEW}")), "{installed}");
        assert_eq!(lab.ssh_ok(*host, "grubby --default-kernel").trim(), format!("/boot/vmlinuz-{NEW}"));
    }

    let (code, report, check) = lab.json(&["kernel", "check"]);
    assert_eq!(code, Some(0), "{}", text(&check));
    assert_eq!(report["minimum"], "4.19.0", "{report:#}");
    let checked = report["hosts"].as_array().unwrap();
    assert_eq!(checked.len(), 3, "{report:#}");
    assert!(checked.iter().all(|h| h["at_or_above_minimum"] == true), "{report:#}");

    // A second upgrade does nothing, and says why.
    let boot_ids: Vec<String> = hosts.iter().map(|h| lab.ssh_ok(*h, "cat /proc/sys/kernel/random/boot_id")).collect();
    let (code, recap, again) = lab.json(&["kernel", "upgrade"]);
    assert_eq!(code, Some(0), "{}", text(&again));
    let nothing = format!("nothing to do: running kernel {NEW} is at or above kernel.minimum 4.19.0");
    assert_eq!(recap["changes"].as_array().unwrap().len(), 0, "{recap:#}");
    for host in &hosts {
        let entry = recap_of(&recap, *host);
        assert_eq!((field(entry, "status"), entry["changes"].as_u64()), ("ok", Some(0)), "{recap:#}");
        assert!(entry["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap_or_default().contains(&nothing)), "{recap:#}");
    }
    let after: Vec<String> = hosts.iter().map(|h| lab.ssh_ok(*h, "cat /proc/sys/kernel/random/boot_id")).collect();
    assert_eq!(after, boot_ids, "a host rebooted although nothing was to do");
}

/// Regression: `--parallel 3` on 3 etcd members rebooted 2 together (quorum lost). A batch
/// holds at most (members - 1) / 2 = 1 etcd member: each host is back before the next one
/// starts, whatever `--parallel` says.
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn hold_quorum_kernel_upgrade_parallel_3_reboots_one_etcd_member_at_a_time() {
    let lab = SimLab::up("hpar", 3);
    let hosts = lab.addresses();
    let upgrade = lab.v6deploy(&["kernel", "upgrade", "--parallel", "3"]);
    assert!(upgrade.status.success(), "{}", text(&upgrade));
    let log = String::from_utf8_lossy(&upgrade.stderr).into_owned();
    let mut spans: Vec<(usize, usize)> = hosts.iter().map(|h| {
        let host = format!("[{h}]");
        (line_of(&log, &[&host, "installing kernel-"]), line_of(&log, &[&host, "back after"]))
    }).collect();
    spans.sort_unstable();
    for pair in spans.windows(2) {
        assert!(pair[0].1 < pair[1].0, "a host started before the previous one was back:\n{log}");
    }
    for host in &hosts {
        assert_eq!(lab.ssh_ok(*host, "uname -r").trim(), NEW);
    }
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_boot_default_that_does_not_change_stops_the_rollout() {
    let lab = SimLab::up("krfail", 3);
    let hosts = lab.addresses();
    // Simulated failure: on the second machine, setting GRUB's default does nothing.
    lab.exec("102", "touch /var/lib/centos7-sim/fail-set-default");
    let (code, recap, upgrade) = lab.json(&["kernel", "upgrade"]);
    assert_eq!(code, Some(2), "{}", text(&upgrade));
    assert_eq!(field(recap_of(&recap, hosts[0]), "status"), "changed", "{recap:#}");
    let failed = recap_of(&recap, hosts[1]);
    let error = field(failed, "error");
    assert!(field(failed, "status") == "failed" && error.contains(&format!("the boot default is still {STOCK}")), "{recap:#}");
    assert!(error.contains(&format!("boot entries: 0: CentOS Linux ({NEW}) 7 (Core) (/boot/vmlinuz-{NEW}); 1: CentOS Linux ({STOCK}) 7 (Core)")), "{recap:#}");
    assert_eq!(field(recap_of(&recap, hosts[2]), "status"), "skipped", "{recap:#}");
    assert!(field(&recap, "stopped").contains("step \"Upgrade kernel\" failed during a rolling batch; later hosts were not touched"), "{recap:#}");
    // Not rebooted, not upgraded; the third machine untouched.
    assert_eq!(lab.ssh_ok(hosts[1], "uname -r").trim(), STOCK);
    assert!(!lab.ssh_ok(hosts[2], "rpm -q kernel").contains(NEW));
    assert_eq!(lab.ssh_ok(hosts[0], "uname -r").trim(), NEW);

    // Simulated failure: the default changes, but GRUB falls back to the old kernel at boot.
    lab.exec("102", "rm /var/lib/centos7-sim/fail-set-default; touch /var/lib/centos7-sim/fail-boot");
    let (code, recap, upgrade) = lab.json(&["kernel", "upgrade"]);
    assert_eq!(code, Some(2), "{}", text(&upgrade));
    let error = field(recap_of(&recap, hosts[1]), "error");
    assert!(error.contains(&format!("came back on kernel {STOCK}, not {NEW} (boot entries: 0: CentOS Linux ({NEW}) 7 (Core)")), "{recap:#}");
    assert!(error.contains(&format!("boot default: {NEW}); the rollout stops here")), "{recap:#}");
    assert_eq!(field(recap_of(&recap, hosts[0]), "status"), "ok", "{recap:#}");
    assert_eq!(field(recap_of(&recap, hosts[2]), "status"), "skipped", "{recap:#}");
    assert!(!lab.ssh_ok(hosts[2], "rpm -q kernel").contains(NEW));
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn an_ifcfg_that_cuts_ssh_rolls_back_by_itself() {
    let lab = SimLab::up("krnet", 1);
    let host = lab.addresses()[0];
    let inventory = fs::read_to_string(lab.inventory()).unwrap();
    fs::write(lab.inventory(), inventory.replace("\nkernel:\n", "\nnetwork:\n  manage: true\n  rollback_seconds: 20\nkernel:\n")).unwrap();
    let path = "/etc/sysconfig/network-scripts/ifcfg-eth0";
    let before = lab.ssh_ok(host, &format!("cat {path}"));
    let uuid = before.lines().find(|l| l.starts_with("UUID=")).unwrap().to_string();
    let hwaddr = before.lines().find(|l| l.starts_with("HWADDR=")).unwrap().to_string();

    // The inventory's file: applied, reconnected, disarmed; UUID and HWADDR kept.
    let apply = lab.v6deploy(&["network", "apply"]);
    assert!(apply.status.success(), "{}", text(&apply));
    assert!(stdout(&apply).contains("rollback disarmed") && stdout(&apply).contains("-IPV6_ADDR_GEN_MODE"), "{}", text(&apply));
    let applied = lab.ssh_ok(host, &format!("cat {path}"));
    assert!(applied.contains(&format!("\n{uuid}\n")) && applied.contains(&format!("\n{hwaddr}\n")), "{applied}");
    assert!(!applied.contains("IPV6_ADDR_GEN_MODE") && applied.contains("BOOTPROTO=static"), "{applied}");
    assert!(!lab.ssh_ok(host, "systemctl list-timers --all --no-legend").contains("v6deploy-network-rollback"), "the rollback timer is still armed");
    let again = lab.v6deploy(&["network", "apply"]);
    assert!(again.status.success() && stdout(&again).contains(&format!("{path} unchanged")), "{}", text(&again));

    // A template with a wrong address: the change cuts SSH for real, the host restores its
    // previous file within the window, v6deploy says "rolled back".
    let templates = lab.project.path().join("bad-templates");
    fs::create_dir_all(&templates).unwrap();
    let template = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/ifcfg.j2")).unwrap();
    let wrong = template.lines().map(|l| if l.starts_with("IPV6ADDR=") { "IPV6ADDR=2001:db8:0:ffff::dead/64" } else { l }).collect::<Vec<_>>().join("\n") + "\n";
    fs::write(templates.join("ifcfg.j2"), wrong).unwrap();
    let started = Instant::now();
    let (code, recap, output) = lab.json(&["--templates", templates.to_str().unwrap(), "network", "apply"]);
    let took = started.elapsed();
    eprintln!("the failed apply and its rollback took {:.1} s", took.as_secs_f64());
    assert_eq!(code, Some(2), "{}", text(&output));
    let failed = recap_of(&recap, host);
    let error = field(failed, "error");
    assert!(field(failed, "status") == "failed" && error.contains("rolled back: could not reconnect over SSH"), "{recap:#}");
    assert!(error.contains("IPV6ADDR") && error.contains("2001:db8:0:ffff::dead/64"), "{recap:#}");
    assert!(took < Duration::from_secs(20 + 60), "{took:?}");
    // Reachable again at its address, with the previous file.
    assert_eq!(lab.ssh_ok(host, &format!("cat {path}")), applied);
    assert!(lab.ssh_ok(host, "ip -6 addr show dev eth0 scope global").contains(&format!("inet6 {host}/64")));
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn install_upgrade_kernel_upgrades_before_the_gate_and_applies_ifcfg() {
    let lab = SimLab::up("krins", 1);
    let host = lab.addresses()[0];
    let inventory = fs::read_to_string(lab.inventory()).unwrap();
    fs::write(lab.inventory(), inventory.replace("\nkernel:\n", "\nnetwork:\n  manage: true\n  rollback_seconds: 30\nkernel:\n")).unwrap();
    // Without --upgrade-kernel the install stops before touching the host.
    let stopped = lab.v6deploy(&["install"]);
    assert_eq!(stopped.status.code(), Some(2), "{}", text(&stopped));
    assert!(stdout(&stopped).contains("kernel upgrade"), "{}", text(&stopped));
    // The lab's pod network is flannel: the gate names what kernel 3.10 would break.
    assert!(fs::read_to_string(lab.inventory()).unwrap().contains("pod_network: flannel"));
    assert!(stdout(&stopped).contains("flannel's IPv6 vxlan needs >= 3.12"), "{}", text(&stopped));
    let install = lab.v6deploy(&["install", "--upgrade-kernel"]);
    assert!(install.status.success(), "{}", text(&install));
    let log = String::from_utf8_lossy(&install.stderr).into_owned();
    let upgraded = line_of(&log, &["Upgrade kernel: kernel 3.10.0-1160.el7.x86_64 -> 4.19.113-300.el7.x86_64"]);
    let gate = line_of(&log, &["Kernel gate: kernel 4.19.113-300.el7.x86_64 >= 4.19.0"]);
    let ifcfg = line_of(&log, &["Apply ifcfg", "rollback disarmed"]);
    assert!(upgraded < gate && gate < ifcfg, "{log}");
    assert_eq!(lab.ssh_ok(host, "uname -r").trim(), NEW);
    let (code, json, again) = lab.json(&["install", "--upgrade-kernel"]);
    assert_eq!(code, Some(0), "{}", text(&again));
    let recap = recap_of(&json["recap"], host);
    assert_eq!((field(recap, "status"), recap["changes"].as_u64()), ("ok", Some(0)), "{json:#}");
}
