//! Calendar recurrence (MS-OXWSCDATA `t:RecurrenceType`): the `t:Recurrence` of a
//! `t:CalendarItem` in CreateItem and GetItem, read from a request, written to an answer, kept
//! in a database column, and expanded into occurrences on the item's time zone.
//!
//! ```xml
//! <t:Recurrence>
//!   <t:WeeklyRecurrence><t:Interval>2</t:Interval><t:DaysOfWeek>Monday Wednesday</t:DaysOfWeek>
//!     <t:FirstDayOfWeek>Sunday</t:FirstDayOfWeek></t:WeeklyRecurrence>
//!   <t:EndDateRecurrence><t:StartDate>2026-11-30</t:StartDate><t:EndDate>2027-03-01</t:EndDate>
//!   </t:EndDateRecurrence>
//! </t:Recurrence>
//! ```
//!
//! A recurrence is one pattern (daily, weekly, absolute or relative monthly, absolute or
//! relative yearly) and one range (no end, an end date, a number of occurrences), both from a
//! start date. The task-only regeneration patterns (`t:DailyRegeneration` …) are refused as
//! unsupported in a calendar item's recurrence; a task's (`t:TaskRecurrenceType`, read as a
//! [`TaskRecurrence`]) may have one: the next task then falls an interval after the current one
//! is completed.
//!
//! Parsing checks the structure (one pattern, one range, known children, numbers, names and
//! dates); [`Recurrence::check`] the meaning (ranges of values, a day the month has, an end not
//! before the start, at least one occurrence), each rule a [`RecurrenceProblem`] with its EWS
//! response code.
//!
//! Expansion: the occurrences fall on the dates the pattern names, counting its periods (days,
//! weeks, months, years) from the one that contains the start date, the first occurrence on or
//! after the start date being number 1. A day of the month the month lacks (31 in April, 29 in
//! February of a common year) falls on the month's last day, as Outlook and Exchange place it.
//! No series runs past [`LAST_YEAR`]. Finding the occurrences of a window skips ahead
//! arithmetically to the window: its cost depends on the window, never on the series' age.

use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime, Time, Weekday};

use crate::error::{EwsProtoError, dn, missing};
use crate::ns::TYPES;
use crate::request::{invalid, set_once, unexpected, unsupported};
use crate::timezone::{SerializableTimeZone, weekday_name, weekday_of};
use crate::writer::XmlOut;
use crate::xml::{Element, Limits, is_xml_whitespace};

type Result<T> = std::result::Result<T, EwsProtoError>;

/// The earliest year a series may start in (the Windows epoch).
pub const FIRST_YEAR: i32 = 1601;
/// The latest year a series may start in; no occurrence falls after this year's last day.
pub const LAST_YEAR: i32 = 4500;
/// The largest `Interval`.
pub const MAX_INTERVAL: u32 = 999;
/// The largest `NumberOfOccurrences`.
pub const MAX_OCCURRENCES: u32 = 999;
/// The longest text [`Recurrence::from_storage`] reads.
pub const MAX_STORAGE_BYTES: usize = 4 * 1024;

/// The last date of any series.
const LAST_DATE: Date = time::macros::date!(4500 - 12 - 31);

// the days of the week, Sunday first
use crate::workhours::WEEK;

const MONTHS: [Month; 12] = [
    Month::January,
    Month::February,
    Month::March,
    Month::April,
    Month::May,
    Month::June,
    Month::July,
    Month::August,
    Month::September,
    Month::October,
    Month::November,
    Month::December,
];

// ======================================================================
// Types
// ======================================================================

/// The day a relative pattern counts (`DaysOfWeek` of a relative monthly or yearly pattern).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelativeDay {
    /// That day of the week.
    One(Weekday),
    /// Any day of the month (`Day`).
    Day,
    /// Monday to Friday (`Weekday`).
    Weekday,
    /// Saturday or Sunday (`WeekendDay`).
    WeekendDay,
}

impl RelativeDay {
    /// Whether a date on `d` counts.
    pub fn matches(self, d: Weekday) -> bool {
        match self {
            RelativeDay::One(w) => w == d,
            RelativeDay::Day => true,
            RelativeDay::Weekday => !matches!(d, Weekday::Saturday | Weekday::Sunday),
            RelativeDay::WeekendDay => matches!(d, Weekday::Saturday | Weekday::Sunday),
        }
    }

    /// The EWS name (`DayOfWeekType`).
    pub fn name(self) -> &'static str {
        match self {
            RelativeDay::One(w) => weekday_name(w),
            RelativeDay::Day => "Day",
            RelativeDay::Weekday => "Weekday",
            RelativeDay::WeekendDay => "WeekendDay",
        }
    }

    fn of(name: &str) -> Option<RelativeDay> {
        Some(match name {
            "Day" => RelativeDay::Day,
            "Weekday" => RelativeDay::Weekday,
            "WeekendDay" => RelativeDay::WeekendDay,
            other => RelativeDay::One(weekday_of(other)?),
        })
    }
}

/// Which of the month's matching days (`DayOfWeekIndex`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayOfWeekIndex {
    First,
    Second,
    Third,
    Fourth,
    Last,
}

impl DayOfWeekIndex {
    const ALL: [DayOfWeekIndex; 5] = [
        DayOfWeekIndex::First,
        DayOfWeekIndex::Second,
        DayOfWeekIndex::Third,
        DayOfWeekIndex::Fourth,
        DayOfWeekIndex::Last,
    ];

    /// The EWS name (`DayOfWeekIndexType`).
    pub fn name(self) -> &'static str {
        match self {
            DayOfWeekIndex::First => "First",
            DayOfWeekIndex::Second => "Second",
            DayOfWeekIndex::Third => "Third",
            DayOfWeekIndex::Fourth => "Fourth",
            DayOfWeekIndex::Last => "Last",
        }
    }

    /// 1 to 4; `None` for the last.
    fn nth(self) -> Option<usize> {
        match self {
            DayOfWeekIndex::First => Some(1),
            DayOfWeekIndex::Second => Some(2),
            DayOfWeekIndex::Third => Some(3),
            DayOfWeekIndex::Fourth => Some(4),
            DayOfWeekIndex::Last => None,
        }
    }
}

/// The pattern of a recurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pattern {
    /// Every `interval` days from the start date.
    Daily { interval: u32 },
    /// Every `interval` weeks (weeks starting on `first_day_of_week`) on `days`. Parsed `days`
    /// are in the week's order from `first_day_of_week`, each once.
    Weekly {
        interval: u32,
        days: Vec<Weekday>,
        first_day_of_week: Weekday,
    },
    /// Every `interval` months on `day_of_month` (the month's last day if it is shorter).
    AbsoluteMonthly { interval: u32, day_of_month: u8 },
    /// Every `interval` months on the `index`th `day` (e.g. the second Tuesday).
    RelativeMonthly {
        interval: u32,
        day: RelativeDay,
        index: DayOfWeekIndex,
    },
    /// Every year on `day_of_month` of `month` (February 29 falls on the 28th in common years).
    AbsoluteYearly { day_of_month: u8, month: Month },
    /// Every year on the `index`th `day` of `month` (e.g. the fourth Thursday of November).
    RelativeYearly {
        day: RelativeDay,
        index: DayOfWeekIndex,
        month: Month,
    },
}

/// How a series ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeEnd {
    /// Never (in practice: at the end of [`LAST_YEAR`]).
    NoEnd,
    /// With the last occurrence on or before this date.
    EndDate(Date),
    /// After this many occurrences.
    Numbered(u32),
}

/// A `t:Recurrence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    pub pattern: Pattern,
    pub start_date: Date,
    pub end: RangeEnd,
}

/// A task's regeneration pattern (`t:DailyRegeneration`, `t:WeeklyRegeneration`,
/// `t:MonthlyRegeneration`, `t:YearlyRegeneration`): the next task falls `interval` days, weeks,
/// months or years after the current one is completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Regeneration {
    Daily { interval: u32 },
    Weekly { interval: u32 },
    Monthly { interval: u32 },
    Yearly { interval: u32 },
}

impl Regeneration {
    /// The number of days, weeks, months or years.
    pub fn interval(self) -> u32 {
        match self {
            Regeneration::Daily { interval }
            | Regeneration::Weekly { interval }
            | Regeneration::Monthly { interval }
            | Regeneration::Yearly { interval } => interval,
        }
    }

    /// The element's local name (`DailyRegeneration`, …).
    pub fn element(self) -> &'static str {
        match self {
            Regeneration::Daily { .. } => "DailyRegeneration",
            Regeneration::Weekly { .. } => "WeeklyRegeneration",
            Regeneration::Monthly { .. } => "MonthlyRegeneration",
            Regeneration::Yearly { .. } => "YearlyRegeneration",
        }
    }
}

/// A task's `t:Recurrence` (`t:TaskRecurrenceType`): one of the calendar patterns, or a
/// regeneration pattern, with a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRecurrence {
    /// A calendar pattern: the task falls on the pattern's dates.
    Pattern(Recurrence),
    /// A regeneration pattern from `start_date`, ending as `end` says.
    Regeneration {
        regeneration: Regeneration,
        start_date: Date,
        end: RangeEnd,
    },
}

/// One occurrence of a series: its number (1 for the first) and its instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    pub index: u32,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
}

/// What is wrong with a well-formed recurrence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecurrenceProblem {
    #[error("the recurrence's Interval is {interval}; give an Interval from 1 to 999")]
    IntervalOutOfRange { interval: u32 },
    #[error(
        "the weekly recurrence names no day; give at least one day in DaysOfWeek (Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday)"
    )]
    NoDaysOfWeek,
    #[error("DayOfMonth {day} is not a day of a month; give a DayOfMonth from 1 to 31")]
    DayOfMonthOutOfRange { day: u8 },
    #[error("{month} has no day {day}; give a DayOfMonth from 1 to {max} for {month}")]
    DayNotInMonth { day: u8, month: Month, max: u8 },
    #[error("NumberOfOccurrences is {count}; give a NumberOfOccurrences from 1 to 999")]
    OccurrencesOutOfRange { count: u32 },
    #[error(
        "the EndDate {end} is before the StartDate {start}; give an EndDate on or after the StartDate"
    )]
    EndBeforeStart { start: Date, end: Date },
    #[error("the StartDate {start} is out of range; give a StartDate in the years 1601 to 4500")]
    StartOutOfRange { start: Date },
    #[error(
        "the recurrence has no occurrence: no day of its pattern falls between its StartDate and its end; give a range that includes a day of the pattern"
    )]
    NoOccurrence,
    /// A task's regeneration pattern with a `t:EndDateRecurrence` (Exchange refuses the pair).
    #[error(
        "a task that regenerates cannot end on a date; give a t:NoEndRecurrence or a t:NumberedRecurrence"
    )]
    RegenerationWithEndDate,
}

impl RecurrenceProblem {
    /// The EWS response code of the item's answer.
    pub fn response_code(&self) -> &'static str {
        match self {
            RecurrenceProblem::NoDaysOfWeek => "ErrorCalendarInvalidDayForWeeklyRecurrence",
            RecurrenceProblem::NoOccurrence => "ErrorRecurrenceHasNoOccurrence",
            RecurrenceProblem::RegenerationWithEndDate => "ErrorUnsupportedRecurrence",
            _ => "ErrorCalendarInvalidRecurrence",
        }
    }
}

// ======================================================================
// Reading `t:Recurrence`
// ======================================================================

const PATTERN_NAME: &str = "a pattern (t:DailyRecurrence, t:WeeklyRecurrence, t:AbsoluteMonthlyRecurrence, t:RelativeMonthlyRecurrence, t:AbsoluteYearlyRecurrence or t:RelativeYearlyRecurrence)";
const RANGE_NAME: &str = "a range (t:NoEndRecurrence, t:EndDateRecurrence or t:NumberedRecurrence)";
const TASK_PATTERN_NAME: &str = "a pattern (t:DailyRecurrence, t:WeeklyRecurrence, t:AbsoluteMonthlyRecurrence, t:RelativeMonthlyRecurrence, t:AbsoluteYearlyRecurrence, t:RelativeYearlyRecurrence, t:DailyRegeneration, t:WeeklyRegeneration, t:MonthlyRegeneration or t:YearlyRegeneration)";

/// Reads a `t:Recurrence` (of a client's request, or of an answer on a client's side).
pub fn recurrence_of(el: &Element) -> Result<Recurrence> {
    parse_recurrence(el)
}

/// Reads `el`, a `t:Recurrence`: one pattern and one range, in either order.
pub(crate) fn parse_recurrence(el: &Element) -> Result<Recurrence> {
    match parse_any(el, false)? {
        (AnyPattern::Calendar(pattern), start_date, end) => Ok(Recurrence {
            pattern,
            start_date,
            end,
        }),
        // (refused in the loop: a calendar item's recurrence has no regeneration pattern)
        (AnyPattern::Regeneration(_), ..) => Err(unsupported(el)),
    }
}

/// Reads a task's `t:Recurrence` (of a client's request, or of an answer on a client's side).
pub fn task_recurrence_of(el: &Element) -> Result<TaskRecurrence> {
    parse_task_recurrence(el)
}

/// Reads `el`, a task's `t:Recurrence`: one pattern (a calendar or a regeneration one) and one
/// range, in either order.
pub(crate) fn parse_task_recurrence(el: &Element) -> Result<TaskRecurrence> {
    Ok(match parse_any(el, true)? {
        (AnyPattern::Calendar(pattern), start_date, end) => TaskRecurrence::Pattern(Recurrence {
            pattern,
            start_date,
            end,
        }),
        (AnyPattern::Regeneration(regeneration), start_date, end) => TaskRecurrence::Regeneration {
            regeneration,
            start_date,
            end,
        },
    })
}

enum AnyPattern {
    Calendar(Pattern),
    Regeneration(Regeneration),
}

/// One pattern and one range of `el`; a regeneration pattern only for a task's (`tasks`).
fn parse_any(el: &Element, tasks: bool) -> Result<(AnyPattern, Date, RangeEnd)> {
    let mut pattern: Option<(&Element, AnyPattern)> = None;
    let mut range: Option<(&Element, (Date, RangeEnd))> = None;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "DailyRecurrence"
            | "WeeklyRecurrence"
            | "AbsoluteMonthlyRecurrence"
            | "RelativeMonthlyRecurrence"
            | "AbsoluteYearlyRecurrence"
            | "RelativeYearlyRecurrence" => {
                only_one(pattern.as_ref().map(|p| p.0), el, child)?;
                pattern = Some((child, AnyPattern::Calendar(parse_pattern(el, child)?)));
            }
            "NoEndRecurrence" | "EndDateRecurrence" | "NumberedRecurrence" => {
                only_one(range.as_ref().map(|r| r.0), el, child)?;
                range = Some((child, parse_range(el, child)?));
            }
            // the tasks' patterns
            "DailyRegeneration"
            | "WeeklyRegeneration"
            | "MonthlyRegeneration"
            | "YearlyRegeneration" => {
                if !tasks {
                    return Err(unsupported(child));
                }
                only_one(pattern.as_ref().map(|p| p.0), el, child)?;
                pattern = Some((child, AnyPattern::Regeneration(parse_regeneration(child)?)));
            }
            _ => return Err(unexpected(el, child)),
        }
    }
    let pattern_name = if tasks {
        TASK_PATTERN_NAME
    } else {
        PATTERN_NAME
    };
    let (_, pattern) = pattern.ok_or_else(|| missing(el, pattern_name))?;
    let (_, (start_date, end)) = range.ok_or_else(|| missing(el, RANGE_NAME))?;
    Ok((pattern, start_date, end))
}

fn parse_regeneration(el: &Element) -> Result<Regeneration> {
    let [interval] = fields(el, ["Interval"])?;
    let interval = interval_text(required(el, interval, "Interval")?)?;
    Ok(match el.local.as_str() {
        "DailyRegeneration" => Regeneration::Daily { interval },
        "WeeklyRegeneration" => Regeneration::Weekly { interval },
        "MonthlyRegeneration" => Regeneration::Monthly { interval },
        _ => Regeneration::Yearly { interval },
    })
}

/// Refuses a second pattern (or range): the same element twice is a duplicate, another one is
/// unexpected.
fn only_one(seen: Option<&Element>, parent: &Element, child: &Element) -> Result<()> {
    match seen {
        None => Ok(()),
        Some(first) if first.local == child.local => Err(EwsProtoError::DuplicateElement {
            parent: dn(parent),
            name: dn(child),
            position: child.position(),
        }),
        Some(_) => Err(unexpected(parent, child)),
    }
}

/// The children of `el` named `names` (types namespace), each at most once; any other child
/// is refused.
fn fields<'a, const N: usize>(
    el: &'a Element,
    names: [&'static str; N],
) -> Result<[Option<&'a Element>; N]> {
    let mut found = [None; N];
    for child in &el.children {
        let at = if &*child.ns == TYPES {
            names.iter().position(|n| *n == child.local)
        } else {
            None
        };
        match at.and_then(|i| found.get_mut(i)) {
            Some(slot) => set_once(slot, el, child, child)?,
            None => return Err(unexpected(el, child)),
        }
    }
    Ok(found)
}

fn required<'a>(
    el: &Element,
    found: Option<&'a Element>,
    name: &'static str,
) -> Result<&'a Element> {
    found.ok_or_else(|| missing(el, name))
}

fn parse_pattern(parent: &Element, el: &Element) -> Result<Pattern> {
    Ok(match el.local.as_str() {
        "DailyRecurrence" => {
            let [interval] = fields(el, ["Interval"])?;
            Pattern::Daily {
                interval: interval_text(required(el, interval, "Interval")?)?,
            }
        }
        "WeeklyRecurrence" => {
            let [interval, days, first] = fields(el, ["Interval", "DaysOfWeek", "FirstDayOfWeek"])?;
            let interval = interval_text(required(el, interval, "Interval")?)?;
            let days = required(el, days, "DaysOfWeek")?;
            let first_day_of_week = match first {
                None => Weekday::Sunday,
                Some(f) => weekday_of(f.text_trimmed()).ok_or_else(|| {
                    invalid(
                        f,
                        dn(f),
                        &f.text,
                        "one of: Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday",
                    )
                })?,
            };
            Pattern::Weekly {
                interval,
                days: week_days_text(days, first_day_of_week)?,
                first_day_of_week,
            }
        }
        "AbsoluteMonthlyRecurrence" => {
            let [interval, day] = fields(el, ["Interval", "DayOfMonth"])?;
            Pattern::AbsoluteMonthly {
                interval: interval_text(required(el, interval, "Interval")?)?,
                day_of_month: day_of_month_text(required(el, day, "DayOfMonth")?)?,
            }
        }
        "RelativeMonthlyRecurrence" => {
            let [interval, day, index] = fields(el, ["Interval", "DaysOfWeek", "DayOfWeekIndex"])?;
            Pattern::RelativeMonthly {
                interval: interval_text(required(el, interval, "Interval")?)?,
                day: relative_day_text(required(el, day, "DaysOfWeek")?)?,
                index: index_text(required(el, index, "DayOfWeekIndex")?)?,
            }
        }
        "AbsoluteYearlyRecurrence" => {
            let [day, month] = fields(el, ["DayOfMonth", "Month"])?;
            Pattern::AbsoluteYearly {
                day_of_month: day_of_month_text(required(el, day, "DayOfMonth")?)?,
                month: month_text(required(el, month, "Month")?)?,
            }
        }
        "RelativeYearlyRecurrence" => {
            let [day, index, month] = fields(el, ["DaysOfWeek", "DayOfWeekIndex", "Month"])?;
            Pattern::RelativeYearly {
                day: relative_day_text(required(el, day, "DaysOfWeek")?)?,
                index: index_text(required(el, index, "DayOfWeekIndex")?)?,
                month: month_text(required(el, month, "Month")?)?,
            }
        }
        _ => return Err(unexpected(parent, el)),
    })
}

fn parse_range(parent: &Element, el: &Element) -> Result<(Date, RangeEnd)> {
    Ok(match el.local.as_str() {
        "NoEndRecurrence" => {
            let [start] = fields(el, ["StartDate"])?;
            (
                date_text(required(el, start, "StartDate")?)?,
                RangeEnd::NoEnd,
            )
        }
        "EndDateRecurrence" => {
            let [start, end] = fields(el, ["StartDate", "EndDate"])?;
            (
                date_text(required(el, start, "StartDate")?)?,
                RangeEnd::EndDate(date_text(required(el, end, "EndDate")?)?),
            )
        }
        "NumberedRecurrence" => {
            let [start, count] = fields(el, ["StartDate", "NumberOfOccurrences"])?;
            let count = required(el, count, "NumberOfOccurrences")?;
            (
                date_text(required(el, start, "StartDate")?)?,
                RangeEnd::Numbered(whole_number(count, "a whole number from 1 to 999")?),
            )
        }
        _ => return Err(unexpected(parent, el)),
    })
}

/// A non-negative integer (`xs:int`; the range is [`Recurrence::check`]'s).
fn whole_number(el: &Element, expected: &str) -> Result<u32> {
    el.text_trimmed()
        .parse::<u32>()
        .map_err(|_| invalid(el, dn(el), &el.text, expected))
}

fn interval_text(el: &Element) -> Result<u32> {
    whole_number(el, "a whole number from 1 to 999")
}

fn day_of_month_text(el: &Element) -> Result<u8> {
    let expected = "a day of the month, 1 to 31";
    u8::try_from(whole_number(el, expected)?).map_err(|_| invalid(el, dn(el), &el.text, expected))
}

fn month_text(el: &Element) -> Result<Month> {
    let name = el.text_trimmed();
    MONTHS
        .into_iter()
        .find(|m| month_name(*m) == name)
        .ok_or_else(|| {
            invalid(
                el,
                dn(el),
                &el.text,
                "one of: January, February, March, April, May, June, July, August, September, October, November, December",
            )
        })
}

fn index_text(el: &Element) -> Result<DayOfWeekIndex> {
    let name = el.text_trimmed();
    DayOfWeekIndex::ALL
        .into_iter()
        .find(|i| i.name() == name)
        .ok_or_else(|| {
            invalid(
                el,
                dn(el),
                &el.text,
                "one of: First, Second, Third, Fourth, Last",
            )
        })
}

/// The `DaysOfWeek` of a relative pattern: one name.
fn relative_day_text(el: &Element) -> Result<RelativeDay> {
    let mut names = el.text.split(is_xml_whitespace).filter(|n| !n.is_empty());
    match (names.next(), names.next()) {
        (Some(name), None) => RelativeDay::of(name),
        _ => None,
    }
    .ok_or_else(|| {
        invalid(
            el,
            dn(el),
            &el.text,
            "one of: Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Day, Weekday, WeekendDay",
        )
    })
}

/// The `DaysOfWeek` of a weekly pattern: day names separated by spaces (`Day`, `Weekday`,
/// `WeekendDay` stand for their days), in the week's order from `first`, each once.
fn week_days_text(el: &Element, first: Weekday) -> Result<Vec<Weekday>> {
    let mut days = Vec::new();
    for name in el.text.split(is_xml_whitespace).filter(|n| !n.is_empty()) {
        let day = RelativeDay::of(name).ok_or_else(|| {
            invalid(
                el,
                dn(el),
                name,
                "day names (Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday) separated by spaces",
            )
        })?;
        days.extend(WEEK.into_iter().filter(|d| day.matches(*d)));
        // never more than the week, however long the list
        days = week_order(&days, first);
    }
    Ok(days)
}

/// `days` in the week's order from `first`, each once.
fn week_order(days: &[Weekday], first: Weekday) -> Vec<Weekday> {
    let mut on = [false; 7];
    for d in days {
        if let Some(slot) = on.get_mut(usize::from(offset_in_week(*d, first))) {
            *slot = true;
        }
    }
    (0u8..7)
        .filter(|o| on.get(usize::from(*o)).copied().unwrap_or(false))
        .map(|o| first.nth_next(o))
        .collect()
}

/// Days from `first` to the next `d` (0 to 6).
fn offset_in_week(d: Weekday, first: Weekday) -> u8 {
    (d.number_days_from_sunday() + 7 - first.number_days_from_sunday()) % 7
}

/// Reads an `xs:date`, `YYYY-MM-DD` with an optional zone suffix (`Z`, `+01:00`, `-08:00`),
/// which is ignored: the date is the date.
pub fn parse_xs_date(s: &str) -> Option<Date> {
    let s = s.trim_matches(is_xml_whitespace);
    let (date, zone) = (s.get(..10)?, s.get(10..)?);
    let b = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = date.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())
            .flatten()
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let zone_ok = match zone {
        "" | "Z" => true,
        z => {
            let zb = z.as_bytes();
            z.len() == 6
                && matches!(zb.first(), Some(b'+' | b'-'))
                && zb.get(3) == Some(&b':')
                && match (
                    z.get(1..3).and_then(|h| h.parse::<u8>().ok()),
                    z.get(4..6).and_then(|m| m.parse::<u8>().ok()),
                ) {
                    (Some(h), Some(m)) => {
                        zb.iter().skip(1).all(|c| c.is_ascii_digit() || *c == b':')
                            && (h < 14 && m < 60 || h == 14 && m == 0)
                    }
                    _ => false,
                }
        }
    };
    if !zone_ok || year == 0 {
        return None;
    }
    Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()
}

fn date_text(el: &Element) -> Result<Date> {
    parse_xs_date(&el.text).ok_or_else(|| {
        invalid(
            el,
            dn(el),
            &el.text,
            "an xs:date, YYYY-MM-DD (a zone suffix such as Z or -08:00 is accepted and ignored)",
        )
    })
}

// ======================================================================
// Writing `t:Recurrence`
// ======================================================================

/// The EWS name of a month (`MonthNamesType`).
pub fn month_name(m: Month) -> &'static str {
    match m {
        Month::January => "January",
        Month::February => "February",
        Month::March => "March",
        Month::April => "April",
        Month::May => "May",
        Month::June => "June",
        Month::July => "July",
        Month::August => "August",
        Month::September => "September",
        Month::October => "October",
        Month::November => "November",
        Month::December => "December",
    }
}

/// A date as `xs:date` without a zone: `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Writes `<t:Recurrence>`: the pattern, then the range (the schema's order).
pub(crate) fn write_recurrence(w: &mut XmlOut, r: &Recurrence) {
    write_recurrence_dated(w, r, "");
}

/// A `t:Recurrence` whose range's dates end with `zone` (a task's end with `Z`: Exchange writes
/// a task recurrence's dates with a zone, `2006-01-09Z` or `2006-01-09+01:00`, and exchangelib
/// reads a date only when it has one).
fn write_recurrence_dated(w: &mut XmlOut, r: &Recurrence, zone: &str) {
    w.start("t:Recurrence", &[]);
    write_pattern(w, &r.pattern);
    write_range(w, r.start_date, r.end, zone);
    w.end("t:Recurrence");
}

/// Writes a task's `<t:Recurrence>`: the pattern (a calendar or a regeneration one), then the
/// range.
pub(crate) fn write_task_recurrence(w: &mut XmlOut, r: &TaskRecurrence) {
    match r {
        TaskRecurrence::Pattern(r) => write_recurrence_dated(w, r, "Z"),
        TaskRecurrence::Regeneration {
            regeneration,
            start_date,
            end,
        } => {
            w.start("t:Recurrence", &[]);
            let name = format!("t:{}", regeneration.element());
            w.start(&name, &[]);
            w.leaf("t:Interval", &regeneration.interval().to_string());
            w.end(&name);
            write_range(w, *start_date, *end, "Z");
            w.end("t:Recurrence");
        }
    }
}

fn write_pattern(w: &mut XmlOut, pattern: &Pattern) {
    match pattern {
        Pattern::Daily { interval } => {
            w.start("t:DailyRecurrence", &[]);
            w.leaf("t:Interval", &interval.to_string());
            w.end("t:DailyRecurrence");
        }
        Pattern::Weekly {
            interval,
            days,
            first_day_of_week,
        } => {
            w.start("t:WeeklyRecurrence", &[]);
            w.leaf("t:Interval", &interval.to_string());
            let names: Vec<&str> = days.iter().map(|d| weekday_name(*d)).collect();
            w.leaf("t:DaysOfWeek", &names.join(" "));
            w.leaf("t:FirstDayOfWeek", weekday_name(*first_day_of_week));
            w.end("t:WeeklyRecurrence");
        }
        Pattern::AbsoluteMonthly {
            interval,
            day_of_month,
        } => {
            w.start("t:AbsoluteMonthlyRecurrence", &[]);
            w.leaf("t:Interval", &interval.to_string());
            w.leaf("t:DayOfMonth", &day_of_month.to_string());
            w.end("t:AbsoluteMonthlyRecurrence");
        }
        Pattern::RelativeMonthly {
            interval,
            day,
            index,
        } => {
            w.start("t:RelativeMonthlyRecurrence", &[]);
            w.leaf("t:Interval", &interval.to_string());
            w.leaf("t:DaysOfWeek", day.name());
            w.leaf("t:DayOfWeekIndex", index.name());
            w.end("t:RelativeMonthlyRecurrence");
        }
        Pattern::AbsoluteYearly {
            day_of_month,
            month,
        } => {
            w.start("t:AbsoluteYearlyRecurrence", &[]);
            w.leaf("t:DayOfMonth", &day_of_month.to_string());
            w.leaf("t:Month", month_name(*month));
            w.end("t:AbsoluteYearlyRecurrence");
        }
        Pattern::RelativeYearly { day, index, month } => {
            w.start("t:RelativeYearlyRecurrence", &[]);
            w.leaf("t:DaysOfWeek", day.name());
            w.leaf("t:DayOfWeekIndex", index.name());
            w.leaf("t:Month", month_name(*month));
            w.end("t:RelativeYearlyRecurrence");
        }
    }
}

fn write_range(w: &mut XmlOut, start_date: Date, end: RangeEnd, zone: &str) {
    let start = format!("{}{zone}", format_date(start_date));
    match end {
        RangeEnd::NoEnd => {
            w.start("t:NoEndRecurrence", &[]);
            w.leaf("t:StartDate", &start);
            w.end("t:NoEndRecurrence");
        }
        RangeEnd::EndDate(end) => {
            w.start("t:EndDateRecurrence", &[]);
            w.leaf("t:StartDate", &start);
            w.leaf("t:EndDate", &format!("{}{zone}", format_date(end)));
            w.end("t:EndDateRecurrence");
        }
        RangeEnd::Numbered(n) => {
            w.start("t:NumberedRecurrence", &[]);
            w.leaf("t:StartDate", &start);
            w.leaf("t:NumberOfOccurrences", &n.to_string());
            w.end("t:NumberedRecurrence");
        }
    }
}

// ======================================================================
// Storage, rules, expansion
// ======================================================================

/// The `t:Recurrence` element of a stored recurrence's text (at most [`MAX_STORAGE_BYTES`]).
fn stored_root(s: &str) -> Result<Element> {
    let limits = Limits {
        max_input_bytes: MAX_STORAGE_BYTES,
        max_depth: 4,
        max_elements: 16,
        max_attributes: 4,
        max_total_attributes: 4,
        max_text_len: 256,
        max_attribute_value_len: 256,
        ..Limits::default()
    };
    let root = crate::xml::parse(s.as_bytes(), &limits)?;
    if !root.is(TYPES, "Recurrence") {
        return Err(invalid(
            &root,
            "the stored recurrence's root element".into(),
            &dn(&root),
            "t:Recurrence in the EWS types namespace",
        ));
    }
    Ok(root)
}

/// `w`'s text with the types namespace declared on its first `t:Recurrence`.
fn standalone(w: XmlOut) -> String {
    String::from_utf8_lossy(&w.finish()).replacen(
        "<t:Recurrence>",
        &format!(r#"<t:Recurrence xmlns:t="{TYPES}">"#),
        1,
    )
}

impl TaskRecurrence {
    /// The text kept in storage: the `t:Recurrence` XML as a standalone document, as
    /// [`Recurrence::to_storage`] writes it. [`TaskRecurrence::from_storage`] reads it back.
    pub fn to_storage(&self) -> String {
        let mut w = XmlOut::new();
        write_task_recurrence(&mut w, self);
        standalone(w)
    }

    /// Reads [`TaskRecurrence::to_storage`]'s text (at most [`MAX_STORAGE_BYTES`]).
    pub fn from_storage(s: &str) -> Result<TaskRecurrence> {
        parse_task_recurrence(&stored_root(s)?)
    }

    /// The range's start date.
    pub fn start_date(&self) -> Date {
        match self {
            TaskRecurrence::Pattern(r) => r.start_date,
            TaskRecurrence::Regeneration { start_date, .. } => *start_date,
        }
    }

    /// Checks the rules of a task's recurrence: a calendar pattern's are
    /// [`Recurrence::check`]'s; a regeneration pattern needs an interval from 1 to
    /// [`MAX_INTERVAL`], a start in the years [`FIRST_YEAR`] to [`LAST_YEAR`], and no end date
    /// (Exchange refuses a regenerating task that ends on a date:
    /// [`RecurrenceProblem::RegenerationWithEndDate`]); a number of occurrences from 1 to
    /// [`MAX_OCCURRENCES`].
    pub fn check(&self) -> std::result::Result<(), RecurrenceProblem> {
        let (regeneration, start_date, end) = match self {
            TaskRecurrence::Pattern(r) => return r.check(),
            TaskRecurrence::Regeneration {
                regeneration,
                start_date,
                end,
            } => (regeneration, start_date, end),
        };
        if !(FIRST_YEAR..=LAST_YEAR).contains(&start_date.year()) {
            return Err(RecurrenceProblem::StartOutOfRange { start: *start_date });
        }
        let interval = regeneration.interval();
        if !(1..=MAX_INTERVAL).contains(&interval) {
            return Err(RecurrenceProblem::IntervalOutOfRange { interval });
        }
        match end {
            RangeEnd::NoEnd => Ok(()),
            RangeEnd::EndDate(_) => Err(RecurrenceProblem::RegenerationWithEndDate),
            RangeEnd::Numbered(count) if !(1..=MAX_OCCURRENCES).contains(count) => {
                Err(RecurrenceProblem::OccurrencesOutOfRange { count: *count })
            }
            RangeEnd::Numbered(_) => Ok(()),
        }
    }

    /// The task's next occurrence once the one on `current` is completed on `completed`
    /// (MS-OXOTASK 3.1.4.6): its date, and the recurrence as it stands from there: its range
    /// starting on that date, a numbered range counting the occurrences left. `None` when the
    /// one on `current` was the last (a numbered range used up, an end date passed, or
    /// [`LAST_YEAR`] reached).
    ///
    /// A calendar pattern's next occurrence is its first date after `current` (moving the range's
    /// start to one of the pattern's dates keeps every later date where it was, intervals
    /// included). A regeneration pattern's falls its interval after `completed` (a month or a
    /// year later on the same day, or the month's last day when it is shorter).
    pub fn next_after(&self, current: Date, completed: Date) -> Option<(Date, TaskRecurrence)> {
        match self {
            TaskRecurrence::Pattern(r) => {
                // each occurrence a point at midnight UTC: the first one after `current` is
                // the first that ends after noon on `current`
                let from = PrimitiveDateTime::new(current, Time::MIDNIGHT)
                    .assume_utc()
                    .checked_add(Duration::hours(12))?;
                let to = PrimitiveDateTime::new(LAST_DATE.next_day()?, Time::MIDNIGHT).assume_utc();
                let next = r
                    .occurrences_between(
                        Time::MIDNIGHT,
                        Duration::ZERO,
                        &SerializableTimeZone::UTC,
                        from,
                        to,
                        &[],
                        1,
                    )
                    .into_iter()
                    .next()?;
                let date = next.start.date();
                let end = match r.end {
                    RangeEnd::Numbered(n) => RangeEnd::Numbered(n.checked_sub(next.index)? + 1),
                    other => other,
                };
                let moved = Recurrence {
                    pattern: r.pattern.clone(),
                    start_date: date,
                    end,
                };
                Some((date, TaskRecurrence::Pattern(moved)))
            }
            TaskRecurrence::Regeneration {
                regeneration, end, ..
            } => {
                let end = match *end {
                    RangeEnd::Numbered(n) if n <= 1 => return None,
                    RangeEnd::Numbered(n) => RangeEnd::Numbered(n - 1),
                    other => other,
                };
                let n = regeneration.interval();
                let date = match regeneration {
                    Regeneration::Daily { .. } => {
                        completed.checked_add(Duration::days(i64::from(n)))?
                    }
                    Regeneration::Weekly { .. } => {
                        completed.checked_add(Duration::weeks(i64::from(n)))?
                    }
                    Regeneration::Monthly { .. } => add_months(completed, i64::from(n))?,
                    Regeneration::Yearly { .. } => add_months(completed, 12 * i64::from(n))?,
                };
                if date > LAST_DATE {
                    return None;
                }
                let next = TaskRecurrence::Regeneration {
                    regeneration: *regeneration,
                    start_date: date,
                    end,
                };
                Some((date, next))
            }
        }
    }
}

impl Recurrence {
    /// The text kept in a database column: the `t:Recurrence` XML as a standalone document
    /// (the types namespace declared, no XML declaration). [`Recurrence::from_storage`] reads
    /// back exactly this value for any recurrence that parsing produced or that passes
    /// [`Recurrence::check`] with its weekly days in the week's order, each once.
    pub fn to_storage(&self) -> String {
        let mut w = XmlOut::new();
        write_recurrence(&mut w, self);
        standalone(w)
    }

    /// Reads [`Recurrence::to_storage`]'s text (at most [`MAX_STORAGE_BYTES`]).
    pub fn from_storage(s: &str) -> Result<Recurrence> {
        parse_recurrence(&stored_root(s)?)
    }

    /// Checks the rules of a recurrence this server keeps: the ranges of the values, a day the
    /// month has, an end not before the start, and at least one occurrence.
    pub fn check(&self) -> std::result::Result<(), RecurrenceProblem> {
        self.rules()?;
        match self.plan().and_then(|p| p.walk_from(0).next()) {
            Some(_) => Ok(()),
            None => Err(RecurrenceProblem::NoOccurrence),
        }
    }

    /// [`Recurrence::check`] but the occurrence: what expansion needs to terminate.
    fn rules(&self) -> std::result::Result<(), RecurrenceProblem> {
        if !(FIRST_YEAR..=LAST_YEAR).contains(&self.start_date.year()) {
            return Err(RecurrenceProblem::StartOutOfRange {
                start: self.start_date,
            });
        }
        match &self.pattern {
            Pattern::Daily { interval }
            | Pattern::Weekly { interval, .. }
            | Pattern::AbsoluteMonthly { interval, .. }
            | Pattern::RelativeMonthly { interval, .. }
                if !(1..=MAX_INTERVAL).contains(interval) =>
            {
                return Err(RecurrenceProblem::IntervalOutOfRange {
                    interval: *interval,
                });
            }
            _ => {}
        }
        match &self.pattern {
            Pattern::Weekly { days, .. } if days.is_empty() => {
                return Err(RecurrenceProblem::NoDaysOfWeek);
            }
            Pattern::AbsoluteMonthly { day_of_month, .. }
            | Pattern::AbsoluteYearly { day_of_month, .. }
                if !(1..=31).contains(day_of_month) =>
            {
                return Err(RecurrenceProblem::DayOfMonthOutOfRange { day: *day_of_month });
            }
            Pattern::AbsoluteYearly {
                day_of_month,
                month,
            } => {
                // February 29 is a day of February (in leap years)
                let max = month.length(2000);
                if *day_of_month > max {
                    return Err(RecurrenceProblem::DayNotInMonth {
                        day: *day_of_month,
                        month: *month,
                        max,
                    });
                }
            }
            _ => {}
        }
        match self.end {
            RangeEnd::Numbered(count) if !(1..=MAX_OCCURRENCES).contains(&count) => {
                Err(RecurrenceProblem::OccurrencesOutOfRange { count })
            }
            RangeEnd::EndDate(end) if end < self.start_date => {
                Err(RecurrenceProblem::EndBeforeStart {
                    start: self.start_date,
                    end,
                })
            }
            _ => Ok(()),
        }
    }

    /// The series' dates with their numbers, in order, lazily: to the end of its range, and
    /// never past [`LAST_YEAR`]. Nothing for a recurrence that [`Recurrence::check`] refuses.
    pub fn dates(&self) -> impl Iterator<Item = (u32, Date)> {
        self.plan().map(|p| p.walk_from(0)).into_iter().flatten()
    }

    /// The date of occurrence `index` (1 for the first), without walking the series.
    pub fn date_of(&self, index: u32) -> Option<Date> {
        self.plan()?.date_of(u64::from(index))
    }

    /// Occurrence `index`: on its date at `time_of_day` on `tz`'s wall clock, lasting
    /// `duration` (a negative duration is taken as none).
    pub fn occurrence(
        &self,
        index: u32,
        time_of_day: Time,
        duration: Duration,
        tz: &SerializableTimeZone,
    ) -> Option<Occurrence> {
        let date = self.date_of(index)?;
        Some(occurrence_at(index, date, time_of_day, duration, tz))
    }

    /// The first occurrence.
    pub fn first(
        &self,
        time_of_day: Time,
        duration: Duration,
        tz: &SerializableTimeZone,
    ) -> Option<Occurrence> {
        self.occurrence(1, time_of_day, duration, tz)
    }

    /// The last occurrence (`None` for a series without end; a numbered series that would run
    /// past [`LAST_YEAR`] ends there).
    pub fn last(
        &self,
        time_of_day: Time,
        duration: Duration,
        tz: &SerializableTimeZone,
    ) -> Option<Occurrence> {
        let plan = self.plan()?;
        let (index, date) = match self.end {
            RangeEnd::NoEnd => return None,
            RangeEnd::Numbered(n) => match plan.date_of(u64::from(n)) {
                Some(date) => (n, date),
                None => plan.last_one()?,
            },
            RangeEnd::EndDate(_) => plan.last_one()?,
        };
        Some(occurrence_at(index, date, time_of_day, duration, tz))
    }

    /// The occurrences (at `time_of_day` on `tz`'s wall clock, lasting `duration`) that start
    /// before `to` and end after `from`, in order, but those whose number is in `skip`, at most
    /// `limit`. Starts at the window: the cost depends on the window (and `limit`, `skip`),
    /// not on how long ago the series began.
    #[allow(clippy::too_many_arguments)]
    pub fn occurrences_between(
        &self,
        time_of_day: Time,
        duration: Duration,
        tz: &SerializableTimeZone,
        from: OffsetDateTime,
        to: OffsetDateTime,
        skip: &[u32],
        limit: usize,
    ) -> Vec<Occurrence> {
        let mut out = Vec::new();
        let Some(plan) = self.plan() else {
            return out;
        };
        if limit == 0 || from >= to {
            return out;
        }
        let duration = duration.max(Duration::ZERO);
        // the earliest date an occurrence still running at `from` can be on, with two days to
        // spare for the zone's offset and its changes
        let earliest = from
            .checked_sub(duration)
            .map(|t| tz.to_local(t).date())
            .and_then(|d| d.checked_sub(Duration::days(2)))
            .unwrap_or(Date::MIN);
        let mut skip = skip.to_vec();
        skip.sort_unstable();
        for (index, date) in plan.walk_from(plan.period_of(earliest)) {
            let o = occurrence_at(index, date, time_of_day, duration, tz);
            if o.start >= to {
                break;
            }
            if o.end <= from || skip.binary_search(&index).is_ok() {
                continue;
            }
            out.push(o);
            if out.len() >= limit {
                break;
            }
        }
        out
    }

    /// The arithmetic of the series; `None` when the rules are not met.
    fn plan(&self) -> Option<Plan<'_>> {
        self.rules().ok()?;
        let start = self.start_date;
        let start_jd = i64::from(start.to_julian_day());
        let (mut offsets, mut per_period, mut week0_jd) = ([0u8; 7], 1u64, start_jd);
        if let Pattern::Weekly {
            days,
            first_day_of_week,
            ..
        } = &self.pattern
        {
            let ordered = week_order(days, *first_day_of_week);
            for (slot, d) in offsets.iter_mut().zip(&ordered) {
                *slot = offset_in_week(*d, *first_day_of_week);
            }
            per_period = ordered.len() as u64;
            week0_jd = start_jd - i64::from(offset_in_week(start.weekday(), *first_day_of_week));
        }
        if per_period == 0 {
            // no day in the week (refused by the rules): nothing to expand
            return None;
        }
        let mut plan = Plan {
            r: self,
            start_jd,
            week0_jd,
            month0: month_number(start),
            offsets,
            per_period,
            first_period: 0,
            last: match self.end {
                RangeEnd::EndDate(end) => end.min(LAST_DATE),
                _ => LAST_DATE,
            },
            max_index: match self.end {
                RangeEnd::Numbered(n) => u64::from(n),
                _ => u64::from(u32::MAX),
            },
        };
        plan.first_period = plan.period(0).map_or(0, |c| {
            c.dates().iter().filter(|d| **d >= start).count() as u64
        });
        Some(plan)
    }
}

fn occurrence_at(
    index: u32,
    date: Date,
    time_of_day: Time,
    duration: Duration,
    tz: &SerializableTimeZone,
) -> Occurrence {
    let start = tz.from_local(PrimitiveDateTime::new(date, time_of_day));
    let end = start
        .checked_add(duration.max(Duration::ZERO))
        .unwrap_or(PrimitiveDateTime::MAX.assume_utc());
    Occurrence { index, start, end }
}

/// A month as a number of months since year 0.
fn month_number(d: Date) -> i64 {
    i64::from(d.year()) * 12 + i64::from(u8::from(d.month())) - 1
}

/// `d` moved by `months` months, on the same day of the month or the month's last day.
fn add_months(d: Date, months: i64) -> Option<Date> {
    let m = month_number(d).checked_add(months)?;
    let month = MONTHS[usize::try_from(m.rem_euclid(12)).ok()?];
    absolute_day(m.div_euclid(12), month, d.day())
}

/// The date of `day_of_month` in a month, or the month's last day if it is shorter.
fn absolute_day(year: i64, month: Month, day_of_month: u8) -> Option<Date> {
    let year = i32::try_from(year).ok()?;
    Date::from_calendar_date(year, month, day_of_month.min(month.length(year))).ok()
}

/// The `index`th `day` of a month.
fn relative_day(year: i64, month: Month, day: RelativeDay, index: DayOfWeekIndex) -> Option<Date> {
    let year = i32::try_from(year).ok()?;
    let first = Date::from_calendar_date(year, month, 1).ok()?;
    let counts = |dom: &u8| day.matches(first.weekday().nth_next(dom - 1));
    let mut days = 1..=month.length(year);
    let dom = match index.nth() {
        Some(n) => days.filter(counts).nth(n - 1)?,
        None => days.rfind(counts)?,
    };
    Date::from_calendar_date(year, month, dom).ok()
}

/// The dates of one period, in order (before the start date filter of the first period).
#[derive(Clone, Copy)]
struct Candidates {
    dates: [Date; 7],
    len: usize,
}

impl Candidates {
    fn one(d: Date) -> Candidates {
        Candidates {
            dates: [d; 7],
            len: 1,
        }
    }

    fn dates(&self) -> &[Date] {
        self.dates.get(..self.len).unwrap_or(&[])
    }
}

/// A checked recurrence's arithmetic. Periods are numbered from 0, the one that contains the
/// start date; its dates before the start date are not occurrences; every later period has
/// `per_period` occurrences.
#[derive(Clone, Copy)]
struct Plan<'a> {
    r: &'a Recurrence,
    start_jd: i64,
    /// Weekly: the first day of the week that contains the start date.
    week0_jd: i64,
    /// Monthly: the start date's month, [`month_number`].
    month0: i64,
    /// Weekly: the days' distances from the first day of the week, `per_period` of them.
    offsets: [u8; 7],
    per_period: u64,
    /// Occurrences in period 0.
    first_period: u64,
    /// No occurrence after this date.
    last: Date,
    /// No occurrence numbered above this.
    max_index: u64,
}

impl<'a> Plan<'a> {
    /// The dates of period `p` (`None` past the calendar's end).
    fn period(&self, p: u64) -> Option<Candidates> {
        #[cfg(test)]
        tests::PERIODS.with(|c| c.set(c.get() + 1));
        let p = i64::try_from(p).ok()?;
        let jd = |j: i64| Date::from_julian_day(i32::try_from(j).ok()?).ok();
        let month = |interval: u32| {
            let m = self
                .month0
                .checked_add(p.checked_mul(i64::from(interval))?)?;
            let name = MONTHS.get(usize::try_from(m.rem_euclid(12)).ok()?)?;
            Some((m.div_euclid(12), *name))
        };
        let year = || i64::from(self.r.start_date.year()).checked_add(p);
        Some(match &self.r.pattern {
            Pattern::Daily { interval } => Candidates::one(jd(self
                .start_jd
                .checked_add(p.checked_mul(i64::from(*interval))?)?)?),
            Pattern::Weekly { interval, .. } => {
                let base = self
                    .week0_jd
                    .checked_add(p.checked_mul(7 * i64::from(*interval))?)?;
                let mut c = Candidates::one(jd(base)?);
                c.len = 0;
                for o in self.offsets.iter().take(self.per_period as usize) {
                    if let Some(slot) = c.dates.get_mut(c.len) {
                        *slot = jd(base + i64::from(*o))?;
                        c.len += 1;
                    }
                }
                c
            }
            Pattern::AbsoluteMonthly {
                interval,
                day_of_month,
            } => {
                let (y, m) = month(*interval)?;
                Candidates::one(absolute_day(y, m, *day_of_month)?)
            }
            Pattern::RelativeMonthly {
                interval,
                day,
                index,
            } => {
                let (y, m) = month(*interval)?;
                Candidates::one(relative_day(y, m, *day, *index)?)
            }
            Pattern::AbsoluteYearly {
                day_of_month,
                month,
            } => Candidates::one(absolute_day(year()?, *month, *day_of_month)?),
            Pattern::RelativeYearly { day, index, month } => {
                Candidates::one(relative_day(year()?, *month, *day, *index)?)
            }
        })
    }

    /// The period that contains `target` (0 before the start).
    fn period_of(&self, target: Date) -> u64 {
        let jd = i64::from(target.to_julian_day());
        let p = match &self.r.pattern {
            Pattern::Daily { interval } => (jd - self.start_jd) / i64::from(*interval),
            Pattern::Weekly { interval, .. } => (jd - self.week0_jd) / (7 * i64::from(*interval)),
            Pattern::AbsoluteMonthly { interval, .. }
            | Pattern::RelativeMonthly { interval, .. } => {
                (month_number(target) - self.month0) / i64::from(*interval)
            }
            Pattern::AbsoluteYearly { .. } | Pattern::RelativeYearly { .. } => {
                i64::from(target.year()) - i64::from(self.r.start_date.year())
            }
        };
        u64::try_from(p).unwrap_or(0)
    }

    /// Occurrences before period `p`.
    fn count_before(&self, p: u64) -> u64 {
        match p {
            0 => 0,
            p => self
                .first_period
                .saturating_add((p - 1).saturating_mul(self.per_period)),
        }
    }

    /// The series from period `p` on, numbered.
    fn walk_from(self, p: u64) -> Walk<'a> {
        let dates = self.period(p);
        Walk {
            index: self.count_before(p),
            plan: self,
            period: p,
            done: dates.is_none(),
            dates: dates.unwrap_or(Candidates::one(Date::MIN)),
            pos: 0,
        }
    }

    fn date_of(&self, index: u64) -> Option<Date> {
        if index == 0 || index > self.max_index {
            return None;
        }
        let date = if index <= self.first_period {
            let k = usize::try_from(index - 1).ok()?;
            let start = self.r.start_date;
            self.period(0)?
                .dates()
                .iter()
                .copied()
                .filter(|d| *d >= start)
                .nth(k)?
        } else {
            let k = index - self.first_period - 1;
            let at = usize::try_from(k % self.per_period).ok()?;
            *self.period(1 + k / self.per_period)?.dates().get(at)?
        };
        (date <= self.last).then_some(date)
    }

    /// The last occurrence on or before `self.last` (and within `max_index`).
    fn last_one(self) -> Option<(u32, Date)> {
        // the period before the one that holds the last date holds an occurrence, unless it
        // is the first one
        let p = self.period_of(self.last).saturating_sub(1);
        self.walk_from(p).last()
    }
}

/// The lazy walk of a series from one of its periods.
struct Walk<'a> {
    plan: Plan<'a>,
    period: u64,
    dates: Candidates,
    pos: usize,
    /// The number of the occurrence last produced (or before the first period walked).
    index: u64,
    done: bool,
}

impl Iterator for Walk<'_> {
    type Item = (u32, Date);

    fn next(&mut self) -> Option<(u32, Date)> {
        while !self.done {
            if let Some(&date) = self.dates.dates().get(self.pos) {
                self.pos += 1;
                if self.period == 0 && date < self.plan.r.start_date {
                    continue;
                }
                self.index += 1;
                let index = u32::try_from(self.index)
                    .ok()
                    .filter(|i| date <= self.plan.last && u64::from(*i) <= self.plan.max_index);
                match index {
                    Some(i) => return Some((i, date)),
                    None => self.done = true,
                }
            } else {
                // every period after the first has a date, later than the last one: the walk
                // reaches `last` (or the calendar's end)
                self.period += 1;
                match self.plan.period(self.period) {
                    Some(dates) => {
                        self.dates = dates;
                        self.pos = 0;
                    }
                    None => self.done = true,
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::timezone::windows_zone;
    use time::macros::{date, datetime, time};

    thread_local! {
        /// Periods computed on this thread (each test runs on its own thread).
        pub(super) static PERIODS: Cell<u64> = const { Cell::new(0) };
    }

    fn parse(xml: &str) -> Result<Recurrence> {
        let doc = format!(r#"<t:Recurrence xmlns:t="{TYPES}">{xml}</t:Recurrence>"#);
        let el = crate::xml::parse(doc.as_bytes(), &Limits::default()).unwrap();
        parse_recurrence(&el)
    }

    fn written(r: &Recurrence) -> String {
        let mut w = XmlOut::new();
        write_recurrence(&mut w, r);
        String::from_utf8(w.finish()).unwrap()
    }

    fn rec(pattern: Pattern, start_date: Date, end: RangeEnd) -> Recurrence {
        Recurrence {
            pattern,
            start_date,
            end,
        }
    }

    const NO_END: &str =
        "<t:NoEndRecurrence><t:StartDate>2026-11-30</t:StartDate></t:NoEndRecurrence>";
    const DAILY: &str = "<t:DailyRecurrence><t:Interval>1</t:Interval></t:DailyRecurrence>";

    fn daily(interval: u32) -> Pattern {
        Pattern::Daily { interval }
    }

    fn weekly(interval: u32, days: &[Weekday], first: Weekday) -> Pattern {
        Pattern::Weekly {
            interval,
            days: days.to_vec(),
            first_day_of_week: first,
        }
    }

    #[test]
    fn parses_every_pattern_and_range() {
        use Weekday::*;
        let start = date!(2026 - 11 - 30);
        let patterns: Vec<(&str, Pattern)> = vec![
            (DAILY, daily(1)),
            (
                "<t:WeeklyRecurrence><t:Interval>2</t:Interval><t:DaysOfWeek>Wednesday Monday</t:DaysOfWeek><t:FirstDayOfWeek>Sunday</t:FirstDayOfWeek></t:WeeklyRecurrence>",
                weekly(2, &[Monday, Wednesday], Sunday),
            ),
            // FirstDayOfWeek defaults to Sunday; days in the week's order, each once
            (
                "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek> Saturday  Monday\nSunday Monday </t:DaysOfWeek></t:WeeklyRecurrence>",
                weekly(1, &[Sunday, Monday, Saturday], Sunday),
            ),
            (
                "<t:WeeklyRecurrence><t:FirstDayOfWeek>Monday</t:FirstDayOfWeek><t:DaysOfWeek>Sunday Monday</t:DaysOfWeek><t:Interval>3</t:Interval></t:WeeklyRecurrence>",
                weekly(3, &[Monday, Sunday], Monday),
            ),
            // the groups stand for their days
            (
                "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>WeekendDay Friday</t:DaysOfWeek></t:WeeklyRecurrence>",
                weekly(1, &[Sunday, Friday, Saturday], Sunday),
            ),
            (
                "<t:AbsoluteMonthlyRecurrence><t:Interval>1</t:Interval><t:DayOfMonth>31</t:DayOfMonth></t:AbsoluteMonthlyRecurrence>",
                Pattern::AbsoluteMonthly {
                    interval: 1,
                    day_of_month: 31,
                },
            ),
            (
                "<t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Tuesday</t:DaysOfWeek><t:DayOfWeekIndex>Second</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>",
                Pattern::RelativeMonthly {
                    interval: 1,
                    day: RelativeDay::One(Tuesday),
                    index: DayOfWeekIndex::Second,
                },
            ),
            (
                "<t:RelativeMonthlyRecurrence><t:Interval>6</t:Interval><t:DaysOfWeek>Weekday</t:DaysOfWeek><t:DayOfWeekIndex>Last</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>",
                Pattern::RelativeMonthly {
                    interval: 6,
                    day: RelativeDay::Weekday,
                    index: DayOfWeekIndex::Last,
                },
            ),
            (
                "<t:AbsoluteYearlyRecurrence><t:DayOfMonth>4</t:DayOfMonth><t:Month>July</t:Month></t:AbsoluteYearlyRecurrence>",
                Pattern::AbsoluteYearly {
                    day_of_month: 4,
                    month: Month::July,
                },
            ),
            (
                "<t:RelativeYearlyRecurrence><t:DaysOfWeek>Thursday</t:DaysOfWeek><t:DayOfWeekIndex>Fourth</t:DayOfWeekIndex><t:Month>November</t:Month></t:RelativeYearlyRecurrence>",
                Pattern::RelativeYearly {
                    day: RelativeDay::One(Thursday),
                    index: DayOfWeekIndex::Fourth,
                    month: Month::November,
                },
            ),
            (
                "<t:RelativeYearlyRecurrence><t:DaysOfWeek>WeekendDay</t:DaysOfWeek><t:DayOfWeekIndex>First</t:DayOfWeekIndex><t:Month>January</t:Month></t:RelativeYearlyRecurrence>",
                Pattern::RelativeYearly {
                    day: RelativeDay::WeekendDay,
                    index: DayOfWeekIndex::First,
                    month: Month::January,
                },
            ),
        ];
        let ranges: Vec<(&str, Date, RangeEnd)> = vec![
            (NO_END, start, RangeEnd::NoEnd),
            (
                "<t:EndDateRecurrence><t:StartDate>2026-11-30</t:StartDate><t:EndDate>2027-03-01</t:EndDate></t:EndDateRecurrence>",
                start,
                RangeEnd::EndDate(date!(2027 - 03 - 01)),
            ),
            (
                "<t:NumberedRecurrence><t:StartDate>2026-11-30</t:StartDate><t:NumberOfOccurrences>10</t:NumberOfOccurrences></t:NumberedRecurrence>",
                start,
                RangeEnd::Numbered(10),
            ),
            // zone suffixes are ignored
            (
                "<t:EndDateRecurrence><t:StartDate>2026-11-30Z</t:StartDate><t:EndDate>2027-03-01-08:00</t:EndDate></t:EndDateRecurrence>",
                start,
                RangeEnd::EndDate(date!(2027 - 03 - 01)),
            ),
            (
                "<t:NoEndRecurrence><t:StartDate> 2026-12-01+01:00 </t:StartDate></t:NoEndRecurrence>",
                date!(2026 - 12 - 01),
                RangeEnd::NoEnd,
            ),
        ];
        for (pxml, pattern) in &patterns {
            for (rxml, start_date, end) in &ranges {
                let want = rec(pattern.clone(), *start_date, *end);
                assert_eq!(
                    parse(&format!("{pxml}{rxml}")).unwrap(),
                    want,
                    "{pxml}{rxml}"
                );
                // the range may come first
                assert_eq!(
                    parse(&format!("{rxml}{pxml}")).unwrap(),
                    want,
                    "{rxml}{pxml}"
                );
            }
        }
    }

    #[test]
    fn round_trips_through_xml_and_storage() {
        use Weekday::*;
        let cases = [
            rec(daily(3), date!(2026 - 01 - 01), RangeEnd::NoEnd),
            rec(
                weekly(2, &[Monday, Wednesday], Sunday),
                date!(2026 - 12 - 02),
                RangeEnd::EndDate(date!(2027 - 03 - 01)),
            ),
            rec(
                weekly(1, &[Tuesday, Sunday], Tuesday),
                date!(1601 - 01 - 01),
                RangeEnd::Numbered(999),
            ),
            rec(
                Pattern::AbsoluteMonthly {
                    interval: 1,
                    day_of_month: 31,
                },
                date!(2027 - 01 - 15),
                RangeEnd::Numbered(5),
            ),
            rec(
                Pattern::RelativeMonthly {
                    interval: 2,
                    day: RelativeDay::Day,
                    index: DayOfWeekIndex::Third,
                },
                date!(4500 - 12 - 31),
                RangeEnd::NoEnd,
            ),
            rec(
                Pattern::AbsoluteYearly {
                    day_of_month: 29,
                    month: Month::February,
                },
                date!(2028 - 02 - 29),
                RangeEnd::EndDate(date!(2040 - 01 - 01)),
            ),
            rec(
                Pattern::RelativeYearly {
                    day: RelativeDay::One(Thursday),
                    index: DayOfWeekIndex::Fourth,
                    month: Month::November,
                },
                date!(2026 - 01 - 01),
                RangeEnd::NoEnd,
            ),
        ];
        for r in &cases {
            let xml = written(r);
            let doc = xml.replacen(
                "<t:Recurrence>",
                &format!(r#"<t:Recurrence xmlns:t="{TYPES}">"#),
                1,
            );
            let el = crate::xml::parse(doc.as_bytes(), &Limits::default()).unwrap();
            assert_eq!(&recurrence_of(&el).unwrap(), r, "{xml}");
            let stored = r.to_storage();
            assert_eq!(stored, doc);
            assert_eq!(&Recurrence::from_storage(&stored).unwrap(), r, "{stored}");
            assert_eq!(
                Recurrence::from_storage(&stored).unwrap().to_storage(),
                stored
            );
        }
        // bounded, and only a t:Recurrence
        let big = format!("{}{}", cases[0].to_storage(), " ".repeat(MAX_STORAGE_BYTES));
        assert!(matches!(
            Recurrence::from_storage(&big),
            Err(EwsProtoError::InputTooLarge { .. })
        ));
        assert!(matches!(
            Recurrence::from_storage(&format!(r#"<t:Other xmlns:t="{TYPES}"/>"#)),
            Err(EwsProtoError::InvalidValue { .. })
        ));
        assert!(Recurrence::from_storage("<Recurrence/>").is_err());
    }

    #[test]
    fn writes_weekly_in_schema_order() {
        let r = rec(
            weekly(2, &[Weekday::Monday, Weekday::Wednesday], Weekday::Sunday),
            date!(2026 - 12 - 02),
            RangeEnd::Numbered(10),
        );
        insta::assert_snapshot!(written(&r).replace("><", ">\n<"), @r"
        <t:Recurrence>
        <t:WeeklyRecurrence>
        <t:Interval>2</t:Interval>
        <t:DaysOfWeek>Monday Wednesday</t:DaysOfWeek>
        <t:FirstDayOfWeek>Sunday</t:FirstDayOfWeek>
        </t:WeeklyRecurrence>
        <t:NumberedRecurrence>
        <t:StartDate>2026-12-02</t:StartDate>
        <t:NumberOfOccurrences>10</t:NumberOfOccurrences>
        </t:NumberedRecurrence>
        </t:Recurrence>
        ");
    }

    #[test]
    fn refuses_bad_structures() {
        let weekly_days = |days: &str| {
            format!(
                "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>{days}</t:DaysOfWeek></t:WeeklyRecurrence>{NO_END}"
            )
        };
        let relative_days = |days: &str| {
            format!(
                "<t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>{days}</t:DaysOfWeek><t:DayOfWeekIndex>First</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>{NO_END}"
            )
        };
        let start = |d: &str| {
            format!("{DAILY}<t:NoEndRecurrence><t:StartDate>{d}</t:StartDate></t:NoEndRecurrence>")
        };
        let cases: Vec<(String, &str, &str)> = vec![
            (
                format!("{DAILY}{DAILY}{NO_END}"),
                "duplicate",
                "t:DailyRecurrence",
            ),
            (
                format!(
                    "{DAILY}<t:AbsoluteYearlyRecurrence><t:DayOfMonth>4</t:DayOfMonth><t:Month>July</t:Month></t:AbsoluteYearlyRecurrence>{NO_END}"
                ),
                "unexpected",
                "t:AbsoluteYearlyRecurrence",
            ),
            (
                format!("{DAILY}{NO_END}{NO_END}"),
                "duplicate",
                "t:NoEndRecurrence",
            ),
            (DAILY.to_owned(), "missing", "a range"),
            (NO_END.to_owned(), "missing", "a pattern"),
            (
                format!(
                    "<t:DailyRegeneration><t:Interval>1</t:Interval></t:DailyRegeneration>{NO_END}"
                ),
                "unsupported",
                "t:DailyRegeneration",
            ),
            (
                format!(
                    "<t:YearlyRegeneration><t:Interval>1</t:Interval></t:YearlyRegeneration>{NO_END}"
                ),
                "unsupported",
                "t:YearlyRegeneration",
            ),
            (
                format!("{DAILY}{NO_END}<t:Other/>"),
                "unexpected",
                "t:Other",
            ),
            (
                format!(r#"{DAILY}{NO_END}<x:Interval xmlns:x="urn:x"/>"#),
                "unexpected",
                "{urn:x}Interval",
            ),
            (
                format!(
                    "<t:DailyRecurrence><t:Interval>x</t:Interval></t:DailyRecurrence>{NO_END}"
                ),
                "invalid",
                "t:Interval",
            ),
            (
                format!(
                    "<t:DailyRecurrence><t:Interval>-1</t:Interval></t:DailyRecurrence>{NO_END}"
                ),
                "invalid",
                "t:Interval",
            ),
            (
                format!("<t:DailyRecurrence></t:DailyRecurrence>{NO_END}"),
                "missing",
                "Interval",
            ),
            (
                format!(
                    "<t:DailyRecurrence><t:Interval>1</t:Interval><t:Interval>1</t:Interval></t:DailyRecurrence>{NO_END}"
                ),
                "duplicate",
                "t:Interval",
            ),
            (
                format!(
                    "<t:DailyRecurrence><t:Interval>1</t:Interval><t:DayOfMonth>1</t:DayOfMonth></t:DailyRecurrence>{NO_END}"
                ),
                "unexpected",
                "t:DayOfMonth",
            ),
            (weekly_days("Monday Funday"), "invalid", "Funday"),
            (weekly_days("monday"), "invalid", "monday"),
            (
                format!(
                    "<t:WeeklyRecurrence><t:Interval>1</t:Interval></t:WeeklyRecurrence>{NO_END}"
                ),
                "missing",
                "DaysOfWeek",
            ),
            (
                format!(
                    "<t:WeeklyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday</t:DaysOfWeek><t:FirstDayOfWeek>Weekday</t:FirstDayOfWeek></t:WeeklyRecurrence>{NO_END}"
                ),
                "invalid",
                "t:FirstDayOfWeek",
            ),
            (relative_days("Monday Tuesday"), "invalid", "t:DaysOfWeek"),
            (relative_days(""), "invalid", "t:DaysOfWeek"),
            (relative_days("Mon"), "invalid", "t:DaysOfWeek"),
            (
                format!(
                    "<t:RelativeMonthlyRecurrence><t:Interval>1</t:Interval><t:DaysOfWeek>Monday</t:DaysOfWeek><t:DayOfWeekIndex>Fifth</t:DayOfWeekIndex></t:RelativeMonthlyRecurrence>{NO_END}"
                ),
                "invalid",
                "t:DayOfWeekIndex",
            ),
            (
                format!(
                    "<t:AbsoluteYearlyRecurrence><t:DayOfMonth>4</t:DayOfMonth><t:Month>Jul</t:Month></t:AbsoluteYearlyRecurrence>{NO_END}"
                ),
                "invalid",
                "t:Month",
            ),
            (
                format!(
                    "<t:AbsoluteMonthlyRecurrence><t:Interval>1</t:Interval><t:DayOfMonth>300</t:DayOfMonth></t:AbsoluteMonthlyRecurrence>{NO_END}"
                ),
                "invalid",
                "t:DayOfMonth",
            ),
            (
                format!(
                    "{DAILY}<t:NumberedRecurrence><t:StartDate>2026-11-30</t:StartDate><t:NumberOfOccurrences>ten</t:NumberOfOccurrences></t:NumberedRecurrence>"
                ),
                "invalid",
                "t:NumberOfOccurrences",
            ),
            (
                format!(
                    "{DAILY}<t:EndDateRecurrence><t:StartDate>2026-11-30</t:StartDate></t:EndDateRecurrence>"
                ),
                "missing",
                "EndDate",
            ),
            (start("2026-11-31"), "invalid", "t:StartDate"),
            (start("2026-11-30T00:00:00Z"), "invalid", "t:StartDate"),
            (start("26-11-30"), "invalid", "t:StartDate"),
            (start("2026-11-30+15:00"), "invalid", "t:StartDate"),
            (start("2026-11-30+1:00"), "invalid", "t:StartDate"),
            (start("0000-01-01"), "invalid", "t:StartDate"),
            (start("2026-11-30Q"), "invalid", "t:StartDate"),
        ];
        for (xml, kind, names) in &cases {
            let e = parse(xml).unwrap_err();
            let got = match &e {
                EwsProtoError::DuplicateElement { .. } => "duplicate",
                EwsProtoError::UnexpectedElement { .. } => "unexpected",
                EwsProtoError::MissingElement { .. } => "missing",
                EwsProtoError::Unsupported { .. } => "unsupported",
                EwsProtoError::InvalidValue { .. } => "invalid",
                _ => "other",
            };
            assert_eq!(got, *kind, "{xml}: {e}");
            assert!(e.to_string().contains(names), "{xml}: {e}");
            assert!(e.position().is_some(), "{xml}: {e}");
        }
        // an empty weekly list is well-formed; check() refuses it
        let empty = parse(&weekly_days(" ")).unwrap();
        assert_eq!(empty.check(), Err(RecurrenceProblem::NoDaysOfWeek));
    }

    #[test]
    fn check_refuses_each_rule() {
        use RecurrenceProblem as P;
        let start = date!(2026 - 11 - 30); // a Monday
        let abs_yearly = |day_of_month, month| Pattern::AbsoluteYearly {
            day_of_month,
            month,
        };
        let cases: Vec<(Recurrence, Option<P>)> = vec![
            (rec(daily(1), start, RangeEnd::NoEnd), None),
            (rec(daily(999), start, RangeEnd::NoEnd), None),
            (
                rec(daily(0), start, RangeEnd::NoEnd),
                Some(P::IntervalOutOfRange { interval: 0 }),
            ),
            (
                rec(daily(1000), start, RangeEnd::NoEnd),
                Some(P::IntervalOutOfRange { interval: 1000 }),
            ),
            (
                rec(
                    weekly(0, &[Weekday::Monday], Weekday::Sunday),
                    start,
                    RangeEnd::NoEnd,
                ),
                Some(P::IntervalOutOfRange { interval: 0 }),
            ),
            (
                rec(
                    Pattern::RelativeMonthly {
                        interval: 1000,
                        day: RelativeDay::Day,
                        index: DayOfWeekIndex::First,
                    },
                    start,
                    RangeEnd::NoEnd,
                ),
                Some(P::IntervalOutOfRange { interval: 1000 }),
            ),
            (
                rec(weekly(1, &[], Weekday::Sunday), start, RangeEnd::NoEnd),
                Some(P::NoDaysOfWeek),
            ),
            (
                rec(
                    Pattern::AbsoluteMonthly {
                        interval: 1,
                        day_of_month: 0,
                    },
                    start,
                    RangeEnd::NoEnd,
                ),
                Some(P::DayOfMonthOutOfRange { day: 0 }),
            ),
            (
                rec(
                    Pattern::AbsoluteMonthly {
                        interval: 1,
                        day_of_month: 32,
                    },
                    start,
                    RangeEnd::NoEnd,
                ),
                Some(P::DayOfMonthOutOfRange { day: 32 }),
            ),
            (
                rec(abs_yearly(32, Month::January), start, RangeEnd::NoEnd),
                Some(P::DayOfMonthOutOfRange { day: 32 }),
            ),
            (
                rec(abs_yearly(29, Month::February), start, RangeEnd::NoEnd),
                None,
            ),
            (
                rec(abs_yearly(30, Month::February), start, RangeEnd::NoEnd),
                Some(P::DayNotInMonth {
                    day: 30,
                    month: Month::February,
                    max: 29,
                }),
            ),
            (
                rec(abs_yearly(31, Month::April), start, RangeEnd::NoEnd),
                Some(P::DayNotInMonth {
                    day: 31,
                    month: Month::April,
                    max: 30,
                }),
            ),
            (
                rec(daily(1), start, RangeEnd::Numbered(0)),
                Some(P::OccurrencesOutOfRange { count: 0 }),
            ),
            (rec(daily(1), start, RangeEnd::Numbered(999)), None),
            (
                rec(daily(1), start, RangeEnd::Numbered(1000)),
                Some(P::OccurrencesOutOfRange { count: 1000 }),
            ),
            (rec(daily(1), start, RangeEnd::EndDate(start)), None),
            (
                rec(daily(1), start, RangeEnd::EndDate(date!(2026 - 11 - 29))),
                Some(P::EndBeforeStart {
                    start,
                    end: date!(2026 - 11 - 29),
                }),
            ),
            (
                rec(daily(1), date!(1600 - 12 - 31), RangeEnd::NoEnd),
                Some(P::StartOutOfRange {
                    start: date!(1600 - 12 - 31),
                }),
            ),
            (
                rec(daily(1), date!(4501 - 01 - 01), RangeEnd::NoEnd),
                Some(P::StartOutOfRange {
                    start: date!(4501 - 01 - 01),
                }),
            ),
            (rec(daily(1), date!(4500 - 12 - 31), RangeEnd::NoEnd), None),
            // Tuesday to Saturday: no Monday
            (
                rec(
                    weekly(1, &[Weekday::Monday], Weekday::Sunday),
                    date!(2026 - 12 - 01),
                    RangeEnd::EndDate(date!(2026 - 12 - 05)),
                ),
                Some(P::NoOccurrence),
            ),
            // the 4th of July is after the end
            (
                rec(
                    abs_yearly(4, Month::July),
                    date!(2026 - 07 - 05),
                    RangeEnd::EndDate(date!(2027 - 07 - 03)),
                ),
                Some(P::NoOccurrence),
            ),
            // 4500-12-31 is a Friday: no Monday before the calendar's end
            (
                rec(
                    weekly(1, &[Weekday::Monday], Weekday::Sunday),
                    date!(4500 - 12 - 31),
                    RangeEnd::NoEnd,
                ),
                Some(P::NoOccurrence),
            ),
        ];
        for (r, want) in &cases {
            assert_eq!(r.check().err(), *want, "{r:?}");
        }
        assert_eq!(
            P::NoDaysOfWeek.response_code(),
            "ErrorCalendarInvalidDayForWeeklyRecurrence"
        );
        assert_eq!(
            P::NoOccurrence.response_code(),
            "ErrorRecurrenceHasNoOccurrence"
        );
        assert_eq!(
            P::IntervalOutOfRange { interval: 0 }.response_code(),
            "ErrorCalendarInvalidRecurrence"
        );
        let message = P::DayNotInMonth {
            day: 31,
            month: Month::April,
            max: 30,
        }
        .to_string();
        assert!(message.contains("April has no day 31"), "{message}");
        assert!(message.contains("1 to 30"), "{message}");
        // a refused recurrence expands to nothing
        assert_eq!(rec(daily(0), start, RangeEnd::NoEnd).dates().count(), 0);
    }

    #[test]
    fn expands_to_the_expected_dates() {
        use Weekday::*;
        let cases: Vec<(&str, Recurrence, Vec<Date>)> = vec![
            (
                // week of Sun 11-29: Monday 11-30 is before the start; then every other week
                "weekly Mon/Wed every 2 weeks from a Wednesday",
                rec(
                    weekly(2, &[Monday, Wednesday], Sunday),
                    date!(2026 - 12 - 02),
                    RangeEnd::NoEnd,
                ),
                vec![
                    date!(2026 - 12 - 02),
                    date!(2026 - 12 - 14),
                    date!(2026 - 12 - 16),
                    date!(2026 - 12 - 28),
                    date!(2026 - 12 - 30),
                ],
            ),
            (
                // weeks from Sunday: Sun 11-29 (before the start), Mon 11-30; then 12-13, 12-14
                "weekly Sun/Mon every 2 weeks, weeks from Sunday",
                rec(
                    weekly(2, &[Sunday, Monday], Sunday),
                    date!(2026 - 11 - 30),
                    RangeEnd::Numbered(4),
                ),
                vec![
                    date!(2026 - 11 - 30),
                    date!(2026 - 12 - 13),
                    date!(2026 - 12 - 14),
                    date!(2026 - 12 - 27),
                ],
            ),
            (
                // weeks from Monday: Mon 11-30, Sun 12-06; then 12-14, 12-20
                "weekly Sun/Mon every 2 weeks, weeks from Monday",
                rec(
                    weekly(2, &[Monday, Sunday], Monday),
                    date!(2026 - 11 - 30),
                    RangeEnd::Numbered(4),
                ),
                vec![
                    date!(2026 - 11 - 30),
                    date!(2026 - 12 - 06),
                    date!(2026 - 12 - 14),
                    date!(2026 - 12 - 20),
                ],
            ),
            (
                "monthly on the 31st through February and April (leap year)",
                rec(
                    Pattern::AbsoluteMonthly {
                        interval: 1,
                        day_of_month: 31,
                    },
                    date!(2028 - 01 - 15),
                    RangeEnd::Numbered(5),
                ),
                vec![
                    date!(2028 - 01 - 31),
                    date!(2028 - 02 - 29),
                    date!(2028 - 03 - 31),
                    date!(2028 - 04 - 30),
                    date!(2028 - 05 - 31),
                ],
            ),
            (
                "monthly on the 30th, every 3 months, from after the day",
                rec(
                    Pattern::AbsoluteMonthly {
                        interval: 3,
                        day_of_month: 30,
                    },
                    date!(2026 - 11 - 30),
                    RangeEnd::EndDate(date!(2027 - 08 - 30)),
                ),
                vec![
                    date!(2026 - 11 - 30),
                    date!(2027 - 02 - 28),
                    date!(2027 - 05 - 30),
                    date!(2027 - 08 - 30),
                ],
            ),
            (
                // January 30th is before the start: February is the first
                "relative monthly, last weekday",
                rec(
                    Pattern::RelativeMonthly {
                        interval: 1,
                        day: RelativeDay::Weekday,
                        index: DayOfWeekIndex::Last,
                    },
                    date!(2026 - 01 - 31),
                    RangeEnd::Numbered(5),
                ),
                vec![
                    date!(2026 - 02 - 27),
                    date!(2026 - 03 - 31),
                    date!(2026 - 04 - 30),
                    date!(2026 - 05 - 29),
                    date!(2026 - 06 - 30),
                ],
            ),
            (
                // December 2026 starts on a Tuesday; the second Tuesday is the 8th
                "relative monthly, second Tuesday",
                rec(
                    Pattern::RelativeMonthly {
                        interval: 1,
                        day: RelativeDay::One(Tuesday),
                        index: DayOfWeekIndex::Second,
                    },
                    date!(2026 - 11 - 30),
                    RangeEnd::EndDate(date!(2027 - 01 - 12)),
                ),
                vec![date!(2026 - 12 - 08), date!(2027 - 01 - 12)],
            ),
            (
                // 2026-08-01 is a Saturday; 08-02 Sunday
                "relative monthly, second weekend day, first day, third day",
                rec(
                    Pattern::RelativeMonthly {
                        interval: 12,
                        day: RelativeDay::WeekendDay,
                        index: DayOfWeekIndex::Second,
                    },
                    date!(2026 - 08 - 01),
                    RangeEnd::Numbered(1),
                ),
                vec![date!(2026 - 08 - 02)],
            ),
            (
                "relative monthly, third day",
                rec(
                    Pattern::RelativeMonthly {
                        interval: 1,
                        day: RelativeDay::Day,
                        index: DayOfWeekIndex::Third,
                    },
                    date!(2026 - 08 - 04),
                    RangeEnd::Numbered(2),
                ),
                vec![date!(2026 - 09 - 03), date!(2026 - 10 - 03)],
            ),
            (
                "relative yearly, fourth Thursday of November",
                rec(
                    Pattern::RelativeYearly {
                        day: RelativeDay::One(Thursday),
                        index: DayOfWeekIndex::Fourth,
                        month: Month::November,
                    },
                    date!(2026 - 01 - 01),
                    RangeEnd::Numbered(3),
                ),
                vec![
                    date!(2026 - 11 - 26),
                    date!(2027 - 11 - 25),
                    date!(2028 - 11 - 23),
                ],
            ),
            (
                "yearly on February 29th",
                rec(
                    Pattern::AbsoluteYearly {
                        day_of_month: 29,
                        month: Month::February,
                    },
                    date!(2027 - 03 - 01),
                    RangeEnd::Numbered(3),
                ),
                vec![
                    date!(2028 - 02 - 29),
                    date!(2029 - 02 - 28),
                    date!(2030 - 02 - 28),
                ],
            ),
            (
                "numbered 3",
                rec(daily(2), date!(2026 - 01 - 01), RangeEnd::Numbered(3)),
                vec![
                    date!(2026 - 01 - 01),
                    date!(2026 - 01 - 03),
                    date!(2026 - 01 - 05),
                ],
            ),
            (
                "end date inclusive",
                rec(
                    daily(1),
                    date!(2026 - 01 - 01),
                    RangeEnd::EndDate(date!(2026 - 01 - 03)),
                ),
                vec![
                    date!(2026 - 01 - 01),
                    date!(2026 - 01 - 02),
                    date!(2026 - 01 - 03),
                ],
            ),
            (
                "no end stops at the calendar's end",
                rec(daily(1), date!(4500 - 12 - 30), RangeEnd::NoEnd),
                vec![date!(4500 - 12 - 30), date!(4500 - 12 - 31)],
            ),
        ];
        for (name, r, want) in &cases {
            assert_eq!(r.check(), Ok(()), "{name}");
            let got: Vec<(u32, Date)> = r.dates().take(want.len() + 1).collect();
            let numbered: Vec<(u32, Date)> = (1..).zip(want.iter().copied()).collect();
            // the whole series, or its beginning
            let bounded = !matches!(r.end, RangeEnd::NoEnd);
            if bounded || r.start_date.year() == LAST_YEAR {
                assert_eq!(got, numbered, "{name}");
            } else {
                assert_eq!(got[..want.len()], numbered[..], "{name}");
            }
            for (i, d) in &numbered {
                assert_eq!(r.date_of(*i), Some(*d), "{name}: date_of({i})");
            }
            assert_eq!(r.date_of(0), None, "{name}");
            if bounded {
                let n = u32::try_from(want.len()).unwrap();
                assert_eq!(r.date_of(n + 1), None, "{name}");
                let last = r.last(time!(09:00), Duration::HOUR, &SerializableTimeZone::UTC);
                assert_eq!(
                    last.map(|o| (o.index, o.start.date())),
                    want.last().map(|d| (n, *d)),
                    "{name}"
                );
            }
        }
        let no_end = rec(daily(1), date!(2026 - 01 - 01), RangeEnd::NoEnd);
        assert_eq!(
            no_end.last(time!(09:00), Duration::HOUR, &SerializableTimeZone::UTC),
            None
        );
    }

    #[test]
    fn seeking_agrees_with_walking() {
        use Weekday::*;
        let start = date!(2026 - 11 - 30);
        let patterns = [
            daily(3),
            weekly(2, &[Sunday, Wednesday, Saturday], Monday),
            weekly(3, &[Friday], Sunday),
            Pattern::AbsoluteMonthly {
                interval: 2,
                day_of_month: 31,
            },
            Pattern::RelativeMonthly {
                interval: 5,
                day: RelativeDay::WeekendDay,
                index: DayOfWeekIndex::Last,
            },
            Pattern::AbsoluteYearly {
                day_of_month: 29,
                month: Month::February,
            },
            Pattern::RelativeYearly {
                day: RelativeDay::One(Monday),
                index: DayOfWeekIndex::First,
                month: Month::September,
            },
        ];
        let utc = SerializableTimeZone::UTC;
        for pattern in patterns {
            for end in [
                RangeEnd::NoEnd,
                RangeEnd::Numbered(40),
                RangeEnd::EndDate(date!(2040 - 06 - 15)),
            ] {
                let r = rec(pattern.clone(), start, end);
                let all: Vec<(u32, Date)> =
                    r.dates().take_while(|(_, d)| d.year() < 2100).collect();
                for (i, d) in &all {
                    assert_eq!(r.date_of(*i), Some(*d), "{r:?}");
                }
                // windows across the series: what seeking finds is what walking finds
                for (from, to) in [
                    (
                        datetime!(2020-01-01 0:00 UTC),
                        datetime!(2027-01-01 0:00 UTC),
                    ),
                    (
                        datetime!(2029-03-01 0:00 UTC),
                        datetime!(2031-01-01 0:00 UTC),
                    ),
                    (
                        datetime!(2038-12-30 0:00 UTC),
                        datetime!(2045-01-01 0:00 UTC),
                    ),
                ] {
                    let got: Vec<(u32, Date)> = r
                        .occurrences_between(
                            time!(10:00),
                            Duration::HOUR,
                            &utc,
                            from,
                            to,
                            &[],
                            1000,
                        )
                        .iter()
                        .map(|o| (o.index, o.start.date()))
                        .collect();
                    let want: Vec<(u32, Date)> = all
                        .iter()
                        .copied()
                        .filter(|(_, d)| {
                            let s = PrimitiveDateTime::new(*d, time!(10:00)).assume_utc();
                            s < to && s + Duration::HOUR > from
                        })
                        .collect();
                    assert_eq!(got, want, "{r:?} {from} {to}");
                }
                if let Some(last) = all.last().filter(|_| !matches!(end, RangeEnd::NoEnd)) {
                    let got = r.last(time!(10:00), Duration::HOUR, &utc).unwrap();
                    assert_eq!((got.index, got.start.date()), *last, "{r:?}");
                }
            }
        }
    }

    #[test]
    fn daily_keeps_the_wall_clock_across_daylight_saving() {
        let pacific = windows_zone("Pacific Standard Time").unwrap().tz;
        // the clocks go forward on Sunday 2026-03-08
        let r = rec(daily(1), date!(2026 - 03 - 06), RangeEnd::Numbered(4));
        let got = r.occurrences_between(
            time!(09:00),
            Duration::minutes(30),
            &pacific,
            datetime!(2026-03-01 0:00 UTC),
            datetime!(2026-04-01 0:00 UTC),
            &[],
            100,
        );
        let starts: Vec<(u32, OffsetDateTime)> = got.iter().map(|o| (o.index, o.start)).collect();
        assert_eq!(
            starts,
            vec![
                (1, datetime!(2026-03-06 17:00 UTC)),
                (2, datetime!(2026-03-07 17:00 UTC)),
                (3, datetime!(2026-03-08 16:00 UTC)),
                (4, datetime!(2026-03-09 16:00 UTC)),
            ]
        );
        assert!(got.iter().all(|o| o.end - o.start == Duration::minutes(30)));
        assert_eq!(
            r.occurrence(3, time!(09:00), Duration::HOUR, &pacific),
            Some(Occurrence {
                index: 3,
                start: datetime!(2026-03-08 16:00 UTC),
                end: datetime!(2026-03-08 17:00 UTC),
            })
        );
        assert_eq!(
            r.first(time!(09:00), Duration::HOUR, &pacific)
                .map(|o| o.start),
            Some(datetime!(2026-03-06 17:00 UTC))
        );
    }

    #[test]
    fn window_skips_limits_and_counts_running_occurrences() {
        let utc = SerializableTimeZone::UTC;
        let r = rec(daily(1), date!(2026 - 01 - 01), RangeEnd::Numbered(5));
        let between = |from, to, skip: &[u32], limit| -> Vec<(u32, Date)> {
            r.occurrences_between(
                time!(09:00),
                Duration::HOUR * 2,
                &utc,
                from,
                to,
                skip,
                limit,
            )
            .iter()
            .map(|o| (o.index, o.start.date()))
            .collect()
        };
        let (from, to) = (
            datetime!(2026-01-01 0:00 UTC),
            datetime!(2026-02-01 0:00 UTC),
        );
        // index 2 is skipped; the others keep their numbers
        assert_eq!(
            between(from, to, &[2], 100),
            vec![
                (1, date!(2026 - 01 - 01)),
                (3, date!(2026 - 01 - 03)),
                (4, date!(2026 - 01 - 04)),
                (5, date!(2026 - 01 - 05)),
            ]
        );
        assert_eq!(
            between(from, to, &[5, 1], 2),
            vec![(2, date!(2026 - 01 - 02)), (3, date!(2026 - 01 - 03))]
        );
        assert_eq!(between(from, to, &[], 0), vec![]);
        assert_eq!(between(to, from, &[], 10), vec![]);
        // 09:00-11:00 on the 2nd is still running at 10:00; it ends at 11:00 exactly
        assert_eq!(
            between(
                datetime!(2026-01-02 10:00 UTC),
                datetime!(2026-01-03 09:00 UTC),
                &[],
                10
            ),
            vec![(2, date!(2026 - 01 - 02))]
        );
        assert_eq!(
            between(
                datetime!(2026-01-02 11:00 UTC),
                datetime!(2026-01-03 09:00 UTC),
                &[],
                10
            ),
            vec![]
        );
        // a long meeting: three days each, so at noon on the 5th the 3rd, 4th and 5th run
        let long = r.occurrences_between(
            time!(09:00),
            Duration::days(3),
            &utc,
            datetime!(2026-01-05 12:00 UTC),
            datetime!(2026-01-05 13:00 UTC),
            &[],
            10,
        );
        assert_eq!(
            long.iter().map(|o| o.index).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
    }

    #[test]
    fn far_windows_are_found_without_walking_the_series() {
        let utc = SerializableTimeZone::UTC;
        // from 2001, every 3 days; 2026-06-01 is 9282 days later, 3094 intervals
        let r = rec(daily(3), date!(2001 - 01 - 01), RangeEnd::NoEnd);
        PERIODS.with(|c| c.set(0));
        let got: Vec<(u32, Date)> = r
            .occurrences_between(
                time!(10:00),
                Duration::HOUR,
                &utc,
                datetime!(2026-06-01 0:00 UTC),
                datetime!(2026-06-08 0:00 UTC),
                &[],
                100,
            )
            .iter()
            .map(|o| (o.index, o.start.date()))
            .collect();
        assert_eq!(
            got,
            vec![
                (3095, date!(2026 - 06 - 01)),
                (3096, date!(2026 - 06 - 04)),
                (3097, date!(2026 - 06 - 07)),
            ]
        );
        assert!(PERIODS.with(Cell::get) < 20, "{}", PERIODS.with(Cell::get));
        assert_eq!(r.date_of(3095), Some(date!(2026 - 06 - 01)));

        // from 1700 viewed in 4000: the index is the days between over the interval, plus one
        let start = date!(1700 - 01 - 01);
        for pattern in [
            daily(7),
            weekly(1, &[Weekday::Tuesday, Weekday::Friday], Weekday::Sunday),
            Pattern::RelativeMonthly {
                interval: 1,
                day: RelativeDay::One(Weekday::Friday),
                index: DayOfWeekIndex::First,
            },
            Pattern::AbsoluteYearly {
                day_of_month: 1,
                month: Month::March,
            },
        ] {
            let r = rec(pattern, start, RangeEnd::NoEnd);
            PERIODS.with(|c| c.set(0));
            let got = r.occurrences_between(
                time!(10:00),
                Duration::HOUR,
                &utc,
                datetime!(4000-03-01 0:00 UTC),
                datetime!(4000-03-15 0:00 UTC),
                &[],
                100,
            );
            assert!(!got.is_empty(), "{r:?}");
            assert!(
                PERIODS.with(Cell::get) < 40,
                "{r:?}: {}",
                PERIODS.with(Cell::get)
            );
            for o in &got {
                assert_eq!(r.date_of(o.index), Some(o.start.date()), "{r:?}");
            }
            let days = (date!(4000 - 03 - 01) - start).whole_days();
            let first = got[0].index;
            match r.pattern {
                // 4000-03-01 is 840_117 days on: the first in the window is 2 days later
                Pattern::Daily { .. } => {
                    assert_eq!(days, 840_117);
                    assert_eq!(i64::from(first), (days + 6) / 7 + 1);
                    assert_eq!(got[0].start.date(), date!(4000 - 03 - 03));
                }
                // one a year, the first on 1700-03-01
                Pattern::AbsoluteYearly { .. } => assert_eq!(first, 4000 - 1700 + 1),
                // one a month from January 1700
                Pattern::RelativeMonthly { .. } => {
                    assert_eq!(first, (4000 - 1700) * 12 + 3);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn xs_dates() {
        assert_eq!(parse_xs_date("2026-11-30"), Some(date!(2026 - 11 - 30)));
        assert_eq!(parse_xs_date("2026-11-30Z"), Some(date!(2026 - 11 - 30)));
        assert_eq!(
            parse_xs_date("2026-11-30-08:00"),
            Some(date!(2026 - 11 - 30))
        );
        assert_eq!(
            parse_xs_date("2026-11-30+14:00"),
            Some(date!(2026 - 11 - 30))
        );
        for bad in [
            "2026-11-30+14:30",
            "2026-11-30+0a:00",
            "2026-1-30",
            "2026/11/30",
            "+2026-11-30",
            "2026-02-29",
            "",
            "2026-11-30é",
        ] {
            assert_eq!(parse_xs_date(bad), None, "{bad}");
        }
        assert_eq!(format_date(date!(1601 - 01 - 01)), "1601-01-01");
    }

    fn parse_task(xml: &str) -> Result<TaskRecurrence> {
        let doc = format!(r#"<t:Recurrence xmlns:t="{TYPES}">{xml}</t:Recurrence>"#);
        let el = crate::xml::parse(doc.as_bytes(), &Limits::default()).unwrap();
        task_recurrence_of(&el)
    }

    fn regen(regeneration: Regeneration, end: RangeEnd) -> TaskRecurrence {
        TaskRecurrence::Regeneration {
            regeneration,
            start_date: date!(2026 - 11 - 30),
            end,
        }
    }

    #[test]
    fn a_tasks_recurrence_has_a_calendar_or_a_regeneration_pattern() {
        for (name, r) in [
            ("DailyRegeneration", Regeneration::Daily { interval: 3 }),
            ("WeeklyRegeneration", Regeneration::Weekly { interval: 3 }),
            ("MonthlyRegeneration", Regeneration::Monthly { interval: 3 }),
            ("YearlyRegeneration", Regeneration::Yearly { interval: 3 }),
        ] {
            let xml = format!("<t:{name}><t:Interval> 3 </t:Interval></t:{name}>{NO_END}");
            assert_eq!(
                parse_task(&xml).unwrap(),
                regen(r, RangeEnd::NoEnd),
                "{name}"
            );
            assert_eq!(r.element(), name);
            assert_eq!(r.interval(), 3);
            // the range first is as good
            let xml = format!("{NO_END}<t:{name}><t:Interval>3</t:Interval></t:{name}>");
            assert_eq!(
                parse_task(&xml).unwrap(),
                regen(r, RangeEnd::NoEnd),
                "{name}"
            );
        }
        // a calendar pattern, as for a calendar item
        let xml = format!("{DAILY}{NO_END}");
        assert_eq!(
            parse_task(&xml).unwrap(),
            TaskRecurrence::Pattern(parse(&xml).unwrap())
        );
        // refused
        let regen_daily = "<t:DailyRegeneration><t:Interval>1</t:Interval></t:DailyRegeneration>";
        let cases: Vec<(String, &str)> = vec![
            (format!("{regen_daily}{regen_daily}{NO_END}"), "duplicate"),
            (format!("{DAILY}{regen_daily}{NO_END}"), "unexpected"),
            (format!("{regen_daily}{DAILY}{NO_END}"), "unexpected"),
            (regen_daily.to_owned(), "missing"),
            (NO_END.to_owned(), "missing"),
            (
                format!("<t:DailyRegeneration/>{NO_END}"),
                "missing Interval",
            ),
            (
                format!(
                    "<t:WeeklyRegeneration><t:Interval>x</t:Interval></t:WeeklyRegeneration>{NO_END}"
                ),
                "invalid",
            ),
            (
                format!(
                    "<t:WeeklyRegeneration><t:Interval>1</t:Interval><t:DaysOfWeek>Monday</t:DaysOfWeek></t:WeeklyRegeneration>{NO_END}"
                ),
                "unexpected",
            ),
        ];
        for (xml, what) in cases {
            let e = parse_task(&xml).expect_err(&xml);
            let ok = match what {
                "duplicate" => matches!(e, EwsProtoError::DuplicateElement { .. }),
                "unexpected" => matches!(e, EwsProtoError::UnexpectedElement { .. }),
                "missing" => matches!(e, EwsProtoError::MissingElement { .. }),
                "missing Interval" => {
                    matches!(
                        e,
                        EwsProtoError::MissingElement {
                            name: "Interval",
                            ..
                        }
                    )
                }
                _ => matches!(e, EwsProtoError::InvalidValue { .. }),
            };
            assert!(ok, "{xml}: {what}, not {e:?}");
        }
        // a calendar item's recurrence still refuses them
        assert!(matches!(
            parse(&format!("{regen_daily}{NO_END}")),
            Err(EwsProtoError::Unsupported { found, .. }) if found == "t:DailyRegeneration"
        ));
    }

    #[test]
    fn a_tasks_recurrence_round_trips_through_xml_and_storage() {
        let cases = [
            regen(Regeneration::Daily { interval: 1 }, RangeEnd::NoEnd),
            regen(Regeneration::Weekly { interval: 2 }, RangeEnd::Numbered(5)),
            regen(
                Regeneration::Monthly { interval: 999 },
                RangeEnd::EndDate(date!(2027 - 01 - 01)),
            ),
            regen(Regeneration::Yearly { interval: 1 }, RangeEnd::NoEnd),
            TaskRecurrence::Pattern(rec(daily(3), date!(2026 - 01 - 01), RangeEnd::NoEnd)),
        ];
        for r in &cases {
            let stored = r.to_storage();
            assert!(stored.starts_with(&format!(r#"<t:Recurrence xmlns:t="{TYPES}">"#)));
            assert_eq!(
                &TaskRecurrence::from_storage(&stored).unwrap(),
                r,
                "{stored}"
            );
        }
        assert_eq!(cases[0].start_date(), date!(2026 - 11 - 30));
        assert_eq!(cases[4].start_date(), date!(2026 - 01 - 01));
        let mut w = XmlOut::new();
        write_task_recurrence(&mut w, &cases[1]);
        insta::assert_snapshot!(String::from_utf8(w.finish()).unwrap().replace("><", ">\n<"), @r"
        <t:Recurrence>
        <t:WeeklyRegeneration>
        <t:Interval>2</t:Interval>
        </t:WeeklyRegeneration>
        <t:NumberedRecurrence>
        <t:StartDate>2026-11-30Z</t:StartDate>
        <t:NumberOfOccurrences>5</t:NumberOfOccurrences>
        </t:NumberedRecurrence>
        </t:Recurrence>
        ");
        // a regenerating task's recurrence is not a calendar item's
        let stored = cases[0].to_storage();
        assert!(matches!(
            Recurrence::from_storage(&stored),
            Err(EwsProtoError::Unsupported { .. })
        ));
        let big = format!("{stored}{}", " ".repeat(MAX_STORAGE_BYTES));
        assert!(matches!(
            TaskRecurrence::from_storage(&big),
            Err(EwsProtoError::InputTooLarge { .. })
        ));
    }

    #[test]
    fn a_tasks_recurrence_is_checked() {
        let daily = |interval| Regeneration::Daily { interval };
        assert_eq!(regen(daily(1), RangeEnd::NoEnd).check(), Ok(()));
        assert_eq!(regen(daily(999), RangeEnd::Numbered(999)).check(), Ok(()));
        let cases = [
            (
                regen(daily(0), RangeEnd::NoEnd),
                RecurrenceProblem::IntervalOutOfRange { interval: 0 },
                "ErrorCalendarInvalidRecurrence",
            ),
            (
                regen(daily(1000), RangeEnd::NoEnd),
                RecurrenceProblem::IntervalOutOfRange { interval: 1000 },
                "ErrorCalendarInvalidRecurrence",
            ),
            (
                regen(daily(1), RangeEnd::Numbered(0)),
                RecurrenceProblem::OccurrencesOutOfRange { count: 0 },
                "ErrorCalendarInvalidRecurrence",
            ),
            (
                regen(daily(1), RangeEnd::EndDate(date!(2027 - 01 - 01))),
                RecurrenceProblem::RegenerationWithEndDate,
                "ErrorUnsupportedRecurrence",
            ),
            (
                TaskRecurrence::Regeneration {
                    regeneration: daily(1),
                    start_date: date!(1600 - 12 - 31),
                    end: RangeEnd::NoEnd,
                },
                RecurrenceProblem::StartOutOfRange {
                    start: date!(1600 - 12 - 31),
                },
                "ErrorCalendarInvalidRecurrence",
            ),
            // a calendar pattern: the calendar's rules
            (
                TaskRecurrence::Pattern(rec(
                    weekly(1, &[], Weekday::Sunday),
                    date!(2026 - 01 - 01),
                    RangeEnd::NoEnd,
                )),
                RecurrenceProblem::NoDaysOfWeek,
                "ErrorCalendarInvalidDayForWeeklyRecurrence",
            ),
        ];
        for (r, problem, code) in cases {
            assert_eq!(r.check(), Err(problem.clone()), "{r:?}");
            assert_eq!(problem.response_code(), code);
        }
        assert_eq!(
            RecurrenceProblem::RegenerationWithEndDate.to_string(),
            "a task that regenerates cannot end on a date; give a t:NoEndRecurrence or a t:NumberedRecurrence"
        );
    }
}
