//! The validator: every rule of spec/security.md §1a (J1–J16) and §1b (points 1–5).
//!
//! A [`Policy`] says what this resource server trusts (audience, realm, issuers and their keys,
//! skew, size); [`validate_signed`] checks one RS256 token, [`validate_s2s`] checks a bearer
//! that is either an unsigned outer token wrapping an actor token (user context) or a signed
//! app-only token. Time comes in as an argument (read from the service's injected clock).
//!
//! Every failure is a [`TokenError`] naming the rule and the values involved, in the spirit of
//! Microsoft.IdentityModel's IDX codes. No error carries a whole token or a signature.

use serde_json::{Map, Value};

use crate::b64;
use crate::jwt::{Compact, JwtFormatError, MAX_TOKEN_BYTES};
use crate::keys::VerifyKey;
use crate::principal::PrincipalName;
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
            } => match PrincipalName::parse(aud) {
                Ok(p) => {
                    &p.app_id == app_id
                        && &p.realm == realm
                        && p.host
                            .as_deref()
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
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub issuer: String,
    pub audience: String,
    pub nbf: Option<i64>,
    pub exp: i64,
    /// x5t of the key that verified the signature.
    pub key_x5t: String,
}

impl ValidatedToken {
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// The outcome of validating an S2S bearer.
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
        outer: Map<String, Value>,
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
pub fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
    which: &'static str,
) -> Result<Option<i64>, TokenError> {
    const MAX: i64 = 100_000_000_000; // year 5138: anything larger is nonsense
    let bad = |detail: String| TokenError::InvalidClaimType {
        which,
        claim: name,
        detail,
    };
    let v = match claims.get(name) {
        None => return Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| bad(format!("{n} is not an integer")))?,
        Some(Value::String(s)) => {
            if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("{s:?} is not a string of digits")));
            }
            s.parse::<i64>().map_err(|e| bad(e.to_string()))?
        }
        Some(other) => return Err(bad(format!("{} is not a number", json_kind(other)))),
    };
    if !(0..=MAX).contains(&v) {
        return Err(bad(format!("{v} is out of range")));
    }
    Ok(Some(v))
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
    which: &'static str,
) -> Result<Option<&'a str>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(TokenError::InvalidClaimType {
            which,
            claim: name,
            detail: format!("{} is not a string", json_kind(other)),
        }),
    }
}

fn check_header_common(header: &Map<String, Value>, which: &'static str) -> Result<(), TokenError> {
    if let Some(typ) = header.get("typ") {
        let ok = typ.as_str().is_some_and(|t| t.eq_ignore_ascii_case("JWT"));
        if !ok {
            return Err(TokenError::TypeNotAllowed {
                which,
                typ: typ.to_string(),
            });
        }
    }
    if let Some(crit) = header.get("crit") {
        return Err(TokenError::CriticalHeader {
            which,
            names: crit.to_string().chars().take(100).collect(),
        });
    }
    for name in FORBIDDEN_HEADERS {
        if header.contains_key(name) {
            return Err(TokenError::ForbiddenHeader { which, name });
        }
    }
    Ok(())
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
    if token.len() > policy.max_token_bytes {
        return Err(TokenError::TooLarge {
            size: token.len(),
            max: policy.max_token_bytes,
        });
    }
    let c = Compact::parse(token).map_err(TokenError::Malformed)?;
    let alg = match c.header.get("alg") {
        Some(Value::String(a)) => a.as_str(),
        Some(_) | None => return Err(TokenError::AlgorithmMissing { which }),
    };
    if alg.eq_ignore_ascii_case("none") {
        return Err(TokenError::UnsignedNotAllowed {
            which,
            alg: alg.to_owned(),
        });
    }
    if alg != "RS256" {
        return Err(TokenError::AlgorithmNotAllowed {
            which,
            alg: alg.chars().take(20).collect(),
        });
    }
    check_header_common(&c.header, which)?;
    if c.signature_b64.is_empty() {
        return Err(TokenError::MissingSignature { which });
    }
    let signature =
        b64::url_decode(c.signature_b64).map_err(|_| TokenError::MalformedSignature { which })?;

    // issuer → its keys → the key the header names
    let iss = match string_claim(&c.claims, "iss", which)? {
        Some(s) if !s.is_empty() => s,
        _ => return Err(TokenError::IssuerMissing { which }),
    };
    let Some(trusted) = policy.issuers.iter().find(|t| t.issuer == iss) else {
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
    let header_str = |name: &'static str| -> Result<Option<&str>, TokenError> {
        match c.header.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(TokenError::InvalidClaimType {
                which,
                claim: name,
                detail: format!("header {name} is {}", json_kind(other)),
            }),
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
        .find(|k| x5t.is_none_or(|x| x == k.x5t) && kid.is_none_or(|x| x == k.x5t))
        .ok_or_else(|| TokenError::KeyNotFound {
            iss: iss.to_owned(),
            x5t: x5t.map(|s| s.chars().take(64).collect()),
            kid: kid.map(|s| s.chars().take(64).collect()),
            tried: trusted
                .keys
                .iter()
                .map(|k| k.x5t.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if !key.verify_rs256(c.signing_input.as_bytes(), &signature) {
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
    let (nbf, exp) = check_lifetime(&c.claims, policy, now, which)?;
    let aud = check_audience(&c.claims, policy, which)?;
    Ok(ValidatedToken {
        issuer: iss.to_owned(),
        audience: aud,
        nbf,
        exp,
        key_x5t: key.x5t.clone(),
        header: c.header,
        claims: c.claims,
    })
}

fn check_lifetime(
    claims: &Map<String, Value>,
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
        let start = nbf.or(iat).unwrap_or(now);
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
    claims: &Map<String, Value>,
    policy: &Policy,
    which: &'static str,
) -> Result<String, TokenError> {
    let aud = match string_claim(claims, "aud", which)? {
        Some(a) if !a.is_empty() => a,
        _ => return Err(TokenError::AudienceMissing { which }),
    };
    if !policy.audience.matches(aud) {
        return Err(TokenError::AudienceMismatch {
            aud: aud.chars().take(300).collect(),
            expected: policy.audience.describe(),
        });
    }
    Ok(aud.to_owned())
}

fn realm_of(s: &str, claim: &'static str, expected: &str) -> Result<(), TokenError> {
    let found = PrincipalName::parse(s)
        .map(|p| p.realm)
        .unwrap_or_else(|_| s.chars().take(100).collect());
    if found != expected {
        return Err(TokenError::RealmMismatch {
            claim,
            found,
            expected: expected.to_owned(),
        });
    }
    Ok(())
}

fn actor_app(actor: &ValidatedToken, policy: &Policy) -> Result<PrincipalName, TokenError> {
    let nameid = string_claim(&actor.claims, "nameid", "actor")?.unwrap_or_default();
    let app = PrincipalName::parse(nameid)
        .ok()
        .filter(|p| p.host.is_none())
        .ok_or_else(|| TokenError::ActorNameIdInvalid(nameid.chars().take(200).collect()))?;
    if let Some(realm) = &policy.realm {
        realm_of(&actor.issuer, "the actor's iss", realm)?;
        realm_of(&actor.audience, "the actor's aud", realm)?;
        realm_of(nameid, "the actor's nameid", realm)?;
    }
    Ok(app)
}

/// Validates an S2S bearer (spec/security.md §1b): an unsigned outer token (`alg` exactly `none`,
/// empty signature, one `actortoken`) around a fully validated actor, or a signed app-only token.
pub fn validate_s2s(token: &str, policy: &Policy, now: i64) -> Result<S2sToken, TokenError> {
    if token.len() > policy.max_token_bytes {
        return Err(TokenError::TooLarge {
            size: token.len(),
            max: policy.max_token_bytes,
        });
    }
    let outer = Compact::parse(token).map_err(TokenError::Malformed)?;
    if outer.alg() != Some("none") {
        // App-only: the signed token alone (J1 catches "None"/"NONE" variants there).
        let actor = validate_signed_as(token, policy, now, "app-only")?;
        if actor.claims.contains_key("actortoken") {
            return Err(TokenError::NestedActor);
        }
        let app = actor_app(&actor, policy)?;
        return Ok(S2sToken::AppOnly { actor, app });
    }
    if !outer.signature_b64.is_empty() {
        return Err(TokenError::OuterNotEmptySignature);
    }
    check_header_common(&outer.header, "outer")?;
    for name in FORBIDDEN_OUTER_CLAIMS {
        if outer.claims.contains_key(name) {
            return Err(TokenError::ForbiddenClaim(name.to_owned()));
        }
    }
    let actor_token = match outer.claims.get("actortoken") {
        None => return Err(TokenError::ActorTokenMissing),
        Some(Value::String(s)) if !s.is_empty() => s.as_str(),
        Some(Value::String(_)) => return Err(TokenError::ActorTokenInvalid("empty")),
        Some(v) => return Err(TokenError::ActorTokenInvalid(json_kind(v))),
    };
    let actor = validate_signed_as(actor_token, policy, now, "actor")?;
    if actor.claims.contains_key("actortoken") {
        return Err(TokenError::NestedActor);
    }
    let app = actor_app(&actor, policy)?;
    let tfd = actor.claim_str("trustedfordelegation").unwrap_or("");
    if tfd != "true" {
        return Err(TokenError::NotTrustedForDelegation {
            actor: app.to_string(),
            found: tfd.chars().take(20).collect(),
        });
    }
    let nameid = app.to_string();
    let outer_iss = string_claim(&outer.claims, "iss", "outer")?.unwrap_or_default();
    if outer_iss != nameid {
        return Err(TokenError::OuterIssuerMismatch {
            outer: outer_iss.chars().take(200).collect(),
            actor: nameid,
        });
    }
    let outer_aud = string_claim(&outer.claims, "aud", "outer")?.unwrap_or_default();
    if outer_aud != actor.audience {
        return Err(TokenError::OuterAudienceMismatch {
            outer: outer_aud.chars().take(300).collect(),
            actor: actor.audience.clone(),
        });
    }
    if let Some(realm) = &policy.realm {
        realm_of(outer_iss, "the outer token's iss", realm)?;
        realm_of(outer_aud, "the outer token's aud", realm)?;
    }
    let (outer_nbf, outer_exp) = check_lifetime(&outer.claims, policy, now, "outer")?;
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
    let get =
        |n: &'static str| string_claim(&outer.claims, n, "outer").map(|o| o.map(str::to_owned));
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
    Ok(S2sToken::User {
        actor,
        app,
        outer: outer.claims,
        outer_nbf,
        outer_exp,
        user,
    })
}
