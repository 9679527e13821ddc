//! Writing a [`Rendered`] as a directory tree: `DIR/<node name>/<absolute path on the host>`
//! and `DIR/cluster/<manifest>`.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::{Rendered, RenderedFile};

/// Writes every file under `dir` (created if missing) with its mode. The tree depends only on
/// `rendered`, so two renders of one inventory give identical trees.
pub fn write_tree(rendered: &Rendered, dir: &Path) -> io::Result<()> {
    for host in &rendered.hosts {
        let root = dir.join(host.name.as_str());
        for file in &host.files {
            write_file(&root, file)?;
        }
    }
    let cluster = dir.join("cluster");
    for file in &rendered.cluster {
        write_file(&cluster, file)?;
    }
    Ok(())
}

fn write_file(root: &Path, file: &RenderedFile) -> io::Result<()> {
    let path = root.join(file.path.trim_start_matches('/'));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&path, &file.contents).map_err(|e| io::Error::new(e.kind(), format!("write {}: {e}", path.display())))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(file.mode))
}
