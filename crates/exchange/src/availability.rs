//! Free/busy over EWS: `GetUserAvailabilityRequest` (MS-OXWAVLS), as Exchange 2013+ answers it.
//!
//! Who may read what: any caller with UserApplication (or ApplicationImpersonation when
//! impersonating) reads the free/busy of every mailbox of the organization, as Exchange's default
//! calendar permission for the organization (AvailabilityOnly: times and busy types) allows;
//! subjects, locations and the other details (the Detailed views) only of the acting mailbox's
//! own calendar and of calendars it is a delegate of with Reviewer or more (a private
//! appointment's subject and location only with ViewPrivateItems): for any other mailbox a
//! Detailed view is answered as FreeBusy, DetailedMerged as FreeBusyMerged. The mailboxes are named by any of their SMTP proxy addresses. A distribution
//! group is expanded (its member mailboxes, nested groups included, each once) and answered with
//! their merged stream only (`MergedOnly`), as Exchange merges a group; the mailboxes one request
//! reads, group members included, are at most 100. Outside the organization (an address in no
//! accepted domain, or a mail user, whose mailbox is elsewhere) free/busy needs an availability
//! address space or an organization relationship, which this server has not: those are
//! `ErrorAddressSpaceNotFound`.
//!
//! Working hours: each mailbox's own, from the `WorkHours` configuration in its Calendar folder
//! (as Outlook, OWA or `Set-MailboxCalendarConfiguration` wrote it; [`crate::workhours`]), in
//! the time zone it names; Monday to Friday, 08:00–17:00 UTC for a mailbox that has none; none
//! when the stored stream is malformed (logged). Meeting suggestions are refused as unsupported
//! by the request reader.
//!
//! Reading: one read transaction of the mailbox store for the request, one indexed statement per
//! mailbox ([`mailbox::MailboxStore::free_busy`]); a request-level refusal is a SOAP fault with
//! HTTP 500, as Exchange sends it.

use std::collections::HashMap;

use axum::http::StatusCode;
use axum::response::Response;
use ews_proto::availability::{
    self as wire, CalendarEvent, CalendarEventDetails, FreeBusyView, FreeBusyViewType, Query,
    WorkingHours,
};
use ews_proto::response::ResponseError;
use ews_proto::timezone::SerializableTimeZone;
use ews_proto::types::LegacyFreeBusyStatus;
use mailbox::limits::MAX_FREE_BUSY_MAILBOXES;
use mailbox::{Appointment, FreeBusyRead, MailboxKey};

use crate::ews::{Handler, err};
use crate::org::{Org, bare_smtp};

/// Whom one `t:MailboxData` names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A mailbox of the organization (its key).
    Mailbox(String),
    /// A distribution group: the keys of its member mailboxes.
    Group(Vec<String>),
}

/// An address as messages repeat it (bounded).
fn shown(address: &str) -> String {
    address.chars().take(200).collect()
}

fn not_found(address: &str) -> ResponseError {
    ResponseError::new(
        "ErrorMailRecipientNotFound",
        &format!(
            "Unable to resolve e-mail address {} to an Active Directory object: no recipient of this organization has that address. Check it (any SMTP address of a mailbox works).",
            shown(address)
        ),
    )
}

fn outside(address: &str, why: &str) -> ResponseError {
    ResponseError::new(
        "ErrorAddressSpaceNotFound",
        &format!(
            "{} is outside this organization ({why}); free/busy of another organization needs an availability address space or an organization relationship for its domain, and this server has none.",
            shown(address)
        ),
    )
}

fn group_too_big(name: &str) -> ResponseError {
    ResponseError::new(
        "ErrorFreeBusyDLLimitReached",
        &format!(
            "The distribution group '{}' expands to more mailboxes than one request reads ({MAX_FREE_BUSY_MAILBOXES}, the mailboxes asked for directly included); ask for its members in smaller requests.",
            shown(name)
        ),
    )
}

/// Resolves the requested addresses in one directory read: each to a mailbox, a group's member
/// mailboxes, or its refusal. Group expansions count against [`MAX_FREE_BUSY_MAILBOXES`] with
/// the mailboxes asked for directly.
fn resolve(
    org: &Org,
    c: &store::rusqlite::Connection,
    addresses: &[String],
) -> Result<Vec<Result<Target, ResponseError>>, crate::ExchangeError> {
    let mut out = Vec::with_capacity(addresses.len());
    let mut reads: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut groups = Vec::new();
    for (n, a) in addresses.iter().enumerate() {
        let bare = bare_smtp(a.trim());
        let domain = bare.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
        if domain.is_empty() || bare.len() > crate::org::MAX_PROXY_ADDRESS_LEN {
            out.push(Err(not_found(a)));
            continue;
        }
        out.push(match org.recipient_by_smtp(c, bare)? {
            Some(r) if r.is_mailbox() => {
                reads.insert(r.guid.clone());
                Ok(Target::Mailbox(r.guid))
            }
            Some(g) if g.is_group() => {
                groups.push((n, g));
                Ok(Target::Group(Vec::new()))
            }
            Some(r) => {
                let at = r
                    .external_email_address
                    .as_deref()
                    .map(bare_smtp)
                    .unwrap_or("another organization")
                    .to_owned();
                Err(outside(
                    a,
                    &format!("a mail user whose mailbox is at {}", shown(&at)),
                ))
            }
            None if Org::is_accepted_domain(c, domain)? => Err(not_found(a)),
            None => Err(outside(
                a,
                &format!("{} is not one of its accepted domains", shown(domain)),
            )),
        });
    }
    for (n, g) in groups {
        let mut seen = std::collections::HashSet::new();
        let members = match org.expand_group(c, &g, &mut seen, 0, MAX_FREE_BUSY_MAILBOXES) {
            Ok(m) => m,
            Err(crate::ExchangeError::TooManyRecipients { .. }) => {
                out[n] = Err(group_too_big(&g.name));
                continue;
            }
            Err(e) => return Err(e),
        };
        let keys: Vec<String> = members
            .into_iter()
            .filter(|m| m.is_mailbox())
            .map(|m| m.guid)
            .collect();
        let new = keys.iter().filter(|k| !reads.contains(*k)).count();
        if reads.len() + new > MAX_FREE_BUSY_MAILBOXES {
            out[n] = Err(group_too_big(&g.name));
            continue;
        }
        reads.extend(keys.iter().cloned());
        out[n] = Ok(Target::Group(keys));
    }
    Ok(out)
}

fn status(s: mailbox::FreeBusy) -> LegacyFreeBusyStatus {
    match s {
        mailbox::FreeBusy::Free => LegacyFreeBusyStatus::Free,
        mailbox::FreeBusy::Tentative => LegacyFreeBusyStatus::Tentative,
        mailbox::FreeBusy::Busy => LegacyFreeBusyStatus::Busy,
        mailbox::FreeBusy::Oof => LegacyFreeBusyStatus::Oof,
        mailbox::FreeBusy::WorkingElsewhere => LegacyFreeBusyStatus::WorkingElsewhere,
        mailbox::FreeBusy::NoData => LegacyFreeBusyStatus::NoData,
    }
}

fn merged<'a>(q: &Query, appointments: impl IntoIterator<Item = &'a Appointment>) -> String {
    wire::merged_free_busy(
        q,
        appointments
            .into_iter()
            .map(|a| (a.start, a.end, status(a.status))),
    )
}

/// What the detailed view shows of an appointment (nothing this store does not keep: no
/// attendees, exceptions or reminders, so those flags are false; an occurrence of a series is
/// recurring).
fn details(a: &Appointment, show_private: bool) -> CalendarEventDetails {
    let d = a.details.as_ref();
    let private = d.is_some_and(|d| d.sensitivity == mailbox::Sensitivity::Private);
    // a private appointment's subject and location only for whoever may see private items
    let d = d.filter(|_| show_private || !private);
    CalendarEventDetails {
        // Exchange leaves the id out of a private appointment's details
        id: (!private).then(|| a.id.clone()),
        subject: d.and_then(|d| d.subject.clone()),
        location: d.and_then(|d| d.location.clone()),
        is_meeting: false,
        is_recurring: a.series.is_some(),
        is_exception: false,
        is_reminder_set: false,
        is_private: private,
    }
}

/// What the caller sees of a mailbox's appointments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// Times and busy types (anyone's).
    Times,
    /// Subjects and locations too (the caller's own calendar, or its owner's as a delegate with
    /// Reviewer or more there); of private appointments only with `private`.
    Details { private: bool },
}

/// One mailbox's view: the view asked for, without details unless `shown` gives them.
fn mailbox_view(
    q: &Query,
    tz: &SerializableTimeZone,
    appointments: &[Appointment],
    shown: Shown,
    working_hours: Option<WorkingHours>,
) -> FreeBusyView {
    let (view, show_private) = match shown {
        Shown::Details { private } => (q.view, private),
        Shown::Times => (q.view.without_details(), false),
    };
    FreeBusyView {
        view_type: view,
        merged: view.has_merged().then(|| merged(q, appointments)),
        events: view.has_events().then(|| {
            appointments
                .iter()
                .map(|a| CalendarEvent {
                    start: tz.to_local(a.start),
                    end: tz.to_local(a.end),
                    busy_type: status(a.status),
                    details: view.has_details().then(|| details(a, show_private)),
                })
                .collect()
        }),
        // shown with the events, as Exchange does
        working_hours: working_hours.filter(|_| view.has_events()),
    }
}

fn xml(status: StatusCode, body: Vec<u8>) -> Response {
    use axum::response::IntoResponse;
    (status, [("content-type", "text/xml; charset=utf-8")], body).into_response()
}

impl Handler<'_> {
    /// What the caller sees of `owner`'s calendar as its delegate: details with Reviewer or more
    /// on the owner's Calendar (private ones with ViewPrivateItems), else times only.
    async fn delegate_shown(&self, owner: &MailboxKey) -> Result<Shown, mailbox::MailboxError> {
        match self.ex.inner.mbx.delegate_of(owner, &self.key).await {
            Ok(Some(d))
                if d.level(mailbox::DelegateFolder::Calendar)
                    >= mailbox::DelegateLevel::Reviewer =>
            {
                Ok(Shown::Details {
                    private: d.view_private,
                })
            }
            Ok(_) | Err(mailbox::MailboxError::MailboxNotFound(_)) => Ok(Shown::Times),
            Err(e) => Err(e),
        }
    }

    /// `GetUserAvailabilityRequest`: the answer, or a fault (HTTP 500) refusing the request.
    pub(crate) async fn get_user_availability(&self, g: wire::GetUserAvailability) -> Response {
        match self.free_busy(&g).await {
            Ok(results) => xml(
                StatusCode::OK,
                wire::get_user_availability_response(&results),
            ),
            Err(body) => xml(StatusCode::INTERNAL_SERVER_ERROR, body),
        }
    }

    async fn free_busy(
        &self,
        g: &wire::GetUserAvailability,
    ) -> Result<Vec<Result<FreeBusyView, ResponseError>>, Vec<u8>> {
        let refuse = |e: &ResponseError| ews_proto::response::write_fault(&e.code, &e.message);
        self.authorize(false).map_err(|e| refuse(&e))?;
        let q = g.query().map_err(|e| e.fault())?;
        let org = self.ex.inner.org.clone();
        let addresses: Vec<String> = g.mailboxes.iter().map(|m| m.address.clone()).collect();
        let targets = org
            .db
            .clone()
            .call(move |c| resolve(&org, c, &addresses))
            .await
            .map_err(|e| {
                refuse(&ResponseError::new(
                    "ErrorFreeBusyGenerationFailed",
                    &format!("The directory could not be read: {e}"),
                ))
            })?;
        // each mailbox read once, whoever names it
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut shown_of: HashMap<&str, Shown> = HashMap::new();
        let mut reads = Vec::new();
        let wants_details = q.view.has_details();
        for t in targets.iter().flatten() {
            let keys: &[String] = match t {
                Target::Mailbox(k) => std::slice::from_ref(k),
                Target::Group(ks) => ks,
            };
            for k in keys {
                if index.contains_key(k.as_str()) {
                    continue;
                }
                let key = MailboxKey::new(k.clone()).map_err(|e| refuse(&err(&e)))?;
                // details only in a Detailed view, of the caller's own calendar or of one it
                // reads as a delegate
                let shown = if !wants_details {
                    Shown::Times
                } else if key.as_str() == self.key.as_str() {
                    Shown::Details { private: true }
                } else {
                    self.delegate_shown(&key)
                        .await
                        .map_err(|e| refuse(&err(&e)))?
                };
                index.insert(k, reads.len());
                shown_of.insert(k, shown);
                reads.push(FreeBusyRead {
                    mailbox: key,
                    details: shown != Shown::Times,
                });
            }
        }
        let found = self
            .ex
            .inner
            .mbx
            .free_busy(reads, q.start, q.end)
            .await
            .map_err(|e| refuse(&err(&e)))?
            .into_iter()
            .map(|r| r.and_then(|a| crate::recurring::expand_appointments(a, q.start, q.end)))
            .collect::<Vec<_>>();
        let of = |k: &str| index.get(k).and_then(|i| found.get(*i));
        // working hours go with the events: read only for views that show them
        let mut hours: HashMap<&str, WorkingHours> = HashMap::new();
        if q.view.has_events() {
            for t in targets.iter().flatten() {
                if let Target::Mailbox(k) = t
                    && !hours.contains_key(k.as_str())
                    && let Ok(key) = MailboxKey::new(k.clone())
                    && let Some(h) = self.ex.working_hours(&key).await
                {
                    hours.insert(k, h);
                }
            }
        }
        Ok(targets
            .iter()
            .map(|t| match t {
                Err(e) => Err(e.clone()),
                Ok(Target::Mailbox(k)) => match of(k) {
                    Some(Ok(appointments)) => Ok(mailbox_view(
                        &q,
                        &g.time_zone,
                        appointments,
                        shown_of.get(k.as_str()).copied().unwrap_or(Shown::Times),
                        hours.get(k.as_str()).cloned(),
                    )),
                    Some(Err(e)) => Err(err(e)),
                    // every mailbox named was read above
                    None => Err(ResponseError::new(
                        "ErrorFreeBusyGenerationFailed",
                        "The mailbox's calendar was not read.",
                    )),
                },
                Ok(Target::Group(keys)) => {
                    let mut all = Vec::new();
                    for k in keys {
                        match of(k) {
                            Some(Ok(a)) => all.extend(a.iter()),
                            Some(Err(e)) => return Err(err(e)),
                            None => {}
                        }
                    }
                    Ok(FreeBusyView {
                        view_type: FreeBusyViewType::MergedOnly,
                        merged: Some(merged(&q, all)),
                        events: None,
                        working_hours: None,
                    })
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn office() -> Option<WorkingHours> {
        Some(WorkingHours::office(SerializableTimeZone::UTC))
    }

    fn appt(start: time::OffsetDateTime, hours: i64, s: mailbox::FreeBusy) -> Appointment {
        Appointment {
            id: "ID1".into(),
            start,
            end: start + time::Duration::hours(hours),
            status: s,
            is_all_day: false,
            details: Some(mailbox::AppointmentDetails {
                subject: Some("Budget".into()),
                location: Some("Room 1".into()),
                sensitivity: mailbox::Sensitivity::Private,
                item_class: "IPM.Appointment".into(),
            }),
            series: None,
        }
    }

    fn query(view: FreeBusyViewType) -> Query {
        Query {
            start: datetime!(2026-07-15 00:00 UTC),
            end: datetime!(2026-07-16 00:00 UTC),
            interval_minutes: 360,
            view,
        }
    }

    #[test]
    fn others_get_times_and_busy_types_only() {
        let a = [appt(
            datetime!(2026-07-15 09:00 UTC),
            2,
            mailbox::FreeBusy::Busy,
        )];
        let tz = SerializableTimeZone::fixed(-120);
        let theirs = mailbox_view(
            &query(FreeBusyViewType::DetailedMerged),
            &tz,
            &a,
            Shown::Times,
            office(),
        );
        assert_eq!(theirs.view_type, FreeBusyViewType::FreeBusyMerged);
        assert_eq!(theirs.merged.as_deref(), Some("0200"));
        let events = theirs.events.unwrap();
        assert_eq!(events[0].details, None);
        // the requester's wall clock: UTC+2
        assert_eq!(events[0].start, time::macros::datetime!(2026-07-15 11:00));
        assert!(theirs.working_hours.is_some());
        let mine = mailbox_view(
            &query(FreeBusyViewType::Detailed),
            &tz,
            &a,
            Shown::Details { private: true },
            office(),
        );
        assert_eq!(mine.view_type, FreeBusyViewType::Detailed);
        assert_eq!(mine.merged, None);
        let d = mine.events.unwrap()[0].details.clone().unwrap();
        assert_eq!(d.subject.as_deref(), Some("Budget"));
        assert!(d.is_private);
        assert_eq!(d.id, None, "a private appointment's id is left out");
        // a delegate without ViewPrivateItems: the private appointment's times, not its subject
        let delegate = mailbox_view(
            &query(FreeBusyViewType::Detailed),
            &tz,
            &a,
            Shown::Details { private: false },
            office(),
        );
        let d = delegate.events.unwrap()[0].details.clone().unwrap();
        assert_eq!((d.subject, d.location, d.is_private), (None, None, true));
        let merged_only = mailbox_view(
            &query(FreeBusyViewType::MergedOnly),
            &tz,
            &a,
            Shown::Details { private: true },
            office(),
        );
        assert_eq!(merged_only.events, None);
        assert_eq!(merged_only.working_hours, None);
    }

    #[test]
    fn statuses_map_one_to_one() {
        for (m, w) in [
            (mailbox::FreeBusy::Free, "Free"),
            (mailbox::FreeBusy::Tentative, "Tentative"),
            (mailbox::FreeBusy::Busy, "Busy"),
            (mailbox::FreeBusy::Oof, "OOF"),
            (mailbox::FreeBusy::WorkingElsewhere, "WorkingElsewhere"),
            (mailbox::FreeBusy::NoData, "NoData"),
        ] {
            assert_eq!(status(m).as_str(), w);
            assert_eq!(m.as_str(), w);
        }
    }
}
