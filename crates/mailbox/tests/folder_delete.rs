//! DeleteFolder and EmptyFolder with every DeleteType against a real store: what ends up where,
//! the folder and item events each leaves in the one event sequence subscriptions read, the
//! hierarchy sync of moved folders, distinguished folders and Recoverable Items refused.

mod common;

use common::*;
use mailbox::{
    DeleteMode, Event, EventKind, EventObject, Folder, FolderChange, FolderSel, ItemGuard,
    MailboxError, MailboxKey, MailboxStore, NewItem, Paging,
};

/// The names of a folder's children.
async fn child_names(s: &MailboxStore, m: &MailboxKey, parent: FolderSel) -> Vec<String> {
    let page = s
        .find_folders(m, parent, false, Paging::default())
        .await
        .unwrap();
    page.items.into_iter().map(|f| f.display_name).collect()
}

/// The subjects of a folder's normal items, sorted.
async fn subjects(s: &MailboxStore, m: &MailboxKey, folder: FolderSel) -> Vec<String> {
    let page = s
        .find_items(m, folder, mailbox::FindSpec::default())
        .await
        .unwrap();
    let mut out: Vec<String> = page
        .items
        .into_iter()
        .map(|i| i.subject.unwrap_or_default())
        .collect();
    out.sort();
    out
}

/// A folder-associated item (a folder's own setting).
fn setting(name: &str) -> NewItem {
    NewItem {
        item_class: format!("IPM.Configuration.{name}"),
        is_associated: true,
        ..NewItem::default()
    }
}

async fn folder(s: &MailboxStore, m: &MailboxKey, parent: FolderSel, name: &str) -> Folder {
    s.create_folder(m, parent, name.into(), None).await.unwrap()
}

fn id(f: &Folder) -> FolderSel {
    FolderSel::id(f.id.clone())
}

async fn head(s: &MailboxStore, m: &MailboxKey) -> u64 {
    s.counters(m).await.unwrap().last_event_seq
}

/// Projects (2 messages, a setting) with 2026 (1 message) under the Inbox.
async fn projects(s: &MailboxStore, m: &MailboxKey) -> (Folder, Folder) {
    let top = folder(s, m, d("inbox"), "Projects").await;
    let sub = folder(s, m, id(&top), "2026").await;
    s.create_items(m, id(&top), vec![msg("a"), msg("b"), setting("View")])
        .await
        .unwrap();
    s.create_items(m, id(&sub), vec![msg("c")]).await.unwrap();
    (top, sub)
}

fn gone(r: Result<Folder, MailboxError>) -> bool {
    matches!(r, Err(MailboxError::FolderNotFound))
}

/// (kind, object, id, parent, old parent) of each event.
fn shape(events: &[Event]) -> Vec<(EventKind, EventObject, String, String, Option<String>)> {
    events
        .iter()
        .map(|e| {
            (
                e.kind,
                e.object,
                e.item_id.clone(),
                e.folder_id.clone(),
                e.old_folder_id.clone(),
            )
        })
        .collect()
}

/// MoveToDeletedItems: the folder moves under Deleted Items whole (its subfolder, its items and
/// its setting, every id kept); one `Moved` folder event, no item event; a name Deleted Items
/// has already refuses the move and changes nothing.
#[tokio::test]
async fn move_to_deleted_items_moves_the_folder_whole() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let (top, sub) = projects(&s, &m).await;
    let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
    let deleted = s.get_folder(&m, d("deleteditems")).await.unwrap();
    let before = head(&s, &m).await;
    s.delete_folder(&m, id(&top), DeleteMode::MoveToDeletedItems, ItemGuard::Any)
        .await
        .unwrap();
    let moved = s.get_folder(&m, id(&top)).await.unwrap();
    assert_eq!(moved.parent_id.as_deref(), Some(deleted.id.as_str()));
    assert_ne!(moved.change_key, top.change_key);
    assert_eq!((moved.total_count, moved.associated_count), (2, 1));
    assert_eq!(child_names(&s, &m, d("inbox")).await, Vec::<String>::new());
    assert_eq!(child_names(&s, &m, d("deleteditems")).await, ["Projects"]);
    assert_eq!(child_names(&s, &m, id(&top)).await, ["2026"]);
    assert_eq!(subjects(&s, &m, id(&sub)).await, ["c"]);
    let events = s.events_since(&m, before, 100).await.unwrap();
    assert_eq!(
        shape(&events),
        [(
            EventKind::Moved,
            EventObject::Folder,
            top.id.clone(),
            deleted.id.clone(),
            Some(inbox.id.clone())
        )]
    );
    // the parents changed (their child counts)
    assert_ne!(
        s.get_folder(&m, d("inbox")).await.unwrap().change_key,
        inbox.change_key
    );

    // another Projects cannot follow it there
    let again = folder(&s, &m, d("inbox"), "PROJECTS").await;
    let before = head(&s, &m).await;
    let e = s
        .delete_folder(
            &m,
            id(&again),
            DeleteMode::MoveToDeletedItems,
            ItemGuard::Any,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, MailboxError::DeletedItemsNameTaken(ref n) if n == "PROJECTS"),
        "{e:?}"
    );
    assert_eq!(e.response_code(), "ErrorCannotDeleteObject");
    assert!(e.to_string().contains("SoftDelete or HardDelete"), "{e}");
    assert_eq!(head(&s, &m).await, before);
    assert_eq!(child_names(&s, &m, d("inbox")).await, ["PROJECTS"]);
}

/// MoveToDeletedItems of a folder already under Deleted Items is a soft delete; so is
/// SoftDelete anywhere: the folders are gone, their normal items are in Recoverable
/// Items\Deletions (each with a `Moved` event), their settings are gone, and the folders have
/// `Deleted` events, deepest first, after their items'.
#[tokio::test]
async fn soft_delete_keeps_the_items_not_the_folders() {
    for twice in [false, true] {
        let s = store_with(&["alice"]).await;
        let m = key("alice");
        let (top, sub) = projects(&s, &m).await;
        let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
        let deletions = s
            .get_folder(&m, d("recoverableitemsdeletions"))
            .await
            .unwrap();
        let mut parent = inbox.id.clone();
        if twice {
            s.delete_folder(&m, id(&top), DeleteMode::MoveToDeletedItems, ItemGuard::Any)
                .await
                .unwrap();
            parent = s.get_folder(&m, d("deleteditems")).await.unwrap().id;
        }
        let before = head(&s, &m).await;
        let mode = if twice {
            DeleteMode::MoveToDeletedItems
        } else {
            DeleteMode::Soft
        };
        s.delete_folder(&m, id(&top), mode, ItemGuard::Any)
            .await
            .unwrap();
        assert!(gone(s.get_folder(&m, id(&top)).await));
        assert!(gone(s.get_folder(&m, id(&sub)).await));
        assert_eq!(
            subjects(&s, &m, d("recoverableitemsdeletions")).await,
            ["a", "b", "c"]
        );
        // nothing of the folders is left in the dumpster, and no setting
        assert_eq!(
            child_names(&s, &m, d("recoverableitemsdeletions")).await,
            Vec::<String>::new()
        );
        let deletions_now = s
            .get_folder(&m, d("recoverableitemsdeletions"))
            .await
            .unwrap();
        assert_eq!(deletions_now.associated_count, 0);
        let events = s.events_since(&m, before, 100).await.unwrap();
        let items: Vec<_> = events
            .iter()
            .filter(|e| e.object == EventObject::Item)
            .map(|e| (e.kind, e.folder_id.clone()))
            .collect();
        assert_eq!(items.len(), 4, "{events:?}");
        assert_eq!(
            items
                .iter()
                .filter(|(k, f)| *k == EventKind::Moved && *f == deletions.id)
                .count(),
            3
        );
        assert_eq!(
            items
                .iter()
                .filter(|(k, _)| *k == EventKind::Deleted)
                .count(),
            1,
            "the setting"
        );
        let folders: Vec<_> = shape(&events)
            .into_iter()
            .filter(|e| e.1 == EventObject::Folder)
            .collect();
        assert_eq!(
            folders,
            [
                (
                    EventKind::Deleted,
                    EventObject::Folder,
                    sub.id.clone(),
                    top.id.clone(),
                    None
                ),
                (
                    EventKind::Deleted,
                    EventObject::Folder,
                    top.id.clone(),
                    parent.clone(),
                    None
                ),
            ]
        );
        // the folders' events come after their items'
        let last_item = events.iter().rposition(|e| e.object == EventObject::Item);
        let first_folder = events.iter().position(|e| e.object == EventObject::Folder);
        assert!(last_item < first_folder);
    }
}

/// HardDelete removes everything; a distinguished folder (or one with a distinguished folder
/// under it) is never deleted, in any mode.
#[tokio::test]
async fn hard_delete_and_distinguished_folders() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let (top, _) = projects(&s, &m).await;
    s.delete_folder(&m, id(&top), DeleteMode::Hard, ItemGuard::Any)
        .await
        .unwrap();
    assert!(gone(s.get_folder(&m, id(&top)).await));
    assert!(
        subjects(&s, &m, d("recoverableitemsdeletions"))
            .await
            .is_empty()
    );
    assert!(subjects(&s, &m, d("deleteditems")).await.is_empty());
    for mode in [
        DeleteMode::Hard,
        DeleteMode::Soft,
        DeleteMode::MoveToDeletedItems,
    ] {
        for name in ["inbox", "deleteditems", "recoverableitemspurges", "root"] {
            let e = s
                .delete_folder(&m, d(name), mode, ItemGuard::Any)
                .await
                .unwrap_err();
            assert!(
                matches!(e, MailboxError::DistinguishedFolder(_)),
                "{name}: {e:?}"
            );
            assert_eq!(e.response_code(), "ErrorDeleteDistinguishedFolder");
        }
        let e = s
            .delete_folder(&m, FolderSel::id(top.id.clone()), mode, ItemGuard::Any)
            .await
            .unwrap_err();
        assert!(matches!(e, MailboxError::FolderNotFound), "{e:?}");
    }
}

/// EmptyFolder without DeleteSubFolders: the folder's own normal items go where the mode says,
/// its settings go (nowhere to recover them to; HardDelete removes everything), the subfolder
/// and its items stay, and the folder stays.
#[tokio::test]
async fn empty_folder_without_subfolders_in_every_mode() {
    let cases = [
        (DeleteMode::Hard, None),
        (DeleteMode::Soft, Some("recoverableitemsdeletions")),
        (DeleteMode::MoveToDeletedItems, Some("deleteditems")),
    ];
    for (mode, to) in cases {
        let s = store_with(&["alice"]).await;
        let m = key("alice");
        let (top, sub) = projects(&s, &m).await;
        let before = s.get_folder(&m, id(&top)).await.unwrap();
        s.empty_folder(&m, id(&top), mode, false, ItemGuard::Any)
            .await
            .unwrap();
        let after = s.get_folder(&m, id(&top)).await.unwrap();
        assert_eq!(
            (
                after.total_count,
                after.associated_count,
                after.child_folder_count
            ),
            (0, 0, 1),
            "{mode:?}"
        );
        assert_ne!(after.change_key, before.change_key);
        assert_eq!(subjects(&s, &m, id(&sub)).await, ["c"]);
        if let Some(to) = to {
            assert_eq!(subjects(&s, &m, d(to)).await, ["a", "b"], "{mode:?}");
            assert_eq!(s.get_folder(&m, d(to)).await.unwrap().associated_count, 0);
        }
    }
}

/// EmptyFolder with DeleteSubFolders: HardDelete removes the subfolders, SoftDelete removes them
/// and keeps their items in the dumpster, MoveToDeletedItems moves them whole under Deleted
/// Items (their items with them).
#[tokio::test]
async fn empty_folder_with_subfolders_in_every_mode() {
    for mode in [
        DeleteMode::Hard,
        DeleteMode::Soft,
        DeleteMode::MoveToDeletedItems,
    ] {
        let s = store_with(&["alice"]).await;
        let m = key("alice");
        let (top, sub) = projects(&s, &m).await;
        s.empty_folder(&m, id(&top), mode, true, ItemGuard::Any)
            .await
            .unwrap();
        let after = s.get_folder(&m, id(&top)).await.unwrap();
        assert_eq!((after.total_count, after.child_folder_count), (0, 0));
        let dumpster = subjects(&s, &m, d("recoverableitemsdeletions")).await;
        let deleted = subjects(&s, &m, d("deleteditems")).await;
        match mode {
            DeleteMode::Hard => {
                assert!(gone(s.get_folder(&m, id(&sub)).await));
                assert!(dumpster.is_empty() && deleted.is_empty());
            }
            DeleteMode::Soft => {
                assert!(gone(s.get_folder(&m, id(&sub)).await));
                assert_eq!(dumpster, ["a", "b", "c"]);
            }
            DeleteMode::MoveToDeletedItems => {
                assert_eq!(deleted, ["a", "b"]);
                assert_eq!(child_names(&s, &m, d("deleteditems")).await, ["2026"]);
                assert_eq!(subjects(&s, &m, id(&sub)).await, ["c"]);
                assert!(dumpster.is_empty());
            }
        }
    }
}

/// EmptyFolder on Deleted Items with MoveToDeletedItems empties the wastebasket into the dumpster:
/// its items go to Recoverable Items\Deletions and its subfolders are soft-deleted.
#[tokio::test]
async fn emptying_deleted_items_soft_deletes() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let (top, _) = projects(&s, &m).await;
    s.delete_folder(&m, id(&top), DeleteMode::MoveToDeletedItems, ItemGuard::Any)
        .await
        .unwrap();
    s.create_items(&m, d("deleteditems"), vec![msg("x")])
        .await
        .unwrap();
    // without DeleteSubFolders the folder stays, with its items
    s.empty_folder(
        &m,
        d("deleteditems"),
        DeleteMode::MoveToDeletedItems,
        false,
        ItemGuard::Any,
    )
    .await
    .unwrap();
    assert_eq!(
        subjects(&s, &m, d("recoverableitemsdeletions")).await,
        ["x"]
    );
    assert_eq!(child_names(&s, &m, d("deleteditems")).await, ["Projects"]);
    s.empty_folder(
        &m,
        d("deleteditems"),
        DeleteMode::MoveToDeletedItems,
        true,
        ItemGuard::Any,
    )
    .await
    .unwrap();
    assert!(child_names(&s, &m, d("deleteditems")).await.is_empty());
    assert!(subjects(&s, &m, d("deleteditems")).await.is_empty());
    assert_eq!(
        subjects(&s, &m, d("recoverableitemsdeletions")).await,
        ["a", "b", "c", "x"]
    );
}

/// Under Recoverable Items: a write that may not change anything there
/// ([`ItemGuard::OutsideRecoverableItems`]) is refused and changes nothing; one that may
/// soft-deletes into Purges (what is in the dumpster already), and SoftDelete leaves what is in
/// Purges where it is. A distinguished folder with one under it is never emptied with its
/// subfolders.
#[tokio::test]
async fn recoverable_items_need_the_guard() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let held = folder(&s, &m, d("recoverableitemsdeletions"), "Held").await;
    s.create_items(&m, id(&held), vec![msg("kept")])
        .await
        .unwrap();
    s.create_items(&m, d("recoverableitemspurges"), vec![msg("purged")])
        .await
        .unwrap();
    let before = head(&s, &m).await;
    for mode in [
        DeleteMode::Hard,
        DeleteMode::Soft,
        DeleteMode::MoveToDeletedItems,
    ] {
        let e = s
            .delete_folder(&m, id(&held), mode, ItemGuard::OutsideRecoverableItems)
            .await
            .unwrap_err();
        assert!(matches!(e, MailboxError::InRecoverableItems), "{e:?}");
        for sub in [false, true] {
            let e = s
                .empty_folder(
                    &m,
                    d("recoverableitemspurges"),
                    mode,
                    sub,
                    ItemGuard::OutsideRecoverableItems,
                )
                .await
                .unwrap_err();
            assert!(matches!(e, MailboxError::InRecoverableItems), "{e:?}");
        }
    }
    assert_eq!(head(&s, &m).await, before);
    // allowed: the soft delete of a folder in the dumpster purges its items
    s.delete_folder(&m, id(&held), DeleteMode::Soft, ItemGuard::Any)
        .await
        .unwrap();
    assert_eq!(
        subjects(&s, &m, d("recoverableitemspurges")).await,
        ["kept", "purged"]
    );
    // Purges soft-deleted stays as it is
    s.empty_folder(
        &m,
        d("recoverableitemspurges"),
        DeleteMode::Soft,
        false,
        ItemGuard::Any,
    )
    .await
    .unwrap();
    assert_eq!(subjects(&s, &m, d("recoverableitemspurges")).await.len(), 2);
    // distinguished subfolders: nothing is deleted
    let before = head(&s, &m).await;
    for mode in [
        DeleteMode::Hard,
        DeleteMode::Soft,
        DeleteMode::MoveToDeletedItems,
    ] {
        let e = s
            .empty_folder(&m, d("recoverableitemsroot"), mode, true, ItemGuard::Any)
            .await
            .unwrap_err();
        assert!(matches!(e, MailboxError::DistinguishedFolder(_)), "{e:?}");
        let e = s
            .empty_folder(&m, d("msgfolderroot"), mode, true, ItemGuard::Any)
            .await
            .unwrap_err();
        assert!(matches!(e, MailboxError::DistinguishedFolder(_)), "{e:?}");
    }
    assert_eq!(head(&s, &m).await, before);
}

fn hierarchy(changes: &[FolderChange]) -> Vec<(&'static str, String)> {
    changes
        .iter()
        .map(|c| match c {
            FolderChange::Create(f) => ("create", f.display_name.clone()),
            FolderChange::Update(f) => ("update", f.display_name.clone()),
            FolderChange::Delete { folder_id } => ("delete", folder_id.clone()),
        })
        .collect()
}

/// SyncFolderHierarchy follows moved folders: a folder moved within the synced subtree is an
/// update (its subfolder, which moved with it, is not reported); moved out, it and its subfolder
/// are deletes; moved in, creates; soft-deleted, deletes.
#[tokio::test]
async fn hierarchy_syncs_follow_moved_folders() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let (top, sub) = projects(&s, &m).await;
    let sync = |folder: Option<FolderSel>, state: Option<String>| {
        let s = s.clone();
        let m = m.clone();
        async move {
            let page = s.sync_folder_hierarchy(&m, folder, state).await.unwrap();
            assert!(page.includes_last);
            (hierarchy(&page.changes), page.sync_state)
        }
    };
    let (_, whole) = sync(Some(d("msgfolderroot")), None).await;
    let (listed, inbox) = sync(Some(d("inbox")), None).await;
    assert_eq!(
        listed,
        [("create", "Projects".into()), ("create", "2026".into())]
    );
    let (_, deleted) = sync(Some(d("deleteditems")), None).await;

    s.delete_folder(&m, id(&top), DeleteMode::MoveToDeletedItems, ItemGuard::Any)
        .await
        .unwrap();
    let (changes, whole) = sync(Some(d("msgfolderroot")), Some(whole)).await;
    assert_eq!(changes, [("update", "Projects".into())]);
    let (changes, inbox) = sync(Some(d("inbox")), Some(inbox)).await;
    assert_eq!(
        changes,
        [("delete", top.id.clone()), ("delete", sub.id.clone())]
    );
    let (changes, deleted) = sync(Some(d("deleteditems")), Some(deleted)).await;
    assert_eq!(
        changes,
        [("create", "Projects".into()), ("create", "2026".into())]
    );

    // then out of the tree: deletes wherever it was seen, nothing where it never was
    s.delete_folder(&m, id(&top), DeleteMode::Soft, ItemGuard::Any)
        .await
        .unwrap();
    let (changes, _) = sync(Some(d("msgfolderroot")), Some(whole)).await;
    assert_eq!(
        changes,
        [("delete", sub.id.clone()), ("delete", top.id.clone())]
    );
    let (changes, _) = sync(Some(d("deleteditems")), Some(deleted)).await;
    assert_eq!(
        changes,
        [("delete", sub.id.clone()), ("delete", top.id.clone())]
    );
    let (changes, _) = sync(Some(d("inbox")), Some(inbox)).await;
    assert!(changes.is_empty(), "{changes:?}");
}

/// Folder events share the item log's one sequence: created, renamed, moved and deleted folders
/// come in order with item events, and a watermark taken between them reads on from there.
#[tokio::test]
async fn folder_events_are_in_the_item_log_in_order() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
    let deleted = s.get_folder(&m, d("deleteditems")).await.unwrap();
    // a new mailbox's item log starts empty (its default folders are in the folder log only)
    assert_eq!(head(&s, &m).await, 0);
    let f = folder(&s, &m, d("inbox"), "F").await;
    let item = s.create_items(&m, id(&f), vec![msg("in f")]).await.unwrap();
    let mid = head(&s, &m).await;
    s.update_folder(&m, id(&f), None, Some("G".into()), None)
        .await
        .unwrap();
    // an update that changes nothing is no event
    s.update_folder(&m, id(&f), None, None, None).await.unwrap();
    s.delete_folder(&m, id(&f), DeleteMode::MoveToDeletedItems, ItemGuard::Any)
        .await
        .unwrap();
    s.delete_folder(&m, id(&f), DeleteMode::Hard, ItemGuard::Any)
        .await
        .unwrap();
    let all = s.events_since(&m, 0, 100).await.unwrap();
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let want = [
        (
            EventKind::Created,
            EventObject::Folder,
            f.id.clone(),
            inbox.id.clone(),
            None,
        ),
        (
            EventKind::Created,
            EventObject::Item,
            item[0].id.clone(),
            f.id.clone(),
            None,
        ),
        (
            EventKind::Modified,
            EventObject::Folder,
            f.id.clone(),
            inbox.id.clone(),
            None,
        ),
        (
            EventKind::Moved,
            EventObject::Folder,
            f.id.clone(),
            deleted.id.clone(),
            Some(inbox.id.clone()),
        ),
        (
            EventKind::Deleted,
            EventObject::Item,
            item[0].id.clone(),
            f.id.clone(),
            None,
        ),
        (
            EventKind::Deleted,
            EventObject::Folder,
            f.id.clone(),
            deleted.id.clone(),
            None,
        ),
    ];
    assert_eq!(shape(&all), want);
    // from a watermark in the middle: the rest, in order
    let rest = s.events_since(&m, mid, 100).await.unwrap();
    assert_eq!(shape(&rest), want[2..]);
}
