//! The attack catalogue of spec/security.md against the running server over HTTP: every J-row
//! (on the actor, through the outer envelope, and as an app-only bearer), every §1b point, the
//! incident replays, and the rate limiting of failures. Each row asserts the precise refusal:
//! 401, `error="invalid_token"`, and the `x-ms-diagnostics` reason naming the failed rule.
//!
//! The server trusts an auth server whose metadata this test serves, so that forged tokens can be
//! signed with a key the server really trusts (only then do claim checks get exercised).

mod common;

use axum::routing::get;
use common::{
    Env, HOST, Options, REALM, actor, alice, attacker_key, key, metadata_server, now, outer,
    response_codes, sign, soap, start, wrap,
};
use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::wire::AcsMetadata;
use s2s_proto::{SigningKey, UserClaims, b64, jwt};
use serde_json::{Map, Value, json};

/// The server with [`Options::default`] but `failures_per_minute` failed authentications a
/// minute allowed per source.
async fn env(failures_per_minute: u32) -> Env {
    start(Options {
        auth_failures_per_minute: failures_per_minute,
        ..Options::default()
    })
    .await
}

const OTHER_REALM: &str = "9a9a9a9a-2222-4333-8444-555555555555";

fn header(k: &SigningKey) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("typ".into(), "JWT".into());
    h.insert("alg".into(), "RS256".into());
    h.insert("x5t".into(), k.certificate().x5t.clone().into());
    h.insert("kid".into(), k.certificate().x5t.clone().into());
    h
}

fn with(mut m: Map<String, Value>, k: &str, v: Value) -> Map<String, Value> {
    m.insert(k.into(), v);
    m
}

fn without(mut m: Map<String, Value>, k: &str) -> Map<String, Value> {
    m.remove(k);
    m
}

fn b64j(m: &Map<String, Value>) -> String {
    b64::url_encode(serde_json::to_vec(m).unwrap())
}

const GET_FOLDER: &str = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder></s:Body></s:Envelope>"#;

struct Answer {
    status: u16,
    www: String,
    diag: String,
    body: String,
}

async fn call(client: &reqwest::Client, url: &str, token: &str) -> Answer {
    call_with(client, url, token, GET_FOLDER).await
}

async fn call_with(client: &reqwest::Client, url: &str, token: &str, body: &str) -> Answer {
    let r = client
        .post(format!("{url}/EWS/Exchange.asmx"))
        .bearer_auth(token)
        .header("content-type", "text/xml")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (www, diag) = (h("www-authenticate"), h("x-ms-diagnostics"));
    Answer {
        status: r.status().as_u16(),
        www,
        diag,
        body: r.text().await.unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_over_http() {
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let k0 = key();
    let h = header(k0);
    let good = actor();
    let valid = sign(&good);
    // the valid pair works
    let ok = call(&client, &e.url, &wrap(&valid)).await;
    assert_eq!(ok.status, 200, "{}", ok.diag);
    assert!(ok.body.contains("NoError"));

    let (vi, vs) = valid.rsplit_once('.').unwrap();
    let mut flipped = b64::url_decode(vs).unwrap();
    flipped[7] ^= 1;
    let hs = |secret: &[u8], alg: &str| {
        use aws_lc_rs::hmac;
        let input = format!(
            "{}.{}",
            b64j(&with(h.clone(), "alg", json!(alg))),
            b64j(&good)
        );
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), input.as_bytes());
        format!("{input}.{}", b64::url_encode(tag.as_ref()))
    };
    let hdr = |m: Map<String, Value>| jwt::sign_with_header(k0, &m, &good).unwrap();
    let n = now();
    // (row, actor token, expected code in x-ms-diagnostics)
    let actor_rows: Vec<(&str, String, &str)> = vec![
        (
            "J1 none",
            jwt::unsigned_with_header(&with(h.clone(), "alg", json!("none")), &good),
            "IDX10504",
        ),
        (
            "J1 None",
            jwt::unsigned_with_header(&with(h.clone(), "alg", json!("None")), &good),
            "IDX10504",
        ),
        (
            "J1 NONE",
            jwt::unsigned_with_header(&with(h.clone(), "alg", json!("NONE")), &good),
            "IDX10504",
        ),
        ("J2 null signature", format!("{vi}."), "IDX10504"),
        (
            "J3 flipped bit",
            format!("{vi}.{}", b64::url_encode(&flipped)),
            "IDX10511",
        ),
        (
            "J3 other key",
            jwt::sign_with_header(attacker_key(), &h, &good).unwrap(),
            "IDX10511",
        ),
        (
            "J4 HS256 with the public key PEM",
            hs(k0.certificate().to_pem().as_bytes(), "HS256"),
            "IDX10518",
        ),
        (
            "J4 HS256 with the DER",
            hs(k0.certificate().der(), "HS256"),
            "IDX10518",
        ),
        ("J5 blank HS256", hs(b"", "HS256"), "IDX10518"),
        (
            "J6 psychic ES256",
            format!(
                "{}.{}.MAYCAQACAQA",
                b64j(&with(h.clone(), "alg", json!("ES256"))),
                b64j(&good)
            ),
            "IDX10518",
        ),
        (
            "J7 jwk",
            hdr(with(h.clone(), "jwk", json!({"kty": "RSA"}))),
            "IDX10510",
        ),
        (
            "J7 jku",
            hdr(with(h.clone(), "jku", json!("https://attacker.example/k"))),
            "IDX10510",
        ),
        (
            "J7 x5u",
            hdr(with(h.clone(), "x5u", json!("https://attacker.example/c"))),
            "IDX10510",
        ),
        (
            "J7 x5c",
            hdr(with(
                h.clone(),
                "x5c",
                json!([attacker_key().certificate().to_base64()]),
            )),
            "IDX10510",
        ),
        (
            "J8 kid traversal",
            hdr(with(
                without(h.clone(), "x5t"),
                "kid",
                json!("../../dev/null"),
            )),
            "IDX10503",
        ),
        (
            "J8 kid sql",
            hdr(with(
                without(h.clone(), "x5t"),
                "kid",
                json!("x' UNION SELECT '1';--"),
            )),
            "IDX10503",
        ),
        (
            "J8 unknown x5t",
            hdr(with(
                without(h.clone(), "kid"),
                "x5t",
                json!(attacker_key().certificate().x5t),
            )),
            "IDX10503",
        ),
        (
            "J8 no key id",
            hdr(without(without(h.clone(), "kid"), "x5t")),
            "IDX10517",
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
            "IDX10511",
        ),
        (
            "J10 exp bool",
            sign(&with(good.clone(), "exp", json!(true))),
            "IDX10230",
        ),
        (
            "J10 exp float",
            sign(&with(good.clone(), "exp", json!(1.9e9))),
            "IDX10230",
        ),
        (
            "J10 aud array",
            sign(&with(
                good.clone(),
                "aud",
                json!([format!("{EXCHANGE_APP_ID}/{HOST}@{REALM}")]),
            )),
            "IDX10230",
        ),
        (
            "J11 no exp",
            sign(&without(good.clone(), "exp")),
            "IDX10225",
        ),
        (
            "J11 expired",
            sign(&with(
                with(good.clone(), "nbf", json!(n - 3000)),
                "exp",
                json!(n - 400),
            )),
            "IDX10223",
        ),
        (
            "J11 nbf in future",
            sign(&with(good.clone(), "nbf", json!(n + 400))),
            "IDX10222",
        ),
        (
            "J11 nbf after exp",
            sign(&with(
                with(good.clone(), "nbf", json!(n + 100)),
                "exp",
                json!(n + 50),
            )),
            "IDX10224",
        ),
        (
            "J12 wrong issuer",
            sign(&with(
                good.clone(),
                "iss",
                json!(format!("{SKYPE_APP_ID}@{REALM}")),
            )),
            "IDX10205",
        ),
        (
            "J12 prefix issuer",
            sign(&with(
                good.clone(),
                "iss",
                json!(format!("{ACS_APP_ID}@{}", &REALM[..10])),
            )),
            "IDX10205",
        ),
        (
            "J12 empty issuer",
            sign(&with(good.clone(), "iss", json!(""))),
            "IDX10211",
        ),
        (
            "J13 wrong host",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/evil.example@{REALM}")),
            )),
            "IDX10214",
        ),
        (
            "J13 wrong realm",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/{HOST}@{OTHER_REALM}")),
            )),
            "IDX10214",
        ),
        (
            "J13 trailing slash",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/{HOST}/@{REALM}")),
            )),
            "IDX10214",
        ),
        (
            "J14 crit",
            hdr(with(h.clone(), "crit", json!(["exp"]))),
            "IDX10508",
        ),
        (
            "J15 token for the STS",
            sign(&with(
                good.clone(),
                "aud",
                json!(format!("https://sts.example/{REALM}/tokens/OAuth/2")),
            )),
            "IDX10214",
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
            "IDX14100",
        ),
    ];
    for (row, token, code) in &actor_rows {
        for (form, bearer) in [
            ("in an outer token", wrap(token)),
            ("as app-only bearer", token.clone()),
        ] {
            let a = call(&client, &e.url, &bearer).await;
            assert_eq!(a.status, 401, "{row} {form}: {} {}", a.status, a.diag);
            assert!(
                a.www.contains("error=\"invalid_token\""),
                "{row} {form}: {}",
                a.www
            );
            // J1 tokens sent alone are alg none on the bearer itself: the outer-envelope rules apply
            let want = if form == "as app-only bearer" && row.starts_with("J1 none") {
                "S2S-1"
            } else {
                code
            };
            assert!(
                a.diag.contains(want),
                "{row} {form}: expected {want}, got {}",
                a.diag
            );
            assert!(
                !a.diag.contains(vs) && !a.body.contains(vs),
                "{row}: the response echoes a signature"
            );
        }
    }

    // §1b and the incidents, on whole bearers
    let oc = outer(&valid, alice());
    let un = |c: Map<String, Value>| jwt::unsigned(&c);
    let foreign = sign(&with(
        with(
            with(
                good.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/{HOST}@{OTHER_REALM}")),
            ),
            "iss",
            json!(format!("{ACS_APP_ID}@{OTHER_REALM}")),
        ),
        "nameid",
        json!(format!("{SKYPE_APP_ID}@{OTHER_REALM}")),
    ));
    let outer_rows: Vec<(&str, String, &str)> = vec![
        (
            "1 CVE-2023-29357 bare alg none with magic claims",
            un(with(
                with(
                    without(oc.clone(), "actortoken"),
                    "ver",
                    json!("hashedprooftoken"),
                ),
                "isloopback",
                json!(true),
            )),
            "S2S-1",
        ),
        (
            "1 alg none without actortoken",
            un(without(oc.clone(), "actortoken")),
            "S2S-1",
        ),
        (
            "1 actortoken empty",
            un(with(oc.clone(), "actortoken", json!(""))),
            "S2S-1",
        ),
        (
            "1 actortoken a number",
            un(with(oc.clone(), "actortoken", json!(7))),
            "S2S-1",
        ),
        (
            "1 actortoken unsigned",
            un(with(oc.clone(), "actortoken", json!(jwt::unsigned(&good)))),
            "IDX10504",
        ),
        (
            "1 actortoken self-referencing",
            un(with(oc.clone(), "actortoken", json!(un(oc.clone())))),
            "IDX10504",
        ),
        (
            "1 nested actor",
            un(with(
                oc.clone(),
                "actortoken",
                json!(sign(&with(
                    good.clone(),
                    "actortoken",
                    json!(valid.clone())
                ))),
            )),
            "S2S-1",
        ),
        (
            "1 outer with a signature segment",
            format!("{}abc", un(oc.clone())),
            "S2S-1",
        ),
        (
            "3 not trusted for delegation",
            un(with(
                oc.clone(),
                "actortoken",
                json!(sign(&with(
                    good.clone(),
                    "trustedfordelegation",
                    json!("false")
                ))),
            )),
            "S2S-3",
        ),
        (
            "4 outer iss is not the actor",
            un(with(
                oc.clone(),
                "iss",
                json!(format!("{EXCHANGE_APP_ID}@{REALM}")),
            )),
            "S2S-4",
        ),
        (
            "4 outer aud differs",
            un(with(
                oc.clone(),
                "aud",
                json!(format!("{EXCHANGE_APP_ID}/other.contoso.example@{REALM}")),
            )),
            "S2S-4",
        ),
        (
            "4 outer outlives the actor",
            un(with(oc.clone(), "exp", json!((n + 7200).to_string()))),
            "S2S-4",
        ),
        (
            "4 CVE-2025-55241 actor of realm B naming a user here",
            un(with(oc.clone(), "actortoken", json!(foreign))),
            "IDX10205",
        ),
        (
            "4 outer of realm B around a realm-A actor",
            un(with(
                with(
                    oc.clone(),
                    "aud",
                    json!(format!("{EXCHANGE_APP_ID}/{HOST}@{OTHER_REALM}")),
                ),
                "iss",
                json!(format!("{SKYPE_APP_ID}@{OTHER_REALM}")),
            )),
            "S2S-4",
        ),
        (
            "5 no user claims",
            un(without(
                without(
                    without(without(without(oc.clone(), "smtp"), "upn"), "sip"),
                    "nameid",
                ),
                "nii",
            )),
            "S2S-5",
        ),
        (
            "5 user of another organization",
            jwt::unsigned(&outer(
                &valid,
                UserClaims::cloud_user("eve@fabrikam.example", "1"),
            )),
            "2000005",
        ),
        (
            "5 claims naming two mailboxes",
            un(with(oc.clone(), "upn", json!("bob@contoso.example"))),
            "2000005",
        ),
        (
            "5 SID without AcceptSecurityIdentifierInformation",
            jwt::unsigned(&outer(
                &valid,
                UserClaims {
                    nameid: Some("s-1-5-21-1-2-3-1001".into()),
                    nii: Some("urn:office:idp:activedirectory".into()),
                    ..Default::default()
                },
            )),
            "2000005",
        ),
    ];
    for (row, bearer, code) in &outer_rows {
        let a = call(&client, &e.url, bearer).await;
        assert_eq!(a.status, 401, "§1b {row}: {} {}", a.status, a.diag);
        assert!(
            a.diag.contains(code),
            "§1b {row}: expected {code}, got {}",
            a.diag
        );
    }
    // 3: an enabled partner is required — a token from an application with no partner here
    let other_app = sign(&with(
        good.clone(),
        "nameid",
        json!(format!("00000003-0000-0ff1-ce00-000000000000@{REALM}")),
    ));
    let mut c = outer(&other_app, alice());
    c.insert(
        "iss".into(),
        json!(format!("00000003-0000-0ff1-ce00-000000000000@{REALM}")),
    );
    let a = call(&client, &e.url, &jwt::unsigned(&c)).await;
    assert!(
        a.status == 401 && a.diag.contains("2000004") && a.diag.contains("no partner application"),
        "{}",
        a.diag
    );
    // app-only: authenticated, but cannot act on a mailbox
    let a = call(&client, &e.url, &valid).await;
    assert_eq!(a.status, 200);
    assert!(a.body.contains("ErrorAccessDenied"), "{}", a.body);
    // the J16 oversize token: refused before any work — by our 256,000-byte cap (401 IDX10209)
    // or by the HTTP layer's header limit (431, or the connection closed while sending)
    let big = wrap(&sign(&with(
        good.clone(),
        "pad",
        json!("x".repeat(300_000)),
    )));
    let r = client
        .post(format!("{}/EWS/Exchange.asmx", e.url))
        .bearer_auth(&big)
        .body(GET_FOLDER)
        .send()
        .await;
    match r {
        Ok(r) => {
            let status = r.status().as_u16();
            let diag = r
                .headers()
                .get("x-ms-diagnostics")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            assert!(
                status == 401 && diag.contains("IDX10209") || status == 431,
                "{status} {diag}"
            );
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_rate_limited_per_source_without_slowing_valid_callers() {
    let e = env(5).await;
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let (attacker, user) = (from([127, 0, 0, 1]), from([127, 0, 0, 2]));
    let good = wrap(&sign(&actor()));
    let forged = wrap(&jwt::sign_with_header(attacker_key(), &header(key()), &actor()).unwrap());
    for i in 0..5 {
        let a = call(&attacker, &e.url, &forged).await;
        assert_eq!(a.status, 401, "attempt {i}");
    }
    let a = call(&attacker, &e.url, &forged).await;
    assert_eq!(a.status, 429, "{}", a.diag);
    assert!(a.diag.contains("2000011"), "{}", a.diag);
    // the valid caller from another address is not slowed, however often it calls
    for _ in 0..20 {
        assert_eq!(call(&user, &e.url, &good).await.status, 200);
    }
    // and the partner itself is not blocked by forgeries naming it
    let third = from([127, 0, 0, 3]);
    assert_eq!(call(&third, &e.url, &good).await.status, 200);
    // a validated partner spraying user names is limited per partner, across sources
    for i in 0..5u8 {
        let c = from([127, 0, 1, i + 1]);
        let t = jwt::unsigned(&outer(
            &sign(&actor()),
            UserClaims::cloud_user(&format!("nobody{i}@contoso.example"), "1"),
        ));
        assert_eq!(call(&c, &e.url, &t).await.status, 401);
    }
    let a = call(&from([127, 0, 2, 1]), &e.url, &good).await;
    assert_eq!(
        a.status, 429,
        "the partner's own failures exhausted its budget: {}",
        a.diag
    );
}

/// §1b point 3: a partner that signs its own tokens (registered with its own metadata) vouches
/// only for itself. Regression: any enabled partner's key was accepted for whatever `nameid` the
/// token named, so a partner with no roles could act as SfBOnline on any mailbox, and its
/// refused attempts counted against SfBOnline's failure budget until the real Skype got 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_signing_its_own_tokens_cannot_name_another_partner() {
    const EVIL: &str = "11111111-2222-3333-4444-555555555555";
    let e = env(3).await;
    let md = metadata_server(EVIL, attacker_key()).await;
    e.cmdlet(
        "New-PartnerApplication",
        json!({"Name": "EvilApp", "ApplicationIdentifier": EVIL, "Enabled": true,
               "AuthMetadataUrl": format!("{md}/{REALM}/metadata/json/1")}),
    )
    .await
    .unwrap();
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let self_signed = |nameid: &str| {
        let c = with(
            with(actor(), "iss", json!(format!("{EVIL}@{REALM}"))),
            "nameid",
            json!(format!("{nameid}@{REALM}")),
        );
        let actor_token =
            jwt::sign_with_header(attacker_key(), &header(attacker_key()), &c).unwrap();
        jwt::unsigned(&with(
            outer(&actor_token, alice()),
            "iss",
            json!(format!("{nameid}@{REALM}")),
        ))
    };
    // its key is trusted for itself: the token validates, and fails only on its missing roles
    let a = call(&from([127, 0, 3, 1]), &e.url, &self_signed(EVIL)).await;
    assert_eq!(a.status, 401);
    assert!(a.diag.contains("2000008"), "{}", a.diag);
    // naming SfBOnline, from several sources: refused as a token SfBOnline did not get
    for i in 0..5u8 {
        let a = call(
            &from([127, 0, 4, i + 1]),
            &e.url,
            &self_signed(SKYPE_APP_ID),
        )
        .await;
        assert_eq!(a.status, 401, "{}", a.body);
        assert!(a.diag.contains("2000003"), "{}", a.diag);
        assert!(a.diag.contains("may not vouch"), "{}", a.diag);
        assert!(a.www.contains("invalid_token"), "{}", a.www);
    }
    // and none of it counted against SfBOnline: the real Skype token still works
    let good = wrap(&sign(&actor()));
    assert_eq!(call(&from([127, 0, 5, 1]), &e.url, &good).await.status, 200);
}

/// CVE-2025-53786 (spec/security.md): an actor token living longer than the 24 hours an auth
/// server issues at most is refused, whoever signed it. Regression: Exchange set no bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actor_lifetime_is_bounded() {
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let n = now();
    let day = exchange::trust::MAX_ACCEPTED_TOKEN_LIFETIME_SECS;
    let actor_until = |exp: i64| wrap(&sign(&with(actor(), "exp", json!(exp))));
    // nbf is now - 300: exactly 24 h is accepted, a second more is not
    assert_eq!(
        call(&client, &e.url, &actor_until(n - 300 + day))
            .await
            .status,
        200
    );
    let a = call(&client, &e.url, &actor_until(n - 300 + day + 1)).await;
    assert_eq!(a.status, 401);
    assert!(a.diag.contains("IDX10226"), "{}", a.diag);
    let a = call(&client, &e.url, &actor_until(n + 10 * 365 * 86_400)).await;
    assert_eq!(a.status, 401, "{}", a.diag);
}

/// A cached caller never outlives a recipient change that makes its claims resolve differently.
/// Regression: New-Mailbox did not drop the validated-token cache, so a token whose smtp named
/// alice and whose upn named nobody kept acting as alice after a mailbox with that upn appeared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_mailbox_drops_cached_callers() {
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let mut user = alice();
    user.upn = Some("carol@contoso.example".into());
    user.sip = None;
    user.nameid = None;
    let token = jwt::unsigned(&outer(&sign(&actor()), user));
    // alice's smtp resolves, the upn names no mailbox: alice; and the answer is cached
    for _ in 0..2 {
        assert_eq!(call(&client, &e.url, &token).await.status, 200);
    }
    e.cmdlet(
        "New-Mailbox",
        json!({"Name": "Carol", "PrimarySmtpAddress": "carol@contoso.example"}),
    )
    .await
    .unwrap();
    let a = call(&client, &e.url, &token).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.diag.contains("2000005"), "{}", a.diag);
    assert!(a.diag.contains("name different mailboxes"), "{}", a.diag);
}

/// One partner application per ApplicationIdentifier. Regression: a second partner with Skype's
/// identifier was accepted, and which of the two a token meant depended on row order (a disabled
/// duplicate could break F1, and doctor diagnosed the wrong one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_identifier_names_one_partner() {
    let e = env(1_000_000).await;
    for id in [SKYPE_APP_ID.to_owned(), SKYPE_APP_ID.to_uppercase()] {
        let err = e
            .cmdlet(
                "New-PartnerApplication",
                json!({"Name": "Foo", "ApplicationIdentifier": id}),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, exchange::ExchangeError::DuplicateApplicationIdentifier { existing, .. } if existing == "SfBOnline"),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains("Set-PartnerApplication -Identity SfBOnline"),
            "{err}"
        );
    }
    // nothing was created
    let all = e.cmdlet("Get-PartnerApplication", json!({})).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    // nor can another partner be changed to it
    e.cmdlet(
        "New-PartnerApplication",
        json!({"Name": "Other", "ApplicationIdentifier": "22222222-3333-4444-5555-666666666666"}),
    )
    .await
    .unwrap();
    let err = e
        .cmdlet(
            "Set-PartnerApplication",
            json!({"Identity": "Other", "ApplicationIdentifier": SKYPE_APP_ID}),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            exchange::ExchangeError::DuplicateApplicationIdentifier { .. }
        ),
        "{err}"
    );
    // changing a partner's other settings, its identifier unchanged, is fine
    e.cmdlet(
        "Set-PartnerApplication",
        json!({"Identity": "SfBOnline", "ApplicationIdentifier": SKYPE_APP_ID, "Enabled": true}),
    )
    .await
    .unwrap();
    let real = wrap(&sign(&actor()));
    assert_eq!(
        call(&reqwest::Client::new(), &e.url, &real).await.status,
        200
    );
}

/// A partner application bound to another realm refuses the token and says so, with the fix.
/// Regression: the answer was "no partner application has ApplicationIdentifier …; run
/// New-PartnerApplication", a fix that fails because the application exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partner_in_another_realm_is_named_as_such() {
    let e = env(1_000_000).await;
    e.cmdlet(
        "Set-PartnerApplication",
        json!({"Identity": "SfBOnline", "Realm": OTHER_REALM}),
    )
    .await
    .unwrap();
    let a = call(&reqwest::Client::new(), &e.url, &wrap(&sign(&actor()))).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.diag.starts_with("2000004;"), "{}", a.diag);
    assert!(
        a.diag.contains(&format!(
            "realm {OTHER_REALM} of partner application 'SfBOnline'"
        )),
        "{}",
        a.diag
    );
    assert!(
        a.diag
            .contains("Set-PartnerApplication -Identity SfBOnline -Realm"),
        "{}",
        a.diag
    );
}

/// A subscription belongs to the application that created it: another partner acting as the
/// same user can neither read its events nor end it. Regression: only the mailbox was checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_belongs_to_its_application() {
    const OTHER: &str = "33333333-4444-5555-6666-777777777777";
    let e = env(1_000_000).await;
    e.cmdlet("New-MailUser", json!({"Name": "Other-ApplicationAccount", "ExternalEmailAddress": "other@contoso.example"})).await.unwrap();
    e.cmdlet(
        "New-ManagementRoleAssignment",
        json!({"Role": "UserApplication", "User": "Other-ApplicationAccount"}),
    )
    .await
    .unwrap();
    e.cmdlet("New-PartnerApplication", json!({"Name": "Other", "ApplicationIdentifier": OTHER, "Enabled": true, "LinkedAccount": "Other-ApplicationAccount"})).await.unwrap();
    let client = reqwest::Client::new();
    let skype = wrap(&sign(&actor()));
    let other = jwt::unsigned(&with(
        outer(
            &sign(&with(actor(), "nameid", json!(format!("{OTHER}@{REALM}")))),
            alice(),
        ),
        "iss",
        json!(format!("{OTHER}@{REALM}")),
    ));
    let a = call_with(
        &client,
        &e.url,
        &skype,
        &soap(r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let id = a
        .body
        .split("<m:SubscriptionId>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_else(|| panic!("no subscription id: {}", a.body))
        .to_owned();
    let watermark = a
        .body
        .split("<m:Watermark>")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_owned();
    let get_events = soap(&format!(
        "<m:GetEvents><m:SubscriptionId>{id}</m:SubscriptionId><m:Watermark>{watermark}</m:Watermark></m:GetEvents>"
    ));
    let unsubscribe = soap(&format!(
        "<m:Unsubscribe><m:SubscriptionId>{id}</m:SubscriptionId></m:Unsubscribe>"
    ));
    // the other partner, acting as the same user, does not see it
    for op in [&get_events, &unsubscribe] {
        let a = call_with(&client, &e.url, &other, op).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.contains("ErrorSubscriptionNotFound"), "{}", a.body);
    }
    // a watermark it never issued is refused (a client storing it would miss every event)
    let a = call_with(
        &client,
        &e.url,
        &skype,
        &soap(&format!(
            "<m:GetEvents><m:SubscriptionId>{id}</m:SubscriptionId><m:Watermark>99999</m:Watermark></m:GetEvents>"
        )),
    )
    .await;
    assert!(a.body.contains("ErrorInvalidWatermark"), "{}", a.body);
    // its owner does
    let a = call_with(&client, &e.url, &skype, &get_events).await;
    assert!(
        a.body.contains("<m:ResponseCode>NoError</m:ResponseCode>"),
        "{}",
        a.body
    );
    let a = call_with(&client, &e.url, &skype, &unsubscribe).await;
    assert!(
        a.body.contains("<m:ResponseCode>NoError</m:ResponseCode>"),
        "{}",
        a.body
    );
}

/// Set-AuthConfig: a realm or service name that cannot be one is refused (it would silently
/// break every token); a new certificate published at once needs no effective date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_auth_config_refuses_nonsense_and_publishes_at_once() {
    let e = env(1_000_000).await;
    for (param, value, says) in [
        ("Realm", "not a realm!", "is not a tenant realm"),
        ("ServiceName", "exchange", "is not an application id"),
    ] {
        let err = e
            .cmdlet("Set-AuthConfig", json!({ param: value }))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(says), "{err}");
    }
    // nothing changed: tokens still work
    let good = wrap(&sign(&actor()));
    assert_eq!(
        call(&reqwest::Client::new(), &e.url, &good).await.status,
        200
    );
    // an empty realm means "from the auth server", and is accepted
    e.cmdlet("Set-AuthConfig", json!({"Realm": ""}))
        .await
        .unwrap();
    // -NewCertificateThumbprint with -PublishCertificate: current at once, no date needed
    let cert = e
        .cmdlet("New-ExchangeCertificate", json!({}))
        .await
        .unwrap();
    let t = cert[0]["Thumbprint"].as_str().unwrap().to_owned();
    let cfg = e
        .cmdlet(
            "Set-AuthConfig",
            json!({"NewCertificateThumbprint": t, "PublishCertificate": true}),
        )
        .await
        .unwrap();
    assert_eq!(cfg[0]["CurrentCertificateThumbprint"], t, "{cfg:?}");
    // without -PublishCertificate the date is still required
    let cert = e
        .cmdlet("New-ExchangeCertificate", json!({}))
        .await
        .unwrap();
    let t2 = cert[0]["Thumbprint"].as_str().unwrap().to_owned();
    let err = e
        .cmdlet("Set-AuthConfig", json!({"NewCertificateThumbprint": t2}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("NewCertificateEffectiveDate"),
        "{err}"
    );
    // a date alone needs a next certificate to date (it silently did nothing)
    let err = e
        .cmdlet(
            "Set-AuthConfig",
            json!({"NewCertificateEffectiveDate": "2030-01-01"}),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("give -NewCertificateThumbprint"),
        "{err}"
    );
    // and re-dates one that is named
    e.cmdlet(
        "Set-AuthConfig",
        json!({"NewCertificateThumbprint": t2, "NewCertificateEffectiveDate": "2030-01-01"}),
    )
    .await
    .unwrap();
    let cfg = e
        .cmdlet(
            "Set-AuthConfig",
            json!({"NewCertificateEffectiveDate": "2031-01-01"}),
        )
        .await
        .unwrap();
    assert!(cfg[0].to_string().contains("2031-01-01"), "{cfg:?}");
}

fn created_id(body: &str) -> String {
    body.split("ItemId Id=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no ItemId in {body}"))
        .to_owned()
}

/// The compliance archive (Recoverable Items) needs ArchiveApplication for every write, not only
/// for CreateItem. Regression: a partner with UserApplication alone could HardDelete archived
/// items and write user configurations there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_archive_needs_archive_application_for_every_write() {
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let skype = wrap(&sign(&actor()));
    let create = |folder: &str| {
        soap(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>archived</t:Subject></t:Message></m:Items></m:CreateItem>"#
        ))
    };
    let archived = created_id(
        &call_with(&client, &e.url, &skype, &create("recoverableitemspurges"))
            .await
            .body,
    );
    let normal = created_id(
        &call_with(&client, &e.url, &skype, &create("inbox"))
            .await
            .body,
    );
    let archive_folder = soap(
        r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="recoverableitemspurges"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>archived chats</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#,
    );
    let made = call_with(&client, &e.url, &skype, &archive_folder)
        .await
        .body;
    let archive_folder_id = made
        .split(r#"<t:FolderId Id=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no FolderId in {made}"))
        .to_owned();
    e.remove_role("ArchiveApplication").await;
    let delete = soap(&format!(
        r#"<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="{archived}"/><t:ItemId Id="{normal}"/></m:ItemIds></m:DeleteItem>"#
    ));
    let a = call_with(&client, &e.url, &skype, &delete).await;
    let codes = response_codes(&a.body);
    assert_eq!(codes, ["ErrorAccessDenied", "NoError"], "{}", a.body);
    assert!(a.body.contains("ArchiveApplication"), "{}", a.body);
    for op in [
        r#"<m:CreateUserConfiguration><m:UserConfiguration><t:UserConfigurationName Name="X.Y"><t:DistinguishedFolderId Id="recoverableitemspurges"/></t:UserConfigurationName><t:BinaryData>AAAA</t:BinaryData></m:UserConfiguration></m:CreateUserConfiguration>"#,
        r#"<m:DeleteUserConfiguration><m:UserConfigurationName Name="X.Y"><t:DistinguishedFolderId Id="recoverableitemspurges"/></m:UserConfigurationName></m:DeleteUserConfiguration>"#,
    ] {
        let a = call_with(&client, &e.url, &skype, &soap(op)).await;
        assert!(a.body.contains("ErrorAccessDenied"), "{op}: {}", a.body);
    }
    // nor be changed or moved out, and nothing may be moved in
    let update = soap(&format!(
        r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{archived}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>tampered</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    ));
    let move_out = soap(&format!(
        r#"<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="inbox"/></m:ToFolderId><m:ItemIds><t:ItemId Id="{archived}"/></m:ItemIds></m:MoveItem>"#
    ));
    let kept = created_id(
        &call_with(&client, &e.url, &skype, &create("inbox"))
            .await
            .body,
    );
    let move_in = soap(&format!(
        r#"<m:MoveItem><m:ToFolderId><t:DistinguishedFolderId Id="recoverableitemspurges"/></m:ToFolderId><m:ItemIds><t:ItemId Id="{kept}"/></m:ItemIds></m:MoveItem>"#
    ));
    let folder_out = soap(&format!(
        r#"<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:FolderId Id="{archive_folder_id}"/></m:FolderIds></m:DeleteFolder>"#
    ));
    let folder_in = soap(
        r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="recoverableitemspurges"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>hidden</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#,
    );
    for (what, op) in [
        ("update", &update),
        ("move out", &move_out),
        ("move in", &move_in),
        ("create a folder in", &folder_in),
        ("delete a folder in", &folder_out),
    ] {
        let a = call_with(&client, &e.url, &skype, op).await;
        assert!(a.body.contains("ErrorAccessDenied"), "{what}: {}", a.body);
    }
    // the archived item is still there
    let get = soap(&format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{archived}"/></m:ItemIds></m:GetItem>"#
    ));
    let a = call_with(&client, &e.url, &skype, &get).await;
    assert!(
        a.body.contains("<m:ResponseCode>NoError</m:ResponseCode>"),
        "{}",
        a.body
    );
}

/// One request cannot make the server hold unbounded item content. Regression: GetItem naming
/// one big item a thousand times built the whole multi-gigabyte response in memory (the process
/// aborted), and FindItem loaded bodies it never returns, once per repeated parent folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_cannot_make_the_server_hold_unbounded_content() {
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let skype = wrap(&sign(&actor()));
    let big = "x".repeat(4 << 20);
    let create = soap(&format!(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="drafts"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>big</t:Subject><t:Body BodyType="Text">{big}</t:Body></t:Message></m:Items></m:CreateItem>"#
    ));
    let id = created_id(&call_with(&client, &e.url, &skype, &create).await.body);
    let ids: String = (0..20)
        .map(|_| format!(r#"<t:ItemId Id="{id}"/>"#))
        .collect();
    let get = soap(&format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ItemIds>{ids}</m:ItemIds></m:GetItem>"#
    ));
    let a = call_with(&client, &e.url, &skype, &get).await;
    let ok = a
        .body
        .matches("<m:ResponseCode>NoError</m:ResponseCode>")
        .count();
    let stopped = a.body.matches("ErrorBatchProcessingStopped").count();
    assert_eq!(ok + stopped, 20, "{}", &a.body[..a.body.len().min(400)]);
    assert!(
        (1..=17).contains(&ok) && stopped >= 3,
        "ok {ok}, stopped {stopped}"
    );
    // FindItem: a bounded number of parent folders
    let parents: String = (0..101)
        .map(|_| r#"<t:DistinguishedFolderId Id="drafts"/>"#)
        .collect();
    let find = soap(&format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds>{parents}</m:ParentFolderIds></m:FindItem>"#
    ));
    let a = call_with(&client, &e.url, &skype, &find).await;
    assert!(a.body.contains("at most 100 are searched"), "{}", a.body);
}

/// Exchange reads at most 1 MB of a metadata document and follows no redirect. Regression: it
/// read whatever the server sent (a subscriber's or metadata server's reply could grow Exchange
/// by gigabytes) and followed redirects (steering signed requests, https to http).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_fetches_are_bounded_and_never_redirected() {
    let e = env(1_000_000).await;
    let app = axum::Router::new()
        .route("/huge", get(|| async { "x".repeat(2 << 20) }))
        .route(
            "/moved",
            get(|| async {
                (
                    axum::http::StatusCode::FOUND,
                    [("location", "http://127.0.0.1:1/elsewhere")],
                )
            }),
        );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await });
    for (path, says) in [("huge", "larger than 1048576 bytes"), ("moved", "HTTP 302")] {
        let err = e
            .cmdlet(
                "New-AuthServer",
                json!({"Name": format!("X{path}"), "AuthMetadataUrl": format!("{base}/{path}")}),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains(says), "{path}: {err}");
    }
}

/// CreateItem answers each item on its own. Regression: one invalid item failed every item of
/// the request (exchangelib's bulk_create got no ids at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_item_answers_each_item_on_its_own() {
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let skype = wrap(&sign(&actor()));
    let op = soap(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="conversationhistory"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>good</t:Subject></t:Message><t:Message><t:ItemClass>IPM.Note.Ünicode</t:ItemClass><t:Subject>bad</t:Subject></t:Message><t:Message><t:Subject>good too</t:Subject></t:Message></m:Items></m:CreateItem>"#,
    );
    let a = call_with(&client, &e.url, &skype, &op).await;
    let codes = response_codes(&a.body);
    assert_eq!(
        codes,
        ["NoError", "ErrorInvalidValueForProperty", "NoError"],
        "{}",
        a.body
    );
    assert_eq!(a.body.matches("<t:ItemId ").count(), 2, "{}", a.body);
}

/// The validated-token cache answers only for exactly the token that authenticated. Its fast
/// path reads the header's bytes (`Bearer <token>`) without the parse the other forms get; those
/// forms must answer as it does, and a token that differs by one character (longer, shorter,
/// changed) is validated in full and refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_cache_answers_only_the_exact_token() {
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let token = wrap(&sign(&actor()));
    let with_header = |value: String| {
        let client = client.clone();
        let url = e.url.clone();
        async move {
            client
                .post(format!("{url}/EWS/Exchange.asmx"))
                .header("authorization", value)
                .header("content-type", "text/xml")
                .body(GET_FOLDER)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // validated, then cached, then served from the cache
    for _ in 0..3 {
        assert_eq!(with_header(format!("Bearer {token}")).await, 200);
    }
    // the other spellings of the same bearer go the long way and agree
    for value in [
        format!("bearer {token}"),
        format!("BEARER {token}"),
        format!("Bearer  {token}"),
        format!("Bearer {token} "),
    ] {
        assert_eq!(with_header(value.clone()).await, 200, "{}", &value[..10]);
    }
    // one character more, less or different is another token
    let mut changed = token.clone().into_bytes();
    let at = changed.len() / 2;
    changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(changed).unwrap();
    for other in [
        format!("{token}A"),
        token[..token.len() - 2].to_owned(),
        changed,
    ] {
        assert_eq!(with_header(format!("Bearer {other}")).await, 401);
    }
    // a cached request's record is as full as a validated one's
    let last =
        e.ex.traffic()
            .into_iter()
            .rev()
            .find(|r| r.verdict == "ok")
            .unwrap();
    assert_eq!(
        last.actor.as_deref(),
        Some(&*format!("{SKYPE_APP_ID}@{REALM}"))
    );
    assert!(
        last.claims.get().contains("actortoken"),
        "{}",
        last.claims.get()
    );
    // a trust change empties the cache: a disabled partner's cached token is refused at once
    e.cmdlet(
        "Set-PartnerApplication",
        json!({"Identity": "SfBOnline", "Enabled": false}),
    )
    .await
    .unwrap();
    assert_eq!(with_header(format!("Bearer {token}")).await, 401);
    e.cmdlet(
        "Set-PartnerApplication",
        json!({"Identity": "SfBOnline", "Enabled": true}),
    )
    .await
    .unwrap();
    assert_eq!(with_header(format!("Bearer {token}")).await, 200);
}

fn get_user_settings(users: &[&str], settings: &[&str]) -> String {
    let users: String = users
        .iter()
        .map(|u| format!("<a:User><a:Mailbox>{u}</a:Mailbox></a:User>"))
        .collect();
    let settings: String = settings
        .iter()
        .map(|s| format!("<a:Setting>{s}</a:Setting>"))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://schemas.microsoft.com/exchange/2010/Autodiscover" xmlns:wsa="http://www.w3.org/2005/08/addressing"><s:Header><a:RequestedServerVersion>Exchange2013</a:RequestedServerVersion><wsa:Action>http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettings</wsa:Action></s:Header><s:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users>{users}</a:Users><a:RequestedSettings>{settings}</a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage></s:Body></s:Envelope>"#
    )
}

async fn post(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    body: String,
) -> (u16, String, String) {
    let mut r = client
        .post(url)
        .header("content-type", "text/xml; charset=utf-8")
        .body(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let www = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (r.status().as_u16(), www, r.text().await.unwrap())
}

/// The `Value` of setting `name` in the `n`th (0-based) UserResponse of a GetUserSettings answer.
fn user_response(body: &str, n: usize) -> &str {
    body.split("<UserResponse>").nth(n + 1).unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autodiscover_soap_answers_each_user_and_setting() {
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let token = wrap(&sign(&actor()));
    let ews = format!("{}/EWS/Exchange.asmx", e.url);
    // the path is matched as IIS matches it: case and a trailing slash ignored
    let svc = format!("{}/Autodiscover/Autodiscover.svc/", e.url);
    let body = get_user_settings(
        &[
            "alice@contoso.example",
            "BOB@contoso.example",
            "nobody@contoso.example",
            "alice@fabrikam.example",
            "not an address",
        ],
        &[
            "UserDisplayName",
            "ExternalEwsUrl",
            "InternalEwsUrl",
            "EwsSupportedSchemas",
            "AutoDiscoverSMTPAddress",
            "AlternateMailboxes",
            "NoSuchSetting",
        ],
    );
    let (status, _, text) = post(&client, &svc, Some(&token), body.clone()).await;
    assert_eq!(status, 200, "{text}");
    let alice = user_response(&text, 0);
    assert!(alice.contains("<ErrorCode>NoError</ErrorCode>"), "{alice}");
    for want in [
        "<Name>UserDisplayName</Name><Value>Alice</Value>".to_owned(),
        format!("<Name>ExternalEwsUrl</Name><Value>{ews}</Value>"),
        format!("<Name>InternalEwsUrl</Name><Value>{ews}</Value>"),
        "<Name>AutoDiscoverSMTPAddress</Name><Value>alice@contoso.example</Value>".to_owned(),
        "<ErrorCode>SettingIsNotAvailable</ErrorCode>".to_owned(),
        "<ErrorCode>InvalidSetting</ErrorCode>".to_owned(),
        "<SettingName>NoSuchSetting</SettingName>".to_owned(),
    ] {
        assert!(alice.contains(&want), "{want} not in {alice}");
    }
    // Bob: another mailbox, discoverable by a partner holding UserApplication; the address as
    // stored comes back, whatever case was asked
    let bob = user_response(&text, 1);
    assert!(bob.contains("<Value>bob@contoso.example</Value>"), "{bob}");
    for (n, code) in [(2, "InvalidUser"), (3, "InvalidDomain"), (4, "InvalidUser")] {
        let r = user_response(&text, n);
        assert!(
            r.contains(&format!("<ErrorCode>{code}</ErrorCode>")),
            "user {n}: {r}"
        );
        assert!(
            r.contains("<UserSettings/>"),
            "user {n} has no settings: {r}"
        );
    }
    // the request is in the traffic record, as the token's user
    let rec =
        e.ex.traffic()
            .into_iter()
            .rev()
            .find(|r| r.operation == "Autodiscover GetUserSettings")
            .expect("recorded");
    assert_eq!(rec.verdict, "ok");
    assert_eq!(rec.user.as_deref(), Some("alice@contoso.example"));

    // authenticated exactly as EWS: no token, a bad one
    let (status, www, _) = post(&client, &svc, None, body.clone()).await;
    assert_eq!(status, 401);
    assert!(www.starts_with("Bearer"), "{www}");
    let forged = wrap(&jwt::sign_rs256(attacker_key(), &actor(), true).unwrap());
    let (status, www, _) = post(&client, &svc, Some(&forged), body.clone()).await;
    assert_eq!(status, 401);
    assert!(www.contains("invalid_token"), "{www}");
    // a request it cannot read: a SOAP fault that says why
    let (status, _, text) = post(
        &client,
        &svc,
        Some(&token),
        get_user_settings(&["alice@contoso.example"], &[]),
    )
    .await;
    assert_eq!(status, 500);
    assert!(text.contains("<faultcode>s:Client</faultcode>"), "{text}");
    assert!(text.contains("a:Setting"), "{text}");
    // too large to read
    let (status, _, _) = post(&client, &svc, Some(&token), "x".repeat(70_000)).await;
    assert_eq!(status, 413);
    // GET is not the SOAP service
    let r = client.get(&svc).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autodiscover_pox_and_v2() {
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let token = wrap(&sign(&actor()));
    let ews = format!("{}/EWS/Exchange.asmx", e.url);
    let pox_url = format!("{}/autodiscover/autodiscover.xml", e.url);
    let pox = |email: &str, schema: &str| {
        format!(
            r#"<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>{email}</EMailAddress><AcceptableResponseSchema>{schema}</AcceptableResponseSchema></Request></Autodiscover>"#
        )
    };
    let outlook = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
    let (status, _, text) = post(
        &client,
        &pox_url,
        Some(&token),
        pox("alice@contoso.example", outlook),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains(&format!("<EwsUrl>{ews}</EwsUrl>")), "{text}");
    assert!(
        text.contains("<AutoDiscoverSMTPAddress>alice@contoso.example</AutoDiscoverSMTPAddress>")
    );
    for (body, code) in [
        (
            pox("nobody@contoso.example", outlook),
            "<ErrorCode>500</ErrorCode>",
        ),
        (
            pox(
                "alice@contoso.example",
                "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006",
            ),
            "<ErrorCode>601</ErrorCode>",
        ),
        ("<Autodiscover/>".to_owned(), "<ErrorCode>600</ErrorCode>"),
    ] {
        let (status, _, text) = post(&client, &pox_url, Some(&token), body).await;
        assert_eq!(status, 200, "{text}");
        assert!(text.contains(code), "{code} not in {text}");
    }
    let (status, www, _) = post(
        &client,
        &pox_url,
        None,
        pox("alice@contoso.example", outlook),
    )
    .await;
    assert_eq!(status, 401);
    assert!(www.starts_with("Bearer"), "{www}");

    // v2: anonymous, from the domain alone
    let get = |path: &str| {
        let client = client.clone();
        let url = format!("{}{path}", e.url);
        async move {
            let r = client.get(url).send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, v) =
        get("/autodiscover/autodiscover.json/v1.0/alice@contoso.example?Protocol=EWS").await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({"Protocol": "EWS", "Url": ews}));
    // a mailbox that does not exist gets the same answer: v2 tells nothing about who exists
    let (status, v2) =
        get("/AutoDiscover/AutoDiscover.json/v1.0/nobody%40contoso.example?protocol=ews").await;
    assert_eq!((status, &v2), (200, &v));
    let (status, v) =
        get("/autodiscover/autodiscover.json?Email=alice@contoso.example&Protocol=AutodiscoverV1")
            .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Url"], format!("{}/autodiscover/autodiscover.xml", e.url));
    for (path, want_status, code) in [
        (
            "/autodiscover/autodiscover.json/v1.0/alice@contoso.example?Protocol=Rest",
            400,
            "InvalidProtocol",
        ),
        (
            "/autodiscover/autodiscover.json/v1.0/alice@contoso.example",
            400,
            "InvalidProtocol",
        ),
        (
            "/autodiscover/autodiscover.json/v1.0/alice@fabrikam.example?Protocol=EWS",
            404,
            "InvalidDomain",
        ),
        (
            "/autodiscover/autodiscover.json?Protocol=EWS",
            400,
            "InvalidEmailAddress",
        ),
        // ProxyShell's shape: the "address" names a path on another host; it is only ever an
        // address to look up, never a path to forward to
        (
            "/autodiscover/autodiscover.json?@evil.example/EWS/Exchange.asmx?&Email=autodiscover/autodiscover.json%3F@evil.example&Protocol=EWS",
            404,
            "InvalidDomain",
        ),
    ] {
        let (status, v) = get(path).await;
        assert_eq!(status, want_status, "{path}: {v}");
        assert_eq!(v["ErrorCode"], code, "{path}: {v}");
        assert!(
            v["ErrorMessage"].as_str().is_some_and(|m| !m.is_empty()),
            "{v}"
        );
    }
    let before = e.ex.traffic().len();
    let (status, _) = get(
        "/autodiscover/autodiscover.json/v1.0/alice@contoso.example/EWS/Exchange.asmx?Protocol=EWS",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(e.ex.traffic().len(), before, "nothing reached EWS");
}

/// Exchange's own auth metadata: a partner that reads it can verify the tokens Exchange signs
/// (F2), before and across a certificate rollover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchange_metadata_verifies_the_tokens_exchange_signs() {
    use s2s_proto::validate::{ExpectedAudience, Policy, TrustedIssuer, validate_signed};
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let fetch = || async {
        let r = client
            .get(format!("{}/Autodiscover/Metadata/Json/1", e.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        r.json::<AcsMetadata>().await.unwrap()
    };
    let policy = |md: &AcsMetadata| {
        let keys = md
            .keys
            .iter()
            .map(|k| {
                s2s_proto::Certificate::from_base64(&k.key_value.value)
                    .unwrap()
                    .verify_key()
            })
            .collect();
        Policy::new(
            ExpectedAudience::Service {
                app_id: SKYPE_APP_ID.into(),
                hosts: vec!["skype.contoso.example".into()],
                realm: REALM.into(),
            },
            Some(md.realm.clone()),
            vec![TrustedIssuer {
                issuer: md.issuer.clone(),
                keys,
            }],
        )
    };
    let md = fetch().await;
    assert_eq!(md.issuer, format!("{EXCHANGE_APP_ID}@{REALM}"));
    assert_eq!(md.realm, REALM);
    assert_eq!(md.keys.len(), 1, "the current certificate only");
    assert!(
        md.endpoints[0]
            .location
            .ends_with("/autodiscover/metadata/json/1")
    );
    let f2 =
        e.ex.sign_outbound_token(SKYPE_APP_ID, "skype.contoso.example")
            .await
            .unwrap();
    let ok = validate_signed(&f2, &policy(&md), now()).expect("verifies with the metadata's key");
    assert_eq!(ok.issuer, md.issuer);
    // a staged rollover: the next certificate is published before Exchange signs with it
    let cert = e
        .cmdlet("New-ExchangeCertificate", json!({}))
        .await
        .unwrap();
    let next = cert[0]["Thumbprint"].as_str().unwrap().to_owned();
    e.cmdlet(
        "Set-AuthConfig",
        json!({"NewCertificateThumbprint": next, "NewCertificateEffectiveDate": "2099-01-01"}),
    )
    .await
    .unwrap();
    let staged = fetch().await;
    assert_eq!(staged.keys.len(), 2, "current and next");
    e.cmdlet(
        "Set-AuthConfig",
        json!({"NewCertificateThumbprint": next, "PublishCertificate": true}),
    )
    .await
    .unwrap();
    let f2 =
        e.ex.sign_outbound_token(SKYPE_APP_ID, "skype.contoso.example")
            .await
            .unwrap();
    // signed with the new certificate, and verified by the keys read before the switch
    validate_signed(&f2, &policy(&staged), now()).expect("the staged key verifies it");
    let err = validate_signed(&f2, &policy(&md), now()).unwrap_err();
    assert_eq!(err.code(), "IDX10503", "{err}");
}

/// Set-WebServicesVirtualDirectory decides what Autodiscover announces: InternalEwsUrl (POX
/// EXCH), ExternalEwsUrl (POX EXPR, the v2 lookup); `$null` puts a URL back to its default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_virtual_directory_urls_are_what_autodiscover_announces() {
    let e = env(1_000_000).await;
    let client = reqwest::Client::new();
    let token = wrap(&sign(&actor()));
    let default = format!("{}/EWS/Exchange.asmx", e.url);
    let external = "https://mail.contoso.example/EWS/Exchange.asmx";
    let vdir = e
        .cmdlet("Get-WebServicesVirtualDirectory", json!({}))
        .await
        .unwrap();
    assert_eq!(vdir[0]["InternalUrl"], default.as_str());
    assert_eq!(vdir[0]["ExternalUrl"], default.as_str());
    let vdir = e
        .cmdlet(
            "Set-WebServicesVirtualDirectory",
            json!({"Identity": "EWS (Default Web Site)", "ExternalUrl": external}),
        )
        .await
        .unwrap();
    assert_eq!(vdir[0]["ExternalUrl"], external);
    assert_eq!(vdir[0]["InternalUrl"], default.as_str());
    let svc = format!("{}/autodiscover/autodiscover.svc", e.url);
    let (_, _, text) = post(
        &client,
        &svc,
        Some(&token),
        get_user_settings(
            &["alice@contoso.example"],
            &["InternalEwsUrl", "ExternalEwsUrl"],
        ),
    )
    .await;
    assert!(
        text.contains(&format!(
            "<Name>InternalEwsUrl</Name><Value>{default}</Value>"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "<Name>ExternalEwsUrl</Name><Value>{external}</Value>"
        )),
        "{text}"
    );
    let v: Value = client
        .get(format!(
            "{}/autodiscover/autodiscover.json/v1.0/alice@contoso.example?Protocol=EWS",
            e.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["Url"], external);
    let pox = r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@contoso.example</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"#;
    let (_, _, text) = post(
        &client,
        &format!("{}/autodiscover/autodiscover.xml", e.url),
        Some(&token),
        pox.into(),
    )
    .await;
    assert!(
        text.contains(&format!(
            "<Type>EXCH</Type><Server>{HOST}</Server><EwsUrl>{default}</EwsUrl>"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "<Type>EXPR</Type><Server>{HOST}</Server><EwsUrl>{external}</EwsUrl>"
        )),
        "{text}"
    );
    // refusals say what is wrong, and change nothing
    for (url, why) in [
        (
            "mail.contoso.example/EWS/Exchange.asmx",
            "not an absolute URL",
        ),
        (
            "ftp://mail.contoso.example/EWS/Exchange.asmx",
            "not http or https",
        ),
        ("https://mail.contoso.example/owa", "/EWS/Exchange.asmx"),
        (
            "https://u:p@mail.contoso.example/EWS/Exchange.asmx",
            "credentials",
        ),
        (
            "https://mail.contoso.example/EWS/Exchange.asmx?x=1",
            "query",
        ),
    ] {
        let err = e
            .cmdlet(
                "Set-WebServicesVirtualDirectory",
                json!({"InternalUrl": url}),
            )
            .await
            .unwrap_err();
        assert!(err.to_string().contains(why), "{url}: {err}");
    }
    let err = e
        .cmdlet(
            "Get-WebServicesVirtualDirectory",
            json!({"Identity": "OWA (Default Web Site)"}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("EWS (Default Web Site)"), "{err}");
    let err = e
        .cmdlet("Set-WebServicesVirtualDirectory", json!({}))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("-InternalUrl or -ExternalUrl"),
        "{err}"
    );
    // $null: back to the default
    let vdir = e
        .cmdlet(
            "Set-WebServicesVirtualDirectory",
            json!({"ExternalUrl": null}),
        )
        .await
        .unwrap();
    assert_eq!(vdir[0]["ExternalUrl"], default.as_str());
}
