//! The Graph form of step 5: list, get with keys, PATCH the key set, addKey with a real proof.

use s2s_proto::jwt;
use s2s_proto::principal::{AAD_GRAPH_APP_ID, SKYPE_APP_ID};
use serde_json::{Map, Value, json};
use sts::model::{GraphAddKey, GraphKeyCredentialInput};

use crate::common::*;

fn input(key_n: usize, usage: &str) -> GraphKeyCredentialInput {
    GraphKeyCredentialInput {
        kind: Some("AsymmetricX509Cert".into()),
        usage: Some(usage.into()),
        key: Some(key(key_n).certificate().to_base64()),
        ..Default::default()
    }
}

/// A proof of possession as CSS-Exchange's Add-CertificateToAzureApplication builds it.
fn proof(object_id: &str, key_n: usize, nbf: i64, exp: i64) -> String {
    let mut c = Map::new();
    c.insert("aud".into(), AAD_GRAPH_APP_ID.into());
    c.insert("iss".into(), object_id.into());
    c.insert("nbf".into(), nbf.into());
    c.insert("exp".into(), exp.into());
    jwt::sign_rs256(key(key_n), &c, false).unwrap()
}

async fn skype_id(lab: &Lab) -> String {
    let list = lab
        .admin
        .graph_service_principals(&lab.realm, Some(SKYPE_APP_ID))
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    list[0].id.clone()
}

#[tokio::test]
async fn list_get_patch_and_add_key() {
    let lab = Lab::start().await;
    let list = lab
        .admin
        .graph_service_principals(DOMAIN, Some(SKYPE_APP_ID))
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
    let sp = &list[0];
    assert_eq!(sp.app_id, SKYPE_APP_ID);
    assert_eq!(sp.app_display_name, "Skype for Business Online");
    assert!(sp.key_credentials.is_empty());
    let id = sp.id.clone();
    let msol = lab
        .admin
        .get_msol_service_principal_by_app_id(&lab.realm, SKYPE_APP_ID)
        .await
        .unwrap();
    assert_eq!(id, msol.object_id);

    // PATCH: the set becomes Exchange's certificate
    lab.admin
        .graph_set_key_credentials(&lab.realm, &id, &[input(EXCHANGE_KEY, "Verify")])
        .await
        .unwrap();
    let keys = lab
        .admin
        .graph_key_credentials(&lab.realm, &id)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    let cert = key(EXCHANGE_KEY).certificate();
    assert_eq!(keys[0].key.as_deref(), Some(cert.to_base64().as_str()));
    assert_eq!(
        keys[0].custom_key_identifier.as_deref(),
        Some(cert.thumbprint.as_str())
    );
    assert_eq!(
        (keys[0].start_date_time, keys[0].end_date_time),
        (cert.not_before, cert.not_after)
    );
    assert_eq!(keys[0].kind, "AsymmetricX509Cert");
    assert_eq!(keys[0].usage, "Verify");
    let exchange_key_id = keys[0].key_id.clone();
    // the list form never carries the key
    let list = lab
        .admin
        .graph_service_principals(&lab.realm, Some(SKYPE_APP_ID))
        .await
        .unwrap();
    assert_eq!(list[0].key_credentials[0].key, None);
    // MSOnline sees the same credential
    let rows = lab
        .admin
        .get_msol_service_principal_credential(&lab.realm, SKYPE_APP_ID, false)
        .await
        .unwrap();
    assert_eq!(rows[0].key_id, exchange_key_id);

    // $select projects
    let raw: Value = lab
        .http
        .get(format!(
            "{}/v1.0/{}/servicePrincipals/{id}?$select=keyCredentials",
            lab.base, lab.realm
        ))
        .bearer_auth(lab.sts.admin_credential())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        raw.as_object().unwrap().keys().collect::<Vec<_>>(),
        vec!["keyCredentials"]
    );

    // addKey, proven with the Exchange certificate the principal already has
    let now = lab.now();
    let added = lab
        .admin
        .graph_add_key(
            &lab.realm,
            &id,
            &GraphAddKey {
                key_credential: input(APP_KEY, "Verify"),
                password_credential: None,
                proof: proof(&id, EXCHANGE_KEY, now, now + 600),
            },
        )
        .await
        .unwrap();
    assert_eq!(added.key, None);
    assert_eq!(
        added.custom_key_identifier.as_deref(),
        Some(key(APP_KEY).certificate().thumbprint.as_str())
    );
    let keys = lab
        .admin
        .graph_key_credentials(&lab.realm, &id)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2);

    // PATCH that retains the first key by key/type/usage only, and drops the second
    lab.admin
        .graph_set_key_credentials(&lab.realm, &id, &[input(EXCHANGE_KEY, "Verify")])
        .await
        .unwrap();
    let keys = lab
        .admin
        .graph_key_credentials(&lab.realm, &id)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(
        keys[0].key_id, exchange_key_id,
        "a retained key keeps its keyId"
    );
    // ...or by keyId alone, plus a new one
    lab.admin
        .graph_set_key_credentials(
            &lab.realm,
            &id,
            &[
                GraphKeyCredentialInput {
                    key_id: Some(exchange_key_id.clone()),
                    ..Default::default()
                },
                input(APP_KEY, "Verify"),
            ],
        )
        .await
        .unwrap();
    let keys = lab
        .admin
        .graph_key_credentials(&lab.realm, &id)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0].key_id, exchange_key_id);
    // an empty list removes every certificate
    lab.admin
        .graph_set_key_credentials(&lab.realm, &id, &[])
        .await
        .unwrap();
    assert!(
        lab.admin
            .graph_key_credentials(&lab.realm, &id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn add_key_needs_a_valid_proof() {
    let lab = Lab::start().await;
    let id = skype_id(&lab).await;
    let now = lab.now();
    let add = |proof: String| {
        let body = GraphAddKey {
            key_credential: input(APP_KEY, "Verify"),
            password_credential: None,
            proof,
        };
        let admin = lab.admin.clone();
        let (realm, id) = (lab.realm.clone(), id.clone());
        async move { admin.graph_add_key(&realm, &id, &body).await }
    };
    // no certificate yet: addKey cannot be used, PATCH can
    let err = add(proof(&id, EXCHANGE_KEY, now, now + 600))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("PATCH"), "{err}");

    lab.admin
        .graph_set_key_credentials(&lab.realm, &id, &[input(EXCHANGE_KEY, "Verify")])
        .await
        .unwrap();
    let other_sp = lab
        .admin
        .graph_service_principals(&lab.realm, Some(s2s_proto::principal::EXCHANGE_APP_ID))
        .await
        .unwrap()[0]
        .id
        .clone();
    for (what, p) in [
        (
            "signed by another key",
            proof(&id, ATTACKER_KEY, now, now + 600),
        ),
        ("expired", proof(&id, EXCHANGE_KEY, now - 1200, now - 600)),
        (
            "lives over 10 minutes",
            proof(&id, EXCHANGE_KEY, now, now + 601),
        ),
        (
            "issued by another principal",
            proof(&other_sp, EXCHANGE_KEY, now, now + 600),
        ),
        ("not a JWT", "nope".into()),
    ] {
        let err = add(p).await.unwrap_err();
        match &err {
            sts::client::ClientError::Graph {
                status,
                code,
                message,
            } => {
                assert_eq!(
                    (*status, code.as_str()),
                    (400, "Request_BadRequest"),
                    "{what}"
                );
                assert!(message.contains("proof"), "{what}: {message}");
            }
            other => panic!("{what}: {other}"),
        }
    }
    // a proof with the wrong audience
    let mut c = Map::new();
    c.insert("aud".into(), "00000003-0000-0000-c000-000000000000".into());
    c.insert("iss".into(), id.clone().into());
    c.insert("nbf".into(), now.into());
    c.insert("exp".into(), (now + 600).into());
    let err = add(jwt::sign_rs256(key(EXCHANGE_KEY), &c, false).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert_eq!(
        lab.admin
            .graph_key_credentials(&lab.realm, &id)
            .await
            .unwrap()
            .len(),
        1
    );
    // the right proof works
    add(proof(&id, EXCHANGE_KEY, now, now + 600)).await.unwrap();
    assert_eq!(
        lab.admin
            .graph_key_credentials(&lab.realm, &id)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn graph_refusals_use_graphs_shape_and_change_nothing() {
    let lab = Lab::start().await;
    let id = skype_id(&lab).await;
    lab.admin
        .graph_set_key_credentials(&lab.realm, &id, &[input(EXCHANGE_KEY, "Verify")])
        .await
        .unwrap();
    let url = format!("{}/v1.0/{}/servicePrincipals/{id}", lab.base, lab.realm);
    let patches = [
        json!({"keyCredentials": [{"type": "Symmetric", "usage": "Verify", "key": "c2VjcmV0"}]}),
        json!({"keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify", "key": "aGVsbG8="}]}),
        json!({"keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Verify", "key": rsa1024_b64()}]}),
        json!({"keyCredentials": [{"type": "AsymmetricX509Cert", "usage": "Encrypt", "key": key(APP_KEY).certificate().to_base64()}]}),
        json!({"keyCredentials": [{"keyId": "11111111-2222-3333-4444-555555555555"}]}),
        json!({"keyCredentials": [{"displayName": "no key"}]}),
        json!({"keyCredentials": [
            {"type": "AsymmetricX509Cert", "usage": "Verify", "key": key(APP_KEY).certificate().to_base64()},
            {"type": "AsymmetricX509Cert", "usage": "Verify", "key": key(APP_KEY).certificate().to_base64()}
        ]}),
        json!({"servicePrincipalNames": []}),
        json!({}),
    ];
    for p in patches {
        let r = lab
            .http
            .patch(&url)
            .bearer_auth(lab.sts.admin_credential())
            .json(&p)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{p}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "Request_BadRequest", "{p}: {body}");
        assert!(body["error"]["message"].as_str().unwrap().len() > 10);
    }
    let keys = lab
        .admin
        .graph_key_credentials(&lab.realm, &id)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "nothing half-written");
    assert_eq!(
        keys[0].custom_key_identifier.as_deref(),
        Some(key(EXCHANGE_KEY).certificate().thumbprint.as_str())
    );

    let get = |path: String| {
        lab.http
            .get(format!("{}{path}", lab.base))
            .bearer_auth(lab.sts.admin_credential())
            .send()
    };
    let r = get(format!(
        "/v1.0/{}/servicePrincipals?$filter=startswith(displayName,'S')",
        lab.realm
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "Request_UnsupportedQuery"
    );
    let r = get(format!(
        "/v1.0/{}/servicePrincipals/11111111-2222-3333-4444-555555555555",
        lab.realm
    ))
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "Request_ResourceNotFound"
    );
    let r = get(format!("/v1.0/{}/servicePrincipals?$top=1", lab.realm))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // filter by SPN and by display name
    let r: Value = get(format!(
        "/v1.0/{}/servicePrincipals?$filter=servicePrincipalNames/any(x:x eq '{SKYPE_APP_ID}')&$select=id,appId",
        lab.realm
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(r["value"].as_array().unwrap().len(), 1);
    assert_eq!(r["value"][0].as_object().unwrap().len(), 2);
    let r: Value = get(format!(
        "/v1.0/{}/servicePrincipals?$filter=displayName eq 'Office 365 Exchange Online'",
        lab.realm
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(
        r["value"][0]["appId"],
        s2s_proto::principal::EXCHANGE_APP_ID
    );
}
