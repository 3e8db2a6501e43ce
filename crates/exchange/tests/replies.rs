//! Replies and forwards over EWS against the real server (`t:ReplyToItem`, `t:ReplyAllToItem`,
//! `t:ForwardItem` in CreateItem): a reply saved as a draft in Drafts, composed from the
//! original (subject, recipients, the original quoted under the new text); a reply to all sent
//! to the original's sender and other recipients but not to the replier; a forward sent with
//! the original's attachments; and the refusals (a contact as the original, an original that is
//! not there, no disposition), each writing nothing.

mod common;

use common::{ALICE, BOB, Env, Options, alice_token, bob_token, codes, ids, start, user_token};

const CAROL: &str = "carol@contoso.example";
const DAVE: &str = "dave@contoso.example";

async fn env() -> Env {
    start(Options {
        mailboxes: &[
            ("Alice", ALICE),
            ("Bob", BOB),
            ("Carol", CAROL),
            ("Dave", DAVE),
        ],
        ..Options::default()
    })
    .await
}

fn mbx(addr: &str) -> String {
    format!("<t:Mailbox><t:EmailAddress>{addr}</t:EmailAddress></t:Mailbox>")
}

/// The value of `attr` on the first element that starts with `start`, if any.
fn attr_after_opt(body: &str, start: &str, attr: &str) -> Option<String> {
    body.split(start)
        .nth(1)
        .and_then(|s| s.split(&format!("{attr}=\"")).nth(1))
        .and_then(|s| s.split('"').next())
        .map(str::to_owned)
}

/// The text of each `t:{name}` in `body`, in order.
fn all(body: &str, name: &str) -> Vec<String> {
    body.split(&format!("<t:{name}>"))
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect()
}

/// The addresses on one recipient line of a GetItem answer.
fn line(body: &str, tag: &str) -> Vec<String> {
    body.split(&format!("<t:{tag}>"))
        .nth(1)
        .and_then(|s| s.split(&format!("</t:{tag}>")).next())
        .map(|s| all(s, "EmailAddress"))
        .unwrap_or_default()
}

fn respond(disposition: &str, saved: &str, object: &str) -> String {
    format!(
        r#"<m:CreateItem MessageDisposition="{disposition}">{saved}<m:Items>{object}</m:Items></m:CreateItem>"#
    )
}

fn get(id: &str) -> String {
    format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
    )
}

fn find(folder: &str) -> String {
    format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="item:HasAttachments"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#
    )
}

/// Bob's message to Alice, Carol in Cc, with a file attachment; its id in Alice's Inbox.
async fn bobs_message(e: &Env) -> String {
    let sent = e
        .call_with(
            &bob_token(),
            &format!(
                r#"<m:CreateItem MessageDisposition="SendOnly"><m:Items><t:Message><t:Subject>Numbers</t:Subject><t:Body BodyType="HTML">&lt;html&gt;&lt;body&gt;&lt;p&gt;Q3 attached.&lt;/p&gt;&lt;/body&gt;&lt;/html&gt;</t:Body><t:Attachments><t:FileAttachment><t:Name>q3.csv</t:Name><t:ContentType>text/csv</t:ContentType><t:Content>YSxiCjEsMgo=</t:Content></t:FileAttachment></t:Attachments><t:ToRecipients>{}</t:ToRecipients><t:CcRecipients>{}</t:CcRecipients></t:Message></m:Items></m:CreateItem>"#,
                mbx(ALICE),
                mbx(CAROL)
            ),
        )
        .await;
    assert_eq!(codes(&sent), ["NoError"], "{sent}");
    let inbox = e.call_with(&alice_token(), &find("inbox")).await;
    ids(&inbox).remove(0).0
}

#[tokio::test]
async fn a_reply_is_composed_from_the_original_and_saved_as_a_draft() {
    let e = env().await;
    let t = alice_token();
    let original = bobs_message(&e).await;
    let r = e
        .call_with(
            &t,
            &respond(
                "SaveOnly",
                "",
                &format!(
                    r#"<t:ReplyToItem><t:ReferenceItemId Id="{original}"/><t:NewBodyContent BodyType="Text">Thanks, Bob!</t:NewBodyContent></t:ReplyToItem>"#
                ),
            ),
        )
        .await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    assert!(r.contains("<t:Message><t:ItemId"), "{r}");
    let (id, _) = ids(&r).remove(0);
    let got = e.call_with(&t, &get(&id)).await;
    assert_eq!(all(&got, "Subject"), ["RE: Numbers"], "{got}");
    assert_eq!(all(&got, "IsDraft"), ["true"], "{got}");
    assert_eq!(line(&got, "ToRecipients"), [BOB], "{got}");
    assert!(!got.contains("<t:CcRecipients>"), "{got}");
    // the new text in HTML (the original is HTML) above the quoted original, no attachment
    assert!(got.contains("Thanks, Bob!"), "{got}");
    assert!(
        got.contains("&lt;b&gt;From:&lt;/b&gt; Bob &amp;lt;bob@contoso.example&amp;gt;"),
        "{got}"
    );
    assert!(got.contains("Q3 attached."), "{got}");
    assert_eq!(all(&got, "HasAttachments"), ["false"], "{got}");
    // in the original's thread
    let first = e.call_with(&t, &get(&original)).await;
    let message_id = all(&first, "InternetMessageId").remove(0);
    assert!(message_id.starts_with("&lt;"), "{first}");
    assert_eq!(
        all(&got, "InReplyTo"),
        std::slice::from_ref(&message_id),
        "{got}"
    );
    assert_eq!(all(&got, "References"), [message_id], "{got}");
    // and in its conversation: the topic without the prefix, the same id, an index of its own
    assert_eq!(all(&got, "ConversationTopic"), ["Numbers"], "{got}");
    assert_eq!(all(&first, "ConversationTopic"), ["Numbers"], "{first}");
    let conversation = |body: &str| attr_after_opt(body, "<t:ConversationId ", "Id");
    assert!(conversation(&first).is_some(), "{first}");
    assert_eq!(conversation(&got), conversation(&first), "{got}");
    assert_eq!(all(&got, "ConversationIndex").len(), 1, "{got}");
    assert!(all(&first, "ConversationIndex").is_empty(), "{first}");
    let drafts = e.call_with(&t, &find("drafts")).await;
    assert_eq!(all(&drafts, "Subject"), ["RE: Numbers"], "{drafts}");
    // the subject given wins, and is not prefixed again
    let r = e
        .call_with(
            &t,
            &respond(
                "SaveOnly",
                "",
                &format!(
                    r#"<t:ReplyToItem><t:Subject>re: Numbers, again</t:Subject><t:ReferenceItemId Id="{original}"/></t:ReplyToItem>"#
                ),
            ),
        )
        .await;
    let got = e.call_with(&t, &get(&ids(&r).remove(0).0)).await;
    assert_eq!(all(&got, "Subject"), ["re: Numbers, again"], "{got}");
}

#[tokio::test]
async fn a_reply_to_all_reaches_the_others_but_not_the_replier() {
    let e = env().await;
    let t = alice_token();
    let original = bobs_message(&e).await;
    let r = e
        .call_with(
            &t,
            &respond(
                "SendAndSaveCopy",
                "",
                &format!(
                    r#"<t:ReplyAllToItem><t:ReferenceItemId Id="{original}"/><t:NewBodyContent BodyType="Text">Looks right.</t:NewBodyContent></t:ReplyAllToItem>"#
                ),
            ),
        )
        .await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    for (who, token) in [(BOB, bob_token()), (CAROL, user_token(CAROL))] {
        let inbox = e.call_with(&token, &find("inbox")).await;
        assert!(
            all(&inbox, "Subject").contains(&"RE: Numbers".to_owned()),
            "{who}: {inbox}"
        );
    }
    let sent = e.call_with(&t, &find("sentitems")).await;
    let (id, _) = ids(&sent).remove(0);
    let got = e.call_with(&t, &get(&id)).await;
    assert_eq!(line(&got, "ToRecipients"), [BOB], "{got}");
    assert_eq!(line(&got, "CcRecipients"), [CAROL], "{got}");
    // Alice did not write to herself
    let inbox = e.call_with(&t, &find("inbox")).await;
    assert_eq!(all(&inbox, "Subject"), ["Numbers"], "{inbox}");
    // the original is marked as replied to all (PR_LAST_VERB_EXECUTED 103, PR_ICON_INDEX 261)
    let marked = e
        .call_with(
            &t,
            &format!(
                r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:ExtendedFieldURI PropertyTag="0x1081" PropertyType="Integer"/><t:ExtendedFieldURI PropertyTag="0x1080" PropertyType="Integer"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="{original}"/></m:ItemIds></m:GetItem>"#
            ),
        )
        .await;
    let mut values = all(&marked, "Value");
    values.sort();
    assert_eq!(values, ["103", "261"], "{marked}");
    // Bob answers the reply: the thread grows (References: the first message, then Alice's),
    // the subject keeps one prefix, and the MIME content carries the headers
    let bob = bob_token();
    let bobs_inbox = e.call_with(&bob, &find("inbox")).await;
    let (alices_reply, _) = ids(&bobs_inbox).remove(0);
    let alices = e.call_with(&bob, &get(&alices_reply)).await;
    let alices_id = all(&alices, "InternetMessageId").remove(0);
    let first_id = all(&alices, "InReplyTo").remove(0);
    let r = e
        .call_with(
            &bob,
            &respond(
                "SendOnly",
                "",
                &format!(
                    r#"<t:ReplyToItem><t:ReferenceItemId Id="{alices_reply}"/></t:ReplyToItem>"#
                ),
            ),
        )
        .await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let inbox = e.call_with(&t, &find("inbox")).await;
    let (answer, _) = ids(&inbox)
        .into_iter()
        .find(|(i, _)| *i != original)
        .expect("Bob's answer");
    let got = e
        .call_with(
            &t,
            &format!(
                r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:IncludeMimeContent>true</t:IncludeMimeContent></m:ItemShape><m:ItemIds><t:ItemId Id="{answer}"/></m:ItemIds></m:GetItem>"#
            ),
        )
        .await;
    assert_eq!(all(&got, "Subject"), ["RE: Numbers"], "{got}");
    assert_eq!(
        all(&got, "InReplyTo"),
        std::slice::from_ref(&alices_id),
        "{got}"
    );
    assert_eq!(
        all(&got, "References"),
        [format!("{first_id} {alices_id}")],
        "{got}"
    );
    let mime = got
        .split("<t:MimeContent")
        .nth(1)
        .and_then(|s| s.split('>').nth(1))
        .and_then(|s| s.split('<').next())
        .unwrap_or_else(|| panic!("no MimeContent: {got}"));
    let mime = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, mime.trim())
            .expect("base64"),
    )
    .expect("utf-8");
    let unescape = |s: &str| s.replace("&lt;", "<").replace("&gt;", ">");
    assert!(
        mime.contains(&format!("In-Reply-To: {}", unescape(&alices_id))),
        "{mime}"
    );
}

#[tokio::test]
async fn a_forward_carries_the_attachments_to_its_recipients() {
    let e = env().await;
    let t = alice_token();
    let original = bobs_message(&e).await;
    let r = e
        .call_with(
            &t,
            &respond(
                "SendOnly",
                "",
                &format!(
                    r#"<t:ForwardItem><t:ToRecipients>{}</t:ToRecipients><t:ReferenceItemId Id="{original}"/><t:NewBodyContent BodyType="Text">FYI</t:NewBodyContent></t:ForwardItem>"#,
                    mbx(DAVE)
                ),
            ),
        )
        .await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let dave = user_token(DAVE);
    let inbox = e.call_with(&dave, &find("inbox")).await;
    assert_eq!(all(&inbox, "Subject"), ["FW: Numbers"], "{inbox}");
    assert_eq!(all(&inbox, "HasAttachments"), ["true"], "{inbox}");
    let got = e.call_with(&dave, &get(&ids(&inbox).remove(0).0)).await;
    assert_eq!(got.matches("<t:FileAttachment>").count(), 1, "{got}");
    assert!(got.contains("<t:Name>q3.csv</t:Name>"), "{got}");
    assert_eq!(line(&got, "ToRecipients"), [DAVE], "{got}");
    // nobody else got it
    let bob = e.call_with(&bob_token(), &find("inbox")).await;
    assert!(!bob.contains("FW: Numbers"), "{bob}");
    // the original is marked as forwarded
    let marked = e
        .call_with(
            &t,
            &format!(
                r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:ExtendedFieldURI PropertyTag="0x1081" PropertyType="Integer"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="{original}"/></m:ItemIds></m:GetItem>"#
            ),
        )
        .await;
    assert_eq!(all(&marked, "Value"), ["104"], "{marked}");
    // a forward without recipients cannot be sent
    let r = e
        .call_with(
            &t,
            &respond(
                "SendOnly",
                "",
                &format!(r#"<t:ForwardItem><t:ReferenceItemId Id="{original}"/></t:ForwardItem>"#),
            ),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorInvalidRecipients"], "{r}");
}

#[tokio::test]
async fn what_cannot_be_answered_is_refused_and_nothing_is_written() {
    let e = env().await;
    let t = alice_token();
    let contact = e
        .call_with(
            &t,
            r#"<m:CreateItem><m:Items><t:Contact><t:GivenName>Zed</t:GivenName></t:Contact></m:Items></m:CreateItem>"#,
        )
        .await;
    let (contact, _) = ids(&contact).remove(0);
    let original = bobs_message(&e).await;
    let reply_to =
        |id: &str| format!(r#"<t:ReplyToItem><t:ReferenceItemId Id="{id}"/></t:ReplyToItem>"#);
    let r = e
        .call_with(&t, &respond("SaveOnly", "", &reply_to(&contact)))
        .await;
    assert_eq!(codes(&r), ["ErrorInvalidReferenceItem"], "{r}");
    // gone
    let gone = e
        .call_with(
            &t,
            &format!(
                r#"<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="{original}"/></m:ItemIds></m:DeleteItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&gone), ["NoError"], "{gone}");
    let r = e
        .call_with(&t, &respond("SendOnly", "", &reply_to(&original)))
        .await;
    assert_eq!(codes(&r), ["ErrorItemNotFound"], "{r}");
    // a reply in a request of several: answered alone, the others created
    let r = e
        .call_with(
            &t,
            &format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items>{}<t:Message><t:Subject>Note</t:Subject></t:Message></m:Items></m:CreateItem>"#,
                reply_to(&original)
            ),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorItemNotFound", "NoError"], "{r}");
    // a disposition is required
    let r = e
        .call_with(
            &t,
            &format!(
                r#"<m:CreateItem><m:Items>{}</m:Items></m:CreateItem>"#,
                reply_to(&contact)
            ),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorMessageDispositionRequired"], "{r}");
    let drafts = e.call_with(&t, &find("drafts")).await;
    assert_eq!(all(&drafts, "Subject"), ["Note"], "{drafts}");
}

/// The original's `PR_LAST_VERB_EXECUTED`, if set.
async fn last_verb(e: &Env, token: &str, id: &str) -> Vec<String> {
    let got = e
        .call_with(
            token,
            &format!(
                r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:ExtendedFieldURI PropertyTag="0x1081" PropertyType="Integer"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
            ),
        )
        .await;
    all(&got, "Value")
}

/// What the server keeps on a draft reply to name its original, read as a client would.
const ANSWERS: &str = r#"<t:ExtendedFieldURI PropertySetId="5b8c0a3e-6f1d-4e57-9a52-0c4f3e1d7a21" PropertyName="OpenHybrid.Answers" PropertyType="String"/>"#;

#[tokio::test]
async fn a_reply_saved_as_a_draft_marks_its_original_when_it_is_sent() {
    let e = env().await;
    let t = alice_token();
    let original = bobs_message(&e).await;
    for (object, verb) in [("ReplyAllToItem", "103"), ("ForwardItem", "104")] {
        let to = if object == "ForwardItem" {
            format!("<t:ToRecipients>{}</t:ToRecipients>", mbx(DAVE))
        } else {
            String::new()
        };
        let r = e
            .call_with(
                &t,
                &respond(
                    "SaveOnly",
                    "",
                    &format!(
                        r#"<t:{object}>{to}<t:ReferenceItemId Id="{original}"/><t:NewBodyContent BodyType="Text">Later</t:NewBodyContent></t:{object}>"#
                    ),
                ),
            )
            .await;
        assert_eq!(codes(&r), ["NoError"], "{r}");
        let (draft, ck) = ids(&r).remove(0);
        let kept = e
            .call_with(
                &t,
                &format!(
                    r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>{ANSWERS}</t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="{draft}"/></m:ItemIds></m:GetItem>"#
                ),
            )
            .await;
        assert!(kept.contains(&format!("<t:Value>{verb}:")), "{kept}");
        // saved, not sent: the original is not marked yet
        let before = last_verb(&e, &t, &original).await;
        assert_ne!(before, [verb], "{object}");
        let sent = e
            .call_with(
                &t,
                &format!(
                    r#"<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="{draft}" ChangeKey="{ck}"/></m:ItemIds></m:SendItem>"#
                ),
            )
            .await;
        assert_eq!(codes(&sent), ["NoError"], "{sent}");
        assert_eq!(last_verb(&e, &t, &original).await, [verb], "{object}");
    }
    // the note naming the original is not sent: not on Alice's copy in Sent Items, nor on
    // Dave's delivered copy
    let look = |folder: &str| {
        format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/>{ANSWERS}</t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#
        )
    };
    let sent_items = e.call_with(&t, &look("sentitems")).await;
    assert_eq!(all(&sent_items, "Subject").len(), 2, "{sent_items}");
    assert!(!sent_items.contains("ExtendedProperty"), "{sent_items}");
    let daves = e.call_with(&user_token(DAVE), &look("inbox")).await;
    assert_eq!(all(&daves, "Subject"), ["FW: Numbers"], "{daves}");
    assert!(!daves.contains("ExtendedProperty"), "{daves}");
}
