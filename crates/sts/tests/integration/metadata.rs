//! The ACS metadata document in its URL forms, and signing-key rollover.

use s2s_proto::principal::ACS_APP_ID;
use s2s_proto::wire::AcsMetadata;
use serde_json::Value;

use crate::common::*;

#[tokio::test]
async fn metadata_in_every_url_form() {
    let lab = Lab::start().await;
    let tenant = lab.admin.tenant(&lab.realm).await.unwrap();
    let by_path = lab.public.metadata(&lab.realm).await.unwrap();
    let by_domain = lab.public.metadata(DOMAIN).await.unwrap();
    let by_query = lab.public.metadata_by_query(&lab.realm).await.unwrap();
    let by_query_domain = lab.public.metadata_by_query(DOMAIN).await.unwrap();
    assert_eq!(by_path, by_domain);
    assert_eq!(by_path, by_query);
    assert_eq!(by_path, by_query_domain);

    // the raw document parses with the wire type and its keys check out
    let raw = lab
        .http
        .get(format!("{}/{}/metadata/json/1", lab.base, lab.realm))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let md = AcsMetadata::parse(&raw).unwrap();
    assert_eq!(md.version, "1.0");
    assert_eq!(md.realm, lab.realm);
    assert_eq!(md.issuer, format!("{ACS_APP_ID}@{}", lab.realm));
    assert_eq!(md.allowed_audiences, vec![md.issuer.clone()]);
    let certs = md.signing_certificates().unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(
        certs[0].thumbprint,
        tenant.signing_certificates[0].thumbprint
    );
    assert_eq!(certs[0].rsa_bits, 2048);
    assert_eq!(md.token_endpoint().unwrap(), lab.token_endpoint());
    let v: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(v["keys"][0]["usage"], "signing");
    assert_eq!(v["keys"][0]["keyValue"]["type"], "x509Certificate");
    assert_eq!(
        v["keys"][0]["keyValue"]["keyInfo"]["x5t"],
        certs[0].x5t.as_str()
    );
    let protocols: Vec<&str> = v["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(
        protocols,
        vec!["OAuth2", "DelegationIssuance1.0", "DelegationManagement1.0"]
    );
}

#[tokio::test]
async fn unknown_realm_and_missing_realm() {
    let lab = Lab::start().await;
    for path in [
        "/9a9a9a9a-2222-4333-8444-555555555555/metadata/json/1".to_owned(),
        "/fabrikam.example/metadata/json/1".to_owned(),
        "/metadata/json/1?realm=9a9a9a9a-2222-4333-8444-555555555555".to_owned(),
    ] {
        let resp = lab
            .http
            .get(format!("{}{path}", lab.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(assert_aadsts(&body), 90002, "{body}");
        assert_eq!(body["error"], "invalid_tenant");
    }
    let resp = lab
        .http
        .get(format!("{}/metadata/json/1", lab.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(assert_aadsts(&body), 900144);
    // unknown routes and the unimplemented endpoints answer in the same shape
    let resp = lab
        .http
        .get(format!("{}/nope", lab.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert_aadsts(&resp.json().await.unwrap());
    let resp = lab
        .http
        .post(format!("{}/{}/tokens/delegation/1", lab.base, lab.realm))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 501);
    let resp = lab
        .http
        .get(format!("{}/{}/tokens/OAuth/2", lab.base, lab.realm))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_aadsts(&resp.json().await.unwrap());
    assert_eq!(
        lab.http
            .get(format!("{}/healthz", lab.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "ok"
    );
}

#[tokio::test]
async fn rollover_keeps_the_previous_key_until_it_expires() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let before = lab
        .public
        .metadata(&lab.realm)
        .await
        .unwrap()
        .signing_certificates()
        .unwrap();
    lab.clock.advance(86_400);
    let t = lab.admin.roll_signing_key(&lab.realm).await.unwrap();
    assert_eq!(t.signing_certificates.len(), 2);
    assert!(t.signing_certificates[0].active && !t.signing_certificates[1].active);
    let after = lab
        .public
        .metadata(&lab.realm)
        .await
        .unwrap()
        .signing_certificates()
        .unwrap();
    assert_eq!(after.len(), 2);
    assert_eq!(
        after[1].thumbprint, before[0].thumbprint,
        "previous key still published"
    );
    assert_eq!(after[0].thumbprint, t.signing_certificates[0].thumbprint);
    // new tokens are signed with the new key
    let resp = lab.skype_actor_token().await.unwrap();
    let header = s2s_proto::jwt::Compact::parse(&resp.access_token)
        .unwrap()
        .header;
    assert_eq!(header["x5t"], after[0].x5t.as_str());
    assert_eq!(header["kid"], after[0].x5t.as_str());
    // once the old key has expired it is no longer published
    lab.clock.set(before[0].not_after.unix_timestamp() + 1);
    let later = lab
        .public
        .metadata(&lab.realm)
        .await
        .unwrap()
        .signing_certificates()
        .unwrap();
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].thumbprint, after[0].thumbprint);
}
