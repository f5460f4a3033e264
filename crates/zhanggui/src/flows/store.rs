//! SQL for flows, where followers are in them, and their answers.

use crate::platform::db::Db;
use crate::platform::jobs::{self, NewJob};
use crate::replies::store::{bump_version, finish_change};
use crate::{on_pool, on_tx};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct FlowRow {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub name: String,
    pub enabled: bool,
    pub definition: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str =
    "id, merchant_id, account_id, name, enabled, definition, created_at, updated_at";

pub async fn insert(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    name: &str,
    enabled: bool,
    definition: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let mut tx = db.begin().await?;
    let id = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO flows (merchant_id, account_id, name, enabled, definition, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(name)
    .bind(enabled)
    .bind(definition)
    .bind(now)
    .fetch_one(c)
    .await)?;
    bump_version(&mut tx, account_id).await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn update(
    db: &Db,
    merchant_id: i64,
    id: i64,
    name: &str,
    enabled: bool,
    definition: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let account = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "UPDATE flows SET name = $3, enabled = $4, definition = $5, updated_at = $6 \
         WHERE merchant_id = $1 AND id = $2 RETURNING account_id"
    )
    .bind(merchant_id)
    .bind(id)
    .bind(name)
    .bind(enabled)
    .bind(definition)
    .bind(now)
    .fetch_optional(c)
    .await)?;
    finish_change(tx, account).await
}

pub async fn delete(db: &Db, merchant_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let account = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "DELETE FROM flows WHERE merchant_id = $1 AND id = $2 RETURNING account_id"
    )
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(c)
    .await)?;
    finish_change(tx, account).await
}

pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<Option<FlowRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM flows WHERE merchant_id = $1 AND id = $2");
    on_pool!(db, |p| sqlx::query_as::<_, FlowRow>(&sql)
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

pub async fn list(db: &Db, merchant_id: i64, account_id: i64) -> Result<Vec<FlowRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM flows WHERE merchant_id = $1 AND account_id = $2 ORDER BY id DESC"
    );
    on_pool!(db, |p| sqlx::query_as::<_, FlowRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .fetch_all(p)
        .await)
}

pub async fn enabled(db: &Db, account_id: i64) -> Result<Vec<FlowRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM flows WHERE account_id = $1 AND enabled = $2");
    on_pool!(db, |p| sqlx::query_as::<_, FlowRow>(&sql)
        .bind(account_id)
        .bind(true)
        .fetch_all(p)
        .await)
}

/// Where a follower is (or was last) in a flow.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub flow_id: i64,
    pub step: i64,
    pub reasks: i64,
    pub ended: bool,
    pub expires_at: i64,
    pub last_key: String,
    pub last_reply: String,
}

pub async fn session(
    db: &Db,
    account_id: i64,
    openid: &str,
) -> Result<Option<SessionRow>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, SessionRow>(
        "SELECT flow_id, step, reasks, ended, expires_at, last_key, last_reply \
         FROM flow_sessions WHERE account_id = $1 AND openid = $2"
    )
    .bind(account_id)
    .bind(openid)
    .fetch_optional(p)
    .await)
}

/// One turn of a conversation to record.
pub struct TurnWrite<'a> {
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: &'a str,
    pub flow_id: i64,
    pub step: i64,
    pub reasks: i64,
    pub ended: bool,
    pub expires_at: i64,
    pub dedup_key: &'a str,
    pub reply: &'a str,
    /// The answer given, when the turn took one: (step, letter or '', text).
    pub answer: Option<(i64, String, String)>,
    /// The job that applies the answer's tag and profile field.
    pub job: Option<NewJob>,
}

/// Records a turn in one transaction: the follower's position, their answer and its job.
pub async fn record_turn(db: &Db, t: &TurnWrite<'_>, now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| sqlx::query(
        "INSERT INTO flow_sessions (account_id, openid, merchant_id, flow_id, step, reasks, \
         ended, expires_at, last_key, last_reply, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (account_id, openid) DO UPDATE SET flow_id = excluded.flow_id, \
         step = excluded.step, reasks = excluded.reasks, ended = excluded.ended, \
         expires_at = excluded.expires_at, last_key = excluded.last_key, \
         last_reply = excluded.last_reply, updated_at = excluded.updated_at"
    )
    .bind(t.account_id)
    .bind(t.openid)
    .bind(t.merchant_id)
    .bind(t.flow_id)
    .bind(t.step)
    .bind(t.reasks)
    .bind(t.ended)
    .bind(t.expires_at)
    .bind(t.dedup_key)
    .bind(t.reply)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    if let Some((step, choice, text)) = &t.answer {
        on_tx!(&mut tx, |c| sqlx::query(
            "INSERT INTO flow_answers (merchant_id, account_id, openid, flow_id, step, choice, \
             text, answered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )
        .bind(t.merchant_id)
        .bind(t.account_id)
        .bind(t.openid)
        .bind(t.flow_id)
        .bind(*step)
        .bind(choice)
        .bind(text)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))?;
    }
    if let Some(job) = &t.job {
        jobs::enqueue(&mut tx, now, job.clone()).await?;
    }
    tx.commit().await
}

/// (step, choice, answers) of a flow.
pub async fn answer_counts(
    db: &Db,
    merchant_id: i64,
    flow_id: i64,
) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, String, i64)>(
        "SELECT step, choice, COUNT(*) FROM flow_answers WHERE merchant_id = $1 AND flow_id = $2 \
         GROUP BY step, choice ORDER BY step, choice"
    )
    .bind(merchant_id)
    .bind(flow_id)
    .fetch_all(p)
    .await)
}

/// (followers who started, followers who finished) a flow.
pub async fn reach(db: &Db, merchant_id: i64, flow_id: i64) -> Result<(i64, i64), sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, i64)>(
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN ended = $3 THEN 1 ELSE 0 END), 0) \
         FROM flow_sessions WHERE merchant_id = $1 AND flow_id = $2"
    )
    .bind(merchant_id)
    .bind(flow_id)
    .bind(true)
    .fetch_one(p)
    .await)
}

/// Sets one of the collected profile fields of a follower; false when there is no follower
/// row yet (the projector adds it within a second).
pub async fn set_profile_field(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    field: super::model::Field,
    value: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    // The column comes from our own enum, never from input.
    let sql = format!(
        "UPDATE followers SET {} = $4, profile_updated_at = $5 \
         WHERE merchant_id = $1 AND account_id = $2 AND openid = $3",
        field.as_str()
    );
    let n = on_pool!(db, |p| sqlx::query(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(openid)
        .bind(value)
        .bind(now)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// (flow id, step, choice, text, answered_at) of a follower's latest answers, newest first.
pub async fn answers_of(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    limit: i64,
) -> Result<Vec<(i64, i64, String, String, i64)>, sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query_as::<_, (i64, i64, String, String, i64)>(
            "SELECT flow_id, step, choice, text, answered_at FROM flow_answers \
         WHERE merchant_id = $1 AND account_id = $2 AND openid = $3 \
         ORDER BY answered_at DESC, id DESC LIMIT $4",
        )
        .bind(merchant_id)
        .bind(account_id)
        .bind(openid)
        .bind(limit)
        .fetch_all(p)
        .await
    })
}
