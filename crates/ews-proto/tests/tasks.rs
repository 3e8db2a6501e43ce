//! Tasks (`t:Task`) end to end: the requests exchangelib 5.6.0 sends (captured in
//! `fixtures/requests/exchangelib`, see `fixtures/README.md`) parsed and settled, their changes
//! applied one property path at a time, the task written back in a GetItem answer and read back.

use ews_proto::ns;
use ews_proto::recurrence::{Pattern, RangeEnd, Recurrence, Regeneration, TaskRecurrence};
use ews_proto::request::{
    ItemFieldChange, ItemFieldValue, NewItem, NewTask, Operation, Request, parse_request,
};
use ews_proto::response::{
    ItemView, get_item_response, item_from_element, parse_response_messages,
};
use ews_proto::task::{Task, TaskFieldError, TaskStatus, delete_field, set_field};
use ews_proto::types::{
    BaseShape, BodyType, Importance, ItemKind, ItemShape, PropertyPath, Sensitivity,
    parse_xs_datetime,
};
use ews_proto::xml::Limits;
use time::OffsetDateTime;
use time::macros::date;

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

fn field(f: &str) -> PropertyPath {
    PropertyPath::Field(f.to_owned())
}

/// When the server created the task.
fn created_at() -> OffsetDateTime {
    at("2026-03-02T09:00:00Z")
}

/// The task exchangelib creates in `create_item_task`, as it sends it.
fn report() -> Task {
    Task {
        actual_work: Some(90),
        billing_information: Some("Project X".into()),
        companies: vec!["Contoso".into()],
        contacts: vec!["Bob Jones".into()],
        due_date: Some(at("2026-03-06T00:00:00Z")),
        mileage: Some("12 km".into()),
        percent_complete: Some(50.0),
        start_date: Some(at("2026-03-02T00:00:00Z")),
        status: Some(TaskStatus::InProgress),
        total_work: Some(240),
        ..Task::default()
    }
}

fn new_task(bytes: &[u8]) -> NewTask {
    let Operation::CreateItem(c) = parse(bytes).operation else {
        panic!("not CreateItem")
    };
    let [NewItem::Task(task)] = &c.items[..] else {
        panic!("one task expected: {:?}", c.items)
    };
    task.clone()
}

/// The task of `create_item_task` as the server keeps it.
fn stored() -> Task {
    let mut t = new_task(fixture!("create_item_task")).task;
    t.settle(created_at());
    t
}

#[test]
fn exchangelib_create_item_task() {
    let n = new_task(fixture!("create_item_task"));
    assert_eq!(n.task, report());
    assert_eq!(n.item.subject.as_deref(), Some("Write the report"));
    assert_eq!(n.item.sensitivity, Some(Sensitivity::Normal));
    assert_eq!(n.item.importance, Some(Importance::High));
    let body = n.item.body.as_ref().expect("body");
    assert_eq!(body.body_type, BodyType::Text);
    assert_eq!(body.content, "Quarterly numbers & charts.");
    assert_eq!(n.item.categories, ["Work"]);
    assert_eq!(
        n.item.ignored,
        ["ReminderIsSet", "ReminderMinutesBeforeStart"],
        "the t:ItemType elements not modelled"
    );
    // consistent already: settling adds nothing
    assert_eq!(stored(), report());
}

#[test]
fn exchangelib_create_item_recurring_tasks() {
    let n = new_task(fixture!("create_item_task_regeneration"));
    assert_eq!(n.item.subject.as_deref(), Some("Water the plants"));
    let recurrence = TaskRecurrence::Regeneration {
        regeneration: Regeneration::Daily { interval: 3 },
        start_date: date!(2026 - 03 - 02),
        end: RangeEnd::NoEnd,
    };
    assert_eq!(
        n.task,
        Task {
            percent_complete: Some(0.0),
            recurrence: Some(recurrence.clone()),
            status: Some(TaskStatus::NotStarted),
            ..Task::default()
        }
    );
    assert_eq!(recurrence.check(), Ok(()));
    let n = new_task(fixture!("create_item_task_recurring"));
    let recurrence = TaskRecurrence::Pattern(Recurrence {
        pattern: Pattern::Weekly {
            interval: 1,
            days: vec![time::Weekday::Monday, time::Weekday::Wednesday],
            first_day_of_week: time::Weekday::Monday,
        },
        start_date: date!(2026 - 03 - 02),
        end: RangeEnd::Numbered(10),
    });
    assert_eq!(n.task.recurrence, Some(recurrence.clone()));
    assert_eq!(n.task.due_date, Some(at("2026-03-02T00:00:00Z")));
    assert_eq!(recurrence.check(), Ok(()));
}

/// Applies an UpdateItem's changes to `stored` the way a server does: each Set of a task
/// property takes its one property from the change's task, each Delete of one removes it (the
/// `item:` changes are the server's business); then the task is settled.
fn apply(stored: &mut Task, bytes: &[u8], now: OffsetDateTime) -> Vec<ItemFieldChange> {
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
                if let ItemFieldValue::Task(partial) = value {
                    assert_eq!(value.field_uri(), None);
                    set_field(stored, path, partial).expect("set");
                }
            }
            ItemFieldChange::Delete { path } => {
                if ews_proto::task::is_task_path(path) {
                    delete_field(stored, path).expect("deleted");
                }
            }
            ItemFieldChange::Append { .. } => panic!("exchangelib appends nothing here"),
        }
    }
    stored.settle(now);
    change.updates.clone()
}

#[test]
fn exchangelib_update_item_task_status() {
    let mut t = stored();
    let completed_at = at("2026-03-04T16:00:00Z");
    let updates = apply(&mut t, fixture!("update_item_task_status"), completed_at);
    // exchangelib sends the percentage it has, then the status: the status wins
    assert_eq!(
        updates,
        [
            ItemFieldChange::Set {
                path: field("task:PercentComplete"),
                values: vec![ItemFieldValue::Task(Box::new(Task {
                    percent_complete: Some(50.0),
                    ..Task::default()
                }))],
            },
            ItemFieldChange::Set {
                path: field("task:Status"),
                values: vec![ItemFieldValue::Task(Box::new(Task {
                    status: Some(TaskStatus::Completed),
                    ..Task::default()
                }))],
            },
        ]
    );
    let mut expected = report();
    expected.status = Some(TaskStatus::Completed);
    expected.percent_complete = Some(100.0);
    expected.complete_date = Some(completed_at);
    assert_eq!(t, expected);
}

#[test]
fn exchangelib_update_item_task_plain() {
    let mut t = stored();
    apply(
        &mut t,
        fixture!("update_item_task_status"),
        at("2026-03-04T16:00:00Z"),
    );
    let updates = apply(
        &mut t,
        fixture!("update_item_task_plain"),
        at("2026-03-05T08:00:00Z"),
    );
    assert_eq!(updates.len(), 19, "every field exchangelib knows");
    let deleted: Vec<&PropertyPath> = updates
        .iter()
        .filter_map(|u| match u {
            ItemFieldChange::Delete { path } => Some(path),
            _ => None,
        })
        .collect();
    assert_eq!(
        deleted,
        [
            &field("item:InReplyTo"),
            &field("task:Contacts"),
            &field("task:Recurrence")
        ],
        "the fields it has no value for"
    );
    // 12.5 % made the completed task one in progress; the status set next agrees
    let mut expected = report();
    expected.percent_complete = Some(12.5);
    expected.contacts.clear();
    assert_eq!(t, expected);
}

#[test]
fn a_status_or_percentage_cannot_be_deleted() {
    let mut t = stored();
    for f in ["task:Status", "task:PercentComplete"] {
        let e = delete_field(&mut t, &field(f)).expect_err(f);
        assert_eq!(e, TaskFieldError::NotDeletable(f.into()));
        assert_eq!(e.code(), "ErrorInvalidPropertyDelete");
    }
    assert_eq!(t, stored());
}

/// A read-only task property in an update is kept as an `Other` value beside the task's
/// values, for the server to refuse for its item alone (a fault would fail every item of the
/// request).
#[test]
fn a_read_only_property_in_an_update_is_left_for_the_server_to_refuse() {
    let body = lines(fixture!("update_item_task_status")).replace(
        "<t:Status>Completed</t:Status>",
        "<t:Status>Completed</t:Status><t:IsComplete>true</t:IsComplete>",
    );
    let Operation::UpdateItem(u) = parse(body.as_bytes()).operation else {
        panic!("not UpdateItem")
    };
    let ItemFieldChange::Set { values, .. } = &u.changes[0].updates[1] else {
        panic!("not Set")
    };
    assert_eq!(
        values,
        &[
            ItemFieldValue::Other("IsComplete".into()),
            ItemFieldValue::Task(Box::new(Task {
                status: Some(TaskStatus::Completed),
                ..Task::default()
            })),
        ]
    );
    // a malformed value is a fault of the request, as for any other property
    let body = lines(fixture!("update_item_task_status")).replace(
        "<t:PercentComplete>50</t:PercentComplete>",
        "<t:PercentComplete>fifty</t:PercentComplete>",
    );
    let e = parse_request(body.as_bytes(), &Limits::default()).expect_err("refused");
    assert_eq!(e.response_code(), "ErrorSchemaValidation");
}

#[test]
fn task_children_of_other_items_stay_other_values() {
    let body = lines(fixture!("update_item_task_status"))
        .replace("<t:Task>", "<t:Message>")
        .replace("</t:Task>", "</t:Message>");
    let Operation::UpdateItem(u) = parse(body.as_bytes()).operation else {
        panic!("not UpdateItem")
    };
    let ItemFieldChange::Set { values, .. } = &u.changes[0].updates[1] else {
        panic!("not Set")
    };
    assert_eq!(values, &[ItemFieldValue::Other("Status".into())]);
}

/// The task as a GetItem answers it.
fn view(task: Task) -> ItemView {
    ItemView {
        parent_folder_id: Some("F-tasks".to_owned()),
        item_class: Some("IPM.Task".to_owned()),
        subject: Some("Write the report".to_owned()),
        body: Some((BodyType::Text, "Quarterly numbers & charts.".to_owned())),
        categories: vec!["Work".to_owned()],
        importance: Some(Importance::High),
        task: Some(Box::new(task)),
        ..ItemView::new(ItemKind::Task, "I-t", Some("CK2"))
    }
}

/// The task read back from an answer: the one item of its one message.
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
fn exchangelib_get_item_task_answered_and_read_back() {
    let Operation::GetItem(g) = parse(fixture!("get_item_task")).operation else {
        panic!("not GetItem")
    };
    assert_eq!(g.shape.base_shape, BaseShape::IdOnly);
    let mut t = stored();
    apply(
        &mut t,
        fixture!("update_item_task_status"),
        at("2026-03-04T16:00:00Z"),
    );
    let out = get_item_response(&g.shape, &[Ok(view(t.clone()))]);
    insta::assert_snapshot!("get_item_task_exchangelib_shape", lines(&out));
    let back = read_back(&out);
    assert_eq!(back.kind, ItemKind::Task);
    assert_eq!(back.task.as_deref(), Some(&t));
}

#[test]
fn created_task_round_trips_under_all_properties() {
    let shape = ItemShape::new(BaseShape::AllProperties);
    let mut t = stored();
    t.recurrence = new_task(fixture!("create_item_task_regeneration"))
        .task
        .recurrence;
    let out = get_item_response(&shape, &[Ok(view(t.clone()))]);
    insta::assert_snapshot!("get_item_task_all_properties", lines(&out));
    assert_eq!(read_back(&out), view(t));
}
