//! The tags page (`/tags`, 标签管理) and `/api/v1/accounts/{id}/tags…`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::jobs::{AudienceFilter, Problem};
use super::model::{self, BulkAction};
use super::store::{OperationRow, TagRow};
use crate::followers::sync::routes::SyncPanel;
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Lang;
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tags", get(list_page).post(create_form))
        .route("/tags/pull", post(pull_form))
        .route("/tags/bulk", post(bulk_form))
        .route("/tags/{id}/rename", post(rename_form))
        .route("/tags/{id}/delete", post(delete_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_rename, api_delete))
        .routes(routes!(api_pull))
        .routes(routes!(api_set_follower_tags))
        .routes(routes!(api_add_members, api_remove_members))
        .routes(routes!(api_start_bulk))
        .routes(routes!(api_operation))
}

// ---- JSON ----

#[derive(Serialize, ToSchema)]
pub struct TagOut {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    /// WeChat's id of the tag.
    pub wx_tag_id: i64,
    /// WeChat's own tag (星标组): cannot be renamed or deleted.
    pub system: bool,
    /// Followers carrying it, as we know them.
    pub members: i64,
    pub created_at: String,
    pub updated_at: String,
}

fn tag_out(t: &TagRow, tz: chrono_tz::Tz) -> TagOut {
    TagOut {
        id: t.id,
        account_id: t.account_id,
        name: t.name.clone(),
        wx_tag_id: t.wx_tag_id,
        system: model::is_system_tag(t.wx_tag_id),
        members: t.members,
        created_at: rfc3339(t.created_at, tz),
        updated_at: rfc3339(t.updated_at, tz),
    }
}

#[derive(Serialize, ToSchema)]
pub struct TagList {
    pub items: Vec<TagOut>,
}

#[derive(Deserialize, ToSchema)]
pub struct TagInput {
    /// 1–30 bytes (10 Chinese characters), unique in the account.
    pub name: String,
}

#[derive(Deserialize, ToSchema)]
pub struct FollowerTagsInput {
    /// Our tag ids (at most 20): the follower ends up with exactly these.
    pub tag_ids: Vec<i64>,
}

#[derive(Deserialize, ToSchema)]
pub struct MembersInput {
    /// 1–200 openids; more go through a bulk operation.
    pub openids: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct BulkInput {
    pub action: BulkAction,
    /// Which followers (followers' filter JSON); `{}`: every follower of the account.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub filter: AudienceFilter,
}

#[derive(Serialize, ToSchema)]
pub struct OperationOut {
    pub id: i64,
    pub account_id: i64,
    pub tag_id: i64,
    pub action: BulkAction,
    /// `running`, `done` or `failed`.
    pub status: String,
    pub status_label: String,
    /// Followers matching when it started.
    pub total: i64,
    /// Handled so far: done + skipped + failed.
    pub handled: i64,
    pub done: i64,
    /// Left out by us (20 tags already, not following).
    pub skipped: i64,
    /// Refused by WeChat.
    pub failed: i64,
    /// 0–100.
    pub percent: i64,
    /// The first skipped or failed followers, with the reason in the caller's language.
    pub problems: Vec<ProblemOut>,
    /// Why the operation stopped, when it failed.
    pub error: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ProblemOut {
    pub openid: String,
    pub reason: String,
}

fn operation_out(op: &OperationRow, tz: chrono_tz::Tz, lang: Lang) -> OperationOut {
    let handled = op.done + op.skipped + op.failed;
    let finished = op.status != "running";
    let problems: Vec<Problem> = serde_json::from_str(&op.problems).unwrap_or_default();
    OperationOut {
        id: op.id,
        account_id: op.account_id,
        tag_id: op.tag_id,
        action: BulkAction::parse(&op.action).unwrap_or(BulkAction::Tag),
        status: op.status.clone(),
        status_label: lang.t(operation_status_key(&op.status)).to_string(),
        total: op.total,
        handled,
        done: op.done,
        skipped: op.skipped,
        failed: op.failed,
        percent: operation_percent(op.total, handled, op.status == "done"),
        problems: problems
            .iter()
            .map(|p| ProblemOut {
                openid: p.openid.clone(),
                reason: p.reason_text(lang),
            })
            .collect(),
        error: (finished && !op.detail.is_empty()).then(|| {
            if crate::platform::i18n::has_key(&op.detail) {
                lang.t(&op.detail).to_string()
            } else {
                lang.t("sync.failed_retries").to_string()
            }
        }),
        started_at: rfc3339(op.started_at, tz),
        finished_at: op.finished_at.map(|t| rfc3339(t, tz)),
    }
}

fn operation_status_key(status: &str) -> &'static str {
    match status {
        "done" => "tags.op_done",
        "failed" => "tags.op_failed",
        _ => "tags.op_running",
    }
}

fn operation_percent(total: i64, handled: i64, done: bool) -> i64 {
    match (done, total) {
        (true, _) => 100,
        (false, t) if t <= 0 => 0,
        (false, t) => (handled.min(t) * 100 / t).min(99),
    }
}

/// An account's tags with their member counts (owner, operator, agent).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/tags", tag = "tags", params(("id" = i64, Path)),
    responses((status = 200, body = TagList), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<TagList>, AppError> {
    caller.require(Permission::ViewTags)?;
    super::account(&state.db, caller.merchant_id, id).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let rows = super::store::list(&state.db, caller.merchant_id, id).await?;
    Ok(Json(TagList {
        items: rows.iter().map(|t| tag_out(t, tz)).collect(),
    }))
}

/// Creates a tag at WeChat, then here (owner, operator). WeChat's refusals (name taken
/// 45157, too long 45158, 100 tags 45056) come back explained.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/tags", tag = "tags", params(("id" = i64, Path)),
    request_body = TagInput,
    responses((status = 201, body = TagOut), (status = 409, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope), (status = 502, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    crate::platform::api::ApiJson(input): crate::platform::api::ApiJson<TagInput>,
) -> Result<(StatusCode, Json<TagOut>), AppError> {
    caller.require(Permission::ManageTags)?;
    let tag = super::create(&state, caller.merchant_id, id, &input.name).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok((StatusCode::CREATED, Json(tag_out(&tag, tz))))
}

/// Renames a tag at WeChat, then here (owner, operator).
#[utoipa::path(put, path = "/api/v1/accounts/{id}/tags/{tag_id}", tag = "tags",
    params(("id" = i64, Path), ("tag_id" = i64, Path)), request_body = TagInput,
    responses((status = 200, body = TagOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_rename(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, tag_id)): Path<(i64, i64)>,
    crate::platform::api::ApiJson(input): crate::platform::api::ApiJson<TagInput>,
) -> Result<Json<TagOut>, AppError> {
    caller.require(Permission::ManageTags)?;
    let tag = super::rename(&state, caller.merchant_id, id, tag_id, &input.name).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok(Json(tag_out(&tag, tz)))
}

/// Deletes a tag at WeChat (it leaves every follower), then here (owner, operator).
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/tags/{tag_id}", tag = "tags",
    params(("id" = i64, Path), ("tag_id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, tag_id)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::ManageTags)?;
    super::delete(&state, caller.merchant_id, id, tag_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Makes our tags equal WeChat's (tags/get): new and renamed ones come in, ours that WeChat
/// no longer has go (owner, operator).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/tags/pull", tag = "tags", params(("id" = i64, Path)),
    responses((status = 200, body = super::PullReport), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 502, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_pull(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<super::PullReport>, AppError> {
    caller.require(Permission::ManageTags)?;
    Ok(Json(super::pull(&state, caller.merchant_id, id).await?))
}

/// Sets exactly which tags a follower carries: WeChat first, then ours (owner, operator).
#[utoipa::path(put, path = "/api/v1/accounts/{id}/followers/{openid}/tags", tag = "tags",
    params(("id" = i64, Path), ("openid" = String, Path)), request_body = FollowerTagsInput,
    responses((status = 200, body = TagList), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_set_follower_tags(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, openid)): Path<(i64, String)>,
    crate::platform::api::ApiJson(input): crate::platform::api::ApiJson<FollowerTagsInput>,
) -> Result<Json<TagList>, AppError> {
    caller.require(Permission::ManageTags)?;
    let tags =
        super::set_follower_tags(&state, caller.merchant_id, id, &openid, &input.tag_ids).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok(Json(TagList {
        items: tags.iter().map(|t| tag_out(t, tz)).collect(),
    }))
}

/// Puts the tag on up to 200 followers: WeChat 50 at a time, then ours (owner, operator).
/// Refused before WeChat is asked when one of them already carries 20 tags.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/tags/{tag_id}/members", tag = "tags",
    params(("id" = i64, Path), ("tag_id" = i64, Path)), request_body = MembersInput,
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_add_members(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, tag_id)): Path<(i64, i64)>,
    crate::platform::api::ApiJson(input): crate::platform::api::ApiJson<MembersInput>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::ManageTags)?;
    super::add_members(&state, caller.merchant_id, id, tag_id, &input.openids).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Takes the tag off up to 200 followers: WeChat 50 at a time, then ours (owner, operator).
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/tags/{tag_id}/members", tag = "tags",
    params(("id" = i64, Path), ("tag_id" = i64, Path)), request_body = MembersInput,
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_remove_members(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, tag_id)): Path<(i64, i64)>,
    crate::platform::api::ApiJson(input): crate::platform::api::ApiJson<MembersInput>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::ManageTags)?;
    super::remove_members(&state, caller.merchant_id, id, tag_id, &input.openids).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Tags or untags every follower a filter matches, in the background (owner, operator):
/// 202 with the operation, whose progress `GET …/tag-operations/{op_id}` reads.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/tags/{tag_id}/bulk", tag = "tags",
    params(("id" = i64, Path), ("tag_id" = i64, Path)), request_body = BulkInput,
    responses((status = 202, body = OperationOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_start_bulk(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, tag_id)): Path<(i64, i64)>,
    crate::platform::api::ApiJson(input): crate::platform::api::ApiJson<BulkInput>,
) -> Result<(StatusCode, Json<OperationOut>), AppError> {
    caller.require(Permission::ManageTags)?;
    let op_id = super::start_bulk(
        &state,
        caller.merchant_id,
        id,
        tag_id,
        input.action,
        &input.filter,
    )
    .await?;
    let op = super::store::operation(&state.db, Some(caller.merchant_id), op_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(operation_out(&op, tz, caller.lang)),
    ))
}

/// A bulk operation's progress (owner, operator, agent).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/tag-operations/{op_id}", tag = "tags",
    params(("id" = i64, Path), ("op_id" = i64, Path)),
    responses((status = 200, body = OperationOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_operation(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, op_id)): Path<(i64, i64)>,
) -> Result<Json<OperationOut>, AppError> {
    caller.require(Permission::ViewTags)?;
    let op = super::store::operation(&state.db, Some(caller.merchant_id), op_id)
        .await?
        .filter(|op| op.account_id == id)
        .ok_or(AppError::NotFound)?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok(Json(operation_out(&op, tz, caller.lang)))
}

// ---- the console page ----

struct TagView {
    id: i64,
    name: String,
    members: i64,
    system: bool,
    updated: String,
    delete_confirm: String,
}

struct OperationView {
    id: i64,
    tag_name: String,
    action_key: &'static str,
    running: bool,
    status: String,
    status_class: &'static str,
    percent: i64,
    handled: i64,
    total: i64,
    done: i64,
    skipped: i64,
    failed: i64,
    started: String,
    error: String,
    problems: Vec<ProblemOut>,
}

#[derive(Template)]
#[template(path = "tags/list.html")]
struct ListPage {
    shell: Shell,
    account_id: Option<i64>,
    account_name: String,
    tags: Vec<TagView>,
    own_count: usize,
    max_tags: usize,
    operations: Vec<OperationView>,
    can_manage: bool,
    form_name: String,
    errors: FieldErrors,
    /// A refusal of the last action that is not about a field.
    alert: String,
    sync: Option<SyncPanel>,
}

impl ListPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }
}

/// What a failed form action shows on the re-rendered page.
#[derive(Default)]
struct Outcome {
    form_name: String,
    errors: FieldErrors,
    alert: String,
    status: Option<StatusCode>,
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    render_list(&state, &caller, &uri, Outcome::default()).await
}

async fn render_list(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    outcome: Outcome,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewTags)?;
    let mut shell = Shell::for_caller(state, caller, "tags", "tags.title", uri).await?;
    if shell.accounts.is_empty() {
        // Agents see tags without the accounts page: give them the switcher.
        shell.accounts = crate::accounts::choices(&state.db, caller.merchant_id).await?;
        shell.account_id = caller
            .user()
            .and_then(|u| u.account_id)
            .filter(|id| shell.accounts.iter().any(|a| a.id == *id))
            .or_else(|| shell.accounts.first().map(|a| a.id));
    }
    let account_id = shell.account_id;
    let account_name = shell
        .accounts
        .iter()
        .find(|a| Some(a.id) == account_id)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let lang = caller.lang;
    let (tags, operations, sync) = match account_id {
        Some(a) => {
            let rows = super::store::list(&state.db, caller.merchant_id, a).await?;
            let ops = super::store::recent_operations(&state.db, caller.merchant_id, a, 5).await?;
            let names: Vec<(i64, String)> = rows.iter().map(|t| (t.id, t.name.clone())).collect();
            let sync = crate::followers::sync::routes::panel(state, caller, a, "/tags").await?;
            (
                rows.iter()
                    .map(|t| tag_view(t, tz, lang))
                    .collect::<Vec<_>>(),
                ops.iter()
                    .map(|o| operation_view(o, &names, tz, lang))
                    .collect(),
                Some(sync),
            )
        }
        None => (vec![], vec![], None),
    };
    let own_count = tags.iter().filter(|t| !t.system).count();
    let mut res = page(&ListPage {
        shell,
        account_id,
        account_name,
        tags,
        own_count,
        max_tags: model::MAX_TAGS_PER_ACCOUNT,
        operations,
        can_manage: caller.role.allows(Permission::ManageTags),
        form_name: outcome.form_name,
        errors: outcome.errors,
        alert: outcome.alert,
        sync,
    })?;
    if let Some(status) = outcome.status {
        *res.status_mut() = status;
    }
    Ok(res)
}

fn tag_view(t: &TagRow, tz: chrono_tz::Tz, lang: Lang) -> TagView {
    TagView {
        id: t.id,
        name: t.name.clone(),
        members: t.members,
        system: model::is_system_tag(t.wx_tag_id),
        updated: format_local(t.updated_at, tz),
        delete_confirm: lang
            .t("tags.delete_confirm")
            .replace("{name}", &t.name)
            .replace("{count}", &t.members.to_string()),
    }
}

fn operation_view(
    op: &OperationRow,
    names: &[(i64, String)],
    tz: chrono_tz::Tz,
    lang: Lang,
) -> OperationView {
    let out = operation_out(op, tz, lang);
    OperationView {
        id: op.id,
        tag_name: names
            .iter()
            .find(|(id, _)| *id == op.tag_id)
            .map(|(_, n)| n.clone())
            .unwrap_or_default(),
        action_key: out.action.label_key(),
        running: op.status == "running",
        status: out.status_label,
        status_class: match op.status.as_str() {
            "done" => "badge-ok",
            "failed" => "badge-danger",
            _ => "badge-info",
        },
        percent: out.percent,
        handled: out.handled,
        total: out.total,
        done: out.done,
        skipped: out.skipped,
        failed: out.failed,
        started: format_local(op.started_at, tz),
        error: out.error.unwrap_or_default(),
        problems: out.problems.into_iter().take(5).collect(),
    }
}

/// A refused action, shown on the page it came from.
fn outcome_of(e: AppError, lang: Lang, name: &str) -> Result<Outcome, AppError> {
    match e {
        AppError::Validation(errors) => Ok(Outcome {
            form_name: name.to_string(),
            errors,
            status: Some(StatusCode::UNPROCESSABLE_ENTITY),
            ..Outcome::default()
        }),
        AppError::Conflict(m) => Ok(Outcome {
            form_name: name.to_string(),
            alert: lang.render(&m),
            status: Some(StatusCode::CONFLICT),
            ..Outcome::default()
        }),
        AppError::Upstream(m) => Ok(Outcome {
            form_name: name.to_string(),
            alert: lang.render(&m),
            status: Some(StatusCode::BAD_GATEWAY),
            ..Outcome::default()
        }),
        other => Err(other),
    }
}

#[derive(Deserialize)]
struct NameForm {
    account_id: i64,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct AccountForm {
    account_id: i64,
}

#[derive(Deserialize)]
struct BulkForm {
    account_id: i64,
    tag_id: i64,
    action: String,
}

async fn create_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<NameForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageTags)?;
    match super::create(&state, caller.merchant_id, f.account_id, &f.name).await {
        Ok(_) => Ok(Redirect::to("/tags?notice=tag_created").into_response()),
        Err(e) => {
            let outcome = outcome_of(e, caller.lang, &f.name)?;
            render_list(&state, &caller, &uri, outcome).await
        }
    }
}

async fn rename_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<NameForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageTags)?;
    match super::rename(&state, caller.merchant_id, f.account_id, id, &f.name).await {
        Ok(_) => Ok(Redirect::to("/tags?notice=tag_renamed").into_response()),
        Err(e) => {
            let mut outcome = outcome_of(e, caller.lang, "")?;
            // The rename field is per row: show its complaint as an alert.
            if let Some(m) = outcome.errors.get("name") {
                outcome.alert = caller.lang.render(m);
                outcome.errors = FieldErrors::default();
            }
            render_list(&state, &caller, &uri, outcome).await
        }
    }
}

async fn delete_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<AccountForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageTags)?;
    match super::delete(&state, caller.merchant_id, f.account_id, id).await {
        Ok(()) => Ok(Redirect::to("/tags?notice=tag_deleted").into_response()),
        Err(e) => {
            let outcome = outcome_of(e, caller.lang, "")?;
            render_list(&state, &caller, &uri, outcome).await
        }
    }
}

async fn pull_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<AccountForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageTags)?;
    match super::pull(&state, caller.merchant_id, f.account_id).await {
        Ok(_) => Ok(Redirect::to("/tags?notice=tags_pulled").into_response()),
        Err(e) => {
            let outcome = outcome_of(e, caller.lang, "")?;
            render_list(&state, &caller, &uri, outcome).await
        }
    }
}

async fn bulk_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<BulkForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageTags)?;
    let action = BulkAction::parse(&f.action).ok_or_else(|| {
        crate::merchants::field_error("action", crate::platform::i18n::Msg::new("tags.bad_action"))
    })?;
    let everyone = serde_json::json!({});
    match super::start_bulk(
        &state,
        caller.merchant_id,
        f.account_id,
        f.tag_id,
        action,
        &everyone,
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/tags?notice=bulk_started").into_response()),
        Err(e) => {
            let outcome = outcome_of(e, caller.lang, "")?;
            render_list(&state, &caller, &uri, outcome).await
        }
    }
}
