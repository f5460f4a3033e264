//! User management and the blacklist, as WeChat serves them to verified accounts:
//!
//! - `GET /cgi-bin/user/get?next_openid=` — subscribed followers, 10,000 a page in a stable
//!   order: `{total, count, data: {openid}, next_openid}`, `next_openid` being the last openid
//!   of the page; a page with no one is `{total, count: 0, next_openid: ""}` without `data`.
//! - `GET /cgi-bin/user/info?openid=&lang=` — `subscribe, openid, language, subscribe_time,
//!   unionid (only when bound), remark, groupid (0), tagid_list, subscribe_scene, qr_scene,
//!   qr_scene_str`; someone who unfollowed gets `{subscribe: 0, openid}` (and `unionid`). No
//!   nickname, avatar, sex or region since 2021-12-27. Unknown openids: 40003.
//! - `POST /cgi-bin/user/info/batchget {user_list: [{openid, lang}]}` — at most 100 (40032),
//!   `{user_info_list: […]}` in the same shapes.
//! - `POST /cgi-bin/user/info/updateremark {openid, remark}` — remark under 30 bytes (40092),
//!   followers only (43004); WeChat opens it to verified service accounts only.
//! - `POST /cgi-bin/tags/members/getblacklist {begin_openid}` — 1,000 a page (the current
//!   documentation's number; older pages said 10,000), shaped like `user/get`.
//! - `POST /cgi-bin/tags/members/batchblacklist` / `batchunblacklist {openid_list}` — 1 to 20
//!   openids (40032), every one known (40003).
//!
//! Followers are the `follower` documents of [`crate::followers`]; changes go through
//! compare-and-swap and keep fields this module does not know (a `unionid`, say).

use std::ops::ControlFlow;

use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Sandbox;
use crate::caller::{self, ApiCaller};
use crate::error::{self, WxError, WxResult};
use crate::followers::{self, Follower};
use crate::registry::StoreError;

/// Openids in one `user/get` page.
pub const FOLLOWERS_PAGE: usize = 10_000;
/// Openids in one `getblacklist` page.
pub const BLACKLIST_PAGE: usize = 1_000;
/// Users in one `user/info/batchget`.
pub const MAX_BATCHGET: usize = 100;
/// Openids in one `batchblacklist` / `batchunblacklist`.
pub const MAX_BLACKLIST_BATCH: usize = 20;
/// A remark must be shorter than this many bytes.
pub const REMARK_LIMIT_BYTES: usize = 30;

/// Documents are read this many at a time when a whole list is walked.
const SCAN_PAGE: usize = 1_000;

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/user/get", get(list_followers))
        .route("/cgi-bin/user/info", get(user_info))
        .route("/cgi-bin/user/info/batchget", post(batch_user_info))
        .route("/cgi-bin/user/info/updateremark", post(update_remark))
        .route("/cgi-bin/tags/members/getblacklist", post(get_blacklist))
        .route("/cgi-bin/tags/members/batchblacklist", post(blacklist))
        .route("/cgi-bin/tags/members/batchunblacklist", post(unblacklist))
}

// ---------------------------------------------------------------------------------------------
// Shared by the user, tag and menu groups.

/// Reads a POST body as WeChat does: nothing at all is 44002, then [`caller::json_body`].
pub(crate) fn request_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, WxError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(WxError::new(44002, "empty post data"));
    }
    caller::json_body(body)
}

pub(crate) fn invalid_openid_list_size() -> WxError {
    WxError::new(40032, "invalid openid list size")
}

/// A follower document read and written whole: the fields [`Follower`] knows, and the others
/// kept as they are so that a write here does not drop what another module stored.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub(crate) struct StoredFollower {
    #[serde(flatten)]
    pub follower: Follower,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl StoredFollower {
    /// The follower's unionid, when the account is bound to an Open Platform account.
    fn unionid(&self) -> Option<&str> {
        self.other
            .get("unionid")
            .and_then(Value::as_str)
            .filter(|u| !u.is_empty())
    }
}

pub(crate) async fn stored_follower(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
) -> Result<Option<StoredFollower>, StoreError> {
    if openid.is_empty() {
        return Ok(None);
    }
    sb.docs.get(app_id, followers::KIND, openid).await
}

/// Changes a follower with compare-and-swap; `Ok(None)` when there is no such follower.
/// `change` may run more than once when others write the same follower, and its result is
/// the one of the attempt that was stored.
pub(crate) async fn change_follower<R>(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    mut change: impl FnMut(&mut Follower) -> R,
) -> Result<Option<R>, StoreError> {
    let changed = sb
        .docs
        .update(
            app_id,
            followers::KIND,
            openid,
            |doc: Option<StoredFollower>| match doc {
                Some(mut doc) => {
                    let r = change(&mut doc.follower);
                    Ok((doc, r))
                }
                None => Err(()),
            },
        )
        .await?;
    Ok(changed.ok())
}

/// Walks every follower in openid order (the order every list here pages in).
pub(crate) async fn each_follower(
    sb: &Sandbox,
    app_id: &str,
    mut visit: impl FnMut(&str, &Follower) -> ControlFlow<()>,
) -> Result<(), StoreError> {
    let mut after: Option<String> = None;
    loop {
        let page: Vec<(String, Follower)> = sb
            .docs
            .list(app_id, followers::KIND, after.as_deref(), SCAN_PAGE)
            .await?;
        for (openid, follower) in &page {
            if visit(openid, follower).is_break() {
                return Ok(());
            }
        }
        if page.len() < SCAN_PAGE {
            return Ok(());
        }
        after = page.last().map(|(openid, _)| openid.clone());
    }
}

/// One page of a filtered follower list, as `user/get`, `user/tag/get` and `getblacklist`
/// answer it.
#[derive(Debug, Default)]
pub(crate) struct OpenidPage {
    /// Everyone who passes the filter.
    pub total: u64,
    /// Those after the cursor, at most a page of them.
    pub openids: Vec<String>,
}

/// Pages through the followers passing `keep`, starting after `cursor` (empty: from the
/// start); 40003 when the cursor is not a follower.
pub(crate) async fn openid_page(
    sb: &Sandbox,
    app_id: &str,
    cursor: &str,
    page_size: usize,
    keep: impl Fn(&Follower) -> bool,
) -> Result<OpenidPage, WxError> {
    if !cursor.is_empty() && stored_follower(sb, app_id, cursor).await?.is_none() {
        return Err(WxError::invalid_openid());
    }
    let mut page = OpenidPage::default();
    each_follower(sb, app_id, |openid, follower| {
        if keep(follower) {
            page.total += 1;
            if openid > cursor && page.openids.len() < page_size {
                page.openids.push(openid.to_string());
            }
        }
        ControlFlow::Continue(())
    })
    .await?;
    Ok(page)
}

/// `{count, data: {openid}, next_openid}`: `next_openid` is the page's last openid, and a
/// page with no one has neither `data` nor a cursor.
pub(crate) fn openid_page_json(openids: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("count".into(), json!(openids.len()));
    if !openids.is_empty() {
        out.insert("data".into(), json!({ "openid": openids }));
    }
    let next = openids.last().map_or("", String::as_str);
    out.insert("next_openid".into(), json!(next));
    out
}

// ---------------------------------------------------------------------------------------------
// Followers and their details.

#[derive(Deserialize)]
struct NextOpenid {
    #[serde(default)]
    next_openid: String,
}

/// `GET /cgi-bin/user/get?next_openid=`.
async fn list_followers(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    Query(q): Query<NextOpenid>,
) -> WxResult {
    let page = openid_page(
        &sb,
        &caller.app.app_id,
        &q.next_openid,
        FOLLOWERS_PAGE,
        |f| f.subscribe,
    )
    .await?;
    let mut out = openid_page_json(&page.openids);
    out.insert("total".into(), json!(page.total));
    Ok(Json(Value::Object(out)).into_response())
}

#[derive(Deserialize)]
struct InfoQuery {
    #[serde(default)]
    openid: String,
}

/// What `user/info` says of a follower.
fn user_info_json(openid: &str, stored: &StoredFollower) -> Value {
    let f = &stored.follower;
    let mut out = Map::new();
    out.insert("subscribe".into(), json!(i32::from(f.subscribe)));
    out.insert("openid".into(), json!(openid));
    if f.subscribe {
        out.insert("language".into(), json!(f.profile.language));
        out.insert("subscribe_time".into(), json!(f.subscribe_time));
    }
    if let Some(unionid) = stored.unionid() {
        out.insert("unionid".into(), json!(unionid));
    }
    if f.subscribe {
        out.insert("remark".into(), json!(f.remark));
        // Groups gave way to tags; WeChat still sends the field, always 0.
        out.insert("groupid".into(), json!(0));
        out.insert("tagid_list".into(), json!(f.tagid_list));
        out.insert("subscribe_scene".into(), json!(f.subscribe_scene));
        out.insert("qr_scene".into(), json!(f.qr_scene));
        out.insert("qr_scene_str".into(), json!(f.qr_scene_str));
    }
    Value::Object(out)
}

async fn known_user_info(sb: &Sandbox, app_id: &str, openid: &str) -> Result<Value, WxError> {
    let stored = stored_follower(sb, app_id, openid)
        .await?
        .ok_or_else(WxError::invalid_openid)?;
    Ok(user_info_json(openid, &stored))
}

/// `GET /cgi-bin/user/info?openid=&lang=`.
async fn user_info(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    Query(q): Query<InfoQuery>,
) -> WxResult {
    let info = known_user_info(&sb, &caller.app.app_id, &q.openid).await?;
    Ok(Json(info).into_response())
}

#[derive(Deserialize)]
struct BatchGet {
    #[serde(default)]
    user_list: Vec<UserRef>,
}

#[derive(Deserialize)]
struct UserRef {
    #[serde(default)]
    openid: String,
}

/// `POST /cgi-bin/user/info/batchget`.
async fn batch_user_info(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: BatchGet = request_body(&body)?;
    if req.user_list.is_empty() || req.user_list.len() > MAX_BATCHGET {
        return Err(invalid_openid_list_size());
    }
    let mut infos = Vec::with_capacity(req.user_list.len());
    for user in &req.user_list {
        infos.push(known_user_info(&sb, &caller.app.app_id, &user.openid).await?);
    }
    Ok(Json(json!({ "user_info_list": infos })).into_response())
}

#[derive(Deserialize)]
struct UpdateRemark {
    #[serde(default)]
    openid: String,
    #[serde(default)]
    remark: String,
}

/// `POST /cgi-bin/user/info/updateremark`.
async fn update_remark(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: UpdateRemark = request_body(&body)?;
    if req.remark.len() >= REMARK_LIMIT_BYTES {
        return Err(WxError::new(40092, "invalid remark name"));
    }
    let stored = stored_follower(&sb, &caller.app.app_id, &req.openid)
        .await?
        .ok_or_else(WxError::invalid_openid)?;
    if !stored.follower.subscribe {
        return Err(require_subscribe());
    }
    let remark = req.remark;
    change_follower(&sb, &caller.app.app_id, &req.openid, |f| {
        f.remark.clone_from(&remark)
    })
    .await?
    .ok_or_else(WxError::invalid_openid)?;
    Ok(error::ok())
}

fn require_subscribe() -> WxError {
    WxError::new(43004, "require subscribe")
}

// ---------------------------------------------------------------------------------------------
// The blacklist.

#[derive(Deserialize)]
struct BlacklistQuery {
    #[serde(default)]
    begin_openid: String,
}

/// `POST /cgi-bin/tags/members/getblacklist`. An empty body reads from the start, as
/// `begin_openid` may be left out.
async fn get_blacklist(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: BlacklistQuery = if body.iter().all(u8::is_ascii_whitespace) {
        BlacklistQuery {
            begin_openid: String::new(),
        }
    } else {
        caller::json_body(&body)?
    };
    let page = openid_page(
        &sb,
        &caller.app.app_id,
        &req.begin_openid,
        BLACKLIST_PAGE,
        |f| f.blacklisted,
    )
    .await?;
    let mut out = openid_page_json(&page.openids);
    out.insert("total".into(), json!(page.total));
    Ok(Json(Value::Object(out)).into_response())
}

#[derive(Deserialize)]
struct OpenidList {
    #[serde(default)]
    openid_list: Vec<String>,
}

/// `POST /cgi-bin/tags/members/batchblacklist`.
async fn blacklist(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    set_blacklisted(&sb, &caller.app.app_id, &body, true).await
}

/// `POST /cgi-bin/tags/members/batchunblacklist`.
async fn unblacklist(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    set_blacklisted(&sb, &caller.app.app_id, &body, false).await
}

/// Checks the whole list first, so that a bad openid changes no one.
async fn set_blacklisted(sb: &Sandbox, app_id: &str, body: &[u8], blacklisted: bool) -> WxResult {
    let req: OpenidList = request_body(body)?;
    if req.openid_list.is_empty() || req.openid_list.len() > MAX_BLACKLIST_BATCH {
        return Err(invalid_openid_list_size());
    }
    for openid in &req.openid_list {
        if stored_follower(sb, app_id, openid).await?.is_none() {
            return Err(WxError::invalid_openid());
        }
    }
    for openid in &req.openid_list {
        change_follower(sb, app_id, openid, |f| f.blacklisted = blacklisted)
            .await?
            .ok_or_else(WxError::invalid_openid)?;
    }
    Ok(error::ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_follower_keeps_fields_it_does_not_know() {
        let doc = json!({"subscribe": true, "subscribe_time": 5, "created_at": 1,
                         "remark": "r", "unionid": "u1", "future": {"x": 1}});
        let stored: StoredFollower = serde_json::from_value(doc).expect("reads");
        assert_eq!(stored.follower.remark, "r");
        assert_eq!(stored.unionid(), Some("u1"));
        assert!(
            !stored.other.contains_key("remark"),
            "known fields are not doubled"
        );
        let back = serde_json::to_value(&stored).expect("writes");
        assert_eq!(back["future"], json!({"x": 1}));
        assert_eq!(back["unionid"], "u1");
        assert_eq!(back["remark"], "r");
    }

    #[test]
    fn an_empty_page_has_no_data_and_no_cursor() {
        let empty = openid_page_json(&[]);
        assert_eq!(Value::Object(empty), json!({"count": 0, "next_openid": ""}));
        let page = openid_page_json(&["a".to_string(), "b".to_string()]);
        assert_eq!(
            Value::Object(page),
            json!({"count": 2, "data": {"openid": ["a", "b"]}, "next_openid": "b"})
        );
    }

    #[test]
    fn an_empty_body_is_empty_post_data() {
        assert_eq!(
            request_body::<Value>(b"  ").map_err(|e| e.errcode),
            Err(44002)
        );
        assert_eq!(
            request_body::<Value>(b"{").map_err(|e| e.errcode),
            Err(47001)
        );
    }
}
