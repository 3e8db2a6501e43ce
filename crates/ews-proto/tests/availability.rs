//! insta snapshots of the free/busy answers (GetUserAvailability) and of GetServerTimeZones, as
//! the exact bytes with a newline between `><`, and the requests exchangelib and the EWS Managed
//! API send, parsed.

use ews_proto::availability::{
    AvailabilityError, CalendarEvent, CalendarEventDetails, FreeBusyView, FreeBusyViewType,
    GetServerTimeZones, WorkingHours, get_server_time_zones_response,
    get_user_availability_response, parse_get_user_availability_response,
};
use ews_proto::request::{Operation, parse_request};
use ews_proto::response::{ResponseError, error_response};
use ews_proto::timezone::{SerializableTimeZone, windows_zone};
use ews_proto::types::LegacyFreeBusyStatus;
use ews_proto::xml::Limits;
use insta::assert_snapshot;
use time::macros::datetime;

fn lines(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.replace("><", ">\n<"),
        Err(e) => panic!("writer produced invalid UTF-8: {e}"),
    }
}

fn pacific() -> SerializableTimeZone {
    windows_zone("Pacific Standard Time").unwrap().tz
}

#[test]
fn free_busy_of_own_other_group_and_unknown() {
    let own = FreeBusyView {
        view_type: FreeBusyViewType::DetailedMerged,
        merged: Some("000002220220000000000000".into()),
        events: Some(vec![
            CalendarEvent {
                start: datetime!(2026-07-15 05:00),
                end: datetime!(2026-07-15 08:00),
                busy_type: LegacyFreeBusyStatus::Busy,
                details: Some(CalendarEventDetails {
                    id: Some("AAMkAGI2TG93AAA=".into()),
                    subject: Some("Budget review".into()),
                    location: Some("Room 1 & 2".into()),
                    ..CalendarEventDetails::default()
                }),
            },
            CalendarEvent {
                start: datetime!(2026-07-15 09:00),
                end: datetime!(2026-07-15 11:00),
                busy_type: LegacyFreeBusyStatus::Busy,
                details: Some(CalendarEventDetails {
                    id: None,
                    subject: Some("Dentist".into()),
                    location: None,
                    is_private: true,
                    ..CalendarEventDetails::default()
                }),
            },
        ]),
        working_hours: Some(WorkingHours::office(SerializableTimeZone::UTC)),
    };
    let other = FreeBusyView {
        view_type: FreeBusyViewType::FreeBusyMerged,
        merged: Some("000000001100000000000000".into()),
        events: Some(vec![CalendarEvent {
            start: datetime!(2026-07-15 08:00),
            end: datetime!(2026-07-15 10:00),
            busy_type: LegacyFreeBusyStatus::Tentative,
            details: None,
        }]),
        working_hours: Some(WorkingHours::office(SerializableTimeZone::UTC)),
    };
    let group = FreeBusyView {
        view_type: FreeBusyViewType::MergedOnly,
        merged: Some("000002221120000000000000".into()),
        events: None,
        working_hours: None,
    };
    let out = get_user_availability_response(&[
        Ok(own),
        Ok(other),
        Err(ResponseError::new(
            "ErrorMailRecipientNotFound",
            "Unable to resolve e-mail address nobody@contoso.example to an Active Directory object.",
        )),
        Ok(group),
    ]);
    assert_snapshot!(lines(&out));
    // and read back by this crate's reader
    let back = parse_get_user_availability_response(&out, &Limits::default()).unwrap();
    assert_eq!(back.len(), 4);
    assert_eq!(
        back[2].as_ref().unwrap_err().code,
        "ErrorMailRecipientNotFound"
    );
}

#[test]
fn free_busy_view_without_events() {
    let empty = FreeBusyView {
        view_type: FreeBusyViewType::FreeBusy,
        merged: None,
        events: Some(vec![]),
        working_hours: Some(WorkingHours::office(pacific())),
    };
    assert_snapshot!(lines(&get_user_availability_response(&[Ok(empty)])));
}

#[test]
fn refusals_of_the_whole_request_are_faults() {
    let e = AvailabilityError::TimeIntervalTooBig {
        actual: "63".into(),
        limit: 62,
    };
    assert_snapshot!("availability_fault", lines(&e.fault()));
    // an error found before the operation ran (impersonation refused, ...) is a fault too
    let early = error_response(
        "GetUserAvailabilityRequest",
        &ResponseError::new("ErrorImpersonateUserDenied", "not yours"),
    );
    let early = std::str::from_utf8(&early).unwrap();
    assert!(early.contains("<s:Fault>"), "{early}");
    assert!(
        early.contains("<e:ResponseCode xmlns:e=\"http://schemas.microsoft.com/exchange/services/2006/errors\">ErrorImpersonateUserDenied</e:ResponseCode>"),
        "{early}"
    );
}

#[test]
fn server_time_zones_full_and_brief() {
    let full = GetServerTimeZones {
        ids: Some(vec![
            "Pacific Standard Time".into(),
            "UTC".into(),
            "India Standard Time".into(),
        ]),
        full: true,
    };
    assert_snapshot!(
        "server_time_zones_full",
        lines(&get_server_time_zones_response(&full))
    );
    let brief = GetServerTimeZones {
        ids: Some(vec!["Romance Standard Time".into()]),
        full: false,
    };
    assert_snapshot!(
        "server_time_zones_brief",
        lines(&get_server_time_zones_response(&brief))
    );
    let unknown = GetServerTimeZones {
        ids: Some(vec!["Atlantis Standard Time".into()]),
        full: true,
    };
    assert_snapshot!(
        "server_time_zones_unknown",
        lines(&get_server_time_zones_response(&unknown))
    );
}

fn request(body: &str) -> Operation {
    let env = format!(
        r#"<?xml version='1.0' encoding='utf-8'?>
<s:Envelope xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2016"/><t:TimeZoneContext><t:TimeZoneDefinition Id="Romance Standard Time"/></t:TimeZoneContext></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    );
    parse_request(env.as_bytes(), &Limits::default())
        .unwrap()
        .operation
}

/// What exchangelib 5.6 sends for `get_free_busy_info` in Europe/Copenhagen: the zone built from
/// GetServerTimeZones' Romance Standard Time, offsets on the window.
#[test]
fn exchangelib_request_is_read_in_its_zone() {
    let Operation::GetUserAvailability(g) = request(
        "<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>-60</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>03:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone><m:MailboxDataArray><t:MailboxData><t:Email><t:Address>alice@contoso.example</t:Address></t:Email><t:AttendeeType>Organizer</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData><t:MailboxData><t:Email><t:Address>bob@contoso.example</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData></m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>2026-03-28T00:00:00+01:00</t:StartTime><t:EndTime>2026-03-30T00:00:00+02:00</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>30</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>DetailedMerged</t:RequestedView></t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>",
    ) else {
        panic!("not GetUserAvailability")
    };
    assert_eq!(
        g.time_zone,
        windows_zone("Romance Standard Time").unwrap().tz
    );
    let q = g.query().unwrap();
    // the day clocks went forward is 23 hours long: 47 hours, 94 intervals
    assert_eq!(q.end - q.start, time::Duration::hours(47));
    assert_eq!(q.slots(), 94);
    // the answer's times are on that zone's wall clock
    assert_eq!(
        g.time_zone.to_local(datetime!(2026-03-29 01:30 UTC)),
        datetime!(2026-03-29 03:30)
    );
}
