//! The shared access-token cache of every account: the database side of
//! [`wechat::token::TokenStore`], and one [`TokenCache`] per AppID in this process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use wechat::token::{CachedToken, StoreError, TokenCache, TokenStore};

use super::AccountRow;
use crate::platform::db::{Db, Tx};
use crate::platform::state::AppState;
use crate::{on_pool, on_tx};

/// The `wechat_tokens` table.
pub struct DbTokenStore {
    db: Db,
}

impl DbTokenStore {
    pub fn new(db: Db) -> DbTokenStore {
        DbTokenStore { db }
    }
}

fn err(e: sqlx::Error) -> StoreError {
    StoreError(e.to_string())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[async_trait::async_trait]
impl TokenStore for DbTokenStore {
    async fn load(&self, app_id: &str) -> Result<Option<CachedToken>, StoreError> {
        let row = on_pool!(&self.db, |p| sqlx::query_as::<_, (String, i64)>(
            "SELECT access_token, expires_at FROM wechat_tokens \
             WHERE app_id = $1 AND access_token <> ''"
        )
        .bind(app_id)
        .fetch_optional(p)
        .await)
        .map_err(err)?;
        Ok(row.map(|(access_token, expires_at_ms)| CachedToken {
            access_token,
            expires_at_ms,
        }))
    }

    async fn try_begin_refresh(
        &self,
        app_id: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError> {
        // One statement, so two instances cannot both see the lease free.
        let taken = on_pool!(&self.db, |p| sqlx::query(
            "INSERT INTO wechat_tokens (app_id, access_token, expires_at, refresh_until, updated_at) \
             VALUES ($1, '', 0, $3, $2) ON CONFLICT (app_id) DO UPDATE SET \
             refresh_until = excluded.refresh_until, updated_at = excluded.updated_at \
             WHERE wechat_tokens.refresh_until IS NULL OR wechat_tokens.refresh_until < $2"
        )
        .bind(app_id)
        .bind(now_ms)
        .bind(now_ms + lease_ms)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(err)?;
        Ok(taken == 1)
    }

    async fn save(&self, app_id: &str, token: &CachedToken) -> Result<(), StoreError> {
        on_pool!(&self.db, |p| sqlx::query(
            "UPDATE wechat_tokens SET access_token = $1, expires_at = $2, refresh_until = NULL, \
             updated_at = $3 WHERE app_id = $4"
        )
        .bind(&token.access_token)
        .bind(token.expires_at_ms)
        .bind(now_ms())
        .bind(app_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(err)?;
        Ok(())
    }

    async fn end_refresh(&self, app_id: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, |p| sqlx::query(
            "UPDATE wechat_tokens SET refresh_until = NULL WHERE app_id = $1"
        )
        .bind(app_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(err)?;
        Ok(())
    }

    async fn invalidate(&self, app_id: &str, failing: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, |p| sqlx::query(
            "UPDATE wechat_tokens SET access_token = '', expires_at = 0 \
             WHERE app_id = $1 AND access_token = $2"
        )
        .bind(app_id)
        .bind(failing)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))
        .map_err(err)?;
        Ok(())
    }
}

/// Forgets an AppID's token, e.g. after its AppSecret changed.
pub async fn forget(tx: &mut Tx, app_id: &str) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| sqlx::query(
        "DELETE FROM wechat_tokens WHERE app_id = $1"
    )
    .bind(app_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// This process's caches, one per AppID (and per secret and base, so an edited account gets
/// a fresh one).
#[derive(Default)]
pub struct TokenCaches {
    caches: Mutex<HashMap<(String, String, String), Arc<TokenCache>>>,
}

impl std::fmt::Debug for TokenCaches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCaches").finish_non_exhaustive()
    }
}

/// The WeChat API an account talks to: the sandbox or the real one.
pub fn api_base<'s>(state: &'s AppState, account: &AccountRow) -> &'s str {
    if account.sandbox {
        &state.config.sandbox_api_base
    } else {
        &state.config.wechat_api_base
    }
}

/// The token cache of an account.
pub fn cache_of(state: &AppState, account: &AccountRow) -> Arc<TokenCache> {
    let base = api_base(state, account).to_string();
    let key = (
        account.app_id.clone(),
        account.app_secret.clone(),
        base.clone(),
    );
    let mut caches = match state.tokens.caches.lock() {
        Ok(c) => c,
        Err(poisoned) => poisoned.into_inner(),
    };
    caches
        .entry(key)
        .or_insert_with(|| {
            Arc::new(TokenCache::new(
                Arc::new(DbTokenStore::new(state.db.clone())),
                state.http.clone(),
                &base,
                &account.app_id,
                &account.app_secret,
            ))
        })
        .clone()
}
