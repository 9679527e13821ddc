//! A scratch copy of a store: what `render` and dry runs issue certificates into, so they
//! never create or change the real store (a dry run of a first install shows the certificates
//! it would make, and the store still does not exist afterwards).

use std::path::{Path, PathBuf};

use super::{PkiError, Store, copy_store};
use crate::localfs::PrivateTempDir;

/// A copy of a store in a private temporary directory ([`PrivateTempDir`]: fresh, 0700,
/// unguessable), removed when dropped.
#[derive(Debug)]
pub struct Scratch {
    dir: PrivateTempDir,
    /// The copy.
    pub store: Store,
    /// The store it copies.
    pub of: PathBuf,
}

impl Scratch {
    /// Copies `store` (its backups left out); an empty scratch store when it does not exist.
    pub fn copy_of(store: &Store) -> Result<Scratch, PkiError> {
        let dir = PrivateTempDir::new("scratch").map_err(|source| PkiError::Write { path: std::env::temp_dir(), source })?;
        let root = dir.path().join("store");
        // On an error `dir` is dropped, and with it whatever was copied.
        let copy = if store.root().exists() { copy_store(store, &root)? } else { Store::at(&root) };
        Ok(Scratch { dir, store: copy, of: store.root().to_path_buf() })
    }

    /// Where the copy lives (gone once this is dropped).
    pub fn path(&self) -> &Path {
        self.dir.path()
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
