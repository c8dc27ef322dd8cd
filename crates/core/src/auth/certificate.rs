//! Reading the certificate a tenant's app authenticates with: a PEM file, or a
//! password-protected PKCS#12 (.pfx/.p12) file as Windows exports it, holds the
//! certificate and its RSA private key. The certificate's SHA-256 thumbprint goes into
//! the client assertion's `x5t#S256` header; the key signs the assertion.
#![warn(missing_docs)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use secrecy::SecretSlice;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};

/// What Rulewatch keeps of a certificate: the public thumbprint (in the database) and
/// the private key (in the keychain).
pub struct CertificateCredential {
    /// base64url SHA-256 of the certificate's DER, as Entra expects in `x5t#S256`.
    pub thumbprint_s256: String,
    /// PKCS#1 DER of the RSA private key.
    pub private_key_pkcs1: SecretSlice<u8>,
}

/// Why a certificate file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The file, its password or its key is unusable: what is wrong, and what to do.
    #[error("{0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> CertificateError {
    CertificateError::Invalid(msg.into())
}

/// Parses a PEM bundle holding one `CERTIFICATE` and one RSA private key
/// (`PRIVATE KEY` or `RSA PRIVATE KEY`), and checks that they belong together. `source`
/// names the file in errors; an encrypted key is refused with how to export it plain.
pub fn parse_pem_bundle(
    text: &str,
    source: &str,
) -> Result<CertificateCredential, CertificateError> {
    let blocks = pem::parse_many(text).map_err(|e| {
        invalid(format!(
            "{source} is not a PEM file ({e}); give the certificate and its private key in PEM"
        ))
    })?;
    let mut cert_der = None;
    let mut key = None;
    for block in &blocks {
        match block.tag() {
            "CERTIFICATE" if cert_der.is_none() => cert_der = Some(block.contents().to_vec()),
            "PRIVATE KEY" => {
                key = Some(RsaPrivateKey::from_pkcs8_der(block.contents()).map_err(|_| {
                    invalid(format!("the private key in {source} is not an RSA key; Entra app certificates need RSA"))
                })?)
            }
            "RSA PRIVATE KEY" => {
                key = Some(RsaPrivateKey::from_pkcs1_der(block.contents()).map_err(|_| {
                    invalid(format!("the RSA private key in {source} cannot be read"))
                })?)
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(invalid(format!(
                    "the private key in {source} is encrypted; export it without a passphrase \
                     (e.g. `openssl pkcs8 -in key.pem -out plain.pem`), add the tenant, then delete the file"
                )));
            }
            _ => {}
        }
    }
    let cert_der =
        cert_der.ok_or_else(|| invalid(format!("{source} holds no CERTIFICATE block")))?;
    let key =
        key.ok_or_else(|| invalid(format!("{source} holds no private key (PRIVATE KEY block)")))?;
    credential(&cert_der, &key, source)
}

/// Reads a PKCS#12 (.pfx/.p12) file opened with `password`: its private key and the
/// certificate in it that belongs to that key. `source` names the file in errors; a wrong
/// password and an unsupported cipher are told apart.
pub fn parse_pkcs12(
    data: &[u8],
    password: &str,
    source: &str,
) -> Result<CertificateCredential, CertificateError> {
    use p12_keystore::error::Error as P12;
    let store = p12_keystore::KeyStore::from_pkcs12(data, password).map_err(|e| match e {
        // A wrong password fails the MAC, or, without one, the decryption's padding.
        P12::MacError(_) | P12::UnpadError | P12::Pkcs5Error(_) => invalid(format!(
            "the password does not open {source}; give the password the certificate was exported with on \
             standard input"
        )),
        P12::UnsupportedEncryptionScheme | P12::UnsupportedMacAlgorithm => invalid(format!(
            "{source} is protected with a cipher Rulewatch cannot read; export it again with AES-256 (Windows: \
             Export-PfxCertificate -CryptoAlgorithmOption AES256_SHA256) or as PEM"
        )),
        other => invalid(format!(
            "{source} is not a PKCS#12 (.pfx/.p12) file ({other}); export the certificate with its private key"
        )),
    })?;
    let (_, chain) = store.private_key_chain().ok_or_else(|| {
        invalid(format!(
            "{source} holds no private key; export the certificate with its private key"
        ))
    })?;
    let key = RsaPrivateKey::from_pkcs8_der(chain.key()).map_err(|_| {
        invalid(format!(
            "the private key in {source} is not an RSA key; Entra app certificates need RSA"
        ))
    })?;
    let mut last = invalid(format!("{source} holds no certificate for its private key"));
    for cert in chain.chain() {
        match credential(cert.as_der(), &key, source) {
            Ok(c) => return Ok(c),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The credential of `cert_der` and `key`, once they are shown to belong together.
fn credential(
    cert_der: &[u8],
    key: &RsaPrivateKey,
    source: &str,
) -> Result<CertificateCredential, CertificateError> {
    let cert = Certificate::from_der(cert_der)
        .map_err(|e| invalid(format!("the certificate in {source} cannot be read ({e})")))?;
    let spki_der = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| invalid(format!("the certificate in {source} cannot be read ({e})")))?;
    let cert_key = RsaPublicKey::from_public_key_der(&spki_der).map_err(|_| {
        invalid(format!(
            "the certificate in {source} does not hold an RSA public key"
        ))
    })?;
    if cert_key.n() != key.n() || cert_key.e() != key.e() {
        return Err(invalid(format!(
            "the private key in {source} does not belong to its certificate"
        )));
    }
    let pkcs1 = key
        .to_pkcs1_der()
        .map_err(|e| invalid(format!("cannot encode the private key ({e})")))?;
    Ok(CertificateCredential {
        thumbprint_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(cert_der)),
        private_key_pkcs1: SecretSlice::from(pkcs1.as_bytes().to_vec()),
    })
}
