//! Helpers of the render tests: the field-report inventory, rendered files by host and path,
//! manifest parsing, and a snapshot comparison of directory trees.

pub mod scan;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use v6deploy::inventory::{Inventory, load};
use v6deploy::render::{Rendered, Templates, render};

/// The repository's root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `inventories/field-report.yaml`, loaded.
pub fn field_report() -> Inventory {
    load(&root().join("inventories/field-report.yaml")).expect("field-report.yaml loads").inventory
}

/// The field report rendered with the embedded templates.
pub fn rendered() -> Rendered {
    render(&field_report(), &Templates::embedded().expect("embedded templates compile")).expect("field-report renders")
}

/// The node name of the field report's first host.
pub const FIRST: &str = "2002.0db8.0000.0001.0000.0000.0000.0101";

/// The contents of `path` on host `name`.
pub fn host_file<'a>(rendered: &'a Rendered, name: &str, path: &str) -> &'a str {
    let host = rendered.hosts.iter().find(|h| h.name.as_str() == name).unwrap_or_else(|| panic!("no host {name}"));
    let file = host.files.iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{name} has no {path}"));
    &file.contents
}

/// The contents of cluster manifest `file` (e.g. `coredns.yaml`).
pub fn cluster_file<'a>(rendered: &'a Rendered, file: &str) -> &'a str {
    &rendered.cluster.iter().find(|f| f.path == file).unwrap_or_else(|| panic!("no cluster/{file}")).contents
}

/// Every rendered file as (`host/path` or `cluster/file`, contents).
pub fn all_files(rendered: &Rendered) -> Vec<(String, &str)> {
    let hosts = rendered.hosts.iter().flat_map(|h| h.files.iter().map(move |f| (format!("{}{}", h.name, f.path), f.contents.as_str())));
    let cluster = rendered.cluster.iter().map(|f| (format!("cluster/{}", f.path), f.contents.as_str()));
    hosts.chain(cluster).collect()
}

/// The documents of a multi-document YAML file.
pub fn documents(text: &str) -> Vec<serde_json::Value> {
    serde_saphyr::from_multiple(text).expect("valid YAML")
}

/// The document of `kind` named `name`.
pub fn document(text: &str, kind: &str, name: &str) -> serde_json::Value {
    documents(text)
        .into_iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// Every file under `dir` by relative path, with its bytes.
pub fn read_tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, found: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, found);
            } else {
                found.insert(path.strip_prefix(root).unwrap().to_path_buf(), fs::read(&path).unwrap());
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(dir, dir, &mut found);
    found
}

/// Compares the tree at `actual` with the committed snapshot at `snapshot`; with
/// `UPDATE_SNAPSHOTS=1` the snapshot is rewritten from `actual` instead.
pub fn assert_snapshot(actual: &Path, snapshot: &Path) {
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        let _ = fs::remove_dir_all(snapshot);
        for (path, bytes) in read_tree(actual) {
            let target = snapshot.join(path);
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            fs::write(target, bytes).unwrap();
        }
        return;
    }
    let (actual, expected) = (read_tree(actual), read_tree(snapshot));
    let mut problems = Vec::new();
    for path in expected.keys().filter(|p| !actual.contains_key(*p)) {
        problems.push(format!("no longer rendered: {}", path.display()));
    }
    for (path, bytes) in &actual {
        match expected.get(path) {
            None => problems.push(format!("new file: {}", path.display())),
            Some(old) if old != bytes => problems.push(first_difference(path, old, bytes)),
            Some(_) => {}
        }
    }
    assert!(
        problems.is_empty(),
        "rendered tree differs from {} (run UPDATE_SNAPSHOTS=1 cargo test to accept):\n{}",
        snapshot.display(),
        problems.join("\n")
    );
}

fn first_difference(path: &Path, old: &[u8], new: &[u8]) -> String {
    let (old, new) = (String::from_utf8_lossy(old), String::from_utf8_lossy(new));
    let mut old_lines = old.lines();
    for (number, line) in new.lines().enumerate() {
        let before = old_lines.next();
        if before != Some(line) {
            return format!("{}:{}: was {:?}, now {line:?}", path.display(), number + 1, before.unwrap_or("<end of file>"));
        }
    }
    format!("{}: lines removed at the end", path.display())
}
