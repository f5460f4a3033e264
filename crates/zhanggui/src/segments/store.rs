//! The SQL of saved segments. Every statement filters on the merchant and the account.

use crate::on_pool;
use crate::platform::db::Db;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SegmentRow {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub name: String,
    /// The filter as JSON.
    pub filter: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, merchant_id, account_id, name, filter, created_at, updated_at";

/// An account's segments by id, after `after`.
pub async fn list(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<SegmentRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM segments WHERE merchant_id = $1 AND account_id = $2 AND id > $3 \
         ORDER BY id LIMIT $4"
    );
    on_pool!(db, |p| sqlx::query_as::<_, SegmentRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(after)
        .bind(limit)
        .fetch_all(p)
        .await)
}

pub async fn get(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    id: i64,
) -> Result<Option<SegmentRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM segments WHERE merchant_id = $1 AND account_id = $2 AND id = $3"
    );
    on_pool!(db, |p| sqlx::query_as::<_, SegmentRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

pub async fn insert(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    name: &str,
    filter_json: &str,
    now: i64,
) -> Result<SegmentRow, sqlx::Error> {
    let sql = format!(
        "INSERT INTO segments (merchant_id, account_id, name, filter, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING {COLUMNS}"
    );
    on_pool!(db, |p| sqlx::query_as::<_, SegmentRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(name)
        .bind(filter_json)
        .bind(now)
        .fetch_one(p)
        .await)
}

#[allow(clippy::too_many_arguments)]
pub async fn update(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    id: i64,
    name: &str,
    filter_json: &str,
    now: i64,
) -> Result<Option<SegmentRow>, sqlx::Error> {
    let sql = format!(
        "UPDATE segments SET name = $4, filter = $5, updated_at = $6 \
         WHERE merchant_id = $1 AND account_id = $2 AND id = $3 RETURNING {COLUMNS}"
    );
    on_pool!(db, |p| sqlx::query_as::<_, SegmentRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(id)
        .bind(name)
        .bind(filter_json)
        .bind(now)
        .fetch_optional(p)
        .await)
}

/// Whether a segment was there to delete.
pub async fn delete(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    id: i64,
) -> Result<bool, sqlx::Error> {
    let sql = "DELETE FROM segments WHERE merchant_id = $1 AND account_id = $2 AND id = $3";
    let done = on_pool!(db, |p| sqlx::query(sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done > 0)
}

/// The account's tags (id, name) for the builder's picker.
pub async fn tag_choices(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let sql = "SELECT id, name FROM tags WHERE merchant_id = $1 AND account_id = $2 ORDER BY name";
    on_pool!(db, |p| sqlx::query_as::<_, (i64, String)>(sql)
        .bind(merchant_id)
        .bind(account_id)
        .fetch_all(p)
        .await)
}

/// The account's channels (scene, name) for the builder's picker and the export.
pub async fn channel_choices(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let sql =
        "SELECT scene, name FROM channels WHERE merchant_id = $1 AND account_id = $2 ORDER BY name";
    on_pool!(db, |p| sqlx::query_as::<_, (String, String)>(sql)
        .bind(merchant_id)
        .bind(account_id)
        .fetch_all(p)
        .await)
}

/// A segment of any of the merchant's accounts.
pub async fn get_of_merchant(
    db: &Db,
    merchant_id: i64,
    id: i64,
) -> Result<Option<SegmentRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM segments WHERE merchant_id = $1 AND id = $2");
    on_pool!(db, |p| sqlx::query_as::<_, SegmentRow>(&sql)
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}
