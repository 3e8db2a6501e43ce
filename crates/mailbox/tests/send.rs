//! Sending against a real store: a new message (kept or not) and an existing draft (moved or
//! deleted), each recipient mailbox's copy in its Inbox (unread, no Bcc line, received now,
//! a Created event in that mailbox), a stale change key, the recipient bound, and the whole send
//! one transaction across mailboxes.

mod common;

use common::*;
use mailbox::limits::MAX_RECIPIENTS_PER_MESSAGE;
use mailbox::{
    EventKind, FindSpec, FolderSel, ItemGuard, MailboxError, MailboxKey, MailboxStore, NewItem,
    Recipient, Send,
};

fn alice() -> Recipient {
    Recipient::new(Some("Alice"), "alice@contoso.example")
}

fn lunch() -> NewItem {
    NewItem {
        from: None,
        to: vec![Recipient::new(None, "bob@contoso.example")],
        cc: vec![Recipient::new(Some("Carol"), "carol@contoso.example")],
        bcc: vec![Recipient::new(None, "dave@contoso.example")],
        ..msg("Lunch?")
    }
}

fn send(to: &[&str], save_in: Option<FolderSel>) -> Send {
    Send {
        from: alice(),
        message_id: "<m1@contoso.example>".into(),
        deliver_to: to.iter().map(|k| key(k)).collect(),
        save_in,
        report: None,
        routed_version: None,
        answered: None,
        recipient_addresses: Vec::new(),
    }
}

async fn inbox(s: &MailboxStore, m: &MailboxKey) -> Vec<mailbox::Item> {
    let page = s
        .find_items(m, d("inbox"), FindSpec::default())
        .await
        .unwrap();
    let ids = page.items.into_iter().map(|i| i.id).collect();
    s.get_items(m, ids)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn send_new_delivers_unread_without_bcc_and_keeps_a_copy() {
    let s = store_with(&["alice", "bob", "dave"]).await;
    let bob0 = s.counters(&key("bob")).await.unwrap();
    let sent = s
        .send_new(
            &key("alice"),
            lunch(),
            send(&["bob", "dave"], Some(d("sentitems"))),
        )
        .await
        .unwrap();
    assert_eq!(sent.delivered.len(), 2);
    let saved = sent.saved.expect("a copy in Sent Items");
    let saved = s
        .get_items(&key("alice"), vec![saved.id])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(saved.from, Some(alice()));
    assert_eq!(saved.sender, Some(alice()));
    assert!(saved.is_read);
    assert_eq!(saved.bcc.len(), 1, "the sender's copy keeps its Bcc");
    assert_eq!(
        saved.internet_message_id.as_deref(),
        Some("<m1@contoso.example>")
    );
    assert!(saved.date_time_sent.is_some());
    assert_eq!(counts(&s, &key("alice"), "sentitems").await.0, 1);
    assert_eq!(counts(&s, &key("alice"), "drafts").await.0, 0);

    for m in ["bob", "dave"] {
        let got = inbox(&s, &key(m)).await;
        assert_eq!(got.len(), 1, "{m}");
        let i = &got[0];
        assert!(!i.is_read);
        assert_eq!(i.subject.as_deref(), Some("Lunch?"));
        assert_eq!(i.from, Some(alice()));
        assert_eq!(i.sender, Some(alice()));
        assert!(i.bcc.is_empty(), "{m} sees no Bcc line");
        assert_eq!(i.to.len(), 1);
        assert_eq!(i.cc.len(), 1);
        assert_eq!(i.internet_message_id, saved.internet_message_id);
        assert_eq!(i.date_time_sent, saved.date_time_sent);
        assert!(i.body.is_some());
        assert_eq!(counts(&s, &key(m), "inbox").await, (1, 1, 0));
    }
    // a Created event in Bob's own log: subscriptions and syncs see the delivery
    let events = s
        .events_since(&key("bob"), bob0.last_event_seq, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Created);
    assert_eq!(events[0].item_id, sent.delivered[0].id);
    assert!(events[0].new_mail, "delivered: new mail");
    // the sender's saved copy is no new mail
    let own = s.events_since(&key("alice"), 0, 10).await.unwrap();
    assert!(
        !own.is_empty() && own.iter().all(|e| !e.new_mail),
        "{own:?}"
    );
}

#[tokio::test]
async fn send_only_keeps_nothing_and_a_message_id_is_kept() {
    let s = store_with(&["alice", "bob"]).await;
    let item = NewItem {
        internet_message_id: Some("<own@client>".into()),
        ..lunch()
    };
    let sent = s
        .send_new(&key("alice"), item, send(&["bob"], None))
        .await
        .unwrap();
    assert!(sent.saved.is_none());
    for f in ["sentitems", "drafts", "inbox", "outbox"] {
        assert_eq!(counts(&s, &key("alice"), f).await.0, 0, "{f}");
    }
    let got = inbox(&s, &key("bob")).await;
    assert_eq!(got[0].internet_message_id.as_deref(), Some("<own@client>"));
}

#[tokio::test]
async fn send_item_moves_or_deletes_the_draft() {
    let s = store_with(&["alice", "bob"]).await;
    let a = key("alice");
    let draft = s
        .create_items(&a, d("drafts"), vec![lunch()])
        .await
        .unwrap()
        .remove(0);
    let sent = s
        .send_item(
            &a,
            draft.id.clone(),
            Some(draft.change_key.clone()),
            ItemGuard::Any,
            send(&["bob"], Some(d("sentitems"))),
        )
        .await
        .unwrap();
    let moved = sent.saved.expect("moved");
    assert_eq!(moved.id, draft.id, "the draft itself is the sent message");
    assert_eq!(counts(&s, &a, "drafts").await.0, 0);
    assert_eq!(counts(&s, &a, "sentitems").await.0, 1);
    assert!(moved.is_read);
    assert_eq!(moved.from, Some(alice()));
    let got = inbox(&s, &key("bob")).await;
    assert_eq!(got.len(), 1);
    assert!(!got[0].is_read && got[0].bcc.is_empty());
    assert_eq!(got[0].body, draft.body);

    // without a folder to save in, the draft is deleted once sent
    let draft = s
        .create_items(&a, d("drafts"), vec![lunch()])
        .await
        .unwrap()
        .remove(0);
    let sent = s
        .send_item(
            &a,
            draft.id.clone(),
            None,
            ItemGuard::Any,
            send(&["bob"], None),
        )
        .await
        .unwrap();
    assert!(sent.saved.is_none());
    assert_eq!(counts(&s, &a, "drafts").await.0, 0);
    assert_eq!(counts(&s, &a, "sentitems").await.0, 1);
    assert!(matches!(
        s.get_items(&a, vec![draft.id]).await.unwrap()[0],
        Err(MailboxError::ItemNotFound)
    ));
    assert_eq!(inbox(&s, &key("bob")).await.len(), 2);
}

#[tokio::test]
async fn a_stale_change_key_sends_nothing() {
    let s = store_with(&["alice", "bob"]).await;
    let a = key("alice");
    let draft = s
        .create_items(&a, d("drafts"), vec![lunch()])
        .await
        .unwrap()
        .remove(0);
    s.update_item(
        &a,
        draft.id.clone(),
        None,
        mailbox::ItemUpdate {
            subject: Some(Some("changed".into())),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let bob0 = s.counters(&key("bob")).await.unwrap();
    let e = s
        .send_item(
            &a,
            draft.id.clone(),
            Some(draft.change_key),
            ItemGuard::Any,
            send(&["bob"], Some(d("sentitems"))),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::ChangeKeyConflict), "{e:?}");
    assert_eq!(e.response_code(), "ErrorIrresolvableConflict");
    assert_eq!(counts(&s, &a, "drafts").await.0, 1);
    assert_eq!(counts(&s, &key("bob"), "inbox").await.0, 0);
    assert_eq!(s.counters(&key("bob")).await.unwrap(), bob0);
}

/// One transaction across mailboxes: a recipient mailbox that does not exist fails the whole
/// send, and the sender's copy and the other recipients' copies are not written either.
#[tokio::test]
async fn a_failing_delivery_writes_nothing_anywhere() {
    let s = store_with(&["alice", "bob"]).await;
    let a = key("alice");
    let draft = s
        .create_items(&a, d("drafts"), vec![lunch()])
        .await
        .unwrap()
        .remove(0);
    let e = s
        .send_item(
            &a,
            draft.id.clone(),
            None,
            ItemGuard::Any,
            send(&["bob", "nobody"], Some(d("sentitems"))),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::MailboxNotFound(_)), "{e:?}");
    assert_eq!(counts(&s, &a, "drafts").await.0, 1);
    assert_eq!(counts(&s, &a, "sentitems").await.0, 0);
    assert_eq!(counts(&s, &key("bob"), "inbox").await.0, 0);
    let e = s
        .send_new(&a, lunch(), send(&["bob", "nobody"], Some(d("sentitems"))))
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::MailboxNotFound(_)), "{e:?}");
    assert_eq!(counts(&s, &a, "sentitems").await.0, 0);
    assert_eq!(counts(&s, &key("bob"), "inbox").await.0, 0);
}

#[tokio::test]
async fn recipients_are_bounded_and_a_report_lands_in_the_senders_inbox() {
    let s = store_with(&["alice", "bob"]).await;
    let a = key("alice");
    let many: Vec<String> = (0..=MAX_RECIPIENTS_PER_MESSAGE)
        .map(|_| "bob".into())
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let e = s
        .send_new(&a, lunch(), send(&many, None))
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::InvalidRequest(_)), "{e:?}");
    assert_eq!(counts(&s, &key("bob"), "inbox").await.0, 0);

    let report = NewItem {
        item_class: "REPORT.IPM.Note.NDR".into(),
        subject: Some("Undeliverable: Lunch?".into()),
        ..NewItem::default()
    };
    let sent = s
        .send_new(
            &a,
            lunch(),
            Send {
                report: Some(report),
                ..send(&["bob"], None)
            },
        )
        .await
        .unwrap();
    let r = sent.report.expect("report");
    assert_eq!(r.item_class, "REPORT.IPM.Note.NDR");
    assert_eq!(counts(&s, &a, "inbox").await, (1, 1, 0));
}

/// A reply sent marks the item it answers in the send's transaction (its extended properties
/// set, a change of it); an answered item that is gone by then does not stop the send.
#[tokio::test]
async fn a_reply_marks_its_original_unless_it_is_gone() {
    let s = store_with(&["alice", "bob"]).await;
    let a = key("alice");
    let original = s
        .create_items(&a, d("inbox"), vec![msg("Numbers")])
        .await
        .unwrap()
        .remove(0);
    let marks = vec![("tag:0x1081|type:integer".to_owned(), "102".to_owned())];
    let answered = |id: &str| {
        Some(mailbox::Answered {
            item_id: id.to_owned(),
            set_extended: marks.clone(),
        })
    };
    s.send_new(
        &a,
        lunch(),
        Send {
            answered: answered(&original.id),
            ..send(&["bob"], None)
        },
    )
    .await
    .unwrap();
    let got = s.get_item(&a, &original.id).await.unwrap();
    assert_eq!(got.extended, marks);
    assert_ne!(got.change_key, original.change_key);
    // gone: the send goes through all the same
    s.delete_items(
        &a,
        vec![original.id.clone()],
        mailbox::DeleteMode::Hard,
        ItemGuard::Any,
    )
    .await
    .unwrap();
    let before = inbox(&s, &key("bob")).await.len();
    s.send_new(
        &a,
        lunch(),
        Send {
            answered: answered(&original.id),
            ..send(&["bob"], None)
        },
    )
    .await
    .unwrap();
    assert_eq!(inbox(&s, &key("bob")).await.len(), before + 1);
}
