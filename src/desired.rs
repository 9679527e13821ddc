//! The desired state of every host: the rendered configuration plus its certificates, keys
//! and credential-embedding kubeconfigs from the local PKI. What `render` writes for review
//! and what `install` puts on the hosts are this one value.

use thiserror::Error;

use crate::inventory::Inventory;
use crate::pki::{self, KubeconfigUser, Store};
use crate::render::{self, RenderError, RenderOptions, Rendered, RenderedFile, Templates};

/// Why the desired state could not be built.
#[derive(Debug, Error)]
pub enum DesiredError {
    /// A template failed.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The PKI is missing or unreadable.
    #[error(transparent)]
    Pki(#[from] pki::PkiError),
    /// A PKI file is not PEM text.
    #[error("{path} in the PKI store is not PEM text")]
    NotText { path: String },
}

/// Rendered files with the PKI: kubeconfigs of admin, controller-manager, scheduler and
/// kube-proxy embed their client certificates; each host gets its certificates and keys at
/// kubeadm's paths. The store must hold a generated PKI (`pki::generate`).
pub fn desired_state(inv: &Inventory, templates: &Templates, store: &Store) -> Result<Rendered, DesiredError> {
    desired_state_with(inv, templates, store, RenderOptions::default())
}

/// [`desired_state`] with render options (e.g. etcd members joining a running cluster).
pub fn desired_state_with(inv: &Inventory, templates: &Templates, store: &Store, mut options: RenderOptions) -> Result<Rendered, DesiredError> {
    for user in KubeconfigUser::ALL {
        options.embedded.insert(user, pki::kubeconfig_credentials(store, user)?.embedded());
    }
    let mut rendered = render::render_with(inv, templates, &options)?;
    let mut pki_files = pki::host_files(inv, store)?;
    for host in &mut rendered.hosts {
        for file in pki_files.remove(&host.name).unwrap_or_default() {
            let contents = String::from_utf8(file.contents).map_err(|_| DesiredError::NotText { path: file.path.clone() })?;
            host.files.push(RenderedFile { path: file.path, mode: file.mode, contents });
        }
        host.files.sort_by(|a, b| a.path.cmp(&b.path));
    }
    Ok(rendered)
}
