//! Simulated followers: they act towards the merchant's callback exactly as WeChat does —
//! sign (and in safe mode encrypt) per the app's mode, POST, wait at most 5 s, retry up to 3
//! times, and read the passive reply — and a scriptable JSON API to drive them.

use std::time::{Duration, Instant};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

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
/// The `Ticket` of a scan that named a scene rather than a real code's ticket.
pub const PLACEHOLDER_TICKET: &str = "sandbox-ticket";

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route(
            "/api/apps/{app_id}/followers",
            post(create_followers).get(list_followers),
        )
        .route("/api/apps/{app_id}/followers/{openid}/actions", post(act))
        .route(
            "/api/apps/{app_id}/followers/{openid}/menu",
            get(follower_menu),
        )
        .route("/api/apps/{app_id}/qrcodes", get(list_qrcodes))
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
    message_xml_with_ticket(app, openid, action, None, create_time, msg_id)
}

/// [`message_xml`], with the ticket of the QR code scanned for a `subscribe` with a scene or a
/// `SCAN` (a placeholder ticket when the scan named only a scene).
pub fn message_xml_with_ticket(
    app: &SandboxApp,
    openid: &str,
    action: &Action,
    ticket: Option<&str>,
    create_time: i64,
    msg_id: u64,
) -> String {
    let ticket = ticket.unwrap_or(PLACEHOLDER_TICKET);
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
                        cdata(ticket)
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
                cdata(ticket)
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

/// Followers a list shows unless it asks for another number, and the most it shows.
pub const DEFAULT_LIST: usize = 100;
pub const MAX_LIST: usize = 500;
/// How many of the most recently created followers a list sorts and searches: a search
/// finds followers among these (and any follower by their exact openid).
pub const LIST_WINDOW: usize = 5_000;

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    /// Part of a nickname or openid (any case).
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    limit: Option<usize>,
}

/// A follower as a list shows them.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Listed {
    pub openid: String,
    /// From the profile (empty when the follower has none).
    pub nickname: String,
    pub headimgurl: String,
    pub subscribe: bool,
    /// When the sandbox made this follower (ms).
    pub created_at: i64,
    /// Seconds since the epoch of the latest follow (0 if never).
    pub subscribe_time: i64,
    pub remark: String,
}

impl Listed {
    fn of(openid: String, f: Follower) -> Listed {
        Listed {
            openid,
            nickname: f.profile.nickname,
            headimgurl: f.profile.headimgurl,
            subscribe: f.subscribe,
            created_at: f.created_at,
            subscribe_time: f.subscribe_time,
            remark: f.remark,
        }
    }

    fn matches(&self, needle: &str) -> bool {
        self.openid.to_lowercase().contains(needle)
            || self.nickname.to_lowercase().contains(needle)
            || self.remark.to_lowercase().contains(needle)
    }
}

/// The newest followers, with their nicknames and whether they follow.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FollowerList {
    /// Newest first (by when the sandbox made them).
    pub followers: Vec<Listed>,
    /// The same followers' openids, in the same order.
    pub openids: Vec<String>,
    /// Every follower the app has, matching or not.
    pub total: u64,
}

/// `GET /api/apps/{app_id}/followers?q=&limit=` → the newest followers (100 unless `limit`
/// says otherwise, at most 500), optionally only those whose nickname, remark or openid
/// contains `q`.
#[utoipa::path(get, path = "/api/apps/{app_id}/followers", tag = "sandbox",
    summary = "The newest simulated followers, with nicknames; search by nickname or openid",
    description = "Newest first. `q` keeps followers whose nickname, remark or openid contains \
        it (any case), among the newest 5,000 and any follower whose openid it is.",
    params(("app_id" = String, Path, description = "The sandbox account's AppID"),
        ("q" = Option<String>, Query, description = "Part of a nickname, remark or openid"),
        ("limit" = Option<usize>, Query, description = "1–500, default 100")),
    responses((status = 200, body = FollowerList), (status = 404, body = crate::error::WxErrorBody)))]
pub(crate) async fn list_followers(
    State(sb): State<Sandbox>,
    Path(app_id): Path<String>,
    Query(q): Query<ListQuery>,
) -> WxResult {
    crate::known_app(&sb, &app_id).await?;
    let limit = q.limit.unwrap_or(DEFAULT_LIST).clamp(1, MAX_LIST);
    let needle =
        q.q.as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_lowercase);
    let window = if needle.is_some() {
        LIST_WINDOW
    } else {
        limit.max(DEFAULT_LIST)
    };
    let newest: Vec<(String, Follower)> = sb.docs.newest(&app_id, KIND, window).await?;
    let mut listed: Vec<Listed> = newest.into_iter().map(|(o, f)| Listed::of(o, f)).collect();
    // Bulk creation gives many followers one moment; the store's order breaks the tie.
    listed.sort_by_key(|l| std::cmp::Reverse(l.created_at));
    if let Some(needle) = &needle {
        listed.retain(|l| l.matches(needle));
        let exact = q.q.as_deref().map(str::trim).unwrap_or_default();
        if listed.is_empty()
            && let Some(f) = follower(&sb, &app_id, exact).await?
        {
            listed.push(Listed::of(exact.to_string(), f));
        }
    }
    listed.truncate(limit);
    let total = sb.docs.count(&app_id, KIND).await?;
    let openids = listed.iter().map(|l| l.openid.clone()).collect();
    Ok(Json(FollowerList {
        followers: listed,
        openids,
        total,
    })
    .into_response())
}

/// What `POST …/actions` takes: any [`Action`], or the scan of a real QR code.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ActRequest {
    ScanTicket(ScanTicket),
    Action(Action),
}

/// `{"type": "scan_ticket", "ticket": …}`: the follower scans the code of a ticket from
/// `/cgi-bin/qrcode/create`. One who does not follow follows (`subscribe` with `EventKey`
/// `qrscene_{scene}`); one who follows sends `SCAN` with the scene. Either carries the ticket.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct ScanTicket {
    /// Always `scan_ticket`.
    #[serde(rename = "type")]
    pub kind: String,
    pub ticket: String,
}

/// The body, read: an action, and for a ticket scan the ticket and its scene.
enum Request {
    Plain(Action),
    Ticket { ticket: String, scene: String },
}

impl Request {
    /// What the follower does, given whether they follow now.
    fn action(&self, follows: bool) -> Action {
        match self {
            Request::Plain(a) => a.clone(),
            Request::Ticket { scene, .. } if follows => Action::Scan {
                scene: scene.clone(),
            },
            Request::Ticket { scene, .. } => Action::Follow {
                scene: Some(scene.clone()),
            },
        }
    }

    fn ticket(&self) -> Option<&str> {
        match self {
            Request::Plain(_) => None,
            Request::Ticket { ticket, .. } => Some(ticket),
        }
    }
}

fn unreadable_action(e: impl std::fmt::Display) -> WxError {
    WxError::new(47001, format!("data format error: {e}"))
        .with_status(StatusCode::UNPROCESSABLE_ENTITY)
}

async fn read_request(sb: &Sandbox, app_id: &str, body: Value) -> Result<Request, WxError> {
    if body.get("type").and_then(Value::as_str) != Some("scan_ticket") {
        return serde_json::from_value(body)
            .map(Request::Plain)
            .map_err(unreadable_action);
    }
    let scan: ScanTicket = serde_json::from_value(body).map_err(unreadable_action)?;
    match crate::qrcode::scene_of_ticket(sb, &scan.ticket).await? {
        Some((owner, scene, _)) if owner == app_id => Ok(Request::Ticket {
            ticket: scan.ticket,
            scene,
        }),
        _ => Err(
            WxError::new(40097, "invalid args hint: [ticket unknown or expired]")
                .with_status(StatusCode::NOT_FOUND),
        ),
    }
}

/// `POST /api/apps/{app_id}/followers/{openid}/actions {"type": "text", "content": "hi"}` →
/// what the follower got back.
#[utoipa::path(post, path = "/api/apps/{app_id}/followers/{openid}/actions", tag = "sandbox",
    summary = "Make a simulated follower act: WeChat delivers it to the callback",
    description = "Follow, unfollow, send any message type, click a menu button, scan a QR \
        scene or a real code's ticket (`scan_ticket`: follow with `qrscene_…` when not \
        following, `SCAN` otherwise; the answer then also says which `event` and `scene`), or \
        report a location. WeChat's delivery rules apply (sign and encrypt per the account's \
        mode, wait at most 5 s, up to 3 deliveries); the answer is what the follower got back.",
    params(("app_id" = String, Path), ("openid" = String, Path)),
    request_body = ActRequest,
    responses((status = 200, body = Delivery), (status = 404, body = crate::error::WxErrorBody,
            description = "40003: no such follower; 40097: no such live ticket of the account"),
        (status = 409, body = crate::error::WxErrorBody, description = "43004: not following"),
        (status = 422, body = crate::error::WxErrorBody, description = "47001: no such action")))]
pub(crate) async fn act(
    State(sb): State<Sandbox>,
    Path((app_id, openid)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> WxResult {
    let app = crate::known_app(&sb, &app_id).await?;
    let request = read_request(&sb, &app_id, body).await?;
    let now = sb.now_ms();
    let done = update(&sb, &app_id, &openid, |f| {
        let was = f.subscribe;
        let action = request.action(was);
        // Someone who does not follow can only follow; anything else changes nothing.
        if was || matches!(action, Action::Follow { .. }) {
            apply_action(f, &action, now);
        }
        (was, action)
    })
    .await?;
    let (follows, action) = match done {
        None => return Err(WxError::invalid_openid().with_status(StatusCode::NOT_FOUND)),
        Some((false, action)) if !matches!(action, Action::Follow { .. }) => {
            return Err(WxError::new(43004, "require subscribe").with_status(StatusCode::CONFLICT));
        }
        Some(done) => done,
    };
    crate::custom::record_action(&sb, &app_id, &openid, &action).await?;
    let msg_id: u64 = rand::random::<u64>() >> 1;
    let xml = message_xml_with_ticket(&app, &openid, &action, request.ticket(), now / 1000, msg_id);
    let delivery = deliver(&sb.http, &app, &xml).await;
    datacube::record_action(
        &sb,
        &app_id,
        &openid,
        &action,
        Some(follows),
        &delivery,
        now,
    )
    .await;
    let mut answer = serde_json::to_value(&delivery).map_err(|_| WxError::system_busy())?;
    if let (Request::Ticket { scene, .. }, Some(fields)) = (&request, answer.as_object_mut()) {
        let event = match action {
            Action::Scan { .. } => "SCAN",
            _ => "subscribe",
        };
        fields.insert("event".into(), json!(event));
        fields.insert("scene".into(), json!(scene));
    }
    Ok(Json(answer).into_response())
}

/// `GET /api/apps/{app_id}/followers/{openid}/menu` → the menu this follower sees
/// (conditional menus respected): WeChat's `{button: […]}`, `menuid` when a conditional menu
/// matched, `{button: []}` when the account has none. `media_id` / `view_limited` buttons carry
/// the material they show (`articles` for news, else `media`), `article_id` /
/// `article_view_limited` buttons the published `articles`, as the phone shows their cards.
#[utoipa::path(get, path = "/api/apps/{app_id}/followers/{openid}/menu", tag = "sandbox",
    summary = "The custom menu a follower sees, with what its media and article buttons show",
    params(("app_id" = String, Path), ("openid" = String, Path)),
    responses((status = 200, body = crate::menus::MenuView),
        (status = 404, body = crate::error::WxErrorBody)))]
pub(crate) async fn follower_menu(
    State(sb): State<Sandbox>,
    Path((app_id, openid)): Path<(String, String)>,
    base: crate::media::BaseUrl,
) -> WxResult {
    crate::known_app(&sb, &app_id).await?;
    if follower(&sb, &app_id, &openid).await?.is_none() {
        return Err(WxError::invalid_openid().with_status(StatusCode::NOT_FOUND));
    }
    let Some(view) = crate::menus::menu_for(&sb, &app_id, &openid).await? else {
        return Ok(Json(json!({ "button": [] })).into_response());
    };
    let mut shown = serde_json::to_value(&view).map_err(|_| WxError::system_busy())?;
    if let Some(top) = shown.get_mut("button").and_then(Value::as_array_mut) {
        for button in top {
            attach_cards(&sb, &app_id, &base, button).await?;
            if let Some(subs) = button.get_mut("sub_button").and_then(Value::as_array_mut) {
                for sub in subs {
                    attach_cards(&sb, &app_id, &base, sub).await?;
                }
            }
        }
    }
    Ok(Json(shown).into_response())
}

/// Adds to a media or article button what tapping it shows.
async fn attach_cards(
    sb: &Sandbox,
    app_id: &str,
    base: &crate::media::BaseUrl,
    button: &mut Value,
) -> Result<(), WxError> {
    let text = |b: &Value, k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    match text(button, "type").as_deref() {
        Some("media_id" | "view_limited") => {
            let Some(media_id) = text(button, "media_id") else {
                return Ok(());
            };
            if let Some(draft) = crate::draft::draft(sb, app_id, &media_id).await? {
                // A draft's articles: their covers, and the preview pages WeChat shows.
                let mut cards = Vec::new();
                for (i, a) in draft.articles.iter().enumerate() {
                    cards.push(json!({
                        "title": a.title,
                        "description": a.digest,
                        "url": format!("{}/s/preview/{app_id}/{media_id}/{}", base.0, i + 1),
                        "picurl": cover_url(sb, app_id, &a.thumb_media_id).await?,
                    }));
                }
                button["articles"] = json!(cards);
            } else if let Some(articles) =
                crate::inbox::news_articles(sb, app_id, &media_id).await?
            {
                button["articles"] = json!(articles);
            } else if let Some(m) = crate::material::material(sb, app_id, &media_id).await? {
                button["media"] = json!({
                    "type": m.media_type,
                    "url": m.url,
                    "title": m.title,
                    "description": m.introduction,
                });
            }
        }
        Some("article_id" | "article_view_limited") => {
            let Some(article_id) = text(button, "article_id") else {
                return Ok(());
            };
            let Some(published) = crate::draft::publish::published(sb, app_id, &article_id).await?
            else {
                return Ok(());
            };
            let mut cards = Vec::new();
            for (i, a) in published.articles.iter().enumerate() {
                if published.deleted.get(i).copied().unwrap_or(false) {
                    continue;
                }
                cards.push(json!({
                    "title": a.title,
                    "description": a.digest,
                    "url": published.urls.get(i).cloned().unwrap_or_default(),
                    "picurl": cover_url(sb, app_id, &a.thumb_media_id).await?,
                }));
            }
            button["articles"] = json!(cards);
        }
        _ => {}
    }
    Ok(())
}

/// Where an article's cover (a permanent image) is served; empty when it is gone.
async fn cover_url(sb: &Sandbox, app_id: &str, media_id: &str) -> Result<String, StoreError> {
    Ok(crate::material::material(sb, app_id, media_id)
        .await?
        .map(|m| m.url)
        .unwrap_or_default())
}

/// The account's live QR codes, as the phone simulator's scan sheet lists them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct QrCodes {
    pub items: Vec<ListedCode>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ListedCode {
    #[serde(flatten)]
    pub code: crate::qrcode::LiveCode,
    /// The code's picture (`showqrcode`).
    pub image: String,
}

/// Codes a QR list shows.
pub const MAX_CODES: usize = 100;

/// `GET /api/apps/{app_id}/qrcodes` → the account's live QR codes, newest first (recent
/// temporary codes, then permanent ones), each with its ticket, scene and picture.
#[utoipa::path(get, path = "/api/apps/{app_id}/qrcodes", tag = "sandbox",
    summary = "The account's live QR codes (for a follower to scan with scan_ticket)",
    params(("app_id" = String, Path)),
    responses((status = 200, body = QrCodes), (status = 404, body = crate::error::WxErrorBody)))]
pub(crate) async fn list_qrcodes(
    State(sb): State<Sandbox>,
    Path(app_id): Path<String>,
    base: crate::media::BaseUrl,
) -> WxResult {
    crate::known_app(&sb, &app_id).await?;
    let codes = crate::qrcode::live_codes(&sb, &app_id, MAX_CODES).await?;
    let items = codes
        .into_iter()
        .map(|code| ListedCode {
            image: format!(
                "{}/cgi-bin/showqrcode?ticket={}",
                base.0,
                urlencoding_component(&code.ticket)
            ),
            code,
        })
        .collect();
    Ok(Json(QrCodes { items }).into_response())
}

/// Percent-encodes everything but unreserved characters (tickets carry `+`, `/`, `=`).
fn urlencoding_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
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
    fn a_ticket_scan_carries_the_real_ticket() {
        let a = app();
        let follow = Action::Follow {
            scene: Some("table_7".into()),
        };
        let xml = message_xml_with_ticket(&a, "oX", &follow, Some("gQH+8Dw="), 1, 2);
        assert!(xml.contains("<EventKey><![CDATA[qrscene_table_7]]></EventKey>"));
        assert!(xml.contains("<Ticket><![CDATA[gQH+8Dw=]]></Ticket>"));
        let scan = Action::Scan {
            scene: "table_7".into(),
        };
        let xml = message_xml_with_ticket(&a, "oX", &scan, Some("gQH+8Dw="), 1, 2);
        assert!(xml.contains("<Event><![CDATA[SCAN]]></Event>"));
        assert!(xml.contains("<Ticket><![CDATA[gQH+8Dw=]]></Ticket>"));
        // A scan that names only a scene keeps the placeholder.
        assert!(message_xml(&a, "oX", &scan, 1, 2).contains(PLACEHOLDER_TICKET));
    }

    #[test]
    fn ticket_scans_follow_or_scan_by_subscription() {
        let request = Request::Ticket {
            ticket: "t".into(),
            scene: "9".into(),
        };
        assert!(matches!(
            request.action(false),
            Action::Follow { scene: Some(s) } if s == "9"
        ));
        assert!(matches!(request.action(true), Action::Scan { scene } if scene == "9"));
        assert_eq!(request.ticket(), Some("t"));
    }

    #[test]
    fn tickets_are_percent_encoded() {
        assert_eq!(urlencoding_component("a+b/c=d"), "a%2Bb%2Fc%3Dd");
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
