//! SQL of follower syncs: runs, their queue of openids to profile, and what a profile
//! writes. Every statement is short: SQLite's message log writer must never wait long.

use wechat::api::users::UserInfo;

use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx, is_unique_violation};
use crate::tags::store::placeholders;
use crate::{on_pool, on_tx};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SyncRow {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub status: String,
    pub next_openid: String,
    pub total: i64,
    pub listed: i64,
    pub profiled: i64,
    pub detail: String,
    pub listed_all: bool,
    pub step: i64,
    pub started_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

const COLUMNS: &str = "id, merchant_id, account_id, status, next_openid, total, listed, \
     profiled, detail, listed_all, step, started_at, updated_at, finished_at";

/// Starts a run; `None` when one is already running for the account (the partial unique
/// index decides, so two instances cannot both start one).
pub async fn insert_run(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    now: Millis,
) -> Result<Option<i64>, sqlx::Error> {
    let inserted = on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO follower_syncs (merchant_id, account_id, status, started_at, updated_at) \
         VALUES ($1, $2, 'running', $3, $3) RETURNING id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(now)
    .fetch_one(c)
    .await);
    match inserted {
        Ok(id) => Ok(Some(id)),
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The account's latest run.
pub async fn latest(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Option<SyncRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM follower_syncs WHERE merchant_id = $1 AND account_id = $2 \
         ORDER BY id DESC LIMIT 1"
    );
    on_pool!(db, |p| sqlx::query_as::<_, SyncRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .fetch_optional(p)
        .await)
}

/// A run by id, for its job.
pub async fn get(db: &Db, id: i64) -> Result<Option<SyncRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM follower_syncs WHERE id = $1");
    on_pool!(db, |p| sqlx::query_as::<_, SyncRow>(&sql)
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// Openids queued per statement.
const QUEUE_CHUNK: usize = 500;

/// Queues a page's openids (again, harmlessly, when the page is read twice after a crash).
pub async fn queue(db: &Db, sync_id: i64, openids: &[String]) -> Result<(), sqlx::Error> {
    for chunk in openids.chunks(QUEUE_CHUNK) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${})", i + 2))
            .collect();
        let sql = format!(
            "INSERT INTO follower_sync_queue (sync_id, openid) VALUES {} \
             ON CONFLICT (sync_id, openid) DO NOTHING",
            rows.join(", ")
        );
        on_pool!(db, |p| {
            let mut q = sqlx::query(&sql).bind(sync_id);
            for o in chunk {
                q = q.bind(o.as_str());
            }
            q.execute(p).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Records a page read: where the next starts, WeChat's total, and whether it was the last.
#[allow(clippy::too_many_arguments)]
pub async fn record_page(
    db: &Db,
    id: i64,
    step: i64,
    next_openid: &str,
    total: i64,
    listed: i64,
    listed_all: bool,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "UPDATE follower_syncs SET next_openid = $3, total = $4, listed = listed + $5, \
         listed_all = $6, updated_at = $7 WHERE id = $1 AND step = $2 AND status = 'running'"
    )
    .bind(id)
    .bind(step)
    .bind(next_openid)
    .bind(total)
    .bind(listed)
    .bind(listed_all)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The next openids to profile, in order.
pub async fn queued(db: &Db, sync_id: i64, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT openid FROM follower_sync_queue WHERE sync_id = $1 ORDER BY openid LIMIT $2"
    )
    .bind(sync_id)
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// Writes what WeChat's profiles say beside the merged follow (remark, unionid, language,
/// scene, synced_at), sets their tags (our ids), takes them off the queue and counts them,
/// in one short transaction.
#[allow(clippy::too_many_arguments)]
pub async fn record_profiles(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    sync_id: i64,
    asked: &[String],
    profiles: &[&UserInfo],
    tags: &[(String, Vec<i64>)],
    now: Millis,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    if !profiles.is_empty() {
        update_profiles(&mut tx, merchant_id, account_id, profiles, now).await?;
    }
    crate::tags::store::replace_tags(&mut tx, merchant_id, account_id, tags, now).await?;
    let sql = format!(
        "DELETE FROM follower_sync_queue WHERE sync_id = $1 AND openid IN ({})",
        placeholders(2, asked.len())
    );
    on_tx!(&mut tx, |c| {
        let mut q = sqlx::query(&sql).bind(sync_id);
        for o in asked {
            q = q.bind(o.as_str());
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })?;
    on_tx!(&mut tx, |c| sqlx::query(
        "UPDATE follower_syncs SET profiled = profiled + $2, updated_at = $3 WHERE id = $1"
    )
    .bind(sync_id)
    .bind(asked.len() as i64)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    tx.commit().await
}

/// One statement for the batch: the values as a table joined to the followers.
async fn update_profiles(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    profiles: &[&UserInfo],
    now: Millis,
) -> Result<(), sqlx::Error> {
    let rows: Vec<String> = (0..profiles.len())
        .map(|i| {
            let b = 4 + i * 5;
            format!("(${b}, ${}, ${}, ${}, ${})", b + 1, b + 2, b + 3, b + 4)
        })
        .collect();
    let sql = format!(
        "WITH v (openid, remark, unionid, language, scene) AS (VALUES {}) \
         UPDATE followers SET remark = v.remark, unionid = v.unionid, language = v.language, \
         subscribe_scene = v.scene, synced_at = $3 FROM v \
         WHERE followers.merchant_id = $1 AND followers.account_id = $2 \
         AND followers.openid = v.openid",
        rows.join(", ")
    );
    let blank = |s: &str| (!s.is_empty()).then(|| s.to_string());
    on_tx!(tx, |c| {
        let mut q = sqlx::query(&sql)
            .bind(merchant_id)
            .bind(account_id)
            .bind(now);
        for p in profiles {
            q = q
                .bind(p.openid.as_str())
                .bind(p.remark.as_str())
                .bind(p.unionid.as_deref().and_then(blank))
                .bind(blank(&p.language))
                .bind(blank(&p.subscribe_scene));
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Followers we think follow, whom this run did not find and whose last follow is older
/// than `mark_at`: they left while we were not told. Marked, never deleted.
pub async fn mark_unfollowed(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    started_at: Millis,
    mark_at: Millis,
) -> Result<u64, sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE followers SET subscribed = FALSE, subscription_changed_at = $4, \
         unsubscribed_at = CASE WHEN unsubscribed_at IS NULL OR unsubscribed_at < $4 \
            THEN $4 ELSE unsubscribed_at END \
         WHERE merchant_id = $1 AND account_id = $2 AND subscribed \
         AND (synced_at IS NULL OR synced_at < $3) \
         AND (subscription_changed_at IS NULL OR subscription_changed_at < $4)"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(started_at)
    .bind(mark_at)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
}

/// Moves the run to its next step; false when another run of the job already did.
pub async fn next_step(tx: &mut Tx, id: i64, step: i64, now: Millis) -> Result<bool, sqlx::Error> {
    let n = on_tx!(tx, |c| sqlx::query(
        "UPDATE follower_syncs SET step = step + 1, updated_at = $3 \
         WHERE id = $1 AND step = $2 AND status = 'running'"
    )
    .bind(id)
    .bind(step)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Ends a run ('done' or 'failed' with the message key of the reason) and empties its queue.
pub async fn finish(
    db: &Db,
    id: i64,
    status: &str,
    detail: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| sqlx::query(
        "UPDATE follower_syncs SET status = $2, detail = $3, updated_at = $4, finished_at = $4 \
         WHERE id = $1 AND status = 'running'"
    )
    .bind(id)
    .bind(status)
    .bind(detail)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    on_tx!(&mut tx, |c| sqlx::query(
        "DELETE FROM follower_sync_queue WHERE sync_id = $1"
    )
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    tx.commit().await
}
