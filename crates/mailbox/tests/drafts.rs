//! Drafts against a real store: a draft's recipient lines, From and attachments change (set,
//! appended, removed, in the order given); a message that is not a draft refuses those changes
//! and writes nothing of the update; sending clears the flag, delivered copies are no drafts, a
//! copy of a draft is one; a send refuses a message changed since its recipients were routed.

mod common;

use common::*;
use mailbox::{
    ItemGuard, ItemUpdate, MailboxError, NewAttachment, NewItem, Recipient, RecipientEdit, Send,
};

fn r(email: &str) -> Recipient {
    Recipient::new(None, email)
}

fn draft(subject: &str) -> NewItem {
    NewItem {
        from: None,
        to: vec![r("bob@contoso.example")],
        cc: vec![r("carol@contoso.example")],
        is_draft: true,
        ..msg(subject)
    }
}

fn file(name: &str, bytes: &[u8]) -> NewAttachment {
    NewAttachment {
        name: Some(name.into()),
        content_type: Some("text/plain".into()),
        content_id: None,
        is_inline: false,
        is_contact_photo: false,
        is_item: false,
        content: bytes.to_vec(),
    }
}

#[tokio::test]
async fn a_drafts_recipients_from_and_attachments_change() {
    let s = store_with(&["alice"]).await;
    let a = key("alice");
    let created = s
        .create_items(
            &a,
            d("drafts"),
            vec![NewItem {
                attachments: vec![file("old.txt", b"old")],
                ..draft("Plan")
            }],
        )
        .await
        .unwrap();
    let d0 = &created[0];
    assert!(d0.is_draft);
    let size_before = d0.size;
    let u = ItemUpdate {
        to: Some(RecipientEdit::Replace(vec![r("dave@contoso.example")])),
        cc: Some(RecipientEdit::Append(vec![r("erin@contoso.example")])),
        bcc: Some(RecipientEdit::Append(vec![r("frank@contoso.example")])),
        from: Some(Some(Recipient::new(Some("Alice"), "alice@contoso.example"))),
        replace_attachments: Some(vec![file("a.txt", b"12345"), file("b.txt", b"678")]),
        ..ItemUpdate::default()
    };
    let after = s
        .update_item(&a, d0.id.clone(), Some(d0.change_key.clone()), u)
        .await
        .unwrap();
    assert_eq!(after.to, vec![r("dave@contoso.example")]);
    assert_eq!(
        after.cc,
        vec![r("carol@contoso.example"), r("erin@contoso.example")]
    );
    assert_eq!(after.bcc, vec![r("frank@contoso.example")]);
    assert_eq!(
        after.from.as_ref().map(|f| f.email.as_str()),
        Some("alice@contoso.example")
    );
    assert!(after.is_draft, "still a draft");
    assert!(after.has_attachments);
    let names: Vec<_> = after
        .attachments
        .iter()
        .map(|a| a.name.clone().unwrap_or_default())
        .collect();
    assert_eq!(names, ["a.txt", "b.txt"]);
    assert_eq!(
        after.size,
        size_before - 3 + 8,
        "the size follows the attachments"
    );
    // the old attachment is gone, the new ones hold their bytes
    let got = s
        .get_attachments(&a, after.attachments.iter().map(|x| x.id.clone()).collect())
        .await
        .unwrap();
    assert_eq!(got[0].as_ref().unwrap().content, b"12345");
    let gone = s
        .get_attachments(&a, d0.attachments.iter().map(|x| x.id.clone()).collect())
        .await
        .unwrap();
    assert!(
        matches!(gone[0], Err(MailboxError::ItemNotFound)),
        "{gone:?}"
    );
    // the same attachments again (a MIME content set anew that carries them): kept, ids and all
    let same = s
        .update_item(
            &a,
            d0.id.clone(),
            None,
            ItemUpdate {
                replace_attachments: Some(vec![file("a.txt", b"12345"), file("b.txt", b"678")]),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(same.attachments, after.attachments);
    // deleting a line and From
    let cleared = s
        .update_item(
            &a,
            d0.id.clone(),
            None,
            ItemUpdate {
                cc: Some(RecipientEdit::Replace(Vec::new())),
                from: Some(None),
                replace_attachments: Some(Vec::new()),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(cleared.cc.is_empty());
    assert_eq!(cleared.from, None);
    assert!(!cleared.has_attachments);
    assert_eq!(cleared.size, size_before - 3);
}

#[test]
fn recipient_edits_compose_in_order() {
    let (a, b, c) = (r("a@x.example"), r("b@x.example"), r("c@x.example"));
    let set = RecipientEdit::Replace(vec![a.clone()]);
    let add = |x: &Recipient| RecipientEdit::Append(vec![x.clone()]);
    assert_eq!(
        set.clone().then(add(&b)),
        RecipientEdit::Replace(vec![a.clone(), b.clone()])
    );
    assert_eq!(
        add(&b).then(add(&c)),
        RecipientEdit::Append(vec![b.clone(), c.clone()])
    );
    assert_eq!(add(&b).then(set.clone()), set);
}

#[tokio::test]
async fn a_message_that_is_not_a_draft_refuses_draft_changes_and_writes_nothing() {
    let s = store_with(&["alice"]).await;
    let a = key("alice");
    let received = s
        .create_items(&a, d("inbox"), vec![msg("Hello")])
        .await
        .unwrap()
        .remove(0);
    assert!(!received.is_draft);
    for u in [
        ItemUpdate {
            to: Some(RecipientEdit::Append(vec![r("x@contoso.example")])),
            ..ItemUpdate::default()
        },
        ItemUpdate {
            from: Some(None),
            ..ItemUpdate::default()
        },
        ItemUpdate {
            replace_attachments: Some(Vec::new()),
            ..ItemUpdate::default()
        },
    ] {
        let e = s
            .update_item(
                &a,
                received.id.clone(),
                None,
                ItemUpdate {
                    subject: Some(Some("changed".into())),
                    ..u
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(e, MailboxError::NotADraft), "{e:?}");
        assert_eq!(e.response_code(), "ErrorInvalidPropertyUpdateSentMessage");
    }
    let now = s
        .get_items(&a, vec![received.id.clone()])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(
        now.subject.as_deref(),
        Some("Hello"),
        "nothing of the update"
    );
    assert_eq!(now.change_key, received.change_key);
    // what any message accepts still works
    s.update_item(
        &a,
        received.id.clone(),
        None,
        ItemUpdate {
            subject: Some(Some("changed".into())),
            ..ItemUpdate::default()
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn too_many_recipients_or_bad_ones_are_refused_before_the_write() {
    let s = store_with(&["alice"]).await;
    let a = key("alice");
    let d0 = s
        .create_items(&a, d("drafts"), vec![draft("Big")])
        .await
        .unwrap()
        .remove(0);
    let many: Vec<_> = (0..=mailbox::limits::MAX_RECIPIENTS)
        .map(|i| r(&format!("u{i}@contoso.example")))
        .collect();
    let e = s
        .update_item(
            &a,
            d0.id.clone(),
            None,
            ItemUpdate {
                bcc: Some(RecipientEdit::Replace(many)),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::InvalidValue(_)), "{e:?}");
    let e = s
        .update_item(
            &a,
            d0.id.clone(),
            None,
            ItemUpdate {
                to: Some(RecipientEdit::Append(vec![r(&"x".repeat(100_000))])),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::TooLarge { .. }), "{e:?}");
}

fn send_to(keys: &[&str], version: Option<String>) -> Send {
    Send {
        from: Recipient::new(Some("Alice"), "alice@contoso.example"),
        message_id: "<d1@contoso.example>".into(),
        deliver_to: keys.iter().map(|k| key(k)).collect(),
        save_in: Some(d("sentitems")),
        report: None,
        routed_version: version,
        answered: None,
        recipient_addresses: Vec::new(),
    }
}

#[tokio::test]
async fn sending_clears_the_flag_and_copies_keep_it() {
    let s = store_with(&["alice", "bob"]).await;
    let (a, b) = (key("alice"), key("bob"));
    let d0 = s
        .create_items(&a, d("drafts"), vec![draft("Go")])
        .await
        .unwrap()
        .remove(0);
    let copy = s
        .copy_items(&a, vec![d0.id.clone()], d("inbox"))
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    let copy = s
        .get_items(&a, vec![copy.id])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert!(copy.is_draft, "a copy of a draft is a draft");
    let (sent, _) = s
        .update_and_send_item(
            &a,
            d0.id.clone(),
            None,
            false,
            None,
            ItemGuard::Any,
            send_to(&["bob"], Some(d0.change_key.clone())),
        )
        .await
        .unwrap();
    let saved = sent.saved.expect("saved in Sent Items");
    assert!(!saved.is_draft);
    assert!(sent.delivered.iter().all(|i| !i.is_draft));
    let in_bob = s
        .get_items(&b, vec![sent.delivered[0].id.clone()])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert!(!in_bob.is_draft);
    // delivered: a new-mail event in Bob's log
    let events = s.events_since(&b, 0, 10).await.unwrap();
    let last = events.last().expect("an event");
    assert!(last.new_mail && last.item_id == in_bob.id, "{events:?}");
}

#[tokio::test]
async fn a_send_refuses_a_message_changed_since_it_was_routed() {
    let s = store_with(&["alice", "bob"]).await;
    let (a, b) = (key("alice"), key("bob"));
    let d0 = s
        .create_items(&a, d("drafts"), vec![draft("Race")])
        .await
        .unwrap()
        .remove(0);
    // another request changes the recipients after this send routed them
    s.update_item(
        &a,
        d0.id.clone(),
        None,
        ItemUpdate {
            to: Some(RecipientEdit::Replace(vec![r("carol@contoso.example")])),
            ..ItemUpdate::default()
        },
    )
    .await
    .unwrap();
    let e = s
        .update_and_send_item(
            &a,
            d0.id.clone(),
            None,
            true,
            None,
            ItemGuard::Any,
            send_to(&["bob"], Some(d0.change_key.clone())),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::ChangeKeyConflict), "{e:?}");
    assert_eq!(
        counts(&s, &b, "inbox").await,
        (0, 0, 0),
        "nothing delivered"
    );
    assert_eq!(counts(&s, &a, "drafts").await.0, 1, "the draft stays");
}
