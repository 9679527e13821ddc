//! The certificates a host holds (`certs check --remote`): one round trip prints every
//! certificate file under the PKI directories, certificate blocks only (never a key), each
//! after a `==> PATH` line.

use std::sync::LazyLock;

use crate::pki::{CertInfo, KUBELET_PKI, KUBERNETES_PKI, parse_cert};

/// Prints `==> PATH` and the certificate blocks of every `*.crt` / `*.pem` file under the PKI
/// directories.
pub static CERTS_SCRIPT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "for f in {KUBERNETES_PKI}/*.crt {KUBERNETES_PKI}/etcd/*.crt {KUBELET_PKI}/*.crt {KUBELET_PKI}/*.pem; do \
         [ -f \"$f\" ] || continue; echo \"==> $f\"; sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' \"$f\"; done"
    )
});

/// One certificate found on a host (a bundle file gives one per certificate in it).
#[derive(Debug, Clone)]
pub struct HostCert {
    pub path: String,
    /// The certificate, or why it does not parse.
    pub cert: Result<CertInfo, String>,
}

/// Parses the output of [`CERTS_SCRIPT`].
pub fn parse_host_certs(output: &str) -> Vec<HostCert> {
    let mut found = Vec::new();
    let mut sections = output.split("==> ").filter(|s| !s.trim().is_empty());
    for section in &mut sections {
        let (path, body) = section.split_once('\n').unwrap_or((section, ""));
        let path = path.trim().to_string();
        match pem::parse_many(body.as_bytes()) {
            Ok(blocks) if blocks.is_empty() => found.push(HostCert { path, cert: Err("no certificate in the file".into()) }),
            Ok(blocks) => {
                for block in blocks {
                    found.push(HostCert { path: path.clone(), cert: parse_cert(pem::encode(&block).as_bytes()) });
                }
            }
            Err(e) => found.push(HostCert { path, cert: Err(format!("bad PEM: {e}")) }),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_map_to_certificates_and_bundles_to_several() {
        let dir = tempfile::tempdir().unwrap();
        let inv = crate::inventory::field_report();
        let store = crate::pki::Store::at(dir.path().join("demo"));
        crate::pki::generate(&inv, &store).unwrap();
        let ca = String::from_utf8(store.require("etcd/ca.crt").unwrap()).unwrap();
        let server = String::from_utf8(store.require(&format!("nodes/{}/etcd/server.crt", inv.hosts[0].name)).unwrap()).unwrap();
        let output = format!("==> /etc/kubernetes/pki/etcd/ca.crt\n{ca}{ca}==> /etc/kubernetes/pki/etcd/server.crt\n{server}==> /var/lib/kubelet/pki/empty.pem\n");
        let certs = parse_host_certs(&output);
        assert_eq!(certs.len(), 4);
        assert_eq!(certs[0].path, "/etc/kubernetes/pki/etcd/ca.crt");
        assert_eq!(certs[1].path, "/etc/kubernetes/pki/etcd/ca.crt");
        assert_eq!(certs[2].cert.as_ref().unwrap().subject.to_string(), format!("CN = {}", inv.hosts[0].name));
        assert!(certs[3].cert.is_err());
    }
}
