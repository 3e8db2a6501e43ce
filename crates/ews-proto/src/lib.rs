//! EWS (Exchange Web Services) over SOAP 1.1: a hardened XML reader,
//! request parsing into typed operations, and response writing.
//!
//! The crate is pure: no I/O, no async, no HTTP. The server feeds it a
//! request body and gets a typed [`request::Request`] back (or an
//! [`EwsProtoError`] to turn into a SOAP fault), then hands view structs to
//! the writers in [`response`] and sends the bytes.
//!
//! * [`xml`] — the hardened reader (limits, no DTD, namespace resolution).
//! * [`types`] — shared EWS types (folder/item ids, shapes, enums, dates).
//! * [`request`] — [`request::parse_request`]: SOAP envelope → typed request.
//! * [`response`] — writers for every supported operation, SOAP faults,
//!   and [`response::parse_response_messages`] for clients and tests.
//! * [`autodiscover`] — SOAP `GetUserSettings` and POX Autodiscover: request
//!   readers and response writers.
//! * [`notification`] — push notifications (`SendNotification`) and their
//!   `SendNotificationResult` reply, both directions.
//! * [`streaming`] — GetStreamingEvents answers: one envelope per message of
//!   a streamed response (events, keep-alive, closed, errors), both directions.
//! * [`export`] — bulk transfer (MS-OXWSBTRF): `ExportItems` and `UploadItems`
//!   requests and answers.
//! * [`availability`] — free/busy (`GetUserAvailabilityRequest`) and
//!   `GetServerTimeZones`; [`timezone`] — EWS time zones and their arithmetic.
//! * [`workhours`] — a mailbox's working hours as it stores them (the
//!   `WorkHours` user configuration's XML, MS-OXOCFG).
//! * [`contact`] — contacts (`t:Contact`): their properties read from
//!   CreateItem and UpdateItem, changed one property or dictionary entry at a
//!   time, written in schema order, kept as JSON.
//! * [`task`] — tasks (`t:Task`): their properties read from CreateItem and UpdateItem, status,
//!   percentage and completion kept consistent as Exchange keeps them, written in schema order,
//!   kept as JSON; [`recurrence`] reads their recurrences (regeneration patterns included).
//! * [`delegate`] — delegate management (MS-OXWSDLGM): `GetDelegate`, `AddDelegate`,
//!   `UpdateDelegate` and `RemoveDelegate` requests, their answers, and a reader of the answers.
//!
//! ```
//! use ews_proto::request::{Operation, parse_request};
//! use ews_proto::response::{FolderView, ResponseError, get_folder_response, write_fault_for_error};
//! use ews_proto::xml::Limits;
//!
//! let body = br#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
//!     xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages"
//!     xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
//!   <soap:Header><t:RequestServerVersion Version="Exchange2013_SP1"/></soap:Header>
//!   <soap:Body><m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape>
//!     <m:FolderIds><t:DistinguishedFolderId Id="conversationhistory"/></m:FolderIds></m:GetFolder>
//!   </soap:Body></soap:Envelope>"#;
//!
//! let reply = match parse_request(body, &Limits::default()) {
//!     Ok(request) => match request.operation {
//!         Operation::GetFolder(get) => {
//!             let results: Vec<_> = get
//!                 .folder_ids
//!                 .iter()
//!                 .map(|_| Ok(FolderView::new("F-1", "Conversation History")))
//!                 .collect();
//!             get_folder_response(&get.shape, &results) // HTTP 200
//!         }
//!         other => ews_proto::response::error_response(
//!             other.name(),
//!             &ResponseError::code("ErrorInvalidRequest"),
//!         ),
//!     },
//!     Err(e) => write_fault_for_error(&e, body), // HTTP 500
//! };
//! assert!(reply.starts_with(b"<?xml"));
//! ```
#![forbid(unsafe_code)]

/// Accessors of a properties struct's members by property (`$owner`'s fields of one type, by a
/// `Prop` enum of the module that invokes it): `$name`/`$name_mut` read and write the member a
/// property is held in, and with a trailing `$key` the storage form's name of that member.
/// Contacts and tasks share it.
macro_rules! slots {
    ($owner:ty; $name:ident, $name_mut:ident, $ty:ty, { $($prop:ident => $field:ident),+ $(,)? }, $key:ident) => {
        /// The storage form's member holding the property.
        fn $key(p: Prop) -> Option<&'static str> {
            match p {
                $( Prop::$prop => Some(stringify!($field)), )+
                _ => None,
            }
        }

        slots!($owner; $name, $name_mut, $ty, { $($prop => $field),+ });
    };
    ($owner:ty; $name:ident, $name_mut:ident, $ty:ty, { $($prop:ident => $field:ident),+ $(,)? }) => {
        fn $name(o: &$owner, p: Prop) -> Option<&$ty> {
            match p {
                $( Prop::$prop => Some(&o.$field), )+
                _ => None,
            }
        }

        fn $name_mut(o: &mut $owner, p: Prop) -> Option<&mut $ty> {
            match p {
                $( Prop::$prop => Some(&mut o.$field), )+
                _ => None,
            }
        }
    };
}

pub mod autodiscover;
pub mod availability;
pub mod body;
pub mod contact;
pub mod delegate;
pub mod dlist;
pub mod error;
pub mod export;
pub mod mailtips;
pub mod notification;
pub mod oof;
pub mod recurrence;
pub mod request;
pub mod response;
pub mod rooms;
pub mod rules;
pub mod streaming;
pub mod task;
pub mod timezone;
pub mod types;
pub mod workhours;
mod writer;
pub mod xml;

pub use error::{EwsProtoError, UnknownValue};

/// Namespace URIs used by EWS.
pub mod ns {
    /// SOAP 1.1 envelope.
    pub const SOAP: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    /// EWS messages (operations and response messages), prefix `m:`.
    pub const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";
    /// EWS types, prefix `t:`.
    pub const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
    /// EWS errors (SOAP fault detail), prefix `e:`.
    pub const ERRORS: &str = "http://schemas.microsoft.com/exchange/services/2006/errors";
    /// XML Schema instance (`xsi:type`).
    pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    /// SOAP Autodiscover (MS-OXWSADISC), prefix `a:`.
    pub const AUTODISCOVER: &str = "http://schemas.microsoft.com/exchange/2010/Autodiscover";
    /// WS-Addressing (the SOAP Autodiscover `Action` and `To` headers), prefix `wsa:`.
    pub const WSA: &str = "http://www.w3.org/2005/08/addressing";
    /// POX Autodiscover request (MS-OXDSCLI), Outlook provider.
    pub const POX_REQUEST: &str =
        "http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006";
    /// POX Autodiscover response envelope (the `Autodiscover` element, and `Error`).
    pub const POX_RESPONSE: &str =
        "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
    /// POX Autodiscover response, Outlook provider (`Response` with `User` and `Account`).
    pub const POX_OUTLOOK_RESPONSE: &str =
        "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";
}
