//! Out-of-office over HTTP against the real server: GetUserOofSettings and SetUserOofSettings
//! for the acting mailbox (the availability-style answer: one `m:ResponseMessage`), their
//! refusals, and the automatic reply a delivery to a mailbox that is away earns, once per
//! sender per period.

mod common;

use common::{ALICE, BOB, Env, Options, alice_token, bob_token, ids, start};

async fn env() -> Env {
    start(Options {
        mailboxes: &[("Alice", ALICE), ("Bob", BOB)],
        ..Options::default()
    })
    .await
}

fn mailbox(addr: &str) -> String {
    format!(
        "<t:Mailbox><t:Address>{addr}</t:Address><t:RoutingType>SMTP</t:RoutingType></t:Mailbox>"
    )
}

fn get(addr: &str) -> String {
    format!(
        "<m:GetUserOofSettingsRequest>{}</m:GetUserOofSettingsRequest>",
        mailbox(addr)
    )
}

fn set(addr: &str, settings: &str) -> String {
    format!(
        "<m:SetUserOofSettingsRequest>{}<t:UserOofSettings>{settings}</t:UserOofSettings></m:SetUserOofSettingsRequest>",
        mailbox(addr)
    )
}

const AWAY: &str = "<t:OofState>Enabled</t:OofState><t:ExternalAudience>Known</t:ExternalAudience><t:InternalReply><t:Message>Away until Monday</t:Message></t:InternalReply><t:ExternalReply><t:Message>Away</t:Message></t:ExternalReply>";

fn code(body: &str) -> String {
    body.split("<m:ResponseCode>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("no ResponseCode in {body}"))
        .to_owned()
}

#[tokio::test]
async fn settings_are_read_and_set_for_the_acting_mailbox() {
    let e = env().await;
    let body = e.call(&get(ALICE)).await;
    assert_eq!(code(&body), "NoError", "{body}");
    assert!(body.contains("<m:GetUserOofSettingsResponse"), "{body}");
    assert!(
        body.contains("<m:ResponseMessage ResponseClass=\"Success\">"),
        "{body}"
    );
    assert!(body.contains("<t:OofState>Disabled</t:OofState>"), "{body}");
    assert!(body.contains("<t:Duration>"), "today's window: {body}");
    assert!(
        body.contains("<m:AllowExternalOof>All</m:AllowExternalOof>"),
        "{body}"
    );

    let body = e.call(&set(ALICE, AWAY)).await;
    assert_eq!(code(&body), "NoError", "{body}");
    assert!(body.contains("<m:SetUserOofSettingsResponse"), "{body}");
    let body = e
        .call(&get(&format!("SMTP:{}", ALICE.to_uppercase())))
        .await;
    assert!(body.contains("<t:OofState>Enabled</t:OofState>"), "{body}");
    assert!(
        body.contains("<t:ExternalAudience>Known</t:ExternalAudience>"),
        "{body}"
    );
    assert!(
        body.contains("<t:Message>Away until Monday</t:Message>"),
        "{body}"
    );

    // a Set without replies keeps them
    let body = e
        .call(&set(
            ALICE,
            "<t:OofState>Disabled</t:OofState><t:ExternalAudience>All</t:ExternalAudience>",
        ))
        .await;
    assert_eq!(code(&body), "NoError", "{body}");
    let body = e.call(&get(ALICE)).await;
    assert!(body.contains("<t:OofState>Disabled</t:OofState>"), "{body}");
    assert!(
        body.contains("<t:Message>Away until Monday</t:Message>"),
        "{body}"
    );
}

#[tokio::test]
async fn refusals_are_precise_and_change_nothing() {
    let e = env().await;
    let cases = [
        (set(BOB, AWAY), "ErrorAccessDenied"),
        (get(BOB), "ErrorAccessDenied"),
        (
            set(
                ALICE,
                "<t:OofState>Scheduled</t:OofState><t:ExternalAudience>All</t:ExternalAudience>",
            ),
            "ErrorInvalidScheduledOofDuration",
        ),
        (
            set(
                ALICE,
                "<t:OofState>Scheduled</t:OofState><t:ExternalAudience>All</t:ExternalAudience><t:Duration><t:StartTime>2026-12-02T00:00:00Z</t:StartTime><t:EndTime>2026-12-01T00:00:00Z</t:EndTime></t:Duration>",
            ),
            "ErrorInvalidScheduledOofDuration",
        ),
    ];
    for (op, want) in &cases {
        let body = e.call(op).await;
        assert_eq!(code(&body), *want, "{op}: {body}");
        assert!(
            body.contains("<m:ResponseMessage ResponseClass=\"Error\">"),
            "{body}"
        );
        assert!(body.contains("<m:MessageText>"), "{body}");
    }
    // Bob's settings were not touched by Alice's attempt
    let body = e.call_with(&bob_token(), &get(BOB)).await;
    assert!(body.contains("<t:OofState>Disabled</t:OofState>"), "{body}");
    // without UserApplication, nothing
    e.remove_role("UserApplication").await;
    let body = e.call(&get(ALICE)).await;
    assert_eq!(code(&body), "ErrorAccessDenied", "{body}");
}

#[tokio::test]
async fn a_delivery_to_a_mailbox_that_is_away_earns_one_automatic_reply() {
    let e = env().await;
    let body = e.call_with(&bob_token(), &set(BOB, AWAY)).await;
    assert_eq!(code(&body), "NoError", "{body}");
    let send = |subject: &str| {
        format!(
            r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">hi</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>{BOB}</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#
        )
    };
    let inbox = r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#;
    for subject in ["Lunch?", "Dinner?"] {
        let body = e.call(&send(subject)).await;
        assert_eq!(code(&body), "NoError", "{body}");
    }
    let found = e.call_with(&alice_token(), inbox).await;
    assert_eq!(ids(&found).len(), 1, "one reply for two messages: {found}");
    assert!(
        found.contains("<t:Subject>Automatic reply: Lunch?</t:Subject>"),
        "{found}"
    );
    assert!(found.contains(BOB), "from Bob: {found}");
    // Bob's own two messages arrived
    let bobs = e.call_with(&bob_token(), inbox).await;
    assert_eq!(ids(&bobs).len(), 2, "{bobs}");
    // turned off: no more replies, and Bob answering Alice earns none from her
    let body = e
        .call_with(
            &bob_token(),
            &set(
                BOB,
                "<t:OofState>Disabled</t:OofState><t:ExternalAudience>All</t:ExternalAudience>",
            ),
        )
        .await;
    assert_eq!(code(&body), "NoError", "{body}");
    let body = e.call(&send("Breakfast?")).await;
    assert_eq!(code(&body), "NoError", "{body}");
    assert_eq!(ids(&e.call_with(&alice_token(), inbox).await).len(), 1);
}

/// The administrator's cmdlets reach the same settings EWS does.
#[tokio::test]
async fn the_auto_reply_cmdlets_set_what_ews_reads() {
    let e = env().await;
    let out = e
        .cmdlet(
            "Set-MailboxAutoReplyConfiguration",
            serde_json::json!({
                "Identity": ALICE,
                "AutoReplyState": "Scheduled",
                "StartTime": "2020-01-01T00:00:00Z",
                "EndTime": "2099-01-01 00:00",
                "InternalMessage": "On leave",
                "ExternalAudience": "None",
            }),
        )
        .await
        .unwrap();
    assert_eq!(out[0]["AutoReplyState"], "Scheduled", "{out:?}");
    assert_eq!(out[0]["EndTime"], "2099-01-01T00:00:00Z", "{out:?}");
    let body = e.call(&get(ALICE)).await;
    assert!(
        body.contains("<t:OofState>Scheduled</t:OofState>"),
        "{body}"
    );
    assert!(
        body.contains("<t:ExternalAudience>None</t:ExternalAudience>"),
        "{body}"
    );
    assert!(body.contains("<t:Message>On leave</t:Message>"), "{body}");
    let got = e
        .cmdlet(
            "Get-MailboxAutoReplyConfiguration",
            serde_json::json!({"Identity": ALICE}),
        )
        .await
        .unwrap();
    assert_eq!(got[0]["InternalMessage"], "On leave");
    // refused, with what to give, and nothing changed
    for bad in [
        serde_json::json!({"Identity": BOB, "AutoReplyState": "Scheduled"}),
        serde_json::json!({"Identity": ALICE, "AutoReplyState": "Sometimes"}),
        serde_json::json!({"Identity": ALICE, "StartTime": "soon"}),
    ] {
        let err = e
            .cmdlet("Set-MailboxAutoReplyConfiguration", bad.clone())
            .await
            .unwrap_err();
        assert!(!err.to_string().is_empty(), "{bad}");
    }
    let body = e.call(&get(ALICE)).await;
    assert!(
        body.contains("<t:OofState>Scheduled</t:OofState>"),
        "{body}"
    );
}

/// A group does not pass its members' automatic replies to the sender (Exchange's
/// SendOofMessageToOriginatorEnabled, false by default): Bob, away, reached through a group,
/// answers nothing; named directly on the same message, he answers once.
#[tokio::test]
async fn members_reached_through_a_group_send_no_automatic_reply() {
    let e = env().await;
    e.cmdlet(
        "New-DistributionGroup",
        serde_json::json!({"Name": "Team", "PrimarySmtpAddress": "team@contoso.example", "Members": "Bob"}),
    )
    .await
    .unwrap();
    let body = e.call_with(&bob_token(), &set(BOB, AWAY)).await;
    assert_eq!(code(&body), "NoError", "{body}");
    let send = |to: &str| {
        format!(
            r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>To {to}</t:Subject><t:ToRecipients><t:Mailbox><t:EmailAddress>{to}</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#
        )
    };
    let inbox = r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#;
    let body = e.call(&send("team@contoso.example")).await;
    assert_eq!(code(&body), "NoError", "{body}");
    assert_eq!(
        ids(&e.call_with(&bob_token(), inbox).await).len(),
        1,
        "delivered"
    );
    assert!(
        ids(&e.call(inbox).await).is_empty(),
        "no reply through the group"
    );
    let body = e.call(&send(BOB)).await;
    assert_eq!(code(&body), "NoError", "{body}");
    let found = e.call(inbox).await;
    assert_eq!(ids(&found).len(), 1, "{found}");
    assert!(
        found.contains(&format!("Automatic reply: To {BOB}")),
        "{found}"
    );
}

/// Named directly and a member of a group on the same message (the group first): one copy, and
/// Bob counts as named, so his automatic reply goes out.
#[tokio::test]
async fn a_member_also_named_directly_counts_as_named() {
    let e = env().await;
    e.cmdlet(
        "New-DistributionGroup",
        serde_json::json!({"Name": "Team", "PrimarySmtpAddress": "team@contoso.example", "Members": "Bob"}),
    )
    .await
    .unwrap();
    let body = e.call_with(&bob_token(), &set(BOB, AWAY)).await;
    assert_eq!(code(&body), "NoError", "{body}");
    let body = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>Both</t:Subject><t:ToRecipients><t:Mailbox><t:EmailAddress>team@contoso.example</t:EmailAddress></t:Mailbox><t:Mailbox><t:EmailAddress>{BOB}</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#
        ))
        .await;
    assert_eq!(code(&body), "NoError", "{body}");
    let inbox = r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#;
    assert_eq!(
        ids(&e.call_with(&bob_token(), inbox).await).len(),
        1,
        "one copy"
    );
    let found = e.call(inbox).await;
    assert!(found.contains("Automatic reply: Both"), "{found}");
}
