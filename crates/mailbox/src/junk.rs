//! Junk email: a mailbox's junk email rule (on by default), its blocked and trusted senders and
//! domains, where a delivery goes (Junk Email for a blocked sender that is not trusted, the
//! Inbox otherwise), and EWS MarkAsJunk (the sender blocked or unblocked, the item moved to Junk
//! Email or back to the Inbox).
//!
//! An entry is an address (`someone@contoso.example`: that sender) or a domain
//! (`contoso.example` or `@contoso.example`: every sender there), compared without ASCII case
//! and kept in lower case; a domain entry matches that domain only, not its subdomains.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::MailboxError;
use crate::items::{check_guard, item_header, item_local, load_item, move_local};
use crate::model::*;
use crate::store::{MailboxStore, Mb, distinguished_folder, mailbox_row};

/// Most entries each list holds (Exchange's bound on `BlockedSendersAndDomains` and
/// `TrustedSendersAndDomains`).
pub const MAX_JUNK_ENTRIES: usize = 1024;

/// Longest entry, in bytes (an SMTP address's bound).
const MAX_ENTRY_BYTES: usize = 320;

/// A mailbox's junk email configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JunkSettings {
    /// The junk email rule runs (new mail from a blocked sender goes to Junk Email).
    pub enabled: bool,
    /// Sorted, lower case, without a domain's `@`.
    pub blocked: Vec<String>,
    pub trusted: Vec<String>,
}

/// A change of one list (`-BlockedSendersAndDomains`): the whole list, or entries added and
/// removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JunkListEdit {
    Replace(Vec<String>),
    Edit {
        add: Vec<String>,
        remove: Vec<String>,
    },
}

/// What [`MailboxStore::set_junk`] changes (`None`: kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JunkChange {
    pub enabled: Option<bool>,
    pub blocked: Option<JunkListEdit>,
    pub trusted: Option<JunkListEdit>,
}

const BLOCKED: &str = "blocked";
const TRUSTED: &str = "trusted";

/// An entry as kept: an address or a domain, lower case; a refusal says what is wrong.
pub fn junk_entry(raw: &str) -> Result<String, MailboxError> {
    let e = raw.trim();
    let bad = |why: &str| {
        MailboxError::InvalidValue(format!(
            "{:?} is not a sender or domain entry: {why}",
            e.chars().take(80).collect::<String>()
        ))
    };
    if e.is_empty() {
        return Err(bad("it is empty"));
    }
    if e.len() > MAX_ENTRY_BYTES {
        return Err(bad("it is longer than 320 characters"));
    }
    if !e.chars().all(|c| c.is_ascii_graphic()) {
        return Err(bad(
            "it has spaces, control or non-ASCII characters (give an SMTP address or a domain)",
        ));
    }
    let e = e.to_ascii_lowercase();
    let (local, domain) = match e.rsplit_once('@') {
        Some((l, d)) => (Some(l), d),
        None => (None, e.as_str()),
    };
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if !domain.contains('.') || !domain.split('.').all(label_ok) {
        return Err(bad("its domain is not a domain name (like contoso.com)"));
    }
    match local {
        // "@contoso.com": the domain
        Some("") => Ok(domain.to_owned()),
        Some(l) if l.contains('@') => Err(bad("it has more than one @")),
        Some(_) => Ok(e),
        None => Ok(e),
    }
}

fn load_list(tx: &Connection, mb: &Mb, list: &str) -> Result<Vec<String>, MailboxError> {
    let mut st = tx.prepare_cached(
        "SELECT entry FROM junk_entries WHERE mailbox_id = ?1 AND list = ?2 ORDER BY entry",
    )?;
    let rows = st.query_map(params![mb.id, list], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn load(tx: &Connection, mb: &Mb) -> Result<JunkSettings, MailboxError> {
    let enabled: Option<bool> = tx
        .prepare_cached("SELECT enabled FROM junk_settings WHERE mailbox_id = ?1")?
        .query_row(params![mb.id], |r| r.get(0))
        .optional()?;
    Ok(JunkSettings {
        enabled: enabled.unwrap_or(true),
        blocked: load_list(tx, mb, BLOCKED)?,
        trusted: load_list(tx, mb, TRUSTED)?,
    })
}

fn count(tx: &Connection, mb: &Mb, list: &str) -> Result<usize, MailboxError> {
    let n: i64 = tx
        .prepare_cached("SELECT COUNT(*) FROM junk_entries WHERE mailbox_id = ?1 AND list = ?2")?
        .query_row(params![mb.id, list], |r| r.get(0))?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Adds `entry` to `list` (and takes it off the other one); past [`MAX_JUNK_ENTRIES`] it is
/// refused.
fn add(tx: &Connection, mb: &Mb, list: &str, entry: &str) -> Result<(), MailboxError> {
    let other = if list == BLOCKED { TRUSTED } else { BLOCKED };
    tx.prepare_cached(
        "DELETE FROM junk_entries WHERE mailbox_id = ?1 AND list = ?2 AND entry = ?3",
    )?
    .execute(params![mb.id, other, entry])?;
    let added = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO junk_entries (mailbox_id, list, entry) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![mb.id, list, entry])?;
    if added > 0 && count(tx, mb, list)? > MAX_JUNK_ENTRIES {
        return Err(MailboxError::InvalidRequest(format!(
            "the {list} senders list holds at most {MAX_JUNK_ENTRIES} entries; remove some first"
        )));
    }
    Ok(())
}

fn remove(tx: &Connection, mb: &Mb, list: &str, entry: &str) -> Result<(), MailboxError> {
    tx.prepare_cached(
        "DELETE FROM junk_entries WHERE mailbox_id = ?1 AND list = ?2 AND entry = ?3",
    )?
    .execute(params![mb.id, list, entry])?;
    Ok(())
}

fn entries(list: &[String]) -> Result<Vec<String>, MailboxError> {
    if list.len() > MAX_JUNK_ENTRIES {
        return Err(MailboxError::InvalidRequest(format!(
            "{} entries given; a list holds at most {MAX_JUNK_ENTRIES}",
            list.len()
        )));
    }
    list.iter().map(|e| junk_entry(e)).collect()
}

fn apply(tx: &Connection, mb: &Mb, list: &str, edit: &JunkListEdit) -> Result<(), MailboxError> {
    match edit {
        JunkListEdit::Replace(all) => {
            tx.prepare_cached("DELETE FROM junk_entries WHERE mailbox_id = ?1 AND list = ?2")?
                .execute(params![mb.id, list])?;
            for e in entries(all)? {
                add(tx, mb, list, &e)?;
            }
        }
        JunkListEdit::Edit { add: a, remove: r } => {
            for e in entries(r)? {
                remove(tx, mb, list, &e)?;
            }
            for e in entries(a)? {
                add(tx, mb, list, &e)?;
            }
        }
    }
    Ok(())
}

/// Where mail from `sender` is delivered in `mb`: its Junk Email folder when its junk email rule
/// is on and the sender is blocked and not trusted, else its Inbox.
/// Two primary-key lookups, whatever the lists hold. Returns the folder and whether it is the
/// Inbox (what the mailbox's Inbox rules then process).
pub(crate) fn delivery_folder(
    tx: &Connection,
    mb: &Mb,
    sender: &str,
) -> Result<(i64, bool), MailboxError> {
    let enabled: Option<bool> = tx
        .prepare_cached("SELECT enabled FROM junk_settings WHERE mailbox_id = ?1")?
        .query_row(params![mb.id], |r| r.get(0))
        .optional()?;
    let address = sender.trim().to_ascii_lowercase();
    let domain = address.rsplit_once('@').map(|(_, d)| d.to_owned());
    let mut junk = false;
    if enabled.unwrap_or(true) && !address.is_empty() {
        let mut st = tx.prepare_cached(
            "SELECT list FROM junk_entries WHERE mailbox_id = ?1 AND entry IN (?2, ?3)",
        )?;
        let lists = st
            .query_map(params![mb.id, address, domain], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        junk = lists.iter().any(|l| l == BLOCKED) && !lists.iter().any(|l| l == TRUSTED);
    }
    let folder = distinguished_folder(
        tx,
        mb,
        if junk {
            crate::distinguished::JUNK_EMAIL
        } else {
            crate::distinguished::INBOX
        },
    )?;
    Ok((folder, !junk))
}

impl MailboxStore {
    /// A mailbox's junk email configuration (the defaults for one that never set any: on, both
    /// lists empty).
    pub async fn get_junk(&self, mailbox: &MailboxKey) -> Result<JunkSettings, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| load(tx, &mailbox_row(tx, &key)?)).await
    }

    /// Changes a mailbox's junk email configuration, in one write: nothing is written when an
    /// entry is refused. An entry added to one list leaves the other. Returns it as it is now.
    pub async fn set_junk(
        &self,
        mailbox: &MailboxKey,
        change: JunkChange,
    ) -> Result<JunkSettings, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, _| {
            let mb = mailbox_row(tx, &key)?;
            if let Some(e) = change.enabled {
                tx.prepare_cached(
                    "INSERT INTO junk_settings (mailbox_id, enabled) VALUES (?1, ?2) \
                     ON CONFLICT(mailbox_id) DO UPDATE SET enabled = excluded.enabled",
                )?
                .execute(params![mb.id, e])?;
            }
            if let Some(edit) = &change.blocked {
                apply(tx, &mb, BLOCKED, edit)?;
            }
            if let Some(edit) = &change.trusted {
                apply(tx, &mb, TRUSTED, edit)?;
            }
            load(tx, &mb)
        })
        .await
    }

    /// EWS MarkAsJunk, one result per id in order: each item's sender (From, else Sender)
    /// blocked (`is_junk`, and taken off the trusted list) or taken off the blocked list; with
    /// `move_item`, the item moved to Junk Email (`is_junk`) or the Inbox, and returned as it is
    /// now. A sender among `own` (the mailbox's own addresses) is never listed. An item without
    /// a sender is [`MailboxError::InvalidRequest`] for that id. One write.
    pub async fn mark_as_junk(
        &self,
        mailbox: &MailboxKey,
        ids: Vec<String>,
        is_junk: bool,
        move_item: bool,
        guard: ItemGuard,
        own: Vec<String>,
    ) -> Result<Vec<Result<Option<Item>, MailboxError>>, MailboxError> {
        crate::items::check_id_count(ids.len())?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let now_us = to_micros(now)?;
            let mb = mailbox_row(tx, &key)?;
            let to = distinguished_folder(
                tx,
                &mb,
                if is_junk {
                    crate::distinguished::JUNK_EMAIL
                } else {
                    crate::distinguished::INBOX
                },
            )?;
            let mut out = Vec::with_capacity(ids.len());
            for id in &ids {
                let one = (|| -> Result<Option<Item>, MailboxError> {
                    let local = item_local(&mb, id)?;
                    let header = item_header(tx, &mb, local)?;
                    check_guard(tx, &mb, header.folder, guard)?;
                    let item = load_item(tx, &mb, local, false)?;
                    let Some(sender) = item
                        .from
                        .as_ref()
                        .or(item.sender.as_ref())
                        .map(|r| r.email.trim().to_ascii_lowercase())
                        .filter(|e| !e.is_empty())
                    else {
                        return Err(MailboxError::InvalidRequest(
                            "the item has no sender to mark as junk or not junk".into(),
                        ));
                    };
                    if !own.iter().any(|o| o.eq_ignore_ascii_case(&sender)) {
                        match junk_entry(&sender) {
                            Ok(entry) if is_junk => add(tx, &mb, BLOCKED, &entry)?,
                            Ok(entry) => remove(tx, &mb, BLOCKED, &entry)?,
                            // an address no list can hold (not SMTP): nothing to list
                            Err(_) => {}
                        }
                    }
                    if !move_item {
                        return Ok(None);
                    }
                    if header.folder != to {
                        move_local(tx, &mb, local, &header, to, now_us)?;
                    }
                    load_item(tx, &mb, local, false).map(Some)
                })();
                match one {
                    Err(e)
                        if crate::items::is_per_item(&e)
                            || matches!(e, MailboxError::InvalidRequest(_)) =>
                    {
                        out.push(Err(e))
                    }
                    Err(e) => return Err(e),
                    ok => out.push(ok),
                }
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_addresses_or_domains_in_lower_case() {
        assert_eq!(
            junk_entry(" Spam@Fabrikam.Example ").unwrap(),
            "spam@fabrikam.example"
        );
        assert_eq!(junk_entry("@Fabrikam.example").unwrap(), "fabrikam.example");
        assert_eq!(junk_entry("fabrikam.example").unwrap(), "fabrikam.example");
        for bad in [
            "",
            "nodot",
            "a b@c.example",
            "a@@c.example",
            "x@-bad.example",
            "x@bad..example",
            "caf\u{e9}.example",
            &format!("{}@x.example", "a".repeat(320)),
        ] {
            let e = junk_entry(bad).unwrap_err().to_string();
            assert!(e.contains("is not a sender or domain entry"), "{bad}: {e}");
        }
    }
}
