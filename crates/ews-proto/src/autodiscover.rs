//! Autodiscover: how a client finds the EWS URL of a mailbox from its address.
//!
//! Exchange answers three forms, and this module reads and writes the two that are XML:
//!
//! * **SOAP** (MS-OXWSADISC, `POST /autodiscover/autodiscover.svc`): `GetUserSettings`, the form
//!   exchangelib 5 and the EWS Managed API use. [`parse_soap_request`] reads it;
//!   [`get_user_settings_response`] answers it, one `UserResponse` per user in request order,
//!   each with the settings it could give and a `UserSettingError` for each it could not.
//! * **POX** (MS-OXDSCLI, `POST /autodiscover/autodiscover.xml`): the Outlook provider's
//!   `Autodiscover/Request/EMailAddress`. [`parse_pox_request`] reads it; [`pox_response`] and
//!   [`pox_error`] answer it.
//!
//! The third form, the v2 JSON lookup (`GET /autodiscover/autodiscover.json/v1.0/<address>?Protocol=EWS`),
//! has no XML and lives with the server.
//!
//! Like the rest of the crate this is pure: bytes in, typed request out; values in, bytes out.

use crate::error::{EwsProtoError, UnknownValue, dn, echo, missing};
use crate::ns;
use crate::request::{body_child, split_envelope};
use crate::response::ServerVersionInfo;
use crate::writer::XmlOut;
use crate::xml::{self, Element, Limits};

/// Most users one `GetUserSettings` may ask about (Exchange's own limit).
pub const MAX_USERS: usize = 100;
/// Most settings one `GetUserSettings` may ask for (MS-OXWSADISC lists fewer than 100 names).
pub const MAX_SETTINGS: usize = 200;
/// Largest Autodiscover request body a server should read: a request names at most
/// [`MAX_USERS`] addresses and [`MAX_SETTINGS`] setting names.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The `wsa:Action` of a `GetUserSettings` request and of its response.
pub const GET_USER_SETTINGS_ACTION: &str =
    "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettings";

/// A parsed SOAP Autodiscover request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoapRequest {
    /// `a:RequestedServerVersion`, as sent (Exchange2010 … Exchange2013_SP1); `None` when absent.
    pub requested_version: Option<String>,
    pub operation: SoapOperation,
}

/// The SOAP Autodiscover operations this server answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoapOperation {
    /// `a:GetUserSettingsRequestMessage`: settings for each of `users` (SMTP addresses), in order.
    GetUserSettings {
        users: Vec<String>,
        settings: Vec<String>,
    },
}

impl SoapOperation {
    pub fn name(&self) -> &'static str {
        match self {
            SoapOperation::GetUserSettings { .. } => "GetUserSettings",
        }
    }
}

type Result<T> = std::result::Result<T, EwsProtoError>;

/// The children of `parent` named `names` (in namespace `ns`), each at most once, in the order
/// of `names`; children named in `ignored` are passed over, any other child is refused.
fn children_once<'a, const N: usize>(
    parent: &'a Element,
    ns: &str,
    names: [&str; N],
    ignored: &[&str],
) -> Result<[Option<&'a Element>; N]> {
    let mut found = [None; N];
    for c in &parent.children {
        let Some(i) = names.iter().position(|n| c.is(ns, n)) else {
            if ignored.iter().any(|n| c.is(ns, n)) {
                continue;
            }
            return Err(EwsProtoError::UnexpectedElement {
                parent: dn(parent),
                found: dn(c),
                position: c.position(),
            });
        };
        if found[i].is_some() {
            return Err(EwsProtoError::DuplicateElement {
                parent: dn(parent),
                name: dn(c),
                position: c.position(),
            });
        }
        found[i] = Some(c);
    }
    Ok(found)
}

/// The one child `local` (Autodiscover namespace) of `parent`, and nothing else.
fn only_child<'a>(parent: &'a Element, local: &'static str) -> Result<&'a Element> {
    let [found] = children_once(parent, ns::AUTODISCOVER, [local], &[])?;
    found.ok_or_else(|| missing(parent, local))
}

/// Reads a SOAP Autodiscover request (`GetUserSettingsRequestMessage`).
///
/// Refuses anything else in `soap:Body` (`GetDomainSettings` and the other MS-OXWSADISC
/// operations are [`EwsProtoError::Unsupported`]), a request without users or settings, more
/// than [`MAX_USERS`] users or [`MAX_SETTINGS`] settings, and empty addresses or setting names.
pub fn parse_soap_request(input: &[u8], limits: &Limits) -> Result<SoapRequest> {
    let root = xml::parse(input, limits)?;
    let (header, body) = split_envelope(&root)?;
    let mut requested_version = None;
    if let Some(header) = header {
        for h in &header.children {
            if h.is(ns::AUTODISCOVER, "RequestedServerVersion") {
                if requested_version.is_some() {
                    return Err(EwsProtoError::DuplicateHeader {
                        name: "RequestedServerVersion",
                    });
                }
                requested_version = Some(h.text_trimmed().to_owned());
            } else if h
                .attr_ns(ns::SOAP, "mustUnderstand")
                .is_some_and(|v| matches!(v.trim(), "1" | "true"))
                && !h.is(ns::WSA, "Action")
                && !h.is(ns::WSA, "To")
            {
                return Err(EwsProtoError::MustUnderstandHeader { found: dn(h) });
            }
        }
    }
    let op = body_child(body)?;
    if op.is(ns::AUTODISCOVER, "GetUserSettingsRequestMessage") {
        return parse_get_user_settings(op).map(|operation| SoapRequest {
            requested_version,
            operation,
        });
    }
    if &*op.ns == ns::AUTODISCOVER {
        return Err(EwsProtoError::Unsupported {
            found: dn(op),
            position: op.position(),
        });
    }
    Err(EwsProtoError::NotAnAutodiscoverRequest {
        found: dn(op),
        expected: "a:GetUserSettingsRequestMessage in namespace http://schemas.microsoft.com/exchange/2010/Autodiscover",
        position: op.position(),
    })
}

fn parse_get_user_settings(op: &Element) -> Result<SoapOperation> {
    let request = only_child(op, "Request")?;
    // RequestedVersion: an optional hint (ExchangeVersion) that changes nothing in the answer
    let [users_el, settings_el] = children_once(
        request,
        ns::AUTODISCOVER,
        ["Users", "RequestedSettings"],
        &["RequestedVersion"],
    )?;
    let users_el = users_el.ok_or_else(|| missing(request, "a:Users"))?;
    let settings_el = settings_el.ok_or_else(|| missing(request, "a:RequestedSettings"))?;
    let mut users = Vec::new();
    for user in &users_el.children {
        if !user.is(ns::AUTODISCOVER, "User") {
            return Err(EwsProtoError::UnexpectedElement {
                parent: dn(users_el),
                found: dn(user),
                position: user.position(),
            });
        }
        if users.len() == MAX_USERS {
            return Err(EwsProtoError::TooManyEntries {
                parent: dn(users_el),
                what: "users",
                limit: MAX_USERS,
                position: users_el.position(),
            });
        }
        let mailbox = only_child(user, "Mailbox")?;
        let address = mailbox.text_trimmed();
        if address.is_empty() {
            return Err(EwsProtoError::InvalidValue {
                context: "a:Mailbox".into(),
                value: String::new(),
                expected: "an SMTP address".into(),
                position: mailbox.position(),
            });
        }
        users.push(address.to_owned());
    }
    if users.is_empty() {
        return Err(missing(users_el, "a:User"));
    }
    let mut settings = Vec::new();
    for s in &settings_el.children {
        if !s.is(ns::AUTODISCOVER, "Setting") {
            return Err(EwsProtoError::UnexpectedElement {
                parent: dn(settings_el),
                found: dn(s),
                position: s.position(),
            });
        }
        if settings.len() == MAX_SETTINGS {
            return Err(EwsProtoError::TooManyEntries {
                parent: dn(settings_el),
                what: "settings",
                limit: MAX_SETTINGS,
                position: settings_el.position(),
            });
        }
        let name = s.text_trimmed();
        if name.is_empty() {
            return Err(EwsProtoError::InvalidValue {
                context: "a:Setting".into(),
                value: String::new(),
                expected: "a setting name, e.g. ExternalEwsUrl".into(),
                position: s.position(),
            });
        }
        settings.push(name.to_owned());
    }
    if settings.is_empty() {
        return Err(missing(settings_el, "a:Setting"));
    }
    Ok(SoapOperation::GetUserSettings { users, settings })
}

/// Why a user or a setting got no value (MS-OXWSADISC `ErrorCode`; `NoError` is no error and
/// has no variant). This server answers the first six; the others are read from other servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutodiscoverCode {
    /// The address names no mailbox this caller may discover.
    InvalidUser,
    /// The address's domain is not one of the organization's accepted domains.
    InvalidDomain,
    /// The request itself is not acceptable.
    InvalidRequest,
    /// The setting name is not one Autodiscover knows.
    InvalidSetting,
    /// A known setting this server has no value for.
    SettingIsNotAvailable,
    InternalServerError,
    /// Ask again with the address in `RedirectTarget`.
    RedirectAddress,
    /// Ask again at the Autodiscover URL in `RedirectTarget`.
    RedirectUrl,
    /// The server is too busy to answer; try again later.
    ServerBusy,
    /// The caller's organization is not federated with this one.
    NotFederated,
}

impl AutodiscoverCode {
    /// Every code, in the order MS-OXWSADISC lists them (`NoError` aside).
    pub const ALL: [AutodiscoverCode; 10] = [
        AutodiscoverCode::RedirectAddress,
        AutodiscoverCode::RedirectUrl,
        AutodiscoverCode::InvalidUser,
        AutodiscoverCode::InvalidRequest,
        AutodiscoverCode::InvalidSetting,
        AutodiscoverCode::SettingIsNotAvailable,
        AutodiscoverCode::ServerBusy,
        AutodiscoverCode::InvalidDomain,
        AutodiscoverCode::NotFederated,
        AutodiscoverCode::InternalServerError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AutodiscoverCode::InvalidUser => "InvalidUser",
            AutodiscoverCode::InvalidDomain => "InvalidDomain",
            AutodiscoverCode::InvalidRequest => "InvalidRequest",
            AutodiscoverCode::InvalidSetting => "InvalidSetting",
            AutodiscoverCode::SettingIsNotAvailable => "SettingIsNotAvailable",
            AutodiscoverCode::InternalServerError => "InternalServerError",
            AutodiscoverCode::RedirectAddress => "RedirectAddress",
            AutodiscoverCode::RedirectUrl => "RedirectUrl",
            AutodiscoverCode::ServerBusy => "ServerBusy",
            AutodiscoverCode::NotFederated => "NotFederated",
        }
    }
}

impl std::fmt::Display for AutodiscoverCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AutodiscoverCode {
    type Err = UnknownValue;

    /// The code as the wire spells it (exactly; `NoError` is not a code).
    fn from_str(s: &str) -> std::result::Result<Self, UnknownValue> {
        AutodiscoverCode::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownValue::new("Autodiscover ErrorCode", s))
    }
}

/// A setting that could not be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    pub name: String,
    pub code: AutodiscoverCode,
    pub message: String,
}

/// The answer for one user of a `GetUserSettings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserResult {
    /// The user was found: `(name, value)` string settings, in request order, and the
    /// settings that could not be given.
    Found {
        settings: Vec<(String, String)>,
        errors: Vec<SettingError>,
    },
    Failed {
        code: AutodiscoverCode,
        message: String,
    },
}

fn write_header(w: &mut XmlOut) {
    w.text_element(
        "a:Action",
        &[("xmlns:a", ns::WSA), ("s:mustUnderstand", "1")],
        "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettingsResponse",
    );
    let v = ServerVersionInfo::default();
    w.start(
        "h:ServerVersionInfo",
        &[("xmlns:h", ns::AUTODISCOVER), ("xmlns:i", ns::XSI)],
    );
    w.leaf("h:MajorVersion", &v.major_version.to_string());
    w.leaf("h:MinorVersion", &v.minor_version.to_string());
    w.leaf("h:MajorBuildNumber", &v.major_build_number.to_string());
    w.leaf("h:MinorBuildNumber", &v.minor_build_number.to_string());
    w.leaf("h:Version", "Exchange2013_SP1");
    w.end("h:ServerVersionInfo");
}

fn write_error_message(w: &mut XmlOut, message: &str) {
    if message.is_empty() {
        w.empty("ErrorMessage", &[]);
    } else {
        w.leaf("ErrorMessage", message);
    }
}

fn soap_envelope(body: impl FnOnce(&mut XmlOut)) -> Vec<u8> {
    crate::writer::envelope(write_header, body)
}

/// The `GetUserSettingsResponseMessage` for `results`, one per requested user, in order.
pub fn get_user_settings_response(results: &[UserResult]) -> Vec<u8> {
    soap_envelope(|w| {
        w.start(
            "GetUserSettingsResponseMessage",
            &[("xmlns", ns::AUTODISCOVER)],
        );
        w.start("Response", &[("xmlns:i", ns::XSI)]);
        w.leaf("ErrorCode", "NoError");
        w.empty("ErrorMessage", &[]);
        w.start("UserResponses", &[]);
        for r in results {
            w.start("UserResponse", &[]);
            match r {
                UserResult::Found { settings, errors } => {
                    w.leaf("ErrorCode", "NoError");
                    w.leaf("ErrorMessage", "No error.");
                    w.empty("RedirectTarget", &[("i:nil", "true")]);
                    if errors.is_empty() {
                        w.empty("UserSettingErrors", &[]);
                    } else {
                        w.start("UserSettingErrors", &[]);
                        for e in errors {
                            w.start("UserSettingError", &[]);
                            w.leaf("ErrorCode", e.code.as_str());
                            write_error_message(w, &e.message);
                            w.leaf("SettingName", &e.name);
                            w.end("UserSettingError");
                        }
                        w.end("UserSettingErrors");
                    }
                    w.start("UserSettings", &[]);
                    for (name, value) in settings {
                        w.start("UserSetting", &[("i:type", "StringSetting")]);
                        w.leaf("Name", name);
                        w.leaf("Value", value);
                        w.end("UserSetting");
                    }
                    w.end("UserSettings");
                }
                UserResult::Failed { code, message } => {
                    w.leaf("ErrorCode", code.as_str());
                    write_error_message(w, message);
                    w.empty("RedirectTarget", &[("i:nil", "true")]);
                    w.empty("UserSettingErrors", &[]);
                    w.empty("UserSettings", &[]);
                }
            }
            w.end("UserResponse");
        }
        w.end("UserResponses");
        w.end("Response");
        w.end("GetUserSettingsResponseMessage");
    })
}

/// A `GetUserSettingsResponseMessage` whose whole request failed (`Response/ErrorCode`).
pub fn get_user_settings_error(code: AutodiscoverCode, message: &str) -> Vec<u8> {
    soap_envelope(|w| {
        w.start(
            "GetUserSettingsResponseMessage",
            &[("xmlns", ns::AUTODISCOVER)],
        );
        w.start("Response", &[("xmlns:i", ns::XSI)]);
        w.leaf("ErrorCode", code.as_str());
        write_error_message(w, message);
        w.empty("UserResponses", &[]);
        w.end("Response");
        w.end("GetUserSettingsResponseMessage");
    })
}

/// A SOAP 1.1 fault for a request that could not be read (sent with HTTP 500).
pub fn soap_fault(err: &EwsProtoError) -> Vec<u8> {
    let mut w = XmlOut::new();
    w.declaration();
    w.start("s:Envelope", &[("xmlns:s", ns::SOAP)]);
    w.start("s:Body", &[]);
    w.start("s:Fault", &[]);
    let code = if err.is_must_understand() {
        "s:MustUnderstand"
    } else {
        "s:Client"
    };
    w.leaf("faultcode", code);
    w.text_element("faultstring", &[("xml:lang", "en-US")], &err.to_string());
    w.end("s:Fault");
    w.end("s:Body");
    w.end("s:Envelope");
    w.finish()
}

// ----------------------------------------------------------------------
// SOAP, the client side
// ----------------------------------------------------------------------

/// The `a:RequestedServerVersion` a request from [`get_user_settings_request`] names.
pub const CLIENT_REQUESTED_VERSION: &str = "Exchange2013_SP1";

/// A `GetUserSettingsRequestMessage` asking `settings` for each of `users` (SMTP addresses), in
/// order: what [`parse_soap_request`] reads. Addresses and setting names are text, escaped (and
/// characters XML cannot carry replaced by U+FFFD), so no address can change the request's
/// structure. A server answers at most [`MAX_USERS`] users and [`MAX_SETTINGS`] settings at once;
/// the caller sends no more.
pub fn get_user_settings_request(users: &[&str], settings: &[&str]) -> Vec<u8> {
    let mut w = XmlOut::new();
    w.declaration();
    w.start(
        "s:Envelope",
        &[
            ("xmlns:s", ns::SOAP),
            ("xmlns:a", ns::AUTODISCOVER),
            ("xmlns:wsa", ns::WSA),
        ],
    );
    w.start("s:Header", &[]);
    w.leaf("a:RequestedServerVersion", CLIENT_REQUESTED_VERSION);
    w.text_element(
        "wsa:Action",
        &[("s:mustUnderstand", "1")],
        GET_USER_SETTINGS_ACTION,
    );
    w.end("s:Header");
    w.start("s:Body", &[]);
    w.start("a:GetUserSettingsRequestMessage", &[]);
    w.start("a:Request", &[]);
    w.start("a:Users", &[]);
    for u in users {
        w.start("a:User", &[]);
        w.leaf("a:Mailbox", u);
        w.end("a:User");
    }
    w.end("a:Users");
    w.start("a:RequestedSettings", &[]);
    for s in settings {
        w.leaf("a:Setting", s);
    }
    w.end("a:RequestedSettings");
    w.end("a:Request");
    w.end("a:GetUserSettingsRequestMessage");
    w.end("s:Body");
    w.end("s:Envelope");
    w.finish()
}

/// The one child `local` (Autodiscover namespace) of `parent`, if any; a second is an error.
fn opt_ad_child<'a>(parent: &'a Element, local: &'static str) -> Result<Option<&'a Element>> {
    let mut found = None;
    for c in &parent.children {
        if c.is(ns::AUTODISCOVER, local) {
            if found.is_some() {
                return Err(EwsProtoError::DuplicateElement {
                    parent: dn(parent),
                    name: dn(c),
                    position: c.position(),
                });
            }
            found = Some(c);
        }
    }
    Ok(found)
}

fn ad_child<'a>(parent: &'a Element, local: &'static str) -> Result<&'a Element> {
    opt_ad_child(parent, local)?.ok_or_else(|| missing(parent, local))
}

/// The text of the optional child `local`, trimmed; empty when it is absent or `xsi:nil`.
fn ad_text(parent: &Element, local: &'static str) -> Result<String> {
    Ok(opt_ad_child(parent, local)?
        .map(|e| e.text_trimmed().to_owned())
        .unwrap_or_default())
}

/// An `ErrorCode` element: `None` for `NoError`.
fn read_code(parent: &Element) -> Result<Option<AutodiscoverCode>> {
    let el = ad_child(parent, "ErrorCode")?;
    let text = el.text_trimmed();
    if text == "NoError" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| EwsProtoError::InvalidValue {
            context: format!("{}/a:ErrorCode", dn(parent)),
            value: echo(text),
            expected: "NoError or an MS-OXWSADISC ErrorCode (InvalidUser, InvalidDomain, …)".into(),
            position: el.position(),
        })
}

/// The local part of an `xsi:type` value (`StringSetting`, `a:StringSetting`).
fn type_local(v: &str) -> &str {
    let v = v.trim();
    v.rsplit_once(':').map_or(v, |(_, local)| local)
}

fn read_user_response(el: &Element) -> Result<UserResult> {
    if let Some(code) = read_code(el)? {
        return Ok(UserResult::Failed {
            code,
            message: ad_text(el, "ErrorMessage")?,
        });
    }
    let mut settings = Vec::new();
    if let Some(list) = opt_ad_child(el, "UserSettings")? {
        for s in &list.children {
            if !s.is(ns::AUTODISCOVER, "UserSetting") {
                return Err(EwsProtoError::UnexpectedElement {
                    parent: dn(list),
                    found: dn(s),
                    position: s.position(),
                });
            }
            // collections (WebClientUrlCollectionSetting, AlternateMailboxCollectionSetting,
            // ProtocolConnectionCollectionSetting, …) are not strings: passed over
            if s.attr_ns(ns::XSI, "type")
                .is_some_and(|t| type_local(t) != "StringSetting")
            {
                continue;
            }
            let name = ad_child(s, "Name")?.text_trimmed();
            if name.is_empty() {
                return Err(EwsProtoError::InvalidValue {
                    context: "a:UserSetting/a:Name".into(),
                    value: String::new(),
                    expected: "a setting name".into(),
                    position: s.position(),
                });
            }
            settings.push((name.to_owned(), ad_text(s, "Value")?));
        }
    }
    let mut errors = Vec::new();
    if let Some(list) = opt_ad_child(el, "UserSettingErrors")? {
        for e in &list.children {
            if !e.is(ns::AUTODISCOVER, "UserSettingError") {
                return Err(EwsProtoError::UnexpectedElement {
                    parent: dn(list),
                    found: dn(e),
                    position: e.position(),
                });
            }
            let Some(code) = read_code(e)? else {
                // a setting "error" saying NoError is no error
                continue;
            };
            errors.push(SettingError {
                name: ad_text(e, "SettingName")?,
                code,
                message: ad_text(e, "ErrorMessage")?,
            });
        }
    }
    Ok(UserResult::Found { settings, errors })
}

/// Reads a `GetUserSettingsResponseMessage` (what [`get_user_settings_response`] writes): one
/// [`UserResult`] per `UserResponse`, in the server's order (the order of the request's users).
///
/// Only `StringSetting` values are returned (a `Value` that is absent or nil reads as empty);
/// settings of other types (URL, mailbox and protocol collections) are passed over.
/// A SOAP fault is [`EwsProtoError::SoapFault`] with its `faultcode` and `faultstring`; a
/// `Response/ErrorCode` other than `NoError` (the whole request refused, as
/// [`get_user_settings_error`] writes it) is [`EwsProtoError::AutodiscoverRefused`] with that
/// code and its `ErrorMessage`. An error code
/// MS-OXWSADISC does not define is [`EwsProtoError::InvalidValue`].
pub fn parse_get_user_settings_response(input: &[u8], limits: &Limits) -> Result<Vec<UserResult>> {
    let root = xml::parse(input, limits)?;
    let (_, body) = split_envelope(&root)?;
    let msg = body_child(body)?;
    if msg.is(ns::SOAP, "Fault") {
        let text = |local: &str| {
            msg.child("", local)
                .map(|c| echo(c.text_trimmed()))
                .unwrap_or_default()
        };
        return Err(EwsProtoError::SoapFault {
            code: text("faultcode"),
            message: text("faultstring"),
        });
    }
    if !msg.is(ns::AUTODISCOVER, "GetUserSettingsResponseMessage") {
        return Err(EwsProtoError::UnexpectedElement {
            parent: dn(body),
            found: dn(msg),
            position: msg.position(),
        });
    }
    let response = ad_child(msg, "Response")?;
    if let Some(code) = read_code(response)? {
        return Err(EwsProtoError::AutodiscoverRefused {
            code: code.as_str().to_owned(),
            message: echo(&ad_text(response, "ErrorMessage")?),
        });
    }
    let users = ad_child(response, "UserResponses")?;
    users
        .children
        .iter()
        .map(|u| {
            if u.is(ns::AUTODISCOVER, "UserResponse") {
                read_user_response(u)
            } else {
                Err(EwsProtoError::UnexpectedElement {
                    parent: dn(users),
                    found: dn(u),
                    position: u.position(),
                })
            }
        })
        .collect()
}

// ----------------------------------------------------------------------
// POX
// ----------------------------------------------------------------------

/// A parsed POX Autodiscover request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoxRequest {
    pub email: String,
    pub acceptable_response_schema: String,
}

/// Reads `Autodiscover/Request/{EMailAddress, AcceptableResponseSchema}` in the Outlook
/// request schema. `LegacyDN` alone (no address) is refused: this server looks users up by
/// address only.
pub fn parse_pox_request(input: &[u8], limits: &Limits) -> Result<PoxRequest> {
    let root = xml::parse(input, limits)?;
    if !root.is(ns::POX_REQUEST, "Autodiscover") {
        return Err(EwsProtoError::NotAnAutodiscoverRequest {
            found: dn(&root),
            expected: "Autodiscover in namespace http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006",
            position: root.position(),
        });
    }
    let [request] = children_once(&root, ns::POX_REQUEST, ["Request"], &[])?;
    let request = request.ok_or_else(|| missing(&root, "Request"))?;
    let [email, schema] = children_once(
        request,
        ns::POX_REQUEST,
        ["EMailAddress", "AcceptableResponseSchema"],
        &["LegacyDN"],
    )?;
    let text = |e: Option<&Element>| e.map(|e| e.text_trimmed().to_owned());
    let (email, schema) = (text(email), text(schema));
    let email = email
        .filter(|e| !e.is_empty())
        .ok_or_else(|| missing(request, "EMailAddress"))?;
    let acceptable_response_schema = schema
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing(request, "AcceptableResponseSchema"))?;
    Ok(PoxRequest {
        email,
        acceptable_response_schema,
    })
}

/// What a POX answer tells about a user and where its EWS is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoxSettings {
    pub display_name: String,
    pub legacy_dn: String,
    pub smtp: String,
    /// The server's host name (`Protocol/Server`).
    pub server: String,
    /// The `EXCH` (inside the organization) protocol's `EwsUrl`.
    pub internal_ews_url: String,
    /// The `EXPR` (from outside) protocol's `EwsUrl`.
    pub external_ews_url: String,
}

/// The Outlook-provider answer: the user, then one `EXCH` (internal) and one `EXPR` (external)
/// protocol, each with its EWS URL.
pub fn pox_response(s: &PoxSettings) -> Vec<u8> {
    let mut w = XmlOut::new();
    w.declaration();
    w.start("Autodiscover", &[("xmlns", ns::POX_RESPONSE)]);
    w.start("Response", &[("xmlns", ns::POX_OUTLOOK_RESPONSE)]);
    w.start("User", &[]);
    w.leaf("DisplayName", &s.display_name);
    w.leaf("LegacyDN", &s.legacy_dn);
    w.leaf("AutoDiscoverSMTPAddress", &s.smtp);
    w.end("User");
    w.start("Account", &[]);
    w.leaf("AccountType", "email");
    w.leaf("Action", "settings");
    w.leaf("MicrosoftOnline", "False");
    for (kind, url) in [("EXCH", &s.internal_ews_url), ("EXPR", &s.external_ews_url)] {
        w.start("Protocol", &[]);
        w.leaf("Type", kind);
        w.leaf("Server", &s.server);
        w.leaf("EwsUrl", url);
        w.leaf(
            "SSL",
            if url.starts_with("https:") {
                "On"
            } else {
                "Off"
            },
        );
        w.end("Protocol");
    }
    w.end("Account");
    w.end("Response");
    w.end("Autodiscover");
    w.finish()
}

/// A POX error answer: `500` (the address was not found), `600` (invalid request) or `601`
/// (the requested response schema is not served).
pub fn pox_error(code: u16, message: &str, time: &str, id: &str) -> Vec<u8> {
    let mut w = XmlOut::new();
    w.declaration();
    w.start("Autodiscover", &[("xmlns", ns::POX_RESPONSE)]);
    w.start("Response", &[]);
    w.start("Error", &[("Time", time), ("Id", id)]);
    w.leaf("ErrorCode", &code.to_string());
    w.leaf("Message", message);
    w.empty("DebugData", &[]);
    w.end("Error");
    w.end("Response");
    w.end("Autodiscover");
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXCHANGELIB: &str = r#"<?xml version='1.0' encoding='utf-8'?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" xmlns:a="http://schemas.microsoft.com/exchange/2010/Autodiscover" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><s:Header><a:RequestedServerVersion>Exchange2016</a:RequestedServerVersion><wsa:Action>http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettings</wsa:Action><wsa:To>https://mail.contoso.example/autodiscover/autodiscover.svc</wsa:To></s:Header><s:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User><a:Mailbox>alice@contoso.example</a:Mailbox></a:User></a:Users><a:RequestedSettings><a:Setting>AutoDiscoverSMTPAddress</a:Setting><a:Setting>ExternalEwsUrl</a:Setting></a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage></s:Body></s:Envelope>"#;

    #[test]
    fn reads_exchangelibs_get_user_settings() {
        let r = parse_soap_request(EXCHANGELIB.as_bytes(), &Limits::default()).expect("parses");
        assert_eq!(r.requested_version.as_deref(), Some("Exchange2016"));
        assert_eq!(
            r.operation,
            SoapOperation::GetUserSettings {
                users: vec!["alice@contoso.example".into()],
                settings: vec!["AutoDiscoverSMTPAddress".into(), "ExternalEwsUrl".into()],
            }
        );
    }

    fn soap(body: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://schemas.microsoft.com/exchange/2010/Autodiscover"><s:Body>{body}</s:Body></s:Envelope>"#
        )
    }

    #[test]
    fn refuses_what_it_does_not_answer_each_with_its_reason() {
        let users = |n: usize| {
            (0..n)
                .map(|i| format!("<a:User><a:Mailbox>u{i}@c.example</a:Mailbox></a:User>"))
                .collect::<String>()
        };
        let get = |users: &str, settings: &str| {
            soap(&format!(
                "<a:GetUserSettingsRequestMessage><a:Request><a:Users>{users}</a:Users><a:RequestedSettings>{settings}</a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage>"
            ))
        };
        let one = users(1);
        let s = "<a:Setting>ExternalEwsUrl</a:Setting>";
        let cases: Vec<(String, &str)> = vec![
            (
                soap("<a:GetDomainSettingsRequestMessage/>"),
                "valid EWS but not supported",
            ),
            (
                soap("<x:GetUserSettingsRequestMessage xmlns:x=\"urn:other\"/>"),
                "is not an Autodiscover request",
            ),
            (get("", s), "missing the required element a:User"),
            (get(&one, ""), "missing the required element a:Setting"),
            (get(&users(MAX_USERS + 1), s), "more than 100 users"),
            (
                get(&one, &"<a:Setting>X</a:Setting>".repeat(MAX_SETTINGS + 1)),
                "more than 200 settings",
            ),
            (
                get("<a:User><a:Mailbox> </a:Mailbox></a:User>", s),
                "an SMTP address",
            ),
            (get(&one, "<a:Setting/>"), "a setting name"),
            (
                get(&format!("{one}<a:Other/>"), s),
                "unexpected element a:Other",
            ),
            (
                soap("<a:GetUserSettingsRequestMessage/>"),
                "missing the required element Request",
            ),
            ("<a/>".into(), "expected soap:Envelope"),
        ];
        for (input, want) in cases {
            let e = parse_soap_request(input.as_bytes(), &Limits::default())
                .expect_err(&input[..input.len().min(200)]);
            assert!(e.to_string().contains(want), "{want:?} not in {e}");
        }
    }

    #[test]
    fn a_must_understand_header_it_does_not_know_is_refused() {
        let input = r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://schemas.microsoft.com/exchange/2010/Autodiscover"><s:Header><x:Sec xmlns:x="urn:x" s:mustUnderstand="1"/></s:Header><s:Body><a:GetUserSettingsRequestMessage/></s:Body></s:Envelope>"#;
        let e = parse_soap_request(input.as_bytes(), &Limits::default()).expect_err("refused");
        assert!(e.is_must_understand(), "{e}");
        let fault = String::from_utf8(soap_fault(&e)).expect("utf8");
        assert!(
            fault.contains("<faultcode>s:MustUnderstand</faultcode>"),
            "{fault}"
        );
    }

    #[test]
    fn reads_a_pox_request_and_refuses_a_bad_one() {
        let ok = r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@contoso.example</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>"#;
        let r = parse_pox_request(ok.as_bytes(), &Limits::default()).expect("parses");
        assert_eq!(r.email, "alice@contoso.example");
        assert_eq!(r.acceptable_response_schema, ns::POX_OUTLOOK_RESPONSE);
        for (bad, want) in [
            (
                r#"<Autodiscover xmlns="urn:x"><Request/></Autodiscover>"#,
                "is not an Autodiscover request",
            ),
            (
                r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><AcceptableResponseSchema>x</AcceptableResponseSchema></Request></Autodiscover>"#,
                "missing the required element EMailAddress",
            ),
            (
                r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>a@b</EMailAddress></Request></Autodiscover>"#,
                "missing the required element AcceptableResponseSchema",
            ),
            (
                r#"<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"></Autodiscover>"#,
                "missing the required element Request",
            ),
        ] {
            let e = parse_pox_request(bad.as_bytes(), &Limits::default()).expect_err(bad);
            assert!(e.to_string().contains(want), "{want:?} not in {e}");
        }
    }

    #[test]
    fn writes_user_responses_in_order_with_their_errors() {
        let out = get_user_settings_response(&[
            UserResult::Found {
                settings: vec![(
                    "ExternalEwsUrl".into(),
                    "https://mail.contoso.example/EWS/Exchange.asmx".into(),
                )],
                errors: vec![SettingError {
                    name: "AlternateMailboxes".into(),
                    code: AutodiscoverCode::SettingIsNotAvailable,
                    message: "not available".into(),
                }],
            },
            UserResult::Failed {
                code: AutodiscoverCode::InvalidUser,
                message: "no <mailbox>".into(),
            },
        ]);
        let text = String::from_utf8(out).expect("utf8");
        let first = text.find("<Value>https://mail.contoso.example/EWS/Exchange.asmx</Value>");
        let second = text.find("<ErrorCode>InvalidUser</ErrorCode>");
        assert!(
            first.is_some() && second.is_some() && first < second,
            "{text}"
        );
        assert!(text.contains("<SettingName>AlternateMailboxes</SettingName>"));
        assert!(text.contains("no &lt;mailbox&gt;"), "escaped: {text}");
        // the whole answer is a well-formed document in the Autodiscover namespace
        let root = xml::parse(text.as_bytes(), &Limits::default()).expect("well-formed");
        let (_, body) = split_envelope(&root).expect("envelope");
        assert!(body.children[0].is(ns::AUTODISCOVER, "GetUserSettingsResponseMessage"));
    }

    // ------------------------------------------------------------------
    // the client side: request writer and response reader
    // ------------------------------------------------------------------

    #[test]
    fn request_writer_round_trips_through_the_server_reader_with_addresses_escaped() {
        let users = [
            "alice@contoso.example",
            "o'brien&co<x>\"q\"@contoso.example",
            "</a:Mailbox></a:User><a:User><a:Mailbox>mallory@contoso.example",
        ];
        let settings = ["ExternalEwsUrl", "InternalEwsUrl"];
        let req = get_user_settings_request(&users, &settings);
        let r = parse_soap_request(&req, &Limits::default()).expect("the server reads it");
        assert_eq!(
            r.requested_version.as_deref(),
            Some(CLIENT_REQUESTED_VERSION)
        );
        assert_eq!(
            r.operation,
            SoapOperation::GetUserSettings {
                users: users.iter().map(|u| (*u).to_owned()).collect(),
                settings: settings.iter().map(|s| (*s).to_owned()).collect(),
            },
            "three users, each exactly as given: markup in an address stays text"
        );
        let text = String::from_utf8(req).expect("utf8");
        assert!(text.contains(GET_USER_SETTINGS_ACTION), "{text}");
        assert!(!text.contains("<x>"), "{text}");
        // a character XML cannot carry does not make the request unreadable
        let req = get_user_settings_request(&["a\u{1}b@contoso.example"], &settings);
        let r = parse_soap_request(&req, &Limits::default()).expect("still well-formed");
        let SoapOperation::GetUserSettings { users, .. } = r.operation;
        assert_eq!(users, ["a\u{FFFD}b@contoso.example"]);
    }

    fn found(url: &str) -> UserResult {
        UserResult::Found {
            settings: vec![
                ("ExternalEwsUrl".into(), url.into()),
                ("InternalEwsUrl".into(), String::new()),
                (
                    "AutoDiscoverSMTPAddress".into(),
                    "a&b@contoso.example".into(),
                ),
            ],
            errors: vec![
                SettingError {
                    name: "AlternateMailboxes".into(),
                    code: AutodiscoverCode::SettingIsNotAvailable,
                    message: "This server has no value for AlternateMailboxes.".into(),
                },
                SettingError {
                    name: "Bogus".into(),
                    code: AutodiscoverCode::InvalidSetting,
                    message: String::new(),
                },
            ],
        }
    }

    #[test]
    fn response_reader_round_trips_what_the_server_writes() {
        let mut results = vec![
            found("https://mail.contoso.example/EWS/Exchange.asmx?x=1&y=<2>"),
            UserResult::Found {
                settings: vec![],
                errors: vec![],
            },
        ];
        for code in AutodiscoverCode::ALL {
            results.push(UserResult::Failed {
                code,
                message: format!("{code} for <nobody@contoso.example>"),
            });
        }
        results.push(UserResult::Failed {
            code: AutodiscoverCode::InvalidDomain,
            message: String::new(),
        });
        let wire = get_user_settings_response(&results);
        let back = parse_get_user_settings_response(&wire, &Limits::default()).expect("reads");
        assert_eq!(back, results);
        assert!(
            parse_get_user_settings_response(&get_user_settings_response(&[]), &Limits::default())
                .expect("reads")
                .is_empty()
        );
    }

    #[test]
    fn a_whole_request_error_and_a_fault_are_told_apart() {
        let wire = get_user_settings_error(AutodiscoverCode::ServerBusy, "try again <later>");
        assert_eq!(
            parse_get_user_settings_response(&wire, &Limits::default()),
            Err(EwsProtoError::AutodiscoverRefused {
                code: "ServerBusy".into(),
                message: "try again <later>".into(),
            })
        );
        let wire = soap_fault(&EwsProtoError::MissingSoapBody);
        match parse_get_user_settings_response(&wire, &Limits::default()) {
            Err(EwsProtoError::SoapFault { code, message }) => {
                assert_eq!(code, "s:Client");
                assert!(message.contains("soap:Body"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    /// An answer as Exchange Server 2016 writes it: its own prefixes, whitespace, a nil value,
    /// a collection setting, a prefixed `i:type`.
    const EXCHANGE_ANSWER: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://www.w3.org/2005/08/addressing">
  <s:Header>
    <a:Action s:mustUnderstand="1">http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettingsResponse</a:Action>
    <h:ServerVersionInfo xmlns:h="http://schemas.microsoft.com/exchange/2010/Autodiscover" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
      <h:MajorVersion>15</h:MajorVersion>
      <h:MinorVersion>1</h:MinorVersion>
      <h:MajorBuildNumber>2507</h:MajorBuildNumber>
      <h:MinorBuildNumber>6</h:MinorBuildNumber>
      <h:Version>Exchange2015</h:Version>
    </h:ServerVersionInfo>
  </s:Header>
  <s:Body>
    <GetUserSettingsResponseMessage xmlns="http://schemas.microsoft.com/exchange/2010/Autodiscover">
      <Response xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
        <ErrorCode>NoError</ErrorCode>
        <ErrorMessage />
        <UserResponses>
          <UserResponse>
            <ErrorCode>NoError</ErrorCode>
            <ErrorMessage>No error.</ErrorMessage>
            <RedirectTarget i:nil="true" />
            <UserSettingErrors />
            <UserSettings>
              <UserSetting i:type="StringSetting">
                <Name>ExternalEwsUrl</Name>
                <Value>https://mail.contoso.com/EWS/Exchange.asmx</Value>
              </UserSetting>
              <UserSetting i:type="WebClientUrlCollectionSetting">
                <Name>ExternalWebClientUrls</Name>
                <WebClientUrls><WebClientUrl><AuthenticationMethods>Fba</AuthenticationMethods><Url>https://mail.contoso.com/owa/</Url></WebClientUrl></WebClientUrls>
              </UserSetting>
              <UserSetting xmlns:x="http://schemas.microsoft.com/exchange/2010/Autodiscover" i:type="x:StringSetting">
                <Name>InternalEwsUrl</Name>
                <Value i:nil="true" />
              </UserSetting>
            </UserSettings>
          </UserResponse>
          <UserResponse>
            <ErrorCode>InvalidUser</ErrorCode>
            <ErrorMessage>Invalid user: 'nobody@contoso.com'</ErrorMessage>
            <RedirectTarget i:nil="true" />
            <UserSettingErrors />
            <UserSettings />
          </UserResponse>
        </UserResponses>
      </Response>
    </GetUserSettingsResponseMessage>
  </s:Body>
</s:Envelope>"#;

    #[test]
    fn reads_exchanges_own_answer() {
        let r = parse_get_user_settings_response(EXCHANGE_ANSWER.as_bytes(), &Limits::default())
            .expect("reads");
        assert_eq!(
            r,
            [
                UserResult::Found {
                    settings: vec![
                        (
                            "ExternalEwsUrl".into(),
                            "https://mail.contoso.com/EWS/Exchange.asmx".into()
                        ),
                        ("InternalEwsUrl".into(), String::new()),
                    ],
                    errors: vec![],
                },
                UserResult::Failed {
                    code: AutodiscoverCode::InvalidUser,
                    message: "Invalid user: 'nobody@contoso.com'".into(),
                },
            ]
        );
    }

    #[test]
    fn refuses_what_is_not_a_get_user_settings_answer_each_with_its_reason() {
        let ok =
            String::from_utf8(get_user_settings_response(&[found("https://x/EWS")])).expect("utf8");
        let cases: Vec<(String, &str)> = vec![
            (
                ok.replace("<ErrorCode>InvalidSetting", "<ErrorCode>Whatever"),
                "has the invalid value \"Whatever\"",
            ),
            (
                ok.replacen("<ErrorCode>NoError</ErrorCode>", "", 1),
                "missing the required element ErrorCode",
            ),
            (
                ok.replace("<UserResponses>", "<UserResponses><Other/>"),
                "unexpected element a:Other",
            ),
            (
                ok.replace("<Name>ExternalEwsUrl</Name>", ""),
                "missing the required element Name",
            ),
            (
                ok.replace("<UserSettings>", "<UserSettings><Stray/>"),
                "unexpected element a:Stray",
            ),
            (
                ok.replace("<UserSettingErrors>", "<UserSettingErrors><Stray/>"),
                "unexpected element a:Stray",
            ),
            (
                ok.replace(
                    "<ErrorMessage/><UserResponses>",
                    "<ErrorMessage/><UserResponses/><UserResponses>",
                ),
                "appears more than once",
            ),
            (
                ok.replace("GetUserSettingsResponseMessage", "GetDomainSettingsResponseMessage"),
                "unexpected element a:GetDomainSettingsResponseMessage",
            ),
            (
                r#"<!DOCTYPE x [<!ENTITY e "e">]><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>"#.into(),
                "DOCTYPE",
            ),
            ("<html>502 Bad Gateway</html>".into(), "expected soap:Envelope"),
        ];
        for (input, want) in cases {
            assert_ne!(input, ok, "the case changed nothing: {want}");
            let e = parse_get_user_settings_response(input.as_bytes(), &Limits::default())
                .expect_err(want);
            assert!(e.to_string().contains(want), "{want:?} not in {e}");
        }
        // the caller's size bound holds
        let small = Limits {
            max_input_bytes: 100,
            ..Limits::default()
        };
        assert!(matches!(
            parse_get_user_settings_response(ok.as_bytes(), &small),
            Err(EwsProtoError::InputTooLarge { limit: 100, .. })
        ));
    }

    #[test]
    fn codes_read_as_written() {
        for code in AutodiscoverCode::ALL {
            assert_eq!(code.as_str().parse::<AutodiscoverCode>(), Ok(code));
        }
        assert!("NoError".parse::<AutodiscoverCode>().is_err());
        assert!("invaliduser".parse::<AutodiscoverCode>().is_err());
    }
}
