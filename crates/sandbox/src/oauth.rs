//! Web authorization (网页授权, OAuth2 for Official Account pages), as WeChat runs it:
//!
//! - `GET /connect/oauth2/authorize?appid=&redirect_uri=&response_type=code&scope=&state=`:
//!   WeChat's own page inside its browser. `snsapi_base` redirects at once (silent) to
//!   `redirect_uri?code=CODE&state=STATE`; `snsapi_userinfo` shows a consent page whose
//!   "允许" does the same and whose "拒绝" redirects with `state` only, no `code`. Problems are
//!   WeChat's error page (HTML, not JSON) with its code: 10012 no appid, 10016 an appid that
//!   is no Official Account's, 10011 no redirect_uri, 10010 no scope, 10005 a scope the account
//!   does not have (anything but the two, or an account that is not a verified service
//!   account), 10003 a redirect_uri WeChat will not send people to (in the sandbox: anything
//!   that is not an http(s) URL; real WeChat also requires the configured domain), and the
//!   same page for a `response_type` other than `code` (WeChat documents no code for it; the
//!   sandbox shows 10005). The code is also in an `x-sandbox-errcode` header, for scripts.
//!   The `#wechat_redirect` fragment never reaches a server.
//!   Who is looking: real WeChat knows its user; here the phone simulator adds
//!   `sandbox_openid=`, or a cookie `sandbox_openid` set by
//!   `GET /api/apps/{app_id}/followers/{openid}/browse?url=` says so. Without either, a small
//!   page asks which follower is browsing.
//! - `GET /sns/oauth2/access_token?appid=&secret=&code=&grant_type=authorization_code` →
//!   `{access_token, expires_in: 7200, refresh_token, openid, scope}`. A code is for its app
//!   only, works once (40163 "code been used") and for 5 minutes (then 40029 "invalid code").
//! - `GET /sns/oauth2/refresh_token?appid=&grant_type=refresh_token&refresh_token=` → the
//!   same shape. A still valid access token is kept and its life extended; an expired one is
//!   replaced. Refresh tokens live 30 days (42002 after; 40030 unknown).
//! - `GET /sns/userinfo?access_token=&openid=&lang=` →
//!   `{openid, nickname, sex, province, city, country, headimgurl, privilege: []}` from the
//!   follower's profile; only for `snsapi_userinfo` tokens (48001 for `snsapi_base`).
//! - `GET /sns/auth?access_token=&openid=` → `{"errcode":0,"errmsg":"ok"}` or 40003.
//!
//! Web access tokens are per user and separate from the API `access_token`: they are
//! documents of their own kinds, looked up by their value.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{WxError, WxResult};
use crate::followers::{self, Follower};
use crate::registry::{GLOBAL, SandboxApp, StoreError};
use crate::{Sandbox, faults};

pub const CODE_LIFETIME_MS: i64 = 5 * 60_000;
pub const ACCESS_TOKEN_LIFETIME_MS: i64 = 7_200_000;
pub const REFRESH_TOKEN_LIFETIME_MS: i64 = 30 * 86_400_000;
pub const SCOPE_BASE: &str = "snsapi_base";
pub const SCOPE_USERINFO: &str = "snsapi_userinfo";
/// Who is browsing, when the phone simulator does not say it in the URL.
pub const IDENTITY_COOKIE: &str = "sandbox_openid";

/// Codes, web access tokens and refresh tokens, each keyed by its own value.
const CODES: &str = "sns_code";
const ACCESS_TOKENS: &str = "sns_access_token";
const REFRESH_TOKENS: &str = "sns_refresh_token";

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/connect/oauth2/authorize", get(authorize).post(consent))
        .route("/sns/oauth2/access_token", get(exchange_code))
        .route("/sns/oauth2/refresh_token", get(refresh))
        .route("/sns/userinfo", get(userinfo))
        .route("/sns/auth", get(check_token))
        .route("/api/apps/{app_id}/followers/{openid}/browse", get(browse))
}

/// An authorization code and what it grants.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct CodeDoc {
    app_id: String,
    openid: String,
    scope: String,
    expires_at: i64,
    used: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct AccessTokenDoc {
    app_id: String,
    openid: String,
    scope: String,
    expires_at: i64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct RefreshTokenDoc {
    app_id: String,
    openid: String,
    scope: String,
    access_token: String,
    expires_at: i64,
}

/// A problem WeChat shows on its own error page rather than as JSON.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageError {
    pub code: u32,
    pub message: &'static str,
}

impl PageError {
    const fn new(code: u32, message: &'static str) -> PageError {
        PageError { code, message }
    }
}

pub const NO_APPID: PageError = PageError::new(10012, "appid不能为空");
pub const NOT_AN_OFFICIAL_ACCOUNT: PageError =
    PageError::new(10016, "不支持微信开放平台的Appid，请使用公众号Appid");
pub const NO_REDIRECT_URI: PageError = PageError::new(10011, "redirect_uri不能为空");
pub const NO_SCOPE: PageError = PageError::new(10010, "scope不能为空");
pub const NO_SUCH_SCOPE: PageError = PageError::new(10005, "此公众号并没有这些scope的权限");
pub const REDIRECT_URI_REFUSED: PageError =
    PageError::new(10003, "redirect_uri域名与后台配置不一致");

/// The authorize page's query, as the merchant's link (and the simulator) give it.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct AuthorizeQuery {
    #[serde(default)]
    appid: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    response_type: String,
    #[serde(default)]
    scope: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sandbox_openid: Option<String>,
}

/// An authorization request that passed WeChat's checks.
struct Authorization {
    app: SandboxApp,
    redirect: url::Url,
    scope: String,
    state: Option<String>,
}

/// WeChat's checks of an authorization request, in the order its page reports them.
async fn check_request(sb: &Sandbox, q: &AuthorizeQuery) -> Result<Authorization, Refusal> {
    if q.appid.is_empty() {
        return Err(Refusal::Page(NO_APPID));
    }
    let app = sb
        .docs
        .app(&q.appid)
        .await?
        .ok_or(Refusal::Page(NOT_AN_OFFICIAL_ACCOUNT))?;
    if q.redirect_uri.is_empty() {
        return Err(Refusal::Page(NO_REDIRECT_URI));
    }
    if q.scope.is_empty() {
        return Err(Refusal::Page(NO_SCOPE));
    }
    let known_scope = q.scope == SCOPE_BASE || q.scope == SCOPE_USERINFO;
    // Web authorization is a verified service account's right (limits §2.12).
    let has_web_authorization = app.verified && app.is_service();
    if !(known_scope && has_web_authorization) {
        return Err(Refusal::Page(NO_SUCH_SCOPE));
    }
    let redirect = url::Url::parse(&q.redirect_uri)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or(Refusal::Page(REDIRECT_URI_REFUSED))?;
    if q.response_type != "code" {
        return Err(Refusal::Page(PageError::new(
            10005,
            "response_type 只能是 code",
        )));
    }
    Ok(Authorization {
        app,
        redirect,
        scope: q.scope.clone(),
        state: q.state.clone(),
    })
}

/// Why the authorize page cannot go on: WeChat's error page, or the sandbox's own trouble.
enum Refusal {
    Page(PageError),
    Store(StoreError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        Refusal::Store(e)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Page(e) => error_page(&e),
            Refusal::Store(e) => WxError::from(e).into_response(),
        }
    }
}

/// `GET /connect/oauth2/authorize`.
async fn authorize(
    State(sb): State<Sandbox>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Refusal> {
    let q: AuthorizeQuery =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let request = check_request(&sb, &q).await?;
    let openid = q
        .sandbox_openid
        .clone()
        .filter(|o| !o.is_empty())
        .or_else(|| identity_cookie(&headers));
    let Some(openid) = openid else {
        return Ok(identity_page(&sb, &q, None).await?);
    };
    let Some(follower) = followers::follower(&sb, &request.app.app_id, &openid).await? else {
        let note = format!("{openid} 不是此公众号的粉丝（openid 按公众号区分）");
        return Ok(identity_page(&sb, &q, Some(&note)).await?);
    };
    if request.scope == SCOPE_BASE {
        return Ok(grant(&sb, &request, &openid).await?);
    }
    Ok(consent_page(&request, &q, &openid, &follower))
}

#[derive(Deserialize)]
struct ConsentForm {
    #[serde(flatten)]
    request: AuthorizeQuery,
    openid: String,
    decision: String,
}

/// `POST /connect/oauth2/authorize`: the consent page's "允许" or "拒绝".
async fn consent(
    State(sb): State<Sandbox>,
    axum::Form(form): axum::Form<ConsentForm>,
) -> Result<Response, Refusal> {
    // The form came back from a browser: check it all again.
    let request = check_request(&sb, &form.request).await?;
    if followers::follower(&sb, &request.app.app_id, &form.openid)
        .await?
        .is_none()
    {
        return Ok(identity_page(&sb, &form.request, None).await?);
    }
    if form.decision == "allow" {
        return Ok(grant(&sb, &request, &form.openid).await?);
    }
    // Denied: WeChat sends the user back with the state and no code.
    Ok(redirect_to(&with_params(
        &request.redirect,
        None,
        request.state.as_deref(),
    )))
}

/// Issues a code for `openid` and sends the browser back to the merchant with it.
async fn grant(
    sb: &Sandbox,
    request: &Authorization,
    openid: &str,
) -> Result<Response, StoreError> {
    let code = random_string(32);
    let doc = CodeDoc {
        app_id: request.app.app_id.clone(),
        openid: openid.to_string(),
        scope: request.scope.clone(),
        expires_at: sb.now_ms() + CODE_LIFETIME_MS,
        used: false,
    };
    sb.docs.set(GLOBAL, CODES, &code, &doc).await?;
    Ok(redirect_to(&with_params(
        &request.redirect,
        Some(&code),
        request.state.as_deref(),
    )))
}

/// `redirect_uri` with `code` and `state` added to its query, as WeChat adds them.
fn with_params(redirect: &url::Url, code: Option<&str>, state: Option<&str>) -> String {
    let mut url = redirect.clone();
    {
        let mut pairs = url.query_pairs_mut();
        if let Some(code) = code {
            pairs.append_pair("code", code);
        }
        pairs.append_pair("state", state.unwrap_or(""));
    }
    url.to_string()
}

fn redirect_to(location: &str) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        res.headers_mut().insert(LOCATION, value);
    }
    res
}

fn identity_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == IDENTITY_COOKIE && !value.is_empty())
        .map(|(_, value)| value.to_string())
}

#[derive(Deserialize)]
pub(crate) struct BrowseQuery {
    url: Option<String>,
}

/// `GET /api/apps/{app_id}/followers/{openid}/browse?url=`: from now on this browser is
/// `openid` to WeChat's pages, and it opens `url`.
#[utoipa::path(get, path = "/api/apps/{app_id}/followers/{openid}/browse", tag = "sandbox",
    summary = "Open a page in WeChat's browser as this follower (for web authorization)",
    params(("app_id" = String, Path), ("openid" = String, Path), ("url" = String, Query)),
    responses((status = 302, description = "to `url`, with the follower's identity cookie"),
        (status = 404, body = crate::error::WxErrorBody)))]
pub(crate) async fn browse(
    State(sb): State<Sandbox>,
    Path((app_id, openid)): Path<(String, String)>,
    axum::extract::Query(q): axum::extract::Query<BrowseQuery>,
) -> WxResult {
    crate::known_app(&sb, &app_id).await?;
    if followers::follower(&sb, &app_id, &openid).await?.is_none() {
        return Err(WxError::invalid_openid().with_status(StatusCode::NOT_FOUND));
    }
    let url = q.url.filter(|u| !u.is_empty()).ok_or_else(|| {
        WxError::new(40097, "url is required").with_status(StatusCode::BAD_REQUEST)
    })?;
    let mut res = redirect_to(&url);
    let cookie = format!("{IDENTITY_COOKIE}={openid}; Path=/; SameSite=Lax");
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        res.headers_mut().insert(SET_COOKIE, value);
    }
    Ok(res)
}

#[derive(Deserialize)]
struct CodeQuery {
    appid: Option<String>,
    secret: Option<String>,
    code: Option<String>,
    grant_type: Option<String>,
}

fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// `GET /sns/oauth2/access_token`.
async fn exchange_code(
    State(sb): State<Sandbox>,
    axum::extract::Query(q): axum::extract::Query<CodeQuery>,
) -> WxResult {
    let appid = present(&q.appid).ok_or_else(WxError::appid_missing)?;
    let app = sb
        .docs
        .app(appid)
        .await?
        .ok_or_else(WxError::invalid_appid)?;
    let secret = present(&q.secret).ok_or_else(WxError::appsecret_missing)?;
    if secret != app.app_secret {
        return Err(WxError::invalid_appsecret());
    }
    if q.grant_type.as_deref() != Some("authorization_code") {
        return Err(WxError::invalid_grant_type());
    }
    let code = present(&q.code).ok_or_else(|| WxError::new(41008, "missing code"))?;
    faults::apply(&sb, &app.app_id, "/sns/oauth2/access_token").await?;
    let granted = redeem(&sb, &app.app_id, code).await?;
    let now = sb.now_ms();
    let access_token = random_string(86);
    let refresh_token = random_string(86);
    store_access_token(
        &sb,
        &access_token,
        &granted.app_id,
        &granted.openid,
        &granted.scope,
        now,
    )
    .await?;
    let refresh_doc = RefreshTokenDoc {
        app_id: granted.app_id.clone(),
        openid: granted.openid.clone(),
        scope: granted.scope.clone(),
        access_token: access_token.clone(),
        expires_at: now + REFRESH_TOKEN_LIFETIME_MS,
    };
    sb.docs
        .set(GLOBAL, REFRESH_TOKENS, &refresh_token, &refresh_doc)
        .await?;
    Ok(token_answer(
        &access_token,
        &refresh_token,
        &granted.openid,
        &granted.scope,
    ))
}

fn invalid_code() -> WxError {
    WxError::new(40029, "invalid code")
}

/// Uses up `code` of `app_id`: once, within its 5 minutes.
async fn redeem(sb: &Sandbox, app_id: &str, code: &str) -> Result<CodeDoc, WxError> {
    let now = sb.now_ms();
    sb.docs
        .update(GLOBAL, CODES, code, |doc: Option<CodeDoc>| {
            let mut doc = doc
                .filter(|d| d.app_id == app_id)
                .ok_or_else(invalid_code)?;
            if doc.used {
                return Err(WxError::new(40163, "code been used"));
            }
            if doc.expires_at <= now {
                return Err(invalid_code());
            }
            doc.used = true;
            Ok((doc.clone(), doc))
        })
        .await?
}

async fn store_access_token(
    sb: &Sandbox,
    token: &str,
    app_id: &str,
    openid: &str,
    scope: &str,
    now: i64,
) -> Result<(), StoreError> {
    let doc = AccessTokenDoc {
        app_id: app_id.to_string(),
        openid: openid.to_string(),
        scope: scope.to_string(),
        expires_at: now + ACCESS_TOKEN_LIFETIME_MS,
    };
    sb.docs.set(GLOBAL, ACCESS_TOKENS, token, &doc).await
}

fn token_answer(access_token: &str, refresh_token: &str, openid: &str, scope: &str) -> Response {
    axum::Json(json!({
        "access_token": access_token,
        "expires_in": ACCESS_TOKEN_LIFETIME_MS / 1000,
        "refresh_token": refresh_token,
        "openid": openid,
        "scope": scope,
    }))
    .into_response()
}

#[derive(Deserialize)]
struct RefreshQuery {
    appid: Option<String>,
    grant_type: Option<String>,
    refresh_token: Option<String>,
}

fn invalid_refresh_token() -> WxError {
    WxError::new(40030, "invalid refresh_token")
}

/// `GET /sns/oauth2/refresh_token`.
async fn refresh(
    State(sb): State<Sandbox>,
    axum::extract::Query(q): axum::extract::Query<RefreshQuery>,
) -> WxResult {
    let appid = present(&q.appid).ok_or_else(WxError::appid_missing)?;
    let app = sb
        .docs
        .app(appid)
        .await?
        .ok_or_else(WxError::invalid_appid)?;
    if q.grant_type.as_deref() != Some("refresh_token") {
        return Err(WxError::invalid_grant_type());
    }
    let refresh_token =
        present(&q.refresh_token).ok_or_else(|| WxError::new(41003, "refresh_token missing"))?;
    faults::apply(&sb, &app.app_id, "/sns/oauth2/refresh_token").await?;
    let now = sb.now_ms();
    let doc: RefreshTokenDoc = sb
        .docs
        .get::<RefreshTokenDoc>(GLOBAL, REFRESH_TOKENS, refresh_token)
        .await?
        .filter(|d| d.app_id == app.app_id)
        .ok_or_else(invalid_refresh_token)?;
    if doc.expires_at <= now {
        return Err(WxError::new(42002, "refresh_token expired"));
    }
    let access_token = renew_access_token(&sb, refresh_token, &doc, now).await?;
    Ok(token_answer(
        &access_token,
        refresh_token,
        &doc.openid,
        &doc.scope,
    ))
}

/// The refresh token's access token with 7,200 s more to live, or a new one when it had
/// expired (then the refresh token leads to the new one).
async fn renew_access_token(
    sb: &Sandbox,
    refresh_token: &str,
    doc: &RefreshTokenDoc,
    now: i64,
) -> Result<String, StoreError> {
    let current: Option<AccessTokenDoc> = sb
        .docs
        .get(GLOBAL, ACCESS_TOKENS, &doc.access_token)
        .await?;
    let still_valid = current.is_some_and(|t| t.expires_at > now);
    let token = if still_valid {
        doc.access_token.clone()
    } else {
        sb.docs
            .delete(GLOBAL, ACCESS_TOKENS, &doc.access_token)
            .await?;
        random_string(86)
    };
    store_access_token(sb, &token, &doc.app_id, &doc.openid, &doc.scope, now).await?;
    if !still_valid {
        let new_token = token.clone();
        sb.docs
            .update(
                GLOBAL,
                REFRESH_TOKENS,
                refresh_token,
                |d: Option<RefreshTokenDoc>| {
                    let mut d = d.ok_or_else(|| StoreError("refresh token vanished".into()))?;
                    d.access_token = new_token.clone();
                    Ok((d, ()))
                },
            )
            .await??;
    }
    Ok(token)
}

#[derive(Deserialize)]
struct UserQuery {
    access_token: Option<String>,
    openid: Option<String>,
}

/// The web access token's grant, checked against the `openid` it is used for.
async fn token_for(sb: &Sandbox, q: &UserQuery, path: &str) -> Result<AccessTokenDoc, WxError> {
    let token = present(&q.access_token).ok_or_else(WxError::access_token_missing)?;
    let doc: AccessTokenDoc = sb
        .docs
        .get(GLOBAL, ACCESS_TOKENS, token)
        .await?
        .ok_or_else(WxError::invalid_credential)?;
    faults::apply(sb, &doc.app_id, path).await?;
    if doc.expires_at <= sb.now_ms() {
        return Err(WxError::access_token_expired());
    }
    if present(&q.openid) != Some(doc.openid.as_str()) {
        return Err(WxError::invalid_openid());
    }
    Ok(doc)
}

/// `GET /sns/userinfo`.
async fn userinfo(
    State(sb): State<Sandbox>,
    axum::extract::Query(q): axum::extract::Query<UserQuery>,
) -> WxResult {
    let grant = token_for(&sb, &q, "/sns/userinfo").await?;
    if grant.scope != SCOPE_USERINFO {
        return Err(WxError::unauthorized());
    }
    let follower: Follower = followers::follower(&sb, &grant.app_id, &grant.openid)
        .await?
        .ok_or_else(WxError::invalid_openid)?;
    let p = follower.profile;
    Ok(axum::Json(json!({
        "openid": grant.openid,
        "nickname": p.nickname,
        "sex": p.sex,
        "province": p.province,
        "city": p.city,
        "country": p.country,
        "headimgurl": p.headimgurl,
        "privilege": [],
    }))
    .into_response())
}

/// `GET /sns/auth`.
async fn check_token(
    State(sb): State<Sandbox>,
    axum::extract::Query(q): axum::extract::Query<UserQuery>,
) -> WxResult {
    token_for(&sb, &q, "/sns/auth").await?;
    Ok(crate::error::ok())
}

/// Codes and web tokens: letters and digits, like WeChat's.
fn random_string(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A phone-sized page in WeChat's look.
fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1,user-scalable=no">
<title>{title}</title>
<style>
body{{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#ededed;color:#111}}
main{{max-width:420px;margin:0 auto;min-height:100vh;background:#fff;padding:32px 24px;box-sizing:border-box}}
h1{{font-size:18px;font-weight:600;margin:24px 0 8px;text-align:center}}
p{{font-size:15px;line-height:1.6;color:#555}}
.account{{text-align:center;font-size:17px;font-weight:600}}
.avatar{{width:64px;height:64px;border-radius:8px;background:#07c160;color:#fff;font-size:28px;line-height:64px;text-align:center;margin:0 auto 12px}}
ul{{padding:0;list-style:none}} li{{border-bottom:1px solid #eee;padding:10px 0}}
.grant{{border-top:1px solid #eee;border-bottom:1px solid #eee;padding:12px 0;margin:24px 0}}
button,.button{{display:block;width:100%;padding:12px;border:0;border-radius:8px;font-size:17px;margin:12px 0;text-align:center;text-decoration:none}}
.allow{{background:#07c160;color:#fff}} .deny{{background:#f2f2f2;color:#07c160}}
input{{width:100%;box-sizing:border-box;padding:10px;font-size:15px;border:1px solid #ddd;border-radius:6px}}
.error{{color:#fa5151;text-align:center}} small{{color:#999}}
</style></head><body><main>{body}</main></body></html>"#
    )
}

fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

/// WeChat's error page. The code also comes as a header, for scripts.
fn error_page(e: &PageError) -> Response {
    let body = format!(
        r#"<h1>Oops! Something went wrong:(</h1><p class="error">{}，错误码：{}</p>"#,
        escape(e.message),
        e.code
    );
    let mut res = html(StatusCode::OK, page("微信网页授权", &body));
    res.headers_mut()
        .insert("x-sandbox-errcode", HeaderValue::from(e.code));
    res
}

/// Hidden fields that carry the authorization request through a form.
fn hidden_fields(q: &AuthorizeQuery) -> String {
    let field = |name: &str, value: &str| {
        format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            escape(value)
        )
    };
    let mut out = [
        field("appid", &q.appid),
        field("redirect_uri", &q.redirect_uri),
        field("response_type", &q.response_type),
        field("scope", &q.scope),
    ]
    .concat();
    if let Some(state) = &q.state {
        out.push_str(&field("state", state));
    }
    out
}

/// Asks who is browsing: real WeChat always knows, the sandbox needs the phone simulator or
/// a follower picked here.
async fn identity_page(
    sb: &Sandbox,
    q: &AuthorizeQuery,
    note: Option<&str>,
) -> Result<Response, StoreError> {
    let newest: Vec<(String, Follower)> = sb.docs.newest(&q.appid, followers::KIND, 20).await?;
    let choices: String = newest
        .iter()
        .map(|(openid, f)| {
            let mut chosen = q.clone();
            chosen.sandbox_openid = Some(openid.clone());
            let link = serde_urlencoded::to_string(&chosen).unwrap_or_default();
            let name = if f.profile.nickname.is_empty() {
                openid.as_str()
            } else {
                f.profile.nickname.as_str()
            };
            format!(
                r#"<li><a href="authorize?{}">{}</a> <small>{}</small></li>"#,
                escape(&link),
                escape(name),
                escape(openid)
            )
        })
        .collect();
    let note = note
        .map(|n| format!(r#"<p class="error">{}</p>"#, escape(n)))
        .unwrap_or_default();
    let body = format!(
        r#"<h1>请在手机模拟器中打开</h1>
<p>这是微信内的网页授权页。真实的微信知道是谁在浏览；沙箱需要手机模拟器告诉它，或者在这里选一位粉丝。</p>
{note}
<form method="get" action="authorize">{}
<p><input name="sandbox_openid" placeholder="粉丝 openid" required></p>
<button class="allow" type="submit">以此粉丝身份继续</button></form>
<ul>{choices}</ul>"#,
        hidden_fields(q)
    );
    Ok(html(StatusCode::OK, page("选择粉丝", &body)))
}

/// WeChat's consent page for `snsapi_userinfo`.
fn consent_page(
    request: &Authorization,
    q: &AuthorizeQuery,
    openid: &str,
    follower: &Follower,
) -> Response {
    let account = request.app.original_id();
    let nickname = if follower.profile.nickname.is_empty() {
        "微信用户"
    } else {
        follower.profile.nickname.as_str()
    };
    let body = format!(
        r#"<div class="avatar">公</div>
<div class="account">{account}</div>
<p style="text-align:center"><small>{app_id}</small></p>
<div class="grant"><p>申请获取以下权限：</p><p>• 获取你的昵称、头像</p>
<p><small>当前微信用户：{nickname}</small></p></div>
<form method="post" action="authorize">{fields}
<input type="hidden" name="openid" value="{openid}">
<button class="allow" type="submit" name="decision" value="allow">允许</button>
<button class="deny" type="submit" name="decision" value="deny">拒绝</button>
</form>"#,
        account = escape(&account),
        app_id = escape(&request.app.app_id),
        nickname = escape(nickname),
        fields = hidden_fields(q),
        openid = escape(openid),
    );
    html(StatusCode::OK, page("微信授权", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_state_are_added_to_the_redirect_uri() {
        let base = url::Url::parse("https://shop.example.com/cb?x=1#top").expect("url");
        assert_eq!(
            with_params(&base, Some("CODE"), Some("STATE")),
            "https://shop.example.com/cb?x=1&code=CODE&state=STATE#top"
        );
        let plain = url::Url::parse("http://localhost").expect("url");
        assert_eq!(
            with_params(&plain, None, Some("s1")),
            "http://localhost/?state=s1"
        );
    }

    #[test]
    fn the_identity_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; sandbox_openid=oABC; b=2"),
        );
        assert_eq!(identity_cookie(&headers).as_deref(), Some("oABC"));
        assert_eq!(identity_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn pages_escape_what_they_show() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
