//! The store side of EWS UpdateItem (conflict policy, item class, body append), MoveItem and
//! CopyItem (batches, per-id results, counts, events, user configurations, caps).

mod common;

use common::*;
use mailbox::ItemGuard;
use mailbox::{
    Body, BodyType, EventKind, ItemUpdate, MailboxError, UserConfig, limits::MAX_ITEMS_PER_CALL,
};

#[tokio::test]
async fn update_resolving_overwrites_or_refuses_a_stale_change_key() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let item = s
        .create_items(&m, d("inbox"), vec![msg("one")])
        .await
        .unwrap()
        .remove(0);
    let set_subject = |x: &str| ItemUpdate {
        subject: Some(Some(x.into())),
        ..ItemUpdate::default()
    };
    // fresh key: no conflict, new change key, same id
    let (a, conflicted) = s
        .update_item_resolving(
            &m,
            item.id.clone(),
            Some(item.change_key.clone()),
            false,
            set_subject("two"),
            ItemGuard::Any,
        )
        .await
        .unwrap();
    assert!(!conflicted);
    assert_eq!(a.id, item.id);
    assert_ne!(a.change_key, item.change_key);
    // stale key, never overwrite: refused, nothing written
    let e = s
        .update_item_resolving(
            &m,
            item.id.clone(),
            Some(item.change_key.clone()),
            false,
            set_subject("three"),
            ItemGuard::Any,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::ChangeKeyConflict), "{e:?}");
    let now = s.get_items(&m, vec![item.id.clone()]).await.unwrap()[0]
        .as_ref()
        .unwrap()
        .clone();
    assert_eq!(now.subject.as_deref(), Some("two"));
    assert_eq!(now.change_key, a.change_key);
    // stale key, overwrite: applied and reported
    let (b, conflicted) = s
        .update_item_resolving(
            &m,
            item.id.clone(),
            Some(item.change_key.clone()),
            true,
            set_subject("three"),
            ItemGuard::Any,
        )
        .await
        .unwrap();
    assert!(conflicted);
    assert_eq!(b.subject.as_deref(), Some("three"));
    // a malformed key is malformed whatever the policy
    let e = s
        .update_item_resolving(
            &m,
            item.id.clone(),
            Some("junk".into()),
            true,
            set_subject("x"),
            ItemGuard::Any,
        )
        .await
        .unwrap_err();
    assert_eq!(e.response_code(), "ErrorInvalidChangeKey");
}

#[tokio::test]
async fn item_class_and_body_append() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let item = s
        .create_items(&m, d("inbox"), vec![msg("hi")])
        .await
        .unwrap()
        .remove(0);
    let u = s
        .update_item(
            &m,
            item.id.clone(),
            None,
            ItemUpdate {
                item_class: Some("IPM.Note.Microsoft.Conversation".into()),
                append_body: Some(Body {
                    body_type: BodyType::Text,
                    content: "<p>more</p>".into(),
                }),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(u.item_class, "IPM.Note.Microsoft.Conversation");
    let body = u.body.unwrap();
    assert_eq!(body.body_type, BodyType::Html, "the stored type is kept");
    assert_eq!(body.content, "<div>hi</div><p>more</p>");
    assert_eq!(u.size, ("hi".len() + body.content.len()) as u64);
    // appending to an item without a body gives it one
    let u = s
        .update_item(
            &m,
            item.id.clone(),
            None,
            ItemUpdate {
                body: Some(None),
                append_body: Some(Body {
                    body_type: BodyType::Text,
                    content: "plain".into(),
                }),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        u.body,
        Some(Body {
            body_type: BodyType::Text,
            content: "plain".into()
        })
    );
    // a bad class is refused before anything is written
    let e = s
        .update_item(
            &m,
            item.id.clone(),
            None,
            ItemUpdate {
                item_class: Some("IPM Note".into()),
                subject: Some(Some("changed".into())),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.response_code(), "ErrorInvalidValueForProperty");
    let again = s.get_items(&m, vec![item.id.clone()]).await.unwrap()[0]
        .as_ref()
        .unwrap()
        .clone();
    assert_eq!(again.subject.as_deref(), Some("hi"));
    // the class of a user configuration names it: it cannot change
    let cfg = s
        .create_user_configuration(
            &m,
            d("root"),
            UserConfig {
                name: "Um.CustomGreetings.External".into(),
                dictionary: None,
                xml_data: None,
                binary_data: Some(vec![1, 2, 3]),
            },
        )
        .await
        .unwrap();
    let e = s
        .update_item(
            &m,
            cfg.item_id.clone(),
            None,
            ItemUpdate {
                item_class: Some("IPM.Note".into()),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::InvalidValue(_)), "{e:?}");
}

#[tokio::test]
async fn move_items_keeps_ids_and_reports_per_id() {
    let s = store_with(&["alice", "bob"]).await;
    let (m, b) = (key("alice"), key("bob"));
    let items = s
        .create_items(&m, d("drafts"), vec![msg("a"), msg("b")])
        .await
        .unwrap();
    let bobs = s
        .create_items(&b, d("inbox"), vec![msg("bob's")])
        .await
        .unwrap()
        .remove(0);
    let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
    let rs = s
        .move_items(
            &m,
            vec![
                items[0].id.clone(),
                bobs.id.clone(),
                "garbage".into(),
                items[1].id.clone(),
            ],
            d("inbox"),
            ItemGuard::Any,
        )
        .await
        .unwrap();
    assert_eq!(rs.len(), 4);
    let a = rs[0].as_ref().unwrap();
    assert_eq!(a.id, items[0].id, "this store keeps ids on move");
    assert_ne!(a.change_key, items[0].change_key);
    assert_eq!(a.folder_id, inbox.id);
    assert!(matches!(rs[1], Err(MailboxError::ItemNotFound)));
    assert!(matches!(rs[2], Err(MailboxError::InvalidIdMalformed(_))));
    assert!(rs[3].is_ok());
    assert_eq!(counts(&s, &m, "drafts").await, (0, 0, 0));
    assert_eq!(counts(&s, &m, "inbox").await, (2, 2, 0));
    // bob's item did not move
    assert_eq!(counts(&s, &b, "inbox").await, (1, 1, 0));
    // an unknown destination fails the call
    let e = s
        .move_items(
            &m,
            vec![items[0].id.clone()],
            d("nosuchfolder"),
            ItemGuard::Any,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::FolderNotFound));
    // bounded like every other id list
    let e = s
        .move_items(
            &m,
            vec![items[0].id.clone(); MAX_ITEMS_PER_CALL + 1],
            d("inbox"),
            ItemGuard::Any,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::InvalidRequest(_)));
}

#[tokio::test]
async fn copy_items_makes_new_items_with_everything() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let mut n = msg("original");
    n.categories = vec!["Skype".into()];
    n.extended = vec![("k".into(), "v".into())];
    n.is_read = true;
    let item = s
        .create_items(&m, d("conversationhistory"), vec![n])
        .await
        .unwrap()
        .remove(0);
    let before = s.events_since(&m, 0, 100).await.unwrap().len();
    let rs = s
        .copy_items(&m, vec![item.id.clone(), item.id.clone()], d("inbox"))
        .await
        .unwrap();
    let (c1, c2) = (rs[0].as_ref().unwrap(), rs[1].as_ref().unwrap());
    assert_ne!(c1.id, item.id);
    assert_ne!(c1.id, c2.id, "each copy is its own item");
    let got = s.get_items(&m, vec![c1.id.clone()]).await.unwrap()[0]
        .as_ref()
        .unwrap()
        .clone();
    assert_eq!(got.subject, item.subject);
    assert_eq!(got.body, item.body);
    assert_eq!(got.categories, item.categories);
    assert_eq!(got.extended, item.extended);
    assert_eq!(got.from, item.from);
    assert_eq!(got.size, item.size);
    assert_eq!(got.date_time_received, item.date_time_received);
    assert!(got.is_read);
    // the original is untouched; counts follow
    let orig = s.get_items(&m, vec![item.id.clone()]).await.unwrap()[0]
        .as_ref()
        .unwrap()
        .clone();
    assert_eq!(orig.change_key, item.change_key);
    assert_eq!(counts(&s, &m, "conversationhistory").await, (1, 0, 0));
    assert_eq!(counts(&s, &m, "inbox").await, (2, 0, 0));
    let events = s.events_since(&m, 0, 100).await.unwrap();
    assert_eq!(events.len(), before + 2);
    assert!(
        events[before..]
            .iter()
            .all(|e| e.kind == EventKind::Created)
    );

    // a user configuration copies with its streams, once per folder
    let cfg = s
        .create_user_configuration(
            &m,
            d("root"),
            UserConfig {
                name: "Um.CustomGreetings.External".into(),
                dictionary: None,
                xml_data: None,
                binary_data: Some(b"RIFF".to_vec()),
            },
        )
        .await
        .unwrap();
    let rs = s
        .copy_items(&m, vec![cfg.item_id.clone()], d("inbox"))
        .await
        .unwrap();
    assert!(rs[0].is_ok());
    let copied = s
        .get_user_configuration(&m, d("inbox"), "Um.CustomGreetings.External".into())
        .await
        .unwrap();
    assert_eq!(copied.config.binary_data.as_deref(), Some(&b"RIFF"[..]));
    let rs = s
        .copy_items(&m, vec![cfg.item_id.clone()], d("root"))
        .await
        .unwrap();
    assert!(
        matches!(rs[0], Err(MailboxError::UserConfigurationExists(_))),
        "{rs:?}"
    );
    let e = s
        .copy_items(&m, vec![item.id.clone()], d("nosuchfolder"))
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::FolderNotFound));
}

/// Regression: EWS checked where an item was (for ArchiveApplication) before the write, so an
/// item moved under Recoverable Items between that read and the write (by another request's
/// DeleteItem or MoveItem) was changed anyway. The guard is now checked by the write itself:
/// here the item is read in the Inbox, then soft-deleted, then written with the guard.
#[tokio::test]
async fn a_guarded_write_refuses_an_item_that_moved_under_recoverable_items() {
    use mailbox::{DeleteMode, FolderSel, ItemGuard};
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let items = s
        .create_items(
            &m,
            d("inbox"),
            vec![msg("kept"), msg("moved away"), msg("free")],
        )
        .await
        .unwrap();
    let [kept, moved, free] = [0, 1, 2].map(|i| items[i].id.clone());
    let inbox = s.get_items(&m, vec![moved.clone()]).await.unwrap()[0]
        .as_ref()
        .unwrap()
        .folder_id
        .clone();
    // the caller's read: the item is in the Inbox ...
    assert_eq!(
        s.folder_lineage(&m, FolderSel::Id(inbox)).await.unwrap()[0].as_deref(),
        Some("inbox")
    );
    // ... and another request moves it to Recoverable Items\Deletions
    s.delete_items(&m, vec![moved.clone()], DeleteMode::Soft, ItemGuard::Any)
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap();
    let guard = ItemGuard::OutsideRecoverableItems;
    let subject = |x: &str| ItemUpdate {
        subject: Some(Some(x.into())),
        ..ItemUpdate::default()
    };
    let r = s
        .update_item_resolving(&m, moved.clone(), None, true, subject("changed"), guard)
        .await;
    assert!(matches!(r, Err(MailboxError::InRecoverableItems)), "{r:?}");
    assert_eq!(r.unwrap_err().response_code(), "ErrorAccessDenied");
    // a batch refuses that id alone and does the others
    let moves = s
        .move_items(&m, vec![moved.clone(), kept.clone()], d("drafts"), guard)
        .await
        .unwrap();
    assert!(matches!(moves[0], Err(MailboxError::InRecoverableItems)));
    assert!(moves[1].is_ok());
    let deletes = s
        .delete_items(
            &m,
            vec![free.clone(), moved.clone()],
            DeleteMode::Hard,
            guard,
        )
        .await
        .unwrap();
    assert!(deletes[0].is_ok());
    assert!(matches!(deletes[1], Err(MailboxError::InRecoverableItems)));
    // nothing of it was written: same subject, still in Deletions
    let now = s
        .get_items(&m, vec![moved.clone()])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(now.subject.as_deref(), Some("moved away"));
    let lineage = s
        .folder_lineage(&m, FolderSel::Id(now.folder_id.clone()))
        .await
        .unwrap();
    assert_eq!(lineage[0].as_deref(), Some("recoverableitemsdeletions"));
    // a caller the guard does not restrict may
    let (updated, _) = s
        .update_item_resolving(&m, moved, None, true, subject("changed"), ItemGuard::Any)
        .await
        .unwrap();
    assert_eq!(updated.subject.as_deref(), Some("changed"));
}

/// A recurring task's completed occurrence: the copy and the update are one transaction (a
/// stale change key writes neither), the copy is a new item in the same folder with its own
/// task, and the original gets the update's.
#[tokio::test]
async fn update_splitting_copies_then_updates_in_one_transaction() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let mut n = msg("Standup notes");
    n.item_class = "IPM.Task".into();
    n.task = Some(r#"{"status":"NotStarted"}"#.into());
    n.is_read = true;
    let item = s
        .create_items(&m, d("tasks"), vec![n])
        .await
        .unwrap()
        .remove(0);
    let update = ItemUpdate {
        task: Some(r#"{"status":"NotStarted","due":"next"}"#.into()),
        subject: Some(Some("Standup".into())),
        ..ItemUpdate::default()
    };
    let split = |ck: Option<String>| {
        s.update_item_splitting(
            &m,
            item.id.clone(),
            ck,
            false,
            update.clone(),
            r#"{"status":"Completed"}"#.into(),
            ItemGuard::Any,
        )
    };
    let before = s.events_since(&m, 0, 100).await.unwrap().len();
    let (copy, updated, conflicted) = split(Some(item.change_key.clone())).await.unwrap();
    assert!(!conflicted);
    assert_ne!(copy.id, item.id);
    assert_eq!(updated.id, item.id);
    assert_eq!(copy.task.as_deref(), Some(r#"{"status":"Completed"}"#));
    assert_eq!(updated.task.as_deref(), update.task.as_deref());
    // the update's other changes reach both
    assert_eq!(copy.subject.as_deref(), Some("Standup"));
    assert_eq!(updated.subject.as_deref(), Some("Standup"));
    assert_eq!(copy.body, item.body);
    assert_eq!(counts(&s, &m, "tasks").await, (2, 0, 0));
    let kinds: Vec<_> = s.events_since(&m, 0, 100).await.unwrap()[before..]
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [EventKind::Created, EventKind::Modified, EventKind::Modified]
    );
    // the key the split was made at is stale now: refused, and no copy made
    let e = split(Some(item.change_key.clone())).await.unwrap_err();
    assert!(matches!(e, MailboxError::ChangeKeyConflict), "{e:?}");
    assert_eq!(counts(&s, &m, "tasks").await, (2, 0, 0));
}

/// MarkAllItemsAsRead: every normal item of the folder, past one write's worth, each a
/// read-flag change of its own; associated items and subfolders left alone.
#[tokio::test]
async fn mark_all_read_changes_each_unread_item_of_the_folder() {
    use mailbox::FolderSel;
    use mailbox::limits::{MAX_EVENTS_PER_CALL, MAX_FOLDER_ITEMS_PER_WRITE};
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let n = MAX_FOLDER_ITEMS_PER_WRITE + 5;
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let items = chunk.iter().map(|i| msg(&format!("m{i}"))).collect();
        s.create_items(&m, d("inbox"), items).await.unwrap();
    }
    let mut fai = msg("settings");
    fai.is_associated = true;
    s.create_items(&m, d("inbox"), vec![fai]).await.unwrap();
    let sub = s
        .create_folder(&m, d("inbox"), "Sub".into(), None)
        .await
        .unwrap();
    s.create_items(&m, FolderSel::Id(sub.id.clone()), vec![msg("below")])
        .await
        .unwrap();
    let all_events = |after: u64| {
        let s = &s;
        let m = &m;
        async move {
            let (mut out, mut after) = (Vec::new(), after);
            loop {
                let page = s.events_since(m, after, MAX_EVENTS_PER_CALL).await.unwrap();
                let Some(last) = page.last() else {
                    return out;
                };
                after = last.seq;
                out.extend(page);
            }
        }
    };
    let before = all_events(0).await.last().map_or(0, |e| e.seq);
    let changed = s
        .mark_all_read(&m, d("inbox"), true, ItemGuard::Any)
        .await
        .unwrap();
    assert_eq!(changed, n as u64);
    assert_eq!(counts(&s, &m, "inbox").await, (n as u64, 0, 1));
    let sub_now = s.get_folder(&m, FolderSel::Id(sub.id)).await.unwrap();
    assert_eq!(sub_now.unread_count, 1);
    let events = all_events(before).await;
    assert_eq!(events.len(), n);
    assert!(events.iter().all(|e| e.kind == EventKind::Modified));
    // again: nothing left to change
    let again = s
        .mark_all_read(&m, d("inbox"), true, ItemGuard::Any)
        .await
        .unwrap();
    assert_eq!(again, 0);
    // the dumpster only for a write that may go there
    let e = s
        .mark_all_read(
            &m,
            d("recoverableitemspurges"),
            true,
            ItemGuard::OutsideRecoverableItems,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::InRecoverableItems), "{e:?}");
}
