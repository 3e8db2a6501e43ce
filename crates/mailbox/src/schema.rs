//! The mailbox schema (migrations owned by this crate).
//!
//! Times are INTEGER microseconds since the Unix epoch, UTC. Folder counts (total, unread,
//! associated) live in `folder_counts`, maintained by triggers on `items` inside the same
//! transaction as every write, so no code path can forget them and reading them is O(1) at any
//! folder size (migration 2; before it, counts were `COUNT(*)` scans, O(folder size)).
//!
//! The logs (`events`, `folder_events`) are `1..=head` per mailbox without gaps at commit, the
//! head being the mailbox's counter (`event_seq`, `folder_event_seq`); the retention
//! (`MailboxStore::prune_logs_before`) deletes their oldest entries by `at`, only ever a prefix,
//! walking the primary key `(mailbox_id, seq)`: no index on `at`, so no write pays for one.

use store::Migration;

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: r#"
CREATE TABLE mailboxes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    key            TEXT    NOT NULL UNIQUE,
    -- last change number handed out; one per written object
    change_number  INTEGER NOT NULL DEFAULT 0 CHECK (change_number >= 0),
    -- last event sequence number; events are 1..=event_seq without gaps (until pruned)
    event_seq      INTEGER NOT NULL DEFAULT 0 CHECK (event_seq >= 0),
    created        INTEGER NOT NULL
);

CREATE TABLE folders (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox_id     INTEGER NOT NULL REFERENCES mailboxes(id),
    parent_id      INTEGER REFERENCES folders(id),
    distinguished  TEXT,
    display_name   TEXT    NOT NULL,
    folder_class   TEXT,
    change_number  INTEGER NOT NULL,
    last_modified  INTEGER NOT NULL,
    CHECK (parent_id IS NOT NULL OR distinguished = 'root')
);
CREATE UNIQUE INDEX folders_distinguished ON folders(mailbox_id, distinguished)
    WHERE distinguished IS NOT NULL;
CREATE UNIQUE INDEX folders_child_name ON folders(parent_id, display_name COLLATE NOCASE);
CREATE INDEX folders_mailbox ON folders(mailbox_id);

CREATE TABLE items (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox_id           INTEGER NOT NULL REFERENCES mailboxes(id),
    folder_id            INTEGER NOT NULL REFERENCES folders(id),
    is_associated        INTEGER NOT NULL CHECK (is_associated IN (0, 1)),
    item_class           TEXT    NOT NULL,
    -- for associated IPM.Configuration.<Name> items: <Name>; unique per folder
    config_name          TEXT COLLATE NOCASE,
    subject              TEXT,
    from_json            TEXT,
    sender_json          TEXT,
    to_json              TEXT    NOT NULL,
    cc_json              TEXT    NOT NULL,
    bcc_json             TEXT    NOT NULL,
    importance           TEXT    NOT NULL,
    sensitivity          TEXT    NOT NULL,
    categories_json      TEXT    NOT NULL,
    is_read              INTEGER NOT NULL CHECK (is_read IN (0, 1)),
    internet_message_id  TEXT,
    sent                 INTEGER,
    created              INTEGER NOT NULL,
    received             INTEGER NOT NULL,
    last_modified        INTEGER NOT NULL,
    start_time           INTEGER,
    end_time             INTEGER,
    is_all_day           INTEGER,
    free_busy            TEXT,
    location             TEXT,
    size                 INTEGER NOT NULL,
    change_number        INTEGER NOT NULL,
    CHECK ((start_time IS NULL) = (end_time IS NULL)),
    CHECK (config_name IS NULL OR is_associated = 1)
);
-- default view order and counts: (folder, normal/FAI, received, id)
CREATE INDEX items_folder_received ON items(folder_id, is_associated, received, id);
-- unread counts
CREATE INDEX items_folder_unread ON items(folder_id, is_associated, is_read);
-- calendar views
CREATE INDEX items_folder_start ON items(folder_id, is_associated, start_time)
    WHERE start_time IS NOT NULL;
-- idempotent delivery: look up by Message-ID within a folder
CREATE INDEX items_folder_message_id ON items(folder_id, internet_message_id)
    WHERE internet_message_id IS NOT NULL;
-- one user configuration per (folder, name)
CREATE UNIQUE INDEX items_folder_config_name ON items(folder_id, config_name)
    WHERE config_name IS NOT NULL;

CREATE TABLE item_bodies (
    item_id    INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    body_type  TEXT NOT NULL CHECK (body_type IN ('Text', 'HTML')),
    content    TEXT NOT NULL
);

CREATE TABLE item_props (
    item_id  INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (item_id, key)
) WITHOUT ROWID;

CREATE TABLE user_config_data (
    item_id      INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    dictionary   TEXT,
    xml_data     BLOB,
    binary_data  BLOB
);

CREATE TABLE events (
    mailbox_id     INTEGER NOT NULL REFERENCES mailboxes(id),
    seq            INTEGER NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('Created', 'Deleted', 'Moved', 'Modified')),
    -- no foreign keys: the item or folder may be gone by the time the event is read
    item_id        INTEGER NOT NULL,
    folder_id      INTEGER NOT NULL,
    old_folder_id  INTEGER,
    at             INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, seq)
) WITHOUT ROWID;
"#,
    },
    Migration {
        version: 2,
        sql: r#"
CREATE TABLE folder_counts (
    folder_id   INTEGER PRIMARY KEY REFERENCES folders(id) ON DELETE CASCADE,
    total       INTEGER NOT NULL DEFAULT 0,
    unread      INTEGER NOT NULL DEFAULT 0,
    associated  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO folder_counts (folder_id, total, unread, associated)
SELECT f.id,
    (SELECT COUNT(*) FROM items WHERE folder_id = f.id AND is_associated = 0),
    (SELECT COUNT(*) FROM items WHERE folder_id = f.id AND is_associated = 0 AND is_read = 0),
    (SELECT COUNT(*) FROM items WHERE folder_id = f.id AND is_associated = 1)
FROM folders f;
CREATE TRIGGER folders_counts_ai AFTER INSERT ON folders BEGIN
    INSERT OR IGNORE INTO folder_counts (folder_id) VALUES (NEW.id);
END;
CREATE TRIGGER items_counts_ai AFTER INSERT ON items BEGIN
    INSERT OR IGNORE INTO folder_counts (folder_id) VALUES (NEW.folder_id);
    UPDATE folder_counts SET
        total = total + (NEW.is_associated = 0),
        unread = unread + (NEW.is_associated = 0 AND NEW.is_read = 0),
        associated = associated + (NEW.is_associated <> 0)
    WHERE folder_id = NEW.folder_id;
END;
CREATE TRIGGER items_counts_ad AFTER DELETE ON items BEGIN
    UPDATE folder_counts SET
        total = total - (OLD.is_associated = 0),
        unread = unread - (OLD.is_associated = 0 AND OLD.is_read = 0),
        associated = associated - (OLD.is_associated <> 0)
    WHERE folder_id = OLD.folder_id;
END;
CREATE TRIGGER items_counts_au AFTER UPDATE OF folder_id, is_read, is_associated ON items BEGIN
    UPDATE folder_counts SET
        total = total - (OLD.is_associated = 0),
        unread = unread - (OLD.is_associated = 0 AND OLD.is_read = 0),
        associated = associated - (OLD.is_associated <> 0)
    WHERE folder_id = OLD.folder_id;
    INSERT OR IGNORE INTO folder_counts (folder_id) VALUES (NEW.folder_id);
    UPDATE folder_counts SET
        total = total + (NEW.is_associated = 0),
        unread = unread + (NEW.is_associated = 0 AND NEW.is_read = 0),
        associated = associated + (NEW.is_associated <> 0)
    WHERE folder_id = NEW.folder_id;
END;
"#,
    },
    // Synchronization (SyncFolderItems, SyncFolderHierarchy; see `sync.rs`). No new statement on
    // any item write: `events.flags` is one more value in the insert every write already makes.
    Migration {
        version: 3,
        sql: r#"
-- what a sync needs to know of an item that may be gone by the time the event is read:
-- 1 = the item is folder-associated (FAI), 2 = a Modified event that changed the read flag only
ALTER TABLE events ADD COLUMN flags INTEGER NOT NULL DEFAULT 0;

-- last folder event sequence number; folder events are 1..=folder_event_seq without gaps
ALTER TABLE mailboxes ADD COLUMN folder_event_seq INTEGER NOT NULL DEFAULT 0
    CHECK (folder_event_seq >= 0);

-- the folder log: every folder created, changed (name, class) or deleted, in the same
-- transaction as the change. Content changes (counts) are not folder events, as in Exchange,
-- whose SyncFolderHierarchy does not report them.
CREATE TABLE folder_events (
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id),
    seq         INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('Created', 'Deleted', 'Modified')),
    -- no foreign keys: the folder may be gone by the time the event is read
    folder_id   INTEGER NOT NULL,
    parent_id   INTEGER,
    at          INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, seq)
) WITHOUT ROWID;
-- where a deleted folder was (its parent), for deciding whether it was under a synced folder
CREATE INDEX folder_events_folder ON folder_events(mailbox_id, folder_id);
"#,
    },
    // File attachments (EWS CreateAttachment, GetAttachment, DeleteAttachment, and attachments
    // created with their item). What an item shows of them (HasAttachments, its size) is kept on
    // the item by triggers in the same transaction as every attachment write, so reading an item
    // costs no statement more than before, and no code path can let them drift. Attachments never
    // change: a new content is a new attachment.
    Migration {
        version: 4,
        sql: r#"
CREATE TABLE attachments (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id           INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    name              TEXT,
    content_type      TEXT,
    content_id        TEXT,
    is_inline         INTEGER NOT NULL CHECK (is_inline IN (0, 1)),
    is_contact_photo  INTEGER NOT NULL CHECK (is_contact_photo IN (0, 1)),
    size              INTEGER NOT NULL CHECK (size >= 0),
    last_modified     INTEGER NOT NULL,
    -- last, so listing an item's attachments never reads the content's overflow pages
    content           BLOB    NOT NULL
);
-- an item's attachments in the order they were added; the cascade of an item's delete
CREATE INDEX attachments_item ON attachments(item_id, id);

-- per item: attachments, those that are not inline (t:HasAttachments, as Exchange computes it),
-- and their bytes (also counted in items.size)
ALTER TABLE items ADD COLUMN attachment_count INTEGER NOT NULL DEFAULT 0
    CHECK (attachment_count >= 0);
ALTER TABLE items ADD COLUMN attachment_visible INTEGER NOT NULL DEFAULT 0
    CHECK (attachment_visible >= 0);
ALTER TABLE items ADD COLUMN attachment_bytes INTEGER NOT NULL DEFAULT 0
    CHECK (attachment_bytes >= 0);

CREATE TRIGGER attachments_ai AFTER INSERT ON attachments BEGIN
    UPDATE items SET
        attachment_count = attachment_count + 1,
        attachment_visible = attachment_visible + (NEW.is_inline = 0),
        attachment_bytes = attachment_bytes + NEW.size,
        size = size + NEW.size
    WHERE id = NEW.item_id;
END;
CREATE TRIGGER attachments_ad AFTER DELETE ON attachments BEGIN
    UPDATE items SET
        attachment_count = attachment_count - 1,
        attachment_visible = attachment_visible - (OLD.is_inline = 0),
        attachment_bytes = attachment_bytes - OLD.size,
        size = size - OLD.size
    WHERE id = OLD.item_id;
END;
CREATE TRIGGER attachments_bu BEFORE UPDATE ON attachments BEGIN
    SELECT RAISE(ABORT, 'attachments are not changed in place');
END;
"#,
    },
    // Drafts (EWS `t:IsDraft`, MAPI MSGFLAG_UNSENT): a message saved and not yet sent. Only a
    // draft's recipients, sender and MIME content may change (UpdateItem); sending clears it.
    // Items stored before are not drafts: every item this server wrote before was either
    // delivered, sent, or saved by a client that could not change its recipients anyway.
    Migration {
        version: 5,
        sql: r#"
ALTER TABLE items ADD COLUMN is_draft INTEGER NOT NULL DEFAULT 0 CHECK (is_draft IN (0, 1));
"#,
    },
    // Out-of-office settings (EWS Get/SetUserOofSettings) and, per out-of-office period, the
    // senders already sent the automatic reply (each gets one, as in Exchange; a new setting
    // starts a new period).
    Migration {
        version: 6,
        sql: r#"
CREATE TABLE oof_settings (
    mailbox_id         INTEGER PRIMARY KEY REFERENCES mailboxes(id),
    state              TEXT    NOT NULL CHECK (state IN ('Disabled', 'Enabled', 'Scheduled')),
    external_audience  TEXT    NOT NULL CHECK (external_audience IN ('None', 'Known', 'All')),
    start_time         INTEGER,
    end_time           INTEGER,
    internal_reply     TEXT    NOT NULL,
    external_reply     TEXT    NOT NULL,
    CHECK ((start_time IS NULL) = (end_time IS NULL))
);
CREATE TABLE oof_replied (
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id),
    sender      TEXT    NOT NULL COLLATE NOCASE,
    at          INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, sender)
) WITHOUT ROWID;
"#,
    },
    // Folders move (DeleteFolder and EmptyFolder with MoveToDeletedItems: a folder goes under
    // Deleted Items with its subtree). The folder log gets `Moved` entries, the parent before
    // the move, and flags (1 = a descendant of the moved folder: its own parent is unchanged,
    // but where it is in the tree changed, which a SyncFolderHierarchy of a subtree needs).
    // SQLite cannot change a CHECK constraint in place, so the table is rebuilt, entries kept.
    // The item log (`events`) needs no change: a folder event there is a row with flag 8
    // (`item_id` the folder, `folder_id` its parent), in the one sequence notifications follow.
    Migration {
        version: 7,
        sql: r#"
CREATE TABLE folder_events_v7 (
    mailbox_id     INTEGER NOT NULL REFERENCES mailboxes(id),
    seq            INTEGER NOT NULL,
    kind           TEXT    NOT NULL CHECK (kind IN ('Created', 'Deleted', 'Modified', 'Moved')),
    folder_id      INTEGER NOT NULL,
    parent_id      INTEGER,
    at             INTEGER NOT NULL,
    old_parent_id  INTEGER,
    flags          INTEGER NOT NULL DEFAULT 0,
    CHECK ((kind = 'Moved') = (old_parent_id IS NOT NULL)),
    PRIMARY KEY (mailbox_id, seq)
) WITHOUT ROWID;
INSERT INTO folder_events_v7 (mailbox_id, seq, kind, folder_id, parent_id, at)
    SELECT mailbox_id, seq, kind, folder_id, parent_id, at FROM folder_events;
DROP TABLE folder_events;
ALTER TABLE folder_events_v7 RENAME TO folder_events;
CREATE INDEX folder_events_folder ON folder_events(mailbox_id, folder_id);
"#,
    },
    // Free/busy (EWS GetUserAvailability) reads a folder's appointments overlapping a window
    // through `items_folder_start` from the window's start less the folder's longest appointment;
    // this index finds that length with one seek, so an appointment that began long before the
    // window is found without scanning the folder's history.
    Migration {
        version: 8,
        sql: r#"
CREATE INDEX items_folder_span ON items(folder_id, is_associated, (end_time - start_time))
    WHERE start_time IS NOT NULL;
"#,
    },
    // Meetings (calendar items with attendees, and the meeting messages: requests, responses,
    // cancellations). An item's part in a meeting is one JSON value on its row (organizer,
    // attendees with their answers, this copy's own answer, flags), read with the row, so no
    // read costs a statement more; its uid beside it, indexed per mailbox, is how a response
    // or a cancellation finds the organizer's item and each attendee's copy in the write that
    // changes them. Items stored before are not meetings.
    Migration {
        version: 9,
        sql: r#"
ALTER TABLE items ADD COLUMN meeting_json TEXT;
ALTER TABLE items ADD COLUMN meeting_uid TEXT
    CHECK (meeting_uid IS NULL OR meeting_json IS NOT NULL);
CREATE INDEX items_meeting_uid ON items(mailbox_id, meeting_uid)
    WHERE meeting_uid IS NOT NULL;
"#,
    },
    // Recurring series: a calendar item that repeats keeps its rule, its time zone and its
    // deleted occurrences in one JSON value, and when its last occurrence ends (NULL: never)
    // beside it, so a calendar view finds the series that reach into it by an index range.
    // Items stored before are single.
    Migration {
        version: 10,
        sql: r#"
ALTER TABLE items ADD COLUMN series_json TEXT
    CHECK (series_json IS NULL OR start_time IS NOT NULL);
ALTER TABLE items ADD COLUMN series_end INTEGER
    CHECK (series_end IS NULL OR series_json IS NOT NULL);
CREATE INDEX items_folder_series ON items(folder_id, is_associated, start_time)
    WHERE series_json IS NOT NULL;
"#,
    },
    // Contacts: a contact's own properties (names, email addresses, phone numbers, postal
    // addresses, …) in one JSON value the EWS layer reads and writes; other items have none.
    Migration {
        version: 11,
        sql: r#"
ALTER TABLE items ADD COLUMN contact_json TEXT;
"#,
    },
    // Tasks: a task's own properties (status, dates, percent complete, work, …) in one JSON value
    // the EWS layer reads and writes, as contacts'.
    Migration {
        version: 12,
        sql: r#"
ALTER TABLE items ADD COLUMN task_json TEXT;
"#,
    },
    // Junk email: whether a mailbox's junk email rule runs (absent: it does), and its blocked
    // and trusted senders and domains (`crate::junk`).
    Migration {
        version: 13,
        sql: r#"
CREATE TABLE junk_settings (
    mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    enabled INTEGER NOT NULL
);
CREATE TABLE junk_entries (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    list TEXT NOT NULL CHECK (list IN ('blocked', 'trusted')),
    entry TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, list, entry)
) WITHOUT ROWID;
"#,
    },
    // Inbox rules (`crate::rules`): each rule as JSON, in priority order 1, 2, 3, …
    Migration {
        version: 14,
        sql: r#"
CREATE TABLE inbox_rules (
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    rule_id TEXT NOT NULL,
    priority INTEGER NOT NULL,
    rule_json TEXT NOT NULL,
    PRIMARY KEY (mailbox_id, rule_id),
    UNIQUE (mailbox_id, priority)
) WITHOUT ROWID;
"#,
    },
    // Item attachments (EWS `t:ItemAttachment`): an attachment whose content is an attached item,
    // as the EWS layer serializes it (the store does not read inside it). Counted, sized, moved,
    // copied and deleted as file attachments are.
    Migration {
        version: 15,
        sql: r#"
ALTER TABLE attachments ADD COLUMN is_item INTEGER NOT NULL DEFAULT 0 CHECK (is_item IN (0, 1));
"#,
    },
    // Delegates (`crate::delegates`): per mailbox, each delegate (by its own mailbox key) with
    // its permission on the six delegate folders, in the order added; and where the mailbox's
    // meeting requests go.
    Migration {
        version: 16,
        sql: r#"
CREATE TABLE delegates (
    mailbox_id     INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    delegate_key   TEXT    NOT NULL,
    position       INTEGER NOT NULL,
    calendar       TEXT    NOT NULL CHECK (calendar IN ('None', 'Reviewer', 'Author', 'Editor')),
    tasks          TEXT    NOT NULL CHECK (tasks IN ('None', 'Reviewer', 'Author', 'Editor')),
    inbox          TEXT    NOT NULL CHECK (inbox IN ('None', 'Reviewer', 'Author', 'Editor')),
    contacts       TEXT    NOT NULL CHECK (contacts IN ('None', 'Reviewer', 'Author', 'Editor')),
    notes          TEXT    NOT NULL CHECK (notes IN ('None', 'Reviewer', 'Author', 'Editor')),
    journal        TEXT    NOT NULL CHECK (journal IN ('None', 'Reviewer', 'Author', 'Editor')),
    receive_copies INTEGER NOT NULL CHECK (receive_copies IN (0, 1)),
    view_private   INTEGER NOT NULL CHECK (view_private IN (0, 1)),
    PRIMARY KEY (mailbox_id, delegate_key)
) WITHOUT ROWID;
CREATE TABLE delegate_settings (
    mailbox_id INTEGER PRIMARY KEY REFERENCES mailboxes(id) ON DELETE CASCADE,
    deliver_meeting_requests TEXT NOT NULL CHECK (deliver_meeting_requests IN
        ('DelegatesOnly', 'DelegatesAndMe', 'DelegatesAndSendInformationToMe', 'NoForward'))
);
"#,
    },
];

/// The default folder tree: (distinguished name, parent's distinguished name, display name, class).
/// `root` is the non-IPM root; `msgfolderroot` ("Top of Information Store") is the IPM subtree the
/// user sees; Recoverable Items sits outside it, under `root`.
pub(crate) const DEFAULT_FOLDERS: &[(&str, Option<&str>, &str, Option<&str>)] = &[
    ("root", None, "root", None),
    (
        "msgfolderroot",
        Some("root"),
        "Top of Information Store",
        None,
    ),
    ("inbox", Some("msgfolderroot"), "Inbox", Some("IPF.Note")),
    (
        "sentitems",
        Some("msgfolderroot"),
        "Sent Items",
        Some("IPF.Note"),
    ),
    (
        "deleteditems",
        Some("msgfolderroot"),
        "Deleted Items",
        Some("IPF.Note"),
    ),
    ("drafts", Some("msgfolderroot"), "Drafts", Some("IPF.Note")),
    ("outbox", Some("msgfolderroot"), "Outbox", Some("IPF.Note")),
    (
        "junkemail",
        Some("msgfolderroot"),
        "Junk Email",
        Some("IPF.Note"),
    ),
    (
        "calendar",
        Some("msgfolderroot"),
        "Calendar",
        Some("IPF.Appointment"),
    ),
    (
        "contacts",
        Some("msgfolderroot"),
        "Contacts",
        Some("IPF.Contact"),
    ),
    ("tasks", Some("msgfolderroot"), "Tasks", Some("IPF.Task")),
    (
        "notes",
        Some("msgfolderroot"),
        "Notes",
        Some("IPF.StickyNote"),
    ),
    (
        "journal",
        Some("msgfolderroot"),
        "Journal",
        Some("IPF.Journal"),
    ),
    (
        "conversationhistory",
        Some("msgfolderroot"),
        "Conversation History",
        Some("IPF.Note"),
    ),
    (
        "voicemail",
        Some("msgfolderroot"),
        "Voice Mail",
        Some("IPF.Note.Microsoft.Voicemail"),
    ),
    (
        "recoverableitemsroot",
        Some("root"),
        "Recoverable Items",
        None,
    ),
    (
        "recoverableitemsdeletions",
        Some("recoverableitemsroot"),
        "Deletions",
        None,
    ),
    (
        "recoverableitemsversions",
        Some("recoverableitemsroot"),
        "Versions",
        None,
    ),
    (
        "recoverableitemspurges",
        Some("recoverableitemsroot"),
        "Purges",
        None,
    ),
    (
        "recoverableitemsdiscoveryholds",
        Some("recoverableitemsroot"),
        "DiscoveryHolds",
        None,
    ),
    ("searchfolders", Some("root"), "Finder", None),
];

/// The distinguished folders under Recoverable Items (the dumpster), root included.
pub(crate) const RECOVERABLE_FOLDERS: &[&str] = &[
    "recoverableitemsroot",
    "recoverableitemsdeletions",
    "recoverableitemsversions",
    "recoverableitemspurges",
    "recoverableitemsdiscoveryholds",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply() {
        store::Db::open_in_memory(MIGRATIONS).unwrap();
    }

    /// A store at `path` with the first `migrations` migrations and one item (a mailbox, its
    /// root folder, a message): what a later migration finds in an existing store.
    fn one_item_at(path: &std::path::Path, migrations: usize) {
        use crate::error::MailboxError;
        let db = store::Db::open(path, &MIGRATIONS[..migrations]).unwrap();
        db.call_blocking(|c| {
            c.execute_batch(
                "INSERT INTO mailboxes (key, created) VALUES ('k', 0);
                 INSERT INTO folders (mailbox_id, parent_id, distinguished, display_name,
                     change_number, last_modified) VALUES (1, NULL, 'root', 'root', 1, 0);
                 INSERT INTO items (mailbox_id, folder_id, is_associated, item_class, to_json,
                     cc_json, bcc_json, importance, sensitivity, categories_json, is_read,
                     created, received, last_modified, size, change_number)
                 VALUES (1, 1, 0, 'IPM.Note', '[]', '[]', '[]', 'Normal', 'Normal', '[]', 0,
                     0, 0, 0, 10, 2);",
            )
            .map_err(MailboxError::from)
        })
        .unwrap();
    }

    /// Migration 5 on a store that has items: they are not drafts (the flag is 0 or 1 only).
    #[test]
    fn drafts_migrate_onto_existing_items() {
        use crate::error::MailboxError;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        one_item_at(&path, 4);
        let db = store::Db::open(&path, MIGRATIONS).unwrap();
        let (flag, refused) = db
            .call_blocking(|c| {
                let flag: i64 = c.query_row("SELECT is_draft FROM items", [], |r| r.get(0))?;
                let refused = c.execute("UPDATE items SET is_draft = 2", []).is_err();
                Ok::<_, MailboxError>((flag, refused))
            })
            .unwrap();
        assert_eq!(flag, 0);
        assert!(refused, "the flag is 0 or 1");
    }

    /// Migration 4 on a store that has items: they have no attachments, and from then on the
    /// triggers keep what an item shows of its attachments (counts, bytes, size), attachments
    /// cannot change in place, and go with their item.
    #[test]
    fn attachments_migrate_onto_existing_items() {
        use crate::error::MailboxError;
        type Counts = (i64, i64, i64, i64);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        one_item_at(&path, 3);
        let db = store::Db::open(&path, MIGRATIONS).unwrap();
        let counts = |c: &rusqlite::Connection| -> rusqlite::Result<Counts> {
            c.query_row(
                "SELECT attachment_count, attachment_visible, attachment_bytes, size FROM items",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
        };
        let (before, added, deleted, changed, left) = db
            .call_blocking(|c| {
                let before = counts(c)?;
                let add = "INSERT INTO attachments (item_id, is_inline, is_contact_photo, size, \
                           last_modified, content) VALUES (1, ?1, 0, ?2, 0, zeroblob(?2))";
                c.execute(add, rusqlite::params![false, 3])?;
                c.execute(add, rusqlite::params![true, 2])?;
                let added = counts(c)?;
                c.execute("DELETE FROM attachments WHERE is_inline = 0", [])?;
                let deleted = counts(c)?;
                let changed = c.execute("UPDATE attachments SET size = 1", []).is_ok();
                c.execute("DELETE FROM items", [])?;
                let left: i64 =
                    c.query_row("SELECT COUNT(*) FROM attachments", [], |r| r.get(0))?;
                Ok::<_, MailboxError>((before, added, deleted, changed, left))
            })
            .unwrap();
        assert_eq!(before, (0, 0, 0, 10));
        assert_eq!(added, (2, 1, 5, 15));
        assert_eq!(deleted, (1, 0, 2, 12));
        assert!(!changed, "an attachment was changed in place");
        assert_eq!(left, 0);
    }

    /// Migration 7 rebuilds the folder log for moves: every entry of a store of version 6 is
    /// kept with its sequence number (sync states stay valid), with no old parent and no flags;
    /// a `Moved` entry must name the parent it left, and no other kind may.
    #[test]
    fn the_folder_log_migrates_to_moves() {
        use crate::error::MailboxError;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        {
            let db = store::Db::open(&path, &MIGRATIONS[..6]).unwrap();
            db.call_blocking(|c| {
                c.execute_batch(
                    "INSERT INTO mailboxes (key, created, folder_event_seq) VALUES ('k', 0, 2);
                     INSERT INTO folder_events (mailbox_id, seq, kind, folder_id, parent_id, at)
                     VALUES (1, 1, 'Created', 7, 1, 10), (1, 2, 'Deleted', 7, 1, 20);",
                )
                .map_err(MailboxError::from)
            })
            .unwrap();
        }
        let db = store::Db::open(&path, MIGRATIONS).unwrap();
        let (rows, moved_ok, moved_bare, created_with_old) = db
            .call_blocking(|c| {
                let rows: Vec<(i64, String, i64, Option<i64>, i64)> = c
                    .prepare(
                        "SELECT seq, kind, at, old_parent_id, flags FROM folder_events \
                         ORDER BY seq",
                    )?
                    .query_map([], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                    })?
                    .collect::<Result<_, _>>()?;
                let add = |sql: &str| c.execute(sql, []).is_ok();
                let moved_ok = add(
                    "INSERT INTO folder_events (mailbox_id, seq, kind, folder_id, parent_id, at, \
                     old_parent_id, flags) VALUES (1, 3, 'Moved', 8, 2, 30, 1, 0)",
                );
                let moved_bare = add(
                    "INSERT INTO folder_events (mailbox_id, seq, kind, folder_id, parent_id, at) \
                     VALUES (1, 4, 'Moved', 8, 2, 30)",
                );
                let created_with_old = add(
                    "INSERT INTO folder_events (mailbox_id, seq, kind, folder_id, parent_id, at, \
                     old_parent_id) VALUES (1, 5, 'Created', 9, 2, 30, 1)",
                );
                Ok::<_, MailboxError>((rows, moved_ok, moved_bare, created_with_old))
            })
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, "Created".to_owned(), 10, None, 0),
                (2, "Deleted".to_owned(), 20, None, 0)
            ]
        );
        assert!(moved_ok);
        assert!(!moved_bare, "a move names the parent it left");
        assert!(!created_with_old, "only a move names an old parent");
    }

    /// Migration 9 on a store that has items: they are no meetings, and a uid is never stored
    /// without the meeting it names.
    #[test]
    fn meetings_migrate_onto_existing_items() {
        use crate::error::MailboxError;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        one_item_at(&path, 8);
        let db = store::Db::open(&path, MIGRATIONS).unwrap();
        let (json, uid, bare_uid, both) = db
            .call_blocking(|c| {
                let (json, uid): (Option<String>, Option<String>) =
                    c.query_row("SELECT meeting_json, meeting_uid FROM items", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?;
                let bare_uid = c.execute("UPDATE items SET meeting_uid = 'U1'", []).is_ok();
                let both = c
                    .execute(
                        "UPDATE items SET meeting_json = '{}', meeting_uid = 'U1'",
                        [],
                    )
                    .is_ok();
                Ok::<_, MailboxError>((json, uid, bare_uid, both))
            })
            .unwrap();
        assert_eq!((json, uid), (None, None));
        assert!(!bare_uid, "a uid without its meeting");
        assert!(both);
    }

    /// The Recoverable Items list is exactly the provisioned folders at or under its root.
    #[test]
    fn recoverable_folders_are_the_dumpster_subtree() {
        let mut under: Vec<&str> = Vec::new();
        for (name, parent, _, _) in DEFAULT_FOLDERS {
            if *name == "recoverableitemsroot" || parent.is_some_and(|p| under.contains(&p)) {
                under.push(name);
            }
        }
        under.sort_unstable();
        let mut listed = RECOVERABLE_FOLDERS.to_vec();
        listed.sort_unstable();
        assert_eq!(under, listed);
    }

    #[test]
    fn default_tree_parents_come_first() {
        let mut seen: Vec<&str> = Vec::new();
        for (name, parent, _, _) in DEFAULT_FOLDERS {
            if let Some(p) = parent {
                assert!(seen.contains(p), "{name} before its parent {p}");
            }
            assert!(!seen.contains(name), "{name} twice");
            seen.push(name);
        }
    }
}
