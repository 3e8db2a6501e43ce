mod common;

use std::collections::HashMap;

use common::*;
use mailbox::{EventObject, FolderSel, MailboxError, Paging, distinguished};

#[tokio::test]
async fn default_tree_resolves_and_is_shaped_right() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let mut by_name = HashMap::new();
    for name in distinguished::ALL {
        let f = s.get_folder(&m, d(name)).await.unwrap();
        assert_eq!(f.distinguished.as_deref(), Some(*name));
        assert_eq!(
            (f.total_count, f.unread_count, f.associated_count),
            (0, 0, 0)
        );
        // the same folder again, by id
        let again = s.get_folder(&m, FolderSel::id(f.id.clone())).await.unwrap();
        assert_eq!(again, f);
        by_name.insert(*name, f);
    }
    let root = &by_name["root"];
    assert_eq!(root.parent_id, None);
    assert_eq!(root.display_name, "root");
    let ipm = &by_name["msgfolderroot"];
    assert_eq!(ipm.display_name, "Top of Information Store");
    assert_eq!(ipm.parent_id.as_ref(), Some(&root.id));
    for n in [
        "inbox",
        "conversationhistory",
        "voicemail",
        "calendar",
        "deleteditems",
    ] {
        assert_eq!(by_name[n].parent_id.as_ref(), Some(&ipm.id), "{n}");
    }
    assert_eq!(
        by_name["conversationhistory"].display_name,
        "Conversation History"
    );
    assert_eq!(
        by_name["conversationhistory"].folder_class.as_deref(),
        Some("IPF.Note")
    );
    assert_eq!(
        by_name["calendar"].folder_class.as_deref(),
        Some("IPF.Appointment")
    );
    assert_eq!(
        by_name["voicemail"].folder_class.as_deref(),
        Some("IPF.Note.Microsoft.Voicemail")
    );
    // Recoverable Items sits under root, outside the IPM subtree.
    let rir = &by_name["recoverableitemsroot"];
    assert_eq!(rir.parent_id.as_ref(), Some(&root.id));
    assert_eq!(rir.display_name, "Recoverable Items");
    assert_eq!(rir.child_folder_count, 4);
    for (n, display) in [
        ("recoverableitemsdeletions", "Deletions"),
        ("recoverableitemsversions", "Versions"),
        ("recoverableitemspurges", "Purges"),
        ("recoverableitemsdiscoveryholds", "DiscoveryHolds"),
    ] {
        assert_eq!(by_name[n].parent_id.as_ref(), Some(&rir.id), "{n}");
        assert_eq!(by_name[n].display_name, display);
    }
    assert_eq!(root.child_folder_count, 3); // msgfolderroot, Recoverable Items, Finder
    assert_eq!(ipm.child_folder_count, 13);
    // Deep find under msgfolderroot never reaches Recoverable Items.
    let ipm_tree = s
        .find_folders(&m, d("msgfolderroot"), true, Paging::default())
        .await
        .unwrap();
    assert!(ipm_tree.items.iter().all(|f| {
        !f.distinguished
            .as_deref()
            .unwrap_or("")
            .starts_with("recoverable")
    }));
}

#[tokio::test]
async fn deep_find_lists_everything_with_parents_before_children() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let root = s.get_folder(&m, d("root")).await.unwrap();
    let page = s
        .find_folders(&m, d("root"), true, Paging::default())
        .await
        .unwrap();
    assert_eq!(page.total, distinguished::ALL.len() - 1);
    assert_eq!(page.items.len(), page.total);
    assert!(page.includes_last);
    assert_eq!(page.offset, 0);
    let mut seen = vec![root.id.clone()];
    for f in &page.items {
        let parent = f.parent_id.as_ref().expect("only root has no parent");
        assert!(
            seen.contains(parent),
            "{} listed before its parent",
            f.display_name
        );
        seen.push(f.id.clone());
    }
    // Depth-first with siblings by name: the IPM subtree is contiguous and sorted.
    let names: Vec<&str> = page.items.iter().map(|f| f.display_name.as_str()).collect();
    assert_eq!(names[0], "Finder");
    assert_eq!(names[1], "Recoverable Items");
    assert_eq!(
        &names[2..6],
        ["Deletions", "DiscoveryHolds", "Purges", "Versions"]
    );
    assert_eq!(names[6], "Top of Information Store");
    let ipm_children = &names[7..];
    let mut sorted = ipm_children.to_vec();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(ipm_children, sorted.as_slice());

    // Shallow lists direct children only.
    let shallow = s
        .find_folders(&m, d("root"), false, Paging::default())
        .await
        .unwrap();
    let names: Vec<&str> = shallow
        .items
        .iter()
        .map(|f| f.display_name.as_str())
        .collect();
    assert_eq!(
        names,
        ["Finder", "Recoverable Items", "Top of Information Store"]
    );

    // Paging over the deep list reassembles it.
    let mut paged = Vec::new();
    let mut offset = 0;
    loop {
        let p = s
            .find_folders(&m, d("root"), true, Paging::at(offset, 3))
            .await
            .unwrap();
        assert_eq!(p.total, page.total);
        assert_eq!(p.offset, offset);
        offset += p.items.len();
        paged.extend(p.items);
        if p.includes_last {
            break;
        }
    }
    assert_eq!(paged, page.items);
    // An empty subtree.
    let none = s
        .find_folders(&m, d("inbox"), true, Paging::default())
        .await
        .unwrap();
    assert_eq!(
        (none.total, none.items.len(), none.includes_last),
        (0, 0, true)
    );
}

#[tokio::test]
async fn ensure_mailbox_is_idempotent() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let before = s.counters(&m).await.unwrap();
    assert_eq!(before.change_number, distinguished::ALL.len() as u64);
    assert!(!s.ensure_mailbox(&m).await.unwrap());
    assert_eq!(s.counters(&m).await.unwrap(), before);
    let all = s
        .find_folders(&m, d("root"), true, Paging::default())
        .await
        .unwrap();
    assert_eq!(all.total, distinguished::ALL.len() - 1);
    assert!(s.mailbox_exists(&m).await.unwrap());
    assert!(!s.mailbox_exists(&key("nobody")).await.unwrap());
}

#[tokio::test]
async fn unknown_mailbox_and_folders() {
    let s = store_with(&["alice", "bob"]).await;
    let alice = key("alice");
    let bob = key("bob");
    let err = s.get_folder(&key("carol"), d("inbox")).await.unwrap_err();
    assert!(matches!(err, MailboxError::MailboxNotFound(_)));
    assert_eq!(err.response_code(), "ErrorNonExistentMailbox");
    let err = s
        .get_folder(&alice, d("publicfoldersroot"))
        .await
        .unwrap_err();
    assert_eq!(err.response_code(), "ErrorFolderNotFound");
    // distinguished names are exact (the EWS enumeration is lower-case)
    assert!(s.get_folder(&alice, d("Inbox")).await.is_err());
    // Bob's inbox id presented against Alice's mailbox: not found, not Bob's folder.
    let bob_inbox = s.get_folder(&bob, d("inbox")).await.unwrap();
    let err = s
        .get_folder(&alice, FolderSel::id(bob_inbox.id.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::FolderNotFound));
    // Garbage ids are malformed.
    for junk in ["", "F-purges", "AAAA", "not base64!", "AQ"] {
        let err = s.get_folder(&alice, FolderSel::id(junk)).await.unwrap_err();
        assert_eq!(err.response_code(), "ErrorInvalidIdMalformed", "{junk:?}");
    }
    // An item id is not a folder id.
    let item = s
        .create_items(&alice, d("inbox"), vec![msg("x")])
        .await
        .unwrap()
        .remove(0);
    let err = s
        .get_folder(&alice, FolderSel::id(item.id))
        .await
        .unwrap_err();
    assert_eq!(err.response_code(), "ErrorInvalidIdMalformed");
    assert_eq!(mailbox::mailbox_of_id(&bob_inbox.id).unwrap(), bob);
}

#[tokio::test]
async fn create_folder_and_name_conflicts() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
    let f = s
        .create_folder(&m, d("inbox"), "Projects".into(), Some("IPF.Note".into()))
        .await
        .unwrap();
    assert_eq!(f.parent_id.as_ref(), Some(&inbox.id));
    assert_eq!(f.distinguished, None);
    let inbox_after = s.get_folder(&m, d("inbox")).await.unwrap();
    assert_eq!(inbox_after.child_folder_count, 1);
    assert_ne!(inbox_after.change_key, inbox.change_key);
    let err = s
        .create_folder(&m, d("inbox"), "PROJECTS".into(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::FolderExists(_)));
    assert_eq!(err.response_code(), "ErrorFolderExists");
    // Same name elsewhere is fine; nested creation by id works.
    s.create_folder(&m, d("drafts"), "Projects".into(), None)
        .await
        .unwrap();
    let sub = s
        .create_folder(&m, FolderSel::id(f.id.clone()), "2024".into(), None)
        .await
        .unwrap();
    assert_eq!(sub.parent_id.as_ref(), Some(&f.id));
    for bad in ["", "a\nb"] {
        let err = s
            .create_folder(&m, d("inbox"), bad.into(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, MailboxError::InvalidValue(_)), "{bad:?}");
    }
}

/// UpdateFolder: a rename and a class change keep the folder in place under a new change key;
/// a malformed key, a sibling's name or a distinguished folder are refused and change nothing;
/// a stale key is not (the last write wins).
#[tokio::test]
async fn update_folder_renames_in_place() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let f = s
        .create_folder(&m, d("inbox"), "Projects".into(), None)
        .await
        .unwrap();
    s.create_folder(&m, d("inbox"), "Archive".into(), None)
        .await
        .unwrap();
    let id = || FolderSel::id(f.id.clone());
    let renamed = s
        .update_folder(
            &m,
            id(),
            Some(f.change_key.clone()),
            Some("Skype projects".into()),
            Some(Some("IPF.Note.Skype".into())),
        )
        .await
        .unwrap();
    assert_eq!(renamed.id, f.id);
    assert_eq!(renamed.parent_id, f.parent_id);
    assert_eq!(renamed.display_name, "Skype projects");
    assert_eq!(renamed.folder_class.as_deref(), Some("IPF.Note.Skype"));
    assert_ne!(renamed.change_key, f.change_key);
    // the key it was read at is stale now, which does not refuse the rename; a malformed one does
    let e = s
        .update_folder(&m, id(), Some("not-a-key".into()), Some("x".into()), None)
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::InvalidChangeKey), "{e:?}");
    let stale = s
        .update_folder(
            &m,
            id(),
            Some(f.change_key.clone()),
            Some("Skype".into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(stale.display_name, "Skype");
    // a sibling's name (any case), a bad name, a distinguished folder
    let e = s
        .update_folder(&m, id(), None, Some("ARCHIVE".into()), None)
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::FolderExists(_)), "{e:?}");
    let e = s
        .update_folder(&m, id(), None, Some(String::new()), None)
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::InvalidValue(_)), "{e:?}");
    let e = s
        .update_folder(&m, d("inbox"), None, Some("Mail".into()), None)
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::InvalidValue(_)), "{e:?}");
    // a change of nothing (exchangelib's save of a folder it did not change) is not refused
    let inbox = s
        .update_folder(&m, d("inbox"), None, None, None)
        .await
        .unwrap();
    assert_eq!(inbox.display_name, "Inbox");
    // its own name in another case is fine, and the class can be removed
    let again = s
        .update_folder(&m, id(), None, Some("SKYPE projects".into()), Some(None))
        .await
        .unwrap();
    assert_eq!(again.display_name, "SKYPE projects");
    assert_eq!(again.folder_class, None);
    assert_eq!(
        s.get_folder(&m, d("inbox")).await.unwrap().display_name,
        "Inbox"
    );
}

/// DeleteFolder (hard): the folder, its subfolders and every item under them go in one
/// transaction, each item with a `Deleted` event; distinguished folders stay.
#[tokio::test]
async fn delete_folder_takes_its_subtree_and_spares_distinguished_ones() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let top = s
        .create_folder(&m, d("inbox"), "Projects".into(), None)
        .await
        .unwrap();
    let sub = s
        .create_folder(&m, FolderSel::id(top.id.clone()), "2026".into(), None)
        .await
        .unwrap();
    let in_top = s
        .create_items(&m, FolderSel::id(top.id.clone()), vec![msg("a"), msg("b")])
        .await
        .unwrap();
    let in_sub = s
        .create_items(&m, FolderSel::id(sub.id.clone()), vec![msg("c")])
        .await
        .unwrap();
    let kept = s
        .create_items(&m, d("inbox"), vec![msg("kept")])
        .await
        .unwrap();
    let before = s.counters(&m).await.unwrap().last_event_seq;
    let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
    assert_eq!(inbox.child_folder_count, 1);

    s.delete_folder(
        &m,
        FolderSel::id(top.id.clone()),
        mailbox::DeleteMode::Hard,
        mailbox::ItemGuard::Any,
    )
    .await
    .unwrap();
    for f in [&top, &sub] {
        let e = s
            .get_folder(&m, FolderSel::id(f.id.clone()))
            .await
            .unwrap_err();
        assert!(matches!(e, MailboxError::FolderNotFound), "{e:?}");
    }
    let gone: Vec<String> = in_top.iter().chain(&in_sub).map(|i| i.id.clone()).collect();
    for r in s.get_items(&m, gone.clone()).await.unwrap() {
        assert!(matches!(r, Err(MailboxError::ItemNotFound)), "{r:?}");
    }
    let events = s.events_since(&m, before, 100).await.unwrap();
    let mut deleted: Vec<String> = events
        .iter()
        .filter(|e| e.kind == mailbox::EventKind::Deleted && e.object == EventObject::Item)
        .map(|e| e.item_id.clone())
        .collect();
    // and the folders, deepest first, as folder events in the same log
    let folders: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e.object == EventObject::Folder)
        .map(|e| (e.item_id.as_str(), e.folder_id.as_str()))
        .collect();
    assert_eq!(
        folders,
        [
            (sub.id.as_str(), top.id.as_str()),
            (top.id.as_str(), inbox.id.as_str())
        ]
    );
    assert!(
        events
            .iter()
            .filter(|e| e.object == EventObject::Folder)
            .all(|e| e.kind == mailbox::EventKind::Deleted)
    );
    deleted.sort();
    let mut expected = gone;
    expected.sort();
    assert_eq!(deleted, expected);
    // the parent: one child fewer, its own item untouched, a new change key
    let after = s.get_folder(&m, d("inbox")).await.unwrap();
    assert_eq!((after.child_folder_count, after.total_count), (0, 1));
    assert_ne!(after.change_key, inbox.change_key);
    assert!(s.get_items(&m, vec![kept[0].id.clone()]).await.unwrap()[0].is_ok());
    // the name is free again
    s.create_folder(&m, d("inbox"), "Projects".into(), None)
        .await
        .unwrap();
    // distinguished folders, and ones already gone
    for name in ["inbox", "recoverableitemsroot", "root"] {
        let e = s
            .delete_folder(
                &m,
                d(name),
                mailbox::DeleteMode::Hard,
                mailbox::ItemGuard::Any,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, MailboxError::DistinguishedFolder(_)),
            "{name}: {e:?}"
        );
        assert_eq!(e.response_code(), "ErrorDeleteDistinguishedFolder");
    }
    let e = s
        .delete_folder(
            &m,
            FolderSel::id(top.id.clone()),
            mailbox::DeleteMode::Hard,
            mailbox::ItemGuard::Any,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::FolderNotFound), "{e:?}");
}

/// EmptyFolder (hard): the folder's items go, each with a `Deleted` event, and with subfolders
/// its subfolders too; the folder stays, and a distinguished one may be emptied.
#[tokio::test]
async fn empty_folder_keeps_the_folder() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let sub = s
        .create_folder(&m, d("inbox"), "Projects".into(), None)
        .await
        .unwrap();
    let in_sub = s
        .create_items(&m, FolderSel::id(sub.id.clone()), vec![msg("deep")])
        .await
        .unwrap();
    let in_inbox = s
        .create_items(&m, d("inbox"), vec![msg("a"), msg("b")])
        .await
        .unwrap();
    let before = s.counters(&m).await.unwrap().last_event_seq;
    s.empty_folder(
        &m,
        d("inbox"),
        mailbox::DeleteMode::Hard,
        false,
        mailbox::ItemGuard::Any,
    )
    .await
    .unwrap();
    let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
    assert_eq!((inbox.total_count, inbox.child_folder_count), (0, 1));
    let events = s.events_since(&m, before, 10).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.kind == mailbox::EventKind::Deleted));
    // the subfolder and its item are still there
    assert!(s.get_items(&m, vec![in_sub[0].id.clone()]).await.unwrap()[0].is_ok());
    assert!(matches!(
        s.get_items(&m, vec![in_inbox[0].id.clone()]).await.unwrap()[0],
        Err(MailboxError::ItemNotFound)
    ));
    // with subfolders, they go too
    s.empty_folder(
        &m,
        d("inbox"),
        mailbox::DeleteMode::Hard,
        true,
        mailbox::ItemGuard::Any,
    )
    .await
    .unwrap();
    let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
    assert_eq!(inbox.child_folder_count, 0);
    assert!(matches!(
        s.get_folder(&m, FolderSel::id(sub.id.clone()))
            .await
            .unwrap_err(),
        MailboxError::FolderNotFound
    ));
    // a folder with distinguished subfolders keeps everything
    let e = s
        .empty_folder(
            &m,
            d("recoverableitemsroot"),
            mailbox::DeleteMode::Hard,
            true,
            mailbox::ItemGuard::Any,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::DistinguishedFolder(_)), "{e:?}");
}

#[tokio::test]
async fn lineage_names_the_distinguished_ancestors_without_counting() {
    let store = store_with(&["alice"]).await;
    let mb = key("alice");
    let l = store
        .folder_lineage(&mb, FolderSel::distinguished("recoverableitemspurges"))
        .await
        .unwrap();
    assert_eq!(
        l,
        vec![
            Some("recoverableitemspurges".to_owned()),
            Some("recoverableitemsroot".to_owned()),
            Some("root".to_owned())
        ]
    );
    let l = store
        .folder_lineage(&mb, FolderSel::distinguished("conversationhistory"))
        .await
        .unwrap();
    assert_eq!(
        l,
        vec![
            Some("conversationhistory".to_owned()),
            Some("msgfolderroot".to_owned()),
            Some("root".to_owned())
        ]
    );
    let sub = store
        .create_folder(
            &mb,
            FolderSel::distinguished("recoverableitemsdeletions"),
            "Sub".into(),
            None,
        )
        .await
        .unwrap();
    let l = store
        .folder_lineage(&mb, FolderSel::Id(sub.id))
        .await
        .unwrap();
    assert_eq!(l[0], None);
    assert_eq!(l[1].as_deref(), Some("recoverableitemsdeletions"));
    assert!(matches!(
        store
            .folder_lineage(&mb, FolderSel::Id("garbage".into()))
            .await,
        Err(MailboxError::InvalidIdMalformed(_))
    ));
}

/// MoveFolder: a folder moves whole (its subfolder and items keep their ids) in one
/// transaction; a distinguished folder, a destination under the folder itself, a name the
/// destination has, Recoverable Items and nesting too deep are refused, moving nothing.
#[tokio::test]
async fn a_folder_moves_whole_and_the_refusals_move_nothing() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let projects = s
        .create_folder(&m, d("inbox"), "Projects".into(), None)
        .await
        .unwrap();
    let sub = s
        .create_folder(&m, FolderSel::Id(projects.id.clone()), "Old".into(), None)
        .await
        .unwrap();
    let item = s
        .create_items(&m, FolderSel::Id(sub.id.clone()), vec![msg("kept")])
        .await
        .unwrap()
        .remove(0);
    let to = s.get_folder(&m, d("msgfolderroot")).await.unwrap();
    let moved = s
        .move_folder(
            &m,
            FolderSel::Id(projects.id.clone()),
            FolderSel::Id(to.id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(moved.id, projects.id);
    assert_eq!(moved.parent_id.as_deref(), Some(to.id.as_str()));
    assert_ne!(moved.change_key, projects.change_key);
    let sub_now = s
        .get_folder(&m, FolderSel::Id(sub.id.clone()))
        .await
        .unwrap();
    assert_eq!(sub_now.parent_id.as_deref(), Some(projects.id.as_str()));
    assert_eq!(sub_now.total_count, 1);
    assert_eq!(s.get_item(&m, &item.id).await.unwrap().folder_id, sub.id);
    // again to where it is: nothing changes
    let same = s
        .move_folder(
            &m,
            FolderSel::Id(projects.id.clone()),
            FolderSel::Id(to.id.clone()),
        )
        .await
        .unwrap();
    assert_eq!(same.change_key, moved.change_key);

    let refused = |e: MailboxError| e.response_code();
    let move_to = |f: &str, t: FolderSel| s.move_folder(&m, FolderSel::Id(f.to_owned()), t);
    // distinguished
    let e = s
        .move_folder(&m, d("inbox"), d("drafts"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, MailboxError::DistinguishedFolder(ref n) if n == "inbox"),
        "{e:?}"
    );
    // under itself, or a folder under it
    for t in [&projects.id, &sub.id] {
        let e = move_to(&projects.id, FolderSel::Id(t.clone()))
            .await
            .unwrap_err();
        assert_eq!(refused(e), "ErrorMoveCopyFailed");
    }
    // a name the destination has (case-insensitively)
    s.create_folder(&m, d("drafts"), "OLD".into(), None)
        .await
        .unwrap();
    let e = move_to(&sub.id, d("drafts")).await.unwrap_err();
    assert!(
        matches!(e, MailboxError::FolderExists(ref n) if n == "Old"),
        "{e:?}"
    );
    // into or out of Recoverable Items
    let e = move_to(&sub.id, d("recoverableitemspurges"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Recoverable Items"), "{e}");
    let hidden = s
        .create_folder(&m, d("recoverableitemspurges"), "hidden".into(), None)
        .await
        .unwrap();
    let e = move_to(&hidden.id, d("inbox")).await.unwrap_err();
    assert!(e.to_string().contains("Recoverable Items"), "{e}");
    // nothing moved
    let sub_now = s
        .get_folder(&m, FolderSel::Id(sub.id.clone()))
        .await
        .unwrap();
    assert_eq!(sub_now.parent_id.as_deref(), Some(projects.id.as_str()));

    // nesting: a chain as deep as allowed, and no deeper by creating or moving
    let mut parent = d("inbox");
    let mut depth = s.folder_lineage(&m, d("inbox")).await.unwrap().len() - 1;
    let mut last = String::new();
    while depth < mailbox::limits::MAX_FOLDER_DEPTH {
        let f = s
            .create_folder(&m, parent, format!("level {depth}"), None)
            .await
            .unwrap();
        last = f.id.clone();
        parent = FolderSel::Id(f.id);
        depth += 1;
    }
    let e = s
        .create_folder(&m, FolderSel::Id(last.clone()), "one too many".into(), None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("nest at most"), "{e}");
    let e = move_to(&sub.id, FolderSel::Id(last)).await.unwrap_err();
    assert!(e.to_string().contains("nest at most"), "{e}");
}

/// CopyFolder: the folder and its subfolder copied with their items and associated items (new
/// ids, `Created` events for each), the original left as it was; more items than one copy
/// takes is refused, copying nothing.
#[tokio::test]
async fn a_folder_copies_whole_and_a_too_large_one_not_at_all() {
    use mailbox::limits::MAX_COPY_FOLDER_ITEMS;
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let top = s
        .create_folder(&m, d("inbox"), "Projects".into(), None)
        .await
        .unwrap();
    let sub = s
        .create_folder(&m, FolderSel::Id(top.id.clone()), "Old".into(), None)
        .await
        .unwrap();
    let mut fai = msg("view settings");
    fai.is_associated = true;
    s.create_items(&m, FolderSel::Id(top.id.clone()), vec![msg("a"), fai])
        .await
        .unwrap();
    let kept = s
        .create_items(&m, FolderSel::Id(sub.id.clone()), vec![msg("b")])
        .await
        .unwrap()
        .remove(0);
    let before = s.events_since(&m, 0, 1000).await.unwrap().len();
    let copy = s
        .copy_folder(&m, FolderSel::Id(top.id.clone()), d("drafts"))
        .await
        .unwrap();
    assert_ne!(copy.id, top.id);
    assert_eq!(copy.display_name, "Projects");
    assert_eq!(
        (
            copy.total_count,
            copy.associated_count,
            copy.child_folder_count
        ),
        (1, 1, 1)
    );
    let events = s.events_since(&m, before as u64, 1000).await.unwrap();
    // two folders and three items created
    assert_eq!(events.len(), 5, "{events:?}");
    assert!(events.iter().all(|e| e.kind == mailbox::EventKind::Created));
    // the original as it was
    let original = s
        .get_folder(&m, FolderSel::Id(sub.id.clone()))
        .await
        .unwrap();
    assert_eq!(original.parent_id.as_deref(), Some(top.id.as_str()));
    assert_eq!(s.get_item(&m, &kept.id).await.unwrap().folder_id, sub.id);

    // too many items: refused before anything is written
    let big = s
        .create_folder(&m, d("inbox"), "Big".into(), None)
        .await
        .unwrap();
    let all: Vec<usize> = (0..=MAX_COPY_FOLDER_ITEMS).collect();
    for chunk in all.chunks(1000) {
        let items = chunk.iter().map(|i| msg(&format!("m{i}"))).collect();
        s.create_items(&m, FolderSel::Id(big.id.clone()), items)
            .await
            .unwrap();
    }
    let e = s
        .copy_folder(&m, FolderSel::Id(big.id.clone()), d("drafts"))
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::TooLarge { .. }), "{e:?}");
    let drafts = s.get_folder(&m, d("drafts")).await.unwrap();
    assert_eq!(drafts.child_folder_count, 1, "only the first copy");
}
