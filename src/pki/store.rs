//! The local PKI directory `certs/<cluster name>/` (see `certs/README.md` for the layout).
//! Writes are atomic and private from the first byte (`localfs::write_atomic`: a fresh
//! temporary file opened `O_CREAT|O_EXCL|O_NOFOLLOW` with its mode, synced, renamed),
//! private keys are 0600 and directories 0700, and a write whose bytes equal the file's is
//! skipped, so an unchanged file keeps its mtime (a key found readable by others is tightened).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::PkiError;
use crate::inventory::Inventory;

/// Where certificate backups go (`backup/<stamp>/`), inside the store.
pub const BACKUP_DIR: &str = "backup";
/// Where `etcd backup` puts snapshots by default (`backups/<stamp>/`), inside the store.
pub const SNAPSHOTS_DIR: &str = "backups";

/// Who may read a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Certificates, CSRs, public keys: 0644.
    Public,
    /// Private keys and files that embed one: 0600.
    Secret,
}

impl Mode {
    /// The Unix permission bits.
    pub fn bits(self) -> u32 {
        match self {
            Mode::Public => 0o644,
            Mode::Secret => 0o600,
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Created,
    Replaced,
    /// The file already held these bytes; it was not touched.
    Unchanged,
}

/// The PKI directory of one cluster.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    /// The store's lock, held while this store or a clone of it lives (see `Store::lock`).
    lock: Option<Arc<fs::File>>,
}

/// The lock file of a store, relative to it.
pub const LOCK_FILE: &str = ".lock";

impl Store {
    /// `<pki.dir>/<cluster name>`, as the inventory says.
    pub fn for_inventory(inv: &Inventory) -> Store {
        Store::at(inv.pki.dir.join(&inv.cluster.name))
    }

    /// A store at an explicit directory (the cluster's own, not its parent).
    pub fn at(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into(), lock: None }
    }

    /// This store, locked (`flock` on `<store>/.lock`) for as long as it or a clone lives, so
    /// that no other v6deploy command writes it meanwhile: every command that writes the
    /// store takes it first. When another process holds it, `waiting` is told who (the
    /// holder's line: `pid@machine (command) since time`) and the call waits.
    pub fn lock(self, waiting: &mut dyn FnMut(&str)) -> Result<Store, PkiError> {
        if self.lock.is_some() {
            return Ok(self);
        }
        let path = self.path(LOCK_FILE);
        let lock_error = |source| PkiError::Lock { path: path.clone(), source };
        crate::localfs::create_private_dirs(&self.root).map_err(lock_error)?;
        let mut file = fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(&path).map_err(lock_error)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                waiting(holder.trim());
                file.lock().map_err(lock_error)?;
            }
            Err(fs::TryLockError::Error(e)) => return Err(lock_error(e)),
        }
        file.set_len(0).and_then(|()| file.write_all(format!("{}\n", crate::localfs::lock_owner()).as_bytes())).map_err(lock_error)?;
        Ok(Store { lock: Some(Arc::new(file)), ..self })
    }

    /// A shared lock on the store for reading it whole (a scratch copy), taken without
    /// creating or writing anything: `None` when the store has no lock file (it was never
    /// written). A writer holding the lock makes this wait, telling `waiting` who holds it.
    pub fn read_lock(&self, waiting: &mut dyn FnMut(&str)) -> Result<Option<fs::File>, PkiError> {
        let path = self.path(LOCK_FILE);
        let lock_error = |source| PkiError::Lock { path: path.clone(), source };
        let file = match fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(lock_error(e)),
        };
        match file.try_lock_shared() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                waiting(fs::read_to_string(&path).unwrap_or_default().trim());
                file.lock_shared().map_err(lock_error)?;
            }
            Err(fs::TryLockError::Error(e)) => return Err(lock_error(e)),
        }
        Ok(Some(file))
    }

    /// The cluster's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of a file given relative to the store, e.g. `etcd/ca.crt`.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// What copies of the store (backups, scratch copies) leave out: the earlier certificate
    /// backups and the etcd snapshots (every Secret of the cluster, and large).
    pub fn not_copied(&self) -> Vec<PathBuf> {
        vec![self.path(BACKUP_DIR), self.path(SNAPSHOTS_DIR)]
    }

    /// A file's bytes, or `None` when it does not exist.
    pub fn read(&self, relative: &str) -> Result<Option<Vec<u8>>, PkiError> {
        let path = self.path(relative);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(PkiError::Read { path, source }),
        }
    }

    /// A file's bytes; a missing file is an error that says to run `certs generate`.
    pub fn require(&self, relative: &str) -> Result<Vec<u8>, PkiError> {
        self.read(relative)?.ok_or_else(|| PkiError::Missing { path: self.path(relative) })
    }

    /// Whether a file exists.
    pub fn exists(&self, relative: &str) -> bool {
        self.path(relative).exists()
    }

    /// Writes a file atomically unless it already holds `contents`; creates directories 0700.
    /// The mode is set on the temporary file before any byte is written.
    /// A `relative` that would leave the store (absolute, or with a `..`) is refused.
    pub fn write(&self, relative: &str, contents: &[u8], mode: Mode) -> Result<Written, PkiError> {
        let inside = Path::new(relative).components().all(|c| matches!(c, std::path::Component::Normal(_)));
        if !inside || relative.is_empty() {
            return Err(PkiError::OutsideStore { store: self.root.clone(), relative: relative.to_string() });
        }
        let path = self.path(relative);
        let existing = self.read(relative)?;
        if existing.as_deref() == Some(contents) {
            // Same bytes: leave the file alone, only tightening a wrong mode.
            let current = fs::metadata(&path).map_err(|source| PkiError::Read { path: path.clone(), source })?;
            if current.permissions().mode() & 0o777 != mode.bits() {
                let permissions = fs::Permissions::from_mode(mode.bits());
                fs::set_permissions(&path, permissions).map_err(|source| PkiError::Write { path: path.clone(), source })?;
            }
            return Ok(Written::Unchanged);
        }
        if let Err(source) = crate::localfs::write_atomic(&path, contents, mode.bits()) {
            return Err(PkiError::Write { path, source });
        }
        Ok(if existing.is_some() { Written::Replaced } else { Written::Created })
    }

    /// Secret files (`*.key`, `*.conf`: keys and kubeconfigs that embed one) that group or
    /// others may read, relative to the store, with their mode; sorted.
    pub fn exposed_secrets(&self) -> Result<Vec<(String, u32)>, PkiError> {
        let mut found = Vec::new();
        exposed_under(&self.root, &self.root, &mut found)?;
        found.sort();
        Ok(found)
    }

    /// Takes group and other permissions off every secret file `exposed_secrets` finds;
    /// returns what it tightened.
    pub fn tighten_secrets(&self) -> Result<Vec<(String, u32)>, PkiError> {
        let exposed = self.exposed_secrets()?;
        for (relative, mode) in &exposed {
            let path = self.path(relative);
            let permissions = fs::Permissions::from_mode(mode & !crate::localfs::PRIVATE_MASK);
            fs::set_permissions(&path, permissions).map_err(|source| PkiError::Write { path, source })?;
        }
        Ok(exposed)
    }

    /// The node directories present under `nodes/`, sorted.
    pub fn node_dirs(&self) -> Result<Vec<String>, PkiError> {
        let dir = self.path("nodes");
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(PkiError::Read { path: dir, source }),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| PkiError::Read { path: dir.clone(), source })?;
            if entry.path().is_dir() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

/// Collects the exposed secret files under `dir` (symlinks are not followed).
fn exposed_under(root: &Path, dir: &Path, found: &mut Vec<(String, u32)>) -> Result<(), PkiError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(PkiError::Read { path: dir.to_path_buf(), source }),
    };
    for entry in entries {
        let entry = entry.map_err(|source| PkiError::Read { path: dir.to_path_buf(), source })?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(|source| PkiError::Read { path: path.clone(), source })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if meta.is_dir() {
            exposed_under(root, &path, found)?;
        } else if meta.is_file() && (name.ends_with(".key") || name.ends_with(".conf")) && meta.permissions().mode() & crate::localfs::PRIVATE_MASK != 0 {
            let relative = path.strip_prefix(root).unwrap_or(&path).display().to_string();
            found.push((relative, meta.permissions().mode() & 0o7777));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn writes_keys_0600_and_skips_identical_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("demo"));
        assert_eq!(store.write("etcd/ca.key", b"secret", Mode::Secret).unwrap(), Written::Created);
        let path = store.path("etcd/ca.key");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(store.path("etcd")).unwrap().mode() & 0o777, 0o700);
        let before = fs::metadata(&path).unwrap().modified().unwrap();
        assert_eq!(store.write("etcd/ca.key", b"secret", Mode::Secret).unwrap(), Written::Unchanged);
        assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), before);
        assert_eq!(store.write("etcd/ca.key", b"other", Mode::Secret).unwrap(), Written::Replaced);
        assert_eq!(store.read("etcd/ca.key").unwrap().unwrap(), b"other");
        assert_eq!(store.read("missing").unwrap(), None);
        let leftovers: Vec<_> = fs::read_dir(store.path("etcd")).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    /// Regression: a key already 0644 stayed so and nothing said so. `exposed_secrets` finds
    /// it (`certs check` reports it), `tighten_secrets` makes it 0600 (`certs generate`).
    #[test]
    fn keys_readable_by_others_are_found_and_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path().join("demo"));
        store.write("etcd/ca.key", b"secret", Mode::Secret).unwrap();
        store.write("etcd/ca.crt", b"cert", Mode::Public).unwrap();
        store.write("admin.conf", b"kubeconfig", Mode::Secret).unwrap();
        assert_eq!(store.exposed_secrets().unwrap(), []);
        fs::set_permissions(store.path("etcd/ca.key"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(store.path("admin.conf"), fs::Permissions::from_mode(0o640)).unwrap();
        let exposed = vec![("admin.conf".to_string(), 0o640), ("etcd/ca.key".to_string(), 0o644)];
        assert_eq!(store.exposed_secrets().unwrap(), exposed);
        assert_eq!(store.tighten_secrets().unwrap(), exposed);
        assert_eq!(fs::metadata(store.path("etcd/ca.key")).unwrap().mode() & 0o777, 0o600);
        assert_eq!(fs::metadata(store.path("etcd/ca.crt")).unwrap().mode() & 0o777, 0o644);
        assert_eq!(store.exposed_secrets().unwrap(), []);
    }
}
