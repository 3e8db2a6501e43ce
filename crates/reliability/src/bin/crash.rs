//! The crash test (spec/security.md §5): Exchange runs as a child process (`openhybrid serve
//! exchange`) and is killed with SIGKILL at a random moment of each round while a client drives
//! EWS writes (CreateItem into Conversation History, UpdateUserConfiguration of a greeting,
//! DeleteItem HardDelete of acknowledged items) and Skype for Business Online (in this process)
//! queues history and archive deliveries through its durable outbox. The token service runs in
//! this process too. Everything listens on loopback.
//!
//! The client appends every acknowledged write to `acked.jsonl` and every refused or lost one to
//! `unacked.jsonl` (both fsync'd per line). After each restart (same data directory, same port,
//! no repair step) it checks:
//! * every acknowledged CreateItem is in the folder exactly once, under its returned ItemId, with
//!   the same subject and body (SHA-256);
//! * every acknowledged HardDelete is gone; a refused delete left its item in place;
//! * no refused or never-sent CreateItem is present; a write lost in flight is all-or-nothing
//!   (absent, or present once and byte-identical), and is then settled either way;
//! * no item the client did not write appears; the folder's TotalCount equals its listing;
//! * the greeting is the last acknowledged version or a later one that was in flight;
//!
//! and at the end that Skype's outbox delivered every accepted item exactly once (FindItem by
//! InternetMessageId with fresh tokens) with no row Failed, and that both SQLite files pass
//! `PRAGMA quick_check`.
//!
//! `crash [--rounds 20] [--openhybrid target/release/openhybrid] [--data DIR] [--seed N]`
//! Exit status: 0 no violation, 1 violations, 2 the run could not be carried out.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use clap::Parser;
use lab::client::{ExchangeAdmin, mint_f1};
use lab::{DOMAIN, EXCHANGE_HOST, LabInfo, SKYPE_HOST};
use rand::{Rng, RngCore, SeedableRng};
use reliability::{Sent, esc, parse_response, post_ews, sha256_hex};
use serde_json::{Value, json};

const ALICE: &str = "alice@contoso.example";
const BOB: &str = "bob@contoso.example";
const CAROL: &str = "carol@contoso.example";
const FOLDER: &str = "conversationhistory";
const GREETING: &str = "Um.CustomGreetings.External";

#[derive(Parser, Debug)]
#[command(about = "kill -9 crash test of Exchange's EWS writes and Skype's outbox (loopback)")]
struct Args {
    /// Rounds of load + SIGKILL + restart + checks.
    #[arg(long, default_value_t = 20)]
    rounds: u32,
    /// Shortest load before the kill, ms.
    #[arg(long, default_value_t = 200)]
    min_load_ms: u64,
    /// Longest load before the kill, ms.
    #[arg(long, default_value_t = 3000)]
    max_load_ms: u64,
    /// Concurrent CreateItem/DeleteItem writers.
    #[arg(long, default_value_t = 3)]
    writers: usize,
    /// The `openhybrid` binary (default: $OPENHYBRID_BIN, else target/release/openhybrid).
    #[arg(long)]
    openhybrid: Option<PathBuf>,
    /// Where everything lives (default: a fresh temporary directory, kept on failure).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Seed of the kill schedule (default: random; printed).
    #[arg(long)]
    seed: Option<u64>,
    /// Test the checker: after round 1, record an acknowledgement the server never gave (an
    /// item and a greeting version); the run must then report violations.
    #[arg(long)]
    inject_fault: bool,
    /// Hard bound on the whole run, seconds.
    #[arg(long, default_value_t = 1200)]
    max_secs: u64,
}

// ---------------------------------------------------------------------------------------------
// the Exchange child process

struct ExchangeProc {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<tokio::process::Child>,
}

impl ExchangeProc {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the server and waits (≤ 30 s) until `/healthz` answers; how long that took.
    async fn start(&mut self) -> Result<Duration> {
        let t = Instant::now();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut child = tokio::process::Command::new(&self.bin)
            .arg("serve")
            .arg("exchange")
            .arg("--data")
            .arg(&self.data)
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--host")
            .arg(EXCHANGE_HOST)
            .arg("--domain")
            .arg(DOMAIN)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let health = format!("{}/healthz", self.url());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(st) = child.try_wait()? {
                bail!(
                    "Exchange exited during start-up ({st}); its log ends:\n{}",
                    tail(&self.log, 20)
                );
            }
            if let Ok(r) = http.get(&health).send().await
                && r.status().is_success()
            {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.start_kill();
                bail!(
                    "Exchange did not answer /healthz within 30 s; its log ends:\n{}",
                    tail(&self.log, 20)
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.child = Some(child);
        Ok(t.elapsed())
    }

    /// SIGKILL, then reap.
    async fn kill9(&mut self) -> Result<()> {
        if let Some(mut c) = self.child.take() {
            c.start_kill().context("SIGKILL")?;
            tokio::time::timeout(Duration::from_secs(10), c.wait())
                .await
                .map_err(|_| anyhow!("the killed Exchange was not reaped within 10 s"))??;
        }
        Ok(())
    }
}

fn tail(p: &Path, n: usize) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// the client's own durable record

struct Journal {
    file: std::fs::File,
}

impl Journal {
    fn create(p: &Path) -> Result<Journal> {
        Ok(Journal {
            file: std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening {}", p.display()))?,
        })
    }

    /// One JSON line, on disk before this returns.
    fn append(&mut self, v: &Value) {
        let mut line = v.to_string();
        line.push('\n');
        if let Err(e) = self
            .file
            .write_all(line.as_bytes())
            .and_then(|_| self.file.sync_data())
        {
            eprintln!("journal write failed: {e}");
        }
    }
}

/// What the client knows about one CreateItem (keyed by its unique subject).
#[derive(Debug, Clone)]
enum State {
    /// Acknowledged (or settled as present): must be there exactly once, under `id`.
    Live { id: String, sha: String },
    /// A writer is deleting it right now.
    Deleting,
    /// Refused, never sent, or settled as absent: must never appear.
    Absent,
    /// The create was lost in flight: absent, or present once with this content.
    Unknown { sha: String },
    /// The delete was lost in flight: present (unchanged) or gone.
    DeleteUnknown { id: String, sha: String },
    /// HardDelete acknowledged: must be gone.
    Deleted,
}

#[derive(Default)]
struct Greeting {
    /// (sequence, sha) of the last acknowledged (or settled) version.
    acked: (u64, String),
    /// Versions whose update was lost in flight.
    in_flight: Vec<(u64, String)>,
    /// Versions refused or never sent.
    refused: Vec<(u64, String)>,
}

struct Ledger {
    items: HashMap<String, State>,
    live: Vec<String>,
    greeting: Greeting,
    /// (user, folder, InternetMessageId) Skype accepted.
    skype: Vec<(String, String, String)>,
    acked_log: Journal,
    unacked_log: Journal,
    acked_writes: u64,
    refused_writes: u64,
    lost_writes: u64,
    skype_refused: u64,
    /// Lost writes found applied / not applied after the restart.
    settled_applied: u64,
    settled_not_applied: u64,
}

impl Ledger {
    fn ack(&mut self, v: Value) {
        self.acked_writes += 1;
        self.acked_log.append(&v);
    }
    fn unack(&mut self, v: Value, lost: bool) {
        if lost {
            self.lost_writes += 1;
        } else {
            self.refused_writes += 1;
        }
        self.unacked_log.append(&v);
    }
    fn set_live(&mut self, subject: &str, id: String, sha: String) {
        self.items
            .insert(subject.to_owned(), State::Live { id, sha });
        self.live.push(subject.to_owned());
    }
}

type Shared = Arc<Mutex<Ledger>>;

fn lock(l: &Shared) -> std::sync::MutexGuard<'_, Ledger> {
    l.lock().unwrap_or_else(|p| p.into_inner())
}

/// The first response message's code, and its first item id.
fn outcome(status: u16, body: &str) -> (String, Option<String>) {
    if status != 200 {
        return (format!("HTTP {status}"), None);
    }
    match parse_response(body) {
        Ok(ms) => {
            let m = &ms[0];
            (m.code.clone(), m.items.first().map(|i| i.id.clone()))
        }
        Err(e) => (format!("unreadable: {e}"), None),
    }
}

fn random_hex(rng: &mut impl Rng, n: usize) -> String {
    let mut b = vec![0u8; n.div_ceil(2)];
    rng.fill_bytes(&mut b);
    let mut s = hex::encode(b);
    s.truncate(n);
    s
}

// ---------------------------------------------------------------------------------------------
// the load

struct Ctx {
    ews_url: String,
    token: String,
    run: String,
    round: u32,
    stop: Arc<AtomicBool>,
    ledger: Shared,
    http: reqwest::Client,
    seq: Arc<AtomicU64>,
}

async fn writer(ctx: Arc<Ctx>, w: usize) {
    let mut n = 0u64;
    // bounded: the kill ends every round within max_load_ms, and each request within 15 s
    while !ctx.stop.load(Ordering::Relaxed) && n < 100_000 {
        n += 1;
        let delete = {
            let mut rng = rand::rng();
            rng.random_bool(0.25)
        };
        let victim = if delete {
            let mut l = lock(&ctx.ledger);
            if l.live.is_empty() {
                None
            } else {
                let i = rand::rng().random_range(0..l.live.len());
                let subject = l.live.swap_remove(i);
                match l.items.get(&subject).cloned() {
                    Some(State::Live { id, sha }) => {
                        l.items.insert(subject.clone(), State::Deleting);
                        Some((subject, id, sha))
                    }
                    _ => None,
                }
            }
        } else {
            None
        };
        if let Some((subject, id, sha)) = victim {
            let op = format!(
                r#"<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="{}"/></m:ItemIds></m:DeleteItem>"#,
                esc(&id)
            );
            let sent = post_ews(&ctx.http, &ctx.ews_url, &ctx.token, &op).await;
            let mut l = lock(&ctx.ledger);
            let rec = |kind: &str, why: &str| json!({"op": "DeleteItem", "round": ctx.round, "subject": subject, "id": id, "outcome": kind, "detail": why});
            match sent {
                Sent::Answered { status, body } => {
                    let (code, _) = outcome(status, &body);
                    if code == "NoError" {
                        l.items.insert(subject.clone(), State::Deleted);
                        l.ack(rec("acked", "NoError"));
                    } else {
                        // refused: the item stays
                        l.set_live(&subject, id.clone(), sha);
                        l.unack(rec("refused", &code), false);
                    }
                }
                Sent::NotSent(e) => {
                    l.set_live(&subject, id.clone(), sha);
                    l.unack(rec("not-sent", &e), false);
                }
                Sent::Lost(e) => {
                    l.items.insert(
                        subject.clone(),
                        State::DeleteUnknown {
                            id: id.clone(),
                            sha,
                        },
                    );
                    l.unack(rec("lost", &e), true);
                }
            }
            continue;
        }
        // CreateItem
        let k = ctx.seq.fetch_add(1, Ordering::Relaxed);
        let subject = format!("crash:{}:{}:{w}:{k}", ctx.run, ctx.round);
        let body = {
            let mut rng = rand::rng();
            let len = rng.random_range(16..4096);
            format!(
                "<html><body><p>round {} writer {w} item {k}</p><pre>{}</pre></body></html>",
                ctx.round,
                random_hex(&mut rng, len)
            )
        };
        let sha = sha256_hex(body.as_bytes());
        let op = format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="{FOLDER}"/></m:SavedItemFolderId><m:Items><t:Message><t:ItemClass>IPM.Note.Microsoft.Conversation</t:ItemClass><t:Subject>{}</t:Subject><t:Body BodyType="HTML">{}</t:Body></t:Message></m:Items></m:CreateItem>"#,
            esc(&subject),
            esc(&body)
        );
        let sent = post_ews(&ctx.http, &ctx.ews_url, &ctx.token, &op).await;
        let mut l = lock(&ctx.ledger);
        let rec = |kind: &str, id: Option<&str>, why: &str| json!({"op": "CreateItem", "round": ctx.round, "subject": subject, "id": id, "sha256": sha, "outcome": kind, "detail": why});
        match sent {
            Sent::Answered { status, body } => match outcome(status, &body) {
                (code, Some(id)) if code == "NoError" => {
                    l.ack(rec("acked", Some(&id), "NoError"));
                    l.set_live(&subject, id, sha.clone());
                }
                (code, _) => {
                    l.items.insert(subject.clone(), State::Absent);
                    l.unack(rec("refused", None, &code), false);
                }
            },
            Sent::NotSent(e) => {
                l.items.insert(subject.clone(), State::Absent);
                l.unack(rec("not-sent", None, &e), false);
            }
            Sent::Lost(e) => {
                l.items
                    .insert(subject.clone(), State::Unknown { sha: sha.clone() });
                l.unack(rec("lost", None, &e), true);
            }
        }
    }
}

fn greeting_op(create: bool, data: &[u8]) -> String {
    reliability::user_config_op(GREETING, create, data)
}

fn greeting_bytes(seq: u64) -> Vec<u8> {
    let mut rng = rand::rng();
    let len = rng.random_range(64..16384);
    let mut b = vec![0u8; len];
    rng.fill_bytes(&mut b);
    b[..8].copy_from_slice(&seq.to_be_bytes());
    b
}

async fn greeter(ctx: Arc<Ctx>, next_seq: Arc<AtomicU64>) {
    let mut n = 0;
    while !ctx.stop.load(Ordering::Relaxed) && n < 100_000 {
        n += 1;
        let seq = next_seq.fetch_add(1, Ordering::Relaxed);
        let data = greeting_bytes(seq);
        let sha = sha256_hex(&data);
        let sent = post_ews(
            &ctx.http,
            &ctx.ews_url,
            &ctx.token,
            &greeting_op(false, &data),
        )
        .await;
        {
            let mut l = lock(&ctx.ledger);
            let rec = |kind: &str, why: &str| json!({"op": "UpdateUserConfiguration", "round": ctx.round, "seq": seq, "sha256": sha, "outcome": kind, "detail": why});
            match sent {
                Sent::Answered { status, body } => {
                    let (code, _) = outcome(status, &body);
                    if code == "NoError" {
                        l.greeting.acked = (seq, sha.clone());
                        l.ack(rec("acked", "NoError"));
                    } else {
                        l.greeting.refused.push((seq, sha.clone()));
                        l.unack(rec("refused", &code), false);
                    }
                }
                Sent::NotSent(e) => {
                    l.greeting.refused.push((seq, sha.clone()));
                    l.unack(rec("not-sent", &e), false);
                }
                Sent::Lost(e) => {
                    l.greeting.in_flight.push((seq, sha.clone()));
                    l.unack(rec("lost", &e), true);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn conversations(ctx: Arc<Ctx>, skype: skype::client::SkypeAdmin, stop: Arc<AtomicBool>) {
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) && n < 10_000 {
        n += 1;
        let conv = format!(
            "crash-{}-{}-{}",
            ctx.run,
            ctx.round,
            uuid::Uuid::new_v4().simple()
        );
        let (bs, cs) = (format!("sip:{BOB}"), format!("sip:{CAROL}"));
        let text = random_hex(&mut rand::rng(), 40);
        let v = json!({"id": conv, "modality": "im", "mobile": true,
            "participants": [bs, cs],
            "messages": [{"sender": bs, "time": "2026-01-01T09:00:00Z", "text": format!("hello {text}")},
                         {"sender": cs, "time": "2026-01-01T09:00:05Z", "text": "hi"}]});
        match skype.end_conversation(&v).await {
            Ok(r) => {
                let mut l = lock(&ctx.ledger);
                for q in r["Queued"].as_array().cloned().unwrap_or_default() {
                    let s = |k: &str| q[k].as_str().unwrap_or_default().to_owned();
                    l.skype
                        .push((s("User"), s("Folder"), s("InternetMessageId")));
                }
            }
            Err(e) => {
                let mut l = lock(&ctx.ledger);
                l.skype_refused += 1;
                l.unacked_log.append(
                    &json!({"op": "end_conversation", "id": conv, "detail": e.to_string()}),
                );
            }
        }
        let pause = rand::rng().random_range(20..120);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// the checks

struct Checker {
    ews_url: String,
    http: reqwest::Client,
    run: String,
}

impl Checker {
    async fn call(&self, token: &str, op: &str) -> Result<Vec<reliability::Message>> {
        match post_ews(&self.http, &self.ews_url, token, op).await {
            Sent::Answered { status: 200, body } => parse_response(&body).map_err(|e| anyhow!(e)),
            Sent::Answered { status, body } => bail!(
                "HTTP {status}: {}",
                body.chars().take(300).collect::<String>()
            ),
            Sent::NotSent(e) | Sent::Lost(e) => bail!("{e}"),
        }
    }

    /// Every item of the folder: (subject, id), and the folder's TotalCount.
    async fn listing(&self, token: &str) -> Result<(Vec<(String, String)>, u64, u64)> {
        let mut out = Vec::new();
        let mut in_view = 0;
        for page in 0..1000 {
            let op = format!(
                r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="1000" Offset="{}" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="{FOLDER}"/></m:ParentFolderIds></m:FindItem>"#,
                page * 1000
            );
            let ms = self.call(token, &op).await?;
            let m = &ms[0];
            if m.code != "NoError" {
                bail!("FindItem: {}", m.code);
            }
            in_view = m.total_items_in_view.unwrap_or(0);
            let n = m.items.len();
            out.extend(
                m.items
                    .iter()
                    .map(|i| (i.subject.clone().unwrap_or_default(), i.id.clone())),
            );
            if n == 0 || m.includes_last != Some(false) {
                break;
            }
        }
        let op = format!(
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="{FOLDER}"/></m:FolderIds></m:GetFolder>"#
        );
        let ms = self.call(token, &op).await?;
        let total = ms[0]
            .total_count
            .ok_or_else(|| anyhow!("GetFolder: no TotalCount ({})", ms[0].code))?;
        Ok((out, in_view, total))
    }

    /// GetItem of many ids: id → Some((subject, body sha)) or None (ErrorItemNotFound).
    async fn get_items(
        &self,
        token: &str,
        ids: &[String],
    ) -> Result<HashMap<String, Option<(String, String)>>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(200) {
            let list: String = chunk
                .iter()
                .map(|i| format!(r#"<t:ItemId Id="{}"/>"#, esc(i)))
                .collect();
            let op = format!(
                r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds>{list}</m:ItemIds></m:GetItem>"#
            );
            let ms = self.call(token, &op).await?;
            if ms.len() != chunk.len() {
                bail!(
                    "GetItem of {} ids answered {} messages",
                    chunk.len(),
                    ms.len()
                );
            }
            for (id, m) in chunk.iter().zip(ms) {
                let v = match m.code.as_str() {
                    "NoError" => {
                        let it = m.items.first().cloned().unwrap_or_default();
                        Some((
                            it.subject.unwrap_or_default(),
                            sha256_hex(it.body.unwrap_or_default().as_bytes()),
                        ))
                    }
                    "ErrorItemNotFound" => None,
                    other => bail!("GetItem {id}: {other}"),
                };
                out.insert(id.clone(), v);
            }
        }
        Ok(out)
    }

    async fn greeting(&self, token: &str) -> Result<Option<String>> {
        let op = format!(
            r#"<m:GetUserConfiguration><m:UserConfigurationName Name="{GREETING}"><t:DistinguishedFolderId Id="root"/></m:UserConfigurationName><m:UserConfigurationProperties>All</m:UserConfigurationProperties></m:GetUserConfiguration>"#
        );
        let ms = self.call(token, &op).await?;
        match ms[0].code.as_str() {
            "NoError" => {
                let b = base64::engine::general_purpose::STANDARD
                    .decode(ms[0].binary_data.as_deref().unwrap_or_default())
                    .context("BinaryData is not base64")?;
                Ok(Some(sha256_hex(&b)))
            }
            "ErrorItemNotFound" => Ok(None),
            other => bail!("GetUserConfiguration: {other}"),
        }
    }

    /// All checks after a restart; settles lost writes. Returns the violations found.
    async fn verify(&self, token: &str, ledger: &Shared) -> Result<Vec<String>> {
        let mut v = Vec::new();
        let (listing, in_view, total) = self.listing(token).await?;
        if listing.len() as u64 != total || in_view != total {
            v.push(format!(
                "folder counts disagree: TotalCount {total}, FindItem TotalItemsInView {in_view}, listed {}",
                listing.len()
            ));
        }
        let mut seen: HashMap<&str, Vec<&str>> = HashMap::new();
        for (s, id) in &listing {
            seen.entry(s.as_str()).or_default().push(id.as_str());
        }
        let prefix = format!("crash:{}:", self.run);
        let (fetch, g_acked, g_in_flight, g_refused) = {
            let mut l = lock(ledger);
            for (s, ids) in &seen {
                if !s.starts_with(&prefix) {
                    v.push(format!("an item the client never wrote: subject {s:?}"));
                } else if !l.items.contains_key(*s) {
                    v.push(format!("an item the client has no record of: {s:?}"));
                }
                if ids.len() > 1 {
                    v.push(format!("{s:?} is present {} times: {ids:?}", ids.len()));
                }
            }
            // what to fetch: id → (subject, expected sha)
            let mut fetch: Vec<(String, String, String)> = Vec::new();
            let mut settle: Vec<(String, State)> = Vec::new();
            for (subject, st) in &l.items {
                let found = seen.get(subject.as_str());
                let count = found.map_or(0, |f| f.len());
                match st {
                    State::Live { id, sha } => {
                        if count == 0 {
                            v.push(format!("acknowledged item {subject:?} ({id}) is missing"));
                        } else if found.is_some_and(|f| !f.contains(&id.as_str())) {
                            v.push(format!(
                            "acknowledged item {subject:?} has id {:?}, not the acknowledged {id}",
                            found.map(|f| f.to_vec())
                        ));
                        } else {
                            fetch.push((id.clone(), subject.clone(), sha.clone()));
                        }
                    }
                    State::Absent if count > 0 => {
                        v.push(format!("refused or never-sent item {subject:?} is present"))
                    }
                    State::Deleted if count > 0 => v.push(format!(
                        "item {subject:?} is present after its HardDelete was acknowledged"
                    )),
                    State::Unknown { sha } => {
                        if count == 0 {
                            settle.push((subject.clone(), State::Absent));
                        } else if let Some(id) = found.and_then(|f| f.first()) {
                            fetch.push((id.to_string(), subject.clone(), sha.clone()));
                            settle.push((
                                subject.clone(),
                                State::Live {
                                    id: id.to_string(),
                                    sha: sha.clone(),
                                },
                            ));
                        }
                    }
                    State::DeleteUnknown { id, sha } => {
                        if count == 0 {
                            settle.push((subject.clone(), State::Deleted));
                        } else {
                            fetch.push((id.clone(), subject.clone(), sha.clone()));
                            settle.push((
                                subject.clone(),
                                State::Live {
                                    id: id.clone(),
                                    sha: sha.clone(),
                                },
                            ));
                        }
                    }
                    State::Deleting => {
                        v.push(format!("internal: {subject:?} still being deleted"));
                    }
                    _ => {}
                }
            }
            for (s, st) in settle {
                let applied = matches!(
                    (l.items.get(&s), &st),
                    (Some(State::Unknown { .. }), State::Live { .. })
                        | (Some(State::DeleteUnknown { .. }), State::Deleted)
                );
                if applied {
                    l.settled_applied += 1;
                } else {
                    l.settled_not_applied += 1;
                }
                match st {
                    State::Live { id, sha } => l.set_live(&s, id, sha),
                    other => {
                        l.items.insert(s, other);
                    }
                }
            }
            (
                fetch,
                l.greeting.acked.clone(),
                l.greeting.in_flight.clone(),
                l.greeting.refused.clone(),
            )
        };
        let ids: Vec<String> = fetch.iter().map(|f| f.0.clone()).collect();
        let got = self.get_items(token, &ids).await?;
        for (id, subject, sha) in &fetch {
            match got.get(id) {
                Some(Some((s, h))) => {
                    if s != subject || h != sha {
                        v.push(format!(
                            "item {subject:?} ({id}) differs: subject {s:?}, body sha256 {h} ≠ {sha}"
                        ));
                    }
                }
                _ => v.push(format!(
                    "item {subject:?} ({id}) listed but GetItem cannot find it"
                )),
            }
        }
        // the greeting
        let now = self.greeting(token).await?;
        let mut l = lock(ledger);
        match now {
            None => v.push("the greeting is missing".into()),
            Some(h) if h == g_acked.1 => {}
            Some(h) => {
                if let Some((seq, _)) = g_in_flight
                    .iter()
                    .find(|(s, sh)| *sh == h && *s > g_acked.0)
                {
                    l.greeting.acked = (*seq, h.clone());
                    l.settled_applied += 1;
                } else if g_refused.iter().any(|(_, sh)| *sh == h) {
                    v.push("the greeting is a version whose update was refused".into());
                } else {
                    v.push(format!(
                        "the greeting is neither the last acknowledged version ({}) nor a later in-flight one",
                        g_acked.0
                    ));
                }
            }
        }
        l.greeting.in_flight.clear();
        l.greeting.refused.clear();
        Ok(v)
    }
}

// ---------------------------------------------------------------------------------------------
// boot

struct World {
    info: LabInfo,
    skype: skype::Skype,
    exchange: ExchangeProc,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn listener() -> Result<(tokio::net::TcpListener, String)> {
    let l = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let url = format!("http://{}", l.local_addr()?);
    Ok((l, url))
}

async fn boot(dir: &Path, bin: PathBuf) -> Result<World> {
    let clock: s2s_proto::SharedClock = Arc::new(s2s_proto::SystemClock);
    // the token service, in this process
    let (sts_l, sts_url) = listener().await?;
    let sts = sts::Sts::open(sts::Config {
        data_dir: Some(dir.join("sts")),
        public_url: sts_url.clone(),
        actor_token_lifetime_secs: 3600,
        auth_failures_per_minute: sts::DEFAULT_AUTH_FAILURES_PER_MINUTE,
        clock: clock.clone(),
    })
    .map_err(|e| anyhow!("the token service: {e}"))?;
    let sts_cred_path = sts
        .admin_credential_path()
        .ok_or_else(|| anyhow!("the token service has no admin credential file"))?;
    let sts_router = sts.router();
    let mut tasks = vec![tokio::spawn(async move {
        let _ = axum::serve(
            sts_l,
            sts_router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    })];
    let http = reqwest::Client::new();
    let sts_cred = std::fs::read_to_string(&sts_cred_path)?.trim().to_owned();
    let t: Value = http
        .post(format!("{sts_url}/admin/tenants"))
        .bearer_auth(&sts_cred)
        .json(&json!({"Domain": DOMAIN}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let realm = lab::start::find_realm(&t).ok_or_else(|| anyhow!("no realm in {t}"))?;

    // Exchange, as a child process
    let mut exchange = ExchangeProc {
        bin,
        data: dir.join("exchange"),
        port: reliability::free_port()?,
        log: dir.join("exchange.log"),
        child: None,
    };
    exchange.start().await?;

    // Skype for Business Online, in this process, retrying quickly
    let (sk_l, skype_url) = listener().await?;
    let skype_dir = dir.join("skype");
    let skype = skype::Skype::open(skype::Config {
        data_dir: Some(skype_dir.clone()),
        public_url: skype_url.clone(),
        host: SKYPE_HOST.into(),
        sts_url: sts_url.clone(),
        realm: realm.clone(),
        clock: clock.clone(),
        tls_roots: vec![],
    })
    .map_err(|e| anyhow!("Skype: {e}"))?;
    let mut tuning = skype.tuning();
    tuning.retry.base_secs = 1;
    tuning.retry.cap_secs = 2;
    skype.set_tuning(tuning);
    http.post(format!(
        "{sts_url}/admin/first-party/{}/certificates",
        s2s_proto::principal::SKYPE_APP_ID
    ))
    .bearer_auth(&sts_cred)
    .json(&json!({"certificate": skype.signing_certificate().to_base64()}))
    .send()
    .await?
    .error_for_status()?;
    skype.spawn_background();
    let sk_router = skype.router();
    tasks.push(tokio::spawn(async move {
        let _ = axum::serve(
            sk_l,
            sk_router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    }));

    let info = LabInfo {
        data_dir: dir.to_path_buf(),
        realm,
        domain: DOMAIN.into(),
        sts_url,
        sts_admin_credential: sts_cred_path,
        exchange_url: exchange.url(),
        exchange_host: EXCHANGE_HOST.into(),
        exchange_admin_credential: exchange.data.join("admin-credential"),
        skype_url,
        ca_cert: None,
        skype_admin_credential: skype
            .admin_credential_path()
            .map(Path::to_path_buf)
            .ok_or_else(|| anyhow!("Skype has no admin credential file"))?,
        skype_key: skype_dir.join("signing-key.pk8"),
        skype_cert: skype_dir.join("signing-cert.cer"),
    };
    std::fs::write(dir.join("lab.json"), serde_json::to_vec_pretty(&info)?)?;

    // mailboxes, Skype's users and policies, then the seed's steps 1–6
    let admin = ExchangeAdmin::new(&info)?;
    for (name, smtp) in [
        ("Alice Anders", ALICE),
        ("Bob Berg", BOB),
        ("Carol Cruz", CAROL),
    ] {
        admin
            .run(
                "New-Mailbox",
                json!({"Name": name, "PrimarySmtpAddress": smtp}),
            )
            .await?;
    }
    let sk = skype::client::SkypeAdmin::new(&info.skype_url, &info.skype_credential()?);
    sk.run(
        "Set-CsHostOverride",
        json!({"HostName": EXCHANGE_HOST, "ConnectTo": info.exchange_url}),
    )
    .await?;
    for smtp in [ALICE, BOB, CAROL] {
        sk.run(
            "Enable-CsUser",
            json!({"Identity": smtp, "SipAddress": format!("sip:{smtp}"), "ExchangeEwsUrl": format!("https://{EXCHANGE_HOST}/EWS/Exchange.asmx"), "HostedVoiceMail": true}),
        )
        .await?;
    }
    sk.run(
        "Set-CsConversationHistoryConfiguration",
        json!({"EnableServerConversationHistory": true}),
    )
    .await?;
    sk.run(
        "New-CsArchivingPolicy",
        json!({"Identity": "ArchiveAll", "ArchiveInternal": true, "ArchiveExternal": true}),
    )
    .await?;
    for smtp in [BOB, CAROL] {
        sk.run(
            "Grant-CsArchivingPolicy",
            json!({"Identity": smtp, "PolicyName": "ArchiveAll"}),
        )
        .await?;
    }
    lab::steps::setup(&info, &mut |o| {
        if !o.ok {
            eprintln!("setup step {} failed: {}", o.step, o.detail);
        }
    })
    .await?;
    Ok(World {
        info,
        skype,
        exchange,
        _tasks: tasks,
    })
}

// ---------------------------------------------------------------------------------------------

/// Skype's outbox at the end: everything delivered exactly once, nothing failed.
async fn check_skype(
    w: &World,
    checker: &Checker,
    accepted: &[(String, String, String)],
    deadline: Instant,
) -> Result<(Vec<String>, usize)> {
    let mut v = Vec::new();
    let sk = skype::client::SkypeAdmin::new(&w.info.skype_url, &w.info.skype_credential()?);
    let wait_until = Instant::now() + Duration::from_secs(180);
    let mut pending;
    loop {
        pending = sk
            .run("Get-CsOutbox", json!({"Status": "Pending"}))
            .await?
            .len();
        if pending == 0 || Instant::now() > wait_until || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if pending > 0 {
        v.push(format!(
            "Skype's outbox still has {pending} pending rows after 180 s"
        ));
    }
    let failed = sk.run("Get-CsOutbox", json!({"Status": "Failed"})).await?;
    for f in &failed {
        v.push(format!("Skype outbox row Failed: {f}"));
    }
    let delivered = sk
        .run("Get-CsOutbox", json!({"Status": "Delivered"}))
        .await?
        .len();
    if delivered != accepted.len() {
        v.push(format!(
            "Skype accepted {} items but its outbox lists {delivered} delivered rows",
            accepted.len()
        ));
    }
    let mut tokens: HashMap<String, String> = HashMap::new();
    for (user, folder, imid) in accepted {
        if !tokens.contains_key(user) {
            tokens.insert(user.clone(), mint_f1(&w.info, Some(user)).await?);
        }
        let token = &tokens[user];
        let op = format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="message:InternetMessageId"/></t:AdditionalProperties></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="10" Offset="0" BasePoint="Beginning"/><m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="message:InternetMessageId"/><t:FieldURIOrConstant><t:Constant Value="{}"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction><m:ParentFolderIds><t:DistinguishedFolderId Id="{}"/></m:ParentFolderIds></m:FindItem>"#,
            esc(imid),
            esc(folder)
        );
        let ms = checker.call(token, &op).await?;
        let n = ms[0]
            .items
            .iter()
            .filter(|i| i.internet_message_id.as_deref() == Some(imid.as_str()))
            .count();
        if ms[0].code != "NoError" || n != 1 {
            v.push(format!(
                "Skype item {imid} for {user} in {folder}: found {n} times ({})",
                ms[0].code
            ));
        }
    }
    Ok((v, delivered))
}

fn quick_check(p: &Path) -> String {
    let r = rusqlite::Connection::open_with_flags(p, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("PRAGMA quick_check", [], |r| r.get::<_, String>(0)));
    match r {
        Ok(s) => s,
        Err(e) => format!("cannot check: {e}"),
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    match run(args).await {
        Ok(0) => std::process::exit(0),
        Ok(n) => {
            eprintln!("{n} violation(s)");
            std::process::exit(1)
        }
        Err(e) => {
            eprintln!("crash test could not run: {e:#}");
            std::process::exit(2)
        }
    }
}

async fn run(args: Args) -> Result<usize> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.max_secs);
    let bin = args
        .openhybrid
        .clone()
        .or_else(|| std::env::var_os("OPENHYBRID_BIN").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("target/release/openhybrid"));
    if !bin.is_file() {
        bail!(
            "{} not found: build it (cargo build --release -p openhybrid) or pass --openhybrid",
            bin.display()
        );
    }
    let bin = bin.canonicalize()?;
    let (dir, _tmp) = match &args.data {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            if std::fs::read_dir(d)?.next().is_some() {
                bail!("{} is not empty", d.display());
            }
            (d.canonicalize()?, None)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("openhybrid-crash-")
                .tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let seed = args.seed.unwrap_or_else(|| rand::rng().random());
    let mut sched = rand::rngs::StdRng::seed_from_u64(seed);
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    println!(
        "crash test: {} rounds, load {}–{} ms then SIGKILL, {} writers + greeting + Skype; seed {seed}; data {}",
        args.rounds,
        args.min_load_ms,
        args.max_load_ms,
        args.writers,
        dir.display()
    );
    let mut world = boot(&dir, bin).await?;
    println!(
        "booted in {:.1} s: token service {}, Exchange (pid {:?}) {}, Skype {}",
        started.elapsed().as_secs_f64(),
        world.info.sts_url,
        world.exchange.child.as_ref().and_then(|c| c.id()),
        world.info.exchange_url,
        world.info.skype_url
    );
    let ews_url = format!("{}/EWS/Exchange.asmx", world.info.exchange_url);
    let ledger: Shared = Arc::new(Mutex::new(Ledger {
        items: HashMap::new(),
        live: Vec::new(),
        greeting: Greeting::default(),
        skype: Vec::new(),
        acked_log: Journal::create(&dir.join("acked.jsonl"))?,
        unacked_log: Journal::create(&dir.join("unacked.jsonl"))?,
        acked_writes: 0,
        refused_writes: 0,
        lost_writes: 0,
        skype_refused: 0,
        settled_applied: 0,
        settled_not_applied: 0,
    }));
    let checker = Checker {
        ews_url: ews_url.clone(),
        http: reliability::http_client(Duration::from_secs(60), 4),
        run: run_id.clone(),
    };
    // the greeting's first version
    let token = mint_f1(&world.info, Some(ALICE)).await?;
    let first = greeting_bytes(0);
    let ms = checker.call(&token, &greeting_op(true, &first)).await?;
    if ms[0].code != "NoError" {
        bail!("creating the greeting: {}", ms[0].code);
    }
    lock(&ledger).greeting.acked = (0, sha256_hex(&first));

    let seq = Arc::new(AtomicU64::new(0));
    let greeting_seq = Arc::new(AtomicU64::new(1));
    let mut violations: Vec<String> = Vec::new();
    let mut kills = 0u32;
    let mut rounds_done = 0u32;
    let mut restart_ms: Vec<u128> = Vec::new();
    for round in 1..=args.rounds {
        if Instant::now() > deadline {
            violations.push(format!(
                "time bound of {} s reached after {rounds_done} rounds",
                args.max_secs
            ));
            break;
        }
        let load = Duration::from_millis(
            sched.random_range(args.min_load_ms..=args.max_load_ms.max(args.min_load_ms)),
        );
        let ctx = Arc::new(Ctx {
            ews_url: ews_url.clone(),
            token: mint_f1(&world.info, Some(ALICE)).await?,
            run: run_id.clone(),
            round,
            stop: Arc::new(AtomicBool::new(false)),
            ledger: ledger.clone(),
            http: reliability::http_client(Duration::from_secs(15), 8),
            seq: seq.clone(),
        });
        let before = lock(&ledger).acked_writes;
        let mut tasks = Vec::new();
        for w in 0..args.writers {
            tasks.push(tokio::spawn(writer(ctx.clone(), w)));
        }
        tasks.push(tokio::spawn(greeter(ctx.clone(), greeting_seq.clone())));
        let sk =
            skype::client::SkypeAdmin::new(&world.info.skype_url, &world.info.skype_credential()?);
        // Skype keeps queuing through the kill and the down time, so its outbox meets the dead
        // server and retries
        let skype_stop = Arc::new(AtomicBool::new(false));
        let mut skype_tasks = Vec::new();
        for _ in 0..2 {
            skype_tasks.push(tokio::spawn(conversations(
                ctx.clone(),
                sk.clone(),
                skype_stop.clone(),
            )));
        }
        let down = Duration::from_millis(sched.random_range(0..=500));
        tokio::time::sleep(load).await;
        world.exchange.kill9().await?;
        kills += 1;
        ctx.stop.store(true, Ordering::Relaxed);
        for t in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
        tokio::time::sleep(down).await;
        let restarted = match world.exchange.start().await {
            Ok(d) => d,
            Err(e) => {
                violations.push(format!(
                    "round {round}: the server did not start without repair: {e:#}"
                ));
                break;
            }
        };
        restart_ms.push(restarted.as_millis());
        skype_stop.store(true, Ordering::Relaxed);
        for t in skype_tasks {
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
        if args.inject_fault && round == 1 {
            let mut l = lock(&ledger);
            let subject = format!("crash:{run_id}:1:injected");
            l.set_live(
                &subject,
                "AAAAinjected".into(),
                sha256_hex(b"never written"),
            );
            l.greeting.acked = (u64::MAX, sha256_hex(b"never written"));
            println!("injected a fabricated acknowledged item and greeting version");
        }
        let token = mint_f1(&world.info, Some(ALICE)).await?;
        let found = checker.verify(&token, &ledger).await?;
        let (acked, live) = {
            let l = lock(&ledger);
            (l.acked_writes, l.live.len())
        };
        println!(
            "round {round:>3}: load {:>4} ms, {:>4} writes acknowledged, down {:>3} ms, restart {:>4} ms, {live} items live, {} violation(s)",
            load.as_millis(),
            acked - before,
            down.as_millis(),
            restarted.as_millis(),
            found.len()
        );
        for f in &found {
            println!("  VIOLATION: {f}");
        }
        violations.extend(found.into_iter().map(|f| format!("round {round}: {f}")));
        rounds_done += 1;
    }

    // the end: Skype's outbox drained, exactly once; the databases intact
    let accepted = lock(&ledger).skype.clone();
    let (skype_v, delivered) = check_skype(&world, &checker, &accepted, deadline).await?;
    for f in &skype_v {
        println!("  VIOLATION: {f}");
    }
    violations.extend(skype_v);
    for f in ["exchange.sqlite", "mailboxes.sqlite"] {
        let r = quick_check(&world.exchange.data.join(f));
        if r != "ok" {
            let m = format!("{f}: PRAGMA quick_check: {r}");
            println!("  VIOLATION: {m}");
            violations.push(m);
        }
    }
    let rows = world.skype.outbox(None, None).await.unwrap_or_default();
    let retried = rows.iter().filter(|r| r.attempts > 1).count();
    let max_attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(0);
    world.exchange.kill9().await?;
    let l = lock(&ledger);
    let (live, deleted, absent) = l.items.values().fold((0, 0, 0), |a, s| match s {
        State::Live { .. } => (a.0 + 1, a.1, a.2),
        State::Deleted => (a.0, a.1 + 1, a.2),
        State::Absent => (a.0, a.1, a.2 + 1),
        _ => a,
    });
    restart_ms.sort();
    println!("--- summary ---");
    println!("rounds              {rounds_done}");
    println!("kills (SIGKILL)     {kills}");
    println!(
        "restarts            {} (median {} ms, max {} ms to /healthz)",
        restart_ms.len(),
        restart_ms.get(restart_ms.len() / 2).copied().unwrap_or(0),
        restart_ms.last().copied().unwrap_or(0)
    );
    println!("writes acknowledged {}", l.acked_writes);
    println!(
        "writes refused      {} (never sent or answered with an error)",
        l.refused_writes
    );
    println!(
        "writes lost         {} (in flight at a kill): {} found applied, {} not applied",
        l.lost_writes, l.settled_applied, l.settled_not_applied
    );
    println!("items at the end    {live} present, {deleted} hard-deleted, {absent} never written");
    println!(
        "greeting            version {} of {} attempted",
        l.greeting.acked.0,
        greeting_seq.load(Ordering::Relaxed) - 1
    );
    println!(
        "skype               {} items accepted, {delivered} rows delivered, {} requests refused; {retried} rows needed a retry (most attempts {max_attempts})",
        accepted.len(),
        l.skype_refused,
    );
    println!(
        "elapsed             {:.1} s",
        started.elapsed().as_secs_f64()
    );
    println!("violations          {}", violations.len());
    if !violations.is_empty() {
        if let Some(t) = _tmp {
            let kept = t.keep();
            println!("data kept in {}", kept.display());
        }
        for v in violations.iter().take(50) {
            println!("VIOLATION {v}");
        }
    }
    Ok(violations.len())
}
