//! The IPv6 lab, for real: machines booted with systemd-nspawn, reached with the system
//! `ssh` client over IPv6 with the lab key and strict known_hosts.
//!
//! These tests change the host (namespaces, mounts, a bridge, routes), so they are
//! `#[ignore]`d with the reason and run only as root (`scripts/test.sh`, which passes
//! `--include-ignored`); run without root they fail. Each test uses its own lab
//! name, so they run in parallel, and removes its lab in a guard even when it fails.

use std::fs;
use std::net::Ipv6Addr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use v6deploy::lab;

mod support;
use support::*;

/// Whether `pid` runs (a zombie waiting for its parent does not).
fn running(pid: u32) -> bool {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    state.is_some_and(|s| s != "Z" && s != "X")
}

/// The first process whose parent is `parent`.
fn child_of(parent: u32) -> Option<u32> {
    fs::read_dir("/proc").unwrap().flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()).find(|pid| {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        after_name.split_whitespace().nth(1) == Some(parent.to_string().as_str())
    })
}

fn command_stdout(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(output.status.success(), "{program} {args:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn three_machines_answer_ssh_over_ipv6_only() {
    let lab = TestLab::up("tssh", 3);
    let machines = lab.machines();
    assert_eq!(machines.len(), 3);
    for machine in &machines {
        let out = lab.ssh_ok(machine.address, "hostname; ip -6 addr; echo ---; ip -4 addr show eth0; echo ---; ip -4 -o addr");
        let parts: Vec<&str> = out.split("---\n").collect();
        assert_eq!(parts[0].lines().next(), Some(machine.name.as_str()), "{out}");
        assert!(parts[0].contains(&format!("inet6 {}/64 scope global", machine.address)), "{out}");
        assert!(parts[1].trim().is_empty(), "eth0 has IPv4: {out}");
        for line in parts[2].lines() {
            assert!(line.contains(" lo ") && line.contains("127.0.0.1/8"), "IPv4 outside loopback: {line}");
        }
    }
    // The inventory loads as written and names every machine, with the lab's files.
    let loaded = v6deploy::inventory::load(&lab.inventory()).unwrap();
    let inventory = loaded.inventory;
    assert_eq!(inventory.cluster.name, "tssh");
    let listed: Vec<Ipv6Addr> = inventory.hosts.iter().map(|h| h.address).collect();
    assert_eq!(listed, machines.iter().map(|m| m.address).collect::<Vec<_>>());
    assert_eq!(fs::canonicalize(&inventory.ssh.private_key).unwrap(), lab.files().join("id_ed25519"));
    assert_eq!(fs::canonicalize(&inventory.ssh.known_hosts).unwrap(), lab.files().join("known_hosts"));
    // Lab addresses are routed to the lab's bridge only; the rest of 2001:db8::/32 nowhere.
    let route = command_stdout("ip", &["-6", "route", "get", &machines[0].address.to_string()]);
    assert!(route.contains(&format!("dev {}", lab.name.bridge())), "{route}");
    let elsewhere = Command::new("ip").args(["-6", "route", "get", "2001:db8:ffff::1"]).output().unwrap();
    assert!(!elsewhere.status.success() || String::from_utf8_lossy(&elsewhere.stdout).contains("unreachable"), "{}", text(&elsewhere));
    // And a packet from a lab address to anywhere outside the range is not routed, even if
    // the host forwarded.
    let from_lab = Command::new("ip").args(["-6", "route", "get", "2001:cafe::1", "from", &machines[0].address.to_string()]).output().unwrap();
    assert!(!from_lab.status.success(), "a lab source can reach outside: {}", text(&from_lab));
    let status = lab.v6deploy(&["lab", "status", "--name", "tssh", "--output", "json"]);
    let report: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap_or_else(|e| panic!("lab status --output json: {e}: {}", text(&status)));
    let listed = report["labs"][0]["machines"].as_array().unwrap_or_else(|| panic!("no machines: {report:#}"));
    let up = listed.iter().filter(|m| m["name"].as_str().unwrap_or_default().starts_with("tssh-") && m["state"] == "running" && m["ssh"] == true);
    assert_eq!(up.count(), 3, "{report:#}");
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_rebooted_machine_comes_back_with_its_address_and_host_key() {
    let lab = TestLab::up("treboot", 2);
    let address = lab.address(1);
    let before = lab.machines().remove(0);
    let known_hosts = fs::read_to_string(lab.files().join("known_hosts")).unwrap();
    // The connection drops as the machine goes down, so ssh's own status does not matter.
    let _ = lab.ssh(address, "systemctl reboot");
    wait_for("a new nspawn after the reboot", Duration::from_secs(60), || {
        lab.machines()[0].nspawn.is_some_and(|p| Some(p) != before.nspawn)
    });
    wait_for("sshd after the reboot", Duration::from_secs(60), || lab::ssh_port_open(address, Duration::from_millis(500)));
    // Strict known_hosts, unchanged: the same host key answers at the same address.
    let out = lab.ssh_ok(address, "hostname; ip -6 addr show eth0; ps -o etimes= -p 1");
    assert!(out.starts_with("treboot-101\n"), "{out}");
    assert!(out.contains(&format!("inet6 {address}/64 scope global")), "{out}");
    let init_age: u64 = out.lines().last().unwrap().trim().parse().unwrap();
    assert!(init_age < 60, "init is {init_age} s old: the machine did not reboot");
    assert_eq!(fs::read_to_string(lab.files().join("known_hosts")).unwrap(), known_hosts);
    let after = lab.machines().remove(0);
    assert_eq!(after.supervisor, before.supervisor, "the same supervisor booted it again");
    // Rebooting through `lab exec` works as well.
    let exec = lab.v6deploy(&["lab", "exec", "102", "--", "systemctl", "reboot"]);
    assert!(exec.status.success(), "{}", text(&exec));
    let second = lab.address(2);
    let previous = lab.nspawn_pids()["treboot-102"];
    wait_for("machine 102 to reboot", Duration::from_secs(60), || {
        lab.nspawn_pids()["treboot-102"] != previous && lab::ssh_port_open(second, Duration::from_millis(500))
    });
    assert!(lab.ssh_ok(second, "hostname").starts_with("treboot-102"));
    // A machine that powers itself off stays off, and `lab up` boots it again.
    let poweroff = lab.v6deploy(&["lab", "exec", "treboot-102", "--", "systemctl", "poweroff"]);
    assert!(poweroff.status.success(), "{}", text(&poweroff));
    wait_for("machine 102 to be off", Duration::from_secs(30), || lab.machines()[1].state == lab::State::Off);
    let up = lab.v6deploy(&["lab", "up", "-q"]);
    assert!(up.status.success() && String::from_utf8_lossy(&up.stdout).contains("started: treboot-102"), "{}", text(&up));
    assert!(lab.ssh_ok(second, "hostname").starts_with("treboot-102"));
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn growing_a_lab_adds_machines_without_touching_running_ones() {
    let lab = TestLab::up("tgrow", 3);
    let pids = lab.nspawn_pids();
    let inventory_before = fs::read_to_string(lab.inventory()).unwrap();
    let output = lab.v6deploy(&["lab", "up", "-q", "--hosts", "5"]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("started: tgrow-104, tgrow-105"), "{stdout}");
    assert!(stdout.contains("left as they were: tgrow-101, tgrow-102, tgrow-103"), "{stdout}");
    let after = lab.nspawn_pids();
    for (name, pid) in &pids {
        assert_eq!(after[name], *pid, "{name} was restarted");
    }
    assert_eq!(after.len(), 5);
    // Appended, not rewritten.
    let inventory_after = fs::read_to_string(lab.inventory()).unwrap();
    assert!(inventory_after.starts_with(&inventory_before));
    let hosts = v6deploy::inventory::load(&lab.inventory()).unwrap().inventory.hosts;
    assert_eq!(hosts.len(), 5);
    assert_eq!(hosts[3].roles.to_string(), "worker");
    assert_eq!(fs::read_to_string(lab.files().join("known_hosts")).unwrap().lines().count(), 5);
    for ordinal in [4, 5] {
        let address = lab.address(ordinal);
        assert!(lab.ssh_ok(address, "hostname").starts_with(&format!("tgrow-10{ordinal}")));
    }
    // Asking for fewer machines removes none.
    let smaller = lab.v6deploy(&["lab", "up", "-q", "--hosts", "2"]);
    assert!(smaller.status.success(), "{}", text(&smaller));
    assert_eq!(lab.nspawn_pids(), after);
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn up_after_a_crash_cleans_leftovers_and_keeps_host_keys() {
    let lab = TestLab::up("tcrash", 2);
    let first = lab.machines().remove(0);
    let crashed = lab.machines().remove(1);
    // A crash: machine 102's supervisor and nspawn are killed; its init, mount and
    // namespace stay. A namespace of a machine 105 is left as if a bigger `lab up` had died.
    let nspawn = crashed.nspawn.unwrap().pid;
    let init = child_of(nspawn).expect("nspawn has the machine's init as its child");
    for pid in [crashed.supervisor.unwrap().pid, nspawn] {
        Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    }
    command_stdout("ip", &["netns", "add", "v6lab-tcrash-105"]);
    let output = lab.v6deploy(&["lab", "up", "-q"]);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("started: tcrash-102") && stdout.contains("left as they were: tcrash-101"), "{stdout}");
    assert!(!command_stdout("ip", &["netns", "list"]).contains("v6lab-tcrash-105"));
    assert_eq!(lab.machines()[0].nspawn, first.nspawn);
    assert!(!running(init), "the old init {init} of tcrash-102 still runs");
    // Same host key: the known_hosts written at the first `lab up` still verifies it.
    assert!(lab.ssh_ok(crashed.address, "hostname").starts_with("tcrash-102"));
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn down_leaves_no_namespace_mount_bridge_route_or_process() {
    let lab = TestLab::up("tdown", 2);
    let subnet = lab::labs(Some(&lab.name)).unwrap()[0].record.subnet();
    let pids: Vec<u32> = lab.machines().iter().flat_map(|m| [m.supervisor, m.nspawn]).flatten().map(|p| p.pid).collect();
    let output = lab.v6deploy(&["lab", "down", "-q"]);
    assert!(output.status.success(), "{}", text(&output));
    assert!(!command_stdout("ip", &["netns", "list"]).contains("v6lab-tdown-"));
    let mounts = command_stdout("findmnt", &["-rn", "-o", "TARGET"]);
    assert!(!mounts.contains("/v6deploy/lab/tdown/") && !mounts.contains("v6lab-tdown-"), "{mounts}");
    assert!(!Path::new("/sys/class/net").join(lab.name.bridge()).exists());
    let routes = command_stdout("ip", &["-6", "route", "show"]);
    assert!(!routes.contains(&subnet.net().to_string()), "{routes}");
    for pid in pids {
        assert!(!running(pid), "process {pid} is left");
    }
    assert!(!Path::new(lab::RUNTIME_ROOT).join("tdown").exists());
    // The files stay without --purge; the guard purges them.
    assert!(lab.inventory().exists() && lab.files().join("id_ed25519").exists());
    let again = lab.v6deploy(&["lab", "down", "-q"]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("there is no lab named \"tdown\""), "{}", text(&again));
    // A lab made meanwhile leaves the kept subnet alone (it was taken once when the suite
    // made another test's lab right here, and this lab came back on another subnet).
    let other = TestLab::up("tdown2", 1);
    let other_subnet = lab::labs(Some(&other.name)).unwrap()[0].record.subnet();
    assert_ne!(other_subnet, subnet, "lab tdown2 took the subnet kept for tdown");
    // Up again: the same subnet (taken from the kept inventory), which stays as it is; new
    // host keys in known_hosts.
    let inventory = fs::read_to_string(lab.inventory()).unwrap();
    let up = lab.v6deploy(&["lab", "up", "-q", "--hosts", "2"]);
    assert!(up.status.success(), "{}", text(&up));
    assert!(String::from_utf8_lossy(&up.stdout).contains("already lists every machine"), "{}", text(&up));
    assert_eq!(fs::read_to_string(lab.inventory()).unwrap(), inventory);
    assert_eq!(lab::labs(Some(&lab.name)).unwrap()[0].record.subnet(), subnet);
    assert!(lab.ssh_ok(lab.address(2), "hostname").starts_with("tdown-102"));
}

#[test]
fn without_root_the_lab_says_so() {
    if !is_root() {
        let output = Command::new(BIN).args(["lab", "up"]).output().unwrap();
        assert!(String::from_utf8_lossy(&output.stderr).contains("needs root"), "{}", text(&output));
        return;
    }
    let Ok(output) = Command::new("setpriv").args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN, "lab", "up"]).current_dir("/tmp").output() else {
        eprintln!("skipping without_root_the_lab_says_so: no setpriv");
        return;
    };
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("the lab needs root"), "{}", text(&output));
}

/// Regression: after `lab down` of a 5-machine lab (which keeps the inventory), `lab up
/// --hosts 3` left an inventory of 5 hosts, 2 of which did not exist; and `lab down --purge`
/// after a plain `lab down` refused. Now the kept inventory is trimmed, `check` passes on it,
/// and the purge removes the kept files.
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_smaller_lab_after_a_larger_one_gets_an_inventory_of_its_own_machines() {
    let lab = TestLab::up("tshrink", 5);
    let down = lab.v6deploy(&["lab", "down", "-q"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(lab.inventory().exists(), "a plain lab down keeps the inventory");
    let up = lab.v6deploy(&["lab", "up", "-q", "--hosts", "3"]);
    assert!(up.status.success(), "{}", text(&up));
    let inventory = v6deploy::inventory::load(&lab.inventory()).unwrap().inventory;
    assert_eq!(inventory.hosts.len(), 3, "the kept inventory was not trimmed");
    let check = support::run(&lab, &["check"]);
    assert!(check.status.success(), "check on the trimmed inventory: {}", text(&check));
    let down = lab.v6deploy(&["lab", "down", "-q"]);
    assert!(down.status.success(), "{}", text(&down));
    let purge = lab.v6deploy(&["lab", "down", "--purge", "-q"]);
    assert!(purge.status.success(), "lab down --purge after lab down: {}", text(&purge));
    assert!(!lab.inventory().exists() && !lab.files().exists(), "the kept files are still there");
}

/// A `centos7-sim` lab's bundle carries a test kernel package, so `kernel upgrade` works on a
/// new lab with no other step.
#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn a_centos7_sim_lab_upgrades_its_kernel_with_no_other_step() {
    let lab = TestLab::up_flavor("tk7new", 1, "centos7-sim");
    let upgrade = support::run(&lab, &["kernel", "upgrade"]);
    assert!(upgrade.status.success(), "{}", text(&upgrade));
    let check = support::run(&lab, &["kernel", "check"]);
    assert!(check.status.success(), "kernel check after the upgrade: {}", text(&check));
    assert!(String::from_utf8_lossy(&check.stdout).contains("4.19.113-300.el7"), "{}", text(&check));
}
