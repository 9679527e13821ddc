//! Files on a host, batched: one round trip probes every file of a step (checksum, mode,
//! owner), one more writes all the changed ones. Writes are atomic and checked: each file goes
//! to a temp directory beside its target, its SHA-256 is verified, mode and owner are set, and
//! only when every file of the batch is in place are they renamed over their targets. On any
//! error the temp files are removed, so nothing half-written is left on the host. Each script
//! starts a fixed handful of processes plus two per written file, not several per file.
//!
//! The scripts use POSIX sh, awk and GNU coreutils (`head -c`, `sha256sum`, `stat -c`,
//! `mktemp -d`), present on CentOS 7 and Debian alike.

use std::fmt::Write as _;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::quote::quote;
use super::{Transport, TransportError};

/// A file as it should be on the host. Contents are shared (a binary pushed to 50 hosts is
/// read and hashed once) and their SHA-256 is computed when the spec is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Absolute path on the host.
    pub path: String,
    /// Permission bits, e.g. 0o644.
    pub mode: u32,
    /// `user:group`, e.g. `root:root`.
    pub owner: String,
    pub contents: Arc<[u8]>,
    sha256: String,
}

impl FileSpec {
    /// A file owned by `owner` (`user:group`).
    pub fn new(path: impl Into<String>, mode: u32, owner: impl Into<String>, contents: impl Into<Arc<[u8]>>) -> FileSpec {
        let contents = contents.into();
        let sha256 = hex(&Sha256::digest(&contents));
        FileSpec { path: path.into(), mode, owner: owner.into(), contents, sha256 }
    }

    /// A root-owned file.
    pub fn root(path: impl Into<String>, mode: u32, contents: impl Into<Arc<[u8]>>) -> FileSpec {
        FileSpec::new(path, mode, "root:root", contents)
    }

    /// The same contents at another path.
    pub fn at(&self, path: impl Into<String>, mode: u32) -> FileSpec {
        FileSpec { path: path.into(), mode, owner: self.owner.clone(), contents: Arc::clone(&self.contents), sha256: self.sha256.clone() }
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

/// The probe script: one line per path, `-` when missing, else `MODE USER:GROUP SHA256`.
/// One `stat` and one `sha256sum` read every file and `awk` puts their lines together: a
/// process per file costs a small host more than the round trip does.
pub fn probe_script(paths: &[&str]) -> String {
    let mut script = String::from("{ set --; for p in");
    for path in paths {
        let _ = write!(script, " {}", quote(path));
    }
    script.push_str(PROBE_TAIL);
    script
}

/// After the paths: a `+` or `-` line per path, `=`, then the `stat` lines and the
/// `sha256sum` lines of the present files (`!` if either failed), joined by awk. sha256sum
/// starts a line with a backslash when it escapes the file's name.
const PROBE_TAIL: &str = r#"; do if [ -f "$p" ]; then set -- "$@" "$p"; echo +; else echo -; fi; done
echo =
if [ $# -gt 0 ]; then stat -c '%a %U:%G' -- "$@" && sha256sum -- "$@" || echo '!'; fi
} | awk '
!separated { if ($0 == "=") separated = 1; else marks[n++] = $0; if ($0 == "+") present++; next }
$0 == "!" { failed = 1; next }
a < present { attributes[a++] = $0; next }
{ h = $1; sub(/^\\/, "", h); hashes[b++] = h }
END {
  if (failed || a != present || b != present) exit 1
  j = 0
  for (i = 0; i < n; i++) if (marks[i] == "-") print "-"; else { print attributes[j] " " hashes[j]; j++ }
}'"#;

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

/// The write script for `specs`; their contents are concatenated on stdin in the same order.
/// Each target directory gets one temp directory beside the targets (`mktemp -d`, removed on
/// exit whatever happens); the files go there, are checked with one `sha256sum`, given their
/// mode and owner with one `chmod` and one `chown` per distinct value, and only then renamed
/// over their targets. Two processes per file (`head`, `mv`) plus a few per batch.
pub fn write_script(specs: &[&FileSpec]) -> String {
    let mut dirs: Vec<&str> = specs.iter().map(|spec| parent(&spec.path)).collect();
    dirs.sort_unstable();
    dirs.dedup();
    // `"$tN/I"`: file I in the temp directory of its target's directory N.
    let temps: Vec<String> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| format!("\"$t{}/{i}\"", dirs.binary_search(&parent(&spec.path)).unwrap_or_default()))
        .collect();
    let all_temps = temps.join(" ");
    let mut s = String::from("set -eu\numask 077\n");
    let cleanup: Vec<String> = (0..dirs.len()).map(|n| format!("${{t{n}:+\"$t{n}\"}}")).collect();
    let _ = writeln!(s, "trap 'rm -rf -- {}' EXIT", cleanup.join(" "));
    let _ = writeln!(s, "mkdir -p -- {}", dirs.iter().map(|d| quote(d).into_owned()).collect::<Vec<_>>().join(" "));
    for (n, dir) in dirs.iter().enumerate() {
        let _ = writeln!(s, "t{n}=$(mktemp -d -- {})", quote(&format!("{}/.v6deploy.XXXXXX", dir.trim_end_matches('/'))));
    }
    for (spec, temp) in specs.iter().zip(&temps) {
        let _ = writeln!(s, "head -c {} > {temp}", spec.contents.len());
    }
    let want: Vec<&str> = specs.iter().map(|spec| spec.sha256()).collect();
    let _ = writeln!(s, "got=$(sha256sum -- {all_temps} | cut -c1-65 | tr -d ' \\\\')");
    let _ = writeln!(s, "[ \"$got\" = '{}' ] || {{", want.join("\n"));
    for (spec, temp) in specs.iter().zip(&temps) {
        let _ = writeln!(
            s,
            "  h=$(sha256sum < {temp}); [ \"${{h%% *}}\" = {hash} ] || echo \"checksum mismatch writing \"{path} >&2",
            hash = spec.sha256(),
            path = quote(&spec.path),
        );
    }
    s.push_str("  exit 3\n}\n");
    set_attributes(&mut s, "chmod", specs, &temps, |spec| format!("{:o}", spec.mode));
    set_attributes(&mut s, "chown", specs, &temps, |spec| spec.owner.clone());
    for (spec, temp) in specs.iter().zip(&temps) {
        let _ = writeln!(s, "mv -f -- {temp} {}", quote(&spec.path));
    }
    s
}

/// The directory part of a path (`/` for `/x`, `.` for a bare name).
fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((dir, _)) => dir,
        None => ".",
    }
}

/// One `chmod` (or `chown`) line per distinct value, naming every temp file that takes it.
fn set_attributes(script: &mut String, command: &str, specs: &[&FileSpec], temps: &[String], value: impl Fn(&FileSpec) -> String) {
    let mut values: Vec<String> = specs.iter().map(|spec| value(spec)).collect();
    values.sort_unstable();
    values.dedup();
    for v in values {
        let these: Vec<&str> = specs.iter().zip(temps).filter(|(spec, _)| value(spec) == v).map(|(_, t)| t.as_str()).collect();
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
    // Streamed piece by piece: contents shared by many hosts (the bundle's binaries) are
    // never copied per host.
    let pieces: Vec<Arc<[u8]>> = specs.iter().map(|s| Arc::clone(&s.contents)).collect();
    let mut script = if specs.is_empty() { String::new() } else { write_script(specs) };
    if !then.is_empty() {
        let _ = writeln!(script, "{then}");
    }
    let output = transport.exec_pieces(&script, &pieces).await?;
    if output.success() {
        Ok(())
    } else {
        let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
        Err(TransportError::CommandFailed {
            host: transport.label().to_string(),
            command: format!("write {}", paths.join(" ")),
            status: output.status,
            stderr: output.stderr_text(),
        })
    }
}

/// Probes, then writes what differs; returns each file's state before the write.
pub async fn sync(transport: &dyn Transport, specs: &[FileSpec]) -> Result<Vec<FileState>, TransportError> {
    let states = probe(transport, specs).await?;
    let changed: Vec<&FileSpec> = specs.iter().zip(&states).filter(|(_, st)| st.changed()).map(|(s, _)| s).collect();
    write(transport, &changed).await?;
    Ok(states)
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
mod tests {
    use super::*;

    fn spec(path: &str, contents: &str) -> FileSpec {
        FileSpec::root(path, 0o644, contents.as_bytes())
    }

    #[test]
    fn probe_output_maps_to_states() {
        let specs = [spec("/a", "x"), spec("/b", "y"), spec("/c", "z"), spec("/d", "w")];
        let output = format!(
            "-\n644 root:root {}\n600 root:root {}\n644 root:root {}\n",
            spec("", "other").sha256(),
            specs[2].sha256(),
            specs[3].sha256()
        );
        let states = parse_probe(&output, &specs).unwrap();
        assert_eq!(
            states,
            [FileState::Missing, FileState::Content, FileState::Attributes { was: "600 root:root".into() }, FileState::Same]
        );
        assert!(parse_probe("-\n", &specs).is_err());
    }

    /// Runs the real scripts with the local `sh` against a temp directory.
    #[test]
    fn scripts_write_atomically_and_probe_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let owner = String::from_utf8(std::process::Command::new("sh").arg("-c").arg("echo $(id -un):$(id -gn)").output().unwrap().stdout).unwrap().trim().to_string();
        let specs: Vec<FileSpec> = [("a/b/one.conf", "one\n"), ("two with space", "it's\n$(x)\n"), ("empty", "")]
            .iter()
            .map(|(p, c)| FileSpec::new(format!("{root}/{p}"), 0o640, owner.clone(), c.as_bytes()))
            .collect();
        let refs: Vec<&FileSpec> = specs.iter().collect();
        let stdin: Vec<u8> = specs.iter().flat_map(|s| s.contents.iter().copied()).collect();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(write_script(&refs))
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), &stdin).unwrap();
        assert!(child.wait().unwrap().success());
        for s in &specs {
            assert_eq!(std::fs::read(&s.path).unwrap(), &*s.contents);
        }
        let leftovers: Vec<_> = walk(dir.path()).into_iter().filter(|p| p.contains(".v6deploy.")).collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
        let out = std::process::Command::new("sh").arg("-c").arg(probe_script(&paths)).output().unwrap();
        let states = parse_probe(&String::from_utf8(out.stdout).unwrap(), &specs).unwrap();
        assert!(states.iter().all(|s| *s == FileState::Same), "{states:?}");
    }

    /// The scripts' process count does not grow with the files, beyond `head` and `mv` per
    /// written file: forking is what a batch costs on the host.
    #[test]
    fn scripts_start_a_fixed_number_of_processes_per_batch() {
        let specs: Vec<FileSpec> = (0..20).map(|i| FileSpec::root(format!("/etc/d{}/f{i}", i % 2), 0o600 + (i % 2) * 0o44, vec![b'x'; i as usize])).collect();
        let refs: Vec<&FileSpec> = specs.iter().collect();
        let script = write_script(&refs);
        let count = |prefix: &str| script.lines().filter(|l| l.starts_with(prefix)).count();
        assert_eq!((count("head -c "), count("mv -f "), count("chmod "), count("chown "), script.matches("mktemp").count()), (20, 20, 2, 1, 2), "{script}");
        assert_eq!(script.lines().filter(|l| l.contains("sha256sum --")).count(), 1);
        let paths: Vec<&str> = specs.iter().map(|s| s.path.as_str()).collect();
        let probe = probe_script(&paths);
        assert_eq!((probe.matches("stat ").count(), probe.matches("sha256sum ").count()), (1, 1), "{probe}");
    }

    #[test]
    fn short_stdin_leaves_no_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = format!("{}/kubelet.conf", dir.path().display());
        let s = spec(&target, "complete contents\n");
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(write_script(&[&s]))
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"compl").unwrap();
        drop(child.stdin.take());
        assert!(!child.wait().unwrap().success());
        assert!(walk(dir.path()).is_empty(), "{:?}", walk(dir.path()));
    }

    /// Every file and directory under `dir`.
    fn walk(dir: &std::path::Path) -> Vec<String> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.push(format!("{}/", path.display()));
                found.extend(walk(&path));
            } else {
                found.push(path.display().to_string());
            }
        }
        found
    }
}
