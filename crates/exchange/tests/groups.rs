//! Proxy addresses (EmailAddresses) and distribution groups over the admin API and EWS against
//! the real server: Set-Mailbox/Set-MailUser/Set-DistributionGroup with the whole list,
//! `@{Add; Remove}` and -PrimarySmtpAddress, uniqueness across the organization and every
//! refusal; sending to a secondary address (delivered once), to a group (nested, with a cycle,
//! with a mail user member: a non-delivery report), the recipient bound after expansion;
//! ResolveNames of a group and of a secondary address; ExpandDL and its errors; Autodiscover and
//! ExchangeImpersonation by a secondary address, and the token's `smtp` claim, which stays the
//! primary address.

mod common;

use common::{
    ALICE, BOB, Env, Options, alice_token, bob_token, codes, ids, messages, start, user_token,
};
use exchange::ExchangeError;
use serde_json::{Value, json};

const CAROL: &str = "carol@contoso.example";
const DAVE: &str = "dave@contoso.example";

/// Alice, Bob, Carol and Dave; SfBOnline acting for them, with ApplicationImpersonation too.
async fn env() -> Env {
    start(Options {
        mailboxes: &[
            ("Alice", ALICE),
            ("Bob", BOB),
            ("Carol", CAROL),
            ("Dave", DAVE),
        ],
        partner: Some(common::Partner {
            key: common::key,
            roles: &[
                "UserApplication",
                "ArchiveApplication",
                "ApplicationImpersonation",
            ],
        }),
        ..Options::default()
    })
    .await
}

impl Env {
    async fn ok(&self, cmdlet: &str, params: Value) -> Vec<Value> {
        match self.cmdlet(cmdlet, params.clone()).await {
            Ok(v) => v,
            Err(e) => panic!("{cmdlet} {params}: {e}"),
        }
    }

    async fn refused(&self, cmdlet: &str, params: Value) -> ExchangeError {
        match self.cmdlet(cmdlet, params.clone()).await {
            Ok(v) => panic!("{cmdlet} {params} was accepted: {v:?}"),
            Err(e) => e,
        }
    }

    async fn addresses(&self, identity: &str) -> Vec<String> {
        let r = self
            .ok("Get-Recipient", json!({ "Identity": identity }))
            .await;
        serde_json::from_value(r[0]["EmailAddresses"].clone()).unwrap()
    }

    /// The items of a distinguished folder (all properties) as `token`'s user sees them.
    async fn folder(&self, token: &str, folder: &str) -> (usize, String) {
        let found = self
            .call_with(
                token,
                &format!(
                    r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#
                ),
            )
            .await;
        let ids = ids(&found);
        if ids.is_empty() {
            return (0, String::new());
        }
        let list: String = ids
            .iter()
            .map(|(i, _)| format!(r#"<t:ItemId Id="{i}"/>"#))
            .collect();
        let got = self
            .call_with(
                token,
                &format!(
                    r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds>{list}</m:ItemIds></m:GetItem>"#
                ),
            )
            .await;
        (ids.len(), got)
    }

    /// Alice sends a message (SendOnly) to these lines; the answer's response codes.
    async fn send(&self, subject: &str, to: &[&str], cc: &[&str]) -> String {
        let line = |tag: &str, a: &[&str]| {
            if a.is_empty() {
                return String::new();
            }
            let boxes: String = a
                .iter()
                .map(|x| format!("<t:Mailbox><t:EmailAddress>{x}</t:EmailAddress></t:Mailbox>"))
                .collect();
            format!("<t:{tag}>{boxes}</t:{tag}>")
        };
        self.call(&format!(
            r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">Hello</t:Body>{}{}</t:Message></m:Items></m:CreateItem>"#,
            line("ToRecipients", to),
            line("CcRecipients", cc)
        ))
        .await
    }

    async fn expand(&self, entry: &str) -> String {
        self.call(&format!(
            "<m:ExpandDL><m:Mailbox><t:EmailAddress>{entry}</t:EmailAddress></m:Mailbox></m:ExpandDL>"
        ))
        .await
    }

    async fn resolve(&self, entry: &str, full: bool) -> String {
        self.call(&format!(
            r#"<m:ResolveNames ReturnFullContactData="{full}"><m:UnresolvedEntry>{entry}</m:UnresolvedEntry></m:ResolveNames>"#
        ))
        .await
    }
}

/// Every `t:Mailbox` of an answer as (Name, EmailAddress, MailboxType).
fn mailboxes(body: &str) -> Vec<(String, String, String)> {
    let field = |m: &str, f: &str| {
        m.split(&format!("<t:{f}>"))
            .nth(1)
            .and_then(|v| v.split('<').next())
            .unwrap_or_default()
            .to_owned()
    };
    body.split("<t:Mailbox>")
        .skip(1)
        .map(|m| {
            (
                field(m, "Name"),
                field(m, "EmailAddress"),
                field(m, "MailboxType"),
            )
        })
        .collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn email_addresses_are_listed_changed_and_unique() {
    let e = env().await;
    // New-Mailbox gives the primary; Get-Mailbox shows it as SMTP:
    let m = e.ok("Get-Mailbox", json!({"Identity": "Bob"})).await;
    assert_eq!(m[0]["EmailAddresses"], json!(["SMTP:bob@contoso.example"]));
    assert!(m[0].get("GroupType").is_none(), "{}", m[0]);
    // @{Add}: a secondary address, and other types kept as given
    let m = e
        .ok(
            "Set-Mailbox",
            json!({"Identity": "Bob", "EmailAddresses": {"Add": ["bob.berg@contoso.example", "SIP:bob@contoso.example", "X500:/o=Contoso/cn=bob"]}}),
        )
        .await;
    assert_eq!(
        m[0]["EmailAddresses"],
        json!([
            "SMTP:bob@contoso.example",
            "smtp:bob.berg@contoso.example",
            "SIP:bob@contoso.example",
            "X500:/o=Contoso/cn=bob"
        ])
    );
    // any address is an identity
    let r = e
        .ok(
            "Get-Recipient",
            json!({"Identity": "BOB.BERG@contoso.example"}),
        )
        .await;
    assert_eq!(r[0]["Name"], "Bob");
    // @{Remove}, any case
    e.ok(
        "Set-Mailbox",
        json!({"Identity": "Bob", "EmailAddresses": {"Remove": ["x500:/o=contoso/cn=BOB"]}}),
    )
    .await;
    assert_eq!(
        e.addresses("Bob").await,
        strings(&[
            "SMTP:bob@contoso.example",
            "smtp:bob.berg@contoso.example",
            "SIP:bob@contoso.example"
        ])
    );

    // -PrimarySmtpAddress: the old primary stays as smtp:
    let m = e
        .ok(
            "Set-Mailbox",
            json!({"Identity": "Carol", "PrimarySmtpAddress": "carol.cole@contoso.example"}),
        )
        .await;
    assert_eq!(m[0]["PrimarySmtpAddress"], "carol.cole@contoso.example");
    assert_eq!(
        m[0]["EmailAddresses"],
        json!([
            "SMTP:carol.cole@contoso.example",
            "smtp:carol@contoso.example"
        ])
    );
    // the whole list: its first SMTP address is the primary when none is SMTP:
    let m = e
        .ok(
            "Set-Mailbox",
            json!({"Identity": "Carol", "EmailAddresses": "carol@contoso.example,c@contoso.example"}),
        )
        .await;
    assert_eq!(m[0]["PrimarySmtpAddress"], "carol@contoso.example");
    assert_eq!(
        m[0]["EmailAddresses"],
        json!(["SMTP:carol@contoso.example", "smtp:c@contoso.example"])
    );

    // unique across the organization, whoever has it and in whatever case
    for (cmdlet, params) in [
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": {"Add": "Bob.Berg@Contoso.Example"}}),
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "PrimarySmtpAddress": "bob.berg@contoso.example"}),
        ),
        (
            "New-Mailbox",
            json!({"Name": "Bobby", "PrimarySmtpAddress": "bob.berg@contoso.example"}),
        ),
        (
            "New-DistributionGroup",
            json!({"Name": "Bobs", "PrimarySmtpAddress": "bob.berg@contoso.example"}),
        ),
    ] {
        let err = e.refused(cmdlet, params.clone()).await;
        assert!(
            matches!(&err, ExchangeError::ProxyAddressInUse { holder, .. } if holder == "Bob"),
            "{params}: {err:?}"
        );
        assert_eq!(err.status(), 409);
        // named as Bob has it, whatever the case asked for
        let text = err.to_string();
        assert!(
            text.contains("\"smtp:bob.berg@contoso.example\" is already being used by")
                && text.contains("of \"Bob\""),
            "{text}"
        );
    }

    // every bad input, with what was wrong
    let refusals: Vec<(&str, Value, &str)> = vec![
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": {"Add": "dave@fabrikam.example"}}),
            "is not an accepted domain",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": {"Add": "smtp:not-an-address"}}),
            "is not valid",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": ["SMTP:d1@contoso.example", "SMTP:d2@contoso.example"]}),
            "more than one address is SMTP:",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": ["X500:/o=x"]}),
            "no SMTP address",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": {"Remove": "dave@contoso.example"}}),
            "can't be removed",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": {"Remove": "nobody@contoso.example"}}),
            "isn't one of its addresses",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": {"Replace": "x@contoso.example"}}),
            "neither Add nor Remove",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": "d@contoso.example", "PrimarySmtpAddress": "d@contoso.example"}),
            "can't be used in the same command",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": (0..=100).map(|i| format!("d{i}@contoso.example")).collect::<Vec<_>>()}),
            "at most 100",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Dave", "EmailAddresses": {"Add": format!("X500:{}", "o".repeat(1200))}}),
            "at most 1123",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "SfBOnline-ApplicationAccount", "EmailAddresses": {"Add": "x@contoso.example"}}),
            "not a mailbox (use Set-MailUser)",
        ),
        (
            "Set-MailUser",
            json!({"Identity": "Dave", "EmailAddresses": {"Add": "x@contoso.example"}}),
            "not a mail user",
        ),
    ];
    for (cmdlet, params, why) in refusals {
        let err = e.refused(cmdlet, params.clone()).await.to_string();
        assert!(err.contains(why), "{params}: {err}");
    }
    // nothing of a refused change was written
    assert_eq!(
        e.addresses("Dave").await,
        strings(&["SMTP:dave@contoso.example"])
    );
}

/// A mail user's primary address is its external address (New-MailUser), which may be outside
/// the accepted domains; the other addresses it is given may not.
#[tokio::test]
async fn mail_users_keep_their_external_address() {
    let e = env().await;
    let m = e
        .ok(
            "New-MailUser",
            json!({"Name": "Partner", "ExternalEmailAddress": "SMTP:partner@fabrikam.example"}),
        )
        .await;
    assert_eq!(m[0]["PrimarySmtpAddress"], "partner@fabrikam.example");
    assert_eq!(
        m[0]["EmailAddresses"],
        json!(["SMTP:partner@fabrikam.example"])
    );
    let m = e
        .ok(
            "Set-MailUser",
            json!({"Identity": "Partner", "EmailAddresses": {"Add": "partner@contoso.example"}}),
        )
        .await;
    assert_eq!(
        m[0]["EmailAddresses"],
        json!([
            "SMTP:partner@fabrikam.example",
            "smtp:partner@contoso.example"
        ])
    );
    let err = e
        .refused(
            "Set-MailUser",
            json!({"Identity": "Partner", "EmailAddresses": {"Add": "p2@fabrikam.example"}}),
        )
        .await;
    assert!(
        matches!(err, ExchangeError::NotAcceptedDomain { .. }),
        "{err}"
    );
    // its external address is taken like any other
    let err = e
        .refused(
            "New-MailUser",
            json!({"Name": "Partner 2", "ExternalEmailAddress": "Partner@Fabrikam.Example"}),
        )
        .await;
    assert!(
        matches!(&err, ExchangeError::ProxyAddressInUse { holder, .. } if holder == "Partner"),
        "{err}"
    );
}

#[tokio::test]
async fn distribution_groups_are_managed_with_their_cmdlets() {
    let e = env().await;
    let g = e
        .ok(
            "New-DistributionGroup",
            json!({"Name": "Sales Team", "Alias": "sales", "PrimarySmtpAddress": "sales@contoso.example", "Members": "Bob,carol@contoso.example"}),
        )
        .await;
    assert_eq!(g[0]["RecipientType"], "MailUniversalDistributionGroup");
    assert_eq!(g[0]["GroupType"], "Universal");
    assert_eq!(
        g[0]["EmailAddresses"],
        json!(["SMTP:sales@contoso.example"])
    );
    // without -PrimarySmtpAddress: <alias>@<default accepted domain>
    let g = e
        .ok(
            "New-DistributionGroup",
            json!({"Name": "Everyone", "Members": ["Sales Team", "Dave"]}),
        )
        .await;
    assert_eq!(g[0]["PrimarySmtpAddress"], "Everyone@contoso.example");
    let names = |v: Vec<Value>| -> Vec<String> {
        v.iter()
            .map(|m| m["Name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(
        names(
            e.ok(
                "Get-DistributionGroupMember",
                json!({"Identity": "everyone@contoso.example"})
            )
            .await
        ),
        ["Dave", "Sales Team"]
    );
    e.ok(
        "Add-DistributionGroupMember",
        json!({"Identity": "Sales Team", "Member": "Alice"}),
    )
    .await;
    e.ok(
        "Remove-DistributionGroupMember",
        json!({"Identity": "Sales Team", "Member": "bob@contoso.example", "Confirm": false}),
    )
    .await;
    assert_eq!(
        names(
            e.ok("Get-DistributionGroupMember", json!({"Identity": "sales"}))
                .await
        ),
        ["Alice", "Carol"]
    );
    assert_eq!(
        names(e.ok("Get-DistributionGroup", json!({})).await),
        ["Everyone", "Sales Team"]
    );
    let all = names(e.ok("Get-Recipient", json!({})).await);
    assert!(all.contains(&"Sales Team".to_owned()), "{all:?}");
    // Set-DistributionGroup: addresses and visibility
    let g = e
        .ok(
            "Set-DistributionGroup",
            json!({"Identity": "Sales Team", "EmailAddresses": {"Add": "SMTP:sales.team@contoso.example"}, "HiddenFromAddressListsEnabled": true}),
        )
        .await;
    assert_eq!(
        g[0]["EmailAddresses"],
        json!([
            "SMTP:sales.team@contoso.example",
            "smtp:sales@contoso.example"
        ])
    );
    assert_eq!(g[0]["HiddenFromAddressListsEnabled"], true);

    // every refusal
    let refusals: Vec<(&str, Value, &str)> = vec![
        (
            "New-DistributionGroup",
            json!({"Name": "Sales Team", "PrimarySmtpAddress": "other@contoso.example"}),
            "already exists",
        ),
        (
            "New-DistributionGroup",
            json!({"Name": "Outside", "PrimarySmtpAddress": "outside@fabrikam.example"}),
            "is not an accepted domain",
        ),
        (
            "New-DistributionGroup",
            json!({"Name": "Admins", "Type": "Security"}),
            "distribution groups only",
        ),
        (
            "New-DistributionGroup",
            json!({"Name": "Ghosts", "Members": "nobody@contoso.example"}),
            "couldn't be found",
        ),
        (
            "New-DistributionGroup",
            json!({"Name": "Bad alias", "Alias": "a b"}),
            "alias 'a b'",
        ),
        (
            "Add-DistributionGroupMember",
            json!({"Identity": "Sales Team", "Member": "Carol"}),
            "already a member",
        ),
        (
            "Add-DistributionGroupMember",
            json!({"Identity": "Sales Team", "Member": "Sales Team"}),
            "member of itself",
        ),
        (
            "Remove-DistributionGroupMember",
            json!({"Identity": "Sales Team", "Member": "Dave"}),
            "isn't a member",
        ),
        (
            "Get-DistributionGroupMember",
            json!({"Identity": "Alice"}),
            "not a distribution group",
        ),
        (
            "Add-DistributionGroupMember",
            json!({"Identity": "Bob", "Member": "Alice"}),
            "not a distribution group",
        ),
        (
            "Set-Mailbox",
            json!({"Identity": "Everyone", "AccountDisabled": true}),
            "use Set-DistributionGroup",
        ),
        (
            "New-ManagementRoleAssignment",
            json!({"Role": "UserApplication", "User": "Everyone"}),
            "not a user",
        ),
        (
            "Add-DistributionGroupMember",
            json!({"Identity": "Sales Team"}),
            "-Member is required",
        ),
    ];
    for (cmdlet, params, why) in refusals {
        let err = e.refused(cmdlet, params.clone()).await.to_string();
        assert!(err.contains(why), "{cmdlet} {params}: {err}");
    }
    // the group has the same members as before the refusals
    assert_eq!(
        names(
            e.ok("Get-DistributionGroupMember", json!({"Identity": "sales"}))
                .await
        ),
        ["Alice", "Carol"]
    );

    // Remove-DistributionGroup: gone from Everyone, its addresses free again
    e.ok(
        "Remove-DistributionGroup",
        json!({"Identity": "Sales Team", "Confirm": false}),
    )
    .await;
    assert_eq!(
        names(
            e.ok(
                "Get-DistributionGroupMember",
                json!({"Identity": "Everyone"})
            )
            .await
        ),
        ["Dave"]
    );
    let err = e
        .refused("Get-DistributionGroup", json!({"Identity": "Sales Team"}))
        .await;
    assert!(matches!(err, ExchangeError::NotFound(_)), "{err}");
    e.ok(
        "Set-Mailbox",
        json!({"Identity": "Dave", "EmailAddresses": {"Add": "sales@contoso.example"}}),
    )
    .await;
}

/// A message to a secondary address reaches that mailbox; listed under two of its addresses,
/// once. The copy keeps the lines as written.
#[tokio::test]
async fn a_secondary_address_is_delivered_to_once() {
    let e = env().await;
    e.ok(
        "Set-Mailbox",
        json!({"Identity": "Bob", "EmailAddresses": {"Add": "bob.berg@contoso.example"}}),
    )
    .await;
    let body = e
        .send(
            "Alias",
            &["Bob.Berg@Contoso.Example"],
            &["bob@contoso.example"],
        )
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let (n, got) = e.folder(&bob_token(), "inbox").await;
    assert_eq!(n, 1, "{got}");
    assert!(got.contains("Bob.Berg@Contoso.Example"), "{got}");
    // no report: everyone was found
    assert_eq!(e.folder(&alice_token(), "inbox").await.0, 0);
}

/// A group is expanded recursively: nested groups, a cycle back to the first, a member reached
/// twice (and listed directly too) gets one copy; a mail user member gets the report external
/// recipients get; the copies keep the group's address on their line.
#[tokio::test]
async fn a_group_is_delivered_to_its_members() {
    let e = env().await;
    e.ok(
        "New-MailUser",
        json!({"Name": "Partner", "ExternalEmailAddress": "partner@fabrikam.example"}),
    )
    .await;
    e.ok(
        "New-DistributionGroup",
        json!({"Name": "Team", "PrimarySmtpAddress": "team@contoso.example", "Members": ["Bob"]}),
    )
    .await;
    e.ok(
        "New-DistributionGroup",
        json!({"Name": "Inner", "PrimarySmtpAddress": "inner@contoso.example", "Members": ["Carol", "Team", "Partner", "Bob"]}),
    )
    .await;
    e.ok(
        "Add-DistributionGroupMember",
        json!({"Identity": "Team", "Member": "Inner"}),
    )
    .await;
    let body = e
        .send("Team news", &["TEAM@contoso.example"], &[CAROL])
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    for who in [BOB, CAROL] {
        let (n, got) = e.folder(&user_token(who), "inbox").await;
        assert_eq!(n, 1, "{who}: {got}");
        assert!(
            got.contains("<t:ToRecipients><t:Mailbox><t:EmailAddress>TEAM@contoso.example"),
            "{who}: {got}"
        );
    }
    assert_eq!(e.folder(&user_token(DAVE), "inbox").await.0, 0);
    // the report names the mail user's external address, and nobody else
    let (n, report) = e.folder(&alice_token(), "inbox").await;
    assert_eq!(n, 1, "{report}");
    assert!(report.contains("REPORT.IPM.Note.NDR"), "{report}");
    assert!(
        report.contains("partner@fabrikam.example") && report.contains("5.4.1"),
        "{report}"
    );
    assert!(
        !report.contains("bob@contoso.example") && !report.contains("carol@contoso.example"),
        "{report}"
    );

    // a mail user's own address: the same report
    let body = e.send("Direct", &["partner@fabrikam.example"], &[]).await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.folder(&alice_token(), "inbox").await.0, 2);

    // an empty group: nothing delivered, nothing reported
    e.ok("New-DistributionGroup", json!({"Name": "Nobody"}))
        .await;
    let body = e.send("Void", &["nobody@contoso.example"], &[]).await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.folder(&alice_token(), "inbox").await.0, 2);
}

/// The 500-recipient bound counts recipients after expansion.
#[tokio::test]
async fn the_recipient_bound_counts_group_members() {
    let e = env().await;
    e.ok(
        "New-DistributionGroup",
        json!({"Name": "Pair", "PrimarySmtpAddress": "pair@contoso.example", "Members": ["Bob", "Carol"]}),
    )
    .await;
    // 499 addresses nobody has and the group: 499 + 2 > 500
    let mut to: Vec<String> = (0..499).map(|i| format!("u{i}@contoso.example")).collect();
    to.push("pair@contoso.example".into());
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let body = e.send("Many", &to, &[]).await;
    let m = messages(&body);
    assert_eq!(m[0].1, "ErrorInvalidRecipients", "{body}");
    assert!(
        m[0].2.contains("expand to more than 500") && m[0].2.contains("'Pair'"),
        "{m:?}"
    );
    // nothing was delivered, no report
    assert_eq!(e.folder(&bob_token(), "inbox").await.0, 0);
    assert_eq!(e.folder(&alice_token(), "inbox").await.0, 0);
    // 498 and the group fit
    let body = e.send("Fits", &to[1..], &[]).await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.folder(&bob_token(), "inbox").await.0, 1);
}

#[tokio::test]
async fn resolve_names_finds_groups_and_secondary_addresses() {
    let e = env().await;
    e.ok(
        "Set-Mailbox",
        json!({"Identity": "Bob", "EmailAddresses": {"Add": "bob.berg@contoso.example"}}),
    )
    .await;
    e.ok(
        "New-DistributionGroup",
        json!({"Name": "Team", "PrimarySmtpAddress": "team@contoso.example", "Members": ["Bob"]}),
    )
    .await;
    let body = e.resolve("Team", false).await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(
        mailboxes(&body),
        [(
            "Team".to_owned(),
            "team@contoso.example".to_owned(),
            "PublicDL".to_owned()
        )]
    );
    // a secondary address, with either prefix: the mailbox, shown by its primary
    for entry in [
        "smtp:bob.berg@contoso.example",
        "SMTP:BOB.BERG@contoso.example",
        "bob.berg@contoso.example",
    ] {
        let body = e.resolve(entry, false).await;
        assert_eq!(codes(&body), ["NoError"], "{entry}: {body}");
        assert_eq!(
            mailboxes(&body),
            [("Bob".to_owned(), BOB.to_owned(), "Mailbox".to_owned())],
            "{entry}"
        );
    }
    // full contact data lists the SMTP addresses, the primary first
    let body = e.resolve("smtp:bob.berg@contoso.example", true).await;
    assert!(
        body.contains(r#"<t:Entry Key="EmailAddress1">SMTP:bob@contoso.example</t:Entry><t:Entry Key="EmailAddress2">smtp:bob.berg@contoso.example</t:Entry>"#),
        "{body}"
    );
    // a hidden group is not on the address list
    e.ok(
        "Set-DistributionGroup",
        json!({"Identity": "Team", "HiddenFromAddressListsEnabled": true}),
    )
    .await;
    assert_eq!(
        codes(&e.resolve("Team", false).await),
        ["ErrorNameResolutionNoResults"]
    );
}

#[tokio::test]
async fn expand_dl_lists_one_level() {
    let e = env().await;
    e.ok(
        "New-MailUser",
        json!({"Name": "Partner", "ExternalEmailAddress": "partner@fabrikam.example"}),
    )
    .await;
    e.ok(
        "New-DistributionGroup",
        json!({"Name": "Inner", "PrimarySmtpAddress": "inner@contoso.example", "Members": ["Carol", "Partner"]}),
    )
    .await;
    e.ok(
        "New-DistributionGroup",
        json!({"Name": "Team", "Alias": "team", "PrimarySmtpAddress": "team@contoso.example", "Members": ["Bob", "Inner", "SfBOnline-ApplicationAccount"]}),
    )
    .await;
    e.ok(
        "Set-MailUser",
        json!({"Identity": "SfBOnline-ApplicationAccount", "HiddenFromAddressListsEnabled": true}),
    )
    .await;
    e.ok(
        "Set-DistributionGroup",
        json!({"Identity": "Team", "EmailAddresses": {"Add": "all@contoso.example"}}),
    )
    .await;
    // by any of its addresses, its alias or its name; the hidden member left out; the nested
    // group an entry of its own
    for entry in [
        "team@contoso.example",
        "SMTP:ALL@contoso.example",
        "team",
        "Team",
    ] {
        let body = e.expand(entry).await;
        assert_eq!(codes(&body), ["NoError"], "{entry}: {body}");
        assert!(
            body.contains(r#"<m:DLExpansion TotalItemsInView="2" IncludesLastItemInRange="true">"#),
            "{body}"
        );
        assert_eq!(
            mailboxes(&body),
            [
                ("Bob".to_owned(), BOB.to_owned(), "Mailbox".to_owned()),
                (
                    "Inner".to_owned(),
                    "inner@contoso.example".to_owned(),
                    "PublicDL".to_owned()
                ),
            ],
            "{entry}"
        );
    }
    let body = e.expand("inner@contoso.example").await;
    assert_eq!(
        mailboxes(&body),
        [
            ("Carol".to_owned(), CAROL.to_owned(), "Mailbox".to_owned()),
            (
                "Partner".to_owned(),
                "partner@fabrikam.example".to_owned(),
                "Contact".to_owned()
            ),
        ]
    );
    // an empty group
    e.ok("New-DistributionGroup", json!({"Name": "Empty"}))
        .await;
    let body = e.expand("empty@contoso.example").await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert!(body.contains(r#"TotalItemsInView="0""#), "{body}");

    // what is no distribution list on the address list
    e.ok("New-DistributionGroup", json!({"Name": "Secret"}))
        .await;
    e.ok(
        "Set-DistributionGroup",
        json!({"Identity": "Secret", "HiddenFromAddressListsEnabled": true}),
    )
    .await;
    for entry in [
        "nobody@contoso.example",
        "bob@contoso.example",
        "secret@contoso.example",
        "someone@fabrikam.example",
    ] {
        let body = e.expand(entry).await;
        let m = messages(&body);
        assert_eq!(
            (m[0].0.as_str(), m[0].1.as_str()),
            ("Error", "ErrorNameResolutionNoResults"),
            "{entry}: {body}"
        );
    }
    // a private distribution list is named by its item id (tests/distribution_lists.rs); an
    // id this server never gave out is malformed
    let (status, body) = e
        .call_as(
            &alice_token(),
            r#"<m:ExpandDL><m:Mailbox><t:ItemId Id="AAMk" ChangeKey="CQAA"/></m:Mailbox></m:ExpandDL>"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ErrorInvalidIdMalformed"), "{body}");
}

/// Autodiscover and ExchangeImpersonation by `t:SmtpAddress` find a mailbox by any of its
/// addresses; `t:PrimarySmtpAddress` and the token's `smtp` claim take the primary only.
#[tokio::test]
async fn other_lookups_by_a_secondary_address() {
    let e = env().await;
    e.ok(
        "Set-Mailbox",
        json!({"Identity": "Bob", "EmailAddresses": {"Add": "bob.berg@contoso.example"}}),
    )
    .await;
    // Autodiscover: found, answered with the primary address
    let svc = format!("{}/autodiscover/autodiscover.svc", e.url);
    let request = r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:a="http://schemas.microsoft.com/exchange/2010/Autodiscover" xmlns:wsa="http://www.w3.org/2005/08/addressing"><s:Header><a:RequestedServerVersion>Exchange2013</a:RequestedServerVersion><wsa:Action>http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/GetUserSettings</wsa:Action></s:Header><s:Body><a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User><a:Mailbox>Bob.Berg@contoso.example</a:Mailbox></a:User></a:Users><a:RequestedSettings><a:Setting>AutoDiscoverSMTPAddress</a:Setting></a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage></s:Body></s:Envelope>"#;
    let r = e
        .http
        .post(&svc)
        .bearer_auth(bob_token())
        .header("content-type", "text/xml; charset=utf-8")
        .body(request)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(body.contains("<ErrorCode>NoError</ErrorCode>"), "{body}");
    assert!(
        body.contains("<Value>bob@contoso.example</Value>"),
        "{body}"
    );

    // ExchangeImpersonation
    let impersonating = |how: &str, who: &str| {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:ExchangeImpersonation><t:ConnectingSID><t:{how}>{who}</t:{how}></t:ConnectingSID></t:ExchangeImpersonation></s:Header><s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder></s:Body></s:Envelope>"#
        )
    };
    let post = |body: String| {
        e.http
            .post(format!("{}/EWS/Exchange.asmx", e.url))
            .bearer_auth(alice_token())
            .header("content-type", "text/xml")
            .body(body)
            .send()
    };
    let folder_id = |t: &str| common::attr_after(t, "<t:FolderId ", "Id");
    let bob_inbox = {
        let t = post(impersonating("PrimarySmtpAddress", BOB))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(codes(&t), ["NoError"], "{t}");
        folder_id(&t)
    };
    let t = post(impersonating("SmtpAddress", "BOB.BERG@contoso.example"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(codes(&t), ["NoError"], "{t}");
    assert_eq!(folder_id(&t), bob_inbox);
    let t = post(impersonating(
        "PrimarySmtpAddress",
        "bob.berg@contoso.example",
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(t.contains("ErrorNonExistentMailbox"), "{t}");

    // a token whose user claims name only the secondary address: no user
    let (status, body) = e
        .call_as(
            &user_token("bob.berg@contoso.example"),
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#,
        )
        .await;
    assert_eq!(status, 401, "{body}");
}
