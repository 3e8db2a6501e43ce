//! The retention of the item and folder logs (`prune_logs_before`) with a manual clock: entries
//! go by age, oldest first and only ever from a log's start, in bounded writes; and every reader
//! that would need a pruned entry is refused instead of answered from what remains: sync states
//! (`ErrorInvalidSyncStateData`), also behind a log pruned empty, and watermarks
//! (`ErrorInvalidWatermark`).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use common::*;
use mailbox::{
    Clock, FolderChange, FolderSel, ItemChange, ItemSync, MailboxError, MailboxKey, MailboxStore,
    Pruned, SyncPage, SyncScope,
};
use time::{Duration, OffsetDateTime};

/// A clock that stays where it is set: seconds after [`T0`].
#[derive(Clone)]
struct Manual(Arc<AtomicI64>);

impl Manual {
    fn set(&self, secs: i64) {
        self.0.store(secs, Ordering::SeqCst);
    }
}

fn at(secs: i64) -> OffsetDateTime {
    T0 + Duration::seconds(secs)
}

async fn store(mailboxes: &[&str]) -> (MailboxStore, Manual) {
    let secs = Arc::new(AtomicI64::new(0));
    let s = secs.clone();
    let clock: Clock = Arc::new(move || at(s.load(Ordering::SeqCst)));
    let store = MailboxStore::open_in_memory().unwrap().with_clock(clock);
    for m in mailboxes {
        store.ensure_mailbox(&key(m)).await.unwrap();
    }
    (store, Manual(secs))
}

/// Creates `n` messages in `folder`; the item log grows by `n`.
async fn create_n(s: &MailboxStore, m: &MailboxKey, folder: &FolderSel, n: usize) -> Vec<String> {
    let items = (0..n).map(|i| msg(&format!("message {i}"))).collect();
    s.create_items(m, folder.clone(), items)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect()
}

fn seqs(events: &[mailbox::Event]) -> Vec<u64> {
    events.iter().map(|e| e.seq).collect()
}

fn invalid_watermark(r: Result<Vec<mailbox::Event>, MailboxError>) -> String {
    match r {
        Err(e @ MailboxError::InvalidWatermark(_)) => {
            assert_eq!(e.response_code(), "ErrorInvalidWatermark");
            e.to_string()
        }
        other => panic!("not refused: {other:?}"),
    }
}

fn invalid_state<C: std::fmt::Debug>(r: Result<SyncPage<C>, MailboxError>) -> String {
    match r {
        Err(e @ MailboxError::InvalidSyncState(_)) => {
            assert_eq!(e.response_code(), "ErrorInvalidSyncStateData");
            e.to_string()
        }
        other => panic!("not refused: {other:?}"),
    }
}

fn spec(folder: &FolderSel, state: Option<&str>) -> ItemSync {
    ItemSync {
        folder: folder.clone(),
        sync_state: state.map(str::to_owned),
        max_changes: 512,
        scope: SyncScope::NormalItems,
        ignore: Vec::new(),
    }
}

/// Syncs `folder` from `state` to the end: (every change, the final state).
async fn drain(
    s: &MailboxStore,
    m: &MailboxKey,
    folder: &FolderSel,
    state: Option<&str>,
) -> (Vec<ItemChange>, String) {
    let page = s.sync_folder_items(m, spec(folder, state)).await.unwrap();
    assert!(page.includes_last);
    (page.changes, page.sync_state)
}

fn created(changes: &[ItemChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| match c {
            ItemChange::Create(i) => i.id.clone(),
            other => panic!("not a create: {other:?}"),
        })
        .collect()
}

/// Entries written before the cutoff go, in both logs and every mailbox; an entry written at
/// the cutoff stays; the heads (the mailbox's counters) do not move.
#[tokio::test]
async fn entries_older_than_the_cutoff_go_in_both_logs_of_every_mailbox() {
    // provisioning at t = 0: 21 default folders, one folder event each, in both mailboxes
    let (s, clock) = store(&["alice", "bob"]).await;
    let (alice, bob) = (key("alice"), key("bob"));
    clock.set(10);
    create_n(&s, &alice, &d("inbox"), 3).await; // events 1..=3
    clock.set(20);
    create_n(&s, &alice, &d("inbox"), 3).await; // 4..=6
    s.create_folder(&alice, d("inbox"), "Later".into(), None)
        .await
        .unwrap(); // folder event 22, and event 7 (what subscriptions report of folders)
    clock.set(30);
    create_n(&s, &alice, &d("inbox"), 3).await; // 8..=10
    create_n(&s, &bob, &d("inbox"), 2).await; // bob's 1..=2

    // nothing is that old
    assert_eq!(
        s.prune_logs_before(at(0)).await.unwrap(),
        Pruned {
            mailboxes: 2,
            writes: 1,
            ..Pruned::default()
        }
    );
    let p = s.prune_logs_before(at(25)).await.unwrap();
    assert_eq!(
        p,
        Pruned {
            events: 6 + 1,
            folder_events: 21 + 1 + 21,
            mailboxes: 2,
            writes: 1,
        }
    );
    assert_eq!(
        seqs(&s.events_since(&alice, 7, 100).await.unwrap()),
        [8, 9, 10]
    );
    assert_eq!(seqs(&s.events_since(&bob, 0, 100).await.unwrap()), [1, 2]);
    assert_eq!(s.counters(&alice).await.unwrap().last_event_seq, 10);
    // written at the cutoff: kept; a second pass with the same cutoff has nothing to do
    assert_eq!(s.prune_logs_before(at(30)).await.unwrap().events, 0);
    assert_eq!(s.prune_logs_before(at(25)).await.unwrap(), {
        Pruned {
            mailboxes: 2,
            writes: 1,
            ..Pruned::default()
        }
    });
    // a second later everything goes; the counters stay
    let p = s.prune_logs_before(at(31)).await.unwrap();
    assert_eq!((p.events, p.folder_events), (3 + 2, 0));
    assert_eq!(s.counters(&alice).await.unwrap().last_event_seq, 10);
    assert_eq!(s.counters(&bob).await.unwrap().last_event_seq, 2);
    // and the logs go on from there, without reusing a number
    create_n(&s, &alice, &d("inbox"), 1).await;
    assert_eq!(seqs(&s.events_since(&alice, 10, 100).await.unwrap()), [11]);
}

/// A log only ever loses its start: an old entry behind a younger one (the clock stepped back)
/// waits for it rather than leave a hole that a reader from before it would skip.
#[tokio::test]
async fn only_a_log_start_is_pruned() {
    let (s, clock) = store(&["alice"]).await;
    let alice = key("alice");
    clock.set(100);
    create_n(&s, &alice, &d("inbox"), 1).await; // 1 at 100
    clock.set(200);
    create_n(&s, &alice, &d("inbox"), 1).await; // 2 at 200
    clock.set(50);
    create_n(&s, &alice, &d("inbox"), 1).await; // 3 at 50: the clock went back
    clock.set(300);
    create_n(&s, &alice, &d("inbox"), 1).await; // 4 at 300
    let p = s.prune_logs_before(at(150)).await.unwrap();
    assert_eq!(p.events, 1);
    assert_eq!(
        seqs(&s.events_since(&alice, 1, 100).await.unwrap()),
        [2, 3, 4]
    );
    let p = s.prune_logs_before(at(250)).await.unwrap();
    assert_eq!(p.events, 2);
    assert_eq!(seqs(&s.events_since(&alice, 3, 100).await.unwrap()), [4]);
}

/// One write deletes at most the given number of entries; a pass takes as many writes as it
/// needs and deletes everything that is old enough, across mailboxes.
#[tokio::test]
async fn a_pass_is_made_of_bounded_writes() {
    let (s, clock) = store(&["alice", "bob", "carol"]).await;
    clock.set(10);
    for (m, n) in [("alice", 25), ("bob", 0), ("carol", 7)] {
        create_n(&s, &key(m), &d("inbox"), n).await;
    }
    clock.set(20);
    create_n(&s, &key("bob"), &d("inbox"), 4).await; // young: stays
    let old_rows: u64 = 3 * 21 + 25 + 7;
    let p = s.prune_logs_before_in_writes_of(at(15), 10).await.unwrap();
    assert_eq!(p.events + p.folder_events, old_rows);
    assert_eq!((p.events, p.folder_events), (32, 63));
    let least = old_rows.div_ceil(10);
    assert!(
        (least..=least + 1).contains(&p.writes),
        "{} writes for {old_rows} rows, at most 10 each",
        p.writes
    );
    assert_eq!(p.mailboxes, 3);
    assert_eq!(
        seqs(&s.events_since(&key("bob"), 0, 100).await.unwrap()),
        [1, 2, 3, 4]
    );
    for m in ["alice", "carol"] {
        let head = s.counters(&key(m)).await.unwrap().last_event_seq;
        assert!(s.events_since(&key(m), head, 100).await.unwrap().is_empty());
    }
}

/// A watermark whose next event was pruned is refused, not answered with the events that are
/// left; so is one ahead of the log, and one behind a log pruned empty. One at the head reads
/// "nothing new", and one right before the oldest kept event reads on.
#[tokio::test]
async fn watermarks_before_the_kept_events_are_refused() {
    let (s, clock) = store(&["alice"]).await;
    let alice = key("alice");
    clock.set(10);
    create_n(&s, &alice, &d("inbox"), 8).await; // 1..=8
    clock.set(20);
    create_n(&s, &alice, &d("inbox"), 2).await; // 9..=10
    s.prune_logs_before(at(15)).await.unwrap();
    for stale in [0, 5, 7] {
        let why = invalid_watermark(s.events_since(&alice, stale, 100).await);
        assert!(why.contains("no longer kept"), "{why}");
        assert!(s.check_watermark(&alice, stale).await.is_err());
    }
    assert_eq!(
        seqs(&s.events_since(&alice, 8, 100).await.unwrap()),
        [9, 10]
    );
    s.check_watermark(&alice, 8).await.unwrap();
    assert!(s.events_since(&alice, 10, 100).await.unwrap().is_empty());
    s.check_watermark(&alice, 10).await.unwrap();
    let why = invalid_watermark(s.events_since(&alice, 11, 100).await);
    assert!(why.contains("ahead"), "{why}");
    assert!(s.check_watermark(&alice, 11).await.is_err());

    // every event pruned: the log is empty, but the head says what a watermark missed
    s.prune_logs_before(at(25)).await.unwrap();
    for stale in [0, 8, 9] {
        let why = invalid_watermark(s.events_since(&alice, stale, 100).await);
        assert!(why.contains("no longer kept"), "{stale}: {why}");
        assert!(s.check_watermark(&alice, stale).await.is_err());
    }
    assert!(s.events_since(&alice, 10, 100).await.unwrap().is_empty());
    s.check_watermark(&alice, 10).await.unwrap();
}

/// SyncFolderItems from a state whose next entry the retention pruned: refused with
/// `ErrorInvalidSyncStateData`, whether the oldest kept entry is further on (state at 5, oldest
/// 9) or the log is empty with the head ahead of the state; a state right before the oldest kept
/// entry, or at the head, goes on. Starting over works.
#[tokio::test]
async fn item_sync_states_before_the_kept_entries_are_refused() {
    let (s, clock) = store(&["alice"]).await;
    let alice = key("alice");
    let inbox = d("inbox");
    clock.set(10);
    create_n(&s, &alice, &inbox, 5).await; // 1..=5
    let (_, at_5) = drain(&s, &alice, &inbox, None).await;
    clock.set(20);
    create_n(&s, &alice, &inbox, 3).await; // 6..=8
    let (_, at_8) = drain(&s, &alice, &inbox, Some(&at_5)).await;
    clock.set(40);
    let late = create_n(&s, &alice, &inbox, 2).await; // 9..=10
    assert_eq!(s.prune_logs_before(at(30)).await.unwrap().events, 8);

    let why = invalid_state(s.sync_folder_items(&alice, spec(&inbox, Some(&at_5))).await);
    assert!(why.contains("no longer kept"), "{why}");
    // right before the oldest kept entry: every change since is there
    let (changes, at_10) = drain(&s, &alice, &inbox, Some(&at_8)).await;
    assert_eq!(created(&changes), late);

    // the whole log pruned: empty, yet the head (10) is ahead of the state (8)
    clock.set(50);
    assert_eq!(s.prune_logs_before(at(45)).await.unwrap().events, 2);
    assert!(s.events_since(&alice, 10, 10).await.unwrap().is_empty());
    for stale in [&at_5, &at_8] {
        let why = invalid_state(s.sync_folder_items(&alice, spec(&inbox, Some(stale))).await);
        assert!(why.contains("no longer kept"), "{why}");
    }
    // at the head: nothing changed, nothing is missing
    let (changes, _) = drain(&s, &alice, &inbox, Some(&at_10)).await;
    assert!(changes.is_empty());
    // starting over lists the folder
    let (changes, _) = drain(&s, &alice, &inbox, None).await;
    assert_eq!(changes.len(), 10);
}

/// SyncFolderHierarchy the same way over the folder log.
#[tokio::test]
async fn hierarchy_sync_states_before_the_kept_entries_are_refused() {
    let (s, clock) = store(&["alice"]).await;
    let alice = key("alice");
    let hierarchy = |state: Option<String>| s.sync_folder_hierarchy(&alice, None, state);
    let first = hierarchy(None).await.unwrap(); // the 21 folders, created at 0
    assert!(first.includes_last);
    clock.set(10);
    s.create_folder(&alice, d("inbox"), "A".into(), None)
        .await
        .unwrap();
    let second = hierarchy(Some(first.sync_state.clone())).await.unwrap();
    assert_eq!(second.changes.len(), 1);
    clock.set(20);
    let b = s
        .create_folder(&alice, d("inbox"), "B".into(), None)
        .await
        .unwrap();
    s.delete_folder(
        &alice,
        FolderSel::Id(b.id.clone()),
        mailbox::DeleteMode::Hard,
        mailbox::ItemGuard::Any,
    )
    .await
    .unwrap();
    assert_eq!(s.prune_logs_before(at(15)).await.unwrap().folder_events, 22);

    let why = invalid_state(hierarchy(Some(first.sync_state.clone())).await);
    assert!(why.contains("no longer kept"), "{why}");
    // from right before the oldest kept entry: B came and went, so nothing to report
    let third = hierarchy(Some(second.sync_state.clone())).await.unwrap();
    assert!(third.includes_last && third.changes.is_empty());

    // the whole folder log pruned: the state from before B is refused, the head's goes on
    clock.set(30);
    assert_eq!(s.prune_logs_before(at(25)).await.unwrap().folder_events, 2);
    let why = invalid_state(hierarchy(Some(second.sync_state.clone())).await);
    assert!(why.contains("no longer kept"), "{why}");
    let fourth = hierarchy(Some(third.sync_state.clone())).await.unwrap();
    assert!(fourth.includes_last && fourth.changes.is_empty());
    // starting over lists every folder (A included, B not)
    let again = hierarchy(None).await.unwrap();
    let names: Vec<String> = again
        .changes
        .iter()
        .map(|c| match c {
            FolderChange::Create(f) => f.display_name.clone(),
            other => panic!("not a create: {other:?}"),
        })
        .collect();
    assert_eq!(names.len(), 21);
    assert!(names.contains(&"A".to_owned()) && !names.contains(&"B".to_owned()));
}
