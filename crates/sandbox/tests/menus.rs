//! Custom menus and conditional menus, as WeChat answers them.

mod common;

use axum::http::StatusCode;
use common::{Wx, errcode};
use sandbox::menus;
use serde_json::{Value, json};

/// Asserts WeChat's error: the code, and the message before the request id.
#[track_caller]
fn assert_wx_error(v: &Value, code: i64, msg: &str) {
    assert_eq!(errcode(v), code, "{v}");
    let errmsg = v["errmsg"].as_str().unwrap_or_default();
    assert!(
        errmsg.starts_with(&format!("{msg} rid: ")),
        "errmsg of {code} should be {msg:?}: {v}"
    );
}

#[track_caller]
fn assert_ok(v: &Value) {
    assert_eq!(v, &json!({"errcode": 0, "errmsg": "ok"}));
}

/// The example of WeChat's menu documentation, with every kind of button.
fn documented_menu() -> Value {
    json!({"button": [
        {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
        {"name": "菜单", "sub_button": [
            {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
            {"type": "miniprogram", "name": "wxa", "url": "http://mp.weixin.qq.com",
             "appid": "wx286b93c14bbf93aa", "pagepath": "pages/lunar/index"},
            {"type": "click", "name": "赞一下我们", "key": "V1001_GOOD"},
            {"type": "scancode_waitmsg", "name": "扫码带提示", "key": "rselfmenu_0_0", "sub_button": []},
            {"type": "pic_weixin", "name": "微信相册发图", "key": "rselfmenu_1_2", "sub_button": []}
        ]},
        {"name": "发送", "sub_button": [
            {"type": "location_select", "name": "发送位置", "key": "rselfmenu_2_0"},
            {"type": "media_id", "name": "图片", "media_id": "MEDIA_ID1"},
            {"type": "article_id", "name": "文章", "article_id": "ARTICLE_ID1"},
            {"type": "pic_sysphoto", "name": "系统拍照发图", "key": "rselfmenu_1_0"},
            {"type": "scancode_push", "name": "扫码推事件", "key": "rselfmenu_0_1"}
        ]}
    ]})
}

/// The same menu as `menu/get` gives it back: every button with its `sub_button` list.
fn documented_menu_as_stored() -> Value {
    json!([
        {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC", "sub_button": []},
        {"name": "菜单", "sub_button": [
            {"type": "view", "name": "搜索", "url": "http://www.soso.com/", "sub_button": []},
            {"type": "miniprogram", "name": "wxa", "url": "http://mp.weixin.qq.com",
             "appid": "wx286b93c14bbf93aa", "pagepath": "pages/lunar/index", "sub_button": []},
            {"type": "click", "name": "赞一下我们", "key": "V1001_GOOD", "sub_button": []},
            {"type": "scancode_waitmsg", "name": "扫码带提示", "key": "rselfmenu_0_0", "sub_button": []},
            {"type": "pic_weixin", "name": "微信相册发图", "key": "rselfmenu_1_2", "sub_button": []}
        ]},
        {"name": "发送", "sub_button": [
            {"type": "location_select", "name": "发送位置", "key": "rselfmenu_2_0", "sub_button": []},
            {"type": "media_id", "name": "图片", "media_id": "MEDIA_ID1", "sub_button": []},
            {"type": "article_id", "name": "文章", "article_id": "ARTICLE_ID1", "sub_button": []},
            {"type": "pic_sysphoto", "name": "系统拍照发图", "key": "rselfmenu_1_0", "sub_button": []},
            {"type": "scancode_push", "name": "扫码推事件", "key": "rselfmenu_0_1", "sub_button": []}
        ]}
    ])
}

fn one_click(name: &str, key: &str) -> Value {
    json!({"button": [{"type": "click", "name": name, "key": key}]})
}

async fn create_menu(wx: &Wx, app: &str, menu: &Value) -> Value {
    wx.call(app, "/cgi-bin/menu/create", Some(menu)).await
}

async fn create_tag(wx: &Wx, app: &str, name: &str) -> i64 {
    let v = wx
        .call(
            app,
            "/cgi-bin/tags/create",
            Some(&json!({"tag": {"name": name}})),
        )
        .await;
    v["tag"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no tag: {v}"))
}

async fn tag(wx: &Wx, app: &str, tagid: i64, openids: &[&String]) {
    let v = wx
        .call(
            app,
            "/cgi-bin/tags/members/batchtagging",
            Some(&json!({"openid_list": openids, "tagid": tagid})),
        )
        .await;
    assert_ok(&v);
}

#[tokio::test]
async fn the_documented_menu_is_created_and_read_back_field_by_field() {
    let wx = Wx::new();
    assert_ok(&create_menu(&wx, "wxservice", &documented_menu()).await);
    let got = wx.call("wxservice", "/cgi-bin/menu/get", None).await;
    assert_eq!(
        got,
        json!({"menu": {"button": documented_menu_as_stored()}})
    );

    // A new menu replaces the old one.
    assert_ok(&create_menu(&wx, "wxservice", &one_click("新", "K")).await);
    let got = wx.call("wxservice", "/cgi-bin/menu/get", None).await;
    assert_eq!(
        got["menu"]["button"],
        json!([{"type": "click", "name": "新", "key": "K", "sub_button": []}])
    );
}

#[tokio::test]
async fn a_button_keeps_only_what_its_type_uses() {
    let wx = Wx::new();
    let menu = json!({"button": [
        {"type": "click", "name": "A", "key": "K", "url": "https://ignored.example.com"},
        {"type": "view", "name": "B", "url": "https://example.com", "sub_button": [
            {"type": "click", "name": "C", "key": "K2"}
        ]}
    ]});
    assert_ok(&create_menu(&wx, "wxservice", &menu).await);
    let got = wx.call("wxservice", "/cgi-bin/menu/get", None).await;
    assert_eq!(
        got["menu"]["button"],
        json!([
            {"type": "click", "name": "A", "key": "K", "sub_button": []},
            {"name": "B", "sub_button": [{"type": "click", "name": "C", "key": "K2", "sub_button": []}]}
        ]),
        "a parent's own type is ignored"
    );
}

#[tokio::test]
async fn menu_limits_have_wechats_codes() {
    let wx = Wx::new();
    let app = "wxservice";
    let click = |name: &str| json!({"type": "click", "name": name, "key": "K"});
    let check = |menu: Value, code: i64, msg: &'static str| {
        let wx = &wx;
        async move {
            let v = create_menu(wx, app, &menu).await;
            assert_wx_error(&v, code, msg);
        }
    };
    check(json!({"button": []}), 40016, "invalid button size").await;
    check(json!({}), 40016, "invalid button size").await;
    check(
        json!({"button": [click("a"), click("b"), click("c"), click("d")]}),
        40016,
        "invalid button size",
    )
    .await;
    let six: Vec<Value> = (0..6).map(|i| click(&format!("s{i}"))).collect();
    check(
        json!({"button": [{"name": "p", "sub_button": six}]}),
        40023,
        "invalid sub button size",
    )
    .await;
    check(
        json!({"button": [{"name": "p", "sub_button": [{"name": "q", "sub_button": [click("r")]}]}]}),
        40022,
        "invalid sub_menu level",
    )
    .await;

    // Names: top ≤ 16 bytes, sub ≤ 60 bytes; 菜 is 3 bytes.
    assert_ok(&create_menu(&wx, app, &json!({"button": [click("一二三四五a")]})).await);
    check(
        json!({"button": [click("一二三四五六")]}),
        40018,
        "invalid button name size",
    )
    .await;
    check(
        json!({"button": [click("")]}),
        40018,
        "invalid button name size",
    )
    .await;
    let sub_ok = "菜".repeat(20);
    let sub_long = format!("{sub_ok}x");
    assert_ok(
        &create_menu(
            &wx,
            app,
            &json!({"button": [{"name": "p", "sub_button": [click(&sub_ok)]}]}),
        )
        .await,
    );
    check(
        json!({"button": [{"name": "p", "sub_button": [click(&sub_long)]}]}),
        40025,
        "invalid sub button name size",
    )
    .await;

    // Keys ≤ 128 bytes, present for key types.
    let key_ok = "k".repeat(128);
    let key_long = "k".repeat(129);
    let with_key = |key: &str| json!({"type": "click", "name": "n", "key": key});
    assert_ok(&create_menu(&wx, app, &json!({"button": [with_key(&key_ok)]})).await);
    check(
        json!({"button": [with_key(&key_long)]}),
        40019,
        "invalid button key size",
    )
    .await;
    check(
        json!({"button": [{"type": "scancode_push", "name": "n"}]}),
        40019,
        "invalid button key size",
    )
    .await;
    check(
        json!({"button": [{"name": "p", "sub_button": [with_key(&key_long)]}]}),
        40026,
        "invalid sub button key size",
    )
    .await;

    // Urls ≤ 1024 bytes, http(s) with a host.
    let url_ok = format!("https://example.com/{}", "a".repeat(1024 - 20));
    let url_long = format!("{url_ok}a");
    let view = |url: &str| json!({"type": "view", "name": "v", "url": url});
    assert_ok(&create_menu(&wx, app, &json!({"button": [view(&url_ok)]})).await);
    check(
        json!({"button": [view(&url_long)]}),
        40020,
        "invalid button url size",
    )
    .await;
    check(
        json!({"button": [view("")]}),
        40020,
        "invalid button url size",
    )
    .await;
    check(
        json!({"button": [{"name": "p", "sub_button": [view(&url_long)]}]}),
        40027,
        "invalid sub button url size",
    )
    .await;
    check(
        json!({"button": [view("ftp://example.com")]}),
        40055,
        "invalid button url domain",
    )
    .await;
    check(
        json!({"button": [{"name": "p", "sub_button": [view("example.com")]}]}),
        40054,
        "invalid sub button url domain",
    )
    .await;

    // Types.
    check(
        json!({"button": [{"type": "dance", "name": "d", "key": "K"}]}),
        40017,
        "invalid button type",
    )
    .await;
    check(
        json!({"button": [{"name": "no type"}]}),
        40017,
        "invalid button type",
    )
    .await;
    check(
        json!({"button": [{"name": "p", "sub_button": [{"type": "text", "name": "t"}]}]}),
        40024,
        "invalid sub button type",
    )
    .await;

    // What each type needs.
    check(
        json!({"button": [{"type": "media_id", "name": "m"}]}),
        40007,
        "invalid media_id",
    )
    .await;
    check(
        json!({"button": [{"type": "view_limited", "name": "m", "media_id": ""}]}),
        40007,
        "invalid media_id",
    )
    .await;
    check(
        json!({"button": [{"type": "article_view_limited", "name": "a"}]}),
        53600,
        "invalid article_id",
    )
    .await;
    let mini = json!({"type": "miniprogram", "name": "m", "url": "https://example.com",
                      "appid": "wx286b93c14bbf93aa", "pagepath": "pages/index"});
    let without = |field: &str| {
        let mut b = mini.clone();
        if let Some(o) = b.as_object_mut() {
            o.remove(field);
        }
        json!({"button": [b]})
    };
    assert_ok(&create_menu(&wx, app, &json!({"button": [mini.clone()]})).await);
    check(without("appid"), 40166, "invalid weapp appid").await;
    check(without("pagepath"), 40165, "invalid weapp pagepath").await;
    check(without("url"), 40020, "invalid button url size").await;
}

#[tokio::test]
async fn menu_bodies_are_read_as_wechat_reads_them() {
    let wx = Wx::new();
    let token = wx.cached_token("wxservice").await;
    let url = format!("/cgi-bin/menu/create?access_token={token}");
    let (_, v) = wx.post_raw(&url, Vec::new()).await;
    assert_wx_error(&v, 44002, "empty post data");
    let (_, v) = wx.post_raw(&url, b"{\"button\": [".to_vec()).await;
    assert_eq!(errcode(&v), 47001, "{v}");
    let escaped = br#"{"button":[{"type":"click","name":"\u83dc\u5355","key":"K"}]}"#;
    let (_, v) = wx.post_raw(&url, escaped.to_vec()).await;
    assert_eq!(errcode(&v), 40033, "WeChat refuses \\u escapes: {v}");
}

#[tokio::test]
async fn get_and_delete_without_and_with_a_menu() {
    let wx = Wx::new();
    let v = wx.call("wxservice", "/cgi-bin/menu/get", None).await;
    assert_wx_error(&v, 46003, "menu no exist");
    // Deleting nothing succeeds.
    assert_ok(&wx.call("wxservice", "/cgi-bin/menu/delete", None).await);

    assert_ok(&create_menu(&wx, "wxservice", &one_click("a", "K")).await);
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/menu/addconditional",
            Some(
                &json!({"button": [{"type": "click", "name": "b", "key": "K2"}],
                         "matchrule": {"tag_id": "2"}}),
            ),
        )
        .await;
    assert!(v["menuid"].is_string(), "{v}");
    assert_ok(&wx.call("wxservice", "/cgi-bin/menu/delete", None).await);
    let v = wx.call("wxservice", "/cgi-bin/menu/get", None).await;
    assert_wx_error(&v, 46003, "menu no exist");
    // Conditional menus went with the default one.
    let v = wx
        .call(
            "wxservice",
            "/cgi-bin/menu/addconditional",
            Some(
                &json!({"button": [{"type": "click", "name": "b", "key": "K2"}],
                         "matchrule": {"tag_id": "2"}}),
            ),
        )
        .await;
    assert_wx_error(
        &v,
        65303,
        "there is no selfmenu, please create selfmenu first",
    );
    // Other apps have their own menus.
    assert_ok(&create_menu(&wx, "wxsubscribe", &one_click("s", "K")).await);
    let v = wx.call("wxservice", "/cgi-bin/menu/get", None).await;
    assert_eq!(errcode(&v), 46003, "{v}");
}

#[tokio::test]
async fn conditional_menus_are_added_listed_and_deleted() {
    let wx = Wx::new();
    let app = "wxservice";
    let conditional = json!({
        "button": [
            {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
            {"name": "菜单", "sub_button": [
                {"type": "view", "name": "搜索", "url": "http://www.soso.com/"}
            ]}
        ],
        "matchrule": {"tag_id": "2", "client_platform_type": "2"}
    });
    let v = wx
        .call(app, "/cgi-bin/menu/addconditional", Some(&conditional))
        .await;
    assert_wx_error(
        &v,
        65303,
        "there is no selfmenu, please create selfmenu first",
    );

    assert_ok(&create_menu(&wx, app, &one_click("默认", "D")).await);
    let mut no_rule = conditional.clone();
    if let Some(o) = no_rule.as_object_mut() {
        o.remove("matchrule");
    }
    let v = wx
        .call(app, "/cgi-bin/menu/addconditional", Some(&no_rule))
        .await;
    assert_wx_error(&v, 65304, "match rule empty");
    let mut private = conditional.clone();
    private["matchrule"] = json!({"tag_id": "2", "sex": "1", "country": "中国"});
    let v = wx
        .call(app, "/cgi-bin/menu/addconditional", Some(&private))
        .await;
    assert_eq!(errcode(&v), 65320, "rules on private data are refused: {v}");
    let mut bad_button = conditional.clone();
    bad_button["button"] = json!([]);
    let v = wx
        .call(app, "/cgi-bin/menu/addconditional", Some(&bad_button))
        .await;
    assert_wx_error(&v, 40016, "invalid button size");

    let v = wx
        .call(app, "/cgi-bin/menu/addconditional", Some(&conditional))
        .await;
    let menuid = v["menuid"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        v,
        json!({"menuid": menuid}),
        "the answer is the menuid alone, a string"
    );
    let id: i64 = menuid.parse().expect("a numeric menuid");

    let got = wx.call(app, "/cgi-bin/menu/get", None).await;
    let default_id = got["menu"]["menuid"]
        .as_i64()
        .expect("the default menu's id");
    assert_ne!(default_id, id);
    assert_eq!(
        got,
        json!({
            "menu": {
                "button": [{"type": "click", "name": "默认", "key": "D", "sub_button": []}],
                "menuid": default_id
            },
            "conditionalmenu": [{
                "button": [
                    {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC", "sub_button": []},
                    {"name": "菜单", "sub_button": [
                        {"type": "view", "name": "搜索", "url": "http://www.soso.com/", "sub_button": []}
                    ]}
                ],
                "matchrule": {"tag_id": "2", "client_platform_type": "2"},
                "menuid": id
            }]
        })
    );

    // Numbers are taken where WeChat's examples have strings.
    let v = wx
        .call(
            app,
            "/cgi-bin/menu/addconditional",
            Some(
                &json!({"button": [{"type": "click", "name": "n", "key": "N"}],
                         "matchrule": {"tag_id": 2}}),
            ),
        )
        .await;
    let second: i64 = v["menuid"]
        .as_str()
        .and_then(|m| m.parse().ok())
        .expect("menuid");
    assert!(second > id, "menu ids count up");

    let v = wx
        .call(
            app,
            "/cgi-bin/menu/delconditional",
            Some(&json!({"menuid": "1"})),
        )
        .await;
    assert_wx_error(&v, 65301, "this menu is not conditionalmenu");
    let v = wx
        .call(
            app,
            "/cgi-bin/menu/delconditional",
            Some(&json!({"menuid": default_id})),
        )
        .await;
    assert_wx_error(&v, 65301, "this menu is not conditionalmenu");
    assert_ok(
        &wx.call(
            app,
            "/cgi-bin/menu/delconditional",
            Some(&json!({"menuid": menuid})),
        )
        .await,
    );
    assert_ok(
        &wx.call(
            app,
            "/cgi-bin/menu/delconditional",
            Some(&json!({"menuid": second})),
        )
        .await,
    );
    let got = wx.call(app, "/cgi-bin/menu/get", None).await;
    assert_eq!(
        got,
        json!({"menu": {"button": [{"type": "click", "name": "默认", "key": "D", "sub_button": []}]}}),
        "without conditional menus, neither they nor the default menu's id are shown"
    );
}

#[tokio::test]
async fn conditional_menus_link_to_at_most_three_domains() {
    let wx = Wx::new();
    let app = "wxservice";
    assert_ok(&create_menu(&wx, app, &one_click("默认", "D")).await);
    let linking = |hosts: &[&str]| {
        let buttons: Vec<Value> = hosts
            .iter()
            .map(|h| json!({"type": "view", "name": "v", "url": format!("https://{h}/x")}))
            .collect();
        json!({"button": buttons, "matchrule": {"tag_id": "2"}})
    };
    let v = wx
        .call(
            app,
            "/cgi-bin/menu/addconditional",
            Some(&linking(&["a.com", "b.com"])),
        )
        .await;
    assert!(v["menuid"].is_string(), "{v}");
    let v = wx
        .call(
            app,
            "/cgi-bin/menu/addconditional",
            Some(&linking(&["B.com", "c.com"])),
        )
        .await;
    assert!(
        v["menuid"].is_string(),
        "hosts are compared without case: {v}"
    );
    let v = wx
        .call(
            app,
            "/cgi-bin/menu/addconditional",
            Some(&linking(&["d.com"])),
        )
        .await;
    assert_wx_error(&v, 65316, "domain count reach limit");
    // The default menu does not count.
    let default = json!({"button": [
        {"type": "view", "name": "x", "url": "https://x.com"},
        {"type": "view", "name": "y", "url": "https://y.com"},
        {"type": "view", "name": "z", "url": "https://z.com"}
    ]});
    assert_ok(&create_menu(&wx, app, &default).await);
}

#[tokio::test]
async fn trymatch_and_the_phone_simulator_see_the_menu_a_follower_sees() {
    let wx = Wx::new();
    let app = "wxservice";
    let openids = wx.followers(app, 3).await;
    let (plain, vip, both) = (&openids[0], &openids[1], &openids[2]);
    let try_match = |user: &str| {
        let wx = &wx;
        let body = json!({"user_id": user});
        async move { wx.call(app, "/cgi-bin/menu/trymatch", Some(&body)).await }
    };

    let v = try_match(plain).await;
    assert_wx_error(
        &v,
        65303,
        "there is no selfmenu, please create selfmenu first",
    );
    assert_eq!(
        menus::menu_for(&wx.sandbox, app, plain)
            .await
            .expect("store"),
        None
    );

    assert_ok(&create_menu(&wx, app, &one_click("默认", "D")).await);
    let vip_tag = create_tag(&wx, app, "VIP").await;
    let new_tag = create_tag(&wx, app, "新客").await;
    tag(&wx, app, vip_tag, &[vip, both]).await;
    tag(&wx, app, new_tag, &[both]).await;
    let vip_menu = json!({"button": [{"type": "click", "name": "VIP", "key": "V"}],
                          "matchrule": {"tag_id": vip_tag.to_string()}});
    let v = wx
        .call(app, "/cgi-bin/menu/addconditional", Some(&vip_menu))
        .await;
    let vip_menuid: i64 = v["menuid"]
        .as_str()
        .and_then(|m| m.parse().ok())
        .expect("menuid");
    let new_menu = json!({"button": [{"type": "click", "name": "新客", "key": "N"}],
                          "matchrule": {"tag_id": new_tag.to_string()}});
    let v = wx
        .call(app, "/cgi-bin/menu/addconditional", Some(&new_menu))
        .await;
    let new_menuid: i64 = v["menuid"]
        .as_str()
        .and_then(|m| m.parse().ok())
        .expect("menuid");

    let default_buttons = json!([{"type": "click", "name": "默认", "key": "D", "sub_button": []}]);
    let vip_buttons = json!([{"type": "click", "name": "VIP", "key": "V", "sub_button": []}]);
    let new_buttons = json!([{"type": "click", "name": "新客", "key": "N", "sub_button": []}]);
    assert_eq!(try_match(plain).await, json!({"button": default_buttons}));
    assert_eq!(try_match(vip).await, json!({"button": vip_buttons}));
    // Several tags: the last one applied decides.
    assert_eq!(try_match(both).await, json!({"button": new_buttons}));

    let seen = |openid: &String| {
        let wx = &wx;
        let openid = openid.clone();
        async move {
            menus::menu_for(&wx.sandbox, app, &openid)
                .await
                .expect("store")
                .expect("a menu")
        }
    };
    let view = seen(plain).await;
    assert_eq!((json!(view.button), view.menuid), (default_buttons, None));
    let view = seen(vip).await;
    assert_eq!(
        (json!(view.button), view.menuid),
        (vip_buttons.clone(), Some(vip_menuid))
    );
    assert_eq!(seen(both).await.menuid, Some(new_menuid));
    assert_eq!(
        json!(seen(vip).await),
        json!({"button": vip_buttons, "menuid": vip_menuid}),
        "the view serializes as WeChat's menu shape"
    );

    // The newest matching conditional menu wins.
    let newer_vip = json!({"button": [{"type": "click", "name": "VIP2", "key": "V2"}],
                           "matchrule": {"tag_id": vip_tag}});
    wx.call(app, "/cgi-bin/menu/addconditional", Some(&newer_vip))
        .await;
    assert_eq!(try_match(vip).await["button"][0]["name"], "VIP2");

    let v = try_match("o-nobody").await;
    assert_wx_error(&v, 65302, "no such user");
    let (status, gone) = wx
        .post(
            &format!("/api/apps/{app}/followers"),
            &json!({"count": 1, "subscribed": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let gone = gone["openids"][0].as_str().unwrap_or_default().to_string();
    let v = try_match(&gone).await;
    assert_wx_error(&v, 65315, "not fans");
}

#[tokio::test]
async fn platform_rules_do_not_pick_simulated_followers() {
    let wx = Wx::new();
    let app = "wxservice";
    let openids = wx.followers(app, 1).await;
    assert_ok(&create_menu(&wx, app, &one_click("默认", "D")).await);
    let tagid = create_tag(&wx, app, "安卓").await;
    tag(&wx, app, tagid, &[&openids[0]]).await;
    let menu = json!({"button": [{"type": "click", "name": "A", "key": "A"}],
                      "matchrule": {"tag_id": tagid.to_string(), "client_platform_type": "2"}});
    wx.call(app, "/cgi-bin/menu/addconditional", Some(&menu))
        .await;
    let v = wx
        .call(
            app,
            "/cgi-bin/menu/trymatch",
            Some(&json!({"user_id": openids[0]})),
        )
        .await;
    assert_eq!(v["button"][0]["name"], "默认", "{v}");
}

#[tokio::test]
async fn the_current_selfmenu_info_has_its_own_shape() {
    let wx = Wx::new();
    let v = wx
        .call("wxservice", "/cgi-bin/get_current_selfmenu_info", None)
        .await;
    assert_eq!(
        v,
        json!({"is_menu_open": 0, "selfmenu_info": {"button": []}})
    );

    let menu = json!({"button": [
        {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
        {"name": "菜单", "sub_button": [
            {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
            {"type": "miniprogram", "name": "wxa", "url": "http://mp.weixin.qq.com",
             "appid": "wx286b93c14bbf93aa", "pagepath": "pages/lunar/index"}
        ]}
    ]});
    assert_ok(&create_menu(&wx, "wxservice", &menu).await);
    let v = wx
        .call("wxservice", "/cgi-bin/get_current_selfmenu_info", None)
        .await;
    assert_eq!(
        v,
        json!({
            "is_menu_open": 1,
            "selfmenu_info": {"button": [
                {"type": "click", "name": "今日歌曲", "key": "V1001_TODAY_MUSIC"},
                {"name": "菜单", "sub_button": {"list": [
                    {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
                    {"type": "miniprogram", "name": "wxa", "url": "http://mp.weixin.qq.com",
                     "appid": "wx286b93c14bbf93aa", "pagepath": "pages/lunar/index"}
                ]}}
            ]}
        })
    );
}

#[tokio::test]
async fn menu_rights_follow_the_account_type() {
    let wx = Wx::new();
    let menu = one_click("a", "K");
    let conditional = json!({"button": [{"type": "click", "name": "b", "key": "K"}],
                             "matchrule": {"tag_id": "2"}});

    // An unverified subscription account has no menu API at all…
    for (path, body) in [
        ("/cgi-bin/menu/create", Some(&menu)),
        ("/cgi-bin/menu/get", None),
        ("/cgi-bin/menu/delete", None),
        ("/cgi-bin/menu/addconditional", Some(&conditional)),
        ("/cgi-bin/menu/trymatch", Some(&json!({"user_id": "o"}))),
    ] {
        let v = wx.call("wxpersonal", path, body).await;
        assert_wx_error(&v, 48001, "api unauthorized");
    }
    // …but may read its menu configuration, as every account may.
    let v = wx
        .call("wxpersonal", "/cgi-bin/get_current_selfmenu_info", None)
        .await;
    assert_eq!(v["is_menu_open"], 0, "{v}");

    // An unverified service account has menus, but not conditional ones.
    assert_ok(&create_menu(&wx, "wxunverifiedsvc", &menu).await);
    let v = wx.call("wxunverifiedsvc", "/cgi-bin/menu/get", None).await;
    assert_eq!(v["menu"]["button"][0]["name"], "a", "{v}");
    for (path, body) in [
        ("/cgi-bin/menu/addconditional", json!(conditional)),
        ("/cgi-bin/menu/delconditional", json!({"menuid": "1"})),
        ("/cgi-bin/menu/trymatch", json!({"user_id": "o"})),
    ] {
        let v = wx.call("wxunverifiedsvc", path, Some(&body)).await;
        assert_wx_error(&v, 48001, "api unauthorized");
    }
    assert_ok(
        &wx.call("wxunverifiedsvc", "/cgi-bin/menu/delete", None)
            .await,
    );

    // Verified accounts of both kinds have everything.
    for app in ["wxsubscribe", "wxservice"] {
        assert_ok(&create_menu(&wx, app, &menu).await);
        let v = wx
            .call(app, "/cgi-bin/menu/addconditional", Some(&conditional))
            .await;
        assert!(v["menuid"].is_string(), "{app}: {v}");
    }
}

#[tokio::test]
async fn menu_create_has_a_daily_quota_of_a_thousand() {
    let wx = Wx::new();
    let menu = one_click("a", "K");
    for _ in 0..1000 {
        assert_ok(&create_menu(&wx, "wxservice", &menu).await);
    }
    let v = create_menu(&wx, "wxservice", &menu).await;
    assert_eq!(errcode(&v), 45009, "{v}");
    // Reading is counted apart.
    let v = wx.call("wxservice", "/cgi-bin/menu/get", None).await;
    assert_eq!(errcode(&v), 0, "{v}");
}
