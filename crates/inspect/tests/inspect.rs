//! `inspect_token` and `har_report` on fixtures built with s2s-proto.

use std::sync::OnceLock;

use inspect::{
    CheckResult, HarFindingKind, HarOptions, InspectOptions, Report, TokenKind, TrustMaterial,
    Verdict, elide, har_report, har_report_with, inspect_token,
};
use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::{
    ActorTokenSpec, ClientAssertionSpec, OuterTokenSpec, PrincipalName, SigningKey, UserClaims,
    b64, jwt,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

const REALM: &str = "3f0c8f6e-1111-4222-8333-0123456789e9";
const OTHER_REALM: &str = "99999999-2222-4333-8444-0123456789ab";
const HOST: &str = "mail.contoso.example";
const T0: i64 = 1_700_000_000;
/// An hour after the outer token's start.
const NOW: i64 = T0 + 300 + 3600;

/// [0] the STS key, [1] an unrelated key.
fn key(n: usize) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
    &KEYS.get_or_init(|| {
        (0..2)
            .map(|i| {
                SigningKey::generate_self_signed(
                    &format!("inspect test key {i}"),
                    OffsetDateTime::from_unix_timestamp(1_600_000_000).unwrap(),
                    OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap(),
                )
                .unwrap()
            })
            .collect()
    })[n]
}

fn actor_spec(realm: &str) -> ActorTokenSpec {
    ActorTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
        iss: PrincipalName::app(ACS_APP_ID, REALM),
        nameid: PrincipalName::app(SKYPE_APP_ID, realm),
        iat: T0,
        nbf: T0,
        exp: T0 + 86_700,
        trusted_for_delegation: Some(true),
        identity_provider: Some(format!("{ACS_APP_ID}@{REALM}")),
        oid: Some("5d6a1e0c-7777-4888-9999-00000000aaaa".into()),
        jti: None,
    }
}

fn outer(actor_token: String, iss_realm: &str) -> String {
    OuterTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, REALM),
        iss: PrincipalName::app(SKYPE_APP_ID, iss_realm),
        nbf: T0 + 300,
        exp: T0 + 300 + 28_800,
        user: UserClaims::cloud_user("alice@contoso.example", "10037ffe8a3c4b21"),
        actor_token,
    }
    .encode()
}

fn valid_pair() -> (String, String) {
    let actor = actor_spec(REALM).sign(key(0)).unwrap();
    (outer(actor.clone(), REALM), actor)
}

fn metadata_json(k: &SigningKey) -> Vec<u8> {
    let c = k.certificate();
    json!({
        "version": "1.0",
        "realm": REALM,
        "issuer": format!("{ACS_APP_ID}@{REALM}"),
        "keys": [{"usage": "signing",
                  "keyValue": {"type": "x509Certificate", "value": c.to_base64()},
                  "keyInfo": {"x5t": c.x5t}}],
        "endpoints": [{"location": format!("https://sts.example/{REALM}/tokens/OAuth/2"),
                       "protocol": "OAuth2", "usage": "issuance"}]
    })
    .to_string()
    .into_bytes()
}

fn with_metadata(now: i64) -> InspectOptions {
    InspectOptions::new(now)
        .with_trust(TrustMaterial::from_metadata(&metadata_json(key(0))).unwrap())
}

fn rule<'a>(r: &'a Report, name: &str) -> &'a inspect::Check {
    r.rules
        .iter()
        .find(|c| c.rule == name)
        .unwrap_or_else(|| panic!("no rule {name:?} in {:#?}", r.rules))
}

fn signature_of(token: &str) -> &str {
    token.rsplit('.').next().unwrap()
}

/// Neither the signature nor the whole token appears in the text or the JSON.
fn assert_no_secrets(r: &Report, token: &str, actor: &str) {
    let text = r.to_text();
    let json = serde_json::to_string(r).unwrap();
    for out in [&text, &json] {
        assert!(
            !out.contains(signature_of(actor)),
            "actor signature printed:\n{out}"
        );
        assert!(!out.contains(token), "whole token printed");
        assert!(!out.contains(actor), "whole actor token printed");
        assert!(
            !out.contains(&signature_of(actor)[..20]),
            "signature prefix printed"
        );
    }
}

/// Replaces the per-run key and signature fragments with placeholders.
fn normalise(text: &str, actor: &str) -> String {
    let x5t = &key(0).certificate().x5t;
    text.replace(&elide(x5t), "<x5t>…")
        .replace(&elide(signature_of(actor)), "<sig>…")
}

#[test]
fn valid_pair_with_metadata_is_valid() {
    let (token, actor) = valid_pair();
    let r = inspect_token(&token, &with_metadata(NOW));
    assert_eq!(r.kind, TokenKind::S2sUser);
    assert_eq!(r.signature.verdict, Verdict::Valid, "{}", r.to_text());
    assert_eq!(
        r.signature.key_x5t.as_deref(),
        Some(key(0).certificate().x5t.as_str())
    );
    assert!(
        r.rules.iter().all(|c| c.result == CheckResult::Pass),
        "{:#?}",
        r.rules
    );
    assert!(
        r.signature
            .rules
            .iter()
            .all(|c| c.result == CheckResult::Pass)
    );
    assert!(r.all_rules_hold());
    let text = r.to_text();
    assert!(
        text.contains("signature VALID against the metadata key"),
        "{text}"
    );
    assert!(
        text.contains(
            "outer  alg none · iss 00000004-…@3f0c…e9 · aud 00000002-…/mail.contoso.example@3f0c…e9"
        ),
        "{text}"
    );
    assert!(
        text.contains("nameid 00000004-…@3f0c…e9 (Skype for Business)"),
        "{text}"
    );
    assert_no_secrets(&r, &token, &actor);
    insta::assert_snapshot!("valid_pair_with_metadata", normalise(&text, &actor));
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["signature"]["verdict"], "VALID");
    assert_eq!(json["kind"], "s2s-user");
}

#[test]
fn without_trust_material_is_not_checked() {
    let (token, actor) = valid_pair();
    let r = inspect_token(&token, &InspectOptions::new(NOW));
    assert_eq!(r.signature.verdict, Verdict::NotChecked);
    assert!(r.signature.rules.is_empty());
    let text = r.to_text();
    assert!(
        text.contains("signature NOT CHECKED (no metadata or certificate given)"),
        "{text}"
    );
    assert!(!text.contains("VALID against"), "{text}");
    assert_eq!(
        serde_json::to_value(&r).unwrap()["signature"]["verdict"],
        "NOT CHECKED"
    );
    assert_no_secrets(&r, &token, &actor);
}

#[test]
fn accepts_bearer_and_header_forms() {
    let (token, _) = valid_pair();
    for (input, form) in [
        (format!("  {token}\n"), "token"),
        (format!("Bearer {token}"), "bearer"),
        (format!("Authorization: Bearer {token}\r\n"), "header"),
    ] {
        let r = inspect_token(&input, &with_metadata(NOW));
        assert_eq!(r.input, form);
        assert_eq!(r.signature.verdict, Verdict::Valid, "{form}");
    }
}

#[test]
fn wrong_key_is_invalid_with_the_reason() {
    // signed by another key: its x5t is not in the metadata
    let actor = actor_spec(REALM).sign(key(1)).unwrap();
    let token = outer(actor.clone(), REALM);
    let r = inspect_token(&token, &with_metadata(NOW));
    assert_eq!(r.signature.verdict, Verdict::Invalid);
    assert_eq!(r.signature.code.as_deref(), Some("IDX10503"));
    assert!(
        r.signature
            .error
            .as_deref()
            .unwrap()
            .contains("no key of issuer"),
        "{:?}",
        r.signature.error
    );
    let text = r.to_text();
    assert!(
        text.contains("signature INVALID against the metadata"),
        "{text}"
    );
    assert!(text.contains("signing key found ✘"), "{text}");
    assert!(text.contains("issuer trusted ✔"), "{text}");

    // signed by another key but naming the trusted key's x5t
    let mut header = Map::new();
    header.insert("typ".into(), "JWT".into());
    header.insert("alg".into(), "RS256".into());
    header.insert("x5t".into(), key(0).certificate().x5t.clone().into());
    let forged = jwt::sign_with_header(key(1), &header, &actor_spec(REALM).claims()).unwrap();
    let r = inspect_token(&outer(forged.clone(), REALM), &with_metadata(NOW));
    assert_eq!(r.signature.verdict, Verdict::Invalid);
    assert_eq!(r.signature.code.as_deref(), Some("IDX10511"));
    let sig = r
        .signature
        .rules
        .iter()
        .find(|c| c.rule == "signature")
        .unwrap();
    assert_eq!(sig.result, CheckResult::Fail);
    assert!(
        r.signature
            .rules
            .iter()
            .any(|c| c.result == CheckResult::Skipped)
    );
    assert_no_secrets(&r, &outer(forged.clone(), REALM), &forged);

    // a certificate given directly, not the one that signed
    let opts = InspectOptions::new(NOW).with_trust(
        TrustMaterial::from_certificates(key(1).certificate().to_pem().as_bytes()).unwrap(),
    );
    let (token, _) = valid_pair();
    let r = inspect_token(&token, &opts);
    assert_eq!(r.signature.verdict, Verdict::Invalid);
    assert!(r.to_text().contains("against the certificate"));
}

#[test]
fn certificates_as_der_pem_or_several() {
    let (token, _) = valid_pair();
    let der = TrustMaterial::from_certificates(key(0).certificate().der()).unwrap();
    assert_eq!(
        inspect_token(&token, &InspectOptions::new(NOW).with_trust(der))
            .signature
            .verdict,
        Verdict::Valid
    );
    let two = format!(
        "{}{}",
        key(1).certificate().to_pem(),
        key(0).certificate().to_pem()
    );
    let pem = TrustMaterial::from_certificates(two.as_bytes()).unwrap();
    assert_eq!(pem.certificates().len(), 2);
    assert_eq!(
        inspect_token(&token, &InspectOptions::new(NOW).with_trust(pem))
            .signature
            .verdict,
        Verdict::Valid
    );
    let b64only =
        TrustMaterial::from_certificates(key(0).certificate().to_base64().as_bytes()).unwrap();
    assert_eq!(
        inspect_token(&token, &InspectOptions::new(NOW).with_trust(b64only))
            .signature
            .verdict,
        Verdict::Valid
    );
    assert!(TrustMaterial::from_certificates(b"   ").is_err());
    assert!(TrustMaterial::from_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA").is_err());
    assert!(TrustMaterial::from_metadata(b"{}").is_err());
}

#[test]
fn tampered_claim_is_invalid() {
    let actor = actor_spec(REALM).sign(key(0)).unwrap();
    let parts: Vec<&str> = actor.split('.').collect();
    let mut claims = actor_spec(REALM).claims();
    claims.insert("exp".into(), (T0 + 999_999).into());
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        b64::url_encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    let token = outer(tampered.clone(), REALM);
    let r = inspect_token(&token, &with_metadata(NOW));
    assert_eq!(r.signature.verdict, Verdict::Invalid);
    assert_eq!(
        r.signature.code.as_deref(),
        Some("IDX10511"),
        "{:?}",
        r.signature.error
    );
    assert!(r.to_text().contains("INVALID: IDX10511"), "{}", r.to_text());
    // the structure alone still holds: only the keys catch this
    assert!(r.rules.iter().all(|c| c.result == CheckResult::Pass));
}

#[test]
fn realm_mismatch_is_flagged() {
    let actor = actor_spec(OTHER_REALM).sign(key(0)).unwrap();
    let token = outer(actor, OTHER_REALM);
    let r = inspect_token(&token, &InspectOptions::new(NOW));
    let realms = rule(&r, "realms agree");
    assert_eq!(realms.result, CheckResult::Fail);
    assert!(realms.detail.as_deref().unwrap().contains(OTHER_REALM));
    assert_eq!(
        rule(&r, "outer iss = actor nameid").result,
        CheckResult::Pass
    );
    assert!(r.to_text().contains("✘ realms agree:"), "{}", r.to_text());
    let r = inspect_token(&token, &with_metadata(NOW));
    assert_eq!(r.signature.verdict, Verdict::Invalid);
    assert_eq!(
        r.signature.code.as_deref(),
        Some("S2S-4"),
        "{:?}",
        r.signature.error
    );
}

#[test]
fn outer_issuer_and_lifetime_rules() {
    let actor = actor_spec(REALM).sign(key(0)).unwrap();
    // outer claims built by hand: wrong iss, lifetime beyond the actor's
    let mut c = Map::new();
    c.insert(
        "aud".into(),
        format!("{EXCHANGE_APP_ID}/{HOST}@{REALM}").into(),
    );
    c.insert("iss".into(), format!("{EXCHANGE_APP_ID}@{REALM}").into());
    c.insert("nbf".into(), (T0 + 300).to_string().into());
    c.insert("exp".into(), (T0 + 200_000).to_string().into());
    c.insert("smtp".into(), "alice@contoso.example".into());
    c.insert("actortoken".into(), actor.into());
    let token = jwt::unsigned(&c);
    let r = inspect_token(&token, &with_metadata(NOW));
    assert_eq!(
        rule(&r, "outer iss = actor nameid").result,
        CheckResult::Fail
    );
    assert_eq!(
        rule(&r, "outer lifetime inside actor's").result,
        CheckResult::Fail
    );
    assert_eq!(r.signature.verdict, Verdict::Invalid);
    assert_eq!(r.signature.code.as_deref(), Some("S2S-4"));
    let failed: Vec<_> = r
        .signature
        .rules
        .iter()
        .filter(|c| c.result == CheckResult::Fail)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].rule, "outer iss = actor nameid");
}

#[test]
fn expired_is_flagged_relative_to_now() {
    let (token, actor) = valid_pair();
    let later = T0 + 86_700 + 2 * 3600;
    let r = inspect_token(&token, &InspectOptions::new(later));
    let outer_life = rule(&r, "outer within its lifetime now");
    assert_eq!(outer_life.result, CheckResult::Fail);
    let actor_life = rule(&r, "actor within its lifetime now");
    assert_eq!(actor_life.detail.as_deref(), Some("expired 2 h ago"));
    let text = r.to_text();
    assert!(text.contains("(expired 2 h ago)"), "{text}");
    assert!(text.contains("signature NOT CHECKED"), "{text}");
    insta::assert_snapshot!("expired_not_checked", normalise(&text, &actor));
    let r = inspect_token(&token, &with_metadata(later));
    assert_eq!(r.signature.verdict, Verdict::Invalid);
    assert_eq!(r.signature.code.as_deref(), Some("IDX10223"));
    // still valid an hour in: relative phrase
    let r = inspect_token(&token, &InspectOptions::new(NOW));
    assert!(r.to_text().contains("(expires in 7 h)"), "{}", r.to_text());
}

/// Shaped like real ACS traffic: numbers and strings, extra claims (xms_spcu, rh, ver).
#[test]
fn real_microsoft_shaped_tokens() {
    let mut a = actor_spec(REALM).claims();
    a.insert("xms_spcu".into(), "true".into());
    a.insert("rh".into(), "0.AAAA-opaque.".into());
    a.insert("ver".into(), "1.0".into());
    a.insert("nbf".into(), Value::from(T0));
    let actor = jwt::sign_rs256(key(0), &a, true).unwrap();
    let mut o = Map::new();
    o.insert(
        "aud".into(),
        format!("{EXCHANGE_APP_ID}/{HOST}@{REALM}").into(),
    );
    o.insert("iss".into(), format!("{SKYPE_APP_ID}@{REALM}").into());
    o.insert("nbf".into(), (T0 + 300).to_string().into());
    o.insert("exp".into(), Value::from(T0 + 28_800));
    o.insert("nameid".into(), "10037ffe8a3c4b21".into());
    o.insert("nii".into(), "urn:federation:MicrosoftOnline".into());
    o.insert("upn".into(), "alice@contoso.example".into());
    o.insert("actortoken".into(), actor.clone().into());
    let token = jwt::unsigned(&o);
    let r = inspect_token(&format!("Bearer {token}"), &with_metadata(NOW));
    assert_eq!(r.signature.verdict, Verdict::Valid, "{}", r.to_text());
    let text = r.to_text();
    assert!(text.contains("xms_spcu"), "{text}");
    assert!(
        text.contains("ACS/Entra internal, opaque; ignored"),
        "{text}"
    );
    assert!(text.contains("token format version (ACS)"), "{text}");
    assert!(text.contains("sent as a string"), "{text}");
    assert!(text.contains("Entra ID (cloud user)"), "{text}");
    assert!(text.contains("user id, an Entra NetID/PUID"), "{text}");
    assert_no_secrets(&r, &token, &actor);
}

#[test]
fn single_signed_tokens() {
    // app-only actor from the STS
    let mut spec = actor_spec(REALM);
    spec.trusted_for_delegation = Some(false);
    let app_only = spec.sign(key(0)).unwrap();
    let r = inspect_token(&app_only, &with_metadata(NOW));
    assert_eq!(r.kind, TokenKind::AppOnly);
    assert_eq!(r.signature.verdict, Verdict::Valid, "{}", r.to_text());
    assert!(r.to_text().starts_with("app-only actor token"));
    assert!(r.to_text().contains("trustedfordelegation false"));

    // Exchange's F2 callback token: self-issued, checked against Exchange's certificate
    let f2 = ActorTokenSpec {
        aud: PrincipalName::service(SKYPE_APP_ID, "skype.example", REALM),
        iss: PrincipalName::app(EXCHANGE_APP_ID, REALM),
        nameid: PrincipalName::app(EXCHANGE_APP_ID, REALM),
        iat: T0,
        nbf: T0 - 60,
        exp: T0 + 3600,
        trusted_for_delegation: None,
        identity_provider: None,
        oid: None,
        jti: Some("j-1".into()),
    };
    let f2 = jwt::sign_rs256(key(1), &f2.claims(), false).unwrap();
    let cert = TrustMaterial::from_certificates(key(1).certificate().der()).unwrap();
    let r = inspect_token(&f2, &InspectOptions::new(T0 + 10).with_trust(cert));
    assert_eq!(r.kind, TokenKind::SelfIssued);
    assert_eq!(r.signature.verdict, Verdict::Valid, "{}", r.to_text());

    // a client assertion
    let ca = ClientAssertionSpec {
        client: PrincipalName::app(SKYPE_APP_ID, REALM),
        audience: format!("https://sts.example/{REALM}/tokens/OAuth/2"),
        jti: "j-2".into(),
        iat: T0,
        exp: T0 + 600,
    }
    .sign(key(1))
    .unwrap();
    let r = inspect_token(&ca, &InspectOptions::new(T0 + 10));
    assert_eq!(r.kind, TokenKind::ClientAssertion);
    assert_eq!(r.signature.verdict, Verdict::NotChecked);
    let cert = TrustMaterial::from_certificates(key(1).certificate().der()).unwrap();
    let r = inspect_token(&ca, &InspectOptions::new(T0 + 10).with_trust(cert));
    assert_eq!(r.signature.verdict, Verdict::Valid, "{}", r.to_text());
}

#[test]
fn forged_headers_and_unsigned_actors_are_flagged() {
    let mut header = Map::new();
    header.insert("alg".into(), "RS256".into());
    header.insert("x5t".into(), key(0).certificate().x5t.clone().into());
    header.insert("jku".into(), "https://evil.example/keys".into());
    let forged = jwt::sign_with_header(key(0), &header, &actor_spec(REALM).claims()).unwrap();
    let r = inspect_token(&outer(forged, REALM), &with_metadata(NOW));
    let f = rule(&r, "no forbidden header (jku/x5u/jwk/x5c/crit)");
    assert_eq!(f.result, CheckResult::Fail);
    assert!(
        f.detail
            .as_deref()
            .unwrap()
            .contains("actor header carries jku")
    );
    assert_eq!(r.signature.verdict, Verdict::Invalid);
    assert_eq!(r.signature.code.as_deref(), Some("IDX10510"));

    // the actor unsigned (CVE-2026-55040's shape)
    let none_actor = jwt::unsigned(&actor_spec(REALM).claims());
    let r = inspect_token(&outer(none_actor, REALM), &with_metadata(NOW));
    assert_eq!(
        rule(&r, "alg none only on the outer layer").result,
        CheckResult::Fail
    );
    assert_eq!(r.signature.verdict, Verdict::Invalid);

    // a bare unsigned token: never VALID, whatever the keys
    let bare = jwt::unsigned(&actor_spec(REALM).claims());
    let r = inspect_token(&bare, &with_metadata(NOW));
    assert_eq!(r.kind, TokenKind::Unsigned);
    assert_eq!(rule(&r, "actor token present").result, CheckResult::Fail);
    assert_ne!(r.signature.verdict, Verdict::Valid);
}

fn har_fixture(password: &str) -> (Vec<u8>, String, String, String) {
    let (token, actor) = valid_pair();
    let assertion = ClientAssertionSpec {
        client: PrincipalName::app(SKYPE_APP_ID, REALM),
        audience: format!("https://sts.example/{REALM}/tokens/OAuth/2"),
        jti: "j-3".into(),
        iat: NOW - 10,
        exp: NOW + 600,
    }
    .sign(key(1))
    .unwrap();
    let form = serde_urlencoded::to_string([
        ("grant_type", "client_credentials"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
        ("resource", &format!("{EXCHANGE_APP_ID}/{HOST}@{REALM}")),
    ])
    .unwrap();
    let basic = b64::std_encode(format!("alice@contoso.example:{password}"));
    let when = "2023-11-14T23:18:20.123Z"; // NOW
    let ews = "https://mail.contoso.example/EWS/Exchange.asmx";
    let har = json!({"log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": [
        {"startedDateTime": when,
         "request": {"method": "GET", "url": ews, "headers": [{"name": "Authorization", "value": "Bearer"}]},
         "response": {"status": 401, "headers": [
            {"name": "WWW-Authenticate", "value": format!("Bearer client_id=\"{EXCHANGE_APP_ID}\", trusted_issuers=\"{ACS_APP_ID}@{REALM},{SKYPE_APP_ID}@contoso.example\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\", authorization_uri=\"https://login.example/authorize\"")},
            {"name": "WWW-Authenticate", "value": "Basic realm=\"mail.contoso.example\""}]}},
        {"startedDateTime": when,
         "request": {"method": "POST", "url": format!("https://sts.example/{REALM}/tokens/OAuth/2?api-version=1"),
                     "headers": [{"name": "Content-Type", "value": "application/x-www-form-urlencoded"}],
                     "postData": {"mimeType": "application/x-www-form-urlencoded", "text": form}},
         "response": {"status": 200, "headers": [],
                      "content": {"mimeType": "application/json", "text": json!({
                          "token_type": "Bearer", "expires_in": "86399", "not_before": T0.to_string(),
                          "expires_on": (T0 + 86_700).to_string(),
                          "resource": format!("{EXCHANGE_APP_ID}/{HOST}@{REALM}"),
                          "access_token": actor}).to_string()}}},
        {"startedDateTime": when,
         "request": {"method": "POST", "url": ews, "headers": [{"name": "authorization", "value": format!("Bearer {token}")}]},
         "response": {"status": 200, "headers": []}},
        {"startedDateTime": when,
         "request": {"method": "POST", "url": ews, "headers": [{"name": "Authorization", "value": format!("Basic {basic}")}]},
         "response": {"status": 401, "headers": []}},
        {"startedDateTime": when,
         "request": {"method": "POST", "url": ews, "headers": [{"name": "Authorization", "value": format!("Bearer {token}")}]},
         "response": {"status": 200, "headers": []}}
    ]}});
    (serde_json::to_vec(&har).unwrap(), token, actor, basic)
}

#[test]
fn har_report_lists_tokens_challenges_and_basic() {
    let password = "Sup3r-S3cret!pw";
    let (har, token, actor, basic) = har_fixture(password);
    let r = har_report(&har).unwrap();
    assert_eq!(r.entries, 5);
    assert_eq!(r.tokens, 3, "assertion, access token, S2S bearer");
    assert_eq!(r.basic, 1);
    assert_eq!(r.passwords, 1);
    assert_eq!(r.challenges, 2);
    let kinds: Vec<&HarFindingKind> = r.findings.iter().map(|f| &f.kind).collect();
    assert!(matches!(kinds[0], HarFindingKind::EmptyBearer));
    let HarFindingKind::Challenge { challenge } = kinds[1] else {
        panic!("{kinds:?}")
    };
    assert_eq!(challenge.client_id.as_deref(), Some(EXCHANGE_APP_ID));
    assert_eq!(
        challenge.trusted_issuers,
        vec![
            format!("{ACS_APP_ID}@{REALM}"),
            format!("{SKYPE_APP_ID}@contoso.example")
        ]
    );
    let HarFindingKind::ClientAssertion { report } = kinds[3] else {
        panic!("{kinds:?}")
    };
    assert_eq!(report.kind, TokenKind::ClientAssertion);
    let HarFindingKind::AccessToken { report } = kinds[4] else {
        panic!("{kinds:?}")
    };
    assert_eq!(report.kind, TokenKind::AppOnly);
    let HarFindingKind::Bearer { report } = kinds[5] else {
        panic!("{kinds:?}")
    };
    assert_eq!(report.kind, TokenKind::S2sUser);
    assert!(
        report.rules.iter().all(|c| c.result == CheckResult::Pass),
        "{}",
        report.to_text()
    );
    let HarFindingKind::Basic { user } = kinds[6] else {
        panic!("{kinds:?}")
    };
    assert_eq!(user.as_deref(), Some("alice@contoso.example"));
    assert!(matches!(
        kinds[7],
        HarFindingKind::Repeated { first_entry: 3, .. }
    ));
    assert!(r.verdicts().iter().all(|v| *v == Verdict::NotChecked));

    let text = r.to_text();
    let json = serde_json::to_string(&r).unwrap();
    for out in [&text, &json] {
        assert!(!out.contains(password), "password printed:\n{out}");
        assert!(!out.contains(&basic), "Basic credentials printed");
        assert!(
            !out.contains(&token) && !out.contains(&actor),
            "token printed whole"
        );
        assert!(!out.contains(signature_of(&actor)), "signature printed");
        assert!(!out.contains("api-version"), "query printed");
    }
    assert!(
        text.contains(
            "⚠ Authorization Basic: user alice@contoso.example (a password was sent; not shown)"
        ),
        "{text}"
    );
    assert!(
        text.ends_with(
            "5 entries · 3 tokens · 1 Basic · 1 password (never shown) · 2 challenges\n"
        ),
        "{text}"
    );
    let x5t1 = &key(1).certificate().x5t;
    let normalised = normalise(&text, &actor)
        .replace(&elide(x5t1), "<x5t1>…")
        .replace(&assertion_signature(&r), "<sig1>…");
    insta::assert_snapshot!("har_report", normalised);

    // with the metadata: the S2S bearer and the access token verify
    let opts = HarOptions {
        trust: Some(TrustMaterial::from_metadata(&metadata_json(key(0))).unwrap()),
        now: None,
    };
    let r = har_report_with(&har, &opts).unwrap();
    let v = r.verdicts();
    assert_eq!(
        v,
        vec![Verdict::Invalid, Verdict::Valid, Verdict::Valid],
        "{}",
        r.to_text()
    );
}

/// The elided signature of the client assertion as the report shows it.
fn assertion_signature(r: &inspect::HarReport) -> String {
    r.findings
        .iter()
        .find_map(|f| match &f.kind {
            HarFindingKind::ClientAssertion { report } => Some(report.layers[0].signature.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn har_bounds() {
    let too_many = format!(
        "{{\"log\":{{\"entries\":[{}]}}}}",
        vec!["{}"; inspect::MAX_HAR_ENTRIES + 1].join(",")
    );
    assert!(matches!(
        har_report(too_many.as_bytes()),
        Err(inspect::InspectError::HarTooManyEntries { .. })
    ));
}

/// Records as Exchange writes them (`decode_for_record`: actor decoded, signature elided).
#[test]
fn trace_view_of_recorded_traffic() {
    let (token, actor) = valid_pair();
    let outer = jwt::Compact::parse(&token).unwrap();
    let a = jwt::Compact::parse(&actor).unwrap();
    let mut claims = json!({"header": outer.header, "claims": outer.claims});
    claims["claims"]["actortoken"] =
        json!({"header": a.header, "claims": a.claims, "signature": "<elided>"});
    let actor_name = format!("{SKYPE_APP_ID}@{REALM}");
    let records = vec![
        json!({"time": NOW, "operation": "GetFolder", "actor": actor_name, "user": "alice@contoso.example",
               "partner": "SfBOnline", "verdict": "ok", "scheme": "Bearer", "claims": claims}),
        json!({"time": NOW + 5, "operation": "CreateItem", "actor": actor_name, "user": "alice@contoso.example",
               "partner": "SfBOnline", "verdict": "ok", "scheme": "Bearer", "claims": claims}),
        json!({"time": NOW + 9, "operation": "(unparsed)", "actor": null, "user": null, "partner": null,
               "verdict": "no credentials", "scheme": "", "claims": null}),
    ];
    let body = json!({"output": records}).to_string();
    let records = inspect::records_from_json(body.as_bytes()).unwrap();
    let text = inspect::trace_records(&records);
    assert!(!text.contains(signature_of(&actor)));
    assert!(
        text.ends_with(&format!(
            "3 calls (1 refused), actor {actor_name}, 0 Basic, 0 passwords\n"
        )),
        "{text}"
    );
    let one = inspect::format_record(&records[0]);
    assert!(!one.contains('\n'));
    assert!(
        one.contains("SfBOnline → GetFolder @ mail.contoso.example"),
        "{one}"
    );
    let x5t = &key(0).certificate().x5t;
    insta::assert_snapshot!("trace", text.replace(&elide(x5t), "<x5t>…"));
}

/// Regression: when the signature held and a later rule refused the token (here the outer iss),
/// the summary said "signature INVALID", contradicting its own "signature ✔".
#[test]
fn a_refusal_after_the_signature_does_not_call_it_invalid() {
    let actor = actor_spec(REALM).sign(key(0)).unwrap();
    let token = outer(actor, "9a9a9a9a-2222-4333-8444-555555555555");
    let r = inspect_token(&token, &with_metadata(NOW));
    assert_eq!(r.signature.verdict, Verdict::Invalid);
    let text = r.to_text();
    assert!(!text.contains("signature INVALID"), "{text}");
    assert!(
        text.contains("signature verified against the metadata, but the token is REFUSED (S2S-4)"),
        "{text}"
    );
    assert!(text.contains("signature ✔"), "{text}");
}
