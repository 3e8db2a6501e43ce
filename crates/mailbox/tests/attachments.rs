//! File attachments against a real store: stored with their item (CreateItem) or added to it
//! later, read with their content, deleted; carried by moves and copies, gone with their item;
//! bounded; and every addition or deletion a change of the item (change key, `Modified` event,
//! sync).

mod common;

use common::*;
use mailbox::limits::{MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS_PER_ITEM, MAX_ITEM_ATTACHMENT_BYTES};
use mailbox::{
    DeleteMode, EventKind, FolderSel, ItemChange, ItemGuard, ItemSync, MailboxError, MailboxKey,
    MailboxStore, NewAttachment, NewItem, SyncScope,
};

fn file(name: &str, content: &[u8]) -> NewAttachment {
    NewAttachment {
        name: Some(name.into()),
        content_type: Some("application/octet-stream".into()),
        content: content.to_vec(),
        ..NewAttachment::default()
    }
}

fn inline(name: &str, cid: &str, content: &[u8]) -> NewAttachment {
    NewAttachment {
        content_id: Some(cid.into()),
        is_inline: true,
        content_type: Some("image/png".into()),
        ..file(name, content)
    }
}

fn voicemail() -> NewItem {
    NewItem {
        item_class: "IPM.Note.Microsoft.Voicemail.UM.CA".into(),
        attachments: vec![
            NewAttachment {
                content_type: Some("audio/wav".into()),
                ..file("audio.wav", b"RIFF....WAVEfmt ")
            },
            inline("logo.png", "logo@contoso.example", b"\x89PNG"),
        ],
        ..msg("Voice mail from Bob")
    }
}

/// The item as GetItem reads it (content and attachment list loaded).
async fn get(s: &MailboxStore, m: &MailboxKey, id: &str) -> mailbox::Item {
    s.get_items(m, vec![id.to_owned()])
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap()
}

async fn contents(
    s: &MailboxStore,
    m: &MailboxKey,
    ids: &[String],
) -> Vec<Result<Vec<u8>, String>> {
    s.get_attachments(m, ids.to_vec())
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            r.map(|a| a.content)
                .map_err(|e| e.response_code().to_owned())
        })
        .collect()
}

async fn last_event(s: &MailboxStore, m: &MailboxKey) -> (u64, EventKind, String) {
    let n = s.counters(m).await.unwrap().last_event_seq;
    let e = s.events_since(m, n - 1, 1).await.unwrap().pop().unwrap();
    (e.seq, e.kind, e.item_id)
}

/// Subject + body + ... as the item stores them, without attachments.
fn own_size(item: &NewItem) -> u64 {
    (item.subject.as_ref().map_or(0, String::len)
        + item.body.as_ref().map_or(0, |b| b.content.len())) as u64
}

#[tokio::test]
async fn attachments_are_stored_with_their_item() {
    let m = key("alice");
    let s = store_with(&["alice"]).await;
    let new = voicemail();
    let item = s
        .create_items(&m, d("voicemail"), vec![new.clone()])
        .await
        .unwrap()
        .pop()
        .unwrap();
    // listed in the order sent, without content; the item's size counts them
    let names: Vec<_> = item
        .attachments
        .iter()
        .map(|a| a.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["audio.wav", "logo.png"]);
    assert!(item.has_attachments);
    assert_eq!(item.attachments[0].size, 16);
    assert_eq!(
        item.attachments[0].content_type.as_deref(),
        Some("audio/wav")
    );
    assert!(!item.attachments[0].is_inline);
    assert!(item.attachments[1].is_inline);
    assert_eq!(
        item.attachments[1].content_id.as_deref(),
        Some("logo@contoso.example")
    );
    assert_eq!(item.size, own_size(&new) + 16 + 4);
    // GetItem reads the same; the ids are distinct and opaque
    let read = get(&s, &m, &item.id).await;
    assert_eq!(read.attachments, item.attachments);
    assert_ne!(item.attachments[0].id, item.attachments[1].id);
    assert_ne!(item.attachments[0].id, item.id);
    // FindItem knows it has attachments without listing them
    let page = s
        .find_items(&m, d("voicemail"), mailbox::FindSpec::default())
        .await
        .unwrap();
    assert!(page.items[0].has_attachments);
    assert!(page.items[0].attachments.is_empty());
    assert_eq!(page.items[0].size, item.size);
    // GetAttachment gives the content
    let ids: Vec<String> = item.attachments.iter().map(|a| a.id.clone()).collect();
    assert_eq!(
        contents(&s, &m, &ids).await,
        [Ok(b"RIFF....WAVEfmt ".to_vec()), Ok(b"\x89PNG".to_vec())]
    );
    let got = s.get_attachments(&m, ids[..1].to_vec()).await.unwrap();
    assert_eq!(got[0].as_ref().unwrap().info, item.attachments[0]);
}

/// As Exchange reports it: inline attachments alone (images the body shows) are no attachments.
#[tokio::test]
async fn has_attachments_counts_attachments_that_are_not_inline() {
    let m = key("alice");
    let s = store_with(&["alice"]).await;
    let plain = s
        .create_items(&m, d("inbox"), vec![msg("no attachments")])
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(!plain.has_attachments && plain.attachments.is_empty());
    let only_inline = NewItem {
        attachments: vec![inline("logo.png", "logo@x", b"png")],
        ..msg("newsletter")
    };
    let item = s
        .create_items(&m, d("inbox"), vec![only_inline])
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert!(!item.has_attachments);
    assert_eq!(item.attachments.len(), 1);
    let added = s
        .create_attachments(
            &m,
            item.id.clone(),
            vec![file("a.txt", b"a")],
            ItemGuard::Any,
        )
        .await
        .unwrap();
    assert!(get(&s, &m, &item.id).await.has_attachments);
    let id = added.results[0].as_ref().unwrap().id.clone();
    s.delete_attachments(&m, vec![id], ItemGuard::Any)
        .await
        .unwrap();
    assert!(!get(&s, &m, &item.id).await.has_attachments);
}

#[tokio::test]
async fn adding_and_deleting_change_the_item() {
    let m = key("alice");
    let s = store_with(&["alice"]).await;
    let item = s
        .create_items(&m, d("inbox"), vec![msg("report")])
        .await
        .unwrap()
        .pop()
        .unwrap();
    let folder_before = s.get_folder(&m, d("inbox")).await.unwrap();
    let before = s.counters(&m).await.unwrap();
    let added = s
        .create_attachments(
            &m,
            item.id.clone(),
            vec![file("a.txt", b"first"), file("b.txt", b"second!")],
            ItemGuard::Any,
        )
        .await
        .unwrap();
    // one change for the call: a new change key, one Modified event, the folder bumped
    assert_eq!(added.root.item_id, item.id);
    assert_ne!(added.root.change_key, item.change_key);
    let after = s.counters(&m).await.unwrap();
    assert_eq!(after.last_event_seq, before.last_event_seq + 1);
    assert_eq!(
        last_event(&s, &m).await,
        (after.last_event_seq, EventKind::Modified, item.id.clone())
    );
    assert_ne!(
        s.get_folder(&m, d("inbox")).await.unwrap().change_key,
        folder_before.change_key
    );
    let read = get(&s, &m, &item.id).await;
    assert_eq!(read.change_key, added.root.change_key);
    assert_eq!(read.size, item.size + 5 + 7);
    assert!(read.last_modified_time > item.last_modified_time);
    let ids: Vec<String> = added
        .results
        .iter()
        .map(|r| r.as_ref().unwrap().id.clone())
        .collect();
    assert_eq!(
        read.attachments
            .iter()
            .map(|a| a.id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    // the old change key is stale now
    let stale = s
        .update_item(
            &m,
            item.id.clone(),
            Some(item.change_key.clone()),
            mailbox::ItemUpdate {
                is_read: Some(true),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(stale, Err(MailboxError::ChangeKeyConflict)));
    // an update keeps the attachments in the size
    let updated = s
        .update_item(
            &m,
            item.id.clone(),
            None,
            mailbox::ItemUpdate {
                subject: Some(Some("report v2".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.size, read.size + 3);

    // deleting one: each success names the item with its new change key, one event
    let seq = s.counters(&m).await.unwrap().last_event_seq;
    let deleted = s
        .delete_attachments(&m, vec![ids[0].clone(), ids[0].clone()], ItemGuard::Any)
        .await
        .unwrap();
    let root = deleted[0].as_ref().unwrap();
    assert_eq!(root.item_id, item.id);
    assert_ne!(root.change_key, updated.change_key);
    assert!(
        matches!(deleted[1], Err(MailboxError::ItemNotFound)),
        "{deleted:?}"
    );
    assert_eq!(s.counters(&m).await.unwrap().last_event_seq, seq + 1);
    assert_eq!(last_event(&s, &m).await.1, EventKind::Modified);
    let read = get(&s, &m, &item.id).await;
    assert_eq!(read.change_key, root.change_key);
    assert_eq!(read.size, updated.size - 5);
    assert_eq!(read.attachments.len(), 1);
    assert_eq!(
        contents(&s, &m, &ids).await,
        [Err("ErrorItemNotFound".to_owned()), Ok(b"second!".to_vec())]
    );
    // a call that deletes nothing changes nothing
    let seq = s.counters(&m).await.unwrap().last_event_seq;
    let none = s
        .delete_attachments(&m, vec![ids[0].clone()], ItemGuard::Any)
        .await
        .unwrap();
    assert!(matches!(none[0], Err(MailboxError::ItemNotFound)));
    assert_eq!(s.counters(&m).await.unwrap().last_event_seq, seq);
    assert_eq!(get(&s, &m, &item.id).await.change_key, root.change_key);
}

/// A sync reports an attachment added or deleted as an update of the item.
#[tokio::test]
async fn syncs_see_attachment_changes() {
    let m = key("alice");
    let s = store_with(&["alice"]).await;
    let item = s
        .create_items(&m, d("inbox"), vec![msg("synced")])
        .await
        .unwrap()
        .pop()
        .unwrap();
    let spec = |state: Option<String>| ItemSync {
        folder: d("inbox"),
        sync_state: state,
        max_changes: 512,
        scope: SyncScope::NormalItems,
        ignore: Vec::new(),
    };
    let first = s.sync_folder_items(&m, spec(None)).await.unwrap();
    assert!(first.includes_last);
    let added = s
        .create_attachments(
            &m,
            item.id.clone(),
            vec![file("a.txt", b"a")],
            ItemGuard::Any,
        )
        .await
        .unwrap();
    let next = s
        .sync_folder_items(&m, spec(Some(first.sync_state)))
        .await
        .unwrap();
    let [ItemChange::Update(updated)] = next.changes.as_slice() else {
        panic!("{:?}", next.changes)
    };
    assert_eq!(updated.id, item.id);
    assert!(updated.has_attachments);
    assert_eq!(updated.change_key, added.root.change_key);
    let id = added.results[0].as_ref().unwrap().id.clone();
    s.delete_attachments(&m, vec![id], ItemGuard::Any)
        .await
        .unwrap();
    let last = s
        .sync_folder_items(&m, spec(Some(next.sync_state)))
        .await
        .unwrap();
    let [ItemChange::Update(updated)] = last.changes.as_slice() else {
        panic!("{:?}", last.changes)
    };
    assert!(!updated.has_attachments);
}

#[tokio::test]
async fn moves_carry_attachments_and_copies_get_their_own() {
    let m = key("alice");
    let s = store_with(&["alice"]).await;
    let item = s
        .create_items(&m, d("voicemail"), vec![voicemail()])
        .await
        .unwrap()
        .pop()
        .unwrap();
    let ids: Vec<String> = item.attachments.iter().map(|a| a.id.clone()).collect();
    // a move keeps the item's id, so its attachment ids stay valid
    s.move_items(&m, vec![item.id.clone()], d("inbox"), ItemGuard::Any)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    let moved = get(&s, &m, &item.id).await;
    assert_eq!(moved.attachments, item.attachments);
    assert_eq!(moved.size, item.size);
    assert!(contents(&s, &m, &ids).await.iter().all(Result::is_ok));
    // a copy has attachments of its own: same names and content, new ids, same size
    let copy = s
        .copy_items(&m, vec![item.id.clone()], d("drafts"))
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
    assert!(copy.has_attachments);
    assert_eq!(copy.size, item.size);
    let copy = get(&s, &m, &copy.id).await;
    assert_eq!(copy.size, item.size);
    let copy_ids: Vec<String> = copy.attachments.iter().map(|a| a.id.clone()).collect();
    assert_eq!(copy_ids.len(), 2);
    assert!(copy_ids.iter().all(|c| !ids.contains(c)));
    assert_eq!(
        copy.attachments
            .iter()
            .map(|a| a.name.clone())
            .collect::<Vec<_>>(),
        item.attachments
            .iter()
            .map(|a| a.name.clone())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        contents(&s, &m, &copy_ids).await,
        contents(&s, &m, &ids).await
    );
    // deleting the copy's leaves the original's
    s.delete_attachments(&m, copy_ids.clone(), ItemGuard::Any)
        .await
        .unwrap();
    assert!(contents(&s, &m, &ids).await.iter().all(Result::is_ok));
    let copy = get(&s, &m, &copy.id).await;
    assert!(copy.attachments.is_empty() && !copy.has_attachments);
    assert_eq!(copy.size, item.size - 20);
    // a soft delete moves the item, attachments and all, to Recoverable Items
    s.delete_items(&m, vec![item.id.clone()], DeleteMode::Soft, ItemGuard::Any)
        .await
        .unwrap();
    let dumped = get(&s, &m, &item.id).await;
    let deletions = s
        .get_folder(&m, d("recoverableitemsdeletions"))
        .await
        .unwrap();
    assert_eq!(dumped.folder_id, deletions.id);
    assert_eq!(dumped.attachments, item.attachments);
}

/// An item's hard delete (DeleteItem, EmptyFolder, DeleteFolder) takes its attachments, rows
/// and content, with it.
#[tokio::test]
async fn attachments_go_with_their_item() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mailbox.sqlite");
    let m = key("alice");
    let s = MailboxStore::open(&path).unwrap();
    s.ensure_mailbox(&m).await.unwrap();
    let rows = |path: &std::path::Path| {
        let c = rusqlite::Connection::open(path).unwrap();
        c.query_row("SELECT COUNT(*) FROM attachments", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
    };
    let a = s
        .create_items(&m, d("inbox"), vec![voicemail()])
        .await
        .unwrap()
        .pop()
        .unwrap();
    let folder = s
        .create_folder(&m, d("inbox"), "Calls".into(), None)
        .await
        .unwrap();
    let b = s
        .create_items(
            &m,
            FolderSel::id(folder.id.clone()),
            vec![voicemail(), voicemail()],
        )
        .await
        .unwrap();
    assert_eq!(rows(&path), 6);
    s.delete_items(&m, vec![a.id.clone()], DeleteMode::Hard, ItemGuard::Any)
        .await
        .unwrap();
    assert_eq!(rows(&path), 4);
    let ids: Vec<String> = a.attachments.iter().map(|x| x.id.clone()).collect();
    assert_eq!(
        contents(&s, &m, &ids).await,
        [
            Err("ErrorItemNotFound".to_owned()),
            Err("ErrorItemNotFound".to_owned())
        ]
    );
    s.delete_folder(
        &m,
        FolderSel::id(folder.id),
        DeleteMode::Hard,
        ItemGuard::Any,
    )
    .await
    .unwrap();
    assert_eq!(rows(&path), 0);
    assert!(b[0].attachments.len() == 2);
}

#[tokio::test]
async fn ids_are_checked() {
    let s = store_with(&["alice", "bob"]).await;
    let (alice, bob) = (key("alice"), key("bob"));
    let item = s
        .create_items(&bob, d("inbox"), vec![voicemail()])
        .await
        .unwrap()
        .pop()
        .unwrap();
    let bobs = item.attachments[0].id.clone();
    // another mailbox's attachment is not there for alice, to read or to delete
    assert_eq!(
        contents(&s, &alice, std::slice::from_ref(&bobs)).await,
        [Err("ErrorItemNotFound".to_owned())]
    );
    let r = s
        .delete_attachments(&alice, vec![bobs.clone()], ItemGuard::Any)
        .await
        .unwrap();
    assert!(matches!(r[0], Err(MailboxError::ItemNotFound)));
    assert!(contents(&s, &bob, &[bobs]).await[0].is_ok());
    // garbage, and an item id where an attachment id belongs (and the other way round)
    assert_eq!(
        contents(&s, &bob, &["garbage!".to_owned(), item.id.clone()]).await,
        [
            Err("ErrorInvalidIdMalformed".to_owned()),
            Err("ErrorInvalidIdMalformed".to_owned())
        ]
    );
    let r = s
        .create_attachments(
            &bob,
            item.attachments[0].id.clone(),
            vec![file("x", b"x")],
            ItemGuard::Any,
        )
        .await;
    assert!(
        matches!(r, Err(MailboxError::InvalidIdMalformed(_))),
        "{r:?}"
    );
    // adding to an item of another mailbox, or one that is gone
    let r = s
        .create_attachments(
            &alice,
            item.id.clone(),
            vec![file("x", b"x")],
            ItemGuard::Any,
        )
        .await;
    assert!(matches!(r, Err(MailboxError::ItemNotFound)), "{r:?}");
}

/// Without ArchiveApplication's guard lifted, items under Recoverable Items are refused, where
/// the write's own transaction finds them.
#[tokio::test]
async fn the_guard_keeps_writes_out_of_recoverable_items() {
    let m = key("alice");
    let s = store_with(&["alice"]).await;
    let item = s
        .create_items(&m, d("recoverableitemspurges"), vec![voicemail()])
        .await
        .unwrap()
        .pop()
        .unwrap();
    let guard = ItemGuard::OutsideRecoverableItems;
    let r = s
        .create_attachments(&m, item.id.clone(), vec![file("x", b"x")], guard)
        .await;
    assert!(matches!(r, Err(MailboxError::InRecoverableItems)), "{r:?}");
    let id = item.attachments[0].id.clone();
    let r = s
        .delete_attachments(&m, vec![id.clone()], guard)
        .await
        .unwrap();
    assert!(matches!(r[0], Err(MailboxError::InRecoverableItems)));
    assert_eq!(get(&s, &m, &item.id).await.change_key, item.change_key);
    // reading there is not a write
    assert!(contents(&s, &m, std::slice::from_ref(&id)).await[0].is_ok());
    // with the guard lifted
    s.delete_attachments(&m, vec![id], ItemGuard::Any)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn limits_are_refused_with_clear_errors() {
    let m = key("alice");
    let s = store_with(&["alice"]).await;
    let item = s
        .create_items(&m, d("inbox"), vec![msg("big")])
        .await
        .unwrap()
        .pop()
        .unwrap();
    // one over its own limit fails alone; the others of the call are added
    let max = vec![7u8; MAX_ATTACHMENT_BYTES];
    let r = s
        .create_attachments(
            &m,
            item.id.clone(),
            vec![
                file("big1.bin", &max),
                file("huge.bin", &vec![0u8; MAX_ATTACHMENT_BYTES + 1]),
                file("big2.bin", &max),
                // the item has no room left for another of the largest
                file("big3.bin", &max),
                file("small.txt", b"fits"),
            ],
            ItemGuard::Any,
        )
        .await
        .unwrap();
    let codes: Vec<&str> = r
        .results
        .iter()
        .map(|r| r.as_ref().map_or_else(|e| e.response_code(), |_| "ok"))
        .collect();
    assert_eq!(
        codes,
        [
            "ok",
            "ErrorAttachmentSizeLimitExceeded",
            "ok",
            "ErrorMessageSizeExceeded",
            "ok"
        ]
    );
    let text = r.results[3].as_ref().unwrap_err().to_string();
    assert!(
        text.contains("the item's attachments")
            && text.contains(&MAX_ITEM_ATTACHMENT_BYTES.to_string()),
        "{text}"
    );
    let text = r.results[1].as_ref().unwrap_err().to_string();
    assert!(text.contains(&MAX_ATTACHMENT_BYTES.to_string()), "{text}");
    let read = get(&s, &m, &item.id).await;
    assert_eq!(read.attachments.len(), 3);
    assert_eq!(read.size, item.size + 2 * MAX_ATTACHMENT_BYTES as u64 + 4);

    // at most MAX_ATTACHMENTS_PER_ITEM, counting those the item has
    let other = s
        .create_items(&m, d("inbox"), vec![msg("many")])
        .await
        .unwrap()
        .pop()
        .unwrap();
    let many: Vec<NewAttachment> = (0..MAX_ATTACHMENTS_PER_ITEM)
        .map(|n| file(&format!("{n}.txt"), b"n"))
        .collect();
    let r = s
        .create_attachments(&m, other.id.clone(), many, ItemGuard::Any)
        .await
        .unwrap();
    assert!(r.results.iter().all(Result::is_ok));
    let r = s
        .create_attachments(
            &m,
            other.id.clone(),
            vec![file("one more", b"x")],
            ItemGuard::Any,
        )
        .await
        .unwrap();
    let e = r.results[0].as_ref().unwrap_err();
    assert!(matches!(e, MailboxError::InvalidValue(_)), "{e:?}");
    assert!(
        e.to_string()
            .contains(&format!("at most {MAX_ATTACHMENTS_PER_ITEM} attachments")),
        "{e}"
    );
    // nothing was added, so the item did not change
    assert_eq!(r.root.change_key, get(&s, &m, &other.id).await.change_key);

    // CreateItem: an item over its attachments' bounds fails alone, the others are created
    let results = s
        .create_items_each(
            &m,
            d("inbox"),
            vec![
                NewItem {
                    attachments: vec![file("huge.bin", &vec![0u8; MAX_ATTACHMENT_BYTES + 1])],
                    ..msg("too big")
                },
                NewItem {
                    attachments: vec![file("bad\u{7}name", b"x")],
                    ..msg("bad name")
                },
                voicemail(),
            ],
        )
        .await
        .unwrap();
    assert!(matches!(
        results[0],
        Err(MailboxError::AttachmentTooLarge { .. })
    ));
    assert!(matches!(results[1], Err(MailboxError::InvalidValue(_))));
    assert_eq!(results[2].as_ref().unwrap().attachments.len(), 2);
}
