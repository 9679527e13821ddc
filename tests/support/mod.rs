//! Helpers shared by the real-lab integration tests: a lab per test (removed by a guard),
//! the v6deploy binary run in the lab's project directory, ssh to its machines. The tests
//! that boot a lab are `#[ignore]`d (they need root); `scripts/test.sh` runs them as root.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::thread::sleep;
use std::time::{Duration, Instant};

use v6deploy::lab::{self, LabName};

pub const BIN: &str = env!("CARGO_BIN_EXE_v6deploy");

pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// `text` parsed as JSON, or a panic that shows it.
pub fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

pub fn text(output: &Output) -> String {
    format!("status {}\nstdout:\n{}\nstderr:\n{}", output.status, String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A lab of this test, removed (with its files) when dropped.
pub struct TestLab {
    pub name: LabName,
    pub project: tempfile::TempDir,
}

impl TestLab {
    /// `lab up --name NAME --hosts N` in a fresh project directory, with the Kubernetes
    /// binaries staged (see [`TestLab::stage_kubernetes`]): the tests of etcd, the PKI, SSH,
    /// node add and rotation run without a control plane starting on every machine.
    pub fn up(name: &str, hosts: u16) -> TestLab {
        let lab = TestLab::up_flavor(name, hosts, "debian");
        lab.stage_kubernetes();
        lab
    }

    /// `lab up` with the lab's whole bundle: real Kubernetes on every machine.
    pub fn up_kubernetes(name: &str, hosts: u16) -> TestLab {
        TestLab::up_flavor(name, hosts, "debian")
    }

    /// Points the lab inventory at a copy of the lab's bundle without the Kubernetes binaries
    /// and with `bundle.missing: stage`: install configures them and does not start them
    /// (etcd and containerd run). A later `lab up` leaves the copy and the inventory's bundle
    /// lines alone.
    pub fn stage_kubernetes(&self) {
        let staged = self.project.path().join("bundle-staged");
        let copied = Command::new("cp").arg("-a").arg(self.files().join("bundle")).arg(&staged).status().unwrap();
        assert!(copied.success(), "copy the lab bundle");
        for binary in ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"] {
            let _ = fs::remove_file(staged.join("bin").join(binary));
        }
        let text = fs::read_to_string(self.inventory()).unwrap();
        let bundle_line = format!("path: ../.lab/{}/bundle", self.name);
        assert!(text.contains(&bundle_line), "the lab inventory has no {bundle_line:?}: {text}");
        let text = text.replace(&bundle_line, "path: ../bundle-staged").replace("missing: refuse", "missing: stage");
        fs::write(self.inventory(), text).unwrap();
    }

    /// The same with machines of `flavor` (`lab up --flavor`).
    pub fn up_flavor(name: &str, hosts: u16, flavor: &str) -> TestLab {
        // The lab tests are `#[ignore]`d; run without root they fail here instead of passing.
        assert!(is_root(), "the lab needs root: run the lab tests as root (scripts/test.sh, or cargo test -- --include-ignored)");
        let lab = TestLab { name: LabName::parse(name).unwrap(), project: tempfile::tempdir().unwrap() };
        // A lab of this name left by an earlier, killed run goes first.
        let _ = lab.v6deploy(&["lab", "down", "--purge", "-q"]);
        let output = lab.v6deploy(&["lab", "up", "-q", "--flavor", flavor, "--hosts", &hosts.to_string()]);
        assert!(output.status.success(), "lab up failed: {}", text(&output));
        lab
    }

    /// The command for v6deploy in the project directory; `lab up|down|exec` get this lab's
    /// `--name`.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        if all.len() >= 2 && all[0] == "lab" && matches!(all[1].as_str(), "up" | "down" | "exec") {
            all.insert(2, format!("--name={}", self.name));
        }
        let mut command = Command::new(BIN);
        command.current_dir(self.project.path()).args(&all);
        command
    }

    /// Runs v6deploy in the project directory (see `command`).
    pub fn v6deploy(&self, args: &[&str]) -> Output {
        let start = Instant::now();
        let output = self.command(args).output().unwrap();
        // Where a lab test's time goes (shown with --nocapture, or for a failed test).
        eprintln!("lab {}: v6deploy {} -> {} in {:.1} s", self.name, args.join(" "), output.status, start.elapsed().as_secs_f64());
        output
    }

    /// The bundle the lab inventory uses: the staged copy (see `stage_kubernetes`), or the
    /// lab's own. (The lab's own files are hard links into the shared caches: never write them.)
    pub fn bundle(&self) -> PathBuf {
        let staged = self.project.path().join("bundle-staged");
        if staged.exists() { staged } else { self.files().join("bundle") }
    }

    /// etcdctl from the lab bundle on this machine, with the cluster's healthcheck client
    /// cert, against `endpoints`.
    pub fn etcdctl(&self, endpoints: &[Ipv6Addr], args: &[&str]) -> Output {
        let pki = self.project.path().join("certs").join(self.name.as_str()).join("etcd");
        let endpoints: Vec<String> = endpoints.iter().map(|a| format!("https://[{a}]:2379")).collect();
        Command::new(self.files().join("bundle/bin/etcdctl"))
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .arg(format!("--cacert={}", pki.join("ca.crt").display()))
            .arg(format!("--cert={}", pki.join("healthcheck-client.crt").display()))
            .arg(format!("--key={}", pki.join("healthcheck-client.key").display()))
            .arg("--command-timeout=10s")
            .args(args)
            .output()
            .unwrap()
    }

    /// The etcd members' names as `endpoint` lists them, sorted (an unstarted one by its peer URLs).
    pub fn etcd_member_names(&self, endpoint: Ipv6Addr) -> Vec<String> {
        let output = self.etcdctl(&[endpoint], &["member", "list", "-w", "json"]);
        assert!(output.status.success(), "member list: {}", text(&output));
        let members = v6deploy::facts::parse_member_list(&String::from_utf8_lossy(&output.stdout)).unwrap();
        let mut names: Vec<String> = members.into_iter().map(|m| if m.name.is_empty() { format!("(unstarted {})", m.peer_urls.join(",")) } else { m.name }).collect();
        names.sort();
        names
    }

    /// The cluster's `admin.conf` in this lab's PKI store.
    pub fn admin_conf(&self) -> PathBuf {
        self.project.path().join("certs").join(self.name.as_str()).join("admin.conf")
    }

    /// `kubectl` from the lab's bundle with the cluster's admin.conf, on this machine.
    pub fn kubectl_command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(self.files().join("bundle/bin/kubectl"));
        command.arg("--kubeconfig").arg(self.admin_conf()).args(args);
        command
    }

    /// That `kubectl`'s output, whatever its status.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_command(args).output().unwrap()
    }

    /// That `kubectl`'s stdout; it must succeed.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let output = self.kubectl(args);
        assert!(output.status.success(), "kubectl {args:?}: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn files(&self) -> PathBuf {
        self.project.path().join(".lab").join(self.name.as_str())
    }

    pub fn inventory(&self) -> PathBuf {
        self.project.path().join("inventories").join(self.name.inventory_file())
    }

    pub fn machines(&self) -> Vec<lab::Machine> {
        lab::labs(Some(&self.name)).unwrap().remove(0).machines
    }

    pub fn address(&self, ordinal: u16) -> Ipv6Addr {
        self.machines()[usize::from(ordinal) - 1].address
    }

    /// nspawn pid of every machine, by name.
    pub fn nspawn_pids(&self) -> BTreeMap<String, u32> {
        self.machines().into_iter().map(|m| (m.name.clone(), m.nspawn.map_or(0, |p| p.pid))).collect()
    }

    /// Runs `command` on a machine with the system ssh client, the lab key and strict
    /// known_hosts.
    pub fn ssh(&self, address: Ipv6Addr, command: &str) -> Output {
        lab_ssh(&self.files(), address, command)
    }

    pub fn ssh_ok(&self, address: Ipv6Addr, command: &str) -> String {
        let output = self.ssh(address, command);
        assert!(output.status.success(), "ssh root@{address} {command:?}: {}", text(&output));
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for TestLab {
    fn drop(&mut self) {
        let output = self.v6deploy(&["lab", "down", "--purge", "-q"]);
        if !output.status.success() {
            eprintln!("cleaning up lab {} failed: {}", self.name, text(&output));
        }
    }
}

pub fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    let deadline = start + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        sleep(Duration::from_millis(200));
    }
    // Where a lab test's time goes (shown with --nocapture, or for a failed test).
    eprintln!("waited {:.1} s for {what}", start.elapsed().as_secs_f64());
}

/// Runs `command` on a lab machine with the system ssh client, the lab key and the strict
/// known_hosts of `lab_files` (`.lab/<name>`).
pub fn lab_ssh(lab_files: &std::path::Path, address: Ipv6Addr, command: &str) -> Output {
    Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=5", "-o", "LogLevel=ERROR"])
        .arg("-o")
        .arg(format!("UserKnownHostsFile={}", lab_files.join("known_hosts").display()))
        .arg("-i")
        .arg(lab_files.join("id_ed25519"))
        .arg(format!("root@{address}"))
        .arg(command)
        .output()
        .unwrap()
}

/// `v6deploy -i <lab inventory> ARGS...` in the lab's project directory.
pub fn run(lab: &TestLab, args: &[&str]) -> Output {
    let inventory = lab.inventory().display().to_string();
    let mut all = vec!["-i", inventory.as_str()];
    all.extend_from_slice(args);
    lab.v6deploy(&all)
}

/// [`run`], which must succeed; its stdout.
pub fn ok(lab: &TestLab, args: &[&str]) -> String {
    let output = run(lab, args);
    assert!(output.status.success(), "v6deploy {args:?}: {}", text(&output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `kubectl exec POD -- /bin/sh -c COMMAND` in the default namespace, which must succeed.
pub fn pod_exec(lab: &TestLab, pod: &str, command: &str) -> String {
    lab.kubectl_ok(&["exec", pod, "--", "/bin/sh", "-c", command])
}

/// An HTTP GET of `path` from inside a pod with busybox's `nc` (its static `wget` crashes
/// resolving names): the last line of the answer.
pub fn get_from_pod(lab: &TestLab, pod: &str, address: &str, port: u16, path: &str) -> String {
    let answer = pod_exec(lab, pod, &format!("printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' | nc -w 5 {address} {port}"));
    answer.lines().last().unwrap_or_default().trim().to_string()
}
