//! User tags, as WeChat serves them to verified accounts:
//!
//! - `POST /cgi-bin/tags/create {tag: {name}}` → `{tag: {id, name}}`: names of 1–30 bytes
//!   (45158 too long, 45157 empty or taken), at most 100 tags (45056). Ids start at 100 and
//!   are never reused: 0, 1 and 2 are WeChat's own, and 2 (星标组, starred) is always there.
//! - `GET /cgi-bin/tags/get` → `{tags: [{id, name, count}]}`, the starred tag first.
//! - `POST /cgi-bin/tags/update {tag: {id, name}}`: 45058 for 0/1/2, 45159 unknown id,
//!   45157/45158 as for create.
//! - `POST /cgi-bin/tags/delete {tag: {id}}`: 45058 for 0/1/2, 45159 unknown, 45057 while
//!   more than 100,000 followers carry it; the tag leaves every follower.
//! - `POST /cgi-bin/user/tag/get {tagid, next_openid}` → `{count, data: {openid},
//!   next_openid}`, 10,000 a page in openid order.
//! - `POST /cgi-bin/tags/members/batchtagging` / `batchuntagging {openid_list, tagid}`: 1–50
//!   openids (40032), a known tag (45159), known openids (40003; tagging also needs them to
//!   follow), at most 20 tags a follower (45059).
//! - `POST /cgi-bin/tags/getidlist {openid}` → `{tagid_list}`.
//!
//! Where things live: the tag names in one `tag_catalog` document, so that creating, renaming
//! and deleting check uniqueness and the limit in one compare-and-swap; a follower's tags in
//! their `follower` document (`tagid_list`, in the order they were applied — conditional menus
//! match the last one); and each tag's member count in a `tag` document keyed by the
//! zero-padded id, moved only by the number of followers whose document actually changed, so
//! that concurrent tagging keeps it exact. Followers keep their tags when they unfollow, and
//! lists and counts include them.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Sandbox;
use crate::caller::ApiCaller;
use crate::error::{self, WxError, WxResult};
use crate::registry::StoreError;
use crate::users::{self, change_follower, each_follower, request_body, stored_follower};

/// The catalog of an app's tags (one document).
const CATALOG_KIND: &str = "tag_catalog";
const CATALOG_KEY: &str = "catalog";
/// Member counts, one document per tag, keyed by [`tag_key`].
pub const COUNT_KIND: &str = "tag";

/// The starred tag every account has.
pub const STARRED_ID: i64 = 2;
pub const STARRED_NAME: &str = "星标组";
/// Ids below this are WeChat's own (0 untagged, 1 blacklist, 2 starred).
pub const FIRST_TAG_ID: i64 = 100;
pub const MAX_TAGS: usize = 100;
pub const MAX_NAME_BYTES: usize = 30;
pub const MAX_TAGS_PER_FOLLOWER: usize = 20;
pub const MAX_TAGGING_BATCH: usize = 50;
/// A tag this popular cannot be deleted until it is untagged below the limit.
pub const MAX_DELETABLE_MEMBERS: u64 = 100_000;
/// Openids in one `user/tag/get` page.
pub const MEMBERS_PAGE: usize = 10_000;

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/cgi-bin/tags/create", post(create))
        .route("/cgi-bin/tags/get", get(list))
        .route("/cgi-bin/tags/update", post(update))
        .route("/cgi-bin/tags/delete", post(delete))
        .route("/cgi-bin/user/tag/get", post(members))
        .route("/cgi-bin/tags/members/batchtagging", post(batch_tagging))
        .route(
            "/cgi-bin/tags/members/batchuntagging",
            post(batch_untagging),
        )
        .route("/cgi-bin/tags/getidlist", post(tags_of_follower))
}

/// The key of a tag's count document: zero-padded so that keys list in id order.
pub fn tag_key(id: i64) -> String {
    format!("{id:09}")
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct Catalog {
    /// The id the next tag gets; ids are never reused.
    next_id: i64,
    tags: Vec<TagName>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct TagName {
    id: i64,
    name: String,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
struct MemberCount {
    count: u64,
}

impl Catalog {
    fn name_of(&self, id: i64) -> Option<&str> {
        if id == STARRED_ID {
            return Some(STARRED_NAME);
        }
        self.tags
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.name.as_str())
    }

    /// Whether another tag (not `except`) already has `name`.
    fn name_taken(&self, name: &str, except: Option<i64>) -> bool {
        name == STARRED_NAME
            || self
                .tags
                .iter()
                .any(|t| t.name == name && Some(t.id) != except)
    }
}

async fn catalog(sb: &Sandbox, app_id: &str) -> Result<Catalog, StoreError> {
    Ok(sb
        .docs
        .get(app_id, CATALOG_KIND, CATALOG_KEY)
        .await?
        .unwrap_or_default())
}

/// Whether `id` names a tag followers can carry (the starred tag or one the app made).
async fn tag_exists(sb: &Sandbox, app_id: &str, id: i64) -> Result<bool, StoreError> {
    Ok(catalog(sb, app_id).await?.name_of(id).is_some())
}

async fn member_counts(sb: &Sandbox, app_id: &str) -> Result<BTreeMap<String, u64>, StoreError> {
    let counts: Vec<(String, MemberCount)> = sb.docs.all(app_id, COUNT_KIND).await?;
    Ok(counts.into_iter().map(|(k, c)| (k, c.count)).collect())
}

/// Moves a tag's member count by `delta` (never below zero).
async fn add_to_count(sb: &Sandbox, app_id: &str, id: i64, delta: i64) -> Result<(), StoreError> {
    if delta == 0 {
        return Ok(());
    }
    sb.docs
        .update(
            app_id,
            COUNT_KIND,
            &tag_key(id),
            |c: Option<MemberCount>| {
                let count = c.unwrap_or_default().count.saturating_add_signed(delta);
                Ok::<_, ()>((MemberCount { count }, ()))
            },
        )
        .await?
        .map_err(|()| StoreError("tag count update refused".into()))
}

fn invalid_tag_name() -> WxError {
    WxError::new(45157, "invalid tag name")
}
fn tag_name_too_long() -> WxError {
    WxError::new(45158, "tag name too long")
}
fn invalid_tag_id() -> WxError {
    WxError::new(45159, "invalid tag id")
}
fn cannot_modify_system_tag() -> WxError {
    WxError::new(45058, "can't modify sys tag")
}

fn check_name(name: &str) -> Result<(), WxError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(tag_name_too_long());
    }
    if name.trim().is_empty() {
        return Err(invalid_tag_name());
    }
    Ok(())
}

fn is_system_tag(id: i64) -> bool {
    (0..=STARRED_ID).contains(&id)
}

// ---------------------------------------------------------------------------------------------
// The tags themselves.

#[derive(Deserialize)]
struct TagBody {
    tag: Option<TagFields>,
}

#[derive(Deserialize)]
struct TagFields {
    id: Option<i64>,
    #[serde(default)]
    name: String,
}

fn tag_fields(body: &[u8]) -> Result<TagFields, WxError> {
    let req: TagBody = request_body(body)?;
    req.tag.ok_or_else(empty_post_data)
}

fn empty_post_data() -> WxError {
    WxError::new(44002, "empty post data")
}

/// `POST /cgi-bin/tags/create`.
async fn create(State(sb): State<Sandbox>, caller: ApiCaller, body: axum::body::Bytes) -> WxResult {
    let name = tag_fields(&body)?.name;
    let id = create_for_app(&sb, &caller.app.app_id, &name).await?;
    Ok(Json(json!({ "tag": { "id": id, "name": name } })).into_response())
}

/// Creates a tag as `tags/create` does (same checks and errcodes), for callers that have
/// no HTTP request, such as the product's demo data.
pub async fn create_for_app(sb: &Sandbox, app_id: &str, name: &str) -> Result<i64, WxError> {
    check_name(name)?;
    sb.docs
        .update(app_id, CATALOG_KIND, CATALOG_KEY, |c: Option<Catalog>| {
            let mut c = c.unwrap_or_default();
            if c.tags.len() >= MAX_TAGS {
                return Err(WxError::new(45056, "too many tag now, no need to add new"));
            }
            if c.name_taken(name, None) {
                return Err(invalid_tag_name());
            }
            let id = c.next_id.max(FIRST_TAG_ID);
            c.next_id = id + 1;
            c.tags.push(TagName {
                id,
                name: name.to_string(),
            });
            Ok((c, id))
        })
        .await?
}

/// Tags followers as `tags/members/batchtagging` does, without its batch limit; followers
/// already carrying the tag, unknown or full are passed over. Returns how many were tagged.
pub async fn tag_for_app(
    sb: &Sandbox,
    app_id: &str,
    id: i64,
    openids: &[String],
) -> Result<i64, StoreError> {
    let mut added = 0;
    for openid in openids {
        if let Some(Tagged::Added) =
            change_follower(sb, app_id, openid, |f| add_tag(&mut f.tagid_list, id)).await?
        {
            added += 1;
        }
    }
    add_to_count(sb, app_id, id, added).await?;
    Ok(added)
}

/// `GET /cgi-bin/tags/get`.
async fn list(State(sb): State<Sandbox>, caller: ApiCaller) -> WxResult {
    let app_id = &caller.app.app_id;
    let catalog = catalog(&sb, app_id).await?;
    let counts = member_counts(&sb, app_id).await?;
    let count_of = |id: i64| counts.get(&tag_key(id)).copied().unwrap_or(0);
    let mut tags =
        vec![json!({ "id": STARRED_ID, "name": STARRED_NAME, "count": count_of(STARRED_ID) })];
    let mut own = catalog.tags.clone();
    own.sort_by_key(|t| t.id);
    tags.extend(
        own.iter()
            .map(|t| json!({ "id": t.id, "name": t.name, "count": count_of(t.id) })),
    );
    Ok(Json(json!({ "tags": tags })).into_response())
}

/// `POST /cgi-bin/tags/update`.
async fn update(State(sb): State<Sandbox>, caller: ApiCaller, body: axum::body::Bytes) -> WxResult {
    let fields = tag_fields(&body)?;
    let id = fields.id.ok_or_else(empty_post_data)?;
    if is_system_tag(id) {
        return Err(cannot_modify_system_tag());
    }
    check_name(&fields.name)?;
    let name = fields.name;
    sb.docs
        .update(
            &caller.app.app_id,
            CATALOG_KIND,
            CATALOG_KEY,
            |c: Option<Catalog>| {
                let mut c = c.unwrap_or_default();
                if c.name_of(id).is_none() {
                    return Err(invalid_tag_id());
                }
                if c.name_taken(&name, Some(id)) {
                    return Err(invalid_tag_name());
                }
                for t in c.tags.iter_mut().filter(|t| t.id == id) {
                    t.name.clone_from(&name);
                }
                Ok((c, ()))
            },
        )
        .await??;
    Ok(error::ok())
}

/// `POST /cgi-bin/tags/delete`.
async fn delete(State(sb): State<Sandbox>, caller: ApiCaller, body: axum::body::Bytes) -> WxResult {
    let id = tag_fields(&body)?.id.ok_or_else(empty_post_data)?;
    if is_system_tag(id) {
        return Err(cannot_modify_system_tag());
    }
    let app_id = &caller.app.app_id;
    let members: Option<MemberCount> = sb.docs.get(app_id, COUNT_KIND, &tag_key(id)).await?;
    if members.is_some_and(|m| m.count > MAX_DELETABLE_MEMBERS) {
        return Err(WxError::new(
            45057,
            "can't delete the tag that has too many fans",
        ));
    }
    sb.docs
        .update(app_id, CATALOG_KIND, CATALOG_KEY, |c: Option<Catalog>| {
            let mut c = c.unwrap_or_default();
            let before = c.tags.len();
            c.tags.retain(|t| t.id != id);
            if c.tags.len() == before {
                return Err(invalid_tag_id());
            }
            Ok((c, ()))
        })
        .await??;
    untag_everyone(&sb, app_id, id).await?;
    sb.docs.delete(app_id, COUNT_KIND, &tag_key(id)).await?;
    Ok(error::ok())
}

/// Takes a deleted tag off every follower who carries it.
async fn untag_everyone(sb: &Sandbox, app_id: &str, id: i64) -> Result<(), StoreError> {
    let mut carriers = Vec::new();
    each_follower(sb, app_id, |openid, f| {
        if f.tagid_list.contains(&id) {
            carriers.push(openid.to_string());
        }
        ControlFlow::Continue(())
    })
    .await?;
    for openid in carriers {
        change_follower(sb, app_id, &openid, |f| f.tagid_list.retain(|t| *t != id)).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Followers and their tags.

#[derive(Deserialize)]
struct MembersQuery {
    tagid: Option<i64>,
    #[serde(default)]
    next_openid: String,
}

/// `POST /cgi-bin/user/tag/get`.
async fn members(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: MembersQuery = request_body(&body)?;
    let app_id = &caller.app.app_id;
    let id = req.tagid.ok_or_else(invalid_tag_id)?;
    if !tag_exists(&sb, app_id, id).await? {
        return Err(invalid_tag_id());
    }
    let page = users::openid_page(&sb, app_id, &req.next_openid, MEMBERS_PAGE, |f| {
        f.tagid_list.contains(&id)
    })
    .await?;
    Ok(Json(Value::Object(users::openid_page_json(&page.openids))).into_response())
}

#[derive(Deserialize)]
struct Tagging {
    #[serde(default)]
    openid_list: Vec<String>,
    tagid: Option<i64>,
}

/// What tagging did to one follower.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tagged {
    Added,
    AlreadyThere,
    TooMany,
}

fn add_tag(tags: &mut Vec<i64>, id: i64) -> Tagged {
    if tags.contains(&id) {
        Tagged::AlreadyThere
    } else if tags.len() >= MAX_TAGS_PER_FOLLOWER {
        Tagged::TooMany
    } else {
        tags.push(id);
        Tagged::Added
    }
}

fn too_many_tags_on_follower() -> WxError {
    WxError::new(45059, "can not tagging one user too much")
}

/// Checks a tagging request as WeChat does, in its order: list size, tag, openids.
async fn checked_tagging(
    sb: &Sandbox,
    app_id: &str,
    body: &[u8],
    need_subscribed: bool,
) -> Result<(i64, Vec<String>), WxError> {
    let req: Tagging = request_body(body)?;
    if req.openid_list.is_empty() || req.openid_list.len() > MAX_TAGGING_BATCH {
        return Err(users::invalid_openid_list_size());
    }
    let id = req.tagid.ok_or_else(invalid_tag_id)?;
    if !tag_exists(sb, app_id, id).await? {
        return Err(invalid_tag_id());
    }
    for openid in &req.openid_list {
        let stored = stored_follower(sb, app_id, openid).await?;
        match stored {
            Some(s) if s.follower.subscribe || !need_subscribed => {
                let f = s.follower;
                if need_subscribed
                    && !f.tagid_list.contains(&id)
                    && f.tagid_list.len() >= MAX_TAGS_PER_FOLLOWER
                {
                    return Err(too_many_tags_on_follower());
                }
            }
            _ => return Err(WxError::invalid_openid()),
        }
    }
    Ok((id, req.openid_list))
}

/// `POST /cgi-bin/tags/members/batchtagging`.
async fn batch_tagging(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let app_id = &caller.app.app_id;
    let (id, openids) = checked_tagging(&sb, app_id, &body, true).await?;
    let mut added = 0;
    let mut refused = false;
    for openid in dedup(openids) {
        match change_follower(&sb, app_id, &openid, |f| add_tag(&mut f.tagid_list, id)).await? {
            Some(Tagged::Added) => added += 1,
            // Someone else filled the follower's tags since the check.
            Some(Tagged::TooMany) => refused = true,
            Some(Tagged::AlreadyThere) | None => {}
        }
    }
    add_to_count(&sb, app_id, id, added).await?;
    if refused {
        return Err(too_many_tags_on_follower());
    }
    Ok(error::ok())
}

/// `POST /cgi-bin/tags/members/batchuntagging`.
async fn batch_untagging(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let app_id = &caller.app.app_id;
    let (id, openids) = checked_tagging(&sb, app_id, &body, false).await?;
    let mut removed = 0;
    for openid in dedup(openids) {
        let took_off = change_follower(&sb, app_id, &openid, |f| {
            let before = f.tagid_list.len();
            f.tagid_list.retain(|t| *t != id);
            before != f.tagid_list.len()
        })
        .await?;
        if took_off == Some(true) {
            removed += 1;
        }
    }
    add_to_count(&sb, app_id, id, -removed).await?;
    Ok(error::ok())
}

/// An openid listed twice is tagged once.
fn dedup(openids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    openids
        .into_iter()
        .filter(|o| seen.insert(o.clone()))
        .collect()
}

#[derive(Deserialize)]
struct OpenidBody {
    #[serde(default)]
    openid: String,
}

/// `POST /cgi-bin/tags/getidlist`.
async fn tags_of_follower(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let req: OpenidBody = request_body(&body)?;
    let stored = stored_follower(&sb, &caller.app.app_id, &req.openid)
        .await?
        .ok_or_else(WxError::invalid_openid)?;
    Ok(Json(json!({ "tagid_list": stored.follower.tagid_list })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_keys_sort_by_id() {
        assert!(tag_key(100) < tag_key(1000));
        assert_eq!(tag_key(2), "000000002");
    }

    #[test]
    fn a_follower_takes_at_most_twenty_tags() {
        let mut tags: Vec<i64> = (100..119).collect();
        assert_eq!(add_tag(&mut tags, 100), Tagged::AlreadyThere);
        assert_eq!(add_tag(&mut tags, 200), Tagged::Added);
        assert_eq!(add_tag(&mut tags, 201), Tagged::TooMany);
        assert_eq!(tags.len(), MAX_TAGS_PER_FOLLOWER);
        assert_eq!(tags.last(), Some(&200), "the latest tag is last");
    }

    #[test]
    fn only_zero_one_and_two_are_system_tags() {
        assert!(is_system_tag(0) && is_system_tag(1) && is_system_tag(2));
        assert!(!is_system_tag(3) && !is_system_tag(100) && !is_system_tag(-1));
    }
}
