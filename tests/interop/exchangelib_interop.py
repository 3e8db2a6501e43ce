"""exchangelib against the lab's Exchange, with an S2S bearer token minted through the real F1 flow.

Usage: exchangelib_interop.py <ews_url> <token> <smtp>
Prints one JSON object with what it saw; exits non-zero on any failure.
"""
import base64
import email
import email.policy
import json
import os
import sys

os.environ.setdefault("OAUTHLIB_INSECURE_TRANSPORT", "1")

from exchangelib import (  # noqa: E402
    DELEGATE,
    OAUTH2,
    Account,
    Build,
    Configuration,
    HTMLBody,
    Message,
    OAuth2AuthorizationCodeCredentials,
    Version,
)
from exchangelib.folders import ConversationHistory, RecoverableItemsPurges  # noqa: E402


def streaming(acc) -> dict:
    """EWS streaming notifications: subscribe_to_streaming() on the Inbox, a message saved there,
    GetStreamingEvents until its CreatedEvent/NewMailEvent comes (ConnectionTimeout is a minute,
    but with max_notifications_returned=1 exchangelib stops reading at the first notification,
    and the event is pending when the connection opens), then Unsubscribe, after which the
    subscription is refused."""
    from exchangelib.properties import CreatedEvent, ModifiedEvent, NewMailEvent  # noqa: E402

    st = {}
    sub = acc.inbox.subscribe_to_streaming()
    st["subscribed"] = bool(sub)
    tag = base64.b16encode(os.urandom(4)).decode()
    Message(account=acc, folder=acc.inbox, subject="Streamed " + tag, body="Event").save()
    saved = acc.inbox.get(subject="Streamed " + tag)
    seen = []
    counts = []
    for _ in range(3):
        for n in acc.inbox.get_streaming_events(sub, connection_timeout=1, max_notifications_returned=1):
            st["notification_for"] = n.subscription_id == sub
            seen += [[type(e).__name__, e.item_id.id == saved.id] for e in n.events
                     if isinstance(e, (CreatedEvent, NewMailEvent))]
            # the Inbox's own ModifiedEvent, with its unread count, after the item's event
            counts += [e.unread_count for e in n.events
                       if isinstance(e, ModifiedEvent) and e.folder_id is not None
                       and e.folder_id.id == acc.inbox.id]
        if seen:
            break
    st["events"] = seen
    st["inbox_unread_counts"] = counts
    acc.inbox.unsubscribe(sub)
    try:
        list(acc.inbox.get_streaming_events(sub, connection_timeout=1))
        st["after_unsubscribe"] = "accepted"
    except Exception as e:
        st["after_unsubscribe"] = type(e).__name__
    return st


def free_busy(acc) -> dict:
    """GetUserAvailability through Protocol.get_free_busy_info (which reads the zone from
    GetServerTimeZones first): Alice's own appointment with its details, Bob's (created by the Rust
    side, 2030-03-30 09:00-10:00 UTC, tentative) as times only, in Europe/Copenhagen across the
    change to summer time (2030-03-31), at 30 minutes; an unknown address answered on its own;
    a window over 62 days refused as a whole."""
    import datetime
    from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone  # noqa: E402

    tz = EWSTimeZone("Europe/Copenhagen")
    tag = base64.b16encode(os.urandom(4)).decode()
    CalendarItem(
        account=acc,
        folder=acc.calendar,
        subject="Interop planning",
        location="Room 7 " + tag,
        start=EWSDateTime(2030, 3, 31, 10, 0, tzinfo=tz),
        end=EWSDateTime(2030, 3, 31, 11, 30, tzinfo=tz),
        legacy_free_busy_status="Busy",
    ).save()
    start = EWSDateTime(2030, 3, 30, 0, 0, tzinfo=tz)
    end = EWSDateTime(2030, 4, 1, 0, 0, tzinfo=tz)
    views = list(acc.protocol.get_free_busy_info(
        accounts=[(acc, "Organizer", False), ("bob@contoso.example", "Required", False),
                  ("nobody@contoso.example", "Optional", False)],
        start=start, end=end, merged_free_busy_interval=30, requested_view="DetailedMerged"))
    fb = {}
    for name, v in zip(["alice", "bob", "nobody"], views):
        if isinstance(v, Exception):
            fb[name] = type(v).__name__
            continue
        events = sorted({
            (e.start.isoformat(), e.end.isoformat(), e.busy_type,
             e.details.subject if e.details else None,
             bool(e.details and e.details.location and e.details.location.startswith("Room 7")))
            for e in (v.calendar_events or [])
        })
        fb[name] = {
            "view": v.view_type,
            "merged": v.merged,
            "events": [list(e) for e in events],
            "working_hours": [[list(p.weekdays), p.start.isoformat(), p.end.isoformat()]
                              for p in (v.working_hours or [])],
        }
    try:
        list(acc.protocol.get_free_busy_info(accounts=[(acc, "Organizer", False)], start=start,
                                             end=start + datetime.timedelta(days=63)))
        fb["too_long"] = "answered"
    except Exception as e:
        fb["too_long"] = type(e).__name__ + ": " + str(e)[:160]
    return fb


def folders(acc) -> dict:
    """DeleteFolder and EmptyFolder with MoveToDeletedItems, and folder events: a pull
    subscription on the Inbox, a folder created there with a message in it, the folder emptied
    (the message to Deleted Items, the folder stays), a second message, the folder deleted to
    Deleted Items (it moves there whole, the message with it), deleted again from there with
    SoftDelete (gone, its message in Recoverable Items\\Deletions); GetEvents reports the folder's
    CreatedEvent and MovedEvent (with t:FolderId, out of the Inbox)."""
    from exchangelib.folders import Folder, FolderCollection  # noqa: E402
    from exchangelib.properties import CreatedEvent, MovedEvent  # noqa: E402

    tag = base64.b16encode(os.urandom(4)).decode()
    fo = {"tag": tag}
    name = "Cleanup " + tag
    sub, watermark = acc.inbox.subscribe_to_pull()
    f = Folder(parent=acc.inbox, name=name)
    f.save()
    fid = f.id
    Message(account=acc, folder=f, subject="Emptied " + tag, body="first").save()
    f.empty(delete_type="MoveToDeletedItems")
    fo["left_after_empty"] = f.all().count()
    fo["emptied_to_trash"] = acc.trash.filter(subject="Emptied " + tag).count()
    Message(account=acc, folder=f, subject="Moved with " + tag, body="second").save()
    f.delete(delete_type="MoveToDeletedItems")

    def trash_folders():
        return [x for x in FolderCollection(account=acc, folders=[acc.trash]).find_folders(shape="Default")
                if x.name == name]

    moved = trash_folders()
    fo["in_trash"] = [[x.id == fid, [i.subject for i in x.all()]] for x in moved]
    moved[0].delete(delete_type="SoftDelete")
    fo["gone_from_trash"] = not trash_folders()
    fo["in_dumpster"] = acc.recoverable_items_deletions.filter(subject="Moved with " + tag).count()
    seen = []
    for n in acc.inbox.get_events(sub, watermark):
        for e in n.events:
            if isinstance(e, (CreatedEvent, MovedEvent)) and e.event_type == e.FOLDER:
                old = getattr(e, "old_parent_folder_id", None)
                seen.append([type(e).__name__, e.folder_id.id == fid, e.parent_folder_id.id == acc.inbox.id,
                             old is not None and old.id == acc.inbox.id])
    fo["events"] = seen
    acc.inbox.unsubscribe(sub)
    # MoveFolder: a folder with a message moved, whole, from the Inbox under Drafts
    mover = Folder(parent=acc.inbox, name="Mover " + tag)
    mover.save()
    Message(account=acc, folder=mover, subject="Carried " + tag, body="third").save()
    mover.move(acc.drafts)
    found = [x for x in FolderCollection(account=acc, folders=[acc.drafts]).find_folders(shape="Default")
             if x.name == "Mover " + tag]
    fo["moved_folder"] = [[x.id == mover.id, [i.subject for i in x.all()]] for x in found]
    mover.delete()
    return fo


# The distribution group the lab test (crates/lab/tests/e2e.rs, exchangelib_interop) creates:
# Interop Team = Bob and Interop Inner; Interop Inner = Alice and Interop Team (a cycle).
GROUP_NAME = "Interop Team"
GROUP = "interop-team@contoso.example"


def groups(acc) -> dict:
    """Distribution groups: Protocol.expand_dl of the group (one level: Bob, and the nested group
    as a PublicDL), Protocol.resolve_names of its name (a PublicDL), and a Message sent to it.
    Alice, a member through the nested group, has her copy with the group on its To line; Bob's
    is read by the Rust side with a token of his own."""
    gr = {}
    gr["expanded"] = sorted([m.name, m.email_address, m.mailbox_type] for m in acc.protocol.expand_dl(GROUP))
    gr["resolved"] = [[m.name, m.email_address, m.mailbox_type] for m in acc.protocol.resolve_names([GROUP_NAME])]
    tag = base64.b16encode(os.urandom(4)).decode()
    gr["tag"] = tag
    Message(account=acc, subject="Group " + tag, body="To the team", to_recipients=[GROUP]).send_and_save()
    gr["sent_to"] = [[r.email_address for r in m.to_recipients or []]
                     for m in acc.sent.filter(subject="Group " + tag)]
    gr["received"] = [[r.email_address for r in m.to_recipients or []]
                      for m in acc.inbox.filter(subject="Group " + tag)]
    return gr


def bulk_transfer(acc) -> dict:
    """EWS bulk transfer: Account.export() of an archived chat in Conversation History (with a
    file attachment), Account.upload() of its data into the Inbox (CreateNew) and back over the
    item itself after a change (Update with its id), each read back field by field; data that
    is not a stream is ErrorCorruptData."""
    from exchangelib import FileAttachment  # noqa: E402
    from exchangelib.errors import ErrorCorruptData  # noqa: E402

    tag = base64.b16encode(os.urandom(4)).decode()
    bt = {"tag": tag}
    subject = "Bulk " + tag
    m = Message(
        account=acc,
        folder=acc.conversation_history,
        subject=subject,
        body=HTMLBody("<div>Alice: hi<br>Bob: hello</div>"),
        to_recipients=["bob@contoso.example"],
        cc_recipients=["carol@contoso.example"],
        categories=["Skype", "Archive"],
        importance="High",
        sensitivity="Private",
        is_read=True,
        attachments=[FileAttachment(name="transcript.txt", content_type="text/plain", content=b"hi\r\nhello")],
    )
    m.save()
    item = acc.conversation_history.get(id=m.id)
    data = acc.export([item])
    bt["exported"] = [type(d).__name__ for d in data]
    new_id, new_ck = acc.upload([(acc.inbox, data[0])])[0]
    copy = acc.inbox.get(id=new_id)
    fields = ["subject", "body", "item_class", "importance", "sensitivity", "is_read", "categories",
              "datetime_received", "datetime_sent", "datetime_created", "has_attachments"]
    bt["differs"] = [f for f in fields if getattr(item, f) != getattr(copy, f)]

    def lines(i):
        return [[r.email_address for r in i.to_recipients or []], [r.email_address for r in i.cc_recipients or []]]

    bt["lines"] = [lines(item) == lines(copy), lines(copy)]
    bt["attachments"] = [[a.name, a.content_type, a.content] == [b.name, b.content_type, b.content]
                         for a, b in zip(item.attachments, copy.attachments)]
    bt["copy_changekey"] = copy.changekey == new_ck
    # changed, then the exported data uploaded over it (CreateAction Update, its id)
    item.subject = subject + " changed"
    item.save(update_fields=["subject"])
    back_id, _ = acc.upload([(acc.conversation_history, ((item.id, item.changekey), False, data[0]))])[0]
    restored = acc.conversation_history.get(id=item.id)
    bt["restored"] = [back_id == item.id, restored.subject == subject,
                      acc.conversation_history.filter(subject__startswith=subject).count()]
    bad = acc.upload([(acc.inbox, base64.b64encode(b"not a stream").decode())])
    bt["corrupt"] = [isinstance(r, ErrorCorruptData) for r in bad]
    acc.bulk_delete([copy, restored])
    return bt


def meetings(acc, bob) -> dict:
    """Meetings between Alice (acc) and Bob (bob): Alice saves a CalendarItem with Bob as a
    required attendee (SEND_TO_ALL_AND_SAVE_COPY); Bob finds the MeetingRequest in his Inbox
    and accepts it; Alice's item shows Bob's Accept and Bob's copy is Busy. A second meeting
    Bob declines (his copy goes to Deleted Items); then Alice cancels the first by deleting it
    with SEND_TO_ALL_AND_SAVE_COPY and Bob gets a MeetingCancellation, his copy cancelled."""
    import datetime  # noqa: E402

    from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone  # noqa: E402
    from exchangelib.items import SEND_TO_ALL_AND_SAVE_COPY  # noqa: E402

    tag = base64.b16encode(os.urandom(4)).decode()
    utc = EWSTimeZone("UTC")
    start = EWSDateTime(2030, 4, 2, 10, 0, tzinfo=utc)
    mt = {"tag": tag}
    subject = "Meeting " + tag
    item = CalendarItem(account=acc, folder=acc.calendar, subject=subject, start=start,
                        end=start + datetime.timedelta(hours=1), location="Room 1",
                        required_attendees=["bob@contoso.example"])
    item.save(send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
    reqs = list(bob.inbox.filter(subject=subject))
    mt["request_types"] = [type(r).__name__ for r in reqs]
    req = reqs[0]
    mt["request"] = [req.item_class, req.start == start, req.organizer.email_address]
    req.accept()
    own = acc.calendar.get(subject=subject)
    mt["organizer_view"] = [own.is_meeting, own.my_response_type, own.meeting_request_was_sent,
                            [[a.mailbox.email_address, a.response_type] for a in own.required_attendees or []],
                            bool(own.uid)]
    copy = bob.calendar.get(subject=subject)
    # exchangelib's MeetingRequest has no uid; Bob's calendar copy shares the organizer's
    mt["bob_copy"] = [copy.legacy_free_busy_status, copy.my_response_type, copy.uid == own.uid]
    mt["responses"] = [[type(r).__name__, r.item_class] for r in acc.inbox.filter(subject="Accepted: " + subject)]
    mt["request_processed"] = list(bob.fetch(ids=[req]))[0].has_been_processed
    # the decline path
    subject2 = "Declined " + tag
    item2 = CalendarItem(account=acc, folder=acc.calendar, subject=subject2,
                         start=start + datetime.timedelta(hours=3), end=start + datetime.timedelta(hours=4),
                         required_attendees=["bob@contoso.example"])
    item2.save(send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
    bob.inbox.get(subject=subject2).decline()
    own2 = acc.calendar.get(subject=subject2)
    mt["declined"] = [[a.response_type for a in own2.required_attendees or []],
                      bob.calendar.filter(subject=subject2).count(),
                      bob.trash.filter(subject=subject2).count(),
                      [r.item_class for r in acc.inbox.filter(subject="Declined: " + subject2)]]
    # the cancel path
    own.delete(send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY)
    mt["cancelled"] = [[type(c).__name__, c.item_class] for c in bob.inbox.filter(subject="Canceled: " + subject)]
    copy = bob.calendar.get(subject="Canceled: " + subject)
    mt["cancelled_copy"] = [copy.is_cancelled, copy.legacy_free_busy_status]
    mt["organizer_left"] = acc.calendar.filter(subject=subject).count()
    # a room (the lab test's Interop Room books itself) as a resource, three days from now:
    # accepted by its booking attendant, as the organizer's item and Inbox show
    d = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=3)
    soon = EWSDateTime(d.year, d.month, d.day, 10, 0, tzinfo=utc)
    room_item = CalendarItem(account=acc, folder=acc.calendar, subject="Room " + tag, start=soon,
                             end=soon + datetime.timedelta(hours=1),
                             resources=["interop-room@contoso.example"])
    room_item.save(send_meeting_invitations=SEND_TO_ALL_AND_SAVE_COPY)
    booked = acc.calendar.get(subject="Room " + tag)
    mt["room"] = [[a.mailbox.email_address, a.response_type] for a in booked.resources or []]
    mt["room_answer"] = [r.item_class for r in acc.inbox.filter(subject="Accepted: Room " + tag)]
    booked.delete(send_meeting_cancellations=SEND_TO_ALL_AND_SAVE_COPY)
    return mt


def recurring(acc) -> dict:
    """A recurring series: a daily 09:00 meeting in Los Angeles time, five occurrences from
    Friday 2030-03-08 across the change to daylight saving time (Sunday 2030-03-10), saved with
    exchangelib's Recurrence; then the series read back (FindItem), the occurrences a calendar
    view lists, one occurrence read by OccurrenceItemId and its series by RecurringMasterItemId,
    and one occurrence deleted."""
    import datetime  # noqa: E402

    from exchangelib import CalendarItem, EWSDate, EWSDateTime, EWSTimeZone  # noqa: E402
    from exchangelib.recurrence import DailyPattern, Recurrence  # noqa: E402

    tag = base64.b16encode(os.urandom(4)).decode()
    subject = "Standup " + tag
    la = EWSTimeZone("America/Los_Angeles")
    utc = EWSTimeZone("UTC")
    start = EWSDateTime(2030, 3, 8, 9, 0, tzinfo=la)
    CalendarItem(account=acc, folder=acc.calendar, subject=subject, start=start,
                 end=start + datetime.timedelta(minutes=15),
                 recurrence=Recurrence(pattern=DailyPattern(interval=1), start=EWSDate(2030, 3, 8), number=5)).save()
    rc = {}
    master = acc.calendar.get(subject=subject)
    rc["master"] = [master.type, str(master.recurrence.pattern), type(master.recurrence.boundary).__name__,
                    master.recurrence.boundary.number, master.first_occurrence.start.astimezone(utc).isoformat(),
                    master.last_occurrence.start.astimezone(utc).isoformat(), str(master._start_timezone)]

    def view():
        return [o for o in acc.calendar.view(start=EWSDateTime(2030, 3, 1, tzinfo=utc),
                                             end=EWSDateTime(2030, 3, 31, tzinfo=utc))
                if o.subject == subject]

    seen = view()
    rc["view"] = [[o.type, o.start.astimezone(utc).isoformat(), o.start.astimezone(la).strftime("%H:%M")]
                  for o in seen]
    third = master.occurrence(index=3)
    third.refresh()
    rc["third"] = [third.type, third.start.astimezone(utc).isoformat(), third.id == seen[2].id]
    back = third.recurring_master()
    back.refresh()
    rc["master_again"] = [back.type, back.id == master.id]
    seen[1].delete()
    rc["after_delete"] = [o.start.astimezone(utc).isoformat() for o in view()]
    # one occurrence changed on its own: the fourth an hour later, with its own subject
    fourth = seen[3]
    fourth.subject = "Standup (late) " + tag
    fourth.start += datetime.timedelta(hours=1)
    fourth.end += datetime.timedelta(hours=1)
    fourth.save(update_fields=["subject", "start", "end"])
    changed = [o for o in acc.calendar.view(start=EWSDateTime(2030, 3, 1, tzinfo=utc),
                                            end=EWSDateTime(2030, 3, 31, tzinfo=utc))
               if o.subject and tag in o.subject]
    rc["exception"] = [[o.type, o.subject == subject, o.start.astimezone(utc).isoformat()] for o in changed]
    # a single appointment changed with a plain save(): exchangelib sends every field it holds
    single = CalendarItem(account=acc, folder=acc.calendar, subject="Dentist " + tag,
                          start=EWSDateTime(2030, 3, 20, 15, 0, tzinfo=utc),
                          end=EWSDateTime(2030, 3, 20, 16, 0, tzinfo=utc))
    single.save()
    single.legacy_free_busy_status = "OOF"
    single.is_all_day = False
    single.location = "Main street"
    single.save()
    again = acc.calendar.get(subject="Dentist " + tag)
    rc["single_saved"] = [again.legacy_free_busy_status, again.location, again.type]
    master = acc.calendar.get(subject=subject)
    rc["deleted"] = [d.start.astimezone(utc).isoformat() for d in master.deleted_occurrences or []]
    return rc


def contacts(acc) -> dict:
    """A contact saved with exchangelib's Contact (names, two email addresses, phone numbers, a
    business address, a birthday) into the Contacts folder, listed and read back, changed with
    save(update_fields=...) and with a plain save(), found by ResolveNames by its name and by its
    address, and deleted."""
    from exchangelib import Contact, EWSDate  # noqa: E402
    from exchangelib.indexed_properties import EmailAddress, PhoneNumber, PhysicalAddress  # noqa: E402

    tag = base64.b16encode(os.urandom(4)).decode().lower()
    given = "Zed" + tag
    address = given + "@fabrikam.example"
    c = Contact(account=acc, folder=acc.contacts, display_name=given + " Fabrikam", given_name=given,
                surname="Fabrikam", company_name="Fabrikam", job_title="Buyer",
                email_addresses=[EmailAddress(email=address, label="EmailAddress1"),
                                 EmailAddress(email="z" + tag + "@home.example", label="EmailAddress2")],
                phone_numbers=[PhoneNumber(label="MobilePhone", phone_number="+1 555 0100"),
                               PhoneNumber(label="BusinessPhone", phone_number="+1 555 0101")],
                physical_addresses=[PhysicalAddress(label="Business", street="1 Main St", city="Springfield",
                                                    zipcode="12345", country="US")],
                birthday=EWSDate(1990, 5, 17))
    c.save()
    ct = {"listed": [x.display_name for x in acc.contacts.all() if getattr(x, "given_name", None) == given]}
    got = acc.contacts.get(id=c.id)

    def shown(x):
        return {
            "display_name": x.display_name, "given_name": x.given_name, "surname": x.surname,
            "company": x.company_name, "job_title": x.job_title, "nickname": x.nickname,
            "emails": sorted([e.label, e.email] for e in x.email_addresses or []),
            "phones": sorted([p.label, p.phone_number] for p in x.phone_numbers or []),
            "addresses": [[a.label, a.street, a.city, a.zipcode, a.country] for a in x.physical_addresses or []],
            "birthday": str(x.birthday) if x.birthday else None,
            "type": type(x).__name__, "subject": x.subject,
        }

    ct["saved"] = shown(got)
    # found by its properties (FindItem restrictions) and sorted by name
    Contact(account=acc, folder=acc.contacts, display_name="Abe " + tag, given_name="Abe" + tag,
            surname="Fabrikam").save()
    ct["filtered"] = [x.display_name for x in acc.contacts.filter(given_name=given)]
    ct["by_email"] = [x.given_name for x in acc.contacts.filter(email_addresses__EmailAddress1=address)]
    ct["ordered"] = [x.given_name for x in acc.contacts.filter(surname="Fabrikam", display_name__contains=tag)
                     .order_by("-given_name")]
    # one property and one dictionary changed (UpdateItem: SetItemField, IndexedFieldURI entries)
    got.job_title = "Head buyer"
    got.phone_numbers = [PhoneNumber(label="MobilePhone", phone_number="+1 555 0199")]
    got.save(update_fields=["job_title", "phone_numbers"])
    ct["updated"] = shown(acc.contacts.get(id=c.id))
    # a plain save(): exchangelib sets every field it holds and deletes every one it does not
    again = acc.contacts.get(id=c.id)
    again.nickname = "Z"
    again.company_name = None
    again.save()
    ct["saved_again"] = shown(acc.contacts.get(id=c.id))
    # ResolveNames finds the contact by its name and by its address
    ct["resolved"] = [[m.name, m.email_address, m.mailbox_type] for m in acc.protocol.resolve_names([given])]
    full = acc.protocol.resolve_names(["SMTP:" + address], return_full_contact_data=True, search_scope="Contacts")
    ct["resolved_full"] = [[m.email_address, c2.display_name] for m, c2 in full]
    acc.contacts.get(id=c.id).delete()
    ct["after_delete"] = [x.display_name for x in acc.contacts.all() if getattr(x, "given_name", None) == given]
    return ct


def tasks(acc) -> dict:
    """A task saved with exchangelib's Task into Tasks (dates, percent complete, status), read
    back with what the server derives, completed with save(update_fields=...), found by its
    status, and deleted."""
    from decimal import Decimal  # noqa: E402

    from exchangelib import EWSDate, Task  # noqa: E402

    tag = base64.b16encode(os.urandom(4)).decode()
    t = Task(account=acc, folder=acc.tasks, subject="Report " + tag, body="Quarterly numbers",
             start_date=EWSDate(2030, 3, 2), due_date=EWSDate(2030, 3, 6),
             percent_complete=Decimal(50), status="InProgress")
    t.save()
    got = acc.tasks.get(id=t.id)
    tk = {"saved": [got.subject, str(got.start_date), str(got.due_date), str(got.percent_complete),
                    got.status, got.is_complete, got.status_description]}
    Task(account=acc, folder=acc.tasks, subject="Later " + tag).save()
    # exchangelib does not filter on status itself: read each
    tk["not_started"] = sorted(x.subject for x in acc.tasks.filter(subject__contains=tag)
                               if x.status == Task.NOT_STARTED)
    got.status = Task.COMPLETED
    got.save(update_fields=["status"])
    done = acc.tasks.get(id=t.id)
    tk["completed"] = [done.status, str(done.percent_complete), done.is_complete,
                       done.complete_date is not None]
    tk["by_percent"] = [x.subject for x in acc.tasks.filter(subject__contains=tag).order_by("-percent_complete")]
    # a recurring task, Mondays and Wednesdays: completing Monday's saves a one-off task, whose
    # id save() takes (exchangelib expects a task's id to change), and moves the task on
    from exchangelib.recurrence import NumberedPattern, TaskRecurrence, WeeklyPattern  # noqa: E402

    r = Task(account=acc, folder=acc.tasks, subject="Standup " + tag, due_date=EWSDate(2030, 3, 4),
             recurrence=TaskRecurrence(pattern=WeeklyPattern(interval=1, weekdays=[1, 3], first_day_of_week=1),
                                       boundary=NumberedPattern(start=EWSDate(2030, 3, 4), number=10)))
    r.save()
    series_id = r.id
    r.status = Task.COMPLETED
    r.save(update_fields=["status"])
    one_off = acc.tasks.get(id=r.id)
    series = acc.tasks.get(id=series_id)
    tk["recurring"] = {
        "one_off": [r.id != series_id, one_off.status, str(one_off.due_date), one_off.recurrence is None],
        "series": [series.status, str(series.due_date), str(series.recurrence.boundary.start),
                   series.recurrence.boundary.number],
    }
    for x in acc.tasks.filter(subject__contains=tag):
        x.delete()
    tk["after_delete"] = acc.tasks.filter(subject__contains=tag).count()
    return tk


def replies(acc) -> dict:
    """A message Alice sends herself, answered with exchangelib's reply(), create_reply().save()
    (a draft), reply_all() and forward() (to Bob): each composed by the server from the
    original."""
    from exchangelib import Message  # noqa: E402

    tag = base64.b16encode(os.urandom(4)).decode()
    Message(account=acc, folder=acc.sent, subject="Numbers " + tag, body="Q3 attached.",
            to_recipients=[acc.primary_smtp_address]).send_and_save()
    original = acc.inbox.get(subject="Numbers " + tag)
    original.reply(subject="RE: Numbers " + tag, body="Thanks!")
    original.create_reply(subject="Draft reply " + tag, body="Later.").save(acc.drafts)
    original.reply_all(subject="All: Numbers " + tag, body="To all.")
    original.forward(subject="FW: Numbers " + tag, body="FYI", to_recipients=["bob@contoso.example"])
    reply = acc.inbox.get(subject="RE: Numbers " + tag)
    draft = acc.drafts.get(subject="Draft reply " + tag)
    fwd = acc.sent.get(subject="FW: Numbers " + tag)
    out = {
        "reply": [[m.email_address for m in reply.to_recipients], "Thanks!" in reply.text_body,
                  "Q3 attached." in reply.text_body],
        "draft": [draft.is_draft, [m.email_address for m in draft.to_recipients]],
        "reply_all_in_inbox": acc.inbox.filter(subject="All: Numbers " + tag).count(),
        "forward": [[m.email_address for m in fwd.to_recipients], "FYI" in fwd.text_body],
        # in the original's thread: item:InReplyTo and message:References name its Message-ID
        "thread": [reply.in_reply_to == original.message_id, reply.references == original.message_id,
                   fwd.in_reply_to == original.message_id],
        # one conversation: item:ConversationId the same, message:ConversationTopic the subject
        "conversation": [reply.conversation_id.id == original.conversation_id.id,
                         fwd.conversation_id.id == original.conversation_id.id,
                         reply.conversation_topic == "Numbers " + tag, reply.conversation_index is not None],
    }
    for folder in (acc.inbox, acc.sent, acc.drafts):
        for x in folder.filter(subject__contains=tag):
            x.delete()
    return out


def junk(acc, bob) -> dict:
    """Junk email: Bob writes to Alice; Message.mark_as_junk() moves it to Junk Email and blocks
    Bob, so his next message is delivered there; mark_as_junk(is_junk=False) brings it back to
    the Inbox and unblocks him."""
    tag = base64.b16encode(os.urandom(4)).decode()
    Message(account=bob, subject="Junk " + tag, body="Buy now",
            to_recipients=["alice@contoso.example"]).send()
    m = acc.inbox.get(subject="Junk " + tag)
    m.mark_as_junk(is_junk=True, move_item=True)
    out = {"moved": [m.folder.name, acc.junk.filter(subject="Junk " + tag).count()]}
    Message(account=bob, subject="Junk again " + tag, body="Buy now",
            to_recipients=["alice@contoso.example"]).send()
    out["next_in_junk"] = [acc.junk.filter(subject="Junk again " + tag).count(),
                           acc.inbox.filter(subject="Junk again " + tag).count()]
    back = acc.junk.get(subject="Junk " + tag)
    back.mark_as_junk(is_junk=False, move_item=True)
    out["back"] = [back.folder.name, acc.inbox.filter(subject="Junk " + tag).count()]
    Message(account=bob, subject="Not junk " + tag, body="Lunch?",
            to_recipients=["alice@contoso.example"]).send()
    out["unblocked"] = acc.inbox.filter(subject="Not junk " + tag).count()
    for folder in (acc.inbox, acc.junk):
        for x in folder.filter(subject__contains=tag):
            x.delete()
    return out


def inbox_rules(acc, bob) -> dict:
    """Inbox rules: Account.create_rule() of a rule that files Bob's reports in a folder and
    marks them read (unless the subject says keep), Account.rules listing it, Bob's mail filed by
    it at delivery, then Account.set_rule() disabling it and Account.delete_rule()."""
    from exchangelib import Folder  # noqa: E402
    from exchangelib.properties import Actions, Conditions, Exceptions, Rule  # noqa: E402

    tag = base64.b16encode(os.urandom(4)).decode()
    folder = Folder(parent=acc.inbox, name="Reports " + tag)
    folder.save()
    rule = Rule(display_name="File " + tag, priority=1, is_enabled=True,
                conditions=Conditions(contains_subject_strings=[tag],
                                      from_addresses=["bob@contoso.example"]),
                exceptions=Exceptions(contains_subject_strings=["keep"]),
                actions=Actions(move_to_folder=folder, mark_as_read=True))
    acc.create_rule(rule)
    out = {"created_id": bool(rule.id)}
    listed = [r for r in acc.rules if r.display_name == "File " + tag]
    out["listed"] = [[r.priority, r.is_enabled, r.conditions.contains_subject_strings,
                      r.actions.mark_as_read, r.actions.move_to_folder is not None] for r in listed]
    Message(account=bob, subject="Report " + tag, body="Numbers",
            to_recipients=["alice@contoso.example"]).send()
    Message(account=bob, subject="Report keep " + tag, body="Numbers",
            to_recipients=["alice@contoso.example"]).send()
    out["filed"] = [[m.subject.replace(tag, "TAG"), m.is_read] for m in folder.all()]
    out["kept"] = acc.inbox.filter(subject="Report keep " + tag).count()
    rule.is_enabled = False
    acc.set_rule(rule)
    out["disabled"] = [r.is_enabled for r in acc.rules if r.id == rule.id]
    acc.delete_rule(rule)
    out["deleted"] = [r.display_name for r in acc.rules if r.display_name == "File " + tag]
    for x in acc.inbox.filter(subject__contains=tag):
        x.delete()
    folder.delete()
    return out


def delegates(acc, bob_creds, url) -> dict:
    """Delegates: Account.delegates (GetDelegate) on Alice's mailbox, where the Rust side made Bob
    a delegate (Editor on her Calendar, Reviewer on Tasks); then Bob with his own token acting on
    Alice's mailbox the way exchangelib does for a delegate, Account(alice, credentials=Bob's,
    access_type=DELEGATE): he books an appointment on her calendar, which she sees, and her Inbox,
    which her delegation does not give him, is refused."""
    from exchangelib import CalendarItem, EWSDateTime, EWSTimeZone  # noqa: E402

    d = {}
    d["list"] = [[u.user_id.primary_smtp_address,
                  u.delegate_permissions.calendar_folder_permission_level,
                  u.delegate_permissions.tasks_folder_permission_level,
                  u.delegate_permissions.inbox_folder_permission_level,
                  u.receive_copies_of_meeting_messages, u.view_private_items]
                 for u in acc.delegates]
    # the Calendar's folder:PermissionSet, which exchangelib asks for with the folder
    acc.calendar.refresh()
    ps = acc.calendar.permission_set
    d["calendar_permissions"] = None if ps is None else [
        [p.user_id.distinguished_user or p.user_id.primary_smtp_address,
         p.calendar_permission_level, p.read_items]
        for p in (ps.calendar_permissions or [])]
    as_bob = Account(acc.primary_smtp_address, config=Configuration(
        service_endpoint=url, credentials=bob_creds, auth_type=OAUTH2,
        version=Version(build=Build(15, 1, 2507, 6))), autodiscover=False, access_type=DELEGATE,
        credentials=bob_creds)
    tag = base64.b16encode(os.urandom(4)).decode()
    tz = EWSTimeZone("UTC")
    CalendarItem(account=as_bob, folder=as_bob.calendar, subject="Booked by Bob " + tag,
                 start=EWSDateTime(2030, 4, 2, 9, 0, tzinfo=tz),
                 end=EWSDateTime(2030, 4, 2, 10, 0, tzinfo=tz)).save()
    d["alice_sees"] = [i.subject.split(" " + tag)[0] for i in acc.calendar.filter(subject="Booked by Bob " + tag)]
    d["bob_sees"] = as_bob.calendar.filter(subject="Booked by Bob " + tag).count()
    try:
        list(as_bob.inbox.all()[:1])
        d["inbox"] = "read"
    except Exception as e:
        d["inbox"] = type(e).__name__
    return d


def main() -> int:
    url, token, smtp = sys.argv[1], sys.argv[2], sys.argv[3]
    creds = OAuth2AuthorizationCodeCredentials(access_token={"access_token": token, "token_type": "Bearer"})
    probe = "--probe" in sys.argv
    out = {}
    # SOAP Autodiscover first, with exchangelib's own client: where is the user's EWS?
    from exchangelib.autodiscover.protocol import AutodiscoverProtocol  # noqa: E402
    from exchangelib.errors import ErrorNonExistentMailbox  # noqa: E402

    ad_url = url.rsplit("/EWS/", 1)[0] + "/autodiscover/autodiscover.svc"
    ad = AutodiscoverProtocol(config=Configuration(service_endpoint=ad_url, credentials=creds, auth_type=OAUTH2))
    found = ad.get_user_settings(user=smtp)
    found.raise_errors()
    # the URL from inside the organization (the lab's loopback); ews_url is ExternalEwsUrl
    internal_url = found.user_settings.get("internal_ews_url")
    out["autodiscover"] = {
        "ews_url": found.ews_url,
        "internal_ews_url": internal_url,
        "smtp": found.autodiscover_smtp_address,
        "version": found.version.api_version if found.version else None,
    }
    try:
        ad.get_user_settings(user="nobody@" + smtp.split("@", 1)[1]).raise_errors()
        out["autodiscover_unknown"] = "found"
    except ErrorNonExistentMailbox:
        out["autodiscover_unknown"] = "ErrorNonExistentMailbox"
    cfg = Configuration(
        # the EWS URL Autodiscover gave, not the one this script was handed
        service_endpoint=internal_url,
        credentials=creds,
        auth_type=OAUTH2,
        version=None if probe else Version(build=Build(15, 1, 2507, 6)),
    )
    acc = Account(smtp, config=cfg, autodiscover=False, access_type=DELEGATE, credentials=creds)
    # the folder tree from root
    out["tree"] = sorted(f.name for f in acc.root.walk())
    # Conversation History: create and read back
    ch = acc.conversation_history
    assert isinstance(ch, ConversationHistory), type(ch)
    subject = "exchangelib interop " + base64.b16encode(os.urandom(4)).decode()
    m = Message(account=acc, folder=ch, subject=subject, body=HTMLBody("<p>hello from exchangelib</p>"))
    m.save()
    got = [i for i in ch.all() if i.subject == subject]
    out["history_subjects"] = [i.subject for i in got]
    out["history_body"] = str(got[0].body) if got else None
    # UpdateItem, MoveItem, CopyItem
    item = got[0]
    first = (item.id, item.changekey)
    item.subject = subject + " renamed"
    item.categories = ["Skype"]
    item.save(update_fields=["subject", "categories"])
    assert item.id == first[0] and item.changekey != first[1], (first, item.id, item.changekey)
    item.is_read = True
    item.save()
    again = list(acc.fetch(ids=[item]))[0]
    # item:TextBody (exchangelib's text_body): the HTML body as text
    out["text_body"] = again.text_body
    out["updated"] = {"subject": again.subject, "is_read": again.is_read, "categories": again.categories}
    moved = item.move(acc.inbox)
    moved_id = moved[0] if isinstance(moved, tuple) else item.id
    out["moved_to_inbox"] = [i.subject for i in acc.inbox.all() if i.subject == again.subject]
    copy_id = item.copy(ch)
    out["copied_back"] = [i.subject for i in ch.all() if i.subject == again.subject]
    out["move_copy_ids"] = [str(moved_id)[:8], str(copy_id)[:8]]
    assert out["updated"] == {"subject": subject + " renamed", "is_read": True, "categories": ["Skype"]}, out
    assert len(out["moved_to_inbox"]) == 1 and len(out["copied_back"]) == 1, out
    # Recoverable Items\Purges
    purges = acc.recoverable_items_purges
    assert isinstance(purges, RecoverableItemsPurges), type(purges)
    out["purges_count"] = purges.total_count
    out["purges_subjects"] = [i.subject for i in purges.all()]
    # a user configuration: the UM greeting
    name = "Um.CustomGreetings.Oof"
    root = acc.root
    wav = b"RIFF" + b"\x00" * 40
    try:
        root.create_user_configuration(name=name, binary_data=wav)
    except Exception as e:  # already there from an earlier run
        out["create_error"] = type(e).__name__
        root.update_user_configuration(name=name, binary_data=wav)
    conf = root.get_user_configuration(name=name, properties="All")
    out["greeting_len"] = len(conf.binary_data or b"")
    root.update_user_configuration(name=name, binary_data=wav + b"\x01")
    conf = root.get_user_configuration(name=name, properties="All")
    out["greeting_len_after_update"] = len(conf.binary_data or b"")
    # an extended property: stored by CreateItem, returned by GetItem, searchable
    from exchangelib import ExtendedProperty  # noqa: E402

    class ArchiverTag(ExtendedProperty):
        distinguished_property_set_id = "PublicStrings"
        property_name = "OpenHybridInteropTag"
        property_type = "String"

    Message.register("interop_tag", ArchiverTag)
    try:
        tag_value = "tag-" + base64.b16encode(os.urandom(4)).decode()
        tagged = Message(account=acc, folder=acc.drafts, subject="tagged", interop_tag=tag_value)
        tagged.save()
        out["extended_get"] = acc.drafts.get(id=tagged.id).interop_tag
        out["extended_found"] = acc.drafts.filter(interop_tag=tag_value).count()
    finally:
        Message.deregister("interop_tag")
    # FindItem sorts as asked (order_by)
    tag = "sort " + base64.b16encode(os.urandom(3)).decode() + " "
    for sub in ("b", "a", "c"):
        Message(account=acc, folder=acc.drafts, subject=tag + sub).save()
    mine = acc.drafts.filter(subject__startswith=tag)
    out["order_asc"] = [i.subject[len(tag):] for i in mine.order_by("subject")]
    out["order_desc"] = [i.subject[len(tag):] for i in mine.order_by("-subject")]
    # restrictions on importance
    Message(account=acc, folder=acc.drafts, subject=tag + "urgent", importance="High").save()
    out["high_importance"] = [i.subject[len(tag):] for i in mine.filter(importance="High")]
    # valid EWS the server does not support (a post item): named as such, not a version mismatch
    from exchangelib.items import PostItem  # noqa: E402
    try:
        PostItem(account=acc, folder=acc.inbox, subject="unsupported").save()
        out["unsupported_save"] = "saved"
    except Exception as e:
        out["unsupported_save"] = type(e).__name__ + ": " + str(e)[:160]
    # CreateFolder: a folder of our own under the Inbox, a message saved into it, the name taken
    from exchangelib import Folder  # noqa: E402
    from exchangelib.folders import FolderCollection  # noqa: E402

    name = "Skype projects " + base64.b16encode(os.urandom(4)).decode()
    folder = Folder(parent=acc.inbox, name=name)
    folder.save()
    Message(account=acc, folder=folder, subject="filed in " + name).save()
    listed = [f.name for f in FolderCollection(account=acc, folders=[acc.inbox]).find_folders()]
    out["new_folder"] = {"listed": name in listed, "items": [i.subject for i in folder.all()]}
    try:
        Folder(parent=acc.inbox, name=name.upper()).save()
        out["duplicate_folder"] = "saved"
    except Exception as e:
        out["duplicate_folder"] = type(e).__name__
    # UpdateFolder (Folder.save() of an existing folder): renamed in place
    folder.name = name + " (renamed)"
    folder.save()
    listed = [f.name for f in FolderCollection(account=acc, folders=[acc.inbox]).find_folders()]
    out["renamed_folder_listed"] = folder.name in listed and name not in listed
    # EmptyFolder (Folder.empty(): HardDelete): the message filed in it goes, the folder stays
    folder.empty()
    out["emptied_items"] = [i.subject for i in folder.all()]
    # DeleteFolder (Folder.delete(): HardDelete), the folder and what was in it
    folder.delete()
    listed = [f.name for f in FolderCollection(account=acc, folders=[acc.inbox]).find_folders()]
    out["deleted_folder_listed"] = folder.name in listed
    # SyncFolderItems (Folder.sync_items()) in a folder of its own: the first sync lists it (two
    # changes per call), a second one reports exactly what changed since
    from exchangelib.errors import ErrorInvalidSyncStateData  # noqa: E402

    sync_tag = base64.b16encode(os.urandom(4)).decode()
    sf = Folder(parent=acc.inbox, name="Sync round " + sync_tag)
    sf.save()
    firsts = [Message(account=acc, folder=sf, subject="sync %d" % n) for n in range(3)]
    for i in firsts:
        i.save()
    out["sync_initial"] = sorted((kind, i.subject) for kind, i in sf.sync_items(max_changes_returned=2))
    Message(account=acc, folder=sf, subject="sync new").save()
    firsts[0].subject = "sync 0 renamed"
    firsts[0].save(update_fields=["subject"])
    deleted_id = firsts[1].id
    firsts[1].delete()
    firsts[2].is_read = True
    firsts[2].save(update_fields=["is_read"])
    seen = []
    for kind, x in sf.sync_items():
        if kind == "delete":
            seen.append([kind, "sync 1" if x.id == deleted_id else x.id])
        elif kind == "read_flag_change":
            seen.append([kind, "sync 2" if x[0].id == firsts[2].id else x[0].id, x[1]])
        else:
            seen.append([kind, x.subject])
    out["sync_changes"] = seen
    out["sync_again"] = list(sf.sync_items())
    try:
        list(sf.sync_items(sync_state="bm90IG91cnM="))
        out["sync_bad_state"] = "accepted"
    except ErrorInvalidSyncStateData as e:
        out["sync_bad_state"] = "ErrorInvalidSyncStateData: " + str(e)[:160]
    # SyncFolderHierarchy (Folder.sync_hierarchy()) under it: a folder created, renamed, deleted
    out["sync_hierarchy_initial"] = [k for k, _ in sf.sync_hierarchy()]
    sub = Folder(parent=sf, name="Sync child " + sync_tag)
    sub.save()
    out["sync_hierarchy_created"] = [[k, f.name] for k, f in sf.sync_hierarchy()]
    sub.name = "Sync child renamed"
    sub.save()
    out["sync_hierarchy_renamed"] = [[k, f.name] for k, f in sf.sync_hierarchy()]
    sub_id = sub.id
    sub.delete()
    out["sync_hierarchy_deleted"] = [[k, f.id == sub_id] for k, f in sf.sync_hierarchy()]
    sf.delete()
    # ResolveNames: one match, one with its contact data, and none
    out["resolved"] = [m.email_address for m in acc.protocol.resolve_names(["alic"])]
    full = acc.protocol.resolve_names(["SMTP:alice@contoso.example"], return_full_contact_data=True)
    out["resolved_contact"] = [c.display_name for _, c in full]
    out["resolved_none"] = [type(m).__name__ for m in acc.protocol.resolve_names(["nobody-here"])]
    # free/busy (GetServerTimeZones, then GetUserAvailability)
    out["free_busy"] = free_busy(acc)
    # an operation the server does not implement (GetSearchableMailboxes, which exchangelib can
    # call): a clean EWS error, not an unparsable response
    try:
        list(acc.protocol.get_searchable_mailboxes())
        out["unsupported"] = "answered"
    except Exception as e:
        out["unsupported"] = type(e).__name__ + ": " + str(e)[:120]
    # room lists and their rooms (the lab test creates Interop Rooms with Interop Room in it)
    out["room_lists"] = [[r.name, r.email_address] for r in acc.protocol.get_roomlists()]
    out["rooms"] = [[r.name, r.email_address, r.mailbox_type]
                    for r in acc.protocol.get_rooms("interop-rooms@contoso.example")]
    # Out-of-office: read (the default), set, read back, turned off again
    from exchangelib.settings import OofSettings
    oof = {"before": acc.oof_settings.state}
    acc.oof_settings = OofSettings(state=OofSettings.ENABLED, external_audience="Known",
                                   internal_reply="Away until Monday", external_reply="Away")
    got = acc.oof_settings
    oof["after"] = [got.state, got.external_audience, got.internal_reply, got.external_reply]
    # Account.mail_tips (GetMailTips for Alice herself, All): her reply while she is away
    mt = acc.mail_tips
    oof["mail_tips"] = [mt.recipient_address.email_address,
                        mt.out_of_office.reply_body if mt.out_of_office else None,
                        mt.mailbox_full, mt.total_member_count, mt.external_member_count,
                        mt.max_message_size, mt.delivery_restricted, mt.is_moderated,
                        mt.invalid_recipient]
    # GetMailTips for the group and an unknown address of the organization
    from exchangelib.properties import Mailbox as TipMailbox, SendingAs
    from exchangelib.services import GetMailTips
    got_tips = GetMailTips(protocol=acc.protocol).call(
        sending_as=SendingAs(email_address=acc.primary_smtp_address),
        recipients=[TipMailbox(email_address=GROUP), TipMailbox(email_address="nobody@contoso.example")],
        mail_tips_requested="TotalMemberCount InvalidRecipient")
    oof["group_tips"] = [[t.total_member_count, t.invalid_recipient] for t in got_tips]
    acc.oof_settings = OofSettings(state=OofSettings.DISABLED)
    oof["off"] = acc.oof_settings.state
    out["oof"] = oof
    out["streaming"] = streaming(acc)
    # File attachments: a voice mail saved with its recording (CreateItem), read back with its
    # content (GetItem lists it, FileAttachment.content streams GetAttachment), a file attached
    # to the saved item (CreateAttachment) and detached (DeleteAttachment)
    from exchangelib import FileAttachment  # noqa: E402

    recording = b"RIFF" + os.urandom(2048) + b"WAVE"
    vm_tag = base64.b16encode(os.urandom(4)).decode()
    vm = Message(
        account=acc,
        folder=acc.voice_mail,
        subject="Voice mail " + vm_tag,
        attachments=[FileAttachment(name="audio.wav", content_type="audio/wav", content=recording)],
    )
    vm.save()
    att = {"saved_ids": [a.attachment_id is not None for a in vm.attachments]}
    heard = acc.voice_mail.get(id=vm.id)
    att["listed"] = [[a.name, a.content_type, a.size, a.is_inline] for a in heard.attachments]
    att["has_attachments"] = heard.has_attachments
    att["content_matches"] = heard.attachments[0].content == recording
    before = vm.changekey
    notes = FileAttachment(name="notes.txt", content=b"call Bob back")
    vm.attach(notes)
    att["changekey_changed"] = vm.changekey != before
    again = acc.voice_mail.get(id=vm.id)
    att["changekey_current"] = again.changekey == vm.changekey
    att["after_attach"] = sorted(a.name for a in again.attachments)
    att["notes_content"] = [a.content.decode() for a in again.attachments if a.name == "notes.txt"]
    vm.detach(notes)
    att["after_detach"] = sorted(a.name for a in acc.voice_mail.get(id=vm.id).attachments)
    att["found_with_attachments"] = [
        i.has_attachments for i in acc.voice_mail.filter(subject="Voice mail " + vm_tag)
    ]
    out["attachments"] = att
    # Item attachments: the voice mail attached to a new message (CreateItem with an
    # ItemAttachment), read back (ItemAttachment.item streams GetAttachment), and an appointment
    # attached to the saved message (CreateAttachment)
    from exchangelib import ItemAttachment  # noqa: E402
    import datetime  # noqa: E402

    from exchangelib import CalendarItem as _Cal, EWSDateTime as _Dt, EWSTimeZone as _Tz  # noqa: E402

    fwd = Message(
        account=acc,
        folder=acc.drafts,
        subject="FW: Voice mail " + vm_tag,
        attachments=[ItemAttachment(name="Voice mail " + vm_tag, item=Message(
            subject="Voice mail " + vm_tag,
            body="Bob called.",
            attachments=[FileAttachment(name="audio.wav", content_type="audio/wav",
                                        content=recording)],
        ))],
    )
    fwd.save()
    ia = {"saved_ids": [a.attachment_id is not None for a in fwd.attachments]}
    got = acc.drafts.get(id=fwd.id)
    ia["listed"] = [[type(a).__name__, a.name] for a in got.attachments]
    inner = got.attachments[0].item
    ia["item"] = [type(inner).__name__, inner.subject, str(inner.body)]
    ia["inner_attachments"] = [
        [a.name, a.content == recording] for a in inner.attachments
    ]
    start = _Dt(2031, 3, 4, 10, 0, tzinfo=_Tz("UTC"))
    fwd.attach(ItemAttachment(name="Review", item=_Cal(
        subject="Review", start=start, end=start + datetime.timedelta(hours=1), location="Room 1",
    )))
    again = acc.drafts.get(id=fwd.id)
    ia["after_attach"] = sorted(a.name for a in again.attachments)
    review = [a.item for a in again.attachments if a.name == "Review"][0]
    ia["review"] = [type(review).__name__, review.location, review.start == start]
    out["item_attachments"] = ia
    # A private distribution list (contact group): saved in Contacts with its members, read
    # back, a member appended, expanded by its item id (ExpandDL with a DLMailbox)
    from exchangelib.items import DistributionList  # noqa: E402
    from exchangelib.properties import DLMailbox, ItemId as _ItemId, Mailbox as _Mb, Member  # noqa: E402

    dl_name = "Team " + vm_tag
    dl = DistributionList(folder=acc.contacts, display_name=dl_name, members=[
        Member(mailbox=_Mb(email_address="bob@contoso.example")),
        Member(mailbox=_Mb(email_address="pat@fabrikam.example")),
    ])
    dl.save()
    got_dl = acc.contacts.get(id=dl.id)
    dls = {"read": [type(got_dl).__name__, got_dl.display_name,
                    [m.mailbox.email_address for m in got_dl.members]]}
    got_dl.members = list(got_dl.members) + [Member(mailbox=_Mb(email_address="carol@contoso.example"))]
    got_dl.save(update_fields=["members"])
    again_dl = acc.contacts.get(id=dl.id)
    dls["after_update"] = [m.mailbox.email_address for m in again_dl.members]
    dls["found"] = [i.display_name for i in acc.contacts.filter(subject=dl_name)]
    expanded = acc.protocol.expand_dl(DLMailbox(item_id=_ItemId(again_dl.id, again_dl.changekey),
                                                mailbox_type="PrivateDL"))
    dls["expanded"] = [m.email_address for m in expanded]
    # ResolveNames finds the list by its name, as a private list with its item id
    found = [m for m in acc.protocol.resolve_names([dl_name]) if getattr(m, "mailbox_type", None) == "PrivateDL"]
    dls["resolved"] = [[m.name, m.item_id.id == dl.id if m.item_id else None] for m in found]
    out["distribution_list"] = dls
    # Sending to Bob: Message.send_and_save() (CreateItem SendAndSaveCopy: a copy in Sent
    # Items), a saved draft's send() (SendItem: the draft moves to Sent Items) and
    # send(save_copy=False) (CreateItem SendOnly: no copy), and a changed draft's send_and_save()
    # (UpdateItem SendAndSaveCopy). Bob's Inbox is read by the Rust side
    # with a token of his own.
    send_tag = base64.b16encode(os.urandom(4)).decode()
    snd = {"tag": send_tag}
    Message(account=acc, subject="Lunch " + send_tag, body="At noon?",
            to_recipients=["bob@contoso.example"]).send_and_save()
    snd["sent_copy"] = [[m.subject, m.author.email_address if m.author else None, m.is_read]
                        for m in acc.sent.filter(subject="Lunch " + send_tag)]
    draft = Message(account=acc, folder=acc.drafts, subject="Draft " + send_tag, body="Saved first",
                    to_recipients=["bob@contoso.example"])
    draft.save()
    snd["draft_saved"] = acc.drafts.filter(subject="Draft " + send_tag).count()
    draft.send()
    snd["draft_after_send"] = acc.drafts.filter(subject="Draft " + send_tag).count()
    snd["draft_in_sent"] = acc.sent.filter(subject="Draft " + send_tag).count()
    Message(account=acc, subject="Quick " + send_tag, body="No copy",
            to_recipients=["bob@contoso.example"]).send(save_copy=False)
    snd["quick_in_sent"] = acc.sent.filter(subject="Quick " + send_tag).count()
    # A saved draft changed, then send_and_save(): UpdateItem with SendAndSaveCopy (the change
    # applied and the message sent in one request; the draft becomes the copy in Sent Items)
    edit = Message(account=acc, folder=acc.drafts, subject="Edit " + send_tag, body="First version",
                   to_recipients=["bob@contoso.example"])
    edit.save()
    edit.subject = "Edited " + send_tag
    edit.send_and_save()
    snd["edit_in_drafts"] = sum(acc.drafts.filter(subject=s + send_tag).count() for s in ("Edit ", "Edited "))
    snd["edited_in_sent"] = [m.subject for m in acc.sent.filter(subject="Edited " + send_tag)]
    # A draft read back from the server (IsDraft true, its MIME content with it), its recipients
    # changed and saved: for a draft exchangelib's UpdateItem sets MimeContent, ToRecipients,
    # CcRecipients, BccRecipients and From as well. Then sent, to the recipients as changed
    # (Bob, and Alice herself on Cc).
    Message(account=acc, folder=acc.drafts, subject="Fetched " + send_tag, body="From the server",
            to_recipients=["nobody@contoso.example"]).save()
    fetched = acc.drafts.get(subject="Fetched " + send_tag)
    snd["fetched_is_draft"] = fetched.is_draft
    snd["fetched_mime_subject"] = email.message_from_bytes(fetched.mime_content)["Subject"]
    fetched.to_recipients = ["bob@contoso.example"]
    fetched.cc_recipients = ["alice@contoso.example"]
    fetched.save()
    again = acc.drafts.get(subject="Fetched " + send_tag)
    snd["fetched_lines"] = [[r.email_address for r in again.to_recipients or []],
                            [r.email_address for r in again.cc_recipients or []]]
    again.send()
    snd["fetched_in_sent"] = [m.is_draft for m in acc.sent.filter(subject="Fetched " + send_tag)]
    # Alice's own copy (she was on Cc) exported as MIME, parsed by Python's email package
    mine = acc.inbox.get(subject="Fetched " + send_tag)
    exported = email.message_from_bytes(mine.mime_content, policy=email.policy.default)
    snd["exported"] = [str(exported["Subject"]), exported["From"].addresses[0].addr_spec,
                       [a.addr_spec for a in exported["To"].addresses],
                       exported.get_body(("plain", "html")).get_content().strip()]
    # An .eml imported into the Inbox (CreateItem with MimeContent), its attachment with it
    eml = ("From: Juergen <j@fabrikam.example>\r\nTo: alice@contoso.example\r\n"
           "Subject: Imported " + send_tag + "\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n"
           "--b1\r\nContent-Type: text/plain\r\n\r\nNumbers attached.\r\n"
           "--b1\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=q3.csv\r\n"
           "\r\na,b\r\n--b1--\r\n").encode()
    Message(account=acc, folder=acc.inbox, mime_content=eml).save()
    imported = acc.inbox.get(subject="Imported " + send_tag)
    snd["imported"] = [imported.author.email_address, imported.text_body.strip(),
                       [a.name for a in imported.attachments]]
    out["send"] = snd
    out["folders"] = folders(acc)
    out["groups"] = groups(acc)
    out["bulk_transfer"] = bulk_transfer(acc)
    out["recurring"] = recurring(acc)
    out["contacts"] = contacts(acc)
    out["tasks"] = tasks(acc)
    out["replies"] = replies(acc)
    bob_token = os.environ.get("OPENHYBRID_BOB_TOKEN")
    if bob_token:
        bob_creds = OAuth2AuthorizationCodeCredentials(access_token={"access_token": bob_token, "token_type": "Bearer"})
        bob = Account("bob@contoso.example", config=Configuration(
            service_endpoint=internal_url, credentials=bob_creds, auth_type=OAUTH2,
            version=Version(build=Build(15, 1, 2507, 6))), autodiscover=False, access_type=DELEGATE,
            credentials=bob_creds)
        out["meetings"] = meetings(acc, bob)
        out["junk"] = junk(acc, bob)
        out["rules"] = inbox_rules(acc, bob)
        out["delegates"] = delegates(acc, bob_creds, internal_url)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
