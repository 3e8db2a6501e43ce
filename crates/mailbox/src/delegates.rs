//! Delegates (EWS Get/Add/Update/RemoveDelegate, MS-OXWSDLGM): who may act in a mailbox for its
//! owner, with which permission on each of the six folders a delegate is given (Calendar, Tasks,
//! Inbox, Contacts, Notes, Journal), whether they get copies of meeting messages and see private
//! items, and where the owner's meeting requests go. A delegate is named by its own mailbox key,
//! so a renamed or re-addressed user stays the same delegate.
//!
//! The store keeps the delegation; the permission it gives is applied by the EWS layer to every
//! request that reaches into the owner's mailbox ([`Delegate::level_for`]).

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::MailboxError;
use crate::model::MailboxKey;
use crate::store::{MailboxStore, distinguished_folder, mailbox_row};

/// Most delegates one mailbox has.
pub const MAX_DELEGATES: usize = 64;

/// A delegate's permission on one folder (`t:DelegateFolderPermissionLevelType`, without
/// `Custom`, which is what a folder's permissions read as when set otherwise and cannot be set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum DelegateLevel {
    #[default]
    None,
    /// Reads items.
    Reviewer,
    /// Reads items, and creates them.
    Author,
    /// Reads, creates, changes and deletes items.
    Editor,
}

impl DelegateLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            DelegateLevel::None => "None",
            DelegateLevel::Reviewer => "Reviewer",
            DelegateLevel::Author => "Author",
            DelegateLevel::Editor => "Editor",
        }
    }

    fn from_db(s: &str) -> Result<Self, MailboxError> {
        Ok(match s {
            "None" => DelegateLevel::None,
            "Reviewer" => DelegateLevel::Reviewer,
            "Author" => DelegateLevel::Author,
            "Editor" => DelegateLevel::Editor,
            other => return Err(MailboxError::Corrupt(format!("delegate level {other:?}"))),
        })
    }
}

/// The folders a delegate is given a permission on, in `t:DelegatePermissions` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelegateFolder {
    Calendar,
    Tasks,
    Inbox,
    Contacts,
    Notes,
    Journal,
}

impl DelegateFolder {
    pub const ALL: [DelegateFolder; 6] = [
        DelegateFolder::Calendar,
        DelegateFolder::Tasks,
        DelegateFolder::Inbox,
        DelegateFolder::Contacts,
        DelegateFolder::Notes,
        DelegateFolder::Journal,
    ];

    /// The distinguished folder name.
    pub fn distinguished(self) -> &'static str {
        match self {
            DelegateFolder::Calendar => "calendar",
            DelegateFolder::Tasks => "tasks",
            DelegateFolder::Inbox => "inbox",
            DelegateFolder::Contacts => "contacts",
            DelegateFolder::Notes => "notes",
            DelegateFolder::Journal => "journal",
        }
    }

    /// The delegate folder a distinguished folder name is, if any.
    pub fn of_distinguished(name: &str) -> Option<DelegateFolder> {
        DelegateFolder::ALL
            .into_iter()
            .find(|f| f.distinguished() == name)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// `t:DeliverMeetingRequests`: where meeting requests to a mailbox with delegates go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MeetingDelivery {
    /// To the delegates only; the owner's copy goes to Deleted Items.
    DelegatesOnly,
    /// To the delegates and the owner.
    DelegatesAndMe,
    /// To the delegates; the owner gets a copy to read, not to answer (Exchange's default).
    #[default]
    DelegatesAndSendInformationToMe,
    /// To the owner only.
    NoForward,
}

impl MeetingDelivery {
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingDelivery::DelegatesOnly => "DelegatesOnly",
            MeetingDelivery::DelegatesAndMe => "DelegatesAndMe",
            MeetingDelivery::DelegatesAndSendInformationToMe => "DelegatesAndSendInformationToMe",
            MeetingDelivery::NoForward => "NoForward",
        }
    }

    fn from_db(s: &str) -> Result<Self, MailboxError> {
        Ok(match s {
            "DelegatesOnly" => MeetingDelivery::DelegatesOnly,
            "DelegatesAndMe" => MeetingDelivery::DelegatesAndMe,
            "DelegatesAndSendInformationToMe" => MeetingDelivery::DelegatesAndSendInformationToMe,
            "NoForward" => MeetingDelivery::NoForward,
            other => return Err(MailboxError::Corrupt(format!("meeting delivery {other:?}"))),
        })
    }
}

/// One delegate of a mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegate {
    /// The delegate's own mailbox.
    pub delegate: MailboxKey,
    /// Per folder, in [`DelegateFolder::ALL`] order.
    pub levels: [DelegateLevel; 6],
    /// Gets copies of the meeting messages the owner gets (needs Editor on the Calendar).
    pub receive_copies: bool,
    /// Sees the owner's private items.
    pub view_private: bool,
}

impl Delegate {
    /// A delegate with no permission anywhere.
    pub fn new(delegate: MailboxKey) -> Delegate {
        Delegate {
            delegate,
            levels: [DelegateLevel::None; 6],
            receive_copies: false,
            view_private: false,
        }
    }

    pub fn level(&self, f: DelegateFolder) -> DelegateLevel {
        self.levels[f.index()]
    }

    pub fn set_level(&mut self, f: DelegateFolder, l: DelegateLevel) {
        self.levels[f.index()] = l;
    }

    /// The permission this delegate has on a folder whose distinguished ancestors (nearest
    /// first, the folder itself included) are `lineage`: that of the nearest delegate folder,
    /// None for a folder under none of them.
    pub fn level_for<'a>(&self, lineage: impl IntoIterator<Item = &'a str>) -> DelegateLevel {
        lineage
            .into_iter()
            .find_map(DelegateFolder::of_distinguished)
            .map_or(DelegateLevel::None, |f| self.level(f))
    }

    /// The rules a delegation keeps: a delegate receiving copies of meeting messages can answer
    /// them on the owner's calendar (Outlook's and Exchange's rule).
    fn validate(&self) -> Result<(), MailboxError> {
        if self.receive_copies && self.level(DelegateFolder::Calendar) != DelegateLevel::Editor {
            return Err(MailboxError::DelegateInvalid(
                "a delegate who receives copies of meeting messages needs Editor on the Calendar; set CalendarFolderPermissionLevel to Editor or ReceiveCopiesOfMeetingMessages to false".into(),
            ));
        }
        Ok(())
    }
}

/// A change to an existing delegate: each `Some` replaces that setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegateChange {
    pub delegate: MailboxKey,
    pub levels: [Option<DelegateLevel>; 6],
    pub receive_copies: Option<bool>,
    pub view_private: Option<bool>,
}

/// A mailbox's delegates, in the order they were added, and where its meeting requests go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delegation {
    pub delegates: Vec<Delegate>,
    pub delivery: MeetingDelivery,
}

/// The columns [`delegate_of_row`] reads, in its order.
const DELEGATE_COLUMNS: &str =
    "delegate_key, calendar, tasks, inbox, contacts, notes, journal, receive_copies, view_private";

type DelegateRow = (String, [String; 6], bool, bool);

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DelegateRow> {
    Ok((
        r.get(0)?,
        [
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ],
        r.get(7)?,
        r.get(8)?,
    ))
}

fn delegate_of_row(
    (key, levels, receive_copies, view_private): DelegateRow,
) -> Result<Delegate, MailboxError> {
    let mut d = Delegate::new(
        MailboxKey::new(key).map_err(|e| MailboxError::Corrupt(format!("delegate: {e}")))?,
    );
    for (f, l) in DelegateFolder::ALL.into_iter().zip(levels) {
        d.set_level(f, DelegateLevel::from_db(&l)?);
    }
    d.receive_copies = receive_copies;
    d.view_private = view_private;
    Ok(d)
}

fn load(tx: &Connection, mailbox_id: i64) -> Result<Delegation, MailboxError> {
    let mut st = tx.prepare_cached(&format!(
        "SELECT {DELEGATE_COLUMNS} FROM delegates WHERE mailbox_id = ?1 ORDER BY position"
    ))?;
    let delegates = st
        .query_map(params![mailbox_id], read_row)?
        .map(|row| delegate_of_row(row?))
        .collect::<Result<Vec<_>, _>>()?;
    let delivery = delivery_of(tx, mailbox_id)?;
    Ok(Delegation {
        delegates,
        delivery,
    })
}

/// One delegate of the mailbox, by its primary key.
fn load_one(
    tx: &Connection,
    mailbox_id: i64,
    delegate: &str,
) -> Result<Option<Delegate>, MailboxError> {
    tx.prepare_cached(&format!(
        "SELECT {DELEGATE_COLUMNS} FROM delegates WHERE mailbox_id = ?1 AND delegate_key = ?2"
    ))?
    .query_row(params![mailbox_id, delegate], read_row)
    .optional()?
    .map(delegate_of_row)
    .transpose()
}

/// What a meeting request delivered to the mailbox does for its delegates: the delegates who
/// receive copies of meeting messages (in the order added; none when the delivery is
/// `NoForward`) and the delivery. One indexed read for a mailbox without delegates.
pub(crate) fn copies_to(
    tx: &Connection,
    mailbox_id: i64,
) -> Result<(Vec<MailboxKey>, MeetingDelivery), MailboxError> {
    let mut st = tx.prepare_cached(
        "SELECT delegate_key FROM delegates WHERE mailbox_id = ?1 AND receive_copies = 1 \
         ORDER BY position",
    )?;
    let keys = st
        .query_map(params![mailbox_id], |r| r.get::<_, String>(0))?
        .map(|k| MailboxKey::new(k?).map_err(|e| MailboxError::Corrupt(format!("delegate: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    if keys.is_empty() {
        return Ok((keys, MeetingDelivery::default()));
    }
    let delivery = delivery_of(tx, mailbox_id)?;
    if delivery == MeetingDelivery::NoForward {
        return Ok((Vec::new(), delivery));
    }
    Ok((keys, delivery))
}

fn delivery_of(tx: &Connection, mailbox_id: i64) -> Result<MeetingDelivery, MailboxError> {
    Ok(tx
        .prepare_cached(
            "SELECT deliver_meeting_requests FROM delegate_settings WHERE mailbox_id = ?1",
        )?
        .query_row(params![mailbox_id], |r| r.get::<_, String>(0))
        .optional()?
        .map(|s| MeetingDelivery::from_db(&s))
        .transpose()?
        .unwrap_or_default())
}

fn save(tx: &Connection, mailbox_id: i64, d: &Delegate, position: i64) -> Result<(), MailboxError> {
    let l = |f: DelegateFolder| d.level(f).as_str();
    tx.prepare_cached(
        "INSERT INTO delegates (mailbox_id, delegate_key, position, calendar, tasks, inbox, \
         contacts, notes, journal, receive_copies, view_private) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
         ON CONFLICT(mailbox_id, delegate_key) DO UPDATE SET calendar = excluded.calendar, \
         tasks = excluded.tasks, inbox = excluded.inbox, contacts = excluded.contacts, \
         notes = excluded.notes, journal = excluded.journal, \
         receive_copies = excluded.receive_copies, view_private = excluded.view_private",
    )?
    .execute(params![
        mailbox_id,
        d.delegate.as_str(),
        position,
        l(DelegateFolder::Calendar),
        l(DelegateFolder::Tasks),
        l(DelegateFolder::Inbox),
        l(DelegateFolder::Contacts),
        l(DelegateFolder::Notes),
        l(DelegateFolder::Journal),
        d.receive_copies,
        d.view_private,
    ])?;
    Ok(())
}

fn set_delivery(tx: &Connection, mailbox_id: i64, m: MeetingDelivery) -> Result<(), MailboxError> {
    tx.prepare_cached(
        "INSERT INTO delegate_settings (mailbox_id, deliver_meeting_requests) VALUES (?1, ?2) \
         ON CONFLICT(mailbox_id) DO UPDATE SET deliver_meeting_requests = excluded.deliver_meeting_requests",
    )?
    .execute(params![mailbox_id, m.as_str()])?;
    Ok(())
}

impl MailboxStore {
    /// A mailbox's delegates and meeting delivery.
    pub async fn delegation(&self, mailbox: &MailboxKey) -> Result<Delegation, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| load(tx, mailbox_row(tx, &key)?.id))
            .await
    }

    /// What `delegate` may do in `owner`'s mailbox, if it is one of its delegates.
    pub async fn delegate_of(
        &self,
        owner: &MailboxKey,
        delegate: &MailboxKey,
    ) -> Result<Option<Delegate>, MailboxError> {
        Ok(self
            .delegate_with_folders(owner, delegate, &[])
            .await?
            .map(|(d, _)| d))
    }

    /// [`MailboxStore::delegate_of`], and the ids of `owner`'s distinguished folders `folders`
    /// (those it has), in one read.
    pub async fn delegate_with_folders(
        &self,
        owner: &MailboxKey,
        delegate: &MailboxKey,
        folders: &'static [&'static str],
    ) -> Result<Option<(Delegate, Vec<(&'static str, String)>)>, MailboxError> {
        let (key, who) = (owner.as_str().to_owned(), delegate.as_str().to_owned());
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            let Some(d) = load_one(tx, mb.id, &who)? else {
                return Ok(None);
            };
            let mut ids = Vec::with_capacity(folders.len());
            for name in folders {
                match distinguished_folder(tx, &mb, name) {
                    Ok(local) => ids.push((*name, mb.folder_id(local))),
                    Err(MailboxError::FolderNotFound) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(Some((d, ids)))
        })
        .await
    }

    /// Adds delegates to `owner`'s mailbox, each on its own (one already there, or the owner
    /// itself, is refused alone), and sets the meeting delivery if given. One write: all of it
    /// or, when the request as a whole fails, none of it.
    pub async fn add_delegates(
        &self,
        owner: &MailboxKey,
        adds: Vec<Delegate>,
        delivery: Option<MeetingDelivery>,
    ) -> Result<Vec<Result<Delegate, MailboxError>>, MailboxError> {
        let key = owner.as_str().to_owned();
        self.write(move |tx, _| {
            let mb = mailbox_row(tx, &key)?;
            let mut have = load(tx, mb.id)?.delegates;
            let mut position: i64 = tx
                .prepare_cached(
                    "SELECT COALESCE(MAX(position), 0) FROM delegates WHERE mailbox_id = ?1",
                )?
                .query_row(params![mb.id], |r| r.get(0))?;
            let mut out = Vec::with_capacity(adds.len());
            for d in adds {
                let r = if d.delegate.as_str() == key {
                    Err(MailboxError::DelegateIsOwner)
                } else if have.iter().any(|h| h.delegate == d.delegate) {
                    Err(MailboxError::DelegateExists(d.delegate.as_str().to_owned()))
                } else if have.len() >= MAX_DELEGATES {
                    Err(MailboxError::TooManyDelegates(MAX_DELEGATES))
                } else {
                    d.validate().map(|()| d)
                };
                if let Ok(d) = &r {
                    position += 1;
                    save(tx, mb.id, d, position)?;
                    have.push(d.clone());
                }
                out.push(r);
            }
            if let Some(m) = delivery {
                set_delivery(tx, mb.id, m)?;
            }
            Ok(out)
        })
        .await
    }

    /// Changes delegates of `owner`'s mailbox, each on its own (one that is not a delegate is
    /// refused alone), and sets the meeting delivery if given.
    pub async fn update_delegates(
        &self,
        owner: &MailboxKey,
        changes: Vec<DelegateChange>,
        delivery: Option<MeetingDelivery>,
    ) -> Result<Vec<Result<Delegate, MailboxError>>, MailboxError> {
        let key = owner.as_str().to_owned();
        self.write(move |tx, _| {
            let mb = mailbox_row(tx, &key)?;
            let have = load(tx, mb.id)?.delegates;
            let mut out = Vec::with_capacity(changes.len());
            for c in changes {
                let r = match have.iter().find(|h| h.delegate == c.delegate) {
                    None => Err(MailboxError::NotDelegate(c.delegate.as_str().to_owned())),
                    Some(h) => {
                        let mut d = h.clone();
                        for (f, l) in DelegateFolder::ALL.into_iter().zip(c.levels) {
                            if let Some(l) = l {
                                d.set_level(f, l);
                            }
                        }
                        d.receive_copies = c.receive_copies.unwrap_or(d.receive_copies);
                        d.view_private = c.view_private.unwrap_or(d.view_private);
                        d.validate().map(|()| d)
                    }
                };
                if let Ok(d) = &r {
                    // the position stays: the upsert does not change it
                    save(tx, mb.id, d, 0)?;
                }
                out.push(r);
            }
            if let Some(m) = delivery {
                set_delivery(tx, mb.id, m)?;
            }
            Ok(out)
        })
        .await
    }

    /// Removes delegates from `owner`'s mailbox, each on its own (one that is not a delegate is
    /// refused alone).
    pub async fn remove_delegates(
        &self,
        owner: &MailboxKey,
        delegates: Vec<MailboxKey>,
    ) -> Result<Vec<Result<(), MailboxError>>, MailboxError> {
        let key = owner.as_str().to_owned();
        self.write(move |tx, _| {
            let mb = mailbox_row(tx, &key)?;
            let mut out = Vec::with_capacity(delegates.len());
            for d in delegates {
                let n = tx
                    .prepare_cached(
                        "DELETE FROM delegates WHERE mailbox_id = ?1 AND delegate_key = ?2",
                    )?
                    .execute(params![mb.id, d.as_str()])?;
                out.push(if n == 0 {
                    Err(MailboxError::NotDelegate(d.as_str().to_owned()))
                } else {
                    Ok(())
                });
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> MailboxKey {
        MailboxKey::new(s).unwrap()
    }

    async fn store() -> MailboxStore {
        let s = MailboxStore::open_in_memory().unwrap();
        for k in ["owner", "bob", "carol"] {
            s.ensure_mailbox(&key(k)).await.unwrap();
        }
        s
    }

    fn editor(k: &str) -> Delegate {
        let mut d = Delegate::new(key(k));
        d.set_level(DelegateFolder::Calendar, DelegateLevel::Editor);
        d.set_level(DelegateFolder::Tasks, DelegateLevel::Reviewer);
        d.receive_copies = true;
        d
    }

    #[tokio::test]
    async fn a_mailbox_starts_without_delegates_and_with_the_default_delivery() {
        let s = store().await;
        let d = s.delegation(&key("owner")).await.unwrap();
        assert!(d.delegates.is_empty());
        assert_eq!(d.delivery, MeetingDelivery::DelegatesAndSendInformationToMe);
        assert_eq!(
            s.delegate_of(&key("owner"), &key("bob")).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn delegates_are_added_changed_and_removed_each_on_its_own() {
        let s = store().await;
        let owner = key("owner");
        let r = s
            .add_delegates(
                &owner,
                vec![editor("bob"), Delegate::new(key("owner")), editor("bob")],
                Some(MeetingDelivery::DelegatesOnly),
            )
            .await
            .unwrap();
        assert!(r[0].is_ok());
        assert!(matches!(r[1], Err(MailboxError::DelegateIsOwner)));
        assert!(matches!(&r[2], Err(MailboxError::DelegateExists(k)) if k == "bob"));
        s.add_delegates(&owner, vec![Delegate::new(key("carol"))], None)
            .await
            .unwrap();
        let d = s.delegation(&owner).await.unwrap();
        assert_eq!(d.delivery, MeetingDelivery::DelegatesOnly);
        let names: Vec<_> = d.delegates.iter().map(|d| d.delegate.as_str()).collect();
        assert_eq!(names, ["bob", "carol"]);
        assert_eq!(d.delegates[0], editor("bob"));

        // a change keeps what it does not name, and the order
        let mut levels = [None; 6];
        levels[DelegateFolder::Inbox as usize] = Some(DelegateLevel::Author);
        let r = s
            .update_delegates(
                &owner,
                vec![
                    DelegateChange {
                        delegate: key("bob"),
                        levels,
                        receive_copies: None,
                        view_private: Some(true),
                    },
                    DelegateChange {
                        delegate: key("nobody"),
                        levels: [None; 6],
                        receive_copies: None,
                        view_private: None,
                    },
                ],
                None,
            )
            .await
            .unwrap();
        let bob = r[0].as_ref().unwrap();
        assert_eq!(bob.level(DelegateFolder::Inbox), DelegateLevel::Author);
        assert_eq!(bob.level(DelegateFolder::Calendar), DelegateLevel::Editor);
        assert!(bob.view_private && bob.receive_copies);
        assert!(matches!(&r[1], Err(MailboxError::NotDelegate(k)) if k == "nobody"));
        let d = s.delegation(&owner).await.unwrap();
        assert_eq!(d.delegates[0].delegate.as_str(), "bob");
        assert_eq!(d.delegates[0], *bob);

        let r = s
            .remove_delegates(&owner, vec![key("bob"), key("bob")])
            .await
            .unwrap();
        assert!(r[0].is_ok());
        assert!(matches!(&r[1], Err(MailboxError::NotDelegate(_))));
        let d = s.delegation(&owner).await.unwrap();
        assert_eq!(d.delegates.len(), 1);
        assert_eq!(s.delegate_of(&owner, &key("bob")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn copies_of_meeting_messages_need_editor_on_the_calendar() {
        let s = store().await;
        let mut d = Delegate::new(key("bob"));
        d.receive_copies = true;
        d.set_level(DelegateFolder::Calendar, DelegateLevel::Author);
        let r = s.add_delegates(&key("owner"), vec![d], None).await.unwrap();
        assert!(matches!(&r[0], Err(MailboxError::DelegateInvalid(m)) if m.contains("Editor")));
        assert!(
            s.delegation(&key("owner"))
                .await
                .unwrap()
                .delegates
                .is_empty()
        );
        // and a change cannot take Editor away from one who receives them
        s.add_delegates(&key("owner"), vec![editor("bob")], None)
            .await
            .unwrap();
        let mut levels = [None; 6];
        levels[0] = Some(DelegateLevel::Reviewer);
        let r = s
            .update_delegates(
                &key("owner"),
                vec![DelegateChange {
                    delegate: key("bob"),
                    levels,
                    receive_copies: None,
                    view_private: None,
                }],
                None,
            )
            .await
            .unwrap();
        assert!(matches!(&r[0], Err(MailboxError::DelegateInvalid(_))));
        let d = s.delegate_of(&key("owner"), &key("bob")).await.unwrap();
        assert_eq!(d, Some(editor("bob")));
    }

    #[tokio::test]
    async fn a_mailbox_has_at_most_max_delegates() {
        let s = store().await;
        let adds = (0..=MAX_DELEGATES)
            .map(|i| Delegate::new(key(&format!("d{i}"))))
            .collect();
        let r = s.add_delegates(&key("owner"), adds, None).await.unwrap();
        assert!(r[..MAX_DELEGATES].iter().all(Result::is_ok));
        assert!(
            matches!(r[MAX_DELEGATES], Err(MailboxError::TooManyDelegates(n)) if n == MAX_DELEGATES)
        );
    }

    #[test]
    fn a_folder_takes_the_permission_of_its_nearest_delegate_folder() {
        let d = editor("bob");
        assert_eq!(
            d.level_for(["calendar", "msgfolderroot"]),
            DelegateLevel::Editor
        );
        // a folder under Tasks
        assert_eq!(
            d.level_for(
                [None, Some("tasks"), Some("msgfolderroot")]
                    .into_iter()
                    .flatten()
            ),
            DelegateLevel::Reviewer
        );
        assert_eq!(d.level_for(["inbox"]), DelegateLevel::None);
        assert_eq!(
            d.level_for(["sentitems", "msgfolderroot"]),
            DelegateLevel::None
        );
        assert_eq!(
            d.level_for(["recoverableitemspurges", "root"]),
            DelegateLevel::None
        );
    }
}
