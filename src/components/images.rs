//! Container images from the bundle (`bundle/images/*.tar`, docker-archive or OCI archives):
//! copied to every node and imported into containerd's `k8s.io` namespace by the "Import
//! images" step, the pod sandbox image among them; an offline site needs no registry.

use super::{Leaves, BundleDir, Component, Kind};
use crate::inventory::Role;

/// Where the image archives are kept on a host (an unchanged archive is not imported again).
pub const IMAGES_DIR: &str = "/var/lib/v6deploy/images";

/// The bundle directory of the images.
pub const IMAGES_BUNDLE_DIR: BundleDir = BundleDir { dir: "images", host_dir: IMAGES_DIR, mode: 0o644, required: &[] };

pub const IMAGES: Component = Component {
    name: "images",
    roles: &Role::ALL,
    binaries: &[],
    bundle_dirs: &[IMAGES_BUNDLE_DIR],
    files: &[],
    certificates: &[],
    ports: &[],
    leaves: Leaves::NOTHING,
    kind: Kind::HostFiles,
};
