//! Meetings inside the store: a single (non-recurring) meeting among this store's mailboxes, as
//! Exchange's transport and calendar attendant make it.
//!
//! - [`MailboxStore::create_meeting`]: the organizer's calendar item saved, and for each attendee
//!   mailbox a meeting request (`IPM.Schedule.Meeting.Request`, unread) in its Inbox and a copy
//!   of the meeting on its Calendar (Tentative, `NoResponseReceived`), what the calendar
//!   attendant puts there; optionally a copy of the request in the organizer's Sent Items.
//! - [`MailboxStore::respond_to_meeting`]: an attendee's accept, tentative or decline: its copy
//!   Busy or Tentative (declined: moved to Deleted Items), its requests marked answered, a
//!   meeting response (`IPM.Schedule.Meeting.Resp.Pos|Tent|Neg`) in the organizer's Inbox and
//!   the attendee's answer and its time on the organizer's item.
//! - [`MailboxStore::cancel_meeting`]: a cancellation (`IPM.Schedule.Meeting.Canceled`) in each
//!   attendee's Inbox, their copies cancelled and Free, the organizer's item deleted.
//! - [`MailboxStore::update_meeting`]: the organizer's item changed and an updated request sent,
//!   each attendee's copy moved to the new time (answers reset to `NoResponseReceived`).
//!
//! Each is one write transaction across the mailboxes (all live in one SQLite database), with a
//! `Created` event (flagged new mail) for each message delivered and a `Modified` or `Moved`
//! event for each copy changed, as mail delivery has: either all of it happened or none. Copies
//! and messages are found by the meeting's uid (`meeting_uid`, indexed per mailbox) inside the
//! write, so a copy moved or changed since the caller read anything is still the one changed.
//! A refused call (not a meeting item, the organizer answering, a cancelled meeting) writes
//! nothing.
//!
//! Which attendees are mailboxes of this store is the caller's to decide, as for sending.

use rusqlite::{Connection, params};

use crate::delegates::MeetingDelivery;
use crate::error::MailboxError;
use crate::items::{
    Prepared, delete_one, insert_item, item_header, item_local, load_item, move_local, prepare,
    validate_attendee_count,
};
use crate::model::*;
use crate::send::write_report;
use crate::store::{
    MailboxStore, Mb, append_event, distinguished_folder, folder_distinguished, item_flags,
    mailbox_row, next_change_number, resolve_folder, touch_folder,
};

/// Item class of a meeting request.
pub const REQUEST_CLASS: &str = "IPM.Schedule.Meeting.Request";
/// Item class of a meeting cancellation.
pub const CANCELED_CLASS: &str = "IPM.Schedule.Meeting.Canceled";
/// Item class of a calendar item.
pub const APPOINTMENT_CLASS: &str = "IPM.Appointment";

/// Item class of a meeting response carrying `r` (`Accept`, `Tentative`, `Decline`).
pub fn response_class(r: ResponseType) -> &'static str {
    match r {
        ResponseType::Decline => "IPM.Schedule.Meeting.Resp.Neg",
        ResponseType::Tentative => "IPM.Schedule.Meeting.Resp.Tent",
        _ => "IPM.Schedule.Meeting.Resp.Pos",
    }
}

/// The subject prefix of a response carrying `r`, as Exchange writes it.
fn response_prefix(r: ResponseType) -> &'static str {
    match r {
        ResponseType::Decline => "Declined: ",
        ResponseType::Tentative => "Tentative: ",
        _ => "Accepted: ",
    }
}

fn prefixed(prefix: &str, subject: Option<&str>) -> Option<String> {
    Some(format!("{prefix}{}", subject.unwrap_or("")))
}

/// Sending a new meeting's invitations ([`MailboxStore::create_meeting`]).
#[derive(Debug, Clone)]
pub struct Invite {
    /// The organizer's address: From of every request, and its Sender unless
    /// [`Invite::sender`] is set.
    pub from: Recipient,
    /// Who sends the requests for the organizer (a delegate: "on behalf of"); `None`: the
    /// organizer.
    pub sender: Option<Recipient>,
    /// The requests' InternetMessageId.
    pub message_id: String,
    /// The attendees' mailboxes, each once, at most [`crate::limits::MAX_ATTENDEES`] (the
    /// organizer's own is skipped).
    pub deliver_to: Vec<MailboxKey>,
    /// Keep a copy of the request in the organizer's Sent Items (`SendToAllAndSaveCopy`).
    pub save_copy: bool,
    /// The non-delivery report for the organizer's Inbox, naming the attendees not reached.
    pub report: Option<NewItem>,
    /// An update ([`MailboxStore::update_meeting`]) only: the mailboxes of attendees the update
    /// removed, each sent a cancellation and its copy cancelled (those still in
    /// [`Invite::deliver_to`] are not).
    pub cancel_to: Vec<MailboxKey>,
    /// Each of [`Invite::deliver_to`]'s own addresses, in the same order (its Inbox rules'
    /// "sent to me"); missing or empty: none are known.
    pub recipient_addresses: Vec<Vec<String>>,
}

/// What [`MailboxStore::create_meeting`] wrote (items without body).
#[derive(Debug, Clone)]
pub struct Invited {
    /// The organizer's calendar item.
    pub item: Item,
    /// Each attendee's meeting request, in the order of [`Invite::deliver_to`].
    pub requests: Vec<Item>,
    /// Each attendee's calendar copy, in the same order.
    pub calendar_copies: Vec<Item>,
    /// The copy of the request in the organizer's Sent Items.
    pub sent_copy: Option<Item>,
    pub report: Option<Item>,
    /// What the attendees' Inbox rules forward or redirect, for the caller to send.
    pub forwards: Vec<crate::rules::RuleForward>,
}

/// An attendee's answer ([`MailboxStore::respond_to_meeting`]).
#[derive(Debug, Clone)]
pub struct Reply {
    /// `Accept`, `Tentative` or `Decline` (anything else is refused).
    pub response: ResponseType,
    /// The attendee's address: From of the response, and its Sender unless [`Reply::sender`]
    /// is set.
    pub from: Recipient,
    /// Who answers for the attendee (a delegate: "on behalf of"); `None`: the attendee.
    pub sender: Option<Recipient>,
    /// Every address the attendee may be listed under on the organizer's item (its proxy
    /// addresses), compared ASCII case-insensitively.
    pub addresses: Vec<String>,
    /// The response's InternetMessageId.
    pub message_id: String,
    /// The organizer's mailbox, when the response is sent and it is one of this store's: the
    /// response is delivered there and the organizer's item records the answer. `None`: nothing
    /// is delivered (`SaveOnly`, or an organizer outside).
    pub organizer: Option<MailboxKey>,
    /// Where the attendee keeps the response (Sent Items for `SendAndSaveCopy`).
    pub save_in: Option<FolderSel>,
    /// The response's own subject (default: "Accepted: " and the meeting's) and body.
    pub subject: Option<String>,
    pub body: Option<Body>,
}

/// What [`MailboxStore::respond_to_meeting`] wrote (items without body).
#[derive(Debug, Clone)]
pub struct Responded {
    /// The attendee's calendar copy as it is now (in Deleted Items after a decline).
    pub calendar_item: Item,
    /// The response in the organizer's Inbox.
    pub delivered: Option<Item>,
    /// The attendee's own copy of the response.
    pub saved: Option<Item>,
    /// What the organizer's Inbox rules forward of the response, for the caller to send.
    pub forwards: Vec<crate::rules::RuleForward>,
}

/// The organizer's cancellation of a meeting ([`MailboxStore::cancel_meeting`]).
#[derive(Debug, Clone)]
pub struct Cancel {
    /// The organizer's address: From of the cancellations, and their Sender unless
    /// [`Cancel::sender`] is set.
    pub from: Recipient,
    /// Who cancels for the organizer (a delegate: "on behalf of"); `None`: the organizer.
    pub sender: Option<Recipient>,
    pub message_id: String,
    /// The attendees' mailboxes (the organizer's own is skipped).
    pub deliver_to: Vec<MailboxKey>,
    /// Keep a copy of the cancellation in the organizer's Sent Items.
    pub save_copy: bool,
    /// How the organizer's item goes.
    pub delete: DeleteMode,
    /// The cancellation's own subject (default: "Canceled: " and the meeting's) and body.
    pub subject: Option<String>,
    pub body: Option<Body>,
    pub report: Option<NewItem>,
    /// Each of [`Cancel::deliver_to`]'s own addresses, in the same order (its Inbox rules'
    /// "sent to me", the line its delegates' copies stand for); missing or empty: none known.
    pub recipient_addresses: Vec<Vec<String>>,
}

/// What [`MailboxStore::cancel_meeting`] wrote (items without body).
#[derive(Debug, Clone)]
pub struct Cancelled {
    /// Each attendee's cancellation, in the order of [`Cancel::deliver_to`].
    pub delivered: Vec<Item>,
    /// The attendees' calendar copies that were marked cancelled.
    pub cancelled_copies: Vec<Item>,
    pub sent_copy: Option<Item>,
    pub report: Option<Item>,
    /// What the attendees' Inbox rules forward of the cancellation, and the organizer's of the
    /// report, for the caller to send.
    pub forwards: Vec<crate::rules::RuleForward>,
}

fn check_targets(keys: &[MailboxKey]) -> Result<(), MailboxError> {
    validate_attendee_count(keys.len())?;
    Ok(())
}

/// A meeting message (request, response, cancellation) about `item`'s meeting, to be delivered:
/// From `from`, and Sent by `sender` (a delegate sending for `from`) or else by `from`.
#[allow(clippy::too_many_arguments)]
fn meeting_message(
    class: &str,
    subject: Option<String>,
    body: Option<Body>,
    from: &Recipient,
    sender: Option<&Recipient>,
    to: Vec<Recipient>,
    cc: Vec<Recipient>,
    message_id: &str,
    calendar: Option<Calendar>,
    meeting: Meeting,
) -> NewItem {
    NewItem {
        item_class: class.to_owned(),
        subject,
        body,
        from: Some(from.clone()),
        sender: Some(sender.unwrap_or(from).clone()),
        to,
        cc,
        internet_message_id: Some(message_id.to_owned()),
        calendar,
        meeting: Some(meeting),
        ..NewItem::default()
    }
}

fn lines(m: &Meeting) -> (Vec<Recipient>, Vec<Recipient>) {
    (
        m.required.iter().map(|a| a.mailbox.clone()).collect(),
        m.optional.iter().map(|a| a.mailbox.clone()).collect(),
    )
}

/// An attendee's calendar copy of `item`'s meeting, as the calendar attendant writes it: the
/// meeting's fields, Tentative, not answered.
fn attendee_copy(item: &NewItem, meeting: &Meeting) -> NewItem {
    let mut m = meeting.clone();
    m.my_response = ResponseType::NoResponseReceived;
    m.request_was_sent = false;
    m.associated = None;
    let mut calendar = item.calendar.clone();
    if let Some(c) = &mut calendar {
        c.legacy_free_busy_status = FreeBusy::Tentative;
    }
    NewItem {
        item_class: APPOINTMENT_CLASS.to_owned(),
        subject: item.subject.clone(),
        body: item.body.clone(),
        from: Some(meeting.organizer.clone()),
        importance: item.importance,
        sensitivity: item.sensitivity,
        categories: item.categories.clone(),
        is_read: true,
        calendar,
        attachments: item.attachments.clone(),
        meeting: Some(m),
        ..NewItem::default()
    }
}

/// A stored item's content as a new item (to recreate an attendee's copy from its request).
fn as_new(item: &Item) -> NewItem {
    NewItem {
        item_class: item.item_class.clone(),
        subject: item.subject.clone(),
        body: item.body.clone(),
        from: item.from.clone(),
        importance: item.importance,
        sensitivity: item.sensitivity,
        categories: item.categories.clone(),
        is_read: true,
        calendar: item.calendar.clone(),
        meeting: item.meeting.clone(),
        ..NewItem::default()
    }
}

/// Rewrites an item's meeting part (and optionally its free/busy status and subject), as a
/// change of the item: change number, folder, `Modified` event.
fn set_meeting(
    tx: &Connection,
    mb: &Mb,
    local: i64,
    meeting: &Meeting,
    free_busy: Option<FreeBusy>,
    subject: Option<&str>,
    now_us: i64,
) -> Result<(), MailboxError> {
    let header = item_header(tx, mb, local)?;
    let cn = next_change_number(tx, mb.id)?;
    let json =
        serde_json::to_string(meeting).map_err(|e| MailboxError::InvalidValue(e.to_string()))?;
    tx.prepare_cached(
        "UPDATE items SET meeting_json = ?2, meeting_uid = ?3, \
         free_busy = CASE WHEN start_time IS NULL THEN free_busy ELSE coalesce(?4, free_busy) END, \
         subject = coalesce(?5, subject), change_number = ?6, last_modified = ?7 WHERE id = ?1",
    )?
    .execute(params![
        local,
        json,
        meeting.uid,
        free_busy.map(FreeBusy::as_str),
        subject,
        cn,
        now_us
    ])?;
    touch_folder(tx, header.folder, cn, now_us)?;
    append_event(
        tx,
        mb,
        EventKind::Modified,
        local,
        header.folder,
        None,
        item_flags(header.is_associated),
        now_us,
    )
}

/// The items of a mailbox with this meeting uid and a class (exactly, or with `prefix` any class
/// under it), oldest first, with their meeting part.
fn with_uid(
    tx: &Connection,
    mb: &Mb,
    uid: &str,
    class: &str,
) -> Result<Vec<(i64, Meeting)>, MailboxError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, meeting_json FROM items WHERE mailbox_id = ?1 AND meeting_uid = ?2 \
         AND (item_class = ?3 OR item_class LIKE ?3 || '.%') ORDER BY id",
    )?;
    let rows = stmt.query_map(params![mb.id, uid, class], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (id, json) = r?;
        let m: Meeting = serde_json::from_str(&json)
            .map_err(|e| MailboxError::Corrupt(format!("meeting: {e}")))?;
        out.push((id, m));
    }
    Ok(out)
}

/// An attendee's calendar copy of meeting `uid` in this mailbox (the newest, if several).
///
/// Only a copy of the same organizer's meeting counts: a uid alone (which an uploaded item can
/// carry, [`MailboxStore::upload_item`]) never lets one organizer move or cancel the copies of
/// another's meeting, as Exchange's calendar attendant matches the organizer too.
fn attendee_copy_of(
    tx: &Connection,
    mb: &Mb,
    uid: &str,
    organizer: &Recipient,
) -> Result<Option<(i64, Meeting)>, MailboxError> {
    Ok(with_uid(tx, mb, uid, APPOINTMENT_CLASS)?
        .into_iter()
        .rev()
        .find(|(_, m)| {
            !m.is_organizer() && m.organizer.email.eq_ignore_ascii_case(&organizer.email)
        }))
}

/// The organizer's calendar item of meeting `uid` in this mailbox.
fn organizer_item_of(
    tx: &Connection,
    mb: &Mb,
    uid: &str,
) -> Result<Option<(i64, Meeting)>, MailboxError> {
    Ok(with_uid(tx, mb, uid, APPOINTMENT_CLASS)?
        .into_iter()
        .rev()
        .find(|(_, m)| m.is_organizer()))
}

fn delivered(p: &Prepared, now_us: i64) -> Prepared {
    let mut p = p.clone();
    p.delivered = true;
    p.sent = Some(now_us);
    p.item.is_read = false;
    p
}

fn kept_copy(p: &Prepared, now_us: i64) -> Prepared {
    let mut p = p.clone();
    p.delivered = false;
    p.sent = Some(now_us);
    p.item.is_read = true;
    p.item.meeting.iter_mut().for_each(|m| m.associated = None);
    p
}

fn report_of(report: Option<NewItem>) -> Result<Option<Prepared>, MailboxError> {
    let Some(r) = report else {
        return Ok(None);
    };
    let mut p = prepare(r)?;
    p.delivered = true;
    Ok(Some(p))
}

impl MailboxStore {
    /// Saves a new meeting (a calendar item with a [`Meeting`] whose organizer it is) in
    /// `folder` of the organizer's mailbox and sends its invitations ([`Invite`]); see the
    /// module. One transaction.
    pub async fn create_meeting(
        &self,
        organizer: &MailboxKey,
        folder: FolderSel,
        item: NewItem,
        invite: Invite,
    ) -> Result<Invited, MailboxError> {
        check_targets(&invite.deliver_to)?;
        let mut item = item;
        let meeting = match (&item.calendar, &mut item.meeting) {
            (Some(_), Some(m)) if m.is_organizer() => {
                m.request_was_sent = true;
                m.clone()
            }
            _ => {
                return Err(MailboxError::InvalidRequest(
                    "a meeting is a calendar item with its organizer's meeting part".into(),
                ));
            }
        };
        item.is_draft = false;
        let (to, cc) = lines(&meeting);
        let mut request_meeting = meeting.clone();
        request_meeting.my_response = ResponseType::NoResponseReceived;
        request_meeting.request_was_sent = false;
        request_meeting.response = Some(ResponseType::NoResponseReceived);
        let mut request_calendar = item.calendar.clone();
        if let Some(c) = &mut request_calendar {
            c.legacy_free_busy_status = FreeBusy::Tentative;
        }
        let mut request = meeting_message(
            REQUEST_CLASS,
            item.subject.clone(),
            item.body.clone(),
            &invite.from,
            invite.sender.as_ref(),
            to,
            cc,
            &invite.message_id,
            request_calendar,
            request_meeting,
        );
        request.importance = item.importance;
        request.sensitivity = item.sensitivity;
        request.attachments = item.attachments.clone();
        let request = prepare(request)?;
        let copy = prepare(attendee_copy(&item, &meeting))?;
        let saved = prepare(item)?;
        let report = report_of(invite.report)?;
        let key = organizer.as_str().to_owned();
        self.write(move |tx, now| {
            let now_us = to_micros(now)?;
            let mb = mailbox_row(tx, &key)?;
            let folder = resolve_folder(tx, &mb, &folder)?;
            let id = insert_item(tx, &mb, folder, &saved, None, now_us)?;
            let mut requests = Vec::with_capacity(invite.deliver_to.len());
            let mut copies = Vec::with_capacity(invite.deliver_to.len());
            let mut forwards = Vec::new();
            for (i, k) in invite.deliver_to.iter().enumerate() {
                if k.as_str() == key {
                    continue;
                }
                let rmb = mailbox_row(tx, k.as_str())?;
                let calendar = distinguished_folder(tx, &rmb, crate::distinguished::CALENDAR)?;
                let copy_id = insert_item(tx, &rmb, calendar, &copy, None, now_us)?;
                copies.push(load_item(tx, &rmb, copy_id, false)?);
                let me = crate::rules::own_addresses(&invite.recipient_addresses, i);
                let (req, f) = deliver_request(tx, &rmb, &request, copy_id, me, now_us)?;
                requests.push(req);
                forwards.extend(f);
            }
            let sent_copy = if invite.save_copy {
                let sent = distinguished_folder(tx, &mb, crate::distinguished::SENT_ITEMS)?;
                let sid = insert_item(tx, &mb, sent, &kept_copy(&request, now_us), None, now_us)?;
                Some(load_item(tx, &mb, sid, false)?)
            } else {
                None
            };
            let report = write_report(tx, &mb, report.as_ref(), &mut forwards, now_us)?;
            Ok(Invited {
                item: load_item(tx, &mb, id, false)?,
                requests,
                calendar_copies: copies,
                sent_copy,
                report,
                forwards,
            })
        })
        .await
    }

    /// What an attendee answers a meeting `uid` of `organizer`'s with: its calendar copy, else
    /// (deleted since) its latest request of it; `None` when it has neither. What a delegate's
    /// copy of a request answers for its owner.
    pub async fn meeting_reference(
        &self,
        attendee: &MailboxKey,
        uid: String,
        organizer: Recipient,
    ) -> Result<Option<String>, MailboxError> {
        let key = attendee.as_str().to_owned();
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            if let Some((id, _)) = attendee_copy_of(tx, &mb, &uid, &organizer)? {
                return Ok(Some(mb.item_id(id)));
            }
            Ok(with_uid(tx, &mb, &uid, REQUEST_CLASS)?
                .into_iter()
                .rev()
                .find(|(_, m)| m.representing.is_none())
                .map(|(id, _)| mb.item_id(id)))
        })
        .await
    }

    /// An attendee answers a meeting: `reference` is a meeting request in its mailbox or its
    /// calendar copy of the meeting. See the module; [`MailboxError::NotAMeetingItem`] for
    /// anything else, [`MailboxError::OrganizerCannotRespond`] for the organizer's own item,
    /// [`MailboxError::MeetingCancelled`] for a cancelled one, each writing nothing. `guard`
    /// says which of the attendee's items the answer may change (the reference itself refused
    /// under it, as [`crate::MailboxStore::update_item`]; a copy or request under Recoverable
    /// Items it forbids is left as it is).
    pub async fn respond_to_meeting(
        &self,
        attendee: &MailboxKey,
        reference: String,
        guard: ItemGuard,
        reply: Reply,
    ) -> Result<Responded, MailboxError> {
        let response = reply.response;
        if !matches!(
            response,
            ResponseType::Accept | ResponseType::Tentative | ResponseType::Decline
        ) {
            return Err(MailboxError::InvalidRequest(format!(
                "a meeting is answered with Accept, Tentative or Decline, not {}",
                response.as_str()
            )));
        }
        crate::items::validate_short("sender address", &reply.from.email)?;
        let key = attendee.as_str().to_owned();
        self.write(move |tx, now| {
            let now_us = to_micros(now)?;
            let mb = mailbox_row(tx, &key)?;
            let local = item_local(&mb, &reference)?;
            let header = item_header(tx, &mb, local)?;
            crate::items::check_guard(tx, &mb, header.folder, guard)?;
            let item = load_item(tx, &mb, local, true)?;
            let Some(meeting) = item.meeting.clone() else {
                return Err(MailboxError::NotAMeetingItem);
            };
            if meeting.representing.is_some() {
                return Err(MailboxError::InvalidRequest(
                    "the meeting request is a delegate's copy; it is answered in the mailbox it was sent to, for that mailbox's owner".into(),
                ));
            }
            let is_calendar = item.calendar.is_some() && is_appointment(&item.item_class);
            if is_calendar && meeting.is_organizer() {
                return Err(MailboxError::OrganizerCannotRespond(response));
            }
            let mut forwards = Vec::new();
            let is_request = item.item_class == REQUEST_CLASS;
            if !(is_request || is_calendar) {
                return Err(MailboxError::NotAMeetingItem);
            }
            if meeting.is_cancelled {
                return Err(MailboxError::MeetingCancelled(response));
            }
            let uid = meeting.uid.clone();
            // the attendee's copy: the item itself, the one the request made, or (deleted
            // since) made anew from the request
            let found = match attendee_copy_of(tx, &mb, &uid, &meeting.organizer)? {
                Some((id, m)) if writable(tx, &mb, id, guard)? => Some((id, m)),
                _ => None,
            };
            let (copy, mut copy_meeting) = if is_calendar {
                (local, meeting.clone())
            } else if let Some(found) = found {
                found
            } else {
                let mut n = as_new(&item);
                n.item_class = APPOINTMENT_CLASS.to_owned();
                if let Some(m) = &mut n.meeting {
                    m.my_response = ResponseType::NoResponseReceived;
                    m.response = None;
                    m.has_been_processed = false;
                    m.associated = None;
                }
                let calendar = distinguished_folder(tx, &mb, crate::distinguished::CALENDAR)?;
                let id = insert_item(tx, &mb, calendar, &prepare(n)?, None, now_us)?;
                let m = load_item(tx, &mb, id, false)?
                    .meeting
                    .ok_or(MailboxError::NotAMeetingItem)?;
                (id, m)
            };
            copy_meeting.my_response = response;
            let free_busy = match response {
                ResponseType::Accept => FreeBusy::Busy,
                ResponseType::Tentative => FreeBusy::Tentative,
                _ => FreeBusy::Free,
            };
            set_meeting(tx, &mb, copy, &copy_meeting, Some(free_busy), None, now_us)?;
            let header = item_header(tx, &mb, copy)?;
            let here = folder_distinguished(tx, header.folder)?;
            if response == ResponseType::Decline {
                if here.as_deref() != Some(crate::distinguished::DELETED_ITEMS) {
                    let deleted =
                        distinguished_folder(tx, &mb, crate::distinguished::DELETED_ITEMS)?;
                    move_local(tx, &mb, copy, &header, deleted, now_us)?;
                }
            } else if here.as_deref() == Some(crate::distinguished::DELETED_ITEMS) {
                // answered again after a decline: back on the calendar
                let calendar = distinguished_folder(tx, &mb, crate::distinguished::CALENDAR)?;
                move_local(tx, &mb, copy, &header, calendar, now_us)?;
            }
            // every request of this meeting in the mailbox is answered (a delegate answering for
            // the mailbox marks them wherever they are, as the owner's own answer would, but
            // never under Recoverable Items)
            let request_guard = match guard {
                ItemGuard::InDelegateFolders(_) => ItemGuard::OutsideRecoverableItems,
                g => g,
            };
            for (rid, mut m) in with_uid(tx, &mb, &uid, REQUEST_CLASS)? {
                // a copy this mailbox holds as another's delegate is answered for that one
                if m.representing.is_some() || !writable(tx, &mb, rid, request_guard)? {
                    continue;
                }
                m.has_been_processed = true;
                m.response = Some(response);
                set_meeting(tx, &mb, rid, &m, None, None, now_us)?;
            }
            let calendar_item = load_item(tx, &mb, copy, true)?;
            let subject = reply
                .subject
                .clone()
                .or_else(|| prefixed(response_prefix(response), calendar_item.subject.as_deref()));
            let mut answer_meeting = Meeting::new(uid.clone(), meeting.organizer.clone());
            answer_meeting.my_response = response;
            answer_meeting.response = Some(response);
            let answer = prepare(meeting_message(
                response_class(response),
                subject,
                reply.body.clone(),
                &reply.from,
                reply.sender.as_ref(),
                vec![meeting.organizer.clone()],
                Vec::new(),
                &reply.message_id,
                calendar_item.calendar.clone(),
                answer_meeting,
            ))?;
            let delivered_item = match &reply.organizer {
                Some(org) if org.as_str() != key => {
                    let omb = mailbox_row(tx, org.as_str())?;
                    let mut p = delivered(&answer, now_us);
                    if let Some((oid, mut om)) = organizer_item_of(tx, &omb, &uid)? {
                        let at = from_micros(now_us)?;
                        let mut found = false;
                        for a in om
                            .required
                            .iter_mut()
                            .chain(om.optional.iter_mut())
                            .chain(om.resources.iter_mut())
                        {
                            if reply
                                .addresses
                                .iter()
                                .any(|x| x.eq_ignore_ascii_case(&a.mailbox.email))
                            {
                                a.response_type = response;
                                a.last_response_time = Some(at);
                                found = true;
                            }
                        }
                        if found {
                            set_meeting(tx, &omb, oid, &om, None, None, now_us)?;
                        }
                        if let Some(m) = &mut p.item.meeting {
                            m.associated = Some(oid);
                        }
                    }
                    // the organizer's delegates who receive copies get one
                    let me = [meeting.organizer.email.clone()];
                    let own = to_delegates(tx, &omb, &answer, &me, &mut forwards, now_us)?;
                    let folder = distinguished_folder(tx, &omb, own)?;
                    let id = insert_item(tx, &omb, folder, &p, None, now_us)?;
                    let answer = load_item(tx, &omb, id, false)?;
                    if own == crate::distinguished::INBOX {
                        forwards.extend(crate::rules::run_rules(tx, &omb, id, &[], now_us)?);
                    }
                    Some(answer)
                }
                _ => None,
            };
            let saved = match &reply.save_in {
                Some(sel) => {
                    let folder = resolve_folder(tx, &mb, sel)?;
                    let mut p = kept_copy(&answer, now_us);
                    if reply.organizer.is_none() {
                        // saved, not sent: a draft of the response
                        p.sent = None;
                        p.item.is_draft = true;
                    }
                    let id = insert_item(tx, &mb, folder, &p, None, now_us)?;
                    Some(load_item(tx, &mb, id, false)?)
                }
                None => None,
            };
            let mut calendar_item = calendar_item;
            calendar_item.body = None;
            calendar_item.attachments.clear();
            Ok(Responded {
                calendar_item,
                delivered: delivered_item,
                saved,
                forwards,
            })
        })
        .await
    }

    /// The organizer cancels a meeting of its mailbox: `id` is the organizer's calendar item.
    /// See the module; [`MailboxError::NotAMeetingItem`] for an item that is not a meeting,
    /// [`MailboxError::NotOrganizer`] for an attendee's copy, each writing nothing. `guard` as
    /// for DeleteItem.
    pub async fn cancel_meeting(
        &self,
        organizer: &MailboxKey,
        id: String,
        guard: ItemGuard,
        cancel: Cancel,
    ) -> Result<Cancelled, MailboxError> {
        check_targets(&cancel.deliver_to)?;
        let report = report_of(cancel.report.clone())?;
        let key = organizer.as_str().to_owned();
        self.write(move |tx, now| {
            let now_us = to_micros(now)?;
            let mb = mailbox_row(tx, &key)?;
            let local = item_local(&mb, &id)?;
            let header = item_header(tx, &mb, local)?;
            crate::items::check_guard(tx, &mb, header.folder, guard)?;
            let item = load_item(tx, &mb, local, true)?;
            let meeting = match (&item.calendar, &item.meeting) {
                (Some(_), Some(m)) if is_appointment(&item.item_class) => m.clone(),
                _ => return Err(MailboxError::NotAMeetingItem),
            };
            if !meeting.is_organizer() {
                return Err(MailboxError::NotOrganizer);
            }
            let subject = cancel
                .subject
                .clone()
                .or_else(|| prefixed("Canceled: ", item.subject.as_deref()));
            let message = cancellation(
                &item,
                &meeting,
                subject.clone(),
                cancel.body.clone(),
                &cancel.from,
                cancel.sender.as_ref(),
                &cancel.message_id,
            )?;
            let mut delivered_items = Vec::with_capacity(cancel.deliver_to.len());
            let mut copies = Vec::new();
            let mut forwards = Vec::new();
            for (i, k) in cancel.deliver_to.iter().enumerate() {
                if k.as_str() == key {
                    continue;
                }
                let (m, copy) = cancel_for(
                    tx,
                    k,
                    &meeting,
                    &message,
                    subject.as_deref(),
                    crate::rules::own_addresses(&cancel.recipient_addresses, i),
                    &mut forwards,
                    now_us,
                )?;
                delivered_items.push(m);
                copies.extend(copy);
            }
            let sent_copy = if cancel.save_copy {
                let sent = distinguished_folder(tx, &mb, crate::distinguished::SENT_ITEMS)?;
                let sid = insert_item(tx, &mb, sent, &kept_copy(&message, now_us), None, now_us)?;
                Some(load_item(tx, &mb, sid, false)?)
            } else {
                None
            };
            delete_one(tx, &mb, local, cancel.delete, guard, now_us)?;
            let report = write_report(tx, &mb, report.as_ref(), &mut forwards, now_us)?;
            Ok(Cancelled {
                delivered: delivered_items,
                cancelled_copies: copies,
                sent_copy,
                report,
                forwards,
            })
        })
        .await
    }

    /// The organizer changed a meeting (`update`, applied to its item `id` in this write) and
    /// sends the update: each attendee mailbox gets an updated request in its Inbox and its
    /// calendar copy takes the meeting's new time, place and attendees, its answer reset to
    /// `NoResponseReceived` and Tentative (Exchange's full update); an attendee without a copy
    /// gets one. A stale `change_key` is [`MailboxError::ChangeKeyConflict`] unless
    /// `overwrite` (the flag returned says a conflict was overridden). One transaction.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_meeting(
        &self,
        organizer: &MailboxKey,
        id: String,
        change_key: Option<String>,
        overwrite: bool,
        update: ItemUpdate,
        guard: ItemGuard,
        invite: Invite,
    ) -> Result<(Invited, bool), MailboxError> {
        check_targets(&invite.deliver_to)?;
        check_targets(&invite.cancel_to)?;
        let update = crate::items::validated_update(update)?;
        let report = report_of(invite.report.clone())?;
        let key = organizer.as_str().to_owned();
        self.write(move |tx, now| {
            let now_us = to_micros(now)?;
            let mb = mailbox_row(tx, &key)?;
            let local = item_local(&mb, &id)?;
            let header = item_header(tx, &mb, local)?;
            crate::items::check_guard(tx, &mb, header.folder, guard)?;
            let mut conflicted = false;
            if let Some(ck) = &change_key {
                match crate::ids::check_change_key(
                    ck,
                    crate::ids::IdKind::Item,
                    header.change_number,
                ) {
                    Err(MailboxError::ChangeKeyConflict) if overwrite => conflicted = true,
                    r => r?,
                }
            }
            let before = load_item(tx, &mb, local, false)?;
            match (&before.calendar, &before.meeting) {
                (Some(_), Some(m)) if m.is_organizer() && is_appointment(&before.item_class) => {}
                (Some(_), Some(_)) => return Err(MailboxError::NotOrganizer),
                _ => return Err(MailboxError::NotAMeetingItem),
            }
            crate::items::apply_update(tx, local, &update, now_us)?;
            crate::items::refresh_size(tx, &mb, local)?;
            let item = load_item(tx, &mb, local, true)?;
            let Some(mut meeting) = item.meeting.clone() else {
                return Err(MailboxError::NotAMeetingItem);
            };
            meeting.request_was_sent = true;
            set_meeting(tx, &mb, local, &meeting, None, None, now_us)?;
            let mut as_item = as_new(&item);
            as_item.attachments = Vec::new();
            let (to, cc) = lines(&meeting);
            let mut request_meeting = meeting.clone();
            request_meeting.my_response = ResponseType::NoResponseReceived;
            request_meeting.request_was_sent = false;
            request_meeting.response = Some(ResponseType::NoResponseReceived);
            let mut request_calendar = item.calendar.clone();
            if let Some(c) = &mut request_calendar {
                c.legacy_free_busy_status = FreeBusy::Tentative;
            }
            let request = prepare(meeting_message(
                REQUEST_CLASS,
                item.subject.clone(),
                item.body.clone(),
                &invite.from,
                invite.sender.as_ref(),
                to,
                cc,
                &invite.message_id,
                request_calendar.clone(),
                request_meeting,
            ))?;
            let copy = prepare(attendee_copy(&as_item, &meeting))?;
            let mut requests = Vec::with_capacity(invite.deliver_to.len());
            let mut copies = Vec::with_capacity(invite.deliver_to.len());
            let mut forwards = Vec::new();
            for (i, k) in invite.deliver_to.iter().enumerate() {
                if k.as_str() == key {
                    continue;
                }
                let rmb = mailbox_row(tx, k.as_str())?;
                let copy_id = match attendee_copy_of(tx, &rmb, &meeting.uid, &meeting.organizer)? {
                    Some((cid, _)) => {
                        let mut m = meeting.clone();
                        m.my_response = ResponseType::NoResponseReceived;
                        m.request_was_sent = false;
                        m.associated = None;
                        let cal = request_calendar
                            .clone()
                            .map(|c| c.start)
                            .zip(request_calendar.clone().map(|c| c.end));
                        if let (Some((start, end)), Some(c)) = (cal, &request_calendar) {
                            let cn = next_change_number(tx, rmb.id)?;
                            // a series whole: its rule, zone, deleted and changed occurrences
                            let (series_json, series_end) = crate::items::series_columns(Some(c))?;
                            tx.prepare_cached(
                                "UPDATE items SET start_time = ?2, end_time = ?3, is_all_day = ?4, \
                                 location = ?5, subject = ?6, change_number = ?7, \
                                 series_json = ?8, series_end = ?9 WHERE id = ?1",
                            )?
                            .execute(params![
                                cid,
                                to_micros(start)?,
                                to_micros(end)?,
                                c.is_all_day,
                                c.location,
                                item.subject,
                                cn,
                                series_json,
                                series_end
                            ])?;
                        }
                        set_meeting(tx, &rmb, cid, &m, Some(FreeBusy::Tentative), None, now_us)?;
                        // back on the calendar if it was declined
                        let h = item_header(tx, &rmb, cid)?;
                        let calendar =
                            distinguished_folder(tx, &rmb, crate::distinguished::CALENDAR)?;
                        if h.folder != calendar
                            && folder_distinguished(tx, h.folder)?.as_deref()
                                == Some(crate::distinguished::DELETED_ITEMS)
                        {
                            move_local(tx, &rmb, cid, &h, calendar, now_us)?;
                        }
                        cid
                    }
                    None => {
                        let calendar =
                            distinguished_folder(tx, &rmb, crate::distinguished::CALENDAR)?;
                        insert_item(tx, &rmb, calendar, &copy, None, now_us)?
                    }
                };
                copies.push(load_item(tx, &rmb, copy_id, false)?);
                let me = crate::rules::own_addresses(&invite.recipient_addresses, i);
                let (req, f) = deliver_request(tx, &rmb, &request, copy_id, me, now_us)?;
                requests.push(req);
                forwards.extend(f);
            }
            // the attendees the update removed: cancelled for them
            let removed: Vec<&MailboxKey> = invite
                .cancel_to
                .iter()
                .filter(|k| k.as_str() != key && !invite.deliver_to.contains(k))
                .collect();
            if !removed.is_empty() {
                let subject = prefixed("Canceled: ", item.subject.as_deref());
                let message = cancellation(
                    &item,
                    &meeting,
                    subject.clone(),
                    None,
                    &invite.from,
                    invite.sender.as_ref(),
                    &invite.message_id,
                )?;
                for k in removed {
                    cancel_for(
                        tx,
                        k,
                        &meeting,
                        &message,
                        subject.as_deref(),
                        &[],
                        &mut forwards,
                        now_us,
                    )?;
                }
            }
            let sent_copy = if invite.save_copy {
                let sent = distinguished_folder(tx, &mb, crate::distinguished::SENT_ITEMS)?;
                let sid = insert_item(tx, &mb, sent, &kept_copy(&request, now_us), None, now_us)?;
                Some(load_item(tx, &mb, sid, false)?)
            } else {
                None
            };
            let report = write_report(tx, &mb, report.as_ref(), &mut forwards, now_us)?;
            Ok((
                Invited {
                    item: load_item(tx, &mb, local, false)?,
                    requests,
                    calendar_copies: copies,
                    sent_copy,
                    report,
                    forwards,
                },
                conflicted,
            ))
        })
        .await
    }
}

/// Whether `guard` lets a write change item `local` where it is now.
fn writable(tx: &Connection, mb: &Mb, local: i64, guard: ItemGuard) -> Result<bool, MailboxError> {
    let header = item_header(tx, mb, local)?;
    match crate::items::check_guard(tx, mb, header.folder, guard) {
        Ok(()) => Ok(true),
        Err(MailboxError::InRecoverableItems | MailboxError::NotPermittedToDelegate) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The cancellation of the organizer's `item` (its meeting part `meeting`), to be delivered.
fn cancellation(
    item: &Item,
    meeting: &Meeting,
    subject: Option<String>,
    body: Option<Body>,
    from: &Recipient,
    sender: Option<&Recipient>,
    message_id: &str,
) -> Result<Prepared, MailboxError> {
    let mut cm = meeting.clone();
    cm.my_response = ResponseType::NoResponseReceived;
    cm.is_cancelled = true;
    cm.request_was_sent = false;
    cm.associated = None;
    let mut calendar = item.calendar.clone();
    if let Some(c) = &mut calendar {
        c.legacy_free_busy_status = FreeBusy::Free;
    }
    let (to, cc) = lines(meeting);
    let mut message = meeting_message(
        CANCELED_CLASS,
        subject,
        body.or_else(|| item.body.clone()),
        from,
        sender,
        to,
        cc,
        message_id,
        calendar,
        cm,
    );
    message.importance = Importance::High;
    prepare(message)
}

/// Delivers `message` (a cancellation of meeting `uid`) to mailbox `k`'s Inbox and marks its
/// calendar copy cancelled and Free (with the cancellation's subject). Returns the delivered
/// cancellation and the copy, if it had one; what the mailbox's Inbox rules forward of it is
/// added to `forwards`.
#[allow(clippy::too_many_arguments)]
fn cancel_for(
    tx: &Connection,
    k: &MailboxKey,
    meeting: &Meeting,
    message: &Prepared,
    subject: Option<&str>,
    me: &[String],
    forwards: &mut Vec<crate::rules::RuleForward>,
    now_us: i64,
) -> Result<(Item, Option<Item>), MailboxError> {
    let rmb = mailbox_row(tx, k.as_str())?;
    let mut p = delivered(message, now_us);
    let mut copy = None;
    if let Some((cid, mut m)) = attendee_copy_of(tx, &rmb, &meeting.uid, &meeting.organizer)? {
        m.is_cancelled = true;
        set_meeting(tx, &rmb, cid, &m, Some(FreeBusy::Free), subject, now_us)?;
        copy = Some(load_item(tx, &rmb, cid, false)?);
        if let Some(pm) = &mut p.item.meeting {
            pm.associated = Some(cid);
        }
    }
    let own = to_delegates(tx, &rmb, message, me, forwards, now_us)?;
    let folder = distinguished_folder(tx, &rmb, own)?;
    let mid = insert_item(tx, &rmb, folder, &p, None, now_us)?;
    let message = load_item(tx, &rmb, mid, false)?;
    if own == crate::distinguished::INBOX {
        forwards.extend(crate::rules::run_rules(tx, &rmb, mid, me, now_us)?);
    }
    Ok((message, copy))
}

/// A meeting request delivered to `rmb`'s Inbox, naming its calendar copy `copy_id`, then the
/// mailbox's Inbox rules run on it (`me`: its own addresses): the request as delivered, and
/// what the rules forward. Its delegates get copies ([`to_delegates`]).
fn deliver_request(
    tx: &Connection,
    rmb: &Mb,
    request: &Prepared,
    copy_id: i64,
    me: &[String],
    now_us: i64,
) -> Result<(Item, Vec<crate::rules::RuleForward>), MailboxError> {
    let mut forwards = Vec::new();
    let own = to_delegates(tx, rmb, request, me, &mut forwards, now_us)?;
    let folder = distinguished_folder(tx, rmb, own)?;
    let mut r = delivered(request, now_us);
    if let Some(m) = &mut r.item.meeting {
        m.associated = Some(copy_id);
    }
    let id = insert_item(tx, rmb, folder, &r, None, now_us)?;
    let delivered = load_item(tx, rmb, id, false)?;
    if own == crate::distinguished::INBOX {
        forwards.extend(crate::rules::run_rules(tx, rmb, id, me, now_us)?);
    }
    Ok((delivered, forwards))
}

/// A meeting message delivered to `rmb` reaches its delegates who receive copies (each in its
/// Inbox, its rules run on it, standing for `rmb`: [`Representing`]; none with `NoForward`):
/// the folder `rmb`'s own copy goes to, Deleted Items with `DelegatesOnly` once a delegate got
/// one, else the Inbox.
fn to_delegates(
    tx: &Connection,
    rmb: &Mb,
    message: &Prepared,
    me: &[String],
    forwards: &mut Vec<crate::rules::RuleForward>,
    now_us: i64,
) -> Result<&'static str, MailboxError> {
    let (delegates, delivery) = crate::delegates::copies_to(tx, rmb.id)?;
    let mut copied = false;
    for d in &delegates {
        let dmb = match mailbox_row(tx, d.as_str()) {
            Ok(m) => m,
            // a delegate without a mailbox in this store (removed since) gets nothing
            Err(MailboxError::MailboxNotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let mut c = delivered(message, now_us);
        if let Some(m) = &mut c.item.meeting {
            m.associated = None;
            m.representing = Some(Representing {
                mailbox: rmb.key.clone(),
                who: owner_line(m, me),
            });
        }
        let inbox = distinguished_folder(tx, &dmb, crate::distinguished::INBOX)?;
        let id = insert_item(tx, &dmb, inbox, &c, None, now_us)?;
        forwards.extend(crate::rules::run_rules(tx, &dmb, id, &[], now_us)?);
        copied = true;
    }
    Ok(if copied && delivery == MeetingDelivery::DelegatesOnly {
        crate::distinguished::DELETED_ITEMS
    } else {
        crate::distinguished::INBOX
    })
}

/// The line of the mailbox a delegate's copy stands for, as the meeting message names it: the
/// organizer or attendee with one of its addresses `me`, else its first address; `None` when
/// no address of it is known.
fn owner_line(m: &Meeting, me: &[String]) -> Option<Recipient> {
    std::iter::once(&m.organizer)
        .chain(m.attendees().map(|a| &a.mailbox))
        .find(|r| me.iter().any(|a| a.eq_ignore_ascii_case(&r.email)))
        .cloned()
        .or_else(|| {
            me.first().map(|a| Recipient {
                name: None,
                email: a.clone(),
            })
        })
}

/// A calendar item's class (`IPM.Appointment` or a class under it).
fn is_appointment(class: &str) -> bool {
    class == APPOINTMENT_CLASS || class.starts_with("IPM.Appointment.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_named_as_exchange_names_them() {
        assert_eq!(
            response_class(ResponseType::Accept),
            "IPM.Schedule.Meeting.Resp.Pos"
        );
        assert_eq!(
            response_class(ResponseType::Tentative),
            "IPM.Schedule.Meeting.Resp.Tent"
        );
        assert_eq!(
            response_class(ResponseType::Decline),
            "IPM.Schedule.Meeting.Resp.Neg"
        );
        assert_eq!(response_prefix(ResponseType::Decline), "Declined: ");
        assert!(is_appointment("IPM.Appointment"));
        assert!(is_appointment("IPM.Appointment.Occurrence"));
        assert!(!is_appointment("IPM.AppointmentX"));
    }

    /// A meeting part survives its JSON form; an old row without the newer flags reads with
    /// their defaults.
    #[test]
    fn meeting_json_round_trips() {
        let mut m = Meeting::new("U1".into(), Recipient::new(Some("A"), "a@x.example"));
        m.required = vec![Attendee::new(Recipient::new(None, "b@x.example"))];
        m.associated = Some(7);
        let back: Meeting = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back, m);
        let old: Meeting = serde_json::from_str(
            r#"{"uid":"U2","organizer":{"name":null,"email":"a@x.example"},"my_response":"Organizer"}"#,
        )
        .unwrap();
        assert!(old.required.is_empty() && !old.is_cancelled && old.response.is_none());
    }
}
