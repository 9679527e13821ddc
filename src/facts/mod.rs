//! Facts: read-only commands on a host plus pure parsers of their output. Every fact of a host
//! is gathered in one round trip (`gather::SCRIPT` prints marked sections) and parsed here into
//! a `Facts` snapshot, replaced each time it is read.

mod boot;
mod certs;
mod etcd;
mod gather;
mod network;
mod os;
mod query;
mod system;

use std::net::Ipv6Addr;

use serde::Serialize;

pub use boot::{BootEntry, InstalledKernel, parse_boot_default, parse_boot_entries, parse_installed_kernels, release_of_image};
pub use certs::{CERTS_SCRIPT, HostCert, parse_host_certs};
pub use etcd::{EtcdMember, etcdctl, parse_member_list, parse_raft_indexes, voting_members};
pub use gather::{SCRIPT, parse_sections};
pub use network::{Interface, PeerRoute, PeerRoutes, parse_default_routes, parse_interfaces, parse_listening_ports, parse_nameservers, parse_peer_routes, peer_routes_script};
pub use os::{OsRelease, parse_os_release};
pub use query::{AddonsReady, Ask, Boot, EtcdState, Health, Leftovers, MissingModules, PENDING_DIR, Query, QueryError, ServiceState, UnitState, journal_excerpt};
pub use system::{parse_disk_free, parse_swaps, parse_systemd};

use crate::kernel::KernelVersion;

/// A snapshot of one host's facts.
#[derive(Debug, Clone, Serialize)]
pub struct Facts {
    pub os: OsRelease,
    /// `uname -r` as written.
    pub kernel_release: String,
    pub kernel: Option<KernelVersion>,
    pub interfaces: Vec<Interface>,
    pub ipv6_forwarding: Option<bool>,
    /// Default IPv6 routes (`via` addresses; `None` for a device route).
    pub default_routes: Vec<Option<Ipv6Addr>>,
    /// The routes to the other hosts of the inventory (read with the facts by `Gather facts`;
    /// `None` when not read).
    pub peer_routes: Option<PeerRoutes>,
    /// Nameservers in /etc/resolv.conf, as written.
    pub nameservers: Vec<String>,
    /// Active swap devices/files.
    pub swaps: Vec<String>,
    /// The host's clock (seconds since the epoch) when the facts were read.
    pub clock: f64,
    /// Free space under /var, in KiB.
    pub var_free_kib: Option<u64>,
    /// TCP ports listening on any address.
    pub listening: Vec<u16>,
    /// systemd is PID 1 (`/run/systemd/system` exists), and its version.
    pub systemd: Option<u32>,
    /// Services with a v6deploy unit that are active (their ports are theirs, not a conflict).
    pub managed_active: Vec<String>,
    /// Tells one boot from the next (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
    /// Kernel packages in the RPM database (empty without rpm).
    pub kernels: Vec<InstalledKernel>,
    /// Whether `grubby` is on the host.
    pub grubby: bool,
    /// GRUB's menu entries (from grubby).
    pub boot_entries: Vec<BootEntry>,
    /// The release GRUB boots next, when it can be told.
    pub boot_default: Option<String>,
    /// The tools health checks use that the host has (`curl`).
    pub tools: Vec<String>,
    /// An existing `/etc/containerd/config.toml` not written by v6deploy disables the CRI
    /// plugin (docker's package ships `disabled_plugins = ["cri"]`).
    pub foreign_containerd_without_cri: bool,
}

/// Why facts could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("section {section} missing from the facts output (is the remote shell POSIX sh?)")]
pub struct FactsError {
    pub section: &'static str,
}

impl Facts {
    /// Parses the output of `SCRIPT`.
    pub fn parse(output: &str) -> Result<Facts, FactsError> {
        let sections = parse_sections(output);
        let section = |name: &'static str| sections.get(name).map(String::as_str).ok_or(FactsError { section: name });
        // Sections added later than the first release of the script are optional, so that
        // fixtures written before them still parse.
        let optional = |name: &str| sections.get(name).map_or("", String::as_str);
        let boot_entries = parse_boot_entries(optional("boot-entries"));
        let kernel_release = section("uname")?.trim().to_string();
        Ok(Facts {
            os: parse_os_release(section("os-release")?, section("redhat-release")?),
            kernel: kernel_release.parse().ok(),
            kernel_release,
            interfaces: parse_interfaces(section("addr")?),
            ipv6_forwarding: match section("forwarding")?.trim() {
                "1" => Some(true),
                "0" => Some(false),
                _ => None,
            },
            default_routes: parse_default_routes(section("route")?),
            peer_routes: None,
            nameservers: parse_nameservers(section("resolv")?),
            swaps: parse_swaps(section("swaps")?),
            clock: section("clock")?.trim().parse().unwrap_or(0.0),
            var_free_kib: parse_disk_free(section("disk")?),
            listening: parse_listening_ports(section("tcp6")?, section("tcp")?),
            systemd: parse_systemd(section("systemd")?),
            managed_active: section("managed")?.split_whitespace().map(String::from).collect(),
            boot_id: optional("boot-id").trim().to_string(),
            kernels: parse_installed_kernels(optional("kernels")),
            grubby: !optional("grubby").trim().is_empty(),
            boot_default: parse_boot_default(optional("boot-default"), optional("grubenv"), &boot_entries),
            boot_entries,
            tools: optional("tools").split_whitespace().map(String::from).collect(),
            foreign_containerd_without_cri: {
                let config = optional("containerd-config");
                !config.contains("Managed by v6deploy") && config.lines().any(|l| l.contains("disabled_plugins") && l.contains("\"cri\""))
            },
        })
    }
}
