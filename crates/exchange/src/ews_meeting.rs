//! Meetings among this organization's mailboxes (MS-OXWSMTGS), single occurrences only:
//!
//! - CreateItem of a `t:CalendarItem` with attendees and `SendMeetingInvitations`
//!   `SendOnlyToAll` or `SendToAllAndSaveCopy`: the organizer's item saved (Calendar unless
//!   SavedItemFolderId says otherwise) and the invitations sent ([`mailbox::MailboxStore::create_meeting`]);
//!   `SendToNone` stores the meeting only (the ordinary CreateItem path).
//! - CreateItem of `t:AcceptItem`, `t:TentativelyAcceptItem`, `t:DeclineItem`: an attendee's
//!   answer ([`mailbox::MailboxStore::respond_to_meeting`]).
//! - CreateItem of `t:CancelCalendarItem` and DeleteItem with `SendMeetingCancellations`
//!   `SendOnlyToAll`/`SendToAllAndSaveCopy` of the organizer's meeting: the cancellation
//!   ([`mailbox::MailboxStore::cancel_meeting`]).
//! - UpdateItem of the organizer's meeting with `SendMeetingInvitationsOrCancellations` other
//!   than `SendToNone`: the change and an updated request to every attendee, their copies moved
//!   ([`mailbox::MailboxStore::update_meeting`]).
//!
//! Attendees are routed as message recipients are (`ews_send`: any SMTP proxy address,
//! distribution groups expanded, each mailbox once; the others named in a non-delivery report
//! in the organizer's Inbox), and the store writes each operation in one transaction. Required
//! attendees are the request's To line, optional ones its Cc line; resources are invited
//! without a line, as Bcc recipients are.

use ews_proto::request::{
    self, CalendarSend, MessageDisposition, NewItem as ReqItem, calendar_send,
};
use ews_proto::response::{self as resp, ResponseError};
use ews_proto::types::{FolderRef, ItemKind, ItemRef};
use mailbox::{FolderSel, MailboxError, MailboxKey, Recipient};

use crate::ews::{Handler, err, to_new_item};

/// A new meeting's uid, in the form Exchange gives `calendar:UID`: the hex of a global object id
/// (MS-OXOCAL PidLidGlobalObjectId): the fixed class id, no instance date, no creation time
/// (a zero FILETIME), the reserved bytes, the length of the data (16, little-endian), then a
/// random GUID as the data.
pub(crate) fn new_uid() -> String {
    format!(
        "040000008200E00074C5B7101A82E008{}{}{}10000000{}",
        "0".repeat(8),
        "0".repeat(16),
        "0".repeat(16),
        uuid::Uuid::new_v4()
            .simple()
            .to_string()
            .to_ascii_uppercase()
    )
}

fn invalid_reference() -> ResponseError {
    err(&MailboxError::NotAMeetingItem)
}

impl Handler<'_> {
    /// The acting mailbox as an address line (organizer, attendee).
    pub(crate) fn me(&self) -> Recipient {
        Recipient {
            name: Some(self.display_name.clone()).filter(|n| !n.is_empty()),
            email: self.smtp.clone(),
        }
    }

    /// The delegate sending for the acting mailbox's owner, if the request is a delegate's
    /// ([`crate::delegates`]): the Sender of what it sends, the owner being From.
    pub(crate) fn on_behalf(&self) -> Option<Recipient> {
        self.delegate.as_ref().map(|d| Recipient {
            name: Some(d.name.clone()).filter(|n| !n.is_empty()),
            email: d.smtp.clone(),
        })
    }

    /// Every SMTP address of the acting mailbox (its answer is recorded on the organizer's item
    /// under whichever one the organizer invited).
    pub(crate) async fn my_addresses(&self) -> Vec<String> {
        let org = self.ex.inner.org.clone();
        let smtp = self.smtp.clone();
        let found = org
            .db
            .clone()
            .call(move |c| org.recipient_by_smtp(c, &smtp))
            .await
            .ok()
            .flatten();
        let mut out = vec![self.smtp.clone()];
        for a in found.iter().flat_map(|r| r.smtp_addresses()) {
            if !out.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                out.push(a);
            }
        }
        out
    }

    /// The organizer's mailbox here, when the address is one of this organization's mailboxes.
    async fn mailbox_of(&self, address: &str) -> Option<MailboxKey> {
        let org = self.ex.inner.org.clone();
        let a = address.trim().to_owned();
        let r = org
            .db
            .clone()
            .call(move |c| org.recipient_by_smtp(c, &a))
            .await
            .ok()
            .flatten()?;
        if !r.is_mailbox() {
            return None;
        }
        let key = MailboxKey::new(r.guid).ok()?;
        self.ex.ensure_mailbox_once(&key).await.ok()?;
        Some(key)
    }

    /// Whether CreateItem needs this module: a response object, a cancellation, or a meeting
    /// whose invitations are sent.
    pub(crate) fn needs_meeting_path(c: &request::CreateItem) -> bool {
        let sends = calendar_send(c.send_meeting_invitations.as_deref()).sends();
        c.items.iter().any(|i| match i {
            ReqItem::MeetingReply(_) | ReqItem::CancelCalendarItem(_) => true,
            ReqItem::CalendarItem(ci) => {
                sends
                    && !(ci.required_attendees.is_empty()
                        && ci.optional_attendees.is_empty()
                        && ci.resources.is_empty())
            }
            ReqItem::Message(_)
            | ReqItem::Contact(_)
            | ReqItem::Task(_)
            | ReqItem::DistributionList(_)
            | ReqItem::SmartResponse(_) => false,
        })
    }

    /// CreateItem with meeting items: each answered on its own.
    pub(crate) async fn create_meeting_items(&self, c: request::CreateItem) -> Vec<u8> {
        let n = c.items.len().max(1);
        if let Err(e) = self.authorize(false) {
            return resp::create_item_response(&vec![Err(e); n]);
        }
        let send = calendar_send(c.send_meeting_invitations.as_deref());
        let mut out = Vec::with_capacity(n);
        for item in c.items {
            out.push(match item {
                ReqItem::CalendarItem(ci) => {
                    self.create_one_meeting(ReqItem::CalendarItem(ci), c.saved_folder.as_ref(), send)
                        .await
                }
                ReqItem::MeetingReply(r) => self
                    .respond(r, c.message_disposition, c.saved_folder.as_ref())
                    .await
                    .map(|()| None),
                ReqItem::CancelCalendarItem(x) => self
                    .cancel_by_response_object(x, c.message_disposition, c.saved_folder.as_ref())
                    .await
                    .map(|()| None),
                ReqItem::Message(_)
                | ReqItem::Contact(_)
                | ReqItem::Task(_)
                | ReqItem::DistributionList(_)
                | ReqItem::SmartResponse(_) => Err(ResponseError::new(
                    "ErrorInvalidRequest",
                    "Messages, contacts, tasks, distribution lists, replies and forwards are created in a request of their own, not with meeting responses or meetings that are sent.",
                )),
            });
        }
        resp::create_item_response(&out)
    }

    /// A new meeting, saved and its invitations sent (`send` other than `SendToNone`).
    async fn create_one_meeting(
        &self,
        item: ReqItem,
        saved_folder: Option<&FolderRef>,
        send: CalendarSend,
    ) -> Result<Option<resp::CreatedItem>, ResponseError> {
        let sel = match saved_folder {
            Some(f) => self.sel(f)?,
            None => FolderSel::distinguished(mailbox::distinguished::CALENDAR),
        };
        self.authorize_write_in(&sel).await?;
        let mut item = to_new_item(item, self.ex.inner.cfg.clock.now(), &|| self.me())?;
        if item.calendar.is_none() {
            return Err(ResponseError::new(
                "ErrorInvalidRequest",
                "A meeting needs its Start and End.",
            ));
        }
        let me = self.me();
        let Some(meeting) = item.meeting.as_mut() else {
            return Err(ResponseError::code("ErrorInternalServerError"));
        };
        meeting.organizer = me.clone();
        let addresses = |l: &[mailbox::Attendee]| -> Vec<Recipient> {
            l.iter().map(|a| a.mailbox.clone()).collect()
        };
        let (req, opt, res) = (
            addresses(&meeting.required),
            addresses(&meeting.optional),
            addresses(&meeting.resources),
        );
        let routing = self.route(&req, &opt, &res).await?;
        let invite = mailbox::Invite {
            from: me,
            sender: self.on_behalf(),
            message_id: self.new_message_id(),
            report: self.report(item.subject.as_deref(), &routing),
            deliver_to: routing.deliver_to,
            save_copy: send.saves_copy(),
            cancel_to: Vec::new(),
            recipient_addresses: routing.addresses,
        };
        let attendees = invite.deliver_to.clone();
        let mut invited = self
            .ex
            .inner
            .mbx
            .create_meeting(&self.key, sel, item, invite)
            .await
            .map_err(|e| self.mailbox_err(&e))?;
        self.book_resources(self.delivered(attendees, &invited))
            .await;
        self.send_rule_forwards(std::mem::take(&mut invited.forwards))
            .await;
        Ok(Some(resp::CreatedItem {
            kind: ItemKind::CalendarItem,
            item_id: ItemRef {
                id: invited.item.id.clone(),
                change_key: Some(invited.item.change_key.clone()),
            },
            attachment_ids: invited
                .item
                .attachments
                .iter()
                .map(crate::ews::created_attachment_id)
                .collect(),
        }))
    }

    /// Reads an item of the acting mailbox (the store's refusals as GetItem answers them).
    pub(crate) async fn read_item(&self, id: &str) -> Result<mailbox::Item, ResponseError> {
        self.ex
            .inner
            .mbx
            .get_item(&self.key, id)
            .await
            .map_err(|e| err(&e))
    }

    /// `t:AcceptItem`, `t:TentativelyAcceptItem`, `t:DeclineItem`: the acting mailbox answers
    /// the meeting request or calendar copy `t:ReferenceItemId` names. `SendOnly` and
    /// `SendAndSaveCopy` deliver the response to the organizer (and record the answer on the
    /// organizer's item); `SaveOnly` answers on the attendee's side only and keeps the response
    /// as a draft. Answered with an empty `m:Items`, as Exchange does.
    pub(crate) async fn respond(
        &self,
        r: request::MeetingReply,
        disposition: Option<MessageDisposition>,
        saved_folder: Option<&FolderRef>,
    ) -> Result<(), ResponseError> {
        let Some(disposition) = disposition else {
            return Err(ResponseError::new(
                "ErrorMessageDispositionRequired",
                "MessageDisposition is required for a meeting response (SendAndSaveCopy, SendOnly or SaveOnly).",
            ));
        };
        let save_in = match disposition {
            MessageDisposition::SendOnly => {
                if saved_folder.is_some() {
                    return Err(ResponseError::new(
                        "ErrorInvalidSendItemSaveSettings",
                        "SavedItemFolderId is given but the response is not saved (SendOnly).",
                    ));
                }
                None
            }
            MessageDisposition::SendAndSaveCopy => Some(match saved_folder {
                Some(f) => self.sel(f)?,
                None => FolderSel::distinguished(mailbox::distinguished::SENT_ITEMS),
            }),
            MessageDisposition::SaveOnly => Some(match saved_folder {
                Some(f) => self.sel(f)?,
                None => FolderSel::distinguished(mailbox::distinguished::DRAFTS),
            }),
        };
        if let Some(sel) = &save_in {
            self.authorize_write_in(sel).await?;
        }
        // what the reference is decides who is answered; the store checks it again in its write
        let reference = self.read_item(&r.reference_item_id.id).await?;
        let Some(meeting) = &reference.meeting else {
            return Err(invalid_reference());
        };
        // a delegate's copy of its owner's request: answered for the owner
        if self.delegate.is_none()
            && let Some(owner) = &meeting.representing
        {
            let owner = owner.clone();
            return Box::pin(self.respond_for(
                &owner,
                &reference,
                r,
                Some(disposition),
                saved_folder,
            ))
            .await;
        }
        let organizer = if disposition == MessageDisposition::SaveOnly {
            None
        } else {
            self.mailbox_of(&meeting.organizer.email).await
        };
        let fields = &r.item;
        let reply = mailbox::Reply {
            response: match r.kind.response_type() {
                ews_proto::types::ResponseType::Accept => mailbox::ResponseType::Accept,
                ews_proto::types::ResponseType::Tentative => mailbox::ResponseType::Tentative,
                _ => mailbox::ResponseType::Decline,
            },
            from: self.me(),
            sender: self.on_behalf(),
            addresses: self.my_addresses().await,
            message_id: self.new_message_id(),
            organizer,
            save_in,
            subject: fields.subject.clone(),
            body: fields.body.as_ref().map(crate::ews::body_in),
        };
        let responded = self
            .ex
            .inner
            .mbx
            .respond_to_meeting(
                &self.key,
                r.reference_item_id.id.clone(),
                self.item_guard(),
                reply,
            )
            .await
            .map_err(|e| self.mailbox_err(&e))?;
        // what the organizer's rules forward of the response
        self.send_rule_forwards(responded.forwards).await;
        Ok(())
    }

    /// `t:CancelCalendarItem`: the organizer cancels the meeting `t:ReferenceItemId` names; its
    /// item goes to Deleted Items.
    async fn cancel_by_response_object(
        &self,
        x: request::CancelCalendarItem,
        disposition: Option<MessageDisposition>,
        saved_folder: Option<&FolderRef>,
    ) -> Result<(), ResponseError> {
        let send = match disposition {
            Some(MessageDisposition::SendOnly) if saved_folder.is_none() => {
                CalendarSend::SendOnlyToAll
            }
            Some(MessageDisposition::SendAndSaveCopy) | None => CalendarSend::SendToAllAndSaveCopy,
            Some(MessageDisposition::SendOnly) => {
                return Err(ResponseError::new(
                    "ErrorInvalidSendItemSaveSettings",
                    "SavedItemFolderId is given but the cancellation is not saved (SendOnly).",
                ));
            }
            Some(MessageDisposition::SaveOnly) => {
                return Err(ResponseError::new(
                    "ErrorInvalidOperation",
                    "A meeting cancellation is sent (SendOnly or SendAndSaveCopy); it cannot be saved only.",
                ));
            }
        };
        let fields = &x.item;
        let item = self.read_item(&x.reference_item_id.id).await?;
        self.cancel(
            &item,
            send,
            mailbox::DeleteMode::MoveToDeletedItems,
            fields.subject.clone(),
            fields.body.as_ref().map(crate::ews::body_in),
        )
        .await
    }

    /// Whether a DeleteItem of this stored item with `send` sends a cancellation: the
    /// organizer's meeting with attendees.
    pub(crate) fn cancels(item: &mailbox::Item, send: CalendarSend) -> bool {
        send.sends()
            && item.calendar.is_some()
            && item
                .meeting
                .as_ref()
                .is_some_and(|m| m.is_organizer() && m.attendees().next().is_some())
    }

    /// DeleteItem of the organizer's meeting with cancellations sent (`item` as DeleteItem read
    /// it to decide so; the cancellation's own write checks it again).
    pub(crate) async fn delete_meeting(
        &self,
        item: &mailbox::Item,
        send: CalendarSend,
        mode: mailbox::DeleteMode,
    ) -> Result<(), ResponseError> {
        self.cancel(item, send, mode, None, None).await
    }

    async fn cancel(
        &self,
        item: &mailbox::Item,
        send: CalendarSend,
        mode: mailbox::DeleteMode,
        subject: Option<String>,
        body: Option<mailbox::Body>,
    ) -> Result<(), ResponseError> {
        let id = item.id.as_str();
        let Some(meeting) = &item.meeting else {
            return Err(invalid_reference());
        };
        if !meeting.is_organizer() {
            return Err(err(&MailboxError::NotOrganizer));
        }
        let line = |l: &[mailbox::Attendee]| -> Vec<Recipient> {
            l.iter().map(|a| a.mailbox.clone()).collect()
        };
        let routing = if meeting.attendees().next().is_some() {
            Some(
                self.route(
                    &line(&meeting.required),
                    &line(&meeting.optional),
                    &line(&meeting.resources),
                )
                .await?,
            )
        } else {
            None
        };
        let subject_for_report = item.subject.as_deref().map(|s| format!("Canceled: {s}"));
        let cancel = mailbox::Cancel {
            from: self.me(),
            sender: self.on_behalf(),
            message_id: self.new_message_id(),
            report: routing
                .as_ref()
                .and_then(|r| self.report(subject_for_report.as_deref(), r)),
            recipient_addresses: routing
                .as_ref()
                .map(|r| r.addresses.clone())
                .unwrap_or_default(),
            deliver_to: routing.map(|r| r.deliver_to).unwrap_or_default(),
            save_copy: send.saves_copy(),
            delete: mode,
            subject,
            body,
        };
        let cancelled = self
            .ex
            .inner
            .mbx
            .cancel_meeting(&self.key, id.to_owned(), self.item_guard(), cancel)
            .await
            .map_err(|e| self.mailbox_err(&e))?;
        // what the attendees' rules forward of the cancellation (and the organizer's of a report)
        self.send_rule_forwards(cancelled.forwards).await;
        Ok(())
    }

    /// UpdateItem of the organizer's meeting with the update sent (`send` other than
    /// `SendToNone`; the "changed" modes send to every attendee too). Returns `None` when the
    /// item is not such a meeting (the ordinary update applies).
    pub(crate) async fn update_meeting(
        &self,
        u: &request::UpdateItem,
        change: &request::ItemChange,
        send: CalendarSend,
    ) -> Option<Result<resp::UpdatedItem, ResponseError>> {
        if !send.sends() {
            return None;
        }
        let item = self.read_item(&change.item_id.id).await.ok()?;
        if item.calendar.is_none() || !item.meeting.as_ref().is_some_and(|m| m.is_organizer()) {
            return None;
        }
        Some(self.update_meeting_now(u, change, send, &item).await)
    }

    /// `item` as [`Handler::update_meeting`] read it (the update's own write checks the change
    /// key and the item again).
    async fn update_meeting_now(
        &self,
        u: &request::UpdateItem,
        change: &request::ItemChange,
        send: CalendarSend,
        item: &mailbox::Item,
    ) -> Result<resp::UpdatedItem, ResponseError> {
        let mut update = crate::ews::item_update_of(&change.updates)?;
        if update.changes_attendees() {
            update.new_meeting = Some(mailbox::Meeting::new(new_uid(), self.me()));
        }
        // a series moved: its first occurrence and reach follow (`crate::recurring`)
        crate::recurring::fit_move(item, &mut update)?;
        self.send_meeting_update(
            u.conflict_resolution,
            change.item_id.change_key.clone(),
            update,
            send,
            item,
        )
        .await
    }

    /// Each attendee mailbox a meeting's requests went to, with its request and calendar copy
    /// (the store skips the organizer's own mailbox, in order).
    fn delivered(
        &self,
        attendees: Vec<MailboxKey>,
        invited: &mailbox::Invited,
    ) -> Vec<(MailboxKey, mailbox::Item, mailbox::Item)> {
        attendees
            .into_iter()
            .filter(|k| k.as_str() != self.key.as_str())
            .zip(invited.requests.iter().cloned())
            .zip(invited.calendar_copies.iter().cloned())
            .map(|((k, r), c)| (k, r, c))
            .collect()
    }

    /// Whether `item` is an organizer's meeting with attendees (what a sent update reaches).
    pub(crate) fn organizes(item: &mailbox::Item) -> bool {
        item.calendar.is_some()
            && item
                .meeting
                .as_ref()
                .is_some_and(|m| m.is_organizer() && m.attendees().next().is_some())
    }

    /// The organizer's meeting `item` changed by `update` in one write with the update sent to
    /// its attendees (`mailbox::MailboxStore::update_meeting`): updated requests, their copies
    /// changed, attendees the update removes sent a cancellation.
    pub(crate) async fn send_meeting_update(
        &self,
        conflict_resolution: request::ConflictResolution,
        change_key: Option<String>,
        update: mailbox::ItemUpdate,
        send: CalendarSend,
        item: &mailbox::Item,
    ) -> Result<resp::UpdatedItem, ResponseError> {
        // the attendees the update is sent to: the meeting's lines as the update leaves them
        let Some(meeting) = &item.meeting else {
            return Err(invalid_reference());
        };
        let line = |l: &[mailbox::Attendee], e: Option<&mailbox::AttendeeEdit>| -> Vec<Recipient> {
            let l = match e {
                Some(e) => e.apply(l),
                None => l.to_vec(),
            };
            l.into_iter().map(|a| a.mailbox).collect()
        };
        let (req, opt, res) = (
            line(&meeting.required, update.required.as_ref()),
            line(&meeting.optional, update.optional.as_ref()),
            line(&meeting.resources, update.resources.as_ref()),
        );
        let routing = if req.is_empty() && opt.is_empty() && res.is_empty() {
            None
        } else {
            Some(self.route(&req, &opt, &res).await?)
        };
        // attendees the update removes: sent a cancellation (Exchange does, whatever the mode)
        let kept: Vec<&Recipient> = req.iter().chain(&opt).chain(&res).collect();
        let removed: Vec<Recipient> = meeting
            .attendees()
            .map(|a| a.mailbox.clone())
            .filter(|m| !kept.iter().any(|k| k.email.eq_ignore_ascii_case(&m.email)))
            .collect();
        let cancel_to = if removed.is_empty() {
            Vec::new()
        } else {
            self.route(&removed, &[], &[]).await?.deliver_to
        };
        let invite = mailbox::Invite {
            from: self.me(),
            sender: self.on_behalf(),
            message_id: self.new_message_id(),
            report: routing
                .as_ref()
                .and_then(|r| self.report(item.subject.as_deref(), r)),
            recipient_addresses: routing
                .as_ref()
                .map(|r| r.addresses.clone())
                .unwrap_or_default(),
            deliver_to: routing.map(|r| r.deliver_to).unwrap_or_default(),
            save_copy: send.saves_copy(),
            cancel_to,
        };
        let overwrite = conflict_resolution != request::ConflictResolution::NeverOverwrite;
        let attendees = invite.deliver_to.clone();
        match self
            .ex
            .inner
            .mbx
            .update_meeting(
                &self.key,
                item.id.clone(),
                change_key,
                overwrite,
                update,
                self.item_guard(),
                invite,
            )
            .await
        {
            Ok((mut invited, conflicted)) => {
                self.book_resources(self.delivered(attendees, &invited))
                    .await;
                self.send_rule_forwards(std::mem::take(&mut invited.forwards))
                    .await;
                Ok(resp::UpdatedItem {
                    kind: ItemKind::CalendarItem,
                    item_id: Some(ItemRef {
                        id: invited.item.id.clone(),
                        change_key: Some(invited.item.change_key.clone()),
                    }),
                    conflicts: u32::from(conflicted),
                })
            }
            Err(MailboxError::ChangeKeyConflict) => {
                Err(ResponseError::code("ErrorIrresolvableConflict"))
            }
            Err(e) => Err(self.mailbox_err(&e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new UID has the length and alphabet of the global object ids Exchange hands out, and
    /// two meetings never share one.
    #[test]
    fn uids_look_like_exchange_global_object_ids() {
        let (a, b) = (new_uid(), new_uid());
        assert_eq!(a.len(), 112, "{a}");
        assert!(a.starts_with("040000008200E00074C5B7101A82E008"), "{a}");
        assert!(
            a.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()),
            "{a}"
        );
        assert_ne!(a, b);
    }
}
