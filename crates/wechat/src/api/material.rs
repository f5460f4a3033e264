//! Permanent material (永久素材): `/cgi-bin/material/add_material`, `get_material`,
//! `del_material`, `get_materialcount` and `batchget_material`.
//!
//! Covers of articles (`thumb_media_id`) and pictures of `newspic` drafts must be permanent
//! images. Limits: 100,000 images, 1,000 voices, 1,000 videos. Videos need a title
//! (`description` form field). News material can no longer be made: articles are drafts now
//! (see [`super::draft`]), but old news still lists and reads.

use serde::{Deserialize, Serialize};

use super::draft::Article;
use super::media::{MediaType, post_for_file, upload_multipart};
use super::wire::{self, File, FileOrJson, Upload};
use super::{ApiError, Done};
use crate::token::TokenCache;

pub const ADD_PATH: &str = "/cgi-bin/material/add_material";
pub const GET_PATH: &str = "/cgi-bin/material/get_material";
pub const DEL_PATH: &str = "/cgi-bin/material/del_material";
pub const COUNT_PATH: &str = "/cgi-bin/material/get_materialcount";
pub const BATCHGET_PATH: &str = "/cgi-bin/material/batchget_material";

/// Items in one `batchget_material` call.
pub const MAX_PAGE: u32 = 20;

/// What a video material says of itself (the `description` form field).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoDescription {
    pub title: String,
    pub introduction: String,
}

/// What `add_material` answers: `url` for images and thumbs (usable inside articles too).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct AddedMaterial {
    pub media_id: String,
    #[serde(default)]
    pub url: Option<String>,
}

/// `POST /cgi-bin/material/add_material?type=`: `video` must come with a description.
pub async fn add(
    tokens: &TokenCache,
    media_type: MediaType,
    file: &Upload,
    video: Option<&VideoDescription>,
) -> Result<AddedMaterial, ApiError> {
    let mut fields = Vec::new();
    if let Some(description) = video {
        let json = serde_json::to_string(description)
            .map_err(|e| ApiError::Protocol(format!("cannot encode the description: {e}")))?;
        fields.push(("description", json));
    }
    upload_multipart(
        tokens,
        "material.add",
        ADD_PATH,
        &[("type", media_type.as_str())],
        file,
        &fields,
    )
    .await
}

/// What `get_material` gives back.
#[derive(Clone, Debug, PartialEq)]
pub enum Material {
    /// Images, voices and thumbs: the file.
    File(File),
    Video {
        title: String,
        description: String,
        down_url: String,
    },
    /// Old news material.
    News { news_item: Vec<Article> },
}

#[derive(Serialize)]
struct MediaIdBody<'a> {
    media_id: &'a str,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MaterialJson {
    News {
        news_item: Vec<Article>,
    },
    Video {
        #[serde(default)]
        title: String,
        #[serde(default)]
        description: String,
        down_url: String,
    },
}

fn material_of(answer: FileOrJson) -> Result<Material, ApiError> {
    match answer {
        FileOrJson::File(file) => Ok(Material::File(file)),
        FileOrJson::Json(v) => Ok(match wire::json_as::<MaterialJson>(v)? {
            MaterialJson::News { news_item } => Material::News { news_item },
            MaterialJson::Video {
                title,
                description,
                down_url,
            } => Material::Video {
                title,
                description,
                down_url,
            },
        }),
    }
}

/// `POST /cgi-bin/material/get_material {media_id}`.
pub async fn get(tokens: &TokenCache, media_id: &str) -> Result<Material, ApiError> {
    let answer = post_for_file(tokens, "material.get", GET_PATH, &MediaIdBody { media_id }).await?;
    material_of(answer)
}

/// `POST /cgi-bin/material/del_material {media_id}`.
pub async fn delete(tokens: &TokenCache, media_id: &str) -> Result<(), ApiError> {
    tokens
        .post::<_, Done>("material.del", DEL_PATH, &MediaIdBody { media_id })
        .await
        .map(|_| ())
}

/// How many materials of each type the account has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct MaterialCount {
    #[serde(default)]
    pub voice_count: u64,
    #[serde(default)]
    pub video_count: u64,
    #[serde(default)]
    pub image_count: u64,
    #[serde(default)]
    pub news_count: u64,
}

/// `GET /cgi-bin/material/get_materialcount`.
pub async fn count(tokens: &TokenCache) -> Result<MaterialCount, ApiError> {
    tokens.get("material.count", COUNT_PATH, &[]).await
}

/// What `batchget_material` lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListedType {
    Image,
    Video,
    Voice,
    News,
}

#[derive(Serialize)]
struct BatchGet {
    #[serde(rename = "type")]
    listed: ListedType,
    offset: u32,
    count: u32,
}

/// One page of materials, newest first.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MaterialPage {
    #[serde(default)]
    pub total_count: u64,
    #[serde(default)]
    pub item_count: u64,
    #[serde(default)]
    pub item: Vec<MaterialItem>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct MaterialItem {
    pub media_id: String,
    /// The uploaded file's name (not for news).
    #[serde(default)]
    pub name: Option<String>,
    /// Seconds since the epoch.
    #[serde(default)]
    pub update_time: i64,
    #[serde(default)]
    pub url: Option<String>,
    /// The articles, for news.
    #[serde(default)]
    pub content: Option<NewsContent>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct NewsContent {
    #[serde(default)]
    pub news_item: Vec<Article>,
}

/// `POST /cgi-bin/material/batchget_material {type, offset, count}` (count 1–20).
pub async fn batchget(
    tokens: &TokenCache,
    listed: ListedType,
    offset: u32,
    count: u32,
) -> Result<MaterialPage, ApiError> {
    let body = BatchGet {
        listed,
        offset,
        count,
    };
    tokens.post("material.batchget", BATCHGET_PATH, &body).await
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
            serde_json::to_value(BatchGet {
                listed: ListedType::Image,
                offset: 0,
                count: 20
            })
            .expect("json"),
            json!({"type": "image", "offset": 0, "count": 20})
        );
        let description = VideoDescription {
            title: "VIDEO_TITLE".into(),
            introduction: "INTRODUCTION".into(),
        };
        assert_eq!(
            serde_json::to_value(&description).expect("json"),
            json!({"title": "VIDEO_TITLE", "introduction": "INTRODUCTION"})
        );
    }

    #[test]
    fn answers_of_wechats_examples_are_read() {
        let added: AddedMaterial =
            serde_json::from_value(json!({"media_id": "MEDIA_ID", "url": "URL"}))
                .expect("add_material");
        assert_eq!(added.url.as_deref(), Some("URL"));
        let video = material_of(FileOrJson::Json(json!({
            "title": "TITLE", "description": "DESCRIPTION", "down_url": "DOWN_URL"})));
        assert_eq!(
            video.ok(),
            Some(Material::Video {
                title: "TITLE".into(),
                description: "DESCRIPTION".into(),
                down_url: "DOWN_URL".into()
            })
        );
        let news = material_of(FileOrJson::Json(json!({"news_item": [{
            "title": "TITLE", "thumb_media_id": "THUMB_MEDIA_ID", "show_cover_pic": 1,
            "author": "AUTHOR", "digest": "DIGEST", "content": "CONTENT", "url": "URL",
            "content_source_url": "CONTENT_SOURCE_URL"}]})));
        match news {
            Ok(Material::News { news_item }) => {
                assert_eq!(news_item[0].thumb_media_id, "THUMB_MEDIA_ID");
                assert_eq!(news_item[0].url.as_deref(), Some("URL"));
            }
            other => panic!("not news: {other:?}"),
        }
        let count: MaterialCount = serde_json::from_value(json!({
            "voice_count": 1, "video_count": 2, "image_count": 3, "news_count": 4}))
        .expect("count");
        assert_eq!(count.news_count, 4);
        let page: MaterialPage = serde_json::from_value(json!({
            "total_count": 1, "item_count": 1,
            "item": [{"media_id": "MEDIA_ID", "name": "NAME", "update_time": 12345,
                      "url": "URL"}]}))
        .expect("batchget");
        assert_eq!(page.item[0].name.as_deref(), Some("NAME"));
        let news_page: MaterialPage = serde_json::from_value(json!({
            "total_count": 1, "item_count": 1,
            "item": [{"media_id": "MEDIA_ID", "content": {"news_item": [{
                "title": "TITLE", "thumb_media_id": "T", "author": "A", "digest": "D",
                "content": "C", "url": "U", "content_source_url": "S"}]},
                "update_time": 12345}]}))
        .expect("news batchget");
        assert_eq!(
            news_page.item[0]
                .content
                .as_ref()
                .map(|c| c.news_item.len()),
            Some(1)
        );
    }
}
