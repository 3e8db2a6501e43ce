//! Free/busy reads (EWS GetUserAvailability): the appointments of mailboxes' Calendar folders
//! that overlap a window.
//!
//! One read transaction for the whole call, and one indexed statement per mailbox: the range of
//! `items_folder_start` between the window's start less the folder's longest appointment and the
//! window's end (the longest appointment found in `items_folder_span`, migration 8, by one index
//! seek), so an appointment that began long before the window and still runs is found without
//! scanning the folder's history, and the rows come whole from that one statement (no statement
//! per item). Bounded: at most [`MAX_FREE_BUSY_MAILBOXES`] mailboxes, [`MAX_FREE_BUSY_EVENTS`]
//! appointments per mailbox (Exchange's default), [`MAX_FREE_BUSY_EVENTS_PER_CALL`] in all, and
//! [`MAX_FREE_BUSY_DETAIL_BYTES`] of subjects and locations.

use rusqlite::{Connection, params};
use time::OffsetDateTime;

use crate::error::MailboxError;
use crate::limits::{
    MAX_FREE_BUSY_DETAIL_BYTES, MAX_FREE_BUSY_EVENTS, MAX_FREE_BUSY_EVENTS_PER_CALL,
    MAX_FREE_BUSY_MAILBOXES,
};
use crate::model::{FreeBusy, MailboxKey, Sensitivity, Series, from_micros, to_micros};
use crate::store::{MailboxStore, Mb, distinguished_folder, to_i64};

/// One mailbox whose calendar a free/busy call reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeBusyRead {
    pub mailbox: MailboxKey,
    /// Read subjects, locations and sensitivity too ([`Appointment::details`]).
    pub details: bool,
}

/// What a detailed view shows of an appointment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppointmentDetails {
    pub subject: Option<String>,
    pub location: Option<String>,
    pub sensitivity: Sensitivity,
    pub item_class: String,
}

/// An appointment of a Calendar folder that overlaps the window (whole, not cut to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    /// The item's id.
    pub id: String,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    pub status: FreeBusy,
    pub is_all_day: bool,
    /// With [`FreeBusyRead::details`].
    pub details: Option<AppointmentDetails>,
    /// A recurring series: `start` and `end` are its first occurrence's, and the caller expands
    /// it into the occurrences inside the window (the store does not know recurrence rules);
    /// the caller may keep it on each occurrence it makes, to mark it recurring.
    pub series: Option<Series>,
}

// Appointments with `start_time < end AND end_time > start`, found through the start-time index
// from `start` less the folder's longest appointment (`items_folder_span`): ?1 folder, ?2 the
// window's start, ?3 its end, ?4 the row limit.
macro_rules! window_sql {
    ($columns:literal) => {
        concat!(
            "SELECT id, start_time, end_time, free_busy, is_all_day",
            $columns,
            " FROM items WHERE folder_id = ?1 AND is_associated = 0 AND start_time IS NOT NULL \
             AND start_time >= ?2 - COALESCE((SELECT end_time - start_time FROM items \
                 WHERE folder_id = ?1 AND is_associated = 0 AND start_time IS NOT NULL \
                 ORDER BY end_time - start_time DESC LIMIT 1), 0) \
             AND start_time < ?3 AND end_time > ?2 AND series_json IS NULL \
             ORDER BY start_time, id LIMIT ?4"
        )
    };
}

const WINDOW: &str = window_sql!("");
const WINDOW_DETAILED: &str = window_sql!(", subject, location, sensitivity, item_class");

// The recurring series that reach into the window (`items_folder_series`): first start before
// its end, last end after its start (NULL: no end). The same columns, then `series_json`.
macro_rules! series_sql {
    ($columns:literal) => {
        concat!(
            "SELECT id, start_time, end_time, free_busy, is_all_day",
            $columns,
            ", series_json FROM items WHERE folder_id = ?1 AND is_associated = 0 \
             AND series_json IS NOT NULL AND start_time IS NOT NULL AND start_time < ?3 \
             AND coalesce(series_end, 9223372036854775807) > ?2 \
             ORDER BY start_time, id LIMIT ?4"
        )
    };
}

const SERIES: &str = series_sql!(", NULL, NULL, NULL, NULL");
const SERIES_DETAILED: &str = series_sql!(", subject, location, sensitivity, item_class");

/// What one call has read so far, against its bounds.
struct Budget {
    events: usize,
    detail_bytes: usize,
}

fn read_one(
    tx: &Connection,
    r: &FreeBusyRead,
    start: i64,
    end: i64,
    budget: &mut Budget,
) -> Result<Vec<Appointment>, MailboxError> {
    let mb = match crate::store::mailbox_row(tx, r.mailbox.as_str()) {
        Ok(mb) => mb,
        // a mailbox of the directory never opened: nothing on its calendar yet
        Err(MailboxError::MailboxNotFound(_)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let folder = distinguished_folder(tx, &mb, crate::distinguished::CALENDAR)?;
    let left = MAX_FREE_BUSY_EVENTS_PER_CALL.saturating_sub(budget.events);
    let limit = MAX_FREE_BUSY_EVENTS.min(left);
    let mut stmt = tx.prepare_cached(if r.details { WINDOW_DETAILED } else { WINDOW })?;
    let mut rows = stmt.query(params![folder, start, end, to_i64(limit + 1)?])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        if out.len() == limit {
            return Err(if limit == MAX_FREE_BUSY_EVENTS {
                MailboxError::FreeBusyTooLarge(format!(
                    "the calendar has more than {MAX_FREE_BUSY_EVENTS} appointments in the window; ask for a shorter window"
                ))
            } else {
                MailboxError::FreeBusyTooLarge(format!(
                    "the answer already holds {} appointments of other mailboxes, the most one request returns is {MAX_FREE_BUSY_EVENTS_PER_CALL}; ask for fewer mailboxes or a shorter window",
                    budget.events
                ))
            });
        }
        out.push(appointment(&mb, row, r.details, budget)?);
    }
    // then the series (each counted as one against the bounds; the caller bounds what their
    // expansion yields)
    let mut stmt = tx.prepare_cached(if r.details { SERIES_DETAILED } else { SERIES })?;
    let mut rows = stmt.query(params![folder, start, end, to_i64(limit + 1)?])?;
    while let Some(row) = rows.next()? {
        if out.len() == limit {
            return Err(MailboxError::FreeBusyTooLarge(format!(
                "the calendar has more than {limit} appointments and recurring series in the window; ask for a shorter window"
            )));
        }
        let mut a = appointment(&mb, row, r.details, budget)?;
        let json: String = row.get(9)?;
        a.series = Some(
            serde_json::from_str(&json)
                .map_err(|e| MailboxError::Corrupt(format!("item {}: series: {e}", a.id)))?,
        );
        out.push(a);
    }
    budget.events += out.len();
    Ok(out)
}

fn appointment(
    mb: &Mb,
    row: &rusqlite::Row<'_>,
    details: bool,
    budget: &mut Budget,
) -> Result<Appointment, MailboxError> {
    let status: Option<String> = row.get(3)?;
    let details = if details {
        let subject: Option<String> = row.get(5)?;
        let location: Option<String> = row.get(6)?;
        let sensitivity: String = row.get(7)?;
        let size =
            subject.as_ref().map_or(0, String::len) + location.as_ref().map_or(0, String::len);
        budget.detail_bytes = budget.detail_bytes.saturating_add(size);
        if budget.detail_bytes > MAX_FREE_BUSY_DETAIL_BYTES {
            return Err(MailboxError::FreeBusyTooLarge(format!(
                "the subjects and locations of the appointments in the window are over {MAX_FREE_BUSY_DETAIL_BYTES} bytes; ask for a shorter window, or a view without details"
            )));
        }
        Some(AppointmentDetails {
            subject,
            location,
            sensitivity: Sensitivity::from_db(&sensitivity)?,
            item_class: row.get(8)?,
        })
    } else {
        None
    };
    Ok(Appointment {
        id: mb.item_id(row.get(0)?),
        start: from_micros(row.get(1)?)?,
        end: from_micros(row.get(2)?)?,
        status: match status {
            Some(s) => FreeBusy::from_db(&s)?,
            None => FreeBusy::default(),
        },
        is_all_day: row.get::<_, Option<bool>>(4)?.unwrap_or(false),
        details,
        series: None,
    })
}

/// Whether a mailbox's own failure (not the database's) fails that mailbox only.
fn is_per_mailbox(e: &MailboxError) -> bool {
    matches!(
        e,
        MailboxError::FreeBusyTooLarge(_) | MailboxError::FolderNotFound | MailboxError::Corrupt(_)
    )
}

impl MailboxStore {
    /// The appointments of each mailbox's Calendar folder that overlap `[start, end)`, ordered
    /// by start: one result per mailbox, in order, all read in one transaction (a consistent
    /// snapshot), one indexed statement each. A mailbox not provisioned yet has none. A mailbox
    /// past a bound fails alone ([`MailboxError::FreeBusyTooLarge`]); more than
    /// [`MAX_FREE_BUSY_MAILBOXES`] mailboxes, or an end before the start, fails the call.
    pub async fn free_busy(
        &self,
        reads: Vec<FreeBusyRead>,
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Result<Vec<Result<Vec<Appointment>, MailboxError>>, MailboxError> {
        if reads.len() > MAX_FREE_BUSY_MAILBOXES {
            return Err(MailboxError::InvalidRequest(format!(
                "free/busy of {} mailboxes in one call; at most {MAX_FREE_BUSY_MAILBOXES}",
                reads.len()
            )));
        }
        if end < start {
            return Err(MailboxError::CalendarEndBeforeStart);
        }
        let (start, end) = (to_micros(start)?, to_micros(end)?);
        self.read(move |tx| {
            let mut budget = Budget {
                events: 0,
                detail_bytes: 0,
            };
            let mut out = Vec::with_capacity(reads.len());
            for r in &reads {
                match read_one(tx, r, start, end, &mut budget) {
                    Err(e) if !is_per_mailbox(&e) => return Err(e),
                    other => out.push(other),
                }
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window statement walks the start-time index and finds the longest appointment by one
    /// seek of the span index: no scan of the folder, no temporary sort.
    #[test]
    fn the_window_is_read_through_the_indexes() {
        let db = store::Db::open_in_memory(crate::schema::MIGRATIONS).unwrap();
        let plan: Vec<String> = db
            .call_blocking(|c| {
                let mut st = c.prepare(&format!("EXPLAIN QUERY PLAN {WINDOW_DETAILED}"))?;
                let rows = st.query_map(params![1, 0, 10, 5], |r| r.get::<_, String>(3))?;
                Ok::<_, MailboxError>(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("USING INDEX items_folder_start"),
            "the window is not read through the start index:\n{plan}"
        );
        assert!(
            plan.contains("items_folder_span"),
            "the longest appointment is not found through its index:\n{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "a sort:\n{plan}");
        assert!(!plan.contains("SCAN items"), "a scan:\n{plan}");
    }
}
