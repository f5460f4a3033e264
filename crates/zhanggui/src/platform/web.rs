//! The web shell: the router with its layers, page rendering, the console layout, assets and
//! probes.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::Request;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::routing::get;
use futures_util::future::{BoxFuture, Either};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use super::auth::model::{Permission, Role};
use super::auth::{Caller, CurrentUser, store as auth_store};
use super::error::AppError;
use super::i18n::Lang;
use super::state::AppState;
use crate::messages::routes::{Callback, direct_key};

/// The largest request body any endpoint accepts (forms and JSON; uploads will set their own).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The whole application: WeChat's callback with its own few layers
/// (messages::routes::router says why), and every other route behind the shared layers.
pub fn router(state: AppState) -> Router {
    router_with(Callback::new(&state), state)
}

fn router_with(callback: Arc<Callback>, state: AppState) -> Router {
    crate::messages::routes::router(callback).merge(console_router(state))
}

/// What hyper runs for the connections platform/http1.rs hands it: WeChat's callback
/// requests go straight to the callback (messages::routes::serve_directly), every other
/// request to [`router`].
#[derive(Clone)]
pub struct Service {
    callback: Arc<Callback>,
    app: Router,
}

impl Service {
    pub fn new(state: AppState) -> Service {
        let callback = Callback::new(&state);
        Service {
            app: router_with(callback.clone(), state),
            callback,
        }
    }

    /// The callback's handles, for the server's own HTTP/1.1 reader (platform/http1.rs).
    pub fn callback(&self) -> &crate::messages::routes::Callback {
        &self.callback
    }
}

impl tower::Service<Request> for Service {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<BoxFuture<'static, Result<Response, Infallible>>, RouteFuture<Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        tower::Service::<Request>::poll_ready(&mut self.app, cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        if direct_key(req.method(), req.uri().path()).is_some() {
            let callback = self.callback.clone();
            Either::Left(Box::pin(async move {
                Ok(crate::messages::routes::serve_directly(callback, req).await)
            }))
        } else {
            Either::Right(self.app.call(req))
        }
    }
}

fn console_router(state: AppState) -> Router {
    let (api, mut openapi) = super::api::router().split_for_parts();
    openapi = openapi.nest("/sandbox", sandbox::openapi());
    let openapi_json = std::sync::Arc::new(openapi);
    let console = Router::new()
        .merge(crate::platform::auth::routes::router())
        .merge(crate::dashboard::routes::router())
        .merge(crate::accounts::routes::router())
        .merge(crate::merchants::routes::router())
        .merge(crate::apikeys::routes::router())
        .merge(crate::platform::jobs::routes::router())
        .merge(crate::messages::routes::console_router())
        .merge(crate::simulator::routes::router())
        .merge(crate::channels::routes::router())
        .merge(crate::menus::routes::router())
        .merge(crate::library::routes::router())
        .merge(crate::replies::routes::router())
        .merge(crate::flows::routes::router())
        .merge(crate::segments::routes::router())
        .merge(crate::followers::csv::routes::router())
        .merge(crate::sandbox_mode::routes::router())
        .merge(crate::tags::routes::router())
        .merge(crate::followers::sync::routes::router())
        .merge(crate::followers::routes::router())
        .merge(api)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = openapi_json.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route("/healthz", get(healthz))
        .route("/metrics", get(super::metrics::render))
        .route("/assets/{file}", get(asset))
        .fallback(|| async { AppError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::auth::authenticate,
        ))
        // Inside `localize_errors`, so that its refusal (a plain-text 413 when Content-Length
        // is over the limit) gets our error shape and the caller's language.
        .layer(axum::middleware::from_fn(limit_body))
        .layer(axum::middleware::from_fn(super::error::localize_errors))
        .layer(axum::middleware::from_fn(super::metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::new())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state.clone());
    Router::new()
        .nest("/sandbox", sandbox_router(&state))
        .merge(console)
}

/// Every request body is capped at [`MAX_BODY_BYTES`], except uploads (follower CSV
/// imports, library media), which may reach their own limit. A declared length over the cap is refused at
/// once; a body that turns out longer fails when read.
async fn limit_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Result<Response, AppError> {
    let path = req.uri().path();
    let limit = if crate::followers::csv::routes::is_upload_path(path) {
        crate::followers::csv::model::MAX_IMPORT_BYTES + 64 * 1024
    } else if crate::library::routes::is_upload_path(path) {
        crate::library::model::MAX_UPLOAD_BYTES + 64 * 1024
    } else {
        MAX_BODY_BYTES
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(AppError::PayloadTooLarge);
    }
    let req = req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, limit)));
    Ok(next.run(req).await)
}

/// The emulated WeChat, outside the console's layers: it authenticates by WeChat's rules,
/// answers in WeChat's shapes, and takes media uploads larger than console forms.
fn sandbox_router(state: &AppState) -> Router {
    let mut api = sandbox::api_router(crate::sandbox_mode::sandbox(state));
    if state.config.mode == crate::platform::config::Mode::Live {
        api = api.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::sandbox_mode::access::require_console_caller,
        ));
    }
    api.layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(60),
    ))
    .layer(CatchPanicLayer::new())
    .layer(TraceLayer::new_for_http().make_span_with(request_span))
}

/// The span of one request: method and path only. Query strings are left out because some
/// (WeChat's token call, signed callbacks) carry secrets.
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
}

/// Renders a template into a page, turning a template failure into a logged internal error.
pub fn render<T: Template>(t: &T) -> Result<String, AppError> {
    t.render().map_err(AppError::internal)
}

pub fn page<T: Template>(t: &T) -> Result<Response, AppError> {
    Ok(Html(render(t)?).into_response())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
}

/// Liveness plus a database round trip: a load balancer takes us out when either fails.
async fn healthz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(3), state.db.ping()).await {
        Ok(Ok(())) => axum::Json(Health {
            status: "ok",
            database: "ok",
        })
        .into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "health check: database unreachable");
            unhealthy()
        }
        Err(_) => unhealthy(),
    }
}

fn unhealthy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(Health {
            status: "unavailable",
            database: "unreachable",
        }),
    )
        .into_response()
}

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "console.css",
        mime: "text/css; charset=utf-8",
        body: include_str!("../../assets/console.css"),
    },
    Asset {
        name: "simulator.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/simulator.js"),
    },
    Asset {
        name: "segment_builder.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/segment_builder.js"),
    },
    Asset {
        name: "flow_form.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/flow_form.js"),
    },
    Asset {
        name: "reply_form.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/reply_form.js"),
    },
    Asset {
        name: "console.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/console.js"),
    },
    Asset {
        name: "library_editor.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/library_editor.js"),
    },
    Asset {
        name: "menu_editor.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/menu_editor.js"),
    },
    Asset {
        name: "phone.css",
        mime: "text/css; charset=utf-8",
        body: include_str!("../../assets/phone.css"),
    },
    Asset {
        name: "article.js",
        mime: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/article.js"),
    },
];

/// A short hash of all assets, appended to their URLs so browsers may cache them for long.
pub fn asset_version() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for a in ASSETS {
            h.update(a.body.as_bytes());
        }
        hex::encode(&h.finalize()[..6])
    })
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == file) {
        Some(a) => (
            [
                (header::CONTENT_TYPE, a.mime),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            a.body,
        )
            .into_response(),
        None => AppError::NotFound.into_response(),
    }
}

/// A page of the error layer, outside the console shell (the caller may not be signed in).
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub lang: Lang,
    pub status: u16,
    pub message: String,
    pub fields: Vec<String>,
}

impl ErrorPage {
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    pub fn asset_v(&self) -> &'static str {
        asset_version()
    }
}

/// One entry of the left navigation.
pub struct NavItem {
    pub key: &'static str,
    pub href: &'static str,
    pub label_key: &'static str,
}

pub struct NavGroup {
    pub label_key: &'static str,
    pub items: Vec<NavItem>,
}

pub struct Choice {
    pub id: i64,
    pub name: String,
}

/// Everything the console layout shows around a page: navigation by capability, the merchant
/// and account switchers, the language switch and the user menu.
pub struct Shell {
    pub lang: Lang,
    pub title: String,
    pub active: &'static str,
    pub csrf: String,
    pub username: String,
    pub is_platform_admin: bool,
    pub role: Option<Role>,
    pub merchants: Vec<Choice>,
    pub merchant_id: Option<i64>,
    pub accounts: Vec<Choice>,
    pub account_id: Option<i64>,
    pub nav: Vec<NavGroup>,
    pub notice: Option<&'static str>,
    pub path: String,
}

impl Shell {
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    pub fn asset_v(&self) -> &'static str {
        asset_version()
    }

    /// The first letter of the user's name, for the avatar.
    pub fn initial(&self) -> String {
        self.username
            .chars()
            .next()
            .map(String::from)
            .unwrap_or_default()
    }

    pub fn merchant_selected(&self, c: &Choice) -> bool {
        self.merchant_id == Some(c.id)
    }

    pub fn account_selected(&self, c: &Choice) -> bool {
        self.account_id == Some(c.id)
    }

    pub fn is_zh(&self) -> bool {
        self.lang == Lang::ZhCn
    }

    pub fn merchant_name(&self) -> &str {
        self.merchants
            .iter()
            .find(|m| Some(m.id) == self.merchant_id)
            .map(|m| m.name.as_str())
            .unwrap_or("")
    }

    pub fn role_label(&self) -> &'static str {
        match (self.is_platform_admin, self.role) {
            (true, _) => self.t("role.platform_admin"),
            (false, Some(r)) => self.t(r.label_key()),
            (false, None) => "",
        }
    }

    /// For a page of a merchant: the caller's merchant, switchers filled in.
    pub async fn for_caller(
        state: &AppState,
        caller: &Caller,
        active: &'static str,
        title_key: &str,
        uri: &axum::http::Uri,
    ) -> Result<Shell, AppError> {
        let user = caller.user().ok_or(AppError::Forbidden)?;
        let mut shell = Shell::base(state, user, caller.lang, active, title_key, uri).await?;
        shell.merchant_id = Some(caller.merchant_id);
        shell.role = Some(caller.role);
        if caller.role.allows(Permission::ViewAccounts) {
            shell.accounts = crate::accounts::choices(&state.db, caller.merchant_id).await?;
            shell.account_id = user
                .account_id
                .filter(|id| shell.accounts.iter().any(|a| a.id == *id))
                .or_else(|| shell.accounts.first().map(|a| a.id));
        }
        shell.nav = navigation(Some(caller.role), user.is_platform_admin);
        Ok(shell)
    }

    /// For a page outside any merchant (password, platform admin pages).
    pub async fn for_user(
        state: &AppState,
        user: &CurrentUser,
        active: &'static str,
        title_key: &str,
        uri: &axum::http::Uri,
    ) -> Result<Shell, AppError> {
        let mut shell =
            Shell::base(state, &user.session, user.lang, active, title_key, uri).await?;
        let role = if user.session.is_platform_admin {
            Some(Role::Owner)
        } else {
            let chosen = user.session.merchant_id;
            let memberships = auth_store::memberships_of(&state.db, user.session.user_id).await?;
            let current = memberships
                .iter()
                .find(|m| Some(m.merchant_id) == chosen)
                .or(memberships.first());
            shell.merchant_id = current.map(|m| m.merchant_id);
            current.and_then(|m| m.role())
        };
        if user.session.is_platform_admin {
            shell.merchant_id = user
                .session
                .merchant_id
                .filter(|id| shell.merchants.iter().any(|m| m.id == *id))
                .or_else(|| shell.merchants.first().map(|m| m.id));
        }
        shell.role = role;
        shell.nav = navigation(shell.merchant_id.and(role), user.session.is_platform_admin);
        Ok(shell)
    }

    async fn base(
        state: &AppState,
        user: &super::auth::UserSession,
        lang: Lang,
        active: &'static str,
        title_key: &str,
        uri: &axum::http::Uri,
    ) -> Result<Shell, AppError> {
        let merchants = if user.is_platform_admin {
            crate::merchants::choices(&state.db).await?
        } else {
            auth_store::memberships_of(&state.db, user.user_id)
                .await?
                .into_iter()
                .map(|m| Choice {
                    id: m.merchant_id,
                    name: m.merchant_name,
                })
                .collect()
        };
        Ok(Shell {
            lang,
            title: lang.t(title_key).to_string(),
            active,
            csrf: user.csrf.clone(),
            username: if user.display_name.is_empty() {
                user.username.clone()
            } else {
                user.display_name.clone()
            },
            is_platform_admin: user.is_platform_admin,
            role: None,
            merchants,
            merchant_id: None,
            accounts: vec![],
            account_id: None,
            nav: vec![],
            notice: notice_of(uri),
            path: uri.path().to_string(),
        })
    }
}

/// `?notice=saved` after a redirect becomes a toast, if the catalogue knows it.
fn notice_of(uri: &axum::http::Uri) -> Option<&'static str> {
    let query = uri.query()?;
    let value = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "notice")
        .map(|(_, v)| v.into_owned())?;
    super::messages::MESSAGES
        .iter()
        .find(|(k, _, _)| k.strip_prefix("notice.") == Some(value.as_str()))
        .map(|(k, _, _)| *k)
}

/// The navigation a role sees: only capabilities that exist, only what the role may use.
pub fn navigation(role: Option<Role>, is_platform_admin: bool) -> Vec<NavGroup> {
    let mut groups = vec![];
    if let Some(role) = role {
        groups.push(NavGroup {
            label_key: "nav.group.overview",
            items: vec![NavItem {
                key: "dashboard",
                href: "/",
                label_key: "nav.dashboard",
            }],
        });
        let mut settings = vec![];
        let mut messages = vec![];
        if role.allows(Permission::ViewMessages) {
            messages.push(NavItem {
                key: "messages",
                href: "/messages",
                label_key: "nav.messages",
            });
        }
        if role.allows(Permission::ViewReplies) {
            messages.push(NavItem {
                key: "replies",
                href: "/replies",
                label_key: "nav.replies",
            });
            messages.push(NavItem {
                key: "flows",
                href: "/flows",
                label_key: "nav.flows",
            });
            messages.push(NavItem {
                key: "menus",
                href: "/menus",
                label_key: "nav.menus",
            });
        }
        if !messages.is_empty() {
            groups.push(NavGroup {
                label_key: "nav.group.messages",
                items: messages,
            });
        }
        if role.allows(Permission::ViewLibrary) {
            groups.push(NavGroup {
                label_key: "nav.group.library",
                items: vec![NavItem {
                    key: "library",
                    href: "/library",
                    label_key: "nav.library",
                }],
            });
        }
        let mut followers = vec![];
        if role.allows(Permission::ViewFollowers) {
            followers.push(NavItem {
                key: "followers",
                href: "/followers",
                label_key: "nav.followers",
            });
            followers.push(NavItem {
                key: "segments",
                href: "/segments",
                label_key: "nav.segments",
            });
        }
        if role.allows(Permission::ViewTags) {
            followers.push(NavItem {
                key: "tags",
                href: "/tags",
                label_key: "nav.tags",
            });
        }
        if role.allows(Permission::ViewFollowers) {
            followers.push(NavItem {
                key: "channels",
                href: "/channels",
                label_key: "nav.channels",
            });
        }
        if !followers.is_empty() {
            groups.push(NavGroup {
                label_key: "nav.group.followers",
                items: followers,
            });
        }
        if role.allows(Permission::ViewAccounts) {
            groups.push(NavGroup {
                label_key: "nav.group.sandbox",
                items: vec![
                    NavItem {
                        key: "simulator",
                        href: "/simulator",
                        label_key: "nav.simulator",
                    },
                    NavItem {
                        key: "wechat_sandbox",
                        href: "/wechat-sandbox",
                        label_key: "nav.wechat_sandbox",
                    },
                ],
            });
            settings.push(NavItem {
                key: "accounts",
                href: "/accounts",
                label_key: "nav.accounts",
            });
        }
        if role.allows(Permission::ManageStaff) {
            settings.push(NavItem {
                key: "staff",
                href: "/staff",
                label_key: "nav.staff",
            });
        }
        if role.allows(Permission::ManageApiKeys) {
            settings.push(NavItem {
                key: "api_keys",
                href: "/api-keys",
                label_key: "nav.api_keys",
            });
        }
        if role.allows(Permission::ViewJobs) {
            settings.push(NavItem {
                key: "jobs",
                href: "/jobs",
                label_key: "nav.jobs",
            });
        }
        if !settings.is_empty() {
            groups.push(NavGroup {
                label_key: "nav.group.settings",
                items: settings,
            });
        }
    }
    if is_platform_admin {
        groups.push(NavGroup {
            label_key: "nav.group.platform",
            items: vec![NavItem {
                key: "merchants",
                href: "/platform/merchants",
                label_key: "nav.merchants",
            }],
        });
    }
    groups
}

#[cfg(test)]
mod tests {
    /// A block left open swallows every rule after it into a media query (it happened when
    /// two changes to the stylesheet were merged): braces must pair up, ignoring comments.
    #[test]
    fn the_stylesheets_braces_pair_up() {
        for (name, css) in [
            ("console.css", include_str!("../../assets/console.css")),
            ("phone.css", include_str!("../../assets/phone.css")),
        ] {
            let mut depth = 0i32;
            let mut rest = css;
            while let Some(start) = rest.find("/*") {
                depth += braces(&rest[..start]);
                assert!(depth >= 0, "{name}: a `}}` closes nothing");
                rest = rest[start..]
                    .find("*/")
                    .map_or("", |end| &rest[start + end + 2..]);
            }
            depth += braces(rest);
            assert_eq!(depth, 0, "{name}: a block is left open");
        }
    }

    fn braces(s: &str) -> i32 {
        s.chars()
            .map(|c| match c {
                '{' => 1,
                '}' => -1,
                _ => 0,
            })
            .sum()
    }
}
