//! Node add: grow a running cluster without touching what works.

use std::net::Ipv6Addr;
use std::sync::Arc;

use crate::inventory::{Inventory, Role};
use crate::runner::Step;
use crate::steps::{Addons, ControlPlane, Etcd, EtcdJoin, GatherFacts, InstallFiles, InstallState, KernelGate, NodeServices, Preflight, PrepareHost, RecordMembership, Verify};

/// The steps of `node add`, in order. `inv` holds the running members plus the hosts being
/// added; `running_etcd` are the etcd members before the run; `joining` the hosts added.
pub fn steps(inv: &Inventory, state: &Arc<InstallState>, running_etcd: Vec<Ipv6Addr>, joining: Vec<Ipv6Addr>) -> Vec<Box<dyn Step>> {
    let first_control_plane = inv.hosts.iter().find(|h| h.has(Role::ControlPlane)).map(|h| h.address);
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(GatherFacts { store: state.facts.clone() }),
        Box::new(Preflight { state: state.clone() }),
        Box::new(KernelGate { state: state.clone(), upgrade_planned: false }),
        Box::new(InstallFiles { state: state.clone(), marker: false, joining: joining.clone() }),
        Box::new(PrepareHost { state: state.clone() }),
        Box::new(Etcd { state: state.clone(), joining: joining.clone() }),
        Box::new(EtcdJoin { state: state.clone(), running: running_etcd, joining }),
        Box::new(ControlPlane { state: state.clone() }),
        Box::new(NodeServices { state: state.clone() }),
    ];
    if let Some(first_control_plane) = first_control_plane {
        steps.push(Box::new(Addons { state: state.clone(), first_control_plane }));
    }
    steps.push(Box::new(Verify { state: state.clone() }));
    steps.push(Box::new(RecordMembership));
    steps
}
