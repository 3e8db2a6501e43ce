//! Free/busy over HTTP against the real server: GetUserAvailability of two mailboxes' calendars
//! (times in the requester's time zone, daylight time changes included; merged streams at
//! several intervals; all-day, tentative and out-of-office appointments overlapping), details for
//! the acting mailbox only, unknown and outside addresses among known ones, groups, every bound
//! of the request as its SOAP fault; and GetServerTimeZones.

mod common;

use common::{ALICE, BOB, Env, Options, bob_token, start};
use ews_proto::availability::{
    FreeBusyView, FreeBusyViewType, parse_get_user_availability_response,
};
use ews_proto::response::ResponseError;
use ews_proto::types::LegacyFreeBusyStatus as S;
use ews_proto::xml::Limits;
use serde_json::json;
use time::macros::datetime;

async fn env() -> Env {
    start(Options {
        mailboxes: &[
            ("Alice", ALICE),
            ("Bob", BOB),
            ("Dave", "dave@contoso.example"),
        ],
        ..Options::default()
    })
    .await
}

/// Pacific time (US): UTC-08:00, daylight time from the second Sunday of March to the first of
/// November.
const PACIFIC: &str = "<t:TimeZone><t:Bias>480</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>11</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>2</t:DayOrder><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>";

/// Sydney: UTC+10:00, daylight time from the first Sunday of October to the first of April.
const SYDNEY: &str = "<t:TimeZone><t:Bias>-600</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>03:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>4</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>";

/// UTC as exchangelib builds it: dummy rules, no bias.
const UTC: &str = "<t:TimeZone><t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>1</t:Month><t:DayOfWeek>Monday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>12</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>";

struct Appt {
    subject: &'static str,
    start: &'static str,
    end: &'static str,
    status: &'static str,
    all_day: bool,
    private: bool,
}

const fn appt(
    subject: &'static str,
    start: &'static str,
    end: &'static str,
    status: &'static str,
) -> Appt {
    Appt {
        subject,
        start,
        end,
        status,
        all_day: false,
        private: false,
    }
}

fn create(items: &[Appt]) -> String {
    let items: String = items
        .iter()
        .map(|a| {
            format!(
                "<t:CalendarItem><t:Subject>{}</t:Subject><t:Sensitivity>{}</t:Sensitivity><t:Start>{}</t:Start><t:End>{}</t:End><t:IsAllDayEvent>{}</t:IsAllDayEvent><t:LegacyFreeBusyStatus>{}</t:LegacyFreeBusyStatus><t:Location>{} room</t:Location></t:CalendarItem>",
                a.subject,
                if a.private { "Private" } else { "Normal" },
                a.start,
                a.end,
                a.all_day,
                a.status,
                a.subject
            )
        })
        .collect();
    format!(
        "<m:CreateItem SendMeetingInvitations=\"SendToNone\"><m:SavedItemFolderId><t:DistinguishedFolderId Id=\"calendar\"/></m:SavedItemFolderId><m:Items>{items}</m:Items></m:CreateItem>"
    )
}

/// Alice's calendar (times UTC; Pacific daylight time starts 2026-03-08 10:00 UTC).
const ALICE_CALENDAR: &[Appt] = &[
    // a month away from the office that ends as Sunday 2026-03-08 starts in Pacific time
    appt(
        "Remote month",
        "2026-02-06T08:00:00Z",
        "2026-03-08T08:00:00Z",
        "WorkingElsewhere",
    ),
    appt(
        "Planning",
        "2026-03-07T17:00:00Z",
        "2026-03-07T19:00:00Z",
        "Busy",
    ),
    appt(
        "Maybe lunch",
        "2026-03-09T16:00:00Z",
        "2026-03-09T17:00:00Z",
        "Tentative",
    ),
    appt(
        "Away",
        "2026-03-09T16:30:00Z",
        "2026-03-09T17:00:00Z",
        "OOF",
    ),
    Appt {
        private: true,
        ..appt(
            "Dentist",
            "2026-03-09T20:00:00Z",
            "2026-03-09T21:00:00Z",
            "Busy",
        )
    },
    // an all-day event of Tuesday 2026-03-10 in Pacific (daylight) time
    Appt {
        all_day: true,
        ..appt(
            "Vacation",
            "2026-03-10T07:00:00Z",
            "2026-03-11T07:00:00Z",
            "OOF",
        )
    },
    appt(
        "Coffee",
        "2026-03-09T18:00:00Z",
        "2026-03-09T18:30:00Z",
        "Free",
    ),
];

const BOB_CALENDAR: &[Appt] = &[
    appt(
        "Bob 1:1",
        "2026-03-09T17:00:00Z",
        "2026-03-09T18:00:00Z",
        "Busy",
    ),
    appt(
        "Bob review",
        "2026-03-09T17:30:00Z",
        "2026-03-09T19:00:00Z",
        "Tentative",
    ),
];

async fn seeded() -> Env {
    let e = env().await;
    let body = e.call(&create(ALICE_CALENDAR)).await;
    assert_eq!(
        common::codes(&body),
        vec!["NoError"; ALICE_CALENDAR.len()],
        "{body}"
    );
    let body = e.call_with(&bob_token(), &create(BOB_CALENDAR)).await;
    assert_eq!(
        common::codes(&body),
        vec!["NoError"; BOB_CALENDAR.len()],
        "{body}"
    );
    e
}

fn request(tz: &str, addresses: &[&str], start: &str, end: &str, options: &str) -> String {
    let mailboxes: String = addresses
        .iter()
        .map(|a| format!("<t:MailboxData><t:Email><t:Address>{a}</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData>"))
        .collect();
    format!(
        "<m:GetUserAvailabilityRequest>{tz}<m:MailboxDataArray>{mailboxes}</m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>{start}</t:StartTime><t:EndTime>{end}</t:EndTime></t:TimeWindow>{options}</t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>"
    )
}

fn view(interval: u32, v: &str) -> String {
    format!(
        "<t:MergedFreeBusyIntervalInMinutes>{interval}</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>{v}</t:RequestedView>"
    )
}

type Answer = Vec<Result<FreeBusyView, ResponseError>>;

fn read(body: &str) -> Answer {
    parse_get_user_availability_response(body.as_bytes(), &Limits::default())
        .unwrap_or_else(|e| panic!("{e}: {body}"))
}

async fn ask(e: &Env, op: &str) -> Answer {
    read(&e.call(op).await)
}

/// A merged stream of `n` intervals, free but for `(first, last, digit)` runs.
fn stream(n: usize, runs: &[(usize, usize, char)]) -> String {
    let mut s = vec!['0'; n];
    for (a, b, c) in runs {
        for x in &mut s[*a..=*b] {
            *x = *c;
        }
    }
    s.into_iter().collect()
}

#[tokio::test]
async fn two_calendars_in_pacific_time_across_the_change_to_daylight_time() {
    let e = seeded().await;
    // Saturday 00:00 PST to Wednesday 00:00 PDT: 95 hours, the day clocks go forward included
    let answer = ask(
        &e,
        &request(
            PACIFIC,
            &[
                ALICE,
                "nobody@contoso.example",
                BOB,
                "stranger@fabrikam.example",
            ],
            "2026-03-07T00:00:00",
            "2026-03-11T00:00:00",
            &view(60, "DetailedMerged"),
        ),
    )
    .await;
    assert_eq!(answer.len(), 4, "one per mailbox, in order");

    // Alice's own calendar: every appointment with its details, on the Pacific wall clock
    let alice = answer[0].as_ref().unwrap();
    assert_eq!(alice.view_type, FreeBusyViewType::DetailedMerged);
    // 08:00 UTC is interval 0: the remote month until Sunday 00:00 PST (interval 23), planning at
    // 09:00-11:00 PST; Monday 09:00 PDT (interval 56) tentative under the OOF half hour, the
    // private dentist at 13:00 (60), the coffee free, the all-day vacation from interval 71 on
    assert_eq!(
        alice.merged.as_deref(),
        Some(
            stream(
                95,
                &[
                    (0, 23, '4'),
                    (9, 10, '2'),
                    (56, 56, '3'),
                    (60, 60, '2'),
                    (71, 94, '3')
                ]
            )
            .as_str()
        )
    );
    let events = alice.events.as_ref().unwrap();
    let seen: Vec<_> = events
        .iter()
        .map(|ev| {
            (
                ev.details.as_ref().unwrap().subject.clone().unwrap(),
                ev.start.to_string(),
                ev.end.to_string(),
                ev.busy_type,
            )
        })
        .collect();
    let row = |s: &str, a: &str, b: &str, t| (s.to_owned(), a.to_owned(), b.to_owned(), t);
    assert_eq!(
        seen,
        vec![
            // whole, though it began a month before the window
            row(
                "Remote month",
                "2026-02-06 0:00:00.0",
                "2026-03-08 0:00:00.0",
                S::WorkingElsewhere
            ),
            row(
                "Planning",
                "2026-03-07 9:00:00.0",
                "2026-03-07 11:00:00.0",
                S::Busy
            ),
            row(
                "Maybe lunch",
                "2026-03-09 9:00:00.0",
                "2026-03-09 10:00:00.0",
                S::Tentative
            ),
            row(
                "Away",
                "2026-03-09 9:30:00.0",
                "2026-03-09 10:00:00.0",
                S::Oof
            ),
            row(
                "Coffee",
                "2026-03-09 11:00:00.0",
                "2026-03-09 11:30:00.0",
                S::Free
            ),
            row(
                "Dentist",
                "2026-03-09 13:00:00.0",
                "2026-03-09 14:00:00.0",
                S::Busy
            ),
            row(
                "Vacation",
                "2026-03-10 0:00:00.0",
                "2026-03-11 0:00:00.0",
                S::Oof
            ),
        ]
    );
    let dentist = events[5].details.as_ref().unwrap();
    assert!(dentist.is_private);
    assert_eq!(dentist.id, None, "a private appointment's id is left out");
    let planning = events[1].details.as_ref().unwrap();
    assert!(!planning.is_private && planning.id.is_some());
    assert_eq!(planning.location.as_deref(), Some("Planning room"));
    let hours = alice.working_hours.as_ref().unwrap();
    assert_eq!(
        (hours.periods[0].start_minutes, hours.periods[0].end_minutes),
        (480, 1020)
    );
    assert_eq!(hours.time_zone.bias, 0, "no mailbox time zone is kept: UTC");

    // an unknown address of an accepted domain, among known ones
    let e1 = answer[1].as_ref().unwrap_err();
    assert_eq!(e1.code, "ErrorMailRecipientNotFound", "{e1:?}");
    assert!(e1.message.contains("nobody@contoso.example"), "{e1:?}");

    // Bob's calendar as Alice sees it: times and busy types, no details
    let bob = answer[2].as_ref().unwrap();
    assert_eq!(bob.view_type, FreeBusyViewType::FreeBusyMerged);
    assert_eq!(
        bob.merged.as_deref(),
        Some(stream(95, &[(57, 57, '2'), (58, 58, '1')]).as_str())
    );
    let bob_events = bob.events.as_ref().unwrap();
    assert_eq!(bob_events.len(), 2);
    assert!(bob_events.iter().all(|ev| ev.details.is_none()));
    assert_eq!(bob_events[0].start, datetime!(2026-03-09 10:00));

    // another organization's address
    let e3 = answer[3].as_ref().unwrap_err();
    assert_eq!(e3.code, "ErrorAddressSpaceNotFound", "{e3:?}");
    assert!(e3.message.contains("fabrikam.example"), "{e3:?}");
}

#[tokio::test]
async fn merged_streams_at_several_intervals() {
    let e = seeded().await;
    let at = |interval: u32| {
        request(
            PACIFIC,
            &[ALICE, BOB],
            "2026-03-09T09:00:00",
            "2026-03-09T12:00:00",
            &view(interval, "MergedOnly"),
        )
    };
    for (interval, alice, bob) in [
        // Monday 09:00-12:00 PDT: Alice tentative 09:00-10:00 with OOF 09:30-10:00 and a free
        // coffee at 11:00; Bob busy 10:00-11:00 under a tentative 10:30-12:00
        (
            5,
            "111111333333000000000000000000000000",
            "000000000000222222222222111111111111",
        ),
        (15, "113300000000", "000022221111"),
        (30, "130000", "002211"),
        (60, "300", "021"),
        (180, "3", "2"),
        (45, "3300", "0221"),
    ] {
        let answer = ask(&e, &at(interval)).await;
        let (a, b) = (answer[0].as_ref().unwrap(), answer[1].as_ref().unwrap());
        assert_eq!(a.view_type, FreeBusyViewType::MergedOnly);
        assert_eq!(a.events, None);
        assert_eq!(a.working_hours, None);
        assert_eq!(
            (a.merged.as_deref(), b.merged.as_deref()),
            (Some(alice), Some(bob)),
            "{interval}"
        );
    }
}

#[tokio::test]
async fn times_are_on_the_requesters_clock_in_any_zone() {
    let e = seeded().await;
    // Sydney, daylight time (UTC+11): Tuesday 2026-03-10 there
    let answer = ask(
        &e,
        &request(
            SYDNEY,
            &[ALICE],
            "2026-03-10T00:00:00",
            "2026-03-11T00:00:00",
            &view(60, "Detailed"),
        ),
    )
    .await;
    let events = answer[0].as_ref().unwrap().events.clone().unwrap();
    let starts: Vec<String> = events.iter().map(|ev| ev.start.to_string()).collect();
    assert_eq!(
        starts,
        [
            "2026-03-10 3:00:00.0",
            "2026-03-10 3:30:00.0",
            "2026-03-10 5:00:00.0",
            "2026-03-10 7:00:00.0",
            "2026-03-10 18:00:00.0"
        ]
    );
    // the all-day event of Pacific Tuesday is Sydney's Tuesday evening to Wednesday evening
    assert_eq!(events[4].end, datetime!(2026-03-11 18:00));
    // the day Sydney's clocks go back (2026-04-05) is 25 hours long
    let answer = ask(
        &e,
        &request(
            SYDNEY,
            &[BOB],
            "2026-04-05T00:00:00",
            "2026-04-06T00:00:00",
            &view(60, "MergedOnly"),
        ),
    )
    .await;
    assert_eq!(
        answer[0].as_ref().unwrap().merged.as_ref().unwrap().len(),
        25
    );
    // exchangelib's form: offsets on the window, UTC as the zone
    let answer = ask(
        &e,
        &request(
            UTC,
            &[ALICE],
            "2026-03-09T17:00:00+01:00",
            "2026-03-09T18:00:00Z",
            &view(30, "FreeBusyMerged"),
        ),
    )
    .await;
    let alice = answer[0].as_ref().unwrap();
    assert_eq!(alice.merged.as_deref(), Some("1300"));
    let ev = &alice.events.as_ref().unwrap()[0];
    assert_eq!(
        (ev.start, ev.busy_type),
        (datetime!(2026-03-09 16:00), S::Tentative)
    );
    assert_eq!(
        ev.details, None,
        "FreeBusyMerged has no details, even of one's own calendar"
    );
}

#[tokio::test]
async fn details_are_the_acting_mailbox_own_only() {
    let e = seeded().await;
    let op = request(
        UTC,
        &[ALICE, BOB],
        "2026-03-09T00:00:00Z",
        "2026-03-10T00:00:00Z",
        &view(60, "Detailed"),
    );
    let as_bob = read(&e.call_with(&bob_token(), &op).await);
    let (alice, bob) = (as_bob[0].as_ref().unwrap(), as_bob[1].as_ref().unwrap());
    assert_eq!(alice.view_type, FreeBusyViewType::FreeBusy);
    assert!(
        alice
            .events
            .as_ref()
            .unwrap()
            .iter()
            .all(|ev| ev.details.is_none())
    );
    assert_eq!(alice.merged, None);
    assert_eq!(bob.view_type, FreeBusyViewType::Detailed);
    let subjects: Vec<_> = bob
        .events
        .as_ref()
        .unwrap()
        .iter()
        .map(|ev| ev.details.as_ref().unwrap().subject.clone().unwrap())
        .collect();
    assert_eq!(subjects, ["Bob 1:1", "Bob review"]);
    // the answer's text carries none of Alice's subjects or locations
    let raw = e.call_with(&bob_token(), &op).await;
    for secret in ["Dentist", "Maybe lunch", "Planning room"] {
        assert!(!raw.contains(secret), "{secret} leaked to Bob: {raw}");
    }
}

#[tokio::test]
async fn groups_mail_users_and_mailboxes_never_opened() {
    let e = seeded().await;
    e.cmdlet(
        "New-DistributionGroup",
        json!({"Name": "Team", "PrimarySmtpAddress": "team@contoso.example", "Members": [ALICE, BOB]}),
    )
    .await
    .unwrap();
    e.cmdlet(
        "New-MailUser",
        json!({"Name": "Partner", "ExternalEmailAddress": "SMTP:partner@fabrikam.example"}),
    )
    .await
    .unwrap();
    let answer = ask(
        &e,
        &request(
            PACIFIC,
            &[
                "team@contoso.example",
                "partner@fabrikam.example",
                "dave@contoso.example",
                "SMTP:BOB@CONTOSO.EXAMPLE",
            ],
            "2026-03-09T09:00:00",
            "2026-03-09T12:00:00",
            &view(30, "DetailedMerged"),
        ),
    )
    .await;
    // the group: its members merged, OOF over busy over tentative
    let team = answer[0].as_ref().unwrap();
    assert_eq!(team.view_type, FreeBusyViewType::MergedOnly);
    assert_eq!(team.merged.as_deref(), Some("132211"));
    assert_eq!(team.events, None);
    let partner = answer[1].as_ref().unwrap_err();
    assert_eq!(partner.code, "ErrorAddressSpaceNotFound", "{partner:?}");
    assert!(partner.message.contains("mail user"), "{partner:?}");
    // a mailbox that never received anything: free
    let dave = answer[2].as_ref().unwrap();
    assert_eq!(dave.merged.as_deref(), Some("000000"));
    assert_eq!(dave.events.as_deref(), Some(&[][..]));
    // any case, an SMTP: prefix
    assert_eq!(
        answer[3].as_ref().unwrap().merged.as_deref(),
        Some("002211")
    );
}

/// The request's bounds, each refused as a whole with its fault (HTTP 500).
#[tokio::test]
async fn every_bound_is_a_precise_fault() {
    let e = seeded().await;
    let token = e.alice_token();
    let day = |options: &str| {
        request(
            UTC,
            &[ALICE],
            "2026-03-09T00:00:00Z",
            "2026-03-10T00:00:00Z",
            options,
        )
    };
    let hundred: Vec<&str> = vec![ALICE; 100];
    let hundred_and_one: Vec<&str> = vec![ALICE; 101];
    let cases = [
        (
            request(UTC, &[], "2026-03-09T00:00:00Z", "2026-03-10T00:00:00Z", ""),
            "ErrorMailboxDataArrayEmpty",
            "at least one",
        ),
        (
            request(
                UTC,
                &hundred_and_one,
                "2026-03-09T00:00:00Z",
                "2026-03-10T00:00:00Z",
                "",
            ),
            "ErrorMailboxDataArrayTooBig",
            "the allowed size = 100; the actual size = 101",
        ),
        (
            request(
                UTC,
                &[ALICE],
                "2026-01-01T00:00:00Z",
                "2026-03-05T00:00:00Z",
                "",
            ),
            "ErrorTimeIntervalTooBig",
            "the allowed limit = 62 days; the actual = 63 days",
        ),
        (
            request(
                UTC,
                &[ALICE],
                "2026-03-10T00:00:00Z",
                "2026-03-09T00:00:00Z",
                "",
            ),
            "ErrorInvalidTimeInterval",
            "not after its StartTime",
        ),
        (
            day(&view(4, "FreeBusy")),
            "ErrorInvalidMergedFreeBusyInterval",
            "between 5 and 1440",
        ),
        (
            day(&view(1441, "FreeBusy")),
            "ErrorInvalidMergedFreeBusyInterval",
            "1441 minutes",
        ),
        (
            request(
                UTC,
                &[ALICE],
                "2026-03-09T00:00:00Z",
                "2026-03-09T00:20:00Z",
                "",
            ),
            "ErrorInvalidMergedFreeBusyInterval",
            "time window (20 minutes)",
        ),
        (
            day(&view(30, "None")),
            "ErrorInvalidFreeBusyViewType",
            "answers only",
        ),
        (
            day(&view(30, "FreeBusy")).replace(
                "</t:FreeBusyViewOptions>",
                "</t:FreeBusyViewOptions><t:SuggestionsViewOptions/>",
            ),
            "ErrorInvalidOperation",
            "not supported",
        ),
        (
            day(&view(30, "FreeBusy")).replace(
                "<t:Bias>0</t:Bias><t:StandardTime>",
                "<t:Bias>900</t:Bias><t:StandardTime>",
            ),
            "ErrorSchemaValidation",
            "840 minutes",
        ),
    ];
    for (op, code, says) in cases {
        let (status, body) = e.call_as(&token, &op).await;
        assert_eq!(status, 500, "{code}: {body}");
        match parse_get_user_availability_response(body.as_bytes(), &Limits::default()) {
            Err(ews_proto::EwsProtoError::SoapFault { code: c, .. }) => {
                assert_eq!(c, code, "{body}");
                assert!(body.contains(says), "{code}: {body}");
            }
            other => panic!("{code}: {other:?} {body}"),
        }
    }
    // the bounds themselves are fine: 100 mailboxes, 62 days, 5 and 1440 minutes
    let answer = ask(
        &e,
        &request(
            UTC,
            &hundred,
            "2026-01-01T00:00:00Z",
            "2026-03-04T00:00:00Z",
            &view(1440, "MergedOnly"),
        ),
    )
    .await;
    assert_eq!(answer.len(), 100);
    assert!(
        answer
            .iter()
            .all(|a| a.as_ref().unwrap().merged.as_ref().unwrap().len() == 62)
    );
    let answer = ask(&e, &day(&view(5, "MergedOnly"))).await;
    assert_eq!(
        answer[0].as_ref().unwrap().merged.as_ref().unwrap().len(),
        288
    );
}

#[tokio::test]
async fn the_caller_needs_user_application() {
    let e = seeded().await;
    e.remove_role("UserApplication").await;
    let op = request(
        UTC,
        &[ALICE],
        "2026-03-09T00:00:00Z",
        "2026-03-10T00:00:00Z",
        "",
    );
    let (status, body) = e.call_as(&e.alice_token(), &op).await;
    assert_eq!(status, 500, "{body}");
    assert!(
        body.contains("ErrorAccessDenied") && body.contains("UserApplication"),
        "{body}"
    );
}

#[tokio::test]
async fn server_time_zones_answer_what_exchangelib_asks() {
    let e = env().await;
    let body = e
        .call("<m:GetServerTimeZones ReturnFullTimeZoneData=\"true\"><m:Ids><t:Id>W. Europe Standard Time</t:Id></m:Ids></m:GetServerTimeZones>")
        .await;
    assert_eq!(common::codes(&body), ["NoError"], "{body}");
    assert!(
        body.contains("<t:TimeZoneDefinition Id=\"W. Europe Standard Time\""),
        "{body}"
    );
    assert!(
        body.contains("<t:Period Bias=\"-PT2H\" Name=\"Daylight\""),
        "{body}"
    );
    let body = e
        .call(
            "<m:GetServerTimeZones><m:Ids><t:Id>Nowhere Time</t:Id></m:Ids></m:GetServerTimeZones>",
        )
        .await;
    assert_eq!(common::codes(&body), ["ErrorTimeZone"], "{body}");
}

/// Outlook's working hours stream (MS-OXOCFG) for US Pacific time, 07:00-15:30, Tuesday to
/// Saturday.
const OUTLOOK_PACIFIC: &str = r#"<?xml version="1.0"?><Root xmlns="WorkingHours.xsd"><WorkHoursVersion1><TimeZone><Bias>480</Bias><Standard><Bias>0</Bias><ChangeDate><Time>02:00:00</Time><Date>0000/11/01</Date><DayOfWeek>0</DayOfWeek></ChangeDate></Standard><DaylightSavings><Bias>-60</Bias><ChangeDate><Time>02:00:00</Time><Date>0000/03/02</Date><DayOfWeek>0</DayOfWeek></ChangeDate></DaylightSavings><Name>Pacific Standard Time</Name></TimeZone><TimeSlot><Start>07:00:00</Start><End>15:30:00</End></TimeSlot><WorkDays>Tuesday Wednesday Thursday Friday Saturday</WorkDays></WorkHoursVersion1></Root>"#;

fn user_configuration(op: &str, xml: &str) -> String {
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(xml);
    format!(
        r#"<m:{op}UserConfiguration><m:UserConfiguration><t:UserConfigurationName Name="WorkHours"><t:DistinguishedFolderId Id="calendar"/></t:UserConfigurationName><t:XmlData>{data}</t:XmlData></m:UserConfiguration></m:{op}UserConfiguration>"#
    )
}

fn hours_of(
    v: &Result<FreeBusyView, ResponseError>,
) -> Option<ews_proto::availability::WorkingHours> {
    v.as_ref().unwrap().working_hours.clone()
}

#[tokio::test]
async fn working_hours_are_each_mailboxs_own() {
    use ews_proto::timezone::windows_zone;
    use time::Weekday::*;
    let e = seeded().await;
    let ask_hours = |view_name: &'static str| {
        request(
            UTC,
            &[ALICE, BOB, "dave@contoso.example"],
            "2026-03-09T00:00:00Z",
            "2026-03-10T00:00:00Z",
            &view(30, view_name),
        )
    };

    // none of their own: Monday to Friday, 08:00-17:00 UTC
    let before = ask(&e, &ask_hours("Detailed")).await;
    let office = ews_proto::availability::WorkingHours::office(
        ews_proto::timezone::SerializableTimeZone::UTC,
    );
    assert_eq!(hours_of(&before[1]), Some(office.clone()));

    // the administrator sets Bob's
    let out = e
        .cmdlet(
            "Set-MailboxCalendarConfiguration",
            json!({"Identity": BOB, "WorkDays": ["Monday", "Wednesday"], "WorkingHoursStartTime": "09:30:00", "WorkingHoursEndTime": "18:00", "WorkingHoursTimeZone": "W. Europe Standard Time"}),
        )
        .await
        .unwrap();
    assert_eq!(out[0]["WorkDays"], "Monday, Wednesday");
    assert_eq!(out[0]["WorkingHoursEndTime"], "18:00:00");
    let got = e
        .cmdlet("Get-MailboxCalendarConfiguration", json!({"Identity": BOB}))
        .await
        .unwrap();
    assert_eq!(got, out);
    assert_eq!(got[0]["WorkingHoursTimeZone"], "W. Europe Standard Time");

    // Alice's Outlook writes hers through EWS, as Outlook does
    let body = e.call(&user_configuration("Create", OUTLOOK_PACIFIC)).await;
    assert_eq!(common::codes(&body), ["NoError"], "{body}");

    let answer = ask(&e, &ask_hours("Detailed")).await;
    let alice = hours_of(&answer[0]).unwrap();
    assert_eq!(
        alice.time_zone,
        windows_zone("Pacific Standard Time").unwrap().tz
    );
    assert_eq!(alice.periods.len(), 1);
    assert_eq!(
        alice.periods[0].days,
        vec![Tuesday, Wednesday, Thursday, Friday, Saturday]
    );
    assert_eq!(
        (alice.periods[0].start_minutes, alice.periods[0].end_minutes),
        (7 * 60, 15 * 60 + 30)
    );
    let bob = hours_of(&answer[1]).unwrap();
    assert_eq!(
        bob.time_zone,
        windows_zone("W. Europe Standard Time").unwrap().tz
    );
    assert_eq!(bob.periods[0].days, vec![Monday, Wednesday]);
    assert_eq!(
        (bob.periods[0].start_minutes, bob.periods[0].end_minutes),
        (9 * 60 + 30, 18 * 60)
    );
    assert_eq!(hours_of(&answer[2]), Some(office), "Dave has none");
    // and the administrator reads what Outlook wrote
    let got = e
        .cmdlet(
            "Get-MailboxCalendarConfiguration",
            json!({"Identity": ALICE}),
        )
        .await
        .unwrap();
    assert_eq!(got[0]["WorkingHoursTimeZone"], "Pacific Standard Time");
    assert_eq!(got[0]["WorkingHoursStartTime"], "07:00:00");
    assert_eq!(got[0]["WorkingHoursEndTime"], "15:30:00");

    // working hours go with the events: a merged-only view has none
    let merged = ask(&e, &ask_hours("MergedOnly")).await;
    assert_eq!(hours_of(&merged[0]), None);

    // a malformed stream: no working hours for that mailbox, the others unaffected; the
    // administrator is told what is wrong; Set writes good ones over it
    let body = e
        .call(&user_configuration(
            "Update",
            &OUTLOOK_PACIFIC.replace("<Start>07:00:00</Start>", "<Start>seven</Start>"),
        ))
        .await;
    assert_eq!(common::codes(&body), ["NoError"], "{body}");
    let answer = ask(&e, &ask_hours("Detailed")).await;
    assert_eq!(hours_of(&answer[0]), None);
    assert!(answer[0].as_ref().unwrap().events.is_some());
    assert!(hours_of(&answer[1]).is_some());
    let err = e
        .cmdlet(
            "Get-MailboxCalendarConfiguration",
            json!({"Identity": ALICE}),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("malformed")
            && err.contains("Start")
            && err.contains("Set-MailboxCalendarConfiguration"),
        "{err}"
    );
    e.cmdlet(
        "Set-MailboxCalendarConfiguration",
        json!({"Identity": ALICE, "WorkingHoursStartTime": "10:00:00"}),
    )
    .await
    .unwrap();
    let answer = ask(&e, &ask_hours("Detailed")).await;
    let alice = hours_of(&answer[0]).unwrap();
    assert_eq!(alice.periods[0].start_minutes, 10 * 60);
    assert_eq!(
        alice.time_zone,
        ews_proto::timezone::SerializableTimeZone::UTC
    );
}

#[tokio::test]
async fn bad_working_hours_are_refused_and_change_nothing() {
    let e = env().await;
    let set = |extra: serde_json::Value| {
        let mut p = json!({"Identity": BOB});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let cases: &[(serde_json::Value, &str)] = &[
        (
            json!({"WorkingHoursTimeZone": "Mars Standard Time"}),
            "Windows time zone id",
        ),
        (json!({"WorkingHoursStartTime": "9am"}), "HH:MM:SS"),
        (
            json!({"WorkingHoursStartTime": "18:00:00"}),
            "end (17:00:00) before they start (18:00:00)",
        ),
        (
            json!({"WorkingHoursEndTime": "07:00:00"}),
            "after -WorkingHoursStartTime",
        ),
        (
            json!({"WorkDays": ["Monday", "Caturday"]}),
            "\"Caturday\" is not a day",
        ),
    ];
    for (params, says) in cases {
        let err = e
            .cmdlet("Set-MailboxCalendarConfiguration", set(params.clone()))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(says), "{params}: {err}");
    }
    let got = e
        .cmdlet("Get-MailboxCalendarConfiguration", json!({"Identity": BOB}))
        .await
        .unwrap();
    assert_eq!(got[0]["WorkDays"], "Weekdays");
    assert_eq!(got[0]["WorkingHoursStartTime"], "08:00:00");
    assert_eq!(got[0]["WorkingHoursTimeZone"], "UTC");
    // nothing was written: the mailbox still has no configuration of its own
    let body = e
        .call_with(
            &bob_token(),
            r#"<m:GetUserConfiguration><m:UserConfigurationName Name="WorkHours"><t:DistinguishedFolderId Id="calendar"/></m:UserConfigurationName><m:UserConfigurationProperties>All</m:UserConfigurationProperties></m:GetUserConfiguration>"#,
        )
        .await;
    assert_eq!(common::codes(&body), ["ErrorItemNotFound"], "{body}");
    let err = e
        .cmdlet(
            "Get-MailboxCalendarConfiguration",
            json!({"Identity": "nobody@contoso.example"}),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nobody@contoso.example"), "{err}");
}
