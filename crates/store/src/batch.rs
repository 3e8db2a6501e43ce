//! Group commit: the writer thread behind [`crate::Db::write_batched`].
//!
//! Write jobs queue on a channel. One thread per database takes the first job, then whatever else
//! is already queued (at most [`MAX_BATCH`] jobs; it never waits to collect more), and runs them in
//! one `BEGIN IMMEDIATE … COMMIT`, each job inside its own `SAVEPOINT`: a job that fails (or
//! panics) is rolled back to its savepoint, so its partial writes vanish and the other jobs of the
//! batch are unaffected. Every caller is answered only after the shared `COMMIT` returned, so an
//! acknowledged write is as durable as one committed alone; if the batch's transaction cannot be
//! begun or committed, every job that had succeeded gets the error and none of it was written.
//!
//! At low load a batch is one job and latency is that of a lone transaction; under concurrency
//! the jobs queued while one batch commits share the next batch's single fsync.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::StoreError;

/// The most jobs one transaction carries.
pub const MAX_BATCH: usize = 64;

/// The writer's queue.
pub(crate) type Queue = Sender<Box<dyn Job>>;

/// A queued write, type-erased for the writer thread.
pub(crate) trait Job: Send {
    /// Runs the job's closure inside its savepoint; whether it succeeded (its writes are kept).
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch's outcome is known.
    fn finish(self: Box<Self>, batch: Result<(), &BatchFailure>);
}

/// Why a whole batch was not committed.
#[derive(Debug, Clone)]
pub(crate) enum BatchFailure {
    /// `BEGIN`, a savepoint statement or `COMMIT` failed.
    Sqlite(Arc<rusqlite::Error>),
    /// The transaction ended while a job ran (SQLite rolls back on some errors, e.g. disk full).
    RolledBack,
    /// The connection's lock was poisoned by a panic in [`crate::Db::call`].
    Poisoned,
}

impl BatchFailure {
    fn to_error(&self) -> StoreError {
        match self {
            BatchFailure::Sqlite(e) => StoreError::BatchFailed(e.clone()),
            BatchFailure::RolledBack => StoreError::BatchRolledBack,
            BatchFailure::Poisoned => StoreError::Poisoned,
        }
    }
}

/// A job with its closure, its result and its caller's reply channel.
pub(crate) struct Typed<T, E, F> {
    f: Option<F>,
    out: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Typed<T, E, F> {
    pub(crate) fn new(f: F, reply: oneshot::Sender<Result<T, E>>) -> Self {
        Typed {
            f: Some(f),
            out: None,
            reply,
        }
    }
}

impl<T, E, F> Job for Typed<T, E, F>
where
    F: FnOnce(&Connection) -> Result<T, E> + Send,
    T: Send,
    E: From<StoreError> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        // The closure only sees the connection, which the savepoint restores on failure, so
        // observing it after a panic is sound.
        let out = catch_unwind(AssertUnwindSafe(|| f(conn)))
            .unwrap_or_else(|_| Err(E::from(StoreError::JobPanicked)));
        let ok = out.is_ok();
        self.out = Some(out);
        ok
    }

    fn finish(self: Box<Self>, batch: Result<(), &BatchFailure>) {
        let answer = match (self.out, batch) {
            // a failed job's own error: its writes were rolled back whatever the batch did
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), Ok(())) => Ok(v),
            (Some(Ok(_)), Err(why)) | (None, Err(why)) => Err(E::from(why.to_error())),
            (None, Ok(())) => Err(E::from(StoreError::WorkerGone)),
        };
        // the caller may have gone away (request cancelled); the outcome stands regardless
        let _ = self.reply.send(answer);
    }
}

/// The writer thread: batches until every sender is dropped.
pub(crate) fn writer_loop(conn: Arc<Mutex<Connection>>, rx: Receiver<Box<dyn Job>>) {
    while let Ok(first) = rx.recv() {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        batch.push(first);
        batch.extend(rx.try_iter().take(MAX_BATCH - 1));
        let outcome = match conn.lock() {
            Ok(guard) => run_batch(&guard, &mut batch),
            Err(_) => Err(BatchFailure::Poisoned),
        };
        // the lock is released: answer
        for job in batch {
            job.finish(outcome.as_ref().map(|_| ()));
        }
    }
}

/// Runs `batch` in one transaction; `Ok` once `COMMIT` returned.
pub(crate) fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), BatchFailure> {
    let sql = |e: rusqlite::Error| BatchFailure::Sqlite(Arc::new(e));
    // every control statement parsed once per connection
    let exec = |stmt: &str| crate::tx::exec_cached(conn, stmt).map_err(sql);
    exec("BEGIN IMMEDIATE")?;
    let result = (|| {
        for job in batch.iter_mut() {
            exec("SAVEPOINT oh_job")?;
            let ok = job.run(conn);
            if conn.is_autocommit() {
                return Err(BatchFailure::RolledBack);
            }
            if !ok {
                exec("ROLLBACK TO oh_job")?;
            }
            exec("RELEASE oh_job")?;
        }
        exec("COMMIT")
    })();
    if result.is_err() && !conn.is_autocommit() {
        // nothing of the batch may survive a failed batch; an error here leaves the same outcome
        let _ = exec("ROLLBACK");
    }
    result
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::{Db, Migration};

    const M: &[Migration] = &[Migration {
        version: 1,
        sql: "CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
              CREATE TABLE parent (id INTEGER PRIMARY KEY);
              CREATE TABLE child (id INTEGER PRIMARY KEY,
                  parent_id INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);",
    }];

    type Reply = oneshot::Receiver<Result<(), StoreError>>;

    /// A job for [`run_batch`] and the receiver of its answer.
    fn job<F>(f: F) -> (Box<dyn Job>, Reply)
    where
        F: FnOnce(&Connection) -> Result<(), StoreError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        (Box::new(Typed::new(f, tx)), rx)
    }

    fn insert(k: &'static str) -> impl FnOnce(&Connection) -> Result<(), StoreError> + Send {
        move |c| {
            c.execute("INSERT INTO t (k, v) VALUES (?1, 1)", [k])?;
            Ok(())
        }
    }

    fn keys(c: &Connection) -> Vec<String> {
        let mut st = c.prepare("SELECT k FROM t ORDER BY k").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Runs the jobs as one batch on `db`'s connection and delivers the answers.
    fn batch_of(db: &Db, jobs: Vec<Box<dyn Job>>) -> Result<(), BatchFailure> {
        let mut jobs = jobs;
        let outcome = {
            let guard = db.conn.lock().unwrap();
            run_batch(&guard, &mut jobs)
        };
        for j in jobs {
            j.finish(outcome.as_ref().map(|_| ()));
        }
        outcome
    }

    #[test]
    fn a_failing_job_is_rolled_back_and_the_others_commit() {
        let db = Db::open_in_memory(M).unwrap();
        let (j1, mut r1) = job(insert("a"));
        // writes two rows, then fails: both must vanish
        let (j2, mut r2) = job(|c| {
            c.execute("INSERT INTO t (k, v) VALUES ('b1', 1)", [])?;
            c.execute("INSERT INTO t (k, v) VALUES ('b2', 1)", [])?;
            c.execute("UPDATE t SET v = 99 WHERE k = 'a'", [])?;
            Err(StoreError::WorkerGone)
        });
        // fails on a constraint after a write of its own
        let (j3, mut r3) = job(|c| {
            c.execute("INSERT INTO t (k, v) VALUES ('c', 1)", [])?;
            c.execute("INSERT INTO t (k, v) VALUES ('a', 2)", [])?;
            Ok(())
        });
        let (j4, mut r4) = job(insert("d"));
        batch_of(&db, vec![j1, j2, j3, j4]).unwrap();
        assert!(r1.try_recv().unwrap().is_ok());
        assert!(matches!(
            r2.try_recv().unwrap(),
            Err(StoreError::WorkerGone)
        ));
        assert!(matches!(r3.try_recv().unwrap(), Err(StoreError::Sqlite(_))));
        assert!(r4.try_recv().unwrap().is_ok());
        db.call_blocking(|c| {
            assert_eq!(keys(c), ["a", "d"]);
            let v: i64 = c.query_row("SELECT v FROM t WHERE k = 'a'", [], |r| r.get(0))?;
            assert_eq!(
                v, 1,
                "the failed job's update of another job's row was rolled back"
            );
            assert!(c.is_autocommit());
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }

    #[test]
    fn a_panicking_job_is_an_error_for_it_alone() {
        let db = Db::open_in_memory(M).unwrap();
        let (j1, mut r1) = job(insert("a"));
        let (j2, mut r2) = job(|c| {
            c.execute("INSERT INTO t (k, v) VALUES ('p', 1)", [])?;
            panic!("job bug");
        });
        let (j3, mut r3) = job(insert("c"));
        batch_of(&db, vec![j1, j2, j3]).unwrap();
        assert!(r1.try_recv().unwrap().is_ok());
        assert!(matches!(
            r2.try_recv().unwrap(),
            Err(StoreError::JobPanicked)
        ));
        assert!(r3.try_recv().unwrap().is_ok());
        db.call_blocking(|c| {
            assert_eq!(keys(c), ["a", "c"]);
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }

    #[test]
    fn a_failed_commit_fails_every_job_and_writes_nothing() {
        let db = Db::open_in_memory(M).unwrap();
        let (j1, mut r1) = job(insert("a"));
        // a deferred foreign-key violation passes its savepoint and fails the COMMIT
        let (j2, mut r2) = job(|c| {
            c.execute("INSERT INTO child (id, parent_id) VALUES (1, 42)", [])?;
            Ok(())
        });
        let (j3, mut r3) = job(|_| Err(StoreError::WorkerGone));
        assert!(matches!(
            batch_of(&db, vec![j1, j2, j3]),
            Err(BatchFailure::Sqlite(_))
        ));
        assert!(matches!(
            r1.try_recv().unwrap(),
            Err(StoreError::BatchFailed(_))
        ));
        assert!(matches!(
            r2.try_recv().unwrap(),
            Err(StoreError::BatchFailed(_))
        ));
        // a job that failed on its own keeps its own error
        assert!(matches!(
            r3.try_recv().unwrap(),
            Err(StoreError::WorkerGone)
        ));
        db.call_blocking(|c| {
            assert!(keys(c).is_empty());
            assert!(c.is_autocommit(), "the failed batch was rolled back");
            Ok::<_, StoreError>(())
        })
        .unwrap();
        // and the connection is usable for the next batch
        let (j, mut r) = job(insert("z"));
        batch_of(&db, vec![j]).unwrap();
        assert!(r.try_recv().unwrap().is_ok());
    }

    #[test]
    fn a_job_that_ends_the_transaction_fails_the_batch() {
        let db = Db::open_in_memory(M).unwrap();
        let (j1, mut r1) = job(insert("a"));
        let (j2, mut r2) = job(|c| {
            c.execute_batch("ROLLBACK")?;
            Ok(())
        });
        let (j3, mut r3) = job(insert("c"));
        assert!(matches!(
            batch_of(&db, vec![j1, j2, j3]),
            Err(BatchFailure::RolledBack)
        ));
        for r in [&mut r1, &mut r2, &mut r3] {
            assert!(matches!(
                r.try_recv().unwrap(),
                Err(StoreError::BatchRolledBack)
            ));
        }
        db.call_blocking(|c| {
            assert!(keys(c).is_empty());
            Ok::<_, StoreError>(())
        })
        .unwrap();
    }

    #[test]
    fn nothing_is_answered_before_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let db = Db::open(&path, M).unwrap();
        let other = Connection::open(&path).unwrap();
        let (j1, mut r1) = job(insert("a"));
        let (check, mut r2) = oneshot::channel::<Result<(), StoreError>>();
        let p2 = path.clone();
        // the second job of the batch looks from another connection: the first job's row is
        // written but not committed, so not visible, and the first job has not been answered
        let j2: Box<dyn Job> = Box::new(Typed::new(
            move |c: &Connection| {
                let n: i64 = c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?;
                assert_eq!(n, 1, "the batch sees its own writes");
                let o = Connection::open(&p2)?;
                let n: i64 = o.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?;
                assert_eq!(n, 0, "uncommitted rows are visible elsewhere");
                Ok(())
            },
            check,
        ));
        let mut jobs = vec![j1, j2];
        let outcome = {
            let guard = db.conn.lock().unwrap();
            run_batch(&guard, &mut jobs)
        };
        outcome.as_ref().unwrap();
        assert!(
            matches!(r1.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            "answered before finish"
        );
        for j in jobs {
            j.finish(outcome.as_ref().map(|_| ()));
        }
        assert!(r1.try_recv().unwrap().is_ok());
        assert!(r2.try_recv().unwrap().is_ok());
        assert_eq!(keys(&other), ["a"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn answered_writes_are_visible_to_other_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let db = Db::open(&path, M).unwrap();
        let mut tasks = Vec::new();
        for n in 0..200 {
            let db = db.clone();
            let path = path.clone();
            tasks.push(tokio::spawn(async move {
                let k = format!("k{n:03}");
                let k2 = k.clone();
                let fail = n % 7 == 3;
                let r = db
                    .write_batched(move |c| {
                        c.execute("INSERT INTO t (k, v) VALUES (?1, ?2)", (&k2, n))?;
                        if fail {
                            return Err(StoreError::WorkerGone);
                        }
                        Ok(())
                    })
                    .await;
                // answered: committed, so a fresh connection sees it (or not, for failures)
                let o = Connection::open(&path).unwrap();
                let seen: i64 = o
                    .query_row("SELECT COUNT(*) FROM t WHERE k = ?1", [&k], |r| r.get(0))
                    .unwrap();
                assert_eq!(r.is_ok(), !fail);
                assert_eq!(seen, i64::from(!fail), "{k}");
                k
            }));
        }
        let mut all = HashSet::new();
        for t in tasks {
            all.insert(t.await.unwrap());
        }
        assert_eq!(all.len(), 200);
        let expected = (0..200).filter(|n| n % 7 != 3).count();
        let n: i64 = db
            .call(|c| {
                c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                    .map_err(StoreError::from)
            })
            .await
            .unwrap();
        assert_eq!(n as usize, expected);
    }

    #[tokio::test]
    async fn the_writer_survives_a_panicking_job() {
        let db = Db::open_in_memory(M).unwrap();
        let r: Result<(), StoreError> = db
            .write_batched(|c| {
                c.execute("INSERT INTO t (k, v) VALUES ('p', 1)", [])?;
                panic!("job bug")
            })
            .await;
        assert!(matches!(r, Err(StoreError::JobPanicked)));
        db.write_batched(insert("a")).await.unwrap();
        // the connection's lock is not poisoned either
        let ks = db.call(|c| Ok::<_, StoreError>(keys(c))).await.unwrap();
        assert_eq!(ks, ["a"]);
    }

    #[tokio::test]
    async fn the_writer_stops_with_the_last_handle() {
        let db = Db::open_in_memory(M).unwrap();
        db.write_batched(insert("a")).await.unwrap();
        let conn = Arc::downgrade(&db.conn);
        drop(db);
        // the writer thread drops its handle on the connection once its queue is closed
        for _ in 0..1000 {
            if conn.upgrade().is_none() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the writer thread kept the connection open");
    }
}
