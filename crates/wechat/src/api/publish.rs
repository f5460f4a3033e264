//! Publishing (发布能力): `/cgi-bin/freepublish/submit`, `get`, `getarticle`, `delete` and
//! `batchget`.
//!
//! `submit` starts a job and answers at once with its `publish_id`; the result comes later as
//! the `PUBLISHJOBFINISH` event, or by polling `get` until `publish_status` is no longer 1
//! (publishing). A published draft leaves the draft box; its articles get permanent URLs and
//! an `article_id` (for menus' `article_id` buttons and customer-service `mpnewsarticle`).

use serde::{Deserialize, Serialize};

use super::draft::{Article, NewsItems, PageBody, PageContent};
use super::wire::{opt_string_or_number, string_or_number};
use super::{ApiError, Done};
use crate::token::TokenCache;

pub const SUBMIT_PATH: &str = "/cgi-bin/freepublish/submit";
pub const GET_PATH: &str = "/cgi-bin/freepublish/get";
pub const GET_ARTICLE_PATH: &str = "/cgi-bin/freepublish/getarticle";
pub const DELETE_PATH: &str = "/cgi-bin/freepublish/delete";
pub const BATCHGET_PATH: &str = "/cgi-bin/freepublish/batchget";

/// What `submit` answers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Submitted {
    /// A string in WeChat's documentation, a number in some answers.
    #[serde(deserialize_with = "string_or_number")]
    pub publish_id: String,
    #[serde(default, deserialize_with = "opt_string_or_number")]
    pub msg_data_id: Option<String>,
}

/// Where a publish job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishState {
    /// 0: published.
    Published,
    /// 1: still publishing; ask again later.
    Publishing,
    /// 2: refused by the originality check.
    OriginalityFailed,
    /// 3: failed.
    Failed,
    /// 4: refused by WeChat's review.
    Rejected,
    /// 5: published, then every article was deleted.
    Deleted,
    /// 6: published, then every article was banned.
    Banned,
    Other(i64),
}

impl PublishState {
    pub fn of(code: i64) -> PublishState {
        match code {
            0 => PublishState::Published,
            1 => PublishState::Publishing,
            2 => PublishState::OriginalityFailed,
            3 => PublishState::Failed,
            4 => PublishState::Rejected,
            5 => PublishState::Deleted,
            6 => PublishState::Banned,
            other => PublishState::Other(other),
        }
    }

    /// Whether the job is over (anything but publishing).
    pub fn is_final(self) -> bool {
        self != PublishState::Publishing
    }
}

/// What `freepublish/get` answers.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PublishStatus {
    #[serde(deserialize_with = "string_or_number")]
    pub publish_id: String,
    pub publish_status: i64,
    /// Once published.
    #[serde(default)]
    pub article_id: Option<String>,
    #[serde(default)]
    pub article_detail: Option<ArticleDetail>,
    /// The articles (from 1) that failed.
    #[serde(default)]
    pub fail_idx: Vec<u32>,
}

impl PublishStatus {
    pub fn state(&self) -> PublishState {
        PublishState::of(self.publish_status)
    }

    /// The published articles' URLs, by index from 1.
    pub fn article_urls(&self) -> Vec<(u32, &str)> {
        self.article_detail
            .as_ref()
            .map(|d| {
                d.item
                    .iter()
                    .map(|i| (i.idx, i.article_url.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ArticleDetail {
    #[serde(default)]
    pub count: u32,
    #[serde(default)]
    pub item: Vec<PublishedUrl>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PublishedUrl {
    pub idx: u32,
    pub article_url: String,
}

#[derive(Serialize)]
struct MediaIdBody<'a> {
    media_id: &'a str,
}

#[derive(Serialize)]
struct PublishIdBody<'a> {
    publish_id: &'a str,
}

#[derive(Serialize)]
struct ArticleIdBody<'a> {
    article_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u32>,
}

/// `POST /cgi-bin/freepublish/submit {media_id}`: publishes a draft.
pub async fn submit(tokens: &TokenCache, media_id: &str) -> Result<Submitted, ApiError> {
    tokens
        .post("publish.submit", SUBMIT_PATH, &MediaIdBody { media_id })
        .await
}

/// `POST /cgi-bin/freepublish/get {publish_id}`.
pub async fn get(tokens: &TokenCache, publish_id: &str) -> Result<PublishStatus, ApiError> {
    tokens
        .post("publish.get", GET_PATH, &PublishIdBody { publish_id })
        .await
}

/// `POST /cgi-bin/freepublish/getarticle {article_id}` → the published articles (with their
/// `url` and `is_deleted`).
pub async fn get_article(tokens: &TokenCache, article_id: &str) -> Result<Vec<Article>, ApiError> {
    let body = ArticleIdBody {
        article_id,
        index: None,
    };
    let answer: NewsItems = tokens
        .post("publish.getarticle", GET_ARTICLE_PATH, &body)
        .await?;
    Ok(answer.news_item)
}

/// `POST /cgi-bin/freepublish/delete {article_id, index}`: the article at `index` (from 1),
/// or all of them for `None`. Deleted articles cannot be brought back.
pub async fn delete(
    tokens: &TokenCache,
    article_id: &str,
    index: Option<u32>,
) -> Result<(), ApiError> {
    let body = ArticleIdBody {
        article_id,
        index: Some(index.unwrap_or(0)),
    };
    tokens
        .post::<_, Done>("publish.delete", DELETE_PATH, &body)
        .await
        .map(|_| ())
}

/// One page of published sets, newest first.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PublishedPage {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub item_count: u64,
    #[serde(default)]
    pub item: Vec<PublishedItem>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PublishedItem {
    pub article_id: String,
    pub content: PageContent,
    #[serde(default)]
    pub update_time: i64,
}

/// `POST /cgi-bin/freepublish/batchget {offset, count, no_content}` (count 1–20).
pub async fn batchget(
    tokens: &TokenCache,
    offset: u32,
    count: u32,
    no_content: bool,
) -> Result<PublishedPage, ApiError> {
    let body = PageBody {
        offset,
        count,
        no_content,
    };
    tokens.post("publish.batchget", BATCHGET_PATH, &body).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_match_wechats_examples() {
        assert_eq!(
            serde_json::to_value(MediaIdBody {
                media_id: "MEDIA_ID"
            })
            .expect("json"),
            json!({"media_id": "MEDIA_ID"})
        );
        assert_eq!(
            serde_json::to_value(PublishIdBody {
                publish_id: "100000001"
            })
            .expect("json"),
            json!({"publish_id": "100000001"})
        );
        assert_eq!(
            serde_json::to_value(ArticleIdBody {
                article_id: "ARTICLE_ID",
                index: Some(1)
            })
            .expect("json"),
            json!({"article_id": "ARTICLE_ID", "index": 1})
        );
        assert_eq!(
            serde_json::to_value(ArticleIdBody {
                article_id: "ARTICLE_ID",
                index: None
            })
            .expect("json"),
            json!({"article_id": "ARTICLE_ID"})
        );
    }

    #[test]
    fn answers_of_wechats_examples_are_read() {
        let submitted: Submitted = serde_json::from_value(json!({
            "errcode": 0, "errmsg": "ok", "publish_id": "100000001", "msg_data_id": 2247483661u64}))
        .expect("submit");
        assert_eq!(submitted.publish_id, "100000001");
        assert_eq!(submitted.msg_data_id.as_deref(), Some("2247483661"));
        let done: PublishStatus = serde_json::from_value(json!({
            "publish_id": "100000001", "publish_status": 0, "article_id": "ARTICLE_ID",
            "article_detail": {"count": 1, "item": [{"idx": 1, "article_url": "ARTICLE_URL"}]},
            "fail_idx": []}))
        .expect("get");
        assert_eq!(done.state(), PublishState::Published);
        assert_eq!(done.article_urls(), vec![(1, "ARTICLE_URL")]);
        // Seen in the wild: a numeric publish_id and a failure.
        let failed: PublishStatus = serde_json::from_value(json!({
            "publish_id": 2247483655u64, "publish_status": 3, "fail_idx": [1]}))
        .expect("failed");
        assert_eq!(failed.publish_id, "2247483655");
        assert_eq!(failed.state(), PublishState::Failed);
        assert!(failed.state().is_final());
        assert!(!PublishState::of(1).is_final());
        let page: PublishedPage = serde_json::from_value(json!({
            "total_count": 1, "item_count": 1,
            "item": [{"article_id": "ARTICLE_ID",
                      "content": {"news_item": [{"title": "TITLE", "content": "CONTENT",
                                                 "thumb_media_id": "T", "url": "URL",
                                                 "is_deleted": false}],
                                  "create_time": 1700000000, "update_time": 1700000001},
                      "update_time": 1700000001}]}))
        .expect("batchget");
        assert_eq!(page.item[0].content.news_item[0].is_deleted, Some(false));
    }
}
