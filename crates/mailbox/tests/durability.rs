//! Writes survive closing and reopening the database file, byte for byte.
mod common;

use common::*;
use mailbox::ItemGuard;
use mailbox::{
    Body, BodyType, Calendar, DeleteMode, DictEntry, DictValue, FindSpec, FreeBusy, MailboxStore,
    NewItem, Paging, UserConfig,
};
use time::macros::datetime;

#[tokio::test]
async fn everything_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mailbox.sqlite");
    let m = key("0b0f8c9e-3c1a-4f53-9d4e-6f1a2b3c4d5e");
    let audio: Vec<u8> = (0..=255u8).cycle().take(300_000).collect();
    let html = "<div>caf\u{e9} \u{1F600} &amp; \0 nul</div>".to_string();

    let (items, greeting, folder, counters, events) = {
        let (clock, _) = ticking_clock();
        let s = MailboxStore::open(&path).unwrap().with_clock(clock);
        assert_eq!(s.path(), Some(path.as_path()));
        s.ensure_mailbox(&m).await.unwrap();
        let mut items = s
            .create_items(
                &m,
                d("recoverableitemspurges"),
                vec![
                    NewItem {
                        item_class: "IPM.Note.Microsoft.Conversation".into(),
                        body: Some(Body {
                            body_type: BodyType::Html,
                            content: html.clone(),
                        }),
                        extended: vec![("Tag:0x1000".into(), "x".repeat(10_000))],
                        ..msg("archived chat")
                    },
                    NewItem {
                        item_class: "IPM.Appointment".into(),
                        calendar: Some(Calendar {
                            start: datetime!(2024-03-01 9:00 UTC),
                            end: datetime!(2024-03-01 9:30 UTC),
                            is_all_day: false,
                            legacy_free_busy_status: FreeBusy::Tentative,
                            location: Some("Teams".into()),
                            recurrence: None,
                        }),
                        ..msg("meeting")
                    },
                    msg("to be soft-deleted"),
                    msg("to be hard-deleted"),
                ],
            )
            .await
            .unwrap();
        s.delete_items(
            &m,
            vec![items[3].id.clone()],
            DeleteMode::Hard,
            ItemGuard::Any,
        )
        .await
        .unwrap()[0]
            .as_ref()
            .unwrap();
        items.pop();
        s.delete_items(
            &m,
            vec![items[2].id.clone()],
            DeleteMode::Soft,
            ItemGuard::Any,
        )
        .await
        .unwrap()[0]
            .as_ref()
            .unwrap();
        let greeting = s
            .create_user_configuration(
                &m,
                d("root"),
                UserConfig {
                    name: "Um.CustomGreetings.External".into(),
                    dictionary: Some(vec![DictEntry {
                        key: DictValue::String("when".into()),
                        value: Some(DictValue::DateTime(
                            datetime!(2024-01-02 3:04:05.123 +01:00),
                        )),
                    }]),
                    xml_data: None,
                    binary_data: Some(audio.clone()),
                },
            )
            .await
            .unwrap();
        let items: Vec<_> = s
            .get_items(&m, items.iter().map(|i| i.id.clone()).collect())
            .await
            .unwrap()
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let folder = s.get_folder(&m, d("recoverableitemspurges")).await.unwrap();
        let counters = s.counters(&m).await.unwrap();
        let events = s.events_since(&m, 0, 1000).await.unwrap();
        (items, greeting, folder, counters, events)
        // `s` dropped here: the connection closes.
    };

    let s = MailboxStore::open(&path).unwrap();
    assert!(!s.ensure_mailbox(&m).await.unwrap(), "mailbox persisted");
    let again: Vec<_> = s
        .get_items(&m, items.iter().map(|i| i.id.clone()).collect())
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(again, items);
    assert_eq!(again[0].body.as_ref().unwrap().content, html);
    let g = s
        .get_user_configuration(&m, d("root"), "Um.CustomGreetings.External".into())
        .await
        .unwrap();
    assert_eq!(g, greeting);
    assert_eq!(g.config.binary_data.as_deref(), Some(audio.as_slice()));
    assert_eq!(
        s.get_folder(&m, d("recoverableitemspurges")).await.unwrap(),
        folder
    );
    // the soft delete of an item already in Purges keeps it there
    assert_eq!(folder.total_count, 3);
    assert_eq!(s.counters(&m).await.unwrap(), counters);
    assert_eq!(s.events_since(&m, 0, 1000).await.unwrap(), events);
    assert_eq!(counts(&s, &m, "recoverableitemsdeletions").await, (0, 0, 0));
    assert_eq!(counts(&s, &m, "root").await, (0, 0, 1));
    // New writes continue the sequences without reusing anything.
    let next = s
        .create_items(&m, d("inbox"), vec![msg("after reopen")])
        .await
        .unwrap();
    assert!(!items.iter().any(|i| i.id == next[0].id));
    let c = s.counters(&m).await.unwrap();
    assert_eq!(c.change_number, counters.change_number + 1);
    assert_eq!(c.last_event_seq, counters.last_event_seq + 1);
    let page = s
        .find_items(
            &m,
            d("root"),
            FindSpec {
                associated: true,
                paging: Paging::first(10),
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.items[0].id, greeting.item_id);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mailbox.sqlite");
    drop(MailboxStore::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = MailboxStore::open(&path).unwrap_err();
    assert_eq!(err.response_code(), "ErrorInternalServerError");
    assert!(err.to_string().contains("newer"), "{err}");
}
