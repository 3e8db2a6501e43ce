//! How cost grows: EWS throughput and latency with 10, 1,000 and 100,000 items in a folder
//! (FindItem first page of 50, GetFolder with its live counts, CreateItem), with 10 and 10,000
//! mailboxes in the organization, and with 0 and 200 streaming connections (GetStreamingEvents)
//! open on other mailboxes while CreateItem writes to one. Each figure is reported as a ratio to
//! the smallest case of the same run.
//!
//! `cargo run --release -p openhybrid-lab --example scale -- [seconds-per-phase] [connections]`
//! Bounded in time and count; loopback only.

use std::sync::Arc;
use std::time::Instant;

use lab::client::mint_f1;

#[path = "common/phase.rs"]
mod phase;
use mailbox::{FolderSel, MailboxKey, NewItem};
use phase::{args, run_phase};

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

fn find_page(folder: &str) -> String {
    envelope(&format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:IndexedPageItemView MaxEntriesReturned="50" Offset="0" BasePoint="Beginning"/><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#
    ))
}

fn get_folder(folder: &str) -> String {
    envelope(&format!(
        r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="{folder}"/></m:FolderIds></m:GetFolder>"#
    ))
}

fn create(folder: &str) -> String {
    envelope(&format!(
        r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/></m:SavedItemFolderId><m:Items><t:Message><t:ItemClass>IPM.Note.Microsoft.Conversation</t:ItemClass><t:Subject>scale</t:Subject><t:Body BodyType="HTML">&lt;p&gt;x&lt;/p&gt;</t:Body></t:Message></m:Items></m:CreateItem>"#
    ))
}

/// One load phase of `body` against `url` (successful requests per second, p50 and p99 in ms,
/// errors).
async fn phase(
    url: &str,
    token: &str,
    body: String,
    secs: u64,
    conns: usize,
) -> (f64, f64, f64, u64) {
    let (url, token, body) = (url.to_owned(), token.to_owned(), Arc::new(body));
    let p = run_phase(
        "scale",
        secs,
        conns,
        Arc::new(move |h| {
            h.post(&url)
                .bearer_auth(&token)
                .body(body.as_str().to_owned())
        }),
    )
    .await;
    (p.rps, p.p50_ms, p.p99_ms, p.errors)
}

#[tokio::main]
async fn main() {
    let (secs, conns) = args((3, 60), (8, 64));
    let dir = tempfile::tempdir().expect("tempdir");
    let lab = lab::start(dir.path(), (0, 0)).await.expect("lab");
    lab::steps::setup(&lab.info, &mut |_| {})
        .await
        .expect("setup");
    let token = mint_f1(&lab.info, Some("alice@contoso.example"))
        .await
        .expect("token");
    let url = format!("{}/EWS/Exchange.asmx", lab.info.exchange_url);
    let admin = lab::client::ExchangeAdmin::new(&lab.info).expect("admin");
    let alice = admin
        .run(
            "Get-Mailbox",
            serde_json::json!({"Identity": "alice@contoso.example"}),
        )
        .await
        .expect("alice")[0]["Guid"]
        .as_str()
        .expect("guid")
        .to_owned();
    let key = MailboxKey::new(alice).expect("key");
    let store = lab.exchange.mailbox_store().clone();
    store.ensure_mailbox(&key).await.expect("mailbox");
    println!("{secs} s per phase, {conns} connections, loopback, one process");

    // items in a folder: inbox gets 10, then 1,000, then 100,000 (filled in batches of 1,000)
    let mut have = 0usize;
    let mut base: Option<(f64, f64, f64)> = None;
    for target in [10usize, 1_000, 100_000] {
        while have < target {
            let n = (target - have).min(1000);
            let items = (0..n)
                .map(|i| NewItem {
                    subject: Some(format!("item {}", have + i)),
                    ..Default::default()
                })
                .collect();
            store
                .create_items(&key, FolderSel::distinguished("inbox"), items)
                .await
                .expect("fill");
            have += n;
        }
        let (f, fp50, fp99, fe) = phase(&url, &token, find_page("inbox"), secs, conns).await;
        let (g, gp50, gp99, ge) = phase(&url, &token, get_folder("inbox"), secs, conns).await;
        let (c, cp50, cp99, ce) = phase(&url, &token, create("inbox"), secs, conns).await;
        have += (c * secs as f64) as usize; // approximately what the CreateItem phase added
        let b = *base.get_or_insert((f, g, c));
        println!(
            "{target:>7} items  FindItem page {f:>6.0}/s (x{:.2}, p50 {fp50:.1} p99 {fp99:.1} ms)  GetFolder {g:>6.0}/s (x{:.2}, p50 {gp50:.1} p99 {gp99:.1} ms)  CreateItem {c:>6.0}/s (x{:.2}, p50 {cp50:.1} p99 {cp99:.1} ms)  errors {}",
            f / b.0,
            g / b.1,
            c / b.2,
            fe + ge + ce
        );
    }

    // mailboxes in the organization: 10, then 10,000
    let mut mailboxes = 2usize; // alice and bob
    let mut base: Option<(f64, f64)> = None;
    for target in [10usize, 10_000] {
        let t0 = Instant::now();
        while mailboxes < target {
            let i = mailboxes;
            admin.run("New-Mailbox", serde_json::json!({"Name": format!("User {i}"), "PrimarySmtpAddress": format!("user{i}@contoso.example")})).await.expect("mailbox");
            mailboxes += 1;
        }
        let created = t0.elapsed();
        lab.exchange.set_token_cache(false);
        let (u, up50, up99, ue) =
            phase(&url, &token, get_folder("conversationhistory"), secs, conns).await;
        lab.exchange.set_token_cache(true);
        let (g, gp50, gp99, ge) =
            phase(&url, &token, get_folder("conversationhistory"), secs, conns).await;
        let b = *base.get_or_insert((u, g));
        println!(
            "{target:>7} mailboxes (filled in {:.1} s)  GetFolder uncached auth {u:>6.0}/s (x{:.2}, p50 {up50:.1} p99 {up99:.1} ms)  cached {g:>6.0}/s (x{:.2}, p50 {gp50:.1} p99 {gp99:.1} ms)  errors {}",
            created.as_secs_f64(),
            u / b.0,
            g / b.1,
            ue + ge
        );
    }

    // streaming connections idle on other mailboxes: CreateItem without them, with them, and
    // without them again (the connections wait on their own mailbox's commit signal)
    const STREAMS: usize = 200;
    let http = reqwest::Client::new();
    let (c0, c0p50, c0p99, c0e) = phase(&url, &token, create("inbox"), secs, conns).await;
    let t0 = Instant::now();
    let mut held = Vec::with_capacity(STREAMS);
    for i in 2..2 + STREAMS {
        let user = format!("user{i}@contoso.example");
        let t = mint_f1(&lab.info, Some(&user)).await.expect("token");
        let sub = http
            .post(&url)
            .bearer_auth(&t)
            .header("content-type", "text/xml; charset=utf-8")
            .body(envelope(r#"<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>"#))
            .send()
            .await
            .expect("subscribe")
            .text()
            .await
            .expect("subscribe answer");
        let id = sub
            .split("<m:SubscriptionId>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or_else(|| panic!("no subscription id: {sub}"))
            .to_owned();
        let stream = http
            .post(&url)
            .bearer_auth(&t)
            .header("content-type", "text/xml; charset=utf-8")
            .body(envelope(&format!(r#"<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{id}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>30</m:ConnectionTimeout></m:GetStreamingEvents>"#)))
            .send()
            .await
            .expect("streaming");
        assert_eq!(stream.status(), 200);
        held.push(stream);
    }
    let open = lab.exchange.open_streaming_connections();
    let opened = t0.elapsed();
    let (c1, c1p50, c1p99, c1e) = phase(&url, &token, create("inbox"), secs, conns).await;
    drop(held);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let (c2, c2p50, c2p99, c2e) = phase(&url, &token, create("inbox"), secs, conns).await;
    println!(
        "streaming connections on other mailboxes: none {c0:>6.0}/s (p50 {c0p50:.1} p99 {c0p99:.1} ms)  {open} open (opened in {:.1} s) {c1:>6.0}/s (x{:.2} of the mean without, p50 {c1p50:.1} p99 {c1p99:.1} ms)  none again {c2:>6.0}/s (p50 {c2p50:.1} p99 {c2p99:.1} ms)  errors {}",
        opened.as_secs_f64(),
        c1 / ((c0 + c2) / 2.0),
        c0e + c1e + c2e
    );
}
