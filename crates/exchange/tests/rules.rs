//! Inbox rules against the real server: UpdateInboxRules creates, changes and deletes rules,
//! GetInboxRules lists them in priority order, and mail Bob sends Alice is filed, copied,
//! deleted, marked and categorized by them at delivery, exceptions and StopProcessingRules
//! included; the refusals (unsupported parts, missing folders and rules, duplicate names,
//! another mailbox) are `ErrorInboxRulesValidationError` or `ErrorAccessDenied` and change
//! nothing.

mod common;

use common::{ALICE, BOB, Env, Options, alice_token, bob_token, codes, ids, start};
use ews_proto::rules::{Rule, parse_get_inbox_rules_response};
use ews_proto::xml::Limits;

const CAROL: &str = "carol@contoso.example";

async fn env() -> Env {
    start(Options {
        mailboxes: &[("Alice", ALICE), ("Bob", BOB), ("Carol", CAROL)],
        ..Options::default()
    })
    .await
}

async fn bob_sends(e: &Env, subject: &str, cc: &[&str]) {
    let cc: String = cc
        .iter()
        .map(|a| format!("<t:Mailbox><t:EmailAddress>{a}</t:EmailAddress></t:Mailbox>"))
        .collect();
    let cc = if cc.is_empty() {
        String::new()
    } else {
        format!("<t:CcRecipients>{cc}</t:CcRecipients>")
    };
    let sent = e
        .call_with(
            &bob_token(),
            &format!(
                r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">Hello Alice</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>{ALICE}</t:EmailAddress></t:Mailbox></t:ToRecipients>{cc}</t:Message></m:Items></m:CreateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&sent), ["NoError"], "{sent}");
}

/// (subject, read, importance, categories) of each item of Alice's `folder`, by subject.
async fn in_folder(e: &Env, folder: &str) -> Vec<(String, bool, String, Vec<String>)> {
    let parent = if folder.len() > 20 {
        format!(r#"<t:FolderId Id="{folder}"/>"#)
    } else {
        format!(r#"<t:DistinguishedFolderId Id="{folder}"/>"#)
    };
    let found = e
        .call_with(
            &alice_token(),
            &format!(
                r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds>{parent}</m:ParentFolderIds></m:FindItem>"#
            ),
        )
        .await;
    let mut out = Vec::new();
    for (id, _) in ids(&found) {
        let got = e
            .call_with(
                &alice_token(),
                &format!(
                    r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
                ),
            )
            .await;
        let text = |tag: &str| {
            got.split(&format!("<t:{tag}>"))
                .nth(1)
                .and_then(|s| s.split('<').next())
                .unwrap_or_default()
                .to_owned()
        };
        let categories = got
            .split("<t:Categories>")
            .nth(1)
            .and_then(|s| s.split("</t:Categories>").next())
            .map(|s| {
                s.split("<t:String>")
                    .skip(1)
                    .filter_map(|x| x.split('<').next())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        out.push((
            text("Subject"),
            text("IsRead") == "true",
            text("Importance"),
            categories,
        ));
    }
    out.sort();
    out
}

fn subjects(v: &[(String, bool, String, Vec<String>)]) -> Vec<&str> {
    v.iter().map(|x| x.0.as_str()).collect()
}

fn update(ops: &str) -> String {
    format!(
        "<m:UpdateInboxRules><m:RemoveOutlookRuleBlob>true</m:RemoveOutlookRuleBlob><m:Operations>{ops}</m:Operations></m:UpdateInboxRules>"
    )
}

fn create(rule: &str) -> String {
    format!("<t:CreateRuleOperation><t:Rule>{rule}</t:Rule></t:CreateRuleOperation>")
}

async fn rules(e: &Env) -> Vec<Rule> {
    let body = e.call("<m:GetInboxRules/>").await;
    parse_get_inbox_rules_response(body.as_bytes(), &Limits::default())
        .unwrap_or_else(|err| panic!("{err}: {body}"))
        .unwrap_or_else(|err| panic!("{}: {body}", err.code))
}

async fn ok(e: &Env, op: &str) {
    let body = e.call(op).await;
    assert!(
        body.contains("<m:UpdateInboxRulesResponse ResponseClass=\"Success\""),
        "{op}: {body}"
    );
}

async fn invoices_folder(e: &Env) -> String {
    let made = e
        .call(r#"<m:CreateFolder><m:ParentFolderId><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>Invoices</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#)
        .await;
    made.split("<t:FolderId Id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("{made}"))
        .to_owned()
}

#[tokio::test]
async fn rules_file_mark_and_categorize_mail_at_delivery() {
    let e = env().await;
    assert_eq!(rules(&e).await, []);
    let invoices = invoices_folder(&e).await;
    ok(
        &e,
        &update(&create(&format!(
            r#"<t:DisplayName>Invoices</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ContainsSubjectStrings><t:String>invoice</t:String></t:ContainsSubjectStrings></t:Conditions><t:Actions><t:MoveToFolder><t:FolderId Id="{invoices}"/></t:MoveToFolder><t:MarkAsRead>true</t:MarkAsRead></t:Actions>"#
        ))),
    )
    .await;
    // ahead of it: Bob's mail sent only to Alice is categorized and made important, unless FYI
    ok(
        &e,
        &update(&create(
            r#"<t:DisplayName>From Bob</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:FromAddresses><t:Address><t:EmailAddress>BOB@contoso.example</t:EmailAddress></t:Address></t:FromAddresses><t:SentOnlyToMe>true</t:SentOnlyToMe></t:Conditions><t:Exceptions><t:ContainsSubjectStrings><t:String>FYI</t:String></t:ContainsSubjectStrings></t:Exceptions><t:Actions><t:AssignCategories><t:String>Bob</t:String></t:AssignCategories><t:MarkImportance>High</t:MarkImportance></t:Actions>"#,
        )),
    )
    .await;
    let listed = rules(&e).await;
    assert_eq!(
        listed
            .iter()
            .map(|r| (r.display_name.as_str(), r.priority))
            .collect::<Vec<_>>(),
        [("From Bob", 1), ("Invoices", 2)]
    );
    assert!(listed.iter().all(|r| r.id.is_some()));
    assert!(
        matches!(&listed[1].actions.move_to_folder, Some(ews_proto::types::FolderRef::Id { id, .. }) if *id == invoices)
    );
    bob_sends(&e, "Invoice 42", &[]).await;
    bob_sends(&e, "Hello", &[CAROL]).await;
    bob_sends(&e, "FYI lunch", &[]).await;
    let filed = in_folder(&e, &invoices).await;
    assert_eq!(
        filed,
        [(
            "Invoice 42".to_owned(),
            true,
            "High".to_owned(),
            vec!["Bob".to_owned()]
        )]
    );
    let inbox = in_folder(&e, "inbox").await;
    assert_eq!(
        inbox,
        [
            ("FYI lunch".to_owned(), false, "Normal".to_owned(), vec![]),
            ("Hello".to_owned(), false, "Normal".to_owned(), vec![]),
        ],
        "Cc'd to Carol: not only to Alice; FYI: excepted"
    );
    // the first rule stops the processing: invoices stay in the Inbox, categorized
    let bob_rule = listed[0].id.clone().unwrap();
    ok(
        &e,
        &update(&format!(
            r#"<t:SetRuleOperation><t:Rule><t:RuleId>{bob_rule}</t:RuleId><t:DisplayName>From Bob</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:FromAddresses><t:Address><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Address></t:FromAddresses></t:Conditions><t:Actions><t:AssignCategories><t:String>Bob</t:String></t:AssignCategories><t:StopProcessingRules>true</t:StopProcessingRules></t:Actions></t:Rule></t:SetRuleOperation>"#
        )),
    )
    .await;
    bob_sends(&e, "Invoice 43", &[]).await;
    let inbox = in_folder(&e, "inbox").await;
    assert!(
        inbox.contains(&(
            "Invoice 43".to_owned(),
            false,
            "Normal".to_owned(),
            vec!["Bob".to_owned()]
        )),
        "{inbox:?}"
    );
    // disabled, then deleted: no effect
    let listed = rules(&e).await;
    let (first, second) = (listed[0].id.clone().unwrap(), listed[1].id.clone().unwrap());
    ok(
        &e,
        &update(&format!(
            r#"<t:SetRuleOperation><t:Rule><t:RuleId>{first}</t:RuleId><t:DisplayName>From Bob</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>false</t:IsEnabled><t:Actions><t:Delete>true</t:Delete></t:Actions></t:Rule></t:SetRuleOperation><t:DeleteRuleOperation><t:RuleId>{second}</t:RuleId></t:DeleteRuleOperation>"#
        )),
    )
    .await;
    let listed = rules(&e).await;
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].is_enabled);
    bob_sends(&e, "Invoice 44", &[]).await;
    assert!(subjects(&in_folder(&e, "inbox").await).contains(&"Invoice 44"));
}

#[tokio::test]
async fn copy_delete_and_permanent_delete() {
    let e = env().await;
    let invoices = invoices_folder(&e).await;
    ok(
        &e,
        &update(&format!(
            "{}{}{}",
            create(&format!(
                r#"<t:DisplayName>Copy</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ContainsSubjectOrBodyStrings><t:String>copy me</t:String></t:ContainsSubjectOrBodyStrings></t:Conditions><t:Actions><t:CopyToFolder><t:FolderId Id="{invoices}"/></t:CopyToFolder></t:Actions>"#
            )),
            create(
                r#"<t:DisplayName>Bin</t:DisplayName><t:Priority>2</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ContainsSubjectStrings><t:String>spam</t:String></t:ContainsSubjectStrings></t:Conditions><t:Actions><t:Delete>true</t:Delete></t:Actions>"#
            ),
            create(
                r#"<t:DisplayName>Gone</t:DisplayName><t:Priority>3</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ContainsSubjectStrings><t:String>shred</t:String></t:ContainsSubjectStrings></t:Conditions><t:Actions><t:PermanentDelete>true</t:PermanentDelete></t:Actions>"#
            ),
        )),
    )
    .await;
    bob_sends(&e, "Please copy me", &[]).await;
    bob_sends(&e, "spam spam", &[]).await;
    bob_sends(&e, "shred this", &[]).await;
    assert_eq!(subjects(&in_folder(&e, "inbox").await), ["Please copy me"]);
    assert_eq!(
        subjects(&in_folder(&e, &invoices).await),
        ["Please copy me"]
    );
    assert_eq!(
        subjects(&in_folder(&e, "deleteditems").await),
        ["spam spam"]
    );
    // a rule whose folder was deleted does nothing for that action; the mail is delivered
    let deleted = e
        .call(&format!(
            r#"<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:FolderId Id="{invoices}"/></m:FolderIds></m:DeleteFolder>"#
        ))
        .await;
    assert_eq!(codes(&deleted), ["NoError"], "{deleted}");
    bob_sends(&e, "copy me again", &[]).await;
    assert!(subjects(&in_folder(&e, "inbox").await).contains(&"copy me again"));
}

#[tokio::test]
async fn refusals_are_validation_errors_and_change_nothing() {
    let e = env().await;
    let good = create(
        r#"<t:DisplayName>Good</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Actions><t:MarkAsRead>true</t:MarkAsRead></t:Actions>"#,
    );
    let cases = [
        (
            create(r#"<t:DisplayName>Sms</t:DisplayName><t:Priority>1</t:Priority><t:Actions><t:SendSMSAlertToRecipients><t:Address><t:EmailAddress>x@fabrikam.example</t:EmailAddress></t:Address></t:SendSMSAlertToRecipients></t:Actions>"#),
            "UnsupportedRule",
        ),
        (
            create(r#"<t:DisplayName>Lost</t:DisplayName><t:Priority>1</t:Priority><t:Actions><t:MoveToFolder><t:FolderId Id="AAAAAAAAAAAAAAAAAAAAAAAAAAAA"/></t:MoveToFolder></t:Actions>"#),
            "FolderDoesNotExist",
        ),
        (
            create(r#"<t:DisplayName>Hide</t:DisplayName><t:Priority>1</t:Priority><t:Actions><t:MoveToFolder><t:DistinguishedFolderId Id="recoverableitemsdeletions"/></t:MoveToFolder></t:Actions>"#),
            "FolderDoesNotExist",
        ),
        (
            r#"<t:SetRuleOperation><t:Rule><t:RuleId>R000000000999</t:RuleId><t:DisplayName>X</t:DisplayName><t:Priority>1</t:Priority><t:Actions><t:Delete>true</t:Delete></t:Actions></t:Rule></t:SetRuleOperation>"#.to_owned(),
            "RuleNotFound",
        ),
        (
            r#"<t:DeleteRuleOperation><t:RuleId>R000000000999</t:RuleId></t:DeleteRuleOperation>"#.to_owned(),
            "RuleNotFound",
        ),
        (good.clone(), "DuplicateDisplayName"),
        (
            create(r#"<t:DisplayName>Idle</t:DisplayName><t:Priority>1</t:Priority><t:Actions/>"#),
            "InvalidValue",
        ),
    ];
    for (bad, code) in cases {
        // each after a valid one in the same request: all or nothing
        let body = e.call(&update(&format!("{good}{bad}"))).await;
        assert!(
            body.contains("<m:ResponseCode>ErrorInboxRulesValidationError</m:ResponseCode>"),
            "{bad}: {body}"
        );
        assert!(
            body.contains(&format!("<t:ErrorCode>{code}</t:ErrorCode>")),
            "{bad}: {body}"
        );
        assert!(
            body.contains("<t:OperationIndex>1</t:OperationIndex>"),
            "{bad}: {body}"
        );
        assert_eq!(rules(&e).await, [], "{bad}: nothing was written");
    }
    // another mailbox's rules
    let body = e
        .call(&format!(
            "<m:GetInboxRules><m:MailboxSmtpAddress>{BOB}</m:MailboxSmtpAddress></m:GetInboxRules>"
        ))
        .await;
    assert!(body.contains("ErrorAccessDenied"), "{body}");
    let body = e
        .call(&format!(
            "<m:UpdateInboxRules><m:MailboxSmtpAddress>{BOB}</m:MailboxSmtpAddress><m:Operations>{good}</m:Operations></m:UpdateInboxRules>"
        ))
        .await;
    assert!(body.contains("ErrorAccessDenied"), "{body}");
    // its own address, any case: fine
    let body = e
        .call(&format!(
            "<m:GetInboxRules><m:MailboxSmtpAddress>{}</m:MailboxSmtpAddress></m:GetInboxRules>",
            ALICE.to_uppercase()
        ))
        .await;
    assert!(body.contains("NoError"), "{body}");
}

/// Regression: GetItem never wrote `t:Importance` and `t:Sensitivity`, whatever was stored.
#[tokio::test]
async fn importance_and_sensitivity_are_read_back() {
    let e = env().await;
    let made = e
        .call(r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Secret</t:Subject><t:Sensitivity>Private</t:Sensitivity><t:Importance>Low</t:Importance></t:Message></m:Items></m:CreateItem>"#)
        .await;
    let id = ids(&made).remove(0).0;
    let got = e
        .call(&format!(
            r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
        ))
        .await;
    assert!(
        got.contains("<t:Sensitivity>Private</t:Sensitivity>"),
        "{got}"
    );
    assert!(got.contains("<t:Importance>Low</t:Importance>"), "{got}");
}

/// Rules run on what the store delivers itself too: a meeting request (sent to the mailbox, and
/// forwarded), an automatic reply and a non-delivery report, each matched by its class
/// condition.
#[tokio::test]
async fn meeting_requests_automatic_replies_and_reports_are_processed() {
    let e = env().await;
    ok(
        &e,
        &update(&format!(
            "{}{}{}",
            create(&format!(r#"<t:DisplayName>Invites</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:IsMeetingRequest>true</t:IsMeetingRequest><t:SentToMe>true</t:SentToMe></t:Conditions><t:Actions><t:AssignCategories><t:String>Invite</t:String></t:AssignCategories><t:ForwardToRecipients><t:Address><t:EmailAddress>{CAROL}</t:EmailAddress></t:Address></t:ForwardToRecipients></t:Actions>"#)),
            create(r#"<t:DisplayName>Away notes</t:DisplayName><t:Priority>2</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:IsAutomaticReply>true</t:IsAutomaticReply></t:Conditions><t:Actions><t:Delete>true</t:Delete></t:Actions>"#),
            create(r#"<t:DisplayName>Bounces</t:DisplayName><t:Priority>3</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:IsNDR>true</t:IsNDR></t:Conditions><t:Actions><t:MarkAsRead>true</t:MarkAsRead></t:Actions>"#),
        )),
    )
    .await;
    // Bob invites Alice
    let invited = e
        .call_with(
            &bob_token(),
            &format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly" SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Planning</t:Subject><t:Start>2030-03-01T10:00:00Z</t:Start><t:End>2030-03-01T11:00:00Z</t:End><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>{ALICE}</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem></m:Items></m:CreateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&invited), ["NoError"], "{invited}");
    // Carol is away; Alice writes to her and to nobody
    e.cmdlet(
        "Set-MailboxAutoReplyConfiguration",
        serde_json::json!({"Identity": "Carol", "AutoReplyState": "Enabled", "InternalMessage": "Away"}),
    )
    .await
    .unwrap();
    let sent = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>Question</t:Subject><t:ToRecipients><t:Mailbox><t:EmailAddress>{CAROL}</t:EmailAddress></t:Mailbox><t:Mailbox><t:EmailAddress>nobody@contoso.example</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#
        ))
        .await;
    assert_eq!(codes(&sent), ["NoError"], "{sent}");
    let inbox = in_folder(&e, "inbox").await;
    let invite = inbox
        .iter()
        .find(|x| x.0 == "Planning")
        .unwrap_or_else(|| panic!("{inbox:?}"));
    assert_eq!(invite.3, ["Invite"], "{inbox:?}");
    // and forwarded to Carol (the request was sent to Alice: SentToMe holds)
    let carols = e
        .call_with(
            &common::user_token(CAROL),
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    assert!(
        carols.contains("<t:Subject>FW: Planning</t:Subject>"),
        "{carols}"
    );
    let bounce = inbox
        .iter()
        .find(|x| x.0.contains("Undeliverable"))
        .unwrap_or_else(|| panic!("{inbox:?}"));
    assert!(bounce.1, "the report is marked read: {inbox:?}");
    assert_eq!(
        subjects(&in_folder(&e, "deleteditems").await),
        ["Automatic reply: Question"]
    );
}

/// Forward, forward as an attachment and redirect: sent after the delivery from the rule's
/// mailbox, the original quoted (forward), attached whole (forward as an attachment) or as it
/// was from its sender (redirect), attachments carried, and marked auto-forwarded so that a rule
/// forwarding it back makes no loop.
#[tokio::test]
async fn forwards_and_redirects_are_sent_once() {
    let e = env().await;
    let carol = common::user_token(CAROL);
    ok(
        &e,
        &update(&format!(
            "{}{}{}",
            create(&format!(r#"<t:DisplayName>Attach</t:DisplayName><t:Priority>3</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ContainsSubjectStrings><t:String>numbers</t:String></t:ContainsSubjectStrings></t:Conditions><t:Actions><t:ForwardAsAttachmentToRecipients><t:Address><t:EmailAddress>{CAROL}</t:EmailAddress></t:Address></t:ForwardAsAttachmentToRecipients></t:Actions>"#)),
            create(&format!(r#"<t:DisplayName>Forward</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ContainsSubjectStrings><t:String>fwd</t:String></t:ContainsSubjectStrings></t:Conditions><t:Actions><t:ForwardToRecipients><t:Address><t:EmailAddress>{CAROL}</t:EmailAddress></t:Address></t:ForwardToRecipients></t:Actions>"#)),
            create(&format!(r#"<t:DisplayName>Redirect</t:DisplayName><t:Priority>2</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ContainsSubjectStrings><t:String>redir</t:String></t:ContainsSubjectStrings></t:Conditions><t:Actions><t:RedirectToRecipients><t:Address><t:EmailAddress>{CAROL}</t:EmailAddress></t:Address></t:RedirectToRecipients></t:Actions>"#)),
        )),
    )
    .await;
    // Carol forwards anything "fwd" back to Alice: the auto-forwarded copy is not forwarded
    let back = e
        .call_with(
            &carol,
            &update(&create(&format!(r#"<t:DisplayName>Back</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ContainsSubjectStrings><t:String>fwd</t:String></t:ContainsSubjectStrings></t:Conditions><t:Actions><t:ForwardToRecipients><t:Address><t:EmailAddress>{ALICE}</t:EmailAddress></t:Address></t:ForwardToRecipients></t:Actions>"#))),
        )
        .await;
    assert!(back.contains("ResponseClass=\"Success\""), "{back}");
    let sent = e
        .call_with(
            &bob_token(),
            &format!(
                r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>fwd the numbers</t:Subject><t:Body BodyType="Text">Q3 attached</t:Body><t:Attachments><t:FileAttachment><t:Name>q3.csv</t:Name><t:Content>YSxiCjEsMgo=</t:Content></t:FileAttachment></t:Attachments><t:ToRecipients><t:Mailbox><t:EmailAddress>{ALICE}</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&sent), ["NoError"], "{sent}");
    bob_sends(&e, "redir this", &[]).await;
    let found = e
        .call_with(
            &carol,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    let mut got = Vec::new();
    for (id, _) in ids(&found) {
        got.push(
            e.call_with(
                &carol,
                &format!(
                    r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:BodyType>Text</t:BodyType></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
                ),
            )
            .await,
        );
    }
    assert_eq!(got.len(), 3, "{got:?}");
    let fw = got
        .iter()
        .find(|g| {
            g.contains("<t:Subject>FW: fwd the numbers</t:Subject>")
                && g.contains("<t:FileAttachment>")
        })
        .unwrap_or_else(|| panic!("{got:?}"));
    assert!(fw.contains("alice@contoso.example"), "from Alice: {fw}");
    assert!(fw.contains("Q3 attached"), "the original quoted: {fw}");
    assert!(
        fw.contains("<t:Name>q3.csv</t:Name>"),
        "the attachment carried: {fw}"
    );
    // forwarded as an attachment: the original whole, its own attachment inside it
    let attached = got
        .iter()
        .find(|g| g.contains("<t:ItemAttachment>"))
        .unwrap_or_else(|| panic!("{got:?}"));
    assert!(
        attached.contains("<t:Subject>FW: fwd the numbers</t:Subject>"),
        "{attached}"
    );
    let id = attached
        .split("<t:ItemAttachment><t:AttachmentId Id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default();
    let inner = e
        .call_with(
            &carol,
            &format!(
                r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{id}"/></m:AttachmentIds></m:GetAttachment>"#
            ),
        )
        .await;
    assert!(
        inner.contains("<t:Subject>fwd the numbers</t:Subject>")
            && inner.contains("Q3 attached")
            && inner.contains("<t:Name>q3.csv</t:Name>")
            && inner.contains("<t:Content>YSxiCjEsMgo=</t:Content>"),
        "{inner}"
    );
    let redirected = got
        .iter()
        .find(|g| g.contains("<t:Subject>redir this</t:Subject>"))
        .unwrap_or_else(|| panic!("{got:?}"));
    assert!(
        redirected
            .split("<t:From>")
            .nth(1)
            .and_then(|f| f.split("</t:From>").next())
            .is_some_and(|f| f.contains(BOB)),
        "from Bob: {redirected}"
    );
    // Carol's rule did not send the forward back: Alice has only Bob's two messages
    let inbox = in_folder(&e, "inbox").await;
    assert_eq!(subjects(&inbox), ["fwd the numbers", "redir this"]);
}

/// What the store delivers itself is forwarded too: the organizer's rule forwards an attendee's
/// response, an attendee's rule the organizer's cancellation, and the sender's rules its
/// non-delivery report and an automatic reply; each forward arrives once.
#[tokio::test]
async fn responses_cancellations_reports_and_automatic_replies_are_forwarded() {
    let e = env().await;
    let fwd = |name: &str, priority: u32, condition: &str| {
        create(&format!(
            r#"<t:DisplayName>{name}</t:DisplayName><t:Priority>{priority}</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions>{condition}</t:Conditions><t:Actions><t:ForwardToRecipients><t:Address><t:EmailAddress>{CAROL}</t:EmailAddress></t:Address></t:ForwardToRecipients></t:Actions>"#
        ))
    };
    ok(
        &e,
        &update(&format!(
            "{}{}{}",
            fwd(
                "Answers",
                1,
                "<t:ContainsSubjectStrings><t:String>Accepted:</t:String></t:ContainsSubjectStrings>"
            ),
            fwd("Bounces", 2, "<t:IsNDR>true</t:IsNDR>"),
            fwd("Away", 3, "<t:IsAutomaticReply>true</t:IsAutomaticReply>"),
        )),
    )
    .await;
    let bob = bob_token();
    let r = e
        .call_with(
            &bob,
            &update(&fwd(
                "Cancellations",
                1,
                "<t:ContainsSubjectStrings><t:String>Canceled:</t:String></t:ContainsSubjectStrings>",
            )),
        )
        .await;
    assert!(r.contains("ResponseClass=\"Success\""), "{r}");
    // Alice invites Bob; Bob accepts
    let invited = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly" SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Sync</t:Subject><t:Start>2030-03-01T10:00:00Z</t:Start><t:End>2030-03-01T11:00:00Z</t:End><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>{BOB}</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem></m:Items></m:CreateItem>"#
        ))
        .await;
    assert_eq!(codes(&invited), ["NoError"], "{invited}");
    let (meeting, _) = ids(&invited).remove(0);
    let bobs = e
        .call_with(
            &bob,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    let (request, _) = ids(&bobs).remove(0);
    let accepted = e
        .call_with(
            &bob,
            &format!(
                r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:AcceptItem><t:ReferenceItemId Id="{request}"/></t:AcceptItem></m:Items></m:CreateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&accepted), ["NoError"], "{accepted}");
    // Alice cancels it
    let cancelled = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:CancelCalendarItem><t:ReferenceItemId Id="{meeting}"/></t:CancelCalendarItem></m:Items></m:CreateItem>"#
        ))
        .await;
    assert_eq!(codes(&cancelled), ["NoError"], "{cancelled}");
    // Bob is away; Alice writes to him and to nobody
    e.cmdlet(
        "Set-MailboxAutoReplyConfiguration",
        serde_json::json!({"Identity": "Bob", "AutoReplyState": "Enabled", "InternalMessage": "Away"}),
    )
    .await
    .unwrap();
    let sent = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>Question</t:Subject><t:ToRecipients><t:Mailbox><t:EmailAddress>{BOB}</t:EmailAddress></t:Mailbox><t:Mailbox><t:EmailAddress>nobody@contoso.example</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#
        ))
        .await;
    assert_eq!(codes(&sent), ["NoError"], "{sent}");
    let carols = e
        .call_with(
            &common::user_token(CAROL),
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    let mut got: Vec<String> = carols
        .split("<t:Subject>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect();
    got.sort();
    assert_eq!(got.len(), 4, "{carols}");
    assert!(got[0].starts_with("FW: Accepted: Sync"), "{got:?}");
    assert!(
        got[1].starts_with("FW: Automatic reply: Question"),
        "{got:?}"
    );
    assert!(got[2].starts_with("FW: Canceled: Sync"), "{got:?}");
    assert!(got[3].starts_with("FW: Undeliverable"), "{got:?}");
}

/// A mailbox's rules are bounded together (256 KB, Exchange's largest RulesQuota), as each
/// delivery reads them: past it the operation is refused and nothing is written.
#[tokio::test]
async fn the_rules_of_a_mailbox_are_bounded_together() {
    let e = env().await;
    let big = |n: usize| {
        let strings: String = (0..256)
            .map(|i| format!("<t:String>{n}-{i}-{}</t:String>", "x".repeat(230)))
            .collect();
        create(&format!(
            r#"<t:DisplayName>Big {n}</t:DisplayName><t:Priority>1</t:Priority><t:IsEnabled>true</t:IsEnabled><t:Conditions><t:ContainsBodyStrings>{strings}</t:ContainsBodyStrings></t:Conditions><t:Actions><t:MarkAsRead>true</t:MarkAsRead></t:Actions>"#
        ))
    };
    // four of about 61 KB each fit, a fifth does not
    for n in 0..4 {
        ok(&e, &update(&big(n))).await;
    }
    let body = e.call(&update(&big(4))).await;
    assert!(
        body.contains("<t:ErrorCode>RulesTooLarge</t:ErrorCode>"),
        "{body}"
    );
    assert!(body.contains("262144"), "{body}");
    assert_eq!(rules(&e).await.len(), 4, "nothing was written");
}
