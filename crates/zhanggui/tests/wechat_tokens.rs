//! The shared access-token cache: one fetch for every instance and task, invalidation only
//! of the failing token, one retry, and no refresh loop on errors a new token cannot fix.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use wechat::api::ApiError;
use wechat::token::{TokenCache, TokenStore};
use zhanggui::accounts::tokens::DbTokenStore;

/// A stand-in for WeChat: counts token fetches and rejects revoked tokens.
#[derive(Clone, Default)]
struct FakeWeChat {
    fetches: Arc<AtomicUsize>,
    revoked: Arc<Mutex<HashSet<String>>>,
}

async fn token(
    State(w): State<FakeWeChat>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    if q.get("secret").map(String::as_str) != Some("good-secret") {
        w.fetches.fetch_add(1, Ordering::SeqCst);
        return Json(json!({"errcode": 40125, "errmsg": "invalid appsecret"}));
    }
    // Slow enough that concurrent callers overlap.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let n = w.fetches.fetch_add(1, Ordering::SeqCst) + 1;
    Json(json!({"access_token": format!("T{n}"), "expires_in": 7200}))
}

async fn api(
    State(w): State<FakeWeChat>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let t = q.get("access_token").cloned().unwrap_or_default();
    let revoked = w.revoked.lock().map(|r| r.contains(&t)).unwrap_or(false);
    if revoked {
        Json(json!({"errcode": 40001, "errmsg": "invalid credential"}))
    } else {
        Json(json!({"errcode": 0, "errmsg": "ok", "token_seen": t}))
    }
}

async fn fake_wechat() -> (String, FakeWeChat) {
    let w = FakeWeChat::default();
    let app = Router::new()
        .route("/cgi-bin/token", get(token))
        .route("/cgi-bin/fake", get(api))
        .with_state(w.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), w)
}

fn cache(db: &zhanggui::platform::db::Db, base: &str, secret: &str) -> TokenCache {
    TokenCache::new(
        Arc::new(DbTokenStore::new(db.clone())),
        reqwest::Client::new(),
        base,
        "wx0000000000000001",
        secret,
    )
}

/// Calls the fake API with the token, as a real API call would.
async fn fake_call(base: String, token: String) -> Result<String, ApiError> {
    let v: Value = reqwest::get(format!("{base}/cgi-bin/fake?access_token={token}"))
        .await
        .map_err(|e| ApiError::Transport(e.to_string()))?
        .json()
        .await
        .map_err(|e| ApiError::Transport(e.to_string()))?;
    match v["errcode"].as_i64() {
        Some(0) => Ok(v["token_seen"].as_str().unwrap_or_default().to_string()),
        Some(code) => Err(ApiError::WeChat {
            errcode: code,
            errmsg: v["errmsg"].as_str().unwrap_or_default().to_string(),
        }),
        None => Err(ApiError::Protocol("no errcode".into())),
    }
}

#[tokio::test]
async fn two_instances_and_many_tasks_fetch_one_token() {
    let (base, w) = fake_wechat().await;
    let url = common::fresh_db_url().await;
    let one = Arc::new(cache(&common::connect(&url).await, &base, "good-secret"));
    let two = Arc::new(cache(&common::connect(&url).await, &base, "good-secret"));
    let mut tasks = vec![];
    for i in 0..20 {
        let c = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move { c.token().await }));
    }
    let mut seen = HashSet::new();
    for t in tasks {
        let token = tokio::time::timeout(Duration::from_secs(20), t)
            .await
            .expect("in time")
            .expect("task")
            .expect("token");
        seen.insert(token);
    }
    assert_eq!(seen.len(), 1, "every caller got the same token: {seen:?}");
    assert_eq!(w.fetches.load(Ordering::SeqCst), 1, "WeChat was asked once");
}

#[tokio::test]
async fn a_rejected_token_is_replaced_once_and_the_call_retried() {
    let (base, w) = fake_wechat().await;
    let db = common::fresh_db().await;
    let c = cache(&db, &base, "good-secret");
    let first = c.token().await.expect("token");
    assert_eq!(first, "T1");
    w.revoked.lock().expect("lock").insert("T1".into());
    let b = base.clone();
    let used = c
        .call("fake", move |t| fake_call(b.clone(), t))
        .await
        .expect("retried with a new token");
    assert_eq!(used, "T2");
    assert_eq!(w.fetches.load(Ordering::SeqCst), 2);

    // Another instance that still holds T1 and sees it fail must not wipe T2.
    let store = DbTokenStore::new(db.clone());
    store
        .invalidate("wx0000000000000001", "T1")
        .await
        .expect("invalidate");
    let kept = store
        .load("wx0000000000000001")
        .await
        .expect("load")
        .expect("token");
    assert_eq!(kept.access_token, "T2");

    // A token that keeps failing gets one retry, not a loop.
    w.revoked.lock().expect("lock").insert("T2".into());
    w.revoked.lock().expect("lock").insert("T3".into());
    let b = base.clone();
    let err = c
        .call("fake", move |t| fake_call(b.clone(), t))
        .await
        .expect_err("still failing");
    assert_eq!(err.errcode(), Some(40001));
    assert_eq!(w.fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn credential_errors_are_returned_without_a_refresh_loop() {
    let (base, w) = fake_wechat().await;
    let db = common::fresh_db().await;
    let c = cache(&db, &base, "wrong-secret");
    let err = c.token().await.expect_err("wrong secret");
    assert_eq!(err.errcode(), Some(40125));
    assert_eq!(w.fetches.load(Ordering::SeqCst), 1);
    // The lease was released: the next attempt asks again (once), it does not wait.
    let started = std::time::Instant::now();
    let err = c.token().await.expect_err("still wrong");
    assert_eq!(err.errcode(), Some(40125));
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(w.fetches.load(Ordering::SeqCst), 2);
}
