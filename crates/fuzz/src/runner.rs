//! The fuzz loop: run one input under `catch_unwind` with time and allocation measured, mutate
//! the pool for a fixed time, minimise and save findings.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::alloc;
use crate::mutate::{Rng, mutate};
use crate::targets::{Target, crate_dir};

/// What one run of one input showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The target panicked; `location` is `file:line:col`.
    Crash { message: String, location: String },
    /// The input took longer than the deadline (twice).
    Hang { millis: u128 },
    /// Live bytes grew beyond the cap while the input ran.
    Alloc { bytes: usize },
}

impl Finding {
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::Crash { .. } => "crash",
            Finding::Hang { .. } => "hang",
            Finding::Alloc { .. } => "alloc",
        }
    }

    /// Two findings are "the same bug" when this key matches.
    pub fn key(&self) -> String {
        match self {
            Finding::Crash { location, .. } => format!("crash@{location}"),
            other => other.kind().to_owned(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Crash { message, location } => write!(f, "panic at {location}: {message}"),
            Finding::Hang { millis } => write!(f, "took {millis} ms"),
            Finding::Alloc { bytes } => write!(f, "live bytes grew by {bytes}"),
        }
    }
}

/// The result of one execution.
#[derive(Debug, Clone)]
pub struct Exec {
    pub outcome: Result<String, Finding>,
    pub elapsed: Duration,
    /// Peak growth of live bytes (0 without the counting allocator).
    pub peak_bytes: usize,
}

/// Limits that turn an execution into a finding.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// An input slower than this (measured twice) is a hang.
    pub deadline: Duration,
    /// Peak live-byte growth above this is an allocation finding.
    pub alloc_cap: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline: Duration::from_millis(1000),
            alloc_cap: 64 << 20,
        }
    }
}

thread_local! {
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Installs a panic hook that records the message and location of a panic inside a target
/// instead of printing it; a panic anywhere else (the fuzzer's own code) is printed as usual.
pub fn install_quiet_panic_hook() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if STARTED_MS.load(Relaxed) == 0 {
            default(info);
            return;
        }
        let message = if let Some(s) = info.payload().downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = info.payload().downcast_ref::<String>() {
            s.clone()
        } else {
            "(non-string panic payload)".to_owned()
        };
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = Some((message, location)));
    }));
}

/// The input being executed, for the watchdog and the hard-cap hook.
static CURRENT: Mutex<(&str, Vec<u8>)> = Mutex::new(("", Vec::new()));
/// Milliseconds since [`epoch`] when the current execution started; 0 when idle.
static STARTED_MS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    epoch().elapsed().as_millis() as u64 + 1
}

/// Runs `input` through `target` once, measuring time and allocation.
pub fn execute(target: &Target, input: &[u8], limits: &Limits) -> Exec {
    if let Ok(mut cur) = CURRENT.lock() {
        cur.0 = target.name;
        cur.1.clear();
        cur.1.extend_from_slice(input);
    }
    LAST_PANIC.with(|p| p.borrow_mut().take());
    let baseline = alloc::begin();
    STARTED_MS.store(now_ms(), Relaxed);
    alloc::arm(true);
    let start = Instant::now();
    let result = panic::catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    let elapsed = start.elapsed();
    alloc::arm(false);
    STARTED_MS.store(0, Relaxed);
    let peak_bytes = alloc::peak_since(baseline);
    let outcome = match result {
        Err(payload) => {
            let (message, location) =
                LAST_PANIC
                    .with(|p| p.borrow_mut().take())
                    .unwrap_or_else(|| {
                        let m = payload
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        (m, String::new())
                    });
            Err(Finding::Crash { message, location })
        }
        Ok(_) if peak_bytes > limits.alloc_cap => Err(Finding::Alloc { bytes: peak_bytes }),
        Ok(shape) => Ok(shape),
    };
    Exec {
        outcome,
        elapsed,
        peak_bytes,
    }
}

/// [`execute`], and a slow input is timed again before it counts as a hang (shared cores).
pub fn check(target: &Target, input: &[u8], limits: &Limits) -> Exec {
    let mut exec = execute(target, input, limits);
    if exec.outcome.is_ok() && exec.elapsed > limits.deadline {
        let again = execute(target, input, limits);
        if again.elapsed > limits.deadline {
            exec.outcome = Err(Finding::Hang {
                millis: exec.elapsed.min(again.elapsed).as_millis(),
            });
        }
    }
    exec
}

/// Saves the input being executed to `crashes/<target>/<kind>-<hash>` and exits with status 3.
fn dump_current_and_exit(kind: &str, detail: &str) -> ! {
    let (name, input) = match CURRENT.try_lock() {
        Ok(cur) => (cur.0, cur.1.clone()),
        Err(_) => ("unknown", Vec::new()),
    };
    let dir = crashes_dir().join(name);
    let path = dir.join(format!("{kind}-{:016x}", fnv(&input)));
    let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &input));
    eprintln!(
        "FATAL {name}: {kind} ({detail}); input ({} bytes) {}",
        input.len(),
        match saved {
            Ok(()) => format!("saved to {}", path.display()),
            Err(e) => format!("not saved: {e}"),
        }
    );
    std::process::exit(3);
}

fn on_hard_cap(size: usize) -> ! {
    dump_current_and_exit(
        "oom",
        &format!(
            "a request of {size} bytes would exceed the hard cap of {} live bytes",
            alloc::hard_cap()
        ),
    )
}

/// Starts the watchdog (an input running longer than `fatal` cannot be interrupted: its input is
/// saved and the process exits) and sets the allocator's hard cap.
pub fn install_guards(fatal: Duration, hard_cap: usize) {
    let _ = epoch();
    alloc::set_hard_cap(hard_cap, on_hard_cap);
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let started = STARTED_MS.load(Relaxed);
            if started != 0 && now_ms().saturating_sub(started) > fatal.as_millis() as u64 {
                dump_current_and_exit(
                    "hang",
                    &format!("one input ran longer than {} s", fatal.as_secs()),
                );
            }
        }
    });
}

/// FNV-1a, for file names.
pub fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

static CRASHES_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Overrides where the watchdog and the hard-cap hook save inputs.
pub fn set_crashes_dir(dir: PathBuf) {
    if let Ok(mut d) = CRASHES_DIR.lock() {
        *d = Some(dir);
    }
}

/// `crates/fuzz/crashes` unless overridden.
pub fn crashes_dir() -> PathBuf {
    CRASHES_DIR
        .lock()
        .ok()
        .and_then(|d| d.clone())
        .unwrap_or_else(|| crate_dir().join("crashes"))
}

/// Every regular file under `dir` (not recursive), sorted by name; missing directory → empty.
pub fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The committed seed corpus of a target.
pub fn corpus(target: &Target) -> Vec<(PathBuf, Vec<u8>)> {
    read_dir_files(&crate_dir().join("corpus").join(target.name))
}

/// The committed regression inputs of a target.
pub fn regressions(target: &Target) -> Vec<(PathBuf, Vec<u8>)> {
    read_dir_files(&crate_dir().join("regressions").join(target.name))
}

/// Shrinks `input` while it still produces a finding with the same key (bounded by `budget`).
pub fn minimize(
    target: &Target,
    input: &[u8],
    finding: &Finding,
    limits: &Limits,
    budget: Duration,
) -> Vec<u8> {
    let start = Instant::now();
    let key = finding.key();
    let still = |cand: &[u8]| -> bool {
        let exec = match finding {
            Finding::Hang { .. } => check(target, cand, limits),
            _ => execute(target, cand, limits),
        };
        matches!(&exec.outcome, Err(f) if f.key() == key)
    };
    let mut best = input.to_vec();
    let mut chunk = best.len() / 2;
    while chunk >= 1 && start.elapsed() < budget {
        let mut i = 0;
        let mut progressed = false;
        while i < best.len() && start.elapsed() < budget {
            let end = (i + chunk).min(best.len());
            let mut cand = best[..i].to_vec();
            cand.extend_from_slice(&best[end..]);
            if still(&cand) {
                best = cand;
                progressed = true;
            } else {
                i += chunk;
            }
        }
        if !progressed {
            chunk /= 2;
        }
    }
    best
}

/// Per-target statistics of a run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub execs: u64,
    pub seconds: f64,
    pub pool: usize,
    pub shapes: usize,
    pub slowest: Duration,
    pub peak_bytes: usize,
    /// Unique findings: key → (finding, saved path, count).
    pub findings: Vec<(Finding, Option<PathBuf>, u64)>,
}

impl Stats {
    pub fn execs_per_sec(&self) -> f64 {
        self.execs as f64 / self.seconds.max(1e-9)
    }
}

/// Options of one fuzz run.
#[derive(Debug, Clone)]
pub struct Options {
    pub duration: Duration,
    pub seed: u64,
    pub limits: Limits,
    /// Where crashing inputs are written (`<dir>/<target>/…`); `None` → not written.
    pub save_dir: Option<PathBuf>,
    pub minimize_budget: Duration,
}

/// Fuzzes one target for `opts.duration`.
pub fn fuzz(target: &Target, opts: &Options) -> Stats {
    let mut rng = Rng::new(opts.seed ^ fnv(target.name.as_bytes()));
    let mut pool: Vec<Vec<u8>> = corpus(target).into_iter().map(|(_, b)| b).collect();
    pool.extend(regressions(target).into_iter().map(|(_, b)| b));
    if pool.is_empty() {
        pool.push(Vec::new());
    }
    let mut shapes: HashSet<String> = HashSet::new();
    let mut stats = Stats::default();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let start = Instant::now();
    let mut record = |input: &[u8], exec: Exec, stats: &mut Stats, pool: &mut Vec<Vec<u8>>| {
        stats.execs += 1;
        stats.slowest = stats.slowest.max(exec.elapsed);
        stats.peak_bytes = stats.peak_bytes.max(exec.peak_bytes);
        match exec.outcome {
            Ok(shape) => {
                if shapes.len() < 4096 && shapes.insert(shape) && pool.len() < 2048 {
                    pool.push(input.to_vec());
                }
            }
            Err(f) => {
                let key = f.key();
                if let Some(&i) = seen.get(&key) {
                    stats.findings[i].2 += 1;
                    return;
                }
                let small = minimize(target, input, &f, &opts.limits, opts.minimize_budget);
                let path = opts.save_dir.as_ref().and_then(|dir| {
                    let dir = dir.join(target.name);
                    let path = dir.join(format!("{}-{:016x}", f.kind(), fnv(&small)));
                    std::fs::create_dir_all(&dir).ok()?;
                    std::fs::write(&path, &small).ok()?;
                    Some(path)
                });
                eprintln!(
                    "  {} FINDING {}: {f} ({} bytes, minimised from {}){}",
                    target.name,
                    f.kind(),
                    small.len(),
                    input.len(),
                    path.as_ref()
                        .map(|p| format!(" → {}", p.display()))
                        .unwrap_or_default()
                );
                seen.insert(key, stats.findings.len());
                stats.findings.push((f, path, 1));
            }
        }
    };
    // every seed first, unmutated
    let seeds = pool.clone();
    for s in &seeds {
        let exec = check(target, s, &opts.limits);
        record(s, exec, &mut stats, &mut pool);
    }
    while start.elapsed() < opts.duration {
        for _ in 0..64 {
            let base = &pool[rng.below(pool.len())];
            let other = &pool[rng.below(pool.len())];
            let input = mutate(&mut rng, target.kind, base, other, target.max_len);
            let exec = check(target, &input, &opts.limits);
            record(&input, exec, &mut stats, &mut pool);
        }
    }
    stats.seconds = start.elapsed().as_secs_f64();
    stats.pool = pool.len();
    stats.shapes = shapes.len();
    stats
}
