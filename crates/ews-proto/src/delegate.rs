//! Delegate management (MS-OXWSDLGM): `m:GetDelegate`, `m:AddDelegate`, `m:UpdateDelegate` and
//! `m:RemoveDelegate`, their parsers, their answers, and a client's reader of the answers.
//!
//! # Requests
//!
//! Each names the owner's mailbox in `m:Mailbox` (messages namespace, a `t:EmailAddress` child;
//! `t:Name`, `t:RoutingType` and `t:MailboxType` are tolerated, as exchangelib 5.6 sends them).
//! A delegate is named by a `t:UserId` holding `t:SID` or `t:PrimarySmtpAddress` (and optionally
//! `t:DisplayName`); `t:DistinguishedUser` (Default, Anonymous) and `t:ExternalUserIdentity` are
//! permission entries, not users, and are refused with
//! [`EwsProtoError::InvalidDelegateUserId`] (`ErrorInvalidDelegateUserId`), as is a `t:UserId`
//! with neither `t:SID` nor `t:PrimarySmtpAddress`. A request names at most [`MAX_DELEGATES`]
//! users or user ids ([`EwsProtoError::TooManyEntries`] beyond).
//!
//! # Answers
//!
//! Every answer (`BaseDelegateResponseMessageType`) is itself the response message:
//! `m:{Op}Response ResponseClass="…"` with `m:MessageText` (on error), `m:ResponseCode`,
//! `m:DescriptiveLinkKey` (on error), then, when the request as a whole succeeded and names
//! users, `m:ResponseMessages` with one `m:DelegateUserResponseMessageType` per user (a success
//! of Get/Add/Update holds the `m:DelegateUser` — messages namespace — with its `t:UserId`,
//! `t:DelegatePermissions`, `t:ReceiveCopiesOfMeetingMessages`, `t:ViewPrivateItems`). Only
//! `GetDelegateResponse` then holds `m:DeliverMeetingRequests`: the schema's
//! `AddDelegateResponseMessageType` and `UpdateDelegateResponseMessageType` add nothing to the
//! base type, and the EWS Managed API (and ews-javascript-api, its port) expects the end of the
//! response after `m:ResponseMessages` there, so [`add_delegate_response`] and
//! [`update_delegate_response`] do not write [`DelegateAnswer::deliver_meeting_requests`].
//! A refusal of the whole request is the response element alone with the error (no
//! `m:ResponseMessages`, no `m:DeliverMeetingRequests`), which is also what
//! [`crate::response::error_response`] writes for these operations.
//!
//! # What exchangelib 5.6.0 reads (`Account.delegates`)
//!
//! Checked in `exchangelib/services/get_delegate.py` and `services/common.py`:
//!
//! * `_get_soap_messages` finds `{messages}GetDelegateResponse` in the body, then looks for its
//!   `{messages}ResponseMessages` child. When it is there, it returns that element's
//!   `{messages}DelegateUserResponseMessageType` children (`GetDelegate._response_message_tag`)
//!   and never looks at the outer `ResponseClass`: a whole-request error must therefore come
//!   *without* `m:ResponseMessages`, or exchangelib would silently read no delegates.
//! * When `m:ResponseMessages` is absent, it takes the `GetDelegateResponse` itself as the one
//!   message. `_get_element_container` then reads its `ResponseClass` attribute and
//!   `m:ResponseCode` child: `Success` + `NoError` returns the element, anything else raises the
//!   exception named by the code (`ERRORS_TO_CATCH_IN_RESPONSE` is empty). From the element,
//!   `_get_elements_in_container` takes the `{messages}DelegateUser` *children*: none of the
//!   response element itself, so a mailbox without delegates (no `m:ResponseMessages`, only
//!   `m:DeliverMeetingRequests`) reads as an empty list without error.
//! * Each per-user message goes through the same `_get_element_container`: a success yields its
//!   `m:DelegateUser` children (`DelegateUser.NAMESPACE` is the messages namespace; its
//!   `t:UserId`, `t:DelegatePermissions` and the two booleans are in the types namespace), an
//!   error raises the exception of its code.
//! * exchangelib does not read `m:DeliverMeetingRequests`, and has no Add/Update/Remove
//!   services.
//!
//! The EWS Managed API's `GetDelegateResponse` likewise expects `m:DeliverMeetingRequests`
//! directly after the response code when there are no delegates.

use crate::error::{EwsProtoError, dn, missing};
use crate::ns::{MESSAGES, TYPES};
use crate::request::{
    bool_attr, bool_text, check_children, enum_text, opt_child, parse_mailbox, req_child, set_once,
    unexpected,
};
use crate::response::{ResponseError, error_response, self_message_success, write_error_body};
use crate::types::str_enum;
use crate::writer::XmlOut;
use crate::xml::{Element, Limits};

type Result<T> = std::result::Result<T, EwsProtoError>;

/// Most delegate users (`m:DelegateUsers/t:DelegateUser`) or user ids (`m:UserIds/t:UserId`) one
/// request may name. Outlook lets a mailbox have a few dozen delegates at most; a request naming
/// more is refused with [`EwsProtoError::TooManyEntries`] (`ErrorInvalidRequest`).
pub const MAX_DELEGATES: usize = 100;

str_enum! {
    /// `t:DelegateFolderPermissionLevelType`: what a delegate may do in one of the owner's
    /// folders.
    pub enum PermissionLevel ("DelegateFolderPermissionLevelType") {
        None = "None",
        Editor = "Editor",
        Reviewer = "Reviewer",
        Author = "Author",
        Custom = "Custom",
    }
}

str_enum! {
    /// `t:DeliverMeetingRequestsType`: where the owner's meeting requests go once the mailbox has
    /// delegates.
    pub enum DeliverMeetingRequests ("DeliverMeetingRequestsType") {
        DelegatesOnly = "DelegatesOnly",
        DelegatesAndMe = "DelegatesAndMe",
        DelegatesAndSendInformationToMe = "DelegatesAndSendInformationToMe",
        NoForward = "NoForward",
    }
}

/// `t:UserId` of a delegate: at least one of `sid` and `primary_smtp_address` when parsed from a
/// request. Empty elements read as absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserId {
    /// `t:SID`.
    pub sid: Option<String>,
    /// `t:PrimarySmtpAddress`.
    pub primary_smtp_address: Option<String>,
    /// `t:DisplayName`.
    pub display_name: Option<String>,
}

/// `t:DelegatePermissions`: each folder's level, `None` when its element is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DelegatePermissions {
    /// `t:CalendarFolderPermissionLevel`.
    pub calendar: Option<PermissionLevel>,
    /// `t:TasksFolderPermissionLevel`.
    pub tasks: Option<PermissionLevel>,
    /// `t:InboxFolderPermissionLevel`.
    pub inbox: Option<PermissionLevel>,
    /// `t:ContactsFolderPermissionLevel`.
    pub contacts: Option<PermissionLevel>,
    /// `t:NotesFolderPermissionLevel`.
    pub notes: Option<PermissionLevel>,
    /// `t:JournalFolderPermissionLevel`.
    pub journal: Option<PermissionLevel>,
}

/// `t:DelegateUser` (in a request) or `m:DelegateUser` (in an answer).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DelegateUser {
    pub user_id: UserId,
    /// `t:DelegatePermissions`; `None` when absent.
    pub permissions: Option<DelegatePermissions>,
    /// `t:ReceiveCopiesOfMeetingMessages`.
    pub receive_copies_of_meeting_messages: Option<bool>,
    /// `t:ViewPrivateItems`.
    pub view_private_items: Option<bool>,
}

/// `m:GetDelegate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetDelegate {
    /// `m:Mailbox/t:EmailAddress`: the owner.
    pub mailbox: String,
    /// `m:UserIds`: the delegates asked for, in order (empty: every delegate).
    pub user_ids: Vec<UserId>,
    /// `@IncludePermissions`: whether the answer holds each delegate's permissions.
    pub include_permissions: bool,
}

/// `m:AddDelegate` (and `m:UpdateDelegate`, [`UpdateDelegate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddDelegate {
    /// `m:Mailbox/t:EmailAddress`: the owner.
    pub mailbox: String,
    /// `m:DelegateUsers`, in order: 1 to [`MAX_DELEGATES`] for AddDelegate; 0 (element absent)
    /// to [`MAX_DELEGATES`] for UpdateDelegate.
    pub users: Vec<DelegateUser>,
    /// `m:DeliverMeetingRequests`, if given.
    pub deliver_meeting_requests: Option<DeliverMeetingRequests>,
}

/// `m:UpdateDelegate`: the same shape as [`AddDelegate`], but `users` may be empty (only
/// `DeliverMeetingRequests` changed).
pub type UpdateDelegate = AddDelegate;

/// `m:RemoveDelegate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveDelegate {
    /// `m:Mailbox/t:EmailAddress`: the owner.
    pub mailbox: String,
    /// `m:UserIds`: 1 to [`MAX_DELEGATES`], in order.
    pub user_ids: Vec<UserId>,
}

// ======================================================================
// Parsing
// ======================================================================

/// `m:Mailbox` (messages namespace): its `t:EmailAddress`, required and non-empty.
fn owner(op: &Element) -> Result<String> {
    let mailbox = req_child(op, MESSAGES, "Mailbox")?;
    if let Some(id) = mailbox.child(TYPES, "ItemId") {
        return Err(unexpected(mailbox, id));
    }
    match parse_mailbox(mailbox)?.email_address {
        Some(a) if !a.is_empty() => Ok(a),
        _ => Err(missing(mailbox, "EmailAddress")),
    }
}

fn too_many(list: &Element, what: &'static str) -> EwsProtoError {
    EwsProtoError::TooManyEntries {
        parent: dn(list),
        what,
        limit: MAX_DELEGATES,
        position: list.position(),
    }
}

fn not_a_delegate(el: &Element, reason: &'static str) -> EwsProtoError {
    EwsProtoError::InvalidDelegateUserId {
        found: dn(el),
        reason,
        position: el.position(),
    }
}

/// `t:UserId` naming a delegate: `t:SID` and/or `t:PrimarySmtpAddress`, optional `t:DisplayName`.
fn parse_user_id(el: &Element) -> Result<UserId> {
    let mut id = UserId::default();
    for c in &el.children {
        if &*c.ns != TYPES {
            return Err(unexpected(el, c));
        }
        match c.local.as_str() {
            "SID" => set_once(&mut id.sid, el, c, c.text_trimmed().to_owned())?,
            "PrimarySmtpAddress" => set_once(
                &mut id.primary_smtp_address,
                el,
                c,
                c.text_trimmed().to_owned(),
            )?,
            "DisplayName" => set_once(&mut id.display_name, el, c, c.text.clone())?,
            "DistinguishedUser" => {
                return Err(not_a_delegate(
                    c,
                    "Default and Anonymous are folder permission entries, not users; name the delegate by t:SID or t:PrimarySmtpAddress",
                ));
            }
            "ExternalUserIdentity" => {
                return Err(not_a_delegate(
                    c,
                    "an external identity is not a user of this organization; name the delegate by t:SID or t:PrimarySmtpAddress",
                ));
            }
            _ => return Err(unexpected(el, c)),
        }
    }
    for slot in [
        &mut id.sid,
        &mut id.primary_smtp_address,
        &mut id.display_name,
    ] {
        if slot.as_deref().is_some_and(str::is_empty) {
            *slot = None;
        }
    }
    if id.sid.is_none() && id.primary_smtp_address.is_none() {
        return Err(not_a_delegate(
            el,
            "it has neither t:SID nor t:PrimarySmtpAddress",
        ));
    }
    Ok(id)
}

/// `m:UserIds`: 1 to [`MAX_DELEGATES`] `t:UserId`.
fn parse_user_ids(list: &Element) -> Result<Vec<UserId>> {
    let mut out = Vec::new();
    for c in &list.children {
        if !c.is(TYPES, "UserId") {
            return Err(unexpected(list, c));
        }
        if out.len() == MAX_DELEGATES {
            return Err(too_many(list, "user ids"));
        }
        out.push(parse_user_id(c)?);
    }
    if out.is_empty() {
        return Err(missing(list, "UserId"));
    }
    Ok(out)
}

/// `t:DelegatePermissions`: each folder's level at most once, all optional.
fn parse_permissions(el: &Element) -> Result<DelegatePermissions> {
    let mut p = DelegatePermissions::default();
    for c in &el.children {
        if &*c.ns != TYPES {
            return Err(unexpected(el, c));
        }
        let slot = match c.local.as_str() {
            "CalendarFolderPermissionLevel" => &mut p.calendar,
            "TasksFolderPermissionLevel" => &mut p.tasks,
            "InboxFolderPermissionLevel" => &mut p.inbox,
            "ContactsFolderPermissionLevel" => &mut p.contacts,
            "NotesFolderPermissionLevel" => &mut p.notes,
            "JournalFolderPermissionLevel" => &mut p.journal,
            _ => return Err(unexpected(el, c)),
        };
        set_once(slot, el, c, enum_text(c, PermissionLevel::ALL)?)?;
    }
    Ok(p)
}

/// `t:DelegateUser` of a request, or `m:DelegateUser` of an answer (same content).
fn parse_delegate_user(el: &Element) -> Result<DelegateUser> {
    let (mut user_id, mut permissions, mut copies, mut private) = (None, None, None, None);
    for c in &el.children {
        if &*c.ns != TYPES {
            return Err(unexpected(el, c));
        }
        match c.local.as_str() {
            "UserId" => set_once(&mut user_id, el, c, parse_user_id(c)?)?,
            "DelegatePermissions" => set_once(&mut permissions, el, c, parse_permissions(c)?)?,
            "ReceiveCopiesOfMeetingMessages" => set_once(&mut copies, el, c, bool_text(c)?)?,
            "ViewPrivateItems" => set_once(&mut private, el, c, bool_text(c)?)?,
            _ => return Err(unexpected(el, c)),
        }
    }
    Ok(DelegateUser {
        user_id: user_id.ok_or_else(|| missing(el, "UserId"))?,
        permissions,
        receive_copies_of_meeting_messages: copies,
        view_private_items: private,
    })
}

/// `m:DelegateUsers`: 1 to [`MAX_DELEGATES`] `t:DelegateUser`.
fn parse_delegate_users(list: &Element) -> Result<Vec<DelegateUser>> {
    let mut out = Vec::new();
    for c in &list.children {
        if !c.is(TYPES, "DelegateUser") {
            return Err(unexpected(list, c));
        }
        if out.len() == MAX_DELEGATES {
            return Err(too_many(list, "delegate users"));
        }
        out.push(parse_delegate_user(c)?);
    }
    if out.is_empty() {
        return Err(missing(list, "DelegateUser"));
    }
    Ok(out)
}

fn deliver_meeting_requests(op: &Element) -> Result<Option<DeliverMeetingRequests>> {
    opt_child(op, MESSAGES, "DeliverMeetingRequests")?
        .map(|e| enum_text(e, DeliverMeetingRequests::ALL))
        .transpose()
}

/// `m:GetDelegate`: `@IncludePermissions` (required), `m:Mailbox`, optional `m:UserIds`.
pub(crate) fn parse_get(op: &Element) -> Result<GetDelegate> {
    check_children(op, &["Mailbox", "UserIds"])?;
    let include_permissions =
        bool_attr(op, "IncludePermissions")?.ok_or_else(|| EwsProtoError::MissingAttribute {
            element: dn(op),
            name: "IncludePermissions",
            position: op.position(),
        })?;
    Ok(GetDelegate {
        mailbox: owner(op)?,
        user_ids: opt_child(op, MESSAGES, "UserIds")?
            .map(parse_user_ids)
            .transpose()?
            .unwrap_or_default(),
        include_permissions,
    })
}

fn parse_add_or_update(op: &Element, users_required: bool) -> Result<AddDelegate> {
    check_children(op, &["Mailbox", "DelegateUsers", "DeliverMeetingRequests"])?;
    let mailbox = owner(op)?;
    let users = match opt_child(op, MESSAGES, "DelegateUsers")? {
        Some(list) => parse_delegate_users(list)?,
        None if users_required => return Err(missing(op, "DelegateUsers")),
        None => Vec::new(),
    };
    Ok(AddDelegate {
        mailbox,
        users,
        deliver_meeting_requests: deliver_meeting_requests(op)?,
    })
}

/// `m:AddDelegate`: `m:Mailbox`, `m:DelegateUsers` (required, not empty), optional
/// `m:DeliverMeetingRequests`.
pub(crate) fn parse_add(op: &Element) -> Result<AddDelegate> {
    parse_add_or_update(op, true)
}

/// `m:UpdateDelegate`: as [`parse_add`], but `m:DelegateUsers` may be absent (when present it
/// is not empty).
pub(crate) fn parse_update(op: &Element) -> Result<UpdateDelegate> {
    parse_add_or_update(op, false)
}

/// `m:RemoveDelegate`: `m:Mailbox`, `m:UserIds` (required, not empty).
pub(crate) fn parse_remove(op: &Element) -> Result<RemoveDelegate> {
    check_children(op, &["Mailbox", "UserIds"])?;
    Ok(RemoveDelegate {
        mailbox: owner(op)?,
        user_ids: parse_user_ids(req_child(op, MESSAGES, "UserIds")?)?,
    })
}

// ======================================================================
// Answers
// ======================================================================

/// What Get/Add/UpdateDelegate answer when the request as a whole succeeded: one result per
/// delegate (in the order asked, or every delegate for a GetDelegate naming none), then the
/// mailbox's setting (written by [`get_delegate_response`] only: see the module's notes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegateAnswer {
    pub users: Vec<std::result::Result<DelegateUser, ResponseError>>,
    pub deliver_meeting_requests: Option<DeliverMeetingRequests>,
}

fn write_user_id(w: &mut XmlOut, id: &UserId) {
    w.start("t:UserId", &[]);
    if let Some(v) = &id.sid {
        w.leaf("t:SID", v);
    }
    if let Some(v) = &id.primary_smtp_address {
        w.leaf("t:PrimarySmtpAddress", v);
    }
    if let Some(v) = &id.display_name {
        w.leaf("t:DisplayName", v);
    }
    w.end("t:UserId");
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

/// `m:DelegateUser` in the schema's order; each optional part only when it is `Some`.
fn write_delegate_user(w: &mut XmlOut, u: &DelegateUser) {
    w.start("m:DelegateUser", &[]);
    write_user_id(w, &u.user_id);
    if let Some(p) = &u.permissions {
        w.start("t:DelegatePermissions", &[]);
        for (name, level) in [
            ("t:CalendarFolderPermissionLevel", p.calendar),
            ("t:TasksFolderPermissionLevel", p.tasks),
            ("t:InboxFolderPermissionLevel", p.inbox),
            ("t:ContactsFolderPermissionLevel", p.contacts),
            ("t:NotesFolderPermissionLevel", p.notes),
            ("t:JournalFolderPermissionLevel", p.journal),
        ] {
            if let Some(level) = level {
                w.leaf(name, level.as_str());
            }
        }
        w.end("t:DelegatePermissions");
    }
    if let Some(v) = u.receive_copies_of_meeting_messages {
        w.leaf("t:ReceiveCopiesOfMeetingMessages", bool_str(v));
    }
    if let Some(v) = u.view_private_items {
        w.leaf("t:ViewPrivateItems", bool_str(v));
    }
    w.end("m:DelegateUser");
}

/// `m:ResponseMessages` with one `m:DelegateUserResponseMessageType` per result; nothing at all
/// for no results (Exchange omits the element, and the EWS Managed API expects it omitted).
fn write_user_messages<T>(
    w: &mut XmlOut,
    results: &[std::result::Result<T, ResponseError>],
    mut ok: impl FnMut(&mut XmlOut, &T),
) {
    if results.is_empty() {
        return;
    }
    w.start("m:ResponseMessages", &[]);
    for r in results {
        match r {
            Ok(v) => {
                w.start(
                    "m:DelegateUserResponseMessageType",
                    &[("ResponseClass", "Success")],
                );
                w.leaf("m:ResponseCode", "NoError");
                ok(w, v);
            }
            Err(e) => {
                w.start(
                    "m:DelegateUserResponseMessageType",
                    &[("ResponseClass", e.class.as_str())],
                );
                write_error_body(w, e);
            }
        }
        w.end("m:DelegateUserResponseMessageType");
    }
    w.end("m:ResponseMessages");
}

fn delegate_answer(
    op: &str,
    result: &std::result::Result<DelegateAnswer, ResponseError>,
    with_setting: bool,
) -> Vec<u8> {
    match result {
        Err(e) => error_response(op, e),
        Ok(a) => self_message_success(op, |w| {
            write_user_messages(w, &a.users, write_delegate_user);
            if with_setting && let Some(d) = a.deliver_meeting_requests {
                w.leaf("m:DeliverMeetingRequests", d.as_str());
            }
        }),
    }
}

/// `GetDelegateResponse`: success, one message per delegate (none at all for a mailbox without
/// delegates), then `m:DeliverMeetingRequests` when given (Exchange always gives it); or the
/// whole request's error alone.
pub fn get_delegate_response(r: &std::result::Result<DelegateAnswer, ResponseError>) -> Vec<u8> {
    delegate_answer("GetDelegate", r, true)
}

/// `AddDelegateResponse`: success and one message per delegate added (or refused), or the whole
/// request's error alone. `deliver_meeting_requests` is not written (the schema has no place for
/// it in this answer).
pub fn add_delegate_response(r: &std::result::Result<DelegateAnswer, ResponseError>) -> Vec<u8> {
    delegate_answer("AddDelegate", r, false)
}

/// `UpdateDelegateResponse`: as [`add_delegate_response`]; an update naming no delegate (only
/// `DeliverMeetingRequests` changed) answers success without `m:ResponseMessages`.
pub fn update_delegate_response(r: &std::result::Result<DelegateAnswer, ResponseError>) -> Vec<u8> {
    delegate_answer("UpdateDelegate", r, false)
}

/// `RemoveDelegateResponse`: success and one message per user id (no `m:DelegateUser` in them),
/// or the whole request's error alone.
pub fn remove_delegate_response(
    r: &std::result::Result<Vec<std::result::Result<(), ResponseError>>, ResponseError>,
) -> Vec<u8> {
    match r {
        Err(e) => error_response("RemoveDelegate", e),
        Ok(results) => self_message_success("RemoveDelegate", |w| {
            write_user_messages(w, results, |_, ()| {});
        }),
    }
}

// ======================================================================
// Reading answers (client side)
// ======================================================================

/// Which delegate operation an answer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelegateOperation {
    Get,
    Add,
    Update,
    Remove,
}

impl DelegateOperation {
    /// Every operation.
    pub const ALL: &'static [DelegateOperation] =
        &[Self::Get, Self::Add, Self::Update, Self::Remove];

    /// The request element's local name (`GetDelegate`, …), as [`crate::request::Operation::name`].
    pub fn name(self) -> &'static str {
        match self {
            Self::Get => "GetDelegate",
            Self::Add => "AddDelegate",
            Self::Update => "UpdateDelegate",
            Self::Remove => "RemoveDelegate",
        }
    }

    /// The answer element's local name (`GetDelegateResponse`, …).
    pub fn response_name(self) -> &'static str {
        match self {
            Self::Get => "GetDelegateResponse",
            Self::Add => "AddDelegateResponse",
            Self::Update => "UpdateDelegateResponse",
            Self::Remove => "RemoveDelegateResponse",
        }
    }
}

/// Per-delegate results of an answer whose request as a whole succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegateResults {
    /// One per `m:DelegateUserResponseMessageType`, in order: the `m:DelegateUser` of a success
    /// (`None` when the message holds none, as RemoveDelegate's), or the message's error.
    pub users: Vec<std::result::Result<Option<DelegateUser>, ResponseError>>,
    /// `m:DeliverMeetingRequests` (GetDelegate's answer).
    pub deliver_meeting_requests: Option<DeliverMeetingRequests>,
}

/// A delegate answer as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadDelegateAnswer {
    /// Which answer it was.
    pub operation: DelegateOperation,
    /// The whole request's error (the response element's own code is not `NoError`), or the
    /// per-delegate results.
    pub result: std::result::Result<DelegateResults, ResponseError>,
}

/// The error a response message names: its class, code, text and `m:MessageXml/t:Value` pairs.
fn error_of(m: &crate::response::ResponseMessage) -> ResponseError {
    let mut e = ResponseError::new(&m.code, m.text.as_deref().unwrap_or_default());
    e.class = m.class;
    if let Some(xml) = m.element.child(MESSAGES, "MessageXml") {
        for v in xml.children.iter().filter(|v| v.is(TYPES, "Value")) {
            e.message_xml.push((
                v.attr("Name").unwrap_or_default().to_owned(),
                v.text.clone(),
            ));
        }
    }
    e
}

/// Reads any of the four delegate answers (a client's side, with [`Limits::default`]). A SOAP
/// fault is [`EwsProtoError::SoapFault`]; an answer of another operation or of another shape is
/// an `EwsProtoError` too.
pub fn read_delegate_response(xml: &[u8]) -> Result<ReadDelegateAnswer> {
    let r = crate::response::parse_response(xml, &Limits::default())?;
    let operation = DelegateOperation::ALL
        .iter()
        .copied()
        .find(|o| o.response_name() == r.response)
        .ok_or_else(|| EwsProtoError::UnexpectedElement {
            parent: "soap:Body".to_owned(),
            found: r.response.clone(),
            position: 0,
        })?;
    // the answer is itself the response message: `parse_response` took it as the one message
    // only when it has a `ResponseClass` (else it read its `m:ResponseMessages`)
    let top = match r.messages.into_iter().next() {
        Some(top) if top.element.is(MESSAGES, operation.response_name()) => top,
        _ => {
            return Err(EwsProtoError::MissingAttribute {
                element: format!("m:{}", operation.response_name()),
                name: "ResponseClass",
                position: 0,
            });
        }
    };
    if top.code != "NoError" {
        return Ok(ReadDelegateAnswer {
            operation,
            result: Err(error_of(&top)),
        });
    }
    let top = top.element;
    let mut users = Vec::new();
    if let Some(list) = opt_child(&top, MESSAGES, "ResponseMessages")? {
        for m in &list.children {
            if !m.is(MESSAGES, "DelegateUserResponseMessageType") {
                return Err(unexpected(list, m));
            }
            let msg = crate::response::parse_message(m)?;
            if msg.code != "NoError" {
                users.push(Err(error_of(&msg)));
                continue;
            }
            users.push(Ok(opt_child(m, MESSAGES, "DelegateUser")?
                .map(parse_delegate_user)
                .transpose()?));
        }
    }
    Ok(ReadDelegateAnswer {
        operation,
        result: Ok(DelegateResults {
            users,
            deliver_meeting_requests: deliver_meeting_requests(&top)?,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Operation;

    #[test]
    fn enumerations_spell_as_the_schema() {
        for l in PermissionLevel::ALL {
            assert_eq!(l.as_str().parse::<PermissionLevel>(), Ok(*l));
        }
        for d in DeliverMeetingRequests::ALL {
            assert_eq!(d.as_str().parse::<DeliverMeetingRequests>(), Ok(*d));
        }
        assert!("editor".parse::<PermissionLevel>().is_err());
        assert_eq!(
            "DelegatesAndSendInformationToMe".parse(),
            Ok(DeliverMeetingRequests::DelegatesAndSendInformationToMe)
        );
    }

    #[test]
    fn operations_are_named_by_their_elements() {
        let owner = "<m:Mailbox><t:EmailAddress>o@contoso.example</t:EmailAddress></m:Mailbox>";
        let ids = "<m:UserIds><t:UserId><t:SID>S-1-5-21-7</t:SID></t:UserId></m:UserIds>";
        let users = "<m:DelegateUsers><t:DelegateUser><t:UserId><t:SID>S-1-5-21-7</t:SID></t:UserId></t:DelegateUser></m:DelegateUsers>";
        for (body, name) in [
            (
                format!(r#"<m:GetDelegate IncludePermissions="0">{owner}</m:GetDelegate>"#),
                "GetDelegate",
            ),
            (
                format!("<m:AddDelegate>{owner}{users}</m:AddDelegate>"),
                "AddDelegate",
            ),
            (
                format!("<m:UpdateDelegate>{owner}</m:UpdateDelegate>"),
                "UpdateDelegate",
            ),
            (
                format!("<m:RemoveDelegate>{owner}{ids}</m:RemoveDelegate>"),
                "RemoveDelegate",
            ),
        ] {
            let op = crate::request::test_op(&body).unwrap();
            assert_eq!(op.name(), name);
            assert!(!matches!(op, Operation::Unknown { .. }));
            let known = DelegateOperation::ALL.iter().any(|o| o.name() == name);
            assert!(known, "{name}");
        }
    }
}
