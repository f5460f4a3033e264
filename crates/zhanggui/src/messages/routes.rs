//! The callback URL of each account (`/wx/{callback_key}`): WeChat's GET handshake and its
//! POSTed messages and events.
//!
//! The hot path: the account comes from memory, the reply is computed from memory, and the
//! only I/O is the group-committed log write (the message, its dedup key and our reply),
//! durable before we answer. A retry finds its dedup key in the log and gets the first reply.

use std::sync::Arc;
use std::time::{Duration, Instant};

use askama::Template;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics::SharedString;
use serde::{Deserialize, Serialize};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use wechat::CallbackQuery;

use crate::platform::api::Page;
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::rfc3339;
use crate::platform::error::AppError;
use crate::platform::i18n::Lang;
use crate::platform::metrics::{Latency, REQUEST_SECONDS, latency};
use crate::platform::web::{Shell, page};

use super::directory::{CallbackAccount, Directory};
use super::model::{kind_of, reply_xml};
use super::store::{LogRow, Logged};
use super::writer::{LogError, LogWriter};
use crate::platform::clock::Clock;
use crate::platform::db::Db;
use crate::platform::state::AppState;
use crate::replies::index::{Answer, Choice, CompiledRule, answers_now};
use crate::replies::model::{ReplyMode, Route, unmatched_text};

/// The longest we wait for the log write. WeChat gives up after 5 s and retries; failing
/// well before that lets the retry land on a healthier moment (or instance).
const LOG_BUDGET: Duration = Duration::from_secs(3);
/// WeChat's messages are a few KiB at most (encrypted ones included).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
const ROUTE: &str = "/wx/{key}";

/// What the callback handlers use of the application: four handles, so that extracting
/// the state is one reference count, not a clone of every field of `AppState`.
pub struct Callback {
    db: Db,
    clock: Clock,
    log: LogWriter,
    accounts: Arc<Directory>,
    /// Modules that answer messages, and the job waker for their late answers.
    modules: super::modules::Modules,
    jobs: crate::platform::jobs::JobWaker,
    /// When this instance last gave each follower the default reply (the courtesy).
    courtesy: Courtesy,
    metrics: RequestMetrics,
}

/// The request series the console's requests have (platform/metrics.rs), registered once:
/// looking a series up by its labels allocates and hashes, 2% of a callback's CPU. The
/// durations go to atomics of our own (`Latency`), shown in the same family.
struct RequestMetrics {
    post_ok: metrics::Counter,
    post_seconds: Arc<Latency>,
    get_seconds: Arc<Latency>,
}

impl RequestMetrics {
    fn register() -> RequestMetrics {
        // Series registered before the recorder is installed would record nowhere.
        crate::platform::metrics::handle();
        RequestMetrics {
            post_ok: metrics::counter!("zhanggui_http_requests_total", "method" => "POST", "route" => ROUTE, "status" => "200"),
            post_seconds: latency(REQUEST_SECONDS, &[("method", "POST"), ("route", ROUTE)]),
            get_seconds: latency(REQUEST_SECONDS, &[("method", "GET"), ("route", ROUTE)]),
        }
    }

    fn record(&self, method: &'static str, res: &Answered, started: Instant) {
        let elapsed = started.elapsed();
        let post = method == "POST";
        if post && res.status == StatusCode::OK {
            self.post_ok.increment(1);
        } else {
            let status = SharedString::from(res.status.as_u16().to_string());
            metrics::counter!("zhanggui_http_requests_total", "method" => method, "route" => ROUTE, "status" => status)
                .increment(1);
        }
        if post {
            self.post_seconds.record(elapsed);
        } else {
            self.get_seconds.record(elapsed);
        }
    }
}

/// The once-an-hour courtesy of the default reply. Kept in this instance's memory: a
/// follower answered by two instances within the hour may get the default reply twice,
/// which is courteous enough and costs the callback no database read.
#[derive(Default)]
struct Courtesy {
    answered: std::sync::Mutex<std::collections::HashMap<(i64, String), i64>>,
}

impl Courtesy {
    const HOUR_MS: i64 = 3_600_000;
    /// Past this many followers the old entries are dropped (and, if all are recent, all).
    const MAX_ENTRIES: usize = 200_000;

    /// Whether the follower may get the default reply now; if so, remembers that they did.
    fn may_answer(&self, account_id: i64, openid: &str, now: i64) -> bool {
        let mut answered = match self.answered.lock() {
            Ok(a) => a,
            Err(poisoned) => poisoned.into_inner(),
        };
        let key = (account_id, openid.to_string());
        if answered
            .get(&key)
            .is_some_and(|&at| now - at < Self::HOUR_MS)
        {
            return false;
        }
        if answered.len() >= Self::MAX_ENTRIES {
            answered.retain(|_, at| now - *at < Self::HOUR_MS);
            if answered.len() >= Self::MAX_ENTRIES {
                answered.clear();
            }
        }
        answered.insert(key, now);
        true
    }
}

impl Callback {
    /// The callback's handles, shared by its router and by [`serve_directly`].
    pub fn new(state: &AppState) -> Arc<Callback> {
        Arc::new(Callback {
            db: state.db.clone(),
            clock: state.clock.clone(),
            log: state.log.clone(),
            accounts: state.callbacks.clone(),
            modules: state.modules.clone(),
            jobs: state.jobs.clone(),
            courtesy: Courtesy::default(),
            metrics: RequestMetrics::register(),
        })
    }
}

/// The callback's own router, mounted beside the console's rather than inside its layers
/// (platform/web.rs): WeChat needs no session, CSRF check, localized error, security
/// header, tracing span per request or 30 s timeout, and those layers cost more CPU than
/// the rest of the callback (BENCHMARKS.md). It keeps a body limit, panic safety (a 500
/// instead of a dropped connection) and the request metrics, recorded by the handlers.
/// The server sends WeChat's own two requests past it ([`serve_directly`]); it answers the
/// rest of `/wx/…` (other methods, encoded keys) and requests made to the router itself.
pub fn router(callback: Arc<Callback>) -> Router {
    Router::new()
        .route(ROUTE, get(handshake).post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::new())
        .with_state(callback)
}

/// The callback key of a request [`serve_directly`] answers exactly as the router would:
/// a GET or POST to `/wx/{key}` whose key is one path segment with nothing to
/// percent-decode. WeChat makes only these.
pub fn direct_key<'p>(method: &Method, path: &'p str) -> Option<&'p str> {
    if method != Method::GET && method != Method::POST {
        return None;
    }
    let key = path.strip_prefix("/wx/")?;
    let plain = !key.is_empty() && !key.contains(['/', '%']);
    plain.then_some(key)
}

/// Answers a request [`direct_key`] accepts, without the router: no route lookup, no
/// extractors, no layers (a fifth of a callback's CPU went to them, BENCHMARKS.md). The
/// same handlers, body limit and panic safety as through [`router`]. Used for the
/// requests the server's own HTTP/1.1 reader passes to hyper (a chunked body, say);
/// WeChat's usual ones it answers itself through [`answer_directly`] (platform/http1.rs).
pub async fn serve_directly(cb: Arc<Callback>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let Some(key) = direct_key(&parts.method, parts.uri.path()) else {
        return plain(StatusCode::NOT_FOUND, "").into_response();
    };
    let query = parts.uri.query().unwrap_or("");
    if parts.method == Method::GET {
        return answer_directly(&cb, Method::GET, key, query, &[])
            .await
            .into_response();
    }
    // Read (and limit) the body before anything is looked up, as the router does.
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(e) if over_limit(&e) => {
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "").into_response();
        }
        Err(_) => return plain(StatusCode::BAD_REQUEST, "").into_response(),
    };
    answer_directly(&cb, Method::POST, key, query, &body)
        .await
        .into_response()
}

/// WeChat's GET handshake or POSTed message to the account of `key` (a key [`direct_key`]
/// accepts; `query` as sent, `body` whole and at most [`MAX_BODY_BYTES`]), with the
/// request metrics recorded and a panic answered with a 500 as the router's layer would.
pub async fn answer_directly(
    cb: &Callback,
    method: Method,
    key: &str,
    query: &str,
    body: &[u8],
) -> Answered {
    let started = Instant::now();
    let answered = std::panic::AssertUnwindSafe(async {
        if method == Method::GET {
            let res = answer_handshake(cb, key, query).await;
            cb.metrics.record("GET", &res, started);
            return res;
        }
        let res = answer_message(cb, key, query, body).await;
        cb.metrics.record("POST", &res, started);
        res
    });
    match futures_util::FutureExt::catch_unwind(answered).await {
        Ok(res) => res,
        Err(_) => {
            tracing::error!("callback handler panicked");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "")
        }
    }
}

fn over_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// What the callback answers, before it is an HTTP response: the server's own HTTP/1.1
/// writer (platform/http1.rs) sends it as it is, the router turns it into a `Response`.
#[derive(Debug)]
pub struct Answered {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: std::borrow::Cow<'static, str>,
}

const PLAIN_TEXT: &str = "text/plain; charset=utf-8";
const XML: &str = "application/xml; charset=utf-8";

fn plain(status: StatusCode, body: &'static str) -> Answered {
    Answered {
        status,
        content_type: PLAIN_TEXT,
        body: body.into(),
    }
}

/// A 200 answer of `content_type`.
fn typed(content_type: &'static str, body: String) -> Answered {
    Answered {
        status: StatusCode::OK,
        content_type,
        body: body.into(),
    }
}

/// Built directly: the `(headers, body)` tuple's conversion parses and validates the
/// header value on every callback.
impl IntoResponse for Answered {
    fn into_response(self) -> Response {
        let body = match self.body {
            std::borrow::Cow::Borrowed(b) => axum::body::Body::from(b),
            std::borrow::Cow::Owned(b) => axum::body::Body::from(b),
        };
        let mut res = Response::new(body);
        *res.status_mut() = self.status;
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        res
    }
}

async fn handshake(State(cb): State<Arc<Callback>>, Path(key): Path<String>, uri: Uri) -> Answered {
    answer_directly(&cb, Method::GET, &key, uri.query().unwrap_or(""), &[]).await
}

async fn answer_handshake(cb: &Callback, key: &str, query: &str) -> Answered {
    let account = match account_for(cb, key).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let query = CallbackQuery::parse(query);
    match account.endpoint.verify_get_handshake(&query) {
        Ok(echostr) => typed(PLAIN_TEXT, echostr.into_owned()),
        Err(e) => {
            tracing::info!(account_id = account.account_id, error = %e, "callback handshake refused");
            plain(status_of(e.http_status()), "")
        }
    }
}

/// The account behind a callback key, or the answer for WeChat when there is none.
async fn account_for(cb: &Callback, key: &str) -> Result<Arc<CallbackAccount>, Answered> {
    match cb.accounts.get(&cb.db, key).await {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(plain(StatusCode::NOT_FOUND, "")),
        Err(e) => {
            tracing::error!(error = %e, "callback: account lookup failed");
            Err(plain(StatusCode::SERVICE_UNAVAILABLE, ""))
        }
    }
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

async fn receive(
    State(cb): State<Arc<Callback>>,
    Path(key): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Answered {
    let query = uri.query().unwrap_or("");
    answer_directly(&cb, Method::POST, &key, query, &body).await
}

async fn answer_message(cb: &Callback, key: &str, query: &str, body: &[u8]) -> Answered {
    let account = match account_for(cb, key).await {
        Ok(a) => a,
        Err(res) => return res,
    };
    let query = CallbackQuery::parse(query);
    let inbound = match account.endpoint.open_post(&query, body) {
        Ok(i) => i,
        Err(e) => {
            tracing::info!(account_id = account.account_id, error = %e, "callback refused");
            return plain(status_of(e.http_status()), "");
        }
    };
    let msg = match inbound.message() {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(account_id = account.account_id, error = %e, "callback: unreadable message");
            return plain(StatusCode::BAD_REQUEST, "");
        }
    };
    let now = cb.clock.now_ms();
    let now_secs = now / 1000;
    let (reply, route) = match answer(cb, &account, &msg, inbound.xml(), now).await {
        Ok(answered) => answered,
        Err(res) => return res,
    };
    // Only the tap keeps this for the replies projection; rows read back are parsed again.
    let unmatched_text = (cb.log.tap().is_some() && Route::is_unmatched(&route))
        .then(|| unmatched_text(&msg))
        .flatten();
    let row = LogRow {
        merchant_id: account.merchant_id,
        account_id: account.account_id,
        dedup_key: msg.dedup_key(),
        openid: msg.from_user_name.to_string(),
        kind: kind_of(&msg),
        sent_at: msg.create_time.saturating_mul(1000),
        received_at: now,
        body: inbound.xml().to_string(),
        // The header comes back from the row itself (~150 bytes, more than half of a short
        // text reply, which the log's pages, its WAL and its checkpoints would copy again).
        reply: match &reply.kept {
            Some(kept) => kept.to_string(),
            None => wechat::reply::without_header(&reply.xml, &msg, now_secs).into_owned(),
        },
        route,
        unmatched_text,
    };
    let reply = match cb.log.append_within(row, LOG_BUDGET).await {
        Ok(Logged::New(_)) => reply.xml,
        Ok(Logged::Duplicate {
            reply: first,
            received_at,
            ..
        }) => {
            metrics::counter!("zhanggui_callback_duplicates_total").increment(1);
            let (to, from) = (&msg.from_user_name, &msg.to_user_name);
            wechat::reply::with_header(&first, to, from, received_at / 1000).into_owned()
        }
        Err(LogError::OverBudget) => {
            tracing::error!(
                account_id = account.account_id,
                "callback: log write over budget"
            );
            return plain(StatusCode::SERVICE_UNAVAILABLE, "");
        }
        Err(e) => {
            tracing::error!(account_id = account.account_id, error = %e, "callback: log write failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "");
        }
    };
    let nonce = query.nonce.as_deref().unwrap_or("");
    // Only an encrypted reply uses the random prefix, and a reply is encrypted exactly when
    // the message was (safe mode, and compatible mode's encrypted requests).
    let random: [u8; 16] = if inbound.was_encrypted() {
        rand::random()
    } else {
        [0; 16]
    };
    match account
        .endpoint
        .seal_reply(&inbound, &reply, now_secs, nonce, &random)
    {
        Ok(sealed) if sealed == "success" => plain(StatusCode::OK, "success"),
        Ok(sealed) => typed(XML, sealed.into_owned()),
        Err(e) => {
            tracing::error!(account_id = account.account_id, error = %e, "callback: cannot seal reply");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "")
        }
    }
}

/// The passive reply to `msg` and the route that chose it (replies::model::Route, for the
/// replies projector): a module's answer when one claims the message by its own trigger,
/// else what the account's reply index decides — a rule (whose first reply, or one at
/// random, answers now and whose others follow as customer-service messages), a hand-off,
/// a welcome, the default reply — else nothing.
async fn answer(
    cb: &Callback,
    account: &CallbackAccount,
    msg: &wechat::Message<'_>,
    xml: &str,
    now: i64,
) -> Result<(Reply, String), Answered> {
    if let Some(module) = cb.modules.claiming(msg) {
        return Ok((
            run_module(cb, account, msg, xml, now, module).await?.into(),
            String::new(),
        ));
    }
    let now_secs = now / 1000;
    if let Some((reply, route)) = flow_answer(cb, account, msg, now).await? {
        return Ok((reply.into(), route));
    }
    let text = |t: &str| match account.prepared_texts.get(t) {
        Some(prepared) => Reply::prepared(prepared, msg, now_secs),
        None => Reply::from(reply_xml(msg, (!t.is_empty()).then_some(t), now_secs)),
    };
    let (reply, route) = match account.index.decide(msg, &account.plain, now) {
        Choice::Rule { rule, keyword } => {
            let (reply, more) = answer_with_rule(cb, account, msg, xml, now, rule).await?;
            (reply, Route::encode_rule(rule.id, more, keyword))
        }
        Choice::Handoff => (
            text(&account.index.settings.handoff_reply),
            Route::Handoff.encode(),
        ),
        Choice::Plain(t) => (text(t), String::new()),
        Choice::Menu(Answer::Reply(prepared)) => {
            (Reply::prepared(prepared, msg, now_secs), String::new())
        }
        Choice::Menu(_) => (success().into(), String::new()),
        Choice::Unmatched(rule, plain) => {
            let courteous = account.index.settings.courtesy_hourly;
            if courteous
                && !cb
                    .courtesy
                    .may_answer(account.account_id, &msg.from_user_name, now)
            {
                (
                    success().into(),
                    Route::Unmatched { default: None }.encode(),
                )
            } else if let Some(rule) = rule {
                let (reply, more) = answer_with_rule(cb, account, msg, xml, now, rule).await?;
                let route = Route::Unmatched {
                    default: Some((rule.id, more)),
                };
                (reply, route.encode())
            } else {
                (text(plain), Route::Unmatched { default: None }.encode())
            }
        }
        Choice::Nothing => (success().into(), String::new()),
    };
    Ok((reply, route))
}

/// A passive reply: its XML, and the reply as the log keeps it when it was prepared
/// (`wechat::PreparedReply`); else the log's row strips the header itself.
struct Reply {
    xml: String,
    kept: Option<Arc<str>>,
}

impl Reply {
    fn prepared(
        prepared: &wechat::PreparedReply,
        msg: &wechat::Message<'_>,
        now_secs: i64,
    ) -> Reply {
        let answer = prepared.answer(msg, now_secs);
        Reply {
            xml: answer.xml,
            kept: Some(answer.kept.clone()),
        }
    }
}

impl From<String> for Reply {
    fn from(xml: String) -> Reply {
        Reply { xml, kept: None }
    }
}

fn success() -> String {
    wechat::Reply::Success.to_xml()
}

/// A 503 for WeChat (it delivers again), the cause logged.
fn unavailable(account: &CallbackAccount, what: &str, e: &dyn std::fmt::Display) -> Answered {
    tracing::error!(account_id = account.account_id, error = %e, "callback: {what}");
    plain(StatusCode::SERVICE_UNAVAILABLE, "")
}

/// The flow's answer when the follower is in one (only accounts with flows read where the
/// follower is); hand-off words still reach a person.
async fn flow_answer(
    cb: &Callback,
    account: &CallbackAccount,
    msg: &wechat::Message<'_>,
    now: i64,
) -> Result<Option<(String, String)>, Answered> {
    if !account.index.has_flows() {
        return Ok(None);
    }
    let text = match &msg.body {
        wechat::MessageBody::Text(t) => t.content.as_ref(),
        wechat::MessageBody::Voice(v) => match v.recognition.as_deref() {
            Some(r) => r,
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    if account.index.is_handoff(text) {
        return Ok(None);
    }
    let dedup_key = msg.dedup_key();
    let who = crate::flows::Speaker {
        merchant_id: account.merchant_id,
        account_id: account.account_id,
        openid: &msg.from_user_name,
        dedup_key: &dedup_key,
        now,
    };
    // Boxed, as every database call here: the callback's future (allocated and moved for
    // every request) would otherwise be as large as the largest query's.
    let answered = Box::pin(crate::flows::answer(
        &cb.db,
        &who,
        &account.index.flows,
        text,
    ))
    .await
    .map_err(|e| unavailable(account, "cannot read or move a flow", &e))?;
    Ok(answered.map(|(reply, route)| {
        let xml = reply_xml(
            msg,
            (!reply.is_empty()).then_some(reply.as_str()),
            now / 1000,
        );
        (xml, route)
    }))
}

/// A rule's passive reply, and how many of its replies follow it.
async fn answer_with_rule(
    cb: &Callback,
    account: &CallbackAccount,
    msg: &wechat::Message<'_>,
    xml: &str,
    now: i64,
    rule: &CompiledRule,
) -> Result<(Reply, usize), Answered> {
    let answers = answers_now(rule, |n| (rand::random::<u32>() as usize) % n.max(1));
    let more = match rule.reply_mode {
        ReplyMode::All => answers.len().saturating_sub(1),
        ReplyMode::Random => 0,
    };
    let reply = match answers.first() {
        None => success().into(),
        Some(Answer::Reply(prepared)) => Reply::prepared(prepared, msg, now / 1000),
        Some(Answer::Flow(flow_id)) => match account.index.flows.get(flow_id) {
            Some(flow) => {
                let dedup_key = msg.dedup_key();
                let who = crate::flows::Speaker {
                    merchant_id: account.merchant_id,
                    account_id: account.account_id,
                    openid: &msg.from_user_name,
                    dedup_key: &dedup_key,
                    now,
                };
                let opening = Box::pin(crate::flows::start(&cb.db, &who, flow))
                    .await
                    .map_err(|e| unavailable(account, "cannot start a flow", &e))?;
                reply_xml(msg, Some(&opening), now / 1000).into()
            }
            None => success().into(),
        },
        Some(Answer::Module(name)) => match cb.modules.by_name(name) {
            Some(module) => run_module(cb, account, msg, xml, now, module).await?.into(),
            None => {
                tracing::warn!(account_id = account.account_id, module = %name, "a rule names a module that is not running");
                success().into()
            }
        },
    };
    Ok((reply, more))
}

/// A module's answer within the budget — past the budget, `success` now and the answer
/// later by customer-service message.
async fn run_module(
    cb: &Callback,
    account: &CallbackAccount,
    msg: &wechat::Message<'_>,
    xml: &str,
    now: i64,
    module: Arc<dyn super::modules::Module>,
) -> Result<String, Answered> {
    let now_secs = now / 1000;
    let call = super::modules::ModuleCall {
        db: cb.db.clone(),
        merchant_id: account.merchant_id,
        account_id: account.account_id,
        openid: msg.from_user_name.to_string(),
        xml: xml.to_string(),
    };
    match tokio::time::timeout(super::late::REPLY_BUDGET, module.answer(&call)).await {
        Ok(Ok(Some(body))) => Ok(wechat::ReplyMessage::answering(msg, now_secs, body).to_xml()),
        Ok(Ok(None)) => Ok(success()),
        Ok(Err(e)) => {
            tracing::warn!(account_id = account.account_id, module = module.name(), error = %e, "module failed");
            Ok(success())
        }
        Err(_) => {
            metrics::counter!("zhanggui_callback_late_answers_total").increment(1);
            let dedup_key = msg.dedup_key();
            let late = super::late::LateAnswer {
                merchant_id: account.merchant_id,
                account_id: account.account_id,
                dedup_key: &dedup_key,
                openid: &call.openid,
                module: module.name(),
                body: xml,
            };
            match Box::pin(super::late::schedule(&cb.db, now, &late)).await {
                Ok(_) => {
                    cb.jobs.wake();
                    Ok(success())
                }
                Err(e) => {
                    // Not answering makes WeChat deliver again: the late answer is not lost.
                    tracing::error!(account_id = account.account_id, error = %e, "callback: cannot schedule a late answer");
                    Err(plain(StatusCode::SERVICE_UNAVAILABLE, ""))
                }
            }
        }
    }
}

// ---- the live messages page (实时消息) and its JSON ----

pub fn console_router() -> Router<AppState> {
    Router::new().route("/messages", get(live_page))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(utoipa_axum::routes!(api_recent))
}

/// One logged message as the live page and the API show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct MessageOut {
    pub id: i64,
    pub openid: String,
    /// `text`, `image`, … or `event:subscribe`, `event:click`, …
    pub kind: String,
    /// What kind of message this is, in the caller's language.
    pub label: String,
    /// What the follower sent: their text, the menu key, the QR scene …
    pub detail: String,
    /// The text we answered with; empty when we answered nothing.
    pub reply: String,
    pub sent_at: String,
    pub received_at: String,
    /// `received_at` as the merchant's local time, for display.
    pub received_local: String,
}

fn message_out(row: &super::store::MessageRow, tz: chrono_tz::Tz, lang: Lang) -> MessageOut {
    let (label_key, detail) = match wechat::Message::parse(&row.body) {
        Ok(m) => super::model::describe(&m),
        Err(_) => ("msgkind.other", String::new()),
    };
    MessageOut {
        id: row.id,
        openid: row.openid.clone(),
        kind: row.kind.clone(),
        label: lang.t(label_key).to_string(),
        detail,
        reply: super::model::reply_text(&row.reply),
        sent_at: rfc3339(row.sent_at, tz),
        received_at: rfc3339(row.received_at, tz),
        received_local: format_local_seconds(row.received_at, tz),
    }
}

fn format_local_seconds(ms: i64, tz: chrono_tz::Tz) -> String {
    crate::platform::clock::utc(ms)
        .map(|t| t.with_timezone(&tz).format("%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

const LIVE_PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "messages/live.html")]
struct LivePage {
    shell: Shell,
    account_id: Option<i64>,
    account_name: String,
    messages: Vec<MessageOut>,
    newest_id: i64,
}

async fn live_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewMessages)?;
    let mut shell = Shell::for_caller(&state, &caller, "messages", "messages.title", &uri).await?;
    if shell.accounts.is_empty() {
        // Agents do not see the accounts page, but do see messages: give them the switcher.
        shell.accounts = crate::accounts::choices(&state.db, caller.merchant_id).await?;
        shell.account_id = caller
            .user()
            .and_then(|u| u.account_id)
            .filter(|id| shell.accounts.iter().any(|a| a.id == *id))
            .or_else(|| shell.accounts.first().map(|a| a.id));
    }
    let account_id = shell.account_id;
    let account_name = shell
        .accounts
        .iter()
        .find(|a| Some(a.id) == account_id)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let messages: Vec<MessageOut> = match account_id {
        Some(id) => {
            super::store::recent(&state.db, caller.merchant_id, id, 0, None, LIVE_PAGE_SIZE)
                .await?
                .iter()
                .map(|r| message_out(r, tz, caller.lang))
                .collect()
        }
        None => vec![],
    };
    let newest_id = messages.first().map(|m| m.id).unwrap_or(0);
    page(&LivePage {
        shell,
        account_id,
        account_name,
        messages,
        newest_id,
    })
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecentQuery {
    /// Only messages newer than this id (for polling).
    pub after_id: Option<i64>,
    /// Only messages older than this id (for paging back).
    pub before_id: Option<i64>,
    /// 1 to 500 (default 50).
    pub limit: Option<i64>,
}

/// An account's messages, newest first (owner, operator, agent).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/messages", tag = "messages",
    params(("id" = i64, Path), RecentQuery),
    responses((status = 200, body = Page<MessageOut>), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_recent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<RecentQuery>,
) -> Result<Json<Page<MessageOut>>, AppError> {
    caller.require(Permission::ViewMessages)?;
    crate::accounts::get(&state.db, caller.merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let limit = q.limit.unwrap_or(LIVE_PAGE_SIZE);
    if !(1..=crate::platform::api::MAX_LIMIT).contains(&limit) {
        return Err(crate::merchants::field_error(
            "limit",
            crate::platform::i18n::Msg::new("error.range")
                .arg("min", 1)
                .arg("max", crate::platform::api::MAX_LIMIT),
        ));
    }
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let rows = super::store::recent(
        &state.db,
        caller.merchant_id,
        id,
        q.after_id.unwrap_or(0),
        q.before_id,
        limit,
    )
    .await?;
    let items: Vec<MessageOut> = rows
        .iter()
        .map(|r| message_out(r, tz, caller.lang))
        .collect();
    let next_cursor = None;
    Ok(Json(Page { items, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_wechats_get_and_post_on_a_plain_key_are_served_directly() {
        assert_eq!(direct_key(&Method::POST, "/wx/k3y_A-1"), Some("k3y_A-1"));
        assert_eq!(direct_key(&Method::GET, "/wx/k3y"), Some("k3y"));
        for method in [Method::HEAD, Method::PUT, Method::DELETE, Method::OPTIONS] {
            assert_eq!(direct_key(&method, "/wx/k3y"), None, "{method}");
        }
        for path in [
            "/wx/",
            "/wx",
            "/wx/k3y/",
            "/wx/a/b",
            "/wx/%6B3y",
            "/wxk3y",
            "/api/wx/k3y",
        ] {
            assert_eq!(direct_key(&Method::POST, path), None, "{path}");
        }
    }
}
