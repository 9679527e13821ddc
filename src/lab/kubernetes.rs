//! The lab's Kubernetes binaries (kube-apiserver, kube-controller-manager, kube-scheduler,
//! kubelet, kube-proxy, kubectl), built once by `kubernetes/build.sh` from Debian's
//! `kubernetes` source package with Go 1.15 from Debian 11, and cached. No release binary can
//! be downloaded on a development machine; the Debian archive is reachable.
//!
//! The build takes 5 to 15 minutes on 2 cores (5 min 15 s measured); its `== ` lines are shown as progress and the
//! whole output goes to `<cache>/build.log`. The script renames its result into place, so a
//! failed or interrupted build leaves no half `bin/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::LabError;
use super::base_image::CACHE_ROOT;
use super::build_script::{BuildScript, minutes};
use super::command::Runner;

/// The Kubernetes version built (Debian 12's `kubernetes` source package).
pub const VERSION: &str = "1.20.2";

/// The binaries the build leaves in `<cache>/bin/`.
pub const BINARIES: [&str; 6] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"];

/// The build script, run with `sh -c SCRIPT build.sh CACHE MIRROR VERSION`.
const SCRIPT: &str = include_str!("kubernetes/build.sh");

/// The machine's own Debian sources, read for the mirror URL (never written).
const SOURCES: &str = "/etc/apt/sources.list.d/debian.sources";


/// `/var/cache/v6deploy/lab/kubernetes-1.20.2`: the sources, Go, the unpacked tree, the build
/// caches and `bin/`.
pub fn cache() -> PathBuf {
    Path::new(CACHE_ROOT).join(format!("kubernetes-{VERSION}"))
}

/// The unpacked Kubernetes source tree (left by the build; `build/pause/` is in it).
pub fn tree() -> PathBuf {
    cache().join("tree")
}

/// The directory holding the six binaries, building them first when any is missing.
/// `fallback_mirror` is used when the machine's Debian sources name no bookworm mirror.
pub fn ensure(runner: &Runner, fallback_mirror: &str) -> Result<PathBuf, LabError> {
    let cache = cache();
    let bin = cache.join("bin");
    if BINARIES.iter().all(|b| bin.join(b).is_file()) {
        return Ok(bin);
    }
    let mirror = fs::read_to_string(SOURCES).ok().and_then(|text| mirror_of(&text)).unwrap_or_else(|| fallback_mirror.to_string());
    fs::create_dir_all(&cache).map_err(LabError::io("create", &cache))?;
    let log = cache.join("build.log");
    runner.note(format!(
        "building Kubernetes v{VERSION} from Debian's source package into {} (once; about 5 to 15 minutes on 2 cores; output in {})",
        cache.display(),
        log.display()
    ));
    let started = Instant::now();
    build(runner, &cache, &mirror, &log, started)?;
    runner.note(format!("Kubernetes v{VERSION} built in {} (cached in {})", minutes(started.elapsed()), bin.display()));
    Ok(bin)
}

/// Runs the script (`== ` lines as progress, the whole output in `log`).
fn build(runner: &Runner, cache: &Path, mirror: &str, log: &Path, started: Instant) -> Result<(), LabError> {
    let args = vec![cache.as_os_str().to_owned(), mirror.into(), VERSION.into()];
    BuildScript { name: "kubernetes", script: SCRIPT, file: "src/lab/kubernetes/build.sh", args }.run(runner, log, started)
}

/// The bookworm mirror named by a deb822 sources file: the `URIs:` of the first stanza whose
/// `Suites:` lists `bookworm`.
pub fn mirror_of(sources: &str) -> Option<String> {
    sources.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(':')).map(str::trim))
        };
        let suites = field("Suites")?;
        if !suites.split_whitespace().any(|s| s == "bookworm") {
            return None;
        }
        field("URIs")?.split_whitespace().next().map(|uri| uri.trim_end_matches('/').to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES: &str = "\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
";

    #[test]
    fn the_mirror_is_the_bookworm_stanza_s_uri() {
        assert_eq!(mirror_of(SOURCES).as_deref(), Some("http://deb.debian.org/debian"));
        let security_first = "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\nTypes: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n";
        assert_eq!(mirror_of(security_first).as_deref(), Some("http://mirror.example/debian"));
        assert_eq!(mirror_of("Types: deb\nURIs: http://x/debian\nSuites: bullseye\n"), None);
        assert_eq!(mirror_of(""), None);
    }

    #[test]
    fn the_script_leaves_the_binaries_this_module_expects() {
        for binary in BINARIES {
            assert!(SCRIPT.contains(&format!("cmd/{binary}")), "{binary}");
        }
        assert!(SCRIPT.contains("mv \"$cache/bin.partial\" \"$cache/bin\""), "the build renames bin/ into place");
    }
}
