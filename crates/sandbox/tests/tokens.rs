//! Access tokens, daily quotas and fault knobs, as WeChat behaves.

mod common;

use axum::http::StatusCode;
use common::{Wx, errcode};
use serde_json::json;

const TOKEN_URL: &str = "/cgi-bin/token?grant_type=client_credential";

#[tokio::test]
async fn token_requests_are_checked_in_wechats_order() {
    let wx = Wx::new();
    let (status, v) = wx
        .get("/cgi-bin/token?grant_type=password&appid=wxservice")
        .await;
    assert_eq!((status, errcode(&v)), (StatusCode::OK, 40002), "{v}");
    assert_eq!(errcode(&wx.get(TOKEN_URL).await.1), 41002);
    let url = format!("{TOKEN_URL}&appid=wxservice");
    assert_eq!(errcode(&wx.get(&url).await.1), 41004);
    let url = format!("{TOKEN_URL}&appid=wxnobody&secret=x");
    assert_eq!(errcode(&wx.get(&url).await.1), 40013);
    let url = format!("{TOKEN_URL}&appid=wxservice&secret=wrong");
    let (_, v) = wx.get(&url).await;
    assert_eq!(errcode(&v), 40125);
    assert!(
        v["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid appsecret rid: "))
    );

    let url = format!("{TOKEN_URL}&appid=wxservice&secret=secret-of-wxservice");
    let (_, v) = wx.get(&url).await;
    assert_eq!(v["expires_in"], 7200, "{v}");
    assert!(v["access_token"].as_str().is_some_and(|t| t.len() >= 100));
    assert!(v.get("errcode").is_none(), "success has no errcode: {v}");
}

#[tokio::test]
async fn a_new_token_ends_the_old_one_after_five_minutes() {
    let wx = Wx::new();
    let first = wx.token("wxservice").await;
    let call = |t: String| {
        let wx = &wx;
        async move {
            let (_, v) = wx
                .post(
                    &format!("/cgi-bin/clear_quota?access_token={t}"),
                    &json!({"appid": "wxservice"}),
                )
                .await;
            errcode(&v)
        }
    };
    assert_eq!(call(first.clone()).await, 0);
    wx.advance_ms(60_000);
    let second = wx.token("wxservice").await;
    assert_ne!(first, second);
    assert_eq!(call(first.clone()).await, 0, "still inside the overlap");
    wx.advance_ms(5 * 60_000);
    assert_eq!(call(first.clone()).await, 42001, "the overlap is over");
    assert_eq!(call(second.clone()).await, 0);
    assert_eq!(call("not-a-token".into()).await, 40001);
    let (_, v) = wx
        .post("/cgi-bin/clear_quota", &json!({"appid": "wxservice"}))
        .await;
    assert_eq!(errcode(&v), 41001);
    wx.advance_ms(7200 * 1000);
    assert_eq!(call(second).await, 42001, "a token lives 7,200 s");
}

#[tokio::test]
async fn the_stable_token_stays_the_same_until_forced() {
    let wx = Wx::new();
    let body = json!({"grant_type": "client_credential", "appid": "wxsubscribe",
                      "secret": "secret-of-wxsubscribe"});
    let (_, a) = wx.post("/cgi-bin/stable_token", &body).await;
    wx.advance_ms(10_000);
    let (_, b) = wx.post("/cgi-bin/stable_token", &body).await;
    assert_eq!(a["access_token"], b["access_token"], "{a} {b}");
    assert_eq!(b["expires_in"], 7190);
    // The classic endpoint is isolated: its tokens do not replace the stable one.
    let classic = wx.token("wxsubscribe").await;
    assert_ne!(json!(classic), a["access_token"]);
    let (_, c) = wx.post("/cgi-bin/stable_token", &body).await;
    assert_eq!(c["access_token"], a["access_token"]);

    let mut forced = body.clone();
    forced["force_refresh"] = json!(true);
    let (_, d) = wx.post("/cgi-bin/stable_token", &forced).await;
    assert_ne!(d["access_token"], a["access_token"]);
    let old = a["access_token"].as_str().unwrap_or_default();
    let (_, v) = wx
        .post(
            &format!("/cgi-bin/clear_quota?access_token={old}"),
            &json!({"appid": "wxsubscribe"}),
        )
        .await;
    assert_eq!(errcode(&v), 42001, "forcing ends the old token at once");
    let (_, e) = wx.post("/cgi-bin/stable_token", &forced).await;
    assert_eq!(errcode(&e), 45011, "forced refreshes are 30 s apart: {e}");

    // Near its end (5 minutes left) a normal call gets a new token.
    wx.advance_ms(7200 * 1000 - 4 * 60_000);
    let (_, f) = wx.post("/cgi-bin/stable_token", &body).await;
    assert_ne!(f["access_token"], d["access_token"]);
    assert_eq!(f["expires_in"], 7200);
}

#[tokio::test]
async fn the_token_endpoint_has_a_daily_quota_that_clear_quota_resets() {
    let wx = Wx::new();
    for _ in 0..2000 {
        wx.token("wxunverifiedsvc").await;
    }
    let url = format!("{TOKEN_URL}&appid=wxunverifiedsvc&secret=secret-of-wxunverifiedsvc");
    assert_eq!(errcode(&wx.get(&url).await.1), 45009);
    // Other apps have their own quota.
    wx.token("wxservice").await;
    // The next Beijing day starts afresh.
    wx.advance_ms(24 * 3600 * 1000);
    assert!(wx.get(&url).await.1["access_token"].is_string());
}

#[tokio::test]
async fn fault_knobs_fail_delay_and_expire() {
    let wx = Wx::new();
    let token = wx.token("wxservice").await;
    let (status, v) = wx
        .put(
            "/api/apps/wxservice/faults",
            &json!({"latency_ms": 0, "errors": [
                {"endpoint": "/cgi-bin/clear_quota", "rate": 1.0, "errcode": 45009},
                {"endpoint": "/cgi-bin/token", "rate": 1.0, "http_status": 503}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let clear = format!("/cgi-bin/clear_quota?access_token={token}");
    let (_, v) = wx.post(&clear, &json!({"appid": "wxservice"})).await;
    assert_eq!(errcode(&v), 45009);
    let url = format!("{TOKEN_URL}&appid=wxservice&secret=secret-of-wxservice");
    assert_eq!(wx.get(&url).await.0, StatusCode::SERVICE_UNAVAILABLE);
    // Other apps are not affected.
    assert!(!wx.token("wxsubscribe").await.is_empty());

    let (_, got) = wx.get("/api/apps/wxservice/faults").await;
    assert_eq!(got["errors"].as_array().map(Vec::len), Some(2));
    let (status, _) = wx
        .put(
            "/api/apps/wxservice/faults",
            &json!({"errors": [{"endpoint": "*", "rate": 3}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = wx.put("/api/apps/wxnobody/faults", &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    wx.put("/api/apps/wxservice/faults", &json!({"latency_ms": 150}))
        .await;
    let started = std::time::Instant::now();
    let (_, v) = wx.post(&clear, &json!({"appid": "wxservice"})).await;
    assert_eq!(errcode(&v), 0, "{v}");
    assert!(started.elapsed().as_millis() >= 150);

    wx.put("/api/apps/wxservice/faults", &json!({})).await;
    let (_, v) = wx
        .post("/api/apps/wxservice/faults/expire-tokens", &json!({}))
        .await;
    assert_eq!(v["expired"], 1, "{v}");
    let (_, v) = wx.post(&clear, &json!({"appid": "wxservice"})).await;
    assert_eq!(errcode(&v), 42001);
}

#[tokio::test]
async fn request_bodies_are_read_as_wechat_reads_them() {
    let wx = Wx::new();
    let token = wx.token("wxservice").await;
    let clear = format!("/cgi-bin/clear_quota?access_token={token}");
    let (_, v) = wx.post_raw(&clear, b"{oops".to_vec()).await;
    assert_eq!(errcode(&v), 47001);
    let (_, v) = wx
        .post_raw(&clear, br#"{"appid":"\u0077xservice"}"#.to_vec())
        .await;
    assert_eq!(errcode(&v), 40033);
    let (_, v) = wx.post(&clear, &json!({"appid": "wxnobody"})).await;
    assert_eq!(errcode(&v), 40013);
}
