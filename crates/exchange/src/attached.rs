//! Item attachments (EWS `t:ItemAttachment`, MS-OXWSATT): an item held inside another, such as a
//! message forwarded as an attachment.
//!
//! The store keeps an attached item as an attachment whose content is the item's FastTransfer
//! `messageContent` ([`crate::fxstream`]): what Exchange keeps behind `PidTagAttachDataObject`,
//! and what ExportItems writes between `StartEmbed` and `EndEmbed`. So the item keeps every
//! property the store models (recipients, body, meeting, contact and task parts, extended
//! properties, its own file and item attachments); an export carries it and an upload reads it
//! back. Attached items nest at most [`crate::fxstream::MAX_EMBED_DEPTH`] deep, counted from the
//! item that holds them (`ErrorAttachmentNestLevelLimitExceeded` past it, as Exchange answers).

use ews_proto::request::{NewAttachment, NewItemAttachment};
use ews_proto::response::{AttachmentView, ItemView, ResponseError};
use time::OffsetDateTime;

use crate::fxstream::{self, FxError};

/// A request's attachment as the store keeps it; `now` is when it is added (what an attached
/// item's times default to), `me` the acting mailbox (an attached meeting's organizer).
pub(crate) fn stored_of(
    a: NewAttachment,
    now: OffsetDateTime,
    me: &dyn Fn() -> mailbox::Recipient,
) -> Result<mailbox::NewAttachment, ResponseError> {
    match a {
        NewAttachment::File(f) => {
            let Some(content) = f.content else {
                return Err(ResponseError::new(
                    "ErrorRequiredPropertyMissing",
                    "A file attachment needs its content: t:FileAttachment has no t:Content.",
                ));
            };
            Ok(mailbox::NewAttachment {
                name: f.name,
                content_type: f.content_type,
                content_id: f.content_id,
                is_inline: f.is_inline.unwrap_or(false),
                is_contact_photo: f.is_contact_photo.unwrap_or(false),
                is_item: false,
                content,
            })
        }
        NewAttachment::Item(i) => encode(i, now, me),
        NewAttachment::Carried(c) => Ok(mailbox::NewAttachment {
            name: c.name,
            content_type: c.content_type,
            content_id: c.content_id,
            is_inline: c.is_inline,
            is_contact_photo: false,
            is_item: true,
            content: c.stored,
        }),
    }
}

/// A stored attachment as a forward carries it on: a file attachment's bytes, an item
/// attachment's stored item.
pub(crate) fn carried(a: mailbox::Attachment) -> NewAttachment {
    if a.info.is_item {
        NewAttachment::Carried(ews_proto::request::CarriedItemAttachment {
            name: a.info.name,
            content_type: a.info.content_type,
            content_id: a.info.content_id,
            is_inline: a.info.is_inline,
            stored: a.content,
        })
    } else {
        NewAttachment::File(ews_proto::request::NewFileAttachment {
            name: a.info.name,
            content_type: a.info.content_type,
            content_id: a.info.content_id,
            is_inline: Some(a.info.is_inline),
            is_contact_photo: None,
            content: Some(a.content),
        })
    }
}

/// A `t:ItemAttachment` as the store keeps it: its item read as CreateItem reads one (its own
/// attachments included), then written as its `messageContent`. Named by the item's subject
/// when the request gives no name, as Exchange does.
fn encode(
    a: NewItemAttachment,
    now: OffsetDateTime,
    me: &dyn Fn() -> mailbox::Recipient,
) -> Result<mailbox::NewAttachment, ResponseError> {
    let Some(item) = a.item else {
        return Err(ResponseError::new(
            "ErrorRequiredPropertyMissing",
            "An item attachment needs its item: t:ItemAttachment has no t:Message, t:CalendarItem, t:Contact, t:Task or t:DistributionList.",
        ));
    };
    let new = crate::ews::to_new_item(*item, now, me)?;
    let mut stored = of_new(new, now).map_err(|e| match e {
        FxError::TooLarge { .. } => ResponseError::new(
            "ErrorAttachmentNestLevelLimitExceeded",
            &format!(
                "Attached items nest at most {} deep; this one holds more levels.",
                fxstream::MAX_EMBED_DEPTH
            ),
        ),
        e => ResponseError::new("ErrorInvalidOperation", &e.to_string()),
    })?;
    stored.name = a.name.or(stored.name);
    stored.content_type = a.content_type;
    stored.content_id = a.content_id;
    stored.is_inline = a.is_inline.unwrap_or(false);
    Ok(stored)
}

/// A new item as an item attachment, named by its subject; refused when what it holds nests
/// deeper than attached items may (counted as it will be inside its item's stream). `now`: when
/// it is attached (its received time; its created time unless it has one).
pub(crate) fn of_new(
    new: mailbox::NewItem,
    now: OffsetDateTime,
) -> Result<mailbox::NewAttachment, FxError> {
    let (view, attachments) = view_of_new(new, now);
    of_stored(&view, &attachments)
}

/// A stored item attached whole to a new one (a rule's forward as an attachment), its own
/// attachments (`attachments`, with their content) inside it; named by its subject. Refused when
/// the item already holds attached items as deep as they nest.
pub(crate) fn of_stored(
    item: &mailbox::Item,
    attachments: &[mailbox::Attachment],
) -> Result<mailbox::NewAttachment, FxError> {
    let stream = fxstream::write_message(&fxstream::message_of_item(item, attachments));
    fxstream::read_embedded(&stream)?;
    Ok(mailbox::NewAttachment {
        name: item.subject.clone(),
        content_type: None,
        content_id: None,
        is_inline: false,
        is_contact_photo: false,
        is_item: true,
        content: stream,
    })
}

/// The attached item of a stored item attachment, as GetAttachment shows it: no id of its own;
/// its attachments without ids, so each comes whole (a file's content, an attached item's
/// item): there is no id to fetch it by.
/// `mime_domain`: write its MIME content too (what names its Message-ID's domain).
pub(crate) fn decode(stored: &[u8], mime_domain: Option<&str>) -> Result<ItemView, ResponseError> {
    let corrupt = |e: FxError| {
        tracing::error!(error = %e, "an item attachment's stored item does not read back");
        ResponseError::new(
            "ErrorCorruptData",
            "The attached item cannot be read; the attachment's stored data is damaged.",
        )
    };
    let (item, attachments) = stored_item(stored).map_err(corrupt)?;
    let mime = mime_domain.map(|domain| {
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            crate::mime::write(&item, &attachments, domain),
        )
    });
    let mut v = crate::ews::item_view(item);
    v.mime_content = mime;
    v.id = String::new();
    v.change_key = None;
    v.parent_folder_id = None;
    v.attachments = attachments
        .into_iter()
        .map(|a| {
            let is_item = a.info.is_item;
            let mut view = crate::ews::attachment_view(a.info);
            view.id = String::new();
            if is_item {
                view.item = Some(Box::new(decode(&a.content, mime_domain)?));
            } else {
                view.content = Some(a.content);
            }
            Ok::<AttachmentView, ResponseError>(view)
        })
        .collect::<Result<_, _>>()?;
    Ok(v)
}

/// The attached item of a stored item attachment as the store's item model has it, with its own
/// attachments' content.
pub(crate) fn stored_item(
    stored: &[u8],
) -> Result<(mailbox::Item, Vec<mailbox::Attachment>), FxError> {
    let decoded = fxstream::decode_attached(stored)?;
    let received = decoded
        .received
        .or(decoded.item.date_time_created)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    Ok(view_of_new(decoded.item, received))
}

/// A new item as the store would show it once stored (no id, no folder), with its attachments'
/// content: what [`fxstream::message_of_item`] and the EWS item writer read.
fn view_of_new(
    n: mailbox::NewItem,
    now: OffsetDateTime,
) -> (mailbox::Item, Vec<mailbox::Attachment>) {
    let attachments: Vec<mailbox::Attachment> = n
        .attachments
        .into_iter()
        .map(|a| mailbox::Attachment {
            info: a.info(String::new(), now),
            content: a.content,
        })
        .collect();
    let text_bytes = n.subject.as_ref().map_or(0, String::len)
        + n.body.as_ref().map_or(0, |b| b.content.len())
        + n.extended.iter().map(|(_, v)| v.len()).sum::<usize>();
    let attachment_bytes: usize = attachments.iter().map(|a| a.content.len()).sum();
    let created = n.date_time_created.unwrap_or(now);
    let item = mailbox::Item {
        id: String::new(),
        change_key: String::new(),
        folder_id: String::new(),
        is_associated: n.is_associated,
        item_class: n.item_class,
        subject: n.subject,
        body: n.body,
        from: n.from,
        sender: n.sender,
        to: n.to,
        cc: n.cc,
        bcc: n.bcc,
        importance: n.importance,
        sensitivity: n.sensitivity,
        categories: n.categories,
        is_read: n.is_read,
        internet_message_id: n.internet_message_id,
        date_time_sent: n.date_time_sent,
        date_time_created: created,
        date_time_received: now,
        last_modified_time: now,
        calendar: n.calendar,
        extended: {
            let mut e = n.extended;
            e.sort();
            e
        },
        size: (text_bytes + attachment_bytes) as u64,
        has_attachments: attachments.iter().any(|a| !a.info.is_inline),
        has_contact_photo: n.contact.is_some()
            && attachments.iter().any(|a| a.info.is_contact_photo),
        attachments: attachments.iter().map(|a| a.info.clone()).collect(),
        user_configuration: None,
        is_draft: n.is_draft,
        meeting: n.meeting,
        contact: n.contact,
        task: n.task,
    };
    (item, attachments)
}
