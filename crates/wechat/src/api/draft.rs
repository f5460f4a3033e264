//! Drafts (草稿箱): `/cgi-bin/draft/add`, `get`, `update`, `delete`, `count` and `batchget`.
//! Publishing a draft is [`super::publish`]; sending it to followers is a mass `mpnews`.
//!
//! A draft holds 1–8 articles. An article (`news`) needs a title (≤ 32 characters), HTML
//! content (< 20,000 characters, < 1 MB; images from `media/uploadimg` only) and a cover that
//! is a permanent image (`thumb_media_id`, see [`super::material`]); a picture post
//! (`newspic`) needs permanent images in `image_info` instead. A published or mass-sent draft
//! leaves the draft box.

use serde::{Deserialize, Serialize};

use super::wire::{flag, flag_as_int};
use super::{ApiError, Done};
use crate::token::TokenCache;

pub const ADD_PATH: &str = "/cgi-bin/draft/add";
pub const GET_PATH: &str = "/cgi-bin/draft/get";
pub const UPDATE_PATH: &str = "/cgi-bin/draft/update";
pub const DELETE_PATH: &str = "/cgi-bin/draft/delete";
pub const COUNT_PATH: &str = "/cgi-bin/draft/count";
pub const BATCHGET_PATH: &str = "/cgi-bin/draft/batchget";

/// Articles in one draft.
pub const MAX_ARTICLES: usize = 8;
/// Items in one `batchget` call.
pub const MAX_PAGE: u32 = 20;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArticleType {
    /// 图文消息: a titled article with a cover.
    #[default]
    News,
    /// 图片消息: pictures with a short text.
    Newspic,
}

/// One article, as written to a draft and as WeChat shows it back (then with `url`,
/// `thumb_url` and, once published, `is_deleted`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Article {
    #[serde(default)]
    pub article_type: ArticleType,
    pub title: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Single-article drafts only; WeChat takes the first 54 characters of the text when
    /// it is empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    #[serde(default)]
    pub content: String,
    /// "阅读原文" (read the original).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_source_url: String,
    /// The cover, a permanent image; required for `news`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub thumb_media_id: String,
    #[serde(default, deserialize_with = "flag", serialize_with = "flag_as_int")]
    pub need_open_comment: bool,
    #[serde(default, deserialize_with = "flag", serialize_with = "flag_as_int")]
    pub only_fans_can_comment: bool,
    /// Cover crops as `X1_Y1_X2_Y2` in the cover's 0–1 coordinates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pic_crop_235_1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pic_crop_1_1: Option<String>,
    /// The pictures of a `newspic` post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_info: Option<ImageInfo>,
    /// Shown by WeChat: the article's page (a preview for drafts).
    #[serde(default, skip_serializing)]
    pub url: Option<String>,
    /// Shown by WeChat: where the cover is.
    #[serde(default, skip_serializing)]
    pub thumb_url: Option<String>,
    /// Shown by WeChat for published articles.
    #[serde(default, skip_serializing)]
    pub is_deleted: Option<bool>,
}

impl Article {
    /// A `news` article with its cover.
    pub fn news(
        title: impl Into<String>,
        content: impl Into<String>,
        thumb_media_id: impl Into<String>,
    ) -> Article {
        Article {
            article_type: ArticleType::News,
            title: title.into(),
            content: content.into(),
            thumb_media_id: thumb_media_id.into(),
            ..Article::default()
        }
    }

    /// A `newspic` post of permanent images.
    pub fn newspic(
        title: impl Into<String>,
        content: impl Into<String>,
        images: &[&str],
    ) -> Article {
        Article {
            article_type: ArticleType::Newspic,
            title: title.into(),
            content: content.into(),
            image_info: Some(ImageInfo {
                image_list: images
                    .iter()
                    .map(|id| ImageRef {
                        image_media_id: id.to_string(),
                    })
                    .collect(),
            }),
            ..Article::default()
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    #[serde(default)]
    pub image_list: Vec<ImageRef>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub image_media_id: String,
}

#[derive(Serialize)]
struct AddBody<'a> {
    articles: &'a [Article],
}

#[derive(Serialize)]
struct MediaIdBody<'a> {
    media_id: &'a str,
}

#[derive(Deserialize)]
struct MediaId {
    media_id: String,
}

#[derive(Deserialize)]
pub(crate) struct NewsItems {
    #[serde(default)]
    pub news_item: Vec<Article>,
}

/// `POST /cgi-bin/draft/add {articles}` → the draft's `media_id`.
pub async fn add(tokens: &TokenCache, articles: &[Article]) -> Result<String, ApiError> {
    let answer: MediaId = tokens
        .post("draft.add", ADD_PATH, &AddBody { articles })
        .await?;
    Ok(answer.media_id)
}

/// `POST /cgi-bin/draft/get {media_id}` → its articles.
pub async fn get(tokens: &TokenCache, media_id: &str) -> Result<Vec<Article>, ApiError> {
    let answer: NewsItems = tokens
        .post("draft.get", GET_PATH, &MediaIdBody { media_id })
        .await?;
    Ok(answer.news_item)
}

#[derive(Serialize)]
struct UpdateBody<'a> {
    media_id: &'a str,
    index: u32,
    articles: &'a Article,
}

/// `POST /cgi-bin/draft/update {media_id, index, articles}`: replaces the article at `index`
/// (from 0).
pub async fn update(
    tokens: &TokenCache,
    media_id: &str,
    index: u32,
    article: &Article,
) -> Result<(), ApiError> {
    let body = UpdateBody {
        media_id,
        index,
        articles: article,
    };
    tokens
        .post::<_, Done>("draft.update", UPDATE_PATH, &body)
        .await
        .map(|_| ())
}

/// `POST /cgi-bin/draft/delete {media_id}`.
pub async fn delete(tokens: &TokenCache, media_id: &str) -> Result<(), ApiError> {
    tokens
        .post::<_, Done>("draft.delete", DELETE_PATH, &MediaIdBody { media_id })
        .await
        .map(|_| ())
}

/// `GET /cgi-bin/draft/count` → how many drafts there are.
pub async fn count(tokens: &TokenCache) -> Result<u64, ApiError> {
    #[derive(Deserialize)]
    struct Count {
        total_count: u64,
    }
    let answer: Count = tokens.get("draft.count", COUNT_PATH, &[]).await?;
    Ok(answer.total_count)
}

/// A page request of `draft/batchget` and `freepublish/batchget`.
#[derive(Serialize)]
pub(crate) struct PageBody {
    pub offset: u32,
    pub count: u32,
    #[serde(serialize_with = "flag_as_int")]
    pub no_content: bool,
}

/// One page of drafts, newest first.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DraftPage {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub item_count: u64,
    #[serde(default)]
    pub item: Vec<DraftItem>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DraftItem {
    pub media_id: String,
    pub content: PageContent,
    /// Seconds since the epoch.
    #[serde(default)]
    pub update_time: i64,
}

/// The articles of a listed draft or published set.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct PageContent {
    #[serde(default)]
    pub news_item: Vec<Article>,
    #[serde(default)]
    pub create_time: i64,
    #[serde(default)]
    pub update_time: i64,
}

/// `POST /cgi-bin/draft/batchget {offset, count, no_content}` (count 1–20); `no_content`
/// leaves out the articles' HTML.
pub async fn batchget(
    tokens: &TokenCache,
    offset: u32,
    count: u32,
    no_content: bool,
) -> Result<DraftPage, ApiError> {
    let body = PageBody {
        offset,
        count,
        no_content,
    };
    tokens.post("draft.batchget", BATCHGET_PATH, &body).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn documented_news() -> Article {
        Article {
            author: "AUTHOR".into(),
            digest: "DIGEST".into(),
            content_source_url: "CONTENT_SOURCE_URL".into(),
            pic_crop_235_1: Some("0.1945_0_1_0.5236".into()),
            pic_crop_1_1: Some("0.166454_0_0.833545_1".into()),
            ..Article::news("TITLE", "CONTENT", "THUMB_MEDIA_ID")
        }
    }

    #[test]
    fn the_add_body_matches_wechats_example() {
        let articles = [
            documented_news(),
            Article::newspic("TITLE", "CONTENT", &["IMAGE_MEDIA_ID"]),
        ];
        assert_eq!(
            serde_json::to_value(AddBody {
                articles: &articles
            })
            .expect("json"),
            json!({"articles": [
                {"article_type": "news", "title": "TITLE", "author": "AUTHOR",
                 "digest": "DIGEST", "content": "CONTENT",
                 "content_source_url": "CONTENT_SOURCE_URL", "thumb_media_id": "THUMB_MEDIA_ID",
                 "need_open_comment": 0, "only_fans_can_comment": 0,
                 "pic_crop_235_1": "0.1945_0_1_0.5236", "pic_crop_1_1": "0.166454_0_0.833545_1"},
                {"article_type": "newspic", "title": "TITLE", "content": "CONTENT",
                 "need_open_comment": 0, "only_fans_can_comment": 0,
                 "image_info": {"image_list": [{"image_media_id": "IMAGE_MEDIA_ID"}]}}]})
        );
    }

    #[test]
    fn the_update_and_page_bodies_match_wechats_examples() {
        let article = Article {
            need_open_comment: true,
            ..documented_news()
        };
        let v = serde_json::to_value(UpdateBody {
            media_id: "MEDIA_ID",
            index: 0,
            articles: &article,
        })
        .expect("json");
        assert_eq!(v["media_id"], "MEDIA_ID");
        assert_eq!(v["index"], 0);
        assert_eq!(v["articles"]["title"], "TITLE");
        assert_eq!(v["articles"]["need_open_comment"], 1);
        assert_eq!(
            serde_json::to_value(PageBody {
                offset: 0,
                count: 20,
                no_content: true
            })
            .expect("json"),
            json!({"offset": 0, "count": 20, "no_content": 1})
        );
    }

    #[test]
    fn answers_of_wechats_examples_are_read() {
        let got: NewsItems = serde_json::from_value(json!({"news_item": [{
            "article_type": "news", "title": "TITLE", "author": "AUTHOR", "digest": "DIGEST",
            "content": "CONTENT", "content_source_url": "CONTENT_SOURCE_URL",
            "thumb_media_id": "THUMB_MEDIA_ID", "show_cover_pic": 0, "need_open_comment": 0,
            "only_fans_can_comment": 0, "url": "URL", "thumb_url": "THUMB_URL"}]}))
        .expect("draft/get");
        let a = &got.news_item[0];
        assert_eq!(a.url.as_deref(), Some("URL"));
        assert_eq!(a.thumb_url.as_deref(), Some("THUMB_URL"));
        assert!(!a.need_open_comment);
        // Shown fields are never sent back.
        let back = serde_json::to_value(a).expect("json");
        assert!(back.get("url").is_none() && back.get("thumb_url").is_none());
        let page: DraftPage = serde_json::from_value(json!({
            "total_count": 1, "item_count": 1,
            "item": [{"media_id": "MEDIA_ID",
                      "content": {"news_item": [{"title": "TITLE", "content": "CONTENT",
                                                 "thumb_media_id": "T", "url": "URL"}]},
                      "update_time": 1700000000}]}))
        .expect("draft/batchget");
        assert_eq!(page.item[0].content.news_item[0].title, "TITLE");
        assert_eq!(page.item[0].update_time, 1_700_000_000);
        let no_type: Article = serde_json::from_value(json!({"title": "T"})).expect("old");
        assert_eq!(no_type.article_type, ArticleType::News);
    }
}
