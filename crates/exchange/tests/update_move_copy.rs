//! UpdateItem, MoveItem, CopyItem, the folder operations and ResolveNames over HTTP, as a partner with UserApplication and
//! ArchiveApplication acting as alice (the benchmark route's caller): the change key changes on
//! every update and the id stays; stale change keys, read-only and unknown properties, bad counts,
//! sending and other mailboxes' ids are per-item errors, never faults.

mod common;

use common::{ALICE, Env, Options, ids, response_codes, start};
use serde_json::{Value, json};

/// Alice and Bob, no auth server: EWS through the benchmark route, which acts as alice.
async fn env() -> Env {
    start(Options {
        auth_failures_per_minute: 100,
        partner: None,
        ..Options::default()
    })
    .await
}

impl Env {
    /// Creates a message in `folder`; returns (id, change key).
    async fn create(&self, folder: &str, subject: &str) -> (String, String) {
        let t = self
            .call(&format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:DistinguishedFolderId Id="{folder}"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">hello</t:Body></t:Message></m:Items></m:CreateItem>"#
            ))
            .await;
        ids(&t).remove(0)
    }

    /// Creates a message in the folder with this id; returns (id, change key).
    async fn create_in_folder_id(&self, folder: &str, subject: &str) -> (String, String) {
        let t = self
            .call(&format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:FolderId Id="{folder}"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>{subject}</t:Subject></t:Message></m:Items></m:CreateItem>"#
            ))
            .await;
        assert_eq!(response_codes(&t), ["NoError"], "{t}");
        ids(&t).remove(0)
    }

    async fn get(&self, id: &str) -> String {
        self.call(&format!(
            r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
        ))
        .await
    }
}

/// One UpdateItem change; an empty `ck` sends no ChangeKey.
fn update(cr: &str, id: &str, ck: &str, updates: &str) -> String {
    let ck = if ck.is_empty() {
        String::new()
    } else {
        format!(r#" ChangeKey="{ck}""#)
    };
    format!(
        r#"<m:UpdateItem ConflictResolution="{cr}" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"{ck}/><t:Updates>{updates}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    )
}

const SET_READ: &str = r#"<t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>true</t:IsRead></t:Message></t:SetItemField>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_item_changes_fields_and_change_keys() {
    let e = env().await;
    let (id, ck) = e.create("inbox", "first").await;
    let updates = concat!(
        r#"<t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>renamed</t:Subject></t:Message></t:SetItemField>"#,
        r#"<t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>1</t:IsRead></t:Message></t:SetItemField>"#,
        r#"<t:SetItemField><t:FieldURI FieldURI="item:Categories"/><t:Message><t:Categories><t:String>Skype</t:String><t:String>IM</t:String></t:Categories></t:Message></t:SetItemField>"#,
        r#"<t:SetItemField><t:FieldURI FieldURI="item:Importance"/><t:Message><t:Importance>High</t:Importance></t:Message></t:SetItemField>"#,
        r#"<t:SetItemField><t:FieldURI FieldURI="item:ItemClass"/><t:Message><t:ItemClass>IPM.Note.Microsoft.Conversation</t:ItemClass></t:Message></t:SetItemField>"#,
        r#"<t:AppendToItemField><t:FieldURI FieldURI="item:Body"/><t:Message><t:Body BodyType="Text"> world</t:Body></t:Message></t:AppendToItemField>"#,
        r#"<t:SetItemField><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="SkypeConversationId" PropertyType="String"/><t:Message><t:ExtendedProperty><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="SkypeConversationId" PropertyType="String"/><t:Value>conv-1</t:Value></t:ExtendedProperty></t:Message></t:SetItemField>"#,
    );
    let t = e.call(&update("NeverOverwrite", &id, &ck, updates)).await;
    assert_eq!(response_codes(&t), ["NoError"], "{t}");
    assert!(t.contains("<t:Count>0</t:Count>"), "{t}");
    let (id2, ck2) = ids(&t).remove(0);
    assert_eq!(id2, id, "the id stays");
    assert_ne!(ck2, ck, "the change key changes");
    let g = e.get(&id).await;
    for want in [
        "<t:Subject>renamed</t:Subject>",
        "<t:IsRead>true</t:IsRead>",
        "<t:String>Skype</t:String><t:String>IM</t:String>",
        "<t:ItemClass>IPM.Note.Microsoft.Conversation</t:ItemClass>",
        "hello world</t:Body>",
    ] {
        assert!(g.contains(want), "{want} missing from {g}");
    }
    assert_eq!(ids(&g)[0], (id.clone(), ck2.clone()));
    // the extended property is stored under its canonical key
    let items =
        e.ex.mailbox_store()
            .get_items(&e.mailbox_key(ALICE).await, vec![id.clone()])
            .await
            .unwrap();
    let item = items[0].as_ref().unwrap();
    assert_eq!(
        item.extended,
        [(
            "|dset:PublicStrings|name:SkypeConversationId|type:string".to_string(),
            "conv-1".to_string()
        )]
    );

    // the old change key is stale: NeverOverwrite refuses (nothing written), AutoResolve applies
    // and counts the conflict, and each success changes the key again
    let t = e.call(&update("NeverOverwrite", &id, &ck, SET_READ)).await;
    assert_eq!(response_codes(&t), ["ErrorIrresolvableConflict"], "{t}");
    assert!(t.contains("<t:Count>1</t:Count>"), "{t}");
    let t = e.call(&update("AutoResolve", &id, &ck, SET_READ)).await;
    assert_eq!(response_codes(&t), ["NoError"], "{t}");
    assert!(t.contains("<t:Count>1</t:Count>"), "{t}");
    let (_, ck3) = ids(&t).remove(0);
    assert_ne!(ck3, ck2);
    let t = e
        .call(&update("AlwaysOverwrite", &id, &ck3, SET_READ))
        .await;
    assert_eq!(response_codes(&t), ["NoError"], "{t}");
    assert!(t.contains("<t:Count>0</t:Count>"), "{t}");

    // deletes
    let t = e
        .call(&update(
            "AlwaysOverwrite",
            &id,
            &ck3,
            r#"<t:DeleteItemField><t:FieldURI FieldURI="item:Categories"/></t:DeleteItemField><t:DeleteItemField><t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="SkypeConversationId" PropertyType="string"/></t:DeleteItemField>"#,
        ))
        .await;
    assert_eq!(response_codes(&t), ["NoError"], "{t}");
    let items =
        e.ex.mailbox_store()
            .get_items(&e.mailbox_key(ALICE).await, vec![id.clone()])
            .await
            .unwrap();
    let item = items[0].as_ref().unwrap();
    assert!(item.categories.is_empty());
    assert!(
        item.extended.is_empty(),
        "the type matched case-insensitively"
    );

    // what exchangelib's item.save() also sends: writable properties this server does not keep
    // are accepted and not stored (as CreateItem ignores them), deleting them is a no-op
    let t = e
        .call(&update(
            "AutoResolve",
            &id,
            "",
            r#"<t:SetItemField><t:FieldURI FieldURI="item:ReminderIsSet"/><t:Message><t:ReminderIsSet>false</t:ReminderIsSet></t:Message></t:SetItemField><t:DeleteItemField><t:FieldURI FieldURI="item:InReplyTo"/></t:DeleteItemField><t:DeleteItemField><t:FieldURI FieldURI="message:References"/></t:DeleteItemField>"#,
        ))
        .await;
    assert_eq!(response_codes(&t), ["NoError"], "{t}");
    let t = e
        .call(&update(
            "AutoResolve",
            &id,
            "",
            r#"<t:SetItemField><t:FieldURI FieldURI="item:ReminderIsSet"/><t:Message><t:Culture>en-US</t:Culture></t:Message></t:SetItemField>"#,
        ))
        .await;
    assert_eq!(response_codes(&t), ["ErrorUpdatePropertyMismatch"], "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_item_refusals_are_per_item() {
    let e = env().await;
    let (id, ck) = e.create("inbox", "keep").await;
    let set = |field: &str, inner: &str| {
        format!(
            r#"<t:SetItemField><t:FieldURI FieldURI="{field}"/><t:Message>{inner}</t:Message></t:SetItemField>"#
        )
    };
    let cases = [
        (
            set("item:DateTimeReceived", "<t:DateTimeReceived>2024-01-01T00:00:00Z</t:DateTimeReceived>"),
            "ErrorInvalidPropertySet",
        ),
        (
            set(
                "message:Sender",
                "<t:Sender><t:Mailbox><t:EmailAddress>x@contoso.example</t:EmailAddress></t:Mailbox></t:Sender>",
            ),
            "ErrorInvalidPropertySet",
        ),
        (
            set("item:Subject", "<t:Subject>a</t:Subject><t:Importance>Low</t:Importance>"),
            "ErrorIncorrectUpdatePropertyCount",
        ),
        (set("item:Subject", ""), "ErrorIncorrectUpdatePropertyCount"),
        (
            set("item:Subject", "<t:Importance>Low</t:Importance>"),
            "ErrorUpdatePropertyMismatch",
        ),
        (
            r#"<t:AppendToItemField><t:FieldURI FieldURI="item:Subject"/><t:Message><t:Subject>x</t:Subject></t:Message></t:AppendToItemField>"#.into(),
            "ErrorInvalidPropertyAppend",
        ),
        (
            r#"<t:DeleteItemField><t:FieldURI FieldURI="message:IsRead"/></t:DeleteItemField>"#.into(),
            "ErrorInvalidPropertyDelete",
        ),
        (
            set("item:ItemClass", "<t:ItemClass>IPM Note</t:ItemClass>"),
            "ErrorInvalidValueForProperty",
        ),
    ];
    for (updates, code) in &cases {
        // a valid change first: a refused change writes nothing, not even the valid part
        let all = format!(
            "{}{updates}",
            set("item:Subject", "<t:Subject>changed</t:Subject>")
        );
        let t = e.call(&update("NeverOverwrite", &id, &ck, &all)).await;
        assert_eq!(response_codes(&t), [*code], "{updates}: {t}");
    }
    let g = e.get(&id).await;
    assert!(g.contains("<t:Subject>keep</t:Subject>"), "{g}");
    assert_eq!(ids(&g)[0].1, ck, "nothing was written");

    // one message per change, in order; malformed and foreign ids, bad change keys
    let bob_item = {
        let rows =
            e.ex.run_cmdlet(
                "Get-Mailbox",
                json!({"Identity": "bob@contoso.example"})
                    .as_object()
                    .unwrap()
                    .clone(),
            )
            .await
            .unwrap();
        let bob = mailbox::MailboxKey::new(rows[0]["Guid"].as_str().unwrap()).unwrap();
        e.ex.mailbox_store()
            .create_items(
                &bob,
                mailbox::FolderSel::distinguished("inbox"),
                vec![mailbox::NewItem::default()],
            )
            .await
            .unwrap()
            .remove(0)
    };
    let change = |id: &str, ck: &str| {
        format!(
            r#"<t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates>{SET_READ}</t:Updates></t:ItemChange>"#
        )
    };
    let t = e
        .call(&format!(
            r#"<m:UpdateItem MessageDisposition="SaveOnly"><m:ItemChanges>{}{}{}{}</m:ItemChanges></m:UpdateItem>"#,
            change(&bob_item.id, &bob_item.change_key),
            change("garbage", "x"),
            change(&id, "junk"),
            change(&id, &ck),
        ))
        .await;
    assert_eq!(
        response_codes(&t),
        [
            "ErrorItemNotFound",
            "ErrorInvalidIdMalformed",
            "ErrorInvalidChangeKey",
            "NoError"
        ],
        "{t}"
    );
    // sending a message without recipients is refused (sending is covered by tests/send.rs),
    // and a message needs a disposition
    for (attrs, code) in [
        (
            r#"MessageDisposition="SendAndSaveCopy""#,
            "ErrorInvalidRecipients",
        ),
        (r#"MessageDisposition="SendOnly""#, "ErrorInvalidRecipients"),
        ("", "ErrorMessageDispositionRequired"),
    ] {
        let t = e
            .call(&format!(
                r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" {attrs}><m:ItemChanges>{}</m:ItemChanges></m:UpdateItem>"#,
                change(&id, "")
            ))
            .await;
        assert_eq!(response_codes(&t), [code], "{t}");
    }
    // bounded like DeleteItem
    let many = change(&id, "").repeat(mailbox::limits::MAX_ITEMS_PER_CALL + 1);
    let t = e
        .call(&format!(
            r#"<m:UpdateItem MessageDisposition="SaveOnly"><m:ItemChanges>{many}</m:ItemChanges></m:UpdateItem>"#
        ))
        .await;
    assert!(
        response_codes(&t)
            .iter()
            .all(|c| *c == "ErrorInvalidRequest"),
        "{}",
        &t[..600]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn move_and_copy_items() {
    let e = env().await;
    let (a, ack) = e.create("drafts", "a").await;
    let (b, _) = e.create("drafts", "b").await;
    let mv = |to: &str, ids: &[&str], extra: &str| {
        let ids: String = ids
            .iter()
            .map(|i| format!(r#"<t:ItemId Id="{i}"/>"#))
            .collect();
        format!(
            r#"<m:MoveItem{extra}><m:ToFolderId>{to}</m:ToFolderId><m:ItemIds>{ids}</m:ItemIds></m:MoveItem>"#
        )
    };
    let inbox = r#"<t:DistinguishedFolderId Id="inbox"/>"#;
    let t = e.call(&mv(inbox, &[&a, "garbage", &b], "")).await;
    assert_eq!(
        response_codes(&t),
        ["NoError", "ErrorInvalidIdMalformed", "NoError"],
        "{t}"
    );
    assert!(t.contains("<t:Message><t:ItemId"), "{t}");
    let moved = ids(&t);
    assert_eq!(moved[0].0, a, "this store keeps an item's id when it moves");
    assert_ne!(moved[0].1, ack, "its change key changes");
    let g = e.get(&a).await;
    let inbox_id = {
        let f = e
            .call(r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#)
            .await;
        f.split("<t:FolderId Id=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    assert!(
        g.contains(&format!("<t:ParentFolderId Id=\"{inbox_id}\"")),
        "{g}"
    );
    // ReturnNewItemIds="false": success without ids
    let t = e
        .call(&mv(
            r#"<t:DistinguishedFolderId Id="drafts"/>"#,
            &[&a],
            r#" ReturnNewItemIds="false""#,
        ))
        .await;
    assert_eq!(response_codes(&t), ["NoError"], "{t}");
    assert!(ids(&t).is_empty() && t.contains("<m:Items/>"), "{t}");
    // destinations: unknown, another mailbox's
    let t = e
        .call(&mv(
            r#"<t:DistinguishedFolderId Id="searchfolders"/>"#,
            &[&a],
            "",
        ))
        .await;
    assert_eq!(response_codes(&t), ["NoError"], "{t}");
    let t = e
        .call(&mv(r#"<t:FolderId Id="AAAA"/>"#, &[&a, &b], ""))
        .await;
    assert_eq!(response_codes(&t).len(), 2, "{t}");
    assert!(response_codes(&t).iter().all(|c| *c != "NoError"), "{t}");
    let t = e
        .call(&mv(
            r#"<t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"#,
            &[&a],
            "",
        ))
        .await;
    assert_eq!(response_codes(&t), ["ErrorAccessDenied"], "{t}");

    // CopyItem: a new item with the same content; the original stays
    let t = e
        .call(&format!(
            r#"<m:CopyItem><m:ToFolderId><t:DistinguishedFolderId Id="conversationhistory"/></m:ToFolderId><m:ItemIds><t:ItemId Id="{b}"/><t:ItemId Id="{b}"/></m:ItemIds></m:CopyItem>"#
        ))
        .await;
    assert_eq!(response_codes(&t), ["NoError", "NoError"], "{t}");
    let copies = ids(&t);
    assert_ne!(copies[0].0, b);
    assert_ne!(copies[0].0, copies[1].0);
    let g = e.get(&copies[0].0).await;
    assert!(g.contains("<t:Subject>b</t:Subject>"), "{g}");
    assert!(g.contains("hello</t:Body>"), "{g}");
    let g = e.get(&b).await;
    assert!(
        g.contains(&format!("<t:ParentFolderId Id=\"{inbox_id}\"")),
        "{g}"
    );
    // bounded like DeleteItem
    let many: String =
        format!(r#"<t:ItemId Id="{b}"/>"#).repeat(mailbox::limits::MAX_ITEMS_PER_CALL + 1);
    let t = e
        .call(&format!(
            r#"<m:CopyItem><m:ToFolderId>{inbox}</m:ToFolderId><m:ItemIds>{many}</m:ItemIds></m:CopyItem>"#
        ))
        .await;
    assert!(
        response_codes(&t)
            .iter()
            .all(|c| *c == "ErrorInvalidRequest"),
        "{}",
        &t[..600]
    );
}

/// CreateFolder: one message per folder; the new folder is there to read and to write into;
/// names are unique among siblings regardless of case; a bad name fails alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_folder_then_use_it() {
    let e = env().await;
    let create = |parent: &str, folders: &str| {
        format!(
            r#"<m:CreateFolder><m:ParentFolderId>{parent}</m:ParentFolderId><m:Folders>{folders}</m:Folders></m:CreateFolder>"#
        )
    };
    let inbox = r#"<t:DistinguishedFolderId Id="inbox"/>"#;
    let t = e
        .call(&create(
            inbox,
            "<t:Folder><t:DisplayName>Skype projects</t:DisplayName></t:Folder><t:CalendarFolder><t:DisplayName>Team</t:DisplayName></t:CalendarFolder>",
        ))
        .await;
    assert_eq!(response_codes(&t), ["NoError", "NoError"], "{t}");
    assert!(t.contains("<t:CalendarFolder><t:FolderId "), "{t}");
    let id = t
        .split(r#"<t:FolderId Id=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    // read back, under the Inbox
    let got = e
        .call(&format!(
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>AllProperties</t:BaseShape></m:FolderShape><m:FolderIds><t:FolderId Id="{id}"/></m:FolderIds></m:GetFolder>"#
        ))
        .await;
    assert!(
        got.contains("<t:DisplayName>Skype projects</t:DisplayName>"),
        "{got}"
    );
    // a message saved into it, and a subfolder under it
    let (item, _) = e.create_in_folder_id(&id, "in the new folder").await;
    assert!(!item.is_empty());
    let sub = e
        .call(&create(
            &format!(r#"<t:FolderId Id="{id}"/>"#),
            "<t:Folder><t:DisplayName>2026</t:DisplayName></t:Folder>",
        ))
        .await;
    assert_eq!(response_codes(&sub), ["NoError"], "{sub}");
    // the same name again (another case) fails, and a bad name fails alone
    let again = e
        .call(&create(
            inbox,
            "<t:Folder><t:DisplayName>SKYPE PROJECTS</t:DisplayName></t:Folder><t:Folder><t:DisplayName></t:DisplayName></t:Folder><t:Folder><t:DisplayName>Fine</t:DisplayName></t:Folder>",
        ))
        .await;
    assert_eq!(
        response_codes(&again),
        [
            "ErrorFolderExists",
            "ErrorInvalidValueForProperty",
            "NoError"
        ],
        "{again}"
    );
    // an unknown parent
    let bad = e
        .call(&create(
            r#"<t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId>"#,
            "<t:Folder><t:DisplayName>x</t:DisplayName></t:Folder>",
        ))
        .await;
    assert_eq!(response_codes(&bad), ["ErrorAccessDenied"], "{bad}");
    // UpdateFolder: renamed in place, with the change key of its creation (stale since mail was
    // filed into it: the last write wins); a malformed key is refused
    let ck = t
        .split(r#"ChangeKey=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let rename = |ck: &str, name: &str| {
        format!(
            r#"<m:UpdateFolder><m:FolderChanges><t:FolderChange><t:FolderId Id="{id}" ChangeKey="{ck}"/><t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>{name}</t:DisplayName></t:Folder></t:SetFolderField><t:DeleteFolderField><t:FieldURI FieldURI="folder:PermissionSet"/></t:DeleteFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>"#
        )
    };
    let renamed = e.call(&rename(&ck, "Skype projects 2026")).await;
    assert_eq!(response_codes(&renamed), ["NoError"], "{renamed}");
    let bad = e.call(&rename("not-a-key", "again")).await;
    assert_eq!(response_codes(&bad), ["ErrorInvalidChangeKey"], "{bad}");
    let got = e
        .call(&format!(
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:FolderId Id="{id}"/></m:FolderIds></m:GetFolder>"#
        ))
        .await;
    assert!(
        got.contains("<t:DisplayName>Skype projects 2026</t:DisplayName>"),
        "{got}"
    );
    // EmptyFolder (HardDelete; every DeleteType is in tests/folders.rs): it takes the message
    // filed in it and keeps the folder and its subfolder
    let empty = |kind: &str| {
        format!(
            r#"<m:EmptyFolder DeleteType="{kind}" DeleteSubFolders="false"><m:FolderIds><t:FolderId Id="{id}"/></m:FolderIds></m:EmptyFolder>"#
        )
    };
    let emptied = e.call(&empty("HardDelete")).await;
    assert_eq!(response_codes(&emptied), ["NoError"], "{emptied}");
    assert!(response_codes(&e.get(&item).await) == ["ErrorItemNotFound"]);
    let kept = e
        .call(&format!(
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds><t:FolderId Id="{id}"/></m:FolderIds></m:GetFolder>"#
        ))
        .await;
    assert!(
        kept.contains("<t:ChildFolderCount>1</t:ChildFolderCount>"),
        "{kept}"
    );
    // DeleteFolder: the folder and its subfolder go; the Inbox stays
    let delete = |kind: &str, folders: &str| {
        format!(
            r#"<m:DeleteFolder DeleteType="{kind}"><m:FolderIds>{folders}</m:FolderIds></m:DeleteFolder>"#
        )
    };
    let gone = e
        .call(&delete(
            "HardDelete",
            &format!(r#"<t:FolderId Id="{id}"/>{inbox}<t:FolderId Id="{id}"/>"#),
        ))
        .await;
    assert_eq!(
        response_codes(&gone),
        [
            "NoError",
            "ErrorDeleteDistinguishedFolder",
            "ErrorFolderNotFound"
        ],
        "{gone}"
    );
    let got = e
        .call(&format!(
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:FolderId Id="{id}"/></m:FolderIds></m:GetFolder>"#
        ))
        .await;
    assert_eq!(response_codes(&got), ["ErrorFolderNotFound"], "{got}");
}

/// ResolveNames: names, aliases and addresses resolve against the address list; several matches
/// are a warning with all of them; hidden recipients (a partner's application account) and
/// pattern characters resolve to nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolve_names_against_the_address_list() {
    let e = env().await;
    let cmd = |name: &str, params: Value| {
        let ex = e.ex.clone();
        let name = name.to_owned();
        async move {
            ex.run_cmdlet(&name, params.as_object().unwrap().clone())
                .await
                .unwrap()
        }
    };
    cmd(
        "New-Mailbox",
        json!({"Name": "Bobby Tables", "PrimarySmtpAddress": "bobby@contoso.example"}),
    )
    .await;
    cmd(
        "New-MailUser",
        json!({"Name": "SfBOnline-ApplicationAccount", "ExternalEmailAddress": "SMTP:sfb@contoso.example"}),
    )
    .await;
    cmd(
        "Set-MailUser",
        json!({"Identity": "SfBOnline-ApplicationAccount", "HiddenFromAddressListsEnabled": true}),
    )
    .await;
    let resolve = |entry: &str, full: bool| {
        format!(
            r#"<m:ResolveNames ReturnFullContactData="{full}"><m:UnresolvedEntry>{entry}</m:UnresolvedEntry></m:ResolveNames>"#
        )
    };
    let alice = e.call(&resolve("ali", false)).await;
    assert_eq!(response_codes(&alice), ["NoError"], "{alice}");
    assert!(
        alice.contains("<t:Mailbox><t:Name>Alice</t:Name><t:EmailAddress>alice@contoso.example</t:EmailAddress><t:RoutingType>SMTP</t:RoutingType><t:MailboxType>Mailbox</t:MailboxType></t:Mailbox>"),
        "{alice}"
    );
    assert!(!alice.contains("<t:Contact>"), "{alice}");
    let exact = e.call(&resolve("SMTP:BOB@contoso.example", true)).await;
    assert_eq!(response_codes(&exact), ["NoError"], "{exact}");
    assert!(
        exact.contains(r#"<t:Entry Key="EmailAddress1">SMTP:bob@contoso.example</t:Entry>"#),
        "{exact}"
    );
    let many = e.call(&resolve("bob", false)).await;
    assert_eq!(
        response_codes(&many),
        ["ErrorNameResolutionMultipleResults"],
        "{many}"
    );
    assert!(many.contains(r#"ResponseClass="Warning""#), "{many}");
    assert!(many.contains(r#"TotalItemsInView="2""#), "{many}");
    for none in ["sfb", "SfBOnline-ApplicationAccount", "%", "_ob", "zed"] {
        let t = e.call(&resolve(none, false)).await;
        assert_eq!(
            response_codes(&t),
            ["ErrorNameResolutionNoResults"],
            "{none}: {t}"
        );
    }
}
