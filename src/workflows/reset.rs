//! `reset`: everything v6deploy installed taken off the hosts (all, or those of `--hosts`),
//! one "Reset" step per host (`steps::ResetHost`, one round trip to read, one to change).
//! The local store (`pki.dir/<cluster>/`: the CAs, every certificate, admin.conf, backups) is
//! never touched: a reinstall reuses it.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;

use crate::inventory::{Inventory, Role};
use crate::pki::Store;
use crate::runner::{Mode, Recap, Step};
use crate::steps::{HostReset, ResetHost};

pub use crate::steps::{Data, Unmarked};

use super::remote::Remote;

/// What `reset` did.
#[derive(Debug)]
pub struct Report {
    pub recap: Recap,
    /// What each host had removed and kept.
    pub hosts: BTreeMap<Ipv6Addr, HostReset>,
    /// The local store, kept.
    pub store: PathBuf,
    /// Warnings about the cluster the reset hosts leave (a partial reset).
    pub warnings: Vec<String>,
}

/// Resets the hosts `--hosts` selects (every host without it); hosts without this cluster's
/// marker as `unmarked` says.
pub fn reset(remote: &Remote, inv: &Inventory, data: Data, unmarked: Unmarked, mode: Mode) -> Result<Report> {
    let selected = remote.select(inv)?;
    let reports = Arc::new(Mutex::new(BTreeMap::new()));
    let steps: Vec<Box<dyn Step>> = vec![Box::new(ResetHost { data, unmarked, reports: reports.clone() })];
    let recap = remote.run_steps(inv, mode, &steps)?;
    let hosts = std::mem::take(&mut *reports.lock().unwrap_or_else(|p| p.into_inner()));
    let mut warnings = Vec::new();
    let members: Vec<Ipv6Addr> = selected.iter().filter(|h| h.has(Role::Etcd)).map(|h| h.address).collect();
    if selected.len() < inv.hosts.len() && !members.is_empty() {
        let all = inv.hosts.iter().filter(|h| h.has(Role::Etcd)).count();
        let left = all - members.len();
        let quorum = all / 2 + 1;
        let names: Vec<String> = members.iter().map(ToString::to_string).collect();
        let state = if left >= quorum { format!("{left} of {all} members still run (quorum {quorum})") } else { format!("only {left} of {all} members still run: etcd has lost its quorum ({quorum}) and the cluster stops") };
        warnings.push(format!("the etcd cluster still lists {} as members ({state}); reset does not remove members or Node objects", names.join(", ")));
    }
    Ok(Report { recap, hosts, store: Store::for_inventory(inv).root().to_path_buf(), warnings })
}
