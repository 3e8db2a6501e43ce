//! Meetings against a real store: invitations (the organizer's item, each attendee's request and
//! Tentative calendar copy, the Sent Items copy, new-mail events), responses (the attendee's
//! copy, its requests, the response and the answer on the organizer's item; a decline moving the
//! copy to Deleted Items), cancellation, an update moving the copies, free/busy of an accepted
//! meeting, and refusals that write nothing.

mod common;

use common::*;
use mailbox::{
    Attendee, Calendar, Cancel, DeleteMode, EventKind, FindSpec, FreeBusy, Invite, ItemGuard,
    ItemUpdate, MailboxError, MailboxKey, MailboxStore, Meeting, NewItem, Recipient, Reply,
    ResponseType,
};
use time::macros::datetime;

const UID: &str = "040000008200E00074C5B7101A82E008TESTUID";

fn alice() -> Recipient {
    Recipient::new(Some("Alice"), "alice@contoso.example")
}

fn bob() -> Recipient {
    Recipient::new(Some("Bob"), "bob@contoso.example")
}

fn carol() -> Recipient {
    Recipient::new(Some("Carol"), "carol@contoso.example")
}

fn meeting_item() -> NewItem {
    let mut m = Meeting::new(UID.into(), alice());
    m.required = vec![Attendee::new(bob())];
    m.optional = vec![Attendee::new(carol())];
    NewItem {
        item_class: "IPM.Appointment".into(),
        subject: Some("Planning".into()),
        calendar: Some(Calendar {
            start: datetime!(2024-03-01 10:00 UTC),
            end: datetime!(2024-03-01 11:00 UTC),
            is_all_day: false,
            legacy_free_busy_status: FreeBusy::Busy,
            location: Some("Room 1".into()),
            recurrence: None,
        }),
        meeting: Some(m),
        ..NewItem::default()
    }
}

fn invite(to: &[&str], save_copy: bool) -> Invite {
    Invite {
        from: alice(),
        sender: None,
        message_id: "<meet1@contoso.example>".into(),
        deliver_to: to.iter().map(|k| key(k)).collect(),
        save_copy,
        report: None,
        cancel_to: Vec::new(),
        recipient_addresses: Vec::new(),
    }
}

fn reply(response: ResponseType, who: Recipient, organizer: Option<&str>) -> Reply {
    Reply {
        response,
        addresses: vec![who.email.to_uppercase()],
        from: who,
        sender: None,
        message_id: "<resp1@contoso.example>".into(),
        organizer: organizer.map(key),
        save_in: Some(d("sentitems")),
        subject: None,
        body: None,
    }
}

async fn all_in(s: &MailboxStore, m: &MailboxKey, folder: &str) -> Vec<mailbox::Item> {
    let page = s
        .find_items(m, d(folder), FindSpec::default())
        .await
        .unwrap();
    let ids = page.items.into_iter().map(|i| i.id).collect();
    s.get_items(m, ids)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

async fn one(s: &MailboxStore, m: &MailboxKey, id: &str) -> mailbox::Item {
    s.get_items(m, vec![id.to_owned()])
        .await
        .unwrap()
        .remove(0)
        .unwrap()
}

async fn invited_store() -> (MailboxStore, mailbox::Invited) {
    let s = store_with(&["alice", "bob", "carol"]).await;
    let invited = s
        .create_meeting(
            &key("alice"),
            d("calendar"),
            meeting_item(),
            invite(&["bob", "carol"], true),
        )
        .await
        .unwrap();
    (s, invited)
}

#[tokio::test]
async fn invitations_reach_every_attendee_in_one_write() {
    let s = store_with(&["alice", "bob", "carol"]).await;
    let bob0 = s.counters(&key("bob")).await.unwrap();
    let invited = s
        .create_meeting(
            &key("alice"),
            d("calendar"),
            meeting_item(),
            invite(&["bob", "carol", "alice"], true),
        )
        .await
        .unwrap();
    // the organizer's own key is skipped
    assert_eq!(invited.requests.len(), 2);
    let own = one(&s, &key("alice"), &invited.item.id).await;
    let m = own.meeting.expect("a meeting");
    assert_eq!(m.my_response, ResponseType::Organizer);
    assert!(m.request_was_sent);
    assert_eq!(m.uid, UID);
    assert_eq!(m.required[0].response_type, ResponseType::Unknown);
    assert_eq!(
        own.calendar.unwrap().legacy_free_busy_status,
        FreeBusy::Busy
    );
    // a copy of the request in Sent Items
    let sent = all_in(&s, &key("alice"), "sentitems").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].item_class, "IPM.Schedule.Meeting.Request");

    for who in ["bob", "carol"] {
        let inbox = all_in(&s, &key(who), "inbox").await;
        assert_eq!(inbox.len(), 1, "{who}");
        let req = &inbox[0];
        assert_eq!(req.item_class, "IPM.Schedule.Meeting.Request");
        assert!(!req.is_read);
        assert_eq!(req.from, Some(alice()));
        assert_eq!(req.to, vec![bob()]);
        assert_eq!(req.cc, vec![carol()]);
        let rm = req.meeting.as_ref().unwrap();
        assert_eq!(rm.uid, UID);
        assert!(!rm.has_been_processed);
        let cal = all_in(&s, &key(who), "calendar").await;
        assert_eq!(cal.len(), 1);
        let copy = &cal[0];
        assert_eq!(
            rm.associated_calendar_item_id.as_deref(),
            Some(copy.id.as_str())
        );
        let cm = copy.meeting.as_ref().unwrap();
        assert_eq!(cm.my_response, ResponseType::NoResponseReceived);
        assert_eq!(cm.uid, UID);
        assert_eq!(cm.organizer, alice());
        let c = copy.calendar.as_ref().unwrap();
        assert_eq!(c.legacy_free_busy_status, FreeBusy::Tentative);
        assert_eq!(c.location.as_deref(), Some("Room 1"));
    }
    // Bob's log: the copy created, then the request as new mail
    let ev = s
        .events_since(&key("bob"), bob0.last_event_seq, 10)
        .await
        .unwrap();
    assert_eq!(ev.len(), 2);
    assert!(ev.iter().all(|e| e.kind == EventKind::Created));
    assert_eq!(ev.iter().filter(|e| e.new_mail).count(), 1);
}

#[tokio::test]
async fn an_invitation_to_a_missing_mailbox_writes_nothing() {
    let s = store_with(&["alice", "bob"]).await;
    let before = s.counters(&key("alice")).await.unwrap();
    let e = s
        .create_meeting(
            &key("alice"),
            d("calendar"),
            meeting_item(),
            invite(&["bob", "nobody"], false),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::MailboxNotFound(_)), "{e:?}");
    assert_eq!(s.counters(&key("alice")).await.unwrap(), before);
    assert!(all_in(&s, &key("bob"), "inbox").await.is_empty());
    assert!(all_in(&s, &key("alice"), "calendar").await.is_empty());
}

#[tokio::test]
async fn too_many_attendees_are_refused() {
    let s = store_with(&["alice"]).await;
    let mut item = meeting_item();
    let m = item.meeting.as_mut().unwrap();
    m.required = (0..=mailbox::limits::MAX_ATTENDEES)
        .map(|n| Attendee::new(Recipient::new(None, &format!("u{n}@contoso.example"))))
        .collect();
    let e = s
        .create_meeting(&key("alice"), d("calendar"), item, invite(&[], false))
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::TooManyAttendees { .. }), "{e:?}");
    assert_eq!(e.response_code(), "ErrorInvalidRecipients");
    assert!(all_in(&s, &key("alice"), "calendar").await.is_empty());
}

#[tokio::test]
async fn accepting_makes_the_copy_busy_and_tells_the_organizer() {
    let (s, invited) = invited_store().await;
    let req = all_in(&s, &key("bob"), "inbox").await.remove(0);
    let done = s
        .respond_to_meeting(
            &key("bob"),
            req.id.clone(),
            ItemGuard::Any,
            reply(ResponseType::Accept, bob(), Some("alice")),
        )
        .await
        .unwrap();
    let copy = &done.calendar_item;
    assert_eq!(
        copy.calendar.as_ref().unwrap().legacy_free_busy_status,
        FreeBusy::Busy
    );
    assert_eq!(
        copy.meeting.as_ref().unwrap().my_response,
        ResponseType::Accept
    );
    // the request is answered
    let req = one(&s, &key("bob"), &req.id).await;
    let rm = req.meeting.unwrap();
    assert!(rm.has_been_processed);
    assert_eq!(rm.response, Some(ResponseType::Accept));
    // the response in Alice's Inbox, unread, a Created new-mail event
    let inbox = all_in(&s, &key("alice"), "inbox").await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0].item_class, "IPM.Schedule.Meeting.Resp.Pos");
    assert_eq!(inbox[0].subject.as_deref(), Some("Accepted: Planning"));
    assert_eq!(inbox[0].from, Some(bob()));
    assert_eq!(
        inbox[0].meeting.as_ref().unwrap().response,
        Some(ResponseType::Accept)
    );
    // Alice's item records Bob's answer (matched case-insensitively) and when
    let own = one(&s, &key("alice"), &invited.item.id).await;
    let m = own.meeting.unwrap();
    assert_eq!(m.required[0].response_type, ResponseType::Accept);
    assert!(m.required[0].last_response_time.is_some());
    assert_eq!(m.optional[0].response_type, ResponseType::Unknown);
    // Bob keeps a copy in Sent Items
    let sent = all_in(&s, &key("bob"), "sentitems").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].item_class, "IPM.Schedule.Meeting.Resp.Pos");
    // free/busy shows Bob busy then
    let fb = s
        .free_busy(
            vec![mailbox::FreeBusyRead {
                mailbox: key("bob"),
                details: false,
            }],
            datetime!(2024-03-01 0:00 UTC),
            datetime!(2024-03-02 0:00 UTC),
        )
        .await
        .unwrap();
    let appts = fb.into_iter().next().unwrap().unwrap();
    assert_eq!(appts.len(), 1);
    assert_eq!(appts[0].status, FreeBusy::Busy);
}

#[tokio::test]
async fn tentative_from_the_calendar_copy() {
    let (s, invited) = invited_store().await;
    let copy = all_in(&s, &key("carol"), "calendar").await.remove(0);
    s.respond_to_meeting(
        &key("carol"),
        copy.id.clone(),
        ItemGuard::Any,
        reply(ResponseType::Tentative, carol(), Some("alice")),
    )
    .await
    .unwrap();
    let copy = one(&s, &key("carol"), &copy.id).await;
    assert_eq!(
        copy.calendar.unwrap().legacy_free_busy_status,
        FreeBusy::Tentative
    );
    assert_eq!(copy.meeting.unwrap().my_response, ResponseType::Tentative);
    let inbox = all_in(&s, &key("alice"), "inbox").await;
    assert_eq!(inbox[0].item_class, "IPM.Schedule.Meeting.Resp.Tent");
    let own = one(&s, &key("alice"), &invited.item.id).await;
    assert_eq!(
        own.meeting.unwrap().optional[0].response_type,
        ResponseType::Tentative
    );
}

#[tokio::test]
async fn declining_moves_the_copy_to_deleted_items() {
    let (s, invited) = invited_store().await;
    let req = all_in(&s, &key("bob"), "inbox").await.remove(0);
    let done = s
        .respond_to_meeting(
            &key("bob"),
            req.id,
            ItemGuard::Any,
            reply(ResponseType::Decline, bob(), Some("alice")),
        )
        .await
        .unwrap();
    assert!(all_in(&s, &key("bob"), "calendar").await.is_empty());
    let deleted = all_in(&s, &key("bob"), "deleteditems").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0].id, done.calendar_item.id);
    assert_eq!(
        deleted[0].meeting.as_ref().unwrap().my_response,
        ResponseType::Decline
    );
    let inbox = all_in(&s, &key("alice"), "inbox").await;
    assert_eq!(inbox[0].item_class, "IPM.Schedule.Meeting.Resp.Neg");
    let own = one(&s, &key("alice"), &invited.item.id).await;
    assert_eq!(
        own.meeting.unwrap().required[0].response_type,
        ResponseType::Decline
    );
}

#[tokio::test]
async fn refused_responses_write_nothing() {
    let (s, invited) = invited_store().await;
    // a plain message
    let plain = s
        .create_items(&key("bob"), d("inbox"), vec![msg("hello")])
        .await
        .unwrap()
        .remove(0);
    let bob0 = s.counters(&key("bob")).await.unwrap();
    let alice0 = s.counters(&key("alice")).await.unwrap();
    let e = s
        .respond_to_meeting(
            &key("bob"),
            plain.id,
            ItemGuard::Any,
            reply(ResponseType::Accept, bob(), Some("alice")),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::NotAMeetingItem), "{e:?}");
    assert_eq!(e.response_code(), "ErrorInvalidReferenceItem");
    // the organizer answering her own meeting
    let e = s
        .respond_to_meeting(
            &key("alice"),
            invited.item.id.clone(),
            ItemGuard::Any,
            reply(ResponseType::Decline, alice(), Some("alice")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.response_code(), "ErrorCalendarIsOrganizerForDecline");
    // an id of another mailbox is not found
    let e = s
        .respond_to_meeting(
            &key("bob"),
            invited.item.id.clone(),
            ItemGuard::Any,
            reply(ResponseType::Accept, bob(), Some("alice")),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::ItemNotFound), "{e:?}");
    assert_eq!(s.counters(&key("bob")).await.unwrap(), bob0);
    assert_eq!(s.counters(&key("alice")).await.unwrap(), alice0);
}

#[tokio::test]
async fn cancelling_tells_every_attendee_and_frees_their_time() {
    let (s, invited) = invited_store().await;
    let req = all_in(&s, &key("bob"), "inbox").await.remove(0);
    s.respond_to_meeting(
        &key("bob"),
        req.id,
        ItemGuard::Any,
        reply(ResponseType::Accept, bob(), Some("alice")),
    )
    .await
    .unwrap();
    let done = s
        .cancel_meeting(
            &key("alice"),
            invited.item.id.clone(),
            ItemGuard::Any,
            Cancel {
                from: alice(),
                sender: None,
                recipient_addresses: Vec::new(),
                message_id: "<cancel1@contoso.example>".into(),
                deliver_to: vec![key("bob"), key("carol")],
                save_copy: true,
                delete: DeleteMode::MoveToDeletedItems,
                subject: None,
                body: None,
                report: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(done.delivered.len(), 2);
    assert_eq!(done.cancelled_copies.len(), 2);
    for who in ["bob", "carol"] {
        let inbox = all_in(&s, &key(who), "inbox").await;
        let c = inbox
            .iter()
            .find(|i| i.item_class == "IPM.Schedule.Meeting.Canceled")
            .expect("a cancellation");
        assert_eq!(c.subject.as_deref(), Some("Canceled: Planning"));
        assert!(c.meeting.as_ref().unwrap().is_cancelled);
        let cal = all_in(&s, &key(who), "calendar").await;
        assert_eq!(cal.len(), 1, "{who}");
        assert!(cal[0].meeting.as_ref().unwrap().is_cancelled);
        assert_eq!(
            cal[0].calendar.as_ref().unwrap().legacy_free_busy_status,
            FreeBusy::Free
        );
        assert_eq!(cal[0].subject.as_deref(), Some("Canceled: Planning"));
    }
    // the organizer's meeting went to Deleted Items, a copy of the cancellation to Sent Items
    assert!(all_in(&s, &key("alice"), "calendar").await.is_empty());
    assert_eq!(all_in(&s, &key("alice"), "deleteditems").await.len(), 1);
    assert!(
        all_in(&s, &key("alice"), "sentitems")
            .await
            .iter()
            .any(|i| i.item_class == "IPM.Schedule.Meeting.Canceled")
    );
    // a cancelled meeting cannot be answered
    let copy = all_in(&s, &key("carol"), "calendar").await.remove(0);
    let e = s
        .respond_to_meeting(
            &key("carol"),
            copy.id,
            ItemGuard::Any,
            reply(ResponseType::Accept, carol(), Some("alice")),
        )
        .await
        .unwrap_err();
    assert_eq!(e.response_code(), "ErrorCalendarIsCancelledForAccept");
}

#[tokio::test]
async fn only_the_organizer_cancels() {
    let (s, _) = invited_store().await;
    let copy = all_in(&s, &key("bob"), "calendar").await.remove(0);
    let before = s.counters(&key("bob")).await.unwrap();
    let e = s
        .cancel_meeting(
            &key("bob"),
            copy.id,
            ItemGuard::Any,
            Cancel {
                from: bob(),
                sender: None,
                recipient_addresses: Vec::new(),
                message_id: "<c@contoso.example>".into(),
                deliver_to: vec![key("alice")],
                save_copy: false,
                delete: DeleteMode::Hard,
                subject: None,
                body: None,
                report: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.response_code(), "ErrorCalendarIsNotOrganizer");
    assert_eq!(s.counters(&key("bob")).await.unwrap(), before);
}

#[tokio::test]
async fn an_update_moves_the_copies_and_asks_again() {
    let (s, invited) = invited_store().await;
    let req = all_in(&s, &key("bob"), "inbox").await.remove(0);
    s.respond_to_meeting(
        &key("bob"),
        req.id,
        ItemGuard::Any,
        reply(ResponseType::Accept, bob(), Some("alice")),
    )
    .await
    .unwrap();
    let update = ItemUpdate {
        start: Some(datetime!(2024-03-01 14:00 UTC)),
        end: Some(datetime!(2024-03-01 15:00 UTC)),
        location: Some(Some("Room 2".into())),
        ..ItemUpdate::default()
    };
    let (done, conflicted) = s
        .update_meeting(
            &key("alice"),
            invited.item.id.clone(),
            None,
            false,
            update,
            ItemGuard::Any,
            invite(&["bob", "carol"], false),
        )
        .await
        .unwrap();
    assert!(!conflicted);
    assert_eq!(done.requests.len(), 2);
    let cal = all_in(&s, &key("bob"), "calendar").await;
    assert_eq!(cal.len(), 1);
    let c = cal[0].calendar.as_ref().unwrap();
    assert_eq!(c.start, datetime!(2024-03-01 14:00 UTC));
    assert_eq!(c.location.as_deref(), Some("Room 2"));
    assert_eq!(c.legacy_free_busy_status, FreeBusy::Tentative);
    assert_eq!(
        cal[0].meeting.as_ref().unwrap().my_response,
        ResponseType::NoResponseReceived
    );
    assert_eq!(all_in(&s, &key("bob"), "inbox").await.len(), 2);
    // Carol removed by a second update: her copy cancelled, a cancellation in her Inbox
    let mut inv = invite(&["bob"], false);
    inv.cancel_to = vec![key("carol"), key("bob")];
    s.update_meeting(
        &key("alice"),
        invited.item.id.clone(),
        None,
        false,
        ItemUpdate {
            optional: Some(mailbox::AttendeeEdit::Replace(vec![])),
            ..ItemUpdate::default()
        },
        ItemGuard::Any,
        inv,
    )
    .await
    .unwrap();
    let carol_cal = all_in(&s, &key("carol"), "calendar").await;
    assert!(carol_cal[0].meeting.as_ref().unwrap().is_cancelled);
    assert!(
        all_in(&s, &key("carol"), "inbox")
            .await
            .iter()
            .any(|i| i.item_class == "IPM.Schedule.Meeting.Canceled")
    );
    // Bob, still invited, is not cancelled
    let bob_cal = all_in(&s, &key("bob"), "calendar").await;
    assert!(!bob_cal[0].meeting.as_ref().unwrap().is_cancelled);
    assert_eq!(all_in(&s, &key("bob"), "inbox").await.len(), 3);
    // an end before the start is refused and writes nothing
    let before = s.counters(&key("bob")).await.unwrap();
    let e = s
        .update_meeting(
            &key("alice"),
            invited.item.id.clone(),
            None,
            false,
            ItemUpdate {
                end: Some(datetime!(2024-03-01 9:00 UTC)),
                ..ItemUpdate::default()
            },
            ItemGuard::Any,
            invite(&["bob"], false),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::CalendarEndBeforeStart), "{e:?}");
    assert_eq!(s.counters(&key("bob")).await.unwrap(), before);
}

#[tokio::test]
async fn attendees_change_by_update_and_survive_a_copy() {
    let s = store_with(&["alice"]).await;
    let mut item = meeting_item();
    item.meeting = None;
    let created = s
        .create_items(&key("alice"), d("calendar"), vec![item])
        .await
        .unwrap()
        .remove(0);
    assert!(created.meeting.is_none());
    let update = ItemUpdate {
        required: Some(mailbox::AttendeeEdit::Replace(vec![Attendee::new(bob())])),
        new_meeting: Some(Meeting::new("U-NEW".into(), alice())),
        ..ItemUpdate::default()
    };
    s.update_item(&key("alice"), created.id.clone(), None, update)
        .await
        .unwrap();
    let update = ItemUpdate {
        required: Some(mailbox::AttendeeEdit::Append(vec![Attendee::new(carol())])),
        ..ItemUpdate::default()
    };
    s.update_item(&key("alice"), created.id.clone(), None, update)
        .await
        .unwrap();
    let got = one(&s, &key("alice"), &created.id).await;
    let m = got.meeting.unwrap();
    assert_eq!(m.uid, "U-NEW");
    assert_eq!(
        m.required
            .iter()
            .map(|a| a.mailbox.email.as_str())
            .collect::<Vec<_>>(),
        ["bob@contoso.example", "carol@contoso.example"]
    );
    let copied = s
        .copy_items(&key("alice"), vec![created.id], d("inbox"))
        .await
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(copied.meeting.unwrap().required.len(), 2);
    // a message has no attendees
    let m = s
        .create_items(&key("alice"), d("drafts"), vec![msg("x")])
        .await
        .unwrap()
        .remove(0);
    let e = s
        .update_item(
            &key("alice"),
            m.id,
            None,
            ItemUpdate {
                required: Some(mailbox::AttendeeEdit::Replace(vec![])),
                ..ItemUpdate::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::InvalidValue(_)), "{e:?}");
}

#[tokio::test]
async fn a_request_under_recoverable_items_is_answered_only_with_the_archive_role() {
    let (s, _) = invited_store().await;
    let req = all_in(&s, &key("bob"), "inbox").await.remove(0);
    s.delete_items(
        &key("bob"),
        vec![req.id.clone()],
        DeleteMode::Soft,
        ItemGuard::Any,
    )
    .await
    .unwrap()
    .remove(0)
    .unwrap();
    let before = s.counters(&key("bob")).await.unwrap();
    let e = s
        .respond_to_meeting(
            &key("bob"),
            req.id.clone(),
            ItemGuard::OutsideRecoverableItems,
            reply(ResponseType::Accept, bob(), Some("alice")),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, MailboxError::InRecoverableItems), "{e:?}");
    assert_eq!(s.counters(&key("bob")).await.unwrap(), before);
    // answered from the calendar copy instead, the request in the dumpster is left alone
    let copy = all_in(&s, &key("bob"), "calendar").await.remove(0);
    s.respond_to_meeting(
        &key("bob"),
        copy.id,
        ItemGuard::OutsideRecoverableItems,
        reply(ResponseType::Accept, bob(), Some("alice")),
    )
    .await
    .unwrap();
    let req = one(&s, &key("bob"), &req.id).await;
    assert!(!req.meeting.unwrap().has_been_processed);
}

/// A meeting's uid is no key to another organizer's meeting: Carol uploads an organizer's item
/// of her own that carries the uid of Alice's meeting and lists Bob, then cancels it. Bob gets
/// Carol's cancellation, but his copy of Alice's meeting stays as it was.
#[tokio::test]
async fn a_borrowed_uid_cancels_no_one_elses_copies() {
    let (s, _) = invited_store().await;
    let mut forged = Meeting::new(UID.into(), carol());
    forged.required = vec![Attendee::new(bob())];
    let uploaded = s
        .upload_item(
            &key("carol"),
            d("calendar"),
            mailbox::UploadTarget::New,
            mailbox::UploadContent {
                item: NewItem {
                    meeting: Some(forged),
                    ..meeting_item()
                },
                received: None,
                user_configuration: None,
            },
            ItemGuard::Any,
        )
        .await
        .unwrap();
    let done = s
        .cancel_meeting(
            &key("carol"),
            uploaded.item.id.clone(),
            ItemGuard::Any,
            Cancel {
                from: carol(),
                sender: None,
                recipient_addresses: Vec::new(),
                message_id: "<forged@contoso.example>".into(),
                deliver_to: vec![key("bob")],
                save_copy: false,
                delete: DeleteMode::Hard,
                subject: None,
                body: None,
                report: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(done.delivered.len(), 1);
    assert!(
        done.cancelled_copies.is_empty(),
        "{:?}",
        done.cancelled_copies
    );
    let copy = all_in(&s, &key("bob"), "calendar").await.remove(0);
    let m = copy.meeting.unwrap();
    assert!(!m.is_cancelled);
    assert_eq!(m.organizer.email, alice().email);
    assert_eq!(
        copy.calendar.unwrap().legacy_free_busy_status,
        FreeBusy::Tentative
    );
}
