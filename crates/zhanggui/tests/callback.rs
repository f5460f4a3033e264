//! The callback endpoint, driven as WeChat drives it: signed (and in safe mode encrypted)
//! POSTs, retries, forgeries.

mod common;

use common::TestApp;
use zhanggui::accounts::AccountRow;
use zhanggui::accounts::model::RepliesInput;

/// What WeChat would send for `xml` to `account`: (query string, body).
fn wechat_post(account: &AccountRow, xml: &str, encrypted: bool) -> (String, String) {
    let ts = "1700000000";
    let nonce = "n0nce123";
    if !encrypted {
        let sig = wechat::signature::signature(&account.token, ts, nonce);
        return (
            format!(
                "signature={}&timestamp={ts}&nonce={nonce}&openid=o1",
                sig.as_str()
            ),
            xml.to_string(),
        );
    }
    let key = wechat::AesKey::from_encoding_aes_key(&account.encoding_aes_key).expect("key");
    let encrypt = wechat::crypto::encrypt(&key, &account.app_id, xml.as_bytes(), &[7u8; 16])
        .expect("encrypt");
    let msg_sig = wechat::signature::msg_signature(&account.token, ts, nonce, &encrypt);
    let plain_sig = wechat::signature::signature(&account.token, ts, nonce);
    (
        format!(
            "signature={}&timestamp={ts}&nonce={nonce}&openid=o1&encrypt_type=aes&msg_signature={}",
            plain_sig.as_str(),
            msg_sig.as_str()
        ),
        format!(
            "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
        ),
    )
}

fn text(msg_id: u64, content: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oFollower1]]></FromUserName>\
         <CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>\
         <Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
}

const FOLLOW: &str = "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[oFollower2]]></FromUserName><CreateTime>1700000100</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_42]]></EventKey></xml>";

async fn post(app: &TestApp, account: &AccountRow, query: &str, body: String) -> (u16, String) {
    let res = app
        .client()
        .post(app.url(&format!("/wx/{}?{query}", account.callback_key)))
        .header("content-type", "text/xml")
        .body(body)
        .send()
        .await
        .expect("callback request");
    let status = res.status().as_u16();
    (status, res.text().await.expect("body"))
}

async fn logged(app: &TestApp) -> i64 {
    app.count("SELECT COUNT(*) FROM wx_messages").await
}

/// An account in `mode` with a welcome and a default reply.
async fn account(app: &TestApp, mode: &str) -> AccountRow {
    let m = app.merchant(&format!("回调商户{mode}")).await;
    let a = app.account(m, &format!("回调号{mode}")).await;
    let a = zhanggui::accounts::update(
        &app.db,
        m,
        a.id,
        &zhanggui::accounts::model::AccountInput {
            name: a.name.clone(),
            kind: a.kind.clone(),
            verified: a.verified,
            app_id: a.app_id.clone(),
            security_mode: mode.to_string(),
            ..Default::default()
        },
        &app.base,
        app.now(),
    )
    .await
    .expect("set mode");
    zhanggui::accounts::set_replies(
        &app.db,
        m,
        a.id,
        &RepliesInput {
            welcome_text: "欢迎光临 ]]> 掌柜".into(),
            default_reply_text: "收到，稍后回复".into(),
        },
        app.now(),
    )
    .await
    .expect("replies");
    zhanggui::accounts::get(&app.db, m, a.id)
        .await
        .expect("read")
        .expect("account")
}

#[tokio::test]
async fn the_get_handshake_echoes_only_when_signed() {
    let app = TestApp::spawn().await;
    let a = account(&app, "safe").await;
    let sig = wechat::signature::signature(&a.token, "1", "2");
    let ok = app
        .client()
        .get(app.url(&format!(
            "/wx/{}?signature={}&timestamp=1&nonce=2&echostr=hello123",
            a.callback_key,
            sig.as_str()
        )))
        .send()
        .await
        .expect("get");
    assert_eq!(ok.status().as_u16(), 200);
    assert_eq!(ok.text().await.expect("body"), "hello123");
    let bad = app
        .client()
        .get(app.url(&format!(
            "/wx/{}?signature=00&timestamp=1&nonce=2&echostr=hello123",
            a.callback_key
        )))
        .send()
        .await
        .expect("get");
    assert_eq!(bad.status().as_u16(), 403);
    let unknown = app
        .client()
        .get(app.url("/wx/nosuchkey?signature=00&timestamp=1&nonce=2&echostr=x"))
        .send()
        .await
        .expect("get");
    assert_eq!(unknown.status().as_u16(), 404);
    app.stop().await;
}

#[tokio::test]
async fn plaintext_text_gets_the_default_reply_once_even_when_retried() {
    let app = TestApp::spawn().await;
    let a = account(&app, "plaintext").await;
    let (q, body) = wechat_post(&a, &text(1001, "你好"), false);
    let (status, first) = post(&app, &a, &q, body.clone()).await;
    assert_eq!(status, 200);
    assert!(first.contains("收到，稍后回复"), "{first}");
    assert!(first.contains("<ToUserName><![CDATA[oFollower1]]></ToUserName>"));
    // WeChat retries the same message, seconds later: same answer (the first one's time in
    // its header too), nothing new written.
    for _ in 0..3 {
        app.clock.advance(5_000);
        let (status, again) = post(&app, &a, &q, body.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(again, first);
    }
    assert_eq!(logged(&app).await, 1);
    let (kind, reply): (String, String) =
        zhanggui::on_pool!(&app.db, |p| sqlx::query_as::<_, (String, String)>(
            "SELECT kind, reply FROM wx_messages"
        )
        .fetch_one(p)
        .await)
        .expect("row");
    assert_eq!(kind, "text");
    // Kept without the header the row gives back (the follower, the account, the time), and
    // on SQLite with short tags too.
    let untagged = wechat::kept::whole(&reply);
    assert!(untagged.starts_with("<xml><MsgType>"), "{reply:?}");
    let wechat::Reply::Message(answered) = wechat::Reply::parse(&first).expect("a reply") else {
        panic!("a reply message: {first}")
    };
    let whole = wechat::reply::with_header(&reply, "oFollower1", "gh_test", answered.create_time);
    assert_eq!(whole, first);
    app.stop().await;
}

#[tokio::test]
async fn safe_mode_answers_encrypted_and_follows_get_the_welcome() {
    let app = TestApp::spawn().await;
    let a = account(&app, "safe").await;
    let (q, body) = wechat_post(&a, FOLLOW, true);
    let (status, sealed) = post(&app, &a, &q, body).await;
    assert_eq!(status, 200);
    assert!(
        sealed.contains("<Encrypt>") && sealed.contains("<MsgSignature>"),
        "{sealed}"
    );
    let encrypt = sealed
        .split("<Encrypt><![CDATA[")
        .nth(1)
        .and_then(|s| s.split("]]>").next())
        .expect("encrypted part");
    let key = wechat::AesKey::from_encoding_aes_key(&a.encoding_aes_key).expect("key");
    let reply = wechat::crypto::decrypt_to_string(&key, &a.app_id, encrypt).expect("decrypt");
    let parsed = wechat::Reply::parse(&reply).expect("reply parses");
    let wechat::Reply::Message(m) = parsed else {
        panic!("a welcome, not success: {reply}")
    };
    assert!(
        matches!(m.body, wechat::ReplyBody::Text { ref content } if content == "欢迎光临 ]]> 掌柜")
    );
    assert_eq!(logged(&app).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn forgeries_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let safe = account(&app, "safe").await;
    // A correctly signed plaintext POST to a safe-mode account: the mode comes from our
    // configuration, never from the request.
    let (q, body) = wechat_post(&safe, &text(1, "伪造"), false);
    let (status, _) = post(&app, &safe, &q, body).await;
    assert_eq!(status, 403);
    // A wrong signature.
    let plain = account(&app, "plaintext").await;
    let (status, _) = post(
        &app,
        &plain,
        "signature=0000&timestamp=1700000000&nonce=n",
        text(2, "x"),
    )
    .await;
    assert_eq!(status, 403);
    // Encrypted for another account.
    let (q, body) = wechat_post(&safe, &text(3, "x"), true);
    let (status, _) = post(&app, &plain, &q, body).await;
    assert_eq!(status, 403);
    assert_eq!(logged(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn unanswered_kinds_get_success_and_are_logged() {
    let app = TestApp::spawn().await;
    let a = account(&app, "compatible").await;
    let click = "<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[o3]]></FromUserName><CreateTime>1700000200</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[MENU_1]]></EventKey></xml>";
    let (q, body) = wechat_post(&a, click, true);
    let (status, reply) = post(&app, &a, &q, body).await;
    assert_eq!((status, reply.as_str()), (200, "success"));
    let kind: String = zhanggui::on_pool!(&app.db, |p| sqlx::query_scalar::<_, String>(
        "SELECT kind FROM wx_messages"
    )
    .fetch_one(p)
    .await)
    .expect("row");
    assert_eq!(kind, "event:click");
    app.stop().await;
}

#[tokio::test]
async fn the_live_messages_page_and_api_show_what_arrived() {
    use common::Who;
    use zhanggui::platform::auth::model::Role;
    let app = TestApp::spawn().await;
    let a = account(&app, "plaintext").await;
    let (q, body) = wechat_post(&a, &text(7, "有新品吗"), false);
    assert_eq!(post(&app, &a, &q, body).await.0, 200);

    let (_, key) = app.api_key(a.merchant_id, "pos", Role::Agent).await;
    let (status, page) = common::read_json(app.key(&key).request(
        reqwest::Method::GET,
        &format!("/api/v1/accounts/{}/messages", a.id),
    ))
    .await;
    assert_eq!(status.as_u16(), 200);
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["detail"], "有新品吗");
    assert_eq!(items[0]["reply"], "收到，稍后回复");
    assert_eq!(items[0]["kind"], "text");
    let newest = items[0]["id"].as_i64().expect("id");
    let (_, later) = common::read_json(app.key(&key).request(
        reqwest::Method::GET,
        &format!("/api/v1/accounts/{}/messages?after_id={newest}", a.id),
    ))
    .await;
    assert_eq!(later["items"].as_array().map(Vec::len), Some(0));

    // An agent sees the page; a clerk does not.
    app.user(a.merchant_id, "kefu", Role::Agent).await;
    let agent = app.sign_in("kefu").await;
    let (status, html) = agent.get("/messages").await;
    assert_eq!(status.as_u16(), 200);
    assert!(html.contains("有新品吗") && html.contains("live-messages"));
    app.user(a.merchant_id, "dianyuan", Role::Clerk).await;
    let clerk = app.sign_in("dianyuan").await;
    assert_eq!(clerk.get("/messages").await.0.as_u16(), 403);
    app.stop().await;
}

/// A valid text message of exactly `len` bytes.
fn text_of_len(msg_id: u64, len: usize) -> String {
    let empty = text(msg_id, "");
    let pad = len.checked_sub(empty.len()).expect("room for the content");
    let xml = text(msg_id, &"x".repeat(pad));
    assert_eq!(xml.len(), len);
    xml
}

/// The callback reads at most 64 KiB: one byte more is refused with 413 before anything is
/// parsed or logged; exactly 64 KiB is a message like any other.
#[tokio::test]
async fn callback_bodies_over_64_kib_are_refused_unread() {
    let app = TestApp::spawn().await;
    let a = account(&app, "plaintext").await;
    let limit = 64 * 1024;
    assert_eq!(limit, zhanggui::messages::routes::MAX_BODY_BYTES);

    let (query, body) = wechat_post(&a, &text_of_len(9001, limit + 1), false);
    let (status, answer) = post(&app, &a, &query, body.clone()).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(logged(&app).await, 0, "nothing logged");
    // The router refuses it before the handler looks anything up: even for a key that names
    // no account (the handler would answer 404), and however large the body is.
    for size in [limit + 1, 4 * 1024 * 1024] {
        let res = app
            .client()
            .post(app.url(&format!("/wx/no-such-key?{query}")))
            .header("content-type", "text/xml")
            .body(text_of_len(9003, size))
            .send()
            .await
            .expect("callback request");
        assert_eq!(res.status().as_u16(), 413, "{size} bytes to an unknown key");
    }
    assert_eq!(logged(&app).await, 0, "nothing logged");

    let (query, body) = wechat_post(&a, &text_of_len(9002, limit), false);
    let (status, answer) = post(&app, &a, &query, body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("收到，稍后回复"), "{answer}");
    assert_eq!(logged(&app).await, 1);
    app.stop().await;
}

/// The value of the callback's `POST … 200` request counter on `/metrics`.
async fn callback_posts_counted(app: &TestApp) -> f64 {
    let text = metrics_text(app).await;
    let series =
        "zhanggui_http_requests_total{method=\"POST\",route=\"/wx/{key}\",status=\"200\"} ";
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

/// `/metrics` as text.
async fn metrics_text(app: &TestApp) -> String {
    app.client()
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body")
}

/// The value of `zhanggui_log_projection_behind_{unit}` for `projection` on `/metrics`.
fn behind(metrics: &str, unit: &str, projection: &str) -> Option<f64> {
    let series = format!("zhanggui_log_projection_behind_{unit}{{projection=\"{projection}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .map(|v| v.trim().parse().expect("a number"))
}

/// What derives from the log follows it: after callbacks, every projection's gauges on
/// `/metrics` come down to nothing behind, within seconds.
#[tokio::test]
async fn every_projection_catches_up_with_the_callbacks_and_metrics_show_it() {
    let app = TestApp::spawn().await;
    let a = account(&app, "plaintext").await;
    for id in 0..3 {
        let (query, body) = wechat_post(&a, &text(9200 + id, "在吗"), false);
        let (status, answer) = post(&app, &a, &query, body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let projections = [
        "channels",
        "follower_log",
        "followers",
        "menus",
        "replies",
        "reply_hits",
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let metrics = metrics_text(&app).await;
        let lags: Vec<_> = projections
            .iter()
            .map(|p| (behind(&metrics, "rows", p), behind(&metrics, "seconds", p)))
            .collect();
        assert!(
            lags.iter()
                .all(|(rows, seconds)| rows.is_some() && seconds.is_some()),
            "a projection's gauges missing: {metrics}"
        );
        if lags.iter().all(|&lag| lag == (Some(0.0), Some(0.0))) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still behind: {lags:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let metrics = metrics_text(&app).await;
    for stream in projections {
        let turns = format!("zhanggui_log_background_turn_seconds_count{{stream=\"{stream}\"}}");
        assert!(metrics.contains(&turns), "{stream}'s turns not timed");
    }
    // A SQLite file's committer keeps its rows for the projections (messages/tap.rs).
    let tap = metrics
        .lines()
        .find_map(|l| l.strip_prefix("zhanggui_log_tap_held_bytes "))
        .map(|v| v.trim().parse::<f64>().expect("a number"));
    match app.db.sqlite_file() {
        Some(_) => assert!(tap.is_some_and(|b| b > 0.0), "the tap: {tap:?}"),
        None => assert_eq!(tap, None, "no tap without a SQLite file"),
    }
    app.stop().await;
}

/// WeChat's GET and POST skip the router (messages::routes::serve_directly) and are counted
/// in the request metrics all the same; every other request to `/wx/…` gets what the router
/// answers: 405 for other methods, the account behind a percent-encoded key, 404 past the key.
#[tokio::test]
async fn requests_wechat_does_not_make_get_what_the_router_answers() {
    let app = TestApp::spawn().await;
    let a = account(&app, "plaintext").await;
    // The follower's first message gets the default reply as XML; a refusal is plain text.
    let content_type = |res: &reqwest::Response| {
        res.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (query, body) = wechat_post(&a, &text(9103, "在吗"), false);
    let url_with = |query: &str| app.url(&format!("/wx/{}?{query}", a.callback_key));
    let answered = app
        .client()
        .post(url_with(&query))
        .body(body.clone())
        .send()
        .await;
    let answered = answered.expect("post");
    assert_eq!(content_type(&answered), "application/xml; charset=utf-8");
    let forged = app
        .client()
        .post(url_with("signature=00&timestamp=1&nonce=2"))
        .body(body);
    let forged = forged.send().await.expect("post");
    assert_eq!(forged.status().as_u16(), 403);
    assert_eq!(content_type(&forged), "text/plain; charset=utf-8");
    let before = callback_posts_counted(&app).await;
    for id in 0..3 {
        let (query, body) = wechat_post(&a, &text(9100 + id, "在吗"), false);
        let (status, answer) = post(&app, &a, &query, body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let after = callback_posts_counted(&app).await;
    assert!(
        after - before >= 3.0,
        "3 answered POSTs counted: {before} → {after}"
    );

    let url = app.url(&format!("/wx/{}", a.callback_key));
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let res = app
            .client()
            .request(method.clone(), &url)
            .send()
            .await
            .expect("answer");
        assert_eq!(res.status().as_u16(), 405, "{method}");
    }

    let sig = wechat::signature::signature(&a.token, "1", "2");
    let (first, rest) = a.callback_key.split_at(1);
    let encoded = format!("%{:02X}{rest}", first.as_bytes()[0]);
    let echoed = app
        .client()
        .get(app.url(&format!(
            "/wx/{encoded}?signature={}&timestamp=1&nonce=2&echostr=via-router",
            sig.as_str()
        )))
        .send()
        .await
        .expect("get");
    assert_eq!(echoed.status().as_u16(), 200, "/wx/{encoded}");
    assert_eq!(echoed.text().await.expect("body"), "via-router");

    let (query, body) = wechat_post(&a, &text(9200, "在吗"), false);
    let past_key = app
        .client()
        .post(app.url(&format!("/wx/{}/more?{query}", a.callback_key)))
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(past_key.status().as_u16(), 404);
    assert_eq!(
        logged(&app).await,
        4,
        "only the four direct POSTs were logged"
    );
    app.stop().await;
}

// ---- one connection, many requests (platform/http1.rs reads WeChat's requests itself) ----

/// A response read off a raw connection: status, lower-cased headers, body.
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the next response from `stream` (`pending` holds bytes read past the last one);
/// `None` when the server closed the connection first.
async fn next_response(
    stream: &mut tokio::net::TcpStream,
    pending: &mut Vec<u8>,
) -> Option<RawResponse> {
    use tokio::io::AsyncReadExt;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut res = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(head) = res.parse(pending).expect("an HTTP response") {
            let headers: Vec<(String, String)> = res
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8_lossy(h.value).to_string();
                    (h.name.to_ascii_lowercase(), value)
                })
                .collect();
            let length: usize = headers
                .iter()
                .find(|(n, _)| n == "content-length")
                .map_or(0, |(_, v)| v.parse().expect("a length"));
            if pending.len() >= head + length {
                let status = res.code.expect("a status");
                let body = String::from_utf8_lossy(&pending[head..head + length]).to_string();
                pending.drain(..head + length);
                return Some(RawResponse {
                    status,
                    headers,
                    body,
                });
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut chunk))
            .await
            .expect("an answer within 10 s")
            .expect("read");
        if n == 0 {
            assert!(pending.is_empty(), "closed mid-response");
            return None;
        }
        pending.extend_from_slice(&chunk[..n]);
    }
}

/// A signed plaintext POST of `xml` to `account` as raw HTTP/1.1, with `extra` headers.
fn raw_post(account: &AccountRow, xml: &str, extra: &str) -> String {
    let (query, body) = wechat_post(account, xml, false);
    format!(
        "POST /wx/{}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/xml\r\n\
         Content-Length: {}\r\n{extra}\r\n{body}",
        account.callback_key,
        body.len()
    )
}

async fn connect(app: &TestApp) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect")
}

async fn send(stream: &mut tokio::net::TcpStream, bytes: &[u8]) {
    use tokio::io::AsyncWriteExt;
    stream.write_all(bytes).await.expect("write");
}

/// Sends `request` on a new connection and reads its answer; the connection and any bytes
/// read past the answer stay for more.
async fn first_answer(
    app: &TestApp,
    request: &str,
) -> (tokio::net::TcpStream, Vec<u8>, RawResponse) {
    let mut stream = connect(app).await;
    send(&mut stream, request.as_bytes()).await;
    let mut pending = Vec::new();
    let res = next_response(&mut stream, &mut pending)
        .await
        .expect("an answer");
    (stream, pending, res)
}

/// WeChat keeps its connections open and may send the next request before the answer to
/// the last has arrived: two callbacks sent in one write get their own answers, in order,
/// and a console request after them on the same connection is served as ever (by hyper).
#[tokio::test]
async fn pipelined_callbacks_and_then_a_console_request_share_one_connection() {
    let app = TestApp::spawn().await;
    let a = account(&app, "plaintext").await;
    let mut stream = connect(&app).await;
    let follower = |id: u64, who: &str| text(id, "在吗").replace("oFollower1", who);
    let pipelined = format!(
        "{}{}GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        raw_post(&a, &follower(9301, "oPipe1"), ""),
        raw_post(&a, &follower(9302, "oPipe2"), "")
    );
    send(&mut stream, pipelined.as_bytes()).await;
    let mut pending = Vec::new();
    for who in ["oPipe1", "oPipe2"] {
        let res = next_response(&mut stream, &mut pending)
            .await
            .expect("an answer");
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(
            res.header("content-type"),
            Some("application/xml; charset=utf-8")
        );
        assert!(res.header("date").is_some_and(|d| d.ends_with(" GMT")));
        assert!(
            res.body.contains(&format!("<ToUserName><![CDATA[{who}]]>")),
            "{}",
            res.body
        );
        assert!(res.body.contains("收到，稍后回复"), "{}", res.body);
    }
    let health = next_response(&mut stream, &mut pending)
        .await
        .expect("health");
    assert_eq!(health.status, 200, "{}", health.body);
    // The connection stays open for more: hyper now serves it, callbacks included.
    send(
        &mut stream,
        raw_post(&a, &follower(9303, "oPipe3"), "").as_bytes(),
    )
    .await;
    let third = next_response(&mut stream, &mut pending)
        .await
        .expect("third");
    assert!(third.body.contains("oPipe3"), "{}", third.body);
    assert_eq!(logged(&app).await, 3);
    app.stop().await;
}

/// A request that arrives in pieces (a slow network) is answered once it is whole, and a
/// retry on the same connection gets the first answer again.
#[tokio::test]
async fn a_callback_in_pieces_is_answered_whole() {
    let app = TestApp::spawn().await;
    let a = account(&app, "plaintext").await;
    let mut stream = connect(&app).await;
    let request = raw_post(&a, &text(9311, "慢慢来"), "");
    let bytes = request.as_bytes();
    let cuts = [10, 60, bytes.len() - 5, bytes.len()];
    let mut from = 0;
    for to in cuts {
        send(&mut stream, &bytes[from..to]).await;
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        from = to;
    }
    let mut pending = Vec::new();
    let first = next_response(&mut stream, &mut pending)
        .await
        .expect("answer");
    assert_eq!(first.status, 200, "{}", first.body);
    send(&mut stream, bytes).await;
    let again = next_response(&mut stream, &mut pending)
        .await
        .expect("answer");
    assert_eq!(again.body, first.body, "a retry gets the first answer");
    assert_eq!(logged(&app).await, 1);
    app.stop().await;
}

/// What the callback's own reader leaves to hyper gets the same answers: a chunked body,
/// `Connection: close` honoured, a malformed head refused.
#[tokio::test]
async fn requests_of_other_shapes_get_the_same_answers() {
    let app = TestApp::spawn().await;
    let a = account(&app, "plaintext").await;

    // Chunked: hyper reads it, the callback answers it.
    let (query, body) = wechat_post(&a, &text(9321, "分块"), false);
    let chunked = format!(
        "POST /wx/{}?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{body}\r\n0\r\n\r\n",
        a.callback_key,
        body.len()
    );
    let (_, _, res) = first_answer(&app, &chunked).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("收到，稍后回复"), "{}", res.body);

    // Connection: close: answered, said so, and closed.
    let closing = raw_post(&a, &text(9322, "再见"), "Connection: close\r\n");
    let (mut stream, mut pending, res) = first_answer(&app, &closing).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("connection"), Some("close"));
    assert!(next_response(&mut stream, &mut pending).await.is_none());

    // A malformed head: 400 from hyper, nothing logged.
    let bad = format!(
        "POST /wx/{} HTTP/1.1\r\nNo colon here\r\nContent-Length: 0\r\n\r\n",
        a.callback_key
    );
    let (_, _, res) = first_answer(&app, &bad).await;
    assert_eq!(res.status, 400);
    assert_eq!(logged(&app).await, 2);
    app.stop().await;
}

/// Stopping the server closes a connection waiting between callbacks at once (the stop
/// would otherwise wait for WeChat to hang up), after its answers were sent.
#[tokio::test]
async fn a_stop_closes_idle_callback_connections() {
    let app = TestApp::spawn().await;
    let a = account(&app, "plaintext").await;
    let request = raw_post(&a, &text(9331, "在吗"), "");
    let (mut stream, mut pending, res) = first_answer(&app, &request).await;
    assert_eq!(res.status, 200, "{}", res.body);
    tokio::time::timeout(std::time::Duration::from_secs(5), app.stop())
        .await
        .expect("the server stops within 5 s with a callback connection open");
    assert!(next_response(&mut stream, &mut pending).await.is_none());
}

/// A proxy in front (nginx speaks HTTP/1.0 to its upstream unless told otherwise): answered
/// in HTTP/1.0, the connection closed after the answer unless the request asked to keep it.
#[tokio::test]
async fn http_1_0_callbacks_are_answered_and_closed_unless_kept_alive() {
    let app = TestApp::spawn().await;
    let a = account(&app, "plaintext").await;
    let as_http10 = |request: String| request.replacen(" HTTP/1.1\r\n", " HTTP/1.0\r\n", 1);

    let request = as_http10(raw_post(&a, &text(9341, "代理"), ""));
    let (mut stream, mut pending, res) = first_answer(&app, &request).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("收到，稍后回复"), "{}", res.body);
    assert_eq!(res.header("connection"), Some("close"));
    assert!(next_response(&mut stream, &mut pending).await.is_none());

    let kept = as_http10(raw_post(
        &a,
        &text(9342, "代理"),
        "Connection: keep-alive\r\n",
    ));
    let (mut stream, mut pending, res) = first_answer(&app, &kept).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.header("connection"), Some("keep-alive"));
    let again = as_http10(raw_post(
        &a,
        &text(9343, "代理"),
        "Connection: keep-alive\r\n",
    ));
    send(&mut stream, again.as_bytes()).await;
    let res = next_response(&mut stream, &mut pending)
        .await
        .expect("a second answer on the kept connection");
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(logged(&app).await, 3);
    app.stop().await;
}
