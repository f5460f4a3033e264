//! How the product hosts the emulated WeChat (`crates/sandbox`) in sandbox mode: its state in
//! our database ([`DbRegistry`]), on our clock, mounted under `/sandbox` on our listener.
//! The apps it knows are the sandbox accounts registered by `accounts` (`sandbox_apps`).

pub mod access;
pub mod routes;
pub mod store;

use std::sync::Arc;

use ::sandbox::{Doc, Expect, Registry, SandboxApp, StoreError};
use serde_json::Value;

use crate::platform::clock::Clock;
use crate::platform::db::Db;
use crate::platform::state::AppState;

/// The emulated WeChat of this instance, sharing its state with every other instance through
/// the database.
pub fn sandbox(state: &AppState) -> ::sandbox::Sandbox {
    of(state.db.clone(), state.clock.clone())
}

pub fn of(db: Db, clock: Clock) -> ::sandbox::Sandbox {
    let registry = Arc::new(DbRegistry {
        db,
        clock: clock.clone(),
    });
    ::sandbox::Sandbox::new(registry).with_clock(Arc::new(move || clock.now_ms()))
}

/// `zhanggui sandbox --listen`: WeChat's paths at the root, as the real API host serves them.
/// No request tracing: WeChat's query strings carry secrets and tokens.
pub fn standalone_router(db: Db, clock: Clock) -> axum::Router {
    ::sandbox::api_router(of(db, clock))
}

/// The sandbox's [`Registry`] on our database.
pub struct DbRegistry {
    db: Db,
    clock: Clock,
}

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

fn parse(value: &str) -> Result<Value, StoreError> {
    serde_json::from_str(value).map_err(failed)
}

#[async_trait::async_trait]
impl Registry for DbRegistry {
    async fn app(&self, app_id: &str) -> Result<Option<SandboxApp>, StoreError> {
        let row = crate::accounts::store::sandbox_app(&self.db, app_id)
            .await
            .map_err(failed)?;
        Ok(row.map(|r| SandboxApp {
            app_id: r.app_id,
            app_secret: r.app_secret,
            token: r.token,
            encoding_aes_key: r.encoding_aes_key,
            security_mode: r.security_mode,
            callback_url: r.callback_url,
            kind: r.kind,
            verified: r.verified,
        }))
    }

    async fn get(&self, app_id: &str, kind: &str, key: &str) -> Result<Option<Doc>, StoreError> {
        match store::get(&self.db, app_id, kind, key)
            .await
            .map_err(failed)?
        {
            Some((value, version)) => Ok(Some(Doc {
                value: parse(&value)?,
                version,
            })),
            None => Ok(None),
        }
    }

    async fn put(
        &self,
        app_id: &str,
        kind: &str,
        key: &str,
        value: &Value,
        expect: Expect,
    ) -> Result<bool, StoreError> {
        let text = value.to_string();
        let now = self.clock.now_ms();
        let db = &self.db;
        match expect {
            Expect::Absent => store::insert(db, app_id, kind, key, &text, now).await,
            Expect::Version(v) => store::replace(db, app_id, kind, key, &text, v, now).await,
            Expect::Any => store::upsert(db, app_id, kind, key, &text, now)
                .await
                .map(|()| true),
        }
        .map_err(failed)
    }

    async fn insert_many(
        &self,
        app_id: &str,
        kind: &str,
        docs: &[(String, Value)],
    ) -> Result<u64, StoreError> {
        let docs: Vec<(String, String)> = docs
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        store::insert_many(&self.db, app_id, kind, &docs, self.clock.now_ms())
            .await
            .map_err(failed)
    }

    async fn delete(&self, app_id: &str, kind: &str, key: &str) -> Result<bool, StoreError> {
        store::delete(&self.db, app_id, kind, key)
            .await
            .map_err(failed)
    }

    async fn list(
        &self,
        app_id: &str,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Doc)>, StoreError> {
        let rows = store::list(&self.db, app_id, kind, after, as_limit(limit))
            .await
            .map_err(failed)?;
        to_docs(rows)
    }

    async fn newest(
        &self,
        app_id: &str,
        kind: &str,
        limit: usize,
    ) -> Result<Vec<(String, Doc)>, StoreError> {
        let rows = store::newest(&self.db, app_id, kind, as_limit(limit))
            .await
            .map_err(failed)?;
        to_docs(rows)
    }

    async fn count(&self, app_id: &str, kind: &str) -> Result<u64, StoreError> {
        let n = store::count(&self.db, app_id, kind).await.map_err(failed)?;
        Ok(n.max(0) as u64)
    }
}

fn as_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn to_docs(rows: Vec<(String, String, i64)>) -> Result<Vec<(String, Doc)>, StoreError> {
    rows.into_iter()
        .map(|(key, value, version)| {
            Ok((
                key,
                Doc {
                    value: parse(&value)?,
                    version,
                },
            ))
        })
        .collect()
}
