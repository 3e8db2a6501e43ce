//! The retention of the mailbox change logs, against the real server over HTTP with S2S tokens
//! and a manual clock: the pass (`prune_logs_once`, what the hourly background task runs) prunes
//! by the injected clock, and every reader behind what is left is refused, never answered from
//! it: SyncFolderItems and SyncFolderHierarchy (`ErrorInvalidSyncStateData`), GetEvents and
//! Subscribe (`ErrorInvalidWatermark`, `ErrorExpiredSubscription`), and push subscriptions (they
//! end instead of skipping events).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::routing::post;
use common::{ALICE, Env, Options, Partner, attr_after, config, signing_key, start};
use ews_proto::notification::{SubscriptionStatus, write_send_notification_result};
use exchange::{Config, Exchange, MIN_EVENT_RETENTION_SECS};
use s2s_proto::{ManualClock, SigningKey};
use time::OffsetDateTime;

const DAY: i64 = 24 * 3600;

impl Env {
    async fn create(&self, folder: &str, subject: &str) -> String {
        let t = self
            .call(&format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>{folder}</m:SavedItemFolderId><m:Items><t:Message><t:Subject>{subject}</t:Subject></t:Message></m:Items></m:CreateItem>"#
            ))
            .await;
        attr_after(&t, "<t:ItemId ", "Id")
    }

    async fn create_folder(&self, name: &str) -> String {
        let t = self
            .call(&format!(
                r#"<m:CreateFolder><m:ParentFolderId>{INBOX}</m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>{name}</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#
            ))
            .await;
        attr_after(&t, "<t:FolderId ", "Id")
    }

    /// SyncFolderItems of a folder: (response code, sync state, item ids of the changes).
    async fn sync_items(&self, folder_id: &str, state: Option<&str>) -> (String, String, usize) {
        let state = state
            .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
            .unwrap_or_default();
        let body = self
            .call(&format!(
                r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:FolderId Id="{folder_id}"/></m:SyncFolderId>{state}<m:MaxChangesReturned>100</m:MaxChangesReturned></m:SyncFolderItems>"#
            ))
            .await;
        (
            text_of(&body, "m:ResponseCode"),
            state_of(&body),
            body.matches("<t:Create>").count(),
        )
    }

    /// SyncFolderHierarchy of the whole mailbox: (response code, sync state).
    async fn sync_hierarchy(&self, state: Option<&str>) -> (String, String) {
        let state = state
            .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
            .unwrap_or_default();
        let body = self
            .call(&format!(
                r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>{state}</m:SyncFolderHierarchy>"#
            ))
            .await;
        (text_of(&body, "m:ResponseCode"), state_of(&body))
    }

    /// Subscribe (pull) to the inbox, from `watermark` if given: (response code, subscription
    /// id, watermark) (both empty on an error).
    async fn pull_subscribe(&self, watermark: Option<&str>) -> (String, String, String) {
        self.pull_subscribe_for(watermark, 1440).await
    }

    /// [`Env::pull_subscribe`] with a Timeout of `minutes`.
    async fn pull_subscribe_for(
        &self,
        watermark: Option<&str>,
        minutes: u32,
    ) -> (String, String, String) {
        let watermark = watermark
            .map(|w| format!("<t:Watermark>{w}</t:Watermark>"))
            .unwrap_or_default();
        let body = self
            .call(&format!(
                r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds>{INBOX}</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes>{watermark}<t:Timeout>{minutes}</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#
            ))
            .await;
        let code = text_of(&body, "m:ResponseCode");
        if code != "NoError" {
            return (code, String::new(), String::new());
        }
        (
            code,
            text_of(&body, "m:SubscriptionId"),
            text_of(&body, "m:Watermark"),
        )
    }

    /// GetEvents: (response code, message text, the last watermark, created events).
    async fn get_events(&self, id: &str, watermark: &str) -> (String, String, String, usize) {
        let body = self
            .call(&format!(
                "<m:GetEvents><m:SubscriptionId>{id}</m:SubscriptionId><m:Watermark>{watermark}</m:Watermark></m:GetEvents>"
            ))
            .await;
        let code = text_of(&body, "m:ResponseCode");
        let text = body
            .split("<m:MessageText>")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or_default()
            .to_owned();
        let last = body
            .rsplit("<t:Watermark>")
            .next()
            .and_then(|r| r.split('<').next())
            .unwrap_or_default()
            .to_owned();
        (code, text, last, body.matches("<t:CreatedEvent>").count())
    }
}

const INBOX: &str = r#"<t:DistinguishedFolderId Id="inbox"/>"#;

fn text_of(body: &str, element: &str) -> String {
    body.split(&format!("<{element}>"))
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("no {element} in {body}"))
        .to_owned()
}

/// The sync state of an answer (empty, `<m:SyncState/>`, on an error).
fn state_of(body: &str) -> String {
    body.split("<m:SyncState>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_default()
        .to_owned()
}

/// The auth server's key, valid long enough for the clock to be moved past the retention.
fn long_key() -> &'static SigningKey {
    signing_key("trusted sts", 400)
}

/// The server with the default retention and a manual clock set to now: Alice, and SfBOnline
/// with UserApplication trusted through [`long_key`].
async fn env() -> Env {
    start(Options {
        clock: Some(ManualClock::new(OffsetDateTime::now_utc().unix_timestamp())),
        mailboxes: &[("Alice", ALICE)],
        partner: Some(Partner {
            key: long_key,
            roles: &["UserApplication"],
        }),
        ..Options::default()
    })
    .await
}

/// The pass prunes by the injected clock: nothing within the retention, every entry of both
/// logs once the clock is past it. A sync state behind the pruned entries is then refused
/// (`ErrorInvalidSyncStateData`), for items and for the hierarchy; one at the head goes on;
/// starting over lists what is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pass_prunes_by_the_clock_and_syncs_behind_it_start_over() {
    let e = env().await;
    assert_eq!(e.ex.event_retention_secs(), 30 * DAY);
    let folder = e.create_folder("Synced").await;
    let in_folder = format!(r#"<t:FolderId Id="{folder}"/>"#);
    for n in 0..2 {
        e.create(&in_folder, &format!("first {n}")).await;
    }
    let (code, behind, listed) = e.sync_items(&folder, None).await;
    assert_eq!((code.as_str(), listed), ("NoError", 2));
    let (_, hierarchy_behind) = e.sync_hierarchy(None).await;
    e.create(&in_folder, "third").await;
    e.create_folder("Later").await;
    let (_, at_head, created) = e.sync_items(&folder, Some(&behind)).await;
    assert_eq!(created, 1);
    let (_, hierarchy_at_head) = e.sync_hierarchy(Some(&hierarchy_behind)).await;

    // within the retention nothing goes
    let p = e.ex.prune_logs_once().await.unwrap();
    assert_eq!((p.events, p.folder_events), (0, 0), "{p:?}");
    e.clock().advance(30 * DAY - 3600);
    let p = e.ex.prune_logs_once().await.unwrap();
    assert_eq!((p.events, p.folder_events), (0, 0), "{p:?}");
    // past it every entry goes: alice's three items and two folders (the item log holds the
    // folder events subscriptions report), her 21 default folders and two more
    e.clock().advance(2 * 3600);
    let p = e.ex.prune_logs_once().await.unwrap();
    assert_eq!((p.events, p.folder_events), (3 + 2, 23), "{p:?}");

    // the states behind the pruned entries are refused, not answered "no changes"
    let (code, _, _) = e.sync_items(&folder, Some(&behind)).await;
    assert_eq!(code, "ErrorInvalidSyncStateData");
    let (code, _) = e.sync_hierarchy(Some(&hierarchy_behind)).await;
    assert_eq!(code, "ErrorInvalidSyncStateData");
    // at the head nothing is missing
    let (code, _, created) = e.sync_items(&folder, Some(&at_head)).await;
    assert_eq!((code.as_str(), created), ("NoError", 0));
    let (code, _) = e.sync_hierarchy(Some(&hierarchy_at_head)).await;
    assert_eq!(code, "NoError");
    // starting over lists the folder
    let (code, _, listed) = e.sync_items(&folder, None).await;
    assert_eq!((code.as_str(), listed), ("NoError", 3));
}

/// The retention is never shorter than a day (a pull subscription's longest timeout).
#[tokio::test]
async fn the_retention_is_at_least_a_day() {
    let ex = Exchange::open(Config {
        event_retention_secs: 60,
        ..config(
            "http://127.0.0.1",
            Arc::new(ManualClock::new(1_800_000_000)),
        )
    })
    .unwrap();
    assert_eq!(ex.event_retention_secs(), MIN_EVENT_RETENTION_SECS);
    assert_eq!(MIN_EVENT_RETENTION_SECS, DAY);
}

/// Pull subscriptions behind the retention: GetEvents from a watermark whose next event was
/// pruned is refused, never answered with the events that are left: `ErrorInvalidWatermark`
/// while the subscription's latest watermark still works, `ErrorExpiredSubscription` (and the
/// subscription ends) when it does not. Subscribe from a pruned or never-issued watermark is
/// `ErrorInvalidWatermark`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_subscriptions_behind_the_retention_are_refused() {
    let e = env().await;
    // `reader` reads its events; `idle` never does
    let (_, reader, w0) = e.pull_subscribe(None).await;
    let (_, idle, idle_w) = e.pull_subscribe(None).await;
    assert_eq!(idle_w, w0);
    e.create(INBOX, "one").await;
    e.create(INBOX, "two").await;
    let (code, _, latest, created) = e.get_events(&reader, &w0).await;
    assert_eq!((code.as_str(), created), ("NoError", 2));
    assert_ne!(latest, w0);
    // from a watermark still in the log
    let (code, _, _) = e.pull_subscribe(Some(&w0)).await;
    assert_eq!(code, "NoError");

    // a month on, `reader` having read within its Timeout (a day) all along
    let mut latest = latest;
    for _ in 0..31 {
        e.clock().advance(DAY - 60);
        let (code, _, last, _) = e.get_events(&reader, &latest).await;
        assert_eq!(code, "NoError");
        latest = last;
    }
    let p = e.ex.prune_logs_once().await.unwrap();
    assert_eq!(p.events, 2, "{p:?}");

    // `reader` from its first watermark: the two events after it are gone; its latest works
    let (code, text, _, created) = e.get_events(&reader, &w0).await;
    assert_eq!(
        (code.as_str(), created),
        ("ErrorInvalidWatermark", 0),
        "{text}"
    );
    assert!(text.contains("no longer kept"), "{text}");
    let (code, _, _, created) = e.get_events(&reader, &latest).await;
    assert_eq!((code.as_str(), created), ("NoError", 0));
    // `idle` can never deliver them: it expired, and is gone
    let (code, text, _, _) = e.get_events(&idle, &idle_w).await;
    assert_eq!(code, "ErrorExpiredSubscription", "{text}");
    let (code, _, _, _) = e.get_events(&idle, &idle_w).await;
    assert_eq!(code, "ErrorSubscriptionNotFound");
    // Subscribe from a pruned watermark, or one ahead of the log: refused
    let ahead = (latest.parse::<u64>().unwrap() + 5).to_string();
    for bad in [w0.as_str(), ahead.as_str(), "-1", "x"] {
        let (code, _, _) = e.pull_subscribe(Some(bad)).await;
        assert_eq!(code, "ErrorInvalidWatermark", "{bad}");
    }
    let (code, _, _) = e.pull_subscribe(Some(&latest)).await;
    assert_eq!(code, "NoError");
}

/// A push subscription whose watermark's next event was pruned (nothing was delivered to it for
/// longer than the retention) ends: the notifier neither skips the events nor sends a status
/// notification as if nothing had happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_subscription_behind_the_retention_ends() {
    let e = env().await;
    let received = Arc::new(AtomicUsize::new(0));
    let r = received.clone();
    let subscriber = axum::Router::new().route(
        "/notify",
        post(move || {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
                write_send_notification_result(SubscriptionStatus::Ok)
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/notify", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, subscriber).await });
    let body = e
        .call(&format!(
            r#"<m:Subscribe><m:PushSubscriptionRequest><t:FolderIds>{INBOX}</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes><t:StatusFrequency>30</t:StatusFrequency><t:URL>{callback}</t:URL></m:PushSubscriptionRequest></m:Subscribe>"#
        ))
        .await;
    assert_eq!(text_of(&body, "m:ResponseCode"), "NoError", "{body}");
    e.create(INBOX, "delivered").await;
    assert_eq!(e.ex.push_once().await.unwrap(), 1);
    assert_eq!(received.load(Ordering::SeqCst), 1);
    // an event the subscriber has not been told about, then the retention passes
    e.create(INBOX, "never delivered").await;
    e.clock().advance(31 * DAY);
    assert_eq!(e.ex.prune_logs_once().await.unwrap().events, 2);
    assert_eq!(e.ex.push_once().await.unwrap(), 0);
    assert_eq!(received.load(Ordering::SeqCst), 1, "nothing more was sent");
    assert!(e.ex.subscriptions().await.unwrap().is_empty());
}

/// A pull subscription not read within its Timeout has expired: GetEvents answers
/// `ErrorExpiredSubscription` once, the subscription is gone, and expired ones hold no slot of
/// the mailbox's 20. One read within its Timeout keeps it alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_subscription_not_read_within_its_timeout_expires() {
    let e = env().await;
    let (code, kept, w) = e.pull_subscribe_for(None, 5).await;
    assert_eq!(code, "NoError");
    let (_, lapsed, lw) = e.pull_subscribe_for(None, 5).await;
    let mut kw = w;
    for _ in 0..3 {
        e.clock().advance(4 * 60);
        let (code, _, last, _) = e.get_events(&kept, &kw).await;
        assert_eq!(code, "NoError", "read within its Timeout");
        kw = last;
    }
    let (code, text, _, _) = e.get_events(&lapsed, &lw).await;
    assert_eq!(code, "ErrorExpiredSubscription", "{text}");
    assert!(text.contains("Timeout of 5 minutes"), "{text}");
    let (code, _, _, _) = e.get_events(&lapsed, &lw).await;
    assert_eq!(code, "ErrorSubscriptionNotFound");
    // 19 more with a one-minute Timeout fill the mailbox's 20; once they lapse, their slots are free
    for _ in 0..19 {
        assert_eq!(e.pull_subscribe_for(None, 1).await.0, "NoError");
    }
    assert_eq!(
        e.pull_subscribe_for(None, 1).await.0,
        "ErrorExceededSubscriptionCount"
    );
    e.clock().advance(2 * 60);
    assert_eq!(e.pull_subscribe_for(None, 1).await.0, "NoError");
    // `kept`, last read 2 minutes ago, within its 5: it still answers
    let (code, _, _, _) = e.get_events(&kept, &kw).await;
    assert_eq!(code, "NoError");
}
