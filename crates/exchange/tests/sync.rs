//! SyncFolderItems and SyncFolderHierarchy over HTTP against the real server, with S2S tokens
//! (an actor signed by a key of a trusted auth server, wrapped in an outer token naming alice):
//! a sync round, the refusals (bad states, bounds, other mailboxes), and authorization exactly
//! as FindItem's (the role; Recoverable Items readable without ArchiveApplication; app-only
//! tokens refused).

mod common;

use common::{Env, actor_token, alice_token, attr_after, env};
use ews_proto::ns;
use ews_proto::response::parse_response;
use ews_proto::xml::{Element, Limits};

impl Env {
    async fn create(&self, folder_id: &str, subject: &str) -> String {
        let t = self
            .call(&format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId><t:FolderId Id="{folder_id}"/></m:SavedItemFolderId><m:Items><t:Message><t:Subject>{subject}</t:Subject><t:Body BodyType="Text">body of {subject}</t:Body></t:Message></m:Items></m:CreateItem>"#
            ))
            .await;
        attr_after(&t, "<t:ItemId ", "Id")
    }

    async fn create_folder(&self, parent: &str, name: &str) -> String {
        let t = self
            .call(&format!(
                r#"<m:CreateFolder><m:ParentFolderId>{parent}</m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>{name}</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#
            ))
            .await;
        attr_after(&t, "<t:FolderId ", "Id")
    }
}

/// A SyncFolderItems answer, read with this workspace's response reader.
#[derive(Debug)]
struct Synced {
    code: String,
    text: Option<String>,
    state: String,
    last: bool,
    /// (change, item id, subject or IsRead)
    changes: Vec<(String, String, String)>,
}

fn child<'a>(el: &'a Element, ns: &str, local: &str) -> &'a Element {
    el.child(ns, local)
        .unwrap_or_else(|| panic!("no {local} in {el:?}"))
}

fn read_sync(body: &str, last_name: &str) -> Synced {
    let r = parse_response(body.as_bytes(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(r.messages.len(), 1);
    let m = &r.messages[0];
    let el = &m.element;
    // present on errors too: exchangelib reads both before the response code
    let state = child(el, ns::MESSAGES, "SyncState").text.clone();
    let last = child(el, ns::MESSAGES, last_name).text == "true";
    let mut changes = Vec::new();
    if let Some(c) = el.child(ns::MESSAGES, "Changes") {
        for change in &c.children {
            let inner = &change.children[0];
            let (id, detail) = match inner.local.as_str() {
                "ItemId" | "FolderId" => (
                    inner.attr("Id").unwrap_or_default().to_owned(),
                    change
                        .child(ns::TYPES, "IsRead")
                        .map(|e| e.text.clone())
                        .unwrap_or_default(),
                ),
                _ => {
                    let id = inner
                        .children
                        .iter()
                        .find(|e| e.local == "ItemId" || e.local == "FolderId")
                        .and_then(|e| e.attr("Id"))
                        .unwrap_or_default()
                        .to_owned();
                    let name = inner
                        .child(ns::TYPES, "Subject")
                        .or_else(|| inner.child(ns::TYPES, "DisplayName"))
                        .map(|e| e.text.clone())
                        .unwrap_or_default();
                    assert!(inner.child(ns::TYPES, "Body").is_none(), "no bodies");
                    (id, name)
                }
            };
            changes.push((change.local.clone(), id, detail));
        }
    }
    Synced {
        code: m.code.clone(),
        text: m.text.clone(),
        state,
        last,
        changes,
    }
}

/// SyncFolderItems of a folder by id, IdOnly plus the subject and the read flag.
fn sync_items_op(folder: &str, state: Option<&str>, max: u32) -> String {
    let state = state
        .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
        .unwrap_or_default();
    format!(
        r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="item:Body"/><t:FieldURI FieldURI="message:IsRead"/></t:AdditionalProperties></m:ItemShape><m:SyncFolderId><t:FolderId Id="{folder}"/></m:SyncFolderId>{state}<m:MaxChangesReturned>{max}</m:MaxChangesReturned></m:SyncFolderItems>"#
    )
}

fn sync_hierarchy_op(folder: &str, state: Option<&str>) -> String {
    let state = state
        .map(|s| format!("<m:SyncState>{s}</m:SyncState>"))
        .unwrap_or_default();
    format!(
        r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:SyncFolderId>{folder}</m:SyncFolderId>{state}</m:SyncFolderHierarchy>"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_round_over_http() {
    let e = env().await;
    let folder = e
        .create_folder(r#"<t:DistinguishedFolderId Id="inbox"/>"#, "Synced")
        .await;
    let a = e.create(&folder, "a").await;
    let b = e.create(&folder, "b").await;
    let c = e.create(&folder, "c").await;
    e.create_folder(r#"<t:DistinguishedFolderId Id="drafts"/>"#, "elsewhere")
        .await;

    // the first sync, two at a time
    let first = read_sync(
        &e.call(&sync_items_op(&folder, None, 2)).await,
        "IncludesLastItemInRange",
    );
    assert_eq!(first.code, "NoError");
    assert!(!first.last);
    let second = read_sync(
        &e.call(&sync_items_op(&folder, Some(&first.state), 2)).await,
        "IncludesLastItemInRange",
    );
    assert!(second.last);
    let listed: Vec<(String, String, String)> =
        first.changes.into_iter().chain(second.changes).collect();
    let want = |k: &str, id: &str, d: &str| (k.to_owned(), id.to_owned(), d.to_owned());
    assert_eq!(
        listed,
        [
            want("Create", &a, "a"),
            want("Create", &b, "b"),
            want("Create", &c, "c")
        ]
    );

    // then: a renamed, b read, c deleted, d created
    let update = |id: &str, field: &str, el: &str| {
        format!(
            r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="{field}"/><t:Message>{el}</t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        )
    };
    for op in [
        update(&a, "item:Subject", "<t:Subject>a2</t:Subject>"),
        update(&b, "message:IsRead", "<t:IsRead>true</t:IsRead>"),
        format!(
            r#"<m:DeleteItem DeleteType="HardDelete"><m:ItemIds><t:ItemId Id="{c}"/></m:ItemIds></m:DeleteItem>"#
        ),
    ] {
        let t = e.call(&op).await;
        assert!(
            t.contains("<m:ResponseCode>NoError</m:ResponseCode>"),
            "{t}"
        );
    }
    let d = e.create(&folder, "d").await;
    let next = read_sync(
        &e.call(&sync_items_op(&folder, Some(&second.state), 512))
            .await,
        "IncludesLastItemInRange",
    );
    assert!(next.last);
    assert_eq!(
        next.changes,
        [
            want("Update", &a, "a2"),
            want("ReadFlagChange", &b, "true"),
            want("Delete", &c, ""),
            want("Create", &d, "d"),
        ]
    );
    // nothing more, same state
    let quiet = read_sync(
        &e.call(&sync_items_op(&folder, Some(&next.state), 10)).await,
        "IncludesLastItemInRange",
    );
    assert!(quiet.changes.is_empty() && quiet.last);
    assert_eq!(quiet.state, next.state);

    // the hierarchy under the folder: nothing, then a subfolder
    let under = format!(r#"<t:FolderId Id="{folder}"/>"#);
    let h = read_sync(
        &e.call(&sync_hierarchy_op(&under, None)).await,
        "IncludesLastFolderInRange",
    );
    assert!(h.changes.is_empty() && h.last, "{h:?}");
    let sub = e.create_folder(&under, "Sub").await;
    let h2 = read_sync(
        &e.call(&sync_hierarchy_op(&under, Some(&h.state))).await,
        "IncludesLastFolderInRange",
    );
    assert_eq!(h2.changes, [want("Create", &sub, "Sub")]);

    // states that cannot be continued: ErrorInvalidSyncStateData, saying to start over
    for (op, last) in [
        (
            sync_items_op(&folder, Some(&h.state), 10),
            "IncludesLastItemInRange",
        ),
        (
            sync_items_op(&folder, Some("bm90IG91cnM="), 10),
            "IncludesLastItemInRange",
        ),
        (
            sync_items_op(&sub, Some(&next.state), 10),
            "IncludesLastItemInRange",
        ),
        (
            sync_hierarchy_op(r#"<t:DistinguishedFolderId Id="inbox"/>"#, Some(&h.state)),
            "IncludesLastFolderInRange",
        ),
    ] {
        let r = read_sync(&e.call(&op).await, last);
        assert_eq!(r.code, "ErrorInvalidSyncStateData", "{op}");
        assert!(
            r.text
                .as_deref()
                .unwrap_or_default()
                .contains("without a SyncState"),
            "{r:?}"
        );
        assert!(r.state.is_empty() && r.last);
    }
    // MaxChangesReturned past 512: the schema's refusal, a fault
    let (status, body) = e
        .call_as(&alice_token(), &sync_items_op(&folder, None, 513))
        .await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("ErrorSchemaValidation") && body.contains("1 to 512"),
        "{body}"
    );
    // a folder of another mailbox: not this caller's to read
    let bobs = read_sync(
        &e.call(
            r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId><t:DistinguishedFolderId Id="inbox"><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:SyncFolderId><m:MaxChangesReturned>10</m:MaxChangesReturned></m:SyncFolderItems>"#,
        )
        .await,
        "IncludesLastItemInRange",
    );
    assert_eq!(bobs.code, "ErrorAccessDenied");
    // an unknown folder
    let gone = read_sync(
        &e.call(&sync_items_op("AAAA", None, 10)).await,
        "IncludesLastItemInRange",
    );
    assert_eq!(gone.code, "ErrorInvalidIdMalformed", "{gone:?}");
}

/// The same roles as FindItem: UserApplication reads, Recoverable Items included without
/// ArchiveApplication (reads there are not writes); without UserApplication both are refused,
/// and an app-only token acts on no mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_is_authorized_as_find_item() {
    let e = env().await;
    let purges = r#"<t:DistinguishedFolderId Id="recoverableitemspurges"/>"#;
    let created = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>{purges}</m:SavedItemFolderId><m:Items><t:Message><t:Subject>archived</t:Subject></t:Message></m:Items></m:CreateItem>"#
        ))
        .await;
    let archived = attr_after(&created, "<t:ItemId ", "Id");
    let find = format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds>{purges}</m:ParentFolderIds></m:FindItem>"#
    );
    let sync_purges = format!(
        r#"<m:SyncFolderItems><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:SyncFolderId>{purges}</m:SyncFolderId><m:MaxChangesReturned>10</m:MaxChangesReturned></m:SyncFolderItems>"#
    );
    let hierarchy = r#"<m:SyncFolderHierarchy><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape></m:SyncFolderHierarchy>"#;
    e.remove_role("ArchiveApplication").await;
    let found = e.call(&find).await;
    assert!(found.contains(&archived), "{found}");
    let synced = read_sync(&e.call(&sync_purges).await, "IncludesLastItemInRange");
    assert_eq!(synced.code, "NoError");
    assert_eq!(synced.changes.len(), 1);
    assert_eq!(synced.changes[0].1, archived);
    let h = read_sync(&e.call(hierarchy).await, "IncludesLastFolderInRange");
    assert_eq!(h.code, "NoError");
    assert!(h.changes.iter().any(|c| c.2 == "Inbox"), "{h:?}");

    // an app-only bearer: authenticated, but no mailbox to act on
    for op in [sync_purges.as_str(), hierarchy] {
        let (status, body) = e.call_as(&actor_token(), op).await;
        assert_eq!(status, 200);
        assert!(body.contains("ErrorAccessDenied"), "{body}");
    }

    // without UserApplication (ArchiveApplication alone): refused as FindItem is, in the sync
    // response's shape
    e.assign_role("ArchiveApplication").await;
    e.remove_role("UserApplication").await;
    let found = e.call(&find).await;
    assert!(found.contains("ErrorAccessDenied"), "{found}");
    for (op, last) in [
        (sync_purges.as_str(), "IncludesLastItemInRange"),
        (hierarchy, "IncludesLastFolderInRange"),
    ] {
        let r = read_sync(&e.call(op).await, last);
        assert_eq!(r.code, "ErrorAccessDenied", "{op}");
        assert!(
            r.text
                .as_deref()
                .unwrap_or_default()
                .contains("UserApplication"),
            "{r:?}"
        );
        assert!(r.changes.is_empty());
    }
}
