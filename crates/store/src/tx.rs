//! Transactions with their control statements parsed once per connection.
//!
//! rusqlite's `Transaction` runs `BEGIN …` and `COMMIT` through `execute_batch`, which parses
//! the statement every time: on a read of one folder that parse was about a tenth of the
//! request's instructions. Here they are cached statements (`prepare_cached`), and a guard rolls
//! back whatever did not commit, on an error or a panic alike.

use rusqlite::Connection;

/// Runs one cached statement that takes no parameters and returns no rows (`BEGIN`, `COMMIT`,
/// `SAVEPOINT <name>`, `RELEASE <name>`, …).
pub fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map(drop)
}

/// Rolls back on drop unless disarmed: the connection is never left inside a transaction.
struct RollbackGuard<'c> {
    conn: &'c Connection,
    armed: bool,
}

impl Drop for RollbackGuard<'_> {
    fn drop(&mut self) {
        if self.armed && !self.conn.is_autocommit() {
            let _ = exec_cached(self.conn, "ROLLBACK");
        }
    }
}

/// Runs `f` in one deferred (read) transaction: a consistent snapshot of the database. Commits
/// when `f` succeeds; rolls back when it fails or panics.
pub fn in_read_transaction<T, E>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<rusqlite::Error>,
{
    exec_cached(conn, "BEGIN DEFERRED")?;
    let mut guard = RollbackGuard { conn, armed: true };
    let out = f(conn)?;
    exec_cached(conn, "COMMIT")?;
    guard.armed = false;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (a INTEGER)").unwrap();
        c
    }

    #[test]
    fn commits_what_succeeds_and_reuses_its_statements() {
        let c = db();
        for i in 0..3 {
            in_read_transaction(&c, |c| {
                assert!(!c.is_autocommit(), "inside a transaction");
                c.execute("INSERT INTO t VALUES (?1)", [i])
            })
            .unwrap();
            assert!(c.is_autocommit());
        }
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn rolls_back_a_failure_and_a_panic() {
        let c = db();
        let r: Result<(), rusqlite::Error> = in_read_transaction(&c, |c| {
            c.execute("INSERT INTO t VALUES (1)", [])?;
            Err(rusqlite::Error::InvalidQuery)
        });
        assert!(r.is_err());
        assert!(c.is_autocommit());
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _: Result<(), rusqlite::Error> = in_read_transaction(&c, |c| {
                c.execute("INSERT INTO t VALUES (2)", [])?;
                panic!("inside the transaction")
            });
        }));
        assert!(caught.is_err());
        assert!(c.is_autocommit(), "the panic's transaction was rolled back");
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
        // and the connection takes the next transaction
        in_read_transaction(&c, |c| c.execute("INSERT INTO t VALUES (3)", [])).unwrap();
    }
}
