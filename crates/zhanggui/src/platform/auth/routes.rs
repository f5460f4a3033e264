//! Sign-in, sign-out, password change, language and merchant/account switching.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::model;
use super::{CurrentUser, PRE_SESSION_CSRF_COOKIE, SESSION_COOKIE, store};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::{LANG_COOKIE, Lang, Msg};
use crate::platform::state::AppState;
use crate::platform::web::{Shell, asset_version, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(change_password))
        .route("/lang", post(switch_lang))
        .route("/switch", post(switch_context))
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    lang: Lang,
    csrf: String,
    username: String,
    next: String,
    error: Option<String>,
    sandbox: bool,
}

impl LoginPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
    fn asset_v(&self) -> &'static str {
        asset_version()
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only a local path may follow sign-in, so the login page cannot bounce users elsewhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

async fn login_page(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Result<Response, AppError> {
    // Already signed in: the sign-in form would only fail its CSRF check.
    if user.is_some() {
        return Ok(Redirect::to(&safe_next(q.next.as_deref())).into_response());
    }
    let lang = Lang::from_headers(&headers);
    let csrf =
        super::cookie(&headers, PRE_SESSION_CSRF_COOKIE).unwrap_or_else(|| model::random_token(16));
    let p = LoginPage {
        lang,
        csrf: csrf.clone(),
        username: String::new(),
        next: safe_next(q.next.as_deref()),
        error: None,
        sandbox: state.config.mode == crate::platform::config::Mode::Sandbox,
    };
    let mut res = page(&p)?;
    set_cookie(
        &mut res,
        &super::cookie_header(
            PRE_SESSION_CSRF_COOKIE,
            &csrf,
            3600,
            state.config.https(),
            true,
        ),
    );
    Ok(res)
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let lang = Lang::from_headers(&headers);
    let username = f.username.trim().to_string();
    let outcome = sign_in(&state, &username, &f.password).await?;
    let user = match outcome {
        SignIn::Ok(user) => user,
        SignIn::Refused(msg) => {
            let p = LoginPage {
                lang,
                csrf: super::cookie(&headers, PRE_SESSION_CSRF_COOKIE).unwrap_or_default(),
                username,
                next: safe_next(f.next.as_deref()),
                error: Some(lang.render(&msg)),
                sandbox: state.config.mode == crate::platform::config::Mode::Sandbox,
            };
            let mut res = page(&p)?;
            *res.status_mut() = axum::http::StatusCode::UNAUTHORIZED;
            return Ok(res);
        }
    };
    let token = start_session(&state, user.id).await?;
    // A language chosen on the sign-in page wins over the one saved on the user, and is saved.
    let lang_code = match super::cookie(&headers, LANG_COOKIE).and_then(|c| Lang::parse(&c)) {
        Some(chosen) => {
            if chosen.code() != user.lang {
                store::set_user_lang(&state.db, user.id, chosen.code()).await?;
            }
            chosen.code().to_string()
        }
        None => user.lang.clone(),
    };
    let mut res = Redirect::to(&safe_next(f.next.as_deref())).into_response();
    let secure = state.config.https();
    set_cookie(
        &mut res,
        &super::cookie_header(
            SESSION_COOKIE,
            &token,
            model::SESSION_IDLE_MS / 1000,
            secure,
            true,
        ),
    );
    set_cookie(
        &mut res,
        &super::cookie_header(PRE_SESSION_CSRF_COOKIE, "", 0, secure, true),
    );
    set_cookie(
        &mut res,
        &super::cookie_header(LANG_COOKIE, &lang_code, 365 * 86400, secure, false),
    );
    Ok(res)
}

pub enum SignIn {
    Ok(store::UserRow),
    Refused(Msg),
}

/// Checks a username and password with lock-out: after repeated failures the account refuses
/// every password, the right one included, until the lock expires.
pub async fn sign_in(state: &AppState, username: &str, password: &str) -> Result<SignIn, AppError> {
    let now = state.clock.now_ms();
    let Some(user) = store::user_by_username(&state.db, username).await? else {
        model::burn_password_check(password);
        return Ok(SignIn::Refused(Msg::new("auth.bad_credentials")));
    };
    if let Some(until) = user.locked_until.filter(|u| *u > now) {
        let minutes = ((until - now) / 60_000 + 1).max(1);
        return Ok(SignIn::Refused(
            Msg::new("auth.locked").arg("minutes", minutes),
        ));
    }
    if !model::verify_password(password, &user.password_hash) {
        let (failed, lock) = model::after_failed_login(user.failed_logins, now);
        store::record_failed_login(&state.db, user.id, failed, lock).await?;
        tracing::info!(user_id = user.id, locked = lock.is_some(), "failed sign-in");
        return Ok(SignIn::Refused(match lock {
            Some(_) => Msg::new("auth.locked").arg("minutes", model::LOCKOUT_MS / 60_000),
            None => Msg::new("auth.bad_credentials"),
        }));
    }
    if user.disabled {
        return Ok(SignIn::Refused(Msg::new("auth.disabled")));
    }
    if user.failed_logins > 0 || user.locked_until.is_some() {
        store::clear_failed_logins(&state.db, user.id).await?;
    }
    Ok(SignIn::Ok(user))
}

/// Creates a session and returns its token (the only copy; the database keeps a hash).
pub async fn start_session(state: &AppState, user_id: i64) -> Result<String, AppError> {
    let now = state.clock.now_ms();
    let token = model::random_token(32);
    let csrf = model::random_token(16);
    let hash = model::token_hash(&token);
    store::insert_session(
        &state.db,
        &store::NewSession {
            token_hash: &hash,
            user_id,
            csrf_token: &csrf,
            merchant_id: None,
        },
        now,
        now + model::SESSION_IDLE_MS,
    )
    .await?;
    Ok(token)
}

fn set_cookie(res: &mut Response, value: &str) {
    if let Ok(v) = header::HeaderValue::from_str(value) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
}

async fn logout(State(state): State<AppState>, user: CurrentUser) -> Result<Response, AppError> {
    store::delete_session(&state.db, &user.session.token_hash).await?;
    let mut res = Redirect::to("/login").into_response();
    set_cookie(
        &mut res,
        &super::cookie_header(SESSION_COOKIE, "", 0, state.config.https(), true),
    );
    Ok(res)
}

#[derive(Template)]
#[template(path = "auth/password.html")]
struct PasswordPage {
    shell: Shell,
    errors: FieldErrors,
}

impl PasswordPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }
}

async fn password_page(
    State(state): State<AppState>,
    user: CurrentUser,
    uri: Uri,
) -> Result<Response, AppError> {
    let shell = Shell::for_user(&state, &user, "password", "password.title", &uri).await?;
    page(&PasswordPage {
        shell,
        errors: FieldErrors::default(),
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    new: String,
    confirm: String,
}

async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    uri: Uri,
    Form(f): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let mut errors = FieldErrors::default();
    let row = store::user_by_id(&state.db, user.session.user_id)
        .await?
        .ok_or(AppError::Unauthorized)?;
    if !model::verify_password(&f.current, &row.password_hash) {
        errors.add("current", Msg::new("password.current_wrong"));
    }
    if let Err(m) = model::check_password_strength(&f.new) {
        errors.add("new", m);
    }
    if f.new != f.confirm {
        errors.add("confirm", Msg::new("password.mismatch"));
    }
    if !errors.is_empty() {
        let shell = Shell::for_user(&state, &user, "password", "password.title", &uri).await?;
        let mut res = page(&PasswordPage { shell, errors })?;
        *res.status_mut() = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        return Ok(res);
    }
    let hash = model::hash_password(&f.new).map_err(AppError::internal)?;
    store::set_password_hash(&state.db, row.id, &hash).await?;
    store::delete_sessions_of(&state.db, row.id, Some(&user.session.token_hash)).await?;
    Ok(Redirect::to("/password?notice=password_changed").into_response())
}

#[derive(Deserialize)]
struct LangForm {
    lang: String,
    back: Option<String>,
}

/// Switches the interface language; remembered in a cookie and, when signed in, on the user.
async fn switch_lang(
    State(state): State<AppState>,
    user: Option<CurrentUser>,
    Form(f): Form<LangForm>,
) -> Result<Response, AppError> {
    let lang =
        Lang::parse(&f.lang).ok_or_else(|| AppError::BadRequest(Msg::new("error.bad_language")))?;
    if let Some(u) = user {
        store::set_user_lang(&state.db, u.session.user_id, lang.code()).await?;
    }
    let mut res = Redirect::to(&safe_next(f.back.as_deref())).into_response();
    set_cookie(
        &mut res,
        &super::cookie_header(
            LANG_COOKIE,
            lang.code(),
            365 * 86400,
            state.config.https(),
            false,
        ),
    );
    Ok(res)
}

#[derive(Deserialize)]
struct SwitchForm {
    merchant_id: Option<i64>,
    account_id: Option<i64>,
    back: Option<String>,
}

/// Chooses the merchant (and account) the session works in. Only merchants the user belongs
/// to, and only accounts of that merchant, can be chosen.
async fn switch_context(
    State(state): State<AppState>,
    user: CurrentUser,
    caller: Result<super::Caller, AppError>,
    Form(f): Form<SwitchForm>,
) -> Result<Response, AppError> {
    let s = &user.session;
    // The merchant the session works in now, chosen or not (a session starts without a choice
    // and works in the user's first merchant): the account switcher picks within it.
    let current = s
        .merchant_id
        .or_else(|| caller.as_ref().ok().map(|c| c.merchant_id));
    let merchant_id = match f.merchant_id {
        Some(id) => {
            let allowed = if s.is_platform_admin {
                crate::merchants::exists(&state.db, id).await?
            } else {
                store::role_in(&state.db, s.user_id, id).await?.is_some()
            };
            if !allowed {
                return Err(AppError::NotFound);
            }
            Some(id)
        }
        None => current,
    };
    let account_id = match (f.account_id, merchant_id) {
        (Some(a), Some(m)) => {
            crate::accounts::get(&state.db, m, a)
                .await?
                .ok_or(AppError::NotFound)?;
            Some(a)
        }
        // A new merchant starts with its first account.
        _ if f.merchant_id.is_some() => None,
        _ => s.account_id,
    };
    store::set_session_context(&state.db, &s.token_hash, merchant_id, account_id).await?;
    let back = if f.merchant_id.is_some() {
        "/".to_string()
    } else {
        safe_next(f.back.as_deref())
    };
    Ok(Redirect::to(&back).into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_never_leaves_the_site() {
        assert_eq!(safe_next(Some("/accounts")), "/accounts");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
