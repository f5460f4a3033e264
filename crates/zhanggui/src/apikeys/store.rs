//! SQL for API keys. Only a hash of each key is stored.

use crate::on_pool;
use crate::platform::clock::Millis;
use crate::platform::db::Db;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: i64,
    pub merchant_id: i64,
    pub name: String,
    pub prefix: String,
    pub role: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, merchant_id, name, prefix, role, created_at, last_used_at, revoked_at";

pub struct NewKey<'a> {
    pub merchant_id: i64,
    pub name: &'a str,
    pub prefix: &'a str,
    pub key_hash: &'a str,
    pub role: &'a str,
    pub created_by: Option<i64>,
}

pub async fn insert(db: &Db, k: &NewKey<'_>, now: Millis) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO api_keys (merchant_id, name, prefix, key_hash, role, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
    )
    .bind(k.merchant_id)
    .bind(k.name)
    .bind(k.prefix)
    .bind(k.key_hash)
    .bind(k.role)
    .bind(k.created_by)
    .bind(now)
    .fetch_one(p)
    .await)
}

/// The live key with this hash, if any.
pub async fn by_hash(db: &Db, key_hash: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL");
    on_pool!(db, |p| sqlx::query_as::<_, ApiKeyRow>(&sql)
        .bind(key_hash)
        .fetch_optional(p)
        .await)
}

pub async fn touch(db: &Db, id: i64, now: Millis) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE api_keys SET last_used_at = $1 WHERE id = $2"
    )
    .bind(now)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1 AND merchant_id = $2");
    on_pool!(db, |p| sqlx::query_as::<_, ApiKeyRow>(&sql)
        .bind(id)
        .bind(merchant_id)
        .fetch_optional(p)
        .await)
}

pub async fn list(
    db: &Db,
    merchant_id: i64,
    after_id: i64,
    limit: i64,
) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM api_keys WHERE merchant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    );
    on_pool!(db, |p| sqlx::query_as::<_, ApiKeyRow>(&sql)
        .bind(merchant_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(p)
        .await)
}

/// Revokes a key of this merchant; false when there is no such live key.
pub async fn revoke(db: &Db, merchant_id: i64, id: i64, now: Millis) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, |p| {
        sqlx::query(
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND merchant_id = $3 AND revoked_at IS NULL"
    )
    .bind(now)
    .bind(id)
    .bind(merchant_id)
    .execute(p)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(done == 1)
}
