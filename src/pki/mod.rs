//! The cluster's PKI, owned on the machine v6deploy runs from (`certs/<cluster name>/`):
//! three CAs (kubernetes, etcd, front-proxy), the service-account key pair, and every leaf
//! kubeadm would make, each signed from a CSR kept beside it.
//!
//! - `role`: what each certificate must carry, derived from the inventory (the wanted state).
//! - `store`: the local directory; atomic writes, keys 0600, unchanged files untouched.
//! - `inspect`: existing certificates and CSRs parsed and compared with the wanted state.
//! - `issue`: keys, CSRs and signatures (rcgen).
//! - `ca`, `leaf`: loading and making CAs; a leaf's key and CSR.
//! - `generate`, `check`, `csr`, `rotate`: the `certs` commands (rotate: the local part).
//! - `host_files`, `kubeconfig`: what the install workflow and the renderer take from here.

mod ca;
mod check;
mod csr;
mod error;
mod generate;
mod host_files;
mod inspect;
mod issue;
mod kubeconfig;
mod leaf;
mod role;
mod rotate;
mod scratch;
mod store;
mod user;

pub use check::{CheckReport, Row, Status, check, check_at};
pub use csr::{ExportReport, ImportReport, export_csrs, import_certs, import_certs_at};
pub use error::PkiError;
pub use generate::{Action, Entry, Report, generate, generate_at};
pub use host_files::{HostPki, KUBELET_PKI, KUBERNETES_DIR, KUBERNETES_PKI, PkiFile, PkiUse, groups_for, host_files, is_host_pki, kubeconfig_client_files, kubeconfig_path};
pub use inspect::{CertInfo, CsrInfo, Reason, parse_cert, parse_csr};
pub use kubeconfig::{APISERVER_PORT, KubeconfigCredentials, KubeconfigUser, admin_conf, kubeconfig_credentials, outside_server};
pub use role::{AltName, CAS, CertRole, CertSpec, Subject, Usage, Validity};
pub use rotate::{CA_ROTATION_FILE, CaPhase, CaRotation, Keys, LeafGroup, Reissued, backup, ca_rotation, ca_rotation_in_progress, ca_rotation_selects, copy_store, drop_old_ca, record_phase, reissue, reissue_from_new_ca, selected_leaves, selects, start_ca_rotation, timestamp, trust_bundle};
pub use scratch::Scratch;
pub use store::{BACKUP_DIR, Mode, SNAPSHOTS_DIR, Store, Written};
pub use user::{MASTERS_GROUP, NameError, SystemNames, UserCredentials, UserName, UserPlan, issue_user, parse_group, plan_user};
