//! Automatic replies through the real product, on SQLite and PostgreSQL: rules made by API
//! and console answer the sandbox's followers through the callback in the documented order;
//! a change reaches the callback within about a second; a rule's further replies arrive as
//! customer-service messages; hits, unmatched texts and hand-offs are recorded from the log;
//! the welcome, triggers and the once-an-hour courtesy; the library's deletion guard.

mod common;

use std::time::{Duration, Instant};

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhanggui::platform::auth::model::Role;

struct Fixture {
    app: TestApp,
    merchant: i64,
    key: KeyClient,
    account_id: i64,
    app_id: String,
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    let m = app.merchant("回复商户").await;
    let (_, key) = app.api_key(m, "owner", Role::Owner).await;
    let account = app.account(m, "回复服务号").await;
    let key = app.key(&key);
    Fixture {
        app,
        merchant: m,
        key,
        account_id: account.id,
        app_id: account.app_id,
    }
}

impl Fixture {
    fn rules_path(&self) -> String {
        format!("/api/v1/accounts/{}/reply-rules", self.account_id)
    }

    async fn create(&self, rule: Value) -> Value {
        let (status, body) = read_json(
            self.key
                .request(Method::POST, &self.rules_path())
                .json(&rule),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn follower(&self) -> String {
        sandbox_follower(&self.app, &self.app_id).await
    }

    async fn say(&self, openid: &str, text: &str) -> String {
        let got = sandbox_act(
            &self.app,
            &self.app_id,
            openid,
            json!({"type": "text", "content": text}),
        )
        .await;
        reply_of(&got)
    }

    async fn act(&self, openid: &str, action: Value) -> String {
        reply_of(&sandbox_act(&self.app, &self.app_id, openid, action).await)
    }
}

/// What the follower saw: the text, `[news] title`, or "success".
fn reply_of(delivery: &Value) -> String {
    let reply = delivery["reply"].as_str().unwrap_or_default();
    if reply == "success" || reply.is_empty() {
        return "success".into();
    }
    let inner = |tag: &str| {
        reply
            .split(&format!("<{tag}><![CDATA["))
            .nth(1)
            .and_then(|s| s.split("]]>").next())
            .unwrap_or_default()
            .to_string()
    };
    if reply.contains("<MsgType><![CDATA[news]]>") {
        format!("[news] {}", inner("Title"))
    } else {
        inner("Content")
    }
}

fn text_rule(name: &str, keywords: Value, text: &str) -> Value {
    json!({
        "name": name,
        "keywords": keywords,
        "replies": [{"type": "text", "text": text}],
    })
}

#[tokio::test]
async fn rules_answer_followers_in_the_documented_order() {
    let f = fixture().await;
    f.create(text_rule(
        "包含价格",
        json!([{"text": "价格", "mode": "contains"}]),
        "价格表见菜单",
    ))
    .await;
    f.create(text_rule(
        "精确价格",
        json!([{"text": "价格", "mode": "exact"}]),
        "一杯 18 元",
    ))
    .await;
    f.create(text_rule(
        "订单号",
        json!([{"text": "^订单\\d{4,}$", "mode": "regex"}]),
        "正在查询订单",
    ))
    .await;
    let vip = f
        .create(json!({
            "name": "会员优先", "priority": 10,
            "keywords": [{"text": "会员", "mode": "contains"}],
            "replies": [{"type": "text", "text": "会员请出示会员卡"}],
        }))
        .await;
    let follower = f.follower().await;

    assert_eq!(
        f.say(&follower, "价格").await,
        "一杯 18 元",
        "exact before contains"
    );
    assert_eq!(f.say(&follower, "请问价格").await, "价格表见菜单");
    assert_eq!(
        f.say(&follower, " ＶＩＰ会员价格 ").await,
        "会员请出示会员卡",
        "priority first"
    );
    assert_eq!(f.say(&follower, "订单20261201").await, "正在查询订单");
    assert_eq!(
        f.say(&follower, "订单12").await,
        "success",
        "no rule, no default reply"
    );

    // The test box explains the decision.
    let (status, test) = read_json(
        f.key
            .request(Method::POST, &format!("{}/test", f.rules_path()))
            .json(&json!({"text": "会员价格"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{test}");
    assert_eq!(test["outcome"], "rule");
    assert_eq!(test["rule_id"], vip["id"]);
    assert_eq!(test["reply"], "会员请出示会员卡");
    let verdicts: Vec<&str> = test["candidates"]
        .as_array()
        .expect("candidates")
        .iter()
        .map(|c| c["verdict"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(verdicts, vec!["answers", "lower_priority"]);
    f.app.stop().await;
}

#[tokio::test]
async fn a_change_reaches_the_callback_within_about_a_second() {
    let f = fixture().await;
    let rule = f
        .create(text_rule(
            "营业时间",
            json!([{"text": "营业时间", "mode": "exact"}]),
            "9 点开门",
        ))
        .await;
    let follower = f.follower().await;
    assert_eq!(f.say(&follower, "营业时间").await, "9 点开门");

    let path = format!("{}/{}", f.rules_path(), rule["id"]);
    let (status, body) = read_json(f.key.request(Method::PUT, &path).json(&text_rule(
        "营业时间",
        json!([{"text": "营业时间", "mode": "exact"}]),
        "10 点开门",
    )))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let changed = Instant::now();
    loop {
        let got = f.say(&follower, "营业时间").await;
        if got == "10 点开门" {
            break;
        }
        assert_eq!(got, "9 点开门", "the old rule or the new one, nothing else");
        assert!(
            changed.elapsed() < Duration::from_secs(3),
            "the change did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Switched off, it no longer answers; deleted, it is gone.
    let (status, _) = read(f.key.request(Method::DELETE, &path)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = read(f.key.request(Method::GET, &path)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    f.app.stop().await;
}

#[tokio::test]
async fn every_reply_of_a_rule_arrives_and_hits_are_counted() {
    let f = fixture().await;
    let (status, news) = read_json(f.key.request(Method::POST, "/api/v1/library/news").json(
        &json!({"articles": [{"title": "冬季新品", "digest": "三款热饮", "body_html": "<p>热饮上市</p>"}]}),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{news}");
    let rule = f
        .create(json!({
            "name": "新品",
            "keywords": [{"text": "新品", "mode": "contains"}, {"text": "上新", "mode": "exact"}],
            "replies": [
                {"type": "text", "text": "这是本季新品："},
                {"type": "library", "item_id": news["id"]},
            ],
        }))
        .await;
    let follower = f.follower().await;
    assert_eq!(f.say(&follower, "有什么新品").await, "这是本季新品：");
    wait_until(
        "the news follows by customer-service message",
        20,
        || async {
            sandbox_inbox(&f.app, &f.app_id, &follower)
                .await
                .to_string()
                .contains("冬季新品")
        },
    )
    .await;
    assert_eq!(f.say(&follower, "上新").await, "这是本季新品：");

    let path = format!("{}/{}", f.rules_path(), rule["id"]);
    wait_until("both hits are counted", 20, || async {
        let (_, detail) = read_json(f.key.request(Method::GET, &path)).await;
        detail["hits"]["last_7_days"] == 2
    })
    .await;
    let (_, detail) = read_json(f.key.request(Method::GET, &path)).await;
    let per_keyword: Vec<(String, i64)> =
        serde_json::from_value(detail["keyword_hits"].clone()).expect("keyword hits");
    assert_eq!(per_keyword.len(), 2, "{detail}");
    assert!(per_keyword.contains(&("新品".to_string(), 1)), "{detail}");
    assert!(per_keyword.contains(&("上新".to_string(), 1)), "{detail}");

    // The news is in use: the library refuses to delete it.
    let (status, refused) = read_json(f.key.request(
        Method::DELETE,
        &format!("/api/v1/library/items/{}", news["id"]),
    ))
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused.to_string().contains("新品"), "{refused}");

    // A news item's edits reach the callback's replies (the rule answers with news first).
    let (status, body) = read_json(f.key.request(Method::PUT, &path).json(&json!({
        "name": "新品",
        "keywords": [{"text": "新品", "mode": "contains"}],
        "replies": [{"type": "library", "item_id": news["id"]}],
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    wait_until("the rule answers with the news", 5, || async {
        f.say(&follower, "新品").await == "[news] 冬季新品"
    })
    .await;
    f.app.stop().await;
}

#[tokio::test]
async fn images_are_sent_by_the_media_id_of_one_upload_to_wechat() {
    let f = fixture().await;
    let png = zhanggui::library::gradient_png(40, 30, [7, 193, 96], [200, 240, 210]).expect("png");
    let image = zhanggui::library::upload(
        &f.app.db,
        f.merchant,
        &png,
        "poster.png",
        "冬季海报",
        None,
        f.app.now(),
    )
    .await
    .expect("image")
    .id;
    let rule = f
        .create(json!({
            "name": "海报",
            "keywords": [{"text": "海报", "mode": "exact"}],
            "replies": [{"type": "library", "item_id": image}],
        }))
        .await;
    // Saving the rule put the image at WeChat as the account's permanent material.
    let cached = zhanggui::library::wechat::cached_media_ids(&f.app.db, f.account_id)
        .await
        .expect("cache");
    assert_eq!(cached.len(), 1, "{cached:?}");
    let (item, media_id) = cached[0].clone();
    assert_eq!(item, image);

    let follower = f.follower().await;
    let got = sandbox_act(
        &f.app,
        &f.app_id,
        &follower,
        json!({"type": "text", "content": "海报"}),
    )
    .await;
    let reply = got["reply"].as_str().unwrap_or_default();
    assert!(
        reply.contains("<MsgType><![CDATA[image]]></MsgType>"),
        "{got}"
    );
    assert!(
        reply.contains(&format!("<MediaId><![CDATA[{media_id}]]></MediaId>")),
        "{got}"
    );

    // Saving again does not upload again.
    let path = format!("{}/{}", f.rules_path(), rule["id"]);
    let (status, body) = read_json(f.key.request(Method::PUT, &path).json(&json!({
        "name": "海报",
        "keywords": [{"text": "海报", "mode": "exact"}, {"text": "poster", "mode": "exact"}],
        "replies": [{"type": "library", "item_id": image}],
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let again = zhanggui::library::wechat::cached_media_ids(&f.app.db, f.account_id)
        .await
        .expect("cache");
    assert_eq!(again, vec![(image, media_id)]);
    f.app.stop().await;
}

#[tokio::test]
async fn handoff_default_courtesy_and_unmatched_texts() {
    let f = fixture().await;
    let follower = f.follower().await;
    f.create(json!({
        "name": "默认", "kind": "default",
        "replies": [{"type": "text", "text": "收到，我们会尽快回复"}],
    }))
    .await;
    // Only one default rule per account.
    let (status, _) = read_json(f.key.request(Method::POST, &f.rules_path()).json(&json!({
        "name": "又一个默认", "kind": "default",
        "replies": [{"type": "text", "text": "x"}],
    })))
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    assert_eq!(f.say(&follower, "在吗").await, "收到，我们会尽快回复");
    assert_eq!(f.say(&follower, " 在吗 ").await, "收到，我们会尽快回复");
    let handoff = f.say(&follower, "人工").await;
    assert!(handoff.contains("人工客服"), "{handoff}");
    wait_until("the follower is marked for a person", 20, || async {
        f.app
            .count(&format!(
                "SELECT COUNT(*) FROM follower_handoffs WHERE openid = '{follower}'"
            ))
            .await
            == 1
    })
    .await;
    // The follower's page shows the request, and a person marks it handled.
    let m = f
        .app
        .count("SELECT merchant_id FROM accounts ORDER BY id LIMIT 1")
        .await;
    f.app.user(m, "agent", Role::Agent).await;
    let s = f.app.sign_in("agent").await;
    let page = format!("/followers/{follower}?account={}", f.account_id);
    wait_until("the follower's page shows the request", 20, || async {
        let (status, body) = s.get(&page).await;
        status == StatusCode::OK && body.contains("请求人工") && body.contains("可发送至")
    })
    .await;
    let (status, _) = s
        .post_form(
            &format!("/followers/{follower}/handoff/clear"),
            &[("account_id", &f.account_id.to_string())],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        f.app.count("SELECT COUNT(*) FROM follower_handoffs").await,
        0
    );
    // An agent reads rules but is offered no Save or Delete.
    let rule = f
        .app
        .count("SELECT id FROM reply_rules ORDER BY id LIMIT 1")
        .await;
    let (status, form) = s.get(&format!("/replies/{rule}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("rule-form"), "{form}");
    assert!(
        !form.contains("btn btn-primary\" type=\"submit\""),
        "{form}"
    );
    assert!(!form.contains(&format!("/replies/{rule}/delete")), "{form}");
    wait_until("the unmatched text is kept", 20, || async {
        let (_, list) = read_json(
            f.key
                .request(Method::GET, &format!("{}/unmatched", f.rules_path())),
        )
        .await;
        list.as_array()
            .is_some_and(|texts| texts.iter().any(|t| t["text"] == "在吗" && t["count"] == 2))
    })
    .await;

    // With the courtesy on, the default reply answers a follower once an hour.
    let settings = format!("/api/v1/accounts/{}/reply-settings", f.account_id);
    let (status, saved) = read_json(f.key.request(Method::PUT, &settings).json(&json!({
        "courtesy_hourly": true,
        "handoff_words": ["转人工", " 转人工 ", "客服"],
        "handoff_reply": "请稍候",
    })))
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["handoff_words"], json!(["转人工", "客服"]));
    let other = f.follower().await;
    wait_until("the settings arrive", 5, || async {
        f.say(&other, "转人工").await == "请稍候"
    })
    .await;
    assert_eq!(f.say(&other, "你好").await, "收到，我们会尽快回复");
    assert_eq!(f.say(&other, "还在吗").await, "success", "once an hour");
    f.app.stop().await;
}

#[tokio::test]
async fn menu_keys_scenes_kinds_and_the_welcome_fire_rules() {
    let f = fixture().await;
    f.create(json!({
        "name": "菜单价格",
        "triggers": [{"kind": "click", "value": "MENU_PRICE"}],
        "replies": [{"type": "text", "text": "价目表"}],
    }))
    .await;
    f.create(json!({
        "name": "海报扫码",
        "triggers": [{"kind": "scene", "value": "poster"}],
        "replies": [{"type": "text", "text": "海报进来的朋友你好"}],
    }))
    .await;
    f.create(json!({
        "name": "收到图片",
        "triggers": [{"kind": "message", "value": "image"}],
        "replies": [{"type": "text", "text": "图片已收到"}],
    }))
    .await;
    f.create(json!({
        "name": "欢迎", "kind": "welcome",
        "replies": [{"type": "text", "text": "欢迎关注！"}, {"type": "text", "text": "回复「价格」看价目表"}],
    }))
    .await;
    let follower = f.follower().await;
    assert_eq!(
        f.act(&follower, json!({"type": "click", "key": "MENU_PRICE"}))
            .await,
        "价目表"
    );
    assert_eq!(
        f.act(&follower, json!({"type": "image"})).await,
        "图片已收到"
    );
    assert_eq!(
        f.act(&follower, json!({"type": "scan", "scene": "poster"}))
            .await,
        "海报进来的朋友你好"
    );
    f.act(&follower, json!({"type": "unfollow"})).await;
    assert_eq!(
        f.act(&follower, json!({"type": "follow"})).await,
        "欢迎关注！"
    );
    wait_until("the welcome's second message follows", 20, || async {
        sandbox_inbox(&f.app, &f.app_id, &follower)
            .await
            .to_string()
            .contains("看价目表")
    })
    .await;
    f.app.stop().await;
}

#[tokio::test]
async fn bad_rules_are_refused_field_by_field() {
    let f = fixture().await;
    let (status, err) = read_json(f.key.request(Method::POST, &f.rules_path()).json(&json!({
        "name": "",
        "keywords": [{"text": "好", "mode": "exact"}, {"text": "(", "mode": "regex"}],
        "priority": 1000,
        "replies": [{"type": "library", "item_id": 999_999}],
    })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let fields = &err["error"]["fields"];
    for field in ["name", "keywords.1", "priority", "replies.0"] {
        assert!(fields.get(field).is_some(), "{field} in {err}");
    }
    assert!(fields.get("keywords.0").is_none(), "{err}");
    assert_eq!(f.app.count("SELECT COUNT(*) FROM reply_rules").await, 0);
    f.app.stop().await;
}

#[tokio::test]
async fn the_console_makes_tests_and_lists_rules() {
    let f = fixture().await;
    let m = f
        .app
        .count("SELECT merchant_id FROM accounts ORDER BY id LIMIT 1")
        .await;
    f.app.user(m, "operator", Role::Operator).await;
    let s = f.app.sign_in("operator").await;
    let account = f.account_id.to_string();
    let (status, page) = s
        .post_form(
            "/replies",
            &[
                ("account_id", &account),
                ("kind", "keyword"),
                ("name", "地址"),
                ("exact", "地址\n在哪"),
                ("contains", "怎么走"),
                ("regex", "("),
                ("reply_0_source", "text"),
                ("reply_0_text", "人民路 1 号"),
                ("enabled", "1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("正则表达式有误"), "the bad pattern is named");
    assert!(page.contains("人民路 1 号"), "what was typed stays");
    let (status, _) = s
        .post_form(
            "/replies",
            &[
                ("account_id", &account),
                ("kind", "keyword"),
                ("name", "地址"),
                ("exact", "地址\n在哪"),
                ("contains", "怎么走"),
                ("reply_0_source", "text"),
                ("reply_0_text", "人民路 1 号"),
                ("enabled", "1"),
                ("hours_from", "09:00"),
                ("hours_to", "21:00"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, list) = s.get("/replies?test=%E5%9C%A8%E5%93%AA").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.contains("地址") && list.contains("09:00–21:00"),
        "{list}"
    );
    assert!(
        list.contains("由这条规则回复") || list.contains("没有规则匹配"),
        "the test box answers"
    );
    f.app.stop().await;
}

/// Messages arriving together at a cold account compile its index once; a rule change
/// compiles it once more while the others keep answering from the previous index.
#[tokio::test]
async fn many_messages_at_once_compile_the_index_once() {
    let f = fixture().await;
    let now = f.app.now();
    for i in 0..200 {
        let rule: zhanggui::replies::model::RuleInput = serde_json::from_value(text_rule(
            &format!("规则{i}"),
            json!([{"text": format!("口令{i}"), "mode": "exact"}]),
            "好的",
        ))
        .expect("rule");
        zhanggui::replies::create(&f.app.db, f.merchant, f.account_id, &rule, &[], now)
            .await
            .expect("rule saved");
    }
    let key = f
        .app
        .text(&format!(
            "SELECT callback_key FROM accounts WHERE id = {}",
            f.account_id
        ))
        .await;
    let directory = &f.app.state().callbacks;
    let before = directory.compiles();
    let all_at_once =
        || futures_util::future::join_all((0..32).map(|_| directory.get(&f.app.db, &key)));
    for got in all_at_once().await {
        assert!(got.expect("read").is_some());
    }
    assert_eq!(directory.compiles() - before, 1);

    let extra: zhanggui::replies::model::RuleInput = serde_json::from_value(text_rule(
        "新规则",
        json!([{"text": "新口令", "mode": "exact"}]),
        "新",
    ))
    .expect("rule");
    zhanggui::replies::create(&f.app.db, f.merchant, f.account_id, &extra, &[], now)
        .await
        .expect("rule saved");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    for got in all_at_once().await {
        assert!(got.expect("read").is_some());
    }
    assert_eq!(directory.compiles() - before, 2);
    f.app.stop().await;
}

fn many_hit_counts(n: i64) -> Vec<zhanggui::replies::store::HitCount> {
    (0..n)
        .map(|i| zhanggui::replies::store::HitCount {
            account_id: 1,
            rule_id: 10_000 + i,
            keyword: format!("k{i}"),
            day: "2026-12-01".into(),
            merchant_id: 1,
            hits: 1 + i % 3,
        })
        .collect()
}

/// A flush of more counts than one statement (and one transaction) writes counts them all;
/// a part written again (a flush finished after it was interrupted) counts nothing twice; a
/// flush of another range cannot write while one holds the claim. On a database of its own:
/// a running app's hit counter would take the test's claim for an interrupted flush and
/// finish it between the test's parts.
#[tokio::test]
async fn a_flush_of_many_hit_counts_is_counted_whole_and_once() {
    use zhanggui::replies::store::{add_hits, hits_cursor};
    let db = fresh_db().await;
    let count = |sql: &'static str| scalar(&db, sql);
    let hits = many_hit_counts(2_501);
    let expected: i64 = hits.iter().map(|h| h.hits).sum();
    let total = || count("SELECT CAST(SUM(hits) AS BIGINT) FROM reply_hits");
    let (at, flushing) = hits_cursor(&db).await.expect("cursor");
    assert_eq!(flushing, None);

    let (first, rest) = hits.split_at(1_000);
    assert!(add_hits(&db, at, at + 1, first, false).await.expect("part"));
    assert_eq!(
        hits_cursor(&db).await.expect("cursor"),
        (at, Some(at + 1)),
        "claimed, not moved"
    );
    assert!(
        add_hits(&db, at, at + 1, first, false)
            .await
            .expect("the same part again")
    );
    assert!(
        add_hits(&db, at, at + 1, rest, true)
            .await
            .expect("last part")
    );
    assert_eq!(hits_cursor(&db).await.expect("cursor"), (at + 1, None));
    assert_eq!(count("SELECT COUNT(*) FROM reply_hits").await, 2_501);
    assert_eq!(total().await, expected);

    // The next flush claims (at+1, at+2]; one of (at+1, at+3] must wait for it to end.
    assert!(
        add_hits(&db, at + 1, at + 2, first, false)
            .await
            .expect("part")
    );
    assert!(
        !add_hits(&db, at + 1, at + 3, rest, true)
            .await
            .expect("a lost claim is not an error")
    );
    assert_eq!(
        total().await,
        expected + first.iter().map(|h| h.hits).sum::<i64>()
    );
    assert!(
        add_hits(&db, at + 1, at + 2, rest, true)
            .await
            .expect("last part")
    );
    assert_eq!(hits_cursor(&db).await.expect("cursor"), (at + 2, None));
    assert_eq!(total().await, 2 * expected);
}

/// An INSERT of log rows answered by rules `from..from + rules` (one row each; `batch` keeps
/// their dedup keys apart from other batches').
fn rule_hits_logged(batch: &str, from: i64, rules: i64) -> String {
    let rows: Vec<String> = (from..from + rules)
        .map(|r| {
            format!(
                "(1, 2, '{batch}-{r}', 'oHits', 'text', 1764547200000, 1764547200000, '', '', \
                 'rule:{r}:0:关键词{r}')"
            )
        })
        .collect();
    format!(
        "INSERT INTO wx_messages (merchant_id, account_id, dedup_key, openid, kind, sent_at, \
         received_at, body, reply, route) VALUES {}",
        rows.join(", ")
    )
}

/// An instance whose counts already went past the end of a flush another instance claimed
/// and left unfinished (it stopped) finishes that flush: it counts again up to the claimed
/// end, instead of waiting forever for a flush that will not come.
#[tokio::test]
async fn a_flush_left_unfinished_is_finished_by_an_instance_that_counted_past_it() {
    use zhanggui::replies::hits::{FLUSH_AFTER_MS, Tally, tally_once};
    use zhanggui::replies::store::{add_hits, hits_cursor};
    let db = fresh_db().await;
    exec(&db, &rule_hits_logged("a", 0, 1_500)).await;
    let claimed_upto = scalar(&db, "SELECT MAX(id) FROM wx_messages").await;
    exec(&db, &rule_hits_logged("b", 1_500, 10)).await;
    let (cursor, _) = hits_cursor(&db).await.expect("cursor");
    let now = 1_764_547_300_000;

    let mut live = Tally::default();
    tally_once(&db, None, &mut live, now, 100_000)
        .await
        .expect("count everything");
    // The other instance counted the first 1,500 rows, wrote a part and stopped.
    let mut stopped = Tally::default();
    tally_once(&db, None, &mut stopped, now, 1_500)
        .await
        .expect("count");
    assert!(
        add_hits(&db, cursor, claimed_upto, &stopped.rows()[..1_000], false)
            .await
            .expect("part")
    );

    let step = tally_once(&db, None, &mut live, now + FLUSH_AFTER_MS, 100_000)
        .await
        .expect("finish");
    assert_eq!(step.flushed, Some(claimed_upto));
    assert_eq!(
        hits_cursor(&db).await.expect("cursor"),
        (claimed_upto, None)
    );
    let counted = || scalar(&db, "SELECT CAST(SUM(hits) AS BIGINT) FROM reply_hits");
    assert_eq!(counted().await, 1_500);
    tally_once(&db, None, &mut live, now + 2 * FLUSH_AFTER_MS, 100_000)
        .await
        .expect("count the rest");
    tally_once(&db, None, &mut live, now + 3 * FLUSH_AFTER_MS, 100_000)
        .await
        .expect("write the rest");
    assert_eq!(counted().await, 1_510);
    db.close().await;
}

/// Counts the whole log (hits on 1,500 rules) as a flush would, then writes only the first
/// 1,000 counts, as a flush that stopped after its first part; the end the flush claimed.
async fn interrupt_a_flush_of_1_500_rules(db: &zhanggui::platform::db::Db, now: i64) -> i64 {
    use zhanggui::replies::hits::{Tally, tally_once};
    use zhanggui::replies::store::{add_hits, hits_cursor};
    let claimed_upto = scalar(db, "SELECT MAX(id) FROM wx_messages").await;
    let (cursor, _) = hits_cursor(db).await.expect("cursor");
    let mut tally = Tally::default();
    tally_once(db, None, &mut tally, now, 100_000)
        .await
        .expect("count");
    let rows = tally.rows();
    assert_eq!(rows.len(), 1_500);
    assert!(
        add_hits(db, cursor, claimed_upto, &rows[..1_000], false)
            .await
            .expect("part")
    );
    claimed_upto
}

/// Counting hits from the log, a flush interrupted between its transactions (here: after
/// its first part, then the process "restarted" with nothing in memory) is finished by the
/// next tally, which counts exactly the claimed range again: every hit counted once, and
/// what was logged after the claimed range waits for the next flush.
#[tokio::test]
async fn an_interrupted_flush_of_hits_is_finished_without_counting_twice() {
    use zhanggui::replies::hits::{FLUSH_AFTER_MS, Tally, tally_once};
    use zhanggui::replies::store::hits_cursor;
    let db = fresh_db().await;
    exec(&db, &rule_hits_logged("a", 0, 1_500)).await;
    exec(&db, &rule_hits_logged("b", 0, 700)).await; // rules 0..700 hit twice
    let now = 1_764_547_300_000;
    let claimed_upto = interrupt_a_flush_of_1_500_rules(&db, now).await;
    exec(&db, &rule_hits_logged("c", 1_500, 10)).await; // logged after the claimed range

    let mut restarted = Tally::default();
    let step = tally_once(&db, None, &mut restarted, now, 100_000)
        .await
        .expect("finish");
    assert_eq!(
        step.flushed,
        Some(claimed_upto),
        "the claimed range, not more"
    );
    assert!(step.more);
    assert_eq!(
        hits_cursor(&db).await.expect("cursor"),
        (claimed_upto, None)
    );
    let counted = || scalar(&db, "SELECT CAST(SUM(hits) AS BIGINT) FROM reply_hits");
    assert_eq!(counted().await, 2_200);
    assert_eq!(
        scalar(&db, "SELECT hits FROM reply_hits WHERE rule_id = 3").await,
        2
    );

    // The rest is counted by the next flush, a second after it was read.
    tally_once(&db, None, &mut restarted, now, 100_000)
        .await
        .expect("count");
    assert_eq!(counted().await, 2_200, "not written before it is due");
    let step = tally_once(&db, None, &mut restarted, now + FLUSH_AFTER_MS, 100_000)
        .await
        .expect("flush");
    assert!(step.flushed.is_some());
    assert_eq!(counted().await, 2_210);
    db.close().await;
}

/// On PostgreSQL a writer whose batch has not committed holds back how far the log is
/// settled; an interrupted flush's rows were settled long before, and are counted anyway
/// (not taken for rows pruned since, which would end the flush with its second part lost).
#[tokio::test]
async fn an_interrupted_flush_is_finished_while_a_writer_holds_the_log_back() {
    use zhanggui::replies::hits::{Tally, tally_once};
    let db = fresh_db().await;
    let zhanggui::platform::db::Db::Postgres(pool) = &db else {
        return;
    };
    exec(&db, &rule_hits_logged("a", 0, 1_500)).await;
    let now = 1_764_547_300_000;
    let claimed_upto = interrupt_a_flush_of_1_500_rules(&db, now).await;

    let mut writer = pool.begin().await.expect("begin");
    sqlx::query(&rule_hits_logged("w", 1_500, 1))
        .execute(&mut *writer)
        .await
        .expect("a batch not yet committed");
    let mut restarted = Tally::default();
    let step = tally_once(&db, None, &mut restarted, now, 100_000)
        .await
        .expect("finish");
    assert_eq!(step.flushed, Some(claimed_upto));
    assert_eq!(
        scalar(&db, "SELECT CAST(SUM(hits) AS BIGINT) FROM reply_hits").await,
        1_500,
        "both parts of the flush"
    );
    writer.rollback().await.expect("rollback");
    db.close().await;
}

/// A pass is all or nothing, and ends by moving the cursor: when the cursor is no longer
/// where the pass began (another instance or a rebuild got there first), none of its texts,
/// hand-offs or further replies is written, and the database takes writes as before.
#[tokio::test]
async fn a_pass_whose_cursor_moved_on_writes_nothing() {
    use zhanggui::platform::jobs::NewJob;
    use zhanggui::replies::store::{Handoff, Pass, Unmatched, apply_pass};
    let f = fixture().await;
    let openid = "oPassWriter00000000000000001".to_string();
    let pass = Pass {
        unmatched: vec![Unmatched {
            merchant_id: f.merchant,
            account_id: f.account_id,
            hour: f.app.now() / 3_600_000,
            text: "几点关门".into(),
            messages: 2,
            last_at: f.app.now(),
        }],
        handoffs: vec![Handoff {
            merchant_id: f.merchant,
            account_id: f.account_id,
            openid: openid.clone(),
            requested_at: f.app.now(),
        }],
        follow_ups: vec![
            NewJob::new("test.never_registered", json!({ "n": 1 })).merchant(f.merchant),
        ],
    };
    let written = || async {
        [
            f.app
                .count("SELECT COUNT(*) FROM reply_unmatched_texts")
                .await,
            f.app.count("SELECT COUNT(*) FROM follower_handoffs").await,
            f.app
                .count("SELECT COUNT(*) FROM jobs WHERE kind = 'test.never_registered'")
                .await,
        ]
    };
    let at = f
        .app
        .count("SELECT last_id FROM log_projections WHERE name = 'replies'")
        .await;

    let moved = apply_pass(&f.app.db, at + 5, at + 6, &pass, f.app.now())
        .await
        .expect("a lost race is not an error");
    assert!(!moved);
    assert_eq!(written().await, [0, 0, 0]);
    assert_eq!(
        f.app
            .count("SELECT last_id FROM log_projections WHERE name = 'replies'")
            .await,
        at
    );

    // The failed pass left no transaction open: the next one (and any other write) goes through.
    let moved = apply_pass(&f.app.db, at, at + 1, &pass, f.app.now())
        .await
        .expect("pass");
    assert!(moved);
    assert_eq!(written().await, [1, 1, 1]);
    f.app.stop().await;
}
