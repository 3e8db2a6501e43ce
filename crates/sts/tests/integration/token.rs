//! The token endpoint: the F1 happy path, every refusal, expiry, and the first-party verify-keys
//! endpoint (F2).

use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::wire::{JWT_BEARER_ASSERTION, TokenRequest};
use s2s_proto::{
    Certificate, ExpectedAudience, OuterTokenSpec, Policy, PrincipalName, S2sToken, TokenError,
    TrustedIssuer, UserClaims, b64, jwt, validate_s2s,
};
use serde_json::{Map, Value};
use sts::{NewCredential, NewServicePrincipal};

use crate::common::*;

/// The policy Exchange would apply, with the keys from the STS metadata.
async fn exchange_policy(lab: &Lab) -> Policy {
    let md = lab.public.metadata(DOMAIN).await.unwrap();
    let keys = md
        .signing_certificates()
        .unwrap()
        .iter()
        .map(Certificate::verify_key)
        .collect();
    Policy::new(
        ExpectedAudience::Service {
            app_id: EXCHANGE_APP_ID.into(),
            hosts: vec![EXCHANGE_HOST.into()],
            realm: lab.realm.clone(),
        },
        Some(lab.realm.clone()),
        vec![TrustedIssuer {
            issuer: md.issuer,
            keys,
        }],
    )
}

fn request(client_id: &str, assertion: String, resource: String) -> TokenRequest {
    TokenRequest {
        grant_type: "client_credentials".into(),
        client_id: Some(client_id.into()),
        client_assertion_type: Some(JWT_BEARER_ASSERTION.into()),
        client_assertion: Some(assertion),
        resource: Some(resource),
        ..Default::default()
    }
}

#[tokio::test]
async fn skype_gets_an_actor_token_for_exchange() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let skype = lab
        .admin
        .get_msol_service_principal_by_app_id(&lab.realm, SKYPE_APP_ID)
        .await
        .unwrap();
    let client_id = format!("{SKYPE_APP_ID}@{}", lab.realm);
    let resp = lab
        .public
        .token(
            &lab.realm,
            &request(
                &client_id,
                lab.assertion(SKYPE_APP_ID, SKYPE_KEY),
                lab.exchange_resource(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(resp.token_type, "Bearer");
    assert_eq!(resp.expires_in, "3600");
    assert_eq!(resp.not_before, (NOW - 300).to_string());
    assert_eq!(resp.expires_on, (NOW + 3600).to_string());
    assert_eq!(resp.resource, lab.exchange_resource());

    let policy = exchange_policy(&lab).await;
    let v = validate_s2s(&resp.access_token, &policy, lab.now()).unwrap();
    let S2sToken::AppOnly { actor, app } = &v else {
        panic!("expected an app-only token");
    };
    assert_eq!(app, &PrincipalName::app(SKYPE_APP_ID, &lab.realm));
    let iss = format!("{ACS_APP_ID}@{}", lab.realm);
    let c = &actor.claims;
    assert_eq!(c["iss"], iss.as_str());
    assert_eq!(c["identityprovider"], iss.as_str());
    assert_eq!(c["nameid"], client_id.as_str());
    assert_eq!(c["aud"], lab.exchange_resource().as_str());
    assert_eq!(c["trustedfordelegation"], "true");
    assert_eq!(c["oid"], skype.object_id.as_str());
    assert_eq!(c["sub"], skype.object_id.as_str());
    assert_eq!(c["iat"], NOW);
    assert_eq!(c["nbf"], NOW - 300, "nbf is backdated by the skew");
    assert_eq!(c["exp"], NOW + 3600);
    assert_eq!(actor.header["alg"], "RS256");
    assert_eq!(actor.header["x5t"], actor.header["kid"]);

    // trusted for delegation: usable inside an outer token naming a user (flow F1)
    let outer = OuterTokenSpec {
        aud: PrincipalName::service(EXCHANGE_APP_ID, EXCHANGE_HOST, &lab.realm),
        iss: PrincipalName::app(SKYPE_APP_ID, &lab.realm),
        nbf: NOW,
        exp: NOW + 1800,
        user: UserClaims::cloud_user("alice@contoso.example", "1003200012345678"),
        actor_token: resp.access_token.clone(),
    }
    .encode();
    let v = validate_s2s(&outer, &policy, lab.now()).unwrap();
    assert!(v.user().is_some());

    // an independent JOSE implementation agrees with the signature
    let cert = lab
        .public
        .metadata(&lab.realm)
        .await
        .unwrap()
        .signing_certificates()
        .unwrap()[0]
        .clone();
    let dk = jsonwebtoken::DecodingKey::from_rsa_pem(cert.to_pem().as_bytes()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.set_audience(&[lab.exchange_resource()]);
    validation.set_issuer(&[iss]);
    let decoded = jsonwebtoken::decode::<Value>(&resp.access_token, &dk, &validation).unwrap();
    assert_eq!(decoded.claims["nameid"], client_id.as_str());

    // the response is not cached
    let raw = lab
        .http
        .post(lab.token_endpoint())
        .form(&lab.form(
            SKYPE_APP_ID,
            &lab.assertion(SKYPE_APP_ID, SKYPE_KEY),
            &lab.exchange_resource(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 200);
    assert_eq!(raw.headers()["cache-control"], "no-store");
    let body: Value = raw.json().await.unwrap();
    assert!(
        body["expires_in"].is_string(),
        "numbers travel as strings: {body}"
    );
}

#[tokio::test]
async fn domain_realm_and_bare_client_id_are_accepted() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let (h, mut c) = lab.assertion_parts(SKYPE_APP_ID, SKYPE_KEY);
    // the assertion may name the endpoint as the client called it
    c.insert(
        "aud".into(),
        format!("{}/{DOMAIN}/tokens/OAuth/2", lab.base).into(),
    );
    let assertion = jwt::sign_with_header(key(SKYPE_KEY), &h, &c).unwrap();
    let mut form = lab.form(
        SKYPE_APP_ID,
        &assertion,
        &format!("{EXCHANGE_APP_ID}/{EXCHANGE_HOST}@{DOMAIN}"),
    );
    form[1].1 = SKYPE_APP_ID.into();
    let (status, body) = lab.post_token(DOMAIN, &form).await;
    assert_eq!(status, 200, "{body}");
    // the token names the realm, never the domain
    assert_eq!(body["resource"], lab.exchange_resource().as_str());
    // the ACS principal name is an accepted audience too
    let (h, mut c) = lab.assertion_parts(SKYPE_APP_ID, SKYPE_KEY);
    c.insert("aud".into(), format!("{ACS_APP_ID}@{}", lab.realm).into());
    let assertion = jwt::sign_with_header(key(SKYPE_KEY), &h, &c).unwrap();
    let (status, body) = lab
        .post_token(
            &lab.realm,
            &lab.form(SKYPE_APP_ID, &assertion, &lab.exchange_resource()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn tenant_application_with_a_certificate() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let app = "0a1b2c3d-0000-4000-8000-00000000a001";
    lab.admin
        .new_msol_service_principal(
            &lab.realm,
            &NewServicePrincipal {
                display_name: "Contoso app".into(),
                app_principal_id: Some(app.into()),
                credential: Some(NewCredential {
                    kind: "Asymmetric".into(),
                    usage: Some("Verify".into()),
                    value: key(APP_KEY).certificate().to_base64(),
                    start_date: None,
                    end_date: Some("2027-01-20T00:00:00Z".into()),
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let (status, body) = lab
        .post_token(
            &lab.realm,
            &lab.form(app, &lab.assertion(app, APP_KEY), &lab.exchange_resource()),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt::Compact::parse(body["access_token"].as_str().unwrap())
        .unwrap()
        .claims;
    assert_eq!(claims["trustedfordelegation"], "false");
    // after the credential's EndDate the certificate no longer authenticates the app
    lab.clock.set(1_800_500_000);
    let (status, body) = lab
        .post_token(
            &lab.realm,
            &lab.form(app, &lab.assertion(app, APP_KEY), &lab.exchange_resource()),
        )
        .await;
    assert_eq!((status, assert_aadsts(&body)), (401, 700027), "{body}");
    assert!(
        description(&body).contains("New-MsolServicePrincipalCredential"),
        "{body}"
    );
}

fn sign(header: &Map<String, Value>, claims: &Map<String, Value>, key_n: usize) -> String {
    jwt::sign_with_header(key(key_n), header, claims).unwrap()
}

/// Changes a valid assertion's header and claims.
type Tweak<'a> = dyn Fn(&mut Map<String, Value>, &mut Map<String, Value>) + 'a;

/// One refusal: what is sent, and the status, AADSTS number and a phrase of the answer.
struct Case {
    name: &'static str,
    realm: String,
    form: Vec<(String, String)>,
    status: u16,
    code: u64,
    phrase: &'static str,
}

#[tokio::test]
async fn token_endpoint_refusals() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    // the tenant's statement of trust for F2: Exchange's auth certificate on 00000004
    lab.admin
        .new_msol_service_principal_credential(
            &lab.realm,
            SKYPE_APP_ID,
            &NewCredential {
                kind: "Asymmetric".into(),
                usage: Some("Verify".into()),
                value: key(EXCHANGE_KEY).certificate().to_base64(),
                start_date: None,
                end_date: None,
            },
        )
        .await
        .unwrap();
    let other = lab
        .admin
        .create_tenant("fabrikam.example", None)
        .await
        .unwrap()
        .realm;
    let res = lab.exchange_resource();
    let good = |lab: &Lab| lab.form(SKYPE_APP_ID, &lab.assertion(SKYPE_APP_ID, SKYPE_KEY), &res);
    let with = |mut f: Vec<(String, String)>, k: &str, v: &str| {
        match f.iter_mut().find(|(n, _)| n == k) {
            Some(p) => p.1 = v.into(),
            None => f.push((k.into(), v.into())),
        }
        f
    };
    let without = |f: Vec<(String, String)>, k: &str| {
        f.into_iter().filter(|(n, _)| n != k).collect::<Vec<_>>()
    };
    let tweaked = |lab: &Lab, tweak: &Tweak<'_>, key_n: usize| {
        let (mut h, mut c) = lab.assertion_parts(SKYPE_APP_ID, SKYPE_KEY);
        tweak(&mut h, &mut c);
        lab.form(SKYPE_APP_ID, &sign(&h, &c, key_n), &res)
    };
    let now = lab.now();
    let realm = lab.realm.clone();

    let cases = vec![
        Case {
            name: "unknown realm",
            realm: "9a9a9a9a-2222-4333-8444-555555555555".into(),
            form: good(&lab),
            status: 404,
            code: 90002,
            phrase: "not found",
        },
        Case {
            name: "missing grant_type",
            realm: realm.clone(),
            form: without(good(&lab), "grant_type"),
            status: 400,
            code: 900144,
            phrase: "'grant_type'",
        },
        Case {
            name: "missing client_id",
            realm: realm.clone(),
            form: without(good(&lab), "client_id"),
            status: 400,
            code: 900144,
            phrase: "'client_id'",
        },
        Case {
            name: "missing resource",
            realm: realm.clone(),
            form: without(good(&lab), "resource"),
            status: 400,
            code: 900144,
            phrase: "'resource'",
        },
        Case {
            name: "no client credential",
            realm: realm.clone(),
            form: without(good(&lab), "client_assertion"),
            status: 401,
            code: 7000218,
            phrase: "client_assertion' or 'client_secret'",
        },
        Case {
            name: "assertion without type",
            realm: realm.clone(),
            form: without(good(&lab), "client_assertion_type"),
            status: 400,
            code: 900144,
            phrase: "'client_assertion_type'",
        },
        Case {
            name: "wrong assertion type",
            realm: realm.clone(),
            form: with(
                good(&lab),
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
            ),
            status: 400,
            code: 90100,
            phrase: "jwt-bearer",
        },
        Case {
            name: "assertion and secret",
            realm: realm.clone(),
            form: with(good(&lab), "client_secret", "x"),
            status: 400,
            code: 90023,
            phrase: "exactly one",
        },
        Case {
            name: "unsupported grant",
            realm: realm.clone(),
            form: with(good(&lab), "grant_type", "password"),
            status: 400,
            code: 70003,
            phrase: "client_credentials",
        },
        Case {
            name: "unknown client",
            realm: realm.clone(),
            form: with(
                good(&lab),
                "client_id",
                &format!("11111111-2222-3333-4444-555555555555@{realm}"),
            ),
            status: 400,
            code: 700016,
            phrase: "was not found in the directory",
        },
        Case {
            name: "client in another realm",
            realm: realm.clone(),
            form: with(good(&lab), "client_id", &format!("{SKYPE_APP_ID}@{other}")),
            status: 400,
            code: 700016,
            phrase: "names realm",
        },
        Case {
            name: "client_id with a host",
            realm: realm.clone(),
            form: with(
                good(&lab),
                "client_id",
                &format!("{SKYPE_APP_ID}/x.example@{realm}"),
            ),
            status: 400,
            code: 90100,
            phrase: "without a /host",
        },
        Case {
            name: "alg none",
            realm: realm.clone(),
            form: {
                let (mut h, c) = lab.assertion_parts(SKYPE_APP_ID, SKYPE_KEY);
                h.insert("alg".into(), "none".into());
                lab.form(SKYPE_APP_ID, &jwt::unsigned_with_header(&h, &c), &res)
            },
            status: 401,
            code: 700027,
            phrase: "unsigned",
        },
        Case {
            name: "HS256",
            realm: realm.clone(),
            form: tweaked(
                &lab,
                &|h, _| {
                    h.insert("alg".into(), "HS256".into());
                },
                SKYPE_KEY,
            ),
            status: 401,
            code: 700027,
            phrase: "only RS256",
        },
        Case {
            name: "bad signature",
            realm: realm.clone(),
            form: {
                let t = lab.assertion(SKYPE_APP_ID, SKYPE_KEY);
                let (rest, sig) = t.rsplit_once('.').unwrap();
                let mut sig = b64::url_decode(sig).unwrap();
                sig[10] ^= 1;
                lab.form(
                    SKYPE_APP_ID,
                    &format!("{rest}.{}", b64::url_encode(sig)),
                    &res,
                )
            },
            status: 401,
            code: 700027,
            phrase: "does not verify",
        },
        Case {
            name: "signed by an unknown key",
            realm: realm.clone(),
            form: tweaked(
                &lab,
                &|h, _| {
                    h.insert(
                        "x5t".into(),
                        key(ATTACKER_KEY).certificate().x5t.clone().into(),
                    );
                },
                ATTACKER_KEY,
            ),
            status: 401,
            code: 700027,
            phrase: "no key of issuer",
        },
        Case {
            name: "signed by the tenant's key on 00000004",
            realm: realm.clone(),
            form: tweaked(
                &lab,
                &|h, _| {
                    h.insert(
                        "x5t".into(),
                        key(EXCHANGE_KEY).certificate().x5t.clone().into(),
                    );
                },
                EXCHANGE_KEY,
            ),
            status: 401,
            code: 700027,
            phrase: "statement of trust",
        },
        Case {
            name: "wrong aud",
            realm: realm.clone(),
            form: tweaked(
                &lab,
                &|_, c| {
                    c.insert(
                        "aud".into(),
                        "https://login.microsoftonline.com/x/oauth2/token".into(),
                    );
                },
                SKYPE_KEY,
            ),
            status: 401,
            code: 700023,
            phrase: "audience",
        },
        Case {
            name: "expired",
            realm: realm.clone(),
            form: tweaked(
                &lab,
                &|_, c| {
                    c.insert("iat".into(), (now - 1000).into());
                    c.insert("nbf".into(), (now - 1000).into());
                    c.insert("exp".into(), (now - 400).into());
                },
                SKYPE_KEY,
            ),
            status: 401,
            code: 700024,
            phrase: "expired",
        },
        Case {
            name: "lifetime over 10 minutes",
            realm: realm.clone(),
            form: tweaked(
                &lab,
                &|_, c| {
                    c.insert("exp".into(), (now + 601).into());
                },
                SKYPE_KEY,
            ),
            status: 401,
            code: 700024,
            phrase: "at most 600 s",
        },
        Case {
            name: "sub differs from iss",
            realm: realm.clone(),
            form: tweaked(
                &lab,
                &|_, c| {
                    c.insert(
                        "sub".into(),
                        format!("{EXCHANGE_APP_ID}@{}", lab.realm).into(),
                    );
                },
                SKYPE_KEY,
            ),
            status: 401,
            code: 700021,
            phrase: "sub is",
        },
        Case {
            name: "iss of another application",
            realm: realm.clone(),
            form: tweaked(
                &lab,
                &|_, c| {
                    let p = format!("{EXCHANGE_APP_ID}@{}", lab.realm);
                    c.insert("iss".into(), p.clone().into());
                    c.insert("sub".into(), p.into());
                },
                SKYPE_KEY,
            ),
            status: 401,
            code: 700021,
            phrase: "not trusted",
        },
        Case {
            name: "no jti",
            realm: realm.clone(),
            form: tweaked(
                &lab,
                &|_, c| {
                    c.remove("jti");
                },
                SKYPE_KEY,
            ),
            status: 401,
            code: 50027,
            phrase: "no jti",
        },
        Case {
            name: "malformed resource",
            realm: realm.clone(),
            form: with(good(&lab), "resource", EXCHANGE_HOST),
            status: 400,
            code: 50001,
            phrase: "not a service principal name",
        },
        Case {
            name: "resource without host",
            realm: realm.clone(),
            form: with(
                good(&lab),
                "resource",
                &format!("{EXCHANGE_APP_ID}@{realm}"),
            ),
            status: 400,
            code: 50001,
            phrase: "no /<host>",
        },
        Case {
            name: "resource SPN not registered",
            realm: realm.clone(),
            form: with(
                good(&lab),
                "resource",
                &format!("{EXCHANGE_APP_ID}/other.contoso.example@{realm}"),
            ),
            status: 400,
            code: 500011,
            phrase: "openhybrid msol Set-MsolServicePrincipal -AppPrincipalId 00000002-0000-0ff1-ce00-000000000000 -ServicePrincipalNames",
        },
        Case {
            name: "resource principal unknown",
            realm: realm.clone(),
            form: with(
                good(&lab),
                "resource",
                &format!("11111111-2222-3333-4444-555555555555/x.example@{realm}"),
            ),
            status: 400,
            code: 500011,
            phrase: "was not found in the tenant",
        },
        Case {
            name: "resource in another realm",
            realm: realm.clone(),
            form: with(
                good(&lab),
                "resource",
                &format!("{EXCHANGE_APP_ID}/{EXCHANGE_HOST}@{other}"),
            ),
            status: 400,
            code: 500011,
            phrase: "names realm",
        },
        Case {
            name: "wrong client secret",
            realm: realm.clone(),
            form: vec![
                ("grant_type".into(), "client_credentials".into()),
                ("client_id".into(), format!("{SKYPE_APP_ID}@{realm}")),
                ("client_secret".into(), "guess".into()),
                ("resource".into(), res.clone()),
            ],
            status: 401,
            code: 7000215,
            phrase: "first-party",
        },
    ];
    for case in cases {
        let (status, body) = lab.post_token(&case.realm, &case.form).await;
        assert_eq!(status, case.status, "{}: {body}", case.name);
        assert_eq!(assert_aadsts(&body), case.code, "{}: {body}", case.name);
        assert!(
            description(&body).contains(case.phrase),
            "{}: {:?} not in {}",
            case.name,
            case.phrase,
            description(&body)
        );
        // no refusal ever echoes the assertion
        if let Some((_, a)) = case.form.iter().find(|(k, _)| k == "client_assertion") {
            let sig = a.rsplit('.').next().unwrap_or("");
            assert!(
                sig.is_empty() || !body.to_string().contains(sig),
                "{}",
                case.name
            );
        }
    }
    // the happy path still works after all that
    let (status, body) = lab.post_token(&lab.realm, &good(&lab)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn malformed_bodies() {
    let lab = Lab::start().await;
    let url = lab.token_endpoint();
    let post = |ct: &'static str, body: Vec<u8>| {
        lab.http
            .post(&url)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let r = post(
        "application/json",
        br#"{"grant_type":"client_credentials"}"#.to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 415);
    assert_aadsts(&r.json().await.unwrap());
    let r = post(
        "application/x-www-form-urlencoded",
        b"grant_type=\xff\xfe".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(assert_aadsts(&r.json().await.unwrap()), 90023);
    let r = post(
        "application/x-www-form-urlencoded",
        b"{not a form}".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(assert_aadsts(&r.json().await.unwrap()), 900144);
    let r = post(
        "application/x-www-form-urlencoded",
        b"grant_type=a&grant_type=b".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert!(description(&r.json().await.unwrap()).contains("more than once"));
    let r = post(
        "application/x-www-form-urlencoded",
        vec![b'a'; 64 * 1024 + 1],
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 413);
    assert_aadsts(&r.json().await.unwrap());
}

#[tokio::test]
async fn an_assertion_is_spent_once() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let a = lab.assertion(SKYPE_APP_ID, SKYPE_KEY);
    // a refused request does not spend the assertion...
    let bad = lab.form(
        SKYPE_APP_ID,
        &a,
        &format!("{EXCHANGE_APP_ID}/other.example@{}", lab.realm),
    );
    let (status, _) = lab.post_token(&lab.realm, &bad).await;
    assert_eq!(status, 400);
    let form = lab.form(SKYPE_APP_ID, &a, &lab.exchange_resource());
    let (status, body) = lab.post_token(&lab.realm, &form).await;
    assert_eq!(status, 200, "{body}");
    // ...a successful one does
    let (status, body) = lab.post_token(&lab.realm, &form).await;
    assert_eq!((status, assert_aadsts(&body)), (401, 50013), "{body}");
    assert!(description(&body).contains("already used"));
    // still refused near the end of its validity
    lab.clock.advance(290);
    let (status, body) = lab.post_token(&lab.realm, &form).await;
    assert_eq!((status, assert_aadsts(&body)), (401, 50013), "{body}");
    // and once it has expired, as expired
    lab.clock.advance(400);
    let (status, body) = lab.post_token(&lab.realm, &form).await;
    assert_eq!((status, assert_aadsts(&body)), (401, 700024), "{body}");
}

#[tokio::test]
async fn tokens_expire_with_the_clock() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let resp = lab.skype_actor_token().await.unwrap();
    let policy = exchange_policy(&lab).await;
    lab.clock.advance(3600 + 300);
    validate_s2s(&resp.access_token, &policy, lab.now()).unwrap();
    lab.clock.advance(1);
    let err = validate_s2s(&resp.access_token, &policy, lab.now()).unwrap_err();
    assert!(matches!(err, TokenError::Expired { .. }), "{err}");
    // a new token carries the new time
    let resp2 = lab.skype_actor_token().await.unwrap();
    assert_eq!(resp2.expires_on, (lab.now() + 3600).to_string());
    validate_s2s(&resp2.access_token, &policy, lab.now()).unwrap();
    // the first-party registry key expires too
    lab.clock.set(NOW + 366 * 86_400);
    let err = lab.skype_actor_token().await.unwrap_err();
    assert_eq!(err.aadsts_code(), Some(700027), "{err}");
    assert!(err.to_string().contains("not valid now"), "{err}");
}

#[tokio::test]
async fn disabled_principals() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let disable = |app: &'static str, on: bool| {
        let admin = lab.admin.clone();
        let realm = lab.realm.clone();
        async move {
            admin
                .set_msol_service_principal(
                    &realm,
                    app,
                    &sts::SetServicePrincipal {
                        account_enabled: Some(on),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
    };
    disable(EXCHANGE_APP_ID, false).await;
    let (status, body) = lab
        .post_token(
            &lab.realm,
            &lab.form(
                SKYPE_APP_ID,
                &lab.assertion(SKYPE_APP_ID, SKYPE_KEY),
                &lab.exchange_resource(),
            ),
        )
        .await;
    assert_eq!((status, assert_aadsts(&body)), (400, 500014));
    disable(EXCHANGE_APP_ID, true).await;
    disable(SKYPE_APP_ID, false).await;
    let (status, body) = lab
        .post_token(
            &lab.realm,
            &lab.form(
                SKYPE_APP_ID,
                &lab.assertion(SKYPE_APP_ID, SKYPE_KEY),
                &lab.exchange_resource(),
            ),
        )
        .await;
    assert_eq!((status, assert_aadsts(&body)), (400, 7000112));
}

#[tokio::test]
async fn skype_reads_its_verify_keys_with_its_app_token() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let exchange_cert = key(EXCHANGE_KEY).certificate();
    let row = lab
        .admin
        .new_msol_service_principal_credential(
            &lab.realm,
            SKYPE_APP_ID,
            &NewCredential {
                kind: "Asymmetric".into(),
                usage: Some("Verify".into()),
                value: exchange_cert.to_base64(),
                start_date: None,
                end_date: None,
            },
        )
        .await
        .unwrap();
    let sts_resource = format!("{ACS_APP_ID}/{}@{}", lab.sts.sts_host(), lab.realm);
    let token = lab
        .public
        .request_actor_token(
            &lab.realm,
            SKYPE_APP_ID,
            &sts_resource,
            key(SKYPE_KEY),
            lab.now(),
        )
        .await
        .unwrap()
        .access_token;
    let keys = lab
        .public
        .verify_keys(DOMAIN, SKYPE_APP_ID, &token)
        .await
        .unwrap()
        .keys;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id, row.key_id);
    assert_eq!(keys[0].thumbprint, exchange_cert.thumbprint);
    assert_eq!(keys[0].value, exchange_cert.to_base64());
    assert_eq!(
        (keys[0].start_date, keys[0].end_date),
        (exchange_cert.not_before, exchange_cert.not_after)
    );

    let get = |path: String, token: Option<String>| {
        let mut rb = lab.http.get(format!("{}{path}", lab.base));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send()
    };
    let path = format!("/{}/firstparty/{SKYPE_APP_ID}/verify-keys", lab.realm);
    // no token, the admin credential, a token for another audience
    for t in [
        None,
        Some(lab.sts.admin_credential().to_owned()),
        Some(lab.skype_actor_token().await.unwrap().access_token),
    ] {
        let r = get(path.clone(), t).await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(assert_aadsts(&r.json().await.unwrap()), 50027);
    }
    // Skype's token does not read another application's keys
    let r = get(
        format!("/{}/firstparty/{EXCHANGE_APP_ID}/verify-keys", lab.realm),
        Some(token.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    // nor another tenant's
    let other = lab
        .admin
        .create_tenant("fabrikam.example", None)
        .await
        .unwrap()
        .realm;
    let r = get(
        format!("/{other}/firstparty/{SKYPE_APP_ID}/verify-keys"),
        Some(token.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    // a token is only issued for the STS host the 00000001 principal covers
    let (status, body) = lab
        .post_token(
            &lab.realm,
            &lab.form(
                SKYPE_APP_ID,
                &lab.assertion(SKYPE_APP_ID, SKYPE_KEY),
                &format!("{ACS_APP_ID}/evil.example@{}", lab.realm),
            ),
        )
        .await;
    assert_eq!((status, assert_aadsts(&body)), (400, 500011));
}

/// The token endpoint reads an in-memory snapshot of the principals, their keys and the signing
/// keys: every admin write must reach the very next token request.
#[tokio::test]
async fn admin_writes_reach_the_next_token_request() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let app = "0a1b2c3d-0000-4000-8000-00000000a002";
    let never_keyed = "0a1b2c3d-0000-4000-8000-00000000a003";
    let cert_credential = || NewCredential {
        kind: "Asymmetric".into(),
        usage: Some("Verify".into()),
        value: key(APP_KEY).certificate().to_base64(),
        start_date: None,
        end_date: None,
    };
    for (id, credential) in [(app, Some(cert_credential())), (never_keyed, None)] {
        lab.admin
            .new_msol_service_principal(
                &lab.realm,
                &NewServicePrincipal {
                    display_name: id.into(),
                    app_principal_id: Some(id.into()),
                    credential,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    let l = &lab;
    let issue = |app_id: &'static str| {
        let form = l.form(
            app_id,
            &l.assertion(app_id, APP_KEY),
            &l.exchange_resource(),
        );
        async move { l.post_token(&l.realm, &form).await }
    };
    // the refusal of a principal that never had a key
    let (status, never) = issue(never_keyed).await;
    assert_eq!((status, assert_aadsts(&never)), (401, 700027), "{never}");
    let refused_like_never = |status: u16, body: &Value| {
        assert_eq!(
            (status, assert_aadsts(body)),
            (401, 700027),
            "refused as a principal without keys: {body}"
        );
        assert_eq!(
            description(body).split("\r\n").next(),
            description(&never)
                .split("\r\n")
                .next()
                .map(|d| d.replace(never_keyed, app))
                .as_deref(),
            "{body}"
        );
    };
    let (status, body) = issue(app).await;
    assert_eq!(status, 200, "{body}");

    // MSOnline: Remove-MsolServicePrincipalCredential
    let rows = lab
        .admin
        .get_msol_service_principal_credential(&lab.realm, app, false)
        .await
        .unwrap();
    lab.admin
        .remove_msol_service_principal_credential(&lab.realm, app, &rows[0].key_id)
        .await
        .unwrap();
    let (status, body) = issue(app).await;
    refused_like_never(status, &body);

    // New-MsolServicePrincipalCredential: usable at once
    lab.admin
        .new_msol_service_principal_credential(&lab.realm, app, &cert_credential())
        .await
        .unwrap();
    let (status, body) = issue(app).await;
    assert_eq!(status, 200, "{body}");

    // Graph: the same certificate, now with an endDateTime in the past
    let sp = lab
        .admin
        .get_msol_service_principal_by_app_id(&lab.realm, app)
        .await
        .unwrap();
    lab.admin
        .graph_set_key_credentials(
            &lab.realm,
            &sp.object_id,
            &[sts::model::GraphKeyCredentialInput {
                kind: Some("AsymmetricX509Cert".into()),
                usage: Some("Verify".into()),
                key: Some(key(APP_KEY).certificate().to_base64()),
                end_date_time: Some("2027-01-14T08:00:00Z".into()),
                ..Default::default()
            }],
        )
        .await
        .unwrap();
    let (status, body) = issue(app).await;
    refused_like_never(status, &body);

    // Remove-MsolServicePrincipal
    lab.admin
        .remove_msol_service_principal(&lab.realm, app)
        .await
        .unwrap();
    let (status, body) = issue(app).await;
    assert_eq!((status, assert_aadsts(&body)), (400, 700016), "{body}");

    // signing-key rollover: the next token is signed with the new key
    let resp = lab.skype_actor_token().await.unwrap();
    let old_x5t = jwt::Compact::parse(&resp.access_token).unwrap().header["x5t"].clone();
    let t = lab.admin.roll_signing_key(&lab.realm).await.unwrap();
    let resp = lab.skype_actor_token().await.unwrap();
    let x5t = jwt::Compact::parse(&resp.access_token).unwrap().header["x5t"].clone();
    assert_ne!(x5t, old_x5t);
    assert_eq!(x5t, t.signing_certificates[0].x5t.as_str());
}

/// J18: failed client authentications are limited per source address, before any credential
/// work; other addresses, and the valid client, are not slowed. Regression: the token endpoint
/// answered every guess (each a PBKDF2 run per stored secret).
#[tokio::test]
async fn failed_client_authentication_is_rate_limited_per_source() {
    let lab = Lab::start_limited(3).await;
    lab.prepare_f1().await;
    let from = |ip: [u8; 4]| {
        reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(ip))
            .build()
            .unwrap()
    };
    let post = |c: reqwest::Client, form: Vec<(String, String)>| {
        let url = lab.token_endpoint();
        async move {
            let r = c.post(url).form(&form).send().await.unwrap();
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (
                status,
                retry,
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let guess = vec![
        ("grant_type".into(), "client_credentials".into()),
        ("client_id".into(), format!("{SKYPE_APP_ID}@{}", lab.realm)),
        ("client_secret".into(), "guess".into()),
        ("resource".into(), lab.exchange_resource()),
    ];
    let good = || {
        let a = lab.assertion(SKYPE_APP_ID, SKYPE_KEY);
        lab.form(SKYPE_APP_ID, &a, &lab.exchange_resource())
    };
    let attacker = from([127, 0, 0, 2]);
    for i in 0..3 {
        let (status, _, body) = post(attacker.clone(), guess.clone()).await;
        assert_eq!(status, 401, "guess {i}: {body}");
    }
    let (status, retry, body) = post(attacker.clone(), guess.clone()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(assert_aadsts(&body), 50053, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(description(&body).contains("retry after 60 s"), "{body}");
    assert_eq!(retry.as_deref(), Some("60"));
    // refused before any work: even a valid request from that address waits
    assert_eq!(post(attacker.clone(), good()).await.0, 429);
    // another address is not affected, however often it succeeds
    for _ in 0..5 {
        let (status, _, body) = post(from([127, 0, 0, 3]), good()).await;
        assert_eq!(status, 200, "{body}");
    }
    // requests that fail for reasons other than client authentication do not count
    let other = from([127, 0, 0, 4]);
    for _ in 0..5 {
        let mut f = good();
        f.retain(|(k, _)| k != "resource");
        assert_eq!(post(other.clone(), f).await.0, 400);
    }
    assert_eq!(post(other, good()).await.0, 200);
    // the window ends
    lab.clock.advance(61);
    let (status, _, body) = post(attacker, good()).await;
    assert_eq!(status, 200, "{body}");
}

/// Regression: an assertion was validated at one clock reading and its jti pruned at a later
/// one, so a replay in the last second of its validity could find its own record pruned and be
/// accepted. Every offset from that edge is tried, with the clock moving on each reading.
#[tokio::test]
async fn a_replay_at_the_edge_of_validity_is_refused() {
    let (lab, ticking) = Lab::start_ticking().await;
    lab.prepare_f1().await;
    let a = lab.assertion(SKYPE_APP_ID, SKYPE_KEY);
    let form = lab.form(SKYPE_APP_ID, &a, &lab.exchange_resource());
    let (status, body) = lab.post_token(&lab.realm, &form).await;
    assert_eq!(status, 200, "{body}");
    let exp = jwt::Compact::parse(&a).unwrap().claims["exp"]
        .as_i64()
        .unwrap();
    let edge = exp + s2s_proto::validate::DEFAULT_SKEW_SECS;
    ticking.store(true, std::sync::atomic::Ordering::SeqCst);
    for back in 0..16 {
        lab.clock.set(edge - back);
        let (status, body) = lab.post_token(&lab.realm, &form).await;
        assert_ne!(status, 200, "replayed {back} s before the edge: {body}");
    }
}
