//! The background jobs page (后台任务): what is waiting, running and failed, with the error of
//! each failure and a retry button for dead jobs; and `/api/v1/jobs`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::JobStatus;
use super::store::{self, Job, JobFilter};
use crate::platform::api::{Page, encode_cursor};
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::AppError;
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

const PAGE_SIZE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/jobs", get(list_page))
        .route("/jobs/{id}/retry", post(retry_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list))
        .routes(routes!(api_retry))
}

/// The platform admin sees every merchant's jobs (and the platform's own); everyone else
/// sees their merchant's.
fn scope(caller: &Caller) -> Option<i64> {
    match caller.user() {
        Some(u) if u.is_platform_admin => None,
        _ => Some(caller.merchant_id),
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// queued, running, done or dead.
    pub status: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl JobsQuery {
    fn filter(&self) -> Result<JobFilter, AppError> {
        let status = match self.status.as_deref() {
            None | Some("") | Some("all") => None,
            Some(s) => Some(JobStatus::parse(s).ok_or_else(|| {
                crate::merchants::field_error("status", Msg::new("jobs.bad_status"))
            })?),
        };
        Ok(JobFilter { status, kind: None })
    }

    /// (page size, the id the page starts before).
    fn window(&self) -> Result<(i64, Option<i64>), AppError> {
        let q = crate::platform::api::ListQuery {
            limit: self.limit,
            cursor: self.cursor.clone(),
        };
        let (before, limit) = q.window()?;
        Ok((limit, self.cursor.as_ref().map(|_| before)))
    }
}

struct JobView {
    id: i64,
    kind: String,
    status: &'static str,
    status_key: &'static str,
    attempts: i64,
    max_attempts: i64,
    run_at: String,
    updated: String,
    last_error: String,
    dead: bool,
}

fn status_key(s: JobStatus) -> &'static str {
    match s {
        JobStatus::Queued => "jobs.status.queued",
        JobStatus::Running => "jobs.status.running",
        JobStatus::Done => "jobs.status.done",
        JobStatus::Dead => "jobs.status.dead",
    }
}

#[derive(Template)]
#[template(path = "jobs/list.html")]
struct ListPage {
    shell: Shell,
    jobs: Vec<JobView>,
    status: String,
    tabs: Vec<(&'static str, &'static str)>,
    next: Option<String>,
    can_retry: bool,
}

impl ListPage {
    fn is_tab(&self, value: &str) -> bool {
        self.status == value
    }
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Query(q): Query<JobsQuery>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewJobs)?;
    let filter = q.filter()?;
    let (_, before) = q.window()?;
    let shell = Shell::for_caller(&state, &caller, "jobs", "jobs.title", &uri).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let rows = store::list(&state.db, scope(&caller), &filter, PAGE_SIZE, before).await?;
    let next = next_cursor(&rows, PAGE_SIZE);
    let status = filter
        .status
        .map(|s| s.as_str())
        .unwrap_or("all")
        .to_string();
    let jobs = rows
        .into_iter()
        .map(|j| JobView {
            id: j.id,
            status: j.status.as_str(),
            status_key: status_key(j.status),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: format_local(j.run_at, tz),
            updated: format_local(j.updated_at, tz),
            last_error: j.last_error.unwrap_or_default(),
            dead: j.status == JobStatus::Dead,
            kind: j.kind,
        })
        .collect();
    page(&ListPage {
        shell,
        jobs,
        status,
        tabs: vec![
            ("all", "jobs.status.all"),
            ("queued", "jobs.status.queued"),
            ("running", "jobs.status.running"),
            ("dead", "jobs.status.dead"),
            ("done", "jobs.status.done"),
        ],
        next,
        can_retry: caller.role.allows(Permission::ManageJobs),
    })
}

fn next_cursor(rows: &[Job], limit: i64) -> Option<String> {
    if rows.len() as i64 == limit {
        rows.last().map(|j| encode_cursor(j.id))
    } else {
        None
    }
}

async fn retry(state: &AppState, caller: &Caller, id: i64) -> Result<(), AppError> {
    caller.require(Permission::ManageJobs)?;
    let scope = scope(caller);
    if store::get(&state.db, scope, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    if !store::retry_dead(&state.db, scope, id, state.clock.now_ms()).await? {
        return Err(AppError::Conflict(Msg::new("jobs.not_dead")));
    }
    state.jobs.wake();
    Ok(())
}

async fn retry_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    retry(&state, &caller, id).await?;
    Ok(Redirect::to("/jobs?status=dead&notice=job_retried").into_response())
}

#[derive(Serialize, ToSchema)]
pub struct JobOut {
    pub id: i64,
    pub kind: String,
    #[schema(example = "dead")]
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: String,
    pub created_at: String,
    pub updated_at: String,
    pub last_error: Option<String>,
}

/// Lists background jobs, newest first (owner, operator).
#[utoipa::path(get, path = "/api/v1/jobs", tag = "jobs", params(JobsQuery),
    responses((status = 200, body = Page<JobOut>), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<JobsQuery>,
) -> Result<Json<Page<JobOut>>, AppError> {
    caller.require(Permission::ViewJobs)?;
    let filter = q.filter()?;
    let (limit, before) = q.window()?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let rows = store::list(&state.db, scope(&caller), &filter, limit, before).await?;
    let next_cursor = next_cursor(&rows, limit);
    let items = rows
        .into_iter()
        .map(|j| JobOut {
            id: j.id,
            kind: j.kind,
            status: j.status.as_str().to_string(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            run_at: rfc3339(j.run_at, tz),
            created_at: rfc3339(j.created_at, tz),
            updated_at: rfc3339(j.updated_at, tz),
            last_error: j.last_error,
        })
        .collect();
    Ok(Json(Page { items, next_cursor }))
}

/// Puts a dead job back in the queue with fresh attempts (owner, operator).
#[utoipa::path(post, path = "/api/v1/jobs/{id}/retry", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 409, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_retry(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    retry(&state, &caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
