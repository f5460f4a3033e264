//! Web authorization, JS-SDK tickets and the data cube, as WeChat behaves. Published
//! examples come from `/work/shared/vectors/wechat-pay-oauth-jssdk-vectors.json` (ids noted
//! where used) and WeChat's documentation.

mod common;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{Wx, app, errcode};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A browser's view of one answer: status, the headers that matter, the body as text.
struct Page {
    status: StatusCode,
    location: Option<String>,
    set_cookie: Option<String>,
    errcode: Option<String>,
    body: String,
}

impl Page {
    fn location(&self) -> &str {
        self.location
            .as_deref()
            .unwrap_or_else(|| panic!("no Location ({}): {}", self.status, self.body))
    }

    /// The query parameters of the redirect.
    fn redirect_params(&self) -> Vec<(String, String)> {
        let url = url::Url::parse(self.location()).expect("absolute Location");
        url.query_pairs().into_owned().collect()
    }

    fn redirect_param(&self, name: &str) -> Option<String> {
        self.redirect_params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

async fn browser(wx: &Wx, req: Request<Body>) -> Page {
    let router: Router = sandbox::api_router(wx.sandbox.clone());
    let res = router.oneshot(req).await.expect("router answers");
    let header = |name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (location, set_cookie, errcode) = (
        header("location"),
        header("set-cookie"),
        header("x-sandbox-errcode"),
    );
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1024 * 1024)
        .await
        .expect("body");
    Page {
        status,
        location,
        set_cookie,
        errcode,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

async fn open(wx: &Wx, path_and_query: &str, cookie: Option<&str>) -> Page {
    let mut req = Request::get(path_and_query);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    browser(wx, req.body(Body::empty()).expect("request")).await
}

async fn submit(wx: &Wx, path: &str, form: &[(&str, &str)]) -> Page {
    let body = serde_urlencoded::to_string(form).expect("form");
    let req = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .expect("request");
    browser(wx, req).await
}

const SHOP: &str = "https://shop.example.com/oauth?from=menu";

/// The authorize link a merchant's page sends a follower to, parameters in WeChat's order.
fn authorize_link(appid: &str, redirect_uri: &str, scope: &str, state: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect();
    format!(
        "/connect/oauth2/authorize?appid={appid}&redirect_uri={encoded}&response_type=code&scope={scope}&state={state}"
    )
}

fn as_follower(link: &str, openid: &str) -> String {
    format!("{link}&sandbox_openid={openid}")
}

async fn exchange(wx: &Wx, app_id: &str, code: &str) -> Value {
    wx.get(&format!(
        "/sns/oauth2/access_token?appid={app_id}&secret=secret-of-{app_id}&code={code}&grant_type=authorization_code"
    ))
    .await
    .1
}

/// Followers of `app_id` with the given profiles (and following or not).
async fn followers_with(wx: &Wx, app_id: &str, subscribed: bool, profiles: Value) -> Vec<String> {
    let count = profiles.as_array().map_or(1, Vec::len);
    let (status, v) = wx
        .post(
            &format!("/api/apps/{app_id}/followers"),
            &json!({ "count": count, "subscribed": subscribed, "profiles": profiles }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    serde_json::from_value(v["openids"].clone()).expect("openids")
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// A code for `openid`, through the silent (base) or consent (userinfo) flow.
async fn code_for(wx: &Wx, openid: &str, scope: &str) -> String {
    let link = as_follower(&authorize_link("wxservice", SHOP, scope, "s1"), openid);
    let page = open(wx, &link, None).await;
    let page = if scope == "snsapi_userinfo" {
        allow(wx, openid, scope, "s1").await
    } else {
        page
    };
    page.redirect_param("code").expect("a code")
}

async fn allow(wx: &Wx, openid: &str, scope: &str, state: &str) -> Page {
    decide(wx, openid, scope, state, "allow").await
}

async fn decide(wx: &Wx, openid: &str, scope: &str, state: &str, decision: &str) -> Page {
    submit(
        wx,
        "/connect/oauth2/authorize",
        &[
            ("appid", "wxservice"),
            ("redirect_uri", SHOP),
            ("response_type", "code"),
            ("scope", scope),
            ("state", state),
            ("openid", openid),
            ("decision", decision),
        ],
    )
    .await
}

#[tokio::test]
async fn snsapi_base_redirects_at_once_with_a_code_that_works_once() {
    let wx = Wx::new();
    let openid = wx.followers("wxservice", 1).await.remove(0);
    let link = as_follower(
        &authorize_link("wxservice", SHOP, "snsapi_base", "STATE"),
        &openid,
    );
    let page = open(&wx, &link, None).await;
    assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
    let params = page.redirect_params();
    let names: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["from", "code", "state"], "{}", page.location());
    assert!(
        page.location()
            .starts_with("https://shop.example.com/oauth?from=menu&code=")
    );
    assert_eq!(page.redirect_param("state").as_deref(), Some("STATE"));
    let code = page.redirect_param("code").expect("code");

    // ⟦oauth-token-response-fixture⟧: exactly these fields, no errcode, no unionid.
    let v = exchange(&wx, "wxservice", &code).await;
    assert_eq!(
        keys(&v),
        [
            "access_token",
            "expires_in",
            "openid",
            "refresh_token",
            "scope"
        ],
        "{v}"
    );
    assert_eq!(v["expires_in"], 7200);
    assert_eq!(v["openid"], json!(openid));
    assert_eq!(v["scope"], "snsapi_base");
    assert_ne!(v["access_token"], v["refresh_token"]);
    assert!(v["access_token"].as_str().is_some_and(|t| t.len() >= 64));

    // ⟦oauth-code-used⟧
    let again = exchange(&wx, "wxservice", &code).await;
    assert_eq!(errcode(&again), 40163, "{again}");
    assert!(
        again["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("code been used"))
    );
}

#[tokio::test]
async fn the_official_example_link_comes_back_with_its_own_query_intact() {
    // ⟦oauth-url-official-base⟧, with the sandbox's account as appid.
    let wx = Wx::new();
    let openid = wx.followers("wxservice", 1).await.remove(0);
    let link = "/connect/oauth2/authorize?appid=wxservice&redirect_uri=http%3A%2F%2Fchong.qq.com%2Fphp%2Findex.php%3Fd%3D%26c%3DwxAdapter%26m%3DmobileDeal%26showwxpaytitle%3D1%26vb2ctag%3D4_2030_5_1194_60&response_type=code&scope=snsapi_base&state=123";
    let page = open(&wx, &as_follower(link, &openid), None).await;
    let code = page.redirect_param("code").expect("code");
    assert_eq!(
        page.location(),
        format!(
            "http://chong.qq.com/php/index.php?d=&c=wxAdapter&m=mobileDeal&showwxpaytitle=1&vb2ctag=4_2030_5_1194_60&code={code}&state=123"
        )
    );
    // ⟦oauth-url-wechatpy-base-nostate⟧: no state given.
    let link = "/connect/oauth2/authorize?appid=wxservice&redirect_uri=http%3A%2F%2Flocalhost&response_type=code&scope=snsapi_base";
    let page = open(&wx, &as_follower(link, &openid), None).await;
    assert!(
        page.location().starts_with("http://localhost/?code="),
        "{}",
        page.location()
    );
}

#[tokio::test]
async fn codes_are_for_their_app_and_five_minutes_and_exchanges_are_checked_in_order() {
    let wx = Wx::new();
    wx.registry.add_app(app("wxotherservice", "service", true));
    let openid = wx.followers("wxservice", 1).await.remove(0);
    let code = code_for(&wx, &openid, "snsapi_base").await;

    let v = exchange(&wx, "wxotherservice", &code).await;
    assert_eq!(errcode(&v), 40029, "another app's code: {v}");
    let v = exchange(&wx, "wxservice", "no-such-code").await;
    assert_eq!(errcode(&v), 40029);
    assert!(
        v["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid code"))
    );

    let base = "/sns/oauth2/access_token";
    let with = |q: &str| format!("{base}?{q}");
    let cases = [
        (with("secret=x&code=c&grant_type=authorization_code"), 41002),
        (
            with("appid=wxnobody&secret=x&code=c&grant_type=authorization_code"),
            40013,
        ),
        (
            with("appid=wxservice&code=c&grant_type=authorization_code"),
            41004,
        ),
        (
            with("appid=wxservice&secret=wrong&code=c&grant_type=authorization_code"),
            40125,
        ),
        (
            with("appid=wxservice&secret=secret-of-wxservice&code=c&grant_type=client_credential"),
            40002,
        ),
        (
            with("appid=wxservice&secret=secret-of-wxservice&grant_type=authorization_code"),
            41008,
        ),
    ];
    for (url, want) in cases {
        let (status, v) = wx.get(&url).await;
        assert_eq!((status, errcode(&v)), (StatusCode::OK, want), "{url}: {v}");
    }

    wx.advance_ms(5 * 60_000 + 1);
    let v = exchange(&wx, "wxservice", &code).await;
    assert_eq!(errcode(&v), 40029, "expired after 5 minutes: {v}");

    let fresh = code_for(&wx, &openid, "snsapi_base").await;
    wx.advance_ms(5 * 60_000 - 1000);
    assert!(exchange(&wx, "wxservice", &fresh).await["access_token"].is_string());
}

#[tokio::test]
async fn snsapi_userinfo_asks_for_consent_and_userinfo_gives_the_profile() {
    let wx = Wx::new();
    let profile = json!([{"nickname": "小明", "headimgurl": "http://thirdwx.qlogo.cn/mmopen/x/132",
                          "sex": 1, "province": "广东", "city": "广州", "country": "中国"}]);
    let openid = followers_with(&wx, "wxservice", true, profile)
        .await
        .remove(0);
    let link = as_follower(
        &authorize_link("wxservice", SHOP, "snsapi_userinfo", "abc123"),
        &openid,
    );
    let page = open(&wx, &link, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.location.is_none(), "consent first, no redirect");
    for shown in [
        "获取你的昵称、头像",
        "允许",
        "拒绝",
        "小明",
        "gh_service",
        "viewport",
    ] {
        assert!(
            page.body.contains(shown),
            "consent page lacks {shown}: {}",
            page.body
        );
    }
    assert!(
        page.body.contains(r#"action="authorize""#),
        "relative, for /sandbox too"
    );

    let denied = decide(&wx, &openid, "snsapi_userinfo", "abc123", "deny").await;
    assert_eq!(denied.status, StatusCode::FOUND);
    assert_eq!(
        denied.location(),
        "https://shop.example.com/oauth?from=menu&state=abc123",
        "denied: the state and no code"
    );

    let allowed = allow(&wx, &openid, "snsapi_userinfo", "abc123").await;
    assert_eq!(allowed.redirect_param("state").as_deref(), Some("abc123"));
    let code = allowed.redirect_param("code").expect("code");
    let token = exchange(&wx, "wxservice", &code).await;
    assert_eq!(token["scope"], "snsapi_userinfo", "{token}");
    let at = token["access_token"].as_str().expect("token");

    // ⟦oauth-userinfo-response-fixture⟧'s fields (no unionid: no open platform binding).
    let (_, info) = wx
        .get(&format!(
            "/sns/userinfo?access_token={at}&openid={openid}&lang=zh_CN"
        ))
        .await;
    assert_eq!(
        keys(&info),
        [
            "city",
            "country",
            "headimgurl",
            "nickname",
            "openid",
            "privilege",
            "province",
            "sex"
        ],
        "{info}"
    );
    assert_eq!(info["openid"], json!(openid));
    assert_eq!(info["nickname"], "小明");
    assert_eq!(info["sex"], 1);
    assert_eq!(info["province"], "广东");
    assert_eq!(info["city"], "广州");
    assert_eq!(info["country"], "中国");
    assert_eq!(info["headimgurl"], "http://thirdwx.qlogo.cn/mmopen/x/132");
    assert_eq!(info["privilege"], json!([]));
}

#[tokio::test]
async fn people_who_do_not_follow_may_authorize_too() {
    let wx = Wx::new();
    let openid = followers_with(&wx, "wxservice", false, json!([{"nickname": "路人"}]))
        .await
        .remove(0);
    let code = code_for(&wx, &openid, "snsapi_userinfo").await;
    let token = exchange(&wx, "wxservice", &code).await;
    let at = token["access_token"].as_str().expect("token");
    let (_, info) = wx
        .get(&format!("/sns/userinfo?access_token={at}&openid={openid}"))
        .await;
    assert_eq!(info["nickname"], "路人", "{info}");
}

#[tokio::test]
async fn web_tokens_are_checked_per_user_and_scope() {
    let wx = Wx::new();
    let openids = wx.followers("wxservice", 2).await;
    let code = code_for(&wx, &openids[0], "snsapi_base").await;
    let token = exchange(&wx, "wxservice", &code).await;
    let at = token["access_token"].as_str().expect("token");
    let me = &openids[0];
    let other = &openids[1];

    let info = |q: String| {
        let wx = &wx;
        async move { wx.get(&format!("/sns/userinfo?{q}")).await.1 }
    };
    assert_eq!(
        errcode(&info(format!("access_token={at}&openid={me}")).await),
        48001
    );
    assert_eq!(
        errcode(&info(format!("access_token={at}&openid={other}")).await),
        40003
    );
    assert_eq!(
        errcode(&info(format!("access_token=nope&openid={me}")).await),
        40001
    );
    assert_eq!(errcode(&info(format!("openid={me}")).await), 41001);

    // ⟦oauth-sns-auth-ok⟧ / ⟦oauth-sns-auth-invalid⟧
    let (_, ok) = wx
        .get(&format!("/sns/auth?access_token={at}&openid={me}"))
        .await;
    assert_eq!(ok, json!({"errcode": 0, "errmsg": "ok"}));
    let (_, bad) = wx
        .get(&format!("/sns/auth?access_token={at}&openid={other}"))
        .await;
    assert_eq!(errcode(&bad), 40003);
    assert!(
        bad["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid openid"))
    );

    // The API access_token is no web token, and the other way round.
    let api_token = wx.cached_token("wxservice").await;
    let (_, v) = wx
        .get(&format!("/sns/auth?access_token={api_token}&openid={me}"))
        .await;
    assert_eq!(errcode(&v), 40001);
    let (_, v) = wx
        .get(&format!(
            "/cgi-bin/ticket/getticket?access_token={at}&type=jsapi"
        ))
        .await;
    assert_eq!(errcode(&v), 40001);

    wx.advance_ms(7200 * 1000);
    let (_, v) = wx
        .get(&format!("/sns/auth?access_token={at}&openid={me}"))
        .await;
    assert_eq!(errcode(&v), 42001, "a web token lives 7,200 s");
}

#[tokio::test]
async fn refreshing_extends_a_live_token_and_replaces_a_dead_one_for_thirty_days() {
    let wx = Wx::new();
    let openid = wx.followers("wxservice", 1).await.remove(0);
    let code = code_for(&wx, &openid, "snsapi_userinfo").await;
    let first = exchange(&wx, "wxservice", &code).await;
    let rt = first["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string();
    let refresh_url = format!(
        "/sns/oauth2/refresh_token?appid=wxservice&grant_type=refresh_token&refresh_token={rt}"
    );
    let auth = |token: Value| {
        let wx = &wx;
        let openid = openid.clone();
        async move {
            let t = token.as_str().unwrap_or_default().to_string();
            errcode(
                &wx.get(&format!("/sns/auth?access_token={t}&openid={openid}"))
                    .await
                    .1,
            )
        }
    };

    wx.advance_ms(7000 * 1000);
    let (_, second) = wx.get(&refresh_url).await;
    assert_eq!(keys(&second), keys(&first), "same shape: {second}");
    assert_eq!(
        second["access_token"], first["access_token"],
        "still valid: kept"
    );
    assert_eq!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(second["scope"], "snsapi_userinfo");
    assert_eq!(second["expires_in"], 7200);
    wx.advance_ms(7000 * 1000);
    assert_eq!(
        auth(second["access_token"].clone()).await,
        0,
        "its life was extended"
    );

    wx.advance_ms(7200 * 1000);
    assert_eq!(auth(second["access_token"].clone()).await, 42001);
    let (_, third) = wx.get(&refresh_url).await;
    assert_ne!(
        third["access_token"], second["access_token"],
        "expired: replaced"
    );
    assert_eq!(auth(third["access_token"].clone()).await, 0);
    assert_eq!(auth(second["access_token"].clone()).await, 40001);

    let cases = [
        (
            "/sns/oauth2/refresh_token?appid=wxservice&grant_type=refresh_token&refresh_token=nope"
                .to_string(),
            40030,
        ),
        (
            "/sns/oauth2/refresh_token?appid=wxservice&grant_type=refresh_token".to_string(),
            41003,
        ),
        (
            format!(
                "/sns/oauth2/refresh_token?appid=wxservice&grant_type=authorization_code&refresh_token={rt}"
            ),
            40002,
        ),
        (
            format!("/sns/oauth2/refresh_token?grant_type=refresh_token&refresh_token={rt}"),
            41002,
        ),
        (
            format!(
                "/sns/oauth2/refresh_token?appid=wxsubscribe&grant_type=refresh_token&refresh_token={rt}"
            ),
            40030,
        ),
    ];
    for (url, want) in cases {
        assert_eq!(errcode(&wx.get(&url).await.1), want, "{url}");
    }

    wx.advance_ms(30 * 86_400_000);
    let (_, v) = wx.get(&refresh_url).await;
    assert_eq!(errcode(&v), 42002, "refresh tokens live 30 days: {v}");
}

#[tokio::test]
async fn bad_authorize_links_get_wechats_error_page() {
    let wx = Wx::new();
    let openid = wx.followers("wxservice", 1).await.remove(0);
    let cases = [
        (
            "appid=&redirect_uri=https%3A%2F%2Fa.com&response_type=code&scope=snsapi_base",
            "10012",
        ),
        (
            "appid=wxnobody&redirect_uri=https%3A%2F%2Fa.com&response_type=code&scope=snsapi_base",
            "10016",
        ),
        (
            "appid=wxservice&response_type=code&scope=snsapi_base",
            "10011",
        ),
        (
            "appid=wxservice&redirect_uri=https%3A%2F%2Fa.com&response_type=code",
            "10010",
        ),
        (
            "appid=wxservice&redirect_uri=https%3A%2F%2Fa.com&response_type=code&scope=snsapi_login",
            "10005",
        ),
        (
            "appid=wxservice&redirect_uri=ftp%3A%2F%2Fa.com%2Fx&response_type=code&scope=snsapi_base",
            "10003",
        ),
        (
            "appid=wxservice&redirect_uri=javascript%3Aalert(1)&response_type=code&scope=snsapi_base",
            "10003",
        ),
        (
            "appid=wxservice&redirect_uri=%2Foauth&response_type=code&scope=snsapi_base",
            "10003",
        ),
    ];
    for (query, code) in cases {
        let url = format!("/connect/oauth2/authorize?{query}&state=s&sandbox_openid={openid}");
        let page = open(&wx, &url, None).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        assert!(page.location.is_none(), "{query} must not redirect");
        assert_eq!(
            page.errcode.as_deref(),
            Some(code),
            "{query}: {}",
            page.body
        );
        assert!(
            page.body.contains(&format!("错误码：{code}")),
            "{}",
            page.body
        );
    }
    let url = format!(
        "/connect/oauth2/authorize?appid=wxservice&redirect_uri=https%3A%2F%2Fa.com&scope=snsapi_base&sandbox_openid={openid}"
    );
    let page = open(&wx, &url, None).await;
    assert!(
        page.location.is_none() && page.errcode.is_some(),
        "response_type=code is required"
    );
}

#[tokio::test]
async fn only_verified_service_accounts_have_web_authorization() {
    let wx = Wx::new();
    for app_id in ["wxsubscribe", "wxunverifiedsvc", "wxpersonal"] {
        let openid = wx.followers(app_id, 1).await.remove(0);
        for scope in ["snsapi_base", "snsapi_userinfo"] {
            let link = as_follower(&authorize_link(app_id, SHOP, scope, "s"), &openid);
            let page = open(&wx, &link, None).await;
            assert_eq!(page.errcode.as_deref(), Some("10005"), "{app_id} {scope}");
            assert!(page.body.contains("此公众号并没有这些scope的权限"));
        }
    }
    let openid = wx.followers("wxservice", 1).await.remove(0);
    let link = as_follower(
        &authorize_link("wxservice", SHOP, "snsapi_base", "s"),
        &openid,
    );
    assert_eq!(open(&wx, &link, None).await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn the_sandbox_asks_who_is_browsing_unless_the_simulator_says() {
    let wx = Wx::new();
    let openids = followers_with(&wx, "wxservice", true, json!([{"nickname": "阿珍"}])).await;
    let openid = &openids[0];
    let link = authorize_link("wxservice", SHOP, "snsapi_base", "s9");

    let page = open(&wx, &link, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.location.is_none());
    assert!(page.body.contains("请在手机模拟器中打开"), "{}", page.body);
    assert!(page.body.contains(openid.as_str()) && page.body.contains("阿珍"));
    assert!(page.body.contains(r#"name="sandbox_openid""#));

    let page = open(
        &wx,
        &as_follower(&link, "oNobodyKnowsThisOpenid00000"),
        None,
    )
    .await;
    assert!(page.location.is_none());
    assert!(page.body.contains("不是此公众号的粉丝"), "{}", page.body);

    // The phone simulator's browse link: the cookie says who is browsing from then on.
    let target = serde_urlencoded::to_string([("url", SHOP)]).expect("query");
    let browse = open(
        &wx,
        &format!("/api/apps/wxservice/followers/{openid}/browse?{target}"),
        None,
    )
    .await;
    assert_eq!(browse.status, StatusCode::FOUND);
    assert_eq!(browse.location(), SHOP);
    let cookie = browse.set_cookie.clone().expect("cookie");
    assert!(
        cookie.starts_with(&format!("sandbox_openid={openid};")),
        "{cookie}"
    );
    assert!(cookie.contains("Path=/"));
    let page = open(
        &wx,
        &link,
        Some(&format!("theme=dark; sandbox_openid={openid}")),
    )
    .await;
    assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
    let code = page.redirect_param("code").expect("code");
    assert_eq!(
        exchange(&wx, "wxservice", &code).await["openid"],
        json!(openid)
    );

    let page = open(
        &wx,
        &format!("/api/apps/wxservice/followers/oUnknown/browse?{target}"),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    let page = open(
        &wx,
        &format!("/api/apps/wxservice/followers/{openid}/browse"),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    let page = open(
        &wx,
        &format!("/api/apps/wxnobody/followers/{openid}/browse?{target}"),
        None,
    )
    .await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
}

// ---- JS-SDK ----------------------------------------------------------------------------

/// The ticket of the official JS-SDK signature examples (⟦jssdk-official-*⟧).
const OFFICIAL_TICKET: &str =
    "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg";
const OFFICIAL_NONCE: &str = "Wm3WZYTPz0wzccnW";
const OFFICIAL_TIMESTAMP: &str = "1414587457";

#[tokio::test]
async fn getticket_returns_the_same_ticket_while_it_lives() {
    let wx = Wx::new();
    let first = wx
        .call("wxservice", "/cgi-bin/ticket/getticket?type=jsapi", None)
        .await;
    assert_eq!(
        keys(&first),
        ["errcode", "errmsg", "expires_in", "ticket"],
        "{first}"
    );
    assert_eq!(first["errcode"], 0);
    assert_eq!(first["errmsg"], "ok");
    assert_eq!(first["expires_in"], 7200);
    assert_eq!(first["ticket"].as_str().map(str::len), Some(86));

    wx.advance_ms(600_000);
    let again = wx
        .call("wxservice", "/cgi-bin/ticket/getticket?type=jsapi", None)
        .await;
    assert_eq!(again["ticket"], first["ticket"]);
    assert_eq!(again["expires_in"], 6600);

    let card = wx
        .call("wxservice", "/cgi-bin/ticket/getticket?type=wx_card", None)
        .await;
    assert_ne!(
        card["ticket"], first["ticket"],
        "the card ticket is its own"
    );

    wx.advance_ms(6600 * 1000);
    let token = wx.token("wxservice").await;
    let (_, renewed) = wx
        .get(&format!(
            "/cgi-bin/ticket/getticket?access_token={token}&type=jsapi"
        ))
        .await;
    assert_ne!(renewed["ticket"], first["ticket"], "expired: a new ticket");
    assert_eq!(renewed["expires_in"], 7200);

    for bad in [
        "/cgi-bin/ticket/getticket",
        "/cgi-bin/ticket/getticket?type=jsapi2",
    ] {
        let (_, v) = wx
            .get(&format!(
                "{bad}{}access_token={token}",
                if bad.contains('?') { '&' } else { '?' }
            ))
            .await;
        assert_eq!(errcode(&v), 40097, "{bad}: {v}");
    }
    let (_, v) = wx.get("/cgi-bin/ticket/getticket?type=jsapi").await;
    assert_eq!(errcode(&v), 41001);
}

#[tokio::test]
async fn every_account_gets_a_jsapi_ticket_but_card_tickets_need_verification() {
    let wx = Wx::new();
    for (app_id, card_allowed) in [
        ("wxservice", true),
        ("wxsubscribe", true),
        ("wxunverifiedsvc", false),
        ("wxpersonal", false),
    ] {
        let v = wx
            .call(app_id, "/cgi-bin/ticket/getticket?type=jsapi", None)
            .await;
        assert!(v["ticket"].is_string(), "{app_id}: {v}");
        let v = wx
            .call(app_id, "/cgi-bin/ticket/getticket?type=wx_card", None)
            .await;
        let want = if card_allowed { 0 } else { 48001 };
        assert_eq!(errcode(&v), want, "{app_id}: {v}");
    }
}

async fn verify(wx: &Wx, check: Value) -> Value {
    let (status, v) = wx.post("/api/apps/wxservice/jssdk/verify", &check).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

fn official_check(url: &str, signature: &str) -> Value {
    json!({"url": url, "noncestr": OFFICIAL_NONCE, "timestamp": OFFICIAL_TIMESTAMP, "signature": signature})
}

#[tokio::test]
async fn the_official_signatures_verify_against_the_sandbox_ticket() {
    let wx = Wx::new();
    let (status, pinned) = wx
        .put(
            "/api/apps/wxservice/jssdk/ticket",
            &json!({"ticket": OFFICIAL_TICKET}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pinned}");
    let got = wx
        .call("wxservice", "/cgi-bin/ticket/getticket?type=jsapi", None)
        .await;
    assert_eq!(
        got["ticket"], OFFICIAL_TICKET,
        "getticket hands out the pinned ticket"
    );

    // ⟦jssdk-official-2-url-with-query⟧ and ⟦jssdk-official-1-plain-url⟧
    for (url, signature) in [
        (
            "http://mp.weixin.qq.com?params=value",
            "0f9de62fce790f9a083d5c99e95740ceb90c27ed",
        ),
        (
            "http://mp.weixin.qq.com",
            "f4d90daf4b3bca3078ab155816175ba34c443a7b",
        ),
    ] {
        let v = verify(&wx, official_check(url, signature)).await;
        assert_eq!(v["valid"], true, "{url}: {v}");
        assert_eq!(v["errMsg"], "config:ok");
        assert_eq!(
            v["string1"],
            format!(
                "jsapi_ticket={OFFICIAL_TICKET}&noncestr={OFFICIAL_NONCE}&timestamp={OFFICIAL_TIMESTAMP}&url={url}"
            )
        );
    }
    // A number timestamp, as wx.config has it, and the GET form.
    let mut numeric = official_check(
        "http://mp.weixin.qq.com",
        "f4d90daf4b3bca3078ab155816175ba34c443a7b",
    );
    numeric["timestamp"] = json!(1_414_587_457);
    assert_eq!(verify(&wx, numeric).await["valid"], true);
    let query = serde_urlencoded::to_string([
        ("url", "http://mp.weixin.qq.com?params=value"),
        ("noncestr", OFFICIAL_NONCE),
        ("timestamp", OFFICIAL_TIMESTAMP),
        ("signature", "0f9de62fce790f9a083d5c99e95740ceb90c27ed"),
    ])
    .expect("query");
    let (_, v) = wx
        .get(&format!("/api/apps/wxservice/jssdk/verify?{query}"))
        .await;
    assert_eq!(v["valid"], true, "{v}");

    // ⟦jssdk-derived-fragment-stripped⟧: the page's href has a fragment; only the part before
    // it is signed.
    let href = "http://mp.weixin.qq.com?params=value#/order/1?x=y";
    let v = verify(
        &wx,
        official_check(href, "0f9de62fce790f9a083d5c99e95740ceb90c27ed"),
    )
    .await;
    assert_eq!(v["valid"], false);
    assert!(v["reason"].as_str().is_some_and(|r| r.contains('#')), "{v}");
    let stripped = href.split('#').next().unwrap_or_default();
    let v = verify(
        &wx,
        official_check(stripped, "0f9de62fce790f9a083d5c99e95740ceb90c27ed"),
    )
    .await;
    assert_eq!(v["valid"], true);

    // ⟦jssdk-derived-negative-urlencoded⟧
    let v = verify(
        &wx,
        official_check(
            "http%3A%2F%2Fmp.weixin.qq.com%3Fparams%3Dvalue",
            "fc555b5603f3cd82d454a79af8ad7fabb2609276",
        ),
    )
    .await;
    assert_eq!(v["valid"], false);
    assert_eq!(v["errMsg"], "config:invalid signature");
    assert!(
        v["reason"]
            .as_str()
            .is_some_and(|r| r.contains("percent-encoded")),
        "{v}"
    );
}

#[tokio::test]
async fn a_wrong_config_is_refused_with_the_reason() {
    let wx = Wx::new();
    let url = "https://shop.example.com/m/index?x=1";
    let reason = |v: &Value| v["reason"].as_str().unwrap_or_default().to_string();

    let v = verify(
        &wx,
        official_check(url, "0f9de62fce790f9a083d5c99e95740ceb90c27ed"),
    )
    .await;
    assert!(reason(&v).contains("getticket"), "no ticket yet: {v}");

    let ticket = wx
        .call("wxservice", "/cgi-bin/ticket/getticket?type=jsapi", None)
        .await["ticket"]
        .as_str()
        .expect("ticket")
        .to_string();
    let sign = |ticket: &str, url: &str| {
        use sha1::Digest;
        let s = format!(
            "jsapi_ticket={ticket}&noncestr={OFFICIAL_NONCE}&timestamp={OFFICIAL_TIMESTAMP}&url={url}"
        );
        hex::encode(sha1::Sha1::digest(s.as_bytes()))
    };
    let good = sign(&ticket, url);
    assert_eq!(verify(&wx, official_check(url, &good)).await["valid"], true);

    let v = verify(&wx, official_check(url, &good.to_uppercase())).await;
    assert!(reason(&v).contains("lowercase"), "{v}");
    let v = verify(
        &wx,
        official_check("https://shop.example.com/m/index?x=2", &good),
    )
    .await;
    assert_eq!(v["valid"], false);
    assert!(reason(&v).contains("does not match"), "{v}");
    let v = verify(&wx, official_check("shop.example.com/m/index?x=1", &good)).await;
    assert!(reason(&v).contains("http"), "{v}");
    let v = verify(
        &wx,
        official_check("https://shop.example.com/m/index?x=1&amp;y=2", &good),
    )
    .await;
    assert!(reason(&v).contains("&amp;"), "{v}");
    let mut millis = official_check(url, &good);
    millis["timestamp"] = json!("1414587457000");
    assert!(reason(&verify(&wx, millis).await).contains("seconds"));
    let mut no_nonce = official_check(url, &good);
    no_nonce["noncestr"] = json!("");
    assert!(reason(&verify(&wx, no_nonce).await).contains("noncestr"));

    // Once the ticket is replaced, signatures made with it are stale.
    wx.advance_ms(7200 * 1000);
    let token = wx.token("wxservice").await;
    wx.get(&format!(
        "/cgi-bin/ticket/getticket?access_token={token}&type=jsapi"
    ))
    .await;
    let v = verify(&wx, official_check(url, &good)).await;
    assert!(reason(&v).contains("replaced"), "{v}");

    let (status, _) = wx
        .post(
            "/api/apps/wxnobody/jssdk/verify",
            &official_check(url, &good),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = wx
        .put("/api/apps/wxservice/jssdk/ticket", &json!({"ticket": ""}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

// ---- Data cube ---------------------------------------------------------------------------

/// The harness clock starts at 2026-11-30 20:00 in Beijing.
const DAY_MS: i64 = 86_400_000;

async fn cube(wx: &Wx, app_id: &str, name: &str, begin: &str, end: &str) -> Value {
    wx.call(
        app_id,
        &format!("/datacube/{name}"),
        Some(&json!({"begin_date": begin, "end_date": end})),
    )
    .await
}

/// One row of `getusersummary`.
fn row(date: &str, source: i64, new: i64, cancel: i64) -> Value {
    json!({"ref_date": date, "user_source": source, "new_user": new, "cancel_user": cancel})
}

async fn act(wx: &Wx, app_id: &str, openid: &str, action: Value) {
    let (status, v) = wx
        .post(
            &format!("/api/apps/{app_id}/followers/{openid}/actions"),
            &action,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{action}: {v}");
}

#[tokio::test]
async fn user_summary_and_cumulate_follow_what_followers_did() {
    let wx = Wx::new();
    // 2026-11-30: five followers already following (bulk), three not yet.
    let bulk = wx.followers("wxservice", 5).await;
    let later = followers_with(&wx, "wxservice", false, json!([{}, {}, {}])).await;

    // 2026-12-01: one scans a QR code, two find the account by search, one bulk follower
    // leaves; following again while following changes nothing.
    wx.advance_ms(DAY_MS);
    act(
        &wx,
        "wxservice",
        &later[0],
        json!({"type": "follow", "scene": "poster"}),
    )
    .await;
    act(&wx, "wxservice", &later[1], json!({"type": "follow"})).await;
    act(&wx, "wxservice", &later[2], json!({"type": "follow"})).await;
    act(&wx, "wxservice", &bulk[0], json!({"type": "unfollow"})).await;
    act(&wx, "wxservice", &bulk[1], json!({"type": "follow"})).await;

    // 2026-12-02: the QR follower leaves again.
    wx.advance_ms(DAY_MS);
    act(&wx, "wxservice", &later[0], json!({"type": "unfollow"})).await;
    wx.advance_ms(DAY_MS);

    let summary = cube(
        &wx,
        "wxservice",
        "getusersummary",
        "2026-11-29",
        "2026-12-02",
    )
    .await;
    assert_eq!(
        summary,
        json!({"list": [
            row("2026-11-29", 0, 0, 0),
            row("2026-11-30", 0, 5, 0),
            row("2026-12-01", 0, 0, 1),
            row("2026-12-01", 1, 2, 0),
            row("2026-12-01", 30, 1, 0),
            row("2026-12-02", 0, 0, 0),
            row("2026-12-02", 30, 0, 1),
        ]})
    );

    let cumulate = cube(
        &wx,
        "wxservice",
        "getusercumulate",
        "2026-11-29",
        "2026-12-02",
    )
    .await;
    assert_eq!(
        cumulate,
        json!({"list": [
            {"ref_date": "2026-11-29", "cumulate_user": 0},
            {"ref_date": "2026-11-30", "cumulate_user": 5},
            {"ref_date": "2026-12-01", "cumulate_user": 7},
            {"ref_date": "2026-12-02", "cumulate_user": 6},
        ]})
    );
    // cumulate(day) = cumulate(day - 1) + new - cancel, every day.
    let rows = cumulate["list"].as_array().expect("rows");
    for pair in rows.windows(2) {
        let day = pair[1]["ref_date"].clone();
        let net: i64 = summary["list"]
            .as_array()
            .expect("rows")
            .iter()
            .filter(|r| r["ref_date"] == day)
            .map(|r| r["new_user"].as_i64().unwrap_or(0) - r["cancel_user"].as_i64().unwrap_or(0))
            .sum();
        let (before, after) = (
            pair[0]["cumulate_user"].as_i64(),
            pair[1]["cumulate_user"].as_i64(),
        );
        assert_eq!(after, before.map(|b| b + net), "{day}");
    }

    // Another account's figures are its own.
    let other = cube(
        &wx,
        "wxsubscribe",
        "getusercumulate",
        "2026-12-01",
        "2026-12-01",
    )
    .await;
    assert_eq!(
        other,
        json!({"list": [{"ref_date": "2026-12-01", "cumulate_user": 0}]})
    );
}

#[tokio::test]
async fn data_cube_dates_are_checked_as_wechat_checks_them() {
    let wx = Wx::new();
    // Today in Beijing is 2026-11-30: yesterday is the latest day there is data for.
    let ok = |v: &Value| v["list"].is_array() && v.get("errcode").is_none();
    let v = cube(
        &wx,
        "wxservice",
        "getusersummary",
        "2026-11-23",
        "2026-11-29",
    )
    .await;
    assert!(ok(&v), "7 days, ending yesterday: {v}");
    let cases = [
        ("getusersummary", "2026-11-24", "2026-11-30", 61501),
        ("getusersummary", "2026-11-22", "2026-11-28", 0),
        ("getusersummary", "2026-11-21", "2026-11-28", 61501),
        ("getusercumulate", "2026-11-21", "2026-11-28", 61501),
        ("getusercumulate", "2026-11-28", "2026-11-27", 61501),
        ("getupstreammsg", "2026-11-21", "2026-11-28", 61501),
        ("getinterfacesummary", "2026-10-31", "2026-11-29", 0),
        ("getinterfacesummary", "2026-10-30", "2026-11-29", 61501),
        ("getusersummary", "2026/11/28", "2026/11/29", 61500),
        ("getusersummary", "20261128", "20261129", 61500),
        ("getusersummary", "2026-11-28", "2026-11-31", 61500),
        ("getusersummary", "2026-11-28", "", 61500),
    ];
    for (name, begin, end, want) in cases {
        let v = cube(&wx, "wxservice", name, begin, end).await;
        assert_eq!(errcode(&v), want, "{name} {begin}..{end}: {v}");
    }
    let v = wx
        .call(
            "wxservice",
            "/datacube/getusersummary",
            Some(&json!({"begin_date": "2026-11-28"})),
        )
        .await;
    assert_eq!(errcode(&v), 61500);
    let msg = cube(
        &wx,
        "wxservice",
        "getusersummary",
        "2026-11-20",
        "2026-11-29",
    )
    .await;
    assert!(
        msg["errmsg"]
            .as_str()
            .is_some_and(|m| m.starts_with("date range error"))
    );
    let token = wx.cached_token("wxservice").await;
    let (_, v) = wx
        .post_raw(
            &format!("/datacube/getusersummary?access_token={token}"),
            b"{".to_vec(),
        )
        .await;
    assert_eq!(errcode(&v), 47001);

    // WeChat keeps nothing before 2014-12-01.
    let v = cube(
        &wx,
        "wxservice",
        "getusercumulate",
        "2014-11-28",
        "2014-12-02",
    )
    .await;
    let dates: Vec<&str> = v["list"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["ref_date"].as_str())
        .collect();
    assert_eq!(dates, ["2014-12-01", "2014-12-02"]);
}

#[tokio::test]
async fn the_data_cube_is_for_verified_accounts() {
    let wx = Wx::new();
    for (app_id, want) in [
        ("wxservice", 0),
        ("wxsubscribe", 0),
        ("wxunverifiedsvc", 48001),
        ("wxpersonal", 48001),
    ] {
        for name in [
            "getusersummary",
            "getusercumulate",
            "getupstreammsg",
            "getinterfacesummary",
        ] {
            let v = cube(&wx, app_id, name, "2026-11-28", "2026-11-29").await;
            assert_eq!(errcode(&v), want, "{app_id} {name}: {v}");
        }
    }
}

#[tokio::test]
async fn upstream_messages_count_senders_and_texts_not_events() {
    let wx = Wx::new();
    let openids = wx.followers("wxservice", 2).await;
    for text in ["你好", "在吗", "价格"] {
        act(
            &wx,
            "wxservice",
            &openids[0],
            json!({"type": "text", "content": text}),
        )
        .await;
    }
    act(
        &wx,
        "wxservice",
        &openids[1],
        json!({"type": "text", "content": "hi"}),
    )
    .await;
    act(
        &wx,
        "wxservice",
        &openids[1],
        json!({"type": "click", "key": "MENU"}),
    )
    .await;
    wx.advance_ms(DAY_MS);
    act(
        &wx,
        "wxservice",
        &openids[1],
        json!({"type": "text", "content": "again"}),
    )
    .await;
    wx.advance_ms(DAY_MS);

    let v = cube(
        &wx,
        "wxservice",
        "getupstreammsg",
        "2026-11-29",
        "2026-12-01",
    )
    .await;
    assert_eq!(
        v,
        json!({"list": [
            {"ref_date": "2026-11-30", "msg_type": 1, "msg_user": 2, "msg_count": 4},
            {"ref_date": "2026-12-01", "msg_type": 1, "msg_user": 1, "msg_count": 1},
        ]})
    );
}

/// A merchant's callback that answers `success` after `delay_ms`.
async fn merchant_callback(delay_ms: u64) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let app = Router::new().route(
        "/wx",
        axum::routing::post(move || async move {
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            "success"
        }),
    );
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    format!("http://{addr}/wx")
}

#[tokio::test]
async fn the_interface_summary_counts_deliveries_their_failures_and_times() {
    let wx = Wx::new();
    let mut answering = app("wxcallbackok", "service", true);
    answering.callback_url = merchant_callback(30).await;
    wx.registry.add_app(answering);
    let openid = wx.followers("wxcallbackok", 1).await.remove(0);
    act(
        &wx,
        "wxcallbackok",
        &openid,
        json!({"type": "text", "content": "1"}),
    )
    .await;
    act(
        &wx,
        "wxcallbackok",
        &openid,
        json!({"type": "click", "key": "K"}),
    )
    .await;

    // The harness's accounts have no callback listening: every delivery fails.
    let silent = wx.followers("wxservice", 1).await.remove(0);
    act(
        &wx,
        "wxservice",
        &silent,
        json!({"type": "text", "content": "x"}),
    )
    .await;
    wx.advance_ms(DAY_MS);

    let v = cube(
        &wx,
        "wxcallbackok",
        "getinterfacesummary",
        "2026-11-01",
        "2026-11-30",
    )
    .await;
    let rows = v["list"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "{v}");
    let row = &rows[0];
    assert_eq!(
        keys(row),
        [
            "callback_count",
            "fail_count",
            "max_time_cost",
            "ref_date",
            "total_time_cost"
        ]
    );
    assert_eq!(row["ref_date"], "2026-11-30");
    assert_eq!(row["callback_count"], 2);
    assert_eq!(row["fail_count"], 0);
    let max = row["max_time_cost"].as_u64().expect("max");
    let total = row["total_time_cost"].as_u64().expect("total");
    assert!(max >= 30 && total >= max && total >= 60, "{row}");

    let v = cube(
        &wx,
        "wxservice",
        "getinterfacesummary",
        "2026-11-30",
        "2026-11-30",
    )
    .await;
    assert_eq!(v["list"][0]["callback_count"], 1, "{v}");
    assert_eq!(v["list"][0]["fail_count"], 1);
}
