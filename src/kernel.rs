//! Kernel versions as numbers: `3.10.0-1160.el7.x86_64` is 3.10.0 (the distro suffix is not a
//! pre-release), `4.19` is 4.19.0.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

/// `major.minor.patch` of a kernel release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

/// Text that does not start with `major.minor`.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{text:?} is not a kernel version (expected e.g. 4.19 or 3.10.0-1160.el7.x86_64)")]
pub struct KernelVersionError {
    text: String,
}

impl FromStr for KernelVersion {
    type Err = KernelVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let refuse = || KernelVersionError { text: text.to_string() };
        let numeric = text.trim().split(['-', '+', '_', ' ']).next().unwrap_or("");
        let mut parts = numeric.split('.');
        let mut number = |required: bool| -> Result<u32, KernelVersionError> {
            match parts.next() {
                Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().map_err(|_| refuse()),
                None if !required => Ok(0),
                _ => Err(refuse()),
            }
        };
        let major = number(true)?;
        let minor = number(true)?;
        let patch = number(false)?;
        Ok(KernelVersion { major, minor, patch })
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl Serialize for KernelVersion {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The RPM names of bootable kernels: CentOS's own and ELRepo's long-term and mainline.
pub const KERNEL_PACKAGES: [&str; 3] = ["kernel", "kernel-lt", "kernel-ml"];

/// A kernel package file, named as RPM names them: `NAME-VERSION-RELEASE.ARCH.rpm`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelPackage {
    /// `kernel`, `kernel-lt` or `kernel-ml`.
    pub name: String,
    /// What `uname -r` prints once it runs: `VERSION-RELEASE.ARCH`, e.g. `4.19.113-300.el7.x86_64`.
    pub release: String,
    pub version: KernelVersion,
}

impl KernelPackage {
    /// Parses a file name such as `kernel-4.19.113-300.el7.x86_64.rpm` or
    /// `kernel-lt-5.4.278-1.el7.elrepo.x86_64.rpm`; `None` for anything else, including
    /// `kernel-devel`, `kernel-headers` and `kernel-tools` (they do not boot).
    pub fn from_file_name(file: &str) -> Option<KernelPackage> {
        let stem = file.strip_suffix(".rpm")?;
        let (rest, arch) = stem.rsplit_once('.')?;
        let (rest, release) = rest.rsplit_once('-')?;
        let (name, version) = rest.rsplit_once('-')?;
        if !KERNEL_PACKAGES.contains(&name) || arch.is_empty() || release.is_empty() {
            return None;
        }
        let parsed: KernelVersion = version.parse().ok()?;
        Some(KernelPackage { name: name.to_string(), release: format!("{version}-{release}.{arch}"), version: parsed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> KernelVersion {
        text.parse().unwrap()
    }

    #[test]
    fn parses_release_strings() {
        let table = [
            ("3.10.0-1160.el7.x86_64", (3, 10, 0)),
            ("4.19.113-300.el7.x86_64", (4, 19, 113)),
            ("4.19", (4, 19, 0)),
            ("6.1.0-27-amd64", (6, 1, 0)),
            ("5.14.0-362.8.1.el9_3.x86_64", (5, 14, 0)),
            ("6.8.0+", (6, 8, 0)),
        ];
        for (text, (major, minor, patch)) in table {
            assert_eq!(v(text), KernelVersion { major, minor, patch }, "{text}");
        }
        for bad in ["", "4", "four.19", "4.x", ".19"] {
            assert!(bad.parse::<KernelVersion>().is_err(), "{bad}");
        }
    }

    #[test]
    fn kernel_package_file_names() {
        let p = KernelPackage::from_file_name("kernel-4.19.113-300.el7.x86_64.rpm").unwrap();
        assert_eq!((p.name.as_str(), p.release.as_str(), p.version), ("kernel", "4.19.113-300.el7.x86_64", v("4.19.113")));
        let lt = KernelPackage::from_file_name("kernel-lt-5.4.278-1.el7.elrepo.x86_64.rpm").unwrap();
        assert_eq!((lt.name.as_str(), lt.release.as_str()), ("kernel-lt", "5.4.278-1.el7.elrepo.x86_64"));
        for other in ["kernel-devel-4.19.113-300.el7.x86_64.rpm", "kernel-headers-4.19.113-300.el7.x86_64.rpm", "linux-firmware-20200421-80.git78c0348.el7_9.noarch.rpm", "kernel-4.19.113-300.el7.x86_64", "kernel.rpm"] {
            assert_eq!(KernelPackage::from_file_name(other), None, "{other}");
        }
    }

    #[test]
    fn comparison_table() {
        // (running, minimum, at or above)
        let table = [
            ("3.10.0-1160.el7.x86_64", "4.19", false),
            ("3.10.0-1160.el7.x86_64", "3.10", true),
            ("3.11.10", "3.12", false),
            ("3.12.0", "3.12", true),
            ("4.19.113-300.el7.x86_64", "4.19", true),
            ("4.18.0-513.el8.x86_64", "4.19", false),
            ("4.20.0", "4.19", true),
            ("5.4.278-1.el7.elrepo.x86_64", "4.19", true),
            ("10.0.0", "9.99", true),
            ("4.9.0", "4.19", false),
        ];
        for (running, minimum, ok) in table {
            assert_eq!(v(running) >= v(minimum), ok, "{running} >= {minimum}");
        }
    }

    #[test]
    fn compares_as_numbers_and_ignores_distro_suffix() {
        assert!(v("3.10.0-1160.el7.x86_64") < v("3.12"));
        assert!(v("4.19.113-300.el7.x86_64") >= v("4.19"));
        assert!(v("4.9") < v("4.19"));
        assert!(v("3.10.0-1160.el7") == v("3.10.0-1.el7"));
    }
}
