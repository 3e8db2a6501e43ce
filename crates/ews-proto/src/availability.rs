//! Free/busy (MS-OXWAVLS): `GetUserAvailabilityRequest` and its answer, and `GetServerTimeZones`,
//! which exchangelib calls first to build the `t:TimeZone` it sends.
//!
//! GetUserAvailability is availability-style: the request element ends in `Request`, and the
//! answer is `m:GetUserAvailabilityResponse/m:FreeBusyResponseArray` with one
//! `m:FreeBusyResponse` per requested mailbox, in request order, each holding its own
//! `m:ResponseMessage` and an `m:FreeBusyView` (`t:FreeBusyViewType`, `t:MergedFreeBusy`,
//! `t:CalendarEventArray`, `t:WorkingHours`). A refusal of the whole request
//! ([`AvailabilityError`]: too many mailboxes, a window too long, a bad interval) has no place in
//! that answer and is a SOAP fault, as Exchange sends it.
//!
//! Times: the window's `StartTime`/`EndTime` with an offset (or `Z`) are instants, as exchangelib
//! sends them; without one (the EWS Managed API's form) they are wall-clock times in the
//! request's `t:TimeZone`. The answer's event times are wall-clock times in that zone without an
//! offset, which the EWS Managed API reads as "unbiased, scoped to the service's time zone" and
//! exchangelib as naive times in the zone it asked in.

use time::{Duration, OffsetDateTime, PrimitiveDateTime, Weekday};

use crate::error::{EwsProtoError, dn, missing};
use crate::ns::{MESSAGES, TYPES};
use crate::request::{
    bool_attr, bool_text, enum_text, invalid, opt_child, req_child, set_once, unexpected,
    unsupported,
};
use crate::response::{ResponseError, response_envelope, write_error_body};
use crate::timezone::{
    SerializableTimeZone, format_local, parse_local, parse_serializable_time_zone,
    serializable_time_zone_of, weekday_name,
};
use crate::types::{LegacyFreeBusyStatus, parse_xs_datetime, str_enum};
use crate::writer::XmlOut;
use crate::xml::Element;

type Result<T> = std::result::Result<T, EwsProtoError>;

/// Most mailboxes one request names (Exchange's limit; past it `ErrorMailboxDataArrayTooBig`).
pub const MAX_MAILBOXES: usize = 100;
/// Longest time window, in days (Exchange 2013+'s limit; past it `ErrorTimeIntervalTooBig`).
pub const MAX_WINDOW_DAYS: i64 = 62;
/// The merged interval's bounds, in minutes (past them `ErrorInvalidMergedFreeBusyInterval`).
pub const MIN_MERGED_INTERVAL: i64 = 5;
pub const MAX_MERGED_INTERVAL: i64 = 1440;
/// The merged interval when the request gives none.
pub const DEFAULT_MERGED_INTERVAL: i64 = 30;

str_enum! {
    /// `t:AttendeeType` of a `t:MailboxData`.
    pub enum AttendeeType ("AttendeeType") {
        Organizer = "Organizer",
        Required = "Required",
        Optional = "Optional",
        Room = "Room",
        Resource = "Resource",
    }
}

str_enum! {
    /// `t:RequestedView` and `t:FreeBusyViewType` (`None` only in answers: an error's view).
    pub enum FreeBusyViewType ("FreeBusyViewType") {
        None = "None",
        MergedOnly = "MergedOnly",
        FreeBusy = "FreeBusy",
        FreeBusyMerged = "FreeBusyMerged",
        Detailed = "Detailed",
        DetailedMerged = "DetailedMerged",
    }
}

impl FreeBusyViewType {
    /// Carries `t:MergedFreeBusy`.
    pub fn has_merged(self) -> bool {
        matches!(
            self,
            Self::MergedOnly | Self::FreeBusyMerged | Self::DetailedMerged
        )
    }

    /// Carries `t:CalendarEventArray` and `t:WorkingHours`.
    pub fn has_events(self) -> bool {
        matches!(
            self,
            Self::FreeBusy | Self::FreeBusyMerged | Self::Detailed | Self::DetailedMerged
        )
    }

    /// Carries `t:CalendarEventDetails`.
    pub fn has_details(self) -> bool {
        matches!(self, Self::Detailed | Self::DetailedMerged)
    }

    /// The view a caller who may see times and busy types only gets when it asked for this one
    /// (Detailed becomes FreeBusy, DetailedMerged FreeBusyMerged).
    pub fn without_details(self) -> Self {
        match self {
            Self::Detailed => Self::FreeBusy,
            Self::DetailedMerged => Self::FreeBusyMerged,
            other => other,
        }
    }
}

/// One `t:MailboxData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxData {
    /// `t:Email/t:Address`, trimmed (an `SMTP:` prefix is the resolver's business).
    pub address: String,
    pub attendee_type: AttendeeType,
    /// `t:ExcludeConflicts` (what suggestions use; free/busy ignores it).
    pub exclude_conflicts: bool,
}

/// A `t:TimeWindow` bound as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowTime {
    /// With an offset or `Z`: an instant.
    Instant(OffsetDateTime),
    /// Without one: a wall-clock time in the request's `t:TimeZone`.
    Local(PrimitiveDateTime),
}

impl WindowTime {
    /// The instant, reading a wall-clock time in `tz`.
    pub fn instant(self, tz: &SerializableTimeZone) -> OffsetDateTime {
        match self {
            Self::Instant(t) => t,
            Self::Local(l) => tz.from_local(l),
        }
    }
}

/// `t:FreeBusyViewOptions`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyViewOptions {
    pub start: WindowTime,
    pub end: WindowTime,
    /// `t:MergedFreeBusyIntervalInMinutes` as sent (checked by [`GetUserAvailability::query`]).
    pub merged_interval: Option<i64>,
    /// `t:RequestedView`; absent: `Detailed` (the EWS Managed API's default).
    pub requested_view: FreeBusyViewType,
}

/// `m:GetUserAvailabilityRequest` (free/busy; `t:SuggestionsViewOptions` is refused as
/// unsupported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetUserAvailability {
    /// `t:TimeZone`: the zone of the window's wall-clock times and of the answer's times.
    pub time_zone: SerializableTimeZone,
    /// `m:MailboxDataArray`, in order (checked against [`MAX_MAILBOXES`] by
    /// [`GetUserAvailability::query`], so the refusal names the count).
    pub mailboxes: Vec<MailboxData>,
    pub options: FreeBusyViewOptions,
}

/// What a valid request asks: the window as instants, the interval, the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub interval_minutes: u32,
    pub view: FreeBusyViewType,
}

impl Query {
    /// How many intervals `t:MergedFreeBusy` has: the window cut into intervals from its start,
    /// a last partial one included.
    pub fn slots(&self) -> usize {
        let window = (self.end - self.start).whole_seconds().max(0);
        let step = i64::from(self.interval_minutes.max(1)) * 60;
        usize::try_from((window + step - 1) / step).unwrap_or(0)
    }
}

/// A request this server refuses as a whole: a SOAP fault with [`Self::response_code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AvailabilityError {
    #[error(
        "The MailboxDataArray is empty: name at least one mailbox (t:MailboxData/t:Email/t:Address)."
    )]
    MailboxDataArrayEmpty,
    #[error(
        "There are too many target users in the MailboxDataArray: the allowed size = {limit}; the actual size = {actual}. Ask for at most {limit} mailboxes per request."
    )]
    MailboxDataArrayTooBig { actual: usize, limit: usize },
    #[error(
        "The time duration specified for FreeBusyViewOptions.TimeWindow is invalid: its EndTime ({end}) is not after its StartTime ({start}). Give an EndTime later than the StartTime."
    )]
    InvalidTimeInterval { start: String, end: String },
    #[error(
        "The requested time duration specified for FreeBusyViewOptions.TimeWindow is too long: the allowed limit = {limit} days; the actual = {actual} days. Ask for at most {limit} days per request."
    )]
    TimeIntervalTooBig { actual: String, limit: i64 },
    #[error(
        "The specified merged free/busy interval ({minutes} minutes) is not valid. Specify an interval between 5 and 1440 minutes and no longer than the free/busy time window ({window} minutes)."
    )]
    InvalidMergedFreeBusyInterval { minutes: i64, window: i64 },
    #[error(
        "The RequestedView None is valid in answers only; ask for MergedOnly, FreeBusy, FreeBusyMerged, Detailed or DetailedMerged."
    )]
    InvalidFreeBusyViewType,
}

impl AvailabilityError {
    /// The EWS response code of the fault.
    pub fn response_code(&self) -> &'static str {
        match self {
            Self::MailboxDataArrayEmpty => "ErrorMailboxDataArrayEmpty",
            Self::MailboxDataArrayTooBig { .. } => "ErrorMailboxDataArrayTooBig",
            Self::InvalidTimeInterval { .. } => "ErrorInvalidTimeInterval",
            Self::TimeIntervalTooBig { .. } => "ErrorTimeIntervalTooBig",
            Self::InvalidMergedFreeBusyInterval { .. } => "ErrorInvalidMergedFreeBusyInterval",
            Self::InvalidFreeBusyViewType => "ErrorInvalidFreeBusyViewType",
        }
    }

    /// The SOAP fault (send with HTTP 500).
    pub fn fault(&self) -> Vec<u8> {
        crate::response::write_fault(self.response_code(), &self.to_string())
    }
}

impl GetUserAvailability {
    /// Checks the request's bounds and reads its window in its time zone.
    pub fn query(&self) -> std::result::Result<Query, AvailabilityError> {
        match self.mailboxes.len() {
            0 => return Err(AvailabilityError::MailboxDataArrayEmpty),
            n if n > MAX_MAILBOXES => {
                return Err(AvailabilityError::MailboxDataArrayTooBig {
                    actual: n,
                    limit: MAX_MAILBOXES,
                });
            }
            _ => {}
        }
        if self.options.requested_view == FreeBusyViewType::None {
            return Err(AvailabilityError::InvalidFreeBusyViewType);
        }
        let start = self.options.start.instant(&self.time_zone);
        let end = self.options.end.instant(&self.time_zone);
        if end <= start {
            return Err(AvailabilityError::InvalidTimeInterval {
                start: crate::types::format_xs_datetime(start),
                end: crate::types::format_xs_datetime(end),
            });
        }
        let window = end - start;
        if window > Duration::days(MAX_WINDOW_DAYS) {
            let hours = window.whole_hours();
            return Err(AvailabilityError::TimeIntervalTooBig {
                actual: if hours % 24 == 0 {
                    (hours / 24).to_string()
                } else {
                    format!("{:.2}", window.as_seconds_f64() / 86_400.0)
                },
                limit: MAX_WINDOW_DAYS,
            });
        }
        let minutes = self
            .options
            .merged_interval
            .unwrap_or(DEFAULT_MERGED_INTERVAL);
        let window_minutes = window.whole_minutes();
        if !(MIN_MERGED_INTERVAL..=MAX_MERGED_INTERVAL).contains(&minutes)
            || minutes > window_minutes
        {
            return Err(AvailabilityError::InvalidMergedFreeBusyInterval {
                minutes,
                window: window_minutes,
            });
        }
        Ok(Query {
            start,
            end,
            interval_minutes: u32::try_from(minutes).unwrap_or(30),
            view: self.options.requested_view,
        })
    }
}

// ======================================================================
// Reading the request
// ======================================================================

/// `t:Email` (`t:EmailAddress`): `t:Name`, `t:Address`, `t:RoutingType`; the address.
fn email_address(el: &Element) -> Result<String> {
    let mut address = None;
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "Address" => set_once(&mut address, el, child, child.text_trimmed().to_owned())?,
            "Name" | "RoutingType" => {}
            _ => return Err(unexpected(el, child)),
        }
    }
    address
        .filter(|a| !a.is_empty())
        .ok_or_else(|| missing(el, "Address"))
}

fn parse_mailbox_data(el: &Element) -> Result<MailboxData> {
    let (mut address, mut attendee, mut exclude) = (None, None, None);
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "Email" => set_once(&mut address, el, child, email_address(child)?)?,
            "AttendeeType" => set_once(
                &mut attendee,
                el,
                child,
                enum_text(child, AttendeeType::ALL)?,
            )?,
            "ExcludeConflicts" => set_once(&mut exclude, el, child, bool_text(child)?)?,
            _ => return Err(unexpected(el, child)),
        }
    }
    Ok(MailboxData {
        address: address.ok_or_else(|| missing(el, "Email"))?,
        attendee_type: attendee.ok_or_else(|| missing(el, "AttendeeType"))?,
        exclude_conflicts: exclude.unwrap_or(false),
    })
}

/// Whether an `xs:dateTime` text carries a zone designator (`Z`, `+hh:mm`, `-hh:mm`).
fn has_offset(s: &str) -> bool {
    let s = s.trim_matches(crate::xml::is_xml_whitespace);
    s.ends_with('Z')
        || s.rsplit_once('T')
            .is_some_and(|(_, t)| t.contains(['+', '-']))
}

fn window_time(el: &Element) -> Result<WindowTime> {
    let bad = || EwsProtoError::InvalidDateTime {
        context: dn(el),
        value: crate::error::echo(&el.text),
        position: el.position(),
    };
    if has_offset(&el.text) {
        parse_xs_datetime(&el.text)
            .map(WindowTime::Instant)
            .ok_or_else(bad)
    } else {
        parse_local(&el.text).map(WindowTime::Local).ok_or_else(bad)
    }
}

fn parse_options(el: &Element) -> Result<FreeBusyViewOptions> {
    let (mut window, mut interval, mut view) = (None, None, None);
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "TimeWindow" => {
                for c in &child.children {
                    if !(c.is(TYPES, "StartTime") || c.is(TYPES, "EndTime")) {
                        return Err(unexpected(child, c));
                    }
                }
                let start = window_time(req_child(child, TYPES, "StartTime")?)?;
                let end = window_time(req_child(child, TYPES, "EndTime")?)?;
                set_once(&mut window, el, child, (start, end))?;
            }
            "MergedFreeBusyIntervalInMinutes" => {
                let v = child.text_trimmed().parse::<i32>().map_err(|_| {
                    invalid(
                        child,
                        dn(child),
                        &child.text,
                        "a whole number of minutes, 5 to 1440",
                    )
                })?;
                set_once(&mut interval, el, child, i64::from(v))?;
            }
            "RequestedView" => set_once(
                &mut view,
                el,
                child,
                enum_text(child, FreeBusyViewType::ALL)?,
            )?,
            _ => return Err(unexpected(el, child)),
        }
    }
    let (start, end) = window.ok_or_else(|| missing(el, "TimeWindow"))?;
    Ok(FreeBusyViewOptions {
        start,
        end,
        merged_interval: interval,
        requested_view: view.unwrap_or(FreeBusyViewType::Detailed),
    })
}

pub(crate) fn parse(op: &Element) -> Result<GetUserAvailability> {
    let (mut tz, mut array, mut options) = (None, None, None);
    for child in &op.children {
        match (&*child.ns, child.local.as_str()) {
            (TYPES, "TimeZone") => set_once(&mut tz, op, child, child)?,
            (MESSAGES, "MailboxDataArray") => set_once(&mut array, op, child, child)?,
            (TYPES, "FreeBusyViewOptions") => set_once(&mut options, op, child, child)?,
            // meeting suggestions are not computed by this server
            (TYPES, "SuggestionsViewOptions") => return Err(unsupported(child)),
            _ => return Err(unexpected(op, child)),
        }
    }
    let time_zone = parse_serializable_time_zone(tz.ok_or_else(|| missing(op, "TimeZone"))?)?;
    let array = array.ok_or_else(|| missing(op, "MailboxDataArray"))?;
    let mut mailboxes = Vec::with_capacity(array.children.len().min(MAX_MAILBOXES + 1));
    for child in &array.children {
        if !child.is(TYPES, "MailboxData") {
            return Err(unexpected(array, child));
        }
        mailboxes.push(parse_mailbox_data(child)?);
    }
    let options = parse_options(options.ok_or_else(|| missing(op, "FreeBusyViewOptions"))?)?;
    Ok(GetUserAvailability {
        time_zone,
        mailboxes,
        options,
    })
}

// ======================================================================
// The merged stream
// ======================================================================

/// An appointment's weight in the merged stream and its digit: Free and NoData add nothing;
/// otherwise the highest weight in an interval wins, OOF over Busy over WorkingElsewhere over
/// Tentative. The digits are MS-OXWAVLS's (0 Free, 1 Tentative, 2 Busy, 3 OOF); WorkingElsewhere,
/// which Exchange 2013 added, is 4 as in Graph's availabilityView and Outlook's
/// `olWorkingElsewhere`; "no data" never arises, this server having every calendar it answers.
fn weight(status: LegacyFreeBusyStatus) -> Option<usize> {
    match status {
        LegacyFreeBusyStatus::Free | LegacyFreeBusyStatus::NoData => None,
        LegacyFreeBusyStatus::Tentative => Some(0),
        LegacyFreeBusyStatus::WorkingElsewhere => Some(1),
        LegacyFreeBusyStatus::Busy => Some(2),
        LegacyFreeBusyStatus::Oof => Some(3),
    }
}

/// The digit of each [`weight`].
const DIGITS: [u8; 4] = [b'1', b'4', b'2', b'3'];

/// `t:MergedFreeBusy` of `query`'s window for these appointments ([start, end) instants and busy
/// types): one digit per interval from the window's start, the strongest status of the
/// appointments overlapping it. Linear in appointments plus intervals, whatever the appointments'
/// lengths (a count of open appointments per status and interval boundary).
pub fn merged_free_busy(
    query: &Query,
    appointments: impl IntoIterator<Item = (OffsetDateTime, OffsetDateTime, LegacyFreeBusyStatus)>,
) -> String {
    let slots = query.slots();
    let step = i128::from(query.interval_minutes.max(1)) * 60_000_000_000;
    let origin = query.start.unix_timestamp_nanos();
    let window = (query.end - query.start).whole_nanoseconds();
    // per weight, +1 where an appointment starts covering intervals and -1 after its last one
    let mut diff = vec![[0i64; 4]; slots + 1];
    for (start, end, status) in appointments {
        let Some(w) = weight(status) else {
            continue;
        };
        let (s, e) = (
            start.unix_timestamp_nanos() - origin,
            end.unix_timestamp_nanos() - origin,
        );
        let (first, last) = if e == s {
            // a moment: the interval it falls in
            if s < 0 || s >= window {
                continue;
            }
            (s / step, s / step)
        } else {
            if e < s || e <= 0 || s >= window {
                continue;
            }
            // an end on an interval's boundary does not reach into the next one
            (s.max(0) / step, (e.min(window) + step - 1) / step - 1)
        };
        let (Ok(first), Ok(last)) = (usize::try_from(first), usize::try_from(last)) else {
            continue;
        };
        let last = last.min(slots.saturating_sub(1));
        if first > last {
            continue;
        }
        diff[first][w] += 1;
        diff[last + 1][w] -= 1;
    }
    let mut open = [0i64; 4];
    let mut out = Vec::with_capacity(slots);
    for d in diff.iter().take(slots) {
        for (o, v) in open.iter_mut().zip(d) {
            *o += v;
        }
        let digit = (0..4)
            .rev()
            .find(|w| open[*w] > 0)
            .map_or(b'0', |w| DIGITS[w]);
        out.push(digit);
    }
    String::from_utf8(out).unwrap_or_default()
}

// ======================================================================
// The answer
// ======================================================================

/// `t:CalendarEventDetails`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarEventDetails {
    /// `t:ID`: the item's id (Exchange leaves it out for private items).
    pub id: Option<String>,
    pub subject: Option<String>,
    pub location: Option<String>,
    pub is_meeting: bool,
    pub is_recurring: bool,
    pub is_exception: bool,
    pub is_reminder_set: bool,
    pub is_private: bool,
}

/// `t:CalendarEvent`: times on the requester's wall clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarEvent {
    pub start: PrimitiveDateTime,
    pub end: PrimitiveDateTime,
    pub busy_type: LegacyFreeBusyStatus,
    pub details: Option<CalendarEventDetails>,
}

/// `t:WorkingPeriod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingPeriod {
    pub days: Vec<Weekday>,
    /// Minutes after midnight, in the working hours' time zone.
    pub start_minutes: u16,
    pub end_minutes: u16,
}

/// `t:WorkingHours`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    pub time_zone: SerializableTimeZone,
    pub periods: Vec<WorkingPeriod>,
}

impl WorkingHours {
    /// Monday to Friday, 08:00–17:00, in `time_zone`.
    pub fn office(time_zone: SerializableTimeZone) -> Self {
        WorkingHours {
            time_zone,
            periods: vec![WorkingPeriod {
                days: vec![
                    Weekday::Monday,
                    Weekday::Tuesday,
                    Weekday::Wednesday,
                    Weekday::Thursday,
                    Weekday::Friday,
                ],
                start_minutes: 8 * 60,
                end_minutes: 17 * 60,
            }],
        }
    }
}

/// `m:FreeBusyView` of one mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyView {
    pub view_type: FreeBusyViewType,
    pub merged: Option<String>,
    /// `None`: no `t:CalendarEventArray` (MergedOnly).
    pub events: Option<Vec<CalendarEvent>>,
    pub working_hours: Option<WorkingHours>,
}

fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn write_view(w: &mut XmlOut, v: &FreeBusyView) {
    w.start("m:FreeBusyView", &[]);
    w.leaf("t:FreeBusyViewType", v.view_type.as_str());
    if let Some(m) = &v.merged {
        w.leaf("t:MergedFreeBusy", m);
    }
    if let Some(events) = &v.events {
        w.start("t:CalendarEventArray", &[]);
        for e in events {
            w.start("t:CalendarEvent", &[]);
            w.leaf("t:StartTime", &format_local(e.start));
            w.leaf("t:EndTime", &format_local(e.end));
            w.leaf("t:BusyType", e.busy_type.as_str());
            if let Some(d) = &e.details {
                w.start("t:CalendarEventDetails", &[]);
                if let Some(id) = &d.id {
                    w.leaf("t:ID", id);
                }
                if let Some(s) = &d.subject {
                    w.leaf("t:Subject", s);
                }
                if let Some(l) = &d.location {
                    w.leaf("t:Location", l);
                }
                w.leaf("t:IsMeeting", bool_str(d.is_meeting));
                w.leaf("t:IsRecurring", bool_str(d.is_recurring));
                w.leaf("t:IsException", bool_str(d.is_exception));
                w.leaf("t:IsReminderSet", bool_str(d.is_reminder_set));
                w.leaf("t:IsPrivate", bool_str(d.is_private));
                w.end("t:CalendarEventDetails");
            }
            w.end("t:CalendarEvent");
        }
        w.end("t:CalendarEventArray");
    }
    if let Some(h) = &v.working_hours {
        w.start("t:WorkingHours", &[]);
        crate::timezone::write_serializable_time_zone(w, &h.time_zone);
        w.start("t:WorkingPeriodArray", &[]);
        for p in &h.periods {
            w.start("t:WorkingPeriod", &[]);
            let days: Vec<&str> = p.days.iter().map(|d| weekday_name(*d)).collect();
            w.leaf("t:DayOfWeek", &days.join(" "));
            w.leaf("t:StartTimeInMinutes", &p.start_minutes.to_string());
            w.leaf("t:EndTimeInMinutes", &p.end_minutes.to_string());
            w.end("t:WorkingPeriod");
        }
        w.end("t:WorkingPeriodArray");
        w.end("t:WorkingHours");
    }
    w.end("m:FreeBusyView");
}

/// `GetUserAvailabilityResponse`: one `m:FreeBusyResponse` per requested mailbox, in order, its
/// `m:ResponseMessage` then its `m:FreeBusyView` (an error's view is `None`).
pub fn get_user_availability_response(
    results: &[std::result::Result<FreeBusyView, ResponseError>],
) -> Vec<u8> {
    response_envelope(|w| {
        w.start(
            "m:GetUserAvailabilityResponse",
            &[("xmlns:m", MESSAGES), ("xmlns:t", TYPES)],
        );
        w.start("m:FreeBusyResponseArray", &[]);
        for r in results {
            w.start("m:FreeBusyResponse", &[]);
            match r {
                Ok(v) => {
                    w.start("m:ResponseMessage", &[("ResponseClass", "Success")]);
                    w.leaf("m:ResponseCode", "NoError");
                    w.end("m:ResponseMessage");
                    write_view(w, v);
                }
                Err(e) => {
                    w.start("m:ResponseMessage", &[("ResponseClass", e.class.as_str())]);
                    write_error_body(w, e);
                    w.end("m:ResponseMessage");
                    w.start("m:FreeBusyView", &[]);
                    w.leaf("t:FreeBusyViewType", FreeBusyViewType::None.as_str());
                    w.end("m:FreeBusyView");
                }
            }
            w.end("m:FreeBusyResponse");
        }
        w.end("m:FreeBusyResponseArray");
        w.end("m:GetUserAvailabilityResponse");
    })
}

// ---- reading the answer (a client's side, tests) ----

fn child_text<'a>(el: &'a Element, name: &'static str) -> Option<&'a str> {
    el.child(TYPES, name).map(Element::text_trimmed)
}

fn local_of(el: &Element, name: &'static str) -> Result<PrimitiveDateTime> {
    let c = req_child(el, TYPES, name)?;
    parse_local(&c.text).ok_or_else(|| EwsProtoError::InvalidDateTime {
        context: dn(c),
        value: crate::error::echo(&c.text),
        position: c.position(),
    })
}

fn bool_of(el: &Element, name: &'static str) -> Result<bool> {
    match el.child(TYPES, name) {
        Some(c) => bool_text(c),
        None => Ok(false),
    }
}

fn view_of(el: &Element) -> Result<FreeBusyView> {
    let view_type = enum_text(
        req_child(el, TYPES, "FreeBusyViewType")?,
        FreeBusyViewType::ALL,
    )?;
    let merged = child_text(el, "MergedFreeBusy").map(str::to_owned);
    let events = match opt_child(el, TYPES, "CalendarEventArray")? {
        None => None,
        Some(a) => {
            let mut out = Vec::new();
            for e in a.children.iter().filter(|c| c.is(TYPES, "CalendarEvent")) {
                let details = match opt_child(e, TYPES, "CalendarEventDetails")? {
                    None => None,
                    Some(d) => Some(CalendarEventDetails {
                        id: child_text(d, "ID").map(str::to_owned),
                        subject: child_text(d, "Subject").map(str::to_owned),
                        location: child_text(d, "Location").map(str::to_owned),
                        is_meeting: bool_of(d, "IsMeeting")?,
                        is_recurring: bool_of(d, "IsRecurring")?,
                        is_exception: bool_of(d, "IsException")?,
                        is_reminder_set: bool_of(d, "IsReminderSet")?,
                        is_private: bool_of(d, "IsPrivate")?,
                    }),
                };
                out.push(CalendarEvent {
                    start: local_of(e, "StartTime")?,
                    end: local_of(e, "EndTime")?,
                    busy_type: enum_text(
                        req_child(e, TYPES, "BusyType")?,
                        LegacyFreeBusyStatus::ALL,
                    )?,
                    details,
                });
            }
            Some(out)
        }
    };
    let working_hours = match opt_child(el, TYPES, "WorkingHours")? {
        None => None,
        Some(h) => {
            let time_zone = serializable_time_zone_of(req_child(h, TYPES, "TimeZone")?)?;
            let mut periods = Vec::new();
            if let Some(arr) = opt_child(h, TYPES, "WorkingPeriodArray")? {
                for p in arr.children.iter().filter(|c| c.is(TYPES, "WorkingPeriod")) {
                    let num = |name: &'static str| -> Result<u16> {
                        let c = req_child(p, TYPES, name)?;
                        c.text_trimmed()
                            .parse()
                            .map_err(|_| invalid(c, dn(c), &c.text, "minutes after midnight"))
                    };
                    let days = child_text(p, "DayOfWeek")
                        .unwrap_or_default()
                        .split_whitespace()
                        .filter_map(crate::timezone::weekday_of)
                        .collect();
                    periods.push(WorkingPeriod {
                        days,
                        start_minutes: num("StartTimeInMinutes")?,
                        end_minutes: num("EndTimeInMinutes")?,
                    });
                }
            }
            Some(WorkingHours { time_zone, periods })
        }
    };
    Ok(FreeBusyView {
        view_type,
        merged,
        events,
        working_hours,
    })
}

/// Reads a `GetUserAvailabilityResponse` (a client's side): per mailbox, its view or the error
/// its response message names. A SOAP fault is [`EwsProtoError::SoapFault`].
pub fn parse_get_user_availability_response(
    input: &[u8],
    limits: &crate::xml::Limits,
) -> Result<Vec<std::result::Result<FreeBusyView, ResponseError>>> {
    let root = crate::xml::parse(input, limits)?;
    let (_, body) = crate::request::split_envelope(&root)?;
    let response = crate::request::body_child(body)?;
    if response.is(crate::ns::SOAP, "Fault") {
        return Err(crate::response::fault_error(response));
    }
    if !response.is(MESSAGES, "GetUserAvailabilityResponse") {
        return Err(EwsProtoError::UnexpectedElement {
            parent: "soap:Body".to_owned(),
            found: dn(response),
            position: response.position(),
        });
    }
    let array = req_child(response, MESSAGES, "FreeBusyResponseArray")?;
    let mut out = Vec::new();
    for r in array
        .children
        .iter()
        .filter(|c| c.is(MESSAGES, "FreeBusyResponse"))
    {
        let m = crate::response::parse_message(req_child(r, MESSAGES, "ResponseMessage")?)?;
        if m.code != "NoError" {
            let mut e = ResponseError::new(&m.code, m.text.as_deref().unwrap_or_default());
            e.class = m.class;
            out.push(Err(e));
            continue;
        }
        out.push(Ok(view_of(req_child(r, MESSAGES, "FreeBusyView")?)?));
    }
    Ok(out)
}

// ======================================================================
// GetServerTimeZones
// ======================================================================

/// `m:GetServerTimeZones`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetServerTimeZones {
    /// `m:Ids/t:Id`; `None`: every zone.
    pub ids: Option<Vec<String>>,
    /// `@ReturnFullTimeZoneData` (default true): periods and transitions too.
    pub full: bool,
}

/// Most ids one GetServerTimeZones names (Windows has about 140 zones).
pub const MAX_TIME_ZONE_IDS: usize = 500;

pub(crate) fn parse_get_server_time_zones(op: &Element) -> Result<GetServerTimeZones> {
    for child in &op.children {
        if !child.is(MESSAGES, "Ids") {
            return Err(unexpected(op, child));
        }
    }
    let ids = match opt_child(op, MESSAGES, "Ids")? {
        None => None,
        Some(list) => {
            if list.children.len() > MAX_TIME_ZONE_IDS {
                return Err(EwsProtoError::TooManyEntries {
                    parent: dn(list),
                    what: "time zone ids",
                    limit: MAX_TIME_ZONE_IDS,
                    position: list.position(),
                });
            }
            let mut ids = Vec::with_capacity(list.children.len());
            for c in &list.children {
                if !c.is(TYPES, "Id") {
                    return Err(unexpected(list, c));
                }
                ids.push(c.text_trimmed().to_owned());
            }
            Some(ids)
        }
    };
    Ok(GetServerTimeZones {
        ids,
        full: bool_attr(op, "ReturnFullTimeZoneData")?.unwrap_or(true),
    })
}

/// `GetServerTimeZonesResponse`: one response message with the definitions of the zones asked
/// for, in order; an id this server does not define is `ErrorTimeZone` naming it.
pub fn get_server_time_zones_response(g: &GetServerTimeZones) -> Vec<u8> {
    use crate::timezone::{WINDOWS_ZONES, WindowsZone, windows_zone};
    let zones: std::result::Result<Vec<&WindowsZone>, ResponseError> = match &g.ids {
        None => Ok(WINDOWS_ZONES.iter().collect()),
        Some(ids) => ids
            .iter()
            .map(|id| {
                windows_zone(id).ok_or_else(|| {
                    let known: Vec<&str> = WINDOWS_ZONES.iter().map(|z| z.id).collect();
                    ResponseError::new(
                        "ErrorTimeZone",
                        &format!(
                            "The time zone {:?} is not one this server defines; use one of: {}.",
                            crate::error::echo(id),
                            known.join(", ")
                        ),
                    )
                })
            })
            .collect(),
    };
    response_envelope(|w| {
        w.start(
            "m:GetServerTimeZonesResponse",
            &[("xmlns:m", MESSAGES), ("xmlns:t", TYPES)],
        );
        w.start("m:ResponseMessages", &[]);
        match &zones {
            Ok(zones) => {
                w.start(
                    "m:GetServerTimeZonesResponseMessage",
                    &[("ResponseClass", "Success")],
                );
                w.leaf("m:ResponseCode", "NoError");
                w.start("m:TimeZoneDefinitions", &[]);
                for z in zones {
                    crate::timezone::write_definition(w, z, g.full);
                }
                w.end("m:TimeZoneDefinitions");
            }
            Err(e) => {
                w.start(
                    "m:GetServerTimeZonesResponseMessage",
                    &[("ResponseClass", e.class.as_str())],
                );
                write_error_body(w, e);
                w.empty("m:TimeZoneDefinitions", &[]);
            }
        }
        w.end("m:GetServerTimeZonesResponseMessage");
        w.end("m:ResponseMessages");
        w.end("m:GetServerTimeZonesResponse");
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Operation, parse_request};
    use crate::xml::Limits;
    use time::macros::datetime;

    fn op(body: &str) -> Result<Operation> {
        let env = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="{MESSAGES}" xmlns:t="{TYPES}"><s:Body>{body}</s:Body></s:Envelope>"#
        );
        parse_request(env.as_bytes(), &Limits::default()).map(|r| r.operation)
    }

    pub(crate) const PACIFIC: &str = "<t:TimeZone><t:Bias>480</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>11</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>2</t:DayOrder><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>";

    fn mailbox(addr: &str) -> String {
        format!(
            "<t:MailboxData><t:Email><t:Name></t:Name><t:Address>{addr}</t:Address><t:RoutingType>SMTP</t:RoutingType></t:Email><t:AttendeeType>Required</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData>"
        )
    }

    fn request(mailboxes: &str, options: &str) -> String {
        format!(
            "<m:GetUserAvailabilityRequest>{PACIFIC}<m:MailboxDataArray>{mailboxes}</m:MailboxDataArray><t:FreeBusyViewOptions>{options}</t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>"
        )
    }

    fn get(body: &str) -> GetUserAvailability {
        match op(body).unwrap() {
            Operation::GetUserAvailability(g) => g,
            other => panic!("{other:?}"),
        }
    }

    const DAY: &str = "<t:TimeWindow><t:StartTime>2026-07-15T00:00:00</t:StartTime><t:EndTime>2026-07-16T00:00:00</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>60</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>DetailedMerged</t:RequestedView>";

    #[test]
    fn parses_the_managed_api_and_exchangelib_forms() {
        let g = get(&request(
            &format!(
                "{}{}",
                mailbox("alice@contoso.example"),
                mailbox("bob@contoso.example")
            ),
            DAY,
        ));
        assert_eq!(g.mailboxes.len(), 2);
        assert_eq!(g.mailboxes[1].address, "bob@contoso.example");
        assert_eq!(g.mailboxes[0].attendee_type, AttendeeType::Required);
        let q = g.query().unwrap();
        // local midnight in Pacific daylight time is 07:00 UTC
        assert_eq!(q.start, datetime!(2026-07-15 07:00 UTC));
        assert_eq!(q.end - q.start, Duration::days(1));
        assert_eq!((q.interval_minutes, q.slots()), (60, 24));
        assert_eq!(q.view, FreeBusyViewType::DetailedMerged);
        // exchangelib: offsets on the window, the view given, no interval: 30 minutes
        let g = get(&request(
            &mailbox("alice@contoso.example"),
            "<t:TimeWindow><t:StartTime>2026-07-15T09:00:00+02:00</t:StartTime><t:EndTime>2026-07-15T10:10:00Z</t:EndTime></t:TimeWindow><t:RequestedView>FreeBusy</t:RequestedView>",
        ));
        let q = g.query().unwrap();
        assert_eq!(q.start, datetime!(2026-07-15 07:00 UTC));
        assert_eq!((q.interval_minutes, q.slots()), (30, 7));
        // no view: Detailed
        let g = get(&request(
            &mailbox("a@b"),
            "<t:TimeWindow><t:StartTime>2026-07-15T00:00:00Z</t:StartTime><t:EndTime>2026-07-16T00:00:00Z</t:EndTime></t:TimeWindow>",
        ));
        assert_eq!(g.options.requested_view, FreeBusyViewType::Detailed);
    }

    #[test]
    fn schema_violations_are_precise() {
        let m = mailbox("a@b");
        for (body, says) in [
            (
                "<m:GetUserAvailabilityRequest/>".to_owned(),
                "missing the required element TimeZone",
            ),
            (
                format!(
                    "<m:GetUserAvailabilityRequest>{PACIFIC}<t:FreeBusyViewOptions>{DAY}</t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>"
                ),
                "MailboxDataArray",
            ),
            (
                format!(
                    "<m:GetUserAvailabilityRequest>{PACIFIC}<m:MailboxDataArray>{m}</m:MailboxDataArray></m:GetUserAvailabilityRequest>"
                ),
                "FreeBusyViewOptions",
            ),
            (
                format!(
                    "<m:GetUserAvailabilityRequest>{PACIFIC}<m:MailboxDataArray>{m}</m:MailboxDataArray><t:FreeBusyViewOptions>{DAY}</t:FreeBusyViewOptions><t:SuggestionsViewOptions/></m:GetUserAvailabilityRequest>"
                ),
                "not supported",
            ),
            (
                request(
                    "<t:MailboxData><t:Email><t:Address>a@b</t:Address></t:Email></t:MailboxData>",
                    DAY,
                ),
                "AttendeeType",
            ),
            (
                request(
                    "<t:MailboxData><t:Email><t:Name>x</t:Name></t:Email><t:AttendeeType>Required</t:AttendeeType></t:MailboxData>",
                    DAY,
                ),
                "Address",
            ),
            (
                request(&m.replace("Required", "Boss"), DAY),
                "Organizer, Required, Optional, Room, Resource",
            ),
            (request(&m, &DAY.replace("60<", "sixty<")), "5 to 1440"),
            (
                request(&m, &DAY.replace("DetailedMerged", "Everything")),
                "MergedOnly",
            ),
            (
                request(&m, &DAY.replace("2026-07-15T00:00:00", "yesterday")),
                "xs:dateTime",
            ),
            (
                request(
                    &m,
                    "<t:MergedFreeBusyIntervalInMinutes>30</t:MergedFreeBusyIntervalInMinutes>",
                ),
                "TimeWindow",
            ),
            (
                request(&format!("{m}<t:Other/>"), DAY),
                "unexpected element t:Other",
            ),
        ] {
            let e = op(&body).unwrap_err().to_string();
            assert!(e.contains(says), "{body}: {e}");
        }
    }

    fn query_err(mailboxes: usize, options: &str) -> AvailabilityError {
        let m = mailbox("a@b").repeat(mailboxes);
        get(&request(&m, options)).query().unwrap_err()
    }

    #[test]
    fn bounds_are_refused_with_their_codes() {
        let win = |start: &str, end: &str, extra: &str| {
            format!(
                "<t:TimeWindow><t:StartTime>{start}</t:StartTime><t:EndTime>{end}</t:EndTime></t:TimeWindow>{extra}"
            )
        };
        let cases = [
            (
                query_err(0, DAY),
                "ErrorMailboxDataArrayEmpty",
                "at least one",
            ),
            (
                query_err(101, DAY),
                "ErrorMailboxDataArrayTooBig",
                "the allowed size = 100; the actual size = 101",
            ),
            (
                query_err(1, &win("2026-07-16T00:00:00Z", "2026-07-16T00:00:00Z", "")),
                "ErrorInvalidTimeInterval",
                "not after its StartTime",
            ),
            (
                query_err(1, &win("2026-07-01T00:00:00Z", "2026-09-02T00:00:00Z", "")),
                "ErrorTimeIntervalTooBig",
                "the allowed limit = 62 days; the actual = 63 days",
            ),
            (
                query_err(1, &win("2026-07-01T00:00:00Z", "2026-09-01T01:00:00Z", "")),
                "ErrorTimeIntervalTooBig",
                "the actual = 62.04 days",
            ),
            (
                query_err(
                    1,
                    &win(
                        "2026-07-15T00:00:00Z",
                        "2026-07-16T00:00:00Z",
                        "<t:MergedFreeBusyIntervalInMinutes>4</t:MergedFreeBusyIntervalInMinutes>",
                    ),
                ),
                "ErrorInvalidMergedFreeBusyInterval",
                "between 5 and 1440",
            ),
            (
                query_err(
                    1,
                    &win(
                        "2026-07-15T00:00:00Z",
                        "2026-07-20T00:00:00Z",
                        "<t:MergedFreeBusyIntervalInMinutes>1441</t:MergedFreeBusyIntervalInMinutes>",
                    ),
                ),
                "ErrorInvalidMergedFreeBusyInterval",
                "1441 minutes",
            ),
            (
                query_err(1, &win("2026-07-15T00:00:00Z", "2026-07-15T00:20:00Z", "")),
                "ErrorInvalidMergedFreeBusyInterval",
                "time window (20 minutes)",
            ),
            (
                query_err(
                    1,
                    &win(
                        "2026-07-15T00:00:00Z",
                        "2026-07-16T00:00:00Z",
                        "<t:RequestedView>None</t:RequestedView>",
                    ),
                ),
                "ErrorInvalidFreeBusyViewType",
                "answers only",
            ),
        ];
        for (e, code, says) in cases {
            assert_eq!(e.response_code(), code, "{e}");
            assert!(e.to_string().contains(says), "{e}");
            let fault = String::from_utf8(e.fault()).unwrap();
            assert!(fault.contains(code), "{fault}");
        }
        // exactly 62 days, 100 mailboxes, 5 and 1440 minutes are fine
        let g = get(&request(
            &mailbox("a@b").repeat(100),
            &win(
                "2026-07-01T00:00:00Z",
                "2026-09-01T00:00:00Z",
                "<t:MergedFreeBusyIntervalInMinutes>1440</t:MergedFreeBusyIntervalInMinutes>",
            ),
        ));
        assert_eq!(g.query().unwrap().slots(), 62);
        let g = get(&request(
            &mailbox("a@b"),
            &win(
                "2026-07-01T00:00:00Z",
                "2026-07-01T00:05:00Z",
                "<t:MergedFreeBusyIntervalInMinutes>5</t:MergedFreeBusyIntervalInMinutes>",
            ),
        ));
        assert_eq!(g.query().unwrap().slots(), 1);
    }

    fn q(start: OffsetDateTime, hours: i64, interval: u32) -> Query {
        Query {
            start,
            end: start + Duration::hours(hours),
            interval_minutes: interval,
            view: FreeBusyViewType::MergedOnly,
        }
    }

    #[test]
    fn merged_stream_takes_the_strongest_status_per_interval() {
        use LegacyFreeBusyStatus as S;
        let t0 = datetime!(2026-07-15 08:00 UTC);
        let h = |x: f64| t0 + Duration::seconds_f64(x * 3600.0);
        // the MS-OXWAVLS example: OOF for 60 minutes, busy for 90, then free: 3220
        assert_eq!(
            merged_free_busy(
                &q(t0, 4, 60),
                [(h(0.0), h(1.0), S::Oof), (h(1.0), h(2.5), S::Busy)]
            ),
            "3220"
        );
        // overlaps: tentative under busy under OOF; working elsewhere between busy and tentative
        let appts = [
            (h(0.0), h(4.0), S::Tentative),
            (h(1.0), h(2.0), S::Busy),
            (h(1.5), h(1.75), S::Oof),
            (h(3.0), h(3.5), S::WorkingElsewhere),
            (h(3.25), h(3.5), S::Busy),
            (h(0.0), h(4.0), S::Free),
        ];
        assert_eq!(merged_free_busy(&q(t0, 4, 60), appts), "1312");
        assert_eq!(merged_free_busy(&q(t0, 4, 30), appts), "11231121");
        assert_eq!(merged_free_busy(&q(t0, 4, 15), appts), "1111223211114211");
        // an appointment before the window, one after, one that ends at its start, one spanning
        assert_eq!(
            merged_free_busy(
                &q(t0, 2, 60),
                [
                    (h(-3.0), h(-1.0), S::Busy),
                    (h(2.0), h(3.0), S::Busy),
                    (h(-1.0), h(0.0), S::Oof),
                ]
            ),
            "00"
        );
        assert_eq!(
            merged_free_busy(&q(t0, 2, 60), [(h(-5.0), h(9.0), S::Oof)]),
            "33"
        );
        // a partial last interval; an appointment inside one interval
        assert_eq!(
            merged_free_busy(&q(t0, 2, 45), [(h(1.6), h(1.7), S::Busy)]),
            "002"
        );
        // a zero-length appointment marks the interval it falls in
        assert_eq!(
            merged_free_busy(&q(t0, 2, 60), [(h(1.5), h(1.5), S::Busy)]),
            "02"
        );
        // many long appointments cost no more than their count plus the intervals
        let many: Vec<_> = (0..10_000)
            .map(|_| (h(-100.0), h(100.0), S::Busy))
            .collect();
        assert_eq!(
            merged_free_busy(&q(t0, 24 * 62, 5), many).len(),
            62 * 24 * 12
        );
    }

    #[test]
    fn answers_are_read_back_as_written() {
        let tz = crate::timezone::windows_zone("Pacific Standard Time")
            .unwrap()
            .tz;
        let view = FreeBusyView {
            view_type: FreeBusyViewType::DetailedMerged,
            merged: Some("0220".into()),
            events: Some(vec![CalendarEvent {
                start: time::macros::datetime!(2026-07-15 09:00),
                end: time::macros::datetime!(2026-07-15 10:30),
                busy_type: LegacyFreeBusyStatus::Busy,
                details: Some(CalendarEventDetails {
                    id: Some("AAA=".into()),
                    subject: Some("Review <draft> & sign".into()),
                    location: Some(String::new()),
                    is_private: true,
                    ..CalendarEventDetails::default()
                }),
            }]),
            working_hours: Some(WorkingHours::office(tz)),
        };
        let body = get_user_availability_response(&[
            Ok(view.clone()),
            Err(ResponseError::new("ErrorMailRecipientNotFound", "nobody")),
        ]);
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.contains("<t:StartTime>2026-07-15T09:00:00</t:StartTime>"),
            "{text}"
        );
        assert!(
            text.contains("<t:DayOfWeek>Monday Tuesday Wednesday Thursday Friday</t:DayOfWeek>"),
            "{text}"
        );
        let back = parse_get_user_availability_response(&body, &Limits::default()).unwrap();
        let mut expected = view;
        if let Some(e) = expected.events.as_mut() {
            // an empty location reads back as an empty string
            e[0].details.as_mut().unwrap().location = Some(String::new());
        }
        assert_eq!(back[0].as_ref().unwrap(), &expected);
        let e = back[1].as_ref().unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ErrorMailRecipientNotFound", "nobody")
        );
        // a fault reads as one
        let fault = AvailabilityError::MailboxDataArrayEmpty.fault();
        assert!(matches!(
            parse_get_user_availability_response(&fault, &Limits::default()),
            Err(EwsProtoError::SoapFault { code, .. }) if code == "ErrorMailboxDataArrayEmpty"
        ));
    }

    #[test]
    fn server_time_zones_are_parsed_and_answered() {
        let Operation::GetServerTimeZones(g) = op(
            "<m:GetServerTimeZones ReturnFullTimeZoneData=\"true\"><m:Ids><t:Id>Romance Standard Time</t:Id></m:Ids></m:GetServerTimeZones>",
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(
            g.ids.as_deref(),
            Some(&["Romance Standard Time".to_owned()][..])
        );
        assert!(g.full);
        let out = String::from_utf8(get_server_time_zones_response(&g)).unwrap();
        assert!(
            out.contains("<t:Period Bias=\"-PT1H\" Name=\"Standard\""),
            "{out}"
        );
        assert!(out.contains("<t:Occurrence>-1</t:Occurrence>"), "{out}");
        let Operation::GetServerTimeZones(all) =
            op("<m:GetServerTimeZones ReturnFullTimeZoneData=\"false\"/>").unwrap()
        else {
            panic!()
        };
        let out = String::from_utf8(get_server_time_zones_response(&all)).unwrap();
        assert_eq!(
            out.matches("<t:TimeZoneDefinition ").count(),
            crate::timezone::WINDOWS_ZONES.len()
        );
        assert!(!out.contains("<t:Periods>"));
        let unknown = GetServerTimeZones {
            ids: Some(vec!["Mars Standard Time".into()]),
            full: true,
        };
        let out = String::from_utf8(get_server_time_zones_response(&unknown)).unwrap();
        assert!(
            out.contains("ErrorTimeZone") && out.contains("Mars Standard Time"),
            "{out}"
        );
        assert!(
            op("<m:GetServerTimeZones><m:Ids><t:Other/></m:Ids></m:GetServerTimeZones>").is_err()
        );
    }
}
