//! Tasks (`t:Task`): a task is a stored item whose own properties (status, percent complete,
//! start and due dates, work, recurrence, …) the store keeps as one JSON value beside it
//! ([`mailbox::NewItem::task`]; the schema and Exchange's status rules are `ews_proto::task`'s).
//! UpdateItem changes them one property at a time, here, against the task as stored.

use ews_proto::recurrence::TaskRecurrence;
use ews_proto::request::{ItemFieldChange, ItemFieldValue};
use ews_proto::response::ResponseError;
use ews_proto::task::{self, Task};
use time::OffsetDateTime;

/// A new task as stored: its percentage and recurrence checked (Exchange's codes), its status, percent
/// complete, completion date and dates made consistent as Exchange makes them
/// ([`Task::settle`]).
pub(crate) fn new_task(mut t: Task, now: OffsetDateTime) -> Result<String, ResponseError> {
    t.check_percent()
        .map_err(|e| ResponseError::new(e.code(), &e.to_string()))?;
    check_recurrence(&t)?;
    t.settle(now);
    Ok(t.to_storage())
}

fn check_recurrence(t: &Task) -> Result<(), ResponseError> {
    match &t.recurrence {
        Some(r) => r
            .check()
            .map_err(|p| ResponseError::new(p.response_code(), &p.to_string())),
        None => Ok(()),
    }
}

/// The task an item stores, if it is one. A stored value that does not read (never written by
/// this server) is logged and shown as a task without properties.
pub(crate) fn stored(i: &mailbox::Item) -> Option<Task> {
    let s = i.task.as_deref()?;
    Some(Task::from_storage(s).unwrap_or_else(|e| {
        tracing::warn!(item = %i.id, error = %e, "a stored task does not read");
        Task::default()
    }))
}

/// Whether an UpdateItem change is to a task's own property.
pub(crate) fn is_task_change(c: &ItemFieldChange) -> bool {
    task::is_task_path(c.path())
}

/// Applies UpdateItem's task changes, in order (Exchange's status rules apply change by change),
/// to the task as stored, then settles it at `now`. Two changes to the current occurrence of a
/// recurring task split it off as a one-off task, returned to be saved beside the task (the
/// EWS reference of UpdateItem for tasks):
/// * completing it: the task moves to its next occurrence, the completed one is the one-off
///   ([`Task::complete_occurrence`]);
/// * moving its start or due date (a non-regenerating task, its recurrence unchanged): the
///   one-off is the occurrence with its new dates, and the task, as it was, moves to its next
///   occurrence ([`Task::skip_occurrence`]).
///
/// At the last occurrence there is nothing to split: the task itself changes.
pub(crate) fn apply(
    t: &mut Task,
    changes: &[&ItemFieldChange],
    now: OffsetDateTime,
) -> Result<Option<Task>, ResponseError> {
    // (only a recurring task's occurrence can be split off)
    let before = t.recurrence.is_some().then(|| t.clone());
    let was_complete = t.is_complete();
    let refused = |e: task::TaskFieldError| ResponseError::new(e.code(), &e.to_string());
    for change in changes {
        match change {
            ItemFieldChange::Set { path, values } => {
                // without task properties in its item element (none, or only read-only ones),
                // the path alone decides: read-only, unknown, or not set by the element
                let none = Task::default();
                let partial = values
                    .iter()
                    .find_map(|v| match v {
                        ItemFieldValue::Task(p) => Some(&**p),
                        _ => None,
                    })
                    .unwrap_or(&none);
                task::set_field(t, path, partial).map_err(refused)?;
            }
            ItemFieldChange::Append { path, .. } => {
                return Err(ResponseError::new(
                    "ErrorInvalidPropertyAppend",
                    &format!(
                        "Append action is invalid for property {}: a task's properties are set or deleted, not appended to.",
                        crate::ews::path_name(path)
                    ),
                ));
            }
            ItemFieldChange::Delete { path } => task::delete_field(t, path).map_err(refused)?,
        }
    }
    check_recurrence(t)?;
    t.settle(now);
    if !was_complete && t.is_complete() {
        return Ok(t.complete_occurrence(now));
    }
    if let Some(mut series) = before.filter(|b| moves_an_occurrence(b, t))
        && series.skip_occurrence(now)
    {
        let one_off = Task {
            recurrence: None,
            ..std::mem::replace(t, series)
        };
        return Ok(Some(one_off));
    }
    Ok(None)
}

/// Whether an update (`before` → `after`) moved the start or due date of the current
/// occurrence of a non-regenerating recurring task, leaving its recurrence as it was.
fn moves_an_occurrence(before: &Task, after: &Task) -> bool {
    matches!(before.recurrence, Some(TaskRecurrence::Pattern(_)))
        && after.recurrence == before.recurrence
        && (after.start_date != before.start_date || after.due_date != before.due_date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ews_proto::task::TaskStatus;
    use time::macros::datetime;

    #[test]
    fn a_new_task_is_settled_and_its_recurrence_checked() {
        let now = datetime!(2030-01-02 03:04:05 UTC);
        let t = Task {
            status: Some(TaskStatus::Completed),
            ..Task::default()
        };
        let back = Task::from_storage(&new_task(t, now).unwrap()).unwrap();
        assert_eq!(back.percent(), 100.0);
        assert_eq!(back.complete_date, Some(now));
        // a plain task is not started
        let back = Task::from_storage(&new_task(Task::default(), now).unwrap()).unwrap();
        assert_eq!(back.status(), TaskStatus::NotStarted);
        assert_eq!(back.complete_date, None);
    }
}
