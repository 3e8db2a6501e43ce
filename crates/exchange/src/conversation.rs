//! Conversations: the thread a message belongs to, as EWS shows it on every message
//! (`t:ConversationTopic`, `t:ConversationIndex`, `t:ConversationId`), kept in the MAPI
//! properties Exchange keeps them in (`PR_CONVERSATION_TOPIC` 0x0070, `PR_CONVERSATION_INDEX`
//! 0x0071, MS-OXOMSG 2.2.1.3 and 2.2.1.5).
//!
//! * The topic is the stored one, else the subject without its reply or forward prefix (one
//!   prefix of one to three letters followed by a colon and a space, `RE: `, `FW: `, `AW: `,
//!   the prefix MS-OXCMSG's `PidTagSubjectPrefix` splits off).
//! * The index is stored only where one was set: by a client (an extended property), or by a
//!   reply or forward composed here, which extends its original's index by a child block, or
//!   starts one whose header names the original's conversation.
//! * The id is the 16 bytes of the index header's GUID when the index has a header, else a hash
//!   of the topic (case ignored), base64-encoded: an original without an index and its replies
//!   have the same id. Clients treat it as opaque; it is this server's own derivation.
//!
//! Not modelled: finding items by conversation id (it is derived, not stored), and the
//! conversation operations (FindConversation, GetConversationItems).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};
use time::OffsetDateTime;

/// `PR_CONVERSATION_TOPIC` as an extended property key.
pub(crate) const TOPIC_KEY: &str = "tag:0x0070|type:string";
/// `PR_CONVERSATION_INDEX` as an extended property key (the value base64).
pub(crate) const INDEX_KEY: &str = "tag:0x0071|type:binary";

/// The length of an index header: a reserved byte, five bytes of time, a 16-byte GUID.
const HEADER_LEN: usize = 22;
/// The length of a child block.
const CHILD_LEN: usize = 5;
/// The longest index a reply extends (longer ones start a new header naming the conversation).
const MAX_INDEX_LEN: usize = 1024;

/// A subject without its reply or forward prefix.
pub(crate) fn topic_of(subject: &str) -> &str {
    if let Some(i) = subject.find(": ")
        && (1..=3).contains(&i)
        && subject[..i].chars().all(char::is_alphabetic)
    {
        return &subject[i + 2..];
    }
    subject
}

/// The conversation's 16 bytes: the index header's GUID, else a hash of the topic.
fn conversation_bytes(index: Option<&[u8]>, topic: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    match index {
        Some(i) if i.len() >= HEADER_LEN && i[0] == 0x01 => out.copy_from_slice(&i[6..HEADER_LEN]),
        _ => {
            let digest = Sha1::digest(topic.to_lowercase().as_bytes());
            out.copy_from_slice(&digest[..16]);
        }
    }
    out
}

/// What a message shows of its conversation: (id, index, topic).
pub(crate) struct Conversation {
    pub id: String,
    pub index: Option<String>,
    pub topic: String,
}

/// The conversation of a stored message (its subject and extended properties).
pub(crate) fn of(subject: Option<&str>, extended: &[(String, String)]) -> Conversation {
    let topic = crate::ews::extended_of(extended, TOPIC_KEY)
        .map(str::to_owned)
        .unwrap_or_else(|| topic_of(subject.unwrap_or_default()).to_owned());
    let index = crate::ews::extended_of(extended, INDEX_KEY).map(str::to_owned);
    let bytes = index
        .as_deref()
        .and_then(|i| STANDARD.decode(i.trim()).ok());
    Conversation {
        id: STANDARD.encode(conversation_bytes(bytes.as_deref(), &topic)),
        index,
        topic,
    }
}

/// 100-nanosecond intervals since 1601 (a Windows FILETIME).
fn filetime(t: OffsetDateTime) -> u64 {
    let since_1601 = t.unix_timestamp_nanos() / 100 + 116_444_736_000_000_000;
    u64::try_from(since_1601).unwrap_or(0)
}

/// The index of a reply or forward to a message of `conversation` at `now`: the original's
/// index with a child block (MS-OXOMSG 2.2.1.3: the time since the header, in units of
/// 2^18 FILETIME ticks, in 31 bits, and a random byte), or, for an original without a usable
/// one, a new header naming the original's conversation.
pub(crate) fn reply_index(original: &Conversation, now: OffsetDateTime, random: u8) -> String {
    let ft = filetime(now);
    let parsed = original
        .index
        .as_deref()
        .and_then(|i| STANDARD.decode(i.trim()).ok())
        .filter(|i| i.len() >= HEADER_LEN && i[0] == 0x01 && i.len() + CHILD_LEN <= MAX_INDEX_LEN);
    let mut index = match parsed {
        Some(i) => i,
        None => {
            let mut header = Vec::with_capacity(HEADER_LEN + CHILD_LEN);
            header.push(0x01);
            header.extend_from_slice(&(ft >> 24).to_be_bytes()[3..8]);
            let id = STANDARD.decode(&original.id).unwrap_or_default();
            header.extend_from_slice(&id);
            header.resize(HEADER_LEN, 0);
            header
        }
    };
    // the header's time, the high 40 bits of a FILETIME
    let mut header_time = [0u8; 8];
    header_time[3..8].copy_from_slice(&index[1..6]);
    let since = ft.saturating_sub(u64::from_be_bytes(header_time) << 24);
    let delta = u32::try_from((since >> 18).min(0x7fff_ffff)).unwrap_or(0x7fff_ffff);
    index.extend_from_slice(&delta.to_be_bytes());
    index.push(random);
    STANDARD.encode(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_prefix_of_one_to_three_letters_is_not_the_topic() {
        for (subject, topic) in [
            ("RE: Numbers", "Numbers"),
            ("FW: Numbers", "Numbers"),
            ("AW: Zahlen", "Zahlen"),
            ("RE: RE: Numbers", "RE: Numbers"),
            ("Numbers: Q3", "Numbers: Q3"),
            ("Q3: numbers", "Q3: numbers"),
            ("12: x", "12: x"),
            ("Numbers", "Numbers"),
            ("", ""),
        ] {
            assert_eq!(topic_of(subject), topic, "{subject:?}");
        }
    }

    #[test]
    fn a_thread_has_one_id_with_or_without_an_index() {
        let original = of(Some("Numbers"), &[]);
        assert_eq!(original.topic, "Numbers");
        assert_eq!(original.index, None);
        // the same topic, any case: the same conversation
        assert_eq!(of(Some("RE: numbers"), &[]).id, original.id);
        assert_ne!(of(Some("Other"), &[]).id, original.id);
        // a reply's index starts a header naming the original's conversation
        let now = datetime!(2030-03-04 09:30 UTC);
        let index = reply_index(&original, now, 7);
        let bytes = STANDARD.decode(&index).unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + CHILD_LEN);
        assert_eq!(bytes[0], 0x01);
        let reply = of(
            Some("RE: Numbers"),
            &[(INDEX_KEY.to_owned(), index.clone())],
        );
        assert_eq!(reply.id, original.id);
        // a reply to the reply extends its index by one child block, same conversation
        let later = reply_index(&reply, now + time::Duration::hours(1), 9);
        let later_bytes = STANDARD.decode(&later).unwrap();
        assert_eq!(later_bytes.len(), HEADER_LEN + 2 * CHILD_LEN);
        assert_eq!(&later_bytes[..bytes.len()], &bytes[..]);
        assert_eq!(
            of(Some("RE: Numbers"), &[(INDEX_KEY.to_owned(), later)]).id,
            original.id
        );
        // a stored topic wins over the subject
        let stored = of(
            Some("RE: Numbers"),
            &[(TOPIC_KEY.to_owned(), "Quarterly".to_owned())],
        );
        assert_eq!(stored.topic, "Quarterly");
    }

    #[test]
    fn an_index_that_is_no_header_is_not_extended() {
        let odd = Conversation {
            id: STANDARD.encode([5u8; 16]),
            index: Some(STANDARD.encode([9u8; 10])),
            topic: "x".into(),
        };
        let bytes = STANDARD
            .decode(reply_index(&odd, datetime!(2030-01-01 0:00 UTC), 1))
            .unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + CHILD_LEN);
        assert_eq!(&bytes[6..HEADER_LEN], &[5u8; 16]);
    }
}
