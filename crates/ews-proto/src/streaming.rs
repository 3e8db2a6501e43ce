//! GetStreamingEvents answers: the body of one HTTP response is a sequence of complete SOAP
//! envelopes, one per message, written as events arrive (chunked transfer encoding), each
//! `m:GetStreamingEventsResponse/m:ResponseMessages/m:GetStreamingEventsResponseMessage`:
//!
//! * events: `ResponseClass="Success"`, `m:ResponseCode` `NoError`, then
//!   `m:Notifications/m:Notification` (`t:SubscriptionId`, then the events, without watermarks),
//!   as Exchange 2013+ sends them (Microsoft's "Stream notifications about mailbox events"
//!   example) and as the EWS Managed API reads them (it reads nothing after `m:Notifications`);
//! * a keep-alive (idle connection) or the last message (the connection closes):
//!   `NoError` then `m:ConnectionStatus` `OK` or `Closed`;
//! * an error: `ResponseClass="Error"`, the error body, `m:ErrorSubscriptionIds/m:SubscriptionId`
//!   naming the subscriptions it is about, then `m:ConnectionStatus`.
//!
//! The element order is the schema's (`GetStreamingEventsResponseMessageType`: `Notifications`,
//! `ErrorSubscriptionIds`, `ConnectionStatus`). No envelope carries an XML declaration: after the
//! first document one would be ill-formed for a reader of the whole stream (the EWS Managed API
//! reads it as one `ConformanceLevel.Auto` stream; exchangelib cuts it into documents and adds
//! its own declaration to each).
//!
//! [`next_document`] and [`parse_streaming_message`] are the client side.

use crate::error::{EwsProtoError, dn, echo, missing};
use crate::notification::{
    NotificationEvent, ObjectEvent, parse_notification_with, write_streaming_notification,
};
use crate::ns;
use crate::response::{
    ResponseClass, ResponseError, parse_response, write_error_body, write_server_version_info,
};
use crate::types::str_enum;
use crate::writer::{XmlOut, envelope_without_declaration};
use crate::xml::Limits;

str_enum! {
    /// `m:ConnectionStatus`.
    pub enum ConnectionStatus ("ConnectionStatus") {
        /// The connection stays open (a keep-alive).
        Ok = "OK",
        /// The server closes the connection after this message.
        Closed = "Closed",
    }
}

/// The events of one subscription in a streaming message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamingNotification {
    pub subscription_id: String,
    /// Object events; their `watermark` is not written (and reads back empty).
    pub events: Vec<ObjectEvent>,
}

/// One message of a GetStreamingEvents response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamingMessage {
    /// Events, one notification per subscription that has some.
    Notifications(Vec<StreamingNotification>),
    /// A keep-alive ([`ConnectionStatus::Ok`]) or the last message ([`ConnectionStatus::Closed`]).
    Status(ConnectionStatus),
    /// An error about the subscriptions `subscription_ids` (empty: about the request).
    Error {
        error: ResponseError,
        subscription_ids: Vec<String>,
        status: ConnectionStatus,
    },
}

impl StreamingMessage {
    /// The connection status this message announces: `None` for notifications (the
    /// connection stays open).
    pub fn connection_status(&self) -> Option<ConnectionStatus> {
        match self {
            Self::Notifications(_) => None,
            Self::Status(s) | Self::Error { status: s, .. } => Some(*s),
        }
    }
}

/// One envelope of a GetStreamingEvents response (see the module documentation).
pub fn write_streaming_message(message: &StreamingMessage) -> Vec<u8> {
    envelope_without_declaration(write_server_version_info, |w| {
        w.start(
            "m:GetStreamingEventsResponse",
            &[("xmlns:m", ns::MESSAGES), ("xmlns:t", ns::TYPES)],
        );
        w.start("m:ResponseMessages", &[]);
        let name = "m:GetStreamingEventsResponseMessage";
        match message {
            StreamingMessage::Notifications(list) => {
                w.start(name, &[("ResponseClass", "Success")]);
                w.leaf("m:ResponseCode", "NoError");
                w.start("m:Notifications", &[]);
                for n in list {
                    write_streaming_notification(w, &n.subscription_id, &n.events);
                }
                w.end("m:Notifications");
            }
            StreamingMessage::Status(status) => {
                w.start(name, &[("ResponseClass", "Success")]);
                w.leaf("m:ResponseCode", "NoError");
                w.leaf("m:ConnectionStatus", status.as_str());
            }
            StreamingMessage::Error {
                error,
                subscription_ids,
                status,
            } => {
                w.start(name, &[("ResponseClass", error.class.as_str())]);
                write_error_body(w, error);
                write_error_subscription_ids(w, subscription_ids);
                w.leaf("m:ConnectionStatus", status.as_str());
            }
        }
        w.end(name);
        w.end("m:ResponseMessages");
        w.end("m:GetStreamingEventsResponse");
    })
}

/// `m:ErrorSubscriptionIds/m:SubscriptionId`: in the messages namespace, where exchangelib and
/// the EWS Managed API read them.
fn write_error_subscription_ids(w: &mut XmlOut, ids: &[String]) {
    if ids.is_empty() {
        return;
    }
    w.start("m:ErrorSubscriptionIds", &[]);
    for id in ids {
        w.leaf("m:SubscriptionId", id);
    }
    w.end("m:ErrorSubscriptionIds");
}

/// The length of the first complete XML document at the start of `buffer` (leading whitespace
/// and an XML declaration included), or `None` while it is incomplete, which is also the answer
/// for bytes that are not well-formed: a client bounds what it buffers and reports a stream
/// without a complete envelope within that bound.
pub fn next_document(buffer: &[u8]) -> Option<usize> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(buffer);
    let mut depth = 0usize;
    loop {
        match reader.read_event() {
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return usize::try_from(reader.buffer_position()).ok();
                }
            }
            Ok(Event::Empty(_)) if depth == 0 => {
                return usize::try_from(reader.buffer_position()).ok();
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// Reads one envelope of a GetStreamingEvents response (client side). A SOAP fault is
/// [`EwsProtoError::SoapFault`].
pub fn parse_streaming_message(
    input: &[u8],
    limits: &Limits,
) -> Result<StreamingMessage, EwsProtoError> {
    let parsed = parse_response(input, limits)?;
    let [message] = parsed.messages.as_slice() else {
        return Err(EwsProtoError::InvalidValue {
            context: "m:ResponseMessages".to_owned(),
            value: parsed.messages.len().to_string(),
            expected: "exactly one m:GetStreamingEventsResponseMessage".to_owned(),
            position: 0,
        });
    };
    let el = &message.element;
    let status = el
        .child(ns::MESSAGES, "ConnectionStatus")
        .map(|c| {
            c.text_trimmed()
                .parse::<ConnectionStatus>()
                .map_err(|_| EwsProtoError::InvalidValue {
                    context: dn(c),
                    value: echo(&c.text),
                    expected: "one of: OK, Closed".to_owned(),
                    position: c.position(),
                })
        })
        .transpose()?;
    if message.class == ResponseClass::Error || message.class == ResponseClass::Warning {
        let subscription_ids = el
            .child(ns::MESSAGES, "ErrorSubscriptionIds")
            .map(|ids| {
                ids.children
                    .iter()
                    .filter(|c| c.is(ns::MESSAGES, "SubscriptionId"))
                    .map(|c| c.text_trimmed().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        let mut error = ResponseError::new(&message.code, message.text.as_deref().unwrap_or(""));
        error.class = message.class;
        return Ok(StreamingMessage::Error {
            error,
            subscription_ids,
            status: status.unwrap_or(ConnectionStatus::Closed),
        });
    }
    if let Some(list) = el.child(ns::MESSAGES, "Notifications") {
        let mut out = Vec::new();
        for n in &list.children {
            if !n.is(ns::MESSAGES, "Notification") {
                return Err(EwsProtoError::UnexpectedElement {
                    parent: dn(list),
                    found: dn(n),
                    position: n.position(),
                });
            }
            let parsed = parse_notification_with(n, false)?;
            out.push(StreamingNotification {
                subscription_id: parsed.subscription_id,
                events: parsed
                    .events
                    .into_iter()
                    .filter_map(|e| match e {
                        NotificationEvent::Object(o) => Some(o),
                        NotificationEvent::Status { .. } => None,
                    })
                    .collect(),
            });
        }
        return Ok(StreamingMessage::Notifications(out));
    }
    status
        .map(StreamingMessage::Status)
        .ok_or_else(|| missing(el, "ConnectionStatus"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notification::{EventTarget, ObjectEventKind};
    use crate::types::{FolderId, ItemRef};

    fn event() -> ObjectEvent {
        ObjectEvent {
            kind: ObjectEventKind::Created,
            watermark: String::new(),
            time_stamp: time::macros::datetime!(2024-05-01 10:00:00 UTC),
            target: EventTarget::Item(ItemRef {
                id: "I-1".into(),
                change_key: None,
            }),
            parent_folder_id: FolderId {
                id: "F-inbox".into(),
                change_key: None,
            },
            old_target: None,
            old_parent_folder_id: None,
            unread_count: None,
        }
    }

    #[test]
    fn every_message_reads_back() {
        let messages = [
            StreamingMessage::Notifications(vec![StreamingNotification {
                subscription_id: "S1".into(),
                events: vec![event()],
            }]),
            StreamingMessage::Status(ConnectionStatus::Ok),
            StreamingMessage::Status(ConnectionStatus::Closed),
            StreamingMessage::Error {
                error: ResponseError::new("ErrorSubscriptionNotFound", "gone"),
                subscription_ids: vec!["S1".into(), "S2".into()],
                status: ConnectionStatus::Closed,
            },
        ];
        for m in messages {
            let bytes = write_streaming_message(&m);
            assert!(bytes.starts_with(b"<s:Envelope"), "no XML declaration");
            assert_eq!(
                parse_streaming_message(&bytes, &Limits::default()).unwrap(),
                m
            );
        }
    }

    #[test]
    fn notifications_carry_no_watermark_and_no_connection_status() {
        let bytes = write_streaming_message(&StreamingMessage::Notifications(vec![
            StreamingNotification {
                subscription_id: "S1".into(),
                events: vec![event()],
            },
        ]));
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("Watermark"), "{text}");
        assert!(!text.contains("ConnectionStatus"), "{text}");
        assert!(
            text.contains("<t:CreatedEvent><t:TimeStamp>2024-05-01T10:00:00Z</t:TimeStamp>"),
            "{text}"
        );
    }

    #[test]
    fn documents_are_cut_from_a_stream_only_when_complete() {
        let a = write_streaming_message(&StreamingMessage::Status(ConnectionStatus::Ok));
        let b = write_streaming_message(&StreamingMessage::Status(ConnectionStatus::Closed));
        let mut stream = a.clone();
        stream.extend_from_slice(&b);
        assert_eq!(next_document(&stream), Some(a.len()));
        assert_eq!(next_document(&stream[a.len()..]), Some(b.len()));
        for cut in [0, 1, 10, a.len() - 1] {
            assert_eq!(next_document(&a[..cut]), None, "cut at {cut}");
        }
        assert_eq!(
            next_document(b"<?xml version=\"1.0\"?>\n<a/>rest"),
            Some(26)
        );
        assert_eq!(next_document(b"</a>"), None);
    }
}
