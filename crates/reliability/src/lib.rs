//! Shared pieces of the durability and load runs (`crash`, `soak`): SOAP envelopes, an EWS
//! sender that tells "answered" from "never sent" from "lost in flight", a reader for the
//! responses (ews-proto's hardened XML reader), a fixed-size latency histogram and the
//! process's resident memory.
//!
//! Nothing here runs in `cargo test` beyond a few cheap unit tests.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use ews_proto::xml::{Element, Limits};

pub const NS_M: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
pub const NS_T: &str = "http://schemas.microsoft.com/exchange/services/2006/types";

const ENV_START: &str = r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2013_SP1"/></s:Header><s:Body>"#;
const ENV_END: &str = "</s:Body></s:Envelope>";

/// A SOAP envelope around one EWS operation.
pub fn envelope(op: &str) -> String {
    format!("{ENV_START}{op}{ENV_END}")
}

pub use lab::ewsc::user_config_op;

/// XML-escapes text and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

/// What became of one request.
#[derive(Debug)]
pub enum Sent {
    /// The server answered (any status); the body was read completely.
    Answered { status: u16, body: String },
    /// The connection could not be established: the request never reached the server.
    NotSent(String),
    /// Sent (or possibly sent) but no complete answer: the outcome is unknown.
    Lost(String),
}

/// An HTTP client for EWS calls with a per-request timeout.
pub fn http_client(timeout: Duration, idle_per_host: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(idle_per_host)
        .build()
        .expect("an HTTP client")
}

/// POSTs one EWS operation (wrapped in an envelope) with a bearer token.
pub async fn post_ews(http: &reqwest::Client, url: &str, token: &str, op: &str) -> Sent {
    let r = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "text/xml; charset=utf-8")
        .body(envelope(op))
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.text().await {
                Ok(body) => Sent::Answered { status, body },
                Err(e) => Sent::Lost(format!("reading the answer: {}", chain(&e))),
            }
        }
        Err(e) if e.is_connect() => Sent::NotSent(chain(&e)),
        Err(e) => Sent::Lost(chain(&e)),
    }
}

/// An error with its sources, `a: b: c`.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// One item as a response lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemInfo {
    pub id: String,
    pub subject: Option<String>,
    pub body: Option<String>,
    pub internet_message_id: Option<String>,
}

/// One `…ResponseMessage`.
#[derive(Debug, Clone, Default)]
pub struct Message {
    pub class: String,
    pub code: String,
    pub items: Vec<ItemInfo>,
    /// `RootFolder/@TotalItemsInView` (FindItem).
    pub total_items_in_view: Option<u64>,
    /// `RootFolder/@IncludesLastItemInRange` (FindItem).
    pub includes_last: Option<bool>,
    /// `t:TotalCount` of the first folder (GetFolder).
    pub total_count: Option<u64>,
    /// `t:BinaryData` (GetUserConfiguration), still base64.
    pub binary_data: Option<String>,
}

/// A response read: its messages in order. Err: not a SOAP response we can read (a fault, HTML…).
pub fn parse_response(body: &str) -> Result<Vec<Message>, String> {
    let limits = Limits {
        max_input_bytes: 256 << 20,
        max_elements: 5_000_000,
        max_total_attributes: 5_000_000,
        ..Limits::default()
    };
    let root = ews_proto::xml::parse(body.as_bytes(), &limits).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    collect_messages(&root, &mut out);
    if out.is_empty() {
        return Err(format!(
            "no response message in: {}",
            body.chars().take(300).collect::<String>()
        ));
    }
    Ok(out)
}

fn collect_messages(e: &Element, out: &mut Vec<Message>) {
    if &*e.ns == NS_M && e.local.ends_with("ResponseMessage") && e.attr("ResponseClass").is_some() {
        let mut m = Message {
            class: e.attr("ResponseClass").unwrap_or_default().to_owned(),
            code: e
                .child(NS_M, "ResponseCode")
                .map(|c| c.text_trimmed().to_owned())
                .unwrap_or_default(),
            ..Message::default()
        };
        read_message(e, &mut m);
        out.push(m);
        return;
    }
    for c in &e.children {
        collect_messages(c, out);
    }
}

fn read_message(e: &Element, m: &mut Message) {
    for c in &e.children {
        if c.is(NS_M, "RootFolder") {
            m.total_items_in_view = c.attr("TotalItemsInView").and_then(|v| v.parse().ok());
            m.includes_last = c.attr("IncludesLastItemInRange").map(|v| v == "true");
        }
        if c.is(NS_T, "TotalCount") && m.total_count.is_none() {
            m.total_count = c.text_trimmed().parse().ok();
        }
        if c.is(NS_T, "BinaryData") {
            m.binary_data = Some(c.text_trimmed().to_owned());
        }
        if &*c.ns == NS_T
            && let Some(id) = c.child(NS_T, "ItemId")
        {
            m.items.push(ItemInfo {
                id: id.attr("Id").unwrap_or_default().to_owned(),
                subject: c.child(NS_T, "Subject").map(|s| s.text.clone()),
                body: c.child(NS_T, "Body").map(|s| s.text.clone()),
                internet_message_id: c
                    .child(NS_T, "InternetMessageId")
                    .map(|s| s.text_trimmed().to_owned()),
            });
            continue;
        }
        read_message(c, m);
    }
}

/// True when the response is HTTP 200 and every response message is `Success`/`NoError`.
pub fn all_no_error(status: u16, body: &str) -> bool {
    status == 200
        && match parse_response(body) {
            Ok(ms) => ms
                .iter()
                .all(|m| m.class == "Success" && m.code == "NoError"),
            Err(_) => false,
        }
}

/// The process's resident set size in KiB (`VmRSS` in /proc/self/status).
pub fn rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// A fixed-size latency histogram: 10 µs buckets up to 2 s, then one overflow bucket (whose
/// members count at the largest latency seen). Lock-free; its memory does not grow.
pub struct Histogram {
    buckets: Vec<AtomicU64>,
    max_us: AtomicU64,
    count: AtomicU64,
}

const BUCKET_US: u64 = 10;
const BUCKETS: usize = 200_000;

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    pub fn new() -> Self {
        // every bucket written once, so its pages are resident before any measurement
        let buckets: Vec<AtomicU64> = (0..=BUCKETS).map(|_| AtomicU64::new(0)).collect();
        for b in &buckets {
            b.store(0, Ordering::Relaxed);
        }
        Histogram {
            buckets,
            max_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u64::MAX as u128) as u64;
        let i = ((us / BUCKET_US) as usize).min(BUCKETS);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The latency at quantile `q` (0..=1), in milliseconds (bucket upper bound).
    pub fn quantile_ms(&self, q: f64) -> f64 {
        let n = self.count();
        if n == 0 {
            return 0.0;
        }
        let rank = ((n as f64 * q).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Ordering::Relaxed);
            if seen >= rank {
                if i == BUCKETS {
                    break;
                }
                return ((i as u64 + 1) * BUCKET_US) as f64 / 1000.0;
            }
        }
        self.max_us.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us.load(Ordering::Relaxed) as f64 / 1000.0
    }
}

/// A free loopback TCP port (bound, read and released).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// SHA-256 as hex.
pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_items_and_codes() {
        let body = r#"<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body><m:GetItemResponse><m:ResponseMessages><m:GetItemResponseMessage ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode><m:Items><t:Message><t:ItemId Id="AAA=" ChangeKey="x"/><t:Subject>a &amp; b</t:Subject><t:Body BodyType="HTML">&lt;p&gt;hi&lt;/p&gt;</t:Body></t:Message></m:Items></m:GetItemResponseMessage><m:GetItemResponseMessage ResponseClass="Error"><m:MessageText>gone</m:MessageText><m:ResponseCode>ErrorItemNotFound</m:ResponseCode></m:GetItemResponseMessage></m:ResponseMessages></m:GetItemResponse></s:Body></s:Envelope>"#;
        let ms = parse_response(body).unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[0].code, "NoError");
        assert_eq!(ms[0].items[0].id, "AAA=");
        assert_eq!(ms[0].items[0].subject.as_deref(), Some("a & b"));
        assert_eq!(ms[0].items[0].body.as_deref(), Some("<p>hi</p>"));
        assert_eq!(ms[1].code, "ErrorItemNotFound");
        assert!(!all_no_error(200, body));
    }

    #[test]
    fn histogram_quantiles() {
        let h = Histogram::new();
        for ms in 1..=100 {
            h.record(Duration::from_millis(ms));
        }
        assert!((h.quantile_ms(0.5) - 50.01).abs() < 0.02);
        assert!((h.quantile_ms(0.99) - 99.01).abs() < 0.02);
        assert_eq!(h.count(), 100);
    }
}
