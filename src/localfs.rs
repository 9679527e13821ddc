//! Files on this machine that may hold secrets (the PKI store, the `render` tree): written so
//! that no other user can ever read them and no crash leaves a half-written one.
//!
//! A file goes to a fresh temporary name in its own directory, opened with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` and its final mode (no umask-widened window, no symlink
//! followed, nothing reused), is synced, renamed over its target, and the directory is synced.
//! On any error the temporary file is removed: a failed write leaves neither a readable key
//! nor a partial file. Directories are created 0700.

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

/// Who this process is, for a lock's holder line: `pid@machine (command) since UTC time`.
pub fn lock_owner() -> String {
    let machine = fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "unknown".into());
    let command: String = std::env::args().collect::<Vec<_>>().join(" ").chars().map(|c| if c.is_control() { '?' } else { c }).take(200).collect();
    let now = time::OffsetDateTime::now_utc();
    format!("{}@{machine} ({command}) since {}", std::process::id(), crate::pki::timestamp(now))
}

/// A name part no other writer uses: the process, the clock and a per-process random key.
fn unique() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    format!("{}-{:016x}", std::process::id(), hasher.finish())
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
