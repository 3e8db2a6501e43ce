//! Items: validation, storage, retrieval, finds, moves, deletes, updates.

use std::borrow::Cow;
use std::collections::HashSet;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::attachments::{insert_attachment, list_attachments, validate_attachments};
use crate::error::MailboxError;
use crate::filter::{SqlFragment, to_sql};
use crate::ids::{IdKind, check_change_key, encode_change_key, local_id};
use crate::limits::*;
use crate::model::*;
use crate::store::{
    EVENT_NEW_MAIL, EVENT_READ_FLAG_ONLY, MailboxStore, Mb, append_event, folder_distinguished,
    item_flags, lineage, mailbox_row, make_page, next_change_number, resolve_folder, to_i64,
    to_u64, touch_folder, window,
};
use crate::userconfig::{ConfigStreams, load_streams, validate_config_name};

/// Prefix of the item class of a user configuration (MS-OXOCFG).
pub(crate) const CONFIG_CLASS_PREFIX: &str = "IPM.Configuration.";

pub(crate) fn too_large(
    what: impl Into<String>,
    size: usize,
    limit: usize,
) -> Result<(), MailboxError> {
    if size > limit {
        Err(MailboxError::TooLarge {
            what: what.into(),
            size,
            limit,
        })
    } else {
        Ok(())
    }
}

/// Item and folder classes: 1–255 bytes of printable ASCII.
pub(crate) fn validate_class(class: &str, what: &str) -> Result<(), MailboxError> {
    if class.is_empty()
        || class.len() > MAX_ITEM_CLASS_BYTES
        || !class.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(MailboxError::InvalidValue(format!(
            "{what} must be 1 to {MAX_ITEM_CLASS_BYTES} printable ASCII characters"
        )));
    }
    Ok(())
}

pub(crate) fn validate_short(what: &str, s: &str) -> Result<(), MailboxError> {
    too_large(what, s.len(), MAX_SHORT_STRING_BYTES)
}

fn validate_subject(subject: Option<&str>) -> Result<(), MailboxError> {
    too_large("subject", subject.map_or(0, str::len), MAX_SUBJECT_BYTES)
}

fn validate_body(body: Option<&Body>) -> Result<(), MailboxError> {
    too_large("body", body.map_or(0, |b| b.content.len()), MAX_BODY_BYTES)
}

fn validate_categories(categories: &[String]) -> Result<(), MailboxError> {
    if categories.len() > MAX_CATEGORIES {
        return Err(MailboxError::InvalidValue(format!(
            "more than {MAX_CATEGORIES} categories"
        )));
    }
    for c in categories {
        let n = c.chars().count();
        if n == 0 || n > MAX_CATEGORY_CHARS {
            return Err(MailboxError::InvalidValue(format!(
                "a category must be 1 to {MAX_CATEGORY_CHARS} characters"
            )));
        }
    }
    Ok(())
}

fn validate_calendar(c: &Calendar) -> Result<Calendar, MailboxError> {
    let start = normalize_time(c.start)?;
    let end = normalize_time(c.end)?;
    if end < start {
        return Err(MailboxError::CalendarEndBeforeStart);
    }
    if let Some(l) = &c.location {
        validate_short("location", l)?;
    }
    let recurrence = match &c.recurrence {
        None => None,
        Some(s) => Some(validate_series(s, end)?),
    };
    Ok(Calendar {
        start,
        end,
        is_all_day: c.is_all_day,
        legacy_free_busy_status: c.legacy_free_busy_status,
        location: c.location.clone(),
        recurrence,
    })
}

fn validate_contact(c: &str) -> Result<(), MailboxError> {
    too_large("a contact's properties", c.len(), MAX_CONTACT_BYTES)
}

fn validate_task(t: &str) -> Result<(), MailboxError> {
    too_large("a task's properties", t.len(), MAX_CONTACT_BYTES)
}

fn validate_series(s: &Series, first_end: time::OffsetDateTime) -> Result<Series, MailboxError> {
    too_large("recurrence rule", s.rule.len(), MAX_SERIES_TEXT_BYTES)?;
    too_large("series time zone", s.time_zone.len(), MAX_SERIES_TEXT_BYTES)?;
    if s.rule.is_empty() {
        return Err(MailboxError::InvalidValue(
            "a recurring series needs its recurrence rule".into(),
        ));
    }
    let last_end = s.last_end.map(normalize_time).transpose()?;
    if last_end.is_some_and(|l| l < first_end) {
        return Err(MailboxError::InvalidValue(
            "a series' last occurrence cannot end before its first one".into(),
        ));
    }
    if s.deleted.len() > MAX_DELETED_OCCURRENCES {
        return Err(MailboxError::InvalidValue(format!(
            "a series records at most {MAX_DELETED_OCCURRENCES} deleted occurrences"
        )));
    }
    let mut deleted = s.deleted.clone();
    deleted.sort_unstable();
    deleted.dedup();
    if deleted.first() == Some(&0) {
        return Err(MailboxError::InvalidValue(
            "occurrence indices start at 1".into(),
        ));
    }
    if s.modified.len() > MAX_DELETED_OCCURRENCES {
        return Err(MailboxError::InvalidValue(format!(
            "a series records at most {MAX_DELETED_OCCURRENCES} changed occurrences"
        )));
    }
    let mut modified = Vec::with_capacity(s.modified.len());
    for e in &s.modified {
        modified.push(validate_exception(e)?);
    }
    modified.sort_by_key(|e| e.index);
    modified.dedup_by_key(|e| e.index);
    modified.retain(|e| deleted.binary_search(&e.index).is_err());
    Ok(Series {
        rule: s.rule.clone(),
        time_zone: s.time_zone.clone(),
        last_end,
        deleted,
        modified,
    })
}

fn validate_exception(e: &Exception) -> Result<Exception, MailboxError> {
    if e.index == 0 {
        return Err(MailboxError::InvalidValue(
            "occurrence indices start at 1".into(),
        ));
    }
    let start = normalize_time(e.start)?;
    let end = normalize_time(e.end)?;
    if end < start {
        return Err(MailboxError::CalendarEndBeforeStart);
    }
    validate_subject(e.subject.as_deref())?;
    if let Some(l) = &e.location {
        validate_short("location", l)?;
    }
    Ok(Exception {
        index: e.index,
        start,
        end,
        subject: e.subject.clone(),
        location: e.location.clone(),
    })
}

/// A series' columns: its JSON and when its last occurrence ends (microseconds; `None` without
/// end).
pub(crate) fn series_columns(
    c: Option<&Calendar>,
) -> Result<(Option<String>, Option<i64>), MailboxError> {
    match c.and_then(|c| c.recurrence.as_ref()) {
        None => Ok((None, None)),
        Some(s) => Ok((Some(json(s)?), s.last_end.map(to_micros).transpose()?)),
    }
}

fn validate_extended_entry(key: &str, value: &str) -> Result<(), MailboxError> {
    if key.is_empty() || key.len() > MAX_EXTENDED_KEY_BYTES {
        return Err(MailboxError::InvalidValue(format!(
            "an extended property key must be 1 to {MAX_EXTENDED_KEY_BYTES} bytes"
        )));
    }
    too_large(
        "extended property value",
        value.len(),
        MAX_EXTENDED_VALUE_BYTES,
    )
}

/// Checks and sorts extended properties; duplicate keys are an error.
fn validate_extended(ext: &mut [(String, String)]) -> Result<(), MailboxError> {
    if ext.len() > MAX_EXTENDED_PROPERTIES {
        return Err(MailboxError::InvalidValue(format!(
            "more than {MAX_EXTENDED_PROPERTIES} extended properties"
        )));
    }
    for (k, v) in ext.iter() {
        validate_extended_entry(k, v)?;
    }
    ext.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = ext.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(MailboxError::InvalidValue(format!(
            "extended property {:?} given twice",
            w[0].0
        )));
    }
    Ok(())
}

/// A meeting's bounds: its uid, at most [`MAX_ATTENDEES`] attendees, each address as a
/// recipient's.
pub(crate) fn validate_meeting(m: &Meeting) -> Result<(), MailboxError> {
    if m.uid.is_empty() || m.uid.len() > MAX_UID_BYTES || m.uid.chars().any(char::is_control) {
        return Err(MailboxError::InvalidValue(format!(
            "a meeting uid is 1 to {MAX_UID_BYTES} bytes without control characters"
        )));
    }
    validate_attendee_count(m.attendees().count())?;
    validate_recipient(&m.organizer)?;
    for a in m.attendees() {
        validate_recipient(&a.mailbox)?;
    }
    Ok(())
}

pub(crate) fn validate_attendee_count(n: usize) -> Result<(), MailboxError> {
    if n > MAX_ATTENDEES {
        return Err(MailboxError::TooManyAttendees {
            count: n,
            max: MAX_ATTENDEES,
        });
    }
    Ok(())
}

fn validate_recipient(r: &Recipient) -> Result<(), MailboxError> {
    validate_short("recipient address", &r.email)?;
    if let Some(n) = &r.name {
        validate_short("recipient name", n)?;
    }
    Ok(())
}

/// The user-configuration name encoded in an associated item's class, if any.
pub(crate) fn config_name_of(item_class: &str, is_associated: bool) -> Option<&str> {
    let n = CONFIG_CLASS_PREFIX.len();
    if is_associated
        && item_class.len() >= n
        && item_class.is_char_boundary(n)
        && item_class[..n].eq_ignore_ascii_case(CONFIG_CLASS_PREFIX)
    {
        Some(&item_class[n..])
    } else {
        None
    }
}

/// Bytes of content, the item's `size` without its attachments (the attachment triggers add
/// theirs): subject, body, extended values, user-configuration streams, and a contact's or a
/// task's own properties (`typed`).
pub(crate) fn content_size(
    subject: Option<&str>,
    body: Option<&Body>,
    extended: &[(String, String)],
    streams: Option<&ConfigStreams>,
    typed: [Option<&String>; 2],
) -> u64 {
    let mut n = subject.map_or(0, str::len) + body.map_or(0, |b| b.content.len());
    n += typed.iter().flatten().map(|t| t.len()).sum::<usize>();
    n += extended
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum::<usize>();
    if let Some(s) = streams {
        n += s.len();
    }
    n as u64
}

/// A validated, normalised item ready to insert.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub item: NewItem,
    pub config_name: Option<String>,
    pub created: Option<i64>,
    pub sent: Option<i64>,
    /// Delivered mail (its `Created` event is a new-mail event too).
    pub delivered: bool,
}

impl Prepared {
    /// Bytes this item adds to a batch.
    pub fn weight(&self) -> usize {
        self.item.subject.as_ref().map_or(0, String::len)
            + self.item.body.as_ref().map_or(0, |b| b.content.len())
            + self
                .item
                .extended
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
            + self
                .item
                .attachments
                .iter()
                .map(|a| a.content.len())
                .sum::<usize>()
    }
}

pub(crate) fn prepare(mut item: NewItem) -> Result<Prepared, MailboxError> {
    validate_class(&item.item_class, "item class")?;
    let config_name = config_name_of(&item.item_class, item.is_associated).map(str::to_owned);
    if let Some(name) = &config_name {
        validate_config_name(name)?;
    }
    validate_subject(item.subject.as_deref())?;
    validate_body(item.body.as_ref())?;
    let recipients = item.to.len() + item.cc.len() + item.bcc.len();
    if recipients > MAX_RECIPIENTS {
        return Err(MailboxError::InvalidValue(format!(
            "more than {MAX_RECIPIENTS} recipients"
        )));
    }
    for r in item
        .from
        .iter()
        .chain(item.sender.iter())
        .chain(item.to.iter())
        .chain(item.cc.iter())
        .chain(item.bcc.iter())
    {
        validate_recipient(r)?;
    }
    validate_categories(&item.categories)?;
    if let Some(id) = &item.internet_message_id {
        if id.is_empty() {
            return Err(MailboxError::InvalidValue(
                "an internet message id must not be empty".into(),
            ));
        }
        validate_short("internet message id", id)?;
    }
    if let Some(c) = &item.calendar {
        item.calendar = Some(validate_calendar(c)?);
    }
    if let Some(m) = &item.meeting {
        validate_meeting(m)?;
    }
    validate_extended(&mut item.extended)?;
    validate_attachments(&item.attachments)?;
    if let Some(c) = &item.contact {
        validate_contact(c)?;
    }
    if let Some(t) = &item.task {
        validate_task(t)?;
    }
    let created = item
        .date_time_created
        .map(|t| to_micros(normalize_time(t)?))
        .transpose()?;
    let sent = item
        .date_time_sent
        .map(|t| to_micros(normalize_time(t)?))
        .transpose()?;
    Ok(Prepared {
        item,
        config_name,
        created,
        sent,
        delivered: false,
    })
}

/// Validates a whole batch before any write (so an invalid item writes nothing).
pub(crate) fn prepare_batch(items: Vec<NewItem>) -> Result<Vec<Prepared>, MailboxError> {
    if items.len() > MAX_ITEMS_PER_CALL {
        return Err(MailboxError::InvalidRequest(format!(
            "{} items in one call; at most {MAX_ITEMS_PER_CALL}",
            items.len()
        )));
    }
    let mut total = 0usize;
    let mut out = Vec::with_capacity(items.len());
    for (n, item) in items.into_iter().enumerate() {
        let p = prepare(item).map_err(|e| annotate(e, n))?;
        total = total.saturating_add(p.weight());
        out.push(p);
    }
    too_large("the batch", total, MAX_BATCH_BYTES)?;
    Ok(out)
}

/// Names the failing item of a batch in the message.
fn annotate(e: MailboxError, index: usize) -> MailboxError {
    match e {
        MailboxError::InvalidValue(m) => MailboxError::InvalidValue(format!("item {index}: {m}")),
        MailboxError::TooLarge { what, size, limit } => MailboxError::TooLarge {
            what: format!("item {index}: {what}"),
            size,
            limit,
        },
        other => other,
    }
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, MailboxError> {
    serde_json::to_string(v).map_err(|e| MailboxError::InvalidValue(e.to_string()))
}

fn unjson<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, MailboxError> {
    serde_json::from_str(s).map_err(|e| MailboxError::Corrupt(format!("{what}: {e}")))
}

/// Inserts one prepared item (and its body, properties, configuration streams), records the
/// `Created` event and bumps the folder. Returns the local id.
pub(crate) fn insert_item(
    tx: &Connection,
    mb: &Mb,
    folder: i64,
    p: &Prepared,
    streams: Option<&ConfigStreams>,
    now_us: i64,
) -> Result<i64, MailboxError> {
    let it = &p.item;
    if let Some(name) = &p.config_name {
        config_name_free(tx, folder, name)?;
    }
    let cn = next_change_number(tx, mb.id)?;
    let size = content_size(
        it.subject.as_deref(),
        it.body.as_ref(),
        &it.extended,
        streams,
        [it.contact.as_ref(), it.task.as_ref()],
    );
    let cal = it.calendar.as_ref();
    let cal_start = cal.map(|c| to_micros(c.start)).transpose()?;
    let cal_end = cal.map(|c| to_micros(c.end)).transpose()?;
    let (series_json, series_end) = series_columns(cal)?;
    tx.prepare_cached(
        "INSERT INTO items (mailbox_id, folder_id, is_associated, item_class, config_name, subject, \
         from_json, sender_json, to_json, cc_json, bcc_json, importance, sensitivity, \
         categories_json, is_read, internet_message_id, sent, created, received, last_modified, \
         start_time, end_time, is_all_day, free_busy, location, size, change_number, is_draft, \
         meeting_json, meeting_uid, series_json, series_end, contact_json, task_json) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, \
         ?19, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33)",
    )?
    .execute(params![
        mb.id,
        folder,
        it.is_associated,
        it.item_class,
        p.config_name,
        it.subject,
        it.from.as_ref().map(json).transpose()?,
        it.sender.as_ref().map(json).transpose()?,
        json(&it.to)?,
        json(&it.cc)?,
        json(&it.bcc)?,
        it.importance.as_str(),
        it.sensitivity.as_str(),
        json(&it.categories)?,
        it.is_read,
        it.internet_message_id,
        p.sent,
        p.created.unwrap_or(now_us),
        now_us,
        cal_start,
        cal_end,
        cal.map(|c| c.is_all_day),
        cal.map(|c| c.legacy_free_busy_status.as_str()),
        cal.and_then(|c| c.location.as_deref()),
        i64::try_from(size).unwrap_or(i64::MAX),
        cn,
        it.is_draft,
        it.meeting.as_ref().map(json).transpose()?,
        it.meeting.as_ref().map(|m| m.uid.as_str()),
        series_json,
        series_end,
        it.contact,
        it.task,
    ])?;
    let id = tx.last_insert_rowid();
    if let Some(b) = &it.body {
        tx.prepare_cached(
            "INSERT INTO item_bodies (item_id, body_type, content) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![id, b.body_type.as_db(), b.content])?;
    }
    for (k, v) in &it.extended {
        tx.prepare_cached("INSERT INTO item_props (item_id, key, value) VALUES (?1, ?2, ?3)")?
            .execute(params![id, k, v])?;
    }
    for a in &it.attachments {
        insert_attachment(tx, id, a, now_us)?;
    }
    if p.config_name.is_some() {
        let empty = ConfigStreams::default();
        let s = streams.unwrap_or(&empty);
        tx.prepare_cached(
            "INSERT INTO user_config_data (item_id, dictionary, xml_data, binary_data) \
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![id, s.dictionary_json, s.xml_data, s.binary_data])?;
    }
    touch_folder(tx, folder, cn, now_us)?;
    append_event(
        tx,
        mb,
        EventKind::Created,
        id,
        folder,
        None,
        item_flags(it.is_associated) | if p.delivered { EVENT_NEW_MAIL } else { 0 },
        now_us,
    )?;
    Ok(id)
}

const ITEM_COLS: &str = "i.id, i.folder_id, i.is_associated, i.item_class, i.subject, i.from_json, \
    i.sender_json, i.to_json, i.cc_json, i.bcc_json, i.importance, i.sensitivity, \
    i.categories_json, i.is_read, i.internet_message_id, i.sent, i.created, i.received, \
    i.last_modified, i.start_time, i.end_time, i.is_all_day, i.free_busy, i.location, i.size, \
    i.change_number, i.config_name, i.attachment_count, i.attachment_visible, i.is_draft, \
    i.meeting_json, i.series_json, i.contact_json, i.task_json, \
    i.contact_json IS NOT NULL AND i.attachment_count > 0 AND EXISTS (SELECT 1 FROM attachments a \
    WHERE a.item_id = i.id AND a.is_contact_photo = 1)";

/// One `items` row as stored.
struct Row {
    id: i64,
    folder: i64,
    is_associated: bool,
    item_class: String,
    subject: Option<String>,
    from_json: Option<String>,
    sender_json: Option<String>,
    to_json: String,
    cc_json: String,
    bcc_json: String,
    importance: String,
    sensitivity: String,
    categories_json: String,
    is_read: bool,
    internet_message_id: Option<String>,
    sent: Option<i64>,
    created: i64,
    received: i64,
    last_modified: i64,
    start: Option<i64>,
    end: Option<i64>,
    is_all_day: Option<bool>,
    free_busy: Option<String>,
    location: Option<String>,
    size: i64,
    change_number: i64,
    config_name: Option<String>,
    attachment_count: i64,
    attachment_visible: i64,
    is_draft: bool,
    meeting_json: Option<String>,
    series_json: Option<String>,
    contact_json: Option<String>,
    task_json: Option<String>,
    /// A contact with a contact photo attachment (only looked for on contacts with attachments).
    has_contact_photo: bool,
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        folder: r.get(1)?,
        is_associated: r.get(2)?,
        item_class: r.get(3)?,
        subject: r.get(4)?,
        from_json: r.get(5)?,
        sender_json: r.get(6)?,
        to_json: r.get(7)?,
        cc_json: r.get(8)?,
        bcc_json: r.get(9)?,
        importance: r.get(10)?,
        sensitivity: r.get(11)?,
        categories_json: r.get(12)?,
        is_read: r.get(13)?,
        internet_message_id: r.get(14)?,
        sent: r.get(15)?,
        created: r.get(16)?,
        received: r.get(17)?,
        last_modified: r.get(18)?,
        start: r.get(19)?,
        end: r.get(20)?,
        is_all_day: r.get(21)?,
        free_busy: r.get(22)?,
        location: r.get(23)?,
        size: r.get(24)?,
        change_number: r.get(25)?,
        config_name: r.get(26)?,
        attachment_count: r.get(27)?,
        attachment_visible: r.get(28)?,
        is_draft: r.get(29)?,
        meeting_json: r.get(30)?,
        series_json: r.get(31)?,
        contact_json: r.get(32)?,
        task_json: r.get(33)?,
        has_contact_photo: r.get(34)?,
    })
}

fn row_to_item(
    tx: &Connection,
    mb: &Mb,
    row: Row,
    load_content: bool,
) -> Result<Item, MailboxError> {
    let calendar =
        match (row.start, row.end) {
            (Some(s), Some(e)) => Some(Calendar {
                start: from_micros(s)?,
                end: from_micros(e)?,
                is_all_day: row.is_all_day.unwrap_or(false),
                legacy_free_busy_status: match &row.free_busy {
                    Some(f) => FreeBusy::from_db(f)?,
                    None => FreeBusy::default(),
                },
                location: row.location,
                recurrence: match row.series_json.as_deref() {
                    None => None,
                    Some(j) => Some(serde_json::from_str::<Series>(j).map_err(|e| {
                        MailboxError::Corrupt(format!("item {}: series: {e}", row.id))
                    })?),
                },
            }),
            _ => None,
        };
    let mut extended = Vec::new();
    {
        let mut stmt =
            tx.prepare_cached("SELECT key, value FROM item_props WHERE item_id = ?1 ORDER BY key")?;
        let rows = stmt.query_map(params![row.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for r in rows {
            extended.push(r?);
        }
    }
    // no statement for an item without attachments
    let attachments = if load_content && row.attachment_count > 0 {
        list_attachments(tx, mb, row.id)?
    } else {
        Vec::new()
    };
    let (body, user_configuration) = if load_content {
        let body = tx
            .prepare_cached("SELECT body_type, content FROM item_bodies WHERE item_id = ?1")?
            .query_row(params![row.id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?
            .map(|(t, content)| {
                Ok::<_, MailboxError>(Body {
                    body_type: BodyType::from_db(&t)?,
                    content,
                })
            })
            .transpose()?;
        let config = match &row.config_name {
            Some(name) => Some(load_streams(tx, row.id)?.into_config(name.clone())?),
            None => None,
        };
        (body, config)
    } else {
        (None, None)
    };
    let meeting = match row.meeting_json.as_deref() {
        Some(s) => {
            let mut m: Meeting = unjson(s, "meeting")?;
            m.associated_calendar_item_id = m.associated.map(|local| mb.item_id(local));
            Some(m)
        }
        None => None,
    };
    Ok(Item {
        id: mb.item_id(row.id),
        change_key: encode_change_key(IdKind::Item, row.change_number),
        folder_id: mb.folder_id(row.folder),
        is_associated: row.is_associated,
        item_class: row.item_class,
        subject: row.subject,
        body,
        from: row
            .from_json
            .as_deref()
            .map(|s| unjson(s, "from"))
            .transpose()?,
        sender: row
            .sender_json
            .as_deref()
            .map(|s| unjson(s, "sender"))
            .transpose()?,
        to: unjson(&row.to_json, "to")?,
        cc: unjson(&row.cc_json, "cc")?,
        bcc: unjson(&row.bcc_json, "bcc")?,
        importance: Importance::from_db(&row.importance)?,
        sensitivity: Sensitivity::from_db(&row.sensitivity)?,
        categories: unjson(&row.categories_json, "categories")?,
        is_read: row.is_read,
        internet_message_id: row.internet_message_id,
        date_time_sent: row.sent.map(from_micros).transpose()?,
        date_time_created: from_micros(row.created)?,
        date_time_received: from_micros(row.received)?,
        last_modified_time: from_micros(row.last_modified)?,
        calendar,
        extended,
        size: to_u64(row.size)?,
        has_attachments: row.attachment_visible > 0,
        attachments,
        user_configuration,
        is_draft: row.is_draft,
        meeting,
        contact: row.contact_json,
        task: row.task_json,
        has_contact_photo: row.has_contact_photo,
    })
}

/// Loads an item of this mailbox by local id.
pub(crate) fn load_item(
    tx: &Connection,
    mb: &Mb,
    id: i64,
    load_content: bool,
) -> Result<Item, MailboxError> {
    let row = tx
        .prepare_cached(&format!(
            "SELECT {ITEM_COLS} FROM items i WHERE i.id = ?1 AND i.mailbox_id = ?2"
        ))?
        .query_row(params![id, mb.id], read_row)
        .optional()?
        .ok_or(MailboxError::ItemNotFound)?;
    row_to_item(tx, mb, row, load_content)
}

/// What the writes of an item read of it first.
pub(crate) struct Header {
    pub folder: i64,
    pub change_number: i64,
    pub config_name: Option<String>,
    pub is_associated: bool,
}

/// The [`Header`] of an item of this mailbox.
pub(crate) fn item_header(tx: &Connection, mb: &Mb, id: i64) -> Result<Header, MailboxError> {
    tx.prepare_cached(
        "SELECT folder_id, change_number, config_name, is_associated FROM items \
         WHERE id = ?1 AND mailbox_id = ?2",
    )?
    .query_row(params![id, mb.id], |r| {
        Ok(Header {
            folder: r.get(0)?,
            change_number: r.get(1)?,
            config_name: r.get(2)?,
            is_associated: r.get(3)?,
        })
    })
    .optional()?
    .ok_or(MailboxError::ItemNotFound)
}

/// [`MailboxError::InRecoverableItems`] when `guard` keeps the write out of Recoverable Items and
/// the item is there: `folder` is where the write's own transaction read it to be.
pub(crate) fn check_guard(
    tx: &Connection,
    mb: &Mb,
    folder: i64,
    guard: ItemGuard,
) -> Result<(), MailboxError> {
    match guard {
        ItemGuard::Any => Ok(()),
        ItemGuard::OutsideRecoverableItems => {
            let recoverable = lineage(tx, mb, folder)?
                .iter()
                .flatten()
                .any(|d| crate::distinguished::is_recoverable_items(d));
            if recoverable {
                Err(MailboxError::InRecoverableItems)
            } else {
                Ok(())
            }
        }
        ItemGuard::InDelegateFolders(mask) => {
            let own = lineage(tx, mb, folder)?.into_iter().next().flatten();
            match own
                .as_deref()
                .and_then(crate::DelegateFolder::of_distinguished)
            {
                Some(f) if mask & (1 << f as u8) != 0 => Ok(()),
                _ => Err(MailboxError::NotPermittedToDelegate),
            }
        }
    }
}

pub(crate) fn item_local(mb: &Mb, id: &str) -> Result<i64, MailboxError> {
    local_id(id, IdKind::Item, &mb.key, || MailboxError::ItemNotFound)
}

/// One result per id, in order: `f` on each id's local id. A failure that belongs to one item
/// ([`is_per_item`]) is that id's result; any other ends the whole call (and its transaction).
fn per_id<T>(
    mb: &Mb,
    ids: &[String],
    mut f: impl FnMut(i64) -> Result<T, MailboxError>,
) -> Result<Vec<Result<T, MailboxError>>, MailboxError> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match item_local(mb, id).and_then(&mut f) {
            Err(e) if !is_per_item(&e) => return Err(e),
            r => out.push(r),
        }
    }
    Ok(out)
}

/// Moves an item between folders (same transaction), with change number, event and folder bumps.
pub(crate) fn move_local(
    tx: &Connection,
    mb: &Mb,
    id: i64,
    header: &Header,
    to: i64,
    now_us: i64,
) -> Result<(), MailboxError> {
    let from = header.folder;
    if let Some(name) = header.config_name.as_deref() {
        config_name_free(tx, to, name)?;
    }
    let cn = next_change_number(tx, mb.id)?;
    tx.prepare_cached(
        "UPDATE items SET folder_id = ?2, change_number = ?3, last_modified = ?4 WHERE id = ?1",
    )?
    .execute(params![id, to, cn, now_us])?;
    touch_folder(tx, from, cn, now_us)?;
    touch_folder(tx, to, cn, now_us)?;
    append_event(
        tx,
        mb,
        EventKind::Moved,
        id,
        to,
        Some(from),
        item_flags(header.is_associated),
        now_us,
    )
}

/// Hard-deletes an item (body, properties and streams cascade).
pub(crate) fn delete_local(
    tx: &Connection,
    mb: &Mb,
    id: i64,
    folder: i64,
    is_associated: bool,
    now_us: i64,
) -> Result<(), MailboxError> {
    let cn = next_change_number(tx, mb.id)?;
    tx.prepare_cached("DELETE FROM items WHERE id = ?1")?
        .execute(params![id])?;
    touch_folder(tx, folder, cn, now_us)?;
    append_event(
        tx,
        mb,
        EventKind::Deleted,
        id,
        folder,
        None,
        item_flags(is_associated),
        now_us,
    )
}

/// Most item content one `get_items` call reads before it answers the remaining ids with
/// [`MailboxError::ResponseBudgetExceeded`].
pub const MAX_GET_ITEMS_BYTES: usize = 64 << 20;

/// Per-id errors that are the caller's (reported per item); anything else aborts the transaction.
/// Failures of one item's insert that leave the other items of its call to be created: its own
/// content (a value or size the insert refused) or a user configuration name already taken.
fn is_per_created_item(e: &MailboxError) -> bool {
    matches!(
        e,
        MailboxError::InvalidValue(_)
            | MailboxError::TooLarge { .. }
            | MailboxError::AttachmentTooLarge { .. }
            | MailboxError::CalendarEndBeforeStart
            | MailboxError::UserConfigurationExists(_)
    )
}

pub(crate) fn is_per_item(e: &MailboxError) -> bool {
    matches!(
        e,
        MailboxError::ItemNotFound
            | MailboxError::InvalidIdMalformed(_)
            | MailboxError::InRecoverableItems
            | MailboxError::UserConfigurationExists(_)
            | MailboxError::ResponseBudgetExceeded { .. }
    )
}

fn sort_column(f: SortField) -> Result<Cow<'static, str>, MailboxError> {
    Ok(Cow::Borrowed(match f {
        SortField::DateTimeReceived => "i.received",
        SortField::DateTimeSent => "i.sent",
        SortField::DateTimeCreated => "i.created",
        SortField::Subject => "i.subject COLLATE NOCASE",
        SortField::ItemClass => "i.item_class COLLATE NOCASE",
        SortField::Start => "i.start_time",
        SortField::End => "i.end_time",
        SortField::Size => "i.size",
        // the name goes into the statement's text: only a plain member name is taken
        SortField::Typed(bag, name) => {
            if name.is_empty()
                || name.len() > 64
                || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            {
                return Err(MailboxError::InvalidRequest(format!(
                    "{name:?} is not a property to sort on"
                )));
            }
            return Ok(Cow::Owned(format!(
                "json_extract({}, '$.{name}') COLLATE NOCASE",
                bag.column()
            )));
        }
    }))
}

fn dir(o: SortOrder) -> &'static str {
    match o {
        SortOrder::Ascending => "ASC",
        SortOrder::Descending => "DESC",
    }
}

/// Builds `WHERE ...` and `ORDER BY ...` for a find.
fn find_sql(folder: i64, spec: &FindSpec) -> Result<(SqlFragment, String), MailboxError> {
    let mut w = SqlFragment {
        text: "i.folder_id = ? AND i.is_associated = ?".into(),
        params: vec![
            SqlValue::Integer(folder),
            SqlValue::Integer(i64::from(spec.associated)),
        ],
    };
    if let Some((start, end)) = spec.calendar_view {
        if end < start {
            return Err(MailboxError::CalendarEndBeforeStart);
        }
        w.text.push_str(if spec.series {
            " AND i.series_json IS NOT NULL AND i.start_time IS NOT NULL AND i.start_time < ? \
             AND coalesce(i.series_end, 9223372036854775807) > ?"
        } else {
            " AND i.series_json IS NULL AND i.start_time IS NOT NULL AND i.start_time < ? \
             AND i.end_time > ?"
        });
        w.params.push(SqlValue::Integer(to_micros(end)?));
        w.params.push(SqlValue::Integer(to_micros(start)?));
    }
    if let Some(f) = &spec.restriction {
        w.text.push_str(" AND ");
        to_sql(f, &mut w)?;
    }
    if spec.sort.len() > 8 {
        return Err(MailboxError::InvalidRequest("more than 8 sort keys".into()));
    }
    let default = if spec.calendar_view.is_some() {
        vec![(SortField::Start, SortOrder::Ascending)]
    } else {
        vec![(SortField::DateTimeReceived, SortOrder::Descending)]
    };
    let sort = if spec.sort.is_empty() {
        &default
    } else {
        &spec.sort
    };
    let mut order = String::new();
    for (f, o) in sort {
        order.push_str(&sort_column(*f)?);
        order.push(' ');
        order.push_str(dir(*o));
        order.push_str(", ");
    }
    order.push_str("i.id ");
    order.push_str(dir(sort[0].1));
    Ok((w, order))
}

impl MailboxStore {
    /// Creates items in one folder, all or nothing: every item is validated before anything is
    /// written, and a failure inside the transaction rolls all of it back (ids, counters, events).
    /// Returns after `COMMIT`, so the items are durable.
    pub async fn create_items(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        items: Vec<NewItem>,
    ) -> Result<Vec<Item>, MailboxError> {
        let created = self.create(mailbox, folder, items, false).await?;
        Ok(created.into_iter().map(|c| c.item).collect())
    }

    /// Creates items in one folder, each on its own terms (as EWS CreateItem answers each item):
    /// one result per item, in order. An item that fails validation, or whose insert fails for a
    /// reason of its own (a user configuration whose name the folder already has), fails alone
    /// and writes nothing; the others are created together, in one transaction per
    /// [`MAX_BATCH_BYTES`] of content. A failure of the call itself (an unknown folder, more
    /// than [`MAX_ITEMS_PER_CALL`] items, the database) is the `Err`. Returns after `COMMIT`.
    pub async fn create_items_each(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        items: Vec<NewItem>,
    ) -> Result<Vec<Result<Item, MailboxError>>, MailboxError> {
        if items.len() > MAX_ITEMS_PER_CALL {
            return Err(MailboxError::InvalidRequest(format!(
                "{} items in one call; at most {MAX_ITEMS_PER_CALL}",
                items.len()
            )));
        }
        // every item's answer with its index: its validation's refusal, or its chunk's result
        let mut answers: Vec<(usize, Result<Item, MailboxError>)> = Vec::with_capacity(items.len());
        // the valid items, in chunks that each stay under the batch budget
        let mut chunks: Vec<Vec<(usize, Prepared)>> = vec![Vec::new()];
        let mut weight = 0usize;
        for (n, item) in items.into_iter().enumerate() {
            match prepare(item) {
                Err(e) => answers.push((n, Err(e))),
                Ok(p) => {
                    let w = p.weight();
                    if weight.saturating_add(w) > MAX_BATCH_BYTES
                        && chunks.last().is_some_and(|c| !c.is_empty())
                    {
                        chunks.push(Vec::new());
                        weight = 0;
                    }
                    weight = weight.saturating_add(w);
                    if let Some(c) = chunks.last_mut() {
                        c.push((n, p));
                    }
                }
            }
        }
        for chunk in chunks.into_iter().filter(|c| !c.is_empty()) {
            let key = mailbox.as_str().to_owned();
            let folder = folder.clone();
            let written = self
                .write(move |tx, now| {
                    let mb = mailbox_row(tx, &key)?;
                    let folder = resolve_folder(tx, &mb, &folder)?;
                    let now_us = to_micros(now)?;
                    let mut done = Vec::with_capacity(chunk.len());
                    for (n, p) in &chunk {
                        // an item's own failure is rolled back to here, the others stay
                        store::tx::exec_cached(tx, "SAVEPOINT oh_item")?;
                        let r = insert_item(tx, &mb, folder, p, None, now_us)
                            .and_then(|id| load_item(tx, &mb, id, true));
                        match r {
                            Err(e) if is_per_created_item(&e) => {
                                store::tx::exec_cached(tx, "ROLLBACK TO oh_item")?;
                                store::tx::exec_cached(tx, "RELEASE oh_item")?;
                                done.push((*n, Err(e)));
                            }
                            Err(e) => return Err(e),
                            Ok(item) => {
                                store::tx::exec_cached(tx, "RELEASE oh_item")?;
                                done.push((*n, Ok(item)));
                            }
                        }
                    }
                    Ok(done)
                })
                .await?;
            answers.extend(written);
        }
        answers.sort_by_key(|(n, _)| *n);
        Ok(answers.into_iter().map(|(_, r)| r).collect())
    }

    /// Like [`MailboxStore::create_items`], but an item whose `internet_message_id` already names
    /// an item in the target folder (including an earlier item of the same batch) is not written
    /// again: the existing item is returned with `existed = true`. The check and the insert are in
    /// one write transaction, so concurrent retries of the same delivery create it once. This is
    /// the delivery path for a partner's outbox that retries after a lost response.
    pub async fn create_items_idempotent(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        items: Vec<NewItem>,
    ) -> Result<Vec<Created>, MailboxError> {
        self.create(mailbox, folder, items, true).await
    }

    async fn create(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        items: Vec<NewItem>,
        idempotent: bool,
    ) -> Result<Vec<Created>, MailboxError> {
        let prepared = prepare_batch(items)?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let folder = resolve_folder(tx, &mb, &folder)?;
            let now_us = to_micros(now)?;
            let mut out = Vec::with_capacity(prepared.len());
            for p in &prepared {
                if idempotent && let Some(mid) = &p.item.internet_message_id {
                    let existing: Option<i64> = tx
                        .prepare_cached(
                            "SELECT id FROM items WHERE folder_id = ?1 AND internet_message_id = ?2 \
                             ORDER BY id LIMIT 1",
                        )?
                        .query_row(params![folder, mid], |r| r.get(0))
                        .optional()?;
                    if let Some(id) = existing {
                        out.push(Created {
                            item: load_item(tx, &mb, id, true)?,
                            existed: true,
                        });
                        continue;
                    }
                }
                let id = insert_item(tx, &mb, folder, p, None, now_us)?;
                out.push(Created {
                    item: load_item(tx, &mb, id, true)?,
                    existed: false,
                });
            }
            Ok(out)
        })
        .await
    }

    /// One item by id, as [`MailboxStore::get_items`] reads it.
    pub async fn get_item(&self, mailbox: &MailboxKey, id: &str) -> Result<Item, MailboxError> {
        self.get_items(mailbox, vec![id.to_owned()])
            .await?
            .pop()
            .unwrap_or(Err(MailboxError::ItemNotFound))
    }

    /// Items by id, one result per id in order: `ItemNotFound` for unknown or foreign ids,
    /// `InvalidIdMalformed` for garbage. Bodies and configuration streams are loaded.
    pub async fn get_items(
        &self,
        mailbox: &MailboxKey,
        ids: Vec<String>,
    ) -> Result<Vec<Result<Item, MailboxError>>, MailboxError> {
        check_id_count(ids.len())?;
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            let mut out = Vec::with_capacity(ids.len());
            // the content read so far: one request may not make the server hold more than
            // MAX_GET_ITEMS_BYTES (1,000 ids of one 15 MB item would otherwise be 15 GB)
            let mut loaded = 0usize;
            for id in &ids {
                if loaded > MAX_GET_ITEMS_BYTES {
                    out.push(Err(MailboxError::ResponseBudgetExceeded {
                        limit: MAX_GET_ITEMS_BYTES,
                    }));
                    continue;
                }
                match item_local(&mb, id).and_then(|local| load_item(tx, &mb, local, true)) {
                    Err(e) if !is_per_item(&e) => return Err(e),
                    Ok(item) => {
                        // what was read: the item's size but its attachments' content
                        let attached: u64 = item.attachments.iter().map(|a| a.size).sum();
                        let read = item.size.saturating_sub(attached);
                        loaded = loaded.saturating_add(usize::try_from(read).unwrap_or(usize::MAX));
                        out.push(Ok(item));
                    }
                    r => out.push(r),
                }
            }
            Ok(out)
        })
        .await
    }

    /// One page of a folder's items (normal or associated), filtered, sorted and paged in SQL.
    ///
    /// Paging walks the `(folder, is_associated, received, id)` index for the default order and
    /// fetches full rows only for the page; the total is an indexed `COUNT`.
    pub async fn find_items(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        spec: FindSpec,
    ) -> Result<Page<Item>, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            let folder = resolve_folder(tx, &mb, &folder)?;
            let (w, order) = find_sql(folder, &spec)?;
            // the whole folder: its maintained count (O(1)); a restriction or a calendar view:
            // count what matches
            let total: i64 = if spec.restriction.is_none() && spec.calendar_view.is_none() {
                let col = if spec.associated {
                    "associated"
                } else {
                    "total"
                };
                tx.prepare_cached(&format!(
                    "SELECT COALESCE((SELECT {col} FROM folder_counts WHERE folder_id = ?1), 0)"
                ))?
                .query_row(params![folder], |r| r.get(0))?
            } else {
                tx.prepare(&format!("SELECT COUNT(*) FROM items i WHERE {}", w.text))?
                    .query_row(params_from_iter(w.params.iter()), |r| r.get(0))?
            };
            let total = usize::try_from(total)
                .map_err(|_| MailboxError::Corrupt("negative count".into()))?;
            let (start, len) = window(total, &spec.paging)?;
            let mut ids = Vec::with_capacity(len);
            if len > 0 {
                let mut params = w.params.clone();
                params.push(SqlValue::Integer(to_i64(len)?));
                params.push(SqlValue::Integer(to_i64(start)?));
                let mut stmt = tx.prepare(&format!(
                    "SELECT i.id FROM items i WHERE {} ORDER BY {order} LIMIT ? OFFSET ?",
                    w.text
                ))?;
                let rows = stmt.query_map(params_from_iter(params.iter()), |r| r.get(0))?;
                for r in rows {
                    ids.push(r?);
                }
            }
            let items = ids
                .into_iter()
                .map(|id: i64| load_item(tx, &mb, id, spec.load_content))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(make_page(items, start, total, &spec.paging))
        })
        .await
    }

    /// Items in `folder` whose `internet_message_id` equals `message_id` exactly (oldest first,
    /// at most 100), via the `(folder_id, internet_message_id)` index. Use it to make deliveries
    /// idempotent; [`MailboxStore::create_items_idempotent`] does check-and-create atomically.
    pub async fn find_by_internet_message_id(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        message_id: String,
    ) -> Result<Vec<Item>, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            let folder = resolve_folder(tx, &mb, &folder)?;
            let mut stmt = tx.prepare_cached(
                "SELECT id FROM items WHERE folder_id = ?1 AND internet_message_id = ?2 \
                 ORDER BY id LIMIT 100",
            )?;
            let ids = stmt
                .query_map(params![folder, message_id], |r| r.get(0))?
                .collect::<Result<Vec<i64>, _>>()?;
            ids.into_iter()
                .map(|id| load_item(tx, &mb, id, false))
                .collect()
        })
        .await
    }

    /// Deletes items, one result per id in order (one transaction for all). Repeated ids in one
    /// call act once. See [`DeleteMode`] for where items go; `guard` says which items this call
    /// may delete.
    pub async fn delete_items(
        &self,
        mailbox: &MailboxKey,
        ids: Vec<String>,
        mode: DeleteMode,
        guard: ItemGuard,
    ) -> Result<Vec<Result<(), MailboxError>>, MailboxError> {
        check_id_count(ids.len())?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let now_us = to_micros(now)?;
            let mut done: HashSet<i64> = HashSet::new();
            per_id(&mb, &ids, |local| {
                if !done.insert(local) {
                    return Ok(());
                }
                delete_one(tx, &mb, local, mode, guard, now_us)
            })
        })
        .await
    }

    /// The folder (its id) each item is in, one result per id in order; nothing else is read.
    pub async fn item_folders(
        &self,
        mailbox: &MailboxKey,
        ids: Vec<String>,
    ) -> Result<Vec<Result<String, MailboxError>>, MailboxError> {
        check_id_count(ids.len())?;
        let key = mailbox.as_str().to_owned();
        self.read(move |tx| {
            let mb = mailbox_row(tx, &key)?;
            per_id(&mb, &ids, |local| {
                Ok(mb.folder_id(item_header(tx, &mb, local)?.folder))
            })
        })
        .await
    }

    /// Moves an item to another folder of the same mailbox; the id stays the same, the change key
    /// changes. Moving into the folder it is in changes nothing. The returned item has no body or
    /// streams loaded (MoveItem answers with ids).
    pub async fn move_item(
        &self,
        mailbox: &MailboxKey,
        id: String,
        destination: FolderSel,
    ) -> Result<Item, MailboxError> {
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let local = item_local(&mb, &id)?;
            let to = resolve_folder(tx, &mb, &destination)?;
            move_one(tx, &mb, local, to, ItemGuard::Any, to_micros(now)?)
        })
        .await
    }

    /// Updates fields of an item. With `expected_change_key`, fails with
    /// [`MailboxError::ChangeKeyConflict`] if the item changed since that key was read. Returns the
    /// item as stored afterwards, content loaded.
    pub async fn update_item(
        &self,
        mailbox: &MailboxKey,
        id: String,
        expected_change_key: Option<String>,
        update: ItemUpdate,
    ) -> Result<Item, MailboxError> {
        self.update_item_resolving(
            mailbox,
            id,
            expected_change_key,
            false,
            update,
            ItemGuard::Any,
        )
        .await
        .map(|(item, _)| item)
    }

    /// [`MailboxStore::update_item`] with a conflict policy. A malformed `change_key` is always
    /// [`MailboxError::InvalidChangeKey`]; a stale one is [`MailboxError::ChangeKeyConflict`]
    /// unless `overwrite`, in which case the update is applied anyway and the returned flag says
    /// a conflict was overridden. The whole update is one transaction: a failing field writes
    /// nothing. `guard` says which items this call may change.
    pub async fn update_item_resolving(
        &self,
        mailbox: &MailboxKey,
        id: String,
        change_key: Option<String>,
        overwrite: bool,
        update: ItemUpdate,
        guard: ItemGuard,
    ) -> Result<(Item, bool), MailboxError> {
        let update = validated_update(update)?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let local = item_local(&mb, &id)?;
            let (header, conflicted) =
                checked_header(tx, &mb, local, &change_key, overwrite, guard)?;
            let now_us = to_micros(now)?;
            let item = write_update(tx, &mb, local, &header, &update, now_us)?;
            Ok((item, conflicted))
        })
        .await
    }

    /// UpdateItem of a recurring task that completes one of its occurrences: in one
    /// transaction, the item is copied into its folder (a new item, as
    /// [`MailboxStore::copy_items`] copies one) and the copy updated with `update` but
    /// `copy_task` as its task, then the item updated with `update`. Returns the copy and the
    /// item as stored afterwards, and whether a conflict was overridden; the checks are
    /// [`MailboxStore::update_item_resolving`]'s.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_item_splitting(
        &self,
        mailbox: &MailboxKey,
        id: String,
        change_key: Option<String>,
        overwrite: bool,
        update: ItemUpdate,
        copy_task: String,
        guard: ItemGuard,
    ) -> Result<(Item, Item, bool), MailboxError> {
        let update = validated_update(update)?;
        validate_task(&copy_task)?;
        let copy_update = ItemUpdate {
            task: Some(copy_task),
            ..update.clone()
        };
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let local = item_local(&mb, &id)?;
            let (header, conflicted) =
                checked_header(tx, &mb, local, &change_key, overwrite, guard)?;
            let now_us = to_micros(now)?;
            let copy = copy_local(tx, &mb, local, header.folder, now_us, &mut 0)?;
            let copy_local_id = item_local(&mb, &copy.id)?;
            let copy_header = item_header(tx, &mb, copy_local_id)?;
            let copy = write_update(tx, &mb, copy_local_id, &copy_header, &copy_update, now_us)?;
            let item = write_update(tx, &mb, local, &header, &update, now_us)?;
            Ok((copy, item, conflicted))
        })
        .await
    }

    /// MarkAllItemsAsRead: every normal item of `folder` (not its associated items, nor those
    /// of its subfolders) gets `read` as its read flag. Each item changed is a change of that
    /// item, as an UpdateItem of `IsRead` alone is (a new change key, a `Modified` event flagged
    /// as a read-flag change); items that have it already are left as they are. In writes of at
    /// most [`MAX_FOLDER_ITEMS_PER_WRITE`] items of the group commit, until none is left;
    /// `guard` says whether a folder under Recoverable Items may be changed (checked in each
    /// write). Returns how many items changed.
    pub async fn mark_all_read(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        read: bool,
        guard: ItemGuard,
    ) -> Result<u64, MailboxError> {
        let key = mailbox.as_str().to_owned();
        let mut changed = 0u64;
        loop {
            let (key, folder) = (key.clone(), folder.clone());
            let n = self
                .write(move |tx, now| {
                    let mb = mailbox_row(tx, &key)?;
                    let id = resolve_folder(tx, &mb, &folder)?;
                    check_guard(tx, &mb, id, guard)?;
                    let batch: Vec<i64> = tx
                        .prepare_cached(
                            "SELECT id FROM items WHERE folder_id = ?1 AND is_associated = 0 \
                             AND is_read != ?2 ORDER BY id LIMIT ?3",
                        )?
                        .query_map(
                            params![id, read, to_i64(MAX_FOLDER_ITEMS_PER_WRITE)?],
                            |r| r.get(0),
                        )?
                        .collect::<Result<_, _>>()?;
                    let now_us = to_micros(now)?;
                    for &local in &batch {
                        let cn = next_change_number(tx, mb.id)?;
                        tx.prepare_cached(
                            "UPDATE items SET is_read = ?2, change_number = ?3, last_modified = ?4 \
                             WHERE id = ?1",
                        )?
                        .execute(params![local, read, cn, now_us])?;
                        touch_folder(tx, id, cn, now_us)?;
                        append_event(
                            tx,
                            &mb,
                            EventKind::Modified,
                            local,
                            id,
                            None,
                            EVENT_READ_FLAG_ONLY,
                            now_us,
                        )?;
                    }
                    Ok(batch.len() as u64)
                })
                .await?;
            changed += n;
            if n < MAX_FOLDER_ITEMS_PER_WRITE as u64 {
                return Ok(changed);
            }
        }
    }

    /// Moves items to another folder of the same mailbox, one result per id in order (one
    /// transaction for all). Ids stay the same, change keys change; an item already in the
    /// destination is left as it is. An unknown destination fails the whole call with
    /// [`MailboxError::FolderNotFound`]. The returned items have no body or streams loaded.
    /// `guard` says which items this call may move (where they are; the destination is the
    /// caller's to check).
    pub async fn move_items(
        &self,
        mailbox: &MailboxKey,
        ids: Vec<String>,
        destination: FolderSel,
        guard: ItemGuard,
    ) -> Result<Vec<Result<Item, MailboxError>>, MailboxError> {
        check_id_count(ids.len())?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let to = resolve_folder(tx, &mb, &destination)?;
            let now_us = to_micros(now)?;
            per_id(&mb, &ids, |local| {
                move_one(tx, &mb, local, to, guard, now_us)
            })
        })
        .await
    }

    /// Copies items into a folder of the same mailbox, one result per id in order (one
    /// transaction for all). Each copy is a new item (new id, `Created` event) with the
    /// original's properties, body, extended properties and user-configuration streams, and its
    /// received time; copying a user configuration into a folder that already has one of that
    /// name is [`MailboxError::UserConfigurationExists`] for that id. The bytes copied by one
    /// call are capped like a create batch ([`MAX_BATCH_BYTES`]), or the whole call fails with
    /// [`MailboxError::TooLarge`]. The returned copies have no body or streams loaded.
    pub async fn copy_items(
        &self,
        mailbox: &MailboxKey,
        ids: Vec<String>,
        destination: FolderSel,
    ) -> Result<Vec<Result<Item, MailboxError>>, MailboxError> {
        check_id_count(ids.len())?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let to = resolve_folder(tx, &mb, &destination)?;
            let now_us = to_micros(now)?;
            let mut total = 0usize;
            per_id(&mb, &ids, |local| {
                copy_local(tx, &mb, local, to, now_us, &mut total)
            })
        })
        .await
    }
}

/// The [`Header`] of an item to update, its folder checked against `guard` and its change key
/// against `change_key` (a stale one is a conflict, overridden when `overwrite`: the flag).
fn checked_header(
    tx: &Connection,
    mb: &Mb,
    local: i64,
    change_key: &Option<String>,
    overwrite: bool,
    guard: ItemGuard,
) -> Result<(Header, bool), MailboxError> {
    let header = item_header(tx, mb, local)?;
    check_guard(tx, mb, header.folder, guard)?;
    let mut conflicted = false;
    if let Some(ck) = change_key {
        match check_change_key(ck, IdKind::Item, header.change_number) {
            Err(MailboxError::ChangeKeyConflict) if overwrite => conflicted = true,
            r => r?,
        }
    }
    Ok((header, conflicted))
}

/// Applies a checked update to an item: its fields, a new change number, its folder touched
/// and a `Modified` event. Returns the item as stored afterwards.
pub(crate) fn write_update(
    tx: &Connection,
    mb: &Mb,
    local: i64,
    header: &Header,
    update: &ItemUpdate,
    now_us: i64,
) -> Result<Item, MailboxError> {
    if update.item_class.is_some() && header.config_name.is_some() {
        return Err(MailboxError::InvalidValue(
            "the item class of a user configuration cannot change".into(),
        ));
    }
    apply_update(tx, local, update, now_us)?;
    let cn = next_change_number(tx, mb.id)?;
    tx.execute(
        "UPDATE items SET change_number = ?2, last_modified = ?3 WHERE id = ?1",
        params![local, cn, now_us],
    )?;
    touch_folder(tx, header.folder, cn, now_us)?;
    // a change of the read flag alone is a ReadFlagChange to a sync
    let read_flag_only = update.is_read.is_some()
        && *update
            == (ItemUpdate {
                is_read: update.is_read,
                ..ItemUpdate::default()
            });
    let flags = item_flags(header.is_associated)
        | if read_flag_only {
            EVENT_READ_FLAG_ONLY
        } else {
            0
        };
    append_event(
        tx,
        mb,
        EventKind::Modified,
        local,
        header.folder,
        None,
        flags,
        now_us,
    )?;
    refresh_size(tx, mb, local)
}

/// [`MailboxError::UserConfigurationExists`] when `folder` already has a user configuration
/// named `name` (one per name and folder).
fn config_name_free(tx: &Connection, folder: i64, name: &str) -> Result<(), MailboxError> {
    let exists: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM items WHERE folder_id = ?1 AND config_name = ?2)",
        )?
        .query_row(params![folder, name], |r| r.get(0))?;
    if exists {
        return Err(MailboxError::UserConfigurationExists(name.to_owned()));
    }
    Ok(())
}

/// Moves one item into `to` (nothing when it is there already); returns it without body or
/// streams.
fn move_one(
    tx: &Connection,
    mb: &Mb,
    local: i64,
    to: i64,
    guard: ItemGuard,
    now_us: i64,
) -> Result<Item, MailboxError> {
    let header = item_header(tx, mb, local)?;
    check_guard(tx, mb, header.folder, guard)?;
    if header.folder != to {
        move_local(tx, mb, local, &header, to, now_us)?;
    }
    load_item(tx, mb, local, false)
}

/// Copies one item (row, body, extended properties, streams) into `to`; returns the copy.
pub(crate) fn copy_local(
    tx: &Connection,
    mb: &Mb,
    local: i64,
    to: i64,
    now_us: i64,
    total: &mut usize,
) -> Result<Item, MailboxError> {
    let header = item_header(tx, mb, local)?;
    let config = header.config_name;
    let (size, attachments): (i64, i64) = tx
        .prepare_cached("SELECT size, attachment_count FROM items WHERE id = ?1")?
        .query_row(params![local], |r| Ok((r.get(0)?, r.get(1)?)))?;
    *total = total.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
    too_large("the copied items", *total, MAX_BATCH_BYTES)?;
    if let Some(name) = &config {
        config_name_free(tx, to, name)?;
    }
    let cn = next_change_number(tx, mb.id)?;
    tx.prepare_cached(
        "INSERT INTO items (mailbox_id, folder_id, is_associated, item_class, config_name, subject, \
         from_json, sender_json, to_json, cc_json, bcc_json, importance, sensitivity, \
         categories_json, is_read, internet_message_id, sent, created, received, last_modified, \
         start_time, end_time, is_all_day, free_busy, location, size, change_number, is_draft, \
         meeting_json, meeting_uid, series_json, series_end, contact_json, task_json) \
         SELECT mailbox_id, ?2, is_associated, item_class, config_name, subject, from_json, \
         sender_json, to_json, cc_json, bcc_json, importance, sensitivity, categories_json, \
         is_read, internet_message_id, sent, created, received, ?3, start_time, end_time, \
         is_all_day, free_busy, location, size - attachment_bytes, ?4, is_draft, meeting_json, \
         meeting_uid, series_json, series_end, contact_json, task_json FROM items WHERE id = ?1",
    )?
    .execute(params![local, to, now_us, cn])?;
    let id = tx.last_insert_rowid();
    tx.prepare_cached(
        "INSERT INTO item_bodies (item_id, body_type, content) \
         SELECT ?2, body_type, content FROM item_bodies WHERE item_id = ?1",
    )?
    .execute(params![local, id])?;
    tx.prepare_cached(
        "INSERT INTO item_props (item_id, key, value) \
         SELECT ?2, key, value FROM item_props WHERE item_id = ?1",
    )?
    .execute(params![local, id])?;
    tx.prepare_cached(
        "INSERT INTO user_config_data (item_id, dictionary, xml_data, binary_data) \
         SELECT ?2, dictionary, xml_data, binary_data FROM user_config_data WHERE item_id = ?1",
    )?
    .execute(params![local, id])?;
    // the copy's attachments are its own (new ids); their triggers add their sizes back
    if attachments > 0 {
        crate::attachments::copy_attachments(tx, local, id)?;
    }
    touch_folder(tx, to, cn, now_us)?;
    append_event(
        tx,
        mb,
        EventKind::Created,
        id,
        to,
        None,
        item_flags(header.is_associated),
        now_us,
    )?;
    load_item(tx, mb, id, false)
}

pub(crate) fn check_id_count(n: usize) -> Result<(), MailboxError> {
    if n > MAX_ITEMS_PER_CALL {
        return Err(MailboxError::InvalidRequest(format!(
            "{n} ids in one call; at most {MAX_ITEMS_PER_CALL}"
        )));
    }
    Ok(())
}

pub(crate) fn delete_one(
    tx: &Connection,
    mb: &Mb,
    local: i64,
    mode: DeleteMode,
    guard: ItemGuard,
    now_us: i64,
) -> Result<(), MailboxError> {
    let header = item_header(tx, mb, local)?;
    let from = header.folder;
    check_guard(tx, mb, from, guard)?;
    let here = folder_distinguished(tx, from)?;
    let here = here.as_deref();
    let target = match mode {
        DeleteMode::Hard => {
            return delete_local(tx, mb, local, from, header.is_associated, now_us);
        }
        DeleteMode::Soft => match here {
            Some("recoverableitemspurges") => return Ok(()),
            Some(d) if crate::distinguished::is_recoverable_items(d) => "recoverableitemspurges",
            _ => "recoverableitemsdeletions",
        },
        DeleteMode::MoveToDeletedItems => match here {
            Some("deleteditems") => "recoverableitemsdeletions",
            _ => "deleteditems",
        },
    };
    let to = crate::store::distinguished_folder(tx, mb, target)?;
    move_local(tx, mb, local, &header, to, now_us)
}

/// An update's values checked before its write (the checks that need no transaction).
pub(crate) fn validated_update(update: ItemUpdate) -> Result<ItemUpdate, MailboxError> {
    let mut update = update;
    if let Some(Some(s)) = &update.subject {
        validate_subject(Some(s))?;
    }
    if let Some(Some(b)) = &update.body {
        validate_body(Some(b))?;
    }
    if let Some(b) = &update.append_body {
        validate_body(Some(b))?;
    }
    if let Some(c) = &update.categories {
        validate_categories(c)?;
    }
    if let Some(c) = &update.item_class {
        validate_class(c, "item class")?;
    }
    if let Some(Some(c)) = &update.calendar {
        update.calendar = Some(Some(validate_calendar(c)?));
    }
    for (k, v) in &update.set_extended {
        validate_extended_entry(k, v)?;
    }
    let lines = [&update.to, &update.cc, &update.bcc];
    let added: usize = lines
        .iter()
        .flat_map(|l| l.iter())
        .map(|e| e.recipients().len())
        .sum();
    if added > MAX_RECIPIENTS {
        return Err(MailboxError::InvalidValue(format!(
            "more than {MAX_RECIPIENTS} recipients"
        )));
    }
    for r in lines
        .iter()
        .flat_map(|l| l.iter())
        .flat_map(|e| e.recipients())
        .chain(update.from.iter().flatten())
    {
        validate_recipient(r)?;
    }
    if let Some(list) = &update.replace_attachments {
        crate::attachments::validate_attachments(list)?;
    }
    let edits = [&update.required, &update.optional, &update.resources];
    let mut added = 0usize;
    for e in edits.iter().copied().flatten() {
        let (AttendeeEdit::Replace(list) | AttendeeEdit::Append(list)) = e;
        added = added.saturating_add(list.len());
        for a in list {
            validate_recipient(&a.mailbox)?;
        }
    }
    validate_attendee_count(added)?;
    if let Some(m) = &update.new_meeting {
        validate_meeting(m)?;
    }
    if let Some(e) = &update.modify_occurrence {
        update.modify_occurrence = Some(validate_exception(e)?);
    }
    if update.delete_occurrence == Some(0) {
        return Err(MailboxError::InvalidValue(
            "occurrence indices start at 1".into(),
        ));
    }
    Ok(update)
}

/// Series `id`'s stored series; [`MailboxError::InvalidRequest`] for a single item.
fn read_series(tx: &Connection, id: i64) -> Result<Series, MailboxError> {
    let stored: Option<String> = tx
        .prepare_cached("SELECT series_json FROM items WHERE id = ?1")?
        .query_row(params![id], |r| r.get(0))?;
    let Some(stored) = stored else {
        return Err(MailboxError::InvalidRequest(
            "only a recurring series has occurrences".into(),
        ));
    };
    serde_json::from_str(&stored)
        .map_err(|e| MailboxError::Corrupt(format!("item {id}: series: {e}")))
}

/// Writes series `id`'s series and how far it reaches.
fn write_series(tx: &Connection, id: i64, series: &Series) -> Result<(), MailboxError> {
    tx.prepare_cached("UPDATE items SET series_json = ?2, series_end = ?3 WHERE id = ?1")?
        .execute(params![
            id,
            json(series)?,
            series.last_end.map(to_micros).transpose()?
        ])?;
    Ok(())
}

/// Sets when series `id`'s last occurrence ends.
fn set_series_end(
    tx: &Connection,
    id: i64,
    last_end: Option<time::OffsetDateTime>,
) -> Result<(), MailboxError> {
    let mut series = read_series(tx, id)?;
    series.last_end = last_end.map(normalize_time).transpose()?;
    write_series(tx, id, &series)
}

/// Records an occurrence of series `id` changed on its own; the series reaches as far as it.
fn modify_occurrence(tx: &Connection, id: i64, e: &Exception) -> Result<(), MailboxError> {
    let mut series = read_series(tx, id)?;
    if series.deleted.binary_search(&e.index).is_ok() {
        return Err(MailboxError::InvalidRequest(format!(
            "occurrence {} of the series was deleted",
            e.index
        )));
    }
    match series.modified.binary_search_by_key(&e.index, |m| m.index) {
        Ok(at) => series.modified[at] = e.clone(),
        Err(at) => {
            if series.modified.len() >= MAX_DELETED_OCCURRENCES {
                return Err(MailboxError::InvalidValue(format!(
                    "a series records at most {MAX_DELETED_OCCURRENCES} changed occurrences"
                )));
            }
            series.modified.insert(at, e.clone());
        }
    }
    series.last_end = series.last_end.map(|l| l.max(e.end));
    write_series(tx, id, &series)
}

/// Records occurrence `index` of series `id` as deleted.
fn delete_occurrence(tx: &Connection, id: i64, index: u32) -> Result<(), MailboxError> {
    let mut series = read_series(tx, id)?;
    if let Err(at) = series.deleted.binary_search(&index) {
        if series.deleted.len() >= MAX_DELETED_OCCURRENCES {
            return Err(MailboxError::InvalidValue(format!(
                "a series records at most {MAX_DELETED_OCCURRENCES} deleted occurrences"
            )));
        }
        series.deleted.insert(at, index);
    }
    series.modified.retain(|m| m.index != index);
    write_series(tx, id, &series)
}

/// Applies a new start, end, location, all-day flag or free/busy status to calendar item `id`
/// (the end not before the start).
fn apply_time_update(tx: &Connection, id: i64, u: &ItemUpdate) -> Result<(), MailboxError> {
    let (start, end): (Option<i64>, Option<i64>) = tx
        .prepare_cached("SELECT start_time, end_time FROM items WHERE id = ?1")?
        .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (Some(start), Some(end)) = (start, end) else {
        return Err(MailboxError::InvalidValue(
            "only a calendar item has a start, an end, a location, an all-day flag and a free/busy status".into(),
        ));
    };
    if let Some(all_day) = u.is_all_day {
        tx.prepare_cached("UPDATE items SET is_all_day = ?2 WHERE id = ?1")?
            .execute(params![id, all_day])?;
    }
    if let Some(fb) = u.free_busy {
        tx.prepare_cached("UPDATE items SET free_busy = ?2 WHERE id = ?1")?
            .execute(params![id, fb.as_str()])?;
    }
    let start = match u.start {
        Some(t) => to_micros(normalize_time(t)?)?,
        None => start,
    };
    let end = match u.end {
        Some(t) => to_micros(normalize_time(t)?)?,
        None => end,
    };
    if end < start {
        return Err(MailboxError::CalendarEndBeforeStart);
    }
    tx.prepare_cached("UPDATE items SET start_time = ?2, end_time = ?3 WHERE id = ?1")?
        .execute(params![id, start, end])?;
    if let Some(l) = &u.location {
        if let Some(l) = l {
            validate_short("location", l)?;
        }
        tx.prepare_cached("UPDATE items SET location = ?2 WHERE id = ?1")?
            .execute(params![id, l])?;
    }
    Ok(())
}

/// Applies the attendee edits of `u` to item `id`, which must be a calendar item: the lines
/// change, the answers they record stay as they were for the attendees kept.
fn apply_attendee_update(tx: &Connection, id: i64, u: &ItemUpdate) -> Result<(), MailboxError> {
    let (start, meeting): (Option<i64>, Option<String>) = tx
        .prepare_cached("SELECT start_time, meeting_json FROM items WHERE id = ?1")?
        .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if start.is_none() {
        return Err(MailboxError::InvalidValue(
            "only a calendar item has attendees".into(),
        ));
    }
    let mut meeting = match meeting {
        Some(s) => unjson::<Meeting>(&s, "meeting")?,
        None => u.new_meeting.clone().ok_or_else(|| {
            MailboxError::InvalidValue("the appointment has no organizer to invite from".into())
        })?,
    };
    for (edit, line) in [
        (&u.required, &mut meeting.required),
        (&u.optional, &mut meeting.optional),
        (&u.resources, &mut meeting.resources),
    ] {
        if let Some(e) = edit {
            *line = e.apply(line);
        }
    }
    validate_attendee_count(meeting.attendees().count())?;
    tx.prepare_cached("UPDATE items SET meeting_json = ?2, meeting_uid = ?3 WHERE id = ?1")?
        .execute(params![id, json(&meeting)?, meeting.uid])?;
    Ok(())
}

/// Applies the draft-only changes of `u` (recipients, From, attachments) to item `id`, which must
/// be a draft.
fn apply_draft_update(
    tx: &Connection,
    id: i64,
    u: &ItemUpdate,
    now_us: i64,
) -> Result<(), MailboxError> {
    let (is_draft, to, cc, bcc): (bool, String, String, String) = tx
        .prepare_cached("SELECT is_draft, to_json, cc_json, bcc_json FROM items WHERE id = ?1")?
        .query_row(params![id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    if !is_draft {
        return Err(MailboxError::NotADraft);
    }
    let edit = |edit: &Option<RecipientEdit>, stored: &str, what| -> Result<_, MailboxError> {
        Ok(match edit {
            None => None,
            // only an append needs the stored line
            Some(e @ RecipientEdit::Replace(_)) => Some(e.apply(&[])),
            Some(e) => Some(e.apply(&unjson::<Vec<Recipient>>(stored, what)?)),
        })
    };
    let (to, cc, bcc) = (
        edit(&u.to, &to, "to")?,
        edit(&u.cc, &cc, "cc")?,
        edit(&u.bcc, &bcc, "bcc")?,
    );
    let total = [&to, &cc, &bcc]
        .iter()
        .filter_map(|l| l.as_ref().map(Vec::len))
        .sum::<usize>();
    if total > MAX_RECIPIENTS {
        return Err(MailboxError::InvalidValue(format!(
            "more than {MAX_RECIPIENTS} recipients"
        )));
    }
    for (list, column) in [(&to, "to_json"), (&cc, "cc_json"), (&bcc, "bcc_json")] {
        if let Some(list) = list {
            tx.execute(
                &format!("UPDATE items SET {column} = ?2 WHERE id = ?1"),
                params![id, json(list)?],
            )?;
        }
    }
    if let Some(from) = &u.from {
        tx.execute(
            "UPDATE items SET from_json = ?2 WHERE id = ?1",
            params![id, from.as_ref().map(json).transpose()?],
        )?;
    }
    if let Some(list) = &u.replace_attachments
        && !same_attachments(tx, id, list)?
    {
        tx.execute("DELETE FROM attachments WHERE item_id = ?1", params![id])?;
        for a in list {
            crate::attachments::insert_attachment(tx, id, a, now_us)?;
        }
    }
    Ok(())
}

/// Whether item `id` has exactly these attachments, in this order (then a MIME content set
/// anew that carries them keeps them, and their ids, as they are).
fn same_attachments(
    tx: &Connection,
    id: i64,
    list: &[NewAttachment],
) -> Result<bool, MailboxError> {
    let mut stmt = tx.prepare_cached(
        "SELECT name, content_type, content_id, is_inline, is_contact_photo, content, is_item \
         FROM attachments WHERE item_id = ?1 ORDER BY id",
    )?;
    let mut rows = stmt.query(params![id])?;
    let mut wanted = list.iter();
    while let Some(r) = rows.next()? {
        let Some(a) = wanted.next() else {
            return Ok(false);
        };
        let same = r.get::<_, Option<String>>(0)? == a.name
            && r.get::<_, Option<String>>(1)? == a.content_type
            && r.get::<_, Option<String>>(2)? == a.content_id
            && r.get::<_, bool>(3)? == a.is_inline
            && r.get::<_, bool>(4)? == a.is_contact_photo
            && r.get_ref(5)?
                .as_blob()
                .is_ok_and(|b| b == a.content.as_slice())
            && r.get::<_, bool>(6)? == a.is_item;
        if !same {
            return Ok(false);
        }
    }
    Ok(wanted.next().is_none())
}

pub(crate) fn apply_update(
    tx: &Connection,
    id: i64,
    u: &ItemUpdate,
    now_us: i64,
) -> Result<(), MailboxError> {
    if u.changes_draft_only() {
        apply_draft_update(tx, id, u, now_us)?;
    }
    if u.changes_attendees() {
        apply_attendee_update(tx, id, u)?;
    }
    if u.start.is_some()
        || u.end.is_some()
        || u.location.is_some()
        || u.is_all_day.is_some()
        || u.free_busy.is_some()
    {
        apply_time_update(tx, id, u)?;
    }
    if let Some(s) = &u.subject {
        tx.execute(
            "UPDATE items SET subject = ?2 WHERE id = ?1",
            params![id, s],
        )?;
    }
    if let Some(c) = &u.contact {
        validate_contact(c)?;
        tx.execute(
            "UPDATE items SET contact_json = ?2 WHERE id = ?1",
            params![id, c],
        )?;
    }
    if let Some(t) = &u.task {
        validate_task(t)?;
        tx.execute(
            "UPDATE items SET task_json = ?2 WHERE id = ?1",
            params![id, t],
        )?;
    }
    match &u.body {
        Some(Some(b)) => {
            tx.execute(
                "INSERT INTO item_bodies (item_id, body_type, content) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(item_id) DO UPDATE SET body_type = excluded.body_type, \
                 content = excluded.content",
                params![id, b.body_type.as_db(), b.content],
            )?;
        }
        Some(None) => {
            tx.execute("DELETE FROM item_bodies WHERE item_id = ?1", params![id])?;
        }
        None => {}
    }
    if let Some(b) = &u.append_body {
        let current: Option<i64> = tx
            .prepare_cached(
                "SELECT length(CAST(content AS BLOB)) FROM item_bodies WHERE item_id = ?1",
            )?
            .query_row(params![id], |r| r.get(0))
            .optional()?;
        match current {
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                too_large("body", n.saturating_add(b.content.len()), MAX_BODY_BYTES)?;
                tx.execute(
                    "UPDATE item_bodies SET content = content || ?2 WHERE item_id = ?1",
                    params![id, b.content],
                )?;
            }
            None => {
                tx.execute(
                    "INSERT INTO item_bodies (item_id, body_type, content) VALUES (?1, ?2, ?3)",
                    params![id, b.body_type.as_db(), b.content],
                )?;
            }
        }
    }
    if let Some(c) = &u.item_class {
        tx.execute(
            "UPDATE items SET item_class = ?2 WHERE id = ?1",
            params![id, c],
        )?;
    }
    if let Some(r) = u.is_read {
        tx.execute(
            "UPDATE items SET is_read = ?2 WHERE id = ?1",
            params![id, r],
        )?;
    }
    if let Some(i) = u.importance {
        tx.execute(
            "UPDATE items SET importance = ?2 WHERE id = ?1",
            params![id, i.as_str()],
        )?;
    }
    if let Some(s) = u.sensitivity {
        tx.execute(
            "UPDATE items SET sensitivity = ?2 WHERE id = ?1",
            params![id, s.as_str()],
        )?;
    }
    if let Some(c) = &u.categories {
        tx.execute(
            "UPDATE items SET categories_json = ?2 WHERE id = ?1",
            params![id, json(c)?],
        )?;
    }
    match &u.calendar {
        Some(Some(c)) => {
            let (series_json, series_end) = series_columns(Some(c))?;
            tx.execute(
                "UPDATE items SET start_time = ?2, end_time = ?3, is_all_day = ?4, free_busy = ?5, \
                 location = ?6, series_json = ?7, series_end = ?8 WHERE id = ?1",
                params![
                    id,
                    to_micros(c.start)?,
                    to_micros(c.end)?,
                    c.is_all_day,
                    c.legacy_free_busy_status.as_str(),
                    c.location,
                    series_json,
                    series_end
                ],
            )?;
        }
        Some(None) => {
            tx.execute(
                "UPDATE items SET start_time = NULL, end_time = NULL, is_all_day = NULL, \
                 free_busy = NULL, location = NULL, series_json = NULL, series_end = NULL \
                 WHERE id = ?1",
                params![id],
            )?;
        }
        None => {}
    }
    if let Some(index) = u.delete_occurrence {
        delete_occurrence(tx, id, index)?;
    }
    if let Some(last_end) = u.series_last_end {
        set_series_end(tx, id, last_end)?;
    }
    if let Some(e) = &u.modify_occurrence {
        modify_occurrence(tx, id, e)?;
    }
    for k in &u.remove_extended {
        tx.execute(
            "DELETE FROM item_props WHERE item_id = ?1 AND key = ?2",
            params![id, k],
        )?;
    }
    for (k, v) in &u.set_extended {
        tx.execute(
            "INSERT INTO item_props (item_id, key, value) VALUES (?1, ?2, ?3) \
             ON CONFLICT(item_id, key) DO UPDATE SET value = excluded.value",
            params![id, k, v],
        )?;
    }
    let n: i64 = tx.query_row(
        "SELECT COUNT(*) FROM item_props WHERE item_id = ?1",
        params![id],
        |r| r.get(0),
    )?;
    if usize::try_from(n).unwrap_or(usize::MAX) > MAX_EXTENDED_PROPERTIES {
        return Err(MailboxError::InvalidValue(format!(
            "more than {MAX_EXTENDED_PROPERTIES} extended properties"
        )));
    }
    Ok(())
}

/// Recomputes and stores an item's size after a change; returns the item (content loaded).
pub(crate) fn refresh_size(tx: &Connection, mb: &Mb, id: i64) -> Result<Item, MailboxError> {
    let mut item = load_item(tx, mb, id, true)?;
    let streams = match &item.user_configuration {
        Some(c) => Some(ConfigStreams::from_config(c)?),
        None => None,
    };
    // its attachments are loaded with its content
    let attached: u64 = item.attachments.iter().map(|a| a.size).sum();
    let size = content_size(
        item.subject.as_deref(),
        item.body.as_ref(),
        &item.extended,
        streams.as_ref(),
        [item.contact.as_ref(), item.task.as_ref()],
    ) + attached;
    if size != item.size {
        tx.execute(
            "UPDATE items SET size = ?2 WHERE id = ?1",
            params![id, i64::try_from(size).unwrap_or(i64::MAX)],
        )?;
        item.size = size;
    }
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_names_from_classes() {
        assert_eq!(
            config_name_of("IPM.Configuration.Um.CustomGreetings.External", true),
            Some("Um.CustomGreetings.External")
        );
        assert_eq!(config_name_of("ipm.configuration.X", true), Some("X"));
        assert_eq!(config_name_of("IPM.Configuration.X", false), None);
        assert_eq!(config_name_of("IPM.Note", true), None);
        assert_eq!(config_name_of("IPM.Configuration", true), None);
    }

    #[test]
    fn prepare_validates() {
        let ok = NewItem::default();
        prepare(ok.clone()).unwrap();
        let bad = [
            NewItem {
                item_class: String::new(),
                ..ok.clone()
            },
            NewItem {
                item_class: "IPM Note".into(),
                ..ok.clone()
            },
            NewItem {
                is_associated: true,
                item_class: "IPM.Configuration.bad name".into(),
                ..ok.clone()
            },
            NewItem {
                extended: vec![("k".into(), "1".into()), ("k".into(), "2".into())],
                ..ok.clone()
            },
            NewItem {
                categories: vec![String::new()],
                ..ok.clone()
            },
            NewItem {
                internet_message_id: Some(String::new()),
                ..ok.clone()
            },
        ];
        for b in bad {
            assert!(
                matches!(prepare(b.clone()), Err(MailboxError::InvalidValue(_))),
                "{b:?}"
            );
        }
        let long = NewItem {
            subject: Some("x".repeat(MAX_SUBJECT_BYTES + 1)),
            ..ok.clone()
        };
        assert!(matches!(prepare(long), Err(MailboxError::TooLarge { .. })));
        let exact = NewItem {
            subject: Some("x".repeat(MAX_SUBJECT_BYTES)),
            ..ok
        };
        prepare(exact).unwrap();
    }

    /// The hot queries use their indexes (and the default page order needs no sort step).
    #[tokio::test]
    async fn query_plans_use_the_indexes() {
        let s = MailboxStore::open_in_memory().unwrap();
        let (w, order) = find_sql(1, &FindSpec::default()).unwrap();
        let page = format!(
            "SELECT i.id FROM items i WHERE {} ORDER BY {order} LIMIT 50 OFFSET 99950",
            w.text
        );
        let count = format!("SELECT COUNT(*) FROM items i WHERE {}", w.text);
        let cal_spec = FindSpec {
            calendar_view: Some((
                time::macros::datetime!(2024-01-01 0:00 UTC),
                time::macros::datetime!(2024-01-02 0:00 UTC),
            )),
            ..FindSpec::default()
        };
        let (cw, corder) = find_sql(1, &cal_spec).unwrap();
        let cal = format!(
            "SELECT i.id FROM items i WHERE {} ORDER BY {corder} LIMIT 50",
            cw.text
        );
        let (sw, sorder) = find_sql(
            1,
            &FindSpec {
                series: true,
                ..cal_spec
            },
        )
        .unwrap();
        let series = format!(
            "SELECT i.id FROM items i WHERE {} ORDER BY {sorder} LIMIT 50",
            sw.text
        );
        let queries: Vec<(String, Vec<SqlValue>)> = vec![
            (page, w.params.clone()),
            (count, w.params),
            (cal, cw.params),
            (series, sw.params),
            (
                "SELECT id FROM items WHERE folder_id = 1 AND internet_message_id = 'x' ORDER BY id".into(),
                vec![],
            ),
            ("SELECT id FROM items WHERE folder_id = 1 AND config_name = 'x'".into(), vec![]),
            (
                "SELECT COUNT(*) FROM items WHERE folder_id = 1 AND is_associated = 0 AND is_read = 0"
                    .into(),
                vec![],
            ),
        ];
        let plans =
            s.db.call(move |c| {
                let mut out = Vec::new();
                for (sql, p) in &queries {
                    let mut stmt = c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
                    let rows = stmt
                        .query_map(params_from_iter(p.iter()), |r| r.get::<_, String>(3))?
                        .collect::<Result<Vec<_>, _>>()?;
                    out.push(rows.join(" | "));
                }
                Ok::<_, MailboxError>(out)
            })
            .await
            .unwrap();
        assert!(plans[0].contains("items_folder_received"), "{}", plans[0]);
        assert!(!plans[0].contains("TEMP B-TREE"), "{}", plans[0]);
        assert!(plans[1].contains("COVERING INDEX"), "{}", plans[1]);
        assert!(plans[2].contains("items_folder_start"), "{}", plans[2]);
        // the series a view reaches: their own partial index, no scan of the single items
        assert!(plans[3].contains("items_folder_series"), "{}", plans[3]);
        assert!(plans[4].contains("items_folder_message_id"), "{}", plans[4]);
        assert!(
            plans[5].contains("items_folder_config_name"),
            "{}",
            plans[5]
        );
        assert!(plans[6].contains("items_folder_unread"), "{}", plans[6]);
    }

    #[test]
    fn batch_limit() {
        let items = vec![NewItem::default(); MAX_ITEMS_PER_CALL + 1];
        assert!(matches!(
            prepare_batch(items),
            Err(MailboxError::InvalidRequest(_))
        ));
        prepare_batch(vec![NewItem::default(); MAX_ITEMS_PER_CALL]).unwrap();
    }
}
