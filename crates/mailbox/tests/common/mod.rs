//! Shared helpers for the integration tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use mailbox::{Body, BodyType, Clock, FolderSel, MailboxKey, MailboxStore, NewItem, Recipient};
use time::OffsetDateTime;
use time::macros::datetime;

/// 2024-01-01T00:00:00Z.
pub const T0: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

/// A clock that starts at [`T0`] and advances one second per reading.
pub fn ticking_clock() -> (Clock, Arc<AtomicI64>) {
    let secs = Arc::new(AtomicI64::new(0));
    let s = secs.clone();
    let clock: Clock =
        Arc::new(move || T0 + time::Duration::seconds(s.fetch_add(1, Ordering::SeqCst)));
    (clock, secs)
}

pub fn key(k: &str) -> MailboxKey {
    MailboxKey::new(k).unwrap()
}

pub async fn store_with(mailboxes: &[&str]) -> MailboxStore {
    let (clock, _) = ticking_clock();
    let s = MailboxStore::open_in_memory().unwrap().with_clock(clock);
    for m in mailboxes {
        assert!(s.ensure_mailbox(&key(m)).await.unwrap());
    }
    s
}

pub fn d(name: &str) -> FolderSel {
    FolderSel::distinguished(name)
}

pub fn msg(subject: &str) -> NewItem {
    NewItem {
        item_class: "IPM.Note".into(),
        subject: Some(subject.into()),
        body: Some(Body {
            body_type: BodyType::Html,
            content: format!("<div>{subject}</div>"),
        }),
        from: Some(Recipient::new(Some("Bob"), "bob@contoso.example")),
        to: vec![Recipient::new(None, "alice@contoso.example")],
        ..NewItem::default()
    }
}

pub async fn counts(s: &MailboxStore, m: &MailboxKey, folder: &str) -> (u64, u64, u64) {
    let f = s.get_folder(m, d(folder)).await.unwrap();
    (f.total_count, f.unread_count, f.associated_count)
}
