//! A token's JSON objects as the validator reads them: borrowed from the decoded bytes, each
//! member's value kept as raw JSON text and decoded only when a rule asks for it, so validating a
//! token builds no `serde_json::Map` (the profile showed map building as most of the cost beyond
//! the one RSA verify). [`ClaimSet`] keeps a validated object for later readers and builds the map
//! on first use.

use serde::de::{DeserializeSeed, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use crate::jwt::{JwtFormatError, MAX_CLAIMS, parse_object};

/// One JSON object, members in document order, names unescaped, values raw.
pub(crate) struct RawObject<'a> {
    entries: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'a> RawObject<'a> {
    /// Parses `bytes` as exactly one JSON object, refusing duplicate member names (compared after
    /// unescaping) and more than [`MAX_CLAIMS`] members, with the same errors as
    /// [`parse_object`].
    pub(crate) fn parse(bytes: &'a [u8], part: &'static str) -> Result<Self, JwtFormatError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let entries = RawSeed { part }
            .deserialize(&mut de)
            .map_err(|e| crate::jwt::classify(e, part))?;
        de.end().map_err(|e| JwtFormatError::Json {
            part,
            detail: e.to_string(),
        })?;
        Ok(RawObject { entries })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&'a RawValue> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| *v)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// What kind of JSON value `raw` is, for error messages.
pub(crate) fn kind(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// The string `raw` holds, borrowed when it has no escapes; `None` when it is not a string.
pub(crate) fn as_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
        // serde_json already refused control characters and bad UTF-8 inside the string
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

/// Deepest nesting of arrays and objects inside one member value: where serde_json's own
/// recursion limit stops a whole object (the test below pins the two together).
const MAX_VALUE_DEPTH: usize = 126;

/// How deeply `json` (one valid JSON value) nests arrays and objects.
fn nesting(json: &str) -> usize {
    let bytes = json.as_bytes();
    if !matches!(bytes.first(), Some(b'[' | b'{')) {
        return 0;
    }
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

struct RawSeed {
    part: &'static str,
}

impl<'de> DeserializeSeed<'de> for RawSeed {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RawSeed {
    type Value = Vec<(Cow<'de, str>, &'de RawValue)>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a JSON object ({})", self.part)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut entries: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(16);
        while let Some(k) = access.next_key_seed(KeySeed)? {
            if entries.len() >= MAX_CLAIMS {
                return Err(A::Error::custom("too many members"));
            }
            let v: &'de RawValue = access.next_value()?;
            if nesting(v.get()) > MAX_VALUE_DEPTH {
                // serde_json skips a raw value without its recursion limit; keep the same bound
                return Err(A::Error::custom("recursion limit exceeded"));
            }
            if entries.iter().any(|(seen, _)| *seen == k) {
                return Err(A::Error::custom(format!("duplicate member {k:?}")));
            }
            entries.push((k, v));
        }
        Ok(entries)
    }
}

/// A member name, borrowed from the input unless it had escapes.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

/// A validated token's header or claims: the JSON text, with a `serde_json::Map` built on first
/// use. Cheap to keep; the map costs only for readers that want it.
#[derive(Clone)]
pub struct ClaimSet {
    json: Vec<u8>,
    map: OnceLock<Map<String, Value>>,
}

impl ClaimSet {
    /// `json` must be a JSON object that [`RawObject::parse`] accepted.
    pub(crate) fn from_validated(json: Vec<u8>) -> Self {
        ClaimSet {
            json,
            map: OnceLock::new(),
        }
    }

    /// The object as decoded from the token (JSON text).
    pub fn json(&self) -> &str {
        // the parser accepted it, so it is UTF-8
        std::str::from_utf8(&self.json).unwrap_or_default()
    }

    /// The object as a map (built on first call).
    pub fn map(&self) -> &Map<String, Value> {
        self.map.get_or_init(|| {
            // the text was parsed with the same rules when the token was validated
            parse_object(&self.json, "claims").unwrap_or_default()
        })
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.map().get(name)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    pub fn contains_key(&self, name: &str) -> bool {
        self.map().contains_key(name)
    }
}

/// `claims["iss"]`, as on a `serde_json::Map` (panics when the member is missing).
impl std::ops::Index<&str> for ClaimSet {
    type Output = Value;
    fn index(&self, name: &str) -> &Value {
        &self.map()[name]
    }
}

impl fmt::Debug for ClaimSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.map(), f)
    }
}

impl PartialEq for ClaimSet {
    fn eq(&self, other: &Self) -> bool {
        self.map() == other.map()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agrees_with_the_map_parser() {
        let docs: &[&str] = &[
            r#"{"a":"b","n":1,"o":{"x":[1,2]},"t":true,"z":null}"#,
            r#"{"\u0069ss":"x","iss":"y"}"#,
            r#"{"iss":"x","iss":"y"}"#,
            r#"{"a":"b\"c","b":"\u00e9"}"#,
            r#"[1]"#,
            r#"{"a":1} x"#,
            r#"{"a":"#,
            "{\"a\":\"\u{1}\"}",
            r#"{}"#,
        ];
        for d in docs {
            let raw = RawObject::parse(d.as_bytes(), "payload");
            let map = parse_object(d.as_bytes(), "payload");
            match (&raw, &map) {
                (Ok(r), Ok(m)) => {
                    assert_eq!(r.entries.len(), m.len(), "{d}");
                    for (k, v) in &r.entries {
                        let parsed: Value = serde_json::from_str(v.get()).unwrap();
                        assert_eq!(Some(&parsed), m.get(k.as_ref()), "{d}");
                        if let Some(s) = as_str(v) {
                            assert_eq!(Some(s.as_ref()), m[k.as_ref()].as_str(), "{d}");
                        }
                    }
                }
                (Err(a), Err(b)) => assert_eq!(
                    std::mem::discriminant(a),
                    std::mem::discriminant(b),
                    "{d}: {a} / {b}"
                ),
                _ => panic!("{d}: raw {:?} vs map {:?}", raw.is_ok(), map),
            }
        }
    }

    #[test]
    fn duplicate_after_unescaping_names_the_member() {
        let e = RawObject::parse(br#"{"\u0069ss":"x","iss":"y"}"#, "payload").err();
        assert_eq!(
            e,
            Some(JwtFormatError::DuplicateKey {
                part: "payload",
                name: "iss".into()
            })
        );
    }

    #[test]
    fn kinds_and_strings() {
        let o = RawObject::parse(
            br#"{"s":"a\nb","n":-1.5,"b":false,"x":null,"a":[],"o":{}}"#,
            "p",
        )
        .unwrap();
        let k = |n| kind(o.get(n).unwrap());
        assert_eq!(
            [k("s"), k("n"), k("b"), k("x"), k("a"), k("o")],
            [
                "a string",
                "a number",
                "a boolean",
                "null",
                "an array",
                "an object"
            ]
        );
        assert_eq!(as_str(o.get("s").unwrap()).as_deref(), Some("a\nb"));
        assert_eq!(as_str(o.get("n").unwrap()), None);
    }

    #[test]
    fn nesting_counts_brackets_outside_strings() {
        assert_eq!(nesting("1"), 0);
        assert_eq!(nesting(r#""[[[""#), 0);
        assert_eq!(nesting(r#"[1,[2,{"a":"]]\"[["}]]"#), 3);
        let deep = |n| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        // the same boundary as serde_json's own limit for a whole object
        assert!(RawObject::parse(deep(126).as_bytes(), "payload").is_ok());
        assert!(parse_object(deep(126).as_bytes(), "payload").is_ok());
        for n in [127, 5000] {
            assert!(matches!(
                RawObject::parse(deep(n).as_bytes(), "payload").err(),
                Some(JwtFormatError::Json { .. })
            ));
            assert!(matches!(
                parse_object(deep(n).as_bytes(), "payload").err(),
                Some(JwtFormatError::Json { .. })
            ));
        }
    }

    #[test]
    fn claim_set_builds_the_map_lazily() {
        let c = ClaimSet::from_validated(br#"{"iss":"a","n":2}"#.to_vec());
        assert!(c.map.get().is_none());
        assert_eq!(c.str("iss"), Some("a"));
        assert_eq!(c.get("n"), Some(&Value::from(2)));
        assert_eq!(c.json(), r#"{"iss":"a","n":2}"#);
    }
}
