//! Deleting and emptying folders (EWS DeleteFolder and EmptyFolder, MS-OXWSFOLD) with every
//! `DeleteType` ([`DeleteMode`]), and moving them (MoveFolder: `MailboxStore::move_folder`,
//! one transaction, the folder's subtree moving with it as a move to Deleted Items does).
//!
//! # Where things go
//!
//! - **HardDelete**: the folder (DeleteFolder) or its items and, with DeleteSubFolders, its
//!   subfolders (EmptyFolder) are removed permanently, every item with a `Deleted` event and
//!   every folder with a `Deleted` folder event.
//! - **MoveToDeletedItems**: a folder moves, whole (subfolders, items, settings), under Deleted
//!   Items (Exchange: "a folder is moved to the Deleted Items folder"; the folder keeps its id,
//!   its items do not move, so only the folder has a `Moved` event). A folder already under
//!   Deleted Items is soft-deleted instead, as an item already there is (deleting again what is
//!   in the wastebasket empties it into the dumpster). EmptyFolder moves the folder's items to
//!   Deleted Items one by one and, with DeleteSubFolders, its subfolders whole; on Deleted Items
//!   itself or a folder under it, it soft-deletes them. (Where a folder is, "under Deleted
//!   Items" counts any depth, for the folder and for the items a folder operation deletes;
//!   DeleteItem looks at an item's own folder only.)
//! - Under Recoverable Items a soft delete (of a folder, or of a folder's items) puts the items
//!   into Purges, and what is in Purges stays there (EmptyFolder of Purges with SoftDelete
//!   changes nothing).
//! - **SoftDelete**: the folder is gone from the folder tree and its items go to the dumpster:
//!   Recoverable Items\Deletions, or Purges for a folder already under Recoverable Items.
//!   Exchange 2010 and later keep deleted items there, not folders ("Email folders, subfolders
//!   or structures are not recoverable. Only the contents ... can be restored", KB 2786067;
//!   Exchange 2013 and later "do not provide access to soft-deleted folders", MS-OXCFOLD), so the
//!   store keeps no soft-deleted folder: the items move (each a `Moved` event, recoverable like
//!   any soft-deleted item) and the folders are deleted (`Deleted` folder events).
//!
//! Folder-associated items (a folder's own settings: views, user configurations) have nowhere
//! to be recovered to (a user configuration is named uniquely per folder and means nothing
//! elsewhere): wherever a folder's normal items go, its associated ones are removed, except when
//! the folder moves whole. HardDelete removes everything.
//!
//! # Rules
//!
//! - A distinguished folder is never deleted ([`MailboxError::DistinguishedFolder`]), nor is a
//!   folder with one under it; EmptyFolder with DeleteSubFolders on a folder with a
//!   distinguished subfolder deletes nothing. Any folder may be emptied.
//! - Under Recoverable Items, only an [`ItemGuard::Any`] write changes anything
//!   ([`MailboxError::InRecoverableItems`]), checked in each write's own transaction.
//! - A folder moving under Deleted Items keeps its name; one Deleted Items already has is
//!   [`MailboxError::DeletedItemsNameTaken`], before anything is deleted or moved.
//! - Every change is logged in the transaction that makes it: items in the item log, folders in
//!   the folder log and (for subscriptions) the item log.
//!
//! # Bounded work
//!
//! A call is as many writes of the group commit as it needs, each one savepoint, each deleting
//! or moving at most [`MAX_FOLDER_ITEMS_PER_WRITE`] items; the write that finds no more items to
//! do also makes the folder changes (deleting or moving the folders), so a folder is deleted
//! only once it is empty, and a folder moves in one write. Every write reads the folder anew
//! (another request may have changed it since), so an item created in a folder while it is
//! being emptied is done too. A call interrupted (a crash) leaves what it did, each write whole,
//! logged and durable; calling it again goes on. The checks that refuse a call (distinguished
//! folders, the guard, a name in Deleted Items) are made by its first write, before it changes
//! anything.

use rusqlite::{Connection, params};

use crate::distinguished::{
    DELETED_ITEMS, RECOVERABLE_ITEMS_DELETIONS, RECOVERABLE_ITEMS_PURGES, is_recoverable_items,
};
use crate::error::MailboxError;
use crate::items::{Header, copy_local, delete_local, move_local};
use crate::limits::{MAX_COPY_FOLDER_ITEMS, MAX_FOLDER_DEPTH, MAX_FOLDER_ITEMS_PER_WRITE};
use crate::model::{DeleteMode, EventKind, Folder, FolderSel, ItemGuard, MailboxKey, to_micros};
use crate::store::{
    FOLDER_EVENT_WITH_ANCESTOR, FolderLogEntry, MailboxStore, Mb, append_folder_event,
    distinguished_folder, lineage, load_folder, log_folder_change, mailbox_row, next_change_number,
    resolve_folder, to_i64, touch_folder,
};

/// What one call asks.
#[derive(Debug, Clone)]
enum Request {
    /// DeleteFolder.
    Delete { folder: FolderSel, mode: DeleteMode },
    /// EmptyFolder.
    Empty {
        folder: FolderSel,
        mode: DeleteMode,
        subfolders: bool,
    },
}

/// What happens to the items of one folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemAction {
    /// Removed permanently, with their attachments and streams.
    Remove,
    /// The normal items move to this distinguished folder; folder-associated ones are removed.
    MoveTo(&'static str),
    /// Left where they are (soft-deleting what is in Purges already).
    Keep,
}

/// What happens to folders once their items are done.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FolderAction {
    Nothing,
    /// These folders go, each with its subtree (whose items are gone by then).
    Delete(Vec<i64>),
    /// These folders move, whole, under Deleted Items.
    MoveToDeletedItems(Vec<i64>),
}

/// A call as one write sees the mailbox: whose items go where, then what happens to folders.
#[derive(Debug)]
struct Plan {
    /// The folder the call names.
    target: i64,
    items: Vec<(i64, ItemAction)>,
    folders: FolderAction,
    /// EmptyFolder: the emptied folder changed (a new change key) even when it held nothing.
    touch_target: bool,
}

/// Where a folder is: read off its lineage (itself first, then its ancestors).
#[derive(Debug, Clone, Copy)]
struct Place {
    under_recoverable: bool,
    under_deleted_items: bool,
}

impl Place {
    fn of(lineage: &[Option<String>]) -> Place {
        let names = || lineage.iter().flatten();
        Place {
            under_recoverable: names().any(|d| is_recoverable_items(d)),
            under_deleted_items: names().any(|d| d == DELETED_ITEMS),
        }
    }

    /// Where a soft delete puts the normal items of a folder here: the dumpster, or its Purges
    /// folder for what is in the dumpster already.
    fn dumpster(self) -> &'static str {
        if self.under_recoverable {
            RECOVERABLE_ITEMS_PURGES
        } else {
            RECOVERABLE_ITEMS_DELETIONS
        }
    }

    /// Whether MoveToDeletedItems here means a soft delete (what is deleted again from the
    /// Deleted Items tree goes to the dumpster).
    fn soft_instead_of_move(self, mode: DeleteMode) -> bool {
        mode == DeleteMode::MoveToDeletedItems && self.under_deleted_items
    }
}

impl MailboxStore {
    /// DeleteFolder: deletes an ordinary folder with everything under it as `mode` says (see
    /// [`DeleteMode`] and the module documentation of `folder_delete.rs`): `Hard` removes it,
    /// `Soft` removes the folder and moves its items to the dumpster, `MoveToDeletedItems` moves
    /// it under Deleted Items (soft-deleting it when it is there already). A distinguished
    /// folder, or one with a distinguished folder under it, is
    /// [`MailboxError::DistinguishedFolder`]; `guard` says whether a folder under Recoverable
    /// Items may be deleted. In writes of at most [`MAX_FOLDER_ITEMS_PER_WRITE`] items.
    pub async fn delete_folder(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        mode: DeleteMode,
        guard: ItemGuard,
    ) -> Result<(), MailboxError> {
        self.run_folder_request(mailbox, Request::Delete { folder, mode }, guard)
            .await
    }

    /// EmptyFolder: the folder's items go as `mode` says and, with `subfolders`, its subfolders
    /// with everything under them (see [`DeleteMode`] and the
    /// module documentation of `folder_delete.rs`); the folder itself stays. Any folder may be
    /// emptied, a distinguished one too; with `subfolders`, a distinguished folder under it is
    /// [`MailboxError::DistinguishedFolder`] and nothing is deleted. In writes of at most
    /// [`MAX_FOLDER_ITEMS_PER_WRITE`] items.
    pub async fn empty_folder(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        mode: DeleteMode,
        subfolders: bool,
        guard: ItemGuard,
    ) -> Result<(), MailboxError> {
        let request = Request::Empty {
            folder,
            mode,
            subfolders,
        };
        self.run_folder_request(mailbox, request, guard).await
    }

    /// MoveFolder: moves an ordinary folder, whole (its subfolders, items and settings keep
    /// their ids), under `to`, in one transaction; returns it as it is afterwards. Moving it
    /// under its own parent changes nothing. Refused, nothing moved: a distinguished folder, or
    /// one with a distinguished folder under it ([`MailboxError::DistinguishedFolder`]); a
    /// destination that is the folder or under it ([`MailboxError::FolderIntoItself`]); a
    /// destination with a folder of its name ([`MailboxError::FolderExists`]); a folder or a
    /// destination under Recoverable Items, which folders do not move into or out of (so a
    /// folder outside Recoverable Items stays outside, which the EWS layer's checks before a
    /// write rely on); and nesting deeper than [`MAX_FOLDER_DEPTH`]
    /// ([`MailboxError::InvalidRequest`] for both).
    pub async fn move_folder(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        to: FolderSel,
    ) -> Result<Folder, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let id = resolve_folder(tx, &mb, &folder)?;
            let to = resolve_folder(tx, &mb, &to)?;
            let (_, top) = checked_destination(tx, &mb, id, to)?;
            if top.parent == Some(to) {
                return load_folder(tx, &mb, id);
            }
            name_free(tx, to, id, &top.name)?;
            move_to(tx, &mb, id, to, to_micros(now)?)?;
            load_folder(tx, &mb, id)
        })
        .await
    }

    /// CopyFolder: a copy of an ordinary folder and everything under it (its subfolders, and
    /// their items and associated items with bodies, properties and attachments, as
    /// [`MailboxStore::copy_items`] copies one) under `to`, in one transaction; returns the
    /// copy. Every folder and item of the copy is new (new ids, `Created` events). Refused,
    /// nothing copied: what [`MailboxStore::move_folder`] refuses (a distinguished folder or one
    /// with a distinguished folder under it, a destination under the folder, a name the
    /// destination has, Recoverable Items, nesting too deep), and more than
    /// [`MAX_COPY_FOLDER_ITEMS`] items or
    /// [`MAX_BATCH_BYTES`](crate::limits::MAX_BATCH_BYTES) bytes to copy
    /// ([`MailboxError::TooLarge`]).
    pub async fn copy_folder(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        to: FolderSel,
    ) -> Result<Folder, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let id = resolve_folder(tx, &mb, &folder)?;
            let to = resolve_folder(tx, &mb, &to)?;
            let (moving, top) = checked_destination(tx, &mb, id, to)?;
            name_free(tx, to, id, &top.name)?;
            let mut items = 0usize;
            let mut count = tx.prepare_cached("SELECT COUNT(*) FROM items WHERE folder_id = ?1")?;
            for f in &moving {
                let n: i64 = count.query_row(params![f.id], |r| r.get(0))?;
                items = items.saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
            }
            if items > MAX_COPY_FOLDER_ITEMS {
                return Err(MailboxError::TooLarge {
                    what: "the folder's items to copy".into(),
                    size: items,
                    limit: MAX_COPY_FOLDER_ITEMS,
                });
            }
            let now_us = to_micros(now)?;
            let mut copies: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
            let mut total = 0usize;
            // parents before children
            for f in moving.iter().rev() {
                let parent = match f.parent {
                    _ if f.id == id => to,
                    Some(p) => *copies.get(&p).ok_or(MailboxError::FolderNotFound)?,
                    None => return Err(MailboxError::FolderNotFound),
                };
                let cn = next_change_number(tx, mb.id)?;
                tx.prepare_cached(
                    "INSERT INTO folders (mailbox_id, parent_id, distinguished, display_name, \
                     folder_class, change_number, last_modified) \
                     SELECT mailbox_id, ?2, NULL, display_name, folder_class, ?3, ?4 \
                     FROM folders WHERE id = ?1",
                )?
                .execute(params![f.id, parent, cn, now_us])?;
                let copy = tx.last_insert_rowid();
                touch_folder(tx, parent, cn, now_us)?;
                let change = FolderLogEntry::new(EventKind::Created, copy, Some(parent));
                log_folder_change(tx, &mb, &change, now_us)?;
                copies.insert(f.id, copy);
                let ids: Vec<i64> = tx
                    .prepare_cached("SELECT id FROM items WHERE folder_id = ?1 ORDER BY id")?
                    .query_map(params![f.id], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                for item in ids {
                    copy_local(tx, &mb, item, copy, now_us, &mut total)?;
                }
            }
            let copy = *copies.get(&id).ok_or(MailboxError::FolderNotFound)?;
            load_folder(tx, &mb, copy)
        })
        .await
    }

    /// Runs a request as writes of at most `MAX_FOLDER_ITEMS_PER_WRITE` items each, until one
    /// finds nothing left and makes the folder changes.
    async fn run_folder_request(
        &self,
        mailbox: &MailboxKey,
        request: Request,
        guard: ItemGuard,
    ) -> Result<(), MailboxError> {
        self.run_folder_request_in_writes_of(mailbox, request, guard, MAX_FOLDER_ITEMS_PER_WRITE)
            .await
    }

    async fn run_folder_request_in_writes_of(
        &self,
        mailbox: &MailboxKey,
        request: Request,
        guard: ItemGuard,
        per_write: usize,
    ) -> Result<(), MailboxError> {
        let key = mailbox.as_str().to_owned();
        let budget = per_write.clamp(1, MAX_FOLDER_ITEMS_PER_WRITE);
        let mut first = true;
        loop {
            let (key, request) = (key.clone(), request.clone());
            let done = self
                .write(move |tx, now| {
                    let mb = mailbox_row(tx, &key)?;
                    let plan = match plan(tx, &mb, &request, guard, first) {
                        // a folder being deleted that is gone since the last write: another
                        // request finished it
                        Err(MailboxError::FolderNotFound)
                            if !first && matches!(request, Request::Delete { .. }) =>
                        {
                            return Ok(true);
                        }
                        other => other?,
                    };
                    execute(tx, &mb, &plan, budget, to_micros(now)?)
                })
                .await?;
            if done {
                return Ok(());
            }
            first = false;
        }
    }
}

/// The plan of `request` as the mailbox is now, with the checks that refuse it. `first`: no
/// write of this call changed anything yet (the checks that must come before any change are
/// made then, and again by the write that changes folders).
fn plan(
    tx: &Connection,
    mb: &Mb,
    request: &Request,
    guard: ItemGuard,
    first: bool,
) -> Result<Plan, MailboxError> {
    let (sel, mode) = match request {
        Request::Delete { folder, mode } | Request::Empty { folder, mode, .. } => (folder, *mode),
    };
    let target = resolve_folder(tx, mb, sel)?;
    let lineage = lineage(tx, mb, target)?;
    let place = Place::of(&lineage);
    if guard == ItemGuard::OutsideRecoverableItems && place.under_recoverable {
        return Err(MailboxError::InRecoverableItems);
    }
    let soft = mode == DeleteMode::Soft || place.soft_instead_of_move(mode);
    let plan = match request {
        Request::Delete { .. } => {
            if let Some(Some(name)) = lineage.first() {
                return Err(MailboxError::DistinguishedFolder(name.clone()));
            }
            let subtree = subtree(tx, target)?;
            if let Some(d) = subtree.iter().find_map(|f| f.distinguished.clone()) {
                return Err(MailboxError::DistinguishedFolder(d));
            }
            let folders = subtree.iter().map(|f| f.id).collect::<Vec<_>>();
            if mode == DeleteMode::Hard {
                Plan {
                    target,
                    items: folders.iter().map(|f| (*f, ItemAction::Remove)).collect(),
                    folders: FolderAction::Delete(vec![target]),
                    touch_target: false,
                }
            } else if soft {
                let action = ItemAction::MoveTo(place.dumpster());
                Plan {
                    target,
                    items: folders.iter().map(|f| (*f, action)).collect(),
                    folders: FolderAction::Delete(vec![target]),
                    touch_target: false,
                }
            } else {
                Plan {
                    target,
                    items: Vec::new(),
                    folders: FolderAction::MoveToDeletedItems(vec![target]),
                    touch_target: false,
                }
            }
        }
        Request::Empty { subfolders, .. } => {
            let own = match mode {
                DeleteMode::Hard => ItemAction::Remove,
                _ if soft => match lineage.first() {
                    Some(Some(d)) if d == RECOVERABLE_ITEMS_PURGES => ItemAction::Keep,
                    _ => ItemAction::MoveTo(place.dumpster()),
                },
                _ => ItemAction::MoveTo(DELETED_ITEMS),
            };
            let mut items = vec![(target, own)];
            let mut folders = FolderAction::Nothing;
            if *subfolders {
                let children = children(tx, target)?;
                let mut below = Vec::new();
                for c in &children {
                    below.extend(subtree(tx, *c)?);
                }
                if let Some(d) = below.iter().find_map(|f| f.distinguished.clone()) {
                    return Err(MailboxError::DistinguishedFolder(d));
                }
                if mode == DeleteMode::Hard || soft {
                    let action = if mode == DeleteMode::Hard {
                        ItemAction::Remove
                    } else {
                        ItemAction::MoveTo(place.dumpster())
                    };
                    items.extend(below.iter().map(|f| (f.id, action)));
                    folders = FolderAction::Delete(children);
                } else if !children.is_empty() {
                    folders = FolderAction::MoveToDeletedItems(children);
                }
            }
            Plan {
                target,
                items,
                folders,
                touch_target: true,
            }
        }
    };
    if first && let FolderAction::MoveToDeletedItems(moving) = &plan.folders {
        names_free_in_deleted_items(tx, mb, moving)?;
    }
    Ok(plan)
}

/// One write of a plan: at most `budget` items done; when that was all of them, the folder
/// changes too. Whether the plan is done.
fn execute(
    tx: &Connection,
    mb: &Mb,
    plan: &Plan,
    budget: usize,
    now_us: i64,
) -> Result<bool, MailboxError> {
    let mut left = budget;
    for (folder, action) in &plan.items {
        if *action == ItemAction::Keep {
            continue;
        }
        let rows = items_of(tx, *folder, left)?;
        let to = match action {
            ItemAction::MoveTo(name) => Some(distinguished_folder(tx, mb, name)?),
            _ => None,
        };
        if to == Some(*folder) {
            // the items are where they would go (no plan asks this; never loop on it)
            continue;
        }
        for (id, header) in &rows {
            match to {
                Some(to) if !header.is_associated => move_local(tx, mb, *id, header, to, now_us)?,
                _ => delete_local(tx, mb, *id, *folder, header.is_associated, now_us)?,
            }
        }
        left -= rows.len();
        if left == 0 {
            // there may be more: the next write goes on
            return Ok(false);
        }
    }
    match &plan.folders {
        FolderAction::Nothing => {}
        FolderAction::Delete(tops) => {
            for top in tops {
                delete_empty_subtree(tx, mb, *top, now_us)?;
            }
        }
        FolderAction::MoveToDeletedItems(moving) => {
            names_free_in_deleted_items(tx, mb, moving)?;
            let to = distinguished_folder(tx, mb, DELETED_ITEMS)?;
            for folder in moving {
                move_to(tx, mb, *folder, to, now_us)?;
            }
        }
    }
    if plan.touch_target {
        let cn = next_change_number(tx, mb.id)?;
        touch_folder(tx, plan.target, cn, now_us)?;
    }
    Ok(true)
}

/// At most `limit` items of a folder (any, in the order of the folder's index), with what their
/// moves and deletes read of them.
fn items_of(
    tx: &Connection,
    folder: i64,
    limit: usize,
) -> Result<Vec<(i64, Header)>, MailboxError> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, change_number, config_name, is_associated FROM items \
         WHERE folder_id = ?1 LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![folder, to_i64(limit)?], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            Header {
                folder,
                change_number: r.get(1)?,
                config_name: r.get(2)?,
                is_associated: r.get(3)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// One folder of a subtree.
#[derive(Debug, Clone)]
struct SubFolder {
    id: i64,
    parent: Option<i64>,
    distinguished: Option<String>,
    name: String,
    /// Levels below the subtree's top (0 for the top).
    depth: usize,
}

/// A folder and everything under it, deepest first (children before their parents).
fn subtree(tx: &Connection, top: i64) -> Result<Vec<SubFolder>, MailboxError> {
    let mut stmt = tx.prepare_cached(
        "WITH RECURSIVE t(id, depth) AS (SELECT ?1, 0 UNION ALL \
         SELECT f.id, t.depth + 1 FROM folders f JOIN t ON f.parent_id = t.id) \
         SELECT t.id, f.parent_id, f.distinguished, f.display_name, t.depth \
         FROM t JOIN folders f ON f.id = t.id ORDER BY t.depth DESC, t.id",
    )?;
    let rows = stmt.query_map(params![top], |r| {
        Ok(SubFolder {
            id: r.get(0)?,
            parent: r.get(1)?,
            distinguished: r.get(2)?,
            name: r.get(3)?,
            depth: usize::try_from(r.get::<_, i64>(4)?).unwrap_or(usize::MAX),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The checks MoveFolder and CopyFolder share, for folder `id` going under `to`: no
/// distinguished folder in its subtree ([`MailboxError::DistinguishedFolder`]), neither under
/// Recoverable Items, `to` not in the subtree ([`MailboxError::FolderIntoItself`]), and the
/// subtree no deeper than [`MAX_FOLDER_DEPTH`] under `to`. Returns the subtree (deepest first)
/// and the folder itself.
fn checked_destination(
    tx: &Connection,
    mb: &Mb,
    id: i64,
    to: i64,
) -> Result<(Vec<SubFolder>, SubFolder), MailboxError> {
    let moving = subtree(tx, id)?;
    if let Some(d) = moving.iter().find_map(|f| f.distinguished.clone()) {
        return Err(MailboxError::DistinguishedFolder(d));
    }
    let to_lineage = lineage(tx, mb, to)?;
    let recoverable = |l: &[Option<String>]| l.iter().flatten().any(|d| is_recoverable_items(d));
    if recoverable(&to_lineage) || recoverable(&lineage(tx, mb, id)?) {
        return Err(MailboxError::InvalidRequest(
            "folders do not move or copy into or out of Recoverable Items".into(),
        ));
    }
    let top = moving
        .iter()
        .find(|f| f.id == id)
        .cloned()
        .ok_or(MailboxError::FolderNotFound)?;
    if moving.iter().any(|f| f.id == to) {
        return Err(MailboxError::FolderIntoItself(top.name.clone()));
    }
    // the destination's depth (its lineage less the root) + 1 for the folder + the levels
    // under it
    let height = moving.iter().map(|f| f.depth).max().unwrap_or(0);
    if to_lineage.len() + height > MAX_FOLDER_DEPTH {
        return Err(crate::store::too_deep());
    }
    Ok((moving, top))
}

/// [`MailboxError::FolderExists`] when `to` has a folder named `name` other than `id`
/// (compared case-insensitively, as sibling names are).
fn name_free(tx: &Connection, to: i64, id: i64, name: &str) -> Result<(), MailboxError> {
    let clash: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM folders WHERE parent_id = ?1 AND id != ?2 \
             AND display_name = ?3 COLLATE NOCASE)",
        params![to, id, name],
        |r| r.get(0),
    )?;
    if clash {
        return Err(MailboxError::FolderExists(name.to_owned()));
    }
    Ok(())
}

/// The children of a folder, by id.
fn children(tx: &Connection, folder: i64) -> Result<Vec<i64>, MailboxError> {
    let mut stmt = tx.prepare_cached("SELECT id FROM folders WHERE parent_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map(params![folder], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes a folder and its subfolders, deepest first, each with a `Deleted` folder event (in
/// both logs); their items are gone by now. The parent gets a new change number.
fn delete_empty_subtree(
    tx: &Connection,
    mb: &Mb,
    top: i64,
    now_us: i64,
) -> Result<(), MailboxError> {
    let folders = subtree(tx, top)?;
    if let Some(d) = folders.iter().find_map(|f| f.distinguished.clone()) {
        return Err(MailboxError::DistinguishedFolder(d));
    }
    let mut parent_of_top = None;
    for f in &folders {
        tx.prepare_cached("DELETE FROM folders WHERE id = ?1")?
            .execute(params![f.id])?;
        let change = FolderLogEntry::new(EventKind::Deleted, f.id, f.parent);
        log_folder_change(tx, mb, &change, now_us)?;
        if f.id == top {
            parent_of_top = f.parent;
        }
    }
    if let Some(p) = parent_of_top {
        let cn = next_change_number(tx, mb.id)?;
        touch_folder(tx, p, cn, now_us)?;
    }
    Ok(())
}

/// [`MailboxError::DeletedItemsNameTaken`] when Deleted Items has a folder named as one of
/// `moving` (compared as sibling names are: case-insensitively).
fn names_free_in_deleted_items(
    tx: &Connection,
    mb: &Mb,
    moving: &[i64],
) -> Result<(), MailboxError> {
    let deleted_items = distinguished_folder(tx, mb, DELETED_ITEMS)?;
    let mut stmt = tx.prepare_cached(
        "SELECT f.display_name FROM folders f WHERE f.id = ?1 AND EXISTS (SELECT 1 FROM folders o \
         WHERE o.parent_id = ?2 AND o.id != f.id AND o.display_name = f.display_name COLLATE NOCASE)",
    )?;
    for folder in moving {
        let taken: Option<String> = stmt
            .query_map(params![folder, deleted_items], |r| r.get(0))?
            .next()
            .transpose()?;
        if let Some(name) = taken {
            return Err(MailboxError::DeletedItemsNameTaken(name));
        }
    }
    Ok(())
}

/// Moves a folder, whole, under `to`: a new parent and change number; a `Moved` event in both
/// logs for it, and in the folder log for each folder under it (their place in the tree
/// changed with it); both parents get a new change number.
fn move_to(
    tx: &Connection,
    mb: &Mb,
    folder: i64,
    to: i64,
    now_us: i64,
) -> Result<(), MailboxError> {
    let moving = subtree(tx, folder)?;
    let Some(top) = moving.iter().find(|f| f.id == folder) else {
        return Err(MailboxError::FolderNotFound);
    };
    let Some(from) = top.parent else {
        return Err(MailboxError::DistinguishedFolder(top.name.clone()));
    };
    if from == to {
        return Ok(());
    }
    let cn = next_change_number(tx, mb.id)?;
    tx.prepare_cached(
        "UPDATE folders SET parent_id = ?2, change_number = ?3, last_modified = ?4 WHERE id = ?1",
    )?
    .execute(params![folder, to, cn, now_us])?;
    touch_folder(tx, from, cn, now_us)?;
    touch_folder(tx, to, cn, now_us)?;
    log_folder_change(tx, mb, &FolderLogEntry::moved(folder, from, to), now_us)?;
    // parents before children, as the folder log has them when they were created
    for f in moving.iter().rev().filter(|f| f.id != folder) {
        let entry = FolderLogEntry {
            kind: EventKind::Moved,
            folder: f.id,
            parent: f.parent,
            old_parent: f.parent,
            flags: FOLDER_EVENT_WITH_ANCESTOR,
        };
        append_folder_event(tx, mb, &entry, now_us)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewItem, Paging};

    fn key(s: &str) -> MailboxKey {
        MailboxKey::new(s).unwrap()
    }

    fn msg(subject: &str) -> NewItem {
        NewItem {
            item_class: "IPM.Note".into(),
            subject: Some(subject.into()),
            ..NewItem::default()
        }
    }

    /// A folder of 2,500 items is emptied in writes of at most 1,000 items: three writes of the
    /// group commit, every item with its event, and nothing left.
    #[tokio::test]
    async fn a_large_folder_is_emptied_in_bounded_writes() {
        let s = MailboxStore::open_in_memory().unwrap();
        let m = key("m");
        s.ensure_mailbox(&m).await.unwrap();
        let f = s
            .create_folder(&m, FolderSel::distinguished("inbox"), "Big".into(), None)
            .await
            .unwrap();
        for _ in 0..5 {
            let batch = (0..500).map(|i| msg(&format!("m{i}"))).collect();
            s.create_items(&m, FolderSel::Id(f.id.clone()), batch)
                .await
                .unwrap();
        }
        let mut commits = s.commits();
        let before = *commits.borrow_and_update();
        let head = s.counters(&m).await.unwrap().last_event_seq;
        s.run_folder_request_in_writes_of(
            &m,
            Request::Empty {
                folder: FolderSel::Id(f.id.clone()),
                mode: DeleteMode::Hard,
                subfolders: false,
            },
            ItemGuard::Any,
            1000,
        )
        .await
        .unwrap();
        let writes = commits.borrow_and_update().wrapping_sub(before);
        // 1,000 + 1,000 + 500 (that write finds no more and finishes)
        assert_eq!(writes, 3);
        let after = s.counters(&m).await.unwrap().last_event_seq;
        assert_eq!(after - head, 2500);
        let folder = s.get_folder(&m, FolderSel::Id(f.id.clone())).await.unwrap();
        assert_eq!(folder.total_count, 0);
        let page = s
            .find_folders(&m, FolderSel::Id(f.id), false, Paging::default())
            .await
            .unwrap();
        assert_eq!(page.total, 0);
    }

    /// The look-up of a folder's items walks the `(folder, ...)` index, never the table.
    #[tokio::test]
    async fn a_folders_items_are_found_by_index() {
        let s = MailboxStore::open_in_memory().unwrap();
        let plan: String =
            s.db.call(|c| {
                let mut stmt = c.prepare(
                    "EXPLAIN QUERY PLAN SELECT id, change_number, config_name, is_associated \
                     FROM items WHERE folder_id = 1 LIMIT 10",
                )?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(3))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, MailboxError>(rows.join(" | "))
            })
            .await
            .unwrap();
        assert!(
            plan.contains("USING INDEX") && plan.contains("folder_id=?"),
            "{plan}"
        );
    }
}
