//! `inspect_token`: decode, explain, check the structure, and verify when trust material is given.

use s2s_proto::jwt::Compact;
use s2s_proto::validate::DEFAULT_SKEW_SECS;
use s2s_proto::wire::AcsMetadata;
use s2s_proto::{
    Certificate, ExpectedAudience, Policy, PrincipalName, TokenError, TrustedIssuer, validate_s2s,
    validate_signed,
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::InspectError;
use crate::explain::{
    CLAIM_ORDER, Which, elide, expiry_phrase, explain_claim, numeric, short_principal, show_value,
};

/// Header parameters a token must never carry (keys named by the token, critical extensions).
const FORBIDDEN_HEADERS: [&str; 5] = ["jku", "x5u", "jwk", "x5c", "crit"];

/// The keys a signature may be checked against.
#[derive(Debug, Clone)]
pub enum TrustMaterial {
    /// An ACS (or compatible) metadata document: its issuer and signing certificates.
    Metadata {
        issuer: String,
        realm: String,
        certificates: Vec<Certificate>,
    },
    /// Certificates given directly; they are trusted for the token's own `iss`.
    Certificates(Vec<Certificate>),
}

impl TrustMaterial {
    /// Reads a metadata document (`…/metadata/json/1`) and its signing certificates.
    pub fn from_metadata(json: &[u8]) -> Result<Self, InspectError> {
        let md = AcsMetadata::parse(json)?;
        let certificates = md.signing_certificates()?;
        Ok(TrustMaterial::Metadata {
            issuer: md.issuer,
            realm: md.realm,
            certificates,
        })
    }

    /// Reads one or more certificates: DER, one or more PEM blocks, or bare base64 (as
    /// `[Convert]::ToBase64String` or a key credential's value writes it).
    pub fn from_certificates(bytes: &[u8]) -> Result<Self, InspectError> {
        Ok(TrustMaterial::Certificates(parse_certificates(bytes)?))
    }

    /// Adds certificates (another `--cert` file).
    pub fn add_certificates(&mut self, bytes: &[u8]) -> Result<(), InspectError> {
        let more = parse_certificates(bytes)?;
        match self {
            TrustMaterial::Metadata { certificates, .. }
            | TrustMaterial::Certificates(certificates) => certificates.extend(more),
        }
        Ok(())
    }

    pub fn certificates(&self) -> &[Certificate] {
        match self {
            TrustMaterial::Metadata { certificates, .. }
            | TrustMaterial::Certificates(certificates) => certificates,
        }
    }

    fn source(&self) -> &'static str {
        match self {
            TrustMaterial::Metadata { .. } => "the metadata",
            TrustMaterial::Certificates(c) if c.len() == 1 => "the certificate",
            TrustMaterial::Certificates(_) => "the certificates",
        }
    }
}

fn parse_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, InspectError> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![Certificate::from_der(bytes)?]);
    }
    let text = String::from_utf8_lossy(bytes);
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some(start) = rest.find(BEGIN) {
        let body = &rest[start + BEGIN.len()..];
        let Some(end) = body.find(END) else {
            return Err(InspectError::NoCertificate);
        };
        out.push(Certificate::from_base64(&body[..end])?);
        rest = &body[end + END.len()..];
    }
    if out.is_empty() {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(InspectError::NoCertificate);
        }
        out.push(Certificate::from_base64(trimmed)?);
    }
    Ok(out)
}

/// What the inspector is told: the time to judge lifetimes against, and optional keys.
#[derive(Debug, Clone)]
pub struct InspectOptions {
    /// Now, Unix seconds (injected: the CLI passes the wall clock).
    pub now: i64,
    /// Keys to verify the signature with; `None` → the verdict is NOT CHECKED.
    pub trust: Option<TrustMaterial>,
    /// Clock skew allowed by the verification (the validator's default: 300 s).
    pub skew_secs: i64,
}

impl InspectOptions {
    pub fn new(now: i64) -> Self {
        InspectOptions {
            now,
            trust: None,
            skew_secs: DEFAULT_SKEW_SECS,
        }
    }

    pub fn with_trust(mut self, trust: TrustMaterial) -> Self {
        self.trust = Some(trust);
        self
    }
}

/// What kind of token was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenKind {
    /// An unsigned outer token carrying a user and a signed actor token.
    S2sUser,
    /// A signed token naming the calling application (`nameid`) issued by the STS.
    AppOnly,
    /// A signed token the application issued for itself (Exchange's F2 callback token).
    SelfIssued,
    /// An RFC 7523 client assertion (`iss` = `sub`, `aud` the token endpoint).
    ClientAssertion,
    /// Some other signed token.
    Signed,
    /// An unsigned token without an actor: never accepted.
    Unsigned,
    /// Not a compact JWT.
    Malformed,
}

impl TokenKind {
    pub fn describe(self) -> &'static str {
        match self {
            TokenKind::S2sUser => {
                "S2S user token: unsigned outer token carrying a signed actor token"
            }
            TokenKind::AppOnly => "app-only actor token (signed by the token service)",
            TokenKind::SelfIssued => {
                "self-issued application token (signed by the application's own certificate)"
            }
            TokenKind::ClientAssertion => {
                "client assertion (RFC 7523), signed by the calling application"
            }
            TokenKind::Signed => "signed token",
            TokenKind::Unsigned => "unsigned token without an actor token (never accepted)",
            TokenKind::Malformed => "not a compact JWT",
        }
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckResult {
    Pass,
    Fail,
    /// Not evaluated (not applicable, or the validator stopped earlier).
    Skipped,
}

impl CheckResult {
    pub fn mark(self) -> &'static str {
        match self {
            CheckResult::Pass => "✔",
            CheckResult::Fail => "✘",
            CheckResult::Skipped => "–",
        }
    }
}

/// One rule and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub rule: String,
    pub result: CheckResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl Check {
    fn new(rule: &str, result: CheckResult, detail: Option<String>) -> Self {
        Check {
            rule: rule.into(),
            result,
            detail,
        }
    }
    fn pass(rule: &str) -> Self {
        Self::new(rule, CheckResult::Pass, None)
    }
    fn fail(rule: &str, detail: String) -> Self {
        Self::new(rule, CheckResult::Fail, Some(detail))
    }
    fn judge(rule: &str, ok: bool, detail: impl FnOnce() -> String) -> Self {
        if ok {
            Self::pass(rule)
        } else {
            Self::fail(rule, detail())
        }
    }
}

/// The signature verdict. Serialised as `VALID`, `INVALID`, `NOT CHECKED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// Verified against the given trust material, and every validator rule held.
    #[serde(rename = "VALID")]
    Valid,
    /// Verified and refused: see the error.
    #[serde(rename = "INVALID")]
    Invalid,
    /// No trust material was given (or the token could not be decoded): nothing was verified.
    #[serde(rename = "NOT CHECKED")]
    NotChecked,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Valid => "VALID",
            Verdict::Invalid => "INVALID",
            Verdict::NotChecked => "NOT CHECKED",
        }
    }
}

/// The signature verification and the validator's rules.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport {
    pub verdict: Verdict,
    /// `the metadata`, `the certificate`: what it was checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub against: Option<String>,
    /// The issuer the keys were trusted for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_issuer: Option<String>,
    /// x5t of the key that verified the signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_x5t: Option<String>,
    /// The validator's code (IDX…, S2S-n) and message when INVALID.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why NOT CHECKED.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Each validator rule, in the validator's order.
    pub rules: Vec<Check>,
}

impl SignatureReport {
    fn not_checked(note: &str) -> Self {
        SignatureReport {
            verdict: Verdict::NotChecked,
            against: None,
            trusted_issuer: None,
            key_x5t: None,
            code: None,
            error: None,
            note: Some(note.into()),
            rules: Vec::new(),
        }
    }
}

/// A JOSE header, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct HeaderSummary {
    pub alg: Option<String>,
    pub typ: Option<String>,
    pub x5t: Option<String>,
    pub kid: Option<String>,
    /// Any other parameter names (forbidden ones are also flagged in the rules).
    pub other: Vec<String>,
}

/// One claim: name, value as shown, meaning.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimLine {
    pub name: String,
    pub value: String,
    pub meaning: String,
}

/// One layer of the token: `outer`, `actor`, or `token` for a single signed token.
#[derive(Debug, Clone, Serialize)]
pub struct Layer {
    pub name: String,
    pub header: HeaderSummary,
    pub claims: Vec<ClaimLine>,
    /// The signature, elided (`abc123…`), or `(empty)`.
    pub signature: String,
}

/// The inspector's report. Render with [`Report::to_text`] or serialise for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// How the token was given: `token`, `bearer`, `header`.
    pub input: &'static str,
    pub kind: TokenKind,
    pub kind_description: &'static str,
    pub now: i64,
    pub layers: Vec<Layer>,
    /// Structural rules, checked without keys.
    pub rules: Vec<Check>,
    pub signature: SignatureReport,
    /// Decoding problems (a malformed token or actor).
    pub errors: Vec<String>,
    #[serde(skip)]
    pub(crate) facts: Facts,
}

/// Values the text renderer summarises.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    pub outer: Option<Map<String, Value>>,
    pub signed: Option<Map<String, Value>>,
    pub signed_header: Option<Map<String, Value>>,
}

impl Report {
    /// True when nothing structural failed and the signature (if checked) held.
    pub fn all_rules_hold(&self) -> bool {
        self.errors.is_empty()
            && self.rules.iter().all(|c| c.result != CheckResult::Fail)
            && self.signature.verdict != Verdict::Invalid
    }
}

/// Strips `Authorization:` and `Bearer ` and whitespace; says which form it was.
pub fn extract_token(input: &str) -> (&str, &'static str) {
    let mut s = input.trim();
    let mut form = "token";
    if let Some(rest) = strip_prefix_ci(s, "authorization:") {
        s = rest.trim_start();
        form = "header";
    }
    if let Some(rest) = strip_prefix_ci(s, "bearer")
        && (rest.starts_with(char::is_whitespace) || rest.is_empty())
    {
        s = rest.trim();
        if form == "token" {
            form = "bearer";
        }
    }
    (
        s.trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace()),
        form,
    )
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn header_summary(h: &Map<String, Value>) -> HeaderSummary {
    let get = |k: &str| {
        h.get(k)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    };
    HeaderSummary {
        alg: get("alg"),
        typ: get("typ"),
        x5t: get("x5t"),
        kid: get("kid"),
        other: h
            .keys()
            .filter(|k| !matches!(k.as_str(), "alg" | "typ" | "x5t" | "kid"))
            .cloned()
            .collect(),
    }
}

fn claim_lines(claims: &Map<String, Value>, which: Which, now: i64) -> Vec<ClaimLine> {
    let rank = |k: &str| {
        CLAIM_ORDER
            .iter()
            .position(|c| *c == k)
            .unwrap_or(CLAIM_ORDER.len())
    };
    let mut ordered: Vec<(&String, &Value)> = claims.iter().collect();
    ordered.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then_with(|| a.0.cmp(b.0)));
    ordered
        .into_iter()
        .map(|(k, v)| ClaimLine {
            name: k.clone(),
            value: if k == "actortoken" {
                v.as_str()
                    .map_or_else(|| show_value(v), |s| format!("{} (elided)", elide(s)))
            } else {
                show_value(v)
            },
            meaning: explain_claim(k, v, which, claims, now),
        })
        .collect()
}

fn layer(name: &str, c: &Compact<'_>, which: Which, now: i64) -> Layer {
    Layer {
        name: name.into(),
        header: header_summary(&c.header),
        claims: claim_lines(&c.claims, which, now),
        signature: elide(c.signature_b64),
    }
}

fn is_none_alg(c: &Compact<'_>) -> bool {
    c.alg().is_some_and(|a| a.eq_ignore_ascii_case("none"))
}

/// Decodes and explains a token; verifies its signature when `opts.trust` is given.
///
/// `input` may be a bare token, `Bearer <token>`, or an `Authorization: Bearer …` header line.
pub fn inspect_token(input: &str, opts: &InspectOptions) -> Report {
    let (token, form) = extract_token(input);
    let now = opts.now;
    let mut report = Report {
        input: form,
        kind: TokenKind::Malformed,
        kind_description: TokenKind::Malformed.describe(),
        now,
        layers: Vec::new(),
        rules: Vec::new(),
        signature: SignatureReport::not_checked("the token could not be decoded"),
        errors: Vec::new(),
        facts: Facts::default(),
    };
    let outer = match Compact::parse(token) {
        Ok(c) => c,
        Err(e) => {
            report
                .errors
                .push(format!("the token is not a compact JWT: {e}"));
            return report;
        }
    };
    let unsigned = is_none_alg(&outer) || outer.claims.contains_key("actortoken");
    if unsigned {
        report
            .layers
            .push(layer("outer", &outer, Which::Outer, now));
        report.facts.outer = Some(outer.claims.clone());
        let actor_str = outer.claims.get("actortoken").and_then(Value::as_str);
        let actor = match actor_str.map(Compact::parse) {
            Some(Ok(a)) => Some(a),
            Some(Err(e)) => {
                report
                    .errors
                    .push(format!("the actor token is not a compact JWT: {e}"));
                None
            }
            None => None,
        };
        report.kind = if actor_str.is_some() {
            TokenKind::S2sUser
        } else {
            TokenKind::Unsigned
        };
        if let Some(a) = &actor {
            report.layers.push(layer("actor", a, Which::Signed, now));
            report.facts.signed = Some(a.claims.clone());
            report.facts.signed_header = Some(a.header.clone());
        }
        report.rules = outer_rules(&outer, actor.as_ref(), now);
    } else {
        report.kind = classify_signed(&outer.claims);
        report
            .layers
            .push(layer("token", &outer, Which::Signed, now));
        report.facts.signed = Some(outer.claims.clone());
        report.facts.signed_header = Some(outer.header.clone());
        report.rules = single_rules(&outer, now);
    }
    report.kind_description = report.kind.describe();
    report.signature = match (&opts.trust, report.kind) {
        (None, _) => SignatureReport::not_checked("no metadata or certificate given"),
        (Some(_), TokenKind::Unsigned) => {
            SignatureReport::not_checked("the token is unsigned and carries no actor token")
        }
        (Some(_), TokenKind::Malformed) => {
            SignatureReport::not_checked("the token could not be decoded")
        }
        (Some(trust), kind) => verify(token, kind, &report.facts, trust, opts),
    };
    if report.kind == TokenKind::S2sUser && report.facts.signed.is_none() {
        report.signature = SignatureReport::not_checked("the actor token could not be decoded");
    }
    report
}

fn classify_signed(claims: &Map<String, Value>) -> TokenKind {
    let s = |k: &str| claims.get(k).and_then(Value::as_str);
    if let Some(nameid) = s("nameid") {
        let from_sts = s("iss")
            .and_then(|i| PrincipalName::parse(i).ok())
            .is_some_and(|p| {
                p.app_id
                    .eq_ignore_ascii_case(s2s_proto::principal::ACS_APP_ID)
            });
        if from_sts || s("iss") != Some(nameid) {
            TokenKind::AppOnly
        } else {
            TokenKind::SelfIssued
        }
    } else if s("iss").is_some()
        && s("iss") == s("sub")
        && s("aud").is_some_and(|a| a.contains("://"))
    {
        TokenKind::ClientAssertion
    } else {
        TokenKind::Signed
    }
}

fn forbidden_header_check(layers: &[(&str, &Map<String, Value>)]) -> Check {
    let found: Vec<String> = layers
        .iter()
        .flat_map(|(name, h)| {
            FORBIDDEN_HEADERS
                .iter()
                .filter(|f| h.contains_key(**f))
                .map(move |f| format!("{name} header carries {f}"))
        })
        .collect();
    Check::judge(
        "no forbidden header (jku/x5u/jwk/x5c/crit)",
        found.is_empty(),
        || found.join("; "),
    )
}

fn time_of(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims
        .get(name)
        .and_then(|v| numeric(v).ok())
        .map(|(t, _)| t)
}

fn lifetime_check(label: &str, claims: &Map<String, Value>, now: i64) -> Check {
    let rule = format!("{label} within its lifetime now");
    let exp = time_of(claims, "exp");
    let nbf = time_of(claims, "nbf");
    match (exp, nbf) {
        (None, _) => Check::fail(&rule, "no readable exp".into()),
        (Some(exp), _) if now > exp => Check::fail(&rule, expiry_phrase(exp, now)),
        (_, Some(nbf)) if now < nbf => Check::fail(
            &rule,
            format!(
                "not valid yet: nbf {}",
                crate::explain::relative_time(nbf, now)
            ),
        ),
        (Some(exp), _) => Check::new(&rule, CheckResult::Pass, Some(expiry_phrase(exp, now))),
    }
}

/// The realm of every principal-name claim, checked for agreement.
fn realms_check(named: &[(&str, Option<&str>)]) -> Check {
    let realms: Vec<(String, String)> = named
        .iter()
        .filter_map(|(label, v)| {
            let p = PrincipalName::parse((*v)?).ok()?;
            Some(((*label).to_owned(), p.realm))
        })
        .collect();
    let Some((_, first)) = realms.first() else {
        return Check::new(
            "realms agree",
            CheckResult::Skipped,
            Some("no principal names".into()),
        );
    };
    let disagree = realms.iter().any(|(_, r)| r != first);
    Check::judge("realms agree", !disagree, || {
        realms
            .iter()
            .map(|(l, r)| format!("{l} {r}"))
            .collect::<Vec<_>>()
            .join(", ")
    })
}

fn outer_rules(outer: &Compact<'_>, actor: Option<&Compact<'_>>, now: i64) -> Vec<Check> {
    let os = |k: &str| outer.claims.get(k).and_then(Value::as_str);
    let mut rules = Vec::new();
    rules.push(Check::judge(
        "outer alg none with an empty signature",
        is_none_alg(outer) && outer.signature_b64.is_empty(),
        || {
            format!(
                "outer alg {:?}, signature segment {}",
                outer.alg().unwrap_or("(none given)"),
                if outer.signature_b64.is_empty() {
                    "empty"
                } else {
                    "not empty"
                }
            )
        },
    ));
    let Some(actor) = actor else {
        rules.push(Check::fail(
            "actor token present",
            match outer.claims.get("actortoken") {
                None => "no actortoken claim: a bare unsigned token is never accepted".into(),
                Some(_) => "the actortoken claim does not decode".into(),
            },
        ));
        rules.push(forbidden_header_check(&[("outer", &outer.header)]));
        rules.push(lifetime_check("outer", &outer.claims, now));
        return rules;
    };
    let a = |k: &str| actor.claims.get(k).and_then(Value::as_str);
    rules.push(Check::judge(
        "outer iss = actor nameid",
        os("iss").is_some() && os("iss") == a("nameid"),
        || {
            format!(
                "outer iss {:?}, actor nameid {:?}",
                os("iss").unwrap_or(""),
                a("nameid").unwrap_or("")
            )
        },
    ));
    rules.push(realms_check(&[
        ("outer iss", os("iss")),
        ("outer aud", os("aud")),
        ("actor iss", a("iss")),
        ("actor aud", a("aud")),
        ("actor nameid", a("nameid")),
        ("actor identityprovider", a("identityprovider")),
    ]));
    rules.push(Check::judge(
        "outer aud = actor aud",
        os("aud").is_some() && os("aud") == a("aud"),
        || {
            format!(
                "outer aud {:?}, actor aud {:?}",
                os("aud").unwrap_or(""),
                a("aud").unwrap_or("")
            )
        },
    ));
    let (onbf, oexp) = (time_of(&outer.claims, "nbf"), time_of(&outer.claims, "exp"));
    let (anbf, aexp) = (time_of(&actor.claims, "nbf"), time_of(&actor.claims, "exp"));
    rules.push(match (onbf, oexp, anbf, aexp) {
        (Some(on), Some(oe), an, Some(ae)) => Check::judge(
            "outer lifetime inside actor's",
            an.is_none_or(|an| on >= an) && oe <= ae,
            || {
                format!(
                    "outer {on}..{oe}, actor {}..{ae}",
                    an.map_or("-".into(), |x| x.to_string())
                )
            },
        ),
        _ => Check::fail(
            "outer lifetime inside actor's",
            "nbf/exp missing or unreadable".into(),
        ),
    });
    rules.push(Check::judge(
        "trustedfordelegation",
        a("trustedfordelegation") == Some("true"),
        || {
            format!(
                "the actor's trustedfordelegation is {}: it cannot act for a user",
                actor
                    .claims
                    .get("trustedfordelegation")
                    .map_or("absent".into(), |v| v.to_string())
            )
        },
    ));
    rules.push(Check::judge(
        "alg none only on the outer layer",
        !is_none_alg(actor),
        || "the actor token is unsigned".into(),
    ));
    rules.push(Check::judge(
        "actor signed (RS256)",
        actor.alg() == Some("RS256") && !actor.signature_b64.is_empty(),
        || {
            format!(
                "actor alg {:?}, signature {}",
                actor.alg().unwrap_or("(none given)"),
                if actor.signature_b64.is_empty() {
                    "empty"
                } else {
                    "present"
                }
            )
        },
    ));
    rules.push(forbidden_header_check(&[
        ("outer", &outer.header),
        ("actor", &actor.header),
    ]));
    rules.push(Check::judge(
        "no nested actor",
        !actor.claims.contains_key("actortoken"),
        || "the actor token carries its own actortoken".into(),
    ));
    let names_user = ["smtp", "upn", "sip", "nameid"]
        .iter()
        .any(|k| outer.claims.contains_key(*k));
    rules.push(Check::judge("outer token names a user", names_user, || {
        "none of smtp, upn, sip, nameid".into()
    }));
    rules.push(lifetime_check("outer", &outer.claims, now));
    rules.push(lifetime_check("actor", &actor.claims, now));
    rules
}

fn single_rules(token: &Compact<'_>, now: i64) -> Vec<Check> {
    let s = |k: &str| token.claims.get(k).and_then(Value::as_str);
    vec![
        Check::judge(
            "alg none only on the outer layer",
            !is_none_alg(token),
            || "unsigned".into(),
        ),
        Check::judge(
            "signed (RS256)",
            token.alg() == Some("RS256") && !token.signature_b64.is_empty(),
            || format!("alg {:?}", token.alg().unwrap_or("(none given)")),
        ),
        forbidden_header_check(&[("token", &token.header)]),
        realms_check(&[
            ("iss", s("iss")),
            ("aud", s("aud")),
            ("nameid", s("nameid")),
        ]),
        Check::judge(
            "no nested actor",
            !token.claims.contains_key("actortoken"),
            || "a signed token carrying an actortoken".into(),
        ),
        lifetime_check("token", &token.claims, now),
    ]
}

/// Which validator stages apply, in the validator's order.
fn stages(kind: TokenKind) -> &'static [&'static str] {
    const USER: &[&str] = &[
        "outer envelope",
        "actor header",
        "issuer trusted",
        "signing key found",
        "signature",
        "signing certificate valid",
        "actor lifetime",
        "audience",
        "actor nameid and realms",
        "trusted for delegation",
        "outer iss = actor nameid",
        "outer aud = actor aud",
        "outer lifetime",
        "outer inside actor",
        "user named",
    ];
    const APP: &[&str] = &[
        "header",
        "issuer trusted",
        "signing key found",
        "signature",
        "signing certificate valid",
        "lifetime",
        "audience",
        "nameid and realms",
    ];
    match kind {
        TokenKind::S2sUser => USER,
        TokenKind::AppOnly | TokenKind::SelfIssued => APP,
        _ => &APP[..7],
    }
}

/// The stage an error belongs to (an index into `stages(kind)`).
fn stage_of(e: &TokenError, kind: TokenKind) -> Option<usize> {
    use TokenError::*;
    let user = kind == TokenKind::S2sUser;
    let outer = |w: &str| w == "outer";
    // stage names are looked up so the two lists stay in one place
    let name: &str = match e {
        TooLarge { .. } | Malformed(_) if !user => "header",
        TooLarge { .. } | Malformed(_) => "actor header",
        OuterNotEmptySignature
        | OuterAlgorithm { .. }
        | ActorTokenMissing
        | ActorTokenInvalid(_)
        | ForbiddenClaim(_) => "outer envelope",
        TypeNotAllowed { which, .. }
        | CriticalHeader { which, .. }
        | ForbiddenHeader { which, .. }
            if outer(which) =>
        {
            "outer envelope"
        }
        UnsignedNotAllowed { .. }
        | AlgorithmNotAllowed { .. }
        | AlgorithmMissing { .. }
        | TypeNotAllowed { .. }
        | CriticalHeader { .. }
        | ForbiddenHeader { .. }
        | MissingSignature { .. }
        | MalformedSignature { .. } => {
            if user {
                "actor header"
            } else {
                "header"
            }
        }
        IssuerMissing { .. } | IssuerNotTrusted { .. } => "issuer trusted",
        KeyIdMissing { .. } | KeyNotFound { .. } => "signing key found",
        InvalidSignature { .. } => "signature",
        SigningKeyNotValid { .. } => "signing certificate valid",
        InvalidClaimType { which, claim, .. } => match *claim {
            "iss" if !outer(which) => "issuer trusted",
            "x5t" | "kid" => "signing key found",
            "aud" if !outer(which) => "audience",
            "iss" => "outer iss = actor nameid",
            "aud" => "outer aud = actor aud",
            "nbf" | "exp" | "iat" if outer(which) => "outer lifetime",
            "nbf" | "exp" | "iat" if user => "actor lifetime",
            "nbf" | "exp" | "iat" => "lifetime",
            "nameid" if !outer(which) => {
                if user {
                    "actor nameid and realms"
                } else {
                    "nameid and realms"
                }
            }
            _ => "user named",
        },
        NoExpiration { which }
        | NoNotBefore { which }
        | NbfAfterExp { which, .. }
        | Expired { which, .. }
        | NotYetValid { which, .. }
        | LifetimeTooLong { which, .. } => {
            if outer(which) {
                "outer lifetime"
            } else if user {
                "actor lifetime"
            } else {
                "lifetime"
            }
        }
        AudienceMissing { .. } | AudienceMismatch { .. } => "audience",
        NestedActor | ActorNameIdInvalid(_) => {
            if user {
                "actor nameid and realms"
            } else {
                "nameid and realms"
            }
        }
        RealmMismatch { claim, .. } => {
            if claim.starts_with("the outer") {
                "outer aud = actor aud"
            } else if user {
                "actor nameid and realms"
            } else {
                "nameid and realms"
            }
        }
        NotTrustedForDelegation { .. } => "trusted for delegation",
        OuterIssuerMismatch { .. } => "outer iss = actor nameid",
        OuterAudienceMismatch { .. } => "outer aud = actor aud",
        OuterLifetimeOutsideActor { .. } => "outer inside actor",
        NoUserClaims => "user named",
        _ => return None,
    };
    stages(kind).iter().position(|s| *s == name)
}

fn verify(
    token: &str,
    kind: TokenKind,
    facts: &Facts,
    trust: &TrustMaterial,
    opts: &InspectOptions,
) -> SignatureReport {
    let signed = facts.signed.as_ref();
    let get = |k: &str| signed.and_then(|c| c.get(k)).and_then(Value::as_str);
    let token_iss = get("iss").unwrap_or_default().to_owned();
    let trusted_issuer = match trust {
        TrustMaterial::Metadata { issuer, .. } if !issuer.ends_with("@*") => issuer.clone(),
        _ => token_iss.clone(),
    };
    let realm = [get("iss"), get("nameid"), get("aud")]
        .into_iter()
        .flatten()
        .find_map(|s| PrincipalName::parse(s).ok())
        .map(|p| p.realm);
    let aud = get("aud").unwrap_or_default().to_owned();
    let mut policy = Policy::new(
        ExpectedAudience::Exact(vec![aud]),
        realm,
        vec![TrustedIssuer {
            issuer: trusted_issuer.clone(),
            keys: trust
                .certificates()
                .iter()
                .map(Certificate::verify_key)
                .collect(),
        }],
    );
    policy.skew_secs = opts.skew_secs;
    let result = match kind {
        TokenKind::S2sUser | TokenKind::AppOnly | TokenKind::SelfIssued => {
            validate_s2s(token, &policy, opts.now).map(|t| t.actor().key_x5t.clone())
        }
        _ => {
            policy.require_nbf = false;
            validate_signed(token, &policy, opts.now).map(|t| t.key_x5t)
        }
    };
    let names = stages(kind);
    let (verdict, failed, key, code, error) = match result {
        Ok(x5t) => (Verdict::Valid, None, Some(x5t), None, None),
        Err(e) => {
            let at = stage_of(&e, kind);
            (
                Verdict::Invalid,
                Some(at),
                None,
                Some(e.code().to_owned()),
                Some(e.to_string()),
            )
        }
    };
    let rules = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let result = match failed {
                None => CheckResult::Pass,
                Some(Some(at)) if i < at => CheckResult::Pass,
                Some(Some(at)) if i == at => CheckResult::Fail,
                _ => CheckResult::Skipped,
            };
            Check::new(name, result, None)
        })
        .collect();
    SignatureReport {
        verdict,
        against: Some(trust.source().to_owned()),
        trusted_issuer: Some(trusted_issuer),
        key_x5t: key,
        code,
        error,
        note: None,
        rules,
    }
}

/// Summary helpers for the renderer.
pub(crate) fn short(s: Option<&str>) -> String {
    s.map_or_else(|| "(none)".into(), short_principal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_token_forms() {
        assert_eq!(extract_token("  abc.def.  "), ("abc.def.", "token"));
        assert_eq!(
            extract_token("Bearer abc.def.ghi\n"),
            ("abc.def.ghi", "bearer")
        );
        assert_eq!(
            extract_token("authorization: bearer  abc.d.e"),
            ("abc.d.e", "header")
        );
        assert_eq!(
            extract_token("Authorization: Bearer abc.d.e\r\n"),
            ("abc.d.e", "header")
        );
        assert_eq!(extract_token("Bearerish.x.y"), ("Bearerish.x.y", "token"));
    }

    #[test]
    fn malformed_is_a_report_not_a_panic() {
        for input in ["", "x", "a.b", "!!.!!.!!", "Bearer ", "eyJ.eyJ."] {
            let r = inspect_token(input, &InspectOptions::new(0));
            assert_eq!(r.kind, TokenKind::Malformed, "{input}");
            assert_eq!(r.signature.verdict, Verdict::NotChecked);
            assert!(!r.errors.is_empty());
        }
    }
}
