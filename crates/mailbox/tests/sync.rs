//! SyncFolderItems and SyncFolderHierarchy against a real store: the first listing paged, the
//! log collapsed per item, changes made while a listing is under way reported once, bounds, and
//! states that cannot be continued from refused.

mod common;

use std::collections::HashMap;

use common::*;
use mailbox::limits::{MAX_SYNC_CHANGES, MAX_SYNC_EVENTS_SCANNED};
use mailbox::{
    DeleteMode, FolderChange, FolderSel, ItemChange, ItemGuard, ItemSync, ItemUpdate, MailboxError,
    MailboxKey, MailboxStore, NewItem, SyncPage, SyncScope, UserConfig,
};

/// A change as (kind, item id).
fn kind_of(c: &ItemChange) -> (&'static str, String) {
    match c {
        ItemChange::Create(i) => ("create", i.id.clone()),
        ItemChange::Update(i) => ("update", i.id.clone()),
        ItemChange::ReadFlagChange { item_id, .. } => ("read", item_id.clone()),
        ItemChange::Delete { item_id } => ("delete", item_id.clone()),
    }
}

fn spec(folder: &FolderSel, state: Option<&str>, max: usize) -> ItemSync {
    ItemSync {
        folder: folder.clone(),
        sync_state: state.map(str::to_owned),
        max_changes: max,
        scope: SyncScope::NormalItems,
        ignore: Vec::new(),
    }
}

async fn sync(
    s: &MailboxStore,
    m: &MailboxKey,
    folder: &FolderSel,
    state: Option<&str>,
    max: usize,
) -> SyncPage<ItemChange> {
    s.sync_folder_items(m, spec(folder, state, max))
        .await
        .unwrap()
}

/// Calls until `IncludesLastItemInRange`, as exchangelib's `sync_items()` does: every change
/// and the final state.
async fn drain(
    s: &MailboxStore,
    m: &MailboxKey,
    folder: &FolderSel,
    state: Option<String>,
    max: usize,
) -> (Vec<ItemChange>, String) {
    let mut state = state;
    let mut all = Vec::new();
    for _ in 0..1000 {
        let page = sync(s, m, folder, state.as_deref(), max).await;
        assert!(page.changes.len() <= max, "{} > {max}", page.changes.len());
        all.extend(page.changes);
        if page.includes_last {
            return (all, page.sync_state);
        }
        assert_ne!(
            state.as_deref(),
            Some(page.sync_state.as_str()),
            "no progress"
        );
        state = Some(page.sync_state);
    }
    panic!("the sync never ended");
}

async fn new_folder(s: &MailboxStore, m: &MailboxKey, name: &str) -> FolderSel {
    let f = s
        .create_folder(m, d("inbox"), name.into(), None)
        .await
        .unwrap();
    FolderSel::id(f.id)
}

async fn create(s: &MailboxStore, m: &MailboxKey, folder: &FolderSel, subject: &str) -> String {
    s.create_items(m, folder.clone(), vec![msg(subject)])
        .await
        .unwrap()
        .remove(0)
        .id
}

async fn set_subject(s: &MailboxStore, m: &MailboxKey, id: &str, subject: &str) {
    s.update_item(
        m,
        id.to_owned(),
        None,
        ItemUpdate {
            subject: Some(Some(subject.into())),
            ..ItemUpdate::default()
        },
    )
    .await
    .unwrap();
}

async fn set_read(s: &MailboxStore, m: &MailboxKey, id: &str, read: bool) {
    s.update_item(
        m,
        id.to_owned(),
        None,
        ItemUpdate {
            is_read: Some(read),
            ..ItemUpdate::default()
        },
    )
    .await
    .unwrap();
}

async fn hard_delete(s: &MailboxStore, m: &MailboxKey, id: &str) {
    let r = s
        .delete_items(m, vec![id.to_owned()], DeleteMode::Hard, ItemGuard::Any)
        .await
        .unwrap();
    r[0].as_ref().unwrap();
}

fn invalid_state(e: MailboxError) -> String {
    assert_eq!(e.response_code(), "ErrorInvalidSyncStateData", "{e:?}");
    let text = e.to_string();
    assert!(text.contains("without a SyncState"), "{text}");
    text
}

#[tokio::test]
async fn the_first_sync_lists_the_folder_in_pages() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let f = new_folder(&s, &m, "Synced").await;
    // items elsewhere before and after: never reported
    create(&s, &m, &d("inbox"), "elsewhere").await;
    let mut expected = Vec::new();
    for n in 0..25 {
        expected.push(create(&s, &m, &f, &format!("item {n}")).await);
    }
    create(&s, &m, &d("drafts"), "elsewhere too").await;
    let mut state: Option<String> = None;
    let mut got = Vec::new();
    for (n, (len, last)) in [(10, false), (10, false), (5, true)]
        .into_iter()
        .enumerate()
    {
        let page = sync(&s, &m, &f, state.as_deref(), 10).await;
        assert_eq!(
            (page.changes.len(), page.includes_last),
            (len, last),
            "page {n}"
        );
        for c in &page.changes {
            let ItemChange::Create(i) = c else {
                panic!("not a create: {c:?}")
            };
            assert!(i.body.is_none(), "bodies are not loaded");
            got.push(i.id.clone());
        }
        state = Some(page.sync_state);
    }
    // in id order (creation order here), each once
    assert_eq!(got, expected);
    // nothing more, and the state stays (exchangelib stops on an unchanged state)
    let again = sync(&s, &m, &f, state.as_deref(), 10).await;
    assert!(again.changes.is_empty() && again.includes_last);
    assert_eq!(Some(again.sync_state.as_str()), state.as_deref());
    // an empty folder: one call, nothing, done
    let empty = new_folder(&s, &m, "Empty").await;
    let page = sync(&s, &m, &empty, None, 1).await;
    assert!(page.changes.is_empty() && page.includes_last);
}

/// After the first sync, each item's changes come once, as their net effect.
#[tokio::test]
async fn later_changes_are_collapsed_per_item() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let f = new_folder(&s, &m, "Synced").await;
    let outside = create(&s, &m, &d("inbox"), "outside").await;
    let outside2 = create(&s, &m, &d("inbox"), "outside 2").await;
    let mut known = HashMap::new();
    for name in [
        "updated",
        "twice",
        "deleted",
        "moved out",
        "upd+del",
        "out+in",
        "read",
        "read+subj",
        "quiet",
        "soft",
    ] {
        known.insert(name, create(&s, &m, &f, name).await);
    }
    let (first, state) = drain(&s, &m, &f, None, 100).await;
    assert_eq!(first.len(), known.len());

    let created = create(&s, &m, &f, "created").await;
    set_subject(&s, &m, &known["updated"], "updated!").await;
    set_subject(&s, &m, &known["twice"], "twice 1").await;
    set_subject(&s, &m, &known["twice"], "twice 2").await;
    hard_delete(&s, &m, &known["deleted"]).await;
    s.move_item(&m, known["moved out"].clone(), d("inbox"))
        .await
        .unwrap();
    s.move_item(&m, outside.clone(), f.clone()).await.unwrap();
    // created and gone again within the window: nothing to tell
    let fleeting = create(&s, &m, &f, "fleeting").await;
    hard_delete(&s, &m, &fleeting).await;
    let passing = create(&s, &m, &f, "passing").await;
    s.move_item(&m, passing.clone(), d("inbox")).await.unwrap();
    // moved in and out again: nothing either
    s.move_item(&m, outside2.clone(), f.clone()).await.unwrap();
    s.move_item(&m, outside2.clone(), d("drafts"))
        .await
        .unwrap();
    set_subject(&s, &m, &known["upd+del"], "x").await;
    hard_delete(&s, &m, &known["upd+del"]).await;
    s.move_item(&m, known["out+in"].clone(), d("inbox"))
        .await
        .unwrap();
    s.move_item(&m, known["out+in"].clone(), f.clone())
        .await
        .unwrap();
    set_read(&s, &m, &known["read"], true).await;
    set_read(&s, &m, &known["read+subj"], true).await;
    set_subject(&s, &m, &known["read+subj"], "and a subject").await;
    // a soft delete moves the item to Recoverable Items: out of this folder
    s.delete_items(
        &m,
        vec![known["soft"].clone()],
        DeleteMode::Soft,
        ItemGuard::Any,
    )
    .await
    .unwrap()[0]
        .as_ref()
        .unwrap();

    let page = sync(&s, &m, &f, Some(&state), 100).await;
    assert!(page.includes_last);
    let got: Vec<(&str, String)> = page.changes.iter().map(kind_of).collect();
    let want: Vec<(&str, String)> = vec![
        ("create", created.clone()),
        ("update", known["updated"].clone()),
        ("update", known["twice"].clone()),
        ("delete", known["deleted"].clone()),
        ("delete", known["moved out"].clone()),
        ("create", outside.clone()),
        ("delete", known["upd+del"].clone()),
        ("update", known["out+in"].clone()),
        ("read", known["read"].clone()),
        ("update", known["read+subj"].clone()),
        ("delete", known["soft"].clone()),
    ];
    assert_eq!(got, want, "in the order of each item's first change");
    // the content is the item's latest
    let twice = page
        .changes
        .iter()
        .find_map(|c| match c {
            ItemChange::Update(i) if i.id == known["twice"] => Some(i),
            _ => None,
        })
        .unwrap();
    assert_eq!(twice.subject.as_deref(), Some("twice 2"));
    let read = page
        .changes
        .iter()
        .find_map(|c| match c {
            ItemChange::ReadFlagChange {
                item_id, is_read, ..
            } if *item_id == known["read"] => Some(*is_read),
            _ => None,
        })
        .unwrap();
    assert!(read);
    // nothing twice, and nothing more
    let next = sync(&s, &m, &f, Some(&page.sync_state), 100).await;
    assert!(next.changes.is_empty() && next.includes_last, "{next:?}");
    assert!(!got.iter().any(|(_, id)| *id == known["quiet"]));
}

/// More changes than one call returns: pages of at most MaxChangesReturned, none lost or
/// repeated, the same as in one call.
#[tokio::test]
async fn later_changes_come_in_pages() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let f = new_folder(&s, &m, "Synced").await;
    let (_, state) = drain(&s, &m, &f, None, 10).await;
    let mut ids = Vec::new();
    for n in 0..23 {
        let id = create(&s, &m, &f, &format!("new {n}")).await;
        create(&s, &m, &d("inbox"), "noise").await;
        if n % 3 == 0 {
            set_subject(&s, &m, &id, "changed").await;
        }
        ids.push(id);
    }
    let mut sizes = Vec::new();
    let mut st = state.clone();
    let mut got = Vec::new();
    loop {
        let page = sync(&s, &m, &f, Some(&st), 10).await;
        sizes.push(page.changes.len());
        got.extend(page.changes.iter().map(kind_of));
        st = page.sync_state;
        if page.includes_last {
            break;
        }
    }
    assert_eq!(sizes, [10, 10, 3]);
    let want: Vec<(&str, String)> = ids.iter().map(|i| ("create", i.clone())).collect();
    assert_eq!(got, want);
    let (one_call, _) = drain(&s, &m, &f, Some(state), MAX_SYNC_CHANGES).await;
    assert_eq!(one_call.iter().map(kind_of).collect::<Vec<_>>(), want);

    // The documented approximations: a call that stops early reads items as they are now, so
    // an item it creates that changed after where it stopped is created with its new content
    // and updated again by the next call; one that left the folder after that point is not
    // created (it is not there), and the next call deletes it.
    let mut later = Vec::new();
    for n in 0..12 {
        later.push(create(&s, &m, &f, &format!("later {n}")).await);
    }
    set_subject(&s, &m, &later[0], "later, changed").await;
    s.move_item(&m, later[1].clone(), d("inbox")).await.unwrap();
    let page = sync(&s, &m, &f, Some(&st), 10).await;
    assert!(!page.includes_last);
    let want: Vec<(&str, String)> = [0, 2, 3, 4, 5, 6, 7, 8, 9]
        .iter()
        .map(|n| ("create", later[*n].clone()))
        .collect();
    assert_eq!(page.changes.iter().map(kind_of).collect::<Vec<_>>(), want);
    let ItemChange::Create(first) = &page.changes[0] else {
        panic!("{:?}", page.changes[0])
    };
    assert_eq!(first.subject.as_deref(), Some("later, changed"));
    let next = sync(&s, &m, &f, Some(&page.sync_state), 10).await;
    assert!(next.includes_last);
    assert_eq!(
        next.changes.iter().map(kind_of).collect::<Vec<_>>(),
        [
            ("create", later[10].clone()),
            ("create", later[11].clone()),
            ("update", later[0].clone()),
            ("delete", later[1].clone()),
        ]
    );
}

/// Whatever happens while the first listing is under way is reported exactly once, and the
/// client ends up with exactly the folder's items.
#[tokio::test]
async fn changes_during_the_first_listing_are_reported_once() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let f = new_folder(&s, &m, "Synced").await;
    // older than the folder's items (a smaller id), moved in later
    let old_outside = create(&s, &m, &d("inbox"), "old outside").await;
    let mut items = Vec::new();
    for n in 0..25 {
        items.push(create(&s, &m, &f, &format!("item {n}")).await);
    }
    let young_outside = create(&s, &m, &d("inbox"), "young outside").await;
    let page = sync(&s, &m, &f, None, 10).await;
    assert_eq!(page.changes.len(), 10);
    let listed: Vec<String> = page.changes.iter().map(|c| kind_of(c).1).collect();
    assert_eq!(listed, items[..10]);
    // while the listing is under way:
    set_subject(&s, &m, &items[2], "listed, then changed").await;
    set_subject(&s, &m, &items[15], "not yet listed, changed").await;
    hard_delete(&s, &m, &items[3]).await;
    hard_delete(&s, &m, &items[16]).await;
    s.move_item(&m, items[4].clone(), d("inbox")).await.unwrap();
    s.move_item(&m, items[17].clone(), d("inbox"))
        .await
        .unwrap();
    let created = create(&s, &m, &f, "created meanwhile").await;
    s.move_item(&m, old_outside.clone(), f.clone())
        .await
        .unwrap();
    s.move_item(&m, young_outside.clone(), f.clone())
        .await
        .unwrap();
    set_read(&s, &m, &items[5], true).await;

    let (rest, state) = drain(&s, &m, &f, Some(page.sync_state), 10).await;
    let mut seen: HashMap<String, Vec<&str>> = HashMap::new();
    for c in page.changes.iter().chain(&rest) {
        let (k, id) = kind_of(c);
        seen.entry(id).or_default().push(k);
    }
    let expect = |id: &String, kinds: &[&str]| {
        assert_eq!(
            seen.get(id).map(Vec::as_slice).unwrap_or_default(),
            kinds,
            "{id}"
        );
    };
    expect(&items[2], &["create", "update"]);
    expect(&items[15], &["create"]);
    expect(&items[3], &["create", "delete"]);
    expect(&items[16], &[]);
    expect(&items[4], &["create", "delete"]);
    expect(&items[17], &[]);
    expect(&created, &["create"]);
    expect(&old_outside, &["create"]);
    expect(&young_outside, &["create"]);
    expect(&items[5], &["create", "read"]);
    for id in &items[6..15] {
        expect(id, &["create"]);
    }
    // the item not yet listed when it changed is listed as it then was
    let fifteen = rest
        .iter()
        .find_map(|c| match c {
            ItemChange::Create(i) if i.id == items[15] => Some(i),
            _ => None,
        })
        .unwrap();
    assert_eq!(fifteen.subject.as_deref(), Some("not yet listed, changed"));
    // replaying the changes gives exactly the folder's items
    let mut client: Vec<String> = Vec::new();
    for c in page.changes.iter().chain(&rest) {
        match c {
            ItemChange::Create(i) => {
                assert!(!client.contains(&i.id), "created twice: {}", i.id);
                client.push(i.id.clone());
            }
            ItemChange::Delete { item_id } => client.retain(|i| i != item_id),
            ItemChange::Update(i) => assert!(client.contains(&i.id)),
            ItemChange::ReadFlagChange { item_id, .. } => assert!(client.contains(item_id)),
        }
    }
    client.sort();
    let mut server: Vec<String> = s
        .find_items(&m, f.clone(), mailbox::FindSpec::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| i.id)
        .collect();
    server.sort();
    assert_eq!(client, server);
    let after = sync(&s, &m, &f, Some(&state), 10).await;
    assert!(after.changes.is_empty() && after.includes_last);
}

#[tokio::test]
async fn ignored_items_are_not_reported() {
    let s = store_with(&["alice", "bob"]).await;
    let m = key("alice");
    let f = new_folder(&s, &m, "Synced").await;
    let a = create(&s, &m, &f, "a").await;
    let b = create(&s, &m, &f, "b").await;
    let bobs = create(&s, &key("bob"), &d("inbox"), "bob's").await;
    let mut sp = spec(&f, None, 10);
    sp.ignore = vec![b.clone(), bobs];
    let page = s.sync_folder_items(&m, sp.clone()).await.unwrap();
    assert_eq!(
        page.changes.iter().map(kind_of).collect::<Vec<_>>(),
        [("create", a.clone())]
    );
    set_subject(&s, &m, &b, "changed").await;
    set_subject(&s, &m, &a, "changed").await;
    sp.sync_state = Some(page.sync_state);
    let page = s.sync_folder_items(&m, sp.clone()).await.unwrap();
    assert_eq!(
        page.changes.iter().map(kind_of).collect::<Vec<_>>(),
        [("update", a)]
    );
    sp.ignore = vec!["not an id".into()];
    let e = s.sync_folder_items(&m, sp).await.unwrap_err();
    assert_eq!(e.response_code(), "ErrorInvalidIdMalformed");
}

/// Folder-associated items (user configurations) only with SyncScope NormalAndAssociatedItems,
/// their deletion included.
#[tokio::test]
async fn associated_items_only_in_their_scope() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let f = new_folder(&s, &m, "Synced").await;
    let normal = create(&s, &m, &f, "normal").await;
    let fai = s
        .create_items(
            &m,
            f.clone(),
            vec![NewItem {
                is_associated: true,
                item_class: "IPM.Microsoft.Custom".into(),
                ..NewItem::default()
            }],
        )
        .await
        .unwrap()
        .remove(0)
        .id;
    let (normal_only, n_state) = drain(&s, &m, &f, None, 10).await;
    assert_eq!(
        normal_only.iter().map(kind_of).collect::<Vec<_>>(),
        [("create", normal.clone())]
    );
    let mut both = spec(&f, None, 10);
    both.scope = SyncScope::NormalAndAssociatedItems;
    let page = s.sync_folder_items(&m, both.clone()).await.unwrap();
    assert_eq!(
        page.changes.iter().map(kind_of).collect::<Vec<_>>(),
        [("create", normal.clone()), ("create", fai.clone())]
    );
    // a user configuration comes and goes; the FAI item goes
    s.create_user_configuration(
        &m,
        f.clone(),
        UserConfig {
            name: "Sync.Test".into(),
            ..UserConfig::default()
        },
    )
    .await
    .unwrap();
    hard_delete(&s, &m, &fai).await;
    let n = sync(&s, &m, &f, Some(&n_state), 10).await;
    assert!(n.changes.is_empty(), "{:?}", n.changes);
    both.sync_state = Some(page.sync_state.clone());
    let a = s.sync_folder_items(&m, both.clone()).await.unwrap();
    let kinds: Vec<&str> = a.changes.iter().map(|c| kind_of(c).0).collect();
    assert_eq!(kinds, ["create", "delete"], "{:?}", a.changes);
    // a state is for the scope it was made with
    let e = sync_err(&s, &m, spec(&f, Some(&page.sync_state), 10)).await;
    assert!(invalid_state(e).contains("NormalAndAssociatedItems"));
}

async fn sync_err(s: &MailboxStore, m: &MailboxKey, sp: ItemSync) -> MailboxError {
    s.sync_folder_items(m, sp).await.unwrap_err()
}

#[tokio::test]
async fn states_that_cannot_be_continued_are_refused() {
    let s = store_with(&["alice", "bob"]).await;
    let m = key("alice");
    let f = new_folder(&s, &m, "Synced").await;
    let g = new_folder(&s, &m, "Other").await;
    create(&s, &m, &f, "one").await;
    let (_, state) = drain(&s, &m, &f, None, 10).await;
    // malformed
    for bad in ["", "!!!", "AAAA", &"QUFB".repeat(300)] {
        invalid_state(sync_err(&s, &m, spec(&f, Some(bad), 10)).await);
    }
    // another folder's, another mailbox's, the hierarchy's
    let e = sync_err(&s, &m, spec(&g, Some(&state), 10)).await;
    assert!(invalid_state(e).contains("another folder"));
    let bob_f = FolderSel::distinguished("inbox");
    let e = sync_err(&s, &key("bob"), spec(&bob_f, Some(&state), 10)).await;
    assert!(invalid_state(e).contains("another mailbox"));
    let h = s.sync_folder_hierarchy(&m, None, None).await.unwrap();
    let e = sync_err(&s, &m, spec(&f, Some(&h.sync_state), 10)).await;
    assert!(invalid_state(e).contains("SyncFolderHierarchy"));
    let e = s
        .sync_folder_hierarchy(&m, None, Some(state.clone()))
        .await
        .unwrap_err();
    assert!(invalid_state(e).contains("SyncFolderItems"));
    // ahead of this store's log: made by another store for a mailbox of the same key
    let other = store_with(&["alice", "bob"]).await;
    let of = new_folder(&other, &m, "Synced").await;
    for n in 0..5 {
        create(&other, &m, &of, &format!("{n}")).await;
    }
    let (_, ahead) = drain(&other, &m, &of, None, 10).await;
    let e = sync_err(&s, &m, spec(&f, Some(&ahead), 10)).await;
    assert!(invalid_state(e).contains("ahead"), "same folder id");
    // the changes after it pruned: refused, not skipped
    create(&s, &m, &f, "two").await;
    let head = s.counters(&m).await.unwrap().last_event_seq;
    s.prune_events(&m, head).await.unwrap();
    let e = sync_err(&s, &m, spec(&f, Some(&state), 10)).await;
    assert!(invalid_state(e).contains("no longer kept"));
    // MaxChangesReturned outside 1..=512
    for max in [0, MAX_SYNC_CHANGES + 1] {
        let e = sync_err(&s, &m, spec(&f, None, max)).await;
        assert_eq!(e.response_code(), "ErrorInvalidRequest", "{max}");
        assert!(e.to_string().contains("from 1 to 512"), "{e}");
    }
    // and the current state still works
    let (_, fresh) = drain(&s, &m, &f, None, 10).await;
    sync(&s, &m, &f, Some(&fresh), 10).await;
}

/// A call reads at most MAX_SYNC_EVENTS_SCANNED entries of the log, other folders' included;
/// the next call goes on from there.
#[tokio::test]
async fn one_call_reads_a_bounded_part_of_the_log() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let f = new_folder(&s, &m, "Synced").await;
    let (_, state) = drain(&s, &m, &f, None, 10).await;
    let noise: Vec<NewItem> = (0..1000).map(|n| msg(&format!("noise {n}"))).collect();
    for _ in 0..=(MAX_SYNC_EVENTS_SCANNED / 1000) {
        s.create_items(&m, d("inbox"), noise.clone()).await.unwrap();
    }
    let late = create(&s, &m, &f, "late").await;
    let first = sync(&s, &m, &f, Some(&state), 10).await;
    assert!(first.changes.is_empty() && !first.includes_last);
    let second = sync(&s, &m, &f, Some(&first.sync_state), 10).await;
    assert!(second.includes_last);
    assert_eq!(
        second.changes.iter().map(kind_of).collect::<Vec<_>>(),
        [("create", late)]
    );
}

fn folder_kind(c: &FolderChange) -> (&'static str, String) {
    match c {
        FolderChange::Create(f) => ("create", f.display_name.clone()),
        FolderChange::Update(f) => ("update", f.display_name.clone()),
        FolderChange::Delete { folder_id } => ("delete", folder_id.clone()),
    }
}

#[tokio::test]
async fn hierarchy_sync_lists_then_follows_folder_changes() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    // the whole mailbox: every folder under root, parents first
    let all = s.sync_folder_hierarchy(&m, None, None).await.unwrap();
    assert!(all.includes_last);
    let names: Vec<String> = all.changes.iter().map(|c| folder_kind(c).1).collect();
    assert_eq!(
        names.len(),
        mailbox::distinguished::ALL.len() - 1,
        "{names:?}"
    );
    assert!(!names.contains(&"root".to_owned()));
    let pos = |n: &str| names.iter().position(|x| x == n).unwrap();
    assert!(pos("Top of Information Store") < pos("Inbox"));
    assert!(pos("Recoverable Items") < pos("Purges"));

    // under the Inbox only
    let doomed = s
        .create_folder(&m, d("inbox"), "Doomed".into(), None)
        .await
        .unwrap();
    let first = s
        .sync_folder_hierarchy(&m, Some(d("inbox")), None)
        .await
        .unwrap();
    assert_eq!(
        first.changes.iter().map(folder_kind).collect::<Vec<_>>(),
        [("create", "Doomed".to_owned())]
    );
    let parent = s
        .create_folder(&m, d("inbox"), "Projects".into(), None)
        .await
        .unwrap();
    s.create_folder(&m, FolderSel::id(&parent.id), "Child".into(), None)
        .await
        .unwrap();
    s.update_folder(
        &m,
        FolderSel::id(&parent.id),
        None,
        Some("Projects 2".into()),
        None,
    )
    .await
    .unwrap();
    s.update_folder(
        &m,
        FolderSel::id(&doomed.id),
        None,
        Some("Doomed!".into()),
        None,
    )
    .await
    .unwrap();
    s.delete_folder(
        &m,
        FolderSel::id(&doomed.id),
        DeleteMode::Hard,
        ItemGuard::Any,
    )
    .await
    .unwrap();
    let brief = s
        .create_folder(&m, d("inbox"), "Brief".into(), None)
        .await
        .unwrap();
    s.delete_folder(
        &m,
        FolderSel::id(&brief.id),
        DeleteMode::Hard,
        ItemGuard::Any,
    )
    .await
    .unwrap();
    // elsewhere, and items: no hierarchy change here
    s.create_folder(&m, d("drafts"), "Elsewhere".into(), None)
        .await
        .unwrap();
    create(&s, &m, &d("inbox"), "mail").await;
    let next = s
        .sync_folder_hierarchy(&m, Some(d("inbox")), Some(first.sync_state.clone()))
        .await
        .unwrap();
    assert!(next.includes_last);
    assert_eq!(
        next.changes.iter().map(folder_kind).collect::<Vec<_>>(),
        [
            ("create", "Projects 2".to_owned()),
            ("create", "Child".to_owned()),
            ("delete", doomed.id.clone()),
        ]
    );
    // a known folder renamed: an update; its items changing: nothing
    s.update_folder(
        &m,
        FolderSel::id(&parent.id),
        None,
        Some("Projects 3".into()),
        None,
    )
    .await
    .unwrap();
    create(&s, &m, &FolderSel::id(&parent.id), "filed").await;
    let renamed = s
        .sync_folder_hierarchy(&m, Some(d("inbox")), Some(next.sync_state.clone()))
        .await
        .unwrap();
    assert_eq!(
        renamed.changes.iter().map(folder_kind).collect::<Vec<_>>(),
        [("update", "Projects 3".to_owned())]
    );
    // a subtree deleted: both of its folders
    s.delete_folder(
        &m,
        FolderSel::id(&parent.id),
        DeleteMode::Hard,
        ItemGuard::Any,
    )
    .await
    .unwrap();
    let gone = s
        .sync_folder_hierarchy(&m, Some(d("inbox")), Some(renamed.sync_state.clone()))
        .await
        .unwrap();
    let kinds: Vec<&str> = gone.changes.iter().map(|c| folder_kind(c).0).collect();
    assert_eq!(kinds, ["delete", "delete"]);
    // a hierarchy state is for the folder it was made for
    let e = s
        .sync_folder_hierarchy(&m, Some(d("drafts")), Some(next.sync_state))
        .await
        .unwrap_err();
    assert!(invalid_state(e).contains("another folder"));
    // the whole-mailbox state, made before any of it: only what is left
    let whole = s
        .sync_folder_hierarchy(&m, None, Some(all.sync_state))
        .await
        .unwrap();
    assert_eq!(
        whole.changes.iter().map(folder_kind).collect::<Vec<_>>(),
        [("create", "Elsewhere".to_owned())]
    );
}
