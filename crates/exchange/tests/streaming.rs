//! EWS streaming notifications against the real server on a loopback port, read with reqwest as
//! a stream: Subscribe with `StreamingSubscriptionRequest`, then `GetStreamingEvents`, whose
//! answer is a chunked stream of SOAP envelopes (events as they arrive, keep-alives while idle,
//! `Closed` at the `ConnectionTimeout`). The server's "minute" and keep-alive interval are
//! shortened so a connection lasts seconds; expiry is driven by a manual clock.

mod common;

use std::time::Duration;

use common::{BOB, Env, Options, attr_after, bob_token, start, user_token_at};
use ews_proto::streaming::{
    ConnectionStatus, StreamingMessage, next_document, parse_streaming_message,
};
use ews_proto::xml::Limits;
use exchange::StreamingConfig;
use s2s_proto::{Clock, ManualClock};

const INBOX: &str = r#"<t:DistinguishedFolderId Id="inbox"/>"#;

/// Connections of `minute` per ConnectionTimeout minute, keep-alives every 200 ms.
fn timing(minute_ms: u64) -> StreamingConfig {
    StreamingConfig {
        minute: Duration::from_millis(minute_ms),
        keep_alive: Duration::from_millis(200),
        ..StreamingConfig::default()
    }
}

async fn server(streaming: StreamingConfig) -> Env {
    start(Options {
        streaming,
        ..Options::default()
    })
    .await
}

/// An open GetStreamingEvents answer, read an envelope at a time.
struct Stream {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl Stream {
    /// The next message, or `None` when the answer ended; fails after 10 s without one.
    async fn next(&mut self) -> Option<StreamingMessage> {
        loop {
            if let Some(n) = next_document(&self.buf) {
                let doc: Vec<u8> = self.buf.drain(..n).collect();
                return Some(
                    parse_streaming_message(&doc, &Limits::default())
                        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&doc))),
                );
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.resp.chunk())
                .await
                .expect("a message within 10 s")
                .expect("the stream reads");
            match chunk {
                Some(b) => self.buf.extend_from_slice(&b),
                None => {
                    assert!(self.buf.is_empty(), "a partial envelope at the end");
                    return None;
                }
            }
        }
    }

    /// The next message that is not a keep-alive.
    async fn next_event(&mut self) -> Option<StreamingMessage> {
        loop {
            match self.next().await {
                Some(StreamingMessage::Status(ConnectionStatus::Ok)) => continue,
                other => return other,
            }
        }
    }
}

impl Env {
    async fn create(&self, subject: &str) -> String {
        let t = self
            .call(&format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>{INBOX}</m:SavedItemFolderId><m:Items><t:Message><t:Subject>{subject}</t:Subject></t:Message></m:Items></m:CreateItem>"#
            ))
            .await;
        attr_after(&t, "<t:ItemId ", "Id")
    }

    /// A streaming subscription to alice's inbox (CreatedEvent), as `token`: its id.
    async fn subscribe_streaming_as(&self, token: &str) -> String {
        let body = self
            .call_with(
                token,
                r#"<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>"#,
            )
            .await;
        assert!(
            body.contains("<m:ResponseCode>NoError</m:ResponseCode>"),
            "{body}"
        );
        assert!(
            !body.contains("Watermark"),
            "a streaming subscription has none: {body}"
        );
        text_of(&body, "m:SubscriptionId")
    }

    async fn subscribe_streaming(&self) -> String {
        self.subscribe_streaming_as(&self.alice_token()).await
    }

    /// GetStreamingEvents for `ids` with `minutes`, as `token`.
    async fn open_as(&self, token: &str, ids: &[&str], minutes: u32) -> Stream {
        let ids: String = ids
            .iter()
            .map(|i| format!("<t:SubscriptionId>{i}</t:SubscriptionId>"))
            .collect();
        let resp = self
            .http
            .post(format!("{}/EWS/Exchange.asmx", self.url))
            .header("content-type", "text/xml")
            .bearer_auth(token)
            .body(common::soap(&format!(
                "<m:GetStreamingEvents><m:SubscriptionIds>{ids}</m:SubscriptionIds><m:ConnectionTimeout>{minutes}</m:ConnectionTimeout></m:GetStreamingEvents>"
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/xml; charset=utf-8"
        );
        Stream {
            resp,
            buf: Vec::new(),
        }
    }

    async fn open(&self, ids: &[&str], minutes: u32) -> Stream {
        self.open_as(&self.alice_token(), ids, minutes).await
    }

    /// Waits until the server holds `n` streaming connections.
    async fn connections(&self, n: usize) {
        for _ in 0..500 {
            if self.ex.open_streaming_connections() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{} streaming connections open, expected {n}",
            self.ex.open_streaming_connections()
        );
    }
}

fn text_of(body: &str, tag: &str) -> String {
    body.split(&format!("<{tag}>"))
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("no {tag} in {body}"))
        .to_owned()
}

/// The item ids a notifications message carries for subscription `id`.
fn created(m: &StreamingMessage, id: &str) -> Vec<String> {
    let StreamingMessage::Notifications(list) = m else {
        panic!("not notifications: {m:?}");
    };
    list.iter()
        .filter(|n| n.subscription_id == id)
        .flat_map(|n| n.events.iter())
        .map(|e| match &e.target {
            ews_proto::notification::EventTarget::Item(i) => i.id.clone(),
            other => panic!("not an item event: {other:?}"),
        })
        .collect()
}

/// (code, failed subscription ids, connection status) of an error message.
fn refusal(m: &StreamingMessage) -> (String, Vec<String>, ConnectionStatus, String) {
    let StreamingMessage::Error {
        error,
        subscription_ids,
        status,
    } = m
    else {
        panic!("not an error: {m:?}");
    };
    (
        error.code.clone(),
        subscription_ids.clone(),
        *status,
        error.message.clone(),
    )
}

/// Events arrive in their own envelopes while the connection is open, keep-alives come while it
/// is idle, and it ends with `Closed` when its ConnectionTimeout is up.
#[tokio::test]
async fn events_stream_as_they_arrive_with_keep_alives_then_closed() {
    let e = server(timing(3000)).await;
    let sub = e.subscribe_streaming().await;
    let started = std::time::Instant::now();
    let mut s = e.open(&[&sub], 1).await;
    assert_eq!(
        s.resp.headers()["transfer-encoding"].to_str().unwrap(),
        "chunked"
    );
    // idle: keep-alives (ConnectionStatus OK, no notification)
    assert_eq!(
        s.next().await,
        Some(StreamingMessage::Status(ConnectionStatus::Ok))
    );
    let first = e.create("one").await;
    assert_eq!(created(&s.next_event().await.unwrap(), &sub), [first]);
    let second = e.create("two").await;
    let third = e.create("three").await;
    let mut got = Vec::new();
    while got.len() < 2 {
        got.extend(created(&s.next_event().await.unwrap(), &sub));
    }
    assert_eq!(got, [second, third]);
    // the last message: Closed, when the "minute" is up, and then the answer ends
    let mut keep_alives = 0;
    let last = loop {
        match s.next().await.unwrap() {
            StreamingMessage::Status(ConnectionStatus::Ok) => keep_alives += 1,
            other => break other,
        }
    };
    assert_eq!(last, StreamingMessage::Status(ConnectionStatus::Closed));
    assert!(keep_alives >= 1, "keep-alives while idle");
    assert!(started.elapsed() >= Duration::from_millis(2900));
    assert_eq!(s.next().await, None);
    e.connections(0).await;
}

/// A backlog goes in envelopes of at most 100 events per subscription, one after another, in
/// order.
#[tokio::test]
async fn a_backlog_is_sent_in_envelopes_of_at_most_100_events() {
    let e = server(timing(5000)).await;
    let sub = e.subscribe_streaming().await;
    let messages: String = (0..150)
        .map(|i| format!("<t:Message><t:Subject>backlog {i}</t:Subject></t:Message>"))
        .collect();
    let body = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>{INBOX}</m:SavedItemFolderId><m:Items>{messages}</m:Items></m:CreateItem>"#
        ))
        .await;
    let items: Vec<String> = common::ids(&body).into_iter().map(|(id, _)| id).collect();
    assert_eq!(items.len(), 150);
    let mut s = e.open(&[&sub], 1).await;
    let first = created(&s.next_event().await.unwrap(), &sub);
    let second = created(&s.next_event().await.unwrap(), &sub);
    assert_eq!((first.len(), second.len()), (100, 50));
    assert_eq!([first, second].concat(), items);
}

/// A write wakes the connection at once: it waits on the store's commits, not on a timer (the
/// keep-alive here is a minute away).
#[tokio::test]
async fn a_write_wakes_the_connection_without_polling() {
    let e = server(StreamingConfig {
        keep_alive: Duration::from_secs(60),
        ..timing(60_000)
    })
    .await;
    let sub = e.subscribe_streaming().await;
    let mut s = e.open(&[&sub], 1).await;
    e.connections(1).await;
    for n in 0..3 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = std::time::Instant::now();
        let item = e.create(&format!("wake {n}")).await;
        assert_eq!(created(&s.next().await.unwrap(), &sub), [item]);
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}

/// The raw envelopes: no XML declaration, ServerVersionInfo, the schema's element order, events
/// without watermarks (what exchangelib and the EWS Managed API read).
#[tokio::test]
async fn the_wire_format_is_exchanges() {
    let e = server(timing(1000)).await;
    let sub = e.subscribe_streaming().await;
    let item = e.create("wire").await;
    let mut s = e.open(&[&sub], 1).await;
    let mut raw = Vec::new();
    while let Some(chunk) = s.resp.chunk().await.unwrap() {
        raw.extend_from_slice(&chunk);
    }
    let raw = String::from_utf8(raw).unwrap();
    assert!(raw.starts_with("<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Header><h:ServerVersionInfo"), "{raw}");
    assert!(!raw.contains("<?xml"), "{raw}");
    let events = format!(
        "<m:GetStreamingEventsResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:Notifications><m:Notification><t:SubscriptionId>{sub}</t:SubscriptionId><t:CreatedEvent><t:TimeStamp>"
    );
    assert!(raw.contains(&events), "{raw}");
    assert!(
        raw.contains(&format!("<t:ItemId Id=\"{item}\"/><t:ParentFolderId Id=")),
        "{raw}"
    );
    assert!(!raw.contains("Watermark"), "{raw}");
    assert!(raw.ends_with("<m:GetStreamingEventsResponseMessage ResponseClass=\"Success\"><m:ResponseCode>NoError</m:ResponseCode><m:ConnectionStatus>Closed</m:ConnectionStatus></m:GetStreamingEventsResponseMessage></m:ResponseMessages></m:GetStreamingEventsResponse></s:Body></s:Envelope>"), "{raw}");
}

/// Events written while no connection is open are sent by the next one, and a connection
/// continues where the last one stopped: nothing lost, nothing sent twice.
#[tokio::test]
async fn a_reconnect_continues_where_the_last_connection_stopped() {
    let e = server(timing(2000)).await;
    let sub = e.subscribe_streaming().await;
    let before = e.create("before any connection").await;
    let mut s = e.open(&[&sub], 1).await;
    assert_eq!(created(&s.next_event().await.unwrap(), &sub), [before]);
    // the client goes away mid-connection
    drop(s);
    e.connections(0).await;
    let between = e.create("between connections").await;
    let mut s = e.open(&[&sub], 1).await;
    assert_eq!(created(&s.next_event().await.unwrap(), &sub), [between]);
    // this one runs to its end; the next starts after it
    assert_eq!(
        s.next_event().await,
        Some(StreamingMessage::Status(ConnectionStatus::Closed))
    );
    assert_eq!(s.next().await, None);
    e.connections(0).await;
    let after = e.create("after").await;
    let mut s = e.open(&[&sub], 1).await;
    assert_eq!(created(&s.next_event().await.unwrap(), &sub), [after]);
}

/// One connection serves several subscriptions; each notification names its subscription.
#[tokio::test]
async fn one_connection_serves_several_subscriptions() {
    let e = server(timing(2000)).await;
    let a = e.subscribe_streaming().await;
    let b = e.subscribe_streaming().await;
    let mut s = e.open(&[&a, &b, &a], 1).await;
    let item = e.create("both").await;
    let mut seen = (Vec::new(), Vec::new());
    while seen.0.is_empty() || seen.1.is_empty() {
        let m = s.next_event().await.unwrap();
        seen.0.extend(created(&m, &a));
        seen.1.extend(created(&m, &b));
    }
    assert_eq!(seen, (vec![item.clone()], vec![item]));
}

/// Every id is checked before streaming; one bad id refuses the request, with the bad ids in
/// `ErrorSubscriptionIds` and `Closed`.
#[tokio::test]
async fn unknown_foreign_and_pull_ids_are_refused() {
    let e = server(timing(1000)).await;
    let good = e.subscribe_streaming().await;
    // an id nobody issued
    let mut s = e.open(&[&good, "0123456789abcdef"], 1).await;
    let (code, ids, status, text) = refusal(&s.next().await.unwrap());
    assert_eq!(
        (code.as_str(), ids, status),
        (
            "ErrorSubscriptionNotFound",
            vec!["0123456789abcdef".to_owned()],
            ConnectionStatus::Closed
        )
    );
    assert!(text.contains("Subscribe again"), "{text}");
    assert_eq!(s.next().await, None);
    // bob's subscription is not alice's
    let bobs = e.subscribe_streaming_as(&bob_token()).await;
    let (code, ids, ..) = refusal(&e.open(&[&bobs], 1).await.next().await.unwrap());
    assert_eq!(
        (code.as_str(), ids),
        ("ErrorSubscriptionNotFound", vec![bobs.clone()])
    );
    // a pull subscription
    let body = e
        .call(r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#)
        .await;
    let pull = text_of(&body, "m:SubscriptionId");
    let (code, ids, status, text) = refusal(&e.open(&[&pull], 1).await.next().await.unwrap());
    assert_eq!(
        (code.as_str(), ids, status),
        (
            "ErrorInvalidSubscription",
            vec![pull],
            ConnectionStatus::Closed
        )
    );
    assert!(text.contains("GetEvents"), "{text}");
    // and the other way round: GetEvents on a streaming subscription
    let body = e
        .call(&format!(
            "<m:GetEvents><m:SubscriptionId>{good}</m:SubscriptionId><m:Watermark>1</m:Watermark></m:GetEvents>"
        ))
        .await;
    assert!(
        body.contains("<m:ResponseCode>ErrorInvalidPullSubscriptionId</m:ResponseCode>"),
        "{body}"
    );
    assert!(body.contains("GetStreamingEvents"), "{body}");
    // nothing was left open, and the good one still works
    assert_eq!(e.ex.open_streaming_connections(), 0);
    let mut s = e.open(&[&good], 1).await;
    assert_eq!(
        s.next_event().await,
        Some(StreamingMessage::Status(ConnectionStatus::Closed))
    );
    // bob reads his own
    let mut s = e.open_as(&bob_token(), &[&bobs], 1).await;
    assert_eq!(
        s.next_event().await,
        Some(StreamingMessage::Status(ConnectionStatus::Closed))
    );
}

/// ConnectionTimeout is 1–30 minutes (the schema's type): anything else fails schema validation.
/// So does a streaming subscription with a watermark or timeout, and GetStreamingEvents without
/// ids or with too many.
#[tokio::test]
async fn malformed_requests_fail_schema_validation() {
    let e = server(timing(1000)).await;
    let sub = e.subscribe_streaming().await;
    for minutes in ["0", "31", "-1", "x"] {
        let (status, body) = e
            .call_as(
                &e.alice_token(),
                &format!("<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{sub}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>{minutes}</m:ConnectionTimeout></m:GetStreamingEvents>"),
            )
            .await;
        assert_eq!(status, 500, "{minutes}: {body}");
        assert!(body.contains("<e:ResponseCode xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">ErrorSchemaValidation</e:ResponseCode>"), "{body}");
        assert!(body.contains("an integer from 1 to 30"), "{body}");
    }
    for extra in [
        "<t:Watermark>1</t:Watermark>",
        "<t:Timeout>10</t:Timeout>",
        "<t:StatusFrequency>1</t:StatusFrequency>",
    ] {
        let (status, body) = e
            .call_as(
                &e.alice_token(),
                &format!(r#"<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds>{INBOX}</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes>{extra}</m:StreamingSubscriptionRequest></m:Subscribe>"#),
            )
            .await;
        assert_eq!(status, 500, "{extra}: {body}");
        assert!(body.contains("ErrorSchemaValidation"), "{body}");
    }
    let (status, body) = e
        .call_as(
            &e.alice_token(),
            "<m:GetStreamingEvents><m:SubscriptionIds/><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>",
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("SubscriptionId"), "{body}");
    let many: String = (0..201)
        .map(|i| format!("<t:SubscriptionId>s{i}</t:SubscriptionId>"))
        .collect();
    let (status, body) = e
        .call_as(
            &e.alice_token(),
            &format!("<m:GetStreamingEvents><m:SubscriptionIds>{many}</m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>"),
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("at most 200"), "{body}");
}

/// At most `max_connections_per_mailbox` connections per mailbox and `max_connections` per
/// server: `ErrorExceededConnectionCount` past them.
#[tokio::test]
async fn open_connections_are_bounded_per_mailbox_and_per_server() {
    let e = server(StreamingConfig {
        max_connections_per_mailbox: 2,
        max_connections: 3,
        ..timing(5000)
    })
    .await;
    let subs = [
        e.subscribe_streaming().await,
        e.subscribe_streaming().await,
        e.subscribe_streaming().await,
    ];
    let a = e.open(&[&subs[0]], 1).await;
    let _b = e.open(&[&subs[1]], 1).await;
    let (code, ids, status, text) = refusal(&e.open(&[&subs[2]], 1).await.next().await.unwrap());
    assert_eq!(
        (code.as_str(), ids.len(), status),
        ("ErrorExceededConnectionCount", 0, ConnectionStatus::Closed)
    );
    assert!(
        text.contains("already has 2 open streaming connections"),
        "{text}"
    );
    let bob = bob_token();
    let bobs = [
        e.subscribe_streaming_as(&bob).await,
        e.subscribe_streaming_as(&bob).await,
    ];
    let _c = e.open_as(&bob, &[&bobs[0]], 1).await;
    let (code, _, _, text) = refusal(&e.open_as(&bob, &[&bobs[1]], 1).await.next().await.unwrap());
    assert_eq!(code, "ErrorExceededConnectionCount");
    assert!(text.contains("This server already has 3"), "{text}");
    // a client that goes away gives its slot back
    drop(a);
    e.connections(2).await;
    let mut s = e.open(&[&subs[2]], 1).await;
    assert_eq!(
        s.next().await,
        Some(StreamingMessage::Status(ConnectionStatus::Ok))
    );
}

/// A second connection for a subscription closes the older one (`Closed`), which no longer
/// counts against the bounds; events go to the newer one.
#[tokio::test]
async fn a_second_connection_for_a_subscription_closes_the_older_one() {
    let e = server(StreamingConfig {
        max_connections_per_mailbox: 1,
        ..timing(5000)
    })
    .await;
    let sub = e.subscribe_streaming().await;
    let mut older = e.open(&[&sub], 1).await;
    e.connections(1).await;
    let mut newer = e.open(&[&sub], 1).await;
    assert_eq!(
        older.next_event().await,
        Some(StreamingMessage::Status(ConnectionStatus::Closed))
    );
    assert_eq!(older.next().await, None);
    let item = e.create("to the newer one").await;
    assert_eq!(created(&newer.next_event().await.unwrap(), &sub), [item]);
    e.connections(1).await;
}

/// Unsubscribe ends the subscription's open connection: `ErrorSubscriptionUnsubscribed` for it,
/// `Closed` when it served no other; a connection serving others goes on.
#[tokio::test]
async fn unsubscribe_ends_the_open_connection() {
    let e = server(timing(5000)).await;
    let a = e.subscribe_streaming().await;
    let b = e.subscribe_streaming().await;
    let mut s = e.open(&[&a, &b], 1).await;
    e.connections(1).await;
    let body = e
        .call(&format!(
            "<m:Unsubscribe><m:SubscriptionId>{a}</m:SubscriptionId></m:Unsubscribe>"
        ))
        .await;
    assert!(body.contains("NoError"), "{body}");
    let (code, ids, status, _) = refusal(&s.next_event().await.unwrap());
    assert_eq!(
        (code.as_str(), ids, status),
        (
            "ErrorSubscriptionUnsubscribed",
            vec![a.clone()],
            ConnectionStatus::Ok
        )
    );
    let item = e.create("only b").await;
    let m = s.next_event().await.unwrap();
    assert_eq!((created(&m, &a), created(&m, &b)), (vec![], vec![item]));
    e.call(&format!(
        "<m:Unsubscribe><m:SubscriptionId>{b}</m:SubscriptionId></m:Unsubscribe>"
    ))
    .await;
    let (code, ids, status, _) = refusal(&s.next_event().await.unwrap());
    assert_eq!(
        (code.as_str(), ids, status),
        (
            "ErrorSubscriptionUnsubscribed",
            vec![b.clone()],
            ConnectionStatus::Closed
        )
    );
    assert_eq!(s.next().await, None);
    e.connections(0).await;
    // gone for good
    let (code, ..) = refusal(&e.open(&[&a], 1).await.next().await.unwrap());
    assert_eq!(code, "ErrorSubscriptionNotFound");
}

/// A streaming subscription expires 30 minutes (the injected clock) after its last connection
/// closed, or after Subscribe when it never had one; while a connection is open it does not.
#[tokio::test]
async fn a_subscription_expires_30_minutes_after_its_last_connection() {
    let clock = ManualClock::new(common::now());
    let e = start(Options {
        clock: Some(clock.clone()),
        streaming: timing(500),
        ..Options::default()
    })
    .await;
    let never = e.subscribe_streaming().await;
    let used = e.subscribe_streaming().await;
    clock.advance(29 * 60);
    let mut s = e.open(&[&used], 1).await;
    assert_eq!(
        s.next_event().await,
        Some(StreamingMessage::Status(ConnectionStatus::Closed))
    );
    e.connections(0).await;
    clock.advance(2 * 60);
    // 31 minutes after Subscribe, never connected: expired
    let (code, ids, _, text) = refusal(&e.open(&[&never], 1).await.next().await.unwrap());
    assert_eq!(
        (code.as_str(), ids),
        ("ErrorSubscriptionNotFound", vec![never.clone()])
    );
    assert!(text.contains("expired"), "{text}");
    // 2 minutes after its connection closed: alive; 31: expired
    let mut s = e.open(&[&used], 1).await;
    assert_eq!(
        s.next_event().await,
        Some(StreamingMessage::Status(ConnectionStatus::Closed))
    );
    e.connections(0).await;
    clock.advance(29 * 60);
    let mut s = e.open(&[&used], 1).await;
    assert_eq!(
        s.next_event().await,
        Some(StreamingMessage::Status(ConnectionStatus::Closed))
    );
    e.connections(0).await;
    clock.advance(31 * 60);
    let (code, ..) = refusal(&e.open(&[&used], 1).await.next().await.unwrap());
    assert_eq!(code, "ErrorSubscriptionNotFound");
    // an expired subscription holds no slot of the mailbox's 20 (it was removed)
    let rows = e.ex.subscriptions().await.unwrap();
    assert!(rows.iter().all(|r| r.id != never && r.id != used));
}

/// Streaming subscriptions count toward the mailbox's 20 subscriptions.
#[tokio::test]
async fn streaming_subscriptions_count_toward_the_mailbox_limit() {
    let e = server(timing(1000)).await;
    for _ in 0..20 {
        e.subscribe_streaming().await;
    }
    let body = e
        .call(r#"<m:Subscribe><m:StreamingSubscriptionRequest SubscribeToAllFolders="true"><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>"#)
        .await;
    assert!(body.contains("ErrorExceededSubscriptionCount"), "{body}");
}

/// GetStreamingEvents is authorized as every EWS request: a bad token gets the 401 challenge, a
/// partner without UserApplication `ErrorAccessDenied`.
#[tokio::test]
async fn get_streaming_events_is_authenticated_and_authorized() {
    let e = server(timing(1000)).await;
    let sub = e.subscribe_streaming().await;
    let resp = e
        .http
        .post(format!("{}/EWS/Exchange.asmx", e.url))
        .header("content-type", "text/xml")
        .bearer_auth("not-a-token")
        .body(common::soap(&format!("<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{sub}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    e.remove_role("UserApplication").await;
    let (code, _, status, text) = refusal(&e.open(&[&sub], 1).await.next().await.unwrap());
    assert_eq!(
        (code.as_str(), status),
        ("ErrorAccessDenied", ConnectionStatus::Closed)
    );
    assert!(text.contains("UserApplication"), "{text}");
    // the request is in the traffic record like any other
    assert!(
        e.ex.traffic()
            .iter()
            .any(|r| r.operation == "GetStreamingEvents")
    );
}

/// Another user's token cannot read alice's subscription even with its id; and a token minted
/// for bob at the manual clock's time works as bob.
#[tokio::test]
async fn a_subscription_belongs_to_its_mailbox() {
    let clock = ManualClock::new(common::now());
    let e = start(Options {
        clock: Some(clock.clone()),
        streaming: timing(500),
        ..Options::default()
    })
    .await;
    let alices = e.subscribe_streaming().await;
    let bob = user_token_at(common::key(), clock.unix(), BOB);
    let (code, ids, ..) = refusal(&e.open_as(&bob, &[&alices], 1).await.next().await.unwrap());
    assert_eq!(
        (code.as_str(), ids),
        ("ErrorSubscriptionNotFound", vec![alices])
    );
}
