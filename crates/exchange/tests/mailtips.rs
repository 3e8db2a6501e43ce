//! GetMailTips over HTTP against the real server: each recipient's tips from the directory and
//! the mailboxes' out-of-office settings (a reply only while it is on, a scheduled one with its
//! period), custom mail tips set with the cmdlets, group member counts with nested groups and
//! external members, invalid and external addresses, and the refusals (SendingAs another
//! mailbox, too many recipients, no role).

mod common;

use common::{ALICE, BOB, Env, Options, start};
use ews_proto::mailtips::{MailTips, parse_get_mail_tips_response};
use ews_proto::response::ResponseError;
use ews_proto::xml::Limits;
use serde_json::json;

async fn env() -> Env {
    let e = start(Options {
        mailboxes: &[
            ("Alice", ALICE),
            ("Bob", BOB),
            ("Carol", "carol@contoso.example"),
        ],
        ..Options::default()
    })
    .await;
    e.cmdlet(
        "New-MailUser",
        json!({"Name": "Partner Pat", "ExternalEmailAddress": "pat@fabrikam.example"}),
    )
    .await
    .unwrap();
    e
}

fn tips_request(sending_as: &str, recipients: &[&str], requested: &str) -> String {
    let list: String = recipients
        .iter()
        .map(|r| {
            format!(
                "<t:Mailbox><t:EmailAddress>{r}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></t:Mailbox>"
            )
        })
        .collect();
    format!(
        "<m:GetMailTips><m:SendingAs><t:EmailAddress>{sending_as}</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType></m:SendingAs><m:Recipients>{list}</m:Recipients><m:MailTipsRequested>{requested}</m:MailTipsRequested></m:GetMailTips>"
    )
}

type Answer = Result<Vec<Result<MailTips, ResponseError>>, ResponseError>;

async fn tips(e: &Env, sending_as: &str, recipients: &[&str], requested: &str) -> Answer {
    let body = e
        .call(&tips_request(sending_as, recipients, requested))
        .await;
    parse_get_mail_tips_response(body.as_bytes(), &Limits::default())
        .unwrap_or_else(|err| panic!("{err}: {body}"))
}

fn ok(a: Answer) -> Vec<MailTips> {
    a.unwrap()
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("{}: {}", e.code, e.message)))
        .collect()
}

#[tokio::test]
async fn mailboxes_answer_every_tip_and_out_of_office_only_while_on() {
    let e = env().await;
    let t = ok(tips(&e, ALICE, &[BOB], "All").await);
    let bob = &t[0];
    assert_eq!(bob.recipient.email_address.as_deref(), Some(BOB));
    assert_eq!(bob.recipient.name.as_deref(), Some("Bob"));
    let oof = bob.out_of_office.as_ref().expect("OutOfOffice asked for");
    assert_eq!(oof.message, "", "Bob is not away");
    assert_eq!(bob.mailbox_full, Some(false));
    assert_eq!(bob.custom_mail_tip, None);
    assert_eq!(
        (bob.total_member_count, bob.external_member_count),
        (Some(1), Some(0))
    );
    assert_eq!(bob.max_message_size, Some(25 * 1024 * 1024));
    assert_eq!(
        (
            bob.delivery_restricted,
            bob.is_moderated,
            bob.invalid_recipient
        ),
        (Some(false), Some(false), Some(false))
    );
    assert!(bob.pending.is_empty());

    // Bob away (Enabled): the internal reply, no period
    e.cmdlet(
        "Set-MailboxAutoReplyConfiguration",
        json!({"Identity": "Bob", "AutoReplyState": "Enabled", "InternalMessage": "Back Monday", "ExternalMessage": "Away"}),
    )
    .await
    .unwrap();
    let t = ok(tips(&e, ALICE, &[BOB], "OutOfOfficeMessage").await);
    let oof = t[0].out_of_office.as_ref().unwrap();
    assert_eq!(oof.message, "Back Monday");
    assert_eq!(oof.duration, None);
    // only what was asked for
    assert_eq!(t[0].mailbox_full, None);
    assert_eq!(t[0].invalid_recipient, None);

    // scheduled: the period while inside it, nothing once it is past
    let now = time::OffsetDateTime::now_utc();
    let iso = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let (start, end) = (
        now - time::Duration::hours(1),
        now + time::Duration::days(2),
    );
    e.cmdlet(
        "Set-MailboxAutoReplyConfiguration",
        json!({"Identity": "Bob", "AutoReplyState": "Scheduled", "StartTime": iso(start), "EndTime": iso(end)}),
    )
    .await
    .unwrap();
    let t = ok(tips(&e, ALICE, &[BOB], "OutOfOfficeMessage").await);
    let oof = t[0].out_of_office.as_ref().unwrap();
    assert_eq!(oof.message, "Back Monday");
    let (s, en) = oof.duration.expect("a scheduled reply has its period");
    assert_eq!(
        (s.unix_timestamp(), en.unix_timestamp()),
        (start.unix_timestamp(), end.unix_timestamp())
    );
    e.cmdlet(
        "Set-MailboxAutoReplyConfiguration",
        json!({"Identity": "Bob", "StartTime": iso(now - time::Duration::days(3)), "EndTime": iso(now - time::Duration::days(1))}),
    )
    .await
    .unwrap();
    let t = ok(tips(&e, ALICE, &[BOB], "OutOfOfficeMessage").await);
    assert_eq!(t[0].out_of_office.as_ref().unwrap().message, "");
}

#[tokio::test]
async fn custom_mail_tips_are_set_with_the_cmdlets_and_cleared() {
    let e = env().await;
    let r = e
        .cmdlet(
            "Set-Mailbox",
            json!({"Identity": "Bob", "MailTip": "  Bob reads mail on Fridays  "}),
        )
        .await
        .unwrap();
    assert_eq!(r[0]["MailTip"], "Bob reads mail on Fridays");
    e.cmdlet(
        "New-DistributionGroup",
        json!({"Name": "Sales", "PrimarySmtpAddress": "sales@contoso.example", "Members": ["Bob"]}),
    )
    .await
    .unwrap();
    e.cmdlet(
        "Set-DistributionGroup",
        json!({"Identity": "Sales", "MailTip": "Goes to the whole sales team"}),
    )
    .await
    .unwrap();
    e.cmdlet(
        "Set-MailUser",
        json!({"Identity": "Partner Pat", "MailTip": "External partner"}),
    )
    .await
    .unwrap();
    let t = ok(tips(
        &e,
        ALICE,
        &[
            BOB,
            "sales@contoso.example",
            "pat@fabrikam.example",
            "carol@contoso.example",
        ],
        "CustomMailTip",
    )
    .await);
    let custom: Vec<_> = t.iter().map(|t| t.custom_mail_tip.as_deref()).collect();
    assert_eq!(
        custom,
        [
            Some("Bob reads mail on Fridays"),
            Some("Goes to the whole sales team"),
            Some("External partner"),
            None
        ]
    );
    // an empty one and $null clear it
    e.cmdlet("Set-Mailbox", json!({"Identity": "Bob", "MailTip": ""}))
        .await
        .unwrap();
    e.cmdlet(
        "Set-DistributionGroup",
        json!({"Identity": "Sales", "MailTip": null}),
    )
    .await
    .unwrap();
    let t = ok(tips(&e, ALICE, &[BOB, "sales@contoso.example"], "CustomMailTip").await);
    assert_eq!(
        (
            t[0].custom_mail_tip.as_deref(),
            t[1].custom_mail_tip.as_deref()
        ),
        (None, None)
    );
    // refused, and nothing changed
    e.cmdlet("Set-Mailbox", json!({"Identity": "Bob", "MailTip": "kept"}))
        .await
        .unwrap();
    for (tip, why) in [
        ("x".repeat(176), "at most 175"),
        ("bell\u{7}".to_owned(), "control character"),
    ] {
        let err = e
            .cmdlet("Set-Mailbox", json!({"Identity": "Bob", "MailTip": tip}))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{err}");
    }
    let t = ok(tips(&e, ALICE, &[BOB], "CustomMailTip").await);
    assert_eq!(t[0].custom_mail_tip.as_deref(), Some("kept"));
}

#[tokio::test]
async fn groups_count_their_members_nested_and_external() {
    let e = env().await;
    e.cmdlet(
        "New-DistributionGroup",
        json!({"Name": "Inner", "PrimarySmtpAddress": "inner@contoso.example", "Members": ["Carol", "Partner Pat", "Bob"]}),
    )
    .await
    .unwrap();
    e.cmdlet(
        "New-DistributionGroup",
        json!({"Name": "Outer", "PrimarySmtpAddress": "outer@contoso.example", "Members": ["Bob", "Inner"]}),
    )
    .await
    .unwrap();
    // a cycle: Inner contains Outer too; each member is counted once
    e.cmdlet(
        "Add-DistributionGroupMember",
        json!({"Identity": "Inner", "Member": "Outer"}),
    )
    .await
    .unwrap();
    let t = ok(tips(
        &e,
        ALICE,
        &["outer@contoso.example", "inner@contoso.example"],
        "TotalMemberCount ExternalMemberCount",
    )
    .await);
    for g in &t {
        assert_eq!(
            (g.total_member_count, g.external_member_count),
            (Some(3), Some(1)),
            "Bob, Carol and Pat (outside): {g:?}"
        );
        assert_eq!(g.out_of_office, None, "not asked for");
    }
    // a mail user alone: one member, outside
    let t = ok(tips(&e, ALICE, &["pat@fabrikam.example"], "All").await);
    assert_eq!(
        (t[0].total_member_count, t[0].external_member_count),
        (Some(1), Some(1))
    );
    assert_eq!(t[0].out_of_office.as_ref().unwrap().message, "");
    // one with an address of the organization still delivers outside: external
    e.cmdlet(
        "New-MailUser",
        json!({"Name": "Contractor", "ExternalEmailAddress": "sam@partner.example", "PrimarySmtpAddress": "sam@contoso.example"}),
    )
    .await
    .unwrap();
    let t = ok(tips(&e, ALICE, &["sam@contoso.example"], "ExternalMemberCount").await);
    assert_eq!(t[0].external_member_count, Some(1));
}

#[tokio::test]
async fn invalid_and_external_addresses_are_told_apart() {
    let e = env().await;
    let t = ok(tips(
        &e,
        ALICE,
        &[
            "nobody@contoso.example",
            "someone@elsewhere.example",
            "not an address",
            "SMTP:BOB@CONTOSO.EXAMPLE",
        ],
        "All",
    )
    .await);
    let nobody = &t[0];
    assert_eq!(nobody.invalid_recipient, Some(true));
    assert_eq!(
        (
            nobody.out_of_office.as_ref(),
            nobody.max_message_size,
            nobody.total_member_count
        ),
        (None, None, None),
        "an invalid recipient has no other tips"
    );
    let outside = &t[1];
    assert_eq!(outside.invalid_recipient, Some(false));
    assert_eq!(
        (outside.total_member_count, outside.external_member_count),
        (Some(1), Some(1))
    );
    assert_eq!(outside.max_message_size, Some(25 * 1024 * 1024));
    assert_eq!(
        outside.out_of_office, None,
        "unknown outside the organization"
    );
    assert_eq!(outside.mailbox_full, None);
    assert_eq!(t[2].invalid_recipient, Some(true));
    assert_eq!(
        t[3].invalid_recipient,
        Some(false),
        "a proxy address, any case"
    );
    assert_eq!(t[3].recipient.name.as_deref(), Some("Bob"));
}

#[tokio::test]
async fn refusals_are_precise() {
    let e = env().await;
    // sending as another mailbox, or as nobody: the whole request
    for who in [BOB, "nobody@contoso.example"] {
        let err = tips(&e, who, &[BOB], "All").await.unwrap_err();
        assert_eq!(err.code, "ErrorSendAsDenied", "{}", err.message);
        assert!(err.message.contains(ALICE), "{}", err.message);
    }
    // any of the acting mailbox's own addresses is fine
    e.cmdlet(
        "Set-Mailbox",
        json!({"Identity": "Alice", "EmailAddresses": {"Add": "a.smith@contoso.example"}}),
    )
    .await
    .unwrap();
    ok(tips(&e, "A.Smith@contoso.example", &[BOB], "All").await);
    // 101 recipients
    let many: Vec<String> = (0..101).map(|i| format!("u{i}@contoso.example")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = tips(&e, ALICE, &many, "All").await.unwrap_err();
    assert_eq!(err.code, "ErrorInvalidRequest");
    assert!(err.message.contains("at most 100"), "{}", err.message);
    assert_eq!(
        ok(tips(&e, ALICE, &many[..100], "InvalidRecipient").await).len(),
        100
    );
    // a routing type other than SMTP, no address: that recipient alone
    let body = e
        .call(&format!(
            "<m:GetMailTips><m:SendingAs><t:EmailAddress>{ALICE}</t:EmailAddress></m:SendingAs><m:Recipients><t:Mailbox><t:EmailAddress>/o=Org/cn=bob</t:EmailAddress><t:RoutingType>EX</t:RoutingType></t:Mailbox><t:Mailbox><t:Name>No address</t:Name></t:Mailbox><t:Mailbox><t:EmailAddress>{BOB}</t:EmailAddress></t:Mailbox></m:Recipients><m:MailTipsRequested>All</m:MailTipsRequested></m:GetMailTips>"
        ))
        .await;
    let r = parse_get_mail_tips_response(body.as_bytes(), &Limits::default())
        .unwrap()
        .unwrap();
    assert_eq!(r[0].as_ref().unwrap_err().code, "ErrorInvalidRoutingType");
    assert_eq!(r[1].as_ref().unwrap_err().code, "ErrorMissingEmailAddress");
    assert!(r[2].is_ok());
    // without UserApplication
    e.remove_role("UserApplication").await;
    let err = tips(&e, ALICE, &[BOB], "All").await.unwrap_err();
    assert_eq!(err.code, "ErrorAccessDenied");
}
