//! Store invariants under concurrency (after Stalwart's `tests/src/store/ops.rs`).
mod common;

use mailbox::ItemGuard;
use std::collections::HashSet;

use common::*;
use mailbox::{EventKind, FindSpec, MailboxError, MailboxStore, NewItem, Paging};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_get_distinct_ids_and_contiguous_events() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let base = s.counters(&m).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..200 {
        let s = s.clone();
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            s.create_items(&m, d("inbox"), vec![msg(&format!("m{n}"))])
                .await
                .map(|mut v| v.remove(0))
        }));
    }
    // Interleave some invalid batches: they must not burn ids, change numbers or events.
    let mut bad = Vec::new();
    for _ in 0..20 {
        let s = s.clone();
        let m = m.clone();
        bad.push(tokio::spawn(async move {
            s.create_items(
                &m,
                d("inbox"),
                vec![
                    msg("ok"),
                    NewItem {
                        item_class: "bad class".into(),
                        ..msg("bad")
                    },
                ],
            )
            .await
        }));
    }
    let mut ids = HashSet::new();
    let mut change_keys = HashSet::new();
    for t in tasks {
        let item = t.await.unwrap().unwrap();
        assert!(ids.insert(item.id.clone()), "duplicate id");
        assert!(
            change_keys.insert(item.change_key.clone()),
            "duplicate change key"
        );
    }
    for t in bad {
        assert!(matches!(
            t.await.unwrap(),
            Err(MailboxError::InvalidValue(_))
        ));
    }
    assert_eq!(ids.len(), 200);
    let inbox = s.get_folder(&m, d("inbox")).await.unwrap();
    assert_eq!(inbox.total_count, 200);
    assert_eq!(inbox.unread_count, 200);

    let after = s.counters(&m).await.unwrap();
    assert_eq!(after.change_number, base.change_number + 200);
    assert_eq!(after.last_event_seq, base.last_event_seq + 200);
    let events = s.events_since(&m, base.last_event_seq, 1000).await.unwrap();
    assert_eq!(events.len(), 200);
    for (n, e) in events.iter().enumerate() {
        assert_eq!(e.seq, base.last_event_seq + 1 + n as u64, "gap in events");
        assert_eq!(e.kind, EventKind::Created);
        assert_eq!(e.folder_id, inbox.id);
    }
    let event_ids: HashSet<String> = events.into_iter().map(|e| e.item_id).collect();
    assert_eq!(event_ids, ids);
    // Commit order, id order and receive order agree.
    let all = first_thousand(&s, &m, "inbox").await;
    let received: Vec<_> = all.items.iter().map(|i| i.date_time_received).collect();
    let mut sorted = received.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(received, sorted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_idempotent_retries_store_once() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let s = s.clone();
        let m = m.clone();
        tasks.push(tokio::spawn(async move {
            s.create_items_idempotent(
                &m,
                d("conversationhistory"),
                vec![NewItem {
                    internet_message_id: Some("<same@x>".into()),
                    ..msg("retry")
                }],
            )
            .await
            .unwrap()
            .remove(0)
        }));
    }
    let mut fresh = 0;
    let mut ids = HashSet::new();
    for t in tasks {
        let c = t.await.unwrap();
        fresh += usize::from(!c.existed);
        ids.insert(c.item.id);
    }
    assert_eq!(fresh, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(counts(&s, &m, "conversationhistory").await.0, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deletes_of_one_item_succeed_once() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let item = s
        .create_items(&m, d("inbox"), vec![msg("x")])
        .await
        .unwrap()
        .remove(0);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (s, m, id) = (s.clone(), m.clone(), item.id.clone());
        tasks.push(tokio::spawn(async move {
            s.delete_items(&m, vec![id], mailbox::DeleteMode::Hard, ItemGuard::Any)
                .await
                .unwrap()
                .remove(0)
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(e) => assert!(matches!(e, MailboxError::ItemNotFound)),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(counts(&s, &m, "inbox").await, (0, 0, 0));
}

/// Concurrent writes on a file-backed store share group commits: writes that fail inside the
/// transaction (after advancing counters and inserting rows) vanish without touching the writes
/// batched with them, every acknowledged write is there after reopening, and event times follow
/// commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commits_isolate_failures_and_keep_commit_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mailbox.sqlite");
    let (clock, _) = ticking_clock();
    let s = MailboxStore::open(&path).unwrap().with_clock(clock);
    let m = key("alice");
    s.ensure_mailbox(&m).await.unwrap();
    let base = s.counters(&m).await.unwrap();
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for n in 0..200 {
        let (s1, m1) = (s.clone(), m.clone());
        good.push(tokio::spawn(async move {
            s1.create_items(&m1, d("inbox"), vec![msg(&format!("m{n}"))])
                .await
                .map(|mut v| v.remove(0))
        }));
        if n % 5 == 0 {
            let (s, m) = (s.clone(), m.clone());
            // passes validation; inserts two items, then fails inside the transaction
            bad.push(tokio::spawn(async move {
                s.create_items(
                    &m,
                    d("inbox"),
                    vec![
                        msg("doomed"),
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
                )
                .await
            }));
        }
    }
    let mut ids = HashSet::new();
    for t in good {
        assert!(ids.insert(t.await.unwrap().unwrap().id), "duplicate id");
    }
    for t in bad {
        assert!(matches!(
            t.await.unwrap(),
            Err(MailboxError::UserConfigurationExists(_))
        ));
    }
    assert_eq!(ids.len(), 200);
    let after = s.counters(&m).await.unwrap();
    assert_eq!(after.change_number, base.change_number + 200);
    assert_eq!(after.last_event_seq, base.last_event_seq + 200);
    let events = s.events_since(&m, base.last_event_seq, 1000).await.unwrap();
    assert_eq!(events.len(), 200);
    for (n, e) in events.iter().enumerate() {
        assert_eq!(e.seq, base.last_event_seq + 1 + n as u64, "gap in events");
    }
    assert!(
        events.windows(2).all(|w| w[0].at < w[1].at),
        "event times follow commit order"
    );
    assert_eq!(counts(&s, &m, "inbox").await, (200, 200, 0));
    drop(s);

    // everything acknowledged is on disk
    let s = MailboxStore::open(&path).unwrap();
    assert_eq!(counts(&s, &m, "inbox").await, (200, 200, 0));
    let all = first_thousand(&s, &m, "inbox").await;
    let stored: HashSet<String> = all.items.into_iter().map(|i| i.id).collect();
    assert_eq!(stored, ids);
    assert_eq!(s.counters(&m).await.unwrap(), after);
}

/// The first 1,000 items of a folder, in the default order (newest received first).
async fn first_thousand(
    s: &MailboxStore,
    m: &mailbox::MailboxKey,
    folder: &str,
) -> mailbox::Page<mailbox::Item> {
    s.find_items(
        m,
        d(folder),
        FindSpec {
            paging: Paging::first(1000),
            ..FindSpec::default()
        },
    )
    .await
    .unwrap()
}
