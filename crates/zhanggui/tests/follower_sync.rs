//! The follower sync against the sandbox's WeChat: every follower WeChat lists ends up ours
//! exactly once, with followers arriving and leaving through the callback meanwhile, the
//! instance stopped mid-run and another taking over on the same database, and followers
//! WeChat no longer lists marked unfollowed (kept).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use wechat::api::tags as wx;
use zhanggui::accounts::AccountRow;
use zhanggui::followers::Follower;
use zhanggui::followers::model::Observation;
use zhanggui::platform::auth::model::Role;

async fn post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    read_json(app.client().post(app.url(path)).json(&body)).await
}

async fn sandbox_followers(
    app: &TestApp,
    account: &AccountRow,
    n: usize,
    subscribed: bool,
) -> Vec<String> {
    let mut all = Vec::with_capacity(n);
    while all.len() < n {
        let count = (n - all.len()).min(100_000);
        let (status, made) = post(
            app,
            &format!("/sandbox/api/apps/{}/followers", account.app_id),
            json!({ "count": count, "subscribed": subscribed }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{made}");
        let openids: Vec<String> = serde_json::from_value(made["openids"].clone()).expect("ids");
        all.extend(openids);
    }
    all
}

/// Followers act through the sandbox of `app`, which delivers to the callback.
async fn act(app: &TestApp, account: &AccountRow, openids: &[String], action: &str) {
    for o in openids {
        let (status, d) = post(
            app,
            &format!("/sandbox/api/apps/{}/followers/{o}/actions", account.app_id),
            json!({ "type": action }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{action} {o}: {d}");
        assert_eq!(d["attempts"], 1, "delivered at once: {d}");
    }
}

async fn sync_state(app: &TestApp, key: &str, account: &AccountRow) -> Value {
    let (status, s) = read_json(app.key(key).request(
        Method::GET,
        &format!("/api/v1/accounts/{}/followers/sync", account.id),
    ))
    .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    s
}

/// Until the projector has folded every logged message into followers.
async fn projected(app: &TestApp) {
    let db = app.db.clone();
    wait_until("the projector catches up", 30, || {
        let db = db.clone();
        async move {
            let last = scalar(&db, "SELECT COALESCE(MAX(id), 0) FROM wx_messages").await;
            let cursor = scalar(
                &db,
                "SELECT last_id FROM log_projections WHERE name = 'followers'",
            )
            .await;
            cursor >= last
        }
    })
    .await;
}

async fn run_sync(n: usize) {
    let started = Instant::now();
    let app = TestApp::spawn().await;
    let m = app.merchant("同步商户").await;
    let account = app.account(m, "同步服务号").await;
    let (_, key) = app.api_key(m, "owner", Role::Owner).await;
    let tokens = zhanggui::accounts::tokens::cache_of(app.state(), &account);

    let existing = sandbox_followers(&app, &account, n, true).await;
    let newcomers = sandbox_followers(&app, &account, 40, false).await;
    let leavers: Vec<String> = existing.iter().step_by(n / 20).take(20).cloned().collect();
    // Tags at WeChat before the sync: the profiles' tagid_list must come across.
    let vip = wx::create(&tokens, "VIP").await.expect("tag");
    let tagged: Vec<String> = existing
        .iter()
        .skip(1)
        .step_by(n / 10)
        .take(10)
        .cloned()
        .collect();
    wx::tag_users(&tokens, vip.id, &tagged)
        .await
        .expect("tagging");
    // Ours only: followers an old log told of, whom WeChat no longer lists.
    let stale: Vec<Follower> = (0..5)
        .map(|i| {
            let mut f = Follower::new(m, account.id, &format!("oStale{i:023}"), 1_000);
            f.merge(1_000, &Observation::Follow { scene: None });
            f
        })
        .collect();
    zhanggui::followers::store::merge(&app.db, &stale)
        .await
        .expect("stale");
    // WeChat's times are whole seconds: leave the creation's second behind, so that a leave
    // is never in the same second as the follow it ends.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let setup_time = started.elapsed();

    let sync_path = format!("/api/v1/accounts/{}/followers/sync", account.id);
    let (status, s) = read_json(app.key(&key).request(Method::POST, &sync_path)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{s}");
    assert_eq!(s["status"], "running");
    let (status, again) = read_json(app.key(&key).request(Method::POST, &sync_path)).await;
    assert_eq!(status, StatusCode::CONFLICT, "one run at a time: {again}");
    assert!(
        again["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("正在同步"))
    );

    // While it runs: half the newcomers follow and half the leavers leave, through the
    // callback of the first instance...
    let (first_newcomers, later_newcomers) = newcomers.split_at(20);
    let (first_leavers, later_leavers) = leavers.split_at(10);
    act(&app, &account, first_newcomers, "follow").await;
    act(&app, &account, first_leavers, "unfollow").await;
    // ... which is stopped once the sync is part-way through profiles.
    let db = app.db.clone();
    wait_until("the sync is part-way", 120, || {
        let db = db.clone();
        async move {
            scalar(
                &db,
                "SELECT profiled FROM follower_syncs ORDER BY id DESC LIMIT 1",
            )
            .await
                > 0
        }
    })
    .await;
    let part_way = sync_state(&app, &key, &account).await;
    let old_base = app.base.clone();
    let db_url = app.db_url.clone();
    app.stop().await;
    assert_eq!(part_way["status"], "running", "{part_way}");
    assert!(
        part_way["profiled"].as_i64().unwrap_or(0) < n as i64,
        "stopped before the end: {part_way}"
    );

    // Another instance takes over on the same database; WeChat now calls it back.
    let app = TestApp::spawn_on(&db_url).await;
    app.exec(&format!(
        "UPDATE sandbox_apps SET callback_url = REPLACE(callback_url, '{old_base}', '{}')",
        app.base
    ))
    .await;
    app.state().jobs.wake();
    act(&app, &account, later_newcomers, "follow").await;
    act(&app, &account, later_leavers, "unfollow").await;
    let db = app.db.clone();
    wait_until("the sync is done", 300, || {
        let db = db.clone();
        async move { on_status(&db).await != "running" }
    })
    .await;
    let done = sync_state(&app, &key, &account).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["percent"], 100);
    projected(&app).await;

    // Ours equals WeChat's list exactly: same people following, nobody twice.
    let tokens = zhanggui::accounts::tokens::cache_of(app.state(), &account);
    let wechat: BTreeSet<String> = wechat::api::users::all_followers(&tokens)
        .await
        .expect("user/get")
        .into_iter()
        .collect();
    assert_eq!(wechat.len(), n - 20 + 40);
    let ours: BTreeSet<String> = zhanggui::on_pool!(&app.db, |p| sqlx::query_scalar::<_, String>(
        "SELECT openid FROM followers WHERE account_id = $1 AND subscribed"
    )
    .bind(account.id)
    .fetch_all(p)
    .await)
    .expect("ours")
    .into_iter()
    .collect();
    let missing: Vec<_> = wechat.difference(&ours).take(5).collect();
    let extra: Vec<_> = ours.difference(&wechat).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    let rows = app
        .count(&format!(
            "SELECT COUNT(*) FROM followers WHERE account_id = {}",
            account.id
        ))
        .await;
    assert_eq!(rows as usize, n + 40 + 5, "everyone once, the gone kept");
    let stale_kept = app
        .count(
            "SELECT COUNT(*) FROM followers WHERE openid LIKE 'oStale%' AND NOT subscribed \
                AND unsubscribed_at IS NOT NULL",
        )
        .await;
    assert_eq!(
        stale_kept, 5,
        "WeChat no longer lists them: marked, not deleted"
    );
    // Profiles and tags came across.
    let synced = app
        .count(&format!(
            "SELECT COUNT(*) FROM followers WHERE account_id = {} AND synced_at IS NOT NULL \
             AND language = 'zh_CN'",
            account.id
        ))
        .await;
    assert!(synced as usize >= n - 20, "{synced}");
    let carried: BTreeSet<String> = zhanggui::on_pool!(&app.db, |p| sqlx::query_scalar::<_, String>(
        "SELECT ft.openid FROM follower_tags ft JOIN tags t ON t.id = ft.tag_id WHERE t.name = 'VIP'"
    )
    .fetch_all(p)
    .await)
    .expect("tags")
    .into_iter()
    .collect();
    assert_eq!(carried, tagged.iter().cloned().collect());
    eprintln!(
        "follower sync of {n}: setup {:.1} s, sync and checks {:.1} s",
        setup_time.as_secs_f64(),
        (started.elapsed() - setup_time).as_secs_f64()
    );
    app.stop().await;
}

async fn on_status(db: &zhanggui::platform::db::Db) -> String {
    zhanggui::on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT status FROM follower_syncs ORDER BY id DESC LIMIT 1"
    )
    .fetch_one(p)
    .await)
    .expect("status")
}

#[tokio::test]
async fn a_sync_resumes_on_another_instance_and_ends_equal_to_wechat() {
    run_sync(20_000).await;
}

/// The full size; run by hand: `cargo test --test follower_sync -- --ignored`.
#[tokio::test]
#[ignore]
async fn a_sync_of_one_hundred_thousand_followers() {
    run_sync(100_000).await;
}
