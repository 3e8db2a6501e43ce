//! `openhybrid-fuzz gen-seeds`: (re)writes the generated part of the seed corpus — S2S tokens
//! (valid and forged), ACS metadata documents, bearer headers for the inspector and HAR
//! captures — signed with a fresh STS key whose certificate goes to `keys/sts.cer`. The private
//! key is never written: seeds are regenerated, not re-signed.
//!
//! The hand-written seeds (EWS requests, notifications, XML attacks, PowerShell, principals) are
//! committed as files and not touched here.

use std::path::Path;

use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::token::ClientAssertionSpec;
use s2s_proto::{ActorTokenSpec, OuterTokenSpec, PrincipalName, SigningKey, UserClaims, b64, jwt};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::targets::{HOST, NOW, REALM, crate_dir, sts_cert_path};

const OTHER_REALM: &str = "9a9a9a9a-2222-4333-8444-555555555555";

fn key(cn: &str) -> SigningKey {
    let t = |s| OffsetDateTime::from_unix_timestamp(s).expect("valid instant");
    SigningKey::generate_self_signed(cn, t(1_700_000_000), t(1_900_000_000))
        .expect("key generation")
}

fn actor_claims(realm: &str) -> Map<String, Value> {
    ActorTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, realm),
        iss: PrincipalName::app(ACS_APP_ID, realm),
        nameid: PrincipalName::app(SKYPE_APP_ID, realm),
        iat: NOW - 300,
        nbf: NOW - 300,
        exp: NOW + 3600,
        trusted_for_delegation: Some(true),
        identity_provider: Some(format!("{ACS_APP_ID}@{realm}")),
        oid: Some("6b6f1c9e-0000-4000-8000-000000000004".into()),
        jti: Some("fuzz-seed-1".into()),
    }
    .claims()
}

fn outer(actor: &str, realm: &str) -> Map<String, Value> {
    OuterTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, HOST, realm),
        iss: PrincipalName::app(SKYPE_APP_ID, realm),
        nbf: NOW - 60,
        exp: NOW + 1800,
        user: UserClaims::cloud_user("alice@contoso.example", "1003200012345678"),
        actor_token: actor.into(),
    }
    .claims()
}

fn header(alg: &str, x5t: &str) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("typ".into(), "JWT".into());
    h.insert("alg".into(), alg.into());
    h.insert("x5t".into(), x5t.into());
    h.insert("kid".into(), x5t.into());
    h
}

fn with(mut m: Map<String, Value>, k: &str, v: Value) -> Map<String, Value> {
    m.insert(k.into(), v);
    m
}

fn seg(v: &Map<String, Value>) -> String {
    b64::url_encode(serde_json::to_vec(v).expect("json"))
}

/// The generated token seeds, by file name.
fn tokens(sts: &SigningKey, attacker: &SigningKey) -> Vec<(String, String)> {
    let x5t = sts.certificate().x5t.clone();
    let sign = |h: &Map<String, Value>, c: &Map<String, Value>| {
        jwt::sign_with_header(sts, h, c).expect("sign")
    };
    let actor = jwt::sign_rs256(sts, &actor_claims(REALM), true).expect("sign");
    let mut out: Vec<(&str, String)> = vec![
        ("valid_user_context", jwt::unsigned(&outer(&actor, REALM))),
        ("valid_app_only", actor.clone()),
    ];
    let (h64, p64, s64) = {
        let mut it = actor.split('.');
        (
            it.next().unwrap_or_default().to_owned(),
            it.next().unwrap_or_default().to_owned(),
            it.next().unwrap_or_default().to_owned(),
        )
    };
    // J1: alg none variants on the signed path
    for alg in ["none", "None", "NONE", "nOnE"] {
        let forged = jwt::unsigned_with_header(&header(alg, &x5t), &actor_claims(REALM));
        out.push((
            match alg {
                "none" => "j1_actor_alg_none",
                "None" => "j1_actor_alg_None",
                "NONE" => "j1_actor_alg_NONE",
                _ => "j1_actor_alg_nOnE",
            },
            jwt::unsigned(&outer(&forged, REALM)),
        ));
    }
    // J2 null signature, J3 broken / foreign signatures
    out.push(("j2_null_signature", format!("{h64}.{p64}.")));
    let mut sig = b64::url_decode(&s64).unwrap_or_default();
    if let Some(b) = sig.last_mut() {
        *b ^= 1;
    }
    out.push((
        "j3_flipped_signature",
        format!("{h64}.{p64}.{}", b64::url_encode(&sig)),
    ));
    out.push((
        "j3_cut_signature",
        format!("{h64}.{p64}.{}", &s64[..s64.len() / 2]),
    ));
    let foreign = jwt::sign_with_header(attacker, &header("RS256", &x5t), &actor_claims(REALM))
        .expect("sign");
    out.push(("j3_attacker_key", foreign.clone()));
    out.push((
        "j3_attacker_actor_in_outer",
        jwt::unsigned(&outer(&foreign, REALM)),
    ));
    // J4/J5: HMAC headers (signature bytes are RSA; the header alg must not matter)
    out.push((
        "j4_hs256_header",
        sign(&header("HS256", &x5t), &actor_claims(REALM)),
    ));
    // J6: psychic signature
    out.push((
        "j6_es256_zero_signature",
        format!("{}.{p64}.MAYCAQACAQA", seg(&header("ES256", &x5t))),
    ));
    // J7: key material in the header
    out.push((
        "j7_jwk_header",
        sign(
            &with(
                header("RS256", &x5t),
                "jwk",
                json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
            ),
            &actor_claims(REALM),
        ),
    ));
    out.push((
        "j7_jku_header",
        sign(
            &with(
                header("RS256", &x5t),
                "jku",
                json!("https://evil.example/keys"),
            ),
            &actor_claims(REALM),
        ),
    ));
    out.push((
        "j7_x5c_header",
        sign(
            &with(
                header("RS256", &x5t),
                "x5c",
                json!([attacker.certificate().to_base64()]),
            ),
            &actor_claims(REALM),
        ),
    ));
    // J8: kid abuse
    out.push((
        "j8_kid_traversal",
        sign(
            &with(header("RS256", &x5t), "kid", json!("../../dev/null")),
            &actor_claims(REALM),
        ),
    ));
    // J9: claims changed without re-signing
    let tampered = with(
        actor_claims(REALM),
        "nameid",
        json!(format!("{EXCHANGE_APP_ID}@{REALM}")),
    );
    out.push((
        "j9_tampered_nameid",
        format!("{h64}.{}.{s64}", seg(&tampered)),
    ));
    // J10: type confusion
    out.push((
        "j10_exp_string",
        sign(
            &header("RS256", &x5t),
            &with(actor_claims(REALM), "exp", json!("1800003600")),
        ),
    ));
    out.push((
        "j10_exp_float",
        sign(
            &header("RS256", &x5t),
            &with(actor_claims(REALM), "exp", json!(1.8e9)),
        ),
    ));
    out.push((
        "j10_aud_array",
        sign(
            &header("RS256", &x5t),
            &with(
                actor_claims(REALM),
                "aud",
                json!(["", format!("{EXCHANGE_APP_ID}/{HOST}@{REALM}")]),
            ),
        ),
    ));
    let dup_payload = {
        let mut raw = serde_json::to_vec(&actor_claims(REALM)).expect("json");
        raw.pop();
        raw.extend_from_slice(format!(",\"nameid\":\"{EXCHANGE_APP_ID}@{REALM}\"}}").as_bytes());
        raw
    };
    let dup_input = format!("{h64}.{}", b64::url_encode(&dup_payload));
    out.push((
        "j10_duplicate_claim",
        format!(
            "{dup_input}.{}",
            b64::url_encode(sts.sign_rs256(dup_input.as_bytes()).expect("sign"))
        ),
    ));
    // J11: lifetime
    out.push((
        "j11_expired",
        sign(
            &header("RS256", &x5t),
            &with(actor_claims(REALM), "exp", json!(NOW - 301)),
        ),
    ));
    out.push((
        "j11_nbf_future",
        sign(
            &header("RS256", &x5t),
            &with(actor_claims(REALM), "nbf", json!(NOW + 301)),
        ),
    ));
    // J12/J13: issuer and audience near misses
    out.push((
        "j12_issuer_prefix",
        sign(
            &header("RS256", &x5t),
            &with(
                actor_claims(REALM),
                "iss",
                json!(format!("{ACS_APP_ID}@{}", &REALM[..10])),
            ),
        ),
    ));
    out.push((
        "j13_audience_trailing_slash",
        sign(
            &header("RS256", &x5t),
            &with(
                actor_claims(REALM),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/{HOST}/@{REALM}")),
            ),
        ),
    ));
    // J14: crit
    out.push((
        "j14_crit",
        sign(
            &with(header("RS256", &x5t), "crit", json!(["exp"])),
            &actor_claims(REALM),
        ),
    ));
    // §1b: cross-realm actor, outer variants
    let other_actor = jwt::sign_rs256(sts, &actor_claims(OTHER_REALM), true).expect("sign");
    out.push((
        "s1b_actor_realm_b_user_realm_a",
        jwt::unsigned(&outer(&other_actor, REALM)),
    ));
    out.push((
        "s1b_outer_signed",
        sign(&header("RS256", &x5t), &outer(&actor, REALM)),
    ));
    out.push((
        "s1b_outer_with_signature",
        format!("{}AAAA", jwt::unsigned(&outer(&actor, REALM))),
    ));
    let mut no_user = outer(&actor, REALM);
    for k in ["nameid", "nii", "upn", "smtp", "sip"] {
        no_user.remove(k);
    }
    out.push(("s1b_outer_no_user", jwt::unsigned(&no_user)));
    out.push((
        "s1b_actor_in_actor",
        sign(
            &header("RS256", &x5t),
            &with(actor_claims(REALM), "actortoken", json!(actor.clone())),
        ),
    ));
    out.push((
        "s1b_outer_nested_outer",
        jwt::unsigned(&outer(&jwt::unsigned(&outer(&actor, REALM)), REALM)),
    ));
    out.push((
        "client_assertion",
        ClientAssertionSpec {
            client: PrincipalName::app(SKYPE_APP_ID, REALM),
            audience: format!("https://sts.example/{REALM}/tokens/OAuth/2"),
            jti: "j-1".into(),
            iat: NOW - 10,
            exp: NOW + 600,
        }
        .sign(attacker)
        .expect("sign"),
    ));
    out.into_iter().map(|(n, t)| (n.to_owned(), t)).collect()
}

fn metadata(sts: &SigningKey, attacker: &SigningKey) -> Vec<(String, Vec<u8>)> {
    let cert = sts.certificate();
    let doc = |keys: Value| {
        serde_json::to_vec_pretty(&json!({
            "version": "1.0",
            "realm": REALM,
            "name": "Microsoft Azure ACS",
            "issuer": format!("{ACS_APP_ID}@{REALM}"),
            "allowedAudiences": [format!("{ACS_APP_ID}@{REALM}")],
            "keys": keys,
            "endpoints": [{
                "location": format!("https://sts.example/{REALM}/tokens/OAuth/2"),
                "protocol": "OAuth2",
                "usage": "issuance"
            }]
        }))
        .expect("json")
    };
    let key = |c: &s2s_proto::Certificate, x5t: &str| {
        json!({"usage": "signing", "keyValue": {"type": "x509Certificate", "value": c.to_base64(), "keyInfo": null},
               "keyInfo": {"x5t": x5t}})
    };
    let rsa1024 =
        std::fs::read_to_string(crate_dir().join("../s2s-proto/tests/fixtures/rsa1024.cer.b64"))
            .unwrap_or_default();
    vec![
        ("acs_real".into(), doc(json!([key(cert, &cert.x5t)]))),
        (
            "acs_keyinfo_inside_keyvalue".into(),
            doc(
                json!([{"usage": "signing", "keyValue": {"type": "x509Certificate",
                "value": cert.to_base64(), "keyInfo": {"x5t": cert.x5t}}}]),
            ),
        ),
        (
            "acs_two_keys_rollover".into(),
            doc(json!([
                key(cert, &cert.x5t),
                key(attacker.certificate(), &attacker.certificate().x5t)
            ])),
        ),
        (
            "acs_x5t_mismatch".into(),
            doc(json!([key(cert, &attacker.certificate().x5t)])),
        ),
        ("acs_no_keys".into(), doc(json!([]))),
        (
            "acs_bad_certificate".into(),
            doc(
                json!([{"usage": "signing", "keyValue": {"type": "x509Certificate", "value": "MIIBAAAA"}}]),
            ),
        ),
        (
            "acs_rsa1024".into(),
            doc(
                json!([{"usage": "signing", "keyValue": {"type": "x509Certificate", "value": rsa1024.trim()}}]),
            ),
        ),
        (
            "acs_encryption_key_only".into(),
            doc(
                json!([{"usage": "encryption", "keyValue": {"type": "x509Certificate", "value": cert.to_base64()}}]),
            ),
        ),
    ]
}

fn har(token: &str, actor: &str, assertion: &str) -> Vec<u8> {
    let ews = "https://mail.contoso.example/EWS/Exchange.asmx";
    let when = "2027-01-15T08:00:00.000Z";
    let basic = b64::std_encode("alice@contoso.example:Pa55w0rd!");
    let form = format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}&resource={EXCHANGE_APP_ID}%2F{HOST}%40{REALM}"
    );
    serde_json::to_vec_pretty(&json!({"log": {"version": "1.2", "creator": {"name": "fuzz", "version": "1"}, "entries": [
        {"startedDateTime": when,
         "request": {"method": "GET", "url": ews, "headers": [{"name": "Authorization", "value": "Bearer"}]},
         "response": {"status": 401, "headers": [
            {"name": "WWW-Authenticate", "value": format!("Bearer client_id=\"{EXCHANGE_APP_ID}\", trusted_issuers=\"{ACS_APP_ID}@{REALM}\", token_types=\"app_asserted_user_v1 service_asserted_app_v1\", authorization_uri=\"https://login.example/authorize\"")},
            {"name": "WWW-Authenticate", "value": "Basic realm=\"mail.contoso.example\""}]}},
        {"startedDateTime": when,
         "request": {"method": "POST", "url": format!("https://sts.example/{REALM}/tokens/OAuth/2?api-version=1"),
                     "headers": [{"name": "Content-Type", "value": "application/x-www-form-urlencoded"}],
                     "postData": {"mimeType": "application/x-www-form-urlencoded", "text": form}},
         "response": {"status": 200, "headers": [],
                      "content": {"mimeType": "application/json", "text": json!({
                          "token_type": "Bearer", "expires_in": "3599", "not_before": (NOW - 300).to_string(),
                          "expires_on": (NOW + 3600).to_string(),
                          "resource": format!("{EXCHANGE_APP_ID}/{HOST}@{REALM}"),
                          "access_token": actor}).to_string()}}},
        {"startedDateTime": when,
         "request": {"method": "POST", "url": ews, "headers": [{"name": "authorization", "value": format!("Bearer {token}")}]},
         "response": {"status": 200, "headers": []}},
        {"startedDateTime": when,
         "request": {"method": "POST", "url": ews, "headers": [{"name": "Authorization", "value": format!("Basic {basic}")}]},
         "response": {"status": 401, "headers": []}}
    ]}}))
    .expect("json")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(name), bytes)
}

/// Regenerates keys/sts.cer and the generated seeds. Returns how many files were written.
pub fn generate() -> std::io::Result<usize> {
    let sts = key("fuzz-sts");
    let attacker = key("fuzz-attacker");
    let corpus = crate_dir().join("corpus");
    let mut n = 0;
    std::fs::create_dir_all(sts_cert_path().parent().unwrap_or(Path::new(".")))?;
    std::fs::write(sts_cert_path(), sts.certificate().der())?;
    let toks = tokens(&sts, &attacker);
    for (name, t) in &toks {
        write(&corpus.join("token"), &format!("{name}.jwt"), t.as_bytes())?;
        n += 1;
    }
    let find = |n: &str| {
        toks.iter()
            .find(|(k, _)| k == n)
            .map(|(_, t)| t.clone())
            .unwrap_or_default()
    };
    let (user, app, assertion) = (
        find("valid_user_context"),
        find("valid_app_only"),
        find("client_assertion"),
    );
    for (name, text) in [
        ("bearer_user_context.txt", format!("Bearer {user}")),
        (
            "authorization_header.txt",
            format!("Authorization: Bearer {user}\r\n"),
        ),
        ("app_only.txt", app.clone()),
        ("client_assertion.txt", assertion.clone()),
        ("forged_alg_none.txt", find("j1_actor_alg_None")),
        ("cross_realm.txt", find("s1b_actor_realm_b_user_realm_a")),
        ("tampered.txt", find("j9_tampered_nameid")),
        ("whitespace_wrapped.txt", format!("  \n{user}\n")),
    ] {
        write(&corpus.join("inspect"), name, text.as_bytes())?;
        n += 1;
    }
    for (name, doc) in metadata(&sts, &attacker) {
        write(&corpus.join("metadata"), &format!("{name}.json"), &doc)?;
        n += 1;
    }
    write(
        &corpus.join("har"),
        "s2s_flow.har",
        &har(&user, &app, &assertion),
    )?;
    write(
        &corpus.join("har"),
        "forged.har",
        &har(
            &find("j1_actor_alg_none"),
            &find("j3_attacker_key"),
            &assertion,
        ),
    )?;
    write(
        &corpus.join("har"),
        "empty_log.har",
        br#"{"log":{"version":"1.2","entries":[]}}"#,
    )?;
    n += 3;
    Ok(n)
}
