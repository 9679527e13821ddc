//! Gather facts: read every selected host in one round trip each, change nothing (`check`,
//! `kernel check`).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use anyhow::Result;

use crate::facts::Facts;
use crate::inventory::Inventory;
use crate::runner::{Mode, Recap};
use crate::runner::Step;
use crate::steps::{AddonsStatus, AddonsStore, CheckAddons, FactsStore, GatherFacts};

use super::remote::Remote;

/// What the hosts said.
pub struct Gathered {
    /// The run: which hosts answered.
    pub recap: Recap,
    /// The facts of every host that answered, with its clock skew in seconds.
    pub facts: BTreeMap<Ipv6Addr, (Facts, f64)>,
    /// The cluster addons' pods, asked on the first control plane (`check` only; `None` when
    /// not asked or that host was not selected or did not answer).
    pub addons: Option<AddonsStatus>,
}

/// Whether `gather` also asks the first control plane about the addons' pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addons {
    Ask,
    Skip,
}

/// Reads the facts of the hosts selected by `--hosts` (and, with `Addons::Ask`, whether the
/// addons' pods are Ready).
pub fn gather(remote: &Remote, inv: &Inventory, addons: Addons) -> Result<Gathered> {
    let store = FactsStore::default();
    let addons_store = AddonsStore::default();
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(GatherFacts { store: store.clone(), peers: inv.addresses() })];
    if let (Addons::Ask, Some(first)) = (addons, inv.first_control_plane()) {
        steps.push(Box::new(CheckAddons { store: addons_store.clone(), first_control_plane: first.address }));
    }
    let recap = remote.run_steps(inv, Mode::DryRun, &steps)?;
    let facts = store.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let addons = addons_store.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(Gathered { recap, facts, addons })
}
