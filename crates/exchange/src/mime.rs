//! An item as an Internet message (EWS `t:MimeContent`): written from the stored item when
//! GetItem's shape asks for it (`IncludeMimeContent`, or `item:MimeContent`), and read into an
//! item's properties when CreateItem or UpdateItem sets it (importing an `.eml`, or a draft's
//! content set anew). Writing and parsing RFC 5322 and MIME is `mail-builder`'s and
//! `mail-parser`'s work; this module maps between their messages and the store's items.
//!
//! What is written: From (else Sender), To, Cc, Bcc (only the owner's own copy of a message has
//! one), Subject, Date (sent, else created), Message-ID, Importance when not normal, the body
//! (text or HTML, as stored), each file attachment (inline ones with their Content-ID) and each
//! attached item (a `message/rfc822` part).
//! What is read: the same headers, the first HTML body (else the first text body), every
//! attached message as an item attachment and every other leaf part as a file attachment.

use ews_proto::response::ResponseError;
use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address as OutAddress;
use mail_builder::headers::raw::Raw;
use mail_parser::{Address, MessageParser, MimeHeaders};
use time::OffsetDateTime;

/// The properties of an item that a MIME message carries.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub subject: Option<String>,
    pub body: Option<mailbox::Body>,
    pub from: Option<mailbox::Recipient>,
    pub to: Vec<mailbox::Recipient>,
    pub cc: Vec<mailbox::Recipient>,
    pub bcc: Vec<mailbox::Recipient>,
    pub date: Option<OffsetDateTime>,
    pub message_id: Option<String>,
    /// `In-Reply-To` and `References`: Message-IDs in angle brackets, space-separated.
    pub in_reply_to: Option<String>,
    pub references: Option<String>,
    pub importance: Option<mailbox::Importance>,
    pub attachments: Vec<mailbox::NewAttachment>,
}

fn invalid(why: &str) -> ResponseError {
    ResponseError::new(
        "ErrorMimeContentInvalid",
        &format!("The MIME content is invalid: {why}. Send an RFC 5322 message, base64-encoded."),
    )
}

/// The recipients an address header lists (groups flattened; entries without an address are
/// skipped, as they name no one to deliver to).
fn recipients(a: Option<&Address<'_>>) -> Vec<mailbox::Recipient> {
    a.map(|a| {
        a.iter()
            .filter_map(|addr| {
                let email = addr.address()?.trim();
                (!email.is_empty()).then(|| mailbox::Recipient {
                    name: addr
                        .name()
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned),
                    email: email.to_owned(),
                })
            })
            .collect()
    })
    .unwrap_or_default()
}

/// The Message-IDs a header lists, each in angle brackets, space-separated.
fn message_ids(v: &mail_parser::HeaderValue<'_>) -> Option<String> {
    let ids: Vec<String> = v
        .as_text_list()?
        .iter()
        .map(|id| id.trim())
        .filter(|id| !id.is_empty())
        .map(|id| format!("<{id}>"))
        .collect();
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// A header value as a client gave it, on one line: control characters (a CR or LF would start
/// a header of its own) become spaces.
fn one_line(v: &str) -> String {
    v.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Reads a message (`t:MimeContent`, decoded) into the properties it sets.
pub(crate) fn read(bytes: &[u8]) -> Result<Parsed, ResponseError> {
    if bytes.is_empty() {
        return Err(invalid("it is empty"));
    }
    let msg = MessageParser::default()
        .parse(bytes)
        .ok_or_else(|| invalid("it could not be parsed as a message"))?;
    read_at(&msg, 0)
}

/// [`read`] of a parsed message `depth` attached messages down: an attached message (a
/// `message/rfc822` part, which mail-parser has parsed with its parent) becomes an item
/// attachment while attached items may nest that deep ([`crate::fxstream::MAX_EMBED_DEPTH`]);
/// deeper, or one that is no message this server can keep, stays a file (`<subject>.eml`).
fn read_at(msg: &mail_parser::Message<'_>, depth: usize) -> Result<Parsed, ResponseError> {
    if msg.headers().is_empty() {
        return Err(invalid("it has no header lines"));
    }
    let mut p = Parsed {
        subject: msg.subject().map(str::to_owned),
        from: recipients(msg.from()).into_iter().next(),
        to: recipients(msg.to()),
        cc: recipients(msg.cc()),
        bcc: recipients(msg.bcc()),
        date: msg
            .date()
            .and_then(|d| OffsetDateTime::from_unix_timestamp(d.to_timestamp()).ok()),
        message_id: msg.message_id().map(|id| format!("<{id}>")),
        in_reply_to: message_ids(msg.in_reply_to()),
        references: message_ids(msg.references()),
        ..Parsed::default()
    };
    p.importance = importance_of(msg);
    // the first HTML body; else the first text body (mail-parser lists a text part among the
    // HTML bodies when the message has no HTML alternative)
    let html = msg.html_part(0).filter(|part| part.is_text_html());
    p.body = match (html, msg.text_part(0)) {
        (Some(part), _) => part.text_contents().map(|t| mailbox::Body {
            body_type: mailbox::BodyType::Html,
            content: t.to_owned(),
        }),
        (None, Some(part)) => part.text_contents().map(|t| mailbox::Body {
            body_type: mailbox::BodyType::Text,
            content: t.to_owned(),
        }),
        (None, None) => None,
    };
    for part in msg.attachments() {
        let content_type = part.content_type().map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_owned(),
        });
        if let Some(attached) = part.message()
            && depth < crate::fxstream::MAX_EMBED_DEPTH
            && let Ok(inner) = read_at(attached, depth + 1)
            && let Ok(mut a) = {
                // attached when the message says it was written (it has no other time)
                let at = inner.date.or(p.date).unwrap_or(OffsetDateTime::UNIX_EPOCH);
                crate::attached::of_new(inner.into_new_item(), at)
            }
        {
            a.name = part.attachment_name().map(str::to_owned).or(a.name);
            a.is_inline = part.content_disposition().is_some_and(|d| d.is_inline())
                && part.content_id().is_some();
            a.content_id = part.content_id().map(str::to_owned);
            p.attachments.push(a);
            continue;
        }
        let name = part.attachment_name().map(str::to_owned).or_else(|| {
            // a forwarded message has no file name of its own: its subject names it
            part.message()
                .map(|m| format!("{}.eml", m.subject().unwrap_or("message")))
        });
        p.attachments.push(mailbox::NewAttachment {
            name,
            content_type,
            content_id: part.content_id().map(str::to_owned),
            is_inline: part.content_disposition().is_some_and(|d| d.is_inline())
                && part.content_id().is_some(),
            is_contact_photo: false,
            is_item: false,
            content: part.contents().to_vec(),
        });
    }
    Ok(p)
}

impl Parsed {
    /// The message as an item of its own (an attached message): read, sent when its Date says.
    fn into_new_item(self) -> mailbox::NewItem {
        let mut extended = Vec::new();
        for (key, v) in [
            (crate::ews::IN_REPLY_TO_KEY, self.in_reply_to),
            (crate::ews::REFERENCES_KEY, self.references),
        ] {
            if let Some(v) = v {
                extended.push((key.to_owned(), v));
            }
        }
        mailbox::NewItem {
            subject: self.subject,
            body: self.body,
            from: self.from,
            to: self.to,
            cc: self.cc,
            bcc: self.bcc,
            importance: self.importance.unwrap_or(mailbox::Importance::Normal),
            is_read: true,
            internet_message_id: self.message_id,
            date_time_sent: self.date,
            date_time_created: self.date,
            extended,
            attachments: self.attachments,
            ..mailbox::NewItem::default()
        }
    }
}

fn importance_of(msg: &mail_parser::Message<'_>) -> Option<mailbox::Importance> {
    let text = |name: &str| {
        msg.header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
            .filter(|v| !v.is_empty())
    };
    if let Some(v) = text("Importance") {
        return match v.as_str() {
            "high" => Some(mailbox::Importance::High),
            "low" => Some(mailbox::Importance::Low),
            _ => Some(mailbox::Importance::Normal),
        };
    }
    // X-Priority: 1 (highest) to 5 (lowest), often followed by a comment
    match text("X-Priority")?.bytes().next()? {
        b'1' | b'2' => Some(mailbox::Importance::High),
        b'4' | b'5' => Some(mailbox::Importance::Low),
        _ => Some(mailbox::Importance::Normal),
    }
}

fn address(r: &mailbox::Recipient) -> OutAddress<'_> {
    OutAddress::new_address(r.name.as_deref(), r.email.as_str())
}

fn address_list(list: &[mailbox::Recipient]) -> OutAddress<'_> {
    OutAddress::new_list(list.iter().map(address).collect())
}

/// Writes a stored item (its body loaded) with the content of its file attachments as a
/// message, each attached item a `message/rfc822` part. `attachments` are the item's, in its order; `domain` names the Message-ID of an item
/// without an InternetMessageId (a draft), made of its id so that it is the same every time.
pub(crate) fn write(
    item: &mailbox::Item,
    attachments: &[mailbox::Attachment],
    domain: &str,
) -> Vec<u8> {
    let mut b = MessageBuilder::new();
    if let Some(from) = item.from.as_ref().or(item.sender.as_ref()) {
        b = b.from(address(from));
    }
    if let Some(sender) = &item.sender
        && item.from.as_ref().is_some_and(|f| f != sender)
    {
        b = b.sender(address(sender));
    }
    if !item.to.is_empty() {
        b = b.to(address_list(&item.to));
    }
    if !item.cc.is_empty() {
        b = b.cc(address_list(&item.cc));
    }
    if !item.bcc.is_empty() {
        b = b.bcc(address_list(&item.bcc));
    }
    b = b.subject(item.subject.as_deref().unwrap_or_default());
    let date = item.date_time_sent.unwrap_or(item.date_time_created);
    b = b.date(date.unix_timestamp());
    let stored = item
        .internet_message_id
        .as_deref()
        .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|id| !id.is_empty());
    // an attached item without one has no id to make one of: it goes without
    match stored {
        Some(id) => b = b.message_id(id.to_owned()),
        None if item.id.is_empty() => {}
        None => {
            b = b.message_id(format!(
                "{}@{}",
                item.id,
                if domain.is_empty() {
                    "localhost"
                } else {
                    domain
                }
            ))
        }
    }
    for (name, key) in [
        ("In-Reply-To", crate::ews::IN_REPLY_TO_KEY),
        ("References", crate::ews::REFERENCES_KEY),
    ] {
        if let Some(v) = crate::ews::extended_of(&item.extended, key).map(one_line)
            && !v.is_empty()
        {
            b = b.header(name, Raw::new(v));
        }
    }
    match item.importance {
        mailbox::Importance::High => b = b.header("Importance", Raw::new("high")),
        mailbox::Importance::Low => b = b.header("Importance", Raw::new("low")),
        mailbox::Importance::Normal => {}
    }
    match &item.body {
        Some(body) if body.body_type == mailbox::BodyType::Html => {
            b = b.html_body(body.content.as_str());
        }
        Some(body) => b = b.text_body(body.content.as_str()),
        None => b = b.text_body(""),
    }
    for a in attachments {
        if a.info.is_item {
            // an attached item: the message it is, as a message/rfc822 part
            match crate::attached::stored_item(&a.content) {
                Ok((inner, inner_attachments)) => {
                    let name = a.info.name.clone().unwrap_or_else(|| "message".to_owned());
                    b = b.attachment(
                        "message/rfc822",
                        format!("{name}.eml"),
                        write(&inner, &inner_attachments, domain),
                    );
                }
                Err(e) => {
                    tracing::error!(error = %e, "an item attachment's stored item does not read back; left out of the MIME content");
                }
            }
            continue;
        }
        let ct = a
            .info
            .content_type
            .clone()
            .filter(|c| c.contains('/'))
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        match (&a.info.content_id, a.info.is_inline) {
            (Some(cid), true) => b = b.inline(ct, cid.clone(), a.content.clone()),
            _ => {
                let name = a
                    .info
                    .name
                    .clone()
                    .unwrap_or_else(|| "attachment".to_owned());
                b = b.attachment(ct, name, a.content.clone());
            }
        }
    }
    // writing into a vector does not fail
    b.write_to_vec().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item() -> mailbox::Item {
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        mailbox::Item {
            id: "I1".into(),
            change_key: "C1".into(),
            folder_id: "F1".into(),
            is_associated: false,
            item_class: "IPM.Note".into(),
            subject: Some("Quarterly numbers — draft".into()),
            body: Some(mailbox::Body {
                body_type: mailbox::BodyType::Html,
                content: "<p>See <b>attached</b></p>".into(),
            }),
            from: Some(mailbox::Recipient::new(
                Some("Alice Wu"),
                "alice@contoso.example",
            )),
            sender: None,
            to: vec![mailbox::Recipient::new(Some("Bob"), "bob@contoso.example")],
            cc: vec![mailbox::Recipient::new(None, "carol@contoso.example")],
            bcc: vec![mailbox::Recipient::new(None, "dave@contoso.example")],
            importance: mailbox::Importance::High,
            sensitivity: mailbox::Sensitivity::Normal,
            categories: Vec::new(),
            is_read: true,
            internet_message_id: Some("<abc123@contoso.example>".into()),
            date_time_sent: None,
            date_time_created: t,
            date_time_received: t,
            last_modified_time: t,
            calendar: None,
            extended: Vec::new(),
            size: 0,
            has_attachments: true,
            attachments: Vec::new(),
            user_configuration: None,
            is_draft: true,
            meeting: None,
            contact: None,
            task: None,
            has_contact_photo: false,
        }
    }

    fn attachment(name: &str, cid: Option<&str>, content: &[u8]) -> mailbox::Attachment {
        mailbox::Attachment {
            info: mailbox::AttachmentInfo {
                id: format!("A-{name}"),
                name: Some(name.into()),
                content_type: Some("application/pdf".into()),
                content_id: cid.map(str::to_owned),
                is_inline: cid.is_some(),
                is_contact_photo: false,
                size: content.len() as u64,
                last_modified: OffsetDateTime::UNIX_EPOCH,
                is_item: false,
            },
            content: content.to_vec(),
        }
    }

    /// What is written reads back as the same properties.
    #[test]
    fn an_item_round_trips_through_mime() {
        let bytes = write(
            &item(),
            &[
                attachment("q3.pdf", None, b"%PDF-1.7 \x00\x01\x02 binary"),
                attachment("logo.pdf", Some("logo@contoso"), b"inline bytes"),
            ],
            "contoso.example",
        );
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("Message-ID: <abc123@contoso.example>"),
            "{text}"
        );
        assert!(text.contains("Importance: high"), "{text}");
        let p = read(&bytes).unwrap();
        assert_eq!(p.subject.as_deref(), Some("Quarterly numbers — draft"));
        assert_eq!(
            p.from,
            Some(mailbox::Recipient::new(
                Some("Alice Wu"),
                "alice@contoso.example"
            ))
        );
        assert_eq!(p.to, item().to);
        assert_eq!(p.cc, item().cc);
        assert_eq!(p.bcc, item().bcc);
        assert_eq!(p.message_id.as_deref(), Some("<abc123@contoso.example>"));
        assert_eq!(p.importance, Some(mailbox::Importance::High));
        assert_eq!(p.date.map(|d| d.unix_timestamp()), Some(1_800_000_000));
        let body = p.body.unwrap();
        assert_eq!(body.body_type, mailbox::BodyType::Html);
        assert_eq!(body.content, "<p>See <b>attached</b></p>");
        assert_eq!(p.attachments.len(), 2);
        assert_eq!(p.attachments[0].name.as_deref(), Some("q3.pdf"));
        assert_eq!(p.attachments[0].content, b"%PDF-1.7 \x00\x01\x02 binary");
        assert_eq!(
            p.attachments[0].content_type.as_deref(),
            Some("application/pdf")
        );
        assert!(!p.attachments[0].is_inline);
        assert_eq!(p.attachments[1].content_id.as_deref(), Some("logo@contoso"));
        assert!(p.attachments[1].is_inline);
    }

    /// A plain message as a mail client writes it: a text body, encoded headers, X-Priority.
    #[test]
    fn reads_a_plain_text_message() {
        let eml = b"From: =?utf-8?q?J=C3=BCrgen?= <j@fabrikam.example>\r\n\
To: alice@contoso.example, \"Bob\" <bob@contoso.example>\r\n\
Subject: =?utf-8?b?R3LDvMOfZQ==?=\r\n\
Date: Tue, 1 Dec 2026 10:00:00 +0100\r\n\
X-Priority: 5 (Lowest)\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hallo Alice,\r\nbis morgen.\r\n";
        let p = read(eml).unwrap();
        assert_eq!(p.subject.as_deref(), Some("Grüße"));
        assert_eq!(
            p.from,
            Some(mailbox::Recipient::new(
                Some("Jürgen"),
                "j@fabrikam.example"
            ))
        );
        assert_eq!(
            p.to,
            vec![
                mailbox::Recipient::new(None, "alice@contoso.example"),
                mailbox::Recipient::new(Some("Bob"), "bob@contoso.example"),
            ]
        );
        assert_eq!(p.importance, Some(mailbox::Importance::Low));
        let body = p.body.unwrap();
        assert_eq!(body.body_type, mailbox::BodyType::Text);
        assert_eq!(body.content, "Hallo Alice,\r\nbis morgen.\r\n");
        assert!(p.attachments.is_empty());
        assert_eq!(p.message_id, None);
    }

    /// An attached item is written as a message/rfc822 part and read back as an item
    /// attachment (its own file attachment inside it); past the nesting bound it stays a file.
    #[test]
    fn an_attached_message_round_trips_as_an_item_attachment() {
        let mut inner = item();
        inner.subject = Some("Minutes".into());
        inner.internet_message_id = Some("<min@contoso.example>".into());
        let attached =
            crate::attached::of_stored(&inner, &[attachment("agenda.pdf", None, b"%PDF agenda")])
                .unwrap();
        let holder = mailbox::Attachment {
            info: mailbox::AttachmentInfo {
                is_item: true,
                ..attachment("Minutes", None, b"").info
            },
            content: attached.content,
        };
        let bytes = write(&item(), &[holder], "contoso.example");
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("message/rfc822"), "{text}");
        let p = read(&bytes).unwrap();
        let [a] = p.attachments.as_slice() else {
            panic!("one attachment: {:?}", p.attachments)
        };
        assert!(a.is_item, "{a:?}");
        let (got, got_attachments) = crate::attached::stored_item(&a.content).unwrap();
        assert_eq!(got.subject.as_deref(), Some("Minutes"));
        assert_eq!(
            got.internet_message_id.as_deref(),
            Some("<min@contoso.example>")
        );
        assert_eq!(got.to, item().to);
        assert_eq!(got_attachments.len(), 1);
        assert_eq!(got_attachments[0].content, b"%PDF agenda");
        // a message nested deeper than attached items may is kept as a file
        let mut eml = b"Subject: level 6\r\n\r\nbottom\r\n".to_vec();
        for level in (1..=5).rev() {
            eml = [
                format!("Subject: level {level}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\nContent-Type: text/plain\r\n\r\nlevel {level}\r\n--b{level}\r\nContent-Type: message/rfc822\r\n\r\n").into_bytes(),
                eml,
                format!("\r\n--b{level}--\r\n").into_bytes(),
            ]
            .concat();
        }
        let p = read(&eml).unwrap();
        let mut level = p.attachments;
        for n in 2..=5 {
            let [a] = level.as_slice() else {
                panic!("level {n}: {level:?}")
            };
            assert!(a.is_item, "level {n}");
            let (i, inner) = crate::attached::stored_item(&a.content).unwrap();
            assert_eq!(i.subject, Some(format!("level {n}")));
            level = inner
                .into_iter()
                .map(|a| mailbox::NewAttachment {
                    name: a.info.name,
                    is_item: a.info.is_item,
                    content: a.content,
                    ..mailbox::NewAttachment::default()
                })
                .collect();
        }
        let [last] = level.as_slice() else {
            panic!("level 6: {level:?}")
        };
        assert!(!last.is_item, "the sixth level is a file");
        assert_eq!(last.name.as_deref(), Some("level 6.eml"));
    }

    /// Refused, with ErrorMimeContentInvalid: nothing, or text that is no message.
    #[test]
    fn refuses_what_is_no_message() {
        for bad in [&b""[..], b"\r\n\r\njust a body"] {
            let e = read(bad).unwrap_err();
            assert_eq!(e.code, "ErrorMimeContentInvalid", "{bad:?}");
        }
    }

    #[test]
    fn the_thread_headers_round_trip_and_stay_on_one_line() {
        let mut i = item();
        i.extended = vec![
            (
                crate::ews::IN_REPLY_TO_KEY.into(),
                "<b@contoso.example>".into(),
            ),
            (
                crate::ews::REFERENCES_KEY.into(),
                "<a@contoso.example>\r\nBcc: eve@evil.example <b@contoso.example>".into(),
            ),
        ];
        let bytes = write(&i, &[], "contoso.example");
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            text.contains("In-Reply-To: <b@contoso.example>\r\n"),
            "{text}"
        );
        // a line break a client sent does not start a header of its own
        assert!(!text.contains("\r\nBcc: eve"), "{text}");
        let p = read(&bytes).expect("reads");
        assert_eq!(p.in_reply_to.as_deref(), Some("<b@contoso.example>"));
        let refs = p.references.expect("references");
        assert!(refs.starts_with("<a@contoso.example>"), "{refs}");
        assert!(refs.ends_with("<b@contoso.example>"), "{refs}");
        // none without the properties
        let p = read(&write(&item(), &[], "contoso.example")).expect("reads");
        assert_eq!((p.in_reply_to, p.references), (None, None));
    }
}
