//! The access token (`access_token`), fetched once and shared by every instance.
//!
//! WeChat allows 2,000 token fetches a day and a new token replaces the old one (after a
//! 5-minute overlap), so instances must not each fetch their own. [`TokenCache`] keeps the
//! token in a [`TokenStore`] all instances share (the product's database), refreshes it
//! single-flight before it expires — one task per process, one process at a time through a
//! lease in the store — and on 40001/40014/42001 forgets it only if it is still the token that
//! failed, then retries once. Errors that a new token cannot fix (40164 IP not whitelisted,
//! 40013 invalid AppID, 40125 wrong secret) are returned at once: never a refresh loop.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::{AccessToken, ApiError, fetch_access_token};

/// A token as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedToken {
    pub access_token: String,
    /// Milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("token store: {0}")]
pub struct StoreError(pub String);

/// Where the token lives, shared by every instance.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    async fn load(&self, app_id: &str) -> Result<Option<CachedToken>, StoreError>;
    /// Takes the right to refresh until `now_ms + lease_ms`; false when someone else holds
    /// an unexpired lease.
    async fn try_begin_refresh(
        &self,
        app_id: &str,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Stores a fresh token and releases the lease.
    async fn save(&self, app_id: &str, token: &CachedToken) -> Result<(), StoreError>;
    /// Releases the lease after a failed refresh.
    async fn end_refresh(&self, app_id: &str) -> Result<(), StoreError>;
    /// Forgets the token, but only if it is still `failing` (another instance may already
    /// have replaced it).
    async fn invalidate(&self, app_id: &str, failing: &str) -> Result<(), StoreError>;
}

/// Refresh this long before WeChat's expiry, so no call carries an expiring token.
const REFRESH_MARGIN_MS: i64 = 5 * 60 * 1000;
/// How long one refresher may hold the lease.
const LEASE_MS: i64 = 15_000;
/// How long a caller waits for another instance's refresh.
const WAIT_FOR_PEER: Duration = Duration::from_secs(15);

/// Errcodes that mean "this token is no good": invalid, wrong type, expired.
pub fn is_token_error(errcode: i64) -> bool {
    matches!(errcode, 40001 | 40014 | 42001)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// One account's token, through the shared store.
pub struct TokenCache {
    store: Arc<dyn TokenStore>,
    http: reqwest::Client,
    base: String,
    app_id: String,
    app_secret: String,
    /// One refresh at a time in this process.
    refreshing: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("base", &self.base)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

fn store_error(e: StoreError) -> ApiError {
    ApiError::Transport(e.to_string())
}

impl TokenCache {
    pub fn new(
        store: Arc<dyn TokenStore>,
        http: reqwest::Client,
        base: &str,
        app_id: &str,
        app_secret: &str,
    ) -> TokenCache {
        TokenCache {
            store,
            http,
            base: base.trim_end_matches('/').to_string(),
            app_id: app_id.to_string(),
            app_secret: app_secret.to_string(),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The account's AppID.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The HTTP client calls go through, for calls [`TokenCache::call`] makes with their own
    /// request (multipart uploads, file downloads).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A token good for a while yet, fetching one only when needed.
    pub async fn token(&self) -> Result<String, ApiError> {
        if let Some(t) = self.fresh().await? {
            return Ok(t);
        }
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(t) = self.fresh().await? {
            return Ok(t);
        }
        self.refresh_or_wait().await
    }

    /// Fetches a new token now, whatever the store holds (to prove the credentials work),
    /// and shares it. If another instance is refreshing at this moment, its token is used.
    pub async fn refresh_now(&self) -> Result<String, ApiError> {
        let _one_at_a_time = self.refreshing.lock().await;
        self.refresh_or_wait().await
    }

    /// Refreshes under the shared lease, or, when another instance holds it, waits for its
    /// token. The caller holds this process's refresh lock.
    async fn refresh_or_wait(&self) -> Result<String, ApiError> {
        let now = now_ms();
        if self
            .store
            .try_begin_refresh(&self.app_id, now, LEASE_MS)
            .await
            .map_err(store_error)?
        {
            return self.refresh(now).await;
        }
        self.wait_for_peer().await
    }

    async fn fresh(&self) -> Result<Option<String>, ApiError> {
        let cached = self.store.load(&self.app_id).await.map_err(store_error)?;
        Ok(cached
            .filter(|t| t.expires_at_ms - REFRESH_MARGIN_MS > now_ms())
            .map(|t| t.access_token))
    }

    async fn refresh(&self, now: i64) -> Result<String, ApiError> {
        let fetched = self
            .observe(
                "token",
                fetch_access_token(&self.http, &self.base, &self.app_id, &self.app_secret),
            )
            .await;
        match fetched {
            Ok(AccessToken {
                access_token,
                expires_in,
            }) => {
                let token = CachedToken {
                    access_token: access_token.clone(),
                    expires_at_ms: now + expires_in.saturating_mul(1000),
                };
                self.store
                    .save(&self.app_id, &token)
                    .await
                    .map_err(store_error)?;
                Ok(access_token)
            }
            Err(e) => {
                let _ = self.store.end_refresh(&self.app_id).await;
                Err(e)
            }
        }
    }

    /// Another instance is refreshing: use its token when it lands. A token that is past
    /// the margin but not yet expired stays usable meanwhile.
    async fn wait_for_peer(&self) -> Result<String, ApiError> {
        let started = Instant::now();
        while started.elapsed() < WAIT_FOR_PEER {
            let cached = self.store.load(&self.app_id).await.map_err(store_error)?;
            if let Some(t) = cached.filter(|t| t.expires_at_ms > now_ms()) {
                return Ok(t.access_token);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ApiError::Transport(
            "timed out waiting for another instance to refresh the access token".into(),
        ))
    }

    /// Runs an API call with the token; on a token error forgets the token (if nobody has
    /// replaced it yet) and retries once with a new one.
    pub async fn call<T, F, Fut>(&self, api: &'static str, mut f: F) -> Result<T, ApiError>
    where
        F: FnMut(String) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let token = self.token().await?;
        match self.observe(api, f(token.clone())).await {
            Err(e) if e.errcode().is_some_and(is_token_error) => {
                self.store
                    .invalidate(&self.app_id, &token)
                    .await
                    .map_err(store_error)?;
                let token = self.token().await?;
                self.observe(api, f(token)).await
            }
            other => other,
        }
    }

    /// `GET {base}{path}` with the shared token (and its one retry on a token error).
    pub async fn get<T: serde::de::DeserializeOwned>(
        &self,
        api: &'static str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        self.call(api, |token| async move {
            crate::api::get(&self.http, &self.base, path, &token, query).await
        })
        .await
    }

    /// `POST {base}{path}` with a JSON body and the shared token (and its one retry).
    pub async fn post<B: serde::Serialize + ?Sized, T: serde::de::DeserializeOwned>(
        &self,
        api: &'static str,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.call(api, |token| async move {
            crate::api::post(&self.http, &self.base, path, &token, body).await
        })
        .await
    }

    /// Records the call's errcode and latency.
    async fn observe<T>(
        &self,
        api: &'static str,
        call: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let started = Instant::now();
        let result = call.await;
        let errcode = match &result {
            Ok(_) => "0".to_string(),
            Err(e) => e
                .errcode()
                .map_or_else(|| "transport".to_string(), |c| c.to_string()),
        };
        metrics::counter!("zhanggui_wechat_api_calls_total", "api" => api, "errcode" => errcode)
            .increment(1);
        metrics::histogram!("zhanggui_wechat_api_duration_seconds", "api" => api)
            .record(started.elapsed().as_secs_f64());
        result
    }
}
