//! Files on this machine that may hold secrets (the PKI store, the `render` tree): written so
//! that no other user can ever read them and no crash leaves a half-written one.
//!
//! A file goes to a fresh temporary name in its own directory, opened with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` and its final mode (no umask-widened window, no symlink
//! followed, nothing reused), is synced, renamed over its target, and the directory is synced.
//! On any error the temporary file is removed: a failed write leaves neither a readable key
//! nor a partial file. Directories are created 0700.
//!
//! Temporary directories (the scratch store of `render` and of dry runs) are [`PrivateTempDir`]:
//! a new directory with an unguessable name, created 0700 by this process (an existing path,
//! a planted symlink included, is never used), removed when dropped.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode bits a file holding a secret may have: none for group or others.
pub const PRIVATE_MASK: u32 = 0o077;

/// Creates `dir` and its missing parents, each new one 0700.
pub fn create_private_dirs(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Writes `contents` to `path` atomically with exactly `mode` (see the module docs); the
/// parent directories are created 0700 when missing.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dirs(&dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = dir.join(format!(".{name}.v6deploy-tmp-{}", unique()));
    let result = write_new(&temporary, contents, mode).and_then(|()| fs::rename(&temporary, path)).and_then(|()| sync_dir(&dir));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result.map_err(|e| io::Error::new(e.kind(), format!("write {}: {e}", path.display())))
}

/// Creates `path` (which must not exist, not even as a symlink) with `mode`, writes and
/// syncs it.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let mut file = fs::OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_NOFOLLOW).mode(mode & 0o600).open(path)?;
    // The umask may only have narrowed the mode; set it exactly before any byte is written.
    file.set_permissions(fs::Permissions::from_mode(mode))?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Syncs a directory, so a rename in it lasts.
fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// A directory of this process's own under the temporary directory, removed when dropped.
#[derive(Debug)]
pub struct PrivateTempDir {
    path: PathBuf,
}

impl PrivateTempDir {
    /// Creates `$TMPDIR/v6deploy-PURPOSE-<pid>-<random>`, mode 0700.
    pub fn new(purpose: &str) -> io::Result<PrivateTempDir> {
        PrivateTempDir::create_in(&std::env::temp_dir(), purpose, unique)
    }

    /// Creates the directory in `parent`, named by `name` (called again when the name exists):
    /// `mkdir` creates only what was not there, so whatever another user planted is never
    /// reused or followed.
    fn create_in(parent: &Path, purpose: &str, mut name: impl FnMut() -> String) -> io::Result<PrivateTempDir> {
        const TRIES: usize = 16;
        let mut last = None;
        for _ in 0..TRIES {
            let path = parent.join(format!("v6deploy-{purpose}-{}", name()));
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => {
                    // The umask may only have narrowed it; nothing else can have widened it.
                    fs::set_permissions(&path, fs::Permissions::from_mode(0o700))?;
                    return Ok(PrivateTempDir { path });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(path),
                Err(e) => return Err(io::Error::new(e.kind(), format!("create {}: {e}", path.display()))),
            }
        }
        let path = last.unwrap_or_else(|| parent.to_path_buf());
        Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("create a private directory in {}: {TRIES} names taken, the last {}", parent.display(), path.display())))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PrivateTempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Who this process is, for a lock's holder line: `pid@machine (command) since UTC time`.
pub fn lock_owner() -> String {
    let machine = fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "unknown".into());
    let command: String = std::env::args().collect::<Vec<_>>().join(" ").chars().map(|c| if c.is_control() { '?' } else { c }).take(200).collect();
    let now = time::OffsetDateTime::now_utc();
    format!("{}@{machine} ({command}) since {}", std::process::id(), crate::pki::timestamp(now))
}

/// A name part no other writer uses or can guess: the process and 128 random bits from the
/// operating system.
fn unique() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // Never expected; the clock and the hasher's per-process keys still differ per call.
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        bytes[..8].copy_from_slice(&hasher.finish().to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn keys_are_private_from_the_first_byte_and_directories_0700() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/ca.key");
        write_atomic(&path, b"secret", 0o600).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(dir.path().join("a")).unwrap().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(dir.path().join("a/b")).unwrap().mode() & 0o777, 0o700);
        write_atomic(&path, b"other", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"other");
        assert_eq!(fs::read_dir(dir.path().join("a/b")).unwrap().count(), 1, "no temporary file left");
        let public = dir.path().join("a/b/ca.crt");
        write_atomic(&public, b"cert", 0o644).unwrap();
        assert_eq!(fs::metadata(&public).unwrap().mode() & 0o777, 0o644);
    }

    /// A symlink planted at the target is replaced, never written through.
    #[test]
    fn a_symlink_at_the_target_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = dir.path().join("elsewhere");
        fs::write(&elsewhere, "untouched").unwrap();
        let path = dir.path().join("admin.conf");
        std::os::unix::fs::symlink(&elsewhere, &path).unwrap();
        write_atomic(&path, b"secret", 0o600).unwrap();
        assert_eq!(fs::read(&elsewhere).unwrap(), b"untouched");
        assert!(!fs::symlink_metadata(&path).unwrap().file_type().is_symlink());
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    }

    /// The attack of the predictable dry-run directory: another user plants a symlink (to a
    /// directory of theirs) and a directory at the names this process would take; neither is
    /// used, the new directory is 0700 and the planted ones are untouched.
    #[test]
    fn a_private_temp_dir_never_reuses_or_follows_a_planted_path() {
        let tmp = tempfile::tempdir().unwrap();
        let theirs = tmp.path().join("theirs");
        fs::create_dir(&theirs).unwrap();
        std::os::unix::fs::symlink(&theirs, tmp.path().join("v6deploy-dry-run-planted-link")).unwrap();
        fs::create_dir(tmp.path().join("v6deploy-dry-run-planted-dir")).unwrap();
        let mut names = ["planted-link", "planted-dir", "fresh"].into_iter().map(String::from);
        let dir = PrivateTempDir::create_in(tmp.path(), "dry-run", || names.next().unwrap()).unwrap();
        assert_eq!(dir.path(), tmp.path().join("v6deploy-dry-run-fresh"));
        let meta = fs::symlink_metadata(dir.path()).unwrap();
        assert!(meta.is_dir() && meta.mode() & 0o777 == 0o700, "mode {:o}", meta.mode());
        fs::write(dir.path().join("ca.key"), "secret").unwrap();
        assert_eq!(fs::read_dir(&theirs).unwrap().count(), 0, "nothing reached the planted target");
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
        assert!(fs::symlink_metadata(tmp.path().join("v6deploy-dry-run-planted-link")).is_ok(), "the planted link is left alone");
    }

    /// Names are unguessable: two in a row differ in their random part.
    #[test]
    fn private_temp_dir_names_differ_and_carry_128_random_bits() {
        let (a, b) = (unique(), unique());
        assert_ne!(a, b);
        let random = a.rsplit('-').next().unwrap();
        assert_eq!(random.len(), 32, "{a}");
    }

    /// A failed write leaves no file behind, readable or not.
    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a non-empty directory: the rename fails after the data was written.
        let path = dir.path().join("ca.key");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("x"), "").unwrap();
        assert!(write_atomic(&path, b"secret", 0o600).is_err());
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["ca.key"]);
    }
}
