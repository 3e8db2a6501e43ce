//! The resource booking attendant: a mailbox whose calendar processing is `AutoAccept` (a room
//! or equipment mailbox by default, `Set-CalendarProcessing`) answers each meeting request it is
//! delivered, right after the delivery, as Exchange's attendant does:
//! - declined when the meeting is longer than `MaximumDurationInMinutes` (0: any length), when it
//!   recurs and `AllowRecurringMeetings` is off, when it starts beyond `BookingWindowInDays`,
//!   or (unless `AllowConflicts`) when any of its occurrences inside the booking window overlaps
//!   something Busy or OOF on the resource's calendar;
//! - accepted otherwise.
//!
//! Requests are decided one at a time (`Inner::booking`), each after the one before it was
//! answered: a request not answered yet sits Tentative on the resource's calendar and is not a
//! conflict, so of two requests for the same time the first decided is accepted and the second
//! sees it Busy.
//!
//! The answer is an ordinary meeting response from the resource
//! (`mailbox::MailboxStore::respond_to_meeting`): the resource's copy Busy (or, declined, in its
//! Deleted Items), the organizer sent "Accepted: …" or "Declined: …" with the reason, and the
//! organizer's item recording it. An update of the meeting is a new request and is answered
//! again. The organizer's send is done whatever happens here; a failure is logged and the
//! request stays tentative, for the resource's delegates to answer.

use mailbox::{
    Appointment, Body, BodyType, FreeBusy, FreeBusyRead, Item, MailboxKey, Recipient, ResponseType,
};
use time::OffsetDateTime;

use crate::ews::Handler;
use crate::org::{CalendarProcessing, Recipient as DirEntry};

/// What the attendant answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Accept,
    Decline(String),
}

/// At most this many conflicts are named in a decline.
const MAX_CONFLICTS_NAMED: usize = 5;

fn when(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Whether the resource is taken (Busy or OOF) at some time of the meeting: each of `own` (the meeting's
/// occurrences, sorted by start) against `others` (the rest of the calendar, sorted by start);
/// the overlapping occurrences' starts, at most [`MAX_CONFLICTS_NAMED`] + 1.
fn conflicts(
    own: &[(OffsetDateTime, OffsetDateTime)],
    others: &[Appointment],
) -> Vec<OffsetDateTime> {
    let mut found = Vec::new();
    let mut next = 0;
    let mut active: Vec<&Appointment> = Vec::new();
    for &(start, end) in own {
        while let Some(a) = others.get(next)
            && a.start < end
        {
            if matches!(a.status, FreeBusy::Busy | FreeBusy::Oof) {
                active.push(a);
            }
            next += 1;
        }
        active.retain(|a| a.end > start);
        if active.iter().any(|a| a.start < end && a.end > start) {
            found.push(start);
            if found.len() > MAX_CONFLICTS_NAMED {
                break;
            }
        }
    }
    found
}

/// The attendant's rules (module documentation) for a meeting `[start, end)` (its first
/// occurrence), `recurring` or not, at `now`; `own` its occurrences inside the booking window
/// and `others` the calendar's other appointments there.
pub(crate) fn decide(
    p: &CalendarProcessing,
    start: OffsetDateTime,
    end: OffsetDateTime,
    recurring: bool,
    now: OffsetDateTime,
    own: &[(OffsetDateTime, OffsetDateTime)],
    others: &[Appointment],
) -> Verdict {
    let minutes = (end - start).whole_minutes();
    let max = i64::from(p.maximum_duration_in_minutes);
    if max > 0 && minutes > max {
        return Verdict::Decline(format!(
            "The meeting is {minutes} minutes long; this resource is booked for at most {max} minutes at a time."
        ));
    }
    if recurring && !p.allow_recurring_meetings {
        return Verdict::Decline("This resource does not accept recurring meetings.".into());
    }
    let window = i64::from(p.booking_window_in_days);
    if start > now + time::Duration::days(window) {
        return Verdict::Decline(format!(
            "The meeting starts more than {window} days ahead; this resource is booked at most {window} days in advance."
        ));
    }
    if !p.allow_conflicts {
        let found = conflicts(own, others);
        if !found.is_empty() {
            let mut named: Vec<String> = found
                .iter()
                .take(MAX_CONFLICTS_NAMED)
                .map(|t| when(*t))
                .collect();
            if found.len() > MAX_CONFLICTS_NAMED {
                named.push("and more".into());
            }
            return Verdict::Decline(format!(
                "The resource is already booked at {}.",
                named.join(", ")
            ));
        }
    }
    Verdict::Accept
}

impl Handler<'_> {
    /// After a meeting's requests were delivered: the resources among `delivered` (each
    /// attendee's mailbox with its request and calendar copy) that book themselves answer
    /// theirs (module documentation). The organizer is the acting mailbox.
    pub(crate) async fn book_resources(&self, delivered: Vec<(MailboxKey, Item, Item)>) {
        for (key, request, copy) in delivered {
            let _one_at_a_time = self.ex.inner.booking.lock().await;
            if let Err(e) = self.book_one(&key, &request, &copy).await {
                tracing::warn!(error = %e, mailbox = key.as_str(), "the booking attendant did not answer");
            }
        }
    }

    async fn book_one(&self, key: &MailboxKey, request: &Item, copy: &Item) -> Result<(), String> {
        let org = self.ex.inner.org.clone();
        let guid = key.as_str().to_owned();
        let found = org
            .db
            .clone()
            .call(move |c| -> Result<_, crate::ExchangeError> {
                let r = org.get_recipient(c, &guid)?;
                let p = org.calendar_processing(c, &r)?;
                Ok((r, p))
            })
            .await
            .map_err(|e| e.to_string())?;
        let (resource, processing): (DirEntry, CalendarProcessing) = found;
        if !processing.auto_accepts() {
            return Ok(());
        }
        let Some(cal) = &copy.calendar else {
            return Ok(());
        };
        let now = self.ex.inner.cfg.clock.now();
        let (start, end, recurring) = (cal.start, cal.end, cal.recurrence.is_some());
        let horizon = now + time::Duration::days(i64::from(processing.booking_window_in_days));
        // the meeting's occurrences inside the booking window, and the calendar's other
        // appointments there
        let to = match &cal.recurrence {
            Some(s) => s.last_end.unwrap_or(horizon).min(horizon).max(end),
            None => end,
        };
        let read = FreeBusyRead {
            mailbox: key.clone(),
            details: false,
        };
        let mbx = &self.ex.inner.mbx;
        let all = mbx
            .free_busy(vec![read], start, to)
            .await
            .map_err(|e| e.to_string())?
            .pop()
            .unwrap_or_else(|| Ok(Vec::new()));
        let verdict = match all {
            Ok(all) => {
                let (own, others): (Vec<Appointment>, Vec<Appointment>) =
                    all.into_iter().partition(|a| a.id == copy.id);
                let expand = |v| crate::recurring::expand_appointments(v, start, to);
                match (expand(own), expand(others)) {
                    (Ok(own), Ok(others)) => {
                        let mut times: Vec<_> = own.iter().map(|a| (a.start, a.end)).collect();
                        if times.is_empty() {
                            times.push((start, end));
                        }
                        decide(&processing, start, end, recurring, now, &times, &others)
                    }
                    (Err(e), _) | (_, Err(e)) => Verdict::Decline(format!(
                        "The resource's calendar could not be checked for conflicts: {e}"
                    )),
                }
            }
            Err(e) => Verdict::Decline(format!(
                "The resource's calendar could not be checked for conflicts: {e}"
            )),
        };
        let (response, text) = match &verdict {
            Verdict::Accept => (
                ResponseType::Accept,
                "Your request was accepted.".to_owned(),
            ),
            Verdict::Decline(why) => (
                ResponseType::Decline,
                format!("Your request was declined. {why}"),
            ),
        };
        let reply = mailbox::Reply {
            response,
            from: Recipient {
                name: Some(resource.name.clone()),
                email: resource.address().unwrap_or_default().to_owned(),
            },
            sender: None,
            addresses: resource.smtp_addresses(),
            message_id: self.new_message_id(),
            organizer: Some(self.key.clone()),
            save_in: None,
            subject: None,
            body: Some(Body {
                body_type: BodyType::Text,
                content: text,
            }),
        };
        let responded = mbx
            .respond_to_meeting(
                key,
                request.id.clone(),
                mailbox::ItemGuard::OutsideRecoverableItems,
                reply,
            )
            .await
            .map_err(|e| e.to_string())?;
        // what the organizer's rules forward of the resource's answer
        self.send_rule_forwards(responded.forwards).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap() + time::Duration::hours(h)
    }

    fn appt(from: i64, to: i64, status: FreeBusy) -> Appointment {
        Appointment {
            id: format!("a{from}"),
            start: t(from),
            end: t(to),
            status,
            is_all_day: false,
            details: None,
            series: None,
        }
    }

    fn room() -> CalendarProcessing {
        CalendarProcessing {
            identity: "Room".into(),
            automate_processing: "AutoAccept",
            allow_conflicts: false,
            booking_window_in_days: 180,
            maximum_duration_in_minutes: 1440,
            allow_recurring_meetings: true,
        }
    }

    #[test]
    fn each_rule_declines_with_its_reason() {
        let now = t(0);
        let p = room();
        let free = [
            appt(10, 11, FreeBusy::Free),
            appt(12, 13, FreeBusy::WorkingElsewhere),
        ];
        assert_eq!(
            decide(&p, t(10), t(11), false, now, &[(t(10), t(11))], &free),
            Verdict::Accept
        );
        // a day and a minute
        let long = decide(
            &p,
            t(10),
            t(34) + time::Duration::minutes(1),
            false,
            now,
            &[],
            &[],
        );
        assert!(
            matches!(&long, Verdict::Decline(w) if w.contains("1441 minutes")),
            "{long:?}"
        );
        let mut any_length = room();
        any_length.maximum_duration_in_minutes = 0;
        assert_eq!(
            decide(&any_length, t(10), t(100), false, now, &[], &[]),
            Verdict::Accept
        );
        let mut single_only = room();
        single_only.allow_recurring_meetings = false;
        assert!(matches!(
            decide(&single_only, t(10), t(11), true, now, &[], &[]),
            Verdict::Decline(w) if w.contains("recurring")
        ));
        let far = decide(&p, t(24 * 181), t(24 * 181 + 1), false, now, &[], &[]);
        assert!(
            matches!(&far, Verdict::Decline(w) if w.contains("180 days")),
            "{far:?}"
        );
    }

    #[test]
    fn conflicts_are_busy_or_oof_overlaps_of_any_occurrence() {
        let now = t(0);
        let p = room();
        let own = [(t(10), t(11)), (t(34), t(35)), (t(58), t(59))];
        // touching is not overlapping; free time is not a conflict
        let others = [
            appt(9, 10, FreeBusy::Busy),
            appt(11, 12, FreeBusy::Busy),
            appt(30, 40, FreeBusy::Free),
        ];
        assert_eq!(
            decide(&p, t(10), t(11), true, now, &own, &others),
            Verdict::Accept
        );
        // a request not answered yet is not a conflict
        assert_eq!(
            decide(
                &p,
                t(10),
                t(11),
                false,
                now,
                &own[..1],
                &[appt(10, 11, FreeBusy::Tentative)]
            ),
            Verdict::Accept
        );
        for status in [FreeBusy::Busy, FreeBusy::Oof] {
            // a long appointment that began before the second occurrence
            let others = [appt(20, 35, status)];
            let v = decide(&p, t(10), t(11), true, now, &own, &others);
            assert!(
                matches!(&v, Verdict::Decline(w) if w.contains(&when(t(34))) && !w.contains(&when(t(10)))),
                "{status:?}: {v:?}"
            );
        }
        let mut lenient = room();
        lenient.allow_conflicts = true;
        assert_eq!(
            decide(
                &lenient,
                t(10),
                t(11),
                true,
                now,
                &own,
                &[appt(0, 100, FreeBusy::Busy)]
            ),
            Verdict::Accept
        );
        // many: five named, then "and more"
        let daily: Vec<_> = (0..10).map(|d| (t(24 * d), t(24 * d + 1))).collect();
        let v = decide(
            &p,
            t(0),
            t(1),
            true,
            now,
            &daily,
            &[appt(0, 24 * 20, FreeBusy::Busy)],
        );
        let Verdict::Decline(w) = v else {
            panic!("accepted")
        };
        assert_eq!(w.matches('Z').count(), 5, "{w}");
        assert!(w.contains("and more"), "{w}");
    }
}
