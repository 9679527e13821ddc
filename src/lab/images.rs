//! The lab's two container images, built locally (no registry is reachable) as
//! "docker-archive" tars that `ctr -n k8s.io images import` loads: `layer.tar` (the files),
//! `config.json` (entrypoint and the layer's digest) and `manifest.json` (the name).
//!
//! - `pause.tar`, `v6deploy.lab/pause:3.2`: the pod sandbox, Kubernetes' `build/pause/linux/pause.c`
//!   compiled with `gcc -Os -static` (the tree's file is pause 3.4's source, the same program;
//!   3.2 is what kubelet 1.20 names by default).
//! - `busybox.tar`, `v6deploy.lab/busybox:1.35`: Debian's `busybox-static` as `/bin/busybox`
//!   with a link for each of its applets (sh, ls, ping6, nc, httpd, wget, ip, ...).
//!
//! Every tar is written with fixed times, owners and order, so an image's digest depends only
//! on its files. Built once into `<cache>/images-v1/`.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::LabError;
use super::base_image::CACHE_ROOT;
use super::command::Runner;
use super::debs;

/// Bumped whenever an image's recipe changes, so that older cached tars are not reused.
const RECIPE: u32 = 1;

/// One image of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image {
    /// The tar's name in `bundle/images/`.
    pub file: &'static str,
    /// `NAME:TAG` inside the tar.
    pub reference: &'static str,
    entrypoint: &'static str,
    contents: Contents,
}

/// What goes into an image's layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Contents {
    Pause,
    Busybox,
}

/// The pod sandbox image; containerd's `sandbox_image` and the lab inventory name it.
pub const PAUSE: Image = Image { file: "pause.tar", reference: "v6deploy.lab/pause:3.2", entrypoint: "/pause", contents: Contents::Pause };
/// A small image for test pods.
pub const BUSYBOX: Image = Image { file: "busybox.tar", reference: "v6deploy.lab/busybox:1.35", entrypoint: "/bin/sh", contents: Contents::Busybox };

pub const ALL: [Image; 2] = [PAUSE, BUSYBOX];

/// `/var/cache/v6deploy/lab/images-v1`.
pub fn cache() -> PathBuf {
    Path::new(CACHE_ROOT).join(format!("images-v{RECIPE}"))
}

/// The cached tars of every image, building those that are missing. `kubernetes_tree` holds
/// `build/pause/linux/pause.c`.
pub fn ensure(runner: &Runner, kubernetes_tree: &Path) -> Result<Vec<PathBuf>, LabError> {
    let cache = cache();
    fs::create_dir_all(&cache).map_err(LabError::io("create", &cache))?;
    let mut tars = Vec::new();
    for image in ALL {
        let tar = cache.join(image.file);
        if !tar.is_file() {
            runner.note(format!("building the image {} into {}", image.reference, tar.display()));
            build(runner, image, &tar, |rootfs| match image.contents {
                Contents::Pause => pause_files(runner, kubernetes_tree, rootfs),
                Contents::Busybox => busybox_files(runner, rootfs),
            })?;
        }
        tars.push(tar);
    }
    Ok(tars)
}

/// `/pause`, compiled from the Kubernetes tree.
fn pause_files(runner: &Runner, tree: &Path, rootfs: &Path) -> Result<(), LabError> {
    let source = tree.join("build/pause/linux/pause.c");
    let output = rootfs.join("pause");
    let (source, output) = (source.display().to_string(), output.display().to_string());
    // The flags of build/pause/Makefile, with the version named after the tag.
    runner.run("gcc", ["-Os", "-Wall", "-Werror", "-static", "-DVERSION=v3.2-v6deploy.lab", "-o", &output, &source])?;
    runner.run("strip", [&output])?;
    chmod(Path::new(&output), 0o755)
}

/// `/bin/busybox` from Debian's busybox-static and a symlink for each applet.
fn busybox_files(runner: &Runner, rootfs: &Path) -> Result<(), LabError> {
    let package = debs::unpacked(runner, "busybox-static")?;
    let busybox = package.join("bin/busybox");
    let target = rootfs.join("bin/busybox");
    make_dir(&rootfs.join("bin"))?;
    fs::copy(&busybox, &target).map_err(LabError::io("copy into", &target))?;
    chmod(&target, 0o755)?;
    let applets = runner.run(&busybox.display().to_string(), ["--list-full"])?;
    for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty() && *a != "bin/busybox") {
        let link = rootfs.join(applet);
        if let Some(dir) = link.parent() {
            make_dir(dir)?;
        }
        symlink("/bin/busybox", &link).map_err(LabError::io("link", &link))?;
    }
    make_dir(&rootfs.join("tmp"))?;
    chmod(&rootfs.join("tmp"), 0o1777)
}

/// Builds `image` into `tar`: its files (made by `fill` in an empty root), the layer, the
/// config and the manifest, written in a scratch directory and renamed into place.
fn build(runner: &Runner, image: Image, tar: &Path, fill: impl FnOnce(&Path) -> Result<(), LabError>) -> Result<(), LabError> {
    let scratch = tar.with_extension("building");
    let _ = fs::remove_dir_all(&scratch);
    let rootfs = scratch.join("rootfs");
    let archive = scratch.join("archive");
    make_dir(&rootfs)?;
    make_dir(&archive)?;
    fill(&rootfs)?;
    let layer = archive.join("layer.tar");
    reproducible_tar(runner, &rootfs, &layer)?;
    let bytes = fs::read(&layer).map_err(LabError::io("read", &layer))?;
    let config = config_json(image.entrypoint, &hex(&Sha256::digest(&bytes)));
    write_file(&archive.join("config.json"), &config)?;
    write_file(&archive.join("manifest.json"), &manifest_json(image.reference))?;
    let partial = tar.with_extension("partial");
    reproducible_tar(runner, &archive, &partial)?;
    fs::rename(&partial, tar).map_err(LabError::io("rename into", tar))?;
    fs::remove_dir_all(&scratch).map_err(LabError::io("remove", &scratch))
}

/// A tar of everything in `dir` (without `./`), with fixed times, owners and order.
fn reproducible_tar(runner: &Runner, dir: &Path, tar: &Path) -> Result<(), LabError> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(LabError::io("read", dir))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut args = vec![
        "--create".to_string(),
        format!("--file={}", tar.display()),
        format!("--directory={}", dir.display()),
        "--format=gnu".into(),
        "--sort=name".into(),
        "--mtime=@0".into(),
        "--owner=0".into(),
        "--group=0".into(),
        "--numeric-owner".into(),
        "--".into(),
    ];
    args.extend(names);
    runner.run("tar", args).map(|_| ())
}

/// The image config: entrypoint, a PATH, and the one layer's digest.
pub fn config_json(entrypoint: &str, layer_sha256: &str) -> String {
    serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": [entrypoint],
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        },
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_sha256}")]},
    })
    .to_string()
}

/// The docker-archive manifest naming the image.
pub fn manifest_json(reference: &str) -> String {
    serde_json::json!([{"Config": "config.json", "RepoTags": [reference], "Layers": ["layer.tar"]}]).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn make_dir(dir: &Path) -> Result<(), LabError> {
    fs::create_dir_all(dir).map_err(LabError::io("create", dir))?;
    chmod(dir, 0o755)
}

fn chmod(path: &Path, mode: u32) -> Result<(), LabError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(LabError::io("set the mode of", path))
}

fn write_file(path: &Path, text: &str) -> Result<(), LabError> {
    fs::write(path, text).map_err(LabError::io("write", path))?;
    chmod(path, 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_names_the_layer_by_its_digest() {
        let config: serde_json::Value = serde_json::from_str(&config_json("/pause", "ab12")).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], "sha256:ab12");
        assert_eq!(config["rootfs"]["type"], "layers");
        assert_eq!(config["config"]["Entrypoint"][0], "/pause");
        assert_eq!(config["os"], "linux");
    }

    #[test]
    fn the_manifest_is_one_image_with_one_layer() {
        assert_eq!(manifest_json(PAUSE.reference), r#"[{"Config":"config.json","Layers":["layer.tar"],"RepoTags":["v6deploy.lab/pause:3.2"]}]"#);
    }

    #[test]
    fn reproducible_tars_do_not_depend_on_times() {
        let runner = Runner { echo: super::super::command::Echo::Quiet };
        let dir = tempfile::tempdir().unwrap();
        let tar_of = |name: &str| {
            let root = dir.path().join(name);
            make_dir(&root.join("bin")).unwrap();
            write_file(&root.join("bin/tool"), "#!/bin/sh\n").unwrap();
            symlink("/bin/tool", root.join("bin/link")).unwrap();
            let tar = dir.path().join(format!("{name}.tar"));
            reproducible_tar(&runner, &root, &tar).unwrap();
            fs::read(tar).unwrap()
        };
        let first = tar_of("a");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        assert_eq!(first, tar_of("b"));
    }
}
