//! The lab's container images, built locally (no registry is reachable) as OCI image layout
//! tars that `ctr -n k8s.io images import` loads: `index.json` (the name), the manifest, the
//! config (entrypoint and the layers' digests) and the layers, each a tar compressed with zstd
//! as registries serve layers compressed. Measured on a lab machine (its `cpuacct` cgroup,
//! `ctr import` of flannel's image, 57 MB of layers): 0.85-0.91 s of CPU from the plain
//! docker-archive the lab built before, 0.74-0.80 s with gzip layers, 0.60-0.63 s with zstd
//! (containerd hashes a quarter of the bytes into its content store, and unpacking zstd is
//! cheap); the archives are 3.5x smaller on the wire (178 MB -> 54 MB per node).
//!
//! - `pause.tar`, `v6deploy.lab/pause:3.2`: the pod sandbox, Kubernetes' `build/pause/linux/pause.c`
//!   compiled with `gcc -Os -static` (the tree's file is pause 3.4's source, the same program;
//!   3.2 is what kubelet 1.20 names by default).
//! - `busybox.tar`, `v6deploy.lab/busybox:1.35`: Debian's `busybox-static` as `/bin/busybox`
//!   with a link for each of its applets (sh, ls, ping6, nc, httpd, wget, ip, ...).
//! - With the network addons built (`network_addons`): flannel, its CNI plugin, CoreDNS and
//!   node-cache. flanneld and node-cache program the node's ip6tables through the `ip6tables`
//!   command, so their images (and the CNI plugin's, which needs `cp`) share a first layer,
//!   "netbase": Debian 12's iptables with the libraries it links (nft backend, as on a Debian
//!   12 host) and busybox for `sh` and `cp`. containerd stores a shared layer once.
//!
//! Every tar is written with fixed times, owners and order, so an image's digest depends only
//! on its files. Built once into `<cache>/images-v3/` (the layers' tars and their `.tar.zst`
//! under `layers/`).

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::LabError;
use super::base_image::CACHE_ROOT;
use super::command::Runner;
use super::debs;
use super::network_addons;

/// Bumped whenever an image's recipe changes, so that older cached tars are not reused.
const RECIPE: u32 = 3;

/// One image of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Image {
    /// The tar's name in `bundle/images/`.
    pub file: &'static str,
    /// `NAME:TAG` inside the tar.
    pub reference: &'static str,
    entrypoint: &'static str,
    /// Its layers, lowest first.
    layers: &'static [Layer],
}

/// What goes into one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layer {
    Pause,
    Busybox,
    /// Debian's iptables with its libraries, and busybox (see the module's doc).
    NetBase,
    /// A binary of the network addons' build, at `at`.
    Addon { binary: &'static str, at: &'static str },
}

impl Layer {
    /// The cached layer's file name.
    fn file(self) -> String {
        match self {
            Layer::Pause => "pause".into(),
            Layer::Busybox => "busybox".into(),
            Layer::NetBase => "netbase".into(),
            Layer::Addon { binary, .. } => format!("addon-{binary}"),
        }
    }
}

/// The pod sandbox image; containerd's `sandbox_image` and the lab inventory name it.
pub const PAUSE: Image = Image { file: "pause.tar", reference: "v6deploy.lab/pause:3.2", entrypoint: "/pause", layers: &[Layer::Pause] };
/// A small image for test pods.
pub const BUSYBOX: Image = Image { file: "busybox.tar", reference: "v6deploy.lab/busybox:1.35", entrypoint: "/bin/sh", layers: &[Layer::Busybox] };
/// flanneld at `/opt/bin/flanneld`, where upstream's image has it.
pub const FLANNEL: Image = Image {
    file: "flannel.tar",
    reference: "v6deploy.lab/flannel:v0.20.2",
    entrypoint: "/opt/bin/flanneld",
    layers: &[Layer::NetBase, Layer::Addon { binary: "flanneld", at: "opt/bin/flanneld" }],
};
/// The flannel CNI plugin at `/flannel` (upstream's flannel-cni-plugin image), copied to the
/// node by the DaemonSet's init container.
pub const FLANNEL_CNI_PLUGIN: Image = Image {
    file: "flannel-cni-plugin.tar",
    reference: "v6deploy.lab/flannel-cni-plugin:v0.9.1",
    entrypoint: "/bin/sh",
    layers: &[Layer::NetBase, Layer::Addon { binary: "flannel", at: "flannel" }],
};
/// CoreDNS with the kubernetes plugin, alone in its image as upstream's is.
/// Its tag says what the build changed: it watches v1beta1 EndpointSlices, which the lab's
/// Kubernetes 1.20 serves (upstream 1.11 watches only v1, served from 1.21).
pub const COREDNS: Image = Image {
    file: "coredns.tar",
    reference: "v6deploy.lab/coredns:v1.11.3-endpointslice-v1beta1",
    entrypoint: "/coredns",
    layers: &[Layer::Addon { binary: "coredns", at: "coredns" }],
};
/// NodeLocal DNSCache.
pub const NODE_CACHE: Image = Image {
    file: "node-cache.tar",
    reference: "v6deploy.lab/k8s-dns-node-cache:1.26.2",
    entrypoint: "/node-cache",
    layers: &[Layer::NetBase, Layer::Addon { binary: "node-cache", at: "node-cache" }],
};

/// The images every lab has.
pub const BASE: [Image; 2] = [PAUSE, BUSYBOX];
/// The images of the network addons, when they are built.
pub const ADDONS: [Image; 4] = [FLANNEL, FLANNEL_CNI_PLUGIN, COREDNS, NODE_CACHE];

/// The Debian packages of the netbase layer: iptables and what it links, its protocol names,
/// and busybox.
const NETBASE_PACKAGES: &[&str] =
    &["libc6", "iptables", "libip4tc2", "libip6tc2", "libxtables12", "libnftnl11", "libmnl0", "libnetfilter-conntrack3", "libnfnetlink0", "netbase", "busybox-static"];

/// The names Debian's alternatives give the iptables commands on a Debian 12 host (nft).
const IPTABLES_NFT: [(&str, &str); 6] = [
    ("iptables", "iptables-nft"),
    ("iptables-save", "iptables-nft-save"),
    ("iptables-restore", "iptables-nft-restore"),
    ("ip6tables", "ip6tables-nft"),
    ("ip6tables-save", "ip6tables-nft-save"),
    ("ip6tables-restore", "ip6tables-nft-restore"),
];

/// `/var/cache/v6deploy/lab/images-v3`.
pub fn cache() -> PathBuf {
    Path::new(CACHE_ROOT).join(format!("images-v{RECIPE}"))
}

/// The cached tars of every image, building those that are missing: the base images always,
/// the addons' when `addons` (the network addons' `bin/`) is given. `kubernetes_tree` holds
/// `build/pause/linux/pause.c`.
pub fn ensure(runner: &Runner, kubernetes_tree: &Path, addons: Option<&Path>) -> Result<Vec<PathBuf>, LabError> {
    let cache = cache();
    fs::create_dir_all(cache.join("layers")).map_err(LabError::io("create", &cache))?;
    let images: Vec<Image> = BASE.iter().chain(addons.map_or(&[][..], |_| &ADDONS[..])).copied().collect();
    let mut tars = Vec::new();
    for image in images {
        let tar = cache.join(image.file);
        let mut layers = Vec::new();
        for layer in image.layers {
            layers.push(ensure_layer(runner, &cache, *layer, kubernetes_tree, addons)?);
        }
        if !fresh(&tar, &layers) {
            runner.note(format!("building the image {} into {}", image.reference, tar.display()));
            assemble(runner, image, &layers, &tar)?;
        }
        tars.push(tar);
    }
    Ok(tars)
}

/// The cached tar of `layer` (`<cache>/layers/NAME.tar`), built in a scratch directory first.
fn ensure_layer(runner: &Runner, cache: &Path, layer: Layer, kubernetes_tree: &Path, addons: Option<&Path>) -> Result<PathBuf, LabError> {
    let tar = cache.join("layers").join(format!("{}.tar", layer.file()));
    // An addon's layer is made again when its binary was rebuilt since.
    let source = match layer {
        Layer::Addon { binary, .. } => vec![addon_binary(addons, binary)],
        Layer::Pause | Layer::Busybox | Layer::NetBase => Vec::new(),
    };
    if fresh(&tar, &source) {
        return Ok(tar);
    }
    let scratch = tar.with_extension("building");
    remove_tree(&scratch)?;
    let rootfs = scratch.join("rootfs");
    make_dir(&rootfs)?;
    match layer {
        Layer::Pause => pause_files(runner, kubernetes_tree, &rootfs)?,
        Layer::Busybox => busybox_files(runner, &rootfs)?,
        Layer::NetBase => netbase_files(runner, &rootfs)?,
        Layer::Addon { binary, at } => {
            let bin = addon_binary(addons, binary);
            let target = rootfs.join(at);
            if let Some(dir) = target.parent() {
                make_dir(dir)?;
            }
            fs::copy(&bin, &target).map_err(LabError::io("copy into", &target))?;
            chmod(&target, 0o755)?;
        }
    }
    let partial = tar.with_extension("partial");
    reproducible_tar(runner, &rootfs, &partial)?;
    fs::rename(&partial, &tar).map_err(LabError::io("rename into", &tar))?;
    remove_tree(&scratch)?;
    Ok(tar)
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

/// The netbase layer: busybox, then the files of [`NETBASE_PACKAGES`] (documentation left
/// out), the `iptables`/`ip6tables` names a Debian 12 host's alternatives give (the nft
/// backend), checked by running `ip6tables --version` in the tree.
fn netbase_files(runner: &Runner, rootfs: &Path) -> Result<(), LabError> {
    busybox_files(runner, rootfs)?;
    for package in NETBASE_PACKAGES.iter().filter(|p| **p != "busybox-static") {
        let tree = debs::unpacked(runner, package)?;
        let (tree, root) = (format!("{}/.", tree.display()), rootfs.display().to_string());
        runner.run("cp", ["-a", "--remove-destination", &tree, &root])?;
    }
    for dir in ["usr/share/doc", "usr/share/man", "usr/share/lintian", "usr/share/locale", "usr/share/bug", ".unpacked"] {
        let path = rootfs.join(dir);
        if path.is_dir() { remove_tree(&path)? } else { let _ = fs::remove_file(&path); }
    }
    for (name, target) in IPTABLES_NFT {
        let link = rootfs.join("usr/sbin").join(name);
        let _ = fs::remove_file(&link);
        symlink(target, &link).map_err(LabError::io("link", &link))?;
    }
    let root = rootfs.display().to_string();
    runner.run("chroot", [root.as_str(), "/usr/sbin/ip6tables", "--version"]).map(|_| ())
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

/// Puts `image` together in `tar`, an OCI image layout: `oci-layout`, `index.json` naming
/// the image, and under `blobs/sha256/` its config (the uncompressed layers' digests), its
/// manifest and its layers, zstd-compressed as a registry serves them (see the module's doc),
/// written in a scratch directory and renamed into place.
fn assemble(runner: &Runner, image: Image, layers: &[PathBuf], tar: &Path) -> Result<(), LabError> {
    let archive = tar.with_extension("building");
    remove_tree(&archive)?;
    let blobs = archive.join("blobs/sha256");
    make_dir(&blobs)?;
    let mut diff_ids = Vec::new();
    let mut descriptors = Vec::new();
    for layer in layers {
        diff_ids.push(sha256_file(layer)?);
        let compressed = compressed_layer(runner, layer)?;
        let digest = sha256_file(&compressed)?;
        let size = fs::metadata(&compressed).map_err(LabError::io("read", &compressed))?.len();
        let target = blobs.join(&digest);
        if fs::hard_link(&compressed, &target).is_err() {
            fs::copy(&compressed, &target).map_err(LabError::io("copy into", &target))?;
        }
        descriptors.push(Descriptor { media_type: LAYER_MEDIA_TYPE, digest, size });
    }
    let config = write_blob(&blobs, CONFIG_MEDIA_TYPE, &config_json(image.entrypoint, &diff_ids))?;
    let manifest = write_blob(&blobs, MANIFEST_MEDIA_TYPE, &manifest_json(&config, &descriptors))?;
    write_file(&archive.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)?;
    write_file(&archive.join("index.json"), &index_json(image.reference, &manifest))?;
    let partial = tar.with_extension("partial");
    reproducible_tar(runner, &archive, &partial)?;
    fs::rename(&partial, tar).map_err(LabError::io("rename into", tar))?;
    remove_tree(&archive)
}

/// The media types of the layout's blobs.
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// An OCI descriptor: what a blob is, its sha256 (hex) and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: &'static str,
    pub digest: String,
    pub size: u64,
}

impl Descriptor {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({"mediaType": self.media_type, "digest": format!("sha256:{}", self.digest), "size": self.size})
    }
}

/// `layer` compressed with zstd (level 3) beside it, made again when the layer is newer.
fn compressed_layer(runner: &Runner, layer: &Path) -> Result<PathBuf, LabError> {
    let compressed = layer.with_extension("tar.zst");
    if fresh(&compressed, &[layer.to_path_buf()]) {
        return Ok(compressed);
    }
    let partial = layer.with_extension("zst-partial");
    let (input, output) = (layer.display().to_string(), partial.display().to_string());
    // One thread: the frame does not depend on how many cores compressed it.
    runner.run("zstd", ["-q", "-3", "-T1", "-f", "-o", &output, &input])?;
    fs::rename(&partial, &compressed).map_err(LabError::io("rename into", &compressed))?;
    Ok(compressed)
}

/// Writes `text` into `blobs` under its sha256; its descriptor.
fn write_blob(blobs: &Path, media_type: &'static str, text: &str) -> Result<Descriptor, LabError> {
    let digest = hex(&Sha256::digest(text));
    write_file(&blobs.join(&digest), text)?;
    Ok(Descriptor { media_type, digest, size: text.len() as u64 })
}

/// The network addons' `binary` (addon images are built only when `addons` is given; without
/// it the path names the cache, where the copy then fails saying what is missing).
fn addon_binary(addons: Option<&Path>, binary: &str) -> PathBuf {
    addons.map_or_else(|| network_addons::cache().join("bin"), Path::to_path_buf).join(binary)
}

/// Whether `target` exists and is at least as new as each of `sources`.
fn fresh(target: &Path, sources: &[PathBuf]) -> bool {
    let modified = |p: &Path| fs::metadata(p).and_then(|m| m.modified()).ok();
    let Some(made) = modified(target) else { return false };
    sources.iter().all(|s| modified(s).is_some_and(|m| m <= made))
}

/// The sha256 of a file, read in pieces.
fn sha256_file(path: &Path) -> Result<String, LabError> {
    use std::io::Read as _;
    let mut file = fs::File::open(path).map_err(LabError::io("open", path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = file.read(&mut buffer).map_err(LabError::io("read", path))?;
        if read == 0 {
            return Ok(hex(&hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

fn remove_tree(dir: &Path) -> Result<(), LabError> {
    match fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(LabError::io("remove", dir)(e)),
        _ => Ok(()),
    }
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

/// The image config: entrypoint, a PATH, and the layers' digests, lowest first.
pub fn config_json(entrypoint: &str, layer_sha256: &[String]) -> String {
    serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Entrypoint": [entrypoint],
            "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
        },
        "rootfs": {"type": "layers", "diff_ids": layer_sha256.iter().map(|d| format!("sha256:{d}")).collect::<Vec<_>>()},
    })
    .to_string()
}

/// The image manifest: its config and layers, lowest first.
pub fn manifest_json(config: &Descriptor, layers: &[Descriptor]) -> String {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "config": config.json(),
        "layers": layers.iter().map(Descriptor::json).collect::<Vec<_>>(),
    })
    .to_string()
}

/// The layout's index: the manifest, named `reference` (containerd's annotation; the OCI one
/// holds the tag).
pub fn index_json(reference: &str, manifest: &Descriptor) -> String {
    let mut entry = manifest.json();
    let tag = reference.rsplit_once(':').map_or("latest", |(_, tag)| tag);
    entry["annotations"] = serde_json::json!({"io.containerd.image.name": reference, "org.opencontainers.image.ref.name": tag});
    serde_json::json!({"schemaVersion": 2, "manifests": [entry]}).to_string()
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
        let config: serde_json::Value = serde_json::from_str(&config_json("/pause", &["ab12".into(), "cd34".into()])).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][0], "sha256:ab12");
        assert_eq!(config["rootfs"]["diff_ids"][1], "sha256:cd34");
        assert_eq!(config["rootfs"]["type"], "layers");
        assert_eq!(config["config"]["Entrypoint"][0], "/pause");
        assert_eq!(config["os"], "linux");
    }

    #[test]
    fn the_index_names_the_manifest_and_the_manifest_its_blobs() {
        let config = Descriptor { media_type: CONFIG_MEDIA_TYPE, digest: "c0".into(), size: 9 };
        let layer = Descriptor { media_type: LAYER_MEDIA_TYPE, digest: "ab12".into(), size: 700 };
        let manifest: serde_json::Value = serde_json::from_str(&manifest_json(&config, &[layer])).unwrap();
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["config"]["digest"], "sha256:c0");
        assert_eq!(manifest["layers"][0], serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": "sha256:ab12", "size": 700}));
        let described = Descriptor { media_type: MANIFEST_MEDIA_TYPE, digest: "ff".into(), size: 300 };
        let index: serde_json::Value = serde_json::from_str(&index_json(PAUSE.reference, &described)).unwrap();
        assert_eq!(index["manifests"][0]["digest"], "sha256:ff");
        assert_eq!(index["manifests"][0]["annotations"]["io.containerd.image.name"], "v6deploy.lab/pause:3.2");
        assert_eq!(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "3.2");
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
