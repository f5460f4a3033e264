//! Custom menus through the real HTTP surface, with the in-process sandbox as WeChat: WeChat's
//! limits per field (in bytes), publishing and reading back with `menu/get`, WeChat's
//! refusals explained (48001 for an unverified subscription account), personalized menus by
//! tag, taps counted from the callback, the library's deletion guard, and the console pages.

mod common;

use common::*;
use reqwest::header::ACCEPT_LANGUAGE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhanggui::accounts::model::AccountInput;
use zhanggui::platform::auth::model::Role;
use zhanggui::platform::config::Mode;

struct Fixture {
    app: TestApp,
    merchant: i64,
    account: zhanggui::accounts::AccountRow,
    key: KeyClient,
}

async fn fixture() -> Fixture {
    let app = TestApp::spawn().await;
    let merchant = app.merchant("菜单商户").await;
    let account = app.account(merchant, "菜单服务号").await;
    let (_, key) = app.api_key(merchant, "menus", Role::Owner).await;
    let key = app.key(&key);
    Fixture {
        app,
        merchant,
        account,
        key,
    }
}

fn menus_path(account: i64) -> String {
    format!("/api/v1/accounts/{account}/menus")
}

async fn post_json(who: &dyn Who, path: &str, body: Value) -> (StatusCode, Value) {
    read_json(who.request(Method::POST, path).json(&body)).await
}

/// A text, an image and a news item (one article with the image as cover): (text, image, news).
async fn library(app: &TestApp, merchant: i64) -> (i64, i64, i64) {
    use zhanggui::library::model::{ArticleInput, NewsInput, TextInput};
    let now = app.now();
    let text = zhanggui::library::create_text(
        &app.db,
        merchant,
        &TextInput {
            title: "营业时间".into(),
            text: "每天 8:00–22:00".into(),
        },
        now,
    )
    .await
    .expect("text")
    .id;
    let png = zhanggui::library::gradient_png(40, 30, [7, 193, 96], [200, 240, 210]).expect("png");
    let image = zhanggui::library::upload(&app.db, merchant, &png, "c.png", "封面", None, now)
        .await
        .expect("image")
        .id;
    let news = zhanggui::library::create_news(
        &app.db,
        merchant,
        &NewsInput {
            articles: vec![ArticleInput {
                title: "秋季新品".into(),
                body_html: "<p>桂花拿铁上市</p>".into(),
                cover_item_id: Some(image),
                ..Default::default()
            }],
        },
        now,
    )
    .await
    .expect("news")
    .id;
    (text, image, news)
}

/// A full menu: every button type, 3 top buttons, one with 5 sub-buttons.
fn full_menu(text: i64, image: i64, news: i64) -> Value {
    json!([
        {"name": "新品", "sub_button": [
            {"name": "今日推荐", "type": "click", "key": "TODAY", "item_id": text},
            {"name": "官网", "type": "view", "url": "https://shop.example.com/new"},
            {"name": "新品海报", "type": "media_id", "item_id": image},
            {"name": "看图文", "type": "view_limited", "item_id": news},
            {"name": "小程序", "type": "miniprogram", "url": "https://shop.example.com",
             "appid": "wx1234567890abcdef", "pagepath": "pages/index/index"}
        ]},
        {"name": "服务", "sub_button": [
            {"name": "扫码", "type": "scancode_push"},
            {"name": "扫码等回复", "type": "scancode_waitmsg"},
            {"name": "拍照", "type": "pic_sysphoto"},
            {"name": "相册", "type": "pic_photo_or_album"},
            {"name": "发送位置", "type": "location_select"}
        ]},
        {"name": "文章", "sub_button": [
            {"name": "发表的文章", "type": "article_id", "item_id": news},
            {"name": "打开文章", "type": "article_view_limited", "item_id": news},
            {"name": "微信相册", "type": "pic_weixin", "key": "ALBUM"}
        ]}
    ])
}

#[tokio::test]
async fn wechats_limits_are_checked_per_field_in_bytes() {
    let f = fixture().await;
    let (text, _, _) = library(&f.app, f.merchant).await;
    let path = menus_path(f.account.id);
    let cases: Vec<(Value, &str, &str)> = vec![
        // 6 Chinese characters are 18 bytes: over the 16 of a top button.
        (
            json!([{"name": "六个汉字太长", "type": "click"}]),
            "button[0].name",
            "16 字节",
        ),
        (
            json!([{"name": "子", "sub_button": [{"name": "字".repeat(21), "type": "click"}]}]),
            "button[0].sub_button[0].name",
            "60 字节",
        ),
        (
            json!([{"name": "链接", "type": "view", "url": "ftp://example.com"}]),
            "button[0].url",
            "http",
        ),
        (
            json!([{"name": "长链接", "type": "view",
                     "url": format!("https://example.com/{}", "a".repeat(1010))}]),
            "button[0].url",
            "1024 字节",
        ),
        (
            json!([{"name": "键", "type": "click", "key": "k".repeat(129)}]),
            "button[0].key",
            "128 字节",
        ),
        (
            json!([{"name": "小程序", "type": "miniprogram", "url": "https://a.com",
                     "pagepath": "pages/a"}]),
            "button[0].appid",
            "AppID",
        ),
        (
            json!([{"name": "图", "type": "media_id", "item_id": text}]),
            "button[0].item_id",
            "素材",
        ),
        (
            json!([{"name": "无", "type": "media_id"}]),
            "button[0].item_id",
            "素材",
        ),
        (
            json!([{"name": "a", "type": "click"}, {"name": "b", "type": "click"},
                   {"name": "c", "type": "click"}, {"name": "d", "type": "click"}]),
            "button",
            "3",
        ),
        (
            json!([{"name": "p", "sub_button": (0..6)
                .map(|i| json!({"name": format!("s{i}"), "type": "click"}))
                .collect::<Vec<_>>()}]),
            "button[0].sub_button",
            "5",
        ),
        (json!([{"name": "没有类型"}]), "button[0].type", "类型"),
    ];
    for (button, field, needle) in cases {
        let (status, body) = post_json(&f.key, &path, json!({"button": button})).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        let msg = body["error"]["fields"][field]
            .as_str()
            .unwrap_or_else(|| panic!("an error on {field}: {body}"));
        assert!(msg.contains(needle), "{field}: {msg}");
    }
    // The reason in English too.
    let (_, body) = read_json(
        f.key
            .request(Method::POST, &path)
            .header(ACCEPT_LANGUAGE, "en")
            .json(&json!({"button": [{"name": "六个汉字太长", "type": "click"}]})),
    )
    .await;
    let msg = body["error"]["fields"]["button[0].name"]
        .as_str()
        .unwrap_or_default();
    assert!(msg.contains("16 bytes") && msg.contains("18"), "{msg}");
    assert_eq!(
        f.app.count("SELECT COUNT(*) FROM menus").await,
        0,
        "nothing was stored"
    );
    f.app.stop().await;
}

#[tokio::test]
async fn a_published_menu_is_what_wechat_serves() {
    let f = fixture().await;
    let (text, image, news) = library(&f.app, f.merchant).await;
    let path = menus_path(f.account.id);
    let (status, made) = post_json(
        &f.key,
        &path,
        json!({"button": full_menu(text, image, news)}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["published"], false);
    // Empty keys were generated, given ones kept.
    let subs = &made["button"][1]["sub_button"];
    assert!(
        subs[0]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("ZG_")),
        "{made}"
    );
    assert_eq!(made["button"][2]["sub_button"][2]["key"], "ALBUM");
    let id = made["id"].as_i64().expect("id");

    // Before publishing, WeChat has nothing.
    let (status, live) = read_json(f.key.request(Method::GET, &format!("{path}/live"))).await;
    assert_eq!(status, StatusCode::OK, "{live}");
    assert_eq!(live["has_menu"], false);
    assert_eq!(live["menus"][0]["at_wechat"], false);

    let (status, published) = post_json(&f.key, &format!("{path}/{id}/publish"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{published}");
    assert_eq!(published["published"], true);
    assert_eq!(published["up_to_date"], true);

    // menu/get gives back exactly our buttons, media and articles by WeChat's ids.
    let (status, live) = read_json(f.key.request(Method::GET, &format!("{path}/live"))).await;
    assert_eq!(status, StatusCode::OK, "{live}");
    assert_eq!(live["has_menu"], true, "{live}");
    assert_eq!(live["same"], true, "{live}");
    let wx = &live["menus"][0]["wechat_button"];
    assert_eq!(wx[0]["sub_button"][2]["type"], "media_id");
    assert!(
        wx[0]["sub_button"][2]["media_id"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(
        wx[2]["sub_button"][0]["article_id"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    // The image went to WeChat once, as permanent material, and is cached.
    let cached = zhanggui::library::wechat::cached_media_ids(&f.app.db, f.account.id)
        .await
        .expect("cache");
    assert_eq!(cached.len(), 1, "{cached:?}");
    assert_eq!(cached[0].0, image);

    // What the callback will answer CLICK events with.
    let replies = zhanggui::menus::click_replies(&f.app.db, f.account.id)
        .await
        .expect("replies");
    assert_eq!(replies, vec![("TODAY".to_string(), text)]);
    // And does: a follower's tap on 今日推荐 gets the library text (within the directory's
    // second).
    let follower = sandbox_follower(&f.app, &f.account.app_id).await;
    wait_until("the tap is answered with the button's item", 5, || async {
        sandbox_act(
            &f.app,
            &f.account.app_id,
            &follower,
            json!({"type": "click", "key": "TODAY"}),
        )
        .await["reply"]
            .as_str()
            .is_some_and(|r| r.contains("每天 8:00–22:00"))
    })
    .await;

    // A change not yet published shows in the comparison, with where.
    let mut edited = full_menu(text, image, news);
    edited[0]["sub_button"][0]["name"] = json!("明日推荐");
    edited[0]["sub_button"][0]["key"] = json!("TODAY");
    let (status, saved) = read_json(
        f.key
            .request(Method::PUT, &format!("{path}/{id}"))
            .json(&json!({"button": edited})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["up_to_date"], false);
    let (_, live) = read_json(f.key.request(Method::GET, &format!("{path}/live"))).await;
    assert_eq!(live["same"], false);
    let diffs = live["menus"][0]["differences"].as_array().expect("diffs");
    assert!(
        diffs.iter().any(|d| d["place"] == "1.1"
            && d["what"] == "name"
            && d["ours"] == "明日推荐"
            && d["wechat"] == "今日推荐"),
        "{live}"
    );
    // Publishing again brings WeChat in step; the material is not uploaded twice.
    let (status, _) = post_json(&f.key, &format!("{path}/{id}/publish"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, live) = read_json(f.key.request(Method::GET, &format!("{path}/live"))).await;
    assert_eq!(live["same"], true, "{live}");
    assert_eq!(
        zhanggui::library::wechat::cached_media_ids(&f.app.db, f.account.id)
            .await
            .expect("cache")
            .len(),
        1
    );

    // The library refuses to delete what the menu uses, naming the button.
    let (status, body) = read_json(
        f.key
            .request(Method::DELETE, &format!("/api/v1/library/items/{news}")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let msg = body["error"]["message"].as_str().unwrap_or_default();
    assert!(msg.contains("看图文") && msg.contains("菜单"), "{msg}");
    let (_, usages) = read_json(f.key.request(
        Method::GET,
        &format!("/api/v1/library/items/{image}/usages"),
    ))
    .await;
    assert!(usages.to_string().contains("新品海报"), "{usages}");
    f.app.stop().await;
}

#[tokio::test]
async fn an_unverified_subscription_account_is_refused_with_the_reason() {
    let f = fixture().await;
    let input = AccountInput {
        name: "未认证订阅号".into(),
        kind: "subscription".into(),
        verified: false,
        security_mode: "plaintext".into(),
        sandbox: Some(true),
        ..AccountInput::default()
    };
    let account = zhanggui::accounts::create(
        &f.app.db,
        f.merchant,
        &input,
        Mode::Sandbox,
        &f.app.base,
        f.app.now(),
    )
    .await
    .expect("account");
    let path = menus_path(account.id);
    let (status, made) = post_json(
        &f.key,
        &path,
        json!({"button": [{"name": "官网", "type": "view", "url": "https://a.example.com"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_i64().expect("id");
    let (status, body) = post_json(&f.key, &format!("{path}/{id}/publish"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let msg = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("48001") && msg.contains("未认证的订阅号"),
        "{msg}"
    );
    let (_, body) = read_json(
        f.key
            .request(Method::POST, &format!("{path}/{id}/publish"))
            .header(ACCEPT_LANGUAGE, "en"),
    )
    .await;
    let msg = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("48001") && msg.contains("Unverified subscription"),
        "{msg}"
    );
    let (_, got) = read_json(f.key.request(Method::GET, &format!("{path}/{id}"))).await;
    assert_eq!(got["published"], false, "nothing recorded as published");

    // The console shows the refusal on the editor, and warns before.
    f.app.user(f.merchant, "boss", Role::Owner).await;
    let s = f.app.sign_in("boss").await;
    let (status, _) = s
        .post_form("/switch", &[("account_id", &account.id.to_string())])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, page) = s.get(&format!("/menus/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("48001"), "the warning names the errcode");
    let (status, page) = s.post_form(&format!("/menus/{id}/publish"), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("menu-refusal") && page.contains("未认证的订阅号"),
        "{page}"
    );
    f.app.stop().await;
}

#[tokio::test]
async fn personalized_menus_follow_the_tag() {
    let f = fixture().await;
    let path = menus_path(f.account.id);
    let tag = zhanggui::tags::create(f.app.state(), f.merchant, f.account.id, "会员")
        .await
        .expect("tag");
    let (status, personal) = post_json(
        &f.key,
        &path,
        json!({"tag_id": tag.id, "button": [{"name": "会员中心", "type": "view",
                                             "url": "https://vip.example.com"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{personal}");
    assert_eq!(personal["kind"], "personalized");
    assert_eq!(personal["tag_name"], "会员");
    let pid = personal["id"].as_i64().expect("id");
    // A second menu for the same tag is refused on the field.
    let (status, body) = post_json(
        &f.key,
        &path,
        json!({"tag_id": tag.id, "button": [{"name": "x", "type": "click"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["fields"]["tag_id"].is_string(), "{body}");
    // WeChat needs the default menu first: we say so before asking.
    let (status, body) = post_json(&f.key, &format!("{path}/{pid}/publish"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("默认菜单")),
        "{body}"
    );
    let (_, default) = post_json(
        &f.key,
        &path,
        json!({"button": [{"name": "官网", "type": "view", "url": "https://www.example.com"}]}),
    )
    .await;
    let did = default["id"].as_i64().expect("id");
    for id in [did, pid] {
        let (status, body) = post_json(&f.key, &format!("{path}/{id}/publish"), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, got) = read_json(f.key.request(Method::GET, &format!("{path}/{pid}"))).await;
    assert!(
        got["wx_menuid"].as_str().is_some_and(|m| !m.is_empty()),
        "{got}"
    );
    let (_, live) = read_json(f.key.request(Method::GET, &format!("{path}/live"))).await;
    assert_eq!(live["same"], true, "{live}");
    assert_eq!(live["menus"].as_array().map(Vec::len), Some(2));

    // A follower carrying the tag sees the personalized menu; another the default one.
    let (_, made) = read_json(
        f.app
            .client()
            .post(
                f.app
                    .url(&format!("/sandbox/api/apps/{}/followers", f.account.app_id)),
            )
            .json(&json!({"count": 2})),
    )
    .await;
    let tagged = made["openids"][0].as_str().expect("openid").to_string();
    let other = made["openids"][1].as_str().expect("openid").to_string();
    let wechat = zhanggui::sandbox_mode::of(f.app.db.clone(), f.app.clock.clone());
    sandbox::tags::tag_for_app(
        &wechat,
        &f.account.app_id,
        tag.wx_tag_id,
        std::slice::from_ref(&tagged),
    )
    .await
    .expect("tag at WeChat");
    let menu_of = |openid: String| {
        let url = f.app.url(&format!(
            "/sandbox/api/apps/{}/followers/{openid}/menu",
            f.account.app_id
        ));
        let client = f.app.client();
        async move { read_json(client.get(url)).await.1 }
    };
    assert_eq!(
        menu_of(tagged.clone()).await["button"][0]["name"],
        "会员中心"
    );
    assert_eq!(menu_of(other).await["button"][0]["name"], "官网");

    // The default menu cannot go while a personalized one is left.
    let (status, _) = read_json(f.key.request(Method::DELETE, &format!("{path}/{did}"))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Deleting the personalized menu removes it at WeChat too.
    let (status, _) = read(f.key.request(Method::DELETE, &format!("{path}/{pid}"))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(menu_of(tagged).await["button"][0]["name"], "官网");
    let (_, live) = read_json(f.key.request(Method::GET, &format!("{path}/live"))).await;
    assert_eq!(live["menus"].as_array().map(Vec::len), Some(1), "{live}");
    f.app.stop().await;
}

#[tokio::test]
async fn taps_are_counted_from_the_callback() {
    let f = fixture().await;
    let path = menus_path(f.account.id);
    let (_, made) = post_json(
        &f.key,
        &path,
        json!({"button": [
            {"name": "签到", "type": "click", "key": "SIGN_IN"},
            {"name": "官网", "type": "view", "url": "https://www.example.com/"}
        ]}),
    )
    .await;
    let id = made["id"].as_i64().expect("id");
    let (status, _) = post_json(&f.key, &format!("{path}/{id}/publish"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, followers) = read_json(
        f.app
            .client()
            .post(
                f.app
                    .url(&format!("/sandbox/api/apps/{}/followers", f.account.app_id)),
            )
            .json(&json!({"count": 1})),
    )
    .await;
    let openid = followers["openids"][0]
        .as_str()
        .expect("openid")
        .to_string();
    let act = |action: Value| {
        let url = f.app.url(&format!(
            "/sandbox/api/apps/{}/followers/{openid}/actions",
            f.account.app_id
        ));
        let client = f.app.client();
        // Events are told apart by sender and second (a retry has the same): a second apart.
        f.app.clock.advance(1_100);
        async move {
            let (status, body) = read_json(client.post(url).json(&action)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
    };
    act(json!({"type": "click", "key": "SIGN_IN"})).await;
    act(json!({"type": "click", "key": "SIGN_IN"})).await;
    act(json!({"type": "view", "url": "https://www.example.com/"})).await;
    act(json!({"type": "click", "key": "NOT_OURS"})).await;
    let key = &f.key;
    let url = format!("{path}/{id}");
    assert_eq!(
        f.app
            .count("SELECT COUNT(*) FROM wx_messages WHERE kind IN ('event:click', 'event:view')")
            .await,
        4
    );
    wait_until("the taps are counted", 20, || async {
        let (_, m) = read_json(key.request(Method::GET, &url)).await;
        m["button"][0]["taps"] == 2 && m["button"][1]["taps"] == 1
    })
    .await;
    // Taps on keys no menu has (any more) are kept too.
    wait_until("the last tap is counted", 20, || async {
        f.app
            .count("SELECT CAST(COALESCE(SUM(clicks), 0) AS BIGINT) FROM menu_clicks WHERE target = 'NOT_OURS'")
            .await
            == 1
    })
    .await;
    // Counting again from the same rows adds nothing (the cursor moved).
    let pass = zhanggui::menus::jobs::project_once(&f.app.db, None, 1000)
        .await
        .expect("pass");
    assert_eq!(pass.taps, 0);
    let (_, m) = read_json(f.key.request(Method::GET, &url)).await;
    assert_eq!(m["button"][0]["taps"], 2);
    f.app.stop().await;
}

#[tokio::test]
async fn the_console_edits_publishes_and_compares() {
    let f = fixture().await;
    f.app.user(f.merchant, "boss", Role::Owner).await;
    let s = f.app.sign_in("boss").await;
    let (status, page) = s.get("/menus").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("/menus/new"),
        "the empty state offers the first menu"
    );
    let (status, page) = s.get("/menus/new").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("id=\"menu-data\"") && page.contains("name=\"buttons\""));
    let account = f.account.id.to_string();
    // Malformed JSON and a name over the limit come back on the form.
    let (status, page) = s
        .post_form(
            "/menus",
            &[("account_id", &account), ("tag_id", ""), ("buttons", "[{")],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("JSON"), "{page}");
    let long = json!([{"name": "六个汉字太长", "type": "click"}]).to_string();
    let (status, page) = s
        .post_form(
            "/menus",
            &[("account_id", &account), ("tag_id", ""), ("buttons", &long)],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("菜单 1 · 名称") && page.contains("16 字节"),
        "{page}"
    );
    let good =
        json!([{"name": "官网", "type": "view", "url": "https://www.example.com"}]).to_string();
    let (status, _) = s
        .post_form(
            "/menus",
            &[("account_id", &account), ("tag_id", ""), ("buttons", &good)],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let id = f.app.count("SELECT id FROM menus").await;
    let (status, _) = s.post_form(&format!("/menus/{id}/publish"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, page) = s.get("/menus/live").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("完全一致"), "{page}");
    let (status, page) = s.get("/menus").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("已发布") && page.contains("https://www.example.com"));
    f.app.stop().await;
}

#[tokio::test]
async fn another_merchants_menus_do_not_exist() {
    let f = fixture().await;
    let (_, made) = post_json(
        &f.key,
        &menus_path(f.account.id),
        json!({"button": [{"name": "秘密菜单", "type": "click"}]}),
    )
    .await;
    let id = made["id"].as_i64().expect("id");
    let other = f.app.merchant("别家").await;
    let other_account = f.app.account(other, "别家号").await;
    let (_, key) = f.app.api_key(other, "other", Role::Owner).await;
    let other_key = f.app.key(&key);
    let theirs = menus_path(f.account.id);
    for (method, path) in [
        (Method::GET, theirs.clone()),
        (Method::GET, format!("{theirs}/{id}")),
        (Method::GET, format!("{theirs}/live")),
        (Method::PUT, format!("{theirs}/{id}")),
        (Method::POST, format!("{theirs}/{id}/publish")),
        (Method::DELETE, format!("{theirs}/{id}")),
        // Through their own account, our menu id is not found either.
        (
            Method::GET,
            format!("{}/{id}", menus_path(other_account.id)),
        ),
        (
            Method::POST,
            format!("{}/{id}/publish", menus_path(other_account.id)),
        ),
    ] {
        let (status, body) = read(
            other_key
                .request(method.clone(), &path)
                .json(&json!({"button": [{"name": "x", "type": "click"}]})),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        assert!(!body.contains("秘密菜单"));
    }
    assert_eq!(f.app.count("SELECT COUNT(*) FROM menus").await, 1);
    f.app.stop().await;
}

/// Most of the log is plain messages: a pass over them has nothing to count, and must still
/// move the menus' and the channels' cursors (in one statement, without a transaction), or
/// every later pass would read the same rows again.
#[tokio::test]
async fn passes_over_messages_alone_move_the_cursors() {
    let app = TestApp::spawn().await;
    let m = app.merchant("消息商户").await;
    let account = app.account(m, "消息服务号").await;
    let now = app.now();
    let history: Vec<(String, i64)> = (1..=40u64)
        .map(|i| {
            let xml = format!(
                "<xml><ToUserName><![CDATA[gh_test]]></ToUserName>\
                 <FromUserName><![CDATA[o{i:04}]]></FromUserName>\
                 <CreateTime>{}</CreateTime><MsgType><![CDATA[text]]></MsgType>\
                 <Content><![CDATA[你好 {i}]]></Content><MsgId>{i}</MsgId></xml>",
                now / 1000
            );
            (xml, now)
        })
        .collect();
    let logged =
        zhanggui::messages::log_as_received(&app.db, m, account.id, &Default::default(), &history)
            .await
            .expect("log");
    assert_eq!(logged, 40);
    let newest = app.count("SELECT MAX(id) FROM wx_messages").await;
    for name in ["menus", "channels"] {
        wait_until(
            &format!("the {name} cursor reaches the newest row"),
            20,
            || async {
                app.count(&format!(
                    "SELECT last_id FROM log_projections WHERE name = '{name}'"
                ))
                .await
                    == newest
            },
        )
        .await;
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM menu_clicks").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM channel_days").await, 0);
    app.stop().await;
}
