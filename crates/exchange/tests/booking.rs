//! The resource booking attendant against the real server: a room (AutoAccept by default)
//! accepts a meeting it is free for and declines one that conflicts, one that is too long, one
//! too far ahead, and a recurring one with a taken occurrence, each answer reaching the
//! organizer with its reason and the room's free/busy following; an update is answered again;
//! AutoUpdate leaves requests to be answered; Get-/Set-CalendarProcessing and their refusals.

mod common;

use common::{ALICE, BOB, Env, Options, alice_token, bob_token, start};
use ews_proto::availability::parse_get_user_availability_response;
use ews_proto::types::LegacyFreeBusyStatus as S;
use ews_proto::xml::Limits;
use serde_json::{Value, json};
use time::OffsetDateTime;

const ROOM: &str = "room101@contoso.example";

async fn env() -> Env {
    let e = start(Options {
        mailboxes: &[("Alice", ALICE), ("Bob", BOB)],
        ..Options::default()
    })
    .await;
    e.cmdlet(
        "New-Mailbox",
        json!({"Name": "Room 101", "PrimarySmtpAddress": ROOM, "Room": true}),
    )
    .await
    .unwrap();
    e
}

/// Midnight UTC `days` from today.
fn day(days: i64) -> OffsetDateTime {
    (OffsetDateTime::now_utc() + time::Duration::days(days)).replace_time(time::Time::MIDNIGHT)
}

fn at(days: i64, hour: i64) -> String {
    (day(days) + time::Duration::hours(hour))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn meeting(subject: &str, start: &str, end: &str, recurrence: &str) -> String {
    format!(
        r#"<m:CreateItem MessageDisposition="SaveOnly" SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>{subject}</t:Subject><t:Start>{start}</t:Start><t:End>{end}</t:End>{recurrence}<t:Location>Room 101</t:Location><t:Resources><t:Attendee><t:Mailbox><t:EmailAddress>{ROOM}</t:EmailAddress></t:Mailbox></t:Attendee></t:Resources></t:CalendarItem></m:Items></m:CreateItem>"#
    )
}

async fn book(e: &Env, token: &str, subject: &str, start: &str, end: &str, rec: &str) -> String {
    let body = e.call_with(token, &meeting(subject, start, end, rec)).await;
    assert!(body.contains("NoError"), "{body}");
    common::ids(&body).remove(0).0
}

/// The subjects and bodies in the Inbox of `token`'s mailbox.
async fn inbox(e: &Env, token: &str) -> Vec<(String, String)> {
    let found = e
        .call_with(
            token,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    let mut out = Vec::new();
    for (id, _) in common::ids(&found) {
        let got = e
            .call_with(
                token,
                &format!(
                    r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape><t:BodyType>Text</t:BodyType></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
                ),
            )
            .await;
        let text = |tag: &str| {
            got.split(&format!("<t:{tag}"))
                .nth(1)
                .and_then(|s| s.split_once('>'))
                .and_then(|(_, s)| s.split('<').next())
                .unwrap_or_default()
                .to_owned()
        };
        out.push((text("Subject"), text("Body")));
    }
    out.sort();
    out
}

/// The room's busy times (status, start hour UTC from `day(from)`) in `[day(from), day(to))`.
async fn room_busy(e: &Env, from: i64, to: i64) -> Vec<(S, i64)> {
    let fmt = |d: OffsetDateTime| {
        d.format(&time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap()
    };
    let body = e
        .call(&format!(
            r#"<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>1</t:Month><t:DayOfWeek>Monday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>12</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone><m:MailboxDataArray><t:MailboxData><t:Email><t:Address>{ROOM}</t:Address></t:Email><t:AttendeeType>Room</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData></m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>{}</t:StartTime><t:EndTime>{}</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>30</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>FreeBusy</t:RequestedView></t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>"#,
            fmt(day(from)),
            fmt(day(to))
        ))
        .await;
    let views = parse_get_user_availability_response(body.as_bytes(), &Limits::default())
        .unwrap_or_else(|err| panic!("{err}: {body}"));
    let base = day(from);
    views[0]
        .as_ref()
        .unwrap_or_else(|err| panic!("{}: {body}", err.code))
        .events
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|ev| {
            let start = ev.start.assume_utc();
            (ev.busy_type, (start - base).whole_hours())
        })
        .collect()
}

#[tokio::test]
async fn a_room_accepts_when_free_and_declines_conflicts_with_the_reason() {
    let e = env().await;
    let (a, b) = (alice_token(), bob_token());
    book(&e, &a, "Planning", &at(2, 10), &at(2, 11), "").await;
    assert_eq!(room_busy(&e, 2, 3).await, [(S::Busy, 10)]);
    let answers = inbox(&e, &a).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, "Accepted: Planning");
    assert!(
        answers[0].1.contains("Your request was accepted."),
        "{answers:?}"
    );
    // Bob wants half of that hour: declined, with the time it is taken at
    book(
        &e,
        &b,
        "Review",
        &at(2, 10).replace(":00:00Z", ":30:00Z"),
        &at(2, 12),
        "",
    )
    .await;
    let answers = inbox(&e, &b).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, "Declined: Review");
    assert!(
        answers[0].1.contains("already booked")
            && answers[0].1.contains("Your request was declined."),
        "{answers:?}"
    );
    assert_eq!(
        room_busy(&e, 2, 3).await,
        [(S::Busy, 10)],
        "the decline took nothing"
    );
    // right after it: accepted
    book(&e, &b, "Review later", &at(2, 11), &at(2, 12), "").await;
    assert_eq!(room_busy(&e, 2, 3).await, [(S::Busy, 10), (S::Busy, 11)]);
    // too long (25 hours), too far ahead (181 days)
    book(&e, &b, "Offsite", &at(5, 0), &at(6, 1), "").await;
    book(&e, &b, "Next year", &at(181, 10), &at(181, 11), "").await;
    let answers = inbox(&e, &b).await;
    let declined = |s: &str| {
        answers
            .iter()
            .find(|(subject, _)| subject == &format!("Declined: {s}"))
            .map(|(_, body)| body.clone())
            .unwrap_or_else(|| panic!("no decline of {s}: {answers:?}"))
    };
    assert!(declined("Offsite").contains("1500 minutes"), "{answers:?}");
    assert!(declined("Next year").contains("180 days"), "{answers:?}");
    assert_eq!(room_busy(&e, 5, 7).await, []);
}

#[tokio::test]
async fn a_recurring_meeting_is_declined_for_one_taken_occurrence_and_an_update_is_answered_again()
{
    let e = env().await;
    let (a, b) = (alice_token(), bob_token());
    // Bob has the room on day 4 at 09:00
    book(&e, &b, "Standup blocker", &at(4, 9), &at(4, 10), "").await;
    // Alice wants it daily at 09:00 for five days from day 2: the third occurrence is taken
    let start_date = &at(2, 0)[..10];
    let daily = format!(
        "<t:Recurrence><t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:NumberedRecurrence><t:StartDate>{start_date}</t:StartDate><t:NumberOfOccurrences>5</t:NumberOfOccurrences></t:NumberedRecurrence></t:Recurrence>"
    );
    book(&e, &a, "Standup", &at(2, 9), &at(2, 10), &daily).await;
    let answers = inbox(&e, &a).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, "Declined: Standup");
    assert!(
        answers[0].1.contains(&at(4, 9)),
        "names the taken occurrence: {answers:?}"
    );
    assert!(!answers[0].1.contains(&at(2, 9)), "{answers:?}");
    assert_eq!(room_busy(&e, 2, 7).await, [(S::Busy, 2 * 24 + 9)]);
    // at 08:00 it is free every day: accepted, five occurrences busy
    book(&e, &a, "Early standup", &at(2, 8), &at(2, 9), &daily).await;
    let busy = room_busy(&e, 2, 7).await;
    assert_eq!(busy.len(), 6, "{busy:?}");
    // Alice's single meeting moved onto Bob's slot: the room answers the update, declining
    let id = book(&e, &a, "Movable", &at(3, 14), &at(3, 15), "").await;
    let ck = {
        let got = e
            .call_with(
                &a,
                &format!(
                    r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
                ),
            )
            .await;
        common::ids(&got).remove(0).1
    };
    let moved = e
        .call_with(
            &a,
            &format!(
                r#"<m:UpdateItem ConflictResolution="AutoResolve" SendMeetingInvitationsOrCancellations="SendToAllAndSaveCopy"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="calendar:Start"/><t:CalendarItem><t:Start>{}</t:Start></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:End"/><t:CalendarItem><t:End>{}</t:End></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#,
                at(4, 9),
                at(4, 10)
            ),
        )
        .await;
    assert!(moved.contains("NoError"), "{moved}");
    let answers = inbox(&e, &a).await;
    let movable: Vec<_> = answers
        .iter()
        .filter(|(s, _)| s.ends_with("Movable"))
        .map(|(s, _)| s.as_str())
        .collect();
    assert_eq!(
        movable,
        ["Accepted: Movable", "Declined: Movable"],
        "{answers:?}"
    );
    // its old slot is free again, and Bob's slot is still Bob's alone
    let busy = room_busy(&e, 3, 5).await;
    assert!(!busy.contains(&(S::Busy, 14)), "{busy:?}");
    assert_eq!(
        busy.iter().filter(|(_, h)| *h == 24 + 9).count(),
        1,
        "{busy:?}"
    );
}

#[tokio::test]
async fn calendar_processing_is_read_and_set_and_auto_update_leaves_requests_tentative() {
    let e = env().await;
    let get = |id: &str| {
        let id = id.to_owned();
        let e = &e;
        async move {
            e.cmdlet("Get-CalendarProcessing", json!({"Identity": id}))
                .await
                .unwrap()
                .remove(0)
        }
    };
    let room = get("Room 101").await;
    assert_eq!(room["AutomateProcessing"], "AutoAccept");
    assert_eq!(room["AllowConflicts"], false);
    assert_eq!(room["BookingWindowInDays"], 180);
    assert_eq!(room["MaximumDurationInMinutes"], 1440);
    assert_eq!(room["AllowRecurringMeetings"], true);
    assert_eq!(get("Alice").await["AutomateProcessing"], "AutoUpdate");
    let refusals: [(Value, &str); 5] = [
        (json!({"AutomateProcessing": "None"}), "not supported"),
        (
            json!({"AutomateProcessing": "Sometimes"}),
            "AutoUpdate, AutoAccept",
        ),
        (json!({"BookingWindowInDays": 0}), "between 1 and 1080"),
        (json!({"BookingWindowInDays": 1081}), "between 1 and 1080"),
        (json!({"MaximumDurationInMinutes": -1}), "between 0"),
    ];
    for (mut params, why) in refusals {
        params["Identity"] = json!("Room 101");
        let err = e
            .cmdlet("Set-CalendarProcessing", params.clone())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(why), "{params}: {err}");
    }
    assert_eq!(get("Room 101").await, room, "the refusals changed nothing");
    let err = e
        .cmdlet(
            "Set-CalendarProcessing",
            json!({"Identity": "Nobody", "AutomateProcessing": "AutoAccept"}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Nobody"), "{err}");
    // AutoUpdate: the request waits on the room's calendar as tentative, nobody answers
    let set = e
        .cmdlet(
            "Set-CalendarProcessing",
            json!({"Identity": "Room 101", "AutomateProcessing": "AutoUpdate", "BookingWindowInDays": 30}),
        )
        .await
        .unwrap();
    assert_eq!(set[0]["AutomateProcessing"], "AutoUpdate");
    assert_eq!(set[0]["BookingWindowInDays"], 30);
    book(&e, &alice_token(), "Waiting", &at(2, 10), &at(2, 11), "").await;
    assert_eq!(inbox(&e, &alice_token()).await, []);
    assert_eq!(room_busy(&e, 2, 3).await, [(S::Tentative, 10)]);
    // conflicts allowed: a second meeting at the same time is accepted
    e.cmdlet(
        "Set-CalendarProcessing",
        json!({"Identity": "Room 101", "AutomateProcessing": "AutoAccept", "AllowConflicts": true}),
    )
    .await
    .unwrap();
    book(&e, &bob_token(), "Overlap", &at(2, 10), &at(2, 11), "").await;
    let answers = inbox(&e, &bob_token()).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(answers[0].0, "Accepted: Overlap");
}

/// Two organizers asking for the same hour at once: the attendant decides one after the other,
/// so exactly one is accepted and the room is booked once.
#[tokio::test]
async fn requests_for_the_same_time_at_once_book_the_room_once() {
    let e = env().await;
    let (a, b) = (alice_token(), bob_token());
    let (start, end) = (at(3, 15), at(3, 16));
    tokio::join!(
        book(&e, &a, "Race A", &start, &end, ""),
        book(&e, &b, "Race B", &start, &end, "")
    );
    let mut answers: Vec<String> = inbox(&e, &a)
        .await
        .into_iter()
        .chain(inbox(&e, &b).await)
        .map(|(s, _)| s.split(':').next().unwrap_or_default().to_owned())
        .collect();
    answers.sort();
    assert_eq!(answers, ["Accepted", "Declined"]);
    assert_eq!(room_busy(&e, 3, 4).await, [(S::Busy, 15)]);
}
