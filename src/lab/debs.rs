//! Debian 12 packages the lab takes files from (etcd, containerd, runc, the CNI plugins,
//! busybox-static): downloaded once with `apt-get download` into a cache and unpacked there
//! with `dpkg-deb -x`. Nothing is installed on this machine.

use std::fs;
use std::path::{Path, PathBuf};

use super::LabError;
use super::base_image::CACHE_ROOT;
use super::command::Runner;

/// Where downloaded packages and their unpacked trees are cached.
pub fn cache() -> PathBuf {
    Path::new(CACHE_ROOT).join("debian-debs")
}

/// The unpacked tree of `package` (`<cache>/<deb file>.d`), downloading and unpacking the
/// package the first time.
pub fn unpacked(runner: &Runner, package: &str) -> Result<PathBuf, LabError> {
    let cache = cache();
    fs::create_dir_all(&cache).map_err(LabError::io("create", &cache))?;
    let deb = match cached_deb(&cache, package)? {
        Some(deb) => deb,
        None => {
            runner.note(format!("downloading Debian's {package} into {}", cache.display()));
            let download = || runner.run("sh", ["-c", &format!("cd '{}' && apt-get download -q {package}", cache.display())]);
            if download().is_err() {
                runner.run("apt-get", ["update", "-qq"])?;
                download()?;
            }
            cached_deb(&cache, package)?.ok_or_else(|| LabError::Io {
                action: "find the downloaded package in",
                path: cache.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, format!("{package}_*.deb")),
            })?
        }
    };
    let tree = deb.with_extension("d");
    let complete = tree.join(".unpacked");
    if !complete.exists() {
        let _ = fs::remove_dir_all(&tree);
        runner.run("dpkg-deb", ["-x".as_ref(), deb.as_os_str(), tree.as_os_str()])?;
        fs::write(&complete, "").map_err(LabError::io("write", &complete))?;
    }
    Ok(tree)
}

fn cached_deb(cache: &Path, package: &str) -> Result<Option<PathBuf>, LabError> {
    let prefix = format!("{package}_");
    let entries = fs::read_dir(cache).map_err(LabError::io("read", cache))?;
    let mut debs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb")))
        .collect();
    debs.sort();
    Ok(debs.pop())
}
