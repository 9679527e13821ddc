//! The lab's offline bundle: etcd and etcdctl from Debian's `etcd-server` and `etcd-client`
//! packages (the Kubernetes binaries cannot be downloaded on a development machine, so the lab
//! inventory says `bundle.missing: stage` and they are staged).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::LabError;
use super::command::Runner;

/// Where downloaded packages are cached.
const DEBS: &str = "/var/cache/v6deploy/lab/etcd-debs";

/// (package, binary inside it) for each binary of the lab bundle.
const BINARIES: [(&str, &str); 2] = [("etcd-server", "usr/bin/etcd"), ("etcd-client", "usr/bin/etcdctl")];

/// Makes `<dir>/bin/etcd` and `<dir>/bin/etcdctl`, downloading and unpacking the Debian
/// packages once.
pub fn ensure(runner: &Runner, dir: &Path) -> Result<PathBuf, LabError> {
    let bin = dir.join("bin");
    if BINARIES.iter().all(|(_, b)| bin.join(file_name(b)).exists()) {
        return Ok(dir.to_path_buf());
    }
    fs::create_dir_all(&bin).map_err(LabError::io("create", &bin))?;
    fs::create_dir_all(DEBS).map_err(LabError::io("create", DEBS))?;
    for (package, binary) in BINARIES {
        let deb = match cached_deb(package)? {
            Some(deb) => deb,
            None => {
                runner.note(format!("downloading Debian's {package} for the lab bundle"));
                let download = || runner.run("sh", ["-c", &format!("cd {DEBS} && apt-get download -q {package}")]);
                if download().is_err() {
                    runner.run("apt-get", ["update", "-qq"])?;
                    download()?;
                }
                cached_deb(package)?.ok_or_else(|| LabError::Io {
                    action: "find the downloaded package in",
                    path: DEBS.into(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, format!("{package}_*.deb")),
                })?
            }
        };
        let unpacked = Path::new(DEBS).join(format!("{package}.unpacked"));
        let _ = fs::remove_dir_all(&unpacked);
        runner.run("dpkg-deb", ["-x".as_ref(), deb.as_os_str(), unpacked.as_os_str()])?;
        let target = bin.join(file_name(binary));
        let partial = target.with_extension("partial");
        fs::copy(unpacked.join(binary), &partial).map_err(LabError::io("copy into", &partial))?;
        fs::set_permissions(&partial, fs::Permissions::from_mode(0o755)).map_err(LabError::io("chmod", &partial))?;
        fs::rename(&partial, &target).map_err(LabError::io("rename into", &target))?;
        let _ = fs::remove_dir_all(&unpacked);
    }
    runner.note(format!("lab bundle: {} (etcd, etcdctl from Debian; Kubernetes binaries staged)", dir.display()));
    Ok(dir.to_path_buf())
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn cached_deb(package: &str) -> Result<Option<PathBuf>, LabError> {
    let prefix = format!("{package}_");
    let entries = fs::read_dir(DEBS).map_err(LabError::io("read", DEBS))?;
    Ok(entries.filter_map(Result::ok).map(|e| e.path()).find(|p| {
        p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
    }))
}
