//! DeleteFolder and EmptyFolder with every DeleteType, and folder events in subscriptions,
//! against the real server over HTTP with S2S tokens: what ends up where (read back with
//! FindFolder and FindItem), authorization (ArchiveApplication under Recoverable Items), the
//! errors as Exchange names them, folder `CreatedEvent`/`ModifiedEvent`/`MovedEvent`/
//! `DeletedEvent` (with `t:FolderId`) over pull (GetEvents), push and streaming, one watermark
//! across item and folder events, and the retention refusing a watermark whose next event, of
//! either kind, is gone.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use common::{ALICE, Env, Options, Partner, attr_after, codes, key, messages, signing_key, start};
use ews_proto::notification::{
    EventTarget, Notification, NotificationEvent, ObjectEvent, ObjectEventKind, SubscriptionStatus,
    parse_send_notification, write_send_notification_result,
};
use ews_proto::response::{notification_from_message, parse_response};
use ews_proto::streaming::{
    ConnectionStatus, StreamingMessage, next_document, parse_streaming_message,
};
use ews_proto::types::FolderId;
use ews_proto::xml::Limits;
use s2s_proto::{ManualClock, SigningKey};
use time::OffsetDateTime;

const INBOX: &str = r#"<t:DistinguishedFolderId Id="inbox"/>"#;
const DAY: i64 = 24 * 3600;

fn folder_ref(id: &str) -> String {
    format!(r#"<t:FolderId Id="{id}"/>"#)
}

fn distinguished(name: &str) -> String {
    format!(r#"<t:DistinguishedFolderId Id="{name}"/>"#)
}

/// Every value of `<element>` in a body, in order.
fn texts(body: &str, element: &str) -> Vec<String> {
    body.split(&format!("<{element}>"))
        .skip(1)
        .filter_map(|r| r.split('<').next())
        .map(str::to_owned)
        .collect()
}

impl Env {
    /// CreateFolder under `parent`: the new folder's id.
    async fn new_folder(&self, parent: &str, name: &str) -> String {
        let t = self
            .call(&format!(
                r#"<m:CreateFolder><m:ParentFolderId>{parent}</m:ParentFolderId><m:Folders><t:Folder><t:DisplayName>{name}</t:DisplayName></t:Folder></m:Folders></m:CreateFolder>"#
            ))
            .await;
        assert_eq!(codes(&t), ["NoError"], "{t}");
        attr_after(&t, "<t:FolderId ", "Id")
    }

    /// CreateItem (a message) in `folder`: its id.
    async fn new_item(&self, folder: &str, subject: &str) -> String {
        let t = self
            .call(&format!(
                r#"<m:CreateItem MessageDisposition="SaveOnly"><m:SavedItemFolderId>{folder}</m:SavedItemFolderId><m:Items><t:Message><t:Subject>{subject}</t:Subject></t:Message></m:Items></m:CreateItem>"#
            ))
            .await;
        assert_eq!(codes(&t), ["NoError"], "{t}");
        attr_after(&t, "<t:ItemId ", "Id")
    }

    /// DeleteFolder: (code, message text) of the one folder.
    async fn delete_folder(&self, folder: &str, delete_type: &str) -> (String, String) {
        let t = self
            .call(&format!(
                r#"<m:DeleteFolder DeleteType="{delete_type}"><m:FolderIds>{folder}</m:FolderIds></m:DeleteFolder>"#
            ))
            .await;
        let (_, code, text) = messages(&t).remove(0);
        (code, text)
    }

    /// EmptyFolder: (code, message text) of the one folder.
    async fn empty_folder(&self, folder: &str, delete_type: &str, sub: bool) -> (String, String) {
        let t = self
            .call(&format!(
                r#"<m:EmptyFolder DeleteType="{delete_type}" DeleteSubFolders="{sub}"><m:FolderIds>{folder}</m:FolderIds></m:EmptyFolder>"#
            ))
            .await;
        let (_, code, text) = messages(&t).remove(0);
        (code, text)
    }

    /// FindFolder (shallow): the names of `parent`'s children.
    async fn child_names(&self, parent: &str) -> Vec<String> {
        let t = self
            .call(&format!(
                r#"<m:FindFolder Traversal="Shallow"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:ParentFolderIds>{parent}</m:ParentFolderIds></m:FindFolder>"#
            ))
            .await;
        assert_eq!(codes(&t), ["NoError"], "{t}");
        let mut names = texts(&t, "t:DisplayName");
        names.sort();
        names
    }

    /// FindItem (shallow): the subjects of `folder`'s items, sorted.
    async fn subjects(&self, folder: &str) -> Vec<String> {
        let t = self
            .call(&format!(
                r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>Default</t:BaseShape></m:ItemShape><m:ParentFolderIds>{folder}</m:ParentFolderIds></m:FindItem>"#
            ))
            .await;
        assert_eq!(codes(&t), ["NoError"], "{t}");
        let mut subjects = texts(&t, "t:Subject");
        subjects.sort();
        subjects
    }

    /// GetFolder: its response code.
    async fn folder_code(&self, folder: &str) -> String {
        let t = self
            .call(&format!(
                r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>{folder}</m:FolderIds></m:GetFolder>"#
            ))
            .await;
        codes(&t).remove(0)
    }

    /// Projects (messages a, b) with 2026 (message c) under the Inbox: their ids.
    async fn projects(&self) -> (String, String) {
        let top = self.new_folder(INBOX, "Projects").await;
        let sub = self.new_folder(&folder_ref(&top), "2026").await;
        self.new_item(&folder_ref(&top), "a").await;
        self.new_item(&folder_ref(&top), "b").await;
        self.new_item(&folder_ref(&sub), "c").await;
        (top, sub)
    }

    /// Subscribe (pull) to `folders` (empty: SubscribeToAllFolders) for every object event:
    /// (subscription id, watermark).
    async fn pull_subscribe(&self, folders: &str) -> (String, String) {
        let (attr, ids) = if folders.is_empty() {
            (r#" SubscribeToAllFolders="true""#, String::new())
        } else {
            ("", format!("<t:FolderIds>{folders}</t:FolderIds>"))
        };
        let t = self
            .call(&format!(
                r#"<m:Subscribe><m:PullSubscriptionRequest{attr}>{ids}<t:EventTypes><t:EventType>CreatedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType><t:EventType>MovedEvent</t:EventType><t:EventType>DeletedEvent</t:EventType></t:EventTypes><t:Timeout>1440</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#
            ))
            .await;
        assert_eq!(codes(&t), ["NoError"], "{t}");
        (
            texts(&t, "m:SubscriptionId").remove(0),
            texts(&t, "m:Watermark").remove(0),
        )
    }

    /// GetEvents: the notification, or the error's (code, text).
    async fn get_events(
        &self,
        id: &str,
        watermark: &str,
    ) -> Result<Notification, (String, String)> {
        let t = self
            .call(&format!(
                "<m:GetEvents><m:SubscriptionId>{id}</m:SubscriptionId><m:Watermark>{watermark}</m:Watermark></m:GetEvents>"
            ))
            .await;
        let r = parse_response(t.as_bytes(), &Limits::default()).unwrap();
        let m = &r.messages[0];
        if m.code != "NoError" {
            return Err((m.code.clone(), m.text.clone().unwrap_or_default()));
        }
        Ok(notification_from_message(m).unwrap())
    }
}

/// An event as (kind, "folder"/"item", id, parent, old parent).
type Shape = (
    ObjectEventKind,
    &'static str,
    String,
    String,
    Option<String>,
);

fn shape(e: &ObjectEvent) -> Shape {
    let (what, id) = match &e.target {
        EventTarget::Item(i) => ("item", i.id.clone()),
        EventTarget::Folder(f) => ("folder", f.id.clone()),
    };
    (
        e.kind,
        what,
        id,
        e.parent_folder_id.id.clone(),
        e.old_parent_folder_id.as_ref().map(|f| f.id.clone()),
    )
}

/// The object events of a notification, and its last watermark.
fn events_of(n: &Notification) -> (Vec<ObjectEvent>, String) {
    let mut out = Vec::new();
    let mut last = String::new();
    for e in &n.events {
        match e {
            NotificationEvent::Object(o) => {
                last = o.watermark.clone();
                out.push(o.clone());
            }
            NotificationEvent::Status { watermark } => last = watermark.clone(),
        }
    }
    (out, last)
}

/// The id of a distinguished folder.
async fn id_of(e: &Env, name: &str) -> String {
    let t = e
        .call(&format!(
            r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds>{}</m:FolderIds></m:GetFolder>"#,
            distinguished(name)
        ))
        .await;
    attr_after(&t, "<t:FolderId ", "Id")
}

/// DeleteFolder, every DeleteType: MoveToDeletedItems moves the folder whole under Deleted
/// Items; again, from there, it is a soft delete (the folder gone, its items in Recoverable
/// Items\Deletions); SoftDelete the same from anywhere; HardDelete leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_folder_in_every_mode() {
    let e = common::env().await;
    let deletions = distinguished("recoverableitemsdeletions");
    let deleted_items = distinguished("deleteditems");

    let (top, sub) = e.projects().await;
    assert_eq!(
        e.delete_folder(&folder_ref(&top), "MoveToDeletedItems")
            .await
            .0,
        "NoError"
    );
    assert!(e.child_names(INBOX).await.is_empty());
    assert_eq!(e.child_names(&deleted_items).await, ["Projects"]);
    assert_eq!(e.subjects(&folder_ref(&top)).await, ["a", "b"]);
    assert_eq!(e.subjects(&folder_ref(&sub)).await, ["c"]);
    assert!(
        e.subjects(&deleted_items).await.is_empty(),
        "the items moved with their folder"
    );
    // deleted again from Deleted Items: soft-deleted
    assert_eq!(
        e.delete_folder(&folder_ref(&top), "MoveToDeletedItems")
            .await
            .0,
        "NoError"
    );
    assert_eq!(
        e.folder_code(&folder_ref(&top)).await,
        "ErrorFolderNotFound"
    );
    assert_eq!(
        e.folder_code(&folder_ref(&sub)).await,
        "ErrorFolderNotFound"
    );
    assert!(e.child_names(&deleted_items).await.is_empty());
    assert_eq!(e.subjects(&deletions).await, ["a", "b", "c"]);
    assert!(
        e.child_names(&deletions).await.is_empty(),
        "no folder in the dumpster"
    );

    let (top, _) = e.projects().await;
    assert_eq!(
        e.delete_folder(&folder_ref(&top), "SoftDelete").await.0,
        "NoError"
    );
    assert_eq!(
        e.folder_code(&folder_ref(&top)).await,
        "ErrorFolderNotFound"
    );
    assert_eq!(e.subjects(&deletions).await, ["a", "a", "b", "b", "c", "c"]);

    let (top, _) = e.projects().await;
    assert_eq!(
        e.delete_folder(&folder_ref(&top), "HardDelete").await.0,
        "NoError"
    );
    assert_eq!(
        e.folder_code(&folder_ref(&top)).await,
        "ErrorFolderNotFound"
    );
    assert_eq!(
        e.subjects(&deletions).await.len(),
        6,
        "nothing more in the dumpster"
    );
    assert!(e.subjects(&deleted_items).await.is_empty());
}

/// EmptyFolder, every DeleteType, with and without DeleteSubFolders: the folder stays; its
/// items go where the type says; its subfolders stay, or go (HardDelete, SoftDelete: their
/// items to the dumpster), or move whole under Deleted Items (MoveToDeletedItems). Emptying
/// Deleted Items with MoveToDeletedItems soft-deletes what is in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_folder_in_every_mode() {
    let deletions = distinguished("recoverableitemsdeletions");
    let deleted_items = distinguished("deleteditems");
    for delete_type in ["HardDelete", "SoftDelete", "MoveToDeletedItems"] {
        for sub in [false, true] {
            let e = common::env().await;
            let (top, child) = e.projects().await;
            let (code, text) = e.empty_folder(&folder_ref(&top), delete_type, sub).await;
            assert_eq!(code, "NoError", "{delete_type} {sub}: {text}");
            assert!(e.subjects(&folder_ref(&top)).await.is_empty());
            let (dumpster, wastebasket) = (
                e.subjects(&deletions).await,
                e.subjects(&deleted_items).await,
            );
            let children = e.child_names(&folder_ref(&top)).await;
            match (delete_type, sub) {
                (_, false) => {
                    assert_eq!(children, ["2026"]);
                    assert_eq!(e.subjects(&folder_ref(&child)).await, ["c"]);
                    let expected: (Vec<&str>, Vec<&str>) = match delete_type {
                        "HardDelete" => (vec![], vec![]),
                        "SoftDelete" => (vec!["a", "b"], vec![]),
                        _ => (vec![], vec!["a", "b"]),
                    };
                    assert_eq!(dumpster, expected.0, "{delete_type}");
                    assert_eq!(wastebasket, expected.1, "{delete_type}");
                }
                ("HardDelete", true) => {
                    assert!(children.is_empty());
                    assert_eq!(
                        e.folder_code(&folder_ref(&child)).await,
                        "ErrorFolderNotFound"
                    );
                    assert!(dumpster.is_empty() && wastebasket.is_empty());
                }
                ("SoftDelete", true) => {
                    assert!(children.is_empty());
                    assert_eq!(
                        e.folder_code(&folder_ref(&child)).await,
                        "ErrorFolderNotFound"
                    );
                    assert_eq!(dumpster, ["a", "b", "c"]);
                }
                (_, true) => {
                    assert!(children.is_empty());
                    assert_eq!(wastebasket, ["a", "b"]);
                    assert_eq!(e.child_names(&deleted_items).await, ["2026"]);
                    assert_eq!(e.subjects(&folder_ref(&child)).await, ["c"]);
                    // emptying the wastebasket "to the wastebasket": into the dumpster
                    let (code, _) = e
                        .empty_folder(&deleted_items, "MoveToDeletedItems", true)
                        .await;
                    assert_eq!(code, "NoError");
                    assert!(e.child_names(&deleted_items).await.is_empty());
                    assert!(e.subjects(&deleted_items).await.is_empty());
                    assert_eq!(e.subjects(&deletions).await, ["a", "b", "c"]);
                }
            }
        }
    }
}

/// The errors, as Exchange names them, each per folder and with what to do: a distinguished
/// folder (ErrorDeleteDistinguishedFolder, also for EmptyFolder with DeleteSubFolders above
/// one), an unknown folder (ErrorFolderNotFound), a malformed id (ErrorInvalidIdMalformed), a
/// name Deleted Items already has (ErrorCannotDeleteObject), a bad DeleteType (a schema error).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_named_as_exchange_names_them() {
    let e = common::env().await;
    for t in ["HardDelete", "SoftDelete", "MoveToDeletedItems"] {
        for name in [
            "inbox",
            "deleteditems",
            "msgfolderroot",
            "recoverableitemsroot",
        ] {
            let (code, _) = e.delete_folder(&distinguished(name), t).await;
            assert_eq!(code, "ErrorDeleteDistinguishedFolder", "{t} {name}");
        }
        let (code, _) = e
            .empty_folder(&distinguished("msgfolderroot"), t, true)
            .await;
        assert_eq!(code, "ErrorDeleteDistinguishedFolder", "{t}");
    }
    let gone = e.new_folder(INBOX, "Gone").await;
    assert_eq!(
        e.delete_folder(&folder_ref(&gone), "HardDelete").await.0,
        "NoError"
    );
    for t in ["HardDelete", "SoftDelete", "MoveToDeletedItems"] {
        assert_eq!(
            e.delete_folder(&folder_ref(&gone), t).await.0,
            "ErrorFolderNotFound"
        );
        assert_eq!(
            e.empty_folder(&folder_ref(&gone), t, false).await.0,
            "ErrorFolderNotFound"
        );
        assert_eq!(
            e.delete_folder(&folder_ref("not-an-id"), t).await.0,
            "ErrorInvalidIdMalformed"
        );
    }
    // one in Deleted Items already has the name: nothing moves, and the text says what to do
    let first = e.new_folder(INBOX, "Twice").await;
    assert_eq!(
        e.delete_folder(&folder_ref(&first), "MoveToDeletedItems")
            .await
            .0,
        "NoError"
    );
    let second = e.new_folder(INBOX, "twice").await;
    e.new_item(&folder_ref(&second), "kept").await;
    let (code, text) = e
        .delete_folder(&folder_ref(&second), "MoveToDeletedItems")
        .await;
    assert_eq!(code, "ErrorCannotDeleteObject");
    assert!(text.contains("SoftDelete or HardDelete"), "{text}");
    assert_eq!(e.child_names(INBOX).await, ["twice"]);
    let (code, _) = e.empty_folder(INBOX, "MoveToDeletedItems", true).await;
    assert_eq!(code, "ErrorCannotDeleteObject");
    assert_eq!(
        e.subjects(&folder_ref(&second)).await,
        ["kept"],
        "nothing was done"
    );
    // several folders: one message each, in order
    let ok = e.new_folder(INBOX, "Fine").await;
    let t = e
        .call(&format!(
            r#"<m:DeleteFolder DeleteType="SoftDelete"><m:FolderIds>{}{}{}</m:FolderIds></m:DeleteFolder>"#,
            folder_ref(&ok),
            distinguished("inbox"),
            folder_ref(&gone)
        ))
        .await;
    assert_eq!(
        codes(&t),
        [
            "NoError",
            "ErrorDeleteDistinguishedFolder",
            "ErrorFolderNotFound"
        ]
    );
    // an unknown DeleteType is the schema's error (a fault, as Exchange answers it)
    let (status, t) = e
        .call_as(
            &e.alice_token(),
            &format!(
                r#"<m:DeleteFolder DeleteType="Shred"><m:FolderIds>{}</m:FolderIds></m:DeleteFolder>"#,
                folder_ref(&second)
            ),
        )
        .await;
    assert_eq!(status, 500);
    assert!(
        t.contains("ErrorSchemaValidation") && t.contains("MoveToDeletedItems"),
        "{t}"
    );
}

/// Under Recoverable Items only ArchiveApplication deletes or empties anything; with
/// UserApplication alone every mode is ErrorAccessDenied naming the role, and nothing changes.
/// Deleting into the dumpster (SoftDelete elsewhere) needs no more than UserApplication.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recoverable_items_need_archive_application() {
    let e = start(Options {
        partner: Some(Partner {
            key,
            roles: &["UserApplication", "ArchiveApplication"],
        }),
        ..Options::default()
    })
    .await;
    let held = e
        .new_folder(&distinguished("recoverableitemsdeletions"), "Held")
        .await;
    e.new_item(&folder_ref(&held), "held").await;
    e.remove_role("ArchiveApplication").await;
    let (top, _) = e.projects().await;
    assert_eq!(
        e.delete_folder(&folder_ref(&top), "SoftDelete").await.0,
        "NoError"
    );
    for t in ["HardDelete", "SoftDelete", "MoveToDeletedItems"] {
        let (code, text) = e.delete_folder(&folder_ref(&held), t).await;
        assert_eq!(code, "ErrorAccessDenied", "{t}");
        assert!(text.contains("ArchiveApplication"), "{text}");
        for sub in [false, true] {
            let (code, _) = e
                .empty_folder(&distinguished("recoverableitemsdeletions"), t, sub)
                .await;
            assert_eq!(code, "ErrorAccessDenied", "{t} {sub}");
        }
    }
    assert_eq!(e.subjects(&folder_ref(&held)).await, ["held"]);
    assert_eq!(
        e.subjects(&distinguished("recoverableitemsdeletions"))
            .await,
        ["a", "b", "c"]
    );
    e.assign_role("ArchiveApplication").await;
    assert_eq!(
        e.delete_folder(&folder_ref(&held), "SoftDelete").await.0,
        "NoError"
    );
    assert_eq!(
        e.subjects(&distinguished("recoverableitemspurges")).await,
        ["held"]
    );
    let (code, _) = e
        .empty_folder(
            &distinguished("recoverableitemsdeletions"),
            "HardDelete",
            false,
        )
        .await;
    assert_eq!(code, "NoError");
    assert!(
        e.subjects(&distinguished("recoverableitemsdeletions"))
            .await
            .is_empty()
    );
}

/// A pull subscription to the Inbox reports folder events with `t:FolderId`, in order with item
/// events under one watermark: a subfolder created, renamed, moved out (to Deleted Items, with
/// `t:OldParentFolderId`), an item in it (and the Inbox's ModifiedEvent with its unread
/// count after it); one with SubscribeToAllFolders also sees the soft
/// delete there. A watermark taken in the middle reads on from there, and one issued before any
/// folder event (as every watermark of an earlier version was) reads the folder events after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_subscriptions_report_folder_events_in_order() {
    let e = common::env().await;
    let inbox = id_of(&e, "inbox").await;
    let deleted = id_of(&e, "deleteditems").await;
    let top_of_store = id_of(&e, "msgfolderroot").await;
    let (sub, w0) = e.pull_subscribe(INBOX).await;
    let (all, a0) = e.pull_subscribe("").await;

    let f = e.new_folder(INBOX, "Filed").await;
    let item = e.new_item(INBOX, "mail").await;
    let n = e.get_events(&sub, &w0).await.unwrap();
    let (evs, w1) = events_of(&n);
    assert_eq!(
        evs.iter().map(shape).collect::<Vec<_>>(),
        [
            (
                ObjectEventKind::Created,
                "folder",
                f.clone(),
                inbox.clone(),
                None
            ),
            (
                ObjectEventKind::Created,
                "item",
                item.clone(),
                inbox.clone(),
                None
            ),
            // the Inbox's counts changed: its own ModifiedEvent, under the item's watermark
            (
                ObjectEventKind::Modified,
                "folder",
                inbox.clone(),
                top_of_store.clone(),
                None
            ),
        ]
    );
    assert_eq!(evs[2].unread_count, Some(1), "the new mail is unread");
    assert_eq!(evs[2].watermark, evs[1].watermark);
    // the folder's watermark comes before the item's: one sequence
    let (wf, wi): (u64, u64) = (
        evs[0].watermark.parse().unwrap(),
        evs[1].watermark.parse().unwrap(),
    );
    assert!(wf < wi);

    let t = e
        .call(&format!(
            r#"<m:UpdateFolder><m:FolderChanges><t:FolderChange>{}<t:Updates><t:SetFolderField><t:FieldURI FieldURI="folder:DisplayName"/><t:Folder><t:DisplayName>Filed 2</t:DisplayName></t:Folder></t:SetFolderField></t:Updates></t:FolderChange></m:FolderChanges></m:UpdateFolder>"#,
            folder_ref(&f)
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    assert_eq!(
        e.delete_folder(&folder_ref(&f), "MoveToDeletedItems")
            .await
            .0,
        "NoError"
    );
    assert_eq!(
        e.delete_folder(&folder_ref(&f), "SoftDelete").await.0,
        "NoError"
    );
    let n = e.get_events(&sub, &w1).await.unwrap();
    let (evs, w2) = events_of(&n);
    assert_eq!(
        evs.iter().map(shape).collect::<Vec<_>>(),
        [
            (
                ObjectEventKind::Modified,
                "folder",
                f.clone(),
                inbox.clone(),
                None
            ),
            (
                ObjectEventKind::Moved,
                "folder",
                f.clone(),
                deleted.clone(),
                Some(inbox.clone())
            ),
        ],
        "the soft delete under Deleted Items is not the Inbox's"
    );
    // a moved folder keeps its id: t:OldFolderId is the same
    assert_eq!(
        evs[1].old_target,
        Some(EventTarget::Folder(FolderId {
            id: f.clone(),
            change_key: None
        }))
    );

    // SubscribeToAllFolders: everything, in order
    let n = e.get_events(&all, &a0).await.unwrap();
    let (evs, _) = events_of(&n);
    let kinds: Vec<(ObjectEventKind, &str)> = evs.iter().map(|e| (e.kind, shape(e).1)).collect();
    assert_eq!(
        kinds,
        [
            (ObjectEventKind::Created, "folder"),
            (ObjectEventKind::Created, "item"),
            (ObjectEventKind::Modified, "folder"),
            (ObjectEventKind::Modified, "folder"),
            (ObjectEventKind::Moved, "folder"),
            (ObjectEventKind::Deleted, "folder"),
        ]
    );
    // resuming from the middle: the rest, the same events
    let n = e.get_events(&sub, &w1).await.unwrap();
    assert_eq!(events_of(&n).0.len(), 2);
    let n = e.get_events(&sub, &w2).await.unwrap();
    assert!(events_of(&n).0.is_empty());
    // a watermark from before any folder event reads them (old watermarks stay valid)
    let n = e.get_events(&sub, &w0).await.unwrap();
    assert_eq!(events_of(&n).0.len(), 5);
}

/// A push subscription to the Inbox is told of a folder created there (a `t:CreatedEvent` with
/// `t:FolderId`), and its watermark moves past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_subscriptions_report_folder_events() {
    let e = common::env().await;
    let inbox = id_of(&e, "inbox").await;
    let got: Arc<Mutex<Vec<Notification>>> = Arc::default();
    let g = got.clone();
    let subscriber = axum::Router::new().route(
        "/notify",
        post(move |body: String| {
            let g = g.clone();
            async move {
                let n = parse_send_notification(body.as_bytes(), &Limits::default()).unwrap();
                g.lock().unwrap().extend(n);
                write_send_notification_result(SubscriptionStatus::Ok)
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/notify", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, subscriber).await });
    let t = e
        .call(&format!(
            r#"<m:Subscribe><m:PushSubscriptionRequest><t:FolderIds>{INBOX}</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType><t:EventType>DeletedEvent</t:EventType></t:EventTypes><t:StatusFrequency>30</t:StatusFrequency><t:URL>{callback}</t:URL></m:PushSubscriptionRequest></m:Subscribe>"#
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let f = e.new_folder(INBOX, "Pushed").await;
    assert_eq!(e.ex.push_once().await.unwrap(), 1);
    assert_eq!(
        e.delete_folder(&folder_ref(&f), "HardDelete").await.0,
        "NoError"
    );
    assert_eq!(e.ex.push_once().await.unwrap(), 1);
    let got = got.lock().unwrap().clone();
    let evs: Vec<Shape> = got
        .iter()
        .flat_map(|n| events_of(n).0)
        .map(|e| shape(&e))
        .collect();
    assert_eq!(
        evs,
        [
            (
                ObjectEventKind::Created,
                "folder",
                f.clone(),
                inbox.clone(),
                None
            ),
            (
                ObjectEventKind::Deleted,
                "folder",
                f.clone(),
                inbox.clone(),
                None
            ),
        ]
    );
    // nothing new: nothing sent (the status notification is not due)
    assert_eq!(e.ex.push_once().await.unwrap(), 0);
}

/// A streaming subscription to the Inbox is streamed a folder created there, with `t:FolderId`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streaming_subscriptions_report_folder_events() {
    let e = start(Options {
        streaming: exchange::StreamingConfig {
            minute: Duration::from_millis(2000),
            keep_alive: Duration::from_millis(200),
            ..exchange::StreamingConfig::default()
        },
        ..Options::default()
    })
    .await;
    let inbox = id_of(&e, "inbox").await;
    let t = e
        .call(r#"<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/></t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>"#)
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let id = texts(&t, "m:SubscriptionId").remove(0);
    let mut resp = e
        .http
        .post(format!("{}/EWS/Exchange.asmx", e.url))
        .header("content-type", "text/xml")
        .bearer_auth(e.alice_token())
        .body(common::soap(&format!(
            "<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{id}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let f = e.new_folder(INBOX, "Streamed").await;
    let mut buf = Vec::new();
    let events = loop {
        if let Some(n) = next_document(&buf) {
            let doc: Vec<u8> = buf.drain(..n).collect();
            match parse_streaming_message(&doc, &Limits::default()).unwrap() {
                StreamingMessage::Notifications(ns) => {
                    break ns.into_iter().flat_map(|n| n.events).collect::<Vec<_>>();
                }
                StreamingMessage::Status(ConnectionStatus::Ok) => continue,
                other => panic!("{other:?}"),
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), resp.chunk())
            .await
            .expect("a message within 10 s")
            .unwrap()
            .expect("the stream is open");
        buf.extend_from_slice(&chunk);
    };
    assert_eq!(
        events.iter().map(shape).collect::<Vec<_>>(),
        [(ObjectEventKind::Created, "folder", f, inbox, None)]
    );
}

/// The auth server's key, valid long enough for the clock to be moved past the retention.
fn long_key() -> &'static SigningKey {
    signing_key("trusted sts", 400)
}

/// The retention covers folder events as item events: a watermark whose next event is a folder
/// event that was pruned is refused (`ErrorInvalidWatermark` while the subscription's latest
/// watermark still works, `ErrorExpiredSubscription` for a subscription that can never deliver
/// it), never answered with what is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watermark_before_a_pruned_folder_event_is_refused() {
    let e = start(Options {
        clock: Some(ManualClock::new(OffsetDateTime::now_utc().unix_timestamp())),
        mailboxes: &[("Alice", ALICE)],
        partner: Some(Partner {
            key: long_key,
            roles: &["UserApplication"],
        }),
        ..Options::default()
    })
    .await;
    let (reader, w0) = e.pull_subscribe(INBOX).await;
    let (idle, idle_w) = e.pull_subscribe(INBOX).await;
    // only a folder event after the watermarks
    e.new_folder(INBOX, "Only a folder").await;
    let n = e.get_events(&reader, &w0).await.unwrap();
    let (evs, mut latest) = events_of(&n);
    assert_eq!(evs.len(), 1);
    for _ in 0..31 {
        e.clock().advance(DAY - 60);
        let n = e.get_events(&reader, &latest).await.unwrap();
        latest = events_of(&n).1;
    }
    let p = e.ex.prune_logs_once().await.unwrap();
    assert_eq!((p.events, p.folder_events), (1, 21 + 1), "{p:?}");
    let (code, text) = e.get_events(&reader, &w0).await.unwrap_err();
    assert_eq!(code, "ErrorInvalidWatermark", "{text}");
    assert!(text.contains("no longer kept"), "{text}");
    assert!(e.get_events(&reader, &latest).await.is_ok());
    let (code, _) = e.get_events(&idle, &idle_w).await.unwrap_err();
    assert_eq!(code, "ErrorExpiredSubscription");
    // and Subscribe from it
    let t = e
        .call(&format!(
            r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds>{INBOX}</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes><t:Watermark>{w0}</t:Watermark><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#
        ))
        .await;
    assert_eq!(codes(&t), ["ErrorInvalidWatermark"]);
}

/// MoveFolder: a folder moves, whole, under another (answered with its id and new change key,
/// found there by FindFolder); a distinguished folder is `ErrorMoveDistinguishedFolder`, a name
/// the destination has `ErrorFolderExists`, a destination under the folder
/// `ErrorMoveCopyFailed`, each folder answered on its own.
#[tokio::test]
async fn move_folder_moves_a_folder_whole() {
    let e = common::env().await;
    let (top, sub) = e.projects().await;
    let drafts = distinguished("drafts");
    let move_folders = |to: &str, ids: &[String]| {
        format!(
            r#"<m:MoveFolder><m:ToFolderId>{to}</m:ToFolderId><m:FolderIds>{}</m:FolderIds></m:MoveFolder>"#,
            ids.iter().map(|i| i.as_str()).collect::<String>()
        )
    };
    let r = e.call(&move_folders(&drafts, &[folder_ref(&top)])).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    assert!(
        r.contains("<m:MoveFolderResponseMessage ResponseClass=\"Success\">"),
        "{r}"
    );
    assert_eq!(attr_after(&r, "<t:FolderId ", "Id"), top, "{r}");
    let under = e
        .call(&format!(
            r#"<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:ParentFolderIds>{drafts}</m:ParentFolderIds></m:FindFolder>"#
        ))
        .await;
    assert!(
        under.contains(&format!(r#"<t:FolderId Id="{top}""#)),
        "{under}"
    );
    assert!(
        under.contains(&format!(r#"<t:FolderId Id="{sub}""#)),
        "{under}"
    );
    // each answered on its own
    let clash = e.new_folder(INBOX, "Projects").await;
    let r = e
        .call(&move_folders(
            &drafts,
            &[INBOX.to_owned(), folder_ref(&clash), folder_ref(&sub)],
        ))
        .await;
    assert_eq!(
        codes(&r),
        [
            "ErrorMoveDistinguishedFolder",
            "ErrorFolderExists",
            "NoError"
        ],
        "{r}"
    );
    // not under a folder under itself
    let inner = e.new_folder(&folder_ref(&top), "Inner").await;
    let r = e
        .call(&move_folders(&folder_ref(&inner), &[folder_ref(&top)]))
        .await;
    assert_eq!(codes(&r), ["ErrorMoveCopyFailed"], "{r}");
}

/// MarkAllItemsAsRead: every item of each folder named (not of its subfolders) read, then
/// unread again, each folder answered on its own.
#[tokio::test]
async fn mark_all_items_as_read_sets_each_folders_read_flags() {
    let e = common::env().await;
    let (top, sub) = e.projects().await;
    let unread = |id: String| {
        let e = &e;
        async move {
            let t = e
                .call(&format!(
                    r#"<m:GetFolder><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:FolderIds>{}</m:FolderIds></m:GetFolder>"#,
                    folder_ref(&id)
                ))
                .await;
            texts(&t, "t:UnreadCount").join(",")
        }
    };
    assert_eq!(
        (unread(top.clone()).await, unread(sub.clone()).await),
        ("2".into(), "1".into())
    );
    let mark = |read: bool, ids: &str| {
        format!(
            r#"<m:MarkAllItemsAsRead><m:ReadFlag>{read}</m:ReadFlag><m:SuppressReadReceipts>true</m:SuppressReadReceipts><m:FolderIds>{ids}</m:FolderIds></m:MarkAllItemsAsRead>"#
        )
    };
    let r = e
        .call(&mark(
            true,
            &format!("{}{}", folder_ref(&top), folder_ref("AAAA")),
        ))
        .await;
    assert!(
        r.contains("<m:MarkAllItemsAsReadResponseMessage ResponseClass=\"Success\">"),
        "{r}"
    );
    assert_eq!(codes(&r), ["NoError", "ErrorInvalidIdMalformed"], "{r}");
    assert_eq!(
        (unread(top.clone()).await, unread(sub.clone()).await),
        ("0".into(), "1".into())
    );
    let r = e.call(&mark(false, &folder_ref(&top))).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    assert_eq!(unread(top).await, "2");
}

/// CopyFolder: a copy of a folder and everything under it (new ids, the items with it) under
/// another; the original stays; a distinguished folder and a name the destination has are
/// refused.
#[tokio::test]
async fn copy_folder_copies_a_folder_and_its_items() {
    let e = common::env().await;
    let (top, _) = e.projects().await;
    let drafts = distinguished("drafts");
    let copy_folders = |to: &str, ids: &str| {
        format!(
            r#"<m:CopyFolder><m:ToFolderId>{to}</m:ToFolderId><m:FolderIds>{ids}</m:FolderIds></m:CopyFolder>"#
        )
    };
    let r = e.call(&copy_folders(&drafts, &folder_ref(&top))).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    assert!(
        r.contains("<m:CopyFolderResponseMessage ResponseClass=\"Success\">"),
        "{r}"
    );
    let copy = attr_after(&r, "<t:FolderId ", "Id");
    assert_ne!(copy, top);
    let deep = |parent: &str| {
        format!(
            r#"<m:FindFolder Traversal="Deep"><m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape><m:ParentFolderIds>{parent}</m:ParentFolderIds></m:FindFolder>"#
        )
    };
    let under = e.call(&deep(&drafts)).await;
    assert_eq!(
        texts(&under, "t:DisplayName"),
        ["Projects", "2026"],
        "{under}"
    );
    assert_eq!(texts(&under, "t:TotalCount"), ["2", "1"], "{under}");
    // the original is where it was, with its items
    let inbox = e.call(&deep(INBOX)).await;
    assert!(
        inbox.contains(&format!(r#"<t:FolderId Id="{top}""#)),
        "{inbox}"
    );
    let r = e
        .call(&copy_folders(
            &drafts,
            &format!("{INBOX}{}", folder_ref(&top)),
        ))
        .await;
    assert_eq!(
        codes(&r),
        ["ErrorMoveCopyFailed", "ErrorFolderExists"],
        "{r}"
    );
}

/// A folder's counts changing is its own `ModifiedEvent` with `t:UnreadCount`, after each item
/// event of a subscribed folder: new mail, read, moved out (the Inbox's, and the destination's
/// when it is subscribed too); none for a subscription that does not ask for ModifiedEvent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn item_changes_report_their_folders_unread_counts() {
    let e = common::env().await;
    let inbox = id_of(&e, "inbox").await;
    let (all, a0) = e.pull_subscribe("").await;
    let t = e
        .call(&format!(
            r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds>{INBOX}</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType></t:EventTypes><t:Timeout>1440</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#
        ))
        .await;
    let (created_only, c0) = (
        texts(&t, "m:SubscriptionId").remove(0),
        texts(&t, "m:Watermark").remove(0),
    );
    let filed = e.new_folder(INBOX, "Filed").await;
    let (_, a1) = events_of(&e.get_events(&all, &a0).await.unwrap());
    let item = e.new_item(INBOX, "mail").await;
    let t = e
        .call(&format!(
            r#"<m:UpdateItem MessageDisposition="SaveOnly" ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{item}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="message:IsRead"/><t:Message><t:IsRead>true</t:IsRead></t:Message></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let t = e
        .call(&format!(
            r#"<m:MoveItem><m:ToFolderId>{}</m:ToFolderId><m:ItemIds><t:ItemId Id="{item}"/></m:ItemIds></m:MoveItem>"#,
            folder_ref(&filed)
        ))
        .await;
    assert_eq!(codes(&t), ["NoError"], "{t}");
    let (evs, _) = events_of(&e.get_events(&all, &a1).await.unwrap());
    let folder_events: Vec<(ObjectEventKind, String, Option<u32>)> = evs
        .iter()
        .filter_map(|e| match &e.target {
            EventTarget::Folder(f) => Some((e.kind, f.id.clone(), e.unread_count)),
            EventTarget::Item(_) => None,
        })
        .collect();
    // the counts are the folders' when the events are read: the item read and moved out
    assert_eq!(
        folder_events,
        [
            (ObjectEventKind::Modified, inbox.clone(), Some(0)),
            (ObjectEventKind::Modified, inbox.clone(), Some(0)),
            (ObjectEventKind::Modified, filed.clone(), Some(0)),
            (ObjectEventKind::Modified, inbox.clone(), Some(0)),
        ],
        "{evs:?}"
    );
    let kinds: Vec<(ObjectEventKind, &str)> = evs.iter().map(|e| (e.kind, shape(e).1)).collect();
    assert_eq!(
        kinds,
        [
            (ObjectEventKind::Created, "item"),
            (ObjectEventKind::Modified, "folder"),
            (ObjectEventKind::Modified, "item"),
            (ObjectEventKind::Modified, "folder"),
            (ObjectEventKind::Moved, "item"),
            (ObjectEventKind::Modified, "folder"),
            (ObjectEventKind::Modified, "folder"),
        ]
    );
    // a subscription without ModifiedEvent gets the item's CreatedEvents only
    let (evs, _) = events_of(&e.get_events(&created_only, &c0).await.unwrap());
    assert!(
        evs.iter()
            .all(|e| e.kind == ObjectEventKind::Created && e.unread_count.is_none()),
        "{evs:?}"
    );
}
