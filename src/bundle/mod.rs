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
//! Which binaries an inventory needs is the component catalog's business
//! (`components::binaries`). Before any host is touched, `check` lists what is missing; with
//! `bundle.missing: stage` a component without its binary is staged (configured, not started).

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::components;
use crate::inventory::{Inventory, MissingBinary};

/// What the bundle holds for an inventory.
#[derive(Debug, Clone)]
pub struct BundleCheck {
    pub root: PathBuf,
    /// Binaries present, by name, with their local path.
    pub present: Vec<(&'static str, PathBuf)>,
    /// Binaries the inventory needs that are missing.
    pub missing: Vec<&'static str>,
}

impl BundleCheck {
    /// Whether the binary `name` is missing (so what needs it is staged).
    pub fn lacks(&self, name: &str) -> bool {
        self.missing.contains(&name)
    }

    /// The local path of a present binary.
    pub fn binary(&self, name: &str) -> Option<&Path> {
        self.present.iter().find(|(n, _)| *n == name).map(|(_, p)| p.as_path())
    }
}

/// A binary's path inside the bundle.
pub fn bundle_path(name: &str) -> String {
    format!("bin/{name}")
}

/// Why the bundle cannot be used.
#[derive(Debug, Error)]
pub enum BundleError {
    /// Binaries are missing and the inventory does not allow staging.
    #[error("the bundle {} lacks {}: add them (see README, \"The offline bundle\") or set `bundle: {{missing: stage}}` in the inventory to install their configuration without starting them", root.display(), list(missing, root))]
    Missing { root: PathBuf, missing: Vec<&'static str> },
}

fn list(missing: &[&str], root: &Path) -> String {
    missing.iter().map(|name| root.join(bundle_path(name)).display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Checks the bundle against the inventory; refuses missing binaries unless staging is allowed.
pub fn check(inv: &Inventory) -> Result<BundleCheck, BundleError> {
    let root = inv.bundle.path.clone();
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for name in components::binaries(inv) {
        let path = root.join(bundle_path(name));
        if is_executable(&path) {
            present.push((name, path));
        } else {
            missing.push(name);
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
