//! Load generator for the EWS and token-issuance benchmarks, over loopback HTTP, reporting each
//! figure as a ratio to a baseline measured in the same run:
//!
//! - EWS GetFolder and CreateItem with a validated-token cache on and off, against the same server's
//!   unauthenticated benchmark route; then the cache-on ratios again in paired rounds (a slice of
//!   each, alternating which goes first, the median of the rounds' ratios), so that a neighbour's
//!   load on a shared machine slows both sides of a ratio alike;
//! - token issuance (client assertion included) against raw RSA-2048 signs on the same cores.
//!
//! `cargo run --release -p openhybrid-lab --example load -- [seconds-per-phase] [connections]`
//! Bounded in time and count; loopback only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use lab::client::mint_f1;

const GET_FOLDER: &str = r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="conversationhistory"/></m:FolderIds></m:GetFolder></s:Body></s:Envelope>"#;
const CREATE_ITEM: &str = r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body><m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="conversationhistory"/></m:SavedItemFolderId><m:Items><t:Message><t:ItemClass>IPM.Note.Microsoft.Conversation</t:ItemClass><t:Subject>load</t:Subject><t:Body BodyType="HTML">&lt;div&gt;load test transcript&lt;/div&gt;</t:Body></t:Message></m:Items></m:CreateItem></s:Body></s:Envelope>"#;

/// A SOAP POST of `body` to `url`, with the bearer when one is given. The `Authorization` value
/// is built once, as a partner reusing its token does: formatting and checking a 2.4 KB header
/// per request is the client's cost, and the client shares this process's two cores.
fn ews_post(url: &str, bearer: Option<&str>, body: &'static str) -> phase::Make {
    let url = url.to_owned();
    let auth = bearer.map(|t| {
        let mut v = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}"))
            .expect("a token is a valid header value");
        v.set_sensitive(true);
        v
    });
    Arc::new(move |h| {
        let r = h.post(&url).header("content-type", "text/xml").body(body);
        match &auth {
            Some(v) => r.header(reqwest::header::AUTHORIZATION, v.clone()),
            None => r,
        }
    })
}

#[path = "common/phase.rs"]
mod phase;
use phase::{args, cpu_secs, median_ratio, run_phase, run_phase_for, skype_token_forms};

#[tokio::main]
async fn main() {
    let (secs, conns) = args((5, 120), (16, 256));
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = lab::start_with(
        dir.path(),
        lab::LabOptions {
            bench_noauth_user: Some("alice@contoso.example".into()),
            ..Default::default()
        },
    )
    .await
    .expect("lab");
    lab::steps::setup(&lab.info, &mut |_| {})
        .await
        .expect("setup");
    let token = mint_f1(&lab.info, Some("alice@contoso.example"))
        .await
        .expect("token");
    let ews = format!("{}/EWS/Exchange.asmx", lab.info.exchange_url);
    let noauth = format!("{}/bench/noauth/EWS/Exchange.asmx", lab.info.exchange_url);
    // `LOAD_SERVE=<dir>` writes the two routes, the token and the request bodies there and serves
    // until killed: for a load generator in another process (`bench/ews-oha.sh`).
    if let Ok(out) = std::env::var("LOAD_SERVE") {
        let out = std::path::Path::new(&out);
        for (name, text) in [
            ("auth-url", ews.as_str()),
            ("noauth-url", noauth.as_str()),
            ("authorization", &format!("Bearer {token}")),
            ("GetFolder.xml", GET_FOLDER),
            ("CreateItem.xml", CREATE_ITEM),
        ] {
            std::fs::write(out.join(name), text).expect("write");
        }
        std::fs::write(out.join("ready"), "").expect("write");
        std::future::pending::<()>().await;
    }
    // `LOAD_ONLY=<GetFolder|CreateItem>:<auth|noauth|noauth-token>` runs that one phase (cache
    // on) and stops: for a profiler attached to the whole process. `noauth-token` is the no-auth
    // route sent the token's header, which it ignores.
    if let Ok(only) = std::env::var("LOAD_ONLY") {
        let (op, route) = only.split_once(':').unwrap_or((&only, "auth"));
        let body = match op {
            "GetFolder" => GET_FOLDER,
            "CreateItem" => CREATE_ITEM,
            _ => panic!("LOAD_ONLY: the operation is GetFolder or CreateItem, not {op:?}"),
        };
        let make = match route {
            "auth" => ews_post(&ews, Some(&token), body),
            "noauth" => ews_post(&noauth, None, body),
            "noauth-token" => ews_post(&noauth, Some(&token), body),
            _ => panic!("LOAD_ONLY: the route is auth, noauth or noauth-token, not {route:?}"),
        };
        let p = run_phase(&only, secs, conns, make).await;
        println!(
            "{:<28} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}   CPU {:>5.1} µs/req   {:.1} allocations/req   {} requests",
            p.name, p.rps, p.p50_ms, p.p99_ms, p.errors, p.cpu_us, p.allocs, p.ok
        );
        return;
    }
    println!("{secs} s per phase, {conns} connections, loopback, one process");
    let mut phases = Vec::new();
    // CreateItem phases each write into their own empty folder, so that no phase pays for the
    // items an earlier one left behind.
    let create_in =
        |folder: &str| CREATE_ITEM.replace("conversationhistory", folder).leak() as &'static str;
    let creates = [
        create_in("inbox"),
        create_in("drafts"),
        create_in("sentitems"),
    ];
    for (label, bodies) in [("GetFolder", [GET_FOLDER; 3]), ("CreateItem", creates)] {
        let [b0, b1, b2] = bodies;
        phases.push(
            run_phase(
                &format!("{label} no-auth route"),
                secs,
                conns,
                ews_post(&noauth, None, b0),
            )
            .await,
        );
        lab.exchange.set_token_cache(true);
        phases.push(
            run_phase(
                &format!("{label} auth, cache on"),
                secs,
                conns,
                ews_post(&ews, Some(&token), b1),
            )
            .await,
        );
        lab.exchange.set_token_cache(false);
        phases.push(
            run_phase(
                &format!("{label} auth, cache off"),
                secs,
                conns,
                ews_post(&ews, Some(&token), b2),
            )
            .await,
        );
        lab.exchange.set_token_cache(true);
    }
    for p in &phases {
        println!(
            "{:<28} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}   CPU {:>5.1} µs/req   {:>5.1} allocations/req",
            p.name, p.rps, p.p50_ms, p.p99_ms, p.errors, p.cpu_us, p.allocs
        );
    }
    // The cache-on ratios in paired rounds: one-second slices of the no-auth route and of the
    // authenticated route, and of the no-auth route sent the same `Authorization` header (which
    // it ignores), rotating which goes first; the median of the rounds' ratios. The third route
    // splits the gap in two: what the token's 2.4 KB cost on the wire (client, kernel, HTTP
    // parser) and what the server's authentication of it cost.
    lab.exchange.set_token_cache(true);
    let rounds = (secs as usize * 2).clamp(4, 40);
    for (label, noauth_body, auth_body) in [
        ("GetFolder", GET_FOLDER, GET_FOLDER),
        ("CreateItem", creates[0], creates[1]),
    ] {
        let slice = Duration::from_secs(1);
        let routes = [
            ews_post(&ews, Some(&token), auth_body),
            ews_post(&noauth, None, noauth_body),
            ews_post(&noauth, Some(&token), noauth_body),
        ];
        let (mut pairs, mut cpu_pairs, mut server_pairs, mut wire_pairs) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in 0..rounds {
            let mut rps = [0.0; 3];
            let mut cpu = [0.0; 3];
            for k in 0..3 {
                let i = (r + k) % 3;
                let p = run_phase_for("paired", slice, conns, routes[i].clone()).await;
                rps[i] = p.rps;
                cpu[i] = p.cpu_us;
            }
            let [auth, bare, with_header] = rps;
            pairs.push((auth, bare));
            cpu_pairs.push((cpu[1], cpu[0]));
            server_pairs.push((auth, with_header));
            wire_pairs.push((with_header, bare));
        }
        let (median, q1, q3) = median_ratio(&pairs);
        let (cpu_median, cpu_q1, cpu_q3) = median_ratio(&cpu_pairs);
        let (server, s1, s3) = median_ratio(&server_pairs);
        let (wire, w1, w3) = median_ratio(&wire_pairs);
        println!(
            "paired ratio {label:<12} cache on / no-auth = {median:.2} (quartiles {q1:.2}–{q3:.2}); by CPU per request {cpu_median:.2} ({cpu_q1:.2}–{cpu_q3:.2}); {rounds} rounds of 1 s each"
        );
        println!(
            "  split       {label:<12} no-auth sent the token / no-auth = {wire:.2} ({w1:.2}–{w3:.2}) (the token on the wire); cache on / no-auth sent the token = {server:.2} ({s1:.2}–{s3:.2}) (the server's authentication)"
        );
    }

    // the floor for durable writes: a bare SQLite insert loop, one transaction per row, with the
    // same durability settings (WAL, synchronous=FULL) on the same disk
    let floor = {
        let path = dir.path().join("floor.sqlite");
        tokio::task::spawn_blocking(move || {
            let c = store::rusqlite::Connection::open(&path).expect("open");
            c.pragma_update(None, "journal_mode", "WAL").expect("wal");
            c.pragma_update(None, "synchronous", "FULL").expect("full");
            c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, subject TEXT, body TEXT)").expect("table");
            let start = Instant::now();
            let mut n = 0u64;
            while start.elapsed() < Duration::from_secs(secs) {
                c.execute("INSERT INTO t (subject, body) VALUES ('load', '<div>load test transcript</div>')", []).expect("insert");
                n += 1;
            }
            n as f64 / start.elapsed().as_secs_f64()
        })
        .await
        .expect("floor")
    };
    println!("bare SQLite insert loop (WAL, synchronous=FULL, one commit per row): {floor:.0}/s");
    println!(
        "ratio CreateItem (cache on) / bare SQLite insert loop = {:.2}",
        phases[4].rps / floor
    );
    for i in [0, 3] {
        let base = phases[i].rps;
        println!(
            "ratio {:<24} cache on / no-auth = {:.2}   cache off / no-auth = {:.2}",
            phases[i].name.split(' ').next().unwrap_or(""),
            phases[i + 1].rps / base,
            phases[i + 2].rps / base
        );
    }

    // token issuance: pre-signed assertions (each jti is single-use), against raw signs
    let n = (secs as usize * 9000).min(200_000); // single-use assertions, more than the run can spend
    let endpoint = format!("{}/{}/tokens/OAuth/2", lab.info.sts_url, lab.info.realm);
    let t0 = Instant::now();
    let forms = skype_token_forms(&lab.info, &endpoint, n);
    let sign_rate = n as f64 / t0.elapsed().as_secs_f64();
    // raw signs on both cores
    let c1 = cpu_secs("self");
    let t1 = Instant::now();
    let per = 2000;
    let handles: Vec<_> = (0..2).map(|_| {
        let k = lab.info.skype_key().expect("key");
        std::thread::spawn(move || { for _ in 0..per { let _ = k.sign_rs256(b"benchmark payload of a typical token size ........................................"); } })
    }).collect();
    for h in handles {
        let _ = h.join();
    }
    let raw_two_cores = (2 * per) as f64 / t1.elapsed().as_secs_f64();
    let c2 = cpu_secs("self");
    let forms = Arc::new(forms);
    let next = Arc::new(AtomicU64::new(0));
    let ep = endpoint.clone();
    let issue = run_phase(
        "token issuance",
        secs,
        conns,
        Arc::new(move |h| {
            let i = next.fetch_add(1, Ordering::Relaxed) as usize % forms.len();
            h.post(&ep)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(forms[i].clone())
        }),
    )
    .await;
    let c4 = cpu_secs("self");
    println!(
        "{:<28} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   errors {}",
        issue.name, issue.rps, issue.p50_ms, issue.p99_ms, issue.errors
    );
    println!(
        "raw RSA-2048 signs, 2 threads: {raw_two_cores:.0}/s (single-thread assertion signing while preparing: {sign_rate:.0}/s)"
    );
    println!(
        "ratio issuance / raw signs on the same cores = {:.2}",
        issue.rps / raw_two_cores
    );
    // The same ratio by the process's CPU time (user + system), which other work on a shared
    // machine does not skew: CPU per raw sign / CPU per token (the load generator included).
    if let (Some(c1), Some(c2), Some(c4)) = (c1, c2, c4) {
        let per_sign = (c2 - c1) / (2 * per) as f64;
        let per_token = (c4 - c2) / issue.ok as f64;
        println!(
            "CPU time: {:.0} µs per token (load generator included), {:.0} µs per raw sign; ratio by CPU time = {:.2}",
            per_token * 1e6,
            per_sign * 1e6,
            per_sign / per_token
        );
    }
}
