//! Certificates and keys: the auth certificate, the STS signing key, key credentials.
//!
//! Only RSA keys of at least 2048 bits are accepted, and only RS256 is ever used: the algorithm
//! comes from here, never from a token.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, KeyPair as _, ParsedPublicKey, RsaKeyPair, UnparsedPublicKey};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::b64;

/// Smallest RSA modulus we accept, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Why a key or certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the value is not a DER X.509 certificate: {0}")]
    NotX509(String),
    #[error("the certificate's public key is not RSA ({0}); only RSA-2048 or larger is accepted")]
    NotRsa(String),
    #[error("the certificate's RSA key has {bits} bits; at least {MIN_RSA_BITS} are required")]
    RsaTooSmall { bits: usize },
    #[error("the private key is not a valid PKCS#8 RSA key: {0}")]
    BadPrivateKey(String),
    #[error("the private key does not match the certificate")]
    KeyCertMismatch,
    #[error("could not generate a key or certificate: {0}")]
    Generate(String),
    #[error("signing failed")]
    Sign,
}

/// A parsed X.509 certificate with what the protocol needs from it.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    /// base64url(SHA-1(DER)): the JOSE `x5t`.
    pub x5t: String,
    /// Upper-case hex SHA-1 of the DER: Exchange's and Windows' "thumbprint".
    pub thumbprint: String,
    /// base64url(SHA-256(DER)): `x5t#S256`.
    pub x5t_s256: String,
    pub subject: String,
    pub issuer: String,
    pub serial_hex: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    pub rsa_bits: usize,
    /// PKCS#1 RSAPublicKey DER, as aws-lc-rs verifies with.
    rsa_public_key: Vec<u8>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("thumbprint", &self.thumbprint)
            .field("subject", &self.subject)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("rsa_bits", &self.rsa_bits)
            .finish()
    }
}

impl Certificate {
    /// Parses a DER certificate, refusing anything but RSA ≥ 2048 bits.
    pub fn from_der(der: &[u8]) -> Result<Self, KeyError> {
        use x509_parser::prelude::*;
        let (rest, cert) =
            X509Certificate::from_der(der).map_err(|e| KeyError::NotX509(e.to_string()))?;
        if !rest.is_empty() {
            return Err(KeyError::NotX509(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        let spki = cert.public_key();
        let (bits, pkcs1) = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
                let modulus = rsa.modulus.iter().skip_while(|b| **b == 0).count();
                (modulus * 8, spki.subject_public_key.data.to_vec())
            }
            Ok(other) => {
                return Err(KeyError::NotRsa(
                    format!("{other:?}").chars().take(40).collect(),
                ));
            }
            Err(e) => return Err(KeyError::NotRsa(e.to_string())),
        };
        if bits < MIN_RSA_BITS {
            return Err(KeyError::RsaTooSmall { bits });
        }
        let validity = cert.validity();
        let sha1 = Sha1::digest(der);
        Ok(Certificate {
            der: der.to_vec(),
            x5t: b64::url_encode(sha1),
            thumbprint: hex::encode_upper(sha1),
            x5t_s256: b64::url_encode(Sha256::digest(der)),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial_hex: cert.raw_serial_as_string().replace(':', "").to_uppercase(),
            not_before: validity.not_before.to_datetime(),
            not_after: validity.not_after.to_datetime(),
            rsa_bits: bits,
            rsa_public_key: pkcs1,
        })
    }

    /// Parses the base64 value of a key credential or a metadata key.
    pub fn from_base64(value: &str) -> Result<Self, KeyError> {
        let der = b64::std_decode(value)
            .map_err(|e| KeyError::NotX509(format!("the value is not valid base64 ({e})")))?;
        Self::from_der(&der)
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The PKCS#1 RSAPublicKey DER of the certificate's key.
    pub fn verify_key_der(&self) -> &[u8] {
        &self.rsa_public_key
    }

    pub fn to_base64(&self) -> String {
        b64::std_encode(&self.der)
    }

    pub fn to_pem(&self) -> String {
        let b = self.to_base64();
        let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
        out
    }

    /// Is `unix` within the certificate's validity, allowing `skew` seconds either side?
    pub fn valid_at(&self, unix: i64, skew: i64) -> bool {
        self.not_before.unix_timestamp() - skew <= unix
            && unix <= self.not_after.unix_timestamp() + skew
    }

    /// The verification key for RS256 signatures by this certificate's key, parsed once.
    pub fn verify_key(&self) -> VerifyKey {
        let unparsed = UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            self.rsa_public_key.clone(),
        );
        let public = match unparsed.parse() {
            Ok(p) => PublicKey::Parsed(p),
            // from_der already checked the key; keep the slower path rather than fail here
            Err(_) => PublicKey::Unparsed(unparsed),
        };
        VerifyKey {
            x5t: self.x5t.clone(),
            not_before: self.not_before.unix_timestamp(),
            not_after: self.not_after.unix_timestamp(),
            thumbprint: self.thumbprint.clone(),
            public,
        }
    }
}

#[derive(Clone)]
enum PublicKey {
    Parsed(ParsedPublicKey),
    Unparsed(UnparsedPublicKey<Vec<u8>>),
}

/// A trusted public key, selected by `x5t`/`kid`.
#[derive(Clone)]
pub struct VerifyKey {
    pub x5t: String,
    pub thumbprint: String,
    pub not_before: i64,
    pub not_after: i64,
    public: PublicKey,
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyKey").field("x5t", &self.x5t).finish()
    }
}

impl VerifyKey {
    /// RS256 verification of `signature` over `message`.
    pub fn verify_rs256(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.public {
            PublicKey::Parsed(p) => p.verify_sig(message, signature).is_ok(),
            PublicKey::Unparsed(u) => u.verify(message, signature).is_ok(),
        }
    }
}

/// A private RSA key with its certificate: signs RS256 tokens whose header names the certificate.
pub struct SigningKey {
    key: RsaKeyPair,
    pkcs8: Vec<u8>,
    cert: Certificate,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the private key
        f.debug_struct("SigningKey")
            .field("cert", &self.cert)
            .finish()
    }
}

impl SigningKey {
    /// Builds a signing key from a PKCS#8 private key and the matching certificate.
    pub fn from_pkcs8(pkcs8: &[u8], cert_der: &[u8]) -> Result<Self, KeyError> {
        let key =
            RsaKeyPair::from_pkcs8(pkcs8).map_err(|e| KeyError::BadPrivateKey(e.to_string()))?;
        let cert = Certificate::from_der(cert_der)?;
        // the certificate's SPKI bit string is the PKCS#1 public key
        if key.public_key().as_ref() != cert.rsa_public_key.as_slice() {
            return Err(KeyError::KeyCertMismatch);
        }
        Ok(SigningKey {
            key,
            pkcs8: pkcs8.to_vec(),
            cert,
        })
    }

    /// Generates an RSA-2048 key and a self-signed certificate `CN=<common_name>` valid between
    /// the given instants.
    pub fn generate_self_signed(
        common_name: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Self, KeyError> {
        use rcgen::{
            CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_RSA_SHA256, RsaKeySize,
            SerialNumber,
        };
        let kp = KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.not_before = not_before;
        params.not_after = not_after;
        let mut serial = [0u8; 16];
        aws_lc_rs::rand::SecureRandom::fill(&SystemRandom::new(), &mut serial)
            .map_err(|_| KeyError::Generate("no randomness".into()))?;
        serial[0] &= 0x7f;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let cert = params
            .self_signed(&kp)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_pkcs8(&kp.serialize_der(), cert.der())
    }

    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The PKCS#8 DER of the private key, for the owning service's key store only.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// RSASSA-PKCS1-v1_5 SHA-256 over `message`.
    pub fn sign_rs256(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                message,
                &mut sig,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(sig)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// Two test keys generated once per test binary (RSA keygen is slow).
    pub(crate) fn test_key(n: usize) -> &'static SigningKey {
        static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
        &KEYS.get_or_init(|| {
            (0..3)
                .map(|i| {
                    SigningKey::generate_self_signed(
                        &format!("test key {i}"),
                        OffsetDateTime::from_unix_timestamp(1_600_000_000).unwrap(),
                        OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap(),
                    )
                    .unwrap()
                })
                .collect()
        })[n]
    }

    #[test]
    fn generated_certificate_parses() {
        let k = test_key(0);
        let c = k.certificate();
        assert_eq!(c.rsa_bits, 2048);
        assert_eq!(c.subject, "CN=test key 0");
        assert_eq!(c.thumbprint.len(), 40);
        assert_eq!(b64::url_decode(&c.x5t).unwrap().len(), 20);
        let again = Certificate::from_base64(&c.to_base64()).unwrap();
        assert_eq!(&again, c);
        let sig = k.sign_rs256(b"hello").unwrap();
        assert!(c.verify_key().verify_rs256(b"hello", &sig));
        assert!(!c.verify_key().verify_rs256(b"hellO", &sig));
        assert!(
            !test_key(1)
                .certificate()
                .verify_key()
                .verify_rs256(b"hello", &sig)
        );
    }

    #[test]
    fn rejects_garbage_and_mismatch() {
        assert!(matches!(
            Certificate::from_der(b"nope"),
            Err(KeyError::NotX509(_))
        ));
        assert!(matches!(
            Certificate::from_base64("!!!"),
            Err(KeyError::NotX509(_))
        ));
        let mut der = test_key(0).certificate().der().to_vec();
        der.push(0);
        assert!(matches!(
            Certificate::from_der(&der),
            Err(KeyError::NotX509(_))
        ));
        let err = SigningKey::from_pkcs8(test_key(0).pkcs8_der(), test_key(1).certificate().der())
            .unwrap_err();
        assert_eq!(err, KeyError::KeyCertMismatch);
    }

    #[test]
    fn rejects_small_and_non_rsa_keys() {
        use rcgen::{CertificateParams, KeyPair, PKCS_ECDSA_P256_SHA256};
        let kp = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let cert = CertificateParams::new(vec!["x".into()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        assert!(matches!(
            Certificate::from_der(cert.der()),
            Err(KeyError::NotRsa(_))
        ));
        // a 1024-bit RSA certificate, generated by openssl once and kept as a fixture
        let small = include_str!("../tests/fixtures/rsa1024.cer.b64");
        assert_eq!(
            Certificate::from_base64(small).unwrap_err(),
            KeyError::RsaTooSmall { bits: 1024 }
        );
    }
}
