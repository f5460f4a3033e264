//! The job queue's SQL, written once and run on SQLite and PostgreSQL.
//!
//! Every state change a worker makes is fenced on `(id, locked_by, attempts, status =
//! 'running')`: a worker whose lease expired and whose job was claimed again (which bumps
//! `attempts`) can no longer complete, fail or extend it, and learns so from the `false` it
//! gets back.

use serde::Serialize;

use super::model::{AfterFailure, JobStatus, NewJob, clip_error};
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Script, Tx, Value};
use crate::{on_pool, on_tx};

/// A job as the console shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Job {
    pub id: i64,
    pub merchant_id: Option<i64>,
    pub kind: String,
    /// The payload as stored (JSON text).
    pub payload: String,
    pub status: JobStatus,
    /// Attempts started so far (a claim counts as an attempt).
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: Millis,
    pub locked_by: Option<String>,
    pub lease_until: Option<Millis>,
    pub last_error: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub finished_at: Option<Millis>,
}

/// A job a worker has just claimed: it holds the lease until `lease_until`.
#[derive(Clone, Debug, PartialEq, sqlx::FromRow)]
pub struct ClaimedJob {
    pub id: i64,
    pub merchant_id: Option<i64>,
    pub kind: String,
    /// The payload as stored (JSON text).
    pub payload: String,
    /// This attempt's number, starting at 1; the fence for [`complete`], [`fail`] and
    /// [`extend_lease`].
    pub attempts: i64,
    pub max_attempts: i64,
    pub lease_until: Millis,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    merchant_id: Option<i64>,
    kind: String,
    payload: String,
    status: String,
    attempts: i64,
    max_attempts: i64,
    run_at: i64,
    locked_by: Option<String>,
    lease_until: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
}

impl TryFrom<JobRow> for Job {
    type Error = sqlx::Error;

    fn try_from(r: JobRow) -> Result<Job, sqlx::Error> {
        let status = JobStatus::parse(&r.status).ok_or_else(|| bad_status(&r.status))?;
        Ok(Job {
            id: r.id,
            merchant_id: r.merchant_id,
            kind: r.kind,
            payload: r.payload,
            status,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            run_at: r.run_at,
            locked_by: r.locked_by,
            lease_until: r.lease_until,
            last_error: r.last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
            finished_at: r.finished_at,
        })
    }
}

fn bad_status(s: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown job status {s:?}").into())
}

const JOB_COLUMNS: &str = "id, merchant_id, kind, payload, status, attempts, max_attempts, \
     run_at, locked_by, lease_until, last_error, created_at, updated_at, finished_at";

/// What makes a job claimable at `$1`: queued and due, or running under an expired lease with
/// attempts left. (Expired leases without attempts left are buried by [`claim`] first.)
const CLAIMABLE: &str = "(status = 'queued' AND run_at <= $1) \
     OR (status = 'running' AND lease_until < $1 AND attempts < max_attempts)";

/// Adds `job` to the queue inside the caller's transaction, so that it exists if and only if
/// the business change that needs it commits. Returns the job's id.
///
/// Workers in this instance poll; call `WorkerHandle::notify` after committing to wake them
/// early.
pub async fn enqueue(tx: &mut Tx, now: Millis, job: NewJob) -> Result<i64, sqlx::Error> {
    let payload = job.payload.to_string();
    let run_at = job.due_at(now);
    let max_attempts = job.effective_max_attempts();
    let sql = "INSERT INTO jobs (merchant_id, kind, payload, status, attempts, max_attempts, \
               run_at, created_at, updated_at) \
               VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $6) RETURNING id";
    on_tx!(tx, |c| {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(job.merchant_id)
            .bind(&job.kind)
            .bind(&payload)
            .bind(max_attempts)
            .bind(run_at)
            .bind(now)
            .fetch_one(c)
            .await
    })
}

/// [`enqueue`] as a statement of `script`, committed with the caller's other writes (the
/// job's id is not needed there).
pub fn enqueue_in(script: &mut Script, now: Millis, job: &NewJob) {
    script.push(
        "INSERT INTO jobs (merchant_id, kind, payload, status, attempts, max_attempts, \
         run_at, created_at, updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?, ?, ?)",
        vec![
            Value::MaybeInt(job.merchant_id),
            Value::Text(job.kind.clone()),
            Value::Text(job.payload.to_string()),
            Value::Int(job.effective_max_attempts()),
            Value::Int(job.due_at(now)),
            Value::Int(now),
            Value::Int(now),
        ],
    );
}

/// Claims up to `limit` due jobs for `worker_id` until `now + lease_ms`, counting an attempt
/// for each. Jobs whose worker vanished (lease expired) are claimed again; those among them
/// that had used their last attempt become `dead` instead.
///
/// Atomic across workers and instances: Postgres skips rows other claimers have locked
/// (`FOR UPDATE SKIP LOCKED`); SQLite runs it under `BEGIN IMMEDIATE`, one writer at a time.
/// A cheap read first keeps idle polling from taking SQLite's write lock.
pub async fn claim(
    db: &Db,
    worker_id: &str,
    now: Millis,
    lease_ms: i64,
    limit: i64,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let peek = "SELECT id FROM jobs WHERE (status = 'queued' AND run_at <= $1) \
                OR (status = 'running' AND lease_until < $1) LIMIT 1";
    let due = on_pool!(db, |p| {
        sqlx::query_scalar::<_, i64>(peek)
            .bind(now)
            .fetch_optional(p)
            .await
    })?;
    if due.is_none() {
        return Ok(Vec::new());
    }

    let skip_locked = db.dialect().for_update_skip_locked();
    // Rows another claimer holds are skipped here too: two claimers locking the same rows in
    // different orders could otherwise deadlock on Postgres.
    let bury = format!(
        "UPDATE jobs SET status = 'dead', \
         last_error = 'lease expired on the final attempt (worker ' \
             || COALESCE(locked_by, '?') || ' stopped or stalled)', \
         locked_by = NULL, lease_until = NULL, finished_at = $1, updated_at = $1 \
         WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND lease_until < $1 \
                      AND attempts >= max_attempts {skip_locked})"
    );
    let take = format!(
        "UPDATE jobs SET status = 'running', locked_by = $2, lease_until = $3, \
         attempts = attempts + 1, updated_at = $1 \
         WHERE id IN (SELECT id FROM jobs WHERE {CLAIMABLE} \
                      ORDER BY run_at, id LIMIT $4 {skip_locked}) \
         RETURNING id, merchant_id, kind, payload, attempts, max_attempts, lease_until"
    );
    let lease_until = now.saturating_add(lease_ms.max(1));

    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| {
        sqlx::query(&bury)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
    })?;
    let mut claimed = on_tx!(&mut tx, |c| {
        sqlx::query_as::<_, ClaimedJob>(&take)
            .bind(now)
            .bind(worker_id)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(c)
            .await
    })?;
    tx.commit().await?;
    claimed.sort_by_key(|j| j.id);
    Ok(claimed)
}

/// Marks attempt `attempt` of job `id` done. `false` when `worker_id` no longer owns it.
pub async fn complete(
    db: &Db,
    id: i64,
    worker_id: &str,
    attempt: i64,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let sql = "UPDATE jobs SET status = 'done', locked_by = NULL, lease_until = NULL, \
               finished_at = $4, updated_at = $4 \
               WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'running'";
    let done = on_pool!(db, |p| {
        sqlx::query(sql)
            .bind(id)
            .bind(worker_id)
            .bind(attempt)
            .bind(now)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(done == 1)
}

/// Records that attempt `attempt` of job `id` failed with `error`, and queues it again or buries
/// it as `then` says (see [`super::model::after_failure`]). `false` when `worker_id` no longer
/// owns it.
pub async fn fail(
    db: &Db,
    id: i64,
    worker_id: &str,
    attempt: i64,
    now: Millis,
    error: &str,
    then: AfterFailure,
) -> Result<bool, sqlx::Error> {
    let error = clip_error(error);
    let fence = "WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'running'";
    let result = match then {
        AfterFailure::RetryAt(run_at) => {
            let sql = format!(
                "UPDATE jobs SET status = 'queued', locked_by = NULL, lease_until = NULL, \
                 last_error = $5, run_at = $6, updated_at = $4 {fence}"
            );
            on_pool!(db, |p| {
                sqlx::query(&sql)
                    .bind(id)
                    .bind(worker_id)
                    .bind(attempt)
                    .bind(now)
                    .bind(&error)
                    .bind(run_at)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected())
            })?
        }
        AfterFailure::Dead => {
            let sql = format!(
                "UPDATE jobs SET status = 'dead', locked_by = NULL, lease_until = NULL, \
                 last_error = $5, finished_at = $4, updated_at = $4 {fence}"
            );
            on_pool!(db, |p| {
                sqlx::query(&sql)
                    .bind(id)
                    .bind(worker_id)
                    .bind(attempt)
                    .bind(now)
                    .bind(&error)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected())
            })?
        }
    };
    Ok(result == 1)
}

/// Pushes the lease of a running job to `lease_until`. `false` when `worker_id` no longer owns
/// it (its lease expired and another worker claimed it, or it was finished).
pub async fn extend_lease(
    db: &Db,
    id: i64,
    worker_id: &str,
    attempt: i64,
    now: Millis,
    lease_until: Millis,
) -> Result<bool, sqlx::Error> {
    let sql = "UPDATE jobs SET lease_until = $5, updated_at = $4 \
               WHERE id = $1 AND locked_by = $2 AND attempts = $3 AND status = 'running'";
    let r = on_pool!(db, |p| {
        sqlx::query(sql)
            .bind(id)
            .bind(worker_id)
            .bind(attempt)
            .bind(now)
            .bind(lease_until)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(r == 1)
}

/// How many jobs are in each status, every status listed (zero included), for `/metrics`.
pub async fn counts_by_status(db: &Db) -> Result<Vec<(JobStatus, i64)>, sqlx::Error> {
    let sql = "SELECT status, COUNT(*) FROM jobs GROUP BY status";
    let rows = on_pool!(db, |p| {
        sqlx::query_as::<_, (String, i64)>(sql).fetch_all(p).await
    })?;
    let mut counts: Vec<(JobStatus, i64)> = JobStatus::ALL.iter().map(|s| (*s, 0)).collect();
    for (status, n) in rows {
        let status = JobStatus::parse(&status).ok_or_else(|| bad_status(&status))?;
        if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
            slot.1 = n;
        }
    }
    Ok(counts)
}

/// A filter for [`list`].
#[derive(Clone, Debug, Default)]
pub struct JobFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<String>,
}

enum Arg {
    Int(i64),
    Text(String),
}

/// Conditions with numbered `$n` placeholders and their values, for the few queries whose
/// filters are optional. Only placeholders are ever spliced into the SQL text, never values.
#[derive(Default)]
struct Where {
    conds: Vec<String>,
    args: Vec<Arg>,
}

impl Where {
    /// Adds a value and returns its placeholder.
    fn int(&mut self, v: i64) -> String {
        self.args.push(Arg::Int(v));
        format!("${}", self.args.len())
    }

    fn text(&mut self, v: &str) -> String {
        self.args.push(Arg::Text(v.to_string()));
        format!("${}", self.args.len())
    }

    fn push(&mut self, cond: String) {
        self.conds.push(cond);
    }

    /// `merchant_id = $n` when scoped to a merchant; nothing for the platform admin.
    fn scope(&mut self, merchant_id: Option<i64>) {
        if let Some(m) = merchant_id {
            let p = self.int(m);
            self.push(format!("merchant_id = {p}"));
        }
    }

    fn sql(&self) -> String {
        if self.conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conds.join(" AND "))
        }
    }

    async fn fetch_jobs(&self, db: &Db, sql: &str) -> Result<Vec<Job>, sqlx::Error> {
        let rows = on_pool!(db, |p| {
            let mut q = sqlx::query_as::<_, JobRow>(sql);
            for a in &self.args {
                q = match a {
                    Arg::Int(v) => q.bind(*v),
                    Arg::Text(s) => q.bind(s.clone()),
                };
            }
            q.fetch_all(p).await
        })?;
        rows.into_iter().map(Job::try_from).collect()
    }

    async fn execute(&self, db: &Db, sql: &str) -> Result<u64, sqlx::Error> {
        let r = on_pool!(db, |p| {
            let mut q = sqlx::query(sql);
            for a in &self.args {
                q = match a {
                    Arg::Int(v) => q.bind(*v),
                    Arg::Text(s) => q.bind(s.clone()),
                };
            }
            q.execute(p).await.map(|r| r.rows_affected())
        })?;
        Ok(r)
    }
}

/// Jobs newest first, for the console. `merchant_id` scopes to one merchant (`None`: the
/// platform admin sees all); `before_id` is the cursor (the last id of the previous page).
pub async fn list(
    db: &Db,
    merchant_id: Option<i64>,
    filter: &JobFilter,
    limit: i64,
    before_id: Option<i64>,
) -> Result<Vec<Job>, sqlx::Error> {
    let mut w = Where::default();
    w.scope(merchant_id);
    if let Some(s) = filter.status {
        let p = w.text(s.as_str());
        w.push(format!("status = {p}"));
    }
    if let Some(k) = &filter.kind {
        let p = w.text(k);
        w.push(format!("kind = {p}"));
    }
    if let Some(b) = before_id {
        let p = w.int(b);
        w.push(format!("id < {p}"));
    }
    let limit_p = w.int(limit.max(0));
    let sql = format!(
        "SELECT {JOB_COLUMNS} FROM jobs{} ORDER BY id DESC LIMIT {limit_p}",
        w.sql()
    );
    w.fetch_jobs(db, &sql).await
}

/// One job, if it exists and (when `merchant_id` is given) belongs to that merchant.
pub async fn get(db: &Db, merchant_id: Option<i64>, id: i64) -> Result<Option<Job>, sqlx::Error> {
    let mut w = Where::default();
    let id_p = w.int(id);
    w.push(format!("id = {id_p}"));
    w.scope(merchant_id);
    let sql = format!("SELECT {JOB_COLUMNS} FROM jobs{}", w.sql());
    Ok(w.fetch_jobs(db, &sql).await?.into_iter().next())
}

/// Gives a dead job a fresh set of attempts, due now. `false` when there is no such dead job
/// (in the merchant's scope, when `merchant_id` is given). The last error is kept until the
/// next failure or success overwrites the story.
pub async fn retry_dead(
    db: &Db,
    merchant_id: Option<i64>,
    id: i64,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let mut w = Where::default();
    let now_p = w.int(now);
    let id_p = w.int(id);
    w.push(format!("id = {id_p}"));
    w.scope(merchant_id);
    w.push("status = 'dead'".to_string());
    let sql = format!(
        "UPDATE jobs SET status = 'queued', attempts = 0, run_at = {now_p}, locked_by = NULL, \
         lease_until = NULL, finished_at = NULL, updated_at = {now_p}{}",
        w.sql()
    );
    Ok(w.execute(db, &sql).await? == 1)
}

/// Deletes up to `batch` done jobs that finished before `cutoff`; returns how many went.
/// Call it in a loop until it returns less than `batch`, so no one statement holds the
/// (SQLite) write lock for long.
pub async fn purge_done_before(db: &Db, cutoff: Millis, batch: i64) -> Result<u64, sqlx::Error> {
    let sql = "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
               WHERE status = 'done' AND finished_at < $1 LIMIT $2)";
    let r = on_pool!(db, |p| {
        sqlx::query(sql)
            .bind(cutoff)
            .bind(batch.max(1))
            .execute(p)
            .await
            .map(|r| r.rows_affected())
    })?;
    Ok(r)
}

/// How many of one merchant's jobs are in each status, for its dashboard.
pub async fn merchant_counts(db: &Db, merchant_id: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, i64)>(
        "SELECT status, COUNT(*) FROM jobs WHERE merchant_id = $1 GROUP BY status"
    )
    .bind(merchant_id)
    .fetch_all(p)
    .await)
}
