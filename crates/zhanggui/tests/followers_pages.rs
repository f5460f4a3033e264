//! The follower list (粉丝) and a follower's page (粉丝详情) with their API, through real HTTP:
//! quick filters and keyset paging on the page and in the API, what a follower's page shows
//! from the log and the profile, remark and blacklist reaching the emulated WeChat first,
//! validation messages, the timeline of messages sent through the callback, and another
//! merchant's followers staying out of reach.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wechat::api::users;
use zhanggui::accounts::AccountRow;
use zhanggui::platform::auth::model::Role;

const DAY: i64 = 86_400_000;

async fn post_json(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    read_json(app.client().post(app.url(path)).json(&body)).await
}

/// Simulated followers of the account on the sandbox, each of whom followed (so the callback
/// logged them and the projector made their rows).
async fn sandbox_followers(app: &TestApp, a: &AccountRow, n: usize) -> Vec<String> {
    let (status, made) = post_json(
        app,
        &format!("/sandbox/api/apps/{}/followers", a.app_id),
        json!({"count": n}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    let openids: Vec<String> = serde_json::from_value(made["openids"].clone()).expect("openids");
    for o in &openids {
        act(app, a, o, json!({"type": "follow", "scene": "poster"})).await;
    }
    let db = app.db.clone();
    let (m, id) = (a.merchant_id, a.id);
    let last = openids.last().cloned().unwrap_or_default();
    wait_until("the followers are projected", 20, || {
        let (db, last) = (db.clone(), last.clone());
        async move {
            zhanggui::followers::store::get(&db, m, id, &last)
                .await
                .expect("read")
                .is_some()
        }
    })
    .await;
    openids
}

async fn act(app: &TestApp, a: &AccountRow, openid: &str, action: Value) -> Value {
    let (status, d) = post_json(
        app,
        &format!("/sandbox/api/apps/{}/followers/{openid}/actions", a.app_id),
        action,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    d
}

/// A follower row written directly (the list's filters are about these columns).
#[allow(clippy::too_many_arguments)]
async fn seed(
    app: &TestApp,
    a: &AccountRow,
    openid: &str,
    subscribed_at: i64,
    last_at: i64,
    subscribed: bool,
    remark: &str,
    channel: Option<&str>,
) {
    let channel = channel.map_or("NULL".to_string(), |c| format!("'{c}'"));
    app.exec(&format!(
        "INSERT INTO followers (merchant_id, account_id, openid, first_seen_at, \
         last_interaction_at, subscribed, subscribed_at, channel, remark) VALUES \
         ({}, {}, '{openid}', {subscribed_at}, {last_at}, {}, {subscribed_at}, {channel}, '{remark}')",
        a.merchant_id,
        a.id,
        if subscribed { "TRUE" } else { "FALSE" }
    ))
    .await;
}

async fn tag(app: &TestApp, a: &AccountRow, name: &str, wx: i64) -> i64 {
    app.exec(&format!(
        "INSERT INTO tags (merchant_id, account_id, name, wx_tag_id, created_at, updated_at) \
         VALUES ({}, {}, '{name}', {wx}, 0, 0)",
        a.merchant_id, a.id
    ))
    .await;
    app.count(&format!(
        "SELECT id FROM tags WHERE account_id = {} AND name = '{name}'",
        a.id
    ))
    .await
}

async fn tag_follower(app: &TestApp, a: &AccountRow, openid: &str, tag_id: i64) {
    app.exec(&format!(
        "INSERT INTO follower_tags (merchant_id, account_id, openid, tag_id, tagged_at) \
         VALUES ({}, {}, '{openid}', {tag_id}, 0)",
        a.merchant_id, a.id
    ))
    .await;
}

struct Shop {
    account: AccountRow,
    owner: Session,
    key: KeyClient,
}

async fn shop(app: &TestApp, tag: &str) -> Shop {
    let m = app.merchant(&format!("{tag}商户")).await;
    let account = app.account(m, &format!("{tag}服务号")).await;
    let owner = format!("{}_owner", tag.to_lowercase());
    app.user(m, &owner, Role::Owner).await;
    let (_, key) = app.api_key(m, &format!("{tag} key"), Role::Owner).await;
    Shop {
        account,
        owner: app.sign_in(&owner).await,
        key: app.key(&key),
    }
}

fn openids_of(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["openid"].as_str().expect("openid").to_string())
        .collect()
}

#[tokio::test]
async fn the_list_filters_and_pages_on_the_page_and_in_the_api() {
    let app = TestApp::spawn().await;
    let s = shop(&app, "List").await;
    let a = &s.account;
    let now = app.now();
    seed(
        &app,
        a,
        "oA",
        now - 10 * DAY,
        now - DAY,
        true,
        "老王",
        Some("poster"),
    )
    .await;
    seed(&app, a, "oB", now - 9 * DAY, now - 2 * DAY, true, "", None).await;
    seed(
        &app,
        a,
        "oC",
        now - 8 * DAY,
        now - 3 * DAY,
        true,
        "",
        Some("poster"),
    )
    .await;
    seed(&app, a, "oD", now - 7 * DAY, now - 4 * DAY, true, "", None).await;
    seed(
        &app,
        a,
        "oGone",
        now - 6 * DAY,
        now - 5 * DAY,
        false,
        "",
        None,
    )
    .await;
    app.exec(&format!(
        "INSERT INTO channels (merchant_id, account_id, name, kind, scene, medium, ticket, qr_url, \
         created_at, updated_at) VALUES ({}, {}, '门口海报', 'permanent', 'poster', 'poster', \
         't', 'u', 0, 0)",
        a.merchant_id, a.id
    ))
    .await;
    let vip = tag(&app, a, "VIP", 100).await;
    tag_follower(&app, a, "oA", vip).await;
    tag_follower(&app, a, "oD", vip).await;

    // API: every follower (default: following), paged two at a time without overlap.
    let base = format!("/api/v1/accounts/{}/followers", a.id);
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{base}?limit=2&cursor={c}&total=true"),
            None => format!("{base}?limit=2&total=true"),
        };
        let (status, page) = read_json(s.key.request(Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 4, "{page}");
        seen.extend(openids_of(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["oA", "oB", "oC", "oD"], "last active first");

    // Tag, channel, status, search, date range and sort.
    let cases: Vec<(String, Vec<&str>)> = vec![
        (format!("tag={vip}"), vec!["oA", "oD"]),
        ("channel=poster".into(), vec!["oA", "oC"]),
        ("status=unsubscribed".into(), vec!["oGone"]),
        (
            "status=all&sort=oldest".into(),
            vec!["oA", "oB", "oC", "oD", "oGone"],
        ),
        ("q=%E8%80%81%E7%8E%8B".into(), vec!["oA"]), // 老王
        ("q=oC".into(), vec!["oC"]),
        ("sort=newest".into(), vec!["oD", "oC", "oB", "oA"]),
    ];
    for (query, expected) in &cases {
        let (status, page) =
            read_json(s.key.request(Method::GET, &format!("{base}?{query}"))).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(&openids_of(&page), expected, "{query}");
    }
    let day = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .expect("time")
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .format("%Y-%m-%d")
            .to_string()
    };
    let q = format!(
        "{base}?followed_from={}&followed_to={}",
        day(now - 9 * DAY),
        day(now - 8 * DAY)
    );
    let (_, page) = read_json(s.key.request(Method::GET, &q)).await;
    assert_eq!(openids_of(&page), ["oB", "oC"]);
    // A follower's record names its tags and channel.
    let (_, page) = read_json(s.key.request(Method::GET, &format!("{base}?q=oA"))).await;
    assert_eq!(page["items"][0]["tags"][0]["name"], "VIP");
    assert_eq!(page["items"][0]["channel"]["name"], "门口海报");

    // Any filter through search, and refusals in the caller's language.
    let (status, page) = read_json(s.key.request(Method::POST, &format!("{base}/search")).json(
        &json!({"filter": {"combine": "any", "conditions": [
            {"field": "tags", "op": "any", "tag_ids": [vip]},
            {"field": "subscribed", "value": false}]}, "sort": "oldest"}),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(openids_of(&page), ["oA", "oD", "oGone"]);
    let (status, e) = read_json(
        s.key
            .request(
                Method::GET,
                &format!("{base}?tag=x&followed_from=2026-02-30"),
            )
            .header("accept-language", "en"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let fields: Vec<&String> = e["error"]["fields"]
        .as_object()
        .expect("fields")
        .keys()
        .collect();
    assert_eq!(fields, ["followed_from", "tag"]);
    assert!(
        e["error"]["fields"]["followed_from"]
            .as_str()
            .is_some_and(|m| m.contains("2026-01-31"))
    );

    // The console page: the same filters, chips, channel names and a next page.
    let (status, html) = s.owner.get(&format!("/followers?tag={vip}")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("老王") && html.contains("oD") && !html.contains("oB"));
    assert!(html.contains(r#"<span class="chip">VIP</span>"#));
    assert!(html.contains("门口海报"));
    assert!(
        html.contains("<strong>2</strong>"),
        "the whole match's total, at once"
    );
    // A longer match shows its first page and asks for the count after.
    let (_, first) = read_json(s.key.request(Method::GET, &format!("{base}?limit=2"))).await;
    assert!(first.get("total").is_none(), "{first}");
    let (status, counted) = read_json(
        s.key
            .request(Method::POST, &format!("{base}/count"))
            .json(&json!({"filter": {"conditions": [{"field": "subscribed", "value": true}]}})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{counted}");
    assert_eq!(counted["count"], 4, "{counted}");
    let (_, html) = s.owner.get("/followers?status=all").await;
    let next = html
        .split("id=\"next-page\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|h| h.replace("&amp;", "&"));
    assert!(next.is_none(), "five rows fit one page of twenty");
    for i in 0..21 {
        seed(
            &app,
            a,
            &format!("oMany{i:02}"),
            now - DAY,
            now - 6 * DAY - i,
            true,
            "",
            None,
        )
        .await;
    }
    let (_, html) = s.owner.get("/followers").await;
    // More than a page: the page comes at once and asks for its total after.
    assert!(html.contains("<strong>…</strong>"), "{html}");
    assert!(html.contains("data-count-account="), "{html}");
    let next = html
        .split("id=\"next-page\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .map(|h| h.replace("&amp;", "&"))
        .expect("a next page");
    let (status, html2) = s.owner.get(&next).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html2.contains("oMany16") && html2.contains("oMany20") && !html2.contains("oMany15"));
    assert!(!html2.contains("id=\"next-page\""));
    let (status, html) = s.owner.get("/followers?active_from=nonsense").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        html.contains("2026-01-31"),
        "the date format is explained: {html}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_followers_page_shows_the_log_and_changes_reach_wechat_first() {
    let app = TestApp::spawn().await;
    let s = shop(&app, "Show").await;
    let a = &s.account;
    let openids = sandbox_followers(&app, a, 2).await;
    let (o, other) = (&openids[0], &openids[1]);
    act(&app, a, o, json!({"type": "text", "content": "今天营业吗"})).await;
    act(&app, a, o, json!({"type": "click", "key": "MENU_HOURS"})).await;

    // The timeline shows what was sent through the callback (read straight from the log
    // before the index reaches it, through follower_log after).
    let api = format!("/api/v1/accounts/{}/followers/{o}", a.id);
    let (status, t) = read_json(s.key.request(Method::GET, &format!("{api}/timeline"))).await;
    assert_eq!(status, StatusCode::OK, "{t}");
    let kinds: Vec<&str> = t["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["event:click", "text", "event:subscribe"]);
    assert_eq!(t["items"][1]["detail"], "今天营业吗");
    let db = app.db.clone();
    wait_until("the log is indexed", 20, || {
        let db = db.clone();
        async move {
            scalar(
                &db,
                "SELECT last_id FROM log_projections WHERE name = 'follower_log'",
            )
            .await
                >= scalar(&db, "SELECT MAX(id) FROM wx_messages").await
        }
    })
    .await;
    let (_, t) = read_json(
        s.key
            .request(Method::GET, &format!("{api}/timeline?limit=2")),
    )
    .await;
    assert_eq!(t["items"].as_array().map(Vec::len), Some(2));
    let c = t["next_cursor"].as_str().expect("a second page");
    let (_, t2) = read_json(
        s.key
            .request(Method::GET, &format!("{api}/timeline?limit=2&cursor={c}")),
    )
    .await;
    assert_eq!(t2["items"][0]["kind"], "event:subscribe");
    assert_eq!(t2["next_cursor"], Value::Null);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM follower_log WHERE openid = '{other}'"
        ))
        .await,
        1,
        "each follower's rows are theirs"
    );

    // The page: state, channel scene, timeline.
    let page = format!("/followers/{o}?account={}", a.id);
    let (status, html) = s.owner.get(&page).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("已关注") && html.contains("poster") && html.contains("今天营业吗"));
    assert!(html.contains("MENU_HOURS"));

    // Remark: WeChat first, then ours; WeChat's copy reads back the same.
    let (status, f) = read_json(
        s.key
            .request(Method::PATCH, &api)
            .json(&json!({"remark": "老顾客", "phone": "13812345678", "gender": "female", "birthday": "1990-05-01", "city": "上海"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{f}");
    assert_eq!(
        (f["remark"].as_str(), f["gender"].as_str()),
        (Some("老顾客"), Some("female"))
    );
    assert!(f["profile_updated_at"].is_string());
    let tokens = zhanggui::accounts::tokens::cache_of(app.state(), a);
    assert_eq!(
        users::info(&tokens, o).await.expect("user/info").remark,
        "老顾客"
    );
    // The console's remark form does the same.
    let (status, _) = s
        .owner
        .post_form(
            &format!("/followers/{o}/remark"),
            &[("account_id", &a.id.to_string()), ("remark", "常客")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        users::info(&tokens, o).await.expect("user/info").remark,
        "常客"
    );

    // Validation: field by field, in the caller's language; nothing changes.
    let (status, e) = read_json(
        s.key
            .request(Method::PATCH, &api)
            .header("accept-language", "en")
            .json(
                &json!({"remark": "备".repeat(10), "phone": "call me", "birthday": "2999-01-01"}),
            ),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("29 bytes") && text.contains("mobile number") && text.contains("after today"),
        "{text}"
    );
    let (status, html) = s
        .owner
        .post_form(
            &format!("/followers/{o}/profile"),
            &[
                ("account_id", &a.id.to_string()),
                ("birthday", "1990-02-30"),
                ("name", "王"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("请填写真实的日期") && html.contains("1990-02-30"));
    assert_eq!(
        users::info(&tokens, o).await.expect("user/info").remark,
        "常客"
    );
    let (_, f) = read_json(s.key.request(Method::GET, &api)).await;
    assert_eq!(
        (f["name"].clone(), f["city"].as_str()),
        (Value::Null, Some("上海"))
    );

    // Blacklist: WeChat's list first, then ours, and back.
    let (status, f) = read_json(
        s.key
            .request(Method::PUT, &format!("{api}/blacklist"))
            .json(&json!({"blacklisted": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{f}");
    assert_eq!(f["blacklisted"], true);
    assert_eq!(
        users::all_blacklisted(&tokens).await.expect("getblacklist"),
        vec![o.to_string()]
    );
    let (status, _) = s
        .owner
        .post_form(
            &format!("/followers/{o}/blacklist"),
            &[("account_id", &a.id.to_string()), ("blacklisted", "0")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(
        users::all_blacklisted(&tokens)
            .await
            .expect("getblacklist")
            .is_empty()
    );

    // WeChat's refusal explained: someone who left cannot get a remark (43004).
    act(&app, a, other, json!({"type": "unfollow"})).await;
    let (status, e) = read_json(
        s.key
            .request(
                Method::PATCH,
                &format!("/api/v1/accounts/{}/followers/{other}", a.id),
            )
            .json(&json!({"remark": "回头客"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("43004") && m.contains("取消关注")),
        "{e}"
    );
    let (status, html) = s
        .owner
        .post_form(
            &format!("/followers/{other}/remark"),
            &[("account_id", &a.id.to_string()), ("remark", "回头客")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("follower-alert") && html.contains("43004"));
    app.stop().await;
}

#[tokio::test]
async fn another_merchants_followers_are_not_found() {
    let app = TestApp::spawn().await;
    let a = shop(&app, "Alpha").await;
    let b = shop(&app, "Bravo").await;
    let now = app.now();
    seed(&app, &b.account, "oBravo", now, now, true, "B的秘密", None).await;
    let acc = b.account.id;
    let api = format!("/api/v1/accounts/{acc}/followers");
    let who: [&dyn Who; 2] = [&a.owner, &a.key];
    for w in who {
        for (method, path, body) in [
            (Method::GET, api.clone(), None),
            (Method::POST, format!("{api}/search"), Some(json!({}))),
            (Method::GET, format!("{api}/oBravo"), None),
            (
                Method::PATCH,
                format!("{api}/oBravo"),
                Some(json!({"city": "x"})),
            ),
            (
                Method::PUT,
                format!("{api}/oBravo/blacklist"),
                Some(json!({"blacklisted": true})),
            ),
            (Method::GET, format!("{api}/oBravo/timeline"), None),
        ] {
            let mut req = w.request(method.clone(), &path);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let (status, text) = read(req).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {text}");
            assert!(!text.contains("B的秘密"));
        }
    }
    let (status, _) = a
        .owner
        .get(&format!("/followers/oBravo?account={acc}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = a.owner.get("/followers/oBravo").await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not a follower of A's own account either"
    );
    let (status, _) = a
        .owner
        .post_form(
            "/followers/oBravo/remark",
            &[("account_id", &acc.to_string()), ("remark", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, html) = a.owner.get("/followers?status=all").await;
    assert!(!html.contains("oBravo"));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM followers WHERE openid = 'oBravo' AND city IS NULL AND NOT blacklisted")
            .await,
        1,
        "B's follower is unchanged"
    );
    app.stop().await;
}
