//! Token issuance over HTTP, side by side with a certified peer on the same machine: the npm
//! package `oidc-provider` (bench/oidc-provider) configured for `client_credentials` with
//! `private_key_jwt` client authentication and RS256 JWT access tokens. Both get the same load
//! generator, the same connections, pre-signed single-use client assertions (RS256, unique jti),
//! and the same time, alternating.
//!
//! `(cd bench/oidc-provider && npm install)`, then
//! `cargo run --release -p openhybrid-lab --example issuance -- [seconds-per-phase] [connections]`

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use s2s_proto::{SigningKey, b64, jwt};
use serde_json::{Map, Value};

#[path = "common/phase.rs"]
mod phase;
use phase::{args, form, run_phase, skype_token_forms};

fn rsa_jwk(key: &SigningKey) -> Value {
    use x509_parser::prelude::*;
    let (_, cert) = X509Certificate::from_der(key.certificate().der()).expect("cert");
    let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = cert.public_key().parsed() else {
        panic!("not RSA")
    };
    let trim = |b: &[u8]| {
        b.iter()
            .skip_while(|x| **x == 0)
            .copied()
            .collect::<Vec<u8>>()
    };
    serde_json::json!({"kty": "RSA", "n": b64::url_encode(trim(rsa.modulus)), "e": b64::url_encode(trim(rsa.exponent)), "kid": key.certificate().x5t})
}

#[tokio::main]
async fn main() {
    let (secs, conns) = args((5, 60), (16, 128));
    // every assertion is single-use: enough for two rounds at well above either server's rate
    // (a round that runs out replays assertions; those are refused and counted as errors)
    let n = (secs as usize * 2 * 9000).min(240_000);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // OpenHybrid's token service (the lab's), Skype's registry key
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = lab::start(dir.path(), (0, 0)).await.expect("lab");
    let endpoint = format!("{}/{}/tokens/OAuth/2", lab.info.sts_url, lab.info.realm);
    lab::steps::setup(&lab.info, &mut |_| {})
        .await
        .expect("setup");
    let ours = skype_token_forms(&lab.info, &endpoint, n);

    // oidc-provider
    let peer_key = SigningKey::generate_self_signed(
        "bench client",
        time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        time::OffsetDateTime::now_utc() + time::Duration::days(1),
    )
    .expect("key");
    let server = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench/oidc-provider/server.mjs");
    let mut child = Command::new("node")
        .arg(&server)
        .env("PORT", {
            // oidc-provider fixes its issuer (and so the assertion audience) before it listens
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
            l.local_addr().expect("port").port().to_string()
        })
        .env("CLIENT_JWK", rsa_jwk(&peer_key).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node: install Node.js and run `npm install` in bench/oidc-provider");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("oidc-provider did not start");
    let started: Value = serde_json::from_str(&line).expect("oidc-provider start line");
    let (issuer, token_endpoint) = (
        started["url"].as_str().unwrap_or_default().to_owned(),
        started["token_endpoint"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    );
    let theirs: Vec<String> = (0..n)
        .map(|_| {
            let mut c = Map::new();
            for (k, v) in [("iss", "bench"), ("sub", "bench")] {
                c.insert(k.into(), v.into());
            }
            c.insert("aud".into(), issuer.clone().into());
            c.insert("jti".into(), uuid::Uuid::new_v4().to_string().into());
            c.insert("iat".into(), now.into());
            c.insert("exp".into(), (now + 540).into());
            let mut h = Map::new();
            h.insert("alg".into(), "RS256".into());
            h.insert("kid".into(), peer_key.certificate().x5t.clone().into());
            let a = jwt::sign_with_header(&peer_key, &h, &c).expect("sign");
            form(&[
                ("grant_type", "client_credentials"),
                ("client_id", "bench"),
                (
                    "client_assertion_type",
                    s2s_proto::wire::JWT_BEARER_ASSERTION,
                ),
                ("client_assertion", &a),
            ])
        })
        .collect();

    // one request each first: both must issue a token
    let http = reqwest::Client::new();
    for (url, body) in [(&endpoint, &ours[0]), (&token_endpoint, &theirs[0])] {
        let r = http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .expect("request");
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        assert!(
            status.is_success() && text.contains("access_token"),
            "{url}: {status} {text}"
        );
    }
    let (ours, theirs) = (Arc::new(ours), Arc::new(theirs));
    println!(
        "{secs} s per phase, {conns} connections, loopback; oidc-provider in its own Node.js process"
    );
    let mut results = Vec::new();
    let (next_ours, next_theirs) = (Arc::new(AtomicU64::new(1)), Arc::new(AtomicU64::new(1)));
    for round in 0..2 {
        for (name, url, forms, next) in [
            (
                "openhybrid sts",
                endpoint.clone(),
                ours.clone(),
                next_ours.clone(),
            ),
            (
                "oidc-provider",
                token_endpoint.clone(),
                theirs.clone(),
                next_theirs.clone(),
            ),
        ] {
            let p = run_phase(
                name,
                secs,
                conns,
                Arc::new(move |h| {
                    // past the end the same assertion repeats: a replay, refused and counted as an error
                    let i = (next.fetch_add(1, Ordering::Relaxed) as usize).min(forms.len() - 1);
                    h.post(&url)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(forms[i].clone())
                }),
            )
            .await;
            println!(
                "{:<16} round {round}: {:>7.0} tokens/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}",
                p.name, p.rps, p.p50_ms, p.p99_ms, p.errors
            );
            results.push(p);
        }
    }
    let ours: f64 = results
        .iter()
        .filter(|p| p.name == "openhybrid sts")
        .map(|p| p.rps)
        .sum::<f64>()
        / 2.0;
    let theirs: f64 = results
        .iter()
        .filter(|p| p.name == "oidc-provider")
        .map(|p| p.rps)
        .sum::<f64>()
        / 2.0;
    println!(
        "ratio openhybrid / oidc-provider = {:.2}  ({ours:.0} vs {theirs:.0} tokens/s)",
        ours / theirs
    );
    let _ = child.kill();
    let _ = child.wait();
}
