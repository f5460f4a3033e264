//! Durable background jobs, kept in the same database as everything else (DESIGN.md).
//!
//! A capability enqueues a job with [`enqueue`] inside the transaction of the change that needs
//! it, and registers a handler for the job's kind in a [`JobRegistry`]. [`Workers::start`]
//! runs tokio tasks that claim due jobs under a lease, run their handler while heartbeating
//! the lease, and record the outcome: done, retried later with backoff, or dead (a permanent
//! error, an unknown kind or no attempts left). Any number of instances may share the database;
//! a job runs once unless a worker stalls past its lease, so handlers must be idempotent.
//!
//! ```ignore
//! let mut registry = JobRegistry::new();
//! registry.register("followers.sync", |ctx: JobContext| async move {
//!     let input: SyncInput = ctx.payload_as()?;
//!     followers::sync(&ctx.db, input).await.map_err(JobError::retry)
//! });
//! let workers = Workers::start(db.clone(), registry, clock.clone(), WorkerConfig::default());
//! // ... in a request:
//! let mut tx = db.begin().await?;
//! let id = jobs::enqueue(&mut tx, clock.now_ms(), NewJob::new("followers.sync", payload)).await?;
//! tx.commit().await?;
//! waker.wake();
//! // ... at exit:
//! workers.shutdown().await;
//! ```

pub mod model;
pub mod routes;
pub mod store;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::{Notify, watch};
use tokio::task::{JoinError, JoinHandle};
use tokio::time::{Instant, MissedTickBehavior};

pub use model::{AfterFailure, DEFAULT_MAX_ATTEMPTS, JobStatus, NewJob, backoff_ms};
pub use store::{ClaimedJob, Job, JobFilter, enqueue, enqueue_in};

use crate::platform::clock::{Clock, Millis};
use crate::platform::db::Db;

/// A boxed, sendable future, as handlers return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// What runs a job of one kind.
pub type JobHandler = Arc<dyn Fn(JobContext) -> BoxFuture<Result<(), JobError>> + Send + Sync>;

/// What a handler gets: the job and the means to do its work.
#[derive(Clone, Debug)]
pub struct JobContext {
    pub db: Db,
    pub id: i64,
    pub kind: String,
    pub merchant_id: Option<i64>,
    /// This attempt's number, from 1.
    pub attempt: i64,
    pub max_attempts: i64,
    pub payload: serde_json::Value,
    pub clock: Clock,
}

impl JobContext {
    /// The payload as `T`; a payload that does not fit is a permanent error (retrying cannot
    /// fix it).
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        T::deserialize(&self.payload)
            .map_err(|e| JobError::Permanent(format!("invalid payload for {}: {e}", self.kind)))
    }

    /// True when a retryable failure of this attempt will bury the job.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// Why a handler failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Worth trying again later (network, busy database, WeChat rate limit ...).
    #[error("{0}")]
    Retry(String),
    /// Will never succeed (bad input, deleted account ...): the job goes dead at once.
    #[error("{0}")]
    Permanent(String),
}

impl JobError {
    pub fn retry(e: impl fmt::Display) -> JobError {
        JobError::Retry(e.to_string())
    }

    pub fn permanent(e: impl fmt::Display) -> JobError {
        JobError::Permanent(e.to_string())
    }
}

impl From<sqlx::Error> for JobError {
    fn from(e: sqlx::Error) -> JobError {
        JobError::Retry(format!("database: {e}"))
    }
}

/// Handlers by job kind.
#[derive(Clone, Default)]
pub struct JobRegistry {
    handlers: HashMap<String, JobHandler>,
}

impl JobRegistry {
    pub fn new() -> JobRegistry {
        JobRegistry::default()
    }

    /// Sets the handler for `kind`, replacing any earlier one.
    pub fn register<F, Fut>(&mut self, kind: impl Into<String>, handler: F) -> &mut JobRegistry
    where
        F: Fn(JobContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), JobError>> + Send + 'static,
    {
        let handler: JobHandler = Arc::new(move |ctx| Box::pin(handler(ctx)));
        self.handlers.insert(kind.into(), handler);
        self
    }

    pub fn get(&self, kind: &str) -> Option<&JobHandler> {
        self.handlers.get(kind)
    }

    /// The registered kinds, sorted.
    pub fn kinds(&self) -> Vec<&str> {
        let mut kinds: Vec<&str> = self.handlers.keys().map(String::as_str).collect();
        kinds.sort_unstable();
        kinds
    }
}

impl fmt::Debug for JobRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JobRegistry")
            .field("kinds", &self.kinds())
            .finish()
    }
}

/// How this instance runs jobs.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Worker tasks, each running one job at a time.
    pub workers: usize,
    /// How long a claim holds a job; heartbeats renew it every third of this. A job whose
    /// worker died is picked up again once the lease runs out.
    pub lease_ms: i64,
    /// How often an idle worker looks for due jobs (a [`JobWaker`] wakes it sooner).
    pub poll_ms: u64,
    /// Names this instance in `jobs.locked_by` and in logs; unique per process.
    pub instance_id: String,
    /// An attempt running longer than this is abandoned as a retryable failure.
    pub job_timeout_ms: u64,
    /// Done jobs are deleted this long after they finished.
    pub keep_done_ms: i64,
    /// How often this instance purges old done jobs.
    pub purge_every_ms: u64,
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig {
            workers: 2,
            lease_ms: 30_000,
            poll_ms: 200,
            instance_id: default_instance_id(),
            job_timeout_ms: 10 * 60 * 1_000,
            keep_done_ms: 7 * 24 * 3_600 * 1_000,
            purge_every_ms: 3_600 * 1_000,
        }
    }
}

/// `pid<process id>-<random>`: unique enough to tell instances (and restarts) apart.
pub fn default_instance_id() -> String {
    format!("pid{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// Wakes this instance's idle workers, e.g. right after committing an enqueue. Cheap to clone;
/// keep one in the application state.
#[derive(Clone, Debug, Default)]
pub struct JobWaker(Arc<Notify>);

impl JobWaker {
    pub fn wake(&self) {
        // Wake every worker waiting now, and leave a permit for one that is about to wait.
        self.0.notify_waiters();
        self.0.notify_one();
    }
}

/// Adds `job` in a transaction of its own, for work that no business change goes with.
pub async fn enqueue_alone(db: &Db, now: Millis, job: NewJob) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let id = enqueue(&mut tx, now, job).await?;
    tx.commit().await?;
    Ok(id)
}

/// Sets the gauge `zhanggui_jobs{status}` from the table, for `/metrics`.
pub async fn record_queue_gauges(db: &Db) -> Result<(), sqlx::Error> {
    for (status, n) in store::counts_by_status(db).await? {
        metrics::gauge!("zhanggui_jobs", "status" => status.as_str()).set(n as f64);
    }
    Ok(())
}

/// Starts the job workers of this instance.
pub struct Workers;

impl Workers {
    /// Spawns `config.workers` worker tasks and one purge task on the current tokio runtime.
    pub fn start(
        db: Db,
        registry: JobRegistry,
        clock: Clock,
        config: WorkerConfig,
    ) -> WorkerHandle {
        let (stop_tx, stop_rx) = watch::channel(false);
        let waker = JobWaker::default();
        let shared = Arc::new(Shared {
            db,
            registry,
            clock,
            config,
            waker: waker.clone(),
        });
        let mut tasks = Vec::with_capacity(shared.config.workers + 1);
        for n in 0..shared.config.workers {
            let worker_id = format!("{}#{n}", shared.config.instance_id);
            tasks.push(tokio::spawn(work(
                shared.clone(),
                worker_id,
                stop_rx.clone(),
            )));
        }
        tasks.push(tokio::spawn(purge(shared.clone(), stop_rx)));
        tracing::info!(
            instance = %shared.config.instance_id,
            workers = shared.config.workers,
            kinds = ?shared.registry.kinds(),
            "job workers started"
        );
        WorkerHandle {
            instance_id: shared.config.instance_id.clone(),
            waker,
            stop: stop_tx,
            tasks,
        }
    }
}

/// The running workers of this instance. Dropping it asks them to stop without waiting.
#[must_use = "dropping the handle stops the workers"]
pub struct WorkerHandle {
    instance_id: String,
    waker: JobWaker,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl WorkerHandle {
    /// Wakes idle workers now instead of at their next poll.
    pub fn notify(&self) {
        self.waker.wake();
    }

    /// A waker to keep elsewhere (application state), outliving borrows of the handle.
    pub fn waker(&self) -> JobWaker {
        self.waker.clone()
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Stops taking jobs, lets each worker finish (and record) the job it is running, and
    /// returns when all have stopped. Bounded by `job_timeout_ms`; wrap it in a timeout to
    /// stop sooner.
    pub async fn shutdown(self) {
        let WorkerHandle {
            instance_id,
            stop,
            tasks,
            ..
        } = self;
        stop.send_replace(true);
        for task in tasks {
            if let Err(e) = task.await {
                tracing::error!(instance = %instance_id, error = %e, "job worker ended badly");
            }
        }
        tracing::info!(instance = %instance_id, "job workers stopped");
    }

    /// Stops at once, abandoning running jobs mid-way as a crash would: their leases run out
    /// and other workers take them over. For tests and emergencies.
    pub fn abort(self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

struct Shared {
    db: Db,
    registry: JobRegistry,
    clock: Clock,
    config: WorkerConfig,
    waker: JobWaker,
}

/// Aborts the task when dropped, so a worker that is itself aborted takes its handler with it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One worker: claim, run, record, until told to stop.
async fn work(w: Arc<Shared>, worker_id: String, mut stop: watch::Receiver<bool>) {
    let poll = Duration::from_millis(w.config.poll_ms.max(1));
    let mut idle = poll;
    loop {
        if *stop.borrow() {
            break;
        }
        let now = w.clock.now_ms();
        match store::claim(&w.db, &worker_id, now, w.config.lease_ms, 1).await {
            Ok(jobs) if !jobs.is_empty() => {
                idle = poll;
                for job in jobs {
                    run(&w, &worker_id, job).await;
                }
                continue;
            }
            Ok(_) => idle = poll,
            Err(e) => {
                tracing::warn!(worker = %worker_id, error = %e, "claiming jobs failed");
                // Back off while the database is unwell, up to a few seconds.
                idle = (idle * 2).min(Duration::from_secs(5));
            }
        }
        tokio::select! {
            _ = w.waker.0.notified() => {}
            _ = tokio::time::sleep(idle) => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    break; // the handle is gone
                }
            }
        }
    }
}

/// Runs one claimed job and records its outcome, fenced on this worker's claim.
async fn run(w: &Shared, worker_id: &str, job: ClaimedJob) {
    let started = Instant::now();
    let result = execute(w, worker_id, &job).await;
    metrics::histogram!("zhanggui_job_duration_seconds", "kind" => job.kind.clone())
        .record(started.elapsed().as_secs_f64());

    let now = w.clock.now_ms();
    let (outcome, recorded) = match &result {
        Ok(()) => (
            "done",
            persist(|| store::complete(&w.db, job.id, worker_id, job.attempts, now)).await,
        ),
        Err(e) => {
            let permanent = matches!(e, JobError::Permanent(_));
            let then = model::after_failure(job.id, job.attempts, job.max_attempts, permanent, now);
            let message = e.to_string();
            let recorded = persist(|| {
                store::fail(&w.db, job.id, worker_id, job.attempts, now, &message, then)
            })
            .await;
            match then {
                AfterFailure::RetryAt(at) => {
                    tracing::warn!(
                        job = job.id, kind = %job.kind, attempt = job.attempts,
                        retry_in_ms = at - now, error = %message, "job failed; will retry"
                    );
                    ("retry", recorded)
                }
                AfterFailure::Dead => {
                    tracing::error!(
                        job = job.id, kind = %job.kind, attempt = job.attempts,
                        permanent, error = %message, "job is dead"
                    );
                    ("dead", recorded)
                }
            }
        }
    };
    let outcome = match recorded {
        Ok(true) => {
            if outcome == "done" {
                tracing::debug!(job = job.id, kind = %job.kind, attempt = job.attempts, "job done");
            }
            outcome
        }
        Ok(false) => {
            tracing::warn!(
                job = job.id, kind = %job.kind, attempt = job.attempts, worker = %worker_id,
                "lost the job's lease to another worker; this attempt's outcome was discarded"
            );
            "lost"
        }
        Err(e) => {
            tracing::error!(
                job = job.id, kind = %job.kind, attempt = job.attempts, error = %e,
                "could not record the job's outcome; it will run again after its lease"
            );
            "unrecorded"
        }
    };
    metrics::counter!("zhanggui_jobs_total", "kind" => job.kind, "outcome" => outcome).increment(1);
}

/// Runs the handler in a task of its own (so a panic is caught), renewing the lease meanwhile.
async fn execute(w: &Shared, worker_id: &str, job: &ClaimedJob) -> Result<(), JobError> {
    let Some(handler) = w.registry.get(&job.kind).cloned() else {
        return Err(JobError::Permanent(format!(
            "no handler is registered for job kind {:?}",
            job.kind
        )));
    };
    let payload: serde_json::Value = serde_json::from_str(&job.payload)
        .map_err(|e| JobError::Permanent(format!("payload is not valid JSON: {e}")))?;
    let ctx = JobContext {
        db: w.db.clone(),
        id: job.id,
        kind: job.kind.clone(),
        merchant_id: job.merchant_id,
        attempt: job.attempts,
        max_attempts: job.max_attempts,
        payload,
        clock: w.clock.clone(),
    };
    let mut task = AbortOnDrop(tokio::spawn(async move { handler(ctx).await }));

    let lease_ms = w.config.lease_ms.max(3);
    let every = Duration::from_millis(u64::try_from(lease_ms / 3).unwrap_or(1).max(1));
    let mut heartbeat = tokio::time::interval_at(Instant::now() + every, every);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let deadline = tokio::time::sleep(Duration::from_millis(w.config.job_timeout_ms.max(1)));
    tokio::pin!(deadline);
    let mut owned = true;
    loop {
        tokio::select! {
            joined = &mut task.0 => return joined.unwrap_or_else(|e| Err(join_error(e))),
            _ = &mut deadline => {
                return Err(JobError::Retry(format!(
                    "timed out after {} ms", w.config.job_timeout_ms
                )));
            }
            _ = heartbeat.tick(), if owned => {
                let now = w.clock.now_ms();
                let until = now.saturating_add(lease_ms);
                match store::extend_lease(&w.db, job.id, worker_id, job.attempts, now, until).await {
                    Ok(true) => {}
                    Ok(false) => {
                        owned = false;
                        tracing::warn!(
                            job = job.id, kind = %job.kind, worker = %worker_id,
                            "lease lost while running; the outcome will be discarded"
                        );
                    }
                    Err(e) => tracing::warn!(job = job.id, error = %e, "renewing the lease failed"),
                }
            }
        }
    }
}

fn join_error(e: JoinError) -> JobError {
    if e.is_panic() {
        let panic = e.into_panic();
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".to_string());
        JobError::Retry(format!("handler panicked: {message}"))
    } else {
        JobError::Retry(format!("handler task ended: {e}"))
    }
}

/// Records an outcome, trying again briefly if the database hiccups: an unrecorded outcome
/// means running the job again after its lease.
async fn persist<F, Fut>(mut write: F) -> Result<bool, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, sqlx::Error>>,
{
    let mut delay = Duration::from_millis(100);
    for _ in 0..2 {
        match write().await {
            Ok(owned) => return Ok(owned),
            Err(e) => {
                tracing::warn!(error = %e, "recording a job outcome failed; trying again");
                tokio::time::sleep(delay).await;
                delay *= 4;
            }
        }
    }
    write().await
}

/// Deletes old done jobs now and then.
async fn purge(w: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let every = Duration::from_millis(w.config.purge_every_ms.max(1_000));
    // A first pass soon after start, so frequent restarts do not postpone it forever.
    let mut wait = every.min(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
                continue;
            }
        }
        wait = every;
        let cutoff = w.clock.now_ms().saturating_sub(w.config.keep_done_ms);
        match purge_done_before(&w.db, cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "purged old done jobs"),
            Err(e) => tracing::warn!(error = %e, "purging old done jobs failed"),
        }
    }
}

/// Deletes every done job that finished before `cutoff`, in batches; returns how many went.
pub async fn purge_done_before(db: &Db, cutoff: Millis) -> Result<u64, sqlx::Error> {
    const BATCH: i64 = 500;
    let mut total = 0;
    loop {
        let n = store::purge_done_before(db, cutoff, BATCH).await?;
        total += n;
        if n < BATCH as u64 {
            return Ok(total);
        }
    }
}
