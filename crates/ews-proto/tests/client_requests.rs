//! Parse tests on request bodies captured from real clients:
//! exchangelib 5.6.0 (prefixes s:/m:/t:, XML declaration) and
//! ews-javascript-api 0.15.3 (soap: prefix, no declaration).
//! See tests/fixtures/README.md for how they were captured.

use ews_proto::request::{
    AffectedTaskOccurrences, BasePoint, ComparisonOp, ContainmentComparison, ContainmentMode,
    DeleteType, DictionaryValueType, EventType, FindItemView, FolderTraversal, IdFormat,
    ImpersonatedUser, IndexedPage, ItemTraversal, MessageDisposition, NewAttachment, NewItem,
    Operand, Operation, Request, Restriction, SortDirection, Subscription,
    UserConfigurationProperty, parse_request,
};
use ews_proto::types::{
    BaseShape, BodyType, DistinguishedFolderId, ExtendedFieldUri, ExtendedValue, FolderRef,
    Importance, ItemRef, LegacyFreeBusyStatus, Mailbox, PropertyPath, Sensitivity, ServerVersion,
    format_xs_datetime,
};
use ews_proto::xml::Limits;

macro_rules! fixture {
    ($client:literal, $name:literal) => {
        include_bytes!(concat!("fixtures/requests/", $client, "/", $name, ".xml")).as_slice()
    };
}

fn parse(bytes: &[u8]) -> Request {
    match parse_request(bytes, &Limits::default()) {
        Ok(r) => r,
        Err(e) => panic!("fixture rejected: {e}"),
    }
}

fn alice_folder(id: DistinguishedFolderId) -> FolderRef {
    FolderRef::Distinguished {
        id,
        mailbox: Some("alice@contoso.example".to_owned()),
    }
}

fn field(f: &str) -> PropertyPath {
    PropertyPath::Field(f.to_owned())
}

#[test]
fn exchangelib_convert_id_probe() {
    let r = parse(fixture!("exchangelib", "convert_id_probe"));
    assert_eq!(r.server_version, Some(ServerVersion::Exchange2016));
    assert_eq!(r.impersonation, None);
    let Operation::ConvertId(c) = r.operation else {
        panic!("not ConvertId: {:?}", r.operation)
    };
    assert_eq!(c.destination_format, IdFormat::EntryId);
    assert_eq!(c.ids.len(), 1);
    assert_eq!(c.ids[0].format, IdFormat::EwsId);
    assert_eq!(c.ids[0].id, "DUMMY");
    assert_eq!(c.ids[0].mailbox, "DUMMY");
}

#[test]
fn exchangelib_get_folder_root_with_mailbox() {
    let r = parse(fixture!("exchangelib", "get_folder_root"));
    assert_eq!(r.server_version, Some(ServerVersion::Exchange2016));
    assert_eq!(r.impersonation, None);
    let Operation::GetFolder(g) = r.operation else {
        panic!("not GetFolder")
    };
    assert_eq!(g.shape.base_shape, BaseShape::IdOnly);
    assert_eq!(
        g.shape.additional,
        [
            "folder:ChildFolderCount",
            "folder:DisplayName",
            "folder:DistinguishedFolderId",
            "folder:EffectiveRights",
            "folder:FolderClass",
            "folder:FolderId",
            "folder:ParentFolderId",
            "folder:TotalCount",
            "folder:UnreadCount",
        ]
        .map(field)
    );
    assert_eq!(g.folder_ids, [alice_folder(DistinguishedFolderId::Root)]);
}

#[test]
fn exchangelib_create_folder() {
    let r = parse(fixture!("exchangelib", "create_folder"));
    let Operation::CreateFolder(c) = r.operation else {
        panic!("not CreateFolder: {:?}", r.operation)
    };
    assert_eq!(c.parent, alice_folder(DistinguishedFolderId::Inbox));
    assert_eq!(c.folders.len(), 1);
    assert_eq!(c.folders[0].kind, ews_proto::types::FolderKind::Folder);
    assert_eq!(c.folders[0].display_name, "Skype projects");
    assert_eq!(c.folders[0].folder_class, None);
    assert_eq!(c.folders[0].class(), None);
}

#[test]
fn exchangelib_empty_folder() {
    let r = parse(fixture!("exchangelib", "empty_folder"));
    let Operation::EmptyFolder(e) = r.operation else {
        panic!("not EmptyFolder: {:?}", r.operation)
    };
    assert_eq!(e.delete_type, DeleteType::HardDelete);
    assert!(!e.delete_subfolders);
    assert_eq!(
        e.folder_ids,
        [FolderRef::Id {
            id: "F-new".into(),
            change_key: Some("CK2".into())
        }]
    );
}

#[test]
fn exchangelib_delete_folder() {
    let r = parse(fixture!("exchangelib", "delete_folder"));
    let Operation::DeleteFolder(d) = r.operation else {
        panic!("not DeleteFolder: {:?}", r.operation)
    };
    assert_eq!(d.delete_type, DeleteType::HardDelete);
    assert_eq!(
        d.folder_ids,
        [FolderRef::Id {
            id: "F-new".into(),
            change_key: Some("CK2".into())
        }]
    );
}

/// `Folder.save()` of an existing folder: the changed name, and with a full save also a delete
/// of its permissions (which this server does not keep).
#[test]
fn exchangelib_update_folder() {
    use ews_proto::request::FolderUpdate;
    let changes = |bytes| match parse(bytes).operation {
        Operation::UpdateFolder(u) => u.changes,
        other => panic!("not UpdateFolder: {other:?}"),
    };
    let named = changes(fixture!("exchangelib", "update_folder_name"));
    assert_eq!(named.len(), 1);
    assert_eq!(
        named[0].folder,
        FolderRef::Id {
            id: "F-new".into(),
            change_key: Some("CK1".into())
        }
    );
    assert_eq!(
        named[0].updates,
        [FolderUpdate::SetDisplayName("Skype projects 2026".into())]
    );
    let full = changes(fixture!("exchangelib", "update_folder"));
    assert_eq!(
        full[0].updates,
        [
            FolderUpdate::SetDisplayName("Skype projects (all)".into()),
            FolderUpdate::DeletePermissionSet
        ]
    );
}

#[test]
fn exchangelib_resolve_names() {
    for (name, entry, full) in [
        ("resolve_names", "bob", false),
        ("resolve_names_full_contact", "bob@contoso.example", true),
    ] {
        let bytes = match name {
            "resolve_names" => fixture!("exchangelib", "resolve_names"),
            _ => fixture!("exchangelib", "resolve_names_full_contact"),
        };
        let Operation::ResolveNames(r) = parse(bytes).operation else {
            panic!("{name}: not ResolveNames")
        };
        assert_eq!(r.entry, entry);
        assert_eq!(r.return_full_contact_data, full);
        assert_eq!(r.search_scope, None);
        assert_eq!(r.parent_folders, []);
    }
    // ParentFolderIds names the contact folders searched
    let Operation::ResolveNames(r) = parse(
        br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body><m:ResolveNames ReturnFullContactData="false" SearchScope="Contacts"><m:ParentFolderIds><t:FolderId Id="F-1"/><t:DistinguishedFolderId Id="contacts"/></m:ParentFolderIds><m:UnresolvedEntry>bob</m:UnresolvedEntry></m:ResolveNames></s:Body></s:Envelope>"#,
    )
    .operation
    else {
        panic!("not ResolveNames")
    };
    assert_eq!(r.parent_folders.len(), 2, "{:?}", r.parent_folders);
}

#[test]
fn exchangelib_get_folder_purges_impersonated() {
    let r = parse(fixture!("exchangelib", "get_folder_purges_impersonation"));
    assert_eq!(
        r.impersonation,
        Some(ImpersonatedUser::PrimarySmtpAddress(
            "alice@contoso.example".to_owned()
        ))
    );
    let Operation::GetFolder(g) = r.operation else {
        panic!("not GetFolder")
    };
    assert!(g.shape.additional.contains(&field("folder:PermissionSet")));
    assert_eq!(
        g.folder_ids,
        [alice_folder(DistinguishedFolderId::RecoverableItemsPurges)]
    );
}

#[test]
fn exchangelib_find_folder_deep_paged() {
    let r = parse(fixture!("exchangelib", "find_folder_deep_root"));
    let Operation::FindFolder(f) = r.operation else {
        panic!("not FindFolder")
    };
    assert_eq!(f.traversal, FolderTraversal::Deep);
    assert_eq!(
        f.paging,
        Some(IndexedPage {
            max_entries: Some(100),
            offset: 0,
            base_point: BasePoint::Beginning
        })
    );
    assert_eq!(f.restriction, None);
    assert_eq!(f.parents, [alice_folder(DistinguishedFolderId::Root)]);
    assert_eq!(f.shape.additional.len(), 9);
}

#[test]
fn exchangelib_find_item_restriction_on_item_class() {
    let r = parse(fixture!("exchangelib", "find_item_item_class"));
    let Operation::FindItem(f) = r.operation else {
        panic!("not FindItem")
    };
    assert_eq!(f.traversal, ItemTraversal::Shallow);
    assert_eq!(f.shape.base_shape, BaseShape::IdOnly);
    assert_eq!(
        f.view,
        Some(FindItemView::Indexed(IndexedPage {
            max_entries: Some(100),
            offset: 0,
            base_point: BasePoint::Beginning
        }))
    );
    assert_eq!(
        f.restriction,
        Some(Restriction::Compare {
            op: ComparisonOp::IsEqualTo,
            path: field("item:ItemClass"),
            value: Operand::Constant("IPM.Note.Microsoft.Conversation".to_owned()),
        })
    );
    assert!(f.sort_order.is_empty());
    assert_eq!(
        f.parents,
        [alice_folder(DistinguishedFolderId::ConversationHistory)]
    );
}

#[test]
fn exchangelib_find_item_contains() {
    let r = parse(fixture!("exchangelib", "find_item_contains"));
    let Operation::FindItem(f) = r.operation else {
        panic!("not FindItem")
    };
    assert_eq!(
        f.restriction,
        Some(Restriction::Contains {
            path: field("item:Subject"),
            constant: "Bob".to_owned(),
            containment_mode: Some(ContainmentMode::Substring),
            containment_comparison: Some(ContainmentComparison::Exact),
        })
    );
}

#[test]
fn exchangelib_find_item_and_or() {
    let r = parse(fixture!("exchangelib", "find_item_and_or"));
    let Operation::FindItem(f) = r.operation else {
        panic!("not FindItem")
    };
    let eq = |p: &str, v: &str, op| Restriction::Compare {
        op,
        path: field(p),
        value: Operand::Constant(v.to_owned()),
    };
    assert_eq!(
        f.restriction,
        Some(Restriction::And(vec![
            Restriction::Or(vec![
                eq(
                    "item:ItemClass",
                    "IPM.Note.Microsoft.Conversation",
                    ComparisonOp::IsEqualTo
                ),
                eq(
                    "item:ItemClass",
                    "IPM.Note.Microsoft.Missed",
                    ComparisonOp::IsEqualTo
                ),
            ]),
            eq("item:Subject", "x", ComparisonOp::IsNotEqualTo),
        ]))
    );
}

#[test]
fn exchangelib_find_item_sorted_with_date_restriction() {
    let r = parse(fixture!("exchangelib", "find_item_sorted"));
    let Operation::FindItem(f) = r.operation else {
        panic!("not FindItem")
    };
    assert_eq!(f.shape.additional, [field("item:Subject")]);
    assert_eq!(
        f.restriction,
        Some(Restriction::Compare {
            op: ComparisonOp::IsGreaterThan,
            path: field("item:DateTimeReceived"),
            value: Operand::Constant("2024-01-01T00:00:00Z".to_owned()),
        })
    );
    assert_eq!(
        f.sort_order,
        [(field("item:DateTimeReceived"), SortDirection::Descending)]
    );
}

#[test]
fn exchangelib_find_item_calendar_view() {
    let r = parse(fixture!("exchangelib", "find_item_calendar_view"));
    let Operation::FindItem(f) = r.operation else {
        panic!("not FindItem")
    };
    let Some(FindItemView::Calendar {
        start,
        end,
        max_entries,
    }) = f.view
    else {
        panic!("not a calendar view: {:?}", f.view)
    };
    assert_eq!(format_xs_datetime(start), "2024-01-01T00:00:00Z");
    assert_eq!(format_xs_datetime(end), "2024-02-01T00:00:00Z");
    assert_eq!(max_entries, None);
    assert_eq!(f.parents, [alice_folder(DistinguishedFolderId::Calendar)]);
}

#[test]
fn exchangelib_find_item_extended_property_restriction() {
    let r = parse(fixture!("exchangelib", "find_item_extended_property"));
    let Operation::FindItem(f) = r.operation else {
        panic!("not FindItem")
    };
    assert_eq!(
        f.restriction,
        Some(Restriction::Compare {
            op: ComparisonOp::IsEqualTo,
            path: PropertyPath::Extended(ExtendedFieldUri {
                distinguished_property_set_id: Some("PublicStrings".to_owned()),
                property_name: Some("SkypeConversationId".to_owned()),
                property_type: "String".to_owned(),
                ..Default::default()
            }),
            value: Operand::Constant("conv-42".to_owned()),
        })
    );
}

#[test]
fn exchangelib_get_item_with_two_hundred_field_uris() {
    let r = parse(fixture!("exchangelib", "get_item_all_fields"));
    let Operation::GetItem(g) = r.operation else {
        panic!("not GetItem")
    };
    assert_eq!(g.shape.base_shape, BaseShape::IdOnly);
    // Every FieldURI (known or not) is kept.
    assert!(
        g.shape.additional.len() > 150,
        "{}",
        g.shape.additional.len()
    );
    assert!(
        g.shape
            .additional
            .contains(&field("calendar:AdjacentMeetingCount"))
    );
    assert!(g.shape.additional.contains(&field("item:Body")));
    assert!(g.shape.additional.contains(&PropertyPath::Indexed {
        field_uri: "contacts:EmailAddress".to_owned(),
        field_index: "EmailAddress1".to_owned(),
    }));
    assert_eq!(g.item_ids, [ItemRef::new("I-1", Some("CK1"))]);
}

#[test]
fn exchangelib_get_item_extended_properties() {
    let r = parse(fixture!("exchangelib", "get_item_extended_properties"));
    let Operation::GetItem(g) = r.operation else {
        panic!("not GetItem")
    };
    assert_eq!(
        g.shape.additional[0],
        PropertyPath::Extended(ExtendedFieldUri {
            property_tag: Some("0x7c09".to_owned()),
            property_type: "Binary".to_owned(),
            ..Default::default()
        })
    );
    assert_eq!(g.shape.additional[2], field("item:Subject"));
}

#[test]
fn exchangelib_create_item_save_only_into_purges() {
    let r = parse(fixture!("exchangelib", "create_item_purges"));
    let Operation::CreateItem(c) = r.operation else {
        panic!("not CreateItem")
    };
    assert_eq!(c.message_disposition, Some(MessageDisposition::SaveOnly));
    assert_eq!(c.send_meeting_invitations.as_deref(), Some("SendToNone"));
    assert_eq!(
        c.saved_folder,
        Some(alice_folder(DistinguishedFolderId::RecoverableItemsPurges))
    );
    let [NewItem::Message(m)] = c.items.as_slice() else {
        panic!("expected one message: {:?}", c.items)
    };
    assert_eq!(m.item.item_class, None);
    assert_eq!(m.item.subject.as_deref(), Some("Conversation with Bob"));
    assert_eq!(m.item.sensitivity, Some(Sensitivity::Normal));
    let body = m.item.body.as_ref().expect("body");
    assert_eq!(body.body_type, BodyType::Html);
    assert_eq!(body.content, "<div>hi &amp; bye</div>");
    assert_eq!(m.item.importance, Some(Importance::Normal));
    assert_eq!(m.is_read, Some(false));
    assert_eq!(
        m.to,
        [Mailbox {
            name: None,
            email_address: Some("bob@contoso.example".to_owned()),
            routing_type: Some("SMTP".to_owned()),
            mailbox_type: Some("Mailbox".to_owned()),
            item_id: None,
        }]
    );
    assert_eq!(
        m.item.ignored,
        [
            "ReminderIsSet",
            "ReminderMinutesBeforeStart",
            "IsReadReceiptRequested",
            "IsDeliveryReceiptRequested",
            "IsResponseRequested"
        ]
    );
}

#[test]
fn exchangelib_create_item_with_extended_properties() {
    let r = parse(fixture!("exchangelib", "create_item_extended_properties"));
    let Operation::CreateItem(c) = r.operation else {
        panic!("not CreateItem")
    };
    let [NewItem::Message(m)] = c.items.as_slice() else {
        panic!("expected one message")
    };
    assert_eq!(m.item.categories, ["Skype", "IM"]);
    assert_eq!(m.item.importance, Some(Importance::High));
    assert_eq!(m.is_read, Some(true));
    assert_eq!(m.from.as_ref().and_then(|f| f.name.as_deref()), Some("Bob"));
    assert_eq!(
        m.item.body.as_ref().map(|b| b.body_type),
        Some(BodyType::Text)
    );
    assert_eq!(m.item.extended_properties.len(), 2);
    assert_eq!(
        m.item.extended_properties[1].uri,
        ExtendedFieldUri {
            property_tag: Some("0x7c09".to_owned()),
            property_type: "Binary".to_owned(),
            ..Default::default()
        }
    );
    assert_eq!(
        m.item.extended_properties[1].value,
        ExtendedValue::Single("AQID".to_owned())
    );
    assert_eq!(
        m.item.extended_properties[0].value,
        ExtendedValue::Single("conv-42".to_owned())
    );
}

#[test]
fn exchangelib_create_calendar_item() {
    let r = parse(fixture!("exchangelib", "create_item_calendar"));
    let Operation::CreateItem(c) = r.operation else {
        panic!("not CreateItem")
    };
    let [NewItem::CalendarItem(ci)] = c.items.as_slice() else {
        panic!("expected one calendar item")
    };
    assert_eq!(ci.item.subject.as_deref(), Some("Meet"));
    assert_eq!(
        ci.start.map(format_xs_datetime).as_deref(),
        Some("2024-01-02T10:00:00Z")
    );
    assert_eq!(
        ci.end.map(format_xs_datetime).as_deref(),
        Some("2024-01-02T11:00:00Z")
    );
    assert_eq!(ci.is_all_day_event, Some(false));
    assert_eq!(
        ci.legacy_free_busy_status,
        Some(LegacyFreeBusyStatus::Tentative)
    );
    assert_eq!(ci.location.as_deref(), Some("Room 1"));
    // exchangelib names the zone by its Windows id only
    let zone = ci.start_time_zone.as_ref().expect("t:StartTimeZone");
    assert!(zone.id.is_some() && zone.rules.is_none(), "{zone:?}");
    assert!(!ci.item.ignored.contains(&"StartTimeZone".to_owned()));
    assert!(ci.recurrence.is_none());
}

#[test]
fn exchangelib_delete_item() {
    for (fixture, expected) in [
        (
            fixture!("exchangelib", "delete_item_hard"),
            DeleteType::HardDelete,
        ),
        (
            fixture!("exchangelib", "delete_item_soft"),
            DeleteType::SoftDelete,
        ),
    ] {
        let Operation::DeleteItem(d) = parse(fixture).operation else {
            panic!("not DeleteItem")
        };
        assert_eq!(d.delete_type, expected);
        assert_eq!(d.item_ids, [ItemRef::new("I-1", Some("CK1"))]);
        assert_eq!(d.send_meeting_cancellations.as_deref(), Some("SendToNone"));
        assert_eq!(
            d.affected_task_occurrences,
            Some(AffectedTaskOccurrences::AllOccurrences)
        );
        assert_eq!(d.suppress_read_receipts, Some(true));
    }
}

#[test]
fn exchangelib_user_configuration_round() {
    let Operation::GetUserConfiguration(g) =
        parse(fixture!("exchangelib", "get_user_configuration")).operation
    else {
        panic!("not GetUserConfiguration")
    };
    assert_eq!(g.name.name, "Um.CustomGreetings.External");
    assert_eq!(g.name.folder, alice_folder(DistinguishedFolderId::Root));
    assert_eq!(g.properties, [UserConfigurationProperty::All]);
    assert!(g.wants(UserConfigurationProperty::BinaryData));

    let Operation::UpdateUserConfiguration(u) =
        parse(fixture!("exchangelib", "update_user_configuration_binary")).operation
    else {
        panic!("not UpdateUserConfiguration")
    };
    assert_eq!(u.name.name, "Um.CustomGreetings.External");
    assert_eq!(
        u.binary_data.as_deref(),
        Some(b"RIFF\x00\x01WAVEfmt ".as_slice())
    );
    assert_eq!(u.dictionary, None);
    assert_eq!(u.xml_data, None);

    let Operation::CreateUserConfiguration(c) =
        parse(fixture!("exchangelib", "create_user_configuration")).operation
    else {
        panic!("not CreateUserConfiguration")
    };
    assert_eq!(c.name.name, "Um.CustomGreetings.Oof");
    assert_eq!(c.xml_data.as_deref(), Some(b"<a/>".as_slice()));
    assert_eq!(c.binary_data.as_deref(), Some([0x00, 0xff].as_slice()));
    let dict = c.dictionary.expect("dictionary");
    assert_eq!(dict.len(), 3);
    assert_eq!(dict[0].key.value_type, DictionaryValueType::String);
    assert_eq!(dict[0].key.values, ["Key1"]);
    let v1 = dict[1].value.as_ref().expect("value");
    assert_eq!(v1.value_type, DictionaryValueType::Integer64);
    assert_eq!(v1.values, ["5"]);
    let v2 = dict[2].value.as_ref().expect("value");
    assert_eq!(v2.value_type, DictionaryValueType::Boolean);
    assert_eq!(v2.values, ["1"]);

    let Operation::DeleteUserConfiguration(d) =
        parse(fixture!("exchangelib", "delete_user_configuration")).operation
    else {
        panic!("not DeleteUserConfiguration")
    };
    assert_eq!(d.name, "Um.CustomGreetings.Oof");
}

#[test]
fn exchangelib_subscriptions() {
    let Operation::Subscribe(Subscription::Push {
        common,
        status_frequency,
        url,
    }) = parse(fixture!("exchangelib", "subscribe_push")).operation
    else {
        panic!("not a push subscription")
    };
    assert_eq!(status_frequency, 1);
    assert_eq!(url, "https://sub.example/cb");
    assert_eq!(
        common.folder_ids,
        [alice_folder(DistinguishedFolderId::Inbox)]
    );
    assert_eq!(common.event_types.len(), 7);
    assert_eq!(common.event_types[0], EventType::CopiedEvent);
    assert!(!common.subscribe_to_all_folders);

    let Operation::Subscribe(Subscription::Pull { common, timeout }) =
        parse(fixture!("exchangelib", "subscribe_pull")).operation
    else {
        panic!("not a pull subscription")
    };
    assert_eq!(timeout, 60);
    assert_eq!(common.watermark, None);

    assert_eq!(
        parse(fixture!("exchangelib", "unsubscribe")).operation,
        Operation::Unsubscribe {
            subscription_id: "SUB1".to_owned()
        }
    );
    assert_eq!(
        parse(fixture!("exchangelib", "get_events")).operation,
        Operation::GetEvents {
            subscription_id: "SUB1".to_owned(),
            watermark: "WM1".to_owned()
        }
    );
}

#[test]
fn exchangelib_send_notification_result_replies() {
    use ews_proto::notification::{SubscriptionStatus, parse_send_notification_result};
    assert_eq!(
        parse_send_notification_result(
            fixture!("exchangelib", "send_notification_result_ok"),
            &Limits::default()
        ),
        Ok(SubscriptionStatus::Ok)
    );
    assert_eq!(
        parse_send_notification_result(
            fixture!("exchangelib", "send_notification_result_unsubscribe"),
            &Limits::default()
        ),
        Ok(SubscriptionStatus::Unsubscribe)
    );
}

#[test]
fn ews_javascript_api_bind_well_known_folder() {
    let bytes = fixture!("ews-javascript-api", "get_folder_conversation_history");
    assert!(
        bytes.starts_with(b"<soap:Envelope"),
        "no XML declaration, soap: prefix"
    );
    let r = parse(bytes);
    assert_eq!(r.server_version, Some(ServerVersion::Exchange2013Sp1));
    let Operation::GetFolder(g) = r.operation else {
        panic!("not GetFolder")
    };
    assert_eq!(g.shape.base_shape, BaseShape::AllProperties);
    assert!(g.shape.additional.is_empty());
    assert_eq!(
        g.folder_ids,
        [FolderRef::Distinguished {
            id: DistinguishedFolderId::ConversationHistory,
            mailbox: None
        }]
    );
}

#[test]
fn ews_javascript_api_impersonation_uses_smtp_address() {
    let r = parse(fixture!(
        "ews-javascript-api",
        "get_folder_purges_impersonation"
    ));
    assert_eq!(
        r.impersonation,
        Some(ImpersonatedUser::SmtpAddress(
            "alice@contoso.example".to_owned()
        ))
    );
}

#[test]
fn ews_javascript_api_create_item_with_item_class_and_unescaped_html() {
    let r = parse(fixture!(
        "ews-javascript-api",
        "create_item_purges_item_class"
    ));
    let Operation::CreateItem(c) = r.operation else {
        panic!("not CreateItem")
    };
    assert_eq!(c.message_disposition, Some(MessageDisposition::SaveOnly));
    assert_eq!(c.send_meeting_invitations, None);
    assert_eq!(
        c.saved_folder,
        Some(FolderRef::Distinguished {
            id: DistinguishedFolderId::RecoverableItemsPurges,
            mailbox: None
        })
    );
    let [NewItem::Message(m)] = c.items.as_slice() else {
        panic!("expected one message")
    };
    assert_eq!(
        m.item.item_class.as_deref(),
        Some("IPM.Note.Microsoft.Conversation")
    );
    assert_eq!(m.item.subject.as_deref(), Some("Conversation with Bob"));
    // The client wrote the HTML unescaped; the body is the markup as sent,
    // identical to what exchangelib's escaped form decodes to.
    let body = m.item.body.as_ref().expect("body");
    assert_eq!(body.body_type, BodyType::Html);
    assert_eq!(body.content, "<div>hi &amp; bye</div>");
}

#[test]
fn ews_javascript_api_user_configuration_bind() {
    let r = parse(fixture!("ews-javascript-api", "get_user_configuration"));
    let Operation::GetUserConfiguration(g) = r.operation else {
        panic!("not GetUserConfiguration")
    };
    assert_eq!(g.name.name, "Um.CustomGreetings.External");
    assert_eq!(
        g.name.folder,
        FolderRef::Distinguished {
            id: DistinguishedFolderId::Root,
            mailbox: None
        }
    );
    assert_eq!(g.properties, [UserConfigurationProperty::All]);
}

#[test]
fn ews_spec_examples_parse() {
    // The abridged GetFolder example of ews.md §3.3, verbatim.
    let get_folder = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
 <s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header>
 <s:Body><m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties>
   <t:FieldURI FieldURI="folder:DisplayName"/><t:FieldURI FieldURI="folder:FolderClass"/></t:AdditionalProperties></m:FolderShape>
  <m:FolderIds><t:DistinguishedFolderId Id="recoverableitemspurges"><t:Mailbox><t:EmailAddress>alice@contoso.example</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:FolderIds>
 </m:GetFolder></s:Body></s:Envelope>"#;
    let Operation::GetFolder(g) = parse(get_folder).operation else {
        panic!("not GetFolder")
    };
    assert_eq!(
        g.folder_ids,
        [alice_folder(DistinguishedFolderId::RecoverableItemsPurges)]
    );
    assert_eq!(
        g.shape.additional,
        [field("folder:DisplayName"), field("folder:FolderClass")]
    );
}

#[test]
fn every_fixture_parses() {
    // Guards against a fixture being added without a test.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/requests");
    let mut count = 0;
    for client in ["exchangelib", "ews-javascript-api"] {
        let entries = std::fs::read_dir(dir.join(client)).expect("fixture dir");
        for entry in entries {
            let path = entry.expect("entry").path();
            let bytes = std::fs::read(&path).expect("read");
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with("send_notification_result") {
                continue; // a subscriber reply, not a request
            }
            if name == "create_item_item_attachment.xml" {
                continue; // refused: exchangelib_item_attachment_is_refused
            }
            if let Err(e) = parse_request(&bytes, &Limits::default()) {
                panic!("{}: {e}", path.display());
            }
            count += 1;
        }
    }
    assert!(count >= 25, "only {count} fixtures");
}

#[test]
fn exchangelib_update_item_fields() {
    use ews_proto::request::{ConflictResolution, ItemFieldChange, ItemFieldValue};
    let r = parse(fixture!("exchangelib", "update_item_fields"));
    let Operation::UpdateItem(u) = r.operation else {
        panic!("not UpdateItem: {:?}", r.operation)
    };
    // exchangelib asks for AutoResolve and SaveOnly
    assert_eq!(u.conflict_resolution, ConflictResolution::AutoResolve);
    assert_eq!(u.message_disposition, Some(MessageDisposition::SaveOnly));
    assert_eq!(
        u.send_meeting_invitations_or_cancellations.as_deref(),
        Some("SendToNone")
    );
    assert_eq!(u.suppress_read_receipts, Some(true));
    assert_eq!(u.changes.len(), 1);
    let c = &u.changes[0];
    assert_eq!(
        c.item_id,
        ItemRef {
            id: "I-1".into(),
            change_key: Some("CK1".into())
        }
    );
    let set = |f: &str, v: ItemFieldValue| ItemFieldChange::Set {
        path: field(f),
        values: vec![v],
    };
    assert_eq!(
        c.updates,
        [
            set("item:Subject", ItemFieldValue::Subject("Renamed".into())),
            set(
                "item:Body",
                ItemFieldValue::Body(ews_proto::request::Body {
                    body_type: BodyType::Html,
                    content: "<p>new</p>".into()
                })
            ),
            set(
                "item:Importance",
                ItemFieldValue::Importance(Importance::Low)
            ),
            set("message:IsRead", ItemFieldValue::IsRead(true)),
        ]
    );
    for (u, p) in c.updates.iter().zip([
        "item:Subject",
        "item:Body",
        "item:Importance",
        "message:IsRead",
    ]) {
        let ItemFieldChange::Set { values, .. } = u else {
            panic!()
        };
        assert!(values[0].is_for(&field(p)));
        assert!(!values[0].is_for(&field("item:Categories")));
    }
}

#[test]
fn exchangelib_update_item_delete_extended_and_categories() {
    use ews_proto::request::{ItemFieldChange, ItemFieldValue};
    let r = parse(fixture!("exchangelib", "update_item_delete_and_extended"));
    let Operation::UpdateItem(u) = r.operation else {
        panic!("not UpdateItem")
    };
    let uri = ExtendedFieldUri {
        distinguished_property_set_id: Some("PublicStrings".into()),
        property_name: Some("SkypeConversationId".into()),
        property_type: "String".into(),
        ..ExtendedFieldUri::default()
    };
    let updates = &u.changes[0].updates;
    assert_eq!(
        updates[0],
        ItemFieldChange::Delete {
            path: field("item:Categories")
        }
    );
    let ItemFieldChange::Set { path, values } = &updates[1] else {
        panic!("not a set: {:?}", updates[1])
    };
    assert_eq!(path, &PropertyPath::Extended(uri.clone()));
    let [ItemFieldValue::Extended(p)] = values.as_slice() else {
        panic!("{values:?}")
    };
    assert_eq!(p.uri, uri);
    assert_eq!(p.value, ExtendedValue::Single("conv-43".into()));
    assert!(values[0].is_for(path));

    let r = parse(fixture!("exchangelib", "update_item_categories"));
    let Operation::UpdateItem(u) = r.operation else {
        panic!("not UpdateItem")
    };
    assert_eq!(
        u.changes[0].updates,
        [ItemFieldChange::Set {
            path: field("item:Categories"),
            values: vec![ItemFieldValue::Categories(vec!["A".into(), "B".into()])]
        }]
    );
}

#[test]
fn exchangelib_move_and_copy_item() {
    for (name, bytes, folder) in [
        (
            "MoveItem",
            fixture!("exchangelib", "move_item"),
            DistinguishedFolderId::Inbox,
        ),
        (
            "CopyItem",
            fixture!("exchangelib", "copy_item"),
            DistinguishedFolderId::ConversationHistory,
        ),
    ] {
        let r = parse(bytes);
        assert_eq!(r.operation.name(), name);
        let (Operation::MoveItem(m) | Operation::CopyItem(m)) = r.operation else {
            panic!("not {name}")
        };
        assert_eq!(m.to_folder, alice_folder(folder));
        assert_eq!(m.item_ids.len(), 1);
        assert_eq!(m.return_new_item_ids, None);
    }
}

#[test]
fn exchangelib_sync_folder_items_first() {
    let r = parse(fixture!("exchangelib", "sync_folder_items_first"));
    let Operation::SyncFolderItems(s) = r.operation else {
        panic!("not SyncFolderItems: {:?}", r.operation)
    };
    assert_eq!(s.folder, alice_folder(DistinguishedFolderId::Inbox));
    assert_eq!(s.sync_state, None);
    assert!(s.ignore.is_empty());
    // exchangelib's default
    assert_eq!(s.max_changes_returned, 100);
    assert_eq!(s.sync_scope, None);
    assert_eq!(s.shape.base_shape, BaseShape::IdOnly);
    // every item field it knows, extended properties registered at the time included
    for f in [
        "item:Subject",
        "message:IsRead",
        "calendar:Start",
        "item:Body",
    ] {
        assert!(s.shape.additional.contains(&field(f)), "{f}");
    }
    assert!(
        s.shape
            .additional
            .iter()
            .any(|p| matches!(p, PropertyPath::Extended(_)))
    );
}

#[test]
fn exchangelib_sync_folder_items_next() {
    let r = parse(fixture!("exchangelib", "sync_folder_items_next"));
    let Operation::SyncFolderItems(s) = r.operation else {
        panic!("not SyncFolderItems: {:?}", r.operation)
    };
    assert_eq!(s.sync_state.as_deref(), Some("S0"));
    assert_eq!(s.ignore, [ItemRef::new("I-1", Some("CK1"))]);
    assert_eq!(s.max_changes_returned, 512);
    assert_eq!(
        s.sync_scope,
        Some(ews_proto::request::SyncScope::NormalAndAssociatedItems)
    );
    assert_eq!(
        s.shape.additional,
        [field("item:Subject"), field("message:IsRead")]
    );
}

#[test]
fn exchangelib_sync_folder_hierarchy() {
    let r = parse(fixture!("exchangelib", "sync_folder_hierarchy_root"));
    let Operation::SyncFolderHierarchy(h) = r.operation else {
        panic!("not SyncFolderHierarchy: {:?}", r.operation)
    };
    assert_eq!(h.folder, Some(alice_folder(DistinguishedFolderId::Root)));
    assert_eq!(h.sync_state, None);
    assert_eq!(h.shape.base_shape, BaseShape::IdOnly);
    assert!(h.shape.additional.contains(&field("folder:DisplayName")));
    let r = parse(fixture!("exchangelib", "sync_folder_hierarchy_next"));
    let Operation::SyncFolderHierarchy(h) = r.operation else {
        panic!("not SyncFolderHierarchy: {:?}", r.operation)
    };
    assert_eq!(h.folder, Some(alice_folder(DistinguishedFolderId::Inbox)));
    assert_eq!(h.sync_state.as_deref(), Some("H0"));
}

fn file_attachment(
    name: &str,
    content_type: &str,
    content: &[u8],
) -> ews_proto::request::NewFileAttachment {
    ews_proto::request::NewFileAttachment {
        name: Some(name.to_owned()),
        content_type: Some(content_type.to_owned()),
        content: Some(content.to_vec()),
        ..Default::default()
    }
}

/// `Message(attachments=[FileAttachment(...), ...]).save()`: the attachments inside the item.
#[test]
fn exchangelib_create_item_with_attachments() {
    let r = parse(fixture!("exchangelib", "create_item_with_attachments"));
    let Operation::CreateItem(c) = r.operation else {
        panic!("not CreateItem: {:?}", r.operation)
    };
    assert_eq!(
        c.saved_folder,
        Some(alice_folder(DistinguishedFolderId::VoiceMail))
    );
    let [NewItem::Message(m)] = c.items.as_slice() else {
        panic!("one message: {:?}", c.items)
    };
    assert_eq!(m.item.subject.as_deref(), Some("Voice mail from Bob"));
    let logo = ews_proto::request::NewFileAttachment {
        content_id: Some("logo@contoso.example".to_owned()),
        is_inline: Some(true),
        ..file_attachment("logo.png", "image/png", b"\x89PNG\r\n\x1a\n")
    };
    assert_eq!(
        m.item.attachments,
        [
            NewAttachment::File(file_attachment(
                "audio.wav",
                "audio/wav",
                b"RIFF\x24\x00\x00\x00WAVE"
            )),
            NewAttachment::File(logo)
        ]
    );
}

/// `item.attach(FileAttachment(...))` on a saved item.
#[test]
fn exchangelib_create_attachment() {
    let r = parse(fixture!("exchangelib", "create_attachment"));
    let Operation::CreateAttachment(c) = r.operation else {
        panic!("not CreateAttachment: {:?}", r.operation)
    };
    assert_eq!(c.parent, ItemRef::new("I-1", Some("CK1")));
    assert_eq!(
        c.attachments,
        [NewAttachment::File(file_attachment(
            "notes.txt",
            "text/plain",
            b"hello from exchangelib"
        ))]
    );
}

/// `attachment.content` of an attachment listed by GetItem: GetAttachment without a shape.
#[test]
fn exchangelib_get_attachment() {
    let r = parse(fixture!("exchangelib", "get_attachment"));
    let Operation::GetAttachment(g) = r.operation else {
        panic!("not GetAttachment: {:?}", r.operation)
    };
    assert_eq!(g.shape, None);
    assert_eq!(g.attachment_ids, ["A-3"]);
}

/// `item.detach(attachment)`.
#[test]
fn exchangelib_delete_attachment() {
    let r = parse(fixture!("exchangelib", "delete_attachment"));
    let Operation::DeleteAttachment(d) = r.operation else {
        panic!("not DeleteAttachment: {:?}", r.operation)
    };
    assert_eq!(d.attachment_ids, ["A-3"]);
}

/// `Message(attachments=[ItemAttachment(name=..., item=Message(...))]).save()`: the attached
/// message read as CreateItem reads a new one, its name and content type kept.
#[test]
fn exchangelib_item_attachment() {
    let r = parse(fixture!("exchangelib", "create_item_item_attachment"));
    let Operation::CreateItem(c) = r.operation else {
        panic!("not CreateItem: {:?}", r.operation)
    };
    let [NewItem::Message(m)] = c.items.as_slice() else {
        panic!("one message: {:?}", c.items)
    };
    let [NewAttachment::Item(a)] = m.item.attachments.as_slice() else {
        panic!("one item attachment: {:?}", m.item.attachments)
    };
    assert_eq!(a.name.as_deref(), Some("original"));
    assert_eq!(a.content_type.as_deref(), Some("application/octet-stream"));
    let Some(NewItem::Message(inner)) = a.item.as_deref() else {
        panic!("an attached message: {:?}", a.item)
    };
    assert_eq!(inner.item.subject.as_deref(), Some("original"));
    assert_eq!(inner.is_read, Some(false));
}

/// `Message.send()` (a copy in Sent Items) and `send(save_copy=False)`: CreateItem with a send
/// disposition, To, Cc and Bcc as exchangelib writes them.
#[test]
fn exchangelib_create_item_send_dispositions() {
    let mbx = |name: Option<&str>, addr: &str| Mailbox {
        name: name.map(str::to_owned),
        email_address: Some(addr.to_owned()),
        routing_type: Some("SMTP".to_owned()),
        mailbox_type: Some("Mailbox".to_owned()),
        item_id: None,
    };
    let r = parse(fixture!("exchangelib", "create_item_send_and_save_copy"));
    let Operation::CreateItem(c) = r.operation else {
        panic!("not CreateItem")
    };
    assert_eq!(
        c.message_disposition,
        Some(MessageDisposition::SendAndSaveCopy)
    );
    assert_eq!(
        c.saved_folder,
        Some(alice_folder(DistinguishedFolderId::SentItems))
    );
    let [NewItem::Message(m)] = c.items.as_slice() else {
        panic!("expected one message: {:?}", c.items)
    };
    assert_eq!(m.item.subject.as_deref(), Some("Lunch?"));
    assert_eq!(m.to, [mbx(None, "bob@contoso.example")]);
    assert_eq!(m.cc, [mbx(Some("Carol"), "carol@contoso.example")]);
    assert_eq!(m.bcc, [mbx(None, "dave@contoso.example")]);
    assert_eq!(m.from, None);

    let r = parse(fixture!("exchangelib", "create_item_send_only"));
    let Operation::CreateItem(c) = r.operation else {
        panic!("not CreateItem")
    };
    assert_eq!(c.message_disposition, Some(MessageDisposition::SendOnly));
    assert_eq!(c.saved_folder, None);
    let [NewItem::Message(m)] = c.items.as_slice() else {
        panic!("expected one message: {:?}", c.items)
    };
    assert_eq!(m.to, [mbx(None, "bob@contoso.example")]);
}

/// A saved draft changed, then `send_and_save()`: UpdateItem with
/// `MessageDisposition="SendAndSaveCopy"`, no SavedItemFolderId (Sent Items is the default), the
/// changed subject first and every other updatable field it holds as None deleted.
#[test]
fn exchangelib_update_item_send_and_save_copy() {
    use ews_proto::request::{ConflictResolution, ItemFieldChange, ItemFieldValue};
    let r = parse(fixture!("exchangelib", "update_item_send_and_save_copy"));
    let Operation::UpdateItem(u) = r.operation else {
        panic!("not UpdateItem: {:?}", r.operation)
    };
    assert_eq!(u.conflict_resolution, ConflictResolution::AutoResolve);
    assert_eq!(
        u.message_disposition,
        Some(MessageDisposition::SendAndSaveCopy)
    );
    assert_eq!(u.saved_folder, None);
    let [c] = u.changes.as_slice() else {
        panic!("expected one change: {:?}", u.changes)
    };
    assert_eq!(c.item_id, ItemRef::new("I-9", Some("CK4")));
    assert_eq!(
        c.updates[0],
        ItemFieldChange::Set {
            path: field("item:Subject"),
            values: vec![ItemFieldValue::Subject("Draft, changed".into())],
        }
    );
    assert_eq!(
        c.updates[1],
        ItemFieldChange::Delete {
            path: field("item:Body")
        }
    );
    assert_eq!(c.updates.len(), 7, "{:?}", c.updates);
}

/// A saved draft's `send()` (SendItem saving to Sent Items) and `send(save_copy=False)`.
#[test]
fn exchangelib_send_item() {
    let r = parse(fixture!("exchangelib", "send_item"));
    let Operation::SendItem(s) = r.operation else {
        panic!("not SendItem")
    };
    assert!(s.save_item_to_folder);
    assert_eq!(s.item_ids, [ItemRef::new("I-9", Some("CK4"))]);
    assert_eq!(
        s.saved_folder,
        Some(alice_folder(DistinguishedFolderId::SentItems))
    );
    let r = parse(fixture!("exchangelib", "send_item_no_copy"));
    let Operation::SendItem(s) = r.operation else {
        panic!("not SendItem")
    };
    assert!(!s.save_item_to_folder);
    assert_eq!(s.item_ids, [ItemRef::new("I-9", Some("CK4"))]);
    assert_eq!(s.saved_folder, None);
}

/// `t:ReplyToItem`, `t:ReplyAllToItem` and `t:ForwardItem` as exchangelib writes them (its
/// `BaseReplyItem` fields, in its order); without `t:ReferenceItemId` the request is refused.
#[test]
fn reply_and_forward_response_objects() {
    use ews_proto::request::{NewItem as N, SmartResponseKind};
    let envelope = |item: &str| {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body><m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items>{item}</m:Items></m:CreateItem></s:Body></s:Envelope>"#
        )
    };
    for (element, kind) in [
        ("ReplyToItem", SmartResponseKind::Reply),
        ("ReplyAllToItem", SmartResponseKind::ReplyAll),
        ("ForwardItem", SmartResponseKind::Forward),
    ] {
        let xml = envelope(&format!(
            r#"<t:{element}><t:Subject>RE: Numbers</t:Subject><t:ToRecipients><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></t:ToRecipients><t:IsReadReceiptRequested>false</t:IsReadReceiptRequested><t:IsDeliveryReceiptRequested>false</t:IsDeliveryReceiptRequested><t:ReferenceItemId Id="I-1" ChangeKey="CK1"/><t:NewBodyContent BodyType="Text">Thanks!</t:NewBodyContent></t:{element}>"#
        ));
        let Operation::CreateItem(c) = parse(xml.as_bytes()).operation else {
            panic!("{element}: not CreateItem")
        };
        let [N::SmartResponse(r)] = &c.items[..] else {
            panic!("{element}: {:?}", c.items)
        };
        assert_eq!(r.kind, kind);
        assert_eq!(r.reference_item_id, ItemRef::new("I-1", Some("CK1")));
        assert_eq!(r.item.subject.as_deref(), Some("RE: Numbers"));
        assert_eq!(r.to.len(), 1);
        assert_eq!(
            r.new_body.as_ref().map(|b| b.content.as_str()),
            Some("Thanks!")
        );
    }
    let xml = envelope("<t:ReplyToItem><t:Subject>x</t:Subject></t:ReplyToItem>");
    let e = parse_request(xml.as_bytes(), &Limits::default()).expect_err("no reference");
    assert!(e.to_string().contains("ReferenceItemId"), "{e}");
}
