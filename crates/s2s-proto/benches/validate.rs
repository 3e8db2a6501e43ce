//! Token validation cost against its floor, in one run: a raw aws-lc-rs RSA-2048 verify of the
//! same signed bytes (the actor token's signing input and signature).
//!
//! `cargo bench -p s2s-proto --bench validate` — report validate_s2s / raw_verify as a ratio.
//! `--bench validate_paired` measures the same ratio with the two interleaved (robust to a
//! noisy machine).

mod common;

use common::{NOW, fixture, signed_bytes};
use criterion::{Criterion, criterion_group, criterion_main};
use s2s_proto::*;
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let f = fixture();
    let (key, outer, policy) = (&f.key, &f.outer, &f.policy);
    let (input, sig) = signed_bytes(&f);
    let input = input.as_str();
    let vk = key.certificate().verify_key();
    let mut g = c.benchmark_group("rs256");
    g.bench_function("raw_verify", |b| {
        b.iter(|| assert!(vk.verify_rs256(black_box(input.as_bytes()), black_box(&sig))))
    });
    g.bench_function("validate_s2s_uncached", |b| {
        b.iter(|| validate_s2s(black_box(outer), policy, NOW).unwrap())
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            let o = jwt::Compact::parse(black_box(outer)).unwrap();
            let a = o.claims["actortoken"].as_str().unwrap().to_owned();
            jwt::Compact::parse(&a).unwrap().claims.len()
        })
    });
    g.bench_function("decode_layers", |b| {
        b.iter(|| s2s_proto::validate::decode_layers_for_bench(black_box(outer)).unwrap())
    });
    g.bench_function("decode_layers_then_raw_verify", |b| {
        b.iter(|| {
            s2s_proto::validate::decode_layers_for_bench(black_box(outer)).unwrap();
            assert!(vk.verify_rs256(black_box(input.as_bytes()), black_box(&sig)))
        })
    });
    g.bench_function("raw_sign", |b| {
        b.iter(|| key.sign_rs256(black_box(input.as_bytes())).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
