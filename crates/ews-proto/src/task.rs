//! Tasks (`t:Task`, `t:TaskType`): the properties a task keeps, read from a CreateItem or an
//! UpdateItem change, changed one property at a time, kept consistent the way Exchange keeps
//! them ([`Task::settle`]), and written back in schema order.
//!
//! The store keeps a [`Task`] as JSON beside the item (its serde form is the storage form: keep
//! field names stable), so this module is the single place that knows the task schema.
//!
//! # Status, percent complete and completion
//!
//! Exchange couples `t:Status`, `t:PercentComplete` and the completion date (its
//! `Microsoft.Exchange.Data.Storage.Task` and the EWS property commands for the three), and the
//! property processed last wins (the EWS reference of `t:Status` and `t:PercentComplete`:
//! "Setting CompleteDate has the same effect as setting PercentComplete to 100 or Status to
//! Completed … the last processed property will determine the value"):
//!
//! * setting `Status` to `Completed`, or `PercentComplete` to 100, completes the task: status
//!   `Completed`, 100 %, completed now (again now when it was already complete);
//! * setting `Status` to another value clears the completion date; `NotStarted` sets 0 %, the
//!   others keep the percentage unless it was 100, which becomes 0;
//! * setting `PercentComplete` below 100: 0 makes the task `NotStarted`; another value makes a
//!   `Completed` or `NotStarted` task `InProgress` (a `WaitingOnOthers` or `Deferred` task keeps
//!   its status); a change of status clears the completion date. Setting the percentage the
//!   task already has changes nothing.
//!
//! [`set_field`] applies these rules as each UpdateItem change arrives (the order of the changes
//! is the order they are processed in); [`Task::settle`] applies them to a new task's properties
//! in schema order (`PercentComplete`, then `Status`) and stamps the completion date, and is
//! called once a CreateItem's task or an UpdateItem's changes are all read.
//!
//! # Not modelled
//!
//! Assigned tasks (task requests, `t:Owner`, `t:Delegator`, `t:DelegationState`, …). Of what
//! Exchange does to a recurring task, completing one occurrence ([`Task::complete_occurrence`])
//! and moving one ([`Task::skip_occurrence`], which the server uses to split the moved
//! occurrence off) are modelled; setting a recurrence does not move the start and due dates to
//! its first occurrence.

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

use crate::contact::{duplicate, leaf_text, one_of, path_text, utc_datetime};
use crate::error::{EwsProtoError, dn};
use crate::ns::TYPES;
use crate::recurrence::{TaskRecurrence, parse_task_recurrence, write_task_recurrence};
use crate::request::{invalid, set_once, unexpected};
use crate::types::{BaseShape, ItemShape, PropertyPath, format_xs_datetime, str_enum};
use crate::writer::XmlOut;
use crate::xml::{Element, is_xml_whitespace};

str_enum! {
    /// `t:Status` of a task (`TaskStatusType`).
    pub enum TaskStatus ("task status") {
        NotStarted = "NotStarted",
        InProgress = "InProgress",
        Completed = "Completed",
        WaitingOnOthers = "WaitingOnOthers",
        Deferred = "Deferred",
    }
}

impl TaskStatus {
    /// `t:StatusDescription`: the status as Exchange (and Outlook) words it in English.
    pub fn description(self) -> &'static str {
        match self {
            Self::NotStarted => "Not Started",
            Self::InProgress => "In Progress",
            Self::Completed => "Completed",
            Self::WaitingOnOthers => "Waiting on someone else",
            Self::Deferred => "Deferred",
        }
    }
}

impl Serialize for TaskStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TaskStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A task's own properties (those of `t:TaskType` a client can set), as stored, and the
/// completion date the server sets ([`Task::settle`]). Read-only properties (`IsComplete`,
/// `StatusDescription`, …) are derived on write.
///
/// `PartialEq` compares `percent_complete` with [`f64::total_cmp`], so that `Eq` holds (no value
/// this module reads is NaN or -0).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Task {
    /// `t:ActualWork`, in minutes.
    pub actual_work: Option<i32>,
    pub billing_information: Option<String>,
    pub companies: Vec<String>,
    /// `t:CompleteDate`: when the task was completed. Set by the server ([`Task::settle`]), never
    /// by a client (EWS clients' `t:CompleteDate` is refused as read-only); `None` unless the
    /// status is `Completed`.
    #[serde(with = "time::serde::rfc3339::option")]
    pub complete_date: Option<OffsetDateTime>,
    pub contacts: Vec<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub due_date: Option<OffsetDateTime>,
    pub mileage: Option<String>,
    /// `t:PercentComplete`, 0 to 100 (absent reads as 0).
    pub percent_complete: Option<f64>,
    /// `t:Recurrence` (kept as its XML, [`TaskRecurrence::to_storage`]).
    #[serde(with = "stored_recurrence")]
    pub recurrence: Option<TaskRecurrence>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub start_date: Option<OffsetDateTime>,
    /// `t:Status` (absent reads as `NotStarted`).
    pub status: Option<TaskStatus>,
    /// `t:TotalWork`, in minutes.
    pub total_work: Option<i32>,
}

impl PartialEq for Task {
    fn eq(&self, other: &Self) -> bool {
        // every member named, so that a new one cannot be forgotten here
        let Task {
            actual_work,
            billing_information,
            companies,
            complete_date,
            contacts,
            due_date,
            mileage,
            percent_complete,
            recurrence,
            start_date,
            status,
            total_work,
        } = self;
        let same_percent = match (percent_complete, other.percent_complete) {
            (Some(a), Some(b)) => a.total_cmp(&b).is_eq(),
            (a, b) => a.is_none() && b.is_none(),
        };
        same_percent
            && *actual_work == other.actual_work
            && *billing_information == other.billing_information
            && *companies == other.companies
            && *complete_date == other.complete_date
            && *contacts == other.contacts
            && *due_date == other.due_date
            && *mileage == other.mileage
            && *recurrence == other.recurrence
            && *start_date == other.start_date
            && *status == other.status
            && *total_work == other.total_work
    }
}

impl Eq for Task {}

/// The recurrence as an optional string of its stored XML.
mod stored_recurrence {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::recurrence::TaskRecurrence;

    pub fn serialize<S: Serializer>(r: &Option<TaskRecurrence>, s: S) -> Result<S::Ok, S::Error> {
        r.as_ref().map(TaskRecurrence::to_storage).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<TaskRecurrence>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| TaskRecurrence::from_storage(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// The longest value (in bytes) of one task property or list string a request may set (as for
/// contacts).
pub const MAX_VALUE_BYTES: usize = crate::contact::MAX_VALUE_BYTES;

/// The most strings a `t:Companies` or `t:Contacts` list may hold (as for contacts).
pub const MAX_LIST_ENTRIES: usize = crate::contact::MAX_LIST_ENTRIES;

/// The longest text [`Task::from_storage`] reads: a task at its limits (every value
/// [`MAX_VALUE_BYTES`] long, each byte escaped) stays below it.
pub const MAX_STORAGE_BYTES: usize = 1024 * 1024;

str_enum! {
    /// Every element of `t:TaskType`, in schema order (the writer's order).
    enum Prop ("task property") {
        ActualWork = "ActualWork",
        AssignedTime = "AssignedTime",
        BillingInformation = "BillingInformation",
        ChangeCount = "ChangeCount",
        Companies = "Companies",
        CompleteDate = "CompleteDate",
        Contacts = "Contacts",
        DelegationState = "DelegationState",
        Delegator = "Delegator",
        DueDate = "DueDate",
        IsAssignmentEditable = "IsAssignmentEditable",
        IsComplete = "IsComplete",
        IsRecurring = "IsRecurring",
        IsTeamTask = "IsTeamTask",
        Mileage = "Mileage",
        Owner = "Owner",
        PercentComplete = "PercentComplete",
        Recurrence = "Recurrence",
        StartDate = "StartDate",
        Status = "Status",
        StatusDescription = "StatusDescription",
        TotalWork = "TotalWork",
    }
}

impl Prop {
    /// Computed by Exchange (or kept for assigned tasks, which this server does not have): no
    /// client sets it.
    fn read_only(self) -> bool {
        matches!(
            self,
            Self::AssignedTime
                | Self::ChangeCount
                | Self::CompleteDate
                | Self::DelegationState
                | Self::Delegator
                | Self::IsAssignmentEditable
                | Self::IsComplete
                | Self::IsRecurring
                | Self::IsTeamTask
                | Self::Owner
                | Self::StatusDescription
        )
    }

    /// A DeleteItemField may remove it: not a read-only property, nor `Status` or
    /// `PercentComplete`, which a task always has (Exchange implements no delete for them).
    fn deletable(self) -> bool {
        !(self.read_only() || matches!(self, Self::Status | Self::PercentComplete))
    }

    /// Its bit in [`Selection::props`] (fewer than 64 properties).
    fn bit(self) -> u64 {
        1 << (self as u32)
    }
}

slots!(Task; text, text_mut, Option<String>, {
    BillingInformation => billing_information,
    Mileage => mileage,
}, text_key_of);

slots!(Task; work, work_mut, Option<i32>, {
    ActualWork => actual_work,
    TotalWork => total_work,
}, work_key_of);

slots!(Task; date, date_mut, Option<OffsetDateTime>, {
    DueDate => due_date,
    StartDate => start_date,
});

slots!(Task; list, list_mut, Vec<String>, {
    Companies => companies,
    Contacts => contacts,
});

impl Task {
    /// The storage form: JSON of the serde form. A date that RFC 3339 cannot carry (a year past
    /// 9999 or an offset with seconds, which no parsed `xs:dateTime` has) is left out.
    pub fn to_storage(&self) -> String {
        if let Ok(s) = serde_json::to_string(self) {
            return s;
        }
        // Only a date can fail to serialize (a percentage that is not finite is written as null).
        let mut t = self.clone();
        for d in [&mut t.complete_date, &mut t.due_date, &mut t.start_date] {
            if d.is_some_and(|v| {
                v.format(&time::format_description::well_known::Rfc3339)
                    .is_err()
            }) {
                *d = None;
            }
        }
        serde_json::to_string(&t).unwrap_or_else(|_| String::from("{}"))
    }

    /// Reads [`Task::to_storage`]'s text (at most [`MAX_STORAGE_BYTES`]); members it does not
    /// know are ignored, missing ones read as empty.
    pub fn from_storage(s: &str) -> Result<Self, serde_json::Error> {
        if s.len() > MAX_STORAGE_BYTES {
            return Err(<serde_json::Error as serde::de::Error>::custom(format!(
                "a stored task of {} bytes is longer than the limit of {MAX_STORAGE_BYTES} bytes",
                s.len()
            )));
        }
        serde_json::from_str(s)
    }

    /// No property is set.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// A new task's percentage complete, which parsing reads whatever number it is: one out
    /// of 0–100 is [`TaskFieldError::PercentOutOfRange`] (`ErrorInvalidPercentCompleteValue`).
    pub fn check_percent(&self) -> Result<(), TaskFieldError> {
        match self.percent_complete {
            Some(p) if !percent_in_range(p) => {
                Err(TaskFieldError::PercentOutOfRange(p.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// The status (`NotStarted` when none is stored).
    pub fn status(&self) -> TaskStatus {
        self.status.unwrap_or(TaskStatus::NotStarted)
    }

    /// The percentage complete (0 when none is stored).
    pub fn percent(&self) -> f64 {
        self.percent_complete.unwrap_or(0.0)
    }

    /// `t:IsComplete`: the status is `Completed`.
    pub fn is_complete(&self) -> bool {
        self.status() == TaskStatus::Completed
    }

    /// Makes the task consistent as Exchange leaves a task it saves, `now` being the server's
    /// clock:
    ///
    /// * its `PercentComplete` and `Status` are applied in schema order (the percentage, then
    ///   the status) to a task not started at 0 %, by the rules of the module documentation: a
    ///   new task's status wins over its percentage (`PercentComplete` 100 with `Status`
    ///   `NotStarted` is a task not started at 0 %), and a task [`set_field`] changed, which is
    ///   consistent already, keeps its status and percentage;
    /// * a `Completed` task keeps its completion date, or is completed `now` when it has none
    ///   (a new one, or one whose completion an update set again); any other has none;
    /// * a due date before the start date becomes the start date (Exchange moves it to keep
    ///   the span the dates had before the change, which a task alone does not know; a new
    ///   task's span is 0, as here, and exchangelib never sends a due date before the start).
    ///
    /// Afterwards `status` and `percent_complete` are set. A percentage outside 0–100 (which no
    /// parsed task has) is first brought into it. Settling twice changes nothing.
    pub fn settle(&mut self, now: OffsetDateTime) {
        let percent = self.percent_complete.take();
        let status = self.status.take();
        let kept = self.complete_date.take();
        self.status = Some(TaskStatus::NotStarted);
        self.percent_complete = Some(0.0);
        if let Some(p) = percent {
            self.apply_percent_complete(p);
        }
        if let Some(s) = status {
            self.apply_status(s);
        }
        self.complete_date = if self.is_complete() {
            kept.or(Some(now))
        } else {
            None
        };
        if let (Some(start), Some(due)) = (self.start_date, self.due_date)
            && due < start
        {
            self.due_date = Some(start);
        }
    }

    /// Completes one occurrence of a recurring task, as Exchange does when an update completes
    /// it (the EWS reference of UpdateItem for tasks: the response names "a newly created
    /// one-off task", and the recurring task "has been updated to represent the next
    /// occurrence"; MS-OXOTASK 3.1.4.6): returns the completed occurrence, a copy of this
    /// completed task without its recurrence, and moves this task to its next occurrence
    /// ([`Task::skip_occurrence`]). `None`, and the task left completed, when it is not
    /// recurring or this was its last occurrence.
    pub fn complete_occurrence(&mut self, now: OffsetDateTime) -> Option<Task> {
        self.recurrence.as_ref()?;
        let one_off = Task {
            recurrence: None,
            ..self.clone()
        };
        self.skip_occurrence(now).then_some(one_off)
    }

    /// Moves a recurring task to its next occurrence (the one after the day its start date
    /// names, or its due date without one, or its recurrence's start without either), a
    /// regenerating task to one its interval after `now`: its start date is that day, its due
    /// date keeps its distance from the start (MS-OXOTASK 3.1.4.6.2: without a start date the
    /// due date is that day), and the task is not started, at 0 %. The recurrence then starts
    /// on that day ([`TaskRecurrence::next_after`]). `false`, and nothing changed, when it is
    /// not recurring or this was its last occurrence.
    ///
    /// The day a stored date names: EWS clients send a task's dates as midnight on their own
    /// clock, and they are kept in UTC; the nearest midnight UTC is that day for a clock from
    /// 12 hours behind UTC to 12 hours ahead (this server does not read a request's
    /// `TimeZoneContext`), and the distance to it is the clock's offset, in which `now` is
    /// read.
    pub fn skip_occurrence(&mut self, now: OffsetDateTime) -> bool {
        let Some(recurrence) = &self.recurrence else {
            return false;
        };
        let (current, offset) = match self.start_date.or(self.due_date) {
            Some(t) => day_named(t),
            None => (recurrence.start_date(), UtcOffset::UTC),
        };
        let completed = now.to_offset(offset).date();
        let Some((next, moved)) = recurrence.next_after(current, completed) else {
            return false;
        };
        let shift = next - current;
        let (start, due) = match (self.start_date, self.due_date) {
            (None, None) => (None, Some(next.midnight().assume_utc())),
            (start, due) => {
                let moved = |t: Option<OffsetDateTime>| match t {
                    Some(t) => t.checked_add(shift).map(Some),
                    None => Some(None),
                };
                let (Some(start), Some(due)) = (moved(start), moved(due)) else {
                    return false;
                };
                (start, due)
            }
        };
        self.start_date = start;
        self.due_date = due;
        self.recurrence = Some(moved);
        self.status = Some(TaskStatus::NotStarted);
        self.percent_complete = Some(0.0);
        self.complete_date = None;
        true
    }

    /// Completes the task; its completion date is left for [`Task::settle`] to stamp.
    fn complete(&mut self) {
        self.status = Some(TaskStatus::Completed);
        self.percent_complete = Some(100.0);
        self.complete_date = None;
    }

    /// A `Status` set: Exchange's `TaskStatusProperty` (`SetStatusCompleted` for `Completed`,
    /// `SetStatusInternal` for the others).
    fn apply_status(&mut self, s: TaskStatus) {
        match s {
            TaskStatus::Completed => self.complete(),
            TaskStatus::NotStarted => {
                self.status = Some(s);
                self.complete_date = None;
                self.percent_complete = Some(0.0);
            }
            TaskStatus::InProgress | TaskStatus::WaitingOnOthers | TaskStatus::Deferred => {
                self.status = Some(s);
                self.complete_date = None;
                if self.percent() == 100.0 {
                    self.percent_complete = Some(0.0);
                }
            }
        }
    }

    /// A `PercentComplete` set: Exchange's `PercentCompleteProperty` (100 completes the task)
    /// and the store's `Task.PercentComplete` setter.
    fn apply_percent_complete(&mut self, p: f64) {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) } + 0.0;
        if p == 100.0 {
            self.complete();
            return;
        }
        if p == self.percent() && self.percent_complete.is_some() {
            return;
        }
        if p == 0.0 {
            self.status = Some(TaskStatus::NotStarted);
            self.complete_date = None;
        } else if matches!(
            self.status(),
            TaskStatus::Completed | TaskStatus::NotStarted
        ) {
            self.status = Some(TaskStatus::InProgress);
            self.complete_date = None;
        }
        self.percent_complete = Some(p);
    }
}

/// The day a task date kept in UTC names, and the offset of the clock it was midnight on (see
/// [`Task::skip_occurrence`]).
fn day_named(t: OffsetDateTime) -> (time::Date, UtcOffset) {
    let utc = t.to_offset(UtcOffset::UTC);
    let day = utc
        .checked_add(time::Duration::hours(12))
        .map_or(utc.date(), OffsetDateTime::date);
    let to_midnight = day.midnight().assume_utc() - utc;
    let offset = i32::try_from(to_midnight.whole_seconds())
        .ok()
        .and_then(|s| UtcOffset::from_whole_seconds(s).ok())
        .unwrap_or(UtcOffset::UTC);
    (day, offset)
}

// ======================================================================
// Reading (CreateItem, UpdateItem, responses)
// ======================================================================

/// A `t:ActualWork` or `t:TotalWork`: an `xs:int` of at least 0.
fn work_text(el: &Element) -> Result<i32, EwsProtoError> {
    leaf_text(el)?
        .trim_matches(is_xml_whitespace)
        .parse::<i32>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| invalid(el, dn(el), &el.text, "a whole number from 0 to 2147483647"))
}

/// A `t:PercentComplete`: an `xs:double` from 0 to 100.
/// The schema's type is checked here; the range (0 to 100) is the item's to answer
/// (`ErrorInvalidPercentCompleteValue`, [`Task::check_percent`] and [`set_field`]), as Exchange
/// answers a well-formed number out of range for the item alone.
fn percent_text(el: &Element) -> Result<f64, EwsProtoError> {
    leaf_text(el)?
        .trim_matches(is_xml_whitespace)
        .parse::<f64>()
        .ok()
        // (-0 is 0)
        .map(|v| v + 0.0)
        .ok_or_else(|| invalid(el, dn(el), &el.text, "a number (xs:double) from 0 to 100"))
}

/// Whether a percentage complete is one a task can have: a number from 0 to 100.
fn percent_in_range(p: f64) -> bool {
    (0.0..=100.0).contains(&p)
}

fn status_text(el: &Element) -> Result<TaskStatus, EwsProtoError> {
    let value = leaf_text(el)?.trim_matches(is_xml_whitespace);
    value.parse().map_err(|_| {
        let names: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.as_str()).collect();
        invalid(el, dn(el), &el.text, &one_of(&names))
    })
}

/// Reads `child`, a child of the task element `parent`, into `t` when it is one of the task
/// properties a client sets, and answers whether it was. Another element (an `t:ItemType` one,
/// which the caller reads) answers false.
///
/// Refused: a property given twice ([`EwsProtoError::DuplicateElement`]), a read-only property
/// ([`EwsProtoError::ReadOnlyProperty`]: `t:CompleteDate`, `t:IsComplete`,
/// `t:StatusDescription`, …), an unknown status, a work that is not a whole number from 0, a
/// percentage that is not a number ([`EwsProtoError::InvalidValue`]; one out of 0–100 is read,
/// for the item to refuse: [`Task::check_percent`]), a malformed
/// date ([`EwsProtoError::InvalidDateTime`]), a malformed recurrence (as
/// [`crate::recurrence::task_recurrence_of`] refuses it), a value longer than
/// [`MAX_VALUE_BYTES`] and a list of more than [`MAX_LIST_ENTRIES`] strings.
pub(crate) fn parse_task_child(
    t: &mut Task,
    parent: &Element,
    child: &Element,
) -> Result<bool, EwsProtoError> {
    if &*child.ns != TYPES {
        return Ok(false);
    }
    let Ok(p) = child.local.parse::<Prop>() else {
        return Ok(false);
    };
    if p.read_only() {
        return Err(EwsProtoError::ReadOnlyProperty {
            element: dn(child),
            position: child.position(),
        });
    }
    match p {
        Prop::Status => set_once(&mut t.status, parent, child, status_text(child)?)?,
        Prop::PercentComplete => {
            set_once(&mut t.percent_complete, parent, child, percent_text(child)?)?
        }
        Prop::Recurrence => set_once(
            &mut t.recurrence,
            parent,
            child,
            parse_task_recurrence(child)?,
        )?,
        _ => {
            if let Some(slot) = text_mut(t, p) {
                set_once(slot, parent, child, leaf_text(child)?.to_owned())?;
            } else if let Some(slot) = work_mut(t, p) {
                set_once(slot, parent, child, work_text(child)?)?;
            } else if let Some(slot) = date_mut(t, p) {
                if let Some(first) = child.children.first() {
                    return Err(unexpected(child, first));
                }
                set_once(slot, parent, child, utc_datetime(child)?)?;
            } else if let Some(slot) = list_mut(t, p) {
                if !slot.is_empty() {
                    return Err(duplicate(parent, child, dn(child)));
                }
                if child.children.len() > MAX_LIST_ENTRIES {
                    return Err(EwsProtoError::TooManyEntries {
                        parent: dn(child),
                        what: "t:String entries",
                        limit: MAX_LIST_ENTRIES,
                        position: child.position(),
                    });
                }
                for s in &child.children {
                    if !s.is(TYPES, "String") {
                        return Err(unexpected(child, s));
                    }
                    slot.push(leaf_text(s)?.to_owned());
                }
            } else {
                // every settable property has a slot above
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// The task properties of an item element written by a server (a GetItem answer, read on a
/// client's side): the settable ones, and `t:CompleteDate`; the other read-only ones (derived)
/// are not kept.
pub(crate) fn task_of_answer(el: &Element) -> Result<Task, EwsProtoError> {
    let mut t = Task::default();
    for child in &el.children {
        match parse_task_child(&mut t, el, child) {
            Ok(_) => {}
            Err(EwsProtoError::ReadOnlyProperty { .. }) => {
                if child.is(TYPES, "CompleteDate") {
                    if let Some(first) = child.children.first() {
                        return Err(unexpected(child, first));
                    }
                    set_once(&mut t.complete_date, el, child, utc_datetime(child)?)?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(t)
}

// ======================================================================
// Property paths: shapes and UpdateItem
// ======================================================================

/// The property a `task:` `t:FieldURI` names.
fn target(path: &PropertyPath) -> Option<Prop> {
    match path {
        PropertyPath::Field(f) => f.strip_prefix("task:")?.parse().ok(),
        PropertyPath::Indexed { .. } | PropertyPath::Extended(_) | PropertyPath::Exception(_) => {
            None
        }
    }
}

/// A `task:` `t:FieldURI` or `t:IndexedFieldURI` (whether or not it names a property this
/// module knows; tasks have no indexed property).
pub fn is_task_path(path: &PropertyPath) -> bool {
    match path {
        PropertyPath::Field(f) => f.starts_with("task:"),
        PropertyPath::Indexed { field_uri, .. } => field_uri.starts_with("task:"),
        PropertyPath::Extended(_) | PropertyPath::Exception(_) => false,
    }
}

/// The member of the storage form ([`Task::to_storage`]) that holds the plain text property
/// `path` names (`task:BillingInformation` → `billing_information`, `task:Mileage` →
/// `mileage`), for sorting on it; `None` for any other path.
pub fn text_key(path: &PropertyPath) -> Option<&'static str> {
    text_key_of(target(path)?)
}

/// The member of the storage form that holds the number `path` names (`task:ActualWork` →
/// `actual_work`, `task:TotalWork` → `total_work`, `task:PercentComplete` →
/// `percent_complete`), for sorting or comparing on it as a number; `None` for any other path.
pub fn number_key(path: &PropertyPath) -> Option<&'static str> {
    match target(path)? {
        Prop::PercentComplete => Some("percent_complete"),
        p => work_key_of(p),
    }
}

/// The JSON path (SQLite's `json_extract` syntax) in the storage form of the value `path` names,
/// for searching on it: a plain text property ([`text_key`]: text), `task:Status` (`$.status`:
/// the status's EWS name, `NotStarted` …) or a number ([`number_key`]: a JSON number). `None`
/// for any other path (dates, lists, the recurrence, read-only properties). Only fixed names go
/// into it. A settled task ([`Task::settle`]) always has a status and a percentage.
pub fn search_path(path: &PropertyPath) -> Option<String> {
    let key = match target(path)? {
        Prop::Status => "status",
        _ => text_key(path).or_else(|| number_key(path))?,
    };
    Some(format!("$.{key}"))
}

/// The properties of a shape, read once per item written.
#[derive(Debug, Default)]
struct Selection {
    /// Default and AllProperties: every property that has a value.
    all: bool,
    /// Bits of [`Prop::bit`].
    props: u64,
}

impl Selection {
    fn for_shape(shape: &ItemShape) -> Self {
        let mut s = Self {
            all: shape.base_shape != BaseShape::IdOnly,
            ..Self::default()
        };
        for p in shape.additional.iter().filter_map(target) {
            s.props |= p.bit();
        }
        s
    }

    fn prop(&self, p: Prop) -> bool {
        self.all || self.props & p.bit() != 0
    }
}

// ======================================================================
// Writing
// ======================================================================

/// `t:PercentComplete` as Exchange writes it (.NET's invariant `ToString` of a double): `0`,
/// `50`, `100`, `12.5`.
fn percent_str(v: f64) -> String {
    // (+ 0.0: never "-0")
    format!("{}", v + 0.0)
}

fn write_date(w: &mut XmlOut, name: &str, v: OffsetDateTime) {
    // (a stored date the writer cannot carry is left out, never a panic)
    if let Some(u) = v.checked_to_offset(UtcOffset::UTC) {
        w.leaf(name, &format_xs_datetime(u));
    }
}

/// Writes the task's own elements of a `t:Task` (after its `t:ItemType` elements), in schema
/// order: under the Default and AllProperties shapes every property that has a value, under
/// IdOnly those `shape.additional` names (a `task:` `t:FieldURI`). Besides the stored properties,
/// as Exchange answers for a task of the mailbox's own: `t:ChangeCount` (1), `t:CompleteDate`
/// (of a completed task), `t:IsComplete`, `t:IsRecurring`, `t:PercentComplete` and `t:Status`
/// (0 and `NotStarted` when none is stored) and `t:StatusDescription`. The properties of
/// assigned tasks (`t:AssignedTime`, `t:DelegationState`, `t:Delegator`,
/// `t:IsAssignmentEditable`, `t:IsTeamTask`, `t:Owner`) are not written. Empty lists and absent
/// values are not written.
pub(crate) fn write_task_fields(w: &mut XmlOut, t: &Task, shape: &ItemShape) {
    let s = Selection::for_shape(shape);
    let status = t.status();
    for &p in Prop::ALL {
        if !s.prop(p) {
            continue;
        }
        let name = format!("t:{}", p.as_str());
        match p {
            Prop::AssignedTime
            | Prop::DelegationState
            | Prop::Delegator
            | Prop::IsAssignmentEditable
            | Prop::IsTeamTask
            | Prop::Owner => {}
            Prop::ChangeCount => w.leaf(&name, "1"),
            Prop::CompleteDate => {
                if status == TaskStatus::Completed
                    && let Some(d) = t.complete_date
                {
                    write_date(w, &name, d);
                }
            }
            Prop::IsComplete => w.leaf(&name, bool_str(t.is_complete())),
            Prop::IsRecurring => w.leaf(&name, bool_str(t.recurrence.is_some())),
            Prop::PercentComplete => w.leaf(&name, &percent_str(t.percent())),
            Prop::Recurrence => {
                if let Some(r) = &t.recurrence {
                    write_task_recurrence(w, r);
                }
            }
            Prop::Status => w.leaf(&name, status.as_str()),
            Prop::StatusDescription => w.leaf(&name, status.description()),
            _ => {
                if let Some(Some(v)) = text(t, p) {
                    w.leaf(&name, v);
                } else if let Some(Some(v)) = work(t, p) {
                    w.leaf(&name, &v.to_string());
                } else if let Some(Some(v)) = date(t, p) {
                    write_date(w, &name, *v);
                } else if let Some(l) = list(t, p)
                    && !l.is_empty()
                {
                    w.start(&name, &[]);
                    for v in l {
                        w.leaf("t:String", v);
                    }
                    w.end(&name);
                }
            }
        }
    }
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

// ======================================================================
// UpdateItem: one property at a time
// ======================================================================

/// Why [`set_field`] or [`delete_field`] refused a property path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskFieldError {
    /// The path names no task property (an unknown `task:` name, an indexed `task:` path, or a
    /// path outside `task:`).
    #[error("{0} is not a task property this server can change")]
    NotSettable(String),
    /// A SetItemField or AppendToItemField of a read-only task property (`task:IsComplete`, …).
    #[error("the task property {0} is read-only: Exchange computes it, a client cannot set it")]
    ReadOnly(String),
    /// A DeleteItemField of a property a task always has (`task:Status`,
    /// `task:PercentComplete`) or of a read-only one.
    #[error("the task property {0} cannot be deleted; set it instead")]
    NotDeletable(String),
    /// A SetItemField or AppendToItemField whose `t:Task` lacks the property its path names.
    #[error("the t:Task of the change for {0} does not contain that property")]
    Missing(String),
    /// A `t:PercentComplete` that is a number but not one from 0 to 100.
    #[error("PercentComplete must be a number from 0 to 100, not {0}")]
    PercentOutOfRange(String),
}

impl TaskFieldError {
    /// The EWS response code: `ErrorInvalidPropertyRequest` for a path that names no task
    /// property, `ErrorInvalidPropertySet` for a read-only one set, `ErrorInvalidPropertyDelete`
    /// for one that cannot be deleted, `ErrorUpdatePropertyMismatch` (the path does not match
    /// the property the item element sets) for a missing value, `ErrorInvalidPercentCompleteValue`
    /// for a percentage out of range.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotSettable(_) => "ErrorInvalidPropertyRequest",
            Self::ReadOnly(_) => "ErrorInvalidPropertySet",
            Self::NotDeletable(_) => "ErrorInvalidPropertyDelete",
            Self::Missing(_) => "ErrorUpdatePropertyMismatch",
            Self::PercentOutOfRange(_) => "ErrorInvalidPercentCompleteValue",
        }
    }
}

/// A `t:SetItemField` (or `t:AppendToItemField`) of a task: copies the one property `path`
/// names from `partial`, the task properties of the change's item element, into `stored`. A
/// `task:Status` or `task:PercentComplete` is applied by Exchange's rules (module
/// documentation): the status, percentage and completion date change together; call
/// [`Task::settle`] once the item's changes are applied, to stamp a completion.
pub fn set_field(
    stored: &mut Task,
    path: &PropertyPath,
    partial: &Task,
) -> Result<(), TaskFieldError> {
    let p = target(path).ok_or_else(|| TaskFieldError::NotSettable(path_text(path)))?;
    if p.read_only() {
        return Err(TaskFieldError::ReadOnly(path_text(path)));
    }
    fn put<T: Clone>(to: Option<&mut T>, from: Option<&T>, present: impl Fn(&T) -> bool) -> bool {
        match (to, from) {
            (Some(to), Some(from)) if present(from) => {
                *to = from.clone();
                true
            }
            _ => false,
        }
    }
    let copied = match p {
        Prop::Status => partial.status.map(|s| stored.apply_status(s)).is_some(),
        Prop::PercentComplete => match partial.percent_complete {
            Some(v) if !percent_in_range(v) => {
                return Err(TaskFieldError::PercentOutOfRange(v.to_string()));
            }
            Some(v) => {
                stored.apply_percent_complete(v);
                true
            }
            None => false,
        },
        Prop::Recurrence => put(
            Some(&mut stored.recurrence),
            Some(&partial.recurrence),
            |r| r.is_some(),
        ),
        _ => {
            put(text_mut(stored, p), text(partial, p), Option::is_some)
                || put(work_mut(stored, p), work(partial, p), Option::is_some)
                || put(date_mut(stored, p), date(partial, p), Option::is_some)
                || put(list_mut(stored, p), list(partial, p), |l| !l.is_empty())
        }
    };
    if copied {
        Ok(())
    } else {
        Err(TaskFieldError::Missing(path_text(path)))
    }
}

/// A `t:DeleteItemField` of a task: removes the property `path` names. Deleting the due date
/// removes the start date with it (as Exchange does). Deleting what is not set succeeds;
/// `task:Status`, `task:PercentComplete` and the read-only properties cannot be deleted.
pub fn delete_field(stored: &mut Task, path: &PropertyPath) -> Result<(), TaskFieldError> {
    let p = target(path).ok_or_else(|| TaskFieldError::NotSettable(path_text(path)))?;
    if !p.deletable() {
        return Err(TaskFieldError::NotDeletable(path_text(path)));
    }
    match p {
        Prop::Recurrence => stored.recurrence = None,
        Prop::DueDate => {
            stored.due_date = None;
            stored.start_date = None;
        }
        _ => {
            if let Some(v) = text_mut(stored, p) {
                *v = None;
            } else if let Some(v) = work_mut(stored, p) {
                *v = None;
            } else if let Some(v) = date_mut(stored, p) {
                *v = None;
            } else if let Some(v) = list_mut(stored, p) {
                v.clear();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recurrence::{Pattern, RangeEnd, Recurrence, Regeneration};
    use crate::xml::{Limits, parse};
    use time::macros::date;

    fn element(inner: &str) -> Element {
        let xml = format!(r#"<t:Task xmlns:t="{TYPES}">{inner}</t:Task>"#);
        parse(xml.as_bytes(), &Limits::default()).expect("well-formed")
    }

    /// Every child read as a task property.
    fn read(inner: &str) -> Result<Task, EwsProtoError> {
        let el = element(inner);
        let mut t = Task::default();
        for child in &el.children {
            assert!(
                parse_task_child(&mut t, &el, child)?,
                "{} is not a task property",
                child.local
            );
        }
        Ok(t)
    }

    fn at(s: &str) -> OffsetDateTime {
        crate::types::parse_xs_datetime(s).expect("date")
    }

    fn field(f: &str) -> PropertyPath {
        PropertyPath::Field(f.to_owned())
    }

    fn weekly() -> TaskRecurrence {
        TaskRecurrence::Pattern(Recurrence {
            pattern: Pattern::Weekly {
                interval: 1,
                days: vec![time::Weekday::Monday, time::Weekday::Wednesday],
                first_day_of_week: time::Weekday::Monday,
            },
            start_date: date!(2026 - 03 - 02),
            end: RangeEnd::Numbered(10),
        })
    }

    /// A task with every settable property, as read from a request (not settled).
    fn report() -> Task {
        Task {
            actual_work: Some(90),
            billing_information: Some("Project X & Y".into()),
            companies: vec!["Contoso".into(), "Fabrikam".into()],
            complete_date: None,
            contacts: vec!["Bob Jones".into()],
            due_date: Some(at("2026-03-06T00:00:00Z")),
            mileage: Some("12 km".into()),
            percent_complete: Some(50.0),
            recurrence: Some(weekly()),
            start_date: Some(at("2026-03-02T00:00:00Z")),
            status: Some(TaskStatus::InProgress),
            total_work: Some(240),
        }
    }

    const REPORT: &str = concat!(
        "<t:ActualWork>90</t:ActualWork><t:BillingInformation>Project X &amp; Y</t:BillingInformation>",
        "<t:Companies><t:String>Contoso</t:String><t:String>Fabrikam</t:String></t:Companies>",
        "<t:Contacts><t:String>Bob Jones</t:String></t:Contacts>",
        "<t:DueDate>2026-03-06T00:00:00Z</t:DueDate><t:Mileage>12 km</t:Mileage>",
        "<t:PercentComplete> 50 </t:PercentComplete>",
        "<t:Recurrence><t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday Wednesday</t:DaysOfWeek>",
        "<t:FirstDayOfWeek>Monday</t:FirstDayOfWeek></t:WeeklyRecurrence>",
        "<t:NumberedRecurrence><t:StartDate>2026-03-02</t:StartDate><t:NumberOfOccurrences>10</t:NumberOfOccurrences>",
        "</t:NumberedRecurrence></t:Recurrence>",
        "<t:StartDate>2026-03-02T01:00:00+01:00</t:StartDate><t:Status>InProgress</t:Status>",
        "<t:TotalWork>240</t:TotalWork>",
    );

    fn written(t: &Task, shape: &ItemShape) -> String {
        let mut w = XmlOut::new();
        write_task_fields(&mut w, t, shape);
        String::from_utf8(w.finish())
            .expect("utf-8")
            .replace("><", ">\n<")
    }

    fn settled(mut t: Task, now: OffsetDateTime) -> Task {
        t.settle(now);
        t
    }

    #[test]
    fn reads_every_settable_property() {
        assert_eq!(read(REPORT).expect("reads"), report());
        // a regeneration pattern, and the number forms of xs:int and xs:double
        let t = read(concat!(
            "<t:ActualWork>+007</t:ActualWork><t:PercentComplete>1.25E1</t:PercentComplete>",
            "<t:Recurrence><t:NoEndRecurrence><t:StartDate>2026-03-02</t:StartDate></t:NoEndRecurrence>",
            "<t:DailyRegeneration><t:Interval>3</t:Interval></t:DailyRegeneration></t:Recurrence>",
            "<t:Status>Deferred</t:Status>",
        ))
        .expect("reads");
        assert_eq!(t.actual_work, Some(7));
        assert_eq!(t.percent_complete, Some(12.5));
        assert_eq!(
            t.recurrence,
            Some(TaskRecurrence::Regeneration {
                regeneration: Regeneration::Daily { interval: 3 },
                start_date: date!(2026 - 03 - 02),
                end: RangeEnd::NoEnd,
            })
        );
        assert_eq!(t.status, Some(TaskStatus::Deferred));
        // -0 is 0
        let t = read("<t:PercentComplete>-0</t:PercentComplete>").expect("reads");
        assert!(t.percent().is_sign_positive());
    }

    #[test]
    fn item_type_and_foreign_elements_are_left_to_the_caller() {
        let el = element(
            r#"<t:Subject>x</t:Subject><t:ReminderIsSet>0</t:ReminderIsSet><t:DoItTime>2026-01-01T00:00:00Z</t:DoItTime><x:Status xmlns:x="urn:x">y</x:Status>"#,
        );
        let mut t = Task::default();
        for child in &el.children {
            assert_eq!(parse_task_child(&mut t, &el, child), Ok(false));
        }
        assert!(t.is_empty());
    }

    /// Each refusal, with the variant and what it names.
    #[test]
    fn refusals_are_precise() {
        type Check = fn(&EwsProtoError) -> bool;
        let long = "x".repeat(MAX_VALUE_BYTES + 1);
        let many = "<t:String>a</t:String>".repeat(MAX_LIST_ENTRIES + 1);
        let cases: Vec<(String, Check)> = vec![
            (
                "<t:IsComplete>true</t:IsComplete>".into(),
                |e| matches!(e, EwsProtoError::ReadOnlyProperty { element, .. } if element == "t:IsComplete"),
            ),
            (
                "<t:Mileage>1</t:Mileage><t:Mileage>2</t:Mileage>".into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { parent, name, .. } if parent == "t:Task" && name == "t:Mileage"),
            ),
            (
                "<t:Status>Done</t:Status>".into(),
                |e| matches!(e, EwsProtoError::InvalidValue { context, value, expected, .. }
                    if context == "t:Status" && value == "Done"
                        && expected == "one of: NotStarted, InProgress, Completed, WaitingOnOthers, Deferred"),
            ),
            (
                "<t:Status>NotStarted</t:Status><t:Status>Completed</t:Status>".into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { name, .. } if name == "t:Status"),
            ),
            (
                "<t:PercentComplete>half</t:PercentComplete>".into(),
                |e| matches!(e, EwsProtoError::InvalidValue { context, value, expected, .. }
                    if context == "t:PercentComplete" && value == "half" && expected == "a number (xs:double) from 0 to 100"),
            ),
            (
                "<t:PercentComplete>1</t:PercentComplete><t:PercentComplete>2</t:PercentComplete>".into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { name, .. } if name == "t:PercentComplete"),
            ),
            (
                "<t:ActualWork>-5</t:ActualWork>".into(),
                |e| matches!(e, EwsProtoError::InvalidValue { context, value, expected, .. }
                    if context == "t:ActualWork" && value == "-5" && expected == "a whole number from 0 to 2147483647"),
            ),
            (
                "<t:TotalWork>2147483648</t:TotalWork>".into(),
                |e| matches!(e, EwsProtoError::InvalidValue { context, .. } if context == "t:TotalWork"),
            ),
            (
                "<t:TotalWork>1.5</t:TotalWork>".into(),
                |e| matches!(e, EwsProtoError::InvalidValue { context, .. } if context == "t:TotalWork"),
            ),
            (
                "<t:DueDate>2026-03-06</t:DueDate>".into(),
                |e| matches!(e, EwsProtoError::InvalidDateTime { context, value, .. }
                    if context == "t:DueDate" && value == "2026-03-06"),
            ),
            (
                "<t:StartDate>9999-12-31T23:00:00-02:00</t:StartDate>".into(),
                |e| matches!(e, EwsProtoError::InvalidDateTime { context, .. } if context == "t:StartDate"),
            ),
            (
                "<t:DueDate><t:B/></t:DueDate>".into(),
                |e| matches!(e, EwsProtoError::UnexpectedElement { parent, found, .. } if parent == "t:DueDate" && found == "t:B"),
            ),
            (
                "<t:Mileage><t:B>x</t:B></t:Mileage>".into(),
                |e| matches!(e, EwsProtoError::UnexpectedElement { parent, found, .. } if parent == "t:Mileage" && found == "t:B"),
            ),
            (
                "<t:Contacts><t:Item>x</t:Item></t:Contacts>".into(),
                |e| matches!(e, EwsProtoError::UnexpectedElement { found, .. } if found == "t:Item"),
            ),
            (
                "<t:Companies><t:String>a</t:String></t:Companies><t:Companies><t:String>b</t:String></t:Companies>".into(),
                |e| matches!(e, EwsProtoError::DuplicateElement { name, .. } if name == "t:Companies"),
            ),
            (
                format!("<t:Contacts>{many}</t:Contacts>"),
                |e| matches!(e, EwsProtoError::TooManyEntries { parent, limit: MAX_LIST_ENTRIES, .. } if parent == "t:Contacts"),
            ),
            (
                format!("<t:BillingInformation>{long}</t:BillingInformation>"),
                |e| matches!(e, EwsProtoError::InvalidValue { context, expected, .. }
                    if context == "t:BillingInformation" && expected == "a value of at most 4096 bytes"),
            ),
            (
                format!("<t:Companies><t:String>{long}</t:String></t:Companies>"),
                |e| matches!(e, EwsProtoError::InvalidValue { context, .. } if context == "t:String"),
            ),
            (
                "<t:Recurrence><t:DailyRegeneration><t:Interval>1</t:Interval></t:DailyRegeneration></t:Recurrence>".into(),
                |e| matches!(e, EwsProtoError::MissingElement { parent, name, .. }
                    if parent == "t:Recurrence" && name.starts_with("a range")),
            ),
            (
                "<t:Recurrence><t:NoEndRecurrence><t:StartDate>2026-03-02</t:StartDate></t:NoEndRecurrence></t:Recurrence>".into(),
                |e| matches!(e, EwsProtoError::MissingElement { name, .. } if name.contains("t:DailyRegeneration")),
            ),
        ];
        for (inner, check) in cases {
            match read(&inner) {
                Err(e) => assert!(check(&e), "{inner}: wrong error {e:?}"),
                Ok(t) => panic!("{inner}: accepted as {t:?}"),
            }
        }
    }

    #[test]
    fn every_read_only_property_is_refused_and_answers_invalid_property_set() {
        let read_only: Vec<&str> = Prop::ALL
            .iter()
            .filter(|p| p.read_only())
            .map(|p| p.as_str())
            .collect();
        assert_eq!(
            read_only,
            [
                "AssignedTime",
                "ChangeCount",
                "CompleteDate",
                "DelegationState",
                "Delegator",
                "IsAssignmentEditable",
                "IsComplete",
                "IsRecurring",
                "IsTeamTask",
                "Owner",
                "StatusDescription",
            ],
            "those exchangelib marks read-only"
        );
        for name in read_only {
            let e = read(&format!("<t:{name}>x</t:{name}>")).expect_err(name);
            assert_eq!(
                e,
                EwsProtoError::ReadOnlyProperty {
                    element: format!("t:{name}"),
                    position: e.position().expect("position"),
                }
            );
            assert_eq!(e.response_code(), "ErrorInvalidPropertySet");
        }
    }

    #[test]
    fn storage_round_trips_and_is_bounded() {
        let mut t = settled(report(), at("2026-03-03T10:00:00Z"));
        t.apply_status(TaskStatus::Completed);
        t.settle(at("2026-03-04T09:30:00Z"));
        let stored = t.to_storage();
        assert_eq!(Task::from_storage(&stored).expect("reads"), t);
        for member in [
            r#""status":"Completed""#,
            r#""percent_complete":100.0"#,
            r#""complete_date":"2026-03-04T09:30:00Z""#,
            r#""recurrence":"<t:Recurrence xmlns:t="#,
        ] {
            assert!(stored.contains(member), "{member} in {stored}");
        }
        assert!(Task::default().is_empty());
        assert!(!t.is_empty());
        assert_eq!(Task::from_storage("{}").expect("empty"), Task::default());
        assert!(
            Task::from_storage(r#"{"status":"Done"}"#).is_err(),
            "an unknown status"
        );
        assert!(
            Task::from_storage(r#"{"recurrence":"<x/>"}"#).is_err(),
            "a recurrence that does not read"
        );
        let big = format!("{stored}{}", " ".repeat(MAX_STORAGE_BYTES));
        let e = Task::from_storage(&big).expect_err("too long");
        assert!(e.to_string().contains("longer than the limit"), "{e}");
        // a task at its limits, every byte escaped, stays below the limit
        let value = "\"".repeat(MAX_VALUE_BYTES);
        let full = Task {
            billing_information: Some(value.clone()),
            mileage: Some(value.clone()),
            companies: vec![value.clone(); MAX_LIST_ENTRIES],
            contacts: vec![value; MAX_LIST_ENTRIES],
            ..t.clone()
        };
        let stored = full.to_storage();
        assert!(stored.len() < MAX_STORAGE_BYTES, "{}", stored.len());
        assert_eq!(Task::from_storage(&stored).expect("reads"), full);
        // a date RFC 3339 cannot carry is left out, the rest kept
        let mut odd = t.clone();
        let with_seconds = UtcOffset::from_hms(1, 0, 30).expect("offset");
        odd.due_date = Some(at("2026-03-06T00:00:00Z").to_offset(with_seconds));
        let back = Task::from_storage(&odd.to_storage()).expect("reads");
        assert_eq!(back.due_date, None);
        assert_eq!(back.start_date, t.start_date);
    }

    /// `(percent, status)` of a new task as given, and as settled.
    #[test]
    fn settle_applies_a_new_tasks_percentage_then_its_status() {
        use TaskStatus::*;
        let now = at("2026-03-03T10:00:00Z");
        let cases: &[(Option<f64>, Option<TaskStatus>, f64, TaskStatus)] = &[
            (None, None, 0.0, NotStarted),
            (Some(50.0), None, 50.0, InProgress),
            (Some(100.0), None, 100.0, Completed),
            (Some(0.0), None, 0.0, NotStarted),
            (None, Some(Completed), 100.0, Completed),
            (None, Some(InProgress), 0.0, InProgress),
            (Some(50.0), Some(InProgress), 50.0, InProgress),
            (Some(50.0), Some(Completed), 100.0, Completed),
            // the documented example: the status, processed last, wins
            (Some(100.0), Some(NotStarted), 0.0, NotStarted),
            (Some(50.0), Some(NotStarted), 0.0, NotStarted),
            (Some(100.0), Some(InProgress), 0.0, InProgress),
            (Some(100.0), Some(WaitingOnOthers), 0.0, WaitingOnOthers),
            (Some(30.0), Some(WaitingOnOthers), 30.0, WaitingOnOthers),
            (Some(30.0), Some(Deferred), 30.0, Deferred),
            (Some(0.0), Some(Deferred), 0.0, Deferred),
        ];
        for &(percent, status, want_percent, want_status) in cases {
            let t = settled(
                Task {
                    percent_complete: percent,
                    status,
                    ..Task::default()
                },
                now,
            );
            let case = format!("{percent:?} {status:?}");
            assert_eq!(t.percent_complete, Some(want_percent), "{case}");
            assert_eq!(t.status, Some(want_status), "{case}");
            let completed = (want_status == Completed).then_some(now);
            assert_eq!(t.complete_date, completed, "{case}");
            assert_eq!(
                settled(t.clone(), at("2027-01-01T00:00:00Z")),
                t,
                "{case}: settled twice"
            );
        }
    }

    #[test]
    fn settle_keeps_a_completion_date_and_clears_a_stale_one() {
        let first = at("2026-03-03T10:00:00Z");
        let done = settled(
            Task {
                status: Some(TaskStatus::Completed),
                ..Task::default()
            },
            first,
        );
        assert_eq!(done.complete_date, Some(first));
        assert_eq!(
            settled(done.clone(), at("2026-04-01T00:00:00Z")).complete_date,
            Some(first),
            "kept"
        );
        let stale = Task {
            status: Some(TaskStatus::InProgress),
            complete_date: Some(first),
            ..Task::default()
        };
        assert_eq!(settled(stale, first).complete_date, None);
        // a percentage out of range (no parsed task has one) is brought into it
        for (p, want) in [(f64::NAN, 0.0), (-3.0, 0.0), (250.0, 100.0)] {
            let t = settled(
                Task {
                    percent_complete: Some(p),
                    ..Task::default()
                },
                first,
            );
            assert_eq!(t.percent_complete, Some(want), "{p}");
        }
    }

    #[test]
    fn settle_moves_a_due_date_before_the_start() {
        let now = at("2026-03-03T10:00:00Z");
        let t = settled(
            Task {
                start_date: Some(at("2026-03-10T00:00:00Z")),
                due_date: Some(at("2026-03-06T00:00:00Z")),
                ..Task::default()
            },
            now,
        );
        assert_eq!(t.due_date, t.start_date);
        let t = settled(report(), now);
        assert_eq!(
            t.due_date,
            report().due_date,
            "a due date after the start is kept"
        );
    }

    fn partial_status(s: TaskStatus) -> Task {
        Task {
            status: Some(s),
            ..Task::default()
        }
    }

    fn partial_percent(p: f64) -> Task {
        Task {
            percent_complete: Some(p),
            ..Task::default()
        }
    }

    /// Exchange's rules, one UpdateItem change at a time, from a stored (settled) task.
    #[test]
    fn set_field_applies_exchanges_status_rules() {
        use TaskStatus::*;
        let now = at("2026-03-03T10:00:00Z");
        let later = at("2026-03-05T08:00:00Z");
        let stored = |p: f64, s: TaskStatus| {
            settled(
                Task {
                    percent_complete: Some(p),
                    status: Some(s),
                    ..Task::default()
                },
                now,
            )
        };
        let status = field("task:Status");
        let percent = field("task:PercentComplete");
        // (from, change, expected percentage and status)
        // (percentage, status)
        type State = (f64, TaskStatus);
        let cases: &[(State, (&PropertyPath, Task), State)] = &[
            (
                (0.0, NotStarted),
                (&status, partial_status(Completed)),
                (100.0, Completed),
            ),
            (
                (40.0, InProgress),
                (&status, partial_status(NotStarted)),
                (0.0, NotStarted),
            ),
            (
                (40.0, InProgress),
                (&status, partial_status(Deferred)),
                (40.0, Deferred),
            ),
            (
                (100.0, Completed),
                (&status, partial_status(InProgress)),
                (0.0, InProgress),
            ),
            (
                (100.0, Completed),
                (&status, partial_status(WaitingOnOthers)),
                (0.0, WaitingOnOthers),
            ),
            (
                (100.0, Completed),
                (&status, partial_status(NotStarted)),
                (0.0, NotStarted),
            ),
            (
                (0.0, NotStarted),
                (&percent, partial_percent(100.0)),
                (100.0, Completed),
            ),
            (
                (0.0, NotStarted),
                (&percent, partial_percent(25.0)),
                (25.0, InProgress),
            ),
            (
                (100.0, Completed),
                (&percent, partial_percent(25.0)),
                (25.0, InProgress),
            ),
            (
                (30.0, Deferred),
                (&percent, partial_percent(60.0)),
                (60.0, Deferred),
            ),
            (
                (30.0, WaitingOnOthers),
                (&percent, partial_percent(0.0)),
                (0.0, NotStarted),
            ),
            (
                (40.0, InProgress),
                (&percent, partial_percent(0.0)),
                (0.0, NotStarted),
            ),
            (
                (100.0, Completed),
                (&percent, partial_percent(0.0)),
                (0.0, NotStarted),
            ),
            // the percentage the task has: nothing changes
            (
                (0.0, Deferred),
                (&percent, partial_percent(0.0)),
                (0.0, Deferred),
            ),
        ];
        for ((p, s), (path, partial), (want_p, want_s)) in cases {
            let mut t = stored(*p, *s);
            set_field(&mut t, path, partial).expect("set");
            let case = format!("{s:?} {p} then {partial:?}");
            assert_eq!(t.percent_complete, Some(*want_p), "{case}");
            assert_eq!(t.status, Some(*want_s), "{case}");
            // what settling after the change adds: only a completion date
            let mut after = t.clone();
            after.settle(later);
            let expected_date = match (*want_s, s) {
                (Completed, _) => Some(later),
                _ => None,
            };
            assert_eq!(after.complete_date, expected_date, "{case}");
            after.complete_date = t.complete_date;
            assert_eq!(after, t, "{case}: settling keeps the change");
        }
        // completing a completed task completes it again, now (Exchange re-dates it)
        let mut t = stored(100.0, Completed);
        assert_eq!(t.complete_date, Some(now));
        set_field(&mut t, &status, &partial_status(Completed)).expect("set");
        t.settle(later);
        assert_eq!(t.complete_date, Some(later));
        let mut t = stored(100.0, Completed);
        set_field(&mut t, &percent, &partial_percent(100.0)).expect("set");
        t.settle(later);
        assert_eq!(t.complete_date, Some(later));
        // another change leaves the completion date alone
        let mut t = stored(100.0, Completed);
        set_field(
            &mut t,
            &field("task:Mileage"),
            &Task {
                mileage: Some("3".into()),
                ..Task::default()
            },
        )
        .expect("set");
        t.settle(later);
        assert_eq!(t.complete_date, Some(now));
    }

    #[test]
    fn set_and_delete_plain_properties() {
        let now = at("2026-03-03T10:00:00Z");
        let mut stored = settled(report(), now);
        let partial = read(concat!(
            "<t:Mileage>30 km</t:Mileage><t:TotalWork>0</t:TotalWork>",
            "<t:Contacts><t:String>Carol</t:String></t:Contacts><t:DueDate>2026-04-01T00:00:00Z</t:DueDate>",
            "<t:Recurrence><t:WeeklyRegeneration><t:Interval>2</t:Interval></t:WeeklyRegeneration>",
            "<t:NumberedRecurrence><t:StartDate>2026-03-02</t:StartDate><t:NumberOfOccurrences>3</t:NumberOfOccurrences></t:NumberedRecurrence></t:Recurrence>",
        ))
        .expect("reads");
        for f in [
            "task:Mileage",
            "task:TotalWork",
            "task:Contacts",
            "task:DueDate",
            "task:Recurrence",
        ] {
            set_field(&mut stored, &field(f), &partial).expect(f);
        }
        let mut expected = settled(report(), now);
        expected.mileage = Some("30 km".into());
        expected.total_work = Some(0);
        expected.contacts = vec!["Carol".into()];
        expected.due_date = Some(at("2026-04-01T00:00:00Z"));
        expected.recurrence = partial.recurrence.clone();
        assert_eq!(stored, expected, "nothing else changed");
        for f in [
            "task:Mileage",
            "task:TotalWork",
            "task:ActualWork",
            "task:BillingInformation",
            "task:Contacts",
            "task:Companies",
            "task:Recurrence",
            "task:StartDate",
        ] {
            delete_field(&mut stored, &field(f)).expect(f);
            delete_field(&mut stored, &field(f)).expect("deleting twice is fine");
        }
        expected.mileage = None;
        expected.total_work = None;
        expected.actual_work = None;
        expected.billing_information = None;
        expected.contacts.clear();
        expected.companies.clear();
        expected.recurrence = None;
        expected.start_date = None;
        assert_eq!(stored, expected);
        // deleting the due date deletes the start date with it
        let mut t = settled(report(), now);
        delete_field(&mut t, &field("task:DueDate")).expect("deleted");
        assert_eq!((t.due_date, t.start_date), (None, None));
    }

    #[test]
    fn set_and_delete_refusals() {
        let now = at("2026-03-03T10:00:00Z");
        let mut stored = settled(report(), now);
        let before = stored.clone();
        let partial = read("<t:Mileage>1</t:Mileage>").expect("reads");
        let indexed = PropertyPath::Indexed {
            field_uri: "task:Status".into(),
            field_index: "x".into(),
        };
        // refused alike by a Set and a Delete
        let both = [
            (
                field("task:Nonsense"),
                TaskFieldError::NotSettable("task:Nonsense".into()),
                "ErrorInvalidPropertyRequest",
            ),
            (
                field("item:Subject"),
                TaskFieldError::NotSettable("item:Subject".into()),
                "ErrorInvalidPropertyRequest",
            ),
            (
                field("contacts:Mileage"),
                TaskFieldError::NotSettable("contacts:Mileage".into()),
                "ErrorInvalidPropertyRequest",
            ),
            (
                indexed.clone(),
                TaskFieldError::NotSettable("task:Status[x]".into()),
                "ErrorInvalidPropertyRequest",
            ),
        ];
        for (path, expected, code) in both {
            assert_eq!(
                set_field(&mut stored, &path, &partial),
                Err(expected.clone())
            );
            assert_eq!(delete_field(&mut stored, &path), Err(expected.clone()));
            assert_eq!(expected.code(), code);
        }
        // a read-only property: not set, not deleted
        for name in ["IsComplete", "CompleteDate", "StatusDescription", "Owner"] {
            let f = format!("task:{name}");
            let e = set_field(&mut stored, &field(&f), &partial).expect_err(name);
            assert_eq!(e, TaskFieldError::ReadOnly(f.clone()));
            assert_eq!(e.code(), "ErrorInvalidPropertySet");
            let e = delete_field(&mut stored, &field(&f)).expect_err(name);
            assert_eq!(e, TaskFieldError::NotDeletable(f.clone()));
            assert_eq!(e.code(), "ErrorInvalidPropertyDelete");
        }
        // a task always has a status and a percentage
        for f in ["task:Status", "task:PercentComplete"] {
            let e = delete_field(&mut stored, &field(f)).expect_err(f);
            assert_eq!(e, TaskFieldError::NotDeletable(f.into()));
            assert_eq!(e.code(), "ErrorInvalidPropertyDelete");
            assert_eq!(
                e.to_string(),
                format!("the task property {f} cannot be deleted; set it instead")
            );
        }
        // the item element lacks what the path names
        for f in [
            "task:Status",
            "task:PercentComplete",
            "task:Recurrence",
            "task:BillingInformation",
            "task:ActualWork",
            "task:DueDate",
            "task:Companies",
        ] {
            let e = set_field(&mut stored, &field(f), &partial).expect_err(f);
            assert_eq!(e, TaskFieldError::Missing(f.into()));
            assert_eq!(e.code(), "ErrorUpdatePropertyMismatch");
        }
        assert_eq!(
            TaskFieldError::Missing("task:DueDate".into()).to_string(),
            "the t:Task of the change for task:DueDate does not contain that property"
        );
        assert_eq!(stored, before, "no refusal changed anything");
        assert!(is_task_path(&indexed));
        assert!(is_task_path(&field("task:Nonsense")));
        assert!(!is_task_path(&field("contacts:Mileage")));
        assert!(!is_task_path(&PropertyPath::Exception(
            "task:Status".into()
        )));
    }

    #[test]
    fn written_under_all_properties() {
        let mut t = settled(report(), at("2026-03-03T10:00:00Z"));
        let shape = ItemShape::new(BaseShape::AllProperties);
        insta::assert_snapshot!("all_properties", written(&t, &shape));
        // Default is the same set
        assert_eq!(
            written(&t, &ItemShape::new(BaseShape::Default)),
            written(&t, &shape)
        );
        // completed
        t.apply_status(TaskStatus::Completed);
        t.settle(at("2026-03-04T09:30:00Z"));
        insta::assert_snapshot!("all_properties_completed", written(&t, &shape));
    }

    #[test]
    fn written_under_id_only_with_additional_properties() {
        let t = settled(report(), at("2026-03-03T10:00:00Z"));
        let mut shape = ItemShape::new(BaseShape::IdOnly);
        assert_eq!(written(&t, &shape), "", "IdOnly names nothing");
        shape.additional = vec![
            field("task:TotalWork"),
            field("task:Status"),
            field("task:IsComplete"),
            field("task:Owner"),
            field("task:CompleteDate"),
            field("task:Companies"),
            field("item:Subject"),
            field("task:Nope"),
            field("task:StatusDescription"),
        ];
        insta::assert_snapshot!("id_only_additional", written(&t, &shape));
    }

    #[test]
    fn a_new_task_is_written_as_exchange_answers_one() {
        // the EWS reference's GetItem (task) example: a task nobody changed
        assert_eq!(
            written(&Task::default(), &ItemShape::new(BaseShape::AllProperties)),
            concat!(
                "<t:ChangeCount>1</t:ChangeCount>\n<t:IsComplete>false</t:IsComplete>\n",
                "<t:IsRecurring>false</t:IsRecurring>\n<t:PercentComplete>0</t:PercentComplete>\n",
                "<t:Status>NotStarted</t:Status>\n<t:StatusDescription>Not Started</t:StatusDescription>"
            )
        );
    }

    #[test]
    fn percentages_and_descriptions_are_written_as_exchange_writes_them() {
        for (v, s) in [
            (0.0, "0"),
            (-0.0, "0"),
            (50.0, "50"),
            (100.0, "100"),
            (12.5, "12.5"),
            (33.3, "33.3"),
        ] {
            assert_eq!(percent_str(v), s);
        }
        let descriptions: Vec<&str> = TaskStatus::ALL.iter().map(|s| s.description()).collect();
        assert_eq!(
            descriptions,
            [
                "Not Started",
                "In Progress",
                "Completed",
                "Waiting on someone else",
                "Deferred"
            ]
        );
    }

    #[test]
    fn an_answer_is_read_back_with_its_completion_date() {
        let mut t = settled(report(), at("2026-03-03T10:00:00Z"));
        t.apply_status(TaskStatus::Completed);
        t.settle(at("2026-03-04T09:30:00Z"));
        let xml = written(&t, &ItemShape::new(BaseShape::AllProperties));
        let el = element(&xml);
        assert_eq!(task_of_answer(&el).expect("reads"), t);
        let el = element(
            "<t:CompleteDate>2026-03-04T09:30:00Z</t:CompleteDate><t:CompleteDate>2026-03-04T09:30:00Z</t:CompleteDate>",
        );
        assert!(matches!(
            task_of_answer(&el),
            Err(EwsProtoError::DuplicateElement { .. })
        ));
    }

    /// The storage paths searches and sorts use name the members `to_storage` writes.
    #[test]
    fn search_paths_name_the_stored_members() {
        let t = settled(report(), at("2026-03-03T10:00:00Z"));
        let stored: serde_json::Value = serde_json::from_str(&t.to_storage()).expect("stored JSON");
        let at_path = |path: &str| {
            let key = path.strip_prefix("$.").expect("a root path");
            stored[key].clone()
        };
        let cases = [
            (
                "task:BillingInformation",
                serde_json::json!("Project X & Y"),
            ),
            ("task:Mileage", serde_json::json!("12 km")),
            ("task:Status", serde_json::json!("InProgress")),
            ("task:ActualWork", serde_json::json!(90)),
            ("task:TotalWork", serde_json::json!(240)),
            ("task:PercentComplete", serde_json::json!(50.0)),
        ];
        for (f, want) in cases {
            let p = search_path(&field(f)).expect("searchable");
            assert_eq!(at_path(&p), want, "{p}");
        }
        assert_eq!(text_key(&field("task:Mileage")), Some("mileage"));
        assert_eq!(text_key(&field("task:ActualWork")), None);
        assert_eq!(
            number_key(&field("task:PercentComplete")),
            Some("percent_complete")
        );
        assert_eq!(number_key(&field("task:TotalWork")), Some("total_work"));
        assert_eq!(number_key(&field("task:Mileage")), None);
        for f in [
            "task:DueDate",
            "task:Companies",
            "task:Recurrence",
            "task:IsComplete",
            "task:StatusDescription",
            "task:Nope",
            "item:Subject",
        ] {
            assert_eq!(search_path(&field(f)), None, "{f}");
            assert_eq!(text_key(&field(f)), None, "{f}");
            assert_eq!(number_key(&field(f)), None, "{f}");
        }
    }

    #[test]
    fn eq_compares_percentages_totally() {
        let a = partial_percent(12.5);
        assert_eq!(a, a.clone());
        assert_ne!(a, partial_percent(12.0));
        assert_ne!(a, Task::default());
        assert_eq!(Task::default(), Task::default());
        let nan = partial_percent(f64::NAN);
        assert_eq!(nan, nan.clone(), "Eq is reflexive");
    }

    /// A task due on `due`, recurring by `r`, completed at `now` by a status change.
    fn completed_occurrence(
        due: &str,
        r: TaskRecurrence,
        now: OffsetDateTime,
    ) -> (Task, Option<Task>) {
        let mut t = settled(
            Task {
                due_date: Some(at(due)),
                recurrence: Some(r),
                ..Task::default()
            },
            now,
        );
        set_field(
            &mut t,
            &field("task:Status"),
            &partial_status(TaskStatus::Completed),
        )
        .expect("settable");
        t.settle(now);
        let one_off = t.complete_occurrence(now);
        (t, one_off)
    }

    #[test]
    fn completing_an_occurrence_splits_off_a_completed_one_off_and_moves_to_the_next() {
        let now = at("2026-03-02T10:00:00Z");
        let (t, one_off) = completed_occurrence("2026-03-02T00:00:00Z", weekly(), now);
        let one_off = one_off.expect("not the last occurrence");
        assert_eq!(one_off.recurrence, None);
        assert_eq!(one_off.status(), TaskStatus::Completed);
        assert_eq!(one_off.percent(), 100.0);
        assert_eq!(one_off.complete_date, Some(now));
        assert_eq!(one_off.due_date, Some(at("2026-03-02T00:00:00Z")));
        // Monday done: the task is Wednesday's, its series one occurrence shorter
        assert_eq!(t.due_date, Some(at("2026-03-04T00:00:00Z")));
        assert_eq!(t.start_date, None);
        assert_eq!(t.status(), TaskStatus::NotStarted);
        assert_eq!(t.percent(), 0.0);
        assert_eq!(t.complete_date, None);
        let TaskRecurrence::Pattern(r) = t.recurrence.clone().expect("still recurring") else {
            panic!("a calendar pattern stays one");
        };
        assert_eq!(r.start_date, date!(2026 - 03 - 04));
        assert_eq!(r.end, RangeEnd::Numbered(9));
        // and the week after: Wednesday done, next Monday
        let mut next = t.clone();
        set_field(
            &mut next,
            &field("task:Status"),
            &partial_status(TaskStatus::Completed),
        )
        .expect("settable");
        next.settle(now);
        assert!(next.complete_occurrence(now).is_some());
        assert_eq!(next.due_date, Some(at("2026-03-09T00:00:00Z")));
    }

    #[test]
    fn the_last_occurrence_stays_completed_without_a_copy() {
        let now = at("2026-03-02T10:00:00Z");
        let once = TaskRecurrence::Pattern(Recurrence {
            end: RangeEnd::Numbered(1),
            ..match weekly() {
                TaskRecurrence::Pattern(r) => r,
                TaskRecurrence::Regeneration { .. } => unreachable!(),
            }
        });
        let (t, one_off) = completed_occurrence("2026-03-02T00:00:00Z", once.clone(), now);
        assert_eq!(one_off, None);
        assert_eq!(t.status(), TaskStatus::Completed);
        assert_eq!(t.recurrence, Some(once));
        // an end date passed, and the end of every series
        let ended = TaskRecurrence::Pattern(Recurrence {
            pattern: Pattern::Daily { interval: 1 },
            start_date: date!(2026 - 03 - 01),
            end: RangeEnd::EndDate(date!(2026 - 03 - 02)),
        });
        assert_eq!(
            completed_occurrence("2026-03-02T00:00:00Z", ended, now).1,
            None
        );
        let last_day = TaskRecurrence::Pattern(Recurrence {
            pattern: Pattern::Daily { interval: 1 },
            start_date: date!(4500 - 12 - 30),
            end: RangeEnd::NoEnd,
        });
        let (t, one_off) = completed_occurrence("4500-12-30T00:00:00Z", last_day.clone(), now);
        assert!(one_off.is_some());
        assert_eq!(t.due_date, Some(at("4500-12-31T00:00:00Z")));
        assert_eq!(
            completed_occurrence("4500-12-31T00:00:00Z", last_day, now).1,
            None
        );
        // a task without a recurrence is not split
        let mut plain = Task::default();
        assert_eq!(plain.complete_occurrence(now), None);
        assert!(!plain.skip_occurrence(now));
    }

    #[test]
    fn a_regenerating_task_falls_its_interval_after_its_completion() {
        let r = |regeneration, end| TaskRecurrence::Regeneration {
            regeneration,
            start_date: date!(2026 - 01 - 31),
            end,
        };
        // started and due three days apart; completed late: a week after the completion,
        // the same span
        let now = at("2026-03-10T15:00:00Z");
        let mut t = settled(
            Task {
                start_date: Some(at("2026-03-02T00:00:00Z")),
                due_date: Some(at("2026-03-05T00:00:00Z")),
                recurrence: Some(r(Regeneration::Weekly { interval: 1 }, RangeEnd::NoEnd)),
                status: Some(TaskStatus::Completed),
                ..Task::default()
            },
            now,
        );
        assert!(t.complete_occurrence(now).is_some());
        assert_eq!(t.start_date, Some(at("2026-03-17T00:00:00Z")));
        assert_eq!(t.due_date, Some(at("2026-03-20T00:00:00Z")));
        assert_eq!(
            t.recurrence,
            Some(TaskRecurrence::Regeneration {
                regeneration: Regeneration::Weekly { interval: 1 },
                start_date: date!(2026 - 03 - 17),
                end: RangeEnd::NoEnd,
            })
        );
        // a month after January 31 is February's last day; a numbered range counts down
        let now = at("2026-01-31T09:00:00Z");
        let monthly = r(Regeneration::Monthly { interval: 1 }, RangeEnd::Numbered(2));
        let (t, one_off) = completed_occurrence("2026-01-31T00:00:00Z", monthly, now);
        assert!(one_off.is_some());
        assert_eq!(t.due_date, Some(at("2026-02-28T00:00:00Z")));
        let Some(TaskRecurrence::Regeneration { end, .. }) = t.recurrence.clone() else {
            panic!("still regenerating");
        };
        assert_eq!(end, RangeEnd::Numbered(1));
        let yearly = r(Regeneration::Yearly { interval: 2 }, RangeEnd::Numbered(1));
        assert_eq!(
            completed_occurrence("2026-01-31T00:00:00Z", yearly, now).1,
            None
        );
        let daily = r(Regeneration::Daily { interval: 3 }, RangeEnd::NoEnd);
        let (t, _) = completed_occurrence("2026-01-20T00:00:00Z", daily, now);
        assert_eq!(t.due_date, Some(at("2026-02-03T00:00:00Z")));
    }

    #[test]
    fn a_clients_own_midnight_names_the_day() {
        // Monday March 2 on a clock one hour ahead of UTC, and five hours behind it
        let now = at("2026-03-01T23:30:00Z");
        let (t, _) = completed_occurrence("2026-03-01T23:00:00Z", weekly(), now);
        assert_eq!(
            t.due_date,
            Some(at("2026-03-03T23:00:00Z")),
            "Wednesday, same clock"
        );
        let (t, _) = completed_occurrence("2026-03-02T05:00:00Z", weekly(), now);
        assert_eq!(t.due_date, Some(at("2026-03-04T05:00:00Z")));
        // a regenerating task completed at 00:30 on a clock one hour ahead: the next is a day
        // after that clock's date, not UTC's
        let daily = TaskRecurrence::Regeneration {
            regeneration: Regeneration::Daily { interval: 1 },
            start_date: date!(2026 - 03 - 02),
            end: RangeEnd::NoEnd,
        };
        let (t, _) = completed_occurrence("2026-03-01T23:00:00Z", daily, now);
        assert_eq!(t.due_date, Some(at("2026-03-02T23:00:00Z")));
    }

    #[test]
    fn a_task_with_only_a_recurrence_gets_a_due_date() {
        let now = at("2026-03-02T10:00:00Z");
        let mut t = settled(
            Task {
                recurrence: Some(weekly()),
                status: Some(TaskStatus::Completed),
                ..Task::default()
            },
            now,
        );
        assert!(t.complete_occurrence(now).is_some());
        assert_eq!(t.start_date, None);
        assert_eq!(t.due_date, Some(at("2026-03-04T00:00:00Z")));
    }

    #[test]
    fn a_percentage_out_of_range_is_read_and_refused_for_its_item() {
        for text in ["100.5", "-1", "NaN", "INF", "-INF", "1e3"] {
            let t = read(&format!("<t:PercentComplete>{text}</t:PercentComplete>"))
                .unwrap_or_else(|e| panic!("{text}: a number, read: {e}"));
            let e = t.check_percent().expect_err(text);
            assert_eq!(e.code(), "ErrorInvalidPercentCompleteValue", "{text}");
            assert!(e.to_string().contains("from 0 to 100"), "{e}");
            // and in an update, the stored task unchanged
            let now = at("2026-03-03T10:00:00Z");
            let mut stored = settled(report(), now);
            let before = stored.clone();
            let e = set_field(&mut stored, &field("task:PercentComplete"), &t).expect_err(text);
            assert_eq!(e.code(), "ErrorInvalidPercentCompleteValue", "{text}");
            assert_eq!(stored, before, "{text}");
        }
        for text in ["0", "100", "12.5", "-0"] {
            let t = read(&format!("<t:PercentComplete>{text}</t:PercentComplete>")).expect(text);
            assert!(t.check_percent().is_ok(), "{text}");
        }
        assert!(Task::default().check_percent().is_ok());
    }
}
