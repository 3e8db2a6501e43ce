//! Randomness, secret hashing and constant-time comparison.
//!
//! Randomness comes from aws-lc-rs. Client secrets (Symmetric and Password credentials) are
//! stored only as salted PBKDF2-HMAC-SHA256 hashes; verification is constant-time.

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use subtle::ConstantTimeEq;

/// PBKDF2 iterations for stored secrets.
pub(crate) const PBKDF2_ITERATIONS: u32 = 100_000;
const HASH_LEN: usize = 32;
const SALT_LEN: usize = 16;

/// `n` random bytes. A failing system RNG is not recoverable: the process must not go on handing
/// out predictable identifiers or credentials.
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the system random number generator failed");
    out
}

/// A random (v4) GUID, lower-case hyphenated.
pub(crate) fn new_guid() -> String {
    uuid::Builder::from_random_bytes(random_bytes::<16>())
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// A new admin credential: 32 random bytes, base64url without padding.
pub(crate) fn new_admin_credential() -> String {
    s2s_proto::b64::url_encode(random_bytes::<32>())
}

/// Constant-time equality of two secrets (length may leak, content does not).
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A stored secret hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretHash {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub hash: Vec<u8>,
}

impl SecretHash {
    pub fn new(secret: &str) -> SecretHash {
        let salt = random_bytes::<SALT_LEN>().to_vec();
        let mut hash = vec![0u8; HASH_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations(PBKDF2_ITERATIONS),
            &salt,
            secret.as_bytes(),
            &mut hash,
        );
        SecretHash {
            salt,
            iterations: PBKDF2_ITERATIONS,
            hash,
        }
    }

    /// Constant-time check of `secret` against the hash.
    pub fn verify(&self, secret: &str) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations(self.iterations),
            &self.salt,
            secret.as_bytes(),
            &self.hash,
        )
        .is_ok()
    }
}

fn iterations(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ() {
        let h = SecretHash::new("s3cret");
        assert!(h.verify("s3cret"));
        assert!(!h.verify("s3creT"));
        assert!(!h.verify(""));
        let h2 = SecretHash::new("s3cret");
        assert_ne!(h.salt, h2.salt);
        assert_ne!(h.hash, h2.hash);
    }

    #[test]
    fn guids_and_credentials() {
        let g = new_guid();
        assert_eq!(uuid::Uuid::parse_str(&g).unwrap().get_version_num(), 4);
        assert_ne!(g, new_guid());
        let c = new_admin_credential();
        assert_eq!(s2s_proto::b64::url_decode(&c).unwrap().len(), 32);
        assert!(ct_eq(c.as_bytes(), c.clone().as_bytes()));
        assert!(!ct_eq(c.as_bytes(), b"x"));
    }
}
