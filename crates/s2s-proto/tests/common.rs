//! Shared fixtures for the s2s-proto integration tests: real keys, a valid actor and outer token.
#![allow(dead_code)]

use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::*;
use serde_json::{Map, Value};
use std::sync::OnceLock;
use time::OffsetDateTime;

pub const REALM: &str = "3f0c8f6e-1111-4222-8333-0123456789e9";
pub const OTHER_REALM: &str = "9a9a9a9a-2222-4333-8444-555555555555";
pub const HOST: &str = "mail.contoso.example";
pub const NOW: i64 = 1_800_000_000;

/// key 0: the STS; key 1: an attacker; key 2: an expired certificate.
pub fn key(n: usize) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    &KEYS.get_or_init(|| {
        let t = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        vec![
            SigningKey::generate_self_signed("sts", t(1_700_000_000), t(1_900_000_000)).unwrap(),
            SigningKey::generate_self_signed("attacker", t(1_700_000_000), t(1_900_000_000))
                .unwrap(),
            SigningKey::generate_self_signed("expired", t(1_700_000_000), t(1_750_000_000))
                .unwrap(),
        ]
    })[n]
}

pub fn acs_issuer() -> String {
    format!("{ACS_APP_ID}@{REALM}")
}

pub fn policy() -> Policy {
    Policy::new(
        ExpectedAudience::Service {
            app_id: EXCHANGE_APP_ID.into(),
            hosts: vec![HOST.into()],
            realm: REALM.into(),
        },
        Some(REALM.into()),
        vec![TrustedIssuer {
            issuer: acs_issuer(),
            keys: vec![
                key(0).certificate().verify_key(),
                key(2).certificate().verify_key(),
            ],
        }],
    )
}

pub fn actor_claims() -> Map<String, Value> {
    ActorTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
        iss: PrincipalName::app(ACS_APP_ID, REALM),
        nameid: PrincipalName::app(SKYPE_APP_ID, REALM),
        iat: NOW - 300,
        nbf: NOW - 300,
        exp: NOW + 3600,
        trusted_for_delegation: Some(true),
        identity_provider: Some(acs_issuer()),
        oid: Some("6b6f1c9e-0000-4000-8000-000000000004".into()),
        jti: None,
    }
    .claims()
}

pub fn outer_claims(actor: &str) -> Map<String, Value> {
    OuterTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
        iss: PrincipalName::app(SKYPE_APP_ID, REALM),
        nbf: NOW - 60,
        exp: NOW + 1800,
        user: UserClaims::cloud_user("alice@contoso.example", "1003200012345678"),
        actor_token: actor.into(),
    }
    .claims()
}

pub fn sign(claims: &Map<String, Value>) -> String {
    s2s_proto::jwt::sign_rs256(key(0), claims, true).unwrap()
}

pub fn header(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

pub fn std_header(k: &SigningKey) -> Map<String, Value> {
    header(&[
        ("typ", "JWT".into()),
        ("alg", "RS256".into()),
        ("x5t", k.certificate().x5t.clone().into()),
        ("kid", k.certificate().x5t.clone().into()),
    ])
}

pub fn b64j(v: &Map<String, Value>) -> String {
    s2s_proto::b64::url_encode(serde_json::to_vec(v).unwrap())
}
