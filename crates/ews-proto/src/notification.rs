//! Event notifications: the `m:Notification` payload shared by GetEvents
//! and push notifications, the push `SendNotification` request (Exchange →
//! subscriber) and the subscriber's `SendNotificationResult` reply, each
//! with a writer and a parser.

use time::OffsetDateTime;

use crate::error::{EwsProtoError, dn, echo, missing};
use crate::ns;
use crate::request::{body_child, split_envelope};
use crate::types::{
    FolderId, ItemRef, format_xs_datetime, parse_xs_boolean, parse_xs_datetime, str_enum,
};
use crate::writer::{XmlOut, envelope};
use crate::xml::{self, Element, Limits};

str_enum! {
    /// Kinds of object events (`t:CreatedEvent`, ...).
    pub enum ObjectEventKind ("event element") {
        Copied = "CopiedEvent",
        Created = "CreatedEvent",
        Deleted = "DeletedEvent",
        Modified = "ModifiedEvent",
        Moved = "MovedEvent",
        NewMail = "NewMailEvent",
        FreeBusyChanged = "FreeBusyChangedEvent",
    }
}

str_enum! {
    /// `m:SubscriptionStatus` of a `SendNotificationResult`.
    pub enum SubscriptionStatus ("SubscriptionStatus") {
        Ok = "OK",
        Unsubscribe = "Unsubscribe",
    }
}

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventTarget {
    Item(ItemRef),
    Folder(FolderId),
}

/// An event about an item or folder (`BaseObjectChangedEventType` and its
/// Moved/Copied and Modified extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectEvent {
    pub kind: ObjectEventKind,
    pub watermark: String,
    pub time_stamp: OffsetDateTime,
    pub target: EventTarget,
    pub parent_folder_id: FolderId,
    /// Moved/Copied: where the object was before.
    pub old_target: Option<EventTarget>,
    pub old_parent_folder_id: Option<FolderId>,
    /// Modified (folders): the new unread count.
    pub unread_count: Option<u32>,
}

/// One event in a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "short-lived values; boxing would only complicate matching"
)]
pub enum NotificationEvent {
    /// `t:StatusEvent` (keep-alive).
    Status {
        watermark: String,
    },
    Object(ObjectEvent),
}

/// `m:Notification`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub subscription_id: String,
    pub previous_watermark: Option<String>,
    pub more_events: bool,
    pub events: Vec<NotificationEvent>,
}

fn write_id(w: &mut XmlOut, name: &str, id: &str, change_key: Option<&str>) {
    match change_key {
        Some(ck) => w.empty(name, &[("Id", id), ("ChangeKey", ck)]),
        None => w.empty(name, &[("Id", id)]),
    }
}

fn write_target(w: &mut XmlOut, target: &EventTarget, old: bool) {
    match (target, old) {
        (EventTarget::Item(i), false) => write_id(w, "t:ItemId", &i.id, i.change_key.as_deref()),
        (EventTarget::Item(i), true) => write_id(w, "t:OldItemId", &i.id, i.change_key.as_deref()),
        (EventTarget::Folder(f), false) => {
            write_id(w, "t:FolderId", &f.id, f.change_key.as_deref())
        }
        (EventTarget::Folder(f), true) => {
            write_id(w, "t:OldFolderId", &f.id, f.change_key.as_deref())
        }
    }
}

/// Writes `m:Notification` (used by GetEvents and SendNotification).
pub(crate) fn write_notification(w: &mut XmlOut, n: &Notification) {
    w.start("m:Notification", &[]);
    w.leaf("t:SubscriptionId", &n.subscription_id);
    if let Some(p) = &n.previous_watermark {
        w.leaf("t:PreviousWatermark", p);
    }
    w.leaf("t:MoreEvents", if n.more_events { "true" } else { "false" });
    for event in &n.events {
        match event {
            NotificationEvent::Status { watermark } => {
                w.start("t:StatusEvent", &[]);
                w.leaf("t:Watermark", watermark);
                w.end("t:StatusEvent");
            }
            NotificationEvent::Object(e) => write_object_event(w, e, true),
        }
    }
    w.end("m:Notification");
}

/// Writes the `m:Notification` of a streaming subscription: the subscription id and its events,
/// without watermarks (no `t:PreviousWatermark`, `t:MoreEvents` or event `t:Watermark`: a
/// streaming subscription has none, and the EWS Managed API reads `t:TimeStamp` as an event's
/// first child).
pub(crate) fn write_streaming_notification(
    w: &mut XmlOut,
    subscription_id: &str,
    events: &[ObjectEvent],
) {
    w.start("m:Notification", &[]);
    w.leaf("t:SubscriptionId", subscription_id);
    for e in events {
        write_object_event(w, e, false);
    }
    w.end("m:Notification");
}

/// One object event (`t:CreatedEvent`, ...), its `t:Watermark` first when `with_watermark`.
fn write_object_event(w: &mut XmlOut, e: &ObjectEvent, with_watermark: bool) {
    let name = format!("t:{}", e.kind.as_str());
    w.start(&name, &[]);
    if with_watermark {
        w.leaf("t:Watermark", &e.watermark);
    }
    w.leaf("t:TimeStamp", &format_xs_datetime(e.time_stamp));
    write_target(w, &e.target, false);
    write_id(
        w,
        "t:ParentFolderId",
        &e.parent_folder_id.id,
        e.parent_folder_id.change_key.as_deref(),
    );
    if let Some(old) = &e.old_target {
        write_target(w, old, true);
    }
    if let Some(p) = &e.old_parent_folder_id {
        write_id(w, "t:OldParentFolderId", &p.id, p.change_key.as_deref());
    }
    if let Some(u) = e.unread_count {
        w.leaf("t:UnreadCount", &u.to_string());
    }
    w.end(&name);
}

/// The push notification request Exchange POSTs to a subscriber's URL:
/// `m:SendNotification/m:ResponseMessages/m:SendNotificationResponseMessage`
/// (one per notification) `/m:Notification`.
pub fn write_send_notification(notifications: &[Notification]) -> Vec<u8> {
    envelope(
        |w| {
            w.empty(
                "t:RequestServerVersion",
                &[("xmlns:t", ns::TYPES), ("Version", "Exchange2016")],
            )
        },
        |w| {
            w.start(
                "m:SendNotification",
                &[("xmlns:m", ns::MESSAGES), ("xmlns:t", ns::TYPES)],
            );
            w.start("m:ResponseMessages", &[]);
            for n in notifications {
                w.start(
                    "m:SendNotificationResponseMessage",
                    &[("ResponseClass", "Success")],
                );
                w.leaf("m:ResponseCode", "NoError");
                write_notification(w, n);
                w.end("m:SendNotificationResponseMessage");
            }
            w.end("m:ResponseMessages");
            w.end("m:SendNotification");
        },
    )
}

/// The subscriber's reply to a push notification.
pub fn write_send_notification_result(status: SubscriptionStatus) -> Vec<u8> {
    let mut w = XmlOut::new();
    w.declaration();
    w.start("s:Envelope", &[("xmlns:s", ns::SOAP)]);
    w.start("s:Body", &[]);
    w.start("m:SendNotificationResult", &[("xmlns:m", ns::MESSAGES)]);
    w.leaf("m:SubscriptionStatus", status.as_str());
    w.end("m:SendNotificationResult");
    w.end("s:Body");
    w.end("s:Envelope");
    w.finish()
}

fn text_of(el: &Element, local: &'static str) -> Result<String, EwsProtoError> {
    el.child(ns::TYPES, local)
        .map(|c| c.text_trimmed().to_owned())
        .ok_or_else(|| missing(el, local))
}

fn id_of(el: &Element) -> Result<(String, Option<String>), EwsProtoError> {
    let id = el
        .attr("Id")
        .ok_or_else(|| EwsProtoError::MissingAttribute {
            element: dn(el),
            name: "Id",
            position: el.position(),
        })?;
    if id.is_empty() {
        return Err(EwsProtoError::EmptyId {
            element: dn(el),
            position: el.position(),
        });
    }
    Ok((id.to_owned(), el.attr("ChangeKey").map(str::to_owned)))
}

fn folder_id(el: &Element) -> Result<FolderId, EwsProtoError> {
    let (id, change_key) = id_of(el)?;
    Ok(FolderId { id, change_key })
}

fn target(
    el: &Element,
    item: &'static str,
    folder: &'static str,
) -> Result<Option<EventTarget>, EwsProtoError> {
    if let Some(i) = el.child(ns::TYPES, item) {
        let (id, change_key) = id_of(i)?;
        return Ok(Some(EventTarget::Item(ItemRef { id, change_key })));
    }
    if let Some(f) = el.child(ns::TYPES, folder) {
        return Ok(Some(EventTarget::Folder(folder_id(f)?)));
    }
    Ok(None)
}

/// Parses an `m:Notification` element.
pub(crate) fn parse_notification(n: &Element) -> Result<Notification, EwsProtoError> {
    parse_notification_with(n, true)
}

/// Parses an `m:Notification` element; `watermarks`: whether each event must carry
/// `t:Watermark` (a streaming subscription's events have none: their watermark reads as empty).
pub(crate) fn parse_notification_with(
    n: &Element,
    watermarks: bool,
) -> Result<Notification, EwsProtoError> {
    let subscription_id = text_of(n, "SubscriptionId")?;
    let previous_watermark = n
        .child(ns::TYPES, "PreviousWatermark")
        .map(|c| c.text_trimmed().to_owned());
    let more_events = match n.child(ns::TYPES, "MoreEvents") {
        None => false,
        Some(c) => parse_xs_boolean(&c.text).ok_or_else(|| EwsProtoError::InvalidValue {
            context: dn(c),
            value: echo(&c.text),
            expected: "an xs:boolean".to_owned(),
            position: c.position(),
        })?,
    };
    let mut events = Vec::new();
    for child in &n.children {
        if &*child.ns != ns::TYPES {
            return Err(EwsProtoError::UnexpectedElement {
                parent: dn(n),
                found: dn(child),
                position: child.position(),
            });
        }
        match child.local.as_str() {
            "SubscriptionId" | "PreviousWatermark" | "MoreEvents" => {}
            "StatusEvent" => events.push(NotificationEvent::Status {
                watermark: text_of(child, "Watermark")?,
            }),
            other => {
                let kind: ObjectEventKind =
                    other
                        .parse()
                        .map_err(|_| EwsProtoError::UnexpectedElement {
                            parent: dn(n),
                            found: dn(child),
                            position: child.position(),
                        })?;
                let stamp = text_of(child, "TimeStamp")?;
                let time_stamp =
                    parse_xs_datetime(&stamp).ok_or_else(|| EwsProtoError::InvalidDateTime {
                        context: "t:TimeStamp".to_owned(),
                        value: echo(&stamp),
                        position: child.position(),
                    })?;
                let parent = child
                    .child(ns::TYPES, "ParentFolderId")
                    .ok_or_else(|| missing(child, "ParentFolderId"))?;
                let unread_count = child
                    .child(ns::TYPES, "UnreadCount")
                    .map(|c| {
                        c.text_trimmed()
                            .parse()
                            .map_err(|_| EwsProtoError::InvalidValue {
                                context: dn(c),
                                value: echo(&c.text),
                                expected: "a non-negative integer".to_owned(),
                                position: c.position(),
                            })
                    })
                    .transpose()?;
                let watermark = match child.child(ns::TYPES, "Watermark") {
                    Some(c) => c.text_trimmed().to_owned(),
                    None if !watermarks => String::new(),
                    None => return Err(missing(child, "Watermark")),
                };
                events.push(NotificationEvent::Object(ObjectEvent {
                    kind,
                    watermark,
                    time_stamp,
                    target: target(child, "ItemId", "FolderId")?
                        .ok_or_else(|| missing(child, "ItemId"))?,
                    parent_folder_id: folder_id(parent)?,
                    old_target: target(child, "OldItemId", "OldFolderId")?,
                    old_parent_folder_id: child
                        .child(ns::TYPES, "OldParentFolderId")
                        .map(folder_id)
                        .transpose()?,
                    unread_count,
                }));
            }
        }
    }
    Ok(Notification {
        subscription_id,
        previous_watermark,
        more_events,
        events,
    })
}

/// Parses a push notification request (subscriber side). Returns one
/// notification per `m:SendNotificationResponseMessage`; messages whose
/// class is not `Success` are skipped.
pub fn parse_send_notification(
    input: &[u8],
    limits: &Limits,
) -> Result<Vec<Notification>, EwsProtoError> {
    let root = xml::parse(input, limits)?;
    let (_, body) = split_envelope(&root)?;
    let op = body_child(body)?;
    if !op.is(ns::MESSAGES, "SendNotification") {
        return Err(EwsProtoError::UnexpectedElement {
            parent: "soap:Body".to_owned(),
            found: dn(op),
            position: op.position(),
        });
    }
    let messages = op
        .child(ns::MESSAGES, "ResponseMessages")
        .ok_or_else(|| missing(op, "ResponseMessages"))?;
    let mut out = Vec::new();
    for m in &messages.children {
        if !m.is(ns::MESSAGES, "SendNotificationResponseMessage") {
            return Err(EwsProtoError::UnexpectedElement {
                parent: dn(messages),
                found: dn(m),
                position: m.position(),
            });
        }
        if m.attr("ResponseClass") != Some("Success") {
            continue;
        }
        let n = m
            .child(ns::MESSAGES, "Notification")
            .ok_or_else(|| missing(m, "Notification"))?;
        out.push(parse_notification(n)?);
    }
    Ok(out)
}

/// Parses the subscriber's `SendNotificationResult` (Exchange side).
pub fn parse_send_notification_result(
    input: &[u8],
    limits: &Limits,
) -> Result<SubscriptionStatus, EwsProtoError> {
    let root = xml::parse(input, limits)?;
    let (_, body) = split_envelope(&root)?;
    let op = body_child(body)?;
    if !op.is(ns::MESSAGES, "SendNotificationResult") {
        return Err(EwsProtoError::UnexpectedElement {
            parent: "soap:Body".to_owned(),
            found: dn(op),
            position: op.position(),
        });
    }
    let status = op
        .child(ns::MESSAGES, "SubscriptionStatus")
        .ok_or_else(|| missing(op, "SubscriptionStatus"))?;
    status
        .text_trimmed()
        .parse()
        .map_err(|_| EwsProtoError::InvalidValue {
            context: dn(status),
            value: echo(&status.text),
            expected: "one of: OK, Unsubscribe".to_owned(),
            position: status.position(),
        })
}
