//! Steps: one file each, named for what it does. Workflows (`crate::workflows`) list them in order.

mod addons;
mod binaries;
mod control_plane;
mod etcd;
mod etcd_join;
mod gather_facts;
mod kernel_gate;
mod membership;
mod node_services;
mod pki_files;
mod preflight;
mod prepare_host;
mod push_files;
mod rotate_host;
mod service;
mod state;
mod verify;

pub use addons::{ADDONS_DIR, Addons};
pub use binaries::Binaries;
pub use control_plane::ControlPlane;
pub use etcd::{Etcd, health_command as etcd_health_command};
pub use etcd_join::EtcdJoin;
pub use gather_facts::{FactsStore, GatherFacts};
pub use kernel_gate::KernelGate;
pub use membership::{MARKER, MembershipStore, ReadMembership, RecordMembership, marker, parse_marker};
pub use node_services::NodeServices;
pub use pki_files::{PkiFiles, is_pki};
pub use preflight::Preflight;
pub use prepare_host::PrepareHost;
pub use push_files::PushFiles;
pub use rotate_host::{RotateHost, RotateState, backup_path, services_to_restart};
pub use state::{ComponentOutcome, InstallState};
pub use verify::Verify;
