//! The local IPv6 lab: up to 50 IPv6-only Debian machines on this host, each booted with
//! systemd-nspawn from an overlay on a cached debootstrap image, in its own network
//! namespace on a per-lab bridge, addressed like the field report's hosts but inside
//! 2001:db8::/32 (`2001:db8:0:1::101`, ...; gateway `::1` on the bridge).
//!
//! Commands: `up` (create or grow, cleaning leftovers first), `down`, `status`, `exec`; and
//! `supervise`, which runs detached once per machine and boots it again when it reboots.
//! One file per concern: `addressing` (pure names and addresses), `base_image`, `machine`
//! (overlay and identity), `node` (what makes a machine able to run a kubelet), `network`,
//! `supervisor`, `cgroup`, `state`, `inventory_file`, `ssh_files`, `status`, `teardown`; the
//! bundle (`bundle`) and its caches: `kubernetes` (the source build), `network_addons`
//! (flannel, CoreDNS and node-cache from the upstream source archives), `build_script` (how
//! both builds run), `debs` (Debian packages), `images`; and the workflows `up` and `down`.

mod addressing;
mod base_image;
mod build_script;
mod bundle;
mod cgroup;
mod command;
mod debs;
mod down;
mod error;
mod exec;
mod flavor;
mod host_limits;
mod images;
mod inventory_file;
mod kubernetes;
mod machine;
mod mounts;
mod network;
mod network_addons;
mod node;
mod preflight;
mod process;
mod ssh_files;
mod state;
mod status;
mod supervisor;
mod teardown;
mod test_kernel;
mod up;

pub use addressing::{DEFAULT_HOSTS, DEFAULT_NAME, HostNumber, LAB_RANGE, LabName, MAX_HOSTS, Subnet};
pub use base_image::DEFAULT_MIRROR;
pub use command::{Echo, Runner};
pub use down::{DownReport, Purge, down};
pub use error::LabError;
pub use exec::exec;
pub use flavor::Flavor;
pub use inventory_file::Change as InventoryChange;
pub use state::{ProjectFiles, RUNTIME_ROOT, all_names};
pub use status::{Lab, Machine, State, labs, ssh_port_open};
pub use supervisor::supervise;
pub use up::{UpOptions, UpReport, up};
