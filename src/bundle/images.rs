//! The image archives of the bundle (`images/*.tar`): which references each one holds, read
//! from the archive itself before any host is touched (docker-archive `manifest.json`
//! `RepoTags`, or an OCI layout's `index.json` annotations).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;

use super::{BundleCheck, BundleError};
use crate::components::IMAGES_BUNDLE_DIR;

/// One archive of `images/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleImage {
    /// Its file name under `images/` (and under the hosts' images directory).
    pub file: String,
    /// The references it holds, normalized as containerd lists them.
    pub references: Vec<String>,
}

#[derive(Deserialize)]
struct DockerManifest {
    #[serde(rename = "RepoTags", default)]
    repo_tags: Vec<String>,
}

#[derive(Deserialize)]
struct OciIndex {
    #[serde(default)]
    manifests: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciDescriptor {
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// A reference as containerd names it: `busybox:1` is `docker.io/library/busybox:1`, a name
/// without a registry is on docker.io, a name without a tag is `:latest`.
pub fn normalize(reference: &str) -> String {
    let (name, tag) = match reference.rsplit_once(':').filter(|(_, t)| !t.contains('/')) {
        Some((name, tag)) if !reference.contains('@') => (name.to_string(), format!(":{tag}")),
        _ if reference.contains('@') => return reference.to_string(),
        _ => (reference.to_string(), ":latest".to_string()),
    };
    let first = name.split('/').next().unwrap_or_default();
    let has_registry = name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let name = match (has_registry, name.contains('/')) {
        (true, _) => name,
        (false, true) => format!("docker.io/{name}"),
        (false, false) => format!("docker.io/library/{name}"),
    };
    format!("{name}{tag}")
}

/// A file of the archive, read with the machine's `tar`.
fn member(archive: &Path, name: &str) -> Option<Vec<u8>> {
    let output = Command::new("tar").arg("-xOf").arg(archive).arg(name).output().ok()?;
    output.status.success().then_some(output.stdout)
}

fn unreadable(path: &Path, why: &str) -> BundleError {
    BundleError::Image { path: path.to_path_buf(), reason: why.to_string() }
}

/// The references of one archive.
pub fn references(path: &Path) -> Result<Vec<String>, BundleError> {
    let mut references = if let Some(text) = member(path, "manifest.json") {
        let manifests: Vec<DockerManifest> = serde_json::from_slice(&text).map_err(|e| unreadable(path, &format!("manifest.json: {e}")))?;
        manifests.into_iter().flat_map(|m| m.repo_tags).collect::<Vec<_>>()
    } else if let Some(text) = member(path, "index.json") {
        let index: OciIndex = serde_json::from_slice(&text).map_err(|e| unreadable(path, &format!("index.json: {e}")))?;
        let names = ["io.containerd.image.name", "org.opencontainers.image.ref.name"];
        index.manifests.iter().filter_map(|m| names.iter().find_map(|n| m.annotations.get(*n).cloned())).collect()
    } else {
        return Err(unreadable(path, "neither a docker-archive (manifest.json) nor an OCI archive (index.json)"));
    };
    if references.is_empty() {
        return Err(unreadable(path, "it names no image (no RepoTags): tag the image before saving it, e.g. `docker save NAME:TAG`"));
    }
    references.iter_mut().for_each(|r| *r = normalize(r));
    Ok(references)
}

/// Every archive of the bundle's `images/` the inventory's hosts get.
/// The references of each archive are remembered by its checksum (`hash_cache::remembered`):
/// finding `manifest.json` reads a whole archive.
pub fn images(check: &BundleCheck) -> Result<Vec<BundleImage>, BundleError> {
    let files: &[(String, PathBuf)] = check.dir_files(&IMAGES_BUNDLE_DIR);
    files.iter().map(|(name, path)| Ok(BundleImage { file: name.clone(), references: references_cached(path)? })).collect()
}

/// The kind of fact an archive's references are remembered as.
const REFERENCES_FACT: &str = "image-references";

fn references_cached(path: &Path) -> Result<Vec<String>, BundleError> {
    let sum = crate::hash_cache::sha256_of(path).ok();
    if let Some(list) = sum.as_deref().and_then(|s| crate::hash_cache::remembered(REFERENCES_FACT, s)) {
        return Ok(list.split(' ').map(str::to_string).collect());
    }
    let found = references(path)?;
    if let Some(sum) = sum.filter(|_| found.iter().all(|r| !r.is_empty() && !r.contains([' ', '\n']))) {
        crate::hash_cache::remember(REFERENCES_FACT, &sum, &found.join(" "));
    }
    Ok(found)
}

/// Whether `reference` (as written in the inventory) is in one of `images`.
pub fn holds(images: &[BundleImage], reference: &str) -> bool {
    let wanted = normalize(reference);
    images.iter().any(|i| i.references.contains(&wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_normalized_like_containerd() {
        assert_eq!(normalize("busybox:1.35"), "docker.io/library/busybox:1.35");
        assert_eq!(normalize("flannel/flannel:v0.25.5"), "docker.io/flannel/flannel:v0.25.5");
        assert_eq!(normalize("registry.k8s.io/pause:3.9"), "registry.k8s.io/pause:3.9");
        assert_eq!(normalize("v6deploy.lab/pause"), "v6deploy.lab/pause:latest");
        assert_eq!(normalize("localhost:5000/x:1"), "localhost:5000/x:1");
    }

    #[test]
    fn a_docker_archive_names_its_tags() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.json"), r#"[{"Config":"config.json","RepoTags":["v6deploy.lab/pause:3.2"],"Layers":["layer.tar"]}]"#).unwrap();
        let archive = dir.path().join("pause.tar");
        assert!(Command::new("tar").arg("-cf").arg(&archive).arg("-C").arg(dir.path()).arg("manifest.json").status().unwrap().success());
        assert_eq!(references(&archive).unwrap(), ["v6deploy.lab/pause:3.2"]);
        let images = vec![BundleImage { file: "pause.tar".into(), references: references(&archive).unwrap() }];
        assert!(holds(&images, "v6deploy.lab/pause:3.2") && !holds(&images, "registry.k8s.io/pause:3.9"));
        std::fs::write(dir.path().join("junk.tar"), b"not a tar").unwrap();
        let error = references(&dir.path().join("junk.tar")).unwrap_err().to_string();
        assert!(error.contains("junk.tar") && error.contains("docker-archive"), "{error}");
    }
}
