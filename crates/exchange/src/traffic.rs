//! The traffic record: every server-to-server request Exchange saw, with the decoded claims and
//! never the signature. In memory (the last 10,000) and appended to `traffic.jsonl` in the data
//! directory for `openhybrid trace`.

use std::collections::VecDeque;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;

const KEEP: usize = 10_000;

#[derive(Debug, Clone, Serialize)]
pub struct TrafficRecord {
    pub time: i64,
    pub operation: String,
    /// Actor application (`<appid>@<realm>`), if the token got that far.
    pub actor: Option<String>,
    pub user: Option<String>,
    pub partner: Option<String>,
    /// `ok` or the refusal reason.
    pub verdict: String,
    /// The authorization scheme seen (`Bearer`, `Basic`, none).
    pub scheme: String,
    /// Decoded outer and actor claims; the signature is elided.
    pub claims: std::sync::Arc<serde_json::Value>,
}

/// The file is written through a buffer flushed at most a second apart (and when read): the
/// record is diagnostics, so a crash may lose the last second of it, never a mailbox write.
pub struct TrafficLog {
    ring: Mutex<VecDeque<TrafficRecord>>,
    file: Option<Mutex<(std::io::BufWriter<std::fs::File>, std::time::Instant)>>,
}

impl TrafficLog {
    pub fn new(path: Option<PathBuf>) -> Self {
        let file = path
            .and_then(|p| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .ok()
            })
            .map(|f| {
                Mutex::new((
                    std::io::BufWriter::with_capacity(64 * 1024, f),
                    std::time::Instant::now(),
                ))
            });
        TrafficLog {
            ring: Mutex::new(VecDeque::new()),
            file,
        }
    }

    pub fn record(&self, r: TrafficRecord) {
        if let Some(f) = &self.file
            && let Ok(mut f) = f.lock()
            && let Ok(mut line) = serde_json::to_vec(&r)
        {
            line.push(b'\n');
            let _ = f.0.write_all(&line);
            if f.1.elapsed() >= std::time::Duration::from_secs(1) {
                let _ = f.0.flush();
                f.1 = std::time::Instant::now();
            }
        }
        if let Ok(mut ring) = self.ring.lock() {
            if ring.len() >= KEEP {
                ring.pop_front();
            }
            ring.push_back(r);
        }
    }

    pub fn flush(&self) {
        if let Some(f) = &self.file
            && let Ok(mut f) = f.lock()
        {
            let _ = f.0.flush();
            f.1 = std::time::Instant::now();
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

/// Decodes a bearer for the record: outer and actor claims, signatures elided.
pub fn decode_for_record(token: &str) -> serde_json::Value {
    let Ok(outer) = s2s_proto::jwt::Compact::parse(token) else {
        return serde_json::json!({"undecodable": true});
    };
    let mut v = serde_json::json!({ "header": outer.header, "claims": outer.claims });
    if let Some(actor) = outer.claims.get("actortoken").and_then(|a| a.as_str())
        && let Ok(a) = s2s_proto::jwt::Compact::parse(actor)
    {
        v["claims"]["actortoken"] =
            serde_json::json!({ "header": a.header, "claims": a.claims, "signature": "<elided>" });
    }
    if outer.alg() != Some("none") {
        v["signature"] = "<elided>".into();
    }
    v
}
