//! SHA-256 checksums of local files, remembered between runs while a file is unchanged, as
//! rsync and git do: a file whose device, inode, size and modification time (to the
//! nanosecond) are those it had when it was hashed is not read again. Hashing the bundle
//! (hundreds of MB of binaries and image archives) was most of a no-change run. The change
//! time is kept but not compared (git's `core.trustctime = false`): a new hard link to a file
//! changes it, and the lab links its bundles into shared caches at every `lab up`.
//!
//! The cache is one text file, `file-hashes` in `$V6DEPLOY_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/v6deploy`, else `~/.cache/v6deploy`; a line per file:
//! `SHA256 DEV INODE SIZE MTIME_NS CTIME_NS PATH`. It is only a cache: unreadable or
//! missing, every file is hashed; not writable, the run goes on without it. A file written
//! while it is sent is caught: after sending, v6deploy compares the open file with its stamp
//! (`LocalFile::check_unchanged`) and the host keeps nothing of the batch. A file rewritten
//! with its old size and modification time restored (`touch -d`) is the one change neither
//! notices, as with rsync.
//!
//! A file changed less than [`RACY`] before it was hashed is not remembered (git's "racily
//! clean" entries): file times advance in clock ticks, so a write in the same tick as the
//! hash would leave every value above unchanged.
//!
//! Files not in the cache are hashed in parallel, a megabyte at a time, never held whole.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use crate::transport::contents::{LocalFile, Stamp, with_path};

/// The environment variable naming the cache directory.
pub const CACHE_DIR: &str = "V6DEPLOY_CACHE_DIR";

/// How long before its hash a file must have last changed for the hash to be remembered.
pub const RACY: std::time::Duration = std::time::Duration::from_secs(2);

/// At most this many files are remembered (the most recently used first).
const MAX_ENTRIES: usize = 20_000;

/// A hashed local file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hashed {
    pub file: Arc<LocalFile>,
    /// Hex SHA-256.
    pub sha256: String,
}

/// What one `hash_files` call did, for the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashStats {
    pub files: usize,
    /// Files read and hashed (not in the cache, or changed).
    pub hashed: usize,
    pub bytes_hashed: u64,
}

/// The cache directory (`None`: no home and no cache directory given).
fn cache_dir() -> Option<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    var(CACHE_DIR).or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("v6deploy"))).or_else(|| var("HOME").map(|h| h.join(".cache/v6deploy")))
}

/// The cache file's path (`None`: no home and no cache directory given).
pub fn cache_file() -> Option<PathBuf> {
    Some(cache_dir()?.join("file-hashes"))
}

/// The checksum of one local file (from the cache when it is unchanged).
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    let (hashed, _) = hash_files(&[path.to_path_buf()], cache_file().as_deref())?;
    Ok(hashed.into_iter().next().map(|h| h.sha256).unwrap_or_default())
}

/// What was learnt from a file's contents (a binary's `--version`, an image archive's
/// references), remembered by their checksum in `file-facts` beside the checksums (a line
/// `SHA256 KIND VALUE`): the same bytes always say the same, and asking costs a process
/// (a Go binary's start-up, a read of a whole archive) on every run otherwise.
pub fn remembered(kind: &str, sha256: &str) -> Option<String> {
    remembered_in(&cache_dir()?, kind, sha256)
}

fn remembered_in(dir: &Path, kind: &str, sha256: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("file-facts")).ok()?;
    text.lines().find_map(|l| {
        let (sum, rest) = l.split_once(' ')?;
        let (k, value) = rest.split_once(' ')?;
        (sum == sha256 && k == kind).then(|| value.to_string())
    })
}

/// Records what `kind` says of the contents with checksum `sha256` (best effort; a value or
/// kind with a newline or a space in the kind is not recorded).
pub fn remember(kind: &str, sha256: &str, value: &str) {
    if let Some(dir) = cache_dir() {
        remember_in(&dir, kind, sha256, value);
    }
}

fn remember_in(dir: &Path, kind: &str, sha256: &str, value: &str) {
    let file = dir.join("file-facts");
    if kind.contains([' ', '\n']) || value.contains('\n') {
        return;
    }
    let old = std::fs::read_to_string(&file).unwrap_or_default();
    let prefix = format!("{sha256} {kind} ");
    let mut lines: Vec<&str> = old.lines().filter(|l| !l.starts_with(&prefix)).collect();
    // The newest first; the oldest go beyond a few thousand lines.
    let line = format!("{prefix}{value}");
    lines.insert(0, &line);
    lines.truncate(MAX_ENTRIES);
    if let Err(e) = crate::localfs::write_atomic(&file, (lines.join("\n") + "\n").as_bytes(), 0o600) {
        tracing::debug!("not remembering {kind} of {sha256}: {e}");
    }
}

/// Hashes `paths` (each a regular file), from the cache at `cache` where a file is unchanged,
/// and records the result there.
pub fn hash_files(paths: &[PathBuf], cache: Option<&Path>) -> std::io::Result<(Vec<Hashed>, HashStats)> {
    hash_files_with(paths, cache, RACY)
}

/// `hash_files`, remembering only files changed at least `racy` before the hashing started.
fn hash_files_with(paths: &[PathBuf], cache: Option<&Path>, racy: std::time::Duration) -> std::io::Result<(Vec<Hashed>, HashStats)> {
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128);
    let settled = |id: &Stamp| id.mtime_ns.max(id.ctime_ns) < started - racy.as_nanos() as i128;
    let known = cache.map(load).unwrap_or_default();
    let mut identities = Vec::with_capacity(paths.len());
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| with_path(e, path, "read"))?;
        identities.push(Stamp::of(&meta));
    }
    let sums: Vec<Option<String>> = paths.iter().zip(&identities).map(|(path, id)| known.get(path).filter(|(k, _)| k.same_version(id)).map(|(_, sum)| sum.clone())).collect();
    let misses: Vec<usize> = (0..paths.len()).filter(|&i| sums[i].is_none()).collect();
    let computed = hash_in_parallel(&misses.iter().map(|&i| paths[i].as_path()).collect::<Vec<_>>())?;
    let mut sums = sums;
    for (&i, sum) in misses.iter().zip(computed) {
        sums[i] = Some(sum);
    }
    let stats = HashStats { files: paths.len(), hashed: misses.len(), bytes_hashed: misses.iter().map(|&i| identities[i].size).sum() };
    let hashed: Vec<Hashed> = paths
        .iter()
        .zip(&identities)
        .zip(sums)
        .map(|((path, id), sum)| Hashed { file: Arc::new(LocalFile::stamped(path, *id)), sha256: sum.unwrap_or_default() })
        .collect();
    if let Some(cache) = cache.filter(|_| !misses.is_empty()) {
        let mut entries: Vec<(PathBuf, Stamp, String)> =
            paths.iter().zip(&identities).zip(&hashed).filter(|((_, id), _)| settled(id)).map(|((p, id), h)| (p.clone(), *id, h.sha256.clone())).collect();
        // Older entries of files still there, unchanged, are kept after this run's.
        for (path, (id, sum)) in known {
            if entries.len() >= MAX_ENTRIES {
                break;
            }
            if !paths.contains(&path) && std::fs::metadata(&path).is_ok_and(|m| Stamp::of(&m).same_version(&id)) {
                entries.push((path, id, sum));
            }
        }
        if let Err(e) = save(cache, &entries) {
            tracing::debug!("not remembering file checksums in {}: {e}", cache.display());
        }
    }
    Ok((hashed, stats))
}

/// Hashes files on as many threads as there are CPUs (at most one per file).
fn hash_in_parallel(paths: &[&Path]) -> std::io::Result<Vec<String>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(paths.len());
    let next = AtomicUsize::new(0);
    let mut results: Vec<Option<std::io::Result<String>>> = (0..paths.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = paths.get(i) else { break };
                        done.push((i, sha256_file(path)));
                    }
                    done
                })
            })
            .collect();
        for worker in workers {
            for (i, result) in worker.join().unwrap_or_default() {
                results[i] = Some(result);
            }
        }
    });
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(std::io::Error::other("a hashing thread failed")))).collect()
}

/// The hex SHA-256 of a file, read a megabyte at a time.
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| with_path(e, path, "open"))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer).map_err(|e| with_path(e, path, "read"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The cache's entries; a line that does not read is skipped.
fn load(cache: &Path) -> HashMap<PathBuf, (Stamp, String)> {
    let Ok(text) = std::fs::read_to_string(cache) else { return HashMap::new() };
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(7, ' ');
            let sum = fields.next().filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))?.to_string();
            let mut number = || fields.next()?.parse::<i128>().ok();
            let id = Stamp { dev: number()? as u64, ino: number()? as u64, size: number()? as u64, mtime_ns: number()?, ctime_ns: number()? };
            let path = PathBuf::from(fields.next()?);
            Some((path, (id, sum)))
        })
        .collect()
}

fn save(cache: &Path, entries: &[(PathBuf, Stamp, String)]) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let mut text = String::new();
    for (path, id, sum) in entries {
        // A path the line format cannot hold is simply not remembered.
        let Some(path) = path.to_str().filter(|p| !p.contains('\n')) else { continue };
        let _ = writeln!(text, "{sum} {} {} {} {} {} {path}", id.dev, id.ino, id.size, id.mtime_ns, id.ctime_ns);
    }
    crate::localfs::write_atomic(cache, text.as_bytes(), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn files_are_hashed_once_then_read_from_the_cache_until_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache/file-hashes");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"abc").unwrap();
        std::fs::write(&b, b"").unwrap();
        let paths = vec![a.clone(), b.clone()];
        let (first, stats) = hash_files_with(&paths, Some(&cache), Duration::ZERO).unwrap();
        assert_eq!(first[0].sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(first[1].sha256, EMPTY);
        assert_eq!((first[0].file.len, first[0].file.path.clone()), (3, a.clone()));
        assert_eq!(stats, HashStats { files: 2, hashed: 2, bytes_hashed: 3 });
        let (again, stats) = hash_files_with(&paths, Some(&cache), Duration::ZERO).unwrap();
        assert_eq!(again, first);
        assert_eq!(stats.hashed, 0, "unchanged files are not read again");
        std::fs::write(&a, b"abcd").unwrap();
        let (changed, stats) = hash_files_with(&paths, Some(&cache), Duration::ZERO).unwrap();
        assert_eq!(stats.hashed, 1);
        assert_eq!(changed[0].sha256, sha256_file(&a).unwrap());
        assert_ne!(changed[0].sha256, first[0].sha256);
    }

    #[test]
    fn a_cache_entry_with_a_wrong_checksum_is_used_only_while_the_file_is_unchanged() {
        // Shows the cache is what answers: an entry planted for the file's current identity
        // is believed; touching the file makes it be read again.
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("file-hashes");
        let a = dir.path().join("a");
        std::fs::write(&a, b"abc").unwrap();
        let id = Stamp::of(&std::fs::metadata(&a).unwrap());
        save(&cache, &[(a.clone(), id, EMPTY.to_string())]).unwrap();
        let (hashed, _) = hash_files_with(std::slice::from_ref(&a), Some(&cache), Duration::ZERO).unwrap();
        assert_eq!(hashed[0].sha256, EMPTY);
        // Another modification time (set exactly, so no clock tick can hide it).
        std::fs::File::options().write(true).open(&a).unwrap().set_modified(UNIX_EPOCH + Duration::from_secs(1_000_000)).unwrap();
        let (hashed, stats) = hash_files_with(std::slice::from_ref(&a), Some(&cache), Duration::ZERO).unwrap();
        assert_eq!((stats.hashed, hashed[0].sha256.as_str()), (1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    }

    /// A new hard link to a hashed file (what every `lab up` does to the shared caches)
    /// changes its change time, not its version: the checksum is still remembered.
    #[test]
    fn a_new_hard_link_does_not_make_a_file_be_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("file-hashes");
        let a = dir.path().join("a");
        std::fs::write(&a, b"abc").unwrap();
        hash_files_with(std::slice::from_ref(&a), Some(&cache), Duration::ZERO).unwrap();
        let before = Stamp::of(&std::fs::metadata(&a).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        std::fs::hard_link(&a, dir.path().join("linked")).unwrap();
        assert_ne!(Stamp::of(&std::fs::metadata(&a).unwrap()).ctime_ns, before.ctime_ns);
        let (_, stats) = hash_files_with(std::slice::from_ref(&a), Some(&cache), Duration::ZERO).unwrap();
        assert_eq!(stats.hashed, 0);
    }

    #[test]
    fn a_file_changed_just_before_its_hash_is_not_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("file-hashes");
        let a = dir.path().join("a");
        std::fs::write(&a, b"abc").unwrap();
        hash_files_with(std::slice::from_ref(&a), Some(&cache), Duration::from_secs(3600)).unwrap();
        let (_, stats) = hash_files_with(std::slice::from_ref(&a), Some(&cache), Duration::from_secs(3600)).unwrap();
        assert_eq!(stats.hashed, 1, "a file written within the racy window is hashed again");
    }

    #[test]
    fn facts_are_remembered_by_checksum_and_kind() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(remembered_in(dir.path(), "kubernetes-version", EMPTY), None);
        remember_in(dir.path(), "kubernetes-version", EMPTY, "1.20.2");
        remember_in(dir.path(), "image-references", EMPTY, "v6deploy.lab/pause:3.2 v6deploy.lab/pause:latest");
        remember_in(dir.path(), "kubernetes-version", EMPTY, "1.20.3");
        remember_in(dir.path(), "bad", EMPTY, "two\nlines");
        assert_eq!(remembered_in(dir.path(), "kubernetes-version", EMPTY).as_deref(), Some("1.20.3"));
        assert_eq!(remembered_in(dir.path(), "image-references", EMPTY).as_deref(), Some("v6deploy.lab/pause:3.2 v6deploy.lab/pause:latest"));
        assert_eq!(remembered_in(dir.path(), "bad", EMPTY), None);
        assert_eq!(remembered_in(dir.path(), "kubernetes-version", &"0".repeat(64)), None);
    }

    #[test]
    fn no_cache_and_an_unreadable_cache_hash_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"abc").unwrap();
        let (_, stats) = hash_files(std::slice::from_ref(&a), None).unwrap();
        assert_eq!(stats.hashed, 1);
        let cache = dir.path().join("garbage");
        std::fs::write(&cache, "not a cache\n\u{0}\n").unwrap();
        let (hashed, stats) = hash_files(std::slice::from_ref(&a), Some(&cache)).unwrap();
        assert_eq!((stats.hashed, hashed[0].sha256.len()), (1, 64));
        let missing = hash_files(&[dir.path().join("nope")], Some(&cache)).unwrap_err().to_string();
        assert!(missing.contains("nope"), "{missing}");
    }
}
