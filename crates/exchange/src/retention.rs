//! The retention of the mailbox store's change logs (the item log `events` and the folder log
//! `folder_events`): every item and folder change appends an entry, so without it a busy
//! mailbox's database grows by one row per write for ever.
//!
//! A background pass ([`Exchange::prune_logs_once`], once a minute after start, then every hour)
//! deletes the entries older than [`Config::event_retention_secs`](crate::Config) (30 days by
//! default, as the mailbox event table Exchange keeps for watermarks) in every mailbox, by the
//! injected clock, in bounded writes of the store's group commit
//! ([`mailbox::MailboxStore::prune_logs_before`]). Nothing is added to any write's own path.
//! (An entry's time is stamped by the mailbox store's clock, the system clock in a server; the
//! cutoff is read from the injected clock, which is the system clock too outside tests.)
//!
//! Whoever would need a pruned entry is refused rather than answered from what remains:
//! SyncFolderItems and SyncFolderHierarchy with `ErrorInvalidSyncStateData` (the client syncs
//! again from scratch, as EWS clients do on that code), Subscribe and GetEvents with
//! `ErrorInvalidWatermark`, and a subscription that cannot go on at all ends
//! (`ErrorExpiredSubscription` to a pull client; a push subscriber stops getting notifications
//! and subscribes again, as it does when its status notifications stop). See `notify.rs`.

use std::time::Duration;

use crate::Exchange;
use crate::error::ExchangeError;

/// The default retention of the change logs: 30 days. Long enough for sync clients that sync
/// daily or weekly (and for any subscription, which is read every few seconds to every 24 hours);
/// a client whose state is older starts over without a state, as EWS clients are built to do on
/// `ErrorInvalidSyncStateData`. Exchange keeps its mailbox event table (what watermarks point
/// into) for the same 30 days.
pub const DEFAULT_EVENT_RETENTION_SECS: i64 = 30 * 24 * 3600;

/// The shortest retention applied (a smaller configured value is raised to it): a day, the
/// longest a pull subscription may go between two GetEvents (its Timeout is at most 1,440
/// minutes), so a subscription read within its timeout never finds its events pruned.
pub const MIN_EVENT_RETENTION_SECS: i64 = 24 * 3600;

/// How long after start the first pass runs, and how often the next ones do.
const FIRST_PASS_AFTER: Duration = Duration::from_secs(60);
const PASS_EVERY: Duration = Duration::from_secs(3600);

impl Exchange {
    /// The retention in force: [`Config::event_retention_secs`](crate::Config), at least
    /// [`MIN_EVENT_RETENTION_SECS`].
    pub fn event_retention_secs(&self) -> i64 {
        self.inner
            .cfg
            .event_retention_secs
            .max(MIN_EVENT_RETENTION_SECS)
    }

    /// One pass of the retention: deletes the entries of both change logs of every mailbox that
    /// were written more than [`Exchange::event_retention_secs`] before now (the injected clock),
    /// and logs how many (info). The background task runs it every hour; tests call it.
    pub async fn prune_logs_once(&self) -> Result<mailbox::Pruned, ExchangeError> {
        let retention = self.event_retention_secs();
        let cutoff = self
            .inner
            .cfg
            .clock
            .now()
            .checked_sub(time::Duration::seconds(retention))
            .ok_or_else(|| ExchangeError::Invalid("the retention reaches before year 1".into()))?;
        let pruned = self.inner.mbx.prune_logs_before(cutoff).await?;
        tracing::info!(
            events = pruned.events,
            folder_events = pruned.folder_events,
            mailboxes = pruned.mailboxes,
            writes = pruned.writes,
            retention_secs = retention,
            "pruned the mailbox change logs"
        );
        Ok(pruned)
    }

    /// Spawns the retention's background task: a pass a minute after start, then every hour.
    pub(crate) fn spawn_log_retention(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            let start = tokio::time::Instant::now() + FIRST_PASS_AFTER;
            let mut tick = tokio::time::interval_at(start, PASS_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = me.prune_logs_once().await {
                    tracing::warn!(error = %e, "pruning the mailbox change logs failed");
                }
            }
        });
    }
}
