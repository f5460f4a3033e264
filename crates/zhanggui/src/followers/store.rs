//! SQL for followers and the projection cursor.

use super::model::Follower;
use crate::platform::db::{Db, Tx};
use crate::{on_pool, on_tx};

#[derive(sqlx::FromRow)]
struct FollowerRow {
    merchant_id: i64,
    account_id: i64,
    openid: String,
    first_seen_at: i64,
    last_interaction_at: i64,
    subscribed: bool,
    subscription_changed_at: Option<i64>,
    subscribed_at: Option<i64>,
    unsubscribed_at: Option<i64>,
    channel: Option<String>,
    channel_at: Option<i64>,
    last_latitude: Option<f64>,
    last_longitude: Option<f64>,
    last_location_at: Option<i64>,
}

impl From<FollowerRow> for Follower {
    fn from(r: FollowerRow) -> Follower {
        Follower {
            merchant_id: r.merchant_id,
            account_id: r.account_id,
            openid: r.openid,
            first_seen_at: r.first_seen_at,
            last_interaction_at: r.last_interaction_at,
            subscribed: r.subscribed,
            subscription_changed_at: r.subscription_changed_at,
            subscribed_at: r.subscribed_at,
            unsubscribed_at: r.unsubscribed_at,
            channel: r.channel,
            channel_at: r.channel_at,
            last_latitude: r.last_latitude,
            last_longitude: r.last_longitude,
            last_location_at: r.last_location_at,
        }
    }
}

const COLUMNS: &str = "merchant_id, account_id, openid, first_seen_at, last_interaction_at, \
     subscribed, subscription_changed_at, subscribed_at, unsubscribed_at, channel, channel_at, \
     last_latitude, last_longitude, last_location_at";

pub async fn get_in(
    tx: &mut Tx,
    account_id: i64,
    openid: &str,
) -> Result<Option<Follower>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM followers WHERE account_id = $1 AND openid = $2");
    let row = on_tx!(tx, |c| sqlx::query_as::<_, FollowerRow>(&sql)
        .bind(account_id)
        .bind(openid)
        .fetch_optional(c)
        .await)?;
    Ok(row.map(Follower::from))
}

/// A follower of one of this merchant's accounts.
pub async fn get(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
) -> Result<Option<Follower>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM followers WHERE merchant_id = $1 AND account_id = $2 AND openid = $3"
    );
    let row = on_pool!(db, |p| sqlx::query_as::<_, FollowerRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(openid)
        .fetch_optional(p)
        .await)?;
    Ok(row.map(Follower::from))
}

pub async fn upsert(tx: &mut Tx, f: &Follower) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO followers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
         $12, $13, $14) ON CONFLICT (account_id, openid) DO UPDATE SET \
         first_seen_at = excluded.first_seen_at, last_interaction_at = excluded.last_interaction_at, \
         subscribed = excluded.subscribed, subscription_changed_at = excluded.subscription_changed_at, \
         subscribed_at = excluded.subscribed_at, unsubscribed_at = excluded.unsubscribed_at, \
         channel = excluded.channel, channel_at = excluded.channel_at, \
         last_latitude = excluded.last_latitude, last_longitude = excluded.last_longitude, \
         last_location_at = excluded.last_location_at"
    );
    on_tx!(tx, |c| sqlx::query(&sql)
        .bind(f.merchant_id)
        .bind(f.account_id)
        .bind(&f.openid)
        .bind(f.first_seen_at)
        .bind(f.last_interaction_at)
        .bind(f.subscribed)
        .bind(f.subscription_changed_at)
        .bind(f.subscribed_at)
        .bind(f.unsubscribed_at)
        .bind(&f.channel)
        .bind(f.channel_at)
        .bind(f.last_latitude)
        .bind(f.last_longitude)
        .bind(f.last_location_at)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Takes the projection's cursor for this transaction. `None` when another instance is
/// projecting right now (Postgres skips the locked row; SQLite's write lock already
/// serialises projectors).
pub async fn lock_cursor(tx: &mut Tx, name: &str) -> Result<Option<i64>, sqlx::Error> {
    let sql = format!(
        "SELECT last_id FROM log_projections WHERE name = $1 {}",
        tx.dialect().for_update_skip_locked()
    );
    on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(&sql)
        .bind(name)
        .fetch_optional(c)
        .await)
}

pub async fn set_cursor(tx: &mut Tx, name: &str, last_id: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE log_projections SET last_id = $1 WHERE name = $2"
    )
    .bind(last_id)
    .bind(name)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Followers of an account, most recently active first.
pub async fn list(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    limit: i64,
) -> Result<Vec<Follower>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM followers WHERE merchant_id = $1 AND account_id = $2 \
         ORDER BY last_interaction_at DESC LIMIT $3"
    );
    let rows = on_pool!(db, |p| sqlx::query_as::<_, FollowerRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(limit)
        .fetch_all(p)
        .await)?;
    Ok(rows.into_iter().map(Follower::from).collect())
}
