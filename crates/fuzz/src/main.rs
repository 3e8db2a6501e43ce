//! `openhybrid-fuzz <target|all> --seconds N [--seed S] [--save-crashes DIR]
//!  [--deadline-ms MS] [--alloc-cap-mb MB]` — fuzzes for a fixed time per target and exits 1 on
//! any crash, hang or allocation beyond the cap.
//!
//! `openhybrid-fuzz gen-seeds` regenerates the signed seeds and `keys/sts.cer`.
#![deny(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use fuzz::alloc::{self, CountingAlloc};
use fuzz::runner::{self, Limits, Options};
use fuzz::{TARGETS, Target, targets};

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

const USAGE: &str = "usage: openhybrid-fuzz <target|all> --seconds N [--seed S] [--save-crashes DIR] [--deadline-ms MS] [--alloc-cap-mb MB]
       openhybrid-fuzz gen-seeds
       openhybrid-fuzz list";

struct Args {
    which: String,
    seconds: u64,
    seed: u64,
    save: PathBuf,
    deadline_ms: u64,
    alloc_cap_mb: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let which = it.next().ok_or("missing target")?;
    let mut a = Args {
        which,
        seconds: 10,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1),
        save: targets::crate_dir().join("crashes"),
        deadline_ms: 1000,
        alloc_cap_mb: 64,
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--seconds" => a.seconds = num(value()?)?,
            "--seed" => a.seed = num(value()?)?,
            "--save-crashes" => a.save = PathBuf::from(value()?),
            "--deadline-ms" => a.deadline_ms = num(value()?)?,
            "--alloc-cap-mb" => a.alloc_cap_mb = num(value()?)? as usize,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(a)
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match args.which.as_str() {
        "gen-seeds" => {
            return match fuzz::seeds::generate() {
                Ok(n) => {
                    println!(
                        "wrote {n} seed files and {}",
                        targets::sts_cert_path().display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("gen-seeds: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        "list" => {
            for t in TARGETS {
                println!("{}", t.name);
            }
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let chosen: Vec<&Target> = if args.which == "all" {
        TARGETS.iter().collect()
    } else {
        match fuzz::target(&args.which) {
            Some(t) => vec![t],
            None => {
                eprintln!("unknown target {:?}\n{USAGE}", args.which);
                return ExitCode::from(2);
            }
        }
    };
    targets::prepare();
    runner::install_quiet_panic_hook();
    runner::set_crashes_dir(args.save.clone());
    let limits = Limits {
        deadline: Duration::from_millis(args.deadline_ms),
        alloc_cap: args.alloc_cap_mb << 20,
    };
    // An input that never returns cannot be unwound: after 20 deadlines (at least 10 s) the
    // watchdog saves it and exits. Live bytes beyond 16× the cap (at least 1 GiB) likewise.
    runner::install_guards(
        (limits.deadline * 20).max(Duration::from_secs(10)),
        (limits.alloc_cap * 16).max(1 << 30) + alloc::current(),
    );
    let opts = Options {
        duration: Duration::from_secs(args.seconds),
        seed: args.seed,
        limits,
        save_dir: Some(args.save.clone()),
        minimize_budget: Duration::from_secs(10),
    };
    println!(
        "openhybrid-fuzz: {} target(s) × {} s, seed {}, deadline {} ms, alloc cap {}, counting allocator {}",
        chosen.len(),
        args.seconds,
        args.seed,
        args.deadline_ms,
        mib(limits.alloc_cap),
        if alloc::installed() { "on" } else { "off" }
    );
    println!(
        "{:<18} {:>9} {:>9} {:>6} {:>6} {:>7} {:>6} {:>10} {:>11}",
        "target", "execs", "exec/s", "pool", "shapes", "crashes", "hangs", "slowest", "peak alloc"
    );
    let mut total_findings = 0;
    let mut report = Vec::new();
    for t in chosen {
        let s = runner::fuzz(t, &opts);
        let count = |k: &str| s.findings.iter().filter(|f| f.0.kind() == k).count();
        println!(
            "{:<18} {:>9} {:>9.0} {:>6} {:>6} {:>7} {:>6} {:>8.1}ms {:>11}",
            t.name,
            s.execs,
            s.execs_per_sec(),
            s.pool,
            s.shapes,
            count("crash"),
            count("hang"),
            s.slowest.as_secs_f64() * 1000.0,
            mib(s.peak_bytes),
        );
        for (f, path, n) in &s.findings {
            total_findings += 1;
            report.push(format!(
                "{} {} ×{n}: {f}{}",
                t.name,
                f.kind(),
                path.as_ref()
                    .map(|p| format!("\n    input: {}", p.display()))
                    .unwrap_or_default()
            ));
        }
    }
    println!(
        "largest single allocation request: {}",
        mib(alloc::largest_request())
    );
    if total_findings == 0 {
        println!("no findings");
        ExitCode::SUCCESS
    } else {
        println!("{total_findings} finding(s):");
        for r in report {
            println!("  {r}");
        }
        ExitCode::FAILURE
    }
}
