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
