//! The API keys page and `/api/v1/api-keys`.

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

use super::NewApiKeyInput;
use super::store::ApiKeyRow;
use crate::platform::api::{ApiJson, ListQuery, Page};
use crate::platform::auth::Caller;
use crate::platform::auth::model::{Permission, Role};
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-keys", get(list_page).post(create_form))
        .route("/api-keys/{id}/revoke", post(revoke_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_revoke))
}

struct KeyView {
    id: i64,
    name: String,
    prefix: String,
    role_key: &'static str,
    created: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "apikeys/list.html")]
struct ListPage {
    shell: Shell,
    keys: Vec<KeyView>,
    roles: Vec<Role>,
    form_name: String,
    form_role: String,
    errors: FieldErrors,
    /// The key just created: shown this once.
    new_key: Option<String>,
}

impl ListPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageApiKeys)?;
    render(
        &state,
        &caller,
        &uri,
        ("".into(), "operator".into()),
        FieldErrors::default(),
        None,
    )
    .await
}

async fn render(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    form: (String, String),
    errors: FieldErrors,
    new_key: Option<String>,
) -> Result<Response, AppError> {
    let shell = Shell::for_caller(state, caller, "api_keys", "apikeys.title", uri).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let keys = super::store::list(&state.db, caller.merchant_id, 0, 1000)
        .await?
        .into_iter()
        .map(|k| KeyView {
            role_key: Role::parse(&k.role)
                .map(Role::label_key)
                .unwrap_or("role.unknown"),
            created: format_local(k.created_at, tz),
            last_used: k
                .last_used_at
                .map(|t| format_local(t, tz))
                .unwrap_or_default(),
            revoked: k.revoked_at.is_some(),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
        })
        .collect();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let no_store = new_key.is_some();
    let mut res = page(&ListPage {
        shell,
        keys,
        roles: Role::ALL.to_vec(),
        form_name: form.0,
        form_role: form.1,
        errors,
        new_key,
    })?;
    *res.status_mut() = status;
    if no_store {
        res.headers_mut().insert(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
}

#[derive(Deserialize)]
struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

async fn create_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<KeyForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageApiKeys)?;
    let Some(role) = Role::parse(&f.role) else {
        let mut errors = FieldErrors::default();
        errors.add("role", Msg::new("staff.bad_role"));
        return render(&state, &caller, &uri, (f.name, f.role), errors, None).await;
    };
    let input = NewApiKeyInput {
        name: f.name.clone(),
        role,
    };
    match super::create(
        &state,
        caller.merchant_id,
        &input,
        caller.role,
        caller.user_id(),
    )
    .await
    {
        Ok((_, key, _)) => {
            render(
                &state,
                &caller,
                &uri,
                ("".into(), "operator".into()),
                FieldErrors::default(),
                Some(key),
            )
            .await
        }
        Err(AppError::Validation(errors)) => {
            render(&state, &caller, &uri, (f.name, f.role), errors, None).await
        }
        Err(e) => Err(e),
    }
}

async fn revoke_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageApiKeys)?;
    if !super::store::revoke(&state.db, caller.merchant_id, id, state.clock.now_ms()).await? {
        return Err(AppError::NotFound);
    }
    Ok(Redirect::to("/api-keys?notice=key_revoked").into_response())
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyOut {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, to recognise it.
    #[schema(example = "zg_3fa9c1")]
    pub prefix: String,
    pub role: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyCreated {
    pub api_key: ApiKeyOut,
    /// The key itself. Shown only in this answer; store it now.
    pub key: String,
}

fn key_out(k: ApiKeyRow, tz: chrono_tz::Tz) -> ApiKeyOut {
    ApiKeyOut {
        id: k.id,
        name: k.name,
        prefix: k.prefix,
        role: k.role,
        created_at: rfc3339(k.created_at, tz),
        last_used_at: k.last_used_at.map(|t| rfc3339(t, tz)),
        revoked_at: k.revoked_at.map(|t| rfc3339(t, tz)),
    }
}

/// Lists the merchant's API keys (owner only).
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys", params(ListQuery),
    responses((status = 200, body = Page<ApiKeyOut>), (status = 403, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> Result<Json<Page<ApiKeyOut>>, AppError> {
    caller.require(Permission::ManageApiKeys)?;
    let (after, limit) = q.window()?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let rows = super::store::list(&state.db, caller.merchant_id, after, limit).await?;
    let items = rows.into_iter().map(|k| key_out(k, tz)).collect();
    Ok(Json(Page::of(items, limit, |k: &ApiKeyOut| k.id)))
}

/// Creates an API key (owner only). The key is in this answer only.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys", request_body = NewApiKeyInput,
    responses((status = 201, body = ApiKeyCreated), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<NewApiKeyInput>,
) -> Result<(StatusCode, Json<ApiKeyCreated>), AppError> {
    caller.require(Permission::ManageApiKeys)?;
    let (id, key, _) = super::create(
        &state,
        caller.merchant_id,
        &input,
        caller.role,
        caller.user_id(),
    )
    .await?;
    let row = super::store::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(ApiKeyCreated {
            api_key: key_out(row, tz),
            key,
        }),
    ))
}

/// Revokes an API key at once (owner only).
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys", params(("id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::ManageApiKeys)?;
    if !super::store::revoke(&state.db, caller.merchant_id, id, state.clock.now_ms()).await? {
        return Err(AppError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
