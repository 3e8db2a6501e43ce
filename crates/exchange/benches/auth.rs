//! Inbound authentication cost against its floor, in one run: `Exchange::authenticate` for an
//! S2S user token with the validated-token cache on (the hot path: every call after the first)
//! and off (full validation: two JWT layers, one RSA-2048 verify, partner/RBAC/user lookups),
//! against a raw aws-lc-rs RSA-2048 verify of the same actor bytes.
//!
//! `cargo bench -p openhybrid-exchange --bench auth`

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use exchange::{Config, Exchange};
use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::wire::{AcsMetadata, KeyInfo, KeyValue, MetadataEndpoint, MetadataKey};
use s2s_proto::{
    ActorTokenSpec, OuterTokenSpec, PrincipalName, SigningKey, SystemClock, UserClaims, b64,
};
use serde_json::json;

const REALM: &str = "5b2c7e0a-1111-4222-8333-0123456789ab";
const HOST: &str = "mail.contoso.example";

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let key = SigningKey::generate_self_signed(
        "sts",
        now - time::Duration::days(1),
        now + time::Duration::days(30),
    )
    .unwrap();
    let cert = key.certificate().clone();
    let ex = rt.block_on(async {
        let md = AcsMetadata {
            version: "1.0".into(),
            realm: REALM.into(),
            name: None,
            issuer: format!("{ACS_APP_ID}@{REALM}"),
            allowed_audiences: vec![],
            keys: vec![MetadataKey { usage: "signing".into(), key_value: KeyValue { kind: "x509Certificate".into(), value: cert.to_base64(), key_info: Some(KeyInfo { x5t: cert.x5t.clone() }) }, key_info: None }],
            endpoints: vec![MetadataEndpoint { location: "https://sts.example/t".into(), protocol: "OAuth2".into(), usage: "issuance".into() }],
        };
        let app = axum::Router::new().route("/md", axum::routing::get(move || { let md = md.clone(); async move { axum::Json(md) } }));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/md", l.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(l, app).await });
        let ex = Exchange::open(Config {
            data_dir: None,
            hosts: vec![HOST.into()],
            org_domain: "contoso.example".into(),
            public_url: "http://127.0.0.1".into(),
            clock: Arc::new(SystemClock),
            metadata_refresh_secs: 3600,
            bench_noauth_user: None,
            auth_failures_per_minute: 50,
            tls_roots: vec![],
            event_retention_secs: exchange::DEFAULT_EVENT_RETENTION_SECS,
            streaming: exchange::StreamingConfig::default(),
        })
        .unwrap();
        for (c, p) in [
            ("New-Mailbox", json!({"Name": "Alice", "PrimarySmtpAddress": "alice@contoso.example"})),
            ("New-AuthServer", json!({"Name": "ACS", "AuthMetadataUrl": url})),
            ("New-MailUser", json!({"Name": "App", "ExternalEmailAddress": "app@contoso.example"})),
            ("New-ManagementRoleAssignment", json!({"Role": "UserApplication", "User": "App"})),
            ("New-PartnerApplication", json!({"Name": "SfBOnline", "ApplicationIdentifier": SKYPE_APP_ID, "Enabled": true, "LinkedAccount": "App"})),
        ] {
            ex.run_cmdlet(c, p.as_object().unwrap().clone()).await.unwrap();
        }
        ex
    });
    let t = now.unix_timestamp();
    let actor = ActorTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
        iss: PrincipalName::app(ACS_APP_ID, REALM),
        nameid: PrincipalName::app(SKYPE_APP_ID, REALM),
        iat: t,
        nbf: t - 300,
        exp: t + 3600,
        trusted_for_delegation: Some(true),
        identity_provider: None,
        oid: None,
        jti: None,
    }
    .sign(&key)
    .unwrap();
    let outer = OuterTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
        iss: PrincipalName::app(SKYPE_APP_ID, REALM),
        nbf: t - 60,
        exp: t + 1800,
        user: UserClaims::cloud_user("alice@contoso.example", "1"),
        actor_token: actor.clone(),
    }
    .encode();
    let header = format!("Bearer {outer}");
    rt.block_on(ex.authenticate(Some(&header))).unwrap();
    let (input, sig) = actor.rsplit_once('.').unwrap();
    let sig = b64::url_decode(sig).unwrap();
    let vk = cert.verify_key();

    let mut g = c.benchmark_group("authenticate");
    g.bench_function("raw_verify", |b| {
        b.iter(|| assert!(vk.verify_rs256(black_box(input.as_bytes()), black_box(&sig))))
    });
    ex.set_token_cache(true);
    rt.block_on(ex.authenticate(Some(&header))).unwrap();
    g.bench_function("cache_on", |b| {
        b.iter(|| {
            rt.block_on(ex.authenticate(black_box(Some(&header))))
                .unwrap()
        })
    });
    ex.set_token_cache(false);
    g.bench_function("cache_off", |b| {
        b.iter(|| {
            rt.block_on(ex.authenticate(black_box(Some(&header))))
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
