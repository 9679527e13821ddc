//! Steps: one file each, named for what it does. Workflows (`crate::workflows`) list them in order.

mod addons;
mod etcd_join;
mod gather_facts;
mod import_images;
mod install_files;
mod kernel_gate;
mod membership;
mod kernel_upgrade;
mod network_apply;
mod pod_network;
mod preflight;
mod prepare_host;
mod push_files;
mod reboot;
mod rotate_host;
mod service;
mod start_services;
mod state;
mod verify;

pub use addons::{ADDONS_DIR, Addons};
pub use etcd_join::EtcdJoin;
pub use gather_facts::{FactsStore, GatherFacts};
pub use import_images::ImportImages;
pub use install_files::InstallFiles;
pub use kernel_gate::KernelGate;
pub use membership::{MARKER, MembershipStore, ReadMembership, RecordMembership, marker, parse_marker};
pub use kernel_upgrade::KernelUpgrade;
pub use network_apply::NetworkApply;
pub use pod_network::{HostRoutes, ReadPodSubnets};
pub use preflight::Preflight;
pub use prepare_host::PrepareHost;
pub use push_files::PushFiles;
pub use rotate_host::{KEEP_BACKUPS, RotateHost, RotateState, backup_path, services_to_restart};
pub use start_services::StartServices;
pub use state::{ComponentOutcome, InstallState};
pub use verify::Verify;
