//! Replies and forwards: CreateItem's `t:ReplyToItem`, `t:ReplyAllToItem` and `t:ForwardItem`
//! (MS-OXWSCORE `t:SmartResponseType`). Each is composed here into the message it stands for,
//! from the item `t:ReferenceItemId` names, and that message is then saved (`SaveOnly`, a
//! draft in Drafts) or sent (`SendOnly`, `SendAndSaveCopy`) as any new message is.
//!
//! Composed as Exchange composes one:
//! * the subject is the response object's, else the original's with `RE: ` (a reply) or
//!   `FW: ` (a forward) before it, unless it already starts so;
//! * a reply goes to the original's From (its Sender without one), even when that is the acting
//!   mailbox; a reply to all also to its To and Cc lines, the acting mailbox's own addresses
//!   left out (to the author when that leaves nobody); the response object's recipients are
//!   added to these, each address once; a forward goes to its recipients only;
//! * the body is `t:NewBodyContent` above a header block (From, Sent, To, Cc, Subject of the
//!   original) and the original body, in HTML when either is HTML; a `t:Body` given instead is
//!   the whole body, nothing quoted;
//! * a forward carries the original's file attachments.
//!
//! The original must be a message, a meeting message or a calendar item of the acting mailbox
//! (`ErrorItemNotFound` when it is not there; a contact, a task or another item is
//! `ErrorInvalidReferenceItem`).
//!
//! The response's `t:InReplyTo` is the original's Message-ID and its `t:References` the
//! original's references followed by it (RFC 5322 §3.6.4).
//!
//! The response is in the original's conversation: its topic, and its index extended by a child
//! block (`crate::conversation`).
//!
//! A reply or forward sent marks its original (`PR_LAST_VERB_EXECUTED`, its time and
//! `PR_ICON_INDEX`) in the send's transaction; one saved as a draft names its original
//! (`answers_key`) and is marked when SendItem sends it.
//!
//! Inbox rules' forwards use the same quoting ([`forward_body`]).

use ews_proto::request::{self, Body, NewItem as ReqItem, NewMessage, SmartResponseKind};
use ews_proto::response::ResponseError;
use ews_proto::types::{BodyType, ExtendedFieldUri, ExtendedProperty, ExtendedValue, Mailbox};
use time::format_description::well_known::Rfc2822;

use crate::ews::{Handler, err};

/// Whether an item class is one a reply or forward can be made of.
fn answerable(class: &str) -> bool {
    let is = |prefix: &str| {
        class
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
            && class
                .as_bytes()
                .get(prefix.len())
                .is_none_or(|c| *c == b'.')
    };
    is("IPM.Note") || is("IPM.Schedule.Meeting") || is("IPM.Appointment") || is("REPORT")
}

fn prefixed(subject: Option<&str>, prefix: &str) -> String {
    let s = subject.unwrap_or("");
    if s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
    {
        s.to_owned()
    } else {
        format!("{prefix}{s}")
    }
}

/// A recipient as the header block names it: `Name <address>`, or the address.
fn named(r: &mailbox::Recipient) -> String {
    match r.name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => format!("{n} <{}>", r.email),
        None => r.email.clone(),
    }
}

/// What is inside an HTML document's `<body>` (the whole text when it has none).
fn body_inner(html: &str) -> &str {
    let lower = html.to_ascii_lowercase();
    let Some(open) = lower.find("<body") else {
        return html;
    };
    let Some(start) = lower[open..].find('>').map(|i| open + i + 1) else {
        return html;
    };
    let end = lower
        .rfind("</body>")
        .filter(|e| *e >= start)
        .unwrap_or(html.len());
    &html[start..end]
}

/// What a reply or forward quotes of the original.
struct Original<'a> {
    from: Option<&'a mailbox::Recipient>,
    sent: time::OffsetDateTime,
    to: &'a [mailbox::Recipient],
    cc: &'a [mailbox::Recipient],
    subject: Option<&'a str>,
    body: Option<&'a mailbox::Body>,
}

impl<'a> Original<'a> {
    fn of(i: &'a mailbox::Item) -> Self {
        Original {
            from: i.from.as_ref().or(i.sender.as_ref()),
            sent: i.date_time_sent.unwrap_or(i.date_time_created),
            to: &i.to,
            cc: &i.cc,
            subject: i.subject.as_deref(),
            body: i.body.as_ref(),
        }
    }

    /// The header block: each line (label, value), as Outlook and Exchange quote it.
    fn header_lines(&self) -> Vec<(&'static str, String)> {
        let join = |rs: &[mailbox::Recipient]| rs.iter().map(named).collect::<Vec<_>>().join("; ");
        let mut lines = Vec::with_capacity(5);
        if let Some(f) = self.from {
            lines.push(("From", named(f)));
        }
        if let Ok(s) = self.sent.format(&Rfc2822) {
            lines.push(("Sent", s));
        }
        if !self.to.is_empty() {
            lines.push(("To", join(self.to)));
        }
        if !self.cc.is_empty() {
            lines.push(("Cc", join(self.cc)));
        }
        lines.push(("Subject", self.subject.unwrap_or_default().to_owned()));
        lines
    }
}

/// The body of the response: `new` above the header block and the original's body.
fn quoted_body(new: Option<&Body>, original: &Original<'_>) -> Body {
    let original_body = original.body;
    let html = new.is_some_and(|b| b.body_type == BodyType::Html)
        || original_body.is_some_and(|b| b.body_type == mailbox::BodyType::Html);
    let lines = original.header_lines();
    if html {
        let new_part = match new {
            Some(b) if b.body_type == BodyType::Html => body_inner(&b.content).to_owned(),
            Some(b) => body_inner(&ews_proto::body::text_to_html(&b.content)).to_owned(),
            None => String::new(),
        };
        let old_part = match original_body {
            Some(b) if b.body_type == mailbox::BodyType::Html => body_inner(&b.content).to_owned(),
            Some(b) => body_inner(&ews_proto::body::text_to_html(&b.content)).to_owned(),
            None => String::new(),
        };
        let header: String = lines
            .iter()
            .map(|(k, v)| format!("<b>{k}:</b> {}<br>", ews_proto::body::escape_html(v)))
            .collect();
        Body {
            body_type: BodyType::Html,
            content: format!(
                "<html><body>{new_part}<hr><div id=\"divRplyFwdMsg\">{header}</div><br>{old_part}</body></html>"
            ),
        }
    } else {
        let header: String = lines.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
        Body {
            body_type: BodyType::Text,
            content: format!(
                "{}\r\n\r\n________________________________\r\n{header}\r\n{}",
                new.map_or("", |b| b.content.as_str()),
                original_body.map_or("", |b| b.content.as_str()),
            ),
        }
    }
}

/// `PR_ICON_INDEX` (0x1080), `PR_LAST_VERB_EXECUTED` (0x1081) and
/// `PR_LAST_VERB_EXECUTION_TIME` (0x1082) as extended property keys.
const ICON_INDEX_KEY: &str = "tag:0x1080|type:integer";
const LAST_VERB_KEY: &str = "tag:0x1081|type:integer";
const LAST_VERB_TIME_KEY: &str = "tag:0x1082|type:systemtime";

/// The original of a reply or forward sent at `now`, marked as Outlook and Exchange mark it
/// (MS-OXOMSG `PidTagLastVerbExecuted`: 102 replied, 103 replied to all, 104 forwarded;
/// `PidTagIconIndex` 261 replied, 262 forwarded), which clients show as "You replied on …".
pub(crate) fn answered(
    original: &str,
    kind: SmartResponseKind,
    now: time::OffsetDateTime,
) -> mailbox::Answered {
    let (verb, icon) = match kind {
        SmartResponseKind::Reply => (102, 261),
        SmartResponseKind::ReplyAll => (103, 261),
        SmartResponseKind::Forward => (104, 262),
    };
    mailbox::Answered {
        item_id: original.to_owned(),
        set_extended: vec![
            (ICON_INDEX_KEY.to_owned(), icon.to_string()),
            (LAST_VERB_KEY.to_owned(), verb.to_string()),
            (
                LAST_VERB_TIME_KEY.to_owned(),
                ews_proto::types::format_xs_datetime(now),
            ),
        ],
    }
}

/// A reply or forward saved as a draft names the item it answers, in this server's own property
/// set (the one `fxstream` keeps beyond MAPI), as `<verb>:<item id>` (`PR_LAST_VERB_EXECUTED`'s
/// verb): SendItem reads it to mark that item when the draft is sent, and removes it from what
/// is sent, so no recipient's copy carries it.
fn answers_uri() -> ExtendedFieldUri {
    ExtendedFieldUri {
        property_set_id: Some("5b8c0a3e-6f1d-4e57-9a52-0c4f3e1d7a21".to_owned()),
        property_name: Some("OpenHybrid.Answers".to_owned()),
        property_type: "String".to_owned(),
        ..ExtendedFieldUri::default()
    }
}

/// The store's key of [`answers_uri`].
pub(crate) fn answers_key() -> String {
    answers_uri().canonical_key()
}

fn answers_value(kind: SmartResponseKind, item_id: &str) -> String {
    let verb = match kind {
        SmartResponseKind::Reply => 102,
        SmartResponseKind::ReplyAll => 103,
        SmartResponseKind::Forward => 104,
    };
    format!("{verb}:{item_id}")
}

/// What a draft's [`answers_key`] value names: the kind of answer and the item; `None` for a
/// value this server did not write.
pub(crate) fn answers_of(value: &str) -> Option<(SmartResponseKind, &str)> {
    let (verb, id) = value.split_once(':')?;
    let kind = match verb {
        "102" => SmartResponseKind::Reply,
        "103" => SmartResponseKind::ReplyAll,
        "104" => SmartResponseKind::Forward,
        _ => return None,
    };
    (!id.is_empty()).then_some((kind, id))
}

/// The body of a forward of `original` without text of its own: the header block and the
/// original's body (what an Inbox rule's forward carries).
pub(crate) fn forward_body(original: &mailbox::Item) -> mailbox::Body {
    crate::ews::body_in(&quoted_body(None, &Original::of(original)))
}

/// `FW: ` and the subject, unless it already starts with it.
pub(crate) fn forward_subject(subject: Option<&str>) -> String {
    prefixed(subject, "FW: ")
}

/// The longest `References` a reply carries; past it, the oldest ids after the first are
/// dropped (RFC 5322 §3.6.4 suggests keeping the first).
const MAX_REFERENCES_BYTES: usize = 4 * 1024;

/// A reply's or forward's `In-Reply-To` and `References`: the original's Message-ID, after the
/// original's own references (RFC 5322 §3.6.4). Nothing for an original without a Message-ID
/// (a draft).
fn thread_of(original: &mailbox::Item) -> (Option<String>, Option<String>) {
    let Some(id) = original
        .internet_message_id
        .as_deref()
        .map(str::trim)
        .filter(|id| !id.is_empty())
    else {
        return (None, None);
    };
    let earlier = crate::ews::extended_of(&original.extended, crate::ews::REFERENCES_KEY)
        .or_else(|| crate::ews::extended_of(&original.extended, crate::ews::IN_REPLY_TO_KEY))
        .unwrap_or_default();
    let mut ids: Vec<&str> = earlier.split_ascii_whitespace().collect();
    ids.push(id);
    let mut joined = ids.join(" ");
    while joined.len() > MAX_REFERENCES_BYTES && ids.len() > 2 {
        ids.remove(1);
        joined = ids.join(" ");
    }
    (Some(id.to_owned()), Some(joined))
}

/// `lines` with each address once (ASCII case ignored), those in `mine` left out.
fn distinct(lines: Vec<Mailbox>, mine: &[String], seen: &mut Vec<String>) -> Vec<Mailbox> {
    lines
        .into_iter()
        .filter(|m| {
            let Some(a) = m.email_address.as_deref() else {
                return true;
            };
            let a = a.to_ascii_lowercase();
            if mine.iter().any(|x| x.eq_ignore_ascii_case(&a)) || seen.contains(&a) {
                return false;
            }
            seen.push(a);
            true
        })
        .collect()
}

impl Handler<'_> {
    /// CreateItem's items with each reply or forward composed into its message; the others as
    /// they are. A response object that cannot be composed is its item's error.
    pub(crate) async fn composed(
        &self,
        items: Vec<ReqItem>,
    ) -> Vec<Result<ReqItem, ResponseError>> {
        let mut out = Vec::with_capacity(items.len());
        for i in items {
            out.push(match i {
                // saved as a draft: it names what it answers, for SendItem to mark it
                ReqItem::SmartResponse(r) => {
                    let answers = crate::recurring::target(&r.reference_item_id)
                        .ok()
                        .map(|t| answers_value(r.kind, t.item_id()));
                    self.compose(r).await.map(|mut item| {
                        if let (ReqItem::Message(m), Some(v)) = (&mut item, answers) {
                            m.item.extended_properties.push(ExtendedProperty {
                                uri: answers_uri(),
                                value: ExtendedValue::Single(v),
                            });
                        }
                        item
                    })
                }
                other => Ok(other),
            });
        }
        out
    }

    /// The message a reply or forward stands for (module documentation).
    pub(crate) async fn compose(
        &self,
        r: request::SmartResponse,
    ) -> Result<ReqItem, ResponseError> {
        let id = crate::recurring::target(&r.reference_item_id)?
            .item_id()
            .to_owned();
        let original = self
            .ex
            .inner
            .mbx
            .get_item(&self.key, &id)
            .await
            .map_err(|e| self.mailbox_err(&e))?;
        if !answerable(&original.item_class)
            || original.contact.is_some()
            || original.task.is_some()
        {
            return Err(ResponseError::new(
                "ErrorInvalidReferenceItem",
                &format!(
                    "The item ReferenceItemId names ({}) cannot be replied to or forwarded: only messages, meeting messages and calendar items can.",
                    original.item_class
                ),
            ));
        }
        let mut item = r.item;
        let prefix = match r.kind {
            SmartResponseKind::Forward => "FW: ",
            SmartResponseKind::Reply | SmartResponseKind::ReplyAll => "RE: ",
        };
        if item.subject.is_none() {
            item.subject = Some(prefixed(original.subject.as_deref(), prefix));
        }
        if item.body.is_none() {
            item.body = Some(quoted_body(r.new_body.as_ref(), &Original::of(&original)));
        }
        item.item_class = Some("IPM.Note".to_owned());
        let author = original
            .from
            .as_ref()
            .or(original.sender.as_ref())
            .map(crate::ews::mb_out);
        let mut seen = Vec::new();
        let (to, cc) = match r.kind {
            // to the author, whoever it is (a reply to one's own message goes to oneself)
            SmartResponseKind::Reply => {
                let to = author.into_iter().chain(r.to).collect();
                (distinct(to, &[], &mut seen), distinct(r.cc, &[], &mut seen))
            }
            // to everyone on it but oneself; to the author when that leaves nobody
            SmartResponseKind::ReplyAll => {
                let mine = self.my_addresses().await;
                let to: Vec<Mailbox> = author
                    .iter()
                    .cloned()
                    .chain(original.to.iter().map(crate::ews::mb_out))
                    .chain(r.to)
                    .collect();
                let cc = original
                    .cc
                    .iter()
                    .map(crate::ews::mb_out)
                    .chain(r.cc)
                    .collect();
                let (to, cc) = (
                    distinct(to, &mine, &mut seen),
                    distinct(cc, &mine, &mut seen),
                );
                match author {
                    Some(a) if to.is_empty() && cc.is_empty() => (vec![a], cc),
                    _ => (to, cc),
                }
            }
            SmartResponseKind::Forward => (
                distinct(r.to, &[], &mut seen),
                distinct(r.cc, &[], &mut seen),
            ),
        };
        if r.kind == SmartResponseKind::Forward && !original.attachments.is_empty() {
            let ids = original.attachments.iter().map(|a| a.id.clone()).collect();
            let read = self
                .ex
                .inner
                .mbx
                .get_attachments(&self.key, ids)
                .await
                .map_err(|e| err(&e))?;
            let mut carried = Vec::with_capacity(read.len());
            for a in read {
                carried.push(crate::attached::carried(a.map_err(|e| err(&e))?));
            }
            // the original's first, then any the response object adds
            carried.append(&mut item.attachments);
            item.attachments = carried;
        }
        let (in_reply_to, references) = thread_of(&original);
        // in the original's conversation: its topic, and its index extended
        let conversation = crate::conversation::of(original.subject.as_deref(), &original.extended);
        let index = crate::conversation::reply_index(
            &conversation,
            self.ex.inner.cfg.clock.now(),
            rand::random(),
        );
        for (tag, kind, value) in [
            ("0x0070", "String", conversation.topic),
            ("0x0071", "Binary", index),
        ] {
            let uri = ExtendedFieldUri {
                property_tag: Some(tag.to_owned()),
                property_type: kind.to_owned(),
                ..ExtendedFieldUri::default()
            };
            // (one the client set itself wins)
            let key = uri.canonical_key();
            if !item
                .extended_properties
                .iter()
                .any(|p| p.uri.canonical_key() == key)
            {
                item.extended_properties.push(ExtendedProperty {
                    uri,
                    value: ExtendedValue::Single(value),
                });
            }
        }
        Ok(ReqItem::Message(NewMessage {
            item,
            sender: None,
            to,
            cc,
            bcc: r.bcc,
            from: r.from,
            internet_message_id: None,
            is_read: Some(true),
            in_reply_to,
            references,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_prefixed_once() {
        assert_eq!(prefixed(Some("Lunch"), "RE: "), "RE: Lunch");
        assert_eq!(prefixed(Some("re: Lunch"), "RE: "), "re: Lunch");
        assert_eq!(prefixed(Some("RE: Lunch"), "FW: "), "FW: RE: Lunch");
        assert_eq!(prefixed(None, "FW: "), "FW: ");
    }

    #[test]
    fn only_messages_meeting_messages_and_calendar_items_are_answerable() {
        for c in [
            "IPM.Note",
            "ipm.note.Microsoft.Conversation",
            "IPM.Schedule.Meeting.Request",
            "IPM.Appointment",
            "REPORT.IPM.Note.NDR",
        ] {
            assert!(answerable(c), "{c}");
        }
        for c in [
            "IPM.Contact",
            "IPM.Task",
            "IPM.Notes",
            "IPM.Configuration.X",
            "IPM",
        ] {
            assert!(!answerable(c), "{c}");
        }
    }

    #[test]
    fn the_body_inside_a_document_is_found() {
        assert_eq!(
            body_inner("<html><BODY class=x><p>hi</p></body></html>"),
            "<p>hi</p>"
        );
        assert_eq!(body_inner("<p>hi</p>"), "<p>hi</p>");
        assert_eq!(body_inner("<body"), "<body");
    }

    #[test]
    fn addresses_are_kept_once_and_mine_left_out() {
        let mine = vec!["alice@contoso.example".to_owned()];
        let mut seen = Vec::new();
        let to = distinct(
            vec![
                Mailbox::smtp("Bob@contoso.example", None),
                Mailbox::smtp("ALICE@contoso.example", None),
                Mailbox::smtp("bob@contoso.example", Some("Bob")),
                Mailbox::smtp("carol@contoso.example", None),
            ],
            &mine,
            &mut seen,
        );
        let cc = distinct(
            vec![Mailbox::smtp("carol@contoso.example", None)],
            &mine,
            &mut seen,
        );
        let addresses: Vec<_> = to.iter().filter_map(|m| m.email_address.clone()).collect();
        assert_eq!(addresses, ["Bob@contoso.example", "carol@contoso.example"]);
        assert!(cc.is_empty());
    }

    #[test]
    fn text_and_html_bodies_quote_the_original() {
        let now = time::macros::datetime!(2030-03-04 09:30 UTC);
        let from = mailbox::Recipient::new(Some("Bob"), "bob@contoso.example");
        let to = [mailbox::Recipient::new(None, "alice@contoso.example")];
        let body = mailbox::Body {
            body_type: mailbox::BodyType::Text,
            content: "See attached.".into(),
        };
        let original = Original {
            from: Some(&from),
            sent: now,
            to: &to,
            cc: &[],
            subject: Some("Numbers <Q3>"),
            body: Some(&body),
        };
        let text = quoted_body(
            Some(&Body {
                body_type: BodyType::Text,
                content: "Thanks!".into(),
            }),
            &original,
        );
        assert_eq!(text.body_type, BodyType::Text);
        assert!(text.content.starts_with("Thanks!\r\n"), "{}", text.content);
        assert!(text.content.contains("From: Bob <bob@contoso.example>\r\n"));
        assert!(
            text.content
                .contains("Sent: Mon, 04 Mar 2030 09:30:00 +0000\r\n")
        );
        assert!(text.content.contains("Subject: Numbers <Q3>\r\n"));
        assert!(text.content.ends_with("See attached."));
        let html = quoted_body(
            Some(&Body {
                body_type: BodyType::Html,
                content: "<html><body><p>Thanks!</p></body></html>".into(),
            }),
            &original,
        );
        assert_eq!(html.body_type, BodyType::Html);
        assert!(
            html.content.starts_with("<html><body><p>Thanks!</p><hr>"),
            "{}",
            html.content
        );
        assert!(
            html.content
                .contains("<b>Subject:</b> Numbers &lt;Q3&gt;<br>")
        );
        assert!(html.content.contains("See attached."));
    }
}
