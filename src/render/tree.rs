//! Writing a [`Rendered`] as a directory tree: `DIR/<node name>/<absolute path on the host>`
//! and `DIR/cluster/<manifest>`.
//!
//! The tree holds private keys and kubeconfigs: every file is created private from its first
//! byte and atomically (`localfs::write_atomic`), every directory 0700. `write_output`, what
//! `render -o DIR` runs, also marks DIR as render's own and replaces only a directory so
//! marked, never one that holds or lies inside the PKI store, the bundle, SSH keys, the
//! inventory or the current directory.

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::{RenderError, Rendered, RenderedFile};
use crate::localfs::{create_private_dirs, write_atomic};

/// The file `write_output` puts in DIR: only a directory holding it may be replaced.
pub const MARKER: &str = ".v6deploy-render";

/// Writes every file under `dir` (created 0700 if missing) with its mode. The tree depends
/// only on `rendered`, so two renders of one inventory give identical trees.
pub fn write_tree(rendered: &Rendered, dir: &Path) -> io::Result<()> {
    create_private_dirs(dir)?;
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
    write_atomic(&root.join(file.path.trim_start_matches('/')), file.contents.as_bytes(), file.mode)
}

/// What `write_output` does with a directory that is not empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse (the default).
    Refuse,
    /// Replace it, if an earlier `render` marked it as its own (`--force`).
    Replace,
}

/// A path `render -o` must never write into or delete.
#[derive(Debug, Clone)]
pub struct Protected {
    /// What it is, for the message: `the PKI store`, `the SSH private key`.
    pub what: &'static str,
    pub path: PathBuf,
    /// Whether DIR may not lie inside it either (a directory such as the store or the bundle).
    pub no_output_inside: bool,
}

/// Writes the tree into `dir` for review (`render -o DIR`) with the marker file.
pub fn write_output(rendered: &Rendered, dir: &Path, existing: Existing, protected: &[Protected]) -> Result<(), RenderError> {
    let resolved = resolve(dir);
    for p in protected {
        let path = resolve(&p.path);
        let relation = if path.starts_with(&resolved) {
            "holds"
        } else if p.no_output_inside && resolved.starts_with(&path) {
            "is inside"
        } else {
            continue;
        };
        return Err(RenderError::OutputProtected { dir: dir.to_path_buf(), relation, what: p.what, path: p.path.clone() });
    }
    let write_error = |source| RenderError::Output { path: dir.to_path_buf(), source };
    if has_entries(dir).map_err(write_error)? {
        if existing == Existing::Refuse {
            return Err(RenderError::OutputNotEmpty { dir: dir.to_path_buf() });
        }
        if !dir.join(MARKER).is_file() {
            return Err(RenderError::OutputNotOurs { dir: dir.to_path_buf(), marker: MARKER });
        }
        fs::remove_dir_all(dir).map_err(write_error)?;
    }
    write_atomic(&dir.join(MARKER), b"Written by `v6deploy render`: `render --force` may replace this directory.\n", 0o600).map_err(write_error)?;
    write_tree(rendered, dir).map_err(write_error)
}

/// Whether `dir` exists and has anything in it (a file where a directory should be counts).
fn has_entries(dir: &Path) -> io::Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// `path` made absolute with every symlink of its existing part resolved, component by
/// component (so `..` after a symlink goes where the kernel would go); the part not yet
/// created is appended as written.
fn resolve(path: &Path) -> PathBuf {
    let absolute = if path.is_absolute() { path.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(path) };
    let mut resolved = PathBuf::from("/");
    for component in absolute.components() {
        match component {
            Component::Normal(name) => {
                resolved.push(name);
                if let Ok(canonical) = resolved.canonicalize() {
                    resolved = canonical;
                }
            }
            Component::ParentDir => {
                resolved.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn empty() -> Rendered {
        Rendered { hosts: Vec::new(), cluster: vec![RenderedFile { path: "/x.yaml".into(), mode: 0o644, contents: "x".into() }] }
    }

    fn protected(what: &'static str, path: &Path, no_output_inside: bool) -> Protected {
        Protected { what, path: path.to_path_buf(), no_output_inside }
    }

    /// Regression: `render -o certs --force` deleted the certificate store. A directory that
    /// holds, or lies inside, the store (or the bundle, or SSH keys) is refused, and `--force`
    /// only deletes a directory a previous render marked as its own.
    #[test]
    fn force_never_deletes_the_store_or_an_unmarked_directory() {
        let dir = tempfile::tempdir().unwrap();
        let certs = dir.path().join("certs");
        fs::create_dir_all(certs.join("demo")).unwrap();
        fs::write(certs.join("demo/ca.key"), "secret").unwrap();
        let key = dir.path().join("ssh/id_ed25519");
        fs::create_dir_all(key.parent().unwrap()).unwrap();
        fs::write(&key, "key").unwrap();
        let guard = [protected("the PKI store", &certs, true), protected("the SSH private key", &key, false)];
        for (out, relation) in [(certs.clone(), "holds"), (certs.join("demo"), "is inside"), (certs.join("new/out"), "is inside"), (dir.path().to_path_buf(), "holds"), (dir.path().join("ssh"), "holds")] {
            let error = write_output(&empty(), &out, Existing::Replace, &guard).unwrap_err();
            assert!(error.to_string().contains(relation), "{}: {error}", out.display());
        }
        assert_eq!(fs::read(certs.join("demo/ca.key")).unwrap(), b"secret");
        // An unmarked directory is not deleted, even with --force.
        let other = dir.path().join("notes");
        fs::create_dir(&other).unwrap();
        fs::write(other.join("todo"), "keep").unwrap();
        let error = write_output(&empty(), &other, Existing::Replace, &guard).unwrap_err();
        assert!(matches!(error, RenderError::OutputNotOurs { .. }), "{error}");
        assert_eq!(fs::read(other.join("todo")).unwrap(), b"keep");
        // A directory render wrote is refused without --force and replaced with it.
        let out = dir.path().join("out");
        write_output(&empty(), &out, Existing::Refuse, &guard).unwrap();
        fs::write(out.join("stale"), "x").unwrap();
        assert!(matches!(write_output(&empty(), &out, Existing::Refuse, &guard), Err(RenderError::OutputNotEmpty { .. })));
        write_output(&empty(), &out, Existing::Replace, &guard).unwrap();
        assert!(!out.join("stale").exists() && out.join(MARKER).is_file() && out.join("cluster/x.yaml").is_file());
    }

    /// Regression: render wrote keys 0666-then-chmod into directories 0755.
    #[test]
    fn directories_are_0700_and_files_private_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let rendered = Rendered { hosts: Vec::new(), cluster: vec![RenderedFile { path: "/a/b/admin.conf".into(), mode: 0o600, contents: "k".into() }] };
        write_output(&rendered, &out, Existing::Refuse, &[]).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        for d in [out.clone(), out.join("cluster"), out.join("cluster/a"), out.join("cluster/a/b")] {
            assert_eq!(mode(&d), 0o700, "{}", d.display());
        }
        assert_eq!(mode(&out.join("cluster/a/b/admin.conf")), 0o600);
    }

    #[test]
    fn paths_resolve_through_symlinks_and_dot_dot() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().canonicalize().unwrap();
        fs::create_dir(real.join("certs")).unwrap();
        std::os::unix::fs::symlink(real.join("certs"), real.join("link")).unwrap();
        assert_eq!(resolve(&real.join("link/new/../x")), real.join("certs/x"));
    }
}
