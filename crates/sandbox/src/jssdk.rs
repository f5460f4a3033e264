//! JS-SDK tickets and a checker for the merchant's `wx.config` signatures.
//!
//! - `GET /cgi-bin/ticket/getticket?access_token=&type=jsapi|wx_card` →
//!   `{"errcode":0,"errmsg":"ok","ticket":"…","expires_in":7200}`. A ticket lives 7,200 s and
//!   the same ticket comes back while it is valid (`expires_in` is then what is left); a new
//!   one replaces it after that. Every account type may use the JS-SDK basics, so `jsapi`
//!   tickets are for all; `wx_card` (card api_ticket) needs a verified account (48001).
//!   `type` must be one of the two (40097 "invalid args").
//! - `GET|POST /api/apps/{app_id}/jssdk/verify` `{url, noncestr, timestamp, signature}` (the
//!   query for GET, JSON for POST), sandbox only: what WeChat's client decides about a
//!   `wx.config` — `signature == sha1("jsapi_ticket=T&noncestr=N&timestamp=S&url=U")` with
//!   the app's current jsapi ticket, raw values, `url` without `#…` — and, when it would say
//!   "invalid signature", why.
//! - `PUT /api/apps/{app_id}/jssdk/ticket {"ticket": "…", "type": "jsapi"}`, sandbox only:
//!   makes a given ticket current, so that published signature examples can be reproduced.

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha1::{Digest, Sha1};

use crate::Sandbox;
use crate::caller::ApiCaller;
use crate::error::{WxError, WxResult};
use crate::registry::StoreError;

pub const TICKET_LIFETIME_MS: i64 = 7_200_000;

/// Per app, keyed by ticket type: the current ticket and the one it replaced.
const TICKETS: &str = "jssdk_ticket";

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/ticket/getticket", get(get_ticket))
        .route(
            "/api/apps/{app_id}/jssdk/verify",
            get(verify_query).post(verify_json),
        )
        .route(
            "/api/apps/{app_id}/jssdk/ticket",
            axum::routing::put(put_ticket),
        )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketType {
    /// `jsapi_ticket`, for `wx.config`.
    Jsapi,
    /// The card `api_ticket`, for `wx.addCard` and `wx.chooseCard`.
    WxCard,
}

impl TicketType {
    pub fn parse(s: &str) -> Option<TicketType> {
        match s {
            "jsapi" => Some(TicketType::Jsapi),
            "wx_card" => Some(TicketType::WxCard),
            _ => None,
        }
    }

    fn key(self) -> &'static str {
        match self {
            TicketType::Jsapi => "jsapi",
            TicketType::WxCard => "wx_card",
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct Tickets {
    current: Option<Ticket>,
    /// The ticket `current` replaced, to tell a stale signature from a wrong one.
    #[serde(default)]
    previous: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Ticket {
    ticket: String,
    expires_at: i64,
}

fn invalid_args() -> WxError {
    WxError::new(40097, "invalid args")
}

#[derive(Deserialize)]
struct TicketQuery {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// `GET /cgi-bin/ticket/getticket`.
async fn get_ticket(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    Query(q): Query<TicketQuery>,
) -> WxResult {
    let kind = q
        .kind
        .as_deref()
        .and_then(TicketType::parse)
        .ok_or_else(invalid_args)?;
    if kind == TicketType::WxCard && !caller.app.verified {
        return Err(WxError::unauthorized());
    }
    let now = sb.now_ms();
    let ticket = current_or_new(&sb, &caller.app.app_id, kind, now).await?;
    Ok(Json(json!({
        "errcode": 0,
        "errmsg": "ok",
        "ticket": ticket.ticket,
        "expires_in": (ticket.expires_at - now) / 1000,
    }))
    .into_response())
}

/// The valid ticket of `kind`, or a new one when there is none.
async fn current_or_new(
    sb: &Sandbox,
    app_id: &str,
    kind: TicketType,
    now: i64,
) -> Result<Ticket, StoreError> {
    let fresh = Ticket {
        ticket: new_ticket(),
        expires_at: now + TICKET_LIFETIME_MS,
    };
    sb.docs
        .update(app_id, TICKETS, kind.key(), |t: Option<Tickets>| {
            let mut t = t.unwrap_or_default();
            match &t.current {
                Some(valid) if valid.expires_at > now => {
                    let valid = valid.clone();
                    Ok::<_, StoreError>((t, valid))
                }
                _ => {
                    t.previous = t.current.take().map(|old| old.ticket);
                    t.current = Some(fresh.clone());
                    Ok((t, fresh.clone()))
                }
            }
        })
        .await?
}

/// WeChat's tickets are 86 characters of URL-safe base64.
fn new_ticket() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..86)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct PinTicket {
    ticket: String,
    #[serde(rename = "type", default = "jsapi")]
    kind: String,
}

fn jsapi() -> String {
    "jsapi".to_string()
}

fn bad_request(errmsg: &str) -> WxError {
    WxError::new(40097, errmsg).with_status(StatusCode::BAD_REQUEST)
}

/// `PUT /api/apps/{app_id}/jssdk/ticket`: the given ticket becomes current for 7,200 s.
#[utoipa::path(put, path = "/api/apps/{app_id}/jssdk/ticket", tag = "sandbox",
    summary = "Pin the account's jsapi (or wx_card) ticket, to reproduce a known signature",
    params(("app_id" = String, Path)),
    request_body = PinTicket,
    responses((status = 200, description = "`{ticket, expires_in}`"),
        (status = 400, body = crate::error::WxErrorBody)))]
pub(crate) async fn put_ticket(
    State(sb): State<Sandbox>,
    Path(app_id): Path<String>,
    body: axum::body::Bytes,
) -> WxResult {
    crate::known_app(&sb, &app_id).await?;
    let pin: PinTicket = serde_json::from_slice(&body)
        .map_err(|e| bad_request(&format!("expected {{\"ticket\": …}}: {e}")))?;
    let kind =
        TicketType::parse(&pin.kind).ok_or_else(|| bad_request("type is jsapi or wx_card"))?;
    if pin.ticket.is_empty() {
        return Err(bad_request("ticket must not be empty"));
    }
    let pinned = Ticket {
        ticket: pin.ticket,
        expires_at: sb.now_ms() + TICKET_LIFETIME_MS,
    };
    sb.docs
        .update(&app_id, TICKETS, kind.key(), |t: Option<Tickets>| {
            let mut t = t.unwrap_or_default();
            t.previous = t.current.take().map(|old| old.ticket);
            t.current = Some(pinned.clone());
            Ok::<_, StoreError>((t, ()))
        })
        .await??;
    Ok(
        Json(json!({ "ticket": pinned.ticket, "expires_in": TICKET_LIFETIME_MS / 1000 }))
            .into_response(),
    )
}

/// What a page passed to `wx.config`, with the URL it was opened at.
#[derive(Clone, Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ConfigCheck {
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub noncestr: String,
    #[serde(default, deserialize_with = "string_or_number")]
    pub timestamp: String,
    #[serde(default)]
    pub signature: String,
}

/// `timestamp` is a number in `wx.config` and a string in query strings; both are fine.
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        serde_json::Value::Null => Ok(String::new()),
        other => Err(serde::de::Error::custom(format!(
            "timestamp must be a string or a number, not {other}"
        ))),
    }
}

/// `string1` of the JS-SDK signature: fields in ASCII order, raw values, no escaping.
pub fn string_to_sign(ticket: &str, noncestr: &str, timestamp: &str, url: &str) -> String {
    format!("jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}")
}

/// Lowercase hex SHA-1 of `string1`.
pub fn signature_of(string1: &str) -> String {
    hex::encode(Sha1::digest(string1.as_bytes()))
}

/// `GET /api/apps/{app_id}/jssdk/verify?url=…&noncestr=…&timestamp=…&signature=…`.
#[utoipa::path(get, path = "/api/apps/{app_id}/jssdk/verify", tag = "sandbox",
    summary = "Would WeChat accept this wx.config signature? (and why not)",
    params(("app_id" = String, Path), ("url" = String, Query), ("noncestr" = String, Query),
        ("timestamp" = String, Query), ("signature" = String, Query)),
    responses((status = 200, description = "`{valid, errMsg, reason?, string1}`")))]
pub(crate) async fn verify_query(
    State(sb): State<Sandbox>,
    Path(app_id): Path<String>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> WxResult {
    let check: ConfigCheck = serde_urlencoded::from_str(query.as_deref().unwrap_or(""))
        .map_err(|e| bad_request(&format!("query: {e}")))?;
    verify(&sb, &app_id, check).await
}

/// `POST /api/apps/{app_id}/jssdk/verify {url, noncestr, timestamp, signature}`.
#[utoipa::path(post, path = "/api/apps/{app_id}/jssdk/verify", tag = "sandbox",
    summary = "Would WeChat accept this wx.config signature? (and why not)",
    params(("app_id" = String, Path)),
    request_body = ConfigCheck,
    responses((status = 200, description = "`{valid, errMsg, reason?, string1}`")))]
pub(crate) async fn verify_json(
    State(sb): State<Sandbox>,
    Path(app_id): Path<String>,
    body: axum::body::Bytes,
) -> WxResult {
    let check: ConfigCheck =
        serde_json::from_slice(&body).map_err(|e| bad_request(&format!("body: {e}")))?;
    verify(&sb, &app_id, check).await
}

async fn verify(sb: &Sandbox, app_id: &str, check: ConfigCheck) -> WxResult {
    crate::known_app(sb, app_id).await?;
    let tickets: Tickets = sb
        .docs
        .get(app_id, TICKETS, TicketType::Jsapi.key())
        .await?
        .unwrap_or_default();
    let verdict = judge(&tickets, &check, sb.now_ms());
    let string1 = tickets
        .current
        .as_ref()
        .map(|t| string_to_sign(&t.ticket, &check.noncestr, &check.timestamp, &check.url));
    let body = match verdict {
        Ok(()) => json!({ "valid": true, "errMsg": "config:ok", "string1": string1 }),
        Err(reason) => json!({
            "valid": false,
            "errMsg": "config:invalid signature",
            "reason": reason,
            "string1": string1,
        }),
    };
    Ok(Json(body).into_response())
}

/// Whether WeChat's client would accept the config, and if not, the likely cause.
fn judge(tickets: &Tickets, check: &ConfigCheck, now: i64) -> Result<(), String> {
    if let Some(problem) = field_problem(check) {
        return Err(problem);
    }
    let Some(current) = &tickets.current else {
        return Err(
            "no jsapi_ticket was issued to this app: call /cgi-bin/ticket/getticket?type=jsapi"
                .into(),
        );
    };
    let signed_with = |ticket: &str| {
        signature_of(&string_to_sign(
            ticket,
            &check.noncestr,
            &check.timestamp,
            &check.url,
        ))
    };
    let expected = signed_with(&current.ticket);
    if check.signature == expected {
        if current.expires_at <= now {
            return Err("the jsapi_ticket has expired: fetch a new one and sign again".into());
        }
        return Ok(());
    }
    if check.signature.eq_ignore_ascii_case(&expected) {
        return Err("signature must be lowercase hex".into());
    }
    if tickets
        .previous
        .as_deref()
        .is_some_and(|old| signed_with(old) == check.signature)
    {
        return Err("signed with a jsapi_ticket that has since been replaced".into());
    }
    Err(format!(
        "signature does not match sha1 of string1 with the current jsapi_ticket (expected {expected})"
    ))
}

/// Mistakes in the fields themselves, which no ticket can make right.
fn field_problem(check: &ConfigCheck) -> Option<String> {
    if check.url.is_empty() {
        return Some("url is required: the page's location.href.split('#')[0]".into());
    }
    if check.url.contains('#') {
        return Some("url must not contain # or anything after it".into());
    }
    let lower = check.url.to_ascii_lowercase();
    if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
        return Some(
            "url is percent-encoded: sign the raw URL, not encodeURIComponent(url)".into(),
        );
    }
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Some("url must be the full page URL, with http:// or https://".into());
    }
    if check.url.contains("&amp;") {
        return Some("url contains &amp;: it was HTML-escaped somewhere on the way".into());
    }
    if check.noncestr.is_empty() {
        return Some("noncestr is required".into());
    }
    if check.timestamp.len() != 10 || !check.timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Some("timestamp must be Unix time in seconds (10 digits)".into());
    }
    if check.signature.is_empty() {
        return Some("signature is required".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFICIAL_TICKET: &str =
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";

    #[test]
    fn the_official_examples_sign_as_published() {
        let s = string_to_sign(
            OFFICIAL_TICKET,
            "Wm3WZYTPz0wzccnW",
            "1414587457",
            "http://mp.weixin.qq.com?params=value",
        );
        assert_eq!(signature_of(&s), "0f9de62fce790f9a083d5c99e95740ceb90c27ed");
        let s = string_to_sign(
            OFFICIAL_TICKET,
            "Wm3WZYTPz0wzccnW",
            "1414587457",
            "http://mp.weixin.qq.com",
        );
        assert_eq!(signature_of(&s), "f4d90daf4b3bca3078ab155816175ba34c443a7b");
    }

    #[test]
    fn tickets_look_like_wechats() {
        let t = new_ticket();
        assert_eq!(t.len(), 86);
        assert_ne!(t, new_ticket());
    }
}
