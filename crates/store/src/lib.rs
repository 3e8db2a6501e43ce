//! The storage seam shared by the services.
//!
//! Each service owns its schema and hands its migrations to [`Db::open`]. The default backend is
//! embedded SQLite in WAL mode with `synchronous=FULL`: a write whose transaction committed is on
//! disk before the caller answers success, and survives `kill -9` and power loss.
//!
//! SQLite calls block, so [`Db::call`] runs them on tokio's blocking pool. Writes are serialised by
//! one connection behind a mutex; this is the seam where a second backend (PostgreSQL, for several
//! stateless front ends on shared storage) would plug in. A file database has a second, read-only
//! connection for [`Db::read`], so reads do not queue behind a commit's fsync (WAL lets one writer
//! and readers run side by side); it could grow into a read pool.
//!
//! [`Db::write_batched`] is the group-commit path for short write transactions: concurrent jobs
//! share one transaction (and one fsync), each in its own savepoint, and each caller is answered
//! only after that transaction committed (see [`batch`]).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub mod batch;
pub mod limit;
pub mod net;
pub mod private;
pub mod tx;

use batch::{Job, Queue, Typed};

pub use rusqlite;
use rusqlite::Connection;

/// One schema change. Versions start at 1 and must be contiguous.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub sql: &'static str,
}

/// How far a commit is durable when it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// On disk (fsync) before the commit returns: survives power loss. The default.
    Full,
    /// In the WAL (the OS's page cache) before the commit returns: survives the process being
    /// killed, may lose the last commits on power loss (`synchronous=NORMAL`). For data that is
    /// only a cache of short-lived facts, such as replay records of 10-minute assertions.
    ProcessCrash,
}

/// Why the storage layer failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "database schema version {found} is newer than this build understands ({known}); use a newer openhybrid"
    )]
    SchemaTooNew { found: u32, known: u32 },
    #[error("migration to schema version {version} failed: {source}")]
    Migration {
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error("migrations are not contiguous: expected version {expected}, got {got}")]
    BadMigrations { expected: u32, got: u32 },
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database worker stopped unexpectedly")]
    WorkerGone,
    #[error("the database lock was poisoned by a panic in another request")]
    Poisoned,
    #[error("the database write panicked; nothing of it was written")]
    JobPanicked,
    #[error("the group commit this write belonged to failed; nothing of it was written: {0}")]
    BatchFailed(#[source] Arc<rusqlite::Error>),
    #[error(
        "the group commit this write belonged to was rolled back by another write's failure; nothing of it was written"
    )]
    BatchRolledBack,
    #[error("cannot start the database writer thread: {0}")]
    WriterSpawn(#[source] std::io::Error),
    /// Creating a data directory or database file, or making it owner-only, failed.
    #[error(
        "cannot make {path} private to this user: {source}; a service's data directory must be a directory this user owns"
    )]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A handle on one service's database. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    /// A read-only connection for [`Db::read`] (file databases; an in-memory one reads through
    /// `conn`).
    reader: Option<Arc<Mutex<Connection>>>,
    /// The group-commit writer's queue, started on the first [`Db::write_batched`]; the writer
    /// thread ends when the last clone of this handle is dropped.
    writer: Arc<Mutex<Option<Queue>>>,
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish()
    }
}

/// Settings every connection of a database gets: a busy timeout, room in the statement cache
/// for every hot statement of a service (the default of 16 makes a write path that touches a
/// dozen tables evict its own statements and re-parse them), and the query planner stability
/// guarantee. Without it the bundled SQLite (built with STAT4) marks a statement whose plan
/// could depend on a bound value (seen: every join with a bound parameter) to be re-prepared on
/// every new binding, so such a cached statement was parsed and planned again on every
/// execution. No statement of ours binds a LIKE pattern, the one plan that needs the value.
fn tune(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Runs `f` on the blocking pool with `conn` locked.
async fn run_on<T, E, F>(conn: Arc<Mutex<Connection>>, f: F) -> Result<T, E>
where
    F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || {
        let mut guard = conn.lock().map_err(|_| StoreError::Poisoned)?;
        f(&mut guard)
    })
    .await
    .map_err(|_| E::from(StoreError::WorkerGone))?
}

impl Db {
    /// Opens (creating if needed) the database at `path` and applies pending migrations. Every
    /// commit is on disk before it returns (`synchronous=FULL`).
    ///
    /// The database's directory is made owner-only (`0700`, created if missing) and the file with
    /// its `-wal`, `-shm` and `-journal` companions `0600`, tightening modes found looser (see
    /// [`private`]): databases hold the services' keys and secrets.
    pub fn open(path: &Path, migrations: &[Migration]) -> Result<Db, StoreError> {
        Self::open_with(path, migrations, Durability::Full)
    }

    /// [`Db::open`] with a chosen durability.
    pub fn open_with(
        path: &Path,
        migrations: &[Migration],
        durability: Durability,
    ) -> Result<Db, StoreError> {
        private::prepare_database(path)?;
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        let db = Self::init(conn, Some(path.to_owned()), migrations, durability)?;
        // SQLite gives the WAL and shared-memory files it just created the main file's mode;
        // checked, not assumed.
        private::tighten_companions(path)?;
        Ok(db)
    }

    /// Opens a second, read-only connection for [`Db::read`] (file databases; WAL lets it read
    /// beside the writer, so reads never queue behind a commit's fsync). For services whose reads
    /// are hot (the mailbox store); the others keep one connection. Call it before
    /// [`Db::on_each_connection`].
    pub fn with_read_connection(mut self) -> Result<Db, StoreError> {
        let Some(path) = self.path.clone() else {
            return Ok(self);
        };
        let reader = Connection::open(&path).map_err(|source| StoreError::Open { path, source })?;
        tune(&reader)?;
        reader.pragma_update(None, "query_only", "ON")?;
        self.reader = Some(Arc::new(Mutex::new(reader)));
        Ok(self)
    }

    /// A private in-memory database (tests, `--ephemeral`).
    pub fn open_in_memory(migrations: &[Migration]) -> Result<Db, StoreError> {
        let conn = Connection::open_in_memory().map_err(|source| StoreError::Open {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        Self::init(conn, None, migrations, Durability::Full)
    }

    fn init(
        mut conn: Connection,
        path: Option<PathBuf>,
        migrations: &[Migration],
        durability: Durability,
    ) -> Result<Db, StoreError> {
        let sync = match durability {
            Durability::Full => "FULL",
            Durability::ProcessCrash => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        tune(&conn)?;
        migrate(&mut conn, migrations)?;
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            reader: None,
            writer: Arc::new(Mutex::new(None)),
            path,
        })
    }

    /// The file behind this database, if any.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Runs `f` with the connection on the blocking pool.
    pub async fn call<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        run_on(self.conn.clone(), f).await
    }

    /// Runs `f` on the blocking pool with the read-only connection (`PRAGMA query_only`) of
    /// [`Db::with_read_connection`], which is not the writer's, so a read never waits for a commit
    /// in progress. `f` sees every write
    /// answered before it started (WAL snapshot isolation); to read several rows consistently it
    /// should open a transaction. Without a read connection (in-memory databases, or
    /// none opened) this is [`Db::call`].
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        run_on(self.reader.as_ref().unwrap_or(&self.conn).clone(), f).await
    }

    /// Runs `f` once on each of this database's connections, on the current thread: per-connection
    /// set-up such as registering SQL functions.
    pub fn on_each_connection<E, F>(&self, mut f: F) -> Result<(), E>
    where
        F: FnMut(&mut Connection) -> Result<(), E>,
        E: From<StoreError>,
    {
        for conn in std::iter::once(&self.conn).chain(self.reader.as_ref()) {
            let mut guard = conn.lock().map_err(|_| StoreError::Poisoned)?;
            f(&mut guard)?;
        }
        Ok(())
    }

    /// Runs `f` as one job of a group commit: on the writer thread, inside a `SAVEPOINT` of a
    /// `BEGIN IMMEDIATE` transaction shared with the other writes queued at the same time (at most
    /// [`batch::MAX_BATCH`]). When `f` fails or panics, everything it wrote is rolled back and the
    /// other jobs are unaffected; when it succeeds, the answer comes only after the shared
    /// `COMMIT` returned (on disk with [`Durability::Full`]), or is an error if that commit failed,
    /// in which case nothing of `f` was written.
    ///
    /// `f` must not end the transaction (`COMMIT`, `ROLLBACK`, `RELEASE` of a savepoint it did not
    /// open): the batch is then failed as a whole. A job never waits for others to arrive: the
    /// writer takes whatever is queued when it becomes free.
    pub async fn write_batched<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Box<dyn Job> = Box::new(Typed::new(f, reply));
        self.writer()?
            .send(job)
            .map_err(|_| E::from(StoreError::WorkerGone))?;
        answer.await.map_err(|_| E::from(StoreError::WorkerGone))?
    }

    /// The writer's queue, starting the writer thread if needed.
    fn writer(&self) -> Result<Queue, StoreError> {
        let mut w = self.writer.lock().map_err(|_| StoreError::Poisoned)?;
        if let Some(tx) = w.as_ref() {
            return Ok(tx.clone());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let conn = self.conn.clone();
        std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || batch::writer_loop(conn, rx))
            .map_err(StoreError::WriterSpawn)?;
        *w = Some(tx.clone());
        Ok(tx)
    }

    /// Runs `f` with the connection on the current thread (start-up, CLI, tests).
    pub fn call_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Connection) -> Result<T, E>,
        E: From<StoreError>,
    {
        let mut guard = self.conn.lock().map_err(|_| StoreError::Poisoned)?;
        f(&mut guard)
    }
}

fn migrate(conn: &mut Connection, migrations: &[Migration]) -> Result<(), StoreError> {
    for (i, m) in migrations.iter().enumerate() {
        let expected = i as u32 + 1;
        if m.version != expected {
            return Err(StoreError::BadMigrations {
                expected,
                got: m.version,
            });
        }
    }
    let known = migrations.len() as u32;
    let current: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    for m in &migrations[current as usize..] {
        let tx = conn.transaction()?;
        tx.execute_batch(m.sql)
            .map_err(|source| StoreError::Migration {
                version: m.version,
                source,
            })?;
        tx.pragma_update(None, "user_version", m.version)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: &[Migration] = &[
        Migration {
            version: 1,
            sql: "CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL);",
        },
        Migration {
            version: 2,
            sql: "ALTER TABLE t ADD COLUMN n INTEGER NOT NULL DEFAULT 0;",
        },
    ];

    #[test]
    fn migrates_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let db = Db::open(&path, &M[..1]).unwrap();
        db.call_blocking(|c| {
            c.execute("INSERT INTO t (k, v) VALUES ('a', 'b')", [])
                .map_err(StoreError::from)
        })
        .unwrap();
        drop(db);
        let db = Db::open(&path, M).unwrap();
        let n: i64 = db
            .call_blocking(|c| {
                c.query_row("SELECT n FROM t WHERE k='a'", [], |r| r.get(0))
                    .map_err(StoreError::from)
            })
            .unwrap();
        assert_eq!(n, 0);
    }

    /// Regression: a cached statement with a join and a bound parameter was re-prepared (parsed and planned again) on every execution, which was most of the cost of
    /// Exchange's uncached authentication. Both connections of a file database are held to it.
    #[test]
    fn cached_statements_are_not_reprepared_per_binding() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db.sqlite"), M)
            .unwrap()
            .with_read_connection()
            .unwrap();
        let setup = "CREATE TABLE u (k TEXT PRIMARY KEY COLLATE NOCASE, tag TEXT);
             INSERT INTO t (k, v) VALUES ('a', 'x'), ('b', 'y');
             INSERT INTO u (k, tag) VALUES ('x', 'one'), ('y', NULL);";
        db.call_blocking(|c| c.execute_batch(setup).map_err(StoreError::from))
            .unwrap();
        let queries = [
            "SELECT u.tag FROM t LEFT JOIN u ON u.k = t.v WHERE t.k = ?1",
            "SELECT u.tag FROM t JOIN u ON u.k = t.v WHERE t.k = ?1 AND t.n = 0",
        ];
        let reprepares = move |c: &mut Connection| -> Result<Vec<i32>, StoreError> {
            let mut counts = Vec::new();
            for q in queries {
                for key in ["a", "b", "a", "one", "b"] {
                    let mut st = c.prepare_cached(q)?;
                    let _: Vec<Option<String>> = st
                        .query_map([key], |r| r.get(0))?
                        .collect::<Result<_, _>>()?;
                }
                let st = c.prepare_cached(q)?;
                counts.push(st.get_status(rusqlite::StatementStatus::RePrepare));
            }
            Ok(counts)
        };
        assert_eq!(db.call_blocking(reprepares).unwrap(), [0, 0]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(db.read(reprepares)).unwrap(), [0, 0]);
    }

    #[test]
    fn refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        Db::open(&path, M).unwrap();
        let err = Db::open(&path, &M[..1]).unwrap_err();
        assert!(matches!(
            err,
            StoreError::SchemaTooNew { found: 2, known: 1 }
        ));
    }

    #[test]
    fn rejects_gapped_migrations() {
        let bad = [M[1]];
        let err = Db::open_in_memory(&bad).unwrap_err();
        assert!(matches!(
            err,
            StoreError::BadMigrations {
                expected: 1,
                got: 2
            }
        ));
    }

    #[test]
    fn failed_migration_leaves_version() {
        let bad = [
            M[0],
            Migration {
                version: 2,
                sql: "ALTER TABLE nope ADD COLUMN x INTEGER;",
            },
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        assert!(matches!(
            Db::open(&path, &bad).unwrap_err(),
            StoreError::Migration { version: 2, .. }
        ));
        // version 1 applied, version 2 not: the good migrations still open it.
        Db::open(&path, &M[..1]).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reads_do_not_wait_for_the_writer_and_see_answered_writes() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db.sqlite"), M)
            .and_then(Db::with_read_connection)
            .unwrap();
        db.write_batched(|c| {
            c.execute("INSERT INTO t (k, v) VALUES ('a', 'b')", [])
                .map_err(StoreError::from)
        })
        .await
        .unwrap();
        // hold the writer's connection (as a commit in progress would) while reading
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let writer = db.clone();
        let holder = std::thread::spawn(move || {
            writer
                .call_blocking(|_| {
                    held_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                    Ok::<_, StoreError>(())
                })
                .unwrap();
        });
        held_rx.recv().unwrap();
        let v: String = db
            .read(|c| {
                c.query_row("SELECT v FROM t WHERE k = 'a'", [], |r| r.get(0))
                    .map_err(StoreError::from)
            })
            .await
            .unwrap();
        assert_eq!(v, "b");
        release_tx.send(()).unwrap();
        holder.join().unwrap();
    }

    #[tokio::test]
    async fn the_read_connection_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("db.sqlite"), M)
            .and_then(Db::with_read_connection)
            .unwrap();
        let r = db
            .read(|c| {
                c.execute("INSERT INTO t (k, v) VALUES ('a', 'b')", [])
                    .map_err(StoreError::from)
            })
            .await;
        assert!(matches!(r, Err(StoreError::Sqlite(_))));
        let mut seen = 0;
        db.on_each_connection(|c| {
            seen += 1;
            c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0))
                .map(|n| assert_eq!(n, 0))
                .map_err(StoreError::from)
        })
        .unwrap();
        assert_eq!(
            seen, 2,
            "a file database has a writer and a reader connection"
        );
    }

    #[cfg(unix)]
    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    /// Every file of `dir` and `dir` itself: (path, mode).
    #[cfg(unix)]
    fn modes(dir: &Path) -> Vec<(PathBuf, u32)> {
        let mut out = vec![(dir.to_owned(), mode(dir))];
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            out.push((p.clone(), mode(&p)));
        }
        out
    }

    /// Regression: databases (Exchange's holds its auth certificate's private key) were created
    /// 0644 in 0755 directories, readable by every local user.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_database_and_its_directory_are_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("service").join("data");
        let path = dir.join("db.sqlite");
        let db = Db::open(&path, M)
            .and_then(Db::with_read_connection)
            .unwrap();
        db.write_batched(|c| {
            c.execute("INSERT INTO t (k, v) VALUES ('a', 'b')", [])
                .map_err(StoreError::from)
        })
        .await
        .unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let f = PathBuf::from(format!("{}{suffix}", path.display()));
            assert!(f.exists(), "{} was not created", f.display());
        }
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("service")), 0o700);
        for (p, m) in modes(&dir).into_iter().skip(1) {
            assert_eq!(m, 0o600, "{}", p.display());
        }
    }

    /// Databases created before the fix (0644 files, 0755 directory) are tightened on open.
    #[cfg(unix)]
    #[test]
    fn an_existing_loose_database_is_tightened_on_open() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("db.sqlite");
        {
            // as the old code left it: a WAL database with its companions, all world-readable
            let c = Connection::open(&path).unwrap();
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
            c.execute_batch("CREATE TABLE x (a); INSERT INTO x VALUES (1);")
                .unwrap();
            std::fs::write(format!("{}-journal", path.display()), b"").unwrap();
            for (p, _) in modes(&dir) {
                let m = if p == dir { 0o755 } else { 0o644 };
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).unwrap();
            }
            let loose = modes(&dir);
            assert!(loose.len() >= 3, "{loose:?}");
            assert!(loose.iter().all(|(_, m)| m & 0o044 != 0), "{loose:?}");
            // keep the connection open: -wal and -shm stay on disk like a crashed process's
            std::mem::forget(c);
        }
        let _db = Db::open(&path, M).unwrap();
        let after = modes(&dir);
        assert_eq!(after[0], (dir.clone(), 0o700));
        assert!(after.len() >= 4, "{after:?}");
        for (p, m) in &after[1..] {
            assert_eq!(*m, 0o600, "{}", p.display());
        }
    }

    /// The helpers the services use for their data directories and secret files; a directory
    /// that cannot be created is an error naming it.
    #[cfg(unix)]
    #[test]
    fn private_dir_helpers() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("a/b");
        private::ensure_private_dir(&d).unwrap();
        assert_eq!(mode(&d), 0o700);
        let f = d.join("secret");
        drop(private::create_new(&f).unwrap());
        assert_eq!(mode(&f), 0o600);
        assert_eq!(
            private::create_new(&f).unwrap_err().kind(),
            std::io::ErrorKind::AlreadyExists
        );
        let err = private::ensure_private_dir(Path::new("/proc/self/no/such")).unwrap_err();
        assert!(err.to_string().contains("/proc/self/no/such"), "{err}");
    }

    #[tokio::test]
    async fn call_runs_off_thread() {
        let db = Db::open_in_memory(M).unwrap();
        let v: String = db
            .call(|c| {
                c.execute("INSERT INTO t (k, v) VALUES ('x', 'y')", [])?;
                c.query_row("SELECT v FROM t WHERE k='x'", [], |r| r.get(0))
                    .map_err(StoreError::from)
            })
            .await
            .unwrap();
        assert_eq!(v, "y");
    }
}
