//! Simulated followers: they act towards the merchant's callback exactly as WeChat does —
//! sign (and in safe mode encrypt) per the app's mode, POST, wait at most 5 s, retry up to 3
//! times, and read the passive reply — and a scriptable JSON API to drive them.

use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{SandboxApp, SharedRegistry};

/// WeChat waits this long for an answer before it retries.
pub const WECHAT_WAIT: Duration = Duration::from_secs(5);
/// WeChat delivers a message at most this many times.
pub const MAX_DELIVERIES: u32 = 3;
/// Followers made by one call.
pub const MAX_BATCH: usize = 100_000;

pub fn router() -> Router<SharedRegistry> {
    Router::new()
        .route(
            "/api/apps/{app_id}/followers",
            post(create_followers).get(list_followers),
        )
        .route("/api/apps/{app_id}/followers/{openid}/actions", post(act))
}

/// An openid of WeChat's shape: `o` and 27 characters of URL-safe base64.
pub fn new_openid() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    let tail: String = (0..27)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    format!("o{tail}")
}

/// What a follower does.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Action {
    Follow {
        /// A parametric QR code's scene, when a code brought them.
        #[serde(default)]
        scene: Option<String>,
    },
    Unfollow,
    Text {
        content: String,
    },
    Click {
        key: String,
    },
    View {
        url: String,
    },
    Scan {
        scene: String,
    },
    Location {
        latitude: f64,
        longitude: f64,
    },
}

fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

/// The message WeChat would send for `action`.
pub fn message_xml(
    app: &SandboxApp,
    openid: &str,
    action: &Action,
    create_time: i64,
    msg_id: u64,
) -> String {
    let head = format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime>",
        cdata(&app.original_id()),
        cdata(openid)
    );
    let event = |name: &str, rest: String| {
        format!(
            "{head}<MsgType><![CDATA[event]]></MsgType><Event>{}</Event>{rest}</xml>",
            cdata(name)
        )
    };
    match action {
        Action::Follow { scene } => event(
            "subscribe",
            scene
                .as_ref()
                .map(|s| {
                    format!(
                        "<EventKey>{}</EventKey><Ticket>{}</Ticket>",
                        cdata(&format!("qrscene_{s}")),
                        cdata("sandbox-ticket")
                    )
                })
                .unwrap_or_default(),
        ),
        Action::Unfollow => event("unsubscribe", String::new()),
        Action::Click { key } => event("CLICK", format!("<EventKey>{}</EventKey>", cdata(key))),
        Action::View { url } => event("VIEW", format!("<EventKey>{}</EventKey>", cdata(url))),
        Action::Scan { scene } => event(
            "SCAN",
            format!(
                "<EventKey>{}</EventKey><Ticket>{}</Ticket>",
                cdata(scene),
                cdata("sandbox-ticket")
            ),
        ),
        Action::Location {
            latitude,
            longitude,
        } => event(
            "LOCATION",
            format!(
                "<Latitude>{latitude}</Latitude><Longitude>{longitude}</Longitude><Precision>30.0</Precision>"
            ),
        ),
        Action::Text { content } => format!(
            "{head}<MsgType><![CDATA[text]]></MsgType><Content>{}</Content><MsgId>{msg_id}</MsgId></xml>",
            cdata(content)
        ),
    }
}

/// What happened to one delivery, as the follower saw it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Delivery {
    /// The passive reply, decrypted (`success` or empty when nothing was shown).
    pub reply: Option<String>,
    /// How many times the message was sent (1 unless the callback was slow or failed).
    pub attempts: u32,
    /// The status of the last attempt; `None` when it timed out or could not connect.
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    /// Why the follower saw nothing, when it saw nothing.
    pub error: Option<String>,
}

fn endpoint_of(app: &SandboxApp) -> Result<wechat::Endpoint, String> {
    let mode = match app.security_mode.as_str() {
        "plaintext" => wechat::SecurityMode::Plaintext,
        "compatible" => wechat::SecurityMode::Compatible,
        _ => wechat::SecurityMode::Safe,
    };
    wechat::Endpoint::official_account(mode, &app.token, Some(&app.encoding_aes_key), &app.app_id)
        .map_err(|e| e.to_string())
}

/// Sends `message_xml` to the app's callback as WeChat does and reads the reply.
pub async fn deliver(http: &reqwest::Client, app: &SandboxApp, message_xml: &str) -> Delivery {
    let started = Instant::now();
    let endpoint = match endpoint_of(app) {
        Ok(e) => e,
        Err(e) => return failed(0, None, started, e),
    };
    let timestamp = (unix_ms() / 1000).to_string();
    let nonce: String = format!("{}", rand::random::<u32>());
    let random: [u8; 16] = rand::random();
    let signed = match endpoint.sign_request(message_xml, &timestamp, &nonce, &random) {
        Ok(s) => s,
        Err(e) => return failed(0, None, started, e.to_string()),
    };
    let url = format!("{}?{}", app.callback_url, signed.query);
    let mut last_status = None;
    let mut last_error = String::new();
    for attempt in 1..=MAX_DELIVERIES {
        let sent = http
            .post(&url)
            .header("content-type", "text/xml")
            .body(signed.body.clone())
            .timeout(WECHAT_WAIT)
            .send()
            .await;
        match sent {
            Ok(res) if res.status().is_success() => {
                let status = res.status().as_u16();
                let body = res.text().await.unwrap_or_default();
                return match endpoint.open_reply(&body) {
                    Ok(reply) => Delivery {
                        reply: Some(reply.into_owned()),
                        attempts: attempt,
                        status: Some(status),
                        elapsed_ms: started.elapsed().as_millis() as u64,
                        error: None,
                    },
                    Err(e) => failed(
                        attempt,
                        Some(status),
                        started,
                        format!("unreadable reply: {e}"),
                    ),
                };
            }
            Ok(res) => {
                last_status = Some(res.status().as_u16());
                last_error = format!("HTTP {}", res.status().as_u16());
            }
            Err(e) => {
                last_status = None;
                last_error = if e.is_timeout() {
                    "no answer within 5 s".to_string()
                } else {
                    e.without_url().to_string()
                };
            }
        }
    }
    failed(MAX_DELIVERIES, last_status, started, last_error)
}

fn failed(attempts: u32, status: Option<u16>, started: Instant, error: String) -> Delivery {
    Delivery {
        reply: None,
        attempts,
        status,
        elapsed_ms: started.elapsed().as_millis() as u64,
        error: Some(error),
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn wechat_error(status: StatusCode, errcode: i64, errmsg: &str) -> Response {
    (
        status,
        Json(json!({ "errcode": errcode, "errmsg": errmsg })),
    )
        .into_response()
}

async fn app_or_error(registry: &SharedRegistry, app_id: &str) -> Result<SandboxApp, Response> {
    match registry.app(app_id).await {
        Ok(Some(app)) => Ok(app),
        Ok(None) => Err(wechat_error(StatusCode::NOT_FOUND, 40013, "invalid appid")),
        Err(_) => Err(wechat_error(
            StatusCode::SERVICE_UNAVAILABLE,
            -1,
            "system error",
        )),
    }
}

#[derive(Deserialize)]
struct CreateFollowers {
    count: usize,
}

/// `POST /api/apps/{app_id}/followers {"count": n}` → `{"openids": [...]}`.
async fn create_followers(
    State(registry): State<SharedRegistry>,
    Path(app_id): Path<String>,
    Json(req): Json<CreateFollowers>,
) -> Response {
    if let Err(res) = app_or_error(&registry, &app_id).await {
        return res;
    }
    if !(1..=MAX_BATCH).contains(&req.count) {
        return wechat_error(StatusCode::BAD_REQUEST, 40097, "count must be 1..=100000");
    }
    let openids: Vec<String> = (0..req.count).map(|_| new_openid()).collect();
    match registry.add_followers(&app_id, &openids).await {
        Ok(()) => Json(json!({ "openids": openids })).into_response(),
        Err(_) => wechat_error(StatusCode::SERVICE_UNAVAILABLE, -1, "system error"),
    }
}

/// `GET /api/apps/{app_id}/followers` → the newest 100 followers' openids.
async fn list_followers(
    State(registry): State<SharedRegistry>,
    Path(app_id): Path<String>,
) -> Response {
    if let Err(res) = app_or_error(&registry, &app_id).await {
        return res;
    }
    match registry.list_followers(&app_id, 100).await {
        Ok(openids) => Json(json!({ "openids": openids })).into_response(),
        Err(_) => wechat_error(StatusCode::SERVICE_UNAVAILABLE, -1, "system error"),
    }
}

/// `POST /api/apps/{app_id}/followers/{openid}/actions {"type": "text", "content": "hi"}` →
/// what the follower got back.
async fn act(
    State(registry): State<SharedRegistry>,
    Path((app_id, openid)): Path<(String, String)>,
    Json(action): Json<Action>,
) -> Response {
    let app = match app_or_error(&registry, &app_id).await {
        Ok(app) => app,
        Err(res) => return res,
    };
    match registry.has_follower(&app_id, &openid).await {
        Ok(true) => {}
        Ok(false) => return wechat_error(StatusCode::NOT_FOUND, 40003, "invalid openid"),
        Err(_) => return wechat_error(StatusCode::SERVICE_UNAVAILABLE, -1, "system error"),
    }
    let now = unix_ms();
    let msg_id: u64 = rand::random::<u64>() >> 1;
    let xml = message_xml(&app, &openid, &action, now / 1000, msg_id);
    let http = reqwest::Client::new();
    Json(deliver(&http, &app, &xml).await).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> SandboxApp {
        SandboxApp {
            app_id: "wx1234567890abcdef".into(),
            app_secret: "s".into(),
            token: "token123".into(),
            encoding_aes_key: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into(),
            security_mode: "safe".into(),
            callback_url: "http://127.0.0.1:1/wx/x".into(),
        }
    }

    #[test]
    fn openids_have_wechats_shape() {
        let o = new_openid();
        assert_eq!(o.len(), 28);
        assert!(o.starts_with('o'));
        assert_ne!(o, new_openid());
    }

    #[test]
    fn every_action_makes_a_message_the_protocol_crate_reads() {
        let a = app();
        for action in [
            Action::Follow {
                scene: Some("poster".into()),
            },
            Action::Unfollow,
            Action::Text {
                content: "你好 ]]> <b>".into(),
            },
            Action::Click { key: "K".into() },
            Action::View {
                url: "https://example.com".into(),
            },
            Action::Scan { scene: "7".into() },
            Action::Location {
                latitude: 31.2,
                longitude: 121.5,
            },
        ] {
            let xml = message_xml(&a, "oX", &action, 1_700_000_000, 9);
            let m = wechat::Message::parse(&xml).expect("parses");
            assert_eq!(m.from_user_name, "oX");
        }
        let xml = message_xml(
            &a,
            "oX",
            &Action::Text {
                content: "a ]]> b".into(),
            },
            1,
            2,
        );
        match wechat::Message::parse(&xml).expect("parses").body {
            wechat::MessageBody::Text(t) => assert_eq!(t.content, "a ]]> b"),
            other => panic!("not text: {other:?}"),
        }
    }
}
