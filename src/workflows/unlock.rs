//! `unlock`: the run locks of the hosts (all, or those of `--hosts`) shown with their holders
//! and released. Runs without taking the lock itself (it is what it releases).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use anyhow::Result;

use crate::inventory::Inventory;
use crate::runner::{Mode, Recap, Step};
use crate::steps::{LockHolders, UnlockHost};

use super::remote::Remote;

/// What `unlock` found and did.
#[derive(Debug)]
pub struct Report {
    pub recap: Recap,
    /// Each host's holder before the run (`None`: it was not locked).
    pub holders: BTreeMap<Ipv6Addr, Option<String>>,
}

/// Shows (dry run) or releases the locks of the selected hosts.
pub fn unlock(remote: &Remote, inv: &Inventory, mode: Mode) -> Result<Report> {
    let holders = LockHolders::default();
    let steps: Vec<Box<dyn Step>> = vec![Box::new(UnlockHost { holders: holders.clone() })];
    let recap = remote.run_steps_without_lock(inv, mode, &steps)?;
    let holders = std::mem::take(&mut *holders.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(Report { recap, holders })
}
