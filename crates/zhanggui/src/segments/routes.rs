//! Segments pages (list, builder) and `/api/v1/accounts/{id}/segments`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Segment;
use super::model::{SegmentInput, filter_errors};
use crate::followers::{Filter, FollowerRecord, query};
use crate::platform::api::{ApiJson, ListQuery, Page};
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

/// The catalogue keys the builder script shows.
const BUILDER_KEYS: &[&str] = &[
    "builder.combine_all",
    "builder.combine_any",
    "builder.add",
    "builder.remove",
    "builder.field.subscribed",
    "builder.field.blacklisted",
    "builder.field.tags",
    "builder.field.channel",
    "builder.field.has_channel",
    "builder.field.subscribed_at",
    "builder.field.first_seen",
    "builder.field.last_interaction",
    "builder.field.gender",
    "builder.field.profile",
    "builder.field.birthday_month",
    "builder.field.near",
    "builder.field.search",
    "builder.field.flow_answer",
    "builder.answered",
    "builder.not_answered",
    "builder.any_step",
    "builder.step",
    "builder.step_label",
    "builder.no_flows",
    "builder.deleted_flow",
    "builder.yes",
    "builder.no",
    "builder.tag_any",
    "builder.tag_all",
    "builder.tag_none",
    "builder.in",
    "builder.not_in",
    "builder.between",
    "builder.last_days",
    "builder.older_than_days",
    "builder.from",
    "builder.to",
    "builder.days",
    "builder.male",
    "builder.female",
    "builder.unknown",
    "builder.remark",
    "builder.nickname",
    "builder.name",
    "builder.phone",
    "builder.city",
    "builder.is_set",
    "builder.not_set",
    "builder.equals",
    "builder.contains",
    "builder.month",
    "builder.latitude",
    "builder.longitude",
    "builder.radius_m",
    "builder.within_days",
    "builder.text",
    "builder.no_tags",
    "builder.no_channels",
    "builder.counting",
    "builder.count_failed",
    "builder.subscribed_now",
    "builder.unsubscribed",
];

/// How many matching followers a preview shows.
const SAMPLE_SIZE: i64 = 10;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/segments", get(list_page).post(create_form))
        .route("/segments/new", get(new_page))
        .route("/segments/{id}", get(edit_page).post(update_form))
        .route("/segments/{id}/delete", post(delete_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_get, api_update, api_delete))
        .routes(routes!(api_preview))
        .routes(routes!(api_count))
}

// ---- console ----

struct SegmentView {
    id: i64,
    name: String,
    count: i64,
    conditions: usize,
    updated: String,
    account_id: i64,
}

#[derive(Template)]
#[template(path = "segments/list.html")]
struct ListPage {
    shell: Shell,
    account_id: Option<i64>,
    segments: Vec<SegmentView>,
    can_manage: bool,
}

/// The account the console works on: the switcher's choice.
fn current_account(shell: &Shell) -> Option<i64> {
    shell.account_id
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let shell = Shell::for_caller(&state, &caller, "segments", "segments.title", &uri).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let now = state.clock.now_ms();
    let account_id = current_account(&shell);
    let mut segments = vec![];
    if let Some(account) = account_id {
        for s in super::list(&state.db, caller.merchant_id, account, 0, 500).await? {
            let count =
                query::count(&state.db, caller.merchant_id, account, &s.filter, now).await?;
            segments.push(SegmentView {
                id: s.row.id,
                name: s.row.name.clone(),
                count,
                conditions: s.filter.conditions.len(),
                updated: format_local(s.row.updated_at, tz),
                account_id: account,
            });
        }
    }
    page(&ListPage {
        shell,
        account_id,
        segments,
        can_manage: caller.role.allows(Permission::ManageFollowers),
    })
}

#[derive(Template)]
#[template(path = "segments/builder.html")]
struct BuilderPage {
    shell: Shell,
    id: Option<i64>,
    account_id: i64,
    name: String,
    filter_json: String,
    errors: FieldErrors,
    /// JSON for the builder script: tags, channels, the merchant's time zone.
    choices_json: String,
    can_manage: bool,
}

impl BuilderPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }

    /// The builder script's words in the page's language, as JSON (safe inside a script
    /// element: `<` is escaped).
    fn builder_text(&self) -> String {
        let text: std::collections::BTreeMap<&str, &str> =
            BUILDER_KEYS.iter().map(|k| (*k, self.shell.t(k))).collect();
        serde_json::to_string(&text)
            .unwrap_or_default()
            .replace('<', "\\u003c")
    }

    /// Errors of conditions, "condition n: message", for the summary and the script.
    fn condition_errors(&self) -> Vec<(String, String)> {
        self.errors
            .0
            .iter()
            .filter(|e| e.field != "name")
            .map(|e| (e.field.clone(), self.shell.lang.render(&e.msg)))
            .collect()
    }
}

#[derive(Serialize)]
struct BuilderChoices {
    tags: Vec<Choice<i64>>,
    channels: Vec<Choice<String>>,
    flows: Vec<FlowChoice>,
    timezone: String,
}

/// A flow with its steps and lettered options, for "answered the flow" conditions.
#[derive(Serialize)]
struct FlowChoice {
    id: i64,
    name: String,
    steps: Vec<StepChoice>,
}

#[derive(Serialize)]
struct StepChoice {
    /// Counted from 1, as answers are recorded.
    n: usize,
    question: String,
    options: Vec<OptionChoice>,
}

#[derive(Serialize)]
struct OptionChoice {
    letter: char,
    label: String,
}

fn flow_choice(row: &crate::flows::FlowRow) -> FlowChoice {
    let input = row.input();
    FlowChoice {
        id: row.id,
        name: input.name,
        steps: input
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| StepChoice {
                n: i + 1,
                question: s.question.chars().take(30).collect(),
                options: s
                    .options
                    .iter()
                    .enumerate()
                    .map(|(j, o)| OptionChoice {
                        letter: crate::flows::model::letter(j),
                        label: o.label.clone(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

#[derive(Serialize)]
struct Choice<T> {
    id: T,
    name: String,
}

async fn builder_choices(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
) -> Result<String, AppError> {
    let tz = crate::merchants::timezone(&state.db, merchant_id).await?;
    let tags = super::store::tag_choices(&state.db, merchant_id, account_id).await?;
    let channels = super::store::channel_choices(&state.db, merchant_id, account_id).await?;
    let flows = crate::flows::store::list(&state.db, merchant_id, account_id).await?;
    let choices = BuilderChoices {
        tags: tags
            .into_iter()
            .map(|(id, name)| Choice { id, name })
            .collect(),
        channels: channels
            .into_iter()
            .map(|(id, name)| Choice { id, name })
            .collect(),
        flows: flows.iter().map(flow_choice).collect(),
        timezone: tz.name().to_string(),
    };
    serde_json::to_string(&choices).map_err(AppError::internal)
}

struct BuilderArgs {
    id: Option<i64>,
    account_id: i64,
    name: String,
    filter_json: String,
    errors: FieldErrors,
}

async fn render_builder(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    args: BuilderArgs,
) -> Result<Response, AppError> {
    let title = if args.id.is_some() {
        "segments.edit_title"
    } else {
        "segments.new_title"
    };
    let shell = Shell::for_caller(state, caller, "segments", title, uri).await?;
    let status = if args.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = page(&BuilderPage {
        shell,
        id: args.id,
        account_id: args.account_id,
        name: args.name,
        filter_json: args.filter_json,
        errors: args.errors,
        choices_json: builder_choices(state, caller.merchant_id, args.account_id).await?,
        can_manage: caller.role.allows(Permission::ManageFollowers),
    })?;
    *res.status_mut() = status;
    Ok(res)
}

async fn new_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let shell = Shell::for_caller(&state, &caller, "segments", "segments.new_title", &uri).await?;
    let account_id = current_account(&shell).ok_or(AppError::NotFound)?;
    let filter = Filter {
        combine: Default::default(),
        conditions: vec![crate::followers::filter::Condition::Subscribed { value: true }],
    };
    let args = BuilderArgs {
        id: None,
        account_id,
        name: String::new(),
        filter_json: serde_json::to_string(&filter).map_err(AppError::internal)?,
        errors: FieldErrors::default(),
    };
    render_builder(&state, &caller, &uri, args).await
}

async fn edit_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let s = segment_of_merchant(&state, caller.merchant_id, id).await?;
    let args = BuilderArgs {
        id: Some(id),
        account_id: s.row.account_id,
        name: s.row.name.clone(),
        filter_json: serde_json::to_string(&s.filter).map_err(AppError::internal)?,
        errors: FieldErrors::default(),
    };
    render_builder(&state, &caller, &uri, args).await
}

/// A segment of any of the merchant's accounts (the console's URLs carry no account).
async fn segment_of_merchant(
    state: &AppState,
    merchant_id: i64,
    id: i64,
) -> Result<Segment, AppError> {
    let row = super::store::get_of_merchant(&state.db, merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    super::get(&state.db, merchant_id, row.account_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

#[derive(Deserialize)]
struct SegmentForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    filter: String,
    account_id: Option<i64>,
}

impl SegmentForm {
    /// The form's input, or the field error of a filter that is not JSON of a filter.
    fn input(&self) -> Result<SegmentInput, FieldErrors> {
        let filter = serde_json::from_str::<Filter>(&self.filter).map_err(|e| {
            let mut f = FieldErrors::default();
            f.add(
                "filter",
                Msg::new("segment.filter_unreadable").arg("detail", e.to_string()),
            );
            f
        })?;
        Ok(SegmentInput {
            name: self.name.clone(),
            filter,
        })
    }
}

async fn create_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<SegmentForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let account_id = f.account_id.ok_or(AppError::NotFound)?;
    let now = state.clock.now_ms();
    let result = match f.input() {
        Ok(input) => super::create(&state.db, caller.merchant_id, account_id, &input, now).await,
        Err(errors) => Err(AppError::Validation(errors)),
    };
    match result {
        Ok(s) => Ok(
            Redirect::to(&format!("/segments/{}?notice=segment_saved", s.row.id)).into_response(),
        ),
        Err(AppError::Validation(errors)) => {
            let args = BuilderArgs {
                id: None,
                account_id,
                name: f.name,
                filter_json: f.filter,
                errors,
            };
            render_builder(&state, &caller, &uri, args).await
        }
        Err(e) => Err(e),
    }
}

async fn update_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<SegmentForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let s = segment_of_merchant(&state, caller.merchant_id, id).await?;
    let account_id = s.row.account_id;
    let now = state.clock.now_ms();
    let result = match f.input() {
        Ok(input) => {
            super::update(&state.db, caller.merchant_id, account_id, id, &input, now).await
        }
        Err(errors) => Err(AppError::Validation(errors)),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/segments/{id}?notice=segment_saved")).into_response()),
        Err(AppError::Validation(errors)) => {
            let args = BuilderArgs {
                id: Some(id),
                account_id,
                name: f.name,
                filter_json: f.filter,
                errors,
            };
            render_builder(&state, &caller, &uri, args).await
        }
        Err(e) => Err(e),
    }
}

async fn delete_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let s = segment_of_merchant(&state, caller.merchant_id, id).await?;
    super::delete(&state.db, caller.merchant_id, s.row.account_id, id).await?;
    Ok(Redirect::to("/segments?notice=segment_deleted").into_response())
}

// ---- JSON API ----

#[derive(Serialize, ToSchema)]
pub struct SegmentOut {
    pub id: i64,
    pub account_id: i64,
    pub name: String,
    pub filter: Filter,
    pub created_at: String,
    pub updated_at: String,
}

fn segment_out(s: &Segment, tz: chrono_tz::Tz) -> SegmentOut {
    SegmentOut {
        id: s.row.id,
        account_id: s.row.account_id,
        name: s.row.name.clone(),
        filter: s.filter.clone(),
        created_at: rfc3339(s.row.created_at, tz),
        updated_at: rfc3339(s.row.updated_at, tz),
    }
}

/// A follower in a preview's sample.
#[derive(Serialize, ToSchema)]
pub struct SampleFollower {
    pub openid: String,
    pub subscribed: bool,
    pub remark: String,
    pub name: Option<String>,
    pub nickname: Option<String>,
    /// Last message or event, in the merchant's time zone.
    pub last_interaction: String,
    pub tag_ids: Vec<i64>,
}

fn sample_of(r: &FollowerRecord, tz: chrono_tz::Tz) -> SampleFollower {
    SampleFollower {
        openid: r.follower.openid.clone(),
        subscribed: r.follower.subscribed,
        remark: r.profile.remark.clone(),
        name: r.profile.name.clone(),
        nickname: r.profile.nickname.clone(),
        last_interaction: format_local(r.follower.last_interaction_at, tz),
        tag_ids: r.tag_ids.clone(),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct PreviewInput {
    #[serde(default)]
    pub filter: Filter,
}

#[derive(Serialize, ToSchema)]
pub struct PreviewOut {
    /// How many of the account's followers match now.
    pub count: i64,
    /// The most recently active of them (at most 10).
    pub sample: Vec<SampleFollower>,
}

#[derive(Serialize, ToSchema)]
pub struct CountOut {
    pub count: i64,
}

async fn require_account(state: &AppState, caller: &Caller, id: i64) -> Result<(), AppError> {
    crate::accounts::get(&state.db, caller.merchant_id, id)
        .await?
        .map(|_| ())
        .ok_or(AppError::NotFound)
}

/// Lists an account's saved segments.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/segments", tag = "segments",
    params(("id" = i64, Path), ListQuery),
    responses((status = 200, body = Page<SegmentOut>), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<SegmentOut>>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    require_account(&state, &caller, id).await?;
    let (after, limit) = q.window()?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let items = super::list(&state.db, caller.merchant_id, id, after, limit)
        .await?
        .iter()
        .map(|s| segment_out(s, tz))
        .collect();
    Ok(Json(Page::of(items, limit, |s| s.id)))
}

/// Saves a segment: a name unique in the account and a follower filter.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/segments", tag = "segments",
    params(("id" = i64, Path)), request_body = SegmentInput,
    responses((status = 201, body = SegmentOut), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<SegmentInput>,
) -> Result<(StatusCode, Json<SegmentOut>), AppError> {
    caller.require(Permission::ManageFollowers)?;
    let s = super::create(
        &state.db,
        caller.merchant_id,
        id,
        &input,
        state.clock.now_ms(),
    )
    .await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok((StatusCode::CREATED, Json(segment_out(&s, tz))))
}

/// One saved segment.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/segments/{sid}", tag = "segments",
    params(("id" = i64, Path), ("sid" = i64, Path)),
    responses((status = 200, body = SegmentOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, sid)): Path<(i64, i64)>,
) -> Result<Json<SegmentOut>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let s = super::get(&state.db, caller.merchant_id, id, sid)
        .await?
        .ok_or(AppError::NotFound)?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok(Json(segment_out(&s, tz)))
}

/// Renames a segment and/or replaces its filter.
#[utoipa::path(put, path = "/api/v1/accounts/{id}/segments/{sid}", tag = "segments",
    params(("id" = i64, Path), ("sid" = i64, Path)), request_body = SegmentInput,
    responses((status = 200, body = SegmentOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_update(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, sid)): Path<(i64, i64)>,
    ApiJson(input): ApiJson<SegmentInput>,
) -> Result<Json<SegmentOut>, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let s = super::update(
        &state.db,
        caller.merchant_id,
        id,
        sid,
        &input,
        state.clock.now_ms(),
    )
    .await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok(Json(segment_out(&s, tz)))
}

/// Deletes a segment.
#[utoipa::path(delete, path = "/api/v1/accounts/{id}/segments/{sid}", tag = "segments",
    params(("id" = i64, Path), ("sid" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, sid)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::ManageFollowers)?;
    super::delete(&state.db, caller.merchant_id, id, sid).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many followers a filter selects now, with a sample: the builder's live count.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/segments/preview", tag = "segments",
    params(("id" = i64, Path)), request_body = PreviewInput,
    responses((status = 200, body = PreviewOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_preview(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<PreviewInput>,
) -> Result<Json<PreviewOut>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    require_account(&state, &caller, id).await?;
    filter_errors(&input.filter).into_result(())?;
    let now = state.clock.now_ms();
    let m = caller.merchant_id;
    let count = query::count(&state.db, m, id, &input.filter, now).await?;
    let plan = query::plan_for(&state.db, m, id, count, SAMPLE_SIZE).await?;
    let sample = query::page(
        &state.db,
        m,
        id,
        &input.filter,
        now,
        query::Sort::LastInteraction,
        None,
        SAMPLE_SIZE,
        plan,
    )
    .await?;
    let tz = crate::merchants::timezone(&state.db, m).await?;
    Ok(Json(PreviewOut {
        count,
        sample: sample.iter().map(|r| sample_of(r, tz)).collect(),
    }))
}

/// How many followers a saved segment selects now.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/segments/{sid}/count", tag = "segments",
    params(("id" = i64, Path), ("sid" = i64, Path)),
    responses((status = 200, body = CountOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_count(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, sid)): Path<(i64, i64)>,
) -> Result<Json<CountOut>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let filter = super::filter_of(&state.db, caller.merchant_id, id, sid)
        .await?
        .ok_or(AppError::NotFound)?;
    let count = query::count(
        &state.db,
        caller.merchant_id,
        id,
        &filter,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Json(CountOut { count }))
}
