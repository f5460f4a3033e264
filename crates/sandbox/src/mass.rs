//! Mass messages (群发; wechat-protocol.md §6.5, limits §2.4).
//!
//! - `POST /cgi-bin/message/mass/sendall` `{filter: {is_to_all, tag_id}, msgtype,
//!   <msgtype>: {…}, send_ignore_reprint, clientmsgid}` for mpnews, text, voice, image
//!   (`images.media_ids`), mpvideo and wxcard → `{"errcode":0,"errmsg":"send job submission
//!   success","msg_id":…,"msg_data_id":…}` (`msg_data_id` for mpnews only).
//! - `POST /cgi-bin/message/mass/send`: the same with `touser: [openid…]` (2–10,000: 40130,
//!   40032; an openid that never followed 40003). Verified service accounts only (rights.rs).
//! - `POST /cgi-bin/message/mass/preview` `{touser | towxname, …}` → `{"errcode":0,"errmsg":
//!   "preview success","msg_id":…}`: one follower, at once, outside every quota. `towxname`
//!   wins over `touser`; the sandbox's followers have no WeChat IDs, so it names an openid
//!   (40132 when none matches). A preview to someone who does not follow is 43004.
//! - `POST /cgi-bin/message/mass/get` `{msg_id}` → `{msg_id, msg_status}`: SENDING until the
//!   job ends, then SEND_SUCCESS, or DELETE once deleted. Unknown msg_id 40059.
//! - `POST /cgi-bin/message/mass/delete` `{msg_id, article_idx}`: only sent mpnews and mpvideo
//!   (others 40008, still sending 40065); article_idx 0 or none deletes all, 1..n one article
//!   (others 40060). Followers keep the card they received, as on WeChat.
//! - `POST /cgi-bin/message/mass/speed/get` → `{speed, realspeed}`, `/speed/set` `{speed}`
//!   (0–4, else 45083); realspeed in 10,000s per minute: 80, 60, 45, 30, 10.
//!
//! Rules:
//! - Shapes: unknown msgtype 40008; missing objects or fields 47001; empty text 44004; an
//!   mpnews media_id that is no permanent news material or draft (documents of kind
//!   `material`/`draft`) 40007.
//! - `clientmsgid` (≤ 64 bytes, else 45067): reused within 24 h the send is refused with
//!   45065 and the first send's `msg_id`; within its first minute with 45066.
//! - Account quota (45028 "has no masssend quota"): a subscription account has 1 sendall a
//!   (Beijing) day, whatever its audience; a service account 4 sends to all a natural month
//!   (tag and openid-list sends are not counted). Each endpoint is also held to its daily API
//!   quota (quota.rs: 100 sends a day, 100 previews, 10 deletions).
//! - Delivery is a background job: subscribed followers in the audience are counted
//!   (`TotalCount`); the blacklisted, those who unfollowed and, for service accounts, those who
//!   already received 4 mass messages this month are filtered out (`FilterCount` is who
//!   remains); the rest get the message in their inbox. Then `MASSSENDJOBFINISH` is posted to
//!   the app's callback, from `mphelper` (WeChat's mass-send assistant, as its event table
//!   says), with `CopyrightCheckResult` and `ArticleUrlResult` for mpnews.
//!
//! Jobs are documents of kind `mass_job` keyed by zero-padded msg_id.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Sandbox;
use crate::caller::{ApiCaller, json_body};
use crate::error::{self, WxError, WxResult};
use crate::followers::{self, Delivery, Follower};
use crate::inbox::{self, InboxItem, Source, cdata, optional_text, required_text};
use crate::registry::{SandboxApp, StoreError};

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/message/mass/sendall", post(sendall))
        .route("/cgi-bin/message/mass/send", post(send))
        .route("/cgi-bin/message/mass/preview", post(preview))
        .route("/cgi-bin/message/mass/get", post(get_status))
        .route("/cgi-bin/message/mass/delete", post(delete))
        .route("/cgi-bin/message/mass/speed/get", post(speed_get))
        .route("/cgi-bin/message/mass/speed/set", post(speed_set))
}

pub const JOBS: &str = "mass_job";
const CLIENT_MSG_IDS: &str = "mass_clientmsgid";
const ACCOUNT_QUOTA: &str = "mass_quota";
const RECEIVED: &str = "mass_received";
const SPEED: &str = "mass_speed";

pub const MIN_OPENIDS: usize = 2;
pub const MAX_OPENIDS: usize = 10_000;
pub const MAX_CLIENT_MSG_ID_BYTES: usize = 64;
pub const CLIENT_MSG_ID_MEMORY_MS: i64 = 24 * 3600 * 1000;
pub const CLIENT_MSG_ID_RETRY_GAP_MS: i64 = 60_000;
pub const SUBSCRIPTION_SENDS_PER_DAY: u32 = 1;
pub const SERVICE_SENDS_TO_ALL_PER_MONTH: u32 = 4;
/// A service account's follower receives at most this many mass messages a month.
pub const RECEIVED_PER_MONTH: u32 = 4;
/// The mass-send assistant, sender of `MASSSENDJOBFINISH`.
pub const MASS_SENDER: &str = "mphelper";
const FIRST_MSG_ID: u64 = 1_000_000_001;
const FIRST_MSG_DATA_ID: u64 = 2_247_483_648;
/// Real speed (10,000 messages a minute) of each speed level.
pub const REAL_SPEEDS: [u32; 5] = [80, 60, 45, 30, 10];

/// Who a mass send goes to.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Audience {
    All,
    Tag { tag_id: i64 },
    Openids { openids: Vec<String> },
}

/// What a job counted, as `MASSSENDJOBFINISH` reports it.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub total: u64,
    pub filter: u64,
    pub sent: u64,
    pub error: u64,
}

/// One mass send and what became of it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MassJob {
    pub msg_id: u64,
    #[serde(default)]
    pub msg_data_id: Option<u64>,
    pub msgtype: String,
    /// What the followers' phones show.
    pub content: Value,
    pub audience: Audience,
    /// SENDING, SEND_SUCCESS, SEND_FAIL or DELETE.
    pub status: String,
    #[serde(default)]
    pub article_count: usize,
    #[serde(default)]
    pub deleted_articles: Vec<usize>,
    pub created_at_ms: i64,
    #[serde(default)]
    pub send_ignore_reprint: bool,
    #[serde(default)]
    pub clientmsgid: Option<String>,
    #[serde(default)]
    pub counts: Option<Counts>,
    /// How the `MASSSENDJOBFINISH` delivery went.
    #[serde(default)]
    pub callback: Option<Delivery>,
}

fn job_key(msg_id: u64) -> String {
    format!("{msg_id:020}")
}

pub async fn job(sb: &Sandbox, app_id: &str, msg_id: u64) -> Result<Option<MassJob>, StoreError> {
    sb.docs.get(app_id, JOBS, &job_key(msg_id)).await
}

/// A validated mass message.
struct MassMessage {
    msgtype: String,
    content: Value,
    article_count: usize,
}

/// `POST /cgi-bin/message/mass/sendall`.
async fn sendall(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let req: Value = json_body(&body)?;
    let audience = filter_audience(&req)?;
    let message = mass_message(&sb, &caller.app.app_id, &req).await?;
    submit(&sb, &caller.app, &req, audience, message).await
}

/// `POST /cgi-bin/message/mass/send`.
async fn send(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let req: Value = json_body(&body)?;
    let openids = openid_list(&req)?;
    let message = mass_message(&sb, &caller.app.app_id, &req).await?;
    for openid in &openids {
        followers::follower(&sb, &caller.app.app_id, openid)
            .await?
            .ok_or_else(WxError::invalid_openid)?;
    }
    submit(
        &sb,
        &caller.app,
        &req,
        Audience::Openids { openids },
        message,
    )
    .await
}

fn filter_audience(req: &Value) -> Result<Audience, WxError> {
    let filter = req.get("filter").ok_or_else(WxError::data_format_error)?;
    if filter.get("is_to_all").and_then(Value::as_bool) == Some(true) {
        return Ok(Audience::All);
    }
    let tag_id = filter
        .get("tag_id")
        .and_then(|t| t.as_i64().or_else(|| t.as_str()?.parse().ok()))
        .ok_or_else(WxError::data_format_error)?;
    Ok(Audience::Tag { tag_id })
}

/// The `touser` list, each openid once.
fn openid_list(req: &Value) -> Result<Vec<String>, WxError> {
    let list = req
        .get("touser")
        .and_then(Value::as_array)
        .ok_or_else(WxError::data_format_error)?;
    let mut openids: Vec<String> = Vec::with_capacity(list.len());
    for o in list {
        let openid = o.as_str().ok_or_else(WxError::invalid_openid)?;
        if !openids.iter().any(|seen| seen == openid) {
            openids.push(openid.to_string());
        }
    }
    if openids.len() < MIN_OPENIDS {
        return Err(WxError::new(
            40130,
            "invalid openid list size, at least two openid",
        ));
    }
    if openids.len() > MAX_OPENIDS {
        return Err(WxError::new(40032, "invalid openid list size"));
    }
    Ok(openids)
}

/// The message's type and what phones will show, after WeChat's shape checks.
async fn mass_message(sb: &Sandbox, app_id: &str, req: &Value) -> Result<MassMessage, WxError> {
    let msgtype = req
        .get("msgtype")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let single = |content: Value| MassMessage {
        msgtype: msgtype.to_string(),
        content,
        article_count: 0,
    };
    Ok(match msgtype {
        "mpnews" => {
            let media_id = required_text(req, "mpnews", "media_id")?;
            let articles = inbox::news_articles(sb, app_id, media_id)
                .await?
                .ok_or_else(inbox::invalid_media_id)?;
            MassMessage {
                msgtype: msgtype.to_string(),
                article_count: articles.len(),
                content: json!({ "media_id": media_id, "articles": articles }),
            }
        }
        "text" => {
            let content =
                optional_text(req, "text", "content").ok_or_else(WxError::data_format_error)?;
            if content.is_empty() {
                return Err(WxError::new(44004, "empty content"));
            }
            single(json!({ "content": content }))
        }
        "voice" => single(json!({ "media_id": required_text(req, "voice", "media_id")? })),
        "image" => single(json!({ "media_ids": image_ids(req)? })),
        "mpvideo" => MassMessage {
            article_count: 1,
            ..single(json!({
                "media_id": required_text(req, "mpvideo", "media_id")?,
                "title": optional_text(req, "mpvideo", "title"),
                "description": optional_text(req, "mpvideo", "description"),
            }))
        },
        "wxcard" => single(json!({ "card_id": required_text(req, "wxcard", "card_id")? })),
        _ => return Err(WxError::new(40008, "invalid message type")),
    })
}

/// Images go as `images.media_ids` (several) or, in previews and older code,
/// `image.media_id` (one).
fn image_ids(req: &Value) -> Result<Vec<String>, WxError> {
    if let Some(ids) = req
        .get("images")
        .and_then(|i| i.get("media_ids"))
        .and_then(Value::as_array)
    {
        let ids: Vec<String> = ids
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if ids.is_empty() {
            return Err(WxError::data_format_error());
        }
        return Ok(ids);
    }
    Ok(vec![required_text(req, "image", "media_id")?.to_string()])
}

/// Takes the quota and the clientmsgid, records the job and starts it.
async fn submit(
    sb: &Sandbox,
    app: &SandboxApp,
    req: &Value,
    audience: Audience,
    message: MassMessage,
) -> WxResult {
    let app_id = app.app_id.as_str();
    let clientmsgid = req
        .get("clientmsgid")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty());
    if clientmsgid.is_some_and(|c| c.len() > MAX_CLIENT_MSG_ID_BYTES) {
        return Err(WxError::new(45067, "clientmsgid size out of limit"));
    }
    let msg_id = inbox::next_id(sb, app_id, "mass_msg_id", FIRST_MSG_ID).await?;
    if let Some(c) = clientmsgid
        && let Err(refusal) = claim_client_msg_id(sb, app_id, c, msg_id).await?
    {
        return Ok(refusal.answer());
    }
    if let Err(e) = take_account_quota(sb, app, &audience).await {
        if let Some(c) = clientmsgid {
            release_client_msg_id(sb, app_id, c, msg_id).await?;
        }
        return Err(e);
    }
    let msg_data_id = match message.msgtype.as_str() {
        "mpnews" => Some(inbox::next_id(sb, app_id, "mass_msg_data_id", FIRST_MSG_DATA_ID).await?),
        _ => None,
    };
    let job = MassJob {
        msg_id,
        msg_data_id,
        msgtype: message.msgtype,
        content: message.content,
        audience,
        status: "SENDING".into(),
        article_count: message.article_count,
        deleted_articles: vec![],
        created_at_ms: sb.now_ms(),
        send_ignore_reprint: req
            .get("send_ignore_reprint")
            .and_then(Value::as_i64)
            .is_some_and(|v| v == 1),
        clientmsgid: clientmsgid.map(str::to_string),
        counts: None,
        callback: None,
    };
    sb.docs.set(app_id, JOBS, &job_key(msg_id), &job).await?;
    tokio::spawn(run_job(sb.clone(), app.clone(), msg_id));
    let mut answer = json!({
        "errcode": 0,
        "errmsg": "send job submission success",
        "msg_id": msg_id,
    });
    if let Some(id) = msg_data_id {
        answer["msg_data_id"] = json!(id);
    }
    Ok(Json(answer).into_response())
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct ClientMsgId {
    msg_id: u64,
    at_ms: i64,
}

/// Why a clientmsgid cannot be used again.
enum Refusal {
    /// Within a minute of the first use.
    TooFast,
    /// Used by the send with this msg_id within 24 h.
    Exists(u64),
}

impl Refusal {
    fn answer(self) -> Response {
        match self {
            Refusal::TooFast => error_response(
                WxError::new(45066, "same clientmsgid retry too fast"),
                json!({}),
            ),
            Refusal::Exists(msg_id) => error_response(
                WxError::new(45065, "clientmsgid exist"),
                json!({ "msg_id": msg_id }),
            ),
        }
    }
}

/// Records `clientmsgid` for this send; `Err` when an earlier send holds it.
async fn claim_client_msg_id(
    sb: &Sandbox,
    app_id: &str,
    clientmsgid: &str,
    msg_id: u64,
) -> Result<Result<(), Refusal>, StoreError> {
    let now = sb.now_ms();
    sb.docs
        .update(
            app_id,
            CLIENT_MSG_IDS,
            clientmsgid,
            |held: Option<ClientMsgId>| match held {
                Some(h) if now - h.at_ms < CLIENT_MSG_ID_RETRY_GAP_MS => Err(Refusal::TooFast),
                Some(h) if now - h.at_ms < CLIENT_MSG_ID_MEMORY_MS => {
                    Err(Refusal::Exists(h.msg_id))
                }
                _ => Ok((ClientMsgId { msg_id, at_ms: now }, ())),
            },
        )
        .await
}

/// Frees `clientmsgid` when the send it was claimed for did not happen.
async fn release_client_msg_id(
    sb: &Sandbox,
    app_id: &str,
    clientmsgid: &str,
    msg_id: u64,
) -> Result<(), StoreError> {
    let held: Option<ClientMsgId> = sb.docs.get(app_id, CLIENT_MSG_IDS, clientmsgid).await?;
    if held.is_some_and(|h| h.msg_id == msg_id) {
        sb.docs.delete(app_id, CLIENT_MSG_IDS, clientmsgid).await?;
    }
    Ok(())
}

/// WeChat's error shape with extra fields (45065 carries the first send's msg_id).
fn error_response(e: WxError, extra: Value) -> Response {
    let mut body = json!({
        "errcode": e.errcode,
        "errmsg": format!("{} rid: {:08x}-{:08x}", e.errmsg, rand::random::<u32>(), rand::random::<u32>()),
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    (e.status, Json(body)).into_response()
}

#[derive(Default, Deserialize, Serialize)]
struct Used {
    sends: u32,
}

/// The account quota a send counts against, if any: (counter key, limit).
fn account_quota(app: &SandboxApp, audience: &Audience, now_ms: i64) -> Option<(String, u32)> {
    if !app.is_service() {
        return Some((
            format!("day:{}", beijing_day(now_ms)),
            SUBSCRIPTION_SENDS_PER_DAY,
        ));
    }
    (*audience == Audience::All).then(|| {
        (
            format!("month:{}", beijing_month(now_ms)),
            SERVICE_SENDS_TO_ALL_PER_MONTH,
        )
    })
}

async fn take_account_quota(
    sb: &Sandbox,
    app: &SandboxApp,
    audience: &Audience,
) -> Result<(), WxError> {
    let Some((key, limit)) = account_quota(app, audience, sb.now_ms()) else {
        return Ok(());
    };
    sb.docs
        .update(&app.app_id, ACCOUNT_QUOTA, &key, |used: Option<Used>| {
            let used = used.unwrap_or_default();
            if used.sends >= limit {
                return Err(WxError::new(45028, "has no masssend quota"));
            }
            Ok((
                Used {
                    sends: used.sends + 1,
                },
                (),
            ))
        })
        .await?
}

/// Delivers a submitted job to its audience, then tells the merchant.
async fn run_job(sb: Sandbox, app: SandboxApp, msg_id: u64) {
    if let Err(e) = deliver_job(&sb, &app, msg_id).await {
        tracing::error!(error = %e, app_id = %app.app_id, msg_id, "mass job failed");
    }
}

async fn deliver_job(sb: &Sandbox, app: &SandboxApp, msg_id: u64) -> Result<(), StoreError> {
    let app_id = app.app_id.as_str();
    let Some(job) = job(sb, app_id, msg_id).await? else {
        return Ok(());
    };
    let (total, recipients) = audience_members(sb, app_id, &job.audience).await?;
    let mut counts = Counts {
        total,
        ..Counts::default()
    };
    let item = InboxItem {
        source: Source::Mass,
        msgtype: job.msgtype.clone(),
        content: job.content.clone(),
        time: sb.now_ms() / 1000,
        msg_id: Some(msg_id),
        kf_account: None,
        preview: false,
    };
    for openid in recipients {
        if app.is_service() && !count_receipt(sb, app_id, &openid).await? {
            continue;
        }
        counts.filter += 1;
        match inbox::push(sb, app_id, &openid, &item).await {
            Ok(_) => counts.sent += 1,
            Err(e) => {
                tracing::warn!(error = %e, %openid, "mass message not delivered");
                counts.error += 1;
            }
        }
    }
    set_job(sb, app_id, msg_id, |j| {
        j.status = "SEND_SUCCESS".into();
        j.counts = Some(counts);
    })
    .await?;
    let xml = finish_event_xml(app, &job, counts, sb.now_ms() / 1000);
    let delivery = followers::deliver(&sb.http, app, &xml).await;
    set_job(sb, app_id, msg_id, |j| j.callback = Some(delivery.clone())).await
}

async fn set_job(
    sb: &Sandbox,
    app_id: &str,
    msg_id: u64,
    change: impl Fn(&mut MassJob),
) -> Result<(), StoreError> {
    sb.docs
        .update(
            app_id,
            JOBS,
            &job_key(msg_id),
            |j: Option<MassJob>| match j {
                Some(mut j) => {
                    change(&mut j);
                    Ok((j, ()))
                }
                None => Err(()),
            },
        )
        .await?
        .map_err(|()| StoreError(format!("mass job {msg_id} vanished")))
}

/// How many fans the audience has, and those of them the message may reach: subscribed and
/// not blacklisted.
async fn audience_members(
    sb: &Sandbox,
    app_id: &str,
    audience: &Audience,
) -> Result<(u64, Vec<String>), StoreError> {
    let reachable = |f: &Follower| f.subscribe && !f.blacklisted;
    match audience {
        Audience::Openids { openids } => {
            let mut members = Vec::new();
            for openid in openids {
                let f = followers::follower(sb, app_id, openid).await?;
                if f.as_ref().is_some_and(reachable) {
                    members.push(openid.clone());
                }
            }
            Ok((openids.len() as u64, members))
        }
        Audience::All | Audience::Tag { .. } => {
            let fans: Vec<(String, Follower)> = sb
                .docs
                .all::<Follower>(app_id, followers::KIND)
                .await?
                .into_iter()
                .filter(|(_, f)| f.subscribe)
                .filter(|(_, f)| match audience {
                    Audience::Tag { tag_id } => f.tagid_list.contains(tag_id),
                    _ => true,
                })
                .collect();
            let total = fans.len() as u64;
            let members = fans
                .into_iter()
                .filter(|(_, f)| reachable(f))
                .map(|(o, _)| o)
                .collect();
            Ok((total, members))
        }
    }
}

#[derive(Default, Deserialize, Serialize)]
struct Received {
    month: String,
    count: u32,
}

/// Counts one more mass message for the follower this month; `false` when they already had
/// their 4.
async fn count_receipt(sb: &Sandbox, app_id: &str, openid: &str) -> Result<bool, StoreError> {
    let month = beijing_month(sb.now_ms());
    sb.docs
        .update(app_id, RECEIVED, openid, |r: Option<Received>| {
            let count = r.filter(|r| r.month == month).map_or(0, |r| r.count);
            if count >= RECEIVED_PER_MONTH {
                return Err(());
            }
            Ok((
                Received {
                    month: month.clone(),
                    count: count + 1,
                },
                (),
            ))
        })
        .await
        .map(|r| r.is_ok())
}

/// The `MASSSENDJOBFINISH` event WeChat posts when a job ends.
pub fn finish_event_xml(
    app: &SandboxApp,
    job: &MassJob,
    counts: Counts,
    create_time: i64,
) -> String {
    let mut xml = format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName>\
         <CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[MASSSENDJOBFINISH]]></Event><MsgID>{}</MsgID>\
         <Status><![CDATA[send success]]></Status><TotalCount>{}</TotalCount>\
         <FilterCount>{}</FilterCount><SentCount>{}</SentCount><ErrorCount>{}</ErrorCount>",
        cdata(&app.original_id()),
        cdata(MASS_SENDER),
        job.msg_id,
        counts.total,
        counts.filter,
        counts.sent,
        counts.error,
    );
    if job.msgtype == "mpnews" {
        xml.push_str(&article_results(job));
    }
    xml.push_str("</xml>");
    xml
}

/// For mpnews: the originality check (the sandbox finds no reprints: CheckState 1) and where
/// each article was published.
fn article_results(job: &MassJob) -> String {
    let articles = job.content["articles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let items: String = articles
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let url = a["url"]
                .as_str()
                .filter(|u| !u.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!(
                        "https://mp.weixin.qq.com/s/sandbox-{}-{}",
                        job.msg_id,
                        i + 1
                    )
                });
            format!(
                "<item><ArticleIdx>{}</ArticleIdx><ArticleUrl>{}</ArticleUrl></item>",
                i + 1,
                cdata(&url)
            )
        })
        .collect();
    format!(
        "<CopyrightCheckResult><Count>0</Count><ResultList></ResultList><CheckState>1</CheckState>\
         </CopyrightCheckResult><ArticleUrlResult><Count>{}</Count><ResultList>{items}</ResultList>\
         </ArticleUrlResult>",
        articles.len()
    )
}

/// `POST /cgi-bin/message/mass/preview`.
async fn preview(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let app_id = caller.app.app_id.as_str();
    let req: Value = json_body(&body)?;
    let target = preview_target(&req)?;
    let message = mass_message(&sb, app_id, &req).await?;
    let openid = target.openid();
    match followers::follower(&sb, app_id, openid).await? {
        None => return Err(target.unknown()),
        Some(f) if !f.subscribe => return Err(WxError::new(43004, "require subscribe")),
        Some(_) => {}
    }
    let msg_id = inbox::next_id(&sb, app_id, "mass_msg_id", FIRST_MSG_ID).await?;
    let item = InboxItem {
        source: Source::Mass,
        msgtype: message.msgtype,
        content: message.content,
        time: sb.now_ms() / 1000,
        msg_id: Some(msg_id),
        kf_account: None,
        preview: true,
    };
    inbox::push(&sb, app_id, openid, &item).await?;
    Ok(
        Json(json!({ "errcode": 0, "errmsg": "preview success", "msg_id": msg_id }))
            .into_response(),
    )
}

/// Who a preview goes to.
enum PreviewTarget {
    /// `towxname`: a WeChat ID, which the sandbox's followers do not have, so an openid.
    WxName(String),
    Openid(String),
}

impl PreviewTarget {
    fn openid(&self) -> &str {
        match self {
            PreviewTarget::WxName(o) | PreviewTarget::Openid(o) => o,
        }
    }

    fn unknown(&self) -> WxError {
        match self {
            PreviewTarget::WxName(_) => WxError::new(40132, "invalid username"),
            PreviewTarget::Openid(_) => WxError::invalid_openid(),
        }
    }
}

/// `towxname` wins over `touser`, as WeChat documents.
fn preview_target(req: &Value) -> Result<PreviewTarget, WxError> {
    let named = |k: &str| {
        req.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    named("towxname")
        .map(PreviewTarget::WxName)
        .or_else(|| named("touser").map(PreviewTarget::Openid))
        .ok_or_else(WxError::invalid_openid)
}

/// `msg_id` as a JSON number or a string of digits.
fn msg_id_of(req: &Value) -> Result<u64, WxError> {
    let id = req.get("msg_id").ok_or_else(WxError::data_format_error)?;
    id.as_u64()
        .or_else(|| id.as_str()?.parse().ok())
        .ok_or_else(WxError::data_format_error)
}

fn invalid_msg_id() -> WxError {
    WxError::new(40059, "invalid msg id")
}

/// `POST /cgi-bin/message/mass/get`.
async fn get_status(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let req: Value = json_body(&body)?;
    let msg_id = msg_id_of(&req)?;
    let job = job(&sb, &caller.app.app_id, msg_id)
        .await?
        .ok_or_else(invalid_msg_id)?;
    Ok(Json(json!({ "msg_id": msg_id, "msg_status": job.status })).into_response())
}

/// `POST /cgi-bin/message/mass/delete`.
async fn delete(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let req: Value = json_body(&body)?;
    let msg_id = msg_id_of(&req)?;
    let article_idx = req.get("article_idx").and_then(Value::as_u64).unwrap_or(0) as usize;
    sb.docs
        .update(
            &caller.app.app_id,
            JOBS,
            &job_key(msg_id),
            |j: Option<MassJob>| {
                let mut j = j.ok_or_else(invalid_msg_id)?;
                delete_articles(&mut j, article_idx)?;
                Ok::<_, WxError>((j, ()))
            },
        )
        .await??;
    Ok(error::ok())
}

fn delete_articles(job: &mut MassJob, article_idx: usize) -> Result<(), WxError> {
    if !matches!(job.msgtype.as_str(), "mpnews" | "mpvideo") {
        return Err(WxError::new(40008, "invalid message type"));
    }
    if job.status == "SENDING" {
        return Err(WxError::new(40065, "invalid msg status"));
    }
    if article_idx > job.article_count {
        return Err(WxError::new(40060, "invalid article idx"));
    }
    if article_idx > 0 && !job.deleted_articles.contains(&article_idx) {
        job.deleted_articles.push(article_idx);
    }
    if article_idx == 0 || job.deleted_articles.len() >= job.article_count {
        job.status = "DELETE".into();
    }
    Ok(())
}

#[derive(Default, Deserialize, Serialize)]
struct Speed {
    speed: usize,
}

/// `POST /cgi-bin/message/mass/speed/get`.
async fn speed_get(State(sb): State<Sandbox>, caller: ApiCaller) -> WxResult {
    let speed: Speed = sb
        .docs
        .get(&caller.app.app_id, SPEED, "settings")
        .await?
        .unwrap_or_default();
    let realspeed = REAL_SPEEDS
        .get(speed.speed)
        .copied()
        .unwrap_or(REAL_SPEEDS[0]);
    Ok(Json(json!({ "speed": speed.speed, "realspeed": realspeed })).into_response())
}

/// `POST /cgi-bin/message/mass/speed/set`.
async fn speed_set(State(sb): State<Sandbox>, caller: ApiCaller, body: Bytes) -> WxResult {
    let req: Value = json_body(&body)?;
    let speed = req
        .get("speed")
        .and_then(Value::as_u64)
        .ok_or_else(WxError::data_format_error)? as usize;
    if speed >= REAL_SPEEDS.len() {
        return Err(WxError::new(45083, "the speed out of range"));
    }
    sb.docs
        .set(&caller.app.app_id, SPEED, "settings", &Speed { speed })
        .await?;
    Ok(error::ok())
}

const BEIJING_MS: i64 = 8 * 3600 * 1000;
const DAY_MS: i64 = 86_400_000;

/// Days since the epoch in Beijing, where WeChat's days turn.
pub fn beijing_day(now_ms: i64) -> i64 {
    (now_ms + BEIJING_MS).div_euclid(DAY_MS)
}

/// The natural month in Beijing, `YYYY-MM`.
pub fn beijing_month(now_ms: i64) -> String {
    let (year, month) = year_month_of_day(beijing_day(now_ms));
    format!("{year:04}-{month:02}")
}

/// The civil (proleptic Gregorian) year and month of a day count since 1970-01-01.
fn year_month_of_day(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_turn_at_beijing_midnight() {
        // 2026-11-30 15:59:59 UTC is 23:59:59 in Beijing.
        let last_second = 1_796_054_399_000;
        assert_eq!(beijing_month(last_second), "2026-11");
        assert_eq!(beijing_month(last_second + 1000), "2026-12");
        assert_eq!(beijing_month(0), "1970-01");
        // 2028-02-29 12:00 UTC, a leap day.
        assert_eq!(beijing_month(1_835_438_400_000), "2028-02");
        assert_eq!(year_month_of_day(-1), (1969, 12));
    }

    fn app(kind: &str) -> SandboxApp {
        SandboxApp {
            app_id: "wx1234567890abcdef".into(),
            app_secret: String::new(),
            token: String::new(),
            encoding_aes_key: String::new(),
            security_mode: "plaintext".into(),
            callback_url: String::new(),
            kind: kind.into(),
            verified: true,
        }
    }

    #[test]
    fn which_sends_count_against_the_account() {
        let now = 1_796_011_200_000;
        let tag = Audience::Tag { tag_id: 100 };
        assert_eq!(
            account_quota(&app("subscription"), &tag, now).map(|(_, n)| n),
            Some(1)
        );
        assert_eq!(
            account_quota(&app("service"), &Audience::All, now),
            Some(("month:2026-11".into(), 4))
        );
        assert_eq!(account_quota(&app("service"), &tag, now), None);
    }

    #[test]
    fn deleting_articles_one_by_one_ends_in_delete() {
        let mut job = MassJob {
            msg_id: 1,
            msg_data_id: None,
            msgtype: "mpnews".into(),
            content: json!({}),
            audience: Audience::All,
            status: "SEND_SUCCESS".into(),
            article_count: 2,
            deleted_articles: vec![],
            created_at_ms: 0,
            send_ignore_reprint: false,
            clientmsgid: None,
            counts: None,
            callback: None,
        };
        assert_eq!(
            delete_articles(&mut job, 3).map_err(|e| e.errcode),
            Err(40060)
        );
        delete_articles(&mut job, 2).expect("second article");
        assert_eq!(job.status, "SEND_SUCCESS");
        delete_articles(&mut job, 1).expect("first article");
        assert_eq!(job.status, "DELETE");
        job.msgtype = "text".into();
        assert_eq!(
            delete_articles(&mut job, 0).map_err(|e| e.errcode),
            Err(40008)
        );
    }

    #[test]
    fn the_finish_event_parses_with_the_protocol_crate() {
        let job = MassJob {
            msg_id: 1_000_000_001,
            msg_data_id: Some(2_247_483_648),
            msgtype: "mpnews".into(),
            content: json!({"articles": [{"title": "t", "url": ""}]}),
            audience: Audience::All,
            status: "SEND_SUCCESS".into(),
            article_count: 1,
            deleted_articles: vec![],
            created_at_ms: 0,
            send_ignore_reprint: false,
            clientmsgid: None,
            counts: None,
            callback: None,
        };
        let counts = Counts {
            total: 5,
            filter: 4,
            sent: 4,
            error: 0,
        };
        let xml = finish_event_xml(&app("service"), &job, counts, 1_796_011_200);
        let m = wechat::Message::parse(&xml).expect("parses");
        assert_eq!(m.from_user_name, MASS_SENDER);
        let Some(wechat::Event::MassSendJobFinish(e)) = m.event() else {
            panic!("not MASSSENDJOBFINISH: {xml}");
        };
        assert_eq!(
            (e.msg_id, e.total_count, e.filter_count, e.sent_count),
            (1_000_000_001, Some(5), Some(4), Some(4))
        );
        // The elements, in the order of WeChat's own event (vector parse-masssendjobfinish).
        let order = [
            "ToUserName",
            "FromUserName",
            "CreateTime",
            "MsgType",
            "Event",
            "MsgID",
            "Status",
            "TotalCount",
            "FilterCount",
            "SentCount",
            "ErrorCount",
            "CopyrightCheckResult",
            "ArticleUrlResult",
        ];
        let at: Vec<usize> = order
            .iter()
            .map(|name| xml.find(&format!("<{name}>")).expect(name))
            .collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{xml}");
        assert_eq!(e.article_urls.len(), 1);
        assert_eq!(
            e.copyright_check.as_ref().and_then(|c| c.check_state),
            Some(1)
        );
    }
}
