//! The JS-SDK: the `jsapi_ticket` (`GET /cgi-bin/ticket/getticket?type=jsapi`) and the
//! `wx.config` signature.
//!
//! The ticket lives 7,200 s and WeChat allows few fetches a day: keep it in a store every
//! instance shares (as the access token) and refetch only near expiry. Never cache the
//! signature: it covers the page URL, a nonce and a timestamp.
//!
//! `signature = hex(sha1("jsapi_ticket=T&noncestr=N&timestamp=S&url=U"))`, keys in ASCII order,
//! raw values (no URL escaping), `url` the page's full URL with its query and without `#…`
//! (the browser's `location.href.split('#')[0]`).

use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};

use super::ApiError;
use crate::token::TokenCache;

pub const TICKET_PATH: &str = "/cgi-bin/ticket/getticket";

/// A `jsapi_ticket` (or a card `api_ticket`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct Ticket {
    pub ticket: String,
    /// Seconds left (7,200 when new).
    pub expires_in: i64,
}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// `GET /cgi-bin/ticket/getticket?type=jsapi`.
pub async fn jsapi_ticket(tokens: &TokenCache) -> Result<Ticket, ApiError> {
    tokens
        .get("jssdk.ticket", TICKET_PATH, &[("type", "jsapi")])
        .await
}

/// `GET /cgi-bin/ticket/getticket?type=wx_card`: the card `api_ticket` (verified accounts),
/// a separate ticket for `wx.addCard` / `wx.chooseCard`.
pub async fn card_ticket(tokens: &TokenCache) -> Result<Ticket, ApiError> {
    tokens
        .get("jssdk.card_ticket", TICKET_PATH, &[("type", "wx_card")])
        .await
}

/// The page URL as signed: everything before the first `#`.
pub fn url_to_sign(page_url: &str) -> &str {
    page_url.split('#').next().unwrap_or_default()
}

/// `string1`: `jsapi_ticket=…&noncestr=…&timestamp=…&url=…` with raw values.
pub fn string_to_sign(ticket: &str, noncestr: &str, timestamp: &str, page_url: &str) -> String {
    format!(
        "jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={}",
        url_to_sign(page_url)
    )
}

/// The `wx.config` signature: lowercase hex SHA-1 of [`string_to_sign`].
pub fn signature(ticket: &str, noncestr: &str, timestamp: &str, page_url: &str) -> String {
    hex::encode(Sha1::digest(
        string_to_sign(ticket, noncestr, timestamp, page_url).as_bytes(),
    ))
}

/// What a page passes to `wx.config` (besides `debug`, `jsApiList` and `openTagList`), in
/// the JavaScript names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WxConfig {
    pub app_id: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub nonce_str: String,
    pub signature: String,
}

/// The signed `wx.config` for a page: `timestamp` in Unix seconds, `nonce_str` a fresh random
/// string, `page_url` as the browser shows it (a `#fragment` is dropped here).
pub fn wx_config(
    app_id: &str,
    ticket: &str,
    page_url: &str,
    nonce_str: &str,
    timestamp: i64,
) -> WxConfig {
    WxConfig {
        app_id: app_id.to_string(),
        timestamp,
        nonce_str: nonce_str.to_string(),
        signature: signature(ticket, nonce_str, &timestamp.to_string(), page_url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const TICKET: &str =
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";

    #[test]
    fn the_official_examples_are_reproduced() {
        assert_eq!(
            signature(
                TICKET,
                "Wm3WZYTPz0wzccnW",
                "1414587457",
                "http://mp.weixin.qq.com?params=value"
            ),
            "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
        );
        assert_eq!(
            signature(
                TICKET,
                "Wm3WZYTPz0wzccnW",
                "1414587457",
                "http://mp.weixin.qq.com"
            ),
            "f4d90daf4b3bca3078ab155816175ba34c443a7b"
        );
        assert_eq!(
            signature(
                TICKET,
                "Wm3WZYTPz0wzccnW",
                "1414587457",
                "http://mp.weixin.qq.com?params=value#/order/1?x=y"
            ),
            "0f9de62fce790f9a083d5c99e95740ceb90c27ed",
            "the fragment is not signed"
        );
        let config = wx_config(
            "wx1234567890abcdef",
            TICKET,
            "http://mp.weixin.qq.com?params=value",
            "Wm3WZYTPz0wzccnW",
            1_414_587_457,
        );
        assert_eq!(
            serde_json::to_value(&config).expect("json"),
            json!({"appId": "wx1234567890abcdef", "timestamp": 1414587457,
                   "nonceStr": "Wm3WZYTPz0wzccnW",
                   "signature": "0f9de62fce790f9a083d5c99e95740ceb90c27ed"})
        );
    }

    #[test]
    fn the_ticket_answer_of_wechats_example_is_read() {
        let t: Ticket = crate::api::read_answer(
            200,
            r#"{"errcode":0,"errmsg":"ok","ticket":"bxLdikRXVbTPdHSM05e5u5sUoXNKd8-41ZO3MhKoyN5OfkWITDGgnr2fwJ0m9E8NYzWKVZvdVtaUgWvsdshFKA","expires_in":7200}"#,
        )
        .expect("ticket");
        assert_eq!(t.expires_in, 7200);
        assert!(
            !format!("{t:?}").contains("bxLdik"),
            "tickets stay out of logs"
        );
    }

    #[test]
    fn every_jssdk_vector_passes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/vectors/wechat-pay-oauth-jssdk-vectors.json"
        );
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {path} (shared/ beside the repo): {e}"));
        let doc: Value = serde_json::from_str(&text).expect("vectors are JSON");
        let mut checked = 0;
        for v in doc["vectors"].as_array().expect("vectors") {
            if v["kind"] != "jssdk_signature" {
                continue;
            }
            let input = &v["input"];
            let s = |k: &str| input[k].as_str().unwrap_or_default();
            let page = input["url"]
                .as_str()
                .or_else(|| input["page_location_href"].as_str())
                .expect("a url");
            let expected = &v["expected"];
            assert_eq!(
                string_to_sign(s("jsapi_ticket"), s("noncestr"), s("timestamp"), page),
                expected["string1"],
                "{}",
                v["id"]
            );
            let sig = signature(s("jsapi_ticket"), s("noncestr"), s("timestamp"), page);
            assert_eq!(sig, expected["signature"], "{}", v["id"]);
            if let Some(url) = expected["url_to_sign"].as_str() {
                assert_eq!(url_to_sign(page), url);
            }
            if let Some(other) = expected["must_not_equal"].as_str() {
                assert_ne!(sig, other);
            }
            checked += 1;
        }
        assert_eq!(checked, 4);
    }
}
