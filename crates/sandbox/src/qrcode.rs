//! Parametric QR codes (带参数二维码), wechat-protocol.md §6.7, limits §2.8.
//!
//! - `POST /cgi-bin/qrcode/create`:
//!   - temporary: `action_name` `QR_SCENE` (`scene_id` a non-zero 32-bit integer) or
//!     `QR_STR_SCENE` (`scene_str` of 1–64 characters), `expire_seconds` 1–2,592,000 (30 days),
//!     60 when left out → `{ticket, expire_seconds, url}`;
//!   - permanent: `QR_LIMIT_SCENE` (`scene_id` 1–100,000) or `QR_LIMIT_STR_SCENE` → `{ticket,
//!     url}`; the same scene gives the same ticket again; at most 100,000 per account.
//!   - errors: unknown `action_name` 40052 "invalid action name"; a missing or out-of-range
//!     scene 40053 "invalid action info"; `expire_seconds` out of range, or the permanent
//!     limit reached, 40097 "invalid args" (codes from WeChat's global table; which one
//!     WeChat picks for expiry and the limit is unverified — the sandbox refuses rather than
//!     clamps, so code that passes here cannot rely on clamping).
//! - `GET /cgi-bin/showqrcode?ticket=` (WeChat serves it on mp.weixin.qq.com, without a
//!   token): a PNG whose QR code holds `url` (`http://weixin.qq.com/q/…`); 404 for unknown
//!   or expired tickets. Tickets carry `+`, `/` and `=` as WeChat's do, so callers must
//!   URL-encode them.
//!
//! [`scene_of_ticket`] lets the phone simulator "scan" a code.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Sandbox;
use crate::caller::{ApiCaller, json_body};
use crate::error::{WxError, WxResult};
use crate::media::new_id;
use crate::registry::{GLOBAL, StoreError};

/// Tickets, keyed by the ticket itself (showqrcode has no token to find the app by).
const TICKETS: &str = "qrcode";
/// An app's permanent codes, keyed by scene, so a scene keeps its ticket.
const PERMANENT: &str = "qrcode_permanent";
/// One document (key [`COUNT_KEY`]) counting an app's permanent codes.
const PERMANENT_COUNT: &str = "qrcode_permanent_count";
const COUNT_KEY: &str = "count";

pub const DEFAULT_EXPIRE_SECONDS: i64 = 60;
pub const MAX_EXPIRE_SECONDS: i64 = 2_592_000;
pub const MAX_PERMANENT_SCENE_ID: i64 = 100_000;
pub const MAX_PERMANENT_CODES: u64 = 100_000;
pub const MAX_SCENE_STR_CHARS: usize = 64;
/// The side of the image WeChat serves, in pixels.
const IMAGE_SIDE: usize = 430;
/// White border around the code, in modules, as the QR standard asks.
const QUIET_ZONE: usize = 4;

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/qrcode/create", post(create))
        .route("/cgi-bin/showqrcode", get(show))
}

/// What a ticket leads to.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Ticket {
    app_id: String,
    scene: String,
    permanent: bool,
    /// When a temporary code stops working (ms).
    expires_at: Option<i64>,
    url: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Count {
    count: u64,
}

#[derive(Deserialize)]
struct CreateRequest {
    expire_seconds: Option<Value>,
    action_name: Option<String>,
    action_info: Option<ActionInfo>,
}

#[derive(Deserialize)]
struct ActionInfo {
    scene: Option<SceneInfo>,
}

#[derive(Deserialize)]
struct SceneInfo {
    scene_id: Option<Value>,
    scene_str: Option<Value>,
}

/// A code asked for, checked.
#[derive(Debug, PartialEq)]
struct Wanted {
    scene: String,
    /// Seconds to live; `None` for permanent codes.
    expire_seconds: Option<i64>,
    /// Whether the scene is a `scene_str` (permanent codes of both kinds share one space).
    is_str: bool,
}

fn invalid_action_name() -> WxError {
    WxError::new(40052, "invalid action name")
}

fn invalid_action_info() -> WxError {
    WxError::new(40053, "invalid action info")
}

fn invalid_args(what: &str) -> WxError {
    WxError::new(40097, format!("invalid args hint: [{what}]"))
}

/// `POST /cgi-bin/qrcode/create`.
async fn create(State(sb): State<Sandbox>, caller: ApiCaller, body: axum::body::Bytes) -> WxResult {
    let req: CreateRequest = json_body(&body)?;
    let wanted = check(&req)?;
    let app_id = &caller.app.app_id;
    match wanted.expire_seconds {
        Some(seconds) => {
            let expires_at = sb.now_ms() + seconds * 1000;
            let (ticket, url) = new_ticket(&sb, app_id, &wanted.scene, Some(expires_at)).await?;
            Ok(
                Json(json!({ "ticket": ticket, "expire_seconds": seconds, "url": url }))
                    .into_response(),
            )
        }
        None => {
            let (ticket, url) = permanent_ticket(&sb, app_id, &wanted).await?;
            Ok(Json(json!({ "ticket": ticket, "url": url })).into_response())
        }
    }
}

/// WeChat's checks of a create request, in its order: the action, then the scene, then the
/// lifetime.
fn check(req: &CreateRequest) -> Result<Wanted, WxError> {
    let action = req.action_name.as_deref().unwrap_or_default();
    let (permanent, is_str) = match action {
        "QR_SCENE" => (false, false),
        "QR_STR_SCENE" => (false, true),
        "QR_LIMIT_SCENE" => (true, false),
        "QR_LIMIT_STR_SCENE" => (true, true),
        _ => return Err(invalid_action_name()),
    };
    let scene_info = req
        .action_info
        .as_ref()
        .and_then(|a| a.scene.as_ref())
        .ok_or_else(invalid_action_info)?;
    let scene = if is_str {
        scene_str(scene_info.scene_str.as_ref())?
    } else {
        let max = if permanent {
            MAX_PERMANENT_SCENE_ID
        } else {
            i64::from(u32::MAX)
        };
        scene_id(scene_info.scene_id.as_ref(), max)?.to_string()
    };
    let expire_seconds = if permanent {
        None
    } else {
        Some(lifetime(req.expire_seconds.as_ref())?)
    };
    Ok(Wanted {
        scene,
        expire_seconds,
        is_str,
    })
}

/// A `scene_id` in 1..=max; WeChat also takes digits in a string.
fn scene_id(value: Option<&Value>, max: i64) -> Result<i64, WxError> {
    let id = value.and_then(integer).ok_or_else(invalid_action_info)?;
    if (1..=max).contains(&id) {
        Ok(id)
    } else {
        Err(invalid_action_info())
    }
}

fn scene_str(value: Option<&Value>) -> Result<String, WxError> {
    let s = value
        .and_then(Value::as_str)
        .ok_or_else(invalid_action_info)?;
    if (1..=MAX_SCENE_STR_CHARS).contains(&s.chars().count()) {
        Ok(s.to_string())
    } else {
        Err(invalid_action_info())
    }
}

fn lifetime(value: Option<&Value>) -> Result<i64, WxError> {
    let Some(value) = value else {
        return Ok(DEFAULT_EXPIRE_SECONDS);
    };
    let seconds = integer(value).ok_or_else(|| invalid_args("expire_seconds"))?;
    if (1..=MAX_EXPIRE_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(invalid_args("expire_seconds"))
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// A new ticket of WeChat's shape: base64 of a small record that holds the code's URL.
async fn new_ticket(
    sb: &Sandbox,
    app_id: &str,
    scene: &str,
    expires_at: Option<i64>,
) -> Result<(String, String), WxError> {
    let permanent = expires_at.is_none();
    loop {
        let url = format!(
            "http://weixin.qq.com/q/02{}",
            new_id(20).replace(['-', '_'], "x")
        );
        let ticket = encode_ticket(&url, sb.now_ms() / 1000, expires_at);
        let doc = Ticket {
            app_id: app_id.to_string(),
            scene: scene.to_string(),
            permanent,
            expires_at,
            url: url.clone(),
        };
        if sb.docs.create(GLOBAL, TICKETS, &ticket, &doc).await? {
            return Ok((ticket, url));
        }
    }
}

fn encode_ticket(url: &str, created_s: i64, expires_at_ms: Option<i64>) -> String {
    let mut raw = vec![0x81, 0x01];
    raw.extend(rand::random::<[u8; 4]>());
    raw.extend([0u8; 7]);
    raw.push(0x01);
    raw.push(url.len().min(255) as u8);
    raw.extend(url.as_bytes());
    raw.extend([0x00, 0x02, 0x04]);
    raw.extend((created_s as u32).to_le_bytes());
    raw.extend([0x03, 0x04]);
    let expire_s = expires_at_ms.map_or(0, |ms| (ms / 1000 - created_s) as u32);
    raw.extend(expire_s.to_le_bytes());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

/// The scene's ticket, made on first use within the app's limit of permanent codes.
async fn permanent_ticket(
    sb: &Sandbox,
    app_id: &str,
    wanted: &Wanted,
) -> Result<(String, String), WxError> {
    let key = format!(
        "{}:{}",
        if wanted.is_str { "str" } else { "id" },
        wanted.scene
    );
    if let Some(existing) = existing_permanent(sb, app_id, &key).await? {
        return Ok(existing);
    }
    reserve_permanent(sb, app_id).await?;
    let (ticket, url) = new_ticket(sb, app_id, &wanted.scene, None).await?;
    let made = (ticket.clone(), url.clone());
    if sb.docs.create(app_id, PERMANENT, &key, &made).await? {
        return Ok(made);
    }
    // Someone made this scene's code at the same moment: theirs stands, ours goes.
    sb.docs.delete(GLOBAL, TICKETS, &ticket).await?;
    release_permanent(sb, app_id).await?;
    existing_permanent(sb, app_id, &key)
        .await?
        .ok_or_else(WxError::system_busy)
}

async fn existing_permanent(
    sb: &Sandbox,
    app_id: &str,
    key: &str,
) -> Result<Option<(String, String)>, StoreError> {
    sb.docs.get(app_id, PERMANENT, key).await
}

async fn reserve_permanent(sb: &Sandbox, app_id: &str) -> Result<(), WxError> {
    sb.docs
        .update(app_id, PERMANENT_COUNT, COUNT_KEY, |c: Option<Count>| {
            let c = c.unwrap_or_default();
            if c.count >= MAX_PERMANENT_CODES {
                return Err(invalid_args("permanent qrcode limit reached"));
            }
            Ok((Count { count: c.count + 1 }, ()))
        })
        .await?
}

async fn release_permanent(sb: &Sandbox, app_id: &str) -> Result<(), StoreError> {
    sb.docs
        .update(app_id, PERMANENT_COUNT, COUNT_KEY, |c: Option<Count>| {
            let c = c.unwrap_or_default();
            Ok::<_, ()>((
                Count {
                    count: c.count.saturating_sub(1),
                },
                (),
            ))
        })
        .await
        .map(|_| ())
}

/// Makes a code for an app as `qrcode/create` would, without the API's gate (token, quota,
/// rights): for data set up before any server runs (the product's demo). A scene string
/// when `is_str`; permanent when `expire_seconds` is `None`. Returns (ticket, url).
pub async fn create_for_app(
    sb: &Sandbox,
    app_id: &str,
    scene: &str,
    is_str: bool,
    expire_seconds: Option<i64>,
) -> Result<(String, String), WxError> {
    match expire_seconds {
        Some(seconds) => {
            let expires_at = sb.now_ms() + seconds * 1000;
            new_ticket(sb, app_id, scene, Some(expires_at)).await
        }
        None => {
            let wanted = Wanted {
                scene: scene.to_string(),
                expire_seconds: None,
                is_str,
            };
            permanent_ticket(sb, app_id, &wanted).await
        }
    }
}

/// The app, scene and permanence of a live ticket, for the phone simulator's scan (which
/// sends `subscribe` with `EventKey` `qrscene_{scene}`, or `SCAN` with the scene).
pub async fn scene_of_ticket(
    sb: &Sandbox,
    ticket: &str,
) -> Result<Option<(String, String, bool)>, StoreError> {
    Ok(live_ticket(sb, ticket)
        .await?
        .map(|t| (t.app_id, t.scene, t.permanent)))
}

/// A live code of an app, for the phone simulator's scan sheet.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct LiveCode {
    pub ticket: String,
    pub scene: String,
    pub permanent: bool,
    /// When a temporary code stops working (ms); `None` for permanent codes.
    pub expires_at: Option<i64>,
    /// What the code holds (`http://weixin.qq.com/q/…`).
    pub url: String,
}

/// How many of the newest tickets (of every app) [`live_codes`] looks through for an app's
/// temporary codes: tickets are keyed by themselves, not by app.
const RECENT_TICKETS: usize = 2_000;

/// The app's live codes, newest first, at most `limit`: its temporary codes among the newest
/// tickets, then its permanent codes.
pub async fn live_codes(
    sb: &Sandbox,
    app_id: &str,
    limit: usize,
) -> Result<Vec<LiveCode>, StoreError> {
    let now = sb.now_ms();
    let recent: Vec<(String, Ticket)> = sb.docs.newest(GLOBAL, TICKETS, RECENT_TICKETS).await?;
    let mut codes: Vec<LiveCode> = recent
        .into_iter()
        .filter(|(_, t)| t.app_id == app_id && t.expires_at.is_none_or(|at| now < at))
        .map(|(ticket, t)| LiveCode {
            ticket,
            scene: t.scene,
            permanent: t.permanent,
            expires_at: t.expires_at,
            url: t.url,
        })
        .take(limit)
        .collect();
    let permanent: Vec<(String, (String, String))> =
        sb.docs.newest(app_id, PERMANENT, limit).await?;
    for (key, (ticket, url)) in permanent {
        if codes.len() >= limit {
            break;
        }
        if codes.iter().any(|c| c.ticket == ticket) {
            continue;
        }
        let scene = key.split_once(':').map_or(key.as_str(), |(_, s)| s);
        codes.push(LiveCode {
            ticket,
            scene: scene.to_string(),
            permanent: true,
            expires_at: None,
            url,
        });
    }
    Ok(codes)
}

async fn live_ticket(sb: &Sandbox, ticket: &str) -> Result<Option<Ticket>, StoreError> {
    let found: Option<Ticket> = sb.docs.get(GLOBAL, TICKETS, ticket).await?;
    let now = sb.now_ms();
    Ok(found.filter(|t| t.expires_at.is_none_or(|at| now < at)))
}

#[derive(Deserialize)]
struct ShowQuery {
    ticket: Option<String>,
}

/// `GET /cgi-bin/showqrcode?ticket=`.
async fn show(State(sb): State<Sandbox>, Query(q): Query<ShowQuery>) -> Response {
    let ticket = q.ticket.unwrap_or_default();
    let found = match live_ticket(&sb, &ticket).await {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "showqrcode lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let Some(found) = found else {
        return (StatusCode::NOT_FOUND, "qrcode not found or expired").into_response();
    };
    match qr_png(&found.url) {
        Ok(png) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "QR image failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// A greyscale PNG of the QR code holding `text`, about as large as WeChat's.
pub fn qr_png(text: &str) -> Result<Vec<u8>, String> {
    let code = ::qrcode::QrCode::new(text.as_bytes()).map_err(|e| e.to_string())?;
    let modules = code.width();
    let dark = code.to_colors();
    let side_modules = modules + 2 * QUIET_ZONE;
    let scale = (IMAGE_SIDE / side_modules).max(1);
    let side = side_modules * scale;
    let is_dark = |x: usize, y: usize| {
        let (mx, my) = (x / scale, y / scale);
        (QUIET_ZONE..QUIET_ZONE + modules).contains(&mx)
            && (QUIET_ZONE..QUIET_ZONE + modules).contains(&my)
            && dark[(my - QUIET_ZONE) * modules + (mx - QUIET_ZONE)] == ::qrcode::Color::Dark
    };
    let pixels: Vec<u8> = (0..side)
        .flat_map(|y| (0..side).map(move |x| (x, y)))
        .map(|(x, y)| if is_dark(x, y) { 0 } else { 255 })
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&pixels)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(v: Value) -> CreateRequest {
        serde_json::from_value(v).expect("request")
    }

    #[test]
    fn scenes_and_lifetimes_are_checked_in_wechats_order() {
        let ok = check(&request(json!({"action_name": "QR_SCENE",
            "action_info": {"scene": {"scene_id": 123}}})));
        assert_eq!(
            ok,
            Ok(Wanted {
                scene: "123".into(),
                expire_seconds: Some(60),
                is_str: false
            })
        );
        let code = |v: Value| check(&request(v)).map_err(|e| e.errcode).err();
        assert_eq!(code(json!({"action_name": "QR_X"})), Some(40052));
        assert_eq!(code(json!({"action_name": "QR_SCENE"})), Some(40053));
        assert_eq!(
            code(json!({"action_name": "QR_SCENE", "action_info": {"scene": {"scene_id": 0}}})),
            Some(40053)
        );
        assert_eq!(
            code(json!({"action_name": "QR_LIMIT_SCENE",
                "action_info": {"scene": {"scene_id": 100_001}}})),
            Some(40053)
        );
        assert_eq!(
            code(
                json!({"action_name": "QR_STR_SCENE", "expire_seconds": 2_592_001,
                "action_info": {"scene": {"scene_str": "a"}}})
            ),
            Some(40097)
        );
        assert_eq!(
            code(json!({"action_name": "QR_LIMIT_STR_SCENE",
                "action_info": {"scene": {"scene_str": "x".repeat(65)}}})),
            Some(40053)
        );
        assert_eq!(
            code(json!({"action_name": "QR_SCENE", "expire_seconds": "600",
                "action_info": {"scene": {"scene_id": "4294967295"}}})),
            None
        );
    }

    #[test]
    fn tickets_hold_the_url_as_wechats_do() {
        let url = "http://weixin.qq.com/q/02abcdefghijklmnopqrst";
        let ticket = encode_ticket(url, 1_700_000_000, Some(1_700_000_060_000));
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&ticket)
            .expect("base64");
        assert!(raw.windows(url.len()).any(|w| w == url.as_bytes()));
        assert!(ticket.starts_with("gQ"));
    }
}
