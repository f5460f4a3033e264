//! The platform admin's merchants page and the owner's staff page, and their JSON API.

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

use super::model::{MerchantInput, StaffInput};
use super::store::MerchantSummaryRow;
use crate::platform::api::{ApiJson, ListQuery, Page};
use crate::platform::auth::model::{Permission, Role};
use crate::platform::auth::store::{self as auth_store, StaffRow};
use crate::platform::auth::{Caller, CurrentUser};
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/platform/merchants",
            get(merchants_page).post(create_merchant_form),
        )
        .route("/staff", get(staff_page).post(add_staff_form))
        .route("/staff/{user_id}/disable", post(disable_form))
        .route("/staff/{user_id}/enable", post(enable_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list_merchants, api_create_merchant))
        .routes(routes!(api_list_staff, api_add_staff))
        .routes(routes!(api_update_staff))
}

// ---- merchants (platform admin) ----

#[derive(Template)]
#[template(path = "merchants/list.html")]
struct MerchantsPage {
    shell: Shell,
    merchants: Vec<MerchantView>,
    form_name: String,
    form_timezone: String,
    errors: FieldErrors,
}

impl MerchantsPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }
}

struct MerchantView {
    id: i64,
    name: String,
    timezone: String,
    created: String,
    accounts: i64,
    staff: i64,
    dead_jobs: i64,
}

async fn merchants_page(
    State(state): State<AppState>,
    user: CurrentUser,
    uri: Uri,
) -> Result<Response, AppError> {
    user.require_platform_admin()?;
    render_merchants(
        &state,
        &user,
        &uri,
        MerchantInput {
            name: String::new(),
            timezone: None,
        },
        FieldErrors::default(),
    )
    .await
}

async fn render_merchants(
    state: &AppState,
    user: &CurrentUser,
    uri: &Uri,
    form: MerchantInput,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let shell = Shell::for_user(state, user, "merchants", "merchants.title", uri).await?;
    let rows = super::store::list(&state.db, 0, 1000).await?;
    let merchants = rows
        .into_iter()
        .map(|m| MerchantView {
            created: format_local(m.created_at, chrono_tz::Asia::Shanghai),
            id: m.id,
            name: m.name,
            timezone: m.timezone,
            accounts: m.accounts,
            staff: m.staff,
            dead_jobs: m.dead_jobs,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = page(&MerchantsPage {
        shell,
        merchants,
        form_name: form.name,
        form_timezone: form.timezone.unwrap_or_default(),
        errors,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

#[derive(Deserialize)]
struct MerchantForm {
    name: String,
    timezone: Option<String>,
}

async fn create_merchant_form(
    State(state): State<AppState>,
    user: CurrentUser,
    uri: Uri,
    Form(f): Form<MerchantForm>,
) -> Result<Response, AppError> {
    user.require_platform_admin()?;
    let input = MerchantInput {
        name: f.name,
        timezone: f.timezone,
    };
    match super::create(&state.db, &input, state.clock.now_ms()).await {
        Ok(m) => {
            auth_store::set_session_context(&state.db, &user.session.token_hash, Some(m.id), None)
                .await?;
            Ok(Redirect::to("/platform/merchants?notice=merchant_created").into_response())
        }
        Err(AppError::Validation(errors)) => {
            render_merchants(&state, &user, &uri, input, errors).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Serialize, ToSchema)]
pub struct MerchantOut {
    pub id: i64,
    pub name: String,
    pub timezone: String,
    pub created_at: String,
    pub accounts: i64,
    pub staff: i64,
}

impl From<MerchantSummaryRow> for MerchantOut {
    fn from(m: MerchantSummaryRow) -> Self {
        let tz = crate::platform::clock::parse_timezone(&m.timezone)
            .unwrap_or(chrono_tz::Asia::Shanghai);
        MerchantOut {
            id: m.id,
            created_at: rfc3339(m.created_at, tz),
            name: m.name,
            timezone: m.timezone,
            accounts: m.accounts,
            staff: m.staff,
        }
    }
}

/// Lists every merchant on the platform (platform admin only).
#[utoipa::path(get, path = "/api/v1/merchants", tag = "merchants", params(ListQuery),
    responses((status = 200, body = Page<MerchantOut>), (status = 403, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list_merchants(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<MerchantOut>>, AppError> {
    user.require_platform_admin()?;
    let (after, limit) = q.window()?;
    let rows = super::store::list(&state.db, after, limit).await?;
    let items: Vec<MerchantOut> = rows.into_iter().map(MerchantOut::from).collect();
    Ok(Json(Page::of(items, limit, |m| m.id)))
}

/// Creates a merchant (platform admin only).
#[utoipa::path(post, path = "/api/v1/merchants", tag = "merchants", request_body = MerchantInput,
    responses((status = 201, body = MerchantOut), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create_merchant(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(input): ApiJson<MerchantInput>,
) -> Result<(StatusCode, Json<MerchantOut>), AppError> {
    user.require_platform_admin()?;
    let m = super::create(&state.db, &input, state.clock.now_ms()).await?;
    Ok((
        StatusCode::CREATED,
        Json(MerchantOut::from(MerchantSummaryRow {
            id: m.id,
            name: m.name,
            timezone: m.timezone,
            created_at: m.created_at,
            accounts: 0,
            staff: 0,
            dead_jobs: 0,
        })),
    ))
}

// ---- staff (merchant owner) ----

#[derive(Template)]
#[template(path = "merchants/staff.html")]
struct StaffPage {
    shell: Shell,
    staff: Vec<StaffView>,
    roles: Vec<Role>,
    form_username: String,
    form_display_name: String,
    form_role: String,
    errors: FieldErrors,
    me: i64,
}

impl StaffPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }
}

struct StaffView {
    user_id: i64,
    username: String,
    display_name: String,
    role_key: &'static str,
    disabled: bool,
    locked: bool,
    since: String,
}

async fn staff_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageStaff)?;
    render_staff(&state, &caller, &uri, None, FieldErrors::default()).await
}

async fn render_staff(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    form: Option<&StaffForm>,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let shell = Shell::for_caller(state, caller, "staff", "staff.title", uri).await?;
    let tz = super::timezone(&state.db, caller.merchant_id).await?;
    let now = state.clock.now_ms();
    let staff = auth_store::staff_of(&state.db, caller.merchant_id)
        .await?
        .into_iter()
        .map(|s| StaffView {
            role_key: Role::parse(&s.role)
                .map(Role::label_key)
                .unwrap_or("role.unknown"),
            locked: s.locked_until.is_some_and(|u| u > now),
            since: format_local(s.created_at, tz),
            user_id: s.user_id,
            username: s.username,
            display_name: s.display_name,
            disabled: s.disabled,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = page(&StaffPage {
        shell,
        staff,
        roles: Role::ALL.to_vec(),
        form_username: form.map(|f| f.username.clone()).unwrap_or_default(),
        form_display_name: form.map(|f| f.display_name.clone()).unwrap_or_default(),
        form_role: form
            .map(|f| f.role.clone())
            .unwrap_or_else(|| "operator".into()),
        errors,
        me: caller.user_id().unwrap_or_default(),
    })?;
    *res.status_mut() = status;
    Ok(res)
}

#[derive(Deserialize)]
struct StaffForm {
    username: String,
    #[serde(default)]
    display_name: String,
    password: String,
    role: String,
}

async fn add_staff_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<StaffForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageStaff)?;
    let Some(role) = Role::parse(&f.role) else {
        let mut errors = FieldErrors::default();
        errors.add("role", crate::platform::i18n::Msg::new("staff.bad_role"));
        return render_staff(&state, &caller, &uri, Some(&f), errors).await;
    };
    let input = StaffInput {
        username: f.username.clone(),
        display_name: f.display_name.clone(),
        password: f.password.clone(),
        role,
    };
    match super::add_staff(
        &state.db,
        caller.merchant_id,
        &input,
        caller.role,
        state.clock.now_ms(),
    )
    .await
    {
        Ok(_) => Ok(Redirect::to("/staff?notice=staff_added").into_response()),
        Err(AppError::Validation(errors)) => {
            render_staff(&state, &caller, &uri, Some(&f), errors).await
        }
        Err(e) => Err(e),
    }
}

async fn set_disabled(
    state: &AppState,
    caller: &Caller,
    user_id: i64,
    disabled: bool,
) -> Result<(), AppError> {
    caller.require(Permission::ManageStaff)?;
    if disabled && caller.user_id() == Some(user_id) {
        return Err(AppError::Conflict(crate::platform::i18n::Msg::new(
            "staff.cannot_disable_self",
        )));
    }
    if !auth_store::set_user_disabled(&state.db, caller.merchant_id, user_id, disabled).await? {
        return Err(AppError::NotFound);
    }
    if disabled {
        auth_store::delete_sessions_of(&state.db, user_id, None).await?;
    }
    Ok(())
}

async fn disable_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<i64>,
) -> Result<Response, AppError> {
    set_disabled(&state, &caller, user_id, true).await?;
    Ok(Redirect::to("/staff?notice=staff_disabled").into_response())
}

async fn enable_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<i64>,
) -> Result<Response, AppError> {
    set_disabled(&state, &caller, user_id, false).await?;
    Ok(Redirect::to("/staff?notice=staff_enabled").into_response())
}

#[derive(Serialize, ToSchema)]
pub struct StaffOut {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub disabled: bool,
    /// Locked after repeated failed sign-ins.
    pub locked: bool,
}

fn staff_out(s: StaffRow, now: i64) -> StaffOut {
    StaffOut {
        user_id: s.user_id,
        username: s.username,
        display_name: s.display_name,
        role: s.role,
        disabled: s.disabled,
        locked: s.locked_until.is_some_and(|u| u > now),
    }
}

/// Lists the staff of the caller's merchant (owner only).
#[utoipa::path(get, path = "/api/v1/staff", tag = "staff",
    responses((status = 200, body = Page<StaffOut>), (status = 403, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list_staff(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Page<StaffOut>>, AppError> {
    caller.require(Permission::ManageStaff)?;
    let now = state.clock.now_ms();
    let items = auth_store::staff_of(&state.db, caller.merchant_id)
        .await?
        .into_iter()
        .map(|s| staff_out(s, now))
        .collect();
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// Adds a member of staff with a role (owner only).
#[utoipa::path(post, path = "/api/v1/staff", tag = "staff", request_body = StaffInput,
    responses((status = 201, body = StaffOut), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_add_staff(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<StaffInput>,
) -> Result<(StatusCode, Json<StaffOut>), AppError> {
    caller.require(Permission::ManageStaff)?;
    let user_id = super::add_staff(
        &state.db,
        caller.merchant_id,
        &input,
        caller.role,
        state.clock.now_ms(),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(StaffOut {
            user_id,
            username: input.username.trim().to_string(),
            display_name: input.display_name.trim().to_string(),
            role: input.role.as_str().to_string(),
            disabled: false,
            locked: false,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct StaffUpdate {
    /// Disabled staff cannot sign in; their sessions end at once.
    pub disabled: bool,
}

/// Disables or re-enables a member of staff (owner only).
#[utoipa::path(patch, path = "/api/v1/staff/{user_id}", tag = "staff", request_body = StaffUpdate,
    params(("user_id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_update_staff(
    State(state): State<AppState>,
    caller: Caller,
    Path(user_id): Path<i64>,
    ApiJson(update): ApiJson<StaffUpdate>,
) -> Result<StatusCode, AppError> {
    set_disabled(&state, &caller, user_id, update.disabled).await?;
    Ok(StatusCode::NO_CONTENT)
}
