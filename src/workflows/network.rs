//! Network apply: gather facts, then put each host's ifcfg file in place under a rollback
//! timer (`network.manage: true`).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use std::path::Path;

use anyhow::{Result, bail};

use crate::components::IFCFG_DIR;
use crate::inventory::{Inventory, NetworkManagement};
use crate::render::{Rendered, Templates, render};
use crate::runner::{Mode, Recap, Step};
use crate::steps::{FactsStore, GatherFacts, NetworkApply};

use super::remote::Remote;

/// The rendered ifcfg file of every host.
pub fn desired_ifcfg(rendered: &Rendered) -> BTreeMap<Ipv6Addr, String> {
    rendered
        .hosts
        .iter()
        .filter_map(|h| h.files.iter().find(|f| f.path.starts_with(&format!("{IFCFG_DIR}/ifcfg-"))).map(|f| (h.address, f.contents.clone())))
        .collect()
}

/// The steps of `network apply`.
pub fn steps(facts: &FactsStore, rendered: &Rendered) -> Vec<Box<dyn Step>> {
    vec![Box::new(GatherFacts { store: facts.clone(), peers: Vec::new() }), Box::new(NetworkApply { facts: facts.clone(), desired: desired_ifcfg(rendered) })]
}

/// Applies the selected hosts' ifcfg files under a rollback timer (or, in a dry run, plans
/// it); refused unless the inventory says `network.manage: true`.
pub fn apply(remote: &Remote, inv: &Inventory, templates_dir: Option<&Path>, mode: Mode) -> Result<Recap> {
    if inv.network.manage != NetworkManagement::Manage {
        bail!("network.manage is false in {}: set `network: {{manage: true}}` to let v6deploy apply ifcfg files (`v6deploy render` shows them)", inv.source.display());
    }
    let rendered = render(inv, &Templates::load(templates_dir)?)?;
    let store = FactsStore::default();
    remote.run_steps(inv, mode, &steps(&store, &rendered))
}
