//! Embeds every file under `templates/` in the binary (`render::EMBEDDED`), so adding a
//! template is adding a file: no list to keep in step with the component catalog.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display())).map(|e| e.expect("read a directory entry").path()).collect();
    entries.sort();
    for path in entries {
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            collect(&path, found);
        } else {
            found.push(path);
        }
    }
}

/// The commit being built (`git rev-parse --short HEAD`, "-dirty" when the work tree has
/// changes), or "unknown" outside a git checkout or without git.
fn commit(manifest: &Path) -> String {
    let git = |args: &[&str]| std::process::Command::new("git").current_dir(manifest).args(args).output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(hash) if !hash.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty { format!("{hash}-dirty") } else { hash }
        }
        _ => "unknown".to_string(),
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("templates");
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rustc-env=V6DEPLOY_COMMIT={}", commit(&manifest));
    // A new commit or a checkout changes HEAD (or the branch it names).
    if let Ok(git_dir) = std::process::Command::new("git").current_dir(&manifest).args(["rev-parse", "--git-dir"]).output() {
        let git_dir = PathBuf::from(String::from_utf8_lossy(&git_dir.stdout).trim());
        let git_dir = if git_dir.is_absolute() { git_dir } else { manifest.join(git_dir) };
        println!("cargo:rerun-if-changed={}", git_dir.join("HEAD").display());
        println!("cargo:rerun-if-changed={}", git_dir.join("index").display());
    }
    let mut files = Vec::new();
    collect(&root, &mut files);
    let mut out = String::from("&[\n");
    for path in &files {
        let relative = path.strip_prefix(&root).expect("under templates/");
        let name = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        writeln!(out, "    ({name:?}, include_str!({:?})),", path.display().to_string()).expect("write to a String");
    }
    out.push_str("]\n");
    let target = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("templates.rs");
    std::fs::write(&target, out).unwrap_or_else(|e| panic!("write {}: {e}", target.display()));
}
