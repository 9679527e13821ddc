//! Install: bare hosts to a running cluster in one command; a second run changes nothing.

use std::sync::Arc;

use crate::inventory::{Inventory, Role};
use crate::runner::Step;
use crate::steps::{Addons, Binaries, ControlPlane, Etcd, GatherFacts, InstallState, KernelGate, NodeServices, PkiFiles, Preflight, PrepareHost, RecordMembership, Verify};

/// The steps of `install`, in order.
pub fn steps(inv: &Inventory, state: &Arc<InstallState>) -> Vec<Box<dyn Step>> {
    let first_control_plane = inv.hosts.iter().find(|h| h.has(Role::ControlPlane)).map(|h| h.address);
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(GatherFacts { store: state.facts.clone() }),
        Box::new(Preflight { state: state.clone() }),
        Box::new(KernelGate { state: state.clone() }),
        // Before any change: a host interrupted later in the run is still known as a member,
        // so re-running install finishes it (node add is for hosts never installed).
        Box::new(RecordMembership),
        Box::new(PrepareHost { state: state.clone() }),
        Box::new(Binaries { state: state.clone() }),
        Box::new(PkiFiles { state: state.clone() }),
        Box::new(Etcd { state: state.clone(), joining: Vec::new() }),
        Box::new(ControlPlane { state: state.clone() }),
        Box::new(NodeServices { state: state.clone() }),
    ];
    if let Some(first_control_plane) = first_control_plane {
        steps.push(Box::new(Addons { state: state.clone(), first_control_plane }));
    }
    steps.push(Box::new(Verify { state: state.clone() }));
    steps
}
