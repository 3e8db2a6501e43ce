//! Tenants, service principals and the seed's steps 5–6 through the MSOnline-shaped admin API.

use s2s_proto::principal::{
    ACS_APP_ID, EXCHANGE_APP_ID, SHAREPOINT_APP_ID, SKYPE_APP_ID, spn_covers,
};
use serde_json::{Value, json};
use sts::client::ClientError;
use sts::{NewCredential, NewServicePrincipal, SetServicePrincipal};

use crate::common::*;

fn asymmetric(value: &str) -> NewCredential {
    NewCredential {
        kind: "asymmetric".into(),
        usage: Some("Verify".into()),
        value: value.into(),
        start_date: None,
        end_date: None,
    }
}

#[tokio::test]
async fn tenant_creation_makes_the_four_first_party_principals() {
    let lab = Lab::start().await;
    let t = lab.admin.tenant(DOMAIN).await.unwrap();
    assert_eq!(t.realm, lab.realm);
    assert_eq!(t.domains, vec![DOMAIN.to_owned()]);
    assert_eq!(
        t.metadata_url,
        format!("{}/{}/metadata/json/1", lab.base, lab.realm)
    );
    assert_eq!(t.signing_certificates.len(), 1);
    assert!(t.signing_certificates[0].active);
    assert!(uuid_ok(&t.realm));

    let sps = lab
        .admin
        .get_msol_service_principals(&lab.realm)
        .await
        .unwrap();
    let ids: Vec<&str> = sps.iter().map(|s| s.app_principal_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![ACS_APP_ID, EXCHANGE_APP_ID, SHAREPOINT_APP_ID, SKYPE_APP_ID]
    );
    for sp in &sps {
        assert!(sp.account_enabled);
        assert!(uuid_ok(&sp.object_id));
        assert!(
            sp.service_principal_names.contains(&sp.app_principal_id),
            "{sp:?}"
        );
        assert_eq!(sp.trusted_for_delegation, sp.app_principal_id != ACS_APP_ID);
        assert!(sp.extension_data.is_empty());
    }
    let by = |id: &str| sps.iter().find(|s| s.app_principal_id == id).unwrap();
    assert_eq!(
        by(EXCHANGE_APP_ID).display_name,
        "Office 365 Exchange Online"
    );
    assert_eq!(
        by(SHAREPOINT_APP_ID).display_name,
        "Office 365 SharePoint Online"
    );
    assert_eq!(by(SKYPE_APP_ID).display_name, "Skype for Business Online");
    assert!(
        by(EXCHANGE_APP_ID)
            .service_principal_names
            .contains(&format!("{EXCHANGE_APP_ID}/outlook.office365.com"))
    );
    let host = lab.base.trim_start_matches("http://");
    assert!(
        by(ACS_APP_ID)
            .service_principal_names
            .iter()
            .any(|s| spn_covers(s, ACS_APP_ID, host))
    );
    // object ids are unique
    let mut oids: Vec<&str> = sps.iter().map(|s| s.object_id.as_str()).collect();
    oids.sort();
    oids.dedup();
    assert_eq!(oids.len(), 4);

    // the raw JSON uses the cmdlet's field names
    let raw: Value = lab
        .http
        .get(format!(
            "{}/{}/msol/servicePrincipals?AppPrincipalId={SKYPE_APP_ID}",
            lab.base, DOMAIN
        ))
        .bearer_auth(lab.sts.admin_credential())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut keys: Vec<&String> = raw.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "AccountEnabled",
            "Addresses",
            "AppPrincipalId",
            "DisplayName",
            "ExtensionData",
            "ObjectId",
            "ServicePrincipalNames",
            "TrustedForDelegation"
        ]
    );
}

fn uuid_ok(s: &str) -> bool {
    s.len() == 36 && s.bytes().filter(|b| *b == b'-').count() == 4
}

#[tokio::test]
async fn seed_steps_5_and_6() {
    let lab = Lab::start().await;
    let cert = key(EXCHANGE_KEY).certificate();
    // step 5: $p = Get-MsolServicePrincipal -ServicePrincipalName 00000004-…
    let p = lab
        .admin
        .get_msol_service_principal_by_spn(&lab.realm, SKYPE_APP_ID)
        .await
        .unwrap();
    assert_eq!(p.app_principal_id, SKYPE_APP_ID);
    // New-MsolServicePrincipalCredential -AppPrincipalId $p.AppPrincipalId -Type asymmetric -Usage Verify -Value $credValue
    let row = lab
        .admin
        .new_msol_service_principal_credential(
            &lab.realm,
            &p.app_principal_id,
            &asymmetric(&cert.to_base64()),
        )
        .await
        .unwrap();
    assert_eq!(row.kind, "Asymmetric");
    assert_eq!(row.usage, "Verify");
    assert!(row.value.is_empty());

    // step 6: Get-MsolServicePrincipalCredential -AppPrincipalId 00000004-…
    let rows = lab
        .admin
        .get_msol_service_principal_credential(&lab.realm, SKYPE_APP_ID, false)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key_id, row.key_id);
    assert_eq!(
        rows[0].start_date, cert.not_before,
        "StartDate is the certificate's"
    );
    assert_eq!(
        rows[0].end_date, cert.not_after,
        "EndDate is the certificate's"
    );
    assert_eq!(rows[0].value, "", "no value without ReturnKeyValues");
    let rows = lab
        .admin
        .get_msol_service_principal_credential(&lab.realm, SKYPE_APP_ID, true)
        .await
        .unwrap();
    assert_eq!(rows[0].value, cert.to_base64());

    // ISO 8601 on the wire
    let raw: Value = lab
        .http
        .get(format!(
            "{}/{}/msol/servicePrincipals/{SKYPE_APP_ID}/credentials",
            lab.base, lab.realm
        ))
        .bearer_auth(lab.sts.admin_credential())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(raw[0]["StartDate"], "2026-12-16T08:00:00Z");
    assert_eq!(raw[0]["EndDate"], "2028-01-15T08:00:00Z");
    assert_eq!(raw[0]["Type"], "Asymmetric");

    // re-running the upload is idempotent: the same KeyId, still one row
    let again = lab
        .admin
        .new_msol_service_principal_credential(
            &lab.realm,
            SKYPE_APP_ID,
            &asymmetric(&cert.to_base64()),
        )
        .await
        .unwrap();
    assert_eq!(again.key_id, row.key_id);
    // ...but the same certificate with another usage is another credential
    let mut sign = asymmetric(&cert.to_base64());
    sign.usage = Some("sign".into());
    let other = lab
        .admin
        .new_msol_service_principal_credential(&lab.realm, SKYPE_APP_ID, &sign)
        .await
        .unwrap();
    assert_ne!(other.key_id, row.key_id);
    assert_eq!(
        lab.admin
            .get_msol_service_principal_credential(&lab.realm, SKYPE_APP_ID, false)
            .await
            .unwrap()
            .len(),
        2
    );

    // Remove-MsolServicePrincipalCredential
    lab.admin
        .remove_msol_service_principal_credential(&lab.realm, SKYPE_APP_ID, &other.key_id)
        .await
        .unwrap();
    let err = lab
        .admin
        .remove_msol_service_principal_credential(&lab.realm, SKYPE_APP_ID, &other.key_id)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(
        lab.admin
            .get_msol_service_principal_credential(&lab.realm, SKYPE_APP_ID, false)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn explicit_dates_must_lie_within_the_certificate() {
    let lab = Lab::start().await;
    let cert = key(EXCHANGE_KEY).certificate();
    let mut req = asymmetric(&cert.to_base64());
    req.start_date = Some("2027-01-01T00:00:00Z".into());
    req.end_date = Some("2027-06-30".into());
    let row = lab
        .admin
        .new_msol_service_principal_credential(&lab.realm, SKYPE_APP_ID, &req)
        .await
        .unwrap();
    assert_eq!(row.start_date, time::macros::datetime!(2027-01-01 0:00 UTC));
    req.end_date = Some("2030-01-01".into());
    let err = lab
        .admin
        .new_msol_service_principal_credential(&lab.realm, EXCHANGE_APP_ID, &req)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("EndDate"), "{err}");
}

#[tokio::test]
async fn admin_api_needs_the_credential() {
    let lab = Lab::start().await;
    let paths = [
        ("GET", "/admin/tenants".to_owned()),
        ("GET", format!("/{}/msol/servicePrincipals", lab.realm)),
        (
            "POST",
            format!(
                "/{}/msol/servicePrincipals/{SKYPE_APP_ID}/credentials",
                lab.realm
            ),
        ),
        ("GET", format!("/v1.0/{}/servicePrincipals", lab.realm)),
        (
            "POST",
            format!("/admin/first-party/{SKYPE_APP_ID}/certificates"),
        ),
    ];
    for (method, path) in &paths {
        let url = format!("{}{path}", lab.base);
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        for auth in [
            None,
            Some("Bearer wrong-credential"),
            Some("Basic YWRtaW46YWRtaW4="),
        ] {
            let mut rb = lab.http.request(m.clone(), &url).json(&json!({}));
            if let Some(a) = auth {
                rb = rb.header("Authorization", a);
            }
            let resp = rb.send().await.unwrap();
            assert_eq!(resp.status(), 401, "{method} {path} with {auth:?}");
            assert!(resp.headers().contains_key("www-authenticate"));
            let body: Value = resp.json().await.unwrap();
            if path.starts_with("/v1.0/") {
                assert_eq!(
                    body["error"]["code"], "InvalidAuthenticationToken",
                    "{body}"
                );
            } else {
                assert_eq!(assert_aadsts(&body), 50126, "{body}");
            }
        }
    }
    // a credential that differs only in its last character is refused too
    let mut almost = lab.sts.admin_credential().to_owned();
    let last = almost.pop().unwrap();
    almost.push(if last == 'A' { 'B' } else { 'A' });
    let resp = lab
        .http
        .get(format!("{}/admin/tenants", lab.base))
        .bearer_auth(almost)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    // and the right one works
    assert_eq!(lab.admin.tenants().await.unwrap().len(), 1);
}

/// Each bad upload is refused with a clear 400 and leaves nothing behind.
#[tokio::test]
async fn bad_credentials_are_refused_and_nothing_is_written() {
    let lab = Lab::start().await;
    let ec_cert = {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let c = rcgen::CertificateParams::new(vec!["ec.example".into()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        s2s_proto::b64::std_encode(c.der())
    };
    let good = key(EXCHANGE_KEY).certificate().to_base64();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "bad base64",
            json!({"Type": "Asymmetric", "Usage": "Verify", "Value": "not*base64"}),
            "not valid base64",
        ),
        (
            "not X.509",
            json!({"Type": "Asymmetric", "Usage": "Verify", "Value": "aGVsbG8gd29ybGQ="}),
            "not a DER X.509 certificate",
        ),
        (
            "RSA-1024",
            json!({"Type": "Asymmetric", "Usage": "Verify", "Value": rsa1024_b64()}),
            "1024 bits",
        ),
        (
            "ECDSA",
            json!({"Type": "Asymmetric", "Usage": "Verify", "Value": ec_cert}),
            "not RSA",
        ),
        (
            "unknown Type",
            json!({"Type": "X509Cert", "Usage": "Verify", "Value": good}),
            "use Asymmetric, Symmetric or Password",
        ),
        (
            "unknown Usage",
            json!({"Type": "Asymmetric", "Usage": "Encrypt", "Value": good}),
            "use Verify or Sign",
        ),
        (
            "bad date",
            json!({"Type": "Asymmetric", "Value": good, "StartDate": "31/12/2026"}),
            "ISO 8601",
        ),
        (
            "unknown field",
            json!({"Type": "Asymmetric", "Value": good, "Thumbprint": "x"}),
            "unknown field",
        ),
        (
            "missing Value",
            json!({"Type": "Asymmetric"}),
            "missing field `Value`",
        ),
        (
            "empty secret",
            json!({"Type": "Password", "Value": ""}),
            "1 to 1024",
        ),
    ];
    let url = format!(
        "{}/{}/msol/servicePrincipals/{SKYPE_APP_ID}/credentials",
        lab.base, lab.realm
    );
    for (what, body, message) in cases {
        let resp = lab
            .http
            .post(&url)
            .bearer_auth(lab.sts.admin_credential())
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "{what}");
        let body: Value = resp.json().await.unwrap();
        let c = assert_aadsts(&body);
        assert!(c == 90100 || c == 90023, "{what}: {body}");
        assert!(
            description(&body).contains(message),
            "{what}: {}",
            description(&body)
        );
    }
    // not JSON at all
    let resp = lab
        .http
        .post(&url)
        .bearer_auth(lab.sts.admin_credential())
        .header("content-type", "application/json")
        .body("{\"Type\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    // not JSON content
    let resp = lab
        .http
        .post(&url)
        .bearer_auth(lab.sts.admin_credential())
        .header("content-type", "text/plain")
        .body("Type=Asymmetric")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    // bounded body
    let resp = lab
        .http
        .post(&url)
        .bearer_auth(lab.sts.admin_credential())
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024 + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // unknown principal
    let err = lab
        .admin
        .new_msol_service_principal_credential(
            &lab.realm,
            "11111111-2222-3333-4444-555555555555",
            &asymmetric(&good),
        )
        .await
        .unwrap_err();
    assert_eq!((err.status(), err.aadsts_code()), (Some(404), Some(700016)));

    for app in [ACS_APP_ID, EXCHANGE_APP_ID, SHAREPOINT_APP_ID, SKYPE_APP_ID] {
        let rows = lab
            .admin
            .get_msol_service_principal_credential(&lab.realm, app, true)
            .await
            .unwrap();
        assert!(rows.is_empty(), "{app}: {rows:?}");
    }
}

#[tokio::test]
async fn set_service_principal_validates_and_keeps_the_app_id() {
    let lab = Lab::start().await;
    let set = |spns: Vec<String>| SetServicePrincipal {
        service_principal_names: Some(spns),
        ..Default::default()
    };
    for bad in [
        format!("{SKYPE_APP_ID}/mail.contoso.example"),
        format!("{EXCHANGE_APP_ID}/mail contoso"),
        format!("{EXCHANGE_APP_ID}/"),
        format!("{EXCHANGE_APP_ID}/a:99999"),
    ] {
        let err = lab
            .admin
            .set_msol_service_principal(&lab.realm, EXCHANGE_APP_ID, &set(vec![bad.clone()]))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(400), "{bad}");
    }
    let sp = lab
        .admin
        .set_msol_service_principal(
            &lab.realm,
            EXCHANGE_APP_ID,
            &set(vec![format!("{EXCHANGE_APP_ID}/*.contoso.example")]),
        )
        .await
        .unwrap();
    assert_eq!(
        sp.service_principal_names,
        vec![
            EXCHANGE_APP_ID.to_owned(),
            format!("{EXCHANGE_APP_ID}/*.contoso.example")
        ]
    );
    // the first-party principals cannot be removed
    let err = lab
        .admin
        .remove_msol_service_principal(&lab.realm, SKYPE_APP_ID)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
}

#[tokio::test]
async fn tenants_conflicts_and_lookups() {
    let lab = Lab::start().await;
    let err = lab
        .admin
        .create_tenant("Contoso.Example", None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409));
    let err = lab
        .admin
        .create_tenant("fabrikam.example", Some(&lab.realm))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(409));
    let err = lab
        .admin
        .create_tenant("not a domain", None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    let err = lab
        .admin
        .create_tenant("fabrikam.example", Some("nope"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(400));
    let realm = "6f9e2c1a-0000-4000-8000-00000000beef";
    let t = lab
        .admin
        .create_tenant("fabrikam.example", Some(realm))
        .await
        .unwrap();
    assert_eq!(t.realm, realm);
    let t = lab.admin.add_domain(realm, "fabrikam.test").await.unwrap();
    assert_eq!(t.domains, vec!["fabrikam.example", "fabrikam.test"]);
    let err = lab.admin.add_domain(realm, DOMAIN).await.unwrap_err();
    assert_eq!(err.status(), Some(409));
    assert_eq!(
        lab.admin.tenant("fabrikam.test").await.unwrap().realm,
        realm
    );
    assert_eq!(lab.admin.tenants().await.unwrap().len(), 2);
    let err = lab.admin.tenant("unknown.example").await.unwrap_err();
    assert_eq!((err.status(), err.aadsts_code()), (Some(404), Some(90002)));
    // the two tenants have different signing keys
    let a = lab.admin.tenant(&lab.realm).await.unwrap();
    assert_ne!(
        a.signing_certificates[0].thumbprint,
        t.signing_certificates[0].thumbprint
    );
}

#[tokio::test]
async fn tenant_applications_and_client_secrets() {
    let lab = Lab::start().await;
    lab.prepare_f1().await;
    let app = "7d3c0a55-1234-4abc-9def-0123456789ab";
    let sp = lab
        .admin
        .new_msol_service_principal(
            &lab.realm,
            &NewServicePrincipal {
                display_name: "Contoso Line-of-Business".into(),
                app_principal_id: Some(app.into()),
                credential: Some(NewCredential {
                    kind: "Password".into(),
                    usage: None,
                    value: "correct horse battery staple".into(),
                    start_date: None,
                    end_date: Some("2027-02-01T00:00:00Z".into()),
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!sp.trusted_for_delegation);
    assert_eq!(sp.service_principal_names, vec![app.to_owned()]);
    // secrets are never returned
    let rows = lab
        .admin
        .get_msol_service_principal_credential(&lab.realm, app, true)
        .await
        .unwrap();
    assert_eq!((rows.len(), rows[0].value.as_str()), (1, ""));

    let form = |secret: &str| -> Vec<(String, String)> {
        vec![
            ("grant_type".into(), "client_credentials".into()),
            ("client_id".into(), app.into()),
            ("client_secret".into(), secret.into()),
            ("resource".into(), lab.exchange_resource()),
        ]
    };
    let (status, body) = lab
        .post_token(&lab.realm, &form("correct horse battery staple"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let (status, body) = lab
        .post_token(&lab.realm, &form("correct horse battery stapler"))
        .await;
    assert_eq!((status, assert_aadsts(&body)), (401, 7000215));
    // past the credential's EndDate the right secret is refused as expired
    lab.clock.set(1_801_500_000);
    let (status, body) = lab
        .post_token(&lab.realm, &form("correct horse battery staple"))
        .await;
    assert_eq!((status, assert_aadsts(&body)), (401, 7000222), "{body}");

    // a first-party application never authenticates with a secret
    let mut f = form("whatever");
    f[1].1 = SKYPE_APP_ID.into();
    let (status, body) = lab.post_token(&lab.realm, &f).await;
    assert_eq!((status, assert_aadsts(&body)), (401, 7000215));
    assert!(description(&body).contains("first-party"), "{body}");

    // duplicate application
    let err = lab
        .admin
        .new_msol_service_principal(
            &lab.realm,
            &NewServicePrincipal {
                display_name: "again".into(),
                app_principal_id: Some(app.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Sts { status: 409, .. }), "{err}");
    lab.admin
        .remove_msol_service_principal(&lab.realm, app)
        .await
        .unwrap();
}
