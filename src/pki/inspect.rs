//! Reading what exists: certificates and CSRs parsed with x509-parser into plain values, and
//! compared with the wanted `CertSpec` to say why a certificate must be reissued.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use rcgen::{KeyPair, PublicKeyData};
use time::OffsetDateTime;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{
    OID_X509_COMMON_NAME, OID_X509_COUNTRY_NAME, OID_X509_LOCALITY_NAME, OID_X509_ORGANIZATION_NAME,
    OID_X509_ORGANIZATIONAL_UNIT, OID_X509_STATE_OR_PROVINCE_NAME,
};
use x509_parser::prelude::{FromDer, X509Certificate, X509Name};

use super::role::{AltName, CertSpec, Subject, Usage};

/// What a certificate says, as plain values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject: Subject,
    pub issuer: Subject,
    pub alt_names: BTreeSet<AltName>,
    /// serverAuth / clientAuth among the extended key usages.
    pub usages: BTreeSet<Usage>,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Lower-case hex, colon-separated.
    pub serial: String,
    pub is_ca: bool,
    /// DER SubjectPublicKeyInfo.
    pub public_key: Vec<u8>,
    /// The whole certificate, DER.
    pub der: Vec<u8>,
}

impl CertInfo {
    /// Whole days from `now` to the end date (negative once expired).
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }

    /// Whether the certificate has expired at `now`.
    pub fn expired(&self, now: OffsetDateTime) -> bool {
        self.not_after <= now
    }

    /// Whether `ca`'s key signed this certificate and `ca` is named as its issuer.
    pub fn signed_by(&self, ca: &CertInfo) -> bool {
        if self.issuer != ca.subject {
            return false;
        }
        match (X509Certificate::from_der(&self.der), X509Certificate::from_der(&ca.der)) {
            (Ok((_, cert)), Ok((_, ca))) => cert.verify_signature(Some(ca.public_key())).is_ok(),
            _ => false,
        }
    }
}

/// What a CSR asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrInfo {
    pub subject: Subject,
    pub alt_names: BTreeSet<AltName>,
    pub usages: BTreeSet<Usage>,
    pub public_key: Vec<u8>,
}

/// Parses the first PEM block of a certificate file. The error is a short reason.
pub fn parse_cert(pem_bytes: &[u8]) -> Result<CertInfo, String> {
    let block = pem::parse(pem_bytes).map_err(|e| format!("bad PEM: {e}"))?;
    if block.tag() != "CERTIFICATE" {
        return Err(format!("a {} PEM block, not a CERTIFICATE", block.tag()));
    }
    let der = block.into_contents();
    let (_, cert) = X509Certificate::from_der(&der).map_err(|e| format!("bad X.509: {e}"))?;
    let mut alt_names = BTreeSet::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        alt_names.extend(san.value.general_names.iter().map(alt_name));
    }
    let mut usages = BTreeSet::new();
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        if eku.value.server_auth {
            usages.insert(Usage::ServerAuth);
        }
        if eku.value.client_auth {
            usages.insert(Usage::ClientAuth);
        }
    }
    let serial: Vec<String> = cert.raw_serial().iter().map(|b| format!("{b:02x}")).collect();
    Ok(CertInfo {
        subject: subject(cert.subject()),
        issuer: subject(cert.issuer()),
        alt_names,
        usages,
        not_before: cert.validity().not_before.to_datetime(),
        not_after: cert.validity().not_after.to_datetime(),
        serial: serial.join(":"),
        is_ca: cert.is_ca(),
        public_key: cert.public_key().raw.to_vec(),
        der: der.clone(),
    })
}

/// Parses a PEM CSR and checks its self-signature. The error is a short reason.
pub fn parse_csr(pem_bytes: &[u8]) -> Result<CsrInfo, String> {
    let block = pem::parse(pem_bytes).map_err(|e| format!("bad PEM: {e}"))?;
    let (_, csr) = X509CertificationRequest::from_der(block.contents()).map_err(|e| format!("bad PKCS#10: {e}"))?;
    csr.verify_signature().map_err(|e| format!("bad signature: {e}"))?;
    let info = &csr.certification_request_info;
    let mut alt_names = BTreeSet::new();
    let mut usages = BTreeSet::new();
    for extension in csr.requested_extensions().into_iter().flatten() {
        match extension {
            ParsedExtension::SubjectAlternativeName(san) => alt_names.extend(san.general_names.iter().map(alt_name)),
            ParsedExtension::ExtendedKeyUsage(eku) => {
                if eku.server_auth {
                    usages.insert(Usage::ServerAuth);
                }
                if eku.client_auth {
                    usages.insert(Usage::ClientAuth);
                }
            }
            _ => {}
        }
    }
    Ok(CsrInfo { subject: subject(&info.subject), alt_names, usages, public_key: info.subject_pki.raw.to_vec() })
}

/// Parses a PKCS#8 PEM private key. The error is a short reason.
pub fn parse_key(pem_bytes: &[u8]) -> Result<KeyPair, String> {
    let text = std::str::from_utf8(pem_bytes).map_err(|_| "not text".to_string())?;
    KeyPair::from_pem(text).map_err(|e| e.to_string())
}

/// The DER SubjectPublicKeyInfo of a key pair, comparable with `CertInfo::public_key`.
pub fn public_key(key: &KeyPair) -> Vec<u8> {
    key.subject_public_key_info()
}

fn subject(name: &X509Name<'_>) -> Subject {
    let attributes = name
        .iter_attributes()
        .map(|attribute| {
            let oid = attribute.attr_type();
            let short = [
                (&OID_X509_COMMON_NAME, "CN"),
                (&OID_X509_ORGANIZATION_NAME, "O"),
                (&OID_X509_ORGANIZATIONAL_UNIT, "OU"),
                (&OID_X509_COUNTRY_NAME, "C"),
                (&OID_X509_STATE_OR_PROVINCE_NAME, "ST"),
                (&OID_X509_LOCALITY_NAME, "L"),
            ]
            .iter()
            .find(|(known, _)| *known == oid)
            .map_or_else(|| oid.to_id_string(), |(_, short)| short.to_string());
            let value = attribute.as_str().map_or_else(|_| format!("{:?}", attribute.as_slice()), str::to_string);
            (short, value)
        })
        .collect();
    Subject { attributes }
}

fn alt_name(name: &GeneralName<'_>) -> AltName {
    match name {
        GeneralName::DNSName(dns) => AltName::Dns(dns.to_string()),
        GeneralName::IPAddress(bytes) => match <[u8; 16]>::try_from(*bytes) {
            Ok(v6) => AltName::Ip(IpAddr::from(v6)),
            Err(_) => match <[u8; 4]>::try_from(*bytes) {
                Ok(v4) => AltName::Ip(IpAddr::from(v4)),
                Err(_) => AltName::Other(format!("IP:{bytes:02x?}")),
            },
        },
        other => AltName::Other(other.to_string()),
    }
}

/// Why a certificate does not do for its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No certificate file.
    Missing,
    /// The certificate file does not parse.
    Unreadable(String),
    /// No private key beside the certificate.
    KeyMissing,
    /// The private key does not parse.
    KeyUnreadable(String),
    /// The private key is not the certificate's.
    KeyMismatch,
    /// Not signed by the CA in the store (e.g. the CA was replaced).
    OtherIssuer { issuer: Subject },
    /// Past its end date.
    Expired { on: String },
    /// The subject differs from what the inventory needs.
    Subject { found: Subject, wanted: Subject },
    /// The SANs differ from what the inventory needs.
    AltNames { added: Vec<AltName>, removed: Vec<AltName> },
    /// The extended key usages differ.
    Usages { found: BTreeSet<Usage>, wanted: BTreeSet<Usage> },
    /// A leaf marked as a CA.
    IsCa,
}

impl Reason {
    /// A short tag for summaries ("SANs changed").
    pub fn tag(&self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Unreadable(_) => "unreadable",
            Reason::KeyMissing => "key missing",
            Reason::KeyUnreadable(_) => "key unreadable",
            Reason::KeyMismatch => "key mismatch",
            Reason::OtherIssuer { .. } => "other issuer",
            Reason::Expired { .. } => "expired",
            Reason::Subject { .. } => "subject changed",
            Reason::AltNames { .. } => "SANs changed",
            Reason::Usages { .. } => "usages changed",
            Reason::IsCa => "leaf is a CA",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |names: &[AltName]| names.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ");
        let usages = |u: &BTreeSet<Usage>| u.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        match self {
            Reason::Missing => f.write_str("certificate missing"),
            Reason::Unreadable(why) => write!(f, "certificate unreadable ({why})"),
            Reason::KeyMissing => f.write_str("private key missing"),
            Reason::KeyUnreadable(why) => write!(f, "private key unreadable ({why})"),
            Reason::KeyMismatch => f.write_str("private key does not match the certificate"),
            Reason::OtherIssuer { issuer } => write!(f, "issued by `{issuer}`, not by the current CA"),
            Reason::Expired { on } => write!(f, "expired on {on}"),
            Reason::Subject { found, wanted } => write!(f, "subject `{found}`, wanted `{wanted}`"),
            Reason::AltNames { added, removed } => {
                let mut parts = Vec::new();
                if !added.is_empty() {
                    parts.push(format!("SANs to add: {}", list(added)));
                }
                if !removed.is_empty() {
                    parts.push(format!("SANs to remove: {}", list(removed)));
                }
                f.write_str(&parts.join("; "))
            }
            Reason::Usages { found, wanted } => write!(f, "extended key usages [{}], wanted [{}]", usages(found), usages(wanted)),
            Reason::IsCa => f.write_str("a leaf marked CA:TRUE"),
        }
    }
}

/// How strictly the extended key usages are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageMatch {
    /// Exactly the role's (certificates v6deploy signs).
    Exact,
    /// At least the role's (certificates an enterprise CA signed may carry more).
    AtLeast,
}

/// What in `spec` the subject and SANs of a certificate or CSR do not match.
pub fn compare_names(spec: &CertSpec, subject: &Subject, alt_names: &BTreeSet<AltName>) -> Vec<Reason> {
    let mut reasons = Vec::new();
    if subject != &spec.subject {
        reasons.push(Reason::Subject { found: subject.clone(), wanted: spec.subject.clone() });
    }
    if alt_names != &spec.alt_names {
        let added = spec.alt_names.difference(alt_names).cloned().collect();
        let removed = alt_names.difference(&spec.alt_names).cloned().collect();
        reasons.push(Reason::AltNames { added, removed });
    }
    reasons
}

/// Every reason the certificate `info` (with key `key`) does not do for `spec` under `ca`
/// (`None` when the CA is missing: the issuer is then not checked).
pub fn assess(spec: &CertSpec, info: &CertInfo, key: &Result<KeyPair, Reason>, ca: Option<&CertInfo>, usage_match: UsageMatch, now: OffsetDateTime) -> Vec<Reason> {
    let mut reasons = Vec::new();
    match key {
        Ok(key) if public_key(key) != info.public_key => reasons.push(Reason::KeyMismatch),
        Ok(_) => {}
        Err(reason) => reasons.push(reason.clone()),
    }
    if ca.is_some_and(|ca| !info.signed_by(ca)) {
        reasons.push(Reason::OtherIssuer { issuer: info.issuer.clone() });
    }
    if info.expired(now) {
        reasons.push(Reason::Expired { on: info.not_after.date().to_string() });
    }
    reasons.extend(compare_names(spec, &info.subject, &info.alt_names));
    let usages_ok = match usage_match {
        UsageMatch::Exact => info.usages == spec.usages,
        UsageMatch::AtLeast => info.usages.is_superset(&spec.usages),
    };
    if !usages_ok {
        reasons.push(Reason::Usages { found: info.usages.clone(), wanted: spec.usages.clone() });
    }
    if info.is_ca {
        reasons.push(Reason::IsCa);
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> CertSpec {
        CertSpec {
            subject: Subject::cn("kube-apiserver"),
            alt_names: BTreeSet::from([AltName::Ip("::1".parse().unwrap()), AltName::Ip("2001:db8::101".parse().unwrap())]),
            usages: BTreeSet::from([Usage::ServerAuth]),
            is_ca: false,
        }
    }

    #[test]
    fn names_compare_as_sets_and_say_what_to_add_and_remove() {
        let spec = spec();
        let same: BTreeSet<AltName> = spec.alt_names.iter().rev().cloned().collect();
        assert!(compare_names(&spec, &spec.subject, &same).is_empty());
        let found = BTreeSet::from([AltName::Ip("::1".parse().unwrap()), AltName::Ip("2001:db8::103".parse().unwrap())]);
        let reasons = compare_names(&spec, &Subject::new("system:nodes", "x"), &found);
        assert_eq!(reasons.len(), 2);
        assert_eq!(reasons[0].to_string(), "subject `O = system:nodes, CN = x`, wanted `CN = kube-apiserver`");
        assert_eq!(reasons[1].to_string(), "SANs to add: IP:2001:db8::101; SANs to remove: IP:2001:db8::103");
        assert_eq!(reasons[1].tag(), "SANs changed");
    }

    #[test]
    fn unreadable_input_gives_a_reason_not_a_panic() {
        assert!(parse_cert(b"garbage").unwrap_err().starts_with("bad PEM"));
        let key_block = pem::encode(&pem::Pem::new("PRIVATE KEY", vec![1, 2, 3]));
        assert!(parse_cert(key_block.as_bytes()).unwrap_err().contains("not a CERTIFICATE"));
        assert!(parse_csr(b"").is_err());
        assert!(parse_key(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
    }
}
