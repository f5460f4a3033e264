//! `/wechat-sandbox` (模拟微信): the emulated WeChat as the current sandbox account sees it —
//! WeChat's check of the server settings, today's API calls against their quotas, the
//! simulated followers — and its fault knobs: added latency, errors at a rate per endpoint,
//! access tokens expired on demand. The same knobs are in the sandbox's own JSON API
//! (`/sandbox/api/apps/{app_id}/faults`) for tests and scripts.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sandbox::faults::{ErrorRule, Faults};
use serde::Deserialize;

use crate::accounts::AccountRow;
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::error::AppError;
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/wechat-sandbox", get(settings_page))
        .route("/wechat-sandbox/check", post(check_server))
        .route("/wechat-sandbox/faults", post(save_faults))
        .route("/wechat-sandbox/expire-tokens", post(expire_tokens))
}

/// The endpoints the fault form offers, as WeChat spells them; `*` is every call.
pub const FAULT_ENDPOINTS: &[&str] = &[
    "*",
    "/cgi-bin/token",
    "/cgi-bin/stable_token",
    "/cgi-bin/message/custom/send",
    "/cgi-bin/message/mass/sendall",
    "/cgi-bin/message/template/send",
    "/cgi-bin/menu/create",
    "/cgi-bin/user/get",
    "/cgi-bin/user/info/batchget",
    "/cgi-bin/tags/members/batchtagging",
    "/cgi-bin/qrcode/create",
    "/cgi-bin/media/upload",
    "/cgi-bin/draft/add",
];

/// The failures the fault form offers: WeChat errcodes, or gateway errors (`http:<status>`).
pub const FAULT_KINDS: &[(&str, &str)] = &[
    ("45009", "wxsandbox.fault.45009"),
    ("-1", "wxsandbox.fault.busy"),
    ("45011", "wxsandbox.fault.45011"),
    ("40001", "wxsandbox.fault.40001"),
    ("48001", "wxsandbox.fault.48001"),
    ("http:502", "wxsandbox.fault.http502"),
    ("http:503", "wxsandbox.fault.http503"),
];

/// Rule rows the form shows.
const RULE_ROWS: usize = 3;

struct RuleRow {
    endpoint: String,
    rate_percent: String,
    kind: String,
}

struct QuotaRow {
    path: String,
    used: u64,
    limit: u64,
}

#[derive(Template)]
#[template(path = "sandbox_mode/settings.html")]
struct SettingsPage {
    shell: Shell,
    /// The current account, when it is a sandbox account.
    account: Option<AccountRow>,
    has_accounts: bool,
    can_manage: bool,
    followers: u64,
    latency_ms: u64,
    rules: Vec<RuleRow>,
    quotas: Vec<QuotaRow>,
    check: Option<sandbox::server_config::ServerCheck>,
    endpoints: &'static [&'static str],
    kinds: &'static [(&'static str, &'static str)],
    /// The message key of what was wrong with the submitted knobs.
    error: Option<&'static str>,
}

/// The current account if it talks to the sandbox.
async fn sandbox_account(
    state: &AppState,
    caller: &Caller,
    shell: &Shell,
) -> Result<Option<AccountRow>, AppError> {
    let account = match shell.account_id {
        Some(id) => crate::accounts::get(&state.db, caller.merchant_id, id).await?,
        None => None,
    };
    Ok(account.filter(|a| a.sandbox))
}

fn rule_rows(faults: &Faults) -> Vec<RuleRow> {
    let mut rows: Vec<RuleRow> = faults
        .errors
        .iter()
        .map(|r| RuleRow {
            endpoint: r.endpoint.clone(),
            rate_percent: format!("{}", (r.rate * 100.0).round()),
            kind: match (r.http_status, r.errcode) {
                (Some(s), _) => format!("http:{s}"),
                (None, Some(c)) => c.to_string(),
                (None, None) => String::new(),
            },
        })
        .collect();
    while rows.len() < RULE_ROWS.max(faults.errors.len()) {
        rows.push(RuleRow {
            endpoint: String::new(),
            rate_percent: String::new(),
            kind: String::new(),
        });
    }
    rows
}

async fn render(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    check: Option<sandbox::server_config::ServerCheck>,
    error: Option<&'static str>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewAccounts)?;
    let shell = Shell::for_caller(state, caller, "wechat_sandbox", "wxsandbox.title", uri).await?;
    let account = sandbox_account(state, caller, &shell).await?;
    let wechat = super::sandbox(state);
    let (followers, faults, quotas) = match &account {
        Some(a) => (
            wechat
                .docs
                .count(&a.app_id, sandbox::followers::KIND)
                .await
                .map_err(AppError::internal)?,
            sandbox::faults::load(&wechat, &a.app_id)
                .await
                .map_err(AppError::internal)?,
            sandbox::quota::today(&wechat, &a.app_id)
                .await
                .map_err(AppError::internal)?,
        ),
        None => (0, Faults::default(), vec![]),
    };
    let has_accounts = !shell.accounts.is_empty();
    page(&SettingsPage {
        has_accounts,
        can_manage: caller.role.allows(Permission::ManageAccounts),
        account,
        followers,
        latency_ms: faults.latency_ms,
        rules: rule_rows(&faults),
        quotas: quotas
            .into_iter()
            .map(|(path, used, limit)| QuotaRow { path, used, limit })
            .collect(),
        check,
        endpoints: FAULT_ENDPOINTS,
        kinds: FAULT_KINDS,
        error,
        shell,
    })
}

async fn settings_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    render(&state, &caller, &uri, None, None).await
}

/// The current sandbox account, for a change: 404 when there is none.
async fn account_to_change(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
) -> Result<AccountRow, AppError> {
    caller.require(Permission::ManageAccounts)?;
    let shell = Shell::for_caller(state, caller, "wechat_sandbox", "wxsandbox.title", uri).await?;
    sandbox_account(state, caller, &shell)
        .await?
        .ok_or(AppError::NotFound)
}

/// WeChat's GET with `echostr` to our callback URL, as when the merchant saves the settings.
async fn check_server(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewAccounts)?;
    let shell =
        Shell::for_caller(&state, &caller, "wechat_sandbox", "wxsandbox.title", &uri).await?;
    let account = sandbox_account(&state, &caller, &shell)
        .await?
        .ok_or(AppError::NotFound)?;
    let wechat = super::sandbox(&state);
    let app = wechat
        .docs
        .app(&account.app_id)
        .await
        .map_err(AppError::internal)?
        .ok_or(AppError::NotFound)?;
    let result = sandbox::server_config::check(&wechat, &app.callback_url, &app.token).await;
    render(&state, &caller, &uri, Some(result), None).await
}

#[derive(Deserialize)]
struct FaultForm {
    #[serde(default)]
    latency_ms: String,
    #[serde(default)]
    endpoint: Vec<String>,
    #[serde(default)]
    rate: Vec<String>,
    #[serde(default)]
    kind: Vec<String>,
}

/// The knobs a submitted form asks for; rows without a rate are left out.
fn faults_of(form: &FaultForm) -> Result<Faults, String> {
    let latency_ms = match form.latency_ms.trim() {
        "" => 0,
        n => n.parse::<u64>().map_err(|_| "latency".to_string())?,
    };
    let mut errors = vec![];
    for (i, endpoint) in form.endpoint.iter().enumerate() {
        let rate = form.rate.get(i).map(|r| r.trim()).unwrap_or("");
        if endpoint.is_empty() || rate.is_empty() {
            continue;
        }
        let percent: f64 = rate.parse().map_err(|_| "rate".to_string())?;
        let kind = form.kind.get(i).map(String::as_str).unwrap_or("45009");
        let (errcode, http_status) = match kind.strip_prefix("http:") {
            Some(s) => (
                None,
                Some(s.parse::<u16>().map_err(|_| "kind".to_string())?),
            ),
            None => (
                Some(kind.parse::<i64>().map_err(|_| "kind".to_string())?),
                None,
            ),
        };
        errors.push(ErrorRule {
            endpoint: endpoint.clone(),
            rate: percent / 100.0,
            errcode,
            http_status,
        });
    }
    let faults = Faults { latency_ms, errors };
    match faults.problem() {
        Some(_) => Err("range".to_string()),
        None => Ok(faults),
    }
}

async fn save_faults(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    axum_extra::extract::Form(form): axum_extra::extract::Form<FaultForm>,
) -> Result<Response, AppError> {
    let account = account_to_change(&state, &caller, &uri).await?;
    let faults = match faults_of(&form) {
        Ok(f) => f,
        Err(_) => {
            return render(
                &state,
                &caller,
                &uri,
                None,
                Some("wxsandbox.faults_invalid"),
            )
            .await;
        }
    };
    sandbox::faults::save(&super::sandbox(&state), &account.app_id, &faults)
        .await
        .map_err(AppError::internal)?;
    Ok(Redirect::to("/wechat-sandbox?notice=faults_saved").into_response())
}

async fn expire_tokens(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    let account = account_to_change(&state, &caller, &uri).await?;
    sandbox::token::expire_all(&super::sandbox(&state), &account.app_id)
        .await
        .map_err(AppError::internal)?;
    Ok(Redirect::to("/wechat-sandbox?notice=tokens_expired").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_knobs_and_bad_values_are_refused() {
        let form = FaultForm {
            latency_ms: "200".into(),
            endpoint: vec!["*".into(), "/cgi-bin/menu/create".into(), "".into()],
            rate: vec!["50".into(), "100".into(), "".into()],
            kind: vec!["45009".into(), "http:503".into(), "-1".into()],
        };
        let f = faults_of(&form).expect("valid");
        assert_eq!(f.latency_ms, 200);
        assert_eq!(f.errors.len(), 2);
        assert_eq!(f.errors[0].errcode, Some(45009));
        assert!((f.errors[0].rate - 0.5).abs() < 1e-9);
        assert_eq!(f.errors[1].http_status, Some(503));
        let bad = FaultForm {
            rate: vec!["150".into()],
            endpoint: vec!["*".into()],
            kind: vec!["45009".into()],
            latency_ms: String::new(),
        };
        assert!(faults_of(&bad).is_err());
        let bad = FaultForm {
            latency_ms: "soon".into(),
            endpoint: vec![],
            rate: vec![],
            kind: vec![],
        };
        assert!(faults_of(&bad).is_err());
    }
}
