//! The Kubernetes binaries of the bundle must be the inventory's `kubernetes_version`: the
//! templates' flags are chosen by that version, and a kubelet of another release crash-loops
//! on them. Checked before any host is touched, by running `--version` here.

use std::path::Path;
use std::process::Command;

use super::{BundleCheck, BundleError};
use crate::inventory::KubernetesVersion;

/// The first `vX.Y.Z` in `text`.
fn version_in(text: &str) -> Option<KubernetesVersion> {
    text.split(|c: char| c.is_whitespace() || c == '"' || c == ',').filter_map(|word| word.strip_prefix('v')).find_map(|rest| {
        let numeric: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
        numeric.trim_end_matches('.').parse().ok()
    })
}

/// What a binary says its version is (`None`: it cannot run here, e.g. another architecture).
fn reported(path: &Path, name: &str) -> Option<String> {
    let args: &[&str] = if name == "kubectl" { &["version", "--client"] } else { &["--version"] };
    let output = Command::new(path).args(args).output().ok()?;
    Some(String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr))
}

/// Whether `name` is a Kubernetes binary (its version must be the cluster's).
fn is_kubernetes(name: &str) -> bool {
    name.starts_with("kube")
}

/// What the binary reports, or the version remembered for the same contents (see
/// `hash_cache::remembered`: six Go binaries starting cost a second of every run).
fn reported_cached(path: &Path, name: &str) -> Option<String> {
    let sum = crate::hash_cache::sha256_of(path).ok();
    if let Some(version) = sum.as_deref().and_then(|s| crate::hash_cache::remembered(VERSION_FACT, s)) {
        return Some(format!("v{version}"));
    }
    let text = reported(path, name)?;
    if let (Some(sum), Some(version)) = (sum, version_in(&text)) {
        crate::hash_cache::remember(VERSION_FACT, &sum, &version.to_string());
    }
    Some(text)
}

/// The kind of fact a binary's version is remembered as.
const VERSION_FACT: &str = "kubernetes-version";

/// Checks every present Kubernetes binary; returns notes for those that cannot run here.
pub fn check_versions(check: &BundleCheck, wanted: KubernetesVersion) -> Result<Vec<String>, BundleError> {
    let mut notes = Vec::new();
    for (name, path) in check.present.iter().filter(|(name, _)| is_kubernetes(name)) {
        match reported_cached(path, name) {
            None => notes.push(format!("{}: cannot run it on this machine to check its version (another architecture?)", path.display())),
            Some(text) => match version_in(&text) {
                Some(found) if found == wanted => {}
                Some(found) => return Err(BundleError::Version { path: path.clone(), found: found.to_string(), wanted: wanted.to_string() }),
                None => return Err(BundleError::Version { path: path.clone(), found: text.trim().to_string(), wanted: wanted.to_string() }),
            },
        }
    }
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_what_each_binary_prints() {
        let v = |t: &str| version_in(t).map(|v| v.to_string());
        assert_eq!(v("Kubernetes v1.20.2\n").as_deref(), Some("1.20.2"));
        assert_eq!(v("Client Version: v1.28.3\nKustomize Version: v5.0.4").as_deref(), Some("1.28.3"));
        assert_eq!(v("Client Version: version.Info{Major:\"1\", Minor:\"20\", GitVersion:\"v1.20.2\", GitCommit:\"x\"}").as_deref(), Some("1.20.2"));
        assert_eq!(v("Kubernetes v0.0.0-master+$Format:%h$").as_deref(), Some("0.0.0"));
        assert_eq!(v("nothing"), None);
    }
}
