//! The emulated WeChat side (PRODUCT.md C2): WeChat's HTTP API paths, JSON shapes, error
//! codes and limits, answered from a [`Registry`] of what WeChat knows, and simulated
//! followers that talk to the merchant's callback as WeChat does.
//!
//! Layout: one module per group of WeChat endpoints (as WeChat's documentation groups
//! them); every API handler takes an [`caller::ApiCaller`], which has already checked the
//! token, fault knobs, account rights and daily quota. The scriptable API that drives the
//! sandbox itself (create followers, make them act, set fault knobs) lives under `/api/`.

pub mod caller;
pub mod custom;
pub mod datacube;
pub mod draft;
pub mod error;
pub mod faults;
pub mod followers;
pub mod inbox;
pub mod jssdk;
pub mod mass;
pub mod material;
pub mod media;
pub mod menus;
pub mod oauth;
pub mod qrcode;
pub mod quota;
pub mod registry;
pub mod rights;
pub mod server_config;
pub mod tags;
pub mod template;
pub mod token;
pub mod users;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};

pub use error::{WxError, WxResult};
pub use registry::{
    Doc, Docs, Expect, MemoryRegistry, Registry, SandboxApp, SharedRegistry, StoreError,
};

/// Milliseconds since the Unix epoch; tests move it to cross windows and expiries.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Everything a sandbox handler needs. Cheap to clone.
#[derive(Clone)]
pub struct Sandbox {
    pub docs: Docs,
    clock: Clock,
    /// For calls the sandbox makes itself: deliveries to the merchant's callback.
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").finish_non_exhaustive()
    }
}

impl Sandbox {
    pub fn new(registry: SharedRegistry) -> Sandbox {
        Sandbox {
            docs: Docs::new(registry),
            clock: Arc::new(system_ms),
            http: reqwest::Client::new(),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Sandbox {
        self.clock = clock;
        self
    }

    pub fn now_ms(&self) -> i64 {
        (self.clock)()
    }
}

fn system_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// WeChat's paths and the sandbox's own API, to be mounted at the root (standalone) or under
/// `/sandbox` (inside the product).
pub fn api_router<S>(sandbox: Sandbox) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/cgi-bin/token", get(token::token))
        .route("/cgi-bin/stable_token", post(token::stable_token))
        .route("/cgi-bin/clear_quota", post(clear_quota))
        .merge(followers::router())
        .merge(qrcode::router())
        .merge(media::router())
        .merge(material::router())
        .merge(draft::router())
        .merge(inbox::router())
        .merge(custom::router())
        .merge(mass::router())
        .merge(template::router())
        .merge(menus::router())
        .merge(users::router())
        .merge(tags::router())
        .merge(oauth::router())
        .merge(jssdk::router())
        .merge(datacube::router())
        .route(
            "/api/apps/{app_id}/server-check",
            post(server_config::server_check),
        )
        .route("/api/apps/{app_id}/faults", get(get_faults).put(put_faults))
        .route(
            "/api/apps/{app_id}/faults/expire-tokens",
            post(expire_tokens),
        )
        .with_state(sandbox)
}

#[derive(serde::Deserialize)]
struct ClearQuota {
    appid: String,
}

/// `POST /cgi-bin/clear_quota {"appid": …}`: the app's daily quotas start again.
async fn clear_quota(
    State(sb): State<Sandbox>,
    _caller: caller::ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: ClearQuota = caller::json_body(&body)?;
    if sb.docs.app(&req.appid).await?.is_none() {
        return Err(WxError::invalid_appid());
    }
    quota::clear_today(&sb, &req.appid).await?;
    Ok(error::ok())
}

/// The sandbox's own API answers with WeChat's error shape too, and 404 for unknown apps.
pub(crate) async fn known_app(sb: &Sandbox, app_id: &str) -> Result<SandboxApp, WxError> {
    sb.docs
        .app(app_id)
        .await?
        .ok_or_else(|| WxError::invalid_appid().with_status(axum::http::StatusCode::NOT_FOUND))
}

/// `GET /api/apps/{app_id}/faults`.
#[utoipa::path(get, path = "/api/apps/{app_id}/faults", tag = "sandbox",
    summary = "The account's fault knobs",
    params(("app_id" = String, Path)),
    responses((status = 200, body = faults::Faults), (status = 404, body = error::WxErrorBody)))]
async fn get_faults(State(sb): State<Sandbox>, Path(app_id): Path<String>) -> WxResult {
    known_app(&sb, &app_id).await?;
    Ok(axum::Json(faults::load(&sb, &app_id).await?).into_response())
}

/// `PUT /api/apps/{app_id}/faults`: replaces the app's fault knobs.
#[utoipa::path(put, path = "/api/apps/{app_id}/faults", tag = "sandbox",
    summary = "Set fault knobs: added latency, error rates per endpoint",
    params(("app_id" = String, Path)),
    request_body = faults::Faults,
    responses((status = 200, body = faults::Faults), (status = 400, body = error::WxErrorBody),
        (status = 404, body = error::WxErrorBody)))]
async fn put_faults(
    State(sb): State<Sandbox>,
    Path(app_id): Path<String>,
    body: axum::body::Bytes,
) -> WxResult {
    known_app(&sb, &app_id).await?;
    let settings: faults::Faults = serde_json::from_slice(&body).map_err(|e| {
        WxError::new(47001, format!("data format error: {e}"))
            .with_status(axum::http::StatusCode::BAD_REQUEST)
    })?;
    if let Some(problem) = settings.problem() {
        return Err(WxError::new(47001, problem).with_status(axum::http::StatusCode::BAD_REQUEST));
    }
    faults::save(&sb, &app_id, &settings).await?;
    Ok(axum::Json(settings).into_response())
}

/// `POST /api/apps/{app_id}/faults/expire-tokens`: every live token of the app expires now.
#[utoipa::path(post, path = "/api/apps/{app_id}/faults/expire-tokens", tag = "sandbox",
    summary = "Expire the account's access tokens now (the next API call gets 42001)",
    params(("app_id" = String, Path)),
    responses((status = 200, body = Expired), (status = 404, body = error::WxErrorBody)))]
async fn expire_tokens(State(sb): State<Sandbox>, Path(app_id): Path<String>) -> WxResult {
    known_app(&sb, &app_id).await?;
    let expired = token::expire_all(&sb, &app_id).await?;
    Ok(axum::Json(Expired { expired }).into_response())
}

/// How many tokens stopped working.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct Expired {
    expired: usize,
}

/// The sandbox's own API (not WeChat's): simulated followers and fault knobs, for tests,
/// benchmarks and demos. Paths are relative to where the sandbox is mounted.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    followers::create_followers,
    followers::list_followers,
    followers::act,
    followers::follower_menu,
    followers::list_qrcodes,
    inbox::inbox_endpoint,
    server_config::server_check,
    oauth::browse,
    jssdk::verify_query,
    jssdk::verify_json,
    jssdk::put_ticket,
    get_faults,
    put_faults,
    expire_tokens
))]
pub struct SandboxApiDoc;

/// The OpenAPI document of the sandbox's own API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    <SandboxApiDoc as utoipa::OpenApi>::openapi()
}
