//! Steps: one file each, named for what it does. Workflows (`crate::workflows`) list them in order.

mod addons;
mod control_plane;
mod etcd;
mod etcd_join;
mod gather_facts;
mod install_files;
mod kernel_gate;
mod membership;
mod kernel_upgrade;
mod network_apply;
mod node_services;
mod preflight;
mod prepare_host;
mod push_files;
mod reboot;
mod rotate_host;
mod service;
mod state;
mod verify;

pub use addons::{ADDONS_DIR, Addons};
pub use control_plane::ControlPlane;
pub use etcd::{Etcd, health_command as etcd_health_command};
pub use etcd_join::EtcdJoin;
pub use gather_facts::{FactsStore, GatherFacts};
pub use install_files::{InstallFiles, is_pki};
pub use kernel_gate::KernelGate;
pub use membership::{MARKER, MembershipStore, ReadMembership, RecordMembership, marker, parse_marker};
pub use kernel_upgrade::KernelUpgrade;
pub use network_apply::NetworkApply;
pub use node_services::NodeServices;
pub use preflight::Preflight;
pub use prepare_host::PrepareHost;
pub use push_files::PushFiles;
pub use rotate_host::{RotateHost, RotateState, backup_path, services_to_restart};
pub use state::{ComponentOutcome, InstallState};
pub use verify::Verify;
