//! Signing in and out through the real HTTP surface: sessions, lock-out, password change,
//! CSRF, disabled staff, the language of messages, and where sign-in may lead.

mod common;

use common::*;
use reqwest::header::{ACCEPT_LANGUAGE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::json;
use zhanggui::platform::auth::model::{LOCKOUT_MS, Role};

/// GET /login, then POST it with `next`; returns the answer (status, Location, body).
async fn login_with_next(
    app: &TestApp,
    username: &str,
    password: &str,
    next: &str,
) -> (StatusCode, Option<String>, String) {
    let (client, _jar) = app.browser();
    let (_, page) = read(client.get(app.url("/login"))).await;
    let token = csrf_of(&page).expect("login form token");
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("_csrf", token.as_str()),
            ("username", username),
            ("password", password),
            ("next", next),
        ])
        .send()
        .await
        .expect("answer");
    let status = res.status();
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, location, res.text().await.expect("body"))
}

async fn sessions_of(app: &TestApp, user_id: i64) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) FROM sessions WHERE user_id = {user_id}"
    ))
    .await
}

#[tokio::test]
async fn sign_in_works_and_refusals_speak_the_callers_language() {
    let app = TestApp::spawn().await;
    let m = app.merchant("掌柜测试店").await;
    let alice = app.user(m, "alice", Role::Owner).await;

    // Chinese by default.
    let (client, _) = app.browser();
    let (status, body) = app
        .login_attempt(&client, "alice", "wrong-password", &[])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("用户名或密码不正确"), "{body}");
    assert!(
        body.contains("value=\"alice\""),
        "the username is kept: {body}"
    );
    assert!(
        !body.contains("wrong-password"),
        "the password is never echoed"
    );

    // English when the browser asks for it.
    let (client, _) = app.browser();
    let en = [(ACCEPT_LANGUAGE.as_str(), "en-US,en;q=0.9")];
    let (_, page) = read(client.get(app.url("/login")).header(ACCEPT_LANGUAGE, "en")).await;
    assert!(page.contains("Sign in"), "{page}");
    let (status, body) = app
        .login_attempt(&client, "alice", "wrong-password", &en)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("Wrong username or password"), "{body}");

    // Our language cookie outranks Accept-Language.
    let (client, jar) = app.browser();
    let url = reqwest::Url::parse(&app.base).expect("url");
    jar.add_cookie_str("zg_lang=en; Path=/", &url);
    let zh = [(ACCEPT_LANGUAGE.as_str(), "zh-CN")];
    let (_, body) = app
        .login_attempt(&client, "alice", "wrong-password", &zh)
        .await;
    assert!(body.contains("Wrong username or password"), "{body}");

    // An unknown user is refused in the same words as a wrong password.
    let (client, _) = app.browser();
    let (status, body) = app.login_attempt(&client, "nobody", PASSWORD, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("用户名或密码不正确"), "{body}");

    // The right password: a redirect with a session cookie that is HttpOnly and SameSite.
    let (client, _) = app.browser();
    let (_, page) = read(client.get(app.url("/login"))).await;
    let token = csrf_of(&page).expect("token");
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("_csrf", token.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers().get(LOCATION).expect("location"), "/");
    let cookies: Vec<String> = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("zg_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    assert!(session.contains("Path=/"));
    assert!(
        !session.contains("Secure"),
        "an http:// public URL: browsers would drop a Secure cookie: {session}"
    );
    assert_eq!(sessions_of(&app, alice).await, 1);
    let (status, page) = read(client.get(app.url("/"))).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("掌柜测试店") && page.contains("alice display"));
    // The database keeps a hash of the session token, never the token.
    let raw = session
        .trim_start_matches("zg_session=")
        .split(';')
        .next()
        .expect("value");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM sessions WHERE token_hash = '{raw}'"
        ))
        .await,
        0
    );
    app.stop().await;
}

/// The `Set-Cookie` values of an answer.
fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

/// Behind https (`ZG_PUBLIC_URL=https://…`) every cookie we set carries `Secure`: the
/// pre-session CSRF cookie, the session, the language, and the ones sign-out clears. (Over the
/// test's plain http a cookie jar would not send Secure cookies back, so this test carries
/// them by hand.)
#[tokio::test]
async fn behind_https_every_cookie_is_secure() {
    let app = TestApp::spawn_with(|c| c.public_url = "https://zhanggui.example".into()).await;
    let m = app.merchant("掌柜测试店").await;
    app.user(m, "alice", Role::Owner).await;
    let client = app.client();

    let res = client
        .get(app.url("/login"))
        .send()
        .await
        .expect("the login page");
    assert_eq!(res.status(), StatusCode::OK);
    let cookies = set_cookies(&res);
    let pre = cookies
        .iter()
        .find(|c| c.starts_with("zg_csrf="))
        .expect("a pre-session CSRF cookie");
    assert!(pre.contains("; Secure"), "{pre}");
    let pre_value = pre
        .trim_start_matches("zg_csrf=")
        .split(';')
        .next()
        .expect("value")
        .to_string();
    let page = res.text().await.expect("page");
    let token = csrf_of(&page).expect("login form token");

    let res = client
        .post(app.url("/login"))
        .header(COOKIE, format!("zg_csrf={pre_value}"))
        .form(&[
            ("_csrf", token.as_str()),
            ("username", "alice"),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookies = set_cookies(&res);
    for name in ["zg_session=", "zg_csrf=", "zg_lang="] {
        let c = cookies
            .iter()
            .find(|c| c.starts_with(name))
            .unwrap_or_else(|| panic!("{name} is set: {cookies:?}"));
        assert!(c.contains("; Secure"), "{c}");
    }
    let session = cookies
        .iter()
        .find(|c| c.starts_with("zg_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    let session_value = session
        .trim_start_matches("zg_session=")
        .split(';')
        .next()
        .expect("value")
        .to_string();

    // Signed in (the cookie is good), then signed out: the cookie cleared is Secure too.
    let cookie = format!("zg_session={session_value}");
    let res = client
        .get(app.url("/password"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("a signed-in page");
    assert_eq!(res.status(), StatusCode::OK);
    let csrf = csrf_of(&res.text().await.expect("page")).expect("the page's token");
    let res = client
        .post(app.url("/logout"))
        .header(COOKIE, &cookie)
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .expect("sign out");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cleared = set_cookies(&res);
    let gone = cleared
        .iter()
        .find(|c| c.starts_with("zg_session="))
        .expect("the session cookie is cleared");
    assert!(
        gone.contains("Max-Age=0") && gone.contains("; Secure"),
        "{gone}"
    );
    app.stop().await;
}

#[tokio::test]
async fn five_failures_lock_the_account_even_against_the_right_password() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let bob = app.user(m, "bob", Role::Clerk).await;
    let (client, _) = app.browser();
    for n in 1..=4 {
        let (status, body) = app.login_attempt(&client, "bob", "nope-nope", &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("用户名或密码不正确"), "failure {n}: {body}");
    }
    let (status, body) = app.login_attempt(&client, "bob", "nope-nope", &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body.contains("账号已锁定"),
        "the fifth failure locks: {body}"
    );
    let locked_until = app
        .count(&format!("SELECT locked_until FROM users WHERE id = {bob}"))
        .await;
    assert!(locked_until > app.now() + LOCKOUT_MS - 60_000);

    // Locked: the right password is refused too, and no session is made.
    let (status, body) = app.login_attempt(&client, "bob", PASSWORD, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("账号已锁定"), "{body}");
    let en = [(ACCEPT_LANGUAGE.as_str(), "en")];
    let (_, body) = app.login_attempt(&client, "bob", PASSWORD, &en).await;
    assert!(body.contains("locked"), "{body}");
    assert_eq!(sessions_of(&app, bob).await, 0);

    // Still locked a minute before the end.
    app.clock.advance(LOCKOUT_MS - 60_000);
    let (status, _) = app.login_attempt(&client, "bob", PASSWORD, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // After fifteen minutes the right password works and the counter is cleared.
    app.clock.advance(61_000);
    let (status, body) = app.login_attempt(&client, "bob", PASSWORD, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(
        app.count(&format!(
            "SELECT failed_logins + COALESCE(locked_until, 0) FROM users WHERE id = {bob}"
        ))
        .await,
        0
    );
    app.stop().await;
}

#[tokio::test]
async fn logout_ends_the_session_for_good() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let carol = app.user(m, "carol", Role::Operator).await;
    let s = app.sign_in("carol").await;
    let token = s.token().expect("session cookie");

    // Without the CSRF token a logout is refused and changes nothing.
    let (status, _) = read(s.raw(Method::POST, "/logout").form(&[("x", "y")])).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(s.get("/accounts").await.0, StatusCode::OK);

    let (status, _) = s.post_form("/logout", &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(sessions_of(&app, carol).await, 0);

    // The old cookie, replayed by anyone, no longer works.
    let replay = app.client();
    let cookie = format!("zg_session={token}");
    let (status, _) = read(
        replay
            .get(app.url("/api/v1/dashboard"))
            .header(COOKIE, &cookie),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let res = replay
        .get(app.url("/accounts"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers().get(LOCATION).expect("location"),
        "/login?next=%2Faccounts"
    );
    // And the browser's own jar forgot it.
    assert_eq!(s.token(), None);
    app.stop().await;
}

#[tokio::test]
async fn changing_the_password_checks_the_old_one_and_signs_out_other_sessions() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let dave = app.user(m, "dave", Role::Agent).await;
    let here = app.sign_in("dave").await;
    let elsewhere = app.sign_in("dave").await;
    let hash_before = password_hash().to_string();

    let (status, body) = here
        .post_form(
            "/password",
            &[
                ("current", "not-my-password"),
                ("new", "brand-new-secret"),
                ("confirm", "brand-new-secret"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("当前密码不正确"), "{body}");
    let (status, body) = here
        .post_form(
            "/password",
            &[
                ("current", PASSWORD),
                ("new", "short"),
                ("confirm", "other"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("密码至少 8 个字符"), "{body}");
    assert!(body.contains("两次输入的新密码不一致"), "{body}");
    let stored: String = zhanggui::platform::auth::store::user_by_id(&app.db, dave)
        .await
        .expect("read")
        .expect("user")
        .password_hash;
    assert_eq!(stored, hash_before, "a refused change changes nothing");
    assert_eq!(sessions_of(&app, dave).await, 2);

    let res = here
        .raw(Method::POST, "/password")
        .form(&[
            ("_csrf", here.csrf.as_str()),
            ("current", PASSWORD),
            ("new", "brand-new-secret"),
            ("confirm", "brand-new-secret"),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers().get(LOCATION).expect("location"),
        "/password?notice=password_changed"
    );
    // This session goes on; the other one is over.
    let (status, page) = here.get("/password?notice=password_changed").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("其他设备上的登录已退出"), "{page}");
    let (status, _) = read(elsewhere.request(Method::GET, "/api/v1/dashboard")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(sessions_of(&app, dave).await, 1);

    // The new password signs in; the old one does not.
    let (client, _) = app.browser();
    let (status, _) = app.login_attempt(&client, "dave", PASSWORD, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.sign_in_with("dave", "brand-new-secret").await;
    app.stop().await;
}

#[tokio::test]
async fn csrf_guards_every_state_change_a_browser_could_forge() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let owner = app.user(m, "olga", Role::Owner).await;
    let s = app.sign_in("olga").await;
    let keys = "SELECT COUNT(*) FROM api_keys";

    // A console form without the token, with a wrong one, with a wrong header.
    let (status, body) = read(
        s.raw(Method::POST, "/api-keys")
            .form(&[("name", "forged"), ("role", "owner")]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("页面已过期"), "{body}");
    let (status, _) = read(s.raw(Method::POST, "/api-keys").form(&[
        ("_csrf", "0123456789abcdef0123456789abcdef"),
        ("name", "forged"),
        ("role", "owner"),
    ]))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = read(
        s.raw(Method::POST, "/api-keys")
            .header("x-csrf-token", "wrong")
            .form(&[
                ("_csrf", s.csrf.as_str()),
                ("name", "forged"),
                ("role", "owner"),
            ]),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a wrong header is not rescued by the field"
    );
    assert_eq!(app.count(keys).await, 0, "nothing was created");
    // Another session's token does not fit this session.
    let other = app.sign_in("olga").await;
    let (status, _) = read(s.raw(Method::POST, "/api-keys").form(&[
        ("_csrf", other.csrf.as_str()),
        ("name", "forged"),
        ("role", "owner"),
    ]))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count(keys).await, 0);

    // With the token it works.
    let (status, body) = s
        .post_form("/api-keys", &[("name", "POS"), ("role", "operator")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.count(keys).await, 1);

    // The login form needs the pre-session cookie that GET /login sets.
    let bare = app.client();
    let before = sessions_of(&app, owner).await;
    let (status, _) = read(bare.post(app.url("/login")).form(&[
        ("_csrf", "anything"),
        ("username", "olga"),
        ("password", PASSWORD),
    ]))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = read(
        bare.post(app.url("/login"))
            .header(COOKIE, "zg_csrf=aaaaaaaaaaaaaaaa")
            .form(&[
                ("_csrf", "bbbbbbbbbbbbbbbb"),
                ("username", "olga"),
                ("password", PASSWORD),
            ]),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(sessions_of(&app, owner).await, before);

    // The JSON API with a session cookie: writes need X-CSRF-Token.
    let body = json!({"name": "via session", "role": "clerk"});
    let (status, err) = read_json(s.raw(Method::POST, "/api/v1/api-keys").json(&body)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(err["error"]["code"], "csrf_failed");
    assert_eq!(app.count(keys).await, 1);
    let key_id = app.count("SELECT MAX(id) FROM api_keys").await;
    let (status, _) = read(s.raw(Method::DELETE, &format!("/api/v1/api-keys/{key_id}"))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL")
            .await,
        1
    );
    let (status, created) =
        read_json(s.request(Method::POST, "/api/v1/api-keys").json(&body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    // Reads need no token.
    let (status, _) = read(s.raw(Method::GET, "/api/v1/api-keys")).await;
    assert_eq!(status, StatusCode::OK);

    // An API key is not a browser's credential: no CSRF token needed.
    let (_, key) = app.api_key(m, "integration", Role::Owner).await;
    let (status, created) = read_json(
        app.key(&key)
            .request(Method::POST, "/api/v1/api-keys")
            .json(&json!({"name": "by key", "role": "agent"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(
        created["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("zg_"))
    );
    app.stop().await;
}

#[tokio::test]
async fn api_callers_without_valid_credentials_are_turned_away() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let (key_id, key) = app.api_key(m, "k", Role::Owner).await;
    let anon = app.client();
    let (status, err) = read_json(anon.get(app.url("/api/v1/accounts"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(err["error"]["code"], "unauthorized");
    let (status, _) = read(
        anon.get(app.url("/api/v1/accounts"))
            .bearer_auth("zg_000000000000000000000000000000000000000000000000"),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = read(app.key(&key).request(Method::GET, "/api/v1/accounts")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = read(
        app.key(&key)
            .request(Method::DELETE, &format!("/api/v1/api-keys/{key_id}")),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = read(app.key(&key).request(Method::GET, "/api/v1/accounts")).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a revoked key stops at once"
    );
    app.stop().await;
}

#[tokio::test]
async fn disabled_staff_cannot_sign_in_and_are_signed_out() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    app.user(m, "owner", Role::Owner).await;
    let erin = app.user(m, "erin", Role::Clerk).await;
    let boss = app.sign_in("owner").await;
    let erin_s = app.sign_in("erin").await;

    let (status, _) = boss.post_form(&format!("/staff/{erin}/disable"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = read(erin_s.request(Method::GET, "/api/v1/dashboard")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "signed out at once");
    assert_eq!(sessions_of(&app, erin).await, 0);
    let (client, _) = app.browser();
    let (status, body) = app.login_attempt(&client, "erin", PASSWORD, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("该账号已被停用"), "{body}");
    // A wrong password does not reveal that the account is disabled.
    let (_, body) = app
        .login_attempt(&client, "erin", "wrong-password", &[])
        .await;
    assert!(body.contains("用户名或密码不正确"), "{body}");
    let (_, staff) = boss.get("/staff").await;
    assert!(staff.contains("已停用"), "the staff page shows it: {staff}");

    // Enabled again: she can sign in.
    let (status, _) = boss.post_form(&format!("/staff/{erin}/enable"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let erin_s = app.sign_in("erin").await;

    // The same through the JSON API.
    let (status, _) = read(
        boss.request(Method::PATCH, &format!("/api/v1/staff/{erin}"))
            .json(&json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = read(erin_s.request(Method::GET, "/api/v1/dashboard")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Nobody disables themselves.
    let me = app
        .count("SELECT id FROM users WHERE username = 'owner'")
        .await;
    let (status, err) = read_json(
        boss.request(Method::PATCH, &format!("/api/v1/staff/{me}"))
            .json(&json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    let (status, _) = boss.get("/").await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn sign_in_leads_only_to_local_paths() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    app.user(m, "frank", Role::Owner).await;

    // A console page asks for sign-in and remembers where the visitor was going.
    let anon = app.client();
    let res = anon
        .get(app.url("/accounts?x=1"))
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_string();
    assert_eq!(to, "/login?next=%2Faccounts%3Fx%3D1");
    let (_, page) = read(anon.get(app.url(&to))).await;
    assert!(
        page.contains("name=\"next\" value=\"/accounts?x=1\""),
        "{page}"
    );

    for (next, expected) in [
        ("/accounts?x=1", "/accounts?x=1"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ] {
        let (status, location, body) = login_with_next(&app, "frank", PASSWORD, next).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        assert_eq!(location.as_deref(), Some(expected), "next = {next:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_language_switch_is_remembered() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let gus = app.user(m, "gus", Role::Owner).await;
    let s = app.sign_in("gus").await;
    let (_, page) = s.get("/accounts").await;
    assert!(page.contains("公众号"), "Chinese by default");
    let (status, _) = s
        .post_form("/lang", &[("lang", "en"), ("back", "/accounts")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = s.get("/accounts").await;
    assert!(page.contains("lang=\"en\""), "{page}");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM users WHERE id = {gus} AND lang = 'en'"
        ))
        .await,
        1
    );
    // Signing in again brings the saved language back.
    let (client, _) = app.browser();
    let (status, _) = app.login_attempt(&client, "gus", PASSWORD, &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page) = read(client.get(app.url("/accounts"))).await;
    assert!(page.contains("lang=\"en\""), "{page}");
    let (status, _) = s.post_form("/lang", &[("lang", "fr")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn sessions_expire_when_idle_and_live_on_while_used() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    app.user(m, "ivy", Role::Owner).await;
    app.user(m, "jon", Role::Owner).await;
    let busy = app.sign_in("ivy").await;
    let idle = app.sign_in("jon").await;
    let day = 24 * 3600 * 1000;
    // Six days on, the busy session is used (and so extended); the idle one is not.
    app.clock.advance(6 * day);
    let (status, _) = read(busy.request(Method::GET, "/api/v1/dashboard")).await;
    assert_eq!(status, StatusCode::OK);
    // Seven days and a minute after sign-in, only the session in use is still valid.
    app.clock.advance(day + 60_000);
    let (status, _) = read(idle.request(Method::GET, "/api/v1/dashboard")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = read(busy.request(Method::GET, "/api/v1/dashboard")).await;
    assert_eq!(status, StatusCode::OK);
    app.stop().await;
}
