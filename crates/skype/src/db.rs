//! Skype's schema (SQLite through `store`) and the queries on it.

use std::collections::HashMap;

use serde::Serialize;
use store::Migration;
use store::rusqlite::{Connection, OptionalExtension, Row, params};

use crate::error::SkypeError;

/// Times in admin output: RFC 3339 UTC (`2026-11-27T06:04:20Z`), as PowerShell shows a DateTime,
/// rather than Unix seconds.
pub(crate) mod when {
    use serde::Serializer;

    pub fn text(unix: i64) -> String {
        s2s_proto::clock::rfc3339(unix).unwrap_or_else(|| unix.to_string())
    }

    pub fn at<S: Serializer>(unix: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&text(*unix))
    }

    pub fn maybe<S: Serializer>(unix: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match unix {
            Some(u) => s.serialize_str(&text(*u)),
            None => s.serialize_none(),
        }
    }
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: r#"
CREATE TABLE users (
    sip TEXT PRIMARY KEY,
    upn TEXT NOT NULL,
    display_name TEXT NOT NULL,
    smtp TEXT NOT NULL,
    ews_url TEXT NOT NULL,
    enterprise_voice INTEGER NOT NULL DEFAULT 0,
    hosted_voicemail INTEGER NOT NULL DEFAULT 0,
    server_history INTEGER,
    archiving_policy TEXT,
    presence TEXT NOT NULL DEFAULT 'Available',
    presence_changed INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
);
CREATE TABLE settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE archiving_policies (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    archive_internal INTEGER NOT NULL,
    archive_external INTEGER NOT NULL
);
INSERT INTO archiving_policies (name, archive_internal, archive_external) VALUES ('Global', 0, 0);
CREATE TABLE host_overrides (
    host TEXT PRIMARY KEY,
    connect_to TEXT NOT NULL
);
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    user_sip TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('history', 'archive')),
    folder TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL,
    first_failure INTEGER,
    last_attempt INTEGER,
    next_at INTEGER NOT NULL,
    delivered_at INTEGER,
    item_id TEXT,
    last_error TEXT,
    failure_class TEXT
);
CREATE INDEX outbox_due ON outbox (status, next_at);
CREATE INDEX outbox_user ON outbox (user_sip, status, id);
CREATE TABLE subscriptions (
    key TEXT PRIMARY KEY,
    user_sip TEXT NOT NULL UNIQUE,
    subscription_id TEXT,
    status TEXT NOT NULL,
    created INTEGER NOT NULL,
    last_attempt INTEGER,
    last_error TEXT,
    last_notification INTEGER
);
CREATE TABLE presence_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time INTEGER NOT NULL,
    user_sip TEXT,
    verdict TEXT NOT NULL,
    reason TEXT NOT NULL,
    presence TEXT
);
"#,
    },
    // Refused callbacks (anyone can send one) must not push accepted ones out of the log: each
    // verdict keeps its own newest rows, and refusals from one source are recorded at a bounded
    // rate, the rest counted on the last one recorded.
    Migration {
        version: 2,
        sql: r#"
ALTER TABLE presence_events ADD COLUMN source TEXT;
ALTER TABLE presence_events ADD COLUMN repeats INTEGER NOT NULL DEFAULT 0;
ALTER TABLE presence_events ADD COLUMN last_time INTEGER;
CREATE INDEX presence_events_verdict ON presence_events (verdict, id);
CREATE INDEX presence_events_source ON presence_events (verdict, source, user_sip, time);
"#,
    },
    // Exchange Autodiscover: a user's EWS URL becomes optional (NULL: discovered through the
    // tenant's Autodiscover URL; existing rows keep theirs as an explicit override), and the
    // tenant-wide OAuth configuration (Set-CsOAuthConfiguration) holds the Autodiscover URL.
    Migration {
        version: 3,
        sql: r#"
CREATE TABLE users_v3 (
    sip TEXT PRIMARY KEY,
    upn TEXT NOT NULL,
    display_name TEXT NOT NULL,
    smtp TEXT NOT NULL,
    ews_url TEXT,
    enterprise_voice INTEGER NOT NULL DEFAULT 0,
    hosted_voicemail INTEGER NOT NULL DEFAULT 0,
    server_history INTEGER,
    archiving_policy TEXT,
    presence TEXT NOT NULL DEFAULT 'Available',
    presence_changed INTEGER NOT NULL DEFAULT 0,
    created INTEGER NOT NULL
);
INSERT INTO users_v3 (sip, upn, display_name, smtp, ews_url, enterprise_voice, hosted_voicemail, server_history, archiving_policy, presence, presence_changed, created)
    SELECT sip, upn, display_name, smtp, NULLIF(ews_url, ''), enterprise_voice, hosted_voicemail, server_history, archiving_policy, presence, presence_changed, created FROM users;
DROP TABLE users;
ALTER TABLE users_v3 RENAME TO users;
CREATE TABLE oauth_configuration (
    identity TEXT PRIMARY KEY CHECK (identity = 'Global'),
    exchange_autodiscover_url TEXT
);
INSERT INTO oauth_configuration (identity, exchange_autodiscover_url) VALUES ('Global', NULL);
"#,
    },
    // The presence note: the user's out-of-office reply while Exchange's out-of-office is on.
    Migration {
        version: 4,
        sql: r#"
ALTER TABLE users ADD COLUMN presence_note TEXT;
"#,
    },
    // When the user's presence is next read again from the calendar (unix seconds): the next
    // start or end of a busy appointment or of a scheduled out-of-office period; NULL until a
    // callback first set presence.
    Migration {
        version: 5,
        sql: r#"
ALTER TABLE users ADD COLUMN presence_next INTEGER;
CREATE INDEX users_presence_next ON users (presence_next) WHERE presence_next IS NOT NULL;
"#,
    },
];

/// Accepted presence events kept (the newest).
pub const MAX_ACCEPTED_EVENTS: i64 = 1000;
/// Refused presence events kept (the newest), apart from the accepted ones: refusals never
/// evict an accepted event.
pub const MAX_REFUSED_EVENTS: i64 = 1000;
/// Refused callbacks recorded one by one per source and user within [`REFUSAL_WINDOW_SECS`];
/// beyond that they are counted (`Repeats`) on the last one recorded.
pub const REFUSALS_RECORDED_PER_WINDOW: i64 = 10;
pub const REFUSAL_WINDOW_SECS: i64 = 60;

/// A user homed in Skype Online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct User {
    pub sip_address: String,
    pub user_principal_name: String,
    pub display_name: String,
    pub primary_smtp_address: String,
    /// The EWS URL set for this user (`-ExchangeEwsUrl`), which overrides Autodiscover; None:
    /// discovered through the tenant's Autodiscover URL (`Set-CsOAuthConfiguration`).
    pub exchange_ews_url: Option<String>,
    pub enterprise_voice_enabled: bool,
    pub hosted_voice_mail: bool,
    /// None: follows the Global conversation-history configuration.
    pub enable_server_conversation_history: Option<bool>,
    /// None: the Global archiving policy.
    pub archiving_policy: Option<String>,
    pub presence: String,
    pub presence_changed: i64,
    /// The note shown with the presence: the out-of-office reply while the user's
    /// out-of-office is on in Exchange (read with GetUserOofSettings when presence is
    /// refreshed); None otherwise.
    pub presence_note: Option<String>,
}

const USER_COLS: &str = "sip, upn, display_name, smtp, ews_url, enterprise_voice, hosted_voicemail, server_history, archiving_policy, presence, presence_changed, presence_note";

fn user_row(r: &Row) -> store::rusqlite::Result<User> {
    Ok(User {
        sip_address: r.get(0)?,
        user_principal_name: r.get(1)?,
        display_name: r.get(2)?,
        primary_smtp_address: r.get(3)?,
        exchange_ews_url: r.get(4)?,
        enterprise_voice_enabled: r.get(5)?,
        hosted_voice_mail: r.get(6)?,
        enable_server_conversation_history: r.get(7)?,
        archiving_policy: r.get(8)?,
        presence: r.get(9)?,
        presence_changed: r.get(10)?,
        presence_note: r.get(11)?,
    })
}

pub fn user(c: &Connection, sip: &str) -> Result<Option<User>, SkypeError> {
    Ok(c.query_row(
        &format!("SELECT {USER_COLS} FROM users WHERE sip = ?1"),
        [sip],
        user_row,
    )
    .optional()?)
}

pub fn users(c: &Connection) -> Result<Vec<User>, SkypeError> {
    let mut st = c.prepare(&format!("SELECT {USER_COLS} FROM users ORDER BY sip"))?;
    let rows = st.query_map([], user_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn insert_user(c: &Connection, u: &User, now: i64) -> Result<(), SkypeError> {
    c.execute(
        "INSERT INTO users (sip, upn, display_name, smtp, ews_url, enterprise_voice, hosted_voicemail, server_history, archiving_policy, presence, presence_changed, created) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            u.sip_address,
            u.user_principal_name,
            u.display_name,
            u.primary_smtp_address,
            u.exchange_ews_url,
            u.enterprise_voice_enabled,
            u.hosted_voice_mail,
            u.enable_server_conversation_history,
            u.archiving_policy,
            u.presence,
            u.presence_changed,
            now
        ],
    )?;
    Ok(())
}

pub fn update_user(c: &Connection, u: &User) -> Result<(), SkypeError> {
    c.execute(
        "UPDATE users SET upn = ?2, display_name = ?3, smtp = ?4, ews_url = ?5, enterprise_voice = ?6, hosted_voicemail = ?7, \
         server_history = ?8, archiving_policy = ?9, presence = ?10, presence_changed = ?11, \
         presence_note = ?12 WHERE sip = ?1",
        params![
            u.sip_address,
            u.user_principal_name,
            u.display_name,
            u.primary_smtp_address,
            u.exchange_ews_url,
            u.enterprise_voice_enabled,
            u.hosted_voice_mail,
            u.enable_server_conversation_history,
            u.archiving_policy,
            u.presence,
            u.presence_changed,
            u.presence_note
        ],
    )?;
    Ok(())
}

/// Sets when `sip`'s presence is next read from the calendar.
pub fn set_presence_next(c: &Connection, sip: &str, at: i64) -> Result<(), SkypeError> {
    c.execute(
        "UPDATE users SET presence_next = ?2 WHERE sip = ?1",
        params![sip, at],
    )?;
    Ok(())
}

/// The users whose presence is due to be read again at `now` (at most `limit`, the most
/// overdue first), and the earliest time one is due after them.
pub fn presence_due(
    c: &Connection,
    now: i64,
    limit: i64,
) -> Result<(Vec<String>, Option<i64>), SkypeError> {
    let mut st = c.prepare_cached(
        "SELECT sip FROM users WHERE presence_next IS NOT NULL AND presence_next <= ?1 \
         ORDER BY presence_next LIMIT ?2",
    )?;
    let due = st
        .query_map(params![now, limit], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let next = c.query_row(
        "SELECT MIN(presence_next) FROM users WHERE presence_next > ?1",
        [now],
        |r| r.get(0),
    )?;
    Ok((due, next))
}

pub fn delete_user(c: &Connection, sip: &str) -> Result<bool, SkypeError> {
    c.execute("DELETE FROM subscriptions WHERE user_sip = ?1", [sip])?;
    Ok(c.execute("DELETE FROM users WHERE sip = ?1", [sip])? > 0)
}

pub fn setting(c: &Connection, name: &str) -> Result<Option<String>, SkypeError> {
    Ok(
        c.query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

pub fn set_setting(c: &Connection, name: &str, value: &str) -> Result<(), SkypeError> {
    c.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        [name, value],
    )?;
    Ok(())
}

/// An archiving policy (`ArchiveInternal`, `ArchiveExternal`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchivingPolicy {
    pub identity: String,
    pub archive_internal: bool,
    pub archive_external: bool,
}

pub fn policy(c: &Connection, name: &str) -> Result<Option<ArchivingPolicy>, SkypeError> {
    Ok(c.query_row(
        "SELECT name, archive_internal, archive_external FROM archiving_policies WHERE name = ?1",
        [name],
        |r| {
            Ok(ArchivingPolicy {
                identity: r.get(0)?,
                archive_internal: r.get(1)?,
                archive_external: r.get(2)?,
            })
        },
    )
    .optional()?)
}

pub fn policies(c: &Connection) -> Result<Vec<ArchivingPolicy>, SkypeError> {
    let mut st = c.prepare(
        "SELECT name, archive_internal, archive_external FROM archiving_policies ORDER BY name",
    )?;
    let rows = st.query_map([], |r| {
        Ok(ArchivingPolicy {
            identity: r.get(0)?,
            archive_internal: r.get(1)?,
            archive_external: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn put_policy(c: &Connection, p: &ArchivingPolicy) -> Result<(), SkypeError> {
    c.execute(
        "INSERT INTO archiving_policies (name, archive_internal, archive_external) VALUES (?1, ?2, ?3) \
         ON CONFLICT(name) DO UPDATE SET archive_internal = excluded.archive_internal, archive_external = excluded.archive_external",
        params![p.identity, p.archive_internal, p.archive_external],
    )?;
    Ok(())
}

/// The tenant's Exchange Autodiscover URL (`Set-CsOAuthConfiguration -ExchangeAutodiscoverUrl`).
pub fn autodiscover_url(c: &mut Connection) -> Result<Option<String>, SkypeError> {
    Ok(c.query_row(
        "SELECT exchange_autodiscover_url FROM oauth_configuration WHERE identity = 'Global'",
        [],
        |r| r.get::<_, Option<String>>(0),
    )
    .optional()?
    .flatten())
}

pub fn set_autodiscover_url(c: &Connection, url: Option<&str>) -> Result<(), SkypeError> {
    c.execute(
        "INSERT INTO oauth_configuration (identity, exchange_autodiscover_url) VALUES ('Global', ?1) \
         ON CONFLICT(identity) DO UPDATE SET exchange_autodiscover_url = excluded.exchange_autodiscover_url",
        [url],
    )?;
    Ok(())
}

pub fn host_overrides(c: &mut Connection) -> Result<HashMap<String, String>, SkypeError> {
    let mut st = c.prepare("SELECT host, connect_to FROM host_overrides")?;
    let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn set_host_override(c: &Connection, host: &str, to: Option<&str>) -> Result<(), SkypeError> {
    match to {
        Some(to) => c.execute(
            "INSERT INTO host_overrides (host, connect_to) VALUES (?1, ?2) ON CONFLICT(host) DO UPDATE SET connect_to = excluded.connect_to",
            [host, to],
        )?,
        None => c.execute("DELETE FROM host_overrides WHERE host = ?1", [host])?,
    };
    Ok(())
}

/// One outbox row as the admin API shows it (`Get-CsOutbox`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutboxRow {
    pub id: i64,
    pub internet_message_id: String,
    pub user: String,
    pub kind: String,
    pub folder: String,
    pub conversation_id: String,
    pub status: String,
    pub attempts: i64,
    #[serde(serialize_with = "when::at")]
    pub created: i64,
    #[serde(serialize_with = "when::maybe")]
    pub first_failure: Option<i64>,
    #[serde(serialize_with = "when::maybe")]
    pub last_attempt: Option<i64>,
    #[serde(serialize_with = "when::maybe")]
    pub next_attempt: Option<i64>,
    #[serde(serialize_with = "when::maybe")]
    pub delivered: Option<i64>,
    pub item_id: Option<String>,
    pub last_error: Option<String>,
    pub failure_class: Option<String>,
    #[serde(skip)]
    pub payload: String,
}

const OUTBOX_COLS: &str = "id, message_id, user_sip, kind, folder, conversation_id, status, attempts, created, first_failure, last_attempt, next_at, delivered_at, item_id, last_error, failure_class, payload";

fn outbox_row(r: &Row) -> store::rusqlite::Result<OutboxRow> {
    let status: String = r.get(6)?;
    let next: i64 = r.get(11)?;
    Ok(OutboxRow {
        id: r.get(0)?,
        internet_message_id: r.get(1)?,
        user: r.get(2)?,
        kind: r.get(3)?,
        folder: r.get(4)?,
        conversation_id: r.get(5)?,
        next_attempt: (status == "pending").then_some(next),
        status,
        attempts: r.get(7)?,
        created: r.get(8)?,
        first_failure: r.get(9)?,
        last_attempt: r.get(10)?,
        delivered: r.get(12)?,
        item_id: r.get(13)?,
        last_error: r.get(14)?,
        failure_class: r.get(15)?,
        payload: r.get(16)?,
    })
}

/// A row to queue.
pub struct NewOutboxRow {
    pub message_id: String,
    pub user_sip: String,
    pub kind: &'static str,
    pub folder: &'static str,
    pub conversation_id: String,
    pub payload: String,
}

/// Inserts rows in one transaction; returns, per row, whether it was new (false: already queued).
pub fn enqueue(
    c: &mut Connection,
    rows: &[NewOutboxRow],
    now: i64,
) -> Result<Vec<bool>, SkypeError> {
    let tx = c.transaction()?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let n = tx.execute(
            "INSERT OR IGNORE INTO outbox (message_id, user_sip, kind, folder, conversation_id, payload, status, created, next_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)",
            params![r.message_id, r.user_sip, r.kind, r.folder, r.conversation_id, r.payload, now],
        )?;
        out.push(n > 0);
    }
    tx.commit()?;
    Ok(out)
}

/// Rows due now: pending, `next_at` passed, and no older pending row of the same user (rows of
/// one user are delivered in order).
pub fn due(c: &Connection, now: i64, limit: i64) -> Result<Vec<OutboxRow>, SkypeError> {
    let mut st = c.prepare(&format!(
        "SELECT {OUTBOX_COLS} FROM outbox o WHERE status = 'pending' AND next_at <= ?1 \
         AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending' AND p.user_sip = o.user_sip AND p.id < o.id) \
         ORDER BY id LIMIT ?2"
    ))?;
    let rows = st.query_map(params![now, limit], outbox_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Counts an attempt before it is made (so that after a crash the next attempt checks first).
pub fn mark_attempt(c: &Connection, id: i64, now: i64) -> Result<(), SkypeError> {
    c.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_attempt = ?2 WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

pub fn mark_delivered(c: &Connection, id: i64, item_id: &str, now: i64) -> Result<(), SkypeError> {
    c.execute(
        "UPDATE outbox SET status = 'delivered', delivered_at = ?2, item_id = ?3, last_error = NULL WHERE id = ?1",
        params![id, now, item_id],
    )?;
    Ok(())
}

pub fn mark_retry(
    c: &Connection,
    id: i64,
    next_at: i64,
    error: &str,
    class: &str,
    now: i64,
) -> Result<(), SkypeError> {
    c.execute(
        "UPDATE outbox SET next_at = ?2, last_error = ?3, failure_class = ?4, first_failure = COALESCE(first_failure, ?5) WHERE id = ?1",
        params![id, next_at, error, class, now],
    )?;
    Ok(())
}

pub fn mark_failed(
    c: &Connection,
    id: i64,
    error: &str,
    class: &str,
    now: i64,
) -> Result<(), SkypeError> {
    c.execute(
        "UPDATE outbox SET status = 'failed', last_error = ?2, failure_class = ?3, first_failure = COALESCE(first_failure, ?4) WHERE id = ?1",
        params![id, error, class, now],
    )?;
    Ok(())
}

pub fn outbox(
    c: &Connection,
    status: Option<&str>,
    user: Option<&str>,
    limit: i64,
) -> Result<Vec<OutboxRow>, SkypeError> {
    let mut st = c.prepare(&format!(
        "SELECT {OUTBOX_COLS} FROM outbox WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR user_sip = ?2) ORDER BY id LIMIT ?3"
    ))?;
    let rows = st.query_map(params![status, user, limit], outbox_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Queues failed rows again (all, or one by id); returns how many.
/// Puts failed items back in the queue: all of them, or the one `id` names (which must exist
/// and have failed).
pub fn resume(c: &Connection, id: Option<i64>, now: i64) -> Result<usize, SkypeError> {
    if let Some(id) = id {
        let status: Option<String> = c
            .query_row("SELECT status FROM outbox WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        match status.as_deref() {
            None => {
                return Err(SkypeError::NotFound(format!(
                    "no outbox item {id}; list them with Get-CsOutbox"
                )));
            }
            Some("failed") => {}
            Some(other) => {
                return Err(SkypeError::Conflict(format!(
                    "outbox item {id} is {other}, not failed: only failed items are resumed (Get-CsOutbox -Status Failed lists them)"
                )));
            }
        }
    }
    Ok(c.execute(
        "UPDATE outbox SET status = 'pending', attempts = CASE WHEN attempts > 0 THEN 1 ELSE 0 END, first_failure = NULL, next_at = ?2 \
         WHERE status = 'failed' AND (?1 IS NULL OR id = ?1)",
        params![id, now],
    )?)
}

/// A calendar subscription as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscriptionRow {
    #[serde(skip)]
    pub key: String,
    pub user: String,
    pub subscription_id: Option<String>,
    pub status: String,
    #[serde(serialize_with = "when::at")]
    pub created: i64,
    #[serde(serialize_with = "when::maybe")]
    pub last_attempt: Option<i64>,
    pub last_error: Option<String>,
    #[serde(serialize_with = "when::maybe")]
    pub last_notification: Option<i64>,
}

const SUB_COLS: &str =
    "key, user_sip, subscription_id, status, created, last_attempt, last_error, last_notification";

fn sub_row(r: &Row) -> store::rusqlite::Result<SubscriptionRow> {
    Ok(SubscriptionRow {
        key: r.get(0)?,
        user: r.get(1)?,
        subscription_id: r.get(2)?,
        status: r.get(3)?,
        created: r.get(4)?,
        last_attempt: r.get(5)?,
        last_error: r.get(6)?,
        last_notification: r.get(7)?,
    })
}

pub fn subscription_by_key(
    c: &Connection,
    key: &str,
) -> Result<Option<SubscriptionRow>, SkypeError> {
    Ok(c.query_row(
        &format!("SELECT {SUB_COLS} FROM subscriptions WHERE key = ?1"),
        [key],
        sub_row,
    )
    .optional()?)
}

pub fn subscription_of(c: &Connection, sip: &str) -> Result<Option<SubscriptionRow>, SkypeError> {
    Ok(c.query_row(
        &format!("SELECT {SUB_COLS} FROM subscriptions WHERE user_sip = ?1"),
        [sip],
        sub_row,
    )
    .optional()?)
}

pub fn subscriptions(c: &Connection) -> Result<Vec<SubscriptionRow>, SkypeError> {
    let mut st = c.prepare(&format!(
        "SELECT {SUB_COLS} FROM subscriptions ORDER BY user_sip"
    ))?;
    let rows = st.query_map([], sub_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The subscription key of a user, created (status `new`) if there is none.
pub fn ensure_subscription(
    c: &Connection,
    sip: &str,
    key: &str,
    now: i64,
) -> Result<SubscriptionRow, SkypeError> {
    c.execute(
        "INSERT OR IGNORE INTO subscriptions (key, user_sip, status, created) VALUES (?1, ?2, 'new', ?3)",
        params![key, sip, now],
    )?;
    subscription_of(c, sip)?
        .ok_or_else(|| SkypeError::NotFound(format!("no subscription for {sip}")))
}

pub fn update_subscription(
    c: &Connection,
    key: &str,
    subscription_id: Option<&str>,
    status: &str,
    error: Option<&str>,
    now: i64,
) -> Result<(), SkypeError> {
    c.execute(
        "UPDATE subscriptions SET subscription_id = COALESCE(?2, subscription_id), status = ?3, last_error = ?4, last_attempt = ?5 WHERE key = ?1",
        params![key, subscription_id, status, error, now],
    )?;
    Ok(())
}

pub fn touch_subscription(
    c: &Connection,
    key: &str,
    subscription_id: &str,
    now: i64,
) -> Result<(), SkypeError> {
    c.execute(
        "UPDATE subscriptions SET last_notification = ?2, subscription_id = ?3, status = 'active' WHERE key = ?1",
        params![key, now, subscription_id],
    )?;
    Ok(())
}

/// One presence event: a verified callback and what it did, or a refused one and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PresenceEvent {
    pub id: i64,
    #[serde(serialize_with = "when::at")]
    pub time: i64,
    pub user: Option<String>,
    pub verdict: String,
    pub reason: String,
    pub presence: Option<String>,
    /// Where the callback came from (the peer's address; an IPv6 peer's /64), when known.
    pub source: Option<String>,
    /// Further refused callbacks from the same source for the same user, over the recording
    /// rate, counted here rather than recorded one by one; the last of them at `LastTime`.
    pub repeats: i64,
    #[serde(serialize_with = "when::maybe")]
    pub last_time: Option<i64>,
}

/// Records one callback. Accepted and refused events are kept apart (the newest
/// [`MAX_ACCEPTED_EVENTS`] and [`MAX_REFUSED_EVENTS`]), so no number of refusals evicts an
/// accepted event; refusals beyond [`REFUSALS_RECORDED_PER_WINDOW`] per source and user within
/// [`REFUSAL_WINDOW_SECS`] only add to the count of the last one recorded.
#[allow(clippy::too_many_arguments)]
pub fn add_presence_event(
    c: &Connection,
    now: i64,
    user: Option<&str>,
    verdict: &str,
    reason: &str,
    presence: Option<&str>,
    source: Option<&str>,
) -> Result<(), SkypeError> {
    let accepted = verdict == "accepted";
    if !accepted {
        let recent: i64 = c.query_row(
            "SELECT COUNT(*) FROM presence_events WHERE verdict = ?1 AND source IS ?2 AND user_sip IS ?3 AND time > ?4",
            params![verdict, source, user, now - REFUSAL_WINDOW_SECS],
            |r| r.get(0),
        )?;
        if recent >= REFUSALS_RECORDED_PER_WINDOW {
            c.execute(
                "UPDATE presence_events SET repeats = repeats + 1, last_time = ?4 WHERE id = \
                 (SELECT MAX(id) FROM presence_events WHERE verdict = ?1 AND source IS ?2 AND user_sip IS ?3)",
                params![verdict, source, user, now],
            )?;
            return Ok(());
        }
    }
    c.execute(
        "INSERT INTO presence_events (time, user_sip, verdict, reason, presence, source) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![now, user, verdict, reason, presence, source],
    )?;
    let keep = if accepted {
        MAX_ACCEPTED_EVENTS
    } else {
        MAX_REFUSED_EVENTS
    };
    c.execute(
        "DELETE FROM presence_events WHERE verdict = ?1 AND id <= \
         (SELECT id FROM presence_events WHERE verdict = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
        params![verdict, keep],
    )?;
    Ok(())
}

/// The newest `limit` accepted events and the newest `limit` refused ones (of `user`, or all),
/// newest first: however many refusals arrived, the last accepted callbacks are listed.
pub fn presence_events(
    c: &Connection,
    user: Option<&str>,
    limit: i64,
) -> Result<Vec<PresenceEvent>, SkypeError> {
    const COLS: &str = "id, time, user_sip, verdict, reason, presence, source, repeats, last_time";
    let mut st = c.prepare(&format!(
        "SELECT * FROM (SELECT {COLS} FROM presence_events \
           WHERE verdict = 'accepted' AND (?1 IS NULL OR user_sip = ?1) ORDER BY id DESC LIMIT ?2) \
         UNION ALL \
         SELECT * FROM (SELECT {COLS} FROM presence_events \
           WHERE verdict <> 'accepted' AND (?1 IS NULL OR user_sip = ?1) ORDER BY id DESC LIMIT ?2) \
         ORDER BY id DESC"
    ))?;
    let rows = st.query_map(params![user, limit], |r| {
        Ok(PresenceEvent {
            id: r.get(0)?,
            time: r.get(1)?,
            user: r.get(2)?,
            verdict: r.get(3)?,
            reason: r.get(4)?,
            presence: r.get(5)?,
            source: r.get(6)?,
            repeats: r.get(7)?,
            last_time: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events_db() -> store::Db {
        store::Db::open_in_memory(MIGRATIONS).unwrap()
    }

    /// Refusals from ever new sources (so none is rate-limited) fill only their own share of
    /// the log: the accepted events stay, and the listing shows them beside the refusals.
    #[test]
    fn refusals_never_evict_accepted_events() {
        let db = events_db();
        db.call_blocking(|c| -> Result<(), SkypeError> {
            for i in 0..5 {
                add_presence_event(c, i, Some("a@x"), "accepted", "ok", None, Some("10.0.0.1"))?;
            }
            for i in 0..(MAX_REFUSED_EVENTS + 500) {
                let src = format!("198.51.{}.{}", i / 256, i % 256);
                add_presence_event(c, 100, None, "refused", "forged", None, Some(&src))?;
            }
            let count = |v: &str| -> Result<i64, SkypeError> {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM presence_events WHERE verdict = ?1",
                    [v],
                    |r| r.get(0),
                )?)
            };
            assert_eq!(count("accepted")?, 5);
            assert_eq!(count("refused")?, MAX_REFUSED_EVENTS);
            let listed = presence_events(c, None, 20)?;
            assert_eq!(listed.len(), 25);
            assert_eq!(listed.iter().filter(|e| e.verdict == "accepted").count(), 5);
            assert!(listed.windows(2).all(|w| w[0].id > w[1].id), "newest first");
            let alice = presence_events(c, Some("a@x"), 3)?;
            assert_eq!(alice.len(), 3);
            assert_eq!(alice[0].time, 4);
            // accepted events are pruned among themselves
            for i in 0..MAX_ACCEPTED_EVENTS {
                add_presence_event(c, 200 + i, Some("a@x"), "accepted", "ok", None, None)?;
            }
            assert_eq!(count("accepted")?, MAX_ACCEPTED_EVENTS);
            assert_eq!(count("refused")?, MAX_REFUSED_EVENTS);
            Ok(())
        })
        .unwrap();
    }

    /// One source's refusals are recorded at most REFUSALS_RECORDED_PER_WINDOW per window and
    /// per user, the rest counted on the last one; a new window records again.
    #[test]
    fn refusals_from_one_source_are_rate_limited_and_counted() {
        let db = events_db();
        db.call_blocking(|c| -> Result<(), SkypeError> {
            for _ in 0..50 {
                add_presence_event(
                    c,
                    1000,
                    None,
                    "refused",
                    "forged",
                    None,
                    Some("203.0.113.9"),
                )?;
            }
            // the same source on a real user's key is its own stream (Exchange with a renewed
            // certificate that was not uploaded must stay visible)
            add_presence_event(
                c,
                1000,
                Some("a@x"),
                "refused",
                "not a Verify key",
                None,
                Some("203.0.113.9"),
            )?;
            let ev = presence_events(c, None, 100)?;
            assert_eq!(ev.len() as i64, REFUSALS_RECORDED_PER_WINDOW + 1);
            assert_eq!(ev[0].user.as_deref(), Some("a@x"));
            assert_eq!(ev[1].repeats, 50 - REFUSALS_RECORDED_PER_WINDOW);
            assert_eq!(ev[1].last_time, Some(1000));
            assert!(ev[2..].iter().all(|e| e.repeats == 0));
            add_presence_event(
                c,
                1000 + REFUSAL_WINDOW_SECS,
                None,
                "refused",
                "forged",
                None,
                Some("203.0.113.9"),
            )?;
            assert_eq!(
                presence_events(c, None, 100)?.len() as i64,
                REFUSALS_RECORDED_PER_WINDOW + 2
            );
            Ok(())
        })
        .unwrap();
    }

    /// A database of the previous version keeps its users' EWS URLs (explicit overrides now),
    /// and a user without one can be stored after the migration.
    #[test]
    fn migration_3_keeps_existing_ews_urls_and_allows_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("skype.sqlite");
        {
            let db = store::Db::open(&path, &MIGRATIONS[..2]).unwrap();
            db.call_blocking(|c| -> Result<(), SkypeError> {
                c.execute(
                    "INSERT INTO users (sip, upn, display_name, smtp, ews_url, server_history, archiving_policy, presence_changed, created) \
                     VALUES ('a@x.example', 'a@x.example', 'a', 'a@x.example', 'https://mail.x.example/EWS/Exchange.asmx', 1, 'ArchiveAll', 5, 7)",
                    [],
                )?;
                Ok(())
            })
            .unwrap();
        }
        let db = store::Db::open(&path, MIGRATIONS).unwrap();
        db.call_blocking(|c| -> Result<(), SkypeError> {
            let a = user(c, "a@x.example")?.expect("kept");
            assert_eq!(
                a.exchange_ews_url.as_deref(),
                Some("https://mail.x.example/EWS/Exchange.asmx")
            );
            assert_eq!(a.enable_server_conversation_history, Some(true));
            assert_eq!(a.archiving_policy.as_deref(), Some("ArchiveAll"));
            assert_eq!(a.presence_changed, 5);
            let b = User {
                sip_address: "b@x.example".into(),
                exchange_ews_url: None,
                ..a.clone()
            };
            insert_user(c, &b, 9)?;
            assert_eq!(
                user(c, "b@x.example")?.expect("stored").exchange_ews_url,
                None
            );
            assert_eq!(autodiscover_url(c)?, None);
            set_autodiscover_url(
                c,
                Some("https://mail.x.example/autodiscover/autodiscover.svc"),
            )?;
            assert_eq!(
                autodiscover_url(c)?.as_deref(),
                Some("https://mail.x.example/autodiscover/autodiscover.svc")
            );
            set_autodiscover_url(c, None)?;
            assert_eq!(autodiscover_url(c)?, None);
            Ok(())
        })
        .unwrap();
    }

    /// Admin output shows times as PowerShell shows a DateTime. Regression: Unix seconds.
    #[test]
    fn admin_times_are_rfc3339() {
        let e = PresenceEvent {
            id: 1,
            time: 1_800_000_000,
            user: None,
            verdict: "accepted".into(),
            reason: String::new(),
            presence: None,
            source: None,
            repeats: 0,
            last_time: None,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["Time"], "2027-01-15T08:00:00Z");
        let s = SubscriptionRow {
            key: String::new(),
            user: "sip:a@b".into(),
            subscription_id: None,
            status: "Active".into(),
            created: 0,
            last_attempt: None,
            last_error: None,
            last_notification: Some(1_800_000_000),
        };
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["Created"], "1970-01-01T00:00:00Z");
        assert_eq!(v["LastAttempt"], serde_json::Value::Null);
        assert_eq!(v["LastNotification"], "2027-01-15T08:00:00Z");
    }
}
