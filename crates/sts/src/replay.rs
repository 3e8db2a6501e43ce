//! The spent-assertion log: one writer thread records the jtis of concurrent token requests in
//! one transaction per batch of the requests waiting, and answers each only after that transaction
//! committed (with the replay store's durability, `store::Durability::ProcessCrash`).

use std::sync::Mutex;
use std::sync::mpsc;

use store::{Db, StoreError};
use tokio::sync::oneshot;

use crate::db::{self, SpentAssertion};
use crate::error::StsError;

/// Most assertions recorded in one transaction.
const MAX_BATCH: usize = 256;

struct Job {
    spent: SpentAssertion,
    reply: oneshot::Sender<Result<bool, StsError>>,
}

/// The handle on the writer thread; the thread ends when the handle is dropped.
pub(crate) struct ReplayLog {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl ReplayLog {
    pub fn start(db: Db) -> Result<ReplayLog, StsError> {
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("sts-replay".into())
            .spawn(move || run(&db, &rx))
            .map_err(|e| StsError::Config(format!("cannot start the replay writer: {e}")))?;
        Ok(ReplayLog {
            jobs: Mutex::new(tx),
        })
    }

    /// Records a spent assertion; `false` when it was already spent and is still remembered.
    /// Returns once the record is committed.
    pub async fn spend(&self, spent: SpentAssertion) -> Result<bool, StsError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .lock()
            .map_err(|_| StoreError::Poisoned)?
            .send(Job { spent, reply })
            .map_err(|_| StoreError::WorkerGone)?;
        answer.await.map_err(|_| StoreError::WorkerGone)?
    }
}

fn run(db: &Db, rx: &mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        let spent: Vec<SpentAssertion> = batch.iter().map(|j| j.spent.clone()).collect();
        match record(db, &spent) {
            Ok(fresh) => {
                for (j, f) in batch.into_iter().zip(fresh) {
                    let _ = j.reply.send(Ok(f));
                }
            }
            // one transaction each, so that each request gets its own answer
            Err(_) if batch.len() > 1 => {
                for j in batch {
                    let r = record(db, std::slice::from_ref(&j.spent)).map(|f| f[0]);
                    let _ = j.reply.send(r);
                }
            }
            Err(e) => {
                if let Some(j) = batch.pop() {
                    let _ = j.reply.send(Err(e));
                }
            }
        }
    }
}

fn record(db: &Db, spent: &[SpentAssertion]) -> Result<Vec<bool>, StsError> {
    db.call_blocking(|conn| {
        let tx = conn.transaction()?;
        let fresh = db::use_jtis(&tx, spent)?;
        tx.commit()?;
        Ok(fresh)
    })
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
        let log = std::sync::Arc::new(ReplayLog::start(db.clone()).unwrap());
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
