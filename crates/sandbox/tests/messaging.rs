//! Customer-service, mass and template messages and follower inboxes, as WeChat behaves:
//! shapes, windows, quotas, the account-type matrix, and the job events posted to a real
//! callback.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use common::{START_MS, Wx, errcode};
use sandbox::followers;
use serde_json::{Value, json};

const CUSTOM_SEND: &str = "/cgi-bin/message/custom/send";
const TYPING: &str = "/cgi-bin/message/custom/typing";
const SENDALL: &str = "/cgi-bin/message/mass/sendall";
const MASS_SEND: &str = "/cgi-bin/message/mass/send";
const PREVIEW: &str = "/cgi-bin/message/mass/preview";
const MASS_GET: &str = "/cgi-bin/message/mass/get";
const MASS_DELETE: &str = "/cgi-bin/message/mass/delete";
const TEMPLATE_SEND: &str = "/cgi-bin/message/template/send";
const HOUR_MS: i64 = 3600 * 1000;

/// `path` called as `app` with a token fetched now: these tests move the clock by days, past
/// the life of any cached token.
async fn call(wx: &Wx, app: &str, path: &str, body: Option<&Value>) -> Value {
    let token = wx.token(app).await;
    let url = format!("{path}?access_token={token}");
    match body {
        Some(b) => wx.post(&url, b).await.1,
        None => wx.get(&url).await.1,
    }
}

/// What the follower does, through the sandbox's own API.
async fn act(wx: &Wx, app: &str, openid: &str, action: Value) {
    let (status, v) = wx
        .post(
            &format!("/api/apps/{app}/followers/{openid}/actions"),
            &action,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{action} → {v}");
}

async fn says(wx: &Wx, app: &str, openid: &str) {
    act(wx, app, openid, json!({"type": "text", "content": "在吗"})).await;
}

async fn inbox(wx: &Wx, app: &str, openid: &str) -> Vec<Value> {
    let (status, v) = wx
        .get(&format!("/api/apps/{app}/followers/{openid}/inbox"))
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v["items"].as_array().cloned().expect("items")
}

/// Polls the inbox until it holds `n` items (background jobs fill it).
async fn wait_for_inbox(wx: &Wx, app: &str, openid: &str, n: usize) -> Vec<Value> {
    for _ in 0..500 {
        let items = inbox(wx, app, openid).await;
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{openid} never got {n} items");
}

async fn change_follower(
    wx: &Wx,
    app: &str,
    openid: &str,
    change: impl Fn(&mut followers::Follower),
) {
    followers::update(&wx.sandbox, app, openid, change)
        .await
        .expect("store")
        .expect("follower exists");
}

fn text_message(openid: &str, content: &str) -> Value {
    json!({"touser": openid, "msgtype": "text", "text": {"content": content}})
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

/// A merchant callback on a real socket that records what WeChat posts and answers
/// `success`.
#[derive(Clone, Default)]
struct Callback {
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Callback {
    async fn start() -> (String, Callback) {
        let callback = Callback::default();
        let bodies = callback.bodies.clone();
        let app = axum::Router::new().route(
            "/wx/callback",
            axum::routing::post(move |body: String| {
                let bodies = bodies.clone();
                async move {
                    bodies.lock().expect("bodies").push(body);
                    "success"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        (format!("http://{addr}/wx/callback"), callback)
    }

    /// The first posted body containing `needle`, waiting for it a bounded time.
    async fn wait_for(&self, needle: &str) -> String {
        for _ in 0..500 {
            let found = self
                .bodies
                .lock()
                .expect("bodies")
                .iter()
                .find(|b| b.contains(needle))
                .cloned();
            if let Some(body) = found {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("nothing containing {needle} was posted");
    }

    fn count(&self, needle: &str) -> usize {
        self.bodies
            .lock()
            .expect("bodies")
            .iter()
            .filter(|b| b.contains(needle))
            .count()
    }
}

/// A verified service account `wxcallback` whose callback is `Callback`.
async fn callback_app(wx: &Wx) -> Callback {
    let (url, callback) = Callback::start().await;
    let mut app = common::app("wxcallback", "service", true);
    app.callback_url = url;
    wx.registry.add_app(app);
    callback
}

/// A permanent news material with `articles` articles, as the materials module keeps them.
async fn news_material(wx: &Wx, app: &str, media_id: &str, articles: usize) {
    let items: Vec<Value> = (1..=articles)
        .map(|i| {
            json!({"title": format!("第{i}篇：秋季上新"), "digest": "新品八折",
                   "url": format!("https://mp.weixin.qq.com/s/article{i}"),
                   "thumb_url": format!("https://mmbiz.qpic.cn/thumb{i}"),
                   "content": "<p>正文</p>", "thumb_media_id": "THUMB"})
        })
        .collect();
    wx.sandbox
        .docs
        .set(
            app,
            "material",
            media_id,
            &json!({"type": "news", "news_item": items}),
        )
        .await
        .expect("store");
}

async fn wait_for_job(wx: &Wx, app: &str, msg_id: &Value) -> Value {
    for _ in 0..500 {
        let v = call(wx, app, MASS_GET, Some(&json!({"msg_id": msg_id}))).await;
        if v["msg_status"] != "SENDING" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("mass job {msg_id} never finished");
}

// ---------------------------------------------------------------- customer service

#[tokio::test]
async fn custom_text_is_answered_like_wechat_and_shown_in_the_inbox() {
    let wx = Wx::new();
    let fans = wx.followers("wxservice", 1).await;
    let openid = &fans[0];
    says(&wx, "wxservice", openid).await;
    let v = call(
        &wx,
        "wxservice",
        CUSTOM_SEND,
        Some(&text_message(openid, "Hello World")),
    )
    .await;
    assert_eq!(v, json!({"errcode": 0, "errmsg": "ok"}));
    let items = inbox(&wx, "wxservice", openid).await;
    assert_eq!(items.len(), 1);
    let id = items[0]["id"].clone();
    assert_eq!(
        items[0],
        json!({"id": id, "source": "custom", "type": "text",
               "content": {"content": "Hello World"}, "time": START_MS / 1000})
    );
    // Polling from the last id returns nothing new.
    let (_, v) = wx
        .get(&format!(
            "/api/apps/wxservice/followers/{openid}/inbox?after={}",
            id.as_str().expect("id")
        ))
        .await;
    assert_eq!(v["items"], json!([]));
    assert_eq!(v["next_after"], id);
    let (status, _) = wx.get("/api/apps/wxservice/followers/oNobody/inbox").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_custom_msgtype_takes_wechats_shape() {
    let wx = Wx::new();
    let fans = wx.followers("wxservice", 1).await;
    let openid = fans[0].as_str();
    news_material(&wx, "wxservice", "MPNEWS_MEDIA", 1).await;
    let cases = [
        (
            json!({"msgtype": "image", "image": {"media_id": "MEDIA_ID"}}),
            json!({"media_id": "MEDIA_ID"}),
        ),
        (
            json!({"msgtype": "voice", "voice": {"media_id": "MEDIA_ID"}}),
            json!({"media_id": "MEDIA_ID"}),
        ),
        (
            json!({"msgtype": "video", "video": {"media_id": "MEDIA_ID",
                   "thumb_media_id": "MEDIA_ID", "title": "TITLE", "description": "DESCRIPTION"}}),
            json!({"media_id": "MEDIA_ID", "thumb_media_id": "MEDIA_ID", "title": "TITLE",
                   "description": "DESCRIPTION"}),
        ),
        (
            json!({"msgtype": "music", "music": {"title": "MUSIC_TITLE",
                   "description": "MUSIC_DESCRIPTION", "musicurl": "MUSIC_URL",
                   "hqmusicurl": "HQ_MUSIC_URL", "thumb_media_id": "THUMB_MEDIA_ID"}}),
            json!({"title": "MUSIC_TITLE", "description": "MUSIC_DESCRIPTION",
                   "musicurl": "MUSIC_URL", "hqmusicurl": "HQ_MUSIC_URL",
                   "thumb_media_id": "THUMB_MEDIA_ID"}),
        ),
        (
            json!({"msgtype": "news", "news": {"articles": [{"title": "Happy Day",
                   "description": "Is Really A Happy Day", "url": "URL", "picurl": "PIC_URL"}]}}),
            json!({"articles": [{"title": "Happy Day", "description": "Is Really A Happy Day",
                   "url": "URL", "picurl": "PIC_URL"}]}),
        ),
        (
            json!({"msgtype": "mpnews", "mpnews": {"media_id": "MPNEWS_MEDIA"}}),
            json!({"media_id": "MPNEWS_MEDIA", "articles": [{"title": "第1篇：秋季上新",
                   "description": "新品八折", "url": "https://mp.weixin.qq.com/s/article1",
                   "picurl": "https://mmbiz.qpic.cn/thumb1"}]}),
        ),
        (
            json!({"msgtype": "mpnewsarticle", "mpnewsarticle": {"article_id": "ARTICLE_ID"}}),
            json!({"article_id": "ARTICLE_ID"}),
        ),
        (
            json!({"msgtype": "msgmenu", "msgmenu": {"head_content": "您对本次服务是否满意呢? ",
                   "list": [{"id": "101", "content": "满意"}, {"id": "102", "content": "不满意"}],
                   "tail_content": "欢迎再次光临"}}),
            json!({"head_content": "您对本次服务是否满意呢? ",
                   "list": [{"id": "101", "content": "满意"}, {"id": "102", "content": "不满意"}],
                   "tail_content": "欢迎再次光临"}),
        ),
        (
            json!({"msgtype": "wxcard", "wxcard": {"card_id": "123dsdajkasd231jhksad"}}),
            json!({"card_id": "123dsdajkasd231jhksad"}),
        ),
        (
            json!({"msgtype": "miniprogrampage", "miniprogrampage": {"title": "title",
                   "appid": "appid", "pagepath": "pagepath", "thumb_media_id": "thumb_media_id"}}),
            json!({"title": "title", "appid": "appid", "pagepath": "pagepath",
                   "thumb_media_id": "thumb_media_id"}),
        ),
    ];
    for (i, (mut request, shown)) in cases.into_iter().enumerate() {
        // Each user message renews the allowance of five.
        says(&wx, "wxservice", openid).await;
        request["touser"] = json!(openid);
        request["customservice"] = json!({"kf_account": "test1@kftest"});
        let v = call(&wx, "wxservice", CUSTOM_SEND, Some(&request)).await;
        assert_eq!(v, json!({"errcode": 0, "errmsg": "ok"}), "{request}");
        let items = inbox(&wx, "wxservice", openid).await;
        let item = &items[i];
        assert_eq!(item["type"], request["msgtype"]);
        assert_eq!(item["content"], shown, "{request}");
        assert_eq!(item["kf_account"], "test1@kftest");
    }
}

#[tokio::test]
async fn custom_messages_are_checked_as_wechat_checks_them() {
    let wx = Wx::new();
    let fans = wx.followers("wxservice", 3).await;
    let (openid, blacklisted, gone) = (&fans[0], &fans[1], &fans[2]);
    for f in &fans {
        says(&wx, "wxservice", f).await;
    }
    let send = |body: Value| {
        let wx = &wx;
        async move { errcode(&call(wx, "wxservice", CUSTOM_SEND, Some(&body)).await) }
    };
    assert_eq!(
        send(json!({"touser": openid, "msgtype": "link"})).await,
        40008
    );
    assert_eq!(
        send(json!({"touser": openid, "msgtype": "text"})).await,
        47001
    );
    assert_eq!(send(text_message(openid, "")).await, 44004);
    assert_eq!(
        send(text_message(openid, &"好".repeat(683))).await,
        45002,
        "2,049 bytes"
    );
    assert_eq!(
        send(text_message(openid, &"a".repeat(2048))).await,
        0,
        "2,048 bytes"
    );
    let news = |n: usize| {
        let articles: Vec<Value> = (0..n).map(|i| json!({"title": format!("t{i}")})).collect();
        json!({"touser": openid, "msgtype": "news", "news": {"articles": articles}})
    };
    assert_eq!(send(news(0)).await, 44003);
    assert_eq!(send(news(2)).await, 45008);
    let mpnews = json!({"touser": openid, "msgtype": "mpnews", "mpnews": {"media_id": "nope"}});
    assert_eq!(send(mpnews).await, 40007);
    wx.sandbox
        .docs
        .set(
            "wxservice",
            "material",
            "IMAGE_ID",
            &json!({"type": "image", "url": "u"}),
        )
        .await
        .expect("store");
    let image_as_news =
        json!({"touser": openid, "msgtype": "mpnews", "mpnews": {"media_id": "IMAGE_ID"}});
    assert_eq!(send(image_as_news).await, 40007);
    let menu = json!({"touser": openid, "msgtype": "msgmenu", "msgmenu": {"list": []}});
    assert_eq!(send(menu).await, 44005);
    assert_eq!(
        send(json!({"msgtype": "text", "text": {"content": "x"}})).await,
        40003
    );
    assert_eq!(send(text_message("oSomeoneElse", "x")).await, 40003);
    change_follower(&wx, "wxservice", blacklisted, |f| f.blacklisted = true).await;
    assert_eq!(send(text_message(blacklisted, "x")).await, 43019);
    act(&wx, "wxservice", gone, json!({"type": "unfollow"})).await;
    let v = call(
        &wx,
        "wxservice",
        CUSTOM_SEND,
        Some(&text_message(gone, "x")),
    )
    .await;
    assert_eq!(errcode(&v), 45015);
    assert!(
        v["errmsg"].as_str().is_some_and(
            |m| m.starts_with("response out of time limit or subscription is canceled")
        )
    );
    // Refused messages did not reach anyone, and did not use the allowance.
    assert_eq!(inbox(&wx, "wxservice", openid).await.len(), 1);
    assert!(inbox(&wx, "wxservice", blacklisted).await.is_empty());
}

#[tokio::test]
async fn the_customer_service_window_follows_the_followers_actions() {
    let wx = Wx::new();
    let fans = wx.followers("wxsubscribe", 1).await;
    let openid = &fans[0];
    let send = || {
        let wx = &wx;
        async move {
            call(
                wx,
                "wxsubscribe",
                CUSTOM_SEND,
                Some(&text_message(openid, "您好")),
            )
            .await
        }
    };
    assert_eq!(errcode(&send().await), 45015, "never talked");

    says(&wx, "wxsubscribe", openid).await;
    for _ in 0..5 {
        assert_eq!(errcode(&send().await), 0);
    }
    let v = send().await;
    assert_eq!(errcode(&v), 45047, "{v}");
    assert!(
        v["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("out of response count limit"))
    );
    wx.advance_ms(47 * HOUR_MS);
    says(&wx, "wxsubscribe", openid).await;
    assert_eq!(
        errcode(&send().await),
        0,
        "a new message renews the allowance"
    );
    wx.advance_ms(48 * HOUR_MS);
    assert_eq!(errcode(&send().await), 45015, "48 hours later");

    for action in [
        json!({"type": "click", "key": "V1001_TODAY_MUSIC"}),
        json!({"type": "scan", "scene": "123"}),
        json!({"type": "follow"}),
    ] {
        act(&wx, "wxsubscribe", openid, action.clone()).await;
        for _ in 0..3 {
            assert_eq!(errcode(&send().await), 0, "{action}");
        }
        assert_eq!(errcode(&send().await), 45047, "{action}");
        act(&wx, "wxsubscribe", openid, action.clone()).await;
        wx.advance_ms(60_000);
        assert_eq!(errcode(&send().await), 45015, "a minute after {action}");
    }
    for action in [
        json!({"type": "view", "url": "https://shop.example.com"}),
        json!({"type": "location", "latitude": 31.2, "longitude": 121.5}),
    ] {
        act(&wx, "wxsubscribe", openid, action.clone()).await;
        assert_eq!(errcode(&send().await), 45015, "{action} opens no window");
    }
    says(&wx, "wxsubscribe", openid).await;
    act(&wx, "wxsubscribe", openid, json!({"type": "unfollow"})).await;
    assert_eq!(errcode(&send().await), 45015, "unfollowed");
    act(&wx, "wxsubscribe", openid, json!({"type": "follow"})).await;
    for _ in 0..3 {
        assert_eq!(errcode(&send().await), 0);
    }
    assert_eq!(
        errcode(&send().await),
        45047,
        "the old message window closed on unfollow"
    );
}

#[tokio::test]
async fn typing_needs_a_window_and_a_recent_exchange() {
    let wx = Wx::new();
    let fans = wx.followers("wxservice", 1).await;
    let openid = &fans[0];
    let typing = |command: &str| {
        let wx = &wx;
        let body = json!({"touser": openid, "command": command});
        async move { call(wx, "wxservice", TYPING, Some(&body)).await }
    };
    assert_eq!(errcode(&typing("Typing").await), 45015);
    says(&wx, "wxservice", openid).await;
    assert_eq!(
        typing("Typing").await,
        json!({"errcode": 0, "errmsg": "ok"})
    );
    assert_eq!(errcode(&typing("Typing").await), 45081, "already typing");
    assert_eq!(errcode(&typing("CancelTyping").await), 0);
    assert_eq!(errcode(&typing("typing").await), 45072);
    assert_eq!(errcode(&typing("Typing").await), 0);
    wx.advance_ms(31_000);
    assert_eq!(
        errcode(&typing("Typing").await),
        45080,
        "no exchange in 30 s"
    );
    let sent = call(
        &wx,
        "wxservice",
        CUSTOM_SEND,
        Some(&text_message(openid, "稍等")),
    )
    .await;
    assert_eq!(errcode(&sent), 0);
    assert_eq!(
        errcode(&typing("Typing").await),
        0,
        "the account just wrote"
    );
    let body = json!({"touser": "oNobody", "command": "Typing"});
    assert_eq!(
        errcode(&call(&wx, "wxservice", TYPING, Some(&body)).await),
        40003
    );
}

// ---------------------------------------------------------------- rights

#[tokio::test]
async fn each_account_type_gets_the_messaging_rights_wechat_gives_it() {
    let wx = Wx::new();
    // (path, GET?, apps refused with 48001 among personal, unverified service,
    //  verified subscription, verified service)
    let verified = [true, true, false, false];
    let service_only = [true, true, true, false];
    let cases: [(&str, bool, [bool; 4]); 15] = [
        (CUSTOM_SEND, false, verified),
        (TYPING, false, verified),
        (SENDALL, false, verified),
        (MASS_SEND, false, service_only),
        (PREVIEW, false, verified),
        (MASS_GET, false, verified),
        (MASS_DELETE, false, verified),
        ("/cgi-bin/message/mass/speed/get", false, verified),
        ("/cgi-bin/message/mass/speed/set", false, verified),
        (TEMPLATE_SEND, false, service_only),
        ("/cgi-bin/template/api_set_industry", false, service_only),
        ("/cgi-bin/template/get_industry", true, service_only),
        ("/cgi-bin/template/api_add_template", false, service_only),
        (
            "/cgi-bin/template/get_all_private_template",
            true,
            service_only,
        ),
        (
            "/cgi-bin/template/del_private_template",
            false,
            service_only,
        ),
    ];
    let apps = ["wxpersonal", "wxunverifiedsvc", "wxsubscribe", "wxservice"];
    for (path, is_get, refused) in cases {
        for (app, refused) in apps.iter().zip(refused) {
            let body = json!({});
            let v = call(&wx, app, path, (!is_get).then_some(&body)).await;
            assert_eq!(errcode(&v) == 48001, refused, "{app} {path}: {v}");
        }
    }
}

// ---------------------------------------------------------------- mass

#[tokio::test]
async fn a_mass_send_reaches_the_audience_and_reports_to_the_callback() {
    let wx = Wx::new();
    let callback = callback_app(&wx).await;
    let fans = wx.followers("wxcallback", 5).await;
    change_follower(&wx, "wxcallback", &fans[3], |f| f.blacklisted = true).await;
    change_follower(&wx, "wxcallback", &fans[4], |f| f.subscribe = false).await;
    news_material(&wx, "wxcallback", "MEDIA_NEWS", 2).await;

    let request = json!({"filter": {"is_to_all": true}, "mpnews": {"media_id": "MEDIA_NEWS"},
                         "msgtype": "mpnews", "send_ignore_reprint": 0});
    let v = call(&wx, "wxcallback", SENDALL, Some(&request)).await;
    assert_eq!(
        keys(&v),
        ["errcode", "errmsg", "msg_data_id", "msg_id"],
        "{v}"
    );
    assert_eq!(v["errcode"], 0);
    assert_eq!(v["errmsg"], "send job submission success");
    let msg_id = v["msg_id"].as_u64().expect("msg_id");
    assert!(v["msg_data_id"].is_u64());

    let xml = callback.wait_for("MASSSENDJOBFINISH").await;
    let message = wechat::Message::parse(&xml).expect("the event parses");
    assert_eq!(message.to_user_name, "gh_callback");
    assert_eq!(message.from_user_name, "mphelper");
    let Some(wechat::Event::MassSendJobFinish(job)) = message.event() else {
        panic!("not MASSSENDJOBFINISH: {xml}");
    };
    assert_eq!(job.msg_id, msg_id);
    assert_eq!(job.status, "send success");
    assert_eq!(
        (
            job.total_count,
            job.filter_count,
            job.sent_count,
            job.error_count
        ),
        (Some(4), Some(3), Some(3), Some(0)),
        "4 fans, one blacklisted: {xml}"
    );
    let check = job.copyright_check.as_ref().expect("CopyrightCheckResult");
    assert_eq!((check.count, check.check_state), (Some(0), Some(1)));
    let urls: Vec<&str> = job
        .article_urls
        .iter()
        .map(|a| a.article_url.as_ref())
        .collect();
    assert_eq!(
        urls,
        [
            "https://mp.weixin.qq.com/s/article1",
            "https://mp.weixin.qq.com/s/article2"
        ]
    );

    for fan in &fans[..3] {
        let items = wait_for_inbox(&wx, "wxcallback", fan, 1).await;
        assert_eq!(items[0]["source"], "mass");
        assert_eq!(items[0]["type"], "mpnews");
        assert_eq!(items[0]["msg_id"], msg_id);
        assert_eq!(
            items[0]["content"]["articles"][1]["title"],
            "第2篇：秋季上新"
        );
    }
    assert!(
        inbox(&wx, "wxcallback", &fans[3]).await.is_empty(),
        "blacklisted"
    );
    assert!(
        inbox(&wx, "wxcallback", &fans[4]).await.is_empty(),
        "unfollowed"
    );
    let status = call(
        &wx,
        "wxcallback",
        MASS_GET,
        Some(&json!({"msg_id": msg_id})),
    )
    .await;
    assert_eq!(
        status,
        json!({"msg_id": msg_id, "msg_status": "SEND_SUCCESS"})
    );
    assert_eq!(callback.count("MASSSENDJOBFINISH"), 1);
}

#[tokio::test]
async fn mass_messages_are_checked_as_wechat_checks_them() {
    let wx = Wx::new();
    let fans = wx.followers("wxservice", 2).await;
    let to_tag = |msg: Value| {
        let mut body = json!({"filter": {"is_to_all": false, "tag_id": 2}});
        if let (Some(b), Some(m)) = (body.as_object_mut(), msg.as_object()) {
            b.extend(m.clone());
        }
        body
    };
    let send = |body: Value| {
        let wx = &wx;
        async move { errcode(&call(wx, "wxservice", SENDALL, Some(&body)).await) }
    };
    assert_eq!(send(to_tag(json!({"msgtype": "link"}))).await, 40008);
    let unknown = to_tag(json!({"msgtype": "mpnews", "mpnews": {"media_id": "nope"}}));
    assert_eq!(send(unknown).await, 40007);
    let empty = to_tag(json!({"msgtype": "text", "text": {"content": ""}}));
    assert_eq!(send(empty).await, 44004);
    let unfiltered = json!({"msgtype": "text", "text": {"content": "x"}});
    assert_eq!(send(unfiltered).await, 47001);
    for ok in [
        json!({"msgtype": "text", "text": {"content": "CONTENT"}}),
        json!({"msgtype": "voice", "voice": {"media_id": "123dsdajkasd231jhksad"}}),
        json!({"msgtype": "image", "images": {"media_ids": ["aaa", "bbb"], "recommend": "xxx",
               "need_open_comment": 1, "only_fans_can_comment": 0}}),
        json!({"msgtype": "mpvideo", "mpvideo": {"media_id": "IhdaAQXuvJtGzwwc0abfXnzeezfO0NgPK6AQYShD8RQYMTtfzbLdBIQkQziv2XJc"}}),
        json!({"msgtype": "wxcard", "wxcard": {"card_id": "123dsdajkasd231jhksad"}}),
    ] {
        let v = call(&wx, "wxservice", SENDALL, Some(&to_tag(ok.clone()))).await;
        assert_eq!(
            keys(&v),
            ["errcode", "errmsg", "msg_id"],
            "no msg_data_id: {v}"
        );
        assert_eq!(errcode(&v), 0, "{ok}");
    }

    let list = |openids: Vec<String>| json!({"touser": openids, "msgtype": "text", "text": {"content": "hello from boxer."}});
    let one = list(vec![fans[0].clone()]);
    assert_eq!(
        errcode(&call(&wx, "wxservice", MASS_SEND, Some(&one)).await),
        40130
    );
    let repeated = list(vec![fans[0].clone(), fans[0].clone()]);
    assert_eq!(
        errcode(&call(&wx, "wxservice", MASS_SEND, Some(&repeated)).await),
        40130
    );
    let many = list((0..10_001).map(|i| format!("o{i:027}")).collect());
    assert_eq!(
        errcode(&call(&wx, "wxservice", MASS_SEND, Some(&many)).await),
        40032
    );
    let stranger = list(vec![fans[0].clone(), "oStranger".into()]);
    assert_eq!(
        errcode(&call(&wx, "wxservice", MASS_SEND, Some(&stranger)).await),
        40003
    );
    let v = call(&wx, "wxservice", MASS_SEND, Some(&list(fans.clone()))).await;
    assert_eq!(v["errmsg"], "send job submission success", "{v}");
    for fan in &fans {
        let items = wait_for_inbox(&wx, "wxservice", fan, 1).await;
        assert_eq!(items[0]["content"], json!({"content": "hello from boxer."}));
    }
}

#[tokio::test]
async fn a_subscription_account_mass_sends_once_a_day() {
    let wx = Wx::new();
    wx.followers("wxsubscribe", 1).await;
    let to_tag = json!({"filter": {"is_to_all": false, "tag_id": 2}, "msgtype": "text",
                        "text": {"content": "今日推荐"}});
    let to_all = json!({"filter": {"is_to_all": true}, "msgtype": "text",
                        "text": {"content": "今日推荐"}});
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", SENDALL, Some(&to_tag)).await),
        0
    );
    let v = call(&wx, "wxsubscribe", SENDALL, Some(&to_all)).await;
    assert_eq!(errcode(&v), 45028, "{v}");
    assert!(
        v["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("has no masssend quota"))
    );
    // The tests start at noon in Beijing: twelve hours later is another day.
    wx.advance_ms(12 * HOUR_MS);
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", SENDALL, Some(&to_all)).await),
        0
    );
}

#[tokio::test]
async fn a_service_account_sends_to_all_four_times_a_month_and_fans_receive_four() {
    let wx = Wx::new();
    let fans = wx.followers("wxservice", 3).await;
    for fan in &fans {
        change_follower(&wx, "wxservice", fan, |f| f.tagid_list = vec![100]).await;
    }
    let to_all = json!({"filter": {"is_to_all": true}, "msgtype": "text",
                        "text": {"content": "月度上新"}});
    let to_tag = json!({"filter": {"is_to_all": false, "tag_id": 100}, "msgtype": "text",
                        "text": {"content": "会员专享"}});
    let mut jobs = Vec::new();
    for _ in 0..4 {
        let v = call(&wx, "wxservice", SENDALL, Some(&to_all)).await;
        assert_eq!(errcode(&v), 0, "{v}");
        jobs.push(v["msg_id"].clone());
    }
    assert_eq!(
        errcode(&call(&wx, "wxservice", SENDALL, Some(&to_all)).await),
        45028
    );
    for msg_id in &jobs {
        wait_for_job(&wx, "wxservice", msg_id).await;
    }
    assert_eq!(wait_for_inbox(&wx, "wxservice", &fans[0], 4).await.len(), 4);

    // Sends to a tag are not counted against the account, but the fans had their four.
    let v = call(&wx, "wxservice", SENDALL, Some(&to_tag)).await;
    assert_eq!(errcode(&v), 0, "{v}");
    wait_for_job(&wx, "wxservice", &v["msg_id"]).await;
    let msg_id = v["msg_id"].as_u64().expect("msg_id");
    let job = sandbox::mass::job(&wx.sandbox, "wxservice", msg_id)
        .await
        .expect("store")
        .expect("job");
    let counts = job.counts.expect("counts");
    assert_eq!((counts.total, counts.filter, counts.sent), (3, 0, 0));
    assert_eq!(inbox(&wx, "wxservice", &fans[0]).await.len(), 4);

    // The tests start at noon on November 30th in Beijing: December is twelve hours away.
    wx.advance_ms(12 * HOUR_MS);
    let v = call(&wx, "wxservice", SENDALL, Some(&to_tag)).await;
    wait_for_job(&wx, "wxservice", &v["msg_id"]).await;
    assert_eq!(wait_for_inbox(&wx, "wxservice", &fans[0], 5).await.len(), 5);
    assert_eq!(
        errcode(&call(&wx, "wxservice", SENDALL, Some(&to_all)).await),
        0
    );
}

#[tokio::test]
async fn a_clientmsgid_is_not_sent_twice() {
    let wx = Wx::new();
    wx.followers("wxservice", 1).await;
    let body = |c: &str| {
        json!({"filter": {"is_to_all": false, "tag_id": 2}, "msgtype": "text",
               "text": {"content": "双十一"}, "clientmsgid": c})
    };
    let first = call(&wx, "wxservice", SENDALL, Some(&body("send_1130"))).await;
    assert_eq!(errcode(&first), 0);
    let again = call(&wx, "wxservice", SENDALL, Some(&body("send_1130"))).await;
    assert_eq!(errcode(&again), 45066, "{again}");
    wx.advance_ms(61_000);
    let again = call(&wx, "wxservice", SENDALL, Some(&body("send_1130"))).await;
    assert_eq!(errcode(&again), 45065, "{again}");
    assert_eq!(
        again["msg_id"], first["msg_id"],
        "the existing msg_id comes back"
    );
    wx.advance_ms(24 * HOUR_MS);
    let later = call(&wx, "wxservice", SENDALL, Some(&body("send_1130"))).await;
    assert_eq!(errcode(&later), 0, "a day later the id is free: {later}");
    assert_ne!(later["msg_id"], first["msg_id"]);
    let long = "x".repeat(65);
    assert_eq!(
        errcode(&call(&wx, "wxservice", SENDALL, Some(&body(&long))).await),
        45067
    );

    // A send refused for quota leaves its clientmsgid free.
    let to_all = |c: &str| {
        json!({"filter": {"is_to_all": true}, "msgtype": "text", "text": {"content": "x"},
               "clientmsgid": c})
    };
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", SENDALL, Some(&to_all("a"))).await),
        0
    );
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", SENDALL, Some(&to_all("b"))).await),
        45028
    );
    wx.advance_ms(24 * HOUR_MS);
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", SENDALL, Some(&to_all("b"))).await),
        0
    );
}

#[tokio::test]
async fn previews_status_deletion_and_speed() {
    let wx = Wx::new();
    let fans = wx.followers("wxsubscribe", 2).await;
    news_material(&wx, "wxsubscribe", "MEDIA_NEWS", 2).await;
    let preview = json!({"touser": fans[0], "mpnews": {"media_id": "MEDIA_NEWS"},
                         "msgtype": "mpnews"});
    let v = call(&wx, "wxsubscribe", PREVIEW, Some(&preview)).await;
    assert_eq!(keys(&v), ["errcode", "errmsg", "msg_id"]);
    assert_eq!(
        (v["errcode"].clone(), v["errmsg"].clone()),
        (json!(0), json!("preview success"))
    );
    let items = inbox(&wx, "wxsubscribe", &fans[0]).await;
    assert_eq!(items[0]["preview"], true);
    assert_eq!(items[0]["type"], "mpnews");
    let by_name = json!({"towxname": fans[1], "touser": fans[0], "msgtype": "text",
                         "text": {"content": "CONTENT"}});
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", PREVIEW, Some(&by_name)).await),
        0
    );
    assert_eq!(
        inbox(&wx, "wxsubscribe", &fans[1]).await.len(),
        1,
        "towxname wins"
    );
    let unknown_name = json!({"towxname": "nobody", "msgtype": "text", "text": {"content": "x"}});
    let unknown_openid = json!({"towxname": "", "touser": "nobody", "msgtype": "text",
                                "text": {"content": "x"}});
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", PREVIEW, Some(&unknown_openid)).await),
        40003
    );
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", PREVIEW, Some(&unknown_name)).await),
        40132
    );
    change_follower(&wx, "wxsubscribe", &fans[1], |f| f.subscribe = false).await;
    let gone = json!({"touser": fans[1], "msgtype": "text", "text": {"content": "x"}});
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", PREVIEW, Some(&gone)).await),
        43004
    );
    // Previews use no mass quota.
    let text = json!({"filter": {"is_to_all": true}, "msgtype": "text", "text": {"content": "x"}});
    let text_job = call(&wx, "wxsubscribe", SENDALL, Some(&text)).await;
    assert_eq!(errcode(&text_job), 0);

    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", MASS_GET, Some(&json!({"msg_id": 1}))).await),
        40059
    );
    wait_for_job(&wx, "wxsubscribe", &text_job["msg_id"]).await;
    let delete_text = json!({"msg_id": text_job["msg_id"], "article_idx": 0});
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", MASS_DELETE, Some(&delete_text)).await),
        40008
    );

    wx.advance_ms(24 * HOUR_MS);
    let news = json!({"filter": {"is_to_all": true}, "mpnews": {"media_id": "MEDIA_NEWS"},
                      "msgtype": "mpnews", "send_ignore_reprint": 1});
    let job = call(&wx, "wxsubscribe", SENDALL, Some(&news)).await;
    let msg_id = job["msg_id"].clone();
    wait_for_job(&wx, "wxsubscribe", &msg_id).await;
    let delete = |idx: u64| json!({"msg_id": msg_id, "article_idx": idx});
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", MASS_DELETE, Some(&delete(3))).await),
        40060
    );
    let v = call(&wx, "wxsubscribe", MASS_DELETE, Some(&delete(1))).await;
    assert_eq!(v, json!({"errcode": 0, "errmsg": "ok"}));
    let status = call(
        &wx,
        "wxsubscribe",
        MASS_GET,
        Some(&json!({"msg_id": msg_id})),
    )
    .await;
    assert_eq!(
        status["msg_status"], "SEND_SUCCESS",
        "one article of two is gone"
    );
    assert_eq!(
        errcode(&call(&wx, "wxsubscribe", MASS_DELETE, Some(&delete(0))).await),
        0
    );
    let status = call(
        &wx,
        "wxsubscribe",
        MASS_GET,
        Some(&json!({"msg_id": msg_id})),
    )
    .await;
    assert_eq!(status, json!({"msg_id": msg_id, "msg_status": "DELETE"}));
    assert_eq!(
        inbox(&wx, "wxsubscribe", &fans[0]).await.len(),
        3,
        "followers keep what they received"
    );

    let speed = |path: &str, body: Value| {
        let wx = &wx;
        let path = format!("/cgi-bin/message/mass/speed/{path}");
        async move { call(wx, "wxsubscribe", &path, Some(&body)).await }
    };
    assert_eq!(
        speed("get", json!({})).await,
        json!({"speed": 0, "realspeed": 80})
    );
    assert_eq!(
        speed("set", json!({"speed": 3})).await,
        json!({"errcode": 0, "errmsg": "ok"})
    );
    assert_eq!(
        speed("get", json!({})).await,
        json!({"speed": 3, "realspeed": 30})
    );
    assert_eq!(errcode(&speed("set", json!({"speed": 5})).await), 45083);
}

#[tokio::test]
async fn previews_are_held_to_100_a_day() {
    let wx = Wx::new();
    let fans = wx.followers("wxservice", 1).await;
    let preview = json!({"touser": fans[0], "msgtype": "text", "text": {"content": "样稿"}});
    for _ in 0..100 {
        assert_eq!(
            errcode(&call(&wx, "wxservice", PREVIEW, Some(&preview)).await),
            0
        );
    }
    assert_eq!(
        errcode(&call(&wx, "wxservice", PREVIEW, Some(&preview)).await),
        45009
    );
}

// ---------------------------------------------------------------- templates

async fn set_industry(wx: &Wx, app: &str, id1: &str, id2: &str) -> Value {
    let body = json!({"industry_id1": id1, "industry_id2": id2});
    call(wx, app, "/cgi-bin/template/api_set_industry", Some(&body)).await
}

async fn add_template(wx: &Wx, app: &str, short_id: &str) -> Value {
    let body = json!({"template_id_short": short_id});
    call(wx, app, "/cgi-bin/template/api_add_template", Some(&body)).await
}

async fn template_list(wx: &Wx, app: &str) -> Vec<Value> {
    let v = call(wx, app, "/cgi-bin/template/get_all_private_template", None).await;
    assert_eq!(keys(&v), ["template_list"], "{v}");
    v["template_list"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn templates_are_added_from_the_library_of_the_accounts_industries() {
    let wx = Wx::new();
    assert!(template_list(&wx, "wxservice").await.is_empty());
    assert_eq!(
        errcode(&add_template(&wx, "wxservice", "TM00015").await),
        45027,
        "no industry"
    );
    assert_eq!(
        errcode(&set_industry(&wx, "wxservice", "1", "42").await),
        40102
    );
    assert_eq!(
        set_industry(&wx, "wxservice", "1", "31").await,
        json!({"errcode": 0, "errmsg": "ok"})
    );
    let industry = call(&wx, "wxservice", "/cgi-bin/template/get_industry", None).await;
    assert_eq!(
        industry,
        json!({"primary_industry": {"first_class": "IT科技", "second_class": "互联网|电子商务"},
               "secondary_industry": {"first_class": "消费品", "second_class": "消费品"}})
    );

    let v = add_template(&wx, "wxservice", "TM00015").await;
    assert_eq!(keys(&v), ["errcode", "errmsg", "template_id"]);
    assert_eq!(
        (v["errcode"].clone(), v["errmsg"].clone()),
        (json!(0), json!("ok"))
    );
    let template_id = v["template_id"].as_str().expect("template_id").to_string();
    assert_eq!(template_id.len(), 43);
    assert_eq!(
        add_template(&wx, "wxservice", "TM00015").await["template_id"],
        template_id
    );
    assert_eq!(
        errcode(&add_template(&wx, "wxservice", "TM99999").await),
        40037
    );
    let restaurant = add_template(&wx, "wxservice", "OPENTM411425620").await;
    assert_eq!(
        errcode(&restaurant),
        45027,
        "餐饮 is not the account's industry"
    );
    let list = template_list(&wx, "wxservice").await;
    assert_eq!(list.len(), 1);
    assert_eq!(
        keys(&list[0]),
        [
            "content",
            "deputy_industry",
            "example",
            "primary_industry",
            "template_id",
            "title"
        ]
    );
    assert_eq!(list[0]["template_id"], template_id);
    assert_eq!(list[0]["title"], "订单支付成功");
    assert_eq!(list[0]["primary_industry"], "IT科技");
    assert_eq!(list[0]["deputy_industry"], "互联网|电子商务");
    assert!(
        list[0]["content"]
            .as_str()
            .is_some_and(|c| c.contains("{{first.DATA}}"))
    );

    assert_eq!(
        errcode(&set_industry(&wx, "wxservice", "10", "31").await),
        43100
    );
    assert_eq!(
        errcode(&set_industry(&wx, "wxservice", "1", "31").await),
        0,
        "unchanged"
    );
    wx.advance_ms(12 * HOUR_MS); // December in Beijing
    assert_eq!(
        errcode(&set_industry(&wx, "wxservice", "10", "31").await),
        0
    );
    assert!(
        template_list(&wx, "wxservice").await.is_empty(),
        "IT科技 templates went"
    );
    let v = add_template(&wx, "wxservice", "OPENTM411425620").await;
    let restaurant_id = v["template_id"].clone();
    let del = |id: Value| {
        let wx = &wx;
        async move {
            let body = json!({"template_id": id});
            call(
                wx,
                "wxservice",
                "/cgi-bin/template/del_private_template",
                Some(&body),
            )
            .await
        }
    };
    assert_eq!(errcode(&del(json!("no-such-template")).await), 40037);
    assert_eq!(
        del(restaurant_id).await,
        json!({"errcode": 0, "errmsg": "ok"})
    );
    assert!(template_list(&wx, "wxservice").await.is_empty());

    // At most 25 templates.
    let full: Vec<Value> = (0..25)
        .map(|i| {
            json!({"template_id": format!("tpl{i}"), "title": "t", "primary_industry": "餐饮",
                   "deputy_industry": "餐饮", "content": "{{first.DATA}}", "example": ""})
        })
        .collect();
    wx.sandbox
        .docs
        .set("wxservice", "template", "private", &json!({"list": full}))
        .await
        .expect("store");
    assert_eq!(
        errcode(&add_template(&wx, "wxservice", "OPENTM411425620").await),
        45026
    );
}

/// An app with the shop industries and template `short_id` added; its template_id.
async fn template_ready(wx: &Wx, app: &str, short_id: &str) -> String {
    assert_eq!(errcode(&set_industry(wx, app, "1", "31").await), 0);
    let v = add_template(wx, app, short_id).await;
    v["template_id"].as_str().expect("template_id").to_string()
}

#[tokio::test]
async fn a_template_message_reaches_the_follower_and_reports_to_the_callback() {
    let wx = Wx::new();
    let callback = callback_app(&wx).await;
    let fans = wx.followers("wxcallback", 2).await;
    let template_id = template_ready(&wx, "wxcallback", "TM00015").await;
    let request = json!({
        "touser": fans[0],
        "template_id": template_id,
        "url": "http://weixin.qq.com/download",
        "miniprogram": {"appid": "xiaochengxuappid12345", "pagepath": "index?foo=bar"},
        "client_msg_id": "MSG_000001",
        "data": {
            "first": {"value": "恭喜你购买成功！", "color": "#173177"},
            "orderMoneySum": {"value": "39.8元", "color": "#173177"},
            "orderProductName": {"value": "巧克力", "color": "#173177"},
            "remark": {"value": "欢迎再次购买！", "color": "#173177"}
        }
    });
    let v = call(&wx, "wxcallback", TEMPLATE_SEND, Some(&request)).await;
    assert_eq!(keys(&v), ["errcode", "errmsg", "msgid"], "{v}");
    assert_eq!(
        (v["errcode"].clone(), v["errmsg"].clone()),
        (json!(0), json!("ok"))
    );
    let msgid = v["msgid"].as_u64().expect("msgid");

    let xml = callback.wait_for("TEMPLATESENDJOBFINISH").await;
    let message = wechat::Message::parse(&xml).expect("the event parses");
    assert_eq!(message.to_user_name, "gh_callback");
    assert_eq!(message.from_user_name, fans[0]);
    match message.event() {
        Some(wechat::Event::TemplateSendJobFinish { msg_id, status }) => {
            assert_eq!((*msg_id, status.as_ref()), (msgid, "success"));
        }
        other => panic!("not TEMPLATESENDJOBFINISH: {other:?}"),
    }
    let items = wait_for_inbox(&wx, "wxcallback", &fans[0], 1).await;
    assert_eq!(items[0]["source"], "template");
    assert_eq!(items[0]["type"], "template");
    assert_eq!(items[0]["msg_id"], msgid);
    assert_eq!(items[0]["content"]["title"], "订单支付成功");
    assert_eq!(
        items[0]["content"]["text"],
        "恭喜你购买成功！\n\n支付金额：39.8元\n商品信息：巧克力\n欢迎再次购买！"
    );
    assert_eq!(items[0]["content"]["url"], "http://weixin.qq.com/download");
    assert_eq!(items[0]["content"]["miniprogram"], request["miniprogram"]);

    // The same client_msg_id to the same follower sends nothing new.
    let again = call(&wx, "wxcallback", TEMPLATE_SEND, Some(&request)).await;
    assert_eq!(again["msgid"], msgid);
    wx.advance_ms(10 * 60_000);
    let later = call(&wx, "wxcallback", TEMPLATE_SEND, Some(&request)).await;
    assert_ne!(later["msgid"], msgid, "ten minutes later it sends again");
    assert_eq!(
        wait_for_inbox(&wx, "wxcallback", &fans[0], 2).await.len(),
        2
    );

    // A follower who blacklisted the account sees nothing, and the merchant learns it.
    change_follower(&wx, "wxcallback", &fans[1], |f| f.blacklisted = true).await;
    let mut blocked = request.clone();
    blocked["touser"] = json!(fans[1]);
    let v = call(&wx, "wxcallback", TEMPLATE_SEND, Some(&blocked)).await;
    assert_eq!(errcode(&v), 0);
    let xml = callback.wait_for("failed:user block").await;
    assert!(
        xml.contains(&format!("<MsgID>{}</MsgID>", v["msgid"])),
        "{xml}"
    );
    assert!(inbox(&wx, "wxcallback", &fans[1]).await.is_empty());
}

#[tokio::test]
async fn template_messages_are_checked_as_wechat_checks_them() {
    let wx = Wx::new();
    let fans = wx.followers("wxservice", 2).await;
    let classic = template_ready(&wx, "wxservice", "TM00015").await;
    let typed = add_template(&wx, "wxservice", "43216").await["template_id"].clone();
    let send = |body: Value| {
        let wx = &wx;
        async move { call(wx, "wxservice", TEMPLATE_SEND, Some(&body)).await }
    };
    let classic_to = |openid: &str| {
        json!({"touser": openid, "template_id": classic,
                                           "data": {"first": {"value": "你好"}}})
    };
    assert_eq!(
        errcode(&send(classic_to(&fans[0])).await),
        0,
        "missing keys show empty"
    );
    assert_eq!(errcode(&send(classic_to("oStranger")).await), 40003);
    assert_eq!(errcode(&send(json!({"template_id": classic})).await), 40003);
    let unknown = json!({"touser": fans[0], "template_id": "no-such-template"});
    assert_eq!(errcode(&send(unknown).await), 40037);
    change_follower(&wx, "wxservice", &fans[1], |f| f.subscribe = false).await;
    let v = send(classic_to(&fans[1])).await;
    assert_eq!(errcode(&v), 43004);
    assert!(
        v["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("require subscribe"))
    );
    let mut bad_app = classic_to(&fans[0]);
    bad_app["miniprogram"] = json!({"pagepath": "index"});
    assert_eq!(errcode(&send(bad_app).await), 40166);
    let mut not_text = classic_to(&fans[0]);
    not_text["data"]["first"]["value"] = json!(12);
    assert_eq!(errcode(&send(not_text).await), 47001);

    let shipped = |thing: &str| {
        json!({"touser": fans[0], "template_id": typed, "data": {
            "character_string1": {"value": "20261130001"},
            "thing2": {"value": thing},
            "time3": {"value": "2026年11月30日 14:00"},
            "character_string4": {"value": "SF1234567890"}}})
    };
    assert_eq!(errcode(&send(shipped("秋季新款风衣")).await), 0);
    let v = send(shipped("这件秋季新款风衣的名字实在是太长了超过了二十个字")).await;
    assert_eq!(errcode(&v), 47003);
    assert!(
        v["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("argument invalid! data.thing2.value")),
        "{v}"
    );
    let mut missing = shipped("风衣");
    if let Some(data) = missing["data"].as_object_mut() {
        data.remove("character_string4");
    }
    assert_eq!(errcode(&send(missing).await), 47003);
}

#[tokio::test]
async fn template_sends_are_held_to_100000_a_day() {
    let wx = Wx::new();
    let fans = wx.followers("wxservice", 1).await;
    let template_id = template_ready(&wx, "wxservice", "TM00015").await;
    assert_eq!(sandbox::quota::daily_limit(TEMPLATE_SEND), 100_000);
    // Sending 99,999 through the router would only slow the suite down: count them in.
    wx.sandbox
        .docs
        .set(
            "wxservice",
            &sandbox::quota::day_of(wx.now_ms()),
            TEMPLATE_SEND,
            &json!({"calls": 99_999}),
        )
        .await
        .expect("store");
    let body = json!({"touser": fans[0], "template_id": template_id, "data": {}});
    assert_eq!(
        errcode(&call(&wx, "wxservice", TEMPLATE_SEND, Some(&body)).await),
        0
    );
    assert_eq!(
        errcode(&call(&wx, "wxservice", TEMPLATE_SEND, Some(&body)).await),
        45009
    );
}
