//! SOAP envelope → typed EWS request.
//!
//! [`parse_request`] reads the body with the hardened reader, checks the
//! envelope (one optional `soap:Header`, one `soap:Body` with exactly one
//! element), reads the headers, and dispatches on the namespace-qualified
//! operation element. Everything is matched by namespace URI, never by
//! prefix. The HTTP `SOAPAction` header plays no part.

use std::str::FromStr;

use base64::Engine as _;
use time::OffsetDateTime;

use crate::contact::{Contact, parse_contact_child};
use crate::error::{EwsProtoError, UnknownValue, dn, echo};
use crate::ns::{MESSAGES, SOAP, TYPES};
use crate::task::{Task, parse_task_child};
use crate::types::{
    Attendee, BaseShape, BodyType, DistinguishedFolderId, ExtendedFieldUri, ExtendedProperty,
    ExtendedValue, FolderKind, FolderRef, FolderShape, Importance, ItemRef, ItemShape,
    LegacyFreeBusyStatus, Mailbox, PropertyPath, ResponseType, Sensitivity, ServerVersion,
    ShapeBodyType, parse_xs_boolean, parse_xs_datetime, str_enum,
};
use crate::xml::{self, Element, Limits};

pub use crate::ns::{
    ERRORS as NS_ERRORS, MESSAGES as NS_MESSAGES, SOAP as NS_SOAP, TYPES as NS_TYPES,
};

/// A parsed EWS request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// `t:RequestServerVersion/@Version`; `None` when the header is absent
    /// (Exchange then assumes Exchange2007).
    pub server_version: Option<ServerVersion>,
    /// `t:ExchangeImpersonation/t:ConnectingSID`. Authorizing it is the
    /// server's job (`ErrorImpersonateUserDenied`).
    pub impersonation: Option<ImpersonatedUser>,
    pub operation: Operation,
}

/// The user named in `t:ExchangeImpersonation/t:ConnectingSID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImpersonatedUser {
    /// `t:PrimarySmtpAddress` (exchangelib).
    PrimarySmtpAddress(String),
    /// `t:SmtpAddress` (EWS Managed API, ews-javascript-api).
    SmtpAddress(String),
    /// `t:PrincipalName` (UPN).
    PrincipalName(String),
    /// `t:SID`.
    Sid(String),
}

/// One EWS operation with its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    GetFolder(GetFolder),
    FindFolder(FindFolder),
    CreateFolder(CreateFolder),
    DeleteFolder(DeleteFolder),
    /// `m:MoveFolder`.
    MoveFolder(MoveCopyFolder),
    /// `m:CopyFolder`.
    CopyFolder(MoveCopyFolder),
    /// `m:MarkAllItemsAsRead`.
    MarkAllItemsAsRead(MarkAllItemsAsRead),
    EmptyFolder(EmptyFolder),
    UpdateFolder(UpdateFolder),
    ResolveNames(ResolveNames),
    ExpandDL(ExpandDL),
    CreateItem(CreateItem),
    GetItem(GetItem),
    FindItem(FindItem),
    DeleteItem(DeleteItem),
    UpdateItem(UpdateItem),
    SendItem(SendItem),
    MoveItem(MoveCopyItem),
    CopyItem(MoveCopyItem),
    GetUserConfiguration(GetUserConfiguration),
    CreateUserConfiguration(UserConfiguration),
    UpdateUserConfiguration(UserConfiguration),
    DeleteUserConfiguration(UserConfigurationName),
    ConvertId(ConvertId),
    GetUserPhoto(GetUserPhoto),
    Subscribe(Subscription),
    Unsubscribe {
        subscription_id: String,
    },
    GetEvents {
        subscription_id: String,
        watermark: String,
    },
    GetStreamingEvents(GetStreamingEvents),
    SyncFolderItems(SyncFolderItems),
    SyncFolderHierarchy(SyncFolderHierarchy),
    CreateAttachment(CreateAttachment),
    GetAttachment(GetAttachment),
    DeleteAttachment(DeleteAttachment),
    /// `m:GetUserOofSettingsRequest` ([`crate::oof`]).
    GetUserOofSettings(crate::oof::GetUserOofSettings),
    /// `m:SetUserOofSettingsRequest` ([`crate::oof`]).
    SetUserOofSettings(crate::oof::SetUserOofSettings),
    /// `m:GetUserAvailabilityRequest` ([`crate::availability`]).
    GetUserAvailability(crate::availability::GetUserAvailability),
    /// `m:GetServerTimeZones` ([`crate::availability`]).
    GetServerTimeZones(crate::availability::GetServerTimeZones),
    /// `m:GetMailTips` ([`crate::mailtips`]).
    GetMailTips(crate::mailtips::GetMailTips),
    /// `m:GetRoomLists` ([`crate::rooms`]).
    GetRoomLists,
    /// `m:MarkAsJunk`.
    MarkAsJunk(MarkAsJunk),
    /// `m:GetInboxRules` ([`crate::rules`]).
    GetInboxRules(crate::rules::GetInboxRules),
    /// `m:UpdateInboxRules` ([`crate::rules`]).
    UpdateInboxRules(crate::rules::UpdateInboxRules),
    /// `m:GetRooms` ([`crate::rooms`]).
    GetRooms(crate::rooms::GetRooms),
    /// `m:GetDelegate` ([`crate::delegate`]).
    GetDelegate(crate::delegate::GetDelegate),
    /// `m:AddDelegate` ([`crate::delegate`]).
    AddDelegate(crate::delegate::AddDelegate),
    /// `m:UpdateDelegate` ([`crate::delegate`]).
    UpdateDelegate(crate::delegate::UpdateDelegate),
    /// `m:RemoveDelegate` ([`crate::delegate`]).
    RemoveDelegate(crate::delegate::RemoveDelegate),
    /// `m:ExportItems` ([`crate::export`]).
    ExportItems(crate::export::ExportItems),
    /// `m:UploadItems` ([`crate::export`]).
    UploadItems(crate::export::UploadItems),
    /// Any other element in the messages namespace (answer `ErrorInvalidRequest`).
    /// `local` is a valid XML name, at most `Limits::max_name_len` bytes.
    Unknown {
        local: String,
    },
}

impl Operation {
    /// The operation's element name (`GetFolder`, ...), also the stem of the
    /// response element names.
    pub fn name(&self) -> &str {
        match self {
            Self::GetFolder(_) => "GetFolder",
            Self::FindFolder(_) => "FindFolder",
            Self::CreateFolder(_) => "CreateFolder",
            Self::DeleteFolder(_) => "DeleteFolder",
            Self::MoveFolder(_) => "MoveFolder",
            Self::CopyFolder(_) => "CopyFolder",
            Self::MarkAllItemsAsRead(_) => "MarkAllItemsAsRead",
            Self::EmptyFolder(_) => "EmptyFolder",
            Self::UpdateFolder(_) => "UpdateFolder",
            Self::ResolveNames(_) => "ResolveNames",
            Self::ExpandDL(_) => "ExpandDL",
            Self::CreateItem(_) => "CreateItem",
            Self::GetItem(_) => "GetItem",
            Self::FindItem(_) => "FindItem",
            Self::DeleteItem(_) => "DeleteItem",
            Self::UpdateItem(_) => "UpdateItem",
            Self::SendItem(_) => "SendItem",
            Self::MoveItem(_) => "MoveItem",
            Self::CopyItem(_) => "CopyItem",
            Self::GetUserConfiguration(_) => "GetUserConfiguration",
            Self::CreateUserConfiguration(_) => "CreateUserConfiguration",
            Self::UpdateUserConfiguration(_) => "UpdateUserConfiguration",
            Self::DeleteUserConfiguration(_) => "DeleteUserConfiguration",
            Self::ConvertId(_) => "ConvertId",
            Self::GetUserPhoto(_) => "GetUserPhoto",
            Self::Subscribe(_) => "Subscribe",
            Self::Unsubscribe { .. } => "Unsubscribe",
            Self::GetEvents { .. } => "GetEvents",
            Self::GetStreamingEvents(_) => "GetStreamingEvents",
            Self::SyncFolderItems(_) => "SyncFolderItems",
            Self::SyncFolderHierarchy(_) => "SyncFolderHierarchy",
            Self::CreateAttachment(_) => "CreateAttachment",
            Self::GetAttachment(_) => "GetAttachment",
            Self::DeleteAttachment(_) => "DeleteAttachment",
            // availability-style: the answer is `GetUserOofSettingsResponse` with one
            // `m:ResponseMessage` (`response::error_response` knows the `Request` suffix)
            Self::GetUserOofSettings(_) => "GetUserOofSettingsRequest",
            Self::SetUserOofSettings(_) => "SetUserOofSettingsRequest",
            Self::GetUserAvailability(_) => "GetUserAvailabilityRequest",
            Self::GetServerTimeZones(_) => "GetServerTimeZones",
            Self::GetMailTips(_) => "GetMailTips",
            Self::GetRoomLists => "GetRoomLists",
            Self::MarkAsJunk(_) => "MarkAsJunk",
            Self::GetInboxRules(_) => "GetInboxRules",
            Self::UpdateInboxRules(_) => "UpdateInboxRules",
            Self::GetRooms(_) => "GetRooms",
            Self::GetDelegate(_) => "GetDelegate",
            Self::AddDelegate(_) => "AddDelegate",
            Self::UpdateDelegate(_) => "UpdateDelegate",
            Self::RemoveDelegate(_) => "RemoveDelegate",
            Self::ExportItems(_) => "ExportItems",
            Self::UploadItems(_) => "UploadItems",
            Self::Unknown { local } => local,
        }
    }
}

str_enum! {
    /// `m:FindFolder/@Traversal`.
    pub enum FolderTraversal ("FindFolder Traversal") {
        Shallow = "Shallow",
        Deep = "Deep",
        SoftDeleted = "SoftDeleted",
    }
}

str_enum! {
    /// `m:DeleteItem/@AffectedTaskOccurrences`: a recurring task deleted whole, or only its
    /// current occurrence (the task moving to its next one).
    pub enum AffectedTaskOccurrences ("AffectedTaskOccurrences") {
        AllOccurrences = "AllOccurrences",
        SpecifiedOccurrenceOnly = "SpecifiedOccurrenceOnly",
    }
}

str_enum! {
    /// `m:FindItem/@Traversal`.
    pub enum ItemTraversal ("FindItem Traversal") {
        Shallow = "Shallow",
        SoftDeleted = "SoftDeleted",
        Associated = "Associated",
    }
}

str_enum! {
    /// `BasePoint` of an indexed page view.
    pub enum BasePoint ("BasePoint") {
        Beginning = "Beginning",
        End = "End",
    }
}

str_enum! {
    /// `m:CreateItem/@MessageDisposition`.
    pub enum MessageDisposition ("MessageDisposition") {
        SaveOnly = "SaveOnly",
        SendOnly = "SendOnly",
        SendAndSaveCopy = "SendAndSaveCopy",
    }
}

str_enum! {
    /// `m:UpdateItem/@ConflictResolution` (absent means `NeverOverwrite`).
    pub enum ConflictResolution ("ConflictResolution") {
        NeverOverwrite = "NeverOverwrite",
        AutoResolve = "AutoResolve",
        AlwaysOverwrite = "AlwaysOverwrite",
    }
}

str_enum! {
    /// `m:DeleteItem/@DeleteType`.
    pub enum DeleteType ("DeleteType") {
        HardDelete = "HardDelete",
        SoftDelete = "SoftDelete",
        MoveToDeletedItems = "MoveToDeletedItems",
    }
}

str_enum! {
    /// Sort direction of a `t:FieldOrder`.
    pub enum SortDirection ("Order") {
        Ascending = "Ascending",
        Descending = "Descending",
    }
}

str_enum! {
    /// `t:Contains/@ContainmentMode`.
    pub enum ContainmentMode ("ContainmentMode") {
        FullString = "FullString",
        Prefixed = "Prefixed",
        Substring = "Substring",
        PrefixOnWords = "PrefixOnWords",
        ExactPhrase = "ExactPhrase",
    }
}

str_enum! {
    /// `t:Contains/@ContainmentComparison`.
    pub enum ContainmentComparison ("ContainmentComparison") {
        Exact = "Exact",
        IgnoreCase = "IgnoreCase",
        IgnoreNonSpacingCharacters = "IgnoreNonSpacingCharacters",
        Loose = "Loose",
        IgnoreCaseAndNonSpacingCharacters = "IgnoreCaseAndNonSpacingCharacters",
        LooseAndIgnoreCase = "LooseAndIgnoreCase",
        LooseAndIgnoreNonSpace = "LooseAndIgnoreNonSpace",
        LooseAndIgnoreCaseAndIgnoreNonSpace = "LooseAndIgnoreCaseAndIgnoreNonSpace",
    }
}

str_enum! {
    /// Comparison operators of a restriction.
    pub enum ComparisonOp ("comparison") {
        IsEqualTo = "IsEqualTo",
        IsNotEqualTo = "IsNotEqualTo",
        IsGreaterThan = "IsGreaterThan",
        IsGreaterThanOrEqualTo = "IsGreaterThanOrEqualTo",
        IsLessThan = "IsLessThan",
        IsLessThanOrEqualTo = "IsLessThanOrEqualTo",
    }
}

str_enum! {
    /// `m:UserConfigurationProperties` list items.
    pub enum UserConfigurationProperty ("UserConfigurationProperties") {
        Id = "Id",
        Dictionary = "Dictionary",
        XmlData = "XmlData",
        BinaryData = "BinaryData",
        All = "All",
    }
}

str_enum! {
    /// `t:Type` of a user configuration dictionary key or value.
    pub enum DictionaryValueType ("dictionary Type") {
        Boolean = "Boolean",
        Byte = "Byte",
        ByteArray = "ByteArray",
        DateTime = "DateTime",
        Integer32 = "Integer32",
        UnsignedInteger32 = "UnsignedInteger32",
        Integer64 = "Integer64",
        UnsignedInteger64 = "UnsignedInteger64",
        String = "String",
        StringArray = "StringArray",
    }
}

str_enum! {
    /// `IdFormatType` (ConvertId).
    pub enum IdFormat ("IdFormat") {
        EwsLegacyId = "EwsLegacyId",
        EwsId = "EwsId",
        EntryId = "EntryId",
        HexEntryId = "HexEntryId",
        StoreId = "StoreId",
        OwaId = "OwaId",
    }
}

str_enum! {
    /// `m:SizeRequested` of GetUserPhoto.
    pub enum PhotoSize ("SizeRequested") {
        Hr48x48 = "HR48x48",
        Hr64x64 = "HR64x64",
        Hr96x96 = "HR96x96",
        Hr120x120 = "HR120x120",
        Hr240x240 = "HR240x240",
        Hr360x360 = "HR360x360",
        Hr432x432 = "HR432x432",
        Hr504x504 = "HR504x504",
        Hr648x648 = "HR648x648",
    }
}

str_enum! {
    /// `t:EventType` of a subscription.
    pub enum EventType ("EventType") {
        CopiedEvent = "CopiedEvent",
        CreatedEvent = "CreatedEvent",
        DeletedEvent = "DeletedEvent",
        ModifiedEvent = "ModifiedEvent",
        MovedEvent = "MovedEvent",
        NewMailEvent = "NewMailEvent",
        FreeBusyChangedEvent = "FreeBusyChangedEvent",
    }
}

str_enum! {
    /// `m:SyncScope` of SyncFolderItems.
    pub enum SyncScope ("SyncScope") {
        NormalItems = "NormalItems",
        NormalAndAssociatedItems = "NormalAndAssociatedItems",
    }
}

/// Largest `m:MaxChangesReturned` (`MaxSyncChangesReturnedType`: 1 to 512).
pub const MAX_SYNC_CHANGES_RETURNED: u32 = 512;

/// `m:SyncFolderItems` (MS-OXWSSYNC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncFolderItems {
    pub shape: ItemShape,
    /// `m:SyncFolderId`.
    pub folder: FolderRef,
    /// `m:SyncState` as sent; `None` when absent or empty (a first sync).
    pub sync_state: Option<String>,
    /// `m:Ignore`: items whose changes are not to be reported.
    pub ignore: Vec<ItemRef>,
    /// `m:MaxChangesReturned`, 1 to [`MAX_SYNC_CHANGES_RETURNED`].
    pub max_changes_returned: u32,
    /// `m:SyncScope` (absent: `NormalItems`).
    pub sync_scope: Option<SyncScope>,
}

/// `m:SyncFolderHierarchy` (MS-OXWSSYNC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncFolderHierarchy {
    pub shape: FolderShape,
    /// `m:SyncFolderId`; `None`: the whole mailbox.
    pub folder: Option<FolderRef>,
    /// `m:SyncState` as sent; `None` when absent or empty (a first sync).
    pub sync_state: Option<String>,
}

/// `m:GetFolder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetFolder {
    pub shape: FolderShape,
    pub folder_ids: Vec<FolderRef>,
}

/// `m:CreateFolder`: new folders under one parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFolder {
    pub parent: FolderRef,
    pub folders: Vec<NewFolder>,
}

/// `m:MoveFolder` and `m:CopyFolder`: the folders of `m:FolderIds` move, whole, under
/// `m:ToFolderId`, or are copied there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveCopyFolder {
    pub to_folder: FolderRef,
    pub folder_ids: Vec<FolderRef>,
}

/// `m:MarkAllItemsAsRead` (Exchange 2013): every item of each folder marked read or unread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkAllItemsAsRead {
    /// `m:ReadFlag`: read (`true`) or unread.
    pub read: bool,
    /// `m:SuppressReadReceipts` (required; this server sends no read receipts either way).
    pub suppress_read_receipts: bool,
    pub folder_ids: Vec<FolderRef>,
}

/// `m:DeleteFolder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteFolder {
    pub delete_type: DeleteType,
    pub folder_ids: Vec<FolderRef>,
}

str_enum! {
    /// `m:ResolveNames/@SearchScope`.
    pub enum ResolveNamesScope ("ResolveNames SearchScope") {
        ActiveDirectory = "ActiveDirectory",
        ActiveDirectoryContacts = "ActiveDirectoryContacts",
        Contacts = "Contacts",
        ContactsActiveDirectory = "ContactsActiveDirectory",
    }
}

/// `m:ResolveNames`: one name to resolve against the directory (and the mailbox's contacts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveNames {
    /// `m:UnresolvedEntry`: a name, an alias or an address (`SMTP:` prefix allowed).
    pub entry: String,
    pub return_full_contact_data: bool,
    /// Absent means `ActiveDirectoryContacts`, as in Exchange.
    pub search_scope: Option<ResolveNamesScope>,
    /// `m:ParentFolderIds`: the contact folders searched (none given: the mailbox's Contacts).
    pub parent_folders: Vec<FolderRef>,
}

/// `m:MarkAsJunk`: the items whose senders are blocked (`IsJunk`) or unblocked, each moved to
/// Junk Email or the Inbox when `MoveItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkAsJunk {
    pub item_ids: Vec<ItemRef>,
    pub is_junk: bool,
    pub move_item: bool,
}

/// `m:ExpandDL`: the public distribution list to expand, named by `t:EmailAddress` (an SMTP
/// address, or as Exchange allows, its alias or name). Expansion is one level: nested lists
/// come back as entries of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandDL {
    /// The list's address; empty for a private list named by `item_id`.
    pub email_address: String,
    /// `t:ItemId` of a private distribution list (a contact group of the caller's mailbox).
    pub item_id: Option<ItemRef>,
    pub routing_type: Option<String>,
    pub mailbox_type: Option<String>,
}

/// `m:UpdateFolder`: changes to folders, one `t:FolderChange` each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFolder {
    pub changes: Vec<FolderChange>,
}

/// One `t:FolderChange`: the folder (with the change key it was read at, if sent) and its
/// updates, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderChange {
    pub folder: FolderRef,
    pub updates: Vec<FolderUpdate>,
}

/// The folder properties UpdateFolder can change here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderUpdate {
    /// `SetFolderField` of `folder:DisplayName`.
    SetDisplayName(String),
    /// `SetFolderField` of `folder:FolderClass`.
    SetFolderClass(String),
    /// `DeleteFolderField` of `folder:FolderClass`.
    DeleteFolderClass,
    /// `DeleteFolderField` of `folder:PermissionSet`: this server's folder permissions are the
    /// mailbox's delegation, changed with the delegate operations only, so it changes nothing
    /// (exchangelib sends it with every save of a folder).
    DeletePermissionSet,
}

/// `m:EmptyFolder`: the items of folders, and with `delete_subfolders` their subfolders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyFolder {
    pub delete_type: DeleteType,
    pub delete_subfolders: bool,
    pub folder_ids: Vec<FolderRef>,
}

/// One folder of `m:CreateFolder/m:Folders` (`t:Folder`, `t:CalendarFolder`, `t:ContactsFolder`
/// or `t:TasksFolder`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFolder {
    pub kind: FolderKind,
    pub display_name: String,
    /// `t:FolderClass` as sent; see [`NewFolder::class`] for the one to store.
    pub folder_class: Option<String>,
}

impl NewFolder {
    /// The folder class to store: the one sent, else the typed element's own
    /// (`t:CalendarFolder` is `IPF.Appointment`, ...); none for a plain `t:Folder`.
    pub fn class(&self) -> Option<String> {
        self.folder_class.clone().or_else(|| {
            match self.kind {
                FolderKind::CalendarFolder => Some("IPF.Appointment"),
                FolderKind::ContactsFolder => Some("IPF.Contact"),
                FolderKind::TasksFolder => Some("IPF.Task"),
                FolderKind::Folder | FolderKind::SearchFolder => None,
            }
            .map(str::to_owned)
        })
    }
}

/// `m:IndexedPageFolderView` / `m:IndexedPageItemView`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexedPage {
    pub max_entries: Option<u32>,
    pub offset: u32,
    pub base_point: BasePoint,
}

/// `m:FindFolder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindFolder {
    pub traversal: FolderTraversal,
    pub shape: FolderShape,
    pub paging: Option<IndexedPage>,
    pub restriction: Option<Restriction>,
    pub parents: Vec<FolderRef>,
}

/// `m:GetItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetItem {
    pub shape: ItemShape,
    pub item_ids: Vec<ItemRef>,
}

/// The paging view of a FindItem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindItemView {
    Indexed(IndexedPage),
    /// `m:CalendarView`: expands recurrences between `start` and `end`.
    Calendar {
        start: OffsetDateTime,
        end: OffsetDateTime,
        max_entries: Option<u32>,
    },
}

/// `m:FindItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindItem {
    pub traversal: ItemTraversal,
    pub shape: ItemShape,
    pub view: Option<FindItemView>,
    pub restriction: Option<Restriction>,
    pub sort_order: Vec<(PropertyPath, SortDirection)>,
    pub parents: Vec<FolderRef>,
}

/// Right-hand side of a comparison (`t:FieldURIOrConstant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// `t:Constant/@Value`, kept as text (dates stay `xs:dateTime` strings).
    Constant(String),
    Path(PropertyPath),
}

/// A restriction (search expression) tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Restriction {
    And(Vec<Restriction>),
    Or(Vec<Restriction>),
    Not(Box<Restriction>),
    Compare {
        op: ComparisonOp,
        path: PropertyPath,
        value: Operand,
    },
    Exists(PropertyPath),
    Contains {
        path: PropertyPath,
        constant: String,
        containment_mode: Option<ContainmentMode>,
        containment_comparison: Option<ContainmentComparison>,
    },
    /// `t:Excludes` with `t:Bitmask/@Value`.
    Excludes {
        path: PropertyPath,
        bitmask: String,
    },
}

/// `m:DeleteItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteItem {
    pub delete_type: DeleteType,
    pub item_ids: Vec<ItemRef>,
    pub send_meeting_cancellations: Option<String>,
    /// Whether deleting a recurring task deletes it, or only its current occurrence (absent:
    /// all of it).
    pub affected_task_occurrences: Option<AffectedTaskOccurrences>,
    pub suppress_read_receipts: Option<bool>,
}

/// `m:SendItem`: sends existing items (drafts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendItem {
    pub item_ids: Vec<ItemRef>,
    /// `@SaveItemToFolder` (required): keep the sent item (in `saved_folder`, else Sent Items)
    /// rather than delete it.
    pub save_item_to_folder: bool,
    /// `m:SavedItemFolderId`.
    pub saved_folder: Option<FolderRef>,
}

/// One property inside the item element of a `t:SetItemField` /
/// `t:AppendToItemField` (e.g. `<t:Message><t:Subject>x</t:Subject></t:Message>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemFieldValue {
    ItemClass(String),
    Subject(String),
    Sensitivity(Sensitivity),
    Body(Body),
    Categories(Vec<String>),
    Importance(Importance),
    IsRead(bool),
    /// `t:ToRecipients`, `t:CcRecipients`, `t:BccRecipients`.
    ToRecipients(Vec<Mailbox>),
    CcRecipients(Vec<Mailbox>),
    BccRecipients(Vec<Mailbox>),
    /// `t:From`.
    From(Mailbox),
    /// `t:MimeContent`, base64-decoded.
    MimeContent(Vec<u8>),
    /// `t:RequiredAttendees`, `t:OptionalAttendees`, `t:Resources` of a calendar item.
    RequiredAttendees(Vec<Attendee>),
    OptionalAttendees(Vec<Attendee>),
    Resources(Vec<Attendee>),
    /// `t:Start`, `t:End`, `t:Location` of a calendar item.
    Start(OffsetDateTime),
    End(OffsetDateTime),
    Location(String),
    /// `t:IsAllDayEvent`, `t:LegacyFreeBusyStatus` of a calendar item.
    IsAllDayEvent(bool),
    LegacyFreeBusyStatus(LegacyFreeBusyStatus),
    /// `t:StartTimeZone`, `t:EndTimeZone` of a calendar item (exchangelib sets them with every
    /// change of `t:Start` or `t:End`).
    StartTimeZone(ZoneRef),
    EndTimeZone(ZoneRef),
    Extended(ExtendedProperty),
    /// The contact properties of a `t:Contact` item element, all in one (the path says which
    /// one the change sets: [`crate::contact::set_field`]).
    Contact(Box<Contact>),
    /// The task properties of a `t:Task` item element, all in one (the path says which one
    /// the change sets: [`crate::task::set_field`]).
    Task(Box<Task>),
    /// The list properties of a `t:DistributionList` item element, all in one (the path says
    /// which one the change sets: [`crate::dlist::DistributionList::change`]).
    DistributionList(Box<crate::dlist::ListFields>),
    /// Any other property element, by local name: not modelled for updates
    /// (the server answers a per-item error, never a fault).
    Other(String),
}

impl ItemFieldValue {
    /// The `FieldURI` naming this property (`None` for extended, contact, task and other
    /// properties).
    pub fn field_uri(&self) -> Option<&'static str> {
        Some(match self {
            Self::ItemClass(_) => "item:ItemClass",
            Self::Subject(_) => "item:Subject",
            Self::Sensitivity(_) => "item:Sensitivity",
            Self::Body(_) => "item:Body",
            Self::Categories(_) => "item:Categories",
            Self::Importance(_) => "item:Importance",
            Self::IsRead(_) => "message:IsRead",
            Self::ToRecipients(_) => "message:ToRecipients",
            Self::CcRecipients(_) => "message:CcRecipients",
            Self::BccRecipients(_) => "message:BccRecipients",
            Self::From(_) => "message:From",
            Self::MimeContent(_) => "item:MimeContent",
            Self::RequiredAttendees(_) => "calendar:RequiredAttendees",
            Self::OptionalAttendees(_) => "calendar:OptionalAttendees",
            Self::Resources(_) => "calendar:Resources",
            Self::Start(_) => "calendar:Start",
            Self::End(_) => "calendar:End",
            Self::Location(_) => "calendar:Location",
            Self::IsAllDayEvent(_) => "calendar:IsAllDayEvent",
            Self::LegacyFreeBusyStatus(_) => "calendar:LegacyFreeBusyStatus",
            Self::StartTimeZone(_) => "calendar:StartTimeZone",
            Self::EndTimeZone(_) => "calendar:EndTimeZone",
            Self::Extended(_)
            | Self::Contact(_)
            | Self::Task(_)
            | Self::DistributionList(_)
            | Self::Other(_) => return None,
        })
    }

    /// Whether this value is the property `path` names.
    pub fn is_for(&self, path: &PropertyPath) -> bool {
        match (self, path) {
            (Self::Extended(e), PropertyPath::Extended(p)) => e.uri.matches(p),
            // the path picks the property out of the contact's
            (Self::Contact(_), p) => crate::contact::is_contact_path(p),
            (Self::Task(_), p) => crate::task::is_task_path(p),
            (Self::DistributionList(_), p) => crate::dlist::is_list_path(p),
            // `item:ReminderIsSet` names `t:ReminderIsSet`
            (Self::Other(name), PropertyPath::Field(f)) => {
                f.split_once(':').is_some_and(|(_, local)| local == name)
            }
            (v, PropertyPath::Field(f)) => v.field_uri() == Some(f.as_str()),
            _ => false,
        }
    }
}

/// One change of a `t:ItemChange/t:Updates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemFieldChange {
    /// `t:SetItemField`: the path and the properties of its item element
    /// (Exchange requires exactly one, matching the path; checked by the server).
    Set {
        path: PropertyPath,
        values: Vec<ItemFieldValue>,
    },
    /// `t:AppendToItemField`.
    Append {
        path: PropertyPath,
        values: Vec<ItemFieldValue>,
    },
    /// `t:DeleteItemField`.
    Delete { path: PropertyPath },
}

impl ItemFieldChange {
    /// The property the change names.
    pub fn path(&self) -> &PropertyPath {
        match self {
            Self::Set { path, .. } | Self::Append { path, .. } | Self::Delete { path } => path,
        }
    }
}

/// `t:ItemChange`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemChange {
    pub item_id: ItemRef,
    pub updates: Vec<ItemFieldChange>,
}

/// `m:UpdateItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateItem {
    pub conflict_resolution: ConflictResolution,
    pub message_disposition: Option<MessageDisposition>,
    pub send_meeting_invitations_or_cancellations: Option<String>,
    pub suppress_read_receipts: Option<bool>,
    pub saved_folder: Option<FolderRef>,
    pub changes: Vec<ItemChange>,
}

/// `m:MoveItem` / `m:CopyItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MoveCopyItem {
    pub to_folder: FolderRef,
    pub item_ids: Vec<ItemRef>,
    /// `@ReturnNewItemIds`; absent means the new ids are returned.
    pub return_new_item_ids: Option<bool>,
}

/// `t:Body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub body_type: BodyType,
    /// The body text. When a client wrote HTML unescaped inside `t:Body`
    /// (ews-javascript-api does), this is the raw markup as sent.
    pub content: String,
}

/// Fields common to every new item (`t:ItemType`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemFields {
    pub item_class: Option<String>,
    pub subject: Option<String>,
    pub sensitivity: Option<Sensitivity>,
    pub body: Option<Body>,
    pub categories: Vec<String>,
    pub importance: Option<Importance>,
    pub date_time_sent: Option<OffsetDateTime>,
    pub date_time_created: Option<OffsetDateTime>,
    pub extended_properties: Vec<ExtendedProperty>,
    /// `t:Attachments`: the file and item attachments to store with the item, in order.
    pub attachments: Vec<NewAttachment>,
    /// `t:MimeContent`, base64-decoded: the whole message as RFC 5322 text, which the server
    /// reads the item from (properties given beside it win).
    pub mime_content: Option<Vec<u8>>,
    /// Local names of `t:` children that were recognised as EWS but are
    /// not modelled here (e.g. `ReminderIsSet`, `StartTimeZone`); they are
    /// ignored, the list is for logging.
    pub ignored: Vec<String>,
    /// Read-only properties a new contact or task was given (`t:CompleteName`,
    /// `t:IsComplete`, …), by element name: the server refuses that item alone
    /// (`ErrorInvalidPropertySet`), as Exchange does, not the whole request.
    pub read_only: Vec<String>,
}

/// A `t:FileAttachment` to store (MS-OXWSATT): in `m:CreateAttachment/m:Attachments`, or in the
/// `t:Attachments` of a new item. The read-only properties a client may echo (`t:AttachmentId`,
/// `t:Size`, `t:LastModifiedTime`) and `t:ContentLocation` are accepted and not kept.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NewFileAttachment {
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub content_id: Option<String>,
    pub is_inline: Option<bool>,
    pub is_contact_photo: Option<bool>,
    /// The base64-decoded `t:Content`; `None` when absent (EWS then answers
    /// `ErrorRequiredPropertyMissing` for this attachment).
    pub content: Option<Vec<u8>>,
}

/// Names the content's length, never the content.
impl std::fmt::Debug for NewFileAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewFileAttachment")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("content_id", &self.content_id)
            .field("is_inline", &self.is_inline)
            .field("is_contact_photo", &self.is_contact_photo)
            .field("content_len", &self.content.as_ref().map(Vec::len))
            .finish()
    }
}

/// A `t:ItemAttachment` to store: an item held inside another (a message forwarded as an
/// attachment, an appointment sent along). Its item is read as CreateItem reads a new item
/// (`t:Message`, `t:CalendarItem`, `t:Contact`, `t:Task` or `t:DistributionList`; a response
/// object is refused); it may hold attachments of its own. `t:AttachmentId`, `t:Size`, `t:LastModifiedTime` and
/// `t:ContentLocation` are accepted and not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItemAttachment {
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub content_id: Option<String>,
    pub is_inline: Option<bool>,
    /// The attached item; `None` when the element has none (EWS then answers
    /// `ErrorRequiredPropertyMissing` for this attachment).
    pub item: Option<Box<NewItem>>,
}

/// One attachment of `t:Attachments` (a new item's) or `m:Attachments` (CreateAttachment's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewAttachment {
    File(NewFileAttachment),
    Item(NewItemAttachment),
    /// An item attachment the server carries over from a stored item (a forward takes the
    /// original's), its item in the server's own stored form. The parser never produces it.
    Carried(CarriedItemAttachment),
}

/// [`NewAttachment::Carried`].
#[derive(Clone, PartialEq, Eq)]
pub struct CarriedItemAttachment {
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub content_id: Option<String>,
    pub is_inline: bool,
    /// The attached item as the server stored it.
    pub stored: Vec<u8>,
}

/// Names the stored form's length, never its bytes.
impl std::fmt::Debug for CarriedItemAttachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CarriedItemAttachment")
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("content_id", &self.content_id)
            .field("is_inline", &self.is_inline)
            .field("stored_len", &self.stored.len())
            .finish()
    }
}

/// `m:CreateAttachment`: attachments added to an existing item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateAttachment {
    /// `m:ParentItemId` (its change key, if sent, is not checked, as in Exchange).
    pub parent: ItemRef,
    pub attachments: Vec<NewAttachment>,
}

/// `m:AttachmentShape` of GetAttachment. It shapes item attachments only; file attachments
/// are answered whole whatever it says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttachmentShape {
    pub include_mime_content: bool,
    pub body_type: Option<ShapeBodyType>,
    pub filter_html_content: Option<bool>,
    pub additional: Vec<PropertyPath>,
}

/// `m:GetAttachment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetAttachment {
    pub shape: Option<AttachmentShape>,
    /// The `Id` of each `m:AttachmentIds/t:AttachmentId`, in order.
    pub attachment_ids: Vec<String>,
}

/// `m:DeleteAttachment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteAttachment {
    /// The `Id` of each `m:AttachmentIds/t:AttachmentId`, in order.
    pub attachment_ids: Vec<String>,
}

/// A new `t:Message`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewMessage {
    pub item: ItemFields,
    pub sender: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub from: Option<Mailbox>,
    pub internet_message_id: Option<String>,
    pub is_read: Option<bool>,
    /// `t:InReplyTo`: the Message-ID of the message this one answers.
    pub in_reply_to: Option<String>,
    /// `message:References`: the Message-IDs of the thread, oldest first.
    pub references: Option<String>,
}

/// A new `t:Contact`: its `t:ItemType` fields and its contact properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewContact {
    pub item: ItemFields,
    pub contact: Contact,
}

/// A new `t:DistributionList`: its `t:ItemType` fields and its members.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewDistributionList {
    pub item: ItemFields,
    pub list: crate::dlist::DistributionList,
}

/// A new `t:Task`: its `t:ItemType` fields and its task properties as the client gave them
/// (the server settles them: [`Task::settle`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTask {
    pub item: ItemFields,
    pub task: Task,
}

/// A new `t:CalendarItem`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewCalendarItem {
    pub item: ItemFields,
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    pub is_all_day_event: Option<bool>,
    pub legacy_free_busy_status: Option<LegacyFreeBusyStatus>,
    pub location: Option<String>,
    /// `t:RequiredAttendees`, `t:OptionalAttendees`, `t:Resources`, in order (a meeting when
    /// any is non-empty).
    pub required_attendees: Vec<Attendee>,
    pub optional_attendees: Vec<Attendee>,
    pub resources: Vec<Attendee>,
    /// `t:Recurrence`: the item is a recurring series.
    pub recurrence: Option<crate::recurrence::Recurrence>,
    /// `t:StartTimeZone`: the zone whose wall clock the item's times keep.
    pub start_time_zone: Option<ZoneRef>,
}

/// A `t:TimeZoneDefinitionType` as a request gives it: a Windows time zone id (exchangelib
/// sends only that), its rules when it spells them out, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneRef {
    pub id: Option<String>,
    /// The definition's current rules, when it has `t:Periods` and `t:Transitions`.
    pub rules: Option<crate::timezone::SerializableTimeZone>,
}

fn parse_zone_ref(el: &Element) -> Result<ZoneRef> {
    let id = el.attr("Id").filter(|i| !i.is_empty()).map(str::to_owned);
    let rules = if el.children.is_empty() {
        None
    } else {
        Some(crate::timezone::time_zone_of_definition(el)?)
    };
    Ok(ZoneRef { id, rules })
}

str_enum! {
    /// Which answer a meeting response object (MS-OXWSMTGS) gives to a meeting request.
    pub enum MeetingReplyKind ("meeting response") {
        Accept = "AcceptItem",
        TentativelyAccept = "TentativelyAcceptItem",
        Decline = "DeclineItem",
    }
}

impl MeetingReplyKind {
    /// The response type the attendee answers with.
    pub fn response_type(self) -> ResponseType {
        match self {
            Self::Accept => ResponseType::Accept,
            Self::TentativelyAccept => ResponseType::Tentative,
            Self::Decline => ResponseType::Decline,
        }
    }
}

/// `t:AcceptItem`, `t:TentativelyAcceptItem` or `t:DeclineItem` in `m:CreateItem/m:Items`: an
/// attendee's answer to the meeting request (or to the attendee's calendar item) that
/// `t:ReferenceItemId` names, with an optional subject and body of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingReply {
    pub kind: MeetingReplyKind,
    pub reference_item_id: ItemRef,
    pub item: ItemFields,
}

str_enum! {
    /// A reply or forward response object (MS-OXWSCORE `t:SmartResponseType`).
    pub enum SmartResponseKind ("response object") {
        Reply = "ReplyToItem",
        ReplyAll = "ReplyAllToItem",
        Forward = "ForwardItem",
    }
}

/// `t:ReplyToItem`, `t:ReplyAllToItem` or `t:ForwardItem` in `m:CreateItem/m:Items`: a new
/// message answering or passing on the item `t:ReferenceItemId` names, which the server composes
/// (subject, recipients, the original quoted under `t:NewBodyContent`) and then saves or sends
/// as CreateItem's `MessageDisposition` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmartResponse {
    pub kind: SmartResponseKind,
    pub reference_item_id: ItemRef,
    /// `t:Subject`, `t:Body` (a whole body: nothing quoted), …
    pub item: ItemFields,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub from: Option<Mailbox>,
    /// `t:NewBodyContent`: the new text, above the quoted original.
    pub new_body: Option<Body>,
}

/// `t:CancelCalendarItem` in `m:CreateItem/m:Items`: the organizer cancels the meeting that
/// `t:ReferenceItemId` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelCalendarItem {
    pub reference_item_id: ItemRef,
    pub item: ItemFields,
}

str_enum! {
    /// `@SendMeetingInvitations` (CreateItem), `@SendMeetingCancellations` (DeleteItem),
    /// `@SendMeetingInvitationsOrCancellations` (UpdateItem).
    pub enum CalendarSend ("calendar send mode") {
        SendToNone = "SendToNone",
        SendOnlyToAll = "SendOnlyToAll",
        SendOnlyToChanged = "SendOnlyToChanged",
        SendToAllAndSaveCopy = "SendToAllAndSaveCopy",
        SendToChangedAndSaveCopy = "SendToChangedAndSaveCopy",
    }
}

impl CalendarSend {
    /// Whether meeting messages are sent at all.
    pub fn sends(self) -> bool {
        self != Self::SendToNone
    }

    /// Whether the organizer keeps a copy of what was sent (in Sent Items).
    pub fn saves_copy(self) -> bool {
        matches!(
            self,
            Self::SendToAllAndSaveCopy | Self::SendToChangedAndSaveCopy
        )
    }
}

/// The mode named by a calendar send attribute (validated when the request was parsed;
/// absent, or a value this version does not know, is `SendToNone`).
pub fn calendar_send(attr: Option<&str>) -> CalendarSend {
    attr.and_then(|v| v.trim_matches(xml::is_xml_whitespace).parse().ok())
        .unwrap_or(CalendarSend::SendToNone)
}

/// An item in `m:CreateItem/m:Items`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(
    clippy::large_enum_variant,
    reason = "a handful per request; boxing would only complicate matching"
)]
pub enum NewItem {
    Message(NewMessage),
    CalendarItem(NewCalendarItem),
    Contact(NewContact),
    Task(NewTask),
    /// `t:DistributionList` ([`crate::dlist`]).
    DistributionList(NewDistributionList),
    /// `t:AcceptItem`, `t:TentativelyAcceptItem`, `t:DeclineItem`.
    MeetingReply(MeetingReply),
    /// `t:CancelCalendarItem`.
    CancelCalendarItem(CancelCalendarItem),
    /// `t:ReplyToItem`, `t:ReplyAllToItem`, `t:ForwardItem`.
    SmartResponse(SmartResponse),
}

impl NewItem {
    /// The fields common to all item types.
    pub fn fields(&self) -> &ItemFields {
        match self {
            Self::Message(m) => &m.item,
            Self::CalendarItem(c) => &c.item,
            Self::Contact(c) => &c.item,
            Self::Task(t) => &t.item,
            Self::DistributionList(l) => &l.item,
            Self::MeetingReply(r) => &r.item,
            Self::CancelCalendarItem(c) => &c.item,
            Self::SmartResponse(r) => &r.item,
        }
    }
}

/// `m:CreateItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateItem {
    pub message_disposition: Option<MessageDisposition>,
    pub send_meeting_invitations: Option<String>,
    pub saved_folder: Option<FolderRef>,
    pub items: Vec<NewItem>,
}

/// `UserConfigurationName`: a name plus the folder it lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConfigurationName {
    pub name: String,
    pub folder: FolderRef,
}

/// `m:GetUserConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetUserConfiguration {
    pub name: UserConfigurationName,
    pub properties: Vec<UserConfigurationProperty>,
}

impl GetUserConfiguration {
    /// Whether `property` was asked for (directly or via `All`).
    pub fn wants(&self, property: UserConfigurationProperty) -> bool {
        self.properties
            .iter()
            .any(|p| *p == property || *p == UserConfigurationProperty::All)
    }
}

/// A typed dictionary key or value (`t:Type` + `t:Value*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedValue {
    pub value_type: DictionaryValueType,
    /// One value, except for `StringArray` (zero or more). Values are
    /// checked against their type; numbers and booleans are trimmed.
    pub values: Vec<String>,
}

/// `t:DictionaryEntry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictionaryEntry {
    pub key: TypedValue,
    /// `None` when `t:DictionaryValue` is absent or empty (a null value).
    pub value: Option<TypedValue>,
}

/// `m:UserConfiguration` of Create/UpdateUserConfiguration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConfiguration {
    pub name: UserConfigurationName,
    pub item_id: Option<ItemRef>,
    pub dictionary: Option<Vec<DictionaryEntry>>,
    /// Base64-decoded `t:XmlData`.
    pub xml_data: Option<Vec<u8>>,
    /// Base64-decoded `t:BinaryData`.
    pub binary_data: Option<Vec<u8>>,
}

/// `t:AlternateId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlternateId {
    pub format: IdFormat,
    pub id: String,
    pub mailbox: String,
    pub is_archive: Option<bool>,
}

/// `m:ConvertId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvertId {
    pub destination_format: IdFormat,
    pub ids: Vec<AlternateId>,
}

/// `m:GetUserPhoto`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetUserPhoto {
    pub email: String,
    pub size_requested: PhotoSize,
}

/// What every subscription request has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionCommon {
    pub subscribe_to_all_folders: bool,
    pub folder_ids: Vec<FolderRef>,
    pub event_types: Vec<EventType>,
    pub watermark: Option<String>,
}

/// `m:Subscribe`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    /// `m:PushSubscriptionRequest`: notifications are POSTed to `url`.
    Push {
        common: SubscriptionCommon,
        /// Minutes between status notifications (1–1440).
        status_frequency: u32,
        url: String,
    },
    /// `m:PullSubscriptionRequest`: the client calls GetEvents.
    Pull {
        common: SubscriptionCommon,
        /// Minutes of inactivity before the subscription expires (1–1440).
        timeout: u32,
    },
    /// `m:StreamingSubscriptionRequest`.
    Streaming { common: SubscriptionCommon },
}

/// Most subscription ids one `m:GetStreamingEvents` names (Exchange's documented group of at
/// most 200 subscriptions per streaming connection).
pub const MAX_STREAMING_SUBSCRIPTION_IDS: usize = 200;

/// `m:GetStreamingEvents`: open a streaming connection for these subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetStreamingEvents {
    /// `m:SubscriptionIds/t:SubscriptionId`, in order, duplicates removed; 1 to
    /// [`MAX_STREAMING_SUBSCRIPTION_IDS`].
    pub subscription_ids: Vec<String>,
    /// `m:ConnectionTimeout`: minutes the connection stays open (1–30, the schema's
    /// `StreamingSubscriptionConnectionTimeoutType`).
    pub connection_timeout: u32,
}

impl Subscription {
    pub fn common(&self) -> &SubscriptionCommon {
        match self {
            Self::Push { common, .. } | Self::Pull { common, .. } | Self::Streaming { common } => {
                common
            }
        }
    }
}

// ======================================================================
// Parsing helpers
// ======================================================================

type Result<T> = std::result::Result<T, EwsProtoError>;

fn expected_list<T: std::fmt::Display>(all: &[T]) -> String {
    let names: Vec<String> = all.iter().map(ToString::to_string).collect();
    format!("one of: {}", names.join(", "))
}

/// At most one child `ns:local`.
pub(crate) fn opt_child<'a>(
    el: &'a Element,
    ns: &str,
    local: &'static str,
) -> Result<Option<&'a Element>> {
    let mut found = el.children.iter().filter(|c| c.is(ns, local));
    let first = found.next();
    if let Some(dup) = found.next() {
        return Err(EwsProtoError::DuplicateElement {
            parent: dn(el),
            name: dn(dup),
            position: dup.position(),
        });
    }
    Ok(first)
}

/// Exactly one child `ns:local`.
pub(crate) fn req_child<'a>(el: &'a Element, ns: &str, local: &'static str) -> Result<&'a Element> {
    opt_child(el, ns, local)?.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: local,
        position: el.position(),
    })
}

pub(crate) fn req_attr<'a>(el: &'a Element, name: &'static str) -> Result<&'a str> {
    el.attr(name)
        .ok_or_else(|| EwsProtoError::MissingAttribute {
            element: dn(el),
            name,
            position: el.position(),
        })
}

fn parse_value<T>(
    value: &str,
    context: impl FnOnce() -> String,
    all: &[T],
    position: usize,
) -> Result<T>
where
    T: FromStr<Err = UnknownValue> + std::fmt::Display,
{
    let trimmed = value.trim_matches(xml::is_xml_whitespace);
    trimmed.parse().map_err(|_| EwsProtoError::InvalidValue {
        context: context(),
        value: echo(value),
        expected: expected_list(all),
        position,
    })
}

fn enum_attr<T>(el: &Element, name: &'static str, all: &[T]) -> Result<Option<T>>
where
    T: FromStr<Err = UnknownValue> + std::fmt::Display,
{
    el.attr(name)
        .map(|v| parse_value(v, || format!("{}/@{name}", dn(el)), all, el.position()))
        .transpose()
}

/// A calendar send attribute as given, checked to be a [`CalendarSend`] value.
fn calendar_send_attr(el: &Element, name: &'static str) -> Result<Option<String>> {
    enum_attr(el, name, CalendarSend::ALL)?;
    Ok(el.attr(name).map(str::to_owned))
}

fn req_enum_attr<T>(el: &Element, name: &'static str, all: &[T]) -> Result<T>
where
    T: FromStr<Err = UnknownValue> + std::fmt::Display,
{
    req_attr(el, name)?;
    enum_attr(el, name, all)?.ok_or_else(|| EwsProtoError::MissingAttribute {
        element: dn(el),
        name,
        position: el.position(),
    })
}

fn enum_text_of<T>(el: &Element, value: &str, all: &[T]) -> Result<T>
where
    T: FromStr<Err = UnknownValue> + std::fmt::Display,
{
    parse_value(value, || dn(el), all, el.position())
}

pub(crate) fn enum_text<T>(el: &Element, all: &[T]) -> Result<T>
where
    T: FromStr<Err = UnknownValue> + std::fmt::Display,
{
    parse_value(&el.text, || dn(el), all, el.position())
}

pub(crate) fn invalid(el: &Element, context: String, value: &str, expected: &str) -> EwsProtoError {
    EwsProtoError::InvalidValue {
        context,
        value: echo(value),
        expected: expected.to_owned(),
        position: el.position(),
    }
}

pub(crate) fn bool_text(el: &Element) -> Result<bool> {
    parse_xs_boolean(&el.text)
        .ok_or_else(|| invalid(el, dn(el), &el.text, "an xs:boolean (true, false, 1, 0)"))
}

pub(crate) fn bool_attr(el: &Element, name: &'static str) -> Result<Option<bool>> {
    el.attr(name)
        .map(|v| {
            parse_xs_boolean(v).ok_or_else(|| {
                invalid(
                    el,
                    format!("{}/@{name}", dn(el)),
                    v,
                    "an xs:boolean (true, false, 1, 0)",
                )
            })
        })
        .transpose()
}

fn u32_text(el: &Element) -> Result<u32> {
    el.text_trimmed()
        .parse()
        .map_err(|_| invalid(el, dn(el), &el.text, "a non-negative 32-bit integer"))
}

fn u32_attr(el: &Element, name: &'static str) -> Result<Option<u32>> {
    el.attr(name)
        .map(|v| {
            v.trim_matches(xml::is_xml_whitespace).parse().map_err(|_| {
                invalid(
                    el,
                    format!("{}/@{name}", dn(el)),
                    v,
                    "a non-negative 32-bit integer",
                )
            })
        })
        .transpose()
}

fn datetime_value(
    el: &Element,
    context: impl FnOnce() -> String,
    value: &str,
) -> Result<OffsetDateTime> {
    parse_xs_datetime(value).ok_or_else(|| EwsProtoError::InvalidDateTime {
        context: context(),
        value: echo(value),
        position: el.position(),
    })
}

pub(crate) fn datetime_text(el: &Element) -> Result<OffsetDateTime> {
    datetime_value(el, || dn(el), &el.text)
}

fn req_datetime_attr(el: &Element, name: &'static str) -> Result<OffsetDateTime> {
    let v = req_attr(el, name)?;
    datetime_value(el, || format!("{}/@{name}", dn(el)), v)
}

fn text_owned(el: &Element) -> String {
    el.text.clone()
}

fn non_empty_text(el: &Element, what: &'static str) -> Result<String> {
    let t = el.text_trimmed();
    if t.is_empty() {
        return Err(EwsProtoError::MissingElement {
            parent: dn(el),
            name: what,
            position: el.position(),
        });
    }
    Ok(t.to_owned())
}

/// Strips XML whitespace and base64-decodes (without a copy of the text when it has none, as
/// clients send attachment content).
pub(crate) fn base64_text(el: &Element, name: &'static str) -> Result<Vec<u8>> {
    let engine = base64::engine::general_purpose::STANDARD;
    let decoded = if el.text.chars().any(xml::is_xml_whitespace) {
        let compact: String = el
            .text
            .chars()
            .filter(|c| !xml::is_xml_whitespace(*c))
            .collect();
        engine.decode(compact.as_bytes())
    } else {
        engine.decode(el.text.as_bytes())
    };
    decoded.map_err(|_| EwsProtoError::InvalidBase64 {
        element: name,
        position: el.position(),
    })
}

pub(crate) fn unexpected(parent: &Element, child: &Element) -> EwsProtoError {
    EwsProtoError::UnexpectedElement {
        parent: dn(parent),
        found: dn(child),
        position: child.position(),
    }
}

pub(crate) fn unsupported(el: &Element) -> EwsProtoError {
    EwsProtoError::Unsupported {
        found: dn(el),
        position: el.position(),
    }
}

pub(crate) fn set_once<T>(
    slot: &mut Option<T>,
    parent: &Element,
    child: &Element,
    value: T,
) -> Result<()> {
    if slot.is_some() {
        return Err(EwsProtoError::DuplicateElement {
            parent: dn(parent),
            name: dn(child),
            position: child.position(),
        });
    }
    *slot = Some(value);
    Ok(())
}

fn id_attr(el: &Element) -> Result<String> {
    let id = req_attr(el, "Id")?;
    if id.is_empty() {
        return Err(EwsProtoError::EmptyId {
            element: dn(el),
            position: el.position(),
        });
    }
    Ok(id.to_owned())
}

// ======================================================================
// Shared structures
// ======================================================================

/// Parses `t:FolderId` or `t:DistinguishedFolderId`; `None` if `el` is neither.
pub(crate) fn parse_folder_ref(el: &Element) -> Result<Option<FolderRef>> {
    if el.is(TYPES, "FolderId") {
        return Ok(Some(FolderRef::Id {
            id: id_attr(el)?,
            change_key: el.attr("ChangeKey").map(str::to_owned),
        }));
    }
    if !el.is(TYPES, "DistinguishedFolderId") {
        return Ok(None);
    }
    let raw = req_attr(el, "Id")?;
    let id = DistinguishedFolderId::from_str(raw).map_err(|_| {
        EwsProtoError::UnknownDistinguishedFolderId {
            id: echo(raw),
            position: el.position(),
        }
    })?;
    let mut mailbox = None;
    for child in &el.children {
        if child.is(TYPES, "Mailbox") {
            let email = parse_mailbox(child)?
                .email_address
                .filter(|e| !e.is_empty())
                .ok_or_else(|| EwsProtoError::MissingElement {
                    parent: dn(child),
                    name: "EmailAddress",
                    position: child.position(),
                })?;
            set_once(&mut mailbox, el, child, email)?;
        } else {
            return Err(unexpected(el, child));
        }
    }
    Ok(Some(FolderRef::Distinguished { id, mailbox }))
}

/// A container of folder references (`m:FolderIds`, `m:ParentFolderIds`, ...).
fn parse_folder_refs(container: &Element, allow_empty: bool) -> Result<Vec<FolderRef>> {
    let mut out = Vec::with_capacity(container.children.len());
    for child in &container.children {
        match parse_folder_ref(child)? {
            Some(f) => out.push(f),
            None if child.is(TYPES, "AddressListId") => return Err(unsupported(child)),
            None => return Err(unexpected(container, child)),
        }
    }
    if out.is_empty() && !allow_empty {
        return Err(EwsProtoError::MissingElement {
            parent: dn(container),
            name: "FolderId",
            position: container.position(),
        });
    }
    Ok(out)
}

/// One new folder of `m:CreateFolder/m:Folders`: its display name (required) and class. The
/// other properties the schema allows a folder are not stored here, so they are refused by
/// name rather than dropped; the read-only ones (ids, counts) are not the client's to set.
fn parse_new_folder(list: &Element, el: &Element) -> Result<NewFolder> {
    if &*el.ns != TYPES {
        return Err(unexpected(list, el));
    }
    let kind = match el.local.as_str() {
        "Folder" => FolderKind::Folder,
        "CalendarFolder" => FolderKind::CalendarFolder,
        "ContactsFolder" => FolderKind::ContactsFolder,
        "TasksFolder" => FolderKind::TasksFolder,
        "SearchFolder" => return Err(unsupported(el)),
        _ => return Err(unexpected(list, el)),
    };
    let (mut name, mut class) = (None, None);
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            // the store checks both (length, control characters), with its own messages
            "DisplayName" => set_once(&mut name, el, child, text_owned(child))?,
            "FolderClass" => set_once(&mut class, el, child, text_owned(child))?,
            "ExtendedProperty"
            | "PermissionSet"
            | "PolicyTag"
            | "ArchiveTag"
            | "ManagedFolderInformation" => return Err(unsupported(child)),
            _ => return Err(unexpected(el, child)),
        }
    }
    let display_name = name.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "DisplayName",
        position: el.position(),
    })?;
    Ok(NewFolder {
        kind,
        display_name,
        folder_class: class,
    })
}

/// A container with exactly one folder reference (`m:SavedItemFolderId`).
fn parse_single_folder_ref(container: &Element) -> Result<FolderRef> {
    let mut refs = parse_folder_refs(container, false)?;
    if refs.len() > 1
        && let Some(second) = container.children.get(1)
    {
        return Err(EwsProtoError::DuplicateElement {
            parent: dn(container),
            name: dn(second),
            position: second.position(),
        });
    }
    refs.pop().ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(container),
        name: "FolderId",
        position: container.position(),
    })
}

pub(crate) fn parse_item_ref(el: &Element) -> Result<ItemRef> {
    Ok(ItemRef {
        id: id_attr(el)?,
        change_key: el.attr("ChangeKey").map(str::to_owned),
    })
}

/// `t:ItemId`, `t:OccurrenceItemId` or `t:RecurringMasterItemId` ([`ItemRef::target`] tells
/// which); `None` for any other element.
pub(crate) fn parse_any_item_ref(el: &Element) -> Result<Option<ItemRef>> {
    if &*el.ns != TYPES {
        return Ok(None);
    }
    match el.local.as_str() {
        "ItemId" => parse_item_ref(el).map(Some),
        "OccurrenceItemId" => {
            let master = req_attr(el, "RecurringMasterId")?;
            if master.is_empty() {
                return Err(EwsProtoError::EmptyId {
                    element: dn(el),
                    position: el.position(),
                });
            }
            let index = req_attr(el, "InstanceIndex")?;
            let index = index
                .parse::<u32>()
                .ok()
                .filter(|i| *i >= 1)
                .ok_or_else(|| EwsProtoError::InvalidValue {
                    context: format!("{}/@InstanceIndex", dn(el)),
                    value: crate::error::echo(index),
                    expected: "a whole number from 1 (the occurrence's place in its series)".into(),
                    position: el.position(),
                })?;
            Ok(Some(ItemRef::occurrence(
                master,
                index,
                el.attr("ChangeKey"),
            )))
        }
        "RecurringMasterItemId" => {
            let occurrence = req_attr(el, "OccurrenceId")?;
            if occurrence.is_empty() {
                return Err(EwsProtoError::EmptyId {
                    element: dn(el),
                    position: el.position(),
                });
            }
            Ok(Some(ItemRef::master_of(occurrence, el.attr("ChangeKey"))))
        }
        _ => Ok(None),
    }
}

pub(crate) fn parse_item_refs(container: &Element) -> Result<Vec<ItemRef>> {
    let mut out = Vec::with_capacity(container.children.len());
    for child in &container.children {
        if let Some(r) = parse_any_item_ref(child)? {
            out.push(r);
        } else {
            return Err(unexpected(container, child));
        }
    }
    if out.is_empty() {
        return Err(EwsProtoError::MissingElement {
            parent: dn(container),
            name: "ItemId",
            position: container.position(),
        });
    }
    Ok(out)
}

pub(crate) fn parse_mailbox(el: &Element) -> Result<Mailbox> {
    let mut m = Mailbox::default();
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "Name" => set_once(&mut m.name, el, child, text_owned(child))?,
            "EmailAddress" => set_once(
                &mut m.email_address,
                el,
                child,
                child.text_trimmed().to_owned(),
            )?,
            "RoutingType" => set_once(
                &mut m.routing_type,
                el,
                child,
                child.text_trimmed().to_owned(),
            )?,
            "MailboxType" => set_once(
                &mut m.mailbox_type,
                el,
                child,
                child.text_trimmed().to_owned(),
            )?,
            "ItemId" => set_once(
                &mut m.item_id,
                el,
                child,
                ItemRef {
                    id: id_attr(child)?,
                    change_key: child.attr("ChangeKey").map(str::to_owned),
                },
            )?,
            _ => return Err(unexpected(el, child)),
        }
    }
    Ok(m)
}

/// `t:Sender`/`t:From`: exactly one `t:Mailbox`.
fn parse_single_mailbox(el: &Element) -> Result<Mailbox> {
    let mut found = None;
    for child in &el.children {
        if child.is(TYPES, "Mailbox") {
            set_once(&mut found, el, child, parse_mailbox(child)?)?;
        } else {
            return Err(unexpected(el, child));
        }
    }
    found.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "Mailbox",
        position: el.position(),
    })
}

/// `t:ToRecipients` etc.: any number of `t:Mailbox`.
fn parse_mailbox_list(el: &Element) -> Result<Vec<Mailbox>> {
    el.children
        .iter()
        .map(|child| {
            if child.is(TYPES, "Mailbox") {
                parse_mailbox(child)
            } else {
                Err(unexpected(el, child))
            }
        })
        .collect()
}

/// One `t:Attendee`: its `t:Mailbox` (required, with an address), optional `t:ResponseType` and
/// `t:LastResponseTime`; a proposed new time (`t:ProposedStart`, `t:ProposedEnd`) is not kept.
fn parse_attendee(el: &Element) -> Result<Attendee> {
    let mut a = Attendee::default();
    let mut mailbox = None;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "Mailbox" => set_once(&mut mailbox, el, child, parse_mailbox(child)?)?,
            "ResponseType" => set_once(
                &mut a.response_type,
                el,
                child,
                enum_text(child, ResponseType::ALL)?,
            )?,
            "LastResponseTime" => {
                set_once(&mut a.last_response_time, el, child, datetime_text(child)?)?
            }
            "ProposedStart" | "ProposedEnd" => {}
            _ => return Err(unexpected(el, child)),
        }
    }
    let mailbox = mailbox.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "Mailbox",
        position: el.position(),
    })?;
    if mailbox.email_address.as_deref().is_none_or(str::is_empty) {
        return Err(EwsProtoError::MissingElement {
            parent: "t:Attendee/t:Mailbox".to_owned(),
            name: "EmailAddress",
            position: el.position(),
        });
    }
    a.mailbox = mailbox;
    Ok(a)
}

/// `t:RequiredAttendees` etc. (`t:NonEmptyArrayOfAttendeesType`): one or more `t:Attendee`.
fn parse_attendees(el: &Element) -> Result<Vec<Attendee>> {
    let out = el
        .children
        .iter()
        .map(|child| {
            if child.is(TYPES, "Attendee") {
                parse_attendee(child)
            } else {
                Err(unexpected(el, child))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    if out.is_empty() {
        return Err(EwsProtoError::MissingElement {
            parent: dn(el),
            name: "Attendee",
            position: el.position(),
        });
    }
    Ok(out)
}

/// A response object that names the item it answers (`t:ReferenceItemId`) and may carry an item's
/// common fields (subject, body, attachments); the message fields a client may echo (recipients,
/// read receipts, `t:ProposedStart`/`t:ProposedEnd`) are not kept.
fn parse_response_object(el: &Element, input: &[u8]) -> Result<(ItemRef, ItemFields)> {
    let mut item = ItemFields::default();
    let mut reference = None;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        if child.local == "ReferenceItemId" {
            set_once(&mut reference, el, child, parse_item_ref(child)?)?;
            continue;
        }
        if parse_item_field(&mut item, el, child, input)? {
            continue;
        }
        item.ignored.push(child.local.clone());
    }
    let reference = reference.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "ReferenceItemId",
        position: el.position(),
    })?;
    Ok((reference, item))
}

/// A `t:SmartResponseType` element: its recipients, From and `t:NewBodyContent` beside the
/// response object's fields. The read-receipt and received-by elements are recognised and not
/// kept.
fn parse_smart_response(el: &Element, input: &[u8]) -> Result<SmartResponse> {
    let kind = enum_text_of(el, &el.local, SmartResponseKind::ALL)?;
    let mut r = SmartResponse {
        kind,
        reference_item_id: ItemRef::new("", None),
        item: ItemFields::default(),
        to: Vec::new(),
        cc: Vec::new(),
        bcc: Vec::new(),
        from: None,
        new_body: None,
    };
    let mut reference = None;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "ReferenceItemId" => set_once(&mut reference, el, child, parse_item_ref(child)?)?,
            "NewBodyContent" => set_once(&mut r.new_body, el, child, parse_body(child, input)?)?,
            "ToRecipients" => r.to.extend(parse_mailbox_list(child)?),
            "CcRecipients" => r.cc.extend(parse_mailbox_list(child)?),
            "BccRecipients" => r.bcc.extend(parse_mailbox_list(child)?),
            "From" => set_once(&mut r.from, el, child, parse_single_mailbox(child)?)?,
            _ if parse_item_field(&mut r.item, el, child, input)? => {}
            other => r.item.ignored.push(other.to_owned()),
        }
    }
    r.reference_item_id = reference.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "ReferenceItemId",
        position: el.position(),
    })?;
    Ok(r)
}

pub(crate) fn parse_extended_field_uri(el: &Element) -> Result<ExtendedFieldUri> {
    let get = |n: &str| el.attr(n).map(str::to_owned);
    Ok(ExtendedFieldUri {
        distinguished_property_set_id: get("DistinguishedPropertySetId"),
        property_set_id: get("PropertySetId"),
        property_tag: get("PropertyTag"),
        property_name: get("PropertyName"),
        property_id: get("PropertyId"),
        property_type: req_attr(el, "PropertyType")?.to_owned(),
    })
}

/// Parses a property path element; `None` if `el` is not one.
pub(crate) fn parse_property_path(el: &Element) -> Result<Option<PropertyPath>> {
    if &*el.ns != TYPES {
        return Ok(None);
    }
    Ok(Some(match el.local.as_str() {
        "FieldURI" => PropertyPath::Field(req_attr(el, "FieldURI")?.to_owned()),
        "IndexedFieldURI" => PropertyPath::Indexed {
            field_uri: req_attr(el, "FieldURI")?.to_owned(),
            field_index: req_attr(el, "FieldIndex")?.to_owned(),
        },
        "ExtendedFieldURI" => PropertyPath::Extended(parse_extended_field_uri(el)?),
        "ExceptionFieldURI" => PropertyPath::Exception(req_attr(el, "FieldURI")?.to_owned()),
        _ => return Ok(None),
    }))
}

/// The single property path child of `el` (ignoring `skip` children).
fn single_path_child(el: &Element, skip: &[&str]) -> Result<PropertyPath> {
    let mut path = None;
    for child in &el.children {
        if &*child.ns == TYPES && skip.contains(&child.local.as_str()) {
            continue;
        }
        match parse_property_path(child)? {
            Some(p) => set_once(&mut path, el, child, p)?,
            None => return Err(unexpected(el, child)),
        }
    }
    path.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "FieldURI",
        position: el.position(),
    })
}

fn parse_additional_properties(el: &Element) -> Result<Vec<PropertyPath>> {
    el.children
        .iter()
        .map(|child| parse_property_path(child)?.ok_or_else(|| unexpected(el, child)))
        .collect()
}

fn parse_folder_shape(el: &Element) -> Result<FolderShape> {
    let mut base_shape = None;
    let mut additional = None;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "BaseShape" => set_once(
                &mut base_shape,
                el,
                child,
                enum_text(child, BaseShape::ALL)?,
            )?,
            "AdditionalProperties" => {
                set_once(
                    &mut additional,
                    el,
                    child,
                    parse_additional_properties(child)?,
                )?;
            }
            _ => return Err(unexpected(el, child)),
        }
    }
    Ok(FolderShape {
        base_shape: base_shape.ok_or_else(|| EwsProtoError::MissingElement {
            parent: dn(el),
            name: "BaseShape",
            position: el.position(),
        })?,
        additional: additional.unwrap_or_default(),
    })
}

fn parse_item_shape(el: &Element) -> Result<ItemShape> {
    let mut base_shape = None;
    let mut body_type = None;
    let mut include_mime_content = None;
    let mut additional = None;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "BaseShape" => set_once(
                &mut base_shape,
                el,
                child,
                enum_text(child, BaseShape::ALL)?,
            )?,
            "BodyType" => set_once(
                &mut body_type,
                el,
                child,
                enum_text(child, ShapeBodyType::ALL)?,
            )?,
            "IncludeMimeContent" => {
                set_once(&mut include_mime_content, el, child, bool_text(child)?)?
            }
            "AdditionalProperties" => {
                set_once(
                    &mut additional,
                    el,
                    child,
                    parse_additional_properties(child)?,
                )?;
            }
            // Accepted and ignored: rendering switches we do not implement.
            "FilterHtmlContent"
            | "ConvertHtmlCodePageToUTF8"
            | "InlineImageUrlTemplate"
            | "BlockExternalImages"
            | "AddBlankTargetToLinks"
            | "MaximumBodySize" => {}
            _ => return Err(unexpected(el, child)),
        }
    }
    Ok(ItemShape {
        base_shape: base_shape.ok_or_else(|| EwsProtoError::MissingElement {
            parent: dn(el),
            name: "BaseShape",
            position: el.position(),
        })?,
        body_type,
        include_mime_content: include_mime_content.unwrap_or(false),
        additional: additional.unwrap_or_default(),
    })
}

fn parse_indexed_page(el: &Element) -> Result<IndexedPage> {
    let max_entries = u32_attr(el, "MaxEntriesReturned")?;
    let offset = u32_attr(el, "Offset")?.ok_or_else(|| EwsProtoError::MissingAttribute {
        element: dn(el),
        name: "Offset",
        position: el.position(),
    })?;
    let base_point = req_enum_attr(el, "BasePoint", BasePoint::ALL)?;
    Ok(IndexedPage {
        max_entries,
        offset,
        base_point,
    })
}

// ======================================================================
// Restrictions
// ======================================================================

fn parse_restriction_container(el: &Element) -> Result<Restriction> {
    let mut expr = None;
    for child in &el.children {
        set_once(&mut expr, el, child, parse_search_expression(child)?)?;
    }
    expr.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "SearchExpression",
        position: el.position(),
    })
}

fn parse_search_expression(el: &Element) -> Result<Restriction> {
    if &*el.ns != TYPES {
        return Err(EwsProtoError::UnexpectedElement {
            parent: "m:Restriction".to_owned(),
            found: dn(el),
            position: el.position(),
        });
    }
    let local = el.local.as_str();
    if let Ok(op) = ComparisonOp::from_str(local) {
        let path = single_path_child(el, &["FieldURIOrConstant"])?;
        let operand_el = req_child(el, TYPES, "FieldURIOrConstant")?;
        let mut value = None;
        for child in &operand_el.children {
            let operand = if child.is(TYPES, "Constant") {
                Operand::Constant(req_attr(child, "Value")?.to_owned())
            } else {
                Operand::Path(
                    parse_property_path(child)?.ok_or_else(|| unexpected(operand_el, child))?,
                )
            };
            set_once(&mut value, operand_el, child, operand)?;
        }
        let value = value.ok_or_else(|| EwsProtoError::MissingElement {
            parent: dn(operand_el),
            name: "Constant",
            position: operand_el.position(),
        })?;
        return Ok(Restriction::Compare { op, path, value });
    }
    match local {
        "And" | "Or" => {
            let parts = el
                .children
                .iter()
                .map(parse_search_expression)
                .collect::<Result<Vec<_>>>()?;
            if parts.is_empty() {
                return Err(EwsProtoError::MissingElement {
                    parent: dn(el),
                    name: "SearchExpression",
                    position: el.position(),
                });
            }
            Ok(if local == "And" {
                Restriction::And(parts)
            } else {
                Restriction::Or(parts)
            })
        }
        "Not" => Ok(Restriction::Not(Box::new(parse_restriction_container(el)?))),
        "Exists" => Ok(Restriction::Exists(single_path_child(el, &[])?)),
        "Contains" => {
            let path = single_path_child(el, &["Constant"])?;
            let constant = req_attr(req_child(el, TYPES, "Constant")?, "Value")?.to_owned();
            Ok(Restriction::Contains {
                path,
                constant,
                containment_mode: enum_attr(el, "ContainmentMode", ContainmentMode::ALL)?,
                containment_comparison: enum_attr(
                    el,
                    "ContainmentComparison",
                    ContainmentComparison::ALL,
                )?,
            })
        }
        "Excludes" => {
            let path = single_path_child(el, &["Bitmask"])?;
            let bitmask = req_attr(req_child(el, TYPES, "Bitmask")?, "Value")?.to_owned();
            Ok(Restriction::Excludes { path, bitmask })
        }
        _ => Err(EwsProtoError::UnexpectedElement {
            parent: "m:Restriction".to_owned(),
            found: dn(el),
            position: el.position(),
        }),
    }
}

fn parse_sort_order(el: &Element) -> Result<Vec<(PropertyPath, SortDirection)>> {
    el.children
        .iter()
        .map(|child| {
            if !child.is(TYPES, "FieldOrder") {
                return Err(unexpected(el, child));
            }
            let direction = req_enum_attr(child, "Order", SortDirection::ALL)?;
            Ok((single_path_child(child, &[])?, direction))
        })
        .collect()
}

// ======================================================================
// Items
// ======================================================================

fn parse_body(el: &Element, input: &[u8]) -> Result<Body> {
    let body_type = req_enum_attr(el, "BodyType", BodyType::ALL)?;
    let content = if el.children.is_empty() {
        el.text.clone()
    } else {
        // ews-javascript-api writes HTML bodies unescaped; take the markup as sent.
        el.raw_content(input)
            .map(str::to_owned)
            .ok_or(EwsProtoError::NotUtf8 {
                position: el.content.start,
            })?
    };
    Ok(Body { body_type, content })
}

/// Handles a child common to all item types; returns false if not one.
fn parse_item_field(
    item: &mut ItemFields,
    parent: &Element,
    child: &Element,
    input: &[u8],
) -> Result<bool> {
    match child.local.as_str() {
        "ItemClass" => set_once(
            &mut item.item_class,
            parent,
            child,
            child.text_trimmed().to_owned(),
        )?,
        "Subject" => set_once(&mut item.subject, parent, child, text_owned(child))?,
        "Sensitivity" => set_once(
            &mut item.sensitivity,
            parent,
            child,
            enum_text(child, Sensitivity::ALL)?,
        )?,
        "Body" => set_once(&mut item.body, parent, child, parse_body(child, input)?)?,
        "Categories" => {
            if !item.categories.is_empty() {
                return Err(EwsProtoError::DuplicateElement {
                    parent: dn(parent),
                    name: dn(child),
                    position: child.position(),
                });
            }
            for s in &child.children {
                if !s.is(TYPES, "String") {
                    return Err(unexpected(child, s));
                }
                item.categories.push(text_owned(s));
            }
        }
        "Importance" => set_once(
            &mut item.importance,
            parent,
            child,
            enum_text(child, Importance::ALL)?,
        )?,
        "DateTimeSent" => set_once(
            &mut item.date_time_sent,
            parent,
            child,
            datetime_text(child)?,
        )?,
        "DateTimeCreated" => set_once(
            &mut item.date_time_created,
            parent,
            child,
            datetime_text(child)?,
        )?,
        "ExtendedProperty" => item
            .extended_properties
            .push(parse_extended_property(child)?),
        "Attachments" => {
            if !item.attachments.is_empty() {
                return Err(EwsProtoError::DuplicateElement {
                    parent: dn(parent),
                    name: dn(child),
                    position: child.position(),
                });
            }
            item.attachments = parse_attachment_list(child, true, input)?;
        }
        "MimeContent" => set_once(
            &mut item.mime_content,
            parent,
            child,
            base64_text(child, "t:MimeContent")?,
        )?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `t:ReferenceAttachment`: valid EWS that this server does not store.
fn unsupported_attachment(el: &Element) -> EwsProtoError {
    EwsProtoError::Unsupported {
        found: format!(
            "{} (file and item attachments, t:FileAttachment and t:ItemAttachment, are stored)",
            dn(el)
        ),
        position: el.position(),
    }
}

/// `t:Attachments` of a new item (may be empty) or `m:Attachments` of CreateAttachment (not).
fn parse_attachment_list(
    list: &Element,
    allow_empty: bool,
    input: &[u8],
) -> Result<Vec<NewAttachment>> {
    let mut out = Vec::with_capacity(list.children.len());
    for child in &list.children {
        if child.is(TYPES, "FileAttachment") {
            out.push(NewAttachment::File(parse_file_attachment(child)?));
        } else if child.is(TYPES, "ItemAttachment") {
            out.push(NewAttachment::Item(parse_item_attachment(child, input)?));
        } else if child.is(TYPES, "ReferenceAttachment") {
            return Err(unsupported_attachment(child));
        } else {
            return Err(unexpected(list, child));
        }
    }
    if out.is_empty() && !allow_empty {
        return Err(EwsProtoError::MissingElement {
            parent: dn(list),
            name: "FileAttachment",
            position: list.position(),
        });
    }
    Ok(out)
}

/// Where one attachment element's `t:AttachmentType` properties go.
struct AttachmentFields<'a> {
    name: &'a mut Option<String>,
    content_type: &'a mut Option<String>,
    content_id: &'a mut Option<String>,
    is_inline: &'a mut Option<bool>,
}

/// One `t:AttachmentType` property of a file or item attachment, read into `f`: `Ok(false)` for
/// a child that is none. The read-only ones (the server sets them) and `t:ContentLocation` are
/// accepted and not kept.
fn parse_attachment_field(f: AttachmentFields<'_>, el: &Element, child: &Element) -> Result<bool> {
    match child.local.as_str() {
        "Name" => set_once(f.name, el, child, text_owned(child))?,
        "ContentType" => set_once(f.content_type, el, child, child.text_trimmed().to_owned())?,
        "ContentId" => set_once(f.content_id, el, child, child.text_trimmed().to_owned())?,
        "IsInline" => set_once(f.is_inline, el, child, bool_text(child)?)?,
        "AttachmentId"
        | "Size"
        | "LastModifiedTime"
        | "ContentLocation"
        | "AttachmentOriginalUrl" => {}
        _ => return Ok(false),
    }
    Ok(true)
}

/// One `t:ItemAttachment` to store: its `t:AttachmentType` fields and at most one item.
fn parse_item_attachment(el: &Element, input: &[u8]) -> Result<NewItemAttachment> {
    let mut a = NewItemAttachment {
        name: None,
        content_type: None,
        content_id: None,
        is_inline: None,
        item: None,
    };
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        let common = AttachmentFields {
            name: &mut a.name,
            content_type: &mut a.content_type,
            content_id: &mut a.content_id,
            is_inline: &mut a.is_inline,
        };
        if parse_attachment_field(common, el, child)? {
            continue;
        }
        match child.local.as_str() {
            "Message" | "CalendarItem" | "Contact" | "Task" | "DistributionList" => {
                let item = parse_new_item(child, input)?;
                set_once(&mut a.item, el, child, Box::new(item))?;
            }
            // other item kinds a real Exchange can attach, which this server does not keep
            "Item"
            | "MeetingMessage"
            | "MeetingRequest"
            | "MeetingResponse"
            | "MeetingCancellation"
            | "PostItem" => {
                return Err(EwsProtoError::Unsupported {
                    found: format!(
                        "{} in t:ItemAttachment (t:Message, t:CalendarItem, t:Contact, t:Task and t:DistributionList can be attached)",
                        dn(child)
                    ),
                    position: child.position(),
                });
            }
            _ => return Err(unexpected(el, child)),
        }
    }
    Ok(a)
}

/// One `t:FileAttachment` to store.
fn parse_file_attachment(el: &Element) -> Result<NewFileAttachment> {
    let mut a = NewFileAttachment::default();
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        let common = AttachmentFields {
            name: &mut a.name,
            content_type: &mut a.content_type,
            content_id: &mut a.content_id,
            is_inline: &mut a.is_inline,
        };
        if parse_attachment_field(common, el, child)? {
            continue;
        }
        match child.local.as_str() {
            "IsContactPhoto" => set_once(&mut a.is_contact_photo, el, child, bool_text(child)?)?,
            "Content" => set_once(&mut a.content, el, child, base64_text(child, "t:Content")?)?,
            _ => return Err(unexpected(el, child)),
        }
    }
    Ok(a)
}

/// `m:AttachmentIds`: one or more `t:AttachmentId`, their `Id`s in order.
fn parse_attachment_ids(container: &Element) -> Result<Vec<String>> {
    let mut out = Vec::with_capacity(container.children.len());
    for child in &container.children {
        if child.is(TYPES, "AttachmentId") {
            out.push(id_attr(child)?);
        } else {
            return Err(unexpected(container, child));
        }
    }
    if out.is_empty() {
        return Err(EwsProtoError::MissingElement {
            parent: dn(container),
            name: "AttachmentId",
            position: container.position(),
        });
    }
    Ok(out)
}

fn parse_attachment_shape(el: &Element) -> Result<AttachmentShape> {
    let mut shape = AttachmentShape::default();
    let (mut mime, mut filter, mut additional) = (None, None, None);
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "IncludeMimeContent" => set_once(&mut mime, el, child, bool_text(child)?)?,
            "BodyType" => set_once(
                &mut shape.body_type,
                el,
                child,
                enum_text(child, ShapeBodyType::ALL)?,
            )?,
            "FilterHtmlContent" => set_once(&mut filter, el, child, bool_text(child)?)?,
            "AdditionalProperties" => set_once(
                &mut additional,
                el,
                child,
                parse_additional_properties(child)?,
            )?,
            _ => return Err(unexpected(el, child)),
        }
    }
    shape.include_mime_content = mime.unwrap_or(false);
    shape.filter_html_content = filter;
    shape.additional = additional.unwrap_or_default();
    Ok(shape)
}

pub(crate) fn parse_extended_property(el: &Element) -> Result<ExtendedProperty> {
    let uri = parse_extended_field_uri(req_child(el, TYPES, "ExtendedFieldURI")?)?;
    let single = opt_child(el, TYPES, "Value")?;
    let multi = opt_child(el, TYPES, "Values")?;
    for child in &el.children {
        if !(child.is(TYPES, "ExtendedFieldURI")
            || child.is(TYPES, "Value")
            || child.is(TYPES, "Values"))
        {
            return Err(unexpected(el, child));
        }
    }
    let value = match (single, multi) {
        (Some(v), None) => ExtendedValue::Single(text_owned(v)),
        (None, Some(vs)) => ExtendedValue::Multi(
            vs.children
                .iter()
                .map(|v| {
                    if v.is(TYPES, "Value") {
                        Ok(text_owned(v))
                    } else {
                        Err(unexpected(vs, v))
                    }
                })
                .collect::<Result<_>>()?,
        ),
        (Some(_), Some(v)) => return Err(unexpected(el, v)),
        (None, None) => {
            return Err(EwsProtoError::MissingElement {
                parent: dn(el),
                name: "Value",
                position: el.position(),
            });
        }
    };
    Ok(ExtendedProperty { uri, value })
}

/// A new contact's or task's own property as `read` read it (whether the child was one): a
/// read-only one is kept by name in `read_only`, for the server to refuse that item alone.
fn own_property(read: Result<bool>, read_only: &mut Vec<String>) -> Result<bool> {
    match read {
        Err(EwsProtoError::ReadOnlyProperty { element, .. }) => {
            read_only.push(element);
            Ok(true)
        }
        other => other,
    }
}

fn parse_new_item(el: &Element, input: &[u8]) -> Result<NewItem> {
    if &*el.ns != TYPES {
        return Err(EwsProtoError::UnexpectedElement {
            parent: "m:Items".to_owned(),
            found: dn(el),
            position: el.position(),
        });
    }
    match el.local.as_str() {
        "Message" => {
            let mut m = NewMessage::default();
            for child in &el.children {
                if &*child.ns != TYPES {
                    return Err(unexpected(el, child));
                }
                if parse_item_field(&mut m.item, el, child, input)? {
                    continue;
                }
                match child.local.as_str() {
                    "Sender" => set_once(&mut m.sender, el, child, parse_single_mailbox(child)?)?,
                    "From" => set_once(&mut m.from, el, child, parse_single_mailbox(child)?)?,
                    "ToRecipients" => m.to.extend(parse_mailbox_list(child)?),
                    "CcRecipients" => m.cc.extend(parse_mailbox_list(child)?),
                    "BccRecipients" => m.bcc.extend(parse_mailbox_list(child)?),
                    "InternetMessageId" => {
                        set_once(
                            &mut m.internet_message_id,
                            el,
                            child,
                            child.text_trimmed().to_owned(),
                        )?;
                    }
                    "IsRead" => set_once(&mut m.is_read, el, child, bool_text(child)?)?,
                    "InReplyTo" => set_once(
                        &mut m.in_reply_to,
                        el,
                        child,
                        child.text_trimmed().to_owned(),
                    )?,
                    "References" => set_once(
                        &mut m.references,
                        el,
                        child,
                        child.text_trimmed().to_owned(),
                    )?,
                    other => m.item.ignored.push(other.to_owned()),
                }
            }
            Ok(NewItem::Message(m))
        }
        "CalendarItem" => {
            let mut c = NewCalendarItem::default();
            for child in &el.children {
                if &*child.ns != TYPES {
                    return Err(unexpected(el, child));
                }
                if parse_item_field(&mut c.item, el, child, input)? {
                    continue;
                }
                match child.local.as_str() {
                    "Start" => set_once(&mut c.start, el, child, datetime_text(child)?)?,
                    "End" => set_once(&mut c.end, el, child, datetime_text(child)?)?,
                    "IsAllDayEvent" => {
                        set_once(&mut c.is_all_day_event, el, child, bool_text(child)?)?
                    }
                    "LegacyFreeBusyStatus" => set_once(
                        &mut c.legacy_free_busy_status,
                        el,
                        child,
                        enum_text(child, LegacyFreeBusyStatus::ALL)?,
                    )?,
                    "Location" => set_once(&mut c.location, el, child, text_owned(child))?,
                    "RequiredAttendees" | "OptionalAttendees" | "Resources" => {
                        let list = match child.local.as_str() {
                            "RequiredAttendees" => &mut c.required_attendees,
                            "OptionalAttendees" => &mut c.optional_attendees,
                            _ => &mut c.resources,
                        };
                        if !list.is_empty() {
                            return Err(EwsProtoError::DuplicateElement {
                                parent: dn(el),
                                name: dn(child),
                                position: child.position(),
                            });
                        }
                        *list = parse_attendees(child)?;
                    }
                    "Recurrence" => set_once(
                        &mut c.recurrence,
                        el,
                        child,
                        crate::recurrence::parse_recurrence(child)?,
                    )?,
                    "StartTimeZone" => {
                        set_once(&mut c.start_time_zone, el, child, parse_zone_ref(child)?)?
                    }
                    other => c.item.ignored.push(other.to_owned()),
                }
            }
            Ok(NewItem::CalendarItem(c))
        }
        "Contact" => {
            let mut c = NewContact::default();
            for child in &el.children {
                if &*child.ns != TYPES {
                    return Err(unexpected(el, child));
                }
                if parse_item_field(&mut c.item, el, child, input)?
                    || own_property(
                        parse_contact_child(&mut c.contact, el, child),
                        &mut c.item.read_only,
                    )?
                {
                    continue;
                }
                c.item.ignored.push(child.local.clone());
            }
            Ok(NewItem::Contact(c))
        }
        "Task" => {
            let mut t = NewTask::default();
            for child in &el.children {
                if &*child.ns != TYPES {
                    return Err(unexpected(el, child));
                }
                if parse_item_field(&mut t.item, el, child, input)?
                    || own_property(
                        parse_task_child(&mut t.task, el, child),
                        &mut t.item.read_only,
                    )?
                {
                    continue;
                }
                t.item.ignored.push(child.local.clone());
            }
            Ok(NewItem::Task(t))
        }
        "DistributionList" => {
            let mut l = NewDistributionList::default();
            for child in &el.children {
                if &*child.ns != TYPES {
                    return Err(unexpected(el, child));
                }
                if parse_item_field(&mut l.item, el, child, input)? {
                    continue;
                }
                match child.local.as_str() {
                    "DisplayName" => {
                        set_once(&mut l.list.display_name, el, child, text_owned(child))?
                    }
                    "FileAs" => set_once(&mut l.list.file_as, el, child, text_owned(child))?,
                    "Members" => {
                        if !l.list.members.is_empty() {
                            return Err(EwsProtoError::DuplicateElement {
                                parent: dn(el),
                                name: dn(child),
                                position: child.position(),
                            });
                        }
                        l.list.members = crate::dlist::parse_members(child)?;
                    }
                    // the server says where the list comes from
                    "ContactSource" => {}
                    other => l.item.ignored.push(other.to_owned()),
                }
            }
            Ok(NewItem::DistributionList(l))
        }
        "AcceptItem" | "TentativelyAcceptItem" | "DeclineItem" => {
            let kind = enum_text_of(el, &el.local, MeetingReplyKind::ALL)?;
            let (reference_item_id, item) = parse_response_object(el, input)?;
            Ok(NewItem::MeetingReply(MeetingReply {
                kind,
                reference_item_id,
                item,
            }))
        }
        "ReplyToItem" | "ReplyAllToItem" | "ForwardItem" => {
            Ok(NewItem::SmartResponse(parse_smart_response(el, input)?))
        }
        "CancelCalendarItem" => {
            let (reference_item_id, item) = parse_response_object(el, input)?;
            Ok(NewItem::CancelCalendarItem(CancelCalendarItem {
                reference_item_id,
                item,
            }))
        }
        _ => Err(unsupported(el)),
    }
}

// ======================================================================
// UpdateItem
// ======================================================================

/// The properties of the item element of a Set/AppendToItemField; the contact properties of a
/// `t:Contact` as one [`ItemFieldValue::Contact`], the task properties of a `t:Task` as one
/// [`ItemFieldValue::Task`], after the others.
fn parse_field_values(el: &Element, input: &[u8]) -> Result<Vec<ItemFieldValue>> {
    let mut out = Vec::with_capacity(el.children.len());
    let is_contact = el.is(TYPES, "Contact");
    let is_task = el.is(TYPES, "Task");
    let is_list = el.is(TYPES, "DistributionList");
    let mut list = crate::dlist::ListFields::default();
    let mut has_list = false;
    let mut contact = Contact::default();
    let mut has_contact = false;
    let mut task = Task::default();
    let mut has_task = false;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        if is_list {
            let taken = match child.local.as_str() {
                "DisplayName" => {
                    set_once(&mut list.display_name, el, child, text_owned(child))?;
                    true
                }
                "FileAs" => {
                    set_once(&mut list.file_as, el, child, text_owned(child))?;
                    true
                }
                "Members" => {
                    set_once(
                        &mut list.members,
                        el,
                        child,
                        crate::dlist::parse_members(child)?,
                    )?;
                    true
                }
                _ => false,
            };
            if taken {
                has_list = true;
                continue;
            }
        }
        let own = if is_contact {
            Some((
                parse_contact_child(&mut contact, el, child),
                &mut has_contact,
            ))
        } else if is_task {
            Some((parse_task_child(&mut task, el, child), &mut has_task))
        } else {
            None
        };
        match own {
            Some((Ok(true), has)) => {
                *has = true;
                continue;
            }
            None | Some((Ok(false), _)) => {}
            // an update of a read-only contact or task property is refused for its item (the
            // server names the property), not as a fault of the whole request
            Some((Err(EwsProtoError::ReadOnlyProperty { .. }), _)) => {
                out.push(ItemFieldValue::Other(child.local.to_string()));
                continue;
            }
            Some((Err(e), _)) => return Err(e),
        }
        out.push(match child.local.as_str() {
            "ItemClass" => ItemFieldValue::ItemClass(child.text_trimmed().to_owned()),
            "Subject" => ItemFieldValue::Subject(text_owned(child)),
            "Sensitivity" => ItemFieldValue::Sensitivity(enum_text(child, Sensitivity::ALL)?),
            "Body" => ItemFieldValue::Body(parse_body(child, input)?),
            "Categories" => ItemFieldValue::Categories(
                child
                    .children
                    .iter()
                    .map(|s| {
                        if s.is(TYPES, "String") {
                            Ok(text_owned(s))
                        } else {
                            Err(unexpected(child, s))
                        }
                    })
                    .collect::<Result<_>>()?,
            ),
            "Importance" => ItemFieldValue::Importance(enum_text(child, Importance::ALL)?),
            "IsRead" => ItemFieldValue::IsRead(bool_text(child)?),
            "ToRecipients" => ItemFieldValue::ToRecipients(parse_mailbox_list(child)?),
            "CcRecipients" => ItemFieldValue::CcRecipients(parse_mailbox_list(child)?),
            "BccRecipients" => ItemFieldValue::BccRecipients(parse_mailbox_list(child)?),
            "From" => ItemFieldValue::From(parse_single_mailbox(child)?),
            "MimeContent" => ItemFieldValue::MimeContent(base64_text(child, "t:MimeContent")?),
            "RequiredAttendees" => ItemFieldValue::RequiredAttendees(parse_attendees(child)?),
            "OptionalAttendees" => ItemFieldValue::OptionalAttendees(parse_attendees(child)?),
            "Resources" => ItemFieldValue::Resources(parse_attendees(child)?),
            "Start" => ItemFieldValue::Start(datetime_text(child)?),
            "End" => ItemFieldValue::End(datetime_text(child)?),
            "Location" => ItemFieldValue::Location(text_owned(child)),
            "IsAllDayEvent" => ItemFieldValue::IsAllDayEvent(bool_text(child)?),
            "LegacyFreeBusyStatus" => {
                ItemFieldValue::LegacyFreeBusyStatus(enum_text(child, LegacyFreeBusyStatus::ALL)?)
            }
            "StartTimeZone" => ItemFieldValue::StartTimeZone(parse_zone_ref(child)?),
            "EndTimeZone" => ItemFieldValue::EndTimeZone(parse_zone_ref(child)?),
            "ExtendedProperty" => ItemFieldValue::Extended(parse_extended_property(child)?),
            other => ItemFieldValue::Other(other.to_owned()),
        });
    }
    if has_contact {
        out.push(ItemFieldValue::Contact(Box::new(contact)));
    }
    if has_task {
        out.push(ItemFieldValue::Task(Box::new(task)));
    }
    if has_list {
        out.push(ItemFieldValue::DistributionList(Box::new(list)));
    }
    Ok(out)
}

/// `t:SetItemField` / `t:AppendToItemField` / `t:DeleteItemField`.
fn parse_item_field_change(el: &Element, input: &[u8]) -> Result<ItemFieldChange> {
    if &*el.ns != TYPES
        || !matches!(
            el.local.as_str(),
            "SetItemField" | "AppendToItemField" | "DeleteItemField"
        )
    {
        return Err(EwsProtoError::UnexpectedElement {
            parent: "t:Updates".to_owned(),
            found: dn(el),
            position: el.position(),
        });
    }
    let mut path = None;
    let mut item = None;
    for child in &el.children {
        match parse_property_path(child)? {
            Some(p) => set_once(&mut path, el, child, p)?,
            None if &*child.ns == TYPES && el.local != "DeleteItemField" => {
                set_once(&mut item, el, child, child)?
            }
            None => return Err(unexpected(el, child)),
        }
    }
    let path = path.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "FieldURI",
        position: el.position(),
    })?;
    if el.local == "DeleteItemField" {
        return Ok(ItemFieldChange::Delete { path });
    }
    let item = item.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "Item",
        position: el.position(),
    })?;
    let values = parse_field_values(item, input)?;
    Ok(if el.local == "SetItemField" {
        ItemFieldChange::Set { path, values }
    } else {
        ItemFieldChange::Append { path, values }
    })
}

fn parse_item_change(el: &Element, input: &[u8]) -> Result<ItemChange> {
    if !el.is(TYPES, "ItemChange") {
        return Err(EwsProtoError::UnexpectedElement {
            parent: "m:ItemChanges".to_owned(),
            found: dn(el),
            position: el.position(),
        });
    }
    let mut item_id = None;
    let mut updates = None;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "ItemId" | "OccurrenceItemId" | "RecurringMasterItemId" => {
                let r = parse_any_item_ref(child)?.ok_or_else(|| unexpected(el, child))?;
                set_once(&mut item_id, el, child, r)?
            }
            "Updates" => {
                let list = child
                    .children
                    .iter()
                    .map(|u| parse_item_field_change(u, input))
                    .collect::<Result<Vec<_>>>()?;
                if list.is_empty() {
                    return Err(EwsProtoError::MissingElement {
                        parent: dn(child),
                        name: "SetItemField",
                        position: child.position(),
                    });
                }
                set_once(&mut updates, el, child, list)?;
            }
            _ => return Err(unexpected(el, child)),
        }
    }
    Ok(ItemChange {
        item_id: item_id.ok_or_else(|| EwsProtoError::MissingElement {
            parent: dn(el),
            name: "ItemId",
            position: el.position(),
        })?,
        updates: updates.ok_or_else(|| EwsProtoError::MissingElement {
            parent: dn(el),
            name: "Updates",
            position: el.position(),
        })?,
    })
}

/// One `t:FolderChange` of `m:UpdateFolder/m:FolderChanges`.
fn parse_folder_change(list: &Element, el: &Element) -> Result<FolderChange> {
    if !el.is(TYPES, "FolderChange") {
        return Err(unexpected(list, el));
    }
    let (mut folder, mut updates) = (None, None);
    for child in &el.children {
        if let Some(f) = parse_folder_ref(child)? {
            set_once(&mut folder, el, child, f)?;
        } else if child.is(TYPES, "Updates") {
            let list = child
                .children
                .iter()
                .map(|u| parse_folder_update(child, u))
                .collect::<Result<Vec<_>>>()?;
            if list.is_empty() {
                return Err(EwsProtoError::MissingElement {
                    parent: dn(child),
                    name: "SetFolderField",
                    position: child.position(),
                });
            }
            set_once(&mut updates, el, child, list)?;
        } else {
            return Err(unexpected(el, child));
        }
    }
    let missing = |name| EwsProtoError::MissingElement {
        parent: dn(el),
        name,
        position: el.position(),
    };
    Ok(FolderChange {
        folder: folder.ok_or_else(|| missing("FolderId"))?,
        updates: updates.ok_or_else(|| missing("Updates"))?,
    })
}

/// One `t:SetFolderField` / `t:DeleteFolderField` of a folder change. Properties other than
/// the display name and class (and deleting permissions) are refused by name.
fn parse_folder_update(updates: &Element, el: &Element) -> Result<FolderUpdate> {
    let set = if el.is(TYPES, "SetFolderField") {
        true
    } else if el.is(TYPES, "DeleteFolderField") {
        false
    } else if el.is(TYPES, "AppendToFolderField") {
        return Err(unsupported(el));
    } else {
        return Err(unexpected(updates, el));
    };
    let mut path: Option<&Element> = None;
    let mut value: Option<&Element> = None;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "FieldURI" => set_once(&mut path, el, child, child)?,
            "ExtendedFieldURI" => return Err(unsupported(child)),
            "Folder" | "CalendarFolder" | "ContactsFolder" | "TasksFolder" | "SearchFolder"
                if set =>
            {
                set_once(&mut value, el, child, child)?
            }
            _ => return Err(unexpected(el, child)),
        }
    }
    let path = path.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "FieldURI",
        position: el.position(),
    })?;
    let uri = req_attr(path, "FieldURI")?;
    if !set {
        return match uri {
            "folder:FolderClass" => Ok(FolderUpdate::DeleteFolderClass),
            "folder:PermissionSet" => Ok(FolderUpdate::DeletePermissionSet),
            _ => Err(unsupported(path)),
        };
    }
    let value = value.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "Folder",
        position: el.position(),
    })?;
    // the folder element holds exactly the property the path names
    let wanted = match uri {
        "folder:DisplayName" => "DisplayName",
        "folder:FolderClass" => "FolderClass",
        _ => return Err(unsupported(path)),
    };
    let mut text = None;
    for child in &value.children {
        if child.is(TYPES, wanted) {
            set_once(&mut text, value, child, text_owned(child))?;
        } else {
            return Err(unexpected(value, child));
        }
    }
    let text = text.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(value),
        name: wanted,
        position: value.position(),
    })?;
    Ok(if wanted == "DisplayName" {
        FolderUpdate::SetDisplayName(text)
    } else {
        FolderUpdate::SetFolderClass(text)
    })
}

fn parse_move_copy(op: &Element) -> Result<MoveCopyItem> {
    check_children(op, &["ToFolderId", "ItemIds"])?;
    Ok(MoveCopyItem {
        to_folder: parse_single_folder_ref(req_child(op, MESSAGES, "ToFolderId")?)?,
        item_ids: parse_item_refs(req_child(op, MESSAGES, "ItemIds")?)?,
        return_new_item_ids: bool_attr(op, "ReturnNewItemIds")?,
    })
}

// ======================================================================
// User configuration
// ======================================================================

fn parse_user_configuration_name(el: &Element) -> Result<UserConfigurationName> {
    let name = req_attr(el, "Name")?;
    if name.is_empty() {
        return Err(invalid(
            el,
            format!("{}/@Name", dn(el)),
            name,
            "a non-empty configuration name",
        ));
    }
    Ok(UserConfigurationName {
        name: name.to_owned(),
        folder: parse_single_folder_ref(el)?,
    })
}

fn check_typed_value(el: &Element, value_type: DictionaryValueType, value: &str) -> Result<String> {
    let t = value.trim_matches(xml::is_xml_whitespace);
    let bad = |expected: &str| invalid(el, dn(el), value, expected);
    Ok(match value_type {
        DictionaryValueType::String | DictionaryValueType::StringArray => value.to_owned(),
        DictionaryValueType::Boolean => {
            parse_xs_boolean(t).ok_or_else(|| bad("an xs:boolean"))?;
            t.to_owned()
        }
        DictionaryValueType::Byte => {
            t.parse::<u8>().map_err(|_| bad("an unsigned byte"))?;
            t.to_owned()
        }
        DictionaryValueType::Integer32 => {
            t.parse::<i32>().map_err(|_| bad("a 32-bit integer"))?;
            t.to_owned()
        }
        DictionaryValueType::UnsignedInteger32 => {
            t.parse::<u32>()
                .map_err(|_| bad("an unsigned 32-bit integer"))?;
            t.to_owned()
        }
        DictionaryValueType::Integer64 => {
            t.parse::<i64>().map_err(|_| bad("a 64-bit integer"))?;
            t.to_owned()
        }
        DictionaryValueType::UnsignedInteger64 => {
            t.parse::<u64>()
                .map_err(|_| bad("an unsigned 64-bit integer"))?;
            t.to_owned()
        }
        DictionaryValueType::DateTime => {
            datetime_value(el, || dn(el), t)?;
            t.to_owned()
        }
        DictionaryValueType::ByteArray => {
            let compact: String = t.chars().filter(|c| !xml::is_xml_whitespace(*c)).collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| EwsProtoError::InvalidBase64 {
                    element: "t:Value",
                    position: el.position(),
                })?;
            compact
        }
    })
}

/// `t:DictionaryKey` / `t:DictionaryValue`: `t:Type` then `t:Value*`.
fn parse_typed_value(el: &Element) -> Result<Option<TypedValue>> {
    let Some(type_el) = opt_child(el, TYPES, "Type")? else {
        if el.children.is_empty() {
            return Ok(None);
        }
        return Err(EwsProtoError::MissingElement {
            parent: dn(el),
            name: "Type",
            position: el.position(),
        });
    };
    let value_type = enum_text(type_el, DictionaryValueType::ALL)?;
    let mut values = Vec::new();
    for child in &el.children {
        if child.is(TYPES, "Type") {
            continue;
        }
        if !child.is(TYPES, "Value") {
            return Err(unexpected(el, child));
        }
        values.push(check_typed_value(child, value_type, &child.text)?);
    }
    if value_type != DictionaryValueType::StringArray && values.len() != 1 {
        return Err(invalid(
            el,
            dn(el),
            &format!("{} t:Value elements", values.len()),
            "exactly one t:Value for a non-array type",
        ));
    }
    Ok(Some(TypedValue { value_type, values }))
}

fn parse_dictionary(el: &Element) -> Result<Vec<DictionaryEntry>> {
    el.children
        .iter()
        .map(|entry| {
            if !entry.is(TYPES, "DictionaryEntry") {
                return Err(unexpected(el, entry));
            }
            for child in &entry.children {
                if !(child.is(TYPES, "DictionaryKey") || child.is(TYPES, "DictionaryValue")) {
                    return Err(unexpected(entry, child));
                }
            }
            let key_el = req_child(entry, TYPES, "DictionaryKey")?;
            let key = parse_typed_value(key_el)?.ok_or_else(|| EwsProtoError::MissingElement {
                parent: dn(key_el),
                name: "Type",
                position: key_el.position(),
            })?;
            let value = match opt_child(entry, TYPES, "DictionaryValue")? {
                Some(v) => parse_typed_value(v)?,
                None => None,
            };
            Ok(DictionaryEntry { key, value })
        })
        .collect()
}

pub(crate) fn parse_user_configuration(el: &Element) -> Result<UserConfiguration> {
    let mut name = None;
    let mut item_id = None;
    let mut dictionary = None;
    let mut xml_data = None;
    let mut binary_data = None;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "UserConfigurationName" => {
                set_once(&mut name, el, child, parse_user_configuration_name(child)?)?
            }
            "ItemId" => set_once(&mut item_id, el, child, parse_item_ref(child)?)?,
            "Dictionary" => set_once(&mut dictionary, el, child, parse_dictionary(child)?)?,
            "XmlData" => set_once(&mut xml_data, el, child, base64_text(child, "t:XmlData")?)?,
            "BinaryData" => set_once(
                &mut binary_data,
                el,
                child,
                base64_text(child, "t:BinaryData")?,
            )?,
            _ => return Err(unexpected(el, child)),
        }
    }
    Ok(UserConfiguration {
        name: name.ok_or_else(|| EwsProtoError::MissingElement {
            parent: dn(el),
            name: "UserConfigurationName",
            position: el.position(),
        })?,
        item_id,
        dictionary,
        xml_data,
        binary_data,
    })
}

// ======================================================================
// Subscriptions
// ======================================================================

fn parse_subscription(el: &Element) -> Result<Subscription> {
    let mut request = None;
    for child in &el.children {
        if &*child.ns != MESSAGES
            || !matches!(
                child.local.as_str(),
                "PushSubscriptionRequest"
                    | "PullSubscriptionRequest"
                    | "StreamingSubscriptionRequest"
            )
        {
            return Err(unexpected(el, child));
        }
        set_once(&mut request, el, child, child)?;
    }
    let req = request.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "PullSubscriptionRequest",
        position: el.position(),
    })?;
    let subscribe_to_all_folders = bool_attr(req, "SubscribeToAllFolders")?.unwrap_or(false);
    let mut folder_ids = None;
    let mut event_types = None;
    let mut watermark = None;
    let mut status_frequency = None;
    let mut url = None;
    let mut timeout = None;
    let streaming = req.local == "StreamingSubscriptionRequest";
    for child in &req.children {
        if &*child.ns != TYPES {
            return Err(unexpected(req, child));
        }
        // a streaming subscription has no watermark, timeout, status frequency or URL (its
        // schema type has FolderIds and EventTypes only)
        if streaming && !matches!(child.local.as_str(), "FolderIds" | "EventTypes") {
            return Err(unexpected(req, child));
        }
        match child.local.as_str() {
            "FolderIds" => set_once(&mut folder_ids, req, child, parse_folder_refs(child, true)?)?,
            "EventTypes" => {
                let types = child
                    .children
                    .iter()
                    .map(|t| {
                        if t.is(TYPES, "EventType") {
                            enum_text(t, EventType::ALL)
                        } else {
                            Err(unexpected(child, t))
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                set_once(&mut event_types, req, child, types)?;
            }
            "Watermark" => set_once(&mut watermark, req, child, child.text_trimmed().to_owned())?,
            "StatusFrequency" => set_once(&mut status_frequency, req, child, u32_text(child)?)?,
            "URL" => set_once(&mut url, req, child, non_empty_text(child, "URL")?)?,
            "Timeout" => set_once(&mut timeout, req, child, u32_text(child)?)?,
            "CallerData" => {}
            _ => return Err(unexpected(req, child)),
        }
    }
    let event_types = event_types.unwrap_or_default();
    if event_types.is_empty() {
        return Err(EwsProtoError::MissingElement {
            parent: dn(req),
            name: "EventTypes",
            position: req.position(),
        });
    }
    let folder_ids = folder_ids.unwrap_or_default();
    if folder_ids.is_empty() && !subscribe_to_all_folders {
        return Err(EwsProtoError::MissingElement {
            parent: dn(req),
            name: "FolderIds",
            position: req.position(),
        });
    }
    let common = SubscriptionCommon {
        subscribe_to_all_folders,
        folder_ids,
        event_types,
        watermark,
    };
    let missing = |name| EwsProtoError::MissingElement {
        parent: dn(req),
        name,
        position: req.position(),
    };
    let range = |v: u32, name: &str| {
        if (1..=1440).contains(&v) {
            Ok(v)
        } else {
            Err(invalid(
                req,
                format!("t:{name}"),
                &v.to_string(),
                "an integer from 1 to 1440 (minutes)",
            ))
        }
    };
    Ok(match req.local.as_str() {
        "PushSubscriptionRequest" => Subscription::Push {
            common,
            status_frequency: range(
                status_frequency.ok_or_else(|| missing("StatusFrequency"))?,
                "StatusFrequency",
            )?,
            url: url.ok_or_else(|| missing("URL"))?,
        },
        "PullSubscriptionRequest" => Subscription::Pull {
            common,
            timeout: range(timeout.ok_or_else(|| missing("Timeout"))?, "Timeout")?,
        },
        _ => Subscription::Streaming { common },
    })
}

/// `m:GetStreamingEvents`: `m:SubscriptionIds` (1 to [`MAX_STREAMING_SUBSCRIPTION_IDS`]
/// `t:SubscriptionId`, duplicates dropped) and `m:ConnectionTimeout` (1–30 minutes).
fn parse_get_streaming_events(op: &Element) -> Result<GetStreamingEvents> {
    let ids_el = req_child(op, MESSAGES, "SubscriptionIds")?;
    let mut subscription_ids: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for c in &ids_el.children {
        if !c.is(TYPES, "SubscriptionId") {
            return Err(unexpected(ids_el, c));
        }
        let id = non_empty_text(c, "SubscriptionId")?;
        if !seen.insert(id.clone()) {
            continue;
        }
        if subscription_ids.len() == MAX_STREAMING_SUBSCRIPTION_IDS {
            return Err(EwsProtoError::TooManyEntries {
                parent: dn(ids_el),
                what: "subscription ids",
                limit: MAX_STREAMING_SUBSCRIPTION_IDS,
                position: ids_el.position(),
            });
        }
        subscription_ids.push(id);
    }
    if subscription_ids.is_empty() {
        return Err(EwsProtoError::MissingElement {
            parent: dn(ids_el),
            name: "SubscriptionId",
            position: ids_el.position(),
        });
    }
    let timeout_el = req_child(op, MESSAGES, "ConnectionTimeout")?;
    let connection_timeout = u32_text(timeout_el)
        .ok()
        .filter(|m| (1..=30).contains(m))
        .ok_or_else(|| {
            invalid(
                timeout_el,
                dn(timeout_el),
                &timeout_el.text,
                "an integer from 1 to 30 (minutes to keep the streaming connection open)",
            )
        })?;
    Ok(GetStreamingEvents {
        subscription_ids,
        connection_timeout,
    })
}

// ======================================================================
// Operations
// ======================================================================

/// `m:SyncState`: its text, or `None` when absent or empty (both mean a first sync).
fn parse_sync_state(op: &Element) -> Result<Option<String>> {
    Ok(opt_child(op, MESSAGES, "SyncState")?
        .map(|e| e.text_trimmed().to_owned())
        .filter(|s| !s.is_empty()))
}

/// `m:MaxChangesReturned`: an integer from 1 to 512 (`MaxSyncChangesReturnedType`); anything
/// else fails schema validation, as in Exchange.
fn parse_max_changes(el: &Element) -> Result<u32> {
    el.text_trimmed()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=MAX_SYNC_CHANGES_RETURNED).contains(n))
        .ok_or_else(|| {
            invalid(
                el,
                dn(el),
                &el.text,
                &format!("an integer from 1 to {MAX_SYNC_CHANGES_RETURNED}"),
            )
        })
}

/// `m:ExpandDL`'s one `Mailbox`: `m:Mailbox` as the schema has it (and exchangelib sends it),
/// or `t:Mailbox` as Microsoft's example writes it; a private distribution list by its
/// `t:ItemId` (then no address is needed).
fn parse_expand_dl(op: &Element) -> Result<ExpandDL> {
    let mut found = None;
    for child in &op.children {
        if child.local == "Mailbox" && (&*child.ns == MESSAGES || &*child.ns == TYPES) {
            set_once(&mut found, op, child, child)?;
        } else {
            return Err(unexpected(op, child));
        }
    }
    let el = found.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(op),
        name: "Mailbox",
        position: op.position(),
    })?;
    let m = parse_mailbox(el)?;
    if m.item_id.is_some() {
        return Ok(ExpandDL {
            email_address: m.email_address.unwrap_or_default(),
            item_id: m.item_id,
            routing_type: m.routing_type,
            mailbox_type: m.mailbox_type,
        });
    }
    let email_address =
        m.email_address
            .filter(|a| !a.is_empty())
            .ok_or_else(|| EwsProtoError::MissingElement {
                parent: dn(el),
                name: "EmailAddress",
                position: el.position(),
            })?;
    Ok(ExpandDL {
        email_address,
        item_id: None,
        routing_type: m.routing_type,
        mailbox_type: m.mailbox_type,
    })
}

/// Checks that every child of `op` is in the messages namespace and one of `allowed`.
/// Tests: the operation of a SOAP envelope around `body` (with `m:` and `t:` declared).
#[cfg(test)]
pub(crate) fn test_op(body: &str) -> Result<Operation> {
    let env = format!(
        r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><s:Body>{body}</s:Body></s:Envelope>"#
    );
    parse_request(env.as_bytes(), &crate::xml::Limits::default()).map(|r| r.operation)
}

pub(crate) fn check_children(op: &Element, allowed: &[&str]) -> Result<()> {
    for child in &op.children {
        if &*child.ns != MESSAGES || !allowed.contains(&child.local.as_str()) {
            return Err(unexpected(op, child));
        }
    }
    Ok(())
}

fn parse_operation(op: &Element, input: &[u8]) -> Result<Operation> {
    let m = MESSAGES;
    Ok(match op.local.as_str() {
        "GetFolder" => {
            check_children(op, &["FolderShape", "FolderIds"])?;
            Operation::GetFolder(GetFolder {
                shape: parse_folder_shape(req_child(op, m, "FolderShape")?)?,
                folder_ids: parse_folder_refs(req_child(op, m, "FolderIds")?, false)?,
            })
        }
        "CreateFolder" => {
            check_children(op, &["ParentFolderId", "Folders"])?;
            let parent = parse_single_folder_ref(req_child(op, m, "ParentFolderId")?)?;
            let list = req_child(op, m, "Folders")?;
            let folders = list
                .children
                .iter()
                .map(|el| parse_new_folder(list, el))
                .collect::<Result<Vec<_>>>()?;
            if folders.is_empty() {
                return Err(EwsProtoError::MissingElement {
                    parent: dn(list),
                    name: "Folder",
                    position: list.position(),
                });
            }
            Operation::CreateFolder(CreateFolder { parent, folders })
        }
        "FindFolder" => {
            check_children(
                op,
                &[
                    "FolderShape",
                    "IndexedPageFolderView",
                    "FractionalPageFolderView",
                    "Restriction",
                    "ParentFolderIds",
                ],
            )?;
            if let Some(f) = opt_child(op, m, "FractionalPageFolderView")? {
                return Err(unsupported(f));
            }
            Operation::FindFolder(FindFolder {
                traversal: req_enum_attr(op, "Traversal", FolderTraversal::ALL)?,
                shape: parse_folder_shape(req_child(op, m, "FolderShape")?)?,
                paging: opt_child(op, m, "IndexedPageFolderView")?
                    .map(parse_indexed_page)
                    .transpose()?,
                restriction: opt_child(op, m, "Restriction")?
                    .map(parse_restriction_container)
                    .transpose()?,
                parents: parse_folder_refs(req_child(op, m, "ParentFolderIds")?, false)?,
            })
        }
        "GetItem" => {
            check_children(op, &["ItemShape", "ItemIds"])?;
            Operation::GetItem(GetItem {
                shape: parse_item_shape(req_child(op, m, "ItemShape")?)?,
                item_ids: parse_item_refs(req_child(op, m, "ItemIds")?)?,
            })
        }
        "FindItem" => {
            check_children(
                op,
                &[
                    "ItemShape",
                    "IndexedPageItemView",
                    "FractionalPageItemView",
                    "CalendarView",
                    "ContactsView",
                    "SeekToConditionPageItemView",
                    "GroupBy",
                    "DistinguishedGroupBy",
                    "Restriction",
                    "SortOrder",
                    "ParentFolderIds",
                    "QueryString",
                ],
            )?;
            for name in [
                "FractionalPageItemView",
                "ContactsView",
                "SeekToConditionPageItemView",
                "GroupBy",
                "DistinguishedGroupBy",
                "QueryString",
            ] {
                if let Some(child) = op.child(m, name) {
                    return Err(unsupported(child));
                }
            }
            let indexed = opt_child(op, m, "IndexedPageItemView")?;
            let calendar = opt_child(op, m, "CalendarView")?;
            let view = match (indexed, calendar) {
                (Some(_), Some(c)) => return Err(unexpected(op, c)),
                (Some(i), None) => Some(FindItemView::Indexed(parse_indexed_page(i)?)),
                (None, Some(c)) => Some(FindItemView::Calendar {
                    start: req_datetime_attr(c, "StartDate")?,
                    end: req_datetime_attr(c, "EndDate")?,
                    max_entries: u32_attr(c, "MaxEntriesReturned")?,
                }),
                (None, None) => None,
            };
            Operation::FindItem(FindItem {
                traversal: req_enum_attr(op, "Traversal", ItemTraversal::ALL)?,
                shape: parse_item_shape(req_child(op, m, "ItemShape")?)?,
                view,
                restriction: opt_child(op, m, "Restriction")?
                    .map(parse_restriction_container)
                    .transpose()?,
                sort_order: opt_child(op, m, "SortOrder")?
                    .map(parse_sort_order)
                    .transpose()?
                    .unwrap_or_default(),
                parents: parse_folder_refs(req_child(op, m, "ParentFolderIds")?, false)?,
            })
        }
        "CreateItem" => {
            check_children(op, &["SavedItemFolderId", "Items"])?;
            let items_el = req_child(op, m, "Items")?;
            let items = items_el
                .children
                .iter()
                .map(|i| parse_new_item(i, input))
                .collect::<Result<Vec<_>>>()?;
            if items.is_empty() {
                return Err(EwsProtoError::MissingElement {
                    parent: dn(items_el),
                    name: "Message",
                    position: items_el.position(),
                });
            }
            Operation::CreateItem(CreateItem {
                message_disposition: enum_attr(op, "MessageDisposition", MessageDisposition::ALL)?,
                send_meeting_invitations: calendar_send_attr(op, "SendMeetingInvitations")?,
                saved_folder: opt_child(op, m, "SavedItemFolderId")?
                    .map(parse_single_folder_ref)
                    .transpose()?,
                items,
            })
        }
        "ResolveNames" => {
            check_children(op, &["ParentFolderIds", "UnresolvedEntry"])?;
            if op.attr("ContactDataShape").is_some() {
                return Err(EwsProtoError::Unsupported {
                    found: format!("{}/@ContactDataShape", dn(op)),
                    position: op.position(),
                });
            }
            let entry = req_child(op, m, "UnresolvedEntry")?;
            Operation::ResolveNames(ResolveNames {
                entry: non_empty_text(entry, "UnresolvedEntry")?,
                return_full_contact_data: bool_attr(op, "ReturnFullContactData")?.ok_or_else(
                    || EwsProtoError::MissingAttribute {
                        element: dn(op),
                        name: "ReturnFullContactData",
                        position: op.position(),
                    },
                )?,
                search_scope: enum_attr(op, "SearchScope", ResolveNamesScope::ALL)?,
                parent_folders: opt_child(op, m, "ParentFolderIds")?
                    .map(|p| parse_folder_refs(p, false))
                    .transpose()?
                    .unwrap_or_default(),
            })
        }
        "ExpandDL" => Operation::ExpandDL(parse_expand_dl(op)?),
        "UpdateFolder" => {
            check_children(op, &["FolderChanges"])?;
            let list = req_child(op, m, "FolderChanges")?;
            let changes = list
                .children
                .iter()
                .map(|c| parse_folder_change(list, c))
                .collect::<Result<Vec<_>>>()?;
            if changes.is_empty() {
                return Err(EwsProtoError::MissingElement {
                    parent: dn(list),
                    name: "FolderChange",
                    position: list.position(),
                });
            }
            Operation::UpdateFolder(UpdateFolder { changes })
        }
        "EmptyFolder" => {
            check_children(op, &["FolderIds"])?;
            Operation::EmptyFolder(EmptyFolder {
                delete_type: req_enum_attr(op, "DeleteType", DeleteType::ALL)?,
                delete_subfolders: bool_attr(op, "DeleteSubFolders")?.ok_or_else(|| {
                    EwsProtoError::MissingAttribute {
                        element: dn(op),
                        name: "DeleteSubFolders",
                        position: op.position(),
                    }
                })?,
                folder_ids: parse_folder_refs(req_child(op, m, "FolderIds")?, false)?,
            })
        }
        "DeleteFolder" => {
            check_children(op, &["FolderIds"])?;
            Operation::DeleteFolder(DeleteFolder {
                delete_type: req_enum_attr(op, "DeleteType", DeleteType::ALL)?,
                folder_ids: parse_folder_refs(req_child(op, m, "FolderIds")?, false)?,
            })
        }
        "DeleteItem" => {
            check_children(op, &["ItemIds"])?;
            Operation::DeleteItem(DeleteItem {
                delete_type: req_enum_attr(op, "DeleteType", DeleteType::ALL)?,
                item_ids: parse_item_refs(req_child(op, m, "ItemIds")?)?,
                send_meeting_cancellations: calendar_send_attr(op, "SendMeetingCancellations")?,
                affected_task_occurrences: enum_attr(
                    op,
                    "AffectedTaskOccurrences",
                    AffectedTaskOccurrences::ALL,
                )?,
                suppress_read_receipts: bool_attr(op, "SuppressReadReceipts")?,
            })
        }
        "MarkAsJunk" => {
            check_children(op, &["ItemIds"])?;
            req_attr(op, "IsJunk")?;
            req_attr(op, "MoveItem")?;
            Operation::MarkAsJunk(MarkAsJunk {
                item_ids: parse_item_refs(req_child(op, m, "ItemIds")?)?,
                is_junk: bool_attr(op, "IsJunk")?.unwrap_or(false),
                move_item: bool_attr(op, "MoveItem")?.unwrap_or(false),
            })
        }
        "SendItem" => {
            check_children(op, &["ItemIds", "SavedItemFolderId"])?;
            req_attr(op, "SaveItemToFolder")?;
            Operation::SendItem(SendItem {
                item_ids: parse_item_refs(req_child(op, m, "ItemIds")?)?,
                save_item_to_folder: bool_attr(op, "SaveItemToFolder")?.unwrap_or(false),
                saved_folder: opt_child(op, m, "SavedItemFolderId")?
                    .map(parse_single_folder_ref)
                    .transpose()?,
            })
        }
        "UpdateItem" => {
            check_children(op, &["SavedItemFolderId", "ItemChanges"])?;
            let changes_el = req_child(op, m, "ItemChanges")?;
            let changes = changes_el
                .children
                .iter()
                .map(|c| parse_item_change(c, input))
                .collect::<Result<Vec<_>>>()?;
            if changes.is_empty() {
                return Err(EwsProtoError::MissingElement {
                    parent: dn(changes_el),
                    name: "ItemChange",
                    position: changes_el.position(),
                });
            }
            Operation::UpdateItem(UpdateItem {
                conflict_resolution: enum_attr(op, "ConflictResolution", ConflictResolution::ALL)?
                    .unwrap_or(ConflictResolution::NeverOverwrite),
                message_disposition: enum_attr(op, "MessageDisposition", MessageDisposition::ALL)?,
                send_meeting_invitations_or_cancellations: calendar_send_attr(
                    op,
                    "SendMeetingInvitationsOrCancellations",
                )?,
                suppress_read_receipts: bool_attr(op, "SuppressReadReceipts")?,
                saved_folder: opt_child(op, m, "SavedItemFolderId")?
                    .map(parse_single_folder_ref)
                    .transpose()?,
                changes,
            })
        }
        "MoveFolder" | "CopyFolder" => {
            check_children(op, &["ToFolderId", "FolderIds"])?;
            let r = MoveCopyFolder {
                to_folder: parse_single_folder_ref(req_child(op, m, "ToFolderId")?)?,
                folder_ids: parse_folder_refs(req_child(op, m, "FolderIds")?, false)?,
            };
            if op.local == "MoveFolder" {
                Operation::MoveFolder(r)
            } else {
                Operation::CopyFolder(r)
            }
        }
        "MarkAllItemsAsRead" => {
            check_children(op, &["ReadFlag", "SuppressReadReceipts", "FolderIds"])?;
            Operation::MarkAllItemsAsRead(MarkAllItemsAsRead {
                read: bool_text(req_child(op, m, "ReadFlag")?)?,
                suppress_read_receipts: bool_text(req_child(op, m, "SuppressReadReceipts")?)?,
                folder_ids: parse_folder_refs(req_child(op, m, "FolderIds")?, false)?,
            })
        }
        "MoveItem" => Operation::MoveItem(parse_move_copy(op)?),
        "CopyItem" => Operation::CopyItem(parse_move_copy(op)?),
        "GetUserConfiguration" => {
            check_children(
                op,
                &["UserConfigurationName", "UserConfigurationProperties"],
            )?;
            let props_el = req_child(op, m, "UserConfigurationProperties")?;
            let properties = props_el
                .text
                .split(xml::is_xml_whitespace)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    parse_value(
                        s,
                        || dn(props_el),
                        UserConfigurationProperty::ALL,
                        props_el.position(),
                    )
                })
                .collect::<Result<Vec<_>>>()?;
            if properties.is_empty() {
                return Err(invalid(
                    props_el,
                    dn(props_el),
                    "",
                    "a list of Id, Dictionary, XmlData, BinaryData, All",
                ));
            }
            Operation::GetUserConfiguration(GetUserConfiguration {
                name: parse_user_configuration_name(req_child(op, m, "UserConfigurationName")?)?,
                properties,
            })
        }
        "CreateUserConfiguration" | "UpdateUserConfiguration" => {
            check_children(op, &["UserConfiguration"])?;
            let config = parse_user_configuration(req_child(op, m, "UserConfiguration")?)?;
            if op.local == "CreateUserConfiguration" {
                Operation::CreateUserConfiguration(config)
            } else {
                Operation::UpdateUserConfiguration(config)
            }
        }
        "DeleteUserConfiguration" => {
            check_children(op, &["UserConfigurationName"])?;
            Operation::DeleteUserConfiguration(parse_user_configuration_name(req_child(
                op,
                m,
                "UserConfigurationName",
            )?)?)
        }
        "ConvertId" => {
            check_children(op, &["SourceIds"])?;
            let source = req_child(op, m, "SourceIds")?;
            let ids = source
                .children
                .iter()
                .map(|c| {
                    if c.is(TYPES, "AlternateId") {
                        Ok(AlternateId {
                            format: req_enum_attr(c, "Format", IdFormat::ALL)?,
                            id: req_attr(c, "Id")?.to_owned(),
                            mailbox: req_attr(c, "Mailbox")?.to_owned(),
                            is_archive: bool_attr(c, "IsArchive")?,
                        })
                    } else if &*c.ns == TYPES
                        && matches!(
                            c.local.as_str(),
                            "AlternatePublicFolderId" | "AlternatePublicFolderItemId"
                        )
                    {
                        Err(unsupported(c))
                    } else {
                        Err(unexpected(source, c))
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            if ids.is_empty() {
                return Err(EwsProtoError::MissingElement {
                    parent: dn(source),
                    name: "AlternateId",
                    position: source.position(),
                });
            }
            Operation::ConvertId(ConvertId {
                destination_format: req_enum_attr(op, "DestinationFormat", IdFormat::ALL)?,
                ids,
            })
        }
        "GetUserPhoto" => {
            check_children(op, &["Email", "SizeRequested", "TypeRequested"])?;
            Operation::GetUserPhoto(GetUserPhoto {
                email: non_empty_text(req_child(op, m, "Email")?, "Email")?,
                size_requested: enum_text(req_child(op, m, "SizeRequested")?, PhotoSize::ALL)?,
            })
        }
        "Subscribe" => Operation::Subscribe(parse_subscription(op)?),
        "SyncFolderItems" => {
            check_children(
                op,
                &[
                    "ItemShape",
                    "SyncFolderId",
                    "SyncState",
                    "Ignore",
                    "MaxChangesReturned",
                    "SyncScope",
                ],
            )?;
            Operation::SyncFolderItems(SyncFolderItems {
                shape: parse_item_shape(req_child(op, m, "ItemShape")?)?,
                folder: parse_single_folder_ref(req_child(op, m, "SyncFolderId")?)?,
                sync_state: parse_sync_state(op)?,
                ignore: opt_child(op, m, "Ignore")?
                    .map(parse_item_refs)
                    .transpose()?
                    .unwrap_or_default(),
                max_changes_returned: parse_max_changes(req_child(op, m, "MaxChangesReturned")?)?,
                sync_scope: opt_child(op, m, "SyncScope")?
                    .map(|e| enum_text(e, SyncScope::ALL))
                    .transpose()?,
            })
        }
        "SyncFolderHierarchy" => {
            check_children(op, &["FolderShape", "SyncFolderId", "SyncState"])?;
            Operation::SyncFolderHierarchy(SyncFolderHierarchy {
                shape: parse_folder_shape(req_child(op, m, "FolderShape")?)?,
                folder: opt_child(op, m, "SyncFolderId")?
                    .map(parse_single_folder_ref)
                    .transpose()?,
                sync_state: parse_sync_state(op)?,
            })
        }
        "CreateAttachment" => {
            check_children(op, &["ParentItemId", "Attachments"])?;
            Operation::CreateAttachment(CreateAttachment {
                parent: parse_item_ref(req_child(op, m, "ParentItemId")?)?,
                attachments: parse_attachment_list(req_child(op, m, "Attachments")?, false, input)?,
            })
        }
        "GetAttachment" => {
            check_children(op, &["AttachmentShape", "AttachmentIds"])?;
            Operation::GetAttachment(GetAttachment {
                shape: opt_child(op, m, "AttachmentShape")?
                    .map(parse_attachment_shape)
                    .transpose()?,
                attachment_ids: parse_attachment_ids(req_child(op, m, "AttachmentIds")?)?,
            })
        }
        "DeleteAttachment" => {
            check_children(op, &["AttachmentIds"])?;
            Operation::DeleteAttachment(DeleteAttachment {
                attachment_ids: parse_attachment_ids(req_child(op, m, "AttachmentIds")?)?,
            })
        }
        "Unsubscribe" => {
            check_children(op, &["SubscriptionId"])?;
            Operation::Unsubscribe {
                subscription_id: non_empty_text(
                    req_child(op, m, "SubscriptionId")?,
                    "SubscriptionId",
                )?,
            }
        }
        "GetEvents" => {
            check_children(op, &["SubscriptionId", "Watermark"])?;
            Operation::GetEvents {
                subscription_id: non_empty_text(
                    req_child(op, m, "SubscriptionId")?,
                    "SubscriptionId",
                )?,
                watermark: non_empty_text(req_child(op, m, "Watermark")?, "Watermark")?,
            }
        }
        "GetUserOofSettingsRequest" => Operation::GetUserOofSettings(crate::oof::parse_get(op)?),
        "SetUserOofSettingsRequest" => Operation::SetUserOofSettings(crate::oof::parse_set(op)?),
        "GetUserAvailabilityRequest" => {
            Operation::GetUserAvailability(crate::availability::parse(op)?)
        }
        "GetServerTimeZones" => {
            Operation::GetServerTimeZones(crate::availability::parse_get_server_time_zones(op)?)
        }
        "GetMailTips" => Operation::GetMailTips(crate::mailtips::parse(op)?),
        "GetRoomLists" => {
            crate::rooms::parse_get_room_lists(op)?;
            Operation::GetRoomLists
        }
        "GetRooms" => Operation::GetRooms(crate::rooms::parse_get_rooms(op)?),
        "GetInboxRules" => Operation::GetInboxRules(crate::rules::parse_get(op)?),
        "UpdateInboxRules" => Operation::UpdateInboxRules(crate::rules::parse_update(op)?),
        "GetDelegate" => Operation::GetDelegate(crate::delegate::parse_get(op)?),
        "AddDelegate" => Operation::AddDelegate(crate::delegate::parse_add(op)?),
        "UpdateDelegate" => Operation::UpdateDelegate(crate::delegate::parse_update(op)?),
        "RemoveDelegate" => Operation::RemoveDelegate(crate::delegate::parse_remove(op)?),
        "ExportItems" => Operation::ExportItems(crate::export::parse_export_items(op)?),
        "UploadItems" => Operation::UploadItems(crate::export::parse_upload_items(op)?),
        "GetStreamingEvents" => {
            check_children(op, &["SubscriptionIds", "ConnectionTimeout"])?;
            Operation::GetStreamingEvents(parse_get_streaming_events(op)?)
        }
        other => Operation::Unknown {
            local: other.to_owned(),
        },
    })
}

// ======================================================================
// Envelope and headers
// ======================================================================

/// Splits a SOAP envelope into (optional header, body). Shared with the
/// response and notification readers.
pub(crate) fn split_envelope(root: &Element) -> Result<(Option<&Element>, &Element)> {
    if !root.is(SOAP, "Envelope") {
        return Err(EwsProtoError::NotSoapEnvelope { found: dn(root) });
    }
    let mut header = None;
    let mut body = None;
    for child in &root.children {
        let ok = if child.is(SOAP, "Header") && header.is_none() && body.is_none() {
            header = Some(child);
            true
        } else if child.is(SOAP, "Body") && body.is_none() {
            body = Some(child);
            true
        } else {
            false
        };
        if !ok {
            return Err(EwsProtoError::UnexpectedSoapElement {
                found: dn(child),
                position: child.position(),
            });
        }
    }
    let body = body.ok_or(EwsProtoError::MissingSoapBody)?;
    for (el, parent) in [
        (Some(root), "soap:Envelope"),
        (header, "soap:Header"),
        (Some(body), "soap:Body"),
    ] {
        if let Some(el) = el
            && !el.text_trimmed().is_empty()
        {
            return Err(EwsProtoError::UnexpectedSoapText {
                parent,
                position: el.content.start,
            });
        }
    }
    Ok((header, body))
}

/// The single element inside `soap:Body`.
pub(crate) fn body_child(body: &Element) -> Result<&Element> {
    match body.children.as_slice() {
        [only] => Ok(only),
        other => Err(EwsProtoError::SoapBodyChildCount { count: other.len() }),
    }
}

fn must_understand(header: &Element) -> bool {
    matches!(
        header
            .attr_ns(SOAP, "mustUnderstand")
            .map(|v| v.trim_matches(xml::is_xml_whitespace)),
        Some("1" | "true")
    )
}

fn parse_impersonation(el: &Element) -> Result<ImpersonatedUser> {
    let sid = req_child(el, TYPES, "ConnectingSID")?;
    for child in &el.children {
        if !child.is(TYPES, "ConnectingSID") {
            return Err(unexpected(el, child));
        }
    }
    let mut user = None;
    for child in &sid.children {
        if &*child.ns != TYPES {
            return Err(unexpected(sid, child));
        }
        let value = non_empty_text(child, "value")?;
        let u = match child.local.as_str() {
            "PrimarySmtpAddress" => ImpersonatedUser::PrimarySmtpAddress(value),
            "SmtpAddress" => ImpersonatedUser::SmtpAddress(value),
            "PrincipalName" => ImpersonatedUser::PrincipalName(value),
            "SID" => ImpersonatedUser::Sid(value),
            _ => return Err(unexpected(sid, child)),
        };
        set_once(&mut user, sid, child, u)?;
    }
    user.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(sid),
        name: "PrimarySmtpAddress",
        position: sid.position(),
    })
}

/// Parses an EWS request body.
///
/// `input` must be the complete HTTP body; `limits` bound the XML parse
/// (use `Limits::default()`).
pub fn parse_request(input: &[u8], limits: &Limits) -> Result<Request> {
    let root = xml::parse(input, limits)?;
    let (header, body) = split_envelope(&root)?;

    let mut server_version = None;
    let mut impersonation = None;
    if let Some(header) = header {
        let mut seen_version = false;
        for h in &header.children {
            if &*h.ns == TYPES {
                match h.local.as_str() {
                    "RequestServerVersion" => {
                        if seen_version {
                            return Err(EwsProtoError::DuplicateHeader {
                                name: "RequestServerVersion",
                            });
                        }
                        seen_version = true;
                        let v = req_attr(h, "Version")?;
                        server_version = Some(ServerVersion::from_str(v).map_err(|_| {
                            EwsProtoError::UnsupportedServerVersion { version: echo(v) }
                        })?);
                        continue;
                    }
                    "ExchangeImpersonation" => {
                        if impersonation.is_some() {
                            return Err(EwsProtoError::DuplicateHeader {
                                name: "ExchangeImpersonation",
                            });
                        }
                        impersonation = Some(parse_impersonation(h)?);
                        continue;
                    }
                    "TimeZoneContext" | "MailboxCulture" | "DateTimePrecision" => continue,
                    _ => {}
                }
            }
            if must_understand(h) {
                return Err(EwsProtoError::MustUnderstandHeader { found: dn(h) });
            }
        }
    }

    let op = body_child(body)?;
    if &*op.ns != MESSAGES {
        return Err(EwsProtoError::NotAnEwsOperation {
            found: dn(op),
            position: op.position(),
        });
    }
    let operation = parse_operation(op, input)?;
    Ok(Request {
        server_version,
        impersonation,
        operation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(header: &str, body: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="{SOAP}" xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"#
        )
    }

    fn parse(header: &str, body: &str) -> Result<Request> {
        parse_request(env(header, body).as_bytes(), &Limits::default())
    }

    fn op(body: &str) -> Result<Operation> {
        parse("", body).map(|r| r.operation)
    }

    /// Typed folder elements carry their class when none is sent; a sent one wins.
    #[test]
    fn new_folders_and_their_classes() {
        let Operation::CreateFolder(c) = op(
            r#"<m:CreateFolder><m:ParentFolderId><t:FolderId Id="AAA"/></m:ParentFolderId><m:Folders><t:CalendarFolder><t:DisplayName>Team</t:DisplayName></t:CalendarFolder><t:Folder><t:FolderClass>IPF.Note.Skype</t:FolderClass><t:DisplayName>Chats</t:DisplayName></t:Folder><t:TasksFolder><t:DisplayName>To do</t:DisplayName></t:TasksFolder><t:ContactsFolder><t:DisplayName>People</t:DisplayName></t:ContactsFolder></m:Folders></m:CreateFolder>"#,
        )
        .expect("parses") else {
            panic!("not CreateFolder")
        };
        let got: Vec<(FolderKind, &str, Option<String>)> = c
            .folders
            .iter()
            .map(|f| (f.kind, f.display_name.as_str(), f.class()))
            .collect();
        let class = |c: &str| Some(c.to_owned());
        assert_eq!(
            got,
            [
                (FolderKind::CalendarFolder, "Team", class("IPF.Appointment")),
                (FolderKind::Folder, "Chats", class("IPF.Note.Skype")),
                (FolderKind::TasksFolder, "To do", class("IPF.Task")),
                (FolderKind::ContactsFolder, "People", class("IPF.Contact")),
            ]
        );
        assert_eq!(
            op("<m:CreateFolder/>").err().map(|e| e.response_code()),
            Some("ErrorSchemaValidation")
        );
    }

    #[test]
    fn headers() {
        let r = parse(
            r#"<t:RequestServerVersion Version="Exchange2013_SP1"/><t:ExchangeImpersonation><t:ConnectingSID><t:SmtpAddress>a@b.c</t:SmtpAddress></t:ConnectingSID></t:ExchangeImpersonation><t:MailboxCulture>en-US</t:MailboxCulture><x:Other xmlns:x="urn:x"/>"#,
            "<m:Foo/>",
        )
        .expect("parses");
        assert_eq!(r.server_version, Some(ServerVersion::Exchange2013Sp1));
        assert_eq!(
            r.impersonation,
            Some(ImpersonatedUser::SmtpAddress("a@b.c".into()))
        );
        assert_eq!(
            r.operation,
            Operation::Unknown {
                local: "Foo".into()
            }
        );
    }

    #[test]
    fn unsupported_version() {
        let e = parse(
            r#"<t:RequestServerVersion Version="Exchange2099"/>"#,
            "<m:Foo/>",
        )
        .expect_err("rejects");
        assert_eq!(e.response_code(), "ErrorInvalidServerVersion");
    }

    #[test]
    fn restriction_tree() {
        let o = op(r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape>
            <m:Restriction><t:Not><t:Exists><t:ExtendedFieldURI PropertyTag="0x1000" PropertyType="String"/></t:Exists></t:Not></m:Restriction>
            <m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#)
        .expect("parses");
        let Operation::FindItem(f) = o else {
            panic!("not FindItem")
        };
        assert_eq!(
            f.restriction,
            Some(Restriction::Not(Box::new(Restriction::Exists(
                PropertyPath::Extended(ExtendedFieldUri {
                    property_tag: Some("0x1000".into()),
                    property_type: "String".into(),
                    ..Default::default()
                })
            ))))
        );
    }

    #[test]
    fn update_item_shapes() {
        let change = |updates: &str| {
            format!(
                r#"<m:UpdateItem><m:ItemChanges><t:ItemChange><t:ItemId Id="I1"/><t:Updates>{updates}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
            )
        };
        // defaults: NeverOverwrite, no disposition; an unmodelled property is kept by name
        let Operation::UpdateItem(u) = op(&change(
            r#"<t:SetItemField><t:FieldURI FieldURI="message:ReplyTo"/><t:Message><t:ReplyTo/></t:Message></t:SetItemField><t:AppendToItemField><t:FieldURI FieldURI="item:Body"/><t:Item><t:Body BodyType="Text">x</t:Body><t:Subject>y</t:Subject></t:Item></t:AppendToItemField>"#,
        ))
        .expect("parses") else {
            panic!("not UpdateItem")
        };
        assert_eq!(u.conflict_resolution, ConflictResolution::NeverOverwrite);
        assert_eq!(u.message_disposition, None);
        assert_eq!(
            u.changes[0].updates[0],
            ItemFieldChange::Set {
                path: PropertyPath::Field("message:ReplyTo".into()),
                values: vec![ItemFieldValue::Other("ReplyTo".into())],
            }
        );
        let ItemFieldChange::Append { values, .. } = &u.changes[0].updates[1] else {
            panic!("not an append")
        };
        assert_eq!(values.len(), 2, "the count is the server's to judge");
        // schema violations are faults
        for bad in [
            r#"<m:UpdateItem><m:ItemChanges/></m:UpdateItem>"#.to_owned(),
            change(""),
            change(r#"<t:SetItemField><t:Message><t:Subject>x</t:Subject></t:Message></t:SetItemField>"#),
            change(r#"<t:SetItemField><t:FieldURI FieldURI="item:Subject"/></t:SetItemField>"#),
            change(r#"<t:DeleteItemField><t:FieldURI FieldURI="item:Subject"/><t:Message/></t:DeleteItemField>"#),
            change(r#"<t:Bogus/>"#),
            change(r#"<t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>maybe</t:IsRead></t:Message></t:SetItemField>"#),
            r#"<m:UpdateItem ConflictResolution="Sometimes"><m:ItemChanges><t:ItemChange><t:ItemId Id="I1"/><t:Updates><t:DeleteItemField><t:FieldURI FieldURI="item:Subject"/></t:DeleteItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#.to_owned(),
            r#"<m:UpdateItem><m:ItemChanges><t:ItemChange><t:Updates><t:DeleteItemField><t:FieldURI FieldURI="item:Subject"/></t:DeleteItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#.to_owned(),
        ] {
            assert!(op(&bad).is_err(), "accepted {bad}");
        }
        // an occurrence by its series and index, and a series by an occurrence: read as such
        let Operation::UpdateItem(u) = op(r#"<m:UpdateItem><m:ItemChanges><t:ItemChange><t:OccurrenceItemId RecurringMasterId="x" InstanceIndex="1"/><t:Updates><t:DeleteItemField><t:FieldURI FieldURI="item:Subject"/></t:DeleteItemField></t:Updates></t:ItemChange><t:ItemChange><t:RecurringMasterItemId OccurrenceId="y"/><t:Updates><t:DeleteItemField><t:FieldURI FieldURI="item:Subject"/></t:DeleteItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#)
            .expect("parses") else {
            panic!("not UpdateItem")
        };
        use crate::types::ItemTarget;
        assert_eq!(
            u.changes[0].item_id.target(),
            ItemTarget::Occurrence {
                master: "x",
                index: 1
            }
        );
        assert_eq!(u.changes[1].item_id.target(), ItemTarget::MasterOf("y"));
        for bad in ["0", "-1", "x", ""] {
            let e = op(&format!(r#"<m:UpdateItem><m:ItemChanges><t:ItemChange><t:OccurrenceItemId RecurringMasterId="x" InstanceIndex="{bad}"/><t:Updates><t:DeleteItemField><t:FieldURI FieldURI="item:Subject"/></t:DeleteItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#))
                .expect_err("rejects");
            assert!(
                matches!(e, EwsProtoError::InvalidValue { .. }),
                "{bad}: {e:?}"
            );
        }
        // a plain id never reads as one of them, whatever it holds
        assert_eq!(
            crate::types::ItemRef::new("AAMk-_09", None).target(),
            ItemTarget::Id("AAMk-_09")
        );
    }

    #[test]
    fn move_and_copy_item_shapes() {
        let Operation::CopyItem(c) = op(r#"<m:CopyItem ReturnNewItemIds="false"><m:ToFolderId><t:FolderId Id="F1"/></m:ToFolderId><m:ItemIds><t:ItemId Id="I1"/><t:ItemId Id="I2" ChangeKey="C"/></m:ItemIds></m:CopyItem>"#)
            .expect("parses") else {
            panic!("not CopyItem")
        };
        assert_eq!(c.return_new_item_ids, Some(false));
        assert_eq!(c.item_ids.len(), 2);
        for bad in [
            r#"<m:MoveItem><m:ItemIds><t:ItemId Id="I1"/></m:ItemIds></m:MoveItem>"#,
            r#"<m:MoveItem><m:ToFolderId><t:FolderId Id="F1"/><t:FolderId Id="F2"/></m:ToFolderId><m:ItemIds><t:ItemId Id="I1"/></m:ItemIds></m:MoveItem>"#,
            r#"<m:MoveItem><m:ToFolderId><t:FolderId Id="F1"/></m:ToFolderId><m:ItemIds/></m:MoveItem>"#,
            r#"<m:MoveItem ReturnNewItemIds="yes"><m:ToFolderId><t:FolderId Id="F1"/></m:ToFolderId><m:ItemIds><t:ItemId Id="I1"/></m:ItemIds></m:MoveItem>"#,
        ] {
            assert!(op(bad).is_err(), "accepted {bad}");
        }
    }

    #[test]
    fn duplicate_elements_rejected() {
        let e = op(r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#)
            .expect_err("rejects");
        assert!(matches!(e, EwsProtoError::DuplicateElement { .. }), "{e:?}");
    }

    #[test]
    fn invalid_enum_names_allowed_values() {
        let e = op(r#"<m:GetFolder><m:FolderShape><t:BaseShape>Everything</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#)
            .expect_err("rejects");
        assert!(
            e.to_string().contains("IdOnly, Default, AllProperties"),
            "{e}"
        );
    }
}
