//! What a lab's machines are doing, read from pid files, markers and the SSH port.

use std::fs;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6, TcpStream};
use std::path::PathBuf;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::addressing::{HostNumber, LabName, Subnet};
use super::process::ProcessId;
use super::state::{LabDir, LabRecord, ProjectFiles, all_records};
use super::supervisor::Files;
use super::LabError;

/// A machine's state, as far as the host can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Supervisor and nspawn run.
    Running,
    /// The supervisor runs but nspawn does not (between a reboot and the next boot, or
    /// pausing after a failure).
    Restarting,
    /// The machine powered itself off.
    Off,
    /// The supervisor gave up; the reason.
    Failed(String),
    /// Nothing runs (never started, or the host restarted).
    Stopped,
}

impl State {
    pub fn word(&self) -> &'static str {
        match self {
            State::Running => "running",
            State::Restarting => "restarting",
            State::Off => "off",
            State::Failed(_) => "failed",
            State::Stopped => "stopped",
        }
    }

    /// Whether a supervisor looks after the machine (so `lab up` leaves it alone).
    pub fn supervised(&self) -> bool {
        matches!(self, State::Running | State::Restarting)
    }
}

/// One machine.
#[derive(Debug, Clone)]
pub struct Machine {
    pub host: HostNumber,
    pub name: String,
    pub address: Ipv6Addr,
    pub dir: PathBuf,
    pub supervisor: Option<ProcessId>,
    pub nspawn: Option<ProcessId>,
    pub state: State,
}

/// Reads a machine's state (no network access).
pub fn inspect(lab: &LabDir, subnet: Subnet, host: HostNumber) -> Machine {
    let dir = lab.machine(host);
    let files = Files::new(&dir);
    let supervisor = ProcessId::running(&files.supervisor_pid());
    let nspawn = ProcessId::running(&files.nspawn_pid());
    let state = match (supervisor, nspawn) {
        (Some(_), Some(_)) => State::Running,
        (Some(_), None) => State::Restarting,
        (None, _) if files.failed().exists() => State::Failed(fs::read_to_string(files.failed()).unwrap_or_default().trim().to_string()),
        (None, _) if files.off().exists() => State::Off,
        (None, _) => State::Stopped,
    };
    Machine { host, name: lab.name.machine(host), address: subnet.host(host), dir, supervisor, nspawn, state }
}

/// Whether `[address]:22` accepts a TCP connection within `timeout`.
pub fn ssh_port_open(address: Ipv6Addr, timeout: Duration) -> bool {
    TcpStream::connect_timeout(&SocketAddr::V6(SocketAddrV6::new(address, 22, 0, 0)), timeout).is_ok()
}

/// Waits until every address accepts connections on port 22; returns those that did not.
pub fn wait_ssh(addresses: &[(String, Ipv6Addr)], timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    let mut waiting: Vec<&(String, Ipv6Addr)> = addresses.iter().collect();
    while !waiting.is_empty() && Instant::now() < deadline {
        waiting.retain(|(_, address)| !ssh_port_open(*address, Duration::from_millis(300)));
        if !waiting.is_empty() {
            sleep(Duration::from_millis(200));
        }
    }
    waiting.into_iter().map(|(name, _)| name.clone()).collect()
}

/// A lab and its machines.
#[derive(Debug, Clone)]
pub struct Lab {
    pub record: LabRecord,
    pub files: ProjectFiles,
    pub machines: Vec<Machine>,
}

/// The state of one lab (`Some(name)`) or of every lab.
pub fn labs(name: Option<&LabName>) -> Result<Vec<Lab>, LabError> {
    let records = match name {
        Some(name) => vec![LabDir::new(name).load()?.ok_or_else(|| LabError::NoSuchLab { name: name.to_string() })?],
        None => all_records()?,
    };
    let mut labs = Vec::new();
    for record in records {
        let Ok(name) = LabName::parse(&record.name) else { continue };
        let dir = LabDir::new(&name);
        let machines = HostNumber::first(record.hosts).map(|h| inspect(&dir, record.subnet(), h)).collect();
        let files = ProjectFiles { project: record.project.clone(), name };
        labs.push(Lab { record, files, machines });
    }
    Ok(labs)
}
