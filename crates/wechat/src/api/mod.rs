//! Calls to the WeChat HTTP API (real or sandbox: only the base URL differs).
//!
//! [`get`] and [`post`] make one call with a given token and read WeChat's answer (a non-zero
//! `errcode` is an error, whatever the HTTP status); [`crate::token::TokenCache`] wraps them
//! with the shared token and its one retry. The typed calls live in a module per group of
//! WeChat's API: [`custom`] (customer-service messages), [`menu`], [`users`] (and the
//! blacklist), [`tags`], [`qrcode`], [`media`] (temporary media), [`material`] (permanent
//! material), [`draft`], [`publish`], [`mass`] (mass messages), [`template`] (template
//! messages), [`oauth`] (web authorization), [`jssdk`] and [`datacube`]; [`wire`] holds the
//! JSON and HTTP quirks they share.

pub mod custom;
pub mod datacube;
pub mod draft;
pub mod jssdk;
pub mod mass;
pub mod material;
pub mod media;
pub mod menu;
pub mod oauth;
pub mod publish;
pub mod qrcode;
pub mod tags;
pub mod template;
pub mod users;
pub mod wire;

use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A failed API call: WeChat's own error code, or a transport failure.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("WeChat error {errcode}: {errmsg}")]
    WeChat { errcode: i64, errmsg: String },
    #[error("cannot reach the WeChat API: {0}")]
    Transport(String),
    #[error("unexpected answer from the WeChat API: {0}")]
    Protocol(String),
}

impl ApiError {
    pub fn errcode(&self) -> Option<i64> {
        match self {
            ApiError::WeChat { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessToken {
    pub access_token: String,
    pub expires_in: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    expires_in: Option<i64>,
    errcode: Option<i64>,
    errmsg: Option<String>,
}

/// `GET {base}/cgi-bin/token?grant_type=client_credential&appid=..&secret=..`.
/// The secret goes only into the request; it is never part of an error.
pub async fn fetch_access_token(
    http: &reqwest::Client,
    base: &str,
    app_id: &str,
    app_secret: &str,
) -> Result<AccessToken, ApiError> {
    let url = format!("{}/cgi-bin/token", base.trim_end_matches('/'));
    let res = http
        .get(&url)
        .query(&[
            ("grant_type", "client_credential"),
            ("appid", app_id),
            ("secret", app_secret),
        ])
        .send()
        .await
        .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
    let status = res.status();
    let body = res
        .text()
        .await
        .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
    parse_token_answer(status.as_u16(), &body)
}

fn parse_token_answer(status: u16, body: &str) -> Result<AccessToken, ApiError> {
    let answer: TokenAnswer = serde_json::from_str(body)
        .map_err(|_| ApiError::Protocol(format!("HTTP {status}, body is not WeChat JSON")))?;
    match (answer.errcode, answer.access_token) {
        (Some(code), _) if code != 0 => Err(ApiError::WeChat {
            errcode: code,
            errmsg: answer.errmsg.unwrap_or_default(),
        }),
        (_, Some(token)) => Ok(AccessToken {
            access_token: token,
            expires_in: answer.expires_in.unwrap_or(7200),
        }),
        _ => Err(ApiError::Protocol(format!(
            "HTTP {status}, no access_token"
        ))),
    }
}

/// Reads WeChat's answer: `{"errcode": N≠0, ...}` is an error, anything else is `T`.
pub fn read_answer<T: DeserializeOwned>(status: u16, body: &str) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|_| ApiError::Protocol(format!("HTTP {status}, body is not WeChat JSON")))?;
    if let Some(code) = value.get("errcode").and_then(serde_json::Value::as_i64)
        && code != 0
    {
        let errmsg = value
            .get("errmsg")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string();
        return Err(ApiError::WeChat {
            errcode: code,
            errmsg,
        });
    }
    if !(200..300).contains(&status) {
        return Err(ApiError::Protocol(format!("HTTP {status}")));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::Protocol(format!("unexpected answer shape: {e}")))
}

fn url_of(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

async fn finish<T: DeserializeOwned>(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<T, ApiError> {
    // `without_url`: the URL carries the access token.
    let res = sent.map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
    let status = res.status().as_u16();
    let body = res
        .text()
        .await
        .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
    read_answer(status, &body)
}

/// `GET {base}{path}?access_token=..&query..`.
pub async fn get<T: DeserializeOwned>(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    query: &[(&str, &str)],
) -> Result<T, ApiError> {
    let sent = http
        .get(url_of(base, path))
        .query(&[("access_token", token)])
        .query(query)
        .send()
        .await;
    finish(sent).await
}

/// `POST {base}{path}?access_token=..` with a JSON body. serde_json writes real UTF-8, never
/// `\uXXXX` escapes, which WeChat refuses (40033) or shows literally.
pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: &str,
    body: &B,
) -> Result<T, ApiError> {
    let json = serde_json::to_vec(body)
        .map_err(|e| ApiError::Protocol(format!("cannot encode the request: {e}")))?;
    let sent = http
        .post(url_of(base, path))
        .query(&[("access_token", token)])
        .header("content-type", "application/json; charset=utf-8")
        .body(json)
        .send()
        .await;
    finish(sent).await
}

/// What calls that answer only `{"errcode":0,"errmsg":"ok"}` return.
pub type Done = serde::de::IgnoredAny;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_by_errcode_first() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Ticket {
            ticket: String,
        }
        let ok: Result<Ticket, _> = read_answer(200, r#"{"errcode":0,"errmsg":"ok","ticket":"T"}"#);
        assert_eq!(ok.ok(), Some(Ticket { ticket: "T".into() }));
        let no_errcode: Result<Ticket, _> = read_answer(200, r#"{"ticket":"T"}"#);
        assert!(no_errcode.is_ok());
        let err: Result<Ticket, _> = read_answer(
            200,
            r#"{"errcode":45015,"errmsg":"response out of time limit"}"#,
        );
        assert_eq!(err.err().and_then(|e| e.errcode()), Some(45015));
        let busy: Result<Done, _> = read_answer(503, "<html>busy</html>");
        assert!(matches!(busy, Err(ApiError::Protocol(_))));
        let http_error: Result<Done, _> = read_answer(502, "{}");
        assert!(matches!(http_error, Err(ApiError::Protocol(_))));
    }

    #[test]
    fn parses_success_and_errcodes() {
        let ok = parse_token_answer(200, r#"{"access_token":"T","expires_in":7200}"#);
        assert_eq!(
            ok.ok(),
            Some(AccessToken {
                access_token: "T".into(),
                expires_in: 7200
            })
        );
        let err = parse_token_answer(200, r#"{"errcode":40125,"errmsg":"invalid appsecret"}"#);
        assert_eq!(err.err().and_then(|e| e.errcode()), Some(40125));
        assert!(matches!(
            parse_token_answer(502, "<html>"),
            Err(ApiError::Protocol(_))
        ));
    }
}
