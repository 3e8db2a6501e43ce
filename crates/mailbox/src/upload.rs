//! Whole-item writes of EWS bulk transfer (`UploadItems`): an item created as given, received
//! time included, or written in place of an item of the folder, keeping its id.

use rusqlite::{Connection, params};
use time::OffsetDateTime;

use crate::attachments::insert_attachment;
use crate::error::MailboxError;
use crate::items::{
    Header, Prepared, check_guard, insert_item, item_header, item_local, load_item, prepare,
    refresh_size,
};
use crate::model::{
    EventKind, FolderSel, Item, ItemGuard, MailboxKey, NewItem, UserConfig, normalize_time,
    to_micros,
};
use crate::store::{
    MailboxStore, Mb, append_event, item_flags, mailbox_row, next_change_number, resolve_folder,
    touch_folder,
};
use crate::userconfig::ConfigStreams;

/// What an upload does with its item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadTarget {
    /// A new item in the folder (`CreateAction="CreateNew"`).
    New,
    /// The item `id`, which must be in the folder, rewritten whole (`Update`); with
    /// `or_create`, a new item when it is not there (`UpdateOrCreate`).
    Replace { id: String, or_create: bool },
}

/// What [`MailboxStore::upload_item`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Uploaded {
    /// The item as stored (content loaded).
    pub item: Item,
    /// A new item was created (rather than one rewritten in place).
    pub created: bool,
}

/// What one upload writes: the item, and what the store keeps of it beside [`NewItem`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UploadContent {
    pub item: NewItem,
    /// Its received time (`DateTimeReceived`, MAPI `PidTagMessageDeliveryTime`); `None`: now.
    pub received: Option<OffsetDateTime>,
    /// The streams of a new user configuration (an associated item of class
    /// `IPM.Configuration.<Name>`; its name is the class's, whatever this one says); any other
    /// item ignores it.
    pub user_configuration: Option<UserConfig>,
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String, MailboxError> {
    serde_json::to_string(v).map_err(|e| MailboxError::InvalidValue(e.to_string()))
}

impl MailboxStore {
    /// Writes one uploaded item into `folder`, in one transaction: all of it or nothing.
    ///
    /// A new item gets `content` whole, its received time included. A rewrite keeps the item's
    /// id and whether it
    /// is associated, replaces everything else (properties, body, recipients, extended
    /// properties, attachments), gives it a new change key and logs a `Modified` event; it is
    /// refused for user configurations, whose streams the upload does not carry. `guard` says
    /// which existing items the call may rewrite. An unknown folder is
    /// [`MailboxError::FolderNotFound`]; an `Update` of an item that is not in the folder
    /// [`MailboxError::ItemNotFound`].
    pub async fn upload_item(
        &self,
        mailbox: &MailboxKey,
        folder: FolderSel,
        target: UploadTarget,
        content: UploadContent,
        guard: ItemGuard,
    ) -> Result<Uploaded, MailboxError> {
        let UploadContent {
            mut item,
            received,
            user_configuration,
        } = content;
        if let Some(m) = item.meeting.as_mut() {
            // a row of the mailbox it was exported from, not of this one
            m.associated = None;
        }
        let prepared = prepare(item)?;
        let streams = match (&prepared.config_name, user_configuration) {
            (Some(name), Some(c)) => Some(ConfigStreams::from_config(&UserConfig {
                name: name.clone(),
                ..c
            })?),
            _ => None,
        };
        let received = received
            .map(|t| normalize_time(t).and_then(to_micros))
            .transpose()?;
        let key = mailbox.as_str().to_owned();
        self.write(move |tx, now| {
            let mb = mailbox_row(tx, &key)?;
            let folder = resolve_folder(tx, &mb, &folder)?;
            let now_us = to_micros(now)?;
            let existing = match &target {
                UploadTarget::New => None,
                UploadTarget::Replace { id, or_create } => {
                    let found = match item_local(&mb, id) {
                        Ok(local) => match item_header(tx, &mb, local) {
                            Ok(h) if h.folder == folder => Some((local, h)),
                            Ok(_) | Err(MailboxError::ItemNotFound) => None,
                            Err(e) => return Err(e),
                        },
                        Err(MailboxError::ItemNotFound) => None,
                        Err(e) => return Err(e),
                    };
                    if found.is_none() && !or_create {
                        return Err(MailboxError::ItemNotFound);
                    }
                    found
                }
            };
            match existing {
                None => {
                    let id = insert_item(tx, &mb, folder, &prepared, streams.as_ref(), now_us)?;
                    if let Some(r) = received {
                        tx.execute(
                            "UPDATE items SET received = ?2 WHERE id = ?1",
                            params![id, r],
                        )?;
                    }
                    Ok(Uploaded {
                        item: load_item(tx, &mb, id, true)?,
                        created: true,
                    })
                }
                Some((local, header)) => {
                    check_guard(tx, &mb, header.folder, guard)?;
                    if header.config_name.is_some() || prepared.config_name.is_some() {
                        return Err(MailboxError::InvalidRequest(
                            "an upload cannot rewrite a user configuration".into(),
                        ));
                    }
                    rewrite(tx, &mb, local, &header, &prepared, received, now_us)?;
                    Ok(Uploaded {
                        item: refresh_size(tx, &mb, local)?,
                        created: false,
                    })
                }
            }
        })
        .await
    }
}

/// Replaces everything of item `id` but its id, folder and associated flag.
fn rewrite(
    tx: &Connection,
    mb: &Mb,
    id: i64,
    header: &Header,
    p: &Prepared,
    received: Option<i64>,
    now_us: i64,
) -> Result<(), MailboxError> {
    let it = &p.item;
    let cal = it.calendar.as_ref();
    let cal_start = cal.map(|c| to_micros(c.start)).transpose()?;
    let cal_end = cal.map(|c| to_micros(c.end)).transpose()?;
    let (series_json, series_end) = crate::items::series_columns(cal)?;
    tx.execute(
        "UPDATE items SET item_class = ?2, subject = ?3, from_json = ?4, sender_json = ?5, \
         to_json = ?6, cc_json = ?7, bcc_json = ?8, importance = ?9, sensitivity = ?10, \
         categories_json = ?11, is_read = ?12, internet_message_id = ?13, sent = ?14, \
         created = ?15, received = ?16, start_time = ?17, end_time = ?18, is_all_day = ?19, \
         free_busy = ?20, location = ?21, is_draft = ?22, meeting_json = ?23, \
         meeting_uid = ?24, series_json = ?25, series_end = ?26, contact_json = ?27, \
         task_json = ?28 WHERE id = ?1",
        params![
            id,
            it.item_class,
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
            received.unwrap_or(now_us),
            cal_start,
            cal_end,
            cal.map(|c| c.is_all_day),
            cal.map(|c| c.legacy_free_busy_status.as_str()),
            cal.and_then(|c| c.location.as_deref()),
            it.is_draft,
            it.meeting.as_ref().map(json).transpose()?,
            it.meeting.as_ref().map(|m| m.uid.as_str()),
            series_json,
            series_end,
            it.contact,
            it.task,
        ],
    )?;
    tx.execute("DELETE FROM item_bodies WHERE item_id = ?1", params![id])?;
    if let Some(b) = &it.body {
        tx.execute(
            "INSERT INTO item_bodies (item_id, body_type, content) VALUES (?1, ?2, ?3)",
            params![id, b.body_type.as_db(), b.content],
        )?;
    }
    tx.execute("DELETE FROM item_props WHERE item_id = ?1", params![id])?;
    for (k, v) in &it.extended {
        tx.execute(
            "INSERT INTO item_props (item_id, key, value) VALUES (?1, ?2, ?3)",
            params![id, k, v],
        )?;
    }
    tx.execute("DELETE FROM attachments WHERE item_id = ?1", params![id])?;
    for a in &it.attachments {
        insert_attachment(tx, id, a, now_us)?;
    }
    let cn = next_change_number(tx, mb.id)?;
    tx.execute(
        "UPDATE items SET change_number = ?2, last_modified = ?3 WHERE id = ?1",
        params![id, cn, now_us],
    )?;
    touch_folder(tx, header.folder, cn, now_us)?;
    append_event(
        tx,
        mb,
        EventKind::Modified,
        id,
        header.folder,
        None,
        item_flags(header.is_associated),
        now_us,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Body, BodyType, NewAttachment, Recipient};
    use time::macros::datetime;

    async fn store() -> (MailboxStore, MailboxKey) {
        let s = MailboxStore::open_in_memory().unwrap();
        let k = MailboxKey::new("alice").unwrap();
        s.ensure_mailbox(&k).await.unwrap();
        (s, k)
    }

    fn item(subject: &str) -> NewItem {
        NewItem {
            subject: Some(subject.into()),
            body: Some(Body {
                body_type: BodyType::Text,
                content: subject.repeat(3),
            }),
            to: vec![Recipient::new(Some("Bob"), "bob@contoso.example")],
            extended: vec![("tag:0x7c09|type:binary".into(), "AA==".into())],
            attachments: vec![NewAttachment {
                name: Some("a.bin".into()),
                content: vec![1, 2, 3],
                ..NewAttachment::default()
            }],
            ..NewItem::default()
        }
    }

    fn content(
        item: NewItem,
        received: Option<OffsetDateTime>,
        user_configuration: Option<UserConfig>,
    ) -> UploadContent {
        UploadContent {
            item,
            received,
            user_configuration,
        }
    }

    fn inbox() -> FolderSel {
        FolderSel::distinguished("inbox")
    }

    #[tokio::test]
    async fn creates_with_the_received_time() {
        let (s, k) = store().await;
        let received = datetime!(2020-05-06 07:08:09.123456 UTC);
        let up = s
            .upload_item(
                &k,
                inbox(),
                UploadTarget::New,
                content(item("one"), Some(received), None),
                ItemGuard::Any,
            )
            .await
            .unwrap();
        assert!(up.created);
        assert_eq!(up.item.date_time_received, received);
        assert_eq!(up.item.subject.as_deref(), Some("one"));
        assert_eq!(up.item.attachments.len(), 1);
        assert_eq!(s.get_folder(&k, inbox()).await.unwrap().total_count, 1);
    }

    #[tokio::test]
    async fn rewrites_in_place_keeping_the_id() {
        let (s, k) = store().await;
        let first = s
            .upload_item(
                &k,
                inbox(),
                UploadTarget::New,
                content(item("one"), None, None),
                ItemGuard::Any,
            )
            .await
            .unwrap()
            .item;
        let mut next = item("two");
        next.to.clear();
        next.extended.clear();
        next.attachments.clear();
        next.is_read = true;
        let before = s.counters(&k).await.unwrap().last_event_seq;
        let up = s
            .upload_item(
                &k,
                inbox(),
                UploadTarget::Replace {
                    id: first.id.clone(),
                    or_create: false,
                },
                content(next, None, None),
                ItemGuard::Any,
            )
            .await
            .unwrap();
        assert!(!up.created);
        assert_eq!(up.item.id, first.id);
        assert_ne!(up.item.change_key, first.change_key);
        assert_eq!(up.item.subject.as_deref(), Some("two"));
        assert!(up.item.to.is_empty() && up.item.extended.is_empty());
        assert!(up.item.attachments.is_empty() && !up.item.has_attachments);
        assert!(up.item.is_read);
        let folder = s.get_folder(&k, inbox()).await.unwrap();
        assert_eq!((folder.total_count, folder.unread_count), (1, 0));
        // one Modified event
        let events = s.events_since(&k, before, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::Modified);
    }

    #[tokio::test]
    async fn update_needs_the_item_in_that_folder() {
        let (s, k) = store().await;
        let first = s
            .upload_item(
                &k,
                inbox(),
                UploadTarget::New,
                content(item("one"), None, None),
                ItemGuard::Any,
            )
            .await
            .unwrap()
            .item;
        let elsewhere = FolderSel::distinguished("drafts");
        let e = s
            .upload_item(
                &k,
                elsewhere.clone(),
                UploadTarget::Replace {
                    id: first.id.clone(),
                    or_create: false,
                },
                content(item("two"), None, None),
                ItemGuard::Any,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, MailboxError::ItemNotFound), "{e:?}");
        // UpdateOrCreate: a new item there, the first one untouched
        let up = s
            .upload_item(
                &k,
                elsewhere,
                UploadTarget::Replace {
                    id: first.id.clone(),
                    or_create: true,
                },
                content(item("two"), None, None),
                ItemGuard::Any,
            )
            .await
            .unwrap();
        assert!(up.created);
        assert_ne!(up.item.id, first.id);
        let again = s
            .get_items(&k, vec![first.id])
            .await
            .unwrap()
            .remove(0)
            .unwrap();
        assert_eq!(again.subject.as_deref(), Some("one"));
        // an id of another mailbox is not found either
        let e = s
            .upload_item(
                &k,
                inbox(),
                UploadTarget::Replace {
                    id: "garbage".into(),
                    or_create: false,
                },
                content(item("x"), None, None),
                ItemGuard::Any,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                MailboxError::InvalidIdMalformed(_) | MailboxError::ItemNotFound
            ),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn a_refused_upload_writes_nothing() {
        let (s, k) = store().await;
        let before = s.counters(&k).await.unwrap();
        let bad = NewItem {
            item_class: String::new(),
            ..item("x")
        };
        assert!(
            s.upload_item(
                &k,
                inbox(),
                UploadTarget::New,
                content(bad, None, None),
                ItemGuard::Any
            )
            .await
            .is_err()
        );
        let e = s
            .upload_item(
                &k,
                FolderSel::id("nope"),
                UploadTarget::New,
                content(item("x"), None, None),
                ItemGuard::Any,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                MailboxError::FolderNotFound | MailboxError::InvalidIdMalformed(_)
            ),
            "{e:?}"
        );
        assert_eq!(s.counters(&k).await.unwrap(), before);
        assert_eq!(s.get_folder(&k, inbox()).await.unwrap().total_count, 0);
    }

    #[tokio::test]
    async fn a_user_configuration_gets_its_streams() {
        let (s, k) = store().await;
        let root = FolderSel::distinguished("root");
        let greeting = NewItem {
            item_class: "IPM.Configuration.Um.CustomGreetings.External".into(),
            is_associated: true,
            ..NewItem::default()
        };
        let config = UserConfig {
            name: "ignored: the class names it".into(),
            dictionary: None,
            xml_data: Some(b"<x/>".to_vec()),
            binary_data: Some(b"RIFF....WAVE".to_vec()),
        };
        let up = s
            .upload_item(
                &k,
                root.clone(),
                UploadTarget::New,
                content(greeting.clone(), None, Some(config.clone())),
                ItemGuard::Any,
            )
            .await
            .unwrap();
        let got = s
            .get_user_configuration(&k, root.clone(), "Um.CustomGreetings.External".into())
            .await
            .unwrap();
        assert_eq!(got.item_id, up.item.id);
        assert_eq!(got.config.binary_data, config.binary_data);
        assert_eq!(got.config.xml_data, config.xml_data);
        // a second one of the name is refused; a rewrite of one too
        let e = s
            .upload_item(
                &k,
                root.clone(),
                UploadTarget::New,
                content(greeting.clone(), None, Some(config.clone())),
                ItemGuard::Any,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, MailboxError::UserConfigurationExists(_)),
            "{e:?}"
        );
        let e = s
            .upload_item(
                &k,
                root,
                UploadTarget::Replace {
                    id: up.item.id,
                    or_create: false,
                },
                content(greeting, None, Some(config)),
                ItemGuard::Any,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, MailboxError::InvalidRequest(_)), "{e:?}");
    }

    #[tokio::test]
    async fn guarded_rewrites_stay_out_of_recoverable_items() {
        let (s, k) = store().await;
        let purges = FolderSel::distinguished("recoverableitemspurges");
        let first = s
            .upload_item(
                &k,
                purges.clone(),
                UploadTarget::New,
                content(item("one"), None, None),
                ItemGuard::Any,
            )
            .await
            .unwrap()
            .item;
        let e = s
            .upload_item(
                &k,
                purges,
                UploadTarget::Replace {
                    id: first.id,
                    or_create: false,
                },
                content(item("two"), None, None),
                ItemGuard::OutsideRecoverableItems,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, MailboxError::InRecoverableItems), "{e:?}");
    }
}
