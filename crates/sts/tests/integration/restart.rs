//! State survives a restart from the same data directory: tenants, keys, credentials, the
//! first-party registry and the admin credential.

use s2s_proto::principal::{ACS_APP_ID, EXCHANGE_APP_ID, SKYPE_APP_ID, spn_covers};
use s2s_proto::{ManualClock, validate_s2s};
use sts::NewCredential;

use crate::common::*;

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn restart_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("sts");
    let clock = ManualClock::new(NOW);
    let lab = Lab::start_in(Some(&data), clock.clone(), true).await;
    lab.prepare_f1().await;
    let row = lab
        .admin
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
    let credential = lab.sts.admin_credential().to_owned();
    let path = lab.sts.admin_credential_path().unwrap();
    assert_eq!(path, data.join("admin-credential"));
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), credential);
    assert_eq!(s2s_proto::b64::url_decode(&credential).unwrap().len(), 32);
    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&data.join("sts.sqlite")), 0o600);
        assert_eq!(mode(&data), 0o700);
    }
    let before = lab.admin.tenant(&lab.realm).await.unwrap();
    let old_token = lab.skype_actor_token().await.unwrap().access_token;
    let realm = lab.realm.clone();
    let old_host = lab.sts.sts_host().to_owned();
    lab.server.abort();
    drop(lab);

    // a new process on another port
    let mut lab = Lab::start_in(Some(&data), clock.clone(), false).await;
    lab.realm = realm;
    assert_eq!(
        lab.sts.admin_credential(),
        credential,
        "the admin credential is reused"
    );
    let after = lab.admin.tenant(&lab.realm).await.unwrap();
    assert_eq!(after.signing_certificates, before.signing_certificates);
    assert_eq!(after.domains, before.domains);
    let rows = lab
        .admin
        .get_msol_service_principal_credential(&lab.realm, SKYPE_APP_ID, true)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].key_id, row.key_id);
    assert_eq!(rows[0].value, key(EXCHANGE_KEY).certificate().to_base64());
    let fp = lab
        .admin
        .first_party_certificates(SKYPE_APP_ID)
        .await
        .unwrap();
    assert_eq!(fp.len(), 1);
    assert_eq!(fp[0].thumbprint, key(SKYPE_KEY).certificate().thumbprint);
    let exo = lab
        .admin
        .get_msol_service_principal_by_app_id(&lab.realm, EXCHANGE_APP_ID)
        .await
        .unwrap();
    assert!(
        exo.service_principal_names
            .contains(&format!("{EXCHANGE_APP_ID}/{EXCHANGE_HOST}"))
    );
    // the ACS principal covers the new host as well as the old one
    let acs = lab
        .admin
        .get_msol_service_principal_by_app_id(&lab.realm, ACS_APP_ID)
        .await
        .unwrap();
    for host in [old_host.as_str(), lab.sts.sts_host()] {
        assert!(
            acs.service_principal_names
                .iter()
                .any(|s| spn_covers(s, ACS_APP_ID, host)),
            "{host}"
        );
    }

    // the same signing key signs new tokens, and old tokens still validate
    let new_token = lab.skype_actor_token().await.unwrap().access_token;
    let policy = {
        let md = lab.public.metadata(&lab.realm).await.unwrap();
        s2s_proto::Policy::new(
            s2s_proto::ExpectedAudience::Service {
                app_id: EXCHANGE_APP_ID.into(),
                hosts: vec![EXCHANGE_HOST.into()],
                realm: lab.realm.clone(),
            },
            Some(lab.realm.clone()),
            vec![s2s_proto::TrustedIssuer {
                issuer: md.issuer.clone(),
                keys: md
                    .signing_certificates()
                    .unwrap()
                    .iter()
                    .map(|c| c.verify_key())
                    .collect(),
            }],
        )
    };
    let a = validate_s2s(&old_token, &policy, lab.now()).unwrap();
    let b = validate_s2s(&new_token, &policy, lab.now()).unwrap();
    assert_eq!(a.actor().key_x5t, b.actor().key_x5t);
}

#[tokio::test]
async fn in_memory_has_no_credential_file_and_a_bad_file_is_refused() {
    let lab = Lab::start().await;
    assert_eq!(lab.sts.admin_credential_path(), None);
    assert_eq!(lab.sts.admin_credential().len(), 43);

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("admin-credential"), "short\n").unwrap();
    let mut config = sts::Config::new(
        "http://127.0.0.1:9",
        std::sync::Arc::new(ManualClock::new(NOW)),
    );
    config.data_dir = Some(dir.path().to_owned());
    let err = sts::Sts::open(config.clone()).unwrap_err();
    assert!(err.to_string().contains("admin-credential"), "{err}");

    config.data_dir = None;
    config.actor_token_lifetime_secs = 86_401;
    assert!(sts::Sts::open(config.clone()).is_err());
    config.actor_token_lifetime_secs = 3600;
    config.public_url = "ftp://x".into();
    assert!(sts::Sts::open(config).is_err());
}
