//! The end of a conversation (Verify 2 and 3): which items it leaves in which mailboxes, built as
//! outbox rows, and the history listing read back from Exchange.
//!
//! * **History**: every participant homed here whose server-side conversation history is on
//!   (per user, else the Global `Set-CsConversationHistoryConfiguration`) gets an item in
//!   `conversationhistory` when a mobile client was involved. Item classes:
//!   IM → `IPM.Note.Microsoft.Conversation`, call → `.Conversation.Voice`; when the
//!   conversation was missed, every participant except its initiator gets
//!   `IPM.Note.Microsoft.Missed` / `.Missed.Voice` instead.
//! * **Archiving**: IM conversations with at least one message are archived for each homed
//!   participant whose archiving policy covers them: internal when every participant's SIP
//!   domain is a domain of users homed here, external otherwise (`ArchiveInternal`,
//!   `ArchiveExternal`). The copy goes to `recoverableitemspurges` as
//!   `IPM.Note.Microsoft.Conversation`.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{normalize_sip, sip_domain};
use crate::Skype;
use crate::db::{self, ArchivingPolicy, NewOutboxRow, User};
use crate::error::SkypeError;
use crate::ews::{
    EXCHANGE_MAX_REQUEST_BYTES, MessagePayload, Party, create_item_request_len, esc, is_xml_char,
};

pub const MAX_PARTICIPANTS: usize = 100;
pub const MAX_MESSAGES: usize = 2000;
pub const MAX_MESSAGE_CHARS: usize = 16 * 1024;
pub const MAX_ID_LEN: usize = 128;
/// Largest `POST /conversations/end` body.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// The most the messages of one conversation may take once encoded into the CreateItem request
/// of a history or archive item: Exchange refuses requests over 16 MiB
/// ([`EXCHANGE_MAX_REQUEST_BYTES`]), and the rest is kept for the envelope, the subject, the
/// participants and their display names.
pub const MAX_ENCODED_MESSAGES_BYTES: usize = 12 << 20;
/// What one message's row takes in the request besides its text: the row's markup, its time and
/// the sender's display name (names longer than this allows are caught by the exact check of
/// every item's request before it is queued).
const MESSAGE_ROW_ALLOWANCE: usize = 1024;
/// The largest CreateItem request Skype queues: Exchange's limit less a margin.
pub const MAX_ITEM_REQUEST_BYTES: usize = EXCHANGE_MAX_REQUEST_BYTES - (1 << 20);

pub const HISTORY_FOLDER: &str = "conversationhistory";
pub const ARCHIVE_FOLDER: &str = "recoverableitemspurges";

/// IM or a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Im,
    Audio,
}

/// One instant message.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImMessage {
    pub sender: String,
    /// RFC 3339.
    pub time: String,
    pub text: String,
}

/// `POST /conversations/end`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversationEnd {
    /// Letters, digits, `.`, `_`, `-`; at most 128.
    pub id: String,
    pub modality: Modality,
    #[serde(default)]
    pub missed: bool,
    /// A mobile client took part (server-side history is written only then).
    #[serde(default)]
    pub mobile: bool,
    pub participants: Vec<String>,
    /// Who started it; default the first participant.
    #[serde(default)]
    pub initiator: Option<String>,
    #[serde(default)]
    pub messages: Vec<ImMessage>,
    /// RFC 3339.
    #[serde(default)]
    pub started: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub ended: Option<String>,
}

/// A row the conversation queued.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Queued {
    pub user: String,
    pub kind: String,
    pub folder: String,
    pub item_class: String,
    pub internet_message_id: String,
    /// False when the same item was already queued (a repeated request).
    pub new: bool,
}

/// A participant that gets nothing, and why.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Skipped {
    pub participant: String,
    pub kind: String,
    pub reason: String,
}

/// The answer of `POST /conversations/end` (202: queued, not yet delivered).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConversationQueued {
    pub conversation_id: String,
    pub queued: Vec<Queued>,
    pub skipped: Vec<Skipped>,
}

/// One history item as listed back from Exchange.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HistoryItem {
    pub item_id: String,
    pub item_class: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub to: Vec<String>,
    pub internet_message_id: Option<String>,
    pub date_time_sent: Option<String>,
    pub date_time_received: Option<String>,
}

fn parse_time(what: &str, s: &str) -> Result<OffsetDateTime, SkypeError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        SkypeError::Invalid(format!(
            "{what} {:?} is not an RFC 3339 date-time",
            s.chars().take(40).collect::<String>()
        ))
    })
}

fn fmt_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// `<conversation-id.user-hash.kind@skype.openhybrid>`: the idempotency key of one item.
pub fn message_id(conversation: &str, sip: &str, kind: &str) -> String {
    let h = hex::encode(&Sha256::digest(sip.as_bytes())[..6]);
    format!("<{conversation}.{h}.{kind}@skype.openhybrid>")
}

/// The bytes a message's text takes in the CreateItem request: the transcript escapes it as HTML
/// (with line breaks as `<br>`), and the transcript is escaped again as the XML item body, so a
/// `<` takes 8 bytes (`&amp;lt;`) and a line break 10 (`&lt;br&gt;`).
pub fn encoded_text_len(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '<' | '>' => 8,
            '&' | '\r' => 9,
            '\'' | '"' | '\n' => 10,
            c if !is_xml_char(c) => '\u{FFFD}'.len_utf8(),
            c => c.len_utf8(),
        })
        .sum()
}

fn too_large(what: String) -> SkypeError {
    SkypeError::TooLarge(format!(
        "{what}; Exchange accepts EWS requests of at most {EXCHANGE_MAX_REQUEST_BYTES} bytes, so the items could never be written. \
         Nothing was queued: end the conversation as several POST /conversations/end requests, each with part of the messages and its own id"
    ))
}

#[derive(Debug)]
struct Checked {
    participants: Vec<String>,
    initiator: String,
    messages: Vec<(String, OffsetDateTime, String)>,
    started: Option<OffsetDateTime>,
    ended: Option<OffsetDateTime>,
}

fn check(c: &ConversationEnd) -> Result<Checked, SkypeError> {
    if c.id.is_empty()
        || c.id.len() > MAX_ID_LEN
        || !c
            .id
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
    {
        return Err(SkypeError::Invalid(format!(
            "the conversation id must be 1–{MAX_ID_LEN} letters, digits, '.', '_' or '-'"
        )));
    }
    if c.participants.len() < 2 || c.participants.len() > MAX_PARTICIPANTS {
        return Err(SkypeError::Invalid(format!(
            "a conversation has 2 to {MAX_PARTICIPANTS} participants, not {}",
            c.participants.len()
        )));
    }
    let mut participants = Vec::new();
    for p in &c.participants {
        let s = normalize_sip(p)?;
        if participants.contains(&s) {
            return Err(SkypeError::Invalid(format!(
                "participant sip:{s} is listed twice"
            )));
        }
        participants.push(s);
    }
    if c.messages.len() > MAX_MESSAGES {
        return Err(SkypeError::Invalid(format!(
            "at most {MAX_MESSAGES} messages per conversation"
        )));
    }
    let mut messages = Vec::new();
    for m in &c.messages {
        let sender = normalize_sip(&m.sender)?;
        if !participants.contains(&sender) {
            return Err(SkypeError::Invalid(format!(
                "message sender sip:{sender} is not a participant"
            )));
        }
        if m.text.chars().count() > MAX_MESSAGE_CHARS {
            return Err(SkypeError::Invalid(format!(
                "a message is longer than {MAX_MESSAGE_CHARS} characters"
            )));
        }
        messages.push((sender, parse_time("message time", &m.time)?, m.text.clone()));
    }
    // The transcript is HTML inside the XML request (escaped twice), so the request can be
    // several times the size of the body posted here: refused now rather than accepted and
    // failing at Exchange for good.
    let encoded: usize = c
        .messages
        .iter()
        .map(|m| encoded_text_len(&m.text) + MESSAGE_ROW_ALLOWANCE)
        .sum();
    if encoded > MAX_ENCODED_MESSAGES_BYTES {
        return Err(too_large(format!(
            "the {} messages take {encoded} bytes once encoded into a history or archive item (the transcript is HTML inside XML, escaped twice: a '<' takes 8 bytes), \
             more than the {MAX_ENCODED_MESSAGES_BYTES} bytes one item may hold",
            c.messages.len()
        )));
    }
    let initiator = match &c.initiator {
        Some(i) => {
            let s = normalize_sip(i)?;
            if !participants.contains(&s) {
                return Err(SkypeError::Invalid(format!(
                    "the initiator sip:{s} is not a participant"
                )));
            }
            s
        }
        None => participants[0].clone(),
    };
    let started = c
        .started
        .as_deref()
        .map(|s| parse_time("started", s))
        .transpose()?;
    let ended = c
        .ended
        .as_deref()
        .map(|s| parse_time("ended", s))
        .transpose()?;
    Ok(Checked {
        participants,
        initiator,
        messages,
        started,
        ended,
    })
}

fn display(users: &HashMap<String, User>, sip: &str) -> String {
    users
        .get(sip)
        .map(|u| u.display_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| sip.to_owned())
}

fn party(users: &HashMap<String, User>, sip: &str) -> Party {
    Party {
        name: display(users, sip),
        address: users
            .get(sip)
            .map(|u| u.primary_smtp_address.clone())
            .unwrap_or_else(|| sip.to_owned()),
    }
}

/// The HTML transcript. Every user-provided string is escaped.
fn transcript(
    title: &str,
    modality: Modality,
    ck: &Checked,
    users: &HashMap<String, User>,
) -> String {
    let mut h = String::from(
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body>",
    );
    h.push_str(&format!(
        "<div class=\"openhybrid-conversation\" data-modality=\"{}\">",
        match modality {
            Modality::Im => "im",
            Modality::Audio => "audio",
        }
    ));
    h.push_str(&format!("<p><b>{}</b></p>", esc(title)));
    let names: Vec<String> = ck
        .participants
        .iter()
        .map(|p| format!("{} &lt;sip:{}&gt;", esc(&display(users, p)), esc(p)))
        .collect();
    h.push_str(&format!("<p>Participants: {}</p>", names.join(", ")));
    if let (Some(s), Some(e)) = (ck.started, ck.ended) {
        h.push_str(&format!(
            "<p>{} – {} ({} s)</p>",
            esc(&fmt_time(s)),
            esc(&fmt_time(e)),
            (e - s).whole_seconds().max(0)
        ));
    }
    if !ck.messages.is_empty() {
        h.push_str("<table>");
        for (sender, t, text) in &ck.messages {
            h.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&fmt_time(*t)),
                esc(&display(users, sender)),
                esc(text).replace('\n', "<br>")
            ));
        }
        h.push_str("</table>");
    }
    h.push_str("</div></body></html>");
    h
}

impl Skype {
    /// Plans and queues the items a finished conversation leaves; answers once the rows are
    /// committed (delivery is the outbox worker's).
    pub async fn end_conversation(
        &self,
        c: ConversationEnd,
    ) -> Result<ConversationQueued, SkypeError> {
        let ck = check(&c)?;
        let sips = ck.participants.clone();
        let (users, global_history, domains, policies) = self
            .inner
            .db
            .call(move |conn| -> Result<_, SkypeError> {
                let mut users = HashMap::new();
                for s in &sips {
                    if let Some(u) = db::user(conn, s)? {
                        users.insert(s.clone(), u);
                    }
                }
                let global = db::setting(conn, "EnableServerConversationHistory")?
                    .is_some_and(|v| v == "true");
                let mut st =
                    conn.prepare("SELECT DISTINCT substr(sip, instr(sip, '@') + 1) FROM users")?;
                let domains: BTreeSet<String> =
                    st.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
                let policies: HashMap<String, ArchivingPolicy> = db::policies(conn)?
                    .into_iter()
                    .map(|p| (p.identity.to_ascii_lowercase(), p))
                    .collect();
                Ok((users, global, domains, policies))
            })
            .await?;
        let external = ck
            .participants
            .iter()
            .any(|p| !domains.contains(sip_domain(p)));
        let now = self.now();
        let sent = ck.started.map(|t| t.unix_timestamp()).or(Some(now));
        let mut rows = Vec::new();
        let mut planned = Vec::new();
        let mut skipped = Vec::new();
        let skip = |skipped: &mut Vec<Skipped>, p: &str, kind: &str, reason: String| {
            skipped.push(Skipped {
                participant: format!("sip:{p}"),
                kind: kind.to_owned(),
                reason,
            })
        };
        for p in &ck.participants {
            let Some(user) = users.get(p) else {
                skip(
                    &mut skipped,
                    p,
                    "any",
                    "not homed in Skype for Business Online".into(),
                );
                continue;
            };
            let others: Vec<&String> = ck.participants.iter().filter(|x| *x != p).collect();
            let other_names = others
                .iter()
                .map(|o| display(&users, o))
                .collect::<Vec<_>>()
                .join(", ");
            let to: Vec<Party> = ck
                .participants
                .iter()
                .filter(|x| **x != ck.initiator)
                .map(|x| party(&users, x))
                .collect();
            let from = Some(party(&users, &ck.initiator));
            // history
            let history_on = user
                .enable_server_conversation_history
                .unwrap_or(global_history);
            if !history_on {
                skip(&mut skipped, p, "history", "server-side conversation history is off (Set-CsConversationHistoryConfiguration -EnableServerConversationHistory)".into());
            } else if !c.mobile {
                skip(
                    &mut skipped,
                    p,
                    "history",
                    "no mobile client took part; the desktop client keeps its own history".into(),
                );
            } else {
                let missed = c.missed && *p != ck.initiator;
                let (class, title) = match (c.modality, missed) {
                    (Modality::Im, false) => (
                        "IPM.Note.Microsoft.Conversation",
                        format!("Conversation with {other_names}"),
                    ),
                    (Modality::Audio, false) => (
                        "IPM.Note.Microsoft.Conversation.Voice",
                        format!("Call with {other_names}"),
                    ),
                    (Modality::Im, true) => (
                        "IPM.Note.Microsoft.Missed",
                        format!("Missed conversation with {other_names}"),
                    ),
                    (Modality::Audio, true) => (
                        "IPM.Note.Microsoft.Missed.Voice",
                        format!("Missed call from {}", display(&users, &ck.initiator)),
                    ),
                };
                planned.push((
                    p.clone(),
                    "history",
                    HISTORY_FOLDER,
                    class,
                    title,
                    from.clone(),
                    to.clone(),
                ));
            }
            // archiving
            let policy_name = user
                .archiving_policy
                .clone()
                .unwrap_or_else(|| "Global".into());
            let policy = policies.get(&policy_name.to_ascii_lowercase());
            let archives = policy.is_some_and(|pol| {
                if external {
                    pol.archive_external
                } else {
                    pol.archive_internal
                }
            });
            if c.modality != Modality::Im || ck.messages.is_empty() {
                skip(
                    &mut skipped,
                    p,
                    "archive",
                    "only IM conversations with messages are archived".into(),
                );
            } else if !archives {
                skip(
                    &mut skipped,
                    p,
                    "archive",
                    format!(
                        "archiving policy '{policy_name}' does not archive {} IM",
                        if external { "external" } else { "internal" }
                    ),
                );
            } else {
                planned.push((
                    p.clone(),
                    "archive",
                    ARCHIVE_FOLDER,
                    "IPM.Note.Microsoft.Conversation",
                    format!("Conversation with {other_names}"),
                    from.clone(),
                    to.clone(),
                ));
            }
        }
        for (sip, kind, folder, class, title, from, to) in &planned {
            let mid = message_id(&c.id, sip, kind);
            let payload = MessagePayload {
                item_class: (*class).to_owned(),
                subject: title.clone(),
                html: transcript(title, c.modality, &ck, &users),
                from: from.clone(),
                to: to.clone(),
                sent,
                internet_message_id: mid.clone(),
            };
            let size = create_item_request_len(folder, &payload);
            if size > MAX_ITEM_REQUEST_BYTES {
                return Err(too_large(format!(
                    "the {kind} item for sip:{sip} would be a request of {size} bytes (with the participants' display names), more than the {MAX_ITEM_REQUEST_BYTES} bytes Skype sends"
                )));
            }
            let json = serde_json::to_string(&payload)
                .map_err(|e| SkypeError::Invalid(format!("cannot encode the item: {e}")))?;
            rows.push(NewOutboxRow {
                message_id: mid,
                user_sip: sip.clone(),
                kind,
                folder,
                conversation_id: c.id.clone(),
                payload: json,
            });
        }
        let new = if rows.is_empty() {
            Vec::new()
        } else {
            let rows_for_db: Vec<NewOutboxRow> = rows
                .iter()
                .map(|r| NewOutboxRow {
                    message_id: r.message_id.clone(),
                    user_sip: r.user_sip.clone(),
                    kind: r.kind,
                    folder: r.folder,
                    conversation_id: r.conversation_id.clone(),
                    payload: r.payload.clone(),
                })
                .collect();
            self.inner
                .db
                .call(move |conn| db::enqueue(conn, &rows_for_db, now))
                .await?
        };
        self.inner.outbox_wake.notify_one();
        let queued = rows
            .iter()
            .zip(planned.iter())
            .zip(new)
            .map(|((r, pl), new)| Queued {
                user: format!("sip:{}", r.user_sip),
                kind: r.kind.to_owned(),
                folder: r.folder.to_owned(),
                item_class: pl.3.to_owned(),
                internet_message_id: r.message_id.clone(),
                new,
            })
            .collect();
        tracing::info!(conversation = %c.id, rows = rows.len(), "conversation queued");
        Ok(ConversationQueued {
            conversation_id: c.id,
            queued,
            skipped,
        })
    }

    /// The user's Conversation History, read from Exchange (FindItem, newest 100).
    pub async fn history(&self, sip: &str) -> Result<Vec<HistoryItem>, SkypeError> {
        let user = self.user(sip).await?;
        let items = self.find_items(&user, HISTORY_FOLDER, 100).await?;
        Ok(items
            .into_iter()
            .map(|i| HistoryItem {
                item_id: i.id,
                item_class: i.item_class,
                subject: i.subject,
                from: i.from.and_then(|m| m.email_address),
                to: i.to.into_iter().filter_map(|m| m.email_address).collect(),
                internet_message_id: i.internet_message_id,
                date_time_sent: i.date_time_sent.map(fmt_time),
                date_time_received: i.date_time_received.map(fmt_time),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(json: serde_json::Value) -> Result<Checked, SkypeError> {
        check(&serde_json::from_value(json).unwrap())
    }

    #[test]
    fn checks_input() {
        let ok = serde_json::json!({"id": "c-1", "modality": "im", "participants": ["sip:A@x.example", "b@y.example"],
            "messages": [{"sender": "sip:a@x.example", "time": "2025-01-01T10:00:00Z", "text": "hi"}]});
        let c = conv(ok.clone()).unwrap();
        assert_eq!(c.participants, ["a@x.example", "b@y.example"]);
        assert_eq!(c.initiator, "a@x.example");
        let mut bad = ok.clone();
        bad["id"] = "../x".into();
        assert!(
            conv(bad)
                .unwrap_err()
                .to_string()
                .contains("conversation id")
        );
        let mut bad = ok.clone();
        bad["messages"][0]["sender"] = "sip:z@x.example".into();
        assert!(
            conv(bad)
                .unwrap_err()
                .to_string()
                .contains("not a participant")
        );
        let mut bad = ok.clone();
        bad["participants"] = serde_json::json!(["a@x.example"]);
        assert!(conv(bad).is_err());
        let mut bad = ok;
        bad["messages"][0]["time"] = "yesterday".into();
        assert!(conv(bad).unwrap_err().to_string().contains("RFC 3339"));
    }

    fn many_messages(n: usize, text: &str) -> serde_json::Value {
        let m = serde_json::json!({"sender": "a@x.example", "time": "2025-01-01T10:00:00Z", "text": text});
        serde_json::json!({"id": "c", "modality": "im", "participants": ["a@x.example", "b@x.example"],
            "messages": vec![m; n]})
    }

    #[test]
    fn encoded_text_len_is_what_the_request_carries() {
        let t = "a<b>c&d'e\"f\ng\rh\u{1}i\u{FFFE}j\u{e9}k\u{1F600}";
        assert_eq!(
            encoded_text_len(t),
            esc(&esc(t).replace('\n', "<br>")).len()
        );
    }

    /// Regression: 3.8 MB of '<' (a 4 MB body is accepted) was queued with 202 and became
    /// CreateItem requests over Exchange's 16 MiB limit that failed for good: refused at the edge
    /// (413) with what to do instead.
    #[test]
    fn a_transcript_exchange_cannot_take_is_refused_up_front() {
        let lt = "<".repeat(MAX_MESSAGE_CHARS);
        let e = conv(many_messages(240, &lt)).unwrap_err();
        assert_eq!(e.status(), 413, "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("escaped twice") && msg.contains("several POST /conversations/end"),
            "{msg}"
        );
        assert_eq!(e.failure_class(), crate::error::FailureClass::Permanent);
        // what is accepted fits in one request with room to spare, display names included
        let c = conv(many_messages(88, &lt)).unwrap();
        let users = HashMap::from([(
            "a@x.example".to_owned(),
            User {
                sip_address: "a@x.example".into(),
                user_principal_name: "a@x.example".into(),
                display_name: "<&>".repeat(80),
                primary_smtp_address: "a@x.example".into(),
                exchange_ews_url: None,
                enterprise_voice_enabled: false,
                hosted_voice_mail: false,
                enable_server_conversation_history: None,
                archiving_policy: None,
                presence: String::new(),
                presence_changed: 0,
                presence_note: None,
            },
        )]);
        let p = MessagePayload {
            item_class: "IPM.Note.Microsoft.Conversation".into(),
            subject: "Conversation with b".into(),
            html: transcript("Conversation with b", Modality::Im, &c, &users),
            from: Some(party(&users, "a@x.example")),
            to: vec![party(&users, "b@x.example")],
            sent: Some(0),
            internet_message_id: message_id("c", "a@x.example", "archive"),
        };
        let size = create_item_request_len(ARCHIVE_FOLDER, &p);
        assert!(size <= MAX_ITEM_REQUEST_BYTES, "{size}");
        assert!(size > 10 << 20, "{size}: the test is near the limit");
    }

    #[test]
    fn transcript_escapes_user_strings() {
        let c = conv(serde_json::json!({"id": "c", "modality": "im", "participants": ["a@x.example", "b@x.example"],
            "messages": [{"sender": "a@x.example", "time": "2025-01-01T10:00:00Z", "text": "<script>alert('x')</script> & \"q\""}]}))
        .unwrap();
        let h = transcript("T <b>", Modality::Im, &c, &HashMap::new());
        assert!(!h.contains("<script>"), "{h}");
        assert!(h.contains("&lt;script&gt;"));
        assert!(h.contains("T &lt;b&gt;"));
        assert_eq!(
            message_id("c-1", "a@x.example", "history"),
            message_id("c-1", "a@x.example", "history")
        );
        assert_ne!(
            message_id("c-1", "a@x.example", "history"),
            message_id("c-1", "b@x.example", "history")
        );
    }
}
