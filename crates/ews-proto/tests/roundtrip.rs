//! Round trips: writer output read back by this crate's reader and
//! response parsers must give back exactly what was written.

mod samples;

use ews_proto::notification::{
    SubscriptionStatus, parse_send_notification, parse_send_notification_result,
    write_send_notification, write_send_notification_result,
};
use ews_proto::request::UserConfigurationProperty;
use ews_proto::response::{
    CreatedItem, Page, ResponseClass, ResponseError, ServerVersionInfo, convert_id_response,
    create_item_response, error_response, find_folder_response, find_item_response,
    folder_from_element, get_events_response, get_folder_response, get_item_response,
    get_user_configuration_response, item_from_element, notification_from_message, parse_response,
    parse_response_messages, user_configuration_from_message, write_fault,
};
use ews_proto::types::{BaseShape, FolderShape, ItemKind, ItemRef, ItemShape, PropertyPath};
use ews_proto::xml::{Element, Limits};
use ews_proto::{EwsProtoError, ns};
use samples::*;

fn limits() -> Limits {
    Limits::default()
}

fn payload<'a>(message: &'a Element, container: &str) -> &'a [Element] {
    match message.child(ns::MESSAGES, container) {
        Some(c) => &c.children,
        None => panic!("no m:{container} in {message:?}"),
    }
}

#[test]
fn folders_round_trip_with_all_properties() {
    let mut shape = FolderShape::new(BaseShape::AllProperties);
    shape.additional = vec![PropertyPath::Extended(
        ews_proto::types::ExtendedFieldUri::tag(0x3601, "Integer"),
    )];
    let folders = [purges_folder(), calendar_folder()];
    let out = get_folder_response(&shape, &[Ok(folders[0].clone()), Ok(folders[1].clone())]);
    let parsed = match parse_response(&out, &limits()) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(parsed.server_version, Some(ServerVersionInfo::default()));
    assert_eq!(parsed.response, "GetFolderResponse");
    assert_eq!(parsed.messages.len(), 2);
    for (message, expected) in parsed.messages.iter().zip(&folders) {
        assert_eq!(message.class, ResponseClass::Success);
        assert_eq!(message.code, "NoError");
        let [folder] = payload(&message.element, "Folders") else {
            panic!("one folder expected")
        };
        let mut got = folder_from_element(folder).expect("folder reads back");
        if expected.kind == ews_proto::types::FolderKind::CalendarFolder {
            // Calendar folders have no UnreadCount in the schema.
            got.unread_count = expected.unread_count;
        }
        assert_eq!(&got, expected);
    }
}

#[test]
fn find_folder_page_attributes_round_trip() {
    let page = Page {
        items: vec![purges_folder()],
        indexed_paging_offset: Some(1),
        total_items_in_view: 7,
        includes_last_item_in_range: false,
    };
    let out = find_folder_response(&FolderShape::new(BaseShape::IdOnly), &[Ok(page)]);
    let messages = parse_response_messages(&out, &limits()).expect("parses");
    let root = messages[0]
        .element
        .child(ns::MESSAGES, "RootFolder")
        .expect("RootFolder");
    assert_eq!(root.attr("IndexedPagingOffset"), Some("1"));
    assert_eq!(root.attr("TotalItemsInView"), Some("7"));
    assert_eq!(root.attr("IncludesLastItemInRange"), Some("false"));
    let folders = root.child(ns::TYPES, "Folders").expect("t:Folders");
    let got = folder_from_element(&folders.children[0]).expect("reads");
    assert_eq!(got.id, "F-purges");
    assert_eq!(got.display_name, "", "IdOnly returns ids only");
}

#[test]
fn items_round_trip_with_all_properties_and_extended() {
    let mut shape = ItemShape::new(BaseShape::AllProperties);
    shape.additional = vec![
        PropertyPath::Extended(skype_blob_uri()),
        PropertyPath::Extended(skype_conv_uri()),
    ];
    let items = [conversation_message(), meeting()];
    let out = get_item_response(&shape, &[Ok(items[0].clone()), Ok(items[1].clone())]);
    let messages = parse_response_messages(&out, &limits()).expect("parses");
    for (message, expected) in messages.iter().zip(&items) {
        let [item] = payload(&message.element, "Items") else {
            panic!("one item expected")
        };
        assert_eq!(&item_from_element(item).expect("reads"), expected);
    }
}

#[test]
fn hostile_strings_are_escaped_and_read_back() {
    let mut item = conversation_message();
    item.subject = Some("</t:Subject><t:ItemClass>IPM.Evil</t:ItemClass>]]>\"'&amp;".to_owned());
    item.id = "id\"with'quotes&<>".to_owned();
    item.body = Some((
        ews_proto::types::BodyType::Text,
        "<![CDATA[x]]> \r\n tab\t end".to_owned(),
    ));
    item.location = None;
    let out = get_item_response(
        &ItemShape::new(BaseShape::AllProperties),
        &[Ok(item.clone())],
    );
    let messages = parse_response_messages(&out, &limits()).expect("well-formed");
    let [el] = payload(&messages[0].element, "Items") else {
        panic!("one item")
    };
    let got = item_from_element(el).expect("reads");
    assert_eq!(got.subject, item.subject);
    assert_eq!(got.id, item.id);
    assert_eq!(got.body, item.body, "CR survives as &#13;");
    assert_eq!(
        got.item_class.as_deref(),
        Some("IPM.Note.Microsoft.Conversation")
    );
}

#[test]
fn characters_xml_cannot_carry_become_replacement_characters() {
    let mut item = conversation_message();
    item.subject = Some("nul\u{0}bell\u{7}end\u{FFFF}".to_owned());
    let out = get_item_response(&ItemShape::new(BaseShape::Default), &[Ok(item)]);
    let messages = parse_response_messages(&out, &limits()).expect("still well-formed");
    let [el] = payload(&messages[0].element, "Items") else {
        panic!("one item")
    };
    assert_eq!(
        item_from_element(el).expect("reads").subject.as_deref(),
        Some("nul\u{FFFD}bell\u{FFFD}end\u{FFFD}")
    );
}

#[test]
fn find_item_pages_and_ids_only() {
    let page = Page {
        items: vec![conversation_message(), meeting()],
        indexed_paging_offset: Some(2),
        total_items_in_view: 2,
        includes_last_item_in_range: true,
    };
    let out = find_item_response(&ItemShape::new(BaseShape::IdOnly), &[Ok(page)]);
    let messages = parse_response_messages(&out, &limits()).expect("parses");
    let root = messages[0]
        .element
        .child(ns::MESSAGES, "RootFolder")
        .expect("RootFolder");
    let items = root.child(ns::TYPES, "Items").expect("t:Items");
    let got: Vec<_> = items
        .children
        .iter()
        .map(|e| item_from_element(e).expect("reads"))
        .collect();
    assert_eq!(
        got,
        [
            ews_proto::response::ItemView::new(ItemKind::Message, "I-1", Some("CK1")),
            ews_proto::response::ItemView::new(ItemKind::CalendarItem, "I-cal", Some("CK2")),
        ]
    );
}

#[test]
fn errors_read_back_with_class_code_text_and_message_xml() {
    let out = create_item_response(&[
        Ok(Some(CreatedItem {
            kind: ItemKind::Message,
            item_id: ItemRef::new("I-9", None),
            attachment_ids: Vec::new(),
        })),
        Err(ResponseError::server_busy(2500)),
        Err(ResponseError::new("ErrorItemSave", "custom <text>").as_warning()),
    ]);
    let messages = parse_response_messages(&out, &limits()).expect("parses");
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[0].class, ResponseClass::Success);
    let [created] = payload(&messages[0].element, "Items") else {
        panic!("one item")
    };
    assert_eq!(item_from_element(created).expect("reads").id, "I-9");
    assert_eq!(messages[1].class, ResponseClass::Error);
    assert_eq!(messages[1].code, "ErrorServerBusy");
    let xml = messages[1]
        .element
        .child(ns::MESSAGES, "MessageXml")
        .expect("MessageXml");
    let value = xml.child(ns::TYPES, "Value").expect("t:Value");
    assert_eq!(value.attr("Name"), Some("BackOffMilliseconds"));
    assert_eq!(value.text, "2500");
    assert!(payload(&messages[1].element, "Items").is_empty());
    assert_eq!(messages[2].class, ResponseClass::Warning);
    assert_eq!(messages[2].text.as_deref(), Some("custom <text>"));
}

#[test]
fn user_configuration_round_trip() {
    let config = greeting_config();
    let out =
        get_user_configuration_response(&[UserConfigurationProperty::All], &Ok(config.clone()));
    let messages = parse_response_messages(&out, &limits()).expect("parses");
    assert_eq!(
        user_configuration_from_message(&messages[0]).expect("reads"),
        config
    );

    // Only what was asked for.
    let out = get_user_configuration_response(
        &[UserConfigurationProperty::BinaryData],
        &Ok(config.clone()),
    );
    let messages = parse_response_messages(&out, &limits()).expect("parses");
    let got = user_configuration_from_message(&messages[0]).expect("reads");
    assert_eq!(got.binary_data, config.binary_data);
    assert_eq!(got.item_id, None);
    assert_eq!(got.dictionary, None);
    assert_eq!(got.xml_data, None);
}

#[test]
fn notifications_round_trip() {
    let n = notification();
    let out = get_events_response(&Ok(n.clone()));
    let messages = parse_response_messages(&out, &limits()).expect("parses");
    assert_eq!(notification_from_message(&messages[0]).expect("reads"), n);

    let push = write_send_notification(&[n.clone(), n.clone()]);
    assert_eq!(
        parse_send_notification(&push, &limits()).expect("reads"),
        [n.clone(), n]
    );

    for status in [SubscriptionStatus::Ok, SubscriptionStatus::Unsubscribe] {
        let reply = write_send_notification_result(status);
        assert_eq!(
            parse_send_notification_result(&reply, &limits()),
            Ok(status)
        );
    }
}

#[test]
fn convert_id_and_unknown_operation_responses_read_back() {
    let out = convert_id_response(&[Err(ResponseError::code("ErrorInvalidIdMalformed"))]);
    let parsed = parse_response(&out, &limits()).expect("parses");
    assert_eq!(parsed.response, "ConvertIdResponse");
    assert!(
        parsed.server_version.is_some(),
        "the exchangelib version probe needs ServerVersionInfo"
    );
    assert_eq!(parsed.messages[0].code, "ErrorInvalidIdMalformed");

    let out = error_response(
        "GetServiceConfiguration",
        &ResponseError::code("ErrorInvalidRequest"),
    );
    let parsed = parse_response(&out, &limits()).expect("parses");
    assert_eq!(parsed.response, "GetServiceConfigurationResponse");
    assert_eq!(parsed.messages[0].code, "ErrorInvalidRequest");

    // A name that is not an XML name can never become an element name.
    let out = error_response("x><evil", &ResponseError::code("ErrorInvalidRequest"));
    assert!(matches!(
        parse_response(&out, &limits()),
        Err(EwsProtoError::SoapFault { code, .. }) if code == "ErrorInvalidRequest"
    ));
}

#[test]
fn faults_read_back_as_soap_faults() {
    let out = write_fault(
        "ErrorInvalidServerVersion",
        "The specified server version is invalid.",
    );
    assert_eq!(
        parse_response(&out, &limits()),
        Err(EwsProtoError::SoapFault {
            code: "ErrorInvalidServerVersion".to_owned(),
            message: "The specified server version is invalid.".to_owned(),
        })
    );
    // A response code that is not an XML name is replaced, not injected.
    let out = write_fault("Bad code<x>", "m");
    assert!(matches!(
        parse_response(&out, &limits()),
        Err(EwsProtoError::SoapFault { code, .. }) if code == "ErrorInternalServerError"
    ));
}

/// An item's attachments and a GetAttachment answer read back as written.
#[test]
fn attachments_round_trip() {
    use ews_proto::response::{attachment_from_element, get_attachment_response};
    let out = get_item_response(
        &ItemShape::new(BaseShape::AllProperties),
        &[Ok(voicemail())],
    );
    let messages = parse_response_messages(&out, &limits()).expect("parses");
    let [item] = payload(&messages[0].element, "Items") else {
        panic!("one item")
    };
    let got = item_from_element(item).expect("reads");
    assert!(got.has_attachments);
    assert_eq!(got.attachments, voicemail().attachments);

    let shape = ItemShape::new(BaseShape::AllProperties);
    let out = get_attachment_response(&shape, &[Ok(recording())]);
    let messages = parse_response_messages(&out, &limits()).expect("parses");
    let [a] = payload(&messages[0].element, "Attachments") else {
        panic!("one attachment")
    };
    assert_eq!(attachment_from_element(a).expect("reads"), recording());

    // an item attachment: the attached item (no id) and its own attachment, whole
    let out = get_attachment_response(&shape, &[Ok(forwarded_voicemail())]);
    let messages = parse_response_messages(&out, &limits()).expect("parses");
    let [a] = payload(&messages[0].element, "Attachments") else {
        panic!("one attachment")
    };
    let got = attachment_from_element(a).expect("reads");
    let want = forwarded_voicemail();
    assert!(got.is_item);
    assert_eq!(got.name, want.name);
    let (got, want) = (got.item.expect("item"), want.item.expect("item"));
    assert_eq!(got.id, "");
    assert_eq!(got.subject, want.subject);
    assert_eq!(got.body, want.body);
    assert_eq!(got.attachments, want.attachments);
}
