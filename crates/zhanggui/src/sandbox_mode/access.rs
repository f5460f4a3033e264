//! Who may drive the emulated WeChat's control API (`/sandbox/api/apps/{app_id}/…`: the
//! simulated followers and their actions, inboxes, faults, tokens expired on demand, JS-SDK
//! tickets, WeChat's check of the server settings).
//!
//! In sandbox mode the whole instance is an emulator for trials, tests and scripts, and the
//! API stays open to them. In live mode the instance faces the internet and may keep sandbox
//! accounts for staging, so the API takes the console's credentials (a staff session with
//! its CSRF token, or an API key) and only for the caller's own merchant's sandbox apps.
//! WeChat's own paths (`/cgi-bin/…`, `/sns/…`) authenticate by WeChat's rules in both modes.

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::platform::auth::model::Permission;
use crate::platform::auth::{self, Caller};
use crate::platform::error::AppError;
use crate::platform::i18n::Lang;
use crate::platform::state::AppState;

/// The app a control API path is about: `/api/apps/{app_id}/…` (the path as seen under the
/// `/sandbox` mount); `None` for WeChat's own paths.
pub fn control_app(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/api/")?;
    let app = rest.strip_prefix("apps/").unwrap_or("");
    Some(app.split('/').next().unwrap_or(""))
}

/// Reading and acting as a simulated follower is what the simulator page allows
/// (`ViewAccounts`); changing how the emulated WeChat behaves for the account (faults,
/// tokens, tickets, the server check) is managing the account.
pub fn permission_for(method: &Method, path: &str) -> Permission {
    let changes_behaviour = ["/faults", "/jssdk/ticket", "/server-check"]
        .iter()
        .any(|part| path.contains(part));
    if changes_behaviour && method != Method::GET {
        Permission::ManageAccounts
    } else {
        Permission::ViewAccounts
    }
}

/// Middleware of the sandbox's router in live mode.
pub async fn require_console_caller(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Some(app_id) = control_app(req.uri().path()).map(str::to_string) else {
        return next.run(req).await;
    };
    let lang = Lang::from_headers(req.headers());
    match authorize(&state, req, &app_id).await {
        Ok(req) => next.run(req).await,
        Err(e) => refusal(e, lang),
    }
}

async fn authorize(state: &AppState, req: Request, app_id: &str) -> Result<Request, AppError> {
    // Without any credentials the answer is "sign in", not a failed CSRF check.
    let headers = req.headers();
    if auth::bearer_token(headers).is_none()
        && auth::cookie(headers, auth::SESSION_COOKIE).is_none()
    {
        return Err(AppError::Unauthorized);
    }
    let req = auth::resolve_and_check(state, req).await?;
    let (mut parts, body) = req.into_parts();
    let caller = Caller::from_request_parts(&mut parts, state).await?;
    caller.require(permission_for(&parts.method, parts.uri.path()))?;
    // Another merchant's app is as unknown as one that does not exist.
    if app_id.is_empty() {
        return Err(AppError::NotFound);
    }
    let account = crate::accounts::store::by_app_id(&state.db, app_id).await?;
    if !account.is_some_and(|a| a.sandbox && a.merchant_id == caller.merchant_id) {
        return Err(AppError::NotFound);
    }
    Ok(Request::from_parts(parts, body))
}

/// The error in the caller's language, as the console's JSON API words it.
fn refusal(e: AppError, lang: Lang) -> Response {
    if let AppError::Internal(cause) = &e {
        tracing::error!(%cause, "sandbox control API: cannot check the caller");
    }
    (e.status(), Json(e.body().to_api(lang))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_paths_name_their_app() {
        assert_eq!(control_app("/api/apps/wx123/faults"), Some("wx123"));
        assert_eq!(
            control_app("/api/apps/wx123/followers/o1/actions"),
            Some("wx123")
        );
        // Anything else under /api/ is refused as an unknown app, never let through.
        assert_eq!(control_app("/api/other"), Some(""));
        assert_eq!(control_app("/api/apps/"), Some(""));
        assert_eq!(control_app("/cgi-bin/token"), None);
        assert_eq!(control_app("/sns/oauth2/access_token"), None);
    }

    #[test]
    fn changing_behaviour_takes_managing_the_account() {
        let manage = |m: Method, p: &str| permission_for(&m, p) == Permission::ManageAccounts;
        assert!(manage(Method::PUT, "/api/apps/a/faults"));
        assert!(manage(Method::POST, "/api/apps/a/faults/expire-tokens"));
        assert!(manage(Method::PUT, "/api/apps/a/jssdk/ticket"));
        assert!(manage(Method::POST, "/api/apps/a/server-check"));
        assert!(!manage(Method::GET, "/api/apps/a/faults"));
        assert!(!manage(Method::POST, "/api/apps/a/followers/o1/actions"));
        assert!(!manage(Method::POST, "/api/apps/a/followers"));
        assert!(!manage(Method::GET, "/api/apps/a/followers/o1/inbox"));
    }
}
