//! Uncached validation ÷ raw RSA-2048 verify, the two measured in alternating batches so that a
//! noisy neighbour slows both alike: each round times a batch of raw verifies of the actor's
//! bytes, then a batch of `validate_s2s` on the outer token; the ratio is per round.
//!
//! `cargo bench -p s2s-proto --bench validate_paired [-- ROUNDS BATCH]` prints the median round
//! ratio (throughput of validation ÷ throughput of raw verify) with its quartiles.
//!
//! For context each round also times a batch of `jsonwebtoken::decode` (the JOSE crate the STS
//! signs with) on the actor token alone, one layer, with its own RS256, `iss`, `aud` and `exp`
//! checks (not `nbf`: the fixture's clock is not the system clock that crate reads).

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
    let (aud, iss) = actor_aud_iss(&f.actor);
    let jwt_key = jsonwebtoken::DecodingKey::from_rsa_der(f.key.certificate().verify_key_der());
    let mut jwt_rules = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    jwt_rules.set_audience(&[aud]);
    jwt_rules.set_issuer(&[iss]);
    jwt_rules.validate_nbf = false;
    jsonwebtoken::decode::<serde_json::Value>(&f.actor, &jwt_key, &jwt_rules)
        .expect("jsonwebtoken accepts the actor token");
    let jwt = || {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(
                jsonwebtoken::decode::<serde_json::Value>(
                    black_box(&f.actor),
                    &jwt_key,
                    &jwt_rules,
                )
                .unwrap(),
            );
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
        jwt();
    }
    let mut ratios = Vec::with_capacity(rounds);
    let mut jwt_ratios = Vec::with_capacity(rounds);
    let (mut sum_verify, mut sum_validate, mut sum_jwt) = (0.0, 0.0, 0.0);
    for r in 0..rounds {
        // rotate which goes first, so none always follows another
        let (a, b, c) = match r % 3 {
            0 => {
                let a = verify();
                let b = validate();
                (a, b, jwt())
            }
            1 => {
                let b = validate();
                let c = jwt();
                (verify(), b, c)
            }
            _ => {
                let c = jwt();
                let a = verify();
                (a, validate(), c)
            }
        };
        sum_verify += a;
        sum_validate += b;
        sum_jwt += c;
        ratios.push(a / b);
        jwt_ratios.push(a / c);
    }
    let per = |s: f64| s / (rounds * batch) as f64 * 1e6;
    let (m, lo, hi) = median_quartiles(&mut ratios);
    println!(
        "validate_s2s ÷ raw verify (throughput), {rounds} rounds × {batch}: median {m:.3} (quartiles {lo:.3}–{hi:.3}); mean times: raw verify {:.2} µs, validate_s2s {:.2} µs",
        per(sum_verify),
        per(sum_validate)
    );
    let (m, lo, hi) = median_quartiles(&mut jwt_ratios);
    println!(
        "context: jsonwebtoken::decode of the actor alone ÷ raw verify: median {m:.3} (quartiles {lo:.3}–{hi:.3}); mean time {:.2} µs",
        per(sum_jwt)
    );
}

fn median_quartiles(ratios: &mut [f64]) -> (f64, f64, f64) {
    ratios.sort_by(f64::total_cmp);
    let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
    (q(0.5), q(0.25), q(0.75))
}

/// The actor token's `aud` and `iss`, read from its payload.
fn actor_aud_iss(actor: &str) -> (String, String) {
    let payload = actor.split('.').nth(1).expect("a compact JWT");
    let claims: serde_json::Value =
        serde_json::from_slice(&s2s_proto::b64::url_decode(payload).expect("base64url"))
            .expect("JSON claims");
    let get = |n: &str| claims[n].as_str().expect("a string claim").to_owned();
    (get("aud"), get("iss"))
}
