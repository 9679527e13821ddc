//! The CentOS/RHEL network configuration of the host's NIC (`ifcfg-<interface>`, the field
//! report's keys). `render` always shows it; only `network apply` (and `install` with
//! `network.manage: true`) writes it, under a rollback timer.

use super::{Leaves, Component, HostFile, Kind};
use crate::inventory::Role;

/// Where the ifcfg files live.
pub const IFCFG_DIR: &str = "/etc/sysconfig/network-scripts";

pub const IFCFG: Component = Component {
    name: "ifcfg",
    roles: &Role::ALL,
    binaries: &[],
    bundle_dirs: &[],
    files: &[HostFile::config("/etc/sysconfig/network-scripts/ifcfg-{interface}", "ifcfg.j2")],
    certificates: &[],
    ports: &[],
    leaves: Leaves::NOTHING,
    kind: Kind::Network,
};
