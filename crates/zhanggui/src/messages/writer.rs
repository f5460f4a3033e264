//! Group commit for the message log: callbacks hand their rows to one committer task, which
//! writes everything queued since its last commit in a single transaction and answers each
//! caller when that transaction is durable. Many concurrent callbacks thus share one commit
//! (perf-notes.md: batches of ~30 rows instead of a transaction each).
//!
//! On a SQLite file the committer writes through its own connection, in place on the
//! runtime's thread (sqlite_log.rs says why); on PostgreSQL (and in-memory SQLite) through
//! the pool.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::checkpoints::{self, CommitHold, WalLimit};
use super::sqlite_log::{CommitError, SqliteLog};
use super::store::{self, LogRow, Logged};
use super::tap::{LogTap, Tapped};
use crate::platform::db::{Db, Dialect};

/// The most rows one transaction takes; more wait for the next.
const MAX_BATCH: usize = 256;
/// Callbacks waiting for a commit beyond this are told to back off (WeChat retries).
const QUEUE_DEPTH: usize = 8192;
/// How long the committer keeps asking for SQLite's write lock while another connection
/// holds it, before failing the batch (callbacks give up after 3 s and WeChat retries).
const LOCK_BUDGET: Duration = Duration::from_secs(2);
/// Batches committing at once through the pool on PostgreSQL (see `pool_loop`).
const POOL_IN_FLIGHT: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("the message log is not accepting writes (shutting down)")]
    Closed,
    #[error("the message log could not be written: {0}")]
    Database(String),
    #[error("the message log was not written within the caller's budget")]
    OverBudget,
}

struct Pending {
    row: LogRow,
    done: oneshot::Sender<Result<Logged, LogError>>,
}

/// A handle to this instance's committer. Cheap to clone.
#[derive(Clone, Debug)]
pub struct LogWriter {
    queue: mpsc::Sender<Pending>,
    tap: Option<Arc<LogTap>>,
    turns: Arc<Semaphore>,
}

/// The right of one of the log's background streams (a projection's pass, a checkpoint) to
/// run now; the next one waits until it is dropped.
pub type BackgroundTurn = Option<OwnedSemaphorePermit>;

impl LogWriter {
    /// Starts the committer on the current runtime. It ends when every handle is dropped.
    pub fn start(db: Db) -> LogWriter {
        LogWriter::start_with(db, WalLimit::default())
    }

    /// [`LogWriter::start`], the WAL of a SQLite file made to start over past `limit`.
    pub fn start_with(db: Db, limit: WalLimit) -> LogWriter {
        let (queue, rx) = mpsc::channel(QUEUE_DEPTH);
        let turns = Arc::new(Semaphore::new(1));
        let tap = match SqliteLog::for_db(&db) {
            Some(log) => {
                let committed = Arc::new(AtomicU64::new(0));
                let tap = Arc::new(LogTap::new());
                let hold = Arc::new(CommitHold::default());
                tokio::spawn(checkpoints::run(
                    db,
                    Arc::downgrade(&committed),
                    turns.clone(),
                    hold.clone(),
                    limit,
                ));
                let committer = Committer {
                    log,
                    committed,
                    tap: tap.clone(),
                    turns: turns.clone(),
                    hold,
                    limit,
                };
                tokio::spawn(committer.run(rx));
                Some(tap)
            }
            // Through the pool ids are not known to be consecutive (PostgreSQL hands them out
            // before commit), so projections read the database.
            None => {
                tokio::spawn(pool_loop(db, rx));
                None
            }
        };
        LogWriter { queue, tap, turns }
    }

    /// Waits for the turn of one background stream over the log. The projections' passes
    /// and the checkpoints each run a few milliseconds of database work on threads that
    /// share the callbacks' core; they used to start together (their timers had the same
    /// period and phase) and the callbacks then got a fraction of the core for as long as
    /// they all ran. One at a time, the callbacks get at least half of it
    /// (BENCHMARKS.md, callback, eleventh round).
    pub async fn background_turn(&self) -> BackgroundTurn {
        // The semaphore is never closed; were it, the stream would just run unpaced.
        self.turns.clone().acquire_owned().await.ok()
    }

    /// Runs `step` (one step of the background stream `stream`) in its turn, giving the
    /// turn back when it is done. How long it held the turn goes to
    /// `zhanggui_log_background_turn_seconds`: every other stream waited that long.
    pub async fn in_turn<T>(
        &self,
        stream: &'static str,
        step: impl std::future::Future<Output = T>,
    ) -> T {
        let _turn = self.background_turn().await;
        let started = Instant::now();
        let done = step.await;
        record_turn(stream, started);
        done
    }

    /// The rows this committer wrote lately, for projections to read instead of the
    /// database (tap.rs); `None` when it writes through the pool.
    pub fn tap(&self) -> Option<&LogTap> {
        self.tap.as_deref()
    }

    /// [`LogWriter::append`], giving up after `budget` ([`LogError::OverBudget`]) when the
    /// log is written through the pool (PostgreSQL): a statement there can wait on another
    /// instance's transaction. A SQLite file's committer bounds its own waits (SQLite's lock
    /// for its lock budget, then the batch fails; a full queue drains at tens of thousands
    /// of rows a second), so its callers spare a timer's registration and removal (~0.08 µs
    /// a callback, BENCHMARKS.md, callback, twenty-sixth round).
    pub async fn append_within(&self, row: LogRow, budget: Duration) -> Result<Logged, LogError> {
        // A tap exactly when a SQLite file's committer writes (`start`).
        if self.tap.is_some() {
            return self.append(row).await;
        }
        tokio::time::timeout(budget, self.append(row))
            .await
            .unwrap_or(Err(LogError::OverBudget))
    }

    /// Appends one row and waits until it is committed (or found to be a duplicate).
    pub async fn append(&self, row: LogRow) -> Result<Logged, LogError> {
        let (done, wait) = oneshot::channel();
        self.queue
            .send(Pending { row, done })
            .await
            .map_err(|_| LogError::Closed)?;
        wait.await.map_err(|_| LogError::Closed)?
    }
}

/// The rows of one commit and who waits for them.
struct Batch {
    rows: Vec<LogRow>,
    waiting: Vec<oneshot::Sender<Result<Logged, LogError>>>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            rows: Vec::new(),
            waiting: Vec::new(),
        }
    }

    /// Waits for a row, then takes every row queued meanwhile; false once every handle is gone.
    async fn fill(&mut self, rx: &mut mpsc::Receiver<Pending>) -> bool {
        let Some(first) = rx.recv().await else {
            return false;
        };
        self.take(first);
        // The first row's sender woke us, and tokio's multi-threaded runtime runs a task
        // woken that way right after its waker: the other callbacks ready to run would each
        // get a commit of their own. Yielding once lets them all queue their rows first (on
        // the current-thread runtime, which queues woken tasks last, it costs one turn).
        tokio::task::yield_now().await;
        // Rows came meanwhile: the callbacks are busy, and one more turn of theirs makes the
        // batch larger still. Every commit rewrites a few pages whatever its size (the last,
        // half-full page of the table and of the dedup index, their parents, the header), so
        // at ~50 rows instead of ~30 the log's WAL writes a fifth fewer pages a row
        // (BENCHMARKS.md, callback, seventeenth round). When only one callback came, it is
        // committed at once.
        if !rx.is_empty() {
            tokio::task::yield_now().await;
        }
        while self.rows.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => self.take(p),
                Err(_) => break,
            }
        }
        metrics::histogram!("zhanggui_message_log_batch_rows").record(self.rows.len() as f64);
        true
    }

    fn take(&mut self, p: Pending) {
        self.rows.push(p.row);
        self.waiting.push(p.done);
    }

    fn answer(&mut self, result: Result<Vec<Logged>, String>) {
        self.answer_and_tap(result, None);
    }

    /// Answers the callers, then hands the new rows (with their ids) to `tap`.
    fn answer_and_tap(&mut self, result: Result<Vec<Logged>, String>, tap: Option<&LogTap>) {
        match result {
            Ok(results) => {
                let mut new = Vec::with_capacity(if tap.is_some() { results.len() } else { 0 });
                for ((done, r), row) in self.waiting.drain(..).zip(results).zip(self.rows.drain(..))
                {
                    if let (Logged::New(id), Some(_)) = (&r, tap) {
                        new.push(Tapped { id: *id, row });
                    }
                    let _ = done.send(Ok(r));
                }
                if let Some(tap) = tap {
                    tap.publish(new);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, rows = self.rows.len(), "message log commit failed");
                for done in self.waiting.drain(..) {
                    let _ = done.send(Err(LogError::Database(e.clone())));
                }
            }
        }
        self.rows.clear();
    }
}

/// Through the pool, several batches may be in flight: on PostgreSQL each one waits for the
/// server to flush its WAL, and the next batch gathers and commits meanwhile (the server
/// flushes concurrent commits together). Dedup holds across them as across instances:
/// `ON CONFLICT` waits for a conflicting row's transaction to end.
async fn pool_loop(db: Db, mut rx: mpsc::Receiver<Pending>) {
    let in_flight = match db.dialect() {
        Dialect::Postgres => POOL_IN_FLIGHT,
        Dialect::Sqlite => 1,
    };
    let permits = Arc::new(Semaphore::new(in_flight));
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Batch::new();
        if !batch.fill(&mut rx).await {
            return;
        }
        let db = db.clone();
        tokio::spawn(async move {
            let result = store::append_batch(&db, &batch.rows)
                .await
                .map_err(|e| e.to_string());
            batch.answer(result);
            drop(permit);
        });
    }
}

/// The committer of a SQLite file's log, on its own connection.
struct Committer {
    log: SqliteLog,
    /// Commits so far, for the checkpoints' task.
    committed: Arc<AtomicU64>,
    tap: Arc<LogTap>,
    turns: Arc<Semaphore>,
    hold: Arc<CommitHold>,
    limit: WalLimit,
}

impl Committer {
    async fn run(mut self, mut rx: mpsc::Receiver<Pending>) {
        let mut batch = Batch::new();
        while batch.fill(&mut rx).await {
            if let Some(copied) = self.hold.take() {
                checkpoints::hold_commit(copied, self.limit).await;
            }
            let result = commit_when_unlocked(&mut self.log, &batch.rows).await;
            if result.is_ok() {
                self.committed.fetch_add(1, Ordering::Relaxed);
            }
            batch.answer_and_tap(result, Some(&self.tap));
            offer_the_core_to_background_work(&self.turns);
        }
    }
}

/// While a background step holds the turn, its statement may be waiting for this core on
/// one of sqlx's threads; the runtime's thread, never idle under load, would keep the core
/// until the kernel's next tick and then lose it for a whole tick (4 ms at 250 Hz). Offered
/// after each commit, the core goes to the statement for one short stretch (the pool's
/// progress handler offers it back, `platform::db`), and the two interleave finely.
fn offer_the_core_to_background_work(turns: &Semaphore) {
    if turns.available_permits() == 0 {
        std::thread::yield_now();
    }
}

/// Commits on this thread; while another connection (the projector, a job claim, the
/// console) holds the write lock, waits without blocking the thread and tries again.
async fn commit_when_unlocked(log: &mut SqliteLog, rows: &[LogRow]) -> Result<Vec<Logged>, String> {
    let started = Instant::now();
    let mut attempts = 0u32;
    loop {
        match log.commit(rows) {
            Err(CommitError::Busy) if started.elapsed() < LOCK_BUDGET => {
                attempts += 1;
                if attempts == 1 {
                    // The holder may be a task of this runtime between two statements.
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            other => {
                if attempts > 0 {
                    metrics::counter!("zhanggui_message_log_lock_waits_total").increment(1);
                    // The callbacks of this batch, and those queued behind it, waited this
                    // long for another connection's write: the tail of the callback's latency.
                    metrics::histogram!("zhanggui_message_log_lock_wait_seconds")
                        .record(started.elapsed().as_secs_f64());
                }
                return other.map_err(|e| e.to_string());
            }
        }
    }
}

/// How long a background stream held the log's turn, from `started`.
pub(super) fn record_turn(stream: &'static str, started: Instant) {
    metrics::histogram!("zhanggui_log_background_turn_seconds", "stream" => stream)
        .record(started.elapsed().as_secs_f64());
}
