//! Gather facts: read every selected host in one round trip each, change nothing (`check`,
//! `kernel check`).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use anyhow::Result;

use crate::facts::Facts;
use crate::inventory::Inventory;
use crate::runner::{Mode, Recap};
use crate::steps::{FactsStore, GatherFacts};

use super::remote::Remote;

/// What the hosts said.
pub struct Gathered {
    /// The run: which hosts answered.
    pub recap: Recap,
    /// The facts of every host that answered, with its clock skew in seconds.
    pub facts: BTreeMap<Ipv6Addr, (Facts, f64)>,
}

/// Reads the facts of the hosts selected by `--hosts`.
pub fn gather(remote: &Remote, inv: &Inventory) -> Result<Gathered> {
    let store = FactsStore::default();
    let recap = remote.run_steps(inv, Mode::DryRun, &[Box::new(GatherFacts { store: store.clone() })])?;
    let facts = store.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(Gathered { recap, facts })
}
