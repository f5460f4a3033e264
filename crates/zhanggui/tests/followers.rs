//! Followers derived from the message log: a follower's history through the real callback
//! becomes their row within about a second, and rebuilding from the log gives the same rows.

mod common;

use std::time::Duration;

use common::TestApp;
use zhanggui::accounts::AccountRow;
use zhanggui::followers::Follower;

fn signed_query(a: &AccountRow) -> String {
    let sig = wechat::signature::signature(&a.token, "1700000000", "n");
    format!("signature={}&timestamp=1700000000&nonce=n", sig.as_str())
}

fn event(openid: &str, at: i64, event: &str, extra: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_t]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>\
         <CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{extra}</xml>"
    )
}

fn text(openid: &str, at: i64, id: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_t]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName>\
         <CreateTime>{at}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>{id}</MsgId></xml>"
    )
}

async fn deliver(app: &TestApp, a: &AccountRow, body: String) {
    let res = app
        .client()
        .post(app.url(&format!("/wx/{}?{}", a.callback_key, signed_query(a))))
        .body(body)
        .send()
        .await
        .expect("deliver");
    assert_eq!(res.status().as_u16(), 200);
}

async fn plaintext_account(app: &TestApp) -> AccountRow {
    let m = app.merchant("粉丝商户").await;
    let a = app.account(m, "粉丝号").await;
    app.exec(&format!(
        "UPDATE accounts SET security_mode = 'plaintext' WHERE id = {}",
        a.id
    ))
    .await;
    // The callback caches accounts for two seconds; this one is new to it, so it reads fresh.
    zhanggui::accounts::get(&app.db, m, a.id)
        .await
        .expect("read")
        .expect("account")
}

async fn follower(app: &TestApp, a: &AccountRow, openid: &str) -> Option<Follower> {
    zhanggui::followers::store::get(&app.db, a.merchant_id, a.id, openid)
        .await
        .expect("read follower")
}

#[tokio::test]
async fn a_history_becomes_the_follower_within_a_second_or_two() {
    let app = TestApp::spawn().await;
    let a = plaintext_account(&app).await;
    deliver(
        &app,
        &a,
        event(
            "oA",
            1_700_000_000,
            "subscribe",
            "<EventKey><![CDATA[qrscene_poster7]]></EventKey><Ticket><![CDATA[t]]></Ticket>",
        ),
    )
    .await;
    deliver(&app, &a, text("oA", 1_700_000_010, 1)).await;
    deliver(
        &app,
        &a,
        event(
            "oA",
            1_700_000_020,
            "LOCATION",
            "<Latitude>31.23</Latitude><Longitude>121.47</Longitude><Precision>30</Precision>",
        ),
    )
    .await;
    deliver(&app, &a, event("oB", 1_700_000_030, "subscribe", "")).await;
    deliver(&app, &a, event("oB", 1_700_000_040, "unsubscribe", "")).await;
    let started = std::time::Instant::now();
    common::wait_until("followers projected", 10, || async {
        follower(&app, &a, "oA")
            .await
            .is_some_and(|f| f.last_location_at.is_some())
            && follower(&app, &a, "oB")
                .await
                .is_some_and(|f| !f.subscribed)
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let fa = follower(&app, &a, "oA").await.expect("oA");
    assert!(fa.subscribed);
    assert_eq!(fa.channel.as_deref(), Some("poster7"));
    assert_eq!(fa.first_seen_at, 1_700_000_000_000);
    assert_eq!(fa.last_interaction_at, 1_700_000_020_000);
    assert_eq!(fa.last_latitude, Some(31.23));
    let fb = follower(&app, &a, "oB").await.expect("oB");
    assert_eq!(fb.unsubscribed_at, Some(1_700_000_040_000));

    // Rebuild from the log: clear the derived rows and the cursor; the same rows come back.
    app.exec("DELETE FROM followers").await;
    app.exec("UPDATE log_projections SET last_id = 0 WHERE name = 'followers'")
        .await;
    common::wait_until("followers rebuilt", 10, || async {
        follower(&app, &a, "oB").await.is_some()
    })
    .await;
    assert_eq!(follower(&app, &a, "oA").await, Some(fa));
    assert_eq!(follower(&app, &a, "oB").await, Some(fb));
    app.stop().await;
}
