//! Recurring series over EWS: a `t:CalendarItem` with `t:Recurrence` is kept as one item (the
//! series, EWS `RecurringMaster`) whose start and end are its first occurrence's, with the rule
//! and the time zone beside them ([`mailbox::Series`]); its occurrences are not stored but
//! computed where they are read:
//! * a `CalendarView` lists them (each with an `ItemId` of its own, which names the series and
//!   the occurrence's index, [`mailbox::occurrence_id`]), merged with the single items by start;
//! * GetItem reads one by that id or by `t:OccurrenceItemId` (series id and index), and reads
//!   the series by `t:RecurringMasterItemId`;
//! * DeleteItem of one records it as deleted on the series (`t:DeletedOccurrences`): the others
//!   keep their indices;
//! * UpdateItem of one records it changed on the series (an exception, listed in
//!   `t:ModifiedOccurrences`): its own subject, start, end or location, moved no further than
//!   the days of the occurrences beside it;
//! * UpdateItem of the series' start and end moves every occurrence;
//! * free/busy (GetUserAvailability) shows each occurrence in the window.
//!
//! The occurrences keep the wall-clock time of the first one on the series' time zone
//! (`t:StartTimeZone`, a Windows zone; UTC when the request names none), so a weekly 09:00
//! meeting stays at 09:00 across daylight saving changes.
//!
//! Not supported yet, and refused by name rather than half done: changing a series' recurrence
//! with UpdateItem, and other properties of one occurrence.

use ews_proto::recurrence::{Occurrence, Recurrence};
use ews_proto::request::{NewCalendarItem, ZoneRef};
use ews_proto::response::{ItemView, OccurrenceInfo, ResponseError};
use ews_proto::timezone::{SerializableTimeZone, Transition, WindowsZone, ZoneTime, windows_zone};
use ews_proto::types::ItemRef;
use time::{Duration, Month, OffsetDateTime, Time, Weekday};

/// Most series one calendar view expands (beyond it the view is refused, and asks for a
/// shorter window).
pub(crate) const MAX_SERIES_IN_VIEW: usize = 1000;

/// A series' zone as stored: a Windows id this server knows, or the rules a request spelled out.
const WINDOWS: &str = "windows:";
const RULES: &str = "rules:";

/// The zone a new series keeps its wall clock in, and how it is stored.
fn zone_of(z: Option<&ZoneRef>) -> Result<(SerializableTimeZone, String), ResponseError> {
    let Some(z) = z else {
        let utc = windows_zone("UTC").map_or(SerializableTimeZone::fixed(0), |w| w.tz);
        return Ok((utc, format!("{WINDOWS}UTC")));
    };
    if let Some(id) = &z.id
        && let Some(w) = windows_zone(id)
    {
        return Ok((w.tz, format!("{WINDOWS}{}", w.id)));
    }
    if let Some(rules) = &z.rules {
        return Ok((*rules, format!("{RULES}{}", rules_json(rules))));
    }
    let known: Vec<&str> = ews_proto::timezone::WINDOWS_ZONES
        .iter()
        .map(|w| w.id)
        .collect();
    Err(ResponseError::new(
        "ErrorCalendarInvalidTimeZone",
        &format!(
            "The time zone {:?} of t:StartTimeZone is not one this server knows, and the request does not spell out its rules (t:Periods, t:TransitionsGroups, t:Transitions). Name one of: {}; or send the full t:TimeZoneDefinition.",
            z.id.as_deref()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect::<String>(),
            known.join(", ")
        ),
    ))
}

fn rules_json(tz: &SerializableTimeZone) -> String {
    let part = |z: &ZoneTime| {
        serde_json::json!({
            "bias": z.bias,
            "transition": z.transition.map(|t| serde_json::json!({
                "time": [t.time.hour(), t.time.minute(), t.time.second()],
                "day_order": t.day_order,
                "month": u8::from(t.month),
                "weekday": t.weekday.number_days_from_sunday(),
            })),
        })
    };
    serde_json::json!({
        "bias": tz.bias,
        "standard": part(&tz.standard),
        "daylight": part(&tz.daylight),
    })
    .to_string()
}

fn rules_from_json(s: &str) -> Option<SerializableTimeZone> {
    let v: serde_json::Value = serde_json::from_str(s).ok()?;
    let int = |v: &serde_json::Value| v.as_i64().and_then(|n| i32::try_from(n).ok());
    let part = |p: &serde_json::Value| -> Option<ZoneTime> {
        let transition = match p.get("transition")? {
            serde_json::Value::Null => None,
            t => {
                let hms = t.get("time")?.as_array()?;
                let n = |i: usize| {
                    hms.get(i)
                        .and_then(|x| x.as_u64())
                        .and_then(|x| u8::try_from(x).ok())
                };
                let weekday = u8::try_from(t.get("weekday")?.as_u64()?).ok()?;
                Some(Transition {
                    time: Time::from_hms(n(0)?, n(1)?, n(2)?).ok()?,
                    day_order: u8::try_from(t.get("day_order")?.as_u64()?).ok()?,
                    month: Month::try_from(u8::try_from(t.get("month")?.as_u64()?).ok()?).ok()?,
                    weekday: Weekday::Sunday.nth_next(weekday % 7),
                })
            }
        };
        Some(ZoneTime {
            bias: int(p.get("bias")?)?,
            transition,
        })
    };
    Some(SerializableTimeZone {
        bias: int(v.get("bias")?)?,
        standard: part(v.get("standard")?)?,
        daylight: part(v.get("daylight")?)?,
    })
}

/// The zone a stored series keeps, and the Windows zone when it is one.
fn stored_zone(s: &str) -> Option<(SerializableTimeZone, Option<&'static WindowsZone>)> {
    if let Some(id) = s.strip_prefix(WINDOWS) {
        let w = windows_zone(id)?;
        return Some((w.tz, Some(w)));
    }
    rules_from_json(s.strip_prefix(RULES)?).map(|tz| (tz, None))
}

/// A new calendar item's series: `None` without `t:Recurrence`; else the series to store and
/// the first occurrence's start and end (which become the item's, as in Exchange, where a
/// series' `Start` is its first occurrence's). `start` and `end` are the request's.
pub(crate) fn new_series(
    c: &NewCalendarItem,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> Result<Option<(mailbox::Series, OffsetDateTime, OffsetDateTime)>, ResponseError> {
    let Some(rule) = &c.recurrence else {
        return Ok(None);
    };
    rule.check()
        .map_err(|p| ResponseError::new(p.response_code(), &p.to_string()))?;
    let (tz, stored) = zone_of(c.start_time_zone.as_ref())?;
    let (first, last_end) = reach(rule, &tz, start, end)?;
    Ok(Some((
        mailbox::Series {
            rule: rule.to_storage(),
            time_zone: stored,
            last_end,
            deleted: Vec::new(),
            modified: Vec::new(),
        },
        first.start,
        first.end,
    )))
}

/// A series starting at `start` and ending at `end` (its first occurrence's, as a client sends
/// them) on `tz`'s wall clock: its first occurrence at that time of day, and when its last one
/// ends (`None`: no end).
fn reach(
    rule: &Recurrence,
    tz: &SerializableTimeZone,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> Result<(Occurrence, Option<OffsetDateTime>), ResponseError> {
    if end < start {
        return Err(ResponseError::new(
            "ErrorCalendarEndDateIsEarlierThanStartDate",
            "The series' End is before its Start.",
        ));
    }
    let time_of_day = tz.to_local(start).time();
    let duration = end - start;
    let first = rule
        .first(time_of_day, duration, tz)
        .ok_or_else(no_occurrence)?;
    let last_end = match rule.last(time_of_day, duration, tz) {
        Some(o) => Some(o.end),
        None if matches!(rule.end, ews_proto::recurrence::RangeEnd::NoEnd) => None,
        None => return Err(no_occurrence()),
    };
    Ok((first, last_end))
}

fn no_occurrence() -> ResponseError {
    ResponseError::new(
        "ErrorRecurrenceHasNoOccurrence",
        "The recurrence has no occurrence between its start date and its end; give a range that includes a day of its pattern.",
    )
}

/// Checks a series from outside (bulk transfer's upload): its rule parses and has occurrences,
/// and its zone is one this server reads.
pub(crate) fn check_stored(s: &mailbox::Series) -> Result<(), String> {
    let rule = Recurrence::from_storage(&s.rule).map_err(|e| format!("its rule: {e}"))?;
    rule.check().map_err(|p| format!("its rule: {p}"))?;
    if stored_zone(&s.time_zone).is_none() {
        return Err(format!(
            "its time zone {:?} is neither \"{WINDOWS}<a Windows zone this server knows>\" nor \"{RULES}<its rules>\"",
            s.time_zone.chars().take(80).collect::<String>()
        ));
    }
    Ok(())
}

/// Series `c` moved to start and end at `start` and `end` (its first occurrence's, as a client
/// sends them): the first occurrence's start and end and the last one's end at the new time of
/// day on the series' zone; `None` when `c` is no series.
#[allow(clippy::type_complexity)]
pub(crate) fn moved(
    c: &mailbox::Calendar,
    start: OffsetDateTime,
    end: OffsetDateTime,
) -> Result<Option<(OffsetDateTime, OffsetDateTime, Option<OffsetDateTime>)>, ResponseError> {
    let Some(p) = plan(c) else {
        return Ok(None);
    };
    let (first, last_end) = reach(&p.rule, &p.tz, start, end)?;
    Ok(Some((first.start, first.end, last_end)))
}

/// Fits an update that moves `item` when it is a series ([`moved`]): the start and end it sets
/// become the first occurrence's at the new time of day, and the series' reach follows.
pub(crate) fn fit_move(
    item: &mailbox::Item,
    update: &mut mailbox::ItemUpdate,
) -> Result<(), ResponseError> {
    if update.start.is_none() && update.end.is_none() {
        return Ok(());
    }
    if let Some(c) = &item.calendar
        && let Some((start, end, last_end)) = moved(
            c,
            update.start.unwrap_or(c.start),
            update.end.unwrap_or(c.end),
        )?
    {
        update.start = Some(start);
        update.end = Some(end);
        update.series_last_end = Some(last_end);
    }
    Ok(())
}

/// A stored series read back for expansion.
struct Plan {
    rule: Recurrence,
    tz: SerializableTimeZone,
    windows: Option<&'static WindowsZone>,
    time_of_day: Time,
    duration: Duration,
    deleted: Vec<u32>,
    modified: Vec<mailbox::Exception>,
}

fn plan(c: &mailbox::Calendar) -> Option<Plan> {
    plan_of(c.recurrence.as_ref()?, c.start, c.end)
}

/// `start` and `end` are the series' first occurrence's.
fn plan_of(s: &mailbox::Series, start: OffsetDateTime, end: OffsetDateTime) -> Option<Plan> {
    let rule = match Recurrence::from_storage(&s.rule) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "a stored recurrence rule does not parse; the series shows no occurrences");
            return None;
        }
    };
    let Some((tz, windows)) = stored_zone(&s.time_zone) else {
        tracing::warn!("a stored series time zone does not parse; the series shows no occurrences");
        return None;
    };
    Some(Plan {
        rule,
        time_of_day: tz.to_local(start).time(),
        tz,
        windows,
        duration: end - start,
        deleted: s.deleted.clone(),
        modified: s.modified.clone(),
    })
}

impl Plan {
    /// Occurrence `index` where the series puts it (deleted or changed or not).
    fn original(&self, index: u32) -> Option<Occurrence> {
        self.rule
            .occurrence(index, self.time_of_day, self.duration, &self.tz)
    }

    fn exception(&self, index: u32) -> Option<&mailbox::Exception> {
        self.modified
            .binary_search_by_key(&index, |m| m.index)
            .ok()
            .and_then(|at| self.modified.get(at))
    }

    fn is_deleted(&self, index: u32) -> bool {
        self.deleted.binary_search(&index).is_ok()
    }

    /// Occurrence `index` where it is now; `None` when deleted or past the series' end.
    fn actual(&self, index: u32) -> Option<Occurrence> {
        if self.is_deleted(index) {
            return None;
        }
        let original = self.original(index)?;
        Some(match self.exception(index) {
            Some(e) => Occurrence {
                index,
                start: e.start,
                end: e.end,
            },
            None => original,
        })
    }

    /// The occurrences that overlap `[from, to)` where they are now (a changed one where it
    /// was moved), by start, at most `limit`.
    fn between(&self, from: OffsetDateTime, to: OffsetDateTime, limit: usize) -> Vec<Occurrence> {
        let mut skip: Vec<u32> = self.deleted.clone();
        skip.extend(self.modified.iter().map(|m| m.index));
        let mut out = self.rule.occurrences_between(
            self.time_of_day,
            self.duration,
            &self.tz,
            from,
            to,
            &skip,
            limit,
        );
        out.extend(
            self.modified
                .iter()
                .filter(|e| e.start < to && (e.end > from || (e.end == e.start && e.start >= from)))
                .map(|e| Occurrence {
                    index: e.index,
                    start: e.start,
                    end: e.end,
                }),
        );
        out.sort_by_key(|o| (o.start, o.end, o.index));
        out.truncate(limit);
        out
    }

    fn info(&self, id: &str, change_key: &str, o: Occurrence) -> OccurrenceInfo {
        OccurrenceInfo {
            item_id: ItemRef {
                id: mailbox::occurrence_id(id, o.index).unwrap_or_default(),
                change_key: Some(change_key.to_owned()),
            },
            start: o.start,
            end: o.end,
            original_start: self.original(o.index).map_or(o.start, |x| x.start),
        }
    }
}

/// Fills in a calendar item's recurrence fields: a single item says so; a series gets its rule,
/// first and last occurrences, changed and deleted occurrences and time zone.
pub(crate) fn decorate(
    v: &mut ItemView,
    id: &str,
    change_key: &str,
    c: Option<&mailbox::Calendar>,
) {
    let Some(c) = c else {
        return;
    };
    let Some(p) = plan(c) else {
        v.calendar_item_type = Some("Single");
        v.is_recurring = Some(false);
        return;
    };
    v.calendar_item_type = Some("RecurringMaster");
    v.is_recurring = Some(true);
    // the first and last that are not deleted (what Exchange lists), where they are now
    v.first_occurrence = p
        .rule
        .dates()
        .map(|(n, _)| n)
        .find(|n| !p.is_deleted(*n))
        .and_then(|n| p.actual(n))
        .map(|o| p.info(id, change_key, o));
    v.last_occurrence = p
        .rule
        .last(p.time_of_day, p.duration, &p.tz)
        .and_then(|o| p.actual(o.index))
        .map(|o| p.info(id, change_key, o));
    v.modified_occurrences = p
        .modified
        .iter()
        .filter_map(|e| p.actual(e.index))
        .map(|o| p.info(id, change_key, o))
        .collect();
    v.deleted_occurrences = p
        .deleted
        .iter()
        .filter_map(|n| p.original(*n))
        .map(|o| o.start)
        .collect();
    if let Some(w) = p.windows {
        v.time_zone = Some((w.id.to_owned(), w.name.to_owned()));
    }
    v.recurrence = Some(p.rule);
}

/// Turns a series' view into the view of one of its occurrences (`o`: where it is now).
fn as_occurrence(mut v: ItemView, series_id: &str, o: Occurrence, p: &Plan) -> ItemView {
    v.id = mailbox::occurrence_id(series_id, o.index).unwrap_or_default();
    v.start = Some(o.start);
    v.end = Some(o.end);
    v.original_start = Some(p.original(o.index).map_or(o.start, |x| x.start));
    v.is_recurring = Some(true);
    match p.exception(o.index) {
        Some(e) => {
            v.calendar_item_type = Some("Exception");
            if let Some(s) = &e.subject {
                v.subject = Some(s.clone());
            }
            if let Some(l) = &e.location {
                // an empty location: removed for this occurrence
                v.location = (!l.is_empty()).then(|| l.clone());
            }
        }
        None => v.calendar_item_type = Some("Occurrence"),
    }
    v.recurrence = None;
    v.first_occurrence = None;
    v.last_occurrence = None;
    v.modified_occurrences = Vec::new();
    v.deleted_occurrences = Vec::new();
    v
}

/// A series read once for a calendar view: its occurrences in the view, and each one's view
/// made from the series' own.
pub(crate) struct Expansion(Plan);

impl Expansion {
    /// `None` for a single item (or a series whose stored rule does not read, logged).
    pub(crate) fn of(i: &mailbox::Item) -> Option<Expansion> {
        i.calendar.as_ref().and_then(plan).map(Expansion)
    }

    /// The occurrences that overlap `[from, to)`, where they are now, at most `limit`.
    pub(crate) fn between(
        &self,
        from: OffsetDateTime,
        to: OffsetDateTime,
        limit: usize,
    ) -> Vec<Occurrence> {
        self.0.between(from, to, limit)
    }

    /// The view of occurrence `o` (as [`Expansion::between`] gave it) of series `series_id`,
    /// made from the series' view `v`.
    pub(crate) fn occurrence_view(&self, v: ItemView, series_id: &str, o: Occurrence) -> ItemView {
        as_occurrence(v, series_id, o, &self.0)
    }
}

/// A free/busy read's appointments with each series replaced by its occurrences in
/// `[from, to)` (each with its occurrence id, and its series still on it, which marks it
/// recurring; a changed one where it was moved, with its own subject and location), ordered by
/// start; more than [`mailbox::limits::MAX_FREE_BUSY_EVENTS`] in all fails the mailbox, as the
/// store's own bound does.
pub(crate) fn expand_appointments(
    found: Vec<mailbox::Appointment>,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Result<Vec<mailbox::Appointment>, mailbox::MailboxError> {
    let max = mailbox::limits::MAX_FREE_BUSY_EVENTS;
    if found.iter().all(|a| a.series.is_none()) {
        return Ok(found);
    }
    let mut out = Vec::with_capacity(found.len());
    for a in found {
        let Some(series) = &a.series else {
            out.push(a);
            continue;
        };
        let Some(p) = plan_of(series, a.start, a.end) else {
            continue;
        };
        for o in p.between(from, to, max + 1) {
            let mut details = a.details.clone();
            if let (Some(d), Some(e)) = (&mut details, p.exception(o.index)) {
                if let Some(s) = &e.subject {
                    d.subject = Some(s.clone());
                }
                if let Some(l) = &e.location {
                    d.location = (!l.is_empty()).then(|| l.clone());
                }
            }
            out.push(mailbox::Appointment {
                id: mailbox::occurrence_id(&a.id, o.index).unwrap_or_default(),
                start: o.start,
                end: o.end,
                details,
                ..a.clone()
            });
        }
        if out.len() > max {
            return Err(mailbox::MailboxError::FreeBusyTooLarge(format!(
                "the calendar has more than {max} appointments in the window, counting each occurrence of its recurring series; ask for a shorter window"
            )));
        }
    }
    out.sort_by_key(|a| (a.start, a.end));
    Ok(out)
}

/// The series' plan, and occurrence `index` where it is now, if it has it and it is not deleted.
fn checked(i: &mailbox::Item, index: u32) -> Result<(Plan, Occurrence), ResponseError> {
    let p = i.calendar.as_ref().and_then(plan).ok_or_else(|| {
        ResponseError::new(
            "ErrorCalendarCannotUseIdForOccurrenceId",
            "The item is not a recurring series, so it has no occurrences; name it by its t:ItemId.",
        )
    })?;
    if p.original(index).is_none() {
        return Err(ResponseError::new(
            "ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
            &format!(
                "The series has no occurrence {index}; its occurrences are numbered from 1 to its last."
            ),
        ));
    }
    let Some(o) = p.actual(index) else {
        return Err(ResponseError::new(
            "ErrorCalendarOccurrenceIsDeletedFromRecurrence",
            &format!("Occurrence {index} of the series was deleted."),
        ));
    };
    Ok((p, o))
}

/// Checks that series `i` has occurrence `index`, not deleted.
pub(crate) fn check_occurrence(i: &mailbox::Item, index: u32) -> Result<Occurrence, ResponseError> {
    checked(i, index).map(|(_, o)| o)
}

/// The view of occurrence `index` of series `i`, viewed as `v`.
pub(crate) fn occurrence_view(
    v: ItemView,
    i: &mailbox::Item,
    index: u32,
) -> Result<ItemView, ResponseError> {
    let (p, o) = checked(i, index)?;
    Ok(as_occurrence(v, &i.id, o, &p))
}

/// Occurrence `index` of series `i` changed by `update` (an UpdateItem of that occurrence): the
/// exception to record. Its subject, start, end and location can change; it may move within
/// the days between the occurrences before and after it (as Outlook allows), and the first
/// occurrence not before its own place (a series is found by its first occurrence).
pub(crate) fn exception_for(
    i: &mailbox::Item,
    index: u32,
    update: &mailbox::ItemUpdate,
) -> Result<mailbox::Exception, ResponseError> {
    let (p, now) = checked(i, index)?;
    let rest = mailbox::ItemUpdate {
        subject: None,
        start: None,
        end: None,
        location: None,
        ..update.clone()
    };
    if rest != mailbox::ItemUpdate::default() {
        return Err(ResponseError::new(
            "ErrorInvalidRequest",
            "Only the Subject, Start, End and Location of one occurrence of a series can be changed on this server; change the other properties on the series (t:RecurringMasterItemId).",
        ));
    }
    let current = p.exception(index).cloned();
    let start = update.start.unwrap_or(now.start);
    let end = update.end.unwrap_or(now.end);
    if end < start {
        return Err(ResponseError::new(
            "ErrorCalendarEndDateIsEarlierThanStartDate",
            "The occurrence's End is before its Start.",
        ));
    }
    let day = |t: OffsetDateTime| p.tz.to_local(t).date();
    let crossing = |what: &str| {
        ResponseError::new(
            "ErrorOccurrenceCrossingBoundary",
            &format!(
                "Occurrence {index} can move only within the days between the occurrences before and after it; {what}."
            ),
        )
    };
    match index
        .checked_sub(1)
        .filter(|n| *n >= 1)
        .and_then(|n| p.original(n))
    {
        Some(prev) if day(start) <= day(prev.start) => {
            return Err(crossing(&format!(
                "it would start on or before the day of occurrence {}",
                index - 1
            )));
        }
        None if start < p.original(index).map_or(start, |o| o.start) => {
            return Err(crossing("the first occurrence cannot move earlier"));
        }
        _ => {}
    }
    if let Some(next) = index.checked_add(1).and_then(|n| p.original(n))
        && day(start) >= day(next.start)
    {
        return Err(crossing(&format!(
            "it would start on or after the day of occurrence {}",
            index + 1
        )));
    }
    let subject = match &update.subject {
        Some(s) => Some(s.clone().unwrap_or_default()),
        None => current.as_ref().and_then(|c| c.subject.clone()),
    };
    let location = match &update.location {
        Some(l) => Some(l.clone().unwrap_or_default()),
        None => current.as_ref().and_then(|c| c.location.clone()),
    };
    Ok(mailbox::Exception {
        index,
        start,
        end,
        subject,
        location,
    })
}

/// What an item reference of a request names, with occurrences resolved to their series.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// An item (a series too, by its own id or by `t:RecurringMasterItemId`).
    Item(String),
    /// Occurrence `index` of the series `series`.
    Occurrence { series: String, index: u32 },
}

impl Target {
    /// The item the store reads: the series of an occurrence.
    pub(crate) fn item_id(&self) -> &str {
        match self {
            Target::Item(id) | Target::Occurrence { series: id, .. } => id,
        }
    }
}

/// Resolves an item reference.
pub(crate) fn target(r: &ItemRef) -> Result<Target, ResponseError> {
    use ews_proto::types::ItemTarget;
    match r.target() {
        ItemTarget::Id(id) => Ok(match mailbox::parse_occurrence_id(id) {
            Some((series, index)) => Target::Occurrence { series, index },
            None => Target::Item(id.to_owned()),
        }),
        ItemTarget::Occurrence { master, index } => {
            if mailbox::parse_occurrence_id(master).is_some() {
                return Err(ResponseError::new(
                    "ErrorCalendarCannotUseIdForOccurrenceId",
                    "RecurringMasterId names an occurrence; give the series' own id.",
                ));
            }
            Ok(Target::Occurrence {
                series: master.to_owned(),
                index,
            })
        }
        ItemTarget::MasterOf(occurrence) => match mailbox::parse_occurrence_id(occurrence) {
            Some((series, _)) => Ok(Target::Item(series)),
            None => Err(ResponseError::new(
                "ErrorCalendarCannotUseIdForRecurringMasterId",
                "OccurrenceId of t:RecurringMasterItemId is not the id of an occurrence; give an occurrence's t:ItemId (from a CalendarView).",
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_rules_round_trip_through_storage() {
        for w in ews_proto::timezone::WINDOWS_ZONES {
            let stored = format!("{RULES}{}", rules_json(&w.tz));
            let (back, windows) = stored_zone(&stored).unwrap();
            assert_eq!(back, w.tz, "{}", w.id);
            assert!(windows.is_none());
            let (by_id, windows) = stored_zone(&format!("{WINDOWS}{}", w.id)).unwrap();
            assert_eq!(by_id, w.tz);
            assert_eq!(windows.map(|w| w.id), Some(w.id));
        }
        assert!(stored_zone("windows:Mars Standard Time").is_none());
        assert!(stored_zone("rules:{}").is_none());
        assert!(stored_zone("something else").is_none());
    }

    #[test]
    fn an_unknown_zone_without_rules_is_refused_with_the_known_ones() {
        let e = zone_of(Some(&ZoneRef {
            id: Some("Mars Standard Time".into()),
            rules: None,
        }))
        .unwrap_err();
        assert_eq!(e.code, "ErrorCalendarInvalidTimeZone");
        assert!(e.message.contains("Pacific Standard Time"), "{}", e.message);
        // the rules win when the id is unknown
        let pacific = windows_zone("Pacific Standard Time").unwrap().tz;
        let (tz, stored) = zone_of(Some(&ZoneRef {
            id: Some("Custom".into()),
            rules: Some(pacific),
        }))
        .unwrap();
        assert_eq!(tz, pacific);
        assert!(stored.starts_with(RULES));
        // none named: UTC
        let (tz, stored) = zone_of(None).unwrap();
        assert_eq!(stored, "windows:UTC");
        assert_eq!(tz.bias, 0);
    }

    #[test]
    fn a_series_from_outside_must_read_as_the_servers_own() {
        let good = mailbox::Series {
            rule: "<t:Recurrence xmlns:t=\"http://schemas.microsoft.com/exchange/services/2006/types\"><t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence><t:NoEndRecurrence><t:StartDate>2030-03-04</t:StartDate></t:NoEndRecurrence></t:Recurrence>".into(),
            time_zone: "windows:UTC".into(),
            last_end: None,
            deleted: vec![],
            modified: vec![],
        };
        assert_eq!(check_stored(&good), Ok(()));
        let bad_rule = mailbox::Series {
            rule: "<x/>".into(),
            ..good.clone()
        };
        assert!(check_stored(&bad_rule).unwrap_err().contains("its rule"));
        let no_occurrence = mailbox::Series {
            rule: good.rule.replace("<t:Interval>1<", "<t:Interval>0<"),
            ..good.clone()
        };
        assert!(
            check_stored(&no_occurrence)
                .unwrap_err()
                .contains("its rule")
        );
        let bad_zone = mailbox::Series {
            time_zone: "windows:Mars".into(),
            ..good
        };
        assert!(check_stored(&bad_zone).unwrap_err().contains("time zone"));
    }

    #[test]
    fn references_resolve_to_series_and_index() {
        let series = "AUkFYWxpY2UAAAAAAAAABw"; // an item id of mailbox "alice", local 7
        let occ = mailbox::occurrence_id(series, 3).unwrap();
        assert_eq!(
            target(&ItemRef::new(&occ, None)).unwrap(),
            Target::Occurrence {
                series: series.into(),
                index: 3
            }
        );
        assert_eq!(
            target(&ItemRef::occurrence(series, 5, None)).unwrap(),
            Target::Occurrence {
                series: series.into(),
                index: 5
            }
        );
        assert_eq!(
            target(&ItemRef::master_of(&occ, None)).unwrap(),
            Target::Item(series.into())
        );
        assert_eq!(
            target(&ItemRef::new(series, None)).unwrap(),
            Target::Item(series.into())
        );
        assert_eq!(
            target(&ItemRef::master_of(series, None)).unwrap_err().code,
            "ErrorCalendarCannotUseIdForRecurringMasterId"
        );
        assert_eq!(
            target(&ItemRef::occurrence(&occ, 1, None))
                .unwrap_err()
                .code,
            "ErrorCalendarCannotUseIdForOccurrenceId"
        );
    }
}
