//! Paging and restrictions.
mod common;

use common::*;
use mailbox::{
    ContainmentMode, Field, Filter, FindSpec, Item, MailboxError, MailboxKey, MailboxStore,
    NewItem, Paging, SortField, SortOrder,
};
use time::macros::datetime;

fn subjects(items: &[Item]) -> Vec<String> {
    items.iter().filter_map(|i| i.subject.clone()).collect()
}

async fn find(s: &MailboxStore, m: &MailboxKey, f: Filter) -> Vec<String> {
    let page = s
        .find_items(
            m,
            d("inbox"),
            FindSpec {
                restriction: Some(f),
                sort: vec![(SortField::Subject, SortOrder::Ascending)],
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.total, page.items.len());
    // The store sorts subjects case-insensitively; compare in plain byte order here.
    let mut out = subjects(&page.items);
    out.sort();
    out
}

#[tokio::test]
async fn paging_1000_items_both_directions() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    // Ten transactions of 100: each batch shares a received time, so ordering exercises both the
    // time and the id tie-break.
    for batch in 0..10 {
        let items = (0..100)
            .map(|n| msg(&format!("{:04}", batch * 100 + n)))
            .collect();
        s.create_items(&m, d("inbox"), items).await.unwrap();
    }
    assert_eq!(counts(&s, &m, "inbox").await, (1000, 1000, 0));
    // Newest first: 0999, 0998, ...
    let expected: Vec<String> = (0..1000).rev().map(|n| format!("{n:04}")).collect();

    let mut forward = Vec::new();
    let mut offset = 0;
    let mut pages = 0;
    loop {
        let p = s
            .find_items(
                &m,
                d("inbox"),
                FindSpec {
                    paging: Paging::at(offset, 50),
                    ..FindSpec::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(p.total, 1000);
        assert_eq!(p.offset, offset);
        assert_eq!(p.items.len(), 50);
        pages += 1;
        assert_eq!(p.includes_last, pages == 20);
        offset += p.items.len();
        forward.extend(subjects(&p.items));
        if p.includes_last {
            break;
        }
    }
    assert_eq!(forward, expected);

    // From the end backwards: each page is in view order, pages come last-to-first.
    let mut backward: Vec<Vec<String>> = Vec::new();
    let mut offset = 0;
    loop {
        let p = s
            .find_items(
                &m,
                d("inbox"),
                FindSpec {
                    paging: Paging::from_end(offset, 50),
                    ..FindSpec::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(p.total, 1000);
        assert_eq!(p.offset, 1000 - offset - 50);
        offset += p.items.len();
        backward.push(subjects(&p.items));
        if p.includes_last {
            assert_eq!(p.offset, 0);
            break;
        }
    }
    assert_eq!(backward.len(), 20);
    let reassembled: Vec<String> = backward.into_iter().rev().flatten().collect();
    assert_eq!(reassembled, expected);

    // Ascending sort reverses the view.
    let asc = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                sort: vec![(SortField::DateTimeReceived, SortOrder::Ascending)],
                paging: Paging::first(3),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(subjects(&asc.items), ["0000", "0001", "0002"]);
    assert!(!asc.includes_last);

    // Offset past the end: empty page, right total.
    for paging in [Paging::at(1000, 50), Paging::at(5000, 50)] {
        let p = s
            .find_items(
                &m,
                d("inbox"),
                FindSpec {
                    paging,
                    ..FindSpec::default()
                },
            )
            .await
            .unwrap();
        assert!(p.items.is_empty());
        assert_eq!((p.total, p.offset, p.includes_last), (1000, 1000, true));
    }
    let p = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                paging: Paging::from_end(5000, 50),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert!(p.items.is_empty());
    assert_eq!((p.total, p.offset, p.includes_last), (1000, 0, true));
    // A partial last page.
    let p = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                paging: Paging::at(990, 50),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((p.items.len(), p.includes_last), (10, true));
    // Oversized pages are clamped to 1000.
    let p = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                paging: Paging::first(1_000_000),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((p.items.len(), p.includes_last), (1000, true));
}

async fn restriction_fixture() -> (MailboxStore, MailboxKey) {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let item = |subject: &str, class: &str, read: bool, sent, ext: &[(&str, &str)]| NewItem {
        item_class: class.into(),
        subject: Some(subject.into()),
        is_read: read,
        date_time_sent: sent,
        internet_message_id: Some(format!("<{subject}@x>")),
        extended: ext
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..NewItem::default()
    };
    // One create call per item, so each gets its own received time (T0+1s, T0+2s, ...).
    let items = [
        item(
            "Conversation with Bob",
            "IPM.Note.Microsoft.Conversation",
            false,
            Some(datetime!(2023-06-01 12:00 UTC)),
            &[("Tag:0x0E07", "1")],
        ),
        item(
            "Missed call from ÉMILE",
            "IPM.Note.Microsoft.Missed.Voice",
            true,
            Some(datetime!(2023-07-01 12:00 UTC)),
            &[("Tag:0x0E07", "3")],
        ),
        item(
            "Voicemail from Carol",
            "IPM.Note.Microsoft.Voicemail.UM",
            false,
            None,
            &[],
        ),
        item(
            "conversation WITH carol",
            "ipm.note.microsoft.conversation",
            true,
            Some(datetime!(2023-08-01 12:00 UTC)),
            &[("Tag:0x0E07", "2"), ("String:PS_PUBLIC_STRINGS:x", "y")],
        ),
    ];
    for it in items {
        s.create_items(&m, d("inbox"), vec![it]).await.unwrap();
    }
    (s, m)
}

#[tokio::test]
async fn restriction_item_class_and_subject() {
    let (s, m) = restriction_fixture().await;
    // ItemClass equality is case-insensitive (as in Exchange).
    assert_eq!(
        find(
            &s,
            &m,
            Filter::eq(Field::ItemClass, "IPM.Note.Microsoft.Conversation")
        )
        .await,
        ["Conversation with Bob", "conversation WITH carol"]
    );
    assert_eq!(
        find(
            &s,
            &m,
            Filter::ne(Field::ItemClass, "IPM.Note.Microsoft.Conversation")
        )
        .await,
        ["Missed call from ÉMILE", "Voicemail from Carol"]
    );
    // Substring, ignore case (Unicode folding).
    assert_eq!(
        find(
            &s,
            &m,
            Filter::contains(Field::Subject, "CAROL", ContainmentMode::Substring, true)
        )
        .await,
        ["Voicemail from Carol", "conversation WITH carol"]
    );
    assert_eq!(
        find(
            &s,
            &m,
            Filter::contains(Field::Subject, "émile", ContainmentMode::Substring, true)
        )
        .await,
        ["Missed call from ÉMILE"]
    );
    // Exact case.
    assert_eq!(
        find(
            &s,
            &m,
            Filter::contains(Field::Subject, "Carol", ContainmentMode::Substring, false)
        )
        .await,
        ["Voicemail from Carol"]
    );
    // Prefix and full string.
    assert_eq!(
        find(
            &s,
            &m,
            Filter::contains(
                Field::ItemClass,
                "IPM.Note.Microsoft.Voicemail",
                ContainmentMode::Prefixed,
                false
            )
        )
        .await,
        ["Voicemail from Carol"]
    );
    assert!(
        find(
            &s,
            &m,
            Filter::contains(
                Field::Subject,
                "Voicemail",
                ContainmentMode::FullString,
                false
            )
        )
        .await
        .is_empty()
    );
    assert_eq!(
        find(
            &s,
            &m,
            Filter::contains(
                Field::Subject,
                "voicemail FROM carol",
                ContainmentMode::FullString,
                true
            )
        )
        .await,
        ["Voicemail from Carol"]
    );
    // Prefix must be at the start.
    assert!(
        find(
            &s,
            &m,
            Filter::contains(Field::Subject, "from", ContainmentMode::Prefixed, true)
        )
        .await
        .is_empty()
    );
    // InternetMessageId equality
    assert_eq!(
        find(
            &s,
            &m,
            Filter::eq(Field::InternetMessageId, "<Voicemail from Carol@x>")
        )
        .await,
        ["Voicemail from Carol"]
    );
    // Metacharacters are data, not SQL or LIKE patterns.
    assert!(
        find(
            &s,
            &m,
            Filter::contains(Field::Subject, "%", ContainmentMode::Substring, true)
        )
        .await
        .is_empty()
    );
    assert!(
        find(&s, &m, Filter::eq(Field::Subject, "' OR '1'='1"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn restriction_dates_bools_and_logic() {
    let (s, m) = restriction_fixture().await;
    // Received: T0+k s for the k-th create (ensure_mailbox read the clock at T0).
    let t = |secs: i64| T0 + time::Duration::seconds(secs);
    assert_eq!(
        find(&s, &m, Filter::ge(Field::DateTimeReceived, t(3))).await,
        ["Voicemail from Carol", "conversation WITH carol"]
    );
    assert_eq!(
        find(&s, &m, Filter::lt(Field::DateTimeReceived, t(2))).await,
        ["Conversation with Bob"]
    );
    assert_eq!(
        find(&s, &m, Filter::eq(Field::DateTimeReceived, t(2))).await,
        ["Missed call from ÉMILE"]
    );
    // A missing property never matches a comparison, not even Ne...
    assert_eq!(
        find(
            &s,
            &m,
            Filter::ne(Field::DateTimeSent, datetime!(2023-06-01 12:00 UTC))
        )
        .await,
        ["Missed call from ÉMILE", "conversation WITH carol"]
    );
    // ...but Not of it does.
    assert_eq!(
        find(
            &s,
            &m,
            Filter::not(Filter::gt(
                Field::DateTimeSent,
                datetime!(2023-06-15 0:00 UTC)
            ))
        )
        .await,
        ["Conversation with Bob", "Voicemail from Carol"]
    );
    assert_eq!(
        find(&s, &m, Filter::not(Filter::Exists(Field::DateTimeSent))).await,
        ["Voicemail from Carol"]
    );
    assert_eq!(
        find(&s, &m, Filter::eq(Field::IsRead, false)).await,
        ["Conversation with Bob", "Voicemail from Carol"]
    );
    // And / Or / Not combined: (unread AND subject contains "conversation") OR sent in July.
    let f = Filter::Or(vec![
        Filter::And(vec![
            Filter::eq(Field::IsRead, false),
            Filter::contains(
                Field::Subject,
                "conversation",
                ContainmentMode::Substring,
                true,
            ),
        ]),
        Filter::And(vec![
            Filter::ge(Field::DateTimeSent, datetime!(2023-07-01 0:00 UTC)),
            Filter::lt(Field::DateTimeSent, datetime!(2023-08-01 0:00 UTC)),
        ]),
    ]);
    assert_eq!(
        find(&s, &m, f.clone()).await,
        ["Conversation with Bob", "Missed call from ÉMILE"]
    );
    let all = find(&s, &m, Filter::And(vec![])).await;
    assert_eq!(all.len(), 4);
    let not_f = find(&s, &m, Filter::not(f)).await;
    assert_eq!(not_f, ["Voicemail from Carol", "conversation WITH carol"]);
    assert!(find(&s, &m, Filter::Or(vec![])).await.is_empty());
    // Created time exists everywhere.
    assert_eq!(
        find(&s, &m, Filter::Exists(Field::DateTimeCreated))
            .await
            .len(),
        4
    );
    // Start/End are absent on non-calendar items.
    assert!(find(&s, &m, Filter::Exists(Field::Start)).await.is_empty());
}

#[tokio::test]
async fn subject_sort_is_case_insensitive() {
    let (s, m) = restriction_fixture().await;
    for (order, expected) in [
        (
            SortOrder::Ascending,
            [
                "Conversation with Bob",
                "conversation WITH carol",
                "Missed call from ÉMILE",
                "Voicemail from Carol",
            ],
        ),
        (
            SortOrder::Descending,
            [
                "Voicemail from Carol",
                "Missed call from ÉMILE",
                "conversation WITH carol",
                "Conversation with Bob",
            ],
        ),
    ] {
        let page = s
            .find_items(
                &m,
                d("inbox"),
                FindSpec {
                    sort: vec![(SortField::Subject, order)],
                    ..FindSpec::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(subjects(&page.items), expected);
    }
    // Secondary keys apply on ties: item class (case-insensitive, so the two conversation
    // classes tie), then sent time descending.
    let page = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                sort: vec![
                    (SortField::ItemClass, SortOrder::Ascending),
                    (SortField::DateTimeSent, SortOrder::Descending),
                ],
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        subjects(&page.items),
        [
            "conversation WITH carol",
            "Conversation with Bob",
            "Missed call from ÉMILE",
            "Voicemail from Carol"
        ]
    );
}

#[tokio::test]
async fn restriction_extended_properties() {
    let (s, m) = restriction_fixture().await;
    let key = || Field::ExtendedProperty("Tag:0x0E07".into());
    assert_eq!(
        find(&s, &m, Filter::eq(key(), "3")).await,
        ["Missed call from ÉMILE"]
    );
    assert_eq!(
        find(&s, &m, Filter::ge(key(), "2")).await,
        ["Missed call from ÉMILE", "conversation WITH carol"]
    );
    assert_eq!(
        find(&s, &m, Filter::Exists(key())).await,
        [
            "Conversation with Bob",
            "Missed call from ÉMILE",
            "conversation WITH carol"
        ]
    );
    assert_eq!(
        find(&s, &m, Filter::not(Filter::Exists(key()))).await,
        ["Voicemail from Carol"]
    );
    assert_eq!(
        find(
            &s,
            &m,
            Filter::And(vec![
                Filter::Exists(Field::ExtendedProperty("String:PS_PUBLIC_STRINGS:x".into())),
                Filter::eq(key(), "2"),
            ])
        )
        .await,
        ["conversation WITH carol"]
    );
    assert!(
        find(
            &s,
            &m,
            Filter::Exists(Field::ExtendedProperty("Tag:0x0E08".into()))
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn bad_restrictions_are_rejected() {
    let (s, m) = restriction_fixture().await;
    let err = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                restriction: Some(Filter::eq(Field::DateTimeSent, "yesterday")),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::InvalidRestriction(_)));
    assert_eq!(err.response_code(), "ErrorInvalidRestriction");
    let mut deep = Filter::Exists(Field::Subject);
    for _ in 0..100 {
        deep = Filter::not(deep);
    }
    let err = s
        .find_items(
            &m,
            d("inbox"),
            FindSpec {
                restriction: Some(deep),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::InvalidRestriction(_)));
}
