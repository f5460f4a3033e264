//! Simulated followers of the sandbox talk to the product's callback as WeChat does.

mod common;

use common::TestApp;
use serde_json::{Value, json};
use zhanggui::accounts::model::RepliesInput;

async fn post_json(app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let res = app
        .client()
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn followers_message_the_callback_and_read_the_replies() {
    let app = TestApp::spawn().await;
    let m = app.merchant("沙箱粉丝商户").await;
    let a = app.account(m, "沙箱服务号").await; // safe mode: every message is encrypted
    zhanggui::accounts::set_replies(
        &app.db,
        m,
        a.id,
        &RepliesInput {
            welcome_text: "欢迎！".into(),
            default_reply_text: "收到".into(),
        },
        app.now(),
    )
    .await
    .expect("replies");

    let (status, made) = post_json(
        &app,
        &format!("/sandbox/api/apps/{}/followers", a.app_id),
        json!({"count": 3}),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let openids: Vec<String> = serde_json::from_value(made["openids"].clone()).expect("openids");
    assert_eq!(openids.len(), 3);
    let o = &openids[0];
    assert!(o.starts_with('o') && o.len() == 28);

    let act = |body: Value| {
        let path = format!("/sandbox/api/apps/{}/followers/{o}/actions", a.app_id);
        let app = &app;
        async move { post_json(app, &path, body).await }
    };
    let (status, d) = act(json!({"type": "follow", "scene": "poster"})).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["attempts"], 1);
    assert!(
        d["reply"].as_str().is_some_and(|r| r.contains("欢迎！")),
        "{d}"
    );

    let (_, d) = act(json!({"type": "text", "content": "你好"})).await;
    assert!(
        d["reply"].as_str().is_some_and(|r| r.contains("收到")),
        "{d}"
    );

    let (_, d) = act(json!({"type": "click", "key": "MENU_1"})).await;
    assert_eq!(d["reply"], "success");

    // Everything the followers did is in the product's log.
    assert_eq!(app.count("SELECT COUNT(*) FROM wx_messages").await, 3);

    // WeChat's errors for what it does not know.
    let (status, e) = post_json(
        &app,
        &format!("/sandbox/api/apps/{}/followers/oNobody/actions", a.app_id),
        json!({"type": "unfollow"}),
    )
    .await;
    assert_eq!((status, e["errcode"].as_i64()), (404, Some(40003)));
    let (status, e) = post_json(
        &app,
        "/sandbox/api/apps/wx0000000000000000/followers",
        json!({"count": 1}),
    )
    .await;
    assert_eq!((status, e["errcode"].as_i64()), (404, Some(40013)));
    app.stop().await;
}

#[tokio::test]
async fn followers_come_in_bulk() {
    let app = TestApp::spawn().await;
    let m = app.merchant("批量商户").await;
    let a = app.account(m, "批量号").await;
    let started = std::time::Instant::now();
    let (status, made) = post_json(
        &app,
        &format!("/sandbox/api/apps/{}/followers", a.app_id),
        json!({"count": 20000}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(made["openids"].as_array().map(Vec::len), Some(20000));
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sandbox_docs WHERE kind = 'follower'")
            .await,
        20000
    );
    assert!(
        started.elapsed().as_secs() < 30,
        "took {:?}",
        started.elapsed()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_dead_callback_is_tried_three_times() {
    let app = TestApp::spawn().await;
    let m = app.merchant("断线商户").await;
    let a = app.account(m, "断线号").await;
    // Point WeChat's record of the callback at a port where nothing listens.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    app.exec(&format!(
        "UPDATE sandbox_apps SET callback_url = 'http://127.0.0.1:{port}/wx/x' WHERE app_id = '{}'",
        a.app_id
    ))
    .await;
    let (_, made) = post_json(
        &app,
        &format!("/sandbox/api/apps/{}/followers", a.app_id),
        json!({"count": 1}),
    )
    .await;
    let o = made["openids"][0].as_str().expect("openid").to_string();
    let (status, d) = post_json(
        &app,
        &format!("/sandbox/api/apps/{}/followers/{o}/actions", a.app_id),
        json!({"type": "text", "content": "在吗"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(d["attempts"], 3);
    assert!(d["reply"].is_null() && d["error"].is_string(), "{d}");
    app.stop().await;
}

#[tokio::test]
async fn the_phone_simulator_serves_sandbox_accounts_only() {
    use zhanggui::platform::auth::model::Role;
    let app = TestApp::spawn().await;
    let m = app.merchant("模拟器商户").await;
    let a = app.account(m, "模拟器号").await;
    app.user(m, "laoban", Role::Owner).await;
    let owner = app.sign_in("laoban").await;
    let (status, html) = owner.get("/simulator").await;
    assert_eq!(status.as_u16(), 200);
    assert!(
        html.contains(&format!("data-app=\"{}\"", a.app_id)),
        "the phone is wired to the account"
    );
    assert!(html.contains("/assets/simulator.js"));

    // A real (non-sandbox) account has no simulated followers: the page says why.
    app.exec(&format!(
        "UPDATE accounts SET sandbox = {} WHERE id = {}",
        if common::on_postgres() { "FALSE" } else { "0" },
        a.id
    ))
    .await;
    let (status, html) = owner.get("/simulator").await;
    assert_eq!(status.as_u16(), 200);
    assert!(!html.contains("data-app=") && html.contains("empty"));

    app.user(m, "dianyuan2", Role::Clerk).await;
    let clerk = app.sign_in("dianyuan2").await;
    assert_eq!(clerk.get("/simulator").await.0.as_u16(), 403);
    app.stop().await;
}
