//! `reset` on a real cluster: one host with `--hosts`, then every host with `--purge-data`,
//! then `install` again. The lab test boots machines and needs root: `#[ignore]`d, run by
//! `scripts/test.sh` as root.

mod support;

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::{TestLab, json, ok, run, text, wait_for};
use v6deploy::components::{ALL, UNIT_DIR};
use v6deploy::net::NodeName;

/// The files `render` lists for each host (`DIR/<node name>/<path on the host>`), by node name.
fn rendered_files(lab: &TestLab) -> BTreeMap<String, Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("render");
    ok(lab, &["render", "--dir", out.to_str().unwrap()]);
    fn walk(dir: &Path, root: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, found);
            } else {
                found.push(format!("/{}", path.strip_prefix(root).unwrap().display()));
            }
        }
    }
    let mut hosts = BTreeMap::new();
    for machine in lab.machines() {
        let name = NodeName::encode(machine.address).to_string();
        let root = out.join(&name);
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        assert!(files.len() > 20, "render listed only {files:?} for {name}");
        hosts.insert(name, files);
    }
    hosts
}

/// The rendered files of `address` that exist on it. The ifcfg file is the host's network
/// configuration, which reset keeps by design (and the lab never writes).
fn existing(lab: &TestLab, address: Ipv6Addr, files: &[String]) -> Vec<String> {
    let files: Vec<&String> = files.iter().filter(|f| !f.starts_with("/etc/sysconfig/network-scripts/")).collect();
    let script: String = files.iter().map(|f| format!("[ ! -e '{f}' ] || echo '{f}'\n")).collect();
    lab.ssh_ok(address, &script).lines().map(str::to_string).collect()
}

/// The catalog's units and ports.
fn units() -> Vec<String> {
    ALL.iter().flat_map(|c| c.files).filter_map(|f| f.path.strip_prefix(&format!("{UNIT_DIR}/")).map(str::to_string)).collect()
}

fn ports() -> Vec<u16> {
    ALL.iter().flat_map(|c| c.ports.iter().copied()).collect()
}

/// A reset host: none of its rendered files, no v6deploy unit known to systemd, none of the
/// components' ports listening, no process of a v6deploy binary or CNI plugin, no node names in /etc/hosts,
/// no pod route or pod interface.
fn assert_reset(lab: &TestLab, address: Ipv6Addr, files: &[String]) {
    let left = existing(lab, address, files);
    assert!(left.is_empty(), "{address}: rendered files left after reset: {left:?}");
    for unit in units() {
        let state = lab.ssh_ok(address, &format!("systemctl show -p LoadState -p ActiveState {unit}"));
        assert!(state.contains("LoadState=not-found") && state.contains("ActiveState=inactive"), "{address}: {unit} after reset: {state}");
    }
    let managed = lab.ssh_ok(address, &format!("grep -rl 'Managed by v6deploy' {UNIT_DIR} || true"));
    assert!(managed.trim().is_empty(), "{address}: v6deploy units left: {managed}");
    let listening = lab.ssh_ok(address, "ss -Hltn | awk '{print $4}'");
    for line in listening.lines() {
        let port: u16 = line.rsplit(':').next().unwrap().parse().unwrap();
        assert!(!ports().contains(&port), "{address}: port {port} still listens after reset: {listening}");
    }
    let processes = lab.ssh_ok(address, "for p in /proc/[0-9]*; do readlink $p/exe; done 2>/dev/null | grep -E '^/usr/local/bin/|^/opt/cni/bin/|^/pause' || true");
    assert!(processes.trim().is_empty(), "{address}: processes left: {processes}");
    let hosts = lab.ssh_ok(address, "cat /etc/hosts");
    assert!(!hosts.contains("v6deploy"), "{address}: /etc/hosts: {hosts}");
    let links = lab.ssh_ok(address, "ip -o link show | awk -F': ' '{print $2}'");
    let pod_links: Vec<&str> = links.lines().filter(|l| l.starts_with("cni0") || l.starts_with("veth")).collect();
    assert!(pod_links.is_empty(), "{address}: pod interfaces left: {links}");
    let pod_cidr = v6deploy::inventory::load(&lab.inventory()).unwrap().inventory.cluster.pod_cidr;
    let routes = lab.ssh_ok(address, "ip -6 route show");
    let pod_routes: Vec<&str> = routes.lines().filter(|l| l.split_whitespace().next().and_then(|n| n.parse::<ipnet::Ipv6Net>().ok()).is_some_and(|n| pod_cidr.contains(&n))).collect();
    assert!(pod_routes.is_empty(), "{address}: pod routes left: {routes}");
    let mounts = lab.ssh_ok(address, "grep -E ' /var/lib/kubelet| /run/containerd| /run/netns' /proc/mounts || true");
    assert!(mounts.trim().is_empty(), "{address}: mounts left: {mounts}");
}

fn nodes_ready(lab: &TestLab) -> bool {
    let output = lab.kubectl(&["get", "nodes", "-o", "json"]);
    let Ok(nodes) = serde_json::from_slice::<Value>(&output.stdout) else { return false };
    let Some(items) = nodes["items"].as_array() else { return false };
    items.len() == 3 && items.iter().all(|n| n["status"]["conditions"].as_array().is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True")))
}

/// The changes a JSON recap lists for `host`, as "what" strings.
fn changes(report: &Value, host: Ipv6Addr) -> Vec<String> {
    report["recap"]["changes"].as_array().unwrap().iter().filter(|c| c["host"] == host.to_string()).map(|c| c["target"].as_str().unwrap().to_string()).collect()
}

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn reset_one_host_then_all_then_install_again() {
    let lab = TestLab::up_kubernetes("trs1", 3);
    ok(&lab, &["install"]);
    wait_for("3 Ready nodes", Duration::from_secs(180), || nodes_ready(&lab));
    let rendered = rendered_files(&lab);
    let addresses: Vec<Ipv6Addr> = lab.machines().iter().map(|m| m.address).collect();
    let files = |address: Ipv6Addr| rendered[NodeName::encode(address).as_str()].clone();
    let third = addresses[2];
    let ca = std::fs::read(lab.project.path().join("certs").join(lab.name.as_str()).join("ca.crt")).unwrap();

    // Without a terminal and without --yes: refused, exit 1 (a usage error), nothing touched.
    let refused = Command::new(support::BIN).current_dir(lab.project.path()).args(["-i", lab.inventory().to_str().unwrap(), "reset", "--hosts", &third.to_string()]).stdin(Stdio::null()).output().unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("add --yes"), "{}", text(&refused));
    lab.ssh_ok(third, "systemctl is-active etcd kubelet containerd");

    // After install every rendered file is on the host (the ifcfg file aside: the lab does not
    // manage its network), so the checks below look at real files.
    let installed = existing(&lab, third, &files(third));
    assert_eq!(installed.len(), files(third).iter().filter(|f| !f.starts_with("/etc/sysconfig/")).count(), "{installed:?}");

    // The dry run names every rendered file on the host (or a directory holding it), changes
    // nothing, and only the selected host.
    let plan = json(&ok(&lab, &["reset", "--hosts", &third.to_string(), "--dry-run", "--output", "json"]));
    let planned = changes(&plan, third);
    assert!(changes(&plan, addresses[0]).is_empty(), "{plan}");
    assert!(plan["recap"]["changes"].as_array().unwrap().iter().all(|c| c["applied"] == false));
    for file in &installed {
        let named = planned.iter().any(|p| *p == format!("remove {file}") || p.strip_prefix("remove ").and_then(|d| d.strip_suffix(" (with all it holds)")).is_some_and(|d| file.starts_with(&format!("{d}/"))));
        assert!(named, "the dry run does not name {file}: {planned:#?}");
    }
    for wanted in ["stop and disable etcd.service", "stop and disable kubelet.service", "delete every container and task", "systemctl daemon-reload"] {
        assert!(planned.iter().any(|p| p == wanted), "no {wanted:?} in {planned:#?}");
    }
    lab.ssh_ok(third, "systemctl is-active etcd kubelet containerd && test -f /etc/etcd/etcd.conf.yml");
    let text_plan = ok(&lab, &["reset", "--hosts", &third.to_string(), "--dry-run"]);
    eprintln!("{text_plan}");
    assert!(text_plan.starts_with("PLAN (dry-run: nothing was changed)"), "{text_plan}");
    assert!(text_plan.contains(&format!("{third}: would run remove /etc/etcd/etcd.conf.yml (etcd)")), "{text_plan}");
    assert!(text_plan.contains(&format!("{third}: kept /var/lib/etcd (etcd's data: reset --purge-data removes it)")), "{text_plan}");

    // One host: reset, its etcd data kept; the others untouched and the cluster still up.
    let started = std::time::Instant::now();
    let report = json(&ok(&lab, &["reset", "--hosts", &third.to_string(), "--yes", "--output", "json"]));
    eprintln!("reset of one host: {:?}", started.elapsed());
    let host = &report["hosts"][0];
    assert_eq!(host["host"], third.to_string(), "{report}");
    assert!(host["kept"].as_array().unwrap().iter().any(|k| k["path"] == "/var/lib/etcd"), "{report}");
    assert!(report["warnings"][0].as_str().unwrap().contains("still lists"), "{report}");
    assert_reset(&lab, third, &files(third));
    lab.ssh_ok(third, "test -d /var/lib/etcd/member");
    for other in &addresses[..2] {
        lab.ssh_ok(*other, "systemctl is-active etcd kube-apiserver kubelet containerd");
    }
    // A second reset finds nothing to do.
    let again = json(&ok(&lab, &["reset", "--hosts", &third.to_string(), "--yes", "--output", "json"]));
    let left = changes(&again, third);
    assert!(left.is_empty(), "the second reset still changed {left:?}: {again}");
    assert_eq!(again["recap"]["hosts"][0]["status"], "ok", "{again}");

    // Every host, with etcd's data.
    let started = std::time::Instant::now();
    let text_out = ok(&lab, &["reset", "--yes", "--purge-data"]);
    eprintln!("reset of every host: {:?}\n{text_out}", started.elapsed());
    assert!(text_out.contains("kept on this machine"), "{text_out}");
    for address in &addresses {
        assert_reset(&lab, *address, &files(*address));
        // The lab binds /var/lib/containerd in (as a host with a disk of its own there has it
        // mounted): a mount point stays, emptied.
        lab.ssh_ok(
            *address,
            "test ! -e /var/lib/etcd && test ! -e /etc/v6deploy && test ! -e /var/lib/kubelet && \
             { test ! -e /var/lib/containerd || { mountpoint -q /var/lib/containerd && [ -z \"$(ls -A /var/lib/containerd)\" ]; }; }",
        );
    }
    let kept_ca = std::fs::read(lab.project.path().join("certs").join(lab.name.as_str()).join("ca.crt")).unwrap();
    assert_eq!(kept_ca, ca, "the local CA is kept");

    // install works again on the reset hosts, with the kept CA.
    ok(&lab, &["install"]);
    wait_for("3 Ready nodes after reinstalling", Duration::from_secs(180), || nodes_ready(&lab));
    let on_host = lab.ssh_ok(third, "cat /etc/kubernetes/pki/ca.crt");
    assert_eq!(on_host.as_bytes(), ca.as_slice());

    // The attack of the security review: a host without this cluster's marker (here: removed
    // by hand; in the field, a machine whose distribution runs containerd or etcd) was reset.
    // Refused now, nothing stopped; --force resets it.
    lab.ssh_ok(third, "rm /etc/v6deploy/member && rm -f /var/lib/v6deploy/reset-of");
    let foreign = run(&lab, &["reset", "--hosts", &third.to_string(), "--yes"]);
    assert_eq!(foreign.status.code(), Some(2), "{}", text(&foreign));
    assert!(String::from_utf8_lossy(&foreign.stdout).contains("no membership marker of cluster") || String::from_utf8_lossy(&foreign.stderr).contains("no membership marker of cluster"), "{}", text(&foreign));
    lab.ssh_ok(third, "systemctl is-active etcd kubelet containerd && test -f /etc/etcd/etcd.conf.yml");
    ok(&lab, &["reset", "--hosts", &third.to_string(), "--yes", "--force"]);
    assert_reset(&lab, third, &files(third));
}

/// Without a terminal to ask on, reset refuses before connecting anywhere unless --yes is
/// given (exit 1, a usage error, and says so); `--dry-run` needs no confirmation.
#[test]
fn reset_without_a_terminal_needs_yes() {
    let inventory = concat!(env!("CARGO_MANIFEST_DIR"), "/inventories/field-report.yaml");
    let refused = Command::new(support::BIN).args(["-i", inventory, "reset", "--connect-timeout", "1"]).stdin(Stdio::null()).output().unwrap();
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("reset removes everything v6deploy installed on every host of cluster") && stderr.contains("add --yes"), "{}", text(&refused));
    assert!(refused.stdout.is_empty(), "{}", text(&refused));
    let help = Command::new(support::BIN).args(["reset", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in ["--yes", "--purge-data", "--dry-run", "--hosts", "--output"] {
        assert!(help.contains(flag), "{help}");
    }
}

/// On a terminal (tmux) reset asks for the cluster name; another answer changes nothing
/// (exit 1, before connecting anywhere). Skipped without tmux.
#[test]
fn on_a_terminal_reset_asks_and_a_wrong_answer_stops_it() {
    if !Command::new("tmux").arg("-V").output().is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: no tmux");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let done = dir.path().join("exit");
    let inventory = concat!(env!("CARGO_MANIFEST_DIR"), "/inventories/field-report.yaml");
    let script = format!("{} -i {inventory} reset; echo $? > {}; sleep 60", support::BIN, done.display());
    let session = format!("v6deploy-reset-{}", std::process::id());
    let tmux = |args: &[&str]| Command::new("tmux").args(args).output().unwrap();
    assert!(tmux(&["new-session", "-d", "-s", &session, "-x", "200", "-y", "20", &script]).status.success());
    let pane = || String::from_utf8_lossy(&tmux(&["capture-pane", "-p", "-t", &session]).stdout).into_owned();
    wait_for("the prompt", Duration::from_secs(10), || pane().contains("to go on:"));
    let asked = pane();
    tmux(&["send-keys", "-t", &session, "field-reportx", "Enter"]);
    wait_for("reset to end", Duration::from_secs(10), || done.exists() && !std::fs::read_to_string(&done).unwrap_or_default().is_empty());
    let after = pane();
    tmux(&["kill-session", "-t", &session]);
    assert!(asked.contains("Type the cluster name (field-report) or 'yes' to go on:"), "{asked}");
    assert_eq!(std::fs::read_to_string(&done).unwrap().trim(), "1", "{after}");
    assert!(after.contains("not confirmed: nothing was changed") && !after.contains("connecting"), "{after}");
}
