//! The compact JWS envelope, hand-written because the S2S outer token is unsigned (`alg: none`),
//! which no JOSE crate represents, and because the validator needs the raw header to refuse what
//! others silently accept (`crit`, `jku`, duplicate claims).

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

use crate::b64;
use crate::keys::{KeyError, SigningKey};

/// Largest token we look at, in bytes (IdentityModel's MaximumTokenSizeInBytes).
pub const MAX_TOKEN_BYTES: usize = 256_000;
/// Most claims (or header parameters) in one object.
pub const MAX_CLAIMS: usize = 256;

/// Why a string is not a well-formed compact JWT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtFormatError {
    #[error("the token is {size} bytes; at most {max} are accepted")]
    TooLarge { size: usize, max: usize },
    #[error("a compact JWT has 3 dot-separated parts; this token has {0}")]
    PartCount(usize),
    #[error("the {part} is not base64url: {detail}")]
    Base64 { part: &'static str, detail: String },
    #[error("the {part} is not a JSON object: {detail}")]
    Json { part: &'static str, detail: String },
    #[error("the {part} names {name:?} more than once")]
    DuplicateKey { part: &'static str, name: String },
    #[error("the {part} has more than {MAX_CLAIMS} members")]
    TooManyMembers { part: &'static str },
}

/// A compact JWS split into its parts; header and claims decoded, signature still encoded.
#[derive(Debug, Clone)]
pub struct Compact<'a> {
    /// `<b64 header>.<b64 payload>`: the signed bytes.
    pub signing_input: &'a str,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    /// The third segment, as sent (empty for unsigned tokens).
    pub signature_b64: &'a str,
}

impl<'a> Compact<'a> {
    pub fn parse(token: &'a str) -> Result<Self, JwtFormatError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(JwtFormatError::TooLarge {
                size: token.len(),
                max: MAX_TOKEN_BYTES,
            });
        }
        let parts = split(token)?;
        let header = decode_object(parts.header, "header")?;
        let claims = decode_object(parts.payload, "payload")?;
        Ok(Compact {
            signing_input: parts.signing_input,
            header,
            claims,
            signature_b64: parts.signature,
        })
    }

    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }
}

/// The three segments of a compact JWT, still encoded.
pub(crate) struct Parts<'a> {
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
    /// `<header>.<payload>`: the signed bytes.
    pub signing_input: &'a str,
}

/// Splits a compact JWT into its three segments (the caller bounds the size).
pub(crate) fn split(token: &str) -> Result<Parts<'_>, JwtFormatError> {
    let bytes = token.as_bytes();
    let mut dots = memchr::memchr_iter(b'.', bytes);
    let (Some(d1), Some(d2), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(JwtFormatError::PartCount(
            memchr::memchr_iter(b'.', bytes).count() + 1,
        ));
    };
    // the dots are ASCII, so every slice below is on a character boundary
    Ok(Parts {
        header: &token[..d1],
        payload: &token[d1 + 1..d2],
        signature: &token[d2 + 1..],
        signing_input: &token[..d2],
    })
}

/// Decodes one base64url segment.
pub(crate) fn decode_segment(seg: &str, part: &'static str) -> Result<Vec<u8>, JwtFormatError> {
    b64::url_decode(seg).map_err(|e| JwtFormatError::Base64 {
        part,
        detail: e.to_string(),
    })
}

fn decode_object(part: &str, name: &'static str) -> Result<Map<String, Value>, JwtFormatError> {
    parse_object(&decode_segment(part, name)?, name)
}

/// Parses a JSON object, refusing duplicate member names and more than [`MAX_CLAIMS`] members.
/// serde_json bounds nesting depth (128) itself.
pub fn parse_object(
    bytes: &[u8],
    part: &'static str,
) -> Result<Map<String, Value>, JwtFormatError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let map = NoDupes { part }
        .deserialize(&mut de)
        .map_err(|e| classify(e, part))?;
    de.end().map_err(|e| JwtFormatError::Json {
        part,
        detail: e.to_string(),
    })?;
    Ok(map)
}

fn classify(e: serde_json::Error, part: &'static str) -> JwtFormatError {
    let msg = e.to_string();
    if let Some(rest) = msg.strip_prefix("duplicate member ") {
        let name = rest
            .split(" at line")
            .next()
            .unwrap_or(rest)
            .trim_matches('"')
            .to_owned();
        return JwtFormatError::DuplicateKey { part, name };
    }
    if msg.starts_with("too many members") {
        return JwtFormatError::TooManyMembers { part };
    }
    JwtFormatError::Json { part, detail: msg }
}

struct NoDupes {
    part: &'static str,
}

impl<'de> DeserializeSeed<'de> for NoDupes {
    type Value = Map<String, Value>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for NoDupes {
    type Value = Map<String, Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON object ({})", self.part)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut map = Map::new();
        while let Some(k) = access.next_key::<String>()? {
            if map.len() >= MAX_CLAIMS {
                return Err(A::Error::custom("too many members"));
            }
            let v: Value = access.next_value()?;
            if map.contains_key(&k) {
                return Err(A::Error::custom(format!("duplicate member {k:?}")));
            }
            map.insert(k, v);
        }
        Ok(map)
    }
}

fn encode_json(v: &Map<String, Value>) -> String {
    // serializing a Map of Values cannot fail
    b64::url_encode(serde_json::to_vec(v).unwrap_or_default())
}

/// Signs `claims` with RS256 under a header carrying `typ`, `alg`, `x5t` and (when `with_kid`)
/// `kid` equal to `x5t`, as ACS does.
pub fn sign_rs256(
    key: &SigningKey,
    claims: &Map<String, Value>,
    with_kid: bool,
) -> Result<String, KeyError> {
    let mut header = Map::new();
    header.insert("typ".into(), "JWT".into());
    header.insert("alg".into(), "RS256".into());
    header.insert("x5t".into(), key.certificate().x5t.clone().into());
    if with_kid {
        header.insert("kid".into(), key.certificate().x5t.clone().into());
    }
    sign_with_header(key, &header, claims)
}

/// Signs with an arbitrary header (tests forge tokens with this; the `alg` in it is not checked).
pub fn sign_with_header(
    key: &SigningKey,
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
) -> Result<String, KeyError> {
    let input = format!("{}.{}", encode_json(header), encode_json(claims));
    let sig = key.sign_rs256(input.as_bytes())?;
    Ok(format!("{input}.{}", b64::url_encode(sig)))
}

/// The unsigned form: `<header>.<payload>.` with `{"typ":"JWT","alg":"none"}`.
pub fn unsigned(claims: &Map<String, Value>) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), "JWT".into());
    header.insert("alg".into(), "none".into());
    unsigned_with_header(&header, claims)
}

pub fn unsigned_with_header(header: &Map<String, Value>, claims: &Map<String, Value>) -> String {
    format!("{}.{}.", encode_json(header), encode_json(claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(s: &str) -> String {
        b64::url_encode(s)
    }

    #[test]
    fn splits_and_decodes() {
        let t = format!("{}.{}.", seg(r#"{"alg":"none"}"#), seg(r#"{"a":"b"}"#));
        let c = Compact::parse(&t).unwrap();
        assert_eq!(c.alg(), Some("none"));
        assert_eq!(c.claims["a"], "b");
        assert_eq!(c.signature_b64, "");
        assert_eq!(c.signing_input.len() + 1, t.len());
    }

    #[test]
    fn format_errors() {
        let h = seg(r#"{"alg":"none"}"#);
        let cases: Vec<(String, JwtFormatError)> = vec![
            ("a.b".into(), JwtFormatError::PartCount(2)),
            ("a.b.c.d".into(), JwtFormatError::PartCount(4)),
            (
                format!("{h}.!!.x"),
                JwtFormatError::Base64 {
                    part: "payload",
                    detail: String::new(),
                },
            ),
            (
                format!("{h}.{}.", seg("[1]")),
                JwtFormatError::Json {
                    part: "payload",
                    detail: String::new(),
                },
            ),
            (
                format!("{h}.{}.", seg(r#"{"iss":"a","iss":"b"}"#)),
                JwtFormatError::DuplicateKey {
                    part: "payload",
                    name: "iss".into(),
                },
            ),
            (
                format!("{h}.{}.", seg(r#"{"a":1} x"#)),
                JwtFormatError::Json {
                    part: "payload",
                    detail: String::new(),
                },
            ),
        ];
        for (t, want) in cases {
            let got = Compact::parse(&t).unwrap_err();
            assert_eq!(
                std::mem::discriminant(&got),
                std::mem::discriminant(&want),
                "{t}: {got}"
            );
            if let JwtFormatError::DuplicateKey { name, .. } = &want {
                assert_eq!(
                    got,
                    JwtFormatError::DuplicateKey {
                        part: "payload",
                        name: name.clone()
                    }
                );
            }
        }
    }

    #[test]
    fn bounds() {
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(matches!(
            Compact::parse(&big),
            Err(JwtFormatError::TooLarge { .. })
        ));
        let many: String = (0..300)
            .map(|i| format!("\"c{i}\":1"))
            .collect::<Vec<_>>()
            .join(",");
        let t = format!("{}.{}.", seg("{}"), seg(&format!("{{{many}}}")));
        assert_eq!(
            Compact::parse(&t).unwrap_err(),
            JwtFormatError::TooManyMembers { part: "payload" }
        );
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(5000), "]".repeat(5000));
        let t = format!("{}.{}.", seg("{}"), seg(&deep));
        assert!(matches!(
            Compact::parse(&t),
            Err(JwtFormatError::Json { .. })
        ));
    }
}
