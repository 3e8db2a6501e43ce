//! Mutations: generic byte-level ones and structure-aware ones per input [`Kind`].

use serde_json::Value;

use crate::targets::Kind;

/// A small, fast, seedable PRNG (xorshift64*); fuzzing needs speed and reproducibility only.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    /// Uniform in `0..rare` one time in `one_in`, else in `0..common`.
    pub fn sometimes(&mut self, one_in: usize, rare: usize, common: usize) -> usize {
        let n = if self.chance(one_in) { rare } else { common };
        self.below(n)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const INTERESTING_BYTES: &[u8] = &[
    0, 0xff, 0x7f, 0x80, 0xc0, 0xe2, 0xf0, b'"', b'\'', b'<', b'>', b'&', b'.', b'\\', b'/', b'@',
    b'$', b'`', b'(', b')', b'{', b'}', b'[', b']', b',', b':', b';', b'=', b'-', b'#', b'\n',
    b'\r', b' ', b'%',
];

const INTERESTING_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "255",
    "256",
    "65536",
    "2147483647",
    "-2147483648",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551616",
    "1e308",
    "1e309",
    "-0",
    "0.5",
    "1.0",
    "NaN",
    "1800000000",
    "1799999999",
    "1800000300",
    "1800000301",
    "253402300800",
];

const JWT_DICT: &[&str] = &[
    "\"alg\":\"none\"",
    "\"alg\":\"None\"",
    "\"alg\":\"HS256\"",
    "\"alg\":\"RS256\"",
    "\"crit\":[\"exp\"]",
    "\"jku\":\"https://evil.example/k\"",
    "\"jwk\":{\"kty\":\"RSA\"}",
    "\"x5u\":\"https://evil.example/c\"",
    "\"kid\":\"../../dev/null\"",
    "\"actortoken\":\"",
    "\"aud\":[\"\"]",
    "\"exp\":\"1800000000\"",
    "\"nbf\":null",
    "\"exp\":1e400",
    "\"nameid\":",
    "\"trustedfordelegation\":\"true\"",
    "@",
    "/",
    ".",
    "..",
    "\\u0000",
    "\\ud800",
    "=",
    "Bearer ",
    "00000002-0000-0ff1-ce00-000000000000/mail.contoso.example@",
];

const JSON_DICT: &[&str] = &[
    "null",
    "true",
    "[]",
    "{}",
    "\"\"",
    "[[[[[[[[[[[[[[[[",
    "\"\\ud800\"",
    "\"\\u0000\"",
    "1e400",
    "-0",
    "\"keys\":[",
    "\"usage\":\"signing\"",
    "\"type\":\"x509Certificate\"",
    "\"x5t\":\"",
    "\"value\":\"MII",
    "\"entries\":[",
    "\"headers\":[",
    "{\"name\":\"Authorization\",\"value\":\"Bearer ",
    "{\"name\":\"WWW-Authenticate\",\"value\":\"Bearer client_id=\\\"",
    "\"postData\":{\"text\":\"",
    "\"content\":{\"text\":\"",
    "Basic ",
];

const XML_DICT: &[&str] = &[
    "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>",
    "<!ENTITY % p SYSTEM \"http://evil.example/\">",
    "&x;",
    "&lt;",
    "&#0;",
    "&#x110000;",
    "&#xD800;",
    "&amp;amp;",
    "<![CDATA[",
    "]]>",
    "<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    "<?xml version=\"1.0\" encoding=\"UTF-7\"?>",
    "\u{feff}",
    "xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/messages\"",
    "xmlns=\"\"",
    "xmlns:x=\"\"",
    "xml:lang=\"en\"",
    "soap:mustUnderstand=\"1\"",
    "<t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>bob@contoso.example</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation>",
    "<t:RequestServerVersion Version=\"Exchange2013_SP1\"/>",
    "<!--",
    "-->",
    "<?pi x?>",
    "</",
    "/>",
    "<a:",
    "Id=\"",
    "ChangeKey=\"",
    "<t:ItemId Id=\"AAA\"/>",
    "<t:TimeStamp>9999-12-31T23:59:60Z</t:TimeStamp>",
    "<t:TimeStamp>2024-02-30T25:61:61+25:00</t:TimeStamp>",
    "<t:Base64Binary>====</t:Base64Binary>",
    "<t:MaxEntriesReturned>-1</t:MaxEntriesReturned>",
    "Offset=\"-2147483648\"",
    "MaxEntriesReturned=\"4294967296\"",
];

const SHELL_DICT: &[&str] = &[
    "$(",
    ")",
    "(",
    "`",
    "`n",
    "`\"",
    "'",
    "''",
    "\"",
    "\"$env:SYSTEMDRIVE\\x\"",
    "$env:",
    "$null",
    "$True",
    "$user.Identity",
    ".Count",
    "(Get-AuthConfig).CurrentCertificateThumbprint",
    "-Confirm:$false",
    "-Name",
    "-",
    "--",
    "<#",
    "#>",
    "#",
    ";",
    "|",
    "@{",
    "@(",
    "{",
    "}",
    "[System.Convert]::",
    "\n",
    " `\n",
    "=",
    "1.5",
    "-1",
    "1e999",
    "Write-Host",
    "Get-Date",
    "Import-Module MSOnline",
    "\u{2013}Name",
    "\u{201c}",
    "\u{a0}",
];

fn dict(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Jwt => JWT_DICT,
        Kind::Json => JSON_DICT,
        Kind::Xml => XML_DICT,
        Kind::Shell => SHELL_DICT,
        Kind::Text => JWT_DICT,
    }
}

/// Applies 1–4 stacked mutations to a copy of `base`; `other` is a second pool input to splice.
pub fn mutate(rng: &mut Rng, kind: Kind, base: &[u8], other: &[u8], max_len: usize) -> Vec<u8> {
    let mut data = base.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if rng.chance(2) {
            structured(rng, kind, &mut data, max_len);
        } else {
            generic(rng, kind, &mut data, other);
        }
        if data.len() > max_len {
            data.truncate(max_len);
        }
    }
    data
}

/// One byte-level mutation.
pub fn generic(rng: &mut Rng, kind: Kind, data: &mut Vec<u8>, other: &[u8]) {
    let len = data.len();
    match rng.below(11) {
        0 if len > 0 => {
            let i = rng.below(len);
            data[i] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let i = rng.below(len);
            data[i] = *rng.pick(INTERESTING_BYTES);
        }
        2 => {
            let i = rng.below(len + 1);
            let n = 1 + rng.below(4);
            for _ in 0..n {
                let b = if rng.chance(2) {
                    *rng.pick(INTERESTING_BYTES)
                } else {
                    rng.next_u64() as u8
                };
                data.insert(i, b);
            }
        }
        3 if len > 0 => {
            let i = rng.below(len);
            let cap = if rng.chance(4) { 256 } else { 8 };
            let n = 1 + rng.below((len - i).min(cap));
            data.drain(i..i + n);
        }
        4 if len > 0 => {
            // duplicate a chunk somewhere
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(64));
            let chunk = data[i..i + n].to_vec();
            let at = rng.below(len + 1);
            data.splice(at..at, chunk);
        }
        5 if !other.is_empty() => {
            // splice: prefix of data, suffix of other
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            data.truncate(cut);
            data.extend_from_slice(&other[from..]);
        }
        6 => {
            let word = rng.pick(dict(kind)).as_bytes();
            let at = rng.below(len + 1);
            data.splice(at..at, word.iter().copied());
        }
        7 => replace_number(rng, data),
        8 if len > 0 => {
            let at = rng.below(len + 1);
            data.truncate(at);
        }
        9 if len > 0 => {
            // repeat a chunk many times (size blow-ups)
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(32));
            let times = 2 + rng.sometimes(4, 2000, 20);
            let chunk = data[i..i + n].repeat(times);
            data.splice(i..i, chunk);
        }
        _ if len > 1 => {
            // swap two bytes
            let (a, b) = (rng.below(len), rng.below(len));
            data.swap(a, b);
        }
        _ => data.push(rng.next_u64() as u8),
    }
}

fn replace_number(rng: &mut Rng, data: &mut Vec<u8>) {
    let starts: Vec<usize> = (0..data.len())
        .filter(|&i| data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit()))
        .collect();
    let new = rng.pick(INTERESTING_NUMBERS).as_bytes();
    if starts.is_empty() {
        let at = rng.below(data.len() + 1);
        data.splice(at..at, new.iter().copied());
        return;
    }
    let s = *rng.pick(&starts);
    let mut e = s;
    while e < data.len() && data[e].is_ascii_digit() {
        e += 1;
    }
    data.splice(s..e, new.iter().copied());
}

/// One structure-aware mutation for the input's kind (falls back to a generic one).
pub fn structured(rng: &mut Rng, kind: Kind, data: &mut Vec<u8>, max_len: usize) {
    let done = match kind {
        Kind::Jwt => jwt(rng, data, 0),
        Kind::Json => json_bytes(rng, data, max_len),
        Kind::Xml => xml(rng, data, max_len),
        Kind::Shell => shell(rng, data),
        Kind::Text => false,
    };
    if !done {
        generic(rng, kind, data, &[]);
    }
}

// ---------------------------------------------------------------- JWT

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    s2s_proto::b64::url_decode(s).ok()
}

fn b64url_encode(b: &[u8]) -> String {
    s2s_proto::b64::url_encode(b)
}

/// Mutates a compact JWT found in `data` (after an optional `Bearer ` prefix). Returns whether
/// it did.
fn jwt(rng: &mut Rng, data: &mut Vec<u8>, depth: usize) -> bool {
    let Ok(s) = std::str::from_utf8(data) else {
        return false;
    };
    let (prefix, token) = match s.find("eyJ") {
        Some(i) => s.split_at(i),
        None => ("", s),
    };
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    if parts.len() < 2 {
        return false;
    }
    match rng.below(8) {
        // drop / add / swap segments
        0 => {
            let i = rng.below(parts.len());
            parts.remove(i);
        }
        1 => {
            let i = rng.below(parts.len() + 1);
            let dup = parts[rng.below(parts.len())].clone();
            parts.insert(i, dup);
        }
        2 => {
            // signature: empty, cut, flipped, or the zero ECDSA signature
            let last = parts.len() - 1;
            parts[last] = match rng.below(4) {
                0 => String::new(),
                1 => {
                    // half of it, cut on a character boundary (a JSON string value may hold
                    // something that only looks like a token)
                    let seg = &parts[last];
                    let mut half = seg.len() / 2;
                    while !seg.is_char_boundary(half) {
                        half -= 1;
                    }
                    seg[..half].to_owned()
                }
                2 => "MAYCAQACAQA".to_owned(),
                _ => {
                    let mut sig = b64url_decode(&parts[last]).unwrap_or_default();
                    if !sig.is_empty() {
                        let i = rng.below(sig.len());
                        sig[i] ^= 1 << rng.below(8);
                    }
                    b64url_encode(&sig)
                }
            };
        }
        _ => {
            // decode header or payload, mutate the JSON, re-encode
            let i = if rng.chance(3) { 0 } else { 1 };
            let Some(mut raw) = b64url_decode(&parts[i]) else {
                return false;
            };
            match serde_json::from_slice::<Value>(&raw) {
                Ok(mut v) if rng.below(4) != 0 => {
                    // the payload's nested actor token is a JWT too
                    let nested = v
                        .get("actortoken")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    if let (Some(actor), true) = (nested, depth == 0 && rng.chance(3)) {
                        let mut a = actor.into_bytes();
                        jwt(rng, &mut a, depth + 1);
                        v["actortoken"] = Value::String(String::from_utf8_lossy(&a).into_owned());
                    } else {
                        json_value(rng, &mut v, 0);
                    }
                    raw = serde_json::to_vec(&v).unwrap_or_default();
                    if rng.chance(6) {
                        duplicate_json_key(rng, &mut raw);
                    }
                }
                _ => generic(rng, Kind::Jwt, &mut raw, &[]),
            }
            parts[i] = b64url_encode(&raw);
        }
    }
    let mut out = prefix.to_owned();
    out.push_str(&parts.join("."));
    *data = out.into_bytes();
    true
}

/// Textually duplicates one `"key":value` member of a flat JSON object.
fn duplicate_json_key(rng: &mut Rng, raw: &mut Vec<u8>) {
    let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(raw) else {
        return;
    };
    if map.is_empty() || raw.last() != Some(&b'}') {
        return;
    }
    let keys: Vec<&String> = map.keys().collect();
    let key = *rng.pick(&keys);
    let value = if rng.chance(2) {
        map[key.as_str()].clone()
    } else {
        Value::String("attacker".into())
    };
    let member = format!(",{}:{}", Value::String(key.clone()), value);
    raw.pop();
    raw.extend_from_slice(member.as_bytes());
    raw.push(b'}');
}

// ---------------------------------------------------------------- JSON

const JSON_KEYS: &[&str] = &[
    "alg",
    "typ",
    "kid",
    "x5t",
    "crit",
    "jku",
    "jwk",
    "x5c",
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
    "actortoken",
    "trustedfordelegation",
    "identityprovider",
    "oid",
    "sub",
    "jti",
    "version",
    "realm",
    "issuer",
    "keys",
    "endpoints",
    "usage",
    "keyValue",
    "keyInfo",
    "type",
    "value",
    "log",
    "entries",
    "request",
    "response",
    "headers",
    "name",
    "url",
    "status",
    "postData",
    "content",
    "text",
    "startedDateTime",
];

fn random_value(rng: &mut Rng) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(2)),
        2 => {
            let n = INTERESTING_NUMBERS[rng.below(INTERESTING_NUMBERS.len())];
            serde_json::from_str(n).unwrap_or(Value::Null)
        }
        3 => Value::from(rng.next_u64() as i64),
        4 => Value::from(f64::from_bits(rng.next_u64()) % 1e20),
        5 => Value::String(String::new()),
        6 => Value::String("x".repeat(1 + rng.below(5000))),
        7 => Value::Array(vec![Value::String(String::new())]),
        8 => Value::Object(serde_json::Map::new()),
        9 => Value::String(rng.pick(INTERESTING_NUMBERS).to_string()),
        10 => Value::String("\u{0}\u{feff}\u{202e}".into()),
        _ => Value::String(rng.pick(JWT_DICT).to_string()),
    }
}

/// Mutates one node of a JSON value in place.
fn json_value(rng: &mut Rng, v: &mut Value, depth: usize) {
    let descend = depth < 12 && rng.below(3) != 0;
    match v {
        Value::Object(map) if descend && !map.is_empty() => {
            let keys: Vec<String> = map.keys().cloned().collect();
            let k = rng.pick(&keys).clone();
            if let Some(child) = map.get_mut(&k) {
                json_value(rng, child, depth + 1);
            }
            return;
        }
        Value::Array(items) if descend && !items.is_empty() => {
            let i = rng.below(items.len());
            json_value(rng, &mut items[i], depth + 1);
            return;
        }
        _ => {}
    }
    match rng.below(8) {
        0 => *v = random_value(rng),
        1 => {
            // deep nesting around this node
            let n = 1 + rng.sometimes(4, 2000, 16);
            let mut inner = std::mem::take(v);
            for _ in 0..n {
                inner = if rng.chance(2) {
                    Value::Array(vec![inner])
                } else {
                    let mut m = serde_json::Map::new();
                    m.insert("a".into(), inner);
                    Value::Object(m)
                };
            }
            *v = inner;
        }
        2 => match v {
            Value::Object(map) => {
                let k = rng.pick(JSON_KEYS).to_string();
                map.insert(k, random_value(rng));
            }
            Value::Array(items) => {
                if let Some(x) = items.first().cloned() {
                    let times = 1 + rng.sometimes(4, 500, 4);
                    items.extend(std::iter::repeat_n(x, times));
                }
            }
            _ => *v = random_value(rng),
        },
        3 => match v {
            Value::Object(map) if !map.is_empty() => {
                let keys: Vec<String> = map.keys().cloned().collect();
                map.remove(rng.pick(&keys));
            }
            Value::Array(items) if !items.is_empty() => {
                items.remove(rng.below(items.len()));
            }
            _ => *v = Value::Null,
        },
        4 => {
            // a string that holds a JWT gets a JWT mutation
            if let Value::String(s) = v {
                let mut b = std::mem::take(s).into_bytes();
                if !jwt(rng, &mut b, 1) {
                    generic(rng, Kind::Jwt, &mut b, &[]);
                }
                *s = String::from_utf8_lossy(&b).into_owned();
            } else {
                *v = random_value(rng);
            }
        }
        5 => {
            // type confusion: wrap a scalar in an array, or stringify it
            let inner = std::mem::take(v);
            *v = if rng.chance(2) {
                Value::Array(vec![inner])
            } else {
                Value::String(inner.to_string())
            };
        }
        _ => {
            if let Value::String(s) = v {
                let mut b = std::mem::take(s).into_bytes();
                generic(rng, Kind::Json, &mut b, &[]);
                *s = String::from_utf8_lossy(&b).into_owned();
            } else {
                *v = random_value(rng);
            }
        }
    }
}

fn json_bytes(rng: &mut Rng, data: &mut Vec<u8>, max_len: usize) -> bool {
    let Ok(mut v) = serde_json::from_slice::<Value>(data) else {
        return false;
    };
    json_value(rng, &mut v, 0);
    let Ok(mut out) = serde_json::to_vec(&v) else {
        return false;
    };
    if out.len() > max_len {
        return false;
    }
    if rng.chance(8) {
        duplicate_json_key(rng, &mut out);
    }
    *data = out;
    true
}

// ---------------------------------------------------------------- XML

/// Byte ranges of the tags (`<…>`) in `data`.
fn tags(data: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if data[i] == b'<'
            && let Some(off) = data[i..].iter().position(|&b| b == b'>')
        {
            out.push((i, i + off + 1));
            i += off + 1;
            continue;
        }
        i += 1;
    }
    out
}

fn xml(rng: &mut Rng, data: &mut Vec<u8>, max_len: usize) -> bool {
    let tags = tags(data);
    if tags.is_empty() {
        return false;
    }
    let (s, e) = *rng.pick(&tags);
    match rng.below(9) {
        0 => {
            // duplicate a tag
            let t = data[s..e].to_vec();
            data.splice(e..e, t);
        }
        1 => {
            // duplicate an element: from a start tag to the matching-ish end tag
            let name: Vec<u8> = data[s + 1..e - 1]
                .iter()
                .take_while(|b| !b.is_ascii_whitespace() && **b != b'/' && **b != b'>')
                .copied()
                .collect();
            if name.is_empty() || name[0] == b'/' || name[0] == b'?' || name[0] == b'!' {
                return false;
            }
            let mut close = b"</".to_vec();
            close.extend_from_slice(&name);
            close.push(b'>');
            let end = if data[e - 2] == b'/' {
                e
            } else {
                match data[e..].windows(close.len()).position(|w| w == close) {
                    Some(p) => e + p + close.len(),
                    None => return false,
                }
            };
            let element = data[s..end].to_vec();
            let times = 1 + rng.sometimes(8, 200, 2);
            let mut block = Vec::with_capacity(element.len() * times);
            for _ in 0..times {
                block.extend_from_slice(&element);
            }
            if data.len() + block.len() > max_len {
                return false;
            }
            data.splice(end..end, block);
        }
        2 => {
            // duplicate an attribute inside a tag
            let tag = &data[s..e];
            let Some(eq) = tag.iter().position(|&b| b == b'=') else {
                return false;
            };
            let start = tag[..eq]
                .iter()
                .rposition(|b| b.is_ascii_whitespace())
                .map_or(1, |p| p + 1);
            let quote = tag.get(eq + 1).copied().unwrap_or(b'"');
            let Some(close) = tag[eq + 2..].iter().position(|&b| b == quote) else {
                return false;
            };
            let attr = tag[start..eq + 2 + close + 1].to_vec();
            let times = 1 + rng.sometimes(8, 100, 2);
            let at = s + start;
            let mut block = Vec::new();
            for _ in 0..times {
                block.extend_from_slice(&attr);
                block.push(b' ');
            }
            data.splice(at..at, block);
        }
        3 => {
            // deep nesting at a tag boundary
            let n = 1 + rng.sometimes(3, 3000, 80);
            let name = *rng.pick(&["a", "t:Folder", "m:Items", "x:y"]);
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            if data.len() + n * (open.len() + close.len()) > max_len {
                return false;
            }
            let mut block = open.repeat(n).into_bytes();
            if rng.chance(2) {
                block.extend_from_slice(close.repeat(n).as_bytes());
            }
            data.splice(e..e, block);
        }
        4 => {
            // delete a tag
            data.drain(s..e);
        }
        5 => {
            // rebind or swap prefixes
            let from = *rng.pick(&["t:", "m:", "soap:", "s:"]);
            let to = *rng.pick(&["t:", "m:", "soap:", "s:", "", "x:"]);
            let tag = String::from_utf8_lossy(&data[s..e]).replacen(from, to, 1);
            data.splice(s..e, tag.into_bytes());
        }
        6 => {
            // many namespace declarations / attributes on one element
            let n = 1 + rng.sometimes(4, 2000, 40);
            let mut block = Vec::new();
            for i in 0..n {
                if rng.chance(2) {
                    block.extend_from_slice(format!(" xmlns:p{i}=\"urn:x{i}\"").as_bytes());
                } else {
                    block.extend_from_slice(format!(" a{i}=\"v\"").as_bytes());
                }
            }
            if data.len() + block.len() > max_len || e < 2 {
                return false;
            }
            let at = if data[e - 2] == b'/' { e - 2 } else { e - 1 };
            data.splice(at..at, block);
        }
        7 => {
            // text or entity payloads between tags
            let word = rng.pick(XML_DICT).as_bytes();
            data.splice(e..e, word.iter().copied());
        }
        _ => {
            // prepend a prolog / DOCTYPE / BOM
            let word = *rng.pick(&[
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>",
                "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;&lol;&lol;\">]>",
                "\u{feff}",
                "<!-- c -->",
                "  \n",
            ]);
            data.splice(0..0, word.bytes());
        }
    }
    true
}

// ---------------------------------------------------------------- PowerShell

/// Splits into tokens: runs of word characters, runs of spaces, single other characters.
fn shell_tokens(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let class = |c: char| {
        if c.is_alphanumeric() || c == '_' || c == '-' || c == '$' || c == '.' || c == '@' {
            0
        } else if c == ' ' || c == '\t' {
            1
        } else {
            2
        }
    };
    let mut last = 3;
    for c in s.chars() {
        let k = class(c);
        if k != 2 && k == last {
            if let Some(t) = out.last_mut() {
                t.push(c);
            }
        } else {
            out.push(c.to_string());
        }
        last = k;
    }
    out
}

fn shell(rng: &mut Rng, data: &mut Vec<u8>) -> bool {
    let s = String::from_utf8_lossy(data).into_owned();
    let mut toks = shell_tokens(&s);
    if toks.is_empty() {
        return false;
    }
    let n = toks.len();
    match rng.below(6) {
        0 => {
            let (a, b) = (rng.below(n), rng.below(n));
            toks.swap(a, b);
        }
        1 => {
            let i = rng.below(n);
            let t = toks[i].clone();
            toks.insert(rng.below(n + 1), t);
        }
        2 => {
            let i = rng.below(n);
            toks[i] = rng.pick(SHELL_DICT).to_string();
        }
        3 => {
            toks.remove(rng.below(n));
        }
        4 => {
            // nesting: parentheses, sub-expressions in strings
            let depth = 1 + rng.sometimes(4, 5000, 50);
            let (open, close) =
                *rng.pick(&[("(", ")"), ("$(", ")"), ("\"$(", ")\""), ("<#", "#>")]);
            let i = rng.below(n + 1);
            let mut inner = open.repeat(depth);
            inner.push_str("Get-AuthConfig");
            if rng.chance(2) {
                inner.push_str(&close.repeat(depth));
            }
            toks.insert(i, inner);
        }
        _ => {
            let i = rng.below(n + 1);
            toks.insert(i, rng.pick(SHELL_DICT).to_string());
        }
    }
    *data = toks.concat().into_bytes();
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_stay_bounded_and_change_something() {
        let mut rng = Rng::new(7);
        let seeds: [(&[u8], Kind); 4] = [
            (b"eyJhbGciOiJub25lIn0.eyJhIjoxfQ.", Kind::Jwt),
            (b"{\"a\":[1,2,{\"b\":\"c\"}]}", Kind::Json),
            (b"<a x=\"1\"><b/>t</a>", Kind::Xml),
            (b"$u = New-MailUser -Name x", Kind::Shell),
        ];
        for (seed, kind) in seeds {
            let mut changed = 0;
            for _ in 0..500 {
                let m = mutate(&mut rng, kind, seed, b"other", 4096);
                assert!(m.len() <= 4096);
                changed += usize::from(m != seed);
            }
            assert!(changed > 400, "{kind:?}: only {changed} of 500 changed");
        }
    }

    /// Regression: cutting a token-looking JSON string in half split a multi-byte character and
    /// panicked in the fuzzer itself (found by the `claims` target's corpus).
    #[test]
    fn token_looking_strings_with_non_ascii_text_mutate_without_panicking() {
        let mut rng = Rng::new(11);
        let seed = "{\"t\":\"eyJé.é\",\"u\":\"x.eyJaé.bé.cé\"}".as_bytes();
        for _ in 0..5000 {
            let m = mutate(&mut rng, Kind::Json, seed, b"other", 4096);
            assert!(m.len() <= 4096);
        }
    }

    #[test]
    fn the_rng_is_reproducible() {
        let (mut a, mut b) = (Rng::new(1), Rng::new(1));
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
    }
}
