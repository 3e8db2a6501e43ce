//! A token's JSON objects as the validator reads them: borrowed from the decoded bytes, each
//! member's value kept as raw JSON text and decoded only when a rule asks for it, so validating a
//! token builds no `serde_json::Map` (the profile showed map building as most of the cost beyond
//! the one RSA verify). The scan is `jiter`'s (a pull parser that skips values without building
//! them); the members the rules read are found by slot, not by comparing names. [`ClaimSet`] keeps
//! a validated object for later readers and builds the map on first use.
//!
//! The scanner accepts exactly what [`parse_object`] (serde_json) accepts, a test holds the two
//! together on thousands of mutated documents, so a token whose claims later readers cannot map
//! never validates.

use jiter::Jiter;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;

use crate::jwt::{JwtFormatError, MAX_CLAIMS, parse_object};

/// Member names the rules read, each with a slot (`KNOWN[i]` is found in `slots[i]`).
const KNOWN: [&str; 28] = [
    "alg",
    "typ",
    "crit",
    "jku",
    "x5u",
    "jwk",
    "x5c",
    "jwe",
    "x5t",
    "kid",
    "iss",
    "aud",
    "exp",
    "nbf",
    "iat",
    "nameid",
    "nii",
    "upn",
    "smtp",
    "sip",
    "actortoken",
    "trustedfordelegation",
    "isloopback",
    "ver",
    "endpointurl",
    "endpointurlLength",
    "identityprovider",
    "oid",
];

/// The slot of a member name the rules read: a match on the bytes (small integer compares), and
/// inlined so that a lookup by a constant name folds to a constant slot.
#[inline(always)]
fn slot(name: &str) -> Option<usize> {
    match name.as_bytes() {
        b"alg" => Some(0),
        b"typ" => Some(1),
        b"crit" => Some(2),
        b"jku" => Some(3),
        b"x5u" => Some(4),
        b"jwk" => Some(5),
        b"x5c" => Some(6),
        b"jwe" => Some(7),
        b"x5t" => Some(8),
        b"kid" => Some(9),
        b"iss" => Some(10),
        b"aud" => Some(11),
        b"exp" => Some(12),
        b"nbf" => Some(13),
        b"iat" => Some(14),
        b"nameid" => Some(15),
        b"nii" => Some(16),
        b"upn" => Some(17),
        b"smtp" => Some(18),
        b"sip" => Some(19),
        b"actortoken" => Some(20),
        b"trustedfordelegation" => Some(21),
        b"isloopback" => Some(22),
        b"ver" => Some(23),
        b"endpointurl" => Some(24),
        b"endpointurlLength" => Some(25),
        b"identityprovider" => Some(26),
        b"oid" => Some(27),
        _ => None,
    }
}

/// One JSON object, members in document order, names unescaped, values raw JSON text.
#[derive(Debug)]
pub(crate) struct RawObject<'a> {
    entries: Vec<(Cow<'a, str>, &'a str)>,
    /// `entries` index + 1 of each known name; 0 when absent.
    slots: [u16; KNOWN.len()],
}

impl<'a> RawObject<'a> {
    /// Parses `bytes` as exactly one JSON object, refusing duplicate member names (compared after
    /// unescaping), more than [`MAX_CLAIMS`] members and values nested deeper than serde_json
    /// allows, with the same error kinds as [`parse_object`].
    pub(crate) fn parse(bytes: &'a [u8], part: &'static str) -> Result<Self, JwtFormatError> {
        let json = |detail: String| JwtFormatError::Json { part, detail };
        // One pass over the whole text (ASCII runs word by word); the scanner below then needs
        // to check no string's UTF-8 itself.
        let text = std::str::from_utf8(bytes).map_err(|e| {
            json(format!(
                "invalid UTF-8 at index {} (JSON text is UTF-8)",
                e.valid_up_to()
            ))
        })?;
        let mut jiter = Jiter::new(bytes);
        let mut obj = RawObject {
            entries: Vec::with_capacity(16),
            slots: [0; KNOWN.len()],
        };
        // Offsets of a slice jiter returns (a key's text inside its quotes) within `bytes`.
        let offsets = |k: &[u8]| {
            let start = (k.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
            (start, start + k.len())
        };
        let mut key = match jiter.next_object_bytes() {
            Ok(k) => k.map(offsets),
            Err(e) => return Err(json(e.to_string())),
        };
        while let Some((start, end)) = key {
            if obj.entries.len() >= MAX_CLAIMS {
                return Err(JwtFormatError::TooManyMembers { part });
            }
            let name = member_name(text, start, end).ok_or_else(|| {
                json(format!(
                    "member name at index {start} is not a valid string"
                ))
            })?;
            let peek = jiter.peek().map_err(|e| json(e.to_string()))?;
            let value_start = jiter.current_index();
            jiter.known_skip(peek).map_err(|e| json(e.to_string()))?;
            let raw = text
                .get(value_start..jiter.current_index())
                .ok_or_else(|| json(format!("value at index {value_start} is not whole")))?;
            if nesting(raw) > MAX_VALUE_DEPTH {
                return Err(json(format!(
                    "recursion limit exceeded at index {value_start}"
                )));
            }
            if may_overflow(raw) {
                // serde_json refuses a number beyond f64's range, which the scanner skips
                serde_json::from_str::<Value>(raw)
                    .map_err(|e| json(format!("{e} (the value at index {value_start})")))?;
            }
            obj.push(name, raw, part)?;
            key = match jiter.next_key_bytes() {
                Ok(k) => k.map(offsets),
                Err(e) => return Err(json(e.to_string())),
            };
        }
        jiter.finish().map_err(|e| json(e.to_string()))?;
        Ok(obj)
    }

    fn push(
        &mut self,
        name: Cow<'a, str>,
        raw: &'a str,
        part: &'static str,
    ) -> Result<(), JwtFormatError> {
        let duplicate = || JwtFormatError::DuplicateKey {
            part,
            name: name.chars().take(100).collect(),
        };
        match slot(&name) {
            Some(i) if self.slots[i] != 0 => return Err(duplicate()),
            Some(i) => {
                // entries.len() < MAX_CLAIMS (256), so the index + 1 fits
                self.slots[i] = u16::try_from(self.entries.len() + 1)
                    .map_err(|_| JwtFormatError::TooManyMembers { part })?;
            }
            None => {
                if self.entries.iter().any(|(seen, _)| *seen == name) {
                    return Err(duplicate());
                }
            }
        }
        self.entries.push((name, raw));
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        match slot(name) {
            Some(i) => {
                let at = usize::from(self.slots[i]);
                at.checked_sub(1)
                    .and_then(|at| self.entries.get(at))
                    .map(|(_, v)| *v)
            }
            None => self
                .entries
                .iter()
                .find(|(k, _)| k.as_ref() == name)
                .map(|(_, v)| *v),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline(always)]
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The validator's member scan on one JSON object: its member count, or why it is refused. For
/// the fuzzer, which holds it to [`parse_object`] (the two must agree on every input).
#[doc(hidden)]
pub fn scan_object(bytes: &[u8]) -> Result<usize, JwtFormatError> {
    RawObject::parse(bytes, "payload").map(|o| o.len())
}

/// The unescaped name whose text (inside the quotes) is `text[start..end]`.
fn member_name(text: &str, start: usize, end: usize) -> Option<Cow<'_, str>> {
    let inner = text.get(start..end)?;
    if !has_backslash(inner) {
        return Some(Cow::Borrowed(inner));
    }
    // the quotes around it are part of the text (the scanner read them)
    let quoted = text.get(start.checked_sub(1)?..end + 1)?;
    serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
}

/// Does `s` hold a backslash? Short strings (names, most values) by a plain loop, which costs
/// less than setting up the vector search that long ones (an embedded token) are worth.
#[inline]
fn has_backslash(s: &str) -> bool {
    if s.len() < 64 {
        s.as_bytes().contains(&b'\\')
    } else {
        memchr::memchr(b'\\', s.as_bytes()).is_some()
    }
}

/// What kind of JSON value `raw` is, for error messages.
pub(crate) fn kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// The string `raw` holds, borrowed when it has no escapes; `None` when it is not a string.
pub(crate) fn as_str(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if !has_backslash(inner) {
        // the scanner already refused control characters, and the text is UTF-8
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
}

/// Could `raw` (one valid JSON value) hold a number beyond f64's range? Containers are checked
/// whole; a number only with an exponent or more digits than the largest finite f64 has.
fn may_overflow(raw: &str) -> bool {
    match raw.as_bytes().first() {
        Some(b'[' | b'{') => true,
        Some(b'-' | b'0'..=b'9') => raw.len() > 300 || raw.bytes().any(|b| b | 0x20 == b'e'),
        _ => false,
    }
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

    /// Same verdict as the map parser; when both accept, the same members with the same values.
    fn agree(doc: &[u8], same_error_kind: bool) {
        let shown = String::from_utf8_lossy(doc);
        let raw = RawObject::parse(doc, "payload");
        let map = parse_object(doc, "payload");
        match (&raw, &map) {
            (Ok(r), Ok(m)) => {
                assert_eq!(r.entries.len(), m.len(), "{shown}");
                for (k, v) in &r.entries {
                    let parsed: Value = serde_json::from_str(v).unwrap();
                    assert_eq!(Some(&parsed), m.get(k.as_ref()), "{shown}");
                    assert_eq!(r.get(k), Some(*v), "{shown}");
                    if let Some(s) = as_str(v) {
                        assert_eq!(Some(s.as_ref()), m[k.as_ref()].as_str(), "{shown}");
                    }
                }
            }
            (Err(a), Err(b)) => {
                if same_error_kind {
                    assert_eq!(
                        std::mem::discriminant(a),
                        std::mem::discriminant(b),
                        "{shown}: {a} / {b}"
                    )
                }
            }
            _ => panic!("{shown:?}: raw {raw:?} vs map {map:?}"),
        }
    }

    #[test]
    fn agrees_with_the_map_parser() {
        let docs: &[&str] = &[
            r#"{"a":"b","n":1,"o":{"x":[1,2]},"t":true,"z":null}"#,
            r#"{"\u0069ss":"x","iss":"y"}"#,
            r#"{"iss":"x","iss":"y"}"#,
            r#"{"x":"x","y":1,"x":2}"#,
            r#"{"a":"b\"c","b":"\u00e9"}"#,
            r#"[1]"#,
            r#"{"a":1} x"#,
            r#"{"a":"#,
            "{\"a\":\"\u{1}\"}",
            r#"{}"#,
            r#" { "a" : 1 , "b" : [ ] } "#,
            r#"{"a":1e400}"#,
            r#"{"a":[1,{"b":-1e400}]}"#,
            r#"{"a":18446744073709551616,"b":-9223372036854775809,"c":1.5e-400}"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\udc00"}"#,
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"\ud800":1}"#,
            r#"{"a":NaN}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":-}"#,
            r#"{"a":tru}"#,
            r#"{"a":1,}"#,
            r#"{,"a":1}"#,
            "{\"a\":1}\u{0}",
            "\u{feff}{}",
        ];
        for d in docs {
            agree(d.as_bytes(), true);
        }
        agree(b"{\"a\":\"\xff\"}", true);
        agree(b"{\"a\":\"\xc3\"}", true);
    }

    /// Every document one edit away from realistic token objects and tricky ones: each byte
    /// replaced by, and each position given, a byte that matters to JSON, and each byte dropped.
    #[test]
    fn agrees_with_the_map_parser_on_every_single_edit() {
        let seeds: &[&[u8]] = &[
            br#"{"alg":"RS256","kid":"u6Y7S0bve5Pu","typ":"JWT","x5t":"u6Y7S0bve5Pu"}"#,
            br#"{"aud":"00000002-0000-0ff1-ce00-000000000000/mail@3f0c","exp":1800003600,"nbf":1799999700,"trustedfordelegation":"true","roles":["a"]}"#,
            br#"{"a":[1,-2.5e+3,{"b":null}],"c":{"d":[true,false]},"e":"\u00e9\n\"","f":0}"#,
            br#" {"\u0061" : "x\ud83d\ude00" , "b":-0.0E-1 } "#,
        ];
        let specials: &[u8] = b"\"\\,:{}[]0-.eE+ \n\tutnax\x01\x7f\xc3\xa9\xff";
        let mut count = 0;
        for seed in seeds {
            agree(seed, true);
            for pos in 0..=seed.len() {
                if pos < seed.len() {
                    let mut d = seed.to_vec();
                    d.remove(pos);
                    agree(&d, false);
                }
                for &b in specials {
                    if pos < seed.len() {
                        let mut d = seed.to_vec();
                        d[pos] = b;
                        agree(&d, false);
                    }
                    let mut d = seed.to_vec();
                    d.insert(pos, b);
                    agree(&d, false);
                    count += 2;
                }
            }
        }
        assert!(count > 10_000, "{count}");
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
    fn every_known_name_has_its_own_slot() {
        for (i, name) in KNOWN.iter().enumerate() {
            assert_eq!(slot(name), Some(i), "{name}");
        }
        assert_eq!(slot("other"), None);
        assert_eq!(slot("Alg"), None);
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
