//! Meetings on the wire: CreateItem of a calendar item with attendees (exchangelib's shape),
//! the meeting response objects (AcceptItem, TentativelyAcceptItem, DeclineItem) and
//! CancelCalendarItem, attendee updates, the refusals; and the writer's calendar item with its
//! meeting fields and the meeting messages (request, response, cancellation), in schema order,
//! read back by the client-side reader.

use ews_proto::request::{
    CalendarSend, ItemFieldChange, ItemFieldValue, MeetingReplyKind, NewItem, Operation,
    calendar_send, parse_request,
};
use ews_proto::response::{ItemView, get_item_response, item_from_element, parse_response};
use ews_proto::types::{
    Attendee, BaseShape, ItemKind, ItemRef, ItemShape, LegacyFreeBusyStatus, Mailbox, PropertyPath,
    ResponseType, parse_xs_datetime,
};
use ews_proto::xml::Limits;
use insta::assert_snapshot;

const NS: &str = r#"xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types""#;

fn envelope(body: &str) -> String {
    format!(
        r#"<?xml version='1.0' encoding='utf-8'?><s:Envelope {NS}><s:Header><t:RequestServerVersion Version="Exchange2016"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

fn parse(body: &str) -> Result<Operation, ews_proto::error::EwsProtoError> {
    parse_request(envelope(body).as_bytes(), &Limits::default()).map(|r| r.operation)
}

fn lines(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.replace("><", ">\n<"),
        Err(e) => panic!("writer produced invalid UTF-8: {e}"),
    }
}

fn at(s: &str) -> time::OffsetDateTime {
    match parse_xs_datetime(s) {
        Some(t) => t,
        None => panic!("bad date {s}"),
    }
}

/// What exchangelib 5.6.0 sends for `CalendarItem(required_attendees=[...]).save(
/// send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)` (abridged: the time zones).
const CREATE_MEETING: &str = r#"<m:CreateItem MessageDisposition="SaveOnly" SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"><t:Mailbox><t:EmailAddress>alice@contoso.example</t:EmailAddress></t:Mailbox></t:DistinguishedFolderId></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Planning</t:Subject><t:ReminderIsSet>true</t:ReminderIsSet><t:ReminderMinutesBeforeStart>15</t:ReminderMinutesBeforeStart><t:Start>2024-03-01T10:00:00Z</t:Start><t:End>2024-03-01T11:00:00Z</t:End><t:IsAllDayEvent>false</t:IsAllDayEvent><t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus><t:Location>Room 1</t:Location><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox><t:ResponseType>Unknown</t:ResponseType></t:Attendee></t:RequiredAttendees><t:OptionalAttendees><t:Attendee><t:Mailbox><t:Name>Carol</t:Name><t:EmailAddress>carol@contoso.example</t:EmailAddress></t:Mailbox><t:LastResponseTime>2024-02-01T08:00:00Z</t:LastResponseTime></t:Attendee></t:OptionalAttendees><t:Resources><t:Attendee><t:Mailbox><t:EmailAddress>room1@contoso.example</t:EmailAddress></t:Mailbox></t:Attendee></t:Resources></t:CalendarItem></m:Items></m:CreateItem>"#;

#[test]
fn a_meeting_with_attendees_parses() {
    let Operation::CreateItem(c) = parse(CREATE_MEETING).unwrap() else {
        panic!("not CreateItem");
    };
    assert_eq!(
        calendar_send(c.send_meeting_invitations.as_deref()),
        CalendarSend::SendToAllAndSaveCopy
    );
    let NewItem::CalendarItem(ci) = &c.items[0] else {
        panic!("not a calendar item");
    };
    assert_eq!(
        ci.required_attendees,
        vec![Attendee {
            mailbox: Mailbox {
                email_address: Some("bob@contoso.example".into()),
                ..Mailbox::default()
            },
            response_type: Some(ResponseType::Unknown),
            last_response_time: None,
        }]
    );
    assert_eq!(
        ci.optional_attendees[0].mailbox.name.as_deref(),
        Some("Carol")
    );
    assert_eq!(
        ci.optional_attendees[0].last_response_time,
        Some(at("2024-02-01T08:00:00Z"))
    );
    assert_eq!(
        ci.resources[0].mailbox.email_address.as_deref(),
        Some("room1@contoso.example")
    );
    assert_eq!(ci.location.as_deref(), Some("Room 1"));
}

#[test]
fn bad_meetings_are_refused_by_name() {
    let cases = [
        // an attendee without a mailbox
        CREATE_MEETING.replace(
            "<t:Attendee><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox><t:ResponseType>Unknown</t:ResponseType></t:Attendee>",
            "<t:Attendee><t:ResponseType>Unknown</t:ResponseType></t:Attendee>",
        ),
        // a mailbox without an address
        CREATE_MEETING.replace(
            "<t:EmailAddress>bob@contoso.example</t:EmailAddress>",
            "<t:Name>Bob</t:Name>",
        ),
        // an unknown response type
        CREATE_MEETING.replace(
            "<t:ResponseType>Unknown</t:ResponseType>",
            "<t:ResponseType>Maybe</t:ResponseType>",
        ),
        // an empty attendee list (NonEmptyArrayOfAttendeesType)
        CREATE_MEETING.replace(
            "<t:Resources><t:Attendee><t:Mailbox><t:EmailAddress>room1@contoso.example</t:EmailAddress></t:Mailbox></t:Attendee></t:Resources>",
            "<t:Resources/>",
        ),
        // the same list twice
        CREATE_MEETING.replace(
            "<t:Resources>",
            "<t:Resources><t:Attendee><t:Mailbox><t:EmailAddress>x@contoso.example</t:EmailAddress></t:Mailbox></t:Attendee></t:Resources><t:Resources>",
        ),
        // a send mode EWS does not have
        CREATE_MEETING.replace("SendToAllAndSaveCopy", "SendToEveryone"),
        // a recurrence without its range
        CREATE_MEETING.replace(
            "<t:Location>",
            "<t:Recurrence><t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence></t:Recurrence><t:Location>",
        ),
    ];
    for (n, body) in cases.iter().enumerate() {
        assert_ne!(body, CREATE_MEETING, "case {n} changed nothing");
        let e = parse(body).expect_err(&format!("case {n} parsed"));
        let text = e.to_string();
        assert!(!text.is_empty(), "case {n}");
    }
    let e = parse(&cases[6]).unwrap_err();
    assert!(e.to_string().contains("Recurrence"), "{e}");
    // a recurring meeting is read with its rule
    let recurring = CREATE_MEETING.replace(
        "<t:Location>",
        "<t:Recurrence><t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:NoEndRecurrence><t:StartDate>2024-03-01</t:StartDate></t:NoEndRecurrence></t:Recurrence><t:Location>",
    );
    assert!(parse(&recurring).is_ok());
}

#[test]
fn response_objects_parse() {
    for (el, kind, rt) in [
        ("AcceptItem", MeetingReplyKind::Accept, ResponseType::Accept),
        (
            "TentativelyAcceptItem",
            MeetingReplyKind::TentativelyAccept,
            ResponseType::Tentative,
        ),
        (
            "DeclineItem",
            MeetingReplyKind::Decline,
            ResponseType::Decline,
        ),
    ] {
        let body = format!(
            r#"<m:CreateItem MessageDisposition="SendAndSaveCopy" SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="sentitems"/></m:SavedItemFolderId><m:Items><t:{el}><t:Body BodyType="Text">See you</t:Body><t:ReferenceItemId Id="REQ1" ChangeKey="CK1"/></t:{el}></m:Items></m:CreateItem>"#
        );
        let Operation::CreateItem(c) = parse(&body).unwrap() else {
            panic!("not CreateItem");
        };
        let NewItem::MeetingReply(r) = &c.items[0] else {
            panic!("not a reply");
        };
        assert_eq!(r.kind, kind);
        assert_eq!(r.kind.response_type(), rt);
        assert_eq!(
            r.reference_item_id,
            ItemRef {
                id: "REQ1".into(),
                change_key: Some("CK1".into())
            }
        );
        assert_eq!(r.item.body.as_ref().unwrap().content, "See you");
    }
    let missing = r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:AcceptItem><t:Body BodyType="Text">x</t:Body></t:AcceptItem></m:Items></m:CreateItem>"#;
    let e = parse(missing).unwrap_err();
    assert!(e.to_string().contains("ReferenceItemId"), "{e}");
    let cancel = r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:CancelCalendarItem><t:ReferenceItemId Id="CAL1"/></t:CancelCalendarItem></m:Items></m:CreateItem>"#;
    let Operation::CreateItem(c) = parse(cancel).unwrap() else {
        panic!("not CreateItem");
    };
    let NewItem::CancelCalendarItem(x) = &c.items[0] else {
        panic!("not a cancellation");
    };
    assert_eq!(x.reference_item_id.id, "CAL1");
}

#[test]
fn attendee_updates_and_send_modes_parse() {
    let body = r#"<m:UpdateItem ConflictResolution="AutoResolve" SendMeetingInvitationsOrCancellations="SendToAllAndSaveCopy"><m:ItemChanges><t:ItemChange><t:ItemId Id="CAL1"/><t:Updates><t:AppendToItemField><t:FieldURI FieldURI="calendar:RequiredAttendees"/><t:CalendarItem><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>dave@contoso.example</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem></t:AppendToItemField><t:SetItemField><t:FieldURI FieldURI="calendar:Start"/><t:CalendarItem><t:Start>2024-03-01T14:00:00Z</t:Start></t:CalendarItem></t:SetItemField><t:DeleteItemField><t:FieldURI FieldURI="calendar:OptionalAttendees"/></t:DeleteItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#;
    let Operation::UpdateItem(u) = parse(body).unwrap() else {
        panic!("not UpdateItem");
    };
    assert_eq!(
        calendar_send(u.send_meeting_invitations_or_cancellations.as_deref()),
        CalendarSend::SendToAllAndSaveCopy
    );
    let ups = &u.changes[0].updates;
    let ItemFieldChange::Append { values, .. } = &ups[0] else {
        panic!("not an append");
    };
    let ItemFieldValue::RequiredAttendees(l) = &values[0] else {
        panic!("not attendees");
    };
    assert!(values[0].is_for(&PropertyPath::Field("calendar:RequiredAttendees".into())));
    assert_eq!(
        l[0].mailbox.email_address.as_deref(),
        Some("dave@contoso.example")
    );
    let ItemFieldChange::Set { values, .. } = &ups[1] else {
        panic!("not a set");
    };
    assert_eq!(values[0], ItemFieldValue::Start(at("2024-03-01T14:00:00Z")));
    let del = r#"<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendOnlyToAll"><m:ItemIds><t:ItemId Id="CAL1"/></m:ItemIds></m:DeleteItem>"#;
    let Operation::DeleteItem(d) = parse(del).unwrap() else {
        panic!("not DeleteItem");
    };
    let send = calendar_send(d.send_meeting_cancellations.as_deref());
    assert!(send.sends() && !send.saves_copy());
    assert!(!calendar_send(None).sends());
    assert!(parse(&del.replace("SendOnlyToAll", "Nobody")).is_err());
}

fn attendee(email: &str, r: Option<ResponseType>, t: Option<&str>) -> Attendee {
    Attendee {
        mailbox: Mailbox::smtp(email, None),
        response_type: r,
        last_response_time: t.map(at),
    }
}

fn organizer_view() -> ItemView {
    let mut v = ItemView::new(ItemKind::CalendarItem, "CAL1", Some("CK2"));
    v.parent_folder_id = Some("F-cal".into());
    v.item_class = Some("IPM.Appointment".into());
    v.subject = Some("Planning".into());
    v.start = Some(at("2024-03-01T10:00:00Z"));
    v.end = Some(at("2024-03-01T11:00:00Z"));
    v.is_all_day_event = Some(false);
    v.legacy_free_busy_status = Some(LegacyFreeBusyStatus::Busy);
    v.location = Some("Room 1".into());
    v.uid = Some("040000008200E00074C5B7101A82E008ABCD".into());
    v.is_meeting = Some(true);
    v.is_cancelled = Some(false);
    v.meeting_request_was_sent = Some(true);
    v.my_response_type = Some(ResponseType::Organizer);
    v.organizer = Some(Mailbox::smtp("alice@contoso.example", Some("Alice")));
    v.required_attendees = vec![attendee(
        "bob@contoso.example",
        Some(ResponseType::Accept),
        Some("2024-02-02T09:00:00Z"),
    )];
    v.optional_attendees = vec![attendee(
        "carol@contoso.example",
        Some(ResponseType::Unknown),
        None,
    )];
    v
}

fn request_view() -> ItemView {
    let mut v = ItemView::new(ItemKind::MeetingRequest, "REQ1", Some("CK1"));
    v.item_class = Some("IPM.Schedule.Meeting.Request".into());
    v.subject = Some("Planning".into());
    v.from = Some(Mailbox::smtp("alice@contoso.example", Some("Alice")));
    v.to = vec![Mailbox::smtp("bob@contoso.example", None)];
    v.is_read = Some(false);
    v.associated_calendar_item_id = Some(ItemRef {
        id: "CAL2".into(),
        change_key: None,
    });
    v.has_been_processed = Some(false);
    v.response_type = Some(ResponseType::NoResponseReceived);
    v.uid = Some("040000008200E00074C5B7101A82E008ABCD".into());
    v.meeting_request_type = Some("NewMeetingRequest".into());
    v.intended_free_busy_status = Some(LegacyFreeBusyStatus::Busy);
    v.start = Some(at("2024-03-01T10:00:00Z"));
    v.end = Some(at("2024-03-01T11:00:00Z"));
    v.legacy_free_busy_status = Some(LegacyFreeBusyStatus::Tentative);
    v.location = Some("Room 1".into());
    v.is_meeting = Some(true);
    v.is_cancelled = Some(false);
    v.meeting_request_was_sent = Some(false);
    v.my_response_type = Some(ResponseType::NoResponseReceived);
    v.organizer = Some(Mailbox::smtp("alice@contoso.example", Some("Alice")));
    v.required_attendees = vec![attendee("bob@contoso.example", None, None)];
    v
}

fn all_properties() -> ItemShape {
    ItemShape {
        base_shape: BaseShape::AllProperties,
        body_type: None,
        include_mime_content: false,
        additional: Vec::new(),
    }
}

#[test]
fn calendar_item_meeting_fields_in_schema_order() {
    let out = get_item_response(&all_properties(), &[Ok(organizer_view())]);
    assert_snapshot!("meeting_organizer_calendar_item", lines(&out));
    let s = String::from_utf8(out.clone()).unwrap();
    // t:CalendarItemType: UID before Start; MyResponseType, Organizer, then the attendee lines
    let pos = |x: &str| s.find(x).unwrap_or_else(|| panic!("{x} missing"));
    assert!(pos("<t:UID>") < pos("<t:Start>"));
    assert!(pos("<t:Location>") < pos("<t:IsMeeting>"));
    assert!(pos("<t:IsCancelled>") < pos("<t:MeetingRequestWasSent>"));
    assert!(pos("<t:MyResponseType>") < pos("<t:Organizer>"));
    assert!(pos("<t:Organizer>") < pos("<t:RequiredAttendees>"));
    assert!(pos("<t:RequiredAttendees>") < pos("<t:OptionalAttendees>"));
    // read back
    let parsed = parse_response(&out, &Limits::default()).unwrap();
    let items = parsed.messages[0]
        .element
        .child(ews_proto::ns::MESSAGES, "Items")
        .unwrap();
    let back = item_from_element(&items.children[0]).unwrap();
    let want = organizer_view();
    assert_eq!(back.uid, want.uid);
    assert_eq!(back.required_attendees, want.required_attendees);
    assert_eq!(back.optional_attendees, want.optional_attendees);
    assert_eq!(back.my_response_type, Some(ResponseType::Organizer));
    assert_eq!(back.organizer, want.organizer);
    assert_eq!(back.meeting_request_was_sent, Some(true));
}

#[test]
fn only_the_meeting_fields_asked_for() {
    let shape = ItemShape {
        base_shape: BaseShape::IdOnly,
        body_type: None,
        include_mime_content: false,
        additional: [
            "calendar:UID",
            "calendar:MyResponseType",
            "calendar:RequiredAttendees",
        ]
        .into_iter()
        .map(|f| PropertyPath::Field(f.into()))
        .collect(),
    };
    let out = get_item_response(&shape, &[Ok(organizer_view())]);
    assert_snapshot!("meeting_fields_asked_for", lines(&out));
}

#[test]
fn meeting_messages_in_schema_order() {
    let out = get_item_response(&all_properties(), &[Ok(request_view())]);
    assert_snapshot!("meeting_request", lines(&out));
    let s = String::from_utf8(out.clone()).unwrap();
    let pos = |x: &str| s.find(x).unwrap_or_else(|| panic!("{x} missing"));
    // t:MessageType, then t:MeetingMessageType, then t:MeetingRequestMessageType
    assert!(pos("<t:IsRead>") < pos("<t:AssociatedCalendarItemId"));
    assert!(pos("<t:HasBeenProcessed>") < pos("<t:ResponseType>"));
    assert!(pos("<t:UID>") < pos("<t:MeetingRequestType>"));
    assert!(pos("<t:IntendedFreeBusyStatus>") < pos("<t:Start>"));
    let parsed = parse_response(&out, &Limits::default()).unwrap();
    let items = parsed.messages[0]
        .element
        .child(ews_proto::ns::MESSAGES, "Items")
        .unwrap();
    let back = item_from_element(&items.children[0]).unwrap();
    assert_eq!(back.kind, ItemKind::MeetingRequest);
    assert_eq!(back.response_type, Some(ResponseType::NoResponseReceived));
    assert_eq!(back.associated_calendar_item_id.unwrap().id, "CAL2");

    let mut resp = ItemView::new(ItemKind::MeetingResponse, "RESP1", Some("CK1"));
    resp.item_class = Some("IPM.Schedule.Meeting.Resp.Pos".into());
    resp.subject = Some("Accepted: Planning".into());
    resp.from = Some(Mailbox::smtp("bob@contoso.example", None));
    resp.response_type = Some(ResponseType::Accept);
    resp.has_been_processed = Some(false);
    resp.uid = Some("040000008200E00074C5B7101A82E008ABCD".into());
    resp.start = Some(at("2024-03-01T10:00:00Z"));
    resp.end = Some(at("2024-03-01T11:00:00Z"));
    resp.location = Some("Room 1".into());
    // fields a response does not have are not written even when set
    resp.my_response_type = Some(ResponseType::Accept);
    resp.legacy_free_busy_status = Some(LegacyFreeBusyStatus::Busy);
    let mut cancel = resp.clone();
    cancel.kind = ItemKind::MeetingCancellation;
    cancel.id = "CANCEL1".into();
    cancel.item_class = Some("IPM.Schedule.Meeting.Canceled".into());
    cancel.subject = Some("Canceled: Planning".into());
    cancel.response_type = None;
    let out = get_item_response(&all_properties(), &[Ok(resp), Ok(cancel)]);
    let s = String::from_utf8(out.clone()).unwrap();
    assert!(!s.contains("MyResponseType") && !s.contains("LegacyFreeBusyStatus"));
    assert_snapshot!("meeting_response_and_cancellation", lines(&out));
}
