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
//! checkpoints (automatic checkpoints off; checkpoints.rs runs them through the pool, on sqlx's
//! threads).

use std::borrow::Cow;
use std::ffi::{CString, c_int};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior, ffi};

use super::store::{self, COLUMNS, LogRow, Logged};
use crate::platform::db::Db;
use crate::platform::sqlite_vfs;

/// `OR IGNORE` rather than `ON CONFLICT (account_id, dedup_key) DO NOTHING`: the same for
/// the only unique key that can conflict (the id is ours), but a statement that may abort
/// (NOT NULL checks do, by default) makes SQLite copy every page it touches into a statement
/// journal first, inside a transaction: 4 KiB copies per row, a tenth of the commit's time.
/// Every value bound here is non-null. No `RETURNING id`: the connection's last rowid and
/// the count of rows written give the new rows' ids, read without result rows to build.
const INSERT_HEAD: &str = "INSERT OR IGNORE INTO wx_messages (merchant_id, account_id, \
     dedup_key, openid, kind, sent_at, received_at, body, reply, route) VALUES ";
/// How many rows one INSERT takes, largest first; a batch goes in as few statements as these
/// sizes allow (50 rows: 32 + 16 + 2). One statement for many rows, rather than one a row,
/// because SQLite's work for a row alone is much of a row's cost: each statement ends with
/// its own halt and opens its own cursors, so its dedup probe starts from the index's root;
/// inside one statement the cursor stays on the index's last page, where new keys (time
/// ordered) belong, and the probe starts there (BENCHMARKS.md, callback, twenty-first round).
/// Each size is prepared once, when the connection opens (`Insert`).
const STATEMENT_ROWS: [usize; 7] = [64, 32, 16, 8, 4, 2, 1];

/// INSERT_HEAD with `rows` rows of placeholders.
fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(INSERT_HEAD);
    store::push_value_rows(&mut sql, rows, false);
    sql
}

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
    conn: Option<LogConnection>,
}

/// The connection and its INSERTs, which must be finalized before it closes: fields drop in
/// this order.
struct LogConnection {
    inserts: Vec<Insert>,
    conn: Connection,
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
        let LogConnection { inserts, conn } = self.connection()?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(busy_or)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut rest = rows;
        while let Some(insert) = inserts.iter_mut().find(|i| i.rows <= rest.len()) {
            let (these, next) = rest.split_at(insert.rows);
            insert_rows(&tx, insert, these, &mut out)?;
            rest = next;
        }
        tx.commit().map_err(busy_or)?;
        Ok(out)
    }

    fn connection(&mut self) -> rusqlite::Result<&mut LogConnection> {
        match &mut self.conn {
            Some(conn) => Ok(conn),
            slot => {
                let conn = open(&self.path)?;
                let inserts = STATEMENT_ROWS
                    .iter()
                    .map(|&rows| Insert::prepare(&conn, rows))
                    .collect::<rusqlite::Result<_>>()?;
                // They keep ~150 KB (the 64-row one half of it); compiling them took more,
                // freed into the C allocator, which keeps it: the process was ~1.5 MB
                // larger after its first callback without this (BENCHMARKS.md, callback,
                // twenty-first round).
                if tokio::runtime::Handle::try_current().is_ok() {
                    crate::platform::memory::release_freed_soon();
                }
                Ok(slot.insert(LogConnection { inserts, conn }))
            }
        }
    }
}

/// Writes `rows` with `insert` (made for as many) and appends what became of each to `out`,
/// in order.
fn insert_rows(
    tx: &rusqlite::Transaction<'_>,
    insert: &mut Insert,
    rows: &[LogRow],
    out: &mut Vec<Logged>,
) -> rusqlite::Result<()> {
    let written = insert.execute(tx, rows)? as i64;
    // Rows are written in order, each with the next rowid (max + 1: the table has no
    // AUTOINCREMENT and the transaction is the only writer), so the written ones hold
    // last - written + 1 ..= last, in the order of `rows`.
    let last = tx.last_insert_rowid();
    let first_new = last - written + 1;
    if written == rows.len() as i64 {
        out.extend((first_new..=last).map(Logged::New));
        return Ok(());
    }
    // Some were logged before, or repeat a row before them: each row's key now leads to the
    // row that holds it, which is this row's own exactly when it has the next new id.
    let mut first = tx.prepare_cached(FIRST_ANSWER)?;
    let mut next_new = first_new;
    for r in rows {
        let answer: store::FirstAnswer = first.query_row((r.account_id, &r.dedup_key), |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
        out.push(if written > 0 && answer.0 == next_new {
            next_new += 1;
            Logged::New(answer.0)
        } else {
            store::duplicate_of(answer)
        });
    }
    Ok(())
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    // No CREATE: the pool made the file and its tables; a missing file is an error.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    // The pool's VFS (`platform::sqlite_vfs`): above all, this connection's WAL writes,
    // made on the callbacks' thread, write each frame in one system call, padded to its
    // block's end so that no write waits for the disk to read a block back.
    let conn = if sqlite_vfs::register() {
        Connection::open_with_flags_and_vfs(path, flags, sqlite_vfs::NAME)?
    } else {
        Connection::open_with_flags(path, flags)?
    };
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

/// One of the log's INSERTs, for `rows` rows, prepared once on the log's connection and kept
/// for as long as it is open. Not rusqlite's statement cache: it clears a statement's
/// bindings when the statement goes back, which frees the copies SQLite made of every text
/// bound to it (rusqlite binds with SQLITE_TRANSIENT), so each batch allocated and copied
/// every row's body, reply and key again. These bind the rows' own bytes (SQLITE_STATIC),
/// which outlive the statement's step, and let go of them before returning.
struct Insert {
    rows: usize,
    stmt: NonNull<ffi::sqlite3_stmt>,
}

#[allow(unsafe_code)]
// SAFETY: the statement is used only through its LogConnection, together with the connection
// it belongs to, which moves with it and is used by one thread at a time (SQLITE_OPEN_NO_MUTEX
// allows that, not concurrent use, which `&mut` rules out).
unsafe impl Send for Insert {}

/// A row's body and reply as the log keeps them (`wechat::kept`).
struct Kept<'r> {
    body: Cow<'r, str>,
    reply: Cow<'r, str>,
}

impl Insert {
    #[allow(unsafe_code)]
    fn prepare(conn: &Connection, rows: usize) -> rusqlite::Result<Insert> {
        let sql = CString::new(insert_sql(rows))?;
        let mut stmt = std::ptr::null_mut();
        // SAFETY: `conn` is open; `sql` is NUL-terminated (length -1) and outlives the call;
        // `stmt` receives the statement, which `Drop` finalizes.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                conn.handle(),
                sql.as_ptr(),
                -1,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(failure(conn, rc));
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| refused(ffi::SQLITE_MISUSE))?;
        Ok(Insert { rows, stmt })
    }

    /// Writes `rows` (exactly `self.rows` of them); how many were new.
    #[allow(unsafe_code)]
    fn execute(&mut self, conn: &Connection, rows: &[LogRow]) -> rusqlite::Result<u64> {
        if rows.len() != self.rows {
            return Err(refused(ffi::SQLITE_RANGE));
        }
        // Bodies without what the row's openid and time columns hold, and bodies and replies
        // with short tags: a text message's row is ~260 bytes shorter than written whole,
        // bytes that SQLite, the WAL and the checkpoints would otherwise copy. Every reader
        // of the log puts them back (`store::whole_body`, `wechat::reply::with_header`).
        let kept: Vec<Kept<'_>> = rows
            .iter()
            .map(|r| Kept {
                body: wechat::kept::message(&r.body, &r.openid, r.sent_at / 1000),
                reply: wechat::kept::markup(&r.reply),
            })
            .collect();
        let result = self.bind_and_step(conn, rows, &kept);
        // SAFETY: the statement is alive; after the reset and with the bindings cleared it
        // holds no pointer into `rows` or `kept`.
        unsafe {
            ffi::sqlite3_reset(self.stmt.as_ptr());
            ffi::sqlite3_clear_bindings(self.stmt.as_ptr());
        }
        result
    }

    #[allow(unsafe_code)]
    fn bind_and_step(
        &mut self,
        conn: &Connection,
        rows: &[LogRow],
        kept: &[Kept<'_>],
    ) -> rusqlite::Result<u64> {
        let stmt = self.stmt.as_ptr();
        for (i, (r, kept)) in rows.iter().zip(kept).enumerate() {
            let at = i * COLUMNS;
            let ints = [
                (at + 1, r.merchant_id),
                (at + 2, r.account_id),
                (at + 6, r.sent_at),
                (at + 7, r.received_at),
            ];
            let texts = [
                (at + 3, r.dedup_key.as_str()),
                (at + 4, r.openid.as_str()),
                (at + 5, r.kind.as_str()),
                (at + 8, kept.body.as_ref()),
                (at + 9, kept.reply.as_ref()),
                (at + 10, r.route.as_str()),
            ];
            for (column, value) in ints {
                let column = parameter(column)?;
                // SAFETY: the statement is alive and `column` is one of its parameters.
                let rc = unsafe { ffi::sqlite3_bind_int64(stmt, column, value) };
                ok(conn, rc)?;
            }
            for (column, value) in texts {
                let column = parameter(column)?;
                let len = c_int::try_from(value.len()).map_err(|_| refused(ffi::SQLITE_TOOBIG))?;
                // An empty text still needs a pointer SQLite may keep: a static one.
                let bytes = if value.is_empty() { "\0" } else { value };
                // SAFETY: the statement is alive; SQLITE_STATIC lets SQLite read the bytes
                // without copying them until the statement is reset and its bindings
                // cleared (`execute`), while `rows` and `kept` are still borrowed.
                let rc = unsafe {
                    ffi::sqlite3_bind_text(
                        stmt,
                        column,
                        bytes.as_ptr().cast(),
                        len,
                        ffi::SQLITE_STATIC(),
                    )
                };
                ok(conn, rc)?;
            }
        }
        // SAFETY: the statement is alive and every parameter is bound.
        let rc = unsafe { ffi::sqlite3_step(stmt) };
        if rc != ffi::SQLITE_DONE {
            return Err(failure(conn, rc));
        }
        Ok(conn.changes())
    }
}

impl Drop for Insert {
    #[allow(unsafe_code)]
    fn drop(&mut self) {
        // SAFETY: the statement was prepared on a connection still open (LogConnection drops
        // its inserts first) and is finalized once, here.
        unsafe {
            ffi::sqlite3_finalize(self.stmt.as_ptr());
        }
    }
}

fn parameter(column: usize) -> rusqlite::Result<c_int> {
    c_int::try_from(column).map_err(|_| refused(ffi::SQLITE_RANGE))
}

/// An error of ours, in SQLite's terms; the connection's message would be about something else.
fn refused(rc: c_int) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), None)
}

fn ok(conn: &Connection, rc: c_int) -> rusqlite::Result<()> {
    match rc {
        ffi::SQLITE_OK => Ok(()),
        rc => Err(failure(conn, rc)),
    }
}

/// The error `rc` with the connection's message for it, as rusqlite reports its own.
#[allow(unsafe_code)]
fn failure(conn: &Connection, rc: c_int) -> rusqlite::Error {
    // SAFETY: `conn` is open; sqlite3_errmsg returns a NUL-terminated string owned by the
    // connection, copied here before anything else runs on it.
    let message = unsafe {
        let text = ffi::sqlite3_errmsg(conn.handle());
        (!text.is_null()).then(|| {
            std::ffi::CStr::from_ptr(text)
                .to_string_lossy()
                .into_owned()
        })
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), message)
}
