//! API keys (API 密钥): per-merchant credentials for integrators, created and revoked in the
//! console, each with a role that bounds what it may do.

pub mod routes;
pub mod store;

use crate::merchants::model::check_name;
use crate::platform::auth::ApiKeyPrincipal;
use crate::platform::auth::model::{self as auth_model, Role};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;

/// `last_used_at` is refreshed at most this often, so API reads stay reads.
const TOUCH_EVERY_MS: i64 = 60_000;

/// The merchant and role of a presented key, or `None` for an unknown or revoked key.
pub async fn authenticate(
    state: &AppState,
    key: &str,
) -> Result<Option<ApiKeyPrincipal>, AppError> {
    if !key.starts_with(auth_model::API_KEY_PREFIX) {
        return Ok(None);
    }
    let Some(row) = store::by_hash(&state.db, &auth_model::token_hash(key)).await? else {
        return Ok(None);
    };
    let Some(role) = Role::parse(&row.role) else {
        return Ok(None);
    };
    let now = state.clock.now_ms();
    if row.last_used_at.is_none_or(|t| now - t > TOUCH_EVERY_MS) {
        store::touch(&state.db, row.id, now).await?;
    }
    Ok(Some(ApiKeyPrincipal {
        key_id: row.id,
        merchant_id: row.merchant_id,
        role,
    }))
}

#[derive(Clone, Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct NewApiKeyInput {
    /// What the key is for, e.g. "收银系统".
    #[schema(example = "收银系统 POS")]
    pub name: String,
    /// The role the key acts with; no higher than the creator's.
    pub role: Role,
}

/// Creates a key and returns (its id, the key itself — shown once, stored only as a hash).
pub async fn create(
    state: &AppState,
    merchant_id: i64,
    input: &NewApiKeyInput,
    granter: Role,
    created_by: Option<i64>,
) -> Result<(i64, String, String), AppError> {
    let mut errors = FieldErrors::default();
    let name = input.name.trim().to_string();
    check_name(&mut errors, "name", &name, 60);
    if !granter.may_grant(input.role) {
        errors.add("role", Msg::new("staff.role_too_high"));
    }
    errors.into_result(())?;
    let (key, prefix) = auth_model::new_api_key();
    let id = store::insert(
        &state.db,
        &store::NewKey {
            merchant_id,
            name: &name,
            prefix: &prefix,
            key_hash: &auth_model::token_hash(&key),
            role: input.role.as_str(),
            created_by,
        },
        state.clock.now_ms(),
    )
    .await?;
    Ok((id, key, prefix))
}
