//! The article pipeline that replaced news material: drafts (草稿箱), publishing (发布能力)
//! and the published article pages (limits §2.7).
//!
//! Drafts:
//! - `POST /cgi-bin/draft/add {articles: [...]}` → `{media_id}`. 1–8 articles (none 44003,
//!   more 45008). Each: `article_type` `news` (default) or `newspic`; `title` 1–32 characters
//!   (empty 40227, longer 45003); `author` ≤ 16 (45110); `digest` ≤ 128 (45004), filled from
//!   the first 54 characters of the text when a single article leaves it empty; `content`
//!   present (44003), < 20,000 characters and < 1 MB (45002); `content_source_url` ≤ 1 KB
//!   (45005); `thumb_media_id` a permanent image or thumb of the account, required for news
//!   (40007 "invalid media_id", as WeChat answers a temporary or foreign id);
//!   `image_info.image_list[].image_media_id` likewise for newspic; `need_open_comment` and
//!   `only_fans_can_comment` 0 or 1 (40097).
//! - `POST /cgi-bin/draft/get {media_id}` → `{news_item: [...]}` with `url` (a preview
//!   page) and `thumb_url`; 40007 for unknown drafts.
//! - `POST /cgi-bin/draft/update {media_id, index, articles: {...}}`: replaces one article
//!   (index from 0; out of range 40060), checked as in `add`.
//! - `POST /cgi-bin/draft/delete {media_id}`; `GET /cgi-bin/draft/count` → `{total_count}`.
//! - `POST /cgi-bin/draft/batchget {offset, count (1–20, else 40097), no_content}` →
//!   `{total_count, item_count, item: [{media_id, content: {news_item, create_time,
//!   update_time}, update_time}]}`, newest first; `no_content: 1` leaves out `content`.
//!
//! Publishing and the article pages are in [`publish`] and [`page`]. Documents: kind
//! [`KIND`] keyed by media_id, kind [`publish::KIND`] keyed by article_id.

pub mod page;
pub mod publish;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::caller::{ApiCaller, json_body};
use crate::error::{WxError, WxResult};
use crate::media::{self, BaseUrl};
use crate::registry::StoreError;
use crate::{Sandbox, material};

/// Documents of this kind, keyed by media_id, hold drafts.
pub const KIND: &str = "draft";
pub const MAX_ARTICLES: usize = 8;
pub const MAX_TITLE_CHARS: usize = 32;
pub const MAX_AUTHOR_CHARS: usize = 16;
pub const MAX_DIGEST_CHARS: usize = 128;
/// How much of the text becomes the digest when there is none.
pub const AUTO_DIGEST_CHARS: usize = 54;
pub const MAX_CONTENT_CHARS: usize = 20_000;
pub const MAX_CONTENT_BYTES: usize = 1024 * 1024;
pub const MAX_SOURCE_URL_BYTES: usize = 1024;
/// Batch reads return at most this many per call.
pub const MAX_PAGE: i64 = 20;

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/draft/add", post(add))
        .route("/cgi-bin/draft/get", post(get_draft))
        .route("/cgi-bin/draft/update", post(update))
        .route("/cgi-bin/draft/delete", post(delete))
        .route("/cgi-bin/draft/count", get(count))
        .route("/cgi-bin/draft/batchget", post(batchget))
        .merge(publish::router())
        .merge(page::router())
}

/// One article as the merchant wrote it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Article {
    #[serde(default = "news")]
    pub article_type: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub content: String,
    #[serde(default)]
    pub content_source_url: String,
    #[serde(default)]
    pub thumb_media_id: String,
    #[serde(default)]
    pub show_cover_pic: i64,
    #[serde(default)]
    pub need_open_comment: i64,
    #[serde(default)]
    pub only_fans_can_comment: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pic_crop_235_1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pic_crop_1_1: Option<String>,
    /// Pictures of a `newspic` article: `{image_list: [{image_media_id}]}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_info: Option<ImageInfo>,
}

fn news() -> String {
    "news".to_string()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageInfo {
    #[serde(default)]
    pub image_list: Vec<ImageRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageRef {
    #[serde(default)]
    pub image_media_id: String,
}

/// A draft as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Draft {
    pub articles: Vec<Article>,
    /// Seconds since the epoch.
    pub create_time: i64,
    pub update_time: i64,
}

/// A draft of the app (for other groups: mass send sends drafts by media_id).
pub async fn draft(
    sb: &Sandbox,
    app_id: &str,
    media_id: &str,
) -> Result<Option<Draft>, StoreError> {
    sb.docs.get(app_id, KIND, media_id).await
}

fn invalid_args(what: &str) -> WxError {
    WxError::new(40097, format!("invalid args hint: [{what}]"))
}

fn empty_news() -> WxError {
    WxError::new(44003, "empty news data")
}

/// WeChat's checks of a set of articles; fills digests as WeChat does.
async fn checked_articles(
    sb: &Sandbox,
    app_id: &str,
    mut articles: Vec<Article>,
) -> Result<Vec<Article>, WxError> {
    if articles.is_empty() {
        return Err(empty_news());
    }
    if articles.len() > MAX_ARTICLES {
        return Err(WxError::new(45008, "article size out of limit"));
    }
    for article in &articles {
        check_article(sb, app_id, article).await?;
    }
    if let [single] = articles.as_mut_slice()
        && single.digest.is_empty()
    {
        single.digest = text_of(&single.content)
            .chars()
            .take(AUTO_DIGEST_CHARS)
            .collect();
    }
    Ok(articles)
}

async fn check_article(sb: &Sandbox, app_id: &str, a: &Article) -> Result<(), WxError> {
    check_fields(a)?;
    match a.article_type.as_str() {
        "news" => check_picture(sb, app_id, &a.thumb_media_id).await,
        _ => {
            let images = a
                .image_info
                .as_ref()
                .map(|i| i.image_list.as_slice())
                .unwrap_or_default();
            if images.is_empty() {
                return Err(invalid_args("image_info"));
            }
            for image in images {
                check_picture(sb, app_id, &image.image_media_id).await?;
            }
            if !a.thumb_media_id.is_empty() {
                check_picture(sb, app_id, &a.thumb_media_id).await?;
            }
            Ok(())
        }
    }
}

/// The checks that need nothing but the article itself.
fn check_fields(a: &Article) -> Result<(), WxError> {
    if !matches!(a.article_type.as_str(), "news" | "newspic") {
        return Err(invalid_args("article_type"));
    }
    if a.title.is_empty() {
        return Err(WxError::new(40227, "empty title"));
    }
    if a.title.chars().count() > MAX_TITLE_CHARS {
        return Err(WxError::new(45003, "title size out of limit"));
    }
    if a.author.chars().count() > MAX_AUTHOR_CHARS {
        return Err(WxError::new(45110, "author size out of limit"));
    }
    if a.digest.chars().count() > MAX_DIGEST_CHARS {
        return Err(WxError::new(45004, "description size out of limit"));
    }
    if a.content.is_empty() {
        return Err(empty_news());
    }
    if a.content.chars().count() >= MAX_CONTENT_CHARS || a.content.len() >= MAX_CONTENT_BYTES {
        return Err(WxError::new(45002, "content size out of limit"));
    }
    if a.content_source_url.len() > MAX_SOURCE_URL_BYTES {
        return Err(WxError::new(45005, "url size out of limit"));
    }
    for flag in [
        a.need_open_comment,
        a.only_fans_can_comment,
        a.show_cover_pic,
    ] {
        if !(0..=1).contains(&flag) {
            return Err(invalid_args("comment flags"));
        }
    }
    Ok(())
}

/// Covers and pictures must be the account's own permanent images.
async fn check_picture(sb: &Sandbox, app_id: &str, media_id: &str) -> Result<(), WxError> {
    match material::material(sb, app_id, media_id).await? {
        Some(m) if m.is_picture() => Ok(()),
        _ => Err(media::invalid_media_id()),
    }
}

/// The visible text of HTML: tags dropped, entities left as they are.
pub fn text_of(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An article as WeChat shows it back: its fields, `url`, and the cover's address.
pub async fn shown_article(
    sb: &Sandbox,
    app_id: &str,
    article: &Article,
    url: &str,
    with_content: bool,
) -> Result<Map<String, Value>, StoreError> {
    let mut shown = match serde_json::to_value(article) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    if !with_content {
        shown.remove("content");
    }
    shown.insert("url".into(), Value::String(url.to_string()));
    let thumb_url = match material::material(sb, app_id, &article.thumb_media_id).await? {
        Some(m) => m.url,
        None => String::new(),
    };
    shown.insert("thumb_url".into(), Value::String(thumb_url));
    Ok(shown)
}

/// Where a draft's preview page is.
fn preview_url(base: &BaseUrl, app_id: &str, media_id: &str, idx: usize) -> String {
    format!("{}/s/preview/{app_id}/{media_id}/{}", base.0, idx + 1)
}

async fn news_items(
    sb: &Sandbox,
    base: &BaseUrl,
    app_id: &str,
    media_id: &str,
    draft: &Draft,
    with_content: bool,
) -> Result<Vec<Value>, StoreError> {
    let mut items = Vec::with_capacity(draft.articles.len());
    for (idx, article) in draft.articles.iter().enumerate() {
        let url = preview_url(base, app_id, media_id, idx);
        items.push(Value::Object(
            shown_article(sb, app_id, article, &url, with_content).await?,
        ));
    }
    Ok(items)
}

#[derive(Deserialize)]
struct AddRequest {
    #[serde(default)]
    articles: Vec<Article>,
}

/// `POST /cgi-bin/draft/add`.
async fn add(State(sb): State<Sandbox>, caller: ApiCaller, body: axum::body::Bytes) -> WxResult {
    let req: AddRequest = json_body(&body)?;
    let app_id = &caller.app.app_id;
    let articles = checked_articles(&sb, app_id, req.articles).await?;
    let now = sb.now_ms() / 1000;
    let draft = Draft {
        articles,
        create_time: now,
        update_time: now,
    };
    let media_id = media::new_id(64);
    sb.docs.set(app_id, KIND, &media_id, &draft).await?;
    Ok(Json(json!({ "media_id": media_id })).into_response())
}

#[derive(Deserialize)]
struct MediaIdBody {
    #[serde(default)]
    media_id: String,
}

/// `POST /cgi-bin/draft/get`.
async fn get_draft(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    base: BaseUrl,
    body: axum::body::Bytes,
) -> WxResult {
    let req: MediaIdBody = json_body(&body)?;
    let app_id = &caller.app.app_id;
    let found = draft(&sb, app_id, &req.media_id)
        .await?
        .ok_or_else(media::invalid_media_id)?;
    let items = news_items(&sb, &base, app_id, &req.media_id, &found, true).await?;
    Ok(Json(json!({ "news_item": items })).into_response())
}

#[derive(Deserialize)]
struct UpdateRequest {
    #[serde(default)]
    media_id: String,
    #[serde(default)]
    index: i64,
    articles: Option<Article>,
}

/// `POST /cgi-bin/draft/update`.
async fn update(State(sb): State<Sandbox>, caller: ApiCaller, body: axum::body::Bytes) -> WxResult {
    let req: UpdateRequest = json_body(&body)?;
    let app_id = &caller.app.app_id;
    let article = req.articles.ok_or_else(empty_news)?;
    check_article(&sb, app_id, &article).await?;
    let now = sb.now_ms() / 1000;
    sb.docs
        .update(app_id, KIND, &req.media_id, |d: Option<Draft>| {
            let mut d = d.ok_or_else(media::invalid_media_id)?;
            let slot = usize::try_from(req.index)
                .ok()
                .and_then(|i| d.articles.get_mut(i))
                .ok_or_else(|| WxError::new(40060, "invalid article_idx"))?;
            *slot = article.clone();
            d.update_time = now;
            Ok::<_, WxError>((d, ()))
        })
        .await??;
    Ok(crate::error::ok())
}

/// `POST /cgi-bin/draft/delete`.
async fn delete(State(sb): State<Sandbox>, caller: ApiCaller, body: axum::body::Bytes) -> WxResult {
    let req: MediaIdBody = json_body(&body)?;
    if !sb
        .docs
        .delete(&caller.app.app_id, KIND, &req.media_id)
        .await?
    {
        return Err(media::invalid_media_id());
    }
    Ok(crate::error::ok())
}

/// `GET /cgi-bin/draft/count`.
async fn count(State(sb): State<Sandbox>, caller: ApiCaller) -> WxResult {
    let total = sb.docs.count(&caller.app.app_id, KIND).await?;
    Ok(Json(json!({ "total_count": total })).into_response())
}

/// A page request of `draft/batchget` and `freepublish/batchget`.
#[derive(Deserialize)]
pub struct Page {
    #[serde(default)]
    pub offset: i64,
    #[serde(default)]
    pub count: i64,
    #[serde(default)]
    pub no_content: i64,
}

impl Page {
    /// (offset, count) when WeChat takes them.
    pub fn bounds(&self) -> Result<(usize, usize), WxError> {
        if !(1..=MAX_PAGE).contains(&self.count) || self.offset < 0 {
            return Err(invalid_args("offset/count"));
        }
        Ok((self.offset as usize, self.count as usize))
    }
}

/// `POST /cgi-bin/draft/batchget`.
async fn batchget(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    base: BaseUrl,
    body: axum::body::Bytes,
) -> WxResult {
    let req: Page = json_body(&body)?;
    let (offset, count) = req.bounds()?;
    let app_id = &caller.app.app_id;
    let total = sb.docs.count(app_id, KIND).await?;
    let newest: Vec<(String, Draft)> = sb.docs.newest(app_id, KIND, offset + count).await?;
    let mut items = Vec::new();
    for (media_id, d) in newest.iter().skip(offset) {
        let news_item = news_items(&sb, &base, app_id, media_id, d, req.no_content != 1).await?;
        items.push(json!({
            "media_id": media_id,
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
    fn text_is_what_a_reader_sees() {
        assert_eq!(
            text_of("<p>你好，<b>世界</b></p>\n<p>second</p>"),
            "你好，世界 second"
        );
    }

    #[test]
    fn field_limits_follow_wechats_documentation() {
        let ok = Article {
            article_type: news(),
            title: "标".repeat(32),
            author: "作".repeat(16),
            digest: "摘".repeat(128),
            content: "<p>x</p>".into(),
            ..Article::default()
        };
        assert_eq!(check_fields(&ok), Ok(()));
        let code = |a: Article| check_fields(&a).map_err(|e| e.errcode).err();
        assert_eq!(
            code(Article {
                title: "标".repeat(33),
                ..ok.clone()
            }),
            Some(45003)
        );
        assert_eq!(
            code(Article {
                title: String::new(),
                ..ok.clone()
            }),
            Some(40227)
        );
        assert_eq!(
            code(Article {
                author: "作".repeat(17),
                ..ok.clone()
            }),
            Some(45110)
        );
        assert_eq!(
            code(Article {
                digest: "摘".repeat(129),
                ..ok.clone()
            }),
            Some(45004)
        );
        assert_eq!(
            code(Article {
                content: String::new(),
                ..ok.clone()
            }),
            Some(44003)
        );
        assert_eq!(
            code(Article {
                content: "字".repeat(20_000),
                ..ok.clone()
            }),
            Some(45002)
        );
        assert_eq!(
            code(Article {
                content_source_url: "u".repeat(1025),
                ..ok.clone()
            }),
            Some(45005)
        );
        assert_eq!(
            code(Article {
                need_open_comment: 2,
                ..ok.clone()
            }),
            Some(40097)
        );
        assert_eq!(
            code(Article {
                article_type: "video".into(),
                ..ok
            }),
            Some(40097)
        );
    }
}
