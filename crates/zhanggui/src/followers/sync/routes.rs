//! `GET|POST /api/v1/accounts/{id}/followers/sync`, the console's start button
//! (`POST /followers/sync`), and the progress card pages include (sync_panel.html).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use super::model::{SyncStatus, percent};
use super::store::{self, SyncRow};
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::AppError;
use crate::platform::i18n::Lang;
use crate::platform::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/followers/sync", post(start_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(utoipa_axum::routes!(api_get, api_start))
}

/// The latest sync of an account.
#[derive(Serialize, ToSchema)]
pub struct SyncOut {
    /// `none` when no sync ever ran.
    pub status: SyncStatus,
    /// The status in the caller's language.
    pub status_label: String,
    pub id: Option<i64>,
    /// Followers WeChat counts.
    pub total: i64,
    /// Openids read from `user/get` so far.
    pub listed: i64,
    /// Profiles read so far.
    pub profiled: i64,
    /// 0–100.
    pub percent: i64,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Why it failed, in the caller's language.
    pub error: Option<String>,
}

fn sync_out(row: Option<&SyncRow>, tz: chrono_tz::Tz, lang: Lang) -> SyncOut {
    let status = row.map_or(SyncStatus::None, |r| SyncStatus::parse(&r.status));
    SyncOut {
        status,
        status_label: lang.t(status.label_key()).to_string(),
        id: row.map(|r| r.id),
        total: row.map_or(0, |r| r.total),
        listed: row.map_or(0, |r| r.listed),
        profiled: row.map_or(0, |r| r.profiled),
        percent: row.map_or(0, |r| {
            percent(r.total, r.listed, r.profiled, status == SyncStatus::Done)
        }),
        started_at: row.map(|r| rfc3339(r.started_at, tz)),
        finished_at: row.and_then(|r| r.finished_at).map(|t| rfc3339(t, tz)),
        error: row
            .filter(|r| status == SyncStatus::Failed && !r.detail.is_empty())
            .map(|r| detail_text(&r.detail, lang)),
    }
}

fn detail_text(detail: &str, lang: Lang) -> String {
    if crate::platform::i18n::has_key(detail) {
        lang.t(detail).to_string()
    } else {
        lang.t("sync.failed_retries").to_string()
    }
}

/// The progress card as a page shows it.
pub struct SyncPanel {
    pub account_id: i64,
    pub status: SyncStatus,
    pub running: bool,
    pub total: i64,
    pub listed: i64,
    pub profiled: i64,
    pub percent: i64,
    pub started: String,
    pub finished: String,
    pub error: String,
    pub can_start: bool,
    /// Where the start form returns to.
    pub back: String,
}

/// The card of the account's latest sync, for pages that include sync_panel.html.
pub async fn panel(
    state: &AppState,
    caller: &Caller,
    account_id: i64,
    back: &str,
) -> Result<SyncPanel, AppError> {
    let row = store::latest(&state.db, caller.merchant_id, account_id).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let out = sync_out(row.as_ref(), tz, caller.lang);
    Ok(SyncPanel {
        account_id,
        status: out.status,
        running: out.status == SyncStatus::Running,
        total: out.total,
        listed: out.listed,
        profiled: out.profiled,
        percent: out.percent,
        started: row
            .as_ref()
            .map(|r| format_local(r.started_at, tz))
            .unwrap_or_default(),
        finished: row
            .as_ref()
            .and_then(|r| r.finished_at)
            .map(|t| format_local(t, tz))
            .unwrap_or_default(),
        error: out.error.unwrap_or_default(),
        can_start: caller.role.allows(Permission::ManageFollowers),
        back: back.to_string(),
    })
}

#[derive(Deserialize)]
struct StartForm {
    account_id: i64,
    #[serde(default)]
    back: String,
}

/// Only our own pages as places to return to.
fn safe_back(back: &str) -> &str {
    if back.starts_with('/') && !back.starts_with("//") {
        back
    } else {
        "/tags"
    }
}

async fn start_form(
    State(state): State<AppState>,
    caller: Caller,
    Form(f): Form<StartForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    super::start(&state, caller.merchant_id, f.account_id).await?;
    Ok(Redirect::to(safe_back(&f.back)).into_response())
}

/// The account's latest follower sync and its progress (owner, operator, agent).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/followers/sync", tag = "followers",
    params(("id" = i64, Path)),
    responses((status = 200, body = SyncOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<SyncOut>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    crate::accounts::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let row = store::latest(&state.db, caller.merchant_id, id).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok(Json(sync_out(row.as_ref(), tz, caller.lang)))
}

/// Starts syncing the account's followers from WeChat in the background (owner, operator);
/// 409 while a sync is running.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/followers/sync", tag = "followers",
    params(("id" = i64, Path)),
    responses((status = 202, body = SyncOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_start(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<SyncOut>), AppError> {
    caller.require(Permission::ManageFollowers)?;
    super::start(&state, caller.merchant_id, id).await?;
    let row = store::latest(&state.db, caller.merchant_id, id).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(sync_out(row.as_ref(), tz, caller.lang)),
    ))
}
