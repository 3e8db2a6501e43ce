//! Contacts (`t:Contact`) end to end: the requests exchangelib 5.6.0 sends (captured in
//! `fixtures/requests/exchangelib`, see `fixtures/README.md`) parsed, their changes applied one
//! property path at a time, the contact written back in a GetItem answer and read back.

use ews_proto::contact::{Contact, EmailEntry, PhysicalAddress, delete_field, set_field};
use ews_proto::ns;
use ews_proto::request::{
    ItemFieldChange, ItemFieldValue, NewItem, Operation, Request, parse_request,
};
use ews_proto::response::{
    ItemView, get_item_response, item_from_element, parse_response_messages,
};
use ews_proto::types::{
    BaseShape, BodyType, ItemKind, ItemShape, PropertyPath, Sensitivity, parse_xs_datetime,
};
use ews_proto::xml::Limits;
use time::OffsetDateTime;

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!("fixtures/requests/exchangelib/", $name, ".xml")).as_slice()
    };
}

fn parse(bytes: &[u8]) -> Request {
    match parse_request(bytes, &Limits::default()) {
        Ok(r) => r,
        Err(e) => panic!("fixture rejected: {e}"),
    }
}

fn at(s: &str) -> OffsetDateTime {
    parse_xs_datetime(s).expect("test date")
}

fn lines(bytes: &[u8]) -> String {
    std::str::from_utf8(bytes)
        .expect("utf-8")
        .replace("><", ">\n<")
}

fn entry(address: &str) -> EmailEntry {
    EmailEntry {
        address: address.to_owned(),
        ..EmailEntry::default()
    }
}

fn strings(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// The contact exchangelib creates in `create_item_contact`.
fn bob() -> Contact {
    Contact {
        file_as: Some("Jones, Bob".into()),
        file_as_mapping: Some("LastCommaFirst".into()),
        display_name: Some("Bob Jones".into()),
        given_name: Some("Bob".into()),
        initials: Some("BQJ".into()),
        middle_name: Some("Q".into()),
        nickname: Some("Bobby".into()),
        company_name: Some("Contoso & Sons".into()),
        email_addresses: [
            ("EmailAddress1".to_owned(), entry("bob@contoso.example")),
            ("EmailAddress2".to_owned(), entry("bob@home.example")),
        ]
        .into(),
        physical_addresses: [
            (
                "Business".to_owned(),
                PhysicalAddress {
                    street: Some("1 Main St".into()),
                    city: Some("Springfield".into()),
                    state: Some("IL".into()),
                    country_or_region: Some("US".into()),
                    postal_code: Some("62701".into()),
                },
            ),
            (
                "Home".to_owned(),
                PhysicalAddress {
                    city: Some("Shelbyville".into()),
                    ..PhysicalAddress::default()
                },
            ),
        ]
        .into(),
        phone_numbers: strings(&[
            ("MobilePhone", "+1 555 0100"),
            ("BusinessPhone", "+1 555 0101"),
        ]),
        assistant_name: Some("Dave".into()),
        birthday: Some(at("1980-05-17T11:59:00Z")),
        business_home_page: Some("https://contoso.example/bob".into()),
        children: vec!["Ann".into(), "Ben".into()],
        companies: vec!["Contoso".into()],
        department: Some("R&D".into()),
        generation: Some("Jr.".into()),
        im_addresses: strings(&[("ImAddress1", "sip:bob@contoso.example")]),
        job_title: Some("Engineer".into()),
        manager: Some("Carol".into()),
        mileage: Some("12".into()),
        office_location: Some("Building 4".into()),
        postal_address_index: Some("Business".into()),
        profession: Some("Plumber".into()),
        spouse_name: Some("Eve".into()),
        surname: Some("Jones".into()),
        wedding_anniversary: Some(at("2005-06-01T11:59:00Z")),
    }
}

fn created() -> ews_proto::request::NewContact {
    let Operation::CreateItem(c) = parse(fixture!("create_item_contact")).operation else {
        panic!("not CreateItem")
    };
    let [NewItem::Contact(contact)] = &c.items[..] else {
        panic!("one contact expected: {:?}", c.items)
    };
    contact.clone()
}

#[test]
fn exchangelib_create_item_contact() {
    let n = created();
    assert_eq!(n.contact, bob());
    assert_eq!(n.item.sensitivity, Some(Sensitivity::Normal));
    let body = n.item.body.as_ref().expect("body");
    assert_eq!(body.body_type, BodyType::Text);
    assert_eq!(body.content, "Met at the <fair>.");
    assert_eq!(n.item.categories, ["Friends"]);
    assert_eq!(
        n.item.ignored,
        ["ReminderIsSet", "ReminderMinutesBeforeStart"],
        "the t:ItemType elements not modelled"
    );
}

/// Applies an UpdateItem's changes to `stored` the way a server does: each Set takes its one
/// property from the change's contact, each Delete removes one.
fn apply(stored: &mut Contact, bytes: &[u8]) -> Vec<ItemFieldChange> {
    let Operation::UpdateItem(u) = parse(bytes).operation else {
        panic!("not UpdateItem")
    };
    let [change] = &u.changes[..] else {
        panic!("one change expected")
    };
    for update in &change.updates {
        match update {
            ItemFieldChange::Set { path, values } => {
                let [value] = &values[..] else {
                    panic!("one value expected: {values:?}")
                };
                assert!(value.is_for(path), "{value:?} is not for {path:?}");
                assert_eq!(value.field_uri(), None);
                let ItemFieldValue::Contact(partial) = value else {
                    panic!("not a contact value: {value:?}")
                };
                set_field(stored, path, partial).expect("set");
            }
            ItemFieldChange::Delete { path } => delete_field(stored, path).expect("deleted"),
            ItemFieldChange::Append { .. } => panic!("exchangelib appends nothing here"),
        }
    }
    change.updates.clone()
}

fn indexed(f: &str, i: &str) -> PropertyPath {
    PropertyPath::Indexed {
        field_uri: f.to_owned(),
        field_index: i.to_owned(),
    }
}

#[test]
fn exchangelib_update_item_contact_plain() {
    let mut c = bob();
    let updates = apply(&mut c, fixture!("update_item_contact_plain"));
    let partial = Contact {
        job_title: Some("Senior Engineer".into()),
        ..Contact::default()
    };
    assert_eq!(
        updates,
        [ItemFieldChange::Set {
            path: PropertyPath::Field("contacts:JobTitle".into()),
            values: vec![ItemFieldValue::Contact(Box::new(partial))],
        }]
    );
    assert_eq!(c.job_title.as_deref(), Some("Senior Engineer"));
}

#[test]
fn exchangelib_update_item_contact_dictionaries() {
    let mut c = bob();
    let updates = apply(&mut c, fixture!("update_item_contact_email"));
    assert_eq!(updates.len(), 3, "one Set, the two other keys deleted");
    assert_eq!(
        c.email_addresses,
        [("EmailAddress1".to_owned(), entry("bob@new.example"))].into()
    );
    let updates = apply(&mut c, fixture!("update_item_contact_phone"));
    assert_eq!(
        updates.len(),
        19,
        "one Set, the eighteen other keys deleted"
    );
    assert_eq!(c.phone_numbers, strings(&[("HomePhone", "+1 555 0199")]));
    let updates = apply(&mut c, fixture!("update_item_contact_address"));
    assert_eq!(
        updates[0],
        ItemFieldChange::Set {
            path: indexed("contacts:PhysicalAddress:Street", "Home"),
            values: vec![ItemFieldValue::Contact(Box::new(Contact {
                physical_addresses: [(
                    "Home".to_owned(),
                    PhysicalAddress {
                        street: Some("2 Elm St".into()),
                        ..PhysicalAddress::default()
                    }
                )]
                .into(),
                ..Contact::default()
            }))],
        }
    );
    assert_eq!(
        updates.len(),
        15,
        "two parts set, the other thirteen deleted"
    );
    assert_eq!(
        c.physical_addresses,
        [(
            "Home".to_owned(),
            PhysicalAddress {
                street: Some("2 Elm St".into()),
                city: Some("Shelbyville".into()),
                ..PhysicalAddress::default()
            }
        )]
        .into(),
        "the business address gone with its last part"
    );
    apply(&mut c, fixture!("update_item_contact_delete"));
    assert_eq!(c.nickname, None);
    assert!(c.children.is_empty());
    // everything else as created
    let mut expected = bob();
    expected.email_addresses = c.email_addresses.clone();
    expected.phone_numbers = c.phone_numbers.clone();
    expected.physical_addresses = c.physical_addresses.clone();
    expected.nickname = None;
    expected.children.clear();
    assert_eq!(c, expected);
}

/// A read-only contact property in an update is kept as an `Other` value beside the contact's
/// values, for the server to refuse for its item alone (a fault would fail every item of the
/// request).
#[test]
fn a_read_only_property_in_an_update_is_left_for_the_server_to_refuse() {
    let body = lines(fixture!("update_item_contact_plain")).replace(
        "<t:JobTitle>Senior Engineer</t:JobTitle>",
        "<t:JobTitle>x</t:JobTitle><t:ContactSource>Store</t:ContactSource>",
    );
    let Operation::UpdateItem(u) = parse(body.as_bytes()).operation else {
        panic!("not UpdateItem")
    };
    let values: Vec<&ItemFieldValue> = u.changes[0]
        .updates
        .iter()
        .filter_map(|c| match c {
            ItemFieldChange::Set { values, .. } => Some(values),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(
        values
            .iter()
            .any(|v| matches!(v, ItemFieldValue::Other(n) if n == "ContactSource")),
        "{values:?}"
    );
    assert!(
        values.iter().any(
            |v| matches!(v, ItemFieldValue::Contact(c) if c.job_title.as_deref() == Some("x"))
        ),
        "{values:?}"
    );
}

#[test]
fn contact_children_of_other_items_stay_other_values() {
    let body = lines(fixture!("update_item_contact_plain"))
        .replace("<t:Contact>", "<t:Message>")
        .replace("</t:Contact>", "</t:Message>");
    let Operation::UpdateItem(u) = parse(body.as_bytes()).operation else {
        panic!("not UpdateItem")
    };
    let ItemFieldChange::Set { values, .. } = &u.changes[0].updates[0] else {
        panic!("not Set")
    };
    assert_eq!(values, &[ItemFieldValue::Other("JobTitle".into())]);
}

/// The contact as a GetItem answers it.
fn view(contact: Contact) -> ItemView {
    ItemView {
        parent_folder_id: Some("F-contacts".to_owned()),
        item_class: Some("IPM.Contact".to_owned()),
        subject: Some("Bob Jones".to_owned()),
        body: Some((BodyType::Text, "Met at the <fair>.".to_owned())),
        categories: vec!["Friends".to_owned()],
        contact: Some(Box::new(contact)),
        ..ItemView::new(ItemKind::Contact, "I-c", Some("CK2"))
    }
}

/// The contact read back from an answer: the one item of its one message.
fn read_back(out: &[u8]) -> ItemView {
    let messages = parse_response_messages(out, &Limits::default()).expect("parses");
    let [message] = &messages[..] else {
        panic!("one message expected")
    };
    let items = message
        .element
        .child(ns::MESSAGES, "Items")
        .expect("m:Items");
    let [item] = &items.children[..] else {
        panic!("one item expected")
    };
    item_from_element(item).expect("reads")
}

#[test]
fn exchangelib_get_item_contact_answered_and_read_back() {
    let Operation::GetItem(g) = parse(fixture!("get_item_contact")).operation else {
        panic!("not GetItem")
    };
    assert_eq!(g.shape.base_shape, BaseShape::IdOnly);
    let out = get_item_response(&g.shape, &[Ok(view(created().contact))]);
    insta::assert_snapshot!("get_item_contact_exchangelib_shape", lines(&out));
    let back = read_back(&out);
    assert_eq!(back.kind, ItemKind::Contact);
    assert_eq!(back.contact.as_deref(), Some(&bob()));
}

#[test]
fn created_contact_round_trips_under_all_properties() {
    let shape = ItemShape::new(BaseShape::AllProperties);
    let out = get_item_response(&shape, &[Ok(view(created().contact))]);
    insta::assert_snapshot!("get_item_contact_all_properties", lines(&out));
    assert_eq!(read_back(&out), view(bob()));
}

/// A read-only property of a new contact or task is kept by name for the server to refuse that
/// item alone (the other items of the request are created), not a fault of the whole request.
#[test]
fn a_read_only_property_of_a_new_item_is_left_for_the_server_to_refuse() {
    let body = format!(
        r#"<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{}" xmlns:t="{}"><soap:Body><m:CreateItem><m:Items><t:Contact><t:GivenName>x</t:GivenName><t:HasPicture>true</t:HasPicture></t:Contact><t:Task><t:Subject>y</t:Subject><t:IsComplete>true</t:IsComplete></t:Task><t:Contact><t:GivenName>z</t:GivenName></t:Contact></m:Items></m:CreateItem></soap:Body></soap:Envelope>"#,
        ns::MESSAGES,
        ns::TYPES
    );
    let Operation::CreateItem(c) = parse(body.as_bytes()).operation else {
        panic!("not CreateItem")
    };
    let read_only: Vec<Vec<String>> = c
        .items
        .iter()
        .map(|i| i.fields().read_only.clone())
        .collect();
    assert_eq!(
        read_only,
        [
            vec!["t:HasPicture".to_owned()],
            vec!["t:IsComplete".into()],
            vec![]
        ]
    );
}
