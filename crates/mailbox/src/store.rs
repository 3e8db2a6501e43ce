//! [`MailboxStore`]: opening, mailboxes, folders, counters and the event log.
//!
//! Every public read is one SQLite transaction run on the blocking pool on the read connection
//! ([`store::Db::read`]), so it never waits for a commit in progress. Every write is one savepoint
//! of a group commit ([`store::Db::write_batched`]): concurrent writes share one
//! `BEGIN IMMEDIATE … COMMIT` (and its fsync), and each returns only after that `COMMIT` (WAL,
//! `synchronous=FULL`), so an acknowledged write is durable and a failed one wrote nothing.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OptionalExtension, params};
use store::Db;
use time::OffsetDateTime;

use crate::error::MailboxError;
use crate::filter::{CASEFOLD_FN, casefold};
use crate::ids::{IdKind, check_change_key, encode_change_key, encode_id, local_id};
use crate::limits::{
    MAX_EVENTS_PER_CALL, MAX_FOLDER_DEPTH, MAX_FOLDER_NAME_CHARS, MAX_PAGE_SIZE,
    MAX_PRUNE_MAILBOXES_PER_WRITE, MAX_PRUNE_ROWS_PER_WRITE,
};
use crate::model::{
    Event, EventKind, EventObject, Folder, FolderSel, MailboxCounters, MailboxKey, Page, Paging,
    Pruned, from_micros, to_micros,
};
use crate::schema::{DEFAULT_FOLDERS, MIGRATIONS};

/// The source of "now". Injected so tests control time; [`MailboxStore::open`] uses the system
/// clock.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The durable mailbox store. Cheap to clone; clones share one database.
#[derive(Clone)]
pub struct MailboxStore {
    pub(crate) db: Db,
    pub(crate) clock: Clock,
    /// Counts the writes committed through [`MailboxStore::write`]: bumped after each one's
    /// `COMMIT`, so a reader woken by it sees the write ([`MailboxStore::commits`]).
    commits: Arc<tokio::sync::watch::Sender<u64>>,
    /// Per mailbox (by key), the count of committed writes that appended to its event log, for
    /// those who watch it ([`MailboxStore::mailbox_commits`]); a mailbox is here only while
    /// someone watches it.
    watched: Arc<std::sync::Mutex<HashMap<String, tokio::sync::watch::Sender<u64>>>>,
}

thread_local! {
    /// The mailboxes whose event log the write running on this thread appended to: filled by
    /// [`append_event`], taken by [`MailboxStore::write`] when its closure returns (the closure
    /// runs on the database's writer thread, one at a time).
    static LOGGED: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Watched mailboxes kept before those nobody watches any more are dropped.
const WATCHED_SWEEP_AT: usize = 1024;

impl std::fmt::Debug for MailboxStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxStore")
            .field("db", &self.db)
            .finish()
    }
}

/// A resolved mailbox row.
#[derive(Debug, Clone)]
pub(crate) struct Mb {
    pub id: i64,
    pub key: String,
}

impl Mb {
    pub fn folder_id(&self, local: i64) -> String {
        encode_id(IdKind::Folder, &self.key, local)
    }

    pub fn item_id(&self, local: i64) -> String {
        encode_id(IdKind::Item, &self.key, local)
    }
}

fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

impl MailboxStore {
    /// Opens (creating and migrating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<MailboxStore, MailboxError> {
        Self::init(Db::open(path, MIGRATIONS)?.with_read_connection()?)
    }

    /// A private in-memory store (tests, `--ephemeral`).
    pub fn open_in_memory() -> Result<MailboxStore, MailboxError> {
        Self::init(Db::open_in_memory(MIGRATIONS)?)
    }

    fn init(db: Db) -> Result<MailboxStore, MailboxError> {
        db.on_each_connection(register_functions)?;
        Ok(MailboxStore {
            db,
            clock: system_clock(),
            commits: Arc::new(tokio::sync::watch::channel(0).0),
            watched: Arc::default(),
        })
    }

    /// Replaces the clock (tests; a server keeps the system clock).
    pub fn with_clock(mut self, clock: Clock) -> MailboxStore {
        self.clock = clock;
        self
    }

    /// The database file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.db.path()
    }

    /// A receiver that changes after every committed write of this store (any mailbox): what
    /// EWS streaming notifications wait on instead of polling the event log. The value is a
    /// count of writes; a woken reader reads the log, where the write is visible.
    pub fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// A receiver that changes after every committed write that appended to `mailbox`'s event
    /// log (an item or folder created, changed, moved or deleted, mail delivered), and after no
    /// other: what an EWS streaming connection of that mailbox waits on, so that writes to other
    /// mailboxes do not wake it. A woken reader reads the log, where the write is visible.
    pub fn mailbox_commits(&self, mailbox: &MailboxKey) -> tokio::sync::watch::Receiver<u64> {
        let mut watched = self
            .watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if watched.len() >= WATCHED_SWEEP_AT {
            watched.retain(|_, s| s.receiver_count() > 0);
        }
        watched
            .entry(mailbox.as_str().to_owned())
            .or_insert_with(|| tokio::sync::watch::channel(0).0)
            .subscribe()
    }

    /// Tells the watchers of the mailboxes a committed write logged to.
    fn signal_logged(&self, logged: Vec<String>) {
        if logged.is_empty() {
            return;
        }
        let mut watched = self
            .watched
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for key in logged {
            if let Some(s) = watched.get(&key) {
                if s.receiver_count() == 0 {
                    watched.remove(&key);
                } else {
                    s.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
        }
    }

    /// Runs `f` as one write of a group commit ([`Db::write_batched`]): inside its own savepoint
    /// of a `BEGIN IMMEDIATE` transaction shared with the writes queued at the same time, with the
    /// clock read under the database lock (so times follow commit order). Answers only after the
    /// shared `COMMIT` returned; when `f` fails, everything it did, including counters it
    /// advanced, rolls back, and the other writes of the batch are unaffected.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T, MailboxError>
    where
        F: FnOnce(&Connection, OffsetDateTime) -> Result<T, MailboxError> + Send + 'static,
        T: Send + 'static,
    {
        let clock = self.clock.clone();
        let out = self
            .db
            .write_batched(move |conn| {
                let now = crate::model::normalize_time(clock())?;
                LOGGED.with_borrow_mut(Vec::clear);
                let out = f(conn, now);
                let logged = LOGGED.with_borrow_mut(std::mem::take);
                out.map(|t| (t, logged))
            })
            .await;
        match out {
            Ok((t, logged)) => {
                self.commits.send_modify(|n| *n = n.wrapping_add(1));
                self.signal_logged(logged);
                Ok(t)
            }
            Err(e) => Err(e),
        }
    }

    /// Runs `f` in one read transaction (a consistent snapshot) on the blocking pool, on the
    /// read connection ([`Db::read`]): it does not wait for a group commit in progress, and sees
    /// every write answered before it started.
    pub(crate) async fn read<T, F>(&self, f: F) -> Result<T, MailboxError>
    where
        F: FnOnce(&Connection) -> Result<T, MailboxError> + Send + 'static,
        T: Send + 'static,
    {
        self.db
            .read(move |conn| store::tx::in_read_transaction(conn, f))
            .await
    }

    /// Creates the mailbox and its default folder tree, idempotently and atomically; on an
    /// existing mailbox, adds any default folder that is missing. Returns whether the mailbox was
    /// new.
    pub async fn ensure_mailbox(&self, mailbox: &MailboxKey) -> Result<bool, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let now_us = to_micros(now)?;
            let inserted = tx.execute(
                "INSERT INTO mailboxes (key, created) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
                params![key, now_us],
            )?;
            let mb = mailbox_row(tx, &key)?;
            let mut ids: HashMap<&str, i64> = HashMap::new();
            for (name, parent, display, class) in DEFAULT_FOLDERS {
                let existing: Option<i64> = tx
                    .query_row(
                        "SELECT id FROM folders WHERE mailbox_id = ?1 AND distinguished = ?2",
                        params![mb.id, name],
                        |r| r.get(0),
                    )
                    .optional()?;
                let id = match existing {
                    Some(id) => id,
                    None => {
                        let parent_id = match parent {
                            Some(p) => Some(*ids.get(p).ok_or_else(|| {
                                MailboxError::Corrupt(format!("default folder {p} missing"))
                            })?),
                            None => None,
                        };
                        let cn = next_change_number(tx, mb.id)?;
                        tx.execute(
                            "INSERT INTO folders (mailbox_id, parent_id, distinguished, display_name, \
                             folder_class, change_number, last_modified) \
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                            params![mb.id, parent_id, name, display, class, cn, now_us],
                        )?;
                        let id = tx.last_insert_rowid();
                        // a new mailbox's tree is in the folder log only: no subscription can
                        // be older than its mailbox, and its item log starts empty
                        let change = FolderLogEntry::new(EventKind::Created, id, parent_id);
                        if inserted == 1 {
                            append_folder_event(tx, &mb, &change, now_us)?;
                        } else {
                            log_folder_change(tx, &mb, &change, now_us)?;
                        }
                        id
                    }
                };
                ids.insert(name, id);
            }
            Ok(inserted == 1)
        })
        .await
    }

    /// Whether a mailbox with this key exists.
    pub async fn mailbox_exists(&self, mailbox: &MailboxKey) -> Result<bool, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| match mailbox_row(tx, &key) {
            Ok(_) => Ok(true),
            Err(MailboxError::MailboxNotFound(_)) => Ok(false),
            Err(e) => Err(e),
        })
        .await
    }

    /// One folder with live counts.
    pub async fn get_folder(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
    ) -> Result<Folder, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            let id = resolve_folder(tx, &mb, &folder)?;
            load_folder(tx, &mb, id)
        })
        .await
    }

    /// The distinguished names of a folder and of each of its ancestors, nearest first (`None`
    /// for ordinary folders), without counting anything: what authorization needs (is this
    /// under Recoverable Items?) at a cost that does not grow with the folder's size.
    pub async fn folder_lineage(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
    ) -> Result<Vec<Option<String>>, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            let id = resolve_folder(tx, &mb, &folder)?;
            lineage(tx, &mb, id)
        })
        .await
    }

    /// The children (`deep == false`) or the whole subtree (`deep == true`) of `parent`, parent
    /// excluded, in depth-first order with siblings sorted by case-folded display name, then id.
    pub async fn find_folders(
        &self,
        mailbox: &MailboxKey,
        parent: FolderSel,
        deep: bool,
        paging: Paging,
    ) -> Result<Page<Folder>, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            let parent = resolve_folder(tx, &mb, &parent)?;
            let mut children: HashMap<i64, Vec<(String, i64)>> = HashMap::new();
            {
                let mut stmt = tx.prepare_cached(
                    "SELECT id, parent_id, display_name FROM folders WHERE mailbox_id = ?1",
                )?;
                let rows = stmt.query_map(params![mb.id], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Option<i64>>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?;
                for row in rows {
                    let (id, parent_id, name) = row?;
                    if let Some(p) = parent_id {
                        children.entry(p).or_default().push((casefold(&name), id));
                    }
                }
            }
            for list in children.values_mut() {
                list.sort();
            }
            // Iterative depth-first walk (no recursion on user-controlled depth).
            let mut order = Vec::new();
            let mut stack: Vec<i64> = children
                .get(&parent)
                .map(|c| c.iter().rev().map(|(_, id)| *id).collect())
                .unwrap_or_default();
            while let Some(id) = stack.pop() {
                order.push(id);
                if deep && let Some(c) = children.get(&id) {
                    stack.extend(c.iter().rev().map(|(_, id)| *id));
                }
            }
            let total = order.len();
            let (start, len) = window(total, &paging)?;
            let items = order[start..start + len]
                .iter()
                .map(|id| load_folder(tx, &mb, *id))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(make_page(items, start, total, &paging))
        })
        .await
    }

    /// Creates a folder under `parent`. Display names are unique among siblings
    /// (case-insensitively): a clash is [`MailboxError::FolderExists`].
    pub async fn create_folder(
        &self,
        mailbox: &MailboxKey,
        parent: FolderSel,
        display_name: String,
        folder_class: Option<String>,
    ) -> Result<Folder, MailboxError> {
        validate_folder_name(&display_name)?;
        if let Some(class) = &folder_class {
            crate::items::validate_class(class, "folder class")?;
        }
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let parent = resolve_folder(tx, &mb, &parent)?;
            // (the root and the parent are in its lineage: the new folder's depth is its length)
            if lineage(tx, &mb, parent)?.len() > MAX_FOLDER_DEPTH {
                return Err(too_deep());
            }
            let clash: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM folders WHERE parent_id = ?1 \
                     AND display_name = ?2 COLLATE NOCASE)",
                params![parent, display_name],
                |r| r.get(0),
            )?;
            if clash {
                return Err(MailboxError::FolderExists(display_name));
            }
            let cn = next_change_number(tx, mb.id)?;
            let now_us = to_micros(now)?;
            tx.execute(
                "INSERT INTO folders (mailbox_id, parent_id, distinguished, display_name, \
                 folder_class, change_number, last_modified) VALUES (?1, ?2, NULL, ?3, ?4, ?5, ?6)",
                params![mb.id, parent, display_name, folder_class, cn, now_us],
            )?;
            let id = tx.last_insert_rowid();
            touch_folder(tx, parent, cn, now_us)?;
            let change = FolderLogEntry::new(EventKind::Created, id, Some(parent));
            log_folder_change(tx, &mb, &change, now_us)?;
            load_folder(tx, &mb, id)
        })
        .await
    }

    /// Renames an ordinary folder and/or sets its class (`Some(None)` removes it), in one
    /// transaction; the folder stays where it is. A `change_key` must be a folder change key
    /// ([`MailboxError::InvalidChangeKey`]), but a stale one does not refuse the change: the last
    /// write wins, as EWS UpdateFolder has no conflict resolution and a folder's key changes with
    /// every item written into it (a client renaming a folder it just filed mail into holds a
    /// stale key). Names stay unique among siblings
    /// ([`MailboxError::FolderExists`]); a distinguished folder keeps its name and class.
    pub async fn update_folder(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        change_key: Option<String>,
        display_name: Option<String>,
        folder_class: Option<Option<String>>,
    ) -> Result<Folder, MailboxError> {
        if let Some(name) = &display_name {
            validate_folder_name(name)?;
        }
        if let Some(Some(class)) = &folder_class {
            crate::items::validate_class(class, "folder class")?;
        }
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let id = resolve_folder(tx, &mb, &folder)?;
            let (parent, distinguished, cn): (Option<i64>, Option<String>, i64) = tx.query_row(
                "SELECT parent_id, distinguished, change_number FROM folders \
                 WHERE id = ?1 AND mailbox_id = ?2",
                params![id, mb.id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            if let Some(ck) = &change_key {
                match check_change_key(ck, IdKind::Folder, cn) {
                    Ok(()) | Err(MailboxError::ChangeKeyConflict) => {}
                    Err(e) => return Err(e),
                }
            }
            if let Some(d) = distinguished
                && (display_name.is_some() || folder_class.is_some())
            {
                return Err(MailboxError::InvalidValue(format!(
                    "the distinguished folder {d:?} keeps its name and class"
                )));
            }
            let cn = next_change_number(tx, mb.id)?;
            let now_us = to_micros(now)?;
            if let Some(name) = &display_name {
                let clash: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM folders WHERE parent_id IS ?1 AND id != ?2 \
                         AND display_name = ?3 COLLATE NOCASE)",
                    params![parent, id, name],
                    |r| r.get(0),
                )?;
                if clash {
                    return Err(MailboxError::FolderExists(name.clone()));
                }
                tx.execute(
                    "UPDATE folders SET display_name = ?2 WHERE id = ?1",
                    params![id, name],
                )?;
            }
            if let Some(class) = &folder_class {
                tx.execute(
                    "UPDATE folders SET folder_class = ?2 WHERE id = ?1",
                    params![id, class],
                )?;
            }
            touch_folder(tx, id, cn, now_us)?;
            if display_name.is_some() || folder_class.is_some() {
                let change = FolderLogEntry::new(EventKind::Modified, id, parent);
                log_folder_change(tx, &mb, &change, now_us)?;
            }
            load_folder(tx, &mb, id)
        })
        .await
    }

    /// The mailbox's change number and newest event sequence number (of the item log, whose
    /// entries are item and folder events).
    pub async fn counters(&self, mailbox: &MailboxKey) -> Result<MailboxCounters, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| {
            let (cn, seq): (i64, i64) = tx
                .query_row(
                    "SELECT change_number, event_seq FROM mailboxes WHERE key = ?1",
                    params![key],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .ok_or_else(|| MailboxError::MailboxNotFound(key.clone()))?;
            Ok(MailboxCounters {
                change_number: to_u64(cn)?,
                last_event_seq: to_u64(seq)?,
            })
        })
        .await
    }

    /// Events with `seq > after`, oldest first, at most `limit` (capped at
    /// [`MAX_EVENTS_PER_CALL`]): item events and folder events ([`Event::object`]) in the one
    /// sequence of the mailbox's item log. A subscription keeps the last `seq` it saw as its
    /// watermark, which so orders both kinds (and every watermark issued before folder events were
    /// logged keeps its meaning: the sequence was never renumbered).
    ///
    /// Never skips an event: when the event right after `after` is no longer kept (the retention
    /// pruned it, [`MailboxStore::prune_logs_before`]) or `after` is ahead of the log, this is
    /// [`MailboxError::InvalidWatermark`] (`ErrorInvalidWatermark`), not the events that remain.
    pub async fn events_since(
        &self,
        mailbox: &MailboxKey,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Event>, MailboxError> {
        let key = mailbox.as_str().to_owned();
        let limit = to_i64(limit.min(MAX_EVENTS_PER_CALL))?;
        let after = i64::try_from(after)
            .map_err(|_| MailboxError::InvalidRequest("event watermark out of range".into()))?;
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            let mut stmt = tx.prepare_cached(
                "SELECT seq, kind, item_id, folder_id, old_folder_id, at, flags FROM events \
                 WHERE mailbox_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![mb.id, after, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            })?;
            let mut out = Vec::new();
            let mut first = None;
            for row in rows {
                let (seq, kind, item, folder, old, at, flags) = row?;
                first.get_or_insert(seq);
                let (object, object_id) = if flags & EVENT_FOLDER != 0 {
                    (EventObject::Folder, mb.folder_id(item))
                } else {
                    (EventObject::Item, mb.item_id(item))
                };
                out.push(Event {
                    seq: to_u64(seq)?,
                    kind: EventKind::from_db(&kind)?,
                    object,
                    item_id: object_id,
                    folder_id: mb.folder_id(folder),
                    old_folder_id: old.map(|o| mb.folder_id(o)),
                    at: from_micros(at)?,
                    new_mail: flags & EVENT_NEW_MAIL != 0,
                });
            }
            // The log is gapless and pruned only from its start: when an event came back, it is
            // the one right after `after` or the ones before it are gone; only an empty answer
            // needs the head to tell "nothing new" from "everything after it pruned".
            let position = match first {
                Some(seq) if seq - 1 == after => LogPosition::Continues,
                Some(_) => LogPosition::Pruned,
                None => log_position(tx, &mb, LogTable::Items, after)?,
            };
            watermark_continues(position)?;
            Ok(out)
        })
        .await
    }

    /// Whether the item log can be read on from `after` (what [`MailboxStore::events_since`]
    /// checks): [`MailboxError::InvalidWatermark`] when the event right after it is no longer
    /// kept or it is ahead of the log. Subscribe checks a client's watermark with it.
    pub async fn check_watermark(
        &self,
        mailbox: &MailboxKey,
        after: u64,
    ) -> Result<(), MailboxError> {
        let key = mailbox.as_str().to_owned();
        let after = i64::try_from(after)
            .map_err(|_| MailboxError::InvalidWatermark("it is out of range".into()))?;
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            watermark_continues(log_position(tx, &mb, LogTable::Items, after)?)
        })
        .await
    }

    /// The retention of both logs: deletes, in every mailbox, the item and folder log entries
    /// written before `cutoff`, oldest first, in writes of at most
    /// [`MAX_PRUNE_ROWS_PER_WRITE`] entries (and [`MAX_PRUNE_MAILBOXES_PER_WRITE`] mailboxes),
    /// each one savepoint of the group commit, so a pass never holds the writer for long.
    ///
    /// Only ever a log's start goes: per mailbox and log, the entries from the oldest up to the
    /// last one before the first entry written at or after `cutoff` (`at` follows `seq` in a
    /// mailbox, the clock being read under the database lock; should the clock have stepped
    /// back, an older entry behind a newer one waits for it rather than leave a hole). The
    /// logs' heads are the mailbox's counters (`event_seq`, `folder_event_seq`), which pruning
    /// never lowers, so a sync state or watermark whose next entry went is refused, even when
    /// every entry of the log went: see [`crate::sync`] and [`MailboxStore::events_since`].
    ///
    /// Each look-up walks the primary key `(mailbox_id, seq)` from the mailbox's oldest entry
    /// and stops at the first one too young, so a pass costs what it deletes plus a couple of
    /// look-ups per mailbox, without an index on `at` (which every write would pay for).
    pub async fn prune_logs_before(&self, cutoff: OffsetDateTime) -> Result<Pruned, MailboxError> {
        self.prune_logs_before_in_writes_of(cutoff, MAX_PRUNE_ROWS_PER_WRITE)
            .await
    }

    /// [`MailboxStore::prune_logs_before`] with at most `rows_per_write` entries per write
    /// (1..=[`MAX_PRUNE_ROWS_PER_WRITE`]; other values are clamped into it).
    pub async fn prune_logs_before_in_writes_of(
        &self,
        cutoff: OffsetDateTime,
        rows_per_write: usize,
    ) -> Result<Pruned, MailboxError> {
        let cutoff_us = to_micros(cutoff)?;
        let budget = rows_per_write.clamp(1, MAX_PRUNE_ROWS_PER_WRITE);
        let mut total = Pruned::default();
        let mut from = 0;
        loop {
            let (done, next) = self
                .write(move |tx, _| prune_some(tx, cutoff_us, from, budget))
                .await?;
            total.events += done.events;
            total.folder_events += done.folder_events;
            total.mailboxes += done.mailboxes;
            total.writes += 1;
            match next {
                Some(n) => from = n,
                None => return Ok(total),
            }
        }
    }

    /// Deletes events with `seq <= through` (sequence numbers are never reused). Returns how many.
    pub async fn prune_events(
        &self,
        mailbox: &MailboxKey,
        through: u64,
    ) -> Result<u64, MailboxError> {
        let key = mailbox.as_str().to_owned();
        let through = i64::try_from(through).unwrap_or(i64::MAX);
        self.write(move |tx, _| {
            let mb = mailbox_row(tx, &key)?;
            let n = tx.execute(
                "DELETE FROM events WHERE mailbox_id = ?1 AND seq <= ?2",
                params![mb.id, through],
            )?;
            Ok(n as u64)
        })
        .await
    }
}

fn register_functions(conn: &mut Connection) -> Result<(), MailboxError> {
    conn.create_scalar_function(
        CASEFOLD_FN,
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let s: Option<String> = ctx.get(0)?;
            Ok(s.map(|s| casefold(&s)))
        },
    )?;
    Ok(())
}

pub(crate) fn to_u64(v: i64) -> Result<u64, MailboxError> {
    u64::try_from(v).map_err(|_| MailboxError::Corrupt(format!("negative counter {v}")))
}

pub(crate) fn to_i64(v: usize) -> Result<i64, MailboxError> {
    i64::try_from(v).map_err(|_| MailboxError::InvalidRequest("number out of range".into()))
}

pub(crate) fn mailbox_row(tx: &Connection, key: &str) -> Result<Mb, MailboxError> {
    tx.prepare_cached("SELECT id FROM mailboxes WHERE key = ?1")?
        .query_row(params![key], |r| r.get(0))
        .optional()?
        .map(|id| Mb {
            id,
            key: key.to_owned(),
        })
        .ok_or_else(|| MailboxError::MailboxNotFound(key.to_owned()))
}

/// Hands out the mailbox's next change number (one per written object).
pub(crate) fn next_change_number(tx: &Connection, mailbox_id: i64) -> Result<i64, MailboxError> {
    Ok(tx
        .prepare_cached(
            "UPDATE mailboxes SET change_number = change_number + 1 WHERE id = ?1 \
             RETURNING change_number",
        )?
        .query_row(params![mailbox_id], |r| r.get(0))?)
}

/// `events.flags`: the item is folder-associated (FAI).
pub(crate) const EVENT_ASSOCIATED: i64 = 1;
/// `events.flags`: a `Modified` event that changed the read flag and nothing else.
pub(crate) const EVENT_READ_FLAG_ONLY: i64 = 2;
/// `events.flags`: a `Created` event of a message delivered to this mailbox (a recipient's copy,
/// a non-delivery report): EWS reports it as a `NewMailEvent` too.
pub(crate) const EVENT_NEW_MAIL: i64 = 4;

/// The `events.flags` of an event about an item that is (`true`) or is not folder-associated.
pub(crate) fn item_flags(is_associated: bool) -> i64 {
    if is_associated { EVENT_ASSOCIATED } else { 0 }
}

/// Appends one event in the caller's transaction; `flags` is what a sync needs to know of the
/// item once it may be gone ([`EVENT_ASSOCIATED`], [`EVENT_READ_FLAG_ONLY`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn append_event(
    tx: &Connection,
    mb: &Mb,
    kind: EventKind,
    item: i64,
    folder: i64,
    old_folder: Option<i64>,
    flags: i64,
    at_us: i64,
) -> Result<(), MailboxError> {
    let seq: i64 = tx
        .prepare_cached(
            "UPDATE mailboxes SET event_seq = event_seq + 1 WHERE id = ?1 RETURNING event_seq",
        )?
        .query_row(params![mb.id], |r| r.get(0))?;
    tx.prepare_cached(
        "INSERT INTO events (mailbox_id, seq, kind, item_id, folder_id, old_folder_id, at, flags) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        mb.id,
        seq,
        kind.as_str(),
        item,
        folder,
        old_folder,
        at_us,
        flags
    ])?;
    LOGGED.with_borrow_mut(|logged| {
        if logged.last() != Some(&mb.key) {
            logged.push(mb.key.clone());
        }
    });
    Ok(())
}

/// `events.flags`: the event is about a folder (`item_id` the folder, `folder_id` its parent,
/// `old_folder_id` its parent before a move): what subscriptions report of folders, in the one
/// sequence of the mailbox's events. Item syncs skip these entries; folder syncs follow the
/// folder log.
pub(crate) const EVENT_FOLDER: i64 = 8;

/// `folder_events.flags`: a `Moved` entry of a folder whose ancestor moved (its own parent is
/// unchanged; where it is in the tree changed with its ancestor's move).
pub(crate) const FOLDER_EVENT_WITH_ANCESTOR: i64 = 1;

/// One change of a folder, as the logs record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FolderLogEntry {
    pub kind: EventKind,
    pub folder: i64,
    /// Its parent after the change (for `Deleted`, where it was).
    pub parent: Option<i64>,
    /// For `Moved`: its parent before.
    pub old_parent: Option<i64>,
    /// [`FOLDER_EVENT_WITH_ANCESTOR`] or 0.
    pub flags: i64,
}

impl FolderLogEntry {
    pub fn new(kind: EventKind, folder: i64, parent: Option<i64>) -> FolderLogEntry {
        FolderLogEntry {
            kind,
            folder,
            parent,
            old_parent: None,
            flags: 0,
        }
    }

    /// The folder moved from `from` to `to`.
    pub fn moved(folder: i64, from: i64, to: i64) -> FolderLogEntry {
        FolderLogEntry {
            kind: EventKind::Moved,
            folder,
            parent: Some(to),
            old_parent: Some(from),
            flags: 0,
        }
    }
}

/// Appends one entry to the folder log (what SyncFolderHierarchy follows) in the caller's
/// transaction. A `Moved` entry names the parent before; every other kind names none.
pub(crate) fn append_folder_event(
    tx: &Connection,
    mb: &Mb,
    change: &FolderLogEntry,
    at_us: i64,
) -> Result<(), MailboxError> {
    if (change.kind == EventKind::Moved) != change.old_parent.is_some() {
        return Err(MailboxError::Corrupt(format!(
            "a {} folder event with old parent {:?}",
            change.kind.as_str(),
            change.old_parent
        )));
    }
    let seq: i64 = tx
        .prepare_cached(
            "UPDATE mailboxes SET folder_event_seq = folder_event_seq + 1 WHERE id = ?1 \
             RETURNING folder_event_seq",
        )?
        .query_row(params![mb.id], |r| r.get(0))?;
    tx.prepare_cached(
        "INSERT INTO folder_events (mailbox_id, seq, kind, folder_id, parent_id, at, \
         old_parent_id, flags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        mb.id,
        seq,
        change.kind.as_str(),
        change.folder,
        change.parent,
        at_us,
        change.old_parent,
        change.flags
    ])?;
    Ok(())
}

/// Records a folder change in both logs, in the caller's transaction: the folder log
/// ([`append_folder_event`]) and, as an [`EVENT_FOLDER`] entry, the item log that notifications
/// read, so that subscriptions see folder events in order with item events under one watermark.
/// A folder without a parent (the root, only ever created with its mailbox) has no place in the
/// item log, whose entries name a folder.
pub(crate) fn log_folder_change(
    tx: &Connection,
    mb: &Mb,
    change: &FolderLogEntry,
    at_us: i64,
) -> Result<(), MailboxError> {
    append_folder_event(tx, mb, change, at_us)?;
    match change.parent {
        Some(parent) => append_event(
            tx,
            mb,
            change.kind,
            change.folder,
            parent,
            change.old_parent,
            EVENT_FOLDER,
            at_us,
        ),
        None => Ok(()),
    }
}

/// A mailbox's two change logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogTable {
    /// `events`, head `mailboxes.event_seq`.
    Items,
    /// `folder_events`, head `mailboxes.folder_event_seq`.
    Folders,
}

/// Where a reader that has read a log up to `seq` stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogPosition {
    /// At the head, or the entry right after `seq` is kept: so is every later one.
    Continues,
    /// Past the head: the log never had it.
    Ahead,
    /// The entry right after `seq` is no longer kept (pruned).
    Pruned,
}

/// Where `seq` stands in the mailbox's `log`. A log's entries are `1..=head` without gaps at
/// commit (a write that fails rolls its counter back with it), the head is the mailbox's counter
/// (pruning never lowers it, so it stays exact when every entry is gone), and a log is pruned
/// only from its start: the entry right after `seq` being kept is exactly "nothing after `seq`
/// is missing".
pub(crate) fn log_position(
    tx: &Connection,
    mb: &Mb,
    log: LogTable,
    seq: i64,
) -> Result<LogPosition, MailboxError> {
    let (head_sql, kept_sql) = match log {
        LogTable::Items => (
            "SELECT event_seq FROM mailboxes WHERE id = ?1",
            "SELECT EXISTS (SELECT 1 FROM events WHERE mailbox_id = ?1 AND seq = ?2)",
        ),
        LogTable::Folders => (
            "SELECT folder_event_seq FROM mailboxes WHERE id = ?1",
            "SELECT EXISTS (SELECT 1 FROM folder_events WHERE mailbox_id = ?1 AND seq = ?2)",
        ),
    };
    let head: i64 = tx
        .prepare_cached(head_sql)?
        .query_row(params![mb.id], |r| r.get(0))?;
    if seq > head {
        return Ok(LogPosition::Ahead);
    }
    if seq == head {
        return Ok(LogPosition::Continues);
    }
    let kept: bool = tx
        .prepare_cached(kept_sql)?
        .query_row(params![mb.id, seq + 1], |r| r.get(0))?;
    Ok(if kept {
        LogPosition::Continues
    } else {
        LogPosition::Pruned
    })
}

/// A watermark's [`LogPosition`] as [`MailboxStore::events_since`] answers it.
fn watermark_continues(position: LogPosition) -> Result<(), MailboxError> {
    match position {
        LogPosition::Continues => Ok(()),
        LogPosition::Ahead => Err(MailboxError::InvalidWatermark(
            "it is ahead of this mailbox's events, so this server never issued it".into(),
        )),
        LogPosition::Pruned => Err(MailboxError::InvalidWatermark(
            "the events after it are no longer kept by this server".into(),
        )),
    }
}

/// One write of [`MailboxStore::prune_logs_before_in_writes_of`]: the mailboxes from id `from`
/// on (at most [`MAX_PRUNE_MAILBOXES_PER_WRITE`]), both logs of each, until `budget` entries are
/// deleted. What it deleted, and the mailbox id to go on from (`None`: every mailbox is done).
fn prune_some(
    tx: &Connection,
    cutoff_us: i64,
    from: i64,
    budget: usize,
) -> Result<(Pruned, Option<i64>), MailboxError> {
    let ids: Vec<i64> = tx
        .prepare_cached(PRUNE_MAILBOXES_SQL)?
        .query_map(params![from, to_i64(MAX_PRUNE_MAILBOXES_PER_WRITE)?], |r| {
            r.get(0)
        })?
        .collect::<Result<_, _>>()?;
    let mut done = Pruned::default();
    let mut left = budget;
    for &id in &ids {
        let n = prune_log_start(tx, LogTable::Items, id, cutoff_us, left)?;
        done.events += n as u64;
        left -= n;
        if left > 0 {
            let n = prune_log_start(tx, LogTable::Folders, id, cutoff_us, left)?;
            done.folder_events += n as u64;
            left -= n;
        }
        if left == 0 {
            // this mailbox may have more: the next write goes on with it
            return Ok((done, Some(id)));
        }
        done.mailboxes += 1;
    }
    let next = match ids.last() {
        Some(last) if ids.len() == MAX_PRUNE_MAILBOXES_PER_WRITE => Some(last + 1),
        _ => None,
    };
    Ok((done, next))
}

/// The mailboxes one pruning write looks at: from an id on, in id order.
const PRUNE_MAILBOXES_SQL: &str = "SELECT id FROM mailboxes WHERE id >= ?1 ORDER BY id LIMIT ?2";

/// A log's pruning statements: its oldest entries (`seq`, `at`) of a mailbox, at most `?2`; and
/// the deletion of its entries of a mailbox up to a `seq`.
fn prune_sql(log: LogTable) -> (&'static str, &'static str) {
    match log {
        LogTable::Items => (
            "SELECT seq, at FROM events WHERE mailbox_id = ?1 ORDER BY seq LIMIT ?2",
            "DELETE FROM events WHERE mailbox_id = ?1 AND seq <= ?2",
        ),
        LogTable::Folders => (
            "SELECT seq, at FROM folder_events WHERE mailbox_id = ?1 ORDER BY seq LIMIT ?2",
            "DELETE FROM folder_events WHERE mailbox_id = ?1 AND seq <= ?2",
        ),
    }
}

/// Deletes the start of one mailbox's `log`: its entries from the oldest on that were written
/// before `cutoff_us`, up to the first one that was not, at most `limit`. How many it deleted.
/// Both statements walk the primary key `(mailbox_id, seq)`; the first stops at the first entry
/// too young (or after `limit`).
fn prune_log_start(
    tx: &Connection,
    log: LogTable,
    mailbox_id: i64,
    cutoff_us: i64,
    limit: usize,
) -> Result<usize, MailboxError> {
    let (oldest_sql, delete_sql) = prune_sql(log);
    let mut through = None;
    {
        let mut stmt = tx.prepare_cached(oldest_sql)?;
        let mut rows = stmt.query(params![mailbox_id, to_i64(limit)?])?;
        while let Some(row) = rows.next()? {
            let (seq, at): (i64, i64) = (row.get(0)?, row.get(1)?);
            if at >= cutoff_us {
                break;
            }
            through = Some(seq);
        }
    }
    let Some(through) = through else {
        return Ok(0);
    };
    Ok(tx
        .prepare_cached(delete_sql)?
        .execute(params![mailbox_id, through])?)
}

/// Records that a folder (or its contents) changed with change number `cn`.
pub(crate) fn touch_folder(
    tx: &Connection,
    folder: i64,
    cn: i64,
    now_us: i64,
) -> Result<(), MailboxError> {
    tx.prepare_cached("UPDATE folders SET change_number = ?2, last_modified = ?3 WHERE id = ?1")?
        .execute(params![folder, cn, now_us])?;
    Ok(())
}

/// A folder name: 1 to [`MAX_FOLDER_NAME_CHARS`] characters, none of them control characters.
fn validate_folder_name(name: &str) -> Result<(), MailboxError> {
    let n = name.chars().count();
    if n == 0 || n > MAX_FOLDER_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(MailboxError::InvalidValue(format!(
            "a folder name must be 1 to {MAX_FOLDER_NAME_CHARS} characters without control characters"
        )));
    }
    Ok(())
}

/// [`MailboxStore::folder_lineage`] of a local folder id, inside a transaction.
pub(crate) fn lineage(
    tx: &Connection,
    mb: &Mb,
    folder: i64,
) -> Result<Vec<Option<String>>, MailboxError> {
    let mut id = Some(folder);
    let mut out = Vec::new();
    let mut st = tx.prepare_cached(
        "SELECT parent_id, distinguished FROM folders WHERE id = ?1 AND mailbox_id = ?2",
    )?;
    while let Some(f) = id {
        if out.len() > 64 {
            return Err(MailboxError::Corrupt(format!(
                "folder {f} has more than 64 ancestors"
            )));
        }
        let (parent, d): (Option<i64>, Option<String>) =
            st.query_row(params![f, mb.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        out.push(d);
        id = parent;
    }
    Ok(out)
}

/// A folder that would nest deeper than [`MAX_FOLDER_DEPTH`].
pub(crate) fn too_deep() -> MailboxError {
    MailboxError::InvalidRequest(format!(
        "folders nest at most {MAX_FOLDER_DEPTH} levels below the mailbox's root; create or move the folder higher up"
    ))
}

/// The local id of a folder of this mailbox.
pub(crate) fn resolve_folder(
    tx: &Connection,
    mb: &Mb,
    sel: &FolderSel,
) -> Result<i64, MailboxError> {
    match sel {
        FolderSel::Distinguished(name) => distinguished_folder(tx, mb, name),
        FolderSel::Id(id) => {
            let local = local_id(id, IdKind::Folder, &mb.key, || MailboxError::FolderNotFound)?;
            let found: Option<i64> = tx
                .prepare_cached("SELECT id FROM folders WHERE id = ?1 AND mailbox_id = ?2")?
                .query_row(params![local, mb.id], |r| r.get(0))
                .optional()?;
            found.ok_or(MailboxError::FolderNotFound)
        }
    }
}

pub(crate) fn distinguished_folder(
    tx: &Connection,
    mb: &Mb,
    name: &str,
) -> Result<i64, MailboxError> {
    let found: Option<i64> = tx
        .prepare_cached("SELECT id FROM folders WHERE mailbox_id = ?1 AND distinguished = ?2")?
        .query_row(params![mb.id, name], |r| r.get(0))
        .optional()?;
    found.ok_or(MailboxError::FolderNotFound)
}

/// The distinguished name of a folder, if it has one.
pub(crate) fn folder_distinguished(
    tx: &Connection,
    folder: i64,
) -> Result<Option<String>, MailboxError> {
    Ok(tx
        .prepare_cached("SELECT distinguished FROM folders WHERE id = ?1")?
        .query_row(params![folder], |r| r.get(0))?)
}

pub(crate) fn load_folder(tx: &Connection, mb: &Mb, id: i64) -> Result<Folder, MailboxError> {
    let row = tx
        .prepare_cached(
            "SELECT f.parent_id, f.distinguished, f.display_name, f.folder_class, \
             f.change_number, f.last_modified, \
             COALESCE(n.total, 0), COALESCE(n.unread, 0), COALESCE(n.associated, 0), \
             (SELECT COUNT(*) FROM folders c WHERE c.parent_id = f.id) \
             FROM folders f LEFT JOIN folder_counts n ON n.folder_id = f.id \
             WHERE f.id = ?1 AND f.mailbox_id = ?2",
        )?
        .query_row(params![id, mb.id], |r| {
            Ok((
                r.get::<_, Option<i64>>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, i64>(9)?,
            ))
        })
        .optional()?
        .ok_or(MailboxError::FolderNotFound)?;
    let (
        parent,
        distinguished,
        display_name,
        folder_class,
        cn,
        modified,
        total,
        unread,
        assoc,
        kids,
    ) = row;
    Ok(Folder {
        id: mb.folder_id(id),
        change_key: encode_change_key(IdKind::Folder, cn),
        parent_id: parent.map(|p| mb.folder_id(p)),
        distinguished,
        display_name,
        folder_class,
        total_count: to_u64(total)?,
        unread_count: to_u64(unread)?,
        associated_count: to_u64(assoc)?,
        child_folder_count: to_u64(kids)?,
        change_number: to_u64(cn)?,
        last_modified: from_micros(modified)?,
    })
}

/// The slice of a view of `total` entries that `paging` selects: (start index, length).
pub(crate) fn window(total: usize, paging: &Paging) -> Result<(usize, usize), MailboxError> {
    if paging.max == 0 {
        return Err(MailboxError::InvalidRequest(
            "a page must hold at least one entry".into(),
        ));
    }
    let max = paging.max.min(MAX_PAGE_SIZE);
    if paging.from_end {
        let end = total.saturating_sub(paging.offset);
        let start = end.saturating_sub(max);
        Ok((start, end - start))
    } else {
        let start = paging.offset.min(total);
        Ok((start, (total - start).min(max)))
    }
}

pub(crate) fn make_page<T>(items: Vec<T>, start: usize, total: usize, paging: &Paging) -> Page<T> {
    let includes_last = if paging.from_end {
        start == 0
    } else {
        start + items.len() >= total
    };
    Page {
        items,
        offset: start,
        total,
        includes_last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let p = |offset, max, from_end| Paging {
            offset,
            max,
            from_end,
        };
        assert_eq!(window(100, &p(0, 10, false)).unwrap(), (0, 10));
        assert_eq!(window(100, &p(95, 10, false)).unwrap(), (95, 5));
        assert_eq!(window(100, &p(500, 10, false)).unwrap(), (100, 0));
        assert_eq!(window(100, &p(0, 10, true)).unwrap(), (90, 10));
        assert_eq!(window(100, &p(95, 10, true)).unwrap(), (0, 5));
        assert_eq!(window(100, &p(500, 10, true)).unwrap(), (0, 0));
        assert_eq!(
            window(5000, &p(0, 1_000_000, false)).unwrap(),
            (0, MAX_PAGE_SIZE)
        );
        assert!(window(10, &p(0, 0, false)).is_err());
    }

    /// The plans of a statement of two parameters, joined.
    async fn plan(s: &MailboxStore, sql: &'static str) -> String {
        s.db.call(move |c| {
            let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
            let rows = stmt
                .query_map(params![1, 10], |r| r.get::<_, String>(3))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, MailboxError>(rows.join(" | "))
        })
        .await
        .unwrap()
    }

    /// The retention's statements walk the primary key `(mailbox_id, seq)` from a mailbox's
    /// oldest entry (no scan of the table, no sort), for both logs, and the mailboxes by id.
    #[tokio::test]
    async fn pruning_walks_the_primary_key() {
        let s = MailboxStore::open_in_memory().unwrap();
        for log in [LogTable::Items, LogTable::Folders] {
            let (oldest, delete) = prune_sql(log);
            let p = plan(&s, oldest).await;
            assert!(
                p.contains("USING PRIMARY KEY (mailbox_id=?)"),
                "{oldest}: {p}"
            );
            assert!(
                !p.contains("SCAN") && !p.contains("TEMP B-TREE"),
                "{oldest}: {p}"
            );
            let p = plan(&s, delete).await;
            assert!(
                p.contains("USING PRIMARY KEY (mailbox_id=? AND seq<?)"),
                "{delete}: {p}"
            );
        }
        let p = plan(&s, PRUNE_MAILBOXES_SQL).await;
        assert!(p.contains("INTEGER PRIMARY KEY (rowid>?)"), "{p}");
        assert!(!p.contains("TEMP B-TREE"), "{p}");
    }

    #[tokio::test]
    async fn casefold_function_is_registered() {
        let s = MailboxStore::open_in_memory().unwrap();
        let v: String =
            s.db.call(|c| {
                c.query_row("SELECT oh_casefold('ÄbC')", [], |r| r.get(0))
                    .map_err(MailboxError::from)
            })
            .await
            .unwrap();
        assert_eq!(v, "äbc");
    }

    #[tokio::test]
    async fn casefold_function_is_registered_on_the_read_connection_too() {
        let dir = tempfile::tempdir().unwrap();
        let s = MailboxStore::open(&dir.path().join("m.sqlite")).unwrap();
        let v: String = s
            .read(|c| {
                c.query_row("SELECT oh_casefold('ÄbC')", [], |r| r.get(0))
                    .map_err(MailboxError::from)
            })
            .await
            .unwrap();
        assert_eq!(v, "äbc");
    }

    /// The commit signal changes after each committed write, and not for a failed one or a
    /// read.
    #[tokio::test]
    async fn commits_signal_after_each_committed_write() {
        let s = MailboxStore::open_in_memory().unwrap();
        let key = MailboxKey::new("m1").unwrap();
        let mut commits = s.commits();
        commits.borrow_and_update();
        s.ensure_mailbox(&key).await.unwrap();
        assert!(commits.has_changed().unwrap());
        commits.borrow_and_update();
        let inbox = || FolderSel::Distinguished("inbox".into());
        s.create_folder(&key, inbox(), "Sub".into(), None)
            .await
            .unwrap();
        assert!(commits.has_changed().unwrap());
        commits.borrow_and_update();
        // the same name again fails: nothing committed
        assert!(
            s.create_folder(&key, inbox(), "Sub".into(), None)
                .await
                .is_err()
        );
        s.get_folder(&key, inbox()).await.unwrap();
        assert!(!commits.has_changed().unwrap());
    }

    /// A mailbox's signal changes after a committed write that logged to it, and not for writes
    /// to other mailboxes, failed writes or reads; it ends when nobody watches.
    #[tokio::test]
    async fn a_mailbox_signal_wakes_only_its_watchers() {
        let s = MailboxStore::open_in_memory().unwrap();
        let (a, b) = (
            MailboxKey::new("ma").unwrap(),
            MailboxKey::new("mb").unwrap(),
        );
        s.ensure_mailbox(&a).await.unwrap();
        s.ensure_mailbox(&b).await.unwrap();
        let mut wa = s.mailbox_commits(&a);
        let wb = s.mailbox_commits(&b);
        let inbox = || FolderSel::Distinguished("inbox".into());
        s.create_folder(&a, inbox(), "Sub".into(), None)
            .await
            .unwrap();
        assert!(wa.has_changed().unwrap());
        assert!(!wb.has_changed().unwrap(), "b's watcher is not woken by a");
        wa.borrow_and_update();
        // a failed write and a read change nothing
        assert!(
            s.create_folder(&a, inbox(), "Sub".into(), None)
                .await
                .is_err()
        );
        s.get_folder(&a, inbox()).await.unwrap();
        assert!(!wa.has_changed().unwrap());
        s.create_folder(&b, inbox(), "Sub".into(), None)
            .await
            .unwrap();
        assert!(wb.has_changed().unwrap() && !wa.has_changed().unwrap());
        // unwatched: the entry goes at the next write to it
        drop(wb);
        s.create_folder(&b, inbox(), "Sub2".into(), None)
            .await
            .unwrap();
        assert!(!s.watched.lock().unwrap().contains_key("mb"));
        assert!(s.watched.lock().unwrap().contains_key("ma"));
    }
}
