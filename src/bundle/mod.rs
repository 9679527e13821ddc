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

mod images;
mod versions;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use images::{BundleImage, holds, images, normalize};
pub use versions::check_versions;

use crate::components::{self, BundleDir};
use crate::inventory::{Inventory, MissingBinary};
use crate::transport::files::has_control_characters;

/// What the bundle holds for an inventory.
#[derive(Debug, Clone)]
pub struct BundleCheck {
    pub root: PathBuf,
    /// Binaries present, by name, with their local path.
    pub present: Vec<(&'static str, PathBuf)>,
    /// Binaries the inventory needs that are missing.
    pub missing: Vec<&'static str>,
    /// The files of each bundle directory the inventory needs (name, local path), sorted.
    pub dirs: Vec<(&'static BundleDir, Vec<(String, PathBuf)>)>,
    /// Required files missing from those directories, as bundle paths (`cni/bridge`).
    pub missing_files: Vec<String>,
}

impl BundleCheck {
    /// Whether the binary `name` is missing (so what needs it is staged).
    pub fn lacks(&self, name: &str) -> bool {
        self.missing.contains(&name)
    }

    /// The files of a bundle directory (empty when it is not needed or has none).
    pub fn dir_files(&self, dir: &BundleDir) -> &[(String, PathBuf)] {
        self.dirs.iter().find(|(d, _)| *d == dir).map_or(&[], |(_, files)| files.as_slice())
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
    #[error("the bundle (bundle.path) lacks {}: add them (see README, \"The offline bundle\") or set `bundle: {{missing: stage}}` in the inventory to install their configuration without starting them", list(missing, root))]
    Missing { root: PathBuf, missing: Vec<String> },
    /// A Kubernetes binary is of another release than the inventory's.
    #[error("{} is Kubernetes {found}, but cluster.kubernetes_version is {wanted}: put the {wanted} binaries in the bundle, or set kubernetes_version to the bundle's release", path.display())]
    Version { path: PathBuf, found: String, wanted: String },
    /// An image archive cannot be read.
    #[error("the image archive {} cannot be used: {reason}", path.display())]
    Image { path: PathBuf, reason: String },
    /// A file name holds a control character or is not UTF-8: it could break the scripts
    /// that write it on the hosts, so the bundle is refused before any host is touched.
    #[error("refusing the bundle file {}: its name holds a control character or is not UTF-8; rename it", path.display())]
    UnsafeName { path: PathBuf },
    /// A bundle directory cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
}

fn list(missing: &[String], root: &Path) -> String {
    missing.iter().map(|path| root.join(path).display().to_string()).collect::<Vec<_>>().join(", ")
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
    let mut dirs = Vec::new();
    let mut missing_files = Vec::new();
    for dir in components::bundle_dirs(inv) {
        let files = files_of(&root.join(dir.dir))?;
        missing_files.extend(dir.required.iter().filter(|r| !files.iter().any(|(name, _)| name == *r)).map(|r| format!("{}/{r}", dir.dir)));
        dirs.push((dir, files));
    }
    if (!missing.is_empty() || !missing_files.is_empty()) && inv.bundle.missing == MissingBinary::Refuse {
        let all = missing.iter().map(|name| bundle_path(name)).chain(missing_files).collect();
        return Err(BundleError::Missing { root, missing: all });
    }
    Ok(BundleCheck { root, present, missing, dirs, missing_files })
}

/// The regular files of a bundle directory, by name, sorted (none when it does not exist);
/// dotfiles are left out. A name with a control character (or not UTF-8) is refused.
fn files_of(dir: &Path) -> Result<Vec<(String, PathBuf)>, BundleError> {
    let read_error = |source| BundleError::Read { path: dir.to_path_buf(), source };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_error(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(read_error)?;
        let Some(name) = entry.file_name().to_str().filter(|n| !has_control_characters(n)).map(str::to_string) else {
            return Err(BundleError::UnsafeName { path: entry.path() });
        };
        if !name.starts_with('.') && entry.path().is_file() {
            files.push((name, entry.path()));
        }
    }
    files.sort();
    Ok(files)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a bundle file name with a newline reached the hosts' write script.
    #[test]
    fn bundle_file_names_with_control_characters_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bridge"), "").unwrap();
        assert_eq!(files_of(dir.path()).unwrap().len(), 1);
        std::fs::write(dir.path().join("x\nV6DEPLOY_SUMS\nreboot"), "").unwrap();
        let error = files_of(dir.path()).unwrap_err().to_string();
        assert!(error.starts_with("refusing the bundle file ") && error.contains("reboot"), "{error}");
    }
}
