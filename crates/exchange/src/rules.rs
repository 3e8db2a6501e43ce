//! Inbox rules over EWS: GetInboxRules and UpdateInboxRules for the acting mailbox (authorized
//! as its other mailbox operations: UserApplication, or ApplicationImpersonation when
//! impersonating; `m:MailboxSmtpAddress`, when given, one of its own addresses). The rules are
//! the store's (`mailbox::MailboxStore::update_rules`, run at each delivery to the Inbox); this
//! layer maps them to and from `t:Rule`, refuses by name what the store does not run, and
//! answers a refused operation with `ErrorInboxRulesValidationError`; and after a send, the
//! forwards and redirects the recipients' rules asked for ([`Handler::send_rule_forwards`]).

use ews_proto::response::ResponseError;
use ews_proto::rules::{
    self as wire, Actions, Predicates, Rule, RuleOperation, RuleValidationError,
};
use ews_proto::types::{FolderRef, Importance, Sensitivity};
use mailbox::{FolderSel, InboxRule, RuleActions, RuleConditions, RuleOp};

use crate::ews::{Handler, err};

fn importance_in(i: Importance) -> mailbox::Importance {
    mailbox::Importance::parse(i.as_str()).unwrap_or_default()
}

fn importance_out(i: mailbox::Importance) -> Importance {
    i.as_str().parse().unwrap_or(Importance::Normal)
}

fn sensitivity_in(s: Sensitivity) -> mailbox::Sensitivity {
    mailbox::Sensitivity::parse(s.as_str()).unwrap_or_default()
}

fn sensitivity_out(s: mailbox::Sensitivity) -> Sensitivity {
    s.as_str().parse().unwrap_or(Sensitivity::Normal)
}

fn conditions_in(p: Predicates) -> RuleConditions {
    RuleConditions {
        categories: p.categories,
        contains_body_strings: p.contains_body_strings,
        contains_recipient_strings: p.contains_recipient_strings,
        contains_sender_strings: p.contains_sender_strings,
        contains_subject_or_body_strings: p.contains_subject_or_body_strings,
        contains_subject_strings: p.contains_subject_strings,
        from_addresses: p.from_addresses,
        sent_to_addresses: p.sent_to_addresses,
        item_classes: p.item_classes,
        has_attachments: p.has_attachments,
        importance: p.importance.map(importance_in),
        sensitivity: p.sensitivity.map(sensitivity_in),
        is_approval_request: p.is_approval_request,
        is_automatic_reply: p.is_automatic_reply,
        is_encrypted: p.is_encrypted,
        is_meeting_request: p.is_meeting_request,
        is_meeting_response: p.is_meeting_response,
        is_ndr: p.is_ndr,
        is_read_receipt: p.is_read_receipt,
        is_signed: p.is_signed,
        is_voicemail: p.is_voicemail,
        not_sent_to_me: p.not_sent_to_me,
        sent_cc_me: p.sent_cc_me,
        sent_only_to_me: p.sent_only_to_me,
        sent_to_me: p.sent_to_me,
        sent_to_or_cc_me: p.sent_to_or_cc_me,
        size_kb: p.within_size_range,
        received: p.within_date_range,
    }
}

fn conditions_out(c: RuleConditions) -> Predicates {
    Predicates {
        categories: c.categories,
        contains_body_strings: c.contains_body_strings,
        contains_recipient_strings: c.contains_recipient_strings,
        contains_sender_strings: c.contains_sender_strings,
        contains_subject_or_body_strings: c.contains_subject_or_body_strings,
        contains_subject_strings: c.contains_subject_strings,
        from_addresses: c.from_addresses,
        has_attachments: c.has_attachments,
        importance: c.importance.map(importance_out),
        is_approval_request: c.is_approval_request,
        is_automatic_reply: c.is_automatic_reply,
        is_encrypted: c.is_encrypted,
        is_meeting_request: c.is_meeting_request,
        is_meeting_response: c.is_meeting_response,
        is_ndr: c.is_ndr,
        is_read_receipt: c.is_read_receipt,
        is_signed: c.is_signed,
        is_voicemail: c.is_voicemail,
        item_classes: c.item_classes,
        not_sent_to_me: c.not_sent_to_me,
        sent_cc_me: c.sent_cc_me,
        sent_only_to_me: c.sent_only_to_me,
        sent_to_addresses: c.sent_to_addresses,
        sent_to_me: c.sent_to_me,
        sent_to_or_cc_me: c.sent_to_or_cc_me,
        sensitivity: c.sensitivity.map(sensitivity_out),
        within_date_range: c.received,
        within_size_range: c.size_kb,
    }
}

fn folder_out(f: FolderSel) -> FolderRef {
    match f {
        FolderSel::Id(id) => FolderRef::Id {
            id,
            change_key: None,
        },
        FolderSel::Distinguished(name) => FolderRef::Distinguished {
            id: name
                .parse()
                .unwrap_or(ews_proto::types::DistinguishedFolderId::Inbox),
            mailbox: None,
        },
    }
}

fn rule_out(r: InboxRule) -> Rule {
    let a = r.actions;
    Rule {
        id: Some(r.id),
        display_name: r.display_name,
        priority: r.priority,
        is_enabled: r.is_enabled,
        conditions: conditions_out(r.conditions),
        exceptions: conditions_out(r.exceptions),
        actions: Actions {
            assign_categories: a.assign_categories,
            copy_to_folder: a.copy_to_folder.map(folder_out),
            delete: a.delete,
            mark_importance: a.mark_importance.map(importance_out),
            mark_as_read: a.mark_as_read,
            move_to_folder: a.move_to_folder.map(folder_out),
            permanent_delete: a.permanent_delete,
            stop_processing_rules: a.stop_processing_rules,
            forward_as_attachment_to_recipients: a.forward_as_attachment_to_recipients,
            forward_to_recipients: a.forward_to_recipients,
            redirect_to_recipients: a.redirect_to_recipients,
        },
        unsupported: Vec::new(),
    }
}

fn refusal(index: usize, field: &str, code: &str, message: String) -> RuleValidationError {
    RuleValidationError {
        operation_index: index,
        field: field.to_owned(),
        code: code.to_owned(),
        message,
        value: String::new(),
    }
}

impl Handler<'_> {
    /// The rules of the acting mailbox may be read and changed; another address is refused.
    async fn own_rules_mailbox(&self, address: Option<&str>) -> Result<(), ResponseError> {
        self.authorize(false)?;
        let Some(a) = address else {
            return Ok(());
        };
        let a = crate::org::bare_smtp(a.trim());
        if self
            .my_addresses()
            .await
            .iter()
            .any(|m| m.eq_ignore_ascii_case(a))
        {
            return Ok(());
        }
        Err(ResponseError::new(
            "ErrorAccessDenied",
            &format!(
                "Inbox rules are read and changed for the acting mailbox ({}) only, not {}; act as that user to reach its rules.",
                self.smtp,
                a.chars().take(200).collect::<String>()
            ),
        ))
    }

    pub(crate) async fn get_inbox_rules(&self, g: &wire::GetInboxRules) -> Vec<u8> {
        let r = match self.own_rules_mailbox(g.mailbox.as_deref()).await {
            Ok(()) => self
                .ex
                .inner
                .mbx
                .get_rules(&self.key)
                .await
                .map(|rules| rules.into_iter().map(rule_out).collect())
                .map_err(|e| err(&e)),
            Err(e) => Err(e),
        };
        wire::get_inbox_rules_response(&r)
    }

    pub(crate) async fn update_inbox_rules(&self, u: wire::UpdateInboxRules) -> Vec<u8> {
        if let Err(e) = self.own_rules_mailbox(u.mailbox.as_deref()).await {
            return wire::update_inbox_rules_response(&Err(e), None);
        }
        let mut ops = Vec::with_capacity(u.operations.len());
        for (index, op) in u.operations.into_iter().enumerate() {
            let (rule, set) = match op {
                RuleOperation::Delete(id) => {
                    ops.push(RuleOp::Delete(id));
                    continue;
                }
                RuleOperation::Create(r) => (r, false),
                RuleOperation::Set(r) => (r, true),
            };
            match self.rule_in(rule, set) {
                Ok(r) => ops.push(if set {
                    RuleOp::Set(r)
                } else {
                    RuleOp::Create(r)
                }),
                Err((field, code, why)) => {
                    return wire::update_inbox_rules_response(
                        &Ok(()),
                        Some(&refusal(index, field, code, why)),
                    );
                }
            }
        }
        match self.ex.inner.mbx.update_rules(&self.key, ops).await {
            Ok(Ok(())) => wire::update_inbox_rules_response(&Ok(()), None),
            Ok(Err(e)) => {
                let field = match e.code {
                    "RuleNotFound" => "RuleId",
                    "DuplicateDisplayName" => "DisplayName",
                    "FolderDoesNotExist" => "Actions",
                    _ => "Rule",
                };
                wire::update_inbox_rules_response(
                    &Ok(()),
                    Some(&refusal(e.index, field, e.code, e.why)),
                )
            }
            Err(e) => wire::update_inbox_rules_response(&Err(err(&e)), None),
        }
    }

    /// A `t:Rule` of a create or set operation as the store keeps it, or what refuses it.
    #[allow(clippy::result_large_err)]
    fn rule_in(
        &self,
        r: Rule,
        set: bool,
    ) -> Result<InboxRule, (&'static str, &'static str, String)> {
        if let Some(u) = r.unsupported.first() {
            return Err((
                "Rule",
                "UnsupportedRule",
                format!(
                    "{u} is not run by this server; it runs the conditions and exceptions on text, addresses, classes, flags, size and date, and the actions that file, copy, delete, mark, categorize, forward (also as an attachment) and redirect"
                ),
            ));
        }
        let id = match (set, r.id) {
            (true, Some(id)) => id,
            (true, None) => {
                return Err((
                    "RuleId",
                    "RuleNotFound",
                    "a SetRuleOperation names its rule by RuleId".into(),
                ));
            }
            (false, _) => String::new(),
        };
        let folder = |f: Option<FolderRef>| -> Result<Option<FolderSel>, (&'static str, &'static str, String)> {
            f.map(|f| self.sel(&f))
                .transpose()
                .map_err(|e| ("Actions", "FolderDoesNotExist", e.message))
        };
        let a = r.actions;
        Ok(InboxRule {
            id,
            display_name: r.display_name,
            priority: r.priority,
            is_enabled: r.is_enabled,
            conditions: conditions_in(r.conditions),
            exceptions: conditions_in(r.exceptions),
            actions: RuleActions {
                assign_categories: a.assign_categories,
                copy_to_folder: folder(a.copy_to_folder)?,
                move_to_folder: folder(a.move_to_folder)?,
                delete: a.delete,
                permanent_delete: a.permanent_delete,
                mark_as_read: a.mark_as_read,
                mark_importance: a.mark_importance.map(importance_in),
                stop_processing_rules: a.stop_processing_rules,
                forward_as_attachment_to_recipients: a.forward_as_attachment_to_recipients,
                forward_to_recipients: a.forward_to_recipients,
                redirect_to_recipients: a.redirect_to_recipients,
            },
        })
    }
}

impl Handler<'_> {
    /// After a send: each forward or redirect the recipients' Inbox rules asked for, sent from
    /// the rule's mailbox inside the organization as any message is (a forward "FW: " with the
    /// original quoted, from that mailbox, with its attachments; a forward as an attachment
    /// "FW: " with the original whole as an item attachment; a redirect the message as it is,
    /// from its sender, with its attachments), marked auto-forwarded, so no rule forwards it
    /// again.
    /// The send that earned them is done whatever happens here; a failure is logged.
    pub(crate) async fn send_rule_forwards(&self, forwards: Vec<mailbox::RuleForward>) {
        for f in forwards {
            if let Err(e) = self.send_rule_forward(f).await {
                tracing::warn!(error = %e.message, "an Inbox rule's forward was not sent");
            }
        }
    }

    async fn send_rule_forward(&self, f: mailbox::RuleForward) -> Result<(), ResponseError> {
        let org = self.ex.inner.org.clone();
        let guid = f.mailbox.as_str().to_owned();
        let owner = org
            .db
            .clone()
            .call(move |c| org.get_recipient(c, &guid))
            .await
            .map_err(|e| ResponseError::new("ErrorInternalServerError", &e.to_string()))?;
        let owner = mailbox::Recipient {
            name: Some(owner.name.clone()),
            email: owner.address().unwrap_or_default().to_owned(),
        };
        let to: Vec<mailbox::Recipient> =
            f.to.iter()
                .map(|a| mailbox::Recipient::new(None, a))
                .collect();
        let routing = self.route(&to, &[], &[]).await?;
        let item = &f.item;
        let mbx = &self.ex.inner.mbx;
        let mut carried = Vec::new();
        if !item.attachments.is_empty() {
            let ids = item.attachments.iter().map(|a| a.id.clone()).collect();
            // a message a rule also deleted for good has none left to carry
            for a in mbx
                .get_attachments(&f.mailbox, ids)
                .await
                .unwrap_or_default()
            {
                let Ok(a) = a else { continue };
                carried.push(a);
            }
        }
        let (subject, body, from, attachments) = match f.kind {
            mailbox::ForwardKind::Redirect => (
                item.subject.clone(),
                item.body.clone(),
                item.from.clone().unwrap_or_else(|| owner.clone()),
                carried
                    .into_iter()
                    .map(mailbox::Attachment::into_new)
                    .collect(),
            ),
            mailbox::ForwardKind::Forward => (
                Some(crate::ews_reply::forward_subject(item.subject.as_deref())),
                Some(crate::ews_reply::forward_body(item)),
                owner.clone(),
                carried
                    .into_iter()
                    .map(mailbox::Attachment::into_new)
                    .collect(),
            ),
            // the message whole, its attachments inside it
            mailbox::ForwardKind::AsAttachment => (
                Some(crate::ews_reply::forward_subject(item.subject.as_deref())),
                None,
                owner.clone(),
                vec![crate::attached::of_stored(item, &carried).map_err(|e| {
                    ResponseError::new("ErrorAttachmentNestLevelLimitExceeded", &e.to_string())
                })?],
            ),
        };
        let new = mailbox::NewItem {
            item_class: "IPM.Note".into(),
            subject,
            body,
            from: Some(from.clone()),
            sender: Some(from.clone()),
            to,
            importance: item.importance,
            extended: vec![(mailbox::AUTO_FORWARDED_KEY.to_owned(), "true".to_owned())],
            attachments,
            ..mailbox::NewItem::default()
        };
        let send = mailbox::Send {
            from,
            message_id: self.new_message_id(),
            report: self.report(new.subject.as_deref(), &routing),
            deliver_to: routing.deliver_to,
            save_in: None,
            routed_version: None,
            answered: None,
            recipient_addresses: routing.addresses,
        };
        // what the recipients' rules would forward of it is not sent: it is auto-forwarded, and
        // so is never forwarded again; nor is what the rule's own mailbox would forward of a
        // report this send earns, so a forward outside and its report make no loop
        mbx.send_new(&f.mailbox, new, send)
            .await
            .map(|_| ())
            .map_err(|e| err(&e))
    }
}
