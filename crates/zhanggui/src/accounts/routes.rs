//! The accounts pages (list, add, edit, show with connection test) and `/api/v1/accounts`.

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

use super::model::{AccountInput, AccountKind, SecurityMode, WeChatFeature, mask};
use super::{AccountRow, ConnectionTest};
use crate::platform::api::{ApiJson, ListQuery, Page};
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list_page).post(create_form))
        .route("/accounts/new", get(new_page))
        .route("/accounts/{id}", get(show_page).post(update_form))
        .route("/accounts/{id}/edit", get(edit_page))
        .route("/accounts/{id}/test", post(test_form))
        .route("/accounts/{id}/replies", post(replies_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_get, api_update))
        .routes(routes!(api_test))
        .routes(routes!(api_set_replies))
}

/// An account as pages show it: secrets masked.
struct AccountView {
    id: i64,
    name: String,
    kind_key: &'static str,
    verified: bool,
    app_id: String,
    app_secret_masked: String,
    token_masked: String,
    aes_key_masked: String,
    mode_key: &'static str,
    sandbox: bool,
    callback_url: String,
    created: String,
    welcome_text: String,
    default_reply_text: String,
    features: Vec<FeatureView>,
}

struct FeatureView {
    label_key: &'static str,
    refusal_key: Option<&'static str>,
}

fn view(a: &AccountRow, public_url: &str, tz: chrono_tz::Tz) -> AccountView {
    let kind = a.kind();
    AccountView {
        id: a.id,
        name: a.name.clone(),
        kind_key: kind.label_key(),
        verified: a.verified,
        app_id: a.app_id.clone(),
        app_secret_masked: mask(&a.app_secret),
        token_masked: mask(&a.token),
        aes_key_masked: mask(&a.encoding_aes_key),
        mode_key: a.security_mode().label_key(),
        sandbox: a.sandbox,
        callback_url: a.callback_url(public_url),
        created: format_local(a.created_at, tz),
        welcome_text: a.welcome_text.clone(),
        default_reply_text: a.default_reply_text.clone(),
        features: WeChatFeature::ALL
            .into_iter()
            .map(|f| FeatureView {
                label_key: f.label_key(),
                refusal_key: f.refusal(kind, a.verified),
            })
            .collect(),
    }
}

#[derive(Template)]
#[template(path = "accounts/list.html")]
struct ListPage {
    shell: Shell,
    accounts: Vec<AccountView>,
    can_manage: bool,
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewAccounts)?;
    let shell = Shell::for_caller(&state, &caller, "accounts", "accounts.title", &uri).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let rows = super::store::list(&state.db, caller.merchant_id, 0, 1000).await?;
    page(&ListPage {
        shell,
        accounts: rows
            .iter()
            .map(|a| view(a, &state.config.public_url, tz))
            .collect(),
        can_manage: caller.role.allows(Permission::ManageAccounts),
    })
}

#[derive(Template)]
#[template(path = "accounts/form.html")]
struct FormPage {
    shell: Shell,
    /// `None` when adding.
    id: Option<i64>,
    form: FormValues,
    errors: FieldErrors,
    modes: Vec<SecurityMode>,
    secret_hint: String,
}

impl FormPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }

    /// (field, "label: message") for the summary at the top of the form.
    fn error_summary(&self) -> Vec<(String, String)> {
        self.errors
            .0
            .iter()
            .map(|e| {
                let label = self.shell.t(field_label(&e.field));
                let message = self.shell.lang.render(&e.msg);
                let colon = if self.shell.is_zh() { "：" } else { ": " };
                (e.field.clone(), format!("{label}{colon}{message}"))
            })
            .collect()
    }
}

fn field_label(field: &str) -> &'static str {
    match field {
        "name" => "account.name",
        "kind" => "account.kind",
        "app_id" => "account.app_id",
        "app_secret" => "account.app_secret",
        "token" => "account.token",
        "encoding_aes_key" => "account.aes_key",
        _ => "account.security_mode",
    }
}

#[derive(Default)]
struct FormValues {
    name: String,
    kind: String,
    verified: bool,
    app_id: String,
    security_mode: String,
    sandbox: bool,
}

impl FormValues {
    fn of_input(i: &AccountInput, sandbox: bool) -> FormValues {
        FormValues {
            name: i.name.clone(),
            kind: i.kind.clone(),
            verified: i.verified,
            app_id: i.app_id.clone(),
            security_mode: i.security_mode.clone(),
            sandbox,
        }
    }
}

async fn new_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageAccounts)?;
    let sandbox = state.config.mode == crate::platform::config::Mode::Sandbox;
    let form = FormValues {
        kind: AccountKind::Service.as_str().into(),
        security_mode: SecurityMode::Safe.as_str().into(),
        sandbox,
        ..FormValues::default()
    };
    render_form(
        &state,
        &caller,
        &uri,
        None,
        form,
        FieldErrors::default(),
        String::new(),
    )
    .await
}

async fn render_form(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    id: Option<i64>,
    form: FormValues,
    errors: FieldErrors,
    secret_hint: String,
) -> Result<Response, AppError> {
    let title = if id.is_some() {
        "accounts.edit_title"
    } else {
        "accounts.new_title"
    };
    let shell = Shell::for_caller(state, caller, "accounts", title, uri).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = page(&FormPage {
        shell,
        id,
        form,
        errors,
        modes: SecurityMode::ALL.to_vec(),
        secret_hint,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

/// An HTML form posts checkboxes only when ticked, and strings for everything.
#[derive(Deserialize)]
struct AccountForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    verified: Option<String>,
    #[serde(default)]
    app_id: String,
    #[serde(default)]
    app_secret: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    encoding_aes_key: String,
    #[serde(default)]
    security_mode: String,
    sandbox: Option<String>,
}

impl AccountForm {
    fn input(&self, sandbox_field_shown: bool) -> AccountInput {
        AccountInput {
            name: self.name.clone(),
            kind: self.kind.clone(),
            verified: self.verified.is_some(),
            app_id: self.app_id.clone(),
            app_secret: self.app_secret.clone(),
            token: self.token.clone(),
            encoding_aes_key: self.encoding_aes_key.clone(),
            security_mode: self.security_mode.clone(),
            sandbox: sandbox_field_shown.then_some(self.sandbox.is_some()),
        }
    }
}

#[derive(Template)]
#[template(path = "accounts/connect.html")]
struct ConnectPage {
    shell: Shell,
    account: AccountView,
    token: String,
    aes_key: String,
}

async fn create_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<AccountForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageAccounts)?;
    let input = f.input(true);
    let now = state.clock.now_ms();
    match super::create(
        &state.db,
        caller.merchant_id,
        &input,
        state.config.mode,
        &state.config.public_url,
        now,
    )
    .await
    {
        Ok(row) => show_credentials_once(&state, &caller, &uri, &row).await,
        Err(AppError::Validation(errors)) => {
            let form = FormValues::of_input(&input, input.sandbox.unwrap_or(false));
            render_form(&state, &caller, &uri, None, form, errors, String::new()).await
        }
        Err(e) => Err(e),
    }
}

/// The one page that shows Token and EncodingAESKey in full: right after they were set, to be
/// pasted into WeChat's developer settings.
async fn show_credentials_once(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    row: &AccountRow,
) -> Result<Response, AppError> {
    let shell = Shell::for_caller(state, caller, "accounts", "accounts.connect_title", uri).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let mut res = page(&ConnectPage {
        shell,
        account: view(row, &state.config.public_url, tz),
        token: row.token.clone(),
        aes_key: row.encoding_aes_key.clone(),
    })?;
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

#[derive(Template)]
#[template(path = "accounts/show.html")]
struct ShowPage {
    shell: Shell,
    account: AccountView,
    can_manage: bool,
    test: Option<ConnectionTest>,
    errors: FieldErrors,
}

impl ShowPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }
}

async fn show_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    render_show(&state, &caller, &uri, id, None, FieldErrors::default()).await
}

async fn render_show(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    id: i64,
    test: Option<ConnectionTest>,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewAccounts)?;
    let row = super::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let shell = Shell::for_caller(state, caller, "accounts", "accounts.show_title", uri).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = page(&ShowPage {
        shell,
        account: view(&row, &state.config.public_url, tz),
        can_manage: caller.role.allows(Permission::ManageAccounts),
        test,
        errors,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

async fn replies_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(input): Form<super::model::RepliesInput>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageAccounts)?;
    match super::set_replies(
        &state.db,
        caller.merchant_id,
        id,
        &input,
        state.clock.now_ms(),
    )
    .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/accounts/{id}?notice=replies_saved")).into_response()),
        Err(AppError::Validation(errors)) => {
            render_show(&state, &caller, &uri, id, None, errors).await
        }
        Err(e) => Err(e),
    }
}

async fn edit_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageAccounts)?;
    let row = super::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = FormValues {
        name: row.name.clone(),
        kind: row.kind.clone(),
        verified: row.verified,
        app_id: row.app_id.clone(),
        security_mode: row.security_mode.clone(),
        sandbox: row.sandbox,
    };
    render_form(
        &state,
        &caller,
        &uri,
        Some(id),
        form,
        FieldErrors::default(),
        mask(&row.app_secret),
    )
    .await
}

async fn update_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<AccountForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageAccounts)?;
    let before = super::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let input = f.input(false);
    let now = state.clock.now_ms();
    match super::update(
        &state.db,
        caller.merchant_id,
        id,
        &input,
        &state.config.public_url,
        now,
    )
    .await
    {
        Ok(row) if row.token != before.token || row.encoding_aes_key != before.encoding_aes_key => {
            show_credentials_once(&state, &caller, &uri, &row).await
        }
        Ok(row) => {
            Ok(Redirect::to(&format!("/accounts/{}?notice=account_saved", row.id)).into_response())
        }
        Err(AppError::Validation(errors)) => {
            let form = FormValues::of_input(&input, before.sandbox);
            render_form(
                &state,
                &caller,
                &uri,
                Some(id),
                form,
                errors,
                mask(&before.app_secret),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

async fn test_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewAccounts)?;
    let row = super::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let result = super::test_connection(&state, &row, caller.lang).await;
    render_show(
        &state,
        &caller,
        &uri,
        id,
        Some(result),
        FieldErrors::default(),
    )
    .await
}

// ---- JSON API ----

#[derive(Serialize, ToSchema)]
pub struct FeatureOut {
    #[schema(example = "menu")]
    pub feature: String,
    pub allowed: bool,
    /// Why not, in the caller's language.
    pub reason: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AccountOut {
    pub id: i64,
    pub name: String,
    pub kind: AccountKind,
    pub verified: bool,
    pub app_id: String,
    /// Only the last four characters.
    pub app_secret: String,
    pub token: String,
    pub encoding_aes_key: String,
    pub security_mode: SecurityMode,
    pub sandbox: bool,
    /// Paste into WeChat's developer settings (服务器地址 URL).
    pub callback_url: String,
    /// Sent when someone follows; empty: nothing.
    pub welcome_text: String,
    /// Sent in answer to any other text; empty: nothing.
    pub default_reply_text: String,
    pub created_at: String,
    pub updated_at: String,
    pub features: Vec<FeatureOut>,
}

/// A just-created account: the only answer that carries Token and EncodingAESKey in full.
#[derive(Serialize, ToSchema)]
pub struct AccountCreated {
    pub account: AccountOut,
    pub token: String,
    pub encoding_aes_key: String,
}

fn account_out(
    a: &AccountRow,
    public_url: &str,
    tz: chrono_tz::Tz,
    lang: crate::platform::i18n::Lang,
) -> AccountOut {
    let kind = a.kind();
    AccountOut {
        id: a.id,
        name: a.name.clone(),
        kind,
        verified: a.verified,
        app_id: a.app_id.clone(),
        app_secret: mask(&a.app_secret),
        token: mask(&a.token),
        encoding_aes_key: mask(&a.encoding_aes_key),
        security_mode: a.security_mode(),
        sandbox: a.sandbox,
        callback_url: a.callback_url(public_url),
        welcome_text: a.welcome_text.clone(),
        default_reply_text: a.default_reply_text.clone(),
        created_at: rfc3339(a.created_at, tz),
        updated_at: rfc3339(a.updated_at, tz),
        features: WeChatFeature::ALL
            .into_iter()
            .map(|f| {
                let refusal = f.refusal(kind, a.verified);
                FeatureOut {
                    feature: f.label_key().trim_start_matches("feature.").to_string(),
                    allowed: refusal.is_none(),
                    reason: refusal.map(|k| lang.t(k).to_string()),
                }
            })
            .collect(),
    }
}

/// Lists the merchant's official accounts.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(ListQuery),
    responses((status = 200, body = Page<AccountOut>), (status = 403, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<AccountOut>>, AppError> {
    caller.require(Permission::ViewAccounts)?;
    let (after, limit) = q.window()?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let rows = super::store::list(&state.db, caller.merchant_id, after, limit).await?;
    let items = rows
        .iter()
        .map(|a| account_out(a, &state.config.public_url, tz, caller.lang))
        .collect();
    Ok(Json(Page::of(items, limit, |a| a.id)))
}

/// Adds an official account. Token and EncodingAESKey are generated when omitted and are
/// returned in full only in this answer.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = AccountInput,
    responses((status = 201, body = AccountCreated), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<AccountInput>,
) -> Result<(StatusCode, Json<AccountCreated>), AppError> {
    caller.require(Permission::ManageAccounts)?;
    let now = state.clock.now_ms();
    let row = super::create(
        &state.db,
        caller.merchant_id,
        &input,
        state.config.mode,
        &state.config.public_url,
        now,
    )
    .await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(AccountCreated {
            account: account_out(&row, &state.config.public_url, tz, caller.lang),
            token: row.token.clone(),
            encoding_aes_key: row.encoding_aes_key.clone(),
        }),
    ))
}

/// One official account (secrets masked).
#[utoipa::path(get, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 200, body = AccountOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<AccountOut>, AppError> {
    caller.require(Permission::ViewAccounts)?;
    let row = super::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok(Json(account_out(
        &row,
        &state.config.public_url,
        tz,
        caller.lang,
    )))
}

/// Changes an official account. Empty `app_secret`, `token` or `encoding_aes_key` keep the
/// stored values.
#[utoipa::path(put, path = "/api/v1/accounts/{id}", tag = "accounts", params(("id" = i64, Path)), request_body = AccountInput,
    responses((status = 200, body = AccountOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_update(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<AccountInput>,
) -> Result<Json<AccountOut>, AppError> {
    caller.require(Permission::ManageAccounts)?;
    let row = super::update(
        &state.db,
        caller.merchant_id,
        id,
        &input,
        &state.config.public_url,
        state.clock.now_ms(),
    )
    .await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok(Json(account_out(
        &row,
        &state.config.public_url,
        tz,
        caller.lang,
    )))
}

/// Asks WeChat (or the sandbox) for an access token with the account's credentials.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/test-connection", tag = "accounts", params(("id" = i64, Path)),
    responses((status = 200, body = ConnectionTest), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_test(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Json<ConnectionTest>, AppError> {
    caller.require(Permission::ViewAccounts)?;
    let row = super::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(Json(
        super::test_connection(&state, &row, caller.lang).await,
    ))
}

/// Sets the follow welcome and the default reply (owner, operator).
#[utoipa::path(put, path = "/api/v1/accounts/{id}/replies", tag = "accounts", params(("id" = i64, Path)),
    request_body = super::model::RepliesInput,
    responses((status = 200, body = AccountOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_set_replies(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(input): ApiJson<super::model::RepliesInput>,
) -> Result<Json<AccountOut>, AppError> {
    caller.require(Permission::ManageAccounts)?;
    super::set_replies(
        &state.db,
        caller.merchant_id,
        id,
        &input,
        state.clock.now_ms(),
    )
    .await?;
    let row = super::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok(Json(account_out(
        &row,
        &state.config.public_url,
        tz,
        caller.lang,
    )))
}
