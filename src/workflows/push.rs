//! Push: copy a local directory's files to a directory on every host (atomic, skipping
//! identical files).

use std::path::Path;

use anyhow::{Context, Result};

use crate::inventory::Inventory;
use crate::runner::{Mode, Recap};
use crate::steps::PushFiles;
use crate::transport::files::FileSpec;

use super::remote::Remote;

/// Copies the files under `local` (recursively) to the absolute directory `remote_dir` on the
/// selected hosts, root-owned with permission bits `mode`.
pub fn push(remote: &Remote, inv: &Inventory, local: &Path, remote_dir: &str, mode: u32, run: Mode) -> Result<Recap> {
    let mut files = Vec::new();
    collect(local, local, remote_dir, mode, &mut files)?;
    files.sort_by(|a, b| a.path.cmp(&b.path));
    remote.run_steps(inv, run, &[Box::new(PushFiles { files })])
}

fn collect(root: &Path, dir: &Path, remote: &str, mode: u32, out: &mut Vec<FileSpec>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, remote, mode, out)?;
        } else {
            let relative = path.strip_prefix(root).context("path under root")?;
            let contents = std::fs::read(&path).with_context(|| format!("read {}", path.display()))?;
            let target = format!("{}/{}", remote.trim_end_matches('/'), relative.display());
            out.push(FileSpec::root(target, mode, contents));
        }
    }
    Ok(())
}
