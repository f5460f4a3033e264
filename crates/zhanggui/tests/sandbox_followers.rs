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

async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let res = app
        .client()
        .get(app.url(path))
        .send()
        .await
        .expect("request");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// An access token of the sandbox account, as the merchant's server would fetch it.
async fn token_of(app: &TestApp, app_id: &str) -> String {
    let secret = app
        .text(&format!(
            "SELECT app_secret FROM sandbox_apps WHERE app_id = '{app_id}'"
        ))
        .await;
    let (status, t) = get_json(
        app,
        &format!(
            "/sandbox/cgi-bin/token?grant_type=client_credential&appid={app_id}&secret={secret}"
        ),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    t["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

#[tokio::test]
async fn the_follower_list_shows_nicknames_newest_first_and_searches() {
    let app = TestApp::spawn().await;
    let m = app.merchant("名单商户").await;
    let a = app.account(m, "名单号").await;
    let path = format!("/sandbox/api/apps/{}/followers", a.app_id);
    let (status, first) = post_json(
        &app,
        &path,
        json!({"count": 2, "profiles": [{"nickname": "小鱼"}, {"nickname": "Kevin.Li"}]}),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    app.clock.advance(1_000);
    let (_, later) = post_json(
        &app,
        &path,
        json!({"count": 1, "subscribed": false, "profiles": [{"nickname": "阿杰"}]}),
    )
    .await;
    let newest = later["openids"][0].as_str().expect("openid").to_string();

    let (status, list) = get_json(&app, &path).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["total"], 3);
    let followers = list["followers"].as_array().expect("followers");
    assert_eq!(followers.len(), 3);
    assert_eq!(followers[0]["openid"], newest.as_str(), "newest first");
    assert_eq!(followers[0]["nickname"], "阿杰");
    assert_eq!(followers[0]["subscribe"], false);
    assert_eq!(followers[1]["subscribe"], true);
    assert_eq!(
        list["openids"][0],
        newest.as_str(),
        "openids kept for scripts"
    );
    let nicknames: Vec<&str> = followers
        .iter()
        .filter_map(|f| f["nickname"].as_str())
        .collect();
    assert!(nicknames.contains(&"小鱼") && nicknames.contains(&"Kevin.Li"));

    // Search by part of a nickname (any case) or of an openid. The part searched for has a
    // dot, which no openid has: a random openid may well hold "kev".
    let (_, found) = get_json(&app, &format!("{path}?q=N.l")).await;
    assert_eq!(
        found["followers"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );
    assert_eq!(found["followers"][0]["nickname"], "Kevin.Li");
    let (_, found) = get_json(&app, &format!("{path}?q={}", &newest[5..15])).await;
    assert_eq!(found["followers"][0]["openid"], newest.as_str(), "{found}");
    let (_, none) = get_json(&app, &format!("{path}?q=%E6%B2%A1%E6%9C%89")).await;
    assert_eq!(none["followers"], json!([]));
    assert_eq!(none["total"], 3);
    let (_, one) = get_json(&app, &format!("{path}?limit=1")).await;
    assert_eq!(one["followers"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

#[tokio::test]
async fn a_follower_sees_the_published_menu() {
    let app = TestApp::spawn().await;
    let m = app.merchant("菜单商户").await;
    let a = app.account(m, "菜单号").await; // a verified service account
    let (_, made) = post_json(
        &app,
        &format!("/sandbox/api/apps/{}/followers", a.app_id),
        json!({"count": 1}),
    )
    .await;
    let o = made["openids"][0].as_str().expect("openid").to_string();
    let menu_path = format!("/sandbox/api/apps/{}/followers/{o}/menu", a.app_id);

    let (status, none) = get_json(&app, &menu_path).await;
    assert_eq!((status, none), (200, json!({"button": []})), "no menu yet");

    let token = token_of(&app, &a.app_id).await;
    // A news draft with a cover, for a media_id button.
    let png = sandbox::qrcode::qr_png("https://zhanggui.example/cover").expect("png");
    let form = reqwest::multipart::Form::new().part(
        "media",
        reqwest::multipart::Part::bytes(png)
            .file_name("cover.png")
            .mime_str("image/png")
            .expect("mime"),
    );
    let cover: Value = app
        .client()
        .post(app.url(&format!(
            "/sandbox/cgi-bin/material/add_material?access_token={token}&type=image"
        )))
        .multipart(form)
        .send()
        .await
        .expect("add_material")
        .json()
        .await
        .expect("material JSON");
    let cover_id = cover["media_id"].as_str().expect("cover media_id");
    let (_, draft) = post_json(
        &app,
        &format!("/sandbox/cgi-bin/draft/add?access_token={token}"),
        json!({"articles": [{"title": "品牌故事", "digest": "一家咖啡馆的十年",
            "content": "<p>十年前……</p>", "thumb_media_id": cover_id}]}),
    )
    .await;
    let draft_id = draft["media_id"].as_str().expect("draft media_id");
    let menu = json!({"button": [
        {"type": "click", "name": "今日推荐", "key": "TODAY"},
        {"name": "更多", "sub_button": [
            {"type": "view", "name": "官网", "url": "https://example.com/"},
            {"type": "scancode_push", "name": "扫一扫", "key": "SCAN"},
            {"type": "location_select", "name": "发位置", "key": "WHERE"},
            {"type": "media_id", "name": "品牌故事", "media_id": draft_id}
        ]}
    ]});
    let (status, res) = post_json(
        &app,
        &format!("/sandbox/cgi-bin/menu/create?access_token={token}"),
        menu,
    )
    .await;
    assert_eq!((status, res["errcode"].as_i64()), (200, Some(0)), "{res}");

    let (status, seen) = get_json(&app, &menu_path).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["button"][0]["type"], "click");
    assert_eq!(seen["button"][0]["key"], "TODAY");
    assert_eq!(seen["button"][1]["name"], "更多");
    let subs = seen["button"][1]["sub_button"].as_array().expect("subs");
    assert_eq!(subs.len(), 4);
    assert_eq!(subs[0]["url"], "https://example.com/");
    assert_eq!(subs[2]["type"], "location_select");
    // What a media_id button shows comes with it: the draft's article card.
    let card = &subs[3]["articles"][0];
    assert_eq!(card["title"], "品牌故事", "{seen}");
    assert_eq!(card["description"], "一家咖啡馆的十年");
    assert!(
        card["picurl"]
            .as_str()
            .is_some_and(|u| u.contains(cover_id)),
        "{card}"
    );
    let page = card["url"].as_str().expect("the draft's preview page");
    assert!(page.contains("/sandbox/s/preview/"), "{page}");
    let res = app.client().get(page).send().await.expect("preview page");
    assert_eq!(res.status().as_u16(), 200, "{page}");
    assert!(seen.get("menuid").is_none(), "the default menu: {seen}");

    // A conditional menu for a tag: the tagged follower sees it, with its id.
    let (_, tag) = post_json(
        &app,
        &format!("/sandbox/cgi-bin/tags/create?access_token={token}"),
        json!({"tag": {"name": "会员"}}),
    )
    .await;
    let tag_id = tag["tag"]["id"].as_i64().expect("tag id");
    let (_, res) = post_json(
        &app,
        &format!("/sandbox/cgi-bin/tags/members/batchtagging?access_token={token}"),
        json!({"openid_list": [o], "tagid": tag_id}),
    )
    .await;
    assert_eq!(res["errcode"], 0, "{res}");
    let (_, res) = post_json(
        &app,
        &format!("/sandbox/cgi-bin/menu/addconditional?access_token={token}"),
        json!({"button": [{"type": "click", "name": "会员专享", "key": "VIP"}],
               "matchrule": {"tag_id": tag_id.to_string()}}),
    )
    .await;
    assert!(res["menuid"].is_string(), "{res}");
    let (_, seen) = get_json(&app, &menu_path).await;
    assert_eq!(seen["button"][0]["key"], "VIP", "{seen}");
    assert!(seen["menuid"].is_i64(), "{seen}");

    let (status, e) = get_json(
        &app,
        &format!("/sandbox/api/apps/{}/followers/oNobody/menu", a.app_id),
    )
    .await;
    assert_eq!((status, e["errcode"].as_i64()), (404, Some(40003)));
    app.stop().await;
}

#[tokio::test]
async fn scanning_a_ticket_follows_with_its_scene_then_scans() {
    let app = TestApp::spawn().await;
    let m = app.merchant("扫码商户").await;
    let a = app.account(m, "扫码号").await;
    zhanggui::accounts::set_replies(
        &app.db,
        m,
        a.id,
        &RepliesInput {
            welcome_text: "欢迎扫码！".into(),
            default_reply_text: String::new(),
        },
        app.now(),
    )
    .await
    .expect("replies");
    let token = token_of(&app, &a.app_id).await;
    let (_, permanent) = post_json(
        &app,
        &format!("/sandbox/cgi-bin/qrcode/create?access_token={token}"),
        json!({"action_name": "QR_LIMIT_SCENE", "action_info": {"scene": {"scene_id": 42}}}),
    )
    .await;
    let (status, code) = post_json(
        &app,
        &format!("/sandbox/cgi-bin/qrcode/create?access_token={token}"),
        json!({"expire_seconds": 600, "action_name": "QR_STR_SCENE",
               "action_info": {"scene": {"scene_str": "table_7"}}}),
    )
    .await;
    assert_eq!(status, 200, "{code}");
    let ticket = code["ticket"].as_str().expect("ticket").to_string();

    // The account's live codes, with their scenes and pictures.
    let (status, codes) = get_json(&app, &format!("/sandbox/api/apps/{}/qrcodes", a.app_id)).await;
    assert_eq!(status, 200, "{codes}");
    let items = codes["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{codes}");
    assert_eq!(items[0]["ticket"], ticket.as_str(), "newest first");
    assert_eq!(items[0]["scene"], "table_7");
    assert_eq!(items[0]["permanent"], false);
    assert_eq!(items[1]["scene"], "42");
    assert_eq!(items[1]["permanent"], true);
    assert_eq!(items[1]["ticket"], permanent["ticket"]);
    let image = items[0]["image"].as_str().expect("image");
    let png = app.client().get(image).send().await.expect("showqrcode");
    assert_eq!(png.status().as_u16(), 200, "{image}");
    assert_eq!(
        png.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"image/png"[..])
    );

    let (_, made) = post_json(
        &app,
        &format!("/sandbox/api/apps/{}/followers", a.app_id),
        json!({"count": 1, "subscribed": false}),
    )
    .await;
    let o = made["openids"][0].as_str().expect("openid").to_string();
    let actions = format!("/sandbox/api/apps/{}/followers/{o}/actions", a.app_id);
    let scan = json!({"type": "scan_ticket", "ticket": ticket});

    // Not following: the scan follows, with the code's scene and ticket.
    let (status, d) = post_json(&app, &actions, scan.clone()).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(
        (d["event"].as_str(), d["scene"].as_str()),
        (Some("subscribe"), Some("table_7"))
    );
    assert!(
        d["reply"]
            .as_str()
            .is_some_and(|r| r.contains("欢迎扫码！")),
        "{d}"
    );
    let stored = app
        .text("SELECT body FROM wx_messages WHERE kind = 'event:subscribe'")
        .await;
    // As the log keeps it, with its tags whole again (`wechat::kept`).
    let body = wechat::kept::whole(&stored);
    assert!(
        body.contains("<EventKey><![CDATA[qrscene_table_7]]></EventKey>"),
        "{body}"
    );
    assert!(
        body.contains(&format!("<Ticket><![CDATA[{ticket}]]></Ticket>")),
        "{body}"
    );
    let (_, list) = get_json(&app, &format!("/sandbox/api/apps/{}/followers", a.app_id)).await;
    assert_eq!(list["followers"][0]["subscribe"], true);

    // Following: the same code is a SCAN.
    let (status, d) = post_json(&app, &actions, scan).await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["event"], "SCAN");
    assert_eq!(d["reply"], "success");
    let stored = app
        .text("SELECT body FROM wx_messages WHERE kind = 'event:scan'")
        .await;
    let body = wechat::kept::whole(&stored);
    assert!(
        body.contains("<EventKey><![CDATA[table_7]]></EventKey>"),
        "{body}"
    );
    assert!(
        body.contains(&format!("<Ticket><![CDATA[{ticket}]]></Ticket>")),
        "{body}"
    );

    // Codes that are not the account's, or no longer live, cannot be scanned.
    let (status, e) = post_json(
        &app,
        &actions,
        json!({"type": "scan_ticket", "ticket": "nope"}),
    )
    .await;
    assert_eq!((status, e["errcode"].as_i64()), (404, Some(40097)), "{e}");
    app.clock.advance(601_000);
    let (status, _) = post_json(
        &app,
        &actions,
        json!({"type": "scan_ticket", "ticket": code["ticket"]}),
    )
    .await;
    assert_eq!(status, 404, "an expired code");
    let (status, e) = post_json(&app, &actions, json!({"type": "dance"})).await;
    assert_eq!((status, e["errcode"].as_i64()), (422, Some(47001)), "{e}");
    app.stop().await;
}
