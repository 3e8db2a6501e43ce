//! Sending inside the store: the sender's side (the sent message saved, moved or deleted) and a
//! copy delivered to the Inbox of each recipient mailbox, all in one write transaction (every
//! mailbox lives in the same SQLite database), so no half-sent state is ever visible: either
//! every recipient has its copy and the sender's side is done, or nothing was written.
//!
//! Which recipients are mailboxes of this store is the caller's to decide (the directory knows
//! addresses, the store knows keys); the store writes what [`Send`] says.

use rusqlite::{Connection, params};

use crate::error::MailboxError;
use crate::ids::{IdKind, check_change_key, encode_change_key};
use crate::items::{
    Prepared, apply_update, check_guard, delete_local, insert_item, item_header, item_local,
    load_item, move_local, prepare, refresh_size, validated_update,
};
use crate::limits::MAX_RECIPIENTS_PER_MESSAGE;
use crate::model::*;
use crate::store::{
    EVENT_NEW_MAIL, MailboxStore, Mb, append_event, distinguished_folder, item_flags, mailbox_row,
    next_change_number, resolve_folder, touch_folder,
};

/// What one send writes besides the message itself.
#[derive(Debug, Clone)]
pub struct Send {
    /// The acting mailbox's address: From and Sender of the sent message and of every delivered
    /// copy.
    pub from: Recipient,
    /// The message's InternetMessageId when it has none.
    pub message_id: String,
    /// Mailboxes whose Inbox receives a copy, each once (the sender's own too when it is a
    /// recipient). At most [`MAX_RECIPIENTS_PER_MESSAGE`]; every one must exist in the store.
    pub deliver_to: Vec<MailboxKey>,
    /// Where the sender keeps the sent message (a folder of the sender's mailbox). `None`: no
    /// copy is kept (CreateItem `SendOnly`; SendItem deletes the draft).
    pub save_in: Option<FolderSel>,
    /// An item for the sender's Inbox written with the rest (the non-delivery report naming the
    /// recipients that could not be delivered to).
    pub report: Option<NewItem>,
    /// For a stored message: the change key of the version whose recipients `deliver_to` was
    /// decided from. If the message changed since, the send is refused
    /// ([`MailboxError::ChangeKeyConflict`]), so that nobody is delivered a message whose
    /// recipient lines no longer name them.
    pub routed_version: Option<String>,
    /// The sender's item this message answers (a reply or forward), marked as answered in the
    /// same transaction: these extended properties set on it (`PR_LAST_VERB_EXECUTED` and its
    /// time, `PR_ICON_INDEX`). An item that is gone by then is left alone.
    pub answered: Option<Answered>,
    /// Each of [`Send::deliver_to`]'s own addresses, in the same order (what its Inbox rules'
    /// "sent to me" conditions compare with); missing or empty: none are known.
    pub recipient_addresses: Vec<Vec<String>>,
}

/// [`Send::answered`]: an item of the sender's mailbox and the extended properties to set on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub item_id: String,
    pub set_extended: Vec<(String, String)>,
}

/// What a send wrote.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The sender's copy, where [`Send::save_in`] put it (without body).
    pub saved: Option<Item>,
    /// Each delivered copy, in the order of [`Send::deliver_to`] (without body).
    pub delivered: Vec<Item>,
    /// The report in the sender's Inbox (without body).
    pub report: Option<Item>,
    /// What the recipients' Inbox rules forward or redirect, for the caller to send.
    pub forwards: Vec<crate::rules::RuleForward>,
}

fn check_send(s: &Send) -> Result<(), MailboxError> {
    if s.deliver_to.len() > MAX_RECIPIENTS_PER_MESSAGE {
        return Err(MailboxError::InvalidRequest(format!(
            "{} recipient mailboxes; a message is delivered to at most {MAX_RECIPIENTS_PER_MESSAGE}",
            s.deliver_to.len()
        )));
    }
    if s.message_id.is_empty() {
        return Err(MailboxError::InvalidValue(
            "an internet message id must not be empty".into(),
        ));
    }
    crate::items::validate_short("internet message id", &s.message_id)?;
    crate::items::validate_short("sender address", &s.from.email)?;
    Ok(())
}

/// Each recipient mailbox with the folder mail from `sender` is delivered to there, looked up
/// in the write's transaction: its Inbox, or Junk Email for a sender it blocks
/// (`crate::junk`), and whether that is the Inbox.
fn inboxes(
    tx: &Connection,
    keys: &[MailboxKey],
    sender: &str,
) -> Result<Vec<(Mb, i64, bool)>, MailboxError> {
    keys.iter()
        .map(|k| {
            let mb = mailbox_row(tx, k.as_str())?;
            let (folder, inbox) = crate::junk::delivery_folder(tx, &mb, sender)?;
            Ok((mb, folder, inbox))
        })
        .collect()
}

/// After a copy is delivered to `mb` (the `i`th of the send's recipients): its Inbox rules,
/// when it went to the Inbox (mail filed as junk is not processed).
fn after_delivery(
    tx: &Connection,
    mb: &Mb,
    inbox: bool,
    copy: i64,
    addresses: &[Vec<String>],
    i: usize,
    now_us: i64,
) -> Result<Vec<crate::rules::RuleForward>, MailboxError> {
    if !inbox {
        return Ok(Vec::new());
    }
    let me = crate::rules::own_addresses(addresses, i);
    crate::rules::run_rules(tx, mb, copy, me, now_us)
}

/// The non-delivery report to write, as delivered mail.
fn delivered_report(report: Option<NewItem>) -> Result<Option<Prepared>, MailboxError> {
    let Some(r) = report else {
        return Ok(None);
    };
    let mut p = prepare(r)?;
    p.delivered = true;
    Ok(Some(p))
}

/// A non-delivery report into the sender's Inbox, then its Inbox rules run on it: the report,
/// and what the rules forward (added to `forwards`).
pub(crate) fn write_report(
    tx: &Connection,
    mb: &Mb,
    report: Option<&Prepared>,
    forwards: &mut Vec<crate::rules::RuleForward>,
    now_us: i64,
) -> Result<Option<Item>, MailboxError> {
    let Some(p) = report else {
        return Ok(None);
    };
    let inbox = distinguished_folder(tx, mb, crate::distinguished::INBOX)?;
    let id = insert_item(tx, mb, inbox, p, None, now_us)?;
    let report = load_item(tx, mb, id, false)?;
    forwards.extend(crate::rules::run_rules(tx, mb, id, &[], now_us)?);
    Ok(Some(report))
}

impl MailboxStore {
    /// Sends a new message (EWS CreateItem with `SendOnly` or `SendAndSaveCopy`): the sender's
    /// copy (From and Sender the acting mailbox, read, `DateTimeSent` now, with its Bcc) is saved
    /// in [`Send::save_in`] if given, and each recipient mailbox gets an unread copy in its Inbox
    /// without the Bcc line, received now. Everything, the report included, is one transaction.
    pub async fn send_new(
        &self,
        sender: &MailboxKey,
        item: NewItem,
        send: Send,
    ) -> Result<Sent, MailboxError> {
        check_send(&send)?;
        if item.is_associated {
            return Err(MailboxError::InvalidRequest(
                "an associated item cannot be sent".into(),
            ));
        }
        let mut item = item;
        item.from = Some(send.from.clone());
        item.sender = Some(send.from.clone());
        if item.internet_message_id.is_none() {
            item.internet_message_id = Some(send.message_id.clone());
        }
        item.date_time_created = None;
        item.is_read = true;
        item.is_draft = false;
        let mut saved = prepare(item)?;
        let mut delivered = saved.clone();
        delivered.item.bcc.clear();
        delivered.item.is_read = false;
        delivered.delivered = true;
        let report = delivered_report(send.report)?;
        let key = sender.as_str().to_owned();
        self.write(move |tx, now| {
            let now_us = to_micros(now)?;
            saved.sent = Some(now_us);
            delivered.sent = Some(now_us);
            let mb = mailbox_row(tx, &key)?;
            let save_in = send
                .save_in
                .as_ref()
                .map(|f| resolve_folder(tx, &mb, f))
                .transpose()?;
            let targets = inboxes(tx, &send.deliver_to, &send.from.email)?;
            let saved = match save_in {
                Some(folder) => {
                    let id = insert_item(tx, &mb, folder, &saved, None, now_us)?;
                    Some(load_item(tx, &mb, id, false)?)
                }
                None => None,
            };
            let mut out = Vec::with_capacity(targets.len());
            let mut forwards = Vec::new();
            for (i, (rmb, folder, inbox)) in targets.iter().enumerate() {
                let id = insert_item(tx, rmb, *folder, &delivered, None, now_us)?;
                out.push(load_item(tx, rmb, id, false)?);
                forwards.extend(after_delivery(
                    tx,
                    rmb,
                    *inbox,
                    id,
                    &send.recipient_addresses,
                    i,
                    now_us,
                )?);
            }
            let report = write_report(tx, &mb, report.as_ref(), &mut forwards, now_us)?;
            if let Some(a) = &send.answered {
                mark_answered(tx, &mb, a, now_us)?;
            }
            Ok(Sent {
                saved,
                delivered: out,
                report,
                forwards,
            })
        })
        .await
    }

    /// Sends an existing item of the sender's mailbox (EWS SendItem): with `change_key`, a
    /// stale key is [`MailboxError::ChangeKeyConflict`] and nothing is written. The item becomes
    /// the sent message (From and Sender the acting mailbox, read, `DateTimeSent` now, an
    /// InternetMessageId if it had none), each recipient mailbox gets an unread copy in its
    /// Inbox without the Bcc line, and then the item moves to [`Send::save_in`] or, without it,
    /// is deleted. `guard` says which items this call may send. One transaction.
    ///
    /// The caller chose `deliver_to` from the item's recipients as it read them before (as
    /// `update` changes them); [`Send::routed_version`] makes sure they are still the ones sent
    /// to here.
    pub async fn send_item(
        &self,
        sender: &MailboxKey,
        id: String,
        change_key: Option<String>,
        guard: ItemGuard,
        send: Send,
    ) -> Result<Sent, MailboxError> {
        self.update_and_send_item(sender, id, change_key, false, None, guard, send)
            .await
            .map(|(sent, _)| sent)
    }

    /// Applies `update` to an existing item of the sender's mailbox and sends it, as
    /// [`MailboxStore::send_item`] does, in one transaction (EWS UpdateItem with
    /// `MessageDisposition` `SendOnly` or `SendAndSaveCopy`): a failing field, a stale change
    /// key or a failing send writes nothing. A stale `change_key` is
    /// [`MailboxError::ChangeKeyConflict`] unless `overwrite`, in which case the item is updated
    /// and sent anyway and the returned flag says a conflict was overridden (as
    /// [`MailboxStore::update_item_resolving`]). `None` sends the item as it is.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_and_send_item(
        &self,
        sender: &MailboxKey,
        id: String,
        change_key: Option<String>,
        overwrite: bool,
        update: Option<ItemUpdate>,
        guard: ItemGuard,
        send: Send,
    ) -> Result<(Sent, bool), MailboxError> {
        check_send(&send)?;
        let update = update.map(validated_update).transpose()?;
        let report = delivered_report(send.report)?;
        let from = serde_json::to_string(&send.from)
            .map_err(|e| MailboxError::InvalidValue(e.to_string()))?;
        let key = sender.as_str().to_owned();
        self.write(move |tx, now| {
            let now_us = to_micros(now)?;
            let mb = mailbox_row(tx, &key)?;
            let local = item_local(&mb, &id)?;
            let header = item_header(tx, &mb, local)?;
            check_guard(tx, &mb, header.folder, guard)?;
            let mut conflicted = false;
            if let Some(ck) = &change_key {
                match check_change_key(ck, IdKind::Item, header.change_number) {
                    Err(MailboxError::ChangeKeyConflict) if overwrite => conflicted = true,
                    r => r?,
                }
            }
            if header.is_associated || header.config_name.is_some() {
                return Err(MailboxError::InvalidRequest(
                    "an associated item cannot be sent".into(),
                ));
            }
            if send
                .routed_version
                .as_ref()
                .is_some_and(|v| *v != encode_change_key(IdKind::Item, header.change_number))
            {
                return Err(MailboxError::ChangeKeyConflict);
            }
            let save_in = send
                .save_in
                .as_ref()
                .map(|f| resolve_folder(tx, &mb, f))
                .transpose()?;
            let targets = inboxes(tx, &send.deliver_to, &send.from.email)?;
            if let Some(update) = &update {
                apply_update(tx, local, update, now_us)?;
                refresh_size(tx, &mb, local)?;
            }
            // the item becomes the sent message
            let cn = next_change_number(tx, mb.id)?;
            tx.prepare_cached(
                "UPDATE items SET from_json = ?2, sender_json = ?2, \
                 internet_message_id = coalesce(internet_message_id, ?3), sent = ?4, is_read = 1, \
                 is_draft = 0, change_number = ?5, last_modified = ?4 WHERE id = ?1",
            )?
            .execute(params![local, from, send.message_id, now_us, cn])?;
            touch_folder(tx, header.folder, cn, now_us)?;
            append_event(
                tx,
                &mb,
                EventKind::Modified,
                local,
                header.folder,
                None,
                item_flags(false),
                now_us,
            )?;
            let mut out = Vec::with_capacity(targets.len());
            let mut forwards = Vec::new();
            for (i, (rmb, folder, inbox)) in targets.iter().enumerate() {
                let copy = deliver_copy(tx, local, rmb, *folder, now_us)?;
                out.push(load_item(tx, rmb, copy, false)?);
                forwards.extend(after_delivery(
                    tx,
                    rmb,
                    *inbox,
                    copy,
                    &send.recipient_addresses,
                    i,
                    now_us,
                )?);
            }
            let saved = match save_in {
                Some(to) => {
                    if to != header.folder {
                        let header = item_header(tx, &mb, local)?;
                        move_local(tx, &mb, local, &header, to, now_us)?;
                    }
                    Some(load_item(tx, &mb, local, false)?)
                }
                None => {
                    delete_local(tx, &mb, local, header.folder, false, now_us)?;
                    None
                }
            };
            let report = write_report(tx, &mb, report.as_ref(), &mut forwards, now_us)?;
            if let Some(a) = &send.answered {
                mark_answered(tx, &mb, a, now_us)?;
            }
            Ok((
                Sent {
                    saved,
                    delivered: out,
                    report,
                    forwards,
                },
                conflicted,
            ))
        })
        .await
    }
}

/// Copies a sent item (row, body, extended properties, attachments) into `inbox` of `to`, as the
/// recipient receives it: unread, no Bcc line, created and received now. Returns the copy's id.
fn deliver_copy(
    tx: &Connection,
    local: i64,
    to: &Mb,
    inbox: i64,
    now_us: i64,
) -> Result<i64, MailboxError> {
    let cn = next_change_number(tx, to.id)?;
    tx.prepare_cached(
        "INSERT INTO items (mailbox_id, folder_id, is_associated, item_class, config_name, subject, \
         from_json, sender_json, to_json, cc_json, bcc_json, importance, sensitivity, \
         categories_json, is_read, internet_message_id, sent, created, received, last_modified, \
         start_time, end_time, is_all_day, free_busy, location, size, change_number) \
         SELECT ?2, ?3, 0, item_class, NULL, subject, from_json, sender_json, to_json, cc_json, \
         '[]', importance, sensitivity, categories_json, 0, internet_message_id, sent, ?4, ?4, ?4, \
         start_time, end_time, is_all_day, free_busy, location, size - attachment_bytes, ?5 \
         FROM items WHERE id = ?1",
    )?
    .execute(params![local, to.id, inbox, now_us, cn])?;
    let id = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO item_bodies (item_id, body_type, content) \
         SELECT ?2, body_type, content FROM item_bodies WHERE item_id = ?1",
    )?
    .execute(params![local, id])?;
    tx.prepare_cached(
        "INSERT INTO item_props (item_id, key, value) \
         SELECT ?2, key, value FROM item_props WHERE item_id = ?1",
    )?
    .execute(params![local, id])?;
    crate::attachments::copy_attachments(tx, local, id)?;
    touch_folder(tx, inbox, cn, now_us)?;
    append_event(
        tx,
        to,
        EventKind::Created,
        id,
        inbox,
        None,
        item_flags(false) | EVENT_NEW_MAIL,
        now_us,
    )?;
    Ok(id)
}

/// Sets [`Send::answered`]'s properties on the answered item, a change of it (change key,
/// `Modified` event); nothing when it is gone or not an item of this mailbox.
fn mark_answered(
    tx: &rusqlite::Connection,
    mb: &Mb,
    a: &Answered,
    now_us: i64,
) -> Result<(), MailboxError> {
    let local = match crate::items::item_local(mb, &a.item_id) {
        Ok(l) => l,
        Err(MailboxError::ItemNotFound | MailboxError::InvalidIdMalformed(_)) => return Ok(()),
        Err(e) => return Err(e),
    };
    let header = match crate::items::item_header(tx, mb, local) {
        Ok(h) => h,
        Err(MailboxError::ItemNotFound) => return Ok(()),
        Err(e) => return Err(e),
    };
    let update = crate::items::validated_update(crate::model::ItemUpdate {
        set_extended: a.set_extended.clone(),
        ..crate::model::ItemUpdate::default()
    })?;
    crate::items::write_update(tx, mb, local, &header, &update, now_us)?;
    Ok(())
}
