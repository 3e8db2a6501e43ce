//! Free/busy reads: the appointments of Calendar folders overlapping a window, per mailbox, in
//! one read, with their bounds.

mod common;

use common::{d, key, store_with};
use mailbox::limits::{MAX_FREE_BUSY_EVENTS, MAX_FREE_BUSY_MAILBOXES};
use mailbox::{
    Calendar, FreeBusy, FreeBusyRead, MailboxError, NewItem, Sensitivity, distinguished,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

fn appt(subject: &str, start: OffsetDateTime, hours: i64, status: FreeBusy) -> NewItem {
    NewItem {
        item_class: "IPM.Appointment".into(),
        subject: Some(subject.into()),
        calendar: Some(Calendar {
            start,
            end: start + Duration::hours(hours),
            is_all_day: false,
            legacy_free_busy_status: status,
            location: Some(format!("{subject} room")),
            recurrence: None,
        }),
        ..NewItem::default()
    }
}

fn read(k: &str, details: bool) -> FreeBusyRead {
    FreeBusyRead {
        mailbox: key(k),
        details,
    }
}

const W0: OffsetDateTime = datetime!(2026-03-09 00:00 UTC);

#[tokio::test]
async fn overlapping_appointments_of_each_calendar_in_one_read() {
    let s = store_with(&["alice", "bob"]).await;
    let mut private = appt("Dentist", W0 + Duration::hours(14), 1, FreeBusy::Busy);
    private.sensitivity = Sensitivity::Private;
    s.create_items(
        &key("alice"),
        d(distinguished::CALENDAR),
        vec![
            // began a month before the window and still runs into it
            appt(
                "Sabbatical",
                W0 - Duration::days(30),
                24 * 30 + 2,
                FreeBusy::Oof,
            ),
            appt("Standup", W0 + Duration::hours(9), 1, FreeBusy::Busy),
            private,
            // ends as the window starts, starts as it ends: outside
            appt("Before", W0 - Duration::hours(2), 2, FreeBusy::Busy),
            appt("After", W0 + Duration::days(1), 1, FreeBusy::Busy),
        ],
    )
    .await
    .unwrap();
    // not a calendar: never free/busy
    s.create_items(
        &key("alice"),
        d(distinguished::INBOX),
        vec![appt(
            "Forwarded",
            W0 + Duration::hours(3),
            1,
            FreeBusy::Busy,
        )],
    )
    .await
    .unwrap();
    s.create_items(
        &key("bob"),
        d(distinguished::CALENDAR),
        vec![appt(
            "Review",
            W0 + Duration::hours(9),
            2,
            FreeBusy::Tentative,
        )],
    )
    .await
    .unwrap();
    let out = s
        .free_busy(
            vec![
                read("alice", true),
                read("bob", false),
                read("carol", false),
            ],
            W0,
            W0 + Duration::days(1),
        )
        .await
        .unwrap();
    let alice = out[0].as_ref().unwrap();
    let subjects: Vec<_> = alice
        .iter()
        .map(|a| a.details.as_ref().unwrap().subject.clone().unwrap())
        .collect();
    assert_eq!(subjects, ["Sabbatical", "Standup", "Dentist"]);
    assert_eq!(alice[0].status, FreeBusy::Oof);
    assert_eq!(alice[0].start, W0 - Duration::days(30), "whole, not cut");
    let dentist = alice[2].details.as_ref().unwrap();
    assert_eq!(dentist.sensitivity, Sensitivity::Private);
    assert_eq!(dentist.location.as_deref(), Some("Dentist room"));
    assert_eq!(dentist.item_class, "IPM.Appointment");
    let bob = out[1].as_ref().unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].status, FreeBusy::Tentative);
    assert_eq!(bob[0].details, None, "details only when asked");
    // the ids are the items' own
    let got = s
        .get_items(&key("bob"), vec![bob[0].id.clone()])
        .await
        .unwrap();
    assert_eq!(got[0].as_ref().unwrap().subject.as_deref(), Some("Review"));
    // a mailbox never opened has an empty calendar
    assert!(out[2].as_ref().unwrap().is_empty());
}

#[tokio::test]
async fn bounds_fail_the_mailbox_or_the_call() {
    let s = store_with(&["busy", "quiet"]).await;
    // one more appointment than a mailbox answers, in writes of at most 1,000
    let all: Vec<NewItem> = (0..=MAX_FREE_BUSY_EVENTS)
        .map(|n| {
            appt(
                "Slot",
                W0 + Duration::minutes(i64::try_from(n).unwrap()),
                1,
                FreeBusy::Busy,
            )
        })
        .collect();
    for chunk in all.chunks(1000) {
        s.create_items(&key("busy"), d(distinguished::CALENDAR), chunk.to_vec())
            .await
            .unwrap();
    }
    let out = s
        .free_busy(
            vec![read("busy", false), read("quiet", false)],
            W0,
            W0 + Duration::days(10),
        )
        .await
        .unwrap();
    let e = out[0].as_ref().unwrap_err();
    assert!(matches!(e, MailboxError::FreeBusyTooLarge(_)), "{e}");
    assert_eq!(e.response_code(), "ErrorFreeBusyGenerationFailed");
    assert!(e.to_string().contains("shorter window"), "{e}");
    assert!(
        out[1].as_ref().unwrap().is_empty(),
        "the other mailbox is answered"
    );
    // a window that holds exactly the limit is answered
    let out = s
        .free_busy(
            vec![read("busy", false)],
            W0,
            W0 + Duration::minutes(i64::try_from(MAX_FREE_BUSY_EVENTS).unwrap()),
        )
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap().len(), MAX_FREE_BUSY_EVENTS);
    // too many mailboxes, a window that ends before it starts: the call
    let many = (0..=MAX_FREE_BUSY_MAILBOXES)
        .map(|_| read("quiet", false))
        .collect();
    assert!(matches!(
        s.free_busy(many, W0, W0 + Duration::days(1)).await,
        Err(MailboxError::InvalidRequest(_))
    ));
    assert!(matches!(
        s.free_busy(vec![read("quiet", false)], W0, W0 - Duration::days(1))
            .await,
        Err(MailboxError::CalendarEndBeforeStart)
    ));
}
