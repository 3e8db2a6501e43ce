//! One-line explanations: principal names, well-known application ids, times, claims.

use s2s_proto::PrincipalName;
use s2s_proto::principal::{
    AAD_GRAPH_APP_ID, ACS_APP_ID, EXCHANGE_APP_ID, SHAREPOINT_APP_ID, SKYPE_APP_ID,
};
use serde_json::Value;

/// Longest claim value shown before it is cut.
const MAX_SHOWN: usize = 160;

/// The first 6 characters and `…`: how signatures, tokens and key ids are shown.
pub fn elide(s: &str) -> String {
    if s.is_empty() {
        return "(empty)".into();
    }
    let head: String = s.chars().take(6).collect();
    format!("{head}…")
}

/// True for strings shaped like a compact JWT (never shown whole).
pub(crate) fn looks_like_jwt(s: &str) -> bool {
    s.starts_with("eyJ") && s.matches('.').count() >= 2
}

/// The well-known name of an application id (spec/protocol.md §1).
pub fn well_known_app(app_id: &str) -> Option<&'static str> {
    match app_id.to_ascii_lowercase().as_str() {
        ACS_APP_ID => Some("ACS"),
        EXCHANGE_APP_ID => Some("Exchange"),
        SHAREPOINT_APP_ID => Some("SharePoint"),
        SKYPE_APP_ID => Some("Skype for Business"),
        AAD_GRAPH_APP_ID => Some("AAD Graph"),
        "00000003-0000-0000-c000-000000000000" => Some("Microsoft Graph"),
        _ => None,
    }
}

fn is_guid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// `00000004-…` for a GUID app id, the value otherwise.
pub(crate) fn short_app(app_id: &str) -> String {
    if is_guid(app_id) {
        format!("{}…", &app_id[..9])
    } else {
        clip(app_id, 40)
    }
}

/// `3f0c…e9` for a GUID realm, the value otherwise (a domain).
pub(crate) fn short_realm(realm: &str) -> String {
    if is_guid(realm) {
        format!("{}…{}", &realm[..4], &realm[34..])
    } else {
        clip(realm, 60)
    }
}

/// A principal name shortened for the summary lines: `00000004-…@3f0c…e9`.
pub(crate) fn short_principal(s: &str) -> String {
    match PrincipalName::parse(s) {
        Ok(p) => match &p.host {
            Some(h) => format!(
                "{}/{}@{}",
                short_app(&p.app_id),
                clip(h, 60),
                short_realm(&p.realm)
            ),
            None => format!("{}@{}", short_app(&p.app_id), short_realm(&p.realm)),
        },
        Err(_) => clip(s, 80),
    }
}

/// `Skype for Business (00000004-…) at host h, realm 3f0c…e9`.
pub fn describe_principal(s: &str) -> Option<String> {
    let p = PrincipalName::parse(s).ok()?;
    let app = match well_known_app(&p.app_id) {
        Some(name) => format!("{name} ({})", short_app(&p.app_id)),
        None => format!("app {}", short_app(&p.app_id)),
    };
    let host = p
        .host
        .as_ref()
        .map(|h| format!(" at host {}", clip(h, 80)))
        .unwrap_or_default();
    Some(format!("{app}{host}, realm {}", short_realm(&p.realm)))
}

pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let head: String = s.chars().take(max).collect();
        format!("{head}…")
    }
}

/// ISO 8601 UTC, seconds precision: `2023-11-14T22:13:20Z`.
pub fn format_time(unix: i64) -> String {
    s2s_proto::clock::rfc3339(unix).unwrap_or_else(|| format!("{unix} (out of range)"))
}

fn span(secs: i64) -> String {
    let s = secs.unsigned_abs();
    if s < 90 {
        format!("{s} s")
    } else if s < 90 * 60 {
        format!("{} min", s / 60)
    } else if s < 48 * 3600 {
        format!("{} h", s / 3600)
    } else {
        format!("{} d", s / 86_400)
    }
}

/// `in 3 h` / `2 h ago` relative to `now`.
pub fn relative_time(unix: i64, now: i64) -> String {
    let d = unix.saturating_sub(now);
    if d == 0 {
        "now".into()
    } else if d > 0 {
        format!("in {}", span(d))
    } else {
        format!("{} ago", span(d))
    }
}

/// `exp` relative to now: `expires in 3 h` / `expired 2 h ago`.
pub(crate) fn expiry_phrase(exp: i64, now: i64) -> String {
    if exp >= now {
        format!("expires {}", relative_time(exp, now))
    } else {
        format!("expired {}", relative_time(exp, now))
    }
}

/// A NumericDate claim: an integer or a string of digits. `Err` describes a bad value.
pub(crate) fn numeric(v: &Value) -> Result<(i64, bool), String> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(|x| (x, false))
            .ok_or_else(|| format!("{n} is not an integer")),
        Value::String(s)
            if !s.is_empty() && s.len() <= 12 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse::<i64>()
                .map(|x| (x, true))
                .map_err(|e| e.to_string())
        }
        other => Err(format!("{} is not a NumericDate", compact_json(other))),
    }
}

/// A claim value as shown: strings as they are (cut when long, elided when a token), other JSON
/// compactly.
pub(crate) fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) if looks_like_jwt(s) => format!("{} (token elided)", elide(s)),
        Value::String(s) => clip(s, MAX_SHOWN),
        other => compact_json(other),
    }
}

pub(crate) fn compact_json(v: &Value) -> String {
    let s = match v {
        Value::String(s) if looks_like_jwt(s) => return elide(s),
        Value::Object(m) => {
            // never echo nested tokens
            let cleaned: serde_json::Map<String, Value> =
                m.iter().map(|(k, v)| (k.clone(), scrub(v))).collect();
            Value::Object(cleaned).to_string()
        }
        Value::Array(a) => Value::Array(a.iter().map(scrub).collect()).to_string(),
        other => other.to_string(),
    };
    clip(&s, MAX_SHOWN)
}

/// Replaces token-shaped strings anywhere in a JSON value by their elided form.
pub(crate) fn scrub(v: &Value) -> Value {
    match v {
        Value::String(s) if looks_like_jwt(s) => Value::String(elide(s)),
        Value::Array(a) => Value::Array(a.iter().map(scrub).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), scrub(v))).collect()),
        other => other.clone(),
    }
}

/// The order claims are listed in: the protocol's own first, then the rest alphabetically.
pub(crate) const CLAIM_ORDER: [&str; 20] = [
    "aud",
    "iss",
    "nbf",
    "exp",
    "iat",
    "nameid",
    "nii",
    "upn",
    "smtp",
    "sip",
    "trustedfordelegation",
    "identityprovider",
    "oid",
    "sub",
    "jti",
    "tid",
    "appid",
    "ver",
    "actortoken",
    "appctx",
];

/// Which layer a claim sits in, for explanations that differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    Outer,
    Signed,
}

fn user_id_kind(v: &str, nii: Option<&str>) -> &'static str {
    let nii = nii.map(str::to_ascii_lowercase);
    if v.to_ascii_lowercase().starts_with("s-1-") {
        "an on-premises AD SID"
    } else if nii.as_deref() == Some("urn:federation:microsoftonline")
        || (v.len() == 16 && v.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        "an Entra NetID/PUID"
    } else if v.contains('@') {
        "a UPN"
    } else {
        "an opaque id"
    }
}

/// The one-line meaning of `name` = `v` in a layer.
pub(crate) fn explain_claim(
    name: &str,
    v: &Value,
    which: Which,
    siblings: &serde_json::Map<String, Value>,
    now: i64,
) -> String {
    let s = v.as_str();
    let principal = |role: &str| match s.and_then(describe_principal) {
        Some(d) => format!("{role}: {d}"),
        None => format!("{role} (not a principal name <appid>[/<host>]@<realm>)"),
    };
    let time_claim = |role: &str| match numeric(v) {
        Ok((t, as_string)) => format!(
            "{role} {} ({}){}",
            format_time(t),
            if name == "exp" && t < now {
                expiry_phrase(t, now)
            } else {
                relative_time(t, now)
            },
            if as_string { ", sent as a string" } else { "" }
        ),
        Err(e) => format!("{role}: unreadable ({e})"),
    };
    match name {
        "aud" => principal("audience"),
        "iss" => match which {
            Which::Outer => principal("issuer, the application asserting the user"),
            Which::Signed => {
                let acs = s
                    .and_then(|x| PrincipalName::parse(x).ok())
                    .is_some_and(|p| p.app_id.eq_ignore_ascii_case(ACS_APP_ID));
                if acs {
                    principal("issuer, the token service (STS)")
                } else {
                    principal("issuer (self-issued)")
                }
            }
        },
        "nbf" => time_claim("not before"),
        "exp" => time_claim("expires"),
        "iat" => time_claim("issued at"),
        "nameid" => match which {
            Which::Signed => principal("calling application"),
            Which::Outer => format!(
                "user id, {}",
                user_id_kind(
                    s.unwrap_or_default(),
                    siblings.get("nii").and_then(Value::as_str)
                )
            ),
        },
        "nii" => match s.map(str::to_ascii_lowercase).as_deref() {
            Some("urn:federation:microsoftonline") => {
                "name-id issuer: Entra ID (cloud user)".into()
            }
            Some("urn:office:idp:activedirectory") => {
                "name-id issuer: on-premises Active Directory (SID)".into()
            }
            Some(x) if x.starts_with("trusted:") => {
                "name-id issuer: a trusted SAML provider".into()
            }
            _ => "name-id issuer (unrecognised value)".into(),
        },
        "upn" => "the user's UPN".into(),
        "smtp" => "the user's primary SMTP address".into(),
        "sip" => "the user's SIP address".into(),
        "actortoken" => match which {
            Which::Outer => "the signed actor token (decoded as the actor layer)".into(),
            Which::Signed => "a nested actor inside a signed token: never accepted".into(),
        },
        "trustedfordelegation" => match s {
            Some("true") => "true: the application may act for users".into(),
            Some("false") => "false: app-only, may not act for users".into(),
            _ => "trusted for delegation: unexpected value (must be the string \"true\"/\"false\")"
                .into(),
        },
        "identityprovider" => match s.and_then(describe_principal) {
            Some(d) => format!("identity provider: {d}"),
            None => "identity provider ([MS-XOAUTH]: windows, forms or trusted)".into(),
        },
        "oid" => "object id of the calling service principal in the tenant".into(),
        "sub" => "subject (ACS: the service principal's object id; assertions: the client)".into(),
        "jti" => "token id".into(),
        "tid" => "tenant id".into(),
        "appid" | "azp" | "appidacr" => "application id (Entra ID access token claim)".into(),
        "xms_spcu" | "rh" | "uti" | "xms_tcdt" => "ACS/Entra internal, opaque; ignored".into(),
        "ver" => match which {
            Which::Outer => "token version: never belongs in an S2S outer token".into(),
            Which::Signed => "token format version (ACS); informational".into(),
        },
        "appctx" | "appctxsender" | "isbrowserhostedapp" | "refreshtoken" => {
            "not an S2S claim: SharePoint context / Outlook add-in tokens only".into()
        }
        "isloopback" | "endpointurl" | "endpointurlLength" | "amurl" => {
            "Exchange add-in identity-token claim: never in an S2S token".into()
        }
        _ => "not a known S2S claim".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortening_and_names() {
        assert_eq!(elide("abcdefghij"), "abcdef…");
        assert_eq!(elide(""), "(empty)");
        assert_eq!(
            short_principal(
                "00000004-0000-0ff1-ce00-000000000000@3f0c8f6e-1111-4222-8333-0123456789e9"
            ),
            "00000004-…@3f0c…e9"
        );
        assert_eq!(well_known_app(SKYPE_APP_ID), Some("Skype for Business"));
        assert_eq!(well_known_app(AAD_GRAPH_APP_ID), Some("AAD Graph"));
        assert_eq!(
            describe_principal("00000002-0000-0ff1-ce00-000000000000/mail.x@contoso.example")
                .unwrap(),
            "Exchange (00000002-…) at host mail.x, realm contoso.example"
        );
    }

    #[test]
    fn times() {
        assert_eq!(format_time(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(relative_time(1000 + 3 * 3600, 1000), "in 3 h");
        assert_eq!(expiry_phrase(1000, 1000 + 7200), "expired 2 h ago");
        assert_eq!(relative_time(100, 100), "now");
        assert_eq!(numeric(&Value::from("17")).unwrap(), (17, true));
        assert!(numeric(&Value::from("1.5")).is_err());
        assert!(numeric(&Value::from(1.5)).is_err());
    }
}
