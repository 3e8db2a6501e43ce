//! Mail tips (MS-OXWMT): `m:GetMailTips`, its parser and its answer.
//!
//! The request names who is sending (`m:SendingAs`), the recipients (`m:Recipients`, one
//! `t:Mailbox` each) and which tips are wanted (`m:MailTipsRequested`, an `xs:list` of
//! `t:MailTipTypes`). The answer is a `GetMailTipsResponse` that is itself a response message
//! (`ResponseClass`, `ResponseCode`), holding one `m:MailTipsResponseMessageType` per recipient,
//! in the order asked, each with an `m:MailTips` whose tips are in the `types` namespace in the
//! schema's order. exchangelib 5.6 writes the list as the text of `m:GetMailTips` itself,
//! without its element; that text is read as the list when the element is absent. A refusal of
//! the whole request is the `GetMailTipsResponse` alone with the
//! error ([`error_response`]), which is how clients such as exchangelib read it.

use time::OffsetDateTime;

use crate::error::{EwsProtoError, dn};
use crate::ns::{MESSAGES, TYPES};
use crate::request::{invalid, parse_mailbox, req_child, set_once, unexpected};
use crate::response::{ResponseError, dt, write_error_body};
use crate::types::{Mailbox, str_enum};
use crate::xml::Element;

type Result<T> = std::result::Result<T, EwsProtoError>;

str_enum! {
    /// One `t:MailTipTypes` value of `m:MailTipsRequested` (Exchange 2010's list; `All` is
    /// every one of them).
    pub enum MailTipType ("MailTipTypes") {
        All = "All",
        OutOfOfficeMessage = "OutOfOfficeMessage",
        MailboxFullStatus = "MailboxFullStatus",
        CustomMailTip = "CustomMailTip",
        ExternalMemberCount = "ExternalMemberCount",
        TotalMemberCount = "TotalMemberCount",
        MaxMessageSize = "MaxMessageSize",
        DeliveryRestriction = "DeliveryRestriction",
        ModerationStatus = "ModerationStatus",
        InvalidRecipient = "InvalidRecipient",
    }
}

impl MailTipType {
    fn bit(self) -> u16 {
        match self {
            Self::All => TipSet::ALL.0,
            other => 1 << (other as u16 - 1),
        }
    }
}

/// A set of mail tip types (what was asked for, or what is still pending).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TipSet(u16);

impl TipSet {
    pub const NONE: TipSet = TipSet(0);
    /// Every type but `All` itself.
    pub const ALL: TipSet = TipSet((1 << 9) - 1);

    pub fn of(types: &[MailTipType]) -> TipSet {
        TipSet(types.iter().fold(0, |acc, t| acc | t.bit()))
    }

    pub fn has(self, t: MailTipType) -> bool {
        self.0 & t.bit() == t.bit()
    }

    pub fn with(self, t: MailTipType) -> TipSet {
        TipSet(self.0 | t.bit())
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The `xs:list` spelling: `All`, or the types in schema order separated by spaces.
    pub fn to_list(self) -> String {
        if self == TipSet::ALL {
            return "All".to_owned();
        }
        MailTipType::ALL[1..]
            .iter()
            .filter(|t| self.has(**t))
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `m:GetMailTips`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetMailTips {
    /// `m:SendingAs/t:EmailAddress`: who the message would be sent as.
    pub sending_as: String,
    /// `m:Recipients`: each `t:Mailbox` as given.
    pub recipients: Vec<Mailbox>,
    pub requested: TipSet,
}

/// A recipient's out-of-office tip: its automatic reply (empty when it is not away) and, for a
/// scheduled one, its period.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutOfOfficeTip {
    pub message: String,
    pub duration: Option<(OffsetDateTime, OffsetDateTime)>,
}

/// `m:MailTips` of one recipient: each tip `None` unless it was asked for and known.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailTips {
    /// `t:RecipientAddress`.
    pub recipient: Mailbox,
    /// `t:PendingMailTips`: asked for, but not evaluated.
    pub pending: TipSet,
    pub out_of_office: Option<OutOfOfficeTip>,
    pub mailbox_full: Option<bool>,
    pub custom_mail_tip: Option<String>,
    pub total_member_count: Option<u32>,
    pub external_member_count: Option<u32>,
    pub max_message_size: Option<u64>,
    pub delivery_restricted: Option<bool>,
    pub is_moderated: Option<bool>,
    pub invalid_recipient: Option<bool>,
}

/// `m:MailTipsRequested`: an `xs:list` of `t:MailTipTypes`, at least one.
fn requested(el: &Element) -> Result<TipSet> {
    let mut types = Vec::new();
    for token in el.text.split_ascii_whitespace() {
        let t = token.parse::<MailTipType>().map_err(|_| {
            invalid(
                el,
                dn(el),
                token,
                "a list of: All, OutOfOfficeMessage, MailboxFullStatus, CustomMailTip, ExternalMemberCount, TotalMemberCount, MaxMessageSize, DeliveryRestriction, ModerationStatus, InvalidRecipient",
            )
        })?;
        types.push(t);
    }
    if types.is_empty() {
        return Err(invalid(
            el,
            dn(el),
            &el.text,
            "at least one mail tip type (All for every one)",
        ));
    }
    Ok(TipSet::of(&types))
}

pub(crate) fn parse(op: &Element) -> Result<GetMailTips> {
    let (mut sending_as, mut recipients, mut tips) = (None, None, None);
    for child in &op.children {
        if &*child.ns != MESSAGES {
            return Err(unexpected(op, child));
        }
        match child.local.as_str() {
            "SendingAs" => set_once(&mut sending_as, op, child, parse_mailbox(child)?)?,
            "Recipients" => {
                let list = child
                    .children
                    .iter()
                    .map(|m| {
                        if m.is(TYPES, "Mailbox") {
                            parse_mailbox(m)
                        } else {
                            Err(unexpected(child, m))
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                set_once(&mut recipients, op, child, list)?;
            }
            "MailTipsRequested" => set_once(&mut tips, op, child, requested(child)?)?,
            _ => return Err(unexpected(op, child)),
        }
    }
    let missing = |name| EwsProtoError::MissingElement {
        parent: dn(op),
        name,
        position: op.position(),
    };
    let sending_as = sending_as.ok_or_else(|| missing("SendingAs"))?;
    let address = match sending_as.email_address {
        Some(a) if !a.is_empty() => a,
        _ => {
            return Err(EwsProtoError::MissingElement {
                parent: "m:SendingAs".to_owned(),
                name: "EmailAddress",
                position: req_child(op, MESSAGES, "SendingAs")?.position(),
            });
        }
    };
    let recipients = recipients.ok_or_else(|| missing("Recipients"))?;
    if recipients.is_empty() {
        return Err(missing("Mailbox"));
    }
    // exchangelib (5.6) writes the list as the text of `m:GetMailTips` itself, without the
    // element: read it there when the element is absent
    let requested = match tips {
        Some(t) if op.text_trimmed().is_empty() => t,
        Some(_) => {
            return Err(invalid(
                op,
                dn(op),
                &op.text,
                "no text beside m:MailTipsRequested",
            ));
        }
        None if !op.text_trimmed().is_empty() => requested(op)?,
        None => return Err(missing("MailTipsRequested")),
    };
    Ok(GetMailTips {
        sending_as: address,
        recipients,
        requested,
    })
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn write_tips(w: &mut crate::writer::XmlOut, t: &MailTips) {
    w.start("m:MailTips", &[]);
    w.start("t:RecipientAddress", &[]);
    crate::response::write_mailbox_fields(w, &t.recipient);
    w.end("t:RecipientAddress");
    if !t.pending.is_empty() {
        w.leaf("t:PendingMailTips", &t.pending.to_list());
    }
    if let Some(o) = &t.out_of_office {
        w.start("t:OutOfOffice", &[]);
        w.start("t:ReplyBody", &[]);
        w.leaf("t:Message", &o.message);
        w.end("t:ReplyBody");
        if let Some((start, end)) = o.duration {
            w.start("t:Duration", &[]);
            w.leaf("t:StartTime", &dt(start));
            w.leaf("t:EndTime", &dt(end));
            w.end("t:Duration");
        }
        w.end("t:OutOfOffice");
    }
    if let Some(v) = t.mailbox_full {
        w.leaf("t:MailboxFull", bool_str(v));
    }
    if let Some(v) = &t.custom_mail_tip {
        w.leaf("t:CustomMailTip", v);
    }
    if let Some(v) = t.total_member_count {
        w.leaf("t:TotalMemberCount", &v.to_string());
    }
    if let Some(v) = t.external_member_count {
        w.leaf("t:ExternalMemberCount", &v.to_string());
    }
    if let Some(v) = t.max_message_size {
        w.leaf("t:MaxMessageSize", &v.to_string());
    }
    if let Some(v) = t.delivery_restricted {
        w.leaf("t:DeliveryRestricted", bool_str(v));
    }
    if let Some(v) = t.is_moderated {
        w.leaf("t:IsModerated", bool_str(v));
    }
    if let Some(v) = t.invalid_recipient {
        w.leaf("t:InvalidRecipient", bool_str(v));
    }
    w.end("m:MailTips");
}

/// `GetMailTipsResponse`: success, then one `m:MailTipsResponseMessageType` per recipient (its
/// tips, or the error that recipient met).
pub fn get_mail_tips_response(results: &[std::result::Result<MailTips, ResponseError>]) -> Vec<u8> {
    crate::response::self_message_success("GetMailTips", |w| {
        w.start("m:ResponseMessages", &[]);
        for r in results {
            match r {
                Ok(t) => {
                    w.start(
                        "m:MailTipsResponseMessageType",
                        &[("ResponseClass", "Success")],
                    );
                    w.leaf("m:ResponseCode", "NoError");
                    write_tips(w, t);
                }
                Err(e) => {
                    w.start(
                        "m:MailTipsResponseMessageType",
                        &[("ResponseClass", e.class.as_str())],
                    );
                    write_error_body(w, e);
                }
            }
            w.end("m:MailTipsResponseMessageType");
        }
        w.end("m:ResponseMessages");
    })
}

/// A refusal of the whole request: the `GetMailTipsResponse` is the one response message.
pub fn error_response(e: &ResponseError) -> Vec<u8> {
    crate::response::error_response("GetMailTips", e)
}

/// Reads a `GetMailTipsResponse` (a client's side): the whole request's error, or each
/// recipient's tips or error. A fault or an answer of another shape is an `EwsProtoError`.
#[allow(clippy::type_complexity)]
pub fn parse_get_mail_tips_response(
    input: &[u8],
    limits: &crate::xml::Limits,
) -> Result<std::result::Result<Vec<std::result::Result<MailTips, ResponseError>>, ResponseError>> {
    let top = match crate::response::parse_self_message(input, limits, &["GetMailTipsResponse"])? {
        Ok(top) => top,
        Err(e) => return Ok(Err(e)),
    };
    let list = req_child(&top, MESSAGES, "ResponseMessages")?;
    let mut out = Vec::with_capacity(list.children.len());
    for m in &list.children {
        if !m.is(MESSAGES, "MailTipsResponseMessageType") {
            return Err(unexpected(list, m));
        }
        let msg = crate::response::parse_message(m)?;
        if msg.code != "NoError" {
            out.push(Err(ResponseError::new(
                &msg.code,
                msg.text.as_deref().unwrap_or_default(),
            )));
            continue;
        }
        out.push(Ok(tips_of(req_child(m, MESSAGES, "MailTips")?)?));
    }
    Ok(Ok(out))
}

fn tips_of(el: &Element) -> Result<MailTips> {
    let mut t = MailTips::default();
    let number = |c: &Element| -> Result<u64> {
        c.text_trimmed()
            .parse()
            .map_err(|_| invalid(c, dn(c), &c.text, "a non-negative integer"))
    };
    let boolean = |c: &Element| -> Result<bool> { crate::request::bool_text(c) };
    for c in &el.children {
        if &*c.ns != TYPES {
            return Err(unexpected(el, c));
        }
        match c.local.as_str() {
            "RecipientAddress" => t.recipient = parse_mailbox(c)?,
            "PendingMailTips" => {
                if !c.text_trimmed().is_empty() {
                    t.pending = requested(c)?;
                }
            }
            "OutOfOffice" => {
                let mut o = OutOfOfficeTip::default();
                if let Some(b) = c.child(TYPES, "ReplyBody") {
                    o.message = b
                        .child(TYPES, "Message")
                        .map(|m| m.text.clone())
                        .unwrap_or_default();
                }
                if let Some(d) = c.child(TYPES, "Duration") {
                    o.duration = Some((
                        crate::request::datetime_text(req_child(d, TYPES, "StartTime")?)?,
                        crate::request::datetime_text(req_child(d, TYPES, "EndTime")?)?,
                    ));
                }
                t.out_of_office = Some(o);
            }
            "MailboxFull" => t.mailbox_full = Some(boolean(c)?),
            "CustomMailTip" => t.custom_mail_tip = Some(c.text.clone()),
            "TotalMemberCount" => {
                t.total_member_count = Some(u32::try_from(number(c)?).unwrap_or(u32::MAX))
            }
            "ExternalMemberCount" => {
                t.external_member_count = Some(u32::try_from(number(c)?).unwrap_or(u32::MAX))
            }
            "MaxMessageSize" => t.max_message_size = Some(number(c)?),
            "DeliveryRestricted" => t.delivery_restricted = Some(boolean(c)?),
            "IsModerated" => t.is_moderated = Some(boolean(c)?),
            "InvalidRecipient" => t.invalid_recipient = Some(boolean(c)?),
            _ => return Err(unexpected(el, c)),
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Operation;
    use crate::xml::Limits;

    fn op(body: &str) -> Result<Operation> {
        crate::request::test_op(body)
    }

    const SENDING_AS: &str = "<m:SendingAs><t:EmailAddress> alice@contoso.example </t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></m:SendingAs>";

    #[test]
    fn parses_the_request_exchangelib_sends() {
        let Operation::GetMailTips(g) = op(&format!(
            "<m:GetMailTips>{SENDING_AS}<m:Recipients><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></t:Mailbox><t:Mailbox><t:EmailAddress>all@contoso.example</t:EmailAddress></t:Mailbox></m:Recipients><m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>"
        ))
        .unwrap() else {
            panic!("not GetMailTips")
        };
        assert_eq!(g.sending_as, "alice@contoso.example");
        assert_eq!(g.recipients.len(), 2);
        assert_eq!(
            g.recipients[1].email_address.as_deref(),
            Some("all@contoso.example")
        );
        assert_eq!(g.requested, TipSet::ALL);
        let Operation::GetMailTips(g) = op(&format!(
            "<m:GetMailTips>{SENDING_AS}<m:Recipients><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></m:Recipients><m:MailTipsRequested> OutOfOfficeMessage\n TotalMemberCount </m:MailTipsRequested></m:GetMailTips>"
        ))
        .unwrap() else {
            panic!("not GetMailTips")
        };
        assert!(g.requested.has(MailTipType::OutOfOfficeMessage));
        assert!(g.requested.has(MailTipType::TotalMemberCount));
        assert!(!g.requested.has(MailTipType::CustomMailTip));
        assert!(!g.requested.has(MailTipType::All));
        assert_eq!(g.requested.to_list(), "OutOfOfficeMessage TotalMemberCount");
        // exchangelib 5.6's payload: the list as the operation's text, MailboxType in SendingAs
        let Operation::GetMailTips(g) = op(
            "<m:GetMailTips>All<m:SendingAs><t:EmailAddress>a@contoso.example</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></m:SendingAs><m:Recipients><t:Mailbox><t:EmailAddress>b@contoso.example</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox></m:Recipients></m:GetMailTips>",
        )
        .unwrap() else {
            panic!("not GetMailTips")
        };
        assert_eq!(g.requested, TipSet::ALL);
    }

    #[test]
    fn schema_violations_are_refused() {
        let rcpt = "<m:Recipients><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></m:Recipients>";
        let cases = [
            format!(
                "<m:GetMailTips>{rcpt}<m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>"
            ),
            format!(
                "<m:GetMailTips><m:SendingAs><t:RoutingType>SMTP</t:RoutingType></m:SendingAs>{rcpt}<m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>"
            ),
            format!(
                "<m:GetMailTips>{SENDING_AS}<m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>"
            ),
            format!(
                "<m:GetMailTips>{SENDING_AS}<m:Recipients/><m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>"
            ),
            format!("<m:GetMailTips>{SENDING_AS}{rcpt}</m:GetMailTips>"),
            format!(
                "<m:GetMailTips>{SENDING_AS}{rcpt}<m:MailTipsRequested> </m:MailTipsRequested></m:GetMailTips>"
            ),
            format!(
                "<m:GetMailTips>{SENDING_AS}{rcpt}<m:MailTipsRequested>All Everything</m:MailTipsRequested></m:GetMailTips>"
            ),
            format!(
                "<m:GetMailTips>{SENDING_AS}{rcpt}<m:MailTipsRequested>Scope</m:MailTipsRequested></m:GetMailTips>"
            ),
            format!(
                "<m:GetMailTips>{SENDING_AS}{SENDING_AS}{rcpt}<m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>"
            ),
            format!(
                "<m:GetMailTips>{SENDING_AS}<m:Recipients><t:Contact/></m:Recipients><m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>"
            ),
            format!(
                "<m:GetMailTips>{SENDING_AS}{rcpt}<m:MailTipsRequested>All</m:MailTipsRequested><m:Other/></m:GetMailTips>"
            ),
            format!(
                "<m:GetMailTips>All{SENDING_AS}{rcpt}<m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>"
            ),
            format!("<m:GetMailTips>Bogus{SENDING_AS}{rcpt}</m:GetMailTips>"),
        ];
        for c in cases {
            let e = op(&c).expect_err(&c);
            assert!(!e.to_string().is_empty());
        }
        let e = op(&format!("<m:GetMailTips>{SENDING_AS}{rcpt}<m:MailTipsRequested>All Everything</m:MailTipsRequested></m:GetMailTips>")).unwrap_err();
        assert!(e.to_string().contains("\"Everything\""), "{e}");
        assert!(e.to_string().contains("OutOfOfficeMessage"), "{e}");
    }

    #[test]
    fn answers_in_schema_order_and_read_back() {
        let away = MailTips {
            recipient: Mailbox {
                name: Some("Bob".into()),
                email_address: Some("bob@contoso.example".into()),
                routing_type: Some("SMTP".into()),
                mailbox_type: None,
                item_id: None,
            },
            pending: TipSet::NONE,
            out_of_office: Some(OutOfOfficeTip {
                message: "Away <until> Monday".into(),
                duration: Some((
                    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
                    OffsetDateTime::from_unix_timestamp(1_800_086_400).unwrap(),
                )),
            }),
            mailbox_full: Some(false),
            custom_mail_tip: Some("Bob reads mail on Fridays".into()),
            total_member_count: Some(1),
            external_member_count: Some(0),
            max_message_size: Some(26_214_400),
            delivery_restricted: Some(false),
            is_moderated: Some(false),
            invalid_recipient: Some(false),
        };
        let unknown = MailTips {
            recipient: Mailbox {
                email_address: Some("nobody@contoso.example".into()),
                routing_type: Some("SMTP".into()),
                ..Mailbox::default()
            },
            pending: TipSet::of(&[MailTipType::TotalMemberCount]),
            invalid_recipient: Some(true),
            ..MailTips::default()
        };
        let refused = ResponseError::new("ErrorInvalidSmtpAddress", "not an address");
        let body = String::from_utf8(get_mail_tips_response(&[
            Ok(away.clone()),
            Ok(unknown.clone()),
            Err(refused),
        ]))
        .unwrap();
        let at = |t: &str| body.find(t).unwrap_or_else(|| panic!("no {t} in {body}"));
        assert!(
            at("<m:GetMailTipsResponse ResponseClass=\"Success\"") < at("<m:ResponseMessages>")
        );
        let order = [
            "<t:RecipientAddress>",
            "<t:OutOfOffice>",
            "<t:MailboxFull>",
            "<t:CustomMailTip>",
            "<t:TotalMemberCount>",
            "<t:ExternalMemberCount>",
            "<t:MaxMessageSize>",
            "<t:DeliveryRestricted>",
            "<t:IsModerated>",
            "<t:InvalidRecipient>",
        ];
        for pair in order.windows(2) {
            assert!(at(pair[0]) < at(pair[1]), "{} before {}", pair[0], pair[1]);
        }
        assert!(body.contains("<t:Message>Away &lt;until&gt; Monday</t:Message>"));
        assert!(body.contains("<t:PendingMailTips>TotalMemberCount</t:PendingMailTips>"));
        let back = parse_get_mail_tips_response(body.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0].as_ref().unwrap(), &away);
        let mut unknown_back = unknown;
        unknown_back.recipient.name = None;
        assert_eq!(back[1].as_ref().unwrap(), &unknown_back);
        assert_eq!(
            back[2].as_ref().unwrap_err().code,
            "ErrorInvalidSmtpAddress"
        );
        let whole = error_response(&ResponseError::new("ErrorAccessDenied", "no"));
        let e = parse_get_mail_tips_response(&whole, &Limits::default())
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ErrorAccessDenied", "no")
        );
    }

    #[test]
    fn tip_sets_spell_as_lists() {
        assert_eq!(TipSet::ALL.to_list(), "All");
        assert_eq!(TipSet::of(&[MailTipType::All]), TipSet::ALL);
        let s = TipSet::NONE.with(MailTipType::InvalidRecipient);
        assert!(s.has(MailTipType::InvalidRecipient) && !s.has(MailTipType::MailboxFullStatus));
        for t in &MailTipType::ALL[1..] {
            assert!(TipSet::ALL.has(*t), "{t}");
        }
    }
}
