//! The one error type of the mailbox store; each variant maps onto one EWS `ResponseCode`.

use store::StoreError;

/// Why a mailbox operation failed.
///
/// Every variant corresponds to exactly one EWS `ResponseCode` ([`MailboxError::response_code`]), so
/// the EWS layer can answer per-item errors without inspecting messages. The `Display` text is
/// suitable for `m:MessageText`; it never contains stored content.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    /// No mailbox with this key has been provisioned ([`crate::MailboxStore::ensure_mailbox`]).
    #[error("the mailbox {0:?} does not exist in this store")]
    MailboxNotFound(String),
    /// Unknown folder, unknown distinguished folder name, or a folder id of another mailbox.
    #[error("the specified folder could not be found in the store")]
    FolderNotFound,
    /// Unknown item, an item id of another mailbox, or a missing user configuration.
    #[error("the specified object was not found in the store")]
    ItemNotFound,
    /// The id is not one this store minted (bad base64, wrong version, wrong kind, bad length).
    #[error("id is malformed: {0}")]
    InvalidIdMalformed(&'static str),
    /// The change key is not one this store minted.
    #[error("the change key is malformed")]
    InvalidChangeKey,
    /// The presented change key is stale: the object changed since the client read it.
    #[error("the change key does not match the current version of the object")]
    ChangeKeyConflict,

    /// A distinguished folder (Inbox, Recoverable Items, ...) cannot be deleted.
    #[error("the distinguished folder {0:?} cannot be deleted")]
    DistinguishedFolder(String),

    /// A folder cannot move under Deleted Items (DeleteFolder or EmptyFolder with
    /// MoveToDeletedItems): Deleted Items already has a folder of its name (names are unique
    /// among siblings, case-insensitively). Nothing was moved.
    #[error(
        "the folder {0:?} cannot be moved to Deleted Items, which already has a folder of that name; rename one of the two, or delete this one with SoftDelete or HardDelete"
    )]
    DeletedItemsNameTaken(String),

    /// A folder cannot move under itself or a folder under it (MoveFolder).
    #[error("the folder {0:?} cannot move under itself or a folder under it")]
    FolderIntoItself(String),

    /// The write's [`crate::ItemGuard`] keeps it out of Recoverable Items, and the item is there.
    #[error("the item is under Recoverable Items, which this write may not change")]
    InRecoverableItems,
    /// A sibling folder already has this display name (compared case-insensitively).
    #[error("a folder named {0:?} already exists under that parent")]
    FolderExists(String),
    /// A user configuration of this name already exists in the folder (Exchange answers
    /// `ErrorItemSave` with "ErrorItemSaveUserConfigurationExists").
    #[error("a user configuration named {0:?} already exists in this folder")]
    UserConfigurationExists(String),
    /// A property value is out of its domain (bad item class, user configuration name, duplicate
    /// extended-property or dictionary key, ...).
    #[error("invalid property value: {0}")]
    InvalidValue(String),
    /// The request as a whole is unacceptable (too many items or ids, bad paging arguments).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The restriction cannot be evaluated (type mismatch, too deep, too many nodes).
    #[error("invalid restriction: {0}")]
    InvalidRestriction(String),
    /// A value exceeds its size cap (subject, body, user-configuration stream, batch).
    #[error("{what} is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        what: String,
        size: usize,
        limit: usize,
    },
    /// One file attachment is larger than [`crate::limits::MAX_ATTACHMENT_BYTES`].
    #[error("the attachment is {size} bytes, over the limit of {limit} bytes for one attachment")]
    AttachmentTooLarge { size: usize, limit: usize },
    /// One call's item content exceeded the read budget; this item was not read.
    #[error(
        "the response would exceed {limit} bytes of item content, so this item and the ones after it were not read; request fewer items at a time"
    )]
    ResponseBudgetExceeded { limit: usize },
    /// A change only a draft accepts (its recipients, From, MIME content) asked of an item that
    /// was sent or received.
    #[error(
        "the item is not a draft: the recipients, the sender and the MIME content of a message that was sent or received cannot change"
    )]
    NotADraft,
    /// A calendar item whose end precedes its start.
    #[error("the end date of the calendar item is earlier than its start date")]
    CalendarEndBeforeStart,
    /// A meeting with more attendees than [`crate::limits::MAX_ATTENDEES`].
    #[error("the meeting has {count} attendees; at most {max} are allowed")]
    TooManyAttendees { count: usize, max: usize },
    /// A response (accept, tentative, decline) to an item that is neither a meeting request nor
    /// an attendee's calendar copy of a meeting, or a cancellation of an item that is not a
    /// meeting. Nothing was written.
    #[error(
        "the referenced item is not a meeting request or a meeting on an attendee's calendar, which is what a meeting response answers"
    )]
    NotAMeetingItem,
    /// An answer (the response given) to the organizer's own meeting.
    #[error("the organizer of a meeting cannot respond to it")]
    OrganizerCannotRespond(crate::model::ResponseType),
    /// An answer (the response given) to a meeting that was cancelled.
    #[error("the meeting was cancelled; it cannot be responded to")]
    MeetingCancelled(crate::model::ResponseType),
    /// A cancellation of a meeting by someone who is not its organizer (an attendee's copy).
    #[error("only the organizer of a meeting can cancel it")]
    NotOrganizer,
    /// A free/busy read of a mailbox past one of its bounds (appointments in the window, of the
    /// whole call, bytes of details): that mailbox is not answered.
    #[error("free/busy information cannot be generated: {0}")]
    FreeBusyTooLarge(String),
    /// A SyncFolderItems/SyncFolderHierarchy sync state this store cannot continue from: not one
    /// it handed out, one of another mailbox, folder, operation or sync scope, or one whose
    /// changes are no longer kept. The client has to start over without a state.
    #[error("the sync state is invalid: {0}; synchronize again without a SyncState to start over")]
    InvalidSyncState(String),
    /// A notification watermark ([`crate::MailboxStore::events_since`]) the item log cannot be
    /// read on from: the events right after it are no longer kept (the log's retention pruned
    /// them), or it is ahead of the log. Reading from it would skip events, so it is refused;
    /// the client has to subscribe again without a watermark.
    #[error("the watermark is invalid: {0}")]
    InvalidWatermark(String),
    /// A write a delegate's permission does not cover ([`crate::ItemGuard::InDelegateFolders`]):
    /// the item is not in a folder where the delegate is an Editor.
    #[error("the delegate's permissions do not allow changing items in this folder")]
    NotPermittedToDelegate,
    /// A delegate added to the mailbox that owns it.
    #[error("a mailbox owner cannot be their own delegate")]
    DelegateIsOwner,
    /// A delegate added who is one already (the delegate's mailbox key).
    #[error("{0:?} is already a delegate of this mailbox; change it with UpdateDelegate")]
    DelegateExists(String),
    /// A delegate changed or removed who is not one (the mailbox key named).
    #[error("{0:?} is not a delegate of this mailbox")]
    NotDelegate(String),
    /// A delegate past [`crate::delegates::MAX_DELEGATES`].
    #[error("a mailbox has at most {0} delegates; remove one first")]
    TooManyDelegates(usize),
    /// A delegate's settings break a rule of delegation (what, and how to mend it).
    #[error("the delegate's settings are not valid: {0}")]
    DelegateInvalid(String),
    /// A stored row failed to decode; reported, never papered over.
    #[error("stored mailbox data is corrupt: {0}")]
    Corrupt(String),
    /// The storage layer failed (I/O, SQLite, worker gone).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MailboxError {
    /// The EWS `ResponseCode` (messages namespace) to report for this error.
    pub fn response_code(&self) -> &'static str {
        match self {
            MailboxError::MailboxNotFound(_) => "ErrorNonExistentMailbox",
            MailboxError::FolderNotFound => "ErrorFolderNotFound",
            MailboxError::ItemNotFound => "ErrorItemNotFound",
            MailboxError::NotADraft => "ErrorInvalidPropertyUpdateSentMessage",
            MailboxError::InvalidIdMalformed(_) => "ErrorInvalidIdMalformed",
            MailboxError::InvalidChangeKey => "ErrorInvalidChangeKey",
            MailboxError::ChangeKeyConflict => "ErrorIrresolvableConflict",
            MailboxError::InRecoverableItems => "ErrorAccessDenied",
            MailboxError::DistinguishedFolder(_) => "ErrorDeleteDistinguishedFolder",
            MailboxError::DeletedItemsNameTaken(_) => "ErrorCannotDeleteObject",
            MailboxError::FolderIntoItself(_) => "ErrorMoveCopyFailed",
            MailboxError::FolderExists(_) => "ErrorFolderExists",
            MailboxError::UserConfigurationExists(_) => "ErrorItemSave",
            MailboxError::InvalidValue(_) => "ErrorInvalidValueForProperty",
            MailboxError::InvalidRequest(_) => "ErrorInvalidRequest",
            MailboxError::InvalidRestriction(_) => "ErrorInvalidRestriction",
            MailboxError::TooLarge { .. } => "ErrorMessageSizeExceeded",
            MailboxError::AttachmentTooLarge { .. } => "ErrorAttachmentSizeLimitExceeded",
            MailboxError::ResponseBudgetExceeded { .. } => "ErrorBatchProcessingStopped",
            MailboxError::CalendarEndBeforeStart => "ErrorCalendarEndDateIsEarlierThanStartDate",
            MailboxError::FreeBusyTooLarge(_) => "ErrorFreeBusyGenerationFailed",
            MailboxError::TooManyAttendees { .. } => "ErrorInvalidRecipients",
            MailboxError::NotAMeetingItem => "ErrorInvalidReferenceItem",
            MailboxError::OrganizerCannotRespond(r) => match r {
                crate::model::ResponseType::Decline => "ErrorCalendarIsOrganizerForDecline",
                crate::model::ResponseType::Tentative => "ErrorCalendarIsOrganizerForTentative",
                _ => "ErrorCalendarIsOrganizerForAccept",
            },
            MailboxError::MeetingCancelled(r) => match r {
                crate::model::ResponseType::Decline => "ErrorCalendarIsCancelledForDecline",
                crate::model::ResponseType::Tentative => "ErrorCalendarIsCancelledForTentative",
                _ => "ErrorCalendarIsCancelledForAccept",
            },
            MailboxError::NotOrganizer => "ErrorCalendarIsNotOrganizer",
            MailboxError::InvalidSyncState(_) => "ErrorInvalidSyncStateData",
            MailboxError::InvalidWatermark(_) => "ErrorInvalidWatermark",
            // access denied, as InRecoverableItems: a different reason, the same EWS code
            MailboxError::NotPermittedToDelegate => "ErrorAccessDenied",
            MailboxError::DelegateIsOwner => "ErrorDelegateCannotAddOwner",
            MailboxError::DelegateExists(_) => "ErrorDelegateAlreadyExists",
            MailboxError::NotDelegate(_) => "ErrorNotDelegate",
            MailboxError::TooManyDelegates(_) => "ErrorQuotaExceeded",
            MailboxError::DelegateInvalid(_) => "ErrorDelegateValidationFailed",
            MailboxError::Corrupt(_) => "ErrorCorruptData",
            MailboxError::Store(_) => "ErrorInternalServerError",
        }
    }
}

impl From<rusqlite::Error> for MailboxError {
    fn from(e: rusqlite::Error) -> Self {
        MailboxError::Store(StoreError::Sqlite(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_per_variant() {
        let all = [
            MailboxError::MailboxNotFound(String::new()),
            MailboxError::FolderNotFound,
            MailboxError::ItemNotFound,
            MailboxError::InvalidIdMalformed(""),
            MailboxError::InvalidChangeKey,
            MailboxError::ChangeKeyConflict,
            MailboxError::InRecoverableItems,
            MailboxError::DistinguishedFolder(String::new()),
            MailboxError::DeletedItemsNameTaken(String::new()),
            MailboxError::FolderIntoItself(String::new()),
            MailboxError::FolderExists(String::new()),
            MailboxError::UserConfigurationExists(String::new()),
            MailboxError::InvalidValue(String::new()),
            MailboxError::InvalidRequest(String::new()),
            MailboxError::InvalidRestriction(String::new()),
            MailboxError::TooLarge {
                what: String::new(),
                size: 0,
                limit: 0,
            },
            MailboxError::AttachmentTooLarge { size: 0, limit: 0 },
            MailboxError::ResponseBudgetExceeded { limit: 0 },
            MailboxError::CalendarEndBeforeStart,
            MailboxError::FreeBusyTooLarge(String::new()),
            MailboxError::TooManyAttendees { count: 0, max: 0 },
            MailboxError::NotAMeetingItem,
            MailboxError::OrganizerCannotRespond(crate::model::ResponseType::Accept),
            MailboxError::MeetingCancelled(crate::model::ResponseType::Accept),
            MailboxError::NotOrganizer,
            MailboxError::InvalidSyncState(String::new()),
            MailboxError::InvalidWatermark(String::new()),
            MailboxError::NotPermittedToDelegate,
            MailboxError::DelegateIsOwner,
            MailboxError::DelegateExists(String::new()),
            MailboxError::NotDelegate(String::new()),
            MailboxError::TooManyDelegates(0),
            MailboxError::DelegateInvalid(String::new()),
            MailboxError::Corrupt(String::new()),
            MailboxError::Store(StoreError::WorkerGone),
        ];
        let mut codes: Vec<&str> = all.iter().map(|e| e.response_code()).collect();
        assert!(codes.iter().all(|c| c.starts_with("Error")));
        // the one code two variants share: both are EWS's access denied, for different reasons
        let denied = codes.iter().filter(|c| **c == "ErrorAccessDenied").count();
        assert_eq!(denied, 2);
        codes.sort_unstable();
        codes.dedup_by(|a, b| a == b && *a == "ErrorAccessDenied");
        let n = codes.len();
        codes.dedup();
        assert_eq!(codes.len(), n, "two variants share a response code");
    }

    #[test]
    fn sqlite_errors_are_store_errors() {
        let e = MailboxError::from(rusqlite::Error::QueryReturnedNoRows);
        assert!(matches!(e, MailboxError::Store(StoreError::Sqlite(_))));
        assert_eq!(e.response_code(), "ErrorInternalServerError");
    }
}
