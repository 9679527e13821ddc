//! The per-machine supervisor. This host has no systemd to keep a machine running, so
//! `lab up` starts `v6deploy lab supervise --machine DIR` detached (its own session), once
//! per machine. It moves itself into the machine's cgroup and runs `systemd-nspawn` in a
//! loop: when the machine reboots (`systemctl reboot` inside; nspawn exits with 133) it is
//! booted again at once; when it powers off (exit 0) it stays off; when nspawn fails it is
//! retried with a growing pause, and given up after 5 quick failures. `lab down` writes the
//! `stop` marker and sends SIGTERM to nspawn, which halts the machine cleanly.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

use super::LabError;
use super::cgroup;
use super::command::{Runner, render};
use super::process::{self, ProcessId};

/// Exit status of systemd-nspawn when the machine asked to be rebooted.
const REBOOT_EXIT: i32 = 133;
/// Consecutive quick failures after which the supervisor gives up.
const MAX_QUICK_FAILURES: u32 = 5;
/// A run shorter than this that fails counts as a quick failure.
const QUICK: Duration = Duration::from_secs(10);

/// What the supervisor needs to boot its machine (`spec.json` in the machine directory).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    /// Machine name and hostname, e.g. `lab-101`.
    pub machine: String,
    pub rootfs: PathBuf,
    /// Path of the machine's network namespace, e.g. `/run/netns/v6lab-lab-101`.
    pub netns: PathBuf,
    /// The machine's cgroup, relative to each hierarchy.
    pub cgroup: PathBuf,
    /// Capabilities beyond nspawn's default set (e.g. `CAP_NET_ADMIN`, so that a flavor's
    /// network service can set addresses in the machine's own namespace).
    #[serde(default)]
    pub capabilities: Vec<String>,
    /// Directories of this machine bound into it: (on this machine, in the machine).
    #[serde(default)]
    pub binds: Vec<(PathBuf, PathBuf)>,
}

/// The supervisor's files in a machine directory.
#[derive(Debug, Clone)]
pub struct Files {
    pub dir: PathBuf,
}

impl Files {
    pub fn new(dir: &Path) -> Files {
        Files { dir: dir.to_path_buf() }
    }
    pub fn spec(&self) -> PathBuf {
        self.dir.join("spec.json")
    }
    pub fn supervisor_pid(&self) -> PathBuf {
        self.dir.join("supervisor.pid")
    }
    pub fn nspawn_pid(&self) -> PathBuf {
        self.dir.join("nspawn.pid")
    }
    /// Present when `lab down` asked the machine to stop.
    pub fn stop(&self) -> PathBuf {
        self.dir.join("stop")
    }
    /// Present when the machine powered itself off.
    pub fn off(&self) -> PathBuf {
        self.dir.join("off")
    }
    /// Present when the supervisor gave up; holds the reason.
    pub fn failed(&self) -> PathBuf {
        self.dir.join("failed")
    }
    /// The machine's cgroup v1 controller directories (one path a line), for their removal.
    pub fn cgroups(&self) -> PathBuf {
        self.dir.join("cgroups")
    }
    /// nspawn's own output (the machine's console).
    pub fn console_log(&self) -> PathBuf {
        self.dir.join("console.log")
    }
    pub fn supervisor_log(&self) -> PathBuf {
        self.dir.join("supervisor.log")
    }
}

/// How a run of nspawn ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The machine rebooted itself.
    Reboot,
    /// The machine halted or powered off (or was halted by SIGTERM).
    PowerOff,
    /// nspawn failed or was killed.
    Failed(String),
}

/// Classifies nspawn's exit code (`None`: killed by a signal).
pub fn classify(code: Option<i32>) -> Exit {
    match code {
        Some(REBOOT_EXIT) => Exit::Reboot,
        Some(0) => Exit::PowerOff,
        Some(code) => Exit::Failed(format!("exit status {code}")),
        None => Exit::Failed("killed by a signal".to_string()),
    }
}

/// The systemd-nspawn command line for a machine. `--keep-unit` and `--register=no`: there
/// is no systemd or machined on the host to ask for a scope.
pub fn nspawn_args(spec: &Spec) -> Vec<String> {
    let mut args = vec![
        "--quiet".into(),
        "--boot".into(),
        "--register=no".into(),
        "--keep-unit".into(),
        format!("--directory={}", spec.rootfs.display()),
        format!("--machine={}", spec.machine),
        format!("--hostname={}", spec.machine),
        format!("--network-namespace-path={}", spec.netns.display()),
        "--private-users=no".into(),
        "--console=pipe".into(),
        "--resolv-conf=off".into(),
        "--timezone=off".into(),
        "--link-journal=no".into(),
    ];
    // A lab machine is a Kubernetes node (lab only; see `node`).
    args.extend(super::node::NSPAWN_ARGS.iter().map(|a| a.to_string()));
    if !spec.capabilities.is_empty() {
        args.push(format!("--capability={}", spec.capabilities.join(",")));
    }
    args.extend(spec.binds.iter().map(|(outside, inside)| format!("--bind={}:{}", outside.display(), inside.display())));
    args
}

/// Writes the spec the supervisor will read.
pub fn write_spec(files: &Files, spec: &Spec) -> Result<(), LabError> {
    let path = files.spec();
    let text = serde_json::to_string_pretty(spec).map_err(|source| LabError::State { name: spec.machine.clone(), path: path.clone(), source })?;
    fs::write(&path, text + "\n").map_err(LabError::io("write", &path))
}

fn read_spec(files: &Files) -> Result<Spec, LabError> {
    let path = files.spec();
    let text = fs::read_to_string(&path).map_err(LabError::io("read", &path))?;
    serde_json::from_str(&text).map_err(|source| LabError::State { name: files.dir.display().to_string(), path, source })
}

/// Starts the supervisor of the machine in `files.dir`, detached; returns once it has
/// written its pid file.
pub fn start(runner: &Runner, files: &Files) -> Result<ProcessId, LabError> {
    for marker in [files.stop(), files.off(), files.failed()] {
        if marker.exists() {
            fs::remove_file(&marker).map_err(LabError::io("remove", &marker))?;
        }
    }
    let exe = std::env::current_exe().map_err(LabError::io("find", "the v6deploy executable"))?;
    let log = append(&files.supervisor_log())?;
    let log_too = log.try_clone().map_err(LabError::io("open", files.supervisor_log()))?;
    let mut command = Command::new(&exe);
    command.args(["lab", "supervise", "--machine"]).arg(&files.dir).stdin(Stdio::null()).stdout(log).stderr(log_too);
    // A long-lived process: nothing of the caller's directory or environment but PATH.
    command.current_dir("/").env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into()));
    let line = render(&command);
    if runner.echo == super::command::Echo::Commands {
        eprintln!("lab: $ {line} &");
    }
    // The child is not waited for: it outlives this process and is reaped by init.
    let child = command.spawn().map_err(|source| LabError::Spawn { command: line.clone(), source })?;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(id) = ProcessId::running(&files.supervisor_pid()).filter(|p| p.pid == child.id()) {
            return Ok(id);
        }
        if Instant::now() >= deadline || ProcessId::of(child.id()).is_none() {
            let log = fs::read_to_string(files.supervisor_log()).unwrap_or_default();
            let last = log.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
            return Err(LabError::Command { command: line, status: "the supervisor did not start".into(), stderr: last });
        }
        sleep(Duration::from_millis(20));
    }
}

fn append(path: &Path) -> Result<File, LabError> {
    OpenOptions::new().create(true).append(true).open(path).map_err(LabError::io("open", path))
}

/// The supervisor itself (`v6deploy lab supervise --machine DIR`).
pub fn supervise(dir: &Path) -> Result<(), LabError> {
    let files = Files::new(dir);
    // Fails only when already a session leader, which is as detached as it gets.
    let _ = nix::unistd::setsid();
    let me = ProcessId::current().ok_or_else(|| LabError::io("read", "/proc/self/stat")(std::io::ErrorKind::NotFound.into()))?;
    if let Some(other) = ProcessId::running(&files.supervisor_pid()).filter(|p| *p != me) {
        return Err(LabError::AlreadySupervised { machine: dir.to_path_buf(), pid: other.pid });
    }
    let spec = read_spec(&files)?;
    cgroup::enter(&spec.cgroup, me.pid)?;
    let controllers = cgroup::enter_controllers(&spec.cgroup, me.pid)?;
    let listed: String = controllers.iter().map(|d| format!("{}\n", d.display())).collect();
    fs::write(files.cgroups(), listed).map_err(LabError::io("write", files.cgroups()))?;
    let propagate = Path::new("/run/systemd/nspawn/propagate");
    fs::create_dir_all(propagate).map_err(LabError::io("create", propagate))?;
    me.write(&files.supervisor_pid())?;
    log(&format!("supervising {} (pid {})", spec.machine, me.pid));
    let result = run_loop(&files, &spec);
    let _ = fs::remove_file(files.nspawn_pid());
    let _ = fs::remove_file(files.supervisor_pid());
    log("supervisor exits");
    result
}

fn run_loop(files: &Files, spec: &Spec) -> Result<(), LabError> {
    let mut quick_failures = 0;
    while !files.stop().exists() {
        let started = Instant::now();
        let status = run_nspawn(files, spec)?;
        if files.stop().exists() {
            log(&format!("nspawn exited ({status}) after lab down asked it to"));
            break;
        }
        match classify(status.code()) {
            Exit::Reboot => {
                log("the machine rebooted; booting it again");
                quick_failures = 0;
            }
            Exit::PowerOff => {
                log("the machine powered off; it stays off until `v6deploy lab up`");
                fs::write(files.off(), "powered off from inside\n").map_err(LabError::io("write", files.off()))?;
                break;
            }
            Exit::Failed(why) => {
                quick_failures = if started.elapsed() < QUICK { quick_failures + 1 } else { 1 };
                if quick_failures >= MAX_QUICK_FAILURES {
                    let reason = format!("systemd-nspawn failed {quick_failures} times in a row ({why}); see {}\n", files.console_log().display());
                    log(&reason);
                    fs::write(files.failed(), reason).map_err(LabError::io("write", files.failed()))?;
                    break;
                }
                let pause = Duration::from_secs(1 << quick_failures);
                log(&format!("systemd-nspawn failed ({why}); retrying in {} s", pause.as_secs()));
                pause_unless_stopped(files, pause);
            }
        }
    }
    Ok(())
}

fn run_nspawn(files: &Files, spec: &Spec) -> Result<ExitStatus, LabError> {
    let console = append(&files.console_log())?;
    let console_too = console.try_clone().map_err(LabError::io("open", files.console_log()))?;
    let mut command = Command::new("systemd-nspawn");
    // A lab machine must behave like a host whose root can set network sysctls (IPv6
    // forwarding): make /proc/sys/net writable; the rest of /proc/sys stays read-only.
    command.env("SYSTEMD_NSPAWN_API_VFS_WRITABLE", "network");
    command.args(nspawn_args(spec)).stdin(Stdio::null()).stdout(console).stderr(console_too);
    let line = render(&command);
    log(&format!("$ {line}"));
    let mut child = command.spawn().map_err(|source| LabError::Spawn { command: line.clone(), source })?;
    if let Some(id) = ProcessId::of(child.id()) {
        id.write(&files.nspawn_pid())?;
    }
    let status = child.wait().map_err(|source| LabError::Spawn { command: line, source })?;
    let _ = fs::remove_file(files.nspawn_pid());
    log(&format!("systemd-nspawn exited: {status}"));
    Ok(status)
}

fn pause_unless_stopped(files: &Files, pause: Duration) {
    let until = Instant::now() + pause;
    while Instant::now() < until && !files.stop().exists() {
        sleep(Duration::from_millis(100));
    }
}

fn log(message: &str) {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    eprintln!("lab supervise [{seconds}]: {message}");
}

/// Stops the machines in `dirs`: writes their `stop` markers, asks every nspawn to halt its
/// machine (SIGTERM), and waits for the supervisors to exit; after `timeout` the rest is
/// killed. Machines are stopped together, so 50 take about as long as one.
pub fn stop_all(runner: &Runner, dirs: &[PathBuf], timeout: Duration) -> Result<(), LabError> {
    let all: Vec<Files> = dirs.iter().map(|d| Files::new(d)).collect();
    for files in &all {
        if files.dir.exists() {
            fs::write(files.stop(), "lab down\n").map_err(LabError::io("write", files.stop()))?;
        }
    }
    let mut signalled: Vec<ProcessId> = Vec::new();
    let deadline = Instant::now() + timeout;
    loop {
        let mut running = Vec::new();
        for files in &all {
            if let Some(nspawn) = ProcessId::running(&files.nspawn_pid()) {
                // No grace: straight to SIGKILL below.
                if !signalled.contains(&nspawn) && !timeout.is_zero() {
                    runner.note(format!("halting {} (SIGTERM to systemd-nspawn pid {})", files.dir.display(), nspawn.pid));
                    nspawn.signal(Signal::SIGTERM);
                    signalled.push(nspawn);
                }
                running.push(("systemd-nspawn", nspawn));
            }
            if let Some(supervisor) = ProcessId::running(&files.supervisor_pid()) {
                running.push(("supervisor", supervisor));
            }
        }
        if running.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return kill(runner, &running);
        }
        sleep(Duration::from_millis(50));
    }
}

/// SIGKILL for what did not stop in time: nspawn's child (the machine's init, so the whole
/// machine goes), nspawn, the supervisor.
fn kill(runner: &Runner, running: &[(&str, ProcessId)]) -> Result<(), LabError> {
    let mut targets = Vec::new();
    for (what, process) in running {
        if *what == "systemd-nspawn" {
            targets.extend(process::children(process.pid).into_iter().map(|c| ("machine init", c)));
        }
        targets.push((*what, *process));
    }
    for (what, process) in &targets {
        runner.note(format!("{what} pid {} did not stop; sending SIGKILL", process.pid));
        process.signal(Signal::SIGKILL);
    }
    let processes: Vec<ProcessId> = targets.iter().map(|(_, p)| *p).collect();
    match process::wait_gone(&processes, Duration::from_secs(5)).first() {
        Some(left) => {
            let what = targets.iter().find(|(_, p)| p == left).map_or("a lab process", |(w, _)| w);
            Err(LabError::DidNotStop { what: what.to_string(), pid: left.pid, seconds: 5 })
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reboot_boots_again_poweroff_stays_off() {
        assert_eq!(classify(Some(133)), Exit::Reboot);
        assert_eq!(classify(Some(0)), Exit::PowerOff);
        assert_eq!(classify(Some(1)), Exit::Failed("exit status 1".into()));
        assert_eq!(classify(None), Exit::Failed("killed by a signal".into()));
    }

    #[test]
    fn nspawn_joins_the_namespace_and_skips_machined() {
        let spec = Spec {
            machine: "lab-101".into(),
            rootfs: "/var/lib/v6deploy/lab/lab/machines/101/rootfs".into(),
            netns: "/run/netns/v6lab-lab-101".into(),
            cgroup: "v6lab/lab/101".into(),
            capabilities: Vec::new(),
            binds: vec![("/var/lib/v6deploy/lab/lab/machines/101/containerd".into(), "/var/lib/containerd".into())],
        };
        let args = nspawn_args(&spec);
        for expected in [
            "--boot",
            "--register=no",
            "--keep-unit",
            "--directory=/var/lib/v6deploy/lab/lab/machines/101/rootfs",
            "--machine=lab-101",
            "--network-namespace-path=/run/netns/v6lab-lab-101",
            "--capability=all",
            "--system-call-filter=@keyring bpf",
            "--bind=/dev/kmsg",
            "--bind=/var/lib/v6deploy/lab/lab/machines/101/containerd:/var/lib/containerd",
        ] {
            assert!(args.iter().any(|a| a == expected), "{expected} missing from {args:?}");
        }
    }
}
