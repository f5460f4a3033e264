//! Who is calling: staff signed in with a session cookie, or an integrator with an API key.
//!
//! [`authenticate`] runs before every handler: it resolves the caller once, puts a
//! [`Principal`] into the request, and enforces CSRF on every state-changing request that a
//! browser could forge (synchronizer token per session; double-submit cookie before sign-in).
//! Handlers then ask for [`CurrentUser`] (any signed-in staff) or [`Caller`] (a merchant, a
//! role and the permission check), so no handler can forget tenancy.

pub mod model;
pub mod routes;
pub mod store;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::platform::error::AppError;
use crate::platform::i18n::Lang;
use crate::platform::state::AppState;
use model::{Permission, Role};

pub const SESSION_COOKIE: &str = "zg_session";
pub const PRE_SESSION_CSRF_COOKIE: &str = "zg_csrf";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const CSRF_FIELD: &str = "_csrf";
/// Sessions are touched at most this often, to keep reads from turning into writes.
const TOUCH_EVERY_MS: i64 = 5 * 60 * 1000;
/// The largest form whose `_csrf` field the middleware reads; forms are small.
const MAX_FORM_BYTES: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub enum Principal {
    User(UserSession),
    ApiKey(ApiKeyPrincipal),
}

/// A signed-in member of staff.
#[derive(Clone, Debug)]
pub struct UserSession {
    pub token_hash: String,
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub is_platform_admin: bool,
    pub csrf: String,
    pub merchant_id: Option<i64>,
    pub account_id: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct ApiKeyPrincipal {
    pub key_id: i64,
    pub merchant_id: i64,
    pub role: Role,
}

/// Paths that never carry staff credentials: WeChat's callbacks, the emulated WeChat API,
/// static assets, probes, and the public article and media pages of the library (whose
/// one write, a share, needs no CSRF token: it counts once per visitor cookie).
fn is_exempt(path: &str) -> bool {
    ["/wx/", "/sandbox/", "/assets/", "/healthz", "/metrics"]
        .iter()
        .any(|p| path.starts_with(p))
        || crate::library::routes::is_public_path(path)
}

pub async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if is_exempt(req.uri().path()) {
        return next.run(req).await;
    }
    match resolve_and_check(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn resolve_and_check(
    state: &AppState,
    mut req: Request,
) -> Result<Request, AppError> {
    let bearer = bearer_token(req.headers());
    let principal = match bearer {
        Some(key) => Some(Principal::ApiKey(
            crate::apikeys::authenticate(state, &key)
                .await?
                .ok_or(AppError::Unauthorized)?,
        )),
        None => match cookie(req.headers(), SESSION_COOKIE) {
            Some(token) => session_principal(state, &token).await?,
            None => None,
        },
    };
    let unsafe_method = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if unsafe_method && !matches!(principal, Some(Principal::ApiKey(_))) {
        let expected = match &principal {
            Some(Principal::User(u)) => Some(u.csrf.clone()),
            _ => cookie(req.headers(), PRE_SESSION_CSRF_COOKIE),
        };
        req = check_csrf(req, expected).await?;
    }
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    Ok(req)
}

async fn session_principal(state: &AppState, token: &str) -> Result<Option<Principal>, AppError> {
    let hash = model::token_hash(token);
    let now = state.clock.now_ms();
    let Some(s) = store::session_by_hash(&state.db, &hash, now).await? else {
        return Ok(None);
    };
    if s.disabled {
        store::delete_session(&state.db, &hash).await?;
        return Ok(None);
    }
    if now - s.last_seen_at > TOUCH_EVERY_MS {
        store::touch_session(&state.db, &hash, now, now + model::SESSION_IDLE_MS).await?;
    }
    Ok(Some(Principal::User(UserSession {
        token_hash: s.token_hash,
        user_id: s.user_id,
        username: s.username,
        display_name: s.display_name,
        is_platform_admin: s.is_platform_admin,
        csrf: s.csrf_token,
        merchant_id: s.merchant_id,
        account_id: s.account_id,
    })))
}

/// Compares the token a form field or header carries with the one we expect. Reads (and
/// re-attaches) the body only for forms: urlencoded, or multipart (file uploads, whose size
/// the body limit in front of us already caps).
async fn check_csrf(req: Request, expected: Option<String>) -> Result<Request, AppError> {
    let expected = expected.ok_or(AppError::Csrf)?;
    if let Some(given) = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()) {
        return if model::constant_time_eq(given, &expected) {
            Ok(req)
        } else {
            Err(AppError::Csrf)
        };
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (parts, body) = req.into_parts();
    let (given, bytes) = if content_type.starts_with("application/x-www-form-urlencoded") {
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .map_err(|_| AppError::PayloadTooLarge)?;
        let given = url::form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v.into_owned());
        (given, bytes)
    } else if content_type.starts_with("multipart/form-data") {
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|_| AppError::PayloadTooLarge)?;
        (multipart_csrf(&parts.headers, bytes.clone()).await, bytes)
    } else {
        return Err(AppError::Csrf);
    };
    match given {
        Some(g) if model::constant_time_eq(&g, &expected) => {
            Ok(Request::from_parts(parts, Body::from(bytes)))
        }
        _ => Err(AppError::Csrf),
    }
}

/// The `_csrf` field of a multipart form, read from a copy of its body.
async fn multipart_csrf(
    headers: &axum::http::HeaderMap,
    bytes: axum::body::Bytes,
) -> Option<String> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let boundary = multer::parse_boundary(content_type).ok()?;
    let body = futures_util::stream::once(async move { Ok::<_, std::convert::Infallible>(bytes) });
    let mut form = multer::Multipart::new(body, boundary);
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some(CSRF_FIELD) {
            return field.text().await.ok();
        }
    }
    None
}

pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_string())
}

pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name && !v.is_empty()).then(|| v.to_string())
        })
}

/// Any signed-in member of staff (merchant not required): the pages about oneself and the
/// platform admin's pages.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub session: UserSession,
    pub lang: Lang,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, AppError> {
        match parts.extensions.get::<Principal>() {
            Some(Principal::User(u)) => Ok(CurrentUser {
                session: u.clone(),
                lang: Lang::from_headers(&parts.headers),
            }),
            Some(Principal::ApiKey(_)) => Err(AppError::Forbidden),
            None => Err(AppError::Unauthorized),
        }
    }
}

impl axum::extract::OptionalFromRequestParts<AppState> for CurrentUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(match parts.extensions.get::<Principal>() {
            Some(Principal::User(u)) => Some(CurrentUser {
                session: u.clone(),
                lang: Lang::from_headers(&parts.headers),
            }),
            _ => None,
        })
    }
}

impl CurrentUser {
    pub fn require_platform_admin(&self) -> Result<(), AppError> {
        if self.session.is_platform_admin {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// A caller acting for one merchant with one role: every merchant-owned endpoint takes this.
#[derive(Clone, Debug)]
pub struct Caller {
    pub merchant_id: i64,
    pub role: Role,
    pub principal: Principal,
    pub lang: Lang,
}

impl Caller {
    pub fn require(&self, p: Permission) -> Result<(), AppError> {
        if self.role.allows(p) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    pub fn user(&self) -> Option<&UserSession> {
        match &self.principal {
            Principal::User(u) => Some(u),
            Principal::ApiKey(_) => None,
        }
    }

    pub fn user_id(&self) -> Option<i64> {
        self.user().map(|u| u.user_id)
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let lang = Lang::from_headers(&parts.headers);
        let principal = parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(AppError::Unauthorized)?;
        let (merchant_id, role) = match &principal {
            Principal::ApiKey(k) => (k.merchant_id, k.role),
            Principal::User(u) => merchant_of_session(state, u).await?,
        };
        Ok(Caller {
            merchant_id,
            role,
            principal,
            lang,
        })
    }
}

/// The merchant a session is working in: the one it chose if the user still belongs to it,
/// else the user's first merchant. The platform admin acts as owner of any merchant.
async fn merchant_of_session(state: &AppState, u: &UserSession) -> Result<(i64, Role), AppError> {
    if u.is_platform_admin {
        let chosen = match u.merchant_id {
            Some(id) if crate::merchants::exists(&state.db, id).await? => Some(id),
            _ => crate::merchants::first_id(&state.db).await?,
        };
        return chosen.map(|id| (id, Role::Owner)).ok_or(AppError::NotFound);
    }
    if let Some(id) = u.merchant_id
        && let Some(role) = store::role_in(&state.db, u.user_id, id).await?
    {
        return Ok((id, role));
    }
    let first = store::memberships_of(&state.db, u.user_id).await?;
    first
        .iter()
        .find_map(|m| m.role().map(|r| (m.merchant_id, r)))
        .ok_or(AppError::Forbidden)
}

/// A `Set-Cookie` value with the flags every cookie of ours carries.
pub fn cookie_header(
    name: &str,
    value: &str,
    max_age_secs: i64,
    secure: bool,
    http_only: bool,
) -> String {
    let mut c = format!("{name}={value}; Path=/; Max-Age={max_age_secs}; SameSite=Lax");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if secure {
        c.push_str("; Secure");
    }
    c
}
