//! The traffic record: every server-to-server request Exchange saw, with the decoded claims and
//! never the signature. In memory (the last 10,000) and appended to `traffic.jsonl` in the data
//! directory for `openhybrid trace`.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use s2s_proto::S2sToken;
use serde::Serialize;
use serde_json::value::RawValue;

const KEEP: usize = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct TrafficRecord {
    pub time: i64,
    pub operation: String,
    /// Actor application (`<appid>@<realm>`), if the token got that far.
    pub actor: Option<Arc<str>>,
    pub user: Option<Arc<str>>,
    pub partner: Option<Arc<str>>,
    /// `ok` or the refusal reason.
    pub verdict: std::borrow::Cow<'static, str>,
    /// The authorization scheme seen (`Bearer`, `Basic`, none).
    pub scheme: std::borrow::Cow<'static, str>,
    /// Decoded outer and actor claims; the signature is elided (JSON text, written as it is).
    /// Shared by every record of one cached authentication.
    pub claims: Arc<Box<RawValue>>,
}

/// A record as a line of `traffic.jsonl`: the claims a cached authentication shares are written
/// once per file, under a number; its later records carry only that `claims_id`, and readers take
/// the claims from the earlier line (`inspect::record_claims`). Each file is whole on its own.
/// Written by [`Line::write_to`]; serde's form is the test's oracle for it.
#[cfg_attr(test, derive(Serialize))]
struct Line<'a> {
    time: i64,
    operation: &'a str,
    actor: Option<&'a str>,
    user: Option<&'a str>,
    partner: Option<&'a str>,
    verdict: &'a str,
    scheme: &'a str,
    claims_id: u64,
    #[cfg_attr(test, serde(skip_serializing_if = "Option::is_none"))]
    claims: Option<&'a RawValue>,
}

impl Line<'_> {
    /// Appends the line's JSON to `out`: exactly what serde_json writes for it (a test holds the
    /// two together), without serde_json's per-byte escaping of strings that need none (the
    /// member names are constants; the values are names, addresses and verdicts). Serializing
    /// through serde_json was about 2.7 K instructions a record, a third of a cached
    /// authentication's own cost.
    fn write_to(&self, out: &mut Vec<u8>) {
        let mut num = itoa::Buffer::new();
        out.extend_from_slice(b"{\"time\":");
        out.extend_from_slice(num.format(self.time).as_bytes());
        out.extend_from_slice(b",\"operation\":");
        json_str(out, self.operation);
        for (name, value) in [
            (&b",\"actor\":"[..], self.actor),
            (b",\"user\":", self.user),
            (b",\"partner\":", self.partner),
        ] {
            out.extend_from_slice(name);
            match value {
                Some(v) => json_str(out, v),
                None => out.extend_from_slice(b"null"),
            }
        }
        out.extend_from_slice(b",\"verdict\":");
        json_str(out, self.verdict);
        out.extend_from_slice(b",\"scheme\":");
        json_str(out, self.scheme);
        out.extend_from_slice(b",\"claims_id\":");
        out.extend_from_slice(num.format(self.claims_id).as_bytes());
        if let Some(claims) = self.claims {
            out.extend_from_slice(b",\"claims\":");
            out.extend_from_slice(claims.get().as_bytes());
        }
        out.push(b'}');
    }
}

/// A JSON string: copied between quotes when nothing in it needs escaping, else serde_json's.
fn json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // writing a string into a Vec cannot fail
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Claims written once in the current file, at most this many remembered (past it, the next
/// record of each writes them again).
const MAX_WRITTEN_CLAIMS: usize = 1024;

/// The file is written through a buffer flushed at most a second apart (and when read): the
/// record is diagnostics, so a crash may lose the last second of it, never a mailbox write. It is
/// bounded: past [`MAX_FILE_BYTES`] the file becomes `traffic.jsonl.1` (replacing the one before)
/// and a new one starts, so a lab under load keeps at most twice that on disk. A token's claims
/// are written once per file (see [`Line`]): a cached token's later requests cost about 250 bytes
/// each instead of the 2.5 KB of its claims.
pub struct TrafficLog {
    ring: Mutex<VecDeque<TrafficRecord>>,
    file: Option<Mutex<LogFile>>,
}

/// Bytes of `traffic.jsonl` before it is rotated (about 25,000 records of a token pair).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

struct LogFile {
    out: std::io::BufWriter<std::fs::File>,
    flushed: std::time::Instant,
    /// Bytes in the current file.
    len: u64,
    max: u64,
    path: PathBuf,
    /// Shared claims already in this file, by the address of their text, with their number. The
    /// entry holds the `Arc`, so the address cannot be reused while it is a key.
    written: HashMap<usize, (u64, Arc<Box<RawValue>>)>,
    next_id: u64,
    /// The line being written, kept between records.
    line_buf: Vec<u8>,
}

/// Largest line buffer kept between records (a refusal's record of a large token may need more
/// once; the buffer is not kept at that size).
const MAX_KEPT_LINE_BUF: usize = 16 * 1024;

fn open_log(path: &std::path::Path) -> Option<std::fs::File> {
    // owner-only, like every file of the data directory (it holds token claims)
    store::private::ensure_private_file(path).ok()?;
    std::fs::OpenOptions::new().append(true).open(path).ok()
}

impl TrafficLog {
    pub fn new(path: Option<PathBuf>) -> Self {
        Self::with_limit(path, MAX_FILE_BYTES)
    }

    /// [`TrafficLog::new`] rotating the file past `max` bytes.
    pub fn with_limit(path: Option<PathBuf>, max: u64) -> Self {
        let file = path.and_then(|path| {
            let f = open_log(&path)?;
            let len = f.metadata().map(|m| m.len()).unwrap_or(0);
            Some(Mutex::new(LogFile {
                out: std::io::BufWriter::with_capacity(64 * 1024, f),
                flushed: std::time::Instant::now(),
                len,
                max,
                path,
                written: HashMap::new(),
                next_id: 1,
                line_buf: Vec::new(),
            }))
        });
        TrafficLog {
            ring: Mutex::new(VecDeque::new()),
            file,
        }
    }

    pub fn record(&self, r: TrafficRecord) {
        if let Some(f) = &self.file
            && let Ok(mut f) = f.lock()
        {
            let f = &mut *f;
            let (claims_id, first) = f.claims_id(&r.claims);
            let line = Line {
                time: r.time,
                operation: &r.operation,
                actor: r.actor.as_deref(),
                user: r.user.as_deref(),
                partner: r.partner.as_deref(),
                verdict: &r.verdict,
                scheme: &r.scheme,
                claims_id,
                claims: first.then_some(&**r.claims),
            };
            // written into a buffer kept for the next record, then into the file's buffer at once
            let mut line_buf = std::mem::take(&mut f.line_buf);
            line_buf.clear();
            line.write_to(&mut line_buf);
            line_buf.push(b'\n');
            if f.out.write_all(&line_buf).is_ok() {
                f.len += line_buf.len() as u64;
            }
            if line_buf.capacity() <= MAX_KEPT_LINE_BUF {
                f.line_buf = line_buf;
            }
            if f.len >= f.max {
                f.rotate();
            } else if f.flushed.elapsed() >= std::time::Duration::from_secs(1) {
                let _ = f.out.flush();
                f.flushed = std::time::Instant::now();
            }
        }
        let dropped = self.ring.lock().ok().and_then(|mut ring| {
            let old = (ring.len() >= KEEP).then(|| ring.pop_front()).flatten();
            ring.push_back(r);
            old
        });
        // freed after the lock is let go
        drop(dropped);
    }

    pub fn flush(&self) {
        if let Some(f) = &self.file
            && let Ok(mut f) = f.lock()
        {
            let _ = f.out.flush();
            f.flushed = std::time::Instant::now();
        }
    }

    pub fn snapshot(&self) -> Vec<TrafficRecord> {
        self.flush();
        self.ring
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl LogFile {
    /// The number `claims` go by in this file, and whether this is their first line (to be
    /// written whole). Claims that only this record holds (a refusal's, or an uncached
    /// authentication's once its caller is gone) will not be seen again: they get a number that
    /// nothing refers to, and are not remembered.
    fn claims_id(&mut self, claims: &Arc<Box<RawValue>>) -> (u64, bool) {
        let key = Arc::as_ptr(claims) as usize;
        if let Some((id, _)) = self.written.get(&key) {
            return (*id, false);
        }
        let id = self.next_id;
        self.next_id += 1;
        if Arc::strong_count(claims) > 1 {
            if self.written.len() >= MAX_WRITTEN_CLAIMS {
                self.written.clear();
            }
            self.written.insert(key, (id, Arc::clone(claims)));
        }
        (id, true)
    }

    /// The current file becomes `<name>.1` and a new one starts; if that fails, the current file
    /// is kept and written on (the next record tries again).
    fn rotate(&mut self) {
        let _ = self.out.flush();
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        if std::fs::rename(&self.path, &old).is_ok() {
            match open_log(&self.path) {
                Some(f) => {
                    self.out = std::io::BufWriter::with_capacity(64 * 1024, f);
                    self.len = 0;
                    // each file is whole on its own: claims are written again in the new one
                    self.written.clear();
                }
                // keep one file rather than write on into the rotated one
                None => {
                    let _ = std::fs::rename(&old, &self.path);
                }
            }
        }
        self.flushed = std::time::Instant::now();
    }
}

/// Decodes a bearer for the record: the header and claims of each layer, never a whole token or
/// a signature. An `actortoken` is replaced by its own decoded layers (a nested one too, up to
/// [`MAX_RECORDED_LAYERS`]), or by a note saying it did not decode, so that a malformed token
/// wrapping a real one cannot carry a credential into the record.
pub fn decode_for_record(token: &str) -> serde_json::Value {
    decode_layer(token, 1)
}

/// [`decode_for_record`] as JSON text.
pub fn record_raw(token: &str) -> Box<RawValue> {
    serde_json::value::to_raw_value(&decode_for_record(token))
        .unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// The record of a bearer that validated, built from the JSON of its layers that validation
/// already decoded and checked, instead of decoding the token a second time (that was as costly as
/// the validation's own decoding, on every uncached authentication). It says what
/// [`decode_for_record`] says, members in the same order, values in the token's own spelling;
/// whatever the fast path does not handle exactly (a member name with an escape, an `actortoken`
/// inside the actor) is left to [`decode_for_record`].
pub fn record_for_validated(token: &str, validated: &S2sToken) -> Box<RawValue> {
    let record = match validated {
        S2sToken::User {
            actor,
            outer_header,
            outer,
            ..
        } => layer_record(
            outer_header.json(),
            outer.json(),
            false,
            Some((actor.header.json(), actor.claims.json())),
        ),
        S2sToken::AppOnly { actor, .. } => {
            layer_record(actor.header.json(), actor.claims.json(), true, None)
        }
    };
    // serialized from the validated pieces as they are: nothing to parse again
    record
        .and_then(|r| serde_json::value::to_raw_value(&r).ok())
        .unwrap_or_else(|| record_raw(token))
}

/// One layer's record: `{"header":…,"claims":{…}}`, with `"signature":"<elided>"` for a signed
/// layer; the members are sorted by name, as `decode_for_record`'s maps are, their values kept in
/// the token's own spelling.
#[derive(Serialize)]
struct LayerRecord<'a> {
    header: &'a RawValue,
    claims: std::collections::BTreeMap<&'a str, Member<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Member<'a> {
    Raw(&'a RawValue),
    /// The `actortoken`, as the record of its validated layers.
    Actor(Box<LayerRecord<'a>>),
}

/// The record of one layer from its decoded header and claims, the claims' `actortoken` replaced
/// by the record of `actor`. `None` where the layer needs the full decoder: a member name that is
/// not plain text (an escaped name does not borrow), or an `actortoken` member with no validated
/// actor for it (only the outer layer has one).
fn layer_record<'a>(
    header: &'a str,
    claims: &'a str,
    signed: bool,
    actor: Option<(&'a str, &'a str)>,
) -> Option<LayerRecord<'a>> {
    let members: std::collections::BTreeMap<&str, &RawValue> = serde_json::from_str(claims).ok()?;
    let claims = members
        .into_iter()
        .map(|(name, value)| {
            let member = if name == "actortoken" {
                let (h, c) = actor?;
                Member::Actor(Box::new(layer_record(h, c, true, None)?))
            } else {
                Member::Raw(value)
            };
            Some((name, member))
        })
        .collect::<Option<_>>()?;
    Some(LayerRecord {
        header: serde_json::from_str(header).ok()?,
        claims,
        signature: signed.then_some("<elided>"),
    })
}

/// [`layer_record`] as JSON text.
#[cfg(test)]
fn layer_text(
    header: &str,
    claims: &str,
    signed: bool,
    actor: Option<(&str, &str)>,
) -> Option<String> {
    serde_json::to_string(&layer_record(header, claims, signed, actor)?).ok()
}

/// How many nested token layers a record decodes (outer, actor, and one more to show misuse).
pub const MAX_RECORDED_LAYERS: usize = 3;

fn decode_layer(token: &str, depth: usize) -> serde_json::Value {
    let Ok(t) = s2s_proto::jwt::Compact::parse(token) else {
        return serde_json::json!({"undecodable": true, "length": token.len()});
    };
    let mut claims = t.claims;
    if let Some(a) = claims.get_mut("actortoken") {
        *a = match a.as_str() {
            Some(inner) if depth < MAX_RECORDED_LAYERS => decode_layer(inner, depth + 1),
            Some(inner) => serde_json::json!({"elided": "nested too deep", "length": inner.len()}),
            // not a string: no token in it to leak, but a container may hold anything
            None => serde_json::json!({"undecodable": true, "type": json_type(a)}),
        };
    }
    let mut v = serde_json::json!({ "header": t.header, "claims": claims });
    if !t.signature_b64.is_empty() {
        v["signature"] = "<elided>".into();
    }
    v
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{claims, signed_app_token};
    use s2s_proto::jwt;
    use serde_json::Value;

    /// A real signed actor token and its signature segment.
    fn actor() -> (String, String) {
        let a = signed_app_token("app@realm");
        let sig = a.rsplit_once('.').unwrap().1.to_owned();
        (a, sig)
    }
    fn outer(inner: &str) -> String {
        jwt::unsigned(&claims(&[
            ("actortoken", inner),
            ("smtp", "alice@contoso.example"),
        ]))
    }

    /// The hand-written line is byte for byte what serde_json writes for it: names absent and
    /// present, strings that need escaping (quotes, backslashes, controls, non-ASCII), claims
    /// written and referred to, negative and large numbers.
    #[test]
    fn a_line_is_written_as_serde_json_writes_it() {
        let claims = record_raw(&outer(&actor().0));
        let odd = "a \"quoted\" \\ back\u{1}slash\n\ttab \u{7f} é 😀";
        for (time, text, who, claims_id, with_claims) in [
            (0, "GetFolder", None, 1, true),
            (1_800_000_000, "ok", Some("app@realm"), 7, false),
            (-5, odd, Some(odd), u64::MAX, true),
            (i64::MIN, "", Some(""), 0, false),
        ] {
            let line = Line {
                time,
                operation: text,
                actor: who,
                user: who.map(|_| "alice@contoso.example"),
                partner: who,
                verdict: text,
                scheme: "Bearer",
                claims_id,
                claims: with_claims.then_some(&*claims),
            };
            let mut ours = Vec::new();
            line.write_to(&mut ours);
            let theirs = serde_json::to_vec(&line).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(theirs).unwrap()
            );
        }
    }

    /// Regression: the file grew without bound (about 37 MB a second under the load benchmark).
    /// Past its limit it becomes `.1` and a new one starts; every line of both is a whole record.
    #[test]
    fn the_file_is_rotated_past_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traffic.jsonl");
        let log = TrafficLog::with_limit(Some(path.clone()), 2000);
        let record = |i: usize| TrafficRecord {
            time: i as i64,
            operation: "GetFolder".into(),
            actor: None,
            user: None,
            partner: None,
            verdict: "ok".into(),
            scheme: "Bearer".into(),
            claims: Arc::new(record_raw(&outer(&actor().0))),
        };
        for i in 0..40 {
            log.record(record(i));
        }
        log.flush();
        let read = |p: &std::path::Path| std::fs::read_to_string(p).unwrap();
        let (current, previous) = (read(&path), read(&dir.path().join("traffic.jsonl.1")));
        let one = previous
            .lines()
            .chain(current.lines())
            .map(|l| l.len() + 1)
            .max()
            .unwrap();
        assert!(current.len() < 2000 + one, "{}", current.len());
        assert!(previous.len() >= 2000 && previous.len() < 2000 + one);
        let times: Vec<i64> = previous
            .lines()
            .chain(current.lines())
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["time"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        // the newest records, in order, none cut in two
        assert_eq!(times.last(), Some(&39));
        assert!(times.windows(2).all(|w| w[1] == w[0] + 1), "{times:?}");
        // the whole history stays in memory
        assert_eq!(log.snapshot().len(), 40);
        assert_eq!(TrafficLog::new(None).snapshot().len(), 0);
    }

    /// A cached authentication's claims are written with its first record in each file; its later
    /// records carry only their number. A refusal's own claims are written whole every time.
    #[test]
    fn shared_claims_are_written_once_per_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traffic.jsonl");
        let log = TrafficLog::with_limit(Some(path.clone()), 8000);
        let shared = Arc::new(record_raw(&outer(&actor().0)));
        let record = |i: usize, claims: Arc<Box<RawValue>>| TrafficRecord {
            time: i as i64,
            operation: "GetFolder".into(),
            actor: Some("app@realm".into()),
            user: Some("alice@contoso.example".into()),
            partner: Some("Skype".into()),
            verdict: "ok".into(),
            scheme: "Bearer".into(),
            claims,
        };
        for i in 0..60 {
            let claims = if i % 10 == 5 {
                Arc::new(record_raw("not a token"))
            } else {
                Arc::clone(&shared)
            };
            log.record(record(i, claims));
        }
        log.flush();
        let lines = |p: &std::path::Path| -> Vec<Value> {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect()
        };
        let (previous, current) = (lines(&dir.path().join("traffic.jsonl.1")), lines(&path));
        assert!(previous.len() > 20 && !current.is_empty());
        let expected: Value = serde_json::from_str(shared.get()).unwrap();
        for file in [&previous, &current] {
            // the first shared line of each file is whole, the others refer to it
            let shared_lines: Vec<&Value> = file
                .iter()
                .filter(|l| l["time"].as_i64().unwrap() % 10 != 5)
                .collect();
            let id = &shared_lines[0]["claims_id"];
            assert_eq!(shared_lines[0]["claims"], expected);
            for l in &shared_lines[1..] {
                assert_eq!(&l["claims_id"], id);
                assert!(l.get("claims").is_none(), "{l}");
            }
            // a refusal's claims are whole, under a number of their own
            for l in file
                .iter()
                .filter(|l| l["time"].as_i64().unwrap() % 10 == 5)
            {
                assert_eq!(l["claims"]["undecodable"], true);
                assert_ne!(&l["claims_id"], id);
            }
        }
        // a later record costs its fields and a number, not the claims
        let bytes = |v: &Value| v.to_string().len();
        assert!(bytes(&previous[0]) - bytes(&previous[1]) > expected.to_string().len());
        // the in-memory history keeps the claims on every record
        assert!(log.snapshot().iter().all(|r| !r.claims.get().is_empty()));
    }

    /// The decoded JSON of a compact token's header and claims.
    fn layers(token: &str) -> (String, String) {
        let mut parts = token.split('.');
        let mut next = || {
            String::from_utf8(s2s_proto::b64::url_decode(parts.next().unwrap()).unwrap()).unwrap()
        };
        (next(), next())
    }

    /// The fast record says what the full decoder says, for the layers it handles, and leaves
    /// the rest to it.
    #[test]
    fn the_record_of_validated_layers_matches_the_full_decoder() {
        let (a, sig) = actor();
        let (ah, ac) = layers(&a);
        let parse = |t: &str| serde_json::from_str::<Value>(t).unwrap();
        // outer + actor, and a signed token alone
        let o = jwt::unsigned(&claims(&[
            ("actortoken", &a),
            ("smtp", "alice@contoso.example"),
            ("aud", "x/y@z"),
            ("nbf", "1800000000"),
        ]));
        let (oh, oc) = layers(&o);
        let fast = layer_text(&oh, &oc, false, Some((&ah, &ac))).unwrap();
        assert_eq!(parse(&fast), decode_for_record(&o));
        assert!(!fast.contains(&sig) && !fast.contains(&a));
        let fast = layer_text(&ah, &ac, true, None).unwrap();
        assert_eq!(parse(&fast), decode_for_record(&a));
        // values of every kind, in the token's own spelling
        let c =
            r#"{"n":1.5e3,"b":true,"z":null,"arr":[1,{"k":"v"}],"s":"\u00e9\n","actortoken":"x"}"#;
        let fast = layer_text(r#"{"alg":"none"}"#, c, false, Some((&ah, &ac))).unwrap();
        let v = parse(&fast);
        assert_eq!(v["claims"]["s"], "\u{e9}\n");
        assert_eq!(v["claims"]["arr"][1]["k"], "v");
        assert_eq!(v["claims"]["actortoken"]["claims"]["nameid"], "app@realm");
        // an escaped member name, or an actortoken with no validated actor for it: not handled
        // here (the caller falls back to the full decoder)
        assert!(layer_text("{}", r#"{"actor\u0074oken":"x"}"#, false, Some((&ah, &ac))).is_none());
        assert!(layer_text(&ah, r#"{"actortoken":"x"}"#, true, None).is_none());
        assert!(layer_text(&oh, &oc, false, Some((&ah, &oc))).is_none());
    }

    #[test]
    fn a_record_keeps_claims_and_never_a_token_or_signature() {
        let (a, sig) = actor();
        let text = |v: &Value| v.to_string();
        // the usual pair: the actor decoded, its signature elided
        let v = decode_for_record(&outer(&a));
        assert_eq!(v["claims"]["actortoken"]["claims"]["nameid"], "app@realm");
        assert_eq!(v["claims"]["actortoken"]["signature"], "<elided>");
        assert!(v.get("signature").is_none(), "the outer token has none");
        assert!(!text(&v).contains(&sig));
        // Regression: an actortoken that did not decode (a real token with something appended or
        // prepended) was kept whole, signature included.
        for bad in [format!("{a}.x"), format!(" {a}"), format!("{a}\n")] {
            let v = decode_for_record(&outer(&bad));
            assert!(v["claims"]["actortoken"].is_object(), "{bad:?}: {v}");
            assert!(!text(&v).contains(&sig), "{bad:?}");
        }
        // Regression: an outer token wrapped in another outer token kept the inner pair whole.
        let v = decode_for_record(&outer(&outer(&a)));
        assert_eq!(
            v["claims"]["actortoken"]["claims"]["actortoken"]["claims"]["nameid"],
            "app@realm"
        );
        assert!(!text(&v).contains(&sig));
        assert_eq!(
            decode_for_record(&outer(&format!("{a}.x")))["claims"]["actortoken"]["undecodable"],
            true
        );
        // deeper nesting is cut off, still without the token
        let v = decode_for_record(&outer(&outer(&outer(&a))));
        assert!(!text(&v).contains(&sig));
        assert!(text(&v).contains("nested too deep"));
        // a signed token sent alone (app-only): claims kept, signature elided
        let v = decode_for_record(&a);
        assert_eq!(v["claims"]["nameid"], "app@realm");
        assert_eq!(v["signature"], "<elided>");
        assert!(!text(&v).contains(&sig));
        // not a token at all
        assert_eq!(decode_for_record("garbage")["undecodable"], true);
    }
}
