//! Token issuance over HTTP, side by side with a certified peer on the same machine: the npm
//! package `oidc-provider` (bench/oidc-provider) configured for `client_credentials` with
//! `private_key_jwt` client authentication and RS256 JWT access tokens, run as one Node.js process
//! and as one process per core (node:cluster). All get the same load generator, the same
//! connections, pre-signed single-use client assertions (RS256, unique jti), and the same time,
//! alternating. Besides the rates it reports CPU time per token of each server: the peer's
//! processes from /proc, ours as this process's CPU less the load generator's share (its CPU per
//! request while it loads the peer, whose server work runs in other processes).
//!
//! `(cd bench/oidc-provider && npm install)`, then
//! `cargo run --release -p openhybrid-lab --example issuance -- [seconds-per-phase] [connections]`

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use s2s_proto::{SigningKey, b64, jwt};
use serde_json::{Map, Value};

#[path = "common/phase.rs"]
mod phase;
use phase::{Phase, args, cpu_secs, form, run_phase, skype_token_forms};

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

/// One oidc-provider deployment: its processes and its own pre-signed assertions (their audience
/// is its issuer URL).
struct Peer {
    child: Child,
    token_endpoint: String,
    pids: Vec<String>,
    forms: Vec<String>,
}

fn start_peer(workers: usize, peer_key: &SigningKey, n: usize, now: i64) -> Peer {
    let server = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../bench/oidc-provider/server.mjs");
    // oidc-provider fixes its issuer (and so the assertion audience) before it listens
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("port").port()
    };
    let mut child = Command::new("node")
        .arg(&server)
        .env("PORT", port.to_string())
        .env("WORKERS", workers.to_string())
        .env("CLIENT_JWK", rsa_jwk(peer_key).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node: install Node.js and run `npm install` in bench/oidc-provider");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("oidc-provider did not start");
    let started: Value = serde_json::from_str(&line).expect("oidc-provider start line");
    let issuer = started["url"].as_str().unwrap_or_default().to_owned();
    let token_endpoint = started["token_endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let pids = started["pids"]
        .as_array()
        .map(|a| a.iter().map(|p| p.to_string()).collect())
        .unwrap_or_default();
    let forms = parallel(n, |_| {
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
        let a = jwt::sign_with_header(peer_key, &h, &c).expect("sign");
        form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "bench"),
            (
                "client_assertion_type",
                s2s_proto::wire::JWT_BEARER_ASSERTION,
            ),
            ("client_assertion", &a),
        ])
    });
    Peer {
        child,
        token_endpoint,
        pids,
        forms,
    }
}

/// `n` items made on both cores.
fn parallel(n: usize, make: impl Fn(usize) -> String + Sync) -> Vec<String> {
    let half = n / 2;
    std::thread::scope(|s| {
        let a = s.spawn(|| (0..half).map(&make).collect::<Vec<_>>());
        let mut b: Vec<String> = (half..n).map(&make).collect();
        let mut all = a.join().expect("signing thread");
        all.append(&mut b);
        all
    })
}

/// CPU seconds of a set of processes so far (`self` or process ids).
fn cpu_of(pids: &[String]) -> f64 {
    pids.iter().filter_map(|p| cpu_secs(p)).sum()
}

struct Measured {
    phase: Phase,
    /// CPU seconds during the phase: this process (the load generator, and our server when it
    /// is the one loaded), and the peer's processes.
    own_cpu: f64,
    peer_cpu: f64,
}

#[tokio::main]
async fn main() {
    let (secs, conns) = args((5, 60), (16, 128));
    if cpu_secs("self").is_none() {
        eprintln!("issuance: /proc/self/stat is unreadable; CPU figures need Linux");
    }
    // every assertion is single-use: enough for the warm-up and two rounds at well above each server's rate (a
    // round that runs out replays assertions; those are refused and counted as errors)
    let n = ((secs as usize * 2 + 1) * 7000).min(200_000);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // OpenHybrid's token service (the lab's), Skype's registry key
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = lab::start(dir.path(), (0, 0)).await.expect("lab");
    let endpoint = format!("{}/{}/tokens/OAuth/2", lab.info.sts_url, lab.info.realm);
    lab::steps::setup(&lab.info, &mut |_| {})
        .await
        .expect("setup");
    let ours = Arc::new(skype_token_forms(&lab.info, &endpoint, n));

    let peer_key = SigningKey::generate_self_signed(
        "bench client",
        time::OffsetDateTime::now_utc() - time::Duration::hours(1),
        time::OffsetDateTime::now_utc() + time::Duration::days(1),
    )
    .expect("key");
    let cores = std::thread::available_parallelism().map_or(2, |c| c.get());
    let mut peers: Vec<(String, Peer)> = [1, cores]
        .into_iter()
        .map(|w| {
            let name = format!("oidc-provider ×{w}");
            (name, start_peer(w, &peer_key, n, now))
        })
        .collect();

    // one request each first: every server must issue a token
    let http = reqwest::Client::new();
    let mut firsts = vec![(endpoint.clone(), ours[0].clone())];
    for (_, p) in &peers {
        firsts.push((p.token_endpoint.clone(), p.forms[0].clone()));
    }
    for (url, body) in firsts {
        let r = http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
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
    println!(
        "{secs} s per phase, {conns} connections, loopback, {cores} cores; oidc-provider in its own Node.js process(es)"
    );
    let me = vec!["self".to_owned()];
    // name, token endpoint, its assertions, its processes (none: this one)
    type Contender = (String, String, Arc<Vec<String>>, Vec<String>);
    let mut contenders: Vec<Contender> =
        vec![("openhybrid sts".into(), endpoint.clone(), ours, Vec::new())];
    for (name, p) in &mut peers {
        let forms = Arc::new(std::mem::take(&mut p.forms));
        contenders.push((
            name.clone(),
            p.token_endpoint.clone(),
            forms,
            p.pids.clone(),
        ));
    }
    let nexts: Vec<Arc<AtomicU64>> = contenders
        .iter()
        .map(|_| Arc::new(AtomicU64::new(1)))
        .collect();
    let mut results: Vec<Vec<Measured>> = contenders.iter().map(|_| Vec::new()).collect();
    // round 0 warms every server up (Node.js compiles its hot paths as it runs) and is not counted
    for round in 0..3 {
        for (i, (name, url, forms, pids)) in contenders.iter().enumerate() {
            let secs = if round == 0 { 1 } else { secs };
            let (url, forms, next) = (url.clone(), forms.clone(), nexts[i].clone());
            let (own0, peer0) = (cpu_of(&me), cpu_of(pids));
            let phase = run_phase(
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
            let (own_cpu, peer_cpu) = (cpu_of(&me) - own0, cpu_of(pids) - peer0);
            println!(
                "{:<20} {}: {:>7.0} tokens/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}",
                phase.name,
                if round == 0 {
                    "warm-up".to_owned()
                } else {
                    format!("round {round}")
                },
                phase.rps,
                phase.p50_ms,
                phase.p99_ms,
                phase.errors
            );
            if round == 0 {
                continue;
            }
            results[i].push(Measured {
                phase,
                own_cpu,
                peer_cpu,
            });
        }
    }
    // the load generator's CPU per request, from the phases in which it is all this process does
    let (gen_cpu, gen_requests) = results[1..]
        .iter()
        .flatten()
        .fold((0.0, 0u64), |(c, r), m| {
            (c + m.own_cpu, r + m.phase.ok + m.phase.errors)
        });
    let gen_per_request = gen_cpu / gen_requests.max(1) as f64;
    let rate = |ms: &[Measured]| ms.iter().map(|m| m.phase.rps).sum::<f64>() / ms.len() as f64;
    let ok = |ms: &[Measured]| ms.iter().map(|m| m.phase.ok).sum::<u64>().max(1) as f64;
    let ours_rate = rate(&results[0]);
    let ours_cpu = results[0]
        .iter()
        .map(|m| m.own_cpu - gen_per_request * (m.phase.ok + m.phase.errors) as f64)
        .sum::<f64>()
        / ok(&results[0]);
    println!(
        "load generator: {:.0} µs CPU per request (measured while it loads oidc-provider)",
        gen_per_request * 1e6
    );
    println!(
        "{:<20} {:>7.0} tokens/s   {:>5.0} µs CPU per token (this process less the load generator)",
        contenders[0].0,
        ours_rate,
        ours_cpu * 1e6
    );
    for (i, (name, ..)) in contenders.iter().enumerate().skip(1) {
        let theirs_rate = rate(&results[i]);
        let theirs_cpu = results[i].iter().map(|m| m.peer_cpu).sum::<f64>() / ok(&results[i]);
        println!(
            "{name:<20} {theirs_rate:>7.0} tokens/s   {:>5.0} µs CPU per token (its processes)",
            theirs_cpu * 1e6
        );
        println!(
            "ratio openhybrid / {name}: throughput {:.2}, CPU per token {:.2}",
            ours_rate / theirs_rate,
            theirs_cpu / ours_cpu
        );
    }
    for (_, mut p) in peers {
        let _ = p.child.kill();
        let _ = p.child.wait();
    }
}
