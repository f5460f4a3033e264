//! Follower inboxes: everything the account pushes to a follower (customer-service, mass and
//! template messages) as the follower's phone would show it, so that the phone simulator and
//! tests can see what arrived.
//!
//! - [`push`] / [`read`]: documents of kind `inbox:{openid}`, keyed by arrival (zero-padded
//!   milliseconds and a sequence), so listing them in key order is listing them by arrival.
//! - `GET /api/apps/{app_id}/followers/{openid}/inbox?after=&limit=` (the sandbox's own API):
//!   the items after `after`, oldest first and newest last, each with its `id` to poll on from.
//!
//! Also what the push modules share: how an `mpnews` media_id reads as articles (from the
//! `material` or `draft` documents another module keeps), message ids, and XML text escaping
//! for the events WeChat posts when a push job ends.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Sandbox;
use crate::error::{WxError, WxResult};
use crate::registry::StoreError;

pub fn router() -> Router<Sandbox> {
    Router::new().route(
        "/api/apps/{app_id}/followers/{openid}/inbox",
        get(inbox_endpoint),
    )
}

/// The document kind holding one follower's inbox.
pub fn kind_of(openid: &str) -> String {
    format!("inbox:{openid}")
}

/// Which API pushed an item.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Custom,
    Mass,
    Template,
}

/// One pushed message as the follower sees it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct InboxItem {
    pub source: Source,
    /// WeChat's msgtype (`text`, `image`, `news`, `mpnews`, …; `template` for templates).
    #[serde(rename = "type")]
    pub msgtype: String,
    /// What the phone shows, shaped per type: `{content}` for text, `{media_id}` for media,
    /// `{articles: [{title, description, url, picurl}]}` for news, `{title, text, data, url}`
    /// for a rendered template.
    pub content: Value,
    /// Arrival, in seconds since the epoch (WeChat's `CreateTime` unit).
    pub time: i64,
    /// The mass `msg_id` or template `msgid` this item came with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<u64>,
    /// The customer-service account that sent it, when the merchant named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kf_account: Option<String>,
    /// A mass preview rather than a real mass send.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preview: bool,
}

/// Breaks ties between items pushed in the same millisecond (the test clock stands still), so
/// that this process's pushes keep their order.
static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// How often a push looks for a free key when other instances used the same one.
const MAX_KEY_ATTEMPTS: usize = 8;

fn arrival_key(now_ms: i64) -> String {
    let seq = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    format!("{:015}-{:010}", now_ms.max(0), seq % 10_000_000_000)
}

/// Puts `item` at the end of the follower's inbox; returns its key.
pub async fn push(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    item: &InboxItem,
) -> Result<String, StoreError> {
    let kind = kind_of(openid);
    for _ in 0..MAX_KEY_ATTEMPTS {
        let key = arrival_key(sb.now_ms());
        if sb.docs.create(app_id, &kind, &key, item).await? {
            return Ok(key);
        }
    }
    Err(StoreError(format!(
        "{kind}: no free key after {MAX_KEY_ATTEMPTS} attempts"
    )))
}

/// The items after `after` (all when `None`), oldest first, at most `limit`.
pub async fn read(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    after: Option<&str>,
    limit: usize,
) -> Result<Vec<(String, InboxItem)>, StoreError> {
    sb.docs.list(app_id, &kind_of(openid), after, limit).await
}

/// Items one poll returns unless it asks for fewer.
pub const DEFAULT_PAGE: usize = 100;
pub const MAX_PAGE: usize = 1000;

#[derive(Deserialize)]
pub(crate) struct InboxQuery {
    after: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct Listed {
    id: String,
    #[serde(flatten)]
    item: InboxItem,
}

/// `GET /api/apps/{app_id}/followers/{openid}/inbox?after=&limit=` →
/// `{"items": [{id, source, type, content, time, …}], "next_after": id}`.
#[utoipa::path(get, path = "/api/apps/{app_id}/followers/{openid}/inbox", tag = "sandbox",
    summary = "What the account pushed to a follower (customer-service, mass, template)",
    description = "Oldest first; pass the last `next_after` as `after` to get only newer items.",
    params(("app_id" = String, Path), ("openid" = String, Path),
        ("after" = Option<String>, Query), ("limit" = Option<usize>, Query)),
    responses((status = 200, description = "`{items: [{id, source, type, content, time}], next_after}`"),
        (status = 404, body = crate::error::WxErrorBody)))]
pub(crate) async fn inbox_endpoint(
    State(sb): State<Sandbox>,
    Path((app_id, openid)): Path<(String, String)>,
    Query(q): Query<InboxQuery>,
) -> WxResult {
    crate::known_app(&sb, &app_id).await?;
    if crate::followers::follower(&sb, &app_id, &openid)
        .await?
        .is_none()
    {
        return Err(WxError::invalid_openid().with_status(StatusCode::NOT_FOUND));
    }
    let after = q.after.filter(|a| !a.is_empty());
    let limit = q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let items = read(&sb, &app_id, &openid, after.as_deref(), limit).await?;
    let next_after = items.last().map(|(k, _)| k.clone()).or(after);
    let items: Vec<Listed> = items
        .into_iter()
        .map(|(id, item)| Listed { id, item })
        .collect();
    Ok(Json(json!({ "items": items, "next_after": next_after })).into_response())
}

/// Document kinds where another module keeps permanent news material and drafts, keyed by
/// media_id: what an `mpnews` message may point at.
pub const ARTICLE_KINDS: [&str; 2] = ["material", "draft"];

/// The articles of the news material or draft `media_id`, as `{title, description, url,
/// picurl}`; `None` when there is no such news. A `material` document that declares another
/// `type` (an image, say) is not news.
pub async fn news_articles(
    sb: &Sandbox,
    app_id: &str,
    media_id: &str,
) -> Result<Option<Vec<Value>>, StoreError> {
    for kind in ARTICLE_KINDS {
        let Some(doc) = sb.docs.get::<Value>(app_id, kind, media_id).await? else {
            continue;
        };
        let items = news_items(&doc);
        let declared = doc.get("type").and_then(Value::as_str);
        if items.is_none() && declared.is_some_and(|t| t != "news") {
            return Ok(None);
        }
        let articles = items.unwrap_or_default().iter().map(article_card).collect();
        return Ok(Some(articles));
    }
    Ok(None)
}

/// WeChat's news documents hold their articles in `news_item` (materials, drafts) or
/// `articles`, sometimes under `content`.
fn news_items(doc: &Value) -> Option<Vec<Value>> {
    let found = ["news_item", "articles"]
        .iter()
        .find_map(|k| doc.get(*k).or_else(|| doc.get("content")?.get(*k)));
    found.and_then(Value::as_array).cloned()
}

/// An article as the phone shows its card.
fn article_card(article: &Value) -> Value {
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| article.get(*k).and_then(Value::as_str))
            .unwrap_or_default()
            .to_string()
    };
    json!({
        "title": text(&["title"]),
        "description": text(&["digest", "description"]),
        "url": text(&["url", "content_source_url"]),
        "picurl": text(&["thumb_url", "picurl"]),
    })
}

/// Document kind of the per-app counters behind message ids.
const SEQUENCES: &str = "msg_seq";

#[derive(Default, Deserialize, Serialize)]
struct Counter {
    next: u64,
}

/// The next id of the app's sequence `name`, starting at `first`: ids WeChat hands out grow.
pub async fn next_id(
    sb: &Sandbox,
    app_id: &str,
    name: &str,
    first: u64,
) -> Result<u64, StoreError> {
    sb.docs
        .update(app_id, SEQUENCES, name, |c: Option<Counter>| {
            let id = c.map_or(first, |c| c.next.max(first));
            Ok::<_, StoreError>((Counter { next: id + 1 }, id))
        })
        .await?
}

/// The string `body[object][field]`, required and non-empty: WeChat reads a message that
/// lacks it as malformed (47001).
pub fn required_text<'a>(body: &'a Value, object: &str, field: &str) -> Result<&'a str, WxError> {
    optional_text(body, object, field)
        .filter(|s| !s.is_empty())
        .ok_or_else(WxError::data_format_error)
}

/// The string `body[object][field]`, if there is one.
pub fn optional_text<'a>(body: &'a Value, object: &str, field: &str) -> Option<&'a str> {
    body.get(object)?.get(field)?.as_str()
}

/// WeChat's answer to a media_id that names no usable media.
pub fn invalid_media_id() -> WxError {
    WxError::new(40007, "invalid media_id")
}

/// `s` as XML character data, safe whatever it contains.
pub fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_keys_sort_by_time_then_sequence() {
        let a = arrival_key(1_796_011_200_000);
        let b = arrival_key(1_796_011_200_000);
        let c = arrival_key(1_796_011_200_001);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert!(arrival_key(999) < arrival_key(1_000), "zero-padded");
    }

    #[test]
    fn news_documents_read_as_article_cards() {
        let draft = json!({"news_item": [{"title": "上新", "digest": "秋季新品",
            "url": "https://mp.weixin.qq.com/s/x", "thumb_url": "https://mmbiz.qpic.cn/p"}]});
        let items = news_items(&draft).expect("news_item");
        assert_eq!(
            article_card(&items[0]),
            json!({"title": "上新", "description": "秋季新品",
                   "url": "https://mp.weixin.qq.com/s/x", "picurl": "https://mmbiz.qpic.cn/p"})
        );
        let nested = json!({"content": {"news_item": [{"title": "t"}]}});
        assert_eq!(news_items(&nested).map(|a| a.len()), Some(1));
        assert!(news_items(&json!({"type": "image", "url": "u"})).is_none());
    }

    #[test]
    fn cdata_survives_its_own_terminator() {
        assert_eq!(cdata("a]]>b"), "<![CDATA[a]]]]><![CDATA[>b]]>");
    }
}
