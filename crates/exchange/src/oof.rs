//! Out-of-office over EWS: `GetUserOofSettingsRequest` and `SetUserOofSettingsRequest` for the
//! acting mailbox (authorized as its other mailbox operations: UserApplication, or
//! ApplicationImpersonation when impersonating), kept by the mailbox store; and the automatic
//! replies a local delivery earns ([`Handler::send_oof_replies`], after the send, as Exchange's
//! mailbox assistant replies after delivery).

use ews_proto::oof::{self as wire, ExternalAudience, OofState};
use ews_proto::response::ResponseError;
use mailbox::{Delivered, Recipient};
use time::OffsetDateTime;

use crate::Exchange;
use crate::error::ExchangeError;
use crate::ews::{Handler, err};

fn state_in(s: OofState) -> mailbox::OofState {
    match s {
        OofState::Disabled => mailbox::OofState::Disabled,
        OofState::Enabled => mailbox::OofState::Enabled,
        OofState::Scheduled => mailbox::OofState::Scheduled,
    }
}

fn state_out(s: mailbox::OofState) -> OofState {
    match s {
        mailbox::OofState::Disabled => OofState::Disabled,
        mailbox::OofState::Enabled => OofState::Enabled,
        mailbox::OofState::Scheduled => OofState::Scheduled,
    }
}

fn audience_in(a: ExternalAudience) -> mailbox::ExternalAudience {
    match a {
        ExternalAudience::None => mailbox::ExternalAudience::None,
        ExternalAudience::Known => mailbox::ExternalAudience::Known,
        ExternalAudience::All => mailbox::ExternalAudience::All,
    }
}

fn audience_out(a: mailbox::ExternalAudience) -> ExternalAudience {
    match a {
        mailbox::ExternalAudience::None => ExternalAudience::None,
        mailbox::ExternalAudience::Known => ExternalAudience::Known,
        mailbox::ExternalAudience::All => ExternalAudience::All,
    }
}

/// Today in UTC, the window Exchange shows for settings that never had a period.
fn today(now: OffsetDateTime) -> (OffsetDateTime, OffsetDateTime) {
    let start = now.replace_time(time::Time::MIDNIGHT);
    (start, start + time::Duration::days(1))
}

fn bad_duration(why: &str) -> ResponseError {
    ResponseError::new(
        "ErrorInvalidScheduledOofDuration",
        &format!("The scheduled out-of-office duration is invalid: {why}."),
    )
}

impl Handler<'_> {
    /// The acting mailbox's settings may be read and set; another address is refused.
    fn own_mailbox(&self, address: &str) -> Result<(), ResponseError> {
        self.authorize(false)?;
        let bare = crate::org::bare_smtp(address.trim());
        if !self.smtp.is_empty() && bare.eq_ignore_ascii_case(&self.smtp) {
            return Ok(());
        }
        Err(ResponseError::new(
            "ErrorAccessDenied",
            &format!(
                "Out-of-office settings are read and set for the acting mailbox ({}) only, not {}; act as that user (its token, or impersonation) to reach its settings.",
                if self.smtp.is_empty() {
                    "a mailbox without a primary SMTP address"
                } else {
                    &self.smtp
                },
                bare.chars().take(200).collect::<String>()
            ),
        ))
    }

    pub(crate) async fn get_user_oof_settings(&self, g: &wire::GetUserOofSettings) -> Vec<u8> {
        let r = match self.own_mailbox(&g.address) {
            Ok(()) => self
                .ex
                .inner
                .mbx
                .get_oof(&self.key)
                .await
                .map_err(|e| err(&e)),
            Err(e) => Err(e),
        };
        let now = OffsetDateTime::from_unix_timestamp(self.ex.inner.cfg.clock.unix())
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let r = r.map(|s| wire::OofSettings {
            state: state_out(s.state),
            external_audience: audience_out(s.external_audience),
            duration: Some(s.duration.unwrap_or_else(|| today(now))),
            internal_reply: s.internal_reply,
            external_reply: s.external_reply,
        });
        wire::get_user_oof_settings_response(&r, ExternalAudience::All)
    }

    pub(crate) async fn set_user_oof_settings(&self, s: &wire::SetUserOofSettings) -> Vec<u8> {
        wire::set_user_oof_settings_response(&self.set_oof(s).await)
    }

    async fn set_oof(&self, s: &wire::SetUserOofSettings) -> Result<(), ResponseError> {
        self.own_mailbox(&s.address)?;
        match (s.state, s.duration) {
            (OofState::Scheduled, None) => {
                return Err(bad_duration(
                    "a Scheduled OofState needs a Duration with StartTime and EndTime",
                ));
            }
            (_, Some((start, end))) if start >= end => {
                return Err(bad_duration("its EndTime is not after its StartTime"));
            }
            _ => {}
        }
        let mbx = &self.ex.inner.mbx;
        // absent replies and period keep what is stored
        let stored = mbx.get_oof(&self.key).await.map_err(|e| err(&e))?;
        let settings = mailbox::OofSettings {
            state: state_in(s.state),
            external_audience: audience_in(s.external_audience),
            duration: s.duration.or(stored.duration),
            internal_reply: s.internal_reply.clone().unwrap_or(stored.internal_reply),
            external_reply: s.external_reply.clone().unwrap_or(stored.external_reply),
        };
        mbx.set_oof(&self.key, settings).await.map_err(|e| err(&e))
    }

    /// After a send: the automatic replies of delivered mailboxes whose out-of-office is on, in
    /// the sender's Inbox. The send is done whatever happens here; a failure is logged.
    /// Automatic replies and reports never earn one (no reply loops).
    pub(crate) async fn send_oof_replies(
        &self,
        sender: &Recipient,
        item_class: &str,
        subject: Option<&str>,
        delivered: Vec<Delivered>,
    ) {
        let class = item_class.to_ascii_uppercase();
        if delivered.is_empty()
            || class.starts_with("REPORT.")
            || class.starts_with("IPM.NOTE.RULES.OOFTEMPLATE")
        {
            return;
        }
        let mbx = &self.ex.inner.mbx;
        let keys = delivered.iter().map(|d| d.mailbox.clone()).collect();
        let r = match mbx.any_oof_on(keys).await {
            Ok(false) => return,
            Ok(true) => {
                mbx.oof_replies(
                    &self.key,
                    sender.clone(),
                    subject.map(str::to_owned),
                    delivered,
                )
                .await
            }
            Err(e) => Err(e),
        };
        match r {
            // what the sender's rules forward of the replies
            Ok(written) => self.send_rule_forwards(written.forwards).await,
            Err(e) => tracing::warn!(error = %e, "automatic replies were not written"),
        }
    }
}

fn cmdlet_enum<T: Copy>(name: &str, v: &str, all: &[(&str, T)]) -> Result<T, ExchangeError> {
    all.iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(v.trim()))
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(n, _)| *n).collect();
            ExchangeError::Invalid(format!("-{name} {v:?} is not one of {}", names.join(", ")))
        })
}

const STATES: &[(&str, mailbox::OofState)] = &[
    ("Disabled", mailbox::OofState::Disabled),
    ("Enabled", mailbox::OofState::Enabled),
    ("Scheduled", mailbox::OofState::Scheduled),
];
const AUDIENCES: &[(&str, mailbox::ExternalAudience)] = &[
    ("None", mailbox::ExternalAudience::None),
    ("Known", mailbox::ExternalAudience::Known),
    ("All", mailbox::ExternalAudience::All),
];

impl Exchange {
    /// `Get-MailboxAutoReplyConfiguration` / `Set-MailboxAutoReplyConfiguration`: the
    /// out-of-office settings an administrator reads and sets (the same ones EWS's
    /// Get/SetUserOofSettings reach). Set changes what it is given and keeps the rest; a
    /// Scheduled state needs a start and an end.
    pub(crate) async fn auto_reply_configuration(
        &self,
        cmdlet: &str,
        p: &psh::bind::Params,
    ) -> Result<Vec<serde_json::Value>, ExchangeError> {
        let identity = p.req("Identity")?;
        let key = self.mailbox_key(&identity).await?;
        let mbx = &self.inner.mbx;
        let mut s = mbx.get_oof(&key).await?;
        if cmdlet == "Set-MailboxAutoReplyConfiguration" {
            if let Some(v) = p.str("AutoReplyState")? {
                s.state = cmdlet_enum("AutoReplyState", &v, STATES)?;
            }
            if let Some(v) = p.str("ExternalAudience")? {
                s.external_audience = cmdlet_enum("ExternalAudience", &v, AUDIENCES)?;
            }
            if let Some(v) = p.str("InternalMessage")? {
                s.internal_reply = v;
            }
            if let Some(v) = p.str("ExternalMessage")? {
                s.external_reply = v;
            }
            let at = |name| -> Result<Option<OffsetDateTime>, ExchangeError> {
                match p.date(name)? {
                    Some(secs) => OffsetDateTime::from_unix_timestamp(secs)
                        .map(Some)
                        .map_err(|e| ExchangeError::Invalid(format!("-{name}: {e}"))),
                    None => Ok(None),
                }
            };
            let (start, end) = (at("StartTime")?, at("EndTime")?);
            if start.is_some() || end.is_some() {
                let (old_start, old_end) = s.duration.unzip();
                match (start.or(old_start), end.or(old_end)) {
                    (Some(a), Some(b)) => s.duration = Some((a, b)),
                    _ => {
                        return Err(ExchangeError::Invalid(
                            "give both -StartTime and -EndTime (the mailbox has no scheduled period yet)".into(),
                        ));
                    }
                }
            }
            if s.state == mailbox::OofState::Scheduled && s.duration.is_none() {
                return Err(ExchangeError::Invalid(
                    "-AutoReplyState Scheduled needs -StartTime and -EndTime".into(),
                ));
            }
            mbx.set_oof(&key, s.clone()).await?;
        }
        let iso = |t: OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        Ok(vec![serde_json::json!({
            "Identity": identity,
            "AutoReplyState": s.state.as_str(),
            "ExternalAudience": s.external_audience.as_str(),
            "StartTime": s.duration.map(|(a, _)| iso(a)),
            "EndTime": s.duration.map(|(_, b)| iso(b)),
            "InternalMessage": s.internal_reply,
            "ExternalMessage": s.external_reply,
        })])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_is_the_utc_day_around_now() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_123).unwrap();
        let (s, e) = today(now);
        assert!(s <= now && now < e);
        assert_eq!(s.time(), time::Time::MIDNIGHT);
        assert_eq!(e - s, time::Duration::days(1));
    }

    #[test]
    fn states_and_audiences_map_both_ways() {
        for s in OofState::ALL {
            assert_eq!(state_out(state_in(*s)), *s);
        }
        for a in ExternalAudience::ALL {
            assert_eq!(audience_out(audience_in(*a)), *a);
        }
    }

    #[test]
    fn cmdlet_enums_are_read_or_refused_with_what_to_give() {
        assert_eq!(
            cmdlet_enum("AutoReplyState", "scheduled", STATES).unwrap(),
            mailbox::OofState::Scheduled
        );
        let e = cmdlet_enum("ExternalAudience", "Everyone", AUDIENCES).unwrap_err();
        assert!(e.to_string().contains("None, Known, All"), "{e}");
    }
}
