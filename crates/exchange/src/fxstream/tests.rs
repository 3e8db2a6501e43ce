use super::*;
use time::macros::datetime;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The configuration frames of the ExportItems example of Microsoft's documentation
/// ("ExportItems operation", learn.microsoft.com): `Config` (flags 0, method 1),
/// `IsInterfaceOk` (method 1, IID_IMessage, flags 0x80002400), `TellPartnerVersion`
/// (0x0E01, 0x80A4, 0: Exchange 14.1.164).
const EXAMPLE_HEADER: &str = "
    01000000 08000000 00000000 01000000
    03000000 18000000 01000000 07030200 00000000 C0000000 00000046 00240080
    04000000 06000000 010E A480 0000";

/// The start of that example's FastTransfer stream, as far as the documentation shows it whole:
/// MetaTagDnPrefix (0x4008, here as a code page 1252 string; a meta-property a reader ignores,
/// MS-OXCFXICS), PidTagImportance = 1,
/// PidTagMessageClass (code page 1200) = "IPM.Note", PidTagOriginatorDeliveryReportRequested
/// (0x0023, PtypBoolean: two bytes) = false, PidTagPriority (0x0026) = 0,
/// PidTagReadReceiptRequested (0x0029) = false, PidTagOriginalSensitivity (0x002E) = 0,
/// PidTagSensitivity (0x0036) = 0.
const EXAMPLE_STREAM: &str = "
    E4840840 5B000000
    2F4F3D46 49525354 204F5247 414E495A 4154494F 4E2F4F55 3D455843 48414E47
    45204144 4D494E49 53545241 54495645 2047524F 55502028 46594449 424F4846
    32335350 444C5429 2F434E3D 52454349 5049454E 54532F43 4E3D00
    03001700 01000000
    B0841A00 12000000 49005000 4D002E00 4E006F00 74006500 0000
    0B002300 0000
    03002600 00000000
    0B002900 0000
    03002E00 00000000
    03003600 00000000";

fn framed(stream: &[u8]) -> Vec<u8> {
    let mut d = hex(EXAMPLE_HEADER);
    d.extend_from_slice(&2u32.to_le_bytes());
    d.extend_from_slice(&(stream.len() as u32).to_le_bytes());
    d.extend_from_slice(stream);
    d
}

#[test]
fn reads_the_documented_exchange_example() {
    let decoded = decode_item(&framed(&hex(EXAMPLE_STREAM))).unwrap();
    let item = decoded.item;
    assert_eq!(item.item_class, "IPM.Note");
    assert_eq!(item.importance, Importance::Normal);
    assert_eq!(item.sensitivity, Sensitivity::Normal);
    assert!(!item.is_read);
    // the meta-property is dropped; the others are kept as extended properties
    let keys: Vec<&str> = item.extended.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "tag:0x0023|type:boolean",
            "tag:0x0026|type:integer",
            "tag:0x0029|type:boolean",
            "tag:0x002e|type:integer",
        ]
    );
    assert_eq!(item.extended[0].1, "false");
    assert_eq!(item.extended[1].1, "0");
}

#[test]
fn writes_the_documented_configuration_frames() {
    let data = frame(b"\x03\x00\x17\x00\x01\x00\x00\x00");
    let header = hex(EXAMPLE_HEADER);
    // the same frames, but for the version this server announces (15.1.2507.6)
    assert_eq!(data[..header.len() - 6], header[..header.len() - 6]);
    assert_eq!(
        &data[header.len() - 6..header.len()],
        &hex("010F CB89 0600")
    );
    assert_eq!(
        &data[header.len()..],
        &hex("02000000 08000000 03001700 01000000")
    );
}

/// A message written by hand from MS-OXCFXICS §2.2.4 (every number little-endian): two
/// properties, one of them named (PS_PUBLIC_STRINGS {00020329-0000-0000-C000-000000000046},
/// name kind 1, "Keywords", PtypMultipleString: a count, then each string after its byte
/// length), one recipient (StartRecip 0x40030003 … EndToRecip 0x40040003) and one attachment
/// (NewAttach 0x40000003, PidTagAttachNumber, … EndAttach 0x400E0003).
const GOLDEN: &str = "
    1F001A00 12000000 49005000 4D002E00 4E006F00 74006500 0000
    1F100080 29030200 00000000 C0000000 00000046
        01 4B006500 79007700 6F007200 64007300 0000
        01000000 06000000 61006200 0000
    03000340
        03000030 00000000
        0300150C 01000000
        1F000130 04000000 42000000
    03000440
    03000040
        0300210E 00000000
        02010137 03000000 010203
    03000E40";

fn golden_message() -> FxMessage {
    FxMessage {
        props: vec![
            string(id::MESSAGE_CLASS, "IPM.Note"),
            keywords(&["ab".into()]),
        ],
        recipients: vec![vec![
            tag(id::ROWID, Value::I32(0)),
            tag(id::RECIPIENT_TYPE, Value::I32(1)),
            string(id::DISPLAY_NAME, "B"),
        ]],
        attachments: vec![FxAttachment {
            props: vec![
                tag(id::ATTACH_NUMBER, Value::I32(0)),
                tag(id::ATTACH_DATA_BINARY, Value::Binary(vec![1, 2, 3])),
            ],
            embedded: None,
        }],
    }
}

#[test]
fn golden_stream_both_ways() {
    let bytes = hex(GOLDEN);
    assert_eq!(write_message(&golden_message()), bytes);
    assert_eq!(read_stream(&bytes).unwrap(), golden_message());
    let d = decode_item(&frame(&bytes)).unwrap();
    assert_eq!(d.item.categories, ["ab"]);
    // a recipient without an address has no place in the model
    assert!(d.item.to.is_empty());
    assert_eq!(d.item.attachments[0].content, [1, 2, 3]);
}

/// An item as the store keeps it (read back from an in-memory store, so this test never spells
/// out every field of `Item`), with its attachments' content.
fn stored(new: NewItem) -> (Item, Vec<Attachment>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = mailbox::MailboxStore::open_in_memory().unwrap();
        let key = mailbox::MailboxKey::new("alice").unwrap();
        store.ensure_mailbox(&key).await.unwrap();
        let created = store
            .create_items(&key, mailbox::FolderSel::distinguished("inbox"), vec![new])
            .await
            .unwrap();
        let id = created[0].id.clone();
        let item = store
            .get_items(&key, vec![id])
            .await
            .unwrap()
            .remove(0)
            .unwrap();
        let ids = item
            .attachments
            .iter()
            .map(|a| a.id.clone())
            .collect::<Vec<_>>();
        let atts = if ids.is_empty() {
            Vec::new()
        } else {
            store
                .get_attachments(&key, ids)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.unwrap())
                .collect()
        };
        (item, atts)
    })
}

fn full_new_item() -> NewItem {
    let t = datetime!(2026-01-02 03:04:05.123456 UTC);
    NewItem {
        item_class: "IPM.Note.Microsoft.Conversation".into(),
        subject: Some("Conversation with Bob — ünïcødé".into()),
        body: Some(Body {
            body_type: BodyType::Html,
            content: "<div>hi <b>Bob</b> ✓</div>".into(),
        }),
        from: Some(Recipient::new(Some("Alice"), "alice@contoso.example")),
        sender: Some(Recipient::new(None, "skype@contoso.example")),
        to: vec![Recipient::new(Some("Bob"), "bob@contoso.example")],
        cc: vec![Recipient::new(None, "carol@contoso.example")],
        bcc: vec![Recipient::new(Some("Dan"), "dan@contoso.example")],
        importance: Importance::High,
        sensitivity: Sensitivity::Private,
        categories: vec!["Archive".into(), "Skype".into()],
        is_read: true,
        internet_message_id: Some("<m1@contoso.example>".into()),
        date_time_sent: Some(t),
        date_time_created: Some(datetime!(2026-01-01 00:00:00 UTC)),
        calendar: Some(Calendar {
            start: datetime!(2026-02-01 10:00 UTC),
            end: datetime!(2026-02-01 11:00 UTC),
            is_all_day: false,
            legacy_free_busy_status: FreeBusy::Tentative,
            location: Some("Room 1".into()),
            recurrence: None,
        }),
        extended: vec![
            // tagged, canonical: a MAPI property of its own
            ("tag:0x7c09|type:binary".into(), "UklGRg==".into()),
            // a modelled tag (PR_MESSAGE_FLAGS): kept aside
            ("tag:0x0e07|type:integer".into(), "1".into()),
            // named by id and by name
            (
                "|dset:PublicStrings|name:X-Archive|type:string".into(),
                "yes".into(),
            ),
            (
                "|set:12345678-1234-1234-1234-123456789abc|id:33000|type:stringarray".into(),
                "[\"a\",\"b\"]".into(),
            ),
            // not the canonical text of its value: kept aside
            ("tag:0x6601|type:integer".into(), " 7".into()),
            (
                "tag:0x6602|type:systemtime".into(),
                "2026-01-02T03:04:05Z".into(),
            ),
            ("tag:0x6603|type:boolean".into(), "true".into()),
        ],
        attachments: vec![NewAttachment {
            name: Some("note.wav".into()),
            content_type: Some("audio/wav".into()),
            content_id: Some("cid1".into()),
            is_inline: true,
            is_contact_photo: false,
            is_item: false,
            content: vec![0, 1, 2, 255],
        }],
        ..NewItem::default()
    }
}

fn full_item() -> (Item, Vec<Attachment>) {
    stored(full_new_item())
}

#[test]
fn an_item_reads_back_as_it_was() {
    let (item, atts) = full_item();
    let data = encode_item(&item, &atts);
    let d = decode_item(&data).unwrap();
    let n = &d.item;
    assert_eq!(n.item_class, item.item_class);
    assert_eq!(n.subject, item.subject);
    assert_eq!(n.body, item.body);
    assert_eq!(n.from, item.from);
    assert_eq!(n.sender, item.sender);
    assert_eq!(n.to, item.to);
    assert_eq!(n.cc, item.cc);
    assert_eq!(n.bcc, item.bcc);
    assert_eq!(n.importance, item.importance);
    assert_eq!(n.sensitivity, item.sensitivity);
    assert_eq!(n.categories, item.categories);
    assert_eq!(n.is_read, item.is_read);
    assert_eq!(n.is_draft, item.is_draft);
    assert_eq!(n.internet_message_id, item.internet_message_id);
    assert_eq!(n.date_time_sent, item.date_time_sent);
    assert_eq!(n.date_time_created, Some(item.date_time_created));
    assert_eq!(d.received, Some(item.date_time_received));
    assert_eq!(n.calendar, item.calendar);
    let mut ext = item.extended.clone();
    ext.sort();
    assert_eq!(n.extended, ext);
    assert_eq!(n.attachments.len(), 1);
    assert_eq!(n.attachments[0].name, atts[0].info.name);
    assert_eq!(n.attachments[0].content_type, atts[0].info.content_type);
    assert_eq!(n.attachments[0].content_id, atts[0].info.content_id);
    assert_eq!(n.attachments[0].is_inline, atts[0].info.is_inline);
    assert_eq!(n.attachments[0].content, atts[0].content);
}

/// A meeting's part travels whole (attendees, answers, uid); a store-internal link does not;
/// a carried meeting past the store's bounds is refused.
#[test]
fn a_meeting_reads_back_as_it_was() {
    let alice = Recipient::new(Some("Alice"), "alice@contoso.example");
    let mut m = mailbox::Meeting::new("040000008200E00074C5B7101A82E008".into(), alice);
    m.required = vec![mailbox::Attendee {
        mailbox: Recipient::new(Some("Bob"), "bob@contoso.example"),
        response_type: mailbox::ResponseType::Accept,
        last_response_time: Some(datetime!(2026-01-02 03:04:05 UTC)),
    }];
    m.optional = vec![mailbox::Attendee::new(Recipient::new(
        None,
        "carol@contoso.example",
    ))];
    m.request_was_sent = true;
    let (item, atts) = stored(NewItem {
        item_class: "IPM.Appointment".into(),
        meeting: Some(m.clone()),
        attachments: Vec::new(),
        ..full_new_item()
    });
    assert_eq!(item.meeting.as_ref().map(|m| &m.uid), Some(&m.uid));
    let d = decode_item(&encode_item(&item, &atts)).unwrap();
    assert_eq!(d.item.meeting, item.meeting);
    // not an extended property as well
    assert!(!d.item.extended.iter().any(|(k, _)| k.contains("Meeting")));
    // one attendee too many, written by hand into the property
    let mut crowd = m.clone();
    crowd.required = (0..=mailbox::limits::MAX_ATTENDEES)
        .map(|i| mailbox::Attendee::new(Recipient::new(None, &format!("u{i}@contoso.example"))))
        .collect();
    let item = Item {
        meeting: Some(crowd),
        ..item
    };
    let e = decode_item(&encode_item(&item, &atts)).unwrap_err();
    assert!(e.to_string().contains("attendees"), "{e}");
}

#[test]
fn a_text_body_and_a_draft_read_back() {
    let (mut item, _) = stored(NewItem {
        attachments: Vec::new(),
        ..full_new_item()
    });
    item.body = Some(Body {
        body_type: BodyType::Text,
        content: "plain\r\ntext".into(),
    });
    item.is_draft = true;
    item.is_read = false;
    item.calendar = None;
    item.extended.clear();
    let d = decode_item(&encode_item(&item, &[])).unwrap();
    assert_eq!(d.item.body, item.body);
    assert!(d.item.is_draft && !d.item.is_read);
    assert_eq!(d.item.calendar, None);
    assert!(d.item.extended.is_empty());
}

fn message_data(m: &FxMessage) -> Vec<u8> {
    frame(&write_message(m))
}

#[test]
fn refuses_truncated_data() {
    let (item, atts) = full_item();
    let data = encode_item(&item, &atts);
    // every cut inside the stream of the last frame fails: the frame claims more than there is
    for cut in [data.len() - 1, data.len() - 5, 30, 7] {
        let e = decode_item(&data[..cut]).unwrap_err();
        assert_eq!(e.response_code(), "ErrorCorruptData", "{e}");
    }
    // a stream cut short inside a value, in a well-formed frame
    let stream = write_message(&golden_message());
    for cut in [3, 10, stream.len() - 1, stream.len() - 4] {
        let e = decode_item(&frame(&stream[..cut])).unwrap_err();
        assert_eq!(e.response_code(), "ErrorCorruptData", "cut {cut}: {e}");
    }
}

#[test]
fn refuses_a_length_past_the_end() {
    // PidTagSubject claiming 0x7FFFFFFF bytes
    let stream = hex("1F003700 FFFFFF7F 4100");
    let e = read_stream(&stream).unwrap_err();
    assert!(matches!(e, FxError::LengthPastEnd { .. }), "{e}");
    // a multi-valued property claiming more values than bytes
    let stream = hex("03100180 29030200 00000000 C0000000 00000046 00 01000000 FFFFFF00");
    let e = read_stream(&stream).unwrap_err();
    assert!(
        matches!(e, FxError::LengthPastEnd { .. } | FxError::TooLarge { .. }),
        "{e}"
    );
    // a frame claiming more than the data
    let mut data = hex(EXAMPLE_HEADER);
    data.extend_from_slice(&hex("02000000 FFFF0000 00"));
    let e = decode_item(&data).unwrap_err();
    assert!(matches!(e, FxError::LengthPastEnd { .. }), "{e}");
}

#[test]
fn refuses_markers_that_are_not_a_message() {
    // StartTopFld (0x40090003) where a property belongs
    let mut stream = write_message(&golden_message());
    stream.splice(0..0, hex("03000940"));
    let e = read_stream(&stream).unwrap_err();
    assert!(
        matches!(
            e,
            FxError::UnexpectedMarker {
                marker: 0x4009_0003,
                ..
            }
        ),
        "{e}"
    );
    // EndToRecip without StartRecip
    let e = read_stream(&hex("03000440")).unwrap_err();
    assert!(matches!(e, FxError::UnexpectedMarker { .. }), "{e}");
    // an attachment without EndAttach
    let e = read_stream(&hex("03000040 03002137 00000000")).unwrap_err();
    assert_eq!(e.response_code(), "ErrorCorruptData", "{e}");
    // a property after the attachments
    let e = read_stream(&hex("03000040 03000e40 03001700 01000000")).unwrap_err();
    assert!(matches!(e, FxError::Invalid(_)), "{e}");
}

#[test]
fn reads_past_an_idset_given_as_binary() {
    // MetaTagIdsetGiven (0x40170003): a counted IDSET despite its PtypInteger32 tag
    let stream = hex("03001740 03000000 010203 03001700 02000000");
    let d = decode_item(&frame(&stream)).unwrap();
    assert_eq!(d.item.importance, Importance::High);
    assert!(d.item.extended.is_empty());
}

#[test]
fn refuses_unknown_frames_and_types() {
    let mut data = hex(EXAMPLE_HEADER);
    data.extend_from_slice(&hex("11000000 00000000")); // SetProps
    assert!(matches!(
        decode_item(&data).unwrap_err(),
        FxError::UnknownOpcode { opcode: 0x11, .. }
    ));
    // a stream without the configuration frames
    let mut data = Vec::new();
    data.extend_from_slice(&hex("02000000 08000000 03001700 01000000"));
    assert!(matches!(
        decode_item(&data).unwrap_err(),
        FxError::BadFrame { .. }
    ));
    // no stream at all
    assert!(decode_item(&hex(EXAMPLE_HEADER)).is_err());
    assert!(decode_item(&[]).is_err());
    // PtypNull (0x0001) and an unknown type
    for t in ["01003700", "99003700"] {
        let e = read_stream(&hex(&format!("{t} 00000000"))).unwrap_err();
        assert!(matches!(e, FxError::UnsupportedType { .. }), "{e}");
    }
    // a named property of name kind 2
    let e = read_stream(&hex("03000080 29030200 00000000 C0000000 00000046 02")).unwrap_err();
    assert!(matches!(e, FxError::BadNameKind { kind: 2, .. }), "{e}");
    // UTF-16 of an odd length, and an unpaired surrogate
    let e = read_stream(&hex("1F003700 03000000 410000")).unwrap_err();
    assert!(matches!(e, FxError::BadString { .. }), "{e}");
    let e = read_stream(&hex("1F003700 04000000 00D80000")).unwrap_err();
    assert!(matches!(e, FxError::BadString { .. }), "{e}");
}

#[test]
fn refuses_a_modelled_property_of_the_wrong_type() {
    // PidTagSubject as PtypInteger32
    let m = FxMessage {
        props: vec![tag(id::SUBJECT, Value::I32(5))],
        ..FxMessage::default()
    };
    let e = decode_item(&message_data(&m)).unwrap_err();
    assert!(
        matches!(
            e,
            FxError::WrongType {
                what: "PidTagSubject",
                ..
            }
        ),
        "{e}"
    );
    // PidTagImportance out of its range
    let m = FxMessage {
        props: vec![tag(id::IMPORTANCE, Value::I32(7))],
        ..FxMessage::default()
    };
    assert!(matches!(
        decode_item(&message_data(&m)).unwrap_err(),
        FxError::OutOfRange { .. }
    ));
    // an attachment of an attached message without the message
    let m = FxMessage {
        attachments: vec![FxAttachment {
            props: vec![tag(id::ATTACH_METHOD, Value::I32(5))],
            embedded: None,
        }],
        ..FxMessage::default()
    };
    let e = decode_item(&message_data(&m)).unwrap_err();
    assert_eq!(e.response_code(), "ErrorCorruptData");
    // an attached message the store could not keep as an item is refused with its item
    let m = FxMessage {
        attachments: vec![FxAttachment {
            props: vec![tag(id::ATTACH_METHOD, Value::I32(5))],
            embedded: Some(Box::new(FxMessage {
                props: vec![tag(id::SUBJECT, Value::I32(7))],
                ..FxMessage::default()
            })),
        }],
        ..FxMessage::default()
    };
    assert!(matches!(
        decode_item(&message_data(&m)).unwrap_err(),
        FxError::WrongType { .. }
    ));
    // an attachment by reference is not kept
    let m = FxMessage {
        attachments: vec![FxAttachment {
            props: vec![tag(id::ATTACH_METHOD, Value::I32(2))],
            embedded: None,
        }],
        ..FxMessage::default()
    };
    let e = decode_item(&message_data(&m)).unwrap_err();
    assert_eq!(e.response_code(), "ErrorInvalidOperation");
}

/// An attached message is kept as an item attachment: its `messageContent` as stored, named by
/// its display name; written back between StartEmbed and EndEmbed, it reads back the same.
#[test]
fn an_attached_message_reads_back_as_an_item_attachment() {
    let inner = FxMessage {
        props: vec![
            string(id::MESSAGE_CLASS, "IPM.Note"),
            string(id::SUBJECT, "Minutes"),
        ],
        ..FxMessage::default()
    };
    let m = FxMessage {
        props: vec![string(id::MESSAGE_CLASS, "IPM.Note")],
        attachments: vec![FxAttachment {
            props: vec![
                tag(id::ATTACH_METHOD, Value::I32(5)),
                string(id::DISPLAY_NAME, "Minutes"),
            ],
            embedded: Some(Box::new(inner.clone())),
        }],
        ..FxMessage::default()
    };
    let d = decode_item(&message_data(&m)).unwrap();
    let [a] = d
        .item
        .attachments
        .clone()
        .try_into()
        .expect("one attachment");
    assert!(a.is_item && !a.is_contact_photo);
    assert_eq!(a.name.as_deref(), Some("Minutes"));
    assert_eq!(read_embedded(&a.content).unwrap(), inner);
    // stored and exported again: the attached message is embedded as it was
    let (item, atts) = stored(d.item);
    assert!(item.has_attachments);
    let again = message_of_item(&item, &atts);
    let [att] = again.attachments.as_slice() else {
        panic!("one attachment")
    };
    assert_eq!(att.embedded.as_deref(), Some(&inner));
    assert!(
        !att.props
            .iter()
            .any(|p| p.id == PropId::Tag(id::ATTACH_DATA_BINARY)),
        "an attached message has no binary data"
    );
    let d2 = decode_item(&encode_item(&item, &atts)).unwrap();
    assert_eq!(d2.item.attachments[0].content, a.content);
}

#[test]
fn skips_what_the_model_does_not_hold() {
    let m = FxMessage {
        props: vec![
            string(id::MESSAGE_CLASS, "IPM.Note"),
            // a server id the store cannot name: dropped
            tag(0x67F0, Value::ServerId(vec![1, 2, 3])),
            tag(0x65E0, Value::Binary(vec![9; 22])), // PidTagSourceKey: the store's own
            tag(id::FX_DEL_PROP, Value::I32(0x0E12_000D)),
            tag(0x0E08, Value::I32(1234)), // PidTagMessageSize
            tag(0x3FFA, Value::String8(b"Alice\0".to_vec(), Some(1252))),
        ],
        recipients: vec![vec![
            // no address: dropped
            string(id::DISPLAY_NAME, "Nobody"),
            tag(0x0FFF, Value::Binary(vec![0; 20])),
        ]],
        ..FxMessage::default()
    };
    let d = decode_item(&message_data(&m)).unwrap();
    assert!(d.item.to.is_empty());
    assert_eq!(
        d.item.extended,
        vec![("tag:0x3ffa|type:string".to_owned(), "Alice".to_owned())]
    );
}

#[test]
fn bounds_repetition_and_nesting() {
    // nesting deeper than allowed
    let mut m = FxMessage::default();
    for _ in 0..(MAX_EMBED_DEPTH + 2) {
        m = FxMessage {
            attachments: vec![FxAttachment {
                props: vec![],
                embedded: Some(Box::new(m)),
            }],
            ..FxMessage::default()
        };
    }
    let e = read_stream(&write_message(&m)).unwrap_err();
    assert!(matches!(e, FxError::TooLarge { .. }), "{e}");
    // a multi-valued count past the bound
    let e = read_stream(&hex(
        "03100080 29030200 00000000 C0000000 00000046 00 01000000 FFFFFFFF",
    ))
    .unwrap_err();
    assert!(matches!(e, FxError::TooLarge { .. }), "{e}");
}

#[test]
fn a_user_configuration_reads_back_with_its_streams() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (item, dictionary) = rt.block_on(async {
        let store = mailbox::MailboxStore::open_in_memory().unwrap();
        let key = mailbox::MailboxKey::new("alice").unwrap();
        store.ensure_mailbox(&key).await.unwrap();
        let dictionary = vec![mailbox::DictEntry {
            key: mailbox::DictValue::String("Greeting".into()),
            value: Some(mailbox::DictValue::Integer32(3)),
        }];
        let c = store
            .create_user_configuration(
                &key,
                mailbox::FolderSel::distinguished("root"),
                UserConfig {
                    name: "Um.CustomGreetings.External".into(),
                    dictionary: Some(dictionary.clone()),
                    xml_data: Some(b"<x/>".to_vec()),
                    binary_data: Some(b"RIFF....WAVE".to_vec()),
                },
            )
            .await
            .unwrap();
        let item = store
            .get_items(&key, vec![c.item_id])
            .await
            .unwrap()
            .remove(0)
            .unwrap();
        (item, dictionary)
    });
    let d = decode_item(&encode_item(&item, &[])).unwrap();
    assert_eq!(
        d.item.item_class,
        "IPM.Configuration.Um.CustomGreetings.External"
    );
    let c = d.user_configuration.unwrap();
    assert_eq!(c.binary_data.as_deref(), Some(&b"RIFF....WAVE"[..]));
    assert_eq!(c.xml_data.as_deref(), Some(&b"<x/>"[..]));
    assert_eq!(c.dictionary, Some(dictionary));
    // its streams are no extended properties
    assert!(d.item.extended.is_empty(), "{:?}", d.item.extended);
    // a message's 0x7C09 is an extended property, not a stream
    let m = FxMessage {
        props: vec![tag(id::ROAMING_BINARY, Value::Binary(vec![1]))],
        ..FxMessage::default()
    };
    let d = decode_item(&message_data(&m)).unwrap();
    assert_eq!(d.user_configuration, None);
    assert_eq!(
        d.item.extended,
        [("tag:0x7c09|type:binary".to_owned(), "AQ==".to_owned())]
    );
}

/// Every truncation and every single-byte change of real data (to 0x00, 0xFF and the byte
/// plus one) is read without a panic: an item or a refusal, and a refusal is one of the codes.
#[test]
fn no_edit_of_the_data_panics() {
    let (item, atts) = full_item();
    let data = encode_item(&item, &atts);
    for cut in 0..data.len() {
        if let Err(e) = decode_item(&data[..cut]) {
            assert!(matches!(
                e.response_code(),
                "ErrorCorruptData" | "ErrorInvalidOperation"
            ));
        }
    }
    let mut edited = data.clone();
    for at in 0..data.len() {
        for b in [0x00, 0xFF, data[at].wrapping_add(1)] {
            edited[at] = b;
            let _ = decode_item(&edited);
        }
        edited[at] = data[at];
    }
}
