//! The product driven through the emulated WeChat: the server-settings handshake, every
//! message type and menu event delivered and logged, and a delivery WeChat retries because our
//! answer came too late — answered twice with the same reply, logged once.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::routing::post;
use common::TestApp;
use serde_json::{Value, json};

async fn post_json(app: &TestApp, path: &str, body: Value) -> Value {
    app.client()
        .post(app.url(path))
        .json(&body)
        .send()
        .await
        .expect("request")
        .json()
        .await
        .unwrap_or(Value::Null)
}

async fn one_follower(app: &TestApp, app_id: &str) -> String {
    let made = post_json(
        app,
        &format!("/sandbox/api/apps/{app_id}/followers"),
        json!({"count": 1}),
    )
    .await;
    made["openids"][0].as_str().expect("openid").to_string()
}

#[tokio::test]
async fn wechat_accepts_the_server_settings_only_with_the_right_token() {
    let app = TestApp::spawn().await;
    let m = app.merchant("握手商户").await;
    let account = app.account(m, "握手服务号").await; // safe mode: the GET is plaintext anyway
    let path = format!("/sandbox/api/apps/{}/server-check", account.app_id);
    let check = post_json(&app, &path, json!({})).await;
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["status"], 200);

    // The merchant pasted a different Token into WeChat than the one we have.
    app.exec(&format!(
        "UPDATE sandbox_apps SET token = 'SomethingElse123' WHERE app_id = '{}'",
        account.app_id
    ))
    .await;
    let check = post_json(&app, &path, json!({})).await;
    assert_eq!(check["ok"], false, "{check}");
    assert!(
        check["error"].as_str().is_some_and(|e| e.contains("token")),
        "{check}"
    );
}

#[tokio::test]
async fn every_message_type_and_menu_event_is_delivered_and_logged() {
    let app = TestApp::spawn().await;
    let m = app.merchant("消息商户").await;
    let account = app.account(m, "消息服务号").await;
    zhanggui::accounts::set_replies(
        &app.db,
        m,
        account.id,
        &zhanggui::accounts::model::RepliesInput {
            welcome_text: "欢迎".into(),
            default_reply_text: "收到".into(),
        },
        app.now(),
    )
    .await
    .expect("replies");
    let openid = one_follower(&app, &account.app_id).await;
    let cases = [
        (json!({"type": "text", "content": "你好"}), "text"),
        (json!({"type": "image"}), "image"),
        (json!({"type": "voice", "recognition": "你好"}), "voice"),
        (json!({"type": "video"}), "video"),
        (json!({"type": "video", "short": true}), "shortvideo"),
        (
            json!({"type": "link", "title": "t", "url": "https://example.com"}),
            "link",
        ),
        (
            json!({"type": "send_location", "latitude": 31.2, "longitude": 121.5, "label": "上海"}),
            "location",
        ),
        (
            json!({"type": "location", "latitude": 31.2, "longitude": 121.5}),
            "event:location",
        ),
        (json!({"type": "click", "key": "MENU_A"}), "event:click"),
        (
            json!({"type": "view", "url": "https://example.com/h5"}),
            "event:view",
        ),
        (
            json!({"type": "scan_code", "key": "S", "scan_result": "X"}),
            "event:scancode_push",
        ),
        (
            json!({"type": "send_pictures", "key": "P", "count": 2}),
            "event:pic_photo_or_album",
        ),
        (
            json!({"type": "select_location", "key": "L", "latitude": 39.9, "longitude": 116.4}),
            "event:location_select",
        ),
        (
            json!({"type": "view_mini_program", "pagepath": "pages/index"}),
            "event:view_miniprogram",
        ),
        (json!({"type": "scan", "scene": "7"}), "event:scan"),
        (json!({"type": "unfollow"}), "event:unsubscribe"),
        (
            json!({"type": "follow", "scene": "poster"}),
            "event:subscribe",
        ),
    ];
    let path = format!(
        "/sandbox/api/apps/{}/followers/{openid}/actions",
        account.app_id
    );
    for (action, kind) in &cases {
        let got = post_json(&app, &path, action.clone()).await;
        assert_eq!(got["attempts"], 1, "{action}: {got}");
        assert_eq!(got["status"], 200, "{action}: {got}");
        let logged = app
            .count(&format!(
                "SELECT COUNT(*) FROM wx_messages WHERE openid = '{openid}' AND kind = '{kind}'"
            ))
            .await;
        assert!(logged >= 1, "{action} was not logged as {kind}");
        let reply = got["reply"].as_str().unwrap_or("");
        match *kind {
            "text" => assert!(reply.contains("收到"), "{reply}"),
            "event:subscribe" => assert!(reply.contains("欢迎"), "{reply}"),
            _ => assert!(
                !reply.contains("收到"),
                "{kind} answered with the text default"
            ),
        }
    }
}

/// Stands between WeChat and our callback: forwards every delivery, but holds our first
/// answer back for longer than WeChat waits, so WeChat delivers the message again.
#[derive(Clone)]
struct SlowFirstAnswer {
    target: String,
    http: reqwest::Client,
    seen: Arc<AtomicUsize>,
}

async fn relay(
    State(p): State<SlowFirstAnswer>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> (axum::http::StatusCode, String) {
    let n = p.seen.fetch_add(1, Ordering::SeqCst);
    let url = format!("{}?{}", p.target, query.unwrap_or_default());
    let answer = p
        .http
        .post(url)
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .expect("our callback answers");
    let status = answer.status();
    let text = answer.text().await.unwrap_or_default();
    if n == 0 {
        tokio::time::sleep(Duration::from_millis(5600)).await;
    }
    (status, text)
}

#[tokio::test]
async fn a_delivery_wechat_retries_is_answered_alike_and_logged_once() {
    let app = TestApp::spawn().await;
    let m = app.merchant("重试商户").await;
    let account = app.account(m, "重试服务号").await;
    zhanggui::accounts::set_replies(
        &app.db,
        m,
        account.id,
        &zhanggui::accounts::model::RepliesInput {
            welcome_text: "欢迎".into(),
            default_reply_text: "稍等，马上回复您".into(),
        },
        app.now(),
    )
    .await
    .expect("replies");
    let target = app
        .text(&format!(
            "SELECT callback_url FROM sandbox_apps WHERE app_id = '{}'",
            account.app_id
        ))
        .await;
    let proxy = SlowFirstAnswer {
        target,
        http: reqwest::Client::new(),
        seen: Arc::new(AtomicUsize::new(0)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = Router::new()
        .route("/wx", post(relay))
        .with_state(proxy.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    app.exec(&format!(
        "UPDATE sandbox_apps SET callback_url = 'http://{addr}/wx' WHERE app_id = '{}'",
        account.app_id
    ))
    .await;

    let openid = one_follower(&app, &account.app_id).await;
    let got = post_json(
        &app,
        &format!(
            "/sandbox/api/apps/{}/followers/{openid}/actions",
            account.app_id
        ),
        json!({"type": "text", "content": "在吗"}),
    )
    .await;
    assert_eq!(
        got["attempts"], 2,
        "WeChat gave up on the first answer: {got}"
    );
    assert!(
        got["reply"].as_str().is_some_and(|r| r.contains("稍等")),
        "{got}"
    );
    assert_eq!(proxy.seen.load(Ordering::SeqCst), 2);
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM wx_messages WHERE openid = '{openid}'"
        ))
        .await,
        1,
        "the retry is the same message"
    );
}
