//! WeChat's error answers: HTTP 200 with `{"errcode": N, "errmsg": "…"}` for every API
//! failure, and the codes the sandbox uses, with WeChat's own messages.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::registry::StoreError;

/// One WeChat API failure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WxError {
    pub errcode: i64,
    pub errmsg: String,
    /// WeChat answers API errors with 200; a few faults (injected 5xx) are HTTP errors.
    pub status: StatusCode,
}

impl WxError {
    pub fn new(errcode: i64, errmsg: impl Into<String>) -> WxError {
        WxError {
            errcode,
            errmsg: errmsg.into(),
            status: StatusCode::OK,
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> WxError {
        self.status = status;
        self
    }

    pub fn system_busy() -> WxError {
        WxError::new(-1, "system error")
    }
    pub fn invalid_credential() -> WxError {
        WxError::new(
            40001,
            "invalid credential, access_token is invalid or not latest",
        )
    }
    pub fn invalid_grant_type() -> WxError {
        WxError::new(40002, "invalid grant_type")
    }
    pub fn invalid_openid() -> WxError {
        WxError::new(40003, "invalid openid")
    }
    pub fn invalid_appid() -> WxError {
        WxError::new(40013, "invalid appid")
    }
    pub fn invalid_appsecret() -> WxError {
        WxError::new(40125, "invalid appsecret")
    }
    pub fn access_token_missing() -> WxError {
        WxError::new(41001, "access_token missing")
    }
    pub fn appid_missing() -> WxError {
        WxError::new(41002, "appid missing")
    }
    pub fn appsecret_missing() -> WxError {
        WxError::new(41004, "appsecret missing")
    }
    pub fn access_token_expired() -> WxError {
        WxError::new(42001, "access_token expired")
    }
    pub fn data_format_error() -> WxError {
        WxError::new(47001, "data format error")
    }
    pub fn daily_quota_reached() -> WxError {
        WxError::new(45009, "reach max api daily quota limit")
    }
    pub fn too_frequent() -> WxError {
        WxError::new(45011, "api minute-quota reach limit")
    }
    pub fn unauthorized() -> WxError {
        WxError::new(48001, "api unauthorized")
    }
    pub fn require_post() -> WxError {
        WxError::new(43002, "require POST method")
    }
}

impl From<StoreError> for WxError {
    fn from(e: StoreError) -> WxError {
        // WeChat's answer to its own trouble is "system busy"; the cause goes to the log.
        tracing::error!(error = %e, "sandbox storage failed");
        WxError::system_busy()
    }
}

impl IntoResponse for WxError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            // What a gateway in front of WeChat answers: a page, not WeChat JSON.
            let page = format!("<html><body><h1>{}</h1></body></html>", self.status);
            return (
                self.status,
                [(axum::http::header::CONTENT_TYPE, "text/html")],
                page,
            )
                .into_response();
        }
        // Real errmsgs end with a request id; clients must not depend on the text after it.
        let rid = format!(
            "{:08x}-{:08x}",
            rand::random::<u32>(),
            rand::random::<u32>()
        );
        (
            self.status,
            Json(
                json!({ "errcode": self.errcode, "errmsg": format!("{} rid: {rid}", self.errmsg) }),
            ),
        )
            .into_response()
    }
}

/// WeChat's error JSON, for API documents.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct WxErrorBody {
    pub errcode: i64,
    pub errmsg: String,
}

/// `{"errcode":0,"errmsg":"ok"}`, WeChat's plain success.
pub fn ok() -> Response {
    Json(json!({ "errcode": 0, "errmsg": "ok" })).into_response()
}

pub type WxResult<T = Response> = Result<T, WxError>;
