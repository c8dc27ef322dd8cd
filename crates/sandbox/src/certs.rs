//! Certificates registered on a tenant's app, for client-assertion sign-in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode, oid::db::rfc5912::RSA_ENCRYPTION};

/// A parsed certificate: the thumbprints a client assertion names it by (`x5t#S256`, the
/// current form, and the older SHA-1 `x5t`; ../shared/reference/m365-api.md §G 4), and its key.
pub(crate) struct RegisteredCert {
    pub x5t_s256: String,
    pub x5t: String,
    pub key: DecodingKey,
}

impl RegisteredCert {
    pub(crate) fn from_pem(pem: &str) -> Result<RegisteredCert, String> {
        let cert = Certificate::from_pem(pem.trim())
            .map_err(|err| format!("not a PEM certificate: {err}"))?;
        let der = cert
            .to_der()
            .map_err(|err| format!("cannot re-encode the certificate: {err}"))?;
        let spki = &cert.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid != RSA_ENCRYPTION {
            return Err(
                "the certificate's key is not RSA (Entra client assertions are signed with RS256 or PS256)".into(),
            );
        }
        // For RSA the SubjectPublicKeyInfo bit string is the PKCS#1 RSAPublicKey jsonwebtoken expects.
        let pkcs1 = spki
            .subject_public_key
            .as_bytes()
            .ok_or("the certificate's public key has unused bits")?;
        Ok(RegisteredCert {
            x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(&der)),
            x5t: URL_SAFE_NO_PAD.encode(Sha1::digest(&der)),
            key: DecodingKey::from_rsa_der(pkcs1),
        })
    }
}
