//! Parametric QR codes (带参数二维码): `POST /cgi-bin/qrcode/create` and the image at
//! `https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=…`.
//!
//! A scan by someone who does not follow yet brings a `subscribe` event with EventKey
//! `qrscene_<scene>`, by a follower a `SCAN` event with the scene. Temporary codes live up to
//! 30 days (2,592,000 s) and take a non-zero 32-bit scene id or a 1–64 character scene
//! string; permanent codes (at most 100,000 per account) take a scene id of 1–100,000 or a
//! scene string. Verified service accounts only.

use serde::{Deserialize, Serialize};

use super::ApiError;
use super::wire::{self, FileOrJson, percent_encode};
use crate::token::TokenCache;

pub const CREATE_PATH: &str = "/cgi-bin/qrcode/create";
pub const SHOW_PATH: &str = "/cgi-bin/showqrcode";
/// Where WeChat serves QR images (not the API host).
pub const SHOW_BASE: &str = "https://mp.weixin.qq.com";
/// The real API host, whose QR images are on [`SHOW_BASE`].
pub const API_BASE: &str = "https://api.weixin.qq.com";
/// The longest life of a temporary code.
pub const MAX_EXPIRE_SECONDS: u32 = 2_592_000;

/// What a scan reports: a number or a string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scene {
    Id(u32),
    Str(String),
}

/// A code to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QrCode {
    /// Lives `expire_seconds` (1–2,592,000; WeChat's default is 60).
    Temporary { expire_seconds: u32, scene: Scene },
    /// Lives forever; the same scene gives the same ticket again.
    Permanent { scene: Scene },
}

#[derive(Serialize)]
struct CreateBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    expire_seconds: Option<u32>,
    action_name: &'static str,
    action_info: ActionInfo<'a>,
}

#[derive(Serialize)]
struct ActionInfo<'a> {
    scene: SceneBody<'a>,
}

#[derive(Serialize)]
struct SceneBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    scene_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scene_str: Option<&'a str>,
}

impl QrCode {
    fn body(&self) -> CreateBody<'_> {
        let (expire_seconds, scene, names) = match self {
            QrCode::Temporary {
                expire_seconds,
                scene,
            } => (Some(*expire_seconds), scene, ("QR_SCENE", "QR_STR_SCENE")),
            QrCode::Permanent { scene } => (None, scene, ("QR_LIMIT_SCENE", "QR_LIMIT_STR_SCENE")),
        };
        let (action_name, scene) = match scene {
            Scene::Id(id) => (
                names.0,
                SceneBody {
                    scene_id: Some(*id),
                    scene_str: None,
                },
            ),
            Scene::Str(s) => (
                names.1,
                SceneBody {
                    scene_id: None,
                    scene_str: Some(s),
                },
            ),
        };
        CreateBody {
            expire_seconds,
            action_name,
            action_info: ActionInfo { scene },
        }
    }
}

/// A created code.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Ticket {
    /// Exchanged for the image at `showqrcode`.
    pub ticket: String,
    /// Seconds to live; absent for permanent codes.
    #[serde(default)]
    pub expire_seconds: Option<i64>,
    /// What the QR code holds (`http://weixin.qq.com/q/…`), to draw one's own image.
    pub url: String,
}

/// `POST /cgi-bin/qrcode/create`.
pub async fn create(tokens: &TokenCache, code: &QrCode) -> Result<Ticket, ApiError> {
    tokens
        .post("qrcode.create", CREATE_PATH, &code.body())
        .await
}

/// The host serving QR images for an API base: WeChat's `mp.weixin.qq.com` for the real API,
/// the base itself for the sandbox (which serves both).
pub fn show_base_for(api_base: &str) -> &str {
    let api_base = api_base.trim_end_matches('/');
    if api_base.eq_ignore_ascii_case(API_BASE) {
        SHOW_BASE
    } else {
        api_base
    }
}

/// The image URL of a ticket: `{show_base}/cgi-bin/showqrcode?ticket=<URL-encoded ticket>`
/// (tickets carry `+`, `/` and `=`). No token is needed: anyone with the URL gets the image.
pub fn show_url(show_base: &str, ticket: &str) -> String {
    format!(
        "{}{SHOW_PATH}?ticket={}",
        show_base.trim_end_matches('/'),
        percent_encode(ticket)
    )
}

/// Downloads the PNG of a ticket (404 once a temporary code expired).
pub async fn image(
    http: &reqwest::Client,
    show_base: &str,
    ticket: &str,
) -> Result<wire::File, ApiError> {
    let sent = http.get(show_url(show_base, ticket)).send().await;
    match wire::read_file_or_json(sent).await? {
        FileOrJson::File(file) => Ok(file),
        FileOrJson::Json(v) => Err(ApiError::Protocol(format!(
            "showqrcode answered JSON, not an image: {v}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(code: &QrCode) -> serde_json::Value {
        serde_json::to_value(code.body()).expect("json")
    }

    #[test]
    fn bodies_match_wechats_examples() {
        assert_eq!(
            body(&QrCode::Temporary {
                expire_seconds: 604800,
                scene: Scene::Id(123)
            }),
            json!({"expire_seconds": 604800, "action_name": "QR_SCENE",
                   "action_info": {"scene": {"scene_id": 123}}})
        );
        assert_eq!(
            body(&QrCode::Temporary {
                expire_seconds: 604800,
                scene: Scene::Str("test".into())
            }),
            json!({"expire_seconds": 604800, "action_name": "QR_STR_SCENE",
                   "action_info": {"scene": {"scene_str": "test"}}})
        );
        assert_eq!(
            body(&QrCode::Permanent {
                scene: Scene::Id(123)
            }),
            json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 123}}})
        );
        assert_eq!(
            body(&QrCode::Permanent {
                scene: Scene::Str("test".into())
            }),
            json!({"action_name": "QR_LIMIT_STR_SCENE",
                   "action_info": {"scene": {"scene_str": "test"}}})
        );
    }

    #[test]
    fn the_answer_of_wechats_example_is_read() {
        let ticket: Ticket = serde_json::from_value(json!({
            "ticket": "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw==",
            "expire_seconds": 60,
            "url": "http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"}))
        .expect("reads");
        assert_eq!(ticket.expire_seconds, Some(60));
        let permanent: Ticket = serde_json::from_value(json!({
            "ticket": "T", "url": "http://weixin.qq.com/q/x"}))
        .expect("permanent");
        assert_eq!(permanent.expire_seconds, None);
    }

    #[test]
    fn the_image_url_encodes_the_ticket() {
        assert_eq!(
            show_url(SHOW_BASE, "gQH47joAAAAAAAAAASxodHRw+/x=="),
            "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=gQH47joAAAAAAAAAASxodHRw%2B%2Fx%3D%3D"
        );
        assert_eq!(show_base_for("https://api.weixin.qq.com/"), SHOW_BASE);
        assert_eq!(
            show_base_for("http://127.0.0.1:8080/sandbox"),
            "http://127.0.0.1:8080/sandbox"
        );
    }
}
