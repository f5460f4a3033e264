//! The durable job queue, on whichever backend `common::fresh_db` gives (SQLite by default,
//! PostgreSQL with `ZG_TEST_DATABASE_URL`).

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use zhanggui::on_pool;
use zhanggui::platform::clock::Clock;
use zhanggui::platform::db::Db;
use zhanggui::platform::jobs::model::AfterFailure;
use zhanggui::platform::jobs::{
    self, Job, JobContext, JobError, JobFilter, JobRegistry, JobStatus, NewJob, WorkerConfig,
    WorkerHandle, Workers, store,
};

// ---------------------------------------------------------------------------------------------
// Helpers

async fn exec(db: &Db, sql: &str) {
    on_pool!(db, |p| sqlx::query(sql).execute(p).await.map(|_| ())).expect(sql);
}

async fn int(db: &Db, sql: &str) -> i64 {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await).expect(sql)
}

/// The scratch table handlers write to: one row per run.
async fn create_ran_table(db: &Db) {
    exec(
        db,
        "CREATE TABLE ran (job_id BIGINT NOT NULL, attempt BIGINT NOT NULL, tag TEXT NOT NULL)",
    )
    .await;
}

async fn record_run(ctx: &JobContext, tag: &str) -> Result<(), JobError> {
    on_pool!(&ctx.db, |p| {
        sqlx::query("INSERT INTO ran (job_id, attempt, tag) VALUES ($1, $2, $3)")
            .bind(ctx.id)
            .bind(ctx.attempt)
            .bind(tag)
            .execute(p)
            .await
            .map(|_| ())
    })?;
    Ok(())
}

/// (job id, attempt, tag) of every run, in id order.
async fn runs(db: &Db) -> Vec<(i64, i64, String)> {
    on_pool!(db, |p| {
        sqlx::query_as::<_, (i64, i64, String)>(
            "SELECT job_id, attempt, tag FROM ran ORDER BY job_id, attempt",
        )
        .fetch_all(p)
        .await
    })
    .expect("read ran")
}

/// A handler that records each run, tagged with the payload's "tag".
fn recorder(registry: &mut JobRegistry, kind: &str) {
    registry.register(kind, |ctx: JobContext| async move {
        let tag = ctx.payload["tag"].as_str().unwrap_or("").to_string();
        record_run(&ctx, &tag).await
    });
}

fn config(instance: &str, workers: usize, lease_ms: i64) -> WorkerConfig {
    WorkerConfig {
        workers,
        lease_ms,
        poll_ms: 25,
        instance_id: instance.to_string(),
        ..WorkerConfig::default()
    }
}

async fn job(db: &Db, id: i64) -> Job {
    store::get(db, None, id)
        .await
        .expect("get job")
        .expect("job exists")
}

async fn enqueue_one(db: &Db, now: i64, new: NewJob) -> i64 {
    jobs::enqueue_alone(db, now, new).await.expect("enqueue")
}

/// Polls `check` until it holds, failing the test after `secs` seconds.
async fn wait_until<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let waited = tokio::time::timeout(Duration::from_secs(secs), async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "timed out after {secs} s waiting until {what}"
    );
}

async fn wait_for_status(db: &Db, id: i64, status: JobStatus, secs: u64) -> Job {
    wait_until(&format!("job {id} is {status}"), secs, || async {
        job(db, id).await.status == status
    })
    .await;
    job(db, id).await
}

async fn stop(workers: WorkerHandle) {
    tokio::time::timeout(Duration::from_secs(10), workers.shutdown())
        .await
        .expect("workers shut down in time");
}

fn count_of(counts: &[(JobStatus, i64)], status: JobStatus) -> i64 {
    counts
        .iter()
        .find(|(s, _)| *s == status)
        .map(|(_, n)| *n)
        .unwrap_or(-1)
}

// ---------------------------------------------------------------------------------------------
// (a) A job exists if and only if its transaction commits.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_enqueued_in_a_rolled_back_transaction_never_runs() {
    let db = common::fresh_db().await;
    create_ran_table(&db).await;
    let clock = Clock::default();

    let mut tx = db.begin().await.expect("begin");
    jobs::enqueue(
        &mut tx,
        clock.now_ms(),
        NewJob::new("test.record", json!({"tag": "rolled back"})),
    )
    .await
    .expect("enqueue");
    tx.rollback().await.expect("rollback");

    let mut tx = db.begin().await.expect("begin");
    let committed = jobs::enqueue(
        &mut tx,
        clock.now_ms(),
        NewJob::new("test.record", json!({"tag": "committed"})).merchant(1),
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");

    let mut registry = JobRegistry::new();
    recorder(&mut registry, "test.record");
    let workers = Workers::start(db.clone(), registry, clock.clone(), config("a", 2, 5_000));
    workers.notify();

    let done = wait_for_status(&db, committed, JobStatus::Done, 10).await;
    assert_eq!(done.attempts, 1);
    assert!(done.finished_at.is_some());
    assert!(done.locked_by.is_none());
    // Give the workers a few more polls to run anything else they could find.
    tokio::time::sleep(Duration::from_millis(150)).await;
    stop(workers).await;

    assert_eq!(
        runs(&db).await,
        vec![(committed, 1, "committed".to_string())]
    );
    let counts = store::counts_by_status(&db).await.expect("counts");
    assert_eq!(count_of(&counts, JobStatus::Done), 1);
    assert_eq!(count_of(&counts, JobStatus::Queued), 0);
    assert_eq!(count_of(&counts, JobStatus::Running), 0);
    assert_eq!(count_of(&counts, JobStatus::Dead), 0);
}

// ---------------------------------------------------------------------------------------------
// (b) A worker that dies mid-job releases it after its lease; another worker runs it.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_claimed_by_a_vanished_worker_runs_after_its_lease() {
    let db = common::fresh_db().await;
    create_ran_table(&db).await;
    let clock = Clock::default();
    let id = enqueue_one(
        &db,
        clock.now_ms(),
        NewJob::new("test.record", json!({"tag": "x"})),
    )
    .await;

    // A worker claims it with a 300 ms lease and is never heard of again.
    let claimed_at = Instant::now();
    let claimed = store::claim(&db, "crashed#0", clock.now_ms(), 300, 1)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].id, id);
    assert_eq!(claimed[0].attempts, 1);

    let mut registry = JobRegistry::new();
    recorder(&mut registry, "test.record");
    let workers = Workers::start(db.clone(), registry, clock.clone(), config("b", 2, 300));

    let done = wait_for_status(&db, id, JobStatus::Done, 10).await;
    assert!(
        claimed_at.elapsed() >= Duration::from_millis(300),
        "taken over before the lease ran out"
    );
    stop(workers).await;
    assert_eq!(done.attempts, 2);
    assert_eq!(runs(&db).await, vec![(id, 2, "x".to_string())]);
    // The vanished worker, coming back, cannot overwrite the outcome.
    let late = store::complete(&db, id, "crashed#0", 1, clock.now_ms())
        .await
        .expect("complete");
    assert!(!late);
}

/// Sets its flag when dropped: tells whether a handler's future was torn down.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_an_aborted_instance_is_taken_over_by_another() {
    let db = common::fresh_db().await;
    create_ran_table(&db).await;
    let clock = Clock::default();

    // Attempt 1 hangs (until its worker is killed); later attempts record and succeed.
    let started = Arc::new(AtomicBool::new(false));
    let torn_down = Arc::new(AtomicBool::new(false));
    let mut registry = JobRegistry::new();
    {
        let started = started.clone();
        let torn_down = torn_down.clone();
        registry.register("test.slow", move |ctx: JobContext| {
            let started = started.clone();
            let torn_down = torn_down.clone();
            async move {
                if ctx.attempt == 1 {
                    let _guard = SetOnDrop(torn_down);
                    started.store(true, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                record_run(&ctx, "slow").await
            }
        });
    }

    let id = enqueue_one(&db, clock.now_ms(), NewJob::new("test.slow", json!({}))).await;
    let first = Workers::start(
        db.clone(),
        registry.clone(),
        clock.clone(),
        config("first", 1, 300),
    );
    wait_until("attempt 1 started", 10, || async {
        started.load(Ordering::SeqCst)
    })
    .await;

    // Heartbeats keep the lease alive well past its 300 ms while the worker lives.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let running = job(&db, id).await;
    assert_eq!(running.status, JobStatus::Running);
    assert_eq!(running.attempts, 1);
    assert_eq!(running.locked_by.as_deref(), Some("first#0"));
    assert!(running.lease_until.expect("lease") > clock.now_ms());

    // The instance dies: its handler goes with it, and the lease is no longer renewed.
    first.abort();
    wait_until("the hung handler is torn down", 5, || async {
        torn_down.load(Ordering::SeqCst)
    })
    .await;

    let second = Workers::start(
        db.clone(),
        registry,
        clock.clone(),
        config("second", 2, 300),
    );
    let done = wait_for_status(&db, id, JobStatus::Done, 10).await;
    stop(second).await;
    assert_eq!(done.attempts, 2);
    assert_eq!(runs(&db).await, vec![(id, 2, "slow".to_string())]);
}

// ---------------------------------------------------------------------------------------------
// (c) Two instances on one database never run a job twice.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_run_each_job_exactly_once() {
    const JOBS: i64 = 200;
    let url = common::fresh_db_url().await;
    let db_a = common::connect(&url).await;
    let db_b = common::connect(&url).await; // a pool of its own, as another process would have
    create_ran_table(&db_a).await;
    let clock = Clock::default();

    let mut tx = db_a.begin().await.expect("begin");
    for n in 0..JOBS {
        jobs::enqueue(
            &mut tx,
            clock.now_ms(),
            NewJob::new("test.once", json!({ "n": n })).merchant(n % 3),
        )
        .await
        .expect("enqueue");
    }
    tx.commit().await.expect("commit");

    let registry_for = |instance: &'static str| {
        let mut registry = JobRegistry::new();
        registry.register("test.once", move |ctx: JobContext| async move {
            // Linger a little so the instances overlap.
            tokio::time::sleep(Duration::from_millis(2)).await;
            record_run(&ctx, instance).await
        });
        registry
    };
    let a = Workers::start(
        db_a.clone(),
        registry_for("A"),
        clock.clone(),
        config("A", 4, 10_000),
    );
    let b = Workers::start(
        db_b.clone(),
        registry_for("B"),
        clock.clone(),
        config("B", 4, 10_000),
    );
    a.notify();
    b.notify();

    wait_until("every job is done", 90, || async {
        let counts = store::counts_by_status(&db_a).await.expect("counts");
        count_of(&counts, JobStatus::Done) == JOBS
    })
    .await;
    stop(a).await;
    stop(b).await;

    assert_eq!(int(&db_a, "SELECT COUNT(*) FROM ran").await, JOBS);
    assert_eq!(
        int(&db_a, "SELECT COUNT(DISTINCT job_id) FROM ran").await,
        JOBS
    );
    assert_eq!(
        int(&db_a, "SELECT COUNT(*) FROM ran WHERE attempt <> 1").await,
        0
    );
    assert_eq!(
        int(&db_a, "SELECT COUNT(*) FROM jobs WHERE attempts <> 1").await,
        0
    );
    let by_a = int(&db_a, "SELECT COUNT(*) FROM ran WHERE tag = 'A'").await;
    let by_b = int(&db_a, "SELECT COUNT(*) FROM ran WHERE tag = 'B'").await;
    eprintln!("instance A ran {by_a} jobs, instance B ran {by_b}");
    assert!(
        by_a > 0 && by_b > 0,
        "both instances should have taken part (A {by_a}, B {by_b})"
    );
}

// ---------------------------------------------------------------------------------------------
// (d) Retries with backoff, dead after max_attempts, visible, and retried by hand.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_back_off_then_die_and_a_dead_job_can_be_retried() {
    let db = common::fresh_db().await;
    create_ran_table(&db).await;
    let clock = Clock::default();
    let failing = Arc::new(AtomicBool::new(true));
    let mut registry = JobRegistry::new();
    {
        let failing = failing.clone();
        registry.register("test.flaky", move |ctx: JobContext| {
            let failing = failing.load(Ordering::SeqCst);
            async move {
                if failing {
                    Err(JobError::Retry(format!("boom on attempt {}", ctx.attempt)))
                } else {
                    record_run(&ctx, "ok").await
                }
            }
        });
    }
    let id = enqueue_one(
        &db,
        clock.now_ms(),
        NewJob::new("test.flaky", json!({}))
            .merchant(7)
            .max_attempts(3),
    )
    .await;
    let workers = Workers::start(db.clone(), registry, clock.clone(), config("d", 2, 5_000));

    for attempt in 1..=2 {
        wait_until(&format!("attempt {attempt} failed"), 10, || async {
            let j = job(&db, id).await;
            j.attempts == attempt && j.status == JobStatus::Queued
        })
        .await;
        let j = job(&db, id).await;
        assert_eq!(
            j.last_error.as_deref(),
            Some(format!("boom on attempt {attempt}").as_str())
        );
        assert_eq!(j.run_at - j.updated_at, jobs::backoff_ms(id, attempt));
        assert!(j.locked_by.is_none() && j.lease_until.is_none());
        // Not due yet: it waits for its backoff (at least 900 ms of the clock).
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(job(&db, id).await.attempts, attempt);
        clock.advance(10 * 60 * 1_000);
    }

    let dead = wait_for_status(&db, id, JobStatus::Dead, 10).await;
    assert_eq!(dead.attempts, 3);
    assert_eq!(dead.last_error.as_deref(), Some("boom on attempt 3"));
    assert!(dead.finished_at.is_some());

    let listed = store::list(
        &db,
        Some(7),
        &JobFilter {
            status: Some(JobStatus::Dead),
            ..JobFilter::default()
        },
        50,
        None,
    )
    .await
    .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].status, JobStatus::Dead);
    assert_eq!(listed[0].last_error.as_deref(), Some("boom on attempt 3"));

    // Fixed: the operator retries it and it runs.
    failing.store(false, Ordering::SeqCst);
    let retried = store::retry_dead(&db, Some(7), id, clock.now_ms())
        .await
        .expect("retry");
    assert!(retried);
    let requeued = job(&db, id).await;
    // The workers poll every 25 ms: on a busy machine one may have claimed it again already.
    match requeued.status {
        JobStatus::Queued => assert_eq!(requeued.attempts, 0),
        JobStatus::Running => assert_eq!(requeued.attempts, 1),
        JobStatus::Done => {}
        other => panic!("a retried job is {other:?}"),
    }
    if requeued.status != JobStatus::Done {
        assert!(requeued.finished_at.is_none());
    }
    workers.notify();
    let done = wait_for_status(&db, id, JobStatus::Done, 10).await;
    stop(workers).await;
    assert_eq!(done.attempts, 1);
    assert_eq!(runs(&db).await, vec![(id, 1, "ok".to_string())]);
    // Only dead jobs can be retried.
    assert!(
        !store::retry_dead(&db, Some(7), id, clock.now_ms())
            .await
            .expect("retry")
    );
}

// ---------------------------------------------------------------------------------------------
// (e) One merchant cannot see or retry another's jobs.

#[tokio::test]
async fn list_get_and_retry_are_scoped_to_the_merchant() {
    let db = common::fresh_db().await;
    let now = 1_000_000;
    let a = enqueue_one(&db, now, NewJob::new("t", json!({"m": "a"})).merchant(1)).await;
    let b = enqueue_one(&db, now, NewJob::new("t", json!({"m": "b"})).merchant(2)).await;
    let p = enqueue_one(&db, now, NewJob::new("t", json!({"m": "platform"}))).await;

    let ids = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    let all = JobFilter::default();
    assert_eq!(
        ids(store::list(&db, Some(1), &all, 50, None)
            .await
            .expect("list")),
        vec![a]
    );
    assert_eq!(
        ids(store::list(&db, Some(2), &all, 50, None)
            .await
            .expect("list")),
        vec![b]
    );
    assert_eq!(
        ids(store::list(&db, None, &all, 50, None).await.expect("list")),
        vec![p, b, a]
    );
    assert!(store::get(&db, Some(1), b).await.expect("get").is_none());
    assert!(store::get(&db, Some(1), p).await.expect("get").is_none());
    assert_eq!(
        store::get(&db, Some(2), b)
            .await
            .expect("get")
            .map(|j| j.payload),
        Some(r#"{"m":"b"}"#.to_string())
    );
    assert!(store::get(&db, None, b).await.expect("get").is_some());

    // Bury all three.
    let claimed = store::claim(&db, "w", now, 1_000, 10).await.expect("claim");
    assert_eq!(claimed.len(), 3);
    for j in &claimed {
        let owned = store::fail(&db, j.id, "w", 1, now, "broken", AfterFailure::Dead)
            .await
            .expect("fail");
        assert!(owned);
    }

    // Merchant 1 can neither retry nor see merchant 2's dead job, nor the platform's.
    assert!(
        !store::retry_dead(&db, Some(1), b, now)
            .await
            .expect("retry")
    );
    assert!(
        !store::retry_dead(&db, Some(1), p, now)
            .await
            .expect("retry")
    );
    assert_eq!(job(&db, b).await.status, JobStatus::Dead);
    assert_eq!(job(&db, p).await.status, JobStatus::Dead);
    let dead = JobFilter {
        status: Some(JobStatus::Dead),
        ..JobFilter::default()
    };
    assert_eq!(
        ids(store::list(&db, Some(1), &dead, 50, None)
            .await
            .expect("list")),
        vec![a]
    );

    // Each owner can.
    assert!(
        store::retry_dead(&db, Some(2), b, now)
            .await
            .expect("retry")
    );
    assert!(
        store::retry_dead(&db, Some(1), a, now)
            .await
            .expect("retry")
    );
    assert!(store::retry_dead(&db, None, p, now).await.expect("retry"));
    for id in [a, b, p] {
        assert_eq!(job(&db, id).await.status, JobStatus::Queued);
    }
    assert!(
        store::list(&db, Some(1), &dead, 50, None)
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn list_pages_newest_first_with_filters() {
    let db = common::fresh_db().await;
    let now = 1_000_000;
    let mut mine = Vec::new();
    for n in 0..5 {
        mine.push(
            enqueue_one(
                &db,
                now,
                NewJob::new("k.one", json!({ "n": n })).merchant(3),
            )
            .await,
        );
        enqueue_one(&db, now, NewJob::new("k.one", json!({})).merchant(4)).await;
    }
    let other_kind = enqueue_one(&db, now, NewJob::new("k.two", json!({})).merchant(3)).await;
    let kind_one = JobFilter {
        kind: Some("k.one".to_string()),
        ..JobFilter::default()
    };
    let page = |before: Option<i64>| {
        let db = db.clone();
        let filter = kind_one.clone();
        async move {
            store::list(&db, Some(3), &filter, 2, before)
                .await
                .expect("list")
                .into_iter()
                .map(|j| j.id)
                .collect::<Vec<_>>()
        }
    };
    let first = page(None).await;
    assert_eq!(first, vec![mine[4], mine[3]]);
    let second = page(first.last().copied()).await;
    assert_eq!(second, vec![mine[2], mine[1]]);
    let third = page(second.last().copied()).await;
    assert_eq!(third, vec![mine[0]]);
    assert!(page(third.last().copied()).await.is_empty());

    let queued_of_3 = store::list(
        &db,
        Some(3),
        &JobFilter {
            status: Some(JobStatus::Queued),
            kind: None,
        },
        50,
        None,
    )
    .await
    .expect("list");
    assert_eq!(queued_of_3.len(), 6);
    assert_eq!(queued_of_3[0].id, other_kind);
}

// ---------------------------------------------------------------------------------------------
// (f) Permanent errors, unknown kinds, bad payloads and panics.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_classified() {
    let db = common::fresh_db().await;
    let clock = Clock::default();
    let mut registry = JobRegistry::new();
    registry.register("test.permanent", |_ctx: JobContext| async move {
        Err(JobError::Permanent("the account was deleted".to_string()))
    });
    registry.register("test.typed", |ctx: JobContext| async move {
        #[derive(serde::Deserialize)]
        struct Input {
            #[allow(dead_code)]
            follower: i64,
        }
        let _input: Input = ctx.payload_as()?;
        Ok(())
    });
    registry.register("test.panics", |ctx: JobContext| async move {
        if ctx.attempt < 100 {
            panic!("kaboom");
        }
        Ok(())
    });
    let now = clock.now_ms();
    let permanent = enqueue_one(
        &db,
        now,
        NewJob::new("test.permanent", json!({})).max_attempts(5),
    )
    .await;
    let unknown = enqueue_one(&db, now, NewJob::new("test.nobody", json!({}))).await;
    let bad_payload = enqueue_one(
        &db,
        now,
        NewJob::new("test.typed", json!({"follower": "not a number"})),
    )
    .await;
    let panics = enqueue_one(
        &db,
        now,
        NewJob::new("test.panics", json!({})).max_attempts(2),
    )
    .await;
    let workers = Workers::start(db.clone(), registry, clock.clone(), config("f", 2, 5_000));

    let j = wait_for_status(&db, permanent, JobStatus::Dead, 10).await;
    assert_eq!(j.attempts, 1, "a permanent error is not retried");
    assert_eq!(j.last_error.as_deref(), Some("the account was deleted"));

    let j = wait_for_status(&db, unknown, JobStatus::Dead, 10).await;
    assert_eq!(j.attempts, 1);
    let error = j.last_error.unwrap_or_default();
    assert!(
        error.contains("no handler") && error.contains("test.nobody"),
        "{error}"
    );

    let j = wait_for_status(&db, bad_payload, JobStatus::Dead, 10).await;
    assert_eq!(j.attempts, 1);
    assert!(
        j.last_error.unwrap_or_default().contains("invalid payload"),
        "a payload that does not fit is permanent"
    );

    // A panic is a retryable failure; the worker survives it.
    wait_until("the panicking job failed once", 10, || async {
        let j = job(&db, panics).await;
        j.attempts == 1 && j.status == JobStatus::Queued
    })
    .await;
    let error = job(&db, panics).await.last_error.unwrap_or_default();
    assert!(error.contains("handler panicked: kaboom"), "{error}");
    clock.advance(60_000);
    let j = wait_for_status(&db, panics, JobStatus::Dead, 10).await;
    assert_eq!(j.attempts, 2);
    stop(workers).await;
}

// ---------------------------------------------------------------------------------------------
// (g) Fencing: a worker that lost its lease cannot touch the job.

#[tokio::test]
async fn a_stale_worker_is_fenced_off() {
    let db = common::fresh_db().await;
    let t = 1_000_000;
    let id = enqueue_one(&db, t, NewJob::new("t", json!({}))).await;

    let first = store::claim(&db, "w1", t, 300, 5).await.expect("claim");
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].id, first[0].attempts, first[0].lease_until),
        (id, 1, t + 300)
    );

    // Within the lease nobody else gets it; a heartbeat moves the lease on.
    assert!(
        store::claim(&db, "w2", t + 200, 300, 5)
            .await
            .expect("claim")
            .is_empty()
    );
    assert!(
        store::extend_lease(&db, id, "w1", 1, t + 250, t + 550)
            .await
            .expect("extend")
    );
    assert!(
        store::claim(&db, "w2", t + 400, 300, 5)
            .await
            .expect("claim")
            .is_empty()
    );

    // w1 stalls; its lease runs out and w2 takes the job over.
    let second = store::claim(&db, "w2", t + 600, 300, 5)
        .await
        .expect("claim");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempts, 2);

    // w1 wakes up: every write it tries is refused.
    assert!(
        !store::complete(&db, id, "w1", 1, t + 700)
            .await
            .expect("complete")
    );
    assert!(
        !store::fail(&db, id, "w1", 1, t + 700, "late", AfterFailure::Dead)
            .await
            .expect("fail")
    );
    assert!(
        !store::fail(&db, id, "w1", 1, t + 700, "late", AfterFailure::RetryAt(t))
            .await
            .expect("fail")
    );
    assert!(
        !store::extend_lease(&db, id, "w1", 1, t + 700, t + 9_999)
            .await
            .expect("extend")
    );
    // Nor may the new owner act on the old attempt's behalf.
    assert!(
        !store::complete(&db, id, "w2", 1, t + 700)
            .await
            .expect("complete")
    );
    let j = job(&db, id).await;
    assert_eq!(j.status, JobStatus::Running);
    assert_eq!(j.locked_by.as_deref(), Some("w2"));
    assert_eq!(j.lease_until, Some(t + 900));
    assert!(j.last_error.is_none());

    // The owner's completion counts, once.
    assert!(
        store::complete(&db, id, "w2", 2, t + 800)
            .await
            .expect("complete")
    );
    assert!(
        !store::complete(&db, id, "w2", 2, t + 801)
            .await
            .expect("complete")
    );
    let j = job(&db, id).await;
    assert_eq!(j.status, JobStatus::Done);
    assert_eq!(j.finished_at, Some(t + 800));
    assert!(j.locked_by.is_none());
}

#[tokio::test]
async fn a_lease_that_expires_on_the_last_attempt_buries_the_job() {
    let db = common::fresh_db().await;
    let t = 1_000_000;
    let id = enqueue_one(&db, t, NewJob::new("t", json!({})).max_attempts(1)).await;
    assert_eq!(
        store::claim(&db, "w1", t, 300, 1)
            .await
            .expect("claim")
            .len(),
        1
    );
    assert!(
        store::claim(&db, "w2", t + 301, 300, 1)
            .await
            .expect("claim")
            .is_empty()
    );
    let j = job(&db, id).await;
    assert_eq!(j.status, JobStatus::Dead);
    assert_eq!(j.attempts, 1);
    assert_eq!(j.finished_at, Some(t + 301));
    let error = j.last_error.unwrap_or_default();
    assert!(
        error.contains("lease expired") && error.contains("w1"),
        "{error}"
    );
    // The buried job's old worker cannot resurrect it.
    assert!(
        !store::complete(&db, id, "w1", 1, t + 302)
            .await
            .expect("complete")
    );
}

#[tokio::test]
async fn claims_take_due_jobs_in_order() {
    let db = common::fresh_db().await;
    let t = 1_000_000;
    let later = enqueue_one(&db, t, NewJob::new("t", json!({})).run_at(t + 500)).await;
    let second = enqueue_one(&db, t, NewJob::new("t", json!({})).run_at(t - 10)).await;
    let first = enqueue_one(&db, t, NewJob::new("t", json!({})).run_at(t - 20)).await;
    let claimed = store::claim(&db, "w", t, 1_000, 1).await.expect("claim");
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![first]
    );
    let claimed = store::claim(&db, "w", t, 1_000, 10).await.expect("claim");
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![second]
    );
    assert!(
        store::claim(&db, "w", t, 1_000, 10)
            .await
            .expect("claim")
            .is_empty()
    );
    // Due now; the two claimed above are still leased (until t + 1000).
    let claimed = store::claim(&db, "w", t + 500, 1_000, 10)
        .await
        .expect("claim");
    assert_eq!(
        claimed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![later]
    );
}

#[tokio::test]
async fn purge_deletes_only_old_done_jobs() {
    let db = common::fresh_db().await;
    let t = 1_000_000;
    let old = enqueue_one(&db, t, NewJob::new("t", json!({}))).await;
    let recent = enqueue_one(&db, t, NewJob::new("t", json!({}))).await;
    let dead = enqueue_one(&db, t, NewJob::new("t", json!({}))).await;
    let queued = enqueue_one(&db, t, NewJob::new("t", json!({})).run_at(t + 1)).await;
    assert_eq!(
        store::claim(&db, "w", t, 1_000, 10)
            .await
            .expect("claim")
            .len(),
        3
    );
    assert!(
        store::complete(&db, old, "w", 1, t + 10)
            .await
            .expect("complete")
    );
    assert!(
        store::complete(&db, recent, "w", 1, t + 500)
            .await
            .expect("complete")
    );
    assert!(
        store::fail(&db, dead, "w", 1, t + 10, "x", AfterFailure::Dead)
            .await
            .expect("fail")
    );
    assert_eq!(
        jobs::purge_done_before(&db, t + 100).await.expect("purge"),
        1
    );
    assert!(store::get(&db, None, old).await.expect("get").is_none());
    for id in [recent, dead, queued] {
        assert!(store::get(&db, None, id).await.expect("get").is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_the_running_job_finish() {
    let db = common::fresh_db().await;
    create_ran_table(&db).await;
    let clock = Clock::default();
    let started = Arc::new(AtomicBool::new(false));
    let mut registry = JobRegistry::new();
    {
        let started = started.clone();
        registry.register("test.linger", move |ctx: JobContext| {
            let started = started.clone();
            async move {
                started.store(true, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                record_run(&ctx, "lingered").await
            }
        });
    }
    let id = enqueue_one(&db, clock.now_ms(), NewJob::new("test.linger", json!({}))).await;
    let workers = Workers::start(db.clone(), registry, clock.clone(), config("s", 1, 5_000));
    wait_until("the job started", 10, || async {
        started.load(Ordering::SeqCst)
    })
    .await;
    stop(workers).await;
    assert_eq!(job(&db, id).await.status, JobStatus::Done);
    assert_eq!(runs(&db).await.len(), 1);
}
