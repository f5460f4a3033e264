//! Publishing drafts (发布能力).
//!
//! - `POST /cgi-bin/freepublish/submit {media_id}` → `{errcode: 0, errmsg: "ok",
//!   publish_id, msg_data_id}`; 40007 for unknown drafts. Publishing takes
//!   [`PUBLISH_DELAY_MS`] (sandbox clock): until then `freepublish/get` says
//!   `publish_status: 1`. Once published, the draft leaves the draft box (as WeChat moves
//!   it), each article gets its page (see [`super::page`]) and, when the callback is set, WeChat's
//!   `PUBLISHJOBFINISH` event is delivered.
//! - `POST /cgi-bin/freepublish/get {publish_id}` → `{publish_id, publish_status, article_id,
//!   article_detail: {count, item: [{idx, article_url}]}, fail_idx}` (status 0 published, 1
//!   publishing, 5 every article deleted since); unknown ids 40097.
//! - `POST /cgi-bin/freepublish/getarticle {article_id}` → `{news_item: [... url,
//!   is_deleted]}`; unknown ids 53600.
//! - `POST /cgi-bin/freepublish/delete {article_id, index}`: index from 1, 0 or absent
//!   deletes them all; out of range 40060, unknown ids 53600.
//! - `POST /cgi-bin/freepublish/batchget {offset, count (1–20), no_content}` →
//!   `{total_count, item_count, item: [{article_id, content: {news_item, create_time,
//!   update_time}, update_time}]}`, newest first, without sets whose articles were all
//!   deleted.
//!
//! A publish job finishes when someone looks after it is due (or a timer fires in real
//! time): whoever first stores its published document wins the compare-and-swap on the job,
//! so each job publishes once however many instances look.

use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Article, Page, shown_article};
use crate::caller::{ApiCaller, json_body};
use crate::error::{WxError, WxResult};
use crate::media::{self, BaseUrl};
use crate::registry::{GLOBAL, StoreError};
use crate::{Sandbox, followers};

/// Documents of this kind, keyed by article_id, hold published articles.
pub const KIND: &str = "published";
/// Published sets whose articles were all deleted, keyed by article_id: out of the lists,
/// still known to `freepublish/get`, `getarticle` and the pages.
const DELETED: &str = "published_deleted";
/// Publish jobs, keyed by publish_id.
const JOBS: &str = "publish_job";
/// Jobs not yet finished, keyed by publish_id, so lists can finish them first.
const PENDING: &str = "publish_pending";
/// article_id → app, for article pages (their URLs carry no app).
pub(crate) const OWNERS: &str = "published_owner";
/// How long publishing takes.
pub const PUBLISH_DELAY_MS: i64 = 3_000;

pub fn router() -> axum::Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/freepublish/submit", post(submit))
        .route("/cgi-bin/freepublish/get", post(get_job))
        .route("/cgi-bin/freepublish/getarticle", post(get_article))
        .route("/cgi-bin/freepublish/delete", post(delete))
        .route("/cgi-bin/freepublish/batchget", post(batchget))
}

/// A publish job.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Job {
    publish_id: String,
    msg_data_id: u64,
    articles: Vec<Article>,
    draft_media_id: String,
    /// When it was submitted (ms).
    submitted_at: i64,
    /// Where the submitter reached the sandbox, for the article URLs.
    base: String,
    /// Set once published.
    article_id: Option<String>,
}

/// A published set of articles.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Published {
    pub publish_id: String,
    pub articles: Vec<Article>,
    /// Article URLs, by index from 0.
    pub urls: Vec<String>,
    /// Which articles the merchant deleted since.
    pub deleted: Vec<bool>,
    /// Seconds since the epoch.
    pub create_time: i64,
    pub update_time: i64,
}

impl Published {
    fn all_deleted(&self) -> bool {
        self.deleted.iter().all(|d| *d)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Owner {
    pub app_id: String,
}

fn invalid_article_id() -> WxError {
    WxError::new(53600, "invalid article_id")
}

/// A published set of articles of the app, deleted or not.
pub async fn published(
    sb: &Sandbox,
    app_id: &str,
    article_id: &str,
) -> Result<Option<Published>, StoreError> {
    match sb.docs.get(app_id, KIND, article_id).await? {
        Some(found) => Ok(Some(found)),
        None => sb.docs.get(app_id, DELETED, article_id).await,
    }
}

#[derive(Deserialize)]
struct SubmitRequest {
    #[serde(default)]
    media_id: String,
}

/// `POST /cgi-bin/freepublish/submit`.
async fn submit(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    base: BaseUrl,
    body: axum::body::Bytes,
) -> WxResult {
    let req: SubmitRequest = json_body(&body)?;
    let app_id = caller.app.app_id.clone();
    let draft = super::draft(&sb, &app_id, &req.media_id)
        .await?
        .ok_or_else(media::invalid_media_id)?;
    let msg_data_id = u64::from(rand::random::<u32>() | 0x8000_0000);
    let job = loop {
        let job = Job {
            publish_id: (rand::random::<u32>() | 0x8000_0000).to_string(),
            msg_data_id,
            articles: draft.articles.clone(),
            draft_media_id: req.media_id.clone(),
            submitted_at: sb.now_ms(),
            base: base.0.clone(),
            article_id: None,
        };
        if sb.docs.create(&app_id, JOBS, &job.publish_id, &job).await? {
            break job;
        }
    };
    sb.docs
        .set(&app_id, PENDING, &job.publish_id, &json!({}))
        .await?;
    finish_later(sb.clone(), app_id, job.publish_id.clone());
    Ok(Json(json!({
        "errcode": 0,
        "errmsg": "ok",
        "publish_id": job.publish_id,
        "msg_data_id": job.msg_data_id,
    }))
    .into_response())
}

/// In real time the job finishes by itself (and its event goes out) even if nobody looks.
fn finish_later(sb: Sandbox, app_id: String, publish_id: String) {
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(PUBLISH_DELAY_MS as u64 + 100)).await;
        if let Err(e) = finish_if_due(&sb, &app_id, &publish_id).await {
            tracing::warn!(error = %e, publish_id, "sandbox publish job did not finish");
        }
    });
}

/// The job, published if it is due.
async fn finish_if_due(
    sb: &Sandbox,
    app_id: &str,
    publish_id: &str,
) -> Result<Option<Job>, StoreError> {
    let Some(job) = sb.docs.get::<Job>(app_id, JOBS, publish_id).await? else {
        return Ok(None);
    };
    if job.article_id.is_some() || sb.now_ms() < job.submitted_at + PUBLISH_DELAY_MS {
        return Ok(Some(job));
    }
    let article_id = media::new_id(43);
    let doc = published_doc(&job, &article_id, sb.now_ms() / 1000);
    // The published document exists before the job points at it, so nobody who sees the
    // job's article_id finds nothing behind it.
    sb.docs.set(app_id, KIND, &article_id, &doc).await?;
    let owner = Owner {
        app_id: app_id.to_string(),
    };
    sb.docs.set(GLOBAL, OWNERS, &article_id, &owner).await?;
    let claimed = sb
        .docs
        .update(app_id, JOBS, publish_id, |j: Option<Job>| {
            let mut j = j.ok_or(())?;
            if j.article_id.is_some() {
                return Err(());
            }
            j.article_id = Some(article_id.clone());
            Ok((j.clone(), j))
        })
        .await?;
    match claimed {
        Ok(job) => {
            sb.docs
                .delete(app_id, super::KIND, &job.draft_media_id)
                .await?;
            sb.docs.delete(app_id, PENDING, publish_id).await?;
            announce(sb, app_id, &job, &doc);
            Ok(Some(job))
        }
        Err(()) => {
            sb.docs.delete(app_id, KIND, &article_id).await?;
            sb.docs.delete(GLOBAL, OWNERS, &article_id).await?;
            sb.docs.get(app_id, JOBS, publish_id).await
        }
    }
}

fn published_doc(job: &Job, article_id: &str, now_s: i64) -> Published {
    Published {
        publish_id: job.publish_id.clone(),
        articles: job.articles.clone(),
        urls: (1..=job.articles.len())
            .map(|idx| format!("{}/s/{article_id}/{idx}", job.base))
            .collect(),
        deleted: vec![false; job.articles.len()],
        create_time: now_s,
        update_time: now_s,
    }
}

/// Sends `PUBLISHJOBFINISH` to the merchant's callback, as WeChat does after publishing.
fn announce(sb: &Sandbox, app_id: &str, job: &Job, doc: &Published) {
    let sb = sb.clone();
    let app_id = app_id.to_string();
    let (job, doc) = (job.clone(), doc.clone());
    tokio::spawn(async move {
        let app = match sb.docs.app(&app_id).await {
            Ok(Some(app)) if !app.callback_url.is_empty() => app,
            _ => return,
        };
        let xml = finish_event_xml(&app, &job, &doc, sb.now_ms() / 1000);
        let delivery = followers::deliver(&sb.http, &app, &xml).await;
        if let Some(error) = delivery.error {
            tracing::debug!(error, app_id, "PUBLISHJOBFINISH not delivered");
        }
    });
}

fn finish_event_xml(app: &crate::SandboxApp, job: &Job, doc: &Published, now_s: i64) -> String {
    let items: String = doc
        .urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            format!(
                "<item><idx>{}</idx><article_url><![CDATA[{url}]]></article_url></item>",
                i + 1
            )
        })
        .collect();
    format!(
        "<xml><ToUserName><![CDATA[{to}]]></ToUserName><FromUserName><![CDATA[{to}]]></FromUserName>\
         <CreateTime>{now_s}</CreateTime><MsgType><![CDATA[event]]></MsgType>\
         <Event><![CDATA[PUBLISHJOBFINISH]]></Event><PublishEventInfo>\
         <publish_id>{publish_id}</publish_id><publish_status>0</publish_status>\
         <article_id><![CDATA[{article_id}]]></article_id>\
         <article_detail><count>{count}</count>{items}</article_detail>\
         </PublishEventInfo></xml>",
        to = app.original_id(),
        publish_id = job.publish_id,
        article_id = job.article_id.as_deref().unwrap_or_default(),
        count = doc.urls.len(),
    )
}

/// Finishes every due job of the app, so lists show what WeChat would show.
async fn finish_due(sb: &Sandbox, app_id: &str) -> Result<(), StoreError> {
    for (publish_id, _) in sb.docs.all::<Value>(app_id, PENDING).await? {
        finish_if_due(sb, app_id, &publish_id).await?;
    }
    Ok(())
}

#[derive(Deserialize)]
struct PublishIdBody {
    #[serde(default)]
    publish_id: Value,
}

/// `POST /cgi-bin/freepublish/get`.
async fn get_job(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: PublishIdBody = json_body(&body)?;
    // SDKs send the id as a string or as a number; WeChat takes both.
    let publish_id = match &req.publish_id {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let app_id = &caller.app.app_id;
    let job = finish_if_due(&sb, app_id, &publish_id)
        .await?
        .ok_or_else(|| WxError::new(40097, "invalid args hint: [publish_id]"))?;
    let Some(article_id) = job.article_id else {
        return Ok(Json(json!({
            "publish_id": job.publish_id,
            "publish_status": 1,
            "fail_idx": [],
        }))
        .into_response());
    };
    let doc = published(&sb, app_id, &article_id)
        .await?
        .ok_or_else(WxError::system_busy)?;
    if doc.all_deleted() {
        return Ok(Json(json!({
            "publish_id": job.publish_id,
            "publish_status": 5,
            "article_id": article_id,
            "fail_idx": [],
        }))
        .into_response());
    }
    let items: Vec<Value> = doc
        .urls
        .iter()
        .enumerate()
        .filter(|(i, _)| !doc.deleted[*i])
        .map(|(i, url)| json!({ "idx": i + 1, "article_url": url }))
        .collect();
    Ok(Json(json!({
        "publish_id": job.publish_id,
        "publish_status": 0,
        "article_id": article_id,
        "article_detail": { "count": items.len(), "item": items },
        "fail_idx": [],
    }))
    .into_response())
}

async fn news_items(
    sb: &Sandbox,
    app_id: &str,
    doc: &Published,
    with_content: bool,
) -> Result<Vec<Value>, StoreError> {
    let mut items = Vec::with_capacity(doc.articles.len());
    for (i, article) in doc.articles.iter().enumerate() {
        let mut shown = shown_article(sb, app_id, article, &doc.urls[i], with_content).await?;
        shown.insert("is_deleted".into(), Value::Bool(doc.deleted[i]));
        items.push(Value::Object(shown));
    }
    Ok(items)
}

#[derive(Deserialize)]
struct ArticleIdBody {
    #[serde(default)]
    article_id: String,
    #[serde(default)]
    index: i64,
}

/// `POST /cgi-bin/freepublish/getarticle`.
async fn get_article(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: ArticleIdBody = json_body(&body)?;
    let app_id = &caller.app.app_id;
    let doc = published(&sb, app_id, &req.article_id)
        .await?
        .ok_or_else(invalid_article_id)?;
    let items = news_items(&sb, app_id, &doc, true).await?;
    Ok(Json(json!({ "news_item": items })).into_response())
}

/// `POST /cgi-bin/freepublish/delete`.
async fn delete(State(sb): State<Sandbox>, caller: ApiCaller, body: axum::body::Bytes) -> WxResult {
    let req: ArticleIdBody = json_body(&body)?;
    let now = sb.now_ms() / 1000;
    let app_id = &caller.app.app_id;
    let after = sb
        .docs
        .update(app_id, KIND, &req.article_id, |d: Option<Published>| {
            let mut d = d.ok_or_else(invalid_article_id)?;
            match usize::try_from(req.index) {
                Ok(0) => d.deleted.iter_mut().for_each(|x| *x = true),
                Ok(i) if i <= d.deleted.len() => d.deleted[i - 1] = true,
                _ => return Err(WxError::new(40060, "invalid article_idx")),
            }
            d.update_time = now;
            Ok::<_, WxError>((d.clone(), d))
        })
        .await??;
    if after.all_deleted() {
        sb.docs
            .set(app_id, DELETED, &req.article_id, &after)
            .await?;
        sb.docs.delete(app_id, KIND, &req.article_id).await?;
    }
    Ok(crate::error::ok())
}

/// `POST /cgi-bin/freepublish/batchget`.
async fn batchget(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: Page = json_body(&body)?;
    let (offset, count) = req.bounds()?;
    let app_id = &caller.app.app_id;
    finish_due(&sb, app_id).await?;
    let total = sb.docs.count(app_id, KIND).await?;
    let newest: Vec<(String, Published)> = sb.docs.newest(app_id, KIND, offset + count).await?;
    let mut items = Vec::new();
    for (article_id, d) in newest.iter().skip(offset) {
        let news_item = news_items(&sb, app_id, d, req.no_content != 1).await?;
        items.push(json!({
            "article_id": article_id,
            "content": {
                "news_item": news_item,
                "create_time": d.create_time,
                "update_time": d.update_time,
            },
            "update_time": d.update_time,
        }));
    }
    Ok(Json(json!({
        "total_count": total,
        "item_count": items.len(),
        "item": items,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_finish_event_is_one_the_protocol_crate_reads() {
        let app = crate::SandboxApp {
            app_id: "wx1234567890abcdef".into(),
            app_secret: String::new(),
            token: "t".into(),
            encoding_aes_key: String::new(),
            security_mode: "plaintext".into(),
            callback_url: String::new(),
            kind: "service".into(),
            verified: true,
        };
        let job = Job {
            publish_id: "2247483661".into(),
            msg_data_id: 1,
            articles: vec![Article::default()],
            draft_media_id: "m".into(),
            submitted_at: 0,
            base: "http://h".into(),
            article_id: Some("ART".into()),
        };
        let doc = published_doc(&job, "ART", 1);
        let xml = finish_event_xml(&app, &job, &doc, 1_700_000_000);
        let m = wechat::Message::parse(&xml).expect("parses");
        assert_eq!(m.to_user_name, app.original_id());
        assert!(xml.contains("<article_url><![CDATA[http://h/s/ART/1]]></article_url>"));
    }
}
