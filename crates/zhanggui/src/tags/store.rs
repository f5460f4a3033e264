//! SQL for tags, the followers carrying them and bulk operations. Every query names the
//! merchant, so another merchant's tag is simply not found.

use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::{on_pool, on_tx};

/// A tag with the number of followers carrying it (ours).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TagRow {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub name: String,
    pub wx_tag_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub members: i64,
}

const SELECT_TAG: &str = "SELECT t.id, t.merchant_id, t.account_id, t.name, t.wx_tag_id, \
     t.created_at, t.updated_at, \
     (SELECT COUNT(*) FROM follower_tags ft WHERE ft.tag_id = t.id) AS members FROM tags t";

/// `$first, $first+1, …` for `n` values.
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An account's tags, by name.
pub async fn list(db: &Db, merchant_id: i64, account_id: i64) -> Result<Vec<TagRow>, sqlx::Error> {
    let sql =
        format!("{SELECT_TAG} WHERE t.merchant_id = $1 AND t.account_id = $2 ORDER BY t.wx_tag_id");
    on_pool!(db, |p| sqlx::query_as::<_, TagRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .fetch_all(p)
        .await)
}

pub async fn get(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    id: i64,
) -> Result<Option<TagRow>, sqlx::Error> {
    let sql = format!("{SELECT_TAG} WHERE t.merchant_id = $1 AND t.account_id = $2 AND t.id = $3");
    on_pool!(db, |p| sqlx::query_as::<_, TagRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// Our tag mirroring WeChat's tag `wx_tag_id`, renamed to `name` if it exists, else added.
pub async fn upsert(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    wx_tag_id: i64,
    name: &str,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    // A name WeChat gave to this tag may still be held here by another (renamed or deleted
    // there meanwhile): move that one aside; the pull renames or removes it afterwards.
    on_tx!(tx, |c| sqlx::query(
        "UPDATE tags SET name = name || ' #' || CAST(wx_tag_id AS TEXT) \
         WHERE merchant_id = $1 AND account_id = $2 AND name = $3 AND wx_tag_id <> $4"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(name)
    .bind(wx_tag_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO tags (merchant_id, account_id, name, wx_tag_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (account_id, wx_tag_id) DO UPDATE SET \
         name = excluded.name, updated_at = CASE WHEN tags.name = excluded.name \
         THEN tags.updated_at ELSE excluded.updated_at END RETURNING id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(name)
    .bind(wx_tag_id)
    .bind(now)
    .fetch_one(c)
    .await)
}

pub async fn rename(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    id: i64,
    name: &str,
    now: Millis,
) -> Result<u64, sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE tags SET name = $4, updated_at = $5 \
         WHERE merchant_id = $1 AND account_id = $2 AND id = $3"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(id)
    .bind(name)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))
}

/// Deletes a tag; its followers lose it with it (`ON DELETE CASCADE`).
pub async fn delete(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    id: i64,
) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let n = delete_in(&mut tx, merchant_id, account_id, id).await?;
    tx.commit().await?;
    Ok(n)
}

async fn delete_in(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    id: i64,
) -> Result<u64, sqlx::Error> {
    // Explicitly too: the cascade is not relied on for SQLite connections opened elsewhere.
    for sql in [
        "DELETE FROM follower_tags WHERE merchant_id = $1 AND account_id = $2 AND tag_id = $3",
        "DELETE FROM tag_operations WHERE merchant_id = $1 AND account_id = $2 AND tag_id = $3",
    ] {
        on_tx!(tx, |c| sqlx::query(sql)
            .bind(merchant_id)
            .bind(account_id)
            .bind(id)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    on_tx!(tx, |c| sqlx::query(
        "DELETE FROM tags WHERE merchant_id = $1 AND account_id = $2 AND id = $3"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
}

/// Removes our tags whose WeChat id is not in `keep`; returns how many went.
pub async fn delete_missing(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    keep: &[i64],
) -> Result<u64, sqlx::Error> {
    let ids: Vec<i64> = on_tx!(tx, |c| sqlx::query_as::<_, (i64, i64)>(
        "SELECT id, wx_tag_id FROM tags WHERE merchant_id = $1 AND account_id = $2"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_all(c)
    .await)?
    .into_iter()
    .filter(|(_, wx)| !keep.contains(wx))
    .map(|(id, _)| id)
    .collect();
    for id in &ids {
        delete_in(tx, merchant_id, account_id, *id).await?;
    }
    Ok(ids.len() as u64)
}

/// Our tag ids and their WeChat ids for an account: (id, wx_tag_id).
pub async fn id_map(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, i64)>(
        "SELECT id, wx_tag_id FROM tags WHERE merchant_id = $1 AND account_id = $2 ORDER BY id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_all(p)
    .await)
}

/// The tags one follower carries: (id, wx_tag_id), in the order they were applied.
pub async fn tags_of(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, i64)>(
        "SELECT t.id, t.wx_tag_id FROM follower_tags ft JOIN tags t ON t.id = ft.tag_id \
         WHERE ft.merchant_id = $1 AND ft.account_id = $2 AND ft.openid = $3 \
         ORDER BY ft.tagged_at, t.id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(openid)
    .fetch_all(p)
    .await)
}

/// Makes each follower of `followers` carry exactly the given tags (our ids), in one
/// transaction of the caller's.
pub async fn replace_tags(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    followers: &[(String, Vec<i64>)],
    now: Millis,
) -> Result<(), sqlx::Error> {
    if followers.is_empty() {
        return Ok(());
    }
    let openids: Vec<&str> = followers.iter().map(|(o, _)| o.as_str()).collect();
    let sql = format!(
        "DELETE FROM follower_tags WHERE merchant_id = $1 AND account_id = $2 AND openid IN ({})",
        placeholders(3, openids.len())
    );
    on_tx!(tx, |c| {
        let mut q = sqlx::query(&sql).bind(merchant_id).bind(account_id);
        for o in &openids {
            q = q.bind(*o);
        }
        q.execute(c).await.map(|r| r.rows_affected())
    })?;
    let pairs: Vec<(&str, i64)> = followers
        .iter()
        .flat_map(|(o, tags)| tags.iter().map(move |t| (o.as_str(), *t)))
        .collect();
    insert_pairs(tx, merchant_id, account_id, &pairs, now).await
}

/// Rows of `follower_tags` per statement (5 parameters each).
const PAIRS_PER_STATEMENT: usize = 100;

async fn insert_pairs(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    pairs: &[(&str, i64)],
    now: Millis,
) -> Result<(), sqlx::Error> {
    for chunk in pairs.chunks(PAIRS_PER_STATEMENT) {
        let rows: Vec<String> = (0..chunk.len())
            .map(|i| {
                let b = 4 + i * 2;
                format!("($1, $2, ${b}, ${}, $3)", b + 1)
            })
            .collect();
        let sql = format!(
            "INSERT INTO follower_tags (merchant_id, account_id, openid, tag_id, tagged_at) \
             VALUES {} ON CONFLICT (account_id, openid, tag_id) DO NOTHING",
            rows.join(", ")
        );
        on_tx!(tx, |c| {
            let mut q = sqlx::query(&sql)
                .bind(merchant_id)
                .bind(account_id)
                .bind(now);
            for (openid, tag) in chunk {
                q = q.bind(*openid).bind(*tag);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

/// Puts the tag on the followers (those who carry it already keep their row).
pub async fn add_members(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    tag_id: i64,
    openids: &[String],
    now: Millis,
) -> Result<(), sqlx::Error> {
    let pairs: Vec<(&str, i64)> = openids.iter().map(|o| (o.as_str(), tag_id)).collect();
    let mut tx = db.begin().await?;
    insert_pairs(&mut tx, merchant_id, account_id, &pairs, now).await?;
    tx.commit().await
}

/// Takes the tag off the followers.
pub async fn remove_members(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    tag_id: i64,
    openids: &[String],
) -> Result<(), sqlx::Error> {
    if openids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "DELETE FROM follower_tags WHERE merchant_id = $1 AND account_id = $2 AND tag_id = $3 \
         AND openid IN ({})",
        placeholders(4, openids.len())
    );
    on_pool!(db, |p| {
        let mut q = sqlx::query(&sql)
            .bind(merchant_id)
            .bind(account_id)
            .bind(tag_id);
        for o in openids {
            q = q.bind(o.as_str());
        }
        q.execute(p).await.map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// What we know of some followers for tagging: (openid, subscribed, tags carried, carries
/// `tag_id`). Openids we never saw are absent.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TaggingState {
    pub openid: String,
    pub subscribed: bool,
    pub tags: i64,
    pub has_tag: i64,
}

pub async fn tagging_state(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    tag_id: i64,
    openids: &[String],
) -> Result<Vec<TaggingState>, sqlx::Error> {
    if openids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT f.openid, f.subscribed, \
         (SELECT COUNT(*) FROM follower_tags ft WHERE ft.account_id = f.account_id \
            AND ft.openid = f.openid) AS tags, \
         (SELECT COUNT(*) FROM follower_tags ft WHERE ft.account_id = f.account_id \
            AND ft.openid = f.openid AND ft.tag_id = $3) AS has_tag \
         FROM followers f WHERE f.merchant_id = $1 AND f.account_id = $2 AND f.openid IN ({})",
        placeholders(4, openids.len())
    );
    on_pool!(db, |p| {
        let mut q = sqlx::query_as::<_, TaggingState>(&sql)
            .bind(merchant_id)
            .bind(account_id)
            .bind(tag_id);
        for o in openids {
            q = q.bind(o.as_str());
        }
        q.fetch_all(p).await
    })
}

// ---- bulk operations ----

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OperationRow {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub tag_id: i64,
    pub action: String,
    pub filter: String,
    pub status: String,
    pub after_openid: String,
    pub total: i64,
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
    pub problems: String,
    pub detail: String,
    pub step: i64,
    pub started_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

const OPERATION_COLUMNS: &str = "id, merchant_id, account_id, tag_id, action, filter, status, \
     after_openid, total, done, skipped, failed, problems, detail, step, started_at, \
     updated_at, finished_at";

#[allow(clippy::too_many_arguments)]
pub async fn insert_operation(
    tx: &mut Tx,
    merchant_id: i64,
    account_id: i64,
    tag_id: i64,
    action: &str,
    filter: &str,
    total: i64,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO tag_operations (merchant_id, account_id, tag_id, action, filter, status, \
         total, started_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'running', $6, $7, $7) \
         RETURNING id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(tag_id)
    .bind(action)
    .bind(filter)
    .bind(total)
    .bind(now)
    .fetch_one(c)
    .await)
}

/// One operation; `merchant_id` `None` only for the job, which has the id from its payload.
pub async fn operation(
    db: &Db,
    merchant_id: Option<i64>,
    id: i64,
) -> Result<Option<OperationRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {OPERATION_COLUMNS} FROM tag_operations WHERE id = $1 \
         AND ($2 IS NULL OR merchant_id = $2)"
    );
    on_pool!(db, |p| sqlx::query_as::<_, OperationRow>(&sql)
        .bind(id)
        .bind(merchant_id)
        .fetch_optional(p)
        .await)
}

/// The latest operations of an account, newest first.
pub async fn recent_operations(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    limit: i64,
) -> Result<Vec<OperationRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {OPERATION_COLUMNS} FROM tag_operations WHERE merchant_id = $1 \
         AND account_id = $2 ORDER BY id DESC LIMIT $3"
    );
    on_pool!(db, |p| sqlx::query_as::<_, OperationRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(limit)
        .fetch_all(p)
        .await)
}

/// Progress of one batch: counts added, the cursor moved, problems kept.
#[derive(Clone, Debug, Default)]
pub struct BatchProgress {
    pub after_openid: String,
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
    pub problems: String,
}

pub async fn record_batch(
    db: &Db,
    id: i64,
    step: i64,
    p: &BatchProgress,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |c| {
        sqlx::query(
        "UPDATE tag_operations SET after_openid = $3, done = done + $4, skipped = skipped + $5, \
         failed = failed + $6, problems = $7, updated_at = $8 \
         WHERE id = $1 AND step = $2 AND status = 'running'"
    )
    .bind(id)
    .bind(step)
    .bind(&p.after_openid)
    .bind(p.done)
    .bind(p.skipped)
    .bind(p.failed)
    .bind(&p.problems)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

/// Moves the operation to its next step; false when another run already did.
pub async fn next_step(tx: &mut Tx, id: i64, step: i64, now: Millis) -> Result<bool, sqlx::Error> {
    let n = on_tx!(tx, |c| sqlx::query(
        "UPDATE tag_operations SET step = step + 1, updated_at = $3 \
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

pub async fn finish_operation(
    db: &Db,
    id: i64,
    status: &str,
    detail: &str,
    now: Millis,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE tag_operations SET status = $2, detail = $3, updated_at = $4, finished_at = $4 \
         WHERE id = $1 AND status = 'running'"
    )
    .bind(id)
    .bind(status)
    .bind(detail)
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}
