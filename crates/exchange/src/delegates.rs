//! Delegates (MS-OXWSDLGM), both halves:
//!
//! - **Managing them**: GetDelegate, AddDelegate, UpdateDelegate and RemoveDelegate on the
//!   caller's own mailbox (only its owner manages its delegates). Delegates are directory users
//!   with a mailbox, named by `t:PrimarySmtpAddress` or `t:SID`, kept by their mailbox key
//!   ([`mailbox::delegates`]).
//! - **Acting as one**: a request that names another user's mailbox (`t:Mailbox` in a
//!   `t:DistinguishedFolderId`, or an id of that mailbox), sent with the caller's own token,
//!   runs in that mailbox when the caller is one of its delegates, within what the delegation
//!   gives: on each of the six delegate folders (Calendar, Tasks, Inbox, Contacts, Notes,
//!   Journal) Reviewer reads, Author also creates, Editor also changes and deletes; the
//!   mailbox's root and Top of Information Store are visible (GetFolder), as Exchange makes them
//!   for delegates; private items stay hidden unless ViewPrivateItems. A permission covers the
//!   folder it was given on, not the folders under it (as a delegate's folder permissions in
//!   Exchange). The operations a delegate may use are [`DELEGATE_OPERATIONS`]; anything else,
//!   or anything outside the permission, is `ErrorAccessDenied` saying why. A delegate saves in
//!   the owner's folders and sends the owner's meeting invitations and updates; it does not send
//!   mail as the owner (that is Send As or Send on Behalf, which this server does not grant).

use ews_proto::delegate::{
    self as wire, DelegateAnswer, DelegatePermissions, DelegateUser, PermissionLevel, UserId,
};
use ews_proto::request::{ItemChange, MessageDisposition, NewItem, Operation};
use ews_proto::response::{FolderPermission, PermissionUser, ResponseError};
use ews_proto::types::{FolderRef, ItemRef, ItemTarget};
use mailbox::{
    Delegate, DelegateChange, DelegateFolder, DelegateLevel, FolderSel, MailboxKey, MeetingDelivery,
};

use crate::Exchange;
use crate::error::ExchangeError;
use crate::ews::{Handler, err};
use crate::org::Recipient;

/// What a delegate may send against the owner's mailbox.
pub(crate) const DELEGATE_OPERATIONS: &[&str] = &[
    "GetFolder",
    "FindItem",
    "GetItem",
    "CreateItem",
    "UpdateItem",
    "DeleteItem",
];

/// The folders every delegate sees (their properties, not their contents).
const VISIBLE: [&str; 2] = ["root", "msgfolderroot"];

/// The folders a delegate can reach: [`VISIBLE`] and the six delegate folders.
const REACHABLE: &[&str] = &[
    "root",
    "msgfolderroot",
    "calendar",
    "tasks",
    "inbox",
    "contacts",
    "notes",
    "journal",
];

/// A request running in another user's mailbox as that user's delegate.
#[derive(Debug, Clone)]
pub(crate) struct DelegateAccess {
    pub grant: Delegate,
    /// The delegate's own address and name (the Sender of meeting requests it sends).
    pub smtp: String,
    pub name: String,
    /// The owner's folders a delegate can reach ([`REACHABLE`]), by id.
    pub folders: Vec<(&'static str, String)>,
}

/// What a folder reference is to be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// Its own properties (GetFolder).
    See,
    /// Its items (FindItem, GetItem).
    Read,
    /// New items in it (CreateItem).
    Create,
    /// Changes to its items (UpdateItem, DeleteItem).
    Change,
}

impl Need {
    fn level(self) -> DelegateLevel {
        match self {
            Need::See | Need::Read => DelegateLevel::Reviewer,
            Need::Create => DelegateLevel::Author,
            Need::Change => DelegateLevel::Editor,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Need::See | Need::Read => "read",
            Need::Create => "create items in",
            Need::Change => "change items in",
        }
    }
}

fn denied(msg: &str) -> ResponseError {
    ResponseError::new("ErrorAccessDenied", msg)
}

impl DelegateAccess {
    /// The distinguished name of the folder `f` names, if it is one a delegate can reach.
    fn folder_name(&self, f: &FolderRef) -> Option<&'static str> {
        match f {
            FolderRef::Distinguished { id, .. } => {
                let n = id.as_str();
                REACHABLE.iter().copied().find(|v| *v == n)
            }
            FolderRef::Id { id, .. } => self.name_of_id(id),
        }
    }

    fn name_of_id(&self, id: &str) -> Option<&'static str> {
        self.folders
            .iter()
            .find(|(_, fid)| fid == id)
            .map(|(name, _)| *name)
    }

    /// Refuses `f` unless the delegation gives `need` on it.
    pub(crate) fn check(&self, f: &FolderRef, need: Need) -> Result<(), ResponseError> {
        let name = self.folder_name(f);
        if need == Need::See && name.is_some_and(|n| VISIBLE.contains(&n)) {
            return Ok(());
        }
        let have = name
            .and_then(DelegateFolder::of_distinguished)
            .map(|df| self.grant.level(df));
        match have {
            Some(l) if l >= need.level() => Ok(()),
            Some(l) => Err(denied(&format!(
                "As a delegate, {} may not {} the {} folder of this mailbox: the owner gave {} there, and this needs {} or more; the owner changes it with UpdateDelegate.",
                self.smtp,
                need.verb(),
                name.unwrap_or_default(),
                l.as_str(),
                need.level().as_str()
            ))),
            None => Err(denied(&format!(
                "As a delegate, {} reaches only the Calendar, Tasks, Inbox, Contacts, Notes and Journal folders of this mailbox (not the folders under them), as the owner's delegation gives.",
                self.smtp
            ))),
        }
    }

    /// Refuses an item of the owner's a delegate may not read: one outside the folders it
    /// reads, or a private one without ViewPrivateItems.
    pub(crate) fn may_read(&self, item: &mailbox::Item) -> Result<(), ResponseError> {
        let f = FolderRef::Id {
            id: item.folder_id.clone(),
            change_key: None,
        };
        self.check(&f, Need::Read)?;
        if item.sensitivity == mailbox::Sensitivity::Private && !self.grant.view_private {
            return Err(denied(
                "The item is private, and the owner's delegation does not let this delegate see private items (ViewPrivateItems).",
            ));
        }
        Ok(())
    }

    /// The folders where this delegate may change items, as an [`mailbox::ItemGuard`] mask.
    pub(crate) fn editor_mask(&self) -> u8 {
        DelegateFolder::ALL
            .into_iter()
            .filter(|f| self.grant.level(*f) == DelegateLevel::Editor)
            .fold(0, |m, f| m | (1 << f as u8))
    }

    /// A restriction that keeps private items out of a delegate's finds, unless the delegation
    /// lets it see them.
    pub(crate) fn hide_private(&self, r: Option<mailbox::Filter>) -> Option<mailbox::Filter> {
        if self.grant.view_private {
            return r;
        }
        let not_private = mailbox::Filter::Not(Box::new(mailbox::Filter::Compare {
            field: mailbox::Field::Sensitivity,
            op: mailbox::CompareOp::Eq,
            value: mailbox::Value::from("Private"),
        }));
        Some(match r {
            Some(r) => mailbox::Filter::And(vec![r, not_private]),
            None => not_private,
        })
    }

    /// Checks an operation's folders before it runs: what it reads, creates in or writes to.
    /// Items named by id are checked as they are read ([`DelegateAccess::may_read`]) or, for
    /// writes, inside the write's transaction ([`mailbox::ItemGuard::InDelegateFolders`]).
    pub(crate) fn precheck(&self, op: &Operation) -> Result<(), ResponseError> {
        let sends = |d: Option<MessageDisposition>| {
            matches!(
                d,
                Some(MessageDisposition::SendOnly | MessageDisposition::SendAndSaveCopy)
            )
        };
        let no_send = || {
            denied(
                "A delegate saves messages in the owner's folders but does not send mail as the owner: that needs Send As or Send on Behalf, which this server does not grant. Save with MessageDisposition SaveOnly.",
            )
        };
        match op {
            Operation::GetFolder(g) => g
                .folder_ids
                .iter()
                .try_for_each(|f| self.check(f, Need::See)),
            Operation::FindItem(f) => f.parents.iter().try_for_each(|p| self.check(p, Need::Read)),
            Operation::GetItem(_) | Operation::DeleteItem(_) => Ok(()),
            Operation::CreateItem(c) => {
                if sends(c.message_disposition) {
                    return Err(no_send());
                }
                // a reply or forward quotes its original, which may sit where the delegate
                // cannot read: never composed for a delegate
                if c.items
                    .iter()
                    .any(|i| matches!(i, NewItem::SmartResponse(_)))
                {
                    return Err(denied(
                        "A delegate does not reply to or forward the owner's items: a reply or forward quotes its original, which the delegation may not let it read.",
                    ));
                }
                match &c.saved_folder {
                    Some(f) => self.check(f, Need::Create),
                    None => Err(denied(
                        "A delegate names the owner's folder to create items in (SavedItemFolderId), such as the owner's calendar.",
                    )),
                }
            }
            Operation::UpdateItem(u) => {
                if sends(u.message_disposition) {
                    return Err(no_send());
                }
                u.saved_folder
                    .iter()
                    .try_for_each(|f| self.check(f, Need::Change))
            }
            other => Err(denied(&format!(
                "{} acts in another user's mailbox only as a delegate, and a delegate may use {} there, not {}.",
                self.smtp,
                DELEGATE_OPERATIONS.join(", "),
                other.name()
            ))),
        }
    }
}

/// The references to mailboxes an operation makes: folders, items by id, items to change.
fn references(op: &Operation) -> (&[FolderRef], &[ItemRef], &[ItemChange]) {
    match op {
        Operation::GetFolder(g) => (&g.folder_ids, &[], &[]),
        Operation::FindItem(f) => (&f.parents, &[], &[]),
        Operation::GetItem(g) => (&[], &g.item_ids, &[]),
        Operation::CreateItem(c) => (c.saved_folder.as_slice(), &[], &[]),
        Operation::UpdateItem(u) => (u.saved_folder.as_slice(), &[], &u.changes),
        Operation::DeleteItem(d) => (&[], &d.item_ids, &[]),
        _ => (&[], &[], &[]),
    }
}

/// The other user's mailbox a request acts in, as that user's delegate: `None` for a request
/// that names only the caller's own (`me`), else the owner and the access the delegation gives.
/// A request reaches one mailbox: naming two others, or another one without being its
/// delegate, is refused.
pub(crate) async fn delegate_target(
    ex: &Exchange,
    me: &Recipient,
    op: &Operation,
) -> Result<Option<(Recipient, DelegateAccess)>, ResponseError> {
    if !DELEGATE_OPERATIONS.contains(&op.name()) {
        return Ok(None);
    }
    let my_smtp = me.primary_smtp_address.as_deref().unwrap_or_default();
    let (folders, items, changes) = references(op);
    let mut by_smtp: Vec<String> = Vec::new();
    let mut by_key: Vec<String> = Vec::new();
    // a reference to the caller's own mailbox: the request stays there, and what it names
    // elsewhere is refused or not found one by one, as always
    let mut own = false;
    for f in folders {
        match f {
            FolderRef::Distinguished {
                mailbox: Some(m), ..
            } if !m.eq_ignore_ascii_case(my_smtp) => by_smtp.push(m.clone()),
            FolderRef::Distinguished { .. } => own = true,
            FolderRef::Id { id, .. } => match foreign_key(id, &me.guid) {
                Some(Some(k)) => by_key.push(k),
                Some(None) => own = true,
                None => {}
            },
        }
    }
    for id in items.iter().chain(changes.iter().map(|c| &c.item_id)) {
        match foreign_item_key(id, &me.guid) {
            Some(Some(k)) => by_key.push(k),
            Some(None) => own = true,
            None => {}
        }
    }
    if own || (by_smtp.is_empty() && by_key.is_empty()) {
        return Ok(None);
    }
    let my_smtp = my_smtp.to_owned();
    let found = directory(ex, move |org, c| {
        let by_smtp = by_smtp.iter().map(|a| org.mailbox_by_smtp(c, a));
        let by_key = by_key.iter().map(|k| org.mailbox_by(c, "guid", k));
        by_smtp.chain(by_key).collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let mut owner: Option<Recipient> = None;
    for o in found {
        let Some(o) = o.filter(|o| !o.account_disabled) else {
            return Err(ResponseError::new(
                "ErrorNonExistentMailbox",
                "The request names a mailbox that does not exist in this organization.",
            ));
        };
        match &owner {
            Some(x) if x.guid != o.guid => {
                return Err(denied(
                    "The request names two other users' mailboxes; a request reaches one mailbox. Send one request per mailbox.",
                ));
            }
            _ => owner = Some(o),
        }
    }
    let Some(owner) = owner else { return Ok(None) };
    if owner.guid == me.guid {
        return Ok(None);
    }
    let access = access_for(ex, &me.guid, &my_smtp, &me.name, &owner).await?;
    Ok(Some((owner, access)))
}

/// What `owner`'s delegation gives the caller (`my_*`), or why it gives nothing.
pub(crate) async fn access_for(
    ex: &Exchange,
    my_guid: &str,
    my_smtp: &str,
    my_name: &str,
    owner: &Recipient,
) -> Result<DelegateAccess, ResponseError> {
    let (owner_key, my_key) = match (
        MailboxKey::new(owner.guid.clone()),
        MailboxKey::new(my_guid.to_owned()),
    ) {
        (Ok(o), Ok(m)) => (o, m),
        (Err(e), _) | (_, Err(e)) => return Err(err(&e)),
    };
    let owner_smtp = owner.primary_smtp_address.as_deref().unwrap_or_default();
    let (grant, folders) = match ex
        .inner
        .mbx
        .delegate_with_folders(&owner_key, &my_key, REACHABLE)
        .await
    {
        Ok(Some(found)) => found,
        Ok(None) => {
            return Err(denied(&format!(
                "{my_smtp} is not a delegate of {owner_smtp}, so it cannot reach that mailbox. The owner adds delegates with AddDelegate (in Outlook: Account Settings › Delegate Access)."
            )));
        }
        Err(mailbox::MailboxError::MailboxNotFound(_)) => {
            return Err(denied(&format!(
                "{my_smtp} is not a delegate of {owner_smtp}, so it cannot reach that mailbox."
            )));
        }
        Err(e) => return Err(err(&e)),
    };
    Ok(DelegateAccess {
        grant,
        smtp: my_smtp.to_owned(),
        name: my_name.to_owned(),
        folders,
    })
}

/// Which mailbox an id names: `Some(Some(key))` another one, `Some(None)` the caller's own
/// (`mine`), `None` none (a malformed id is left to the operation, which refuses it as always).
fn foreign_key(id: &str, mine: &str) -> Option<Option<String>> {
    let k = mailbox::mailbox_of_id(id).ok()?;
    Some((k.as_str() != mine).then(|| k.as_str().to_owned()))
}

/// [`foreign_key`] of an item reference: an item or an occurrence by id, a series' occurrence
/// by its index, a series by one of its occurrences.
fn foreign_item_key(r: &ItemRef, mine: &str) -> Option<Option<String>> {
    match r.target() {
        ItemTarget::Id(id) | ItemTarget::MasterOf(id) => foreign_key(id, mine),
        ItemTarget::Occurrence { master, .. } => foreign_key(master, mine),
    }
}

/// A directory read that failed.
fn internal(e: ExchangeError) -> ResponseError {
    ResponseError::new("ErrorInternalServerError", &e.to_string())
}

/// One read of the directory, on its worker; a failure is [`internal`].
async fn directory<T, F>(ex: &Exchange, f: F) -> Result<T, ResponseError>
where
    F: FnOnce(&crate::org::Org, &store::rusqlite::Connection) -> Result<T, ExchangeError>
        + Send
        + 'static,
    T: Send + 'static,
{
    let org = ex.inner.org.clone();
    ex.inner
        .org
        .db
        .call(move |c| f(&org, c))
        .await
        .map_err(internal)
}

/// The directory's users whose mailbox keys (their GUIDs) are `keys`, in order, in one read.
async fn users_by_keys(
    ex: &Exchange,
    keys: Vec<String>,
) -> Result<Vec<Option<Recipient>>, ResponseError> {
    directory(ex, move |org, c| {
        keys.iter().map(|k| org.mailbox_by(c, "guid", k)).collect()
    })
    .await
}

/// A delegate as `t:UserId` names it, from its directory entry (a user that left the
/// directory is still a delegate, to be removed: named by its key).
fn user_id_of(
    key: &MailboxKey,
    u: Option<Recipient>,
) -> (Option<String>, Option<String>, Option<String>) {
    match u {
        Some(u) => (Some(u.sid), u.primary_smtp_address, Some(u.name)),
        None => (None, None, Some(key.as_str().to_owned())),
    }
}

/// A store refusal for one user, naming the user as the request did.
fn user_err(e: &mailbox::MailboxError, who: &str) -> ResponseError {
    use mailbox::MailboxError as M;
    let code = e.response_code();
    match e {
        M::NotDelegate(_) => {
            ResponseError::new(code, &format!("{who} is not a delegate of this mailbox."))
        }
        M::DelegateExists(_) => ResponseError::new(
            code,
            &format!(
                "{who} is already a delegate of this mailbox; change its settings with UpdateDelegate."
            ),
        ),
        e => err(e),
    }
}

/// How a request named a user, for messages.
fn who(id: &UserId) -> String {
    id.primary_smtp_address
        .clone()
        .or_else(|| id.sid.clone())
        .unwrap_or_else(|| "the user".into())
}

fn level_of(p: PermissionLevel) -> Result<DelegateLevel, ResponseError> {
    Ok(match p {
        PermissionLevel::None => DelegateLevel::None,
        PermissionLevel::Reviewer => DelegateLevel::Reviewer,
        PermissionLevel::Author => DelegateLevel::Author,
        PermissionLevel::Editor => DelegateLevel::Editor,
        PermissionLevel::Custom => {
            return Err(ResponseError::new(
                "ErrorDelegateValidationFailed",
                "A delegate's folder permission is None, Reviewer, Author or Editor; Custom is how other permissions read and cannot be set.",
            ));
        }
    })
}

fn wire_level(l: DelegateLevel) -> PermissionLevel {
    match l {
        DelegateLevel::None => PermissionLevel::None,
        DelegateLevel::Reviewer => PermissionLevel::Reviewer,
        DelegateLevel::Author => PermissionLevel::Author,
        DelegateLevel::Editor => PermissionLevel::Editor,
    }
}

fn delivery_of(d: wire::DeliverMeetingRequests) -> MeetingDelivery {
    match d {
        wire::DeliverMeetingRequests::DelegatesOnly => MeetingDelivery::DelegatesOnly,
        wire::DeliverMeetingRequests::DelegatesAndMe => MeetingDelivery::DelegatesAndMe,
        wire::DeliverMeetingRequests::DelegatesAndSendInformationToMe => {
            MeetingDelivery::DelegatesAndSendInformationToMe
        }
        wire::DeliverMeetingRequests::NoForward => MeetingDelivery::NoForward,
    }
}

fn wire_delivery(d: MeetingDelivery) -> wire::DeliverMeetingRequests {
    match d {
        MeetingDelivery::DelegatesOnly => wire::DeliverMeetingRequests::DelegatesOnly,
        MeetingDelivery::DelegatesAndMe => wire::DeliverMeetingRequests::DelegatesAndMe,
        MeetingDelivery::DelegatesAndSendInformationToMe => {
            wire::DeliverMeetingRequests::DelegatesAndSendInformationToMe
        }
        MeetingDelivery::NoForward => wire::DeliverMeetingRequests::NoForward,
    }
}

/// The six levels a `t:DelegatePermissions` sets, in [`DelegateFolder::ALL`] order.
fn levels_of(p: &DelegatePermissions) -> Result<[Option<DelegateLevel>; 6], ResponseError> {
    let mut out = [None; 6];
    for (slot, given) in out
        .iter_mut()
        .zip([p.calendar, p.tasks, p.inbox, p.contacts, p.notes, p.journal])
    {
        *slot = given.map(level_of).transpose()?;
    }
    Ok(out)
}

impl Handler<'_> {
    /// The owner's mailbox a delegate request names must be the caller's own: only the owner
    /// manages its delegates.
    async fn owns_mailbox(&self, mailbox: &str) -> Result<(), ResponseError> {
        if mailbox.eq_ignore_ascii_case(&self.smtp) {
            return Ok(());
        }
        let a = mailbox.to_owned();
        let found = directory(self.ex, move |org, c| org.mailbox_by_smtp(c, &a)).await?;
        match found {
            Some(u) if u.guid == self.key.as_str() => Ok(()),
            Some(_) => Err(denied(
                "Only a mailbox's owner manages its delegates: the request names another user's mailbox.",
            )),
            None => Err(ResponseError::new(
                "ErrorNonExistentMailbox",
                &format!("No mailbox has the address {mailbox:?}."),
            )),
        }
    }

    /// The directory users `ids` name, each on its own.
    async fn resolve_users(
        &self,
        ids: &[UserId],
    ) -> Result<Vec<Result<Recipient, ResponseError>>, ResponseError> {
        let ids = ids.to_vec();
        let found = directory(self.ex, move |org, c| {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let r = match (&id.primary_smtp_address, &id.sid) {
                    (Some(a), _) => org.mailbox_by_smtp(c, a)?,
                    (None, Some(s)) => org.mailbox_by(c, "sid", s)?,
                    (None, None) => None,
                };
                out.push((id, r));
            }
            Ok(out)
        })
        .await?;
        Ok(found
            .into_iter()
            .map(|(id, r)| match r {
                Some(u) if !u.account_disabled => Ok(u),
                _ => Err(ResponseError::new(
                    "ErrorDelegateNoUser",
                    &format!(
                        "No user with a mailbox is {}; a delegate is a user of this organization.",
                        id.primary_smtp_address
                            .or(id.sid)
                            .unwrap_or_else(|| "named".into())
                    ),
                )),
            })
            .collect())
    }

    /// The `t:DelegateUser` of each stored delegate, named as the directory names it now (one
    /// directory read for them all).
    async fn views(
        &self,
        rs: Vec<Result<Delegate, ResponseError>>,
        with_permissions: bool,
    ) -> Result<Vec<Result<DelegateUser, ResponseError>>, ResponseError> {
        let keys = rs
            .iter()
            .flatten()
            .map(|d| d.delegate.as_str().to_owned())
            .collect();
        let mut users = users_by_keys(self.ex, keys).await?.into_iter();
        Ok(rs
            .into_iter()
            .map(|r| {
                let d = r?;
                let (sid, primary_smtp_address, display_name) =
                    user_id_of(&d.delegate, users.next().flatten());
                let l = |f| Some(wire_level(d.level(f)));
                Ok(DelegateUser {
                    user_id: UserId {
                        sid,
                        primary_smtp_address,
                        display_name,
                    },
                    permissions: with_permissions.then(|| DelegatePermissions {
                        calendar: l(DelegateFolder::Calendar),
                        tasks: l(DelegateFolder::Tasks),
                        inbox: l(DelegateFolder::Inbox),
                        contacts: l(DelegateFolder::Contacts),
                        notes: l(DelegateFolder::Notes),
                        journal: l(DelegateFolder::Journal),
                    }),
                    receive_copies_of_meeting_messages: Some(d.receive_copies),
                    view_private_items: Some(d.view_private),
                })
            })
            .collect())
    }

    /// `GetDelegate`.
    pub(crate) async fn get_delegate(&self, g: wire::GetDelegate) -> Vec<u8> {
        wire::get_delegate_response(&self.get_delegate_answer(g).await)
    }

    async fn get_delegate_answer(
        &self,
        g: wire::GetDelegate,
    ) -> Result<DelegateAnswer, ResponseError> {
        self.owns_mailbox(&g.mailbox).await?;
        let d = self
            .ex
            .inner
            .mbx
            .delegation(&self.key)
            .await
            .map_err(|e| err(&e))?;
        let picked: Vec<Result<Delegate, ResponseError>> = if g.user_ids.is_empty() {
            d.delegates.into_iter().map(Ok).collect()
        } else {
            self.resolve_users(&g.user_ids)
                .await?
                .into_iter()
                .map(|u| {
                    let u = u?;
                    d.delegates
                        .iter()
                        .find(|x| x.delegate.as_str() == u.guid)
                        .cloned()
                        .ok_or_else(|| {
                            err(&mailbox::MailboxError::NotDelegate(
                                u.primary_smtp_address.unwrap_or(u.name),
                            ))
                        })
                })
                .collect()
        };
        Ok(DelegateAnswer {
            users: self.views(picked, g.include_permissions).await?,
            deliver_meeting_requests: Some(wire_delivery(d.delivery)),
        })
    }

    /// `AddDelegate`: each user on its own; the meeting delivery with them.
    pub(crate) async fn add_delegate(&self, a: wire::AddDelegate) -> Vec<u8> {
        wire::add_delegate_response(&self.add_or_update(a, false).await)
    }

    /// `UpdateDelegate`: each user on its own; the meeting delivery with them.
    pub(crate) async fn update_delegate(&self, u: wire::UpdateDelegate) -> Vec<u8> {
        wire::update_delegate_response(&self.add_or_update(u, true).await)
    }

    async fn add_or_update(
        &self,
        a: wire::AddDelegate,
        update: bool,
    ) -> Result<DelegateAnswer, ResponseError> {
        self.owns_mailbox(&a.mailbox).await?;
        let ids: Vec<UserId> = a.users.iter().map(|u| u.user_id.clone()).collect();
        let users = self.resolve_users(&ids).await?;
        // a delegate's mailbox is there to receive copies of meeting messages
        for u in users.iter().flatten() {
            let k = MailboxKey::new(u.guid.clone()).map_err(|e| err(&e))?;
            self.ex.ensure_mailbox_once(&k).await.map_err(|e| err(&e))?;
        }
        // per user: the refusal found before the store, or the store's index
        let mut slots: Vec<(String, Result<usize, ResponseError>)> =
            Vec::with_capacity(users.len());
        let mut adds = Vec::new();
        let mut changes = Vec::new();
        for (u, given) in users.into_iter().zip(&a.users) {
            let prepared = u.and_then(|u| {
                let key = MailboxKey::new(u.guid).map_err(|e| err(&e))?;
                let levels = match &given.permissions {
                    Some(p) => levels_of(p)?,
                    None => [None; 6],
                };
                Ok((key, levels))
            });
            slots.push((
                who(&given.user_id),
                prepared.map(|(key, levels)| {
                    if update {
                        changes.push(DelegateChange {
                            delegate: key,
                            levels,
                            receive_copies: given.receive_copies_of_meeting_messages,
                            view_private: given.view_private_items,
                        });
                        changes.len() - 1
                    } else {
                        let mut d = Delegate::new(key);
                        for (f, l) in DelegateFolder::ALL.into_iter().zip(levels) {
                            d.set_level(f, l.unwrap_or_default());
                        }
                        d.receive_copies =
                            given.receive_copies_of_meeting_messages.unwrap_or(false);
                        d.view_private = given.view_private_items.unwrap_or(false);
                        adds.push(d);
                        adds.len() - 1
                    }
                }),
            ));
        }
        let delivery = a.deliver_meeting_requests.map(delivery_of);
        let mbx = &self.ex.inner.mbx;
        let stored = if update {
            mbx.update_delegates(&self.key, changes, delivery).await
        } else {
            mbx.add_delegates(&self.key, adds, delivery).await
        }
        .map_err(|e| err(&e))?;
        let mut stored: Vec<Option<Result<Delegate, mailbox::MailboxError>>> =
            stored.into_iter().map(Some).collect();
        let results = slots
            .into_iter()
            .map(|(name, s)| match s {
                Err(e) => Err(e),
                Ok(i) => match stored.get_mut(i).and_then(Option::take) {
                    Some(r) => r.map_err(|e| user_err(&e, &name)),
                    None => Err(ResponseError::code("ErrorInternalServerError")),
                },
            })
            .collect();
        Ok(DelegateAnswer {
            users: self.views(results, true).await?,
            deliver_meeting_requests: delivery.map(wire_delivery),
        })
    }

    /// `RemoveDelegate`: each user on its own.
    pub(crate) async fn remove_delegate(&self, r: wire::RemoveDelegate) -> Vec<u8> {
        wire::remove_delegate_response(&self.remove_answer(r).await)
    }

    async fn remove_answer(
        &self,
        r: wire::RemoveDelegate,
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        self.owns_mailbox(&r.mailbox).await?;
        let users = self.resolve_users(&r.user_ids).await?;
        let mut keys = Vec::new();
        let mut slots = Vec::with_capacity(users.len());
        for (u, id) in users.into_iter().zip(&r.user_ids) {
            let slot = u
                .and_then(|u| MailboxKey::new(u.guid).map_err(|e| err(&e)))
                .map(|k| {
                    keys.push(k);
                    keys.len() - 1
                });
            slots.push((who(id), slot));
        }
        let removed = self
            .ex
            .inner
            .mbx
            .remove_delegates(&self.key, keys)
            .await
            .map_err(|e| err(&e))?;
        Ok(slots
            .into_iter()
            .map(|(name, s)| {
                let i = s?;
                match removed.get(i) {
                    Some(Ok(())) => Ok(()),
                    Some(Err(e)) => Err(user_err(e, &name)),
                    None => Err(ResponseError::code("ErrorInternalServerError")),
                }
            })
            .collect())
    }
}

impl Handler<'_> {
    /// A delegate answers its copy of its owner's meeting request (`copy`, standing for
    /// `owner`): the owner's calendar copy is answered in the owner's mailbox, From the owner and
    /// Sent by the delegate, as a delegate with Editor on the owner's Calendar; the delegate's
    /// copy then goes to its Deleted Items (Outlook's default for an answered request).
    pub(crate) async fn respond_for(
        &self,
        owner: &mailbox::Representing,
        copy: &mailbox::Item,
        mut r: ews_proto::request::MeetingReply,
        disposition: Option<MessageDisposition>,
        saved_folder: Option<&FolderRef>,
    ) -> Result<(), ResponseError> {
        // a copy of a response or cancellation is not answered
        let meeting = copy
            .meeting
            .as_ref()
            .filter(|_| copy.item_class == "IPM.Schedule.Meeting.Request")
            .ok_or_else(|| err(&mailbox::MailboxError::NotAMeetingItem))?;
        let found = users_by_keys(self.ex, vec![owner.mailbox.clone()])
            .await?
            .pop()
            .flatten();
        let Some(o) = found.filter(|o| !o.account_disabled) else {
            return Err(ResponseError::new(
                "ErrorNonExistentMailbox",
                "The mailbox this meeting request was sent to no longer exists.",
            ));
        };
        let access = access_for(
            self.ex,
            self.key.as_str(),
            &self.smtp,
            &self.display_name,
            &o,
        )
        .await?;
        if access.grant.level(DelegateFolder::Calendar) != DelegateLevel::Editor {
            return Err(denied(&format!(
                "A delegate answers {}'s meeting requests with Editor on that Calendar; the delegation gives {}. The owner changes it with UpdateDelegate.",
                o.primary_smtp_address.as_deref().unwrap_or(&o.name),
                access.grant.level(DelegateFolder::Calendar).as_str()
            )));
        }
        let owner_key = MailboxKey::new(o.guid.clone()).map_err(|e| err(&e))?;
        let reference = self
            .ex
            .inner
            .mbx
            .meeting_reference(&owner_key, meeting.uid.clone(), meeting.organizer.clone())
            .await
            .map_err(|e| err(&e))?
            .ok_or_else(|| {
                ResponseError::new(
                    "ErrorItemNotFound",
                    "The owner's mailbox no longer has this meeting (its calendar copy and its request were deleted).",
                )
            })?;
        let h = Handler {
            ex: self.ex,
            caller: self.caller,
            impersonating: self.impersonating,
            key: owner_key,
            smtp: o.primary_smtp_address.clone().unwrap_or_default(),
            display_name: o.name.clone(),
            delegate: Some(access),
        };
        r.reference_item_id = ItemRef::new(&reference, None);
        h.respond(r, disposition, saved_folder).await?;
        // the delegate's copy is answered: out of its Inbox
        self.ex
            .inner
            .mbx
            .move_item(
                &self.key,
                copy.id.clone(),
                FolderSel::distinguished(mailbox::distinguished::DELETED_ITEMS),
            )
            .await
            .map_err(|e| err(&e))?;
        Ok(())
    }

    /// A folder's `t:PermissionSet`, as the delegation gives it: Default (on the Calendar
    /// FreeBusyTimeOnly, the organization's default; elsewhere None), Anonymous (None), then each
    /// delegate with a level on this folder, one of the six delegate folders (`distinguished`).
    pub(crate) async fn folder_permissions(
        &self,
        distinguished: Option<&str>,
    ) -> Result<Vec<FolderPermission>, ResponseError> {
        let calendar = distinguished == Some(mailbox::distinguished::CALENDAR);
        let mut out = vec![
            if calendar {
                permission(PermissionUser::Default, "FreeBusyTimeOnly")
            } else {
                permission(PermissionUser::Default, "None")
            },
            permission(PermissionUser::Anonymous, "None"),
        ];
        let Some(folder) = distinguished.and_then(DelegateFolder::of_distinguished) else {
            return Ok(out);
        };
        let delegation = self
            .ex
            .inner
            .mbx
            .delegation(&self.key)
            .await
            .map_err(|e| err(&e))?;
        let shown: Vec<_> = delegation
            .delegates
            .into_iter()
            .filter(|d| d.level(folder) != DelegateLevel::None)
            .collect();
        let keys = shown
            .iter()
            .map(|d| d.delegate.as_str().to_owned())
            .collect();
        let users = users_by_keys(self.ex, keys).await?;
        for (d, u) in shown.iter().zip(users) {
            let (sid, primary_smtp_address, display_name) = user_id_of(&d.delegate, u);
            let user = PermissionUser::User {
                sid,
                primary_smtp_address,
                display_name,
            };
            out.push(permission(user, d.level(folder).as_str()));
        }
        Ok(out)
    }
}

/// The folder permission a role gives (Exchange's predefined permission levels).
fn permission(user: PermissionUser, level: &'static str) -> FolderPermission {
    let (create, visible, edit, delete, read) = match level {
        "Editor" => (true, true, "All", "All", "FullDetails"),
        "Author" => (true, true, "Owned", "Owned", "FullDetails"),
        "Reviewer" => (false, true, "None", "None", "FullDetails"),
        "FreeBusyTimeOnly" => (false, false, "None", "None", "TimeOnly"),
        _ => (false, false, "None", "None", "None"),
    };
    FolderPermission {
        user,
        can_create_items: create,
        can_create_subfolders: false,
        is_folder_owner: false,
        is_folder_visible: visible,
        is_folder_contact: false,
        edit_items: edit,
        delete_items: delete,
        read_items: read,
        level,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reachable_folders_are_the_visible_ones_and_the_six_delegate_folders() {
        let derived: Vec<&str> = VISIBLE
            .into_iter()
            .chain(DelegateFolder::ALL.map(DelegateFolder::distinguished))
            .collect();
        assert_eq!(REACHABLE, derived.as_slice());
    }
}
