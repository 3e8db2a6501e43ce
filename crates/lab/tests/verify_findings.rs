//! `verify` and `setup` when the trust is half broken: V5 counts only a callback accepted for the
//! meeting it created and names Skype's refusal otherwise; V3 names the outbox's error; step 1
//! brings an existing auth server back to the documented state and says what it changed.

use lab::client::ExchangeAdmin;
use lab::steps;
use serde_json::json;

async fn lab_ready(dir: &std::path::Path) -> lab::Lab {
    let lab = lab::start(dir, (0, 0)).await.unwrap();
    let done = steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    assert!(done.iter().all(|o| o.ok), "{done:?}");
    lab
}

fn outcome<'a>(v: &'a [steps::Outcome], step: &str) -> &'a steps::Outcome {
    v.iter().find(|o| o.step == step).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_archive_error_and_the_refused_callback() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_ready(dir.path()).await;
    let ex = ExchangeAdmin::new(&lab.info).unwrap();
    let user = "alice@contoso.example";

    // V3: the linked account without ArchiveApplication; Skype's outbox holds why
    let a = ex
        .run(
            "Get-ManagementRoleAssignment",
            json!({"Role": "ArchiveApplication", "RoleAssignee": steps::APP_ACCOUNT}),
        )
        .await
        .unwrap();
    ex.run(
        "Remove-ManagementRoleAssignment",
        json!({"Identity": a[0]["Name"]}),
    )
    .await
    .unwrap();
    let v = steps::verify(&lab.info, user, &mut |_| {}).await.unwrap();
    let v3 = outcome(&v, "V3");
    assert!(!v3.ok, "{v3:?}");
    assert!(
        v3.detail.contains("ErrorAccessDenied") && v3.detail.contains("outbox"),
        "V3 names the outbox's last error: {}",
        v3.detail
    );
    // this first run's meeting puts Alice "In a meeting"
    let v5 = outcome(&v, "V5");
    assert!(v5.ok, "{v5:?}");
    ex.run(
        "New-ManagementRoleAssignment",
        json!({"Role": "ArchiveApplication", "User": steps::APP_ACCOUNT}),
    )
    .await
    .unwrap();

    // V5: Exchange now signs with a certificate Skype does not trust; presence is still "In a
    // meeting" from the run above, which must not pass for a working F2
    let c = ex
        .run(
            "New-ExchangeCertificate",
            json!({"SubjectName": "CN=Microsoft Exchange Server Auth Certificate", "Services": "SMTP"}),
        )
        .await
        .unwrap();
    let t = c[0]["Thumbprint"].as_str().unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    ex.run(
        "Set-AuthConfig",
        json!({"NewCertificateThumbprint": t, "NewCertificateEffectiveDate": now}),
    )
    .await
    .unwrap();
    ex.run("Set-AuthConfig", json!({"PublishCertificate": true}))
        .await
        .unwrap();
    let v = steps::verify(&lab.info, user, &mut |_| {}).await.unwrap();
    let v5 = outcome(&v, "V5");
    assert!(
        !v5.ok,
        "V5 must fail when every callback is refused: {v5:?}"
    );
    assert!(
        v5.detail.contains("refused"),
        "V5 names Skype's refusal: {}",
        v5.detail
    );
    assert!(outcome(&v, "V3").ok, "{v:?}");

    // steps 4-6 again (what renew-auth-cert ends with): V5 holds again
    // Skype read its Verify keys for the refused callbacks just now and would not read them
    // again for 30 s; step 6 has it read them, so the callback below is not refused
    let done = steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    let s6 = outcome(&done, "6");
    assert!(s6.ok && s6.detail.contains("trusts it"), "{s6:?}");
    let keys = lab
        .info
        .skype_admin()
        .unwrap()
        .run("Get-CsVerifyKey", json!({}))
        .await
        .unwrap();
    assert!(
        keys.iter().any(|k| k["Thumbprint"]
            .as_str()
            .is_some_and(|x| x.eq_ignore_ascii_case(&t))),
        "{keys:?}"
    );
    let v = steps::verify(&lab.info, user, &mut |_| {}).await.unwrap();
    assert!(v.iter().all(|o| o.ok), "{v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_step1_repairs_a_disabled_or_moved_auth_server() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_ready(dir.path()).await;
    let ex = ExchangeAdmin::new(&lab.info).unwrap();
    ex.run(
        "Set-AuthServer",
        json!({"Identity": "ACS", "Enabled": false}),
    )
    .await
    .unwrap();
    let done = steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    let s1 = outcome(&done, "1");
    assert!(s1.ok && s1.detail.contains("repaired: enabled"), "{s1:?}");
    let a = ex
        .run("Get-AuthServer", json!({"Identity": "ACS"}))
        .await
        .unwrap();
    assert_eq!(a[0]["Enabled"], true);
    // nothing left to repair: the step says so by saying nothing
    let done = steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    assert!(!outcome(&done, "1").detail.contains("repaired"), "{done:?}");

    // the lab started again: the token service listens elsewhere
    let old = lab.info.sts_url.clone();
    drop(lab);
    let lab = lab::start(dir.path(), (0, 0)).await.unwrap();
    assert_ne!(lab.info.sts_url, old);
    let r = doctor::diagnose(&lab.info, time::OffsetDateTime::now_utc().unix_timestamp())
        .await
        .unwrap();
    assert!(
        r.problems().any(|f| f.id == "AUTHSERVER-METADATA-URL"),
        "{}",
        r.to_text()
    );
    let done = steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    let s1 = outcome(&done, "1");
    assert!(
        s1.ok && s1.detail.contains("AuthMetadataUrl") && s1.detail.contains(&lab.info.sts_url),
        "{s1:?}"
    );
    let ex = ExchangeAdmin::new(&lab.info).unwrap();
    let a = ex
        .run("Get-AuthServer", json!({"Identity": "ACS"}))
        .await
        .unwrap();
    assert!(
        a[0]["AuthMetadataUrl"]
            .as_str()
            .unwrap()
            .starts_with(&lab.info.sts_url)
    );
    let r = doctor::diagnose(&lab.info, time::OffsetDateTime::now_utc().unix_timestamp())
        .await
        .unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_text());

    // a next certificate in effect but not published: Exchange signs with it, so the steps
    // register it too
    let c = ex
        .run(
            "New-ExchangeCertificate",
            json!({"SubjectName": "CN=Microsoft Exchange Server Auth Certificate", "Services": "SMTP"}),
        )
        .await
        .unwrap();
    let t = c[0]["Thumbprint"].as_str().unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    ex.run(
        "Set-AuthConfig",
        json!({"NewCertificateThumbprint": t, "NewCertificateEffectiveDate": now}),
    )
    .await
    .unwrap();
    let done = steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    assert!(
        outcome(&done, "5").detail.contains("next auth certificate"),
        "{done:?}"
    );
    let r = doctor::diagnose(&lab.info, time::OffsetDateTime::now_utc().unix_timestamp())
        .await
        .unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_text());
    let v = steps::verify(&lab.info, "alice@contoso.example", &mut |_| {})
        .await
        .unwrap();
    assert!(v.iter().all(|o| o.ok), "{v:?}");
}
