//! Segments (人群) through HTTP: CRUD, validation per condition, the live preview's count
//! against `query::count`, the console pages, and another merchant's segments out of reach.

mod common;

use common::{TestApp, Who, read_json};
use reqwest::Method;
use reqwest::StatusCode;
use serde_json::json;
use zhanggui::followers::Filter;
use zhanggui::followers::query;
use zhanggui::platform::auth::model::Role;

/// Five followers of `account`: o1..o5, o1–o3 following, o2 and o4 tagged VIP (tag 'VIP').
async fn seed(app: &TestApp, merchant: i64, account: i64) -> i64 {
    let now = app.now();
    for i in 1..=5 {
        let subscribed = if i <= 3 { "TRUE" } else { "FALSE" };
        let gender = if i % 2 == 0 { "'female'" } else { "'male'" };
        app.exec(&format!(
            "INSERT INTO followers (merchant_id, account_id, openid, first_seen_at, \
             last_interaction_at, subscribed, subscribed_at, gender, city) \
             VALUES ({merchant}, {account}, 'o{i}', {now} - {i} * 86400000, {now} - {i} * 1000, \
             {subscribed}, {now} - {i} * 86400000, {gender}, '上海')"
        ))
        .await;
    }
    app.exec(&format!(
        "INSERT INTO tags (merchant_id, account_id, name, wx_tag_id, created_at, updated_at) \
         VALUES ({merchant}, {account}, 'VIP', 100, 0, 0)"
    ))
    .await;
    let tag = app
        .count(&format!("SELECT id FROM tags WHERE account_id = {account}"))
        .await;
    for o in ["o2", "o4"] {
        app.exec(&format!(
            "INSERT INTO follower_tags (merchant_id, account_id, openid, tag_id, tagged_at) \
             VALUES ({merchant}, {account}, '{o}', {tag}, 0)"
        ))
        .await;
    }
    tag
}

#[tokio::test]
async fn segments_are_saved_counted_renamed_and_deleted() {
    let app = TestApp::spawn().await;
    let m = app.merchant("人群商户").await;
    let account = app.account(m, "人群号").await;
    let tag = seed(&app, m, account.id).await;
    let (_, key) = app.api_key(m, "ops", Role::Operator).await;
    let key = app.key(&key);
    let base = format!("/api/v1/accounts/{}/segments", account.id);
    let filter = json!({"combine": "all", "conditions": [
        {"field": "subscribed", "value": true},
        {"field": "tags", "op": "any", "tag_ids": [tag]},
    ]});

    // The preview equals query::count, with a sample.
    let (status, preview) = read_json(
        key.request(Method::POST, &format!("{base}/preview"))
            .json(&json!({"filter": filter})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let parsed: Filter = serde_json::from_value(filter.clone()).expect("filter");
    let expected = query::count(&app.db, m, account.id, &parsed, app.now())
        .await
        .expect("count");
    assert_eq!(preview["count"], json!(expected));
    assert_eq!(expected, 1, "only o2 follows and is VIP");
    assert_eq!(preview["sample"][0]["openid"], "o2");

    // Create; the same name again is a clear field error.
    let (status, created) = read_json(
        key.request(Method::POST, &base)
            .json(&json!({"name": "VIP 粉丝", "filter": filter})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let sid = created["id"].as_i64().expect("id");
    let (status, dup) = read_json(
        key.request(Method::POST, &base)
            .json(&json!({"name": " VIP 粉丝 ", "filter": filter})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        dup["error"]["fields"]["name"]
            .as_str()
            .is_some_and(|m| m.contains("同名")),
        "{dup}"
    );

    // A bad condition is reported on its index, in the caller's language.
    let bad = json!({"name": "坏", "filter": {"conditions": [
        {"field": "subscribed", "value": true},
        {"field": "birthday_month", "months": [13]},
    ]}});
    let (status, err) = read_json(
        key.request(Method::POST, &base)
            .header("accept-language", "en")
            .json(&bad),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        err["error"]["fields"]["conditions[1]"],
        "Months are 1 to 12"
    );

    // Count of the saved segment; filter_of for later broadcasts.
    let (status, count) = read_json(key.request(Method::GET, &format!("{base}/{sid}/count"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(count["count"], json!(1));
    let stored = zhanggui::segments::filter_of(&app.db, m, account.id, sid)
        .await
        .expect("read");
    assert_eq!(stored, Some(parsed));

    // Rename with a wider filter, list, delete.
    let (status, renamed) = read_json(key.request(Method::PUT, &format!("{base}/{sid}")).json(&json!({
        "name": "全部 VIP", "filter": {"conditions": [{"field": "tags", "op": "any", "tag_ids": [tag]}]}
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{renamed}");
    let (_, count) = read_json(key.request(Method::GET, &format!("{base}/{sid}/count"))).await;
    assert_eq!(count["count"], json!(2));
    let (_, list) = read_json(key.request(Method::GET, &base)).await;
    assert_eq!(list["items"][0]["name"], "全部 VIP");
    let (status, _) = common::read(key.request(Method::DELETE, &format!("{base}/{sid}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = common::read(key.request(Method::GET, &format!("{base}/{sid}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn the_console_saves_a_segment_and_lists_it_with_its_count() {
    let app = TestApp::spawn().await;
    let m = app.merchant("人群商户").await;
    let account = app.account(m, "人群号").await;
    seed(&app, m, account.id).await;
    app.user(m, "boss", Role::Owner).await;
    let s = app.sign_in("boss").await;
    let (status, page) = s.get("/segments/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("segment-builder"));
    let acc = account.id.to_string();
    let filter = r#"{"conditions":[{"field":"gender","values":["female"]}]}"#;
    let (status, page) = s
        .post_form(
            "/segments",
            &[("name", ""), ("filter", filter), ("account_id", &acc)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("必填"), "{page}");
    let (status, _) = s
        .post_form(
            "/segments",
            &[("name", "女性"), ("filter", filter), ("account_id", &acc)],
        )
        .await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    let (status, list) = s.get("/segments").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("女性"));
    assert!(
        list.contains(r#"<td class="num" data-label="当前人数">2</td>"#),
        "{list}"
    );
    app.stop().await;
}

#[tokio::test]
async fn another_merchants_segments_are_not_found() {
    let app = TestApp::spawn().await;
    let a = app.merchant("甲").await;
    let b = app.merchant("乙").await;
    let b_account = app.account(b, "乙号").await;
    seed(&app, b, b_account.id).await;
    let (_, b_key) = app.api_key(b, "b", Role::Owner).await;
    let (_, created) = read_json(
        app.key(&b_key)
            .request(
                Method::POST,
                &format!("/api/v1/accounts/{}/segments", b_account.id),
            )
            .json(&json!({"name": "乙的人群", "filter": {}})),
    )
    .await;
    let sid = created["id"].as_i64().expect("id");
    let (_, a_key) = app.api_key(a, "a", Role::Owner).await;
    let a_key = app.key(&a_key);
    let base = format!("/api/v1/accounts/{}/segments", b_account.id);
    for path in [
        base.clone(),
        format!("{base}/{sid}"),
        format!("{base}/{sid}/count"),
    ] {
        let (status, body) = common::read(a_key.request(Method::GET, &path)).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}: {body}");
    }
    let (status, _) = common::read(
        a_key
            .request(Method::POST, &format!("{base}/preview"))
            .json(&json!({"filter": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = common::read(a_key.request(Method::DELETE, &format!("{base}/{sid}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.user(a, "a_boss", Role::Owner).await;
    let s = app.sign_in("a_boss").await;
    let (status, _) = s.get(&format!("/segments/{sid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(app.count("SELECT COUNT(*) FROM segments").await, 1);
    app.stop().await;
}
