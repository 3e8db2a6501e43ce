//! Opaque folder/item ids and change keys.
//!
//! An id is unpadded URL-safe base64 of `[version=1][kind][key length][mailbox key][local id, u64 BE]`;
//! an attachment id carries two local ids, its item's and its own
//! (`[version=1]['A'][key length][mailbox key][item id, u64 BE][attachment id, u64 BE]`), so it
//! names the item it belongs to (a lookup checks both) and stays valid while the item moves.
//! It carries the mailbox key so a foreign id is recognised, but it is not an authorization token:
//! every lookup is also scoped to the mailbox the caller named, so a forged id can at most name an
//! object of that same mailbox. Decoding is strict (canonical base64 only), so each object has
//! exactly one id string. Local ids come from `AUTOINCREMENT` rowids and are never reused, so a
//! stale id never names a newer object.
//!
//! A change key is `[version=1][kind][change number, u64 BE]` in the same encoding; change numbers
//! are unique per mailbox and grow on every write.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::MailboxError;
use crate::model::MailboxKey;

const VERSION: u8 = 1;
/// Longest id string we even try to decode.
const MAX_ID_CHARS: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdKind {
    Folder,
    Item,
    /// A file attachment of an item (ids only; attachments have no change keys).
    Attachment,
    /// An occurrence of a recurring series: the series' local id and the occurrence's 1-based
    /// index (ids only; an occurrence's change key is its series').
    Occurrence,
}

impl IdKind {
    fn byte(self) -> u8 {
        match self {
            IdKind::Folder => b'F',
            IdKind::Item => b'I',
            IdKind::Attachment => b'A',
            IdKind::Occurrence => b'O',
        }
    }

    fn from_byte(b: u8) -> Option<IdKind> {
        match b {
            b'F' => Some(IdKind::Folder),
            b'I' => Some(IdKind::Item),
            b'A' => Some(IdKind::Attachment),
            b'O' => Some(IdKind::Occurrence),
            _ => None,
        }
    }

    /// Local ids after the mailbox key.
    fn locals(self) -> usize {
        match self {
            IdKind::Folder | IdKind::Item => 1,
            IdKind::Attachment | IdKind::Occurrence => 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedId {
    pub kind: IdKind,
    pub mailbox: String,
    /// The folder's or item's local id; for an attachment, its item's.
    pub local: i64,
    /// The second local: an attachment's own id, an occurrence's index.
    pub attachment: Option<i64>,
}

fn encode(kind: IdKind, mailbox: &str, locals: &[i64]) -> String {
    let key = mailbox.as_bytes();
    let mut buf = Vec::with_capacity(3 + key.len() + 8 * locals.len());
    buf.push(VERSION);
    buf.push(kind.byte());
    // Keys are validated to at most 255 bytes when the mailbox is created.
    buf.push(u8::try_from(key.len()).unwrap_or(u8::MAX));
    buf.extend_from_slice(key);
    for local in locals {
        buf.extend_from_slice(&local.to_be_bytes());
    }
    URL_SAFE_NO_PAD.encode(buf)
}

pub(crate) fn encode_id(kind: IdKind, mailbox: &str, local: i64) -> String {
    encode(kind, mailbox, &[local])
}

/// The id of attachment `attachment` of item `item`.
pub(crate) fn encode_attachment_id(mailbox: &str, item: i64, attachment: i64) -> String {
    encode(IdKind::Attachment, mailbox, &[item, attachment])
}

pub(crate) fn decode_id(id: &str) -> Result<ParsedId, MailboxError> {
    if id.is_empty() || id.len() > MAX_ID_CHARS {
        return Err(MailboxError::InvalidIdMalformed("bad length"));
    }
    let buf = URL_SAFE_NO_PAD
        .decode(id)
        .map_err(|_| MailboxError::InvalidIdMalformed("not base64url"))?;
    let [version, kind, key_len, rest @ ..] = buf.as_slice() else {
        return Err(MailboxError::InvalidIdMalformed("too short"));
    };
    if *version != VERSION {
        return Err(MailboxError::InvalidIdMalformed("unknown version"));
    }
    let kind = IdKind::from_byte(*kind).ok_or(MailboxError::InvalidIdMalformed("unknown kind"))?;
    let key_len = usize::from(*key_len);
    if rest.len() != key_len + 8 * kind.locals() {
        return Err(MailboxError::InvalidIdMalformed("bad length"));
    }
    let (key, locals) = rest.split_at(key_len);
    let key = std::str::from_utf8(key).map_err(|_| MailboxError::InvalidIdMalformed("bad key"))?;
    let key = MailboxKey::new(key).map_err(|_| MailboxError::InvalidIdMalformed("bad key"))?;
    let mut ids = locals.chunks_exact(8).map(|c| {
        let bytes: [u8; 8] = c
            .try_into()
            .map_err(|_| MailboxError::InvalidIdMalformed("bad length"))?;
        match i64::from_be_bytes(bytes) {
            n if n > 0 => Ok(n),
            _ => Err(MailboxError::InvalidIdMalformed("bad local id")),
        }
    });
    let local = ids
        .next()
        .ok_or(MailboxError::InvalidIdMalformed("bad length"))??;
    let attachment = ids.next().transpose()?;
    Ok(ParsedId {
        kind,
        mailbox: key.as_str().to_owned(),
        local,
        attachment,
    })
}

/// Decodes an id and checks it is of `kind` and belongs to `mailbox`; otherwise `not_found`
/// (foreign) or `InvalidIdMalformed` (garbage, or an id of the other kind).
pub(crate) fn local_id(
    id: &str,
    kind: IdKind,
    mailbox: &str,
    not_found: fn() -> MailboxError,
) -> Result<i64, MailboxError> {
    let parsed = decode_id(id)?;
    if parsed.kind != kind {
        return Err(MailboxError::InvalidIdMalformed(match kind {
            IdKind::Folder => "not a folder id",
            IdKind::Item => "not an item id",
            IdKind::Attachment => "not an attachment id",
            IdKind::Occurrence => "not an occurrence id",
        }));
    }
    if parsed.mailbox != mailbox {
        return Err(not_found());
    }
    Ok(parsed.local)
}

/// Decodes an attachment id of `mailbox`: (its item's local id, its own). An id of another
/// mailbox is [`MailboxError::ItemNotFound`]; garbage, or an id of another kind, is
/// `InvalidIdMalformed`.
pub(crate) fn attachment_local(id: &str, mailbox: &str) -> Result<(i64, i64), MailboxError> {
    let parsed = decode_id(id)?;
    let (IdKind::Attachment, Some(attachment)) = (parsed.kind, parsed.attachment) else {
        return Err(MailboxError::InvalidIdMalformed("not an attachment id"));
    };
    if parsed.mailbox != mailbox {
        return Err(MailboxError::ItemNotFound);
    }
    Ok((parsed.local, attachment))
}

/// The id of occurrence `index` (1-based) of the series whose item id is `series_id`: another
/// id string, which names the series and the index (EWS gives each occurrence an `ItemId` of its
/// own). `series_id` must be an item id.
pub fn occurrence_id(series_id: &str, index: u32) -> Result<String, MailboxError> {
    let parsed = decode_id(series_id)?;
    if parsed.kind != IdKind::Item {
        return Err(MailboxError::InvalidIdMalformed("not an item id"));
    }
    if index == 0 {
        return Err(MailboxError::InvalidIdMalformed("bad occurrence index"));
    }
    Ok(encode(
        IdKind::Occurrence,
        &parsed.mailbox,
        &[parsed.local, i64::from(index)],
    ))
}

/// If `id` is an occurrence id: its series' item id and the occurrence's index. `None` for any
/// other id, well-formed or not (those go the usual way and fail there as they always did).
pub fn parse_occurrence_id(id: &str) -> Option<(String, u32)> {
    let parsed = decode_id(id).ok()?;
    if parsed.kind != IdKind::Occurrence {
        return None;
    }
    let index = u32::try_from(parsed.attachment?).ok()?;
    Some((
        encode_id(IdKind::Item, &parsed.mailbox, parsed.local),
        index,
    ))
}

pub(crate) fn encode_change_key(kind: IdKind, change_number: i64) -> String {
    let mut buf = Vec::with_capacity(10);
    buf.push(VERSION);
    buf.push(kind.byte());
    buf.extend_from_slice(&change_number.to_be_bytes());
    URL_SAFE_NO_PAD.encode(buf)
}

/// Checks a presented change key against the object's current change number.
pub(crate) fn check_change_key(
    presented: &str,
    kind: IdKind,
    current: i64,
) -> Result<(), MailboxError> {
    if presented.len() > 64 {
        return Err(MailboxError::InvalidChangeKey);
    }
    let buf = URL_SAFE_NO_PAD
        .decode(presented)
        .map_err(|_| MailboxError::InvalidChangeKey)?;
    let [version, k, cn @ ..] = buf.as_slice() else {
        return Err(MailboxError::InvalidChangeKey);
    };
    let cn: [u8; 8] = cn.try_into().map_err(|_| MailboxError::InvalidChangeKey)?;
    if *version != VERSION || IdKind::from_byte(*k) != Some(kind) {
        return Err(MailboxError::InvalidChangeKey);
    }
    if i64::from_be_bytes(cn) != current {
        return Err(MailboxError::ChangeKeyConflict);
    }
    Ok(())
}

/// The mailbox a folder or item id belongs to, for routing a request that names objects by id.
/// This is not an authorization decision.
pub fn mailbox_of_id(id: &str) -> Result<MailboxKey, MailboxError> {
    let parsed = decode_id(id)?;
    MailboxKey::new(parsed.mailbox).map_err(|_| MailboxError::InvalidIdMalformed("bad key"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let id = encode_id(IdKind::Item, "mbx-1", 42);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        let p = decode_id(&id).unwrap();
        assert_eq!(
            p,
            ParsedId {
                kind: IdKind::Item,
                mailbox: "mbx-1".into(),
                local: 42,
                attachment: None,
            }
        );
        assert_eq!(
            local_id(&id, IdKind::Item, "mbx-1", || MailboxError::ItemNotFound).unwrap(),
            42
        );
        assert_eq!(mailbox_of_id(&id).unwrap().as_str(), "mbx-1");
    }

    #[test]
    fn attachment_ids_carry_item_and_attachment() {
        let id = encode_attachment_id("mbx-1", 42, 7);
        assert_eq!(attachment_local(&id, "mbx-1").unwrap(), (42, 7));
        assert!(matches!(
            attachment_local(&id, "mbx-2"),
            Err(MailboxError::ItemNotFound)
        ));
        // neither kind stands in for the other
        assert!(matches!(
            local_id(&id, IdKind::Item, "mbx-1", || MailboxError::ItemNotFound),
            Err(MailboxError::InvalidIdMalformed(_))
        ));
        let item = encode_id(IdKind::Item, "mbx-1", 42);
        assert!(matches!(
            attachment_local(&item, "mbx-1"),
            Err(MailboxError::InvalidIdMalformed(_))
        ));
        assert_eq!(mailbox_of_id(&id).unwrap().as_str(), "mbx-1");
        // one local id short, a zero attachment id, a trailing byte
        for bad in [
            URL_SAFE_NO_PAD.encode([1u8, b'A', 1, b'k', 0, 0, 0, 0, 0, 0, 0, 1]),
            URL_SAFE_NO_PAD.encode([
                1u8, b'A', 1, b'k', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0,
            ]),
            URL_SAFE_NO_PAD.encode([
                1u8, b'A', 1, b'k', 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9,
            ]),
        ] {
            assert!(
                matches!(
                    attachment_local(&bad, "k"),
                    Err(MailboxError::InvalidIdMalformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn foreign_and_wrong_kind() {
        let id = encode_id(IdKind::Folder, "mbx-1", 7);
        assert!(matches!(
            local_id(&id, IdKind::Folder, "mbx-2", || {
                MailboxError::FolderNotFound
            }),
            Err(MailboxError::FolderNotFound)
        ));
        assert!(matches!(
            local_id(&id, IdKind::Item, "mbx-1", || MailboxError::ItemNotFound),
            Err(MailboxError::InvalidIdMalformed(_))
        ));
    }

    #[test]
    fn garbage_is_malformed() {
        let good = encode_id(IdKind::Item, "k", 1);
        let mut truncated = good.clone();
        truncated.pop();
        let long = "A".repeat(600);
        let cases = [
            "",
            "!!!",
            "AAAA",
            "AQ",
            long.as_str(),
            truncated.as_str(),
            // valid base64 of the right shape but version 2
            &URL_SAFE_NO_PAD.encode([2u8, b'I', 1, b'k', 0, 0, 0, 0, 0, 0, 0, 1]),
            // local id 0 and negative
            &URL_SAFE_NO_PAD.encode([1u8, b'I', 1, b'k', 0, 0, 0, 0, 0, 0, 0, 0]),
            &URL_SAFE_NO_PAD.encode([1u8, b'I', 1, b'k', 255, 0, 0, 0, 0, 0, 0, 0]),
            // key length disagrees with the payload
            &URL_SAFE_NO_PAD.encode([1u8, b'I', 5, b'k', 0, 0, 0, 0, 0, 0, 0, 1]),
            // non-UTF-8 key, control character in key
            &URL_SAFE_NO_PAD.encode([1u8, b'I', 1, 0xff, 0, 0, 0, 0, 0, 0, 0, 1]),
            &URL_SAFE_NO_PAD.encode([1u8, b'I', 1, 0x01, 0, 0, 0, 0, 0, 0, 0, 1]),
            // padded form of a valid id
            &format!("{good}=="),
        ];
        for c in cases {
            assert!(
                matches!(decode_id(c), Err(MailboxError::InvalidIdMalformed(_))),
                "{c:?} decoded"
            );
        }
    }

    #[test]
    fn change_keys() {
        let ck = encode_change_key(IdKind::Item, 9);
        check_change_key(&ck, IdKind::Item, 9).unwrap();
        assert!(matches!(
            check_change_key(&ck, IdKind::Item, 10),
            Err(MailboxError::ChangeKeyConflict)
        ));
        assert!(matches!(
            check_change_key(&ck, IdKind::Folder, 9),
            Err(MailboxError::InvalidChangeKey)
        ));
        assert!(matches!(
            check_change_key("CK1", IdKind::Item, 9),
            Err(MailboxError::InvalidChangeKey)
        ));
        assert_ne!(ck, encode_change_key(IdKind::Item, 10));
    }
}
