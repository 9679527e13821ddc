//! Reading a host once. Steps declare up front what they will read on a host (`Step::reads`):
//! file states, file contents, the output of read-only scripts. Before the first step the
//! runner reads all of it, for every step, in one round trip per host, and steps get their
//! answers from the host's `Snapshot`. Every round trip starts a session and a shell on the
//! host, so a no-change run that asked each step's questions separately spent most of its time
//! on process start-up on the hosts.
//!
//! The snapshot is the state at the start of the run: what the run writes through the gate is
//! recorded in it, anything else that must be fresh (a check after a restart) is read directly,
//! and steps that reboot a host or change its address `forget` it. A read nobody declared costs
//! its own round trip, as before; a snapshot that could not be taken is simply empty.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::facts::{Ask, Query};
use crate::transport::files::{FileSpec, Probed, Quick, parse_probed, probe_script_with};
use crate::shell::quote;
use crate::transport::{Output, Transport, TransportError};

/// One thing a step will read on a host.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Read {
    /// A file's mode, owner and checksum (for `HostContext::files`).
    Probe(String),
    /// The same for a large file, not hashed when its size and modification time say it is
    /// the one v6deploy wrote (see `files::QUICK_CHECK_BYTES`).
    ProbeQuick(String, Quick),
    /// A file's contents (`HostContext::read_file`).
    Contents(String),
    /// The answer to a query (`HostContext::query`): its script's standard output and exit
    /// status.
    Query(Query),
}

impl Read {
    /// The probe of the file `spec` describes (quick-checked when it is large).
    pub fn probe(spec: &FileSpec) -> Read {
        match spec.quick() {
            Some(quick) => Read::ProbeQuick(spec.path.clone(), quick),
            None => Read::Probe(spec.path.clone()),
        }
    }

    /// The query `ask` asks.
    pub fn query<T>(ask: &Ask<T>) -> Read {
        Read::Query(ask.query().clone())
    }
}

/// What was read from one host at the start of the run.
#[derive(Debug, Default)]
pub struct Snapshot {
    taken: Mutex<Taken>,
}

#[derive(Debug, Default)]
struct Taken {
    probes: HashMap<String, Option<Probed>>,
    contents: HashMap<String, Option<Vec<u8>>>,
    queries: HashMap<Query, Output>,
    /// This machine's clock (Unix seconds) just before and after the read.
    window: Option<(f64, f64)>,
}

/// The exit status a contents read reports for a missing file.
const MISSING: u32 = 44;

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

impl Snapshot {
    /// Reads everything in `reads` in one round trip.
    pub async fn take(transport: &dyn Transport, reads: &[Read]) -> Result<Snapshot, TransportError> {
        let snapshot = Snapshot::default();
        if reads.is_empty() {
            return Ok(snapshot);
        }
        let boundary = format!("--v6deploy-{:x}-{:x}--", std::process::id(), SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        let (script, items) = build(reads, &boundary);
        tracing::trace!(host = transport.label(), "snapshot script:\n{script}");
        let before = now();
        let output = transport.exec(&script, &[]).await?;
        let after = now();
        tracing::debug!(host = transport.label(), "snapshot of {} reads in {:.3} s", reads.len(), after - before);
        let sections = split(&output.stdout, &boundary);
        let mut taken = snapshot.lock();
        taken.window = Some((before, after));
        for (item, (body, status)) in items.iter().zip(sections) {
            match item {
                Item::Probes(targets) => {
                    let refs: Vec<&str> = targets.iter().map(|(p, _)| p.as_str()).collect();
                    if let (0, Ok(found)) = (status, parse_probed(&String::from_utf8_lossy(&body), &refs)) {
                        taken.probes.extend(targets.iter().map(|(p, _)| p.clone()).zip(found));
                    }
                }
                Item::Contents(path) if status == 0 => drop(taken.contents.insert(path.clone(), Some(body))),
                Item::Contents(path) if status == MISSING => drop(taken.contents.insert(path.clone(), None)),
                Item::Contents(_) => {}
                Item::Query(key) => drop(taken.queries.insert(key.clone(), Output { status, stdout: body, stderr: Vec::new() })),
            }
        }
        drop(taken);
        Ok(snapshot)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Taken> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A file's state at the start of the run (`None`: not read; `Some(None)`: no such file).
    pub fn probed(&self, path: &str) -> Option<Option<Probed>> {
        self.lock().probes.get(path).cloned()
    }

    /// Records a probe made later in the run.
    pub fn set_probed(&self, path: &str, found: Option<Probed>) {
        self.lock().probes.insert(path.to_string(), found);
    }

    /// Records that the run wrote `spec` to the host.
    pub fn written(&self, spec: &FileSpec) {
        let mut taken = self.lock();
        taken.probes.insert(spec.path.clone(), Some(Probed::of(spec)));
        // A local file's contents are not held: a later read asks the host.
        match spec.contents.in_memory() {
            Some(bytes) => {
                if let Some(contents) = taken.contents.get_mut(&spec.path) {
                    *contents = Some(bytes.to_vec());
                }
            }
            None => drop(taken.contents.remove(&spec.path)),
        }
    }

    /// A file's contents at the start of the run (`None`: not read; `Some(None)`: missing).
    pub fn contents(&self, path: &str) -> Option<Option<Vec<u8>>> {
        self.lock().contents.get(path).cloned()
    }

    /// The output of `query`'s script (`None`: not read).
    pub fn query(&self, query: &Query) -> Option<Output> {
        self.lock().queries.get(query).cloned()
    }

    /// Records a query's output as if the snapshot had read it (tests of steps).
    #[cfg(test)]
    pub fn seed(&self, query: &Query, output: Output) {
        self.lock().queries.insert(query.clone(), output);
    }

    /// This machine's clock just before and after the snapshot was read.
    pub fn window(&self) -> Option<(f64, f64)> {
        self.lock().window
    }

    /// Drops everything read: the host changed under it (a reboot, a new address).
    pub fn forget(&self) {
        *self.lock() = Taken::default();
    }
}

/// What each section of the snapshot's output answers.
#[derive(Debug, PartialEq)]
enum Item {
    Probes(Vec<(String, Option<Quick>)>),
    Contents(String),
    Query(Query),
}

/// The script: one section per item, each framed by `BOUNDARY N` and `\nBOUNDARY end STATUS`
/// lines (the extra newline is removed again), all probes in one section (one `stat` and one
/// `sha256sum` for every file), then the contents read, then the queries. Queries run in
/// subshells with stdin closed, so one cannot end or feed the others; they all start at once
/// in the background (a control plane's health checks are a dozen TLS requests and Go
/// programs that mostly wait: one after the other they took 0.3 s of a host's 0.5 s
/// snapshot), each writing its whole section into a file of a temp directory; one `cat`
/// prints them all in order once they are done, and one more their standard errors (printing
/// each with its own `cat`s cost a worker's snapshot ~35 processes, a quarter of its CPU).
/// Without a temp directory (`mktemp` failed) they run one by one.
fn build(reads: &[Read], boundary: &str) -> (String, Vec<Item>) {
    let mut probes: Vec<(String, Option<Quick>)> = Vec::new();
    let mut contents = Vec::new();
    let mut queries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for read in reads {
        if !seen.insert(read.clone()) {
            continue;
        }
        match read {
            Read::Probe(path) => probes.push((path.clone(), None)),
            Read::ProbeQuick(path, quick) => probes.push((path.clone(), Some(quick.clone()))),
            Read::Contents(path) => contents.push(Item::Contents(path.clone())),
            Read::Query(query) => queries.push(Item::Query(query.clone())),
        }
    }
    let mut items = Vec::new();
    if !probes.is_empty() {
        items.push(Item::Probes(probes));
    }
    items.extend(contents);
    let first_query = items.len();
    items.extend(queries);
    let header = |i: usize| format!("printf '%s {i}\\n' \"$B\"");
    let trailer = |status: &str| format!("printf '\\n%s end %s\\n' \"$B\" {status}");
    let mut script = format!("B={}\n", quote(boundary));
    // Every unit a query tests, asked of systemd once: `u0`, `u1`... hold their states.
    let mut units: Vec<&str> = items.iter().filter_map(|item| if let Item::Query(q) = item { q.unit_tested() } else { None }).collect();
    units.sort_unstable();
    units.dedup();
    if !units.is_empty() {
        let names: Vec<String> = units.iter().map(|u| quote(u).into_owned()).collect();
        let vars: Vec<String> = (0..units.len()).map(|i| format!("u{i}=$1; shift;")).collect();
        // Padded, so that a `shift` never fails (and ends the shell) when systemd said less.
        let padding = vec!["''"; units.len()].join(" ");
        let _ = writeln!(script, "set -- $(systemctl is-active {} 2>/dev/null) {padding}; {}", names.join(" "), vars.join(" "));
    }
    let is_active = |unit: &str| units.iter().position(|u| *u == unit).map_or_else(|| format!("systemctl is-active --quiet {}", quote(unit)), |i| format!("[ \"$u{i}\" = active ]"));
    if first_query < items.len() {
        script.push_str("d=$(mktemp -d 2>/dev/null) && trap 'rm -rf \"$d\"' EXIT || d=\n");
        for (i, item) in items.iter().enumerate().skip(first_query) {
            let Item::Query(query) = item else { continue };
            let _ = writeln!(script, "q{i}() ( {}\n) </dev/null", query.script_with(&is_active));
            let _ = writeln!(script, "if [ -n \"$d\" ]; then {{ {}; q{i} 2>\"$d/{i}.e\"; {}; }} >\"$d/{i}\" & fi", header(i), trailer("\"$?\""));
        }
    }
    for (i, item) in items.iter().enumerate().take(first_query) {
        script.push_str(&header(i));
        script.push('\n');
        match item {
            Item::Probes(targets) => {
                let refs: Vec<(&str, Option<&Quick>)> = targets.iter().map(|(p, q)| (p.as_str(), q.as_ref())).collect();
                let _ = writeln!(script, "( {} ) </dev/null; s=$?", probe_script_with(&refs));
            }
            Item::Contents(path) => {
                let p = quote(path);
                let _ = writeln!(script, "if [ -e {p} ]; then cat -- {p}; s=$?; else s={MISSING}; fi");
            }
            Item::Query(_) => {}
        }
        script.push_str(&trailer("\"$s\""));
        script.push('\n');
    }
    if first_query < items.len() {
        let files = |suffix: &str| (first_query..items.len()).map(|i| format!("\"$d/{i}{suffix}\"")).collect::<Vec<_>>().join(" ");
        let _ = writeln!(script, "if [ -n \"$d\" ]; then wait; cat {}; cat {} >&2", files(""), files(".e"));
        script.push_str("else\n");
        for i in first_query..items.len() {
            let _ = writeln!(script, "{}; q{i}; {}", header(i), trailer("\"$?\""));
        }
        script.push_str("fi\n");
    }
    (script, items)
}

/// The sections of the output, in order: body and exit status.
fn split(output: &[u8], boundary: &str) -> Vec<(Vec<u8>, u32)> {
    let mut sections = Vec::new();
    let mut rest = output;
    let end = format!("\n{boundary} end ");
    for i in 0.. {
        let header = format!("{boundary} {i}\n");
        let Some(start) = find(rest, header.as_bytes()) else { break };
        let body_start = start + header.len();
        let Some(body_len) = find(&rest[body_start..], end.as_bytes()) else { break };
        let body = rest[body_start..body_start + body_len].to_vec();
        let after = &rest[body_start + body_len + end.len()..];
        let line_end = after.iter().position(|b| *b == b'\n').unwrap_or(after.len());
        let status = std::str::from_utf8(&after[..line_end]).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(255);
        sections.push((body, status));
        rest = &after[line_end..];
    }
    sections
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::files::FileState;

    /// Runs the real script with the local `sh` on a temp directory.
    #[test]
    fn one_script_reads_probes_contents_and_queries() {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| format!("{}/{name}", dir.path().display());
        std::fs::write(path("a.conf"), "alpha\n").unwrap();
        std::fs::write(path("no newline"), "x").unwrap();
        let reads = vec![
            Read::Probe(path("a.conf")),
            Read::Probe(path("missing")),
            Read::Contents(path("no newline")),
            Read::Contents(path("missing")),
            Read::Query(Query::Script("echo one; exit 3".into())),
            Read::Query(Query::Script("cat; echo read-nothing".into())),
            Read::Probe(path("a.conf")),
        ];
        let (script, items) = build(&reads, "--b--");
        assert_eq!(items.len(), 5, "{items:?}");
        let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
        let sections = split(&out.stdout, "--b--");
        assert_eq!(sections.len(), 5, "{}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(sections[1], (b"x".to_vec(), 0));
        assert_eq!(sections[2].1, MISSING);
        assert_eq!(sections[3], (b"one\n".to_vec(), 3));
        assert_eq!(sections[4], (b"read-nothing\n".to_vec(), 0));
        let found = parse_probed(&String::from_utf8_lossy(&sections[0].0), &[&path("a.conf"), &path("missing")]).unwrap();
        let spec = FileSpec::new(path("a.conf"), found[0].as_ref().unwrap().mode, found[0].as_ref().unwrap().owner.clone(), &b"alpha\n"[..]);
        assert_eq!(FileState::compare(&spec, found[0].as_ref()), FileState::Same);
        assert_eq!(found[1], None);
    }

    /// The queries run at the same time: the first waits for a file only the second makes (it
    /// would give up after 10 s run one after the other). With no temp directory (a `mktemp`
    /// that fails) they run one by one and still answer in order, stderr and status kept.
    #[test]
    fn queries_run_side_by_side_and_one_by_one_without_a_temp_dir() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("second-ran");
        let first = format!("i=0; while [ ! -e '{}' ]; do i=$((i + 1)); [ $i -lt 200 ] || {{ echo alone; exit 1; }}; sleep 0.05; done; echo together", flag.display());
        let reads = vec![
            Read::Query(Query::Script(first)),
            Read::Query(Query::Script(format!("touch '{}'; echo made; echo to-stderr >&2; exit 4", flag.display()))),
        ];
        let (script, _) = build(&reads, "--b--");
        let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
        let sections = split(&out.stdout, "--b--");
        assert_eq!(sections, vec![(b"together\n".to_vec(), 0), (b"made\n".to_vec(), 4)], "{}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(String::from_utf8_lossy(&out.stderr), "to-stderr\n");

        let stubs = tempfile::tempdir().unwrap();
        let mktemp = stubs.path().join("mktemp");
        std::fs::write(&mktemp, "#!/bin/sh\nexit 1\n").unwrap();
        std::fs::set_permissions(&mktemp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        std::fs::remove_file(&flag).unwrap();
        let reads = vec![Read::Query(Query::Script("echo one; exit 3".into())), Read::Query(Query::Script(format!("[ -e '{}' ] || echo first-not-waited-for", flag.display())))];
        let (script, _) = build(&reads, "--b--");
        let path = format!("{}:{}", stubs.path().display(), std::env::var("PATH").unwrap_or_default());
        let out = std::process::Command::new("sh").arg("-c").arg(&script).env("PATH", path).output().unwrap();
        let sections = split(&out.stdout, "--b--");
        assert_eq!(sections, vec![(b"one\n".to_vec(), 3), (b"first-not-waited-for\n".to_vec(), 0)], "{}", String::from_utf8_lossy(&out.stdout));
    }

    /// systemd is asked once for the state of every unit the queries test (a stub
    /// `systemctl` counts its calls), and each query sees its unit's state.
    #[test]
    fn the_units_states_are_asked_once() {
        let stubs = tempfile::tempdir().unwrap();
        let calls = stubs.path().join("calls");
        let systemctl = stubs.path().join("systemctl");
        let stub = format!("#!/bin/sh\necho \"$*\" >> '{}'\n[ \"$1\" = is-active ] || exit 1; shift\nfor u; do case $u in kubelet) echo active;; *) echo inactive;; esac; done\n", calls.display());
        std::fs::write(&systemctl, stub).unwrap();
        std::fs::set_permissions(&systemctl, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let reads = vec![
            Read::query(&Query::service_state("kubelet")),
            Read::query(&Query::service_state("etcd")),
            Read::query(&Query::health_now("kubelet", "echo checked".into())),
            Read::query(&Query::health_now("etcd", "echo checked".into())),
        ];
        let (script, _) = build(&reads, "--b--");
        let path = format!("{}:{}", stubs.path().display(), std::env::var("PATH").unwrap_or_default());
        let out = std::process::Command::new("sh").arg("-c").arg(&script).env("PATH", path).output().unwrap();
        let sections = split(&out.stdout, "--b--");
        assert_eq!(
            sections,
            vec![(b"active\n".to_vec(), 0), (b"inactive\n".to_vec(), 0), (Vec::new(), 0), (b"etcd not active\n".to_vec(), 1)],
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert_eq!(std::fs::read_to_string(&calls).unwrap(), "is-active etcd kubelet\n");
        // Without systemd's answer, every unit counts as not running.
        std::fs::write(&systemctl, "#!/bin/sh\nexit 1\n").unwrap();
        let path = format!("{}:{}", stubs.path().display(), std::env::var("PATH").unwrap_or_default());
        let out = std::process::Command::new("sh").arg("-c").arg(&script).env("PATH", path).output().unwrap();
        assert_eq!(split(&out.stdout, "--b--")[0], (b"inactive\n".to_vec(), 0));
    }

    #[test]
    fn a_truncated_output_yields_only_the_complete_sections() {
        let sections = split(b"--b-- 0\nfirst\n--b-- end 0\n--b-- 1\npartial", "--b--");
        assert_eq!(sections, vec![(b"first".to_vec(), 0)]);
    }
}
