//! Web authorization (网页授权, OAuth2 for pages opened inside WeChat):
//!
//! 1. send the follower's browser to [`authorize_url`] (`open.weixin.qq.com`);
//! 2. WeChat comes back to `redirect_uri?code=CODE&state=STATE` (no `code` when the user
//!    refused);
//! 3. [`exchange_code`] turns the code (single use, 5 minutes) into the user's `openid` and a
//!    web access token — per user, unrelated to the account's `access_token`, so these calls
//!    take the AppSecret instead of a [`crate::token::TokenCache`];
//! 4. with `snsapi_userinfo`, [`user_info`] gives the profile (even of someone who does not
//!    follow).
//!
//! Errors: 40029 invalid code, 40163 code already used (a replayed callback), 40030 / 42002
//! invalid / expired refresh token, 48001 `userinfo` with a `snsapi_base` token.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::ApiError;
use super::wire::{number_or_string, percent_encode};

/// Where WeChat's authorization page is (not the API host).
pub const AUTHORIZE_BASE: &str = "https://open.weixin.qq.com";
pub const AUTHORIZE_PATH: &str = "/connect/oauth2/authorize";
/// The real API host, whose authorization page is on [`AUTHORIZE_BASE`].
pub const API_BASE: &str = "https://api.weixin.qq.com";
pub const ACCESS_TOKEN_PATH: &str = "/sns/oauth2/access_token";
pub const REFRESH_TOKEN_PATH: &str = "/sns/oauth2/refresh_token";
pub const USERINFO_PATH: &str = "/sns/userinfo";
pub const AUTH_PATH: &str = "/sns/auth";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// Silent: the openid only.
    #[serde(rename = "snsapi_base")]
    Base,
    /// A consent page: the profile too.
    #[serde(rename = "snsapi_userinfo")]
    UserInfo,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Base => "snsapi_base",
            Scope::UserInfo => "snsapi_userinfo",
        }
    }
}

/// The host of the authorization page for an API base: WeChat's `open.weixin.qq.com` for
/// the real API, the base itself for the sandbox (which serves both).
pub fn authorize_base_for(api_base: &str) -> &str {
    let api_base = api_base.trim_end_matches('/');
    if api_base.eq_ignore_ascii_case(API_BASE) {
        AUTHORIZE_BASE
    } else {
        api_base
    }
}

/// `{authorize_base}/connect/oauth2/authorize?appid=…&redirect_uri=…&response_type=code&scope=…&state=…#wechat_redirect`.
///
/// WeChat matches the parameters in this order; `redirect_uri` is percent-encoded whole
/// (its domain must be the account's configured 网页授权域名); `state` (`[A-Za-z0-9]`, at
/// most 128 bytes) comes back as given — use a random one bound to the session. An empty
/// `state` is left out, as peers do; `#wechat_redirect` is always there.
pub fn authorize_url(
    authorize_base: &str,
    appid: &str,
    redirect_uri: &str,
    scope: Scope,
    state: &str,
) -> String {
    let mut url = format!(
        "{}{AUTHORIZE_PATH}?appid={}&redirect_uri={}&response_type=code&scope={}",
        authorize_base.trim_end_matches('/'),
        percent_encode(appid),
        percent_encode(redirect_uri),
        scope.as_str()
    );
    if !state.is_empty() {
        url.push_str("&state=");
        url.push_str(&percent_encode(state));
    }
    url.push_str("#wechat_redirect");
    url
}

/// A user's web access token.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct WebToken {
    pub access_token: String,
    /// Seconds (7,200).
    pub expires_in: i64,
    /// Lives 30 days; then the user must authorize again.
    pub refresh_token: String,
    pub openid: String,
    /// `snsapi_base` or `snsapi_userinfo` (a comma-separated list in general).
    pub scope: String,
    /// Only for `snsapi_userinfo` and accounts bound to an Open Platform account.
    #[serde(default)]
    pub unionid: Option<String>,
    /// `1` for the virtual user of a snapshot page (快照页): not a real member, do not keep
    /// its openid.
    #[serde(default)]
    pub is_snapshotuser: Option<i64>,
}

impl std::fmt::Debug for WebToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebToken")
            .field("openid", &self.openid)
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

impl WebToken {
    pub fn is_snapshot_user(&self) -> bool {
        self.is_snapshotuser == Some(1)
    }
}

/// A profile from `sns/userinfo`. Since 2021 WeChat answers sex 0 and empty regions.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct WebUserInfo {
    pub openid: String,
    #[serde(default)]
    pub nickname: String,
    /// 0 unknown, 1 male, 2 female (a string in some answers).
    #[serde(default, deserialize_with = "number_or_string")]
    pub sex: i64,
    #[serde(default)]
    pub province: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub country: String,
    /// Ends in the size (`/0` is 640×640); stops working when the user changes the avatar.
    #[serde(default)]
    pub headimgurl: String,
    #[serde(default)]
    pub privilege: Vec<String>,
    #[serde(default)]
    pub unionid: Option<String>,
}

/// Records the call as [`crate::token::TokenCache`] records its own.
async fn observed<T>(
    api: &'static str,
    call: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let started = Instant::now();
    let result = call.await;
    let errcode = match &result {
        Ok(_) => "0".to_string(),
        Err(e) => e
            .errcode()
            .map_or_else(|| "transport".to_string(), |c| c.to_string()),
    };
    metrics::counter!("zhanggui_wechat_api_calls_total", "api" => api, "errcode" => errcode)
        .increment(1);
    metrics::histogram!("zhanggui_wechat_api_duration_seconds", "api" => api)
        .record(started.elapsed().as_secs_f64());
    result
}

/// A GET without an `access_token` parameter; the URL (which may carry the secret) never
/// appears in errors.
async fn get_plain<T: serde::de::DeserializeOwned>(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<T, ApiError> {
    let sent = http
        .get(super::url_of(base, path))
        .query(query)
        .send()
        .await;
    super::finish(sent).await
}

/// `GET /sns/oauth2/access_token?appid=&secret=&code=&grant_type=authorization_code`.
pub async fn exchange_code(
    http: &reqwest::Client,
    api_base: &str,
    appid: &str,
    secret: &str,
    code: &str,
) -> Result<WebToken, ApiError> {
    observed(
        "oauth.access_token",
        get_plain(
            http,
            api_base,
            ACCESS_TOKEN_PATH,
            &[
                ("appid", appid),
                ("secret", secret),
                ("code", code),
                ("grant_type", "authorization_code"),
            ],
        ),
    )
    .await
}

/// `GET /sns/oauth2/refresh_token?appid=&grant_type=refresh_token&refresh_token=`: a still
/// valid access token gets a longer life, an expired one is replaced.
pub async fn refresh(
    http: &reqwest::Client,
    api_base: &str,
    appid: &str,
    refresh_token: &str,
) -> Result<WebToken, ApiError> {
    observed(
        "oauth.refresh_token",
        get_plain(
            http,
            api_base,
            REFRESH_TOKEN_PATH,
            &[
                ("appid", appid),
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        ),
    )
    .await
}

/// `GET /sns/userinfo?access_token=&openid=&lang=zh_CN` (`snsapi_userinfo` tokens only).
pub async fn user_info(
    http: &reqwest::Client,
    api_base: &str,
    web_token: &str,
    openid: &str,
) -> Result<WebUserInfo, ApiError> {
    observed(
        "oauth.userinfo",
        super::get(
            http,
            api_base,
            USERINFO_PATH,
            web_token,
            &[("openid", openid), ("lang", "zh_CN")],
        ),
    )
    .await
}

/// Errcodes of `sns/auth` that mean "this token is not (or no longer) good for this user".
fn is_invalid_web_token(errcode: i64) -> bool {
    matches!(errcode, 40001 | 40003 | 40014 | 42001)
}

/// `GET /sns/auth?access_token=&openid=`: whether the web token is still good for `openid`.
pub async fn check(
    http: &reqwest::Client,
    api_base: &str,
    web_token: &str,
    openid: &str,
) -> Result<bool, ApiError> {
    let answer = observed(
        "oauth.auth",
        super::get::<super::Done>(http, api_base, AUTH_PATH, web_token, &[("openid", openid)]),
    )
    .await;
    valid_of(answer)
}

fn valid_of(answer: Result<super::Done, ApiError>) -> Result<bool, ApiError> {
    match answer {
        Ok(_) => Ok(true),
        Err(e) if e.errcode().is_some_and(is_invalid_web_token) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_official_authorize_urls_are_reproduced() {
        assert_eq!(
            authorize_url(
                AUTHORIZE_BASE,
                "wx520c15f417810387",
                "http://chong.qq.com/php/index.php?d=&c=wxAdapter&m=mobileDeal&showwxpaytitle=1&vb2ctag=4_2030_5_1194_60",
                Scope::Base,
                "123"
            ),
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wx520c15f417810387&redirect_uri=http%3A%2F%2Fchong.qq.com%2Fphp%2Findex.php%3Fd%3D%26c%3DwxAdapter%26m%3DmobileDeal%26showwxpaytitle%3D1%26vb2ctag%3D4_2030_5_1194_60&response_type=code&scope=snsapi_base&state=123#wechat_redirect"
        );
        assert_eq!(
            authorize_url(
                AUTHORIZE_BASE,
                "wxf0e81c3bee622d60",
                "http://nba.bluewebgame.com/oauth_response.php",
                Scope::UserInfo,
                "STATE"
            ),
            "https://open.weixin.qq.com/connect/oauth2/authorize?appid=wxf0e81c3bee622d60&redirect_uri=http%3A%2F%2Fnba.bluewebgame.com%2Foauth_response.php&response_type=code&scope=snsapi_userinfo&state=STATE#wechat_redirect"
        );
        assert_eq!(
            authorize_base_for("https://api.weixin.qq.com"),
            AUTHORIZE_BASE
        );
        assert_eq!(
            authorize_base_for("http://127.0.0.1:1/sandbox/"),
            "http://127.0.0.1:1/sandbox"
        );
    }

    /// The shared vectors beside the repository (as `tests/vectors.rs` reads its own).
    fn vectors(kind: &str) -> Vec<Value> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/vectors/wechat-pay-oauth-jssdk-vectors.json"
        );
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {path} (shared/ beside the repo): {e}"));
        let doc: Value = serde_json::from_str(&text).expect("vectors are JSON");
        doc["vectors"]
            .as_array()
            .expect("vectors")
            .iter()
            .filter(|v| v["kind"] == kind)
            .cloned()
            .collect()
    }

    #[test]
    fn every_oauth_vector_passes() {
        let mut checked = 0;
        for v in vectors("oauth_authorize_url") {
            let input = &v["input"];
            let scope = match input["scope"].as_str() {
                Some("snsapi_base") => Scope::Base,
                Some("snsapi_userinfo") => Scope::UserInfo,
                // Open-platform QR login: not for Official Accounts.
                _ => continue,
            };
            let url = authorize_url(
                AUTHORIZE_BASE,
                input["appid"].as_str().expect("appid"),
                input["redirect_uri"].as_str().expect("redirect_uri"),
                scope,
                input["state"].as_str().unwrap_or(""),
            );
            assert_eq!(url, v["expected"]["url"], "{}", v["id"]);
            checked += 1;
        }
        assert_eq!(checked, 3);
        for v in vectors("oauth_response_parse") {
            let body = v["input"]["body"].as_str().expect("body");
            let id = v["id"].as_str().unwrap_or_default();
            match id {
                "oauth-token-response-fixture" => {
                    let token: WebToken = super::super::read_answer(200, body).expect(id);
                    assert_eq!(token.openid, v["expected"]["openid"]);
                    assert_eq!(token.expires_in, 7200);
                    assert_eq!(token.refresh_token, "REFRESH_TOKEN");
                    assert!(!token.is_snapshot_user());
                    assert!(!format!("{token:?}").contains("ACCESS_TOKEN"));
                }
                "oauth-userinfo-response-fixture" => {
                    let info: WebUserInfo = super::super::read_answer(200, body).expect(id);
                    assert_eq!(info.sex, 1, "\"1\" read as 1");
                    assert_eq!(info.privilege, ["PRIVILEGE1", "PRIVILEGE2"]);
                    assert_eq!(info.unionid.as_deref(), v["expected"]["unionid"].as_str());
                }
                "oauth-sns-auth-ok" | "oauth-sns-auth-invalid" => {
                    let valid = valid_of(super::super::read_answer(200, body)).expect(id);
                    assert_eq!(valid, v["expected"]["valid"] == true, "{id}");
                }
                _ => {
                    let err = super::super::read_answer::<WebToken>(200, body)
                        .expect_err("an error body");
                    assert_eq!(err.errcode(), v["expected"]["errcode"].as_i64(), "{id}");
                }
            }
            checked += 1;
        }
        assert_eq!(checked, 3 + 6);
    }
}
