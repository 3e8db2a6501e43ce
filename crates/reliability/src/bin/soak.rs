//! The soak run (issue 6, "Load"): the lab (token service, Exchange, Skype) in this process on
//! loopback, set up with the seed's steps, then mixed authenticated EWS traffic — GetFolder,
//! FindItem, CreateItem, GetItem, GetUserConfiguration, UpdateUserConfiguration — from N
//! keep-alive connections, each acting as one of several users with a token minted the way Skype
//! Online does (flow F1), for a bounded time.
//!
//! Reports throughput, p50/p99 latency (overall and per operation), the error count (anything
//! that is not HTTP 200 with every response message `NoError` is an error) and this process's
//! resident memory (VmRSS) after setup, every `--sample-secs`, and at the end. "Flat" means the
//! end RSS is within `--rss-tolerance-pct` (or `--rss-tolerance-mib`, whichever is larger) of
//! the RSS after the first minute (or after a third of the run, when it is shorter).
//!
//! `soak [--secs 180] [--conns 32] [--users 4]` (also SOAK_SECS, SOAK_CONNS, SOAK_USERS).
//! Exit status: 0 fine, 1 errors, 2 could not run, 3 no errors but memory not flat.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};
use clap::Parser;
use lab::client::{ExchangeAdmin, mint_f1};
use rand::{Rng, RngCore};
use reliability::{Histogram, Sent, esc, parse_response, post_ews, rss_kib};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(about = "bounded soak of mixed authenticated EWS traffic on loopback")]
struct Args {
    /// Duration of the load, seconds (5–3000).
    #[arg(long, env = "SOAK_SECS", default_value_t = 180)]
    secs: u64,
    /// Concurrent keep-alive connections (1–512).
    #[arg(long, env = "SOAK_CONNS", default_value_t = 32)]
    conns: usize,
    /// Mailbox users the connections act as (2–50).
    #[arg(long, env = "SOAK_USERS", default_value_t = 4)]
    users: usize,
    /// Seconds between memory samples.
    #[arg(long, default_value_t = 30)]
    sample_secs: u64,
    /// Allowed growth of the end RSS over the reference RSS, percent …
    #[arg(long, default_value_t = 10.0)]
    rss_tolerance_pct: f64,
    /// … or MiB, whichever is larger.
    #[arg(long, default_value_t = 16)]
    rss_tolerance_mib: u64,
    /// The lab's directory (default: a fresh temporary directory).
    #[arg(long)]
    data: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    GetFolder,
    FindItem,
    CreateItem,
    GetItem,
    GetConfig,
    UpdateConfig,
}

const OPS: [(Op, &str, u32); 6] = [
    (Op::GetFolder, "GetFolder", 20),
    (Op::FindItem, "FindItem", 15),
    (Op::CreateItem, "CreateItem", 20),
    (Op::GetItem, "GetItem", 20),
    (Op::GetConfig, "GetUserConfiguration", 15),
    (Op::UpdateConfig, "UpdateUserConfiguration", 10),
];
const CONFIG: &str = "OpenHybrid.Soak";

struct OpStats {
    hist: Histogram,
    errors: AtomicU64,
}

struct Stats {
    all: Histogram,
    per_op: Vec<OpStats>,
    errors: AtomicU64,
    samples: Mutex<Vec<String>>,
}

impl Stats {
    fn error(&self, op: usize, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.per_op[op].errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut s) = self.samples.lock()
            && s.len() < 10
        {
            s.push(format!("{}: {what}", OPS[op].1));
        }
    }
}

fn pick(rng: &mut impl Rng) -> usize {
    let total: u32 = OPS.iter().map(|o| o.2).sum();
    let mut x = rng.random_range(0..total);
    for (i, o) in OPS.iter().enumerate() {
        if x < o.2 {
            return i;
        }
        x -= o.2;
    }
    0
}

fn config_op(create: bool, data: &[u8]) -> String {
    reliability::user_config_op(CONFIG, create, data)
}

async fn connection(
    n: usize,
    url: String,
    token: String,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) {
    let http = reliability::http_client(Duration::from_secs(30), 1);
    let mut ids: VecDeque<String> = VecDeque::with_capacity(64);
    let mut k = 0u64;
    // bounded by the stop flag (set at the deadline) and a count
    while !stop.load(Ordering::Relaxed) && k < 50_000_000 {
        k += 1;
        let mut i = pick(&mut rand::rng());
        if OPS[i].0 == Op::GetItem && ids.is_empty() {
            i = 2;
        }
        let body = match OPS[i].0 {
            Op::GetFolder => r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="conversationhistory"/><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#.to_owned(),
            Op::FindItem => r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="10" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="conversationhistory"/></m:ParentFolderIds></m:FindItem>"#.to_owned(),
            Op::CreateItem => {
                let mut b = [0u8; 256];
                rand::rng().fill_bytes(&mut b);
                format!(
                    r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="conversationhistory"/></m:SavedItemFolderId><m:Items><t:Message><t:ItemClass>IPM.Note.Microsoft.Conversation</t:ItemClass><t:Subject>soak {n} {k}</t:Subject><t:Body BodyType="HTML">{}</t:Body></t:Message></m:Items></m:CreateItem>"#,
                    esc(&format!("<div>soak transcript {}</div>", hex::encode(b)))
                )
            }
            Op::GetItem => {
                let id = &ids[rand::rng().random_range(0..ids.len())];
                format!(
                    r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{}"/></m:ItemIds></m:GetItem>"#,
                    esc(id)
                )
            }
            Op::GetConfig => format!(
                r#"<m:GetUserConfiguration><m:UserConfigurationName Name="{CONFIG}"><t:DistinguishedFolderId Id="root"/></m:UserConfigurationName><m:UserConfigurationProperties>All</m:UserConfigurationProperties></m:GetUserConfiguration>"#
            ),
            Op::UpdateConfig => {
                let mut b = vec![0u8; 2048];
                rand::rng().fill_bytes(&mut b);
                config_op(false, &b)
            }
        };
        let t = Instant::now();
        let sent = post_ews(&http, &url, &token, &body).await;
        let d = t.elapsed();
        stats.all.record(d);
        stats.per_op[i].hist.record(d);
        match sent {
            Sent::Answered { status: 200, body } => match parse_response(&body) {
                Ok(ms)
                    if ms
                        .iter()
                        .all(|m| m.class == "Success" && m.code == "NoError") =>
                {
                    if OPS[i].0 == Op::CreateItem
                        && let Some(it) = ms[0].items.first()
                    {
                        if ids.len() == 64 {
                            ids.pop_front();
                        }
                        ids.push_back(it.id.clone());
                    }
                }
                Ok(ms) => {
                    let codes: Vec<&str> = ms.iter().map(|m| m.code.as_str()).collect();
                    stats.error(i, format!("codes {codes:?}"));
                }
                Err(e) => stats.error(i, e),
            },
            Sent::Answered { status, body } => stats.error(
                i,
                format!(
                    "HTTP {status}: {}",
                    body.chars().take(200).collect::<String>()
                ),
            ),
            Sent::NotSent(e) | Sent::Lost(e) => stats.error(i, e),
        }
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

#[tokio::main]
async fn main() {
    match run(Args::parse()).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("soak could not run: {e:#}");
            std::process::exit(2)
        }
    }
}

async fn run(args: Args) -> Result<i32> {
    let secs = args.secs.clamp(5, 3000);
    let conns = args.conns.clamp(1, 512);
    let n_users = args.users.clamp(2, 50);
    let (dir, _tmp) = match &args.data {
        Some(d) => (d.clone(), None),
        None => {
            let t = tempfile::Builder::new()
                .prefix("openhybrid-soak-")
                .tempdir()?;
            (t.path().to_path_buf(), Some(t))
        }
    };
    let lab = lab::start(&dir, (0, 0))
        .await
        .map_err(|e| anyhow!("starting the lab: {e}"))?;
    lab::steps::setup(&lab.info, &mut |_| {})
        .await
        .map_err(|e| anyhow!("setup: {e}"))?;
    let admin = ExchangeAdmin::new(&lab.info)?;
    let mut users = vec![
        "alice@contoso.example".to_owned(),
        "bob@contoso.example".to_owned(),
    ];
    for i in 3..=n_users {
        let smtp = format!("user{i}@contoso.example");
        admin
            .run(
                "New-Mailbox",
                json!({"Name": format!("Soak User {i}"), "PrimarySmtpAddress": smtp}),
            )
            .await
            .ok();
        users.push(smtp);
    }
    let url = format!("{}/EWS/Exchange.asmx", lab.info.exchange_url);
    let http = reliability::http_client(Duration::from_secs(30), 1);
    let mut tokens = Vec::new();
    for u in &users {
        let t = mint_f1(&lab.info, Some(u)).await?;
        // each user's configuration exists before the load
        let mut b = vec![0u8; 2048];
        rand::rng().fill_bytes(&mut b);
        match post_ews(&http, &url, &t, &config_op(true, &b)).await {
            Sent::Answered { status: 200, body } => {
                let ms = parse_response(&body).map_err(|e| anyhow!(e))?;
                if ms[0].code != "NoError" && ms[0].code != "ErrorItemSave" {
                    bail!("creating {CONFIG} for {u}: {}", ms[0].code);
                }
            }
            other => bail!("creating {CONFIG} for {u}: {other:?}"),
        }
        tokens.push(t);
    }
    let stats = Arc::new(Stats {
        all: Histogram::new(),
        per_op: OPS
            .iter()
            .map(|_| OpStats {
                hist: Histogram::new(),
                errors: AtomicU64::new(0),
            })
            .collect(),
        errors: AtomicU64::new(0),
        samples: Mutex::new(Vec::new()),
    });
    let rss0 = rss_kib().unwrap_or(0);
    println!(
        "soak: {secs} s, {conns} connections, {} users, loopback, one process (lab {})",
        users.len(),
        dir.display()
    );
    println!("rss after setup      {:>8.1} MiB", mib(rss0));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..conns {
        tasks.push(tokio::spawn(connection(
            c,
            url.clone(),
            tokens[c % tokens.len()].clone(),
            stop.clone(),
            stats.clone(),
        )));
    }
    // samples: every sample_secs, and the reference point (first minute, or a third of the run)
    let reference_at = Duration::from_secs(60.min(secs / 3).max(1));
    let mut reference: Option<u64> = None;
    let mut samples = vec![(0u64, rss0)];
    let mut last_count = 0u64;
    let mut last_t = Duration::ZERO;
    let every = Duration::from_secs(args.sample_secs.max(1));
    let end = Duration::from_secs(secs);
    let mut next_sample = every;
    loop {
        let el = start.elapsed();
        if el >= end {
            break;
        }
        let wake = [
            next_sample,
            end,
            if reference.is_none() {
                reference_at
            } else {
                end
            },
        ]
        .into_iter()
        .filter(|d| *d > el)
        .min()
        .unwrap_or(end);
        tokio::time::sleep(wake - el).await;
        let el = start.elapsed();
        if reference.is_none() && el >= reference_at {
            reference = rss_kib();
            println!(
                "t={:>5.0}s  reference rss {:>8.1} MiB",
                el.as_secs_f64(),
                mib(reference.unwrap_or(0))
            );
        }
        if el >= next_sample && el < end {
            let rss = rss_kib().unwrap_or(0);
            let count = stats.all.count();
            let rps = (count - last_count) as f64 / (el - last_t).as_secs_f64();
            println!(
                "t={:>5.0}s  rss {:>8.1} MiB  {:>7.0} req/s over the last interval  p99 so far {:>6.2} ms  errors {}",
                el.as_secs_f64(),
                mib(rss),
                rps,
                stats.all.quantile_ms(0.99),
                stats.errors.load(Ordering::Relaxed)
            );
            samples.push((el.as_secs(), rss));
            last_count = count;
            last_t = el;
            next_sample += every;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(40), t).await;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rss_end = rss_kib().unwrap_or(0);
    let reference = reference.unwrap_or(rss0);
    samples.push((elapsed as u64, rss_end));
    let total = stats.all.count();
    let errors = stats.errors.load(Ordering::Relaxed);
    println!("--- summary ---");
    println!(
        "requests             {total} in {elapsed:.1} s = {:.0} req/s ({conns} connections)",
        total as f64 / elapsed
    );
    println!(
        "latency              p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        stats.all.quantile_ms(0.5),
        stats.all.quantile_ms(0.99),
        stats.all.max_ms()
    );
    for (i, o) in OPS.iter().enumerate() {
        let s = &stats.per_op[i];
        println!(
            "  {:<24} {:>8} req  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
            o.1,
            s.hist.count(),
            s.hist.quantile_ms(0.5),
            s.hist.quantile_ms(0.99),
            s.errors.load(Ordering::Relaxed)
        );
    }
    println!("errors               {errors}");
    if let Ok(s) = stats.samples.lock() {
        for e in s.iter() {
            println!("  e.g. {e}");
        }
    }
    let tol = ((reference as f64 * args.rss_tolerance_pct / 100.0) as u64)
        .max(args.rss_tolerance_mib * 1024);
    let flat = rss_end <= reference + tol;
    println!(
        "rss                  after setup {:.1} MiB, reference (t={}s) {:.1} MiB, end {:.1} MiB ({:+.1} MiB; tolerance {:.1} MiB) → {}",
        mib(rss0),
        reference_at.as_secs(),
        mib(reference),
        mib(rss_end),
        (rss_end as f64 - reference as f64) / 1024.0,
        mib(tol),
        if flat { "flat" } else { "NOT flat" }
    );
    println!(
        "rss samples (s:MiB)  {}",
        samples
            .iter()
            .map(|(t, r)| format!("{t}:{:.1}", mib(*r)))
            .collect::<Vec<_>>()
            .join("  ")
    );
    drop(lab);
    Ok(if errors > 0 {
        1
    } else if !flat {
        3
    } else {
        0
    })
}
