//! Install: bare hosts to a running cluster in one command; a second run changes nothing.

use std::sync::Arc;

use crate::bundle::BundleError;
use crate::inventory::{Inventory, NetworkManagement};
use crate::runner::Step;
use crate::steps::{GatherFacts, InstallState, KernelGate, KernelUpgrade, NetworkApply, Preflight};

use super::{cluster, kernel, network};

/// What `install` does beyond the inventory.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--upgrade-kernel`: upgrade hosts below `kernel.minimum` (before the kernel gate)
    /// instead of stopping at the gate.
    pub upgrade_kernel: Option<kernel::Options>,
}

/// The steps of `install`, in order. The ifcfg files are applied only with
/// `network.manage: true`.
pub fn steps(inv: &Inventory, state: &Arc<InstallState>, options: &Options) -> Result<Vec<Box<dyn Step>>, BundleError> {
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(GatherFacts { store: state.facts.clone(), peers: inv.addresses() })];
    if let Some(upgrade) = &options.upgrade_kernel {
        let (parallel, _) = kernel::safe_parallel(inv, upgrade.parallel);
        steps.push(Box::new(KernelUpgrade {
            facts: state.facts.clone(),
            offer: kernel::offer(inv)?,
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
    steps.extend(cluster::steps(inv, state, None));
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::bundle::BundleCheck;
    use crate::render::Rendered;

    fn titles(manage: bool, options: &Options) -> Vec<String> {
        let text = format!("{}\nnetwork:\n  manage: {manage}\n", include_str!("../../inventories/field-report.yaml"));
        let inv = crate::inventory::parse(std::path::Path::new("x.yaml"), &text).unwrap().inventory;
        let bundle = BundleCheck { root: "b".into(), present: Vec::new(), missing: Vec::new(), dirs: Vec::new(), missing_files: Vec::new() };
        let state = Arc::new(InstallState::new(Rendered { hosts: Vec::new(), cluster: Vec::new() }, bundle, Vec::new()).unwrap());
        steps(&inv, &state, options).unwrap().iter().map(|s| s.title()).collect()
    }

    #[test]
    fn the_kernel_upgrade_comes_before_the_gate_and_ifcfg_only_when_managed() {
        let plain = titles(false, &Options::default());
        assert!(!plain.iter().any(|t| t == "Upgrade kernel" || t.starts_with("Apply ifcfg")), "{plain:?}");
        let upgrade = Options { upgrade_kernel: Some(kernel::Options { parallel: 1, reboot_timeout: Duration::from_secs(600) }) };
        let all = titles(true, &upgrade);
        let at = |title: &str| all.iter().position(|t| t.starts_with(title)).unwrap_or_else(|| panic!("no {title} in {all:?}"));
        assert!(at("Gather facts") < at("Upgrade kernel") && at("Upgrade kernel") < at("Preflight") && at("Preflight") < at("Kernel gate"));
        assert!(at("Kernel gate") < at("Apply ifcfg") && at("Apply ifcfg") < at("Prepare hosts"));
    }
}
