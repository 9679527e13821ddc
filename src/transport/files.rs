//! Files on a host, batched: one round trip probes every file of a step (checksum, mode,
//! owner), one more writes all the changed ones. Writes are atomic and checked: each file goes
//! to a temp directory beside its target, the batch is checked to have arrived whole (see
//! [`write_script`]), mode and owner are set, and only when every file of the batch is in
//! place are they renamed over their targets. On any error the temp files are removed, so
//! nothing half-written is left on the host. Each script starts a fixed handful of processes
//! plus two per written file, not several per file.
//!
//! The scripts use POSIX sh, awk and GNU coreutils (`head -c`, `sha256sum`, `stat -c`,
//! `mktemp -d`), present on CentOS 7 and Debian alike.

use std::fmt::Write as _;
use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use super::contents::{Contents, LocalFile};
use crate::hash_cache::Hashed;
use crate::shell::quote;
use super::{Transport, TransportError};

/// A file as it should be on the host. Its SHA-256 is known when the spec is made; contents
/// in memory are shared, a local file (the bundle's) is read only while it is sent, so a
/// binary pushed to 50 hosts is hashed once and never held whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Absolute path on the host.
    pub path: String,
    /// Permission bits, e.g. 0o644.
    pub mode: u32,
    /// `user:group`, e.g. `root:root`.
    pub owner: String,
    pub contents: Contents,
    sha256: String,
}

impl FileSpec {
    /// A file owned by `owner` (`user:group`), from bytes in memory.
    pub fn new(path: impl Into<String>, mode: u32, owner: impl Into<String>, contents: impl Into<Arc<[u8]>>) -> FileSpec {
        let contents: Arc<[u8]> = contents.into();
        let sha256 = hex(&Sha256::digest(&contents));
        FileSpec { path: path.into(), mode, owner: owner.into(), contents: Contents::Memory(contents), sha256 }
    }

    /// A root-owned file.
    pub fn root(path: impl Into<String>, mode: u32, contents: impl Into<Arc<[u8]>>) -> FileSpec {
        FileSpec::new(path, mode, "root:root", contents)
    }

    /// A root-owned file whose contents are a hashed local file (see `hash_cache`).
    pub fn local(path: impl Into<String>, mode: u32, hashed: &Hashed) -> FileSpec {
        FileSpec { path: path.into(), mode, owner: "root:root".into(), contents: Contents::Local(Arc::clone(&hashed.file)), sha256: hashed.sha256.clone() }
    }

    /// The same contents at another path.
    pub fn at(&self, path: impl Into<String>, mode: u32) -> FileSpec {
        FileSpec { path: path.into(), mode, owner: self.owner.clone(), contents: self.contents.clone(), sha256: self.sha256.clone() }
    }

    /// Hex SHA-256 of the contents.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
}

/// How the file on the host differs from its spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Content, mode and owner already match.
    Same,
    /// The file does not exist.
    Missing,
    /// The content differs.
    Content,
    /// Only mode or owner differ (`was` is what the host has, e.g. `600 root:root`).
    Attributes { was: String },
}

impl FileState {
    /// Whether the file needs writing.
    pub fn changed(&self) -> bool {
        *self != FileState::Same
    }

    /// Why it changes, for the plan and the recap.
    pub fn reason(&self) -> String {
        match self {
            FileState::Same => "unchanged".into(),
            FileState::Missing => "new file".into(),
            FileState::Content => "content differs".into(),
            FileState::Attributes { was } => format!("mode/owner differ (was {was})"),
        }
    }
}

/// Files at least this large are written with a modification time derived from their
/// checksum, and probed by size and modification time first (rsync's quick check): hashing
/// the bundle's binaries (hundreds of MB per host with Kubernetes) on every run cost more
/// host CPU than all the rest of a no-change run. Anything else that changes such a file
/// gives it a new modification time, so it is hashed and compared again.
pub const QUICK_CHECK_BYTES: u64 = 1 << 20;

/// The size and modification time a large file was written with (see `QUICK_CHECK_BYTES`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quick {
    pub size: u64,
    /// Seconds since the epoch: 2000-01-01 plus up to ~31 years, from the checksum.
    pub mtime: u64,
    pub sha256: String,
}

impl FileSpec {
    /// The quick-check values of a large file (`None` for smaller ones).
    pub fn quick(&self) -> Option<Quick> {
        (self.contents.len() >= QUICK_CHECK_BYTES).then(|| Quick {
            size: self.contents.len(),
            mtime: 946_684_800 + u64::from_str_radix(&self.sha256[..8], 16).unwrap_or(0) % 1_000_000_000,
            sha256: self.sha256.clone(),
        })
    }
}

/// The probe script: one line per path, `-` when missing, else `MODE USER:GROUP SHA256`.
/// One `stat` reads every file, one `sha256sum` hashes those that need it, and one `awk`
/// puts their lines together: a process per file costs a small host more than the round
/// trip does.
pub fn probe_script(paths: &[&str]) -> String {
    let targets: Vec<(&str, Option<&Quick>)> = paths.iter().map(|p| (*p, None)).collect();
    probe_script_with(&targets)
}

/// `probe_script` where a file given with its `Quick` values is not hashed when its size and
/// modification time are those values: its line is made from them and its `stat` line.
pub fn probe_script_with(targets: &[(&str, Option<&Quick>)]) -> String {
    let mut script = String::from("{ set --; for p in");
    for (path, _) in targets {
        let _ = write!(script, " {}", quote(path));
    }
    script.push_str("; do if [ -f \"$p\" ]; then set -- \"$@\" \"$p\"; echo +; else echo -; fi; done\n");
    script.push_str("echo =\nif [ $# -gt 0 ]; then stat -c '%s %Y %a %U:%G %n' -- \"$@\" || echo '!'; fi\n} | awk ");
    let mut program = String::from("BEGIN {");
    for (path, quick) in targets {
        if let Some(q) = quick {
            let _ = write!(program, " q[\"{0}\"] = \"{1} {2}\"; qs[\"{0}\"] = \"{3}\";", awk_string(path), q.size, q.mtime, q.sha256);
        }
    }
    program.push_str(" }\n");
    program.push_str(PROBE_AWK);
    script.push_str(&quote(&program));
    script
}

/// `text` inside an awk string literal.
fn awk_string(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// After the `q`/`qs` table of quick-check values: reads the `+`/`-` marks, `=`, and the
/// `stat` lines (`!` if stat failed); hashes, with one `sha256sum`, every present file the
/// quick check does not vouch for (sha256sum starts a line with a backslash when it escapes
/// the name); prints a line per path.
const PROBE_AWK: &str = r#"function sq(s) { gsub(/'/, "'\\''", s); return "'" s "'" }
!separated { if ($0 == "=") separated = 1; else { marks[n++] = $0; if ($0 == "+") present++ }; next }
$0 == "!" { failed = 1; next }
{ lines[a++] = $0 }
END {
  if (failed || a != present) exit 1
  cmd = "sha256sum --"; k = 0
  for (j = 0; j < a; j++) {
    split(lines[j], f, " ")
    name = substr(lines[j], length(f[1]) + length(f[2]) + length(f[3]) + length(f[4]) + 5)
    attributes[j] = f[3] " " f[4]
    if ((name in q) && q[name] == f[1] " " f[2]) sums[j] = qs[name]; else { hash[k++] = j; cmd = cmd " " sq(name) }
  }
  if (k > 0) {
    i = 0
    while ((cmd | getline l) > 0) { h = l; sub(/ .*/, "", h); sub(/^\\/, "", h); if (i < k) sums[hash[i]] = h; i++ }
    close(cmd)
    if (i != k) exit 1
  }
  j = 0
  for (i = 0; i < n; i++) if (marks[i] == "-") print "-"; else { print attributes[j] " " sums[j]; j++ }
}"#;

/// A regular file as the probe found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    pub mode: u32,
    /// `user:group`
    pub owner: String,
    pub sha256: String,
}

impl Probed {
    /// What a file written from `spec` probes as.
    pub fn of(spec: &FileSpec) -> Probed {
        Probed { mode: spec.mode, owner: spec.owner.clone(), sha256: spec.sha256.clone() }
    }
}

impl FileState {
    /// How `found` (`None`: no regular file there) differs from `spec`.
    pub fn compare(spec: &FileSpec, found: Option<&Probed>) -> FileState {
        match found {
            None => FileState::Missing,
            Some(p) if p.sha256 != spec.sha256 => FileState::Content,
            Some(p) if p.mode != spec.mode || p.owner != spec.owner => FileState::Attributes { was: format!("{:o} {}", p.mode, p.owner) },
            Some(_) => FileState::Same,
        }
    }
}

/// Reads the probe output for `paths` (one line each, in order).
pub fn parse_probed(output: &str, paths: &[&str]) -> Result<Vec<Option<Probed>>, String> {
    let lines: Vec<&str> = output.lines().collect();
    if lines.len() != paths.len() {
        return Err(format!("expected {} lines, got {}: {output:?}", paths.len(), lines.len()));
    }
    paths
        .iter()
        .zip(lines)
        .map(|(path, line)| {
            if line == "-" {
                return Ok(None);
            }
            let fields: Vec<&str> = line.split(' ').collect();
            let [mode, owner, hash] = fields[..] else {
                return Err(format!("cannot read {path}: {line:?}"));
            };
            let mode = u32::from_str_radix(mode, 8).map_err(|_| format!("bad mode {mode:?} for {path}"))?;
            Ok(Some(Probed { mode, owner: owner.to_string(), sha256: hash.to_string() }))
        })
        .collect()
}

/// Compares the probe output with the specs.
pub fn parse_probe(output: &str, specs: &[FileSpec]) -> Result<Vec<FileState>, String> {
    let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
    let found = parse_probed(output, &paths)?;
    Ok(specs.iter().zip(&found).map(|(spec, found)| FileState::compare(spec, found.as_ref())).collect())
}

/// The line a write script reads on stdin after the contents: the sender got to the end of
/// every file unchanged (see [`write_script`]).
pub const SENT_WHOLE: &str = "v6deploy: sent whole";

/// A write script and what follows the contents on its stdin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteScript {
    /// The shell script (`sh -c`); no file name appears in it except shell-quoted.
    pub script: String,
    /// The [`SENT_WHOLE`] line, sent on stdin after the contents.
    pub trailer: String,
}

/// Whether a file name or path holds a control character (a byte below 0x20, or 0x7f): such
/// a name could end a line of a checksum list or a here-document, so it never reaches a host.
pub fn has_control_characters(name: &str) -> bool {
    name.bytes().any(|b| b < 0x20 || b == 0x7f)
}

/// The write script for `specs`; their contents are concatenated on stdin in the same order,
/// followed by `WriteScript::trailer`.
/// Each target directory gets one fresh temp directory beside the targets (a random name,
/// created with one `mkdir` for all, which fails rather than reuse one that exists; removed on
/// exit whatever happens). The files go there under their own names and are checked to have
/// arrived whole: the trailer line must follow them (the sender sends it only when it read
/// every local file to its end unchanged since it was checksummed; a connection that fails
/// mid-send never delivers it) and one `stat` must find every file at its size. SSH's message
/// authentication already guarantees that the bytes are the ones sent, so the host does not
/// hash them again: a `sha256sum` of the bundle took 40 % of a first install's file step on
/// the lab's 2 cores (468 MB to 3 hosts: 5.9 s with it, 3.2-3.8 s without). Then they are
/// given their mode with one `chmod` per distinct mode (and an owner other
/// than root with one `chown` per owner: the script runs as root, directly or through sudo,
/// so what it creates is root's), large files their quick-check time, their data is synced to
/// disk, and only then are they renamed over their targets with one `mv` per directory,
/// directories in the order they first appear in `specs`; the directories are synced last, so
/// the renames last too. One process per file (`head`) plus a few per batch and per directory.
///
/// `sync FILE...` needs coreutils 8.24; older ones (CentOS 7 has 8.22) ignore the arguments,
/// warn and sync every file system, which is slower but as safe: the warning is silenced, and
/// a `sync` that fails falls back to a plain `sync`.
pub fn write_script(specs: &[&FileSpec]) -> WriteScript {
    // The last spec for a path wins, as if they were written one after the other.
    let specs: Vec<&FileSpec> = specs.iter().enumerate().filter(|(i, spec)| !specs[i + 1..].iter().any(|later| later.path == spec.path)).map(|(_, spec)| *spec).collect();
    let mut dirs: Vec<&str> = Vec::new();
    for spec in &specs {
        if !dirs.contains(&parent(&spec.path)) {
            dirs.push(parent(&spec.path));
        }
    }
    let token = random_token();
    let temp_dir = |dir: &str| format!("{}/.v6deploy.{token}", dir.trim_end_matches('/'));
    let temp = |spec: &FileSpec| format!("{}/{}", temp_dir(parent(&spec.path)), spec.path.rsplit('/').next().unwrap_or(&spec.path));
    let temps: Vec<String> = specs.iter().map(|spec| temp(spec)).collect();
    let quoted = |items: &mut dyn Iterator<Item = String>| items.map(|t| quote(&t).into_owned()).collect::<Vec<_>>().join(" ");
    let temp_dirs = quoted(&mut dirs.iter().map(|d| temp_dir(d)));
    let mut s = String::from("set -eu\numask 077\n");
    let _ = writeln!(s, "trap 'rm -rf -- {}' EXIT", temp_dirs.replace('\'', "'\\''"));
    let _ = writeln!(s, "mkdir -p -- {}", quoted(&mut dirs.iter().map(|d| d.to_string())));
    let _ = writeln!(s, "mkdir -- {temp_dirs}");
    for (spec, temp) in specs.iter().zip(&temps) {
        let _ = writeln!(s, "head -c {} > {}", spec.contents.len(), quote(temp));
    }
    let _ = writeln!(s, "IFS= read -r sent || sent=; [ \"$sent\" = {} ] || {{ echo 'the files above did not arrive whole (the send stopped)' >&2; exit 3; }}", quote(SENT_WHOLE));
    if !specs.is_empty() {
        let sizes: Vec<String> = specs.iter().map(|spec| spec.contents.len().to_string()).collect();
        let _ = writeln!(
            s,
            "[ \"$(stat -c %s -- {})\" = \"$(printf '%s\\n' {})\" ] || {{ echo 'a file above does not have its size after the write' >&2; exit 3; }}",
            quoted(&mut temps.iter().cloned()),
            sizes.join(" ")
        );
    }
    set_attributes(&mut s, "chmod", &specs, &temps, |spec| Some(format!("{:o}", spec.mode)));
    set_attributes(&mut s, "chown", &specs, &temps, |spec| (spec.owner != "root:root").then(|| spec.owner.clone()));
    for (spec, temp) in specs.iter().zip(&temps) {
        if let Some(quick) = spec.quick() {
            let _ = writeln!(s, "touch -m -d @{} -- {}", quick.mtime, quote(temp));
        }
    }
    if !specs.is_empty() {
        let _ = writeln!(s, "sync -- {} 2>/dev/null || sync", quoted(&mut temps.iter().cloned()));
    }
    for dir in &dirs {
        let moved = specs.iter().zip(&temps).filter(|(spec, _)| parent(&spec.path) == *dir).map(|(_, t)| t.clone());
        let _ = writeln!(s, "mv -f -- {} {}", quoted(&mut moved.into_iter()), quote(&format!("{}/", dir.trim_end_matches('/'))));
    }
    if !dirs.is_empty() {
        let _ = writeln!(s, "sync -- {} 2>/dev/null || sync", quoted(&mut dirs.iter().map(|d| d.to_string())));
    }
    WriteScript { script: s, trailer: format!("{SENT_WHOLE}\n") }
}

/// A name part no earlier batch used: the clock and a per-process random hash key.
fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}

/// The directory part of a path (`/` for `/x`, `.` for a bare name).
fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((dir, _)) => dir,
        None => ".",
    }
}

/// One `chmod` (or `chown`) line per distinct value, naming every temp file that takes it
/// (`None`: nothing to set for that file).
fn set_attributes(script: &mut String, command: &str, specs: &[&FileSpec], temps: &[String], value: impl Fn(&FileSpec) -> Option<String>) {
    let mut values: Vec<String> = specs.iter().filter_map(|spec| value(spec)).collect();
    values.sort_unstable();
    values.dedup();
    for v in values {
        let these: Vec<String> = specs.iter().zip(temps).filter(|(spec, _)| value(spec).as_ref() == Some(&v)).map(|(_, t)| quote(t).into_owned()).collect();
        let _ = writeln!(script, "{command} {} -- {}", quote(&v), these.join(" "));
    }
}

/// Probes every file in one round trip.
pub async fn probe(transport: &dyn Transport, specs: &[FileSpec]) -> Result<Vec<FileState>, TransportError> {
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
    let output = transport.run(&probe_script(&paths)).await?;
    parse_probe(&output.stdout_text(), specs)
        .map_err(|detail| TransportError::Protocol { host: transport.label().to_string(), what: "file probe", detail })
}

/// Writes `specs` in one round trip (atomically, see the module docs).
pub async fn write(transport: &dyn Transport, specs: &[&FileSpec]) -> Result<(), TransportError> {
    write_then(transport, specs, "").await
}

/// Writes `specs`, then runs `then` (a shell script) in the same round trip once every file is
/// in place; a failure of either fails the whole.
pub async fn write_then(transport: &dyn Transport, specs: &[&FileSpec], then: &str) -> Result<(), TransportError> {
    if specs.is_empty() && then.is_empty() {
        return Ok(());
    }
    if let Some(spec) = specs.iter().find(|s| has_control_characters(&s.path) || has_control_characters(&s.owner)) {
        return Err(TransportError::UnsafeName { host: transport.label().to_string(), name: spec.path.clone() });
    }
    // Streamed piece by piece: contents shared by many hosts (the bundle's binaries) are
    // never copied per host.
    let mut pieces: Vec<Contents> = specs.iter().map(|s| s.contents.clone()).collect();
    let mut script = if specs.is_empty() {
        String::from("set -eu\n")
    } else {
        let written = write_script(specs);
        pieces.push(Contents::from(written.trailer.into_bytes()));
        written.script
    };
    if !then.is_empty() {
        let _ = writeln!(script, "{then}");
    }
    let output = transport.exec_pieces(&script, &pieces).await?;
    if output.success() {
        Ok(())
    } else {
        let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
        let command = match paths.len() {
            0 => "the commands after the write".to_string(),
            1..=3 => format!("write {}", paths.join(" ")),
            n => format!("write {} and {} more files", paths[..3].join(" "), n - 3),
        };
        Err(TransportError::CommandFailed {
            host: transport.label().to_string(),
            command,
            status: output.status,
            stderr: output.stderr_text(),
        })
    }
}

/// Reads a file; `None` when it does not exist.
pub async fn read_file(transport: &dyn Transport, path: &str) -> Result<Option<Vec<u8>>, TransportError> {
    let p = quote(path);
    let output = transport.run(&format!("if [ -e {p} ]; then cat -- {p}; else exit 44; fi")).await;
    match output {
        Ok(output) => Ok(Some(output.stdout)),
        Err(TransportError::CommandFailed { status: 44, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
