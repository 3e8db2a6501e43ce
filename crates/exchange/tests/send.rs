//! Sending inside the organization over HTTP against the real server, with S2S tokens (an actor
//! signed by a trusted auth server, wrapped in an outer token naming the user): CreateItem with
//! SendAndSaveCopy and SendOnly, SendItem of a draft (saved or deleted), each recipient mailbox's
//! copy unread in its Inbox with the Bcc line hidden (read as that recipient), a stale change
//! key, From spoofing, the recipient bound, and recipients that are not mailboxes here (a
//! non-delivery report in the sender's Inbox).

mod common;

use common::{ALICE, BOB, Env, Options, alice_token, bob_token, codes, ids, start, user_token};

/// Alice, Bob, Carol and Dave, SfBOnline acting for them.
async fn env() -> Env {
    start(Options {
        mailboxes: &[
            ("Alice", ALICE),
            ("Bob", BOB),
            ("Carol", "carol@contoso.example"),
            ("Dave", "dave@contoso.example"),
        ],
        ..Options::default()
    })
    .await
}

fn mbx(addr: &str) -> String {
    format!("<t:Mailbox><t:EmailAddress>{addr}</t:EmailAddress></t:Mailbox>")
}

fn message(subject: &str, extra: &str, to: &[&str], cc: &[&str], bcc: &[&str]) -> String {
    let list = |tag: &str, a: &[&str]| {
        if a.is_empty() {
            String::new()
        } else {
            format!(
                "<t:{tag}>{}</t:{tag}>",
                a.iter().map(|x| mbx(x)).collect::<String>()
            )
        }
    };
    format!(
        r#"<t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">Hello</t:Body>{}{}{}{extra}</t:Message>"#,
        list("ToRecipients", to),
        list("CcRecipients", cc),
        list("BccRecipients", bcc),
    )
}

fn create(disposition: &str, saved: &str, msg: &str) -> String {
    format!(
        r#"<m:CreateItem MessageDisposition="{disposition}">{saved}<m:Items>{msg}</m:Items></m:CreateItem>"#
    )
}

const SENT: &str =
    r#"<m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId>"#;

impl Env {
    /// The items of a distinguished folder (all properties) as `token`'s user sees them.
    async fn folder(&self, token: &str, folder: &str) -> (Vec<(String, String)>, String) {
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
            return (ids, String::new());
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
        (ids, got)
    }

    async fn draft(&self, subject: &str) -> (String, String) {
        let body = self
            .call(&create(
                "SaveOnly",
                "",
                &message(
                    subject,
                    "",
                    &["bob@contoso.example"],
                    &[],
                    &["dave@contoso.example"],
                ),
            ))
            .await;
        assert_eq!(codes(&body), ["NoError"], "{body}");
        ids(&body).remove(0)
    }
}

#[tokio::test]
async fn send_and_save_copy_delivers_unread_with_bcc_hidden() {
    let e = env().await;
    let body = e
        .call(&create(
            "SendAndSaveCopy",
            SENT,
            &message(
                "Lunch?",
                "",
                &["bob@contoso.example"],
                &["Carol@Contoso.Example"],
                &["dave@contoso.example"],
            ),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    // a sent message has no id to answer: an empty m:Items
    assert!(
        body.contains("<m:Items/>") || body.contains("<m:Items></m:Items>"),
        "{body}"
    );
    assert!(ids(&body).is_empty(), "{body}");

    // Bob reads it, unread, from Alice, without the Bcc line
    let (bob, got) = e.folder(&bob_token(), "inbox").await;
    assert_eq!(bob.len(), 1, "{got}");
    assert!(got.contains("<t:Subject>Lunch?</t:Subject>"), "{got}");
    assert!(got.contains("<t:IsRead>false</t:IsRead>"), "{got}");
    assert!(got.contains("alice@contoso.example"), "{got}");
    assert!(got.contains("<t:From>"), "{got}");
    assert!(got.contains("<t:InternetMessageId>"), "{got}");
    assert!(
        !got.contains("dave@contoso.example"),
        "Bcc visible to Bob: {got}"
    );
    // Carol (Cc, her address in another case) and Dave (Bcc) have theirs
    for who in ["carol@contoso.example", "dave@contoso.example"] {
        let (items, got) = e.folder(&user_token(who), "inbox").await;
        assert_eq!(items.len(), 1, "{who}: {got}");
        assert!(!got.contains("<t:BccRecipients>"), "{who}: {got}");
    }
    // Alice's copy in Sent Items, with its Bcc line and no draft; nothing in Drafts, nothing in
    // her Inbox
    let (sent, got) = e.folder(&alice_token(), "sentitems").await;
    assert_eq!(sent.len(), 1);
    assert!(got.contains("<t:IsRead>true</t:IsRead>"), "{got}");
    assert!(got.contains("<t:IsDraft>false</t:IsDraft>"), "{got}");
    assert!(
        got.contains("<t:BccRecipients><t:Mailbox><t:EmailAddress>dave@contoso.example"),
        "{got}"
    );
    assert!(e.folder(&alice_token(), "drafts").await.0.is_empty());
    assert!(e.folder(&alice_token(), "inbox").await.0.is_empty());
}

#[tokio::test]
async fn send_only_keeps_no_copy() {
    let e = env().await;
    let body = e
        .call(&create(
            "SendOnly",
            "",
            &message("FYI", "", &["bob@contoso.example"], &[], &[]),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.folder(&bob_token(), "inbox").await.0.len(), 1);
    for f in ["sentitems", "drafts", "outbox"] {
        assert!(e.folder(&alice_token(), f).await.0.is_empty(), "{f}");
    }
    // SendOnly with a folder to save in contradicts itself
    let body = e
        .call(&create(
            "SendOnly",
            SENT,
            &message("FYI", "", &["bob@contoso.example"], &[], &[]),
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidSendItemSaveSettings"], "{body}");
    assert_eq!(e.folder(&bob_token(), "inbox").await.0.len(), 1);
}

#[tokio::test]
async fn send_item_of_a_draft_saved_or_deleted() {
    let e = env().await;
    let (id, ck) = e.draft("Draft one").await;
    let body = e
        .call(&format!(
            r#"<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="{id}" ChangeKey="{ck}"/></m:ItemIds>{SENT}</m:SendItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert!(body.contains("SendItemResponseMessage"), "{body}");
    assert!(e.folder(&alice_token(), "drafts").await.0.is_empty());
    let (sent, got) = e.folder(&alice_token(), "sentitems").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, id, "the draft itself moved to Sent Items");
    assert!(got.contains("<t:From>"), "{got}");
    let (bob, got) = e.folder(&bob_token(), "inbox").await;
    assert_eq!(bob.len(), 1);
    assert!(got.contains("<t:Subject>Draft one</t:Subject>"), "{got}");
    assert!(!got.contains("dave@contoso.example"), "{got}");
    assert_eq!(
        e.folder(&user_token("dave@contoso.example"), "inbox")
            .await
            .0
            .len(),
        1
    );

    // SaveItemToFolder="false": sent, then deleted
    let (id, ck) = e.draft("Draft two").await;
    let body = e
        .call(&format!(
            r#"<m:SendItem SaveItemToFolder="false"><m:ItemIds><t:ItemId Id="{id}" ChangeKey="{ck}"/></m:ItemIds></m:SendItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert!(e.folder(&alice_token(), "drafts").await.0.is_empty());
    assert_eq!(e.folder(&alice_token(), "sentitems").await.0.len(), 1);
    assert_eq!(e.folder(&bob_token(), "inbox").await.0.len(), 2);
}

#[tokio::test]
async fn send_item_with_a_stale_change_key_is_a_conflict() {
    let e = env().await;
    let (id, ck) = e.draft("Draft").await;
    let body = e
        .call(&format!(
            r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>Changed</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let body = e
        .call(&format!(
            r#"<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="{id}" ChangeKey="{ck}"/></m:ItemIds></m:SendItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorIrresolvableConflict"], "{body}");
    assert_eq!(e.folder(&alice_token(), "drafts").await.0.len(), 1);
    assert!(e.folder(&bob_token(), "inbox").await.0.is_empty());
}

#[tokio::test]
async fn sending_as_someone_else_is_denied() {
    let e = env().await;
    let spoofed = message(
        "From Bob, honest",
        &format!("<t:From>{}</t:From>", mbx("bob@contoso.example")),
        &["carol@contoso.example"],
        &[],
        &[],
    );
    let body = e.call(&create("SendAndSaveCopy", SENT, &spoofed)).await;
    assert_eq!(codes(&body), ["ErrorSendAsDenied"], "{body}");
    assert!(
        e.folder(&user_token("carol@contoso.example"), "inbox")
            .await
            .0
            .is_empty()
    );
    assert!(e.folder(&alice_token(), "sentitems").await.0.is_empty());
    // the acting mailbox's own address as From is fine (any case)
    let own = message(
        "From me",
        &format!("<t:From>{}</t:From>", mbx("Alice@contoso.example")),
        &["carol@contoso.example"],
        &[],
        &[],
    );
    let body = e.call(&create("SendOnly", "", &own)).await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(
        e.folder(&user_token("carol@contoso.example"), "inbox")
            .await
            .0
            .len(),
        1
    );
}

#[tokio::test]
async fn recipients_are_bounded() {
    let e = env().await;
    let mut to: Vec<String> = (0..500)
        .map(|n| format!("user{n}@fabrikam.example"))
        .collect();
    to.push("bob@contoso.example".into());
    let to: Vec<&str> = to.iter().map(String::as_str).collect();
    let body = e
        .call(&create(
            "SendOnly",
            "",
            &message("Everyone", "", &to, &[], &[]),
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidRecipients"], "{body}");
    assert!(body.contains("500"), "{body}");
    assert!(e.folder(&bob_token(), "inbox").await.0.is_empty());
    // and none at all
    let body = e
        .call(&create(
            "SendOnly",
            "",
            &message("No one", "", &[], &[], &[]),
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidRecipients"], "{body}");
}

/// An address outside the organization, or unknown in an accepted domain: the send succeeds
/// (Bob still gets his copy) and Alice finds a non-delivery report naming both in her Inbox.
#[tokio::test]
async fn undeliverable_recipients_get_a_non_delivery_report() {
    let e = env().await;
    let body = e
        .call(&create(
            "SendAndSaveCopy",
            SENT,
            &message(
                "Partners",
                "",
                &["bob@contoso.example", "someone@fabrikam.example"],
                &["nobody@contoso.example"],
                &[],
            ),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.folder(&bob_token(), "inbox").await.0.len(), 1);
    let (inbox, got) = e.folder(&alice_token(), "inbox").await;
    assert_eq!(inbox.len(), 1, "{got}");
    assert!(
        got.contains("<t:ItemClass>REPORT.IPM.Note.NDR</t:ItemClass>"),
        "{got}"
    );
    assert!(got.contains("Undeliverable: Partners"), "{got}");
    assert!(got.contains("someone@fabrikam.example"), "{got}");
    assert!(got.contains("nobody@contoso.example"), "{got}");
    assert!(got.contains("<t:IsRead>false</t:IsRead>"), "{got}");
    assert!(!got.contains("bob@contoso.example\r"), "{got}");
    // only delivered recipients: no report
    let body = e
        .call(&create(
            "SendOnly",
            "",
            &message("Hi", "", &["bob@contoso.example"], &[], &[]),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.folder(&alice_token(), "inbox").await.0.len(), 1);
}

/// UpdateItem with a send disposition: `changes` applied to the item, then the item sent.
fn update_send(
    disposition: &str,
    resolution: &str,
    saved: &str,
    id: &str,
    ck: &str,
    changes: &str,
) -> String {
    format!(
        r#"<m:UpdateItem MessageDisposition="{disposition}" ConflictResolution="{resolution}">{saved}<m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates>{changes}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    )
}

fn set_subject(subject: &str) -> String {
    format!(
        r#"<t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>{subject}</t:Subject></t:Message></t:SetItemField>"#
    )
}

const SET_BODY: &str = r#"<t:SetItemField><t:FieldURI FieldURI="item:Body"/><t:Message><t:Body BodyType="Text">Updated before sending</t:Body></t:Message></t:SetItemField>"#;

#[tokio::test]
async fn update_and_send_and_save_copy_sends_the_changed_draft() {
    let e = env().await;
    let (id, ck) = e.draft("Draft").await;
    // exchangelib's send_and_save() of a changed draft: AutoResolve, no SavedItemFolderId
    let body = e
        .call(&update_send(
            "SendAndSaveCopy",
            "AutoResolve",
            "",
            &id,
            &ck,
            &(set_subject("Changed then sent") + SET_BODY),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert!(body.contains("UpdateItemResponseMessage"), "{body}");
    // a sent item has no id to answer: an empty m:Items
    assert!(body.contains("<m:Items/>"), "{body}");
    assert!(ids(&body).is_empty(), "{body}");
    assert!(body.contains("<t:Count>0</t:Count>"), "{body}");

    // the draft itself is the copy in Sent Items, changed, from Alice
    assert!(e.folder(&alice_token(), "drafts").await.0.is_empty());
    let (sent, got) = e.folder(&alice_token(), "sentitems").await;
    assert_eq!(sent.len(), 1, "{got}");
    assert_eq!(sent[0].0, id, "the draft itself moved to Sent Items");
    assert!(
        got.contains("<t:Subject>Changed then sent</t:Subject>"),
        "{got}"
    );
    assert!(got.contains("<t:From>"), "{got}");

    // Bob receives the changed content, unread, without the Bcc line; Dave (Bcc) gets a copy
    let (bob, got) = e.folder(&bob_token(), "inbox").await;
    assert_eq!(bob.len(), 1, "{got}");
    assert!(
        got.contains("<t:Subject>Changed then sent</t:Subject>"),
        "{got}"
    );
    assert!(got.contains("Updated before sending"), "{got}");
    assert!(got.contains("<t:IsRead>false</t:IsRead>"), "{got}");
    assert!(!got.contains("dave@contoso.example"), "{got}");
    let (dave, got) = e.folder(&user_token("dave@contoso.example"), "inbox").await;
    assert_eq!(dave.len(), 1, "{got}");
    assert!(
        got.contains("<t:Subject>Changed then sent</t:Subject>"),
        "{got}"
    );
}

#[tokio::test]
async fn update_and_send_only_keeps_no_copy() {
    let e = env().await;
    let (id, ck) = e.draft("Draft").await;
    // SendOnly saves nothing: a SavedItemFolderId is refused, and nothing is sent or changed
    let body = e
        .call(&update_send(
            "SendOnly",
            "AutoResolve",
            SENT,
            &id,
            &ck,
            &set_subject("Quick"),
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidSendItemSaveSettings"], "{body}");
    assert!(e.folder(&bob_token(), "inbox").await.0.is_empty());
    let (drafts, got) = e.folder(&alice_token(), "drafts").await;
    assert_eq!(drafts, [(id.clone(), ck.clone())], "{got}");

    let body = e
        .call(&update_send(
            "SendOnly",
            "AutoResolve",
            "",
            &id,
            &ck,
            &set_subject("Quick"),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert!(body.contains("<m:Items/>"), "{body}");
    assert!(e.folder(&alice_token(), "drafts").await.0.is_empty());
    assert!(e.folder(&alice_token(), "sentitems").await.0.is_empty());
    let (bob, got) = e.folder(&bob_token(), "inbox").await;
    assert_eq!(bob.len(), 1, "{got}");
    assert!(got.contains("<t:Subject>Quick</t:Subject>"), "{got}");
}

#[tokio::test]
async fn update_and_send_with_a_stale_change_key() {
    let e = env().await;
    let (id, stale) = e.draft("Draft").await;
    let body = e
        .call(&format!(
            r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{stale}"/><t:Updates>{}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#,
            set_subject("Saved")
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");

    // NeverOverwrite: refused, nothing changed and nothing sent
    let body = e
        .call(&update_send(
            "SendAndSaveCopy",
            "NeverOverwrite",
            "",
            &id,
            &stale,
            &set_subject("Never sent"),
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorIrresolvableConflict"], "{body}");
    assert!(body.contains("<t:Count>1</t:Count>"), "{body}");
    assert!(e.folder(&bob_token(), "inbox").await.0.is_empty());
    assert!(e.folder(&alice_token(), "sentitems").await.0.is_empty());
    let (drafts, got) = e.folder(&alice_token(), "drafts").await;
    assert_eq!(drafts.len(), 1, "{got}");
    assert!(got.contains("<t:Subject>Saved</t:Subject>"), "{got}");

    // AlwaysOverwrite: the conflict is overridden (and counted), the message sent
    let body = e
        .call(&update_send(
            "SendAndSaveCopy",
            "AlwaysOverwrite",
            SENT,
            &id,
            &stale,
            &set_subject("Sent anyway"),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert!(body.contains("<t:Count>1</t:Count>"), "{body}");
    let (bob, got) = e.folder(&bob_token(), "inbox").await;
    assert_eq!(bob.len(), 1, "{got}");
    assert!(got.contains("<t:Subject>Sent anyway</t:Subject>"), "{got}");
    assert_eq!(e.folder(&alice_token(), "sentitems").await.0.len(), 1);
}

#[tokio::test]
async fn update_and_send_only_sends_messages() {
    let e = env().await;
    let (id, ck) = e.draft("Draft").await;
    // changing the item into something that is not a message, and sending it: refused whole
    let body = e
        .call(&update_send(
            "SendAndSaveCopy",
            "AutoResolve",
            "",
            &id,
            &ck,
            r#"<t:SetItemField><t:FieldURI FieldURI="item:ItemClass"/><t:Message><t:ItemClass>IPM.StickyNote</t:ItemClass></t:Message></t:SetItemField>"#,
        ))
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidItemForOperation"], "{body}");
    assert!(e.folder(&bob_token(), "inbox").await.0.is_empty());
    assert_eq!(
        e.folder(&alice_token(), "drafts").await.0,
        [(id.clone(), ck.clone())]
    );
}

/// Delivered mail is a NewMailEvent (and a CreatedEvent) to the recipient's subscriptions, as
/// in Exchange; the sender's copy in Sent Items and a saved draft are not, and neither is a
/// non-delivery report's absence: the report in the sender's Inbox is new mail too.
#[tokio::test]
async fn delivered_mail_is_a_new_mail_event() {
    let e = env().await;
    let subscribe = |types: &str| {
        format!(
            r#"<m:Subscribe><m:PullSubscriptionRequest SubscribeToAllFolders="true"><t:EventTypes>{types}</t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#
        )
    };
    let text = |body: &str, tag: &str| {
        body.split(&format!("<{tag}>"))
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or_else(|| panic!("no {tag} in {body}"))
            .to_owned()
    };
    let both = "<t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType>";
    let bob_sub = e.call_with(&bob_token(), &subscribe(both)).await;
    let alice_sub = e
        .call(&subscribe("<t:EventType>NewMailEvent</t:EventType>"))
        .await;
    // Alice saves a draft, then sends to Bob and to an address outside the organization
    e.draft("Just saved").await;
    let body = e
        .call(&create(
            "SendAndSaveCopy",
            SENT,
            &message(
                "News",
                "",
                &["bob@contoso.example", "someone@fabrikam.example"],
                &[],
                &[],
            ),
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let events = |token: String, sub: String| {
        let e = &e;
        async move {
            let got = e
                .call_with(
                    &token,
                    &format!(
                        "<m:GetEvents><m:SubscriptionId>{}</m:SubscriptionId><m:Watermark>{}</m:Watermark></m:GetEvents>",
                        text(&sub, "m:SubscriptionId"),
                        text(&sub, "m:Watermark")
                    ),
                )
                .await;
            let kinds: Vec<String> = got
                .split("<t:")
                .filter_map(|s| s.split('>').next())
                .filter(|n| n.ends_with("Event"))
                .map(str::to_owned)
                .collect();
            (kinds, got)
        }
    };
    let (bob, got) = events(bob_token(), bob_sub).await;
    assert_eq!(bob, ["CreatedEvent", "NewMailEvent"], "{got}");
    let item_ids: Vec<_> = ids(&got).into_iter().map(|(i, _)| i).collect();
    assert_eq!(
        item_ids[0], item_ids[1],
        "both about the delivered item: {got}"
    );
    // Alice: her draft and her Sent Items copy are no new mail; the non-delivery report is
    let (alice, got) = events(alice_token(), alice_sub).await;
    assert_eq!(alice, ["NewMailEvent"], "{got}");
    let (inbox, _) = e.folder(&alice_token(), "inbox").await;
    assert_eq!(ids(&got)[0].0, inbox[0].0, "the report in her Inbox: {got}");
}
