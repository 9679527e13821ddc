//! The lab's Kubernetes binaries (kube-apiserver, kube-controller-manager, kube-scheduler,
//! kubelet, kube-proxy, kubectl), built once by `kubernetes/build.sh` from Debian's
//! `kubernetes` source package with Go 1.15 from Debian 11, and cached. No release binary can
//! be downloaded on a development machine; the Debian archive is reachable.
//!
//! The build takes 5 to 15 minutes on 2 cores (5 min 15 s measured); its `== ` lines are shown as progress and the
//! whole output goes to `<cache>/build.log`. The script renames its result into place, so a
//! failed or interrupted build leaves no half `bin/`.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::LabError;
use super::base_image::CACHE_ROOT;
use super::command::{Echo, Runner};

/// The Kubernetes version built (Debian 12's `kubernetes` source package).
pub const VERSION: &str = "1.20.2";

/// The binaries the build leaves in `<cache>/bin/`.
pub const BINARIES: [&str; 6] = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"];

/// The build script, run with `sh -c SCRIPT build.sh CACHE MIRROR VERSION`.
const SCRIPT: &str = include_str!("kubernetes/build.sh");

/// The machine's own Debian sources, read for the mirror URL (never written).
const SOURCES: &str = "/etc/apt/sources.list.d/debian.sources";

/// Lines of the build's output kept for an error message.
const TAIL: usize = 25;

/// How often a silent build says it is still going.
const HEARTBEAT: Duration = Duration::from_secs(60);

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

/// Runs the script, showing its `== ` lines with the elapsed time and logging every line.
fn build(runner: &Runner, cache: &Path, mirror: &str, log_path: &Path, started: Instant) -> Result<(), LabError> {
    let mut command = Command::new("sh");
    // stderr joins stdout, so the log keeps the order of what happened.
    command.arg("-c").arg(format!("exec 2>&1\n{SCRIPT}")).arg("build.sh").arg(cache).arg(mirror).arg(VERSION);
    command.stdin(Stdio::null()).stdout(Stdio::piped());
    let line = format!("sh src/lab/kubernetes/build.sh {} {mirror} {VERSION}", cache.display());
    if runner.echo == Echo::Commands {
        eprintln!("lab: $ {line}");
    }
    let mut log = File::create(log_path).map_err(LabError::io("create", log_path))?;
    let mut child = command.spawn().map_err(|source| LabError::Spawn { command: line.clone(), source })?;
    let mut tail = VecDeque::with_capacity(TAIL);
    let done = AtomicBool::new(false);
    let read = std::thread::scope(|scope| {
        // The compile step is silent for minutes: say that it is still going.
        scope.spawn(|| {
            let mut next = HEARTBEAT;
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(250));
                if started.elapsed() >= next {
                    runner.note(format!("kubernetes [{}]: still building (output in {})", minutes(started.elapsed()), log_path.display()));
                    next += HEARTBEAT;
                }
            }
        });
        let read = copy_output(runner, child.stdout.take(), &mut log, log_path, &mut tail, started);
        done.store(true, Ordering::Relaxed);
        read
    });
    if let Err(error) = read {
        let _ = child.kill();
        let _ = child.wait();
        return Err(error);
    }
    let status = child.wait().map_err(|source| LabError::Spawn { command: line.clone(), source })?;
    if status.success() {
        return Ok(());
    }
    let last: Vec<String> = tail.into_iter().collect();
    Err(LabError::Command { command: line, status: status.to_string(), stderr: format!("{}\n(the whole output is in {})", last.join("\n"), log_path.display()) })
}

/// Logs every line of the build's output, notes its `== ` lines and keeps the last ones.
fn copy_output(runner: &Runner, stdout: Option<ChildStdout>, log: &mut File, log_path: &Path, tail: &mut VecDeque<String>, started: Instant) -> Result<(), LabError> {
    let Some(stdout) = stdout else { return Ok(()) };
    let mut reader = BufReader::new(stdout);
    let mut bytes = Vec::new();
    while reader.read_until(b'\n', &mut bytes).map_err(LabError::io("read the output of", "build.sh"))? > 0 {
        let text = String::from_utf8_lossy(&bytes).trim_end().to_string();
        bytes.clear();
        log.write_all(format!("{text}\n").as_bytes()).map_err(LabError::io("write", log_path))?;
        if let Some(step) = text.strip_prefix("== ") {
            runner.note(format!("kubernetes [{}]: {step}", minutes(started.elapsed())));
        }
        if tail.len() == TAIL {
            tail.pop_front();
        }
        tail.push_back(text);
    }
    Ok(())
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

/// `14 min 3 s`, or `42 s` under a minute.
fn minutes(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    if seconds < 60 { format!("{seconds} s") } else { format!("{} min {} s", seconds / 60, seconds % 60) }
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
    fn elapsed_times_read_as_minutes() {
        assert_eq!(minutes(Duration::from_secs(42)), "42 s");
        assert_eq!(minutes(Duration::from_secs(843)), "14 min 3 s");
    }

    #[test]
    fn the_script_leaves_the_binaries_this_module_expects() {
        for binary in BINARIES {
            assert!(SCRIPT.contains(&format!("cmd/{binary}")), "{binary}");
        }
        assert!(SCRIPT.contains("mv \"$cache/bin.partial\" \"$cache/bin\""), "the build renames bin/ into place");
    }
}
