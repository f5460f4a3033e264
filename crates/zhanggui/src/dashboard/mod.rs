//! The dashboard (概览): the merchant's setup at a glance. Later capabilities add their numbers
//! here (followers, members, sales).

pub mod routes;

use crate::platform::auth::store as auth_store;
use crate::platform::db::Db;

/// The counts the dashboard shows for one merchant.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Overview {
    pub merchant_id: i64,
    pub merchant_name: String,
    pub accounts: i64,
    pub staff: i64,
    pub api_keys: i64,
    pub jobs_waiting: i64,
    pub jobs_dead: i64,
}

pub async fn overview(db: &Db, merchant_id: i64) -> Result<Overview, sqlx::Error> {
    let merchant_name = crate::merchants::get(db, merchant_id)
        .await?
        .map(|m| m.name)
        .unwrap_or_default();
    let accounts = crate::accounts::choices(db, merchant_id).await?.len() as i64;
    let staff = auth_store::staff_of(db, merchant_id).await?.len() as i64;
    let api_keys = crate::apikeys::store::list(db, merchant_id, 0, i64::MAX)
        .await?
        .iter()
        .filter(|k| k.revoked_at.is_none())
        .count() as i64;
    let jobs = crate::platform::jobs::store::merchant_counts(db, merchant_id).await?;
    let count = |s: &str| {
        jobs.iter()
            .filter(|(k, _)| k == s)
            .map(|(_, n)| *n)
            .sum::<i64>()
    };
    Ok(Overview {
        merchant_id,
        merchant_name,
        accounts,
        staff,
        api_keys,
        jobs_waiting: count("queued") + count("running"),
        jobs_dead: count("dead"),
    })
}
