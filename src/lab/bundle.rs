//! The lab's offline bundle, complete for a Kubernetes node:
//!
//! ```text
//! bin/     etcd etcdctl                      Debian 12's etcd-server, etcd-client
//!          containerd containerd-shim-runc-v2 ctr   Debian 12's containerd
//!          runc                              Debian 12's runc
//!          haproxy                           Debian 12's haproxy (the node-local API proxy)
//!          kube-apiserver ... kubectl        built from Debian's kubernetes source (`kubernetes`)
//! cni/     every plugin of Debian 12's containernetworking-plugins (/usr/lib/cni)
//! images/  pause.tar busybox.tar             built locally (`images`)
//!          flannel.tar flannel-cni-plugin.tar coredns.tar node-cache.tar
//!                                            built from the upstream sources (`network_addons`),
//!                                            when the archives are there
//! ```
//!
//! Everything comes from caches under `/var/cache/v6deploy/lab/` and is hard-linked into the
//! bundle (copied when the bundle is on another file system), so a second lab costs no space.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::LabError;
use super::command::Runner;
use super::debs;
use super::images;
use super::kubernetes;
use super::network_addons::{self, Addons};

/// (Debian package, files of it that go to the bundle's `bin/`).
const PACKAGE_BINARIES: &[(&str, &[&str])] = &[
    ("etcd-server", &["usr/bin/etcd"]),
    ("etcd-client", &["usr/bin/etcdctl"]),
    ("containerd", &["usr/bin/containerd", "usr/bin/containerd-shim-runc-v2", "usr/bin/ctr"]),
    ("runc", &["usr/sbin/runc"]),
    ("haproxy", &["usr/sbin/haproxy"]),
];

/// The Debian package whose `/usr/lib/cni/` becomes the bundle's `cni/`.
const CNI_PACKAGE: (&str, &str) = ("containernetworking-plugins", "usr/lib/cni");

/// Makes the bundle in `dir` complete, building or downloading into the caches what they lack.
/// `mirror` is the fallback mirror for the source builds; `sources` holds the network addons'
/// archives. Answers what became of the network addons (without them, the bundle has no
/// flannel, CoreDNS or node-cache image).
pub fn ensure(runner: &Runner, dir: &Path, mirror: &str, sources: &[PathBuf]) -> Result<Addons, LabError> {
    let mut entries: Vec<(PathBuf, PathBuf)> = Vec::new();
    for (package, files) in PACKAGE_BINARIES {
        let tree = debs::unpacked(runner, package)?;
        entries.extend(files.iter().map(|f| (tree.join(f), dir.join("bin").join(file_name(f)))));
    }
    let (package, plugins) = CNI_PACKAGE;
    let plugins = debs::unpacked(runner, package)?.join(plugins);
    for plugin in fs::read_dir(&plugins).map_err(LabError::io("read", &plugins))?.filter_map(Result::ok) {
        entries.push((plugin.path(), dir.join("cni").join(plugin.file_name())));
    }
    let kubernetes_bin = kubernetes::ensure(runner, mirror)?;
    entries.extend(kubernetes::BINARIES.iter().map(|b| (kubernetes_bin.join(b), dir.join("bin").join(b))));
    let addons = network_addons::ensure(runner, mirror, sources)?;
    if let Addons::Missing(why) = &addons {
        runner.note(format!("{why}: the lab's inventory uses the host-routes pod network, and the CoreDNS and node-local-dns pods stay pending (no image)"));
    }
    let addon_bin = match &addons {
        Addons::Built(bin) => Some(bin.as_path()),
        Addons::Missing(_) => None,
    };
    for tar in images::ensure(runner, &kubernetes::tree(), addon_bin)? {
        let name = tar.file_name().map(ToOwned::to_owned).unwrap_or_default();
        entries.push((tar, dir.join("images").join(name)));
    }
    let mut placed = 0;
    for (source, target) in &entries {
        if !up_to_date(source, target) {
            place(source, target)?;
            placed += 1;
        }
    }
    // An image of an earlier bundle that this one no longer has (addons built before, their
    // sources gone since) must not stay: the hosts would get it.
    let images_dir = dir.join("images");
    let wanted: Vec<&PathBuf> = entries.iter().map(|(_, target)| target).filter(|t| t.parent() == Some(images_dir.as_path())).collect();
    if let Ok(listing) = fs::read_dir(&images_dir) {
        for stale in listing.filter_map(Result::ok).map(|e| e.path()).filter(|p| !wanted.contains(&p)) {
            fs::remove_file(&stale).map_err(LabError::io("remove", &stale))?;
            placed += 1;
        }
    }
    if placed > 0 {
        let references: Vec<&str> = images::BASE.iter().chain(if addon_bin.is_some() { &images::ADDONS[..] } else { &[][..] }).map(|i| i.reference).collect();
        runner.note(format!(
            "lab bundle: {} (etcd, containerd, runc, haproxy and CNI plugins from Debian 12; Kubernetes v{} built from source; images {})",
            dir.display(),
            kubernetes::VERSION,
            references.join(", ")
        ));
    }
    Ok(addons)
}

/// Whether `target` is `source` (a hard link) or a copy at least as new and as long.
fn up_to_date(source: &Path, target: &Path) -> bool {
    let (Ok(source), Ok(target)) = (fs::metadata(source), fs::metadata(target)) else {
        return false;
    };
    (source.dev(), source.ino()) == (target.dev(), target.ino()) || (source.len() == target.len() && target.mtime() >= source.mtime())
}

/// Hard-links `source` to `target`, or copies it (through a temporary name) where linking
/// fails, replacing what was there.
fn place(source: &Path, target: &Path) -> Result<(), LabError> {
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir).map_err(LabError::io("create", dir))?;
    }
    let partial = target.with_extension("partial");
    let _ = fs::remove_file(&partial);
    if fs::hard_link(source, &partial).is_err() {
        fs::copy(source, &partial).map_err(LabError::io("copy into", &partial))?;
    }
    fs::rename(&partial, target).map_err(LabError::io("rename into", target))
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placed_files_are_up_to_date_and_replaced_when_the_source_changes() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("cache/etcd");
        fs::create_dir_all(source.parent().unwrap()).unwrap();
        fs::write(&source, "one").unwrap();
        let target = dir.path().join("bundle/bin/etcd");
        assert!(!up_to_date(&source, &target));
        place(&source, &target).unwrap();
        assert!(up_to_date(&source, &target));
        assert_eq!(fs::read_to_string(&target).unwrap(), "one");
        // A rebuilt cache file is a new file: the bundle's link no longer is it.
        fs::remove_file(&source).unwrap();
        fs::write(&source, "longer").unwrap();
        assert!(!up_to_date(&source, &target));
        place(&source, &target).unwrap();
        assert_eq!(fs::read_to_string(&target).unwrap(), "longer");
        assert!(!target.with_extension("partial").exists());
    }
}
