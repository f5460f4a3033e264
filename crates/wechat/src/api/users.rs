//! User management (用户管理) and the blacklist: `/cgi-bin/user/get`, `user/info`,
//! `user/info/batchget`, `user/info/updateremark`, `/cgi-bin/tags/members/getblacklist`,
//! `batchblacklist` and `batchunblacklist`.
//!
//! Follower lists come in pages (10,000 openids for `user/get`, 1,000 or 10,000 for the
//! blacklist): each page's `next_openid` is its last openid, and the page after the last one
//! is empty. Calls with lists have limits (100 users for `batchget`, 20 openids for the
//! blacklist): the functions here split longer lists into several calls.

use serde::{Deserialize, Serialize};

use super::wire::{OpenidList, batches, flag};
use super::{ApiError, Done};
use crate::token::TokenCache;

pub const GET_PATH: &str = "/cgi-bin/user/get";
pub const INFO_PATH: &str = "/cgi-bin/user/info";
pub const BATCHGET_PATH: &str = "/cgi-bin/user/info/batchget";
pub const UPDATE_REMARK_PATH: &str = "/cgi-bin/user/info/updateremark";
pub const GET_BLACKLIST_PATH: &str = "/cgi-bin/tags/members/getblacklist";
pub const BLACKLIST_PATH: &str = "/cgi-bin/tags/members/batchblacklist";
pub const UNBLACKLIST_PATH: &str = "/cgi-bin/tags/members/batchunblacklist";

/// Users in one `user/info/batchget` call.
pub const MAX_BATCHGET: usize = 100;
/// Openids in one `batchblacklist` / `batchunblacklist` call.
pub const MAX_BLACKLIST_BATCH: usize = 20;
/// Openids in one `user/get` page.
pub const FOLLOWERS_PAGE: usize = 10_000;

/// One page of openids: `{total, count, data: {openid: [...]}, next_openid}`. An empty page
/// has no `data`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct OpenidPage {
    /// Everyone in the list (not only this page).
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub data: Option<OpenidList>,
    /// Where the next page starts; empty after the last page.
    #[serde(default)]
    pub next_openid: String,
}

impl OpenidPage {
    pub fn openids(&self) -> &[String] {
        self.data.as_ref().map_or(&[], |d| d.openid.as_slice())
    }

    /// Whether there may be another page after this one.
    fn has_more(&self, cursor: &str) -> bool {
        !self.openids().is_empty() && !self.next_openid.is_empty() && self.next_openid != cursor
    }
}

/// Fetches pages from `cursor` on until one is empty, collecting every openid.
pub(crate) async fn every_page<F, Fut>(mut page: F) -> Result<Vec<String>, ApiError>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<OpenidPage, ApiError>>,
{
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let p = page(cursor.clone()).await?;
        all.extend(p.openids().iter().cloned());
        if !p.has_more(&cursor) {
            return Ok(all);
        }
        cursor = p.next_openid;
    }
}

/// `GET /cgi-bin/user/get?next_openid=`: one page of followers, from the start when
/// `next_openid` is empty.
pub async fn get_followers(tokens: &TokenCache, next_openid: &str) -> Result<OpenidPage, ApiError> {
    tokens
        .get("user.get", GET_PATH, &[("next_openid", next_openid)])
        .await
}

/// Every follower's openid, page after page.
pub async fn all_followers(tokens: &TokenCache) -> Result<Vec<String>, ApiError> {
    every_page(|cursor| async move { get_followers(tokens, &cursor).await }).await
}

/// What `user/info` says of a follower. Someone who left has only `subscribe: 0`, `openid`
/// (and `unionid`). WeChat stopped giving nicknames, avatars, sex and region at the end of
/// 2021.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct UserInfo {
    #[serde(deserialize_with = "flag")]
    pub subscribe: bool,
    pub openid: String,
    #[serde(default)]
    pub language: String,
    /// Seconds since the epoch of the latest follow.
    #[serde(default)]
    pub subscribe_time: i64,
    /// Only when the account is bound to an Open Platform account.
    #[serde(default)]
    pub unionid: Option<String>,
    #[serde(default)]
    pub remark: String,
    #[serde(default)]
    pub groupid: i64,
    #[serde(default)]
    pub tagid_list: Vec<i64>,
    /// `ADD_SCENE_SEARCH`, `ADD_SCENE_QR_CODE`, …
    #[serde(default)]
    pub subscribe_scene: String,
    #[serde(default)]
    pub qr_scene: i64,
    #[serde(default)]
    pub qr_scene_str: String,
}

/// `zh_CN`, `zh_TW` or `en`: the language of country and province names.
pub const DEFAULT_LANG: &str = "zh_CN";

/// `GET /cgi-bin/user/info?openid=&lang=zh_CN`.
pub async fn info(tokens: &TokenCache, openid: &str) -> Result<UserInfo, ApiError> {
    tokens
        .get(
            "user.info",
            INFO_PATH,
            &[("openid", openid), ("lang", DEFAULT_LANG)],
        )
        .await
}

#[derive(Serialize)]
struct BatchGet<'a> {
    user_list: Vec<UserRef<'a>>,
}

#[derive(Serialize)]
struct UserRef<'a> {
    openid: &'a str,
    lang: &'a str,
}

fn batchget_body(openids: &[String]) -> BatchGet<'_> {
    BatchGet {
        user_list: openids
            .iter()
            .map(|openid| UserRef {
                openid,
                lang: DEFAULT_LANG,
            })
            .collect(),
    }
}

#[derive(Deserialize)]
struct UserInfoList {
    #[serde(default)]
    user_info_list: Vec<UserInfo>,
}

/// `POST /cgi-bin/user/info/batchget`: the users' details in the order asked, in calls of
/// at most 100. One unknown openid fails its whole call (40003).
pub async fn batch_info(
    tokens: &TokenCache,
    openids: &[String],
) -> Result<Vec<UserInfo>, ApiError> {
    let mut all = Vec::with_capacity(openids.len());
    for batch in batches(openids, MAX_BATCHGET) {
        let answer: UserInfoList = tokens
            .post("user.batchget", BATCHGET_PATH, &batchget_body(batch))
            .await?;
        all.extend(answer.user_info_list);
    }
    Ok(all)
}

/// `POST /cgi-bin/user/info/updateremark {openid, remark}` (remark under 30 bytes; verified
/// service accounts only).
pub async fn update_remark(
    tokens: &TokenCache,
    openid: &str,
    remark: &str,
) -> Result<(), ApiError> {
    #[derive(Serialize)]
    struct Body<'a> {
        openid: &'a str,
        remark: &'a str,
    }
    tokens
        .post::<_, Done>(
            "user.updateremark",
            UPDATE_REMARK_PATH,
            &Body { openid, remark },
        )
        .await
        .map(|_| ())
}

/// `POST /cgi-bin/tags/members/getblacklist {begin_openid}`: one page of blacklisted users.
pub async fn get_blacklist(
    tokens: &TokenCache,
    begin_openid: &str,
) -> Result<OpenidPage, ApiError> {
    #[derive(Serialize)]
    struct Body<'a> {
        begin_openid: &'a str,
    }
    tokens
        .post("blacklist.get", GET_BLACKLIST_PATH, &Body { begin_openid })
        .await
}

/// Every blacklisted openid, page after page.
pub async fn all_blacklisted(tokens: &TokenCache) -> Result<Vec<String>, ApiError> {
    every_page(|cursor| async move { get_blacklist(tokens, &cursor).await }).await
}

#[derive(Serialize)]
struct OpenidListBody<'a> {
    openid_list: &'a [String],
}

/// `POST /cgi-bin/tags/members/batchblacklist {openid_list}`, in calls of at most 20.
pub async fn blacklist(tokens: &TokenCache, openids: &[String]) -> Result<(), ApiError> {
    for batch in batches(openids, MAX_BLACKLIST_BATCH) {
        tokens
            .post::<_, Done>(
                "blacklist.batch",
                BLACKLIST_PATH,
                &OpenidListBody { openid_list: batch },
            )
            .await?;
    }
    Ok(())
}

/// `POST /cgi-bin/tags/members/batchunblacklist {openid_list}`, in calls of at most 20.
pub async fn unblacklist(tokens: &TokenCache, openids: &[String]) -> Result<(), ApiError> {
    for batch in batches(openids, MAX_BLACKLIST_BATCH) {
        tokens
            .post::<_, Done>(
                "blacklist.unbatch",
                UNBLACKLIST_PATH,
                &OpenidListBody { openid_list: batch },
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_batchget_body_matches_wechats_example() {
        let openids = vec![
            "otvxTs4dckWG7imySrJd6jSi0CWE".to_string(),
            "otvxTs_JZ6SEiP0imdhpi50fuSZg".to_string(),
        ];
        assert_eq!(
            serde_json::to_value(batchget_body(&openids)).expect("json"),
            json!({"user_list": [
                {"openid": "otvxTs4dckWG7imySrJd6jSi0CWE", "lang": "zh_CN"},
                {"openid": "otvxTs_JZ6SEiP0imdhpi50fuSZg", "lang": "zh_CN"}]})
        );
        let blacklist = OpenidListBody {
            openid_list: &openids,
        };
        assert_eq!(
            serde_json::to_value(&blacklist).expect("json"),
            json!({"openid_list": ["otvxTs4dckWG7imySrJd6jSi0CWE", "otvxTs_JZ6SEiP0imdhpi50fuSZg"]})
        );
    }

    #[test]
    fn user_info_of_wechats_example_is_read() {
        let info: UserInfo = serde_json::from_value(json!({
            "subscribe": 1,
            "openid": "o6_bmjrPTlm6_2sgVt7hMZOPfL2M",
            "language": "zh_CN",
            "subscribe_time": 1382694957,
            "unionid": " o6_bmasdasdsad6_2sgVt7hMZOPfL",
            "remark": "",
            "groupid": 0,
            "tagid_list": [128, 2],
            "subscribe_scene": "ADD_SCENE_QR_CODE",
            "qr_scene": 98765,
            "qr_scene_str": ""
        }))
        .expect("reads");
        assert!(info.subscribe);
        assert_eq!(info.tagid_list, vec![128, 2]);
        assert_eq!(info.qr_scene, 98765);
        assert_eq!(info.subscribe_scene, "ADD_SCENE_QR_CODE");
        let gone: UserInfo = serde_json::from_value(json!({
            "subscribe": 0, "openid": "otvxTs_JZ6SEiP0imdhpi50fuSZg"}))
        .expect("someone who left");
        assert!(!gone.subscribe);
        assert!(gone.tagid_list.is_empty());
        let list: UserInfoList = serde_json::from_value(json!({"user_info_list": [
            {"subscribe": 1, "openid": "a", "tagid_list": []},
            {"subscribe": 0, "openid": "b"}]}))
        .expect("batchget answer");
        assert_eq!(list.user_info_list.len(), 2);
    }

    #[test]
    fn pages_of_wechats_example_are_read_and_followed() {
        let page: OpenidPage = serde_json::from_value(json!({
            "total": 2, "count": 2,
            "data": {"openid": ["OPENID1", "OPENID2"]},
            "next_openid": "NEXT_OPENID"}))
        .expect("reads");
        assert_eq!(page.openids(), ["OPENID1", "OPENID2"]);
        assert!(page.has_more(""));
        let last: OpenidPage =
            serde_json::from_value(json!({"total": 2, "count": 0, "next_openid": ""}))
                .expect("the empty page after the last");
        assert!(last.openids().is_empty());
        assert!(!last.has_more("NEXT_OPENID"));
    }

    #[tokio::test]
    async fn paging_stops_at_the_empty_page() {
        let pages = std::sync::Mutex::new(vec![
            json!({"total": 3, "count": 0, "next_openid": ""}),
            json!({"total": 3, "count": 1, "data": {"openid": ["c"]}, "next_openid": "c"}),
            json!({"total": 3, "count": 2, "data": {"openid": ["a", "b"]}, "next_openid": "b"}),
        ]);
        let cursors = std::sync::Mutex::new(Vec::new());
        let all = every_page(|cursor| {
            cursors.lock().expect("lock").push(cursor);
            let next = pages.lock().expect("lock").pop().expect("a page");
            async move { Ok(serde_json::from_value(next).expect("page")) }
        })
        .await
        .expect("pages");
        assert_eq!(all, ["a", "b", "c"]);
        assert_eq!(*cursors.lock().expect("lock"), ["", "b", "c"]);
    }
}
