//! Push: copy a local directory's files to a directory on every host (atomic, skipping
//! identical files).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::inventory::Inventory;
use crate::runner::{Mode, Recap};
use crate::steps::PushFiles;
use crate::transport::files::{FileSpec, has_control_characters};

use super::remote::Remote;

/// Copies the files under `local` (recursively) to the absolute directory `remote_dir` on the
/// selected hosts, root-owned with permission bits `mode`. A file whose name holds a control
/// character is refused before any host is touched.
pub fn push(remote: &Remote, inv: &Inventory, local: &Path, remote_dir: &str, mode: u32, run: Mode) -> Result<Recap> {
    let files = files(local, remote_dir, mode)?;
    remote.run_steps(inv, run, &[Box::new(PushFiles { files })])
}

/// The files under `local` as they go to `remote_dir`, sorted by path: hashed (in parallel),
/// read again only when sent.
fn files(local: &Path, remote_dir: &str, mode: u32) -> Result<Vec<FileSpec>> {
    let mut found = Vec::new();
    collect(local, local, remote_dir, &mut found)?;
    found.sort();
    let paths: Vec<PathBuf> = found.iter().map(|(_, path)| path.clone()).collect();
    let (hashed, _) = crate::hash_cache::hash_files(&paths, None)?;
    Ok(found.iter().zip(&hashed).map(|((target, _), h)| FileSpec::local(target.clone(), mode, h)).collect())
}

/// (target path, local path) of every file under `dir`.
fn collect(root: &Path, dir: &Path, remote: &str, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, remote, out)?;
        } else {
            let relative = path.strip_prefix(root).context("path under root")?;
            let Some(relative) = relative.to_str().filter(|r| !has_control_characters(r)) else {
                bail!("refusing to push {}: its name holds a control character or is not UTF-8; rename it", path.display());
            };
            out.push((format!("{}/{relative}", remote.trim_end_matches('/')), path));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a local file name with a newline reached the hosts' write script.
    #[test]
    fn push_refuses_file_names_with_control_characters() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/ok.conf"), "x").unwrap();
        let found = files(dir.path(), "/etc/extra", 0o644).unwrap();
        assert_eq!(found.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(), ["/etc/extra/sub/ok.conf"]);
        std::fs::write(dir.path().join("sub/a\x1bb"), "x").unwrap();
        let error = format!("{:#}", files(dir.path(), "/etc/extra", 0o644).unwrap_err());
        assert!(error.starts_with("refusing to push ") && error.contains("control character"), "{error}");
    }
}
