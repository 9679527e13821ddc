//! Network apply: gather facts, then put each host's ifcfg file in place under a rollback
//! timer (`network.manage: true`).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use crate::components::IFCFG_DIR;
use crate::render::Rendered;
use crate::runner::Step;
use crate::steps::{FactsStore, GatherFacts, NetworkApply};

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
    vec![Box::new(GatherFacts { store: facts.clone() }), Box::new(NetworkApply { facts: facts.clone(), desired: desired_ifcfg(rendered) })]
}
