//! HAR 1.2 captures: every S2S token, challenge and Basic authorization in them.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::InspectError;
use crate::explain::clip;
use crate::report::{InspectOptions, Report, TrustMaterial, Verdict, inspect_token};

/// Largest HAR file read (256 MiB).
pub const MAX_HAR_BYTES: usize = 256 << 20;
/// Most entries read.
pub const MAX_HAR_ENTRIES: usize = 1_000_000;

/// Options for [`har_report_with`].
#[derive(Debug, Clone, Default)]
pub struct HarOptions {
    /// Keys to verify tokens with (else every verdict is NOT CHECKED).
    pub trust: Option<TrustMaterial>,
    /// Judge lifetimes at this instant instead of each entry's `startedDateTime`.
    pub now: Option<i64>,
}

/// A `WWW-Authenticate` challenge (realm discovery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Challenge {
    pub scheme: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    pub trusted_issuers: Vec<String>,
    /// Every parameter as sent.
    pub params: BTreeMap<String, String>,
}

/// What was found.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum HarFindingKind {
    /// A bearer token in a request's Authorization header.
    Bearer { report: Box<Report> },
    /// `Authorization: Bearer` with no token: a realm-discovery probe.
    EmptyBearer,
    /// The same token as an earlier finding.
    Repeated {
        first_entry: usize,
        location: String,
    },
    /// Basic authorization: the user name only; the password is never reported.
    Basic { user: Option<String> },
    /// A `WWW-Authenticate` challenge.
    Challenge { challenge: Challenge },
    /// `access_token` in a token-endpoint response.
    AccessToken { report: Box<Report> },
    /// `client_assertion` in a token request.
    ClientAssertion { report: Box<Report> },
    /// A secret in a token request (`client_secret`, `password`); the value is never reported.
    Secret { field: String },
}

/// One finding, with where it was.
#[derive(Debug, Clone, Serialize)]
pub struct HarFinding {
    /// 1-based entry number.
    pub entry: usize,
    pub method: String,
    /// The URL without its query (shown as `?…`).
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(flatten)]
    pub kind: HarFindingKind,
}

/// The HAR report; render with [`HarReport::to_text`] or serialise.
#[derive(Debug, Clone, Serialize)]
pub struct HarReport {
    pub entries: usize,
    /// Distinct S2S/JWT tokens inspected.
    pub tokens: usize,
    /// Requests with Basic authorization.
    pub basic: usize,
    /// Requests that carried a password or secret (Basic, `client_secret`, `password`).
    pub passwords: usize,
    pub challenges: usize,
    pub findings: Vec<HarFinding>,
    pub notes: Vec<String>,
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn headers(v: Option<&Value>) -> Vec<(&str, &str)> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|h| Some((s(h, "name")?, s(h, "value")?)))
                .collect()
        })
        .unwrap_or_default()
}

fn url_without_query(u: &str) -> String {
    match u.split_once('?') {
        Some((base, _)) => format!("{}?…", clip(base, 200)),
        None => clip(u, 200),
    }
}

/// Parses `WWW-Authenticate` into its challenges (`Bearer k="v", … , Basic realm="x"`).
pub(crate) fn parse_challenges(value: &str) -> Vec<Challenge> {
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let chars: Vec<char> = value.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        while i < chars.len() && (chars[i].is_whitespace() || chars[i] == ',') {
            i += 1;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '=' && chars[i] != ',' {
            i += 1;
        }
        let word: String = chars[start..i].iter().collect();
        if word.is_empty() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if j < chars.len() && chars[j] == '=' {
            // a parameter of the current challenge
            j += 1;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let mut val = String::new();
            if j < chars.len() && chars[j] == '"' {
                j += 1;
                while j < chars.len() && chars[j] != '"' {
                    if chars[j] == '\\' && j + 1 < chars.len() {
                        j += 1;
                    }
                    val.push(chars[j]);
                    j += 1;
                }
                j += 1;
            } else {
                while j < chars.len() && chars[j] != ',' && !chars[j].is_whitespace() {
                    val.push(chars[j]);
                    j += 1;
                }
            }
            match out.last_mut() {
                Some((_, params)) => params.push((word.to_ascii_lowercase(), val)),
                None => out.push((String::new(), vec![(word.to_ascii_lowercase(), val)])),
            }
            i = j;
        } else {
            out.push((word, Vec::new()));
            i = j;
        }
    }
    out.into_iter()
        .map(|(scheme, params)| {
            let params: BTreeMap<String, String> = params
                .into_iter()
                .map(|(k, v)| (k, clip(&v, 500)))
                .collect();
            Challenge {
                realm: params.get("realm").cloned(),
                client_id: params.get("client_id").cloned(),
                trusted_issuers: params
                    .get("trusted_issuers")
                    .map(|t| {
                        t.split(',')
                            .map(|x| x.trim().to_owned())
                            .filter(|x| !x.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                scheme,
                params,
            }
        })
        .collect()
}

fn parse_time(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

fn form_fields(post: &Value) -> Vec<(String, String)> {
    if let Some(params) = post.get("params").and_then(Value::as_array)
        && !params.is_empty()
    {
        return params
            .iter()
            .filter_map(|p| {
                Some((
                    s(p, "name")?.to_owned(),
                    s(p, "value").unwrap_or_default().to_owned(),
                ))
            })
            .collect();
    }
    let mime = s(post, "mimeType").unwrap_or_default().to_ascii_lowercase();
    let text = s(post, "text").unwrap_or_default();
    if mime.contains("x-www-form-urlencoded")
        || (!text.trim_start().starts_with(['{', '[', '<']) && text.contains('='))
    {
        serde_urlencoded::from_str::<Vec<(String, String)>>(text).unwrap_or_default()
    } else {
        Vec::new()
    }
}

fn response_json(content: Option<&Value>) -> Option<Value> {
    let c = content?;
    let text = s(c, "text")?;
    let decoded;
    let body = if s(c, "encoding").is_some_and(|e| e.eq_ignore_ascii_case("base64")) {
        decoded = String::from_utf8(s2s_proto::b64::std_decode(text).ok()?).ok()?;
        decoded.as_str()
    } else {
        text
    };
    let body = body.trim_start();
    if !body.starts_with('{') {
        return None;
    }
    serde_json::from_str(body).ok()
}

fn basic_user(credentials: &str) -> Option<String> {
    let raw = s2s_proto::b64::std_decode(credentials.trim()).ok()?;
    let text = String::from_utf8_lossy(&raw);
    // the user is what precedes the first ':'; the rest (the password) is dropped here
    let user = text.split(':').next()?;
    Some(clip(user, 120))
}

/// Reads a HAR capture with default options: tokens are judged at each entry's
/// `startedDateTime`, signatures are NOT CHECKED.
pub fn har_report(har_json: &[u8]) -> Result<HarReport, InspectError> {
    har_report_with(har_json, &HarOptions::default())
}

/// Reads a HAR capture; `opts` may give trust material and a fixed `now`.
pub fn har_report_with(har_json: &[u8], opts: &HarOptions) -> Result<HarReport, InspectError> {
    if har_json.len() > MAX_HAR_BYTES {
        return Err(InspectError::HarTooLarge {
            size: har_json.len(),
            max: MAX_HAR_BYTES,
        });
    }
    let har: Value =
        serde_json::from_slice(har_json).map_err(|e| InspectError::HarFormat(e.to_string()))?;
    let entries = har
        .get("log")
        .and_then(|l| l.get("entries"))
        .and_then(Value::as_array)
        .ok_or_else(|| InspectError::HarFormat("no log.entries array".into()))?;
    if entries.len() > MAX_HAR_ENTRIES {
        return Err(InspectError::HarTooManyEntries {
            count: entries.len(),
            max: MAX_HAR_ENTRIES,
        });
    }
    let mut report = HarReport {
        entries: entries.len(),
        tokens: 0,
        basic: 0,
        passwords: 0,
        challenges: 0,
        findings: Vec::new(),
        notes: Vec::new(),
    };
    let fallback_now = entries
        .iter()
        .filter_map(|e| s(e, "startedDateTime").and_then(parse_time))
        .max();
    if opts.now.is_none() && fallback_now.is_none() && !entries.is_empty() {
        report.notes.push(
            "no entry has a readable startedDateTime: lifetimes are judged at 1970-01-01".into(),
        );
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (idx, e) in entries.iter().enumerate() {
        let n = idx + 1;
        let req = e.get("request").unwrap_or(&Value::Null);
        let resp = e.get("response").unwrap_or(&Value::Null);
        let now = opts
            .now
            .or_else(|| s(e, "startedDateTime").and_then(parse_time))
            .or(fallback_now)
            .unwrap_or(0);
        let mut iopts = InspectOptions::new(now);
        iopts.trust = opts.trust.clone();
        let method = s(req, "method").unwrap_or("?").to_owned();
        let url = url_without_query(s(req, "url").unwrap_or("?"));
        let status = resp.get("status").and_then(Value::as_i64);
        let mut push = |kind: HarFindingKind| {
            report.findings.push(HarFinding {
                entry: n,
                method: method.clone(),
                url: url.clone(),
                status,
                kind,
            })
        };
        let mut token = |t: &str,
                         location: &str,
                         make: fn(Box<Report>) -> HarFindingKind,
                         tokens: &mut usize| {
            if let Some(first) = seen.get(t) {
                return HarFindingKind::Repeated {
                    first_entry: *first,
                    location: location.into(),
                };
            }
            seen.insert(t.to_owned(), n);
            *tokens += 1;
            make(Box::new(inspect_token(t, &iopts)))
        };
        for (name, value) in headers(req.get("headers")) {
            if !name.eq_ignore_ascii_case("authorization") {
                continue;
            }
            let v = value.trim();
            let (scheme, rest) = v.split_once(char::is_whitespace).unwrap_or((v, ""));
            if scheme.eq_ignore_ascii_case("bearer") {
                if rest.trim().is_empty() {
                    push(HarFindingKind::EmptyBearer);
                } else {
                    let k = token(
                        rest.trim(),
                        "Authorization",
                        |r| HarFindingKind::Bearer { report: r },
                        &mut report.tokens,
                    );
                    push(k);
                }
            } else if scheme.eq_ignore_ascii_case("basic") {
                report.basic += 1;
                report.passwords += 1;
                push(HarFindingKind::Basic {
                    user: basic_user(rest),
                });
            }
        }
        if let Some(post) = req.get("postData") {
            for (k, v) in form_fields(post) {
                match k.as_str() {
                    "client_assertion" if !v.is_empty() => {
                        let f = token(
                            &v,
                            "client_assertion",
                            |r| HarFindingKind::ClientAssertion { report: r },
                            &mut report.tokens,
                        );
                        push(f);
                    }
                    "client_secret" | "password" if !v.is_empty() => {
                        report.passwords += 1;
                        push(HarFindingKind::Secret { field: k.clone() });
                    }
                    _ => {}
                }
            }
        }
        for (name, value) in headers(resp.get("headers")) {
            if name.eq_ignore_ascii_case("www-authenticate") {
                for c in parse_challenges(value) {
                    report.challenges += 1;
                    push(HarFindingKind::Challenge { challenge: c });
                }
            }
        }
        if let Some(Value::String(at)) = response_json(resp.get("content"))
            .as_ref()
            .and_then(|j| j.get("access_token"))
        {
            let f = token(
                at,
                "access_token",
                |r| HarFindingKind::AccessToken { report: r },
                &mut report.tokens,
            );
            push(f);
        }
    }
    Ok(report)
}

impl HarReport {
    /// The summary line: `N entries · M tokens · B Basic · P passwords · C challenges`.
    pub fn summary_line(&self) -> String {
        format!(
            "{} entries · {} token{} · {} Basic · {} password{} (never shown) · {} challenge{}",
            self.entries,
            self.tokens,
            if self.tokens == 1 { "" } else { "s" },
            self.basic,
            self.passwords,
            if self.passwords == 1 { "" } else { "s" },
            self.challenges,
            if self.challenges == 1 { "" } else { "s" },
        )
    }

    /// The text rendering: one block per finding, then the summary line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        let mut last_entry = 0;
        for f in &self.findings {
            if f.entry != last_entry {
                let status = f.status.map(|s| format!(" → {s}")).unwrap_or_default();
                let _ = writeln!(out, "#{} {} {}{status}", f.entry, f.method, f.url);
                last_entry = f.entry;
            }
            let block = |label: &str, r: &Report| {
                let mut b = format!("  {label}: ");
                for (i, line) in r.summary_text().lines().enumerate() {
                    if i > 0 {
                        b.push_str("  ");
                    }
                    b.push_str(line);
                    b.push('\n');
                }
                b
            };
            match &f.kind {
                HarFindingKind::Bearer { report } => {
                    out.push_str(&block("Authorization Bearer", report))
                }
                HarFindingKind::AccessToken { report } => {
                    out.push_str(&block("access_token in the response", report))
                }
                HarFindingKind::ClientAssertion { report } => {
                    out.push_str(&block("client_assertion in the request", report))
                }
                HarFindingKind::EmptyBearer => {
                    let _ = writeln!(
                        out,
                        "  Authorization Bearer (empty): a realm-discovery probe"
                    );
                }
                HarFindingKind::Repeated {
                    first_entry,
                    location,
                } => {
                    let _ = writeln!(out, "  {location}: the same token as entry #{first_entry}");
                }
                HarFindingKind::Basic { user } => {
                    let _ = writeln!(
                        out,
                        "  ⚠ Authorization Basic: user {} (a password was sent; not shown)",
                        user.as_deref().unwrap_or("(undecodable)")
                    );
                }
                HarFindingKind::Secret { field } => {
                    let _ = writeln!(out, "  ⚠ {field} in the request body (value not shown)");
                }
                HarFindingKind::Challenge { challenge } => {
                    let mut line = format!("  challenge {}", challenge.scheme);
                    if let Some(r) = &challenge.realm {
                        let _ = write!(line, " realm {r}");
                    }
                    if let Some(c) = &challenge.client_id {
                        let name = crate::explain::well_known_app(c)
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default();
                        let _ = write!(line, " client_id {c}{name}");
                    }
                    if !challenge.trusted_issuers.is_empty() {
                        let _ = write!(
                            line,
                            " trusted_issuers {}",
                            challenge.trusted_issuers.join(", ")
                        );
                    }
                    for (k, v) in &challenge.params {
                        if !matches!(k.as_str(), "realm" | "client_id" | "trusted_issuers") {
                            let _ = write!(line, " {k} {v}");
                        }
                    }
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        let _ = writeln!(out, "{}", self.summary_line());
        out
    }

    /// Tokens whose verdict was VALID / INVALID / NOT CHECKED.
    pub fn verdicts(&self) -> Vec<Verdict> {
        self.findings
            .iter()
            .filter_map(|f| match &f.kind {
                HarFindingKind::Bearer { report }
                | HarFindingKind::AccessToken { report }
                | HarFindingKind::ClientAssertion { report } => Some(report.signature.verdict),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exchange_challenge() {
        let v = r#"Bearer client_id="00000002-0000-0ff1-ce00-000000000000", trusted_issuers="00000001-0000-0000-c000-000000000000@r1,00000004-0000-0ff1-ce00-000000000000@contoso.com", token_types="app_asserted_user_v1 service_asserted_app_v1", authorization_uri="https://login/x", Basic realm="mail.contoso.com""#;
        let c = parse_challenges(v);
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(c[0].scheme, "Bearer");
        assert_eq!(
            c[0].client_id.as_deref(),
            Some("00000002-0000-0ff1-ce00-000000000000")
        );
        assert_eq!(c[0].trusted_issuers.len(), 2);
        assert_eq!(
            c[0].params["token_types"],
            "app_asserted_user_v1 service_asserted_app_v1"
        );
        assert_eq!(c[1].scheme, "Basic");
        assert_eq!(c[1].realm.as_deref(), Some("mail.contoso.com"));
        assert_eq!(parse_challenges("Negotiate").len(), 1);
        assert!(parse_challenges("").is_empty());
        // unterminated quotes and stray characters do not panic
        for junk in ["Bearer realm=\"x", "=,=,\"", "Bearer a=\\", ",,,  =x"] {
            let _ = parse_challenges(junk);
        }
    }

    #[test]
    fn bounds_and_format_errors() {
        assert!(matches!(
            har_report(b"not json"),
            Err(InspectError::HarFormat(_))
        ));
        assert!(matches!(
            har_report(b"{\"log\":{}}"),
            Err(InspectError::HarFormat(_))
        ));
        let r = har_report(br#"{"log":{"version":"1.2","entries":[]}}"#).unwrap();
        assert_eq!(r.entries, 0);
        assert_eq!(basic_user("YWxpY2U6czNjcmV0").as_deref(), Some("alice"));
    }
}
