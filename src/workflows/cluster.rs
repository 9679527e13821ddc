//! The steps `install` and `node add` share, from writing the hosts' files to verifying the
//! services: one "start" step per stage of the component catalog, the addons, the check.

use std::net::Ipv6Addr;
use std::sync::Arc;

use crate::components::{POD_ROUTES, Stage};
use crate::inventory::Inventory;
use crate::runner::Step;
use crate::steps::{Addons, EtcdJoin, HostRoutes, ImportImages, InstallFiles, InstallState, PrepareHost, ReadPodSubnets, StartServices, Verify};

/// Hosts joining a running cluster (`node add`).
#[derive(Debug, Clone, Default)]
pub struct Joining {
    /// etcd members before the run.
    pub running_etcd: Vec<Ipv6Addr>,
    /// etcd hosts being added, in join order.
    pub etcd: Vec<Ipv6Addr>,
}

/// The shared steps. Without `joining` (install) every file of a host is written with the
/// membership marker first, so a host interrupted later in the run is still known as a
/// member and re-running install finishes it; with it (node add) the marker is recorded at
/// the very end and new etcd members join one at a time after the running ones are checked.
pub fn steps(inv: &Inventory, state: &Arc<InstallState>, joining: Option<Joining>) -> Vec<Box<dyn Step>> {
    let marker = joining.is_none();
    let joining = joining.unwrap_or_default();
    let mut steps: Vec<Box<dyn Step>> = vec![
        Box::new(InstallFiles { state: state.clone(), marker, joining: joining.etcd.clone() }),
        Box::new(PrepareHost { state: state.clone() }),
    ];
    for stage in Stage::ALL {
        steps.push(Box::new(StartServices { stage, state: state.clone(), joining: joining.etcd.clone() }));
        if stage == Stage::Runtime {
            steps.push(Box::new(ImportImages { state: state.clone() }));
        }
        if stage == Stage::Etcd && !joining.etcd.is_empty() {
            steps.push(Box::new(EtcdJoin { state: state.clone(), running: joining.running_etcd.clone(), joining: joining.etcd.clone() }));
        }
    }
    if let Some(first) = inv.first_control_plane() {
        if POD_ROUTES.wanted(inv) {
            steps.push(Box::new(ReadPodSubnets { state: state.clone(), first_control_plane: first.address }));
            steps.push(Box::new(HostRoutes { state: state.clone() }));
        }
        steps.push(Box::new(Addons { state: state.clone(), first_control_plane: first.address }));
    }
    steps.push(Box::new(Verify { state: state.clone() }));
    steps
}
