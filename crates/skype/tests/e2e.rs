//! The Skype service against the whole lab over HTTP on loopback: the token service and Exchange
//! configured by the seed's steps 1–6, Skype's own certificate provisioned in the first-party
//! registry, and every feature observed in the mailbox through EWS with separately minted
//! tokens (not through Skype).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ews_proto::response::{item_from_element, parse_response_messages};
use ews_proto::xml::Limits;
use lab::client::{ExchangeAdmin, StsAdmin, mint_f1};
use lab::ewsc::{Ews, tone_wav};
use s2s_proto::principal::{EXCHANGE_APP_ID, SKYPE_APP_ID};
use s2s_proto::{ActorTokenSpec, PrincipalName, SigningKey, SystemClock};
use serde_json::{Value, json};
use skype::client::SkypeAdmin;
use skype::{Config, RetryPolicy, Skype, Tuning};

const ALICE: &str = "alice@contoso.example";
const BOB: &str = "bob@contoso.example";
const EWS_URL: &str = "http://mail.contoso.example/EWS/Exchange.asmx";

struct Env {
    dir: tempfile::TempDir,
    lab: lab::Lab,
    skype: Skype,
    url: String,
    admin: SkypeAdmin,
    _server: tokio::task::JoinHandle<()>,
}

fn fast_tuning() -> Tuning {
    Tuning {
        retry: RetryPolicy {
            base_secs: 1,
            cap_secs: 2,
            max_age_secs: 3600,
            refused_attempts: 2,
            refused_min_secs: 0,
            permanent_attempts: 2,
        },
        verify_key_refresh_min_secs: 0,
        ..Tuning::default()
    }
}

async fn register_first_party(lab: &lab::Lab, skype: &Skype) {
    let url = format!(
        "{}/admin/first-party/{SKYPE_APP_ID}/certificates",
        lab.info.sts_url
    );
    let r = reqwest::Client::new()
        .post(&url)
        .bearer_auth(lab.info.sts_credential().unwrap())
        .json(&json!({"certificate": skype.signing_certificate().to_base64()}))
        .send()
        .await
        .unwrap();
    assert!(
        r.status().is_success(),
        "registering Skype's certificate: {} {}",
        r.status(),
        r.text().await.unwrap_or_default()
    );
}

fn open_skype(dir: &std::path::Path, lab: &lab::Lab, public_url: &str) -> Skype {
    Skype::open(Config {
        data_dir: Some(dir.to_path_buf()),
        public_url: public_url.to_owned(),
        host: "skype.contoso.example".into(),
        sts_url: lab.info.sts_url.clone(),
        realm: lab.info.realm.clone(),
        clock: Arc::new(SystemClock),
        tls_roots: vec![],
    })
    .unwrap()
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let lab = lab::start(&dir.path().join("lab"), (0, 0)).await.unwrap();
    let done = lab::steps::setup(&lab.info, &mut |_| {}).await.unwrap();
    assert!(done.iter().all(|o| o.ok), "{done:?}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let skype = open_skype(&dir.path().join("skype-service"), &lab, &url);
    skype.set_tuning(fast_tuning());
    register_first_party(&lab, &skype).await;
    let router = skype.router();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    skype.spawn_background();
    let admin =
        SkypeAdmin::from_credential_file(&url, skype.admin_credential_path().unwrap()).unwrap();
    admin
        .run(
            "Set-CsHostOverride",
            json!({"HostName": "mail.contoso.example", "ConnectTo": lab.info.exchange_url}),
        )
        .await
        .unwrap();
    for (who, vm) in [(ALICE, true), (BOB, false)] {
        admin
            .run(
                "Enable-CsUser",
                json!({"Identity": who, "SipAddress": format!("sip:{who}"), "ExchangeEwsUrl": EWS_URL, "HostedVoiceMail": vm}),
            )
            .await
            .unwrap();
    }
    Env {
        dir,
        lab,
        skype,
        url,
        admin,
        _server: server,
    }
}

/// An EWS client as the user, with a token minted independently of Skype.
async fn ews(env: &Env, user: &str) -> Ews {
    Ews::new(
        &env.lab.info.exchange_url,
        mint_f1(&env.lab.info, Some(user)).await.unwrap(),
    )
}

async fn items(env: &Env, user: &str, folder: &str) -> Vec<ews_proto::response::ItemView> {
    let r = ews(env, user)
        .await
        .find_items(folder, false)
        .await
        .unwrap();
    let msgs = parse_response_messages(r.body.as_bytes(), &Limits::default()).unwrap();
    let root = msgs[0]
        .element
        .child(ews_proto::ns::MESSAGES, "RootFolder")
        .and_then(|r| r.child(ews_proto::ns::TYPES, "Items"))
        .unwrap();
    root.children
        .iter()
        .map(|e| item_from_element(e).unwrap())
        .collect()
}

async fn with_message_id(env: &Env, user: &str, folder: &str, mid: &str) -> usize {
    items(env, user, folder)
        .await
        .iter()
        .filter(|i| i.internet_message_id.as_deref() == Some(mid))
        .count()
}

async fn outbox(env: &Env, status: &str) -> Vec<Value> {
    env.admin
        .run("Get-CsOutbox", json!({"Status": status}))
        .await
        .unwrap()
}

async fn wait_for<F, Fut>(what: &str, secs: u64, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("timed out waiting for {what}");
}

fn err_status(e: &skype::SkypeError) -> (u16, String) {
    match e {
        skype::SkypeError::HttpStatus { status, detail, .. } => (*status, detail.clone()),
        other => panic!("unexpected error {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greetings_are_written_read_and_deleted_in_the_mailbox() {
    let env = env().await;
    let wav = tone_wav(300);
    let saved = env
        .admin
        .put_greeting(ALICE, "standard", wav.clone())
        .await
        .unwrap();
    assert_eq!(saved["Configuration"], "Um.CustomGreetings.External");
    assert_eq!(saved["Operation"], "CreateUserConfiguration");
    // observed through EWS, not through Skype
    let b64 = s2s_proto::b64::std_encode(&wav);
    let g = ews(&env, ALICE)
        .await
        .get_greeting("Um.CustomGreetings.External")
        .await
        .unwrap();
    assert_eq!(g.code, "NoError");
    assert!(g.body.contains(&b64));
    // a second upload updates it
    let wav2 = tone_wav(200);
    let saved = env
        .admin
        .put_greeting(ALICE, "standard", wav2.clone())
        .await
        .unwrap();
    assert_eq!(saved["Operation"], "UpdateUserConfiguration");
    assert_eq!(
        env.admin.get_greeting(ALICE, "standard").await.unwrap(),
        wav2
    );
    // the extended-absence greeting is its own configuration
    env.admin
        .put_greeting(ALICE, "extended-absence", wav.clone())
        .await
        .unwrap();
    let g = ews(&env, ALICE)
        .await
        .get_greeting("Um.CustomGreetings.Oof")
        .await
        .unwrap();
    assert!(g.body.contains(&b64));
    // delete
    env.admin.delete_greeting(ALICE, "standard").await.unwrap();
    let g = ews(&env, ALICE)
        .await
        .get_greeting("Um.CustomGreetings.External")
        .await
        .unwrap();
    assert_eq!(g.code, "ErrorItemNotFound");
    assert_eq!(
        err_status(&env.admin.get_greeting(ALICE, "standard").await.unwrap_err()).0,
        404
    );
    assert!(
        ews(&env, ALICE)
            .await
            .get_greeting("Um.CustomGreetings.Oof")
            .await
            .unwrap()
            .body
            .contains(&b64)
    );

    // invalid files: a clear 400, nothing written
    let (s, m) = err_status(
        &env.admin
            .put_greeting(ALICE, "standard", b"ID3 not a wav".to_vec())
            .await
            .unwrap_err(),
    );
    assert_eq!(s, 400);
    assert!(
        m.contains("not a valid RIFF/WAVE PCM file") && m.contains("RIFF header"),
        "{m}"
    );
    let mut float = wav.clone();
    float[20..22].copy_from_slice(&3u16.to_le_bytes());
    let (s, m) = err_status(
        &env.admin
            .put_greeting(ALICE, "standard", float)
            .await
            .unwrap_err(),
    );
    assert_eq!(s, 400);
    assert!(m.contains("only uncompressed PCM"), "{m}");
    let mut short = wav.clone();
    short.truncate(wav.len() - 10);
    let (s, m) = err_status(
        &env.admin
            .put_greeting(ALICE, "standard", short)
            .await
            .unwrap_err(),
    );
    assert_eq!(s, 400, "{m}");
    assert_eq!(
        ews(&env, ALICE)
            .await
            .get_greeting("Um.CustomGreetings.External")
            .await
            .unwrap()
            .code,
        "ErrorItemNotFound"
    );
    // only for Cloud Voicemail users
    let (s, m) = err_status(
        &env.admin
            .put_greeting(BOB, "standard", wav.clone())
            .await
            .unwrap_err(),
    );
    assert_eq!(s, 409);
    assert!(m.contains("HostedVoiceMail"), "{m}");
    // unknown greeting kind, unknown user, no credential
    assert_eq!(
        err_status(
            &env.admin
                .put_greeting(ALICE, "funny", wav.clone())
                .await
                .unwrap_err()
        )
        .0,
        404
    );
    assert_eq!(
        err_status(
            &env.admin
                .put_greeting("nobody@contoso.example", "standard", wav.clone())
                .await
                .unwrap_err()
        )
        .0,
        404
    );
    let anon = SkypeAdmin::new(&env.url, "wrong");
    assert_eq!(
        err_status(&anon.put_greeting(ALICE, "standard", wav).await.unwrap_err()).0,
        401
    );

    // every Skype call carried actor 00000004@realm; no Basic anywhere
    let t = ExchangeAdmin::new(&env.lab.info)
        .unwrap()
        .traffic()
        .await
        .unwrap();
    let want = format!("{SKYPE_APP_ID}@{}", env.lab.info.realm);
    assert!(
        t.iter()
            .any(|r| r["actor"] == want.as_str() && r["operation"] == "CreateUserConfiguration")
    );
    assert!(t.iter().all(|r| r["scheme"] != "Basic"));
}

fn conversation(id: &str) -> Value {
    json!({
        "id": id,
        "modality": "im",
        "mobile": true,
        "participants": [format!("sip:{ALICE}"), format!("sip:{BOB}")],
        "messages": [
            {"sender": format!("sip:{ALICE}"), "time": "2025-06-01T10:00:00Z", "text": "hi <script>alert(1)</script>"},
            {"sender": format!("sip:{BOB}"), "time": "2025-06-01T10:00:05Z", "text": "hello & welcome"}
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conversation_history_and_archiving_land_in_the_mailboxes_once() {
    let env = env().await;
    env.admin
        .run(
            "Set-CsConversationHistoryConfiguration",
            json!({"EnableServerConversationHistory": true}),
        )
        .await
        .unwrap();
    env.admin
        .run(
            "New-CsArchivingPolicy",
            json!({"Identity": "ArchiveAll", "ArchiveInternal": true, "ArchiveExternal": true}),
        )
        .await
        .unwrap();
    env.admin
        .run(
            "Grant-CsArchivingPolicy",
            json!({"Identity": format!("sip:{ALICE}"), "PolicyName": "ArchiveAll"}),
        )
        .await
        .unwrap();
    let id = format!("conv-{}", uuid::Uuid::new_v4().simple());
    let r = env
        .admin
        .end_conversation(&conversation(&id))
        .await
        .unwrap();
    let queued = r["Queued"].as_array().unwrap();
    let kinds: Vec<(String, String)> = queued
        .iter()
        .map(|q| {
            (
                q["User"].as_str().unwrap().to_owned(),
                q["Kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            (format!("sip:{ALICE}"), "history".to_owned()),
            (format!("sip:{ALICE}"), "archive".to_owned()),
            (format!("sip:{BOB}"), "history".to_owned())
        ]
    );
    assert!(
        r["Skipped"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["Participant"] == format!("sip:{BOB}")
                && s["Kind"] == "archive"
                && s["Reason"].as_str().unwrap().contains("'Global'"))
    );
    let mid = |who: &str, kind: &str| {
        queued
            .iter()
            .find(|q| q["User"] == format!("sip:{who}") && q["Kind"] == kind)
            .unwrap()["InternetMessageId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (ah, aa, bh) = (
        mid(ALICE, "history"),
        mid(ALICE, "archive"),
        mid(BOB, "history"),
    );
    wait_for("three deliveries", 30, || async {
        outbox(&env, "Delivered").await.len() >= 3
    })
    .await;

    // observed through EWS with tokens minted outside Skype
    let hist = items(&env, ALICE, "conversationhistory").await;
    let h = hist
        .iter()
        .find(|i| i.internet_message_id.as_deref() == Some(ah.as_str()))
        .unwrap();
    assert_eq!(
        h.item_class.as_deref(),
        Some("IPM.Note.Microsoft.Conversation")
    );
    assert_eq!(h.subject.as_deref(), Some("Conversation with bob"));
    assert_eq!(
        with_message_id(&env, BOB, "conversationhistory", &bh).await,
        1
    );
    let purges = items(&env, ALICE, "recoverableitemspurges").await;
    let a = purges
        .iter()
        .find(|i| i.internet_message_id.as_deref() == Some(aa.as_str()))
        .unwrap();
    assert_eq!(
        a.item_class.as_deref(),
        Some("IPM.Note.Microsoft.Conversation")
    );
    // Bob's policy (Global) archives nothing
    assert!(
        items(&env, BOB, "recoverableitemspurges")
            .await
            .iter()
            .all(|i| !i.internet_message_id.as_deref().unwrap_or("").contains(&id))
    );
    // the body is the escaped transcript
    let got = ews(&env, ALICE)
        .await
        .call(&format!(
            r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{}"/></m:ItemIds></m:GetItem>"#,
            h.id
        ))
        .await
        .unwrap();
    assert!(
        got.body.contains("&amp;lt;script&amp;gt;"),
        "the transcript must escape user text"
    );
    assert!(
        !got.body.contains("&lt;script&gt;alert"),
        "raw markup from a message reached the body"
    );
    // a record of a conversation, read: no draft (PR_MESSAGE_FLAGS without MSGFLAG_UNSENT)
    assert!(
        got.body.contains("<t:IsDraft>false</t:IsDraft>"),
        "{}",
        got.body
    );

    // the history read back through Skype
    let listed = env.admin.history(ALICE).await.unwrap();
    assert!(listed.iter().any(|i| i["InternetMessageId"] == ah.as_str()));

    // the same conversation again: nothing new, nothing written twice
    let again = env
        .admin
        .end_conversation(&conversation(&id))
        .await
        .unwrap();
    assert!(
        again["Queued"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["New"] == false)
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        with_message_id(&env, ALICE, "conversationhistory", &ah).await,
        1
    );
    assert_eq!(
        with_message_id(&env, ALICE, "recoverableitemspurges", &aa).await,
        1
    );

    // a missed call: the callee gets Missed.Voice, the caller a call log; calls are not archived
    let call = format!("call-{}", uuid::Uuid::new_v4().simple());
    let r = env
        .admin
        .end_conversation(&json!({"id": call, "modality": "audio", "missed": true, "mobile": true,
            "initiator": format!("sip:{BOB}"), "participants": [format!("sip:{ALICE}"), format!("sip:{BOB}")]}))
        .await
        .unwrap();
    assert_eq!(r["Queued"].as_array().unwrap().len(), 2);
    wait_for("the call logs", 30, || async {
        outbox(&env, "Delivered").await.len() >= 5
    })
    .await;
    let missed = items(&env, ALICE, "conversationhistory").await;
    let m = missed
        .iter()
        .find(|i| {
            i.internet_message_id
                .as_deref()
                .is_some_and(|x| x.contains(&call))
        })
        .unwrap();
    assert_eq!(
        m.item_class.as_deref(),
        Some("IPM.Note.Microsoft.Missed.Voice")
    );
    let b = items(&env, BOB, "conversationhistory").await;
    let c = b
        .iter()
        .find(|i| {
            i.internet_message_id
                .as_deref()
                .is_some_and(|x| x.contains(&call))
        })
        .unwrap();
    assert_eq!(
        c.item_class.as_deref(),
        Some("IPM.Note.Microsoft.Conversation.Voice")
    );

    // history off for a user: nothing queued for them
    env.admin
        .run(
            "Set-CsConversationHistoryConfiguration",
            json!({"Identity": format!("sip:{BOB}"), "EnableServerConversationHistory": false}),
        )
        .await
        .unwrap();
    let r = env
        .admin
        .end_conversation(&conversation(&format!(
            "x-{}",
            uuid::Uuid::new_v4().simple()
        )))
        .await
        .unwrap();
    assert!(
        r["Queued"]
            .as_array()
            .unwrap()
            .iter()
            .all(|q| q["User"] != format!("sip:{BOB}"))
    );

    // invalid input is refused up front
    let (s, m) = err_status(
        &env.admin
            .end_conversation(
                &json!({"id": "../../x", "modality": "im", "participants": ["a@b.c", "d@e.f"]}),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(s, 400, "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_waits_for_exchange_then_delivers_once_and_keeps_failures() {
    let env = env().await;
    env.admin
        .run(
            "Set-CsConversationHistoryConfiguration",
            json!({"EnableServerConversationHistory": true}),
        )
        .await
        .unwrap();
    // Exchange "down": its host resolves to a closed port
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    env.admin
        .run(
            "Set-CsHostOverride",
            json!({"HostName": "mail.contoso.example", "ConnectTo": closed}),
        )
        .await
        .unwrap();
    let id = format!("down-{}", uuid::Uuid::new_v4().simple());
    let started = Instant::now();
    let r = env
        .admin
        .end_conversation(&conversation(&id))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the participant must not wait on Exchange"
    );
    let mids: Vec<String> = r["Queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["InternetMessageId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(mids.len(), 2);
    wait_for("failed attempts", 20, || async {
        let p = outbox(&env, "Pending").await;
        p.iter().any(|r| r["Attempts"].as_i64().unwrap_or(0) >= 2)
    })
    .await;
    let pending = outbox(&env, "Pending").await;
    assert_eq!(pending.len(), 2);
    assert!(
        pending.iter().any(|r| r["LastError"]
            .as_str()
            .unwrap_or("")
            .contains("could not connect")),
        "{pending:?}"
    );
    assert_eq!(pending[0]["FailureClass"], "Transient");
    assert!(outbox(&env, "Delivered").await.is_empty());

    // an earlier attempt "reached" Exchange for Bob although Skype never saw the answer:
    // the item is already there when Exchange comes back
    let bob_mid = mids
        .iter()
        .find(|m| m.contains(&skype_hash(BOB)))
        .unwrap()
        .clone();
    let pre = ews(&env, BOB)
        .await
        .create_message(
            "conversationhistory",
            "IPM.Note.Microsoft.Conversation",
            "Conversation with alice",
            "<p>earlier</p>",
            &bob_mid,
        )
        .await
        .unwrap();
    assert_eq!(pre.code, "NoError");

    // Exchange back
    env.admin
        .run(
            "Set-CsHostOverride",
            json!({"HostName": "mail.contoso.example", "ConnectTo": env.lab.info.exchange_url}),
        )
        .await
        .unwrap();
    wait_for("delivery after Exchange is back", 30, || async {
        outbox(&env, "Delivered").await.len() == 2
    })
    .await;
    for (who, mid) in [(ALICE, &mids[0]), (BOB, &bob_mid)] {
        let n = with_message_id(&env, who, "conversationhistory", mid).await;
        assert_eq!(n, 1, "{who}: exactly once");
    }

    // a permanent refusal: the user has no mailbox in Exchange; kept as failed with the reason
    env.admin
        .run("Enable-CsUser", json!({"Identity": "carol@contoso.example", "SipAddress": "sip:carol@contoso.example", "ExchangeEwsUrl": EWS_URL}))
        .await
        .unwrap();
    let r = env
        .admin
        .end_conversation(&json!({"id": format!("c-{}", uuid::Uuid::new_v4().simple()), "modality": "im", "mobile": true,
            "participants": ["sip:carol@contoso.example", "sip:dave@fabrikam.example"],
            "messages": [{"sender": "sip:carol@contoso.example", "time": "2025-06-01T10:00:00Z", "text": "x"}]}))
        .await
        .unwrap();
    assert_eq!(r["Queued"].as_array().unwrap().len(), 1);
    wait_for("the refusal to be kept as failed", 30, || async {
        !outbox(&env, "Failed").await.is_empty()
    })
    .await;
    let failed = outbox(&env, "Failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["User"], "sip:carol@contoso.example");
    assert_eq!(failed[0]["FailureClass"], "Refused");
    let why = failed[0]["LastError"].as_str().unwrap();
    assert!(
        why.contains("401") && why.contains("does not exist"),
        "{why}"
    );
    // never dropped: still listed, and it can be queued again
    assert_eq!(outbox(&env, "Pending").await.len(), 0);
    // Regression: an id naming no item answered "Resumed : 0" and no error.
    let err = env
        .admin
        .run("Resume-CsOutbox", json!({"Id": 999_999}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no outbox item 999999"), "{err}");
    let resumed = env.admin.run("Resume-CsOutbox", json!({})).await.unwrap();
    assert_eq!(resumed[0]["Resumed"], 1);
    // an item that has not failed (delivered earlier) is named as such
    let id = outbox(&env, "Delivered").await[0]["Id"].as_i64().unwrap();
    let err = env
        .admin
        .run("Resume-CsOutbox", json!({"Id": id}))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not failed"), "{err}");
    let all = env
        .admin
        .run(
            "Get-CsOutbox",
            json!({"Identity": "sip:carol@contoso.example"}),
        )
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
}

fn skype_hash(sip: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(sip.as_bytes())[..6])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_delivery() {
    let env = env().await;
    // a second Skype on its own data directory, without a worker: rows are only queued
    let dir = env.dir.path().join("skype-restart");
    let mid;
    {
        let s = open_skype(&dir, &env.lab, "http://127.0.0.1:9");
        register_first_party(&env.lab, &s).await;
        s.run_cmdlet(
            "Enable-CsUser",
            json!({"Identity": ALICE, "ExchangeEwsUrl": EWS_URL})
                .as_object()
                .cloned()
                .unwrap(),
        )
        .await
        .unwrap();
        s.run_cmdlet(
            "Set-CsConversationHistoryConfiguration",
            json!({"EnableServerConversationHistory": true})
                .as_object()
                .cloned()
                .unwrap(),
        )
        .await
        .unwrap();
        s.run_cmdlet(
            "Set-CsHostOverride",
            json!({"HostName": "mail.contoso.example", "ConnectTo": env.lab.info.exchange_url})
                .as_object()
                .cloned()
                .unwrap(),
        )
        .await
        .unwrap();
        let c: skype::features::conversation::ConversationEnd = serde_json::from_value(json!({
            "id": format!("r-{}", uuid::Uuid::new_v4().simple()), "modality": "im", "mobile": true,
            "participants": [format!("sip:{ALICE}"), "sip:zed@fabrikam.example"],
            "messages": [{"sender": format!("sip:{ALICE}"), "time": "2025-06-01T10:00:00Z", "text": "before the restart"}]}))
        .unwrap();
        let q = s.end_conversation(c).await.unwrap();
        mid = q.queued[0].internet_message_id.clone();
        assert_eq!(s.outbox(Some("Pending"), None).await.unwrap().len(), 1);
    }
    // "restart": open the same directory again, with the worker
    let s = open_skype(&dir, &env.lab, "http://127.0.0.1:9");
    s.set_tuning(fast_tuning());
    s.spawn_background();
    wait_for("delivery after the restart", 30, || async {
        s.outbox(Some("Delivered"), None).await.unwrap().len() == 1
    })
    .await;
    assert_eq!(
        with_message_id(&env, ALICE, "conversationhistory", &mid).await,
        1
    );
}

fn f2_token(key: &SigningKey, realm: &str, host: &str) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    ActorTokenSpec {
        aud: PrincipalName::service(SKYPE_APP_ID, host, realm),
        iss: PrincipalName::app(EXCHANGE_APP_ID, realm),
        nameid: PrincipalName::app(EXCHANGE_APP_ID, realm),
        iat: now,
        nbf: now - 60,
        exp: now + 600,
        trusted_for_delegation: None,
        identity_provider: None,
        oid: None,
        jti: Some(uuid::Uuid::new_v4().to_string()),
    }
    .sign(key)
    .unwrap()
}

fn notification_body(subscription_id: &str) -> Vec<u8> {
    use ews_proto::notification::*;
    use ews_proto::types::{FolderId, ItemRef};
    write_send_notification(&[Notification {
        subscription_id: subscription_id.to_owned(),
        previous_watermark: Some("1".into()),
        more_events: false,
        events: vec![NotificationEvent::Object(ObjectEvent {
            kind: ObjectEventKind::Created,
            watermark: "2".into(),
            time_stamp: time::OffsetDateTime::now_utc(),
            target: EventTarget::Item(ItemRef::new("item-1", None)),
            parent_folder_id: FolderId::new("calendar", None),
            old_target: None,
            old_parent_folder_id: None,
            unread_count: None,
        })],
    }])
}

/// Presence follows the clock, not only Exchange's callbacks: a meeting that ends ends "In a
/// meeting" with no change to the mailbox and no callback (the keeper reads the calendar again
/// when the meeting ends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_ends_with_the_meeting_without_a_callback() {
    let env = env().await;
    let now = time::OffsetDateTime::now_utc();
    let start = ews_proto::types::format_xs_datetime(now - time::Duration::minutes(5));
    let end = ews_proto::types::format_xs_datetime(now + time::Duration::seconds(4));
    let r = ews(&env, ALICE)
        .await
        .call(&format!(r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Stand-up</t:Subject><t:Start>{start}</t:Start><t:End>{end}</t:End><t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus></t:CalendarItem></m:Items></m:CreateItem>"#))
        .await
        .unwrap();
    assert_eq!(r.code, "NoError", "{}", r.body);
    let sip = format!("sip:{ALICE}");
    assert_eq!(
        env.skype.refresh_presence(&sip).await.unwrap(),
        "In a meeting"
    );
    assert_eq!(
        env.admin.presence(ALICE).await.unwrap()["Presence"],
        "In a meeting"
    );
    wait_for(
        "presence to become Available when the meeting ends",
        30,
        || async { env.admin.presence(ALICE).await.unwrap()["Presence"] == "Available" },
    )
    .await;
}

/// A daily stand-up that began days ago (a recurring series: one item whose first occurrence
/// is in the past) puts the user in a meeting during today's occurrence: presence reads the
/// calendar view, which expands the series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_follows_a_recurring_meeting() {
    let env = env().await;
    let now = time::OffsetDateTime::now_utc();
    let first = now - time::Duration::days(3) - time::Duration::minutes(5);
    let start = ews_proto::types::format_xs_datetime(first);
    let end = ews_proto::types::format_xs_datetime(first + time::Duration::minutes(20));
    let date = ews_proto::recurrence::format_date(first.date());
    let r = ews(&env, ALICE)
        .await
        .call(&format!(r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Stand-up</t:Subject><t:Start>{start}</t:Start><t:End>{end}</t:End><t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus><t:Recurrence><t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:NoEndRecurrence><t:StartDate>{date}</t:StartDate></t:NoEndRecurrence></t:Recurrence></t:CalendarItem></m:Items></m:CreateItem>"#))
        .await
        .unwrap();
    assert_eq!(r.code, "NoError", "{}", r.body);
    let sip = format!("sip:{ALICE}");
    assert_eq!(
        env.skype.refresh_presence(&sip).await.unwrap(),
        "In a meeting"
    );
}

/// Outside the working hours the mailbox keeps (set here by the administrator in Exchange),
/// presence is "Off Work"; a meeting still wins; inside them, "Available".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_off_work_outside_the_working_hours() {
    let env = env().await;
    let exchange = ExchangeAdmin::new(&env.lab.info).unwrap();
    let sip = format!("sip:{ALICE}");
    // no working hours of her own: never off work
    assert_eq!(env.skype.refresh_presence(&sip).await.unwrap(), "Available");
    // every day but today (UTC)
    let today = time::OffsetDateTime::now_utc().weekday();
    let others: Vec<String> = (1..7).map(|d| today.nth_next(d).to_string()).collect();
    exchange
        .run(
            "Set-MailboxCalendarConfiguration",
            json!({"Identity": ALICE, "WorkDays": others, "WorkingHoursStartTime": "00:00:00", "WorkingHoursEndTime": "23:59:00", "WorkingHoursTimeZone": "UTC"}),
        )
        .await
        .unwrap();
    assert_eq!(env.skype.refresh_presence(&sip).await.unwrap(), "Off Work");
    let p = env.admin.presence(ALICE).await.unwrap();
    assert_eq!(p["Presence"], "Off Work", "{p}");
    // a meeting on now wins over the hours
    let now = time::OffsetDateTime::now_utc();
    let start = ews_proto::types::format_xs_datetime(now - time::Duration::minutes(5));
    let end = ews_proto::types::format_xs_datetime(now + time::Duration::minutes(30));
    let r = ews(&env, ALICE)
        .await
        .call(&format!(r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Late call</t:Subject><t:Start>{start}</t:Start><t:End>{end}</t:End><t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus></t:CalendarItem></m:Items></m:CreateItem>"#))
        .await
        .unwrap();
    assert_eq!(r.code, "NoError", "{}", r.body);
    assert_eq!(
        env.skype.refresh_presence(&sip).await.unwrap(),
        "In a meeting"
    );
    // every day, all day: at work
    exchange
        .run(
            "Set-MailboxCalendarConfiguration",
            json!({"Identity": ALICE, "WorkDays": "AllDays", "WorkingHoursEndTime": "00:00:00"}),
        )
        .await
        .unwrap();
    let d = ews(&env, ALICE)
        .await
        .call(r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>"#)
        .await
        .unwrap();
    assert_eq!(d.code, "NoError", "{}", d.body);
    let id = d
        .body
        .split("ItemId Id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let r = ews(&env, ALICE)
        .await
        .call(&format!(r#"<m:DeleteItem DeleteType="HardDelete" SendMeetingCancellations="SendToNone"><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:DeleteItem>"#))
        .await
        .unwrap();
    assert_eq!(r.code, "NoError", "{}", r.body);
    assert_eq!(env.skype.refresh_presence(&sip).await.unwrap(), "Available");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f2_callbacks_are_verified_against_the_verify_keys_of_00000004() {
    let env = env().await;
    let realm = env.lab.info.realm.clone();
    let now = time::OffsetDateTime::now_utc();
    let registered = SigningKey::generate_self_signed(
        "Exchange auth (renewed)",
        now - time::Duration::hours(1),
        now + time::Duration::days(30),
    )
    .unwrap();
    let unregistered = SigningKey::generate_self_signed(
        "Exchange auth (not uploaded)",
        now - time::Duration::hours(1),
        now + time::Duration::days(30),
    )
    .unwrap();
    let sts = StsAdmin::new(&env.lab.info).unwrap();
    sts.new_credential(SKYPE_APP_ID, json!({"Type": "asymmetric", "Usage": "Verify", "Value": registered.certificate().to_base64()}))
        .await
        .unwrap();
    // a meeting on now in Alice's calendar
    let start = ews_proto::types::format_xs_datetime(now - time::Duration::minutes(5));
    let end = ews_proto::types::format_xs_datetime(now + time::Duration::minutes(30));
    let r = ews(&env, ALICE)
        .await
        .call(&format!(r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Design review</t:Subject><t:Start>{start}</t:Start><t:End>{end}</t:End><t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus></t:CalendarItem></m:Items></m:CreateItem>"#))
        .await
        .unwrap();
    assert_eq!(r.code, "NoError", "{}", r.body);

    let sub = env
        .admin
        .run(
            "Get-CsPresenceSubscription",
            json!({"Identity": format!("sip:{ALICE}")}),
        )
        .await
        .unwrap();
    let url = sub[0]["NotificationUrl"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&env.url));
    let sub_id = sub[0]["SubscriptionId"]
        .as_str()
        .unwrap_or("test-subscription")
        .to_owned();
    let http = reqwest::Client::new();
    let post = |token: Option<String>| {
        let mut rb = http
            .post(&url)
            .header("content-type", "text/xml; charset=utf-8")
            .body(notification_body(&sub_id));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        rb.send()
    };

    // (b) signed with a certificate that is not a Verify key: refused with the reason
    let r = post(Some(f2_token(&unregistered, &realm, "127.0.0.1")))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let diag = r
        .headers()
        .get("x-ms-diagnostics")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body = r.text().await.unwrap();
    assert!(
        body.contains(&unregistered.certificate().thumbprint),
        "{body}"
    );
    assert!(
        body.contains("not a Verify key") && body.contains("New-MsolServicePrincipalCredential"),
        "{body}"
    );
    assert!(diag.contains("not a Verify key"));
    let ev = env
        .admin
        .run(
            "Get-CsPresenceEvents",
            json!({"Identity": format!("sip:{ALICE}")}),
        )
        .await
        .unwrap();
    assert!(
        ev.iter().any(|e| e["Verdict"] == "refused"
            && e["Reason"]
                .as_str()
                .unwrap()
                .contains(&unregistered.certificate().thumbprint)),
        "{ev:?}"
    );
    // no token, a wrong audience: refused too
    assert_eq!(post(None).await.unwrap().status(), 401);
    let r = post(Some(f2_token(&registered, &realm, "elsewhere.example")))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("IDX10214"));

    // (a) signed with a registered Verify key: accepted, presence follows the calendar
    let r = post(Some(f2_token(&registered, &realm, "127.0.0.1")))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let status = ews_proto::notification::parse_send_notification_result(
        &r.bytes().await.unwrap(),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(status, ews_proto::notification::SubscriptionStatus::Ok);
    let p = env.admin.presence(ALICE).await.unwrap();
    assert_eq!(p["Presence"], "In a meeting", "{p}");
    assert_eq!(p["Note"], Value::Null, "no out-of-office: {p}");
    // Alice turns her out-of-office on in Exchange: the next refresh shows its reply as the note
    let r = ews(&env, ALICE)
        .await
        .call(&format!(r#"<m:SetUserOofSettingsRequest><t:Mailbox><t:Address>{ALICE}</t:Address></t:Mailbox><t:UserOofSettings><t:OofState>Enabled</t:OofState><t:ExternalAudience>All</t:ExternalAudience><t:InternalReply><t:Message>&lt;p&gt;Away until   Monday&lt;/p&gt;</t:Message></t:InternalReply><t:ExternalReply><t:Message>Away</t:Message></t:ExternalReply></t:UserOofSettings></m:SetUserOofSettingsRequest>"#))
        .await
        .unwrap();
    assert_eq!(r.code, "NoError", "{}", r.body);
    let r = post(Some(f2_token(&registered, &realm, "127.0.0.1")))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let p = env.admin.presence(ALICE).await.unwrap();
    assert_eq!(p["Presence"], "In a meeting", "{p}");
    assert_eq!(p["Note"], "Away until Monday", "{p}");
    // the configured host is an accepted audience as well
    let r = post(Some(f2_token(&registered, &realm, "skype.contoso.example")))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // the certificate uploaded later (renewal fixed): the next callback is accepted
    sts.new_credential(SKYPE_APP_ID, json!({"Type": "asymmetric", "Usage": "Verify", "Value": unregistered.certificate().to_base64()}))
        .await
        .unwrap();
    let r = post(Some(f2_token(&unregistered, &realm, "127.0.0.1")))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let keys = env.admin.run("Get-CsVerifyKey", json!({})).await.unwrap();
    assert!(
        keys.iter()
            .any(|k| k["Thumbprint"] == unregistered.certificate().thumbprint.as_str())
    );

    // with the keys read again at most every 30 s (the default), a renewal uploaded just after
    // a read is refused until then, and the refusal says so; an administrator's read takes it
    env.skype.set_tuning(Tuning {
        verify_key_refresh_min_secs: 30,
        ..fast_tuning()
    });
    let renewed = SigningKey::generate_self_signed(
        "Exchange auth (renewed again)",
        now - time::Duration::hours(1),
        now + time::Duration::days(30),
    )
    .unwrap();
    sts.new_credential(SKYPE_APP_ID, json!({"Type": "asymmetric", "Usage": "Verify", "Value": renewed.certificate().to_base64()}))
        .await
        .unwrap();
    let r = post(Some(f2_token(&renewed, &realm, "127.0.0.1")))
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("not a Verify key") && body.contains("at most every 30 s"),
        "{body}"
    );
    let keys = env
        .admin
        .run("Get-CsVerifyKey", json!({"Refresh": true}))
        .await
        .unwrap();
    assert!(
        keys.iter()
            .any(|k| k["Thumbprint"] == renewed.certificate().thumbprint.as_str())
    );
    let r = post(Some(f2_token(&renewed, &realm, "127.0.0.1")))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = &env.skype;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_oauth_connectivity_reports_each_stage() {
    let env = env().await;
    let out = env
        .admin
        .run(
            "Test-OAuthConnectivity",
            json!({"Service": "EWS", "TargetUri": EWS_URL, "Mailbox": ALICE}),
        )
        .await
        .unwrap();
    let stages: Vec<(&str, &str)> = out
        .iter()
        .map(|r| {
            (
                r["Stage"].as_str().unwrap(),
                r["ResultType"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        stages,
        [
            ("EwsUrl", "Success"),
            ("Challenge", "Success"),
            ("Token", "Success"),
            ("Call", "Success")
        ],
        "{out:?}"
    );
    assert_eq!(
        out[0]["Detail"],
        format!("{EWS_URL} (given by -TargetUri)").as_str()
    );
    assert!(
        out[1]["Detail"]
            .as_str()
            .unwrap()
            .contains(&env.lab.info.realm)
    );
    // without -TargetUri: the mailbox's own URL, said to be explicit
    let out = env
        .admin
        .run(
            "Test-OAuthConnectivity",
            json!({"Service": "EWS", "Mailbox": ALICE}),
        )
        .await
        .unwrap();
    assert!(out.iter().all(|r| r["ResultType"] == "Success"), "{out:?}");
    assert!(
        out[0]["Detail"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{EWS_URL} (explicit")),
        "{out:?}"
    );
    // a host that is not among Exchange's ServicePrincipalNames: the token stage names it
    env.admin
        .run(
            "Set-CsHostOverride",
            json!({"HostName": "legacy.contoso.example", "ConnectTo": env.lab.info.exchange_url}),
        )
        .await
        .unwrap();
    let out = env
        .admin
        .run("Test-OAuthConnectivity", json!({"Service": "EWS", "TargetUri": "http://legacy.contoso.example/EWS/Exchange.asmx", "Mailbox": ALICE}))
        .await
        .unwrap();
    assert_eq!(out[1]["ResultType"], "Success");
    assert_eq!(out[2]["ResultType"], "Error");
    assert!(
        out[2]["Detail"]
            .as_str()
            .unwrap()
            .contains("legacy.contoso.example"),
        "{out:?}"
    );
    assert_eq!(out[3]["ResultType"], "Skipped");
    // a mailbox that does not exist: the call stage carries Exchange's reason
    let out = env
        .admin
        .run(
            "Test-OAuthConnectivity",
            json!({"Service": "EWS", "TargetUri": EWS_URL, "Mailbox": "ghost@contoso.example"}),
        )
        .await
        .unwrap();
    assert_eq!(out[3]["ResultType"], "Error");
    assert!(
        out[3]["Detail"]
            .as_str()
            .unwrap()
            .contains("does not exist"),
        "{out:?}"
    );
    // Exchange unreachable: the challenge stage says so
    env.admin
        .run(
            "Set-CsHostOverride",
            json!({"HostName": "mail.contoso.example", "ConnectTo": "http://127.0.0.1:9"}),
        )
        .await
        .unwrap();
    let out = env
        .admin
        .run(
            "Test-OAuthConnectivity",
            json!({"Service": "EWS", "TargetUri": EWS_URL, "Mailbox": ALICE}),
        )
        .await
        .unwrap();
    assert_eq!(out[1]["ResultType"], "Error");
    assert!(
        out[1]["Detail"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{out:?}"
    );
}

/// Regression: message text with characters XML 1.0 cannot carry (U+0001) made every CreateItem
/// of the conversation fail at Exchange (ErrorSchemaValidation), for good: the IM was never
/// archived. And a body whose transcript cannot fit in one EWS request was accepted (202) and
/// failed later; it is refused up front (413) with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_archived_and_oversized_transcripts_refused() {
    let env = env().await;
    env.admin
        .run(
            "Set-CsConversationHistoryConfiguration",
            json!({"EnableServerConversationHistory": true}),
        )
        .await
        .unwrap();
    env.admin
        .run(
            "New-CsArchivingPolicy",
            json!({"Identity": "ArchiveAll", "ArchiveInternal": true, "ArchiveExternal": true}),
        )
        .await
        .unwrap();
    env.admin
        .run(
            "Grant-CsArchivingPolicy",
            json!({"Identity": format!("sip:{ALICE}"), "PolicyName": "ArchiveAll"}),
        )
        .await
        .unwrap();
    let id = format!("ctl-{}", uuid::Uuid::new_v4().simple());
    let mut c = conversation(&id);
    c["messages"][0]["text"] =
        "bell\u{7} nul\u{0} \u{1}\u{8}\u{B}\u{C}\u{1F}\u{FFFE}\u{FFFF} end".into();
    let r = env.admin.end_conversation(&c).await.unwrap();
    assert_eq!(r["Queued"].as_array().unwrap().len(), 3, "{r}");
    let archive_mid = r["Queued"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["Kind"] == "archive")
        .unwrap()["InternetMessageId"]
        .as_str()
        .unwrap()
        .to_owned();
    wait_for("three deliveries or a failure", 30, || async {
        outbox(&env, "Delivered").await.len() >= 3 || !outbox(&env, "Failed").await.is_empty()
    })
    .await;
    let failed = outbox(&env, "Failed").await;
    assert!(failed.is_empty(), "{failed:#?}");
    assert_eq!(
        with_message_id(&env, ALICE, "recoverableitemspurges", &archive_mid).await,
        1
    );

    // 3.8 MB of '<' (within the 4 MiB body limit) would be a 30 MB request: 413, nothing queued
    let lt = "<".repeat(16 * 1024);
    let msg = json!({"sender": format!("sip:{ALICE}"), "time": "2025-06-01T10:00:00Z", "text": lt});
    let mut big = conversation(&format!("big-{}", uuid::Uuid::new_v4().simple()));
    big["messages"] = json!(vec![msg; 232]);
    let e = env.admin.end_conversation(&big).await.unwrap_err();
    let (status, detail) = err_status(&e);
    assert_eq!(status, 413, "{detail}");
    assert!(
        detail.contains("escaped twice") && detail.contains("several POST /conversations/end"),
        "{detail}"
    );
    let all = env.admin.run("Get-CsOutbox", json!({})).await.unwrap();
    assert_eq!(all.len(), 3, "nothing more was queued: {all:#?}");
}

/// The lab's SOAP Autodiscover, reached through the host override `env()` sets (the name
/// Exchange's token audience knows).
const AUTODISCOVER_URL: &str = "http://mail.contoso.example/autodiscover/autodiscover.svc";

/// Makes the lab's Exchange announce its loopback URL as `ExternalEwsUrl` (the lab announces
/// `https://mail.contoso.example/…`, the Autodiscover host, which these tests need to tell
/// apart from the EWS host); a token for that host needs it among the ServicePrincipalNames of
/// 00000002 (as `mail.contoso.example` is), as any EWS host Autodiscover announces would.
async fn announce_loopback_ews(env: &Env) {
    ExchangeAdmin::new(&env.lab.info)
        .unwrap()
        .run(
            "Set-WebServicesVirtualDirectory",
            json!({"ExternalUrl": discovered_url(env)}),
        )
        .await
        .unwrap();
    add_exchange_spn(env, &loopback_host(env)).await;
}

async fn add_exchange_spn(env: &Env, host: &str) {
    let sts = StsAdmin::new(&env.lab.info).unwrap();
    let sp = sts
        .get_service_principal("AppPrincipalId", EXCHANGE_APP_ID)
        .await
        .unwrap();
    let sp = lab::steps::list(&sp).into_iter().next().unwrap();
    let mut spns: Vec<String> = lab::steps::field(&sp, "ServicePrincipalNames")
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect();
    spns.push(format!("{EXCHANGE_APP_ID}/{host}"));
    sts.set_spns(EXCHANGE_APP_ID, &spns).await.unwrap();
}

/// The lab Exchange's EWS URL as its Autodiscover announces it.
fn discovered_url(env: &Env) -> String {
    format!("{}/EWS/Exchange.asmx", env.lab.info.exchange_url)
}

fn loopback_host(env: &Env) -> String {
    reqwest::Url::parse(&env.lab.info.exchange_url)
        .unwrap()
        .host_str()
        .unwrap()
        .to_owned()
}

async fn online_user(env: &Env, who: &str) -> Value {
    env.admin
        .run("Get-CsOnlineUser", json!({"Identity": who}))
        .await
        .unwrap()
        .remove(0)
}

/// Exchange's traffic records of Skype's Autodiscover requests that were answered.
async fn autodiscover_calls(env: &Env) -> usize {
    ExchangeAdmin::new(&env.lab.info)
        .unwrap()
        .traffic()
        .await
        .unwrap()
        .iter()
        .filter(|r| r["operation"] == "Autodiscover GetUserSettings" && r["verdict"] == "ok")
        .count()
}

/// Skype finds the EWS URL of a user without one through Exchange's SOAP Autodiscover (asked as
/// the user, with the F1 token, for the Autodiscover host), writes the greeting and the
/// conversation history there, keeps the URL, and forgets it when it cannot connect; a user's
/// own -ExchangeEwsUrl still wins; without an Autodiscover URL the error names both fixes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_without_an_ews_url_find_it_through_autodiscover() {
    let env = env().await;
    announce_loopback_ews(&env).await;
    // the subscription keeper's first pass is over (it calls EWS as the users too), and it
    // sleeps from now on: the calls below are the test's own
    wait_for("the first subscriptions", 30, || async {
        let subs = env
            .admin
            .run("Get-CsPresenceSubscription", json!({}))
            .await
            .unwrap();
        subs.len() == 2 && subs.iter().all(|s| s["Status"] == "active")
    })
    .await;
    env.skype.set_tuning(Tuning {
        subscription_check_secs: 3600,
        ..fast_tuning()
    });
    // Alice goes back to Autodiscover; Bob keeps his own URL
    let a = env
        .admin
        .run(
            "Set-CsUser",
            json!({"Identity": format!("sip:{ALICE}"), "ExchangeEwsUrl": null}),
        )
        .await
        .unwrap();
    assert_eq!(a[0]["ExchangeEwsUrl"], "");
    assert_eq!(a[0]["EwsUrlSource"], "NotConfigured");

    // no Autodiscover URL yet: the error names both fixes
    let wav = tone_wav(300);
    let (status, detail) = err_status(
        &env.admin
            .put_greeting(ALICE, "standard", wav.clone())
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 409, "{detail}");
    assert!(
        detail.contains(&format!("sip:{ALICE} has no EWS URL"))
            && detail.contains("Set-CsOAuthConfiguration -ExchangeAutodiscoverUrl")
            && detail.contains(&format!("Set-CsUser -Identity sip:{ALICE} -ExchangeEwsUrl")),
        "{detail}"
    );
    let c = env
        .admin
        .run("Get-CsOAuthConfiguration", json!({}))
        .await
        .unwrap();
    assert_eq!(c[0]["ExchangeAutodiscoverUrl"], "");

    // a URL that is not SOAP Autodiscover is refused with what to send
    let (status, detail) = err_status(
        &env.admin
            .run(
                "Set-CsOAuthConfiguration",
                json!({"ExchangeAutodiscoverUrl": "http://mail.contoso.example"}),
            )
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 400, "{detail}");
    assert!(
        detail.contains("-ExchangeAutodiscoverUrl")
            && detail
                .contains("send e.g. http://mail.contoso.example/autodiscover/autodiscover.svc"),
        "{detail}"
    );
    let c = env
        .admin
        .run(
            "Set-CsOAuthConfiguration",
            json!({"ExchangeAutodiscoverUrl": AUTODISCOVER_URL}),
        )
        .await
        .unwrap();
    assert_eq!(c[0]["ExchangeAutodiscoverUrl"], AUTODISCOVER_URL);
    assert_eq!(
        env.admin
            .run("Get-CsOAuthConfiguration", json!({"Identity": "Global"}))
            .await
            .unwrap()[0]["ExchangeAutodiscoverUrl"],
        AUTODISCOVER_URL
    );

    // the greeting, written through the discovered URL
    let saved = env
        .admin
        .put_greeting(ALICE, "standard", wav.clone())
        .await
        .unwrap();
    assert_eq!(saved["Operation"], "CreateUserConfiguration");
    let g = ews(&env, ALICE)
        .await
        .get_greeting("Um.CustomGreetings.External")
        .await
        .unwrap();
    assert!(g.body.contains(&s2s_proto::b64::std_encode(&wav)));
    let u = online_user(&env, ALICE).await;
    assert_eq!(u["ExchangeEwsUrl"], "");
    assert_eq!(u["EwsUrlSource"], "Autodiscover");
    assert_eq!(u["DiscoveredEwsUrl"], discovered_url(&env).as_str());
    // Exchange saw Skype's Autodiscover request as Alice, and the write at the discovered host
    let traffic = ExchangeAdmin::new(&env.lab.info)
        .unwrap()
        .traffic()
        .await
        .unwrap();
    let want_actor = format!("{SKYPE_APP_ID}@{}", env.lab.info.realm);
    let discovered_aud = format!(
        "{EXCHANGE_APP_ID}/{}@{}",
        loopback_host(&env),
        env.lab.info.realm
    );
    assert!(
        traffic
            .iter()
            .any(|r| r["operation"] == "Autodiscover GetUserSettings"
                && r["verdict"] == "ok"
                && r["actor"] == want_actor.as_str()
                && r["claims"]
                    .to_string()
                    .contains(&format!("{EXCHANGE_APP_ID}/mail.contoso.example@"))),
        "{traffic:#?}"
    );
    assert!(
        traffic
            .iter()
            .any(|r| r["operation"] == "CreateUserConfiguration"
                && r["verdict"] == "ok"
                && r["claims"].to_string().contains(&discovered_aud)),
        "{traffic:#?}"
    );
    // the URL is kept: a second write asks Autodiscover nothing
    let asked = autodiscover_calls(&env).await;
    assert_eq!(asked, 1);
    env.admin
        .put_greeting(ALICE, "standard", tone_wav(200))
        .await
        .unwrap();
    assert_eq!(autodiscover_calls(&env).await, asked);

    // conversation history for both: Alice's through the discovered URL, Bob's through his own
    env.admin
        .run(
            "Set-CsConversationHistoryConfiguration",
            json!({"EnableServerConversationHistory": true}),
        )
        .await
        .unwrap();
    let id = format!("ad-{}", uuid::Uuid::new_v4().simple());
    let r = env
        .admin
        .end_conversation(&conversation(&id))
        .await
        .unwrap();
    let mids: Vec<(String, String)> = r["Queued"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["User"].as_str().unwrap().to_owned(),
                q["InternetMessageId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(mids.len(), 2, "{r}");
    wait_for("both histories", 30, || async {
        outbox(&env, "Delivered").await.len() >= 2 || !outbox(&env, "Failed").await.is_empty()
    })
    .await;
    for (user, mid) in &mids {
        let who = user.trim_start_matches("sip:");
        assert_eq!(
            with_message_id(&env, who, "conversationhistory", mid).await,
            1,
            "{who}"
        );
    }

    // a discovered URL that cannot be connected to is forgotten: the next call discovers again
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    env.admin
        .run(
            "Set-CsHostOverride",
            json!({"HostName": loopback_host(&env), "ConnectTo": closed}),
        )
        .await
        .unwrap();
    let (_, detail) = err_status(&env.admin.history(ALICE).await.unwrap_err());
    assert!(detail.contains("could not connect"), "{detail}");
    assert_eq!(
        online_user(&env, ALICE).await["DiscoveredEwsUrl"],
        Value::Null
    );
    env.admin
        .run(
            "Remove-CsHostOverride",
            json!({"HostName": loopback_host(&env)}),
        )
        .await
        .unwrap();
    let asked = autodiscover_calls(&env).await;
    let listed = env.admin.history(ALICE).await.unwrap();
    assert!(!listed.is_empty());
    assert_eq!(
        autodiscover_calls(&env).await,
        asked + 1,
        "discovered again"
    );
    assert_eq!(
        online_user(&env, ALICE).await["DiscoveredEwsUrl"],
        discovered_url(&env).as_str()
    );

    // Test-OAuthConnectivity without -TargetUri shows where the URL came from
    let out = env
        .admin
        .run(
            "Test-OAuthConnectivity",
            json!({"Service": "EWS", "Mailbox": ALICE}),
        )
        .await
        .unwrap();
    assert!(out.iter().all(|r| r["ResultType"] == "Success"), "{out:#?}");
    let found = out[0]["Detail"].as_str().unwrap();
    assert!(
        out[0]["Stage"] == "EwsUrl"
            && found.contains(&discovered_url(&env))
            && found.contains("discovered: ExternalEwsUrl")
            && found.contains(AUTODISCOVER_URL),
        "{out:#?}"
    );

    // an explicit URL wins over Autodiscover, even one that fails (a host Exchange's principal
    // does not name): Bob's calls go there and are refused, where Autodiscover's would work
    env.admin
        .run(
            "Set-CsHostOverride",
            json!({"HostName": "legacy.contoso.example", "ConnectTo": env.lab.info.exchange_url}),
        )
        .await
        .unwrap();
    let b = env
        .admin
        .run(
            "Set-CsUser",
            json!({"Identity": format!("sip:{BOB}"), "ExchangeEwsUrl": "http://legacy.contoso.example/EWS/Exchange.asmx"}),
        )
        .await
        .unwrap();
    assert_eq!(b[0]["EwsUrlSource"], "Explicit");
    assert_eq!(b[0]["DiscoveredEwsUrl"], Value::Null);
    let (_, detail) = err_status(&env.admin.history(BOB).await.unwrap_err());
    assert!(detail.contains("legacy.contoso.example"), "{detail}");
    let out = env
        .admin
        .run(
            "Test-OAuthConnectivity",
            json!({"Service": "EWS", "Mailbox": BOB}),
        )
        .await
        .unwrap();
    let found = out[0]["Detail"].as_str().unwrap();
    assert!(
        found.starts_with("http://legacy.contoso.example/EWS/Exchange.asmx (explicit"),
        "{out:#?}"
    );
    // and back to Autodiscover: Bob's history is read again
    env.admin
        .run(
            "Set-CsUser",
            json!({"Identity": format!("sip:{BOB}"), "ExchangeEwsUrl": ""}),
        )
        .await
        .unwrap();
    assert!(!env.admin.history(BOB).await.unwrap().is_empty());
    assert_eq!(online_user(&env, BOB).await["EwsUrlSource"], "Autodiscover");

    // clearing the Autodiscover URL forgets what was discovered
    env.admin
        .run(
            "Set-CsOAuthConfiguration",
            json!({"ExchangeAutodiscoverUrl": null}),
        )
        .await
        .unwrap();
    let u = online_user(&env, ALICE).await;
    assert_eq!(u["EwsUrlSource"], "NotConfigured");
    let (status, _) = err_status(&env.admin.history(ALICE).await.unwrap_err());
    assert_eq!(status, 409);
}

/// What Autodiscover cannot answer is named: an address Exchange does not know (InvalidUser) or
/// a domain it does not accept (InvalidDomain), with the user and Exchange's message; a user the
/// token cannot name at all is a refused token with Exchange's reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autodiscover_failures_name_the_user_and_exchanges_reason() {
    let env = env().await;
    announce_loopback_ews(&env).await;
    env.admin
        .run(
            "Set-CsOAuthConfiguration",
            json!({"ExchangeAutodiscoverUrl": AUTODISCOVER_URL}),
        )
        .await
        .unwrap();
    // Carol has a mailbox; Skype knows her by an address Exchange does not (a stale one)
    const CAROL: &str = "carol@contoso.example";
    ExchangeAdmin::new(&env.lab.info)
        .unwrap()
        .run(
            "New-Mailbox",
            json!({"Name": "Carol Chen", "PrimarySmtpAddress": CAROL}),
        )
        .await
        .unwrap();
    env.admin
        .run(
            "Enable-CsUser",
            json!({"Identity": CAROL, "SipAddress": format!("sip:{CAROL}"), "PrimarySmtpAddress": "carol.old@contoso.example", "HostedVoiceMail": true}),
        )
        .await
        .unwrap();
    let (status, detail) = err_status(
        &env.admin
            .put_greeting(CAROL, "standard", tone_wav(100))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 502, "{detail}");
    assert!(
        detail.contains(&format!("has no mailbox for sip:{CAROL}"))
            && detail.contains("InvalidUser for carol.old@contoso.example")
            && detail.contains("No mailbox with address carol.old@contoso.example was found"),
        "{detail}"
    );
    // Test-OAuthConnectivity stops at finding the URL, with the same reason
    let out = env
        .admin
        .run(
            "Test-OAuthConnectivity",
            json!({"Service": "EWS", "Mailbox": "carol.old@contoso.example"}),
        )
        .await
        .unwrap();
    assert_eq!(out[0]["Stage"], "EwsUrl");
    assert_eq!(out[0]["ResultType"], "Error");
    assert!(
        out[0]["Detail"].as_str().unwrap().contains("InvalidUser"),
        "{out:#?}"
    );
    assert!(out[1..].iter().all(|r| r["ResultType"] == "Skipped"));
    // an address in a domain Exchange does not accept
    env.admin
        .run(
            "Set-CsUser",
            json!({"Identity": format!("sip:{CAROL}"), "PrimarySmtpAddress": "carol@fabrikam.example"}),
        )
        .await
        .unwrap();
    let (_, detail) = err_status(
        &env.admin
            .put_greeting(CAROL, "standard", tone_wav(100))
            .await
            .unwrap_err(),
    );
    assert!(
        detail.contains(&format!("sip:{CAROL}"))
            && detail.contains("InvalidDomain for carol@fabrikam.example")
            && detail.contains("not an accepted domain"),
        "{detail}"
    );
    // the right address: found
    env.admin
        .run(
            "Set-CsUser",
            json!({"Identity": format!("sip:{CAROL}"), "PrimarySmtpAddress": CAROL}),
        )
        .await
        .unwrap();
    env.admin
        .put_greeting(CAROL, "standard", tone_wav(100))
        .await
        .unwrap();
    assert_eq!(
        online_user(&env, CAROL).await["DiscoveredEwsUrl"],
        discovered_url(&env).as_str()
    );
    // nobody at all: Exchange refuses the token naming the user, and says why. (The
    // subscription keeper tries the new user too: it is let do so once, then kept asleep.)
    env.skype.set_tuning(Tuning {
        subscription_check_secs: 3600,
        ..fast_tuning()
    });
    env.admin
        .run(
            "Enable-CsUser",
            json!({"Identity": "ghost@contoso.example", "HostedVoiceMail": true}),
        )
        .await
        .unwrap();
    let refused = || async {
        ExchangeAdmin::new(&env.lab.info)
            .unwrap()
            .traffic()
            .await
            .unwrap()
            .iter()
            .filter(|r| {
                r["operation"] == "Autodiscover GetUserSettings"
                    && r["verdict"]
                        .as_str()
                        .unwrap_or("")
                        .contains("does not exist")
            })
            .count()
    };
    wait_for("the subscription keeper's attempt", 30, || async {
        env.admin
            .run(
                "Get-CsPresenceSubscription",
                json!({"Identity": "ghost@contoso.example"}),
            )
            .await
            .is_ok_and(|s| !s[0]["LastError"].is_null())
    })
    .await;
    let before = refused().await;
    let (status, detail) = err_status(
        &env.admin
            .put_greeting("ghost@contoso.example", "standard", tone_wav(100))
            .await
            .unwrap_err(),
    );
    assert_eq!(status, 502, "{detail}");
    assert!(
        detail.contains(&format!(
            "Exchange Autodiscover ({AUTODISCOVER_URL}) refused the token (HTTP 401)"
        )) && detail.contains("does not exist"),
        "{detail}"
    );
    // refused with invalid_token, asked once more with a fresh token, then reported
    assert_eq!(refused().await - before, 2);
}
