//! How far the log is settled: the id at or below which every row is committed or never will
//! be. A projection reads no further, so that its cursor never steps over a row still being
//! committed.
//!
//! SQLite commits one writer at a time, in id order: every committed row is settled.
//! PostgreSQL gives a row its id (the identity's sequence) while the INSERT runs, before the
//! commit; with batches committing side by side (writer.rs: several in flight, and other
//! instances) a row may become visible after a higher id has. A projection that read up to
//! that higher id and moved its cursor there would never see the row.
//!
//! What is settled, then: read the sequence's last value S, then which transactions hold
//! the lock an INSERT takes on `wx_messages`. Every INSERT takes it before it takes an id,
//! and lets go of it only after its commit is visible, so a row with an id up to S that is
//! not visible yet belongs to one of those transactions. Once none of them holds the lock
//! any more, every id up to S is committed or given up (a conflicting key, a rollback). A
//! batch is one statement, so that wait is a few milliseconds.
//!
//! This replaced a wait on the rows' arrival time (rows received less than a second ago were
//! left for the next pass). It kept every projection 1.2–1.6 s behind a saturated log
//! (BENCHMARKS.md, callback, thirty-sixth round), and a row whose commit took longer than a
//! second (a stalled flush) would have been stepped over for good.

use std::time::Duration;

use crate::platform::db::Db;

/// Up to where a projection may read the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Every committed row (SQLite).
    Everything,
    /// Rows with ids up to this one.
    UpTo(i64),
}

/// The sequence's last value: the highest id any INSERT has taken (0 before the first).
/// The identity's sequence caches one value at a time (the default), so no session holds
/// ids it took before this was read.
const LAST_ID_TAKEN: &str = "SELECT COALESCE(pg_sequence_last_value(\
     pg_get_serial_sequence('wx_messages', 'id')::regclass), 0)";

/// The transactions of other sessions that hold the lock every INSERT into `wx_messages`
/// takes (ROW EXCLUSIVE; fast-path locks are listed too). Not any lock but a reader's:
/// autovacuum holds SHARE UPDATE EXCLUSIVE on the table for as long as it works on it, and
/// the projections would wait for it.
const WRITERS: &str = "SELECT virtualtransaction FROM pg_locks \
     WHERE locktype = 'relation' AND relation = 'wx_messages'::regclass \
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()";

/// The first pause before the writers are looked at again; each next pause is twice as long.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// Past this pause a writer is taken to be a long one: nothing is settled for now, and the
/// projection tries again at its next pass (the pauses come to ~127 ms before that).
const LONGEST_PAUSE: Duration = Duration::from_millis(64);

/// How far the log is settled now.
pub async fn settled(db: &Db) -> Result<Settled, sqlx::Error> {
    let Db::Postgres(pool) = db else {
        return Ok(Settled::Everything);
    };
    // The sequence first: a transaction that took an id up to `last` holds its lock from
    // before then, so the writers read next include it unless it has ended.
    let last: i64 = sqlx::query_scalar(LAST_ID_TAKEN).fetch_one(pool).await?;
    let mut writing: Vec<String> = sqlx::query_scalar(WRITERS).fetch_all(pool).await?;
    let mut pause = FIRST_PAUSE;
    while !writing.is_empty() {
        if pause > LONGEST_PAUSE {
            return Ok(Settled::UpTo(0));
        }
        tokio::time::sleep(pause).await;
        pause *= 2;
        let still: Vec<String> = sqlx::query_scalar(WRITERS).fetch_all(pool).await?;
        writing.retain(|w| still.contains(w));
    }
    Ok(Settled::UpTo(last))
}
