//! Kernel limits that many machines run into. Each machine's systemd, dbus and logind hold
//! about six inotify instances, all counted against root, and the usual limit
//! (`fs.inotify.max_user_instances`, 128) stops the 22nd machine or so from booting: its
//! systemd exits at once with status 255 and says nothing. `lab up` raises the limit to fit
//! every lab's machines; it never lowers it.

use std::fs;

use super::LabError;
use super::command::Runner;

const MAX_USER_INSTANCES: &str = "/proc/sys/fs/inotify/max_user_instances";
/// Instances per machine, with room to spare (six measured).
const PER_MACHINE: u64 = 8;
/// Left for everything else root runs.
const HEADROOM: u64 = 128;

/// The inotify instance limit `machines` machines need.
pub fn needed_inotify_instances(machines: u64) -> u64 {
    HEADROOM + PER_MACHINE * machines
}

/// Raises `fs.inotify.max_user_instances` when it is too low for `machines` machines.
pub fn ensure(runner: &Runner, machines: u64) -> Result<(), LabError> {
    let current: u64 = fs::read_to_string(MAX_USER_INSTANCES)
        .map_err(LabError::io("read", MAX_USER_INSTANCES))?
        .trim()
        .parse()
        .unwrap_or(0);
    let needed = needed_inotify_instances(machines);
    if current >= needed {
        return Ok(());
    }
    runner.note(format!("raising fs.inotify.max_user_instances from {current} to {needed} for {machines} machines (each machine's systemd needs several)"));
    fs::write(MAX_USER_INSTANCES, needed.to_string()).map_err(LabError::io("write", MAX_USER_INSTANCES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifty_machines_need_more_than_the_usual_128() {
        assert_eq!(needed_inotify_instances(0), 128);
        assert_eq!(needed_inotify_instances(50), 528);
    }
}
