//! The traffic view of Exchange's records (`TrafficRecord` as JSON: time, operation, actor, user,
//! partner, verdict, scheme, claims).

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::InspectError;
use crate::explain::{clip, elide, format_time, looks_like_jwt, short_principal, well_known_app};

/// Most bytes of traffic records read at once.
const MAX_TRAFFIC_BYTES: usize = 256 << 20;

/// Reads records from `GET /admin/traffic` (`{"output":[…]}`), a JSON array, or JSON lines
/// (`traffic.jsonl`). Records of the file may carry their claims by number only; [`record_claims`]
/// finds them, and [`trace_records`] and [`resolved_records`] use it.
pub fn records_from_json(bytes: &[u8]) -> Result<Vec<Value>, InspectError> {
    if bytes.len() > MAX_TRAFFIC_BYTES {
        return Err(InspectError::TrafficFormat(format!(
            "{} bytes; at most {MAX_TRAFFIC_BYTES} are read",
            bytes.len()
        )));
    }
    let text =
        std::str::from_utf8(bytes).map_err(|e| InspectError::TrafficFormat(e.to_string()))?;
    let trimmed = text.trim_start();
    if trimmed.starts_with('[')
        || trimmed.starts_with("{\"output\"")
        || trimmed.starts_with("{ \"output\"")
    {
        let v: Value = serde_json::from_str(trimmed)
            .map_err(|e| InspectError::TrafficFormat(e.to_string()))?;
        return match v {
            Value::Array(a) => Ok(a),
            Value::Object(mut m) => match m.remove("output") {
                Some(Value::Array(a)) => Ok(a),
                _ => Err(InspectError::TrafficFormat(
                    "\"output\" is not an array".into(),
                )),
            },
            _ => Err(InspectError::TrafficFormat(
                "expected an array of records".into(),
            )),
        };
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| InspectError::TrafficFormat(format!("line {}: {e}", i + 1)))
        })
        .collect()
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty())
}

fn app_label(principal: &str) -> String {
    s2s_proto::PrincipalName::parse(principal)
        .ok()
        .and_then(|p| well_known_app(&p.app_id))
        .map_or_else(|| short_principal(principal), str::to_owned)
}

/// The caller: the partner application if Exchange resolved it, else the actor's app name.
fn caller(r: &Value) -> String {
    if let Some(p) = s(r, "partner") {
        return clip(p, 40);
    }
    if let Some(a) = s(r, "actor") {
        return app_label(a);
    }
    match s(r, "scheme") {
        Some(sc) => format!("({sc} caller)"),
        None => "(anonymous)".into(),
    }
}

/// A short summary of the decoded claims: outer alg and aud, actor alg, x5t and iss, the user.
fn claims_summary(claims: &Value) -> String {
    if claims.is_null() {
        return String::new();
    }
    if claims.get("undecodable").is_some() {
        return "token undecodable".into();
    }
    let header = claims.get("header");
    let body = claims.get("claims");
    let alg = header.and_then(|h| s(h, "alg")).unwrap_or("?");
    let mut parts = Vec::new();
    let aud = body.and_then(|b| s(b, "aud"));
    match body.and_then(|b| b.get("actortoken")) {
        Some(actor) => {
            parts.push(format!(
                "outer {alg} aud {}",
                aud.map_or("?".into(), short_principal)
            ));
            // the recorder already decoded the actor; a raw token is elided, never shown
            match actor {
                Value::String(t) => parts.push(format!("actor {}", elide(t))),
                a if a.get("undecodable").is_some() => parts.push("actor undecodable".into()),
                a if a.get("elided").is_some() => parts.push("actor elided (nested)".into()),
                a => {
                    let ah = a.get("header");
                    let ab = a.get("claims");
                    let mut p = format!("actor {}", ah.and_then(|h| s(h, "alg")).unwrap_or("?"));
                    if let Some(x) = ah.and_then(|h| s(h, "x5t")) {
                        let _ = write!(p, " x5t {}", elide(x));
                    }
                    if let Some(i) = ab.and_then(|b| s(b, "iss")) {
                        let _ = write!(p, " iss {}", short_principal(i));
                    }
                    p.push_str(" sig elided");
                    parts.push(p);
                }
            }
        }
        None => {
            let mut p = format!("{alg} aud {}", aud.map_or("?".into(), short_principal));
            if let Some(x) = header.and_then(|h| s(h, "x5t")) {
                let _ = write!(p, " x5t {}", elide(x));
            }
            if alg != "none" {
                p.push_str(" sig elided");
            }
            parts.push(p);
        }
    }
    if let Some(u) = body.and_then(|b| s(b, "smtp").or_else(|| s(b, "upn")).or_else(|| s(b, "sip")))
        && !looks_like_jwt(u)
    {
        parts.push(format!("user {}", clip(u, 60)));
    }
    parts.join(" · ")
}

fn target(r: &Value) -> String {
    let op = s(r, "operation").unwrap_or("?");
    let host = r
        .get("claims")
        .and_then(|c| c.get("claims"))
        .and_then(|c| s(c, "aud"))
        .and_then(|a| s2s_proto::PrincipalName::parse(a).ok())
        .and_then(|p| p.host);
    match host {
        Some(h) => format!("{op} @ {}", clip(&h, 60)),
        None => op.to_owned(),
    }
}

/// One record on one line (for `trace --follow`): time, caller → target op, actor, user, verdict,
/// then the claims summarised with signatures elided.
pub fn format_record(r: &Value) -> String {
    format_with_claims(r, r.get("claims"))
}

/// The claims of each record: its own `claims`, or, for a line of `traffic.jsonl` that has only
/// a `claims_id` (a cached token's claims are written once per file), those of the latest
/// earlier record with that number. `None` where neither is there.
pub fn record_claims(records: &[Value]) -> Vec<Option<&Value>> {
    let mut by_id: std::collections::HashMap<u64, &Value> = std::collections::HashMap::new();
    records
        .iter()
        .map(|r| {
            let id = r.get("claims_id").and_then(Value::as_u64);
            match (r.get("claims"), id) {
                (Some(c), Some(id)) => {
                    by_id.insert(id, c);
                    Some(c)
                }
                (Some(c), None) => Some(c),
                (None, Some(id)) => by_id.get(&id).copied(),
                (None, None) => None,
            }
        })
        .collect()
}

/// A record with its claims found ([`record_claims`]), serialized as Exchange's admin API gives
/// it: every member but `claims_id`, and `claims` (null where they were not found).
pub struct ResolvedRecord<'a> {
    record: &'a Value,
    claims: Option<&'a Value>,
}

impl Serialize for ResolvedRecord<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Value::Object(m) = self.record else {
            return self.record.serialize(s);
        };
        let mut map = s.serialize_map(None)?;
        for (k, v) in m {
            if k != "claims" && k != "claims_id" {
                map.serialize_entry(k, v)?;
            }
        }
        map.serialize_entry("claims", &self.claims)?;
        map.end()
    }
}

/// [`ResolvedRecord`]s of `records`, borrowing: a token's claims are not copied per record.
pub fn resolved_records(records: &[Value]) -> Vec<ResolvedRecord<'_>> {
    records
        .iter()
        .zip(record_claims(records))
        .map(|(record, claims)| ResolvedRecord { record, claims })
        .collect()
}

fn format_with_claims(r: &Value, claims: Option<&Value>) -> String {
    let time = r
        .get("time")
        .and_then(Value::as_i64)
        .map_or_else(|| "(no time)".into(), format_time);
    let actor = s(r, "actor").map_or_else(|| "-".into(), short_principal);
    let user = s(r, "user").map_or_else(|| "-".into(), |u| clip(u, 60));
    let verdict = s(r, "verdict").map_or_else(|| "?".into(), |v| clip(v, 160));
    let scheme = s(r, "scheme").unwrap_or("none");
    let mut line = format!(
        "{time}  {} → {}  actor {actor}  user {user}  {scheme}  {verdict}",
        caller(r),
        target(r)
    );
    let summary = claims.map(claims_summary).unwrap_or_default();
    if !summary.is_empty() {
        let _ = write!(line, "  [{summary}]");
    }
    line
}

/// The counts in the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TraceSummary {
    pub calls: usize,
    pub refused: usize,
    /// The actors of accepted calls (Exchange verified them).
    pub actors: Vec<String>,
    /// Actors named only by refused calls: what those tokens claimed, never verified.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub claimed_by_refused: Vec<String>,
    /// Requests that used Basic authorization.
    pub basic: usize,
    /// Requests that carried a password (Basic, or a password/secret field).
    pub passwords: usize,
}

impl TraceSummary {
    pub fn line(&self) -> String {
        let actors = match self.actors.as_slice() {
            [] => "no actor".to_owned(),
            [one] => format!("actor {one}"),
            many => format!("actors {}", many.join(", ")),
        };
        let refused = if self.refused > 0 {
            format!(" ({} refused)", self.refused)
        } else {
            String::new()
        };
        let claimed = if self.claimed_by_refused.is_empty() {
            String::new()
        } else {
            format!(
                " (refused calls claimed {}, unverified)",
                self.claimed_by_refused.join(", ")
            )
        };
        format!(
            "{} call{}{refused}, {actors}{claimed}, {} Basic, {} password{}",
            self.calls,
            if self.calls == 1 { "" } else { "s" },
            self.basic,
            self.passwords,
            if self.passwords == 1 { "" } else { "s" }
        )
    }
}

fn has_password_field(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            let k = k.to_ascii_lowercase();
            k.contains("password") || k == "client_secret" || has_password_field(v)
        }),
        Value::Array(a) => a.iter().any(has_password_field),
        _ => false,
    }
}

pub fn trace_summary(records: &[Value]) -> TraceSummary {
    let mut sum = TraceSummary {
        calls: records.len(),
        ..TraceSummary::default()
    };
    for (r, claims) in records.iter().zip(record_claims(records)) {
        let ok = s(r, "verdict") == Some("ok");
        if !ok {
            sum.refused += 1;
        }
        if let Some(a) = s(r, "actor") {
            let list = if ok {
                &mut sum.actors
            } else {
                &mut sum.claimed_by_refused
            };
            if !list.iter().any(|x| x == a) {
                list.push(a.to_owned());
            }
        }
        let basic = s(r, "scheme").is_some_and(|x| x.eq_ignore_ascii_case("basic"));
        if basic {
            sum.basic += 1;
        }
        if basic || claims.is_some_and(has_password_field) {
            sum.passwords += 1;
        }
    }
    // an actor that also made accepted calls is not only a claim
    sum.claimed_by_refused
        .retain(|c| !sum.actors.iter().any(|a| a == c));
    sum
}

/// The traffic view: one line per record, then the summary line
/// (`N calls, actor X, 0 Basic, 0 passwords`).
pub fn trace_records(records: &[Value]) -> String {
    let mut out = String::new();
    for (r, claims) in records.iter().zip(record_claims(records)) {
        let _ = writeln!(out, "{}", format_with_claims(r, claims));
    }
    let _ = writeln!(out, "{}", trace_summary(records).line());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_all_three_shapes() {
        let rec = json!({"time": 1, "operation": "GetFolder", "verdict": "ok", "scheme": "Bearer"});
        let wrapped = json!({"output": [rec.clone()]}).to_string();
        assert_eq!(records_from_json(wrapped.as_bytes()).unwrap().len(), 1);
        let arr = json!([rec.clone(), rec.clone()]).to_string();
        assert_eq!(records_from_json(arr.as_bytes()).unwrap().len(), 2);
        let lines = format!("{rec}\n\n{rec}\n");
        assert_eq!(records_from_json(lines.as_bytes()).unwrap().len(), 2);
        assert!(records_from_json(b"{nope\n").is_err());
    }

    /// `traffic.jsonl` writes a cached token's claims once per file; a line with only their
    /// number reads as if it had them, and a number written again (Exchange restarted and
    /// appended) means its latest claims.
    #[test]
    fn claims_by_number_read_as_the_earlier_line() {
        let claims = |who: &str| json!({"header": {"alg": "none"}, "claims": {"smtp": who, "password": "x"}});
        let line = |t: i64, id: u64, c: Option<Value>| {
            let mut v = json!({"time": t, "operation": "GetFolder", "verdict": "ok", "scheme": "Bearer", "claims_id": id});
            if let Some(c) = c {
                v["claims"] = c;
            }
            v.to_string()
        };
        let file = [
            line(1, 1, Some(claims("alice@contoso.example"))),
            line(2, 1, None),
            line(3, 9, None), // its line is in a file not read
            line(4, 1, Some(claims("bob@contoso.example"))),
            line(5, 1, None),
        ]
        .join("\n");
        let records = records_from_json(file.as_bytes()).unwrap();
        let found: Vec<Option<&str>> = record_claims(&records)
            .iter()
            .map(|c| c.and_then(|c| c["claims"]["smtp"].as_str()))
            .collect();
        let (alice, bob) = (Some("alice@contoso.example"), Some("bob@contoso.example"));
        assert_eq!(found, [alice, alice, None, bob, bob]);
        // the view and the summary see them too
        let text = trace_records(&records);
        assert_eq!(text.matches("alice@contoso.example").count(), 2, "{text}");
        assert!(
            text.ends_with("5 calls, no actor, 0 Basic, 4 passwords\n"),
            "{text}"
        );
        // as JSON: the claims on every record, the number gone
        let out: Vec<Value> =
            serde_json::from_str(&serde_json::to_string(&resolved_records(&records)).unwrap())
                .unwrap();
        assert_eq!(out[1]["claims"]["claims"]["smtp"], "alice@contoso.example");
        assert_eq!(out[2]["claims"], Value::Null);
        assert!(out.iter().all(|r| r.get("claims_id").is_none()));
        assert_eq!(out[4]["time"], 5);
    }

    #[test]
    fn summary_counts_basic_and_actors() {
        let a = "00000004-0000-0ff1-ce00-000000000000@3f0c8f6e-1111-4222-8333-0123456789e9";
        let recs = vec![
            json!({"time": 1, "operation": "GetFolder", "actor": a, "verdict": "ok", "scheme": "Bearer", "claims": null}),
            json!({"time": 2, "operation": "GetItem", "verdict": "no credentials", "scheme": "Basic", "claims": null}),
        ];
        let s = trace_summary(&recs);
        assert_eq!(
            s.line(),
            format!("2 calls (1 refused), actor {a}, 1 Basic, 1 password")
        );
        // Regression: an actor named only by a refused (unverified) token was listed among the
        // actors as if Exchange had accepted it.
        let forged = "00000003-0000-0ff1-ce00-000000000000@3f0c8f6e-1111-4222-8333-0123456789e9";
        let mut recs = recs;
        recs.push(json!({"time": 3, "operation": "GetFolder", "actor": forged, "verdict": "IDX10511", "scheme": "Bearer", "claims": null}));
        recs.push(json!({"time": 4, "operation": "GetFolder", "actor": a, "verdict": "IDX10223", "scheme": "Bearer", "claims": null}));
        let s = trace_summary(&recs);
        assert_eq!(s.actors, vec![a.to_owned()]);
        assert_eq!(s.claimed_by_refused, vec![forged.to_owned()]);
        assert!(
            s.line()
                .contains(&format!("refused calls claimed {forged}, unverified")),
            "{}",
            s.line()
        );
        let text = trace_records(&recs);
        assert!(text.contains("Skype for Business → GetFolder"), "{text}");
        assert!(text.contains("(Basic caller) → GetItem"), "{text}");
    }
}
