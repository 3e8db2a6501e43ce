//! Meetings over EWS against the real server, with S2S tokens for each user: a meeting created
//! with its invitations sent (a required attendee named by another case of its address, a
//! distribution group expanded, an unknown address reported), each attendee's request and
//! Tentative copy read as that attendee, an accept, a tentative and a decline (from the request
//! and from the calendar copy), the answers on the organizer's item, refusals that write
//! nothing, cancellation by DeleteItem and by CancelCalendarItem, an update moving the copies,
//! and free/busy of the accepted meeting.

mod common;

use common::{ALICE, BOB, Env, Options, alice_token, bob_token, codes, ids, start, user_token};
use ews_proto::response::{ItemView, item_from_element, parse_response};
use ews_proto::types::{ItemKind, LegacyFreeBusyStatus, ResponseType};
use ews_proto::xml::Limits;
use serde_json::json;

const CAROL: &str = "carol@contoso.example";
const DAVE: &str = "dave@contoso.example";

async fn env() -> Env {
    let e = start(Options {
        mailboxes: &[
            ("Alice", ALICE),
            ("Bob", BOB),
            ("Carol", CAROL),
            ("Dave", DAVE),
        ],
        ..Options::default()
    })
    .await;
    e.cmdlet(
        "New-DistributionGroup",
        json!({"Name": "Team", "PrimarySmtpAddress": "team@contoso.example", "Members": "Carol,Dave"}),
    )
    .await
    .expect("the group");
    e
}

fn attendees(tag: &str, list: &[&str]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let a: String = list
        .iter()
        .map(|x| format!("<t:Attendee><t:Mailbox><t:EmailAddress>{x}</t:EmailAddress></t:Mailbox></t:Attendee>"))
        .collect();
    format!("<t:{tag}>{a}</t:{tag}>")
}

fn create_meeting(send: &str, required: &[&str], optional: &[&str], resources: &[&str]) -> String {
    format!(
        r#"<m:CreateItem MessageDisposition="SaveOnly" SendMeetingInvitations="{send}"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Planning</t:Subject><t:Body BodyType="Text">Agenda</t:Body><t:Start>2030-03-01T10:00:00Z</t:Start><t:End>2030-03-01T11:00:00Z</t:End><t:LegacyFreeBusyStatus>Busy</t:LegacyFreeBusyStatus><t:Location>Room 1</t:Location>{}{}{}</t:CalendarItem></m:Items></m:CreateItem>"#,
        attendees("RequiredAttendees", required),
        attendees("OptionalAttendees", optional),
        attendees("Resources", resources),
    )
}

fn respond(element: &str, disposition: &str, reference: &str) -> String {
    format!(
        r#"<m:CreateItem MessageDisposition="{disposition}" SendMeetingInvitations="SendToNone"><m:Items><t:{element}><t:ReferenceItemId Id="{reference}"/></t:{element}></m:Items></m:CreateItem>"#
    )
}

fn views(body: &str) -> Vec<ItemView> {
    let parsed = match parse_response(body.as_bytes(), &Limits::default()) {
        Ok(p) => p,
        Err(e) => panic!("{e}: {body}"),
    };
    parsed
        .messages
        .iter()
        .filter_map(|m| m.element.child(ews_proto::ns::MESSAGES, "Items"))
        .flat_map(|items| items.children.iter())
        .map(|el| item_from_element(el).unwrap())
        .collect()
}

impl Env {
    /// Every item of a distinguished folder, all properties, as `token`'s user sees them.
    async fn items_in(&self, token: &str, folder: &str) -> Vec<ItemView> {
        let found = self
            .call_with(
                token,
                &format!(
                    r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds></m:FindItem>"#
                ),
            )
            .await;
        let ids = ids(&found);
        if ids.is_empty() {
            return Vec::new();
        }
        let list: String = ids
            .iter()
            .map(|(i, _)| format!(r#"<t:ItemId Id="{i}"/>"#))
            .collect();
        views(
            &self
                .call_with(
                    token,
                    &format!(
                        r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds>{list}</m:ItemIds></m:GetItem>"#
                    ),
                )
                .await,
        )
    }

    async fn one(&self, token: &str, id: &str) -> ItemView {
        views(
            &self
                .call_with(
                    token,
                    &format!(
                        r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="calendar:UID"/><t:FieldURI FieldURI="calendar:Organizer"/><t:FieldURI FieldURI="calendar:MyResponseType"/><t:FieldURI FieldURI="calendar:RequiredAttendees"/><t:FieldURI FieldURI="calendar:OptionalAttendees"/><t:FieldURI FieldURI="calendar:Resources"/><t:FieldURI FieldURI="calendar:IsMeeting"/><t:FieldURI FieldURI="calendar:IsCancelled"/><t:FieldURI FieldURI="calendar:MeetingRequestWasSent"/><t:FieldURI FieldURI="calendar:LegacyFreeBusyStatus"/><t:FieldURI FieldURI="calendar:Start"/><t:FieldURI FieldURI="item:ParentFolderId"/></t:AdditionalProperties></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
                    ),
                )
                .await,
        )
        .remove(0)
    }

    /// Alice's meeting with Bob (as BOB@…), the Team group (Carol, Dave) and an unknown room,
    /// invitations sent and a copy kept; its id.
    async fn planning(&self) -> String {
        let body = self
            .call(&create_meeting(
                "SendToAllAndSaveCopy",
                &["Bob@Contoso.Example"],
                &["team@contoso.example"],
                &["room9@contoso.example"],
            ))
            .await;
        assert_eq!(codes(&body), ["NoError"], "{body}");
        assert!(body.contains("<t:CalendarItem>"), "{body}");
        ids(&body).remove(0).0
    }
}

fn carol_token() -> String {
    user_token(CAROL)
}

#[tokio::test]
async fn invitations_reach_attendees_and_groups() {
    let e = env().await;
    let id = e.planning().await;
    let own = e.one(&alice_token(), &id).await;
    assert_eq!(own.is_meeting, Some(true));
    assert_eq!(own.my_response_type, Some(ResponseType::Organizer));
    assert_eq!(own.meeting_request_was_sent, Some(true));
    assert_eq!(
        own.organizer.as_ref().unwrap().email_address.as_deref(),
        Some(ALICE)
    );
    let uid = own.uid.clone().expect("a UID");
    assert!(uid.len() >= 32, "{uid}");
    assert_eq!(own.required_attendees.len(), 1);
    assert_eq!(
        own.required_attendees[0].response_type,
        Some(ResponseType::Unknown)
    );
    assert_eq!(own.resources.len(), 1);

    for (who, token) in [
        ("bob", bob_token()),
        ("carol", carol_token()),
        ("dave", user_token(DAVE)),
    ] {
        let inbox = e.items_in(&token, "inbox").await;
        assert_eq!(inbox.len(), 1, "{who}");
        let req = &inbox[0];
        assert_eq!(req.kind, ItemKind::MeetingRequest, "{who}");
        assert_eq!(
            req.item_class.as_deref(),
            Some("IPM.Schedule.Meeting.Request")
        );
        assert_eq!(req.uid.as_deref(), Some(uid.as_str()));
        assert_eq!(req.is_read, Some(false));
        assert_eq!(req.has_been_processed, Some(false));
        assert_eq!(req.start, own.start);
        let cal = e.items_in(&token, "calendar").await;
        assert_eq!(cal.len(), 1, "{who}");
        let copy = &cal[0];
        assert_eq!(copy.kind, ItemKind::CalendarItem);
        assert_eq!(copy.uid.as_deref(), Some(uid.as_str()));
        assert_eq!(
            copy.legacy_free_busy_status,
            Some(LegacyFreeBusyStatus::Tentative)
        );
        assert_eq!(
            copy.my_response_type,
            Some(ResponseType::NoResponseReceived)
        );
        assert_eq!(
            req.associated_calendar_item_id.as_ref().map(|i| &i.id),
            Some(&copy.id)
        );
    }
    // the unknown room: a non-delivery report; the copy of the request in Sent Items
    let inbox = e.items_in(&alice_token(), "inbox").await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].item_class.as_deref(), Some("REPORT.IPM.Note.NDR"));
    let sent = e.items_in(&alice_token(), "sentitems").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, ItemKind::MeetingRequest);
}

#[tokio::test]
async fn send_to_none_stores_only_and_send_only_keeps_no_copy() {
    let e = env().await;
    let body = e
        .call(&create_meeting("SendToNone", &[BOB], &[], &[]))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let id = ids(&body).remove(0).0;
    let own = e.one(&alice_token(), &id).await;
    assert_eq!(own.my_response_type, Some(ResponseType::Organizer));
    assert_eq!(own.meeting_request_was_sent, Some(false));
    assert_eq!(own.required_attendees.len(), 1);
    assert!(e.items_in(&bob_token(), "inbox").await.is_empty());
    let body = e
        .call(&create_meeting("SendOnlyToAll", &[BOB], &[], &[]))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.items_in(&bob_token(), "inbox").await.len(), 1);
    assert!(e.items_in(&alice_token(), "sentitems").await.is_empty());
    assert_eq!(e.items_in(&alice_token(), "calendar").await.len(), 2);
}

#[tokio::test]
async fn accept_tentative_and_decline_reach_the_organizer() {
    let e = env().await;
    let id = e.planning().await;
    // Bob accepts the request
    let req = e.items_in(&bob_token(), "inbox").await.remove(0);
    let body = e
        .call_with(
            &bob_token(),
            &respond("AcceptItem", "SendAndSaveCopy", &req.id),
        )
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let copy = e.items_in(&bob_token(), "calendar").await.remove(0);
    assert_eq!(
        copy.legacy_free_busy_status,
        Some(LegacyFreeBusyStatus::Busy)
    );
    assert_eq!(copy.my_response_type, Some(ResponseType::Accept));
    let req = e.one(&bob_token(), &req.id).await;
    assert_eq!(req.kind, ItemKind::MeetingRequest);
    let sent = e.items_in(&bob_token(), "sentitems").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, ItemKind::MeetingResponse);
    // Dave is tentative, from his calendar copy
    let dave = user_token(DAVE);
    let dcopy = e.items_in(&dave, "calendar").await.remove(0);
    let body = e
        .call_with(
            &dave,
            &respond("TentativelyAcceptItem", "SendOnly", &dcopy.id),
        )
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    // Carol declines: her copy goes to Deleted Items
    let creq = e.items_in(&carol_token(), "inbox").await.remove(0);
    let body = e
        .call_with(
            &carol_token(),
            &respond("DeclineItem", "SendAndSaveCopy", &creq.id),
        )
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert!(e.items_in(&carol_token(), "calendar").await.is_empty());
    let deleted = e.items_in(&carol_token(), "deleteditems").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].my_response_type, Some(ResponseType::Decline));

    // Alice's Inbox: the report, then three responses
    let inbox = e.items_in(&alice_token(), "inbox").await;
    let mut classes: Vec<String> = inbox
        .iter()
        .filter(|i| i.kind == ItemKind::MeetingResponse)
        .map(|i| i.item_class.clone().unwrap_or_default())
        .collect();
    classes.sort();
    assert_eq!(
        classes,
        [
            "IPM.Schedule.Meeting.Resp.Neg",
            "IPM.Schedule.Meeting.Resp.Pos",
            "IPM.Schedule.Meeting.Resp.Tent"
        ]
    );
    let pos = inbox
        .iter()
        .find(|i| i.item_class.as_deref() == Some("IPM.Schedule.Meeting.Resp.Pos"))
        .unwrap();
    assert_eq!(pos.subject.as_deref(), Some("Accepted: Planning"));
    assert_eq!(pos.response_type, Some(ResponseType::Accept));
    assert_eq!(
        pos.from.as_ref().unwrap().email_address.as_deref(),
        Some(BOB)
    );
    // Bob's answer on Alice's item (he was invited as Bob@Contoso.Example)
    let own = e.one(&alice_token(), &id).await;
    let bob = &own.required_attendees[0];
    assert_eq!(bob.response_type, Some(ResponseType::Accept));
    assert!(bob.last_response_time.is_some());

    // free/busy: Bob is busy then
    let fb = e
        .call_with(
            &alice_token(),
            r#"<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>4</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone><m:MailboxDataArray><t:MailboxData><t:Email><t:Address>bob@contoso.example</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData></m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>2030-03-01T00:00:00</t:StartTime><t:EndTime>2030-03-02T00:00:00</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>30</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>FreeBusy</t:RequestedView></t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>"#,
        )
        .await;
    assert!(
        fb.contains("<t:BusyType>Busy</t:BusyType>"),
        "Bob's accepted meeting is busy: {fb}"
    );
}

#[tokio::test]
async fn refused_responses_write_nothing() {
    let e = env().await;
    let id = e.planning().await;
    // a plain message in Bob's Drafts
    let body = e
        .call_with(
            &bob_token(),
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>x</t:Subject></t:Message></m:Items></m:CreateItem>"#,
        )
        .await;
    let note = ids(&body).remove(0).0;
    let before = (
        e.items_in(&bob_token(), "sentitems").await.len(),
        e.items_in(&alice_token(), "inbox").await.len(),
        e.items_in(&bob_token(), "calendar").await[0]
            .change_key
            .clone(),
    );
    let body = e
        .call_with(
            &bob_token(),
            &respond("AcceptItem", "SendAndSaveCopy", &note),
        )
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidReferenceItem"], "{body}");
    // Alice answering her own meeting
    let body = e.call(&respond("AcceptItem", "SendAndSaveCopy", &id)).await;
    assert_eq!(
        codes(&body),
        ["ErrorCalendarIsOrganizerForAccept"],
        "{body}"
    );
    // no disposition
    let body = e
        .call_with(
            &bob_token(),
            &format!(
                r#"<m:CreateItem><m:Items><t:DeclineItem><t:ReferenceItemId Id="{note}"/></t:DeclineItem></m:Items></m:CreateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&body), ["ErrorMessageDispositionRequired"], "{body}");
    let after = (
        e.items_in(&bob_token(), "sentitems").await.len(),
        e.items_in(&alice_token(), "inbox").await.len(),
        e.items_in(&bob_token(), "calendar").await[0]
            .change_key
            .clone(),
    );
    assert_eq!(before, after);
    // too many attendees
    let many: Vec<String> = (0..=500).map(|n| format!("u{n}@contoso.example")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let body = e
        .call(&create_meeting("SendToAllAndSaveCopy", &many, &[], &[]))
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidRecipients"], "{body}");
    let body = e.call(&create_meeting("SendToNone", &many, &[], &[])).await;
    assert_eq!(codes(&body), ["ErrorInvalidRecipients"], "{body}");
    assert_eq!(e.items_in(&alice_token(), "calendar").await.len(), 1);
}

#[tokio::test]
async fn cancellation_by_delete_item_and_by_cancel_calendar_item() {
    let e = env().await;
    let id = e.planning().await;
    let req = e.items_in(&bob_token(), "inbox").await.remove(0);
    let body = e
        .call_with(
            &bob_token(),
            &respond("AcceptItem", "SendAndSaveCopy", &req.id),
        )
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    // an attendee cannot cancel
    let bcopy = e.items_in(&bob_token(), "calendar").await.remove(0);
    let body = e
        .call_with(
            &bob_token(),
            &format!(
                r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:CancelCalendarItem><t:ReferenceItemId Id="{}"/></t:CancelCalendarItem></m:Items></m:CreateItem>"#,
                bcopy.id
            ),
        )
        .await;
    assert_eq!(codes(&body), ["ErrorCalendarIsNotOrganizer"], "{body}");
    let body = e
        .call(&format!(
            r#"<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToAllAndSaveCopy"><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:DeleteItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert!(e.items_in(&alice_token(), "calendar").await.is_empty());
    assert!(
        e.items_in(&alice_token(), "sentitems")
            .await
            .iter()
            .any(|i| i.kind == ItemKind::MeetingCancellation)
    );
    for token in [bob_token(), carol_token()] {
        let inbox = e.items_in(&token, "inbox").await;
        let c = inbox
            .iter()
            .find(|i| i.kind == ItemKind::MeetingCancellation)
            .expect("a cancellation");
        assert_eq!(
            c.item_class.as_deref(),
            Some("IPM.Schedule.Meeting.Canceled")
        );
        let copy = e.items_in(&token, "calendar").await.remove(0);
        assert_eq!(copy.is_cancelled, Some(true));
        assert_eq!(
            copy.legacy_free_busy_status,
            Some(LegacyFreeBusyStatus::Free)
        );
    }

    // CancelCalendarItem of a second meeting
    let body = e
        .call(&create_meeting("SendToAllAndSaveCopy", &[BOB], &[], &[]))
        .await;
    let second = ids(&body).remove(0).0;
    let body = e
        .call(&format!(
            r#"<m:CreateItem MessageDisposition="SendAndSaveCopy"><m:Items><t:CancelCalendarItem><t:Body BodyType="Text">Sorry</t:Body><t:ReferenceItemId Id="{second}"/></t:CancelCalendarItem></m:Items></m:CreateItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let cancels = e
        .items_in(&bob_token(), "inbox")
        .await
        .into_iter()
        .filter(|i| i.kind == ItemKind::MeetingCancellation)
        .count();
    assert_eq!(cancels, 2);
    // a delete without cancellations leaves the attendees alone
    let body = e
        .call(&create_meeting("SendToAllAndSaveCopy", &[BOB], &[], &[]))
        .await;
    let third = ids(&body).remove(0).0;
    let before = e.items_in(&bob_token(), "inbox").await.len();
    let body = e
        .call(&format!(
            r#"<m:DeleteItem DeleteType="HardDelete" SendMeetingCancellations="SendToNone"><m:ItemIds><t:ItemId Id="{third}"/></m:ItemIds></m:DeleteItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    assert_eq!(e.items_in(&bob_token(), "inbox").await.len(), before);
}

#[tokio::test]
async fn an_update_sent_moves_the_attendees_copies() {
    let e = env().await;
    let body = e
        .call(&create_meeting("SendToAllAndSaveCopy", &[BOB], &[], &[]))
        .await;
    let (id, ck) = ids(&body).remove(0);
    let body = e
        .call(&format!(
            r#"<m:UpdateItem ConflictResolution="AutoResolve" SendMeetingInvitationsOrCancellations="SendToAllAndSaveCopy"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="calendar:Start"/><t:CalendarItem><t:Start>2030-03-01T14:00:00Z</t:Start></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:End"/><t:CalendarItem><t:End>2030-03-01T15:00:00Z</t:End></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:Location"/><t:CalendarItem><t:Location>Room 2</t:Location></t:CalendarItem></t:SetItemField><t:AppendToItemField><t:FieldURI FieldURI="calendar:RequiredAttendees"/><t:CalendarItem><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>dave@contoso.example</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem></t:AppendToItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let copy = e.items_in(&bob_token(), "calendar").await.remove(0);
    assert_eq!(copy.location.as_deref(), Some("Room 2"));
    assert_eq!(
        copy.start
            .map(ews_proto::types::format_xs_datetime)
            .as_deref(),
        Some("2030-03-01T14:00:00Z")
    );
    assert_eq!(e.items_in(&bob_token(), "inbox").await.len(), 2);
    // Dave, added by the update, is invited
    let dave = e.items_in(&user_token(DAVE), "calendar").await;
    assert_eq!(dave.len(), 1);
    let own = e.one(&alice_token(), &id).await;
    assert_eq!(own.required_attendees.len(), 2);
    // Dave removed again: a cancellation for him, his copy cancelled; Bob asked again
    let body = e
        .call(&format!(
            r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToAllAndSaveCopy"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="calendar:RequiredAttendees"/><t:CalendarItem><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        ))
        .await;
    assert_eq!(codes(&body), ["NoError"], "{body}");
    let dave = user_token(DAVE);
    assert!(
        e.items_in(&dave, "inbox")
            .await
            .iter()
            .any(|i| i.kind == ItemKind::MeetingCancellation)
    );
    assert_eq!(
        e.items_in(&dave, "calendar").await[0].is_cancelled,
        Some(true)
    );
    assert_eq!(e.items_in(&bob_token(), "inbox").await.len(), 3);
    // an end before the start is refused
    let body = e
        .call(&format!(
            r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToAllAndSaveCopy"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="calendar:End"/><t:CalendarItem><t:End>2030-03-01T09:00:00Z</t:End></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
        ))
        .await;
    assert_eq!(
        codes(&body),
        ["ErrorCalendarEndDateIsEarlierThanStartDate"],
        "{body}"
    );
    assert_eq!(e.items_in(&bob_token(), "inbox").await.len(), 3);
}
