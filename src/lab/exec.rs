//! `lab exec MACHINE -- CMD...`: runs a command inside a running machine with `nsenter`,
//! entering every namespace of the machine's init (nspawn's child). For tests: stopping
//! sshd, rebooting, reading state without SSH.

use std::process::{Command, Stdio};

use super::LabError;
use super::addressing::LabName;
use super::command::render;
use super::preflight;
use super::process::{self, ProcessId};
use super::state::LabDir;
use super::supervisor::Files;

/// The environment a command gets inside the machine (nothing of the caller's).
const ENVIRONMENT: &[&str] = &["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"];

/// Runs `command` in `machine` of lab `name` with this process's stdio; returns its exit code.
pub fn exec(name: &LabName, machine: &str, command: &[String]) -> Result<i32, LabError> {
    preflight::check_root()?;
    let no_machine = || LabError::NoSuchMachine { lab: name.to_string(), machine: machine.to_string() };
    let host = name.host_of_machine(machine).ok_or_else(no_machine)?;
    let lab = LabDir::new(name);
    let dir = lab.machine(host);
    if !dir.exists() {
        return Err(no_machine());
    }
    let not_running = || LabError::NotRunning { machine: name.machine(host) };
    let nspawn = ProcessId::running(&Files::new(&dir).nspawn_pid()).ok_or_else(not_running)?;
    let init = process::children(nspawn.pid).into_iter().next().ok_or_else(not_running)?;
    let mut nsenter = Command::new("nsenter");
    nsenter.args(["-t", &init.pid.to_string(), "-a", "--", "env", "-i"]).args(ENVIRONMENT).args(command).stdin(Stdio::inherit());
    let line = render(&nsenter);
    eprintln!("lab: $ {line}");
    let status = nsenter.status().map_err(|source| LabError::Spawn { command: line, source })?;
    Ok(status.code().unwrap_or(128 + 9))
}
