//! Access tokens as WeChat hands them out (wechat-protocol.md §7, limits §2.10).
//!
//! - `GET /cgi-bin/token`: every call makes a new token valid 7,200 s; the previous one
//!   keeps working for at most 5 more minutes. 2,000 calls a day.
//! - `POST /cgi-bin/stable_token`: isolated from `/token`. Repeated calls return the same
//!   token while it has more than 5 minutes left (then a new one, the old one still valid
//!   until it expires); `force_refresh` makes a new one at once and ends the old one, at
//!   most 20 times a day and 30 s apart.
//!
//! Tokens are documents keyed by their own value (so any call finds its app), and each app
//! keeps the list of its live tokens so that a fault knob can expire them all.

use axum::Json;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::error::{WxError, WxResult};
use crate::registry::{GLOBAL, SandboxApp, StoreError};
use crate::{Sandbox, faults, quota};

pub const LIFETIME_MS: i64 = 7_200_000;
/// How long a replaced token keeps working.
pub const OVERLAP_MS: i64 = 300_000;
pub const MAX_FORCED_REFRESHES_PER_DAY: usize = 20;
pub const MIN_FORCED_REFRESH_GAP_MS: i64 = 30_000;

const TOKENS: &str = "access_token";
const STATE: &str = "token_state";

/// Where a token leads and until when.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct TokenDoc {
    app_id: String,
    expires_at: i64,
}

/// An app's live tokens of one family (`token` or `stable`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct Family {
    /// The newest token and its expiry.
    current: Option<(String, i64)>,
    /// Tokens replaced but still inside their overlap.
    previous: Vec<(String, i64)>,
    /// When `force_refresh` was used, for its limits.
    #[serde(default)]
    forced_at: Vec<i64>,
}

/// The app a token belongs to, or WeChat's answer to a bad one.
pub async fn app_of(sb: &Sandbox, token: Option<&str>) -> Result<SandboxApp, WxError> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(WxError::access_token_missing)?;
    let doc: TokenDoc = sb
        .docs
        .get(GLOBAL, TOKENS, token)
        .await?
        .ok_or_else(WxError::invalid_credential)?;
    if doc.expires_at <= sb.now_ms() {
        return Err(WxError::access_token_expired());
    }
    sb.docs
        .app(&doc.app_id)
        .await?
        .ok_or_else(WxError::invalid_credential)
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
}

/// `GET /cgi-bin/token`.
pub(crate) async fn token(State(sb): State<Sandbox>, Query(q): Query<TokenQuery>) -> WxResult {
    let sb = &sb;
    let app = credentials(
        sb,
        q.grant_type.as_deref(),
        q.appid.as_deref(),
        q.secret.as_deref(),
    )
    .await?;
    faults::apply(sb, &app.app_id, "/cgi-bin/token").await?;
    quota::spend(sb, &app.app_id, "/cgi-bin/token").await?;
    let (token, _) = replace(sb, &app.app_id, "token", false).await?;
    Ok(answer(&token, LIFETIME_MS))
}

#[derive(Deserialize)]
pub(crate) struct StableTokenBody {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
    #[serde(default)]
    force_refresh: bool,
}

/// `POST /cgi-bin/stable_token`.
pub(crate) async fn stable_token(State(sb): State<Sandbox>, body: axum::body::Bytes) -> WxResult {
    let sb = &sb;
    let req: StableTokenBody = crate::caller::json_body(&body)?;
    let app = credentials(
        sb,
        req.grant_type.as_deref(),
        req.appid.as_deref(),
        req.secret.as_deref(),
    )
    .await?;
    faults::apply(sb, &app.app_id, "/cgi-bin/stable_token").await?;
    quota::spend(sb, &app.app_id, "/cgi-bin/stable_token").await?;
    let now = sb.now_ms();
    if !req.force_refresh {
        let family: Family = sb
            .docs
            .get(&app.app_id, STATE, "stable")
            .await?
            .unwrap_or_default();
        if let Some((token, expires_at)) = family.current
            && expires_at - now > OVERLAP_MS
        {
            return Ok(answer(&token, expires_at - now));
        }
    }
    let (token, _) = replace(sb, &app.app_id, "stable", req.force_refresh).await?;
    Ok(answer(&token, LIFETIME_MS))
}

fn answer(token: &str, remaining_ms: i64) -> Response {
    Json(json!({ "access_token": token, "expires_in": remaining_ms.max(0) / 1000 })).into_response()
}

/// Checks a token request's credentials as WeChat does, in WeChat's order.
async fn credentials(
    sb: &Sandbox,
    grant_type: Option<&str>,
    app_id: Option<&str>,
    secret: Option<&str>,
) -> Result<SandboxApp, WxError> {
    if grant_type != Some("client_credential") {
        return Err(WxError::invalid_grant_type());
    }
    let app_id = app_id
        .filter(|a| !a.is_empty())
        .ok_or_else(WxError::appid_missing)?;
    let secret = secret
        .filter(|s| !s.is_empty())
        .ok_or_else(WxError::appsecret_missing)?;
    let app = sb
        .docs
        .app(app_id)
        .await?
        .ok_or_else(WxError::invalid_appid)?;
    if app.app_secret != secret {
        return Err(WxError::invalid_appsecret());
    }
    Ok(app)
}

/// Makes a new token of `family`, shortening the replaced one to the overlap (or ending it at
/// once when `forced`).
async fn replace(
    sb: &Sandbox,
    app_id: &str,
    family: &str,
    forced: bool,
) -> Result<(String, i64), WxError> {
    let now = sb.now_ms();
    let token = new_token();
    let expires_at = now + LIFETIME_MS;
    let (ended, shortened) = sb
        .docs
        .update(app_id, STATE, family, |f: Option<Family>| {
            let mut f = f.unwrap_or_default();
            if forced {
                f.forced_at.retain(|t| now - t < 86_400_000);
                if f.forced_at.len() >= MAX_FORCED_REFRESHES_PER_DAY {
                    return Err(WxError::daily_quota_reached());
                }
                if f.forced_at
                    .last()
                    .is_some_and(|t| now - t < MIN_FORCED_REFRESH_GAP_MS)
                {
                    return Err(WxError::too_frequent());
                }
                f.forced_at.push(now);
            }
            let (ended, kept): (Vec<_>, Vec<_>) =
                f.previous.drain(..).partition(|(_, until)| *until <= now);
            f.previous = kept;
            let mut shortened = None;
            if let Some((old, until)) = f.current.take() {
                let until = if forced {
                    now
                } else {
                    until.min(now + OVERLAP_MS)
                };
                shortened = Some((old.clone(), until));
                if until > now {
                    f.previous.push((old, until));
                }
            }
            f.current = Some((token.clone(), expires_at));
            Ok((f, (ended, shortened)))
        })
        .await??;
    for (old, _) in ended {
        sb.docs.delete(GLOBAL, TOKENS, &old).await?;
    }
    if let Some((old, until)) = shortened {
        set_expiry(sb, app_id, &old, until).await?;
    }
    set_expiry(sb, app_id, &token, expires_at).await?;
    Ok((token, expires_at))
}

async fn set_expiry(
    sb: &Sandbox,
    app_id: &str,
    token: &str,
    expires_at: i64,
) -> Result<(), StoreError> {
    let doc = TokenDoc {
        app_id: app_id.to_string(),
        expires_at,
    };
    sb.docs.set(GLOBAL, TOKENS, token, &doc).await
}

/// The fault knob "expire tokens now": every live token of the app stops working, as if
/// WeChat had expired them early; the next call gets 42001.
pub async fn expire_all(sb: &Sandbox, app_id: &str) -> Result<usize, StoreError> {
    let now = sb.now_ms();
    let mut expired = 0;
    for family in ["token", "stable"] {
        let live = sb
            .docs
            .update(app_id, STATE, family, |f: Option<Family>| {
                let mut f = f.unwrap_or_default();
                let mut live: Vec<String> = f.previous.drain(..).map(|(t, _)| t).collect();
                if let Some((t, _)) = &f.current {
                    live.push(t.clone());
                    f.current = f.current.take().map(|(t, _)| (t, now));
                }
                Ok::<_, StoreError>((f, live))
            })
            .await??;
        for t in live {
            set_expiry(sb, app_id, &t, now).await?;
            expired += 1;
        }
    }
    Ok(expired)
}

/// WeChat's tokens are opaque strings of 100+ characters.
fn new_token() -> String {
    use rand::RngCore;
    let mut buf = [0u8; 64];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}
