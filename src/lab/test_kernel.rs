//! The `centos7-sim` lab's test kernel package, so that `kernel upgrade` can be tried on it
//! out of the box: `kernel-4.19.113-300.el7.x86_64.rpm` in the lab bundle's `rpms/`, built
//! once with `rpmbuild` into the cache. It is test data, and says so in its summary and
//! description: it installs a marker file where a kernel image would be, no kernel (a
//! `centos7-sim` machine runs the development machine's kernel; its `uname -r` follows GRUB's
//! simulated default).

use std::fs;
use std::path::{Path, PathBuf};

use super::LabError;
use super::base_image::CACHE_ROOT;
use super::command::Runner;

/// The release the package claims (the field report's upgrade target).
pub const RELEASE: &str = "4.19.113-300.el7.x86_64";

/// The package's file name.
pub fn file_name() -> String {
    format!("kernel-{RELEASE}.rpm")
}

const SPEC: &str = "%global debug_package %{nil}\n%global __os_install_post %{nil}\nName: kernel\nVersion: 4.19.113\nRelease: 300.el7\n\
Summary: v6deploy lab test data, not a kernel\nLicense: none\nBuildArch: x86_64\nAutoReqProv: no\n\
%description\nTest data for v6deploy's centos7-sim lab: holds a marker file where the kernel image would be, no kernel.\n\
%install\nmkdir -p %{buildroot}/boot\necho 'v6deploy test data: not a kernel' > %{buildroot}/boot/vmlinuz-%{version}-%{release}.x86_64\n\
%files\n/boot/vmlinuz-%{version}-%{release}.x86_64\n";

/// The cached package, built when missing.
fn cached(runner: &Runner) -> Result<PathBuf, LabError> {
    let dir = Path::new(CACHE_ROOT).join("test-kernel-v1");
    let package = dir.join(file_name());
    if package.exists() {
        return Ok(package);
    }
    runner.note(format!("building the centos7-sim lab's test kernel package (test data, not a kernel) into {}", dir.display()));
    let top = dir.join("build");
    let _ = fs::remove_dir_all(&top);
    fs::create_dir_all(&top).map_err(LabError::io("create", &top))?;
    let spec = top.join("kernel.spec");
    fs::write(&spec, SPEC).map_err(LabError::io("write", &spec))?;
    let define = format!("_topdir {}", top.display());
    runner.run("rpmbuild", ["-bb".as_ref(), "--quiet".as_ref(), "--target".as_ref(), "x86_64".as_ref(), "--define".as_ref(), define.as_ref(), spec.as_os_str()])?;
    let built = top.join(format!("RPMS/x86_64/{}", file_name()));
    let partial = package.with_extension("partial");
    fs::copy(&built, &partial).map_err(LabError::io("copy", &built))?;
    fs::rename(&partial, &package).map_err(LabError::io("rename into", &package))?;
    let _ = fs::remove_dir_all(&top);
    Ok(package)
}

/// Puts the package into `bundle/rpms/` (a copy: tests may replace it) unless it is there.
pub fn ensure(runner: &Runner, bundle: &Path) -> Result<(), LabError> {
    let rpms = bundle.join("rpms");
    let target = rpms.join(file_name());
    if target.exists() {
        return Ok(());
    }
    let package = cached(runner)?;
    fs::create_dir_all(&rpms).map_err(LabError::io("create", &rpms))?;
    fs::copy(&package, &target).map_err(LabError::io("copy into", &target))?;
    Ok(())
}
