//! EWS bulk transfer (ExportItems, UploadItems) over HTTP against the real server, with S2S
//! tokens: an item exported and uploaded (into another folder, into another mailbox) is the
//! item it was in every stored property; UpdateOrCreate with the exported id puts it back in
//! place; unreadable data, unknown folders and items, and other mailboxes are refused per item
//! and write nothing; authorization as the other item operations.

mod common;

use common::{Options, attr_after, bob_token, codes, env, messages, soap, start};
use mailbox::{
    Body, BodyType, Calendar, FolderSel, FreeBusy, Importance, Item, MailboxKey, NewAttachment,
    NewItem, Recipient, Sensitivity,
};
use time::macros::datetime;

fn export(ids: &[&str]) -> String {
    let ids: String = ids
        .iter()
        .map(|i| format!(r#"<t:ItemId Id="{i}"/>"#))
        .collect();
    format!("<m:ExportItems><m:ItemIds>{ids}</m:ItemIds></m:ExportItems>")
}

fn upload_item(action: &str, folder: &str, item: Option<&str>, data: &str) -> String {
    let item = item
        .map(|i| format!(r#"<t:ItemId Id="{i}"/>"#))
        .unwrap_or_default();
    format!(
        r#"<t:Item CreateAction="{action}" IsAssociated="false"><t:ParentFolderId Id="{folder}"/>{item}<t:Data>{data}</t:Data></t:Item>"#
    )
}

fn upload(items: &[String]) -> String {
    format!(
        "<m:UploadItems><m:Items>{}</m:Items></m:UploadItems>",
        items.concat()
    )
}

/// Every `m:Data` of an answer, as sent (base64).
fn data(body: &str) -> Vec<String> {
    body.split("<m:Data>")
        .skip(1)
        .map(|s| s.split("</m:Data>").next().unwrap_or_default().to_owned())
        .collect()
}

/// Every `m:ItemId` Id of an answer.
fn item_ids(body: &str) -> Vec<String> {
    body.split("<m:ItemId ")
        .skip(1)
        .map(|s| {
            s.split("Id=\"")
                .nth(1)
                .and_then(|v| v.split('"').next())
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

fn rich_item() -> NewItem {
    NewItem {
        item_class: "IPM.Note.Microsoft.Conversation".into(),
        subject: Some("Conversation with Bob ✓".into()),
        body: Some(Body {
            body_type: BodyType::Html,
            content: "<div>hi <b>Bob</b></div>".into(),
        }),
        from: Some(Recipient::new(Some("Alice"), "alice@contoso.example")),
        sender: Some(Recipient::new(None, "sfb@contoso.example")),
        to: vec![Recipient::new(Some("Bob"), "bob@contoso.example")],
        cc: vec![Recipient::new(None, "carol@contoso.example")],
        bcc: vec![Recipient::new(Some("Dan"), "dan@contoso.example")],
        importance: Importance::High,
        sensitivity: Sensitivity::Confidential,
        categories: vec!["Archive".into()],
        is_read: true,
        internet_message_id: Some("<conv-1@contoso.example>".into()),
        date_time_sent: Some(datetime!(2026-03-01 09:00:00.5 UTC)),
        date_time_created: Some(datetime!(2026-03-01 08:59:00 UTC)),
        calendar: Some(Calendar {
            start: datetime!(2026-03-02 10:00 UTC),
            end: datetime!(2026-03-02 10:30 UTC),
            is_all_day: false,
            legacy_free_busy_status: FreeBusy::Oof,
            location: Some("Teams".into()),
            recurrence: None,
        }),
        extended: vec![
            ("tag:0x0e07|type:integer".into(), "1".into()),
            (
                "|dset:PublicStrings|name:SkypeConversationId|type:string".into(),
                "conv-1".into(),
            ),
            ("tag:0x7c09|type:binary".into(), "UklGRg==".into()),
        ],
        attachments: vec![NewAttachment {
            name: Some("transcript.txt".into()),
            content_type: Some("text/plain".into()),
            content: b"Alice: hi\r\nBob: hello\r\n".to_vec(),
            ..NewAttachment::default()
        }],
        ..NewItem::default()
    }
}

/// What an upload keeps: everything but the item's id, change key, folder, last-modified time
/// and its attachments' ids and times.
fn same_content(a: &Item, b: &Item) {
    assert_eq!(a.item_class, b.item_class);
    assert_eq!(a.subject, b.subject);
    assert_eq!(a.body, b.body);
    assert_eq!(a.from, b.from);
    assert_eq!(a.sender, b.sender);
    assert_eq!(a.to, b.to);
    assert_eq!(a.cc, b.cc);
    assert_eq!(a.bcc, b.bcc);
    assert_eq!(a.importance, b.importance);
    assert_eq!(a.sensitivity, b.sensitivity);
    assert_eq!(a.categories, b.categories);
    assert_eq!(a.is_read, b.is_read);
    assert_eq!(a.is_draft, b.is_draft);
    assert_eq!(a.is_associated, b.is_associated);
    assert_eq!(a.internet_message_id, b.internet_message_id);
    assert_eq!(a.date_time_sent, b.date_time_sent);
    assert_eq!(a.date_time_created, b.date_time_created);
    assert_eq!(a.date_time_received, b.date_time_received);
    assert_eq!(a.calendar, b.calendar);
    assert_eq!(a.extended, b.extended);
    assert_eq!(a.size, b.size);
    assert_eq!(a.has_attachments, b.has_attachments);
    let strip = |i: &Item| {
        i.attachments
            .iter()
            .map(|x| {
                (
                    x.name.clone(),
                    x.content_type.clone(),
                    x.content_id.clone(),
                    x.is_inline,
                    x.is_contact_photo,
                    x.size,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(a), strip(b));
}

async fn get(e: &common::Env, key: &MailboxKey, id: &str) -> Item {
    e.ex.mailbox_store()
        .get_items(key, vec![id.to_owned()])
        .await
        .unwrap()
        .remove(0)
        .unwrap()
}

async fn folder_id(e: &common::Env, key: &MailboxKey, name: &str) -> String {
    e.ex.mailbox_store()
        .get_folder(key, FolderSel::distinguished(name))
        .await
        .unwrap()
        .id
}

async fn total(e: &common::Env, key: &MailboxKey, name: &str) -> u64 {
    e.ex.mailbox_store()
        .get_folder(key, FolderSel::distinguished(name))
        .await
        .unwrap()
        .total_count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_upload_over_http() {
    let e = env().await;
    let alice = e.mailbox_key("alice@contoso.example").await;
    let bob = e.mailbox_key("bob@contoso.example").await;
    let store = e.ex.mailbox_store();
    let original = store
        .create_items(&alice, FolderSel::distinguished("inbox"), vec![rich_item()])
        .await
        .unwrap()
        .remove(0);

    // ExportItems: the id with its change key, and the data; an unknown id fails alone
    let t = e.call(&export(&[&original.id, "garbage"])).await;
    assert_eq!(codes(&t), ["NoError", "ErrorInvalidIdMalformed"], "{t}");
    assert_eq!(attr_after(&t, "<m:ItemId ", "Id"), original.id);
    assert_eq!(
        attr_after(&t, "<m:ItemId ", "ChangeKey"),
        original.change_key
    );
    let exported = data(&t).remove(0);

    // CreateNew into another folder: the same item in every stored property
    let history = folder_id(&e, &alice, "conversationhistory").await;
    let t = e
        .call(&upload(&[upload_item(
            "CreateNew",
            &history,
            None,
            &exported,
        )]))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let copy_id = item_ids(&t).remove(0);
    assert_ne!(copy_id, original.id);
    let copy = get(&e, &alice, &copy_id).await;
    assert_eq!(copy.folder_id, history);
    same_content(&original, &copy);
    assert_eq!(
        attr_after(&t, "<m:ItemId ", "ChangeKey"),
        copy.change_key,
        "{t}"
    );

    // into another mailbox, as its user
    let bobs_inbox = folder_id(&e, &bob, "inbox").await;
    let t = e
        .call_with(
            &bob_token(),
            &upload(&[upload_item("CreateNew", &bobs_inbox, None, &exported)]),
        )
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let bobs = get(&e, &bob, &item_ids(&t)[0]).await;
    same_content(&original, &bobs);

    // UpdateOrCreate with the exported id puts the exported item back in place
    let t = e
        .call(&format!(
            r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="{}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>changed</t:Subject></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#,
            original.id
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let inbox = folder_id(&e, &alice, "inbox").await;
    let t = e
        .call(&upload(&[upload_item(
            "UpdateOrCreate",
            &inbox,
            Some(&original.id),
            &exported,
        )]))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    assert_eq!(item_ids(&t), std::slice::from_ref(&original.id));
    let restored = get(&e, &alice, &original.id).await;
    same_content(&original, &restored);
    assert_ne!(restored.change_key, original.change_key);
    assert_eq!(total(&e, &alice, "inbox").await, 1);

    // Update of an item that is not in that folder: ErrorItemNotFound, nothing written;
    // UpdateOrCreate there creates a new one
    let t = e
        .call(&upload(&[
            upload_item("Update", &history, Some(&original.id), &exported),
            upload_item("UpdateOrCreate", &history, Some(&original.id), &exported),
        ]))
        .await;
    assert_eq!(codes(&t), ["ErrorItemNotFound", "NoError"], "{t}");
    assert_eq!(total(&e, &alice, "conversationhistory").await, 2);

    // unreadable data: ErrorCorruptData, nothing written; the good item beside it is stored
    let counters = store.counters(&alice).await.unwrap();
    let truncated = {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let mut raw = engine.decode(&exported).unwrap();
        raw.truncate(raw.len() - 3);
        engine.encode(raw)
    };
    let t = e
        .call(&upload(&[
            upload_item("CreateNew", &inbox, None, &truncated),
            upload_item("CreateNew", &inbox, None, "AAAA"),
            upload_item("Update", &inbox, Some(&original.id), &truncated),
        ]))
        .await;
    assert_eq!(
        codes(&t),
        ["ErrorCorruptData", "ErrorCorruptData", "ErrorCorruptData"],
        "{t}"
    );
    assert_eq!(store.counters(&alice).await.unwrap(), counters);
    same_content(&original, &get(&e, &alice, &original.id).await);

    // CreateNew with an id, Update without one: refused
    let t = e
        .call(&upload(&[
            upload_item("CreateNew", &inbox, Some(&original.id), &exported),
            upload_item("Update", &inbox, None, &exported),
        ]))
        .await;
    assert_eq!(
        codes(&t),
        ["ErrorInvalidRequest", "ErrorInvalidRequest"],
        "{t}"
    );

    // another mailbox: its items are not found, its folders are no parent
    let t = e.call(&export(&[&bobs.id])).await;
    assert_eq!(codes(&t), ["ErrorItemNotFound"], "{t}");
    let t = e
        .call(&upload(&[
            upload_item("CreateNew", &bobs_inbox, None, &exported),
            upload_item("Update", &inbox, Some(&bobs.id), &exported),
        ]))
        .await;
    assert_eq!(
        codes(&t),
        ["ErrorParentFolderNotFound", "ErrorItemNotFound"],
        "{t}"
    );
    assert_eq!(store.counters(&alice).await.unwrap(), counters);
    same_content(&original, &get(&e, &bob, &bobs.id).await);

    // Recoverable Items needs ArchiveApplication; without UserApplication nothing at all
    let purges = folder_id(&e, &alice, "recoverableitemspurges").await;
    e.remove_role("ArchiveApplication").await;
    let t = e
        .call(&upload(&[upload_item(
            "CreateNew",
            &purges,
            None,
            &exported,
        )]))
        .await;
    let m = messages(&t);
    assert_eq!(m[0].1, "ErrorAccessDenied", "{t}");
    assert!(m[0].2.contains("ArchiveApplication"), "{t}");
    assert_eq!(total(&e, &alice, "recoverableitemspurges").await, 0);
    e.assign_role("ArchiveApplication").await;
    let t = e
        .call(&upload(&[upload_item(
            "CreateNew",
            &purges,
            None,
            &exported,
        )]))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    e.remove_role("UserApplication").await;
    let t = e.call(&export(&[&original.id])).await;
    assert_eq!(codes(&t), ["ErrorAccessDenied"], "{t}");
    let t = e
        .call(&upload(&[upload_item(
            "CreateNew",
            &inbox,
            None,
            &exported,
        )]))
        .await;
    assert_eq!(codes(&t), ["ErrorAccessDenied"], "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_transfer_request_shapes() {
    let e = env().await;
    // a malformed request is a fault, as any other operation's
    let (status, body) = e
        .call_as(
            &e.alice_token(),
            "<m:UploadItems><m:Items><t:Item CreateAction=\"Replace\"><t:ParentFolderId Id=\"x\"/><t:Data>AA==</t:Data></t:Item></m:Items></m:UploadItems>",
        )
        .await;
    assert_eq!(status, 500, "{body}");
    let (status, body) = e
        .call_as(
            &e.alice_token(),
            "<m:ExportItems><m:ItemIds/></m:ExportItems>",
        )
        .await;
    assert_eq!(status, 500, "{body}");
    // an unknown parent folder id of this mailbox's form
    let alice = e.mailbox_key("alice@contoso.example").await;
    let inbox = folder_id(&e, &alice, "inbox").await;
    let item =
        e.ex.mailbox_store()
            .create_items(
                &alice,
                FolderSel::distinguished("inbox"),
                vec![NewItem::default()],
            )
            .await
            .unwrap()
            .remove(0);
    let t = e.call(&export(&[&item.id])).await;
    let d = data(&t).remove(0);
    // the folder deleted: ErrorParentFolderNotFound
    let t = e
        .call(&format!(
            r#"<m:CreateFolder><m:ParentFolderId><t:FolderId Id="{inbox}"/></m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>Temp</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#
        ))
        .await;
    let temp = attr_after(&t, "<t:FolderId ", "Id");
    let t = e
        .call(&format!(
            r#"<m:DeleteFolder DeleteType="HardDelete"><m:FolderIds><t:FolderId Id="{temp}"/></m:FolderIds></m:DeleteFolder>"#
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let t = e
        .call(&upload(&[upload_item("CreateNew", &temp, None, &d)]))
        .await;
    assert_eq!(codes(&t), ["ErrorParentFolderNotFound"], "{t}");
}

/// A voicemail greeting (a user configuration, an associated item of `root`) moved to another
/// mailbox: ExportItems as Alice, UploadItems with `IsAssociated="true"` as Bob; Bob's
/// GetUserConfiguration reads the same recording.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_greeting_moves_to_another_mailbox() {
    use base64::Engine as _;
    let e = env().await;
    let wav = b"RIFF\x24\x00\x00\x00WAVEfmt greeting".to_vec();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&wav);
    let t = e
        .call(&format!(
            r#"<m:CreateUserConfiguration><m:UserConfiguration><t:UserConfigurationName Name="Um.CustomGreetings.External"><t:DistinguishedFolderId Id="root"/></t:UserConfigurationName><t:BinaryData>{b64}</t:BinaryData></m:UserConfiguration></m:CreateUserConfiguration>"#
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let alice = e.mailbox_key("alice@contoso.example").await;
    let found =
        e.ex.mailbox_store()
            .get_user_configuration(
                &alice,
                FolderSel::distinguished("root"),
                "Um.CustomGreetings.External".into(),
            )
            .await
            .unwrap();
    let t = e.call(&export(&[&found.item_id])).await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let d = data(&t).remove(0);
    let bob = e.mailbox_key("bob@contoso.example").await;
    let bobs_root = folder_id(&e, &bob, "root").await;
    let t = e
        .call_with(
            &bob_token(),
            &upload(&[format!(
                r#"<t:Item CreateAction="CreateNew" IsAssociated="true"><t:ParentFolderId Id="{bobs_root}"/><t:Data>{d}</t:Data></t:Item>"#
            )]),
        )
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let t = e
        .call_with(
            &bob_token(),
            r#"<m:GetUserConfiguration><m:UserConfigurationName Name="Um.CustomGreetings.External"><t:DistinguishedFolderId Id="root"/></m:UserConfigurationName><m:UserConfigurationProperties>All</m:UserConfigurationProperties></m:GetUserConfiguration>"#,
        )
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    assert!(
        t.contains(&format!("<t:BinaryData>{b64}</t:BinaryData>")),
        "{t}"
    );
    // the same greeting again: its name is taken
    let t = e
        .call_with(
            &bob_token(),
            &upload(&[format!(
                r#"<t:Item CreateAction="CreateNew" IsAssociated="true"><t:ParentFolderId Id="{bobs_root}"/><t:Data>{d}</t:Data></t:Item>"#
            )]),
        )
        .await;
    assert_eq!(codes(&t), ["ErrorItemSave"], "{t}");
}

/// ExchangeImpersonation, as the other item operations: a partner with ApplicationImpersonation
/// alone exports and uploads in the mailbox it impersonates, and nothing without the header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impersonation_reaches_the_impersonated_mailbox_only() {
    let e = start(Options {
        partner: Some(common::Partner {
            key: common::key,
            roles: &["ApplicationImpersonation"],
        }),
        ..Options::default()
    })
    .await;
    let alice = e.mailbox_key("alice@contoso.example").await;
    let bob = e.mailbox_key("bob@contoso.example").await;
    let store = e.ex.mailbox_store();
    let new = |s: &str| NewItem {
        subject: Some(s.into()),
        ..NewItem::default()
    };
    let alices = store
        .create_items(
            &alice,
            FolderSel::distinguished("inbox"),
            vec![new("alice's")],
        )
        .await
        .unwrap()
        .remove(0);
    let bobs = store
        .create_items(&bob, FolderSel::distinguished("inbox"), vec![new("bob's")])
        .await
        .unwrap()
        .remove(0);
    let as_bob = |op: &str| {
        soap(op).replace(
            "<s:Body>",
            "<s:Header><t:ExchangeImpersonation><t:ConnectingSID><t:PrimarySmtpAddress>bob@contoso.example</t:PrimarySmtpAddress></t:ConnectingSID></t:ExchangeImpersonation></s:Header><s:Body>",
        )
    };
    let post = |body: String| async {
        let r = e
            .http
            .post(format!("{}/EWS/Exchange.asmx", e.url))
            .bearer_auth(e.alice_token())
            .header("content-type", "text/xml")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    // without the header: the token's user, whom the partner may not reach
    let t = e.call(&export(&[&alices.id])).await;
    assert_eq!(codes(&t), ["ErrorAccessDenied"], "{t}");
    // as Bob: his item, not Alice's
    let (status, t) = post(as_bob(&export(&[&bobs.id, &alices.id]))).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(codes(&t), ["NoError", "ErrorItemNotFound"], "{t}");
    let d = data(&t).remove(0);
    let bobs_inbox = folder_id(&e, &bob, "inbox").await;
    let alices_inbox = folder_id(&e, &alice, "inbox").await;
    let (status, t) = post(as_bob(&upload(&[
        upload_item("CreateNew", &bobs_inbox, None, &d),
        upload_item("CreateNew", &alices_inbox, None, &d),
    ])))
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(codes(&t), ["NoError", "ErrorParentFolderNotFound"], "{t}");
    assert_eq!(total(&e, &bob, "inbox").await, 2);
    assert_eq!(total(&e, &alice, "inbox").await, 1);
}

/// A meeting travels with its item: Alice's own meeting exported and uploaded again is still
/// her meeting (attendees, uid). Its organizer's item uploaded into Bob's mailbox is refused
/// and writes nothing: there it would let Bob cancel or move Alice's meeting for her attendees.
#[tokio::test]
async fn a_meeting_uploads_only_into_its_organizers_mailbox() {
    let e = env().await;
    let alice = e.mailbox_key("alice@contoso.example").await;
    let bob = e.mailbox_key("bob@contoso.example").await;
    let store = e.ex.mailbox_store();
    let mut m = mailbox::Meeting::new(
        "040000008200E00074C5B7101A82E0080000000000000000".into(),
        Recipient::new(Some("Alice"), "alice@contoso.example"),
    );
    m.required = vec![mailbox::Attendee::new(Recipient::new(
        Some("Bob"),
        "bob@contoso.example",
    ))];
    let original = store
        .create_items(
            &alice,
            FolderSel::distinguished("calendar"),
            vec![NewItem {
                item_class: "IPM.Appointment".into(),
                subject: Some("Planning".into()),
                calendar: Some(Calendar {
                    start: datetime!(2026-03-01 10:00 UTC),
                    end: datetime!(2026-03-01 11:00 UTC),
                    is_all_day: false,
                    legacy_free_busy_status: FreeBusy::Busy,
                    location: None,
                    recurrence: None,
                }),
                meeting: Some(m.clone()),
                ..NewItem::default()
            }],
        )
        .await
        .unwrap()
        .remove(0);
    let t = e.call(&export(&[&original.id])).await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let exported = data(&t).remove(0);

    let calendar = folder_id(&e, &alice, "calendar").await;
    let t = e
        .call(&upload(&[upload_item(
            "CreateNew",
            &calendar,
            None,
            &exported,
        )]))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let back = get(&e, &alice, &item_ids(&t)[0]).await;
    assert_eq!(back.meeting.as_ref().map(|x| &x.uid), Some(&m.uid));
    assert_eq!(back.meeting.as_ref().map(|x| x.required.len()), Some(1));

    let bobs_calendar = folder_id(&e, &bob, "calendar").await;
    let before = total(&e, &bob, "calendar").await;
    let t = e
        .call_with(
            &bob_token(),
            &upload(&[upload_item("CreateNew", &bobs_calendar, None, &exported)]),
        )
        .await;
    assert_eq!(codes(&t), ["ErrorInvalidRequest"], "{t}");
    assert!(
        t.contains("alice@contoso.example") && t.contains("organizer"),
        "{t}"
    );
    assert_eq!(total(&e, &bob, "calendar").await, before);
}
