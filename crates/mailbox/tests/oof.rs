//! Out-of-office against a real store: settings kept per mailbox (the default for one that never
//! set any), automatic replies once per sender per period, in the sender's Inbox as new mail, a
//! scheduled period by the injected clock, nobody answering themselves, and a new setting
//! starting a new period.

mod common;

use std::sync::atomic::Ordering;

use common::*;
use mailbox::{Delivered, ExternalAudience, MailboxStore, OofSettings, OofState, Recipient};

fn bob_at() -> Delivered {
    Delivered {
        mailbox: key("bob"),
        address: Recipient::new(Some("Bob"), "bob@contoso.example"),
    }
}

fn alice() -> Recipient {
    Recipient::new(Some("Alice"), "alice@contoso.example")
}

fn away(state: OofState) -> OofSettings {
    OofSettings {
        state,
        external_audience: ExternalAudience::Known,
        duration: None,
        internal_reply: "<p>Away until Monday</p>".into(),
        external_reply: "Away".into(),
    }
}

async fn reply_to_alice(s: &MailboxStore, subject: &str) -> usize {
    s.oof_replies(&key("alice"), alice(), Some(subject.into()), vec![bob_at()])
        .await
        .unwrap()
        .replies
        .len()
}

#[tokio::test]
async fn settings_round_trip_and_default_to_disabled() {
    let s = store_with(&["bob"]).await;
    assert_eq!(
        s.get_oof(&key("bob")).await.unwrap(),
        OofSettings::default()
    );
    let set = OofSettings {
        duration: Some((T0, T0 + time::Duration::days(3))),
        ..away(OofState::Scheduled)
    };
    s.set_oof(&key("bob"), set.clone()).await.unwrap();
    assert_eq!(s.get_oof(&key("bob")).await.unwrap(), set);
    // refused: scheduled without a period; the stored settings stay
    let e = s
        .set_oof(&key("bob"), away(OofState::Scheduled))
        .await
        .unwrap_err();
    assert!(matches!(e, mailbox::MailboxError::InvalidValue(_)), "{e:?}");
    assert_eq!(s.get_oof(&key("bob")).await.unwrap(), set);
}

#[tokio::test]
async fn one_reply_per_sender_per_period_as_new_mail() {
    let s = store_with(&["alice", "bob"]).await;
    assert_eq!(reply_to_alice(&s, "Lunch").await, 0, "out-of-office off");
    s.set_oof(&key("bob"), away(OofState::Enabled))
        .await
        .unwrap();
    let replies = s
        .oof_replies(&key("alice"), alice(), Some("Lunch".into()), vec![bob_at()])
        .await
        .unwrap()
        .replies;
    assert_eq!(replies.len(), 1);
    let r = &replies[0];
    assert_eq!(r.subject.as_deref(), Some("Automatic reply: Lunch"));
    assert_eq!(r.item_class, "IPM.Note.Rules.OofTemplate.Microsoft");
    assert_eq!(
        r.from.as_ref().map(|f| f.email.as_str()),
        Some("bob@contoso.example")
    );
    assert_eq!(r.to, vec![alice()]);
    assert!(!r.is_read && !r.is_draft);
    assert_eq!(counts(&s, &key("alice"), "inbox").await, (1, 1, 0));
    let events = s.events_since(&key("alice"), 0, 100).await.unwrap();
    assert!(events.last().is_some_and(|e| e.new_mail), "{events:?}");
    // the same sender again, in another case: no second reply
    let shouting = Recipient::new(None, "ALICE@contoso.example");
    let again = s
        .oof_replies(
            &key("alice"),
            shouting,
            Some("Again".into()),
            vec![bob_at()],
        )
        .await
        .unwrap()
        .replies;
    assert!(again.is_empty());
    // a new setting is a new period
    s.set_oof(&key("bob"), away(OofState::Enabled))
        .await
        .unwrap();
    assert_eq!(reply_to_alice(&s, "Third").await, 1);
    assert_eq!(counts(&s, &key("alice"), "inbox").await.0, 2);
}

#[tokio::test]
async fn a_scheduled_period_follows_the_clock() {
    let (clock, secs) = ticking_clock();
    let s = MailboxStore::open_in_memory().unwrap().with_clock(clock);
    for m in ["alice", "bob"] {
        s.ensure_mailbox(&key(m)).await.unwrap();
    }
    let start = T0 + time::Duration::hours(1);
    s.set_oof(
        &key("bob"),
        OofSettings {
            duration: Some((start, start + time::Duration::hours(1))),
            ..away(OofState::Scheduled)
        },
    )
    .await
    .unwrap();
    assert_eq!(reply_to_alice(&s, "early").await, 0, "before the period");
    secs.store(3600 + 60, Ordering::SeqCst);
    assert_eq!(reply_to_alice(&s, "during").await, 1);
    secs.store(3 * 3600, Ordering::SeqCst);
    s.set_oof(
        &key("bob"),
        OofSettings {
            duration: Some((start, start + time::Duration::hours(1))),
            ..away(OofState::Scheduled)
        },
    )
    .await
    .unwrap();
    assert_eq!(reply_to_alice(&s, "late").await, 0, "after the period");
}

#[tokio::test]
async fn nobody_answers_themselves_and_an_empty_reply_is_none() {
    let s = store_with(&["alice", "bob"]).await;
    s.set_oof(&key("alice"), away(OofState::Enabled))
        .await
        .unwrap();
    let own = s
        .oof_replies(
            &key("alice"),
            alice(),
            Some("Note to self".into()),
            vec![Delivered {
                mailbox: key("alice"),
                address: alice(),
            }],
        )
        .await
        .unwrap()
        .replies;
    assert!(own.is_empty());
    s.set_oof(
        &key("bob"),
        OofSettings {
            internal_reply: "  ".into(),
            ..away(OofState::Enabled)
        },
    )
    .await
    .unwrap();
    assert_eq!(reply_to_alice(&s, "Hi").await, 0);
    // any on?
    assert!(s.any_oof_on(vec![key("alice")]).await.unwrap());
    assert!(s.any_oof_on(vec![key("bob")]).await.unwrap());
    s.set_oof(&key("bob"), OofSettings::default())
        .await
        .unwrap();
    assert!(!s.any_oof_on(vec![key("bob")]).await.unwrap());
}
