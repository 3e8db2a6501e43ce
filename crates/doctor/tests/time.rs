//! Findings that depend on time: clocks out of skew, an auth certificate near or past its expiry.
//! The doctor takes its own `now`, so these are observed by moving the doctor's clock; the fix for
//! the certificate (`openhybrid renew-auth-cert`, i.e. `lab::steps::renew_auth_cert`) is applied
//! for real and the findings clear.

use doctor::{Severity, diagnose};

fn has(r: &doctor::Report, id: &str) -> Option<Severity> {
    r.findings
        .iter()
        .find(|f| f.id == id && f.severity != Severity::Ok)
        .map(|f| f.severity)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skew_and_expiry() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab::start(dir.path(), (0, 0)).await.unwrap();
    lab::steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(diagnose(&lab.info, now).await.unwrap().exit_code(), 0);

    // this machine's clock 20 minutes ahead of the services'
    let r = diagnose(&lab.info, now + 1200).await.unwrap();
    let skews: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.id == "CLOCK-SKEW" && f.severity == Severity::Error)
        .collect();
    assert_eq!(skews.len(), 2, "both services: {:?}", r.findings);
    assert!(
        skews[0].found.contains("-1200") || skews[0].found.contains("-1199"),
        "{:?}",
        skews[0]
    );

    let (cert, _) = lab::steps::export_auth_cert(
        &lab.info,
        &lab::client::ExchangeAdmin::new(&lab.info).unwrap(),
    )
    .await
    .unwrap();
    let end = cert.not_after.unix_timestamp();
    let r = diagnose(&lab.info, end - 30 * 86400).await.unwrap();
    assert_eq!(
        has(&r, "AUTHCERT-NEAR-EXPIRY"),
        Some(Severity::Warning),
        "{:?}",
        r.findings
    );
    let r = diagnose(&lab.info, end + 86400).await.unwrap();
    assert_eq!(has(&r, "AUTHCERT-EXPIRED"), Some(Severity::Error));
    let fix = r
        .findings
        .iter()
        .find(|f| f.id == "AUTHCERT-EXPIRED")
        .unwrap()
        .fix
        .clone();
    assert_eq!(fix, "openhybrid renew-auth-cert");

    // the fix: a new certificate, published and uploaded again
    let t = lab::steps::renew_auth_cert(&lab.info, &mut |_| {})
        .await
        .unwrap();
    assert_ne!(t, cert.thumbprint);
    let r = diagnose(&lab.info, now).await.unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_text());
    // and F1 and F2 both still work with the new certificate
    let v = lab::steps::verify(&lab.info, "alice@contoso.example", &mut |_| {})
        .await
        .unwrap();
    assert!(v.iter().all(|o| o.ok), "{v:?}");
}
