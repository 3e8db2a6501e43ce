//! The durable outbox: history and archive items wait here until Exchange has them (see the
//! crate docs, "Nothing lost", for the retry and failure rules).

use rand::Rng;

use crate::Skype;
use crate::db::{self, OutboxRow};
use crate::error::{FailureClass, SkypeError};
use crate::ews::MessagePayload;

/// Retry rules of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First retry delay, seconds; doubled per attempt.
    pub base_secs: i64,
    /// Longest delay between attempts, seconds.
    pub cap_secs: i64,
    /// Transient failures are retried until a row is this old, seconds.
    pub max_age_secs: i64,
    /// Refusals: failed after this many attempts …
    pub refused_attempts: i64,
    /// … and at least this many seconds after the first failure.
    pub refused_min_secs: i64,
    /// Permanent errors: failed after this many attempts.
    pub permanent_attempts: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_secs: 5,
            cap_secs: 15 * 60,
            max_age_secs: 72 * 3600,
            refused_attempts: 10,
            refused_min_secs: 3600,
            permanent_attempts: 3,
        }
    }
}

impl RetryPolicy {
    /// Delay before attempt `attempts + 1`: base × 2^(attempts−1), capped, ±20 % jitter, ≥ 1 s.
    pub fn backoff(&self, attempts: i64) -> i64 {
        let exp = (attempts - 1).clamp(0, 30) as u32;
        let d = self
            .base_secs
            .max(1)
            .saturating_mul(1i64 << exp)
            .min(self.cap_secs.max(1));
        let jitter = d / 5;
        let j = if jitter > 0 {
            rand::rng().random_range(-jitter..=jitter)
        } else {
            0
        };
        (d + j).max(1)
    }
}

fn class_name(c: FailureClass) -> &'static str {
    match c {
        FailureClass::Transient => "Transient",
        FailureClass::Refused => "Refused",
        FailureClass::Permanent => "Permanent",
    }
}

fn clip(s: &str) -> String {
    s.chars().take(1000).collect()
}

impl Skype {
    /// One pass: delivers every row that is due (oldest first, in order per user). Returns how
    /// many rows were attempted.
    pub async fn deliver_due(&self) -> Result<usize, SkypeError> {
        let now = self.now();
        let rows = self.inner.db.call(move |c| db::due(c, now, 50)).await?;
        let n = rows.len();
        for row in rows {
            self.deliver_row(row).await?;
        }
        Ok(n)
    }

    async fn deliver_row(&self, row: OutboxRow) -> Result<(), SkypeError> {
        let id = row.id;
        let now = self.now();
        self.inner
            .db
            .call(move |c| db::mark_attempt(c, id, now))
            .await?;
        let sip = row.user.clone();
        let user = self.inner.db.call(move |c| db::user(c, &sip)).await?;
        let outcome = async {
            let user = user.ok_or_else(|| {
                SkypeError::NotFound(format!(
                    "sip:{} is no longer homed in Skype for Business Online",
                    row.user
                ))
            })?;
            let payload: MessagePayload = serde_json::from_str(&row.payload)
                .map_err(|e| SkypeError::Invalid(format!("the queued item cannot be read: {e}")))?;
            // an earlier attempt may have reached Exchange even if its answer did not reach us
            if row.attempts > 0
                && let Some(existing) = self
                    .find_by_message_id(&user, &row.folder, &row.internet_message_id)
                    .await?
            {
                return Ok(existing);
            }
            self.create_message(&user, &row.folder, &payload).await
        }
        .await;
        let now = self.now();
        match outcome {
            Ok(item_id) => {
                tracing::info!(row = id, user = %row.user, kind = %row.kind, "outbox item delivered");
                self.inner
                    .db
                    .call(move |c| db::mark_delivered(c, id, &item_id, now))
                    .await
            }
            Err(e) => {
                let class = e.failure_class();
                let attempts = row.attempts + 1;
                let policy = self.tuning().retry;
                let first = row.first_failure.unwrap_or(now);
                let give_up = match class {
                    FailureClass::Transient => now - row.created >= policy.max_age_secs,
                    FailureClass::Refused => {
                        attempts >= policy.refused_attempts
                            && now - first >= policy.refused_min_secs
                    }
                    FailureClass::Permanent => attempts >= policy.permanent_attempts,
                };
                let why = clip(&e.to_string());
                let cname = class_name(class);
                tracing::warn!(row = id, user = %row.user, class = cname, give_up, error = %why, "outbox delivery failed");
                if give_up {
                    self.inner
                        .db
                        .call(move |c| db::mark_failed(c, id, &why, cname, now))
                        .await
                } else {
                    let next = now + policy.backoff(attempts);
                    self.inner
                        .db
                        .call(move |c| db::mark_retry(c, id, next, &why, cname, now))
                        .await
                }
            }
        }
    }

    /// Outbox rows for the admin API, oldest first.
    pub async fn outbox(
        &self,
        status: Option<&str>,
        user: Option<&str>,
    ) -> Result<Vec<OutboxRow>, SkypeError> {
        let status = status
            .map(|s| match s.to_ascii_lowercase().as_str() {
                "pending" => Ok("pending"),
                "delivered" => Ok("delivered"),
                "failed" => Ok("failed"),
                _ => Err(SkypeError::Invalid(format!(
                    "-Status {s:?}: use Pending, Delivered or Failed"
                ))),
            })
            .transpose()?;
        let user = user.map(crate::features::normalize_sip).transpose()?;
        self.inner
            .db
            .call(move |c| db::outbox(c, status, user.as_deref(), 10_000))
            .await
    }

    /// Queues failed rows again; returns how many.
    pub async fn resume_outbox(&self, id: Option<i64>) -> Result<usize, SkypeError> {
        let now = self.now();
        let n = self.inner.db.call(move |c| db::resume(c, id, now)).await?;
        self.inner.outbox_wake.notify_one();
        Ok(n)
    }
}

/// The background worker: a pass whenever rows were queued, and at least every second.
pub(crate) fn spawn_worker(s: Skype) {
    tokio::spawn(async move {
        loop {
            let busy = match s.deliver_due().await {
                Ok(n) => n > 0,
                Err(e) => {
                    tracing::warn!(error = %e, "outbox pass failed");
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = s.inner.outbox_wake.notified() => {}
                    _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        for a in 1..40 {
            let d = p.backoff(a);
            let ideal = (5i64 << (a - 1).min(30)).min(900);
            assert!(d >= ideal - ideal / 5 && d <= ideal + ideal / 5, "{a}: {d}");
        }
        assert!(p.backoff(100) <= 900 + 180);
    }
}
