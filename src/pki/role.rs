//! What each certificate of the cluster is for, and what it must carry: the wanted state,
//! derived from the inventory alone (subjects and file names follow kubeadm).

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyUsagePurpose, SanType,
};
use time::OffsetDateTime;

use super::PkiError;
use crate::inventory::{ApiEndpoint, HostSpec, Inventory, Role, San};
use crate::net::NodeName;

/// One certificate of the cluster. Per-node roles carry the node's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CertRole {
    KubernetesCa,
    EtcdCa,
    FrontProxyCa,
    Apiserver,
    ApiserverKubeletClient,
    ApiserverEtcdClient,
    FrontProxyClient,
    KubeletClient(NodeName),
    KubeletServing(NodeName),
    EtcdServer(NodeName),
    EtcdPeer(NodeName),
    EtcdHealthcheckClient,
    Admin,
    ControllerManager,
    Scheduler,
    KubeProxy,
}

/// The three CAs, in the order they are made.
pub const CAS: [CertRole; 3] = [CertRole::KubernetesCa, CertRole::EtcdCa, CertRole::FrontProxyCa];

impl CertRole {
    /// Every leaf the inventory needs, in a stable order: shared leaves, then per node.
    /// Every host gets kubelet certificates; etcd members get server and peer certificates.
    pub fn leaves(inv: &Inventory) -> Vec<CertRole> {
        let mut roles = vec![
            CertRole::Apiserver,
            CertRole::ApiserverKubeletClient,
            CertRole::ApiserverEtcdClient,
            CertRole::FrontProxyClient,
            CertRole::EtcdHealthcheckClient,
            CertRole::Admin,
            CertRole::ControllerManager,
            CertRole::Scheduler,
            CertRole::KubeProxy,
        ];
        for host in &inv.hosts {
            roles.push(CertRole::KubeletClient(host.name.clone()));
            roles.push(CertRole::KubeletServing(host.name.clone()));
            if host.has(Role::Etcd) {
                roles.push(CertRole::EtcdServer(host.name.clone()));
                roles.push(CertRole::EtcdPeer(host.name.clone()));
            }
        }
        roles
    }

    /// The node a per-node certificate belongs to.
    pub fn node(&self) -> Option<&NodeName> {
        use CertRole::*;
        match self {
            KubeletClient(n) | KubeletServing(n) | EtcdServer(n) | EtcdPeer(n) => Some(n),
            _ => None,
        }
    }

    /// Whether this is one of the three CAs.
    pub fn is_ca(&self) -> bool {
        CAS.contains(self)
    }

    /// The CA that signs this certificate (a CA signs itself).
    pub fn issuer(&self) -> CertRole {
        use CertRole::*;
        match self {
            EtcdCa | ApiserverEtcdClient | EtcdServer(_) | EtcdPeer(_) | EtcdHealthcheckClient => EtcdCa,
            FrontProxyCa | FrontProxyClient => FrontProxyCa,
            _ => KubernetesCa,
        }
    }

    /// The file name in the local store, without extension (`.crt`, `.key`, `.csr` follow).
    /// Names are kubeadm's; per-node files live under `nodes/<node name>/`, and the
    /// kubeconfig users' under `kubeconfig/`.
    pub fn stem(&self) -> String {
        use CertRole::*;
        match self {
            KubernetesCa => "ca".into(),
            EtcdCa => "etcd/ca".into(),
            FrontProxyCa => "front-proxy-ca".into(),
            Apiserver => "apiserver".into(),
            ApiserverKubeletClient => "apiserver-kubelet-client".into(),
            ApiserverEtcdClient => "apiserver-etcd-client".into(),
            FrontProxyClient => "front-proxy-client".into(),
            EtcdHealthcheckClient => "etcd/healthcheck-client".into(),
            KubeletClient(n) => format!("nodes/{n}/kubelet-client"),
            KubeletServing(n) => format!("nodes/{n}/kubelet"),
            EtcdServer(n) => format!("nodes/{n}/etcd/server"),
            EtcdPeer(n) => format!("nodes/{n}/etcd/peer"),
            Admin => "kubeconfig/admin".into(),
            ControllerManager => "kubeconfig/controller-manager".into(),
            Scheduler => "kubeconfig/scheduler".into(),
            KubeProxy => "kubeconfig/kube-proxy".into(),
        }
    }

    /// The certificate's file name in the store.
    pub fn cert_file(&self) -> String {
        format!("{}.crt", self.stem())
    }

    /// The private key's file name in the store.
    pub fn key_file(&self) -> String {
        format!("{}.key", self.stem())
    }

    /// The CSR's file name in the store (leaves only).
    pub fn csr_file(&self) -> String {
        format!("{}.csr", self.stem())
    }

    /// What the certificate must carry, from the inventory.
    pub fn spec(&self, inv: &Inventory) -> Result<CertSpec, PkiError> {
        use CertRole::*;
        use Usage::{ClientAuth, ServerAuth};
        let c = &inv.cluster;
        let spec = match self {
            KubernetesCa => CertSpec::ca("kubernetes"),
            EtcdCa => CertSpec::ca("etcd-ca"),
            FrontProxyCa => CertSpec::ca("front-proxy-ca"),
            Apiserver => {
                let mut names: BTreeSet<AltName> = ["kubernetes", "kubernetes.default", "kubernetes.default.svc"]
                    .iter()
                    .map(|n| AltName::Dns(n.to_string()))
                    .collect();
                names.insert(AltName::Dns(format!("kubernetes.default.svc.{}", c.dns_domain)));
                names.insert(AltName::Ip(Ipv6Addr::LOCALHOST.into()));
                names.insert(AltName::Ip(c.api_service_ip.into()));
                for host in inv.hosts.iter().filter(|h| h.has(Role::ControlPlane)) {
                    names.insert(AltName::Ip(host.address.into()));
                }
                for san in &c.extra_sans {
                    names.insert(match san {
                        San::Ip(a) => AltName::Ip((*a).into()),
                        San::Dns(d) => AltName::Dns(d.to_string()),
                    });
                }
                match &c.api_endpoint {
                    Some(ApiEndpoint::Address(a)) => names.insert(AltName::Ip((*a).into())),
                    Some(ApiEndpoint::Name(n)) => names.insert(AltName::Dns(n.to_string())),
                    None => false,
                };
                CertSpec::leaf(Subject::cn("kube-apiserver"), names, &[ServerAuth])
            }
            ApiserverKubeletClient => CertSpec::leaf(Subject::new("system:masters", "kube-apiserver-kubelet-client"), BTreeSet::new(), &[ClientAuth]),
            ApiserverEtcdClient => CertSpec::leaf(Subject::cn("kube-apiserver-etcd-client"), BTreeSet::new(), &[ClientAuth]),
            FrontProxyClient => CertSpec::leaf(Subject::cn("front-proxy-client"), BTreeSet::new(), &[ClientAuth]),
            EtcdHealthcheckClient => CertSpec::leaf(Subject::cn("kube-etcd-healthcheck-client"), BTreeSet::new(), &[ClientAuth]),
            KubeletClient(name) => {
                host(inv, name)?;
                CertSpec::leaf(Subject::new("system:nodes", &format!("system:node:{name}")), BTreeSet::new(), &[ClientAuth])
            }
            KubeletServing(name) => {
                let h = host(inv, name)?;
                let names = BTreeSet::from([AltName::Dns(name.to_string()), AltName::Ip(h.address.into())]);
                CertSpec::leaf(Subject::cn(name.as_str()), names, &[ServerAuth])
            }
            EtcdServer(name) | EtcdPeer(name) => {
                let h = host(inv, name)?;
                let names = BTreeSet::from([
                    AltName::Dns("localhost".into()),
                    AltName::Ip(h.address.into()),
                    AltName::Ip(Ipv6Addr::LOCALHOST.into()),
                ]);
                CertSpec::leaf(Subject::cn(name.as_str()), names, &[ServerAuth, ClientAuth])
            }
            Admin => CertSpec::leaf(Subject::new("system:masters", "kubernetes-admin"), BTreeSet::new(), &[ClientAuth]),
            ControllerManager => CertSpec::leaf(Subject::cn("system:kube-controller-manager"), BTreeSet::new(), &[ClientAuth]),
            Scheduler => CertSpec::leaf(Subject::cn("system:kube-scheduler"), BTreeSet::new(), &[ClientAuth]),
            KubeProxy => CertSpec::leaf(Subject::cn("system:kube-proxy"), BTreeSet::new(), &[ClientAuth]),
        };
        Ok(spec)
    }

    /// The rcgen parameters for this certificate: `spec` with a validity window.
    pub fn params(&self, inv: &Inventory, validity: Validity) -> Result<CertificateParams, PkiError> {
        Ok(self.spec(inv)?.params(validity))
    }
}

impl fmt::Display for CertRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.stem())
    }
}

fn host<'a>(inv: &'a Inventory, name: &NodeName) -> Result<&'a HostSpec, PkiError> {
    inv.hosts.iter().find(|h| &h.name == name).ok_or_else(|| PkiError::UnknownNode { name: name.to_string() })
}

/// A subject: an optional organization and a common name, printed as openssl does
/// (`O = system:nodes, CN = system:node:...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `(short name, value)` pairs in certificate order, e.g. `("O", "system:nodes")`.
    pub attributes: Vec<(String, String)>,
}

impl Subject {
    /// `O = organization, CN = common_name`.
    pub fn new(organization: &str, common_name: &str) -> Subject {
        Subject { attributes: vec![("O".into(), organization.into()), ("CN".into(), common_name.into())] }
    }

    /// `CN = common_name`.
    pub fn cn(common_name: &str) -> Subject {
        Subject { attributes: vec![("CN".into(), common_name.into())] }
    }

    fn distinguished_name(&self) -> DistinguishedName {
        let mut dn = DistinguishedName::new();
        for (kind, value) in &self.attributes {
            let kind = if kind == "O" { DnType::OrganizationName } else { DnType::CommonName };
            dn.push(kind, value.as_str());
        }
        dn
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.attributes.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        f.write_str(&parts.join(", "))
    }
}

/// A subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AltName {
    Dns(String),
    Ip(IpAddr),
    /// Any other kind of name found in a certificate (never wanted; shown as found).
    Other(String),
}

impl fmt::Display for AltName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AltName::Dns(name) => write!(f, "DNS:{name}"),
            AltName::Ip(address) => write!(f, "IP:{address}"),
            AltName::Other(text) => f.write_str(text),
        }
    }
}

/// An extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Usage {
    ServerAuth,
    ClientAuth,
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Usage::ServerAuth => "serverAuth",
            Usage::ClientAuth => "clientAuth",
        })
    }
}

/// How long a new certificate is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From five minutes ago (clock skew between hosts) to `days` from `now`.
    pub fn days_from(now: OffsetDateTime, days: u32) -> Validity {
        Validity { not_before: now - time::Duration::minutes(5), not_after: now + time::Duration::days(days.into()) }
    }
}

/// What one certificate must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSpec {
    pub subject: Subject,
    pub alt_names: BTreeSet<AltName>,
    /// Extended key usages (empty for CAs).
    pub usages: BTreeSet<Usage>,
    pub is_ca: bool,
}

impl CertSpec {
    fn ca(common_name: &str) -> CertSpec {
        CertSpec { subject: Subject::cn(common_name), alt_names: BTreeSet::new(), usages: BTreeSet::new(), is_ca: true }
    }

    fn leaf(subject: Subject, alt_names: BTreeSet<AltName>, usages: &[Usage]) -> CertSpec {
        CertSpec { subject, alt_names, usages: usages.iter().copied().collect(), is_ca: false }
    }

    /// A client certificate of `subject` (no SANs): a person's or a tool's.
    pub fn client(subject: Subject) -> CertSpec {
        CertSpec::leaf(subject, BTreeSet::new(), &[Usage::ClientAuth])
    }

    /// The rcgen parameters. CAs: `CA:TRUE`, keyCertSign, cRLSign, digitalSignature.
    /// Leaves: `CA:FALSE`, digitalSignature only (the keys are ECDSA, so keyEncipherment
    /// would be meaningless), the EKUs of the role, and an authority key identifier.
    /// The serial is left unset: `issue` draws a random one.
    pub fn params(&self, validity: Validity) -> CertificateParams {
        let mut params = CertificateParams::default();
        params.distinguished_name = self.subject.distinguished_name();
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.subject_alt_names = self.alt_names.iter().filter_map(san_type).collect();
        if self.is_ca {
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        } else {
            params.is_ca = IsCa::ExplicitNoCa;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.use_authority_key_identifier_extension = true;
            params.extended_key_usages = self
                .usages
                .iter()
                .map(|u| match u {
                    Usage::ServerAuth => ExtendedKeyUsagePurpose::ServerAuth,
                    Usage::ClientAuth => ExtendedKeyUsagePurpose::ClientAuth,
                })
                .collect();
        }
        params
    }
}

/// Inventory DNS names are validated RFC 1123 names, so the IA5 conversion cannot fail;
/// a name that did would be dropped here and reported as a SAN mismatch by `inspect`.
fn san_type(name: &AltName) -> Option<SanType> {
    match name {
        AltName::Ip(address) => Some(SanType::IpAddress(*address)),
        AltName::Dns(name) => name.as_str().try_into().ok().map(SanType::DnsName),
        AltName::Other(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_report() -> Inventory {
        crate::inventory::field_report()
    }

    #[test]
    fn apiserver_carries_loopback_service_ip_and_every_control_plane() {
        let inv = field_report();
        let spec = CertRole::Apiserver.spec(&inv).unwrap();
        for ip in ["::1", "2001:cafe:43::1", "2002:db8:0:1::101", "2002:db8:0:1::102", "2002:db8:0:1::103"] {
            assert!(spec.alt_names.contains(&AltName::Ip(ip.parse().unwrap())), "{ip}");
        }
        assert!(spec.alt_names.contains(&AltName::Dns("kubernetes.default.svc.cluster.local".into())));
        assert_eq!(spec.alt_names.len(), 9);
    }

    #[test]
    fn kubelet_client_subject_is_the_node_authorizer_identity() {
        let inv = field_report();
        let spec = CertRole::KubeletClient(inv.hosts[0].name.clone()).spec(&inv).unwrap();
        assert_eq!(spec.subject.to_string(), "O = system:nodes, CN = system:node:2002.0db8.0000.0001.0000.0000.0000.0101");
        assert_eq!(spec.usages, BTreeSet::from([Usage::ClientAuth]));
    }

    #[test]
    fn every_leaf_has_a_distinct_file_and_a_non_ca_spec() {
        let inv = field_report();
        let leaves = CertRole::leaves(&inv);
        assert_eq!(leaves.len(), 9 + 3 * 4);
        let stems: BTreeSet<String> = leaves.iter().map(CertRole::stem).collect();
        assert_eq!(stems.len(), leaves.len());
        for leaf in &leaves {
            assert!(!leaf.spec(&inv).unwrap().is_ca, "{leaf}");
            assert!(!leaf.is_ca());
        }
    }

    #[test]
    fn etcd_certificates_are_signed_by_the_etcd_ca() {
        let inv = field_report();
        let name = inv.hosts[1].name.clone();
        for role in [CertRole::EtcdServer(name.clone()), CertRole::EtcdPeer(name), CertRole::ApiserverEtcdClient, CertRole::EtcdHealthcheckClient] {
            assert_eq!(role.issuer(), CertRole::EtcdCa, "{role}");
        }
        assert_eq!(CertRole::FrontProxyClient.issuer(), CertRole::FrontProxyCa);
        assert_eq!(CertRole::Admin.issuer(), CertRole::KubernetesCa);
    }
}
