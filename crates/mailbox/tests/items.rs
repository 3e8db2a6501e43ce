mod common;

use common::*;
use mailbox::ItemGuard;
use mailbox::{
    Body, BodyType, Calendar, DeleteMode, EventKind, FindSpec, FolderSel, FreeBusy, Importance,
    ItemUpdate, MailboxError, NewItem, Paging, Recipient, Sensitivity, normalize_time,
};
use time::macros::datetime;

#[tokio::test]
async fn create_get_round_trip() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let sent = datetime!(2023-12-31 23:59:59.123456789 +01:00);
    let item = NewItem {
        item_class: "IPM.Note.Microsoft.Conversation".into(),
        subject: Some("Conversation with Bob".into()),
        body: Some(Body {
            body_type: BodyType::Html,
            content: "<div>hi ✓</div>".into(),
        }),
        from: Some(Recipient::new(Some("Bob"), "bob@contoso.example")),
        sender: Some(Recipient::new(None, "bob@contoso.example")),
        to: vec![Recipient::new(Some("Alice"), "alice@contoso.example")],
        cc: vec![Recipient::new(None, "carol@contoso.example")],
        bcc: vec![Recipient::new(None, "dave@contoso.example")],
        importance: Importance::High,
        sensitivity: Sensitivity::Private,
        categories: vec!["Blue".into(), "Skype".into()],
        is_read: true,
        internet_message_id: Some("<abc@contoso.example>".into()),
        date_time_sent: Some(sent),
        date_time_created: None,
        calendar: None,
        extended: vec![
            (
                "String:{00020329-0000-0000-C000-000000000046}:B".into(),
                "2".into(),
            ),
            ("Tag:0x7C09".into(), "AAEC".into()),
        ],
        is_associated: false,
        attachments: Vec::new(),
        is_draft: true,
        meeting: None,
        contact: None,
        task: None,
    };
    let created = s
        .create_items(&m, d("conversationhistory"), vec![item.clone()])
        .await
        .unwrap();
    assert_eq!(created.len(), 1);
    let c = &created[0];
    let folder = s.get_folder(&m, d("conversationhistory")).await.unwrap();
    assert_eq!(c.folder_id, folder.id);
    assert_eq!(c.item_class, item.item_class);
    assert_eq!(c.subject, item.subject);
    assert_eq!(c.body, item.body);
    assert_eq!(c.from, item.from);
    assert_eq!(c.to, item.to);
    assert_eq!(c.cc, item.cc);
    assert_eq!(c.bcc, item.bcc);
    assert_eq!(c.importance, Importance::High);
    assert_eq!(c.sensitivity, Sensitivity::Private);
    assert_eq!(c.categories, item.categories);
    assert!(c.is_read);
    assert!(c.is_draft, "kept as given");
    assert_eq!(c.date_time_sent, Some(normalize_time(sent).unwrap()));
    assert_eq!(c.date_time_received, c.date_time_created);
    assert!(c.date_time_received > T0);
    // extended properties come back sorted by key
    assert_eq!(
        c.extended[0].0,
        "String:{00020329-0000-0000-C000-000000000046}:B"
    );
    assert_eq!(c.extended.len(), 2);
    let expected_size = "Conversation with Bob".len()
        + "<div>hi ✓</div>".len()
        + item
            .extended
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    assert_eq!(c.size, expected_size as u64);
    let got = s.get_items(&m, vec![c.id.clone()]).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].as_ref().unwrap(), c);
    // client-supplied creation time is kept
    let created_at = datetime!(2020-05-05 5:05 UTC);
    let x = s
        .create_items(
            &m,
            d("inbox"),
            vec![NewItem {
                date_time_created: Some(created_at),
                ..msg("x")
            }],
        )
        .await
        .unwrap();
    assert_eq!(x[0].date_time_created, created_at);
}

#[tokio::test]
async fn get_items_reports_per_id() {
    let s = store_with(&["alice", "bob"]).await;
    let (alice, bob) = (key("alice"), key("bob"));
    let a = s
        .create_items(&alice, d("inbox"), vec![msg("a1"), msg("a2")])
        .await
        .unwrap();
    let b = s
        .create_items(&bob, d("inbox"), vec![msg("b1")])
        .await
        .unwrap();
    let folder_id = s.get_folder(&alice, d("inbox")).await.unwrap().id;
    let res = s
        .get_items(
            &alice,
            vec![
                a[1].id.clone(),
                b[0].id.clone(), // Bob's item: foreign
                "garbage!".into(),
                a[0].id.clone(),
                folder_id, // a folder id is not an item id
            ],
        )
        .await
        .unwrap();
    assert_eq!(res[0].as_ref().unwrap().subject.as_deref(), Some("a2"));
    assert!(matches!(res[1], Err(MailboxError::ItemNotFound)));
    assert_eq!(
        res[2].as_ref().unwrap_err().response_code(),
        "ErrorInvalidIdMalformed"
    );
    assert_eq!(res[3].as_ref().unwrap().subject.as_deref(), Some("a1"));
    assert_eq!(
        res[4].as_ref().unwrap_err().response_code(),
        "ErrorInvalidIdMalformed"
    );
    // Bob can still read his own item, and deleting it through Alice's mailbox fails.
    let del = s
        .delete_items(
            &alice,
            vec![b[0].id.clone()],
            DeleteMode::Hard,
            ItemGuard::Any,
        )
        .await
        .unwrap();
    assert!(matches!(del[0], Err(MailboxError::ItemNotFound)));
    assert!(s.get_items(&bob, vec![b[0].id.clone()]).await.unwrap()[0].is_ok());
}

#[tokio::test]
async fn delete_modes_move_items_and_counts_follow() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let items = s
        .create_items(
            &m,
            d("inbox"),
            vec![
                msg("hard"),
                msg("soft"),
                msg("trash"),
                NewItem {
                    is_read: true,
                    ..msg("read")
                },
            ],
        )
        .await
        .unwrap();
    assert_eq!(counts(&s, &m, "inbox").await, (4, 3, 0));
    let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();

    // Hard: gone for good.
    let r = s
        .delete_items(&m, vec![ids[0].clone()], DeleteMode::Hard, ItemGuard::Any)
        .await
        .unwrap();
    assert!(r[0].is_ok());
    assert_eq!(counts(&s, &m, "inbox").await, (3, 2, 0));
    assert!(matches!(
        s.get_items(&m, vec![ids[0].clone()]).await.unwrap()[0],
        Err(MailboxError::ItemNotFound)
    ));
    // deleting again: not found
    let r = s
        .delete_items(&m, vec![ids[0].clone()], DeleteMode::Hard, ItemGuard::Any)
        .await
        .unwrap();
    assert!(matches!(r[0], Err(MailboxError::ItemNotFound)));

    // Soft: into Recoverable Items\Deletions, same id still readable there.
    s.delete_items(&m, vec![ids[1].clone()], DeleteMode::Soft, ItemGuard::Any)
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap();
    assert_eq!(counts(&s, &m, "inbox").await, (2, 1, 0));
    assert_eq!(counts(&s, &m, "recoverableitemsdeletions").await, (1, 1, 0));
    let deletions = s
        .get_folder(&m, d("recoverableitemsdeletions"))
        .await
        .unwrap();
    let soft = s
        .get_items(&m, vec![ids[1].clone()])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(soft.folder_id, deletions.id);
    assert_ne!(soft.change_key, items[1].change_key);
    // Soft again from Deletions: to Purges; and again: stays in Purges.
    for _ in 0..2 {
        s.delete_items(&m, vec![ids[1].clone()], DeleteMode::Soft, ItemGuard::Any)
            .await
            .unwrap()[0]
            .as_ref()
            .unwrap();
        assert_eq!(counts(&s, &m, "recoverableitemsdeletions").await, (0, 0, 0));
        assert_eq!(counts(&s, &m, "recoverableitemspurges").await, (1, 1, 0));
    }

    // MoveToDeletedItems: into Deleted Items, then from there into Deletions.
    s.delete_items(
        &m,
        vec![ids[2].clone()],
        DeleteMode::MoveToDeletedItems,
        ItemGuard::Any,
    )
    .await
    .unwrap()[0]
        .as_ref()
        .unwrap();
    assert_eq!(counts(&s, &m, "inbox").await, (1, 0, 0));
    assert_eq!(counts(&s, &m, "deleteditems").await, (1, 1, 0));
    s.delete_items(
        &m,
        vec![ids[2].clone()],
        DeleteMode::MoveToDeletedItems,
        ItemGuard::Any,
    )
    .await
    .unwrap()[0]
        .as_ref()
        .unwrap();
    assert_eq!(counts(&s, &m, "deleteditems").await, (0, 0, 0));
    assert_eq!(counts(&s, &m, "recoverableitemsdeletions").await, (1, 1, 0));

    // A repeated id in one call acts once.
    let r = s
        .delete_items(
            &m,
            vec![ids[3].clone(), ids[3].clone()],
            DeleteMode::MoveToDeletedItems,
            ItemGuard::Any,
        )
        .await
        .unwrap();
    assert!(r.iter().all(Result::is_ok));
    assert_eq!(counts(&s, &m, "inbox").await, (0, 0, 0));
    assert_eq!(counts(&s, &m, "deleteditems").await, (1, 0, 0));

    // The event log tells the story, gaplessly.
    let events = s.events_since(&m, 0, 100).await.unwrap();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    use EventKind::*;
    assert_eq!(
        kinds,
        // Soft into Purges a second time is a no-op: no event.
        [
            Created, Created, Created, Created, Deleted, Moved, Moved, Moved, Moved, Moved
        ]
    );
    for (n, e) in events.iter().enumerate() {
        assert_eq!(e.seq, n as u64 + 1);
    }
    let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
    assert_eq!(events[4].item_id, ids[0]);
    assert_eq!(events[4].folder_id, inbox.id);
    assert_eq!(events[5].old_folder_id.as_ref(), Some(&inbox.id));
    assert_eq!(events[5].folder_id, deletions.id);
    let tail = s.events_since(&m, 8, 100).await.unwrap();
    assert_eq!(tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [9, 10]);
    assert_eq!(s.events_since(&m, 0, 3).await.unwrap().len(), 3);
    assert_eq!(s.counters(&m).await.unwrap().last_event_seq, 10);
    assert_eq!(s.prune_events(&m, 5).await.unwrap(), 5);
    assert_eq!(s.events_since(&m, 5, 100).await.unwrap()[0].seq, 6);
    // reading from before the pruned events is refused, never answered from event 6 on
    let e = s.events_since(&m, 0, 100).await.unwrap_err();
    assert_eq!(e.response_code(), "ErrorInvalidWatermark", "{e}");
}

#[tokio::test]
async fn invalid_batch_writes_nothing_and_bumps_nothing() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    s.create_items(&m, d("inbox"), vec![msg("before")])
        .await
        .unwrap();
    let before = s.counters(&m).await.unwrap();
    let inbox_before = s.get_folder(&m, d("inbox")).await.unwrap();
    let bad_batches = vec![
        // invalid item class in the middle
        vec![
            msg("1"),
            NewItem {
                item_class: "".into(),
                ..msg("2")
            },
            msg("3"),
        ],
        // subject over 64 KiB
        vec![
            msg("1"),
            NewItem {
                subject: Some("s".repeat(64 * 1024 + 1)),
                ..msg("2")
            },
        ],
        // calendar ending before it starts
        vec![
            msg("1"),
            NewItem {
                calendar: Some(Calendar {
                    start: datetime!(2024-01-02 10:00 UTC),
                    end: datetime!(2024-01-02 9:00 UTC),
                    is_all_day: false,
                    legacy_free_busy_status: FreeBusy::Busy,
                    location: None,
                    recurrence: None,
                }),
                ..msg("2")
            },
        ],
        // too many items
        vec![msg("x"); 1001],
        // a duplicate user-configuration name inside the batch (fails inside the transaction)
        vec![
            msg("1"),
            NewItem {
                item_class: "IPM.Configuration.Dup".into(),
                is_associated: true,
                ..NewItem::default()
            },
            NewItem {
                item_class: "IPM.Configuration.DUP".into(),
                is_associated: true,
                ..NewItem::default()
            },
        ],
    ];
    for batch in bad_batches {
        let err = s.create_items(&m, d("inbox"), batch).await.unwrap_err();
        assert!(
            matches!(
                err,
                MailboxError::InvalidValue(_)
                    | MailboxError::TooLarge { .. }
                    | MailboxError::CalendarEndBeforeStart
                    | MailboxError::InvalidRequest(_)
                    | MailboxError::UserConfigurationExists(_)
            ),
            "{err:?}"
        );
        assert_eq!(s.counters(&m).await.unwrap(), before, "{err:?}");
        assert_eq!(s.get_folder(&m, d("inbox")).await.unwrap(), inbox_before);
    }
    // The ids of the next successful write follow on directly: nothing was burned.
    let after = s
        .create_items(&m, d("inbox"), vec![msg("after")])
        .await
        .unwrap();
    assert_eq!(
        s.counters(&m).await.unwrap().change_number,
        before.change_number + 1
    );
    assert_eq!(
        s.counters(&m).await.unwrap().last_event_seq,
        before.last_event_seq + 1
    );
    assert_eq!(after.len(), 1);
    let err = s
        .create_items(&m, d("nosuchfolder"), vec![msg("x")])
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::FolderNotFound));
}

#[tokio::test]
async fn change_keys_move_and_update() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let item = s
        .create_items(&m, d("drafts"), vec![msg("draft")])
        .await
        .unwrap()
        .remove(0);
    let drafts_before = s.get_folder(&m, d("drafts")).await.unwrap();

    let updated = s
        .update_item(
            &m,
            item.id.clone(),
            Some(item.change_key.clone()),
            ItemUpdate {
                subject: Some(Some("final".into())),
                is_read: Some(true),
                body: Some(Some(Body {
                    body_type: BodyType::Text,
                    content: "longer body text".into(),
                })),
                categories: Some(vec!["Red".into()]),
                set_extended: vec![("k".into(), "v".into())],
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.id, item.id);
    assert_ne!(updated.change_key, item.change_key);
    assert_eq!(updated.subject.as_deref(), Some("final"));
    assert!(updated.is_read);
    assert_eq!(updated.categories, ["Red"]);
    assert_eq!(updated.extended, [("k".to_string(), "v".to_string())]);
    assert_eq!(
        updated.size,
        ("final".len() + "longer body text".len() + 2) as u64
    );
    assert!(updated.last_modified_time > item.last_modified_time);
    let drafts = s.get_folder(&m, d("drafts")).await.unwrap();
    assert_eq!(drafts.unread_count, 0);
    assert_ne!(drafts.change_key, drafts_before.change_key);
    assert_eq!(
        s.get_items(&m, vec![item.id.clone()]).await.unwrap()[0]
            .as_ref()
            .unwrap(),
        &updated
    );

    // The old change key is now stale; a malformed one is rejected as such.
    let err = s
        .update_item(
            &m,
            item.id.clone(),
            Some(item.change_key.clone()),
            ItemUpdate::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.response_code(), "ErrorIrresolvableConflict");
    let err = s
        .update_item(
            &m,
            item.id.clone(),
            Some("CK1".into()),
            ItemUpdate::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.response_code(), "ErrorInvalidChangeKey");

    // Clearing fields.
    let cleared = s
        .update_item(
            &m,
            item.id.clone(),
            None,
            ItemUpdate {
                body: Some(None),
                remove_extended: vec!["k".into()],
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.body, None);
    assert!(cleared.extended.is_empty());
    assert_eq!(cleared.size, "final".len() as u64);

    // Move to the Inbox: same id, new folder, new change key, counts follow.
    let moved = s.move_item(&m, item.id.clone(), d("inbox")).await.unwrap();
    let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
    assert_eq!(moved.folder_id, inbox.id);
    assert_ne!(moved.change_key, cleared.change_key);
    assert_eq!(counts(&s, &m, "drafts").await, (0, 0, 0));
    assert_eq!(counts(&s, &m, "inbox").await, (1, 0, 0));
    // Moving where it already is changes nothing.
    let same = s.move_item(&m, item.id.clone(), d("inbox")).await.unwrap();
    assert_eq!(same.change_key, moved.change_key);
    let kinds: Vec<EventKind> = s
        .events_since(&m, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            EventKind::Created,
            EventKind::Modified,
            EventKind::Modified,
            EventKind::Moved
        ]
    );
}

#[tokio::test]
async fn idempotent_delivery_by_message_id() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let with_id = |mid: &str| NewItem {
        internet_message_id: Some(mid.into()),
        ..msg(mid)
    };
    let first = s
        .create_items_idempotent(
            &m,
            d("conversationhistory"),
            vec![with_id("<1@x>"), with_id("<2@x>")],
        )
        .await
        .unwrap();
    assert!(first.iter().all(|c| !c.existed));
    // The retry (with one new message and an in-batch duplicate) stores only the new one.
    let retry = s
        .create_items_idempotent(
            &m,
            d("conversationhistory"),
            vec![
                with_id("<2@x>"),
                with_id("<3@x>"),
                with_id("<3@x>"),
                msg("no id"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        retry.iter().map(|c| c.existed).collect::<Vec<_>>(),
        [true, false, true, false]
    );
    assert_eq!(retry[0].item, first[1].item);
    assert_eq!(retry[1].item.id, retry[2].item.id);
    assert_eq!(counts(&s, &m, "conversationhistory").await.0, 5 - 1);
    let found = s
        .find_by_internet_message_id(&m, d("conversationhistory"), "<2@x>".into())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, first[1].item.id);
    // exact match, scoped to the folder
    assert!(
        s.find_by_internet_message_id(&m, d("conversationhistory"), "<2@X>".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.find_by_internet_message_id(&m, d("inbox"), "<2@x>".into())
            .await
            .unwrap()
            .is_empty()
    );
    // the same message id in another folder is a different delivery
    let other = s
        .create_items_idempotent(&m, d("inbox"), vec![with_id("<2@x>")])
        .await
        .unwrap();
    assert!(!other[0].existed);
}

#[tokio::test]
async fn find_items_default_order_and_associated_split() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let created = s
        .create_items(
            &m,
            d("inbox"),
            vec![
                msg("a"),
                msg("b"),
                NewItem {
                    is_associated: true,
                    item_class: "IPM.Microsoft.WunderBar".into(),
                    ..NewItem::default()
                },
                msg("c"),
            ],
        )
        .await
        .unwrap();
    let page = s
        .find_items(&m, d("inbox"), FindSpec::default())
        .await
        .unwrap();
    // same received time (one transaction): newest id first
    let subjects: Vec<&str> = page
        .items
        .iter()
        .map(|i| i.subject.as_deref().unwrap())
        .collect();
    assert_eq!(subjects, ["c", "b", "a"]);
    assert_eq!((page.total, page.offset, page.includes_last), (3, 0, true));
    assert!(
        page.items.iter().all(|i| i.body.is_none()),
        "find does not load bodies"
    );
    let with_bodies = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                load_content: true,
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert!(with_bodies.items.iter().all(|i| i.body.is_some()));
    let fai = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                associated: true,
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(fai.total, 1);
    assert_eq!(fai.items[0].id, created[2].id);
    assert_eq!(counts(&s, &m, "inbox").await, (3, 3, 1));
    let err = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                paging: Paging::first(0),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::InvalidRequest(_)));
}

#[tokio::test]
async fn calendar_view() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let appt = |subject: &str, start, end| NewItem {
        item_class: "IPM.Appointment".into(),
        subject: Some(subject.into()),
        calendar: Some(Calendar {
            start,
            end,
            is_all_day: false,
            legacy_free_busy_status: FreeBusy::Busy,
            location: Some("Room 1".into()),
            recurrence: None,
        }),
        ..NewItem::default()
    };
    s.create_items(
        &m,
        d("calendar"),
        vec![
            appt(
                "late",
                datetime!(2024-02-01 15:00 UTC),
                datetime!(2024-02-01 16:00 UTC),
            ),
            appt(
                "early",
                datetime!(2024-02-01 9:00 UTC),
                datetime!(2024-02-01 10:00 UTC),
            ),
            appt(
                "before",
                datetime!(2024-01-31 9:00 UTC),
                datetime!(2024-01-31 10:00 UTC),
            ),
            appt(
                "overlapping",
                datetime!(2024-01-31 23:00 UTC),
                datetime!(2024-02-01 1:00 UTC),
            ),
            appt(
                "touching-end",
                datetime!(2024-01-31 22:00 UTC),
                datetime!(2024-02-01 0:00 UTC),
            ),
            msg("not an appointment"),
        ],
    )
    .await
    .unwrap();
    let view = s
        .find_items(
            &m,
            d("calendar"),
            FindSpec {
                calendar_view: Some((
                    datetime!(2024-02-01 0:00 UTC),
                    datetime!(2024-02-02 0:00 UTC),
                )),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    let subjects: Vec<&str> = view
        .items
        .iter()
        .map(|i| i.subject.as_deref().unwrap())
        .collect();
    assert_eq!(subjects, ["overlapping", "early", "late"]);
    let c = view.items[1].calendar.as_ref().unwrap();
    assert_eq!(c.location.as_deref(), Some("Room 1"));
    assert_eq!(c.legacy_free_busy_status, FreeBusy::Busy);
}

#[tokio::test]
async fn limits_are_enforced() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let big_body = NewItem {
        body: Some(Body {
            body_type: BodyType::Text,
            content: "x".repeat(32 * 1024 * 1024 + 1),
        }),
        ..msg("big")
    };
    let err = s
        .create_items(&m, d("inbox"), vec![big_body])
        .await
        .unwrap_err();
    assert_eq!(err.response_code(), "ErrorMessageSizeExceeded");
    let ids = vec!["x".to_string(); 1001];
    assert!(matches!(
        s.get_items(&m, ids.clone()).await.unwrap_err(),
        MailboxError::InvalidRequest(_)
    ));
    assert!(matches!(
        s.delete_items(&m, ids, DeleteMode::Hard, ItemGuard::Any)
            .await
            .unwrap_err(),
        MailboxError::InvalidRequest(_)
    ));
    assert_eq!(counts(&s, &m, "inbox").await, (0, 0, 0));
    let _ = FolderSel::id("unused");
}

/// `create_items_each` answers every item on its own: a refusal at validation and one inside
/// the transaction (a user-configuration name taken by an earlier item of the same call) fail
/// their item alone, leave nothing of it behind (no item, count, change number or event), and
/// the other items are created, in order.
#[tokio::test]
async fn create_items_each_fails_an_item_alone() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let config = |name: &str| NewItem {
        item_class: format!("IPM.Configuration.{name}"),
        is_associated: true,
        ..NewItem::default()
    };
    let before = s.counters(&m).await.unwrap();
    let results = s
        .create_items_each(
            &m,
            d("inbox"),
            vec![
                msg("first"),
                NewItem {
                    item_class: "IPM.Note.Ünicode".into(),
                    ..msg("bad class")
                },
                config("Dup"),
                config("DUP"),
                msg("last"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(
        results[0].as_ref().unwrap().subject.as_deref(),
        Some("first")
    );
    assert!(
        matches!(results[1], Err(MailboxError::InvalidValue(_))),
        "{:?}",
        results[1]
    );
    assert!(results[2].is_ok());
    assert!(
        matches!(results[3], Err(MailboxError::UserConfigurationExists(_))),
        "{:?}",
        results[3]
    );
    assert_eq!(
        results[4].as_ref().unwrap().subject.as_deref(),
        Some("last")
    );
    // three items written: two messages and one configuration, with one Created event each
    assert_eq!(counts(&s, &m, "inbox").await, (2, 2, 1));
    let events = s
        .events_since(&m, before.last_event_seq, 100)
        .await
        .unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|e| e.kind == EventKind::Created));
    // the whole call is refused for what is the call's: an unknown folder, too many items
    let unknown = FolderSel::Id("AAMkAGRvZXNub3RleGlzdA==".into());
    assert!(
        s.create_items_each(&m, unknown, vec![msg("x")])
            .await
            .is_err()
    );
    assert!(matches!(
        s.create_items_each(&m, d("inbox"), vec![msg("x"); 1001])
            .await,
        Err(MailboxError::InvalidRequest(_))
    ));
    assert_eq!(counts(&s, &m, "inbox").await, (2, 2, 1));
}

#[tokio::test]
async fn a_series_is_kept_found_by_its_reach_and_loses_occurrences() {
    use mailbox::{FreeBusyRead, Series};
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let series = |last_end| Series {
        rule: "<rule/>".into(),
        time_zone: "<zone/>".into(),
        last_end,
        deleted: vec![],
        modified: vec![],
    };
    let appt = |subject: &str, start, end, recurrence| NewItem {
        item_class: "IPM.Appointment".into(),
        subject: Some(subject.into()),
        calendar: Some(Calendar {
            start,
            end,
            is_all_day: false,
            legacy_free_busy_status: FreeBusy::Busy,
            location: None,
            recurrence,
        }),
        ..NewItem::default()
    };
    let created = s
        .create_items(
            &m,
            d("calendar"),
            vec![
                // first occurrence long before the view, no end: reaches into it
                appt(
                    "standup",
                    datetime!(2024-01-01 9:00 UTC),
                    datetime!(2024-01-01 9:15 UTC),
                    Some(series(None)),
                ),
                // ended before the view
                appt(
                    "ended",
                    datetime!(2024-01-01 9:00 UTC),
                    datetime!(2024-01-01 10:00 UTC),
                    Some(series(Some(datetime!(2024-01-20 10:00 UTC)))),
                ),
                // starts after the view
                appt(
                    "later",
                    datetime!(2024-03-01 9:00 UTC),
                    datetime!(2024-03-01 10:00 UTC),
                    Some(series(None)),
                ),
                appt(
                    "single",
                    datetime!(2024-02-01 11:00 UTC),
                    datetime!(2024-02-01 12:00 UTC),
                    None,
                ),
            ],
        )
        .await
        .unwrap();
    let view = (
        datetime!(2024-02-01 0:00 UTC),
        datetime!(2024-02-02 0:00 UTC),
    );
    let find = |series: bool| {
        let s = &s;
        let m = &m;
        async move {
            let page = s
                .find_items(
                    m,
                    d("calendar"),
                    FindSpec {
                        calendar_view: Some(view),
                        series,
                        ..FindSpec::default()
                    },
                )
                .await
                .unwrap();
            page.items
        }
    };
    let subjects = |items: &[mailbox::Item]| -> Vec<String> {
        items.iter().filter_map(|i| i.subject.clone()).collect()
    };
    let singles = find(false).await;
    assert_eq!(subjects(&singles), ["single"]);
    let found = find(true).await;
    assert_eq!(subjects(&found), ["standup"]);
    let kept = found[0]
        .calendar
        .as_ref()
        .unwrap()
        .recurrence
        .clone()
        .unwrap();
    assert_eq!(kept, series(None));

    // deleting occurrences: recorded once each, ascending, and kept by a copy
    let id = created[0].id.clone();
    for index in [9, 3, 9] {
        s.update_item(
            &m,
            id.clone(),
            None,
            ItemUpdate {
                delete_occurrence: Some(index),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap();
    }
    let item = s.get_item(&m, &id).await.unwrap();
    let deleted = &item
        .calendar
        .as_ref()
        .unwrap()
        .recurrence
        .as_ref()
        .unwrap()
        .deleted;
    assert_eq!(deleted, &[3, 9]);
    let copy = s
        .copy_items(&m, vec![id.clone()], d("calendar"))
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(copy.calendar, item.calendar);

    // an occurrence changed on its own: kept by index, and the ended series now reaches the
    // view, where its changed occurrence was moved
    let ended = created[1].id.clone();
    let moved = mailbox::Exception {
        index: 2,
        start: datetime!(2024-02-01 10:00 UTC),
        end: datetime!(2024-02-01 10:30 UTC),
        subject: Some("moved".into()),
        location: None,
    };
    s.update_item(
        &m,
        ended.clone(),
        None,
        ItemUpdate {
            modify_occurrence: Some(moved.clone()),
            ..ItemUpdate::default()
        },
    )
    .await
    .unwrap();
    // (the copy of the stand-up is a series too)
    assert_eq!(subjects(&find(true).await), ["standup", "ended", "standup"]);
    let kept = s.get_item(&m, &ended).await.unwrap();
    let kept = kept.calendar.unwrap().recurrence.unwrap();
    assert_eq!(kept.modified, [moved]);
    assert_eq!(kept.last_end, Some(datetime!(2024-02-01 10:30 UTC)));
    // deleting it removes the change
    s.update_item(
        &m,
        ended.clone(),
        None,
        ItemUpdate {
            delete_occurrence: Some(2),
            ..ItemUpdate::default()
        },
    )
    .await
    .unwrap();
    let kept = s.get_item(&m, &ended).await.unwrap();
    let kept = kept.calendar.unwrap().recurrence.unwrap();
    assert!(kept.modified.is_empty());
    assert_eq!(kept.deleted, [2]);

    // an occurrence of a single item, and index 0, are refused
    let single = created[3].id.clone();
    let refused = s
        .update_item(
            &m,
            single,
            None,
            ItemUpdate {
                delete_occurrence: Some(1),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, MailboxError::InvalidRequest(_)),
        "{refused:?}"
    );
    let refused = s
        .update_item(
            &m,
            id.clone(),
            None,
            ItemUpdate {
                delete_occurrence: Some(0),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, MailboxError::InvalidValue(_)),
        "{refused:?}"
    );

    // free/busy: the single as it is, the series (the copy too) for the caller to expand
    let fb = s
        .free_busy(
            vec![FreeBusyRead {
                mailbox: m.clone(),
                details: true,
            }],
            view.0,
            view.1,
        )
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    let shape: Vec<(Option<&str>, bool)> = fb
        .iter()
        .map(|a| {
            (
                a.details.as_ref().unwrap().subject.as_deref(),
                a.series.is_some(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (Some("single"), false),
            (Some("standup"), true),
            // its reach stays where its changed occurrence took it (expanding it there
            // yields nothing now)
            (Some("ended"), true),
            (Some("standup"), true)
        ]
    );

    // occurrence ids name the series and the index, and nothing else decodes as one
    let occ = mailbox::occurrence_id(&id, 7).unwrap();
    assert_ne!(occ, id);
    assert_eq!(mailbox::parse_occurrence_id(&occ), Some((id.clone(), 7)));
    assert_eq!(mailbox::parse_occurrence_id(&id), None);
    assert!(mailbox::occurrence_id(&occ, 1).is_err());
    assert!(mailbox::occurrence_id(&id, 0).is_err());
    assert_eq!(mailbox::mailbox_of_id(&occ).unwrap(), m);
}

/// A contact's own properties are kept as given, replaced whole by an update, copied with the
/// item, counted in its size, and bounded.
#[tokio::test]
async fn a_contacts_properties_are_kept_changed_and_copied() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let props = r#"{"given_name":"Carol","surname":"Jones"}"#;
    let item = NewItem {
        item_class: "IPM.Contact".into(),
        subject: Some("Carol Jones".into()),
        contact: Some(props.into()),
        ..NewItem::default()
    };
    let c = s
        .create_items(&m, d("contacts"), vec![item])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(c.contact.as_deref(), Some(props));
    assert_eq!(c.size, ("Carol Jones".len() + props.len()) as u64);
    let got = s.get_item(&m, &c.id).await.unwrap();
    assert_eq!(got.contact.as_deref(), Some(props));
    // a message has none
    let plain = s
        .create_items(&m, d("drafts"), vec![msg("plain")])
        .await
        .unwrap()
        .remove(0);
    assert_eq!(plain.contact, None);

    let changed = r#"{"given_name":"Carol","surname":"Smith"}"#;
    let u = s
        .update_item(
            &m,
            c.id.clone(),
            Some(c.change_key.clone()),
            ItemUpdate {
                contact: Some(changed.into()),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(u.contact.as_deref(), Some(changed));
    assert_ne!(u.change_key, c.change_key);
    let copy = s
        .copy_items(&m, vec![c.id.clone()], d("drafts"))
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(copy.contact.as_deref(), Some(changed));

    // bounded: refused whole, the stored contact unchanged
    let huge = format!(
        r#"{{"notes":"{}"}}"#,
        "x".repeat(mailbox::limits::MAX_CONTACT_BYTES)
    );
    let e = s
        .update_item(
            &m,
            c.id.clone(),
            None,
            ItemUpdate {
                contact: Some(huge.clone()),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, mailbox::MailboxError::TooLarge { .. }), "{e}");
    assert_eq!(
        s.get_item(&m, &c.id).await.unwrap().contact.as_deref(),
        Some(changed)
    );
    let e = s
        .create_items(
            &m,
            d("contacts"),
            vec![NewItem {
                item_class: "IPM.Contact".into(),
                contact: Some(huge),
                ..NewItem::default()
            }],
        )
        .await
        .unwrap_err();
    assert!(matches!(e, mailbox::MailboxError::TooLarge { .. }), "{e}");
}

/// Contacts are found by a text value inside their properties (a bound JSON path) and sorted by
/// a text member; a path or member name that is not plain names is refused, never run.
#[tokio::test]
async fn contacts_are_found_and_sorted_by_their_properties() {
    use mailbox::{Bag, Field, Filter, SortField, SortOrder};
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let contact = |surname: &str, email: &str| NewItem {
        item_class: "IPM.Contact".into(),
        subject: Some(surname.into()),
        contact: Some(format!(
            r#"{{"surname":"{surname}","email_addresses":{{"EmailAddress1":{{"address":"{email}"}}}}}}"#
        )),
        ..NewItem::default()
    };
    s.create_items(
        &m,
        d("contacts"),
        vec![
            contact("smith", "s@x.example"),
            contact("Jones", "j@x.example"),
            contact("adams", "a@x.example"),
        ],
    )
    .await
    .unwrap();
    s.create_items(&m, d("contacts"), vec![msg("not a contact")])
        .await
        .unwrap();
    let find = |restriction: Option<Filter>, sort: Vec<(SortField, SortOrder)>| {
        let s = &s;
        let m = &m;
        async move {
            s.find_items(
                m,
                d("contacts"),
                FindSpec {
                    restriction,
                    sort,
                    ..FindSpec::default()
                },
            )
            .await
            .map(|p| {
                p.items
                    .into_iter()
                    .map(|i| i.subject.unwrap_or_default())
                    .collect::<Vec<_>>()
            })
        }
    };
    let by_email = Filter::eq(
        Field::Typed(
            Bag::Contact,
            "$.email_addresses.EmailAddress1.address".into(),
        ),
        "j@x.example",
    );
    assert_eq!(find(Some(by_email), vec![]).await.unwrap(), ["Jones"]);
    let sorted = find(
        Some(Filter::Exists(Field::Typed(
            Bag::Contact,
            "$.surname".into(),
        ))),
        vec![(
            SortField::Typed(Bag::Contact, "surname"),
            SortOrder::Ascending,
        )],
    )
    .await
    .unwrap();
    assert_eq!(sorted, ["adams", "Jones", "smith"]);
    // the message has no surname: first in ascending order
    let all = find(
        None,
        vec![(
            SortField::Typed(Bag::Contact, "surname"),
            SortOrder::Ascending,
        )],
    )
    .await
    .unwrap();
    assert_eq!(all, ["not a contact", "adams", "Jones", "smith"]);
    // refused, not run
    for bad in [
        "surname",
        "$.surname') OR 1=1 --",
        "$.a..b",
        "$.",
        "$.email addresses",
    ] {
        let e = find(
            Some(Filter::eq(Field::Typed(Bag::Contact, bad.into()), "x")),
            vec![],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, mailbox::MailboxError::InvalidRestriction(_)),
            "{bad}: {e}"
        );
    }
    for bad in ["", "surname') --", "a.b"] {
        let e = find(
            None,
            vec![(SortField::Typed(Bag::Contact, bad), SortOrder::Ascending)],
        )
        .await
        .unwrap_err();
        assert!(
            matches!(e, mailbox::MailboxError::InvalidRequest(_)),
            "{bad:?}: {e}"
        );
    }
}
