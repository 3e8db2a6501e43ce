//! Tasks over EWS against the real server: a task created without a folder lands in Tasks,
//! reads back with what Exchange derives (IsComplete, StatusDescription, CompleteDate), its
//! status and percent complete kept consistent as Exchange keeps them through UpdateItem, found
//! by its status and sorted by its percent complete, carried whole by bulk transfer; and the
//! refusals (a read-only property, deleting the status, a regenerating recurrence with an end
//! date, a task property on a contact), each writing nothing.

mod common;

use common::{alice_token, codes, env, ids};

fn create(subject: &str, inner: &str) -> String {
    format!(
        r#"<m:CreateItem><m:Items><t:Task><t:Subject>{subject}</t:Subject>{inner}</t:Task></m:Items></m:CreateItem>"#
    )
}

fn get(id: &str) -> String {
    format!(
        r#"<m:GetItem><m:ItemShape><t:BaseShape>AllProperties</t:BaseShape></m:ItemShape><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:GetItem>"#
    )
}

fn update(id: &str, changes: &str) -> String {
    format!(
        r#"<m:UpdateItem ConflictResolution="AlwaysOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}"/><t:Updates>{changes}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    )
}

fn set(field: &str, task: &str) -> String {
    format!(
        r#"<t:SetItemField><t:FieldURI FieldURI="task:{field}"/><t:Task>{task}</t:Task></t:SetItemField>"#
    )
}

/// The text of each `t:{name}` in `body`, in order.
fn all(body: &str, name: &str) -> Vec<String> {
    body.split(&format!("<t:{name}>"))
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn a_task_keeps_its_status_and_percent_complete_consistent() {
    let e = env().await;
    let t = alice_token();
    let created = e
        .call_with(
            &t,
            &create(
                "Report",
                "<t:DueDate>2030-03-06T00:00:00Z</t:DueDate><t:PercentComplete>50</t:PercentComplete><t:StartDate>2030-03-02T00:00:00Z</t:StartDate><t:Status>InProgress</t:Status>",
            ),
        )
        .await;
    assert_eq!(codes(&created), ["NoError"], "{created}");
    assert!(created.contains("<t:Task><t:ItemId"), "{created}");
    let (id, _) = ids(&created).remove(0);
    let got = e.call_with(&t, &get(&id)).await;
    for (name, want) in [
        ("ItemClass", "IPM.Task"),
        ("IsComplete", "false"),
        ("PercentComplete", "50"),
        ("Status", "InProgress"),
        ("StatusDescription", "In Progress"),
        ("DueDate", "2030-03-06T00:00:00Z"),
    ] {
        assert_eq!(all(&got, name), [want], "{name}: {got}");
    }
    assert!(!got.contains("<t:CompleteDate>"), "{got}");
    // in Tasks
    let listed = e
        .call_with(
            &t,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="tasks"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    assert_eq!(all(&listed, "Subject"), ["Report"], "{listed}");

    // completed: 100 %, a completion date
    let r = e
        .call_with(
            &t,
            &update(&id, &set("Status", "<t:Status>Completed</t:Status>")),
        )
        .await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let got = e.call_with(&t, &get(&id)).await;
    assert_eq!(all(&got, "PercentComplete"), ["100"], "{got}");
    assert_eq!(all(&got, "IsComplete"), ["true"], "{got}");
    assert_eq!(all(&got, "CompleteDate").len(), 1, "{got}");
    // back to 25 %: in progress again, no completion date
    let r = e
        .call_with(
            &t,
            &update(
                &id,
                &set(
                    "PercentComplete",
                    "<t:PercentComplete>25</t:PercentComplete>",
                ),
            ),
        )
        .await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let got = e.call_with(&t, &get(&id)).await;
    assert_eq!(all(&got, "Status"), ["InProgress"], "{got}");
    assert!(!got.contains("<t:CompleteDate>"), "{got}");

    // refusals, each changing nothing
    for (change, code) in [
        (
            set("IsComplete", "<t:IsComplete>true</t:IsComplete>"),
            "ErrorInvalidPropertySet",
        ),
        (
            r#"<t:DeleteItemField><t:FieldURI FieldURI="task:Status"/></t:DeleteItemField>"#
                .to_owned(),
            "ErrorInvalidPropertyDelete",
        ),
        (
            set("Mileage", "<t:BillingInformation>x</t:BillingInformation>"),
            "ErrorUpdatePropertyMismatch",
        ),
    ] {
        let r = e.call_with(&t, &update(&id, &change)).await;
        assert_eq!(codes(&r), [code], "{change}: {r}");
    }
    let after = e.call_with(&t, &get(&id)).await;
    assert_eq!(all(&after, "PercentComplete"), ["25"], "{after}");
    assert!(!after.contains("BillingInformation"), "{after}");

    // a regenerating task with an end date, for its item alone
    let r = e
        .call_with(
            &t,
            &create(
                "Water the plants",
                "<t:Recurrence><t:DailyRegeneration><t:Interval>3</t:Interval></t:DailyRegeneration><t:EndDateRecurrence><t:StartDate>2030-03-02</t:StartDate><t:EndDate>2030-04-02</t:EndDate></t:EndDateRecurrence></t:Recurrence>",
            ),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorUnsupportedRecurrence"], "{r}");
    // a task property on a contact
    let c = e
        .call_with(
            &t,
            r#"<m:CreateItem><m:Items><t:Contact><t:GivenName>Carol</t:GivenName></t:Contact></m:Items></m:CreateItem>"#,
        )
        .await;
    let (cid, _) = ids(&c).remove(0);
    let r = e
        .call_with(
            &t,
            &update(&cid, &set("Status", "<t:Status>Completed</t:Status>")),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorInvalidPropertySet"], "{r}");
    assert!(r.contains("not a task"), "{r}");
}

/// FindItem finds tasks by status and sorts them by percent complete; bulk transfer carries a
/// task whole.
#[tokio::test]
async fn tasks_are_found_sorted_and_carried_by_bulk_transfer() {
    let e = env().await;
    let t = alice_token();
    for (subject, percent) in [("b", "50"), ("a", "0"), ("c", "100"), ("d", "10")] {
        let r = e
            .call_with(
                &t,
                &create(
                    subject,
                    &format!("<t:PercentComplete>{percent}</t:PercentComplete>"),
                ),
            )
            .await;
        assert_eq!(codes(&r), ["NoError"], "{r}");
    }
    let find = |restriction: &str| {
        format!(
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="item:Subject"/></t:AdditionalProperties></m:ItemShape>{restriction}<m:SortOrder><t:FieldOrder Order="Descending"><t:FieldURI FieldURI="task:PercentComplete"/></t:FieldOrder></m:SortOrder><m:ParentFolderIds><t:DistinguishedFolderId Id="tasks"/></m:ParentFolderIds></m:FindItem>"#
        )
    };
    let r = e.call_with(&t, &find("")).await;
    assert_eq!(all(&r, "Subject"), ["c", "b", "d", "a"], "{r}");
    let r = e
        .call_with(
            &t,
            &find(
                r#"<m:Restriction><t:IsNotEqualTo><t:FieldURI FieldURI="task:Status"/><t:FieldURIOrConstant><t:Constant Value="InProgress"/></t:FieldURIOrConstant></t:IsNotEqualTo></m:Restriction>"#,
            ),
        )
        .await;
    assert_eq!(all(&r, "Subject"), ["c", "a"], "{r}");
    // a number is not compared as text
    let r = e
        .call_with(
            &t,
            &find(
                r#"<m:Restriction><t:IsEqualTo><t:FieldURI FieldURI="task:PercentComplete"/><t:FieldURIOrConstant><t:Constant Value="50"/></t:FieldURIOrConstant></t:IsEqualTo></m:Restriction>"#,
            ),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorInvalidRestriction"], "{r}");

    let listed = e.call_with(&t, &find("")).await;
    let (id, _) = ids(&listed).remove(0);
    let before = e.call_with(&t, &get(&id)).await;
    let folder = common::attr_after(&before, "<t:ParentFolderId", "Id");
    let copy = e.export_and_upload(&t, &id, &folder).await;
    let again = e.call_with(&t, &get(&copy)).await;
    let task_part = |s: &str| {
        s.split("<t:IsAssociated>")
            .nth(1)
            .and_then(|s| s.split("</t:Task>").next())
            .map(str::to_owned)
    };
    assert!(again.contains("<t:Task>"), "{again}");
    assert!(task_part(&before).is_some(), "{before}");
    assert_eq!(task_part(&before), task_part(&again), "{before}\n{again}");
}

/// Completing an occurrence of a recurring task saves a completed one-off task, which the
/// answer names, and moves the task to its next occurrence (the EWS reference of UpdateItem for
/// tasks); completing the last occurrence completes the task itself.
#[tokio::test]
async fn completing_a_recurring_task_saves_a_one_off_and_moves_to_the_next_occurrence() {
    let e = env().await;
    let t = alice_token();
    // Mondays and Wednesdays, twice, from Monday March 4, 2030
    let created = e
        .call_with(
            &t,
            &create(
                "Standup notes",
                "<t:DueDate>2030-03-04T00:00:00Z</t:DueDate><t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday Wednesday</t:DaysOfWeek><t:FirstDayOfWeek>Monday</t:FirstDayOfWeek></t:WeeklyRecurrence><t:NumberedRecurrence><t:StartDate>2030-03-04</t:StartDate><t:NumberOfOccurrences>2</t:NumberOfOccurrences></t:NumberedRecurrence></t:Recurrence>",
            ),
        )
        .await;
    assert_eq!(codes(&created), ["NoError"], "{created}");
    let (id, first_key) = ids(&created).remove(0);
    let completed = set("Status", "<t:Status>Completed</t:Status>");
    let r = e.call_with(&t, &update(&id, &completed)).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let (one_off, _) = ids(&r).remove(0);
    assert_ne!(one_off, id, "the answer names the one-off task: {r}");

    let got = e.call_with(&t, &get(&one_off)).await;
    for (name, want) in [
        ("Subject", "Standup notes"),
        ("Status", "Completed"),
        ("PercentComplete", "100"),
        ("IsRecurring", "false"),
        ("DueDate", "2030-03-04T00:00:00Z"),
    ] {
        assert_eq!(all(&got, name), [want], "{name}: {got}");
    }
    assert!(!got.contains("<t:Recurrence>"), "{got}");
    assert_eq!(all(&got, "CompleteDate").len(), 1, "{got}");

    let got = e.call_with(&t, &get(&id)).await;
    for (name, want) in [
        ("Status", "NotStarted"),
        ("PercentComplete", "0"),
        ("IsRecurring", "true"),
        ("DueDate", "2030-03-06T00:00:00Z"),
        ("StartDate", "2030-03-06Z"),
        ("NumberOfOccurrences", "1"),
    ] {
        assert_eq!(all(&got, name), [want], "{name}: {got}");
    }
    // the change key the client held is no longer the task's
    let stale = format!(
        r#"<m:UpdateItem ConflictResolution="NeverOverwrite"><m:ItemChanges><t:ItemChange><t:ItemId Id="{id}" ChangeKey="{first_key}"/><t:Updates>{completed}</t:Updates></t:ItemChange></m:ItemChanges></m:UpdateItem>"#
    );
    let r = e.call_with(&t, &stale).await;
    assert_eq!(codes(&r), ["ErrorIrresolvableConflict"], "{r}");

    // the last occurrence: the task itself is completed, and named
    let r = e.call_with(&t, &update(&id, &completed)).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    assert_eq!(ids(&r).remove(0).0, id, "{r}");
    let got = e.call_with(&t, &get(&id)).await;
    assert_eq!(all(&got, "Status"), ["Completed"], "{got}");
    assert_eq!(all(&got, "DueDate"), ["2030-03-06T00:00:00Z"], "{got}");

    let listed = e
        .call_with(
            &t,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape><t:AdditionalProperties><t:FieldURI FieldURI="task:Status"/></t:AdditionalProperties></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="tasks"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    assert_eq!(
        all(&listed, "Status"),
        ["Completed", "Completed"],
        "{listed}"
    );
}

/// DeleteItem with `AffectedTaskOccurrences="SpecifiedOccurrenceOnly"` deletes a recurring
/// task's current occurrence: the task moves to its next one, and at its last is deleted; an
/// unknown value is refused, deleting nothing.
#[tokio::test]
async fn deleting_only_the_current_occurrence_moves_a_recurring_task_on() {
    let e = env().await;
    let t = alice_token();
    let created = e
        .call_with(
            &t,
            &create(
                "Water the plants",
                "<t:StartDate>2030-03-04T00:00:00Z</t:StartDate><t:DueDate>2030-03-05T00:00:00Z</t:DueDate><t:Recurrence><t:DailyRecurrence><t:Interval>2</t:Interval></t:DailyRecurrence><t:NumberedRecurrence><t:StartDate>2030-03-04</t:StartDate><t:NumberOfOccurrences>2</t:NumberOfOccurrences></t:NumberedRecurrence></t:Recurrence>",
            ),
        )
        .await;
    assert_eq!(codes(&created), ["NoError"], "{created}");
    let (id, _) = ids(&created).remove(0);
    let delete = |which: &str| {
        format!(
            r#"<m:DeleteItem DeleteType="HardDelete" AffectedTaskOccurrences="{which}"><m:ItemIds><t:ItemId Id="{id}"/></m:ItemIds></m:DeleteItem>"#
        )
    };
    let (status, r) = e.call_as(&t, &delete("SomeOccurrences")).await;
    assert_eq!(status, 500, "a SOAP fault: {r}");
    assert!(r.contains("AffectedTaskOccurrences"), "{r}");
    let r = e.call_with(&t, &delete("SpecifiedOccurrenceOnly")).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let got = e.call_with(&t, &get(&id)).await;
    assert_eq!(codes(&got), ["NoError"], "{got}");
    // two days on, the same span, and no copy made
    // (the recurrence's start, then the task's, in schema order)
    assert_eq!(
        all(&got, "StartDate"),
        ["2030-03-06Z", "2030-03-06T00:00:00Z"],
        "{got}"
    );
    assert_eq!(all(&got, "DueDate"), ["2030-03-07T00:00:00Z"], "{got}");
    assert_eq!(all(&got, "NumberOfOccurrences"), ["1"], "{got}");
    let r = e.call_with(&t, &delete("SpecifiedOccurrenceOnly")).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let got = e.call_with(&t, &get(&id)).await;
    assert_eq!(codes(&got), ["ErrorItemNotFound"], "{got}");
    let listed = e
        .call_with(
            &t,
            r#"<m:FindItem Traversal="Shallow"><m:ItemShape><t:BaseShape>IdOnly</t:BaseShape></m:ItemShape><m:ParentFolderIds><t:DistinguishedFolderId Id="tasks"/></m:ParentFolderIds></m:FindItem>"#,
        )
        .await;
    assert!(ids(&listed).is_empty(), "{listed}");
}

/// A percentage complete out of 0–100 is `ErrorInvalidPercentCompleteValue` for its item alone:
/// the request's other items are created, and an update changes nothing.
#[tokio::test]
async fn a_percentage_out_of_range_refuses_its_item_alone() {
    let e = env().await;
    let t = alice_token();
    let r = e
        .call_with(
            &t,
            r#"<m:CreateItem><m:Items><t:Task><t:Subject>Too much</t:Subject><t:PercentComplete>150</t:PercentComplete></t:Task><t:Task><t:Subject>Fine</t:Subject><t:PercentComplete>15</t:PercentComplete></t:Task></m:Items></m:CreateItem>"#,
        )
        .await;
    assert_eq!(
        codes(&r),
        ["ErrorInvalidPercentCompleteValue", "NoError"],
        "{r}"
    );
    assert!(r.contains("from 0 to 100, not 150"), "{r}");
    let (id, _) = ids(&r).remove(0);
    let r = e
        .call_with(
            &t,
            &update(
                &id,
                &set(
                    "PercentComplete",
                    "<t:PercentComplete>-5</t:PercentComplete>",
                ),
            ),
        )
        .await;
    assert_eq!(codes(&r), ["ErrorInvalidPercentCompleteValue"], "{r}");
    let got = e.call_with(&t, &get(&id)).await;
    assert_eq!(all(&got, "PercentComplete"), ["15"], "{got}");
}

/// Moving the due date of a non-regenerating recurring task's current occurrence splits it off
/// as a one-off with the new date (the answer names it); the task moves to its next
/// occurrence. A change that sets the same date splits nothing, nor does moving a regenerating
/// task's date.
#[tokio::test]
async fn moving_an_occurrence_of_a_recurring_task_splits_it_off() {
    let e = env().await;
    let t = alice_token();
    let recurrence = |pattern: &str| {
        format!(
            "<t:DueDate>2030-03-04T00:00:00Z</t:DueDate><t:Recurrence>{pattern}<t:NumberedRecurrence><t:StartDate>2030-03-04</t:StartDate><t:NumberOfOccurrences>3</t:NumberOfOccurrences></t:NumberedRecurrence></t:Recurrence>"
        )
    };
    let weekly = "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday Wednesday</t:DaysOfWeek><t:FirstDayOfWeek>Monday</t:FirstDayOfWeek></t:WeeklyRecurrence>";
    let created = e
        .call_with(&t, &create("Review", &recurrence(weekly)))
        .await;
    assert_eq!(codes(&created), ["NoError"], "{created}");
    let (id, _) = ids(&created).remove(0);
    let due = |d: &str| set("DueDate", &format!("<t:DueDate>{d}T00:00:00Z</t:DueDate>"));
    // the same date: nothing split
    let r = e.call_with(&t, &update(&id, &due("2030-03-04"))).await;
    assert_eq!(ids(&r).remove(0).0, id, "{r}");
    // Monday's occurrence moved to Tuesday
    let r = e.call_with(&t, &update(&id, &due("2030-03-05"))).await;
    assert_eq!(codes(&r), ["NoError"], "{r}");
    let (one_off, _) = ids(&r).remove(0);
    assert_ne!(one_off, id, "{r}");
    let got = e.call_with(&t, &get(&one_off)).await;
    assert_eq!(all(&got, "DueDate"), ["2030-03-05T00:00:00Z"], "{got}");
    assert_eq!(all(&got, "IsRecurring"), ["false"], "{got}");
    assert_eq!(all(&got, "Status"), ["NotStarted"], "{got}");
    let got = e.call_with(&t, &get(&id)).await;
    assert_eq!(all(&got, "DueDate"), ["2030-03-06T00:00:00Z"], "{got}");
    assert_eq!(all(&got, "NumberOfOccurrences"), ["2"], "{got}");
    // a regenerating task's date moves with nothing split
    let daily = "<t:DailyRegeneration><t:Interval>2</t:Interval></t:DailyRegeneration>";
    let created = e.call_with(&t, &create("Water", &recurrence(daily))).await;
    let (regen, _) = ids(&created).remove(0);
    let r = e.call_with(&t, &update(&regen, &due("2030-03-07"))).await;
    assert_eq!(ids(&r).remove(0).0, regen, "{r}");
    let got = e.call_with(&t, &get(&regen)).await;
    assert_eq!(all(&got, "DueDate"), ["2030-03-07T00:00:00Z"], "{got}");
}
