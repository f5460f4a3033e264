//! SQL for merchants.

use crate::on_pool;
use crate::on_tx;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MerchantRow {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub created_at: i64,
}

/// A merchant with the counts the platform admin's list shows.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MerchantSummaryRow {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub created_at: i64,
    pub accounts: i64,
    pub staff: i64,
    pub dead_jobs: i64,
}

pub async fn insert(
    tx: &mut Tx,
    name: &str,
    timezone: &str,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO merchants (name, timezone, created_at) VALUES ($1, $2, $3) RETURNING id"
    )
    .bind(name)
    .bind(timezone)
    .bind(now)
    .fetch_one(c)
    .await)
}

pub async fn get(db: &Db, id: i64) -> Result<Option<MerchantRow>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, MerchantRow>(
        "SELECT id, name, timezone, created_at FROM merchants WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(p)
    .await)
}

pub async fn by_name(db: &Db, name: &str) -> Result<Option<MerchantRow>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, MerchantRow>(
        "SELECT id, name, timezone, created_at FROM merchants WHERE name = $1"
    )
    .bind(name)
    .fetch_optional(p)
    .await)
}

pub async fn list(
    db: &Db,
    after_id: i64,
    limit: i64,
) -> Result<Vec<MerchantSummaryRow>, sqlx::Error> {
    on_pool!(db, |p| {
        sqlx::query_as::<_, MerchantSummaryRow>(
        "SELECT m.id, m.name, m.timezone, m.created_at, \
         (SELECT COUNT(*) FROM accounts a WHERE a.merchant_id = m.id) AS accounts, \
         (SELECT COUNT(*) FROM memberships s WHERE s.merchant_id = m.id) AS staff, \
         (SELECT COUNT(*) FROM jobs j WHERE j.merchant_id = m.id AND j.status = 'dead') AS dead_jobs \
         FROM merchants m WHERE m.id > $1 ORDER BY m.id LIMIT $2"
    )
    .bind(after_id)
    .bind(limit)
    .fetch_all(p)
    .await
    })
}

pub async fn first_id(db: &Db) -> Result<Option<i64>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM merchants ORDER BY id LIMIT 1"
    )
    .fetch_optional(p)
    .await)
}

pub async fn names(db: &Db) -> Result<Vec<(i64, String)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, String)>(
        "SELECT id, name FROM merchants ORDER BY name, id"
    )
    .fetch_all(p)
    .await)
}
