//! The durable mailbox store behind EWS, independent of XML and HTTP.
//!
//! A [`MailboxStore`] holds any number of mailboxes, each named by a directory-owned
//! [`MailboxKey`]. [`MailboxStore::ensure_mailbox`] provisions the default folder tree:
//!
//! ```text
//! root                                   (non-IPM root; user configurations such as UM greetings)
//! ├── Top of Information Store           msgfolderroot (the IPM subtree)
//! │   ├── Inbox, Sent Items, Deleted Items, Drafts, Outbox, Junk Email        IPF.Note
//! │   ├── Calendar IPF.Appointment, Contacts IPF.Contact, Tasks IPF.Task,
//! │   │   Notes IPF.StickyNote, Journal IPF.Journal
//! │   ├── Conversation History           conversationhistory   IPF.Note
//! │   └── Voice Mail                     voicemail             IPF.Note.Microsoft.Voicemail
//! ├── Recoverable Items                  recoverableitemsroot (outside the IPM subtree)
//! │   └── Deletions, Versions, Purges, DiscoveryHolds
//! └── Finder                             searchfolders
//! ```
//!
//! Guarantees (spec `security.md` §5):
//! - every operation is one SQLite transaction; a write returns only after `COMMIT` with WAL and
//!   `synchronous=FULL`, so an acknowledged write survives `kill -9` and power loss;
//! - a failing write (e.g. one invalid item in a `create_items` batch) writes nothing and
//!   advances no counter: ids, change numbers and event sequence numbers all roll back;
//! - ids are `AUTOINCREMENT` rowids, never reused; change numbers and event sequence numbers are
//!   per-mailbox, strictly increasing and gapless at commit;
//! - counts are computed from indexes inside the reading transaction and cannot drift;
//! - every create, delete, move and modification of an item appends an [`Event`] in the same
//!   transaction, and every folder created, changed (name, class), moved or deleted a folder
//!   event (the log SyncFolderHierarchy follows) and an [`Event`] about the folder
//!   ([`EventObject::Folder`]), so notifications read item and folder events in one sequence;
//! - the logs are pruned by age only ([`MailboxStore::prune_logs_before`]), oldest first, and
//!   reading on from a position whose next entry went is refused (a sync state with
//!   `ErrorInvalidSyncStateData`, a watermark with `ErrorInvalidWatermark`), never answered with
//!   what remains.
//!
//! Ids handed to clients are opaque URL-safe base64 carrying (mailbox key, local id); see
//! [`mailbox_of_id`]. Every lookup is scoped to the mailbox the caller names, so an id of another
//! mailbox is "not found" and garbage is [`MailboxError::InvalidIdMalformed`].
//!
//! Synchronization (EWS SyncFolderItems, SyncFolderHierarchy): [`MailboxStore::sync_folder_items`]
//! and [`MailboxStore::sync_folder_hierarchy`] over the item and folder logs; see [`sync`].
//!
//! File attachments ([`MailboxStore::create_attachments`], [`MailboxStore::get_attachments`],
//! [`MailboxStore::delete_attachments`], and [`NewItem::attachments`] stored with their item): see
//! `attachments.rs`. They move, copy and delete with their item; each addition or deletion is a
//! change of the item (change key, `Modified` event).
//!
//! Sending ([`MailboxStore::send_new`], [`MailboxStore::send_item`]): the sender's side and a
//! copy in each recipient mailbox's Inbox (unread, no Bcc line, Created events in that mailbox),
//! in one transaction across mailboxes; see `send.rs`.
//!
//! Meetings ([`MailboxStore::create_meeting`], [`MailboxStore::respond_to_meeting`],
//! [`MailboxStore::cancel_meeting`], [`MailboxStore::update_meeting`]): an item's part in a
//! meeting ([`Meeting`]) is stored with it; invitations, answers, cancellations and updates
//! each write every mailbox they touch in one transaction, finding the other copies by the
//! meeting's uid; see `meeting.rs`.
//!
//! Free/busy ([`MailboxStore::free_busy`]): the appointments of mailboxes' Calendar folders in a
//! window, one indexed statement per mailbox in one read transaction; see `freebusy.rs`.
//!
//! Bulk transfer ([`MailboxStore::upload_item`]): an item written whole, with its received
//! time, as a new item or in place of one of the folder (same id); see `upload.rs`.
//!
//! Idempotent delivery: [`MailboxStore::find_by_internet_message_id`] (indexed on
//! `(folder, internet_message_id)`) and [`MailboxStore::create_items_idempotent`], which checks
//! and inserts in the same write transaction so a retried delivery is stored once.
#![forbid(unsafe_code)]

mod attachments;
pub mod delegates;
mod error;
mod filter;
mod folder_delete;
mod freebusy;
mod ids;
mod items;
mod junk;
pub mod limits;
mod meeting;
mod model;
mod oof;
mod rules;
mod schema;
mod send;
mod store;
pub mod sync;
mod upload;
mod userconfig;

pub use delegates::{
    Delegate, DelegateChange, DelegateFolder, DelegateLevel, Delegation, MeetingDelivery,
};
pub use error::MailboxError;
pub use filter::{Bag, CompareOp, ContainmentMode, Field, Filter, Value};
pub use freebusy::{Appointment, AppointmentDetails, FreeBusyRead};
pub use ids::{mailbox_of_id, occurrence_id, parse_occurrence_id};
pub use junk::{JunkChange, JunkListEdit, JunkSettings, MAX_JUNK_ENTRIES, junk_entry};
pub use meeting::{Cancel, Cancelled, Invite, Invited, Reply, Responded};
pub use model::{
    Attachment, AttachmentInfo, AttachmentRoot, AttachmentsCreated, Attendee, AttendeeEdit, Body,
    BodyType, Calendar, Created, DeleteMode, DictEntry, DictValue, Event, EventKind, EventObject,
    Exception, FindSpec, Folder, FolderSel, FreeBusy, Importance, Item, ItemGuard, ItemUpdate,
    MailboxCounters, MailboxKey, Meeting, NewAttachment, NewItem, Page, Paging, Pruned, Recipient,
    RecipientEdit, Representing, ResponseType, Sensitivity, Series, SortField, SortOrder,
    StoredUserConfig, UserConfig, normalize_time,
};
pub use oof::{Delivered, ExternalAudience, OofReplies, OofSettings, OofState};
pub use rules::{
    AUTO_FORWARDED_KEY, ForwardKind, InboxRule, MAX_RULE_STRING_CHARS, MAX_RULE_STRINGS, MAX_RULES,
    RuleActions, RuleConditions, RuleForward, RuleOp, RuleOpError,
};
pub use send::{Answered, Send, Sent};
pub use store::{Clock, MailboxStore};
pub use sync::{FolderChange, ItemChange, ItemSync, SyncPage, SyncScope};
pub use upload::{UploadContent, UploadTarget, Uploaded};

/// EWS distinguished folder names this store provisions.
pub mod distinguished {
    /// Is the distinguished folder `name` under Recoverable Items (the dumpster, its root
    /// included)? The one rule for where ArchiveApplication is needed: the store's write guard
    /// and Exchange's authorization both read it.
    pub fn is_recoverable_items(name: &str) -> bool {
        crate::schema::RECOVERABLE_FOLDERS.contains(&name)
    }

    pub const ROOT: &str = "root";
    pub const MSGFOLDERROOT: &str = "msgfolderroot";
    pub const INBOX: &str = "inbox";
    pub const SENT_ITEMS: &str = "sentitems";
    pub const DELETED_ITEMS: &str = "deleteditems";
    pub const DRAFTS: &str = "drafts";
    pub const OUTBOX: &str = "outbox";
    pub const JUNK_EMAIL: &str = "junkemail";
    pub const CALENDAR: &str = "calendar";
    pub const CONTACTS: &str = "contacts";
    pub const TASKS: &str = "tasks";
    pub const NOTES: &str = "notes";
    pub const JOURNAL: &str = "journal";
    pub const CONVERSATION_HISTORY: &str = "conversationhistory";
    pub const VOICE_MAIL: &str = "voicemail";
    pub const RECOVERABLE_ITEMS_ROOT: &str = "recoverableitemsroot";
    pub const RECOVERABLE_ITEMS_DELETIONS: &str = "recoverableitemsdeletions";
    pub const RECOVERABLE_ITEMS_VERSIONS: &str = "recoverableitemsversions";
    pub const RECOVERABLE_ITEMS_PURGES: &str = "recoverableitemspurges";
    pub const RECOVERABLE_ITEMS_DISCOVERY_HOLDS: &str = "recoverableitemsdiscoveryholds";
    pub const SEARCH_FOLDERS: &str = "searchfolders";

    /// All of them, in provisioning order (parents first).
    pub const ALL: &[&str] = &[
        ROOT,
        MSGFOLDERROOT,
        INBOX,
        SENT_ITEMS,
        DELETED_ITEMS,
        DRAFTS,
        OUTBOX,
        JUNK_EMAIL,
        CALENDAR,
        CONTACTS,
        TASKS,
        NOTES,
        JOURNAL,
        CONVERSATION_HISTORY,
        VOICE_MAIL,
        RECOVERABLE_ITEMS_ROOT,
        RECOVERABLE_ITEMS_DELETIONS,
        RECOVERABLE_ITEMS_VERSIONS,
        RECOVERABLE_ITEMS_PURGES,
        RECOVERABLE_ITEMS_DISCOVERY_HOLDS,
        SEARCH_FOLDERS,
    ];

    #[cfg(test)]
    #[test]
    fn matches_the_schema() {
        let schema: Vec<&str> = crate::schema::DEFAULT_FOLDERS.iter().map(|f| f.0).collect();
        assert_eq!(schema, ALL);
    }
}
