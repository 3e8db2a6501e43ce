//! Principal names: `<appid>@<realm>` and `<appid>/<host>@<realm>` (spec/protocol.md §2).
//!
//! Comparison rules ([MS-XOAUTH] 3.2.5.6): the application id and the realm are compared exactly,
//! the host case-insensitively.

use std::fmt;

/// ACS, the issuer of ACS tokens.
pub const ACS_APP_ID: &str = "00000001-0000-0000-c000-000000000000";
/// Exchange (AuthConfig ServiceName).
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
/// SharePoint.
pub const SHAREPOINT_APP_ID: &str = "00000003-0000-0ff1-ce00-000000000000";
/// Lync / Skype for Business Online.
pub const SKYPE_APP_ID: &str = "00000004-0000-0ff1-ce00-000000000000";
/// Azure AD Graph: the `aud` of Graph `addKey` proof tokens.
pub const AAD_GRAPH_APP_ID: &str = "00000002-0000-0000-c000-000000000000";

/// Longest principal name we parse; anything longer is not a principal name.
pub const MAX_PRINCIPAL_LEN: usize = 1024;

/// A parsed principal name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PrincipalName {
    pub app_id: String,
    pub host: Option<String>,
    pub realm: String,
}

/// Why a string is not a principal name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    #[error("principal name is empty")]
    Empty,
    #[error("principal name is longer than {MAX_PRINCIPAL_LEN} bytes")]
    TooLong,
    #[error("principal name {0:?} has no '@<realm>' part")]
    NoRealm(String),
    #[error("principal name {0:?} has more than one '@'")]
    TooManyAt(String),
    #[error("principal name {0:?} has an empty application id")]
    EmptyAppId(String),
    #[error("principal name {0:?} has an empty host after '/'")]
    EmptyHost(String),
    #[error("principal name {0:?} has an empty realm after '@'")]
    EmptyRealm(String),
    #[error("principal name {0:?} contains whitespace or control characters")]
    BadCharacters(String),
    #[error("principal name {0:?} has more than one '/'")]
    TooManySlash(String),
}

impl PrincipalName {
    pub fn new(app_id: impl Into<String>, host: Option<&str>, realm: impl Into<String>) -> Self {
        PrincipalName {
            app_id: app_id.into(),
            host: host.map(str::to_owned),
            realm: realm.into(),
        }
    }

    /// `<appid>@<realm>`
    pub fn app(app_id: &str, realm: &str) -> Self {
        Self::new(app_id, None, realm)
    }

    /// `<appid>/<host>@<realm>`
    pub fn service(app_id: &str, host: &str, realm: &str) -> Self {
        Self::new(app_id, Some(host), realm)
    }

    pub fn parse(s: &str) -> Result<Self, PrincipalError> {
        PrincipalRef::parse(s).map(|p| p.to_owned())
    }

    /// True when `self` and `other` name the same principal under the protocol's rules: app id and
    /// realm exactly, host ignoring ASCII case; both with a host or both without.
    pub fn same_as(&self, other: &PrincipalName) -> bool {
        self.app_id == other.app_id
            && self.realm == other.realm
            && match (&self.host, &other.host) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }

    /// The principal without its host: `<appid>@<realm>`.
    pub fn without_host(&self) -> PrincipalName {
        Self::new(self.app_id.clone(), None, self.realm.clone())
    }
}

/// A principal name parsed in place: the same rules as [`PrincipalName::parse`], borrowing from
/// the input (the validator's hot path parses several names per token without allocating).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PrincipalRef<'a> {
    pub app_id: &'a str,
    pub host: Option<&'a str>,
    pub realm: &'a str,
}

impl<'a> PrincipalRef<'a> {
    pub fn parse(s: &'a str) -> Result<Self, PrincipalError> {
        if s.is_empty() {
            return Err(PrincipalError::Empty);
        }
        if s.len() > MAX_PRINCIPAL_LEN {
            return Err(PrincipalError::TooLong);
        }
        // Whether any byte is an ASCII whitespace or control character (exactly the bytes <= 0x20
        // and 0x7f) or not ASCII: branch-free, so the loop runs on vectors.
        let bytes = s.as_bytes();
        let (mut bad, mut non_ascii) = (false, false);
        for &b in bytes {
            bad |= (b <= 0x20) | (b == 0x7f);
            non_ascii |= b >= 0x80;
        }
        if bad || (non_ascii && s.chars().any(|c| c.is_whitespace() || c.is_control())) {
            return Err(PrincipalError::BadCharacters(s.to_owned()));
        }
        let Some(at) = memchr::memchr(b'@', bytes) else {
            return Err(PrincipalError::NoRealm(s.to_owned()));
        };
        if memchr::memchr(b'@', &bytes[at + 1..]).is_some() {
            return Err(PrincipalError::TooManyAt(s.to_owned()));
        }
        // only a '/' before the '@' separates a host
        let slash = memchr::memchr(b'/', &bytes[..at]);
        let second_slash = slash.is_some_and(|i| memchr::memchr(b'/', &bytes[i + 1..at]).is_some());
        let realm = &s[at + 1..];
        if realm.is_empty() {
            return Err(PrincipalError::EmptyRealm(s.to_owned()));
        }
        // '@' and '/' are ASCII: every index above is on a character boundary
        let (app_id, host) = match slash {
            Some(i) => {
                if second_slash {
                    return Err(PrincipalError::TooManySlash(s.to_owned()));
                }
                let h = &s[i + 1..at];
                if h.is_empty() {
                    return Err(PrincipalError::EmptyHost(s.to_owned()));
                }
                (&s[..i], Some(h))
            }
            None => (&s[..at], None),
        };
        if app_id.is_empty() {
            return Err(PrincipalError::EmptyAppId(s.to_owned()));
        }
        Ok(PrincipalRef {
            app_id,
            host,
            realm,
        })
    }

    pub fn to_owned(&self) -> PrincipalName {
        PrincipalName::new(self.app_id, self.host, self.realm)
    }
}

impl fmt::Display for PrincipalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Some(h) => write!(f, "{}/{}@{}", self.app_id, h, self.realm),
            None => write!(f, "{}@{}", self.app_id, self.realm),
        }
    }
}

impl std::str::FromStr for PrincipalName {
    type Err = PrincipalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Does a ServicePrincipalName entry (`<appid>/<host>` or `<appid>/*.domain`, or a bare `<appid>`)
/// cover `app_id` on `host`? Host comparison ignores ASCII case; a wildcard covers exactly one or
/// more labels below the domain, never the domain itself.
pub fn spn_covers(spn: &str, app_id: &str, host: &str) -> bool {
    let Some((spn_app, spn_host)) = spn.split_once('/') else {
        return false;
    };
    if spn_app != app_id {
        return false;
    }
    if let Some(domain) = spn_host.strip_prefix("*.") {
        let host = host.to_ascii_lowercase();
        let domain = domain.to_ascii_lowercase();
        host.len() > domain.len() + 1
            && host.ends_with(&domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.'
    } else {
        spn_host.eq_ignore_ascii_case(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: &str = "3f0c8f6e-1111-4222-8333-0123456789e9";

    #[test]
    fn round_trips() {
        for s in [
            format!("{SKYPE_APP_ID}@{R}"),
            format!("{EXCHANGE_APP_ID}/mail.contoso.example@{R}"),
        ] {
            let p = PrincipalName::parse(&s).unwrap();
            assert_eq!(p.to_string(), s);
        }
    }

    #[test]
    fn parse_errors() {
        let cases: &[(&str, PrincipalError)] = &[
            ("", PrincipalError::Empty),
            ("abc", PrincipalError::NoRealm("abc".into())),
            ("a@b@c", PrincipalError::TooManyAt("a@b@c".into())),
            ("@r", PrincipalError::EmptyAppId("@r".into())),
            ("a@", PrincipalError::EmptyRealm("a@".into())),
            ("a/@r", PrincipalError::EmptyHost("a/@r".into())),
            ("a/b/c@r", PrincipalError::TooManySlash("a/b/c@r".into())),
            ("a b@r", PrincipalError::BadCharacters("a b@r".into())),
        ];
        for (input, want) in cases {
            assert_eq!(&PrincipalName::parse(input).unwrap_err(), want, "{input}");
        }
        assert_eq!(
            PrincipalName::parse(&"a".repeat(2000)).unwrap_err(),
            PrincipalError::TooLong
        );
    }

    #[test]
    fn borrowed_parse_agrees_with_owned() {
        let inputs = [
            format!("{SKYPE_APP_ID}@{R}"),
            format!("{EXCHANGE_APP_ID}/mail.contoso.example@{R}"),
            "a\u{0b}b@r".to_owned(),
            "a\u{85}b@r".to_owned(),
            "a\u{2003}b@r".to_owned(),
            "a\tb@r".to_owned(),
            "ä/ö@ü".to_owned(),
            "a@b@c".to_owned(),
            "a/b/c@r".to_owned(),
            String::new(),
        ];
        for s in &inputs {
            // the ASCII fast path refuses exactly what the char-by-char rule refuses
            let bad = s.chars().any(|c| c.is_whitespace() || c.is_control());
            let got = PrincipalRef::parse(s);
            assert_eq!(
                matches!(got, Err(PrincipalError::BadCharacters(_))),
                bad,
                "{s:?}"
            );
            assert_eq!(got.map(|p| p.to_owned()), PrincipalName::parse(s), "{s:?}");
        }
    }

    /// The rules as first written (split-based), to hold the one-pass parser to them.
    fn reference(s: &str) -> Result<PrincipalName, PrincipalError> {
        if s.is_empty() {
            return Err(PrincipalError::Empty);
        }
        if s.len() > MAX_PRINCIPAL_LEN {
            return Err(PrincipalError::TooLong);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(PrincipalError::BadCharacters(s.to_owned()));
        }
        let mut at = s.split('@');
        let (Some(left), Some(realm)) = (at.next(), at.next()) else {
            return Err(PrincipalError::NoRealm(s.to_owned()));
        };
        if at.next().is_some() {
            return Err(PrincipalError::TooManyAt(s.to_owned()));
        }
        if realm.is_empty() {
            return Err(PrincipalError::EmptyRealm(s.to_owned()));
        }
        let (app_id, host) = match left.split_once('/') {
            Some((a, h)) => {
                if h.contains('/') {
                    return Err(PrincipalError::TooManySlash(s.to_owned()));
                }
                if h.is_empty() {
                    return Err(PrincipalError::EmptyHost(s.to_owned()));
                }
                (a, Some(h))
            }
            None => (left, None),
        };
        if app_id.is_empty() {
            return Err(PrincipalError::EmptyAppId(s.to_owned()));
        }
        Ok(PrincipalName::new(app_id, host, realm))
    }

    #[test]
    fn one_pass_parser_matches_the_reference_on_every_short_string() {
        // every string of up to 5 characters over an alphabet with the separators, a space, a
        // control character, non-ASCII letters and a non-ASCII space
        let alphabet = ['a', '/', '@', ' ', '\u{7f}', 'ä', '\u{2003}', '\t'];
        let mut strings = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..5 {
            frontier = frontier
                .iter()
                .flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}")))
                .collect();
            strings.extend(frontier.iter().cloned());
        }
        assert!(strings.len() > 37_000);
        for s in &strings {
            assert_eq!(PrincipalName::parse(s), reference(s), "{s:?}");
        }
    }

    #[test]
    fn comparison_rules() {
        let a = PrincipalName::service(EXCHANGE_APP_ID, "Mail.Contoso.Example", R);
        let b = PrincipalName::service(EXCHANGE_APP_ID, "mail.contoso.example", R);
        assert!(a.same_as(&b), "host is case-insensitive");
        let c = PrincipalName::service(&EXCHANGE_APP_ID.to_uppercase(), "mail.contoso.example", R);
        assert!(!a.same_as(&c), "app id is exact");
        let d = PrincipalName::service(EXCHANGE_APP_ID, "mail.contoso.example", &R.to_uppercase());
        assert!(!a.same_as(&d), "realm is exact");
        assert!(!a.same_as(&a.without_host()), "host presence matters");
    }

    #[test]
    fn spn_wildcards() {
        let app = EXCHANGE_APP_ID;
        assert!(spn_covers(
            &format!("{app}/mail.contoso.example"),
            app,
            "MAIL.contoso.example"
        ));
        assert!(spn_covers(
            &format!("{app}/*.contoso.example"),
            app,
            "mail.contoso.example"
        ));
        assert!(!spn_covers(
            &format!("{app}/*.contoso.example"),
            app,
            "contoso.example"
        ));
        assert!(!spn_covers(
            &format!("{app}/*.contoso.example"),
            app,
            "evilcontoso.example"
        ));
        assert!(!spn_covers(
            &format!("{SKYPE_APP_ID}/mail.contoso.example"),
            app,
            "mail.contoso.example"
        ));
        assert!(!spn_covers(app, app, "mail.contoso.example"));
    }
}
