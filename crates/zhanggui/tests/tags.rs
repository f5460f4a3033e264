//! Tags through the real HTTP surface against the sandbox's WeChat: limits and WeChat's
//! errcodes explained, both directions of the mirror, bulk tagging with progress, and
//! pushing one follower's tags.

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wechat::api::tags as wx;
use zhanggui::accounts::AccountRow;
use zhanggui::followers::Follower;
use zhanggui::followers::model::Observation;
use zhanggui::platform::auth::model::Role;

struct Setup {
    app: TestApp,
    account: AccountRow,
    key: KeyClient,
    merchant: i64,
}

async fn setup() -> Setup {
    let app = TestApp::spawn().await;
    let merchant = app.merchant("标签商户").await;
    let account = app.account(merchant, "标签服务号").await;
    let (_, key) = app.api_key(merchant, "owner", Role::Owner).await;
    let key = app.key(&key);
    Setup {
        app,
        account,
        key,
        merchant,
    }
}

impl Setup {
    fn tokens(&self) -> std::sync::Arc<wechat::token::TokenCache> {
        zhanggui::accounts::tokens::cache_of(self.app.state(), &self.account)
    }

    fn path(&self, rest: &str) -> String {
        format!("/api/v1/accounts/{}{rest}", self.account.id)
    }

    async fn call(&self, method: Method, rest: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = self.key.request(method, &self.path(rest));
        let req = match body {
            Some(b) => req.json(&b),
            None => req,
        };
        read_json(req).await
    }

    async fn create(&self, name: &str) -> (StatusCode, Value) {
        self.call(Method::POST, "/tags", Some(json!({ "name": name })))
            .await
    }

    /// Sandbox followers, followed, and known to us as followers.
    async fn followers(&self, n: usize) -> Vec<String> {
        let (status, made) = read_json(
            self.app
                .client()
                .post(self.app.url(&format!(
                    "/sandbox/api/apps/{}/followers",
                    self.account.app_id
                )))
                .json(&json!({ "count": n })),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{made}");
        let openids: Vec<String> = serde_json::from_value(made["openids"].clone()).expect("ids");
        let rows: Vec<Follower> = openids
            .iter()
            .map(|o| {
                let mut f = Follower::new(self.merchant, self.account.id, o, 1_000);
                f.merge(1_000, &Observation::Follow { scene: None });
                f
            })
            .collect();
        zhanggui::followers::store::merge(&self.app.db, &rows)
            .await
            .expect("followers");
        openids
    }

    async fn wx_names(&self) -> BTreeSet<String> {
        wx::list(&self.tokens())
            .await
            .expect("tags/get")
            .into_iter()
            .map(|t| t.name)
            .collect()
    }

    async fn our_names(&self) -> BTreeSet<String> {
        let (status, list) = self.call(Method::GET, "/tags", None).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|t| t["name"].as_str().expect("name").to_string())
            .collect()
    }
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().expect("id")
}

#[tokio::test]
async fn wechats_limits_are_enforced_and_its_refusals_explained() {
    let s = setup().await;
    // A name is at most 30 bytes: 10 Chinese characters pass, 11 do not (ours, before WeChat).
    let (status, made) = s.create("一二三四五六七八九十").await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let (status, err) = s.create("一二三四五六七八九十一").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    assert!(
        err["error"]["fields"]["name"]
            .as_str()
            .is_some_and(|m| m.contains("30")),
        "{err}"
    );
    let (status, err) = s.create("   ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let (status, err) = s.create("一二三四五六七八九十").await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "taken here: {err}"
    );

    // Taken at WeChat but not here (made in WeChat's back office): 45157, explained.
    wx::create(&s.tokens(), "公众平台建的")
        .await
        .expect("create at WeChat");
    let (status, err) = s.create("公众平台建的").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let message = err["error"]["fields"]["name"].as_str().unwrap_or_default();
    assert!(
        message.contains("45157") && message.contains("从微信同步"),
        "{err}"
    );
    // In English on request.
    let (_, err) = read_json(
        s.key
            .request(Method::POST, &s.path("/tags"))
            .header("accept-language", "en")
            .json(&json!({"name": "公众平台建的"})),
    )
    .await;
    assert!(
        err["error"]["fields"]["name"]
            .as_str()
            .is_some_and(|m| m.contains("Pull from WeChat")),
        "{err}"
    );

    // 100 tags an account: WeChat's side full, ours checks first...
    for i in 0..98 {
        wx::create(&s.tokens(), &format!("t{i}"))
            .await
            .expect("create");
    }
    let (status, pulled) = s.call(Method::POST, "/tags/pull", None).await;
    assert_eq!(status, StatusCode::OK, "{pulled}");
    assert_eq!(
        pulled["tags"], 101,
        "100 of ours and the starred tag: {pulled}"
    );
    let (status, err) = s.create("第101个").await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("100"))
    );
    // ... and when ours does not know (a tag forgotten here), WeChat's 45056 is explained.
    s.app.exec("DELETE FROM tags WHERE name = 't0'").await;
    let (status, err) = s.create("第101个").await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("45056")),
        "{err}"
    );

    // WeChat's own starred tag cannot be renamed or deleted.
    let (_, list) = s.call(Method::GET, "/tags", None).await;
    let starred = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|t| t["wx_tag_id"] == 2)
        .cloned()
        .expect("the starred tag was pulled");
    assert_eq!(starred["system"], true);
    let (status, _) = s
        .call(
            Method::PUT,
            &format!("/tags/{}", id_of(&starred)),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = s
        .call(Method::DELETE, &format!("/tags/{}", id_of(&starred)), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    s.app.stop().await;
}

#[tokio::test]
async fn a_follower_carries_at_most_twenty_tags() {
    let s = setup().await;
    let followers = s.followers(2).await;
    let (known, stranger) = (&followers[0], &followers[1]);
    let mut ids = vec![];
    for i in 0..21 {
        let (status, t) = s.create(&format!("标签{i}")).await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        ids.push(id_of(&t));
    }
    // 21 at once: refused before WeChat is asked.
    let (status, err) = s
        .call(
            Method::PUT,
            &format!("/followers/{known}/tags"),
            Some(json!({"tag_ids": ids})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(
        wx::tags_of(&s.tokens(), known)
            .await
            .expect("ids")
            .is_empty()
    );
    // 20 pass, at WeChat and here.
    let (status, set) = s
        .call(
            Method::PUT,
            &format!("/followers/{known}/tags"),
            Some(json!({"tag_ids": &ids[..20]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["items"].as_array().map(Vec::len), Some(20));
    assert_eq!(
        wx::tags_of(&s.tokens(), known).await.expect("ids").len(),
        20
    );
    // A 21st through the members endpoint: ours refuses, naming the follower.
    let members = format!("/tags/{}/members", ids[20]);
    let (status, err) = s
        .call(Method::POST, &members, Some(json!({"openids": [known]})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(known.as_str()))
    );
    // Someone we do not know carries 20 at WeChat: WeChat's 45059 comes back explained.
    for id in &ids[..20] {
        let (_, t) = s.call(Method::GET, "/tags", None).await;
        let wx_id = t["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|x| x["id"] == *id)
            .and_then(|x| x["wx_tag_id"].as_i64())
            .expect("wx id");
        wx::tag_users(&s.tokens(), wx_id, std::slice::from_ref(stranger))
            .await
            .expect("tag at WeChat");
    }
    s.app
        .exec(&format!(
            "DELETE FROM followers WHERE openid = '{stranger}'"
        ))
        .await;
    let (status, err) = s
        .call(Method::POST, &members, Some(json!({"openids": [stranger]})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("45059")),
        "{err}"
    );
    // Swapping one tag for another at the limit works (removals go first).
    let mut swapped: Vec<i64> = ids[1..].to_vec();
    swapped.truncate(20);
    let (status, set) = s
        .call(
            Method::PUT,
            &format!("/followers/{known}/tags"),
            Some(json!({"tag_ids": swapped})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    // Too many openids at once.
    let many: Vec<String> = (0..201).map(|i| format!("o{i}")).collect();
    let (status, _) = s
        .call(Method::POST, &members, Some(json!({"openids": many})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    s.app.stop().await;
}

#[tokio::test]
async fn tags_are_mirrored_both_ways() {
    let s = setup().await;
    // Ours → WeChat: create, rename, delete.
    let (_, ours) = s.create("老客户").await;
    assert!(s.wx_names().await.contains("老客户"));
    let (status, renamed) = s
        .call(
            Method::PUT,
            &format!("/tags/{}", id_of(&ours)),
            Some(json!({"name": "熟客"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    let names = s.wx_names().await;
    assert!(names.contains("熟客") && !names.contains("老客户"));
    let (status, _) = s
        .call(Method::DELETE, &format!("/tags/{}", id_of(&ours)), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(!s.wx_names().await.contains("熟客"));

    // WeChat → ours: made there, renamed there, deleted there; each appears after a pull.
    let made = wx::create(&s.tokens(), "公众号后台建的")
        .await
        .expect("create");
    assert!(!s.our_names().await.contains("公众号后台建的"));
    s.call(Method::POST, "/tags/pull", None).await;
    assert!(s.our_names().await.contains("公众号后台建的"));
    wx::update(&s.tokens(), made.id, "后台改名")
        .await
        .expect("rename");
    s.call(Method::POST, "/tags/pull", None).await;
    let names = s.our_names().await;
    assert!(
        names.contains("后台改名") && !names.contains("公众号后台建的"),
        "{names:?}"
    );
    wx::delete(&s.tokens(), made.id).await.expect("delete");
    let (_, report) = s.call(Method::POST, "/tags/pull", None).await;
    assert_eq!(report["removed"], 1, "{report}");
    assert_eq!(s.our_names().await, s.wx_names().await);

    // Two tags swapping names at WeChat still pull cleanly.
    let a = wx::create(&s.tokens(), "甲").await.expect("a");
    let b = wx::create(&s.tokens(), "乙").await.expect("b");
    s.call(Method::POST, "/tags/pull", None).await;
    wx::update(&s.tokens(), a.id, "临时").await.expect("a");
    wx::update(&s.tokens(), b.id, "甲").await.expect("b");
    wx::update(&s.tokens(), a.id, "乙").await.expect("a");
    let (status, report) = s.call(Method::POST, "/tags/pull", None).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(s.our_names().await, s.wx_names().await);
    s.app.stop().await;
}

#[tokio::test]
async fn a_bulk_operation_tags_everyone_with_progress_and_skips_the_full() {
    let s = setup().await;
    let followers = s.followers(130).await;
    let (_, tag) = s.create("全体粉丝").await;
    // One follower already carries 20 tags (here and at WeChat); one no longer follows here.
    let full = &followers[0];
    let mut twenty = vec![];
    for i in 0..20 {
        let (_, t) = s.create(&format!("满{i}")).await;
        twenty.push(id_of(&t));
    }
    let (status, _) = s
        .call(
            Method::PUT,
            &format!("/followers/{full}/tags"),
            Some(json!({"tag_ids": twenty})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let gone = &followers[1];
    s.app
        .exec(&format!(
            "UPDATE followers SET subscribed = FALSE WHERE openid = '{gone}'"
        ))
        .await;

    let (status, op) = s
        .call(
            Method::POST,
            &format!("/tags/{}/bulk", id_of(&tag)),
            Some(json!({"action": "tag", "filter": {}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{op}");
    assert_eq!(op["total"], 130);
    let progress = format!("/tag-operations/{}", id_of(&op));
    let mut seen_running = op["status"] == "running";
    let started = std::time::Instant::now();
    let last = loop {
        let (status, op) = s.call(Method::GET, &progress, None).await;
        assert_eq!(status, StatusCode::OK, "{op}");
        seen_running |= op["status"] == "running";
        if op["status"] != "running" {
            break op;
        }
        assert!(
            started.elapsed().as_secs() < 60,
            "the bulk operation finishes: {op}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(seen_running);
    assert_eq!(last["status"], "done", "{last}");
    assert_eq!(last["done"], 128, "{last}");
    assert_eq!(last["skipped"], 2, "{last}");
    assert_eq!(last["failed"], 0, "{last}");
    assert_eq!(last["percent"], 100);
    let reasons: Vec<&str> = last["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(|p| p["reason"].as_str())
        .collect();
    assert!(
        reasons.contains(&"已有 20 个标签") && reasons.contains(&"已取消关注"),
        "{last}"
    );
    // WeChat and ours agree on who carries it.
    let wx_id = wx::list(&s.tokens())
        .await
        .expect("tags")
        .into_iter()
        .find(|t| t.name == "全体粉丝")
        .expect("tag")
        .id;
    let at_wechat: BTreeSet<String> = wx::all_members(&s.tokens(), wx_id)
        .await
        .expect("members")
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = followers[2..].iter().cloned().collect();
    assert_eq!(at_wechat, expected);
    let ours = s
        .app
        .count(&format!(
            "SELECT COUNT(*) FROM follower_tags WHERE tag_id = {}",
            id_of(&tag)
        ))
        .await;
    assert_eq!(ours, 128);

    // Untag everyone again.
    let (status, op) = s
        .call(
            Method::POST,
            &format!("/tags/{}/bulk", id_of(&tag)),
            Some(json!({"action": "untag"})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{op}");
    let progress = format!("/tag-operations/{}", id_of(&op));
    wait_until("the untagging finishes", 60, || {
        let s = &s;
        let progress = progress.clone();
        async move { s.call(Method::GET, &progress, None).await.1["status"] == "done" }
    })
    .await;
    assert!(
        wx::all_members(&s.tokens(), wx_id)
            .await
            .expect("members")
            .is_empty()
    );
    s.app.stop().await;
}

#[tokio::test]
async fn push_follower_makes_wechat_carry_our_tags() {
    let s = setup().await;
    let followers = s.followers(1).await;
    let openid = &followers[0];
    let (_, keep) = s.create("保留").await;
    let (_, add) = s.create("新加").await;
    let (_, drop) = s.create("去掉").await;
    s.call(
        Method::PUT,
        &format!("/followers/{openid}/tags"),
        Some(json!({"tag_ids": [id_of(&keep), id_of(&drop)]})),
    )
    .await;
    // A tag made only at WeChat, unknown here: the push leaves it alone.
    let foreign = wx::create(&s.tokens(), "外来").await.expect("create");
    wx::tag_users(&s.tokens(), foreign.id, std::slice::from_ref(openid))
        .await
        .expect("tag");
    // Our rows change locally (as a QR scan would), then the job is enqueued with them.
    s.app
        .exec(&format!(
            "DELETE FROM follower_tags WHERE openid = '{openid}' AND tag_id = {}",
            id_of(&drop)
        ))
        .await;
    s.app
        .exec(&format!(
            "INSERT INTO follower_tags (merchant_id, account_id, openid, tag_id, tagged_at) \
             VALUES ({}, {}, '{openid}', {}, 1)",
            s.merchant,
            s.account.id,
            id_of(&add)
        ))
        .await;
    let mut tx = s.app.db.begin().await.expect("begin");
    let job = zhanggui::tags::enqueue_push_follower(
        &mut tx,
        s.app.now(),
        s.merchant,
        s.account.id,
        openid,
    )
    .await
    .expect("enqueue");
    tx.commit().await.expect("commit");
    s.app.state().jobs.wake();
    let db = s.app.db.clone();
    wait_until("the push is done", 30, || {
        let db = db.clone();
        async move { job_status(&db, job).await == zhanggui::platform::jobs::JobStatus::Done }
    })
    .await;
    let wx_of = |v: &Value| v["wx_tag_id"].as_i64().expect("wx id");
    let at_wechat: BTreeSet<i64> = wx::tags_of(&s.tokens(), openid)
        .await
        .expect("ids")
        .into_iter()
        .collect();
    assert_eq!(at_wechat, [wx_of(&keep), wx_of(&add), foreign.id].into());
    s.app.stop().await;
}
