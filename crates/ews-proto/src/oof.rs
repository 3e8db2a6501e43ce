//! Out-of-office settings (MS-OXWOOF): `GetUserOofSettingsRequest` and
//! `SetUserOofSettingsRequest`, their parsers and their answers. These are availability-style
//! operations: the request element's name ends in `Request`, and the answer holds one
//! `m:ResponseMessage` (not `m:ResponseMessages`), then for Get the `t:OofSettings` and
//! `m:AllowExternalOof`.

use time::OffsetDateTime;

use crate::error::{EwsProtoError, dn};
use crate::ns::{MESSAGES, TYPES};
use crate::request::{datetime_text, enum_text, opt_child, req_child, set_once, unexpected};
use crate::response::{ResponseError, dt, response_envelope, write_error_body};
use crate::types::str_enum;
use crate::xml::Element;

type Result<T> = std::result::Result<T, EwsProtoError>;

str_enum! {
    /// `t:OofState`.
    pub enum OofState ("OofState") {
        Disabled = "Disabled",
        Enabled = "Enabled",
        Scheduled = "Scheduled",
    }
}

str_enum! {
    /// `t:ExternalAudience` and `m:AllowExternalOof`: who outside the organization gets the
    /// external reply.
    pub enum ExternalAudience ("ExternalAudience") {
        None = "None",
        Known = "Known",
        All = "All",
    }
}

/// A mailbox's out-of-office settings, as Get answers them and Set gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OofSettings {
    pub state: OofState,
    pub external_audience: ExternalAudience,
    /// `t:Duration`: when a `Scheduled` state is on (`[start, end)`).
    pub duration: Option<(OffsetDateTime, OffsetDateTime)>,
    /// `t:InternalReply/t:Message`: the reply to senders inside the organization.
    pub internal_reply: String,
    /// `t:ExternalReply/t:Message`.
    pub external_reply: String,
}

/// `m:GetUserOofSettingsRequest`: the mailbox whose settings are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetUserOofSettings {
    /// `t:Mailbox/t:Address`.
    pub address: String,
}

/// `m:SetUserOofSettingsRequest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetUserOofSettings {
    /// `t:Mailbox/t:Address`.
    pub address: String,
    /// `t:UserOofSettings`; an absent reply is `None` (the stored one is kept).
    pub state: OofState,
    pub external_audience: ExternalAudience,
    pub duration: Option<(OffsetDateTime, OffsetDateTime)>,
    pub internal_reply: Option<String>,
    pub external_reply: Option<String>,
}

/// `t:Mailbox` of an availability request (`t:Name`, `t:Address`, `t:RoutingType`): the address.
fn mailbox_address(op: &Element) -> Result<String> {
    let mailbox = req_child(op, TYPES, "Mailbox")?;
    let mut address = None;
    for child in &mailbox.children {
        if &*child.ns != TYPES {
            return Err(unexpected(mailbox, child));
        }
        match child.local.as_str() {
            "Address" => set_once(
                &mut address,
                mailbox,
                child,
                child.text_trimmed().to_owned(),
            )?,
            "Name" | "RoutingType" => {}
            _ => return Err(unexpected(mailbox, child)),
        }
    }
    match address {
        Some(a) if !a.is_empty() => Ok(a),
        _ => Err(EwsProtoError::MissingElement {
            parent: dn(mailbox),
            name: "Address",
            position: mailbox.position(),
        }),
    }
}

/// Only `allowed` children, all in the types namespace but the operation's own.
fn check_types_children(op: &Element, allowed: &[&str]) -> Result<()> {
    for child in &op.children {
        if &*child.ns != TYPES || !allowed.contains(&child.local.as_str()) {
            return Err(unexpected(op, child));
        }
    }
    Ok(())
}

pub(crate) fn parse_get(op: &Element) -> Result<GetUserOofSettings> {
    check_types_children(op, &["Mailbox"])?;
    Ok(GetUserOofSettings {
        address: mailbox_address(op)?,
    })
}

/// `t:InternalReply`/`t:ExternalReply`: one `t:Message` (absent or empty: an empty reply).
fn reply(el: &Element) -> Result<String> {
    for child in &el.children {
        if !child.is(TYPES, "Message") {
            return Err(unexpected(el, child));
        }
    }
    Ok(opt_child(el, TYPES, "Message")?
        .map(|m| m.text.clone())
        .unwrap_or_default())
}

pub(crate) fn parse_set(op: &Element) -> Result<SetUserOofSettings> {
    check_types_children(op, &["Mailbox", "UserOofSettings"])?;
    let address = mailbox_address(op)?;
    let settings = req_child(op, TYPES, "UserOofSettings")?;
    let (mut state, mut audience, mut duration, mut internal, mut external) =
        (None, None, None, None, None);
    for child in &settings.children {
        if &*child.ns != TYPES {
            return Err(unexpected(settings, child));
        }
        match child.local.as_str() {
            "OofState" => set_once(
                &mut state,
                settings,
                child,
                enum_text(child, OofState::ALL)?,
            )?,
            "ExternalAudience" => set_once(
                &mut audience,
                settings,
                child,
                enum_text(child, ExternalAudience::ALL)?,
            )?,
            "Duration" => {
                for c in &child.children {
                    if !(c.is(TYPES, "StartTime") || c.is(TYPES, "EndTime")) {
                        return Err(unexpected(child, c));
                    }
                }
                let start = datetime_text(req_child(child, TYPES, "StartTime")?)?;
                let end = datetime_text(req_child(child, TYPES, "EndTime")?)?;
                set_once(&mut duration, settings, child, (start, end))?;
            }
            "InternalReply" => set_once(&mut internal, settings, child, reply(child)?)?,
            "ExternalReply" => set_once(&mut external, settings, child, reply(child)?)?,
            _ => return Err(unexpected(settings, child)),
        }
    }
    let missing = |name| EwsProtoError::MissingElement {
        parent: dn(settings),
        name,
        position: settings.position(),
    };
    Ok(SetUserOofSettings {
        address,
        state: state.ok_or_else(|| missing("OofState"))?,
        external_audience: audience.unwrap_or(ExternalAudience::All),
        duration,
        internal_reply: internal,
        external_reply: external,
    })
}

fn write_reply(w: &mut crate::writer::XmlOut, name: &str, text: &str) {
    w.start(name, &[]);
    w.leaf("t:Message", text);
    w.end(name);
}

/// `GetUserOofSettingsResponse`: the response message, then the settings and who outside the
/// organization may get the external reply (`m:AllowExternalOof`).
pub fn get_user_oof_settings_response(
    result: &std::result::Result<OofSettings, ResponseError>,
    allow_external: ExternalAudience,
) -> Vec<u8> {
    response_envelope(|w| {
        w.start(
            "m:GetUserOofSettingsResponse",
            &[("xmlns:m", MESSAGES), ("xmlns:t", TYPES)],
        );
        match result {
            Ok(s) => {
                w.start("m:ResponseMessage", &[("ResponseClass", "Success")]);
                w.leaf("m:ResponseCode", "NoError");
                w.end("m:ResponseMessage");
                w.start("t:OofSettings", &[]);
                w.leaf("t:OofState", s.state.as_str());
                w.leaf("t:ExternalAudience", s.external_audience.as_str());
                if let Some((start, end)) = s.duration {
                    w.start("t:Duration", &[]);
                    w.leaf("t:StartTime", &dt(start));
                    w.leaf("t:EndTime", &dt(end));
                    w.end("t:Duration");
                }
                write_reply(w, "t:InternalReply", &s.internal_reply);
                write_reply(w, "t:ExternalReply", &s.external_reply);
                w.end("t:OofSettings");
                w.leaf("m:AllowExternalOof", allow_external.as_str());
            }
            Err(e) => {
                w.start("m:ResponseMessage", &[("ResponseClass", e.class.as_str())]);
                write_error_body(w, e);
                w.end("m:ResponseMessage");
            }
        }
        w.end("m:GetUserOofSettingsResponse");
    })
}

/// `SetUserOofSettingsResponse`: one response message.
pub fn set_user_oof_settings_response(result: &std::result::Result<(), ResponseError>) -> Vec<u8> {
    response_envelope(|w| {
        w.start(
            "m:SetUserOofSettingsResponse",
            &[("xmlns:m", MESSAGES), ("xmlns:t", TYPES)],
        );
        match result {
            Ok(()) => {
                w.start("m:ResponseMessage", &[("ResponseClass", "Success")]);
                w.leaf("m:ResponseCode", "NoError");
                w.end("m:ResponseMessage");
            }
            Err(e) => {
                w.start("m:ResponseMessage", &[("ResponseClass", e.class.as_str())]);
                write_error_body(w, e);
                w.end("m:ResponseMessage");
            }
        }
        w.end("m:SetUserOofSettingsResponse");
    })
}

/// Reads a `GetUserOofSettingsResponse` (a client's side): the settings, or the error its
/// response message names. A fault or an answer of another shape is an `EwsProtoError`.
pub fn parse_get_user_oof_settings_response(
    input: &[u8],
    limits: &crate::xml::Limits,
) -> Result<std::result::Result<OofSettings, ResponseError>> {
    let r = crate::response::parse_response(input, limits)?;
    let Some(m) = r.messages.first() else {
        return Err(EwsProtoError::MissingElement {
            parent: r.response,
            name: "ResponseMessage",
            position: 0,
        });
    };
    if m.code != "NoError" {
        return Ok(Err(ResponseError::new(
            &m.code,
            m.text.as_deref().unwrap_or_default(),
        )));
    }
    oof_settings_of(&m.element).map(Ok)
}

/// The `t:OofSettings` of a `GetUserOofSettingsResponse` element (as
/// [`crate::response::parse_response`] gives it: the message's element is the whole response).
pub fn oof_settings_of(response: &Element) -> Result<OofSettings> {
    if !response.is(MESSAGES, "GetUserOofSettingsResponse") {
        return Err(EwsProtoError::UnexpectedElement {
            parent: "soap:Body".to_owned(),
            found: dn(response),
            position: response.position(),
        });
    }
    let settings = req_child(response, TYPES, "OofSettings")?;
    let reply_of = |name| -> Result<String> {
        Ok(match opt_child(settings, TYPES, name)? {
            Some(r) => opt_child(r, TYPES, "Message")?
                .map(|m| m.text.clone())
                .unwrap_or_default(),
            None => String::new(),
        })
    };
    let duration = match opt_child(settings, TYPES, "Duration")? {
        Some(d) => Some((
            datetime_text(req_child(d, TYPES, "StartTime")?)?,
            datetime_text(req_child(d, TYPES, "EndTime")?)?,
        )),
        None => None,
    };
    Ok(OofSettings {
        state: enum_text(req_child(settings, TYPES, "OofState")?, OofState::ALL)?,
        external_audience: match opt_child(settings, TYPES, "ExternalAudience")? {
            Some(a) => enum_text(a, ExternalAudience::ALL)?,
            None => ExternalAudience::All,
        },
        duration,
        internal_reply: reply_of("InternalReply")?,
        external_reply: reply_of("ExternalReply")?,
    })
}

impl OofSettings {
    /// Whether automatic replies go out at `now` (Enabled, or Scheduled and inside its
    /// `[start, end)`).
    pub fn is_on(&self, now: OffsetDateTime) -> bool {
        match self.state {
            OofState::Disabled => false,
            OofState::Enabled => true,
            OofState::Scheduled => self
                .duration
                .is_some_and(|(start, end)| start <= now && now < end),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Operation;
    use crate::xml::Limits;

    fn op(body: &str) -> Result<Operation> {
        crate::request::test_op(body)
    }

    const MAILBOX: &str = "<t:Mailbox><t:Name>Alice</t:Name><t:Address>alice@contoso.example</t:Address><t:RoutingType>SMTP</t:RoutingType></t:Mailbox>";

    #[test]
    fn parses_get_and_set_as_exchangelib_writes_them() {
        let Operation::GetUserOofSettings(g) = op(&format!(
            "<m:GetUserOofSettingsRequest>{MAILBOX}</m:GetUserOofSettingsRequest>"
        ))
        .unwrap() else {
            panic!("not Get")
        };
        assert_eq!(g.address, "alice@contoso.example");
        let Operation::SetUserOofSettings(s) = op(&format!(
            "<m:SetUserOofSettingsRequest>{MAILBOX}<t:UserOofSettings><t:OofState>Scheduled</t:OofState><t:ExternalAudience>Known</t:ExternalAudience><t:Duration><t:StartTime>2026-12-01T00:00:00Z</t:StartTime><t:EndTime>2026-12-08T00:00:00Z</t:EndTime></t:Duration><t:InternalReply><t:Message>Back on the 8th &amp; then some</t:Message></t:InternalReply><t:ExternalReply><t:Message/></t:ExternalReply></t:UserOofSettings></m:SetUserOofSettingsRequest>"
        ))
        .unwrap() else {
            panic!("not Set")
        };
        assert_eq!(s.state, OofState::Scheduled);
        assert_eq!(s.external_audience, ExternalAudience::Known);
        let (start, end) = s.duration.unwrap();
        assert_eq!(end - start, time::Duration::days(7));
        assert_eq!(
            s.internal_reply.as_deref(),
            Some("Back on the 8th & then some")
        );
        assert_eq!(s.external_reply.as_deref(), Some(""));
    }

    #[test]
    fn schema_violations_are_precise() {
        let set = |settings: &str| {
            format!(
                "<m:SetUserOofSettingsRequest>{MAILBOX}<t:UserOofSettings>{settings}</t:UserOofSettings></m:SetUserOofSettingsRequest>"
            )
        };
        let cases = [
            "<m:GetUserOofSettingsRequest/>".to_owned(),
            "<m:GetUserOofSettingsRequest><t:Mailbox><t:Name>x</t:Name></t:Mailbox></m:GetUserOofSettingsRequest>".to_owned(),
            format!("<m:GetUserOofSettingsRequest>{MAILBOX}{MAILBOX}</m:GetUserOofSettingsRequest>"),
            format!("<m:GetUserOofSettingsRequest>{MAILBOX}<t:Bogus/></m:GetUserOofSettingsRequest>"),
            set("<t:ExternalAudience>All</t:ExternalAudience>"),
            set("<t:OofState>Sometimes</t:OofState>"),
            set("<t:OofState>Enabled</t:OofState><t:OofState>Enabled</t:OofState>"),
            set("<t:OofState>Scheduled</t:OofState><t:Duration><t:StartTime>2026-12-01T00:00:00Z</t:StartTime></t:Duration>"),
            set("<t:OofState>Enabled</t:OofState><t:InternalReply><t:Other/></t:InternalReply>"),
        ];
        for c in cases {
            assert!(op(&c).is_err(), "accepted {c}");
        }
    }

    #[test]
    fn answers_have_one_response_message_then_the_settings() {
        let s = OofSettings {
            state: OofState::Enabled,
            external_audience: ExternalAudience::All,
            duration: Some((
                OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
                OffsetDateTime::from_unix_timestamp(1_800_086_400).unwrap(),
            )),
            internal_reply: "Away <until> Monday".into(),
            external_reply: String::new(),
        };
        let body = String::from_utf8(get_user_oof_settings_response(
            &Ok(s),
            ExternalAudience::All,
        ))
        .unwrap();
        let at = |t: &str| body.find(t).unwrap_or_else(|| panic!("no {t} in {body}"));
        assert!(at("<m:ResponseMessage ResponseClass=\"Success\">") < at("<t:OofSettings>"));
        assert!(at("</t:OofSettings>") < at("<m:AllowExternalOof>All</m:AllowExternalOof>"));
        assert!(
            body.contains("<t:Message>Away &lt;until&gt; Monday</t:Message>"),
            "{body}"
        );
        assert!(
            body.contains("<t:StartTime>2027-01-15T08:00:00Z</t:StartTime>"),
            "{body}"
        );
        // and read back as a client reads it
        let back = parse_get_user_oof_settings_response(body.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(back.internal_reply, "Away <until> Monday");
        assert_eq!(back.state, OofState::Enabled);
        let refused = get_user_oof_settings_response(
            &Err(ResponseError::new("ErrorAccessDenied", "not yours")),
            ExternalAudience::All,
        );
        let e = parse_get_user_oof_settings_response(&refused, &Limits::default())
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ErrorAccessDenied", "not yours")
        );
        let err = String::from_utf8(set_user_oof_settings_response(&Err(ResponseError::new(
            "ErrorInvalidScheduledOofDuration",
            "no",
        ))))
        .unwrap();
        assert!(
            err.contains("<m:ResponseMessage ResponseClass=\"Error\">"),
            "{err}"
        );
        assert!(err.contains("ErrorInvalidScheduledOofDuration"), "{err}");
    }
}
