//! Temporary media, images inside articles, and the file hosting that stands in for WeChat's
//! CDN (wechat-protocol.md §6.8, limits §2.7).
//!
//! - `POST /cgi-bin/media/upload?type=image|voice|video|thumb`: multipart, the file in field
//!   `media` → `{type, media_id, created_at}` (`thumb_media_id` instead of `media_id` for
//!   thumbs). Formats and sizes: image bmp/png/jpeg/jpg/gif ≤ 10 MB, voice amr/mp3 ≤ 2 MB,
//!   video mp4 ≤ 10 MB, thumb jpg ≤ 64 KB. Unknown `type` 40004, no file 41005, empty file
//!   44001, wrong format 40005, too big 40006 ("invalid meida size", WeChat's spelling).
//!   Images must really be images: their bytes are checked, not only their names.
//! - `GET /cgi-bin/media/get?media_id=`: the bytes with their content type, or
//!   `{video_url}` for videos. Media live 3 days; then, or for an unknown id, 40007; no id
//!   41006.
//! - `POST /cgi-bin/media/uploadimg`: a jpg/png ≤ 1 MB for article bodies → `{url}`; not
//!   counted as material.
//! - `GET /mmbiz/img/{app_id}/{id}` and `GET /mmbiz/media/{app_id}/{media_id}`: the files
//!   behind those URLs, without a token, as WeChat's CDN serves them.
//!
//! Files are kept in documents as base64, so every product instance sees them. Also here:
//! [`BaseUrl`], how the sandbox makes the absolute URLs WeChat returns.

use std::convert::Infallible;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Multipart, OriginalUri, Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Sandbox;
use crate::caller::ApiCaller;
use crate::error::{WxError, WxResult};
use crate::registry::StoreError;

/// Documents of this kind, keyed by media_id, hold temporary media.
pub const KIND: &str = "media";
/// Images uploaded for article bodies, keyed by their id.
const ARTICLE_IMAGES: &str = "article_image";
/// Temporary media expire this long after upload.
pub const LIFETIME_MS: i64 = 3 * 86_400_000;
/// Room for a 10 MB file and the multipart framing around it; the per-type limits are
/// checked on the file itself.
pub const UPLOAD_BODY_LIMIT: usize = 11 * 1024 * 1024;

const MB: usize = 1024 * 1024;

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/media/upload", post(upload))
        .route("/cgi-bin/media/uploadimg", post(upload_article_image))
        .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT))
        .route("/cgi-bin/media/get", get(get_media))
        .route("/mmbiz/img/{app_id}/{id}", get(serve_article_image))
        .route("/mmbiz/media/{app_id}/{media_id}", get(serve_media))
}

/// `http://{host}` plus the prefix the sandbox is mounted under (`/sandbox` inside the
/// product), for the absolute URLs WeChat hands out (QR codes, material, articles).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl(pub String);

impl<S: Send + Sync> FromRequestParts<S> for BaseUrl {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .or_else(|| parts.uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| "localhost".to_string());
        let scheme = match parts.headers.get("x-forwarded-proto") {
            Some(p) if p.as_bytes() == b"https" => "https",
            _ => "http",
        };
        let original = parts
            .extensions
            .get::<OriginalUri>()
            .map_or_else(|| parts.uri.path().to_string(), |o| o.0.path().to_string());
        Ok(BaseUrl(format!(
            "{scheme}://{host}{}",
            mount_prefix(&original, parts.uri.path())
        )))
    }
}

/// What a nesting router stripped from the front of `original` to leave `seen`.
fn mount_prefix<'a>(original: &'a str, seen: &str) -> &'a str {
    original.strip_suffix(seen).unwrap_or("")
}

/// An id in WeChat's style: URL-safe characters, `len` of them.
pub fn new_id(len: usize) -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}

/// The four kinds of media WeChat takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Image,
    Voice,
    Video,
    Thumb,
}

impl MediaType {
    pub fn parse(s: &str) -> Option<MediaType> {
        match s {
            "image" => Some(MediaType::Image),
            "voice" => Some(MediaType::Voice),
            "video" => Some(MediaType::Video),
            "thumb" => Some(MediaType::Thumb),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Voice => "voice",
            MediaType::Video => "video",
            MediaType::Thumb => "thumb",
        }
    }

    /// What temporary upload accepts for this type.
    fn temporary_rule(self) -> Rule {
        match self {
            MediaType::Image => Rule::new(&["bmp", "png", "jpeg", "jpg", "gif"], 10 * MB),
            MediaType::Voice => Rule::new(&["amr", "mp3"], 2 * MB),
            MediaType::Video => Rule::new(&["mp4"], 10 * MB),
            MediaType::Thumb => Rule::new(&["jpg", "jpeg"], 64 * 1024),
        }
    }
}

/// A stored file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredFile {
    pub file_name: String,
    /// The format found (`jpg`, `png`, `mp3`, …), which decides the content type served.
    pub format: String,
    /// The bytes, base64.
    pub data: String,
    pub size: usize,
}

impl StoredFile {
    pub fn new(upload: &Upload, format: &str) -> StoredFile {
        StoredFile {
            file_name: upload.file_name.clone(),
            format: format.to_string(),
            data: base64::engine::general_purpose::STANDARD.encode(&upload.bytes),
            size: upload.bytes.len(),
        }
    }

    pub fn bytes(&self) -> Result<Vec<u8>, StoreError> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.data)
            .map_err(|e| StoreError(format!("stored file is not base64: {e}")))
    }

    pub fn content_type(&self) -> &'static str {
        content_type_of(&self.format)
    }

    /// The file as WeChat serves a download: its bytes, content type and a file name.
    pub fn download(&self, name: &str) -> Result<Response, StoreError> {
        let disposition = format!("attachment; filename=\"{name}.{}\"", self.format);
        Ok((
            [
                (header::CONTENT_TYPE, self.content_type().to_string()),
                (header::CONTENT_DISPOSITION, disposition),
                (
                    header::CACHE_CONTROL,
                    "no-cache, must-revalidate".to_string(),
                ),
            ],
            self.bytes()?,
        )
            .into_response())
    }
}

fn content_type_of(format: &str) -> &'static str {
    match format {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "bmp" => "image/bmp",
        "amr" => "audio/amr",
        "mp3" => "audio/mpeg",
        "wma" => "audio/x-ms-wma",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

/// A temporary medium as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TempMedia {
    pub media_type: MediaType,
    pub file: StoredFile,
    /// Upload time, ms.
    pub created_at: i64,
}

/// A temporary medium of the app that has not expired yet (for other groups: customer
/// service and mass send take media_ids from here).
pub async fn temporary(
    sb: &Sandbox,
    app_id: &str,
    media_id: &str,
) -> Result<Option<TempMedia>, StoreError> {
    let media: Option<TempMedia> = sb.docs.get(app_id, KIND, media_id).await?;
    Ok(media.filter(|m| sb.now_ms() < m.created_at + LIFETIME_MS))
}

/// The file part of a multipart upload.
#[derive(Clone, Debug)]
pub struct Upload {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A multipart form as WeChat reads it: the file in `media`, and text fields.
#[derive(Debug, Default)]
pub struct Form {
    pub media: Option<Upload>,
    pub fields: Vec<(String, String)>,
}

impl Form {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub fn media_data_missing() -> WxError {
    WxError::new(41005, "media data missing")
}

pub fn invalid_media_type() -> WxError {
    WxError::new(40004, "invalid media type")
}

pub fn invalid_file_type() -> WxError {
    WxError::new(40005, "invalid file type")
}

pub fn invalid_media_size() -> WxError {
    // Sic: WeChat spells it "meida".
    WxError::new(40006, "invalid meida size")
}

pub fn invalid_media_id() -> WxError {
    WxError::new(40007, "invalid media_id")
}

pub fn media_id_missing() -> WxError {
    WxError::new(41006, "media_id missing")
}

/// Reads the form; a body that is not multipart has no media, and one over the body limit
/// is a size error, as WeChat reports them.
pub async fn read_form(multipart: Result<Multipart, MultipartRejection>) -> Result<Form, WxError> {
    let mut multipart = multipart.map_err(|_| media_data_missing())?;
    let mut form = Form::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok(form),
            Err(e) => return Err(form_error(e.status())),
        };
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let bytes = field.bytes().await.map_err(|e| form_error(e.status()))?;
        match (name.as_str(), file_name) {
            ("media", Some(file_name)) => {
                form.media = Some(Upload {
                    file_name,
                    bytes: bytes.to_vec(),
                })
            }
            _ => form
                .fields
                .push((name, String::from_utf8_lossy(&bytes).into_owned())),
        }
    }
}

fn form_error(status: StatusCode) -> WxError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        invalid_media_size()
    } else {
        media_data_missing()
    }
}

/// Which formats a kind of upload takes, and how big they may be.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub formats: &'static [&'static str],
    pub max_bytes: usize,
}

impl Rule {
    pub const fn new(formats: &'static [&'static str], max_bytes: usize) -> Rule {
        Rule { formats, max_bytes }
    }

    /// The upload's format when the rule takes it, or WeChat's error.
    pub fn check(&self, upload: &Upload) -> Result<String, WxError> {
        if upload.bytes.is_empty() {
            return Err(WxError::new(44001, "empty media data"));
        }
        let format = format_of(upload).ok_or_else(invalid_file_type)?;
        if !self.formats.contains(&format.as_str()) {
            return Err(invalid_file_type());
        }
        if upload.bytes.len() > self.max_bytes {
            return Err(invalid_media_size());
        }
        Ok(format)
    }
}

/// The file's format: images by their bytes (WeChat decodes them), other files by their
/// name, or by their bytes when the name says nothing.
fn format_of(upload: &Upload) -> Option<String> {
    let named = extension(&upload.file_name);
    let sniffed = sniff(&upload.bytes);
    let is_image_name = named
        .as_deref()
        .is_some_and(|n| ["bmp", "png", "jpeg", "jpg", "gif"].contains(&n));
    match (named, sniffed) {
        (Some(_), Some(found)) if is_image(found) => Some(found.to_string()),
        (Some(_), _) if is_image_name => None,
        (Some(named), _) => Some(if named == "jpeg" {
            "jpg".to_string()
        } else {
            named
        }),
        (None, found) => found.map(str::to_string),
    }
}

fn extension(file_name: &str) -> Option<String> {
    let (_, ext) = file_name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase()).filter(|e| !e.is_empty())
}

fn is_image(format: &str) -> bool {
    matches!(format, "jpg" | "png" | "gif" | "bmp")
}

/// Recognizes a file by its first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| bytes.starts_with(magic);
    if starts(b"\xFF\xD8\xFF") {
        Some("jpg")
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("gif")
    } else if starts(b"BM") && bytes.len() > 14 {
        Some("bmp")
    } else if starts(b"#!AMR") {
        Some("amr")
    } else if starts(b"ID3") || (bytes.len() > 1 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0) {
        Some("mp3")
    } else if bytes.get(4..8) == Some(b"ftyp") {
        Some("mp4")
    } else {
        None
    }
}

#[derive(Deserialize)]
struct TypeParam {
    #[serde(rename = "type")]
    media_type: Option<String>,
}

/// `POST /cgi-bin/media/upload?type=`.
async fn upload(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    axum::extract::Query(q): axum::extract::Query<TypeParam>,
    multipart: Result<Multipart, MultipartRejection>,
) -> WxResult {
    let media_type = q
        .media_type
        .as_deref()
        .and_then(MediaType::parse)
        .ok_or_else(invalid_media_type)?;
    let form = read_form(multipart).await?;
    let upload = form.media.ok_or_else(media_data_missing)?;
    let format = media_type.temporary_rule().check(&upload)?;
    let now = sb.now_ms();
    let media = TempMedia {
        media_type,
        file: StoredFile::new(&upload, &format),
        created_at: now,
    };
    let media_id = new_id(64);
    sb.docs
        .set(&caller.app.app_id, KIND, &media_id, &media)
        .await?;
    let id_field = match media_type {
        MediaType::Thumb => "thumb_media_id",
        _ => "media_id",
    };
    Ok(Json(json!({
        "type": media_type.as_str(),
        id_field: media_id,
        "created_at": now / 1000,
    }))
    .into_response())
}

#[derive(Deserialize)]
struct MediaIdParam {
    media_id: Option<String>,
}

/// `GET /cgi-bin/media/get?media_id=`.
async fn get_media(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    base: BaseUrl,
    axum::extract::Query(q): axum::extract::Query<MediaIdParam>,
) -> WxResult {
    let media_id = q
        .media_id
        .filter(|m| !m.is_empty())
        .ok_or_else(media_id_missing)?;
    let app_id = &caller.app.app_id;
    let media = temporary(&sb, app_id, &media_id)
        .await?
        .ok_or_else(invalid_media_id)?;
    if media.media_type == MediaType::Video {
        let video_url = format!("{}/mmbiz/media/{app_id}/{media_id}", base.0);
        return Ok(Json(json!({ "video_url": video_url })).into_response());
    }
    Ok(media.file.download(&media_id)?)
}

/// `GET /mmbiz/media/{app_id}/{media_id}`: where `video_url` leads.
async fn serve_media(
    State(sb): State<Sandbox>,
    Path((app_id, media_id)): Path<(String, String)>,
) -> Result<Response, StatusCode> {
    match temporary(&sb, &app_id, &media_id).await {
        Ok(Some(media)) => served(&media.file),
        Ok(None) => Err(StatusCode::NOT_FOUND),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// A file as a CDN serves it: bytes and content type.
pub fn served(file: &StoredFile) -> Result<Response, StatusCode> {
    let bytes = file
        .bytes()
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(([(header::CONTENT_TYPE, file.content_type())], bytes).into_response())
}

/// Images inside articles: jpg or png, at most 1 MB.
const ARTICLE_IMAGE_RULE: Rule = Rule::new(&["jpg", "png"], MB);

/// `POST /cgi-bin/media/uploadimg`.
async fn upload_article_image(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    base: BaseUrl,
    multipart: Result<Multipart, MultipartRejection>,
) -> WxResult {
    let form = read_form(multipart).await?;
    let upload = form.media.ok_or_else(media_data_missing)?;
    let format = ARTICLE_IMAGE_RULE.check(&upload)?;
    let id = new_id(48);
    let app_id = &caller.app.app_id;
    sb.docs
        .set(
            app_id,
            ARTICLE_IMAGES,
            &id,
            &StoredFile::new(&upload, &format),
        )
        .await?;
    let url = format!("{}/mmbiz/img/{app_id}/{id}", base.0);
    Ok(Json(json!({ "url": url })).into_response())
}

/// `GET /mmbiz/img/{app_id}/{id}`: where `uploadimg`'s `url` leads.
async fn serve_article_image(
    State(sb): State<Sandbox>,
    Path((app_id, id)): Path<(String, String)>,
) -> Result<Response, StatusCode> {
    match sb
        .docs
        .get::<StoredFile>(&app_id, ARTICLE_IMAGES, &id)
        .await
    {
        Ok(Some(file)) => served(&file),
        Ok(None) => Err(StatusCode::NOT_FOUND),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upload(name: &str, bytes: &[u8]) -> Upload {
        Upload {
            file_name: name.into(),
            bytes: bytes.to_vec(),
        }
    }

    #[test]
    fn the_mount_prefix_is_what_nesting_stripped() {
        assert_eq!(
            mount_prefix("/sandbox/cgi-bin/qrcode/create", "/cgi-bin/qrcode/create"),
            "/sandbox"
        );
        assert_eq!(mount_prefix("/cgi-bin/x", "/cgi-bin/x"), "");
    }

    #[test]
    fn images_are_judged_by_their_bytes_and_other_files_by_their_names() {
        let jpeg = b"\xFF\xD8\xFF\xE0rest";
        let image = MediaType::Image.temporary_rule();
        assert_eq!(image.check(&upload("a.jpg", jpeg)), Ok("jpg".to_string()));
        assert_eq!(image.check(&upload("a.png", jpeg)), Ok("jpg".to_string()));
        assert_eq!(
            image
                .check(&upload("a.jpg", b"not an image"))
                .map_err(|e| e.errcode),
            Err(40005)
        );
        assert_eq!(
            image
                .check(&upload("a.txt", b"text"))
                .map_err(|e| e.errcode),
            Err(40005)
        );
        let voice = MediaType::Voice.temporary_rule();
        assert_eq!(voice.check(&upload("v.mp3", b"x")), Ok("mp3".to_string()));
        assert_eq!(voice.check(&upload("v", b"#!AMR\n")), Ok("amr".to_string()));
        assert_eq!(
            voice.check(&upload("v.mp3", b"")).map_err(|e| e.errcode),
            Err(44001)
        );
        let thumb = MediaType::Thumb.temporary_rule();
        let big = [jpeg.as_slice(), &vec![0u8; 64 * 1024]].concat();
        assert_eq!(
            thumb.check(&upload("t.jpg", &big)).map_err(|e| e.errcode),
            Err(40006)
        );
    }
}
