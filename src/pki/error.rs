//! PKI errors: each names the file and says what to do about it.

use std::io;
use std::path::PathBuf;

use thiserror::Error;

/// Why the PKI could not be read, made or imported.
#[derive(Debug, Error)]
pub enum PkiError {
    /// A file name that would leave the store (never written).
    #[error("refusing to write {relative:?}: it is not a file inside the store {}", store.display())]
    OutsideStore { store: PathBuf, relative: String },
    /// A kubeconfig could not be rendered from its template.
    #[error("cannot render admin.conf: {reason}")]
    Kubeconfig { reason: String },
    /// A file or directory could not be read.
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file or directory could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The store's lock file could not be opened or locked.
    #[error("cannot lock {}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file that should exist does not.
    #[error("{} is missing: run `v6deploy -i FILE certs generate` first", path.display())]
    Missing { path: PathBuf },
    /// A CA certificate that cannot be parsed.
    #[error("{} is not a readable PEM certificate ({reason}): restore it from a backup, or move {} away to start a new PKI (every leaf will be reissued)", path.display(), dir.display())]
    CaUnreadable { path: PathBuf, dir: PathBuf, reason: String },
    /// A CA certificate without the CA basic constraint.
    #[error("{} is not a CA certificate (basic constraints CA:TRUE missing): put the CA certificate there, or move {} away to start a new PKI", path.display(), dir.display())]
    NotCa { path: PathBuf, dir: PathBuf },
    /// A CA certificate past its end date.
    #[error("{} expired on {not_after}: a CA cannot be renewed in place; move {} away to start a new PKI (every leaf will be reissued) and redeploy every host", path.display(), dir.display())]
    CaExpired { path: PathBuf, dir: PathBuf, not_after: String },
    /// A private key that cannot be parsed (a CA key or the service-account key).
    #[error("{} is not a readable PKCS#8 PEM private key ({reason}): restore it from a backup", path.display())]
    KeyUnreadable { path: PathBuf, reason: String },
    /// A CA key that did not sign the CA certificate beside it.
    #[error("{} does not match {}: restore the CA key that signed this CA, or move {} away to start a new PKI (every leaf will be reissued)", key.display(), cert.display(), dir.display())]
    ForeignCaKey { key: PathBuf, cert: PathBuf, dir: PathBuf },
    /// A CA key without its certificate.
    #[error("{} exists but {} does not: restore the CA certificate, or move the key away to start a new CA (every leaf it signed will be reissued)", key.display(), cert.display())]
    CaKeyWithoutCert { key: PathBuf, cert: PathBuf },
    /// A certificate or request signing failed inside rcgen.
    #[error("cannot create {what}")]
    Crypto {
        what: String,
        #[source]
        source: rcgen::Error,
    },
    /// A stored CSR that is not a valid PKCS#10 request.
    #[error("{} is not a valid PKCS#10 request (bad PEM, bad signature or an unsupported extension): delete it and run `certs generate` or `certs csr` again", path.display())]
    CsrInvalid { path: PathBuf },
    /// The inventory names a node the role does not know (a bug: roles come from the inventory).
    #[error("node {name} is not in the inventory")]
    UnknownNode { name: String },
    /// `certs import` found nothing it knows in the directory.
    #[error("{} holds no certificate for this cluster: expected files named like the exported CSRs with .crt (e.g. apiserver.crt, nodes/<node>/kubelet.crt)", dir.display())]
    NothingToImport { dir: PathBuf },
    /// A certificate to import that cannot be parsed.
    #[error("{} is not a readable PEM certificate ({reason}): ask the CA for the PEM (Base64) form", path.display())]
    ImportUnreadable { path: PathBuf, reason: String },
    /// A certificate to import whose key is not the one in our CSR.
    #[error("{} was not issued for {}: its public key differs from the request's; send that CSR to the CA again", cert.display(), csr.display())]
    ImportKeyMismatch { cert: PathBuf, csr: PathBuf },
    /// A certificate to import with no CSR of ours (nothing to compare it with).
    #[error("{} has no request {} to compare with: run `certs csr -o DIR` first and have the CA sign those CSRs", cert.display(), csr.display())]
    ImportWithoutCsr { cert: PathBuf, csr: PathBuf },
    /// A certificate to import that its CA did not sign.
    #[error("{} is not signed by {}: put the issuing CA's certificate there (or have the same CA sign the CSR)", cert.display(), ca.display())]
    ImportWrongIssuer { cert: PathBuf, ca: PathBuf },
    /// A certificate to import that is already expired.
    #[error("{} expired on {not_after}: have the CA sign the CSR again", cert.display())]
    ImportExpired { cert: PathBuf, not_after: String },
    /// A certificate to import that does not carry what the inventory needs.
    #[error("{} does not match what the inventory needs ({reasons}): have the CA sign the CSR unchanged", cert.display())]
    ImportMismatch { cert: PathBuf, reasons: String },
    /// A CA certificate to import over a CA whose key v6deploy holds.
    #[error("{} differs from {}, whose key {} is here: refusing to replace a CA v6deploy signs with; move {} away first if the enterprise CA replaces it", new.display(), cert.display(), key.display(), key.display())]
    ImportOverOwnCa { new: PathBuf, cert: PathBuf, key: PathBuf },
    /// A user certificate asked for with no kubernetes CA key here (an enterprise CA).
    #[error("{} has no key in the store (an enterprise CA): have that CA sign a client certificate for the user (CN = user, O = group) and write the kubeconfig by hand", cert.display())]
    UserWithoutCaKey { cert: PathBuf },
    /// A leaf to reissue whose CA key is not here (an enterprise CA).
    #[error("{} has no key in the store (an enterprise CA): rotate with `certs csr` / `certs import` instead", cert.display())]
    ExternalCa { cert: PathBuf },
    /// The CA rotation record cannot be read or written.
    #[error("{} is not a CA rotation record ({reason}): fix or remove it", path.display())]
    RotationRecord { path: PathBuf, reason: String },
    /// A CA rotation is under way: the store is between two CAs.
    #[error("a CA rotation is in progress (phase {phase}, started {started}): finish it with `v6deploy -i FILE certs rotate --ca` first")]
    CaRotationInProgress { phase: String, started: String },
}
