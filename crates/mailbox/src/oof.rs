//! Out-of-office (automatic replies): a mailbox's settings (EWS Get/SetUserOofSettings), and
//! the replies a delivery earns. Exchange's mailbox assistant answers a message delivered to a
//! mailbox whose out-of-office is on with the mailbox's reply, once per sender per period (a new
//! setting starts a new period); [`MailboxStore::oof_replies`] does that for the deliveries of
//! one send, in one write, after the send (as Exchange's reply, too, follows the delivery).

use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use crate::error::MailboxError;
use crate::items::{insert_item, load_item, prepare};
use crate::limits::{MAX_OOF_REPLIED, MAX_OOF_REPLY_BYTES};
use crate::model::*;
use crate::store::{MailboxStore, Mb, distinguished_folder, mailbox_row};

/// `t:OofState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OofState {
    #[default]
    Disabled,
    Enabled,
    /// On between the settings' start and end.
    Scheduled,
}

impl OofState {
    pub fn as_str(self) -> &'static str {
        match self {
            OofState::Disabled => "Disabled",
            OofState::Enabled => "Enabled",
            OofState::Scheduled => "Scheduled",
        }
    }

    fn from_db(s: &str) -> Result<Self, MailboxError> {
        Ok(match s {
            "Disabled" => OofState::Disabled,
            "Enabled" => OofState::Enabled,
            "Scheduled" => OofState::Scheduled,
            other => return Err(MailboxError::Corrupt(format!("oof state {other:?}"))),
        })
    }
}

/// `t:ExternalAudience`: who outside the organization gets the external reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExternalAudience {
    None,
    Known,
    #[default]
    All,
}

impl ExternalAudience {
    pub fn as_str(self) -> &'static str {
        match self {
            ExternalAudience::None => "None",
            ExternalAudience::Known => "Known",
            ExternalAudience::All => "All",
        }
    }

    fn from_db(s: &str) -> Result<Self, MailboxError> {
        Ok(match s {
            "None" => ExternalAudience::None,
            "Known" => ExternalAudience::Known,
            "All" => ExternalAudience::All,
            other => return Err(MailboxError::Corrupt(format!("oof audience {other:?}"))),
        })
    }
}

/// A mailbox's out-of-office settings. A mailbox that never set any has the default: disabled,
/// no period, empty replies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OofSettings {
    pub state: OofState,
    pub external_audience: ExternalAudience,
    /// `[start, end)` of a `Scheduled` state (kept, and shown, for the others too).
    pub duration: Option<(OffsetDateTime, OffsetDateTime)>,
    /// The reply to senders in the organization (HTML, as Outlook writes it).
    pub internal_reply: String,
    pub external_reply: String,
}

impl OofSettings {
    /// Whether automatic replies go out at `now`.
    pub fn is_on(&self, now: OffsetDateTime) -> bool {
        match self.state {
            OofState::Disabled => false,
            OofState::Enabled => true,
            OofState::Scheduled => self
                .duration
                .is_some_and(|(start, end)| start <= now && now < end),
        }
    }
}

/// One delivery an automatic reply may answer: the recipient mailbox and the address it was
/// delivered at (the reply's From).
#[derive(Debug, Clone)]
pub struct Delivered {
    pub mailbox: MailboxKey,
    pub address: Recipient,
}

/// What [`MailboxStore::oof_replies`] wrote.
#[derive(Debug, Clone)]
pub struct OofReplies {
    /// The replies in the sender's Inbox (without body).
    pub replies: Vec<Item>,
    /// What the sender's Inbox rules forward of them, for the caller to send.
    pub forwards: Vec<crate::rules::RuleForward>,
}

fn validate(s: &OofSettings) -> Result<(), MailboxError> {
    for (what, text) in [
        ("the internal reply", &s.internal_reply),
        ("the external reply", &s.external_reply),
    ] {
        if text.len() > MAX_OOF_REPLY_BYTES {
            return Err(MailboxError::TooLarge {
                what: what.into(),
                size: text.len(),
                limit: MAX_OOF_REPLY_BYTES,
            });
        }
    }
    match (s.state, s.duration) {
        (OofState::Scheduled, None) => Err(MailboxError::InvalidValue(
            "a scheduled out-of-office needs its start and end time".into(),
        )),
        (_, Some((start, end))) if start >= end => Err(MailboxError::InvalidValue(format!(
            "the out-of-office period ends ({end}) before it starts ({start})"
        ))),
        _ => Ok(()),
    }
}

fn load(tx: &Connection, mb: &Mb) -> Result<OofSettings, MailboxError> {
    let row = tx
        .prepare_cached(
            "SELECT state, external_audience, start_time, end_time, internal_reply, \
             external_reply FROM oof_settings WHERE mailbox_id = ?1",
        )?
        .query_row(params![mb.id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<i64>>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
            ))
        })
        .optional()?;
    let Some((state, audience, start, end, internal, external)) = row else {
        return Ok(OofSettings::default());
    };
    let duration = match (start, end) {
        (Some(s), Some(e)) => Some((from_micros(s)?, from_micros(e)?)),
        _ => None,
    };
    Ok(OofSettings {
        state: OofState::from_db(&state)?,
        external_audience: ExternalAudience::from_db(&audience)?,
        duration,
        internal_reply: internal,
        external_reply: external,
    })
}

/// The subject of the reply to a message with `subject`.
fn reply_subject(subject: Option<&str>) -> String {
    format!("Automatic reply: {}", subject.unwrap_or_default())
}

impl MailboxStore {
    /// A mailbox's out-of-office settings (the default for one that never set any).
    pub async fn get_oof(&self, mailbox: &MailboxKey) -> Result<OofSettings, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| load(tx, &mailbox_row(tx, &key)?)).await
    }

    /// Sets a mailbox's out-of-office settings. A new period starts: senders answered before
    /// are answered again.
    pub async fn set_oof(
        &self,
        mailbox: &MailboxKey,
        settings: OofSettings,
    ) -> Result<(), MailboxError> {
        validate(&settings)?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, _| {
            let mb = mailbox_row(tx, &key)?;
            let (start, end) = match settings.duration {
                Some((s, e)) => (Some(to_micros(s)?), Some(to_micros(e)?)),
                None => (None, None),
            };
            tx.prepare_cached(
                "INSERT INTO oof_settings (mailbox_id, state, external_audience, start_time, \
                 end_time, internal_reply, external_reply) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT(mailbox_id) DO UPDATE SET state = excluded.state, \
                 external_audience = excluded.external_audience, \
                 start_time = excluded.start_time, end_time = excluded.end_time, \
                 internal_reply = excluded.internal_reply, \
                 external_reply = excluded.external_reply",
            )?
            .execute(params![
                mb.id,
                settings.state.as_str(),
                settings.external_audience.as_str(),
                start,
                end,
                settings.internal_reply,
                settings.external_reply
            ])?;
            tx.prepare_cached("DELETE FROM oof_replied WHERE mailbox_id = ?1")?
                .execute(params![mb.id])?;
            Ok(())
        })
        .await
    }

    /// Whether any of these mailboxes has its out-of-office on now (a read, so that sends to
    /// mailboxes without it cost no write).
    pub async fn any_oof_on(&self, mailboxes: Vec<MailboxKey>) -> Result<bool, MailboxError> {
        let now = (self.clock)();
        self.read(move |tx| {
            for k in &mailboxes {
                let mb = mailbox_row(tx, k.as_str())?;
                if load(tx, &mb)?.is_on(now) {
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .await
    }

    /// The automatic replies a send earns: each delivered mailbox whose out-of-office is on (at
    /// the write's time) and has a non-empty internal reply answers `sender` once per period,
    /// in `sender_mailbox`'s Inbox (unread, new mail, From the address it was delivered at,
    /// "Automatic reply: " and the subject). Nobody answers themselves. One write; returns the
    /// replies written (without body), and what the sender's Inbox rules forward of them.
    pub async fn oof_replies(
        &self,
        sender_mailbox: &MailboxKey,
        sender: Recipient,
        subject: Option<String>,
        delivered: Vec<Delivered>,
    ) -> Result<OofReplies, MailboxError> {
        let key = sender_mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let now_us = to_micros(now)?;
            let smb = mailbox_row(tx, &key)?;
            let inbox = distinguished_folder(tx, &smb, crate::distinguished::INBOX)?;
            let mut out = Vec::new();
            let mut forwards = Vec::new();
            for d in &delivered {
                if d.mailbox.as_str() == key {
                    continue;
                }
                let rmb = mailbox_row(tx, d.mailbox.as_str())?;
                let settings = load(tx, &rmb)?;
                if !settings.is_on(now) || settings.internal_reply.trim().is_empty() {
                    continue;
                }
                let first = tx
                    .prepare_cached(
                        "INSERT INTO oof_replied (mailbox_id, sender, at) VALUES (?1, ?2, ?3) \
                         ON CONFLICT(mailbox_id, sender) DO NOTHING",
                    )?
                    .execute(params![rmb.id, sender.email, now_us])?
                    == 1;
                if !first {
                    continue;
                }
                forget_oldest(tx, &rmb)?;
                let reply = NewItem {
                    item_class: "IPM.Note.Rules.OofTemplate.Microsoft".into(),
                    subject: Some(reply_subject(subject.as_deref())),
                    body: Some(Body {
                        body_type: BodyType::Html,
                        content: settings.internal_reply.clone(),
                    }),
                    from: Some(d.address.clone()),
                    sender: Some(d.address.clone()),
                    to: vec![sender.clone()],
                    date_time_sent: Some(now),
                    ..NewItem::default()
                };
                let mut p = prepare(reply)?;
                p.delivered = true;
                p.sent = Some(now_us);
                let id = insert_item(tx, &smb, inbox, &p, None, now_us)?;
                out.push(load_item(tx, &smb, id, false)?);
                forwards.extend(crate::rules::run_rules(
                    tx,
                    &smb,
                    id,
                    std::slice::from_ref(&sender.email),
                    now_us,
                )?);
            }
            Ok(OofReplies {
                replies: out,
                forwards,
            })
        })
        .await
    }
}

/// Keeps a mailbox's replied-to senders at [`MAX_OOF_REPLIED`], forgetting the oldest.
fn forget_oldest(tx: &Connection, mb: &Mb) -> Result<(), MailboxError> {
    let n: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM oof_replied WHERE mailbox_id = ?1")?
        .query_row(params![mb.id], |r| r.get(0))?;
    let max = i64::try_from(MAX_OOF_REPLIED).unwrap_or(i64::MAX);
    if n > max {
        tx.prepare_cached(
            "DELETE FROM oof_replied WHERE mailbox_id = ?1 AND sender IN \
             (SELECT sender FROM oof_replied WHERE mailbox_id = ?1 ORDER BY at LIMIT ?2)",
        )?
        .execute(params![mb.id, n - max])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(s).unwrap()
    }

    #[test]
    fn on_when_enabled_or_inside_its_schedule() {
        let mut s = OofSettings::default();
        assert!(!s.is_on(t(100)));
        s.state = OofState::Enabled;
        assert!(s.is_on(t(100)));
        s.state = OofState::Scheduled;
        assert!(!s.is_on(t(100)), "scheduled without a period");
        s.duration = Some((t(50), t(150)));
        assert!(!s.is_on(t(49)));
        assert!(s.is_on(t(50)));
        assert!(s.is_on(t(149)));
        assert!(!s.is_on(t(150)), "the end is not inside");
    }

    #[test]
    fn settings_are_checked() {
        let scheduled = OofSettings {
            state: OofState::Scheduled,
            ..OofSettings::default()
        };
        assert!(matches!(
            validate(&scheduled),
            Err(MailboxError::InvalidValue(_))
        ));
        let backwards = OofSettings {
            duration: Some((t(10), t(10))),
            ..scheduled.clone()
        };
        assert!(matches!(
            validate(&backwards),
            Err(MailboxError::InvalidValue(_))
        ));
        let long = OofSettings {
            state: OofState::Enabled,
            internal_reply: "x".repeat(MAX_OOF_REPLY_BYTES + 1),
            ..OofSettings::default()
        };
        assert!(matches!(
            validate(&long),
            Err(MailboxError::TooLarge { .. })
        ));
        assert_eq!(reply_subject(Some("Lunch")), "Automatic reply: Lunch");
    }
}
