//! The host itself: the sysctl and kernel-module settings every node needs (IPv6 forwarding,
//! bridge netfilter), applied by the "Prepare hosts" step, and the node's identity in the
//! cluster — the kubernetes CA and the kubelet's client and serving certificates reach every
//! host, whatever its roles.

use super::{Leaves, Component, HostFile, Kind};
use crate::inventory::Role;
use crate::pki::{HostPki, PkiUse};

/// The sysctl file (applied by the "Prepare hosts" step).
pub const SYSCTL: &str = "/etc/sysctl.d/90-v6deploy.conf";
/// The modules-load file (loaded by the "Prepare hosts" step).
pub const MODULES: &str = "/etc/modules-load.d/v6deploy.conf";

pub const HOST: Component = Component {
    name: "host",
    roles: &Role::ALL,
    binaries: &[],
    bundle_dirs: &[],
    files: &[HostFile::config(SYSCTL, "sysctl.conf.j2"), HostFile::config(MODULES, "modules-load.conf.j2")],
    certificates: &[(HostPki::KubernetesCa, PkiUse::Reads), (HostPki::KubeletClient, PkiUse::Reads), (HostPki::KubeletServing, PkiUse::Reads)],
    ports: &[],
    // The membership marker and the pod routes (/etc/v6deploy), every kubeconfig and PKI file
    // (/etc/kubernetes), the pending restarts and the verified units' record.
    leaves: Leaves { state: &["/etc/v6deploy", "/etc/kubernetes", "/var/lib/v6deploy/restart-pending", "/var/lib/v6deploy/verified-units"], ..Leaves::NOTHING },
    kind: Kind::HostFiles,
};
