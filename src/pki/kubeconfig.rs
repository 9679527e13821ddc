//! Credentials for the kubeconfigs of admin, kube-controller-manager, kube-scheduler and
//! kube-proxy: base64 data to embed (`certificate-authority-data`, `client-certificate-data`,
//! `client-key-data`), and the server each one talks to.
//!
//! `admin_conf` writes `certs/<cluster>/admin.conf` with a tiny built-in format; when the
//! render module's `templates/kubeconfig.yaml.j2` lands, it should render this instead.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::PkiError;
use super::role::CertRole;
use super::rotate::trust_bundle;
use super::store::Store;
use crate::components;
use std::net::Ipv6Addr;

use crate::inventory::Inventory;
use crate::net::url;
use crate::render::{Credentials, Kubeconfig, Templates};

/// The API server port.
pub const APISERVER_PORT: u16 = 6443;

/// A kubeconfig user whose client certificate v6deploy issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KubeconfigUser {
    Admin,
    ControllerManager,
    Scheduler,
    KubeProxy,
}

impl KubeconfigUser {
    /// Every user, in a stable order.
    pub const ALL: [KubeconfigUser; 4] = [KubeconfigUser::Admin, KubeconfigUser::ControllerManager, KubeconfigUser::Scheduler, KubeconfigUser::KubeProxy];

    /// The certificate role holding this user's client certificate.
    pub fn role(self) -> CertRole {
        match self {
            KubeconfigUser::Admin => CertRole::Admin,
            KubeconfigUser::ControllerManager => CertRole::ControllerManager,
            KubeconfigUser::Scheduler => CertRole::Scheduler,
            KubeconfigUser::KubeProxy => CertRole::KubeProxy,
        }
    }

    /// The user name in the kubeconfig (the certificate's CN).
    pub fn name(self) -> &'static str {
        match self {
            KubeconfigUser::Admin => "kubernetes-admin",
            KubeconfigUser::ControllerManager => "system:kube-controller-manager",
            KubeconfigUser::Scheduler => "system:kube-scheduler",
            KubeconfigUser::KubeProxy => "system:kube-proxy",
        }
    }

    /// kubeadm's file name under /etc/kubernetes (kube-proxy's is v6deploy's own).
    pub fn file_name(self) -> &'static str {
        match self {
            KubeconfigUser::Admin => "admin.conf",
            KubeconfigUser::ControllerManager => "controller-manager.conf",
            KubeconfigUser::Scheduler => "scheduler.conf",
            KubeconfigUser::KubeProxy => "kube-proxy.conf",
        }
    }

    /// The server URL for this user's kubeconfig on the hosts, as the component catalog
    /// declares it: admin uses the first control plane; the controller-manager and the
    /// scheduler the local apiserver `https://[::1]:6443`; kube-proxy the host's API proxy
    /// `https://[::1]:7443`. `None` when the inventory has no control plane (validation
    /// refuses that).
    pub fn server(self, inv: &Inventory) -> Option<String> {
        let first = inv.first_control_plane()?.address;
        let server = components::kubeconfig_server(self).unwrap_or(components::Server::FirstControlPlane);
        Some(server.url(first))
    }
}

/// The base64 (standard, padded) data a kubeconfig embeds for one user.
/// `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq)]
pub struct KubeconfigCredentials {
    /// The user name (the certificate's CN), e.g. `kubernetes-admin`.
    pub user: String,
    /// The kubernetes CA certificate (PEM, base64).
    pub certificate_authority_data: String,
    /// The client certificate (PEM, base64).
    pub client_certificate_data: String,
    /// The client key (PEM, base64). Secret: never print or log it.
    pub client_key_data: String,
}

impl std::fmt::Debug for KubeconfigCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeconfigCredentials")
            .field("user", &self.user)
            .field("certificate_authority_data", &format_args!("{} bytes", self.certificate_authority_data.len()))
            .field("client_certificate_data", &format_args!("{} bytes", self.client_certificate_data.len()))
            .field("client_key_data", &format_args!("<redacted>"))
            .finish()
    }
}

/// Reads one user's credentials from the store; a missing file says to run `certs generate`.
pub fn kubeconfig_credentials(store: &Store, user: KubeconfigUser) -> Result<KubeconfigCredentials, PkiError> {
    let role = user.role();
    Ok(KubeconfigCredentials {
        user: user.name().to_string(),
        certificate_authority_data: STANDARD.encode(trust_bundle(store, &CertRole::KubernetesCa)?),
        client_certificate_data: STANDARD.encode(store.require(&role.cert_file())?),
        client_key_data: STANDARD.encode(store.require(&role.key_file())?),
    })
}

/// The API server of the kubeconfigs used off the hosts (the store's `admin.conf`, those of
/// `kubeconfig`): `cluster.api_endpoint` when the inventory has one, else the first control
/// plane (`[::1]` for an inventory without one, which validation refuses).
pub fn outside_server(inv: &Inventory) -> String {
    match &inv.cluster.api_endpoint {
        Some(endpoint) => endpoint.url(APISERVER_PORT),
        None => url("https", inv.first_control_plane().map_or(Ipv6Addr::LOCALHOST, |h| h.address), APISERVER_PORT),
    }
}

/// The text of the store's `admin.conf` for [`outside_server`], rendered from the same
/// kubeconfig template as the hosts' kubeconfigs (deterministic for given files).
pub fn admin_conf(inv: &Inventory, store: &Store) -> Result<Vec<u8>, PkiError> {
    let credentials = kubeconfig_credentials(store, KubeconfigUser::Admin)?;
    let kubeconfig = Kubeconfig { cluster_name: inv.cluster.name.to_string(), server: outside_server(inv), user: credentials.user.clone(), credentials: credentials.embedded() };
    let templates = Templates::embedded().map_err(|e| PkiError::Kubeconfig { reason: format!("{e:#}") })?;
    let text = kubeconfig.render(&templates, "admin.conf").map_err(|e| PkiError::Kubeconfig { reason: format!("{:#}", anyhow::Error::from(e)) })?;
    Ok(text.into_bytes())
}

impl KubeconfigCredentials {
    /// The render module's embedded-credentials form.
    pub fn embedded(&self) -> Credentials {
        Credentials::Embedded {
            certificate_authority_data: self.certificate_authority_data.clone(),
            client_certificate_data: self.client_certificate_data.clone(),
            client_key_data: self.client_key_data.clone(),
        }
    }
}
