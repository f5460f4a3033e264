//! Export (`/followers/export.csv`, `/api/v1/accounts/{id}/followers/export.csv`) and import
//! (`/followers/import`, `/api/v1/accounts/{id}/followers/imports`) of followers as CSV.

use askama::Template;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::model::{Change, Column, MAX_IMPORT_BYTES};
use super::{Report, RowReport};
use crate::followers::Filter;
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::format_local;
use crate::platform::error::AppError;
use crate::platform::i18n::{Lang, Msg};
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/followers/export.csv", get(export_console))
        .route(
            "/followers/import",
            get(import_page)
                .post(upload_form)
                .layer(DefaultBodyLimit::max(MAX_IMPORT_BYTES + 64 * 1024)),
        )
        .route("/followers/import/{id}", get(report_page))
        .route("/followers/import/{id}/apply", post(apply_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_export))
        .routes(routes!(api_upload))
        .routes(routes!(api_report))
        .routes(routes!(api_apply))
}

/// Whether a request path is an upload that may carry up to [`MAX_IMPORT_BYTES`]
/// (platform/web.rs raises its body limit for these).
pub fn is_upload_path(path: &str) -> bool {
    path == "/followers/import"
        || (path.starts_with("/api/v1/accounts/") && path.ends_with("/followers/imports"))
}

// ---- export ----

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// A follower filter as JSON (followers/filter.rs); omitted: every follower.
    pub filter: Option<String>,
    /// A saved segment's id instead of `filter`.
    pub segment: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
struct ConsoleExportQuery {
    account: Option<i64>,
    filter: Option<String>,
    segment: Option<i64>,
}

fn bad_filter(detail: String) -> AppError {
    AppError::BadRequest(Msg::new("segment.filter_unreadable").arg("detail", detail))
}

/// The filter an export asks for: a saved segment, a filter, or everyone.
async fn export_filter(
    state: &AppState,
    caller: &Caller,
    account_id: i64,
    filter: Option<&str>,
    segment: Option<i64>,
) -> Result<Filter, AppError> {
    crate::accounts::get(&state.db, caller.merchant_id, account_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let filter = match (segment, filter) {
        (Some(sid), _) => {
            crate::segments::filter_of(&state.db, caller.merchant_id, account_id, sid)
                .await?
                .ok_or(AppError::NotFound)?
        }
        (None, Some(json)) if !json.trim().is_empty() => {
            serde_json::from_str::<Filter>(json).map_err(|e| bad_filter(e.to_string()))?
        }
        (None, _) => Filter::everyone(),
    };
    filter.validate().map_err(|e| {
        AppError::BadRequest(
            Msg::new(e.message_key()).arg("max", crate::followers::filter::MAX_CONDITIONS),
        )
    })?;
    Ok(filter)
}

async fn export_response(
    state: &AppState,
    caller: &Caller,
    account_id: i64,
    filter: Filter,
) -> Result<Response, AppError> {
    let cx = super::export_context(&state.db, caller.merchant_id, account_id, caller.lang).await?;
    let day = format_local(state.clock.now_ms(), cx.tz)
        .get(..10)
        .unwrap_or_default()
        .to_string();
    let body = super::export_body(
        state.db.clone(),
        caller.merchant_id,
        account_id,
        filter,
        state.clock.now_ms(),
        cx,
    );
    let disposition = format!("attachment; filename=\"followers-{account_id}-{day}.csv\"");
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).map_err(AppError::internal)?,
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn export_console(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ConsoleExportQuery>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let account_id = match q.account {
        Some(a) => a,
        None => caller
            .user()
            .and_then(|u| u.account_id)
            .ok_or(AppError::NotFound)?,
    };
    let filter = export_filter(&state, &caller, account_id, q.filter.as_deref(), q.segment).await?;
    export_response(&state, &caller, account_id, filter).await
}

/// The account's followers matching a filter or a saved segment, as CSV (UTF-8 with BOM;
/// times in the merchant's time zone; tags joined by `|`). Streamed.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/followers/export.csv", tag = "followers",
    params(("id" = i64, Path), ExportQuery),
    responses((status = 200, content_type = "text/csv", body = String), (status = 400, body = crate::platform::error::ApiErrorEnvelope), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_export(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let filter = export_filter(&state, &caller, id, q.filter.as_deref(), q.segment).await?;
    export_response(&state, &caller, id, filter).await
}

// ---- import ----

#[derive(Serialize, ToSchema)]
pub struct RowErrorOut {
    pub column: Column,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct RowOut {
    /// The line in the file (the header is line 1).
    pub line: usize,
    pub openid: String,
    pub changes: Vec<Change>,
    pub errors: Vec<RowErrorOut>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportOut {
    pub id: i64,
    pub account_id: i64,
    /// `checked` (dry run, waiting), `applying`, `applied`, `failed`.
    pub status: String,
    pub rows: usize,
    pub changed: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub rows_applied: i64,
    /// The first rows that change or fail (at most 500).
    pub listed: Vec<RowOut>,
}

fn row_out(r: &RowReport, lang: Lang) -> RowOut {
    RowOut {
        line: r.line,
        openid: r.openid.clone(),
        changes: r.changes.clone(),
        errors: r
            .errors
            .iter()
            .map(|e| RowErrorOut {
                column: e.column,
                message: lang.render(&e.msg),
            })
            .collect(),
    }
}

/// The report of an import: a dry run against the database now, and the apply's progress.
async fn import_report(
    state: &AppState,
    merchant_id: i64,
    account_id: Option<i64>,
    id: i64,
) -> Result<(super::store::ImportRow, Report), AppError> {
    let import = super::store::get_import(&state.db, merchant_id, account_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let report = super::dry_run(&state.db, merchant_id, import.account_id, &import.body)
        .await?
        .map_err(AppError::BadRequest)?;
    Ok((import, report))
}

fn import_out(import: &super::store::ImportRow, report: &Report, lang: Lang) -> ImportOut {
    ImportOut {
        id: import.id,
        account_id: import.account_id,
        status: import.status.clone(),
        rows: report.rows,
        changed: report.changed,
        unchanged: report.unchanged,
        failed: report.failed,
        rows_applied: import.rows_applied,
        listed: report.listed.iter().map(|r| row_out(r, lang)).collect(),
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, AppError> {
    std::str::from_utf8(bytes).map_err(|_| AppError::BadRequest(Msg::new("csv.error.encoding")))
}

fn too_large() -> AppError {
    AppError::BadRequest(Msg::new("csv.error.too_large").arg("max", MAX_IMPORT_BYTES / 1024 / 1024))
}

/// Uploads a CSV (openid plus any of remark, tags, name, phone, gender, birthday, city;
/// headers in Chinese or English) and answers its dry run; nothing changes until `apply`.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/followers/imports", tag = "followers",
    params(("id" = i64, Path)), request_body(content = String, content_type = "text/csv"),
    responses((status = 201, body = ImportOut), (status = 400, body = crate::platform::error::ApiErrorEnvelope), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    body: axum::body::Body,
) -> Result<(StatusCode, Json<ImportOut>), AppError> {
    caller.require(Permission::ManageFollowers)?;
    crate::accounts::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let body = axum::body::to_bytes(body, MAX_IMPORT_BYTES)
        .await
        .map_err(|_| too_large())?;
    let text = utf8(&body)?;
    let now = state.clock.now_ms();
    let import_id = super::upload(&state.db, caller.merchant_id, id, "", text, now)
        .await?
        .map_err(AppError::BadRequest)?;
    let (import, report) = import_report(&state, caller.merchant_id, Some(id), import_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(import_out(&import, &report, caller.lang)),
    ))
}

/// An import's dry run (against the followers as they are now) and progress.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/followers/imports/{iid}", tag = "followers",
    params(("id" = i64, Path), ("iid" = i64, Path)),
    responses((status = 200, body = ImportOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_report(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, iid)): Path<(i64, i64)>,
) -> Result<Json<ImportOut>, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let (import, report) = import_report(&state, caller.merchant_id, Some(id), iid).await?;
    Ok(Json(import_out(&import, &report, caller.lang)))
}

/// Applies an import's valid rows in the background: profile fields locally, remarks and
/// tags also pushed to WeChat (one job per changed follower). Rows with errors are skipped.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/followers/imports/{iid}/apply", tag = "followers",
    params(("id" = i64, Path), ("iid" = i64, Path)),
    responses((status = 202, body = ImportOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 409, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_apply(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, iid)): Path<(i64, i64)>,
) -> Result<(StatusCode, Json<ImportOut>), AppError> {
    caller.require(Permission::ManageFollowers)?;
    super::store::get_import(&state.db, caller.merchant_id, Some(id), iid)
        .await?
        .ok_or(AppError::NotFound)?;
    if !super::start_apply(&state, caller.merchant_id, iid).await? {
        return Err(AppError::Conflict(Msg::new("csv.error.already_applied")));
    }
    let (import, report) = import_report(&state, caller.merchant_id, Some(id), iid).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(import_out(&import, &report, caller.lang)),
    ))
}

// ---- console ----

#[derive(Template)]
#[template(path = "segments/import.html")]
struct ImportPage {
    shell: Shell,
    error: Option<String>,
    max_mb: usize,
}

async fn import_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let shell = Shell::for_caller(&state, &caller, "segments", "csv.import_title", &uri).await?;
    page(&ImportPage {
        shell,
        error: None,
        max_mb: MAX_IMPORT_BYTES / 1024 / 1024,
    })
}

async fn upload_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let shell = Shell::for_caller(&state, &caller, "segments", "csv.import_title", &uri).await?;
    let account_id = shell.account_id.ok_or(AppError::NotFound)?;
    let mut file: Option<(String, axum::body::Bytes)> = None;
    while let Some(field) = multipart.next_field().await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large()
        } else {
            AppError::BadRequest(Msg::new("error.bad_form"))
        }
    })? {
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or_default().to_string();
            let bytes = field.bytes().await.map_err(|_| too_large())?;
            file = Some((name, bytes));
        }
    }
    let refuse = |shell: Shell, msg: Msg| -> Result<Response, AppError> {
        let error = Some(shell.lang.render(&msg));
        let mut res = page(&ImportPage {
            shell,
            error,
            max_mb: MAX_IMPORT_BYTES / 1024 / 1024,
        })?;
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        Ok(res)
    };
    let Some((name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return refuse(shell, Msg::new("csv.error.empty"));
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return refuse(shell, Msg::new("csv.error.encoding"));
    };
    let now = state.clock.now_ms();
    match super::upload(&state.db, caller.merchant_id, account_id, &name, text, now).await? {
        Ok(id) => Ok(Redirect::to(&format!("/followers/import/{id}")).into_response()),
        Err(msg) => refuse(shell, msg),
    }
}

#[derive(Template)]
#[template(path = "segments/import_report.html")]
struct ReportPage {
    shell: Shell,
    id: i64,
    filename: String,
    status: String,
    rows_total: i64,
    rows_applied: i64,
    report: Report,
}

impl ReportPage {
    fn column(&self, c: &Column) -> &'static str {
        self.shell.t(c.label_key())
    }

    fn render(&self, m: &Msg) -> String {
        self.shell.lang.render(m)
    }

    /// A value as the merchant reads it: genders in words, the rest as stored.
    fn value<'a>(&'a self, c: &Column, v: &'a str) -> &'a str {
        match (c, v) {
            (Column::Gender, "male") => self.shell.t("builder.male"),
            (Column::Gender, "female") => self.shell.t("builder.female"),
            _ => v,
        }
    }

    fn percent(&self) -> i64 {
        (self.rows_applied * 100)
            .checked_div(self.rows_total)
            .unwrap_or(100)
    }
}

async fn report_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let (import, report) = import_report(&state, caller.merchant_id, None, id).await?;
    // Once applied, a fresh comparison finds nothing left to change: the page becomes the
    // result (progress, and the rows skipped for their errors).
    let title = if import.status == "checked" {
        "csv.report_title"
    } else {
        "csv.result_title"
    };
    let shell = Shell::for_caller(&state, &caller, "segments", title, &uri).await?;
    page(&ReportPage {
        shell,
        id,
        filename: import.filename,
        status: import.status,
        rows_total: import.rows_total,
        rows_applied: import.rows_applied,
        report,
    })
}

async fn apply_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    super::store::get_import(&state.db, caller.merchant_id, None, id)
        .await?
        .ok_or(AppError::NotFound)?;
    super::start_apply(&state, caller.merchant_id, id).await?;
    Ok(Redirect::to(&format!("/followers/import/{id}?notice=import_started")).into_response())
}
