//! insta snapshots of every response writer. Snapshots show the exact bytes
//! with a newline inserted between `><` (see `samples::lines`).

mod samples;

use ews_proto::notification::{
    SubscriptionStatus, write_send_notification, write_send_notification_result,
};
use ews_proto::request::{AlternateId, IdFormat, UserConfigurationProperty, parse_request};
use ews_proto::response::{
    CreatedAttachment, CreatedAttachmentId, create_attachment_response, delete_attachment_response,
    get_attachment_response,
};
use ews_proto::response::{
    CreatedItem, Page, ResponseError, SchemaViolation, SubscriptionCreated, UpdatedItem, UserPhoto,
    convert_id_response, copy_item_response, create_folder_response, create_item_response,
    create_user_configuration_response, delete_folder_response, delete_item_response,
    delete_user_configuration_response, error_response, find_folder_response, find_item_response,
    get_events_response, get_folder_response, get_item_response, get_user_configuration_response,
    get_user_photo_response, move_item_response, send_item_response, subscribe_response,
    unsubscribe_response, update_folder_response, update_item_response,
    update_user_configuration_response, write_fault, write_fault_for_error,
    write_fault_with_violation,
};
use ews_proto::response::{
    FolderSyncChange, ItemSyncChange, SyncResult, sync_folder_hierarchy_response,
    sync_folder_items_response,
};
use ews_proto::response::{Resolution, ResolvedContact, resolve_names_response};
use ews_proto::types::{BaseShape, FolderShape, ItemKind, ItemRef, ItemShape, PropertyPath};
use ews_proto::xml::Limits;
use insta::assert_snapshot;
use samples::*;

/// Makes single-line writer output reviewable: a newline between every
/// `><` pair. Lossless, because escaped text never contains `<`.
fn lines(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.replace("><", ">\n<"),
        Err(e) => panic!("writer produced invalid UTF-8: {e}"),
    }
}

fn field(f: &str) -> PropertyPath {
    PropertyPath::Field(f.to_owned())
}

/// The AdditionalProperties exchangelib sends for every folder.
fn exchangelib_folder_shape() -> FolderShape {
    FolderShape {
        base_shape: BaseShape::IdOnly,
        additional: [
            "folder:ChildFolderCount",
            "folder:DisplayName",
            "folder:DistinguishedFolderId",
            "folder:EffectiveRights",
            "folder:FolderClass",
            "folder:FolderId",
            "folder:ParentFolderId",
            "folder:PermissionSet",
            "folder:TotalCount",
            "folder:UnreadCount",
        ]
        .into_iter()
        .map(field)
        .collect(),
    }
}

#[test]
fn get_folder_exchangelib_shape_with_missing_folder() {
    let out = get_folder_response(
        &exchangelib_folder_shape(),
        &[
            Ok(purges_folder()),
            Err(ResponseError::code("ErrorFolderNotFound")),
        ],
    );
    assert_snapshot!(lines(&out));
}

/// CreateFolder answers with each new folder's id in its typed element, and a message per
/// folder that failed.
#[test]
fn create_folder_ids_and_a_failure() {
    let out = create_folder_response(&[
        Ok(calendar_folder()),
        Err(ResponseError::code("ErrorFolderExists")),
    ]);
    assert_snapshot!(lines(&out));
}

#[test]
fn update_folder_new_change_key_and_a_refusal() {
    let out = update_folder_response(&[
        Ok(purges_folder()),
        Err(ResponseError::code("ErrorFolderExists")),
    ]);
    assert_snapshot!(lines(&out));
}

/// ResolveNames: one resolution; several (a warning, with all of them, contact data included);
/// none.
#[test]
fn resolve_names_one_many_none() {
    let entry = |name: &str, smtp: &str, contact: bool| Resolution {
        mailbox: ews_proto::types::Mailbox {
            name: Some(name.into()),
            email_address: Some(smtp.into()),
            routing_type: Some("SMTP".into()),
            mailbox_type: Some("Mailbox".into()),
            item_id: None,
        },
        contact: contact.then(|| ResolvedContact {
            display_name: name.into(),
            email_addresses: vec![format!("SMTP:{smtp}")],
        }),
    };
    let one = resolve_names_response(&Ok(vec![entry("Bob", "bob@contoso.example", false)]));
    assert_snapshot!("resolve_names_one", lines(&one));
    let many = resolve_names_response(&Ok(vec![
        entry("Bob", "bob@contoso.example", true),
        entry("Bobby Tables", "bobby@contoso.example", true),
    ]));
    assert_snapshot!("resolve_names_many", lines(&many));
    let none = resolve_names_response(&Ok(vec![]));
    assert_snapshot!("resolve_names_none", lines(&none));
}

#[test]
fn delete_folder_done_and_refused() {
    let out = delete_folder_response(&[
        Ok(()),
        Err(ResponseError::new(
            "ErrorDeleteDistinguishedFolder",
            "the distinguished folder \"inbox\" cannot be deleted",
        )),
    ]);
    assert_snapshot!(lines(&out));
}

#[test]
fn get_folder_id_only_default_and_all_properties() {
    for shape in [
        BaseShape::IdOnly,
        BaseShape::Default,
        BaseShape::AllProperties,
    ] {
        let out = get_folder_response(
            &FolderShape::new(shape),
            &[Ok(purges_folder()), Ok(calendar_folder())],
        );
        assert_snapshot!(format!("get_folder_{shape}"), lines(&out));
    }
}

#[test]
fn get_folder_with_requested_mapi_tags() {
    // EWSEditor-style: AllProperties plus MAPI tags; only known ones come back.
    let mut shape = FolderShape::new(BaseShape::AllProperties);
    shape.additional = vec![
        PropertyPath::Extended(ews_proto::types::ExtendedFieldUri {
            property_tag: Some("13825".to_owned()), // 0x3601, asked for in decimal
            property_type: "Integer".to_owned(),
            ..Default::default()
        }),
        PropertyPath::Extended(ews_proto::types::ExtendedFieldUri::tag(0x66B5, "Integer")),
    ];
    let out = get_folder_response(&shape, &[Ok(purges_folder())]);
    assert_snapshot!(lines(&out));
}

#[test]
fn find_folder_pages() {
    let page = Page {
        items: vec![purges_folder(), calendar_folder()],
        indexed_paging_offset: Some(2),
        total_items_in_view: 5,
        includes_last_item_in_range: false,
    };
    let empty = Page {
        items: Vec::new(),
        indexed_paging_offset: Some(0),
        total_items_in_view: 0,
        includes_last_item_in_range: true,
    };
    let out = find_folder_response(
        &FolderShape::new(BaseShape::Default),
        &[
            Ok(page),
            Ok(empty),
            Err(ResponseError::code("ErrorFolderNotFound")),
        ],
    );
    assert_snapshot!(lines(&out));
}

#[test]
fn get_item_all_properties_with_extended() {
    let mut shape = ItemShape::new(BaseShape::AllProperties);
    shape.additional = vec![
        PropertyPath::Extended(skype_blob_uri()),
        PropertyPath::Extended(skype_conv_uri()),
        field("item:NotAThing"),
        field("contacts:Birthday"),
    ];
    let out = get_item_response(
        &shape,
        &[
            Ok(conversation_message()),
            Ok(meeting()),
            Err(ResponseError::code("ErrorItemNotFound")),
        ],
    );
    assert_snapshot!(lines(&out));
}

/// The body in the form the shape asks for (an HTML body as text, a text body as HTML), and
/// `item:TextBody` (exchangelib's `text_body`) when asked for by name.
#[test]
fn get_item_body_types_and_text_body() {
    use ews_proto::types::{BodyType, ShapeBodyType};
    let mut text_item = conversation_message();
    text_item.body = Some((BodyType::Text, "line one\nline <two>".to_owned()));
    for (name, body_type) in [
        ("get_item_body_as_text", ShapeBodyType::Text),
        ("get_item_body_as_html", ShapeBodyType::Html),
        ("get_item_body_best", ShapeBodyType::Best),
    ] {
        let mut shape = ItemShape::new(BaseShape::IdOnly);
        shape.body_type = Some(body_type);
        shape.additional = vec![field("item:Body"), field("item:TextBody")];
        let out = get_item_response(&shape, &[Ok(conversation_message()), Ok(text_item.clone())]);
        assert_snapshot!(name, lines(&out));
    }
    // a body past what is converted is given as stored, and has no text form
    let mut deep = conversation_message();
    let html = "<div>".repeat(ews_proto::body::MAX_CONVERTED_TAGS + 1) + "x";
    deep.body = Some((BodyType::Html, html));
    let mut shape = ItemShape::new(BaseShape::IdOnly);
    shape.body_type = Some(ShapeBodyType::Text);
    shape.additional = vec![field("item:Body"), field("item:TextBody")];
    let out = lines(&get_item_response(&shape, &[Ok(deep)]));
    assert!(out.contains(r#"<t:Body BodyType="HTML">"#) && !out.contains("TextBody"));
    // not without being named, and never in FindItem
    let out = get_item_response(
        &ItemShape::new(BaseShape::AllProperties),
        &[Ok(conversation_message())],
    );
    assert!(!lines(&out).contains("TextBody"));
}

#[test]
fn get_item_default_and_id_only() {
    for shape in [BaseShape::IdOnly, BaseShape::Default] {
        let out = get_item_response(
            &ItemShape::new(shape),
            &[Ok(conversation_message()), Ok(meeting())],
        );
        assert_snapshot!(format!("get_item_{shape}"), lines(&out));
    }
}

#[test]
fn get_item_id_only_with_additional_fields() {
    let mut shape = ItemShape::new(BaseShape::IdOnly);
    shape.additional = [
        "item:Subject",
        "item:ItemClass",
        "message:IsRead",
        "calendar:Start",
        "item:Body",
    ]
    .into_iter()
    .map(field)
    .collect();
    let out = get_item_response(&shape, &[Ok(conversation_message()), Ok(meeting())]);
    assert_snapshot!(lines(&out));
}

#[test]
fn find_item_never_returns_bodies() {
    let page = Page {
        items: vec![conversation_message(), meeting()],
        indexed_paging_offset: Some(2),
        total_items_in_view: 2,
        includes_last_item_in_range: true,
    };
    let out = find_item_response(&ItemShape::new(BaseShape::AllProperties), &[Ok(page)]);
    assert_snapshot!(lines(&out));
}

#[test]
fn find_item_calendar_view_without_paging_offset() {
    let page = Page {
        items: vec![meeting()],
        indexed_paging_offset: None,
        total_items_in_view: 1,
        includes_last_item_in_range: true,
    };
    let mut shape = ItemShape::new(BaseShape::IdOnly);
    shape.additional = vec![field("calendar:Start"), field("calendar:End")];
    let out = find_item_response(&shape, &[Ok(page)]);
    assert_snapshot!(lines(&out));
}

#[test]
fn create_item_saved_sent_and_failed() {
    let out = create_item_response(&[
        Ok(Some(CreatedItem {
            kind: ItemKind::Message,
            item_id: ItemRef::new("I-new", Some("CK1")),
            attachment_ids: Vec::new(),
        })),
        Ok(None),
        Err(ResponseError::code("ErrorFolderNotFound")),
    ]);
    assert_snapshot!(lines(&out));
}

/// CreateItem answers the ids of the attachments created with the item, in the order sent
/// (exchangelib pairs them with its attachments by position).
#[test]
fn create_item_with_attachments() {
    let out = create_item_response(&[
        Ok(Some(CreatedItem {
            kind: ItemKind::Message,
            item_id: ItemRef::new("I-vm", Some("CK1")),
            attachment_ids: vec![
                CreatedAttachmentId {
                    id: "A-1".to_owned(),
                    is_item: false,
                },
                CreatedAttachmentId {
                    id: "A-2".to_owned(),
                    is_item: true,
                },
            ],
        })),
        Err(ResponseError::new(
            "ErrorRequiredPropertyMissing",
            "A file attachment needs its content: t:FileAttachment has no t:Content.",
        )),
    ]);
    assert_snapshot!(lines(&out));
}

/// Each attachment's id with its item's id and new change key; a failure with an empty
/// `m:Attachments`.
#[test]
fn create_attachment() {
    let root = ItemRef::new("I-vm", Some("CK8"));
    let out = create_attachment_response(&[
        Ok(CreatedAttachment {
            is_item: false,
            attachment_id: "A-3".to_owned(),
            root_item: root.clone(),
        }),
        Err(ResponseError::new(
            "ErrorAttachmentSizeLimitExceeded",
            "the attachment is 12582913 bytes, over the limit of 12582912 bytes for one attachment",
        )),
        Ok(CreatedAttachment {
            is_item: true,
            attachment_id: "A-4".to_owned(),
            root_item: root,
        }),
    ]);
    assert_snapshot!(lines(&out));
}

/// The whole attachment (content base64-encoded) and a missing one.
#[test]
fn get_attachment() {
    let out = get_attachment_response(
        &ItemShape::new(BaseShape::AllProperties),
        &[
            Ok(recording()),
            Ok(inline_logo()),
            Err(ResponseError::code("ErrorItemNotFound")),
        ],
    );
    assert_snapshot!(lines(&out));
}

/// An item attachment: its properties, then the attached item in the shape asked for (no
/// `t:ItemId`), its own attachment with its content.
#[test]
fn get_item_attachment() {
    let mut shape = ItemShape::new(BaseShape::IdOnly);
    shape.additional = vec![
        PropertyPath::Field("item:Subject".to_owned()),
        PropertyPath::Field("item:Attachments".to_owned()),
    ];
    let out = get_attachment_response(&shape, &[Ok(forwarded_voicemail())]);
    assert_snapshot!(lines(&out));
}

/// Content longer than one encoding chunk encodes as one piece would.
#[test]
fn get_attachment_large_content_is_one_base64_text() {
    use base64::Engine as _;
    let content: Vec<u8> = (0..200_001u32).map(|n| (n % 251) as u8).collect();
    let mut a = recording();
    a.content = Some(content.clone());
    let out = String::from_utf8(get_attachment_response(
        &ItemShape::new(BaseShape::AllProperties),
        &[Ok(a)],
    ))
    .expect("utf-8");
    let expected = base64::engine::general_purpose::STANDARD.encode(&content);
    assert!(
        out.contains(&format!("<t:Content>{expected}</t:Content>")),
        "content not encoded whole"
    );
}

#[test]
fn delete_attachment() {
    let out = delete_attachment_response(&[
        Ok(ItemRef::new("I-vm", Some("CK9"))),
        Err(ResponseError::code("ErrorItemNotFound")),
        Err(ResponseError::code("ErrorAccessDenied")),
    ]);
    assert_snapshot!(lines(&out));
}

/// An item lists its attachments (no content) when the shape asks for them (AllProperties, or
/// `item:Attachments`), and says it has them (`t:HasAttachments`) in the Default shape.
#[test]
fn get_item_with_attachments() {
    assert_snapshot!(
        "get_item_with_attachments_all_properties",
        lines(&get_item_response(
            &ItemShape::new(BaseShape::AllProperties),
            &[Ok(voicemail())]
        ))
    );
    let mut shape = ItemShape::new(BaseShape::IdOnly);
    shape.additional = vec![field("item:Attachments"), field("item:HasAttachments")];
    assert_snapshot!(
        "get_item_with_attachments_by_field",
        lines(&get_item_response(&shape, &[Ok(voicemail())]))
    );
    let default = lines(&get_item_response(
        &ItemShape::new(BaseShape::Default),
        &[Ok(voicemail())],
    ));
    assert!(
        default.contains("<t:HasAttachments>true</t:HasAttachments>")
            && !default.contains("<t:Attachments>"),
        "{default}"
    );
}

/// FindItem says whether an item has attachments, never lists them (as it never gives bodies).
#[test]
fn find_item_gives_has_attachments_not_attachments() {
    let page = Page {
        items: vec![voicemail()],
        indexed_paging_offset: Some(1),
        total_items_in_view: 1,
        includes_last_item_in_range: true,
    };
    let out = lines(&find_item_response(
        &ItemShape::new(BaseShape::AllProperties),
        &[Ok(page)],
    ));
    assert!(
        out.contains("<t:HasAttachments>true</t:HasAttachments>")
            && !out.contains("<t:Attachments>")
            && !out.contains("A-1"),
        "{out}"
    );
}

#[test]
fn update_item_saved_overwritten_conflicting_and_refused() {
    let out = update_item_response(&[
        Ok(UpdatedItem {
            kind: ItemKind::Message,
            item_id: Some(ItemRef::new("I-1", Some("CK2"))),
            conflicts: 0,
        }),
        Ok(UpdatedItem {
            kind: ItemKind::CalendarItem,
            item_id: Some(ItemRef::new("I-2", Some("CK9"))),
            conflicts: 1,
        }),
        Err(ResponseError::code("ErrorIrresolvableConflict")),
        Err(ResponseError::new(
            "ErrorInvalidPropertySet",
            "Set action is invalid for property item:DateTimeReceived: it is read-only.",
        )),
    ]);
    assert_snapshot!(lines(&out));
}

/// UpdateItem with `MessageDisposition="SendAndSaveCopy"` (or `SendOnly`): the sent item has no
/// id to answer, so `m:Items` is empty (exchangelib's `send_and_save()` expects no result).
#[test]
fn update_item_sent() {
    let out = update_item_response(&[
        Ok(UpdatedItem {
            kind: ItemKind::Message,
            item_id: None,
            conflicts: 0,
        }),
        Ok(UpdatedItem {
            kind: ItemKind::Message,
            item_id: None,
            conflicts: 1,
        }),
    ]);
    assert_snapshot!(lines(&out));
}

#[test]
fn move_and_copy_item_with_and_without_new_ids() {
    let results = [
        Ok(Some(CreatedItem {
            kind: ItemKind::Message,
            item_id: ItemRef::new("I-1", Some("CK3")),
            attachment_ids: Vec::new(),
        })),
        Ok(None),
        Err(ResponseError::code("ErrorToFolderNotFound")),
    ];
    assert_snapshot!("move_item", lines(&move_item_response(&results)));
    assert_snapshot!("copy_item", lines(&copy_item_response(&results)));
}

/// SendItem answers each id with its response code alone.
#[test]
fn send_item_sent_and_refused() {
    let out = send_item_response(&[
        Ok(()),
        Err(ResponseError::new(
            "ErrorIrresolvableConflict",
            "The send operation failed because the item was changed since it was read.",
        )),
    ]);
    assert_snapshot!(lines(&out));
}

#[test]
fn delete_item_with_warning_and_busy() {
    let out = delete_item_response(&[
        Ok(()),
        Err(ResponseError::code("ErrorItemNotFound").as_warning()),
        Err(ResponseError::server_busy(5000)),
    ]);
    assert_snapshot!(lines(&out));
}

#[test]
fn get_user_configuration_all_and_id_only() {
    let out =
        get_user_configuration_response(&[UserConfigurationProperty::All], &Ok(greeting_config()));
    assert_snapshot!("get_user_configuration_all", lines(&out));
    let out = get_user_configuration_response(
        &[
            UserConfigurationProperty::Id,
            UserConfigurationProperty::BinaryData,
        ],
        &Ok(greeting_config()),
    );
    assert_snapshot!("get_user_configuration_id_binary", lines(&out));
    let out = get_user_configuration_response(
        &[UserConfigurationProperty::All],
        &Err(ResponseError::code("ErrorItemNotFound")),
    );
    assert_snapshot!("get_user_configuration_missing", lines(&out));
}

#[test]
fn create_update_delete_user_configuration() {
    assert_snapshot!(
        "create_user_configuration",
        lines(&create_user_configuration_response(&Ok(())))
    );
    assert_snapshot!(
        "update_user_configuration_failed",
        lines(&update_user_configuration_response(&Err(
            ResponseError::code("ErrorItemNotFound")
        )))
    );
    assert_snapshot!(
        "delete_user_configuration",
        lines(&delete_user_configuration_response(&Ok(())))
    );
}

#[test]
fn convert_id_probe_answers() {
    let out = convert_id_response(&[
        Ok(AlternateId {
            format: IdFormat::EntryId,
            id: "AAAAAA==".to_owned(),
            mailbox: "alice@contoso.example".to_owned(),
            is_archive: None,
        }),
        Err(ResponseError::new(
            "ErrorInvalidIdMalformed",
            "Id is malformed.",
        )),
    ]);
    assert_snapshot!(lines(&out));
}

#[test]
fn get_user_photo() {
    let ok = get_user_photo_response(&Ok(UserPhoto {
        has_changed: true,
        picture_data: vec![0xFF, 0xD8, 0xFF, 0xE0],
    }));
    assert_snapshot!("get_user_photo_ok", lines(&ok));
    let missing = get_user_photo_response(&Err(ResponseError::code("ErrorItemNotFound")));
    assert_snapshot!("get_user_photo_missing", lines(&missing));
}

#[test]
fn subscriptions_and_events() {
    assert_snapshot!(
        "subscribe",
        lines(&subscribe_response(&Ok(SubscriptionCreated {
            subscription_id: "SUB1".to_owned(),
            watermark: Some("WM1".to_owned()),
        })))
    );
    assert_snapshot!("unsubscribe", lines(&unsubscribe_response(&Ok(()))));
    assert_snapshot!(
        "get_events",
        lines(&get_events_response(&Ok(notification())))
    );
    assert_snapshot!(
        "get_events_unknown_subscription",
        lines(&get_events_response(&Err(ResponseError::code(
            "ErrorSubscriptionNotFound"
        ))))
    );
}

#[test]
fn push_notifications() {
    assert_snapshot!(
        "send_notification",
        lines(&write_send_notification(&[notification()]))
    );
    assert_snapshot!(
        "send_notification_result_ok",
        lines(&write_send_notification_result(SubscriptionStatus::Ok))
    );
    assert_snapshot!(
        "send_notification_result_unsubscribe",
        lines(&write_send_notification_result(
            SubscriptionStatus::Unsubscribe
        ))
    );
}

#[test]
fn unknown_operation_gets_invalid_request() {
    let out = error_response(
        "GetServiceConfiguration",
        &ResponseError::code("ErrorInvalidRequest"),
    );
    assert_snapshot!(lines(&out));
}

/// Regression: an availability-style operation (`…Request`) was answered with a
/// `…RequestResponse` element, which exchangelib rejected as an unknown SOAP response.
#[test]
fn unknown_request_style_operation_answers_its_response_shape() {
    let out = error_response(
        "GetUserOofSettingsRequest",
        &ResponseError::new(
            "ErrorInvalidRequest",
            "The operation GetUserOofSettingsRequest is not supported by this server.",
        ),
    );
    assert_snapshot!(lines(&out));
}

#[test]
fn faults() {
    assert_snapshot!(
        "fault_invalid_server_version",
        lines(&write_fault(
            "ErrorInvalidServerVersion",
            "The specified server version is invalid."
        ))
    );
    assert_snapshot!(
        "fault_schema_violation",
        lines(&write_fault_with_violation(
            "ErrorSchemaValidation",
            "The request failed schema validation.",
            &SchemaViolation {
                line: 1,
                position: 42,
                violation: "The element 'Foo' is invalid.".to_owned(),
            },
        ))
    );
    // A fault computed from a real parse error, with line/column.
    let input = b"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\">\n  <s:Body><!DOCTYPE x></s:Body></s:Envelope>";
    let err = match parse_request(input, &Limits::default()) {
        Err(e) => e,
        Ok(r) => panic!("accepted: {r:?}"),
    };
    assert_snapshot!("fault_for_dtd", lines(&write_fault_for_error(&err, input)));
    let must = ews_proto::EwsProtoError::MustUnderstandHeader {
        found: "{urn:x}Security".to_owned(),
    };
    assert_snapshot!(
        "fault_must_understand",
        lines(&write_fault_for_error(&must, b""))
    );
}

/// SyncFolderItems: the state, whether more remains, then each kind of change in order: a
/// create and an update with the item in the shape (no body, as FindItem), a read-flag change
/// and a delete with the id alone.
#[test]
fn sync_folder_items_changes() {
    let mut shape = ItemShape::new(BaseShape::IdOnly);
    shape.additional = vec![
        field("item:Subject"),
        field("item:Body"),
        field("message:IsRead"),
        field("calendar:Start"),
    ];
    let result = SyncResult {
        sync_state: "AQFJAA==".to_owned(),
        includes_last_in_range: false,
        changes: vec![
            ItemSyncChange::Create(conversation_message()),
            ItemSyncChange::Update(meeting()),
            ItemSyncChange::ReadFlagChange {
                item_id: ItemRef::new("I-read", Some("CK7")),
                is_read: true,
            },
            ItemSyncChange::Delete(ItemRef::new("I-gone", None)),
        ],
    };
    let out = sync_folder_items_response(&shape, &Ok(result));
    assert_snapshot!(lines(&out));
}

/// Nothing changed: an empty `m:Changes`, and the last item in range.
#[test]
fn sync_folder_items_nothing_new() {
    let result = SyncResult {
        sync_state: "S2".to_owned(),
        includes_last_in_range: true,
        changes: Vec::new(),
    };
    let out = sync_folder_items_response(&ItemShape::new(BaseShape::Default), &Ok(result));
    assert_snapshot!(lines(&out));
}

/// A refused state: the error, then an empty `m:SyncState` and `IncludesLastItemInRange`,
/// which exchangelib reads before the response code (without them it fails on a missing
/// element instead of raising the error).
#[test]
fn sync_folder_items_invalid_state() {
    let e = ResponseError::new(
        "ErrorInvalidSyncStateData",
        "the sync state is invalid: it was made for another folder; synchronize again without a SyncState to start over",
    );
    let out = sync_folder_items_response(&ItemShape::new(BaseShape::IdOnly), &Err(e.clone()));
    assert_snapshot!(lines(&out));
    // any whole-request error of the operation has the same shape
    assert_eq!(error_response("SyncFolderItems", &e), out);
}

/// SyncFolderHierarchy: typed folder elements in the shape, a delete with the folder id, and
/// `IncludesLastFolderInRange`.
#[test]
fn sync_folder_hierarchy_changes() {
    let result = SyncResult {
        sync_state: "AQFIAA==".to_owned(),
        includes_last_in_range: true,
        changes: vec![
            FolderSyncChange::Create(calendar_folder()),
            FolderSyncChange::Update(purges_folder()),
            FolderSyncChange::Delete {
                folder_id: "F-gone".to_owned(),
            },
        ],
    };
    let out = sync_folder_hierarchy_response(&exchangelib_folder_shape(), &Ok(result));
    assert_snapshot!(lines(&out));
    let e = ResponseError::code("ErrorFolderNotFound");
    let failed = sync_folder_hierarchy_response(&exchangelib_folder_shape(), &Err(e.clone()));
    assert!(
        lines(&failed).contains(
            "<m:SyncState/>\n<m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange>"
        ),
        "{}",
        lines(&failed)
    );
    assert_eq!(error_response("SyncFolderHierarchy", &e), failed);
}

/// `folder:PermissionSet`: a calendar's as `t:CalendarPermissions` (Default, Anonymous and a
/// user), each `t:CalendarPermission` in schema order, after DistinguishedFolderId.
#[test]
fn get_folder_calendar_permission_set() {
    use ews_proto::response::{FolderPermission, PermissionUser};
    let entry = |user, read, level, create| FolderPermission {
        user,
        can_create_items: create,
        can_create_subfolders: false,
        is_folder_owner: false,
        is_folder_visible: create,
        is_folder_contact: false,
        edit_items: if create { "All" } else { "None" },
        delete_items: if create { "All" } else { "None" },
        read_items: read,
        level,
    };
    let mut f = calendar_folder();
    f.permissions = Some(vec![
        entry(
            PermissionUser::Default,
            "TimeOnly",
            "FreeBusyTimeOnly",
            false,
        ),
        entry(PermissionUser::Anonymous, "None", "None", false),
        entry(
            PermissionUser::User {
                sid: Some("S-1-5-21-1-2-3-1001".into()),
                primary_smtp_address: Some("bob@contoso.example".into()),
                display_name: Some("Bob".into()),
            },
            "FullDetails",
            "Editor",
            true,
        ),
    ]);
    let mut shape = FolderShape::new(BaseShape::IdOnly);
    shape.additional = vec![field("folder:PermissionSet")];
    let out = get_folder_response(&shape, &[Ok(f)]);
    assert_snapshot!(lines(&out));
}
