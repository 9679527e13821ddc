//! Rendering: what would be put on each host and applied to the cluster, from the inventory
//! and the templates (embedded in the binary, overridable with `--templates DIR`).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use v6deploy::render::{Templates, render, write_tree};
//! let loaded = v6deploy::inventory::load("inventories/field-report.yaml".as_ref())?;
//! let rendered = render(&loaded.inventory, &Templates::embedded()?)?;
//! write_tree(&rendered, "/tmp/render-out".as_ref())?;
//! # Ok(()) }
//! ```

mod context;
mod env;
mod error;
mod filters;
mod kubeconfig;
mod plan;
pub mod quoting;
mod tree;
mod versions;

use std::net::Ipv6Addr;

use crate::inventory::Inventory;
use crate::net::NodeName;

pub use context::Context;
pub use env::{EMBEDDED, Templates};
pub use error::RenderError;
pub use context::EtcdBootstrap;
pub use kubeconfig::{Credentials, Kubeconfig, TEMPLATE as KUBECONFIG_TEMPLATE};
pub use plan::{EmbeddedCredentials, PlannedFile, PlannedManifest, Source, cluster_manifests, host_files};
pub use tree::{Existing, MARKER, Protected, write_output, write_tree};
pub use versions::Versions;

/// Everything rendered for an inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// One entry per host, in inventory order.
    pub hosts: Vec<HostFiles>,
    /// Manifests applied to the cluster; their `path` is a file name (`flannel.yaml`).
    pub cluster: Vec<RenderedFile>,
}

/// The files of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFiles {
    pub name: NodeName,
    pub address: Ipv6Addr,
    pub files: Vec<RenderedFile>,
}

/// One rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Absolute path on the host (a file name for cluster manifests).
    pub path: String,
    /// Permission bits, e.g. `0o644`.
    pub mode: u32,
    pub contents: String,
}

/// What `render_with` may vary.
#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    /// Credentials embedded in kubeconfigs (see [`host_files`]).
    pub embedded: EmbeddedCredentials,
    /// etcd hosts joining a running cluster, with the running members they join.
    pub etcd_joining: std::collections::BTreeMap<Ipv6Addr, Vec<Ipv6Addr>>,
}

/// Renders every host's files and the cluster manifests, kubeconfigs naming credential files.
pub fn render(inv: &Inventory, templates: &Templates) -> Result<Rendered, RenderError> {
    render_with(inv, templates, &RenderOptions::default())
}

/// Renders with the given options.
pub fn render_with(inv: &Inventory, templates: &Templates, options: &RenderOptions) -> Result<Rendered, RenderError> {
    let embedded = &options.embedded;
    let first_control_plane = inv.first_control_plane().ok_or(RenderError::NoControlPlane)?.address;
    let context = Context::new(inv);
    let mut hosts = Vec::with_capacity(inv.hosts.len());
    for host in &inv.hosts {
        let target = format!("host {}", host.name);
        let joining = options.etcd_joining.get(&host.address).map(|members| inv.hosts.iter().filter(|h| members.contains(&h.address)).collect());
        let host_context = context.for_host(host, joining);
        let mut files = Vec::new();
        for planned in host_files(inv, host, first_control_plane, embedded) {
            let contents = match &planned.source {
                Source::Template(name) => templates.render(name, &target, &host_context)?,
                Source::Kubeconfig(kubeconfig) => kubeconfig.render(templates, &target)?,
            };
            files.push(RenderedFile { path: planned.path, mode: planned.mode, contents });
        }
        hosts.push(HostFiles { name: host.name.clone(), address: host.address, files });
    }
    let mut cluster = Vec::new();
    for manifest in cluster_manifests(inv) {
        let contents = templates.render(manifest.template, "the cluster", &context)?;
        cluster.push(RenderedFile { path: manifest.file.to_string(), mode: 0o644, contents });
    }
    Ok(Rendered { hosts, cluster })
}
