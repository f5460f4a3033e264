//! Conversational flows through the real product, on SQLite and PostgreSQL: seed 003's
//! segmentation flow started by a keyword tags followers and keeps a profile field; the
//! conversation survives a restart (another instance picks it up); unexpected answers are
//! asked again; a retry of a message gets the same answer without moving on twice; an idle
//! follower leaves; flows in use cannot be deleted.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhanggui::platform::auth::model::Role;

fn reply_text(delivery: &Value) -> String {
    let reply = delivery["reply"].as_str().unwrap_or_default();
    reply
        .split("<Content><![CDATA[")
        .nth(1)
        .and_then(|s| s.split("]]>").next())
        .unwrap_or(if reply == "success" { "success" } else { "" })
        .to_string()
}

async fn say(app: &TestApp, app_id: &str, openid: &str, text: &str) -> String {
    reply_text(
        &sandbox_act(
            app,
            app_id,
            openid,
            json!({"type": "text", "content": text}),
        )
        .await,
    )
}

fn segmentation(customer: i64, not_customer: i64, o2o: i64) -> Value {
    json!({
        "name": "客户分类",
        "idle_minutes": 30,
        "intro": "花 10 秒回答两个问题。",
        "reask": "请回复选项前的字母，例如 A。",
        "done": "谢谢您的回答！",
        "steps": [
            {"question": "您是我们的客户吗？", "options": [
                {"label": "是", "tag_id": customer, "next": 2},
                {"label": "不是", "tag_id": not_customer, "reply": "欢迎了解我们！"}
            ]},
            {"question": "您做电商还是 O2O？", "options": [
                {"label": "电商", "next": 3},
                {"label": "O2O", "tag_id": o2o, "next": 3}
            ]},
            {"question": "您在哪个城市？", "field": "city"}
        ]
    })
}

#[tokio::test]
async fn the_segmentation_flow_tags_followers_and_survives_a_restart() {
    let url = fresh_db_url().await;
    let one = TestApp::spawn_on(&url).await;
    let m = one.merchant("问答商户").await;
    let (_, key) = one.api_key(m, "owner", Role::Owner).await;
    let account = one.account(m, "问答服务号").await;
    let mut tags = vec![];
    for name in ["老客户", "潜在客户", "O2O"] {
        tags.push(
            zhanggui::tags::create(one.state(), m, account.id, name)
                .await
                .expect("tag")
                .id,
        );
    }
    let k = one.key(&key);
    let (status, flow) = read_json(
        k.request(
            Method::POST,
            &format!("/api/v1/accounts/{}/flows", account.id),
        )
        .json(&segmentation(tags[0], tags[1], tags[2])),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{flow}");
    let (status, rule) = read_json(
        k.request(
            Method::POST,
            &format!("/api/v1/accounts/{}/reply-rules", account.id),
        )
        .json(&json!({
            "name": "分类问答",
            "keywords": [{"text": "分类", "mode": "exact"}],
            "replies": [{"type": "flow", "flow_id": flow["id"]}],
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{rule}");

    let follower = sandbox_follower(&one, &account.app_id).await;
    let opening = say(&one, &account.app_id, &follower, "分类").await;
    assert_eq!(
        opening,
        "花 10 秒回答两个问题。\n\n您是我们的客户吗？\nA. 是\nB. 不是"
    );
    let again = say(&one, &account.app_id, &follower, "你们几点开门").await;
    assert!(again.starts_with("请回复选项前的字母"), "{again}");
    assert!(again.ends_with("B. 不是"), "{again}");
    let second = say(&one, &account.app_id, &follower, "a").await;
    assert_eq!(second, "您做电商还是 O2O？\nA. 电商\nB. O2O");

    // The instance goes; another one (same database) answers the rest.
    one.stop().await;
    let two = TestApp::spawn_on(&url).await;
    exec(
        &two.db,
        &format!(
            "UPDATE sandbox_apps SET callback_url = '{}' WHERE app_id = '{}'",
            two.url(&format!("/wx/{}", account.callback_key)),
            account.app_id
        ),
    )
    .await;
    assert_eq!(
        say(&two, &account.app_id, &follower, "O2O").await,
        "您在哪个城市？"
    );
    assert_eq!(
        say(&two, &account.app_id, &follower, " 杭州 ").await,
        "谢谢您的回答！"
    );
    // Over: "a" is an ordinary message again (no rule, no default reply).
    assert_eq!(say(&two, &account.app_id, &follower, "a").await, "success");

    wait_until("the answers' tags and city are applied", 20, || async {
        let tagged = two
            .count(&format!(
                "SELECT COUNT(*) FROM follower_tags WHERE openid = '{follower}' AND tag_id IN ({}, {})",
                tags[0], tags[2]
            ))
            .await;
        let city = two
            .count(&format!(
                "SELECT COUNT(*) FROM followers WHERE openid = '{follower}' AND city = '杭州'"
            ))
            .await;
        tagged == 2 && city == 1
    })
    .await;
    let k = two.key(&key);
    let (_, detail) = read_json(k.request(
        Method::GET,
        &format!("/api/v1/accounts/{}/flows/{}", account.id, flow["id"]),
    ))
    .await;
    assert_eq!(detail["started"], 1, "{detail}");
    assert_eq!(detail["finished"], 1, "{detail}");
    let answers: Vec<(i64, String, i64)> =
        serde_json::from_value(detail["answers"].clone()).expect("answers");
    assert_eq!(
        answers,
        vec![
            (0, "A".into(), 1),
            (1, "B".into(), 1),
            (2, String::new(), 1)
        ]
    );

    // Flow answers are a segment condition: who chose B (O2O) at step 2, who never answered.
    let base = format!("/api/v1/accounts/{}/segments/preview", account.id);
    let count_of = |conditions: Value| {
        let k = two.key(&key);
        let base = base.clone();
        async move {
            let (status, out) = read_json(
                k.request(Method::POST, &base)
                    .json(&json!({"filter": {"combine": "all", "conditions": conditions}})),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{out}");
            (out["count"].as_i64().expect("count"), out["sample"].clone())
        }
    };
    let o2o = json!([{"field": "flow_answer", "flow_id": flow["id"], "step": 2, "choices": ["B"]}]);
    let (n, sample) = count_of(o2o).await;
    assert_eq!(n, 1);
    assert_eq!(sample[0]["openid"], follower.as_str());
    let commerce =
        json!([{"field": "flow_answer", "flow_id": flow["id"], "step": 2, "choices": ["A"]}]);
    assert_eq!(count_of(commerce).await.0, 0);
    let never = json!([{"field": "flow_answer", "flow_id": flow["id"], "answered": false}]);
    assert_eq!(count_of(never).await.0, 0);
    let (status, refused) = read_json(
        two.key(&key)
            .request(Method::POST, &base)
            .json(&json!({"filter": {"conditions": [
            {"field": "flow_answer", "flow_id": flow["id"], "choices": ["A"]}]}})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    // The follower's page lists what they answered, in words.
    two.user(m, "flow-owner", Role::Owner).await;
    let session = two.sign_in("flow-owner").await;
    let (status, page) = session
        .get(&format!("/followers/{follower}?account={}", account.id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"flow-answers\""), "{page}");
    assert!(page.contains("B O2O"), "the option's letter and label");
    assert!(page.contains("杭州"), "the free-text answer");
    assert!(
        page.contains("第 2 步 您做电商还是 O2O？"),
        "the step's question"
    );

    // A rule starts the flow: the flow cannot go while it does.
    let (status, refused) = read_json(k.request(
        Method::DELETE,
        &format!("/api/v1/accounts/{}/flows/{}", account.id, flow["id"]),
    ))
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(refused.to_string().contains("分类问答"), "{refused}");
    two.stop().await;
}

#[tokio::test]
async fn retries_get_the_same_answer_and_idle_followers_leave() {
    let app = TestApp::spawn().await;
    let m = app.merchant("问答商户").await;
    let account = app.account(m, "问答服务号").await;
    let input: zhanggui::flows::model::FlowInput =
        serde_json::from_value(segmentation(0, 0, 0)).expect("flow");
    let input = zhanggui::flows::model::FlowInput {
        steps: input
            .steps
            .into_iter()
            .map(|mut s| {
                for o in &mut s.options {
                    o.tag_id = None;
                }
                s
            })
            .collect(),
        ..input
    };
    let row = zhanggui::flows::create(&app.db, m, account.id, &input, app.now())
        .await
        .expect("flow");
    let flows = zhanggui::flows::enabled(&app.db, account.id)
        .await
        .expect("flows");
    let flow = flows.get(&row.id).expect("enabled").clone();
    let now = app.now();
    let who = |key: &'static str, now: i64| zhanggui::flows::Speaker {
        merchant_id: m,
        account_id: account.id,
        openid: "oFlowFollower",
        dedup_key: key,
        now,
    };
    zhanggui::flows::start(&app.db, &who("k0", now), &flow)
        .await
        .expect("start");
    let first = zhanggui::flows::answer(&app.db, &who("k1", now), &flows, "A")
        .await
        .expect("answer");
    let retry = zhanggui::flows::answer(&app.db, &who("k1", now), &flows, "A")
        .await
        .expect("retry");
    assert_eq!(first, retry, "a retry gets the same answer");
    assert_eq!(app.count("SELECT COUNT(*) FROM flow_answers").await, 1);
    // Past the idle time the follower is out of the flow.
    let later = now + 31 * 60_000;
    assert_eq!(
        zhanggui::flows::answer(&app.db, &who("k2", later), &flows, "A")
            .await
            .expect("idle"),
        None
    );
    app.stop().await;
}

#[tokio::test]
async fn broken_flows_are_refused_field_by_field() {
    let app = TestApp::spawn().await;
    let m = app.merchant("问答商户").await;
    let (_, key) = app.api_key(m, "owner", Role::Owner).await;
    let account = app.account(m, "问答服务号").await;
    let k = app.key(&key);
    let (status, err) = read_json(
        k.request(
            Method::POST,
            &format!("/api/v1/accounts/{}/flows", account.id),
        )
        .json(&json!({
            "name": "坏问答",
            "steps": [
                {"question": "?", "options": [{"label": "是", "next": 5, "tag_id": 999}]},
                {"question": "", "options": [{"label": "x"}]}
            ]
        })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
    let fields = &err["error"]["fields"];
    assert!(fields.get("steps.0.options.0.next").is_some(), "{err}");
    assert!(fields.get("steps.1.question").is_some(), "{err}");
    assert_eq!(app.count("SELECT COUNT(*) FROM flows").await, 0);
    app.stop().await;
}
