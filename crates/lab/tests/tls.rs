//! `openhybrid up --tls`: every party over HTTPS with certificates from a lab CA; the parties
//! trust exactly that CA. The seed's steps, the verify checks (F1 and F2 included) and the doctor
//! all hold over TLS, and a client that does not trust the lab CA is refused.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_lab_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab::start_with(
        dir.path(),
        lab::LabOptions {
            tls: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for u in [
        &lab.info.sts_url,
        &lab.info.exchange_url,
        &lab.info.skype_url,
    ] {
        assert!(u.starts_with("https://127.0.0.1:"), "{u}");
    }
    assert!(lab.info.ca_cert.as_ref().unwrap().exists());
    let done = lab::steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    assert!(done.iter().all(|o| o.ok), "{done:?}");
    let v = lab::steps::verify(&lab.info, "alice@contoso.example", &mut |_| {})
        .await
        .unwrap();
    assert!(v.iter().all(|o| o.ok), "{v:?}");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let r = doctor::diagnose(&lab.info, now).await.unwrap();
    assert_eq!(r.exit_code(), 0, "{}", r.to_text());
    // a client without the lab CA cannot talk to the parties
    assert!(
        reqwest::Client::new()
            .get(format!("{}/healthz", lab.info.sts_url))
            .send()
            .await
            .is_err()
    );
}
