//! The JSON API's conventions through the real HTTP surface: the OpenAPI document, error
//! envelopes and their language, body limits, pagination, secrets shown once, the connection
//! test against the in-process sandbox, nothing half-written, and the probes.

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::header::{ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhanggui::platform::auth::model::Role;

/// Every JSON endpoint the router serves, as (method, path template). Keep in step with the
/// routers: the test below fails when the OpenAPI document and this list disagree.
const API: &[(&str, &str)] = &[
    ("get", "/api/v1/accounts"),
    ("post", "/api/v1/accounts"),
    ("get", "/api/v1/accounts/{id}"),
    ("put", "/api/v1/accounts/{id}"),
    ("post", "/api/v1/accounts/{id}/test-connection"),
    ("put", "/api/v1/accounts/{id}/replies"),
    ("get", "/api/v1/accounts/{id}/messages"),
    ("get", "/api/v1/merchants"),
    ("post", "/api/v1/merchants"),
    ("get", "/api/v1/staff"),
    ("post", "/api/v1/staff"),
    ("patch", "/api/v1/staff/{user_id}"),
    ("get", "/api/v1/api-keys"),
    ("post", "/api/v1/api-keys"),
    ("delete", "/api/v1/api-keys/{id}"),
    ("get", "/api/v1/jobs"),
    ("post", "/api/v1/jobs/{id}/retry"),
    ("get", "/api/v1/dashboard"),
    ("delete", "/api/v1/accounts/{id}/tags/{tag_id}"),
    ("delete", "/api/v1/accounts/{id}/tags/{tag_id}/members"),
    ("get", "/api/v1/accounts/{id}/followers"),
    ("get", "/api/v1/accounts/{id}/followers/sync"),
    ("get", "/api/v1/accounts/{id}/followers/{openid}"),
    ("get", "/api/v1/accounts/{id}/followers/{openid}/timeline"),
    ("get", "/api/v1/accounts/{id}/tag-operations/{op_id}"),
    ("get", "/api/v1/accounts/{id}/tags"),
    ("patch", "/api/v1/accounts/{id}/followers/{openid}"),
    ("post", "/api/v1/accounts/{id}/followers/search"),
    ("post", "/api/v1/accounts/{id}/followers/count"),
    // Saved segments (人群) and the followers' CSV export/import.
    ("get", "/api/v1/accounts/{id}/segments"),
    ("post", "/api/v1/accounts/{id}/segments"),
    ("get", "/api/v1/accounts/{id}/segments/{sid}"),
    ("put", "/api/v1/accounts/{id}/segments/{sid}"),
    ("delete", "/api/v1/accounts/{id}/segments/{sid}"),
    ("get", "/api/v1/accounts/{id}/segments/{sid}/count"),
    ("post", "/api/v1/accounts/{id}/segments/preview"),
    ("get", "/api/v1/accounts/{id}/followers/export.csv"),
    ("post", "/api/v1/accounts/{id}/followers/imports"),
    ("get", "/api/v1/accounts/{id}/followers/imports/{iid}"),
    (
        "post",
        "/api/v1/accounts/{id}/followers/imports/{iid}/apply",
    ),
    ("post", "/api/v1/accounts/{id}/followers/sync"),
    ("post", "/api/v1/accounts/{id}/tags"),
    ("post", "/api/v1/accounts/{id}/tags/pull"),
    ("post", "/api/v1/accounts/{id}/tags/{tag_id}/bulk"),
    ("post", "/api/v1/accounts/{id}/tags/{tag_id}/members"),
    ("put", "/api/v1/accounts/{id}/followers/{openid}/blacklist"),
    ("put", "/api/v1/accounts/{id}/followers/{openid}/tags"),
    ("put", "/api/v1/accounts/{id}/tags/{tag_id}"),
    ("get", "/api/v1/accounts/{account_id}/channels"),
    ("post", "/api/v1/accounts/{account_id}/channels"),
    ("get", "/api/v1/accounts/{account_id}/channels/{channel_id}"),
    ("put", "/api/v1/accounts/{account_id}/channels/{channel_id}"),
    (
        "post",
        "/api/v1/accounts/{account_id}/channels/{channel_id}/archive",
    ),
    (
        "get",
        "/api/v1/accounts/{account_id}/channels/{channel_id}/qrcode.png",
    ),
    (
        "get",
        "/api/v1/accounts/{account_id}/channels/{channel_id}/poster.svg",
    ),
    // The content library (素材).
    ("get", "/api/v1/accounts/{account_id}/menus"),
    ("post", "/api/v1/accounts/{account_id}/menus"),
    ("get", "/api/v1/accounts/{account_id}/menus/live"),
    ("get", "/api/v1/accounts/{account_id}/menus/{menu_id}"),
    ("put", "/api/v1/accounts/{account_id}/menus/{menu_id}"),
    (
        "post",
        "/api/v1/accounts/{account_id}/menus/{menu_id}/publish",
    ),
    // After the calls above: it deletes the menu they name.
    ("delete", "/api/v1/accounts/{account_id}/menus/{menu_id}"),
    ("get", "/api/v1/library/items"),
    ("get", "/api/v1/library/items/{id}"),
    ("get", "/api/v1/library/items/{id}/usages"),
    ("post", "/api/v1/library/items/{id}/wechat"),
    ("post", "/api/v1/library/texts"),
    ("put", "/api/v1/library/texts/{id}"),
    ("post", "/api/v1/library/media"),
    ("put", "/api/v1/library/media/{id}"),
    ("post", "/api/v1/library/news"),
    ("put", "/api/v1/library/news/{id}"),
    // Last: it deletes the item the calls above name.
    ("delete", "/api/v1/library/items/{id}"),
    // Automatic replies (自动回复).
    ("get", "/api/v1/accounts/{account_id}/reply-rules"),
    ("post", "/api/v1/accounts/{account_id}/reply-rules"),
    ("get", "/api/v1/accounts/{account_id}/reply-rules/{rule_id}"),
    ("put", "/api/v1/accounts/{account_id}/reply-rules/{rule_id}"),
    (
        "delete",
        "/api/v1/accounts/{account_id}/reply-rules/{rule_id}",
    ),
    ("post", "/api/v1/accounts/{account_id}/reply-rules/test"),
    ("get", "/api/v1/accounts/{account_id}/reply-rules/unmatched"),
    ("get", "/api/v1/accounts/{account_id}/reply-settings"),
    ("put", "/api/v1/accounts/{account_id}/reply-settings"),
    ("get", "/api/v1/accounts/{account_id}/flows"),
    ("post", "/api/v1/accounts/{account_id}/flows"),
    ("get", "/api/v1/accounts/{account_id}/flows/{flow_id}"),
    ("put", "/api/v1/accounts/{account_id}/flows/{flow_id}"),
    ("delete", "/api/v1/accounts/{account_id}/flows/{flow_id}"),
    // The emulated WeChat's own API (sandbox mode): simulated followers and fault knobs.
    ("post", "/sandbox/api/apps/{app_id}/followers"),
    ("get", "/sandbox/api/apps/{app_id}/followers"),
    (
        "post",
        "/sandbox/api/apps/{app_id}/followers/{openid}/actions",
    ),
    ("get", "/sandbox/api/apps/{app_id}/faults"),
    ("put", "/sandbox/api/apps/{app_id}/faults"),
    ("post", "/sandbox/api/apps/{app_id}/faults/expire-tokens"),
    ("get", "/sandbox/api/apps/{app_id}/followers/{openid}/inbox"),
    (
        "get",
        "/sandbox/api/apps/{app_id}/followers/{openid}/browse",
    ),
    ("get", "/sandbox/api/apps/{app_id}/jssdk/verify"),
    ("post", "/sandbox/api/apps/{app_id}/jssdk/verify"),
    ("put", "/sandbox/api/apps/{app_id}/jssdk/ticket"),
    ("post", "/sandbox/api/apps/{app_id}/server-check"),
    ("get", "/sandbox/api/apps/{app_id}/followers/{openid}/menu"),
    ("get", "/sandbox/api/apps/{app_id}/qrcodes"),
];

/// Checks the envelope `{"error": {"code", "message", "fields"}}` and returns it.
fn envelope(body: &Value) -> &Value {
    let e = &body["error"];
    assert!(e["code"].is_string(), "no error code: {body}");
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
    assert!(e["fields"].is_object(), "no fields: {body}");
    e
}

fn account_body(name: &str) -> Value {
    json!({
        "name": name, "kind": "service", "verified": true, "app_id": "",
        "security_mode": "safe", "sandbox": true
    })
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_path_the_router_serves() {
    let app = TestApp::spawn().await;
    let (status, doc) = read_json(app.client().get(app.url("/api/v1/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    let mut listed = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            listed.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = API
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        listed, expected,
        "the OpenAPI document and the API list differ"
    );
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());

    // Every listed operation is served: no 404 or 405 from the router for any of them.
    let m = app.merchant("M").await;
    let account = app.account(m, "acc").await;
    let (_, key) = app.api_key(m, "k", Role::Owner).await;
    let (spare_key_id, _) = app.api_key(m, "spare", Role::Clerk).await;
    let staff = app.user(m, "worker", Role::Clerk).await;
    let job = app.dead_job(m, "some.kind").await;
    app.platform_admin("root").await;
    let admin = app.sign_in("root").await;
    let owner = app.key(&key);
    let (_, made) = read_json(
        app.client()
            .post(app.url(&format!("/sandbox/api/apps/{}/followers", account.app_id)))
            .json(&json!({"count": 1})),
    )
    .await;
    let openid = made["openids"][0].as_str().expect("a follower").to_string();
    // Made at WeChat only: the follower's own endpoints need our row of them too.
    app.exec(&format!(
        "INSERT INTO followers (merchant_id, account_id, openid, first_seen_at, \
         last_interaction_at, subscribed) VALUES ({m}, {}, '{openid}', 1, 1, TRUE)",
        account.id
    ))
    .await;
    let channel = zhanggui::channels::create(
        app.state(),
        m,
        &account,
        &zhanggui::channels::model::ChannelInput {
            name: "海报".into(),
            kind: "permanent".into(),
            medium: "poster".into(),
            ..Default::default()
        },
    )
    .await
    .expect("a channel");
    let item = zhanggui::library::create_text(
        &app.db,
        m,
        &zhanggui::library::model::TextInput {
            title: "t".into(),
            text: "t".into(),
        },
        app.now(),
    )
    .await
    .expect("a library item");
    let menu = zhanggui::menus::create(
        &app.db,
        m,
        account.id,
        &zhanggui::menus::MenuInput {
            tag_id: None,
            button: vec![zhanggui::menus::model::MenuButton {
                name: "菜单".into(),
                kind: "click".into(),
                ..Default::default()
            }],
        },
        app.now(),
    )
    .await
    .expect("a menu");
    let mut refusals = 0;
    for (method, template) in API {
        let template_for_ids = if template.starts_with("/api/v1/library/") {
            template.replace("{id}", &item.id.to_string())
        } else {
            template.to_string()
        };
        let path = template_for_ids
            .replace("{id}", &account.id.to_string())
            .replace("{account_id}", &account.id.to_string())
            .replace("{channel_id}", &channel.id.to_string())
            .replace("{menu_id}", &menu.id.to_string())
            .replace("{user_id}", &staff.to_string())
            .replace("{app_id}", &account.app_id)
            .replace("{openid}", &openid);
        let path = match *template {
            // Not the key this sweep calls with: revoking it would turn every later call
            // into a 401 that proves nothing about routing.
            "/api/v1/api-keys/{id}" => format!("/api/v1/api-keys/{spare_key_id}"),
            "/api/v1/jobs/{id}/retry" => format!("/api/v1/jobs/{job}/retry"),
            _ => path,
        };
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
        let who: &dyn Who = if template.starts_with("/api/v1/merchants") {
            &admin
        } else {
            &owner
        };
        // Empty bodies: the route must still be the one answering (400/422, not 404/405).
        let req = who.request(method.clone(), &path);
        let req = if method == Method::GET || method == Method::DELETE {
            req
        } else {
            req.json(&json!({}))
        };
        let (status, body) = read(req).await;
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path} is not served: {status} {body}"
        );
        // Our API's refusals all speak the error envelope (the sandbox's speak WeChat's).
        if status.is_client_error() && path.starts_with("/api/v1/") {
            let parsed: Value = serde_json::from_str(&body)
                .unwrap_or_else(|_| panic!("{method} {path}: {status} is not JSON: {body}"));
            assert_eq!(
                parsed.as_object().map(|o| o.len()),
                Some(1),
                "{method} {path}: {status} has more than the envelope: {body}"
            );
            let e = envelope(&parsed);
            assert!(
                e.as_object().is_some_and(|o| o
                    .keys()
                    .all(|k| ["code", "message", "fields"].contains(&k.as_str()))),
                "{method} {path}: {body}"
            );
            refusals += 1;
        }
    }
    assert!(refusals > 30, "most empty bodies are refused: {refusals}");
    app.stop().await;
}

#[tokio::test]
async fn unreadable_bodies_are_400_with_the_error_envelope() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let (_, key) = app.api_key(m, "k", Role::Owner).await;
    let k = app.key(&key);
    let accounts = "SELECT COUNT(*) FROM accounts";

    let (status, body) = read_json(
        k.request(Method::POST, "/api/v1/accounts")
            .header(CONTENT_TYPE, "application/json")
            .body("{\"name\": \"x\",,}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let e = envelope(&body);
    assert_eq!(e["code"], "bad_request");
    assert_eq!(e["message"], "请求体不是有效的 JSON");

    let (status, body) = read_json(
        k.request(Method::POST, "/api/v1/accounts")
            .header(ACCEPT_LANGUAGE, "en")
            .header(CONTENT_TYPE, "application/json")
            .body("{\"name\": \"x\",,}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(envelope(&body)["message"], "The body is not valid JSON");

    // Missing fields and wrong types name the field.
    let (status, body) = read_json(
        k.request(Method::POST, "/api/v1/accounts")
            .json(&json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let message = envelope(&body)["message"].as_str().unwrap_or_default();
    assert!(message.contains("kind"), "{body}");
    let (status, body) = read_json(k.request(Method::POST, "/api/v1/accounts").json(&json!({
        "name": 7, "kind": "service", "app_id": "", "security_mode": "safe"
    })))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        envelope(&body)["message"]
            .as_str()
            .is_some_and(|m| m.contains("name")),
        "{body}"
    );
    let (status, body) = read_json(
        k.request(Method::PATCH, "/api/v1/staff/1")
            .json(&json!({"disabled": "yes"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    envelope(&body);
    let (status, body) = read_json(
        k.request(Method::POST, "/api/v1/api-keys")
            .json(&json!({"name": "x", "role": "emperor"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    envelope(&body);

    // A body that is not declared JSON.
    let (status, body) = read_json(
        k.request(Method::POST, "/api/v1/accounts")
            .header(CONTENT_TYPE, "text/plain")
            .body(account_body("x").to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        envelope(&body)["message"],
        "请求体须为 JSON（Content-Type: application/json）"
    );
    // Query parameters of the wrong type.
    let (status, body) = read_json(k.request(Method::GET, "/api/v1/accounts?limit=many")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    envelope(&body);

    assert_eq!(app.count(accounts).await, 0, "nothing was written");
    app.stop().await;
}

#[tokio::test]
async fn validation_failures_are_422_with_field_messages_in_the_callers_language() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let (_, key) = app.api_key(m, "k", Role::Owner).await;
    let k = app.key(&key);
    let bad = json!({
        "name": "", "kind": "personal", "app_id": "gh_123", "app_secret": "short",
        "token": "a!", "encoding_aes_key": "x", "security_mode": "loud", "sandbox": false
    });
    let (status, body) = read_json(k.request(Method::POST, "/api/v1/accounts").json(&bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let e = envelope(&body);
    assert_eq!(e["code"], "validation_failed");
    assert_eq!(e["message"], "提交的内容有误，请修改标出的项目");
    for f in [
        "name",
        "kind",
        "app_id",
        "app_secret",
        "token",
        "encoding_aes_key",
        "security_mode",
    ] {
        assert!(e["fields"][f].is_string(), "{f} is not reported: {body}");
    }
    assert_eq!(e["fields"]["name"], "必填");

    let (status, body) = read_json(
        k.request(Method::POST, "/api/v1/accounts")
            .header(ACCEPT_LANGUAGE, "en-GB,en;q=0.9,zh;q=0.5")
            .json(&bad),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let e = envelope(&body);
    assert_eq!(e["message"], "Please correct the marked fields");
    assert_eq!(e["fields"]["name"], "Required");
    assert_eq!(e["fields"]["security_mode"], "Choose an encryption mode");

    // Staff: every rule is a field.
    let (status, body) = read_json(k.request(Method::POST, "/api/v1/staff").json(&json!({
        "username": "a b", "password": "short", "role": "clerk"
    })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let e = envelope(&body);
    assert!(e["fields"]["username"].is_string() && e["fields"]["password"].is_string());
    assert_eq!(e["fields"]["password"], "密码至少 8 个字符");

    // Console forms answer the same rules with the page and its inline errors.
    app.user(m, "owner", Role::Owner).await;
    let s = app.sign_in("owner").await;
    let (status, page) = s
        .post_form(
            "/accounts",
            &[
                ("name", ""),
                ("kind", "service"),
                ("security_mode", "loud"),
                ("sandbox", "on"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("必填") && page.contains("请选择消息加解密方式"),
        "{page}"
    );
    assert_eq!(app.count("SELECT COUNT(*) FROM accounts").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM users").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn bodies_over_one_mebibyte_are_refused() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let (_, key) = app.api_key(m, "k", Role::Owner).await;
    let k = app.key(&key);
    let huge = "x".repeat(1024 * 1024 + 1);
    let (status, body) = read_json(
        k.request(Method::POST, "/api/v1/accounts")
            .json(&json!({"name": huge, "kind": "service", "app_id": "", "security_mode": "safe"})),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(envelope(&body)["code"], "payload_too_large");
    // Also when the length is not announced up front (chunked).
    let status = chunked_post(&app, "/api/v1/accounts", &key, 2 * 1024 * 1024).await;
    assert_eq!(status, 413, "a chunked body over the limit");

    // A console form too.
    app.user(m, "owner", Role::Owner).await;
    let s = app.sign_in("owner").await;
    let (status, _) = s
        .post_form("/api-keys", &[("name", &huge), ("role", "clerk")])
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.count("SELECT COUNT(*) FROM accounts").await, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM api_keys").await, 1);
    app.stop().await;
}

/// POSTs `n` bytes of JSON-ish body with chunked transfer encoding (no Content-Length) over
/// a raw connection; returns the status code of the answer.
async fn chunked_post(app: &TestApp, path: &str, key: &str, n: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        app.addr
    );
    conn.write_all(head.as_bytes()).await.expect("write head");
    let chunk = vec![b' '; 64 * 1024];
    let mut sent = 0;
    // The server may answer and close before everything is sent; that is fine.
    while sent < n {
        let frame = [
            format!("{:x}\r\n", chunk.len()).into_bytes(),
            chunk.clone(),
            b"\r\n".to_vec(),
        ]
        .concat();
        if conn.write_all(&frame).await.is_err() {
            break;
        }
        sent += chunk.len();
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let mut answer = vec![0u8; 1024];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), conn.read(&mut answer))
        .await
        .expect("an answer within 10 s")
        .expect("read");
    let text = String::from_utf8_lossy(&answer[..read]);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text}"))
}

#[tokio::test]
async fn unknown_api_routes_are_json_404s() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let (_, key) = app.api_key(m, "k", Role::Owner).await;
    for who in [
        app.key(&key).request(Method::GET, "/api/v1/nothing-here"),
        app.client().get(app.url("/api/v2/accounts")),
    ] {
        let (status, body) = read_json(who).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(envelope(&body)["code"], "not_found");
    }
    let (status, body) = read_json(
        app.key(&key)
            .request(Method::GET, "/api/v1/accounts/999999")
            .header(ACCEPT_LANGUAGE, "en"),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(envelope(&body)["message"], "Not found");
    // A known path with a method it does not serve.
    let (status, body) =
        read_json(app.key(&key).request(Method::DELETE, "/api/v1/dashboard")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    envelope(&body);
    app.stop().await;
}

/// Walks a list endpoint page by page; returns the ids in order.
async fn walk(who: &dyn Who, path: &str, limit: usize, id_field: &str) -> Vec<i64> {
    let mut ids = vec![];
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let (status, page) = read_json(who.request(Method::GET, &url)).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        let items = page["items"].as_array().expect("items");
        assert!(items.len() <= limit, "{url} returned more than asked");
        ids.extend(items.iter().map(|i| i[id_field].as_i64().expect("id")));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return ids,
        }
    }
    panic!("{path} never ended");
}

#[tokio::test]
async fn pagination_has_bounded_limits_and_cursors_that_walk_without_duplicates() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    let (_, key) = app.api_key(m, "k", Role::Owner).await;
    let k = app.key(&key);
    let mut accounts = vec![];
    for n in 0..7 {
        accounts.push(app.account(m, &format!("acc {n}")).await.id);
    }
    for n in 0..5 {
        app.api_key(m, &format!("more {n}"), Role::Clerk).await;
    }
    let mut jobs = vec![];
    for n in 0..5 {
        let later = app.now() + 3_600_000;
        jobs.push(
            zhanggui::platform::jobs::enqueue_alone(
                &app.db,
                app.now(),
                zhanggui::platform::jobs::NewJob::new("later", json!({"n": n}))
                    .merchant(m)
                    .run_at(later),
            )
            .await
            .expect("enqueue"),
        );
    }

    for bad in ["limit=0", "limit=501", "limit=-1", "cursor=not-a-cursor"] {
        for path in ["/api/v1/accounts", "/api/v1/api-keys", "/api/v1/jobs"] {
            let (status, body) = read_json(k.request(Method::GET, &format!("{path}?{bad}"))).await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}?{bad}: {body}"
            );
            let field = bad.split('=').next().unwrap_or_default();
            assert!(envelope(&body)["fields"][field].is_string(), "{body}");
        }
    }
    let (status, _) = read(k.request(Method::GET, "/api/v1/accounts?limit=500")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = read_json(k.request(Method::GET, "/api/v1/accounts")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page["items"].as_array().map(Vec::len),
        Some(7),
        "default limit 50"
    );
    assert!(page["next_cursor"].is_null());

    for limit in [1, 3, 7, 50] {
        assert_eq!(
            walk(&k, "/api/v1/accounts", limit, "id").await,
            accounts,
            "limit {limit}"
        );
    }
    let keys = walk(&k, "/api/v1/api-keys", 2, "id").await;
    assert_eq!(keys.len(), 6);
    assert!(
        keys.windows(2).all(|w| w[0] < w[1]),
        "ascending, no duplicates"
    );
    let mut newest_first = jobs.clone();
    newest_first.reverse();
    assert_eq!(walk(&k, "/api/v1/jobs", 2, "id").await, newest_first);
    assert_eq!(walk(&k, "/api/v1/jobs", 5, "id").await, newest_first);
    app.stop().await;
}

#[tokio::test]
async fn secrets_are_given_once_and_masked_everywhere_after() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    app.user(m, "owner", Role::Owner).await;
    let s = app.sign_in("owner").await;
    let (_, key) = app.api_key(m, "k", Role::Owner).await;
    let k = app.key(&key);
    let secret = "0123456789abcdef0123456789abcdef";
    let token = "TokenOfMine1234";
    let aes = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
    let (status, created) = read_json(k.request(Method::POST, "/api/v1/accounts").json(&json!({
        "name": "掌柜服务号", "kind": "service", "verified": true,
        "app_id": "wx0123456789abcdef", "app_secret": secret, "token": token,
        "encoding_aes_key": aes, "security_mode": "compatible", "sandbox": true
    })))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["token"], token);
    assert_eq!(created["encoding_aes_key"], aes);
    let acc = &created["account"];
    let id = acc["id"].as_i64().expect("id");
    assert_eq!(acc["app_secret"], "••••••••cdef");
    assert_eq!(acc["token"], "••••••••1234");
    assert_eq!(acc["security_mode"], "compatible");
    assert!(
        acc["callback_url"]
            .as_str()
            .is_some_and(|u| u.starts_with(&format!("{}/wx/", app.base))),
        "{acc}"
    );
    assert!(
        !created.to_string().contains(secret),
        "the AppSecret is never echoed"
    );

    // A generated pair, from the console form: shown on the page right after saving.
    let res = s
        .request(Method::POST, "/accounts")
        .form(&[
            ("name", "表单号"),
            ("kind", "subscription"),
            ("security_mode", "safe"),
            ("sandbox", "on"),
        ])
        .send()
        .await
        .expect("answer");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get(CACHE_CONTROL).expect("no-store"),
        "no-store"
    );
    let connect_page = res.text().await.expect("page");
    let generated = zhanggui::accounts::store::list(&app.db, m, id, 10)
        .await
        .expect("list")
        .pop()
        .expect("the form's account");
    assert!(connect_page.contains(&generated.token));
    assert!(connect_page.contains(&generated.encoding_aes_key));
    assert!(!connect_page.contains(&generated.app_secret));

    let mut full: Vec<String> = vec![secret.into(), token.into(), aes.into()];
    full.extend([
        generated.app_secret.clone(),
        generated.token.clone(),
        generated.encoding_aes_key.clone(),
    ]);
    let check = |body: &str, what: &str| {
        for f in &full {
            assert!(
                !body.contains(f.as_str()),
                "{what} shows a secret in full: {body}"
            );
        }
    };
    for path in [
        format!("/api/v1/accounts/{id}"),
        format!("/api/v1/accounts/{}", generated.id),
        "/api/v1/accounts".to_string(),
        "/api/v1/dashboard".to_string(),
    ] {
        let (status, body) = read(k.request(Method::GET, &path)).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        check(&body, &path);
    }
    for path in [
        "/".to_string(),
        "/accounts".to_string(),
        format!("/accounts/{id}"),
        format!("/accounts/{id}/edit"),
        format!("/accounts/{}", generated.id),
    ] {
        let (status, body) = s.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        check(&body, &path);
        if path == format!("/accounts/{id}") {
            assert!(body.contains("••••••••cdef") && body.contains("••••••••1234"));
        }
    }
    let (_, body) = s.post_form(&format!("/accounts/{id}/test"), &[]).await;
    check(&body, "the test result page");

    // Saving without secrets keeps them; the answer still masks.
    let (status, body) = read(
        k.request(Method::PUT, &format!("/api/v1/accounts/{id}"))
            .json(&json!({
                "name": "改名服务号", "kind": "service", "verified": true,
                "app_id": "wx0123456789abcdef", "security_mode": "safe"
            })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    check(&body, "PUT");
    let row = zhanggui::accounts::store::get(&app.db, m, id)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(
        (
            row.app_secret.as_str(),
            row.token.as_str(),
            row.encoding_aes_key.as_str()
        ),
        (secret, token, aes)
    );
    assert_eq!(row.name, "改名服务号");
    assert_eq!(row.security_mode, "safe");
    // The console form's save keeps them too, and redirects (nothing new to show).
    let (status, _) = s
        .post_form(
            &format!("/accounts/{id}"),
            &[
                ("name", "改名服务号"),
                ("kind", "service"),
                ("verified", "on"),
                ("app_id", "wx0123456789abcdef"),
                ("security_mode", "safe"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let again = zhanggui::accounts::store::get(&app.db, m, id)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(again.app_secret, secret);
    app.stop().await;
}

#[tokio::test]
async fn the_connection_test_asks_the_sandbox_and_explains_its_errcode() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    app.user(m, "owner", Role::Owner).await;
    let (_, key) = app.api_key(m, "k", Role::Operator).await;
    let k = app.key(&key);
    let (status, created) = read_json(
        k.request(Method::POST, "/api/v1/accounts")
            .json(&account_body("沙箱号")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["account"]["id"].as_i64().expect("id");
    let path = format!("/api/v1/accounts/{id}/test-connection");

    let (status, t) = read_json(k.request(Method::POST, &path)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["ok"], true, "{t}");
    assert_eq!(t["target"], "sandbox");
    assert!(t["errcode"].is_null());

    // WeChat's side now holds another secret: ours is wrong.
    let app_id = created["account"]["app_id"].as_str().expect("app id");
    app.exec(&format!(
        "UPDATE sandbox_apps SET app_secret = 'ffffffffffffffffffffffffffffffff' \
         WHERE app_id = '{app_id}'"
    ))
    .await;
    let (status, t) = read_json(k.request(Method::POST, &path)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["ok"], false, "{t}");
    assert_eq!(t["errcode"], 40125);
    let message = t["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("40125") && message.contains("AppSecret 不正确"),
        "{t}"
    );
    let (_, t) = read_json(k.request(Method::POST, &path).header(ACCEPT_LANGUAGE, "en")).await;
    assert!(
        t["message"]
            .as_str()
            .is_some_and(|m| m.contains("wrong AppSecret")),
        "{t}"
    );
    let s = app.sign_in("owner").await;
    let (status, page) = s.post_form(&format!("/accounts/{id}/test"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("40125"), "{page}");
    assert!(!page.contains("ffffffffffffffffffffffffffffffff"));

    // An account on the real WeChat that cannot be reached says so (nothing listens there).
    let (status, live) = read_json(k.request(Method::POST, "/api/v1/accounts").json(&json!({
        "name": "真号", "kind": "service", "app_id": "wx00000000000000ab",
        "app_secret": "0123456789abcdef0123456789abcdef", "security_mode": "safe", "sandbox": false
    })))
    .await;
    assert_eq!(status, StatusCode::CREATED, "{live}");
    let live_id = live["account"]["id"].as_i64().expect("id");
    let (status, t) = read_json(k.request(
        Method::POST,
        &format!("/api/v1/accounts/{live_id}/test-connection"),
    ))
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["ok"], false);
    assert_eq!(t["target"], "wechat");
    assert!(t["errcode"].is_null(), "{t}");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sandbox_apps WHERE app_id = 'wx00000000000000ab'")
            .await,
        0,
        "a live account is not registered with the sandbox"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_refused_write_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    app.user(m, "owner", Role::Owner).await;
    let (_, key) = app.api_key(m, "k", Role::Owner).await;
    let k = app.key(&key);
    let first = app.account(m, "first").await;
    let second = app.account(m, "second").await;
    let counts =
        "SELECT (SELECT COUNT(*) FROM accounts) * 1000 + (SELECT COUNT(*) FROM sandbox_apps)";
    let before = app.count(counts).await;

    // A taken AppID: a field error, no account and no sandbox registration.
    let (status, body) = read_json(k.request(Method::POST, "/api/v1/accounts").json(&json!({
        "name": "dup", "kind": "service", "app_id": first.app_id,
        "app_secret": "0123456789abcdef0123456789abcdef", "security_mode": "safe", "sandbox": true
    })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(envelope(&body)["fields"]["app_id"], "该 AppID 已被接入");
    assert_eq!(app.count(counts).await, before);

    // Taking another account's AppID on edit: refused, the row and the sandbox unchanged.
    let row_before = zhanggui::accounts::store::get(&app.db, m, second.id)
        .await
        .expect("read")
        .expect("row");
    let sandbox_before = zhanggui::accounts::store::sandbox_app(&app.db, &second.app_id)
        .await
        .expect("read");
    let (status, body) = read_json(
        k.request(Method::PUT, &format!("/api/v1/accounts/{}", second.id))
            .json(&json!({
                "name": "renamed", "kind": "subscription", "app_id": first.app_id,
                "app_secret": "ffffffffffffffffffffffffffffffff", "security_mode": "plaintext"
            })),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(envelope(&body)["fields"]["app_id"].is_string());
    let row_after = zhanggui::accounts::store::get(&app.db, m, second.id)
        .await
        .expect("read")
        .expect("row");
    assert_eq!(format!("{row_after:?}"), format!("{row_before:?}"));
    let sandbox_after = zhanggui::accounts::store::sandbox_app(&app.db, &second.app_id)
        .await
        .expect("read");
    assert_eq!(format!("{sandbox_after:?}"), format!("{sandbox_before:?}"));
    assert_eq!(app.count(counts).await, before);

    // The console form says the same on its page.
    let s = app.sign_in("owner").await;
    let (status, page) = s
        .post_form(
            "/accounts",
            &[
                ("name", "dup"),
                ("kind", "service"),
                ("app_id", &first.app_id),
                ("app_secret", "0123456789abcdef0123456789abcdef"),
                ("security_mode", "safe"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("该 AppID 已被接入"), "{page}");
    assert_eq!(app.count(counts).await, before);

    // A taken username: no user and no membership.
    let users = "SELECT (SELECT COUNT(*) FROM users) * 1000 + (SELECT COUNT(*) FROM memberships)";
    let users_before = app.count(users).await;
    let (status, body) = read_json(k.request(Method::POST, "/api/v1/staff").json(&json!({
        "username": "owner", "password": PASSWORD, "role": "clerk"
    })))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(envelope(&body)["fields"]["username"], "该用户名已被使用");
    let (status, page) = s
        .post_form(
            "/staff",
            &[
                ("username", "owner"),
                ("password", PASSWORD),
                ("role", "clerk"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("该用户名已被使用"));
    assert_eq!(app.count(users).await, users_before);
    app.stop().await;
}

/// A load balancer's health check: 503 with the reason once the database cannot be reached.
#[tokio::test]
async fn healthz_is_503_when_the_database_is_unreachable() {
    let app = TestApp::spawn().await;
    let c = app.client();
    let (status, _) = read_json(c.get(app.url("/healthz"))).await;
    assert_eq!(status, StatusCode::OK);
    app.db.close().await;
    let (status, health) = read_json(c.get(app.url("/healthz"))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        health,
        json!({"status": "unavailable", "database": "unreachable"})
    );
    app.stop().await;
}

#[tokio::test]
async fn healthz_and_metrics_report_on_the_instance() {
    let app = TestApp::spawn().await;
    let m = app.merchant("M").await;
    app.dead_job(m, "metrics.kind").await;
    let c = app.client();
    let (status, health) = read_json(c.get(app.url("/healthz"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health, json!({"status": "ok", "database": "ok"}));
    // Some traffic to count, including a path with an id.
    let (_, key) = app.api_key(m, "k", Role::Owner).await;
    read(
        app.key(&key)
            .request(Method::GET, "/api/v1/accounts/424242"),
    )
    .await;

    let res = c.get(app.url("/metrics")).send().await.expect("answer");
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(ct.starts_with("text/plain"), "{ct}");
    let text = res.text().await.expect("body");
    for needle in [
        "zhanggui_http_requests_total{",
        "zhanggui_http_request_duration_seconds_bucket{",
        "zhanggui_jobs{status=\"dead\"}",
        "zhanggui_jobs{status=\"queued\"}",
        "zhanggui_jobs{status=\"running\"}",
        "zhanggui_jobs{status=\"done\"}",
        "zhanggui_db_pool_connections",
        "route=\"/api/v1/accounts/{id}\"",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }
    assert!(!text.contains("424242"), "raw paths never become labels");
    // Prometheus text: every sample line is `name{labels} value`.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap_or_default();
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }
    // The gauge is process-wide and set at scrape time from the scraped instance's database;
    // this is the only test of this binary that scrapes.
    let dead_line = text
        .lines()
        .find(|l| l.starts_with("zhanggui_jobs{status=\"dead\"}"))
        .expect("dead gauge");
    assert!(dead_line.ends_with(" 1"), "{dead_line}");
    app.stop().await;
}
