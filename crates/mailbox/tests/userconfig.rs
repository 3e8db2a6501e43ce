mod common;

use common::*;
use mailbox::ItemGuard;
use mailbox::{
    DictEntry, DictValue, EventKind, FindSpec, FolderSel, MailboxError, NewItem, UserConfig,
};

/// A tiny but real RIFF/WAVE header plus samples, including bytes that are not UTF-8.
fn wav(len: usize) -> Vec<u8> {
    let mut v = b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data".to_vec();
    v.extend((0..len).map(|i| (i * 7 % 256) as u8));
    v
}

const GREETING: &str = "Um.CustomGreetings.External";

#[tokio::test]
async fn greeting_lifecycle() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let root = s.get_folder(&m, d("root")).await.unwrap();

    // get before create: ItemNotFound
    let err = s
        .get_user_configuration(&m, d("root"), GREETING.into())
        .await
        .unwrap_err();
    assert_eq!(err.response_code(), "ErrorItemNotFound");
    let err = s
        .update_user_configuration(
            &m,
            d("root"),
            UserConfig {
                name: GREETING.into(),
                binary_data: Some(wav(10)),
                ..UserConfig::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.response_code(), "ErrorItemNotFound");

    let audio = wav(100_000);
    let created = s
        .create_user_configuration(
            &m,
            d("root"),
            UserConfig {
                name: GREETING.into(),
                binary_data: Some(audio.clone()),
                ..UserConfig::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(created.folder_id, root.id);
    assert_eq!(
        created.config.binary_data.as_deref(),
        Some(audio.as_slice())
    );
    assert_eq!(created.config.dictionary, None);
    assert_eq!(created.config.xml_data, None);

    // duplicate create (names compare case-insensitively) → ErrorItemSave
    let err = s
        .create_user_configuration(
            &m,
            d("root"),
            UserConfig {
                name: GREETING.to_uppercase(),
                ..UserConfig::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::UserConfigurationExists(_)));
    assert_eq!(err.response_code(), "ErrorItemSave");
    // the same name in another folder is another configuration
    s.create_user_configuration(
        &m,
        d("inbox"),
        UserConfig {
            name: GREETING.into(),
            ..UserConfig::default()
        },
    )
    .await
    .unwrap();

    // get by name returns it byte-identical
    let got = s
        .get_user_configuration(&m, d("root"), GREETING.into())
        .await
        .unwrap();
    assert_eq!(got, created);
    // ... also by folder id and with different case
    let got2 = s
        .get_user_configuration(&m, FolderSel::id(root.id.clone()), GREETING.to_lowercase())
        .await
        .unwrap();
    assert_eq!(got2.item_id, created.item_id);

    // visible to an associated find, invisible to a normal one, never counted in total_count
    let fai = s
        .find_items(
            &m,
            d("root"),
            FindSpec {
                associated: true,
                ..FindSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(fai.total, 1);
    let fai_item = &fai.items[0];
    assert_eq!(fai_item.id, created.item_id);
    assert_eq!(
        fai_item.item_class,
        "IPM.Configuration.Um.CustomGreetings.External"
    );
    assert!(fai_item.is_associated);
    assert_eq!(fai_item.size, audio.len() as u64);
    let normal = s
        .find_items(&m, d("root"), FindSpec::default())
        .await
        .unwrap();
    assert_eq!(normal.total, 0);
    assert_eq!(counts(&s, &m, "root").await, (0, 0, 1));

    // the binary payload through the item path (FindItem Associated + GetItem)
    let item = s
        .get_items(&m, vec![fai_item.id.clone()])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    let uc = item
        .user_configuration
        .expect("streams on a configuration item");
    assert_eq!(uc.name, GREETING);
    assert_eq!(uc.binary_data.as_deref(), Some(audio.as_slice()));

    // update replaces only the given parts
    let dict = vec![
        DictEntry {
            key: DictValue::String("Version".into()),
            value: Some(DictValue::Integer32(2)),
        },
        DictEntry {
            key: DictValue::String("Blob".into()),
            value: Some(DictValue::ByteArray(vec![0, 255])),
        },
        DictEntry {
            key: DictValue::Integer64(-5),
            value: None,
        },
    ];
    let updated = s
        .update_user_configuration(
            &m,
            d("root"),
            UserConfig {
                name: GREETING.into(),
                dictionary: Some(dict.clone()),
                xml_data: Some(b"<x/>".to_vec()),
                binary_data: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.item_id, created.item_id);
    assert_ne!(updated.change_key, created.change_key);
    assert_eq!(
        updated.config.binary_data.as_deref(),
        Some(audio.as_slice()),
        "kept"
    );
    assert_eq!(updated.config.dictionary.as_ref(), Some(&dict));
    assert_eq!(updated.config.xml_data.as_deref(), Some(b"<x/>".as_slice()));
    let new_audio = wav(10);
    let updated = s
        .update_user_configuration(
            &m,
            d("root"),
            UserConfig {
                name: GREETING.into(),
                binary_data: Some(new_audio.clone()),
                ..UserConfig::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        updated.config.binary_data.as_deref(),
        Some(new_audio.as_slice())
    );
    assert_eq!(updated.config.dictionary.as_ref(), Some(&dict), "kept");
    let item = s
        .get_items(&m, vec![created.item_id.clone()])
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(
        item.user_configuration.unwrap().binary_data.as_deref(),
        Some(new_audio.as_slice())
    );
    assert!(item.size < audio.len() as u64);

    // delete, then everything says not found
    s.delete_user_configuration(&m, d("root"), GREETING.into())
        .await
        .unwrap();
    let err = s
        .get_user_configuration(&m, d("root"), GREETING.into())
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::ItemNotFound));
    let err = s
        .delete_user_configuration(&m, d("root"), GREETING.into())
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::ItemNotFound));
    assert!(matches!(
        s.get_items(&m, vec![created.item_id.clone()])
            .await
            .unwrap()[0],
        Err(MailboxError::ItemNotFound)
    ));
    assert_eq!(counts(&s, &m, "root").await, (0, 0, 0));
    // and it can be created again
    s.create_user_configuration(
        &m,
        d("root"),
        UserConfig {
            name: GREETING.into(),
            ..UserConfig::default()
        },
    )
    .await
    .unwrap();

    let kinds: Vec<EventKind> = s
        .events_since(&m, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
    use EventKind::*;
    assert_eq!(
        kinds,
        [Created, Created, Modified, Modified, Deleted, Created]
    );
}

#[tokio::test]
async fn names_and_sizes_are_checked() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    for bad in ["", "has space", "slash/name", "ümlaut", &"x".repeat(237)] {
        let err = s
            .create_user_configuration(
                &m,
                d("root"),
                UserConfig {
                    name: bad.into(),
                    ..UserConfig::default()
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(err, MailboxError::InvalidValue(_)), "{bad:?}");
        let err = s
            .get_user_configuration(&m, d("root"), bad.into())
            .await
            .unwrap_err();
        assert!(matches!(err, MailboxError::InvalidValue(_)), "{bad:?}");
    }
    s.create_user_configuration(
        &m,
        d("root"),
        UserConfig {
            name: "x".repeat(236),
            ..UserConfig::default()
        },
    )
    .await
    .unwrap();
    let err = s
        .create_user_configuration(
            &m,
            d("root"),
            UserConfig {
                name: "Big".into(),
                binary_data: Some(vec![0; 32 * 1024 * 1024 + 1]),
                ..UserConfig::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.response_code(), "ErrorMessageSizeExceeded");
    let err = s
        .create_user_configuration(
            &m,
            d("root"),
            UserConfig {
                name: "Dup".into(),
                dictionary: Some(vec![
                    DictEntry {
                        key: DictValue::String("a".into()),
                        value: None,
                    },
                    DictEntry {
                        key: DictValue::String("a".into()),
                        value: None,
                    },
                ]),
                ..UserConfig::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::InvalidValue(_)));
    assert_eq!(counts(&s, &m, "root").await, (0, 0, 1));
}

#[tokio::test]
async fn configuration_created_as_an_associated_item_is_a_configuration() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let item = s
        .create_items(
            &m,
            d("root"),
            vec![NewItem {
                item_class: "IPM.Configuration.Um.CustomGreetings.Oof".into(),
                is_associated: true,
                ..NewItem::default()
            }],
        )
        .await
        .unwrap()
        .remove(0);
    let uc = s
        .get_user_configuration(&m, d("root"), "Um.CustomGreetings.Oof".into())
        .await
        .unwrap();
    assert_eq!(uc.item_id, item.id);
    assert_eq!(uc.config.binary_data, None);
    let err = s
        .create_user_configuration(
            &m,
            d("root"),
            UserConfig {
                name: "Um.CustomGreetings.Oof".into(),
                ..UserConfig::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::UserConfigurationExists(_)));
    // The item path can delete it too.
    s.delete_items(&m, vec![item.id], mailbox::DeleteMode::Hard, ItemGuard::Any)
        .await
        .unwrap()[0]
        .as_ref()
        .unwrap();
    assert!(
        s.get_user_configuration(&m, d("root"), "Um.CustomGreetings.Oof".into())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn moving_a_configuration_onto_a_namesake_fails_cleanly() {
    let s = store_with(&["alice"]).await;
    let m = key("alice");
    let a = s
        .create_user_configuration(
            &m,
            d("inbox"),
            UserConfig {
                name: "Same".into(),
                ..UserConfig::default()
            },
        )
        .await
        .unwrap();
    s.create_user_configuration(
        &m,
        d("deleteditems"),
        UserConfig {
            name: "Same".into(),
            ..UserConfig::default()
        },
    )
    .await
    .unwrap();
    let before = s.counters(&m).await.unwrap();
    let r = s
        .delete_items(
            &m,
            vec![a.item_id.clone()],
            mailbox::DeleteMode::MoveToDeletedItems,
            ItemGuard::Any,
        )
        .await
        .unwrap();
    assert!(matches!(
        r[0],
        Err(MailboxError::UserConfigurationExists(_))
    ));
    assert_eq!(s.counters(&m).await.unwrap(), before);
    let err = s
        .move_item(&m, a.item_id.clone(), d("deleteditems"))
        .await
        .unwrap_err();
    assert!(matches!(err, MailboxError::UserConfigurationExists(_)));
    assert_eq!(counts(&s, &m, "inbox").await, (0, 0, 1));
}
