//! EWS notifications: push and pull subscriptions on a user's folders, and the push notifier
//! that calls subscribers back with `SendNotification`, authenticated by a token Exchange signs
//! with its current auth certificate (flow F2: `iss` = `00000002-…@<realm>`, `aud` =
//! `<partner app>/<callback host>@<realm>`). The subscriber decides whether it trusts that
//! certificate; for Skype that is what steps 4–6 of the seed set up.

use std::collections::HashSet;

use ews_proto::notification::{
    EventTarget, Notification, NotificationEvent, ObjectEvent, ObjectEventKind, SubscriptionStatus,
};
use ews_proto::request::{EventType, Subscription};
use ews_proto::response::ResponseError;
use ews_proto::types::{FolderId, ItemRef};
use mailbox::{EventKind, EventObject, FolderSel, MailboxError, MailboxKey};
use s2s_proto::principal::{EXCHANGE_APP_ID, PrincipalName, SKYPE_APP_ID};
use serde::Serialize;
use store::Migration;
use store::rusqlite::{OptionalExtension, params};

use crate::Exchange;
use crate::error::ExchangeError;

pub const MIGRATION: Migration = Migration {
    version: 2,
    sql: r#"
CREATE TABLE subscriptions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('push', 'pull')),
    mailbox_key TEXT NOT NULL,
    partner TEXT NOT NULL,
    app_id TEXT NOT NULL,
    folder_ids TEXT NOT NULL,
    event_types TEXT NOT NULL,
    url TEXT,
    status_frequency INTEGER NOT NULL DEFAULT 30,
    timeout_minutes INTEGER NOT NULL DEFAULT 30,
    watermark INTEGER NOT NULL,
    created INTEGER NOT NULL,
    last_contact INTEGER NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX subscriptions_mailbox ON subscriptions (mailbox_key);
"#,
};

/// Streaming subscriptions: the same table, `kind` also `streaming` (SQLite cannot change a CHECK
/// constraint in place, so the table is rebuilt). For a streaming row, `watermark` is how far its
/// connections delivered, `timeout_minutes` how long after its last connection closed it expires
/// (30), and `last_contact` when that connection closed (or, while one is open, when it will).
pub const STREAMING_MIGRATION: Migration = Migration {
    version: 5,
    sql: r#"
CREATE TABLE subscriptions_v5 (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('push', 'pull', 'streaming')),
    mailbox_key TEXT NOT NULL,
    partner TEXT NOT NULL,
    app_id TEXT NOT NULL,
    folder_ids TEXT NOT NULL,
    event_types TEXT NOT NULL,
    url TEXT,
    status_frequency INTEGER NOT NULL DEFAULT 30,
    timeout_minutes INTEGER NOT NULL DEFAULT 30,
    watermark INTEGER NOT NULL,
    created INTEGER NOT NULL,
    last_contact INTEGER NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
INSERT INTO subscriptions_v5 (id, kind, mailbox_key, partner, app_id, folder_ids, event_types, url, status_frequency, timeout_minutes, watermark, created, last_contact, failures, last_error)
    SELECT id, kind, mailbox_key, partner, app_id, folder_ids, event_types, url, status_frequency, timeout_minutes, watermark, created, last_contact, failures, last_error FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_v5 RENAME TO subscriptions;
CREATE INDEX subscriptions_mailbox ON subscriptions (mailbox_key);
"#,
};

/// Most subscriptions per mailbox (Exchange's default throttling allows 20).
const MAX_PER_MAILBOX: i64 = 20;
/// Failed callbacks in a row after which a push subscription is dropped.
const MAX_FAILURES: i64 = 10;
/// Lifetime of the callback token, seconds.
const CALLBACK_TOKEN_SECS: i64 = 600;

/// A subscription as the admin API shows it (`Get-EwsSubscription`, an OpenHybrid cmdlet).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionView {
    pub id: String,
    pub kind: String,
    pub mailbox: String,
    pub partner: String,
    pub url: Option<String>,
    pub watermark: i64,
    pub failures: i64,
    pub last_error: Option<String>,
}

fn event_type_of(k: EventKind) -> EventType {
    match k {
        EventKind::Created => EventType::CreatedEvent,
        EventKind::Deleted => EventType::DeletedEvent,
        EventKind::Moved => EventType::MovedEvent,
        EventKind::Modified => EventType::ModifiedEvent,
    }
}

fn object_kind(k: EventKind) -> ObjectEventKind {
    match k {
        EventKind::Created => ObjectEventKind::Created,
        EventKind::Deleted => ObjectEventKind::Deleted,
        EventKind::Moved => ObjectEventKind::Moved,
        EventKind::Modified => ObjectEventKind::Modified,
    }
}

/// The `t:*Event` of one event of the mailbox's log (`t` is its event type, NewMailEvent for the
/// second event of delivered mail): an item's with `t:ItemId`, a folder's with `t:FolderId`
/// (and, moved, `t:OldFolderId`: a folder keeps its id when it moves).
fn object_event(t: EventType, e: mailbox::Event) -> ObjectEvent {
    let (target, old_target) = match e.object {
        EventObject::Item => (
            EventTarget::Item(ItemRef {
                id: e.item_id,
                change_key: None,
            }),
            None,
        ),
        EventObject::Folder => {
            let folder = FolderId {
                id: e.item_id,
                change_key: None,
            };
            let old = (e.kind == EventKind::Moved).then(|| EventTarget::Folder(folder.clone()));
            (EventTarget::Folder(folder), old)
        }
    };
    ObjectEvent {
        kind: match t {
            EventType::NewMailEvent => ObjectEventKind::NewMail,
            _ => object_kind(e.kind),
        },
        watermark: e.seq.to_string(),
        time_stamp: e.at,
        target,
        parent_folder_id: FolderId {
            id: e.folder_id,
            change_key: None,
        },
        old_target,
        old_parent_folder_id: e.old_folder_id.map(|id| FolderId {
            id,
            change_key: None,
        }),
        unread_count: None,
    }
}

/// Validates a push callback URL: http or https, a host, no credentials, bounded.
pub fn check_callback_url(url: &str) -> Result<reqwest::Url, ResponseError> {
    let bad = |why: &str| {
        ResponseError::new(
            "ErrorInvalidPushSubscriptionUrl",
            &format!("The push subscription URL is invalid: {why}."),
        )
    };
    if url.len() > 2048 {
        return Err(bad("longer than 2048 characters"));
    }
    let u = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad("only http and https are allowed"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("it must not carry credentials"));
    }
    // Link-local and unspecified addresses (cloud metadata services live at 169.254.169.254)
    // are never a subscriber; loopback and private addresses are (the lab's Skype is on
    // loopback). A name is not resolved here: see ARCHITECTURE.md.
    let host = u.host_str().unwrap_or_default();
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>();
    let v4_refused =
        |a: std::net::Ipv4Addr| a.is_link_local() || a.is_unspecified() || a.is_broadcast();
    let refused = match ip {
        Ok(std::net::IpAddr::V4(a)) => v4_refused(a),
        Ok(std::net::IpAddr::V6(a)) => {
            a.is_unspecified()
                || a.is_unicast_link_local()
                || a.to_ipv4_mapped().is_some_and(v4_refused)
        }
        Err(_) => false,
    };
    if refused {
        return Err(bad(
            "it names a link-local or unspecified address, which is never a subscriber",
        ));
    }
    Ok(u)
}

/// Most push deliveries in flight at once (see [`Exchange::push_once`]).
pub const MAX_CONCURRENT_PUSHES: usize = 16;

impl Exchange {
    /// `Subscribe`: push, pull or streaming on folders of the caller's mailbox. Answers the
    /// subscription's id and watermark (none for a streaming subscription, as Exchange answers).
    pub(crate) async fn subscribe(
        &self,
        key: &MailboxKey,
        partner: &str,
        app_id: &str,
        sub: Subscription,
    ) -> Result<(String, Option<String>), ResponseError> {
        let (kind, common, url, freq, timeout) = match sub {
            Subscription::Push {
                common,
                status_frequency,
                url,
            } => {
                check_callback_url(&url)?;
                if !(1..=1440).contains(&status_frequency) {
                    return Err(ResponseError::new(
                        "ErrorInvalidSubscriptionRequest",
                        "StatusFrequency must be 1 to 1440 minutes.",
                    ));
                }
                ("push", common, Some(url), status_frequency, 30)
            }
            Subscription::Pull { common, timeout } => {
                if !(1..=1440).contains(&timeout) {
                    return Err(ResponseError::new(
                        "ErrorInvalidSubscriptionRequest",
                        "Timeout must be 1 to 1440 minutes.",
                    ));
                }
                ("pull", common, None, 30, timeout)
            }
            // events from the moment of subscribing; expires 30 minutes after its last
            // GetStreamingEvents connection closed (or after subscribing, if it never had one)
            Subscription::Streaming { common } => (
                "streaming",
                common,
                None,
                30,
                crate::streaming::STREAMING_EXPIRY_MINUTES,
            ),
        };
        let mut folders = Vec::new();
        if !common.subscribe_to_all_folders {
            for f in &common.folder_ids {
                let sel = match f {
                    ews_proto::types::FolderRef::Distinguished { id, .. } => {
                        FolderSel::Distinguished(id.as_str().to_owned())
                    }
                    ews_proto::types::FolderRef::Id { id, .. } => FolderSel::Id(id.clone()),
                };
                let folder = self
                    .inner
                    .mbx
                    .get_folder(key, sel)
                    .await
                    .map_err(|e| ResponseError::new(e.response_code(), &e.to_string()))?;
                folders.push(folder.id);
            }
        }
        let types: Vec<&str> = common.event_types.iter().map(|t| t.as_str()).collect();
        let watermark = match &common.watermark {
            // a watermark to start from must be one the item log can be read on from: not ahead
            // of it, and the event after it still kept (Exchange: "not found in the mailbox
            // events table", e.g. older than the retention)
            Some(w) => {
                let w = w.parse::<u64>().map_err(|_| {
                    ResponseError::new("ErrorInvalidWatermark", "The watermark is invalid.")
                })?;
                self.inner
                    .mbx
                    .check_watermark(key, w)
                    .await
                    .map_err(|e| ResponseError::new(e.response_code(), &e.to_string()))?;
                i64::try_from(w).map_err(|_| {
                    ResponseError::new("ErrorInvalidWatermark", "The watermark is invalid.")
                })?
            }
            None => {
                self.inner
                    .mbx
                    .counters(key)
                    .await
                    .map_err(|e| ResponseError::new(e.response_code(), &e.to_string()))?
                    .last_event_seq as i64
            }
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let now = self.inner.cfg.clock.unix();
        let (k, p, a, fj, tj) = (
            key.as_str().to_owned(),
            partner.to_owned(),
            app_id.to_owned(),
            serde_json::to_string(&folders).unwrap_or_default(),
            serde_json::to_string(&types).unwrap_or_default(),
        );
        let idc = id.clone();
        let open = self.inner.streams.open_subscriptions(key.as_str());
        self.inner
            .org
            .db
            .call(move |c| -> Result<(), ExchangeError> {
                // expired pull subscriptions (no GetEvents within their Timeout) hold no slot
                c.execute(
                    "DELETE FROM subscriptions WHERE mailbox_key = ?1 AND kind = 'pull' AND last_contact + timeout_minutes * 60 < ?2",
                    params![k, now],
                )?;
                // nor do expired streaming ones (none with a connection open)
                let expired: Vec<String> = c
                    .prepare("SELECT id FROM subscriptions WHERE mailbox_key = ?1 AND kind = 'streaming' AND last_contact + timeout_minutes * 60 < ?2")?
                    .query_map(params![k, now], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                for gone in expired.iter().filter(|i| !open.contains(*i)) {
                    c.execute("DELETE FROM subscriptions WHERE id = ?1", [gone])?;
                }
                let n: i64 = c.query_row("SELECT COUNT(*) FROM subscriptions WHERE mailbox_key = ?1", [&k], |r| r.get(0))?;
                if n >= MAX_PER_MAILBOX {
                    return Err(ExchangeError::Invalid(format!("the mailbox already has {n} subscriptions")));
                }
                c.execute(
                    "INSERT INTO subscriptions (id, kind, mailbox_key, partner, app_id, folder_ids, event_types, url, status_frequency, timeout_minutes, watermark, created, last_contact)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                    params![idc, kind, k, p, a, fj, tj, url, freq, timeout, watermark, now],
                )?;
                Ok(())
            })
            .await
            .map_err(|e| ResponseError::new("ErrorExceededSubscriptionCount", &e.to_string()))?;
        let watermark = (kind != "streaming").then(|| watermark.to_string());
        Ok((id, watermark))
    }

    /// Ends a subscription of this mailbox that this application created (another partner acting
    /// as the same user cannot end it: it answers not found, as for an unknown id).
    pub(crate) async fn unsubscribe(
        &self,
        key: &MailboxKey,
        app_id: &str,
        id: &str,
    ) -> Result<(), ResponseError> {
        let (sub, k, app) = (id.to_owned(), key.as_str().to_owned(), app_id.to_owned());
        let n = self
            .inner
            .org
            .db
            .call(move |c| -> Result<usize, ExchangeError> {
                Ok(c.execute(
                    "DELETE FROM subscriptions WHERE id = ?1 AND mailbox_key = ?2 AND app_id = ?3",
                    [&sub, &k, &app],
                )?)
            })
            .await
            .map_err(|e| ResponseError::new("ErrorInternalServerError", &e.to_string()))?;
        if n == 0 {
            return Err(ResponseError::new(
                "ErrorSubscriptionNotFound",
                "The specified subscription was not found.",
            ));
        }
        // a streaming connection serving it tells its client (ErrorSubscriptionUnsubscribed)
        self.inner.streams.unsubscribed(id);
        Ok(())
    }

    /// Events after the subscription's watermark that match its folders and types: item events
    /// of items in (or moved into or out of) a subscribed folder, and folder events of a
    /// subscribed folder or of folders in (or moved into or out of) one (all of them with
    /// SubscribeToAllFolders), in the order of the mailbox's one event sequence: the item log
    /// holds both, so one watermark orders them (see `mailbox::EventObject`). After each item
    /// event, a `t:ModifiedEvent` of each subscribed folder it changed (where the item is, and
    /// where it was), with the folder's `t:UnreadCount`, as Exchange reports a folder's counts
    /// changing: the count as the folder has it when the events are read (the log keeps no
    /// counts), under the item event's watermark; none for a folder deleted since.
    pub(crate) async fn pending(
        &self,
        key: &MailboxKey,
        folders: &HashSet<String>,
        types: &HashSet<String>,
        after: u64,
    ) -> Result<(Vec<ObjectEvent>, u64, bool), ExchangeError> {
        let events = self.inner.mbx.events_since(key, after, 100).await?;
        let more = events.len() == 100;
        let last = events.last().map(|e| e.seq).unwrap_or(after);
        let wanted = |t: EventType| types.is_empty() || types.contains(t.as_str());
        let counts_wanted = wanted(EventType::ModifiedEvent);
        // each folder's parent and unread count, read once per call
        let mut seen: std::collections::HashMap<String, Option<(String, u64)>> =
            std::collections::HashMap::new();
        let mut out = Vec::new();
        for e in events.into_iter().filter(|e| {
            folders.is_empty()
                || folders.contains(&e.folder_id)
                || e.old_folder_id
                    .as_ref()
                    .is_some_and(|f| folders.contains(f))
                || (e.object == EventObject::Folder && folders.contains(&e.item_id))
        }) {
            // where the item is and where it was
            let changed = if counts_wanted && e.object == EventObject::Item {
                [Some(e.folder_id.clone()), e.old_folder_id.clone()]
            } else {
                [None, None]
            };
            let (seq, at) = (e.seq, e.at);
            // delivered mail is a CreatedEvent and a NewMailEvent, as Exchange reports it
            let new_mail = e.new_mail.then(|| (EventType::NewMailEvent, e.clone()));
            for (t, e) in std::iter::once((event_type_of(e.kind), e)).chain(new_mail) {
                if wanted(t) {
                    out.push(object_event(t, e));
                }
            }
            for f in changed
                .into_iter()
                .flatten()
                .filter(|f| folders.is_empty() || folders.contains(f))
            {
                let info = match seen.get(&f) {
                    Some(i) => i.clone(),
                    None => {
                        let i = match self
                            .inner
                            .mbx
                            .get_folder(key, mailbox::FolderSel::Id(f.clone()))
                            .await
                        {
                            Ok(x) => Some((x.parent_id.unwrap_or_default(), x.unread_count)),
                            Err(MailboxError::FolderNotFound) => None,
                            Err(e) => return Err(e.into()),
                        };
                        seen.insert(f.clone(), i.clone());
                        i
                    }
                };
                if let Some((parent, unread)) = info {
                    out.push(ObjectEvent {
                        kind: ObjectEventKind::Modified,
                        watermark: seq.to_string(),
                        time_stamp: at,
                        target: EventTarget::Folder(FolderId {
                            id: f,
                            change_key: None,
                        }),
                        parent_folder_id: FolderId {
                            id: parent,
                            change_key: None,
                        },
                        old_target: None,
                        old_parent_folder_id: None,
                        unread_count: Some(u32::try_from(unread).unwrap_or(u32::MAX)),
                    });
                }
            }
        }
        Ok((out, last, more))
    }

    /// `GetEvents` on a pull subscription of this mailbox that this application created.
    pub(crate) async fn get_events(
        &self,
        key: &MailboxKey,
        app_id: &str,
        id: &str,
        watermark: &str,
    ) -> Result<Notification, ResponseError> {
        let row = self
            .load_subscription(id)
            .await
            .map_err(|e| ResponseError::new("ErrorInternalServerError", &e.to_string()))?;
        let row = row.filter(|s| s.mailbox_key == key.as_str() && s.app_id == app_id);
        if row.as_ref().is_some_and(|s| s.kind == "streaming") {
            return Err(ResponseError::new(
                "ErrorInvalidPullSubscriptionId",
                "The subscription is a streaming subscription: read it with GetStreamingEvents, not GetEvents.",
            ));
        }
        let Some(s) = row.filter(|s| s.kind == "pull") else {
            return Err(ResponseError::new(
                "ErrorSubscriptionNotFound",
                "The specified subscription was not found.",
            ));
        };
        // a pull subscription not read within its Timeout has expired (and is gone)
        let now = self.inner.cfg.clock.unix();
        if now - s.last_contact > s.timeout_minutes * 60 {
            if let Err(e) = self.remove_subscription(id).await {
                tracing::warn!(subscription = %id, error = %e, "an expired subscription was not removed");
            }
            return Err(ResponseError::new(
                "ErrorExpiredSubscription",
                &format!(
                    "The subscription has expired: no GetEvents for more than its Timeout of {} minutes. Subscribe again.",
                    s.timeout_minutes
                ),
            ));
        }
        let after: u64 = watermark.parse().map_err(|_| {
            ResponseError::new("ErrorInvalidWatermark", "The watermark is invalid.")
        })?;
        // every watermark this subscription handed out is at most its latest one
        if after > u64::try_from(s.watermark).unwrap_or(0) {
            return Err(ResponseError::new(
                "ErrorInvalidWatermark",
                "The watermark is invalid: this subscription never issued it; pass the last watermark GetEvents or Subscribe returned.",
            ));
        }
        let (events, last, more) = match self.pending(key, &s.folders, &s.types, after).await {
            Ok(p) => p,
            Err(ExchangeError::Mailbox(MailboxError::InvalidWatermark(why))) => {
                return Err(self.watermark_gone(key, id, &s, after, &why).await);
            }
            Err(e) => {
                return Err(ResponseError::new(
                    "ErrorInternalServerError",
                    &e.to_string(),
                ));
            }
        };
        self.advance(id, last as i64, None)
            .await
            .map_err(|e| ResponseError::new("ErrorInternalServerError", &e.to_string()))?;
        let mut evs: Vec<NotificationEvent> =
            events.into_iter().map(NotificationEvent::Object).collect();
        if evs.is_empty() {
            evs.push(NotificationEvent::Status {
                watermark: last.to_string(),
            });
        }
        Ok(Notification {
            subscription_id: id.to_owned(),
            previous_watermark: Some(watermark.to_owned()),
            more_events: more,
            events: evs,
        })
    }

    /// GetEvents' answer when the events after the watermark it was given are no longer kept
    /// (the change logs' retention pruned them; never answered with the events that are left).
    /// When the subscription's own latest watermark cannot be read on from either, the
    /// subscription can never deliver again: it ends, `ErrorExpiredSubscription` (what Exchange
    /// answers for a subscription that is gone; a pull subscription read within its timeout never
    /// gets here, the retention being at least a day). Otherwise only the watermark given is
    /// stale: `ErrorInvalidWatermark`, and the subscription's latest one still works.
    async fn watermark_gone(
        &self,
        key: &MailboxKey,
        id: &str,
        s: &Sub,
        after: u64,
        why: &str,
    ) -> ResponseError {
        let latest = u64::try_from(s.watermark).unwrap_or(0);
        let latest_ok =
            after != latest && self.inner.mbx.check_watermark(key, latest).await.is_ok();
        if latest_ok {
            return ResponseError::new(
                "ErrorInvalidWatermark",
                &format!(
                    "The watermark is invalid: {why}. Pass the last watermark GetEvents or Subscribe returned."
                ),
            );
        }
        if let Err(e) = self.remove_subscription(id).await {
            tracing::warn!(subscription = %id, error = %e, "an expired subscription was not removed");
        }
        ResponseError::new(
            "ErrorExpiredSubscription",
            &format!(
                "The subscription has expired: the events after its watermark are no longer kept by this server ({why}). Subscribe again."
            ),
        )
    }

    /// Deletes a subscription by id (one that can never deliver again).
    pub(crate) async fn remove_subscription(&self, id: &str) -> Result<(), ExchangeError> {
        let id = id.to_owned();
        self.inner
            .org
            .db
            .call(move |c| -> Result<(), ExchangeError> {
                c.execute("DELETE FROM subscriptions WHERE id = ?1", [&id])?;
                Ok(())
            })
            .await
    }

    pub(crate) async fn load_subscription(&self, id: &str) -> Result<Option<Sub>, ExchangeError> {
        let id = id.to_owned();
        self.inner
            .org
            .db
            .call(move |c| -> Result<Option<Sub>, ExchangeError> {
                Ok(c.query_row("SELECT id, kind, mailbox_key, app_id, folder_ids, event_types, url, status_frequency, watermark, last_contact, failures, timeout_minutes FROM subscriptions WHERE id = ?1", [&id], sub_from_row).optional()?)
            })
            .await
    }

    async fn advance(
        &self,
        id: &str,
        watermark: i64,
        error: Option<String>,
    ) -> Result<(), ExchangeError> {
        let id = id.to_owned();
        let now = self.inner.cfg.clock.unix();
        self.inner
            .org
            .db
            .call(move |c| -> Result<(), ExchangeError> {
                match error {
                    None => c.execute("UPDATE subscriptions SET watermark = MAX(watermark, ?1), last_contact = ?2, failures = 0, last_error = NULL WHERE id = ?3", params![watermark, now, id])?,
                    Some(e) => c.execute("UPDATE subscriptions SET failures = failures + 1, last_error = ?1 WHERE id = ?2", params![e, id])?,
                };
                c.execute("DELETE FROM subscriptions WHERE failures >= ?1", [MAX_FAILURES])?;
                Ok(())
            })
            .await
    }

    /// All subscriptions (admin view).
    pub async fn subscriptions(&self) -> Result<Vec<SubscriptionView>, ExchangeError> {
        self.inner
            .org
            .db
            .call(|c| -> Result<Vec<SubscriptionView>, ExchangeError> {
                let mut st = c.prepare("SELECT s.id, s.kind, s.mailbox_key, s.partner, s.url, s.watermark, s.failures, s.last_error, r.primary_smtp FROM subscriptions s LEFT JOIN recipients r ON r.guid = s.mailbox_key ORDER BY s.created")?;
                let rows = st.query_map([], |r| {
                    Ok(SubscriptionView {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        mailbox: r.get::<_, Option<String>>(8)?.unwrap_or(r.get(2)?),
                        partner: r.get(3)?,
                        url: r.get(4)?,
                        watermark: r.get(5)?,
                        failures: r.get(6)?,
                        last_error: r.get(7)?,
                    })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
    }

    /// The F2 token: signed by Exchange's current auth certificate for `<app>/<host>@<realm>`.
    pub async fn sign_outbound_token(
        &self,
        app_id: &str,
        host: &str,
    ) -> Result<String, ExchangeError> {
        let realm = self.snapshot().realm.clone().ok_or_else(|| {
            ExchangeError::Invalid(
                "no realm: configure an auth server first (New-AuthServer)".into(),
            )
        })?;
        let now = self.inner.cfg.clock.unix();
        let key = self
            .inner
            .org
            .db
            .call(move |c| -> Result<s2s_proto::SigningKey, ExchangeError> {
                let t = crate::trust::signing_thumbprint(c, now)?.ok_or_else(|| {
                    ExchangeError::Invalid("AuthConfig has no current certificate".into())
                })?;
                crate::trust::signing_key(c, &t)
            })
            .await?;
        let spec = s2s_proto::ActorTokenSpec {
            aud: PrincipalName::service(app_id, host, &realm),
            iss: PrincipalName::app(EXCHANGE_APP_ID, &realm),
            nameid: PrincipalName::app(EXCHANGE_APP_ID, &realm),
            iat: now,
            nbf: now - 60,
            exp: now + CALLBACK_TOKEN_SECS,
            trusted_for_delegation: None,
            identity_provider: None,
            oid: None,
            jti: Some(uuid::Uuid::new_v4().to_string()),
        };
        Ok(s2s_proto::jwt::sign_rs256(&key, &spec.claims(), false)?)
    }

    /// One pass of the push notifier over every push subscription: the deliveries run side by
    /// side, at most [`MAX_CONCURRENT_PUSHES`] at once, so that a slow or unreachable subscriber
    /// holds one of them for at most the client's timeout, never the other subscriptions'
    /// notifications. Returns how many notifications were delivered; a store error of one
    /// subscription is returned after every other subscription had its turn.
    pub async fn push_once(&self) -> Result<usize, ExchangeError> {
        let ids: Vec<String> = self
            .inner
            .org
            .db
            .call(|c| -> Result<Vec<String>, ExchangeError> {
                let mut st = c.prepare("SELECT id FROM subscriptions WHERE kind = 'push'")?;
                let rows = st.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await?;
        let mut ids = ids.into_iter();
        let mut running = tokio::task::JoinSet::new();
        let (mut sent, mut first_error) = (0, None);
        loop {
            while running.len() < MAX_CONCURRENT_PUSHES {
                let Some(id) = ids.next() else { break };
                let me = self.clone();
                running.spawn(async move { me.push_one(&id).await });
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            match done {
                Ok(Ok(true)) => sent += 1,
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => tracing::error!(error = %e, "a push delivery task failed"),
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(sent),
        }
    }

    /// The push subscription `id`'s turn: its pending events (or a status notification when one
    /// is due) delivered, and its watermark moved on. Whether a notification was delivered.
    async fn push_one(&self, id: &str) -> Result<bool, ExchangeError> {
        let Some(s) = self.load_subscription(id).await? else {
            return Ok(false);
        };
        let key = mailbox::MailboxKey::new(s.mailbox_key.clone())?;
        let pending = self
            .pending(
                &key,
                &s.folders,
                &s.types,
                u64::try_from(s.watermark).unwrap_or(0),
            )
            .await;
        let (events, last, more) = match pending {
            Ok(p) => p,
            // the events after its watermark were pruned (it has not been delivered to for
            // longer than the retention): it can never deliver them, and must not skip them.
            // It ends; the subscriber misses its status notifications and subscribes again.
            Err(ExchangeError::Mailbox(MailboxError::InvalidWatermark(why))) => {
                tracing::warn!(subscription = %id, reason = %why, "push subscription expired: the events after its watermark are no longer kept");
                self.remove_subscription(id).await?;
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        let now = self.inner.cfg.clock.unix();
        let status_due = now - s.last_contact >= s.status_frequency * 60;
        if events.is_empty() && !status_due {
            if last as i64 > s.watermark {
                self.advance(id, last as i64, None).await?;
            }
            return Ok(false);
        }
        let mut evs: Vec<NotificationEvent> =
            events.into_iter().map(NotificationEvent::Object).collect();
        if evs.is_empty() {
            evs.push(NotificationEvent::Status {
                watermark: last.to_string(),
            });
        }
        let n = Notification {
            subscription_id: id.to_owned(),
            previous_watermark: Some(s.watermark.to_string()),
            more_events: more,
            events: evs,
        };
        match self.deliver(&s, &n).await {
            Ok(SubscriptionStatus::Ok) => {
                self.advance(id, last as i64, None).await?;
                Ok(true)
            }
            Ok(SubscriptionStatus::Unsubscribe) => {
                let _ = self.unsubscribe(&key, &s.app_id, id).await;
                Ok(false)
            }
            Err(why) => {
                tracing::info!(subscription = %id, reason = %why, "push notification not delivered");
                self.advance(id, s.watermark, Some(why)).await?;
                Ok(false)
            }
        }
    }

    async fn deliver(&self, s: &Sub, n: &Notification) -> Result<SubscriptionStatus, String> {
        let url = s.url.as_deref().ok_or("no URL")?;
        let u = check_callback_url(url).map_err(|e| e.message)?;
        let host = u.host_str().unwrap_or_default();
        let app = if s.app_id.is_empty() {
            SKYPE_APP_ID
        } else {
            s.app_id.as_str()
        };
        let token = self
            .sign_outbound_token(app, host)
            .await
            .map_err(|e| e.to_string())?;
        let body = ews_proto::notification::write_send_notification(std::slice::from_ref(n));
        let r = self
            .inner
            .http
            .post(url)
            .bearer_auth(token)
            .header("content-type", "text/xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("callback failed: {e}"))?;
        let status = r.status();
        let diag = r
            .headers()
            .get("x-ms-diagnostics")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // a SendNotificationResult is a few hundred bytes: never hold what a subscriber sends
        let text = tlskit::read_capped(r, MAX_SUBSCRIBER_REPLY_BYTES)
            .await
            .map_err(|e| format!("the subscriber's reply: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "the subscriber answered HTTP {status}{}",
                diag.map(|d| format!(" ({d})")).unwrap_or_default()
            ));
        }
        ews_proto::notification::parse_send_notification_result(
            &text,
            &ews_proto::xml::Limits::default(),
        )
        .map_err(|e| format!("the subscriber's reply is not a SendNotificationResult: {e}"))
    }

    /// Spawns the push notifier (every `interval`).
    pub fn spawn_notifier(&self, interval: std::time::Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            loop {
                tick.tick().await;
                if let Err(e) = me.push_once().await {
                    tracing::warn!(error = %e, "push notifier pass failed");
                }
            }
        });
    }
}

pub(crate) struct Sub {
    pub(crate) mailbox_key: String,
    pub(crate) kind: String,
    pub(crate) app_id: String,
    pub(crate) folders: HashSet<String>,
    pub(crate) types: HashSet<String>,
    url: Option<String>,
    status_frequency: i64,
    pub(crate) watermark: i64,
    pub(crate) last_contact: i64,
    /// A pull subscription's Timeout: minutes without GetEvents after which it has expired; a
    /// streaming one's: minutes after its last connection closed.
    pub(crate) timeout_minutes: i64,
}

fn sub_from_row(r: &store::rusqlite::Row) -> store::rusqlite::Result<Sub> {
    let folders: Vec<String> = serde_json::from_str(&r.get::<_, String>(4)?).unwrap_or_default();
    let types: Vec<String> = serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default();
    Ok(Sub {
        kind: r.get(1)?,
        mailbox_key: r.get(2)?,
        app_id: r.get(3)?,
        folders: folders.into_iter().collect(),
        types: types.into_iter().collect(),
        url: r.get(6)?,
        status_frequency: r.get(7)?,
        watermark: r.get(8)?,
        last_contact: r.get(9)?,
        timeout_minutes: r.get(11)?,
    })
}

/// Most bytes read of a push subscriber's reply.
const MAX_SUBSCRIBER_REPLY_BYTES: usize = 64 << 10;

#[cfg(test)]
mod tests {
    use super::*;

    /// Migration 5 rebuilds the subscriptions table to admit streaming subscriptions, keeping
    /// every row a database of version 4 had.
    #[test]
    fn the_streaming_migration_keeps_existing_subscriptions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("exchange.sqlite");
        let v4 = &crate::org::MIGRATIONS[..4];
        let db = store::Db::open(&path, v4).unwrap();
        db.call_blocking(|c| -> Result<(), ExchangeError> {
            c.execute(
                "INSERT INTO subscriptions (id, kind, mailbox_key, partner, app_id, folder_ids, event_types, url, watermark, created, last_contact, failures, last_error) VALUES ('p1', 'push', 'm', 'SfB', 'a', '[]', '[]', 'http://x/', 7, 1, 2, 3, 'e')",
                [],
            )?;
            Ok(())
        })
        .unwrap();
        drop(db);
        let db = store::Db::open(&path, crate::org::MIGRATIONS).unwrap();
        db.call_blocking(|c| -> Result<(), ExchangeError> {
            let row: (String, i64, i64, Option<String>) = c.query_row(
                "SELECT kind, watermark, failures, last_error FROM subscriptions WHERE id = 'p1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            assert_eq!(row, ("push".into(), 7, 3, Some("e".into())));
            c.execute(
                "INSERT INTO subscriptions (id, kind, mailbox_key, partner, app_id, folder_ids, event_types, watermark, created, last_contact) VALUES ('s1', 'streaming', 'm', 'SfB', 'a', '[]', '[]', 0, 1, 1)",
                [],
            )?;
            // still one index on the mailbox, and still no other kind
            assert!(c.execute(
                "INSERT INTO subscriptions (id, kind, mailbox_key, partner, app_id, folder_ids, event_types, watermark, created, last_contact) VALUES ('x1', 'other', 'm', 'SfB', 'a', '[]', '[]', 0, 1, 1)",
                [],
            ).is_err());
            let indexes: i64 = c.query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'subscriptions_mailbox'",
                [],
                |r| r.get(0),
            )?;
            assert_eq!(indexes, 1);
            Ok(())
        })
        .unwrap();
    }

    /// A folder event is written with `t:FolderId` (a move with `t:OldFolderId`, the same id,
    /// and `t:OldParentFolderId`); an item event with `t:ItemId`, as before.
    #[test]
    fn folder_events_name_the_folder() {
        let event = |object, kind| mailbox::Event {
            seq: 7,
            kind,
            object,
            item_id: "f1".into(),
            folder_id: "p2".into(),
            old_folder_id: (kind == EventKind::Moved).then(|| "p1".to_owned()),
            at: time::OffsetDateTime::UNIX_EPOCH,
            new_mail: false,
        };
        let folder = |id: &str| FolderId {
            id: id.into(),
            change_key: None,
        };
        let moved = object_event(
            EventType::MovedEvent,
            event(EventObject::Folder, EventKind::Moved),
        );
        assert_eq!(moved.kind, ObjectEventKind::Moved);
        assert_eq!(moved.watermark, "7");
        assert_eq!(moved.target, EventTarget::Folder(folder("f1")));
        assert_eq!(moved.old_target, Some(EventTarget::Folder(folder("f1"))));
        assert_eq!(moved.parent_folder_id, folder("p2"));
        assert_eq!(moved.old_parent_folder_id, Some(folder("p1")));
        let created = object_event(
            EventType::CreatedEvent,
            event(EventObject::Folder, EventKind::Created),
        );
        assert_eq!(created.old_target, None);
        let item = object_event(
            EventType::CreatedEvent,
            event(EventObject::Item, EventKind::Created),
        );
        assert!(matches!(item.target, EventTarget::Item(ref i) if i.id == "f1"));
    }

    /// Regression: a push subscription could name the cloud metadata service (169.254.169.254)
    /// or any link-local address, and Exchange POSTed its signed notifications there.
    #[test]
    fn callback_urls_never_name_link_local_or_unspecified_addresses() {
        for bad in [
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0:80/x",
            "http://255.255.255.255/x",
            "http://[fe80::1]/x",
            "http://[::]/x",
            "http://[::ffff:169.254.169.254]/x",
            "https://user:pw@skype.example/x",
            "ftp://skype.example/x",
        ] {
            let e = check_callback_url(bad).unwrap_err();
            assert_eq!(e.code, "ErrorInvalidPushSubscriptionUrl", "{bad}");
        }
        // loopback and private addresses (the lab's Skype) and names are subscribers
        for good in [
            "http://127.0.0.1:41013/ews/notifications/k1",
            "http://[::1]:8080/x",
            "http://10.0.0.5/x",
            "https://skype.contoso.example/x",
        ] {
            check_callback_url(good).unwrap();
        }
    }
}
