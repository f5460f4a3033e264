//! Permanent material (永久素材), wechat-protocol.md §6.8, limits §2.7.
//!
//! - `POST /cgi-bin/material/add_material?type=image|voice|video|thumb`: multipart, the
//!   file in `media`; videos also need the text field `description` =
//!   `{"title","introduction"}` (40097 without a title) → `{media_id}` plus `url` for images
//!   and thumbs. Formats and sizes: image bmp/png/jpeg/jpg/gif ≤ 10 MB, voice
//!   mp3/wma/wav/amr ≤ 2 MB, video mp4 ≤ 10 MB, thumb jpg ≤ 64 KB (40004, 41005, 44001, 40005,
//!   40006 as for temporary media). At most 100,000 images (thumbs count as images, as the
//!   library shows them) and 1,000 voices and 1,000 videos; past that 45001 (the code is
//!   WeChat's "media size out of limit"; unverified for counts).
//! - `POST /cgi-bin/material/get_material {media_id}`: the bytes of images, voices and
//!   thumbs; `{title, description, down_url}` for videos; 40007 for unknown ids.
//! - `POST /cgi-bin/material/del_material {media_id}`: 40007 for unknown ids.
//! - `GET /cgi-bin/material/get_materialcount` → `{voice_count, video_count, image_count,
//!   news_count}`.
//! - `POST /cgi-bin/material/batchget_material {type, offset, count}`: newest first, count
//!   1–20 (else 40097) → `{total_count, item_count, item: [{media_id, name, update_time,
//!   url}]}`. News material can no longer be made (`add_news` is gone; articles are drafts
//!   now), so `news` lists nothing.
//! - `GET /mmbiz/material/{app_id}/{media_id}`: the file behind `url` and `down_url`.
//!
//! Documents of kind [`KIND`], keyed by media_id, describe materials; their bytes are in
//! documents of kind `material_file` under the same key, so lists never read files. The
//! per-type counts live in one document changed by compare-and-swap, so concurrent uploads
//! cannot pass a limit.

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Sandbox;
use crate::caller::{ApiCaller, json_body};
use crate::error::{WxError, WxResult};
use crate::media::{self, BaseUrl, MediaType, Rule, StoredFile};
use crate::registry::StoreError;

/// Documents of this kind, keyed by media_id, hold permanent material.
pub const KIND: &str = "material";
/// The bytes of each material, keyed by media_id.
const FILES: &str = "material_file";
/// One document (key [`COUNTS_KEY`]) with the number of materials of each type.
const COUNTS: &str = "material_count";
const COUNTS_KEY: &str = "all";

pub const MAX_IMAGES: u64 = 100_000;
pub const MAX_VOICES: u64 = 1_000;
pub const MAX_VIDEOS: u64 = 1_000;
/// `batchget_material` returns at most this many per call.
pub const MAX_PAGE: i64 = 20;

const MB: usize = 1024 * 1024;

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/material/add_material", post(add_material))
        .layer(DefaultBodyLimit::max(media::UPLOAD_BODY_LIMIT))
        .route("/cgi-bin/material/get_material", post(get_material))
        .route("/cgi-bin/material/del_material", post(del_material))
        .route("/cgi-bin/material/get_materialcount", get(get_count))
        .route("/cgi-bin/material/batchget_material", post(batchget))
        .route("/mmbiz/material/{app_id}/{media_id}", get(serve))
}

/// A permanent material as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Material {
    pub media_type: MediaType,
    /// The uploaded file's name, as `batchget_material` shows it.
    pub name: String,
    /// The file's format (`jpg`, `mp3`, …) and size in bytes.
    pub format: String,
    pub size: usize,
    /// Where WeChat would serve it (absolute).
    pub url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub introduction: String,
    /// Seconds since the epoch.
    pub update_time: i64,
}

impl Material {
    /// Whether it can be a cover (`thumb_media_id`) or an image of an article.
    pub fn is_picture(&self) -> bool {
        matches!(self.media_type, MediaType::Image | MediaType::Thumb)
    }
}

/// A material of the app (for other groups: mass send and drafts check media_ids here).
pub async fn material(
    sb: &Sandbox,
    app_id: &str,
    media_id: &str,
) -> Result<Option<Material>, StoreError> {
    sb.docs.get(app_id, KIND, media_id).await
}

/// The bytes of a material.
pub async fn material_file(
    sb: &Sandbox,
    app_id: &str,
    media_id: &str,
) -> Result<Option<StoredFile>, StoreError> {
    sb.docs.get(app_id, FILES, media_id).await
}

/// How many materials of each type the app has.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Counts {
    image: u64,
    voice: u64,
    video: u64,
}

impl Counts {
    fn slot(&mut self, t: MediaType) -> (&mut u64, u64) {
        match t {
            MediaType::Image | MediaType::Thumb => (&mut self.image, MAX_IMAGES),
            MediaType::Voice => (&mut self.voice, MAX_VOICES),
            MediaType::Video => (&mut self.video, MAX_VIDEOS),
        }
    }
}

fn permanent_rule(t: MediaType) -> Rule {
    match t {
        MediaType::Image => Rule::new(&["bmp", "png", "jpeg", "jpg", "gif"], 10 * MB),
        MediaType::Voice => Rule::new(&["mp3", "wma", "wav", "amr"], 2 * MB),
        MediaType::Video => Rule::new(&["mp4"], 10 * MB),
        MediaType::Thumb => Rule::new(&["jpg", "jpeg"], 64 * 1024),
    }
}

fn invalid_args(what: &str) -> WxError {
    WxError::new(40097, format!("invalid args hint: [{what}]"))
}

#[derive(Deserialize)]
struct TypeParam {
    #[serde(rename = "type")]
    media_type: Option<String>,
}

#[derive(Deserialize, Default)]
struct VideoDescription {
    #[serde(default)]
    title: String,
    #[serde(default)]
    introduction: String,
}

/// `POST /cgi-bin/material/add_material?type=`.
async fn add_material(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    base: BaseUrl,
    Query(q): Query<TypeParam>,
    multipart: Result<Multipart, MultipartRejection>,
) -> WxResult {
    let media_type = q
        .media_type
        .as_deref()
        .and_then(MediaType::parse)
        .ok_or_else(media::invalid_media_type)?;
    let form = media::read_form(multipart).await?;
    let upload = form.media.as_ref().ok_or_else(media::media_data_missing)?;
    let format = permanent_rule(media_type).check(upload)?;
    let description = video_description(media_type, form.field("description"))?;
    let app_id = &caller.app.app_id;
    let media_id = media::new_id(43);
    let material = Material {
        media_type,
        name: upload.file_name.clone(),
        format: format.clone(),
        size: upload.bytes.len(),
        url: format!("{}/mmbiz/material/{app_id}/{media_id}", base.0),
        title: description.title,
        introduction: description.introduction,
        update_time: sb.now_ms() / 1000,
    };
    reserve(&sb, app_id, media_type).await?;
    let file = StoredFile::new(upload, &format);
    sb.docs.set(app_id, FILES, &media_id, &file).await?;
    sb.docs.set(app_id, KIND, &media_id, &material).await?;
    let answer = if material.is_picture() {
        json!({ "media_id": media_id, "url": material.url })
    } else {
        json!({ "media_id": media_id })
    };
    Ok(Json(answer).into_response())
}

/// Videos must say what they are; other types ignore the field.
fn video_description(t: MediaType, field: Option<&str>) -> Result<VideoDescription, WxError> {
    if t != MediaType::Video {
        return Ok(VideoDescription::default());
    }
    let description: VideoDescription = field
        .map(|f| json_body(f.as_bytes()))
        .transpose()?
        .ok_or_else(|| invalid_args("description"))?;
    if description.title.is_empty() {
        return Err(invalid_args("description.title"));
    }
    Ok(description)
}

/// Takes one place of the type's limit; 45001 when it is full.
async fn reserve(sb: &Sandbox, app_id: &str, t: MediaType) -> Result<(), WxError> {
    sb.docs
        .update(app_id, COUNTS, COUNTS_KEY, |c: Option<Counts>| {
            let mut counts = c.unwrap_or_default();
            let (used, limit) = counts.slot(t);
            if *used >= limit {
                return Err(WxError::new(45001, "media size out of limit"));
            }
            *used += 1;
            Ok((counts, ()))
        })
        .await?
}

async fn release(sb: &Sandbox, app_id: &str, t: MediaType) -> Result<(), StoreError> {
    sb.docs
        .update(app_id, COUNTS, COUNTS_KEY, |c: Option<Counts>| {
            let mut counts = c.unwrap_or_default();
            let (used, _) = counts.slot(t);
            *used = used.saturating_sub(1);
            Ok::<_, ()>((counts, ()))
        })
        .await
        .map(|_| ())
}

#[derive(Deserialize)]
struct MediaIdBody {
    #[serde(default)]
    media_id: String,
}

/// `POST /cgi-bin/material/get_material`.
async fn get_material(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: MediaIdBody = json_body(&body)?;
    let found = material(&sb, &caller.app.app_id, &req.media_id)
        .await?
        .ok_or_else(media::invalid_media_id)?;
    if found.media_type == MediaType::Video {
        return Ok(Json(json!({
            "title": found.title,
            "description": found.introduction,
            "down_url": found.url,
        }))
        .into_response());
    }
    let file = material_file(&sb, &caller.app.app_id, &req.media_id)
        .await?
        .ok_or_else(media::invalid_media_id)?;
    Ok(file.download(&req.media_id)?)
}

/// `POST /cgi-bin/material/del_material`.
async fn del_material(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: MediaIdBody = json_body(&body)?;
    let app_id = &caller.app.app_id;
    let found = material(&sb, app_id, &req.media_id)
        .await?
        .ok_or_else(media::invalid_media_id)?;
    // Only the caller whose delete removed the document gives its place back.
    if sb.docs.delete(app_id, KIND, &req.media_id).await? {
        sb.docs.delete(app_id, FILES, &req.media_id).await?;
        release(&sb, app_id, found.media_type).await?;
    }
    Ok(crate::error::ok())
}

/// `GET /cgi-bin/material/get_materialcount`.
async fn get_count(State(sb): State<Sandbox>, caller: ApiCaller) -> WxResult {
    let counts: Counts = sb
        .docs
        .get(&caller.app.app_id, COUNTS, COUNTS_KEY)
        .await?
        .unwrap_or_default();
    Ok(Json(json!({
        "voice_count": counts.voice,
        "video_count": counts.video,
        "image_count": counts.image,
        "news_count": 0,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct BatchGet {
    #[serde(rename = "type", default)]
    media_type: String,
    #[serde(default)]
    offset: i64,
    #[serde(default)]
    count: i64,
}

/// `POST /cgi-bin/material/batchget_material`.
async fn batchget(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: BatchGet = json_body(&body)?;
    let listed = listed_types(&req.media_type).ok_or_else(media::invalid_media_type)?;
    if !(1..=MAX_PAGE).contains(&req.count) || req.offset < 0 {
        return Err(invalid_args("offset/count"));
    }
    let all: Vec<(String, Material)> = sb.docs.newest(&caller.app.app_id, KIND, usize::MAX).await?;
    let of_type: Vec<(String, Material)> = all
        .into_iter()
        .filter(|(_, m)| listed.contains(&m.media_type))
        .collect();
    let items: Vec<Value> = of_type
        .iter()
        .skip(req.offset as usize)
        .take(req.count as usize)
        .map(|(id, m)| list_item(id, m))
        .collect();
    Ok(Json(json!({
        "total_count": of_type.len(),
        "item_count": items.len(),
        "item": items,
    }))
    .into_response())
}

/// The stored types a `batchget_material` type lists; news lists nothing (see module doc).
fn listed_types(t: &str) -> Option<&'static [MediaType]> {
    match t {
        "image" => Some(&[MediaType::Image, MediaType::Thumb]),
        "voice" => Some(&[MediaType::Voice]),
        "video" => Some(&[MediaType::Video]),
        "news" => Some(&[]),
        _ => None,
    }
}

fn list_item(media_id: &str, m: &Material) -> Value {
    json!({
        "media_id": media_id,
        "name": m.name,
        "update_time": m.update_time,
        "url": m.url,
    })
}

/// `GET /mmbiz/material/{app_id}/{media_id}`.
async fn serve(
    State(sb): State<Sandbox>,
    Path((app_id, media_id)): Path<(String, String)>,
) -> Result<Response, StatusCode> {
    match material_file(&sb, &app_id, &media_id).await {
        Ok(Some(file)) => media::served(&file),
        Ok(None) => Err(StatusCode::NOT_FOUND),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}
