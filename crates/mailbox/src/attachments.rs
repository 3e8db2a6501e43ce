//! File attachments: validation, storage with their item, reads and deletes (EWS
//! CreateAttachment, GetAttachment, DeleteAttachment; MS-OXWSATT).
//!
//! An attachment belongs to one item (`attachments.item_id`, deleted with it by cascade), moves
//! with it (its id names the item's local id, which a move keeps) and is copied with it (the copy
//! gets attachments of its own). What the item shows of its attachments (how many, how many are
//! not inline, their bytes, also counted in `items.size`) is kept on the item's row by the
//! schema's triggers, in the transaction of every attachment write. Adding or deleting an
//! attachment is a change of its item: a new change number (change key) and a `Modified` event,
//! which syncs and notifications report. Attachment content is never logged: the types holding
//! it show its length only.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::MailboxError;
use crate::ids::{IdKind, attachment_local, encode_attachment_id, encode_change_key};
use crate::items::{check_guard, is_per_item, item_header, item_local, too_large, validate_short};
use crate::limits::{
    MAX_ATTACHMENT_BYTES, MAX_ATTACHMENT_NAME_CHARS, MAX_ATTACHMENTS_PER_ITEM,
    MAX_GET_ATTACHMENTS_BYTES, MAX_ITEM_ATTACHMENT_BYTES, MAX_ITEMS_PER_CALL,
};
use crate::model::{
    Attachment, AttachmentInfo, AttachmentRoot, AttachmentsCreated, EventKind, ItemGuard,
    MailboxKey, NewAttachment, from_micros, to_micros,
};
use crate::store::{
    MailboxStore, Mb, append_event, item_flags, mailbox_row, next_change_number, to_i64, to_u64,
    touch_folder,
};

/// One attachment's own bounds: its size ([`MailboxError::AttachmentTooLarge`]), its name, content
/// type and content id.
pub(crate) fn validate_attachment(a: &NewAttachment) -> Result<(), MailboxError> {
    if a.content.len() > MAX_ATTACHMENT_BYTES {
        return Err(MailboxError::AttachmentTooLarge {
            size: a.content.len(),
            limit: MAX_ATTACHMENT_BYTES,
        });
    }
    if let Some(name) = &a.name
        && (name.chars().count() > MAX_ATTACHMENT_NAME_CHARS || name.chars().any(char::is_control))
    {
        return Err(MailboxError::InvalidValue(format!(
            "an attachment name must be at most {MAX_ATTACHMENT_NAME_CHARS} characters without control characters"
        )));
    }
    for (what, v) in [
        ("attachment content type", &a.content_type),
        ("attachment content id", &a.content_id),
    ] {
        if let Some(v) = v {
            validate_short(what, v)?;
            if v.chars().any(char::is_control) {
                return Err(MailboxError::InvalidValue(format!(
                    "an {what} must not contain control characters"
                )));
            }
        }
    }
    Ok(())
}

/// The attachments of a new item: each on its own bounds, and together within an item's
/// ([`MAX_ATTACHMENTS_PER_ITEM`], [`MAX_ITEM_ATTACHMENT_BYTES`]).
pub(crate) fn validate_attachments(list: &[NewAttachment]) -> Result<(), MailboxError> {
    check_count(list.len())?;
    let mut total = 0usize;
    for (n, a) in list.iter().enumerate() {
        validate_attachment(a).map_err(|e| match e {
            MailboxError::InvalidValue(m) => {
                MailboxError::InvalidValue(format!("attachment {n}: {m}"))
            }
            e => e,
        })?;
        total = total.saturating_add(a.content.len());
    }
    check_total(total)
}

fn check_count(n: usize) -> Result<(), MailboxError> {
    if n > MAX_ATTACHMENTS_PER_ITEM {
        return Err(MailboxError::InvalidValue(format!(
            "an item holds at most {MAX_ATTACHMENTS_PER_ITEM} attachments; this one would hold {n}"
        )));
    }
    Ok(())
}

fn check_total(bytes: usize) -> Result<(), MailboxError> {
    too_large("the item's attachments", bytes, MAX_ITEM_ATTACHMENT_BYTES)
}

/// Inserts one (validated) attachment of item `item`; the triggers update the item's counts and
/// size. Returns its local id.
pub(crate) fn insert_attachment(
    tx: &Connection,
    item: i64,
    a: &NewAttachment,
    now_us: i64,
) -> Result<i64, MailboxError> {
    tx.prepare_cached(
        "INSERT INTO attachments (item_id, name, content_type, content_id, is_inline, \
         is_contact_photo, size, last_modified, content, is_item) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        item,
        a.name,
        a.content_type,
        a.content_id,
        a.is_inline,
        a.is_contact_photo,
        to_i64(a.content.len())?,
        now_us,
        a.content,
        a.is_item,
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Copies every attachment of item `from` to item `to`, in order (CopyItem).
pub(crate) fn copy_attachments(tx: &Connection, from: i64, to: i64) -> Result<(), MailboxError> {
    tx.prepare_cached(
        "INSERT INTO attachments (item_id, name, content_type, content_id, is_inline, \
         is_contact_photo, size, last_modified, content, is_item) \
         SELECT ?2, name, content_type, content_id, is_inline, is_contact_photo, size, \
         last_modified, content, is_item FROM attachments WHERE item_id = ?1 ORDER BY id",
    )?
    .execute(params![from, to])?;
    Ok(())
}

const INFO_COLS: &str = "a.id, a.name, a.content_type, a.content_id, a.is_inline, a.is_contact_photo, a.size, \
     a.last_modified, a.is_item";

fn read_info(mb: &Mb, item: i64, r: &rusqlite::Row<'_>) -> rusqlite::Result<RawInfo> {
    Ok(RawInfo {
        item,
        id: r.get(0)?,
        name: r.get(1)?,
        content_type: r.get(2)?,
        content_id: r.get(3)?,
        is_inline: r.get(4)?,
        is_contact_photo: r.get(5)?,
        size: r.get(6)?,
        last_modified: r.get(7)?,
        is_item: r.get(8)?,
        key: mb.key.clone(),
    })
}

/// An `attachments` row's properties as stored.
struct RawInfo {
    item: i64,
    id: i64,
    name: Option<String>,
    content_type: Option<String>,
    content_id: Option<String>,
    is_inline: bool,
    is_contact_photo: bool,
    size: i64,
    last_modified: i64,
    is_item: bool,
    key: String,
}

impl RawInfo {
    fn into_info(self) -> Result<AttachmentInfo, MailboxError> {
        Ok(AttachmentInfo {
            id: encode_attachment_id(&self.key, self.item, self.id),
            name: self.name,
            content_type: self.content_type,
            content_id: self.content_id,
            is_inline: self.is_inline,
            is_contact_photo: self.is_contact_photo,
            size: to_u64(self.size)?,
            last_modified: from_micros(self.last_modified)?,
            is_item: self.is_item,
        })
    }
}

/// The attachments of item `item` (properties only; the content is not read), in the order
/// they were added.
pub(crate) fn list_attachments(
    tx: &Connection,
    mb: &Mb,
    item: i64,
) -> Result<Vec<AttachmentInfo>, MailboxError> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {INFO_COLS} FROM attachments a WHERE a.item_id = ?1 ORDER BY a.id"
    ))?;
    let rows = stmt.query_map(params![item], |r| read_info(mb, item, r))?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r?.into_info()?);
    }
    Ok(out)
}

/// Records that an attachment write changed item `item` (in `folder`): a new change number,
/// its last-modified time, the folder's, and a `Modified` event. Returns the new change key.
fn item_changed(
    tx: &Connection,
    mb: &Mb,
    item: i64,
    folder: i64,
    is_associated: bool,
    now_us: i64,
) -> Result<String, MailboxError> {
    let cn = next_change_number(tx, mb.id)?;
    tx.prepare_cached("UPDATE items SET change_number = ?2, last_modified = ?3 WHERE id = ?1")?
        .execute(params![item, cn, now_us])?;
    touch_folder(tx, folder, cn, now_us)?;
    append_event(
        tx,
        mb,
        EventKind::Modified,
        item,
        folder,
        None,
        item_flags(is_associated),
        now_us,
    )?;
    Ok(encode_change_key(IdKind::Item, cn))
}

impl MailboxStore {
    /// Adds file attachments to an existing item (EWS CreateAttachment), in one transaction.
    /// Each attachment is answered on its own: one over its own bounds, or one the item has no
    /// room for ([`MAX_ATTACHMENTS_PER_ITEM`], [`MAX_ITEM_ATTACHMENT_BYTES`], counting the
    /// attachments before it), fails alone. When any is added, the item gets a new change key
    /// and a `Modified` event (one for the call). The item's own failures (unknown, malformed,
    /// kept out by `guard`, which is checked where the item is in this transaction) are the
    /// `Err`, and nothing is written.
    pub async fn create_attachments(
        &self,
        mailbox: &MailboxKey,
        item_id: String,
        attachments: Vec<NewAttachment>,
        guard: ItemGuard,
    ) -> Result<AttachmentsCreated, MailboxError> {
        if attachments.len() > MAX_ITEMS_PER_CALL {
            return Err(MailboxError::InvalidRequest(format!(
                "{} attachments in one call; at most {MAX_ITEMS_PER_CALL}",
                attachments.len()
            )));
        }
        let checked: Vec<Result<NewAttachment, MailboxError>> = attachments
            .into_iter()
            .map(|a| validate_attachment(&a).map(|()| a))
            .collect();
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let local = item_local(&mb, &item_id)?;
            let header = item_header(tx, &mb, local)?;
            check_guard(tx, &mb, header.folder, guard)?;
            let (count, bytes): (i64, i64) = tx
                .prepare_cached(
                    "SELECT attachment_count, attachment_bytes FROM items WHERE id = ?1",
                )?
                .query_row(params![local], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let mut count = usize::try_from(count)
                .map_err(|_| MailboxError::Corrupt("negative attachment count".into()))?;
            let mut bytes = usize::try_from(bytes)
                .map_err(|_| MailboxError::Corrupt("negative attachment bytes".into()))?;
            let now_us = to_micros(now)?;
            let mut results = Vec::with_capacity(checked.len());
            let mut added = false;
            for a in checked {
                let r = a.and_then(|a| {
                    check_count(count + 1)?;
                    check_total(bytes.saturating_add(a.content.len()))?;
                    let id = insert_attachment(tx, local, &a, now_us)?;
                    count += 1;
                    bytes = bytes.saturating_add(a.content.len());
                    added = true;
                    Ok(a.info(
                        encode_attachment_id(&mb.key, local, id),
                        from_micros(now_us)?,
                    ))
                });
                match r {
                    // this attachment's own failure; nothing of it was written
                    Ok(_)
                    | Err(
                        MailboxError::AttachmentTooLarge { .. }
                        | MailboxError::TooLarge { .. }
                        | MailboxError::InvalidValue(_),
                    ) => results.push(r),
                    Err(e) => return Err(e),
                }
            }
            let change_key = if added {
                item_changed(tx, &mb, local, header.folder, header.is_associated, now_us)?
            } else {
                encode_change_key(IdKind::Item, header.change_number)
            };
            Ok(AttachmentsCreated {
                root: AttachmentRoot {
                    item_id: mb.item_id(local),
                    change_key,
                },
                results,
            })
        })
        .await
    }

    /// File attachments by id, with their content, one result per id in order (EWS
    /// GetAttachment): `ItemNotFound` for an attachment that is gone, of an item that is gone,
    /// or of another mailbox; `InvalidIdMalformed` for garbage or an id of another kind. Past
    /// [`MAX_GET_ATTACHMENTS_BYTES`] of content read, the remaining ids are
    /// `ResponseBudgetExceeded`.
    pub async fn get_attachments(
        &self,
        mailbox: &MailboxKey,
        ids: Vec<String>,
    ) -> Result<Vec<Result<Attachment, MailboxError>>, MailboxError> {
        check_id_count(ids.len())?;
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            let mut out = Vec::with_capacity(ids.len());
            let mut loaded = 0usize;
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {INFO_COLS}, a.content FROM attachments a JOIN items i ON i.id = a.item_id \
                 WHERE a.id = ?1 AND a.item_id = ?2 AND i.mailbox_id = ?3"
            ))?;
            for id in &ids {
                if loaded > MAX_GET_ATTACHMENTS_BYTES {
                    out.push(Err(MailboxError::ResponseBudgetExceeded {
                        limit: MAX_GET_ATTACHMENTS_BYTES,
                    }));
                    continue;
                }
                let r = attachment_local(id, &mb.key).and_then(|(item, att)| {
                    let (info, content) = stmt
                        .query_row(params![att, item, mb.id], |r| {
                            Ok((read_info(&mb, item, r)?, r.get::<_, Vec<u8>>(9)?))
                        })
                        .optional()?
                        .ok_or(MailboxError::ItemNotFound)?;
                    Ok(Attachment {
                        info: info.into_info()?,
                        content,
                    })
                });
                match r {
                    Err(e) if !is_per_item(&e) => return Err(e),
                    Ok(a) => {
                        loaded = loaded.saturating_add(a.content.len());
                        out.push(Ok(a));
                    }
                    r => out.push(r),
                }
            }
            Ok(out)
        })
        .await
    }

    /// Deletes file attachments, one result per id in order, in one transaction (EWS
    /// DeleteAttachment): each success names its item with the change key it has after the
    /// call. Every item that lost an attachment gets one new change key and one `Modified`
    /// event. `ItemNotFound` for an attachment (or item) that is gone or of another mailbox;
    /// `guard` says which items this call may change, checked where each item is in this
    /// transaction ([`MailboxError::InRecoverableItems`] for that id).
    pub async fn delete_attachments(
        &self,
        mailbox: &MailboxKey,
        ids: Vec<String>,
        guard: ItemGuard,
    ) -> Result<Vec<Result<AttachmentRoot, MailboxError>>, MailboxError> {
        check_id_count(ids.len())?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let now_us = to_micros(now)?;
            // per id: its item's local id; the items changed, in the order first changed
            let mut done: Vec<Result<i64, MailboxError>> = Vec::with_capacity(ids.len());
            let mut changed: Vec<(i64, i64, bool)> = Vec::new();
            for id in &ids {
                let r = attachment_local(id, &mb.key).and_then(|(item, att)| {
                    let header = item_header(tx, &mb, item)?;
                    check_guard(tx, &mb, header.folder, guard)?;
                    let n = tx
                        .prepare_cached("DELETE FROM attachments WHERE id = ?1 AND item_id = ?2")?
                        .execute(params![att, item])?;
                    if n == 0 {
                        return Err(MailboxError::ItemNotFound);
                    }
                    if !changed.iter().any(|(i, _, _)| *i == item) {
                        changed.push((item, header.folder, header.is_associated));
                    }
                    Ok(item)
                });
                match r {
                    Err(e) if !is_per_item(&e) => return Err(e),
                    r => done.push(r),
                }
            }
            let mut keys = Vec::with_capacity(changed.len());
            for (item, folder, is_associated) in &changed {
                let ck = item_changed(tx, &mb, *item, *folder, *is_associated, now_us)?;
                keys.push((*item, ck));
            }
            Ok(done
                .into_iter()
                .map(|r| {
                    r.and_then(|item| {
                        let (_, ck) = keys
                            .iter()
                            .find(|(i, _)| *i == item)
                            .ok_or_else(|| MailboxError::Corrupt("lost a changed item".into()))?;
                        Ok(AttachmentRoot {
                            item_id: mb.item_id(item),
                            change_key: ck.clone(),
                        })
                    })
                })
                .collect())
        })
        .await
    }
}

fn check_id_count(n: usize) -> Result<(), MailboxError> {
    if n > MAX_ITEMS_PER_CALL {
        return Err(MailboxError::InvalidRequest(format!(
            "{n} ids in one call; at most {MAX_ITEMS_PER_CALL}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_are_bounded() {
        let ok = NewAttachment {
            name: Some("a.wav".into()),
            content: vec![0; 10],
            ..NewAttachment::default()
        };
        validate_attachments(std::slice::from_ref(&ok)).unwrap();
        let big = NewAttachment {
            content: vec![0; MAX_ATTACHMENT_BYTES + 1],
            ..ok.clone()
        };
        assert!(matches!(
            validate_attachment(&big),
            Err(MailboxError::AttachmentTooLarge { .. })
        ));
        let exact = NewAttachment {
            content: vec![0; MAX_ATTACHMENT_BYTES],
            ..ok.clone()
        };
        validate_attachment(&exact).unwrap();
        // three of the largest are over an item's total
        assert!(matches!(
            validate_attachments(&[exact.clone(), exact.clone(), exact]),
            Err(MailboxError::TooLarge { .. })
        ));
        assert!(matches!(
            validate_attachments(&vec![ok.clone(); MAX_ATTACHMENTS_PER_ITEM + 1]),
            Err(MailboxError::InvalidValue(_))
        ));
        validate_attachments(&vec![ok.clone(); MAX_ATTACHMENTS_PER_ITEM]).unwrap();
        for bad in [
            NewAttachment {
                name: Some("x".repeat(MAX_ATTACHMENT_NAME_CHARS + 1)),
                ..ok.clone()
            },
            NewAttachment {
                name: Some("a\u{0}.wav".into()),
                ..ok.clone()
            },
            NewAttachment {
                content_type: Some("text/plain\r\nX: y".into()),
                ..ok.clone()
            },
        ] {
            assert!(
                matches!(
                    validate_attachment(&bad),
                    Err(MailboxError::InvalidValue(_))
                ),
                "{bad:?}"
            );
        }
    }

    /// An id is no authority: one forged with this mailbox's key and another mailbox's item and
    /// attachment, or this mailbox's item and another's attachment, reaches nothing.
    #[tokio::test]
    async fn forged_ids_reach_no_other_mailbox() {
        use crate::{FolderSel, NewItem};
        let s = MailboxStore::open_in_memory().unwrap();
        let (alice, bob) = (
            MailboxKey::new("alice").unwrap(),
            MailboxKey::new("bob").unwrap(),
        );
        let mut made = Vec::new();
        for m in [&alice, &bob] {
            s.ensure_mailbox(m).await.unwrap();
            let item = NewItem {
                attachments: vec![NewAttachment {
                    content: m.as_str().as_bytes().to_vec(),
                    ..NewAttachment::default()
                }],
                ..NewItem::default()
            };
            let mut created = s
                .create_items(m, FolderSel::distinguished("inbox"), vec![item])
                .await
                .unwrap();
            let item = created.remove(0);
            made.push(attachment_local(&item.attachments[0].id, m.as_str()).unwrap());
        }
        let (alices, bobs) = (made[0], made[1]);
        for (item, att) in [bobs, (alices.0, bobs.1)] {
            let forged = encode_attachment_id("alice", item, att);
            let got = s
                .get_attachments(&alice, vec![forged.clone()])
                .await
                .unwrap();
            assert!(matches!(got[0], Err(MailboxError::ItemNotFound)), "{got:?}");
            let deleted = s
                .delete_attachments(&alice, vec![forged], ItemGuard::Any)
                .await
                .unwrap();
            assert!(matches!(deleted[0], Err(MailboxError::ItemNotFound)));
        }
        let bobs_item = crate::ids::encode_id(IdKind::Item, "alice", bobs.0);
        let r = s
            .create_attachments(
                &alice,
                bobs_item,
                vec![NewAttachment::default()],
                ItemGuard::Any,
            )
            .await;
        assert!(matches!(r, Err(MailboxError::ItemNotFound)), "{r:?}");
        // bob's is untouched
        let id = encode_attachment_id("bob", bobs.0, bobs.1);
        let got = s.get_attachments(&bob, vec![id]).await.unwrap();
        assert_eq!(got[0].as_ref().unwrap().content, b"bob");
    }

    #[test]
    fn debug_never_shows_content() {
        let a = NewAttachment {
            content: b"secret voice".to_vec(),
            ..NewAttachment::default()
        };
        let shown = format!("{a:?}");
        assert!(
            shown.contains("content_len: 12") && !shown.contains("115"),
            "{shown}"
        );
    }
}
