//! Node add: grow a running cluster without touching what works.

use std::net::Ipv6Addr;
use std::sync::Arc;

use crate::inventory::Inventory;
use crate::runner::Step;
use crate::steps::{GatherFacts, InstallState, KernelGate, Preflight, RecordMembership};

use super::cluster::{self, Joining};

/// The steps of `node add`, in order. `inv` holds the running members plus the hosts being
/// added; `running_etcd` are the etcd members before the run; `joining` the hosts added.
pub fn steps(inv: &Inventory, state: &Arc<InstallState>, running_etcd: Vec<Ipv6Addr>, joining: Vec<Ipv6Addr>) -> Vec<Box<dyn Step>> {
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(GatherFacts { store: state.facts.clone(), peers: inv.addresses() }),
        Box::new(Preflight { state: state.clone() }),
        Box::new(KernelGate { state: state.clone(), upgrade_planned: false }),
    ];
    steps.extend(cluster::steps(inv, state, Some(Joining { running_etcd, etcd: joining })));
    steps.push(Box::new(RecordMembership));
    steps
}
