//! Table-driven negative tests: one row (at least) per J-row of spec/security.md §1a and per point
//! of §1b, each forged with real keys and asserting the precise refusal.

mod common;
use common::*;

use aws_lc_rs::hmac;
use s2s_proto::principal::{EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::{TokenError, b64, jwt, validate_s2s, validate_signed};
use serde_json::{Map, Value, json};

fn with(mut m: Map<String, Value>, k: &str, v: Value) -> Map<String, Value> {
    m.insert(k.into(), v);
    m
}
fn without(mut m: Map<String, Value>, k: &str) -> Map<String, Value> {
    m.remove(k);
    m
}
fn hs256(secret: &[u8], header: &Map<String, Value>, claims: &Map<String, Value>) -> String {
    let input = format!("{}.{}", b64j(header), b64j(claims));
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
    format!("{input}.{}", b64::url_encode(tag.as_ref()))
}
fn wrap(actor: &str) -> String {
    jwt::unsigned(&outer_claims(actor))
}

#[test]
fn the_valid_pair_passes() {
    let actor = sign(&actor_claims());
    let t = validate_s2s(&wrap(&actor), &policy(), NOW).unwrap();
    assert_eq!(t.app().to_string(), format!("{SKYPE_APP_ID}@{REALM}"));
    assert_eq!(
        t.user().unwrap().smtp.as_deref(),
        Some("alice@contoso.example")
    );
    // nbf/exp as numeric strings are accepted on the actor too
    let c = with(
        with(actor_claims(), "nbf", json!((NOW - 300).to_string())),
        "exp",
        json!((NOW + 3600).to_string()),
    );
    validate_s2s(&wrap(&sign(&c)), &policy(), NOW).unwrap();
    // app-only: the actor alone
    assert!(matches!(
        validate_s2s(&actor, &policy(), NOW).unwrap(),
        s2s_proto::S2sToken::AppOnly { .. }
    ));
}

/// Each row: (row id, the signed token to validate alone, predicate on the error).
type Check = fn(&TokenError) -> bool;

#[test]
fn j_rows_on_the_signed_path() {
    let k0 = key(0);
    let good = actor_claims();
    let h = std_header(k0);
    let pem = k0.certificate().to_pem();
    let der = k0.certificate().der().to_vec();
    let none = |alg: &str| jwt::unsigned_with_header(&with(h.clone(), "alg", json!(alg)), &good);
    let signed_h = |hdr: Map<String, Value>| jwt::sign_with_header(k0, &hdr, &good).unwrap();
    // the good claims signed with `member` (raw JSON text) written first
    let signed_with_first = |member: &str| {
        let rest = serde_json::to_string(&good).unwrap();
        let body = format!("{{{member},{}", rest.trim_start_matches('{'));
        let input = format!("{}.{}", b64j(&h), b64::url_encode(body));
        let sig = k0.sign_rs256(input.as_bytes()).unwrap();
        format!("{input}.{}", b64::url_encode(sig))
    };
    let valid = sign(&good);
    let (vi, vs) = valid.rsplit_once('.').unwrap();
    let mut flipped = b64::url_decode(vs).unwrap();
    flipped[10] ^= 1;
    let other_key = jwt::sign_with_header(key(1), &h, &good).unwrap(); // header names key 0
    let other_content = format!(
        "{}.{}",
        b64j(&h),
        b64j(&with(good.clone(), "nameid", json!("x@y")))
    );
    let rows: Vec<(&str, String, Check)> = vec![
        ("J1 none", none("none"), |e| {
            matches!(e, TokenError::UnsignedNotAllowed { .. })
        }),
        ("J1 None", none("None"), |e| {
            matches!(e, TokenError::UnsignedNotAllowed { .. })
        }),
        ("J1 NONE", none("NONE"), |e| {
            matches!(e, TokenError::UnsignedNotAllowed { .. })
        }),
        ("J1 nOnE", none("nOnE"), |e| {
            matches!(e, TokenError::UnsignedNotAllowed { .. })
        }),
        ("J2 null signature", format!("{vi}."), |e| {
            matches!(e, TokenError::MissingSignature { .. })
        }),
        (
            "J3 cut signature",
            valid[..valid.len() - 4].to_string(),
            |e| {
                matches!(
                    e,
                    TokenError::InvalidSignature { .. } | TokenError::MalformedSignature { .. }
                )
            },
        ),
        (
            "J3 flipped bit",
            format!("{vi}.{}", b64::url_encode(&flipped)),
            |e| matches!(e, TokenError::InvalidSignature { .. }),
        ),
        ("J3 other key", other_key, |e| {
            matches!(e, TokenError::InvalidSignature { .. })
        }),
        ("J3 other content", format!("{other_content}.{vs}"), |e| {
            matches!(e, TokenError::InvalidSignature { .. })
        }),
        ("J3 not base64", format!("{vi}.***"), |e| {
            matches!(e, TokenError::MalformedSignature { .. })
        }),
        (
            "J4 HS256 with PEM",
            hs256(
                pem.as_bytes(),
                &with(h.clone(), "alg", json!("HS256")),
                &good,
            ),
            |e| matches!(e, TokenError::AlgorithmNotAllowed { .. }),
        ),
        (
            "J4 HS256 with PEM no newline",
            hs256(
                pem.trim_end().as_bytes(),
                &with(h.clone(), "alg", json!("HS256")),
                &good,
            ),
            |e| matches!(e, TokenError::AlgorithmNotAllowed { .. }),
        ),
        (
            "J4 HS256 with DER",
            hs256(&der, &with(h.clone(), "alg", json!("HS256")), &good),
            |e| matches!(e, TokenError::AlgorithmNotAllowed { .. }),
        ),
        (
            "J4 HS512",
            hs256(&der, &with(h.clone(), "alg", json!("HS512")), &good),
            |e| matches!(e, TokenError::AlgorithmNotAllowed { .. }),
        ),
        (
            "J5 blank HS256",
            hs256(b"", &with(h.clone(), "alg", json!("HS256")), &good),
            |e| matches!(e, TokenError::AlgorithmNotAllowed { .. }),
        ),
        (
            "J5 secret HS256",
            hs256(b"secret", &with(h.clone(), "alg", json!("HS256")), &good),
            |e| matches!(e, TokenError::AlgorithmNotAllowed { .. }),
        ),
        (
            "J6 psychic ES256",
            format!(
                "{}.{}.MAYCAQACAQA",
                b64j(&with(h.clone(), "alg", json!("ES256"))),
                b64j(&good)
            ),
            |e| matches!(e, TokenError::AlgorithmNotAllowed { .. }),
        ),
        (
            "J6 PS256",
            signed_h(with(h.clone(), "alg", json!("PS256"))),
            |e| matches!(e, TokenError::AlgorithmNotAllowed { .. }),
        ),
        ("J1 alg missing", signed_h(without(h.clone(), "alg")), |e| {
            matches!(e, TokenError::AlgorithmMissing { .. })
        }),
        (
            "J7 jwk",
            signed_h(with(
                h.clone(),
                "jwk",
                json!({"kty":"RSA","n":"AQAB","e":"AQAB"}),
            )),
            |e| matches!(e, TokenError::ForbiddenHeader { name: "jwk", .. }),
        ),
        (
            "J7 jku",
            signed_h(with(
                h.clone(),
                "jku",
                json!("https://attacker.example/jwks"),
            )),
            |e| matches!(e, TokenError::ForbiddenHeader { name: "jku", .. }),
        ),
        (
            "J7 x5u",
            signed_h(with(
                h.clone(),
                "x5u",
                json!("https://attacker.example/c.pem"),
            )),
            |e| matches!(e, TokenError::ForbiddenHeader { name: "x5u", .. }),
        ),
        (
            "J7 x5c",
            signed_h(with(
                h.clone(),
                "x5c",
                json!([k0.certificate().to_base64()]),
            )),
            |e| matches!(e, TokenError::ForbiddenHeader { name: "x5c", .. }),
        ),
        (
            "J8 kid empty",
            signed_h(with(without(h.clone(), "x5t"), "kid", json!(""))),
            |e| matches!(e, TokenError::KeyNotFound { .. }),
        ),
        (
            "J8 kid traversal",
            signed_h(with(
                without(h.clone(), "x5t"),
                "kid",
                json!("../../dev/null"),
            )),
            |e| matches!(e, TokenError::KeyNotFound { .. }),
        ),
        (
            "J8 kid /dev/null",
            signed_h(with(without(h.clone(), "x5t"), "kid", json!("/dev/null"))),
            |e| matches!(e, TokenError::KeyNotFound { .. }),
        ),
        (
            "J8 kid shell",
            signed_h(with(without(h.clone(), "x5t"), "kid", json!("|sleep 10"))),
            |e| matches!(e, TokenError::KeyNotFound { .. }),
        ),
        (
            "J8 kid sql",
            signed_h(with(
                without(h.clone(), "x5t"),
                "kid",
                json!("x' UNION SELECT '1';--"),
            )),
            |e| matches!(e, TokenError::KeyNotFound { .. }),
        ),
        (
            "J8 kid number",
            signed_h(with(without(h.clone(), "x5t"), "kid", json!(7))),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "kid", .. }),
        ),
        (
            "J8 unknown x5t",
            signed_h(with(
                without(h.clone(), "kid"),
                "x5t",
                json!(key(1).certificate().x5t),
            )),
            |e| matches!(e, TokenError::KeyNotFound { .. }),
        ),
        (
            "J8 kid and x5t disagree",
            signed_h(with(h.clone(), "kid", json!(key(2).certificate().x5t))),
            |e| matches!(e, TokenError::KeyNotFound { .. }),
        ),
        (
            "J8 no key id with several keys",
            signed_h(without(without(h.clone(), "kid"), "x5t")),
            |e| matches!(e, TokenError::KeyIdMissing { .. }),
        ),
        (
            "J9 nameid tampered",
            format!(
                "{}.{}.{vs}",
                b64j(&h),
                b64j(&with(
                    good.clone(),
                    "nameid",
                    json!(format!("{EXCHANGE_APP_ID}@{REALM}"))
                ))
            ),
            |e| matches!(e, TokenError::InvalidSignature { .. }),
        ),
        (
            "J9 aud tampered",
            format!(
                "{}.{}.{vs}",
                b64j(&h),
                b64j(&with(good.clone(), "aud", json!("x")))
            ),
            |e| matches!(e, TokenError::InvalidSignature { .. }),
        ),
        (
            "J10 exp string word",
            sign(&with(good.clone(), "exp", json!("tomorrow"))),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "exp", .. }),
        ),
        (
            "J10 exp bool",
            sign(&with(good.clone(), "exp", json!(true))),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "exp", .. }),
        ),
        (
            "J10 exp null",
            sign(&with(good.clone(), "exp", Value::Null)),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "exp", .. }),
        ),
        (
            "J10 exp float",
            sign(&with(good.clone(), "exp", json!(1.8e9))),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "exp", .. }),
        ),
        (
            "J10 exp huge",
            sign(&with(good.clone(), "exp", json!(i64::MAX))),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "exp", .. }),
        ),
        (
            "J10 exp negative",
            sign(&with(good.clone(), "exp", json!(-5))),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "exp", .. }),
        ),
        (
            "J10 nbf negative string",
            sign(&with(good.clone(), "nbf", json!("-5"))),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "nbf", .. }),
        ),
        (
            "J10 aud array",
            sign(&with(
                good.clone(),
                "aud",
                json!([format!("{EXCHANGE_APP_ID}/{HOST}@{REALM}")]),
            )),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "aud", .. }),
        ),
        (
            "J10 aud array with empty",
            sign(&with(good.clone(), "aud", json!([""]))),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "aud", .. }),
        ),
        (
            "J10 duplicate claim",
            signed_with_first(r#""iss":"x""#),
            |e| {
                matches!(
                    e,
                    TokenError::Malformed(jwt::JwtFormatError::DuplicateKey { .. })
                )
            },
        ),
        // Regression: the raw member scan once accepted what the claim map refuses (an f64
        // overflow, a lone surrogate), so such a token validated with an empty claim map.
        (
            "J10 number beyond f64",
            signed_with_first(r#""x":1e400"#),
            |e| matches!(e, TokenError::Malformed(jwt::JwtFormatError::Json { .. })),
        ),
        (
            "J10 lone surrogate",
            signed_with_first(r#""x":"\ud800""#),
            |e| matches!(e, TokenError::Malformed(jwt::JwtFormatError::Json { .. })),
        ),
        (
            "J10 non-UTF-8",
            format!(
                "{}.{}.{vs}",
                b64j(&h),
                b64::url_encode([0x7b, 0xff, 0xfe, 0x7d])
            ),
            |e| matches!(e, TokenError::Malformed(_)),
        ),
        ("J11 no exp", sign(&without(good.clone(), "exp")), |e| {
            matches!(e, TokenError::NoExpiration { .. })
        }),
        ("J11 no nbf", sign(&without(good.clone(), "nbf")), |e| {
            matches!(e, TokenError::NoNotBefore { .. })
        }),
        (
            "J11 expired",
            sign(&with(
                with(good.clone(), "nbf", json!(NOW - 900)),
                "exp",
                json!(NOW - 301),
            )),
            |e| matches!(e, TokenError::Expired { .. }),
        ),
        (
            "J11 nbf in future",
            sign(&with(good.clone(), "nbf", json!(NOW + 301))),
            |e| matches!(e, TokenError::NotYetValid { .. }),
        ),
        (
            "J11 nbf after exp",
            sign(&with(
                with(good.clone(), "nbf", json!(NOW + 100)),
                "exp",
                json!(NOW + 50),
            )),
            |e| matches!(e, TokenError::NbfAfterExp { .. }),
        ),
        (
            "J12 wrong issuer",
            sign(&with(
                good.clone(),
                "iss",
                json!(format!("{SKYPE_APP_ID}@{REALM}")),
            )),
            |e| matches!(e, TokenError::IssuerNotTrusted { .. }),
        ),
        (
            "J12 null issuer",
            sign(&with(good.clone(), "iss", Value::Null)),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "iss", .. }),
        ),
        (
            "J12 empty issuer",
            sign(&with(good.clone(), "iss", json!(""))),
            |e| matches!(e, TokenError::IssuerMissing { .. }),
        ),
        (
            "J12 missing issuer",
            sign(&without(good.clone(), "iss")),
            |e| matches!(e, TokenError::IssuerMissing { .. }),
        ),
        (
            "J12 prefix issuer",
            sign(&with(good.clone(), "iss", json!(&acs_issuer()[..20]))),
            |e| matches!(e, TokenError::IssuerNotTrusted { .. }),
        ),
        (
            "J12 superstring issuer",
            sign(&with(
                good.clone(),
                "iss",
                json!(format!("_{}_", acs_issuer())),
            )),
            |e| matches!(e, TokenError::IssuerNotTrusted { .. }),
        ),
        (
            "J12 issuer case",
            sign(&with(
                good.clone(),
                "iss",
                json!(acs_issuer().to_uppercase()),
            )),
            |e| matches!(e, TokenError::IssuerNotTrusted { .. }),
        ),
        (
            "J13 wrong host",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/evil.example@{REALM}")),
            )),
            |e| matches!(e, TokenError::AudienceMismatch { .. }),
        ),
        (
            "J13 wrong realm",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/{HOST}@{OTHER_REALM}")),
            )),
            |e| matches!(e, TokenError::AudienceMismatch { .. }),
        ),
        (
            "J13 trailing slash",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/{HOST}/@{REALM}")),
            )),
            |e| matches!(e, TokenError::AudienceMismatch { .. }),
        ),
        (
            "J13 app id case",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("{}/{HOST}@{REALM}", EXCHANGE_APP_ID.to_uppercase())),
            )),
            |e| matches!(e, TokenError::AudienceMismatch { .. }),
        ),
        (
            "J13 realm case",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/{HOST}@{}", REALM.to_uppercase())),
            )),
            |e| matches!(e, TokenError::AudienceMismatch { .. }),
        ),
        (
            "J13 no host",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}@{REALM}")),
            )),
            |e| matches!(e, TokenError::AudienceMismatch { .. }),
        ),
        ("J13 missing", sign(&without(good.clone(), "aud")), |e| {
            matches!(e, TokenError::AudienceMissing { .. })
        }),
        (
            "J14 crit",
            signed_h(with(h.clone(), "crit", json!(["exp"]))),
            |e| matches!(e, TokenError::CriticalHeader { .. }),
        ),
        (
            "J15 typ",
            signed_h(with(h.clone(), "typ", json!("at+jwt"))),
            |e| matches!(e, TokenError::TypeNotAllowed { .. }),
        ),
        (
            "J15 other purpose (sts endpoint aud)",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("https://sts.example/{REALM}/tokens/OAuth/2")),
            )),
            |e| matches!(e, TokenError::AudienceMismatch { .. }),
        ),
        (
            "J16 oversize",
            sign(&with(good.clone(), "pad", json!("x".repeat(260_000)))),
            |e| matches!(e, TokenError::TooLarge { .. }),
        ),
        (
            "J16 10k claims",
            {
                let mut m = good.clone();
                for i in 0..10_000 {
                    m.insert(format!("c{i}"), json!(1));
                }
                sign(&m)
            },
            |e| {
                matches!(
                    e,
                    TokenError::Malformed(jwt::JwtFormatError::TooManyMembers { .. })
                )
            },
        ),
        (
            "J16 deep JSON",
            sign(&with(
                good.clone(),
                "deep",
                serde_json::from_str(&format!("{}1{}", "[".repeat(120), "]".repeat(120))).unwrap(),
            )),
            |e| matches!(e, TokenError::Malformed(_)),
        ),
        (
            "signing certificate expired",
            jwt::sign_with_header(key(2), &std_header(key(2)), &good).unwrap(),
            |e| matches!(e, TokenError::SigningKeyNotValid { .. }),
        ),
    ];
    let p = policy();
    for (row, token, check) in rows {
        // The deep-JSON row needs the real nesting past serde_json's limit: rebuild it by hand.
        let token = if row == "J16 deep JSON" {
            let body = format!("{{\"a\":{}1{}}}", "[".repeat(200), "]".repeat(200));
            let input = format!("{}.{}", b64j(&h), b64::url_encode(body));
            format!(
                "{input}.{}",
                b64::url_encode(k0.sign_rs256(input.as_bytes()).unwrap())
            )
        } else {
            token
        };
        let signed = validate_signed(&token, &p, NOW);
        match &signed {
            Err(e) => assert!(check(e), "{row}: signed path gave {e:?}"),
            Ok(_) => panic!("{row}: accepted on the signed path"),
        }
        // the same forged token as an actor inside an otherwise valid outer token
        if token.len() < 200_000 {
            match validate_s2s(&wrap(&token), &p, NOW) {
                Err(e) => assert!(check(&e), "{row}: as actor gave {e:?}"),
                Ok(_) => panic!("{row}: accepted as an actor"),
            }
        }
        // never echo the token
        let msg = signed.unwrap_err().to_string();
        assert!(
            !msg.contains(token.split('.').nth(1).unwrap_or("@@"))
                || token.split('.').nth(1).unwrap_or("").len() < 8,
            "{row}: message echoes the token"
        );
    }
}

#[test]
fn j11_skew_edges() {
    let p = policy();
    let at = |exp: i64, nbf: i64| {
        sign(&with(
            with(actor_claims(), "exp", json!(exp)),
            "nbf",
            json!(nbf),
        ))
    };
    assert!(
        validate_signed(&at(NOW - 300, NOW - 1000), &p, NOW).is_ok(),
        "expired exactly skew ago: still valid"
    );
    assert!(matches!(
        validate_signed(&at(NOW - 301, NOW - 1000), &p, NOW),
        Err(TokenError::Expired { .. })
    ));
    assert!(
        validate_signed(&at(NOW + 1000, NOW + 300), &p, NOW).is_ok(),
        "valid in exactly skew: accepted"
    );
    assert!(matches!(
        validate_signed(&at(NOW + 1000, NOW + 301), &p, NOW),
        Err(TokenError::NotYetValid { .. })
    ));
    let mut tight = policy();
    tight.skew_secs = 120;
    assert!(matches!(
        validate_signed(&at(NOW - 180, NOW - 1000), &tight, NOW),
        Err(TokenError::Expired { .. })
    ));
}

#[test]
fn s2s_outer_rules() {
    let actor = sign(&actor_claims());
    let oc = outer_claims(&actor);
    let p = policy();
    let outer = |c: Map<String, Value>| jwt::unsigned(&c);
    let foreign_actor = {
        // an actor minted for realm B (CVE-2025-55241) by a key this server trusts for realm B
        let mut c = actor_claims();
        for (k, v) in [
            (
                "iss",
                format!("00000001-0000-0000-c000-000000000000@{OTHER_REALM}"),
            ),
            ("aud", format!("{EXCHANGE_APP_ID}/{HOST}@{OTHER_REALM}")),
            ("nameid", format!("{SKYPE_APP_ID}@{OTHER_REALM}")),
        ] {
            c.insert(k.into(), v.into());
        }
        sign(&c)
    };
    let mut multi_realm = policy();
    multi_realm.issuers.push(s2s_proto::TrustedIssuer {
        issuer: format!("00000001-0000-0000-c000-000000000000@{OTHER_REALM}"),
        keys: vec![key(0).certificate().verify_key()],
    });
    let rows: Vec<(&str, String, Check)> = vec![
        (
            "1 signature segment on alg none",
            format!("{}x", outer(oc.clone())),
            |e| matches!(e, TokenError::OuterNotEmptySignature),
        ),
        (
            "1 bare alg none, no actortoken (CVE-2023-29357)",
            outer(without(oc.clone(), "actortoken")),
            |e| matches!(e, TokenError::ActorTokenMissing),
        ),
        (
            "1 magic claims",
            outer(with(
                with(without(oc.clone(), "actortoken"), "isloopback", json!(true)),
                "ver",
                json!("hashedprooftoken"),
            )),
            |e| matches!(e, TokenError::ForbiddenClaim(_)),
        ),
        (
            "1 magic claim with actor",
            outer(with(oc.clone(), "isloopback", json!(true))),
            |e| matches!(e, TokenError::ForbiddenClaim(_)),
        ),
        (
            "1 actortoken empty",
            outer(with(oc.clone(), "actortoken", json!(""))),
            |e| matches!(e, TokenError::ActorTokenInvalid("empty")),
        ),
        (
            "1 actortoken null",
            outer(with(oc.clone(), "actortoken", Value::Null)),
            |e| matches!(e, TokenError::ActorTokenInvalid(_)),
        ),
        (
            "1 actortoken number",
            outer(with(oc.clone(), "actortoken", json!(1))),
            |e| matches!(e, TokenError::ActorTokenInvalid(_)),
        ),
        (
            "1 actortoken array",
            outer(with(oc.clone(), "actortoken", json!([actor.clone()]))),
            |e| matches!(e, TokenError::ActorTokenInvalid(_)),
        ),
        (
            "1 actortoken unsigned",
            outer(with(
                oc.clone(),
                "actortoken",
                json!(jwt::unsigned(&actor_claims())),
            )),
            |e| matches!(e, TokenError::UnsignedNotAllowed { which: "actor", .. }),
        ),
        (
            "1 actortoken self-referencing",
            outer(with(oc.clone(), "actortoken", json!(outer(oc.clone())))),
            |e| matches!(e, TokenError::UnsignedNotAllowed { .. }),
        ),
        (
            "1 nested actor",
            outer(with(
                oc.clone(),
                "actortoken",
                json!(sign(&with(
                    actor_claims(),
                    "actortoken",
                    json!(actor.clone())
                ))),
            )),
            |e| matches!(e, TokenError::NestedActor),
        ),
        (
            "1 duplicate actortoken",
            {
                let body = format!(
                    "{{\"actortoken\":\"x\",{}}}",
                    serde_json::to_string(&oc).unwrap().trim_start_matches('{')
                );
                format!(
                    "{}.{}.",
                    b64j(&header(&[("typ", "JWT".into()), ("alg", "none".into())])),
                    b64::url_encode(body)
                )
            },
            |e| {
                matches!(
                    e,
                    TokenError::Malformed(jwt::JwtFormatError::DuplicateKey { .. })
                )
            },
        ),
        (
            "1 outer crit",
            jwt::unsigned_with_header(
                &header(&[("alg", "none".into()), ("crit", json!(["x"]))]),
                &oc,
            ),
            |e| matches!(e, TokenError::CriticalHeader { .. }),
        ),
        (
            "2 actor signed by attacker",
            outer(with(
                oc.clone(),
                "actortoken",
                json!(jwt::sign_with_header(key(1), &std_header(key(0)), &actor_claims()).unwrap()),
            )),
            |e| matches!(e, TokenError::InvalidSignature { .. }),
        ),
        (
            "2 actor expired",
            outer(with(
                oc.clone(),
                "actortoken",
                json!(sign(&with(
                    with(actor_claims(), "nbf", json!(NOW - 900)),
                    "exp",
                    json!(NOW - 400)
                ))),
            )),
            |e| matches!(e, TokenError::Expired { which: "actor", .. }),
        ),
        (
            "3 actor nameid has host",
            outer(with(
                oc.clone(),
                "actortoken",
                json!(sign(&with(
                    actor_claims(),
                    "nameid",
                    json!(format!("{SKYPE_APP_ID}/h@{REALM}"))
                ))),
            )),
            |e| matches!(e, TokenError::ActorNameIdInvalid(_)),
        ),
        (
            "3 actor not trusted for delegation",
            outer(with(
                oc.clone(),
                "actortoken",
                json!(sign(&with(
                    actor_claims(),
                    "trustedfordelegation",
                    json!("false")
                ))),
            )),
            |e| matches!(e, TokenError::NotTrustedForDelegation { .. }),
        ),
        (
            "3 trustedfordelegation missing",
            outer(with(
                oc.clone(),
                "actortoken",
                json!(sign(&without(actor_claims(), "trustedfordelegation"))),
            )),
            |e| matches!(e, TokenError::NotTrustedForDelegation { .. }),
        ),
        (
            "3 trustedfordelegation bool",
            outer(with(
                oc.clone(),
                "actortoken",
                json!(sign(&with(
                    actor_claims(),
                    "trustedfordelegation",
                    json!(true)
                ))),
            )),
            |e| matches!(e, TokenError::NotTrustedForDelegation { .. }),
        ),
        (
            "4 outer iss not actor",
            outer(with(
                oc.clone(),
                "iss",
                json!(format!("{EXCHANGE_APP_ID}@{REALM}")),
            )),
            |e| matches!(e, TokenError::OuterIssuerMismatch { .. }),
        ),
        (
            "4 outer iss case",
            outer(with(
                oc.clone(),
                "iss",
                json!(format!("{}@{REALM}", SKYPE_APP_ID.to_uppercase())),
            )),
            |e| matches!(e, TokenError::OuterIssuerMismatch { .. }),
        ),
        (
            "4 outer aud differs",
            outer(with(
                oc.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/other.contoso.example@{REALM}")),
            )),
            |e| matches!(e, TokenError::OuterAudienceMismatch { .. }),
        ),
        (
            "4 outer outlives actor",
            outer(with(oc.clone(), "exp", json!((NOW + 7200).to_string()))),
            |e| matches!(e, TokenError::OuterLifetimeOutsideActor { .. }),
        ),
        (
            "4 outer starts before actor",
            outer(with(oc.clone(), "nbf", json!((NOW - 400).to_string()))),
            |e| matches!(e, TokenError::OuterLifetimeOutsideActor { .. }),
        ),
        (
            "4 outer expired",
            outer(with(
                with(oc.clone(), "exp", json!((NOW - 301).to_string())),
                "nbf",
                json!((NOW - 302).to_string()),
            )),
            |e| matches!(e, TokenError::Expired { which: "outer", .. }),
        ),
        ("4 outer no exp", outer(without(oc.clone(), "exp")), |e| {
            matches!(e, TokenError::NoExpiration { which: "outer" })
        }),
        (
            "4 outer exp garbage",
            outer(with(oc.clone(), "exp", json!("soon"))),
            |e| {
                matches!(
                    e,
                    TokenError::InvalidClaimType {
                        which: "outer",
                        claim: "exp",
                        ..
                    }
                )
            },
        ),
        (
            "5 no user claims",
            outer(without(
                without(
                    without(without(without(oc.clone(), "smtp"), "upn"), "sip"),
                    "nameid",
                ),
                "nii",
            )),
            |e| matches!(e, TokenError::NoUserClaims),
        ),
        (
            "5 smtp not a string",
            outer(with(oc.clone(), "smtp", json!(["a@b"]))),
            |e| matches!(e, TokenError::InvalidClaimType { claim: "smtp", .. }),
        ),
    ];
    for (row, token, check) in rows {
        match validate_s2s(&token, &p, NOW) {
            Err(e) => assert!(check(&e), "§1b {row}: gave {e:?}"),
            Ok(_) => panic!("§1b {row}: accepted"),
        }
    }
    // 4: realm binding — an actor of realm B in an outer token naming a user, at a realm-A server
    // that trusts realm B's issuer (the CVE-2025-55241 shape).
    let mut c = outer_claims(&foreign_actor);
    c.insert("iss".into(), json!(format!("{SKYPE_APP_ID}@{OTHER_REALM}")));
    c.insert(
        "aud".into(),
        json!(format!("{EXCHANGE_APP_ID}/{HOST}@{OTHER_REALM}")),
    );
    let err = validate_s2s(&outer(c), &multi_realm, NOW).unwrap_err();
    assert!(
        matches!(
            err,
            TokenError::AudienceMismatch { .. } | TokenError::RealmMismatch { .. }
        ),
        "{err:?}"
    );
    // same with a policy whose audience accepts realm B but whose realm is A
    let mut loose = multi_realm.clone();
    loose.audience =
        s2s_proto::ExpectedAudience::Exact(vec![format!("{EXCHANGE_APP_ID}/{HOST}@{OTHER_REALM}")]);
    let mut c = outer_claims(&foreign_actor);
    c.insert("iss".into(), json!(format!("{SKYPE_APP_ID}@{OTHER_REALM}")));
    c.insert(
        "aud".into(),
        json!(format!("{EXCHANGE_APP_ID}/{HOST}@{OTHER_REALM}")),
    );
    let err = validate_s2s(&outer(c), &loose, NOW).unwrap_err();
    assert!(
        matches!(
            err,
            TokenError::RealmMismatch {
                claim: "the actor's iss",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn error_codes_are_stable() {
    let e = TokenError::Expired {
        which: "actor",
        exp: 1,
        now: 2,
        skew: 300,
    };
    assert_eq!(e.code(), "IDX10223");
    assert_eq!(TokenError::ActorTokenMissing.code(), "S2S-1");
    assert!(
        e.to_string()
            .starts_with("IDX10223: the actor token expired")
    );
}

/// J11 with a lifetime bound (the token endpoint's 600 s for client assertions, Exchange's 24 h):
/// the lifetime counts from nbf, else iat, but never from later than now + skew.
#[test]
fn j11_lifetime_bound_counts_from_no_later_than_now() {
    let mut p = policy();
    p.require_nbf = false;
    p.max_lifetime_secs = Some(600);
    let base = without(without(actor_claims(), "nbf"), "iat");
    let at = |nbf: Option<i64>, iat: Option<i64>, exp: i64| {
        let mut c = with(base.clone(), "exp", json!(exp));
        if let Some(n) = nbf {
            c = with(c, "nbf", json!(n));
        }
        if let Some(i) = iat {
            c = with(c, "iat", json!(i));
        }
        validate_signed(&sign(&c), &p, NOW)
    };
    let too_long = |r: Result<_, TokenError>| matches!(r, Err(TokenError::LifetimeTooLong { .. }));
    // within the bound, by nbf, by iat, by neither (counted from now)
    assert!(at(Some(NOW - 100), None, NOW + 500).is_ok());
    assert!(at(None, Some(NOW - 100), NOW + 500).is_ok());
    assert!(at(None, None, NOW + 600).is_ok());
    // an issuer clock ahead by less than the skew is fine
    assert!(at(None, Some(NOW + 200), NOW + 800).is_ok());
    // beyond it
    assert!(too_long(at(Some(NOW - 100), None, NOW + 501)));
    assert!(too_long(at(None, Some(NOW - 100), NOW + 501)));
    assert!(too_long(at(None, None, NOW + 601)));
    // Regression: a far-future iat with no nbf made exp - iat small, so an assertion usable for
    // days from now passed a 600 s bound.
    assert!(too_long(at(None, Some(NOW + 1_000_000), NOW + 1_000_600)));
    assert!(too_long(at(None, Some(NOW + 301), NOW + 901)));
}

/// §1b point 1: an outer token (it carries an actortoken) with any alg but exactly "none" is
/// refused as an outer token. Regression: it was judged as an app-only token, and the error
/// blamed "the app-only token's algorithm".
#[test]
fn an_outer_token_with_another_alg_is_named_as_outer() {
    let actor = sign(&actor_claims());
    let outer = outer_claims(&actor);
    for alg in ["HS256", "RS256", "None", "NONE"] {
        let mut h = Map::new();
        h.insert("alg".into(), json!(alg));
        h.insert("typ".into(), json!("JWT"));
        let t = format!("{}.{}.", b64j(&h), b64j(&outer));
        match validate_s2s(&t, &policy(), NOW) {
            Err(TokenError::OuterAlgorithm { alg: found }) => assert_eq!(found, alg),
            other => panic!("{alg}: {other:?}"),
        }
    }
    let e = validate_s2s(
        &format!("{}.{}.", b64j(&Map::new()), b64j(&outer)),
        &policy(),
        NOW,
    )
    .unwrap_err();
    assert!(e.to_string().contains("outer token"), "{e}");
    assert_eq!(e.code(), "S2S-1");
}
