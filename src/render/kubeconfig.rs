//! Kubeconfigs: one template (`kubeconfig.yaml.j2`) for every component, with credentials
//! either as file paths on the host or embedded as base64 data.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use super::{RenderError, Templates};
use crate::pki::HostPki;

/// The kubeconfig template's relative name.
pub const TEMPLATE: &str = "kubeconfig.yaml.j2";

/// Where a kubeconfig's credentials come from; the template writes `certificate-authority`,
/// `client-certificate`, `client-key` for `Files` and the `*-data` keys for `Embedded`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum Credentials {
    /// Paths of PEM files on the host.
    Files { certificate_authority: String, client_certificate: String, client_key: String },
    /// Base64 of the PEM texts, written into the kubeconfig itself (build with [`Credentials::embedded`]).
    Embedded { certificate_authority_data: String, client_certificate_data: String, client_key_data: String },
}

impl Credentials {
    /// Client certificate and key files on the host, signed by the cluster CA (kubeadm's
    /// `ca.crt`).
    pub fn files(client_certificate: &str, client_key: &str) -> Credentials {
        Credentials::Files {
            certificate_authority: HostPki::KubernetesCa.cert().to_string(),
            client_certificate: client_certificate.to_string(),
            client_key: client_key.to_string(),
        }
    }

    /// PEM texts embedded as base64.
    pub fn embedded(ca_pem: &[u8], certificate_pem: &[u8], key_pem: &[u8]) -> Credentials {
        Credentials::Embedded {
            certificate_authority_data: STANDARD.encode(ca_pem),
            client_certificate_data: STANDARD.encode(certificate_pem),
            client_key_data: STANDARD.encode(key_pem),
        }
    }
}

/// One kubeconfig: which API server, as whom, with which credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kubeconfig {
    /// The cluster's name (`inv.cluster.name`).
    pub cluster_name: String,
    /// The API server's URL (`https://[address]:port` from `net::url`, or
    /// `https://name:6443` for a `cluster.api_endpoint` name).
    pub server: String,
    /// The user name, which is also the client certificate's CN (e.g. `system:kube-scheduler`).
    pub user: String,
    pub credentials: Credentials,
}

impl Kubeconfig {
    /// Renders this kubeconfig; `target` names the host in errors (`host <node name>`).
    pub fn render(&self, templates: &Templates, target: &str) -> Result<String, RenderError> {
        templates.render(TEMPLATE, target, self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(credentials: Credentials) -> String {
        let config = Kubeconfig {
            cluster_name: "field-report".into(),
            server: crate::net::url("https", "2002:db8:0:1::101".parse().unwrap(), 6443),
            user: "kubernetes-admin".into(),
            credentials,
        };
        config.render(&Templates::embedded().unwrap(), "host test").unwrap()
    }

    #[test]
    fn file_form_names_paths() {
        let text = kubeconfig(Credentials::files("/etc/kubernetes/pki/admin.crt", "/etc/kubernetes/pki/admin.key"));
        assert!(text.contains("server: https://[2002:db8:0:1::101]:6443\n"), "{text}");
        assert!(text.contains("certificate-authority: /etc/kubernetes/pki/ca.crt\n"), "{text}");
        assert!(text.contains("client-certificate: /etc/kubernetes/pki/admin.crt\n"), "{text}");
        assert!(text.contains("client-key: /etc/kubernetes/pki/admin.key\n"), "{text}");
        assert!(!text.contains("-data:"), "{text}");
    }

    #[test]
    fn embedded_form_writes_base64_data() {
        let text = kubeconfig(Credentials::embedded(b"ca", b"cert", b"key"));
        assert!(text.contains("certificate-authority-data: Y2E=\n"), "{text}");
        assert!(text.contains("client-certificate-data: Y2VydA==\n"), "{text}");
        assert!(text.contains("client-key-data: a2V5\n"), "{text}");
        assert!(!text.contains("certificate-authority:"), "{text}");
    }
}
