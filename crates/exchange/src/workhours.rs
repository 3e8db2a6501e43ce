//! Working hours: where they live (the `WorkHours` user configuration in a mailbox's Calendar
//! folder, MS-OXOCFG's XML, as Outlook and OWA write it through EWS), the administrator's
//! `Get-/Set-MailboxCalendarConfiguration` (`-WorkDays`, `-WorkingHoursStartTime`,
//! `-WorkingHoursEndTime`, `-WorkingHoursTimeZone`), and what free/busy shows for a mailbox that
//! has none: Monday to Friday, 08:00–17:00, in UTC.
//!
//! A stream a client stored that is not the schema's is not refused at write time (Exchange does
//! not look inside user configurations either); free/busy then shows no working hours for that
//! mailbox and logs why, and `Get-MailboxCalendarConfiguration` says what is wrong and that
//! `Set-MailboxCalendarConfiguration` writes a good one.

use ews_proto::availability::WorkingHours;
use ews_proto::timezone::{SerializableTimeZone, WINDOWS_ZONES, windows_zone};
use ews_proto::workhours::{self, CONFIG_NAME, WEEKDAYS, WorkHours, clock, parse_clock};
use mailbox::{FolderSel, MailboxError, MailboxKey, UserConfig};
use time::Weekday;

use crate::Exchange;
use crate::error::ExchangeError;

/// What a mailbox without working hours of its own shows.
pub(crate) fn default_work_hours() -> WorkHours {
    WorkHours {
        time_zone: SerializableTimeZone::UTC,
        zone_name: Some("UTC".into()),
        start_minutes: 8 * 60,
        end_minutes: 17 * 60,
        days: WEEKDAYS.to_vec(),
    }
}

/// A mailbox's stored working hours: `None` when it has none, `Err` (with the parser's reason)
/// when the stream is not the schema's.
pub(crate) enum Stored {
    None,
    Hours(WorkHours),
    Malformed(String),
}

fn calendar() -> FolderSel {
    FolderSel::distinguished(mailbox::distinguished::CALENDAR)
}

impl Exchange {
    /// The working hours stored in `key`'s Calendar folder.
    pub(crate) async fn stored_work_hours(&self, key: &MailboxKey) -> Result<Stored, MailboxError> {
        match self
            .inner
            .mbx
            .get_user_configuration(key, calendar(), CONFIG_NAME.into())
            .await
        {
            Ok(c) => Ok(match c.config.xml_data {
                None => Stored::Malformed("the WorkHours configuration has no XML data".into()),
                Some(xml) => match WorkHours::parse(&xml) {
                    Ok(h) => Stored::Hours(h),
                    Err(e) => Stored::Malformed(e.to_string()),
                },
            }),
            Err(MailboxError::ItemNotFound) => Ok(Stored::None),
            Err(e) => Err(e),
        }
    }

    /// The `t:WorkingHours` free/busy shows for `key`: its own, the default when it has none,
    /// none when its stream is malformed (logged).
    pub(crate) async fn working_hours(&self, key: &MailboxKey) -> Option<WorkingHours> {
        match self.stored_work_hours(key).await {
            Ok(Stored::Hours(h)) => Some(h.working_hours()),
            Ok(Stored::None) => Some(default_work_hours().working_hours()),
            Ok(Stored::Malformed(why)) => {
                tracing::warn!(
                    mailbox = key.as_str(),
                    %why,
                    "the mailbox's working hours (WorkHours in its Calendar folder) are malformed; free/busy shows none. Set-MailboxCalendarConfiguration writes good ones."
                );
                None
            }
            Err(e) => {
                tracing::warn!(mailbox = key.as_str(), error = %e, "working hours unreadable");
                None
            }
        }
    }

    /// `Get-MailboxCalendarConfiguration` / `Set-MailboxCalendarConfiguration`: the working
    /// hours. Set changes what it is given and keeps the rest (starting from the default when the
    /// mailbox has none, or a malformed stream, which it replaces).
    pub(crate) async fn calendar_configuration(
        &self,
        cmdlet: &str,
        p: &psh::bind::Params,
    ) -> Result<Vec<serde_json::Value>, ExchangeError> {
        let identity = p.req("Identity")?;
        let key = self.mailbox_key(&identity).await?;
        let stored = self.stored_work_hours(&key).await?;
        let exists = !matches!(stored, Stored::None);
        let mut h = match stored {
            Stored::Hours(h) => h,
            Stored::None => default_work_hours(),
            Stored::Malformed(why) if cmdlet == "Get-MailboxCalendarConfiguration" => {
                return Err(ExchangeError::Invalid(format!(
                    "the working hours stored in {identity}'s Calendar folder (the WorkHours configuration) are malformed: {why}. Free/busy shows none for this mailbox; Set-MailboxCalendarConfiguration -Identity {identity} -WorkingHoursStartTime 08:00:00 replaces them."
                )));
            }
            Stored::Malformed(_) => default_work_hours(),
        };
        if cmdlet == "Set-MailboxCalendarConfiguration" {
            apply(&mut h, p)?;
            let config = UserConfig {
                name: CONFIG_NAME.into(),
                dictionary: None,
                xml_data: Some(h.to_xml()),
                binary_data: None,
            };
            let mbx = &self.inner.mbx;
            if exists {
                mbx.update_user_configuration(&key, calendar(), config)
                    .await?;
            } else {
                mbx.create_user_configuration(&key, calendar(), config)
                    .await?;
            }
        }
        Ok(vec![serde_json::json!({
            "Identity": identity,
            "WorkDays": days_shown(&h.days),
            "WorkingHoursStartTime": clock(h.start_minutes),
            "WorkingHoursEndTime": end_shown(h.end_minutes),
            "WorkingHoursTimeZone": h.zone_name.clone().unwrap_or_else(|| "UTC".into()),
        })])
    }
}

/// The changes of `Set-MailboxCalendarConfiguration`, checked together (end after start).
fn apply(h: &mut WorkHours, p: &psh::bind::Params) -> Result<(), ExchangeError> {
    if let Some(days) = p.strings("WorkDays")? {
        h.days = workhours::parse_days(days.iter().map(String::as_str)).map_err(|bad| {
            p.bad(
                "WorkDays",
                format!(
                    "{bad:?} is not a day; give day names (Monday, Tuesday, ...), Weekdays, WeekendDays, AllDays or None"
                ),
            )
        })?;
    }
    let time = |name: &'static str| -> Result<Option<u16>, ExchangeError> {
        match p.str(name)? {
            None => Ok(None),
            Some(v) => match parse_clock(v.trim()) {
                Some(t) => Ok(Some(u16::from(t.hour()) * 60 + u16::from(t.minute()))),
                // a TimeSpan of a whole day is the end of the day
                None if matches!(v.trim(), "1.00:00:00" | "24:00:00")
                    && name.ends_with("EndTime") =>
                {
                    Ok(Some(24 * 60))
                }
                None => Err(p
                    .bad(
                        name,
                        format!("{v:?} is not a time of day; give HH:MM:SS, such as 08:30:00"),
                    )
                    .into()),
            },
        }
    };
    if let Some(start) = time("WorkingHoursStartTime")? {
        h.start_minutes = start;
    }
    if let Some(end) = time("WorkingHoursEndTime")? {
        h.end_minutes = if end == 0 { 24 * 60 } else { end };
    }
    if h.end_minutes <= h.start_minutes {
        return Err(ExchangeError::Invalid(format!(
            "the working hours would end ({}) before they start ({}); give a -WorkingHoursEndTime after -WorkingHoursStartTime",
            end_shown(h.end_minutes),
            clock(h.start_minutes)
        )));
    }
    if let Some(zone) = p.str("WorkingHoursTimeZone")? {
        let z = windows_zone(zone.trim()).ok_or_else(|| {
            let known: Vec<&str> = WINDOWS_ZONES.iter().take(8).map(|z| z.id).collect();
            p.bad(
                "WorkingHoursTimeZone",
                format!(
                    "{:?} is not a time zone this server knows; give a Windows time zone id such as {} (EWS GetServerTimeZones lists all {})",
                    zone.chars().take(80).collect::<String>(),
                    known.join(", "),
                    WINDOWS_ZONES.len()
                ),
            )
        })?;
        h.time_zone = z.tz;
        h.zone_name = Some(z.id.to_owned());
    }
    Ok(())
}

/// `WorkDays` as Exchange shows its `DaysOfWeek` flags.
fn days_shown(days: &[Weekday]) -> String {
    let set = |want: &[Weekday]| want.len() == days.len() && want.iter().all(|d| days.contains(d));
    if days.is_empty() {
        "None".into()
    } else if days.len() == 7 {
        "AllDays".into()
    } else if set(&WEEKDAYS) {
        "Weekdays".into()
    } else if set(&[Weekday::Sunday, Weekday::Saturday]) {
        "WeekendDays".into()
    } else {
        days.iter()
            .map(|d| ews_proto::timezone::weekday_name(*d))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An end time as a TimeSpan shows it (the end of the day is a whole day).
fn end_shown(minutes: u16) -> String {
    if minutes >= 24 * 60 {
        "1.00:00:00".into()
    } else {
        clock(minutes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_show_as_exchange_names_its_flags() {
        assert_eq!(days_shown(&WEEKDAYS), "Weekdays");
        assert_eq!(days_shown(&[]), "None");
        assert_eq!(days_shown(&workhours::WEEK), "AllDays");
        assert_eq!(
            days_shown(&[Weekday::Sunday, Weekday::Saturday]),
            "WeekendDays"
        );
        assert_eq!(
            days_shown(&[Weekday::Monday, Weekday::Thursday]),
            "Monday, Thursday"
        );
    }

    #[test]
    fn the_default_is_office_hours_in_utc() {
        let d = default_work_hours();
        assert_eq!(
            d.working_hours(),
            WorkingHours::office(SerializableTimeZone::UTC)
        );
        assert_eq!(WorkHours::parse(&d.to_xml()).unwrap(), d);
        assert_eq!(end_shown(24 * 60), "1.00:00:00");
    }
}
