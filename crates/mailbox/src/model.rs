//! The public data model: what callers hand in and what they get back.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::MailboxError;
use crate::filter::Filter;

/// The stable identity of a mailbox, owned by the directory (e.g. the mailbox GUID).
///
/// 1–255 bytes of UTF-8 without control characters. It is embedded in every folder and item id the
/// store mints, so an id presented against the wrong mailbox is recognised as foreign.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxKey(String);

impl MailboxKey {
    /// Longest accepted key, in bytes.
    pub const MAX_LEN: usize = 255;

    /// Validates and wraps a key.
    pub fn new(key: impl Into<String>) -> Result<MailboxKey, MailboxError> {
        let key = key.into();
        if key.is_empty() || key.len() > Self::MAX_LEN {
            return Err(MailboxError::InvalidRequest(format!(
                "a mailbox key must be 1 to {} bytes",
                Self::MAX_LEN
            )));
        }
        if key.chars().any(char::is_control) {
            return Err(MailboxError::InvalidRequest(
                "a mailbox key must not contain control characters".into(),
            ));
        }
        Ok(MailboxKey(key))
    }

    /// The key as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for MailboxKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Names a folder: by EWS distinguished name (`inbox`, `recoverableitemspurges`, ...) or by an
/// opaque id this store minted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FolderSel {
    Distinguished(String),
    Id(String),
}

impl FolderSel {
    pub fn distinguished(name: impl Into<String>) -> FolderSel {
        FolderSel::Distinguished(name.into())
    }

    pub fn id(id: impl Into<String>) -> FolderSel {
        FolderSel::Id(id.into())
    }
}

/// A folder with live counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    /// Opaque id (`t:FolderId/@Id`).
    pub id: String,
    /// Changes whenever the folder or its contents change (`t:FolderId/@ChangeKey`).
    pub change_key: String,
    /// `None` only for `root`.
    pub parent_id: Option<String>,
    /// EWS distinguished name, for the default folders.
    pub distinguished: Option<String>,
    pub display_name: String,
    pub folder_class: Option<String>,
    /// Normal (non-associated) items.
    pub total_count: u64,
    /// Unread normal items.
    pub unread_count: u64,
    /// Associated (FAI) items, e.g. user configurations (MAPI 0x3617).
    pub associated_count: u64,
    pub child_folder_count: u64,
    /// The mailbox change number of the last change to the folder or its contents.
    pub change_number: u64,
    pub last_modified: OffsetDateTime,
}

/// One page of a find.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Index, counted from the beginning of the whole view, of the first entry in `items`
    /// (`IndexedPagingOffset`).
    pub offset: usize,
    /// Entries in the whole view (`TotalItemsInView`).
    pub total: usize,
    /// No further entries in the paging direction (`IncludesLastItemInRange`): from the beginning,
    /// the page reaches the end of the view; from the end, it reaches index 0.
    pub includes_last: bool,
}

/// Which slice of a view to return (`IndexedPageItemView`/`IndexedPageFolderView`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// Entries to skip from the base point.
    pub offset: usize,
    /// At most this many entries (1..=[`crate::limits::MAX_PAGE_SIZE`]; larger values are clamped).
    pub max: usize,
    /// `BasePoint="End"`: count `offset` back from the end; entries still come in view order.
    pub from_end: bool,
}

impl Paging {
    /// The first `max` entries.
    pub fn first(max: usize) -> Paging {
        Paging {
            offset: 0,
            max,
            from_end: false,
        }
    }

    /// `max` entries starting `offset` entries from the beginning.
    pub fn at(offset: usize, max: usize) -> Paging {
        Paging {
            offset,
            max,
            from_end: false,
        }
    }

    /// `max` entries ending `offset` entries before the end.
    pub fn from_end(offset: usize, max: usize) -> Paging {
        Paging {
            offset,
            max,
            from_end: true,
        }
    }
}

impl Default for Paging {
    fn default() -> Self {
        Paging::first(crate::limits::MAX_PAGE_SIZE)
    }
}

/// `t:Body/@BodyType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BodyType {
    Text,
    Html,
}

impl BodyType {
    pub(crate) fn as_db(self) -> &'static str {
        match self {
            BodyType::Text => "Text",
            BodyType::Html => "HTML",
        }
    }

    pub(crate) fn from_db(s: &str) -> Result<BodyType, MailboxError> {
        match s {
            "Text" => Ok(BodyType::Text),
            "HTML" => Ok(BodyType::Html),
            other => Err(MailboxError::Corrupt(format!("body type {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub body_type: BodyType,
    pub content: String,
}

/// A mailbox on an address line (`t:Mailbox`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Recipient {
    pub name: Option<String>,
    pub email: String,
}

impl Recipient {
    pub fn new(name: Option<&str>, email: &str) -> Recipient {
        Recipient {
            name: name.map(str::to_owned),
            email: email.to_owned(),
        }
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? } default $default:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The EWS spelling.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the EWS spelling (exact match).
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }

            pub(crate) fn from_db(s: &str) -> Result<$name, MailboxError> {
                $name::parse(s).ok_or_else(|| {
                    MailboxError::Corrupt(format!(concat!(stringify!($name), " {:?}"), s))
                })
            }
        }

        impl Default for $name {
            fn default() -> Self { $name::$default }
        }
    };
}

string_enum!(
    /// `t:Importance`.
    Importance { Low = "Low", Normal = "Normal", High = "High" } default Normal
);
string_enum!(
    /// `t:Sensitivity`.
    Sensitivity { Normal = "Normal", Personal = "Personal", Private = "Private", Confidential = "Confidential" } default Normal
);
string_enum!(
    /// `t:LegacyFreeBusyStatus`.
    FreeBusy {
        Free = "Free",
        Tentative = "Tentative",
        Busy = "Busy",
        Oof = "OOF",
        WorkingElsewhere = "WorkingElsewhere",
        NoData = "NoData",
    } default Busy
);

/// Calendar fields of an appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub is_all_day: bool,
    pub legacy_free_busy_status: FreeBusy,
    pub location: Option<String>,
    /// A recurring series (EWS `RecurringMaster`): `start` and `end` are its first occurrence's.
    pub recurrence: Option<Series>,
}

/// A recurring series as the store keeps it: the rule and the time zone are the EWS layer's text,
/// kept and read back as given (the store does not expand a series; the EWS layer does, from
/// what a calendar view or a free/busy read returns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    /// The recurrence rule (at most [`crate::limits::MAX_SERIES_TEXT_BYTES`]).
    pub rule: String,
    /// The time zone its occurrences keep their wall-clock time in (at most
    /// [`crate::limits::MAX_SERIES_TEXT_BYTES`]).
    pub time_zone: String,
    /// When its last occurrence ends; `None` for a series without end. A calendar view returns
    /// the series when its first start is before the view's end and this after the view's start.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_end: Option<OffsetDateTime>,
    /// The 1-based indices of its deleted occurrences, ascending, distinct (at most
    /// [`crate::limits::MAX_DELETED_OCCURRENCES`]).
    #[serde(default)]
    pub deleted: Vec<u32>,
    /// Its occurrences changed on their own (EWS exceptions), by index ascending, none of them
    /// deleted (at most [`crate::limits::MAX_DELETED_OCCURRENCES`]).
    #[serde(default)]
    pub modified: Vec<Exception>,
}

/// One occurrence of a series changed on its own: where it is now and what it says instead of
/// the series (`None`: as the series).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    /// The occurrence's 1-based index in its series.
    pub index: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub start: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub end: OffsetDateTime,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub location: Option<String>,
}

/// An attendee's answer to a meeting (EWS `t:ResponseTypeType`), as the organizer's copy records
/// it for each attendee and as each copy records its own mailbox's (`MyResponseType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ResponseType {
    #[default]
    Unknown,
    Organizer,
    Tentative,
    Accept,
    Decline,
    NoResponseReceived,
}

impl ResponseType {
    /// The EWS spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseType::Unknown => "Unknown",
            ResponseType::Organizer => "Organizer",
            ResponseType::Tentative => "Tentative",
            ResponseType::Accept => "Accept",
            ResponseType::Decline => "Decline",
            ResponseType::NoResponseReceived => "NoResponseReceived",
        }
    }

    /// Parses the EWS spelling (exact match).
    pub fn parse(s: &str) -> Option<ResponseType> {
        [
            ResponseType::Unknown,
            ResponseType::Organizer,
            ResponseType::Tentative,
            ResponseType::Accept,
            ResponseType::Decline,
            ResponseType::NoResponseReceived,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// A mailbox invited to a meeting (EWS `t:Attendee`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub mailbox: Recipient,
    pub response_type: ResponseType,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub last_response_time: Option<OffsetDateTime>,
}

impl Attendee {
    /// An attendee that has not answered yet.
    pub fn new(mailbox: Recipient) -> Attendee {
        Attendee {
            mailbox,
            response_type: ResponseType::Unknown,
            last_response_time: None,
        }
    }
}

/// What makes an item part of a meeting: the organizer's calendar item, an attendee's copy,
/// and the meeting messages (request, response, cancellation) all carry one, with the same
/// `uid`. Stored as JSON on the item's row (`meeting_json`, migration 9) beside its `uid`
/// (`meeting_uid`, indexed per mailbox), so every read, move and copy of an item carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    /// EWS `calendar:UID`: the same for the organizer's item and every copy and message of it.
    pub uid: String,
    pub organizer: Recipient,
    #[serde(default)]
    pub required: Vec<Attendee>,
    #[serde(default)]
    pub optional: Vec<Attendee>,
    #[serde(default)]
    pub resources: Vec<Attendee>,
    /// This copy's own answer: `Organizer` on the organizer's item, `NoResponseReceived` on an
    /// attendee's until it answers.
    pub my_response: ResponseType,
    /// The organizer's item: invitations were sent.
    #[serde(default)]
    pub request_was_sent: bool,
    #[serde(default)]
    pub is_cancelled: bool,
    /// A meeting request: its recipient answered it (EWS `meeting:HasBeenProcessed`).
    #[serde(default)]
    pub has_been_processed: bool,
    /// A meeting message: the answer it carries (a response) or its recipient gave (a request).
    #[serde(default)]
    pub response: Option<ResponseType>,
    /// A meeting request, response or cancellation: the recipient's calendar copy of the meeting
    /// (its local row id; read as [`Meeting::associated_calendar_item_id`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) associated: Option<i64>,
    /// EWS `meeting:AssociatedCalendarItemId`, filled in by reads.
    #[serde(skip)]
    pub associated_calendar_item_id: Option<String>,
    /// A delegate's copy of a meeting request sent to the mailbox it is a delegate of
    /// (EWS `t:ReceivedRepresenting`): that mailbox. Answering the copy answers for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representing: Option<Representing>,
}

/// The mailbox a delegate's copy of a meeting message stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Representing {
    /// Its mailbox key.
    pub mailbox: String,
    /// Its address, as the meeting names it (`None`: the message does not say which of its
    /// lines the mailbox is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub who: Option<Recipient>,
}

impl Meeting {
    /// A meeting `uid` organized by `organizer`, as the organizer's own item records it.
    pub fn new(uid: String, organizer: Recipient) -> Meeting {
        Meeting {
            uid,
            organizer,
            required: Vec::new(),
            optional: Vec::new(),
            resources: Vec::new(),
            my_response: ResponseType::Organizer,
            request_was_sent: false,
            is_cancelled: false,
            has_been_processed: false,
            response: None,
            associated: None,
            associated_calendar_item_id: None,
            representing: None,
        }
    }

    /// Every attendee: required, optional, resources.
    pub fn attendees(&self) -> impl Iterator<Item = &Attendee> {
        self.required
            .iter()
            .chain(&self.optional)
            .chain(&self.resources)
    }

    /// Whether this is the organizer's own item.
    pub fn is_organizer(&self) -> bool {
        self.my_response == ResponseType::Organizer
    }
}

/// A change of one attendee line (required, optional, resources) of a meeting.
#[derive(Debug, Clone, PartialEq)]
pub enum AttendeeEdit {
    /// The line becomes exactly these (empty: none).
    Replace(Vec<Attendee>),
    /// These are added after the attendees the line has.
    Append(Vec<Attendee>),
}

impl AttendeeEdit {
    /// This edit followed by `next`.
    pub fn then(self, next: AttendeeEdit) -> AttendeeEdit {
        match (self, next) {
            (_, AttendeeEdit::Replace(r)) => AttendeeEdit::Replace(r),
            (AttendeeEdit::Replace(mut a), AttendeeEdit::Append(b)) => {
                a.extend(b);
                AttendeeEdit::Replace(a)
            }
            (AttendeeEdit::Append(mut a), AttendeeEdit::Append(b)) => {
                a.extend(b);
                AttendeeEdit::Append(a)
            }
        }
    }

    /// The line `current` becomes.
    pub fn apply(&self, current: &[Attendee]) -> Vec<Attendee> {
        match self {
            AttendeeEdit::Replace(r) => r.clone(),
            AttendeeEdit::Append(more) => current.iter().chain(more).cloned().collect(),
        }
    }
}

/// An item to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    /// MAPI message class; printable ASCII, 1–255 bytes. An associated item whose class is
    /// `IPM.Configuration.<Name>` is a user configuration (with no streams yet).
    pub item_class: String,
    pub subject: Option<String>,
    pub body: Option<Body>,
    pub from: Option<Recipient>,
    pub sender: Option<Recipient>,
    pub to: Vec<Recipient>,
    pub cc: Vec<Recipient>,
    pub bcc: Vec<Recipient>,
    pub importance: Importance,
    pub sensitivity: Sensitivity,
    pub categories: Vec<String>,
    pub is_read: bool,
    pub internet_message_id: Option<String>,
    pub date_time_sent: Option<OffsetDateTime>,
    /// Client-supplied creation time; defaults to now.
    pub date_time_created: Option<OffsetDateTime>,
    pub calendar: Option<Calendar>,
    /// Extended properties: (canonical key chosen by the EWS layer, value). Keys must be distinct.
    pub extended: Vec<(String, String)>,
    /// Folder-associated information (FAI): listed only by `Associated` finds, never counted in
    /// `total_count`.
    pub is_associated: bool,
    /// File attachments stored with the item, in the same transaction, in this order.
    pub attachments: Vec<NewAttachment>,
    /// A message saved and not yet sent (EWS `t:IsDraft`): only a draft's recipients, sender and
    /// MIME content can change later.
    pub is_draft: bool,
    /// A meeting's calendar item or meeting message ([`Meeting`]); at most
    /// [`crate::limits::MAX_ATTENDEES`] attendees.
    pub meeting: Option<Meeting>,
    /// A contact's own properties, as the EWS layer keeps them (a JSON object of at most
    /// [`crate::limits::MAX_CONTACT_BYTES`]; the store does not read inside it).
    pub contact: Option<String>,
    /// A task's own properties, as the EWS layer keeps them (a JSON object of at most
    /// [`crate::limits::MAX_CONTACT_BYTES`]; the store does not read inside it).
    pub task: Option<String>,
}

impl Default for NewItem {
    fn default() -> Self {
        NewItem {
            item_class: "IPM.Note".into(),
            subject: None,
            body: None,
            from: None,
            sender: None,
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            importance: Importance::Normal,
            sensitivity: Sensitivity::Normal,
            categories: Vec::new(),
            is_read: false,
            internet_message_id: None,
            date_time_sent: None,
            date_time_created: None,
            calendar: None,
            extended: Vec::new(),
            is_associated: false,
            attachments: Vec::new(),
            is_draft: false,
            meeting: None,
            contact: None,
            task: None,
        }
    }
}

/// A file attachment to store (EWS `t:FileAttachment`). Bounded by
/// [`crate::limits::MAX_ATTACHMENT_BYTES`] each, [`crate::limits::MAX_ATTACHMENTS_PER_ITEM`] and
/// [`crate::limits::MAX_ITEM_ATTACHMENT_BYTES`] per item.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NewAttachment {
    /// At most [`crate::limits::MAX_ATTACHMENT_NAME_CHARS`] characters, no control characters.
    pub name: Option<String>,
    /// A MIME type (`audio/wav`), as the client gave it.
    pub content_type: Option<String>,
    /// The `cid:` an HTML body refers to an inline attachment by.
    pub content_id: Option<String>,
    pub is_inline: bool,
    pub is_contact_photo: bool,
    /// An item attachment (EWS `t:ItemAttachment`): `content` is the attached item as the EWS
    /// layer serializes it; the store keeps it as it keeps a file's bytes.
    pub is_item: bool,
    pub content: Vec<u8>,
}

/// Names the content's length, never the content.
impl std::fmt::Debug for NewAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewAttachment")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("content_id", &self.content_id)
            .field("is_inline", &self.is_inline)
            .field("is_contact_photo", &self.is_contact_photo)
            .field("is_item", &self.is_item)
            .field("content_len", &self.content.len())
            .finish()
    }
}

/// A stored file attachment's properties: what its item lists (`t:Attachments`), without the
/// content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentInfo {
    /// Opaque id naming the item and the attachment (`t:AttachmentId/@Id`); it stays valid
    /// while the item moves, and a copy of the item has attachments of its own.
    pub id: String,
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub content_id: Option<String>,
    pub is_inline: bool,
    pub is_contact_photo: bool,
    /// Bytes of content.
    pub size: u64,
    /// When it was added.
    pub last_modified: OffsetDateTime,
    /// An item attachment ([`NewAttachment::is_item`]).
    pub is_item: bool,
}

impl NewAttachment {
    /// The properties this attachment has once stored with id `id` at `at`.
    pub fn info(&self, id: String, at: OffsetDateTime) -> AttachmentInfo {
        AttachmentInfo {
            id,
            name: self.name.clone(),
            content_type: self.content_type.clone(),
            content_id: self.content_id.clone(),
            is_inline: self.is_inline,
            is_contact_photo: self.is_contact_photo,
            size: self.content.len() as u64,
            last_modified: at,
            is_item: self.is_item,
        }
    }
}

/// A stored file attachment with its content ([`crate::MailboxStore::get_attachments`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Attachment {
    pub info: AttachmentInfo,
    pub content: Vec<u8>,
}

impl Attachment {
    /// The attachment as a new item carries it (a forward, an attached item's own).
    pub fn into_new(self) -> NewAttachment {
        NewAttachment {
            name: self.info.name,
            content_type: self.info.content_type,
            content_id: self.info.content_id,
            is_inline: self.info.is_inline,
            is_contact_photo: self.info.is_contact_photo,
            is_item: self.info.is_item,
            content: self.content,
        }
    }
}

/// Names the content's length, never the content.
impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("info", &self.info)
            .field("content_len", &self.content.len())
            .finish()
    }
}

/// The item an attachment write changed, as it is afterwards (`RootItemId`,
/// `RootItemChangeKey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentRoot {
    pub item_id: String,
    pub change_key: String,
}

/// What [`crate::MailboxStore::create_attachments`] did.
#[derive(Debug)]
pub struct AttachmentsCreated {
    /// The item, with its change key after the call (unchanged when nothing was created).
    pub root: AttachmentRoot,
    /// One result per attachment, in order.
    pub results: Vec<Result<AttachmentInfo, MailboxError>>,
}

/// A stored item. Times are UTC with microsecond precision.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub id: String,
    pub change_key: String,
    /// The folder holding the item now (`t:ParentFolderId`).
    pub folder_id: String,
    pub is_associated: bool,
    pub item_class: String,
    pub subject: Option<String>,
    /// Loaded by `get_items`; by `find_items` only when [`FindSpec::load_content`] is set.
    pub body: Option<Body>,
    pub from: Option<Recipient>,
    pub sender: Option<Recipient>,
    pub to: Vec<Recipient>,
    pub cc: Vec<Recipient>,
    pub bcc: Vec<Recipient>,
    pub importance: Importance,
    pub sensitivity: Sensitivity,
    pub categories: Vec<String>,
    pub is_read: bool,
    pub internet_message_id: Option<String>,
    pub date_time_sent: Option<OffsetDateTime>,
    pub date_time_created: OffsetDateTime,
    pub date_time_received: OffsetDateTime,
    pub last_modified_time: OffsetDateTime,
    pub calendar: Option<Calendar>,
    /// Sorted by key.
    pub extended: Vec<(String, String)>,
    /// Bytes of content: subject + body + extended values + user-configuration streams + file
    /// attachments.
    pub size: u64,
    /// It has a file attachment that is not inline (EWS `t:HasAttachments`, as Exchange reports
    /// it: inline attachments alone, such as images an HTML body shows, do not count). Read from
    /// the item's row, so every read has it.
    pub has_attachments: bool,
    /// Its file attachments (properties, not content), in the order they were added; loaded
    /// under the same rule as `body`.
    pub attachments: Vec<AttachmentInfo>,
    /// For user-configuration items (`IPM.Configuration.*` FAI), the streams (MAPI 0x7C07–0x7C09);
    /// loaded under the same rule as `body`.
    pub user_configuration: Option<UserConfig>,
    /// Saved and not yet sent (EWS `t:IsDraft`).
    pub is_draft: bool,
    /// Its part in a meeting, if any.
    pub meeting: Option<Meeting>,
    /// A contact's own properties, as stored ([`NewItem::contact`]).
    pub contact: Option<String>,
    /// A task's own properties, as stored ([`NewItem::task`]).
    pub task: Option<String>,
    /// A contact with a contact photo among its attachments (EWS `t:HasPicture`).
    pub has_contact_photo: bool,
}

/// Changes to an item; `None` leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemUpdate {
    /// A contact's own properties, replaced whole ([`NewItem::contact`]).
    pub contact: Option<String>,
    /// A task's own properties, replaced whole ([`NewItem::task`]).
    pub task: Option<String>,
    pub subject: Option<Option<String>>,
    pub body: Option<Option<Body>>,
    pub is_read: Option<bool>,
    pub importance: Option<Importance>,
    pub sensitivity: Option<Sensitivity>,
    pub categories: Option<Vec<String>>,
    pub calendar: Option<Option<Calendar>>,
    /// A new item class (printable ASCII, 1–255 bytes). Refused for user configurations, whose
    /// class names them.
    pub item_class: Option<String>,
    /// Text appended to the body after `body` is applied (EWS `AppendToItemField` on
    /// `item:Body`); the item gets this body if it has none. The stored body type is kept.
    pub append_body: Option<Body>,
    /// Set (insert or replace) these extended properties.
    pub set_extended: Vec<(String, String)>,
    /// Remove these extended properties (absent keys are ignored).
    pub remove_extended: Vec<String>,
    /// Draft only (else [`crate::MailboxError::NotADraft`]): the To, Cc and Bcc lines.
    pub to: Option<RecipientEdit>,
    pub cc: Option<RecipientEdit>,
    pub bcc: Option<RecipientEdit>,
    /// Draft only: the From line (`Some(None)` removes it).
    pub from: Option<Option<Recipient>>,
    /// Draft only: the file attachments, all replaced by these (a draft's MIME content set anew).
    pub replace_attachments: Option<Vec<NewAttachment>>,
    /// Calendar items only: the attendee lines. An appointment that gets attendees becomes a
    /// meeting, [`ItemUpdate::new_meeting`] (its organizer and uid); one whose lines all end
    /// up empty keeps its meeting part (uid, organizer) with no attendees.
    pub required: Option<AttendeeEdit>,
    pub optional: Option<AttendeeEdit>,
    pub resources: Option<AttendeeEdit>,
    /// The meeting an appointment without one becomes when attendees are set.
    pub new_meeting: Option<Meeting>,
    /// A recurring series only: the occurrence with this 1-based index is deleted (it leaves
    /// calendar views and free/busy; the others keep their indices). The EWS layer checks that
    /// the series has it.
    pub delete_occurrence: Option<u32>,
    /// A recurring series only: when its last occurrence ends now (`Some(None)`: it has no
    /// end), which the EWS layer computes when the series moves ([`Series::last_end`]).
    pub series_last_end: Option<Option<OffsetDateTime>>,
    /// A recurring series only: one occurrence changed on its own (an exception; replaces an
    /// earlier change of the same occurrence). The EWS layer checks that the series has it and
    /// where it may move; the series' reach ([`Series::last_end`]) grows to take it in.
    pub modify_occurrence: Option<Exception>,
    /// Calendar items only: whether it is an all-day event, and how it shows in free/busy.
    pub is_all_day: Option<bool>,
    pub free_busy: Option<FreeBusy>,
    /// Calendar items only: a new start, end, location (`Some(None)` removes it).
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    pub location: Option<Option<String>>,
}

impl ItemUpdate {
    /// Whether it changes what only a draft may change.
    pub fn changes_draft_only(&self) -> bool {
        self.to.is_some()
            || self.cc.is_some()
            || self.bcc.is_some()
            || self.from.is_some()
            || self.replace_attachments.is_some()
    }

    /// Whether it changes a meeting's attendees.
    pub fn changes_attendees(&self) -> bool {
        self.required.is_some() || self.optional.is_some() || self.resources.is_some()
    }
}

/// A change of one recipient line (To, Cc or Bcc) of a draft.
#[derive(Debug, Clone, PartialEq)]
pub enum RecipientEdit {
    /// The line becomes exactly these (empty: none).
    Replace(Vec<Recipient>),
    /// These are added after the recipients the line has.
    Append(Vec<Recipient>),
}

impl RecipientEdit {
    /// This edit followed by `next` (as EWS applies an item's changes in order).
    pub fn then(self, next: RecipientEdit) -> RecipientEdit {
        match (self, next) {
            (_, RecipientEdit::Replace(r)) => RecipientEdit::Replace(r),
            (RecipientEdit::Replace(mut a), RecipientEdit::Append(b)) => {
                a.extend(b);
                RecipientEdit::Replace(a)
            }
            (RecipientEdit::Append(mut a), RecipientEdit::Append(b)) => {
                a.extend(b);
                RecipientEdit::Append(a)
            }
        }
    }

    /// The line `current` becomes.
    pub fn apply(&self, current: &[Recipient]) -> Vec<Recipient> {
        match self {
            RecipientEdit::Replace(r) => r.clone(),
            RecipientEdit::Append(more) => current.iter().chain(more).cloned().collect(),
        }
    }

    /// The recipients it adds or sets.
    pub fn recipients(&self) -> &[Recipient] {
        match self {
            RecipientEdit::Replace(r) | RecipientEdit::Append(r) => r,
        }
    }
}

/// `DeleteItem/@DeleteType` (and `DeleteFolder`'s and `EmptyFolder`'s, `t:DisposalType`).
///
/// Items (DeleteItem): see each variant. Folders ([`crate::MailboxStore::delete_folder`],
/// [`crate::MailboxStore::empty_folder`]): `Hard` removes the folder with everything under it;
/// `Soft` removes the folder, and its items go to the dumpster (Exchange 2013 and later keep no
/// soft-deleted folders, only their items); `MoveToDeletedItems` moves the folder, whole, under
/// Deleted Items, and soft-deletes one that is already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteMode {
    /// Removed permanently.
    Hard,
    /// Moved to Recoverable Items\Deletions; an item already under Recoverable Items moves to
    /// Purges (and stays there).
    Soft,
    /// Moved to Deleted Items; an item already there moves to Recoverable Items\Deletions.
    MoveToDeletedItems,
}

/// Which existing items a write may change, checked inside the write's own transaction: an item
/// can move (another request's MoveItem or DeleteItem) between a caller's reading where it is and
/// its write, so a check made before the write does not hold for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemGuard {
    /// Any item of the mailbox.
    Any,
    /// Only items outside Recoverable Items (the dumpster and its folders): an item there is
    /// [`crate::MailboxError::InRecoverableItems`] for that id, and nothing of it is written.
    OutsideRecoverableItems,
    /// Only items directly in the delegate folders ([`crate::DelegateFolder`]) whose bits
    /// (`1 << folder as u8`) are set: what a delegate with Editor there may change. An item
    /// elsewhere is [`crate::MailboxError::NotPermittedToDelegate`] for that id.
    InDelegateFolders(u8),
}

/// Item fields a find can sort on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    DateTimeReceived,
    DateTimeSent,
    DateTimeCreated,
    Subject,
    ItemClass,
    Start,
    End,
    Size,
    /// A member of an item type's own properties ([`NewItem::contact`], [`NewItem::task`]), by
    /// name (ASCII letters, digits and `_`; anything else is refused), text case-insensitive;
    /// items without it first in ascending order.
    Typed(crate::filter::Bag, &'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Ascending,
    Descending,
}

/// What `find_items` returns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FindSpec {
    /// `Traversal="Associated"`: list FAI items instead of normal ones.
    pub associated: bool,
    pub restriction: Option<Filter>,
    /// Empty: `DateTimeReceived` descending (start ascending for a calendar view). The item id in
    /// the direction of the first key breaks ties, so order is total and stable.
    pub sort: Vec<(SortField, SortOrder)>,
    pub paging: Paging,
    /// `CalendarView`: items with start < end-of-view and end > start-of-view. Single items
    /// only, unless `series` is set.
    pub calendar_view: Option<(OffsetDateTime, OffsetDateTime)>,
    /// With `calendar_view`: the recurring series instead, those whose first occurrence starts
    /// before the view's end and whose last ends after its start ([`Series::last_end`]); the
    /// EWS layer expands them into the occurrences inside the view.
    pub series: bool,
    /// Also load bodies and user-configuration streams (FindItem never returns them; keep off).
    pub load_content: bool,
}

/// A value in a user-configuration dictionary (`t:DictionaryObject`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", content = "v")]
pub enum DictValue {
    String(String),
    Integer32(i32),
    UnsignedInteger32(u32),
    Integer64(i64),
    UnsignedInteger64(u64),
    Boolean(bool),
    Byte(u8),
    DateTime(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
    ByteArray(Vec<u8>),
    StringArray(Vec<String>),
}

/// One `t:DictionaryEntry`; a missing value is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DictEntry {
    pub key: DictValue,
    pub value: Option<DictValue>,
}

/// A user configuration (`t:UserConfiguration`): name plus optional streams.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserConfig {
    /// 1–236 characters of `[A-Za-z0-9._-]`; compared case-insensitively within a folder.
    pub name: String,
    pub dictionary: Option<Vec<DictEntry>>,
    pub xml_data: Option<Vec<u8>>,
    pub binary_data: Option<Vec<u8>>,
}

/// A stored user configuration: its FAI item's identity plus its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUserConfig {
    pub item_id: String,
    pub change_key: String,
    pub folder_id: String,
    pub config: UserConfig,
}

/// What happened to an item (EWS notification event types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Deleted,
    Moved,
    Modified,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "Created",
            EventKind::Deleted => "Deleted",
            EventKind::Moved => "Moved",
            EventKind::Modified => "Modified",
        }
    }

    pub(crate) fn from_db(s: &str) -> Result<EventKind, MailboxError> {
        match s {
            "Created" => Ok(EventKind::Created),
            "Deleted" => Ok(EventKind::Deleted),
            "Moved" => Ok(EventKind::Moved),
            "Modified" => Ok(EventKind::Modified),
            other => Err(MailboxError::Corrupt(format!("event kind {other:?}"))),
        }
    }
}

/// What an [`Event`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventObject {
    /// An item: [`Event::item_id`] is an item id, [`Event::folder_id`] the folder it is in.
    Item,
    /// A folder (created, renamed or re-classed, moved, deleted): [`Event::item_id`] is the
    /// folder's id, [`Event::folder_id`] its parent's.
    Folder,
}

/// One row of the per-mailbox event log (the item log, which also holds the folder events
/// subscriptions report, in the same sequence), written in the same transaction as the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// 1, 2, 3, ... per mailbox, without gaps (the oldest ones may have been pruned).
    pub seq: u64,
    pub kind: EventKind,
    /// Whether it is about an item or a folder.
    pub object: EventObject,
    /// The item (for [`EventObject::Folder`], the folder) the event is about.
    pub item_id: String,
    /// Where the item (folder) is after the event (for `Deleted`, where it was): its folder
    /// (parent folder).
    pub folder_id: String,
    /// For `Moved`: where it was before.
    pub old_folder_id: Option<String>,
    pub at: OffsetDateTime,
    /// A `Created` event of a message delivered to this mailbox (EWS `NewMailEvent`): a
    /// recipient's copy of a sent message, or a non-delivery report.
    pub new_mail: bool,
}

/// Per-mailbox counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MailboxCounters {
    /// Bumped once per object written, never reused.
    pub change_number: u64,
    /// Sequence number of the newest event (0 before the first).
    pub last_event_seq: u64,
}

/// What one pruning pass of the logs deleted ([`crate::MailboxStore::prune_logs_before`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Item log entries (`events`) deleted.
    pub events: u64,
    /// Folder log entries (`folder_events`) deleted.
    pub folder_events: u64,
    /// Mailboxes looked at.
    pub mailboxes: u64,
    /// Writes (group-commit jobs) the pass took.
    pub writes: u64,
}

/// The result of an idempotent create ([`crate::MailboxStore::create_items_idempotent`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub item: Item,
    /// The folder already held an item with this `internet_message_id`; nothing was written.
    pub existed: bool,
}

/// Microseconds since the Unix epoch (the stored form of every time).
pub(crate) fn to_micros(t: OffsetDateTime) -> Result<i64, MailboxError> {
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1000))
        .map_err(|_| MailboxError::InvalidValue("time out of range".into()))
}

pub(crate) fn from_micros(us: i64) -> Result<OffsetDateTime, MailboxError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map_err(|_| MailboxError::Corrupt(format!("time {us}")))
}

/// UTC, truncated to microseconds: exactly what a later read returns.
pub fn normalize_time(t: OffsetDateTime) -> Result<OffsetDateTime, MailboxError> {
    let us = to_micros(t)?;
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .map_err(|_| MailboxError::InvalidValue("time out of range".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn mailbox_key_bounds() {
        assert!(MailboxKey::new("").is_err());
        assert!(MailboxKey::new("a".repeat(256)).is_err());
        assert!(MailboxKey::new("a\u{0}b").is_err());
        assert!(MailboxKey::new("a".repeat(255)).is_ok());
        assert_eq!(
            MailboxKey::new("Ünïcode-key").unwrap().as_str(),
            "Ünïcode-key"
        );
    }

    #[test]
    fn times_round_trip_through_micros() {
        let t = datetime!(2024-03-01 12:34:56.123456789 +02:00);
        let n = normalize_time(t).unwrap();
        assert_eq!(n.offset(), time::UtcOffset::UTC);
        assert_eq!(n, datetime!(2024-03-01 10:34:56.123456 UTC));
        assert_eq!(from_micros(to_micros(n).unwrap()).unwrap(), n);
        let old = datetime!(1601-01-01 0:00:00.5 UTC);
        assert_eq!(normalize_time(old).unwrap(), old);
    }

    #[test]
    fn enums_parse_their_ews_spelling() {
        assert_eq!(FreeBusy::parse("OOF"), Some(FreeBusy::Oof));
        assert_eq!(FreeBusy::parse("oof"), None);
        assert_eq!(Importance::parse("High").unwrap().as_str(), "High");
        assert!(Sensitivity::from_db("Secret").is_err());
    }
}
