//! What every WeChat API call goes through before its handler, in WeChat's order: the
//! `access_token` (41001 missing, 40001 unknown or replaced, 42001 expired), the app's fault
//! knobs, the account type's rights (48001) and the endpoint's daily quota (45009).
//!
//! A handler takes an [`ApiCaller`] and knows the app is allowed to make the call.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::error::WxError;
use crate::registry::SandboxApp;
use crate::{Sandbox, faults, quota, rights, token};

/// The app behind a valid access token, cleared to call this endpoint.
#[derive(Clone, Debug)]
pub struct ApiCaller {
    pub app: SandboxApp,
}

#[derive(Deserialize)]
struct TokenParam {
    access_token: Option<String>,
}

impl FromRequestParts<Sandbox> for ApiCaller {
    type Rejection = WxError;

    async fn from_request_parts(parts: &mut Parts, sb: &Sandbox) -> Result<Self, Self::Rejection> {
        let param: TokenParam = serde_urlencoded::from_str(parts.uri.query().unwrap_or(""))
            .unwrap_or(TokenParam { access_token: None });
        let app = token::app_of(sb, param.access_token.as_deref()).await?;
        let path = parts.uri.path().to_string();
        faults::apply(sb, &app.app_id, &path).await?;
        if !rights::needed_for(&path).granted_to(&app) {
            return Err(WxError::unauthorized());
        }
        quota::spend(sb, &app.app_id, &path).await?;
        Ok(ApiCaller { app })
    }
}

/// Reads a JSON request body as WeChat does: anything that is not the expected JSON is
/// 47001 "data format error"; `\uXXXX` escapes are refused with 40033, because WeChat
/// rejects them (wechat-protocol.md §6).
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, WxError> {
    if has_unicode_escape(body) {
        return Err(WxError::new(
            40033,
            "invalid charset. please check your request, if include \\uxxxx will create fail!",
        ));
    }
    serde_json::from_slice(body).map_err(|_| WxError::data_format_error())
}

fn has_unicode_escape(body: &[u8]) -> bool {
    body.windows(2).enumerate().any(|(i, w)| {
        w == b"\\u" && {
            // `\\u` is an escaped backslash followed by a letter u, not an escape.
            let backslashes = body[..=i].iter().rev().take_while(|b| **b == b'\\').count();
            backslashes % 2 == 1
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_escapes_are_refused_but_escaped_backslashes_are_not() {
        assert!(has_unicode_escape(br#"{"name":"\u83dc\u5355"}"#));
        assert!(!has_unicode_escape(br#"{"name":"C:\\users"}"#));
        assert!(!has_unicode_escape("{\"name\":\"菜单\"}".as_bytes()));
        assert_eq!(
            json_body::<serde_json::Value>(br#"{"a":"\u0041"}"#).map_err(|e| e.errcode),
            Err(40033)
        );
        assert_eq!(
            json_body::<serde_json::Value>(b"{not json").map_err(|e| e.errcode),
            Err(47001)
        );
    }
}
