//! Recurring series over EWS against the real server: weekly and monthly series created with
//! their time zones, the series read back (rule, first and last occurrence, zone), calendar
//! views that merge occurrences with single items and stop at `MaxEntriesReturned`, occurrences
//! read and deleted by their own ids and by `t:OccurrenceItemId`, free/busy of each occurrence,
//! and the refusals (a rule without occurrences, an unknown zone, an index past the end, a
//! deleted occurrence, a change to one occurrence), each writing nothing.

mod common;

use common::{alice_token, codes, env, ids};

const PACIFIC: &str = r#"<t:StartTimeZone Id="Pacific Standard Time"/>"#;

fn series(subject: &str, start: &str, end: &str, recurrence: &str, zone: &str) -> String {
    format!(
        r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>{subject}</t:Subject><t:Start>{start}</t:Start><t:End>{end}</t:End><t:Recurrence>{recurrence}</t:Recurrence>{zone}</t:CalendarItem></m:Items></m:CreateItem>"#
    )
}

fn single(subject: &str, start: &str, end: &str) -> String {
    format!(
        r#"<m:CreateItem SendMeetingInvitations="SendToNone"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>{subject}</t:Subject><t:Start>{start}</t:Start><t:End>{end}</t:End></t:CalendarItem></m:Items></m:CreateItem>"#
    )
}

fn view(from: &str, to: &str, max: Option<u32>) -> String {
    let max = max.map_or(String::new(), |m| format!(r#" MaxEntriesReturned="{m}""#));
    format!(
        r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="calendar:Start"/><t:FieldURI FieldURI="calendar:CalendarItemType"/></t:AdditionalProperties></m:ItemShape><m:CalendarView{max} StartDate="{from}" EndDate="{to}"/><m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>"#
    )
}

fn get_all(id_element: &str) -> String {
    format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds>{id_element}</m:ItemIds></m:GetItem>"#
    )
}

/// (subject, start, type) of each item of a view, in order.
fn listed(body: &str) -> Vec<(String, String, String)> {
    body.split("<t:CalendarItem>")
        .skip(1)
        .map(|s| {
            let field = |n: &str| {
                s.split(&format!("<t:{n}>"))
                    .nth(1)
                    .and_then(|v| v.split('<').next())
                    .unwrap_or_default()
                    .to_owned()
            };
            (field("Subject"), field("Start"), field("CalendarItemType"))
        })
        .collect()
}

const WEEKLY: &str = "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday Thursday</t:DaysOfWeek></t:WeeklyRecurrence><t:NumberedRecurrence><t:StartDate>2030-03-04</t:StartDate><t:NumberOfOccurrences>6</t:NumberOfOccurrences></t:NumberedRecurrence>";

#[tokio::test]
async fn a_weekly_series_is_one_item_that_views_expand() {
    let e = env().await;
    let t = alice_token();
    // Mondays and Thursdays 09:00-09:30 Pacific, six times from Monday 2030-03-04 (daylight
    // saving time begins Sunday 2030-03-10: 17:00 UTC before, 16:00 after)
    let created = e
        .call_with(
            &t,
            &series(
                "Sync",
                "2030-03-04T17:00:00Z",
                "2030-03-04T17:30:00Z",
                WEEKLY,
                PACIFIC,
            ),
        )
        .await;
    assert_eq!(codes(&created), ["NoError"], "{created}");
    let id = ids(&created).remove(0).0;
    e.call_with(
        &t,
        &single("Lunch", "2030-03-07T20:00:00Z", "2030-03-07T21:00:00Z"),
    )
    .await;

    // the series as stored
    let master = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{id}"/>"#)))
        .await;
    for part in [
        "<t:CalendarItemType>RecurringMaster</t:CalendarItemType>",
        "<t:IsRecurring>true</t:IsRecurring>",
        "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday Thursday</t:DaysOfWeek><t:FirstDayOfWeek>Sunday</t:FirstDayOfWeek></t:WeeklyRecurrence>",
        "<t:NumberedRecurrence><t:StartDate>2030-03-04</t:StartDate><t:NumberOfOccurrences>6</t:NumberOfOccurrences></t:NumberedRecurrence>",
        "<t:Start>2030-03-04T17:00:00Z</t:Start>",
        r#"<t:StartTimeZone Id="Pacific Standard Time""#,
    ] {
        assert!(master.contains(part), "{part} in {master}");
    }
    let first = master.split("<t:FirstOccurrence>").nth(1).unwrap();
    assert!(first.starts_with("<t:ItemId "), "{master}");
    assert!(first.contains("<t:Start>2030-03-04T17:00:00Z</t:Start>"));
    let last = master.split("<t:LastOccurrence>").nth(1).unwrap();
    assert!(
        last.contains("<t:Start>2030-03-21T16:00:00Z</t:Start>"),
        "{master}"
    );
    // FindItem without a view: the one series
    let plain = e
        .call_with(
            &t,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/><t:FieldURI FieldURI="calendar:CalendarItemType"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="calendar"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    assert_eq!(plain.matches("RecurringMaster").count(), 1, "{plain}");

    // a view: the occurrences in it, merged with the single item by start
    let body = e
        .call_with(
            &t,
            &view("2030-03-01T00:00:00Z", "2030-03-15T00:00:00Z", None),
        )
        .await;
    let want = |s: &str, at: &str, kind: &str| (s.to_owned(), at.to_owned(), kind.to_owned());
    assert_eq!(
        listed(&body),
        [
            want("Sync", "2030-03-04T17:00:00Z", "Occurrence"),
            want("Sync", "2030-03-07T17:00:00Z", "Occurrence"),
            want("Lunch", "2030-03-07T20:00:00Z", "Single"),
            want("Sync", "2030-03-11T16:00:00Z", "Occurrence"),
            want("Sync", "2030-03-14T16:00:00Z", "Occurrence"),
        ],
        "{body}"
    );
    assert!(body.contains(r#"TotalItemsInView="5""#), "{body}");
    assert!(body.contains(r#"IncludesLastItemInRange="true""#), "{body}");
    // MaxEntriesReturned stops it, and says there is more
    let body = e
        .call_with(
            &t,
            &view("2030-03-01T00:00:00Z", "2030-03-15T00:00:00Z", Some(2)),
        )
        .await;
    assert_eq!(listed(&body).len(), 2, "{body}");
    assert!(
        body.contains(r#"IncludesLastItemInRange="false""#),
        "{body}"
    );
    // a view after the series' end: nothing of it
    let after = e
        .call_with(
            &t,
            &view("2030-03-22T00:00:00Z", "2030-04-30T00:00:00Z", None),
        )
        .await;
    assert!(listed(&after).is_empty(), "{after}");

    // an occurrence read by the id the view gave it, and by OccurrenceItemId
    let body = e
        .call_with(
            &t,
            &view("2030-03-10T00:00:00Z", "2030-03-12T00:00:00Z", None),
        )
        .await;
    let occurrence = ids(&body).remove(0).0;
    assert_ne!(occurrence, id);
    let by_id = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{occurrence}"/>"#)))
        .await;
    let by_index = e
        .call_with(
            &t,
            &get_all(&format!(
                r#"<t:OccurrenceItemId RecurringMasterId="{id}" InstanceIndex="3"/>"#
            )),
        )
        .await;
    for b in [&by_id, &by_index] {
        assert_eq!(codes(b), ["NoError"], "{b}");
        assert!(
            b.contains("<t:CalendarItemType>Occurrence</t:CalendarItemType>"),
            "{b}"
        );
        assert!(b.contains("<t:Start>2030-03-11T16:00:00Z</t:Start>"), "{b}");
        assert!(
            b.contains("<t:OriginalStart>2030-03-11T16:00:00Z</t:OriginalStart>"),
            "{b}"
        );
        assert!(!b.contains("<t:Recurrence>"), "{b}");
        assert_eq!(ids(b)[0].0, occurrence);
    }
    // the series by RecurringMasterItemId
    let back = e
        .call_with(
            &t,
            &get_all(&format!(
                r#"<t:RecurringMasterItemId OccurrenceId="{occurrence}"/>"#
            )),
        )
        .await;
    assert!(back.contains("RecurringMaster"), "{back}");
    assert_eq!(ids(&back)[0].0, id);

    // free/busy: each occurrence in the window
    let fb = e
        .call_with(
            &t,
            r#"<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>4</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone><m:MailboxDataArray><t:MailboxData><t:Email><t:Address>alice@contoso.example</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData></m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>2030-03-10T00:00:00</t:StartTime><t:EndTime>2030-03-15T00:00:00</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>30</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>Detailed</t:RequestedView></t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>"#,
        )
        .await;
    let starts: Vec<&str> = fb
        .split("<t:StartTime>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .collect();
    assert_eq!(
        starts,
        ["2030-03-11T16:00:00", "2030-03-14T16:00:00"],
        "one event per occurrence: {fb}"
    );
    assert_eq!(
        fb.matches("<t:IsRecurring>true</t:IsRecurring>").count(),
        2,
        "{fb}"
    );

    // deleting an occurrence: the view loses it, the series lists it, the others keep their
    // indices
    let deleted = e
        .call_with(
            &t,
            &format!(
                r#"<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToNone"><m:ItemIds><t:ItemId Id="{occurrence}"/></m:ItemIds></m:DeleteItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&deleted), ["NoError"], "{deleted}");
    let body = e
        .call_with(
            &t,
            &view("2030-03-10T00:00:00Z", "2030-03-15T00:00:00Z", None),
        )
        .await;
    assert_eq!(
        listed(&body)
            .into_iter()
            .map(|(_, at, _)| at)
            .collect::<Vec<_>>(),
        ["2030-03-14T16:00:00Z"],
        "{body}"
    );
    let master = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{id}"/>"#)))
        .await;
    assert!(
        master.contains("<t:DeletedOccurrences><t:DeletedOccurrence><t:Start>2030-03-11T16:00:00Z</t:Start></t:DeletedOccurrence></t:DeletedOccurrences>"),
        "{master}"
    );
    let fourth = e
        .call_with(
            &t,
            &get_all(&format!(
                r#"<t:OccurrenceItemId RecurringMasterId="{id}" InstanceIndex="4"/>"#
            )),
        )
        .await;
    assert!(
        fourth.contains("<t:Start>2030-03-14T16:00:00Z</t:Start>"),
        "{fourth}"
    );

    // refusals, each per item and writing nothing
    let refused = e
        .call_with(
            &t,
            &format!(
                r#"<m:GetItem><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ItemIds><t:OccurrenceItemId RecurringMasterId="{id}" InstanceIndex="3"/><t:OccurrenceItemId RecurringMasterId="{id}" InstanceIndex="7"/><t:RecurringMasterItemId OccurrenceId="{id}"/></m:ItemIds></m:GetItem>"#
            ),
        )
        .await;
    assert_eq!(
        codes(&refused),
        [
            "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
            "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
            "ErrorCalendarCannotUseIdForRecurringMasterId"
        ],
        "{refused}"
    );
    let change = e
        .call_with(
            &t,
            &format!(
                r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange><t:OccurrenceItemId RecurringMasterId="{id}" InstanceIndex="4"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="item:Subject"/><t:CalendarItem><t:Subject>Moved</t:Subject></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
            ),
        )
        .await;
    // one occurrence's subject changes on its own, the series' does not
    assert_eq!(codes(&change), ["NoError"], "{change}");
    let again = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{id}"/>"#)))
        .await;
    assert!(again.contains("<t:Subject>Sync</t:Subject>"), "{again}");
    let fourth = e
        .call_with(
            &t,
            &get_all(&format!(
                r#"<t:OccurrenceItemId RecurringMasterId="{id}" InstanceIndex="4"/>"#
            )),
        )
        .await;
    assert!(fourth.contains("<t:Subject>Moved</t:Subject>"), "{fourth}");
    assert!(
        fourth.contains("<t:CalendarItemType>Exception</t:CalendarItemType>"),
        "{fourth}"
    );
}

#[tokio::test]
async fn bad_series_are_refused_and_nothing_is_saved() {
    let e = env().await;
    let t = alice_token();
    let cases = [
        // interval 0
        (
            "<t:DailyRecurrence><t:Interval>0</t:Interval></t:DailyRecurrence><t:NoEndRecurrence><t:StartDate>2030-03-04</t:StartDate></t:NoEndRecurrence>",
            PACIFIC,
            "ErrorCalendarInvalidRecurrence",
        ),
        // a weekly series on no day
        (
            "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek></t:DaysOfWeek></t:WeeklyRecurrence><t:NoEndRecurrence><t:StartDate>2030-03-04</t:StartDate></t:NoEndRecurrence>",
            PACIFIC,
            "ErrorCalendarInvalidDayForWeeklyRecurrence",
        ),
        // an end before its start
        (
            "<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:EndDateRecurrence><t:StartDate>2030-03-04</t:StartDate><t:EndDate>2030-03-01</t:EndDate></t:EndDateRecurrence>",
            PACIFIC,
            "ErrorCalendarInvalidRecurrence",
        ),
        // a zone this server does not know, without its rules
        (
            "<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:NoEndRecurrence><t:StartDate>2030-03-04</t:StartDate></t:NoEndRecurrence>",
            r#"<t:StartTimeZone Id="Mars Standard Time"/>"#,
            "ErrorCalendarInvalidTimeZone",
        ),
    ];
    for (rule, zone, code) in cases {
        let body = e
            .call_with(
                &t,
                &series(
                    "Bad",
                    "2030-03-04T17:00:00Z",
                    "2030-03-04T17:30:00Z",
                    rule,
                    zone,
                ),
            )
            .await;
        assert_eq!(codes(&body), [code], "{body}");
    }
    let body = e
        .call_with(
            &t,
            &view("2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z", None),
        )
        .await;
    assert!(listed(&body).is_empty(), "{body}");
}

#[tokio::test]
async fn a_monthly_series_without_end_is_found_years_later() {
    let e = env().await;
    let t = alice_token();
    // the last weekday of each month, 15:00 UTC, from January 2030, no end
    let rule = "<t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Weekday</t:DaysOfWeek><t:DayOfWeekIndex>Last</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence><t:NoEndRecurrence><t:StartDate>2030-01-01</t:StartDate></t:NoEndRecurrence>";
    let created = e
        .call_with(
            &t,
            &series(
                "Close",
                "2030-01-31T15:00:00Z",
                "2030-01-31T16:00:00Z",
                rule,
                "",
            ),
        )
        .await;
    assert_eq!(codes(&created), ["NoError"], "{created}");
    let master = e
        .call_with(
            &t,
            &get_all(&format!(r#"<t:ItemId Id="{}"/>"#, ids(&created)[0].0)),
        )
        .await;
    assert!(!master.contains("<t:LastOccurrence>"), "no end: {master}");
    assert!(master.contains(r#"<t:StartTimeZone Id="UTC""#), "{master}");
    // 2042: Friday 31 January, Friday 28 February (the 28th is a Friday, the last weekday)
    let body = e
        .call_with(
            &t,
            &view("2042-01-01T00:00:00Z", "2042-03-01T00:00:00Z", None),
        )
        .await;
    let starts: Vec<String> = listed(&body).into_iter().map(|(_, s, _)| s).collect();
    assert_eq!(
        starts,
        ["2042-01-31T15:00:00Z", "2042-02-28T15:00:00Z"],
        "{body}"
    );
}

#[tokio::test]
async fn a_series_survives_bulk_transfer() {
    let e = env().await;
    let t = alice_token();
    let created = e
        .call_with(
            &t,
            &series(
                "Sync",
                "2030-03-04T17:00:00Z",
                "2030-03-04T17:30:00Z",
                WEEKLY,
                PACIFIC,
            ),
        )
        .await;
    let id = ids(&created).remove(0).0;
    let master = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{id}"/>"#)))
        .await;
    let calendar = master
        .split(r#"<t:ParentFolderId Id=""#)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned();
    let copy = e.export_and_upload(&t, &id, &calendar).await;
    let again = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{copy}"/>"#)))
        .await;
    for part in [
        "<t:CalendarItemType>RecurringMaster</t:CalendarItemType>",
        "<t:NumberOfOccurrences>6</t:NumberOfOccurrences>",
        r#"<t:StartTimeZone Id="Pacific Standard Time""#,
    ] {
        assert!(again.contains(part), "{part} in {again}");
    }
    // both series expand: each occurrence twice
    let body = e
        .call_with(
            &t,
            &view("2030-03-10T00:00:00Z", "2030-03-12T00:00:00Z", None),
        )
        .await;
    assert_eq!(listed(&body).len(), 2, "{body}");
}

#[tokio::test]
async fn a_moved_series_moves_every_occurrence() {
    let e = env().await;
    let t = alice_token();
    let created = e
        .call_with(
            &t,
            &series(
                "Sync",
                "2030-03-04T17:00:00Z",
                "2030-03-04T17:30:00Z",
                WEEKLY,
                PACIFIC,
            ),
        )
        .await;
    let (id, ck) = ids(&created).remove(0);
    // half an hour later: 09:30-10:15 Pacific
    let moved = e
        .call_with(
            &t,
            &format!(
                r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="calendar:Start"/><t:CalendarItem><t:Start>2030-03-04T17:30:00Z</t:Start></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:End"/><t:CalendarItem><t:End>2030-03-04T18:15:00Z</t:End></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&moved), ["NoError"], "{moved}");
    let body = e
        .call_with(
            &t,
            &view("2030-03-18T00:00:00Z", "2030-03-22T00:00:00Z", None),
        )
        .await;
    let starts: Vec<String> = listed(&body).into_iter().map(|(_, s, _)| s).collect();
    assert_eq!(
        starts,
        ["2030-03-18T16:30:00Z", "2030-03-21T16:30:00Z"],
        "{body}"
    );
    let master = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{id}"/>"#)))
        .await;
    let last = master.split("<t:LastOccurrence>").nth(1).unwrap();
    assert!(
        last.contains("<t:End>2030-03-21T17:15:00Z</t:End>"),
        "{master}"
    );
    // the last occurrence's new end reaches a view that only it overlaps
    let body = e
        .call_with(
            &t,
            &view("2030-03-21T17:00:00Z", "2030-03-21T17:10:00Z", None),
        )
        .await;
    assert_eq!(listed(&body).len(), 1, "{body}");
}

#[tokio::test]
async fn a_view_of_many_series_keeps_the_earliest_page() {
    let e = env().await;
    let t = alice_token();
    // twelve daily series, the n-th at 08:00 + n minutes UTC, from 2030-03-01, no end
    let daily = "<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:NoEndRecurrence><t:StartDate>2030-03-01</t:StartDate></t:NoEndRecurrence>";
    for n in (0..12).rev() {
        let body = e
            .call_with(
                &t,
                &series(
                    &format!("S{n:02}"),
                    &format!("2030-03-01T08:{n:02}:00Z"),
                    &format!("2030-03-01T08:{:02}:00Z", n + 30),
                    daily,
                    "",
                ),
            )
            .await;
        assert_eq!(codes(&body), ["NoError"], "{body}");
    }
    // a month of them (360 occurrences), five per page: the first five of the first day
    let body = e
        .call_with(
            &t,
            &view("2030-04-01T00:00:00Z", "2030-05-01T00:00:00Z", Some(5)),
        )
        .await;
    let got: Vec<(String, String)> = listed(&body)
        .into_iter()
        .map(|(s, at, _)| (s, at))
        .collect();
    let want: Vec<(String, String)> = (0..5)
        .map(|n| (format!("S{n:02}"), format!("2030-04-01T08:{n:02}:00Z")))
        .collect();
    assert_eq!(got, want, "{body}");
    assert!(
        body.contains(r#"IncludesLastItemInRange="false""#),
        "{body}"
    );
}

fn change_occurrence(id: &str, index: u32, fields: &[(&str, &str)]) -> String {
    let updates: String = fields
        .iter()
        .map(|(uri, value)| {
            let name = uri.split(':').nth(1).unwrap_or_default();
            format!(r#"<t:SetItemField><t:FieldURI FieldURI="{uri}"/><t:CalendarItem><t:{name}>{value}</t:{name}></t:CalendarItem></t:SetItemField>"#)
        })
        .collect();
    format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange><t:OccurrenceItemId RecurringMasterId="{id}" InstanceIndex="{index}"/><t:Updates>{updates}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    )
}

#[tokio::test]
async fn one_occurrence_changes_on_its_own() {
    let e = env().await;
    let t = alice_token();
    // Mondays and Thursdays 09:00-09:30 Pacific: 4, 7, 11, 14, 18, 21 March 2030
    let created = e
        .call_with(
            &t,
            &series(
                "Sync",
                "2030-03-04T17:00:00Z",
                "2030-03-04T17:30:00Z",
                WEEKLY,
                PACIFIC,
            ),
        )
        .await;
    let id = ids(&created).remove(0).0;
    // the 14th moved to Friday the 15th, 18:00-18:45 UTC, with its own subject
    let moved = e
        .call_with(
            &t,
            &change_occurrence(
                &id,
                4,
                &[
                    ("item:Subject", "Sync (moved)"),
                    ("calendar:Start", "2030-03-15T18:00:00Z"),
                    ("calendar:End", "2030-03-15T18:45:00Z"),
                ],
            ),
        )
        .await;
    assert_eq!(codes(&moved), ["NoError"], "{moved}");
    let occurrence = mailbox::occurrence_id(&id, 4).unwrap();
    assert_eq!(ids(&moved)[0].0, occurrence, "{moved}");
    let want = |s: &str, at: &str, kind: &str| (s.to_owned(), at.to_owned(), kind.to_owned());
    let body = e
        .call_with(
            &t,
            &view("2030-03-14T00:00:00Z", "2030-03-17T00:00:00Z", None),
        )
        .await;
    assert_eq!(
        listed(&body),
        [want("Sync (moved)", "2030-03-15T18:00:00Z", "Exception")],
        "{body}"
    );
    // a view its new time alone overlaps finds it
    let body = e
        .call_with(
            &t,
            &view("2030-03-15T18:30:00Z", "2030-03-15T19:00:00Z", None),
        )
        .await;
    assert_eq!(listed(&body).len(), 1, "{body}");
    // the series lists it, with where it was
    let master = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{id}"/>"#)))
        .await;
    let modified = master
        .split("<t:ModifiedOccurrences>")
        .nth(1)
        .unwrap_or_default();
    assert!(
        modified.starts_with(&format!(r#"<t:Occurrence><t:ItemId Id="{occurrence}""#)),
        "{master}"
    );
    assert!(
        modified.contains("<t:Start>2030-03-15T18:00:00Z</t:Start><t:End>2030-03-15T18:45:00Z</t:End><t:OriginalStart>2030-03-14T16:00:00Z</t:OriginalStart>"),
        "{master}"
    );
    let read = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{occurrence}"/>"#)))
        .await;
    assert!(
        read.contains("<t:OriginalStart>2030-03-14T16:00:00Z</t:OriginalStart>"),
        "{read}"
    );
    assert!(
        read.contains("<t:Subject>Sync (moved)</t:Subject>"),
        "{read}"
    );
    // free/busy shows it where it is now, with its own subject
    let fb = e
        .call_with(
            &t,
            r#"<m:GetUserAvailabilityRequest><t:TimeZone><t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>4</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone><m:MailboxDataArray><t:MailboxData><t:Email><t:Address>alice@contoso.example</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData></m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>2030-03-14T00:00:00</t:StartTime><t:EndTime>2030-03-17T00:00:00</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>30</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>Detailed</t:RequestedView></t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>"#,
        )
        .await;
    assert!(
        fb.contains("<t:StartTime>2030-03-15T18:00:00</t:StartTime>")
            && fb.contains("<t:Subject>Sync (moved)</t:Subject>")
            && !fb.contains("<t:StartTime>2030-03-14T16:00:00</t:StartTime>"),
        "{fb}"
    );
    // the last one moved a day later: the series reaches as far
    let later = e
        .call_with(
            &t,
            &change_occurrence(
                &id,
                6,
                &[
                    ("calendar:Start", "2030-03-22T20:00:00Z"),
                    ("calendar:End", "2030-03-22T21:00:00Z"),
                ],
            ),
        )
        .await;
    assert_eq!(codes(&later), ["NoError"], "{later}");
    let body = e
        .call_with(
            &t,
            &view("2030-03-22T19:00:00Z", "2030-03-23T00:00:00Z", None),
        )
        .await;
    assert_eq!(
        listed(&body),
        [want("Sync", "2030-03-22T20:00:00Z", "Exception")],
        "{body}"
    );

    // refused, writing nothing: onto the day of the next occurrence, the first one earlier,
    // a property one occurrence does not change here, an index past the end
    let before = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{id}"/>"#)))
        .await;
    for (index, fields, code) in [
        (
            2,
            vec![
                ("calendar:Start", "2030-03-11T10:00:00Z"),
                ("calendar:End", "2030-03-11T10:30:00Z"),
            ],
            "ErrorOccurrenceCrossingBoundary",
        ),
        (
            1,
            vec![
                ("calendar:Start", "2030-03-03T17:00:00Z"),
                ("calendar:End", "2030-03-03T17:30:00Z"),
            ],
            "ErrorOccurrenceCrossingBoundary",
        ),
        (3, vec![("item:Importance", "High")], "ErrorInvalidRequest"),
        (
            9,
            vec![("item:Subject", "x")],
            "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
        ),
    ] {
        let body = e
            .call_with(&t, &change_occurrence(&id, index, &fields))
            .await;
        assert_eq!(codes(&body), [code], "{index}: {body}");
    }
    // the series' recurrence itself does not change here, and says so
    let body = e
        .call_with(
            &t,
            &format!(
                r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="calendar:Recurrence"/><t:CalendarItem><t:Recurrence>{WEEKLY}</t:Recurrence></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&body), ["ErrorInvalidPropertySet"], "{body}");
    assert!(body.contains("create it with the new recurrence"), "{body}");
    let after = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{id}"/>"#)))
        .await;
    assert_eq!(before, after);

    // deleting a changed occurrence: gone from views and from the changed ones
    let deleted = e
        .call_with(
            &t,
            &format!(
                r#"<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToNone"><m:ItemIds><t:ItemId Id="{occurrence}"/></m:ItemIds></m:DeleteItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&deleted), ["NoError"], "{deleted}");
    let body = e
        .call_with(
            &t,
            &view("2030-03-14T00:00:00Z", "2030-03-17T00:00:00Z", None),
        )
        .await;
    assert!(listed(&body).is_empty(), "{body}");
    let master = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{id}"/>"#)))
        .await;
    assert!(!master.contains(&occurrence), "{master}");
    assert!(
        master.contains("<t:DeletedOccurrence><t:Start>2030-03-14T16:00:00Z</t:Start>"),
        "{master}"
    );
}

/// exchangelib sets `calendar:StartTimeZone` and `calendar:EndTimeZone` with every change of a
/// calendar item's start or end, and `calendar:IsAllDayEvent` and
/// `calendar:LegacyFreeBusyStatus` with every plain `save()`; all four were refused as
/// properties this server does not keep.
#[tokio::test]
async fn a_calendar_item_changed_as_exchangelib_saves_it() {
    let e = env().await;
    let t = alice_token();
    let created = e
        .call_with(
            &t,
            &single("Lunch", "2030-03-07T20:00:00Z", "2030-03-07T21:00:00Z"),
        )
        .await;
    let (id, ck) = ids(&created).remove(0);
    let moved = e
        .call_with(
            &t,
            &format!(
                r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" SendMeetingInvitationsOrCancellations="SendToNone"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{ck}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="calendar:Start"/><t:CalendarItem><t:Start>2030-03-07T21:00:00Z</t:Start></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:End"/><t:CalendarItem><t:End>2030-03-07T22:00:00Z</t:End></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:StartTimeZone"/><t:CalendarItem><t:StartTimeZone Id="Pacific Standard Time"/></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:EndTimeZone"/><t:CalendarItem><t:EndTimeZone Id="Pacific Standard Time"/></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:IsAllDayEvent"/><t:CalendarItem><t:IsAllDayEvent>false</t:IsAllDayEvent></t:CalendarItem></t:SetItemField><t:SetItemField><t:FieldURI FieldURI="calendar:LegacyFreeBusyStatus"/><t:CalendarItem><t:LegacyFreeBusyStatus>OOF</t:LegacyFreeBusyStatus></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&moved), ["NoError"], "{moved}");
    let body = e
        .call_with(
            &t,
            &view("2030-03-07T00:00:00Z", "2030-03-08T00:00:00Z", None),
        )
        .await;
    assert_eq!(
        listed(&body),
        [(
            "Lunch".to_owned(),
            "2030-03-07T21:00:00Z".to_owned(),
            "Single".to_owned()
        )],
        "{body}"
    );
    let read = e
        .call_with(&t, &get_all(&format!(r#"<t:ItemId Id="{id}"/>"#)))
        .await;
    assert!(
        read.contains("<t:IsAllDayEvent>false</t:IsAllDayEvent><t:LegacyFreeBusyStatus>OOF</t:LegacyFreeBusyStatus>"),
        "{read}"
    );
    // not on a message
    let note = e
        .call_with(
            &t,
            r#"<m:CreateItem MessageDisposition="SaveOnly"><m:Items><t:Message><t:Subject>x</t:Subject></t:Message></m:Items></m:CreateItem>"#,
        )
        .await;
    let (nid, nck) = ids(&note).remove(0);
    let refused = e
        .call_with(
            &t,
            &format!(
                r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite" MessageDisposition="SaveOnly"><m:ItemChanges><t:ItemChange><t:ItemId Id="{nid}" ChangeKey="{nck}"/><t:Updates><t:SetItemField><t:FieldURI FieldURI="calendar:LegacyFreeBusyStatus"/><t:CalendarItem><t:LegacyFreeBusyStatus>Free</t:LegacyFreeBusyStatus></t:CalendarItem></t:SetItemField></t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
            ),
        )
        .await;
    assert_ne!(codes(&refused), ["NoError"], "{refused}");
}

/// A recurring meeting: the attendee's copy is the series; the organizer deleting one
/// occurrence and moving another with the change sent reaches the attendee's copy (a full
/// update of the series: an updated request, the copy as the organizer's series now is).
#[tokio::test]
async fn a_recurring_meetings_occurrences_change_for_its_attendees() {
    let e = env().await;
    let alice = alice_token();
    let bob = common::bob_token();
    let created = e
        .call_with(
            &alice,
            &format!(
                r#"<m:CreateItem SendMeetingInvitations="SendToAllAndSaveCopy"><m:SavedItemFolderId><t:DistinguishedFolderId Id="calendar"/></m:SavedItemFolderId><m:Items><t:CalendarItem><t:Subject>Sync</t:Subject><t:Start>2030-03-04T17:00:00Z</t:Start><t:End>2030-03-04T17:30:00Z</t:End><t:RequiredAttendees><t:Attendee><t:Mailbox><t:EmailAddress>bob@contoso.example</t:EmailAddress></t:Mailbox></t:Attendee></t:RequiredAttendees><t:Recurrence>{WEEKLY}</t:Recurrence>{PACIFIC}</t:CalendarItem></m:Items></m:CreateItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&created), ["NoError"], "{created}");
    let id = ids(&created).remove(0).0;
    let week = || view("2030-03-04T00:00:00Z", "2030-03-15T00:00:00Z", None);
    let starts =
        |body: &str| -> Vec<String> { listed(body).into_iter().map(|(_, at, _)| at).collect() };
    let body = e.call_with(&bob, &week()).await;
    assert_eq!(
        starts(&body),
        [
            "2030-03-04T17:00:00Z",
            "2030-03-07T17:00:00Z",
            "2030-03-11T16:00:00Z",
            "2030-03-14T16:00:00Z"
        ],
        "Bob's copy is the series: {body}"
    );
    // the 7th deleted, the 11th moved to 18:00 UTC, each sent
    let deleted = e
        .call_with(
            &alice,
            &format!(
                r#"<m:DeleteItem DeleteType="MoveToDeletedItems" SendMeetingCancellations="SendToAllAndSaveCopy"><m:ItemIds><t:OccurrenceItemId RecurringMasterId="{id}" InstanceIndex="2"/></m:ItemIds></m:DeleteItem>"#
            ),
        )
        .await;
    assert_eq!(codes(&deleted), ["NoError"], "{deleted}");
    let moved = e
        .call_with(
            &alice,
            &change_occurrence(
                &id,
                3,
                &[
                    ("calendar:Start", "2030-03-11T18:00:00Z"),
                    ("calendar:End", "2030-03-11T18:30:00Z"),
                ],
            )
            .replace("SendToNone", "SendToAllAndSaveCopy"),
        )
        .await;
    assert_eq!(codes(&moved), ["NoError"], "{moved}");
    let want = [
        "2030-03-04T17:00:00Z",
        "2030-03-11T18:00:00Z",
        "2030-03-14T16:00:00Z",
    ];
    assert_eq!(starts(&e.call_with(&alice, &week()).await), want);
    let body = e.call_with(&bob, &week()).await;
    assert_eq!(starts(&body), want, "Bob's copy follows: {body}");
    // Bob's Inbox: the first request and two updates
    let inbox = e
        .call_with(
            &bob,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:ItemClass"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="inbox"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    assert_eq!(
        inbox.matches("IPM.Schedule.Meeting.Request").count(),
        3,
        "{inbox}"
    );
}

#[tokio::test]
async fn an_occurrence_moves_only_with_its_series() {
    let e = env().await;
    let t = alice_token();
    let created = e
        .call_with(
            &t,
            &series(
                "Sync",
                "2030-03-04T17:00:00Z",
                "2030-03-04T17:30:00Z",
                WEEKLY,
                PACIFIC,
            ),
        )
        .await;
    let id = ids(&created).remove(0).0;
    let occurrence = mailbox::occurrence_id(&id, 2).unwrap();
    let body = e
        .call_with(
            &t,
            &format!(
                r#"<m:CopyItem><m:ToFolderId><t:DistinguishedFolderId Id="calendar"/></m:ToFolderId><m:ItemIds><t:ItemId Id="{occurrence}"/><t:RecurringMasterItemId OccurrenceId="{occurrence}"/><t:OccurrenceItemId RecurringMasterId="{id}" InstanceIndex="3"/></m:ItemIds></m:CopyItem>"#
            ),
        )
        .await;
    assert_eq!(
        codes(&body),
        [
            "ErrorCalendarCannotMoveOrCopyOccurrence",
            "NoError",
            "ErrorCalendarCannotMoveOrCopyOccurrence"
        ],
        "{body}"
    );
    // the copy is the series
    let body = e
        .call_with(
            &t,
            &view("2030-03-04T00:00:00Z", "2030-03-05T00:00:00Z", None),
        )
        .await;
    assert_eq!(listed(&body).len(), 2, "{body}");
}

/// Items at the edge of the years EWS dates cover (9999-12-31) are stored, viewed and expanded
/// without a panic: a single item, a daily series without end starting on the last day, and a
/// calendar view and free/busy that reach to the last second.
#[tokio::test]
async fn items_on_the_last_day_of_year_9999_are_kept_and_viewed() {
    let e = env().await;
    let t = alice_token();
    let daily = "<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:NoEndRecurrence><t:StartDate>9999-12-31</t:StartDate></t:NoEndRecurrence>";
    let r = e
        .call_with(
            &t,
            &series(
                "Last",
                "9999-12-31T22:00:00Z",
                "9999-12-31T23:59:59Z",
                daily,
                PACIFIC,
            ),
        )
        .await;
    assert!(!codes(&r).is_empty(), "{r}");
    let r = e
        .call_with(
            &t,
            &single("Edge", "9999-12-31T23:00:00Z", "9999-12-31T23:59:59Z"),
        )
        .await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let r = e
        .call_with(
            &t,
            &view("9999-12-30T00:00:00Z", "9999-12-31T23:59:59Z", None),
        )
        .await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    assert!(r.contains("<t:Subject>Edge</t:Subject>"), "{r}");
}
