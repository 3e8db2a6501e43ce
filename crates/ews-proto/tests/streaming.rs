//! Streaming notifications: exchangelib's Subscribe (`StreamingSubscriptionRequest`) and
//! `GetStreamingEvents` requests as it sends them, the requests the schema refuses, and insta
//! snapshots of every GetStreamingEvents message (one envelope each, no XML declaration, a
//! newline inserted between `><` for review).

use ews_proto::notification::{EventTarget, ObjectEvent, ObjectEventKind};
use ews_proto::request::{EventType, GetStreamingEvents, Operation, Subscription, parse_request};
use ews_proto::response::ResponseError;
use ews_proto::streaming::{
    ConnectionStatus, StreamingMessage, StreamingNotification, next_document,
    parse_streaming_message, write_streaming_message,
};
use ews_proto::types::{FolderId, ItemRef, parse_xs_datetime};
use ews_proto::xml::Limits;
use insta::assert_snapshot;

fn lines(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.replace("><", ">\n<"),
        Err(e) => panic!("writer produced invalid UTF-8: {e}"),
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/requests/exchangelib")
        .join(format!("{name}.xml"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn envelope(op: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body>{op}</s:Body></s:Envelope>"#
    )
}

fn event(kind: ObjectEventKind, at: &str, item: &str, folder: &str) -> ObjectEvent {
    ObjectEvent {
        kind,
        watermark: String::new(),
        time_stamp: parse_xs_datetime(at).unwrap_or_else(|| panic!("bad date {at}")),
        target: EventTarget::Item(ItemRef {
            id: item.to_owned(),
            change_key: None,
        }),
        parent_folder_id: FolderId {
            id: folder.to_owned(),
            change_key: None,
        },
        old_target: None,
        old_parent_folder_id: None,
        unread_count: None,
    }
}

fn events_message() -> StreamingMessage {
    let mut moved = event(
        ObjectEventKind::Moved,
        "2024-03-01T10:00:05Z",
        "I-2",
        "F-deleted",
    );
    moved.old_target = Some(EventTarget::Item(ItemRef {
        id: "I-1".into(),
        change_key: None,
    }));
    moved.old_parent_folder_id = Some(FolderId {
        id: "F-inbox".into(),
        change_key: None,
    });
    StreamingMessage::Notifications(vec![
        StreamingNotification {
            subscription_id: "SUB1".into(),
            events: vec![
                event(
                    ObjectEventKind::Created,
                    "2024-03-01T10:00:00Z",
                    "I-1",
                    "F-inbox",
                ),
                moved,
            ],
        },
        StreamingNotification {
            subscription_id: "SUB2".into(),
            events: vec![event(
                ObjectEventKind::Created,
                "2024-03-01T10:00:00Z",
                "I-1",
                "F-inbox",
            )],
        },
    ])
}

#[test]
fn exchangelib_subscribe_to_streaming() {
    let r = parse_request(&fixture("subscribe_streaming"), &Limits::default()).unwrap();
    let Operation::Subscribe(Subscription::Streaming { common }) = r.operation else {
        panic!("not a streaming subscription: {:?}", r.operation)
    };
    assert!(!common.subscribe_to_all_folders);
    assert_eq!(common.folder_ids.len(), 1);
    assert_eq!(common.watermark, None);
    assert_eq!(common.event_types.len(), 7);
    assert!(common.event_types.contains(&EventType::NewMailEvent));
}

#[test]
fn exchangelib_get_streaming_events() {
    let r = parse_request(&fixture("get_streaming_events"), &Limits::default()).unwrap();
    assert_eq!(r.operation.name(), "GetStreamingEvents");
    assert_eq!(
        r.operation,
        Operation::GetStreamingEvents(GetStreamingEvents {
            subscription_ids: vec!["SUB1".into()],
            connection_timeout: 1,
        })
    );
}

#[test]
fn several_ids_duplicates_dropped_and_the_timeout_range() {
    let op = |ids: &str, minutes: &str| {
        parse_request(
            envelope(&format!("<m:GetStreamingEvents><m:SubscriptionIds>{ids}</m:SubscriptionIds><m:ConnectionTimeout>{minutes}</m:ConnectionTimeout></m:GetStreamingEvents>")).as_bytes(),
            &Limits::default(),
        )
    };
    let ok = op(
        "<t:SubscriptionId>A</t:SubscriptionId><t:SubscriptionId> B </t:SubscriptionId><t:SubscriptionId>A</t:SubscriptionId>",
        " 30 ",
    )
    .unwrap();
    assert_eq!(
        ok.operation,
        Operation::GetStreamingEvents(GetStreamingEvents {
            subscription_ids: vec!["A".into(), "B".into()],
            connection_timeout: 30,
        })
    );
    let one = "<t:SubscriptionId>A</t:SubscriptionId>";
    for bad in ["0", "31", "-1", "", "1.5", "4294967296"] {
        let e = op(one, bad).unwrap_err();
        assert_eq!(e.response_code(), "ErrorSchemaValidation", "{bad}: {e}");
        assert!(e.to_string().contains("from 1 to 30"), "{e}");
    }
    // no id, an empty one, one in the wrong namespace, too many
    for (ids, what) in [
        ("", "SubscriptionId"),
        ("<t:SubscriptionId> </t:SubscriptionId>", "SubscriptionId"),
        ("<m:SubscriptionId>A</m:SubscriptionId>", "unexpected"),
    ] {
        let e = op(ids, "1").unwrap_err();
        assert_eq!(e.response_code(), "ErrorSchemaValidation", "{ids}: {e}");
        assert!(e.to_string().contains(what), "{e}");
    }
    let many: String = (0..=ews_proto::request::MAX_STREAMING_SUBSCRIPTION_IDS)
        .map(|i| format!("<t:SubscriptionId>S{i}</t:SubscriptionId>"))
        .collect();
    let e = op(&many, "1").unwrap_err();
    assert_eq!(e.response_code(), "ErrorInvalidRequest", "{e}");
    assert!(e.to_string().contains("at most 200"), "{e}");
    // ConnectionTimeout is required
    let e = parse_request(
        envelope(&format!(
            "<m:GetStreamingEvents><m:SubscriptionIds>{one}</m:SubscriptionIds></m:GetStreamingEvents>"
        ))
        .as_bytes(),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("ConnectionTimeout"), "{e}");
}

#[test]
fn a_streaming_subscription_has_only_folders_and_event_types() {
    for extra in [
        "<t:Watermark>AQ==</t:Watermark>",
        "<t:Timeout>10</t:Timeout>",
        "<t:StatusFrequency>1</t:StatusFrequency>",
        "<t:URL>https://x.example/</t:URL>",
    ] {
        let e = parse_request(
            envelope(&format!(r#"<m:Subscribe><m:StreamingSubscriptionRequest SubscribeToAllFolders="true"><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes>{extra}</m:StreamingSubscriptionRequest></m:Subscribe>"#)).as_bytes(),
            &Limits::default(),
        )
        .unwrap_err();
        assert_eq!(e.response_code(), "ErrorSchemaValidation", "{extra}: {e}");
        assert!(e.to_string().contains("unexpected element"), "{e}");
    }
}

#[test]
fn streaming_messages() {
    assert_snapshot!(
        "streaming_events",
        lines(&write_streaming_message(&events_message()))
    );
    assert_snapshot!(
        "streaming_keep_alive",
        lines(&write_streaming_message(&StreamingMessage::Status(
            ConnectionStatus::Ok
        )))
    );
    assert_snapshot!(
        "streaming_closed",
        lines(&write_streaming_message(&StreamingMessage::Status(
            ConnectionStatus::Closed
        )))
    );
    assert_snapshot!(
        "streaming_error_not_found",
        lines(&write_streaming_message(&StreamingMessage::Error {
            error: ResponseError::new(
                "ErrorSubscriptionNotFound",
                "The subscription SUB9 was not found."
            ),
            subscription_ids: vec!["SUB9".into(), "SUB8".into()],
            status: ConnectionStatus::Closed,
        }))
    );
    assert_snapshot!(
        "streaming_unsubscribed_others_go_on",
        lines(&write_streaming_message(&StreamingMessage::Error {
            error: ResponseError::new(
                "ErrorSubscriptionUnsubscribed",
                "The subscription SUB1 was removed by Unsubscribe."
            ),
            subscription_ids: vec!["SUB1".into()],
            status: ConnectionStatus::Ok,
        }))
    );
    assert_snapshot!(
        "streaming_exceeded_connection_count",
        lines(&write_streaming_message(&StreamingMessage::Error {
            error: ResponseError::new("ErrorExceededConnectionCount", "Too many."),
            subscription_ids: vec![],
            status: ConnectionStatus::Closed,
        }))
    );
}

/// A stream of the writer's envelopes, as a client receives it in arbitrary pieces, reads back
/// message by message.
#[test]
fn a_stream_reads_back_in_any_pieces() {
    let sent = [
        StreamingMessage::Status(ConnectionStatus::Ok),
        events_message(),
        StreamingMessage::Status(ConnectionStatus::Closed),
    ];
    let stream: Vec<u8> = sent.iter().flat_map(write_streaming_message).collect();
    for piece in [1, 7, 64, stream.len()] {
        let mut buf = Vec::new();
        let mut got = Vec::new();
        for chunk in stream.chunks(piece) {
            buf.extend_from_slice(chunk);
            while let Some(n) = next_document(&buf) {
                let doc: Vec<u8> = buf.drain(..n).collect();
                got.push(parse_streaming_message(&doc, &Limits::default()).unwrap());
            }
        }
        assert!(buf.is_empty());
        assert_eq!(got, sent, "pieces of {piece}");
    }
}
