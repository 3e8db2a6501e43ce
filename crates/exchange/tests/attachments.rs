//! File attachments over HTTP against the real server, with S2S tokens (an actor signed by a
//! key of a trusted auth server, wrapped in an outer token naming alice): stored with their
//! item by CreateItem, added by CreateAttachment, read by GetAttachment (a large one too),
//! deleted by DeleteAttachment, each change a new change key and a Modified event; refusals per
//! attachment; and authorization as the item's (GetItem's rules to read, UpdateItem's to
//! write, Recoverable Items needing ArchiveApplication).

mod common;

use base64::Engine as _;
use common::{actor_token, alice_token, attr_after, codes, env, messages};
use ews_proto::ns;
use ews_proto::response::{AttachmentView, attachment_from_element, parse_response};
use ews_proto::xml::Limits;

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn file_attachment(name: &str, extra: &str, content: &[u8]) -> String {
    format!(
        "<t:FileAttachment><t:Name>{name}</t:Name>{extra}<t:Content>{}</t:Content></t:FileAttachment>",
        b64(content)
    )
}

/// The `t:FileAttachment`s of every message's `m:Attachments` (GetAttachment, CreateAttachment),
/// or of the items' `t:Attachments` (GetItem, CreateItem), read with this workspace's reader.
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

fn get_attachment(ids: &[&str]) -> String {
    let ids: String = ids
        .iter()
        .map(|i| format!(r#"<t:AttachmentId Id="{i}"/>"#))
        .collect();
    format!("<m:GetAttachment><m:AttachmentIds>{ids}</m:AttachmentIds></m:GetAttachment>")
}

fn delete_attachment(ids: &[&str]) -> String {
    let ids: String = ids
        .iter()
        .map(|i| format!(r#"<t:AttachmentId Id="{i}"/>"#))
        .collect();
    format!("<m:DeleteAttachment><m:AttachmentIds>{ids}</m:AttachmentIds></m:DeleteAttachment>")
}

fn create_attachment(item: &str, ck: &str, attachments: &str) -> String {
    format!(
        r#"<m:CreateAttachment><m:ParentItemId Id="{item}" ChangeKey="{ck}"/><m:Attachments>{attachments}</m:Attachments></m:CreateAttachment>"#
    )
}

fn get_item(id: &str, shape: &str) -> String {
    format!(
        r#"<m:GetItem><m:ItemShape>{shape}</m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
    )
}

const ALL: &str = "<t:BaseShape>AllProperties</t:BaseShape>";

/// Every (RootItemId, RootItemChangeKey) pair in a response, in order.
fn roots(body: &str) -> Vec<(String, String)> {
    body.split("RootItemId=\"")
        .skip(1)
        .map(|s| {
            let id = s.split('"').next().unwrap_or_default().to_owned();
            let ck = s
                .split("RootItemChangeKey=\"")
                .nth(1)
                .and_then(|v| v.split('"').next())
                .unwrap_or_default()
                .to_owned();
            (id, ck)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_over_http() {
    let e = env().await;
    // CreateItem with a recording and an inline image: stored with the item, their ids answered
    // in the order sent
    let wav = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
    let png = b"\x89PNG\r\n\x1a\n".to_vec();
    let t = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="voicemail"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>Voice mail from Bob</t:Subject><t:Attachments>{}{}</t:Attachments></t:Message></m:Items></m:CreateItem>"#,
            file_attachment("audio.wav", "<t:ContentType>audio/wav</t:ContentType>", &wav),
            file_attachment(
                "logo.png",
                "<t:ContentType>image/png</t:ContentType><t:ContentId>logo@x</t:ContentId><t:IsInline>true</t:IsInline>",
                &png
            ),
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let item = attr_after(&t, "<t:ItemId ", "Id");
    let created: Vec<String> = attachments(&t).into_iter().map(|a| a.id).collect();
    assert_eq!(created.len(), 2, "{t}");

    // GetItem lists them (no content) and says it has attachments; FindItem only says so
    let g = e.call(&get_item(&item, ALL)).await;
    let listed = attachments(&g);
    assert_eq!(
        listed.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        created
    );
    assert_eq!(listed[0].name.as_deref(), Some("audio.wav"));
    assert_eq!(listed[0].size, Some(wav.len() as u64));
    assert!(!listed[0].is_inline && listed[1].is_inline);
    assert!(listed.iter().all(|a| a.content.is_none()));
    assert!(
        g.contains("<t:HasAttachments>true</t:HasAttachments>"),
        "{g}"
    );
    let f = e
        .call(r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="voicemail"/></m:ParentFolderIds></m:FindItem>"#)
        .await;
    assert!(
        f.contains("<t:HasAttachments>true</t:HasAttachments>") && !f.contains("<t:Attachments>"),
        "{f}"
    );

    // GetAttachment: the content, whole
    let t = e.call(&get_attachment(&[&created[1], &created[0]])).await;
    assert_eq!(codes(&t), ["NoError", "NoError"], "{t}");
    let got = attachments(&t);
    assert_eq!(got[0].content.as_deref(), Some(png.as_slice()));
    assert_eq!(got[0].content_id.as_deref(), Some("logo@x"));
    assert_eq!(got[1].content.as_deref(), Some(wav.as_slice()));
    assert_eq!(got[1].content_type.as_deref(), Some("audio/wav"));

    // a pull subscription on the folder sees what follows as modifications of the item
    let s = e
        .call(r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="voicemail"/></t:FolderIds><t:EventTypes><t:EventType>ModifiedEvent</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#)
        .await;
    let text = |b: &str, el: &str| {
        b.split(&format!("<m:{el}>"))
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or_else(|| panic!("no {el}: {b}"))
            .to_owned()
    };
    let (sub, watermark) = (text(&s, "SubscriptionId"), text(&s, "Watermark"));

    // CreateAttachment: one without content fails alone; the item's new change key is answered
    let before = attr_after(&g, "<t:ItemId ", "ChangeKey");
    let t = e
        .call(&create_attachment(
            &item,
            &before,
            &format!(
                "{}<t:FileAttachment><t:Name>empty</t:Name></t:FileAttachment>{}",
                file_attachment("notes.txt", "", b"call back"),
                file_attachment("more.txt", "", b"and again"),
            ),
        ))
        .await;
    assert_eq!(
        codes(&t),
        ["NoError", "ErrorRequiredPropertyMissing", "NoError"],
        "{t}"
    );
    let rs = roots(&t);
    assert_eq!(rs.len(), 2, "{t}");
    assert!(
        rs.iter()
            .all(|(id, ck)| *id == item && *ck != before && !ck.is_empty())
    );
    let added: Vec<String> = attachments(&t).into_iter().map(|a| a.id).collect();
    let g = e.call(&get_item(&item, ALL)).await;
    assert_eq!(attr_after(&g, "<t:ItemId ", "ChangeKey"), rs[0].1);
    assert_eq!(attachments(&g).len(), 4);
    let ev = e
        .call(&format!(
            "<m:GetEvents><m:SubscriptionId>{sub}</m:SubscriptionId><m:Watermark>{watermark}</m:Watermark></m:GetEvents>"
        ))
        .await;
    assert!(
        ev.contains("<t:ModifiedEvent>") && ev.contains(&item),
        "{ev}"
    );

    // DeleteAttachment: the item with its new change key; gone afterwards
    let t = e.call(&delete_attachment(&[&added[0], "garbage"])).await;
    assert_eq!(codes(&t), ["NoError", "ErrorInvalidIdMalformed"], "{t}");
    let (root, ck) = roots(&t).remove(0);
    assert_eq!(root, item);
    assert_ne!(ck, rs[0].1);
    let g = e.call(&get_item(&item, ALL)).await;
    assert_eq!(attr_after(&g, "<t:ItemId ", "ChangeKey"), ck);
    let t = e.call(&get_attachment(&[&added[0], &added[1]])).await;
    assert_eq!(codes(&t), ["ErrorItemNotFound", "NoError"], "{t}");
    let t = e.call(&delete_attachment(&[&added[0]])).await;
    assert_eq!(codes(&t), ["ErrorItemNotFound"], "{t}");

    // another mailbox's attachment is not found; an item id is no attachment id
    let bob = e.mailbox_key("bob@contoso.example").await;
    let bobs =
        e.ex.mailbox_store()
            .create_items(
                &bob,
                mailbox::FolderSel::distinguished("inbox"),
                vec![mailbox::NewItem {
                    attachments: vec![mailbox::NewAttachment {
                        content: b"bob's".to_vec(),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            )
            .await
            .unwrap()
            .remove(0);
    let bobs_attachment = bobs.attachments[0].id.clone();
    let t = e.call(&get_attachment(&[&bobs_attachment, &item])).await;
    assert_eq!(
        codes(&t),
        ["ErrorItemNotFound", "ErrorInvalidIdMalformed"],
        "{t}"
    );
    let t = e.call(&delete_attachment(&[&bobs_attachment])).await;
    assert_eq!(codes(&t), ["ErrorItemNotFound"], "{t}");
    let t = e
        .call(&create_attachment(
            &bobs.id,
            "",
            &file_attachment("x", "", b"x"),
        ))
        .await;
    assert_eq!(codes(&t), ["ErrorItemNotFound"], "{t}");

    // a reference attachment: valid EWS, not supported (a fault naming what is)
    let (status, body) = e
        .call_as(
            &alice_token(),
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Attachments><t:ReferenceAttachment><t:Name>doc</t:Name></t:ReferenceAttachment></t:Attachments></t:Message></m:Items></m:CreateItem>"#,
        )
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("ErrorInvalidOperation") && body.contains("t:ItemAttachment"),
        "{body}"
    );

    // a large attachment: what fits one request (16 MiB of body, base64) goes in and comes back
    // whole
    let large: Vec<u8> = (0..11 * 1024 * 1024u32).map(|n| (n % 253) as u8).collect();
    let t = e
        .call(&create_attachment(
            &item,
            "",
            &file_attachment("large.bin", "", &large),
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"]);
    let id = attachments(&t).remove(0).id;
    let t = e.call(&get_attachment(&[&id])).await;
    let got = attachments(&t).remove(0);
    assert_eq!(got.size, Some(large.len() as u64));
    assert!(
        got.content.as_deref() == Some(large.as_slice()),
        "content differs"
    );
    // and the item's size counts its attachments
    let g = e.call(&get_item(&item, ALL)).await;
    let size: u64 = g
        .split("<t:Size>")
        .filter_map(|s| s.split('<').next()?.parse().ok())
        .last()
        .unwrap();
    assert!(size >= large.len() as u64 + 30, "{size}");
}

/// Reading an attachment is a read of its item (UserApplication; Recoverable Items included
/// without ArchiveApplication); adding or deleting one is a write of its item (UserApplication,
/// and ArchiveApplication under Recoverable Items); an app-only token acts on no mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_authorized_as_their_item() {
    let e = env().await;
    let create_in = |folder: &str| {
        format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>kept</t:Subject><t:Attachments>{}</t:Attachments></t:Message></m:Items></m:CreateItem>"#,
            file_attachment("chat.txt", "", b"archived chat")
        )
    };
    let t = e.call(&create_in("recoverableitemspurges")).await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let archived = attr_after(&t, "<t:ItemId ", "Id");
    let archived_attachment = attachments(&t).remove(0).id;
    let t = e.call(&create_in("inbox")).await;
    let inbox_item = attr_after(&t, "<t:ItemId ", "Id");
    let inbox_attachment = attachments(&t).remove(0).id;

    // without ArchiveApplication: Recoverable Items is readable, not writable
    e.remove_role("ArchiveApplication").await;
    let t = e.call(&get_attachment(&[&archived_attachment])).await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    for op in [
        create_attachment(&archived, "", &file_attachment("x", "", b"x")),
        delete_attachment(&[&archived_attachment]),
    ] {
        let m = messages(&e.call(&op).await);
        assert_eq!(m[0].1, "ErrorAccessDenied", "{op}: {m:?}");
        assert!(m[0].2.contains("ArchiveApplication"), "{m:?}");
    }
    let g = e.call(&get_item(&archived, ALL)).await;
    assert_eq!(attachments(&g).len(), 1, "nothing was written: {g}");
    // elsewhere UserApplication is enough
    let t = e
        .call(&create_attachment(
            &inbox_item,
            "",
            &file_attachment("y", "", b"y"),
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");

    // an app-only bearer: authenticated, but no mailbox to act on
    for op in [
        get_attachment(&[&inbox_attachment]),
        delete_attachment(&[&inbox_attachment]),
        create_attachment(&inbox_item, "", &file_attachment("z", "", b"z")),
    ] {
        let (status, body) = e.call_as(&actor_token(), &op).await;
        assert_eq!(status, 200);
        assert_eq!(codes(&body)[0], "ErrorAccessDenied", "{body}");
    }

    // ArchiveApplication alone (no UserApplication): nothing, Recoverable Items included
    e.assign_role("ArchiveApplication").await;
    e.remove_role("UserApplication").await;
    for op in [
        get_attachment(&[&archived_attachment]),
        create_attachment(&archived, "", &file_attachment("x", "", b"x")),
        delete_attachment(&[&archived_attachment]),
    ] {
        let m = messages(&e.call(&op).await);
        assert_eq!(m[0].1, "ErrorAccessDenied", "{op}: {m:?}");
        assert!(m[0].2.contains("UserApplication"), "{m:?}");
    }

    // both roles: the archive's attachments can change
    e.assign_role("UserApplication").await;
    let t = e.call(&delete_attachment(&[&archived_attachment])).await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
}
