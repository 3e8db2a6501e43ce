//! Uncached validation ÷ raw RSA-2048 verify, the two measured in alternating batches so that a
//! noisy neighbour slows both alike: each round times a batch of raw verifies of the actor's
//! bytes, then a batch of `validate_s2s` on the outer token; the ratio is per round.
//!
//! `cargo bench -p s2s-proto --bench validate_paired [-- ROUNDS BATCH]` prints the median round
//! ratio (throughput of validation ÷ throughput of raw verify) with its quartiles.

mod common;

use common::{NOW, fixture, signed_bytes};
use s2s_proto::validate_s2s;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    // `cargo bench` passes `--bench`; numbers after it are ours
    let nums: Vec<usize> = std::env::args().filter_map(|a| a.parse().ok()).collect();
    let rounds = nums.first().copied().unwrap_or(200);
    let batch = nums.get(1).copied().unwrap_or(200);
    if rounds == 0 || batch == 0 {
        eprintln!(
            "validate_paired: ROUNDS and BATCH must be at least 1 (got {rounds} and {batch})"
        );
        std::process::exit(2);
    }
    let f = fixture();
    let (input, sig) = signed_bytes(&f);
    let vk = f.key.certificate().verify_key();
    let verify = || {
        let t = Instant::now();
        for _ in 0..batch {
            assert!(vk.verify_rs256(black_box(input.as_bytes()), black_box(&sig)));
        }
        t.elapsed().as_secs_f64()
    };
    let validate = || {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(validate_s2s(black_box(&f.outer), &f.policy, NOW).unwrap());
        }
        t.elapsed().as_secs_f64()
    };
    // warm up both paths
    for _ in 0..5 {
        verify();
        validate();
    }
    let mut ratios = Vec::with_capacity(rounds);
    let (mut sum_verify, mut sum_validate) = (0.0, 0.0);
    for r in 0..rounds {
        // alternate which goes first, so neither always follows the other
        let (a, b) = if r % 2 == 0 {
            let a = verify();
            (a, validate())
        } else {
            let b = validate();
            (verify(), b)
        };
        sum_verify += a;
        sum_validate += b;
        ratios.push(a / b);
    }
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
    let per = |s: f64| s / (rounds * batch) as f64 * 1e6;
    println!(
        "validate_s2s ÷ raw verify (throughput), {rounds} rounds × {batch}: median {:.3} (quartiles {:.3}–{:.3}); mean times: raw verify {:.2} µs, validate_s2s {:.2} µs",
        q(0.5),
        q(0.25),
        q(0.75),
        per(sum_verify),
        per(sum_validate)
    );
}
