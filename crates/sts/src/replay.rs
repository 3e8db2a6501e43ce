//! The spent-assertion log: each token request records its assertion's jti through the replay
//! store's group commit ([`store::Db::write_batched`]: the records of concurrent requests share
//! one transaction, each in its own savepoint) and is answered only after that transaction
//! committed, with the replay store's durability (`store::Durability::ProcessCrash`).

use store::Db;

use crate::db::{self, SpentAssertion};
use crate::error::StsError;

/// The replay store's handle.
pub(crate) struct ReplayLog {
    db: Db,
}

impl ReplayLog {
    pub fn new(db: Db) -> ReplayLog {
        ReplayLog { db }
    }

    /// Records a spent assertion; `false` when it was already spent and is still remembered.
    /// Returns once the record is committed.
    pub async fn spend(&self, spent: SpentAssertion) -> Result<bool, StsError> {
        self.db
            .write_batched(move |conn| db::use_jti(conn, &spent))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spent(jti: &str, now: i64) -> SpentAssertion {
        SpentAssertion {
            issuer: "a@r".into(),
            jti: jti.into(),
            expires: now + 600,
            now,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_spends_are_each_answered_once_committed() {
        let db = Db::open_in_memory(db::REPLAY_MIGRATIONS).unwrap();
        let log = std::sync::Arc::new(ReplayLog::new(db.clone()));
        // 64 requests, every jti sent twice at once: exactly one of each pair is fresh
        let mut tasks = Vec::new();
        for i in 0..64 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                log.spend(spent(&format!("j{}", i / 2), 1000)).await
            }));
        }
        let mut fresh = 0;
        for t in tasks {
            if t.await.unwrap().unwrap() {
                fresh += 1;
            }
        }
        assert_eq!(fresh, 32);
        // every answer came after its commit: all 32 rows are there
        let n: i64 = db
            .call_blocking(|c| {
                c.query_row("SELECT COUNT(*) FROM used_assertions", [], |r| r.get(0))
                    .map_err(StsError::from)
            })
            .unwrap();
        assert_eq!(n, 32);
        assert!(!log.spend(spent("j0", 1001)).await.unwrap());
    }
}
