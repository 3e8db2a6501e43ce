//! Microsoft server-to-server OAuth, the ACS actor-token flavour, as a pure library: principal
//! names, token building and signing, the validator, and the ACS wire types. No I/O: keys, time
//! and trust come in as arguments.
//!
//! Crypto is aws-lc-rs (RSA-2048+, RS256 only). The compact JWS envelope is written here because
//! the S2S outer token is unsigned, which JOSE crates refuse to represent; the interop tests check
//! our tokens against PyJWT and the `jsonwebtoken` crate.
#![forbid(unsafe_code)]

pub mod b64;
pub mod claims;
pub mod clock;
pub mod jwt;
pub mod keys;
pub mod principal;
pub mod token;
pub mod validate;
pub mod wire;

pub use claims::ClaimSet;
pub use clock::{Clock, ManualClock, SharedClock, SystemClock};
pub use keys::{Certificate, KeyError, SigningKey, VerifyKey};
pub use principal::{PrincipalError, PrincipalName, PrincipalRef};
pub use token::{ActorTokenSpec, ClientAssertionSpec, OuterTokenSpec, UserClaims};
pub use validate::{
    ExpectedAudience, Policy, S2sToken, TokenError, TrustedIssuer, ValidatedToken, validate_s2s,
    validate_signed,
};
