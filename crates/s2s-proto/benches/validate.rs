//! Token validation cost against its floor, in one run: a raw aws-lc-rs RSA-2048 verify of the
//! same signed bytes (the actor token's signing input and signature).
//!
//! `cargo bench -p s2s-proto --bench validate` — report validate_s2s / raw_verify as a ratio.

use criterion::{Criterion, criterion_group, criterion_main};
use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::*;
use std::hint::black_box;
use time::OffsetDateTime;

const REALM: &str = "3f0c8f6e-1111-4222-8333-0123456789e9";
const HOST: &str = "mail.contoso.example";
const NOW: i64 = 1_800_000_000;

fn bench(c: &mut Criterion) {
    let t = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
    let key = SigningKey::generate_self_signed("sts", t(1_700_000_000), t(1_900_000_000)).unwrap();
    let actor = ActorTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
        iss: PrincipalName::app(ACS_APP_ID, REALM),
        nameid: PrincipalName::app(SKYPE_APP_ID, REALM),
        iat: NOW - 300,
        nbf: NOW - 300,
        exp: NOW + 3600,
        trusted_for_delegation: Some(true),
        identity_provider: Some(format!("{ACS_APP_ID}@{REALM}")),
        oid: Some("6b6f1c9e-0000-4000-8000-000000000004".into()),
        jti: None,
    }
    .sign(&key)
    .unwrap();
    let outer = OuterTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
        iss: PrincipalName::app(SKYPE_APP_ID, REALM),
        nbf: NOW - 60,
        exp: NOW + 1800,
        user: UserClaims::cloud_user("alice@contoso.example", "1003200012345678"),
        actor_token: actor.clone(),
    }
    .encode();
    let policy = Policy::new(
        ExpectedAudience::Service {
            app_id: EXCHANGE_APP_ID.into(),
            hosts: vec![HOST.into()],
            realm: REALM.into(),
        },
        Some(REALM.into()),
        vec![TrustedIssuer {
            issuer: format!("{ACS_APP_ID}@{REALM}"),
            keys: vec![key.certificate().verify_key()],
        }],
    );
    validate_s2s(&outer, &policy, NOW).unwrap();

    let (input, sig) = actor.rsplit_once('.').unwrap();
    let sig = b64::url_decode(sig).unwrap();
    let vk = key.certificate().verify_key();
    assert!(vk.verify_rs256(input.as_bytes(), &sig));

    let mut g = c.benchmark_group("rs256");
    g.bench_function("raw_verify", |b| {
        b.iter(|| assert!(vk.verify_rs256(black_box(input.as_bytes()), black_box(&sig))))
    });
    g.bench_function("validate_s2s_uncached", |b| {
        b.iter(|| validate_s2s(black_box(&outer), &policy, NOW).unwrap())
    });
    g.bench_function("parse_only", |b| {
        b.iter(|| {
            let o = jwt::Compact::parse(black_box(&outer)).unwrap();
            let a = o.claims["actortoken"].as_str().unwrap().to_owned();
            jwt::Compact::parse(&a).unwrap().claims.len()
        })
    });
    g.bench_function("decode_layers", |b| {
        b.iter(|| s2s_proto::validate::decode_layers_for_bench(black_box(&outer)).unwrap())
    });
    g.bench_function("decode_layers_then_raw_verify", |b| {
        b.iter(|| {
            s2s_proto::validate::decode_layers_for_bench(black_box(&outer)).unwrap();
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
