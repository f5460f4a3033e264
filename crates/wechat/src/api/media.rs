//! Temporary media (临时素材) and article images: `POST /cgi-bin/media/upload?type=`,
//! `GET /cgi-bin/media/get?media_id=` and `POST /cgi-bin/media/uploadimg`.
//!
//! Uploads are multipart with the file in the field `media`; WeChat judges the format by the
//! file name's extension (and the bytes of images). Limits: image bmp/png/jpeg/jpg/gif ≤ 10 MB,
//! voice amr/mp3 ≤ 2 MB, video mp4 ≤ 10 MB, thumb jpg ≤ 64 KB. Temporary media live 3 days.
//! `uploadimg` (jpg/png ≤ 1 MB) gives a URL for images inside article bodies; it does not
//! count as material.

use serde::{Deserialize, Serialize};

use super::ApiError;
use super::wire::{self, File, FileOrJson, Upload};
use crate::token::TokenCache;

pub const UPLOAD_PATH: &str = "/cgi-bin/media/upload";
pub const GET_PATH: &str = "/cgi-bin/media/get";
pub const UPLOAD_IMG_PATH: &str = "/cgi-bin/media/uploadimg";

/// The four kinds of media WeChat takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaType {
    Image,
    Voice,
    Video,
    /// A small jpg, for video and music thumbnails.
    Thumb,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Voice => "voice",
            MediaType::Video => "video",
            MediaType::Thumb => "thumb",
        }
    }
}

/// What `media/upload` answers. Thumbs come back as `thumb_media_id`, read here as
/// `media_id`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct UploadedMedia {
    #[serde(rename = "type")]
    pub media_type: MediaType,
    #[serde(alias = "thumb_media_id")]
    pub media_id: String,
    /// Seconds since the epoch; the media expire 3 days later.
    pub created_at: i64,
}

/// What `media/get` gives back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TempMedia {
    /// The file (images, voices, thumbs).
    File(File),
    /// Videos are not served through the API: download them from `video_url`.
    Video { video_url: String },
}

/// POSTs `file` as multipart field `media` (plus text `fields`) with the shared token, and
/// reads the JSON answer.
pub(crate) async fn upload_multipart<T: serde::de::DeserializeOwned>(
    tokens: &TokenCache,
    api: &'static str,
    path: &str,
    query: &[(&str, &str)],
    file: &Upload,
    fields: &[(&str, String)],
) -> Result<T, ApiError> {
    tokens
        .call(api, |token| async move {
            let form = file.form(fields)?;
            let sent = tokens
                .http()
                .post(super::url_of(tokens.base(), path))
                .query(&[("access_token", token.as_str())])
                .query(query)
                .multipart(form)
                .send()
                .await;
            super::finish(sent).await
        })
        .await
}

/// POSTs a JSON body with the shared token to an endpoint that answers with a file or JSON.
pub(crate) async fn post_for_file<B: Serialize + ?Sized>(
    tokens: &TokenCache,
    api: &'static str,
    path: &str,
    body: &B,
) -> Result<FileOrJson, ApiError> {
    let json = serde_json::to_vec(body)
        .map_err(|e| ApiError::Protocol(format!("cannot encode the request: {e}")))?;
    tokens
        .call(api, |token| {
            let json = json.clone();
            async move {
                let sent = tokens
                    .http()
                    .post(super::url_of(tokens.base(), path))
                    .query(&[("access_token", token.as_str())])
                    .header("content-type", "application/json; charset=utf-8")
                    .body(json)
                    .send()
                    .await;
                wire::read_file_or_json(sent).await
            }
        })
        .await
}

/// `POST /cgi-bin/media/upload?type=`: a temporary medium, good for 3 days.
pub async fn upload(
    tokens: &TokenCache,
    media_type: MediaType,
    file: &Upload,
) -> Result<UploadedMedia, ApiError> {
    upload_multipart(
        tokens,
        "media.upload",
        UPLOAD_PATH,
        &[("type", media_type.as_str())],
        file,
        &[],
    )
    .await
}

/// `GET /cgi-bin/media/get?media_id=`: the file, or where to download a video.
pub async fn get(tokens: &TokenCache, media_id: &str) -> Result<TempMedia, ApiError> {
    let answer = tokens
        .call("media.get", |token| async move {
            let sent = tokens
                .http()
                .get(super::url_of(tokens.base(), GET_PATH))
                .query(&[("access_token", token.as_str()), ("media_id", media_id)])
                .send()
                .await;
            wire::read_file_or_json(sent).await
        })
        .await?;
    temp_media_of(answer)
}

fn temp_media_of(answer: FileOrJson) -> Result<TempMedia, ApiError> {
    #[derive(Deserialize)]
    struct VideoUrl {
        video_url: String,
    }
    match answer {
        FileOrJson::File(file) => Ok(TempMedia::File(file)),
        FileOrJson::Json(v) => {
            let video: VideoUrl = wire::json_as(v)?;
            Ok(TempMedia::Video {
                video_url: video.video_url,
            })
        }
    }
}

/// `POST /cgi-bin/media/uploadimg` → the URL to use in an article's HTML.
pub async fn upload_article_image(tokens: &TokenCache, file: &Upload) -> Result<String, ApiError> {
    #[derive(Deserialize)]
    struct Url {
        url: String,
    }
    let answer: Url =
        upload_multipart(tokens, "media.uploadimg", UPLOAD_IMG_PATH, &[], file, &[]).await?;
    Ok(answer.url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upload_answers_of_wechats_examples_are_read() {
        let image: UploadedMedia = serde_json::from_value(json!({
            "type": "image", "media_id": "MEDIA_ID", "created_at": 123456789}))
        .expect("image");
        assert_eq!(image.media_type, MediaType::Image);
        assert_eq!(image.media_id, "MEDIA_ID");
        let thumb: UploadedMedia = serde_json::from_value(json!({
            "type": "thumb", "thumb_media_id": "THUMB_ID", "created_at": 123456789}))
        .expect("thumb");
        assert_eq!(thumb.media_id, "THUMB_ID");
    }

    #[test]
    fn a_video_is_a_download_url() {
        let video = temp_media_of(FileOrJson::Json(json!({"video_url": "DOWN_URL"})));
        assert_eq!(
            video.ok(),
            Some(TempMedia::Video {
                video_url: "DOWN_URL".into()
            })
        );
    }

    #[test]
    fn uploads_are_named_and_typed_by_extension() {
        let file = Upload::new("cover.JPG", b"\xFF\xD8\xFF".to_vec());
        assert_eq!(file.content_type(), "image/jpeg");
        assert_eq!(Upload::new("x.mp3", vec![1]).content_type(), "audio/mpeg");
        assert!(file.form(&[]).is_ok());
    }
}
