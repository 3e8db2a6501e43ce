//! The doctor against a real lab, broken the ways an administrator breaks it: each breakage has a
//! finding, the findings come in the order their fixes must run, every printed fix works when
//! run as printed, and a party that cannot be reached is named instead of guessed about.

mod common;

use common::{apply, exchange, lab_ready, now, position, problem, round};
use doctor::{Severity, diagnose};
use serde_json::json;

/// Item: a fresh lab (before the seed's steps). The application account is a prerequisite of the
/// partner application that links to it, so it comes first, and the printed fixes, run in the
/// printed order, leave a lab that verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_lab_fixes_run_in_order_make_it_healthy() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab::start(dir.path(), (0, 0)).await.unwrap();
    let r = diagnose(&lab.info, now()).await.unwrap();
    let text = r.to_text();
    let mu = position(&r, "MAILUSER-MISSING");
    for id in [
        "ROLE-USERAPPLICATION-MISSING",
        "ROLE-ARCHIVEAPPLICATION-MISSING",
        "PARTNER-MISSING",
    ] {
        assert!(
            mu < position(&r, id),
            "MAILUSER-MISSING after {id}:\n{text}"
        );
    }
    assert!(
        position(&r, "ROLE-USERAPPLICATION-MISSING") < position(&r, "PARTNER-MISSING"),
        "{text}"
    );
    assert!(position(&r, "PARTNER-MISSING") < position(&r, "F1-FAILS"));
    for f in r.problems() {
        if f.id == "F1-FAILS" || f.id == "AUTODISCOVER-FAILS" {
            continue;
        }
        apply(&lab.info, &f.fix).await;
    }
    let r = diagnose(&lab.info, now()).await.unwrap();
    assert_eq!(r.exit_code(), 0, "after every fix:\n{}", r.to_text());
    let v = lab::steps::verify(&lab.info, doctor::PROBE_USER, &mut |_| {})
        .await
        .unwrap();
    assert!(v.iter().all(|o| o.ok), "{v:?}");
}

/// Item: Exchange signs with the next certificate once its effective date has passed, published or
/// not; that one must be trusted. A next certificate still to take effect is a warning until it is
/// registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_certificate_exchange_signs_with_is_the_one_checked() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_ready(dir.path()).await;
    let info = &lab.info;
    assert_eq!(diagnose(info, now()).await.unwrap().exit_code(), 0);
    let new_cert = |_: ()| async {
        let c = exchange(
            info,
            "New-ExchangeCertificate",
            json!({"SubjectName": "CN=Microsoft Exchange Server Auth Certificate", "Services": "SMTP"}),
        )
        .await;
        c[0]["Thumbprint"].as_str().unwrap().to_owned()
    };
    let iso = |t: i64| {
        time::OffsetDateTime::from_unix_timestamp(t)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };

    // effective now, not published: Exchange signs F2 callbacks with it already
    let t = new_cert(()).await;
    exchange(
        info,
        "Set-AuthConfig",
        json!({"NewCertificateThumbprint": t, "NewCertificateEffectiveDate": iso(now() - 5)}),
    )
    .await;
    let r = diagnose(info, now()).await.unwrap();
    let f = problem(&r, "AUTHCERT-NOT-TRUSTED-BY-SKYPE")
        .unwrap_or_else(|| panic!("not reported:\n{}", r.to_text()));
    assert!(f.expected.contains("next auth certificate"), "{f:?}");
    assert!(f.fix.contains(&t), "{f:?}");
    assert!(
        problem(&r, "AUTHCERT-NOT-ON-EXCHANGE-SP").is_some(),
        "{}",
        r.to_text()
    );
    apply(info, &f.fix.clone()).await;
    // Skype reads the keys now, not at its next callback (SKYPE-VERIFY-KEYS-STALE below)
    info.skype_admin()
        .unwrap()
        .run("Get-CsVerifyKey", json!({"Refresh": true}))
        .await
        .unwrap();
    round(info, "AUTHCERT-NOT-ON-EXCHANGE-SP").await;

    // a next certificate taking effect in 30 days, not registered anywhere: a warning
    let t2 = new_cert(()).await;
    exchange(
        info,
        "Set-AuthConfig",
        json!({"NewCertificateThumbprint": t2, "NewCertificateEffectiveDate": iso(now() + 30 * 86400)}),
    )
    .await;
    let r = diagnose(info, now()).await.unwrap();
    let f = problem(&r, "AUTHCERT-NEXT-NOT-UPLOADED")
        .unwrap_or_else(|| panic!("not reported:\n{}", r.to_text()))
        .clone();
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(r.exit_code(), 1, "{}", r.to_text());
    assert!(f.fix.contains(&t2), "{f:?}");
    apply(info, &f.fix).await;
    // Skype may not have read the certificate registered above yet (it reads its keys within
    // 30 s of a callback that names it): a warning whose fix has it read them now
    let r = diagnose(info, now()).await.unwrap();
    if let Some(f) = problem(&r, "SKYPE-VERIFY-KEYS-STALE") {
        assert_eq!(f.severity, Severity::Warning, "{f:?}");
        apply(info, &f.fix.clone()).await;
    }
    let r = diagnose(info, now()).await.unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_text());
}

/// Item: a renewed certificate registered at the token service just after Skype read its Verify
/// keys. Skype refuses Exchange's callbacks until it reads them again (30 s at the soonest): a
/// warning, and its printed fix has Skype read them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skype_not_yet_reading_a_renewed_certificate_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_ready(dir.path()).await;
    let info = &lab.info;
    let c = exchange(
        info,
        "New-ExchangeCertificate",
        json!({"SubjectName": "CN=Microsoft Exchange Server Auth Certificate", "Services": "SMTP"}),
    )
    .await;
    let t = c[0]["Thumbprint"].as_str().unwrap().to_owned();
    let effective = time::OffsetDateTime::from_unix_timestamp(now() - 5)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    exchange(
        info,
        "Set-AuthConfig",
        json!({"NewCertificateThumbprint": t, "NewCertificateEffectiveDate": effective}),
    )
    .await;
    // Skype reads its keys now (and so not again for 30 s); then the certificate is registered
    info.skype_admin()
        .unwrap()
        .run("Get-CsVerifyKey", json!({"Refresh": true}))
        .await
        .unwrap();
    let r = diagnose(info, now()).await.unwrap();
    let f = problem(&r, "AUTHCERT-NOT-TRUSTED-BY-SKYPE")
        .unwrap_or_else(|| panic!("not reported:\n{}", r.to_text()))
        .clone();
    assert!(
        problem(&r, "SKYPE-VERIFY-KEYS-STALE").is_none(),
        "not registered yet: the error above says so\n{}",
        r.to_text()
    );
    apply(info, &f.fix).await;
    let r = diagnose(info, now()).await.unwrap();
    let f = problem(&r, "SKYPE-VERIFY-KEYS-STALE")
        .unwrap_or_else(|| panic!("not reported:\n{}", r.to_text()))
        .clone();
    assert_eq!(f.severity, Severity::Warning, "{f:?}");
    assert!(
        f.expected.starts_with(&format!("{}…", &t[..4])) && f.found.starts_with("only "),
        "{f:?}"
    );
    apply(info, &f.fix).await;
    let r = diagnose(info, now()).await.unwrap();
    assert!(
        problem(&r, "SKYPE-VERIFY-KEYS-STALE").is_none(),
        "{}",
        r.to_text()
    );
}

/// Item: lab.json pointing at dead ports. The doctor names the party and the URL, and invents
/// nothing about what it could not read (no SPN fix that would replace the list with one entry).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_party_is_named_and_its_checks_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_ready(dir.path()).await;
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let invented = [
        "AUTHSERVER-MISSING",
        "AUTHCERT-MISSING",
        "AUTHCERT-NOT-ON-EXCHANGE-SP",
        "AUTHCERT-NOT-TRUSTED-BY-SKYPE",
        "SPN-MISSING",
        "PARTNER-MISSING",
        "MAILUSER-MISSING",
        "ROLE-USERAPPLICATION-MISSING",
        "STS-METADATA",
        "F1-FAILS",
    ];

    let mut both = lab.info.clone();
    both.sts_url = dead.clone();
    both.exchange_url = dead.clone();
    let r = diagnose(&both, now()).await.unwrap();
    for id in ["STS-UNREACHABLE", "EXCHANGE-UNREACHABLE"] {
        let f = problem(&r, id).unwrap_or_else(|| panic!("{id} missing:\n{}", r.to_text()));
        assert!(f.expected.contains(&dead), "{f:?}");
        assert!(f.fix.starts_with("openhybrid up --data"), "{f:?}");
    }
    for id in invented {
        assert!(problem(&r, id).is_none(), "{id} invented:\n{}", r.to_text());
    }
    assert_eq!(r.problems().count(), 2, "{}", r.to_text());

    // only Exchange down: the token service's side is still checked, and holds
    let mut ex_down = lab.info.clone();
    ex_down.exchange_url = dead.clone();
    let r = diagnose(&ex_down, now()).await.unwrap();
    let ids: Vec<_> = r.problems().map(|f| f.id).collect();
    assert_eq!(ids, ["EXCHANGE-UNREACHABLE"], "{}", r.to_text());
    assert!(
        r.findings
            .iter()
            .any(|f| f.id == "SPN-MISSING" && f.severity == Severity::Ok)
    );

    // only the token service down: Exchange's side is checked, and holds
    let mut sts_down = lab.info.clone();
    sts_down.sts_url = dead.clone();
    let r = diagnose(&sts_down, now()).await.unwrap();
    let ids: Vec<_> = r.problems().map(|f| f.id).collect();
    assert_eq!(ids, ["STS-UNREACHABLE"], "{}", r.to_text());
    assert!(
        r.findings
            .iter()
            .any(|f| f.id == "PARTNER-MISSING" && f.severity == Severity::Ok)
    );
}

/// Item: settings that made F1 fail with no finding above it; each now has one whose fix works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realm_service_name_partner_realm_and_disabled_user_are_found_and_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_ready(dir.path()).await;
    let info = &lab.info;
    let other = "4f8d2c1e-0b5a-4c3e-9d7f-2a6b8c0e1f3d";

    exchange(info, "Set-AuthConfig", json!({"Realm": other})).await;
    round(info, "AUTHCONFIG-REALM-MISMATCH").await;

    exchange(info, "Set-AuthConfig", json!({"ServiceName": other})).await;
    round(info, "AUTHCONFIG-SERVICENAME").await;

    exchange(
        info,
        "Set-PartnerApplication",
        json!({"Identity": "SfBOnline", "Realm": other}),
    )
    .await;
    round(info, "PARTNER-REALM-MISMATCH").await;

    exchange(
        info,
        "Set-Mailbox",
        json!({"Identity": doctor::PROBE_USER, "AccountDisabled": true}),
    )
    .await;
    round(info, "MAILBOX-DISABLED").await;
}

/// Item: `openhybrid up` again on the same directory listens on other ports; the auth server still
/// fetches the token service's metadata from the old one. F1 keeps working on the keys Exchange
/// already holds, so only this check tells.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_token_service_moves_the_metadata_url() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_ready(dir.path()).await;
    let old = lab.info.sts_url.clone();
    drop(lab);
    let lab = lab::start(dir.path(), (0, 0)).await.unwrap();
    assert_ne!(lab.info.sts_url, old, "the token service moved");
    let r = diagnose(&lab.info, now()).await.unwrap();
    let f = problem(&r, "AUTHSERVER-METADATA-URL")
        .unwrap_or_else(|| panic!("not reported:\n{}", r.to_text()));
    assert!(f.found.contains(&old), "{f:?}");
    assert!(f.fix.contains(&lab.info.sts_url), "{f:?}");
    round(&lab.info, "AUTHSERVER-METADATA-URL").await;
}

/// Item: how Skype finds EWS. Exchange announcing an EWS host no Skype token can name, and Skype
/// not knowing where Autodiscover is, are each found and fixed by the printed command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn how_skype_finds_ews_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab_ready(dir.path()).await;
    let info = &lab.info;
    let r = diagnose(info, now()).await.unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_text());
    for id in ["SKYPE-AUTODISCOVER-URL", "AUTODISCOVER-FAILS"] {
        assert!(
            r.findings
                .iter()
                .any(|f| f.id == id && f.severity == Severity::Ok),
            "{id} not checked:\n{}",
            r.to_text()
        );
    }
    // Exchange announces a host outside the token service's names for it
    exchange(
        info,
        "Set-WebServicesVirtualDirectory",
        json!({"ExternalUrl": "https://ews.fabrikam.example/EWS/Exchange.asmx"}),
    )
    .await;
    let r = diagnose(info, now()).await.unwrap();
    let f = problem(&r, "EWS-URL-SPN").unwrap_or_else(|| panic!("{}", r.to_text()));
    assert!(f.fix.contains("ews.fabrikam.example"), "{f:?}");
    round(info, "EWS-URL-SPN").await;
    exchange(
        info,
        "Set-WebServicesVirtualDirectory",
        json!({"ExternalUrl": format!("https://{}/EWS/Exchange.asmx", info.exchange_host)}),
    )
    .await;
    // Skype does not know where Autodiscover is
    info.skype_admin()
        .unwrap()
        .run(
            "Set-CsOAuthConfiguration",
            json!({"ExchangeAutodiscoverUrl": null}),
        )
        .await
        .unwrap();
    round(info, "SKYPE-AUTODISCOVER-URL").await;
    // Autodiscover that refuses: a user Exchange does not know is reported as Exchange says it
    exchange(
        info,
        "Set-Mailbox",
        json!({"Identity": doctor::PROBE_USER, "AccountDisabled": true}),
    )
    .await;
    let r = diagnose(info, now()).await.unwrap();
    let f = problem(&r, "AUTODISCOVER-FAILS").unwrap_or_else(|| panic!("{}", r.to_text()));
    assert!(f.found.contains("401"), "{f:?}");
    exchange(
        info,
        "Set-Mailbox",
        json!({"Identity": doctor::PROBE_USER, "AccountDisabled": false}),
    )
    .await;
}
