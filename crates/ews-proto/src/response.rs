//! Response writers (server side) and response readers (client side).
//!
//! Every envelope carries `h:ServerVersionInfo` (exchangelib aborts
//! without it) and uses the prefixes `s:` (SOAP), `m:` (messages) and `t:`
//! (types), declared on the envelope and on the `m:*Response` element.
//! Response messages come one per requested id, in order, with
//! `ResponseClass="Success"|"Warning"|"Error"`; error messages carry
//! `m:MessageText`, `m:ResponseCode`, `m:DescriptiveLinkKey` (0), optional
//! `m:MessageXml`, then the empty payload container.
//!
//! Writers only emit the properties the shape asks for and that they know;
//! unknown requested properties are silently omitted. Child elements follow
//! the EWS XSD order (`t:ItemType`, then `t:MessageType` /
//! `t:CalendarItemType` / `t:ContactItemType` / `t:TaskType`; `t:BaseFolderType`, then
//! `t:FolderType`).

use base64::Engine as _;
use time::OffsetDateTime;

use crate::contact::{Contact, parse_contact_child, write_contact_fields};
use crate::error::{EwsProtoError, display_name, echo};
use crate::notification::{Notification, parse_notification, write_notification};
use crate::ns;
use crate::request::{
    AlternateId, DictionaryEntry, TypedValue, UserConfiguration, UserConfigurationProperty,
    body_child, parse_extended_property, parse_item_ref, parse_mailbox, split_envelope,
};
use crate::task::{Task, task_of_answer, write_task_fields};
use crate::types::{
    Attendee, BaseShape, BodyType, DistinguishedFolderId, ExtendedProperty, ExtendedValue,
    FolderKind, FolderRef, FolderShape, Importance, ItemKind, ItemRef, ItemShape,
    LegacyFreeBusyStatus, Mailbox, PropertyPath, ResponseType, Sensitivity, format_xs_datetime,
    parse_xs_boolean, parse_xs_datetime, str_enum,
};
use crate::writer::{XmlOut, envelope};
use crate::xml::{self, Element, Limits, is_ncname};

// ======================================================================
// Common pieces
// ======================================================================

/// The version the server claims in `h:ServerVersionInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerVersionInfo {
    pub major_version: u32,
    pub minor_version: u32,
    pub major_build_number: u32,
    pub minor_build_number: u32,
    pub version: String,
}

impl Default for ServerVersionInfo {
    /// Exchange 2016 CU (15.1.2507.6), schema `V2017_07_11`.
    fn default() -> Self {
        Self {
            major_version: 15,
            minor_version: 1,
            major_build_number: 2507,
            minor_build_number: 6,
            version: "V2017_07_11".to_owned(),
        }
    }
}

pub(crate) fn write_server_version_info(w: &mut XmlOut) {
    let v = ServerVersionInfo::default();
    let (a, b, c, d) = (
        v.major_version.to_string(),
        v.minor_version.to_string(),
        v.major_build_number.to_string(),
        v.minor_build_number.to_string(),
    );
    w.empty(
        "h:ServerVersionInfo",
        &[
            ("xmlns:h", ns::TYPES),
            ("MajorVersion", &a),
            ("MinorVersion", &b),
            ("MajorBuildNumber", &c),
            ("MinorBuildNumber", &d),
            ("Version", &v.version),
        ],
    );
}

/// An EWS envelope with `ServerVersionInfo` in the header.
pub(crate) fn response_envelope(body: impl FnOnce(&mut XmlOut)) -> Vec<u8> {
    envelope(write_server_version_info, body)
}

str_enum! {
    /// `ResponseClass` of a response message.
    pub enum ResponseClass ("ResponseClass") {
        Success = "Success",
        Warning = "Warning",
        Error = "Error",
    }
}

/// The standard English message for common response codes (the text
/// Exchange uses), or a generic one.
pub fn standard_message(code: &str) -> &'static str {
    match code {
        "ErrorAccessDenied" => "Access is denied. Check credentials and try again.",
        "ErrorFolderNotFound" => "The specified folder could not be found in the store.",
        "ErrorItemNotFound" => "The specified object was not found in the store.",
        "ErrorInvalidIdMalformed" => "Id is malformed.",
        "ErrorInvalidRequest" => "The request is invalid.",
        "ErrorNonExistentMailbox" => "The SMTP address has no mailbox associated with it.",
        "ErrorImpersonateUserDenied" => {
            "The account does not have permission to impersonate the requested user."
        }
        "ErrorInvalidOperation" => "The operation is not valid.",
        "ErrorInvalidPropertyRequest" => "The property request is invalid.",
        "ErrorServerBusy" => "The server cannot service this request right now. Try again later.",
        "ErrorInvalidServerVersion" => "The specified server version is invalid.",
        "ErrorSchemaValidation" => "The request failed schema validation.",
        "ErrorInternalServerError" => "An internal server error occurred. The operation failed.",
        "ErrorItemSave" => "The item could not be saved.",
        "ErrorIrresolvableConflict" => {
            "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item."
        }
        "ErrorToFolderNotFound" => "The destination folder could not be found.",
        "ErrorSubscriptionNotFound" => "The specified subscription was not found.",
        "ErrorInvalidSubscription" => "The subscription is invalid.",
        "ErrorInvalidWatermark" => "The watermark is invalid.",
        "ErrorInvalidSyncStateData" => {
            "Synchronization state data is corrupt or otherwise invalid."
        }
        _ => "The operation failed.",
    }
}

/// A failed (or warning) response message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseError {
    /// `Error` (the default) or `Warning`.
    pub class: ResponseClass,
    /// The EWS response code, e.g. `ErrorItemNotFound`. Must be an XML
    /// name; anything else is written as `ErrorInternalServerError`.
    pub code: String,
    pub message: String,
    /// `m:MessageXml/t:Value Name="…"` pairs.
    pub message_xml: Vec<(String, String)>,
}

impl ResponseError {
    /// An error with an explicit message.
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            class: ResponseClass::Error,
            code: code.to_owned(),
            message: message.to_owned(),
            message_xml: Vec::new(),
        }
    }

    /// An error with [`standard_message`] as its text.
    pub fn code(code: &str) -> Self {
        Self::new(code, standard_message(code))
    }

    /// `ErrorServerBusy` with `BackOffMilliseconds` in `m:MessageXml`.
    pub fn server_busy(back_off_ms: u64) -> Self {
        Self::code("ErrorServerBusy").with_value("BackOffMilliseconds", &back_off_ms.to_string())
    }

    /// Per-message error for a request-parsing error (e.g. an id the server
    /// could not decode): code from [`EwsProtoError::response_code`].
    pub fn from_proto(err: &EwsProtoError) -> Self {
        Self::new(err.response_code(), &err.to_string())
    }

    /// Marks the message as a warning.
    pub fn as_warning(mut self) -> Self {
        self.class = ResponseClass::Warning;
        self
    }

    /// Adds a `t:Value Name="name"` entry to `m:MessageXml`.
    pub fn with_value(mut self, name: &str, value: &str) -> Self {
        self.message_xml.push((name.to_owned(), value.to_owned()));
        self
    }
}

fn safe_code(code: &str) -> &str {
    if is_ncname(code) && code.len() <= 128 {
        code
    } else {
        "ErrorInternalServerError"
    }
}

pub(crate) fn write_error_body(w: &mut XmlOut, e: &ResponseError) {
    w.leaf("m:MessageText", &e.message);
    w.leaf("m:ResponseCode", safe_code(&e.code));
    w.leaf("m:DescriptiveLinkKey", "0");
    if !e.message_xml.is_empty() {
        w.start("m:MessageXml", &[]);
        for (name, value) in &e.message_xml {
            w.text_element("t:Value", &[("Name", name)], value);
        }
        w.end("m:MessageXml");
    }
}

/// The operations whose response element is itself the response message (`ResponseClass`
/// and `ResponseCode` on `m:{op}Response`, what it answers beside them).
const SELF_MESSAGE_OPERATIONS: &[&str] = &[
    "GetMailTips",
    "GetRoomLists",
    "GetRooms",
    "GetInboxRules",
    "UpdateInboxRules",
    "GetDelegate",
    "AddDelegate",
    "UpdateDelegate",
    "RemoveDelegate",
];

/// `m:{op}Response` as its own response message, with `class` and what `body` writes inside
/// (for a success, start with `m:ResponseCode`: [`self_message_success`]).
pub(crate) fn self_message_response(
    op: &str,
    class: &str,
    body: impl FnOnce(&mut XmlOut),
) -> Vec<u8> {
    response_envelope(|w| {
        let response = format!("m:{op}Response");
        w.start(
            &response,
            &[
                ("ResponseClass", class),
                ("xmlns:m", ns::MESSAGES),
                ("xmlns:t", ns::TYPES),
            ],
        );
        body(w);
        w.end(&response);
    })
}

/// A successful [`self_message_response`]: `NoError`, then what `body` writes.
pub(crate) fn self_message_success(op: &str, body: impl FnOnce(&mut XmlOut)) -> Vec<u8> {
    self_message_response(op, "Success", |w| {
        w.leaf("m:ResponseCode", "NoError");
        body(w);
    })
}

/// Reads a response of one of [`SELF_MESSAGE_OPERATIONS`] (a client's side): its element when
/// it answers `NoError`, else the error it names; another response is an `EwsProtoError`.
pub(crate) fn parse_self_message(
    input: &[u8],
    limits: &Limits,
    responses: &[&str],
) -> Result<Result<Element, ResponseError>, EwsProtoError> {
    let r = parse_response(input, limits)?;
    if !responses.contains(&r.response.as_str()) {
        return Err(EwsProtoError::UnexpectedElement {
            parent: "soap:Body".to_owned(),
            found: r.response,
            position: 0,
        });
    }
    let Some(top) = r.messages.into_iter().next() else {
        return Err(EwsProtoError::MissingElement {
            parent: r.response,
            name: "ResponseCode",
            position: 0,
        });
    };
    if top.code != "NoError" {
        return Ok(Err(ResponseError::new(
            &top.code,
            top.text.as_deref().unwrap_or_default(),
        )));
    }
    Ok(Ok(top.element))
}

/// Writes `m:{op}Response/m:ResponseMessages/m:{op}ResponseMessage*`.
/// `container` is the empty payload element written after an error
/// (`m:Folders`, `m:Items`); `ok` writes the payload of a success.
fn response_messages<T>(
    op: &str,
    results: &[Result<T, ResponseError>],
    container: Option<&str>,
    ok: impl FnMut(&mut XmlOut, &T),
) -> Vec<u8> {
    response_messages_with(op, results, ok, |w, _| {
        if let Some(c) = container {
            w.empty(c, &[]);
        }
    })
}

/// [`response_messages`] with the elements after an error's body written by `after_error`.
pub(crate) fn response_messages_with<T>(
    op: &str,
    results: &[Result<T, ResponseError>],
    mut ok: impl FnMut(&mut XmlOut, &T),
    mut after_error: impl FnMut(&mut XmlOut, &ResponseError),
) -> Vec<u8> {
    response_envelope(|w| {
        let response = format!("m:{op}Response");
        let message = format!("m:{op}ResponseMessage");
        w.start(
            &response,
            &[("xmlns:m", ns::MESSAGES), ("xmlns:t", ns::TYPES)],
        );
        w.start("m:ResponseMessages", &[]);
        for result in results {
            match result {
                Ok(value) => {
                    w.start(&message, &[("ResponseClass", "Success")]);
                    w.leaf("m:ResponseCode", "NoError");
                    ok(w, value);
                }
                Err(e) => {
                    w.start(&message, &[("ResponseClass", e.class.as_str())]);
                    write_error_body(w, e);
                    after_error(w, e);
                }
            }
            w.end(&message);
        }
        w.end("m:ResponseMessages");
        w.end(&response);
    })
}

pub(crate) fn write_id(w: &mut XmlOut, name: &str, id: &str, change_key: Option<&str>) {
    match change_key {
        Some(ck) => w.empty(name, &[("Id", id), ("ChangeKey", ck)]),
        None => w.empty(name, &[("Id", id)]),
    }
}

pub(crate) fn write_folder_ref(w: &mut XmlOut, folder: &FolderRef) {
    match folder {
        FolderRef::Id { id, change_key } => write_id(w, "t:FolderId", id, change_key.as_deref()),
        FolderRef::Distinguished { id, mailbox } => match mailbox {
            None => w.empty("t:DistinguishedFolderId", &[("Id", id.as_str())]),
            Some(m) => {
                w.start("t:DistinguishedFolderId", &[("Id", id.as_str())]);
                w.start("t:Mailbox", &[]);
                w.leaf("t:EmailAddress", m);
                w.end("t:Mailbox");
                w.end("t:DistinguishedFolderId");
            }
        },
    }
}

fn write_mailbox(w: &mut XmlOut, m: &Mailbox) {
    w.start("t:Mailbox", &[]);
    write_mailbox_fields(w, m);
    w.end("t:Mailbox");
}

/// The fields of an `EmailAddressType` (`t:Name`, `t:EmailAddress`, `t:RoutingType`,
/// `t:MailboxType`), each when set, inside whatever element holds them.
pub(crate) fn write_mailbox_fields(w: &mut XmlOut, m: &Mailbox) {
    if let Some(v) = &m.name {
        w.leaf("t:Name", v);
    }
    if let Some(v) = &m.email_address {
        w.leaf("t:EmailAddress", v);
    }
    if let Some(v) = &m.routing_type {
        w.leaf("t:RoutingType", v);
    }
    if let Some(v) = &m.mailbox_type {
        w.leaf("t:MailboxType", v);
    }
    if let Some(id) = &m.item_id {
        write_id(w, "t:ItemId", &id.id, id.change_key.as_deref());
    }
}

fn write_extended_property(
    w: &mut XmlOut,
    requested: &crate::types::ExtendedFieldUri,
    value: &ExtendedValue,
) {
    w.start("t:ExtendedProperty", &[]);
    let mut attrs: Vec<(&str, &str)> = Vec::new();
    let u = requested;
    if let Some(v) = &u.distinguished_property_set_id {
        attrs.push(("DistinguishedPropertySetId", v));
    }
    if let Some(v) = &u.property_set_id {
        attrs.push(("PropertySetId", v));
    }
    if let Some(v) = &u.property_tag {
        attrs.push(("PropertyTag", v));
    }
    if let Some(v) = &u.property_name {
        attrs.push(("PropertyName", v));
    }
    if let Some(v) = &u.property_id {
        attrs.push(("PropertyId", v));
    }
    attrs.push(("PropertyType", &u.property_type));
    w.empty("t:ExtendedFieldURI", &attrs);
    match value {
        ExtendedValue::Single(v) => w.leaf("t:Value", v),
        ExtendedValue::Multi(vs) => {
            w.start("t:Values", &[]);
            for v in vs {
                w.leaf("t:Value", v);
            }
            w.end("t:Values");
        }
    }
    w.end("t:ExtendedProperty");
}

/// The extended properties of `available` that `additional` asks for, in
/// request order, paired with the requested URI (echoed back as asked).
fn requested_extended<'a>(
    additional: &'a [PropertyPath],
    available: &'a [ExtendedProperty],
) -> Vec<(&'a crate::types::ExtendedFieldUri, &'a ExtendedValue)> {
    additional
        .iter()
        .filter_map(|p| match p {
            PropertyPath::Extended(uri) => available
                .iter()
                .find(|e| e.uri.matches(uri))
                .map(|e| (uri, &e.value)),
            _ => None,
        })
        .collect()
}

pub(crate) fn dt(v: OffsetDateTime) -> String {
    format_xs_datetime(v)
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

// ======================================================================
// Folders
// ======================================================================

/// What the server knows about a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderView {
    /// Element to use: `t:Folder`, `t:CalendarFolder`, ... (see [`FolderKind::from_folder_class`]).
    pub kind: FolderKind,
    pub id: String,
    pub change_key: Option<String>,
    pub parent_id: Option<String>,
    pub parent_change_key: Option<String>,
    pub display_name: String,
    pub folder_class: Option<String>,
    pub total_count: u32,
    pub child_folder_count: u32,
    pub unread_count: u32,
    pub distinguished: Option<DistinguishedFolderId>,
    /// Extended properties available for AdditionalProperties requests.
    pub extended: Vec<ExtendedProperty>,
    /// `t:PermissionSet` (`folder:PermissionSet`, asked for by name): the folder's permissions,
    /// written as `t:CalendarPermissions` for a calendar folder, `t:Permissions` otherwise.
    pub permissions: Option<Vec<FolderPermission>>,
}

/// Whom a folder permission is for (`t:UserId`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionUser {
    /// `t:DistinguishedUser` `Default`: every user of the organization not listed.
    Default,
    /// `t:DistinguishedUser` `Anonymous`.
    Anonymous,
    /// A user: `t:SID`, `t:PrimarySmtpAddress`, `t:DisplayName`.
    User {
        sid: Option<String>,
        primary_smtp_address: Option<String>,
        display_name: Option<String>,
    },
}

/// One `t:Permission` or `t:CalendarPermission` (MS-OXWSCDATA `BasePermissionType`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderPermission {
    pub user: PermissionUser,
    pub can_create_items: bool,
    pub can_create_subfolders: bool,
    pub is_folder_owner: bool,
    pub is_folder_visible: bool,
    pub is_folder_contact: bool,
    /// `None`, `Owned` or `All`.
    pub edit_items: &'static str,
    /// `None`, `Owned` or `All`.
    pub delete_items: &'static str,
    /// `None` or `FullDetails`; a calendar's also `TimeOnly` or `TimeAndSubjectAndLocation`.
    pub read_items: &'static str,
    /// `t:PermissionLevel` or `t:CalendarPermissionLevel` (`Reviewer`, `Editor`,
    /// `FreeBusyTimeOnly`, …).
    pub level: &'static str,
}

fn write_permission_set(w: &mut XmlOut, calendar: bool, list: &[FolderPermission]) {
    let (set, one, level) = if calendar {
        (
            "t:CalendarPermissions",
            "t:CalendarPermission",
            "t:CalendarPermissionLevel",
        )
    } else {
        ("t:Permissions", "t:Permission", "t:PermissionLevel")
    };
    w.start("t:PermissionSet", &[]);
    w.start(set, &[]);
    for p in list {
        w.start(one, &[]);
        w.start("t:UserId", &[]);
        match &p.user {
            PermissionUser::Default => w.leaf("t:DistinguishedUser", "Default"),
            PermissionUser::Anonymous => w.leaf("t:DistinguishedUser", "Anonymous"),
            PermissionUser::User {
                sid,
                primary_smtp_address,
                display_name,
            } => {
                for (el, v) in [
                    ("t:SID", sid),
                    ("t:PrimarySmtpAddress", primary_smtp_address),
                    ("t:DisplayName", display_name),
                ] {
                    if let Some(v) = v {
                        w.leaf(el, v);
                    }
                }
            }
        }
        w.end("t:UserId");
        w.leaf("t:CanCreateItems", bool_str(p.can_create_items));
        w.leaf("t:CanCreateSubFolders", bool_str(p.can_create_subfolders));
        w.leaf("t:IsFolderOwner", bool_str(p.is_folder_owner));
        w.leaf("t:IsFolderVisible", bool_str(p.is_folder_visible));
        w.leaf("t:IsFolderContact", bool_str(p.is_folder_contact));
        w.leaf("t:EditItems", p.edit_items);
        w.leaf("t:DeleteItems", p.delete_items);
        w.leaf("t:ReadItems", p.read_items);
        w.leaf(level, p.level);
        w.end(one);
    }
    w.end(set);
    w.end("t:PermissionSet");
}

impl FolderView {
    /// A `t:Folder` with the given id and display name; everything else empty/zero.
    pub fn new(id: &str, display_name: &str) -> Self {
        Self {
            kind: FolderKind::Folder,
            id: id.to_owned(),
            change_key: None,
            parent_id: None,
            parent_change_key: None,
            display_name: display_name.to_owned(),
            folder_class: None,
            total_count: 0,
            child_folder_count: 0,
            unread_count: 0,
            distinguished: None,
            extended: Vec::new(),
            permissions: None,
        }
    }
}

#[derive(Default)]
struct FolderProps {
    parent: bool,
    class: bool,
    display_name: bool,
    total: bool,
    child: bool,
    unread: bool,
    distinguished: bool,
    /// `folder:PermissionSet`, by name only.
    permissions: bool,
}

impl FolderProps {
    fn for_shape(shape: &FolderShape) -> Self {
        let mut p = match shape.base_shape {
            BaseShape::IdOnly => Self::default(),
            BaseShape::Default => Self {
                display_name: true,
                total: true,
                child: true,
                unread: true,
                ..Self::default()
            },
            BaseShape::AllProperties => Self {
                parent: true,
                class: true,
                display_name: true,
                total: true,
                child: true,
                unread: true,
                distinguished: true,
                permissions: false,
            },
        };
        for path in &shape.additional {
            match path.field_uri() {
                Some("folder:ParentFolderId") => p.parent = true,
                Some("folder:FolderClass") => p.class = true,
                Some("folder:DisplayName") => p.display_name = true,
                Some("folder:TotalCount") => p.total = true,
                Some("folder:ChildFolderCount") => p.child = true,
                Some("folder:UnreadCount") => p.unread = true,
                Some("folder:DistinguishedFolderId") => p.distinguished = true,
                Some("folder:PermissionSet") => p.permissions = true,
                _ => {}
            }
        }
        p
    }
}

fn write_folder(w: &mut XmlOut, f: &FolderView, shape: &FolderShape) {
    let p = FolderProps::for_shape(shape);
    let name = format!("t:{}", f.kind.as_str());
    w.start(&name, &[]);
    write_id(w, "t:FolderId", &f.id, f.change_key.as_deref());
    if p.parent
        && let Some(pid) = &f.parent_id
    {
        write_id(w, "t:ParentFolderId", pid, f.parent_change_key.as_deref());
    }
    if p.class
        && let Some(c) = &f.folder_class
    {
        w.leaf("t:FolderClass", c);
    }
    if p.display_name {
        w.leaf("t:DisplayName", &f.display_name);
    }
    if p.total {
        w.leaf("t:TotalCount", &f.total_count.to_string());
    }
    if p.child {
        w.leaf("t:ChildFolderCount", &f.child_folder_count.to_string());
    }
    for (uri, value) in requested_extended(&shape.additional, &f.extended) {
        write_extended_property(w, uri, value);
    }
    if p.distinguished
        && let Some(d) = f.distinguished
    {
        w.leaf("t:DistinguishedFolderId", d.as_str());
    }
    if p.permissions
        && let Some(list) = &f.permissions
    {
        write_permission_set(w, f.kind == FolderKind::CalendarFolder, list);
    }
    if p.unread && f.kind.has_unread_count() {
        w.leaf("t:UnreadCount", &f.unread_count.to_string());
    }
    w.end(&name);
}

/// `GetFolderResponse`: one message per requested folder id, in order.
pub fn get_folder_response(
    shape: &FolderShape,
    results: &[Result<FolderView, ResponseError>],
) -> Vec<u8> {
    response_messages("GetFolder", results, Some("m:Folders"), |w, f| {
        w.start("m:Folders", &[]);
        write_folder(w, f, shape);
        w.end("m:Folders");
    })
}

/// `CreateFolderResponse`: one message per new folder, in order, each with the folder's id
/// (and change key) in its typed element, as Exchange answers.
pub fn create_folder_response(results: &[Result<FolderView, ResponseError>]) -> Vec<u8> {
    folder_ids_response("CreateFolder", results)
}

/// Messages of `op` each naming one folder by its id and change key (IdOnly).
fn folder_ids_response(op: &str, results: &[Result<FolderView, ResponseError>]) -> Vec<u8> {
    let shape = FolderShape::new(BaseShape::IdOnly);
    response_messages(op, results, Some("m:Folders"), |w, f| {
        w.start("m:Folders", &[]);
        write_folder(w, f, &shape);
        w.end("m:Folders");
    })
}

/// `UpdateFolderResponse`: one message per folder change, each with the folder's id and new
/// change key.
pub fn update_folder_response(results: &[Result<FolderView, ResponseError>]) -> Vec<u8> {
    folder_ids_response("UpdateFolder", results)
}

/// `MoveFolderResponse`: one message per folder moved, each with the folder's id and new
/// change key.
pub fn move_folder_response(results: &[Result<FolderView, ResponseError>]) -> Vec<u8> {
    folder_ids_response("MoveFolder", results)
}

/// `CopyFolderResponse`: one message per folder copied, each with the copy's id and change
/// key.
pub fn copy_folder_response(results: &[Result<FolderView, ResponseError>]) -> Vec<u8> {
    folder_ids_response("CopyFolder", results)
}

/// One `t:Resolution` of ResolveNames: a directory entry, and its contact data when asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// `t:Mailbox` (name, SMTP address, `SMTP`, `Mailbox` or `Contact`).
    pub mailbox: Mailbox,
    /// `t:Contact` (ReturnFullContactData).
    pub contact: Option<ResolvedContact>,
}

/// The contact data of a [`Resolution`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedContact {
    pub display_name: String,
    /// `t:EmailAddresses` entries (`EmailAddress1` ...), as `SMTP:` addresses.
    pub email_addresses: Vec<String>,
}

/// `ResolveNamesResponse` for one entry: `NoError` with one resolution,
/// `ErrorNameResolutionMultipleResults` (a warning, with every resolution) with several,
/// `ErrorNameResolutionNoResults` with none, or `result`'s error.
pub fn resolve_names_response(result: &Result<Vec<Resolution>, ResponseError>) -> Vec<u8> {
    response_envelope(|w| {
        w.start(
            "m:ResolveNamesResponse",
            &[("xmlns:m", ns::MESSAGES), ("xmlns:t", ns::TYPES)],
        );
        w.start("m:ResponseMessages", &[]);
        let message = "m:ResolveNamesResponseMessage";
        match result {
            Err(e) => {
                w.start(message, &[("ResponseClass", e.class.as_str())]);
                write_error_body(w, e);
            }
            Ok(found) if found.is_empty() => {
                w.start(message, &[("ResponseClass", "Error")]);
                write_error_body(
                    w,
                    &ResponseError::new("ErrorNameResolutionNoResults", "No results were found."),
                );
            }
            Ok(found) => {
                if found.len() == 1 {
                    w.start(message, &[("ResponseClass", "Success")]);
                    w.leaf("m:ResponseCode", "NoError");
                } else {
                    w.start(message, &[("ResponseClass", "Warning")]);
                    write_error_body(
                        w,
                        &ResponseError::new(
                            "ErrorNameResolutionMultipleResults",
                            "Multiple results were found.",
                        ),
                    );
                }
                let total = found.len().to_string();
                w.start(
                    "m:ResolutionSet",
                    &[
                        ("TotalItemsInView", total.as_str()),
                        ("IncludesLastItemInRange", "true"),
                    ],
                );
                for r in found {
                    w.start("t:Resolution", &[]);
                    write_mailbox(w, &r.mailbox);
                    if let Some(c) = &r.contact {
                        w.start("t:Contact", &[]);
                        w.leaf("t:DisplayName", &c.display_name);
                        if !c.email_addresses.is_empty() {
                            w.start("t:EmailAddresses", &[]);
                            for (i, a) in c.email_addresses.iter().take(3).enumerate() {
                                let key = format!("EmailAddress{}", i + 1);
                                w.text_element("t:Entry", &[("Key", key.as_str())], a);
                            }
                            w.end("t:EmailAddresses");
                        }
                        w.leaf("t:ContactSource", "ActiveDirectory");
                        w.end("t:Contact");
                    }
                    w.end("t:Resolution");
                }
                w.end("m:ResolutionSet");
            }
        }
        w.end(message);
        w.end("m:ResponseMessages");
        w.end("m:ResolveNamesResponse");
    })
}

/// `ExpandDLResponse` for one list: `m:DLExpansion` with a `t:Mailbox` per member (the whole
/// membership in one page: `TotalItemsInView` is their number, `IncludesLastItemInRange` true),
/// or `result`'s error.
pub fn expand_dl_response(result: &Result<Vec<Mailbox>, ResponseError>) -> Vec<u8> {
    response_messages(
        "ExpandDL",
        std::slice::from_ref(result),
        None,
        |w, members| {
            let total = members.len().to_string();
            w.start(
                "m:DLExpansion",
                &[
                    ("TotalItemsInView", total.as_str()),
                    ("IncludesLastItemInRange", "true"),
                ],
            );
            for m in members {
                write_mailbox(w, m);
            }
            w.end("m:DLExpansion");
        },
    )
}

/// One page of a FindFolder/FindItem result (`m:RootFolder`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// `IndexedPagingOffset`: offset of the next page. `None` omits the
    /// attribute (CalendarView results).
    pub indexed_paging_offset: Option<u32>,
    pub total_items_in_view: u32,
    pub includes_last_item_in_range: bool,
}

fn write_root_folder_start(w: &mut XmlOut, offset: Option<u32>, total: u32, last: bool) {
    let total = total.to_string();
    let offset = offset.map(|o| o.to_string());
    let mut attrs: Vec<(&str, &str)> = Vec::new();
    if let Some(o) = &offset {
        attrs.push(("IndexedPagingOffset", o));
    }
    attrs.push(("TotalItemsInView", &total));
    attrs.push(("IncludesLastItemInRange", bool_str(last)));
    w.start("m:RootFolder", &attrs);
}

/// `FindFolderResponse`: one message per parent folder.
pub fn find_folder_response(
    shape: &FolderShape,
    results: &[Result<Page<FolderView>, ResponseError>],
) -> Vec<u8> {
    response_messages("FindFolder", results, None, |w, page| {
        write_root_folder_start(
            w,
            page.indexed_paging_offset,
            page.total_items_in_view,
            page.includes_last_item_in_range,
        );
        if page.items.is_empty() {
            w.empty("t:Folders", &[]);
        } else {
            w.start("t:Folders", &[]);
            for f in &page.items {
                write_folder(w, f, shape);
            }
            w.end("t:Folders");
        }
        w.end("m:RootFolder");
    })
}

// ======================================================================
// Items
// ======================================================================

/// What the server knows about an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemView {
    pub kind: ItemKind,
    pub id: String,
    pub change_key: Option<String>,
    pub parent_folder_id: Option<String>,
    pub parent_change_key: Option<String>,
    pub item_class: Option<String>,
    pub subject: Option<String>,
    pub sensitivity: Option<Sensitivity>,
    /// The body as stored; the writer does not convert between HTML and text.
    pub body: Option<(BodyType, String)>,
    pub date_time_received: Option<OffsetDateTime>,
    pub size: Option<u64>,
    pub categories: Vec<String>,
    pub importance: Option<Importance>,
    pub date_time_sent: Option<OffsetDateTime>,
    pub date_time_created: Option<OffsetDateTime>,
    pub has_attachments: bool,
    /// `t:Attachments` (metadata, no content): written by GetItem when the shape asks for them.
    pub attachments: Vec<AttachmentView>,
    pub is_associated: bool,
    pub extended: Vec<ExtendedProperty>,
    /// `t:MimeContent`: the item as RFC 5322 text, base64-encoded (written only when the shape
    /// asks for it).
    pub mime_content: Option<String>,
    /// `t:IsDraft`.
    pub is_draft: Option<bool>,
    // t:Message
    pub sender: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub from: Option<Mailbox>,
    pub internet_message_id: Option<String>,
    pub is_read: Option<bool>,
    /// `t:InReplyTo`: the Message-ID of the message this one answers.
    pub in_reply_to: Option<String>,
    /// `t:References` (`message:References`): the thread's Message-IDs.
    pub references: Option<String>,
    /// `t:ReceivedRepresenting` (`message:ReceivedRepresenting`): the mailbox a delegate's copy
    /// of a meeting message was sent to.
    pub received_representing: Option<Mailbox>,
    /// `t:ConversationId/@Id` (`item:ConversationId`): the thread's id, the same for every
    /// message of it.
    pub conversation_id: Option<String>,
    /// `t:ConversationIndex` (`message:ConversationIndex`), base64.
    pub conversation_index: Option<String>,
    /// `t:ConversationTopic` (`message:ConversationTopic`): the thread's subject, without a
    /// reply or forward prefix.
    pub conversation_topic: Option<String>,
    // t:CalendarItem
    pub start: Option<OffsetDateTime>,
    pub end: Option<OffsetDateTime>,
    pub is_all_day_event: Option<bool>,
    pub legacy_free_busy_status: Option<LegacyFreeBusyStatus>,
    pub location: Option<String>,
    // meetings (t:CalendarItem and the meeting messages)
    /// `t:UID` (`calendar:UID`): the meeting's identity, shared by every copy.
    pub uid: Option<String>,
    pub is_meeting: Option<bool>,
    pub is_cancelled: Option<bool>,
    pub meeting_request_was_sent: Option<bool>,
    pub my_response_type: Option<ResponseType>,
    pub organizer: Option<Mailbox>,
    pub required_attendees: Vec<Attendee>,
    pub optional_attendees: Vec<Attendee>,
    pub resources: Vec<Attendee>,
    /// `t:AssociatedCalendarItemId` of a meeting message: the recipient's calendar copy.
    pub associated_calendar_item_id: Option<ItemRef>,
    /// `t:HasBeenProcessed` of a meeting message.
    pub has_been_processed: Option<bool>,
    /// `t:ResponseType` of a meeting message (`meeting:ResponseType`).
    pub response_type: Option<ResponseType>,
    /// `t:MeetingRequestType` of a meeting request (`NewMeetingRequest`, `FullUpdate`, ...).
    pub meeting_request_type: Option<String>,
    /// `t:IntendedFreeBusyStatus` of a meeting request.
    pub intended_free_busy_status: Option<LegacyFreeBusyStatus>,
    // recurring series (t:CalendarItem)
    /// `t:OriginalStart` of an occurrence: where its series puts it.
    pub original_start: Option<OffsetDateTime>,
    /// `t:IsRecurring`: a series or one of its occurrences.
    pub is_recurring: Option<bool>,
    /// `t:CalendarItemType`: `Single`, `Occurrence`, `Exception` or `RecurringMaster`.
    pub calendar_item_type: Option<&'static str>,
    /// `t:Recurrence` of a series.
    pub recurrence: Option<crate::recurrence::Recurrence>,
    /// `t:FirstOccurrence` and `t:LastOccurrence` of a series (no last one without end).
    pub first_occurrence: Option<OccurrenceInfo>,
    pub last_occurrence: Option<OccurrenceInfo>,
    /// `t:ModifiedOccurrences` of a series: its occurrences changed on their own.
    pub modified_occurrences: Vec<OccurrenceInfo>,
    /// `t:DeletedOccurrences` of a series: the original starts of the deleted ones.
    pub deleted_occurrences: Vec<OffsetDateTime>,
    /// `t:StartTimeZone` and `t:EndTimeZone`: the Windows time zone (id, display name) the
    /// item's times keep.
    pub time_zone: Option<(String, String)>,
    // t:Contact
    /// The contact's own properties (written after the `t:ItemType` ones).
    pub contact: Option<Box<Contact>>,
    /// A contact with a contact photo attachment (`t:HasPicture`).
    pub has_picture: bool,
    // t:Task
    /// The task's own properties (written after the `t:ItemType` ones).
    pub task: Option<Box<Task>>,
    // t:DistributionList
    /// The list's own properties (written after the `t:ItemType` ones).
    pub distribution_list: Option<Box<crate::dlist::DistributionList>>,
}

/// `t:OccurrenceInfoType`: one occurrence of a series, as its series lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OccurrenceInfo {
    pub item_id: ItemRef,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub original_start: OffsetDateTime,
}

impl ItemView {
    /// An item of the given kind with only its id set.
    pub fn new(kind: ItemKind, id: &str, change_key: Option<&str>) -> Self {
        Self {
            kind,
            id: id.to_owned(),
            change_key: change_key.map(str::to_owned),
            parent_folder_id: None,
            parent_change_key: None,
            item_class: None,
            subject: None,
            sensitivity: None,
            body: None,
            date_time_received: None,
            size: None,
            categories: Vec::new(),
            importance: None,
            date_time_sent: None,
            date_time_created: None,
            has_attachments: false,
            attachments: Vec::new(),
            is_associated: false,
            extended: Vec::new(),
            mime_content: None,
            is_draft: None,
            sender: None,
            to: Vec::new(),
            cc: Vec::new(),
            bcc: Vec::new(),
            from: None,
            internet_message_id: None,
            is_read: None,
            in_reply_to: None,
            references: None,
            received_representing: None,
            conversation_id: None,
            conversation_index: None,
            conversation_topic: None,
            start: None,
            end: None,
            is_all_day_event: None,
            legacy_free_busy_status: None,
            location: None,
            uid: None,
            is_meeting: None,
            is_cancelled: None,
            meeting_request_was_sent: None,
            my_response_type: None,
            organizer: None,
            required_attendees: Vec::new(),
            optional_attendees: Vec::new(),
            resources: Vec::new(),
            associated_calendar_item_id: None,
            has_been_processed: None,
            response_type: None,
            meeting_request_type: None,
            intended_free_busy_status: None,
            original_start: None,
            is_recurring: None,
            calendar_item_type: None,
            recurrence: None,
            first_occurrence: None,
            last_occurrence: None,
            modified_occurrences: Vec::new(),
            deleted_occurrences: Vec::new(),
            time_zone: None,
            contact: None,
            has_picture: false,
            task: None,
            distribution_list: None,
        }
    }
}

#[derive(Default)]
struct ItemProps {
    parent: bool,
    class: bool,
    subject: bool,
    sensitivity: bool,
    body: bool,
    /// `item:Attachments` (GetItem only, like the body).
    attachments: bool,
    received: bool,
    size: bool,
    categories: bool,
    importance: bool,
    sent: bool,
    created: bool,
    has_attachments: bool,
    is_associated: bool,
    sender: bool,
    to: bool,
    cc: bool,
    bcc: bool,
    from: bool,
    /// `item:MimeContent` (GetItem only, like the body).
    mime: bool,
    is_draft: bool,
    message_id: bool,
    in_reply_to: bool,
    references: bool,
    received_representing: bool,
    conversation_id: bool,
    conversation_index: bool,
    conversation_topic: bool,
    /// `item:TextBody` (asked for by name only, as in Exchange).
    text_body: bool,
    is_read: bool,
    start: bool,
    end: bool,
    all_day: bool,
    free_busy: bool,
    location: bool,
    uid: bool,
    is_meeting: bool,
    is_cancelled: bool,
    request_was_sent: bool,
    my_response: bool,
    organizer: bool,
    required: bool,
    optional: bool,
    resources: bool,
    associated_calendar_item: bool,
    has_been_processed: bool,
    response_type: bool,
    request_type: bool,
    intended_free_busy: bool,
    original_start: bool,
    is_recurring: bool,
    calendar_item_type: bool,
    recurrence: bool,
    first_occurrence: bool,
    last_occurrence: bool,
    modified_occurrences: bool,
    deleted_occurrences: bool,
    start_time_zone: bool,
    end_time_zone: bool,
}

impl ItemProps {
    /// `include_body` is false for FindItem, which never returns bodies.
    fn for_shape(shape: &ItemShape, include_body: bool) -> Self {
        let default_set = Self {
            parent: true,
            class: true,
            subject: true,
            body: true,
            received: true,
            size: true,
            has_attachments: true,
            sender: true,
            to: true,
            cc: true,
            from: true,
            is_read: true,
            start: true,
            end: true,
            all_day: true,
            free_busy: true,
            location: true,
            ..Self::default()
        };
        let mut p = match shape.base_shape {
            BaseShape::IdOnly => Self::default(),
            BaseShape::Default => default_set,
            BaseShape::AllProperties => Self {
                sensitivity: true,
                attachments: true,
                categories: true,
                importance: true,
                sent: true,
                created: true,
                is_associated: true,
                message_id: true,
                in_reply_to: true,
                references: true,
                received_representing: true,
                conversation_id: true,
                conversation_index: true,
                conversation_topic: true,
                bcc: true,
                is_draft: true,
                uid: true,
                is_meeting: true,
                is_cancelled: true,
                request_was_sent: true,
                my_response: true,
                organizer: true,
                required: true,
                optional: true,
                resources: true,
                associated_calendar_item: true,
                has_been_processed: true,
                response_type: true,
                request_type: true,
                intended_free_busy: true,
                original_start: true,
                is_recurring: true,
                calendar_item_type: true,
                recurrence: true,
                first_occurrence: true,
                last_occurrence: true,
                modified_occurrences: true,
                deleted_occurrences: true,
                start_time_zone: true,
                end_time_zone: true,
                ..default_set
            },
        };
        p.mime = shape.include_mime_content;
        for path in &shape.additional {
            match path.field_uri() {
                Some("item:ParentFolderId") => p.parent = true,
                Some("item:ItemClass") => p.class = true,
                Some("item:Subject") => p.subject = true,
                Some("item:Sensitivity") => p.sensitivity = true,
                Some("item:Body") => p.body = true,
                Some("item:Attachments") => p.attachments = true,
                Some("item:TextBody") => p.text_body = true,
                Some("item:DateTimeReceived") => p.received = true,
                Some("item:Size") => p.size = true,
                Some("item:Categories") => p.categories = true,
                Some("item:Importance") => p.importance = true,
                Some("item:DateTimeSent") => p.sent = true,
                Some("item:DateTimeCreated") => p.created = true,
                Some("item:HasAttachments") => p.has_attachments = true,
                Some("item:IsAssociated") => p.is_associated = true,
                Some("message:Sender") => p.sender = true,
                Some("message:ToRecipients") => p.to = true,
                Some("message:CcRecipients") => p.cc = true,
                Some("message:BccRecipients") => p.bcc = true,
                Some("item:MimeContent") => p.mime = true,
                Some("item:IsDraft") => p.is_draft = true,
                Some("message:From") => p.from = true,
                Some("message:InternetMessageId") => p.message_id = true,
                Some("message:IsRead") => p.is_read = true,
                Some("item:InReplyTo") => p.in_reply_to = true,
                Some("message:References") => p.references = true,
                Some("message:ReceivedRepresenting") => p.received_representing = true,
                Some("item:ConversationId") => p.conversation_id = true,
                Some("message:ConversationIndex") => p.conversation_index = true,
                Some("message:ConversationTopic") => p.conversation_topic = true,
                Some("calendar:Start") => p.start = true,
                Some("calendar:End") => p.end = true,
                Some("calendar:IsAllDayEvent") => p.all_day = true,
                Some("calendar:LegacyFreeBusyStatus") => p.free_busy = true,
                Some("calendar:Location") => p.location = true,
                Some("calendar:UID") => p.uid = true,
                Some("calendar:IsMeeting") => p.is_meeting = true,
                Some("calendar:IsCancelled") => p.is_cancelled = true,
                Some("calendar:MeetingRequestWasSent") => p.request_was_sent = true,
                Some("calendar:MyResponseType") => p.my_response = true,
                Some("calendar:Organizer") => p.organizer = true,
                Some("calendar:RequiredAttendees") => p.required = true,
                Some("calendar:OptionalAttendees") => p.optional = true,
                Some("calendar:Resources") => p.resources = true,
                Some("meeting:AssociatedCalendarItemId") => p.associated_calendar_item = true,
                Some("meeting:HasBeenProcessed") => p.has_been_processed = true,
                Some("meeting:ResponseType") => p.response_type = true,
                Some("meetingRequest:MeetingRequestType") => p.request_type = true,
                Some("meetingRequest:IntendedFreeBusyStatus") => p.intended_free_busy = true,
                Some("calendar:OriginalStart") => p.original_start = true,
                Some("calendar:IsRecurring") => p.is_recurring = true,
                Some("calendar:CalendarItemType") => p.calendar_item_type = true,
                Some("calendar:Recurrence") => p.recurrence = true,
                Some("calendar:FirstOccurrence") => p.first_occurrence = true,
                Some("calendar:LastOccurrence") => p.last_occurrence = true,
                Some("calendar:ModifiedOccurrences") => p.modified_occurrences = true,
                Some("calendar:DeletedOccurrences") => p.deleted_occurrences = true,
                Some("calendar:StartTimeZone") => p.start_time_zone = true,
                Some("calendar:EndTimeZone") => p.end_time_zone = true,
                _ => {}
            }
        }
        if !include_body {
            p.body = false;
            p.text_body = false;
            p.attachments = false;
            p.mime = false;
        }
        p
    }
}

fn write_item(w: &mut XmlOut, item: &ItemView, shape: &ItemShape, include_body: bool) {
    let p = ItemProps::for_shape(shape, include_body);
    let name = format!("t:{}", item.kind.as_str());
    w.start(&name, &[]);
    if p.mime
        && let Some(m) = &item.mime_content
    {
        w.text_element("t:MimeContent", &[("CharacterSet", "UTF-8")], m);
    }
    // an attached item has no id of its own
    if !item.id.is_empty() {
        write_id(w, "t:ItemId", &item.id, item.change_key.as_deref());
    }
    if p.parent
        && let Some(pid) = &item.parent_folder_id
    {
        write_id(
            w,
            "t:ParentFolderId",
            pid,
            item.parent_change_key.as_deref(),
        );
    }
    if p.class
        && let Some(v) = &item.item_class
    {
        w.leaf("t:ItemClass", v);
    }
    if p.subject
        && let Some(v) = &item.subject
    {
        w.leaf("t:Subject", v);
    }
    if p.sensitivity
        && let Some(v) = item.sensitivity
    {
        w.leaf("t:Sensitivity", v.as_str());
    }
    if p.body
        && let Some((stored, text)) = &item.body
    {
        // in the form the shape asks for (Best: as stored)
        // converted, unless the body is past what is converted (then given as stored)
        let converted = match (shape.body_type, stored) {
            (Some(crate::types::ShapeBodyType::Text), BodyType::Html) => {
                crate::body::html_to_text(text).map(|t| (BodyType::Text, t))
            }
            (Some(crate::types::ShapeBodyType::Html), BodyType::Text) => {
                Some((BodyType::Html, crate::body::text_to_html(text)))
            }
            _ => None,
        };
        let (body_type, body) = match &converted {
            Some((t, b)) => (*t, b.as_str()),
            None => (*stored, text.as_str()),
        };
        w.text_element("t:Body", &[("BodyType", body_type.as_str())], body);
    }
    if p.attachments && !item.attachments.is_empty() {
        w.start("t:Attachments", &[]);
        for a in &item.attachments {
            write_attachment(w, a, shape);
        }
        w.end("t:Attachments");
    }
    if p.received
        && let Some(v) = item.date_time_received
    {
        w.leaf("t:DateTimeReceived", &dt(v));
    }
    if p.size
        && let Some(v) = item.size
    {
        w.leaf("t:Size", &v.to_string());
    }
    if p.categories && !item.categories.is_empty() {
        w.start("t:Categories", &[]);
        for c in &item.categories {
            w.leaf("t:String", c);
        }
        w.end("t:Categories");
    }
    if p.importance
        && let Some(v) = item.importance
    {
        w.leaf("t:Importance", v.as_str());
    }
    if p.in_reply_to
        && let Some(v) = &item.in_reply_to
    {
        w.leaf("t:InReplyTo", v);
    }
    if p.is_draft
        && let Some(v) = item.is_draft
    {
        w.leaf("t:IsDraft", bool_str(v));
    }
    if p.sent
        && let Some(v) = item.date_time_sent
    {
        w.leaf("t:DateTimeSent", &dt(v));
    }
    if p.created
        && let Some(v) = item.date_time_created
    {
        w.leaf("t:DateTimeCreated", &dt(v));
    }
    if p.has_attachments {
        w.leaf("t:HasAttachments", bool_str(item.has_attachments));
    }
    for (uri, value) in requested_extended(&shape.additional, &item.extended) {
        write_extended_property(w, uri, value);
    }
    if p.is_associated {
        w.leaf("t:IsAssociated", bool_str(item.is_associated));
    }
    if p.conversation_id
        && let Some(v) = &item.conversation_id
    {
        w.empty("t:ConversationId", &[("Id", v)]);
    }
    if p.text_body
        && let Some((stored, text)) = &item.body
    {
        // absent when an HTML body is past what is converted
        let t = match stored {
            BodyType::Html => crate::body::html_to_text(text),
            BodyType::Text => Some(text.clone()),
        };
        if let Some(t) = t {
            w.text_element("t:TextBody", &[("BodyType", "Text")], &t);
        }
    }
    if item.kind.is_message() {
        write_message_fields(w, item, &p);
    }
    if item.kind.is_meeting_message() {
        write_meeting_message_fields(w, item, &p);
    }
    match item.kind {
        ItemKind::CalendarItem => {
            if p.uid
                && let Some(v) = &item.uid
            {
                w.leaf("t:UID", v);
            }
            write_calendar_fields(w, item, &p, true);
        }
        ItemKind::MeetingRequest => {
            if p.request_type
                && let Some(v) = &item.meeting_request_type
            {
                w.leaf("t:MeetingRequestType", v);
            }
            if p.intended_free_busy
                && let Some(v) = item.intended_free_busy_status
            {
                w.leaf("t:IntendedFreeBusyStatus", v.as_str());
            }
            write_calendar_fields(w, item, &p, true);
        }
        // t:MeetingResponseMessageType, t:MeetingCancellationMessageType: Start, End, Location
        ItemKind::MeetingResponse | ItemKind::MeetingCancellation => {
            write_calendar_fields(w, item, &p, false);
        }
        ItemKind::Contact => match &item.contact {
            Some(c) => write_contact_fields(w, c, shape, item.has_picture),
            None => write_contact_fields(w, &Contact::default(), shape, item.has_picture),
        },
        ItemKind::Task => match &item.task {
            Some(t) => write_task_fields(w, t, shape),
            None => write_task_fields(w, &Task::default(), shape),
        },
        ItemKind::DistributionList => {
            // the members with AllProperties, as GetItem answers, or when asked for by name
            let members = shape.base_shape == BaseShape::AllProperties
                || shape
                    .additional
                    .iter()
                    .any(|p| p.field_uri() == Some("distributionlist:Members"));
            let own = shape.base_shape != BaseShape::IdOnly
                || shape.additional.iter().any(crate::dlist::is_list_path);
            if own || members {
                let empty = crate::dlist::DistributionList::default();
                let l = item.distribution_list.as_deref().unwrap_or(&empty);
                crate::dlist::write(w, l, members);
            }
        }
        ItemKind::Message | ItemKind::Item => {}
    }
    w.end(&name);
}

/// `t:MessageType`'s own fields, in schema order.
fn write_message_fields(w: &mut XmlOut, item: &ItemView, p: &ItemProps) {
    if p.sender
        && let Some(m) = &item.sender
    {
        w.start("t:Sender", &[]);
        write_mailbox(w, m);
        w.end("t:Sender");
    }
    for (wanted, list, el) in [
        (p.to, &item.to, "t:ToRecipients"),
        (p.cc, &item.cc, "t:CcRecipients"),
        (p.bcc, &item.bcc, "t:BccRecipients"),
    ] {
        if wanted && !list.is_empty() {
            w.start(el, &[]);
            for m in list {
                write_mailbox(w, m);
            }
            w.end(el);
        }
    }
    if p.conversation_index
        && let Some(v) = &item.conversation_index
    {
        w.leaf("t:ConversationIndex", v);
    }
    if p.conversation_topic
        && let Some(v) = &item.conversation_topic
    {
        w.leaf("t:ConversationTopic", v);
    }
    if p.from
        && let Some(m) = &item.from
    {
        w.start("t:From", &[]);
        write_mailbox(w, m);
        w.end("t:From");
    }
    if p.message_id
        && let Some(v) = &item.internet_message_id
    {
        w.leaf("t:InternetMessageId", v);
    }
    if p.is_read
        && let Some(v) = item.is_read
    {
        w.leaf("t:IsRead", bool_str(v));
    }
    if p.references
        && let Some(v) = &item.references
    {
        w.leaf("t:References", v);
    }
    if p.received_representing
        && let Some(m) = &item.received_representing
    {
        w.start("t:ReceivedRepresenting", &[]);
        write_mailbox(w, m);
        w.end("t:ReceivedRepresenting");
    }
}

/// `t:MeetingMessageType`'s own fields, in schema order (after the message's).
fn write_meeting_message_fields(w: &mut XmlOut, item: &ItemView, p: &ItemProps) {
    if p.associated_calendar_item
        && let Some(id) = &item.associated_calendar_item_id
    {
        write_id(
            w,
            "t:AssociatedCalendarItemId",
            &id.id,
            id.change_key.as_deref(),
        );
    }
    if p.has_been_processed
        && let Some(v) = item.has_been_processed
    {
        w.leaf("t:HasBeenProcessed", bool_str(v));
    }
    if p.response_type
        && let Some(v) = item.response_type
    {
        w.leaf("t:ResponseType", v.as_str());
    }
    if p.uid
        && let Some(v) = &item.uid
    {
        w.leaf("t:UID", v);
    }
}

/// The calendar fields of `t:CalendarItemType` from `t:Start` on (and of a meeting request,
/// which repeats them), in schema order; `meeting` false writes only Start, End and Location
/// (a meeting response or cancellation).
fn write_calendar_fields(w: &mut XmlOut, item: &ItemView, p: &ItemProps, meeting: bool) {
    if p.start
        && let Some(v) = item.start
    {
        w.leaf("t:Start", &dt(v));
    }
    if p.end
        && let Some(v) = item.end
    {
        w.leaf("t:End", &dt(v));
    }
    if meeting
        && p.original_start
        && let Some(v) = item.original_start
    {
        w.leaf("t:OriginalStart", &dt(v));
    }
    if meeting
        && p.all_day
        && let Some(v) = item.is_all_day_event
    {
        w.leaf("t:IsAllDayEvent", bool_str(v));
    }
    if meeting
        && p.free_busy
        && let Some(v) = item.legacy_free_busy_status
    {
        w.leaf("t:LegacyFreeBusyStatus", v.as_str());
    }
    if p.location
        && let Some(v) = &item.location
    {
        w.leaf("t:Location", v);
    }
    if !meeting {
        return;
    }
    for (wanted, value, el) in [
        (p.is_meeting, item.is_meeting, "t:IsMeeting"),
        (p.is_cancelled, item.is_cancelled, "t:IsCancelled"),
        (p.is_recurring, item.is_recurring, "t:IsRecurring"),
        (
            p.request_was_sent,
            item.meeting_request_was_sent,
            "t:MeetingRequestWasSent",
        ),
    ] {
        if wanted && let Some(v) = value {
            w.leaf(el, bool_str(v));
        }
    }
    if p.calendar_item_type
        && let Some(v) = item.calendar_item_type
    {
        w.leaf("t:CalendarItemType", v);
    }
    if p.my_response
        && let Some(v) = item.my_response_type
    {
        w.leaf("t:MyResponseType", v.as_str());
    }
    if p.organizer
        && let Some(m) = &item.organizer
    {
        w.start("t:Organizer", &[]);
        write_mailbox(w, m);
        w.end("t:Organizer");
    }
    for (wanted, list, el) in [
        (p.required, &item.required_attendees, "t:RequiredAttendees"),
        (p.optional, &item.optional_attendees, "t:OptionalAttendees"),
        (p.resources, &item.resources, "t:Resources"),
    ] {
        // t:NonEmptyArrayOfAttendeesType: absent rather than empty
        if wanted && !list.is_empty() {
            w.start(el, &[]);
            for a in list {
                write_attendee(w, a);
            }
            w.end(el);
        }
    }
    write_series_fields(w, item, p);
}

/// A series' fields, after the attendees: `t:Recurrence`, `t:FirstOccurrence`,
/// `t:LastOccurrence`, `t:DeletedOccurrences`, then the time zones.
fn write_occurrence_info(w: &mut XmlOut, el: &str, o: &OccurrenceInfo) {
    w.start(el, &[]);
    write_id(
        w,
        "t:ItemId",
        &o.item_id.id,
        o.item_id.change_key.as_deref(),
    );
    w.leaf("t:Start", &dt(o.start));
    w.leaf("t:End", &dt(o.end));
    w.leaf("t:OriginalStart", &dt(o.original_start));
    w.end(el);
}

fn write_series_fields(w: &mut XmlOut, item: &ItemView, p: &ItemProps) {
    if p.recurrence
        && let Some(r) = &item.recurrence
    {
        crate::recurrence::write_recurrence(w, r);
    }
    for (wanted, info, el) in [
        (
            p.first_occurrence,
            &item.first_occurrence,
            "t:FirstOccurrence",
        ),
        (p.last_occurrence, &item.last_occurrence, "t:LastOccurrence"),
    ] {
        if wanted && let Some(o) = info {
            write_occurrence_info(w, el, o);
        }
    }
    // t:NonEmptyArrayOfOccurrenceInfoType: absent rather than empty
    if p.modified_occurrences && !item.modified_occurrences.is_empty() {
        w.start("t:ModifiedOccurrences", &[]);
        for o in &item.modified_occurrences {
            write_occurrence_info(w, "t:Occurrence", o);
        }
        w.end("t:ModifiedOccurrences");
    }
    // t:NonEmptyArrayOfDeletedOccurrencesType: absent rather than empty
    if p.deleted_occurrences && !item.deleted_occurrences.is_empty() {
        w.start("t:DeletedOccurrences", &[]);
        for start in &item.deleted_occurrences {
            w.start("t:DeletedOccurrence", &[]);
            w.leaf("t:Start", &dt(*start));
            w.end("t:DeletedOccurrence");
        }
        w.end("t:DeletedOccurrences");
    }
    if let Some((id, name)) = &item.time_zone {
        for (wanted, el) in [
            (p.start_time_zone, "t:StartTimeZone"),
            (p.end_time_zone, "t:EndTimeZone"),
        ] {
            if wanted {
                w.empty(el, &[("Id", id), ("Name", name)]);
            }
        }
    }
}

fn write_attendee(w: &mut XmlOut, a: &Attendee) {
    w.start("t:Attendee", &[]);
    write_mailbox(w, &a.mailbox);
    if let Some(r) = a.response_type {
        w.leaf("t:ResponseType", r.as_str());
    }
    if let Some(t) = a.last_response_time {
        w.leaf("t:LastResponseTime", &dt(t));
    }
    w.end("t:Attendee");
}

/// `GetItemResponse`: one message per requested item id, in order.
pub fn get_item_response(
    shape: &ItemShape,
    results: &[Result<ItemView, ResponseError>],
) -> Vec<u8> {
    response_messages("GetItem", results, Some("m:Items"), |w, item| {
        w.start("m:Items", &[]);
        write_item(w, item, shape, true);
        w.end("m:Items");
    })
}

/// `FindItemResponse`: one message per parent folder. Bodies are never
/// returned by FindItem.
pub fn find_item_response(
    shape: &ItemShape,
    results: &[Result<Page<ItemView>, ResponseError>],
) -> Vec<u8> {
    response_messages("FindItem", results, None, |w, page| {
        write_root_folder_start(
            w,
            page.indexed_paging_offset,
            page.total_items_in_view,
            page.includes_last_item_in_range,
        );
        if page.items.is_empty() {
            w.empty("t:Items", &[]);
        } else {
            w.start("t:Items", &[]);
            for item in &page.items {
                write_item(w, item, shape, false);
            }
            w.end("t:Items");
        }
        w.end("m:RootFolder");
    })
}

/// The id of an item created by CreateItem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedItem {
    pub kind: ItemKind,
    pub item_id: ItemRef,
    /// The ids of the attachments created with it, in request order: CreateItem answers them
    /// in `t:Attachments` (exchangelib pairs them with the attachments it sent by position).
    /// Empty for MoveItem and CopyItem.
    pub attachment_ids: Vec<CreatedAttachmentId>,
}

/// The id of an attachment stored with a new item, and which element answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedAttachmentId {
    pub id: String,
    /// A `t:ItemAttachment` (else a `t:FileAttachment`).
    pub is_item: bool,
}

/// `CreateItemResponse`: one message per item. `Ok(None)` (items that were
/// only sent, not saved) writes an empty `m:Items`.
pub fn create_item_response(results: &[Result<Option<CreatedItem>, ResponseError>]) -> Vec<u8> {
    items_response("CreateItem", results)
}

/// `MoveItemResponse`: one message per item id, with the item's id in its
/// new folder; `Ok(None)` (the request said `ReturnNewItemIds="false"`)
/// writes an empty `m:Items`.
pub fn move_item_response(results: &[Result<Option<CreatedItem>, ResponseError>]) -> Vec<u8> {
    items_response("MoveItem", results)
}

/// `CopyItemResponse`: one message per item id, with the copy's id; `Ok(None)`
/// writes an empty `m:Items`.
pub fn copy_item_response(results: &[Result<Option<CreatedItem>, ResponseError>]) -> Vec<u8> {
    items_response("CopyItem", results)
}

/// An item UpdateItem saved, or saved and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdatedItem {
    pub kind: ItemKind,
    /// The same id, the new change key. `None` when the item was sent (`MessageDisposition`
    /// `SendOnly` or `SendAndSaveCopy`): EWS answers a sent item with an empty `m:Items`.
    pub item_id: Option<ItemRef>,
    /// `m:ConflictResults/t:Count`: conflicts the ConflictResolution policy overrode.
    pub conflicts: u32,
}

fn write_conflict_results(w: &mut XmlOut, count: u32) {
    w.start("m:ConflictResults", &[]);
    w.leaf("t:Count", &count.to_string());
    w.end("m:ConflictResults");
}

/// `UpdateItemResponse`: one message per `t:ItemChange`, in order. A success
/// carries `m:Items` with the item's id and new change key (empty for an item that was
/// sent), then `m:ConflictResults`; an error carries an empty `m:Items`, and for
/// `ErrorIrresolvableConflict` also `m:ConflictResults` with a count of 1.
pub fn update_item_response(results: &[Result<UpdatedItem, ResponseError>]) -> Vec<u8> {
    response_messages_with(
        "UpdateItem",
        results,
        |w, u| {
            match &u.item_id {
                None => w.empty("m:Items", &[]),
                Some(id) => {
                    let name = format!("t:{}", u.kind.as_str());
                    w.start("m:Items", &[]);
                    w.start(&name, &[]);
                    write_id(w, "t:ItemId", &id.id, id.change_key.as_deref());
                    w.end(&name);
                    w.end("m:Items");
                }
            }
            write_conflict_results(w, u.conflicts);
        },
        |w, e| {
            w.empty("m:Items", &[]);
            if e.code == "ErrorIrresolvableConflict" {
                write_conflict_results(w, 1);
            }
        },
    )
}

fn items_response(op: &str, results: &[Result<Option<CreatedItem>, ResponseError>]) -> Vec<u8> {
    response_messages(op, results, Some("m:Items"), |w, created| match created {
        None => w.empty("m:Items", &[]),
        Some(c) => {
            let name = format!("t:{}", c.kind.as_str());
            w.start("m:Items", &[]);
            w.start(&name, &[]);
            write_id(
                w,
                "t:ItemId",
                &c.item_id.id,
                c.item_id.change_key.as_deref(),
            );
            if !c.attachment_ids.is_empty() {
                w.start("t:Attachments", &[]);
                for a in &c.attachment_ids {
                    let element = if a.is_item {
                        "t:ItemAttachment"
                    } else {
                        "t:FileAttachment"
                    };
                    w.start(element, &[]);
                    w.empty("t:AttachmentId", &[("Id", a.id.as_str())]);
                    w.end(element);
                }
                w.end("t:Attachments");
            }
            w.end(&name);
            w.end("m:Items");
        }
    })
}

/// `DeleteItemResponse`: one message per item id.
pub fn delete_item_response(results: &[Result<(), ResponseError>]) -> Vec<u8> {
    response_messages("DeleteItem", results, None, |_, ()| {})
}

/// `SendItemResponse`: one message per item id, in order, with nothing but its response code
/// (a sent item has no id to answer: it is deleted, or saved as a new item).
pub fn send_item_response(results: &[Result<(), ResponseError>]) -> Vec<u8> {
    response_messages("SendItem", results, None, |_, ()| {})
}

/// `DeleteFolderResponse`: one message per folder id, in order.
pub fn delete_folder_response(results: &[Result<(), ResponseError>]) -> Vec<u8> {
    response_messages("DeleteFolder", results, None, |_, ()| {})
}

/// `MarkAsJunkResponse`: one message per item id, in order, with the item's `m:MovedItemId`
/// when it was moved.
pub fn mark_as_junk_response(results: &[Result<Option<ItemRef>, ResponseError>]) -> Vec<u8> {
    response_messages("MarkAsJunk", results, None, |w, moved| {
        if let Some(r) = moved {
            let mut attrs = vec![("Id", r.id.as_str())];
            if let Some(ck) = &r.change_key {
                attrs.push(("ChangeKey", ck.as_str()));
            }
            w.empty("m:MovedItemId", &attrs);
        }
    })
}

/// `MarkAllItemsAsReadResponse`: one message per folder id, in order.
pub fn mark_all_items_as_read_response(results: &[Result<(), ResponseError>]) -> Vec<u8> {
    response_messages("MarkAllItemsAsRead", results, None, |_, ()| {})
}

/// `EmptyFolderResponse`: one message per folder id, in order.
pub fn empty_folder_response(results: &[Result<(), ResponseError>]) -> Vec<u8> {
    response_messages("EmptyFolder", results, None, |_, ()| {})
}

// ======================================================================
// Attachments (MS-OXWSATT)
// ======================================================================

/// A file or item attachment: listed with its item (`t:Attachments` of GetItem, no content) or
/// answered by GetAttachment (a file's content, an item attachment's item).
#[derive(Clone, PartialEq, Eq)]
pub struct AttachmentView {
    /// A `t:ItemAttachment` (else a `t:FileAttachment`).
    pub is_item: bool,
    /// The attached item of an item attachment (GetAttachment), written in the shape the
    /// request asked for. Its `id` is empty: an attached item has no id of its own.
    pub item: Option<Box<ItemView>>,
    /// `t:AttachmentId/@Id`.
    pub id: String,
    pub name: Option<String>,
    pub content_type: Option<String>,
    pub content_id: Option<String>,
    /// Bytes of content.
    pub size: Option<u64>,
    pub last_modified_time: Option<OffsetDateTime>,
    pub is_inline: bool,
    pub is_contact_photo: bool,
    /// `t:Content`, written base64-encoded (GetAttachment).
    pub content: Option<Vec<u8>>,
}

impl AttachmentView {
    /// An attachment with only its id set.
    pub fn new(id: &str) -> Self {
        Self {
            is_item: false,
            item: None,
            id: id.to_owned(),
            name: None,
            content_type: None,
            content_id: None,
            size: None,
            last_modified_time: None,
            is_inline: false,
            is_contact_photo: false,
            content: None,
        }
    }
}

/// Names the content's length, never the content.
impl std::fmt::Debug for AttachmentView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentView")
            .field("is_item", &self.is_item)
            .field("item", &self.item.as_ref().map(|i| i.kind))
            .field("id", &self.id)
            .field("name", &self.name)
            .field("content_type", &self.content_type)
            .field("content_id", &self.content_id)
            .field("size", &self.size)
            .field("last_modified_time", &self.last_modified_time)
            .field("is_inline", &self.is_inline)
            .field("is_contact_photo", &self.is_contact_photo)
            .field("content_len", &self.content.as_ref().map(Vec::len))
            .finish()
    }
}

/// Bytes of content base64-encoded per text event: a multiple of 3, so the pieces concatenate
/// to the encoding of the whole, which is never held as one more copy of the content.
const BASE64_CHUNK: usize = 3 * 16 * 1024;

/// `<name>` with `data` base64-encoded, a chunk at a time.
pub(crate) fn write_base64_element(w: &mut XmlOut, name: &str, data: &[u8]) {
    w.start(name, &[]);
    let mut buf = String::with_capacity(BASE64_CHUNK / 3 * 4);
    for chunk in data.chunks(BASE64_CHUNK) {
        buf.clear();
        base64::engine::general_purpose::STANDARD.encode_string(chunk, &mut buf);
        w.text(&buf);
    }
    w.end(name);
}

/// `t:FileAttachment` or `t:ItemAttachment` in XSD order (`t:AttachmentType`, then
/// `t:FileAttachmentType`'s flag and content, or `t:ItemAttachmentType`'s item in `shape`). An
/// attachment without an id (one inside an attached item) is written without `t:AttachmentId`.
fn write_attachment(w: &mut XmlOut, a: &AttachmentView, shape: &ItemShape) {
    let element = if a.is_item {
        "t:ItemAttachment"
    } else {
        "t:FileAttachment"
    };
    w.start(element, &[]);
    if !a.id.is_empty() {
        w.empty("t:AttachmentId", &[("Id", a.id.as_str())]);
    }
    if let Some(v) = &a.name {
        w.leaf("t:Name", v);
    }
    if let Some(v) = &a.content_type {
        w.leaf("t:ContentType", v);
    }
    if let Some(v) = &a.content_id {
        w.leaf("t:ContentId", v);
    }
    if let Some(v) = a.size {
        w.leaf("t:Size", &v.to_string());
    }
    if let Some(v) = a.last_modified_time {
        w.leaf("t:LastModifiedTime", &dt(v));
    }
    w.leaf("t:IsInline", bool_str(a.is_inline));
    if a.is_item {
        if let Some(item) = &a.item {
            write_item(w, item, shape, true);
        }
    } else {
        w.leaf("t:IsContactPhoto", bool_str(a.is_contact_photo));
        if let Some(c) = &a.content {
            write_base64_element(w, "t:Content", c);
        }
    }
    w.end(element);
}

/// An attachment CreateAttachment stored: its id, and its item's id with the change key the
/// item has now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedAttachment {
    /// A `t:ItemAttachment` (else a `t:FileAttachment`).
    pub is_item: bool,
    pub attachment_id: String,
    pub root_item: ItemRef,
}

/// `CreateAttachmentResponse`: one message per attachment, in order, each with
/// `m:Attachments/t:FileAttachment/t:AttachmentId` carrying `RootItemId` and
/// `RootItemChangeKey` (exchangelib takes the item's new change key from there).
pub fn create_attachment_response(results: &[Result<CreatedAttachment, ResponseError>]) -> Vec<u8> {
    response_messages(
        "CreateAttachment",
        results,
        Some("m:Attachments"),
        |w, c| {
            let mut attrs = vec![
                ("Id", c.attachment_id.as_str()),
                ("RootItemId", c.root_item.id.as_str()),
            ];
            if let Some(ck) = &c.root_item.change_key {
                attrs.push(("RootItemChangeKey", ck.as_str()));
            }
            let element = if c.is_item {
                "t:ItemAttachment"
            } else {
                "t:FileAttachment"
            };
            w.start("m:Attachments", &[]);
            w.start(element, &[]);
            w.empty("t:AttachmentId", &attrs);
            w.end(element);
            w.end("m:Attachments");
        },
    )
}

/// `GetAttachmentResponse`: one message per attachment id, in order, each with
/// `m:Attachments/t:FileAttachment` (id, name, content type and id, size, last modified time,
/// inline and contact-photo flags, content) or `m:Attachments/t:ItemAttachment` (the same
/// properties, then the attached item in `shape`). The content is encoded straight into the
/// response.
pub fn get_attachment_response(
    shape: &ItemShape,
    results: &[Result<AttachmentView, ResponseError>],
) -> Vec<u8> {
    response_messages("GetAttachment", results, Some("m:Attachments"), |w, a| {
        w.start("m:Attachments", &[]);
        write_attachment(w, a, shape);
        w.end("m:Attachments");
    })
}

/// `DeleteAttachmentResponse`: one message per attachment id, in order; a success carries
/// `m:RootItemId` with the item's id and new change key as the `RootItemId` and
/// `RootItemChangeKey` attributes.
pub fn delete_attachment_response(results: &[Result<ItemRef, ResponseError>]) -> Vec<u8> {
    response_messages("DeleteAttachment", results, None, |w, root| {
        let mut attrs = vec![("RootItemId", root.id.as_str())];
        if let Some(ck) = &root.change_key {
            attrs.push(("RootItemChangeKey", ck.as_str()));
        }
        w.empty("m:RootItemId", &attrs);
    })
}

// ======================================================================
// Synchronization (MS-OXWSSYNC)
// ======================================================================

/// One `t:Changes` entry of a SyncFolderItems response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemSyncChange {
    /// `t:Create`: the item, in the requested shape.
    Create(ItemView),
    /// `t:Update`: the item, in the requested shape.
    Update(ItemView),
    /// `t:Delete`: the id of an item no longer in the folder.
    Delete(ItemRef),
    /// `t:ReadFlagChange`: only the read flag of the item changed.
    ReadFlagChange { item_id: ItemRef, is_read: bool },
}

/// One `t:Changes` entry of a SyncFolderHierarchy response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderSyncChange {
    /// `t:Create`: the folder, in the requested shape.
    Create(FolderView),
    /// `t:Update`: the folder, in the requested shape.
    Update(FolderView),
    /// `t:Delete`: the id of a deleted folder.
    Delete { folder_id: String },
}

/// A successful SyncFolderItems/SyncFolderHierarchy answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult<C> {
    /// `m:SyncState` for the next call.
    pub sync_state: String,
    /// `m:IncludesLastItemInRange` / `m:IncludesLastFolderInRange`.
    pub includes_last_in_range: bool,
    /// In change order.
    pub changes: Vec<C>,
}

/// What a sync response message carries after `m:ResponseCode`: the state, the
/// last-in-range flag and `m:Changes`; an error carries an empty state and `true`, as Exchange
/// writes it (exchangelib reads both before it looks at the response code).
fn write_sync_message<C>(
    op: &'static str,
    result: &Result<SyncResult<C>, ResponseError>,
    mut change: impl FnMut(&mut XmlOut, &C),
) -> Vec<u8> {
    let last_name = sync_last_in_range(op).unwrap_or("m:IncludesLastItemInRange");
    response_messages_with(
        op,
        std::slice::from_ref(result),
        |w, r| {
            w.leaf("m:SyncState", &r.sync_state);
            w.leaf(last_name, bool_str(r.includes_last_in_range));
            if r.changes.is_empty() {
                w.empty("m:Changes", &[]);
            } else {
                w.start("m:Changes", &[]);
                for c in &r.changes {
                    change(w, c);
                }
                w.end("m:Changes");
            }
        },
        |w, _| write_sync_error_tail(w, last_name),
    )
}

fn write_sync_error_tail(w: &mut XmlOut, last_name: &str) {
    w.empty("m:SyncState", &[]);
    w.leaf(last_name, "true");
}

/// The last-in-range element of a sync operation's response message, if `op` is one.
fn sync_last_in_range(op: &str) -> Option<&'static str> {
    match op {
        "SyncFolderItems" => Some("m:IncludesLastItemInRange"),
        "SyncFolderHierarchy" => Some("m:IncludesLastFolderInRange"),
        _ => None,
    }
}

/// `SyncFolderItemsResponse`: one message with `m:SyncState`, `m:IncludesLastItemInRange` and
/// `m:Changes` (`t:Create`/`t:Update` with the item in `shape`, as FindItem writes it: no
/// bodies; `t:Delete`/`t:ReadFlagChange` with the item id).
pub fn sync_folder_items_response(
    shape: &ItemShape,
    result: &Result<SyncResult<ItemSyncChange>, ResponseError>,
) -> Vec<u8> {
    write_sync_message("SyncFolderItems", result, |w, c| match c {
        ItemSyncChange::Create(item) | ItemSyncChange::Update(item) => {
            let el = if matches!(c, ItemSyncChange::Create(_)) {
                "t:Create"
            } else {
                "t:Update"
            };
            w.start(el, &[]);
            write_item(w, item, shape, false);
            w.end(el);
        }
        ItemSyncChange::Delete(id) => {
            w.start("t:Delete", &[]);
            write_id(w, "t:ItemId", &id.id, id.change_key.as_deref());
            w.end("t:Delete");
        }
        ItemSyncChange::ReadFlagChange { item_id, is_read } => {
            w.start("t:ReadFlagChange", &[]);
            write_id(w, "t:ItemId", &item_id.id, item_id.change_key.as_deref());
            w.leaf("t:IsRead", bool_str(*is_read));
            w.end("t:ReadFlagChange");
        }
    })
}

/// `SyncFolderHierarchyResponse`: one message with `m:SyncState`,
/// `m:IncludesLastFolderInRange` and `m:Changes` (`t:Create`/`t:Update` with the folder in
/// `shape`, `t:Delete` with the folder id).
pub fn sync_folder_hierarchy_response(
    shape: &FolderShape,
    result: &Result<SyncResult<FolderSyncChange>, ResponseError>,
) -> Vec<u8> {
    write_sync_message("SyncFolderHierarchy", result, |w, c| match c {
        FolderSyncChange::Create(f) | FolderSyncChange::Update(f) => {
            let el = if matches!(c, FolderSyncChange::Create(_)) {
                "t:Create"
            } else {
                "t:Update"
            };
            w.start(el, &[]);
            write_folder(w, f, shape);
            w.end(el);
        }
        FolderSyncChange::Delete { folder_id } => {
            w.start("t:Delete", &[]);
            write_id(w, "t:FolderId", folder_id, None);
            w.end("t:Delete");
        }
    })
}

// ======================================================================
// User configuration
// ======================================================================

/// What the server knows about a user configuration object (same shape
/// as the request's `UserConfiguration`).
pub type UserConfigurationView = UserConfiguration;

fn write_typed_value(w: &mut XmlOut, name: &str, v: &TypedValue) {
    w.start(name, &[]);
    w.leaf("t:Type", v.value_type.as_str());
    for value in &v.values {
        w.leaf("t:Value", value);
    }
    w.end(name);
}

fn write_dictionary(w: &mut XmlOut, entries: &[DictionaryEntry]) {
    if entries.is_empty() {
        w.empty("t:Dictionary", &[]);
        return;
    }
    w.start("t:Dictionary", &[]);
    for e in entries {
        w.start("t:DictionaryEntry", &[]);
        write_typed_value(w, "t:DictionaryKey", &e.key);
        if let Some(v) = &e.value {
            write_typed_value(w, "t:DictionaryValue", v);
        }
        w.end("t:DictionaryEntry");
    }
    w.end("t:Dictionary");
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `GetUserConfigurationResponse`, emitting only the requested properties.
pub fn get_user_configuration_response(
    properties: &[UserConfigurationProperty],
    result: &Result<UserConfigurationView, ResponseError>,
) -> Vec<u8> {
    let wants = |p: UserConfigurationProperty| {
        properties
            .iter()
            .any(|q| *q == p || *q == UserConfigurationProperty::All)
    };
    response_messages(
        "GetUserConfiguration",
        std::slice::from_ref(result),
        None,
        |w, c| {
            w.start("m:UserConfiguration", &[]);
            w.start("t:UserConfigurationName", &[("Name", &c.name.name)]);
            write_folder_ref(w, &c.name.folder);
            w.end("t:UserConfigurationName");
            if wants(UserConfigurationProperty::Id)
                && let Some(id) = &c.item_id
            {
                write_id(w, "t:ItemId", &id.id, id.change_key.as_deref());
            }
            if wants(UserConfigurationProperty::Dictionary)
                && let Some(d) = &c.dictionary
            {
                write_dictionary(w, d);
            }
            if wants(UserConfigurationProperty::XmlData)
                && let Some(x) = &c.xml_data
            {
                w.leaf("t:XmlData", &b64(x));
            }
            if wants(UserConfigurationProperty::BinaryData)
                && let Some(b) = &c.binary_data
            {
                w.leaf("t:BinaryData", &b64(b));
            }
            w.end("m:UserConfiguration");
        },
    )
}

/// `CreateUserConfigurationResponse`.
pub fn create_user_configuration_response(result: &Result<(), ResponseError>) -> Vec<u8> {
    response_messages(
        "CreateUserConfiguration",
        std::slice::from_ref(result),
        None,
        |_, ()| {},
    )
}

/// `UpdateUserConfigurationResponse`.
pub fn update_user_configuration_response(result: &Result<(), ResponseError>) -> Vec<u8> {
    response_messages(
        "UpdateUserConfiguration",
        std::slice::from_ref(result),
        None,
        |_, ()| {},
    )
}

/// `DeleteUserConfigurationResponse`.
pub fn delete_user_configuration_response(result: &Result<(), ResponseError>) -> Vec<u8> {
    response_messages(
        "DeleteUserConfiguration",
        std::slice::from_ref(result),
        None,
        |_, ()| {},
    )
}

// ======================================================================
// ConvertId, GetUserPhoto, subscriptions
// ======================================================================

/// `ConvertIdResponse`: one message per source id; the payload is an
/// `m:AlternateId xsi:type="t:AlternateIdType"`.
pub fn convert_id_response(results: &[Result<AlternateId, ResponseError>]) -> Vec<u8> {
    response_envelope(|w| {
        w.start(
            "m:ConvertIdResponse",
            &[
                ("xmlns:m", ns::MESSAGES),
                ("xmlns:t", ns::TYPES),
                ("xmlns:xsi", ns::XSI),
            ],
        );
        w.start("m:ResponseMessages", &[]);
        for r in results {
            match r {
                Ok(a) => {
                    w.start(
                        "m:ConvertIdResponseMessage",
                        &[("ResponseClass", "Success")],
                    );
                    w.leaf("m:ResponseCode", "NoError");
                    let mut attrs = vec![
                        ("xsi:type", "t:AlternateIdType"),
                        ("Format", a.format.as_str()),
                        ("Id", a.id.as_str()),
                        ("Mailbox", a.mailbox.as_str()),
                    ];
                    if let Some(arch) = a.is_archive {
                        attrs.push(("IsArchive", bool_str(arch)));
                    }
                    w.empty("m:AlternateId", &attrs);
                }
                Err(e) => {
                    w.start(
                        "m:ConvertIdResponseMessage",
                        &[("ResponseClass", e.class.as_str())],
                    );
                    write_error_body(w, e);
                }
            }
            w.end("m:ConvertIdResponseMessage");
        }
        w.end("m:ResponseMessages");
        w.end("m:ConvertIdResponse");
    })
}

/// A photo for GetUserPhoto.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPhoto {
    pub has_changed: bool,
    /// The image bytes (usually JPEG), base64-encoded on the wire.
    pub picture_data: Vec<u8>,
}

/// `GetUserPhotoResponse` (itself the response message, no ResponseMessages).
pub fn get_user_photo_response(result: &Result<UserPhoto, ResponseError>) -> Vec<u8> {
    response_envelope(|w| {
        let class = match result {
            Ok(_) => "Success",
            Err(e) => e.class.as_str(),
        };
        w.start(
            "m:GetUserPhotoResponse",
            &[
                ("ResponseClass", class),
                ("xmlns:m", ns::MESSAGES),
                ("xmlns:t", ns::TYPES),
            ],
        );
        match result {
            Ok(photo) => {
                w.leaf("m:ResponseCode", "NoError");
                w.leaf("m:HasChanged", bool_str(photo.has_changed));
                w.leaf("m:PictureData", &b64(&photo.picture_data));
            }
            Err(e) => write_error_body(w, e),
        }
        w.end("m:GetUserPhotoResponse");
    })
}

/// A created subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionCreated {
    pub subscription_id: String,
    /// Absent for streaming subscriptions.
    pub watermark: Option<String>,
}

/// `SubscribeResponse`.
pub fn subscribe_response(result: &Result<SubscriptionCreated, ResponseError>) -> Vec<u8> {
    response_messages("Subscribe", std::slice::from_ref(result), None, |w, s| {
        w.leaf("m:SubscriptionId", &s.subscription_id);
        if let Some(wm) = &s.watermark {
            w.leaf("m:Watermark", wm);
        }
    })
}

/// `UnsubscribeResponse`.
pub fn unsubscribe_response(result: &Result<(), ResponseError>) -> Vec<u8> {
    response_messages(
        "Unsubscribe",
        std::slice::from_ref(result),
        None,
        |_, ()| {},
    )
}

/// `GetEventsResponse` with one `m:Notification`.
pub fn get_events_response(result: &Result<Notification, ResponseError>) -> Vec<u8> {
    response_messages(
        "GetEvents",
        std::slice::from_ref(result),
        None,
        write_notification,
    )
}

/// A one-message error response for any operation, e.g.
/// `ErrorInvalidRequest` for [`crate::request::Operation::Unknown`]:
/// `m:{operation}Response/m:ResponseMessages/m:{operation}ResponseMessage`.
/// If `operation` is not a valid XML name a SOAP fault is written instead.
pub fn error_response(operation: &str, error: &ResponseError) -> Vec<u8> {
    // GetUserAvailabilityResponse holds per-mailbox messages only (m:FreeBusyResponseArray): a
    // refusal of the whole request is a fault, as Exchange sends it
    if !is_ncname(operation) || operation.len() > 200 || operation == "GetUserAvailabilityRequest" {
        return write_fault(&error.code, &error.message);
    }
    // these responses are themselves a response message: a refusal is the response alone
    if SELF_MESSAGE_OPERATIONS.contains(&operation) {
        return self_message_response(operation, error.class.as_str(), |w| {
            write_error_body(w, error)
        });
    }
    // The availability-style operations (`GetUserOofSettingsRequest`, …) answer
    // `GetUserOofSettingsResponse` holding one `ResponseMessage`, not `ResponseMessages`.
    if let Some(base) = operation.strip_suffix("Request").filter(|b| !b.is_empty()) {
        return response_envelope(|w| {
            let response = format!("m:{base}Response");
            w.start(
                &response,
                &[("xmlns:m", ns::MESSAGES), ("xmlns:t", ns::TYPES)],
            );
            w.start(
                "m:ResponseMessage",
                &[("ResponseClass", error.class.as_str())],
            );
            write_error_body(w, error);
            w.end("m:ResponseMessage");
            w.end(&response);
        });
    }
    let results: [Result<(), ResponseError>; 1] = [Err(error.clone())];
    match sync_last_in_range(operation) {
        Some(last) => response_messages_with(
            operation,
            &results,
            |_, ()| {},
            |w, _| write_sync_error_tail(w, last),
        ),
        None => response_messages(operation, &results, None, |_, ()| {}),
    }
}

// ======================================================================
// Faults
// ======================================================================

/// Where a request failed schema validation (`t:MessageXml` of an
/// `ErrorSchemaValidation` fault, read by exchangelib).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    pub line: usize,
    pub position: usize,
    pub violation: String,
}

fn write_fault_inner(
    code: &str,
    message: &str,
    violation: Option<&SchemaViolation>,
    must_understand: bool,
) -> Vec<u8> {
    let code = safe_code(code);
    let mut w = XmlOut::new();
    w.declaration();
    w.start("s:Envelope", &[("xmlns:s", ns::SOAP)]);
    w.start("s:Body", &[]);
    w.start("s:Fault", &[]);
    if must_understand {
        w.leaf("faultcode", "s:MustUnderstand");
        w.text_element("faultstring", &[("xml:lang", "en-US")], message);
    } else {
        w.text_element("faultcode", &[("xmlns:a", ns::TYPES)], &format!("a:{code}"));
        w.text_element("faultstring", &[("xml:lang", "en-US")], message);
        w.start("detail", &[]);
        w.text_element("e:ResponseCode", &[("xmlns:e", ns::ERRORS)], code);
        w.text_element("e:Message", &[("xmlns:e", ns::ERRORS)], message);
        if let Some(v) = violation {
            w.start("t:MessageXml", &[("xmlns:t", ns::TYPES)]);
            w.leaf("t:LineNumber", &v.line.to_string());
            w.leaf("t:LinePosition", &v.position.to_string());
            w.leaf("t:Violation", &v.violation);
            w.end("t:MessageXml");
        }
        w.end("detail");
    }
    w.end("s:Fault");
    w.end("s:Body");
    w.end("s:Envelope");
    w.finish()
}

/// A request-level SOAP fault (send with HTTP 500), shaped like Exchange's:
/// `faultcode` `a:{code}`, `faultstring`, `detail/e:ResponseCode`, `detail/e:Message`.
pub fn write_fault(code: &str, message: &str) -> Vec<u8> {
    write_fault_inner(code, message, None, false)
}

/// Like [`write_fault`], adding `detail/t:MessageXml` with
/// `t:LineNumber`, `t:LinePosition` and `t:Violation`.
pub fn write_fault_with_violation(
    code: &str,
    message: &str,
    violation: &SchemaViolation,
) -> Vec<u8> {
    write_fault_inner(code, message, Some(violation), false)
}

/// The fault for a request that [`crate::request::parse_request`] rejected:
/// `soap:MustUnderstand` for an unknown mandatory header, otherwise the
/// EWS code of [`EwsProtoError::response_code`]; schema errors carry the
/// line and column computed from `input`.
pub fn write_fault_for_error(err: &EwsProtoError, input: &[u8]) -> Vec<u8> {
    if err.is_must_understand() {
        return write_fault_inner("ErrorInvalidRequest", &err.to_string(), None, true);
    }
    let code = err.response_code();
    if code == "ErrorSchemaValidation" {
        let message = format!("The request failed schema validation: {err}");
        if let Some(pos) = err.position() {
            let (line, col) = xml::line_col(input, pos);
            let v = SchemaViolation {
                line,
                position: col,
                violation: err.to_string(),
            };
            return write_fault_inner(code, &message, Some(&v), false);
        }
        return write_fault_inner(code, &message, None, false);
    }
    write_fault_inner(code, &err.to_string(), None, false)
}

// ======================================================================
// Reading responses (client side, tests)
// ======================================================================

/// One `m:*ResponseMessage` (or a response that is its own message, like
/// `m:GetUserPhotoResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseMessage {
    pub class: ResponseClass,
    /// `m:ResponseCode` (`NoError` on success).
    pub code: String,
    /// `m:MessageText`, if any.
    pub text: Option<String>,
    /// The whole response message element (for an availability-style answer, which has one
    /// `m:ResponseMessage` and its result beside it, the whole response element).
    pub element: Element,
}

/// A parsed response envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedResponse {
    pub server_version: Option<ServerVersionInfo>,
    /// Local name of the element in `soap:Body`, e.g. `GetFolderResponse`.
    pub response: String,
    pub messages: Vec<ResponseMessage>,
}

fn parse_server_version_info(header: &Element) -> Option<ServerVersionInfo> {
    let h = header.child(ns::TYPES, "ServerVersionInfo")?;
    let n = |name: &str| h.attr(name).and_then(|v| v.trim().parse().ok());
    Some(ServerVersionInfo {
        major_version: n("MajorVersion")?,
        minor_version: n("MinorVersion")?,
        major_build_number: n("MajorBuildNumber")?,
        minor_build_number: n("MinorBuildNumber")?,
        version: h.attr("Version").unwrap_or_default().to_owned(),
    })
}

pub(crate) fn fault_error(fault: &Element) -> EwsProtoError {
    let code = fault
        .child(ns::SOAP, "detail")
        .or_else(|| fault.child("", "detail"))
        .and_then(|d| d.child(ns::ERRORS, "ResponseCode"))
        .map(|c| c.text_trimmed().to_owned())
        .or_else(|| {
            fault
                .child("", "faultcode")
                .map(|c| c.text_trimmed().to_owned())
        })
        .unwrap_or_default();
    let message = fault
        .child("", "faultstring")
        .map(|c| c.text_trimmed().to_owned())
        .unwrap_or_default();
    EwsProtoError::SoapFault {
        code: echo(&code),
        message: echo(&message),
    }
}

pub(crate) fn parse_message(el: &Element) -> Result<ResponseMessage, EwsProtoError> {
    let raw_class = el
        .attr("ResponseClass")
        .ok_or_else(|| EwsProtoError::MissingAttribute {
            element: display_name(&el.ns, &el.local),
            name: "ResponseClass",
            position: el.position(),
        })?;
    let class: ResponseClass = raw_class.parse().map_err(|_| EwsProtoError::InvalidValue {
        context: format!("{}/@ResponseClass", display_name(&el.ns, &el.local)),
        value: echo(raw_class),
        expected: "one of: Success, Warning, Error".to_owned(),
        position: el.position(),
    })?;
    let code = el
        .child(ns::MESSAGES, "ResponseCode")
        .map(|c| c.text_trimmed().to_owned())
        .ok_or_else(|| EwsProtoError::MissingElement {
            parent: display_name(&el.ns, &el.local),
            name: "ResponseCode",
            position: el.position(),
        })?;
    Ok(ResponseMessage {
        class,
        code,
        text: el
            .child(ns::MESSAGES, "MessageText")
            .map(|c| c.text.clone()),
        element: el.clone(),
    })
}

/// Parses an EWS response envelope. A SOAP fault becomes
/// [`EwsProtoError::SoapFault`].
pub fn parse_response(input: &[u8], limits: &Limits) -> Result<ParsedResponse, EwsProtoError> {
    let root = xml::parse(input, limits)?;
    let (header, body) = split_envelope(&root)?;
    let response = body_child(body)?;
    if response.is(ns::SOAP, "Fault") {
        return Err(fault_error(response));
    }
    let server_version = header.and_then(parse_server_version_info);
    let messages = if response.attr("ResponseClass").is_some() {
        vec![parse_message(response)?]
    } else if let Some(single) = response.child(ns::MESSAGES, "ResponseMessage") {
        // availability-style (`GetUserOofSettingsResponse`, ...): one `m:ResponseMessage`, what
        // it answers beside it; the message's element is the whole response, so readers reach
        // both (`crate::oof::oof_settings_of`)
        let mut m = parse_message(single)?;
        m.element = response.clone();
        vec![m]
    } else {
        let container = response
            .child(ns::MESSAGES, "ResponseMessages")
            .ok_or_else(|| EwsProtoError::MissingElement {
                parent: display_name(&response.ns, &response.local),
                name: "ResponseMessages",
                position: response.position(),
            })?;
        container
            .children
            .iter()
            .map(parse_message)
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(ParsedResponse {
        server_version,
        response: response.local.clone(),
        messages,
    })
}

/// The response messages of an EWS response, in order.
pub fn parse_response_messages(
    input: &[u8],
    limits: &Limits,
) -> Result<Vec<ResponseMessage>, EwsProtoError> {
    parse_response(input, limits).map(|r| r.messages)
}

fn child_text(el: &Element, local: &str) -> Option<String> {
    el.child(ns::TYPES, local).map(|c| c.text.clone())
}

fn child_u32(el: &Element, local: &str) -> Result<Option<u32>, EwsProtoError> {
    el.child(ns::TYPES, local)
        .map(|c| {
            c.text_trimmed()
                .parse()
                .map_err(|_| EwsProtoError::InvalidValue {
                    context: display_name(&c.ns, &c.local),
                    value: echo(&c.text),
                    expected: "a non-negative integer".to_owned(),
                    position: c.position(),
                })
        })
        .transpose()
}

fn child_bool(el: &Element, local: &str) -> Result<Option<bool>, EwsProtoError> {
    el.child(ns::TYPES, local)
        .map(|c| {
            parse_xs_boolean(&c.text).ok_or_else(|| EwsProtoError::InvalidValue {
                context: display_name(&c.ns, &c.local),
                value: echo(&c.text),
                expected: "an xs:boolean".to_owned(),
                position: c.position(),
            })
        })
        .transpose()
}

fn child_datetime(el: &Element, local: &str) -> Result<Option<OffsetDateTime>, EwsProtoError> {
    el.child(ns::TYPES, local)
        .map(|c| {
            parse_xs_datetime(&c.text).ok_or_else(|| EwsProtoError::InvalidDateTime {
                context: display_name(&c.ns, &c.local),
                value: echo(&c.text),
                position: c.position(),
            })
        })
        .transpose()
}

fn child_enum<T: std::str::FromStr>(el: &Element, local: &str) -> Result<Option<T>, EwsProtoError> {
    el.child(ns::TYPES, local)
        .map(|c| {
            c.text_trimmed()
                .parse()
                .map_err(|_| EwsProtoError::InvalidValue {
                    context: display_name(&c.ns, &c.local),
                    value: echo(&c.text),
                    expected: "a valid enumeration value".to_owned(),
                    position: c.position(),
                })
        })
        .transpose()
}

fn id_pair(el: Option<&Element>) -> Result<(Option<String>, Option<String>), EwsProtoError> {
    match el {
        None => Ok((None, None)),
        Some(e) => {
            let r = parse_item_ref(e)?;
            Ok((Some(r.id), r.change_key))
        }
    }
}

/// Reads a folder element (`t:Folder`, `t:CalendarFolder`, ...) back into a
/// [`FolderView`]. Properties that are absent read as empty/zero.
pub fn folder_from_element(el: &Element) -> Result<FolderView, EwsProtoError> {
    let kind: FolderKind = el
        .local
        .parse()
        .map_err(|_| EwsProtoError::UnexpectedElement {
            parent: "m:Folders".to_owned(),
            found: display_name(&el.ns, &el.local),
            position: el.position(),
        })?;
    let id_el = el
        .child(ns::TYPES, "FolderId")
        .ok_or_else(|| EwsProtoError::MissingElement {
            parent: display_name(&el.ns, &el.local),
            name: "FolderId",
            position: el.position(),
        })?;
    let id = parse_item_ref(id_el)?;
    let (parent_id, parent_change_key) = id_pair(el.child(ns::TYPES, "ParentFolderId"))?;
    let distinguished = el
        .child(ns::TYPES, "DistinguishedFolderId")
        .map(|d| {
            d.text_trimmed()
                .parse::<DistinguishedFolderId>()
                .map_err(|_| EwsProtoError::UnknownDistinguishedFolderId {
                    id: echo(&d.text),
                    position: d.position(),
                })
        })
        .transpose()?;
    Ok(FolderView {
        kind,
        id: id.id,
        change_key: id.change_key,
        parent_id,
        parent_change_key,
        display_name: child_text(el, "DisplayName").unwrap_or_default(),
        folder_class: child_text(el, "FolderClass"),
        total_count: child_u32(el, "TotalCount")?.unwrap_or(0),
        child_folder_count: child_u32(el, "ChildFolderCount")?.unwrap_or(0),
        unread_count: child_u32(el, "UnreadCount")?.unwrap_or(0),
        distinguished,
        extended: el
            .children_named(ns::TYPES, "ExtendedProperty")
            .map(parse_extended_property)
            .collect::<Result<_, _>>()?,
        // not read back: this workspace's clients do not ask for it
        permissions: None,
    })
}

fn mailboxes(el: &Element, local: &str) -> Result<Vec<Mailbox>, EwsProtoError> {
    match el.child(ns::TYPES, local) {
        None => Ok(Vec::new()),
        Some(list) => list
            .children_named(ns::TYPES, "Mailbox")
            .map(parse_mailbox)
            .collect(),
    }
}

fn single_mailbox(el: &Element, local: &str) -> Result<Option<Mailbox>, EwsProtoError> {
    el.child(ns::TYPES, local)
        .and_then(|c| c.child(ns::TYPES, "Mailbox"))
        .map(parse_mailbox)
        .transpose()
}

/// Reads an item element (`t:Message`, `t:CalendarItem`, `t:Contact`, `t:Task`, `t:Item`) back
/// into an [`ItemView`]. Properties that are absent read as `None`/empty; a contact's read-only
/// properties (`t:CompleteName`, `t:ContactSource`, ...) are not kept but `t:HasPicture`, nor a
/// task's but its `t:CompleteDate`.
pub fn item_from_element(el: &Element) -> Result<ItemView, EwsProtoError> {
    item_from_element_in(el, false)
}

/// [`item_from_element`]; `attached`: the item of a `t:ItemAttachment`, which has no id.
fn item_from_element_in(el: &Element, attached: bool) -> Result<ItemView, EwsProtoError> {
    let kind: ItemKind = el
        .local
        .parse()
        .map_err(|_| EwsProtoError::UnexpectedElement {
            parent: "m:Items".to_owned(),
            found: display_name(&el.ns, &el.local),
            position: el.position(),
        })?;
    // an attached item (in a `t:ItemAttachment`) has no id: read with an empty one
    let id = match el.child(ns::TYPES, "ItemId") {
        Some(id_el) => parse_item_ref(id_el)?,
        None if attached => ItemRef::new("", None),
        None => {
            return Err(EwsProtoError::MissingElement {
                parent: display_name(&el.ns, &el.local),
                name: "ItemId",
                position: el.position(),
            });
        }
    };
    let mut item = ItemView::new(kind, &id.id, id.change_key.as_deref());
    (item.parent_folder_id, item.parent_change_key) =
        id_pair(el.child(ns::TYPES, "ParentFolderId"))?;
    item.item_class = child_text(el, "ItemClass");
    item.subject = child_text(el, "Subject");
    item.sensitivity = child_enum(el, "Sensitivity")?;
    if let Some(b) = el.child(ns::TYPES, "Body") {
        let t = b.attr("BodyType").unwrap_or("Text");
        let body_type: BodyType = t.parse().map_err(|_| EwsProtoError::InvalidValue {
            context: "t:Body/@BodyType".to_owned(),
            value: echo(t),
            expected: "one of: HTML, Text".to_owned(),
            position: b.position(),
        })?;
        item.body = Some((body_type, b.text.clone()));
    }
    item.date_time_received = child_datetime(el, "DateTimeReceived")?;
    item.size = el
        .child(ns::TYPES, "Size")
        .map(|c| {
            c.text_trimmed()
                .parse()
                .map_err(|_| EwsProtoError::InvalidValue {
                    context: "t:Size".to_owned(),
                    value: echo(&c.text),
                    expected: "a non-negative integer".to_owned(),
                    position: c.position(),
                })
        })
        .transpose()?;
    if let Some(c) = el.child(ns::TYPES, "Categories") {
        item.categories = c
            .children_named(ns::TYPES, "String")
            .map(|s| s.text.clone())
            .collect();
    }
    item.mime_content = child_text(el, "MimeContent");
    item.importance = child_enum(el, "Importance")?;
    item.is_draft = child_bool(el, "IsDraft")?;
    item.date_time_sent = child_datetime(el, "DateTimeSent")?;
    item.date_time_created = child_datetime(el, "DateTimeCreated")?;
    item.has_attachments = child_bool(el, "HasAttachments")?.unwrap_or(false);
    if let Some(list) = el.child(ns::TYPES, "Attachments") {
        item.attachments = list
            .children
            .iter()
            .filter(|a| {
                &*a.ns == ns::TYPES
                    && matches!(a.local.as_str(), "FileAttachment" | "ItemAttachment")
            })
            .map(attachment_from_element)
            .collect::<Result<_, _>>()?;
    }
    item.is_associated = child_bool(el, "IsAssociated")?.unwrap_or(false);
    item.extended = el
        .children_named(ns::TYPES, "ExtendedProperty")
        .map(parse_extended_property)
        .collect::<Result<_, _>>()?;
    item.sender = single_mailbox(el, "Sender")?;
    item.to = mailboxes(el, "ToRecipients")?;
    item.cc = mailboxes(el, "CcRecipients")?;
    item.bcc = mailboxes(el, "BccRecipients")?;
    item.from = single_mailbox(el, "From")?;
    item.internet_message_id = child_text(el, "InternetMessageId");
    item.is_read = child_bool(el, "IsRead")?;
    item.in_reply_to = child_text(el, "InReplyTo");
    item.conversation_id = el
        .child(ns::TYPES, "ConversationId")
        .and_then(|c| c.attr("Id"))
        .map(str::to_owned);
    item.conversation_index = child_text(el, "ConversationIndex");
    item.conversation_topic = child_text(el, "ConversationTopic");
    item.references = child_text(el, "References");
    item.received_representing = single_mailbox(el, "ReceivedRepresenting")?;
    item.start = child_datetime(el, "Start")?;
    item.end = child_datetime(el, "End")?;
    item.is_all_day_event = child_bool(el, "IsAllDayEvent")?;
    item.legacy_free_busy_status = child_enum(el, "LegacyFreeBusyStatus")?;
    item.location = child_text(el, "Location");
    item.uid = child_text(el, "UID");
    item.is_meeting = child_bool(el, "IsMeeting")?;
    item.is_cancelled = child_bool(el, "IsCancelled")?;
    item.meeting_request_was_sent = child_bool(el, "MeetingRequestWasSent")?;
    item.my_response_type = child_enum(el, "MyResponseType")?;
    item.organizer = single_mailbox(el, "Organizer")?;
    for (list, name) in [
        (&mut item.required_attendees, "RequiredAttendees"),
        (&mut item.optional_attendees, "OptionalAttendees"),
        (&mut item.resources, "Resources"),
    ] {
        if let Some(c) = el.child(ns::TYPES, name) {
            *list = c
                .children_named(ns::TYPES, "Attendee")
                .map(attendee_from_element)
                .collect::<Result<_, _>>()?;
        }
    }
    item.associated_calendar_item_id = el
        .child(ns::TYPES, "AssociatedCalendarItemId")
        .map(parse_item_ref)
        .transpose()?;
    item.has_been_processed = child_bool(el, "HasBeenProcessed")?;
    item.response_type = child_enum(el, "ResponseType")?;
    item.meeting_request_type = child_text(el, "MeetingRequestType");
    item.intended_free_busy_status = child_enum(el, "IntendedFreeBusyStatus")?;
    if kind == ItemKind::Contact {
        let mut c = Contact::default();
        for child in &el.children {
            match parse_contact_child(&mut c, el, child) {
                // what the server derives (t:CompleteName, t:ContactSource, ...) is not kept
                Ok(_) | Err(EwsProtoError::ReadOnlyProperty { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        item.contact = Some(Box::new(c));
        item.has_picture = child_bool(el, "HasPicture")?.unwrap_or(false);
    }
    if kind == ItemKind::Task {
        // the derived properties (t:IsComplete, t:StatusDescription, ...) are not kept
        item.task = Some(Box::new(task_of_answer(el)?));
    }
    if kind == ItemKind::DistributionList {
        item.distribution_list = Some(Box::new(crate::dlist::list_from_element(el)?));
    }
    Ok(item)
}

fn attendee_from_element(el: &Element) -> Result<Attendee, EwsProtoError> {
    Ok(Attendee {
        mailbox: el
            .child(ns::TYPES, "Mailbox")
            .map(parse_mailbox)
            .transpose()?
            .unwrap_or_default(),
        response_type: child_enum(el, "ResponseType")?,
        last_response_time: child_datetime(el, "LastResponseTime")?,
    })
}

/// Reads a `t:FileAttachment` (of `t:Attachments` or `m:Attachments`) back into an
/// [`AttachmentView`]; `RootItemId` attributes of its id are not kept. Properties that are
/// absent read as `None`/false.
pub fn attachment_from_element(el: &Element) -> Result<AttachmentView, EwsProtoError> {
    // an attachment of an attached item has no id
    let id = match el.child(ns::TYPES, "AttachmentId") {
        Some(id_el) => parse_item_ref(id_el)?.id,
        None => String::new(),
    };
    let mut a = AttachmentView::new(&id);
    a.is_item = el.local == "ItemAttachment";
    if a.is_item
        && let Some(item) = el.children.iter().find(|c| {
            &*c.ns == ns::TYPES
                && matches!(
                    c.local.as_str(),
                    "Message" | "CalendarItem" | "Contact" | "Task" | "Item"
                )
        })
    {
        a.item = Some(Box::new(item_from_element_in(item, true)?));
    }
    a.name = child_text(el, "Name");
    a.content_type = child_text(el, "ContentType");
    a.content_id = child_text(el, "ContentId");
    a.size = el
        .child(ns::TYPES, "Size")
        .map(|c| {
            c.text_trimmed()
                .parse()
                .map_err(|_| EwsProtoError::InvalidValue {
                    context: "t:Size".to_owned(),
                    value: echo(&c.text),
                    expected: "a non-negative integer".to_owned(),
                    position: c.position(),
                })
        })
        .transpose()?;
    a.last_modified_time = child_datetime(el, "LastModifiedTime")?;
    a.is_inline = child_bool(el, "IsInline")?.unwrap_or(false);
    a.is_contact_photo = child_bool(el, "IsContactPhoto")?.unwrap_or(false);
    if let Some(c) = el.child(ns::TYPES, "Content") {
        let compact: String = c
            .text
            .chars()
            .filter(|ch| !xml::is_xml_whitespace(*ch))
            .collect();
        a.content = Some(
            base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| EwsProtoError::InvalidBase64 {
                    element: "t:Content",
                    position: c.position(),
                })?,
        );
    }
    Ok(a)
}

/// Reads the `m:Notification` of a GetEvents response message.
pub fn notification_from_message(message: &ResponseMessage) -> Result<Notification, EwsProtoError> {
    let n = message
        .element
        .child(ns::MESSAGES, "Notification")
        .ok_or_else(|| EwsProtoError::MissingElement {
            parent: display_name(&message.element.ns, &message.element.local),
            name: "Notification",
            position: message.element.position(),
        })?;
    parse_notification(n)
}

/// Reads typed dictionary values etc. of a GetUserConfiguration response message.
pub fn user_configuration_from_message(
    message: &ResponseMessage,
) -> Result<UserConfigurationView, EwsProtoError> {
    let c = message
        .element
        .child(ns::MESSAGES, "UserConfiguration")
        .ok_or_else(|| EwsProtoError::MissingElement {
            parent: display_name(&message.element.ns, &message.element.local),
            name: "UserConfiguration",
            position: message.element.position(),
        })?;
    crate::request::parse_user_configuration(c)
}
