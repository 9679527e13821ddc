//! Lab flavors: what the machines present themselves as. `debian` is the plain Debian
//! machine; `centos7-sim` (see `centos7_sim` and `centos7-sim/README.md`) is a Debian machine
//! that presents itself as CentOS 7.8 with the stock 3.10 kernel, for `kernel upgrade` and the
//! guarded ifcfg apply.

mod centos7_sim;

use std::fmt;
use std::net::Ipv6Addr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::LabError;
use super::command::Runner;

/// What a lab's machines are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Flavor {
    /// Debian 12 as it is.
    #[default]
    Debian,
    /// Debian 12 presenting itself as CentOS 7.8 on kernel 3.10.0-1160 (simulation shims).
    #[value(name = "centos7-sim")]
    Centos7Sim,
}

impl Flavor {
    pub fn as_str(self) -> &'static str {
        match self {
            Flavor::Debian => "debian",
            Flavor::Centos7Sim => "centos7-sim",
        }
    }

    /// Debian packages the flavor needs in its base image beyond the plain one.
    pub fn extra_packages(self) -> &'static [&'static str] {
        match self {
            Flavor::Debian => &[],
            // The real RPM database and rpmbuild (to register the stock kernel at first boot).
            Flavor::Centos7Sim => &["rpm"],
        }
    }

    /// Capabilities the machines get beyond nspawn's default set.
    pub fn capabilities(self) -> &'static [&'static str] {
        match self {
            Flavor::Debian => &[],
            // network-sim sets addresses and routes; only in the machine's own namespace.
            Flavor::Centos7Sim => &["CAP_NET_ADMIN"],
        }
    }

    /// The base image's name suffix (a flavor with extra packages has its own cached image).
    pub fn image_suffix(self) -> &'static str {
        match self {
            Flavor::Debian => "",
            Flavor::Centos7Sim => "-rpm",
        }
    }
}

impl fmt::Display for Flavor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a flavor's setup needs to know about the machine.
#[derive(Debug, Clone)]
pub struct MachineInfo<'a> {
    /// The machine's mounted root.
    pub rootfs: &'a Path,
    /// Its network namespace (to read eth0's MAC address).
    pub netns: &'a str,
    pub address: Ipv6Addr,
    pub gateway: Ipv6Addr,
}

/// Writes the flavor's files into a machine's root (before it boots). The flavor's tools are
/// rewritten every time; its state (boot entries, ifcfg files) only when absent, so a machine
/// started again keeps what was done to it.
pub fn setup(runner: &Runner, flavor: Flavor, machine: &MachineInfo<'_>) -> Result<(), LabError> {
    match flavor {
        Flavor::Debian => Ok(()),
        Flavor::Centos7Sim => centos7_sim::setup(runner, machine),
    }
}
