//! Two instances on one database, as behind a load balancer: nothing one instance needs from
//! the other lives in memory only. Runs on PostgreSQL with `ZG_TEST_DATABASE_URL`, and on
//! SQLite as two pools on one file.

mod common;

use common::*;
use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::json;
use zhanggui::platform::auth::model::Role;
use zhanggui::platform::jobs::JobStatus;

#[tokio::test]
async fn sessions_data_and_sign_out_span_instances() {
    let url = fresh_db_url().await;
    let one = TestApp::spawn_on(&url).await;
    let two = TestApp::spawn_on(&url).await;
    assert_ne!(one.addr, two.addr);
    let m = one.merchant("双实例商户").await;
    one.user(m, "owner", Role::Owner).await;

    // Signed in on instance one, the same cookie works on instance two.
    let on_one = one.sign_in("owner").await;
    let token = on_one.token().expect("a session cookie");
    let on_two = on_one.at(&two);
    let (status, page) = on_two.get("/accounts").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("双实例商户"));
    let bare = two.client();
    let (status, _) = read(
        bare.get(two.url("/api/v1/dashboard"))
            .header(COOKIE, format!("zg_session={token}")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the bare cookie, nothing else");

    // Created through instance two (with the CSRF token instance one's page gave), seen
    // through instance one, and its sandbox registration works from either.
    let (status, created) = read_json(on_two.request(Method::POST, "/api/v1/accounts").json(
        &json!({
            "name": "二号实例建的号", "kind": "service", "verified": true, "app_id": "",
            "security_mode": "safe", "sandbox": true
        }),
    ))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["account"]["id"].as_i64().expect("id");
    let (status, got) =
        read_json(on_one.request(Method::GET, &format!("/api/v1/accounts/{id}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["name"], "二号实例建的号");
    let (_, page) = on_one.get("/accounts").await;
    assert!(page.contains("二号实例建的号"));
    for s in [&on_one, &on_two] {
        let (status, t) = read_json(s.request(
            Method::POST,
            &format!("/api/v1/accounts/{id}/test-connection"),
        ))
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(t["ok"], true, "{t}");
    }

    // An API key made on one works on two.
    let (status, key) = read_json(
        on_one
            .request(Method::POST, "/api/v1/api-keys")
            .json(&json!({"name": "shared", "role": "operator"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let key = two.key(key["key"].as_str().expect("key"));
    let (status, list) = read_json(key.request(Method::GET, "/api/v1/accounts")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));

    // A job that died under instance one's workers is retried through instance two.
    let job = one.dead_job(m, "nobody.handles.this").await;
    let (status, _) = read(key.request(Method::POST, &format!("/api/v1/jobs/{job}/retry"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let db = one.db.clone();
    wait_until("the retried job is dead again", 20, || {
        let db = db.clone();
        async move {
            let j = zhanggui::platform::jobs::store::get(&db, None, job)
                .await
                .expect("read")
                .expect("job");
            j.status == JobStatus::Dead && j.attempts == 1
        }
    })
    .await;

    // Signing out on two ends the session on one.
    let (status, _) = on_two.post_form("/logout", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = read(
        one.client()
            .get(one.url("/api/v1/dashboard"))
            .header(COOKIE, format!("zg_session={token}")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    two.stop().await;
    one.stop().await;
}

#[tokio::test]
async fn lock_outs_and_password_changes_hold_on_every_instance() {
    let url = fresh_db_url().await;
    let one = TestApp::spawn_on(&url).await;
    let two = TestApp::spawn_on(&url).await;
    let m = one.merchant("M").await;
    two.user(m, "clerk", Role::Clerk).await;

    // Failures counted on both instances add up to one lock.
    let (client, _) = one.browser();
    for app in [&one, &two, &one, &two] {
        let (status, _) = app
            .login_attempt(&client, "clerk", "wrong-password", &[])
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (_, body) = two
        .login_attempt(&client, "clerk", "wrong-password", &[])
        .await;
    assert!(body.contains("账号已锁定"), "{body}");
    let (status, body) = one.login_attempt(&client, "clerk", PASSWORD, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("账号已锁定"),
        "locked on the other instance too: {body}"
    );
    // The lock ends by the database's record, whichever clock reads it.
    one.clock.advance(16 * 60 * 1000);
    let a = one.sign_in("clerk").await;
    let b = two.sign_in("clerk").await;

    // A password changed on one signs out the session held on two.
    let (status, _) = a
        .post_form(
            "/password",
            &[
                ("current", PASSWORD),
                ("new", "a-new-password"),
                ("confirm", "a-new-password"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = read(b.request(Method::GET, "/api/v1/dashboard")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    two.sign_in_with("clerk", "a-new-password").await;
    one.stop().await;
    two.stop().await;
}
