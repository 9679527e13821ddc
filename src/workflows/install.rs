//! Install: bare hosts to a running cluster in one command; a second run changes nothing.

use std::sync::Arc;

use crate::inventory::{Inventory, NetworkManagement, Role};
use crate::runner::Step;
use crate::steps::{
    Addons, Binaries, ControlPlane, Etcd, GatherFacts, InstallState, KernelGate, KernelUpgrade, NetworkApply, NodeServices, PkiFiles, Preflight, PrepareHost, Verify,
};

use super::{kernel, network};

/// What `install` does beyond the inventory.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--upgrade-kernel`: upgrade hosts below `kernel.minimum` (before the kernel gate)
    /// instead of stopping at the gate.
    pub upgrade_kernel: Option<kernel::Options>,
}

/// The steps of `install`, in order. The ifcfg files are applied only with
/// `network.manage: true`.
pub fn steps(inv: &Inventory, state: &Arc<InstallState>, options: &Options) -> Vec<Box<dyn Step>> {
    let first_control_plane = inv.hosts.iter().find(|h| h.has(Role::ControlPlane)).map(|h| h.address);
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(GatherFacts { store: state.facts.clone() })];
    if let Some(upgrade) = &options.upgrade_kernel {
        let (parallel, _) = kernel::safe_parallel(inv, upgrade.parallel);
        steps.push(Box::new(KernelUpgrade {
            facts: state.facts.clone(),
            offer: kernel::offer(inv),
            rpms_dir: kernel::rpms_dir(inv),
            parallel,
            reboot_timeout: upgrade.reboot_timeout,
        }));
    }
    steps.push(Box::new(Preflight { state: state.clone() }));
    steps.push(Box::new(KernelGate { state: state.clone(), upgrade_planned: options.upgrade_kernel.is_some() }));
    if inv.network.manage == NetworkManagement::Manage {
        steps.push(Box::new(NetworkApply { facts: state.facts.clone(), desired: network::desired_ifcfg(&state.desired) }));
    }
    steps.extend([
        Box::new(PrepareHost { state: state.clone() }) as Box<dyn Step>,
        Box::new(Binaries { state: state.clone() }),
        Box::new(PkiFiles { state: state.clone() }),
        Box::new(Etcd { state: state.clone() }),
        Box::new(ControlPlane { state: state.clone() }),
        Box::new(NodeServices { state: state.clone() }),
    ]);
    if let Some(first_control_plane) = first_control_plane {
        steps.push(Box::new(Addons { state: state.clone(), first_control_plane }));
    }
    steps.push(Box::new(Verify { state: state.clone() }));
    steps
}
