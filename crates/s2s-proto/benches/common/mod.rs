//! The token pair both validation benches measure: an ACS-signed actor token for Skype, wrapped
//! in Skype's unsigned outer token for a user, and the policy Exchange validates it with.

use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::*;
use time::OffsetDateTime;

pub const REALM: &str = "3f0c8f6e-1111-4222-8333-0123456789e9";
pub const HOST: &str = "mail.contoso.example";
pub const NOW: i64 = 1_800_000_000;

pub struct Fixture {
    pub key: SigningKey,
    pub actor: String,
    pub outer: String,
    pub policy: Policy,
}

pub fn fixture() -> Fixture {
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
    Fixture {
        key,
        actor,
        outer,
        policy,
    }
}

/// The actor's signing input and decoded signature: the bytes the raw verify checks.
pub fn signed_bytes(f: &Fixture) -> (String, Vec<u8>) {
    let (input, sig) = f.actor.rsplit_once('.').unwrap();
    let sig = b64::url_decode(sig).unwrap();
    assert!(
        f.key
            .certificate()
            .verify_key()
            .verify_rs256(input.as_bytes(), &sig)
    );
    (input.to_owned(), sig)
}
