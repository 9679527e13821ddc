//! Processes the lab started: recorded in pid files as pid plus start time, so a pid the
//! kernel has since given to another process is never signalled.

use std::fs;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::LabError;

/// One process: its pid and its start time in clock ticks since boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessId {
    pub pid: u32,
    pub start: u64,
}

/// The fields of `/proc/PID/stat` the lab reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub state: char,
    pub parent: u32,
    pub start: u64,
}

/// Parses `/proc/PID/stat`; the command name may hold spaces and parentheses, so fields are
/// counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3 of stat(5), ppid 4, starttime 22.
    Some(Stat {
        state: fields.first()?.chars().next()?,
        parent: fields.get(1)?.parse().ok()?,
        start: fields.get(19)?.parse().ok()?,
    })
}

fn stat(pid: u32) -> Option<Stat> {
    parse_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

impl ProcessId {
    /// The process now running as `pid`, if any (zombies count as gone).
    pub fn of(pid: u32) -> Option<ProcessId> {
        stat(pid).filter(|s| s.state != 'Z' && s.state != 'X').map(|s| ProcessId { pid, start: s.start })
    }

    /// This process.
    pub fn current() -> Option<ProcessId> {
        ProcessId::of(std::process::id())
    }

    /// Whether this very process still runs.
    pub fn alive(self) -> bool {
        ProcessId::of(self.pid) == Some(self)
    }

    /// Sends `signal` if the process still runs; returns whether it was sent.
    pub fn signal(self, signal: Signal) -> bool {
        let Ok(pid) = i32::try_from(self.pid) else { return false };
        self.alive() && kill(Pid::from_raw(pid), signal).is_ok()
    }

    /// Reads a pid file written by `write`; a missing or garbled file is `None`.
    pub fn read(path: &Path) -> Option<ProcessId> {
        let text = fs::read_to_string(path).ok()?;
        let mut words = text.split_whitespace();
        Some(ProcessId { pid: words.next()?.parse().ok()?, start: words.next()?.parse().ok()? })
    }

    /// The process a pid file names, if it still runs.
    pub fn running(path: &Path) -> Option<ProcessId> {
        ProcessId::read(path).filter(|p| p.alive())
    }

    pub fn write(self, path: &Path) -> Result<(), LabError> {
        fs::write(path, format!("{} {}\n", self.pid, self.start)).map_err(LabError::io("write", path))
    }
}

/// Every process whose parent is `parent`.
pub fn children(parent: u32) -> Vec<ProcessId> {
    pids().filter(|&pid| stat(pid).is_some_and(|s| s.parent == parent)).filter_map(ProcessId::of).collect()
}

/// Every process whose command line (split at NULs) satisfies `matches`.
pub fn find(matches: impl Fn(&[String]) -> bool) -> Vec<ProcessId> {
    pids()
        .filter(|pid| {
            let Ok(bytes) = fs::read(format!("/proc/{pid}/cmdline")) else { return false };
            let words: Vec<String> = bytes.split(|b| *b == 0).filter(|w| !w.is_empty()).map(|w| String::from_utf8_lossy(w).into_owned()).collect();
            !words.is_empty() && matches(&words)
        })
        .filter_map(ProcessId::of)
        .collect()
}

fn pids() -> impl Iterator<Item = u32> {
    fs::read_dir("/proc").into_iter().flatten().flatten().filter_map(|e| e.file_name().to_str()?.parse().ok())
}

/// Waits until none of `processes` runs or `timeout` passes; returns those still running.
pub fn wait_gone(processes: &[ProcessId], timeout: Duration) -> Vec<ProcessId> {
    let deadline = Instant::now() + timeout;
    loop {
        let running: Vec<ProcessId> = processes.iter().copied().filter(|p| p.alive()).collect();
        if running.is_empty() || Instant::now() >= deadline {
            return running;
        }
        sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_and_parentheses_in_the_name() {
        let text = "4242 (sd (pam) x) S 17 4242 4242 0 -1 4194560 143 0 0 0 0 0 0 0 20 0 1 0 987654 10092544 200 18446744073709551615";
        assert_eq!(parse_stat(text), Some(Stat { state: 'S', parent: 17, start: 987654 }));
        assert_eq!(parse_stat("12 (x) Z 1"), None);
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_alive_and_a_changed_start_time_is_not() {
        let me = ProcessId::current().unwrap();
        assert!(me.alive());
        assert!(!ProcessId { start: me.start + 1, ..me }.alive());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pid");
        me.write(&file).unwrap();
        assert_eq!(ProcessId::running(&file), Some(me));
        assert_eq!(ProcessId::read(&dir.path().join("missing")), None);
    }
}
