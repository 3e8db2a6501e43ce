//! Junk email against the real server: MarkAsJunk blocks the sender and moves the message to
//! Junk Email (and back, unblocking), later mail from a blocked sender or domain is delivered to
//! Junk Email unless the sender is trusted or the rule is off, the cmdlets read and change the
//! lists, and the refusals (bad entries, too many, unknown ids, no role) change nothing.

mod common;

use common::{ALICE, BOB, Env, Options, alice_token, bob_token, codes, ids, start};
use serde_json::{Value, json};

async fn env() -> Env {
    start(Options {
        mailboxes: &[("Alice", ALICE), ("Bob", BOB)],
        ..Options::default()
    })
    .await
}

async fn bob_sends(e: &Env, subject: &str) {
    let sent = e
        .call_with(
            &bob_token(),
            &format!(
                r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">Hi</t:Body><t:ToRecipients><t:Mailbox><t:EmailAddress>{ALICE}</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&sent), ["NoError"], "{sent}");
}

/// (id, subject) of each item in Alice's `folder`.
async fn in_folder(e: &Env, folder: &str) -> Vec<(String, String)> {
    let body = e
        .call_with(
            &alice_token(),
            &format!(
                r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#
            ),
        )
        .await;
    let subjects: Vec<String> = body
        .split("<t:Subject>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect();
    ids(&body)
        .into_iter()
        .map(|(i, _)| i)
        .zip(subjects)
        .collect()
}

fn subjects(v: &[(String, String)]) -> Vec<&str> {
    let mut s: Vec<&str> = v.iter().map(|(_, s)| s.as_str()).collect();
    s.sort();
    s
}

fn mark(id: &str, is_junk: bool, move_item: bool) -> String {
    format!(
        r#"<m:MarkAsJunk IsJunk="{is_junk}" MoveItem="{move_item}"><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:MarkAsJunk>"#
    )
}

async fn config(e: &Env) -> Value {
    e.cmdlet(
        "Get-MailboxJunkEmailConfiguration",
        json!({"Identity": "Alice"}),
    )
    .await
    .unwrap()
    .remove(0)
}

#[tokio::test]
async fn marking_as_junk_blocks_the_sender_and_unmarking_brings_mail_back() {
    let e = env().await;
    let before = config(&e).await;
    assert_eq!(before["Enabled"], true);
    assert_eq!(before["BlockedSendersAndDomains"], json!([]));
    bob_sends(&e, "Offer").await;
    let inbox = in_folder(&e, "inbox").await;
    assert_eq!(subjects(&inbox), ["Offer"]);
    let r = e.call(&mark(&inbox[0].0, true, true)).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    assert!(r.contains("<m:MovedItemId Id=\""), "{r}");
    assert_eq!(subjects(&in_folder(&e, "inbox").await), Vec::<&str>::new());
    assert_eq!(subjects(&in_folder(&e, "junkemail").await), ["Offer"]);
    assert_eq!(
        config(&e).await["BlockedSendersAndDomains"],
        json!([BOB]),
        "the sender is blocked"
    );
    // Bob's next message goes straight to Junk Email
    bob_sends(&e, "Second offer").await;
    assert_eq!(
        subjects(&in_folder(&e, "junkemail").await),
        ["Offer", "Second offer"]
    );
    assert_eq!(subjects(&in_folder(&e, "inbox").await), Vec::<&str>::new());
    // not junk after all: back to the Inbox, Bob unblocked, his mail in the Inbox again
    let junk = in_folder(&e, "junkemail").await;
    let r = e.call(&mark(&junk[0].0, false, true)).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    assert_eq!(config(&e).await["BlockedSendersAndDomains"], json!([]));
    bob_sends(&e, "Lunch").await;
    assert_eq!(subjects(&in_folder(&e, "inbox").await).len(), 2);
    // MoveItem false: blocked, left where it is, no MovedItemId
    let inbox = in_folder(&e, "inbox").await;
    let r = e.call(&mark(&inbox[0].0, true, false)).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    assert!(!r.contains("MovedItemId"), "{r}");
    assert_eq!(subjects(&in_folder(&e, "inbox").await).len(), 2);
    assert_eq!(config(&e).await["BlockedSendersAndDomains"], json!([BOB]));
}

#[tokio::test]
async fn domains_trusted_senders_and_the_rule_switch_decide_delivery() {
    let e = env().await;
    let set = |params: Value| {
        let mut params = params;
        params["Identity"] = json!("Alice");
        let e = &e;
        async move {
            e.cmdlet("Set-MailboxJunkEmailConfiguration", params)
                .await
                .unwrap()
                .remove(0)
        }
    };
    let c = set(
        json!({"BlockedSendersAndDomains": {"Add": ["@Contoso.example", "spam@fabrikam.example"]}}),
    )
    .await;
    assert_eq!(
        c["BlockedSendersAndDomains"],
        json!(["contoso.example", "spam@fabrikam.example"])
    );
    bob_sends(&e, "Domain blocked").await;
    assert_eq!(
        subjects(&in_folder(&e, "junkemail").await),
        ["Domain blocked"]
    );
    // Bob trusted: trusted wins over his domain being blocked
    set(json!({"TrustedSendersAndDomains": BOB})).await;
    bob_sends(&e, "Trusted").await;
    assert_eq!(subjects(&in_folder(&e, "inbox").await), ["Trusted"]);
    // blocking Bob himself takes him off the trusted list
    let c = set(json!({"BlockedSendersAndDomains": {"Add": BOB}})).await;
    assert_eq!(c["TrustedSendersAndDomains"], json!([]));
    bob_sends(&e, "Blocked again").await;
    assert_eq!(
        subjects(&in_folder(&e, "junkemail").await),
        ["Blocked again", "Domain blocked"]
    );
    // the rule off: everything to the Inbox
    set(json!({"Enabled": false})).await;
    bob_sends(&e, "Rule off").await;
    assert_eq!(
        subjects(&in_folder(&e, "inbox").await),
        ["Rule off", "Trusted"]
    );
    // the whole list replaced
    let c = set(json!({"Enabled": true, "BlockedSendersAndDomains": ["fabrikam.example"]})).await;
    assert_eq!(c["BlockedSendersAndDomains"], json!(["fabrikam.example"]));
    bob_sends(&e, "Free again").await;
    assert_eq!(subjects(&in_folder(&e, "inbox").await).len(), 3);
}

#[tokio::test]
async fn refusals_are_precise_and_change_nothing() {
    let e = env().await;
    e.cmdlet(
        "Set-MailboxJunkEmailConfiguration",
        json!({"Identity": "Alice", "BlockedSendersAndDomains": ["kept.example"]}),
    )
    .await
    .unwrap();
    let many: Vec<String> = (0..1025).map(|i| format!("s{i}@x.example")).collect();
    for (params, why) in [
        (
            json!({"BlockedSendersAndDomains": {"Add": ["fine.example", "not a domain"]}}),
            "not a sender or domain entry",
        ),
        (
            json!({"TrustedSendersAndDomains": "nodot"}),
            "not a domain name",
        ),
        (json!({"BlockedSendersAndDomains": many}), "at most 1024"),
    ] {
        let mut params = params;
        params["Identity"] = json!("Alice");
        let err = e
            .cmdlet("Set-MailboxJunkEmailConfiguration", params.clone())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{params}: {err}");
    }
    let c = config(&e).await;
    assert_eq!(c["BlockedSendersAndDomains"], json!(["kept.example"]));
    assert_eq!(c["TrustedSendersAndDomains"], json!([]));
    // an unknown id and a malformed one fail alone; Alice's own sent message is moved, but
    // her own address is never blocked
    let sent = e
        .call_with(
            &alice_token(),
            &format!(
                r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:Message><t:Subject>Mine</t:Subject><t:ToRecipients><t:Mailbox><t:EmailAddress>{BOB}</t:EmailAddress></t:Mailbox></t:ToRecipients></t:Message></m:Items></m:CreateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&sent), ["NoError"], "{sent}");
    let mine = in_folder(&e, "sentitems").await;
    let r = e
        .call(&format!(
            r#"<m:MarkAsJunk IsJunk="true" MoveItem="true"><m:ItemIds><t:ItemId Id="{}"/><t:ItemId Id="AAAA"/></m:ItemIds></m:MarkAsJunk>"#,
            mine[0].0
        ))
        .await;
    let c = codes(&r);
    assert_eq!(c[0], "NoError", "{r}");
    assert!(c[1].starts_with("ErrorInvalidId"), "{r}");
    assert_eq!(
        config(&e).await["BlockedSendersAndDomains"],
        json!(["kept.example"])
    );
    // schema: IsJunk and MoveItem are required
    let (status, body) = e
        .call_as(
            &alice_token(),
            r#"<m:MarkAsJunk IsJunk="true"><m:ItemIds><t:ItemId Id="AAAA"/></m:ItemIds></m:MarkAsJunk>"#,
        )
        .await;
    assert!(body.contains("MoveItem"), "{status}: {body}");
    // without UserApplication
    e.remove_role("UserApplication").await;
    let r = e.call(&mark(&mine[0].0, false, true)).await;
    assert_eq!(codes(&r), ["ErrorAccessDenied"], "{r}");
}
