//! Sample view data shared by the snapshot and round-trip tests.

use ews_proto::notification::{
    EventTarget, Notification, NotificationEvent, ObjectEvent, ObjectEventKind,
};
use ews_proto::request::{DictionaryEntry, DictionaryValueType, TypedValue, UserConfigurationName};
use ews_proto::response::{AttachmentView, FolderView, ItemView, UserConfigurationView};
use ews_proto::types::{
    BodyType, DistinguishedFolderId, ExtendedFieldUri, ExtendedProperty, ExtendedValue, FolderId,
    FolderKind, FolderRef, Importance, ItemKind, ItemRef, LegacyFreeBusyStatus, Mailbox,
    Sensitivity, parse_xs_datetime,
};
use time::OffsetDateTime;

pub fn at(s: &str) -> OffsetDateTime {
    match parse_xs_datetime(s) {
        Some(t) => t,
        None => panic!("bad test date {s}"),
    }
}

pub fn skype_blob_uri() -> ExtendedFieldUri {
    ExtendedFieldUri::tag(0x7C09, "Binary")
}

pub fn skype_conv_uri() -> ExtendedFieldUri {
    ExtendedFieldUri {
        distinguished_property_set_id: Some("PublicStrings".to_owned()),
        property_name: Some("SkypeConversationId".to_owned()),
        property_type: "String".to_owned(),
        ..Default::default()
    }
}

pub fn purges_folder() -> FolderView {
    FolderView {
        kind: FolderKind::Folder,
        id: "F-purges".to_owned(),
        change_key: Some("CK1".to_owned()),
        parent_id: Some("F-rir".to_owned()),
        parent_change_key: Some("CK1".to_owned()),
        display_name: "Purges".to_owned(),
        folder_class: None,
        total_count: 3,
        child_folder_count: 0,
        unread_count: 1,
        distinguished: Some(DistinguishedFolderId::RecoverableItemsPurges),
        extended: vec![ExtendedProperty {
            uri: ExtendedFieldUri::tag(0x3601, "Integer"),
            value: ExtendedValue::Single("1".to_owned()),
        }],
        permissions: None,
    }
}

pub fn calendar_folder() -> FolderView {
    FolderView {
        kind: FolderKind::CalendarFolder,
        folder_class: Some("IPF.Appointment".to_owned()),
        distinguished: Some(DistinguishedFolderId::Calendar),
        parent_id: Some("F-ipm".to_owned()),
        parent_change_key: None,
        change_key: None,
        extended: Vec::new(),
        ..FolderView::new("F-cal", "Calendar")
    }
}

pub fn conversation_message() -> ItemView {
    ItemView {
        parent_folder_id: Some("F-convhist".to_owned()),
        parent_change_key: Some("CK9".to_owned()),
        item_class: Some("IPM.Note.Microsoft.Conversation".to_owned()),
        subject: Some("Conversation with Bob & <Carol>".to_owned()),
        sensitivity: Some(Sensitivity::Normal),
        body: Some((BodyType::Html, "<div>hi &amp; bye</div>".to_owned())),
        date_time_received: Some(at("2024-03-01T10:00:00Z")),
        size: Some(1234),
        categories: vec!["Skype".to_owned(), "IM".to_owned()],
        importance: Some(Importance::Normal),
        date_time_sent: Some(at("2024-03-01T09:59:58Z")),
        date_time_created: Some(at("2024-03-01T10:00:01Z")),
        extended: vec![
            ExtendedProperty {
                uri: skype_blob_uri(),
                value: ExtendedValue::Single("AQID".to_owned()),
            },
            ExtendedProperty {
                uri: skype_conv_uri(),
                value: ExtendedValue::Single("conv-42".to_owned()),
            },
        ],
        sender: Some(Mailbox::smtp("bob@contoso.example", Some("Bob"))),
        to: vec![Mailbox::smtp("alice@contoso.example", Some("Alice"))],
        cc: vec![Mailbox::smtp("carol@contoso.example", None)],
        from: Some(Mailbox::smtp("bob@contoso.example", Some("Bob"))),
        internet_message_id: Some("<abc@contoso.example>".to_owned()),
        is_read: Some(true),
        ..ItemView::new(ItemKind::Message, "I-1", Some("CK1"))
    }
}

/// The recording of a voice mail, as GetAttachment answers it (with its content).
pub fn recording() -> AttachmentView {
    AttachmentView {
        name: Some("audio.wav".to_owned()),
        content_type: Some("audio/wav".to_owned()),
        size: Some(12),
        last_modified_time: Some(at("2024-03-01T10:00:02Z")),
        content: Some(b"RIFF\x24\x00\x00\x00WAVE".to_vec()),
        ..AttachmentView::new("A-1")
    }
}

/// An inline image (a `cid:` of the body), as its item lists it.
pub fn inline_logo() -> AttachmentView {
    AttachmentView {
        name: Some("logo & <mark>.png".to_owned()),
        content_type: Some("image/png".to_owned()),
        content_id: Some("logo@contoso.example".to_owned()),
        size: Some(8),
        last_modified_time: Some(at("2024-03-01T10:00:03Z")),
        is_inline: true,
        ..AttachmentView::new("A-2")
    }
}

/// A forwarded voice mail, as GetAttachment answers an item attachment: the attached item has
/// no id, and its own attachment comes whole (there is no id to fetch it by).
pub fn forwarded_voicemail() -> AttachmentView {
    let mut item = voicemail();
    item.id = String::new();
    item.change_key = None;
    item.parent_folder_id = None;
    item.attachments = vec![AttachmentView {
        id: String::new(),
        ..recording()
    }];
    AttachmentView {
        is_item: true,
        item: Some(Box::new(item)),
        name: Some("Voice mail from Bob".to_owned()),
        size: Some(512),
        last_modified_time: Some(at("2024-03-01T11:00:00Z")),
        ..AttachmentView::new("A-9")
    }
}

/// A voice mail with its recording and an inline image, as GetItem lists them (no content).
pub fn voicemail() -> ItemView {
    ItemView {
        parent_folder_id: Some("F-voicemail".to_owned()),
        item_class: Some("IPM.Note.Microsoft.Voicemail.UM.CA".to_owned()),
        subject: Some("Voice mail from Bob".to_owned()),
        body: Some((BodyType::Text, "Bob called.".to_owned())),
        date_time_received: Some(at("2024-03-01T10:00:00Z")),
        size: Some(31),
        has_attachments: true,
        attachments: vec![
            AttachmentView {
                content: None,
                ..recording()
            },
            inline_logo(),
        ],
        is_read: Some(false),
        ..ItemView::new(ItemKind::Message, "I-vm", Some("CK7"))
    }
}

pub fn meeting() -> ItemView {
    ItemView {
        parent_folder_id: Some("F-cal".to_owned()),
        item_class: Some("IPM.Appointment".to_owned()),
        subject: Some("Weekly sync".to_owned()),
        body: Some((BodyType::Text, "Agenda:\n1. status".to_owned())),
        date_time_received: Some(at("2024-03-01T08:00:00Z")),
        size: Some(2048),
        start: Some(at("2024-03-04T09:00:00Z")),
        end: Some(at("2024-03-04T09:30:00Z")),
        is_all_day_event: Some(false),
        legacy_free_busy_status: Some(LegacyFreeBusyStatus::Busy),
        location: Some("Room 1".to_owned()),
        ..ItemView::new(ItemKind::CalendarItem, "I-cal", Some("CK2"))
    }
}

pub fn greeting_config() -> UserConfigurationView {
    UserConfigurationView {
        name: UserConfigurationName {
            name: "Um.CustomGreetings.External".to_owned(),
            folder: FolderRef::Distinguished {
                id: DistinguishedFolderId::Root,
                mailbox: None,
            },
        },
        item_id: Some(ItemRef::new("UC-1", Some("CK1"))),
        dictionary: Some(vec![
            DictionaryEntry {
                key: TypedValue {
                    value_type: DictionaryValueType::String,
                    values: vec!["Format".to_owned()],
                },
                value: Some(TypedValue {
                    value_type: DictionaryValueType::String,
                    values: vec!["wav".to_owned()],
                }),
            },
            DictionaryEntry {
                key: TypedValue {
                    value_type: DictionaryValueType::String,
                    values: vec!["Tags".to_owned()],
                },
                value: Some(TypedValue {
                    value_type: DictionaryValueType::StringArray,
                    values: vec!["a".to_owned(), "b".to_owned()],
                }),
            },
            DictionaryEntry {
                key: TypedValue {
                    value_type: DictionaryValueType::Integer32,
                    values: vec!["7".to_owned()],
                },
                value: None,
            },
        ]),
        xml_data: Some(b"<greeting/>".to_vec()),
        binary_data: Some(b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec()),
    }
}

pub fn notification() -> Notification {
    Notification {
        subscription_id: "SUB1".to_owned(),
        previous_watermark: Some("WM1".to_owned()),
        more_events: false,
        events: vec![
            NotificationEvent::Status {
                watermark: "WM2".to_owned(),
            },
            NotificationEvent::Object(ObjectEvent {
                kind: ObjectEventKind::Created,
                watermark: "WM3".to_owned(),
                time_stamp: at("2024-03-01T10:00:00Z"),
                target: EventTarget::Item(ItemRef::new("I-1", Some("CK1"))),
                parent_folder_id: FolderId::new("F-inbox", Some("CK7")),
                old_target: None,
                old_parent_folder_id: None,
                unread_count: None,
            }),
            NotificationEvent::Object(ObjectEvent {
                kind: ObjectEventKind::Moved,
                watermark: "WM4".to_owned(),
                time_stamp: at("2024-03-01T10:00:05Z"),
                target: EventTarget::Item(ItemRef::new("I-2", None)),
                parent_folder_id: FolderId::new("F-deleted", None),
                old_target: Some(EventTarget::Item(ItemRef::new("I-1", None))),
                old_parent_folder_id: Some(FolderId::new("F-inbox", None)),
                unread_count: None,
            }),
            NotificationEvent::Object(ObjectEvent {
                kind: ObjectEventKind::Modified,
                watermark: "WM5".to_owned(),
                time_stamp: at("2024-03-01T10:00:06Z"),
                target: EventTarget::Folder(FolderId::new("F-inbox", Some("CK8"))),
                parent_folder_id: FolderId::new("F-ipm", None),
                old_target: None,
                old_parent_folder_id: None,
                unread_count: Some(4),
            }),
        ],
    }
}
