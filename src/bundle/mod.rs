//! The offline bundle: binaries, CNI plugins, image tarballs and kernel RPMs the hosts get
//! from this machine, never from the internet.
//!
//! ```text
//! bundle/
//!   bin/    etcd etcdctl kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl
//!   cni/    CNI plugins (bridge, host-local, loopback, portmap, flannel)
//!   images/ image tarballs (flannel, coredns, nodelocaldns, elasticsearch)
//!   rpms/   kernel packages for `kernel upgrade`
//! ```
//!
//! Before any host is touched, `check` lists what the inventory needs and what is missing; with
//! `bundle.missing: stage` a component without its binary is staged (configured, not started).

mod component;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub use component::Component;
use thiserror::Error;

use crate::inventory::{Inventory, MissingBinary, Role};

/// Where the bundle's binaries go on the hosts.
pub const BIN_DIR: &str = "/usr/local/bin";

/// What the bundle holds for an inventory.
#[derive(Debug, Clone)]
pub struct BundleCheck {
    pub root: PathBuf,
    /// Components whose binaries are present, with their local path.
    pub present: Vec<(Component, PathBuf)>,
    /// Components the inventory needs whose binary is missing.
    pub missing: Vec<Component>,
}

impl BundleCheck {
    /// Whether the component is staged (its binary is missing and staging is allowed).
    pub fn is_staged(&self, component: Component) -> bool {
        self.missing.contains(&component)
    }

    /// The local binary of a present component.
    pub fn binary(&self, component: Component) -> Option<&Path> {
        self.present.iter().find(|(c, _)| *c == component).map(|(_, p)| p.as_path())
    }
}

/// Why the bundle cannot be used.
#[derive(Debug, Error)]
pub enum BundleError {
    /// Binaries are missing and the inventory does not allow staging.
    #[error("the bundle {} lacks {}: add them (see README, \"The offline bundle\") or set `bundle: {{missing: stage}}` in the inventory to install their configuration without starting them", root.display(), list(missing, root))]
    Missing { root: PathBuf, missing: Vec<Component> },
}

fn list(missing: &[Component], root: &Path) -> String {
    missing.iter().map(|c| root.join(c.bundle_path()).display().to_string()).collect::<Vec<_>>().join(", ")
}

/// The components the inventory's roles need.
pub fn needed(inv: &Inventory) -> BTreeSet<Component> {
    let mut needed = BTreeSet::new();
    for host in &inv.hosts {
        for role in Role::ALL.iter().filter(|r| host.has(**r)) {
            needed.extend(Component::for_role(*role));
        }
    }
    needed
}

/// Checks the bundle against the inventory; refuses missing binaries unless staging is allowed.
pub fn check(inv: &Inventory) -> Result<BundleCheck, BundleError> {
    let root = inv.bundle.path.clone();
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for component in needed(inv) {
        let path = root.join(component.bundle_path());
        if is_executable(&path) {
            present.push((component, path));
        } else {
            missing.push(component);
        }
    }
    if !missing.is_empty() && inv.bundle.missing == MissingBinary::Refuse {
        return Err(BundleError::Missing { root, missing });
    }
    Ok(BundleCheck { root, present, missing })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
