//! Official accounts (公众号接入): adding and editing an account, its callback URL and the
//! credentials to paste into WeChat, what the account may do, and a connection test.

pub mod model;
pub mod routes;
pub mod store;
pub mod tokens;

use std::time::Instant;

use model::{AccountInput, AccountKind, SecurityMode, ValidAccount};
pub use store::AccountRow;

use crate::merchants::field_error;
use crate::platform::config::Mode;
use crate::platform::db::{Db, Tx, is_unique_violation};
use crate::platform::error::AppError;
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;
use crate::platform::web::Choice;

impl AccountRow {
    pub fn kind(&self) -> AccountKind {
        AccountKind::parse(&self.kind).unwrap_or(AccountKind::Subscription)
    }

    pub fn security_mode(&self) -> SecurityMode {
        SecurityMode::parse(&self.security_mode).unwrap_or(SecurityMode::Safe)
    }

    pub fn callback_url(&self, public_url: &str) -> String {
        model::callback_url(public_url, &self.callback_key)
    }
}

pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<Option<AccountRow>, sqlx::Error> {
    store::get(db, merchant_id, id).await
}

/// The merchant's accounts, for the account switcher.
pub async fn choices(db: &Db, merchant_id: i64) -> Result<Vec<Choice>, sqlx::Error> {
    Ok(store::names(db, merchant_id)
        .await?
        .into_iter()
        .map(|(id, name)| Choice { id, name })
        .collect())
}

/// Whether a new account talks to the sandbox: as asked, else as the server runs.
fn wants_sandbox(input: &AccountInput, mode: Mode) -> bool {
    input.sandbox.unwrap_or(mode == Mode::Sandbox)
}

/// Creates an account. A sandbox account without AppID or AppSecret gets generated ones, and
/// is registered on the emulated WeChat side with the same credentials.
pub async fn create(
    db: &Db,
    merchant_id: i64,
    input: &AccountInput,
    mode: Mode,
    public_url: &str,
    now: i64,
) -> Result<AccountRow, AppError> {
    let sandbox = wants_sandbox(input, mode);
    let mut input = input.clone();
    if sandbox && input.app_id.trim().is_empty() && input.app_secret.trim().is_empty() {
        let (id, secret) = model::generate_sandbox_credentials();
        input.app_id = id;
        input.app_secret = secret;
    }
    let valid = model::validate(&input, true).map_err(AppError::Validation)?;
    let token = valid.token.clone().unwrap_or_else(model::generate_token);
    let aes = valid
        .encoding_aes_key
        .clone()
        .unwrap_or_else(model::generate_aes_key);
    let secret = valid.app_secret.clone().unwrap_or_default();
    let callback_key = model::generate_callback_key();
    let mut tx = db.begin().await?;
    let new = store::NewAccount {
        merchant_id,
        name: &valid.name,
        kind: valid.kind.as_str(),
        verified: valid.verified,
        app_id: &valid.app_id,
        app_secret: &secret,
        token: &token,
        encoding_aes_key: &aes,
        security_mode: valid.security_mode.as_str(),
        sandbox,
        callback_key: &callback_key,
    };
    let id = match store::insert(&mut tx, &new, now).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => {
            return Err(field_error("app_id", Msg::new("account.app_id_taken")));
        }
        Err(e) => return Err(e.into()),
    };
    let row = store::get_for_update(&mut tx, merchant_id, id)
        .await?
        .ok_or_else(|| AppError::internal("account vanished inside its transaction"))?;
    if sandbox {
        register_on_sandbox(&mut tx, &row, public_url, now).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Changes an account; empty secrets keep the stored ones.
pub async fn update(
    db: &Db,
    merchant_id: i64,
    id: i64,
    input: &AccountInput,
    public_url: &str,
    now: i64,
) -> Result<AccountRow, AppError> {
    let valid: ValidAccount = model::validate(input, false).map_err(AppError::Validation)?;
    let mut tx = db.begin().await?;
    let old = store::get_for_update(&mut tx, merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let credentials_changed = valid.app_id != old.app_id
        || valid
            .app_secret
            .as_ref()
            .is_some_and(|s| *s != old.app_secret);
    let old_app_id = old.app_id.clone();
    let secret = valid.app_secret.unwrap_or(old.app_secret);
    let token = valid.token.unwrap_or(old.token);
    let aes = valid.encoding_aes_key.unwrap_or(old.encoding_aes_key);
    let update = store::AccountUpdate {
        name: &valid.name,
        kind: valid.kind.as_str(),
        verified: valid.verified,
        app_id: &valid.app_id,
        app_secret: &secret,
        token: &token,
        encoding_aes_key: &aes,
        security_mode: valid.security_mode.as_str(),
    };
    match store::update(&mut tx, merchant_id, id, &update, now).await {
        Ok(true) => {}
        Ok(false) => return Err(AppError::NotFound),
        Err(e) if is_unique_violation(&e) => {
            return Err(field_error("app_id", Msg::new("account.app_id_taken")));
        }
        Err(e) => return Err(e.into()),
    }
    let row = store::get_for_update(&mut tx, merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.sandbox {
        register_on_sandbox(&mut tx, &row, public_url, now).await?;
    }
    if credentials_changed {
        // A token fetched with the old credentials must not outlive them.
        tokens::forget(&mut tx, &old_app_id).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Keeps the emulated WeChat's record in step with ours, as if the merchant had pasted the
/// same credentials into WeChat's developer settings.
async fn register_on_sandbox(
    tx: &mut Tx,
    row: &AccountRow,
    public_url: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    let app = store::SandboxAppRow {
        app_id: row.app_id.clone(),
        app_secret: row.app_secret.clone(),
        token: row.token.clone(),
        encoding_aes_key: row.encoding_aes_key.clone(),
        security_mode: row.security_mode.clone(),
        callback_url: row.callback_url(public_url),
        kind: row.kind.clone(),
        verified: row.verified,
    };
    store::upsert_sandbox_app(tx, &app, now).await
}

/// Sets the follow welcome and the default reply of an account of this merchant.
pub async fn set_replies(
    db: &Db,
    merchant_id: i64,
    id: i64,
    input: &model::RepliesInput,
    now: i64,
) -> Result<(), AppError> {
    let (welcome, default) = model::validate_replies(input).map_err(AppError::Validation)?;
    if store::set_replies(db, merchant_id, id, &welcome, &default, now).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The result of asking WeChat for an access token with the account's credentials.
#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ConnectionTest {
    pub ok: bool,
    /// WeChat's errcode when it refused (e.g. 40125: wrong AppSecret).
    pub errcode: Option<i64>,
    /// What happened and what to do, in the caller's language.
    pub message: String,
    pub elapsed_ms: u64,
    /// Which WeChat answered: `sandbox` or `wechat`.
    pub target: String,
}

/// Fetches a new access token to prove AppID and AppSecret work (and, for real accounts, that
/// this server's IP is whitelisted). The token goes into the shared cache, so the test costs
/// no other instance its token.
pub async fn test_connection(
    state: &AppState,
    account: &AccountRow,
    lang: crate::platform::i18n::Lang,
) -> ConnectionTest {
    let started = Instant::now();
    let result = tokens::cache_of(state, account).refresh_now().await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let target = if account.sandbox { "sandbox" } else { "wechat" }.to_string();
    match result {
        Ok(_) => ConnectionTest {
            ok: true,
            errcode: None,
            message: lang.render(&Msg::new("account.test_ok").arg("ms", elapsed_ms)),
            elapsed_ms,
            target,
        },
        Err(e) => {
            tracing::info!(account_id = account.id, error = %e, "connection test failed");
            let msg = match e.errcode() {
                Some(code) => Msg::new(explain_errcode(code)).arg("code", code),
                None => Msg::new("account.test_unreachable"),
            };
            ConnectionTest {
                ok: false,
                errcode: e.errcode(),
                message: lang.render(&msg),
                elapsed_ms,
                target,
            }
        }
    }
}

/// The message key that explains a WeChat errcode of the token call.
pub fn explain_errcode(code: i64) -> &'static str {
    match code {
        40013 => "wxerr.40013",
        40125 | 40001 => "wxerr.40125",
        40164 => "wxerr.40164",
        89503 => "wxerr.40164",
        45009 => "wxerr.45009",
        -1 => "wxerr.busy",
        _ => "wxerr.other",
    }
}
