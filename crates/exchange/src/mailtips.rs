//! GetMailTips (MS-OXWMT): what a sender is told about recipients before sending, answered
//! from the directory and the mailboxes' out-of-office settings.
//!
//! Authorized as the other mailbox operations (UserApplication, or ApplicationImpersonation
//! when impersonating), and `m:SendingAs` must be one of the acting mailbox's own SMTP
//! addresses (else `ErrorSendAsDenied`): this server grants no send-as rights, so the sender is
//! always inside the organization and sees the recipients' internal automatic replies.
//!
//! Each recipient, by any SMTP proxy address:
//! - a recipient of the organization: its out-of-office reply while it is on (a mailbox's; empty
//!   for the others), with the period of a scheduled one; its custom mail tip (`-MailTip`);
//!   `TotalMemberCount` the mailboxes and mail users a group reaches, nested groups opened (1
//!   for the others), `ExternalMemberCount` those of them whose address is outside the accepted
//!   domains; `MaxMessageSize` [`MAX_MESSAGE_SIZE`]; `MailboxFull`, `DeliveryRestricted` and
//!   `IsModerated` false, as this server has no quotas, delivery restrictions or moderation;
//! - an address in an accepted domain nobody has, or not an SMTP address at all:
//!   `InvalidRecipient` true and nothing else;
//! - an address outside the organization: `InvalidRecipient` false, one external member,
//!   `MaxMessageSize`; its mailbox's state is unknown here, so no out-of-office, mailbox-full,
//!   moderation or custom tip.
//!
//! A group nesting past [`crate::org::MAX_GROUPS_EXPANDED`] groups has its member counts in
//! `PendingMailTips` instead, as Exchange reports tips it could not evaluate.

use std::collections::HashMap;

use ews_proto::mailtips::{self as wire, MailTipType, MailTips, OutOfOfficeTip, TipSet};
use ews_proto::response::ResponseError;
use ews_proto::types::Mailbox;
use mailbox::MailboxKey;
use time::OffsetDateTime;

use crate::error::ExchangeError;
use crate::ews::Handler;
use crate::org::{Org, Recipient};

/// The largest message a recipient here receives: the file attachments of one item together
/// (`mailbox::limits::MAX_ITEM_ATTACHMENT_BYTES`, Exchange's default 25 MB send size).
pub const MAX_MESSAGE_SIZE: u64 = mailbox::limits::MAX_ITEM_ATTACHMENT_BYTES as u64;

/// Most recipients one GetMailTips call names.
pub const MAX_MAIL_TIPS_RECIPIENTS: usize = 100;

/// What one requested address is.
#[derive(Debug)]
enum Found {
    /// No routing type but SMTP, no address, … : the recipient's own error.
    Refused(ResponseError),
    /// In an accepted domain with nobody behind it, or not an SMTP address.
    Invalid,
    /// Outside the organization.
    External,
    /// A recipient of the organization, with its member counts (total, external) when they
    /// were asked for: `None` inside when they could not be evaluated.
    Known {
        rec: Box<Recipient>,
        members: Option<Option<(u32, u32)>>,
    },
}

/// The mailboxes and mail users mail to `group` reaches (nested groups opened, each once), and
/// how many of them have an address outside the accepted domains; `None` past the nesting bound.
fn member_counts(
    org: &Org,
    c: &store::rusqlite::Connection,
    group: &Recipient,
    accepted: &mut HashMap<String, bool>,
) -> Result<Option<(u32, u32)>, ExchangeError> {
    let mut seen = std::collections::HashSet::new();
    let members = match org.expand_group(c, group, &mut seen, 0, usize::MAX) {
        Ok(m) => m,
        Err(ExchangeError::TooManyRecipients { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut external = 0u32;
    for m in &members {
        if is_external(c, delivery_address(m), accepted)? {
            external += 1;
        }
    }
    Ok(Some((
        u32::try_from(members.len()).unwrap_or(u32::MAX),
        external,
    )))
}

/// Where mail to a recipient goes: a mail user's external address, else its primary address.
fn delivery_address(r: &Recipient) -> Option<&str> {
    if r.is_mail_user() {
        r.external_email_address
            .as_deref()
            .map(crate::org::bare_smtp)
            .or(r.address())
    } else {
        r.address()
    }
}

/// Whether mail to `address` leaves the organization (its domain is not accepted); no address
/// counts as inside, as nothing is sent out for it.
fn is_external(
    c: &store::rusqlite::Connection,
    address: Option<&str>,
    accepted: &mut HashMap<String, bool>,
) -> Result<bool, ExchangeError> {
    let Some(domain) = address.and_then(|a| a.rsplit_once('@')).map(|(_, d)| d) else {
        return Ok(false);
    };
    let domain = domain.to_ascii_lowercase();
    if let Some(a) = accepted.get(&domain) {
        return Ok(!a);
    }
    let a = Org::is_accepted_domain(c, &domain)?;
    accepted.insert(domain, a);
    Ok(!a)
}

fn refused(code: &str, why: String) -> Found {
    Found::Refused(ResponseError::new(code, &why))
}

/// What `m` names, read in the directory.
fn find(
    org: &Org,
    c: &store::rusqlite::Connection,
    m: &Mailbox,
    counts: bool,
    accepted: &mut HashMap<String, bool>,
) -> Result<Found, ExchangeError> {
    if let Some(rt) = m.routing_type.as_deref()
        && !rt.eq_ignore_ascii_case("SMTP")
    {
        return Ok(refused(
            "ErrorInvalidRoutingType",
            format!(
                "The routing type {:?} is not supported; name the recipient by its SMTP address (RoutingType SMTP).",
                rt.chars().take(40).collect::<String>()
            ),
        ));
    }
    let Some(address) = m.email_address.as_deref().map(str::trim) else {
        return Ok(refused(
            "ErrorMissingEmailAddress",
            "A recipient has no EmailAddress; give each t:Mailbox its SMTP address.".into(),
        ));
    };
    let bare = crate::org::bare_smtp(address);
    if bare.len() > crate::org::MAX_PROXY_ADDRESS_LEN || !crate::org::valid_smtp(bare) {
        return Ok(Found::Invalid);
    }
    if let Some(rec) = org.recipient_by_smtp(c, bare)? {
        let members = match (counts, rec.is_group()) {
            (false, _) => None,
            (true, true) => Some(member_counts(org, c, &rec, accepted)?),
            (true, false) => Some(Some((
                1,
                u32::from(is_external(c, delivery_address(&rec), accepted)?),
            ))),
        };
        return Ok(Found::Known {
            rec: Box::new(rec),
            members,
        });
    }
    Ok(if is_external(c, Some(bare), accepted)? {
        Found::External
    } else {
        Found::Invalid
    })
}

impl Handler<'_> {
    pub(crate) async fn get_mail_tips(&self, g: &wire::GetMailTips) -> Vec<u8> {
        match self.mail_tips(g).await {
            Ok(r) => wire::get_mail_tips_response(&r),
            Err(e) => wire::error_response(&e),
        }
    }

    async fn mail_tips(
        &self,
        g: &wire::GetMailTips,
    ) -> Result<Vec<Result<MailTips, ResponseError>>, ResponseError> {
        self.authorize(false)?;
        let n = g.recipients.len();
        if n > MAX_MAIL_TIPS_RECIPIENTS {
            return Err(ResponseError::new(
                "ErrorInvalidRequest",
                &format!(
                    "{n} recipients in one GetMailTips call; at most {MAX_MAIL_TIPS_RECIPIENTS}: ask in several calls"
                ),
            ));
        }
        let want = g.requested;
        let counts =
            want.has(MailTipType::TotalMemberCount) || want.has(MailTipType::ExternalMemberCount);
        let org = self.ex.inner.org.clone();
        let sending_as = crate::org::bare_smtp(g.sending_as.trim()).to_owned();
        let recipients = g.recipients.clone();
        let (sender, found) = org
            .db
            .clone()
            .call(move |c| -> Result<_, ExchangeError> {
                let sender = if sending_as.len() <= crate::org::MAX_PROXY_ADDRESS_LEN {
                    org.recipient_by_smtp(c, &sending_as)?.map(|r| r.guid)
                } else {
                    None
                };
                let mut accepted = HashMap::new();
                let found = recipients
                    .iter()
                    .map(|m| find(&org, c, m, counts, &mut accepted))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok((sender, found))
            })
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "GetMailTips could not read the directory");
                ResponseError::code("ErrorInternalServerError")
            })?;
        if sender.as_deref() != Some(self.key.as_str()) {
            return Err(ResponseError::new(
                "ErrorSendAsDenied",
                &format!(
                    "SendingAs {} is not an address of the acting mailbox ({}); this server grants no send-as rights, so ask as that mailbox.",
                    g.sending_as.trim().chars().take(200).collect::<String>(),
                    self.smtp
                ),
            ));
        }
        let now = OffsetDateTime::from_unix_timestamp(self.ex.inner.cfg.clock.unix())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut out = Vec::with_capacity(n);
        for (asked, found) in g.recipients.iter().zip(found) {
            out.push(self.tips_for(asked, found, want, now).await);
        }
        Ok(out)
    }

    async fn tips_for(
        &self,
        asked: &Mailbox,
        found: Found,
        want: TipSet,
        now: OffsetDateTime,
    ) -> Result<MailTips, ResponseError> {
        let mut t = MailTips {
            recipient: Mailbox {
                name: asked.name.clone(),
                email_address: asked.email_address.as_deref().map(|a| a.trim().to_owned()),
                routing_type: Some("SMTP".into()),
                mailbox_type: None,
                item_id: None,
            },
            ..MailTips::default()
        };
        let ask = |ty| want.has(ty);
        let (rec, members) = match found {
            Found::Refused(e) => return Err(e),
            Found::Invalid => {
                t.invalid_recipient = ask(MailTipType::InvalidRecipient).then_some(true);
                return Ok(t);
            }
            Found::External => {
                if ask(MailTipType::TotalMemberCount) {
                    t.total_member_count = Some(1);
                }
                if ask(MailTipType::ExternalMemberCount) {
                    t.external_member_count = Some(1);
                }
                t.max_message_size = ask(MailTipType::MaxMessageSize).then_some(MAX_MESSAGE_SIZE);
                t.invalid_recipient = ask(MailTipType::InvalidRecipient).then_some(false);
                return Ok(t);
            }
            Found::Known { rec, members } => (rec, members),
        };
        t.recipient.name = Some(rec.name.clone());
        if ask(MailTipType::OutOfOfficeMessage) {
            match self.out_of_office(&rec, now).await {
                Some(o) => t.out_of_office = Some(o),
                None => t.pending = t.pending.with(MailTipType::OutOfOfficeMessage),
            }
        }
        t.mailbox_full = ask(MailTipType::MailboxFullStatus).then_some(false);
        if ask(MailTipType::CustomMailTip) {
            t.custom_mail_tip = rec.mail_tip.clone();
        }
        match members {
            Some(Some((total, external))) => {
                if ask(MailTipType::TotalMemberCount) {
                    t.total_member_count = Some(total);
                }
                if ask(MailTipType::ExternalMemberCount) {
                    t.external_member_count = Some(external);
                }
            }
            Some(None) => {
                for ty in [
                    MailTipType::TotalMemberCount,
                    MailTipType::ExternalMemberCount,
                ] {
                    if ask(ty) {
                        t.pending = t.pending.with(ty);
                    }
                }
            }
            None => {}
        }
        t.max_message_size = ask(MailTipType::MaxMessageSize).then_some(MAX_MESSAGE_SIZE);
        t.delivery_restricted = ask(MailTipType::DeliveryRestriction).then_some(false);
        t.is_moderated = ask(MailTipType::ModerationStatus).then_some(false);
        t.invalid_recipient = ask(MailTipType::InvalidRecipient).then_some(false);
        Ok(t)
    }

    /// A recipient's out-of-office tip: a mailbox's internal reply while it is on (with the
    /// period of a scheduled one), else an empty reply; `None` when its settings could not be
    /// read (the tip is then pending).
    async fn out_of_office(&self, rec: &Recipient, now: OffsetDateTime) -> Option<OutOfOfficeTip> {
        if !rec.is_mailbox() {
            return Some(OutOfOfficeTip::default());
        }
        let key = MailboxKey::new(rec.guid.clone()).ok()?;
        match self.ex.inner.mbx.get_oof(&key).await {
            Ok(s) if s.is_on(now) => Some(OutOfOfficeTip {
                message: s.internal_reply,
                duration: (s.state == mailbox::OofState::Scheduled)
                    .then_some(s.duration)
                    .flatten(),
            }),
            Ok(_) => Some(OutOfOfficeTip::default()),
            Err(e) => {
                tracing::warn!(error = %e, "GetMailTips could not read out-of-office settings");
                None
            }
        }
    }
}
