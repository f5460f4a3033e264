//! The message log's own SQLite connection, used by the committer on the runtime's thread.
//!
//! Why not the sqlx pool: sqlx runs every SQLite connection on a thread of its own, so each
//! statement of a commit (BEGIN, INSERT, COMMIT) is a hand-off to that thread and back, two
//! context switches on a busy core. Committing a batch takes SQLite ~0.1 ms; run in place it
//! costs nothing but that (perf-notes.md: 0.57× of the ceiling against 0.39× with a writer
//! thread). Blocking the runtime's thread for that long is also what makes group commit work:
//! the callbacks that arrive meanwhile form the next batch.
//!
//! Two things must then never happen on this connection, since they would stall every
//! request on the thread: waiting long for SQLite's write lock (the committer waits
//! asynchronously, see writer.rs, after a brief wait in place: `wait_briefly`) and WAL
//! checkpoints (automatic checkpoints off; the writer has them run from the pool, on sqlx's
//! threads).

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::store::{LogRow, Logged};
use crate::platform::db::Db;

/// `OR IGNORE` rather than `ON CONFLICT (account_id, dedup_key) DO NOTHING`: the same for
/// the only unique key that can conflict (the id is ours), but a statement that may abort
/// (NOT NULL checks do, by default) makes SQLite copy every page it touches into a statement
/// journal first, inside a transaction: 4 KiB copies per row, a tenth of the commit's time.
/// Every value bound here is non-null. No `RETURNING id`: the connection's last rowid is
/// the new row's, read without a result row to build and step past.
const INSERT: &str = "INSERT OR IGNORE INTO wx_messages (merchant_id, account_id, dedup_key, \
     openid, kind, sent_at, received_at, body, reply, route) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
const FIRST_ANSWER: &str =
    "SELECT id, reply, received_at FROM wx_messages WHERE account_id = ?1 AND dedup_key = ?2";

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Another connection holds the write lock: try again shortly.
    #[error("the database is locked by another writer")]
    Busy,
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

/// The file behind a SQLite pool and, once opened, our connection to it.
pub struct SqliteLog {
    path: PathBuf,
    conn: Option<Connection>,
}

impl SqliteLog {
    /// For a pool on a SQLite file; `None` for PostgreSQL and in-memory databases (another
    /// connection would see another database), which keep writing through the pool.
    pub fn for_db(db: &Db) -> Option<SqliteLog> {
        db.sqlite_file().map(|path| SqliteLog { path, conn: None })
    }

    /// Writes `rows` in one transaction, in order; duplicates of logged messages (same
    /// account and dedup key, also within the batch) come back with the first reply.
    pub fn commit(&mut self, rows: &[LogRow]) -> Result<Vec<Logged>, CommitError> {
        let result = self.try_commit(rows);
        if matches!(result, Err(CommitError::Sqlite(_))) {
            // Start from a fresh connection next time rather than trust this one.
            self.conn = None;
        }
        result
    }

    fn try_commit(&mut self, rows: &[LogRow]) -> Result<Vec<Logged>, CommitError> {
        let conn = self.connection()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(busy_or)?;
        let mut out = Vec::with_capacity(rows.len());
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            let mut first = tx.prepare_cached(FIRST_ANSWER)?;
            for r in rows {
                let inserted = insert.execute(rusqlite::params![
                    r.merchant_id,
                    r.account_id,
                    r.dedup_key,
                    r.openid,
                    r.kind,
                    r.sent_at,
                    r.received_at,
                    r.body,
                    r.reply,
                    r.route
                ])?;
                out.push(match inserted {
                    1 => Logged::New(tx.last_insert_rowid()),
                    _ => first.query_row((r.account_id, &r.dedup_key), |row| {
                        Ok(Logged::Duplicate {
                            id: row.get(0)?,
                            reply: row.get(1)?,
                            received_at: row.get(2)?,
                        })
                    })?,
                });
            }
        }
        tx.commit().map_err(busy_or)?;
        Ok(out)
    }

    fn connection(&mut self) -> rusqlite::Result<&mut Connection> {
        match &mut self.conn {
            Some(conn) => Ok(conn),
            slot => Ok(slot.insert(open(&self.path)?)),
        }
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    // No CREATE: the pool made the file and its tables; a missing file is an error.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_handler(Some(wait_briefly))?;
    // The pool's settings (platform/db.rs): WAL, and a commit survives a crash of the process.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    Ok(conn)
}

/// Tries for the write lock again after a short sleep, up to `BRIEF_WAITS` times (1 ms in
/// all), before the committer goes back to waiting asynchronously. Why block at all: the
/// holder is nearly always a statement or a script on one of sqlx's threads, which shares
/// the core with this one; while this thread keeps answering callbacks, the holder waits for
/// the CPU (a whole time slice, 5–25 ms, measured), and so do the callbacks queued behind
/// this commit. Sleeping here hands the core to the holder, which is done in well under a
/// millisecond.
fn wait_briefly(attempts_so_far: i32) -> bool {
    if attempts_so_far >= BRIEF_WAITS {
        return false;
    }
    metrics::counter!("zhanggui_message_log_brief_waits_total").increment(1);
    std::thread::sleep(std::time::Duration::from_micros(100));
    true
}

const BRIEF_WAITS: i32 = 10;

fn busy_or(e: rusqlite::Error) -> CommitError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy) | Some(ErrorCode::DatabaseLocked) => CommitError::Busy,
        _ => CommitError::Sqlite(e),
    }
}
