//! The database: SQLite or PostgreSQL, chosen by URL at start-up.
//!
//! Store code is written once with portable SQL (`$1` placeholders, `RETURNING`, `ON CONFLICT`,
//! i64 ids and epoch-millisecond times) and run on either backend through [`on_pool!`] and
//! [`on_tx!`], which expand the same expression for each concrete sqlx driver. sqlx's `Any`
//! driver is deliberately not used: it loses types and cannot express SQLite's
//! `BEGIN IMMEDIATE`. The few places where the dialects differ are the methods of [`Dialect`].

use std::ptr::NonNull;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Arguments, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("could not create the database folder: {0}")]
    Io(#[from] std::io::Error),
}

/// A pool on one of the two backends. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open write transaction. On SQLite it was started with `BEGIN IMMEDIATE`, so it holds the
/// write lock from the first statement and never fails half-way with `SQLITE_BUSY` on upgrade.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs the same expression against whichever pool `db` holds.
/// `on_pool!(db, |p| sqlx::query("...").execute(p).await.map(|r| r.rows_affected()))`
///
/// Each arm has its own driver types, so the expression must end in a type both share
/// (rows, scalars, `rows_affected()`), never a driver's own result type.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, |$p:ident| $body:expr) => {
        match $db {
            $crate::platform::db::Db::Sqlite($p) => $body,
            $crate::platform::db::Db::Postgres($p) => $body,
        }
    };
}

/// Runs the same expression against the connection of a transaction.
/// `on_tx!(tx, |c| sqlx::query("...").execute(c).await.map(|r| r.rows_affected()))`
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, |$c:ident| $body:expr) => {
        match $tx {
            $crate::platform::db::Tx::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::platform::db::Tx::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// A value bound to a statement of a [`Script`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    MaybeInt(Option<i64>),
    Text(String),
}

/// Statements that commit together or not at all, each with its values in order. Written with
/// anonymous `?` placeholders (and no other `?`): on PostgreSQL each statement's become `$1`,
/// `$2`, ….
///
/// Why not a [`Tx`]: on SQLite a transaction through sqlx hands each statement to the
/// connection's thread and back, and between two statements it waits for the runtime's
/// thread, busy with callbacks, while it holds the write lock that the message log's
/// committer needs (BENCHMARKS.md, "Where the tail comes from"). A script goes to the
/// connection's thread whole, `BEGIN IMMEDIATE; …; COMMIT`, so the lock is held for SQLite's
/// own time only. On PostgreSQL the statements run one by one in a transaction.
#[derive(Debug, Default)]
pub struct Script {
    statements: Vec<(String, Vec<Value>)>,
    keep_prepared: bool,
}

impl Script {
    pub fn new() -> Script {
        Script::default()
    }

    pub fn push(&mut self, sql: impl Into<String>, values: Vec<Value>) {
        self.statements.push((sql.into(), values));
    }

    /// The script's text is one of a few that come again and again: on SQLite each
    /// connection keeps it prepared (a statement of a thousand rows takes a millisecond to
    /// prepare, as long as SQLite takes to run it). A script whose text changes with its
    /// values must not: every text would be kept.
    pub fn keep_prepared(&mut self) {
        self.keep_prepared = true;
    }
}

/// Which SQL dialect a pool speaks, for the few statements that differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Row locking for queue claims: Postgres skips rows other claimers hold; SQLite already
    /// serialises writers with `BEGIN IMMEDIATE`, so nothing is needed.
    pub fn for_update_skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        }
    }
}

pub struct ConnectOptions {
    pub max_connections: u32,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
        }
    }
}

/// WAL pages after which a pool connection's commit checkpoints by itself (SQLite's default
/// is 1,000). While callbacks arrive, the message log's writer has the WAL checkpointed
/// every 25 ms (messages::checkpoints; every 100 ms when this was measured), and at the
/// benchmark's load wrote more than 1,000 pages between two of those: at the default, every
/// commit of a projection after the first 1,000 pages ran a checkpoint of its own, each
/// copying the log's newest pages (rewritten by every commit) once more and syncing both
/// files, a quarter of sqlx's threads' time (BENCHMARKS.md, callback, thirteenth round).
/// This threshold is for the rest of the time (console and jobs writing without callbacks;
/// that task also checkpoints at least once a second): a WAL of at most ~32 MiB before it
/// is copied back. Not higher: until the committer was made to hold a commit so that the
/// WAL starts over (messages::checkpoints), these checkpoints were all that let it start
/// over under sustained load; left to that task alone (a 1 GiB threshold), the WAL grew to
/// 1.9 GB in 45 s and sqlx's threads took 24% of the core instead of 13% (thirty-fourth
/// round). Not tried again since.
const AUTO_CHECKPOINT_PAGES: u32 = 8_192;

/// The page cache of each pool connection, in KiB (SQLite's default is 2,000). In WAL mode a
/// connection's cache is emptied whenever another connection commits, which the log's
/// committer does hundreds of times a second, so a larger cache is seldom reused; but what
/// it once held stays with the thread (the C allocator keeps it, `platform::memory`), and the
/// projections' reads of thousands of log rows filled each of ten connections' caches: at
/// 512 KiB the peak under the callback benchmark was 10–13 MB lower in 4 of 4 pairs, with the
/// same reads and CPU a callback (BENCHMARKS.md, callback, eighteenth round).
const POOL_CACHE_KIB: u32 = 512;

/// SQLite virtual machine instructions between two looks at the clock by a pool
/// connection's progress handler (a few microseconds of work).
const YIELD_CHECK_OPS: i32 = 256;
/// The longest a pool connection's thread works before offering the core to other threads.
const YIELD_EVERY: Duration = Duration::from_micros(200);
/// How many times pool connections offered the core (read by the tests).
static CPU_OFFERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A progress handler that offers the core to other threads every `YIELD_EVERY` of a
/// statement's work, unless the connection holds the write lock. SQLite calls it only in
/// statements of more than `YIELD_CHECK_OPS` instructions, and the clock runs from the
/// connection's last offer: a statement that starts after a pause offers the core at its
/// first call, then every `YIELD_EVERY`. sqlx runs every pool connection on a thread of
/// its own; where that thread shares a core with the runtime's (the server on one core, or
/// more busy threads than cores) the kernel takes the core back from a long statement only
/// at its next tick, 4 ms apart on a 250 Hz kernel, and every
/// callback in flight waited that long (BENCHMARKS.md, callback, twelfth round). A writer
/// keeps the core: the log's committer could only wait for its lock, and longer. Where no
/// other thread wants the core, the offer is one cheap system call.
fn offer_the_core_now_and_then(
    connection: NonNull<rusqlite::ffi::sqlite3>,
) -> impl FnMut() -> bool + Send + 'static {
    let connection = Connection(connection);
    let mut since = std::time::Instant::now();
    move || {
        if since.elapsed() >= YIELD_EVERY && !connection.writing() {
            std::thread::yield_now();
            CPU_OFFERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            since = std::time::Instant::now();
        }
        true
    }
}

/// The connection a progress handler belongs to. The handler is called by SQLite on the
/// connection's own thread, inside one of its statements, and dropped with it.
struct Connection(NonNull<rusqlite::ffi::sqlite3>);

#[allow(unsafe_code)]
// SAFETY: used only from the progress handler, which SQLite calls on the thread running the
// connection's statement, while the connection is alive.
unsafe impl Send for Connection {}

impl Connection {
    #[allow(unsafe_code)]
    fn writing(&self) -> bool {
        // SAFETY: see `Connection`; reading the transaction state does not modify the
        // connection, which is all a progress handler may not do.
        let state = unsafe { rusqlite::ffi::sqlite3_txn_state(self.0.as_ptr(), std::ptr::null()) };
        state == rusqlite::ffi::SQLITE_TXN_WRITE
    }
}

/// What a WAL checkpoint found: the frames (a page each) in the WAL since it last started
/// over, and how many of them are now in the database file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpointed {
    pub frames: i64,
    pub copied: i64,
}

impl Db {
    /// Opens the database named by `url`, creating a SQLite file (and its folder) if missing.
    pub async fn connect(url: &str, options: ConnectOptions) -> Result<Db, DbError> {
        if url.starts_with("sqlite:") {
            Self::connect_sqlite(url, options).await
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(DbError::UnsupportedUrl)
        }
    }

    async fn connect_sqlite(url: &str, options: ConnectOptions) -> Result<Db, DbError> {
        let opts = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("temp_store", "memory")
            .pragma("cache_size", format!("-{POOL_CACHE_KIB}"))
            .pragma("wal_autocheckpoint", AUTO_CHECKPOINT_PAGES.to_string())
            // sqlx hands every row from the connection's thread to the caller through a
            // channel this deep; at the default 50 a large read (the followers projector
            // reads thousands of log rows) became a context switch every few rows.
            .row_buffer_size(4096);
        // A file's checkpoints give the core back as they copy, and its WAL writes a frame
        // at once, padded to its block's end (`sqlite_vfs`); an in-memory database has no
        // file to write.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let opts = if !in_memory && super::sqlite_vfs::register() {
            opts.vfs(super::sqlite_vfs::NAME)
        } else {
            opts
        };
        let folder = opts.get_filename().parent();
        if let Some(parent) = folder.filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    let mut handle = conn.lock_handle().await?;
                    let connection = handle.as_raw_handle();
                    handle.set_progress_handler(
                        YIELD_CHECK_OPS,
                        offer_the_core_now_and_then(connection),
                    );
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        Ok(Db::Sqlite(pool))
    }

    /// The file behind a SQLite pool, for the work that reads or writes it through a
    /// connection of its own (the message log's committer, the followers export); `None` on
    /// PostgreSQL and for in-memory databases (another connection would see another one).
    pub fn sqlite_file(&self) -> Option<std::path::PathBuf> {
        let Db::Sqlite(pool) = self else {
            return None;
        };
        let options = pool.connect_options();
        let path = options.get_filename();
        path.is_file().then(|| path.to_path_buf())
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn migrate(&self) -> Result<(), DbError> {
        match self {
            Db::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Db::Postgres(p) => POSTGRES_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// Starts a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Db::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Runs `script` as one transaction: all of it, or on any error none of it. Takes the
    /// script whole: its texts are bound as they are, where a borrowed text is copied again
    /// for the driver's thread (a projection's pass binds a thousand openids).
    pub async fn run_script(&self, script: Script) -> Result<(), sqlx::Error> {
        match self {
            Db::Sqlite(pool) => run_sqlite_script(pool, script).await,
            Db::Postgres(pool) => run_postgres_script(pool, script).await,
        }
    }

    /// Liveness of the database for `/healthz`.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// Copies SQLite's WAL back into the database file without waiting for readers or
    /// writers (PASSIVE), so that the WAL can be reused instead of growing, and tells how
    /// far it got. `None` on PostgreSQL, which has nothing to copy.
    pub async fn checkpoint(&self) -> Result<Option<Checkpointed>, sqlx::Error> {
        let Db::Sqlite(p) = self else {
            return Ok(None);
        };
        let (_busy, frames, copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(p)
                .await?;
        Ok(Some(Checkpointed { frames, copied }))
    }

    /// (connections open, connections idle) for `/metrics`.
    pub fn pool_usage(&self) -> (u32, usize) {
        on_pool!(self, |p| (p.size(), p.num_idle()))
    }

    pub async fn close(&self) {
        on_pool!(self, |p| p.close().await)
    }
}

impl Tx {
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.rollback().await,
            Tx::Postgres(t) => t.rollback().await,
        }
    }
}

/// True when `err` is a unique-constraint violation, on either backend.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(e) => e.is_unique_violation(),
        _ => false,
    }
}

/// A script's values as one driver's arguments (each has its own type), with room for all
/// of them made at once: bound one at a time through `Query::bind`, each value moved the
/// query and the vector grew by doubling (BENCHMARKS.md, callback, thirty-second round).
macro_rules! arguments {
    ($arguments:ty, $values:expr, $count:expr) => {{
        let mut arguments = <$arguments>::default();
        arguments.reserve($count, 0);
        for value in $values {
            match value {
                Value::Int(v) => arguments.add(v),
                Value::MaybeInt(v) => arguments.add(v),
                Value::Text(v) => arguments.add(v),
            }
            .map_err(sqlx::Error::Encode)?;
        }
        arguments
    }};
}

async fn run_sqlite_script(pool: &SqlitePool, script: Script) -> Result<(), sqlx::Error> {
    let mut sql = String::from("BEGIN IMMEDIATE;\n");
    let mut count = 0;
    for (statement, values) in &script.statements {
        sql.push_str(statement);
        sql.push_str(";\n");
        count += values.len();
    }
    sql.push_str("COMMIT");
    let values = script.statements.into_iter().flat_map(|(_, values)| values);
    let arguments = arguments!(SqliteArguments, values, count);
    // Most scripts' text changes with their number of rows: not kept prepared unless asked.
    let q = sqlx::query_with(&sql, arguments).persistent(script.keep_prepared);
    let mut conn = pool.acquire().await?;
    let Err(e) = q.execute(&mut *conn).await else {
        return Ok(());
    };
    // SQLite stopped at the failing statement, inside the transaction unless BEGIN itself
    // failed. A connection whose state is unknown must not go back to the pool.
    if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
        let _ = conn.close().await;
    }
    Err(e)
}

async fn run_postgres_script(pool: &PgPool, script: Script) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    for (statement, values) in script.statements {
        let sql = numbered_placeholders(&statement);
        let count = values.len();
        let arguments = arguments!(PgArguments, values, count);
        sqlx::query_with(&sql, arguments).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// `?, ?` → `$1, $2`.
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod progress_tests {
    use std::sync::atomic::Ordering;
    use std::time::Instant;

    use super::{CPU_OFFERS, ConnectOptions, Db, YIELD_EVERY};

    pub(super) async fn scratch_db(dir: &tempfile::TempDir) -> Db {
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        Db::connect(&url, ConnectOptions::default())
            .await
            .expect("open")
    }

    const COUNT_TO_3M: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c \
        WHERE x < 3000000) SELECT count(*) FROM c";

    // One test for both, so that the two never run at once on the shared counter.
    #[tokio::test]
    async fn a_long_read_offers_the_core_as_it_goes_and_a_writer_keeps_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = scratch_db(&dir).await;
        let Db::Sqlite(pool) = &db else {
            unreachable!("a sqlite URL")
        };

        let before = CPU_OFFERS.load(Ordering::Relaxed);
        let started = Instant::now();
        let (n,): (i64,) = sqlx::query_as(COUNT_TO_3M)
            .fetch_one(pool)
            .await
            .expect("count");
        let took = started.elapsed();
        let offers = CPU_OFFERS.load(Ordering::Relaxed) - before;
        assert_eq!(n, 3_000_000);
        // Every 200 µs of work, give or take the checks between looks at the clock.
        let expected = (took.as_micros() / YIELD_EVERY.as_micros()) as u64;
        assert!(
            offers >= expected / 3,
            "{offers} offers in {took:?}, expected about {expected}"
        );

        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(pool)
            .await
            .expect("table");
        let before = CPU_OFFERS.load(Ordering::Relaxed);
        let started = Instant::now();
        let written = sqlx::query(&format!("INSERT INTO t {COUNT_TO_3M}"))
            .execute(pool)
            .await
            .expect("insert");
        assert_eq!(written.rows_affected(), 1);
        let offers = CPU_OFFERS.load(Ordering::Relaxed) - before;
        assert_eq!(
            offers,
            0,
            "a statement holding the write lock offered the core {offers} times in {:?}",
            started.elapsed()
        );
        db.close().await;
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use super::{AUTO_CHECKPOINT_PAGES, ConnectOptions, Db, POOL_CACHE_KIB};

    #[tokio::test]
    async fn pool_connections_leave_checkpoints_to_the_log_writer_and_keep_a_small_cache() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let db = Db::connect(&url, ConnectOptions::default())
            .await
            .expect("open");
        let Db::Sqlite(pool) = &db else {
            unreachable!("a sqlite URL")
        };
        // Two connections held at once, so that both are looked at, not one twice.
        let mut first = pool.acquire().await.expect("first connection");
        let mut second = pool.acquire().await.expect("second connection");
        for conn in [&mut first, &mut second] {
            let (pages,): (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
                .fetch_one(&mut **conn)
                .await
                .expect("pragma");
            assert_eq!(pages, i64::from(AUTO_CHECKPOINT_PAGES));
            let (cache,): (i64,) = sqlx::query_as("PRAGMA cache_size")
                .fetch_one(&mut **conn)
                .await
                .expect("pragma");
            assert_eq!(
                cache,
                -i64::from(POOL_CACHE_KIB),
                "KiB, as SQLite reports it"
            );
        }
        drop((first, second));
        db.close().await;
    }

    /// A checkpoint copies the WAL into the database file in one step of SQLite's, which
    /// the progress handler never interrupts: the pool's VFS offers the core between the
    /// pages it writes, and the database still reads the same afterwards.
    #[tokio::test]
    async fn a_checkpoint_offers_the_core_as_it_copies_and_loses_nothing() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = super::progress_tests::scratch_db(&dir).await;
        let Db::Sqlite(pool) = &db else {
            unreachable!("a sqlite URL")
        };
        sqlx::query(
            "CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL); \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) \
             INSERT INTO filler (id, body) SELECT i, printf('%.300c', 'x') FROM n",
        )
        .execute(pool)
        .await
        .expect("fill the WAL");
        let before = super::super::sqlite_vfs::offers();
        let done = db.checkpoint().await.expect("checkpoint");
        let Some(super::Checkpointed { frames, copied }) = done else {
            unreachable!("a SQLite file has a WAL")
        };
        assert!(frames > 1_000, "the WAL held the table: {frames} frames");
        assert_eq!(copied, frames, "everything was copied");
        assert!(
            super::super::sqlite_vfs::offers() > before,
            "copying ~1,700 pages took more than one stretch and offered the core"
        );
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM filler")
            .fetch_one(pool)
            .await
            .expect("count");
        assert_eq!(rows, 20_000);
        db.close().await;
    }
}

#[cfg(test)]
mod script_tests {
    #[test]
    fn anonymous_placeholders_are_numbered_for_postgres() {
        assert_eq!(
            super::numbered_placeholders("INSERT INTO t VALUES (?, ?), (?, 'x')"),
            "INSERT INTO t VALUES ($1, $2), ($3, 'x')"
        );
    }
}
