//! The emulated WeChat side (PRODUCT.md C2): WeChat's HTTP API paths, JSON shapes and error
//! codes, answered from a [`Registry`] of the apps "WeChat" knows.
//!
//! So far: the credential endpoint, and simulated followers ([`followers`]) that message the
//! merchant's callback exactly as WeChat does. Menus, mass sends, tags and the rest grow here
//! (see the sandbox issue).

pub mod followers;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

/// An app as WeChat knows it: what the merchant pasted into WeChat's developer settings.
#[derive(Clone)]
pub struct SandboxApp {
    pub app_id: String,
    pub app_secret: String,
    pub token: String,
    pub encoding_aes_key: String,
    /// `plaintext`, `compatible` or `safe`.
    pub security_mode: String,
    /// Where WeChat delivers this app's messages.
    pub callback_url: String,
}

impl std::fmt::Debug for SandboxApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxApp")
            .field("app_id", &self.app_id)
            .field("security_mode", &self.security_mode)
            .field("callback_url", &self.callback_url)
            .finish_non_exhaustive()
    }
}

impl SandboxApp {
    /// The account's original id (`gh_…`), as `ToUserName` of every message.
    pub fn original_id(&self) -> String {
        let tail: String = self.app_id.chars().skip(2).take(12).collect();
        format!("gh_{tail}")
    }
}

/// Where the sandbox keeps what WeChat would know. The product stores it in its database so
/// that every instance and the CLI see the same apps.
#[async_trait::async_trait]
pub trait Registry: Send + Sync {
    async fn app(&self, app_id: &str) -> Result<Option<SandboxApp>, String>;
    /// Stores new followers of an app (their openids are made by the sandbox).
    async fn add_followers(&self, app_id: &str, openids: &[String]) -> Result<(), String>;
    /// Whether `openid` is a follower the sandbox made for this app.
    async fn has_follower(&self, app_id: &str, openid: &str) -> Result<bool, String>;
    /// The app's newest followers, newest first.
    async fn list_followers(&self, app_id: &str, limit: i64) -> Result<Vec<String>, String>;
}

pub type SharedRegistry = Arc<dyn Registry>;

/// WeChat's paths, to be mounted at the root (standalone) or under `/sandbox`.
pub fn api_router<S>(registry: SharedRegistry) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/cgi-bin/token", get(token))
        .merge(followers::router())
        .with_state(registry)
}

#[derive(Deserialize)]
struct TokenQuery {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
}

fn wechat_error(errcode: i64, errmsg: &str) -> Json<Value> {
    Json(json!({ "errcode": errcode, "errmsg": errmsg }))
}

/// `GET /cgi-bin/token`: WeChat answers HTTP 200 with an errcode for every failure.
async fn token(State(registry): State<SharedRegistry>, Query(q): Query<TokenQuery>) -> Json<Value> {
    if q.grant_type.as_deref() != Some("client_credential") {
        return wechat_error(40002, "invalid grant_type");
    }
    let Some(app_id) = q.appid.filter(|a| !a.is_empty()) else {
        return wechat_error(41002, "appid missing");
    };
    let Some(secret) = q.secret.filter(|s| !s.is_empty()) else {
        return wechat_error(41004, "appsecret missing");
    };
    let app = match registry.app(&app_id).await {
        Ok(app) => app,
        Err(_) => return wechat_error(-1, "system error"),
    };
    match app {
        None => wechat_error(40013, "invalid appid"),
        Some(app) if app.app_secret != secret => wechat_error(40125, "invalid appsecret"),
        Some(_) => Json(json!({ "access_token": new_token(), "expires_in": 7200 })),
    }
}

/// WeChat's tokens are opaque strings of 100+ characters.
fn new_token() -> String {
    use rand::RngCore;
    let mut buf = [0u8; 64];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}
