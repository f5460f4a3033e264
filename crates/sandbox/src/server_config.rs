//! What WeChat does when the merchant saves the server settings (服务器配置) in its developer
//! console: a GET to the callback URL with `signature`, `timestamp`, `nonce` and a random
//! `echostr`, which the server must echo back within 5 s (in every security mode, plaintext)
//! — otherwise WeChat refuses the settings with "token验证失败" / "请求URL超时".

use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Serialize;

use crate::Sandbox;
use crate::error::WxResult;
use crate::followers::WECHAT_WAIT;

/// How the check went, as the console would report it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ServerCheck {
    /// WeChat would save the settings.
    pub ok: bool,
    /// The HTTP status of the answer; `None` when there was none within 5 s.
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    /// WeChat's complaint when it would refuse.
    pub error: Option<String>,
}

/// Sends WeChat's verification GET to the app's callback URL.
pub async fn check(sb: &Sandbox, callback_url: &str, token: &str) -> ServerCheck {
    let started = Instant::now();
    let timestamp = (sb.now_ms() / 1000).to_string();
    let nonce = rand::random::<u32>().to_string();
    let echostr = rand::random::<u64>().to_string();
    let signature = wechat::signature::signature(token, &timestamp, &nonce);
    let sent = sb
        .http
        .get(callback_url)
        .query(&[
            ("signature", signature.as_str()),
            ("timestamp", timestamp.as_str()),
            ("nonce", nonce.as_str()),
            ("echostr", echostr.as_str()),
        ])
        .timeout(WECHAT_WAIT)
        .send()
        .await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let refused = |status: Option<u16>, error: &str| ServerCheck {
        ok: false,
        status,
        elapsed_ms,
        error: Some(error.to_string()),
    };
    match sent {
        Err(e) if e.is_timeout() => refused(None, "请求URL超时 (no answer within 5 s)"),
        Err(_) => refused(None, "系统发生错误，请稍后重试 (the URL cannot be reached)"),
        Ok(res) => {
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default();
            if status == 200 && body.trim() == echostr {
                ServerCheck {
                    ok: true,
                    status: Some(status),
                    elapsed_ms,
                    error: None,
                }
            } else {
                refused(
                    Some(status),
                    "token验证失败 (the echostr did not come back)",
                )
            }
        }
    }
}

/// `POST /api/apps/{app_id}/server-check`: WeChat's check of the app's server settings.
#[utoipa::path(post, path = "/api/apps/{app_id}/server-check", tag = "sandbox",
    summary = "Verify the callback URL as WeChat does when server settings are saved",
    params(("app_id" = String, Path)),
    responses((status = 200, body = ServerCheck), (status = 404, body = crate::error::WxErrorBody)))]
pub(crate) async fn server_check(
    State(sb): State<Sandbox>,
    Path(app_id): Path<String>,
) -> WxResult {
    let app = crate::known_app(&sb, &app_id).await?;
    Ok(Json(check(&sb, &app.callback_url, &app.token).await).into_response())
}
