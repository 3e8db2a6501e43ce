//! Synchronization (MS-OXWSSYNC): [`MailboxStore::sync_folder_items`] (SyncFolderItems) and
//! [`MailboxStore::sync_folder_hierarchy`] (SyncFolderHierarchy), over the logs every write
//! appends to in its own transaction: `events` for items, `folder_events` for folders.
//!
//! # The sync state
//!
//! An opaque standard-base64 string of
//! `[version=1][log: 'I' items | 'H' folders][flags: 1 = associated items too][key length]
//! [mailbox key][synced folder, i64 BE][seq, i64 BE][cursor, i64 BE]`. `seq` is a position in the
//! mailbox's log; `cursor` an item (folder) id, or `i64::MAX` once the first listing is done.
//! A state is refused with [`MailboxError::InvalidSyncState`] (`ErrorInvalidSyncStateData`,
//! "start over without a SyncState") when it is not one this store hands out, when it is of
//! another mailbox, folder, operation or scope, when its `seq` is ahead of the log, or when the
//! log no longer holds the entry right after it (pruned): changes are never skipped silently.
//!
//! The logs are pruned by age (the retention: [`MailboxStore::prune_logs_before`]; Exchange keeps
//! 30 days), only ever from their start, and a log's head is the mailbox's counter, which pruning
//! never lowers. So "the entry right after `seq` is kept" is exact: a state at 5 when the oldest
//! kept entry is 9 is refused, and so is one behind a log pruned empty (the head is ahead of the
//! state, the entry after it is gone); a state at the head needs no entry and reads "no changes".
//! Folders move (under Deleted Items, with their subtrees: the moved folder has a `Moved` entry
//! naming the parent it left, each folder under it one flagged "with its ancestor"). Where a
//! folder was at the state's position is read off its first entry after it (created: it was not
//! there; moved: the parent it left; changed or deleted: its parent all along), or is where it is
//! now when it has none; those entries are after the state, so kept, and so pruning never makes
//! a folder's place at the state unknown. A folder the client knew is reported as deleted when
//! it is no longer under the synced folder (deleted, or moved out), created when it came under it
//! (created, or moved in), and updated when it is still there and changed or moved within; one
//! that only moved with an ancestor within the synced folder is not reported (its parent did not
//! change).
//! The state carries no secret and needs none: whatever a client puts in it, a call only
//! reports what is in the folder it is authorized to read.
//!
//! # What a client knows
//!
//! A state `(seq, cursor)` stands for: the client knows exactly the items with id ≤ `cursor`
//! that were in the folder when the log was at `seq`. Every call, in one read transaction (a
//! snapshot, with the log at `E`):
//!
//! 1. **Log.** The log after `seq`, of items with id ≤ `cursor` that were in or went into or
//!    out of the folder, is collapsed per item into its net change, from where it was at `seq`
//!    (read off its first entry: `Created` or moved in means it was not there) to where it is
//!    after its last entry: there before and after → `Update` (`ReadFlagChange` when every
//!    change was of the read flag alone), there before only → `Delete`, after only → `Create`,
//!    neither → nothing. One item is reported once per call, in the order of its first entry.
//! 2. **Listing**, only when step 1 read the log up to `E`: the items now in the folder with
//!    id > `cursor`, by id (walking the `(folder, is_associated, is_read)` index, whose entries
//!    are in id order for each of its keys), as `Create`; the cursor moves to the last one
//!    listed, or to `i64::MAX` when none are left. Items created after `E` get larger ids, and
//!    once the cursor is `i64::MAX` they are the log's.
//!
//! So the first call (no state) is a listing of the folder (`seq` = `E`, `cursor` = 0); an item
//! created, changed or moved while the listing is under way is listed once, as it then is, if
//! its id is past the cursor, or reported by the log if not; never both.
//!
//! # Limits
//!
//! At most `max_changes` changes (1–[`MAX_SYNC_CHANGES`]) per call, and at most
//! [`MAX_SYNC_EVENTS_SCANNED`] log entries read (those of other folders included): step 1 stops
//! before the entry that would bring in one item more than `max_changes`, or at the scan
//! bound, and the state then holds the last entry read, with `IncludesLastItemInRange` false.
//! Every call that says more remains makes progress (at least one entry or one listed item).
//!
//! # Approximations
//!
//! A change is read as of the snapshot, not as of the entry where a call stopped: when a call
//! stops early (more remains) and an item it would report as created was deleted or moved out
//! after that point, it is not reported (it is gone), and the next call reports its `Delete`,
//! of an item that client never received; an item it reports as created or updated and that
//! changed again after that point is reported with its latest content, and again as an
//! `Update` by the next call. Neither happens when a call reads the log to its end.
//! Hierarchy changes are folders created, renamed or re-classed, moved and deleted; as in
//! Exchange, content changes (counts) of a folder are not reported.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rusqlite::{Connection, OptionalExtension, params};

use crate::error::MailboxError;
use crate::ids::{IdKind, local_id};
use crate::items::load_item;
use crate::limits::{
    MAX_ITEMS_PER_CALL, MAX_SYNC_CHANGES, MAX_SYNC_EVENTS_SCANNED, MAX_SYNC_STATE_CHARS,
};
use crate::model::{EventKind, Folder, FolderSel, Item, MailboxKey};
use crate::store::{
    EVENT_ASSOCIATED, EVENT_FOLDER, EVENT_READ_FLAG_ONLY, FOLDER_EVENT_WITH_ANCESTOR, LogPosition,
    LogTable, MailboxStore, Mb, distinguished_folder, load_folder, log_position, mailbox_row,
    resolve_folder, to_i64,
};

/// `m:SyncScope`: which items of the folder a sync reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncScope {
    /// Normal items only (the default).
    #[default]
    NormalItems,
    /// Normal and folder-associated (FAI) items.
    NormalAndAssociatedItems,
}

/// What to synchronize ([`MailboxStore::sync_folder_items`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSync {
    pub folder: FolderSel,
    /// The state the last call handed back; `None` starts over.
    pub sync_state: Option<String>,
    /// At most this many changes (1..=[`MAX_SYNC_CHANGES`]).
    pub max_changes: usize,
    pub scope: SyncScope,
    /// Ids of items whose changes are not reported (`m:Ignore`); at most
    /// [`MAX_ITEMS_PER_CALL`]. Ids of other mailboxes match nothing.
    pub ignore: Vec<String>,
}

/// One change of a SyncFolderItems answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemChange {
    /// The item is new to the client (bodies and streams not loaded).
    Create(Item),
    /// The client's item changed (bodies and streams not loaded).
    Update(Item),
    /// Only the read flag of the client's item changed.
    ReadFlagChange {
        item_id: String,
        change_key: String,
        is_read: bool,
    },
    /// The client's item is no longer in the folder (deleted or moved out).
    Delete { item_id: String },
}

/// One change of a SyncFolderHierarchy answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderChange {
    Create(Folder),
    Update(Folder),
    Delete { folder_id: String },
}

/// One sync answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncPage<C> {
    pub changes: Vec<C>,
    /// The state to send with the next call.
    pub sync_state: String,
    /// Nothing more to report as of this call (`IncludesLastItemInRange`).
    pub includes_last: bool,
}

const STATE_VERSION: u8 = 1;
/// The cursor once the first listing is done.
const LISTED_ALL: i64 = i64::MAX;
/// State flag: the sync includes folder-associated items.
const STATE_ASSOCIATED: u8 = 1;

/// Which log a state follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Log {
    Items,
    Folders,
}

impl Log {
    fn byte(self) -> u8 {
        match self {
            Log::Items => b'I',
            Log::Folders => b'H',
        }
    }

    fn table(self) -> LogTable {
        match self {
            Log::Items => LogTable::Items,
            Log::Folders => LogTable::Folders,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct State {
    log: Log,
    associated: bool,
    /// The synced folder (local id).
    folder: i64,
    /// The log position the client is in sync with.
    seq: i64,
    /// Ids above it are not yet listed ([`LISTED_ALL`]: all are).
    cursor: i64,
}

fn invalid(why: &str) -> MailboxError {
    MailboxError::InvalidSyncState(why.to_owned())
}

fn encode_state(mb: &Mb, st: &State) -> String {
    let key = mb.key.as_bytes();
    let mut buf = Vec::with_capacity(4 + key.len() + 24);
    buf.push(STATE_VERSION);
    buf.push(st.log.byte());
    buf.push(if st.associated { STATE_ASSOCIATED } else { 0 });
    // mailbox keys are at most 255 bytes (MailboxKey::MAX_LEN)
    buf.push(u8::try_from(key.len()).unwrap_or(u8::MAX));
    buf.extend_from_slice(key);
    for v in [st.folder, st.seq, st.cursor] {
        buf.extend_from_slice(&v.to_be_bytes());
    }
    STANDARD.encode(buf)
}

fn decode_state(text: &str, mb: &Mb, log: Log) -> Result<State, MailboxError> {
    if text.len() > MAX_SYNC_STATE_CHARS {
        return Err(invalid(&format!(
            "it is longer than {MAX_SYNC_STATE_CHARS} characters, which no state of this server is"
        )));
    }
    let buf = STANDARD
        .decode(text)
        .map_err(|_| invalid("it is not base64"))?;
    let [version, kind, flags, key_len, rest @ ..] = buf.as_slice() else {
        return Err(invalid("it is too short"));
    };
    if *version != STATE_VERSION {
        return Err(invalid("it is not a state this server handed out"));
    }
    let state_log = match kind {
        b'I' => Log::Items,
        b'H' => Log::Folders,
        _ => return Err(invalid("it is not a state this server handed out")),
    };
    if state_log != log {
        return Err(invalid(match state_log {
            Log::Items => "it is a SyncFolderItems state, not a SyncFolderHierarchy one",
            Log::Folders => "it is a SyncFolderHierarchy state, not a SyncFolderItems one",
        }));
    }
    if *flags & !STATE_ASSOCIATED != 0 {
        return Err(invalid("it is not a state this server handed out"));
    }
    let key_len = usize::from(*key_len);
    if rest.len() != key_len + 24 {
        return Err(invalid("it has the wrong length"));
    }
    let (key, numbers) = rest.split_at(key_len);
    if key != mb.key.as_bytes() {
        return Err(invalid("it belongs to another mailbox"));
    }
    let mut n = [0i64; 3];
    for (slot, chunk) in n.iter_mut().zip(numbers.chunks_exact(8)) {
        let bytes: [u8; 8] = chunk
            .try_into()
            .map_err(|_| invalid("it has the wrong length"))?;
        *slot = i64::from_be_bytes(bytes);
    }
    let [folder, seq, cursor] = n;
    if folder <= 0 || seq < 0 || cursor < 0 {
        return Err(invalid("it is not a state this server handed out"));
    }
    Ok(State {
        log,
        associated: *flags & STATE_ASSOCIATED != 0,
        folder,
        seq,
        cursor,
    })
}

/// The newest item and folder log positions of a mailbox.
fn log_heads(tx: &Connection, mb: &Mb) -> Result<(i64, i64), MailboxError> {
    Ok(tx
        .prepare_cached("SELECT event_seq, folder_event_seq FROM mailboxes WHERE id = ?1")?
        .query_row(params![mb.id], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The state's position must be one the log can continue from: not ahead of it, and the entry
/// right after it still kept ([`log_position`]: a log is only ever pruned from its start, and its
/// head is the mailbox's counter, so a state behind a log the retention emptied is refused too).
fn check_position(tx: &Connection, mb: &Mb, log: Log, seq: i64) -> Result<(), MailboxError> {
    match log_position(tx, mb, log.table(), seq)? {
        LogPosition::Continues => Ok(()),
        LogPosition::Ahead => Err(invalid(
            "it is ahead of this mailbox's changes (it was not made by this server's store)",
        )),
        LogPosition::Pruned => Err(invalid(
            "the changes made since it are no longer kept by this server",
        )),
    }
}

/// The state to continue from: a new one (the whole folder to list) or the client's, checked.
fn start_state(
    tx: &Connection,
    mb: &Mb,
    log: Log,
    text: Option<&str>,
    folder: i64,
    associated: bool,
    head: i64,
) -> Result<State, MailboxError> {
    let Some(text) = text else {
        return Ok(State {
            log,
            associated,
            folder,
            seq: head,
            cursor: 0,
        });
    };
    let st = decode_state(text, mb, log)?;
    if st.folder != folder {
        return Err(invalid("it was made for another folder"));
    }
    if st.associated != associated {
        return Err(invalid(if st.associated {
            "it was made with SyncScope NormalAndAssociatedItems"
        } else {
            "it was made with SyncScope NormalItems"
        }));
    }
    check_position(tx, mb, log, st.seq)?;
    Ok(st)
}

/// One object's log entries since the state, collapsed.
#[derive(Debug, Clone, Copy)]
struct Net {
    /// Its first entry: where the object's net change goes in the answer.
    first_seq: i64,
    /// In the folder (in scope) at the state's position.
    before: bool,
    /// In the folder (in scope) after its last entry read.
    after: bool,
    /// Every change was of the read flag alone.
    read_flag_only: bool,
}

/// Collapsed log entries, in the order of their first entry, and where reading stopped.
struct Collapsed {
    nets: Vec<(i64, Net)>,
    /// The last entry read (the state's position when nothing was).
    last: i64,
    /// The log was read up to the snapshot's head.
    reached_head: bool,
}

/// Reads log entries after `from` (at most [`MAX_SYNC_EVENTS_SCANNED`]), keeping those `relevant`
/// says concern the sync and folding each into its object's [`Net`] with `apply`; stops before
/// the entry that would bring in object number `max + 1`.
fn collapse<R>(
    rows: Vec<(i64, R)>,
    from: i64,
    head: i64,
    max: usize,
    mut relevant: impl FnMut(&R) -> Result<Option<i64>, MailboxError>,
    first: impl Fn(&R) -> bool,
    apply: impl Fn(&mut Net, &R),
) -> Result<Collapsed, MailboxError> {
    // fewer entries than asked for: every entry up to the head was read
    let whole_tail = rows.len() < MAX_SYNC_EVENTS_SCANNED;
    let mut nets: HashMap<i64, Net> = HashMap::new();
    let mut last = from;
    let mut stopped = false;
    for (seq, row) in rows {
        if let Some(object) = relevant(&row)? {
            if !nets.contains_key(&object) && nets.len() >= max {
                stopped = true;
                break;
            }
            let net = nets.entry(object).or_insert_with(|| {
                let before = first(&row);
                Net {
                    first_seq: seq,
                    before,
                    after: before,
                    read_flag_only: true,
                }
            });
            apply(net, &row);
        }
        last = seq;
    }
    let mut nets: Vec<(i64, Net)> = nets.into_iter().collect();
    nets.sort_unstable_by_key(|(_, n)| n.first_seq);
    let reached_head = !stopped && (whole_tail || last == head);
    Ok(Collapsed {
        nets,
        // (the same entry in a log without gaps; a log is only ever pruned from its start)
        last: if reached_head { head } else { last },
        reached_head,
    })
}

/// An item log entry: (kind, item, folder after, folder before for a move, flags).
type ItemEntry = (EventKind, i64, i64, Option<i64>, i64);

fn item_entries(
    tx: &Connection,
    mb: &Mb,
    after: i64,
) -> Result<Vec<(i64, ItemEntry)>, MailboxError> {
    let mut stmt = tx.prepare_cached(
        "SELECT seq, kind, item_id, folder_id, old_folder_id, flags FROM events \
         WHERE mailbox_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![mb.id, after, to_i64(MAX_SYNC_EVENTS_SCANNED)?],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, i64>(5)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, kind, item, folder, old, flags) = row?;
        out.push((seq, (EventKind::from_db(&kind)?, item, folder, old, flags)));
    }
    Ok(out)
}

/// The items now in `folder` with id > `after`, in id order, at most `limit`: a range walk of
/// the `(folder, is_associated, is_read)` index for each of its keys (entries of one key are in
/// id order), merged.
fn list_items(
    tx: &Connection,
    folder: i64,
    associated: bool,
    after: i64,
    limit: usize,
) -> Result<Vec<i64>, MailboxError> {
    let mut ids: Vec<i64> = Vec::new();
    let n = to_i64(limit)?;
    let kinds: &[bool] = if associated { &[false, true] } else { &[false] };
    let mut stmt = tx.prepare_cached(
        "SELECT id FROM items WHERE folder_id = ?1 AND is_associated = ?2 AND is_read = ?3 \
         AND id > ?4 ORDER BY id LIMIT ?5",
    )?;
    for assoc in kinds {
        for read in [false, true] {
            let rows = stmt.query_map(params![folder, assoc, read, after, n], |r| r.get(0))?;
            for r in rows {
                ids.push(r?);
            }
        }
    }
    ids.sort_unstable();
    ids.truncate(limit);
    Ok(ids)
}

impl MailboxStore {
    /// SyncFolderItems: the changes of one folder's items since `sync.sync_state` (all its items,
    /// as creates, without one), at most `sync.max_changes`, with the state to continue from.
    /// See the [module documentation](crate::sync) for what is reported when. Items come
    /// without bodies or streams, as FindItem's do.
    pub async fn sync_folder_items(
        &self,
        mailbox: &MailboxKey,
        sync: ItemSync,
    ) -> Result<SyncPage<ItemChange>, MailboxError> {
        if !(1..=MAX_SYNC_CHANGES).contains(&sync.max_changes) {
            return Err(MailboxError::InvalidRequest(format!(
                "MaxChangesReturned is {}; it must be from 1 to {MAX_SYNC_CHANGES}",
                sync.max_changes
            )));
        }
        if sync.ignore.len() > MAX_ITEMS_PER_CALL {
            return Err(MailboxError::InvalidRequest(format!(
                "{} ids to ignore in one call; at most {MAX_ITEMS_PER_CALL}",
                sync.ignore.len()
            )));
        }
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| sync_items_in(tx, &key, &sync)).await
    }

    /// SyncFolderHierarchy: the folders under `folder` (the whole mailbox, `root`, when `None`;
    /// the folder itself excluded) created, changed (name, class) or deleted since `sync_state`
    /// (all of them, as creates, without one), at most [`MAX_SYNC_CHANGES`], parents before
    /// their children, with the state to continue from.
    pub async fn sync_folder_hierarchy(
        &self,
        mailbox: &MailboxKey,
        folder: Option<FolderSel>,
        sync_state: Option<String>,
    ) -> Result<SyncPage<FolderChange>, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| sync_hierarchy_in(tx, &key, folder.as_ref(), sync_state.as_deref()))
            .await
    }
}

fn sync_items_in(
    tx: &Connection,
    key: &str,
    sync: &ItemSync,
) -> Result<SyncPage<ItemChange>, MailboxError> {
    let mb = mailbox_row(tx, key)?;
    let folder = resolve_folder(tx, &mb, &sync.folder)?;
    let associated = sync.scope == SyncScope::NormalAndAssociatedItems;
    let max = sync.max_changes;
    let mut ignore: HashSet<i64> = HashSet::with_capacity(sync.ignore.len());
    for id in &sync.ignore {
        match local_id(id, IdKind::Item, &mb.key, || MailboxError::ItemNotFound) {
            Ok(local) => {
                ignore.insert(local);
            }
            // an id of another mailbox names nothing here
            Err(MailboxError::ItemNotFound) => {}
            Err(e) => return Err(e),
        }
    }
    let (head, _) = log_heads(tx, &mb)?;
    let st = start_state(
        tx,
        &mb,
        Log::Items,
        sync.sync_state.as_deref(),
        folder,
        associated,
        head,
    )?;

    // 1. the log, for the items the client was told about (id <= cursor)
    let entries = item_entries(tx, &mb, st.seq)?;
    let log = collapse(
        entries,
        st.seq,
        head,
        max,
        |&(_, item, to, from, flags)| {
            // the item log also holds the folder events subscriptions report: not items
            let is_item = flags & EVENT_FOLDER == 0;
            let here = to == folder || from == Some(folder);
            let in_scope = associated || flags & EVENT_ASSOCIATED == 0;
            Ok((is_item && item <= st.cursor && here && in_scope).then_some(item))
        },
        |&(kind, _, _, from, _)| match kind {
            EventKind::Created => false,
            EventKind::Moved => from == Some(folder),
            EventKind::Deleted | EventKind::Modified => true,
        },
        |net, &(kind, _, to, _, flags)| match kind {
            EventKind::Created => net.after = true,
            EventKind::Deleted => net.after = false,
            EventKind::Moved => {
                net.after = to == folder;
                net.read_flag_only = false;
            }
            EventKind::Modified => {
                net.after = true;
                if flags & EVENT_READ_FLAG_ONLY == 0 {
                    net.read_flag_only = false;
                }
            }
        },
    )?;
    let mut changes = Vec::with_capacity(log.nets.len());
    let mut where_now = tx.prepare_cached(
        "SELECT folder_id, is_associated FROM items WHERE id = ?1 AND mailbox_id = ?2",
    )?;
    for (item, net) in &log.nets {
        if ignore.contains(item) {
            continue;
        }
        match (net.before, net.after) {
            (true, false) => changes.push(ItemChange::Delete {
                item_id: mb.item_id(*item),
            }),
            (false, false) => {}
            (before, true) => {
                let now: Option<(i64, bool)> = where_now
                    .query_row(params![item, mb.id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                // not in the folder any more: a later entry, the next call's, says so
                if !now.is_some_and(|(f, assoc)| f == folder && (associated || !assoc)) {
                    continue;
                }
                let loaded = load_item(tx, &mb, *item, false)?;
                changes.push(if !before {
                    ItemChange::Create(loaded)
                } else if net.read_flag_only {
                    ItemChange::ReadFlagChange {
                        item_id: loaded.id,
                        change_key: loaded.change_key,
                        is_read: loaded.is_read,
                    }
                } else {
                    ItemChange::Update(loaded)
                });
            }
        }
    }

    // 2. the listing, once the log is read to the snapshot's head
    let mut cursor = st.cursor;
    if log.reached_head && cursor != LISTED_ALL {
        let room = max.saturating_sub(changes.len());
        let ids = list_items(tx, folder, associated, cursor, room + 1)?;
        let more = ids.len() > room;
        let listed = &ids[..ids.len().min(room)];
        for id in listed {
            if !ignore.contains(id) {
                changes.push(ItemChange::Create(load_item(tx, &mb, *id, false)?));
            }
        }
        cursor = cursor_after(more, listed, cursor);
    }
    Ok(finish_page(
        &mb,
        st,
        log.last,
        log.reached_head,
        cursor,
        changes,
    ))
}

/// Which folders are strictly under the synced one: now (the live tree), and when the log was at
/// the state's position (the live tree with the log's later entries undone: a folder's parent
/// then is read off its first folder log entry after that position, or is its parent now when
/// it has none).
struct Tree {
    root: i64,
    /// The state's log position.
    since: i64,
    /// Every live folder of the mailbox and its parent.
    parents: HashMap<i64, Option<i64>>,
    now: HashMap<i64, bool>,
    then: HashMap<i64, bool>,
}

/// Where a folder was at a log position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParentThen {
    /// It did not exist (created later, or deleted before).
    Absent,
    /// It was there, under this parent (`None`: the mailbox's root).
    Under(Option<i64>),
}

impl Tree {
    fn load(tx: &Connection, mb: &Mb, root: i64, since: i64) -> Result<Tree, MailboxError> {
        let mut parents = HashMap::new();
        let mut stmt =
            tx.prepare_cached("SELECT id, parent_id FROM folders WHERE mailbox_id = ?1")?;
        let rows = stmt.query_map(params![mb.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for r in rows {
            let (id, parent) = r?;
            parents.insert(id, parent);
        }
        Ok(Tree {
            root,
            since,
            parents,
            now: HashMap::new(),
            then: HashMap::new(),
        })
    }

    /// Is `folder` strictly under the synced folder now? (A deleted folder is nowhere.)
    fn under_now(&mut self, folder: i64) -> bool {
        if let Some(v) = self.now.get(&folder) {
            return *v;
        }
        let mut at = folder;
        let mut under = false;
        for _ in 0..=64 {
            match self.parents.get(&at) {
                Some(Some(p)) if *p == self.root => {
                    under = true;
                    break;
                }
                Some(Some(p)) => at = *p,
                _ => break,
            }
        }
        self.now.insert(folder, under);
        under
    }

    /// `folder`'s parent when the log was at the state's position: its first folder log entry
    /// after it says (created: it was not there; moved: the parent it left; changed or deleted:
    /// the parent it had all along), or, without one, its parent now (a folder without a live
    /// row nor a later entry was deleted before).
    fn parent_then(
        &self,
        tx: &Connection,
        mb: &Mb,
        folder: i64,
    ) -> Result<ParentThen, MailboxError> {
        let first: Option<(String, Option<i64>, Option<i64>)> = tx
            .prepare_cached(FIRST_FOLDER_ENTRY_SQL)?
            .query_row(params![mb.id, folder, self.since], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        Ok(match first {
            Some((kind, parent, old_parent)) => match EventKind::from_db(&kind)? {
                EventKind::Created => ParentThen::Absent,
                EventKind::Moved => ParentThen::Under(old_parent),
                EventKind::Modified | EventKind::Deleted => ParentThen::Under(parent),
            },
            None => match self.parents.get(&folder) {
                Some(p) => ParentThen::Under(*p),
                None => ParentThen::Absent,
            },
        })
    }

    /// Was `folder` strictly under the synced folder when the log was at the state's position?
    fn under_then(&mut self, tx: &Connection, mb: &Mb, folder: i64) -> Result<bool, MailboxError> {
        if let Some(v) = self.then.get(&folder) {
            return Ok(*v);
        }
        let mut at = folder;
        let mut under = false;
        for _ in 0..=64 {
            match self.parent_then(tx, mb, at)? {
                ParentThen::Under(Some(p)) if p == self.root => {
                    under = true;
                    break;
                }
                ParentThen::Under(Some(p)) => at = p,
                ParentThen::Under(None) | ParentThen::Absent => break,
            }
        }
        self.then.insert(folder, under);
        Ok(under)
    }

    /// The live folders under the synced one with id > `after`, in id order (parents come
    /// before their children: a folder is created after its parent), at most `limit`.
    fn list(&self, after: i64, limit: usize) -> Vec<i64> {
        let mut children: HashMap<i64, Vec<i64>> = HashMap::new();
        for (id, parent) in &self.parents {
            if let Some(p) = parent {
                children.entry(*p).or_default().push(*id);
            }
        }
        let mut out = Vec::new();
        let mut stack = vec![self.root];
        while let Some(f) = stack.pop() {
            if let Some(c) = children.get(&f) {
                stack.extend(c);
                out.extend(c.iter().copied().filter(|id| *id > after));
            }
        }
        out.sort_unstable();
        out.truncate(limit);
        out
    }
}

/// A folder's first folder log entry after a position: a walk of the `(mailbox, folder, seq)`
/// index, one row.
/// (Named: the planner, without statistics, would walk the primary key from the position, every
/// folder's entries after it.)
const FIRST_FOLDER_ENTRY_SQL: &str = "SELECT kind, parent_id, old_parent_id FROM folder_events \
     INDEXED BY folder_events_folder \
     WHERE mailbox_id = ?1 AND folder_id = ?2 AND seq > ?3 ORDER BY seq LIMIT 1";

/// A folder log entry: (kind, folder, flags).
type FolderEntry = (EventKind, i64, i64);

fn folder_entries(
    tx: &Connection,
    mb: &Mb,
    after: i64,
) -> Result<Vec<(i64, FolderEntry)>, MailboxError> {
    let mut stmt = tx.prepare_cached(
        "SELECT seq, kind, folder_id, flags FROM folder_events \
         WHERE mailbox_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(
        params![mb.id, after, to_i64(MAX_SYNC_EVENTS_SCANNED)?],
        |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        },
    )?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, kind, folder, flags) = row?;
        out.push((seq, (EventKind::from_db(&kind)?, folder, flags)));
    }
    Ok(out)
}

fn sync_hierarchy_in(
    tx: &Connection,
    key: &str,
    folder: Option<&FolderSel>,
    sync_state: Option<&str>,
) -> Result<SyncPage<FolderChange>, MailboxError> {
    let mb = mailbox_row(tx, key)?;
    let root = match folder {
        Some(sel) => resolve_folder(tx, &mb, sel)?,
        None => distinguished_folder(tx, &mb, crate::distinguished::ROOT)?,
    };
    let (_, head) = log_heads(tx, &mb)?;
    let st = start_state(tx, &mb, Log::Folders, sync_state, root, false, head)?;
    let max = MAX_SYNC_CHANGES;
    let mut tree = Tree::load(tx, &mb, root, st.seq)?;

    // 1. the log, for the folders the client was told about (id <= cursor): each one's place
    // at the state's position and now (folders move, with their subtrees, under Deleted Items)
    let entries = folder_entries(tx, &mb, st.seq)?;
    let mut places: HashMap<i64, (bool, bool)> = HashMap::new();
    for (_, (_, f, _)) in &entries {
        if *f <= st.cursor && !places.contains_key(f) {
            let place = (tree.under_then(tx, &mb, *f)?, tree.under_now(*f));
            places.insert(*f, place);
        }
    }
    let place = |f: i64| places.get(&f).copied().unwrap_or((false, false));
    let log = collapse(
        entries,
        st.seq,
        head,
        max,
        |&(_, f, _)| {
            let (before, after) = place(f);
            Ok((before || after).then_some(f))
        },
        |&(_, f, _)| place(f).0,
        // `read_flag_only` stands for "only moved with an ancestor": it is where it was in the
        // subtree, and the folder itself did not change
        |net, &(kind, f, flags)| {
            net.after = place(f).1;
            if kind != EventKind::Moved || flags & FOLDER_EVENT_WITH_ANCESTOR == 0 {
                net.read_flag_only = false;
            }
        },
    )?;
    let mut changes = Vec::with_capacity(log.nets.len());
    for (f, net) in &log.nets {
        match (net.before, net.after) {
            (true, false) => changes.push(FolderChange::Delete {
                folder_id: mb.folder_id(*f),
            }),
            (false, false) => {}
            (true, true) if net.read_flag_only => {}
            (before, true) => match load_folder(tx, &mb, *f) {
                Ok(found) if before => changes.push(FolderChange::Update(found)),
                Ok(found) => changes.push(FolderChange::Create(found)),
                // deleted later: the next call's entry says so
                Err(MailboxError::FolderNotFound) => {}
                Err(e) => return Err(e),
            },
        }
    }

    // 2. the listing, once the log is read to the snapshot's head
    let mut cursor = st.cursor;
    if log.reached_head && cursor != LISTED_ALL {
        let room = max.saturating_sub(changes.len());
        let ids = tree.list(cursor, room + 1);
        let more = ids.len() > room;
        let listed = &ids[..ids.len().min(room)];
        for id in listed {
            changes.push(FolderChange::Create(load_folder(tx, &mb, *id)?));
        }
        cursor = cursor_after(more, listed, cursor);
    }
    Ok(finish_page(
        &mb,
        st,
        log.last,
        log.reached_head,
        cursor,
        changes,
    ))
}

/// The listing cursor after one call listed `listed` (in id order), with `more` left.
fn cursor_after(more: bool, listed: &[i64], cursor: i64) -> i64 {
    match (more, listed.last()) {
        (false, _) => LISTED_ALL,
        (true, Some(last)) => *last,
        (true, None) => cursor,
    }
}

/// One call's answer: its changes, and the state that continues from the log position `last`
/// and the listing `cursor` it reached.
fn finish_page<C>(
    mb: &Mb,
    st: State,
    last: i64,
    reached_head: bool,
    cursor: i64,
    changes: Vec<C>,
) -> SyncPage<C> {
    let next = State {
        seq: last,
        cursor,
        ..st
    };
    SyncPage {
        changes,
        sync_state: encode_state(mb, &next),
        includes_last: reached_head && cursor == LISTED_ALL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(key: &str) -> Mb {
        Mb {
            id: 1,
            key: key.to_owned(),
        }
    }

    #[test]
    fn states_round_trip_and_are_bounded() {
        let st = State {
            log: Log::Items,
            associated: true,
            folder: 7,
            seq: 42,
            cursor: LISTED_ALL,
        };
        let key = "k".repeat(255);
        let text = encode_state(&mb(&key), &st);
        assert!(text.len() < 400, "{}", text.len());
        assert_eq!(decode_state(&text, &mb(&key), Log::Items).unwrap(), st);
        let bad = |t: &str, m: &Mb, log: Log| match decode_state(t, m, log) {
            Err(MailboxError::InvalidSyncState(why)) => why,
            other => panic!("{t:?} decoded: {other:?}"),
        };
        assert!(bad(&text, &mb("other"), Log::Items).contains("another mailbox"));
        assert!(bad(&text, &mb(&key), Log::Folders).contains("SyncFolderItems state"));
        assert!(bad("!!!", &mb(&key), Log::Items).contains("base64"));
        assert!(bad(&"A".repeat(1025), &mb(&key), Log::Items).contains("longer"));
        let mut raw = STANDARD.decode(&text).unwrap();
        raw.pop();
        assert!(bad(&STANDARD.encode(&raw), &mb(&key), Log::Items).contains("length"));
        let mut raw = STANDARD.decode(&text).unwrap();
        raw[0] = 2;
        assert!(bad(&STANDARD.encode(&raw), &mb(&key), Log::Items).contains("handed out"));
    }

    /// A folder's first folder log entry after a position is one seek of the
    /// `(mailbox, folder, seq)` index, without a sort.
    #[tokio::test]
    async fn a_folders_next_entry_is_one_index_seek() {
        let s = MailboxStore::open_in_memory().unwrap();
        let plan: String =
            s.db.call(|c| {
                let mut stmt =
                    c.prepare(&format!("EXPLAIN QUERY PLAN {FIRST_FOLDER_ENTRY_SQL}"))?;
                let rows = stmt
                    .query_map(params![1, 2, 3], |r| r.get::<_, String>(3))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, MailboxError>(rows.join(" | "))
            })
            .await
            .unwrap();
        assert!(
            plan.contains("folder_events_folder (mailbox_id=? AND folder_id=? AND seq>?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }

    /// The listing walks the `(folder, is_associated, is_read)` index by id, without a sort.
    #[tokio::test]
    async fn the_listing_walks_an_index_in_id_order() {
        let s = MailboxStore::open_in_memory().unwrap();
        let plan: String =
            s.db.call(|c| {
                let mut stmt = c.prepare(
                    "EXPLAIN QUERY PLAN SELECT id FROM items WHERE folder_id = 1 \
                     AND is_associated = 0 AND is_read = 1 AND id > 5 ORDER BY id LIMIT 10",
                )?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(3))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok::<_, MailboxError>(rows.join(" | "))
            })
            .await
            .unwrap();
        assert!(plan.contains("items_folder_unread"), "{plan}");
        assert!(plan.contains("rowid>?"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
