//! The product's WeChat API client against the emulated WeChat, as it would run against the
//! real one: the shared token survives WeChat expiring it, and WeChat's refusals (45009 daily
//! quota, 48001 no right) come back at once, without retries or refresh loops.

mod common;

use common::{TestApp, read_json};
use reqwest::Method;
use serde_json::{Value, json};
use wechat::api::{ApiError, Done};
use zhanggui::platform::auth::model::Role;

async fn put_faults(app: &TestApp, app_id: &str, faults: Value) {
    let res = app
        .client()
        .put(app.url(&format!("/sandbox/api/apps/{app_id}/faults")))
        .json(&faults)
        .send()
        .await
        .expect("faults");
    assert!(res.status().is_success(), "{:?}", res.text().await);
}

async fn sandbox_post(app: &TestApp, path: &str) -> Value {
    app.client()
        .post(app.url(path))
        .json(&json!({}))
        .send()
        .await
        .expect("sandbox")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn the_shared_token_is_replaced_when_wechat_expires_it() {
    let app = TestApp::spawn().await;
    let m = app.merchant("令牌商户").await;
    let account = app.account(m, "令牌服务号").await;
    let tokens = zhanggui::accounts::tokens::cache_of(app.state(), &account);
    let body = json!({"appid": account.app_id});
    let first = tokens.token().await.expect("a token");
    tokens
        .post::<_, Done>("clear_quota", "/cgi-bin/clear_quota", &body)
        .await
        .expect("a call with the first token");

    let expired = sandbox_post(
        &app,
        &format!("/sandbox/api/apps/{}/faults/expire-tokens", account.app_id),
    )
    .await;
    assert_eq!(expired["expired"], 1, "{expired}");
    tokens
        .post::<_, Done>("clear_quota", "/cgi-bin/clear_quota", &body)
        .await
        .expect("42001, a new token, and the call again");
    let second = tokens.token().await.expect("a token");
    assert_ne!(first, second, "the expired token was replaced");
}

#[tokio::test]
async fn wechats_refusals_come_back_without_retries() {
    let app = TestApp::spawn().await;
    let m = app.merchant("配额商户").await;
    let account = app.account(m, "配额服务号").await;
    let tokens = zhanggui::accounts::tokens::cache_of(app.state(), &account);
    let body = json!({"appid": account.app_id});
    let token = tokens.token().await.expect("a token");

    put_faults(
        &app,
        &account.app_id,
        json!({"errors": [{"endpoint": "/cgi-bin/clear_quota", "rate": 1.0, "errcode": 45009}]}),
    )
    .await;
    let refused = tokens
        .post::<_, Done>("clear_quota", "/cgi-bin/clear_quota", &body)
        .await;
    assert!(
        matches!(refused, Err(ApiError::WeChat { errcode: 45009, .. })),
        "{refused:?}"
    );
    assert_eq!(
        tokens.token().await.expect("a token"),
        token,
        "a quota error does not cost the token"
    );

    put_faults(
        &app,
        &account.app_id,
        json!({"errors": [{"endpoint": "/cgi-bin/clear_quota", "rate": 1.0, "http_status": 502}]}),
    )
    .await;
    let broken = tokens
        .post::<_, Done>("clear_quota", "/cgi-bin/clear_quota", &body)
        .await;
    assert!(matches!(broken, Err(ApiError::Protocol(_))), "{broken:?}");

    put_faults(&app, &account.app_id, json!({"latency_ms": 0})).await;
    tokens
        .post::<_, Done>("clear_quota", "/cgi-bin/clear_quota", &body)
        .await
        .expect("healthy again");
}

#[tokio::test]
async fn media_larger_than_a_console_form_reach_the_sandbox() {
    let app = TestApp::spawn().await;
    let m = app.merchant("素材商户").await;
    let account = app.account(m, "素材服务号").await;
    let tokens = zhanggui::accounts::tokens::cache_of(app.state(), &account);
    let token = tokens.token().await.expect("a token");
    // 3 MB: over the console's 1 MB request limit, under WeChat's 10 MB for images.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(3 * 1024 * 1024, 0);
    let form = reqwest::multipart::Form::new().part(
        "media",
        reqwest::multipart::Part::bytes(png)
            .file_name("cover.png")
            .mime_str("image/png")
            .expect("mime"),
    );
    let answer: Value = app
        .client()
        .post(app.url(&format!(
            "/sandbox/cgi-bin/media/upload?access_token={token}&type=image"
        )))
        .multipart(form)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["type"], "image", "{answer}");
    assert!(answer["media_id"].as_str().is_some_and(|id| !id.is_empty()));
}

/// In live mode the instance faces the internet: the emulated WeChat's control API (its
/// simulated followers, faults, tokens) answers only the console's staff and API keys, each
/// for their own merchant's sandbox apps, and a session's changes carry its CSRF token.
/// WeChat's own paths keep authenticating by WeChat's rules.
#[tokio::test]
async fn in_live_mode_the_control_api_takes_the_consoles_credentials() {
    let app = TestApp::spawn_with(|c| c.mode = zhanggui::platform::config::Mode::Live).await;
    let m = app.merchant("沙箱商户").await;
    let a = app.account(m, "沙箱服务号").await;
    let other = app.merchant("别家商户").await;
    let theirs = app.account(other, "别家服务号").await;
    app.user(m, "boss", Role::Owner).await;
    app.user(m, "agent", Role::Agent).await;
    app.user(other, "neighbour", Role::Owner).await;
    let followers = format!("/sandbox/api/apps/{}/followers", a.app_id);
    let faults = format!("/sandbox/api/apps/{}/faults", a.app_id);

    // Nobody signed in: refused, and nothing was made.
    let anonymous = app.client();
    let res = anonymous
        .post(app.url(&followers))
        .json(&json!({"count": 1}))
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 401);
    let res = anonymous
        .put(app.url(&faults))
        .json(&json!({"latency_ms": 1000}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 401);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sandbox_docs WHERE kind = 'follower'")
            .await,
        0
    );

    // The merchant's owner, from the console: with the session's CSRF token, and not without.
    let boss = app.sign_in("boss").await;
    let (status, body) = read_json(
        boss.raw(Method::POST, &followers)
            .header("x-csrf-token", &boss.csrf)
            .json(&json!({"count": 2})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = read_json(
        boss.raw(Method::POST, &followers)
            .json(&json!({"count": 1})),
    )
    .await;
    assert_eq!(status, 403, "a change without the CSRF token");
    let (status, listed) = read_json(boss.raw(Method::GET, &followers)).await;
    assert_eq!(status, 200, "{listed}");
    let (status, body) = read_json(
        boss.raw(Method::PUT, &faults)
            .header("x-csrf-token", &boss.csrf)
            .json(&json!({"latency_ms": 0})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sandbox_docs WHERE kind = 'follower'")
            .await,
        2
    );

    // Another merchant's sandbox app is as unknown as one that does not exist.
    let (status, _) = read_json(boss.raw(
        Method::GET,
        &format!("/sandbox/api/apps/{}/followers", theirs.app_id),
    ))
    .await;
    assert_eq!(status, 404);
    let neighbour = app.sign_in("neighbour").await;
    let (status, _) = read_json(neighbour.raw(Method::GET, &followers)).await;
    assert_eq!(status, 404);

    // A role that may not see the accounts may not drive their followers either.
    let agent = app.sign_in("agent").await;
    let (status, _) = read_json(agent.raw(Method::GET, &followers)).await;
    assert_eq!(status, 403);

    // An integrator's API key of the merchant.
    let (_, key) = app.api_key(m, "脚本", Role::Owner).await;
    let (status, body) = read_json(
        app.client()
            .post(app.url(&followers))
            .bearer_auth(&key)
            .json(&json!({"count": 1})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sandbox_docs WHERE kind = 'follower'")
            .await,
        3
    );

    // WeChat's own API: the app's credentials, no console's.
    let (status, token) = read_json(anonymous.get(app.url(&format!(
        "/sandbox/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        a.app_id, a.app_secret
    ))))
    .await;
    assert_eq!(status, 200, "{token}");
    assert!(token["access_token"].is_string(), "{token}");
    app.stop().await;
}
