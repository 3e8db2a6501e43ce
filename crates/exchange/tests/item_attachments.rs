//! Item attachments (`t:ItemAttachment`) over HTTP against the real server: an item held inside
//! another, stored with it by CreateItem and added by CreateAttachment, listed by GetItem,
//! answered whole by GetAttachment (its own attachments included, each with its content),
//! carried by a send into each recipient's copy and by a forward, written into the MIME
//! content as a `message/rfc822` part, carried by ExportItems and read back by UploadItems,
//! deleted by DeleteAttachment; nesting bounded, a missing item refused alone.

mod common;

use common::{ALICE, BOB, Env, Options, alice_token, bob_token, codes, ids, start};
use ews_proto::ns;
use ews_proto::response::{AttachmentView, attachment_from_element, parse_response};
use ews_proto::xml::Limits;

async fn env() -> Env {
    start(Options {
        mailboxes: &[("Alice", ALICE), ("Bob", BOB)],
        ..Options::default()
    })
    .await
}

fn mbx(addr: &str) -> String {
    format!("<t:Mailbox><t:EmailAddress>{addr}</t:EmailAddress></t:Mailbox>")
}

/// The minutes of the meeting, with the agenda file attached: what alice attaches.
fn minutes() -> String {
    format!(
        r#"<t:Message><t:Subject>Minutes</t:Subject><t:Body BodyType="Text">Decisions: ship it.</t:Body><t:Attachments><t:FileAttachment><t:Name>agenda.txt</t:Name><t:ContentType>text/plain</t:ContentType><t:Content>MS4gc2hpcA==</t:Content></t:FileAttachment></t:Attachments><t:ToRecipients>{}</t:ToRecipients><t:Importance>High</t:Importance></t:Message>"#,
        mbx(BOB)
    )
}

fn item_attachment(name: &str, item: &str) -> String {
    format!("<t:ItemAttachment><t:Name>{name}</t:Name>{item}</t:ItemAttachment>")
}

/// Every attachment of every message's `m:Attachments` or of its items' `t:Attachments`.
fn attachments(body: &str) -> Vec<AttachmentView> {
    let r = parse_response(body.as_bytes(), &Limits::default()).unwrap();
    let mut out = Vec::new();
    for m in &r.messages {
        if let Some(list) = m.element.child(ns::MESSAGES, "Attachments") {
            for a in &list.children {
                out.push(attachment_from_element(a).unwrap());
            }
        }
        if let Some(items) = m.element.child(ns::MESSAGES, "Items") {
            for item in &items.children {
                if let Some(list) = item.child(ns::TYPES, "Attachments") {
                    for a in &list.children {
                        out.push(attachment_from_element(a).unwrap());
                    }
                }
            }
        }
    }
    out
}

fn get_attachment(id: &str, shape: &str) -> String {
    format!(
        r#"<m:GetAttachment>{shape}<m:AttachmentIds><t:AttachmentId Id="{id}"/></m:AttachmentIds></m:GetAttachment>"#
    )
}

fn get_item(id: &str, shape: &str) -> String {
    format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape>{shape}</m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
    )
}

fn find(folder: &str) -> String {
    format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#
    )
}

async fn folder_id(e: &Env, name: &str) -> String {
    let f = e
        .call_with(
            &alice_token(),
            &format!(
                r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="{name}"/></m:FolderIds></m:GetFolder>"#
            ),
        )
        .await;
    common::attr_after(&f, "<t:FolderId ", "Id")
}

/// The attached minutes as GetAttachment answers them, checked whole.
fn assert_minutes(got: &str) {
    assert_eq!(codes(got), ["NoError"], "{got}");
    let [a] = attachments(got).try_into().expect("one attachment");
    assert!(a.is_item, "{got}");
    assert_eq!(a.name.as_deref(), Some("Minutes"), "{got}");
    let item = a.item.expect("the attached item");
    assert_eq!(item.id, "", "an attached item has no id: {got}");
    assert_eq!(item.subject.as_deref(), Some("Minutes"));
    assert_eq!(item.item_class.as_deref(), Some("IPM.Note"));
    assert_eq!(
        item.body,
        Some((
            ews_proto::types::BodyType::Text,
            "Decisions: ship it.".to_owned()
        ))
    );
    assert_eq!(item.importance, Some(ews_proto::types::Importance::High));
    assert_eq!(
        item.to
            .iter()
            .map(|m| m.email_address.as_deref())
            .collect::<Vec<_>>(),
        [Some(BOB)]
    );
    assert!(item.has_attachments);
    let [agenda] = item.attachments.as_slice() else {
        panic!("the agenda inside: {got}")
    };
    assert!(!agenda.is_item);
    assert_eq!(agenda.id, "", "{got}");
    assert_eq!(agenda.name.as_deref(), Some("agenda.txt"));
    assert_eq!(agenda.content.as_deref(), Some(b"1. ship".as_slice()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_attachments_over_http() {
    let e = env().await;
    let alice = alice_token();
    // CreateItem with the minutes attached: the answer names an item attachment
    let t = e
        .call_with(
            &alice,
            &format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>FW: Minutes</t:Subject><t:Attachments>{}</t:Attachments><t:ToRecipients>{}</t:ToRecipients></t:Message></m:Items></m:CreateItem>"#,
                item_attachment("Minutes", &minutes()),
                mbx(BOB)
            ),
        )
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    assert!(t.contains("<t:ItemAttachment><t:AttachmentId "), "{t}");
    let (draft, _) = ids(&t).remove(0);
    let [created] = attachments(&t).try_into().expect("one attachment");
    assert!(created.is_item);

    // GetItem lists it as an item attachment; the item has attachments
    let got = e.call_with(&alice, &get_item(&draft, "")).await;
    assert!(
        got.contains("<t:HasAttachments>true</t:HasAttachments>"),
        "{got}"
    );
    let [listed] = attachments(&got).try_into().expect("one attachment");
    assert!(listed.is_item && listed.item.is_none(), "{got}");
    assert_eq!(listed.id, created.id);
    assert_eq!(listed.name.as_deref(), Some("Minutes"));

    // GetAttachment: the whole item, its own attachment with its content
    let got = e.call_with(&alice, &get_attachment(&created.id, "")).await;
    assert_minutes(&got);
    // an HTML body is answered as text unless the shape asks for HTML
    let html = e
        .call_with(
            &alice,
            &format!(
                r#"<m:CreateAttachment><m:ParentItemId Id="{draft}"/><m:Attachments>{}</m:Attachments></m:CreateAttachment>"#,
                item_attachment(
                    "Note",
                    r#"<t:Message><t:Subject>Note</t:Subject><t:Body BodyType="HTML">&lt;p&gt;&lt;b&gt;Bold&lt;/b&gt; move&lt;/p&gt;</t:Body></t:Message>"#
                )
            ),
        )
        .await;
    assert_eq!(codes(&html), ["NoError"], "{html}");
    let note = common::attr_after(&html, "<t:AttachmentId ", "Id");
    let got = e.call_with(&alice, &get_attachment(&note, "")).await;
    assert!(got.contains(r#"<t:Body BodyType="Text">"#), "{got}");
    assert!(got.contains("Bold move"), "{got}");
    let got = e
        .call_with(
            &alice,
            &get_attachment(
                &note,
                "<m:AttachmentShape><t:BodyType>HTML</t:BodyType></m:AttachmentShape>",
            ),
        )
        .await;
    assert!(got.contains(r#"<t:Body BodyType="HTML">"#), "{got}");
    let got = e
        .call_with(
            &alice,
            &format!(
                r#"<m:DeleteAttachment><m:AttachmentIds><t:AttachmentId Id="{note}"/></m:AttachmentIds></m:DeleteAttachment>"#
            ),
        )
        .await;
    assert_eq!(codes(&got), ["NoError"], "{got}");

    // the shape shapes the item: its body as HTML, its MIME content
    let shaped = e
        .call_with(
            &alice,
            &get_attachment(
                &created.id,
                "<m:AttachmentShape><t:IncludeMimeContent>true</t:IncludeMimeContent><t:BodyType>HTML</t:BodyType></m:AttachmentShape>",
            ),
        )
        .await;
    assert!(shaped.contains(r#"<t:Body BodyType="HTML">"#), "{shaped}");
    assert!(shaped.contains("<t:MimeContent"), "{shaped}");

    // the holding item's MIME content carries the minutes as a message/rfc822 part
    let mime = e
        .call_with(
            &alice,
            &get_item(&draft, "<t:IncludeMimeContent>true</t:IncludeMimeContent>"),
        )
        .await;
    let encoded = mime
        .split("<t:MimeContent")
        .nth(1)
        .and_then(|s| s.split('>').nth(1))
        .and_then(|s| s.split('<').next())
        .unwrap_or_default();
    use base64::Engine as _;
    let text = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap(),
    )
    .unwrap();
    assert!(text.contains("message/rfc822"), "{text}");

    // ExportItems carries it; UploadItems reads it back as an item attachment
    let folder = folder_id(&e, "drafts").await;
    let uploaded = e.export_and_upload(&alice, &draft, &folder).await;
    let got = e.call_with(&alice, &get_item(&uploaded, "")).await;
    let [again] = attachments(&got).try_into().expect("one attachment");
    assert!(again.is_item, "{got}");
    let got = e.call_with(&alice, &get_attachment(&again.id, "")).await;
    assert_minutes(&got);

    // sent to bob: his copy holds it too
    let sent = e
        .call_with(
            &alice,
            &format!(
                r#"<m:SendItem SaveItemToFolder="true"><m:ItemIds><t:ItemId Id="{draft}"/></m:ItemIds></m:SendItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&sent), ["NoError"], "{sent}");
    let bob = bob_token();
    let bobs = e.call_with(&bob, &find("inbox")).await;
    let (copy, _) = ids(&bobs).remove(0);
    let got = e.call_with(&bob, &get_item(&copy, "")).await;
    let [received] = attachments(&got).try_into().expect("one attachment");
    assert!(received.is_item, "{got}");
    let got = e.call_with(&bob, &get_attachment(&received.id, "")).await;
    assert_minutes(&got);

    // bob forwards it: the forward carries the attached item on
    let fwd = e
        .call_with(
            &bob,
            &format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:ForwardItem><t:ToRecipients>{}</t:ToRecipients><t:ReferenceItemId Id="{copy}"/><t:NewBodyContent BodyType="Text">FYI</t:NewBodyContent></t:ForwardItem></m:Items></m:CreateItem>"#,
                mbx(ALICE)
            ),
        )
        .await;
    assert_eq!(codes(&fwd), ["NoError"], "{fwd}");
    let (fwd_id, _) = ids(&fwd).remove(0);
    let got = e.call_with(&bob, &get_item(&fwd_id, "")).await;
    let [carried] = attachments(&got).try_into().expect("one attachment");
    assert!(carried.is_item, "{got}");
    let got = e.call_with(&bob, &get_attachment(&carried.id, "")).await;
    assert_minutes(&got);

    // DeleteAttachment removes it; the item has none left
    let d = e
        .call_with(
            &bob,
            &format!(
                r#"<m:DeleteAttachment><m:AttachmentIds><t:AttachmentId Id="{}"/></m:AttachmentIds></m:DeleteAttachment>"#,
                carried.id
            ),
        )
        .await;
    assert_eq!(codes(&d), ["NoError"], "{d}");
    let got = e.call_with(&bob, &get_item(&fwd_id, "")).await;
    assert!(attachments(&got).is_empty(), "{got}");
    assert!(
        got.contains("<t:HasAttachments>false</t:HasAttachments>"),
        "{got}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_attachment_adds_an_item_and_refusals_are_per_attachment() {
    let e = env().await;
    let alice = alice_token();
    let t = e
        .call_with(
            &alice,
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>Holder</t:Subject></t:Message></m:Items></m:CreateItem>"#,
        )
        .await;
    let (holder, ck) = ids(&t).remove(0);
    // one attachment without its item, one appointment: the first refused alone
    let appointment = r#"<t:CalendarItem><t:Subject>Review</t:Subject><t:Start>2030-01-02T10:00:00Z</t:Start><t:End>2030-01-02T11:00:00Z</t:End><t:Location>Room 1</t:Location><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem>"#;
    let r = e
        .call_with(
            &alice,
            &format!(
                r#"<m:CreateAttachment><m:ParentItemId Id="{holder}" ChangeKey="{ck}"/><m:Attachments><t:ItemAttachment><t:Name>empty</t:Name></t:ItemAttachment>{}</m:Attachments></m:CreateAttachment>"#,
                item_attachment("Review", appointment)
            ),
        )
        .await;
    assert_eq!(
        codes(&r),
        ["ErrorRequiredPropertyMissing", "NoError"],
        "{r}"
    );
    assert!(r.contains("<t:ItemAttachment><t:AttachmentId "), "{r}");
    let id = common::attr_after(
        r.split("NoError").nth(1).unwrap_or_default(),
        "<t:AttachmentId ",
        "Id",
    );
    let got = e.call_with(&alice, &get_attachment(&id, "")).await;
    assert_eq!(codes(&got), ["NoError"], "{got}");
    assert!(got.contains("<t:CalendarItem>"), "{got}");
    assert!(got.contains("<t:Location>Room 1</t:Location>"), "{got}");
    // a meeting's attendees come with it; the organizer is the mailbox that attached it
    assert!(
        got.contains(
            "<t:Organizer><t:Mailbox><t:Name>Alice</t:Name><t:EmailAddress>alice@contoso.example</t:EmailAddress>"
        ),
        "{got}"
    );
    assert!(
        got.contains("<t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress>"),
        "{got}"
    );
    assert!(
        got.contains("<t:Start>2030-01-02T10:00:00Z</t:Start>"),
        "{got}"
    );

    // a contact group can be attached too, its members with it
    let r = e
        .call_with(
            &alice,
            &format!(
                r#"<m:CreateAttachment><m:ParentItemId Id="{holder}"/><m:Attachments>{}</m:Attachments></m:CreateAttachment>"#,
                item_attachment(
                    "Team",
                    r#"<t:DistributionList><t:DisplayName>Team</t:DisplayName><t:Members><t:Member><t:Mailbox><t:EmailAddress>pat@fabrikam.example</t:EmailAddress></t:Mailbox></t:Member></t:Members></t:DistributionList>"#
                )
            ),
        )
        .await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let id = common::attr_after(&r, "<t:AttachmentId ", "Id");
    let got = e.call_with(&alice, &get_attachment(&id, "")).await;
    assert!(got.contains("<t:DistributionList>"), "{got}");
    assert!(
        got.contains("<t:EmailAddress>pat@fabrikam.example</t:EmailAddress>"),
        "{got}"
    );

    // attached items nest at most four deep below the item holding them
    let mut nested = "<t:Message><t:Subject>level 5</t:Subject></t:Message>".to_owned();
    for level in (1..=4).rev() {
        nested = format!(
            "<t:Message><t:Subject>level {level}</t:Subject><t:Attachments>{}</t:Attachments></t:Message>",
            item_attachment(&format!("level {}", level + 1), &nested)
        );
    }
    let deep = e
        .call_with(
            &alice,
            &format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>top</t:Subject><t:Attachments>{}</t:Attachments></t:Message></m:Items></m:CreateItem>"#,
                item_attachment("level 1", &nested)
            ),
        )
        .await;
    assert_eq!(
        codes(&deep),
        ["ErrorAttachmentNestLevelLimitExceeded"],
        "{deep}"
    );
    // four levels are fine, and read back whole
    let mut four = "<t:Message><t:Subject>level 4</t:Subject></t:Message>".to_owned();
    for level in (1..=3).rev() {
        four = format!(
            "<t:Message><t:Subject>level {level}</t:Subject><t:Attachments>{}</t:Attachments></t:Message>",
            item_attachment(&format!("level {}", level + 1), &four)
        );
    }
    let ok = e
        .call_with(
            &alice,
            &format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>top</t:Subject><t:Attachments>{}</t:Attachments></t:Message></m:Items></m:CreateItem>"#,
                item_attachment("level 1", &four)
            ),
        )
        .await;
    assert_eq!(codes(&ok), ["NoError"], "{ok}");
    let [top] = attachments(&ok).try_into().expect("one attachment");
    let got = e.call_with(&alice, &get_attachment(&top.id, "")).await;
    let [a] = attachments(&got).try_into().expect("one attachment");
    let mut level = a.item.expect("level 1");
    for n in 2..=4 {
        let [inner] = std::mem::take(&mut level.attachments)
            .try_into()
            .expect("one attachment a level");
        assert_eq!(inner.name, Some(format!("level {n}")));
        level = inner.item.expect("the attached item");
        assert_eq!(level.subject, Some(format!("level {n}")));
    }
    // and the whole export of it reads back
    let folder = folder_id(&e, "drafts").await;
    let holder_of_four = ids(&ok).remove(0).0;
    e.export_and_upload(&alice, &holder_of_four, &folder).await;
}
