//! Input bounds. Exceeding one is an error, never a silent truncation (paging sizes excepted).

/// Items per `create_items` call, ids per `get_items`/`delete_items` call.
pub const MAX_ITEMS_PER_CALL: usize = 1000;
/// Items one write of DeleteFolder or EmptyFolder deletes or moves at most: emptying a folder
/// of any size is as many short writes of the group commit as it needs, never one long one.
pub const MAX_FOLDER_ITEMS_PER_WRITE: usize = 1000;
/// Largest page a find returns; larger `max` values are clamped (Exchange's default find limit).
pub const MAX_PAGE_SIZE: usize = 1000;
/// Subject, in bytes of UTF-8.
pub const MAX_SUBJECT_BYTES: usize = 64 * 1024;
/// Body content, in bytes of UTF-8.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Each user-configuration stream (binary data, XML data), in bytes.
pub const MAX_CONFIG_STREAM_BYTES: usize = 32 * 1024 * 1024;
/// A user-configuration dictionary, serialised.
pub const MAX_DICTIONARY_BYTES: usize = 4 * 1024 * 1024;
/// Entries in a user-configuration dictionary.
pub const MAX_DICTIONARY_ENTRIES: usize = 10_000;
/// Sum of subjects, bodies, extended values and streams written by one call.
pub const MAX_BATCH_BYTES: usize = 128 * 1024 * 1024;
/// Recipients (to + cc + bcc) per item.
pub const MAX_RECIPIENTS: usize = 5000;
/// Recipients (To + Cc + Bcc) of a message that is sent, and mailboxes one send delivers to
/// (Exchange's default `MaxRecipientEnvelopeLimit`).
pub const MAX_RECIPIENTS_PER_MESSAGE: usize = 500;
/// Attendees (required, optional, resources together) of one meeting: what one meeting request
/// is sent to at most, as a message's recipients ([`MAX_RECIPIENTS_PER_MESSAGE`]).
pub const MAX_ATTENDEES: usize = MAX_RECIPIENTS_PER_MESSAGE;
/// Longest recurrence rule or series time zone text kept with a series.
pub const MAX_SERIES_TEXT_BYTES: usize = 8 * 1024;
/// A contact's or a task's own properties as the EWS layer keeps them (JSON), in bytes.
pub const MAX_CONTACT_BYTES: usize = 256 * 1024;
/// Most deleted occurrences one series records (Exchange's own numbered series end at 999).
pub const MAX_DELETED_OCCURRENCES: usize = 1000;
/// A meeting's uid (EWS `calendar:UID`), in bytes.
pub const MAX_UID_BYTES: usize = 1024;
/// A recipient's name or address, an internet message id, a location, in bytes.
pub const MAX_SHORT_STRING_BYTES: usize = 2048;
/// Categories per item, and the length of each (characters).
pub const MAX_CATEGORIES: usize = 256;
pub const MAX_CATEGORY_CHARS: usize = 255;
/// Extended properties per item, key length, value length (bytes).
pub const MAX_EXTENDED_PROPERTIES: usize = 512;
pub const MAX_EXTENDED_KEY_BYTES: usize = 512;
pub const MAX_EXTENDED_VALUE_BYTES: usize = 1024 * 1024;
/// Item class (printable ASCII).
pub const MAX_ITEM_CLASS_BYTES: usize = 255;
/// User configuration name (`[A-Za-z0-9._-]`).
pub const MAX_CONFIG_NAME_CHARS: usize = 236;
/// Folder display name (characters).
pub const MAX_FOLDER_NAME_CHARS: usize = 255;
/// How deep folders nest: the levels between the mailbox's root and its deepest folder
/// (CreateFolder and MoveFolder keep to it; a folder's ancestors are read in loops bounded by
/// it).
pub const MAX_FOLDER_DEPTH: usize = 60;
/// The most items (normal and associated, in the folder and every folder under it) one
/// CopyFolder copies, in its one transaction.
pub const MAX_COPY_FOLDER_ITEMS: usize = 10_000;
/// Restriction tree: nesting depth and total nodes.
pub const MAX_FILTER_DEPTH: usize = 32;
pub const MAX_FILTER_NODES: usize = 256;
/// Events returned by one `events_since` call.
pub const MAX_EVENTS_PER_CALL: usize = 1000;
/// Changes one SyncFolderItems call returns at most (EWS `MaxSyncChangesReturnedType` is 1–512),
/// and one SyncFolderHierarchy call (which has no such argument).
pub const MAX_SYNC_CHANGES: usize = 512;
/// Longest sync state accepted, in characters (the ones this store hands out are under 400).
pub const MAX_SYNC_STATE_CHARS: usize = 1024;
/// Log entries one sync call reads at most, of every folder of the mailbox: a call past it
/// answers what it found with `IncludesLastItemInRange` false, and the next one goes on.
pub const MAX_SYNC_EVENTS_SCANNED: usize = 10_000;
/// Each file attachment's content, in bytes: what one EWS request can carry (the server reads at
/// most 16 MiB of request body, which holds at most 12 MiB of content base64-encoded), so every
/// attachment a client can send fits; below Exchange's default 25 MB message size limit.
pub const MAX_ATTACHMENT_BYTES: usize = 12 * 1024 * 1024;
/// File attachments one item holds.
pub const MAX_ATTACHMENTS_PER_ITEM: usize = 250;
/// The file attachments of one item together, in bytes (Exchange's default MaxSendSize, 25 MB):
/// an item grows past one request's worth only through several CreateAttachment calls.
pub const MAX_ITEM_ATTACHMENT_BYTES: usize = 25 * 1024 * 1024;
/// An attachment's name, in characters (no control characters).
pub const MAX_ATTACHMENT_NAME_CHARS: usize = 255;
/// Most attachment content one `get_attachments` call reads before it answers the remaining ids
/// with `ResponseBudgetExceeded` (as GetItem's item content).
pub const MAX_GET_ATTACHMENTS_BYTES: usize = 64 << 20;
/// Log entries (item and folder events together) one write of the retention's pruning deletes
/// at most ([`crate::MailboxStore::prune_logs_before`]): a pass is as many short writes as it
/// needs, each one savepoint of a group commit, so it never holds the writer for long.
pub const MAX_PRUNE_ROWS_PER_WRITE: usize = 10_000;
/// Mailboxes one write of the pruning looks at, at most (each costs two indexed look-ups when
/// it has nothing to prune).
pub const MAX_PRUNE_MAILBOXES_PER_WRITE: usize = 1_000;

/// Longest out-of-office reply (internal or external), in bytes.
pub const MAX_OOF_REPLY_BYTES: usize = 128 * 1024;
/// Most senders one out-of-office period remembers having replied to (past it, the oldest are
/// forgotten, so a sender may get a second reply rather than the table growing without bound).
pub const MAX_OOF_REPLIED: usize = 10_000;

/// Mailboxes one free/busy read covers (EWS GetUserAvailability's limit).
pub const MAX_FREE_BUSY_MAILBOXES: usize = 100;
/// Appointments of one mailbox a free/busy read returns at most (Exchange's default maximum of
/// appointments in one availability query); past it, that mailbox fails.
pub const MAX_FREE_BUSY_EVENTS: usize = 10_000;
/// Appointments one free/busy read returns at most, all its mailboxes together.
pub const MAX_FREE_BUSY_EVENTS_PER_CALL: usize = 100_000;
/// Subjects and locations one free/busy read returns at most, in bytes (detailed views).
pub const MAX_FREE_BUSY_DETAIL_BYTES: usize = 16 << 20;
