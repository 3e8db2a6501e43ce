//! A mailbox's working hours as it keeps them (MS-OXOCFG §2.2.5.2.1): the XML stream of the
//! `WorkHours` user configuration (an `IPM.Configuration.WorkHours` FAI item) in its Calendar
//! folder, which Outlook and OWA write and Exchange's availability service reads into the
//! `t:WorkingHours` of a free/busy answer.
//!
//! ```xml
//! <Root xmlns="WorkingHours.xsd"><WorkHoursVersion1>
//!   <TimeZone><Bias>480</Bias>
//!     <Standard><Bias>0</Bias><ChangeDate><Time>02:00:00</Time><Date>0000/11/01</Date><DayOfWeek>0</DayOfWeek></ChangeDate></Standard>
//!     <DaylightSavings><Bias>-60</Bias><ChangeDate><Time>02:00:00</Time><Date>0000/03/02</Date><DayOfWeek>0</DayOfWeek></ChangeDate></DaylightSavings>
//!     <Name>Pacific Standard Time</Name></TimeZone>
//!   <TimeSlot><Start>08:00:00</Start><End>17:00:00</End></TimeSlot>
//!   <WorkDays>Monday Tuesday Wednesday Thursday Friday</WorkDays>
//! </WorkHoursVersion1></Root>
//! ```
//!
//! A change date `0000/MM/DD` is a yearly rule: the `DD`th (5: the last) `DayOfWeek` (0 Sunday
//! … 6 Saturday) of month `MM`; month 0 is no change. Elements this reader does not know are
//! skipped, as Exchange's XML serializer skips them; what it knows must be well-formed, or the
//! stream is refused with the element and the value at fault.

use time::{OffsetDateTime, PrimitiveDateTime, Time, Weekday};

use crate::error::{EwsProtoError, dn, missing};
use crate::request::{invalid, set_once, unexpected};
use crate::timezone::{MAX_OFFSET_MINUTES, SerializableTimeZone, ZoneTime, int_text};
use crate::writer::XmlOut;
use crate::xml::{Element, Limits};

type Result<T> = std::result::Result<T, EwsProtoError>;

/// The namespace of the stream (MS-OXOCFG's schema's target namespace).
pub const NS: &str = "WorkingHours.xsd";

/// The user configuration that holds the stream, in the Calendar folder.
pub const CONFIG_NAME: &str = "WorkHours";

/// Largest stream read (a real one is under 1 KB).
pub const MAX_STREAM_BYTES: usize = 16 * 1024;

/// The days of the week in Exchange's order (`DaysOfWeek`: Sunday first).
pub const WEEK: [Weekday; 7] = [
    Weekday::Sunday,
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
];

/// Monday to Friday.
pub const WEEKDAYS: [Weekday; 5] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
];

/// One mailbox's working hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkHours {
    pub time_zone: SerializableTimeZone,
    /// The Windows time zone id the stream names (`Pacific Standard Time`), if any.
    pub zone_name: Option<String>,
    /// Minutes after midnight, in `time_zone`; `start_minutes < end_minutes <= 1440`.
    pub start_minutes: u16,
    pub end_minutes: u16,
    /// Working days, each once, Sunday first.
    pub days: Vec<Weekday>,
}

impl WorkHours {
    /// The working period as `t:WorkingHours` shows it.
    pub fn working_hours(&self) -> crate::availability::WorkingHours {
        crate::availability::WorkingHours {
            time_zone: self.time_zone,
            periods: if self.days.is_empty() {
                vec![]
            } else {
                vec![crate::availability::WorkingPeriod {
                    days: self.days.clone(),
                    start_minutes: self.start_minutes,
                    end_minutes: self.end_minutes,
                }]
            },
        }
    }

    /// Is `t` inside the working hours (a working day, from the start to before the end, on the
    /// zone's wall clock)?
    pub fn is_working_at(&self, t: OffsetDateTime) -> bool {
        let local = self.time_zone.to_local(t);
        let minutes = u16::from(local.hour()) * 60 + u16::from(local.minute());
        self.days.contains(&local.weekday())
            && self.start_minutes <= minutes
            && minutes < self.end_minutes
    }

    /// The first start or end of the working hours after `t` (within the next eight days; `None`
    /// without working days).
    pub fn next_edge_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let today = self.time_zone.to_local(t).date();
        (-1..=8i64)
            .filter_map(|d| today.checked_add(time::Duration::days(d)))
            .filter(|day| self.days.contains(&day.weekday()))
            .flat_map(|day| {
                [self.start_minutes, self.end_minutes].map(|m| {
                    let at = PrimitiveDateTime::new(day, Time::MIDNIGHT)
                        + time::Duration::minutes(i64::from(m));
                    self.time_zone.from_local(at)
                })
            })
            .filter(|edge| *edge > t)
            .min()
    }

    /// Reads a stream, refusing one that is not the schema's (root, required elements, ranges).
    pub fn parse(xml: &[u8]) -> Result<WorkHours> {
        let limits = Limits {
            max_input_bytes: MAX_STREAM_BYTES,
            ..Limits::default()
        };
        let root = crate::xml::parse(xml, &limits)?;
        if !root.is(NS, "Root") {
            return Err(invalid(
                &root,
                "the working hours stream's root element".into(),
                &dn(&root),
                "Root in the namespace WorkingHours.xsd",
            ));
        }
        let v1 = known(&root, "WorkHoursVersion1")?
            .ok_or_else(|| missing(&root, "WorkHoursVersion1"))?;
        let (mut tz, mut slot, mut days) = (None, None, None);
        for child in ours(v1) {
            match child.local.as_str() {
                "TimeZone" => set_once(&mut tz, v1, child, time_zone(child)?)?,
                "TimeSlot" => set_once(&mut slot, v1, child, time_slot(child)?)?,
                "WorkDays" => set_once(&mut days, v1, child, work_days(child)?)?,
                _ => {}
            }
        }
        let (time_zone, zone_name) = tz.ok_or_else(|| missing(v1, "TimeZone"))?;
        let (start_minutes, end_minutes) = slot.ok_or_else(|| missing(v1, "TimeSlot"))?;
        Ok(WorkHours {
            time_zone,
            zone_name,
            start_minutes,
            end_minutes,
            days: days.ok_or_else(|| missing(v1, "WorkDays"))?,
        })
    }

    /// The stream, as Outlook writes it.
    pub fn to_xml(&self) -> Vec<u8> {
        let mut w = XmlOut::new();
        w.declaration();
        w.start("Root", &[("xmlns", NS)]);
        w.start("WorkHoursVersion1", &[]);
        w.start("TimeZone", &[]);
        w.leaf("Bias", &self.time_zone.bias.to_string());
        write_change(&mut w, "Standard", &self.time_zone.standard);
        write_change(&mut w, "DaylightSavings", &self.time_zone.daylight);
        if let Some(name) = &self.zone_name {
            w.leaf("Name", name);
        }
        w.end("TimeZone");
        w.start("TimeSlot", &[]);
        w.leaf("Start", &clock(self.start_minutes));
        // the end of the day is midnight (xs:time has no 24:00)
        w.leaf("End", &clock(self.end_minutes % (24 * 60)));
        w.end("TimeSlot");
        let names: Vec<&str> = self
            .days
            .iter()
            .map(|d| crate::timezone::weekday_name(*d))
            .collect();
        w.leaf("WorkDays", &names.join(" "));
        w.end("WorkHoursVersion1");
        w.end("Root");
        w.finish()
    }
}

/// The children of `el` in the stream's namespace (others are skipped).
fn ours(el: &Element) -> impl Iterator<Item = &Element> {
    el.children.iter().filter(|c| &*c.ns == NS)
}

/// The one child `local` of `el`; two are refused.
fn known<'a>(el: &'a Element, local: &'static str) -> Result<Option<&'a Element>> {
    let mut found = None;
    for child in ours(el).filter(|c| c.local == local) {
        set_once(&mut found, el, child, child)?;
    }
    Ok(found)
}

fn required<'a>(el: &'a Element, local: &'static str) -> Result<&'a Element> {
    known(el, local)?.ok_or_else(|| missing(el, local))
}

fn time_zone(el: &Element) -> Result<(SerializableTimeZone, Option<String>)> {
    for child in ours(el) {
        if !matches!(
            child.local.as_str(),
            "Bias" | "Standard" | "DaylightSavings" | "Name"
        ) {
            return Err(unexpected(el, child));
        }
    }
    let bias = int_text(
        required(el, "Bias")?,
        -MAX_OFFSET_MINUTES,
        MAX_OFFSET_MINUTES,
        "minutes from local standard time to UTC, -840 to 840",
    )?;
    let standard = change(required(el, "Standard")?)?;
    let daylight = change(required(el, "DaylightSavings")?)?;
    let name = known(el, "Name")?
        .map(|n| n.text_trimmed().to_owned())
        .filter(|n| !n.is_empty());
    Ok((
        SerializableTimeZone {
            bias,
            standard,
            daylight,
        },
        name,
    ))
}

/// A `DSTTransition`: the bias of the period and the rule of the change to it.
fn change(el: &Element) -> Result<ZoneTime> {
    let bias = int_text(
        required(el, "Bias")?,
        -MAX_OFFSET_MINUTES,
        MAX_OFFSET_MINUTES,
        "minutes added to the zone's bias in this period, -840 to 840",
    )?;
    let date = required(el, "ChangeDate")?;
    let time = time_of_day(required(date, "Time")?)?;
    let day_el = required(date, "Date")?;
    let weekday_el = required(date, "DayOfWeek")?;
    let weekday = WEEK[int_text(weekday_el, 0, 6, "0 (Sunday) to 6 (Saturday)")? as usize];
    let bad_date = || {
        invalid(
            day_el,
            dn(day_el),
            &day_el.text,
            "0000/MM/DD: a yearly rule, month MM 1-12 (00: no change), DD the week of the month 1-5 (5: the last)",
        )
    };
    let text = day_el.text_trimmed();
    let mut parts = text.split('/');
    let (Some(year), Some(month), Some(order), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_date());
    };
    let num = |s: &str| {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())
            .flatten()
    };
    let (Some(year), Some(month), Some(order)) = (num(year), num(month), num(order)) else {
        return Err(bad_date());
    };
    // a dated (one-year) change is not a rule this server can apply year after year
    if year != 0 {
        return Err(bad_date());
    }
    let transition =
        crate::timezone::yearly_rule(i64::from(month), i64::from(order), time, weekday)
            .ok_or_else(bad_date)?;
    Ok(ZoneTime { bias, transition })
}

/// `HH:MM:SS` (`xs:time`, a fraction of a second dropped, no zone).
fn time_of_day(el: &Element) -> Result<Time> {
    parse_clock(el.text_trimmed())
        .ok_or_else(|| invalid(el, dn(el), &el.text, "a time of day, HH:MM:SS"))
}

/// `HH:MM` or `HH:MM:SS` (a fraction of a second dropped); `24:00:00` is not a time of day.
pub fn parse_clock(s: &str) -> Option<Time> {
    let s = s.split_once('.').map_or(s, |(whole, frac)| {
        if frac.bytes().all(|b| b.is_ascii_digit()) {
            whole
        } else {
            ""
        }
    });
    let mut parts = s.split(':');
    let field = |p: Option<&str>| {
        p.filter(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u8>().ok())
    };
    let (h, m) = (field(parts.next())?, field(parts.next())?);
    let sec = match parts.next() {
        None => 0,
        s => field(s)?,
    };
    if parts.next().is_some() {
        return None;
    }
    Time::from_hms(h, m, sec).ok()
}

/// Minutes after midnight as `HH:MM:SS`.
pub fn clock(minutes: u16) -> String {
    format!("{:02}:{:02}:00", minutes / 60, minutes % 60)
}

fn minutes(t: Time) -> u16 {
    u16::from(t.hour()) * 60 + u16::from(t.minute())
}

fn time_slot(el: &Element) -> Result<(u16, u16)> {
    let start_el = required(el, "Start")?;
    let end_el = required(el, "End")?;
    let start = minutes(time_of_day(start_el)?);
    let end = match minutes(time_of_day(end_el)?) {
        // a day that ends at midnight
        0 => 24 * 60,
        m => m,
    };
    if end <= start {
        return Err(invalid(
            end_el,
            dn(end_el),
            &end_el.text,
            "a time after the Start of the time slot",
        ));
    }
    Ok((start, end))
}

/// Reads day names, `Weekdays`, `WeekendDays`, `AllDays` or `None`, separated by spaces or
/// commas, into the set of days, Sunday first.
pub fn parse_days<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> std::result::Result<Vec<Weekday>, String> {
    let mut set = [false; 7];
    for name in names
        .into_iter()
        .flat_map(|n| n.split([' ', ',', '\t', '\n', '\r']))
        .filter(|n| !n.is_empty())
    {
        let days: &[Weekday] = match name.to_ascii_lowercase().as_str() {
            "none" => &[],
            "weekdays" => &WEEKDAYS,
            "weekenddays" => &[Weekday::Saturday, Weekday::Sunday],
            "alldays" => &WEEK,
            other => match WEEK
                .iter()
                .find(|d| crate::timezone::weekday_name(**d).eq_ignore_ascii_case(other))
            {
                Some(d) => std::slice::from_ref(d),
                None => return Err(name.chars().take(40).collect()),
            },
        };
        for d in days {
            set[d.number_days_from_sunday() as usize] = true;
        }
    }
    Ok(WEEK
        .iter()
        .zip(set)
        .filter(|(_, on)| *on)
        .map(|(d, _)| *d)
        .collect())
}

fn work_days(el: &Element) -> Result<Vec<Weekday>> {
    parse_days([el.text.as_str()]).map_err(|bad| {
        invalid(
            el,
            dn(el),
            &bad,
            "day names (Sunday ... Saturday, or Weekdays, WeekendDays, AllDays) separated by spaces",
        )
    })
}

fn write_change(w: &mut XmlOut, name: &str, zt: &ZoneTime) {
    w.start(name, &[]);
    w.leaf("Bias", &zt.bias.to_string());
    w.start("ChangeDate", &[]);
    match &zt.transition {
        Some(t) => {
            w.leaf(
                "Time",
                &format!(
                    "{:02}:{:02}:{:02}",
                    t.time.hour(),
                    t.time.minute(),
                    t.time.second()
                ),
            );
            w.leaf(
                "Date",
                &format!("0000/{:02}/{:02}", u8::from(t.month), t.day_order),
            );
            w.leaf(
                "DayOfWeek",
                &t.weekday.number_days_from_sunday().to_string(),
            );
        }
        None => {
            w.leaf("Time", "00:00:00");
            w.leaf("Date", "0000/00/00");
            w.leaf("DayOfWeek", "0");
        }
    }
    w.end("ChangeDate");
    w.end(name);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timezone::windows_zone;

    /// As Outlook writes it (the shape of MS-OXOCFG's schema), for US Pacific time.
    const PACIFIC: &str = r#"<?xml version="1.0"?><Root xmlns="WorkingHours.xsd"><WorkHoursVersion1><TimeZone><Bias>480</Bias><Standard><Bias>0</Bias><ChangeDate><Time>02:00:00</Time><Date>0000/11/01</Date><DayOfWeek>0</DayOfWeek></ChangeDate></Standard><DaylightSavings><Bias>-60</Bias><ChangeDate><Time>02:00:00</Time><Date>0000/03/02</Date><DayOfWeek>0</DayOfWeek></ChangeDate></DaylightSavings><Name>Pacific Standard Time</Name></TimeZone><TimeSlot><Start>08:30:00</Start><End>17:30:00</End></TimeSlot><WorkDays>Monday Tuesday Wednesday Thursday Friday</WorkDays></WorkHoursVersion1></Root>"#;

    #[test]
    fn reads_outlooks_stream_into_the_zones_rules() {
        let w = WorkHours::parse(PACIFIC.as_bytes()).unwrap();
        assert_eq!(
            w.time_zone,
            windows_zone("Pacific Standard Time").unwrap().tz
        );
        assert_eq!(w.zone_name.as_deref(), Some("Pacific Standard Time"));
        assert_eq!((w.start_minutes, w.end_minutes), (510, 1050));
        assert_eq!(w.days, WEEKDAYS.to_vec());
        let h = w.working_hours();
        assert_eq!(h.periods.len(), 1);
        assert_eq!(h.periods[0].start_minutes, 510);
    }

    #[test]
    fn writes_what_it_reads() {
        for zone in ["Pacific Standard Time", "W. Europe Standard Time", "UTC"] {
            let Some(z) = windows_zone(zone) else {
                continue;
            };
            let w = WorkHours {
                time_zone: z.tz,
                zone_name: Some(zone.into()),
                start_minutes: 7 * 60,
                end_minutes: 24 * 60,
                days: vec![Weekday::Sunday, Weekday::Wednesday, Weekday::Saturday],
            };
            let xml = w.to_xml();
            assert_eq!(
                WorkHours::parse(&xml).unwrap(),
                w,
                "{}",
                String::from_utf8_lossy(&xml)
            );
        }
        let w = WorkHours::parse(PACIFIC.as_bytes()).unwrap();
        assert_eq!(WorkHours::parse(&w.to_xml()).unwrap(), w);
    }

    #[test]
    fn skips_what_it_does_not_know() {
        let xml = PACIFIC.replace(
            "<WorkDays>",
            r#"<Extra xmlns="urn:other">1</Extra><Future>2</Future><WorkDays>"#,
        );
        assert!(WorkHours::parse(xml.as_bytes()).is_ok());
    }

    #[test]
    fn refuses_malformed_streams_naming_the_element() {
        let cases: &[(&str, &str, &str)] = &[
            ("<Bias>480</Bias>", "<Bias>east</Bias>", "Bias"),
            ("<Bias>480</Bias>", "<Bias>9999</Bias>", "Bias"),
            ("0000/11/01", "2026/11/01", "Date"),
            ("0000/11/01", "0000/11/09", "Date"),
            ("0000/11/01", "0000/13/01", "Date"),
            ("0000/11/01", "11/01", "Date"),
            (
                "<DayOfWeek>0</DayOfWeek>",
                "<DayOfWeek>7</DayOfWeek>",
                "DayOfWeek",
            ),
            ("<Start>08:30:00</Start>", "<Start>8.30</Start>", "Start"),
            ("<End>17:30:00</End>", "<End>08:00:00</End>", "End"),
            ("Monday Tuesday", "Monday Someday", "WorkDays"),
            (
                "<TimeSlot><Start>08:30:00</Start><End>17:30:00</End></TimeSlot>",
                "",
                "TimeSlot",
            ),
            (
                "<Name>Pacific Standard Time</Name>",
                "<Name>a</Name><Name>b</Name>",
                "Name",
            ),
            (
                "Root xmlns=\"WorkingHours.xsd\"",
                "Root xmlns=\"urn:x\"",
                "Root",
            ),
        ];
        for (from, to, named) in cases {
            assert!(PACIFIC.contains(from), "{from}");
            let xml = PACIFIC.replacen(from, to, 1);
            let e = WorkHours::parse(xml.as_bytes()).unwrap_err();
            assert!(e.to_string().contains(named), "{to}: {e}");
        }
        let huge = format!("{PACIFIC}{}", " ".repeat(MAX_STREAM_BYTES));
        assert!(WorkHours::parse(huge.as_bytes()).is_err());
    }

    #[test]
    fn a_zone_without_daylight_time_writes_month_zero() {
        let w = WorkHours {
            time_zone: SerializableTimeZone::UTC,
            zone_name: None,
            start_minutes: 0,
            end_minutes: 60,
            days: vec![],
        };
        let xml = String::from_utf8(w.to_xml()).unwrap();
        assert!(xml.contains("<Date>0000/00/00</Date>"), "{xml}");
        assert_eq!(WorkHours::parse(xml.as_bytes()).unwrap(), w);
        assert!(w.working_hours().periods.is_empty());
    }

    #[test]
    fn day_lists_read_names_and_groups() {
        assert_eq!(parse_days(["Weekdays"]).unwrap(), WEEKDAYS.to_vec());
        assert_eq!(
            parse_days(["saturday, Sunday", "Monday"]).unwrap(),
            vec![Weekday::Sunday, Weekday::Monday, Weekday::Saturday]
        );
        assert_eq!(parse_days(["AllDays"]).unwrap().len(), 7);
        assert_eq!(parse_days(["None"]).unwrap(), vec![]);
        assert_eq!(parse_days(["Funday"]).unwrap_err(), "Funday");
    }

    #[test]
    fn working_at_and_the_next_edge_on_the_zones_clock() {
        use time::macros::datetime;
        // Pacific, 08:30-17:30 Monday to Friday; 2026-03-06 is a Friday, the clocks go forward
        // on Sunday 2026-03-08
        let w = WorkHours::parse(PACIFIC.as_bytes()).unwrap();
        let friday_9am_pst = datetime!(2026-03-06 17:00 UTC);
        assert!(w.is_working_at(friday_9am_pst));
        assert!(
            !w.is_working_at(datetime!(2026-03-06 16:29 UTC)),
            "08:29 PST"
        );
        assert!(
            !w.is_working_at(datetime!(2026-03-07 18:00 UTC)),
            "Saturday"
        );
        // Friday's end, then Monday's start at 08:30 PDT (15:30 UTC, daylight time by then)
        assert_eq!(
            w.next_edge_after(friday_9am_pst),
            Some(datetime!(2026-03-07 01:30 UTC))
        );
        assert_eq!(
            w.next_edge_after(datetime!(2026-03-07 01:30 UTC)),
            Some(datetime!(2026-03-09 15:30 UTC))
        );
        assert!(w.is_working_at(datetime!(2026-03-09 15:30 UTC)));
        let none = WorkHours {
            days: vec![],
            ..w.clone()
        };
        assert_eq!(none.next_edge_after(friday_9am_pst), None);
        assert!(!none.is_working_at(friday_9am_pst));
        // a day that ends at midnight
        let late = WorkHours {
            start_minutes: 22 * 60,
            end_minutes: 24 * 60,
            time_zone: SerializableTimeZone::UTC,
            ..w
        };
        assert!(late.is_working_at(datetime!(2026-03-06 23:59 UTC)));
        assert_eq!(
            late.next_edge_after(datetime!(2026-03-06 23:00 UTC)),
            Some(datetime!(2026-03-07 00:00 UTC))
        );
    }

    #[test]
    fn clocks() {
        assert_eq!(parse_clock("08:30"), Time::from_hms(8, 30, 0).ok());
        assert_eq!(parse_clock("17:00:00.000"), Time::from_hms(17, 0, 0).ok());
        for bad in ["8:30", "24:00:00", "08:60", "08:30:00:00", "", "08:30:00.x"] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
        assert_eq!(clock(510), "08:30:00");
    }
}
