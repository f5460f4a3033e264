//! Channel QR codes through the real HTTP surface and the sandbox: a code is made at WeChat,
//! a scan answers the channel's welcome, the projector counts follows, rescans and later
//! unfollows by day and tags the scanner (with a job to push the tag to WeChat), once
//! however many passes run; WeChat's limits are explained; another merchant's code is 404.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhanggui::platform::auth::model::Role;

/// A tag of the account, as the tags capability would have stored it.
async fn tag(app: &TestApp, merchant: i64, account: i64, name: &str, wx_tag_id: i64) -> i64 {
    app.exec(&format!(
        "INSERT INTO tags (merchant_id, account_id, name, wx_tag_id, created_at, updated_at) \
         VALUES ({merchant}, {account}, '{name}', {wx_tag_id}, 0, 0)"
    ))
    .await;
    app.count(&format!(
        "SELECT id FROM tags WHERE account_id = {account} AND name = '{name}'"
    ))
    .await
}

async fn sandbox_post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    read_json(app.client().post(app.url(path)).json(&body)).await
}

/// A follower of the sandbox who does not follow the account yet.
async fn stranger(app: &TestApp, app_id: &str) -> String {
    let (status, made) = sandbox_post(
        app,
        &format!("/sandbox/api/apps/{app_id}/followers"),
        json!({"count": 1, "subscribed": false}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{made}");
    made["openids"][0].as_str().expect("openid").to_string()
}

async fn act(app: &TestApp, app_id: &str, openid: &str, action: Value) -> Value {
    let (status, d) = sandbox_post(
        app,
        &format!("/sandbox/api/apps/{app_id}/followers/{openid}/actions"),
        action,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{d}");
    d
}

/// The channel as the API shows it, once `check` holds (the projector runs in the
/// background).
/// The last day of a channel's answer (today), or null.
fn today_of(c: &Value) -> &Value {
    c["days"]
        .as_array()
        .and_then(|d| d.last())
        .unwrap_or(&Value::Null)
}

/// Polls the channel until `check` holds. Its totals and its days are separate reads, so a
/// check waits for both to have seen the projector's pass.
async fn channel_when(
    app: &TestApp,
    key: &KeyClient,
    path: &str,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..500 {
        let (status, c) = read_json(key.request(Method::GET, path)).await;
        assert_eq!(status, StatusCode::OK, "{c}");
        if check(&c) {
            return c;
        }
        last = c;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = app;
    panic!("timed out waiting until {what}: {last}");
}

#[tokio::test]
async fn a_scan_answers_the_channel_welcome_tags_and_counts() {
    let app = TestApp::spawn().await;
    let m = app.merchant("扫码商户").await;
    let account = app.account(m, "扫码服务号").await;
    let (_, key) = app.api_key(m, "owner", Role::Owner).await;
    let key = app.key(&key);
    zhanggui::accounts::set_replies(
        &app.db,
        m,
        account.id,
        &zhanggui::accounts::model::RepliesInput {
            welcome_text: "账号欢迎".into(),
            default_reply_text: String::new(),
        },
        app.now(),
    )
    .await
    .expect("replies");
    let vip = tag(&app, m, account.id, "海报客", 100).await;
    let base = format!("/api/v1/accounts/{}/channels", account.id);

    // A permanent code with the next free scene, a tag and a welcome.
    let (status, poster) = read_json(key.request(Method::POST, &base).json(&json!({
        "name": "门店海报", "kind": "permanent", "medium": "poster", "tag_id": vip,
        "welcome_text": "海报欢迎", "poster_text": "扫码关注 · 第二杯半价"
    })))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{poster}");
    assert_eq!(poster["scene"], "1");
    assert_eq!(poster["reach"], "offline");
    assert_eq!(poster["tag_name"], "海报客");
    assert_eq!(poster["expires_at"], Value::Null);
    // A temporary code with a scene string, no welcome of its own.
    let (status, link) = read_json(key.request(Method::POST, &base).json(&json!({
        "name": "公众号文章链接", "kind": "temporary", "expire_seconds": 600,
        "scene": "article_1", "medium": "link"
    })))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    assert_eq!(link["reach"], "online");
    assert!(link["expires_at"].is_string(), "{link}");

    // WeChat (the sandbox) has both codes.
    let (_, codes) = read_json(
        app.client()
            .get(app.url(&format!("/sandbox/api/apps/{}/qrcodes", account.app_id))),
    )
    .await;
    let tickets: Vec<&str> = codes["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["ticket"].as_str())
        .collect();
    assert!(
        tickets.contains(&poster["ticket"].as_str().expect("ticket")),
        "{codes}"
    );
    assert!(
        tickets.contains(&link["ticket"].as_str().expect("ticket")),
        "{codes}"
    );

    // Someone new scans the poster: a follow, answered with the poster's welcome.
    let o = stranger(&app, &account.app_id).await;
    let scan = json!({"type": "scan_ticket", "ticket": poster["ticket"]});
    let d = act(&app, &account.app_id, &o, scan.clone()).await;
    assert_eq!(d["event"], "subscribe", "{d}");
    assert!(
        d["reply"].as_str().is_some_and(|r| r.contains("海报欢迎")),
        "{d}"
    );
    let path = format!("{base}/{}", poster["id"]);
    let c = channel_when(&app, &key, &path, "the follow is counted", |c| {
        c["totals"]["new_follows"] == 1 && today_of(c)["new_follows"] == 1
    })
    .await;
    assert_eq!(c["totals"]["scans"], 1);
    let today = c["days"]
        .as_array()
        .expect("days")
        .last()
        .cloned()
        .expect("today");
    assert_eq!(today["new_follows"], 1, "{c}");
    assert_eq!(c["to"], today["day"]);
    // Tagged, with the job that pushes the tag to WeChat, and the follower's channel.
    let tagged = format!(
        "SELECT COUNT(*) FROM follower_tags WHERE openid = '{o}' AND tag_id = {vip} \
         AND merchant_id = {m}"
    );
    assert_eq!(app.count(&tagged).await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM jobs WHERE kind = 'tags.push_follower'")
            .await,
        1
    );
    let payload = app
        .text("SELECT payload FROM jobs WHERE kind = 'tags.push_follower'")
        .await;
    let payload: Value = serde_json::from_str(&payload).expect("json");
    assert_eq!(
        payload,
        json!({"merchant_id": m, "account_id": account.id, "openid": o})
    );
    wait_until("the follower has the channel", 10, || async {
        app.text(&format!(
            "SELECT COALESCE(MAX(channel), '') FROM followers WHERE openid = '{o}'"
        ))
        .await
            == "1"
    })
    .await;

    // The follower scans again: a rescan, the welcome again, no second tag or job.
    let d = act(&app, &account.app_id, &o, scan).await;
    assert_eq!(d["event"], "SCAN", "{d}");
    assert!(
        d["reply"].as_str().is_some_and(|r| r.contains("海报欢迎")),
        "{d}"
    );
    channel_when(&app, &key, &path, "the rescan is counted", |c| {
        c["totals"]["rescans"] == 1 && c["totals"]["scans"] == 2 && today_of(c)["rescans"] == 1
    })
    .await;
    assert_eq!(app.count(&tagged).await, 1);
    // A code without a welcome of its own: a follower's scan gets nothing.
    let d = act(
        &app,
        &account.app_id,
        &o,
        json!({"type": "scan_ticket", "ticket": link["ticket"]}),
    )
    .await;
    assert_eq!(
        (d["event"].as_str(), d["reply"].as_str()),
        (Some("SCAN"), Some("success"))
    );
    // …and a follow through it gets the account's welcome.
    let o2 = stranger(&app, &account.app_id).await;
    let d = act(
        &app,
        &account.app_id,
        &o2,
        json!({"type": "scan_ticket", "ticket": link["ticket"]}),
    )
    .await;
    assert!(
        d["reply"].as_str().is_some_and(|r| r.contains("账号欢迎")),
        "{d}"
    );

    // Unfollowing later counts against the channel that brought them. Later: in another
    // second of WeChat's CreateTime, since within one second a follow wins
    // (followers::model), and the steps above can all fall within one.
    app.clock.advance(1_000);
    act(&app, &account.app_id, &o, json!({"type": "unfollow"})).await;
    // Totals and days are two reads of one response: wait until both have seen the projector.
    let c = channel_when(&app, &key, &path, "the unfollow is counted", |c| {
        c["totals"]["unfollows"] == 1 && today_of(c)["unfollows"] == 1
    })
    .await;
    let today = c["days"]
        .as_array()
        .expect("days")
        .last()
        .cloned()
        .expect("today");
    assert_eq!(today["unfollows"], 1, "{c}");

    // The list shows both with their totals; the console page shows the numbers.
    let (_, list) = read_json(key.request(Method::GET, &base)).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2), "{list}");
    let session = {
        app.user(m, "boss", Role::Owner).await;
        app.sign_in("boss").await
    };
    let (status, html) = session.get(&format!("/channels/{}", poster["id"])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("门店海报") && html.contains("海报客"),
        "{html}"
    );
    let (status, html) = session.get("/channels").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("公众号文章链接"));

    // Downloads: a print-sized PNG and SVG sheets with the text.
    let res = key
        .request(Method::GET, &format!("{path}/qrcode.png"))
        .send()
        .await
        .expect("png");
    assert_eq!(res.status(), StatusCode::OK);
    let png = res.bytes().await.expect("bytes");
    assert!(png.starts_with(b"\x89PNG"));
    let (status, svg) =
        read(key.request(Method::GET, &format!("{path}/poster.svg?layout=table_card"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        svg.contains("扫码关注 · 第二杯半价") && svg.contains("扫码服务号"),
        "{svg}"
    );

    // Archived: no welcome of its own any more, the numbers stay.
    let (status, archived) = read_json(key.request(Method::POST, &format!("{path}/archive"))).await;
    assert_eq!(
        (status, archived["archived"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    assert_eq!(archived["totals"]["new_follows"], 1);
    app.stop().await;
}

#[tokio::test]
async fn limits_and_bad_input_are_explained_before_wechat_is_asked() {
    let app = TestApp::spawn().await;
    let m = app.merchant("限制商户").await;
    let account = app.account(m, "限制服务号").await;
    let (_, key) = app.api_key(m, "owner", Role::Owner).await;
    let key = app.key(&key);
    let base = format!("/api/v1/accounts/{}/channels", account.id);
    let create = |body: Value| key.request(Method::POST, &base).json(&body);

    let (status, e) = read_json(create(json!({
        "name": "", "kind": "forever", "medium": "sky", "welcome_text": "字".repeat(601)
    })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    for f in ["name", "kind", "medium", "welcome_text"] {
        assert!(e["error"]["fields"][f].is_string(), "{f}: {e}");
    }
    let (status, e) = read_json(
        create(
            json!({"name": "太久", "kind": "temporary", "expire_seconds": 2_592_001,
                      "medium": "link"}),
        )
        .header("accept-language", "en"),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert_eq!(
        e["error"]["fields"]["expire_seconds"],
        "A temporary code lives between 1 second and 30 days"
    );
    let (status, e) = read_json(create(
        json!({"name": "大号", "kind": "permanent", "scene": "100001", "medium": "poster"}),
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["error"]["fields"]["scene"]
            .as_str()
            .is_some_and(|s| s.contains("100000"))
    );
    let (status, e) = read_json(create(
        json!({"name": "借标签", "kind": "permanent", "medium": "poster", "tag_id": 999}),
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["fields"]["tag_id"].is_string(), "{e}");

    // A taken scene is refused, and nothing is made at WeChat for it.
    let ok =
        json!({"name": "桌贴", "kind": "permanent", "scene": "table_1", "medium": "table_card"});
    let (status, _) = read_json(create(ok.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, e) = read_json(create(ok)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"]["fields"]["scene"].is_string(), "{e}");

    // WeChat's limit of permanent codes is ours too.
    app.exec(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 99999) \
         INSERT INTO channels (merchant_id, account_id, name, kind, scene, medium, ticket, \
         qr_url, created_at, updated_at) SELECT {m}, {}, 'x', 'permanent', 'bulk_' || i, \
         'other', 't', 'u', 0, 0 FROM n",
        account.id
    ))
    .await;
    let (status, e) = read_json(create(
        json!({"name": "第十万零一个", "kind": "permanent", "medium": "poster"}),
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["error"]["fields"]["kind"]
            .as_str()
            .is_some_and(|s| s.contains("100000")),
        "{e}"
    );

    // An unverified subscription account cannot have parametric codes: said, not tried.
    let sub = zhanggui::accounts::create(
        &app.db,
        m,
        &zhanggui::accounts::model::AccountInput {
            name: "订阅号".into(),
            kind: "subscription".into(),
            security_mode: "plaintext".into(),
            sandbox: Some(true),
            ..Default::default()
        },
        zhanggui::platform::config::Mode::Sandbox,
        &app.base,
        app.now(),
    )
    .await
    .expect("subscription account");
    let (status, e) = read_json(
        key.request(
            Method::POST,
            &format!("/api/v1/accounts/{}/channels", sub.id),
        )
        .json(
            &json!({"name": "不行", "kind": "temporary", "expire_seconds": 60, "medium": "poster"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|s| s.contains("服务号")),
        "{e}"
    );

    // A bad range of days.
    let id = app
        .count("SELECT MIN(id) FROM channels WHERE scene = 'table_1'")
        .await;
    let (status, e) = read_json(key.request(
        Method::GET,
        &format!("{base}/{id}?from=2026-05-01&to=2026-04-01"),
    ))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");

    // The console form shows WeChat's refusal instead of failing.
    app.user(m, "boss", Role::Owner).await;
    let session = app.sign_in("boss").await;
    let (status, html) = session
        .post_form(
            "/channels",
            &[
                ("account_id", &sub.id.to_string()),
                ("name", "不行"),
                ("kind", "permanent"),
                ("medium", "poster"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("只有已认证的服务号"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn a_pass_is_counted_once_even_when_passes_race() {
    let app = TestApp::spawn().await;
    let m = app.merchant("并发商户").await;
    let account = app.account(m, "并发服务号").await;
    let sandbox = zhanggui::sandbox_mode::of(app.db.clone(), app.clock.clone());
    let wx = sandbox
        .docs
        .app(&account.app_id)
        .await
        .expect("read")
        .expect("app");
    // 300 follows and 200 rescans of scene "poster", logged as the callback would.
    let mut history = vec![];
    let now = app.now();
    for i in 0..500u64 {
        let openid = format!("o{i:05}");
        let action = if i < 300 {
            sandbox::followers::Action::Follow {
                scene: Some("poster".into()),
            }
        } else {
            sandbox::followers::Action::Scan {
                scene: "poster".into(),
            }
        };
        let xml = sandbox::followers::message_xml(&wx, &openid, &action, now / 1000, i + 1);
        history.push((xml, now));
    }
    // Three passes at once beside the server's own projector.
    let logged =
        zhanggui::messages::log_as_received(&app.db, m, account.id, &Default::default(), &history)
            .await
            .expect("log");
    assert_eq!(logged, 500);
    let pass = || zhanggui::channels::jobs::project_once(&app.db, None, now + 5_000, 64);
    let (a, b, c) = tokio::join!(pass(), pass(), pass());
    for p in [a, b, c] {
        p.expect("a pass runs");
    }
    let newest = app.count("SELECT MAX(id) FROM wx_messages").await;
    wait_until("every row is counted", 20, || async {
        app.count("SELECT last_id FROM log_projections WHERE name = 'channels'")
            .await
            == newest
    })
    .await;
    assert_eq!(
        app.count(
            "SELECT CAST(SUM(new_follows) AS BIGINT) FROM channel_days WHERE scene = 'poster'"
        )
        .await,
        300
    );
    assert_eq!(
        app.count("SELECT CAST(SUM(rescans) AS BIGINT) FROM channel_days WHERE scene = 'poster'")
            .await,
        200
    );
    // Running again finds nothing new and counts nothing twice.
    let p = zhanggui::channels::jobs::project_once(&app.db, None, now + 5_000, 64)
        .await
        .expect("pass");
    assert_eq!(p.upto, None);
    assert_eq!(
        app.count("SELECT CAST(SUM(new_follows) AS BIGINT) FROM channel_days")
            .await,
        300
    );
    app.stop().await;
}

#[tokio::test]
async fn another_merchants_channel_is_not_found() {
    let app = TestApp::spawn().await;
    let a = app.merchant("甲商户").await;
    let b = app.merchant("乙商户").await;
    let a_account = app.account(a, "甲服务号").await;
    let b_account = app.account(b, "乙服务号").await;
    let (_, a_key) = app.api_key(a, "a", Role::Owner).await;
    let (_, b_key) = app.api_key(b, "b", Role::Owner).await;
    let (a_key, b_key) = (app.key(&a_key), app.key(&b_key));
    let (status, theirs) = read_json(
        b_key
            .request(
                Method::POST,
                &format!("/api/v1/accounts/{}/channels", b_account.id),
            )
            .json(&json!({"name": "乙的秘密海报", "kind": "permanent", "medium": "poster"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    let id = theirs["id"].as_i64().expect("id");
    let mine = format!("/api/v1/accounts/{}/channels/{id}", a_account.id);
    let direct = format!("/api/v1/accounts/{}/channels/{id}", b_account.id);
    let edit = json!({"name": "改", "medium": "poster"});
    for (method, path, body) in [
        (Method::GET, direct.clone(), None),
        (Method::GET, mine.clone(), None),
        (Method::PUT, direct.clone(), Some(edit.clone())),
        (Method::PUT, mine.clone(), Some(edit)),
        (Method::POST, format!("{direct}/archive"), None),
        (Method::GET, format!("{direct}/qrcode.png"), None),
        (Method::GET, format!("{direct}/poster.svg"), None),
        (
            Method::GET,
            format!("/api/v1/accounts/{}/channels", b_account.id),
            None,
        ),
    ] {
        let mut req = a_key.request(method.clone(), &path);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, text) = read(req).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {text}");
        assert!(!text.contains("乙的秘密海报"));
    }
    app.user(a, "a_owner", Role::Owner).await;
    let session = app.sign_in("a_owner").await;
    for path in [
        format!("/channels/{id}"),
        format!("/channels/{id}/edit"),
        format!("/channels/{id}/qrcode.png"),
        format!("/channels/{id}/poster.svg"),
    ] {
        let (status, _) = session.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    let (status, _) = session
        .post_form(&format!("/channels/{id}/archive"), &[])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, still) = read_json(b_key.request(Method::GET, &direct)).await;
    assert_eq!(
        (still["name"].as_str(), still["archived"].as_bool()),
        (Some("乙的秘密海报"), Some(false))
    );
    app.stop().await;
}
