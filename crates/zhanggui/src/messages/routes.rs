//! The callback URL of each account (`/wx/{callback_key}`): WeChat's GET handshake and its
//! POSTed messages and events.
//!
//! The hot path: the account comes from memory, the reply is computed from memory, and the
//! only I/O is the group-committed log write (the message, its dedup key and our reply),
//! durable before we answer. A retry finds its dedup key in the log and gets the first reply.

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use wechat::CallbackQuery;

use super::model::{basic_answer, kind_of, reply_xml};
use super::store::{LogRow, Logged};
use crate::platform::state::AppState;

/// The longest we wait for the log write. WeChat gives up after 5 s and retries; failing
/// well before that lets the retry land on a healthier moment (or instance).
const LOG_BUDGET: Duration = Duration::from_secs(3);

pub fn router() -> Router<AppState> {
    Router::new().route("/wx/{key}", get(handshake).post(receive))
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn handshake(State(state): State<AppState>, Path(key): Path<String>, uri: Uri) -> Response {
    let account = match state.callbacks.get(&state.db, &key).await {
        Ok(Some(a)) => a,
        Ok(None) => return plain(StatusCode::NOT_FOUND, ""),
        Err(e) => {
            tracing::error!(error = %e, "callback: account lookup failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "");
        }
    };
    let query = CallbackQuery::parse(uri.query().unwrap_or(""));
    match account.endpoint.verify_get_handshake(&query) {
        Ok(echostr) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            echostr.into_owned(),
        )
            .into_response(),
        Err(e) => {
            tracing::info!(account_id = account.account_id, error = %e, "callback handshake refused");
            plain(status_of(e.http_status()), "")
        }
    }
}

fn status_of(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

async fn receive(
    State(state): State<AppState>,
    Path(key): Path<String>,
    uri: Uri,
    body: Bytes,
) -> Response {
    let account = match state.callbacks.get(&state.db, &key).await {
        Ok(Some(a)) => a,
        Ok(None) => return plain(StatusCode::NOT_FOUND, ""),
        Err(e) => {
            tracing::error!(error = %e, "callback: account lookup failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "");
        }
    };
    let query = CallbackQuery::parse(uri.query().unwrap_or(""));
    let inbound = match account.endpoint.open_post(&query, &body) {
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
    let now = state.clock.now_ms();
    let now_secs = now / 1000;
    let reply = reply_xml(&msg, basic_answer(&msg, &account.replies), now_secs);
    let row = LogRow {
        merchant_id: account.merchant_id,
        account_id: account.account_id,
        dedup_key: msg.dedup_key(),
        openid: msg.from_user_name.to_string(),
        kind: kind_of(&msg),
        sent_at: msg.create_time.saturating_mul(1000),
        received_at: now,
        body: inbound.xml().to_string(),
        reply,
    };
    let reply = match tokio::time::timeout(LOG_BUDGET, state.log.append(row.clone())).await {
        Ok(Ok(Logged::New(_))) => row.reply,
        Ok(Ok(Logged::Duplicate { reply, .. })) => {
            metrics::counter!("zhanggui_callback_duplicates_total").increment(1);
            reply
        }
        Ok(Err(e)) => {
            tracing::error!(account_id = account.account_id, error = %e, "callback: log write failed");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "");
        }
        Err(_) => {
            tracing::error!(
                account_id = account.account_id,
                "callback: log write over budget"
            );
            return plain(StatusCode::SERVICE_UNAVAILABLE, "");
        }
    };
    let nonce = query.nonce.as_deref().unwrap_or("");
    let random: [u8; 16] = rand::random();
    match account
        .endpoint
        .seal_reply(&inbound, &reply, now_secs, nonce, &random)
    {
        Ok(sealed) if sealed == "success" => plain(StatusCode::OK, "success"),
        Ok(sealed) => (
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            sealed.into_owned(),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(account_id = account.account_id, error = %e, "callback: cannot seal reply");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "")
        }
    }
}
