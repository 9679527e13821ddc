//! Making keys, CSRs and certificates with rcgen. A leaf is always signed from its stored
//! CSR (the record of what was asked), with the role's usages, a random serial and an
//! authority key identifier; CAs are self-signed.

use std::path::Path;

use rcgen::{CertificateSigningRequestParams, Issuer, KeyPair, SerialNumber};
use ring::rand::{SecureRandom, SystemRandom};

use super::PkiError;
use super::role::{CertSpec, Validity};

/// A new ECDSA P-256 key pair (rcgen's default; kubeadm supports ECDSA keys).
pub fn new_key(what: &str) -> Result<KeyPair, PkiError> {
    KeyPair::generate().map_err(|source| PkiError::Crypto { what: format!("a private key for {what}"), source })
}

/// A random positive 128-bit serial number (RFC 5280 allows up to 20 octets).
pub fn random_serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Crypto { what: "a random serial number".into(), source: rcgen::Error::RingUnspecified })?;
    // Positive, and always 16 octets long.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// A self-signed CA certificate, PEM.
pub fn self_signed_ca(spec: &CertSpec, key: &KeyPair, validity: Validity, what: &str) -> Result<String, PkiError> {
    let mut params = spec.params(validity);
    params.serial_number = Some(random_serial()?);
    let cert = params.self_signed(key).map_err(|source| PkiError::Crypto { what: what.to_string(), source })?;
    Ok(cert.pem())
}

/// A PKCS#10 request for `spec`, signed by `key`, PEM.
pub fn request(spec: &CertSpec, key: &KeyPair, what: &str) -> Result<String, PkiError> {
    // Validity is not part of a CSR; any window does.
    let validity = Validity::days_from(time::OffsetDateTime::UNIX_EPOCH, 1);
    let mut params = spec.params(validity);
    // A CSR cannot carry an authority key identifier: the issuer adds it.
    params.use_authority_key_identifier_extension = false;
    let csr = params.serialize_request(key).map_err(|source| PkiError::Crypto { what: what.to_string(), source })?;
    csr.pem().map_err(|source| PkiError::Crypto { what: what.to_string(), source })
}

/// The CA that signs: its certificate (DER) and key.
pub struct Signer<'a> {
    pub cert_der: &'a [u8],
    pub key: &'a KeyPair,
}

/// Signs the CSR at `csr_path` (text `csr_pem`) as `spec` says. The CSR's signature is
/// checked; its public key is certified; subject, SANs and usages come from `spec`, which the
/// caller has compared with the CSR (`inspect::compare_names`).
pub fn sign(csr_pem: &str, csr_path: &Path, spec: &CertSpec, signer: &Signer<'_>, validity: Validity) -> Result<String, PkiError> {
    let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).map_err(|_| PkiError::CsrInvalid { path: csr_path.to_path_buf() })?;
    csr.params = spec.params(validity);
    csr.params.serial_number = Some(random_serial()?);
    let what = format!("a certificate from {}", csr_path.display());
    let issuer = Issuer::from_ca_cert_der(&signer.cert_der.into(), signer.key)
        .map_err(|source| PkiError::Crypto { what: what.clone(), source })?;
    let cert = csr.signed_by(&issuer).map_err(|source| PkiError::Crypto { what, source })?;
    Ok(cert.pem())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::inspect::{parse_cert, parse_csr, public_key};
    use crate::pki::role::{AltName, Subject, Usage};
    use std::collections::BTreeSet;

    fn leaf_spec() -> CertSpec {
        CertSpec {
            subject: Subject::new("system:nodes", "system:node:n1"),
            alt_names: BTreeSet::from([AltName::Ip("2001:db8::1".parse().unwrap())]),
            usages: BTreeSet::from([Usage::ClientAuth]),
            is_ca: false,
        }
    }

    #[test]
    fn signs_a_csr_with_random_serials_and_the_csr_key() {
        let now = time::OffsetDateTime::now_utc();
        let ca_spec = CertSpec { subject: Subject::cn("test-ca"), alt_names: BTreeSet::new(), usages: BTreeSet::new(), is_ca: true };
        let ca_key = new_key("ca").unwrap();
        let ca_pem = self_signed_ca(&ca_spec, &ca_key, Validity::days_from(now, 10), "ca").unwrap();
        let ca = parse_cert(ca_pem.as_bytes()).unwrap();
        assert!(ca.is_ca);

        let key = new_key("leaf").unwrap();
        let csr_pem = request(&leaf_spec(), &key, "csr").unwrap();
        let csr = parse_csr(csr_pem.as_bytes()).unwrap();
        assert_eq!(csr.subject, leaf_spec().subject);
        assert_eq!(csr.public_key, public_key(&key));

        let signer = Signer { cert_der: &ca.der, key: &ca_key };
        let validity = Validity::days_from(now, 1);
        let first = parse_cert(sign(&csr_pem, Path::new("x.csr"), &leaf_spec(), &signer, validity).unwrap().as_bytes()).unwrap();
        let second = parse_cert(sign(&csr_pem, Path::new("x.csr"), &leaf_spec(), &signer, validity).unwrap().as_bytes()).unwrap();
        assert_ne!(first.serial, second.serial);
        assert_eq!(first.public_key, public_key(&key));
        assert!(first.signed_by(&ca));
        assert!(!first.is_ca);
        assert_eq!(first.usages, BTreeSet::from([Usage::ClientAuth]));
        assert_eq!(first.issuer, Subject::cn("test-ca"));
    }

    #[test]
    fn refuses_a_tampered_csr() {
        let key = new_key("leaf").unwrap();
        let csr_pem = request(&leaf_spec(), &key, "csr").unwrap();
        let mut block = pem::parse(&csr_pem).unwrap().into_contents();
        let middle = block.len() / 2;
        block[middle] ^= 0x01;
        let tampered = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", block));
        assert!(parse_csr(tampered.as_bytes()).is_err());
        let ca_key = new_key("ca").unwrap();
        let signer = Signer { cert_der: &[], key: &ca_key };
        let error = sign(&tampered, Path::new("certs/demo/x.csr"), &leaf_spec(), &signer, Validity::days_from(time::OffsetDateTime::now_utc(), 1));
        assert!(matches!(error, Err(PkiError::CsrInvalid { .. })), "{error:?}");
    }
}
