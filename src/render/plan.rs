//! Which files each host gets and which manifests are applied to the cluster: read off the
//! component catalog (`crate::components`), with the kubeconfigs' servers and credentials
//! resolved for the host.

use std::net::Ipv6Addr;

use crate::components::{self, Identity};
use crate::inventory::{HostSpec, Inventory};
use crate::pki::{HostPki, KubeconfigUser, kubeconfig_client_files};

use super::kubeconfig::{Credentials, Kubeconfig};

/// Credentials to embed in kubeconfigs, by user.
pub type EmbeddedCredentials = std::collections::BTreeMap<KubeconfigUser, Credentials>;

/// What a planned file is rendered from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A template with the host's [`super::Context`].
    Template(&'static str),
    /// The kubeconfig template with its own context.
    Kubeconfig(Kubeconfig),
}

/// One file to put on a host.
#[derive(Debug, Clone)]
pub struct PlannedFile {
    /// Absolute path on the host.
    pub path: String,
    pub mode: u32,
    pub source: Source,
}

/// One manifest applied to the cluster, written as `cluster/<file>`.
#[derive(Debug, Clone, Copy)]
pub struct PlannedManifest {
    pub template: &'static str,
    pub file: &'static str,
}

/// The files of `host`: those of every component that runs there. `first_control_plane` is
/// the API server of worker-only hosts and of `admin.conf`.
///
/// `embedded` maps a kubeconfig user to credentials embedded in its kubeconfig; a user not in
/// it gets the file form (`/etc/kubernetes/pki/<user>.crt/.key`).
pub fn host_files(inv: &Inventory, host: &HostSpec, first_control_plane: Ipv6Addr, embedded: &EmbeddedCredentials) -> Vec<PlannedFile> {
    let mut files = Vec::new();
    for component in components::on_host(host).filter(|c| c.wanted(inv)) {
        for file in component.files {
            let source = match file.source {
                components::Source::Template(name) => Source::Template(name),
                components::Source::Kubeconfig { identity, server } => {
                    let (user, credentials) = match identity {
                        Identity::User(user) => {
                            let credentials = embedded.get(&user).cloned().unwrap_or_else(|| {
                                let (certificate, key) = kubeconfig_client_files(user);
                                Credentials::files(&certificate, &key)
                            });
                            (user.name().to_string(), credentials)
                        }
                        // kubeadm's layout: the kubelet's rotated client certificate and key share one file.
                        Identity::Node => {
                            let current = HostPki::KubeletClient;
                            (format!("system:node:{}", host.name), Credentials::files(current.cert(), current.key()))
                        }
                    };
                    let server = server.url(first_control_plane);
                    Source::Kubeconfig(Kubeconfig { cluster_name: inv.cluster.name.to_string(), server, user, credentials })
                }
            };
            files.push(PlannedFile { path: file.path_on(host.interface.as_str()), mode: file.mode, source });
        }
    }
    files
}

/// The manifests applied to the cluster, in the order they are applied.
pub fn cluster_manifests(inv: &Inventory) -> Vec<PlannedManifest> {
    components::addons(inv).into_iter().filter_map(components::manifest).map(|m| PlannedManifest { template: m.template, file: m.file }).collect()
}
