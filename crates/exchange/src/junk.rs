//! Junk email over EWS and the cmdlets: MarkAsJunk for the acting mailbox's items (authorized
//! as its other item writes: UserApplication, or ApplicationImpersonation when impersonating;
//! ArchiveApplication for items under Recoverable Items), and
//! `Get-`/`Set-MailboxJunkEmailConfiguration` for the administrator. The lists and what a
//! delivery does with them are the store's (`mailbox::MailboxStore::set_junk`, delivery to Junk
//! Email for a blocked sender).

use ews_proto::request::MarkAsJunk;
use ews_proto::response::{self as resp, ResponseError};
use ews_proto::types::ItemRef;
use mailbox::{JunkChange, JunkListEdit, MailboxError};

use crate::Exchange;
use crate::error::ExchangeError;
use crate::ews::Handler;

impl Handler<'_> {
    pub(crate) async fn mark_as_junk(&self, m: MarkAsJunk) -> Vec<u8> {
        let n = m.item_ids.len();
        if let Err(e) = self.authorize(false) {
            return resp::mark_as_junk_response(&vec![Err(e); n.max(1)]);
        }
        let ids: Vec<String> = m.item_ids.iter().map(|r| r.id.clone()).collect();
        let own = self.my_addresses().await;
        let r = self
            .ex
            .inner
            .mbx
            .mark_as_junk(
                &self.key,
                ids,
                m.is_junk,
                m.move_item,
                self.item_guard(),
                own,
            )
            .await;
        let out: Vec<Result<Option<ItemRef>, ResponseError>> = match r {
            Ok(results) => results
                .into_iter()
                .map(|r| match r {
                    Ok(moved) => Ok(moved.map(|i| ItemRef {
                        id: i.id,
                        change_key: Some(i.change_key),
                    })),
                    Err(MailboxError::InvalidRequest(why)) => Err(ResponseError::new(
                        "ErrorInvalidOperation",
                        &format!("The item cannot be marked: {why}."),
                    )),
                    Err(e) => Err(self.mailbox_err(&e)),
                })
                .collect(),
            Err(e) => vec![Err(self.mailbox_err(&e)); n.max(1)],
        };
        resp::mark_as_junk_response(&out)
    }
}

fn list_edit(v: Option<psh::bind::MultiValued>) -> Option<JunkListEdit> {
    v.map(|v| match v {
        psh::bind::MultiValued::Replace(all) => JunkListEdit::Replace(all),
        psh::bind::MultiValued::Change { add, remove } => JunkListEdit::Edit { add, remove },
    })
}

impl Exchange {
    /// `Get-MailboxJunkEmailConfiguration` / `Set-MailboxJunkEmailConfiguration`: a mailbox's
    /// junk email rule and its blocked and trusted senders and domains (each list replaced
    /// whole, or changed with `@{Add=…; Remove=…}`).
    pub(crate) async fn junk_email_configuration(
        &self,
        cmdlet: &str,
        p: &psh::bind::Params,
    ) -> Result<Vec<serde_json::Value>, ExchangeError> {
        let identity = p.req("Identity")?;
        let key = self.mailbox_key(&identity).await?;
        let mbx = &self.inner.mbx;
        let s = if cmdlet == "Set-MailboxJunkEmailConfiguration" {
            let change = JunkChange {
                enabled: p.bool("Enabled")?,
                blocked: list_edit(p.multi_valued("BlockedSendersAndDomains")?),
                trusted: list_edit(p.multi_valued("TrustedSendersAndDomains")?),
            };
            mbx.set_junk(&key, change).await.map_err(|e| match e {
                MailboxError::InvalidValue(why) | MailboxError::InvalidRequest(why) => {
                    ExchangeError::Invalid(why)
                }
                other => other.into(),
            })?
        } else {
            mbx.get_junk(&key).await?
        };
        Ok(vec![serde_json::json!({
            "Identity": identity,
            "Enabled": s.enabled,
            "BlockedSendersAndDomains": s.blocked,
            "TrustedSendersAndDomains": s.trusted,
        })])
    }
}
