//! EWS time zones, as the availability operations and GetServerTimeZones use them.
//!
//! * [`SerializableTimeZone`]: the `t:TimeZone` of a `GetUserAvailabilityRequest` and of a
//!   `t:WorkingHours` answer (`t:SerializableTimeZone`): a base `Bias`, and a `StandardTime` and a
//!   `DaylightTime`, each with its own bias and the yearly rule of the change *to* it. This is
//!   the Windows `TIME_ZONE_INFORMATION` model: minutes to *add* to local time to get UTC
//!   (`UTC = local + Bias + StandardTime/Bias` in standard time, `+ DaylightTime/Bias` in
//!   daylight time); a rule is "the `DayOrder`th `DayOfWeek` of `Month` at `Time`", `DayOrder`
//!   5 meaning the last one, and `Time` is the wall clock *before* the change (the change to
//!   daylight time is given in standard time, the change back in daylight time). `Month` 0
//!   means no change (no daylight time). [`SerializableTimeZone::to_local`] and
//!   [`SerializableTimeZone::from_local`] convert between instants and its wall clock.
//! * [`WindowsZone`]: the Windows time zones this server defines (their current rules only), for
//!   `GetServerTimeZones` (`t:TimeZoneDefinition`, which exchangelib reads before it asks for
//!   free/busy, to build the `t:TimeZone` it sends).

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

use crate::error::{EwsProtoError, dn, missing};
use crate::ns::TYPES;
use crate::request::{invalid, req_child, set_once, unexpected, unsupported};
use crate::writer::XmlOut;
use crate::xml::Element;

type Result<T> = std::result::Result<T, EwsProtoError>;

/// The largest distance from UTC a zone may have, in minutes (the `xs:dateTime` bound, ±14:00).
pub const MAX_OFFSET_MINUTES: i32 = 14 * 60;

/// A yearly change: the `day_order`th `weekday` of `month` (5: the last one) at `time`, on the
/// wall clock in force before the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub time: Time,
    /// 1–4: that occurrence in the month; 5: the last one.
    pub day_order: u8,
    pub month: Month,
    pub weekday: Weekday,
}

/// `t:StandardTime` or `t:DaylightTime`: the bias added to the zone's in that period, and the
/// rule of the change to it (`None`: `Month` 0, no change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneTime {
    pub bias: i32,
    pub transition: Option<Transition>,
}

/// `t:TimeZone` (`t:SerializableTimeZone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerializableTimeZone {
    /// Minutes to add to local (standard) time to get UTC: 480 for UTC−08:00, −60 for UTC+01:00.
    pub bias: i32,
    pub standard: ZoneTime,
    pub daylight: ZoneTime,
}

const NO_CHANGE: ZoneTime = ZoneTime {
    bias: 0,
    transition: None,
};

impl SerializableTimeZone {
    /// UTC: no bias, no daylight time.
    pub const UTC: SerializableTimeZone = SerializableTimeZone {
        bias: 0,
        standard: NO_CHANGE,
        daylight: NO_CHANGE,
    };

    /// A zone `bias` minutes behind UTC (the Windows sign) without daylight time.
    pub const fn fixed(bias: i32) -> SerializableTimeZone {
        SerializableTimeZone {
            bias,
            standard: NO_CHANGE,
            daylight: NO_CHANGE,
        }
    }

    /// The offset from UTC in standard time.
    pub fn standard_offset(&self) -> UtcOffset {
        offset_of(self.bias + self.standard.bias)
    }

    /// The offset from UTC in daylight time.
    pub fn daylight_offset(&self) -> UtcOffset {
        offset_of(self.bias + self.daylight.bias)
    }

    /// The two rules, when the zone has daylight time: both changes given, and the two periods'
    /// offsets differ (a zone whose daylight bias equals its standard one never changes, whatever
    /// its rules say, as exchangelib's dummy rules for UTC).
    pub fn daylight_rules(&self) -> Option<(Transition, Transition)> {
        match (self.daylight.transition, self.standard.transition) {
            (Some(to_daylight), Some(to_standard)) if self.daylight.bias != self.standard.bias => {
                Some((to_daylight, to_standard))
            }
            _ => None,
        }
    }

    /// The instants of `year`'s change to daylight time and back, by the rules.
    fn changes(&self, year: i32) -> Option<(OffsetDateTime, OffsetDateTime)> {
        let (to_daylight, to_standard) = self.daylight_rules()?;
        let start = PrimitiveDateTime::new(day_of(&to_daylight, year)?, to_daylight.time)
            .assume_offset(self.standard_offset());
        let end = PrimitiveDateTime::new(day_of(&to_standard, year)?, to_standard.time)
            .assume_offset(self.daylight_offset());
        Some((start, end))
    }

    /// Whether daylight time is in force at `t`.
    pub fn is_daylight_at(&self, t: OffsetDateTime) -> bool {
        // the year as the zone's standard-time wall clock sees it: the changes are never at the
        // turn of the year
        let Some(local) = t.checked_to_offset(self.standard_offset()) else {
            return false;
        };
        let Some((start, end)) = self.changes(local.year()) else {
            return false;
        };
        if start < end {
            // northern hemisphere: daylight time inside the year
            start <= t && t < end
        } else {
            // southern hemisphere: daylight time across the turn of the year
            !(end <= t && t < start)
        }
    }

    /// The offset from UTC in force at `t`.
    pub fn offset_at(&self, t: OffsetDateTime) -> UtcOffset {
        if self.is_daylight_at(t) {
            self.daylight_offset()
        } else {
            self.standard_offset()
        }
    }

    /// The zone's wall clock at `t` (`t` itself at the extremes of the calendar, where the zone's
    /// offset would leave it: those are not dates a window of 62 days reaches).
    pub fn to_local(&self, t: OffsetDateTime) -> PrimitiveDateTime {
        let local = t.checked_to_offset(self.offset_at(t)).unwrap_or(t);
        PrimitiveDateTime::new(local.date(), local.time())
    }

    /// The instant the zone's wall clock shows `local`. A time that occurs twice (the hour
    /// repeated when daylight time ends) is taken in standard time, the later one, as .NET's
    /// `TimeZoneInfo` takes it; a time that never occurs (the hour skipped when daylight time
    /// starts) is read with the standard offset, which puts it after the change (02:30 on the
    /// day clocks go from 02:00 to 03:00 is 03:30 daylight time).
    pub fn from_local(&self, local: PrimitiveDateTime) -> OffsetDateTime {
        let standard = local.assume_offset(self.standard_offset());
        if self.daylight_rules().is_none() || !self.is_daylight_at(standard) {
            return standard;
        }
        let daylight = local.assume_offset(self.daylight_offset());
        if self.is_daylight_at(daylight) {
            daylight
        } else {
            standard
        }
    }

    /// Checks the ranges a parsed zone must respect: both periods within
    /// [`MAX_OFFSET_MINUTES`] of UTC.
    fn check(&self, el: &Element) -> Result<()> {
        for (bias, what) in [
            (self.bias + self.standard.bias, "Bias + StandardTime/Bias"),
            (self.bias + self.daylight.bias, "Bias + DaylightTime/Bias"),
        ] {
            if bias.abs() > MAX_OFFSET_MINUTES {
                return Err(invalid(
                    el,
                    format!("{}: {what}", dn(el)),
                    &bias.to_string(),
                    "at most 840 minutes (14 hours) either way: the bias is minutes added to local time to get UTC (480 for UTC-08:00, -60 for UTC+01:00)",
                ));
            }
        }
        Ok(())
    }
}

fn offset_of(bias_minutes: i32) -> UtcOffset {
    // checked where zones come in (at most 14 hours): the fallback is never taken
    UtcOffset::from_whole_seconds(-bias_minutes.saturating_mul(60)).unwrap_or(UtcOffset::UTC)
}

/// The day of `year` a rule names.
fn day_of(t: &Transition, year: i32) -> Option<Date> {
    let first = Date::from_calendar_date(year, t.month, 1).ok()?;
    let ahead =
        (7 + t.weekday.number_days_from_sunday() - first.weekday().number_days_from_sunday()) % 7;
    let len = t.month.length(year);
    let mut day = 1 + ahead + 7 * (t.day_order.clamp(1, 5) - 1);
    while day > len {
        day -= 7;
    }
    Date::from_calendar_date(year, t.month, day).ok()
}

// ======================================================================
// Reading and writing `t:SerializableTimeZone`
// ======================================================================

/// The weekday an EWS `DayOfWeekType` names.
pub(crate) fn weekday_of(name: &str) -> Option<Weekday> {
    Some(match name {
        "Sunday" => Weekday::Sunday,
        "Monday" => Weekday::Monday,
        "Tuesday" => Weekday::Tuesday,
        "Wednesday" => Weekday::Wednesday,
        "Thursday" => Weekday::Thursday,
        "Friday" => Weekday::Friday,
        "Saturday" => Weekday::Saturday,
        _ => return None,
    })
}

/// The EWS name of a weekday (`DayOfWeekType`).
pub fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Sunday => "Sunday",
        Weekday::Monday => "Monday",
        Weekday::Tuesday => "Tuesday",
        Weekday::Wednesday => "Wednesday",
        Weekday::Thursday => "Thursday",
        Weekday::Friday => "Friday",
        Weekday::Saturday => "Saturday",
    }
}

/// An integer element's value in `lo..=hi`, or an error naming the element and `expected`.
pub(crate) fn int_text(el: &Element, lo: i32, hi: i32, expected: &str) -> Result<i32> {
    el.text_trimmed()
        .parse::<i32>()
        .ok()
        .filter(|v| (lo..=hi).contains(v))
        .ok_or_else(|| invalid(el, dn(el), &el.text, expected))
}

/// `HH:MM:SS` (`xs:time`, a fraction of a second allowed and kept to the millisecond).
fn time_text(el: &Element) -> Result<Time> {
    let bad = || {
        invalid(
            el,
            dn(el),
            &el.text,
            "a time of day as HH:MM:SS, e.g. 02:00:00",
        )
    };
    let t = el.text_trimmed();
    let (hms, fraction) = t.split_once('.').unwrap_or((t, ""));
    let mut parts = hms.split(':');
    let mut field = |max: u8| -> Result<u8> {
        parts
            .next()
            .filter(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u8>().ok())
            .filter(|v| *v <= max)
            .ok_or_else(bad)
    };
    let (h, m, s) = (field(23)?, field(59)?, field(59)?);
    if parts.next().is_some() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let millis = fraction
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    Time::from_hms_milli(h, m, s, millis).map_err(|_| bad())
}

/// `t:StandardTime` / `t:DaylightTime` (`t:SerializableTimeZoneTime`): `Bias`, `Time`,
/// `DayOrder`, `Month`, `DayOfWeek`; the optional `Year` (a change in one year only) is refused
/// as unsupported.
fn parse_zone_time(el: &Element) -> Result<ZoneTime> {
    let (mut bias, mut time, mut order, mut month, mut weekday) = (None, None, None, None, None);
    for child in &el.children {
        if &*child.ns != TYPES {
            return Err(unexpected(el, child));
        }
        match child.local.as_str() {
            "Bias" => set_once(
                &mut bias,
                el,
                child,
                int_text(child, -1440, 1440, "minutes between -1440 and 1440")?,
            )?,
            "Time" => set_once(&mut time, el, child, time_text(child)?)?,
            "DayOrder" => set_once(
                &mut order,
                el,
                child,
                int_text(
                    child,
                    0,
                    5,
                    "1 to 4 (that occurrence of the day in the month) or 5 (the last one)",
                )?,
            )?,
            "Month" => set_once(
                &mut month,
                el,
                child,
                int_text(child, 0, 12, "a month, 1 to 12 (0: no change)")?,
            )?,
            "DayOfWeek" => set_once(
                &mut weekday,
                el,
                child,
                weekday_of(child.text_trimmed()).ok_or_else(|| {
                    invalid(
                        child,
                        dn(child),
                        &child.text,
                        "one of: Sunday, Monday, Tuesday, Wednesday, Thursday, Friday, Saturday",
                    )
                })?,
            )?,
            "Year" => return Err(unsupported(child)),
            _ => return Err(unexpected(el, child)),
        }
    }
    let bias = bias.ok_or_else(|| missing(el, "Bias"))?;
    let time = time.ok_or_else(|| missing(el, "Time"))?;
    let order = order.ok_or_else(|| missing(el, "DayOrder"))?;
    let month = month.ok_or_else(|| missing(el, "Month"))?;
    let weekday = weekday.ok_or_else(|| missing(el, "DayOfWeek"))?;
    let transition = yearly_rule(i64::from(month), i64::from(order), time, weekday).ok_or_else(|| {
        invalid(
            el,
            format!("{}/t:DayOrder", dn(el)),
            &order.to_string(),
            "1 to 4 (that occurrence of the day in the month) or 5 (the last one) when Month names a month",
        )
    })?;
    Ok(ZoneTime { bias, transition })
}

/// A yearly change from its numbers: `Some(None)` for month 0 (no change), `Some(rule)` for a
/// month 1–12 with a day order 1–5, `None` for anything else.
pub(crate) fn yearly_rule(
    month: i64,
    day_order: i64,
    time: Time,
    weekday: Weekday,
) -> Option<Option<Transition>> {
    if month == 0 {
        return Some(None);
    }
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| Month::try_from(m).ok())?;
    let day_order = u8::try_from(day_order)
        .ok()
        .filter(|o| (1..=5).contains(o))?;
    Some(Some(Transition {
        time,
        day_order,
        month,
        weekday,
    }))
}

/// `t:TimeZone` (`t:SerializableTimeZone`): `Bias`, `StandardTime`, `DaylightTime`, all
/// required.
pub(crate) fn parse_serializable_time_zone(el: &Element) -> Result<SerializableTimeZone> {
    for child in &el.children {
        if &*child.ns != TYPES
            || !matches!(
                child.local.as_str(),
                "Bias" | "StandardTime" | "DaylightTime"
            )
        {
            return Err(unexpected(el, child));
        }
    }
    let bias = int_text(
        req_child(el, TYPES, "Bias")?,
        -1440,
        1440,
        "minutes between -1440 and 1440: added to local time to get UTC (480 for UTC-08:00, -60 for UTC+01:00)",
    )?;
    let standard = parse_zone_time(req_child(el, TYPES, "StandardTime")?)?;
    let daylight = parse_zone_time(req_child(el, TYPES, "DaylightTime")?)?;
    let tz = SerializableTimeZone {
        bias,
        standard,
        daylight,
    };
    tz.check(el)?;
    Ok(tz)
}

fn write_zone_time(w: &mut XmlOut, name: &str, z: &ZoneTime) {
    w.start(name, &[]);
    w.leaf("t:Bias", &z.bias.to_string());
    match &z.transition {
        Some(t) => {
            w.leaf("t:Time", &format_time(t.time));
            w.leaf("t:DayOrder", &t.day_order.to_string());
            w.leaf("t:Month", &u8::from(t.month).to_string());
            w.leaf("t:DayOfWeek", weekday_name(t.weekday));
        }
        None => {
            w.leaf("t:Time", "00:00:00");
            w.leaf("t:DayOrder", "0");
            w.leaf("t:Month", "0");
            w.leaf("t:DayOfWeek", "Sunday");
        }
    }
    w.end(name);
}

/// Writes `t:TimeZone` with its three children.
pub(crate) fn write_serializable_time_zone(w: &mut XmlOut, tz: &SerializableTimeZone) {
    w.start("t:TimeZone", &[]);
    w.leaf("t:Bias", &tz.bias.to_string());
    write_zone_time(w, "t:StandardTime", &tz.standard);
    write_zone_time(w, "t:DaylightTime", &tz.daylight);
    w.end("t:TimeZone");
}

/// Reads a `t:TimeZone` of an answer (a client's side: `t:WorkingHours`).
pub fn serializable_time_zone_of(el: &Element) -> Result<SerializableTimeZone> {
    parse_serializable_time_zone(el)
}

fn format_time(t: Time) -> String {
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// A wall-clock time as EWS writes times in a zone the request named: `YYYY-MM-DDTHH:MM:SS`,
/// no offset (what the EWS Managed API reads as "unbiased, scoped to the service's time zone"
/// and exchangelib as a naive time in the time zone it asked in).
pub fn format_local(t: PrimitiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Reads [`format_local`]'s form (a fraction of a second is allowed and dropped; no offset).
pub fn parse_local(s: &str) -> Option<PrimitiveDateTime> {
    let s = s.trim_matches(crate::xml::is_xml_whitespace);
    if s.ends_with('Z')
        || s.rsplit_once('T')
            .is_some_and(|(_, t)| t.contains(['+', '-']))
    {
        return None;
    }
    let t = crate::types::parse_xs_datetime(s)?;
    Some(PrimitiveDateTime::new(
        t.date(),
        t.time().replace_nanosecond(0).ok()?,
    ))
}

// ======================================================================
// The Windows time zones this server defines (GetServerTimeZones)
// ======================================================================

/// A Windows time zone: its id (`Pacific Standard Time`), display name and current rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowsZone {
    pub id: &'static str,
    pub name: &'static str,
    pub tz: SerializableTimeZone,
}

const fn rule(h: u8, day_order: u8, month: Month) -> Transition {
    Transition {
        time: match Time::from_hms(h, 0, 0) {
            Ok(t) => t,
            Err(_) => Time::MIDNIGHT,
        },
        day_order,
        month,
        weekday: Weekday::Sunday,
    }
}

/// A zone with daylight time one hour ahead, changing on Sundays.
const fn dst(bias: i32, to_daylight: Transition, to_standard: Transition) -> SerializableTimeZone {
    SerializableTimeZone {
        bias,
        standard: ZoneTime {
            bias: 0,
            transition: Some(to_standard),
        },
        daylight: ZoneTime {
            bias: -60,
            transition: Some(to_daylight),
        },
    }
}

const fn zone(id: &'static str, name: &'static str, tz: SerializableTimeZone) -> WindowsZone {
    WindowsZone { id, name, tz }
}

// The rules in force today (Windows' registry data; the year-by-year history is not kept).
const US: (Transition, Transition) = (rule(2, 2, Month::March), rule(2, 1, Month::November));
const EU_UTC0: (Transition, Transition) = (rule(1, 5, Month::March), rule(2, 5, Month::October));
const EU_UTC1: (Transition, Transition) = (rule(2, 5, Month::March), rule(3, 5, Month::October));
const EU_UTC2: (Transition, Transition) = (rule(3, 5, Month::March), rule(4, 5, Month::October));

/// The time zones GetServerTimeZones answers (the common ones; the ids are Windows', which
/// exchangelib derives from the IANA zone of the times it sends).
pub const WINDOWS_ZONES: &[WindowsZone] = &[
    zone(
        "Hawaiian Standard Time",
        "(UTC-10:00) Hawaii",
        SerializableTimeZone::fixed(600),
    ),
    zone(
        "Alaskan Standard Time",
        "(UTC-09:00) Alaska",
        dst(540, US.0, US.1),
    ),
    zone(
        "Pacific Standard Time",
        "(UTC-08:00) Pacific Time (US & Canada)",
        dst(480, US.0, US.1),
    ),
    zone(
        "US Mountain Standard Time",
        "(UTC-07:00) Arizona",
        SerializableTimeZone::fixed(420),
    ),
    zone(
        "Mountain Standard Time",
        "(UTC-07:00) Mountain Time (US & Canada)",
        dst(420, US.0, US.1),
    ),
    zone(
        "Central Standard Time",
        "(UTC-06:00) Central Time (US & Canada)",
        dst(360, US.0, US.1),
    ),
    zone(
        "Eastern Standard Time",
        "(UTC-05:00) Eastern Time (US & Canada)",
        dst(300, US.0, US.1),
    ),
    zone(
        "E. South America Standard Time",
        "(UTC-03:00) Brasilia",
        SerializableTimeZone::fixed(180),
    ),
    zone(
        "Argentina Standard Time",
        "(UTC-03:00) City of Buenos Aires",
        SerializableTimeZone::fixed(180),
    ),
    zone(
        "UTC",
        "(UTC) Coordinated Universal Time",
        SerializableTimeZone::UTC,
    ),
    zone(
        "GMT Standard Time",
        "(UTC+00:00) Dublin, Edinburgh, Lisbon, London",
        dst(0, EU_UTC0.0, EU_UTC0.1),
    ),
    zone(
        "W. Europe Standard Time",
        "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
        dst(-60, EU_UTC1.0, EU_UTC1.1),
    ),
    zone(
        "Central Europe Standard Time",
        "(UTC+01:00) Belgrade, Bratislava, Budapest, Ljubljana, Prague",
        dst(-60, EU_UTC1.0, EU_UTC1.1),
    ),
    zone(
        "Romance Standard Time",
        "(UTC+01:00) Brussels, Copenhagen, Madrid, Paris",
        dst(-60, EU_UTC1.0, EU_UTC1.1),
    ),
    zone(
        "Central European Standard Time",
        "(UTC+01:00) Sarajevo, Skopje, Warsaw, Zagreb",
        dst(-60, EU_UTC1.0, EU_UTC1.1),
    ),
    zone(
        "GTB Standard Time",
        "(UTC+02:00) Athens, Bucharest",
        dst(-120, EU_UTC2.0, EU_UTC2.1),
    ),
    zone(
        "FLE Standard Time",
        "(UTC+02:00) Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius",
        dst(-120, EU_UTC2.0, EU_UTC2.1),
    ),
    zone(
        "South Africa Standard Time",
        "(UTC+02:00) Harare, Pretoria",
        SerializableTimeZone::fixed(-120),
    ),
    zone(
        "Russian Standard Time",
        "(UTC+03:00) Moscow, St. Petersburg",
        SerializableTimeZone::fixed(-180),
    ),
    zone(
        "Arabian Standard Time",
        "(UTC+04:00) Abu Dhabi, Muscat",
        SerializableTimeZone::fixed(-240),
    ),
    zone(
        "India Standard Time",
        "(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi",
        SerializableTimeZone::fixed(-330),
    ),
    zone(
        "China Standard Time",
        "(UTC+08:00) Beijing, Chongqing, Hong Kong, Urumqi",
        SerializableTimeZone::fixed(-480),
    ),
    zone(
        "Singapore Standard Time",
        "(UTC+08:00) Kuala Lumpur, Singapore",
        SerializableTimeZone::fixed(-480),
    ),
    zone(
        "Tokyo Standard Time",
        "(UTC+09:00) Osaka, Sapporo, Tokyo",
        SerializableTimeZone::fixed(-540),
    ),
    zone(
        "Korea Standard Time",
        "(UTC+09:00) Seoul",
        SerializableTimeZone::fixed(-540),
    ),
    zone(
        "AUS Eastern Standard Time",
        "(UTC+10:00) Canberra, Melbourne, Sydney",
        dst(-600, rule(2, 1, Month::October), rule(3, 1, Month::April)),
    ),
    zone(
        "New Zealand Standard Time",
        "(UTC+12:00) Auckland, Wellington",
        dst(-720, rule(2, 5, Month::September), rule(3, 1, Month::April)),
    ),
];

/// The zone of this id, exactly as Windows spells it.
pub fn windows_zone(id: &str) -> Option<&'static WindowsZone> {
    WINDOWS_ZONES.iter().find(|z| z.id == id)
}

/// An `xs:duration` of whole minutes as Exchange writes period biases and transition times:
/// `PT5H`, `-PT1H`, `PT5H30M`, `PT0H`.
fn duration_minutes(minutes: i32) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let m = minutes.unsigned_abs();
    match (m / 60, m % 60) {
        (h, 0) => format!("{sign}PT{h}H"),
        (0, r) => format!("{sign}PT{r}M"),
        (h, r) => format!("{sign}PT{h}H{r}M"),
    }
}

fn write_recurring_day(w: &mut XmlOut, to: &str, t: &Transition) {
    w.start("t:RecurringDayTransition", &[]);
    w.text_element("t:To", &[("Kind", "Period")], to);
    let minutes = i32::from(t.time.hour()) * 60 + i32::from(t.time.minute());
    w.leaf("t:TimeOffset", &duration_minutes(minutes));
    w.leaf("t:Month", &u8::from(t.month).to_string());
    w.leaf("t:DayOfWeek", weekday_name(t.weekday));
    // the last occurrence is -1 in a definition (5 in a t:SerializableTimeZone)
    let occurrence = if t.day_order >= 5 {
        "-1".to_owned()
    } else {
        t.day_order.to_string()
    };
    w.leaf("t:Occurrence", &occurrence);
    w.end("t:RecurringDayTransition");
}

/// Writes `t:TimeZoneDefinition` (`Id`, `Name`; with `full`, one standard and one daylight
/// `t:Period`, one `t:TransitionsGroup` of the current rules, and one `t:Transition` to it).
pub(crate) fn write_definition(w: &mut XmlOut, z: &WindowsZone, full: bool) {
    let attrs = [("Id", z.id), ("Name", z.name)];
    if !full {
        w.empty("t:TimeZoneDefinition", &attrs);
        return;
    }
    w.start("t:TimeZoneDefinition", &attrs);
    let standard = format!("trule:Microsoft/Registry/{}/Standard", z.id);
    let daylight = format!("trule:Microsoft/Registry/{}/Daylight", z.id);
    let rules = z.tz.daylight_rules();
    w.start("t:Periods", &[]);
    let std_bias = duration_minutes(z.tz.bias + z.tz.standard.bias);
    w.empty(
        "t:Period",
        &[("Bias", &std_bias), ("Name", "Standard"), ("Id", &standard)],
    );
    if rules.is_some() {
        let dlt_bias = duration_minutes(z.tz.bias + z.tz.daylight.bias);
        w.empty(
            "t:Period",
            &[("Bias", &dlt_bias), ("Name", "Daylight"), ("Id", &daylight)],
        );
    }
    w.end("t:Periods");
    w.start("t:TransitionsGroups", &[]);
    w.start("t:TransitionsGroup", &[("Id", "0")]);
    match rules {
        Some((to_daylight, to_standard)) => {
            write_recurring_day(w, &daylight, &to_daylight);
            write_recurring_day(w, &standard, &to_standard);
        }
        None => {
            w.start("t:Transition", &[]);
            w.text_element("t:To", &[("Kind", "Period")], &standard);
            w.end("t:Transition");
        }
    }
    w.end("t:TransitionsGroup");
    w.end("t:TransitionsGroups");
    w.start("t:Transitions", &[]);
    w.start("t:Transition", &[]);
    w.text_element("t:To", &[("Kind", "Group")], "0");
    w.end("t:Transition");
    w.end("t:Transitions");
    w.end("t:TimeZoneDefinition");
}

/// The `t:TimeZone` of a `t:TimeZoneDefinition` answer's current rules, as exchangelib builds
/// it from one (a client's side; for tests): the first transitions group's recurring rules.
pub fn time_zone_of_definition(el: &Element) -> Result<SerializableTimeZone> {
    let periods = req_child(el, TYPES, "Periods")?;
    let bias_of = |p: &Element| -> Result<i32> {
        let b = p
            .attr("Bias")
            .ok_or_else(|| EwsProtoError::MissingAttribute {
                element: dn(p),
                name: "Bias",
                position: p.position(),
            })?;
        parse_duration_minutes(b).ok_or_else(|| invalid(p, dn(p), b, "an xs:duration like PT5H"))
    };
    let mut standard = None;
    let mut daylight = None;
    for p in periods.children.iter().filter(|c| c.is(TYPES, "Period")) {
        match p.attr("Name") {
            Some("Standard") => standard = Some((p.attr("Id").unwrap_or_default(), bias_of(p)?)),
            Some("Daylight") => daylight = Some((p.attr("Id").unwrap_or_default(), bias_of(p)?)),
            _ => {}
        }
    }
    let (std_id, std_bias) = standard.ok_or_else(|| missing(periods, "Period"))?;
    let groups = req_child(el, TYPES, "TransitionsGroups")?;
    let group = req_child(groups, TYPES, "TransitionsGroup")?;
    let mut tz = SerializableTimeZone::fixed(std_bias);
    for t in group
        .children
        .iter()
        .filter(|c| c.is(TYPES, "RecurringDayTransition"))
    {
        let to = req_child(t, TYPES, "To")?.text_trimmed();
        let text =
            |name: &'static str| -> Result<&str> { Ok(req_child(t, TYPES, name)?.text_trimmed()) };
        let minutes = parse_duration_minutes(text("TimeOffset")?)
            .ok_or_else(|| invalid(t, dn(t), "TimeOffset", "an xs:duration like PT2H"))?;
        let month = text("Month")?
            .parse::<u8>()
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or_else(|| invalid(t, dn(t), "Month", "1 to 12"))?;
        let weekday = weekday_of(text("DayOfWeek")?)
            .ok_or_else(|| invalid(t, dn(t), "DayOfWeek", "a day name"))?;
        let day_order = match text("Occurrence")?.parse::<i8>() {
            Ok(-1) => 5,
            Ok(n @ 1..=5) => n.unsigned_abs(),
            _ => {
                return Err(invalid(
                    t,
                    dn(t),
                    "Occurrence",
                    "1 to 4, or -1 for the last",
                ));
            }
        };
        let hour = u8::try_from(minutes / 60).ok().filter(|h| *h < 24);
        let minute = u8::try_from(minutes % 60).ok();
        let time = match (hour, minute) {
            (Some(h), Some(m)) => Time::from_hms(h, m, 0)
                .map_err(|_| invalid(t, dn(t), "TimeOffset", "within a day"))?,
            _ => return Err(invalid(t, dn(t), "TimeOffset", "within a day")),
        };
        let rule = Some(Transition {
            time,
            day_order,
            month,
            weekday,
        });
        if to == std_id {
            tz.standard.transition = rule;
        } else if let Some((id, bias)) = daylight
            && to == id
        {
            tz.daylight = ZoneTime {
                bias: bias - std_bias,
                transition: rule,
            };
        }
    }
    Ok(tz)
}

/// Reads [`duration_minutes`]' form (hours and minutes only).
fn parse_duration_minutes(s: &str) -> Option<i32> {
    let (sign, rest) = match s.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, s),
    };
    let rest = rest.strip_prefix("PT")?;
    let (h, rest) = match rest.split_once('H') {
        Some((h, r)) => (h.parse::<i32>().ok()?, r),
        None => (0, rest),
    };
    let m = match rest.strip_suffix('M') {
        Some(m) => m.parse::<i32>().ok()?,
        None if rest.is_empty() => 0,
        None => return None,
    };
    Some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn pacific() -> SerializableTimeZone {
        windows_zone("Pacific Standard Time").unwrap().tz
    }

    fn sydney() -> SerializableTimeZone {
        windows_zone("AUS Eastern Standard Time").unwrap().tz
    }

    #[test]
    fn rules_name_the_right_sundays() {
        // second Sunday of March 2026 is the 8th; first Sunday of November the 1st
        let (to_daylight, to_standard) = pacific().daylight_rules().unwrap();
        assert_eq!(
            day_of(&to_daylight, 2026).unwrap(),
            time::macros::date!(2026 - 03 - 08)
        );
        assert_eq!(
            day_of(&to_standard, 2026).unwrap(),
            time::macros::date!(2026 - 11 - 01)
        );
        // the last Sunday of October 2026 is the 25th, of March the 29th
        let (to_summer, to_winter) = windows_zone("W. Europe Standard Time")
            .unwrap()
            .tz
            .daylight_rules()
            .unwrap();
        assert_eq!(
            day_of(&to_summer, 2026).unwrap(),
            time::macros::date!(2026 - 03 - 29)
        );
        assert_eq!(
            day_of(&to_winter, 2026).unwrap(),
            time::macros::date!(2026 - 10 - 25)
        );
        // a month whose last Sunday is the 31st (May 2026) and one with five Sundays from the 1st
        let last = Transition {
            time: Time::MIDNIGHT,
            day_order: 5,
            month: Month::May,
            weekday: Weekday::Sunday,
        };
        assert_eq!(
            day_of(&last, 2026).unwrap(),
            time::macros::date!(2026 - 05 - 31)
        );
        let fourth_sunday_of_feb = Transition {
            day_order: 4,
            month: Month::February,
            ..last
        };
        assert_eq!(
            day_of(&fourth_sunday_of_feb, 2026).unwrap(),
            time::macros::date!(2026 - 02 - 22)
        );
    }

    #[test]
    fn offsets_follow_daylight_time_in_both_hemispheres() {
        let la = pacific();
        assert_eq!(
            la.offset_at(datetime!(2026-01-15 12:00 UTC)).whole_hours(),
            -8
        );
        assert_eq!(
            la.offset_at(datetime!(2026-07-15 12:00 UTC)).whole_hours(),
            -7
        );
        // 2026-03-08 02:00 PST is 10:00 UTC: a second before, standard time
        assert_eq!(
            la.offset_at(datetime!(2026-03-08 09:59:59 UTC))
                .whole_hours(),
            -8
        );
        assert_eq!(
            la.offset_at(datetime!(2026-03-08 10:00 UTC)).whole_hours(),
            -7
        );
        // 2026-11-01 02:00 PDT is 09:00 UTC
        assert_eq!(
            la.offset_at(datetime!(2026-11-01 08:59:59 UTC))
                .whole_hours(),
            -7
        );
        assert_eq!(
            la.offset_at(datetime!(2026-11-01 09:00 UTC)).whole_hours(),
            -8
        );
        let syd = sydney();
        assert_eq!(
            syd.offset_at(datetime!(2026-01-15 00:00 UTC)).whole_hours(),
            11
        );
        assert_eq!(
            syd.offset_at(datetime!(2026-07-15 00:00 UTC)).whole_hours(),
            10
        );
        // 2026-04-05 03:00 AEDT is 2026-04-04 16:00 UTC; 2026-10-04 02:00 AEST is 10-03 16:00
        assert_eq!(
            syd.offset_at(datetime!(2026-04-04 15:59 UTC)).whole_hours(),
            11
        );
        assert_eq!(
            syd.offset_at(datetime!(2026-04-04 16:00 UTC)).whole_hours(),
            10
        );
        assert_eq!(
            syd.offset_at(datetime!(2026-10-03 15:59 UTC)).whole_hours(),
            10
        );
        assert_eq!(
            syd.offset_at(datetime!(2026-10-03 16:00 UTC)).whole_hours(),
            11
        );
        let india = windows_zone("India Standard Time").unwrap().tz;
        assert_eq!(
            india
                .offset_at(datetime!(2026-07-15 00:00 UTC))
                .whole_minutes(),
            330
        );
        assert_eq!(
            SerializableTimeZone::UTC.offset_at(datetime!(2026-07-15 0:00 UTC)),
            UtcOffset::UTC
        );
    }

    #[test]
    fn wall_clock_round_trips_and_resolves_gaps_and_repeats() {
        let la = pacific();
        let t = datetime!(2026-07-15 16:30 UTC);
        assert_eq!(la.to_local(t), time::macros::datetime!(2026-07-15 09:30));
        assert_eq!(la.from_local(la.to_local(t)), t);
        // every quarter hour around both changes of 2026 round-trips, but the first pass of the
        // repeated hour, whose wall clock is read as the second
        let round_trips = |tz: &SerializableTimeZone, t: OffsetDateTime| {
            let back = tz.from_local(tz.to_local(t));
            if back != t {
                assert!(tz.is_daylight_at(t), "{t}");
                assert_eq!(back, t + time::Duration::HOUR, "{t}");
            }
            back == t
        };
        let mut repeated = 0;
        for start in [
            datetime!(2026-03-08 06:00 UTC),
            datetime!(2026-11-01 06:00 UTC),
        ] {
            for q in 0..24 {
                repeated += usize::from(!round_trips(&la, start + time::Duration::minutes(15 * q)));
            }
        }
        assert_eq!(repeated, 4, "one hour in quarters");
        // the skipped hour: 02:30 on 2026-03-08 is read in standard time, 10:30 UTC (03:30 PDT)
        assert_eq!(
            la.from_local(time::macros::datetime!(2026-03-08 02:30)),
            datetime!(2026-03-08 10:30 UTC)
        );
        // the repeated hour: 01:30 on 2026-11-01 is taken in standard time, the later one
        assert_eq!(
            la.from_local(time::macros::datetime!(2026-11-01 01:30)),
            datetime!(2026-11-01 09:30 UTC)
        );
        let syd = sydney();
        let mut repeated = 0;
        for start in [
            datetime!(2026-04-04 12:00 UTC),
            datetime!(2026-10-03 12:00 UTC),
        ] {
            for q in 0..32 {
                repeated +=
                    usize::from(!round_trips(&syd, start + time::Duration::minutes(15 * q)));
            }
        }
        assert_eq!(repeated, 4, "one hour in quarters");
    }

    fn parse(xml: &str) -> Result<SerializableTimeZone> {
        let doc = format!(r#"<t:TimeZone xmlns:t="{TYPES}">{xml}</t:TimeZone>"#);
        let el = crate::xml::parse(doc.as_bytes(), &crate::xml::Limits::default()).unwrap();
        parse_serializable_time_zone(&el)
    }

    const PACIFIC_XML: &str = "<t:Bias>480</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>11</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>2</t:DayOrder><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime>";

    #[test]
    fn parses_what_clients_send_and_writes_it_back() {
        assert_eq!(parse(PACIFIC_XML).unwrap(), pacific());
        // exchangelib's UTC: dummy rules with no bias in either period
        let utc = parse("<t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>1</t:Month><t:DayOfWeek>Monday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>12</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime>").unwrap();
        assert!(utc.daylight_rules().is_none());
        assert_eq!(
            utc.offset_at(datetime!(2026-07-15 0:00 UTC)),
            UtcOffset::UTC
        );
        // Month 0: no change
        let fixed = parse("<t:Bias>-330</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>0</t:DayOrder><t:Month>0</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>-60</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>0</t:DayOrder><t:Month>0</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime>").unwrap();
        assert!(fixed.daylight_rules().is_none());
        assert_eq!(
            fixed
                .offset_at(datetime!(2026-07-15 0:00 UTC))
                .whole_minutes(),
            330
        );
        // written as read
        let mut w = XmlOut::new();
        write_serializable_time_zone(&mut w, &pacific());
        let out = String::from_utf8(w.finish()).unwrap();
        let el = crate::xml::parse(
            out.replace(
                "<t:TimeZone>",
                &format!(r#"<t:TimeZone xmlns:t="{TYPES}">"#),
            )
            .as_bytes(),
            &crate::xml::Limits::default(),
        )
        .unwrap();
        assert_eq!(parse_serializable_time_zone(&el).unwrap(), pacific());
    }

    #[test]
    fn bad_zones_are_refused_with_what_to_send() {
        let std = "<t:StandardTime><t:Bias>0</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>11</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime>";
        let dlt = "<t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>2</t:DayOrder><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime>";
        for (xml, says) in [
            (format!("{std}{dlt}"), "Bias"),
            (format!("<t:Bias>900</t:Bias>{std}{dlt}"), "840 minutes"),
            (format!("<t:Bias>x</t:Bias>{std}{dlt}"), "-1440"),
            (format!("<t:Bias>0</t:Bias>{dlt}"), "StandardTime"),
            (
                format!("<t:Bias>0</t:Bias>{}{dlt}", std.replace("Sunday", "Sun")),
                "Saturday",
            ),
            (
                format!(
                    "<t:Bias>0</t:Bias>{}{dlt}",
                    std.replace("02:00:00", "25:00:00")
                ),
                "HH:MM:SS",
            ),
            (
                format!(
                    "<t:Bias>0</t:Bias>{}{dlt}",
                    std.replace(">1</t:DayOrder", ">0</t:DayOrder")
                ),
                "when Month names a month",
            ),
            (
                format!(
                    "<t:Bias>0</t:Bias>{}{dlt}",
                    std.replace(">11</t:Month", ">13</t:Month")
                ),
                "1 to 12",
            ),
            (
                format!(
                    "<t:Bias>0</t:Bias>{}{dlt}",
                    std.replace(
                        "</t:StandardTime>",
                        "<t:Year>2026</t:Year></t:StandardTime>"
                    )
                ),
                "not supported",
            ),
            (
                format!("<t:Bias>0</t:Bias>{std}{dlt}<t:Other/>"),
                "unexpected",
            ),
        ] {
            let e = parse(&xml).unwrap_err().to_string();
            assert!(e.contains(says), "{xml}: {e}");
        }
    }

    #[test]
    fn definitions_carry_the_rules_exchangelib_reads() {
        for z in WINDOWS_ZONES {
            let mut w = XmlOut::new();
            write_definition(&mut w, z, true);
            let out = String::from_utf8(w.finish()).unwrap();
            let out = out.replacen(
                "<t:TimeZoneDefinition ",
                &format!(r#"<t:TimeZoneDefinition xmlns:t="{TYPES}" "#),
                1,
            );
            let el = crate::xml::parse(out.as_bytes(), &crate::xml::Limits::default()).unwrap();
            assert_eq!(time_zone_of_definition(&el).unwrap(), z.tz, "{}", z.id);
        }
        assert_eq!(duration_minutes(-330), "-PT5H30M");
        assert_eq!(duration_minutes(0), "PT0H");
        assert_eq!(duration_minutes(45), "PT45M");
        assert_eq!(parse_duration_minutes("-PT5H30M"), Some(-330));
    }

    #[test]
    fn local_times_are_written_and_read_without_offset() {
        let t = time::macros::datetime!(2026-03-08 02:30:05);
        assert_eq!(format_local(t), "2026-03-08T02:30:05");
        assert_eq!(parse_local("2026-03-08T02:30:05"), Some(t));
        assert_eq!(parse_local("2026-03-08T02:30:05.250"), Some(t));
        assert_eq!(parse_local("2026-03-08T02:30:05Z"), None);
        assert_eq!(parse_local("2026-03-08T02:30:05-08:00"), None);
    }
}
