//! The lab's network addons — flannel (`flanneld` and its CNI plugin), CoreDNS and NodeLocal
//! DNSCache (`node-cache`) — built once by `network_addons/build.sh` from the upstream source
//! archives (`../shared/lab-sources/`, or `lab up --addon-sources DIR`) with Go from Debian,
//! and cached. No registry serves their images here and Debian packages none of them.
//!
//! Without the archives the lab says what it could not build and goes on without them: its
//! inventory then uses the `host-routes` pod network, and the DNS pods stay pending.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::LabError;
use super::base_image::CACHE_ROOT;
use super::build_script::{BuildScript, minutes};
use super::command::Runner;
use super::kubernetes::mirror_of;

/// Bumped whenever the script's recipe changes, so that older cached binaries are not reused.
const RECIPE: u32 = 1;

/// The build script, run with `sh -c SCRIPT build.sh CACHE MIRROR SOURCES`.
const SCRIPT: &str = include_str!("network_addons/build.sh");

/// The upstream versions built (tags of the archives).
pub const FLANNEL_VERSION: &str = "0.20.2";
pub const CNI_PLUGINS_VERSION: &str = "0.9.1";
pub const NODE_CACHE_VERSION: &str = "1.26.2";
pub const COREDNS_VERSION: &str = "1.11.3";

/// The binaries the build leaves in `<cache>/bin/`.
pub const BINARIES: [&str; 4] = ["flanneld", "flannel", "node-cache", "coredns"];

/// The archives the build reads (checked against their sha256 by the script).
pub const ARCHIVES: [&str; 4] = ["flannel-0.20.2.tar.gz", "cni-plugins-0.9.1.tar.gz", "kubernetes-dns-1.26.2.tar.gz", "coredns-1.11.3.tar.gz"];

/// The machine's own Debian sources, read for the mirror URL (never written).
const SOURCES: &str = "/etc/apt/sources.list.d/debian.sources";

/// `/var/cache/v6deploy/lab/network-addons-v1`: Go, the unpacked trees, the build caches and `bin/`.
pub fn cache() -> PathBuf {
    Path::new(CACHE_ROOT).join(format!("network-addons-v{RECIPE}"))
}

/// Where the archives are looked for, in order: the directory `lab up --addon-sources`
/// names (then only there), else `$V6DEPLOY_LAB_SOURCES`, `shared/lab-sources/` beside the
/// project directory and beside the checkout v6deploy was built from, and the copy an earlier
/// build kept in the cache (`<cache>/sources`).
pub fn source_dirs(project: &Path, named: Option<&Path>) -> Vec<PathBuf> {
    if let Some(dir) = named {
        return vec![dir.to_path_buf()];
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("V6DEPLOY_LAB_SOURCES").map(PathBuf::from).into_iter().collect();
    dirs.push(project.join("../shared/lab-sources"));
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/lab-sources"));
    dirs.push(cache().join("sources"));
    dirs
}

/// What became of the network addons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addons {
    /// Built (or cached): the directory holding [`BINARIES`].
    Built(PathBuf),
    /// Not built: why, for the user.
    Missing(String),
}

/// The directory holding the four binaries, building them first when any is missing, from
/// the first of `sources` (see [`source_dirs`]) that holds every archive.
pub fn ensure(runner: &Runner, fallback_mirror: &str, sources: &[PathBuf]) -> Result<Addons, LabError> {
    ensure_in(runner, &cache(), fallback_mirror, sources)
}

fn ensure_in(runner: &Runner, cache: &Path, fallback_mirror: &str, sources: &[PathBuf]) -> Result<Addons, LabError> {
    let bin = cache.join("bin");
    if BINARIES.iter().all(|b| bin.join(b).is_file()) {
        return Ok(Addons::Built(bin));
    }
    let Some(sources) = sources.iter().find(|dir| ARCHIVES.iter().all(|a| dir.join(a).is_file())) else {
        let looked: Vec<String> = sources.iter().map(|d| d.display().to_string()).collect();
        return Ok(Addons::Missing(format!(
            "flannel, CoreDNS and NodeLocal DNSCache not built: no directory holds their upstream source archives ({}); looked in {} (`lab up --addon-sources DIR` names another)",
            ARCHIVES.join(", "),
            looked.join(", ")
        )));
    };
    let sources = fs::canonicalize(sources).map_err(LabError::io("resolve", sources))?;
    keep_sources(&sources, &cache.join("sources"))?;
    let mirror = fs::read_to_string(SOURCES).ok().and_then(|text| mirror_of(&text)).unwrap_or_else(|| fallback_mirror.to_string());
    fs::create_dir_all(cache).map_err(LabError::io("create", cache))?;
    let log = cache.join("build.log");
    runner.note(format!(
        "building flannel v{FLANNEL_VERSION}, its CNI plugin (plugins v{CNI_PLUGINS_VERSION}), CoreDNS v{COREDNS_VERSION} and node-cache {NODE_CACHE_VERSION} from {} into {} (once; about 10 minutes on 2 cores; output in {})",
        sources.display(),
        cache.display(),
        log.display()
    ));
    let started = Instant::now();
    let args = vec![cache.as_os_str().to_owned(), mirror.into(), sources.as_os_str().to_owned()];
    BuildScript { name: "network addons", script: SCRIPT, file: "src/lab/network_addons/build.sh", args }.run(runner, &log, started)?;
    runner.note(format!("network addons built in {} (cached in {})", minutes(started.elapsed()), bin.display()));
    Ok(Addons::Built(bin))
}

/// A copy of the archives in the cache (unless they are read from there), so that a lab made
/// from another checkout later can build again when the recipe changes.
fn keep_sources(sources: &Path, kept: &Path) -> Result<(), LabError> {
    if fs::canonicalize(kept).ok().as_deref() == Some(sources) {
        return Ok(());
    }
    fs::create_dir_all(kept).map_err(LabError::io("create", kept))?;
    for archive in ARCHIVES {
        let target = kept.join(archive);
        if !target.is_file() {
            let partial = target.with_extension("partial");
            fs::copy(sources.join(archive), &partial).map_err(LabError::io("copy into", &partial))?;
            fs::rename(&partial, &target).map_err(LabError::io("rename into", &target))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::command::Echo;

    #[test]
    fn the_script_leaves_the_binaries_and_checks_the_archives_this_module_expects() {
        for binary in BINARIES {
            assert!(SCRIPT.contains(&format!("$cache/bin/{binary}")) || SCRIPT.contains(&format!("bin/{binary}")), "{binary}");
        }
        for archive in ARCHIVES {
            assert!(SCRIPT.contains(archive), "{archive}");
        }
    }

    #[test]
    fn without_the_archives_nothing_is_built_and_the_reason_names_them() {
        let runner = Runner { echo: Echo::Quiet };
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(ARCHIVES[0]), "").unwrap();
        let cache = dir.path().join("cache");
        let looked = [dir.path().to_path_buf(), dir.path().join("elsewhere")];
        let Addons::Missing(why) = ensure_in(&runner, &cache, "http://deb.debian.org/debian", &looked).unwrap() else { panic!("built without sources") };
        assert!(why.contains("flannel-0.20.2.tar.gz, cni-plugins-0.9.1.tar.gz, kubernetes-dns-1.26.2.tar.gz, coredns-1.11.3.tar.gz"), "{why}");
        assert!(why.contains(&format!("looked in {}, {}/elsewhere", dir.path().display(), dir.path().display())), "{why}");
        assert!(why.contains("--addon-sources"), "{why}");
        assert!(!cache.exists(), "nothing is made without the sources");
        // With every binary cached, the cache answers and no archive is needed.
        fs::create_dir_all(cache.join("bin")).unwrap();
        for binary in BINARIES {
            fs::write(cache.join("bin").join(binary), "").unwrap();
        }
        assert_eq!(ensure_in(&runner, &cache, "http://x", &[PathBuf::from("/nonexistent")]).unwrap(), Addons::Built(cache.join("bin")));
    }

    #[test]
    fn a_named_directory_is_the_only_place_looked() {
        assert_eq!(source_dirs(Path::new("/p"), Some(Path::new("/src"))), [PathBuf::from("/src")]);
        let dirs = source_dirs(Path::new("/p"), None);
        assert!(dirs.contains(&PathBuf::from("/p/../shared/lab-sources")), "{dirs:?}");
        assert_eq!(dirs.last(), Some(&cache().join("sources")));
    }

    #[test]
    fn kept_sources_are_copies_of_every_archive() {
        let dir = tempfile::tempdir().unwrap();
        for archive in ARCHIVES {
            fs::write(dir.path().join(archive), archive).unwrap();
        }
        let kept = dir.path().join("kept");
        keep_sources(dir.path(), &kept).unwrap();
        for archive in ARCHIVES {
            assert_eq!(fs::read_to_string(kept.join(archive)).unwrap(), archive);
        }
        keep_sources(&fs::canonicalize(&kept).unwrap(), &kept).unwrap();
    }
}
