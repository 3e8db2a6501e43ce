//! Shapes of names the admin API accepts: GUIDs, domains, hosts, service principal names, dates.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{StsError, clip};

/// Most ServicePrincipalNames on one principal.
pub(crate) const MAX_SPNS: usize = 100;
/// Longest SPN accepted.
pub(crate) const MAX_SPN_LEN: usize = 256;

/// Parses a GUID and returns it lower-case hyphenated.
pub(crate) fn guid(value: &str) -> Option<String> {
    if value.len() != 36 {
        return None;
    }
    uuid::Uuid::parse_str(value)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// Like [`guid`], refusing with the parameter's name.
pub(crate) fn require_guid(name: &'static str, value: &str) -> Result<String, StsError> {
    guid(value).ok_or_else(|| StsError::InvalidParameter {
        name,
        reason: format!(
            "{:?} is not a GUID (expected the form 00000000-0000-0000-0000-000000000000)",
            clip(value, 60)
        ),
    })
}

/// How a realm-or-domain argument is looked up: a realm by its GUID (any case), anything else as
/// a domain (lower case, without a trailing dot), the form [`domain`] stores.
pub(crate) enum TenantKey {
    Realm(String),
    Domain(String),
}

pub(crate) fn tenant_key(realm_or_domain: &str) -> TenantKey {
    match guid(realm_or_domain) {
        Some(g) => TenantKey::Realm(g),
        None => TenantKey::Domain(domain_key(realm_or_domain)),
    }
}

fn domain_key(value: &str) -> String {
    value.trim_end_matches('.').to_ascii_lowercase()
}

/// Checks a DNS domain name (at least two labels, the last not numeric) and lower-cases it.
pub(crate) fn domain(value: &str) -> Result<String, StsError> {
    let bad = |reason: &str| StsError::InvalidDomain {
        domain: clip(value, 100),
        reason: reason.to_owned(),
    };
    let d = domain_key(value);
    if d.is_empty() || d.len() > 253 {
        return Err(bad("a domain has 1 to 253 characters"));
    }
    let labels: Vec<&str> = d.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("a domain has at least two labels"));
    }
    for l in &labels {
        if !dns_label(l) {
            return Err(bad(
                "each label has 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen",
            ));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad(
            "the last label is numeric; an IP address is not a domain",
        ));
    }
    Ok(d)
}

fn dns_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// Is `h` a host as it appears in an SPN or resource: a DNS name or IPv4 address, optionally
/// `*.` in front (when `wildcard`), optionally `:port`, or a bracketed IPv6 literal.
pub(crate) fn host(h: &str, wildcard: bool) -> Result<(), String> {
    if h.is_empty() || h.len() > 255 {
        return Err("the host has 1 to 255 characters".into());
    }
    let (name, port) = if let Some(rest) = h.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return Err("an IPv6 host is written [address]".into());
        };
        if v6.is_empty()
            || !v6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(
                "the IPv6 address has characters other than hex digits, ':' and '.'".into(),
            );
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or("only ':port' may follow ']'")?),
        };
        (None, port)
    } else {
        match h.rsplit_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(h), None),
        }
    };
    if let Some(p) = port
        && (p.is_empty()
            || p.len() > 5
            || !p.bytes().all(|b| b.is_ascii_digit())
            || p.parse::<u32>().map_or(true, |n| n == 0 || n > 65535))
    {
        return Err("the port is not a number from 1 to 65535".into());
    }
    if let Some(n) = name {
        let n = match n.strip_prefix("*.") {
            Some(rest) if wildcard => rest,
            Some(_) => return Err("a wildcard is not allowed here".into()),
            None => n,
        };
        if n.is_empty() || !n.split('.').all(dns_label) {
            return Err(
                "the host is not a DNS name: labels of letters, digits and hyphens separated by dots"
                    .into(),
            );
        }
    }
    Ok(())
}

/// Validates one ServicePrincipalName of the principal `app_id`: the bare app id,
/// `<app_id>/<host>` (host may be `*.domain`), or an absolute http(s) URI.
pub(crate) fn spn(app_id: &str, value: &str) -> Result<String, StsError> {
    let bad = |reason: String| StsError::InvalidSpn {
        spn: clip(value, 100),
        reason,
    };
    if value.is_empty() || value.len() > MAX_SPN_LEN {
        return Err(bad(format!("an SPN has 1 to {MAX_SPN_LEN} characters")));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "an SPN contains no whitespace or control characters".into()
        ));
    }
    let lower = value.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok(value.to_owned());
    }
    let (app, h) = match value.split_once('/') {
        Some((a, h)) => (a, Some(h)),
        None => (value, None),
    };
    if !app.eq_ignore_ascii_case(app_id) {
        return Err(bad(format!(
            "an SPN of this principal is its AppPrincipalId {app_id}, {app_id}/<host>, or an http(s) URI"
        )));
    }
    match h {
        None => Ok(app_id.to_owned()),
        Some(h) => {
            host(h, true).map_err(bad)?;
            Ok(format!("{app_id}/{h}"))
        }
    }
}

/// Validates a whole SPN list for `app_id`: each entry, no duplicates (ignoring case), at most
/// [`MAX_SPNS`], and the bare app id kept (added first when missing).
pub(crate) fn spn_list(app_id: &str, values: &[String]) -> Result<Vec<String>, StsError> {
    if values.len() > MAX_SPNS {
        return Err(StsError::InvalidParameter {
            name: "ServicePrincipalNames",
            reason: format!("at most {MAX_SPNS} names are accepted"),
        });
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len() + 1);
    for v in values {
        let s = spn(app_id, v)?;
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&s)) {
            out.push(s);
        }
    }
    if !out.iter().any(|o| o == app_id) {
        out.insert(0, app_id.to_owned());
    }
    Ok(out)
}

/// Parses an ISO 8601 date as the admin API accepts it: RFC 3339, `YYYY-MM-DDTHH:MM:SS` (UTC) or
/// `YYYY-MM-DD` (midnight UTC). Sub-seconds are dropped.
pub(crate) fn date(name: &'static str, value: &str) -> Result<OffsetDateTime, StsError> {
    let v = value.trim();
    let parsed = OffsetDateTime::parse(v, &Rfc3339)
        .ok()
        .or_else(|| {
            let fmt =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            time::PrimitiveDateTime::parse(v, &fmt)
                .ok()
                .map(|p| p.assume_utc())
        })
        .or_else(|| {
            let fmt = time::macros::format_description!("[year]-[month]-[day]");
            time::Date::parse(v, &fmt)
                .ok()
                .map(|d| d.midnight().assume_utc())
        });
    match parsed {
        Some(t) => Ok(t
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(t)),
        None => Err(StsError::InvalidParameter {
            name,
            reason: format!(
                "{:?} is not an ISO 8601 date (e.g. 2027-01-31T00:00:00Z)",
                clip(value, 40)
            ),
        }),
    }
}

/// Unix seconds to a UTC date-time.
pub(crate) fn from_unix(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The authority (`host[:port]`) of an http(s) URL.
pub(crate) fn url_authority(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let auth = &rest[..end];
    (!auth.is_empty() && !auth.contains('@')).then_some(auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXO: &str = "00000002-0000-0ff1-ce00-000000000000";

    #[test]
    fn guids() {
        assert_eq!(
            guid("3F0C8F6E-1111-4222-8333-0123456789E9").as_deref(),
            Some("3f0c8f6e-1111-4222-8333-0123456789e9")
        );
        assert_eq!(guid("3f0c8f6e111142228333012345678 9e9"), None);
        assert_eq!(guid("{3f0c8f6e-1111-4222-8333-0123456789e9}"), None);
        assert!(require_guid("X", "nope").is_err());
    }

    #[test]
    fn domains() {
        assert_eq!(domain("Contoso.Example.").unwrap(), "contoso.example");
        for bad in [
            "",
            "contoso",
            "-a.example",
            "a..example",
            "10.0.0.1",
            "a b.example",
        ] {
            assert!(domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hosts() {
        for ok in [
            "mail.contoso.example",
            "127.0.0.1:41011",
            "[::1]:443",
            "a-b.c",
            "localhost",
        ] {
            assert!(host(ok, false).is_ok(), "{ok}");
        }
        assert!(host("*.contoso.example", true).is_ok());
        for bad in [
            "*.contoso.example",
            "a:0",
            "a:99999",
            "a b",
            "[zz]",
            "a/b",
            "",
            "a..b",
        ] {
            assert!(host(bad, false).is_err(), "{bad}");
        }
    }

    #[test]
    fn spns() {
        assert_eq!(spn(EXO, EXO).unwrap(), EXO);
        assert_eq!(
            spn(EXO, &format!("{EXO}/Mail.Contoso.Example")).unwrap(),
            format!("{EXO}/Mail.Contoso.Example")
        );
        assert!(spn(EXO, &format!("{EXO}/*.contoso.example")).is_ok());
        assert!(spn(EXO, "https://outlook.office365.com/").is_ok());
        let other = "00000004-0000-0ff1-ce00-000000000000/x.example";
        assert!(matches!(spn(EXO, other), Err(StsError::InvalidSpn { .. })));
        assert!(spn(EXO, &format!("{EXO}/")).is_err());
        assert!(spn(EXO, &format!("{EXO}/a b")).is_err());
        let list = spn_list(
            EXO,
            &[format!("{EXO}/a.example"), format!("{EXO}/A.example")],
        )
        .unwrap();
        assert_eq!(list, vec![EXO.to_owned(), format!("{EXO}/a.example")]);
    }

    #[test]
    fn dates() {
        let want = from_unix(1_800_000_000);
        assert_eq!(date("D", "2027-01-15T08:00:00Z").unwrap(), want);
        assert_eq!(date("D", "2027-01-15T09:00:00+01:00").unwrap(), want);
        assert_eq!(date("D", "2027-01-15T08:00:00").unwrap(), want);
        assert_eq!(date("D", "2027-01-15T08:00:00.123Z").unwrap(), want);
        assert_eq!(
            date("D", "2027-01-15").unwrap(),
            from_unix(1_800_000_000 - 8 * 3600)
        );
        assert!(date("D", "15/01/2027").is_err());
    }

    #[test]
    fn authority() {
        assert_eq!(
            url_authority("http://127.0.0.1:41011"),
            Some("127.0.0.1:41011")
        );
        assert_eq!(url_authority("https://sts.example/x"), Some("sts.example"));
        assert_eq!(url_authority("ftp://x"), None);
        assert_eq!(url_authority("http://"), None);
    }
}
