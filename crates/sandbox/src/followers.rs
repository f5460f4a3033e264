//! Simulated followers: they act towards the merchant's callback exactly as WeChat does —
//! sign (and in safe mode encrypt) per the app's mode, POST, wait at most 5 s, retry up to 3
//! times, and read the passive reply — and a scriptable JSON API to drive them.

use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Sandbox;
use crate::datacube;
use crate::error::{WxError, WxResult};
use crate::registry::{SandboxApp, StoreError};

/// WeChat waits this long for an answer before it retries.
pub const WECHAT_WAIT: Duration = Duration::from_secs(5);
/// WeChat delivers a message at most this many times.
pub const MAX_DELIVERIES: u32 = 3;
/// Followers made by one call.
pub const MAX_BATCH: usize = 100_000;

pub fn router() -> Router<Sandbox> {
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
#[derive(Clone, Debug, Deserialize, Serialize, utoipa::ToSchema)]
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
    /// The location report event (`LOCATION`), as when the follower enters the chat.
    Location {
        latitude: f64,
        longitude: f64,
    },
    /// A location sent as a chat message (`MsgType` `location`).
    SendLocation {
        latitude: f64,
        longitude: f64,
        #[serde(default = "default_scale")]
        scale: u32,
        #[serde(default)]
        label: String,
    },
    Image {
        #[serde(default)]
        pic_url: Option<String>,
    },
    Voice {
        /// What WeChat's speech recognition heard, when the account turned it on.
        #[serde(default)]
        recognition: Option<String>,
    },
    Video {
        #[serde(default)]
        short: bool,
    },
    Link {
        title: String,
        #[serde(default)]
        description: String,
        url: String,
    },
    /// A `scancode_push` or `scancode_waitmsg` menu button: WeChat scanned `scan_result`.
    ScanCode {
        key: String,
        scan_result: String,
        #[serde(default)]
        wait_for_message: bool,
    },
    /// A `pic_sysphoto` / `pic_photo_or_album` / `pic_weixin` menu button.
    SendPictures {
        key: String,
        /// `pic_sysphoto`, `pic_photo_or_album` or `pic_weixin`.
        #[serde(default = "default_pic_button")]
        button: String,
        #[serde(default = "one")]
        count: u32,
    },
    /// A `location_select` menu button.
    SelectLocation {
        key: String,
        latitude: f64,
        longitude: f64,
        #[serde(default)]
        label: String,
        #[serde(default)]
        poiname: String,
    },
    /// A `miniprogram` menu button.
    ViewMiniProgram {
        pagepath: String,
    },
}

fn default_scale() -> u32 {
    15
}

fn default_pic_button() -> String {
    "pic_photo_or_album".to_string()
}

fn one() -> u32 {
    1
}

/// A media id of WeChat's shape for what a follower sends (WeChat keeps it 3 days).
fn follower_media_id(seed: u64) -> String {
    format!("sandbox_media_{seed:016x}")
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
    let message = |msg_type: &str, rest: String| {
        format!(
            "{head}<MsgType>{}</MsgType>{rest}<MsgId>{msg_id}</MsgId></xml>",
            cdata(msg_type)
        )
    };
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
        Action::Text { content } => {
            message("text", format!("<Content>{}</Content>", cdata(content)))
        }
        Action::SendLocation {
            latitude,
            longitude,
            scale,
            label,
        } => message(
            "location",
            format!(
                "<Location_X>{latitude}</Location_X><Location_Y>{longitude}</Location_Y><Scale>{scale}</Scale><Label>{}</Label>",
                cdata(label)
            ),
        ),
        Action::Image { pic_url } => message(
            "image",
            format!(
                "<PicUrl>{}</PicUrl><MediaId>{}</MediaId>",
                cdata(
                    pic_url
                        .as_deref()
                        .unwrap_or("http://mmbiz.qpic.cn/sandbox/0")
                ),
                cdata(&follower_media_id(msg_id))
            ),
        ),
        Action::Voice { recognition } => message(
            "voice",
            format!(
                "<MediaId>{}</MediaId><Format>{}</Format>{}",
                cdata(&follower_media_id(msg_id)),
                cdata("amr"),
                recognition
                    .as_ref()
                    .map(|r| format!("<Recognition>{}</Recognition>", cdata(r)))
                    .unwrap_or_default()
            ),
        ),
        Action::Video { short } => message(
            if *short { "shortvideo" } else { "video" },
            format!(
                "<MediaId>{}</MediaId><ThumbMediaId>{}</ThumbMediaId>",
                cdata(&follower_media_id(msg_id)),
                cdata(&follower_media_id(msg_id ^ 1))
            ),
        ),
        Action::Link {
            title,
            description,
            url,
        } => message(
            "link",
            format!(
                "<Title>{}</Title><Description>{}</Description><Url>{}</Url>",
                cdata(title),
                cdata(description),
                cdata(url)
            ),
        ),
        Action::ScanCode {
            key,
            scan_result,
            wait_for_message,
        } => event(
            if *wait_for_message {
                "scancode_waitmsg"
            } else {
                "scancode_push"
            },
            format!(
                "<EventKey>{}</EventKey><ScanCodeInfo><ScanType>{}</ScanType><ScanResult>{}</ScanResult></ScanCodeInfo>",
                cdata(key),
                cdata("qrcode"),
                cdata(scan_result)
            ),
        ),
        Action::SendPictures { key, button, count } => {
            let items: String = (0..*count)
                .map(|i| {
                    format!(
                        "<item><PicMd5Sum>{}</PicMd5Sum></item>",
                        cdata(&format!("{:032x}", u128::from(msg_id) + u128::from(i)))
                    )
                })
                .collect();
            event(
                button,
                format!(
                    "<EventKey>{}</EventKey><SendPicsInfo><Count>{count}</Count><PicList>{items}</PicList></SendPicsInfo>",
                    cdata(key)
                ),
            )
        }
        Action::SelectLocation {
            key,
            latitude,
            longitude,
            label,
            poiname,
        } => event(
            "location_select",
            format!(
                "<EventKey>{}</EventKey><SendLocationInfo><Location_X>{latitude}</Location_X><Location_Y>{longitude}</Location_Y><Scale>15</Scale><Label>{}</Label><Poiname>{}</Poiname></SendLocationInfo>",
                cdata(key),
                cdata(label),
                cdata(poiname)
            ),
        ),
        Action::ViewMiniProgram { pagepath } => event(
            "view_miniprogram",
            format!("<EventKey>{}</EventKey>", cdata(pagepath)),
        ),
    }
}

/// What happened to one delivery, as the follower saw it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
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

/// Documents of this kind, keyed by openid, hold what WeChat knows of each follower.
pub const KIND: &str = "follower";

/// A follower as WeChat knows them: subscription, where they came from, the merchant's remark
/// and tags, and the profile WeChat shares only through web authorization.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Follower {
    pub subscribe: bool,
    /// Seconds since the epoch of the latest follow.
    pub subscribe_time: i64,
    /// When the sandbox made this follower (ms).
    pub created_at: i64,
    #[serde(default)]
    pub unsubscribe_time: Option<i64>,
    /// `ADD_SCENE_QR_CODE`, `ADD_SCENE_SEARCH`, `ADD_SCENE_OTHERS`, …
    #[serde(default)]
    pub subscribe_scene: String,
    #[serde(default)]
    pub qr_scene: i64,
    #[serde(default)]
    pub qr_scene_str: String,
    #[serde(default)]
    pub remark: String,
    #[serde(default)]
    pub tagid_list: Vec<i64>,
    #[serde(default)]
    pub blacklisted: bool,
    #[serde(default)]
    pub profile: Profile,
}

/// What web authorization (snsapi_userinfo) reveals; WeChat no longer gives gender or region
/// through the user API.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Profile {
    #[serde(default)]
    pub nickname: String,
    #[serde(default)]
    pub headimgurl: String,
    /// 0 unknown, 1 male, 2 female.
    #[serde(default)]
    pub sex: u8,
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub country: String,
    #[serde(default = "default_language")]
    pub language: String,
}

fn default_language() -> String {
    "zh_CN".to_string()
}

pub async fn follower(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
) -> Result<Option<Follower>, StoreError> {
    sb.docs.get(app_id, KIND, openid).await
}

/// Changes a follower who exists; `Ok(None)` when there is no such follower.
pub async fn update<R>(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    change: impl Fn(&mut Follower) -> R,
) -> Result<Option<R>, StoreError> {
    let changed = sb
        .docs
        .update(app_id, KIND, openid, |f: Option<Follower>| match f {
            Some(mut f) => {
                let r = change(&mut f);
                Ok((f, r))
            }
            None => Err(()),
        })
        .await?;
    Ok(changed.ok())
}

/// Records what an action does to the follower's subscription before WeChat delivers it:
/// WeChat follows and unfollows whatever the merchant's server answers.
fn apply_action(f: &mut Follower, action: &Action, now_ms: i64) {
    match action {
        Action::Follow { scene } => {
            f.subscribe = true;
            f.subscribe_time = now_ms / 1000;
            f.unsubscribe_time = None;
            match scene {
                Some(s) => {
                    f.subscribe_scene = "ADD_SCENE_QR_CODE".into();
                    match s.parse::<i64>() {
                        Ok(id) => {
                            f.qr_scene = id;
                            f.qr_scene_str.clear();
                        }
                        Err(_) => {
                            f.qr_scene = 0;
                            f.qr_scene_str = s.clone();
                        }
                    }
                }
                None => f.subscribe_scene = "ADD_SCENE_SEARCH".into(),
            }
        }
        Action::Unfollow => {
            f.subscribe = false;
            f.unsubscribe_time = Some(now_ms / 1000);
        }
        _ => {}
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateFollowers {
    /// How many followers to make (1–100,000).
    pub count: usize,
    /// Whether they already follow the account (default: yes). Others can `follow` later.
    #[serde(default = "yes")]
    pub subscribed: bool,
    /// Profiles for web authorization, given to the first followers in order.
    #[serde(default)]
    pub profiles: Vec<Profile>,
}

fn yes() -> bool {
    true
}

/// New simulated followers' openids, in the order they were made.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Openids {
    pub openids: Vec<String>,
}

/// `POST /api/apps/{app_id}/followers {"count": n}` → `{"openids": [...]}`.
#[utoipa::path(post, path = "/api/apps/{app_id}/followers", tag = "sandbox",
    summary = "Create simulated followers (1–100,000 at once)",
    params(("app_id" = String, Path, description = "The sandbox account's AppID")),
    request_body = CreateFollowers,
    responses((status = 200, body = Openids), (status = 404, body = crate::error::WxErrorBody),
        (status = 400, body = crate::error::WxErrorBody)))]
pub(crate) async fn create_followers(
    State(sb): State<Sandbox>,
    Path(app_id): Path<String>,
    Json(req): Json<CreateFollowers>,
) -> WxResult {
    crate::known_app(&sb, &app_id).await?;
    if !(1..=MAX_BATCH).contains(&req.count) {
        return Err(
            WxError::new(40097, "count must be 1..=100000").with_status(StatusCode::BAD_REQUEST)
        );
    }
    let now = sb.now_ms();
    let mut profiles = req.profiles.into_iter();
    let docs: Vec<(String, Follower)> = (0..req.count)
        .map(|_| {
            let f = Follower {
                subscribe: req.subscribed,
                subscribe_time: if req.subscribed { now / 1000 } else { 0 },
                created_at: now,
                subscribe_scene: if req.subscribed {
                    "ADD_SCENE_OTHERS".into()
                } else {
                    String::new()
                },
                profile: profiles.next().unwrap_or_else(|| Profile {
                    language: default_language(),
                    ..Profile::default()
                }),
                ..Follower::default()
            };
            (new_openid(), f)
        })
        .collect();
    sb.docs.insert_many(&app_id, KIND, &docs).await?;
    let openids: Vec<&String> = docs.iter().map(|(o, _)| o).collect();
    Ok(Json(json!({ "openids": openids })).into_response())
}

/// `GET /api/apps/{app_id}/followers` → the newest 100 followers' openids.
#[utoipa::path(get, path = "/api/apps/{app_id}/followers", tag = "sandbox",
    summary = "The newest 100 simulated followers",
    params(("app_id" = String, Path, description = "The sandbox account's AppID")),
    responses((status = 200, body = Openids), (status = 404, body = crate::error::WxErrorBody)))]
pub(crate) async fn list_followers(
    State(sb): State<Sandbox>,
    Path(app_id): Path<String>,
) -> WxResult {
    crate::known_app(&sb, &app_id).await?;
    let newest: Vec<(String, Follower)> = sb.docs.newest(&app_id, KIND, 100).await?;
    let openids: Vec<String> = newest.into_iter().map(|(o, _)| o).collect();
    Ok(Json(json!({ "openids": openids })).into_response())
}

/// `POST /api/apps/{app_id}/followers/{openid}/actions {"type": "text", "content": "hi"}` →
/// what the follower got back.
#[utoipa::path(post, path = "/api/apps/{app_id}/followers/{openid}/actions", tag = "sandbox",
    summary = "Make a simulated follower act: WeChat delivers it to the callback",
    description = "Follow, unfollow, send any message type, click a menu button, scan a QR \
        scene or report a location. WeChat's delivery rules apply (sign and encrypt per the \
        account's mode, wait at most 5 s, up to 3 deliveries); the answer is what the follower \
        got back.",
    params(("app_id" = String, Path), ("openid" = String, Path)),
    request_body = Action,
    responses((status = 200, body = Delivery), (status = 404, body = crate::error::WxErrorBody),
        (status = 409, body = crate::error::WxErrorBody, description = "43004: not following")))]
pub(crate) async fn act(
    State(sb): State<Sandbox>,
    Path((app_id, openid)): Path<(String, String)>,
    Json(action): Json<Action>,
) -> WxResult {
    let app = crate::known_app(&sb, &app_id).await?;
    let now = sb.now_ms();
    let follows = update(&sb, &app_id, &openid, |f| {
        let was = f.subscribe;
        // Someone who does not follow can only follow; anything else changes nothing.
        if was || matches!(action, Action::Follow { .. }) {
            apply_action(f, &action, now);
        }
        was
    })
    .await?;
    match follows {
        None => return Err(WxError::invalid_openid().with_status(StatusCode::NOT_FOUND)),
        Some(false) if !matches!(action, Action::Follow { .. }) => {
            return Err(WxError::new(43004, "require subscribe").with_status(StatusCode::CONFLICT));
        }
        Some(_) => {}
    }
    crate::custom::record_action(&sb, &app_id, &openid, &action).await?;
    let msg_id: u64 = rand::random::<u64>() >> 1;
    let xml = message_xml(&app, &openid, &action, now / 1000, msg_id);
    let delivery = deliver(&sb.http, &app, &xml).await;
    datacube::record_action(&sb, &app_id, &openid, &action, follows, &delivery, now).await;
    Ok(Json(delivery).into_response())
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
            kind: "service".into(),
            verified: true,
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
            Action::SendLocation {
                latitude: 31.2,
                longitude: 121.5,
                scale: 15,
                label: "上海".into(),
            },
            Action::Image { pic_url: None },
            Action::Voice {
                recognition: Some("你好".into()),
            },
            Action::Video { short: true },
            Action::Video { short: false },
            Action::Link {
                title: "t".into(),
                description: "d".into(),
                url: "https://example.com".into(),
            },
            Action::ScanCode {
                key: "scan".into(),
                scan_result: "https://example.com/x".into(),
                wait_for_message: true,
            },
            Action::SendPictures {
                key: "pics".into(),
                button: "pic_weixin".into(),
                count: 2,
            },
            Action::SelectLocation {
                key: "where".into(),
                latitude: 39.9,
                longitude: 116.4,
                label: "北京".into(),
                poiname: String::new(),
            },
            Action::ViewMiniProgram {
                pagepath: "pages/index".into(),
            },
        ] {
            let xml = message_xml(&a, "oX", &action, 1_700_000_000, 9);
            let m = wechat::Message::parse(&xml).expect("parses");
            assert_eq!(m.from_user_name, "oX");
            let typed_as_sent = match (&action, &m.body) {
                (Action::Image { .. }, wechat::MessageBody::Image(_))
                | (Action::Voice { .. }, wechat::MessageBody::Voice(_))
                | (Action::Video { short: false }, wechat::MessageBody::Video(_))
                | (Action::Video { short: true }, wechat::MessageBody::ShortVideo(_))
                | (Action::Link { .. }, wechat::MessageBody::Link(_))
                | (Action::SendLocation { .. }, wechat::MessageBody::Location(_)) => true,
                (_, wechat::MessageBody::Event(e)) => {
                    !matches!(e, wechat::message::Event::Other { .. })
                }
                (_, wechat::MessageBody::Text(_)) => true,
                _ => false,
            };
            assert!(typed_as_sent, "{action:?} parsed as {:?}", m.body);
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
