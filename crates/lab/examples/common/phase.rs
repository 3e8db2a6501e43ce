//! The load phase shared by the benchmark examples: N connections for a fixed time, counting
//! requests, errors (anything but HTTP 200 with NoError, or a JSON body), and latency percentiles.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, counted: each phase reports its heap allocations per request, a figure
/// this shared machine's noise does not move (atomic counters; the same for every phase).
#[global_allocator]
static GLOBAL: &stats_alloc::StatsAlloc<std::alloc::System> = &stats_alloc::INSTRUMENTED_SYSTEM;

/// Heap allocations so far in this process (reallocations included).
pub fn allocations() -> u64 {
    let s = GLOBAL.stats();
    (s.allocations + s.reallocations) as u64
}

/// Builds one request of a phase on a connection's client.
pub type Make = Arc<dyn Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync>;

pub struct Phase {
    pub name: String,
    /// Successful requests, and their rate per second.
    pub ok: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub errors: u64,
    /// This process's CPU time (user + system, load generator included) per successful
    /// request, in µs; robust to other work on a shared machine where the rate is not.
    pub cpu_us: f64,
    /// Heap allocations per successful request, the load generator's included.
    pub allocs: f64,
}

pub async fn run_phase(name: &str, secs: u64, conns: usize, make: Make) -> Phase {
    run_phase_for(name, Duration::from_secs(secs), conns, make).await
}

/// [`run_phase`] for any length of time (the paired rounds use slices under a second).
pub async fn run_phase_for(name: &str, length: Duration, conns: usize, make: Make) -> Phase {
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let cpu0 = cpu_secs("self");
    let allocs0 = allocations();
    let start = Instant::now();
    for _ in 0..conns {
        let (stop, errors, make) = (stop.clone(), errors.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
                .expect("client");
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                match make(&http).send().await {
                    Ok(r) if r.status().is_success() => {
                        let body = r.bytes().await.unwrap_or_default();
                        if !body.windows(7).any(|w| w == b"NoError") && !body.starts_with(b"{") {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap_or_default());
    }
    let elapsed = start.elapsed().as_secs_f64();
    let allocs = allocations() - allocs0;
    let cpu = cpu_secs("self")
        .zip(cpu0)
        .map(|(b, a)| b - a)
        .unwrap_or(0.0);
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    let errors = errors.load(Ordering::Relaxed);
    // successful requests only: a fast refusal must not count as throughput
    let ok = (all.len() as u64).saturating_sub(errors);
    Phase {
        name: name.into(),
        ok,
        rps: ok as f64 / elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        errors,
        cpu_us: cpu / ok.max(1) as f64 * 1e6,
        allocs: allocs as f64 / ok.max(1) as f64,
    }
}

/// The median and quartiles of per-round ratios (`a / b` of each round).
pub fn median_ratio(rounds: &[(f64, f64)]) -> (f64, f64, f64) {
    let mut r: Vec<f64> = rounds.iter().map(|(a, b)| a / b).collect();
    r.sort_by(f64::total_cmp);
    let q = |p: f64| {
        r.get(((r.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    (q(0.5), q(0.25), q(0.75))
}

/// `[SECS] [CONNECTIONS]` from the command line, each defaulted and clamped.
pub fn args(secs: (u64, u64), conns: (usize, usize)) -> (u64, usize) {
    let args: Vec<String> = std::env::args().collect();
    let secs = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(secs.0)
        .clamp(1, secs.1);
    let conns = args
        .get(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(conns.0)
        .clamp(1, conns.1);
    (secs, conns)
}

/// `n` token-request bodies for Skype (F1), each with its own pre-signed client assertion (every
/// `jti` is single-use).
pub fn skype_token_forms(info: &lab::LabInfo, endpoint: &str, n: usize) -> Vec<String> {
    let key = info.skype_key().expect("key");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    (0..n)
        .map(|_| {
            let fields = lab::client::f1_token_form(info, &key, endpoint, now, 540).expect("sign");
            serde_urlencoded::to_string(fields).expect("form")
        })
        .collect()
}

/// An `application/x-www-form-urlencoded` body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).expect("form")
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat` (Linux; 10 ms
/// ticks): `pid` is a process id or `self`. `None` where there is no such file.
pub fn cpu_secs(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the fields after the parenthesised command name; utime and stime are fields 14 and 15
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}
