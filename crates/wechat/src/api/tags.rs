//! User tags (用户标签): `/cgi-bin/tags/create`, `get`, `update`, `delete`,
//! `tags/members/batchtagging` and `batchuntagging`, `tags/getidlist` and `/cgi-bin/user/tag/get`.
//!
//! Ids 0, 1 and 2 are WeChat's own (2 is 星标组, starred) and cannot be changed (45058). An
//! account has at most 100 tags, a follower at most 20 (45059). Tagging takes at most 50
//! openids a call: the functions here split longer lists.

use serde::{Deserialize, Serialize};

use super::users::{OpenidPage, every_page};
use super::wire::batches;
use super::{ApiError, Done};
use crate::token::TokenCache;

pub const CREATE_PATH: &str = "/cgi-bin/tags/create";
pub const GET_PATH: &str = "/cgi-bin/tags/get";
pub const UPDATE_PATH: &str = "/cgi-bin/tags/update";
pub const DELETE_PATH: &str = "/cgi-bin/tags/delete";
pub const TAGGING_PATH: &str = "/cgi-bin/tags/members/batchtagging";
pub const UNTAGGING_PATH: &str = "/cgi-bin/tags/members/batchuntagging";
pub const ID_LIST_PATH: &str = "/cgi-bin/tags/getidlist";
pub const MEMBERS_PATH: &str = "/cgi-bin/user/tag/get";

/// Openids in one `batchtagging` / `batchuntagging` call.
pub const MAX_TAGGING_BATCH: usize = 50;
/// The starred tag every account has.
pub const STARRED: i64 = 2;

/// A tag as `tags/create` answers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub id: i64,
    pub name: String,
}

/// A tag as `tags/get` lists it, with its follower count.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct TagCount {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub count: u64,
}

#[derive(Serialize, Deserialize)]
struct TagBody<T> {
    tag: T,
}

#[derive(Serialize)]
struct NewTag<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct TagId {
    id: i64,
}

#[derive(Serialize)]
struct Tagging<'a> {
    openid_list: &'a [String],
    tagid: i64,
}

/// `POST /cgi-bin/tags/create {tag: {name}}` → the new tag (names of 1–30 bytes, unique).
pub async fn create(tokens: &TokenCache, name: &str) -> Result<Tag, ApiError> {
    let answer: TagBody<Tag> = tokens
        .post(
            "tags.create",
            CREATE_PATH,
            &TagBody {
                tag: NewTag { name },
            },
        )
        .await?;
    Ok(answer.tag)
}

/// `GET /cgi-bin/tags/get` → every tag with its follower count.
pub async fn list(tokens: &TokenCache) -> Result<Vec<TagCount>, ApiError> {
    #[derive(Deserialize)]
    struct Tags {
        #[serde(default)]
        tags: Vec<TagCount>,
    }
    let answer: Tags = tokens.get("tags.get", GET_PATH, &[]).await?;
    Ok(answer.tags)
}

/// `POST /cgi-bin/tags/update {tag: {id, name}}`.
pub async fn update(tokens: &TokenCache, id: i64, name: &str) -> Result<(), ApiError> {
    let body = TagBody {
        tag: Tag {
            id,
            name: name.to_string(),
        },
    };
    tokens
        .post::<_, Done>("tags.update", UPDATE_PATH, &body)
        .await
        .map(|_| ())
}

/// `POST /cgi-bin/tags/delete {tag: {id}}`: the tag leaves every follower (45057 while more
/// than 100,000 carry it).
pub async fn delete(tokens: &TokenCache, id: i64) -> Result<(), ApiError> {
    tokens
        .post::<_, Done>("tags.delete", DELETE_PATH, &TagBody { tag: TagId { id } })
        .await
        .map(|_| ())
}

/// `POST /cgi-bin/tags/members/batchtagging {openid_list, tagid}`, in calls of at most 50.
pub async fn tag_users(
    tokens: &TokenCache,
    tagid: i64,
    openids: &[String],
) -> Result<(), ApiError> {
    for batch in batches(openids, MAX_TAGGING_BATCH) {
        let body = Tagging {
            openid_list: batch,
            tagid,
        };
        tokens
            .post::<_, Done>("tags.batchtagging", TAGGING_PATH, &body)
            .await?;
    }
    Ok(())
}

/// `POST /cgi-bin/tags/members/batchuntagging {openid_list, tagid}`, in calls of at most 50.
pub async fn untag_users(
    tokens: &TokenCache,
    tagid: i64,
    openids: &[String],
) -> Result<(), ApiError> {
    for batch in batches(openids, MAX_TAGGING_BATCH) {
        let body = Tagging {
            openid_list: batch,
            tagid,
        };
        tokens
            .post::<_, Done>("tags.batchuntagging", UNTAGGING_PATH, &body)
            .await?;
    }
    Ok(())
}

/// `POST /cgi-bin/tags/getidlist {openid}` → the follower's tag ids.
pub async fn tags_of(tokens: &TokenCache, openid: &str) -> Result<Vec<i64>, ApiError> {
    #[derive(Serialize)]
    struct Body<'a> {
        openid: &'a str,
    }
    #[derive(Deserialize)]
    struct Answer {
        #[serde(default)]
        tagid_list: Vec<i64>,
    }
    let answer: Answer = tokens
        .post("tags.getidlist", ID_LIST_PATH, &Body { openid })
        .await?;
    Ok(answer.tagid_list)
}

#[derive(Serialize)]
struct MembersBody<'a> {
    tagid: i64,
    next_openid: &'a str,
}

/// `POST /cgi-bin/user/tag/get {tagid, next_openid}`: one page of the tag's followers
/// (10,000 a page; `total` is not part of this answer).
pub async fn members(
    tokens: &TokenCache,
    tagid: i64,
    next_openid: &str,
) -> Result<OpenidPage, ApiError> {
    tokens
        .post(
            "tags.members",
            MEMBERS_PATH,
            &MembersBody { tagid, next_openid },
        )
        .await
}

/// Every openid carrying the tag, page after page.
pub async fn all_members(tokens: &TokenCache, tagid: i64) -> Result<Vec<String>, ApiError> {
    every_page(|cursor| async move { members(tokens, tagid, &cursor).await }).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body<T: Serialize>(v: &T) -> serde_json::Value {
        serde_json::to_value(v).expect("json")
    }

    #[test]
    fn bodies_match_wechats_examples() {
        assert_eq!(
            body(&TagBody {
                tag: NewTag { name: "广东" }
            }),
            json!({"tag": {"name": "广东"}})
        );
        assert_eq!(
            body(&TagBody {
                tag: Tag {
                    id: 134,
                    name: "广东人".into()
                }
            }),
            json!({"tag": {"id": 134, "name": "广东人"}})
        );
        assert_eq!(
            body(&TagBody {
                tag: TagId { id: 134 }
            }),
            json!({"tag": {"id": 134}})
        );
        let openids = vec![
            "ocYxcuAEy30bX0NXmGn4ypqx3tI0".to_string(),
            "ocYxcuBt0mRugKZ7tGAHPnUaOW7Y".to_string(),
        ];
        assert_eq!(
            body(&Tagging {
                openid_list: &openids,
                tagid: 134
            }),
            json!({"openid_list": ["ocYxcuAEy30bX0NXmGn4ypqx3tI0",
                                   "ocYxcuBt0mRugKZ7tGAHPnUaOW7Y"], "tagid": 134})
        );
        assert_eq!(
            body(&MembersBody {
                tagid: 134,
                next_openid: ""
            }),
            json!({"tagid": 134, "next_openid": ""})
        );
    }

    #[test]
    fn answers_of_wechats_examples_are_read() {
        let created: TagBody<Tag> =
            serde_json::from_value(json!({"tag": {"id": 134, "name": "广东"}})).expect("create");
        assert_eq!(created.tag.id, 134);
        #[derive(Deserialize)]
        struct Tags {
            tags: Vec<TagCount>,
        }
        let listed: Tags = serde_json::from_value(json!({"tags": [
            {"id": 1, "name": "每天一罐可乐星人", "count": 0},
            {"id": 2, "name": "星标组", "count": 0},
            {"id": 127, "name": "广东", "count": 5}]}))
        .expect("get");
        assert_eq!(listed.tags[2].count, 5);
        let page: OpenidPage = serde_json::from_value(json!({
            "count": 2,
            "data": {"openid": ["ocYxcuAEy30bX0NXmGn4ypqx3tI0", "ocYxcuBt0mRugKZ7tGAHPnUaOW7Y"]},
            "next_openid": "ocYxcuBt0mRugKZ7tGAHPnUaOW7Y"}))
        .expect("members");
        assert_eq!(page.openids().len(), 2);
        assert_eq!(page.total, 0, "user/tag/get has no total");
    }
}
