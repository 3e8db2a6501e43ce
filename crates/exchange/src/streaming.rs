//! EWS streaming notifications: `GetStreamingEvents` on the streaming subscriptions `Subscribe`
//! creates (`m:StreamingSubscriptionRequest`, [`crate::notify`]), as Exchange 2013+ serves them.
//!
//! A connection is one HTTP response kept open for `ConnectionTimeout` minutes (1–30), its body
//! a stream of SOAP envelopes ([`ews_proto::streaming`]): the subscriptions' events as they
//! arrive, a keep-alive every [`StreamingConfig::keep_alive`] while idle, and `Closed` when the
//! time is up. Events come from the mailbox's item log, the one pull subscriptions read: a
//! subscription's row keeps how far its connections delivered (its `watermark`), so events
//! written while no connection is open are sent when the next one opens, and a client that
//! reconnects continues where the last connection stopped. A position is stored only after the
//! envelope carrying its events was handed to the HTTP connection, so nothing is skipped; what
//! was handed over but never read (the client went away at that moment) is sent again.
//!
//! A connection does not poll: it waits on its mailbox's commit signal
//! ([`mailbox::MailboxStore::mailbox_commits`]), which changes after every committed write that
//! appended to that mailbox's event log (writes to other mailboxes do not wake it), then reads
//! the log after its subscriptions' positions.
//!
//! Bounds: at most [`StreamingConfig::max_connections_per_mailbox`] connections per mailbox and
//! [`StreamingConfig::max_connections`] per server (`ErrorExceededConnectionCount` past them); one
//! connection per subscription (a new one closes the older one with `Closed`); every send waits at
//! most until a "minute" after the connection's end, so a client that stops reading cannot hold a
//! connection. A streaming subscription expires [`STREAMING_EXPIRY_MINUTES`] after its last
//! connection closed (the injected clock), as Exchange's does.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use ews_proto::request::GetStreamingEvents;
use ews_proto::response::ResponseError;
use ews_proto::streaming::{
    ConnectionStatus, StreamingMessage, StreamingNotification, write_streaming_message,
};
use mailbox::{MailboxError, MailboxKey};
use store::rusqlite::params;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::Exchange;
use crate::error::ExchangeError;

/// Minutes after its last connection closed (or after it was created, if it never had one)
/// that a streaming subscription expires, as on Exchange.
pub const STREAMING_EXPIRY_MINUTES: u32 = 30;

/// Default of [`StreamingConfig::max_connections_per_mailbox`]: Exchange's default for open
/// streaming connections (its `HangingConnectionLimit` in Exchange Online).
pub const DEFAULT_MAX_STREAMING_CONNECTIONS_PER_MAILBOX: usize = 10;

/// Default of [`StreamingConfig::max_connections`]: a quarter of the connections a lab service
/// holds open (4,096), so streaming clients never take every connection.
pub const DEFAULT_MAX_STREAMING_CONNECTIONS: usize = 1024;

/// Streaming connections' timing and bounds.
#[derive(Debug, Clone)]
pub struct StreamingConfig {
    /// How long one minute of `ConnectionTimeout` lasts: 60 s (tests shorten it).
    pub minute: Duration,
    /// Interval of the keep-alive envelopes (`ConnectionStatus` `OK`) on an idle connection:
    /// 30 s by default, within the 45 s heartbeat the EWS Managed API expects (it gives a
    /// connection up after twice that without a byte).
    pub keep_alive: Duration,
    /// Streaming connections one mailbox may have open at once.
    pub max_connections_per_mailbox: usize,
    /// Streaming connections the server holds open at once.
    pub max_connections: usize,
}

impl Default for StreamingConfig {
    fn default() -> Self {
        StreamingConfig {
            minute: Duration::from_secs(60),
            keep_alive: Duration::from_secs(30),
            max_connections_per_mailbox: DEFAULT_MAX_STREAMING_CONNECTIONS_PER_MAILBOX,
            max_connections: DEFAULT_MAX_STREAMING_CONNECTIONS,
        }
    }
}

/// The shortest timer a connection uses (a zero keep-alive or minute would spin).
const MIN_TICK: Duration = Duration::from_millis(10);

// ---- the connections open now ----

/// What a connection is told while it streams.
#[derive(Debug, PartialEq, Eq)]
enum Control {
    /// A newer connection took one of its subscriptions: it closes.
    Superseded,
    /// This subscription was removed by `Unsubscribe`.
    Unsubscribed(String),
}

struct Conn {
    mailbox: String,
    subscriptions: HashSet<String>,
    control: mpsc::UnboundedSender<Control>,
}

#[derive(Default)]
struct State {
    conns: HashMap<u64, Conn>,
    /// Which connection serves each subscription.
    by_subscription: HashMap<String, u64>,
}

/// The streaming connections open in this process (in memory: a connection is an HTTP response
/// of this process). Each registered connection holds one slot of its mailbox's and of the
/// server's bound until it is released.
#[derive(Default)]
pub(crate) struct Registry {
    state: Mutex<State>,
    next: AtomicU64,
}

/// Why a connection was not opened.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Mailbox { limit: usize },
    Server { limit: usize },
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection of `mailbox` serving `subscriptions`; the connections serving any
    /// of them before are closed (told [`Control::Superseded`]) and no longer count. Refused when
    /// the mailbox or the server is at its bound.
    fn claim(
        &self,
        mailbox: &str,
        subscriptions: &[String],
        per_mailbox: usize,
        total: usize,
    ) -> Result<(u64, mpsc::UnboundedReceiver<Control>), Refusal> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let older: HashSet<u64> = subscriptions
            .iter()
            .filter_map(|s| st.by_subscription.get(s).copied())
            .collect();
        let open_here = st
            .conns
            .iter()
            .filter(|(id, c)| c.mailbox == mailbox && !older.contains(id))
            .count();
        if open_here >= per_mailbox {
            return Err(Refusal::Mailbox { limit: per_mailbox });
        }
        if st.conns.len().saturating_sub(older.len()) >= total {
            return Err(Refusal::Server { limit: total });
        }
        for id in &older {
            if let Some(c) = st.conns.remove(id) {
                for s in &c.subscriptions {
                    if st.by_subscription.get(s) == Some(id) {
                        st.by_subscription.remove(s);
                    }
                }
                // a connection that already ended has dropped its receiver: nothing to tell
                let _ = c.control.send(Control::Superseded);
            }
        }
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        for s in subscriptions {
            st.by_subscription.insert(s.clone(), id);
        }
        st.conns.insert(
            id,
            Conn {
                mailbox: mailbox.to_owned(),
                subscriptions: subscriptions.iter().cloned().collect(),
                control: tx,
            },
        );
        Ok((id, rx))
    }

    /// Unregisters connection `id`: the subscriptions it still served (none once superseded).
    fn release(&self, id: u64) -> HashSet<String> {
        let mut guard = self.lock();
        let st = &mut *guard;
        let Some(c) = st.conns.remove(&id) else {
            return HashSet::new();
        };
        for s in &c.subscriptions {
            if st.by_subscription.get(s) == Some(&id) {
                st.by_subscription.remove(s);
            }
        }
        c.subscriptions
    }

    /// The subscriptions connection `id` serves now.
    fn held(&self, id: u64) -> HashSet<String> {
        self.lock()
            .conns
            .get(&id)
            .map(|c| c.subscriptions.clone())
            .unwrap_or_default()
    }

    /// `Unsubscribe` removed subscription `id`: the connection serving it, if any, is told.
    pub(crate) fn unsubscribed(&self, id: &str) {
        let mut guard = self.lock();
        let st = &mut *guard;
        if let Some(conn) = st.by_subscription.remove(id)
            && let Some(c) = st.conns.get_mut(&conn)
        {
            c.subscriptions.remove(id);
            let _ = c.control.send(Control::Unsubscribed(id.to_owned()));
        }
    }

    /// The subscriptions of `mailbox` a connection serves now (they never expire meanwhile).
    pub(crate) fn open_subscriptions(&self, mailbox: &str) -> HashSet<String> {
        self.lock()
            .conns
            .values()
            .filter(|c| c.mailbox == mailbox)
            .flat_map(|c| c.subscriptions.iter().cloned())
            .collect()
    }

    fn is_open(&self, subscription: &str) -> bool {
        self.lock().by_subscription.contains_key(subscription)
    }

    fn connections(&self) -> usize {
        self.lock().conns.len()
    }
}

/// A registered connection, released when dropped (a connection task that ends any way,
/// panics included, gives its slot back).
struct Slot {
    ex: Exchange,
    id: u64,
    released: bool,
}

impl Slot {
    /// Releases the slot now.
    fn release(&mut self) {
        self.released = true;
        self.ex.inner.streams.release(self.id);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.released {
            self.ex.inner.streams.release(self.id);
        }
    }
}

// ---- one connection ----

/// A subscription served by a connection.
struct Streamed {
    id: String,
    folders: HashSet<String>,
    types: HashSet<String>,
    /// The log position up to which its events were sent (or skipped as not matching).
    delivered: u64,
    /// The position its row holds.
    stored: u64,
}

/// How a delivery pass went.
enum Pass {
    /// An envelope of events was sent; `more`: the log had more after it.
    Sent {
        more: bool,
    },
    Nothing,
    /// The client is gone (or stopped reading): nothing more can be sent.
    ClientGone,
    /// The connection ends with this last message.
    End(StreamingMessage),
}

/// The ids in a message, shortened (an id is the client's text).
fn shown(id: &str) -> String {
    let mut s: String = id.chars().take(64).collect();
    if s.len() < id.len() {
        s.push('…');
    }
    s
}

fn error(
    code: &str,
    message: String,
    ids: Vec<String>,
    status: ConnectionStatus,
) -> StreamingMessage {
    StreamingMessage::Error {
        error: ResponseError::new(code, &message),
        subscription_ids: ids,
        status,
    }
}

/// A whole GetStreamingEvents answer of one envelope (a refusal before any streaming).
fn single(message: &StreamingMessage) -> Response {
    (
        StatusCode::OK,
        [("content-type", "text/xml; charset=utf-8")],
        write_streaming_message(message),
    )
        .into_response()
}

/// The answer whose body is what the connection task sends (chunked transfer encoding).
fn streamed(rx: mpsc::Receiver<Vec<u8>>) -> Response {
    let body = Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(chunk), rx))
    }));
    (
        StatusCode::OK,
        [("content-type", "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// Sends one envelope; false when the client is gone or did not take it by `by`.
async fn send(tx: &mpsc::Sender<Vec<u8>>, message: &StreamingMessage, by: Instant) -> bool {
    matches!(
        tokio::time::timeout_at(by, tx.send(write_streaming_message(message))).await,
        Ok(Ok(()))
    )
}

impl Exchange {
    /// The number of streaming connections open now.
    pub fn open_streaming_connections(&self) -> usize {
        self.inner.streams.connections()
    }

    /// `GetStreamingEvents` on streaming subscriptions of this mailbox that this application
    /// created: every id is checked first, and one that fails refuses the whole request (one
    /// envelope: the error, `ErrorSubscriptionIds` naming the failed ones, `Closed`), as Exchange
    /// answers a mix of good and bad ids. Otherwise the connection is registered and streams.
    pub(crate) async fn get_streaming_events(
        &self,
        key: &MailboxKey,
        app_id: &str,
        req: GetStreamingEvents,
    ) -> Response {
        let now = self.inner.cfg.clock.unix();
        let mut subs = Vec::with_capacity(req.subscription_ids.len());
        let mut failed: Vec<(String, ResponseError)> = Vec::new();
        for id in &req.subscription_ids {
            match self.streaming_subscription(key, app_id, id, now).await {
                Ok(s) => subs.push(s),
                Err(e) => failed.push((id.clone(), e)),
            }
        }
        if let Some((_, first)) = failed.first() {
            let code = first.code.clone();
            let message = failed
                .iter()
                .map(|(_, e)| e.message.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            let ids = failed.into_iter().map(|(id, _)| id).collect();
            return single(&error(&code, message, ids, ConnectionStatus::Closed));
        }
        let cfg = &self.inner.cfg.streaming;
        let ids: Vec<String> = subs.iter().map(|s| s.id.clone()).collect();
        let (conn, control) = match self.inner.streams.claim(
            key.as_str(),
            &ids,
            cfg.max_connections_per_mailbox,
            cfg.max_connections,
        ) {
            Ok(c) => c,
            Err(refusal) => {
                let message = match refusal {
                    Refusal::Mailbox { limit } => format!(
                        "This mailbox already has {limit} open streaming connections, the most it may have. Close one (its ConnectionTimeout ends it), or serve several subscriptions on one connection: GetStreamingEvents takes up to {} subscription ids.",
                        ews_proto::request::MAX_STREAMING_SUBSCRIPTION_IDS
                    ),
                    Refusal::Server { limit } => format!(
                        "This server already has {limit} open streaming connections, the most it holds. Retry later, or use a pull subscription (GetEvents)."
                    ),
                };
                return single(&error(
                    "ErrorExceededConnectionCount",
                    message,
                    Vec::new(),
                    ConnectionStatus::Closed,
                ));
            }
        };
        let slot = Slot {
            ex: self.clone(),
            id: conn,
            released: false,
        };
        // while the connection is open its subscriptions cannot expire: their last contact is
        // when it will close at the latest (set to the real close time when it closes)
        let closes_at = now + i64::from(req.connection_timeout) * 60;
        if let Err(e) = self
            .store_positions(&mut subs, Some((ids.as_slice(), closes_at)))
            .await
        {
            tracing::error!(error = %e, "a streaming connection could not be opened");
            return single(&error(
                "ErrorInternalServerError",
                format!("The streaming connection could not be opened: {e}"),
                Vec::new(),
                ConnectionStatus::Closed,
            ));
        }
        tracing::info!(
            subscriptions = subs.len(),
            minutes = req.connection_timeout,
            "streaming connection opened"
        );
        let (tx, rx) = mpsc::channel(1);
        let me = self.clone();
        let key = key.clone();
        tokio::spawn(async move {
            me.stream(key, subs, req.connection_timeout, slot, control, tx)
                .await
        });
        streamed(rx)
    }

    /// The streaming subscription `id` of this mailbox and application, ready to stream; the
    /// error that refuses it otherwise.
    async fn streaming_subscription(
        &self,
        key: &MailboxKey,
        app_id: &str,
        id: &str,
        now: i64,
    ) -> Result<Streamed, ResponseError> {
        let internal = |e: &dyn std::fmt::Display| {
            ResponseError::new("ErrorInternalServerError", &e.to_string())
        };
        let row = self.load_subscription(id).await.map_err(|e| internal(&e))?;
        let Some(s) = row.filter(|s| s.mailbox_key == key.as_str() && s.app_id == app_id) else {
            return Err(ResponseError::new(
                "ErrorSubscriptionNotFound",
                &format!(
                    "The subscription {} was not found: no subscription of this mailbox made by this application has that id (it may have been removed by Unsubscribe or have expired). Subscribe again.",
                    shown(id)
                ),
            ));
        };
        if s.kind != "streaming" {
            return Err(ResponseError::new(
                "ErrorInvalidSubscription",
                &format!(
                    "The subscription {} is a {} subscription; GetStreamingEvents reads streaming subscriptions only (Subscribe with StreamingSubscriptionRequest). Read a pull subscription with GetEvents.",
                    shown(id),
                    s.kind
                ),
            ));
        }
        if now > s.last_contact + s.timeout_minutes * 60 && !self.inner.streams.is_open(id) {
            self.expire(id).await;
            return Err(ResponseError::new(
                "ErrorSubscriptionNotFound",
                &format!(
                    "The subscription {} was not found: it expired, having had no GetStreamingEvents connection for more than {} minutes. Subscribe again.",
                    shown(id),
                    s.timeout_minutes
                ),
            ));
        }
        let delivered = u64::try_from(s.watermark).unwrap_or(0);
        match self.inner.mbx.check_watermark(key, delivered).await {
            Ok(()) => {}
            Err(MailboxError::InvalidWatermark(why)) => {
                self.expire(id).await;
                return Err(ResponseError::new(
                    "ErrorExpiredSubscription",
                    &format!(
                        "The subscription {} has expired: the events after what it delivered are no longer kept by this server ({why}). Subscribe again.",
                        shown(id)
                    ),
                ));
            }
            Err(e) => return Err(internal(&e)),
        }
        Ok(Streamed {
            id: id.to_owned(),
            folders: s.folders,
            types: s.types,
            delivered,
            stored: delivered,
        })
    }

    /// A connection's life: deliver what is pending, then wait for a commit, a keep-alive, the
    /// end of its time, a control message or the client going away.
    async fn stream(
        self,
        key: MailboxKey,
        mut subs: Vec<Streamed>,
        minutes: u32,
        mut slot: Slot,
        mut control: mpsc::UnboundedReceiver<Control>,
        tx: mpsc::Sender<Vec<u8>>,
    ) {
        let cfg = self.inner.cfg.streaming.clone();
        let minute = cfg.minute.max(MIN_TICK);
        let keep_alive = cfg.keep_alive.max(MIN_TICK);
        let deadline = Instant::now() + minute.saturating_mul(minutes);
        // a client that stops reading holds its connection a minute past its end, no longer
        let send_by = deadline + minute;
        let mut commits = self.inner.mbx.mailbox_commits(&key);
        let mut commits_open = true;
        let mut tick = tokio::time::interval_at(Instant::now() + keep_alive, keep_alive);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut keep_alive_due = false;
        let last = loop {
            // a commit from here on wakes the wait below, even one this pass reads
            commits.borrow_and_update();
            match self.deliver_streamed(&key, &mut subs, &tx, send_by).await {
                Pass::Sent { more } => {
                    tick.reset();
                    keep_alive_due = false;
                    // a backlog is sent envelope after envelope, within the connection's time
                    if more && Instant::now() < deadline {
                        continue;
                    }
                }
                Pass::Nothing => {}
                Pass::ClientGone => break None,
                Pass::End(m) => break Some(m),
            }
            if keep_alive_due {
                keep_alive_due = false;
                let ok = StreamingMessage::Status(ConnectionStatus::Ok);
                if !send(&tx, &ok, send_by).await {
                    break None;
                }
            }
            tokio::select! {
                biased;
                _ = tx.closed() => break None,
                c = control.recv() => match c {
                    Some(Control::Unsubscribed(id)) => {
                        subs.retain(|s| s.id != id);
                        let status = if subs.is_empty() {
                            ConnectionStatus::Closed
                        } else {
                            ConnectionStatus::Ok
                        };
                        let m = error(
                            "ErrorSubscriptionUnsubscribed",
                            format!(
                                "The subscription {} was removed by Unsubscribe while this connection served it; its events are no longer sent. Subscribe again to receive them.",
                                shown(&id)
                            ),
                            vec![id],
                            status,
                        );
                        if subs.is_empty() {
                            break Some(m);
                        }
                        if !send(&tx, &m, send_by).await {
                            break None;
                        }
                    }
                    // a newer connection serves (some of) its subscriptions
                    Some(Control::Superseded) | None => {
                        break Some(StreamingMessage::Status(ConnectionStatus::Closed));
                    }
                },
                _ = tokio::time::sleep_until(deadline) => {
                    break Some(StreamingMessage::Status(ConnectionStatus::Closed));
                }
                changed = commits.changed(), if commits_open => {
                    if changed.is_err() {
                        commits_open = false;
                    }
                }
                _ = tick.tick() => keep_alive_due = true,
            }
        };
        if let Some(m) = &last {
            send(&tx, m, send_by).await;
        }
        // positions stored before the slot goes, so a connection opened after this one is
        // released starts where it stopped; the last contact only of what it still served (a
        // subscription a newer connection took is that one's)
        let held: Vec<String> = self.inner.streams.held(slot.id).into_iter().collect();
        let now = self.inner.cfg.clock.unix();
        if let Err(e) = self
            .store_positions(&mut subs, Some((held.as_slice(), now)))
            .await
        {
            tracing::warn!(error = %e, "a streaming connection's positions were not stored");
        }
        slot.release();
        tracing::info!(
            closed = last.is_some(),
            subscriptions = subs.len(),
            "streaming connection ended"
        );
    }

    /// One delivery pass: each subscription's events after its position, in one envelope
    /// (at most 100 per subscription; `more` when the log has more). Only a write to its own
    /// mailbox wakes a connection, but also one whose events its subscriptions do not follow (an
    /// unsubscribed folder): the mailbox's log head (one read) tells whether there is anything
    /// to read at all.
    async fn deliver_streamed(
        &self,
        key: &MailboxKey,
        subs: &mut Vec<Streamed>,
        tx: &mpsc::Sender<Vec<u8>>,
        send_by: Instant,
    ) -> Pass {
        // the head unknown (a failed read): the log reads below tell
        let head = self
            .inner
            .mbx
            .counters(key)
            .await
            .map(|c| c.last_event_seq)
            .ok();
        let behind = |s: &Streamed| head.is_none_or(|h| s.delivered < h);
        if !subs.iter().any(behind) {
            return Pass::Nothing;
        }
        let mut notes = Vec::new();
        let mut positions = Vec::with_capacity(subs.len());
        let mut expired = Vec::new();
        let mut more = false;
        for (i, s) in subs.iter().enumerate().filter(|(_, s)| behind(s)) {
            match self.pending(key, &s.folders, &s.types, s.delivered).await {
                Ok((events, last, m)) => {
                    more |= m;
                    positions.push((i, last));
                    if !events.is_empty() {
                        notes.push(StreamingNotification {
                            subscription_id: s.id.clone(),
                            events,
                        });
                    }
                }
                // the retention pruned events it has not delivered: it can never deliver them
                Err(ExchangeError::Mailbox(MailboxError::InvalidWatermark(_))) => {
                    expired.push(s.id.clone());
                }
                Err(e) => {
                    tracing::error!(error = %e, "a streaming connection could not read the event log");
                    return Pass::End(error(
                        "ErrorInternalServerError",
                        format!("The mailbox's events could not be read: {e}. Connect again."),
                        subs.iter().map(|s| s.id.clone()).collect(),
                        ConnectionStatus::Closed,
                    ));
                }
            }
        }
        let sent = !notes.is_empty();
        if sent && !send(tx, &StreamingMessage::Notifications(notes), send_by).await {
            return Pass::ClientGone;
        }
        for (i, last) in positions {
            if let Some(s) = subs.get_mut(i) {
                s.delivered = s.delivered.max(last);
            }
        }
        if sent && let Err(e) = self.store_positions(subs, None).await {
            tracing::warn!(error = %e, "a streaming connection's positions were not stored");
        }
        if !expired.is_empty() {
            for id in &expired {
                self.expire(id).await;
            }
            subs.retain(|s| !expired.contains(&s.id));
            let status = if subs.is_empty() {
                ConnectionStatus::Closed
            } else {
                ConnectionStatus::Ok
            };
            let m = error(
                "ErrorExpiredSubscription",
                "The subscription has expired: the events after what it delivered are no longer kept by this server. Subscribe again.".to_owned(),
                expired,
                status,
            );
            if subs.is_empty() {
                return Pass::End(m);
            }
            if !send(tx, &m, send_by).await {
                return Pass::ClientGone;
            }
        }
        if sent {
            Pass::Sent { more }
        } else {
            Pass::Nothing
        }
    }

    /// Removes a streaming subscription that can never deliver again.
    async fn expire(&self, id: &str) {
        if let Err(e) = self.remove_subscription(id).await {
            tracing::warn!(error = %e, "an expired streaming subscription was not removed");
        }
    }

    /// Stores the positions that moved, and with `contact` = (ids, time) the last contact of
    /// those subscriptions.
    async fn store_positions(
        &self,
        subs: &mut [Streamed],
        contact: Option<(&[String], i64)>,
    ) -> Result<(), ExchangeError> {
        let mut rows: Vec<(String, i64, Option<i64>)> = Vec::new();
        for s in subs.iter() {
            let touch = contact.and_then(|(ids, at)| ids.contains(&s.id).then_some(at));
            if s.delivered > s.stored || touch.is_some() {
                rows.push((
                    s.id.clone(),
                    i64::try_from(s.delivered).unwrap_or(i64::MAX),
                    touch,
                ));
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        self.inner
            .org
            .db
            .call(move |c| -> Result<(), ExchangeError> {
                let tx = c.transaction()?;
                for (id, position, touch) in &rows {
                    match touch {
                        Some(at) => tx.execute(
                            "UPDATE subscriptions SET watermark = MAX(watermark, ?1), last_contact = ?2 WHERE id = ?3 AND kind = 'streaming'",
                            params![position, at, id],
                        )?,
                        None => tx.execute(
                            "UPDATE subscriptions SET watermark = MAX(watermark, ?1) WHERE id = ?2 AND kind = 'streaming'",
                            params![position, id],
                        )?,
                    };
                }
                tx.commit()?;
                Ok(())
            })
            .await?;
        for s in subs.iter_mut() {
            s.stored = s.delivered;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_mailbox_and_the_server_are_bounded() {
        let r = Registry::default();
        let (a, _ra) = r.claim("m1", &ids(&["s1"]), 2, 3).unwrap();
        let (_b, _rb) = r.claim("m1", &ids(&["s2"]), 2, 3).unwrap();
        assert_eq!(
            r.claim("m1", &ids(&["s3"]), 2, 3).unwrap_err(),
            Refusal::Mailbox { limit: 2 }
        );
        let (_c, _rc) = r.claim("m2", &ids(&["s4"]), 2, 3).unwrap();
        assert_eq!(
            r.claim("m3", &ids(&["s5"]), 2, 3).unwrap_err(),
            Refusal::Server { limit: 3 }
        );
        assert_eq!(r.release(a), ["s1".to_owned()].into_iter().collect());
        assert_eq!(r.connections(), 2);
        r.claim("m3", &ids(&["s5"]), 2, 3).unwrap();
    }

    #[test]
    fn a_newer_connection_closes_the_older_one_and_takes_its_slot() {
        let r = Registry::default();
        let (old, mut old_rx) = r.claim("m1", &ids(&["s1", "s2"]), 1, 10).unwrap();
        // the mailbox is at its bound of one, but the older connection gives its slot up
        let (new, _rx) = r.claim("m1", &ids(&["s2"]), 1, 10).unwrap();
        assert_eq!(old_rx.try_recv(), Ok(Control::Superseded));
        assert!(r.release(old).is_empty(), "the older one serves nothing");
        assert!(r.is_open("s2"));
        assert!(!r.is_open("s1"));
        assert_eq!(r.release(new), ["s2".to_owned()].into_iter().collect());
        assert_eq!(r.connections(), 0);
    }

    #[test]
    fn unsubscribe_tells_the_connection_serving_it() {
        let r = Registry::default();
        let (c, mut rx) = r.claim("m1", &ids(&["s1", "s2"]), 5, 5).unwrap();
        r.unsubscribed("s1");
        r.unsubscribed("nobody");
        assert_eq!(rx.try_recv(), Ok(Control::Unsubscribed("s1".into())));
        assert!(rx.try_recv().is_err());
        assert_eq!(
            r.open_subscriptions("m1"),
            ["s2".to_owned()].into_iter().collect()
        );
        assert_eq!(r.release(c), ["s2".to_owned()].into_iter().collect());
    }

    #[test]
    fn ids_in_messages_are_shortened() {
        assert_eq!(shown("abc"), "abc");
        let long = "x".repeat(500);
        assert_eq!(shown(&long).chars().count(), 65);
    }
}
