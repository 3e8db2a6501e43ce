//! The validator: every rule of spec/security.md §1a (J1–J16) and §1b (points 1–5).
//!
//! A [`Policy`] says what this resource server trusts (audience, realm, issuers and their keys,
//! skew, size); [`validate_signed`] checks one RS256 token, [`validate_s2s`] checks a bearer
//! that is either an unsigned outer token wrapping an actor token (user context) or a signed
//! app-only token. Time comes in as an argument (read from the service's injected clock).
//!
//! Every failure is a [`TokenError`] naming the rule and the values involved, in the spirit of
//! Microsoft.IdentityModel's IDX codes. No error carries a whole token or a signature.

use serde_json::Value;
use std::borrow::Cow;

use crate::b64;
use crate::claims::{self, ClaimSet, RawObject};
use crate::jwt::{self, JwtFormatError, MAX_TOKEN_BYTES};
use crate::keys::VerifyKey;
use crate::principal::{PrincipalName, PrincipalRef};
use crate::token::UserClaims;

/// Allowed clock skew, seconds (Microsoft's default, and ACS backdates `nbf` by it).
pub const DEFAULT_SKEW_SECS: i64 = 300;

/// One issuer this server trusts, with the keys that may sign for it.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// Compared exactly with the token's `iss`.
    pub issuer: String,
    pub keys: Vec<VerifyKey>,
}

/// What `aud` must be.
#[derive(Debug, Clone)]
pub enum ExpectedAudience {
    /// `<app_id>/<host>@<realm>` with one of `hosts` (ASCII case-insensitive); app id and realm exact.
    Service {
        app_id: String,
        hosts: Vec<String>,
        realm: String,
    },
    /// One of these strings, exactly (a token endpoint URL for client assertions).
    Exact(Vec<String>),
}

impl ExpectedAudience {
    fn matches(&self, aud: &str) -> bool {
        match self {
            ExpectedAudience::Service {
                app_id,
                hosts,
                realm,
            } => match PrincipalRef::parse(aud) {
                Ok(p) => {
                    p.app_id == app_id
                        && p.realm == realm
                        && p.host
                            .is_some_and(|h| hosts.iter().any(|x| x.eq_ignore_ascii_case(h)))
                }
                Err(_) => false,
            },
            ExpectedAudience::Exact(list) => list.iter().any(|x| x == aud),
        }
    }

    fn describe(&self) -> String {
        match self {
            ExpectedAudience::Service {
                app_id,
                hosts,
                realm,
            } => hosts
                .iter()
                .map(|h| format!("{app_id}/{h}@{realm}"))
                .collect::<Vec<_>>()
                .join(" or "),
            ExpectedAudience::Exact(list) => list.join(" or "),
        }
    }
}

/// What the resource server accepts.
#[derive(Debug, Clone)]
pub struct Policy {
    pub audience: ExpectedAudience,
    /// This server's realm: every realm in an S2S token must equal it (§1b point 4).
    pub realm: Option<String>,
    pub issuers: Vec<TrustedIssuer>,
    pub skew_secs: i64,
    pub max_token_bytes: usize,
    /// Require `nbf` (S2S tokens always carry it; RFC 7523 assertions need not).
    pub require_nbf: bool,
    /// Longest accepted `exp - nbf` (or `exp - iat`), if bounded.
    pub max_lifetime_secs: Option<i64>,
}

impl Policy {
    pub fn new(
        audience: ExpectedAudience,
        realm: Option<String>,
        issuers: Vec<TrustedIssuer>,
    ) -> Self {
        Policy {
            audience,
            realm,
            issuers,
            skew_secs: DEFAULT_SKEW_SECS,
            max_token_bytes: MAX_TOKEN_BYTES,
            require_nbf: true,
            max_lifetime_secs: None,
        }
    }
}

/// Why a token was refused. `code()` gives a stable IDX-style code, `rule()` the catalogue row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("IDX10209: the token is {size} bytes; the maximum is {max}")]
    TooLarge { size: usize, max: usize },
    #[error("IDX14100: the token is not a well-formed JWT: {0}")]
    Malformed(JwtFormatError),
    #[error(
        "IDX10504: the {which} token is unsigned (alg {alg:?}); only RS256-signed tokens are accepted here"
    )]
    UnsignedNotAllowed { which: &'static str, alg: String },
    #[error("IDX10518: the {which} token's algorithm {alg:?} is not accepted; only RS256 is")]
    AlgorithmNotAllowed { which: &'static str, alg: String },
    #[error("IDX10517: the {which} token's header has no alg")]
    AlgorithmMissing { which: &'static str },
    #[error("IDX10257: the {which} token's typ {typ:?} is not JWT")]
    TypeNotAllowed { which: &'static str, typ: String },
    #[error(
        "IDX10508: the {which} token's header names critical extension(s) {names:?}, which are not supported"
    )]
    CriticalHeader { which: &'static str, names: String },
    #[error(
        "IDX10510: the {which} token's header carries {name:?}; keys named by a token are never fetched or trusted"
    )]
    ForbiddenHeader {
        which: &'static str,
        name: &'static str,
    },
    #[error("IDX10504: the {which} token has alg RS256 but an empty signature")]
    MissingSignature { which: &'static str },
    #[error("IDX10508: the {which} token's signature is not base64url")]
    MalformedSignature { which: &'static str },
    #[error("IDX10211: the {which} token has no issuer (iss)")]
    IssuerMissing { which: &'static str },
    #[error("IDX10205: issuer {iss:?} is not trusted; trusted issuers: {trusted}")]
    IssuerNotTrusted { iss: String, trusted: String },
    #[error("IDX10517: the {which} token names no key (neither x5t nor kid)")]
    KeyIdMissing { which: &'static str },
    #[error(
        "IDX10503: no key of issuer {iss:?} matches x5t {x5t:?} / kid {kid:?}; keys tried: {tried}"
    )]
    KeyNotFound {
        iss: String,
        x5t: Option<String>,
        kid: Option<String>,
        tried: String,
    },
    #[error("IDX10511: the {which} token's signature does not verify with key x5t {x5t}")]
    InvalidSignature { which: &'static str, x5t: String },
    #[error(
        "IDX10249: the signing certificate {x5t} is not valid now (valid {not_before}..{not_after}, now {now})"
    )]
    SigningKeyNotValid {
        x5t: String,
        not_before: i64,
        not_after: i64,
        now: i64,
    },
    #[error("IDX10225: the {which} token has no expiration (exp)")]
    NoExpiration { which: &'static str },
    #[error("IDX10225: the {which} token has no not-before (nbf)")]
    NoNotBefore { which: &'static str },
    #[error("IDX10230: the {which} token's {claim} claim has the wrong type or range: {detail}")]
    InvalidClaimType {
        which: &'static str,
        claim: &'static str,
        detail: String,
    },
    #[error("IDX10224: the {which} token's nbf {nbf} is after its exp {exp}")]
    NbfAfterExp {
        which: &'static str,
        nbf: i64,
        exp: i64,
    },
    #[error("IDX10223: the {which} token expired at {exp}; now is {now} (skew {skew} s)")]
    Expired {
        which: &'static str,
        exp: i64,
        now: i64,
        skew: i64,
    },
    #[error("IDX10222: the {which} token is not valid before {nbf}; now is {now} (skew {skew} s)")]
    NotYetValid {
        which: &'static str,
        nbf: i64,
        now: i64,
        skew: i64,
    },
    #[error("IDX10226: the {which} token lives {lifetime} s; at most {max} s are accepted")]
    LifetimeTooLong {
        which: &'static str,
        lifetime: i64,
        max: i64,
    },
    #[error("IDX10206: the {which} token has no audience (aud)")]
    AudienceMissing { which: &'static str },
    #[error("IDX10214: audience {aud:?} is not this server; expected {expected}")]
    AudienceMismatch { aud: String, expected: String },
    #[error("S2S-1: the outer token is alg none but its signature segment is not empty")]
    OuterNotEmptySignature,
    #[error(
        "S2S-1: the token carries an actortoken, so it is an outer token, whose alg must be exactly \"none\" (it is {alg:?}); a signed token that acts as itself carries no actortoken"
    )]
    OuterAlgorithm { alg: String },
    #[error(
        "S2S-1: the unsigned outer token carries no actortoken claim (a bare unsigned token is never accepted)"
    )]
    ActorTokenMissing,
    #[error("S2S-1: the outer token's actortoken is not a non-empty string ({0})")]
    ActorTokenInvalid(&'static str),
    #[error("S2S-1: the actor token carries its own actortoken; nested actors are not accepted")]
    NestedActor,
    #[error("S2S-1: the outer token carries {0:?}, a claim that never belongs in an S2S token")]
    ForbiddenClaim(String),
    #[error("S2S-3: the actor's nameid {0:?} is not an application principal <appid>@<realm>")]
    ActorNameIdInvalid(String),
    #[error(
        "S2S-3: the actor {actor} is not trusted for delegation (trustedfordelegation {found:?}); it cannot act as a user"
    )]
    NotTrustedForDelegation { actor: String, found: String },
    #[error("S2S-4: the outer token's iss {outer:?} is not the actor's nameid {actor:?}")]
    OuterIssuerMismatch { outer: String, actor: String },
    #[error("S2S-4: the outer token's aud {outer:?} differs from the actor's aud {actor:?}")]
    OuterAudienceMismatch { outer: String, actor: String },
    #[error(
        "S2S-4: the outer token's lifetime {outer_nbf}..{outer_exp} is not inside the actor's {actor_nbf}..{actor_exp}"
    )]
    OuterLifetimeOutsideActor {
        outer_nbf: i64,
        outer_exp: i64,
        actor_nbf: i64,
        actor_exp: i64,
    },
    #[error("S2S-4: the realm in {claim} is {found:?}; this server's realm is {expected:?}")]
    RealmMismatch {
        claim: &'static str,
        found: String,
        expected: String,
    },
    #[error("S2S-5: the outer token names no user (none of smtp, upn, sip, nameid)")]
    NoUserClaims,
}

impl TokenError {
    /// Stable code, IDX-style for JWT rules and S2S-n for the §1b points.
    pub fn code(&self) -> &'static str {
        use TokenError::*;
        match self {
            TooLarge { .. } => "IDX10209",
            Malformed(_) => "IDX14100",
            UnsignedNotAllowed { .. } | MissingSignature { .. } => "IDX10504",
            AlgorithmNotAllowed { .. } => "IDX10518",
            AlgorithmMissing { .. } | KeyIdMissing { .. } => "IDX10517",
            TypeNotAllowed { .. } => "IDX10257",
            CriticalHeader { .. } | MalformedSignature { .. } => "IDX10508",
            ForbiddenHeader { .. } => "IDX10510",
            IssuerMissing { .. } => "IDX10211",
            IssuerNotTrusted { .. } => "IDX10205",
            KeyNotFound { .. } => "IDX10503",
            InvalidSignature { .. } => "IDX10511",
            SigningKeyNotValid { .. } => "IDX10249",
            NoExpiration { .. } | NoNotBefore { .. } => "IDX10225",
            InvalidClaimType { .. } => "IDX10230",
            NbfAfterExp { .. } => "IDX10224",
            Expired { .. } => "IDX10223",
            NotYetValid { .. } => "IDX10222",
            LifetimeTooLong { .. } => "IDX10226",
            AudienceMissing { .. } => "IDX10206",
            AudienceMismatch { .. } => "IDX10214",
            OuterNotEmptySignature
            | OuterAlgorithm { .. }
            | ActorTokenMissing
            | ActorTokenInvalid(_)
            | NestedActor
            | ForbiddenClaim(_) => "S2S-1",
            ActorNameIdInvalid(_) | NotTrustedForDelegation { .. } => "S2S-3",
            OuterIssuerMismatch { .. }
            | OuterAudienceMismatch { .. }
            | OuterLifetimeOutsideActor { .. }
            | RealmMismatch { .. } => "S2S-4",
            NoUserClaims => "S2S-5",
        }
    }

    /// True for failures of the token's time window (clients may retry with a fresh token).
    pub fn is_expiry(&self) -> bool {
        matches!(self, TokenError::Expired { .. })
    }
}

/// A token whose signature, issuer, key, lifetime and audience held.
#[derive(Debug, Clone)]
pub struct ValidatedToken {
    pub header: ClaimSet,
    pub claims: ClaimSet,
    pub issuer: String,
    pub audience: String,
    pub nbf: Option<i64>,
    pub exp: i64,
    /// x5t of the key that verified the signature.
    pub key_x5t: String,
}

impl ValidatedToken {
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.str(name)
    }
}

/// The outcome of validating an S2S bearer.
// Built once per validation and then shared behind an `Arc`: boxing the larger variant would
// only add an allocation to every validation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum S2sToken {
    /// A signed token sent alone: the application acts as itself.
    AppOnly {
        actor: ValidatedToken,
        app: PrincipalName,
    },
    /// An unsigned outer token wrapping a validated actor token: the application acts as a user.
    User {
        actor: ValidatedToken,
        app: PrincipalName,
        /// The outer token's header (`alg` `none`), as decoded.
        outer_header: ClaimSet,
        outer: ClaimSet,
        outer_nbf: i64,
        outer_exp: i64,
        user: UserClaims,
    },
}

impl S2sToken {
    /// The calling application, from the actor's `nameid`.
    pub fn app(&self) -> &PrincipalName {
        match self {
            S2sToken::AppOnly { app, .. } | S2sToken::User { app, .. } => app,
        }
    }
    pub fn actor(&self) -> &ValidatedToken {
        match self {
            S2sToken::AppOnly { actor, .. } | S2sToken::User { actor, .. } => actor,
        }
    }
    pub fn user(&self) -> Option<&UserClaims> {
        match self {
            S2sToken::User { user, .. } => Some(user),
            S2sToken::AppOnly { .. } => None,
        }
    }
    /// When this validation stops being true (the earlier expiry of the layers).
    pub fn expires(&self) -> i64 {
        match self {
            S2sToken::AppOnly { actor, .. } => actor.exp,
            S2sToken::User {
                actor, outer_exp, ..
            } => actor.exp.min(*outer_exp),
        }
    }
}

const FORBIDDEN_HEADERS: [&str; 5] = ["jku", "x5u", "jwk", "x5c", "jwe"];
const FORBIDDEN_OUTER_CLAIMS: [&str; 4] = ["isloopback", "ver", "endpointurl", "endpointurlLength"];

/// Parses a NumericDate: an integer, or a string of decimal digits (Exchange sends strings).
fn numeric_date(
    obj: &RawObject<'_>,
    name: &'static str,
    which: &'static str,
) -> Result<Option<i64>, TokenError> {
    const MAX: i64 = 100_000_000_000; // year 5138: anything larger is nonsense
    let bad = |detail: String| TokenError::InvalidClaimType {
        which,
        claim: name,
        detail,
    };
    let Some(raw) = obj.get(name) else {
        return Ok(None);
    };
    // the common case, a plain integer, needs no JSON parser
    let v = match digits(raw) {
        Some(v) => v,
        None => match claims::kind(raw) {
            "a number" => match serde_json::from_str::<serde_json::Number>(raw) {
                Ok(n) => n
                    .as_i64()
                    .ok_or_else(|| bad(format!("{n} is not an integer")))?,
                Err(e) => return Err(bad(e.to_string())),
            },
            "a string" => {
                let s = claims::as_str(raw).unwrap_or_default();
                digits(&s).ok_or_else(|| bad(format!("{s:?} is not a string of digits")))?
            }
            other => return Err(bad(format!("{other} is not a number"))),
        },
    };
    if !(0..=MAX).contains(&v) {
        return Err(bad(format!("{v} is out of range")));
    }
    Ok(Some(v))
}

/// The value of 1 to 12 decimal digits (no sign, so no overflow); `None` for anything else.
fn digits(s: &str) -> Option<i64> {
    let ok = !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.bytes().fold(0, |v, b| v * 10 + i64::from(b - b'0')))
}

fn string_claim<'a>(
    obj: &RawObject<'a>,
    name: &'static str,
    which: &'static str,
) -> Result<Option<Cow<'a, str>>, TokenError> {
    match obj.get(name) {
        None => Ok(None),
        Some(raw) => claims::as_str(raw)
            .map(Some)
            .ok_or_else(|| TokenError::InvalidClaimType {
                which,
                claim: name,
                detail: format!("{} is not a string", claims::kind(raw)),
            }),
    }
}

fn check_header_common(header: &RawObject<'_>, which: &'static str) -> Result<(), TokenError> {
    if let Some(typ) = header.get("typ") {
        let ok = claims::as_str(typ).is_some_and(|t| t.eq_ignore_ascii_case("JWT"));
        if !ok {
            return Err(TokenError::TypeNotAllowed {
                which,
                typ: raw_text(typ, 100),
            });
        }
    }
    if let Some(crit) = header.get("crit") {
        return Err(TokenError::CriticalHeader {
            which,
            names: raw_text(crit, 100),
        });
    }
    for name in FORBIDDEN_HEADERS {
        if header.contains(name) {
            return Err(TokenError::ForbiddenHeader { which, name });
        }
    }
    Ok(())
}

/// A value's JSON text, compact, cut to `max` characters (for error messages).
fn raw_text(raw: &str, max: usize) -> String {
    let compact = serde_json::from_str::<Value>(raw)
        .map(|v| v.to_string())
        .unwrap_or_else(|_| raw.to_owned());
    compact.chars().take(max).collect()
}

/// J16: the policy's size bound, then the decoder's own.
fn check_size(token: &str, policy: &Policy) -> Result<(), TokenError> {
    if token.len() > policy.max_token_bytes {
        return Err(TokenError::TooLarge {
            size: token.len(),
            max: policy.max_token_bytes,
        });
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed(JwtFormatError::TooLarge {
            size: token.len(),
            max: MAX_TOKEN_BYTES,
        }));
    }
    Ok(())
}

/// One decoded layer: the segments, and the header and payload parsed in place.
struct Layer<'t> {
    parts: jwt::Parts<'t>,
    header_json: Vec<u8>,
    claims_json: Vec<u8>,
}

impl<'t> Layer<'t> {
    fn decode(token: &'t str) -> Result<Self, TokenError> {
        let parts = jwt::split(token).map_err(TokenError::Malformed)?;
        let header_json =
            jwt::decode_segment(parts.header, "header").map_err(TokenError::Malformed)?;
        let claims_json =
            jwt::decode_segment(parts.payload, "payload").map_err(TokenError::Malformed)?;
        Ok(Layer {
            parts,
            header_json,
            claims_json,
        })
    }

    fn objects(&self) -> Result<(RawObject<'_>, RawObject<'_>), TokenError> {
        let header =
            RawObject::parse(&self.header_json, "header").map_err(TokenError::Malformed)?;
        let claims =
            RawObject::parse(&self.claims_json, "payload").map_err(TokenError::Malformed)?;
        Ok((header, claims))
    }

    fn into_sets(self) -> (ClaimSet, ClaimSet) {
        (
            ClaimSet::from_validated(self.header_json),
            ClaimSet::from_validated(self.claims_json),
        )
    }
}

/// Validates one RS256 token against the policy (J1–J16).
pub fn validate_signed(
    token: &str,
    policy: &Policy,
    now: i64,
) -> Result<ValidatedToken, TokenError> {
    validate_signed_as(token, policy, now, "signed")
}

fn validate_signed_as(
    token: &str,
    policy: &Policy,
    now: i64,
    which: &'static str,
) -> Result<ValidatedToken, TokenError> {
    validate_signed_with(token, policy, now, which, |_, _, _| Ok(())).map(|(t, ())| t)
}

/// [`validate_signed_as`], then `more` on the validated claims (still unparsed members), issuer
/// and audience.
fn validate_signed_with<X>(
    token: &str,
    policy: &Policy,
    now: i64,
    which: &'static str,
    more: impl FnOnce(&RawObject<'_>, &str, &str) -> Result<X, TokenError>,
) -> Result<(ValidatedToken, X), TokenError> {
    check_size(token, policy)?;
    let layer = Layer::decode(token)?;
    let (header, claims) = layer.objects()?;
    let alg = match header.get("alg").and_then(claims::as_str) {
        Some(a) => a,
        None => return Err(TokenError::AlgorithmMissing { which }),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::UnsignedNotAllowed {
            which,
            alg: alg.into_owned(),
        });
    }
    if alg != "RS256" {
        return Err(TokenError::AlgorithmNotAllowed {
            which,
            alg: alg.chars().take(20).collect(),
        });
    }
    check_header_common(&header, which)?;
    if layer.parts.signature.is_empty() {
        return Err(TokenError::MissingSignature { which });
    }
    // an RSA signature of up to 8192 bits decodes on the stack
    let mut signature_buf = [0u8; 1024];
    let signature = b64::url_decode_in(layer.parts.signature, &mut signature_buf)
        .map_err(|_| TokenError::MalformedSignature { which })?;

    // issuer → its keys → the key the header names
    let iss = match string_claim(&claims, "iss", which)? {
        Some(s) if !s.is_empty() => s,
        _ => return Err(TokenError::IssuerMissing { which }),
    };
    let Some(trusted) = policy.issuers.iter().find(|t| t.issuer == *iss) else {
        return Err(TokenError::IssuerNotTrusted {
            iss: iss.chars().take(200).collect(),
            trusted: policy
                .issuers
                .iter()
                .map(|t| t.issuer.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let header_str = |name: &'static str| -> Result<Option<Cow<'_, str>>, TokenError> {
        match header.get(name) {
            None => Ok(None),
            Some(raw) => {
                claims::as_str(raw)
                    .map(Some)
                    .ok_or_else(|| TokenError::InvalidClaimType {
                        which,
                        claim: name,
                        detail: format!("header {name} is {}", claims::kind(raw)),
                    })
            }
        }
    };
    let x5t = header_str("x5t")?;
    let kid = header_str("kid")?;
    if x5t.is_none() && kid.is_none() {
        return Err(TokenError::KeyIdMissing { which });
    }
    let key = trusted
        .keys
        .iter()
        .find(|k| {
            x5t.as_deref().is_none_or(|x| x == k.x5t) && kid.as_deref().is_none_or(|x| x == k.x5t)
        })
        .ok_or_else(|| TokenError::KeyNotFound {
            iss: iss.clone().into_owned(),
            x5t: x5t.as_ref().map(|s| s.chars().take(64).collect()),
            kid: kid.as_ref().map(|s| s.chars().take(64).collect()),
            tried: trusted
                .keys
                .iter()
                .map(|k| k.x5t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if !key.verify_rs256(layer.parts.signing_input.as_bytes(), &signature) {
        return Err(TokenError::InvalidSignature {
            which,
            x5t: key.x5t.clone(),
        });
    }
    if now + policy.skew_secs < key.not_before || now - policy.skew_secs > key.not_after {
        return Err(TokenError::SigningKeyNotValid {
            x5t: key.x5t.clone(),
            not_before: key.not_before,
            not_after: key.not_after,
            now,
        });
    }
    let (nbf, exp) = check_lifetime(&claims, policy, now, which)?;
    let aud = check_audience(&claims, policy, which)?;
    let extra = more(&claims, &iss, &aud)?;
    let issuer = iss.into_owned();
    drop((header, claims));
    let (header, claims) = layer.into_sets();
    let token = ValidatedToken {
        issuer,
        audience: aud,
        nbf,
        exp,
        key_x5t: key.x5t.clone(),
        header,
        claims,
    };
    Ok((token, extra))
}

fn check_lifetime(
    claims: &RawObject<'_>,
    policy: &Policy,
    now: i64,
    which: &'static str,
) -> Result<(Option<i64>, i64), TokenError> {
    let exp = numeric_date(claims, "exp", which)?.ok_or(TokenError::NoExpiration { which })?;
    let nbf = numeric_date(claims, "nbf", which)?;
    let iat = numeric_date(claims, "iat", which)?;
    if policy.require_nbf && nbf.is_none() {
        return Err(TokenError::NoNotBefore { which });
    }
    if let Some(nbf) = nbf
        && nbf > exp
    {
        return Err(TokenError::NbfAfterExp { which, nbf, exp });
    }
    let skew = policy.skew_secs;
    if now > exp + skew {
        return Err(TokenError::Expired {
            which,
            exp,
            now,
            skew,
        });
    }
    if let Some(nbf) = nbf
        && nbf > now + skew
    {
        return Err(TokenError::NotYetValid {
            which,
            nbf,
            now,
            skew,
        });
    }
    if let Some(max) = policy.max_lifetime_secs {
        // Counted from when the token became usable: its nbf (never after now + skew, checked
        // above), else its iat, but no later than now + skew, so that a claimed future issue
        // time cannot stretch how long the token may be used from now.
        let start = nbf.or(iat).unwrap_or(now).min(now + skew);
        let lifetime = exp - start;
        if lifetime > max {
            return Err(TokenError::LifetimeTooLong {
                which,
                lifetime,
                max,
            });
        }
    }
    Ok((nbf, exp))
}

fn check_audience(
    claims: &RawObject<'_>,
    policy: &Policy,
    which: &'static str,
) -> Result<String, TokenError> {
    let aud = match string_claim(claims, "aud", which)? {
        Some(a) if !a.is_empty() => a,
        _ => return Err(TokenError::AudienceMissing { which }),
    };
    if !policy.audience.matches(&aud) {
        return Err(TokenError::AudienceMismatch {
            aud: aud.chars().take(300).collect(),
            expected: policy.audience.describe(),
        });
    }
    Ok(aud.into_owned())
}

fn realm_of(s: &str, claim: &'static str, expected: &str) -> Result<(), TokenError> {
    match PrincipalRef::parse(s) {
        Ok(p) if p.realm == expected => Ok(()),
        Ok(p) => Err(TokenError::RealmMismatch {
            claim,
            found: p.realm.to_owned(),
            expected: expected.to_owned(),
        }),
        Err(_) => Err(TokenError::RealmMismatch {
            claim,
            found: s.chars().take(100).collect(),
            expected: expected.to_owned(),
        }),
    }
}

/// What the S2S rules take from a validated actor (or app-only) token.
struct ActorFacts {
    /// The calling application, from `nameid` (§1b point 3), in this server's realm.
    app: PrincipalName,
    /// `trustedfordelegation` when it is not exactly "true" (cut for the error message).
    not_delegable: Option<String>,
}

/// The actor rules on a validated token's claims, issuer and audience.
fn actor_facts(
    claims: &RawObject<'_>,
    issuer: &str,
    audience: &str,
    policy: &Policy,
) -> Result<ActorFacts, TokenError> {
    if claims.contains("actortoken") {
        return Err(TokenError::NestedActor);
    }
    let nameid = string_claim(claims, "nameid", "actor")?.unwrap_or_default();
    let app = actor_app(issuer, audience, &nameid, policy)?;
    let tfd = claims
        .get("trustedfordelegation")
        .and_then(claims::as_str)
        .unwrap_or_default();
    let not_delegable = (tfd != "true").then(|| tfd.chars().take(20).collect());
    Ok(ActorFacts { app, not_delegable })
}

fn actor_app(
    issuer: &str,
    audience: &str,
    nameid: &str,
    policy: &Policy,
) -> Result<PrincipalName, TokenError> {
    let app = PrincipalRef::parse(nameid)
        .ok()
        .filter(|p| p.host.is_none())
        .ok_or_else(|| TokenError::ActorNameIdInvalid(nameid.chars().take(200).collect()))?;
    if let Some(realm) = &policy.realm {
        realm_of(issuer, "the actor's iss", realm)?;
        // An audience that matched a service audience in this realm has this realm already.
        let aud_in_realm = matches!(
            &policy.audience,
            ExpectedAudience::Service { realm: r, .. } if r == realm
        );
        if !aud_in_realm {
            realm_of(audience, "the actor's aud", realm)?;
        }
        if app.realm != realm {
            return Err(TokenError::RealmMismatch {
                claim: "the actor's nameid",
                found: app.realm.to_owned(),
                expected: realm.to_owned(),
            });
        }
    }
    Ok(app.to_owned())
}

/// Validates an S2S bearer (spec/security.md §1b): an unsigned outer token (`alg` exactly `none`,
/// empty signature, one `actortoken`) around a fully validated actor, or a signed app-only token.
pub fn validate_s2s(token: &str, policy: &Policy, now: i64) -> Result<S2sToken, TokenError> {
    check_size(token, policy)?;
    let layer = Layer::decode(token)?;
    let (header, claims) = layer.objects()?;
    let alg_none = header
        .get("alg")
        .and_then(claims::as_str)
        .is_some_and(|a| a == "none");
    if !alg_none && claims.contains("actortoken") {
        // an outer envelope with some other alg: say so, rather than judge it as app-only
        let alg = header
            .get("alg")
            .map(|raw| match claims::as_str(raw) {
                Some(a) => a.chars().take(20).collect(),
                None => claims::kind(raw).to_owned(),
            })
            .unwrap_or_else(|| "missing".to_owned());
        return Err(TokenError::OuterAlgorithm { alg });
    }
    if !alg_none {
        // App-only: the signed token alone (J1 catches "None"/"NONE" variants there).
        let (actor, facts) = validate_signed_with(token, policy, now, "app-only", |c, i, a| {
            actor_facts(c, i, a, policy)
        })?;
        return Ok(S2sToken::AppOnly {
            actor,
            app: facts.app,
        });
    }
    if !layer.parts.signature.is_empty() {
        return Err(TokenError::OuterNotEmptySignature);
    }
    check_header_common(&header, "outer")?;
    for name in FORBIDDEN_OUTER_CLAIMS {
        if claims.contains(name) {
            return Err(TokenError::ForbiddenClaim(name.to_owned()));
        }
    }
    let actor_token = match claims.get("actortoken") {
        None => return Err(TokenError::ActorTokenMissing),
        Some(raw) => match claims::as_str(raw) {
            Some(s) if !s.is_empty() => s,
            Some(_) => return Err(TokenError::ActorTokenInvalid("empty")),
            None => return Err(TokenError::ActorTokenInvalid(claims::kind(raw))),
        },
    };
    let (actor, facts) = validate_signed_with(&actor_token, policy, now, "actor", |c, i, a| {
        actor_facts(c, i, a, policy)
    })?;
    let app = facts.app;
    if let Some(found) = facts.not_delegable {
        return Err(TokenError::NotTrustedForDelegation {
            actor: app.to_string(),
            found,
        });
    }
    let outer_iss = string_claim(&claims, "iss", "outer")?.unwrap_or_default();
    if !is_principal(&outer_iss, &app) {
        return Err(TokenError::OuterIssuerMismatch {
            outer: outer_iss.chars().take(200).collect(),
            actor: app.to_string(),
        });
    }
    let outer_aud = string_claim(&claims, "aud", "outer")?.unwrap_or_default();
    if *outer_aud != actor.audience {
        return Err(TokenError::OuterAudienceMismatch {
            outer: outer_aud.chars().take(300).collect(),
            actor: actor.audience.clone(),
        });
    }
    // The outer iss and aud equal the actor's nameid and aud exactly, whose realms `actor_app`
    // checked: §1b point 4 holds for them without parsing them again.
    let (outer_nbf, outer_exp) = check_lifetime(&claims, policy, now, "outer")?;
    let outer_nbf = outer_nbf.unwrap_or(now);
    let actor_nbf = actor.nbf.unwrap_or(i64::MIN);
    if outer_nbf < actor_nbf || outer_exp > actor.exp {
        return Err(TokenError::OuterLifetimeOutsideActor {
            outer_nbf,
            outer_exp,
            actor_nbf,
            actor_exp: actor.exp,
        });
    }
    let get = |n: &'static str| string_claim(&claims, n, "outer").map(|o| o.map(Cow::into_owned));
    let user = UserClaims {
        nameid: get("nameid")?,
        nii: get("nii")?,
        upn: get("upn")?,
        smtp: get("smtp")?,
        sip: get("sip")?,
    };
    if user.is_empty() {
        return Err(TokenError::NoUserClaims);
    }
    drop((header, claims, actor_token, outer_iss, outer_aud));
    let (outer_header, outer) = layer.into_sets();
    Ok(S2sToken::User {
        actor,
        app,
        outer_header,
        outer,
        outer_nbf,
        outer_exp,
        user,
    })
}

/// Is `s` exactly the text of the application principal `app` (`<appid>@<realm>`)?
fn is_principal(s: &str, app: &PrincipalName) -> bool {
    app.host.is_none()
        && s.len() == app.app_id.len() + 1 + app.realm.len()
        && s.starts_with(app.app_id.as_str())
        && s.ends_with(app.realm.as_str())
        && s.as_bytes()[app.app_id.len()] == b'@'
}

/// The decoding half of [`validate_s2s`] alone (both layers split, base64-decoded and parsed),
/// for the benchmark that separates decoding from the signature check. Returns the member count.
#[doc(hidden)]
pub fn decode_layers_for_bench(token: &str) -> Result<usize, TokenError> {
    let outer = Layer::decode(token)?;
    let (_, claims) = outer.objects()?;
    let actor = claims
        .get("actortoken")
        .and_then(claims::as_str)
        .ok_or(TokenError::ActorTokenMissing)?;
    let inner = Layer::decode(&actor)?;
    let (h, c) = inner.objects()?;
    let mut signature_buf = [0u8; 1024];
    let sig = b64::url_decode_in(inner.parts.signature, &mut signature_buf)
        .map_err(|_| TokenError::MalformedSignature { which: "actor" })?;
    Ok(h.len() + c.len() + sig.len())
}
