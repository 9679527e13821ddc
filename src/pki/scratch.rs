//! A scratch copy of a store: what `render` and dry runs issue certificates into, so they
//! never create or change the real store (a dry run of a first install shows the certificates
//! it would make, and the store still does not exist afterwards).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{PkiError, Store, copy_store};

/// A copy of a store in a private (0700) temporary directory, removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
    /// The copy.
    pub store: Store,
    /// The store it copies.
    pub of: PathBuf,
}

impl Scratch {
    /// Copies `store` (its backups left out); an empty scratch store when it does not exist.
    pub fn copy_of(store: &Store) -> Result<Scratch, PkiError> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let dir = std::env::temp_dir().join(format!("v6deploy-scratch-{}-{nanos}", std::process::id()));
        let root = dir.join("store");
        let write_error = |source| PkiError::Write { path: dir.clone(), source };
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new().mode(0o700).create(&dir).map_err(write_error)?;
        }
        let copy = if store.root().exists() { copy_store(store, &root) } else { Ok(Store::at(&root)) };
        match copy {
            Ok(copy) => Ok(Scratch { dir, store: copy, of: store.root().to_path_buf() }),
            Err(error) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(error)
            }
        }
    }

    /// Where the copy lives (gone once this is dropped).
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scratch_copy_is_removed_and_leaves_the_store_alone() {
        let dir = tempfile::tempdir().unwrap();
        let missing = Store::at(dir.path().join("none"));
        let scratch = Scratch::copy_of(&missing).unwrap();
        let inv = crate::inventory::field_report();
        crate::pki::generate(&inv, &scratch.store).unwrap();
        assert!(!dir.path().join("none").exists(), "the real store was created");
        let path = scratch.path().to_path_buf();
        assert!(path.join("store/ca.crt").exists());
        drop(scratch);
        assert!(!path.exists());
    }
}
