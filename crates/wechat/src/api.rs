//! Calls to the WeChat HTTP API (real or sandbox: only the base URL differs).

use serde::Deserialize;

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

#[cfg(test)]
mod tests {
    use super::*;

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
