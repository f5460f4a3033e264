//! Followers, user details, remarks, tags and the blacklist, as WeChat answers them.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{START_MS, Wx, errcode};
use serde_json::{Value, json};

#[track_caller]
fn assert_wx_error(v: &Value, code: i64, msg: &str) {
    assert_eq!(errcode(v), code, "{v}");
    let errmsg = v["errmsg"].as_str().unwrap_or_default();
    assert!(
        errmsg.starts_with(&format!("{msg} rid: ")),
        "errmsg of {code} should be {msg:?}: {v}"
    );
}

#[track_caller]
fn assert_ok(v: &Value) {
    assert_eq!(v, &json!({"errcode": 0, "errmsg": "ok"}));
}

fn sorted(mut openids: Vec<String>) -> Vec<String> {
    openids.sort();
    openids
}

/// Followers who once followed and no longer do.
async fn unsubscribed(wx: &Wx, app: &str, count: usize) -> Vec<String> {
    let (status, v) = wx
        .post(
            &format!("/api/apps/{app}/followers"),
            &json!({"count": count, "subscribed": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    serde_json::from_value(v["openids"].clone()).expect("openids")
}

async fn create_tag(wx: &Wx, app: &str, name: &str) -> Value {
    wx.call(
        app,
        "/cgi-bin/tags/create",
        Some(&json!({"tag": {"name": name}})),
    )
    .await
}

async fn new_tag(wx: &Wx, app: &str, name: &str) -> i64 {
    let v = create_tag(wx, app, name).await;
    v["tag"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no tag: {v}"))
}

async fn tagging(wx: &Wx, app: &str, path: &str, tagid: i64, openids: &[String]) -> Value {
    wx.call(
        app,
        &format!("/cgi-bin/tags/members/{path}"),
        Some(&json!({"openid_list": openids, "tagid": tagid})),
    )
    .await
}

async fn tag_counts(wx: &Wx, app: &str) -> Vec<(i64, i64)> {
    let v = wx.call(app, "/cgi-bin/tags/get", None).await;
    v["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("no tags: {v}"))
        .iter()
        .map(|t| {
            (
                t["id"].as_i64().unwrap_or(-1),
                t["count"].as_i64().unwrap_or(-1),
            )
        })
        .collect()
}

async fn tags_of(wx: &Wx, app: &str, openid: &str) -> Value {
    wx.call(
        app,
        "/cgi-bin/tags/getidlist",
        Some(&json!({"openid": openid})),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Followers.

#[tokio::test]
async fn user_get_lists_subscribed_followers_in_a_stable_order() {
    let wx = Wx::new();
    let app = "wxservice";
    let following = sorted(wx.followers(app, 3).await);
    unsubscribed(&wx, app, 2).await;
    wx.followers("wxsubscribe", 4).await;

    let v = wx.call(app, "/cgi-bin/user/get", None).await;
    let last = following[2].clone();
    assert_eq!(
        v,
        json!({"total": 3, "count": 3, "data": {"openid": following}, "next_openid": last})
    );
    let v = wx
        .call(app, &format!("/cgi-bin/user/get?next_openid={last}"), None)
        .await;
    assert_eq!(v, json!({"total": 3, "count": 0, "next_openid": ""}));
    let v = wx
        .call(
            app,
            &format!("/cgi-bin/user/get?next_openid={}", following[0]),
            None,
        )
        .await;
    assert_eq!(v["data"]["openid"], json!(following[1..]), "{v}");
    let v = wx
        .call(app, "/cgi-bin/user/get?next_openid=o-nobody", None)
        .await;
    assert_wx_error(&v, 40003, "invalid openid");
}

#[tokio::test]
async fn user_get_pages_ten_thousand_at_a_time() {
    let wx = Wx::new();
    let app = "wxsubscribe";
    let all = sorted(wx.followers(app, 10_003).await);
    let v = wx.call(app, "/cgi-bin/user/get", None).await;
    assert_eq!(
        (v["total"].clone(), v["count"].clone()),
        (json!(10_003), json!(10_000))
    );
    assert_eq!(v["data"]["openid"], json!(all[..10_000]));
    assert_eq!(v["next_openid"], json!(all[9_999]));
    let next = all[9_999].clone();
    let v = wx
        .call(app, &format!("/cgi-bin/user/get?next_openid={next}"), None)
        .await;
    assert_eq!(
        v,
        json!({"total": 10_003, "count": 3, "data": {"openid": all[10_000..]}, "next_openid": all[10_002]})
    );
}

#[tokio::test]
async fn user_info_has_wechats_fields_and_no_profile() {
    let wx = Wx::new();
    let app = "wxservice";
    let openid = wx.followers(app, 1).await.remove(0);
    let v = wx
        .call(
            app,
            &format!("/cgi-bin/user/info?openid={openid}&lang=zh_CN"),
            None,
        )
        .await;
    assert_eq!(
        v,
        json!({
            "subscribe": 1,
            "openid": openid,
            "language": "zh_CN",
            "subscribe_time": START_MS / 1000,
            "remark": "",
            "groupid": 0,
            "tagid_list": [],
            "subscribe_scene": "ADD_SCENE_OTHERS",
            "qr_scene": 0,
            "qr_scene_str": ""
        }),
        "no nickname, avatar, sex or region, and no unionid unless bound"
    );

    let gone = unsubscribed(&wx, app, 1).await.remove(0);
    let v = wx
        .call(app, &format!("/cgi-bin/user/info?openid={gone}"), None)
        .await;
    assert_eq!(v, json!({"subscribe": 0, "openid": gone}));

    let v = wx
        .call(app, "/cgi-bin/user/info?openid=o-nobody", None)
        .await;
    assert_wx_error(&v, 40003, "invalid openid");
    let v = wx.call(app, "/cgi-bin/user/info", None).await;
    assert_wx_error(&v, 40003, "invalid openid");
    // Openids belong to one account.
    let v = wx
        .call(
            "wxsubscribe",
            &format!("/cgi-bin/user/info?openid={openid}"),
            None,
        )
        .await;
    assert_eq!(errcode(&v), 40003, "{v}");
}

#[tokio::test]
async fn a_bound_unionid_is_shown_and_survives_changes() {
    let wx = Wx::new();
    let app = "wxservice";
    let openid = wx.followers(app, 1).await.remove(0);
    // What binding the account to an Open Platform account would store.
    let mut doc: Value = wx
        .sandbox
        .docs
        .get(app, "follower", &openid)
        .await
        .expect("store")
        .expect("the follower");
    doc["unionid"] = json!("o6_bmasdasdsad6_2sgVt7hMZOPfL");
    wx.sandbox
        .docs
        .set(app, "follower", &openid, &doc)
        .await
        .expect("store");

    let remark = json!({"openid": openid, "remark": "老顾客"});
    assert_ok(
        &wx.call(app, "/cgi-bin/user/info/updateremark", Some(&remark))
            .await,
    );
    let v = wx
        .call(app, &format!("/cgi-bin/user/info?openid={openid}"), None)
        .await;
    assert_eq!(v["unionid"], "o6_bmasdasdsad6_2sgVt7hMZOPfL", "{v}");
    assert_eq!(v["remark"], "老顾客", "{v}");
}

#[tokio::test]
async fn batchget_takes_up_to_a_hundred_users() {
    let wx = Wx::new();
    let app = "wxsubscribe";
    let openids = wx.followers(app, 101).await;
    let gone = unsubscribed(&wx, app, 1).await.remove(0);
    let list = |ids: &[String]| json!({"user_list": ids.iter().map(|o| json!({"openid": o, "lang": "zh_CN"})).collect::<Vec<_>>()});
    let mut two = openids[..2].to_vec();
    two.push(gone.clone());
    let v = wx
        .call(app, "/cgi-bin/user/info/batchget", Some(&list(&two)))
        .await;
    let infos = v["user_info_list"].as_array().expect("user_info_list");
    assert_eq!(infos.len(), 3, "{v}");
    assert_eq!(infos[0]["openid"], json!(openids[0]), "in the order asked");
    assert_eq!(infos[1]["subscribe"], 1);
    assert_eq!(infos[1]["tagid_list"], json!([]));
    assert_eq!(infos[2], json!({"subscribe": 0, "openid": gone}));

    let v = wx
        .call(
            app,
            "/cgi-bin/user/info/batchget",
            Some(&list(&openids[..100])),
        )
        .await;
    assert_eq!(v["user_info_list"].as_array().map(Vec::len), Some(100));
    let v = wx
        .call(app, "/cgi-bin/user/info/batchget", Some(&list(&openids)))
        .await;
    assert_wx_error(&v, 40032, "invalid openid list size");
    let v = wx
        .call(
            app,
            "/cgi-bin/user/info/batchget",
            Some(&json!({"user_list": []})),
        )
        .await;
    assert_wx_error(&v, 40032, "invalid openid list size");
    let v = wx
        .call(
            app,
            "/cgi-bin/user/info/batchget",
            Some(&list(&[openids[0].clone(), "o-nobody".to_string()])),
        )
        .await;
    assert_wx_error(&v, 40003, "invalid openid");
}

#[tokio::test]
async fn remarks_are_shorter_than_thirty_bytes_and_for_followers() {
    let wx = Wx::new();
    let app = "wxservice";
    let openid = wx.followers(app, 1).await.remove(0);
    let remark = |text: &str| json!({"openid": openid, "remark": text});
    let path = "/cgi-bin/user/info/updateremark";

    let nine = "备".repeat(9); // 27 bytes
    let ok_29 = format!("{nine}ab");
    assert_ok(&wx.call(app, path, Some(&remark(&ok_29))).await);
    let v = wx
        .call(app, &format!("/cgi-bin/user/info?openid={openid}"), None)
        .await;
    assert_eq!(v["remark"], json!(ok_29));
    let v = wx
        .call(app, path, Some(&remark(&format!("{nine}abc"))))
        .await;
    assert_wx_error(&v, 40092, "invalid remark name");
    assert_ok(&wx.call(app, path, Some(&remark(""))).await);

    let v = wx
        .call(
            app,
            path,
            Some(&json!({"openid": "o-nobody", "remark": "x"})),
        )
        .await;
    assert_wx_error(&v, 40003, "invalid openid");
    let gone = unsubscribed(&wx, app, 1).await.remove(0);
    let v = wx
        .call(app, path, Some(&json!({"openid": gone, "remark": "x"})))
        .await;
    assert_wx_error(&v, 43004, "require subscribe");
    let token = wx.cached_token(app).await;
    let (_, v) = wx
        .post_raw(&format!("{path}?access_token={token}"), Vec::new())
        .await;
    assert_wx_error(&v, 44002, "empty post data");
}

// ---------------------------------------------------------------------------------------------
// Tags.

#[tokio::test]
async fn tags_are_created_as_documented() {
    let wx = Wx::new();
    let app = "wxservice";
    assert_eq!(
        create_tag(&wx, app, "广东").await,
        json!({"tag": {"id": 100, "name": "广东"}}),
        "ids start at 100"
    );
    assert_eq!(create_tag(&wx, app, "北京").await["tag"]["id"], 101);

    let v = create_tag(&wx, app, "广东").await;
    assert_wx_error(&v, 45157, "invalid tag name");
    let v = create_tag(&wx, app, "星标组").await;
    assert_wx_error(&v, 45157, "invalid tag name");
    let v = create_tag(&wx, app, "").await;
    assert_wx_error(&v, 45157, "invalid tag name");
    let ten = "标".repeat(10); // 30 bytes
    assert_eq!(create_tag(&wx, app, &ten).await["tag"]["name"], json!(ten));
    let v = create_tag(&wx, app, &format!("{ten}x")).await;
    assert_wx_error(&v, 45158, "tag name too long");
    let v = wx
        .call(
            app,
            "/cgi-bin/tags/create",
            Some(&json!({"name": "no tag object"})),
        )
        .await;
    assert_wx_error(&v, 44002, "empty post data");

    // Another account has its own ids and names.
    assert_eq!(
        create_tag(&wx, "wxsubscribe", "广东").await,
        json!({"tag": {"id": 100, "name": "广东"}})
    );
}

#[tokio::test]
async fn an_account_has_at_most_a_hundred_tags_and_ids_are_not_reused() {
    let wx = Wx::new();
    let app = "wxsubscribe";
    for i in 0..100 {
        assert_eq!(new_tag(&wx, app, &format!("t{i}")).await, 100 + i);
    }
    let v = create_tag(&wx, app, "one too many").await;
    assert_wx_error(&v, 45056, "too many tag now, no need to add new");
    let v = wx
        .call(
            app,
            "/cgi-bin/tags/delete",
            Some(&json!({"tag": {"id": 199}})),
        )
        .await;
    assert_ok(&v);
    assert_eq!(
        new_tag(&wx, app, "t99").await,
        200,
        "a deleted id is not given again"
    );
}

#[tokio::test]
async fn tags_get_lists_the_starred_tag_and_counts() {
    let wx = Wx::new();
    let app = "wxservice";
    let v = wx.call(app, "/cgi-bin/tags/get", None).await;
    assert_eq!(
        v,
        json!({"tags": [{"id": 2, "name": "星标组", "count": 0}]})
    );

    let openids = wx.followers(app, 5).await;
    let guangdong = new_tag(&wx, app, "广东").await;
    let beijing = new_tag(&wx, app, "北京").await;
    assert_ok(&tagging(&wx, app, "batchtagging", guangdong, &openids).await);
    assert_ok(&tagging(&wx, app, "batchtagging", 2, &openids[..1]).await);
    let v = wx.call(app, "/cgi-bin/tags/get", None).await;
    assert_eq!(
        v,
        json!({"tags": [
            {"id": 2, "name": "星标组", "count": 1},
            {"id": guangdong, "name": "广东", "count": 5},
            {"id": beijing, "name": "北京", "count": 0}
        ]})
    );
}

#[tokio::test]
async fn tags_are_renamed_but_not_the_systems() {
    let wx = Wx::new();
    let app = "wxservice";
    let id = new_tag(&wx, app, "广东").await;
    new_tag(&wx, app, "北京").await;
    let update = |body: Value| {
        let wx = &wx;
        async move { wx.call(app, "/cgi-bin/tags/update", Some(&body)).await }
    };
    assert_ok(&update(json!({"tag": {"id": id, "name": "广东人"}})).await);
    assert_ok(&update(json!({"tag": {"id": id, "name": "广东人"}})).await);
    let v = wx.call(app, "/cgi-bin/tags/get", None).await;
    assert_eq!(
        v["tags"][1],
        json!({"id": id, "name": "广东人", "count": 0})
    );

    for system in [0, 1, 2] {
        let v = update(json!({"tag": {"id": system, "name": "x"}})).await;
        assert_wx_error(&v, 45058, "can't modify sys tag");
    }
    let v = update(json!({"tag": {"id": 150, "name": "x"}})).await;
    assert_wx_error(&v, 45159, "invalid tag id");
    let v = update(json!({"tag": {"id": id, "name": "北京"}})).await;
    assert_wx_error(&v, 45157, "invalid tag name");
    let v = update(json!({"tag": {"id": id, "name": "标".repeat(11)}})).await;
    assert_wx_error(&v, 45158, "tag name too long");
    let v = update(json!({"tag": {"name": "x"}})).await;
    assert_wx_error(&v, 44002, "empty post data");
}

#[tokio::test]
async fn deleting_a_tag_takes_it_off_its_followers() {
    let wx = Wx::new();
    let app = "wxservice";
    let openids = wx.followers(app, 3).await;
    let keep = new_tag(&wx, app, "留").await;
    let drop = new_tag(&wx, app, "删").await;
    assert_ok(&tagging(&wx, app, "batchtagging", keep, &openids).await);
    assert_ok(&tagging(&wx, app, "batchtagging", drop, &openids[..2]).await);
    assert_eq!(
        tags_of(&wx, app, &openids[0]).await,
        json!({"tagid_list": [keep, drop]})
    );

    let delete = |id: i64| {
        let wx = &wx;
        async move {
            wx.call(
                app,
                "/cgi-bin/tags/delete",
                Some(&json!({"tag": {"id": id}})),
            )
            .await
        }
    };
    for system in [0, 1, 2] {
        assert_wx_error(&delete(system).await, 45058, "can't modify sys tag");
    }
    assert_wx_error(&delete(999).await, 45159, "invalid tag id");
    assert_ok(&delete(drop).await);
    assert_wx_error(&delete(drop).await, 45159, "invalid tag id");
    assert_eq!(
        tags_of(&wx, app, &openids[0]).await,
        json!({"tagid_list": [keep]})
    );
    assert_eq!(tag_counts(&wx, app).await, vec![(2, 0), (keep, 3)]);
    let v = wx
        .call(app, "/cgi-bin/user/tag/get", Some(&json!({"tagid": drop})))
        .await;
    assert_wx_error(&v, 45159, "invalid tag id");
}

#[tokio::test]
async fn a_tag_with_more_than_100000_followers_cannot_be_deleted() {
    let wx = Wx::new();
    let app = "wxservice";
    let id = new_tag(&wx, app, "大").await;
    // Tagging 100,001 followers through the API takes 2,001 calls; set the count instead.
    wx.sandbox
        .docs
        .set(app, "tag", &format!("{id:09}"), &json!({"count": 100_001}))
        .await
        .expect("store");
    let v = wx
        .call(
            app,
            "/cgi-bin/tags/delete",
            Some(&json!({"tag": {"id": id}})),
        )
        .await;
    assert_wx_error(&v, 45057, "can't delete the tag that has too many fans");
    wx.sandbox
        .docs
        .set(app, "tag", &format!("{id:09}"), &json!({"count": 100_000}))
        .await
        .expect("store");
    let v = wx
        .call(
            app,
            "/cgi-bin/tags/delete",
            Some(&json!({"tag": {"id": id}})),
        )
        .await;
    assert_ok(&v);
}

#[tokio::test]
async fn tagging_checks_the_list_the_tag_and_the_followers() {
    let wx = Wx::new();
    let app = "wxservice";
    let openids = wx.followers(app, 51).await;
    let id = new_tag(&wx, app, "广东").await;

    let v = tagging(&wx, app, "batchtagging", id, &openids).await;
    assert_wx_error(&v, 40032, "invalid openid list size");
    let v = tagging(&wx, app, "batchtagging", id, &[]).await;
    assert_wx_error(&v, 40032, "invalid openid list size");
    for bad in [0, 1, 999] {
        let v = tagging(&wx, app, "batchtagging", bad, &openids[..2]).await;
        assert_wx_error(&v, 45159, "invalid tag id");
    }
    let with_stranger = vec![openids[0].clone(), "o-nobody".to_string()];
    let v = tagging(&wx, app, "batchtagging", id, &with_stranger).await;
    assert_wx_error(&v, 40003, "invalid openid");
    assert_eq!(
        tags_of(&wx, app, &openids[0]).await,
        json!({"tagid_list": []}),
        "a bad openid tags no one"
    );
    let gone = unsubscribed(&wx, app, 1).await;
    let v = tagging(&wx, app, "batchtagging", id, &gone).await;
    assert_wx_error(&v, 40003, "invalid openid");

    assert_ok(&tagging(&wx, app, "batchtagging", id, &openids[..50]).await);
    // Tagging again changes nothing.
    assert_ok(&tagging(&wx, app, "batchtagging", id, &openids[..50]).await);
    assert_eq!(tag_counts(&wx, app).await, vec![(2, 0), (id, 50)]);
    assert_ok(&tagging(&wx, app, "batchuntagging", id, &openids[40..50]).await);
    assert_ok(&tagging(&wx, app, "batchuntagging", id, &openids[40..51]).await);
    assert_eq!(tag_counts(&wx, app).await, vec![(2, 0), (id, 40)]);
    let v = tagging(&wx, app, "batchuntagging", 999, &openids[..1]).await;
    assert_wx_error(&v, 45159, "invalid tag id");
    let v = tagging(&wx, app, "batchuntagging", id, &with_stranger).await;
    assert_wx_error(&v, 40003, "invalid openid");
}

#[tokio::test]
async fn a_follower_carries_at_most_twenty_tags_in_the_order_applied() {
    let wx = Wx::new();
    let app = "wxservice";
    let openids = wx.followers(app, 2).await;
    let mut ids = Vec::new();
    for i in 0..21 {
        ids.push(new_tag(&wx, app, &format!("t{i}")).await);
    }
    for id in ids.iter().rev().skip(1) {
        assert_ok(&tagging(&wx, app, "batchtagging", *id, &openids[..1]).await);
    }
    let applied: Vec<i64> = ids.iter().rev().skip(1).copied().collect();
    assert_eq!(
        tags_of(&wx, app, &openids[0]).await,
        json!({"tagid_list": applied})
    );
    let v = tagging(&wx, app, "batchtagging", ids[20], &openids).await;
    assert_wx_error(&v, 45059, "can not tagging one user too much");
    assert_eq!(
        tags_of(&wx, app, &openids[1]).await,
        json!({"tagid_list": []}),
        "the refusal tags no one"
    );
    // A tag the follower already has is no 21st tag.
    assert_ok(&tagging(&wx, app, "batchtagging", ids[0], &openids).await);
}

#[tokio::test]
async fn getidlist_and_user_tag_get() {
    let wx = Wx::new();
    let app = "wxservice";
    let openids = sorted(wx.followers(app, 4).await);
    let id = new_tag(&wx, app, "广东").await;
    assert_ok(&tagging(&wx, app, "batchtagging", id, &openids[..3]).await);
    assert_ok(&tagging(&wx, app, "batchtagging", 2, &openids[..1]).await);

    assert_eq!(
        tags_of(&wx, app, &openids[0]).await,
        json!({"tagid_list": [id, 2]})
    );
    assert_eq!(
        tags_of(&wx, app, &openids[3]).await,
        json!({"tagid_list": []})
    );
    assert_wx_error(
        &tags_of(&wx, app, "o-nobody").await,
        40003,
        "invalid openid",
    );

    let members = |body: Value| {
        let wx = &wx;
        async move { wx.call(app, "/cgi-bin/user/tag/get", Some(&body)).await }
    };
    let v = members(json!({"tagid": id, "next_openid": ""})).await;
    assert_eq!(
        v,
        json!({"count": 3, "data": {"openid": openids[..3]}, "next_openid": openids[2]})
    );
    let v = members(json!({"tagid": id, "next_openid": openids[0]})).await;
    assert_eq!(v["data"]["openid"], json!(openids[1..3]), "{v}");
    let v = members(json!({"tagid": id, "next_openid": openids[2]})).await;
    assert_eq!(v, json!({"count": 0, "next_openid": ""}));
    let v = members(json!({"tagid": 2})).await;
    assert_eq!(v["data"]["openid"], json!(openids[..1]), "{v}");
    assert_wx_error(
        &members(json!({"tagid": 555})).await,
        45159,
        "invalid tag id",
    );
    assert_wx_error(
        &members(json!({"tagid": id, "next_openid": "o-nobody"})).await,
        40003,
        "invalid openid",
    );
}

#[tokio::test]
async fn user_tag_get_pages_ten_thousand_at_a_time() {
    let wx = Wx::new();
    let app = "wxservice";
    let all = sorted(wx.followers(app, 10_001).await);
    let id = new_tag(&wx, app, "多").await;
    for chunk in all.chunks(50) {
        assert_ok(&tagging(&wx, app, "batchtagging", id, chunk).await);
    }
    let v = wx
        .call(app, "/cgi-bin/user/tag/get", Some(&json!({"tagid": id})))
        .await;
    assert_eq!(v["count"], 10_000);
    assert_eq!(v["next_openid"], json!(all[9_999]));
    let v = wx
        .call(
            app,
            "/cgi-bin/user/tag/get",
            Some(&json!({"tagid": id, "next_openid": all[9_999]})),
        )
        .await;
    assert_eq!(
        v,
        json!({"count": 1, "data": {"openid": [all[10_000]]}, "next_openid": all[10_000]})
    );
    assert_eq!(tag_counts(&wx, app).await, vec![(2, 0), (id, 10_001)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn member_counts_stay_exact_under_concurrent_tagging() {
    let wx = Arc::new(Wx::new());
    let app = "wxservice";
    let openids = Arc::new(wx.followers(app, 120).await);
    let id = new_tag(&wx, app, "并发").await;
    // Eight callers tag overlapping windows of 50, twice each, then four untag 10 each.
    let mut tasks = Vec::new();
    for round in 0..16 {
        let (wx, openids) = (wx.clone(), openids.clone());
        tasks.push(tokio::spawn(async move {
            let start = (round % 8) * 10;
            tagging(&wx, app, "batchtagging", id, &openids[start..start + 50]).await
        }));
    }
    for task in tasks {
        assert_ok(&task.await.expect("task"));
    }
    let mut tasks = Vec::new();
    for round in 0..8 {
        let (wx, openids) = (wx.clone(), openids.clone());
        tasks.push(tokio::spawn(async move {
            let start = (round % 4) * 10;
            tagging(&wx, app, "batchuntagging", id, &openids[start..start + 10]).await
        }));
    }
    for task in tasks {
        assert_ok(&task.await.expect("task"));
    }
    // Tagged: openids 0..120; untagged: 0..40.
    let v = wx
        .call(app, "/cgi-bin/user/tag/get", Some(&json!({"tagid": id})))
        .await;
    assert_eq!(v["count"], 80, "{v}");
    assert_eq!(tag_counts(&wx, app).await, vec![(2, 0), (id, 80)]);
}

// ---------------------------------------------------------------------------------------------
// The blacklist.

#[tokio::test]
async fn the_blacklist_is_kept_and_paged() {
    let wx = Wx::new();
    let app = "wxservice";
    let openids = sorted(wx.followers(app, 21).await);
    let get = |body: Option<Value>| {
        let wx = &wx;
        async move {
            let token = wx.cached_token(app).await;
            let url = format!("/cgi-bin/tags/members/getblacklist?access_token={token}");
            let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
            wx.post_raw(&url, bytes).await.1
        }
    };
    assert_eq!(
        get(Some(json!({"begin_openid": ""}))).await,
        json!({"total": 0, "count": 0, "next_openid": ""})
    );

    let list = |ids: &[String]| json!({"openid_list": ids});
    let black = "/cgi-bin/tags/members/batchblacklist";
    let v = wx.call(app, black, Some(&list(&openids))).await;
    assert_wx_error(&v, 40032, "invalid openid list size");
    let v = wx.call(app, black, Some(&list(&[]))).await;
    assert_wx_error(&v, 40032, "invalid openid list size");
    let v = wx
        .call(
            app,
            black,
            Some(&list(&[openids[0].clone(), "o-nobody".into()])),
        )
        .await;
    assert_wx_error(&v, 40003, "invalid openid");
    assert_eq!(
        get(None).await["total"],
        0,
        "a bad openid blacklists no one"
    );

    assert_ok(&wx.call(app, black, Some(&list(&openids[..20]))).await);
    assert_ok(&wx.call(app, black, Some(&list(&openids[..3]))).await);
    let v = get(Some(json!({"begin_openid": ""}))).await;
    assert_eq!(
        v,
        json!({"total": 20, "count": 20, "data": {"openid": openids[..20]}, "next_openid": openids[19]})
    );
    let v = get(Some(json!({"begin_openid": openids[17]}))).await;
    assert_eq!(
        v,
        json!({"total": 20, "count": 2, "data": {"openid": openids[18..20]}, "next_openid": openids[19]})
    );
    let v = get(Some(json!({"begin_openid": "o-nobody"}))).await;
    assert_wx_error(&v, 40003, "invalid openid");
    assert_eq!(get(None).await["count"], 20, "begin_openid may be left out");

    let unblack = "/cgi-bin/tags/members/batchunblacklist";
    let v = wx.call(app, unblack, Some(&list(&openids))).await;
    assert_wx_error(&v, 40032, "invalid openid list size");
    assert_ok(&wx.call(app, unblack, Some(&list(&openids[..19]))).await);
    let v = get(None).await;
    assert_eq!(
        v,
        json!({"total": 1, "count": 1, "data": {"openid": [openids[19]]}, "next_openid": openids[19]})
    );
}

#[tokio::test]
async fn getblacklist_pages_a_thousand_at_a_time() {
    let wx = Wx::new();
    let app = "wxsubscribe";
    let all = sorted(wx.followers(app, 1_001).await);
    for chunk in all.chunks(20) {
        let v = wx
            .call(
                app,
                "/cgi-bin/tags/members/batchblacklist",
                Some(&json!({"openid_list": chunk})),
            )
            .await;
        assert_ok(&v);
    }
    let v = wx
        .call(app, "/cgi-bin/tags/members/getblacklist", Some(&json!({})))
        .await;
    assert_eq!(
        (v["total"].clone(), v["count"].clone()),
        (json!(1_001), json!(1_000))
    );
    assert_eq!(v["next_openid"], json!(all[999]));
    let v = wx
        .call(
            app,
            "/cgi-bin/tags/members/getblacklist",
            Some(&json!({"begin_openid": all[999]})),
        )
        .await;
    assert_eq!(v["data"]["openid"], json!([all[1_000]]), "{v}");
}

// ---------------------------------------------------------------------------------------------
// Rights and quotas.

#[tokio::test]
async fn users_and_tags_are_for_verified_accounts() {
    let wx = Wx::new();
    let calls: Vec<(&str, Option<Value>)> = vec![
        ("/cgi-bin/user/get", None),
        ("/cgi-bin/user/info?openid=o", None),
        (
            "/cgi-bin/user/info/batchget",
            Some(json!({"user_list": [{"openid": "o"}]})),
        ),
        ("/cgi-bin/tags/get", None),
        ("/cgi-bin/tags/create", Some(json!({"tag": {"name": "x"}}))),
        (
            "/cgi-bin/tags/update",
            Some(json!({"tag": {"id": 100, "name": "x"}})),
        ),
        ("/cgi-bin/tags/delete", Some(json!({"tag": {"id": 100}}))),
        ("/cgi-bin/user/tag/get", Some(json!({"tagid": 2}))),
        ("/cgi-bin/tags/getidlist", Some(json!({"openid": "o"}))),
        (
            "/cgi-bin/tags/members/batchtagging",
            Some(json!({"openid_list": ["o"], "tagid": 2})),
        ),
        (
            "/cgi-bin/tags/members/batchuntagging",
            Some(json!({"openid_list": ["o"], "tagid": 2})),
        ),
        ("/cgi-bin/tags/members/getblacklist", Some(json!({}))),
        (
            "/cgi-bin/tags/members/batchblacklist",
            Some(json!({"openid_list": ["o"]})),
        ),
        (
            "/cgi-bin/tags/members/batchunblacklist",
            Some(json!({"openid_list": ["o"]})),
        ),
        (
            "/cgi-bin/user/info/updateremark",
            Some(json!({"openid": "o", "remark": "x"})),
        ),
    ];
    for (path, body) in &calls {
        for app in ["wxpersonal", "wxunverifiedsvc"] {
            let v = wx.call(app, path, body.as_ref()).await;
            assert_wx_error(&v, 48001, "api unauthorized");
        }
        for app in ["wxsubscribe", "wxservice"] {
            let v = wx.call(app, path, body.as_ref()).await;
            let allowed = errcode(&v) != 48001;
            // Remarks are open to verified service accounts only.
            let expected = !(app == "wxsubscribe" && path.contains("updateremark"));
            assert_eq!(allowed, expected, "{app} {path}: {v}");
        }
    }
}

#[tokio::test]
async fn the_follower_list_has_a_daily_quota_of_five_hundred() {
    let wx = Wx::new();
    for _ in 0..500 {
        let v = wx.call("wxservice", "/cgi-bin/user/get", None).await;
        assert_eq!(errcode(&v), 0, "{v}");
    }
    let v = wx.call("wxservice", "/cgi-bin/user/get", None).await;
    assert_eq!(errcode(&v), 45009, "{v}");
    let v = wx.call("wxservice", "/cgi-bin/tags/get", None).await;
    assert_eq!(errcode(&v), 0, "{v}");
}
