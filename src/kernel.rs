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
    fn compares_as_numbers_and_ignores_distro_suffix() {
        assert!(v("3.10.0-1160.el7.x86_64") < v("3.12"));
        assert!(v("4.19.113-300.el7.x86_64") >= v("4.19"));
        assert!(v("4.9") < v("4.19"));
        assert!(v("3.10.0-1160.el7") == v("3.10.0-1.el7"));
    }
}
