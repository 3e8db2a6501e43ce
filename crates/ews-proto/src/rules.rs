//! Inbox rules (`m:GetInboxRules`, `m:UpdateInboxRules`): `t:Rule` read and written in the
//! schema's order, the operations (`t:CreateRuleOperation`, `t:SetRuleOperation`,
//! `t:DeleteRuleOperation`) read, and both answers, each itself the response message
//! (`ResponseClass`, `ResponseCode` on the response element). A refused update answers
//! `ErrorInboxRulesValidationError` with `m:RuleOperationErrors` naming the operation, the field
//! and why.
//!
//! Conditions and actions the schema has and this server does not run (header strings,
//! flags, connected accounts, classifications, permission control, automatic forwards; the
//! forward-as-attachment, SMS and server-reply actions) are read into [`Rule::unsupported`], for
//! the server to refuse by name.

use time::OffsetDateTime;

use crate::error::{EwsProtoError, dn};
use crate::ns::{MESSAGES, TYPES};
use crate::request::{
    bool_text, datetime_text, enum_text, invalid, parse_folder_ref, parse_mailbox, req_child,
    set_once, unexpected,
};
use crate::response::{ResponseError, dt, write_error_body};
use crate::types::{FolderRef, Importance, Sensitivity};
use crate::writer::XmlOut;
use crate::xml::Element;

type Result<T> = std::result::Result<T, EwsProtoError>;

/// `t:RulePredicatesType`: the conditions or exceptions of a rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Predicates {
    pub categories: Vec<String>,
    pub contains_body_strings: Vec<String>,
    pub contains_recipient_strings: Vec<String>,
    pub contains_sender_strings: Vec<String>,
    pub contains_subject_or_body_strings: Vec<String>,
    pub contains_subject_strings: Vec<String>,
    pub from_addresses: Vec<String>,
    pub has_attachments: Option<bool>,
    pub importance: Option<Importance>,
    pub is_approval_request: Option<bool>,
    pub is_automatic_reply: Option<bool>,
    pub is_encrypted: Option<bool>,
    pub is_meeting_request: Option<bool>,
    pub is_meeting_response: Option<bool>,
    pub is_ndr: Option<bool>,
    pub is_read_receipt: Option<bool>,
    pub is_signed: Option<bool>,
    pub is_voicemail: Option<bool>,
    pub item_classes: Vec<String>,
    pub not_sent_to_me: Option<bool>,
    pub sent_cc_me: Option<bool>,
    pub sent_only_to_me: Option<bool>,
    pub sent_to_addresses: Vec<String>,
    pub sent_to_me: Option<bool>,
    pub sent_to_or_cc_me: Option<bool>,
    pub sensitivity: Option<Sensitivity>,
    pub within_date_range: Option<(Option<OffsetDateTime>, Option<OffsetDateTime>)>,
    /// `WithinSizeRange`, in kilobytes.
    pub within_size_range: Option<(Option<u64>, Option<u64>)>,
}

/// `t:ActionsType`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actions {
    pub assign_categories: Vec<String>,
    pub copy_to_folder: Option<FolderRef>,
    pub delete: bool,
    pub mark_importance: Option<Importance>,
    pub mark_as_read: bool,
    pub move_to_folder: Option<FolderRef>,
    pub permanent_delete: bool,
    pub stop_processing_rules: bool,
    /// `t:ForwardAsAttachmentToRecipients`, `t:ForwardToRecipients` and
    /// `t:RedirectToRecipients`: SMTP addresses.
    pub forward_as_attachment_to_recipients: Vec<String>,
    pub forward_to_recipients: Vec<String>,
    pub redirect_to_recipients: Vec<String>,
}

/// `t:Rule`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rule {
    pub id: Option<String>,
    pub display_name: String,
    pub priority: u32,
    pub is_enabled: bool,
    pub conditions: Predicates,
    pub exceptions: Predicates,
    pub actions: Actions,
    /// Elements of the schema this server does not run, as `Conditions/…` or `Actions/…`.
    pub unsupported: Vec<String>,
}

/// One operation of `m:UpdateInboxRules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOperation {
    Create(Rule),
    Set(Rule),
    Delete(String),
}

/// `m:GetInboxRules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetInboxRules {
    /// `m:MailboxSmtpAddress`, if given (else the acting mailbox).
    pub mailbox: Option<String>,
}

/// `m:UpdateInboxRules`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateInboxRules {
    pub mailbox: Option<String>,
    pub remove_outlook_rule_blob: bool,
    pub operations: Vec<RuleOperation>,
}

/// A refused operation, as `t:RuleOperationError` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleValidationError {
    pub operation_index: usize,
    /// `t:FieldURI`, e.g. `Actions/MoveToFolder`.
    pub field: String,
    /// `t:ErrorCode`, e.g. `FolderDoesNotExist`, `RuleNotFound`, `UnsupportedRule`.
    pub code: String,
    pub message: String,
    pub value: String,
}

fn mailbox_address(op: &Element) -> Option<String> {
    op.child(MESSAGES, "MailboxSmtpAddress")
        .map(|m| m.text_trimmed().to_owned())
        .filter(|m| !m.is_empty())
}

pub(crate) fn parse_get(op: &Element) -> Result<GetInboxRules> {
    for c in &op.children {
        if !c.is(MESSAGES, "MailboxSmtpAddress") {
            return Err(unexpected(op, c));
        }
    }
    Ok(GetInboxRules {
        mailbox: mailbox_address(op),
    })
}

pub(crate) fn parse_update(op: &Element) -> Result<UpdateInboxRules> {
    let (mut remove, mut ops) = (None, None);
    for c in &op.children {
        if &*c.ns != MESSAGES {
            return Err(unexpected(op, c));
        }
        match c.local.as_str() {
            "MailboxSmtpAddress" => {}
            "RemoveOutlookRuleBlob" => set_once(&mut remove, op, c, bool_text(c)?)?,
            "Operations" => {
                let mut list = Vec::new();
                for o in &c.children {
                    if &*o.ns != TYPES {
                        return Err(unexpected(c, o));
                    }
                    list.push(match o.local.as_str() {
                        "CreateRuleOperation" => {
                            RuleOperation::Create(parse_rule(req_child(o, TYPES, "Rule")?)?)
                        }
                        "SetRuleOperation" => {
                            RuleOperation::Set(parse_rule(req_child(o, TYPES, "Rule")?)?)
                        }
                        "DeleteRuleOperation" => RuleOperation::Delete(
                            req_child(o, TYPES, "RuleId")?.text_trimmed().to_owned(),
                        ),
                        _ => return Err(unexpected(c, o)),
                    });
                }
                set_once(&mut ops, op, c, list)?;
            }
            _ => return Err(unexpected(op, c)),
        }
    }
    let operations = ops.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(op),
        name: "Operations",
        position: op.position(),
    })?;
    Ok(UpdateInboxRules {
        mailbox: mailbox_address(op),
        remove_outlook_rule_blob: remove.unwrap_or(false),
        operations,
    })
}

fn strings(el: &Element, item: &str) -> Result<Vec<String>> {
    el.children
        .iter()
        .map(|c| {
            if c.is(TYPES, item) {
                Ok(c.text.clone())
            } else {
                Err(unexpected(el, c))
            }
        })
        .collect()
}

fn addresses(el: &Element) -> Result<Vec<String>> {
    el.children
        .iter()
        .map(|c| {
            if !c.is(TYPES, "Address") {
                return Err(unexpected(el, c));
            }
            parse_mailbox(c)?
                .email_address
                .filter(|a| !a.is_empty())
                .ok_or_else(|| EwsProtoError::MissingElement {
                    parent: dn(c),
                    name: "EmailAddress",
                    position: c.position(),
                })
        })
        .collect()
}

fn parse_predicates(el: &Element, what: &str, unsupported: &mut Vec<String>) -> Result<Predicates> {
    let mut p = Predicates::default();
    for c in &el.children {
        if &*c.ns != TYPES {
            return Err(unexpected(el, c));
        }
        let flag = || bool_text(c).map(Some);
        match c.local.as_str() {
            "Categories" => p.categories = strings(c, "String")?,
            "ContainsBodyStrings" => p.contains_body_strings = strings(c, "String")?,
            "ContainsRecipientStrings" => p.contains_recipient_strings = strings(c, "String")?,
            "ContainsSenderStrings" => p.contains_sender_strings = strings(c, "String")?,
            "ContainsSubjectOrBodyStrings" => {
                p.contains_subject_or_body_strings = strings(c, "String")?
            }
            "ContainsSubjectStrings" => p.contains_subject_strings = strings(c, "String")?,
            "FromAddresses" => p.from_addresses = addresses(c)?,
            "SentToAddresses" => p.sent_to_addresses = addresses(c)?,
            "ItemClasses" => p.item_classes = strings(c, "String")?,
            "HasAttachments" => p.has_attachments = flag()?,
            "Importance" => p.importance = Some(enum_text(c, Importance::ALL)?),
            "Sensitivity" => p.sensitivity = Some(enum_text(c, Sensitivity::ALL)?),
            "IsApprovalRequest" => p.is_approval_request = flag()?,
            "IsAutomaticReply" => p.is_automatic_reply = flag()?,
            "IsEncrypted" => p.is_encrypted = flag()?,
            "IsMeetingRequest" => p.is_meeting_request = flag()?,
            "IsMeetingResponse" => p.is_meeting_response = flag()?,
            "IsNDR" => p.is_ndr = flag()?,
            "IsReadReceipt" => p.is_read_receipt = flag()?,
            "IsSigned" => p.is_signed = flag()?,
            "IsVoicemail" => p.is_voicemail = flag()?,
            "NotSentToMe" => p.not_sent_to_me = flag()?,
            "SentCcMe" => p.sent_cc_me = flag()?,
            "SentOnlyToMe" => p.sent_only_to_me = flag()?,
            "SentToMe" => p.sent_to_me = flag()?,
            "SentToOrCcMe" => p.sent_to_or_cc_me = flag()?,
            "WithinDateRange" => {
                let at = |n| -> Result<Option<OffsetDateTime>> {
                    c.child(TYPES, n).map(datetime_text).transpose()
                };
                p.within_date_range = Some((at("StartDateTime")?, at("EndDateTime")?));
            }
            "WithinSizeRange" => {
                let kb = |n| -> Result<Option<u64>> {
                    c.child(TYPES, n)
                        .map(|x| {
                            x.text_trimmed()
                                .parse()
                                .map_err(|_| invalid(x, dn(x), &x.text, "a size in kilobytes"))
                        })
                        .transpose()
                };
                p.within_size_range = Some((kb("MinimumSize")?, kb("MaximumSize")?));
            }
            "ContainsHeaderStrings"
            | "FlaggedForAction"
            | "FromConnectedAccounts"
            | "IsAutomaticForward"
            | "IsPermissionControlled"
            | "MessageClassifications" => unsupported.push(format!("{what}/{}", c.local)),
            _ => return Err(unexpected(el, c)),
        }
    }
    Ok(p)
}

fn folder_action(el: &Element) -> Result<FolderRef> {
    let mut found = None;
    for c in &el.children {
        match parse_folder_ref(c)? {
            Some(f) => set_once(&mut found, el, c, f)?,
            None => return Err(unexpected(el, c)),
        }
    }
    found.ok_or_else(|| EwsProtoError::MissingElement {
        parent: dn(el),
        name: "FolderId",
        position: el.position(),
    })
}

fn parse_actions(el: &Element, unsupported: &mut Vec<String>) -> Result<Actions> {
    let mut a = Actions::default();
    for c in &el.children {
        if &*c.ns != TYPES {
            return Err(unexpected(el, c));
        }
        match c.local.as_str() {
            "AssignCategories" => a.assign_categories = strings(c, "String")?,
            "CopyToFolder" => a.copy_to_folder = Some(folder_action(c)?),
            "MoveToFolder" => a.move_to_folder = Some(folder_action(c)?),
            "Delete" => a.delete = bool_text(c)?,
            "PermanentDelete" => a.permanent_delete = bool_text(c)?,
            "MarkAsRead" => a.mark_as_read = bool_text(c)?,
            "MarkImportance" => a.mark_importance = Some(enum_text(c, Importance::ALL)?),
            "StopProcessingRules" => a.stop_processing_rules = bool_text(c)?,
            "ForwardToRecipients" => a.forward_to_recipients = addresses(c)?,
            "RedirectToRecipients" => a.redirect_to_recipients = addresses(c)?,
            "ForwardAsAttachmentToRecipients" => {
                a.forward_as_attachment_to_recipients = addresses(c)?
            }
            "SendSMSAlertToRecipients" | "ServerReplyWithMessage" => {
                unsupported.push(format!("Actions/{}", c.local))
            }
            _ => return Err(unexpected(el, c)),
        }
    }
    Ok(a)
}

fn parse_rule(el: &Element) -> Result<Rule> {
    let mut r = Rule {
        is_enabled: true,
        ..Rule::default()
    };
    let (mut name, mut priority) = (None, None);
    let mut unsupported = Vec::new();
    for c in &el.children {
        if &*c.ns != TYPES {
            return Err(unexpected(el, c));
        }
        match c.local.as_str() {
            "RuleId" => r.id = Some(c.text_trimmed().to_owned()).filter(|i| !i.is_empty()),
            "DisplayName" => set_once(&mut name, el, c, c.text.clone())?,
            "Priority" => set_once(
                &mut priority,
                el,
                c,
                c.text_trimmed()
                    .parse::<u32>()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| invalid(c, dn(c), &c.text, "a priority of 1 or more"))?,
            )?,
            "IsEnabled" => r.is_enabled = bool_text(c)?,
            // read-only: what the server says of a rule it reads
            "IsNotSupported" | "IsInError" => {
                bool_text(c)?;
            }
            "Conditions" => r.conditions = parse_predicates(c, "Conditions", &mut unsupported)?,
            "Exceptions" => r.exceptions = parse_predicates(c, "Exceptions", &mut unsupported)?,
            "Actions" => r.actions = parse_actions(c, &mut unsupported)?,
            _ => return Err(unexpected(el, c)),
        }
    }
    let missing = |name| EwsProtoError::MissingElement {
        parent: dn(el),
        name,
        position: el.position(),
    };
    r.display_name = name.ok_or_else(|| missing("DisplayName"))?;
    r.priority = priority.ok_or_else(|| missing("Priority"))?;
    if el.child(TYPES, "Actions").is_none() {
        return Err(missing("Actions"));
    }
    r.unsupported = unsupported;
    Ok(r)
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn write_strings(w: &mut XmlOut, name: &str, item: &str, v: &[String]) {
    if v.is_empty() {
        return;
    }
    w.start(name, &[]);
    for s in v {
        w.leaf(item, s);
    }
    w.end(name);
}

fn write_addresses(w: &mut XmlOut, name: &str, v: &[String]) {
    if v.is_empty() {
        return;
    }
    w.start(name, &[]);
    for a in v {
        w.start("t:Address", &[]);
        w.leaf("t:EmailAddress", a);
        w.leaf("t:RoutingType", "SMTP");
        w.end("t:Address");
    }
    w.end(name);
}

fn write_predicates(w: &mut XmlOut, name: &str, p: &Predicates) {
    if *p == Predicates::default() {
        return;
    }
    w.start(name, &[]);
    let flag = |w: &mut XmlOut, n: &str, v: Option<bool>| {
        if let Some(v) = v {
            w.leaf(n, bool_str(v));
        }
    };
    write_strings(w, "t:Categories", "t:String", &p.categories);
    write_strings(
        w,
        "t:ContainsBodyStrings",
        "t:String",
        &p.contains_body_strings,
    );
    write_strings(
        w,
        "t:ContainsRecipientStrings",
        "t:String",
        &p.contains_recipient_strings,
    );
    write_strings(
        w,
        "t:ContainsSenderStrings",
        "t:String",
        &p.contains_sender_strings,
    );
    write_strings(
        w,
        "t:ContainsSubjectOrBodyStrings",
        "t:String",
        &p.contains_subject_or_body_strings,
    );
    write_strings(
        w,
        "t:ContainsSubjectStrings",
        "t:String",
        &p.contains_subject_strings,
    );
    write_addresses(w, "t:FromAddresses", &p.from_addresses);
    flag(w, "t:HasAttachments", p.has_attachments);
    if let Some(i) = p.importance {
        w.leaf("t:Importance", i.as_str());
    }
    flag(w, "t:IsApprovalRequest", p.is_approval_request);
    flag(w, "t:IsAutomaticReply", p.is_automatic_reply);
    flag(w, "t:IsEncrypted", p.is_encrypted);
    flag(w, "t:IsMeetingRequest", p.is_meeting_request);
    flag(w, "t:IsMeetingResponse", p.is_meeting_response);
    flag(w, "t:IsNDR", p.is_ndr);
    flag(w, "t:IsReadReceipt", p.is_read_receipt);
    flag(w, "t:IsSigned", p.is_signed);
    flag(w, "t:IsVoicemail", p.is_voicemail);
    write_strings(w, "t:ItemClasses", "t:String", &p.item_classes);
    flag(w, "t:NotSentToMe", p.not_sent_to_me);
    flag(w, "t:SentCcMe", p.sent_cc_me);
    flag(w, "t:SentOnlyToMe", p.sent_only_to_me);
    write_addresses(w, "t:SentToAddresses", &p.sent_to_addresses);
    flag(w, "t:SentToMe", p.sent_to_me);
    flag(w, "t:SentToOrCcMe", p.sent_to_or_cc_me);
    if let Some(s) = p.sensitivity {
        w.leaf("t:Sensitivity", s.as_str());
    }
    if let Some((a, b)) = p.within_date_range {
        w.start("t:WithinDateRange", &[]);
        if let Some(a) = a {
            w.leaf("t:StartDateTime", &dt(a));
        }
        if let Some(b) = b {
            w.leaf("t:EndDateTime", &dt(b));
        }
        w.end("t:WithinDateRange");
    }
    if let Some((a, b)) = p.within_size_range {
        w.start("t:WithinSizeRange", &[]);
        if let Some(a) = a {
            w.leaf("t:MinimumSize", &a.to_string());
        }
        if let Some(b) = b {
            w.leaf("t:MaximumSize", &b.to_string());
        }
        w.end("t:WithinSizeRange");
    }
    w.end(name);
}

fn write_rule(w: &mut XmlOut, r: &Rule) {
    w.start("t:Rule", &[]);
    if let Some(id) = &r.id {
        w.leaf("t:RuleId", id);
    }
    w.leaf("t:DisplayName", &r.display_name);
    w.leaf("t:Priority", &r.priority.to_string());
    w.leaf("t:IsEnabled", bool_str(r.is_enabled));
    w.leaf("t:IsNotSupported", "false");
    w.leaf("t:IsInError", "false");
    write_predicates(w, "t:Conditions", &r.conditions);
    write_predicates(w, "t:Exceptions", &r.exceptions);
    let a = &r.actions;
    w.start("t:Actions", &[]);
    write_strings(w, "t:AssignCategories", "t:String", &a.assign_categories);
    if let Some(f) = &a.copy_to_folder {
        w.start("t:CopyToFolder", &[]);
        crate::response::write_folder_ref(w, f);
        w.end("t:CopyToFolder");
    }
    if a.delete {
        w.leaf("t:Delete", "true");
    }
    write_addresses(
        w,
        "t:ForwardAsAttachmentToRecipients",
        &a.forward_as_attachment_to_recipients,
    );
    write_addresses(w, "t:ForwardToRecipients", &a.forward_to_recipients);
    if let Some(i) = a.mark_importance {
        w.leaf("t:MarkImportance", i.as_str());
    }
    if a.mark_as_read {
        w.leaf("t:MarkAsRead", "true");
    }
    if let Some(f) = &a.move_to_folder {
        w.start("t:MoveToFolder", &[]);
        crate::response::write_folder_ref(w, f);
        w.end("t:MoveToFolder");
    }
    if a.permanent_delete {
        w.leaf("t:PermanentDelete", "true");
    }
    write_addresses(w, "t:RedirectToRecipients", &a.redirect_to_recipients);
    if a.stop_processing_rules {
        w.leaf("t:StopProcessingRules", "true");
    }
    w.end("t:Actions");
    w.end("t:Rule");
}

/// `GetInboxRulesResponse`: the rules in priority order (no Outlook rule blob is kept here).
pub fn get_inbox_rules_response(result: &std::result::Result<Vec<Rule>, ResponseError>) -> Vec<u8> {
    match result {
        Err(e) => crate::response::error_response("GetInboxRules", e),
        Ok(rules) => crate::response::self_message_success("GetInboxRules", |w| {
            w.leaf("m:OutlookRuleBlobExists", "false");
            if rules.is_empty() {
                w.empty("m:InboxRules", &[]);
            } else {
                w.start("m:InboxRules", &[]);
                for r in rules {
                    write_rule(w, r);
                }
                w.end("m:InboxRules");
            }
        }),
    }
}

/// `UpdateInboxRulesResponse`: success, the request's error, or
/// `ErrorInboxRulesValidationError` with the refused operation in `m:RuleOperationErrors`.
pub fn update_inbox_rules_response(
    result: &std::result::Result<(), ResponseError>,
    refused: Option<&RuleValidationError>,
) -> Vec<u8> {
    match (result, refused) {
        (Err(e), None) => crate::response::error_response("UpdateInboxRules", e),
        (_, None) => crate::response::self_message_success("UpdateInboxRules", |_| {}),
        (_, Some(v)) => crate::response::self_message_response("UpdateInboxRules", "Error", |w| {
            write_error_body(
                w,
                &ResponseError::new(
                    "ErrorInboxRulesValidationError",
                    &format!(
                        "Operation {} was refused: {} ({}: {})",
                        v.operation_index, v.message, v.field, v.code
                    ),
                ),
            );
            w.start("m:RuleOperationErrors", &[]);
            w.start("t:RuleOperationError", &[]);
            w.leaf("t:OperationIndex", &v.operation_index.to_string());
            w.start("t:ValidationErrors", &[]);
            w.start("t:Error", &[]);
            w.leaf("t:FieldURI", &v.field);
            w.leaf("t:ErrorCode", &v.code);
            w.leaf("t:ErrorMessage", &v.message);
            w.leaf("t:FieldValue", &v.value);
            w.end("t:Error");
            w.end("t:ValidationErrors");
            w.end("t:RuleOperationError");
            w.end("m:RuleOperationErrors");
        }),
    }
}

/// Reads a `GetInboxRulesResponse` (a client's side): the rules, or the error it names.
pub fn parse_get_inbox_rules_response(
    input: &[u8],
    limits: &crate::xml::Limits,
) -> Result<std::result::Result<Vec<Rule>, ResponseError>> {
    let top = match crate::response::parse_self_message(input, limits, &["GetInboxRulesResponse"])?
    {
        Ok(top) => top,
        Err(e) => return Ok(Err(e)),
    };
    let Some(list) = top.child(MESSAGES, "InboxRules") else {
        return Ok(Ok(Vec::new()));
    };
    list.children
        .iter()
        .map(|c| {
            if c.is(TYPES, "Rule") {
                parse_rule(c)
            } else {
                Err(unexpected(list, c))
            }
        })
        .collect::<Result<Vec<_>>>()
        .map(Ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Operation;
    use crate::xml::Limits;

    fn op(body: &str) -> Result<Operation> {
        crate::request::test_op(body)
    }

    const CREATE: &str = r#"<m:UpdateInboxRules><m:RemoveOutlookRuleBlob>true</m:RemoveOutlookRuleBlob><m:Operations><t:CreateRuleOperation><t:Rule><t:DisplayName>MoveInterestingToJunk</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ContainsSubjectStrings><t:String>Interesting</t:String></t:ContainsSubjectStrings><t:FromAddresses><t:Address><t:EmailAddress>bob@contoso.example</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></t:Address></t:FromAddresses><t:WithinSizeRange><t:MinimumSize>1</t:MinimumSize></t:WithinSizeRange></t:Conditions><t:Exceptions /><t:Actions><t:MoveToFolder><t:DistinguishedFolderId Id="junkemail" /></t:MoveToFolder><t:MarkAsRead>true</t:MarkAsRead></t:Actions></t:Rule></t:CreateRuleOperation><t:DeleteRuleOperation><t:RuleId>R1</t:RuleId></t:DeleteRuleOperation></m:Operations></m:UpdateInboxRules>"#;

    #[test]
    fn parses_the_documented_update_and_round_trips_a_rule() {
        let Operation::UpdateInboxRules(u) = op(CREATE).unwrap() else {
            panic!("not UpdateInboxRules")
        };
        assert!(u.remove_outlook_rule_blob);
        assert_eq!(u.operations.len(), 2);
        let RuleOperation::Create(r) = &u.operations[0] else {
            panic!("not a create")
        };
        assert_eq!(r.display_name, "MoveInterestingToJunk");
        assert_eq!(r.conditions.contains_subject_strings, ["Interesting"]);
        assert_eq!(r.conditions.from_addresses, ["bob@contoso.example"]);
        assert_eq!(r.conditions.within_size_range, Some((Some(1), None)));
        assert!(r.actions.mark_as_read);
        assert!(r.unsupported.is_empty());
        assert_eq!(u.operations[1], RuleOperation::Delete("R1".into()));
        // written and read back as a client reads it
        let mut r = r.clone();
        r.id = Some("R7".into());
        let body = get_inbox_rules_response(&Ok(vec![r.clone()]));
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.contains("<m:OutlookRuleBlobExists>false</m:OutlookRuleBlobExists>"),
            "{text}"
        );
        let back = parse_get_inbox_rules_response(&body, &Limits::default())
            .unwrap()
            .unwrap();
        assert_eq!(back, [r]);
        let none = get_inbox_rules_response(&Ok(vec![]));
        assert_eq!(
            parse_get_inbox_rules_response(&none, &Limits::default())
                .unwrap()
                .unwrap(),
            []
        );
    }

    #[test]
    fn unsupported_parts_are_named_and_schema_violations_refused() {
        let Operation::UpdateInboxRules(u) = op(&CREATE
            .replace(
                "<t:MarkAsRead>true</t:MarkAsRead>",
                "<t:ServerReplyWithMessage><t:ItemId Id=\"I1\"/></t:ServerReplyWithMessage>",
            )
            .replace(
                "<t:Exceptions />",
                "<t:Exceptions><t:FlaggedForAction>Any</t:FlaggedForAction></t:Exceptions>",
            ))
        .unwrap() else {
            panic!()
        };
        let RuleOperation::Create(r) = &u.operations[0] else {
            panic!()
        };
        assert_eq!(
            r.unsupported,
            [
                "Exceptions/FlaggedForAction",
                "Actions/ServerReplyWithMessage"
            ]
        );
        for bad in [
            CREATE.replace("<t:Priority>1</t:Priority>", ""),
            CREATE.replace("<t:Priority>1</t:Priority>", "<t:Priority>0</t:Priority>"),
            CREATE.replace("<t:DisplayName>MoveInterestingToJunk</t:DisplayName>", ""),
            CREATE.replace("<t:String>Interesting</t:String>", "<t:Other>x</t:Other>"),
            CREATE.replace("<t:MarkAsRead>true</t:MarkAsRead>", "<t:MarkAsRead>maybe</t:MarkAsRead>"),
            CREATE.replace("<t:DistinguishedFolderId Id=\"junkemail\" />", ""),
            CREATE.replace("<t:MinimumSize>1</t:MinimumSize>", "<t:MinimumSize>big</t:MinimumSize>"),
            "<m:UpdateInboxRules><m:RemoveOutlookRuleBlob>true</m:RemoveOutlookRuleBlob></m:UpdateInboxRules>".into(),
            "<m:GetInboxRules><m:Other/></m:GetInboxRules>".into(),
        ] {
            assert!(op(&bad).is_err(), "accepted {bad}");
        }
        let Operation::GetInboxRules(g) = op("<m:GetInboxRules><m:MailboxSmtpAddress>a@b.example</m:MailboxSmtpAddress></m:GetInboxRules>").unwrap() else {
            panic!()
        };
        assert_eq!(g.mailbox.as_deref(), Some("a@b.example"));
    }

    #[test]
    fn a_refusal_names_the_operation_and_field() {
        let v = RuleValidationError {
            operation_index: 1,
            field: "Actions/MoveToFolder".into(),
            code: "FolderDoesNotExist".into(),
            message: "the folder is gone".into(),
            value: "AAMk".into(),
        };
        let body = String::from_utf8(update_inbox_rules_response(&Ok(()), Some(&v))).unwrap();
        assert!(
            body.contains("<m:UpdateInboxRulesResponse ResponseClass=\"Error\""),
            "{body}"
        );
        assert!(
            body.contains("<m:ResponseCode>ErrorInboxRulesValidationError</m:ResponseCode>"),
            "{body}"
        );
        assert!(
            body.contains("<t:OperationIndex>1</t:OperationIndex>"),
            "{body}"
        );
        assert!(
            body.contains("<t:FieldURI>Actions/MoveToFolder</t:FieldURI>"),
            "{body}"
        );
        let ok = String::from_utf8(update_inbox_rules_response(&Ok(()), None)).unwrap();
        assert!(
            ok.contains("<m:UpdateInboxRulesResponse ResponseClass=\"Success\""),
            "{ok}"
        );
        assert!(!ok.contains("ResponseMessages"), "{ok}");
    }
}
