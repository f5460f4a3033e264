//! The console's page of the emulated WeChat (`/wechat-sandbox`): the server-settings check,
//! today's API calls, and fault knobs that really change how the sandbox answers.

mod common;

use common::TestApp;
use reqwest::StatusCode;
use serde_json::Value;
use zhanggui::platform::auth::model::Role;

async fn sandbox_json(app: &TestApp, path: &str) -> Value {
    app.client()
        .get(app.url(path))
        .send()
        .await
        .expect("sandbox")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn the_sandbox_page_checks_counts_and_sets_fault_knobs() {
    let app = TestApp::spawn().await;
    let m = app.merchant("模拟微信商户").await;
    let account = app.account(m, "模拟服务号").await;
    app.user(m, "owner", Role::Owner).await;
    app.user(m, "clerk", Role::Clerk).await;
    let owner = app.sign_in("owner").await;

    // A token fetch shows in today's calls.
    let tokens = zhanggui::accounts::tokens::cache_of(app.state(), &account);
    tokens.token().await.expect("a token");
    let (status, page) = owner.get("/wechat-sandbox").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(&account.app_id),
        "the current sandbox account"
    );
    assert!(
        page.contains("/cgi-bin/token"),
        "today's calls list the token fetch"
    );

    let (status, page) = owner.post_form("/wechat-sandbox/check", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("服务器配置校验通过"), "{page}");

    let (status, _) = owner
        .post_form(
            "/wechat-sandbox/faults",
            &[
                ("latency_ms", "0"),
                ("endpoint", "/cgi-bin/menu/create"),
                ("rate", "100"),
                ("kind", "45009"),
                ("endpoint", "*"),
                ("rate", "25"),
                ("kind", "http:503"),
                ("endpoint", ""),
                ("rate", ""),
                ("kind", "-1"),
            ],
        )
        .await;
    assert!(status.is_redirection(), "{status}");
    let faults = sandbox_json(
        &app,
        &format!("/sandbox/api/apps/{}/faults", account.app_id),
    )
    .await;
    assert_eq!(
        faults["errors"][0]["endpoint"], "/cgi-bin/menu/create",
        "{faults}"
    );
    assert_eq!(faults["errors"][0]["errcode"], 45009);
    assert_eq!(faults["errors"][1]["http_status"], 503);
    assert_eq!(faults["errors"].as_array().map(Vec::len), Some(2));

    // Nonsense is refused with a message, and the knobs stay as they were.
    let (status, page) = owner
        .post_form(
            "/wechat-sandbox/faults",
            &[
                ("latency_ms", "soon"),
                ("endpoint", "*"),
                ("rate", "5"),
                ("kind", "-1"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("故障设置有误"), "{page}");
    let again = sandbox_json(
        &app,
        &format!("/sandbox/api/apps/{}/faults", account.app_id),
    )
    .await;
    assert_eq!(again, faults);

    // Expiring the tokens makes the product fetch a new one (with the faults cleared).
    let (status, _) = owner
        .post_form("/wechat-sandbox/faults", &[("latency_ms", "0")])
        .await;
    assert!(status.is_redirection());
    let cleared = sandbox_json(
        &app,
        &format!("/sandbox/api/apps/{}/faults", account.app_id),
    )
    .await;
    assert_eq!(
        cleared["errors"].as_array().map(Vec::len),
        Some(0),
        "{cleared}"
    );
    let before = tokens.token().await.expect("token");
    let (status, _) = owner.post_form("/wechat-sandbox/expire-tokens", &[]).await;
    assert!(status.is_redirection());
    tokens
        .post::<_, wechat::api::Done>(
            "clear_quota",
            "/cgi-bin/clear_quota",
            &serde_json::json!({"appid": account.app_id}),
        )
        .await
        .expect("42001, then a new token");
    assert_ne!(tokens.token().await.expect("token"), before);

    // A clerk may not see it.
    let clerk = app.sign_in("clerk").await;
    let (status, _) = clerk.get("/wechat-sandbox").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
