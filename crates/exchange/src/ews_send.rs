//! Sending mail inside the organization: CreateItem with `MessageDisposition="SendOnly"` or
//! `"SendAndSaveCopy"`, SendItem (drafts), and UpdateItem with those dispositions (a stored
//! message changed, then sent as SendItem sends it: the change and the send are one write).
//!
//! There is no SMTP transport. Each To, Cc and Bcc address is looked up among the organization's
//! recipients by any of their SMTP proxy addresses (ASCII case ignored); a distribution group is
//! expanded into its members, nested groups too, each recipient once (`look_up`). A mailbox
//! found gets one copy in its Inbox (unread, From and
//! Sender the acting mailbox, received now, no Bcc line), written by the mailbox store in the
//! same transaction as the sender's side (the saved copy, the draft moved or deleted) — every
//! mailbox is in one SQLite database, so a send is all or nothing. Delivering is the server's
//! own act: the caller needs no role on the recipients' mailboxes.
//!
//! An address that is not a mailbox here (outside the accepted domains, unknown in one, or a
//! mail user's, whose mail goes outside) is
//! not delivered: as Exchange does, the send still succeeds, and the sender gets a non-delivery
//! report (`REPORT.IPM.Note.NDR`, from the organization's system mailbox) in their Inbox naming
//! each undeliverable recipient, written in the same transaction.
//!
//! Authorization is CreateItem's for the acting mailbox (UserApplication, or
//! ApplicationImpersonation when impersonating; ArchiveApplication to save under Recoverable
//! Items), and a message may only be sent as that mailbox: a From or Sender naming another
//! address is `ErrorSendAsDenied`. A message has at least one and at most
//! [`MAX_RECIPIENTS_PER_MESSAGE`] recipients, counted as listed and again after its groups are
//! expanded (`ErrorInvalidRecipients`).

use ews_proto::request::{self, MessageDisposition, NewItem as ReqItem};
use ews_proto::response::{self as resp, ResponseError};
use ews_proto::types::ItemKind;
use mailbox::limits::MAX_RECIPIENTS_PER_MESSAGE;
use mailbox::{FolderSel, MailboxError, MailboxKey, NewItem, Recipient};

use crate::error::ExchangeError;
use crate::ews::{Handler, err, is_message_class, item_update_of, kind_of, to_new_item};
use crate::org::Org;

/// The address Exchange's system messages (NDRs) come from, at the organization's domain.
const SYSTEM_MAILBOX: &str = "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e";

/// Why an address was not delivered to.
enum Undeliverable {
    /// In an accepted domain, but no mailbox has it.
    Unknown,
    /// Outside the accepted domains: this server has no transport to other organizations.
    External,
}

/// Each address a message goes to, with the mailbox (GUID, name) it reaches or why it reaches
/// none ([`look_up`]).
/// Each recipient address: the mailbox (guid, display name) or why not, and whether it was
/// reached through a distribution group.
/// Each address: the mailbox it reaches (guid, name, its SMTP proxy addresses) or why none, and
/// whether it was reached through a group.
type Looked = Vec<(
    String,
    Result<(String, String, Vec<String>), Undeliverable>,
    bool,
)>;

/// Where one message goes.
pub(crate) struct Routing {
    pub(crate) deliver_to: Vec<MailboxKey>,
    /// Each of `deliver_to`'s SMTP addresses, in the same order (its Inbox rules' "me").
    pub(crate) addresses: Vec<Vec<String>>,
    /// Each of `deliver_to` named directly on the message, with the address it was reached at
    /// (an automatic reply's From). Members reached through a group are not: a group does not
    /// pass its members' automatic replies to the sender (Exchange's
    /// `SendOofMessageToOriginatorEnabled`, false by default).
    delivered_as: Vec<mailbox::Delivered>,
    undeliverable: Vec<(String, Undeliverable)>,
}

fn send_as_denied(who: &str) -> ResponseError {
    ResponseError::new(
        "ErrorSendAsDenied",
        &format!(
            "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account ({who}); a message is sent as the acting mailbox only."
        ),
    )
}

fn save_settings() -> ResponseError {
    ResponseError::new(
        "ErrorInvalidSendItemSaveSettings",
        "SavedItemFolderId is given but the sent message is not saved (SendOnly, or SaveItemToFolder=\"false\").",
    )
}

fn sent_items() -> FolderSel {
    FolderSel::distinguished(mailbox::distinguished::SENT_ITEMS)
}

impl Handler<'_> {
    /// The acting mailbox as From and Sender, or `ErrorSendAsDenied` when the message names
    /// anyone else (or the mailbox has no address to send from).
    fn sender_of(
        &self,
        from: Option<&Recipient>,
        sender: Option<&Recipient>,
    ) -> Result<Recipient, ResponseError> {
        if self.smtp.is_empty() {
            return Err(send_as_denied("a mailbox without a primary SMTP address"));
        }
        for r in from.into_iter().chain(sender) {
            if !r.email.eq_ignore_ascii_case(&self.smtp) {
                return Err(send_as_denied(&r.email));
            }
        }
        Ok(Recipient {
            name: Some(self.display_name.clone()).filter(|n| !n.is_empty()),
            email: self.smtp.clone(),
        })
    }

    fn domain(&self) -> &str {
        self.smtp.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// Looks the message's recipients up in the directory; every mailbox found is provisioned.
    pub(crate) async fn route(
        &self,
        to: &[Recipient],
        cc: &[Recipient],
        bcc: &[Recipient],
    ) -> Result<Routing, ResponseError> {
        let n = to.len() + cc.len() + bcc.len();
        if n == 0 {
            return Err(ResponseError::new(
                "ErrorInvalidRecipients",
                "A message needs at least one recipient (To, Cc or Bcc) to be sent.",
            ));
        }
        if n > MAX_RECIPIENTS_PER_MESSAGE {
            return Err(ResponseError::new(
                "ErrorInvalidRecipients",
                &format!(
                    "The message has {n} recipients; at most {MAX_RECIPIENTS_PER_MESSAGE} are allowed (MaxRecipientEnvelopeLimit)."
                ),
            ));
        }
        let mut addrs: Vec<String> = Vec::with_capacity(n);
        for r in to.iter().chain(cc).chain(bcc) {
            let a = r.email.trim().to_owned();
            if !addrs.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
                addrs.push(a);
            }
        }
        let org = self.ex.inner.org.clone();
        let db = org.db.clone();
        let looked: Looked =
            db.call(move |c| look_up(&org, c, addrs))
                .await
                .map_err(|e| match e {
                    ExchangeError::TooManyRecipients { .. } => {
                        ResponseError::new("ErrorInvalidRecipients", &e.to_string())
                    }
                    e => ResponseError::new("ErrorInternalServerError", &e.to_string()),
                })?;
        let mut routing = Routing {
            deliver_to: Vec::new(),
            addresses: Vec::new(),
            delivered_as: Vec::new(),
            undeliverable: Vec::new(),
        };
        for (addr, found, via_group) in looked {
            match found {
                Ok((guid, name, smtp)) => {
                    let key = MailboxKey::new(guid).map_err(|e| err(&e))?;
                    if !routing.deliver_to.contains(&key) {
                        self.ex
                            .ensure_mailbox_once(&key)
                            .await
                            .map_err(|e| err(&e))?;
                        if !via_group {
                            routing.delivered_as.push(mailbox::Delivered {
                                mailbox: key.clone(),
                                address: Recipient {
                                    name: Some(name).filter(|n| !n.is_empty()),
                                    email: addr.clone(),
                                },
                            });
                        }
                        routing.deliver_to.push(key);
                        routing.addresses.push(smtp);
                    }
                }
                Err(why) => routing.undeliverable.push((addr, why)),
            }
        }
        Ok(routing)
    }

    /// The non-delivery report for the sender's Inbox, if any recipient was not delivered to.
    pub(crate) fn report(&self, subject: Option<&str>, routing: &Routing) -> Option<NewItem> {
        if routing.undeliverable.is_empty() {
            return None;
        }
        let mut text = String::from("Delivery has failed to these recipients or groups:\r\n\r\n");
        for (addr, why) in &routing.undeliverable {
            let reason = match why {
                Undeliverable::Unknown => {
                    "The email address couldn't be found: no mailbox of this organization has it. #550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
                }
                Undeliverable::External => {
                    "The recipient is outside this organization, and this server has no transport to other organizations. #550 5.4.1 Recipient address rejected: no route to the recipient's domain"
                }
            };
            text.push_str(&format!("{addr}\r\n{reason}\r\n\r\n"));
        }
        let domain = self.domain();
        Some(NewItem {
            item_class: "REPORT.IPM.Note.NDR".into(),
            subject: Some(format!("Undeliverable: {}", subject.unwrap_or(""))),
            body: Some(mailbox::Body {
                body_type: mailbox::BodyType::Text,
                content: text,
            }),
            from: Some(Recipient::new(
                Some("Microsoft Outlook"),
                &format!("{SYSTEM_MAILBOX}@{domain}"),
            )),
            sender: Some(Recipient::new(
                Some("Microsoft Outlook"),
                &format!("{SYSTEM_MAILBOX}@{domain}"),
            )),
            to: vec![Recipient {
                name: Some(self.display_name.clone()).filter(|n| !n.is_empty()),
                email: self.smtp.clone(),
            }],
            internet_message_id: Some(self.new_message_id()),
            ..NewItem::default()
        })
    }

    pub(crate) fn new_message_id(&self) -> String {
        format!(
            "<{}@{}>",
            uuid::Uuid::new_v4().simple(),
            if self.domain().is_empty() {
                "localhost"
            } else {
                self.domain()
            }
        )
    }

    /// CreateItem with a send disposition: each message sent on its own terms, answered with an
    /// empty `m:Items` (EWS returns no id for a sent message).
    pub(crate) async fn create_and_send(
        &self,
        c: request::CreateItem,
        disposition: MessageDisposition,
    ) -> Vec<u8> {
        let n = c.items.len().max(1);
        let save_in = match disposition {
            MessageDisposition::SendOnly => {
                if c.saved_folder.is_some() {
                    return resp::create_item_response(&vec![Err(save_settings()); n]);
                }
                None
            }
            _ => match c.saved_folder.as_ref().map(|f| self.sel(f)).transpose() {
                Ok(f) => Some(f.unwrap_or_else(sent_items)),
                Err(e) => return resp::create_item_response(&vec![Err(e); n]),
            },
        };
        let authorized = match &save_in {
            Some(sel) => self.authorize_write_in(sel).await,
            None => self.authorize(false),
        };
        if let Err(e) = authorized {
            return resp::create_item_response(&vec![Err(e); n]);
        }
        let mut out = Vec::with_capacity(n);
        for item in c.items {
            out.push(self.send_new(item, save_in.clone()).await);
        }
        resp::create_item_response(&out)
    }

    async fn send_new(
        &self,
        item: ReqItem,
        save_in: Option<FolderSel>,
    ) -> Result<Option<resp::CreatedItem>, ResponseError> {
        let (item, answered) = match item {
            // a reply or forward: the message it stands for (`ews_reply`), and its original
            // marked as answered when it is sent
            ReqItem::SmartResponse(r) => {
                let original = r.reference_item_id.clone();
                let kind = r.kind;
                let item = self.compose(r).await?;
                let answered = crate::recurring::target(&original).ok().map(|t| {
                    crate::ews_reply::answered(t.item_id(), kind, self.ex.inner.cfg.clock.now())
                });
                (item, answered)
            }
            other => (other, None),
        };
        if !matches!(item, ReqItem::Message(_)) {
            return Err(ResponseError::new(
                "ErrorInvalidOperation",
                "Only messages are sent with MessageDisposition; create calendar items with SaveOnly.",
            ));
        }
        let item = to_new_item(item, self.ex.inner.cfg.clock.now(), &|| self.me())?;
        let from = self.sender_of(item.from.as_ref(), item.sender.as_ref())?;
        let routing = self.route(&item.to, &item.cc, &item.bcc).await?;
        let (subject, class) = (item.subject.clone(), item.item_class.clone());
        let send = mailbox::Send {
            from: from.clone(),
            message_id: self.new_message_id(),
            report: self.report(item.subject.as_deref(), &routing),
            deliver_to: routing.deliver_to,
            save_in,
            routed_version: None,
            answered,
            recipient_addresses: routing.addresses,
        };
        let sent = self
            .ex
            .inner
            .mbx
            .send_new(&self.key, item, send)
            .await
            .map_err(|e| self.mailbox_err(&e))?;
        self.send_oof_replies(&from, &class, subject.as_deref(), routing.delivered_as)
            .await;
        self.send_rule_forwards(sent.forwards).await;
        Ok(None)
    }

    /// SendItem: each draft sent on its own terms.
    pub(crate) async fn send_items(&self, s: request::SendItem) -> Vec<u8> {
        let n = s.item_ids.len();
        if n > mailbox::limits::MAX_ITEMS_PER_CALL {
            let e = ResponseError::new(
                "ErrorInvalidRequest",
                &format!(
                    "{n} item ids in one request; at most {}",
                    mailbox::limits::MAX_ITEMS_PER_CALL
                ),
            );
            return resp::send_item_response(&[Err(e)]);
        }
        let save_in = if s.save_item_to_folder {
            match s.saved_folder.as_ref().map(|f| self.sel(f)).transpose() {
                Ok(f) => Some(f.unwrap_or_else(sent_items)),
                Err(e) => return resp::send_item_response(&vec![Err(e); n]),
            }
        } else if s.saved_folder.is_some() {
            return resp::send_item_response(&vec![Err(save_settings()); n]);
        } else {
            None
        };
        if let Some(sel) = &save_in
            && let Err(e) = self.authorize_write_in(sel).await
        {
            return resp::send_item_response(&vec![Err(e); n]);
        }
        let mut out = Vec::with_capacity(n);
        for id in &s.item_ids {
            out.push(
                self.send_existing(&id.id, id.change_key.clone(), save_in.clone())
                    .await,
            );
        }
        resp::send_item_response(&out)
    }

    async fn send_existing(
        &self,
        id: &str,
        change_key: Option<String>,
        save_in: Option<FolderSel>,
    ) -> Result<(), ResponseError> {
        self.send_stored(id, change_key, None, save_in, "SendItem")
            .await
            .map(|_| ())
    }

    /// UpdateItem with `SendOnly` or `SendAndSaveCopy`: the change applied and the message sent
    /// in one write, as SendItem sends it (the copy saved in SavedItemFolderId, Sent Items by
    /// default, for `SendAndSaveCopy`; the item deleted for `SendOnly`). ConflictResolution
    /// and the change key work as for a saved update; the answer has an empty `m:Items`.
    pub(crate) async fn update_and_send(
        &self,
        u: &request::UpdateItem,
        change: &request::ItemChange,
        disposition: MessageDisposition,
    ) -> Result<resp::UpdatedItem, ResponseError> {
        let save_in = match disposition {
            MessageDisposition::SendOnly => {
                if u.saved_folder.is_some() {
                    return Err(save_settings());
                }
                None
            }
            _ => Some(
                u.saved_folder
                    .as_ref()
                    .map(|f| self.sel(f))
                    .transpose()?
                    .unwrap_or_else(sent_items),
            ),
        };
        if let Some(sel) = &save_in {
            self.authorize_write_in(sel).await?;
        }
        let update = item_update_of(&change.updates)?;
        if let Some(class) = &update.item_class
            && !is_message_class(class)
        {
            return Err(ResponseError::new(
                "ErrorInvalidItemForOperation",
                &format!("Only messages can be sent: the item class {class} is not a message's."),
            ));
        }
        let overwrite = u.conflict_resolution != request::ConflictResolution::NeverOverwrite;
        let conflicts = self
            .send_stored(
                &change.item_id.id,
                change.item_id.change_key.clone(),
                Some((update, overwrite)),
                save_in,
                "UpdateItem",
            )
            .await?;
        Ok(resp::UpdatedItem {
            kind: ItemKind::Message,
            item_id: None,
            conflicts: u32::from(conflicts),
        })
    }

    /// Sends a stored message of the acting mailbox, first applying `update` (with its
    /// overwrite policy) in the same write. Returns whether a stale change key was overridden.
    async fn send_stored(
        &self,
        id: &str,
        change_key: Option<String>,
        update: Option<(mailbox::ItemUpdate, bool)>,
        save_in: Option<FolderSel>,
        op: &str,
    ) -> Result<bool, ResponseError> {
        // the recipients to route: the stored message's, as the update changes them; the send's
        // own transaction refuses it if the message changed since it was read here
        // (`routed_version`), and checks the change key and where the item is again
        let draft = self
            .ex
            .inner
            .mbx
            .get_item(&self.key, id)
            .await
            .map_err(|e| err(&e))?;
        if kind_of(&draft) != ItemKind::Message || draft.is_associated {
            return Err(ResponseError::new(
                "ErrorInvalidItemForOperation",
                &format!("Only messages can be sent with {op}."),
            ));
        }
        let edited = |line: &[Recipient], edit: Option<&mailbox::RecipientEdit>| match edit {
            None => line.to_vec(),
            Some(e) => e.apply(line),
        };
        let u = update.as_ref().map(|(u, _)| u);
        let to = edited(&draft.to, u.and_then(|u| u.to.as_ref()));
        let cc = edited(&draft.cc, u.and_then(|u| u.cc.as_ref()));
        let bcc = edited(&draft.bcc, u.and_then(|u| u.bcc.as_ref()));
        let from_line = match u.and_then(|u| u.from.as_ref()) {
            Some(changed) => changed.as_ref(),
            None => draft.from.as_ref(),
        };
        let from = self.sender_of(from_line, draft.sender.as_ref())?;
        let routing = self.route(&to, &cc, &bcc).await?;
        // the report names the subject the message is sent with
        let subject = match update.as_ref().and_then(|(u, _)| u.subject.as_ref()) {
            Some(changed) => changed.as_deref(),
            None => draft.subject.as_deref(),
        };
        let subject = subject.map(str::to_owned);
        let class = match update.as_ref().and_then(|(u, _)| u.item_class.as_ref()) {
            Some(changed) => changed.clone(),
            None => draft.item_class.clone(),
        };
        // a reply or forward saved as a draft marks what it answers now, and that note is
        // not sent
        let answers_key = crate::ews_reply::answers_key();
        let answered = crate::ews::extended_of(&draft.extended, &answers_key)
            .and_then(crate::ews_reply::answers_of)
            .map(|(kind, original)| {
                crate::ews_reply::answered(original, kind, self.ex.inner.cfg.clock.now())
            });
        let send = mailbox::Send {
            from: from.clone(),
            message_id: self.new_message_id(),
            report: self.report(subject.as_deref(), &routing),
            deliver_to: routing.deliver_to,
            save_in,
            routed_version: Some(draft.change_key.clone()),
            answered,
            recipient_addresses: routing.addresses,
        };
        let (overwrite, mut update) = match update {
            Some((u, overwrite)) => (overwrite, Some(u)),
            None => (false, None),
        };
        if crate::ews::extended_of(&draft.extended, &answers_key).is_some() {
            update
                .get_or_insert_with(mailbox::ItemUpdate::default)
                .remove_extended
                .push(answers_key);
        }
        match self
            .ex
            .inner
            .mbx
            .update_and_send_item(
                &self.key,
                id.to_owned(),
                change_key,
                overwrite,
                update,
                self.item_guard(),
                send,
            )
            .await
        {
            Ok((sent, conflicted)) => {
                self.send_oof_replies(&from, &class, subject.as_deref(), routing.delivered_as)
                    .await;
                self.send_rule_forwards(sent.forwards).await;
                Ok(conflicted)
            }
            Err(MailboxError::ChangeKeyConflict) => Err(ResponseError::new(
                "ErrorIrresolvableConflict",
                "The send operation failed because the item was changed since its change key was read.",
            )),
            Err(e) => Err(self.mailbox_err(&e)),
        }
    }
}

/// What the directory makes of a message's addresses (each given once, ASCII case ignored): a
/// recipient is found by any of its SMTP proxy addresses. A mailbox is delivered to (once,
/// however many of its addresses are listed); a distribution group is expanded
/// ([`Org::expand_group`]: recursively, each recipient once, a cycle ended) into its mailboxes
/// and mail users, each under its own address, while the message keeps the group's address on
/// its lines; a mail user, whose mail goes to its external address, is undeliverable as an
/// external recipient is (this server has no transport out). An address no recipient has is
/// `Unknown` in an accepted domain and `External` outside them. More than
/// [`MAX_RECIPIENTS_PER_MESSAGE`] after expansion is [`ExchangeError::TooManyRecipients`].
fn look_up(
    org: &Org,
    c: &store::rusqlite::Connection,
    addrs: Vec<String>,
) -> Result<Looked, ExchangeError> {
    let reach = |r: crate::org::Recipient| -> Result<(String, String, Vec<String>), Undeliverable> {
        if r.is_mailbox() {
            let smtp = r.smtp_addresses();
            Ok((r.guid, r.name, smtp))
        } else {
            Err(Undeliverable::External)
        }
    };
    let mut seen = std::collections::HashSet::new();
    let mut out: Looked = Vec::with_capacity(addrs.len());
    // the recipients named directly first, then the groups: a mailbox that is both named and a
    // member counts as named (its automatic reply goes to the sender), whatever the order
    let mut found = Vec::with_capacity(addrs.len());
    for a in addrs {
        let r = org.recipient_by_smtp(c, &a)?;
        found.push((a, r));
    }
    found.sort_by_key(|(_, r)| r.as_ref().is_some_and(|r| r.is_group()));
    for (a, r) in found {
        match r {
            Some(g) if g.is_group() => {
                let members =
                    org.expand_group(c, &g, &mut seen, out.len(), MAX_RECIPIENTS_PER_MESSAGE)?;
                for m in members {
                    // a mail user is named by where its mail would go
                    let addr = m
                        .external_email_address
                        .as_deref()
                        .map(crate::org::bare_smtp)
                        .filter(|_| m.is_mail_user())
                        .or(m.address())
                        .unwrap_or_default()
                        .to_owned();
                    out.push((addr, reach(m), true));
                }
            }
            Some(r) => {
                if seen.insert(r.guid.clone()) {
                    out.push((a, reach(r), false));
                }
            }
            None => {
                let domain = a.rsplit_once('@').map_or("", |(_, d)| d);
                let why = if domain.is_empty() || !Org::is_accepted_domain(c, domain)? {
                    Undeliverable::External
                } else {
                    Undeliverable::Unknown
                };
                out.push((a, Err(why), false));
            }
        }
        if out.len() > MAX_RECIPIENTS_PER_MESSAGE {
            return Err(ExchangeError::TooManyRecipients {
                max: MAX_RECIPIENTS_PER_MESSAGE,
                why: format!("{} recipients so far", out.len()),
            });
        }
    }
    Ok(out)
}
