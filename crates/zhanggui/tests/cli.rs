//! The `zhanggui` command itself: help on every command, and the administration commands run
//! against a fresh database (SQLite, or PostgreSQL with `ZG_TEST_DATABASE_URL`).

mod common;

use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use zhanggui::platform::auth::model::verify_password;
use zhanggui::platform::auth::store as auth_store;

const PUBLIC_URL: &str = "http://example.test";

/// Runs the binary with only the environment we give it, in an empty folder (so no
/// `zhanggui.toml` is picked up).
async fn zg(db_url: &str, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().expect("an empty working folder");
    zg_in(
        dir.path(),
        &[("ZG_DATABASE_URL", db_url), ("ZG_PUBLIC_URL", PUBLIC_URL)],
        args,
    )
    .await
}

/// The binary with a clean environment (`ZG_LOG=warn`, `PATH` and `vars` only), run in `dir`.
fn command_in(dir: &Path, vars: &[(&str, &str)]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_zhanggui"));
    cmd.env_clear()
        .env("ZG_LOG", "warn")
        .current_dir(dir)
        .kill_on_drop(true);
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `zhanggui args` in `dir` with only `vars` set (see [`command_in`]).
async fn zg_in(dir: &Path, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = command_in(dir, vars);
    cmd.args(args);
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("zhanggui {args:?} did not finish within 60 s"))
        .expect("run zhanggui")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a command that must succeed; returns its standard output.
async fn ok(db_url: &str, args: &[&str]) -> String {
    let o = zg(db_url, args).await;
    assert!(
        o.status.success(),
        "zhanggui {args:?} failed:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Runs a command that must fail; returns its standard error.
async fn fails(db_url: &str, args: &[&str]) -> String {
    let o = zg(db_url, args).await;
    assert!(
        !o.status.success(),
        "zhanggui {args:?} should have failed:\n{}",
        stdout(&o)
    );
    stderr(&o)
}

/// The value printed after `label` on its line.
fn field<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.trim().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label} in:\n{out}"))
}

#[tokio::test]
async fn every_command_has_help() {
    let url = "sqlite://never-opened.db";
    for args in [
        vec!["--help"],
        vec!["help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["demo", "--help"],
        vec!["merchant", "--help"],
        vec!["merchant", "add", "--help"],
        vec!["merchant", "list", "--help"],
        vec!["user", "--help"],
        vec!["user", "add", "--help"],
        vec!["user", "passwd", "--help"],
        vec!["account", "--help"],
        vec!["account", "add", "--help"],
        vec!["account", "list", "--help"],
        vec!["account", "show", "--help"],
        vec!["sandbox", "--help"],
    ] {
        let out = ok(url, &args).await;
        assert!(out.contains("Usage: zhanggui"), "{args:?}:\n{out}");
    }
    let out = ok(url, &["account", "add", "--help"]).await;
    for flag in [
        "--merchant",
        "--name",
        "--type",
        "--verified",
        "--mode",
        "--sandbox",
        "--live",
    ] {
        assert!(out.contains(flag), "account add --help lacks {flag}");
    }
    let out = ok(url, &["user", "add", "--help"]).await;
    for flag in [
        "--username",
        "--merchant",
        "--role",
        "--password",
        "--platform-admin",
    ] {
        assert!(out.contains(flag), "user add --help lacks {flag}");
    }
    let err = fails(url, &["merchant", "frobnicate"]).await;
    assert!(err.contains("frobnicate"), "{err}");
}

#[tokio::test]
async fn merchants_users_and_accounts_from_the_command_line() {
    let url = fresh_db_url().await;
    assert!(ok(&url, &["migrate"]).await.contains("up to date"));
    assert!(ok(&url, &["migrate"]).await.contains("up to date"), "twice");

    // Merchants.
    let out = ok(&url, &["merchant", "add", "--name", "测试商户"]).await;
    assert!(
        out.contains("测试商户") && out.contains("Asia/Shanghai"),
        "{out}"
    );
    ok(
        &url,
        &[
            "merchant",
            "add",
            "--name",
            "Second",
            "--timezone",
            "Asia/Urumqi",
        ],
    )
    .await;
    let list = ok(&url, &["merchant", "list"]).await;
    assert!(
        list.contains("测试商户") && list.contains("Second"),
        "{list}"
    );
    assert!(list.contains("Asia/Urumqi"));
    let err = fails(&url, &["merchant", "add", "--name", "测试商户"]).await;
    assert!(err.contains("--name"), "{err}");
    let err = fails(
        &url,
        &["merchant", "add", "--name", "X", "--timezone", "Mars/Base"],
    )
    .await;
    assert!(err.contains("--timezone"), "{err}");

    // Users. (Usernames are 2 to 64 characters.)
    let err = fails(
        &url,
        &[
            "user",
            "add",
            "--username",
            "u",
            "--merchant",
            "测试商户",
            "--password",
            "longenough1",
        ],
    )
    .await;
    assert!(err.contains("--username"), "{err}");
    let out = ok(
        &url,
        &[
            "user",
            "add",
            "--username",
            "xiaowang",
            "--merchant",
            "测试商户",
            "--role",
            "clerk",
            "--password",
            "longenough1",
        ],
    )
    .await;
    assert!(out.contains("clerk of 测试商户"), "{out}");
    assert!(
        !out.contains("longenough1"),
        "a given password is not printed"
    );
    let err = fails(
        &url,
        &[
            "user",
            "add",
            "--username",
            "xiaowang",
            "--merchant",
            "Second",
            "--role",
            "owner",
            "--password",
            "longenough1",
        ],
    )
    .await;
    assert!(err.contains("--username") && err.contains("taken"), "{err}");
    let err = fails(
        &url,
        &[
            "user",
            "add",
            "--username",
            "v",
            "--merchant",
            "测试商户",
            "--role",
            "king",
        ],
    )
    .await;
    assert!(err.contains("--role"), "{err}");
    let err = fails(
        &url,
        &[
            "user",
            "add",
            "--username",
            "w",
            "--merchant",
            "Nowhere",
            "--password",
            "longenough1",
        ],
    )
    .await;
    assert!(err.contains("Nowhere"), "{err}");
    let err = fails(
        &url,
        &[
            "user",
            "add",
            "--username",
            "w",
            "--merchant",
            "测试商户",
            "--password",
            "short",
        ],
    )
    .await;
    assert!(err.contains("--password"), "{err}");
    // A generated password is printed, once.
    let out = ok(
        &url,
        &[
            "user",
            "add",
            "--username",
            "gen",
            "--merchant",
            "1",
            "--role",
            "agent",
        ],
    )
    .await;
    let generated = field(&out, "password:").to_string();
    assert!(generated.len() >= 8, "{out}");
    // A platform admin.
    let out = ok(
        &url,
        &[
            "user",
            "add",
            "--username",
            "root",
            "--platform-admin",
            "--password",
            "rootpassword",
        ],
    )
    .await;
    assert!(out.contains("platform admin"), "{out}");

    // Passwords.
    let out = ok(
        &url,
        &[
            "user",
            "passwd",
            "--username",
            "xiaowang",
            "--password",
            "anotherpass2",
        ],
    )
    .await;
    assert!(out.contains("signed out everywhere"), "{out}");
    let err = fails(
        &url,
        &[
            "user",
            "passwd",
            "--username",
            "xiaowang",
            "--password",
            "short",
        ],
    )
    .await;
    assert!(err.contains("--password"), "{err}");
    let err = fails(
        &url,
        &[
            "user",
            "passwd",
            "--username",
            "nobody",
            "--password",
            "anotherpass2",
        ],
    )
    .await;
    assert!(err.contains("nobody"), "{err}");
    let db = connect(&url).await;
    let u = auth_store::user_by_username(&db, "xiaowang")
        .await
        .expect("read")
        .expect("u exists");
    assert!(verify_password("anotherpass2", &u.password_hash));
    assert!(!verify_password("longenough1", &u.password_hash));
    let merchant = zhanggui::merchants::by_name(&db, "测试商户")
        .await
        .expect("read")
        .expect("merchant");
    let roles: Vec<(String, String)> = auth_store::staff_of(&db, merchant.id)
        .await
        .expect("staff")
        .into_iter()
        .map(|s| (s.username, s.role))
        .collect();
    assert_eq!(
        roles,
        vec![
            ("xiaowang".to_string(), "clerk".to_string()),
            ("gen".into(), "agent".into())
        ]
    );
    let gen_user = auth_store::user_by_username(&db, "gen")
        .await
        .expect("read")
        .expect("gen");
    assert!(verify_password(&generated, &gen_user.password_hash));

    // Accounts.
    let out = ok(
        &url,
        &[
            "account",
            "add",
            "--merchant",
            "测试商户",
            "--name",
            "N",
            "--type",
            "service",
            "--verified",
            "--mode",
            "safe",
            "--sandbox",
        ],
    )
    .await;
    let callback = field(&out, "URL:").to_string();
    assert!(callback.starts_with("http://example.test/wx/"), "{out}");
    let token = field(&out, "Token:").to_string();
    let aes = field(&out, "EncodingAESKey:").to_string();
    assert!(zhanggui::accounts::model::is_token(&token), "{out}");
    assert!(zhanggui::accounts::model::is_aes_key(&aes), "{out}");
    let row = zhanggui::accounts::store::by_app_id(&db, field(&out, "AppID:"))
        .await
        .expect("read")
        .expect("the account");
    assert_eq!(
        (row.token.as_str(), row.encoding_aes_key.as_str()),
        (token.as_str(), aes.as_str())
    );
    assert!(row.sandbox && row.verified);
    assert_eq!(
        (row.kind.as_str(), row.security_mode.as_str()),
        ("service", "safe")
    );
    assert!(
        zhanggui::accounts::store::sandbox_app(&db, &row.app_id)
            .await
            .expect("read")
            .is_some(),
        "registered on the sandbox"
    );
    assert!(
        !out.contains(&row.app_secret),
        "the AppSecret is never printed"
    );

    let live = ok(
        &url,
        &[
            "account",
            "add",
            "--merchant",
            "Second",
            "--name",
            "Live one",
            "--type",
            "subscription",
            "--mode",
            "plaintext",
            "--live",
            "--app-id",
            "wx0123456789abcdef",
            "--app-secret",
            "0123456789abcdef0123456789abcdef",
        ],
    )
    .await;
    assert!(live.contains("real WeChat"), "{live}");

    let list = ok(&url, &["account", "list"]).await;
    assert!(list.contains("N") && list.contains("Live one"), "{list}");
    assert!(list.contains(&callback), "{list}");
    let only = ok(&url, &["account", "list", "--merchant", "Second"]).await;
    assert!(
        only.contains("Live one") && !only.contains(&callback),
        "{only}"
    );

    let show = ok(&url, &["account", "show", &row.id.to_string()]).await;
    assert!(show.contains(&callback), "{show}");
    assert!(show.contains("••••••••"), "{show}");
    for secret in [&row.app_secret, &row.token, &row.encoding_aes_key] {
        assert!(
            !show.contains(secret.as_str()),
            "show prints a secret in full:\n{show}"
        );
    }
    let err = fails(&url, &["account", "show", "9999"]).await;
    assert!(err.contains("9999"), "{err}");

    // Invalid input names the flag to fix, and writes nothing.
    let accounts = "SELECT COUNT(*) FROM accounts";
    let before = scalar(&db, accounts).await;
    let err = fails(
        &url,
        &[
            "account",
            "add",
            "--merchant",
            "测试商户",
            "--name",
            "Bad",
            "--mode",
            "loud",
        ],
    )
    .await;
    assert!(err.contains("--mode"), "{err}");
    let err = fails(
        &url,
        &[
            "account",
            "add",
            "--merchant",
            "测试商户",
            "--name",
            "Bad",
            "--live",
            "--app-id",
            "gh_123",
            "--app-secret",
            "0123456789abcdef0123456789abcdef",
        ],
    )
    .await;
    assert!(err.contains("--app-id"), "{err}");
    let err = fails(
        &url,
        &[
            "account",
            "add",
            "--merchant",
            "测试商户",
            "--name",
            "Bad",
            "--type",
            "personal",
        ],
    )
    .await;
    assert!(err.contains("--type"), "{err}");
    let err = fails(
        &url,
        &[
            "account",
            "add",
            "--merchant",
            "测试商户",
            "--name",
            "Bad",
            "--aes-key",
            "short",
        ],
    )
    .await;
    assert!(err.contains("--aes-key"), "{err}");
    let err = fails(
        &url,
        &[
            "account",
            "add",
            "--merchant",
            "测试商户",
            "--name",
            "Dup",
            "--live",
            "--app-id",
            "wx0123456789abcdef",
            "--app-secret",
            "0123456789abcdef0123456789abcdef",
        ],
    )
    .await;
    assert!(err.contains("--app-id"), "a taken AppID: {err}");
    let err = fails(
        &url,
        &[
            "account",
            "add",
            "--merchant",
            "测试商户",
            "--name",
            "Bad",
            "--sandbox",
            "--live",
        ],
    )
    .await;
    assert!(err.contains("--live") || err.contains("--sandbox"), "{err}");
    assert_eq!(scalar(&db, accounts).await, before);
    db.close().await;
}

#[tokio::test]
async fn demo_is_idempotent() {
    let url = fresh_db_url().await;
    let out = ok(&url, &["demo"]).await;
    assert!(out.contains("demo / demo1234"), "{out}");
    assert!(out.contains("admin / admin1234"), "{out}");
    let db = connect(&url).await;
    let counts = "SELECT (SELECT COUNT(*) FROM merchants) * 1000000 \
                  + (SELECT COUNT(*) FROM users) * 10000 \
                  + (SELECT COUNT(*) FROM memberships) * 100 \
                  + (SELECT COUNT(*) FROM accounts) * 10 \
                  + (SELECT COUNT(*) FROM sandbox_apps)";
    let first = scalar(&db, counts).await;
    assert_eq!(
        first,
        1_000_000 + 5 * 10_000 + 4 * 100 + 2 * 10 + 2,
        "one merchant, 5 users, 4 staff, 2 accounts"
    );
    let secrets = "SELECT COUNT(*) FROM accounts WHERE app_secret <> ''";
    assert_eq!(scalar(&db, secrets).await, 2);
    // The service account's 200 simulated followers, with their history in the log.
    let followers = "SELECT COUNT(*) FROM sandbox_docs WHERE kind = 'follower'";
    assert_eq!(scalar(&db, followers).await, 200);
    let follows = "SELECT COUNT(*) FROM wx_messages WHERE kind = 'event:subscribe'";
    assert_eq!(scalar(&db, follows).await, 200);
    let history = "SELECT COUNT(*) FROM wx_messages";
    let logged = scalar(&db, history).await;
    assert!(logged > 300, "some history beyond the follows: {logged}");
    // The account's welcome, or the welcome of the channel QR code they came through.
    let welcomed = "SELECT COUNT(*) FROM wx_messages WHERE kind = 'event:subscribe' \
                    AND (reply LIKE '%欢迎关注掌柜咖啡%' OR reply LIKE '%海报扫码关注%' \
                    OR reply LIKE '%领取会员卡%' OR reply LIKE '%欢迎从文章%')";
    assert_eq!(
        scalar(&db, welcomed).await,
        200,
        "answered as the callback would"
    );
    let by_channel = "SELECT COUNT(*) FROM wx_messages WHERE kind = 'event:subscribe' \
                      AND reply LIKE '%海报扫码关注%' AND body LIKE '%qrscene_poster%'";
    assert!(
        scalar(&db, by_channel).await > 0,
        "poster follows get the poster's welcome"
    );
    // Three channel QR codes, with scans by followers beside the follows they brought.
    let channels = "SELECT COUNT(*) FROM channels";
    assert_eq!(scalar(&db, channels).await, 3);
    let rescans = "SELECT COUNT(*) FROM wx_messages WHERE kind = 'event:scan'";
    assert!(scalar(&db, rescans).await > 0);
    // Tags on some followers (mirrored by the sandbox under the same ids) and the four the
    // segmentation flow puts on whoever answers it; two segments.
    let tags = "SELECT COUNT(*) FROM tags";
    assert_eq!(scalar(&db, tags).await, 8);
    // A welcome, 20 keyword rules and the rule that starts the segmentation flow.
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM reply_rules").await, 22);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM flows").await, 1);
    let tagged = "SELECT COUNT(*) FROM follower_tags";
    let tagged_first = scalar(&db, tagged).await;
    assert!(tagged_first > 100, "{tagged_first}");
    let segments = "SELECT COUNT(*) FROM segments";
    assert_eq!(scalar(&db, segments).await, 2);
    // The library: five articles (a news of three, two single ones), each with a cover.
    let articles = "SELECT COUNT(*) FROM library_articles WHERE cover_item_id IS NOT NULL";
    assert_eq!(scalar(&db, articles).await, 5);
    let library = "SELECT COUNT(*) FROM library_items";
    let library_first = scalar(&db, library).await;
    assert!(library_first >= 8, "{library_first}");
    // A 3×5 menu, published to the sandbox (what the phone simulator shows).
    let menus = "SELECT COUNT(*) FROM menus WHERE published IS NOT NULL";
    assert_eq!(scalar(&db, menus).await, 1);
    let menu_doc: String = zhanggui::on_pool!(&db, |p| sqlx::query_scalar::<_, String>(
        "SELECT value FROM sandbox_docs WHERE kind = 'menu'"
    )
    .fetch_one(p)
    .await)
    .expect("the sandbox's menu");
    let menu_doc: serde_json::Value = serde_json::from_str(&menu_doc).expect("JSON");
    let buttons = menu_doc["default"]["button"].as_array().expect("buttons");
    assert_eq!(buttons.len(), 3);
    assert!(
        buttons
            .iter()
            .all(|b| b["sub_button"].as_array().map(Vec::len) == Some(5)),
        "{menu_doc}"
    );

    // A user changes something; demo again adds nothing and resets nothing.
    ok(
        &url,
        &[
            "user",
            "passwd",
            "--username",
            "demo",
            "--password",
            "changed-pass",
        ],
    )
    .await;
    let out = ok(&url, &["demo"]).await;
    assert!(
        !out.contains("demo / demo1234"),
        "a changed password is not advertised:\n{out}"
    );
    assert_eq!(scalar(&db, counts).await, first);
    assert_eq!(scalar(&db, followers).await, 200);
    assert_eq!(scalar(&db, history).await, logged);
    assert_eq!(scalar(&db, channels).await, 3);
    assert_eq!(scalar(&db, tags).await, 8);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM reply_rules").await, 22);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM flows").await, 1);
    assert_eq!(scalar(&db, tagged).await, tagged_first);
    assert_eq!(scalar(&db, segments).await, 2);
    assert_eq!(scalar(&db, articles).await, 5);
    assert_eq!(scalar(&db, library).await, library_first);
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM menus").await, 1);
    let demo = auth_store::user_by_username(&db, "demo")
        .await
        .expect("read")
        .expect("demo");
    assert!(verify_password("changed-pass", &demo.password_hash));
    db.close().await;
}

#[tokio::test]
async fn the_sandbox_runs_on_its_own_with_wechats_paths_at_the_root() {
    let url = fresh_db_url().await;
    ok(&url, &["merchant", "add", "--name", "沙箱独立"]).await;
    let out = ok(
        &url,
        &[
            "account",
            "add",
            "--merchant",
            "沙箱独立",
            "--name",
            "S",
            "--type",
            "service",
            "--verified",
            "--mode",
            "safe",
            "--sandbox",
        ],
    )
    .await;
    let db = connect(&url).await;
    let row = zhanggui::accounts::store::by_app_id(&db, field(&out, "AppID:"))
        .await
        .expect("read")
        .expect("the account");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = tempfile::tempdir().expect("an empty working folder");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_zhanggui"))
        .args(["sandbox", "--listen", &format!("127.0.0.1:{port}")])
        .env_clear()
        .env("ZG_DATABASE_URL", &url)
        .env("ZG_LOG", "warn")
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the sandbox");
    let http = reqwest::Client::new();
    let token_url = format!(
        "http://127.0.0.1:{port}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        row.app_id, row.app_secret
    );
    let mut answer = serde_json::Value::Null;
    for _ in 0..100 {
        if let Ok(res) = http.get(&token_url).send().await {
            answer = res.json().await.expect("json");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(answer["access_token"].is_string(), "{answer}");
    assert_eq!(answer["expires_in"], 7200);
    let wrong = http
        .get(format!(
            "http://127.0.0.1:{port}/cgi-bin/token?grant_type=client_credential&appid={}&secret=nope",
            row.app_id
        ))
        .send()
        .await
        .expect("answer")
        .json::<serde_json::Value>()
        .await
        .expect("json");
    assert_eq!(wrong["errcode"], 40125);
    let _ = child.kill().await;
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A running `zhanggui` with no command, and what it printed so far (stdout and stderr).
struct Served {
    child: tokio::process::Child,
    base: String,
    printed: Arc<Mutex<String>>,
}

impl Served {
    fn printed(&self) -> String {
        self.printed.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// Appends every line of `from` to `to`.
fn collect_lines(from: impl tokio::io::AsyncRead + Unpin + Send + 'static, to: Arc<Mutex<String>>) {
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(from).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(mut s) = to.lock() {
                s.push_str(&line);
                s.push('\n');
            }
        }
    });
}

/// Starts `zhanggui` with no command in `dir` with only `ZG_LISTEN` set, and waits until its
/// /healthz answers. The port is free when chosen; should another process take it before the
/// server binds it, the server exits and it is tried again on another port.
async fn serve_with_no_command(dir: &Path) -> Served {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    for _ in 0..3 {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut child = command_in(dir, &[("ZG_LISTEN", &listen)])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start zhanggui");
        let printed = Arc::new(Mutex::new(String::new()));
        collect_lines(child.stdout.take().expect("stdout"), printed.clone());
        collect_lines(child.stderr.take().expect("stderr"), printed.clone());
        let mut served = Served {
            child,
            base: format!("http://{listen}"),
            printed,
        };
        // The demo is seeded before the listener opens: that may take a while in debug builds.
        let healthz = format!("{}/healthz", served.base);
        let waited = tokio::time::timeout(Duration::from_secs(120), async {
            loop {
                if let Ok(res) = http.get(&healthz).send().await
                    && res.status() == reqwest::StatusCode::OK
                {
                    return None;
                }
                if let Ok(Some(status)) = served.child.try_wait() {
                    return Some(status);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        match waited {
            Ok(None) => return served,
            Ok(Some(status)) => {
                // Let the output readers catch up.
                tokio::time::sleep(Duration::from_millis(200)).await;
                let printed = served.printed();
                assert!(
                    printed.contains("cannot listen"),
                    "zhanggui exited with {status}:\n{printed}"
                );
            }
            Err(_) => panic!("no /healthz within 120 s:\n{}", served.printed()),
        }
    }
    panic!("three ports in a row were taken");
}

/// `cargo run` on a fresh clone: no command, no database URL, nothing but the listen address.
/// A SQLite file appears under ./data, the demo merchant is made, the console URL and the demo
/// sign-in are printed, and that sign-in works.
#[tokio::test]
async fn with_no_command_it_serves_a_new_sqlite_file_with_the_demo() {
    let dir = tempfile::tempdir().expect("an empty working folder");
    let mut served = serve_with_no_command(dir.path()).await;
    let base = served.base.clone();
    let out = || served.printed();
    assert!(
        dir.path().join("data").join("zhanggui.db").is_file(),
        "the default database file ./data/zhanggui.db"
    );
    let login_line = "Sign in / 登录:    demo / demo1234";
    wait_until("the sign-in is printed", 10, || {
        let o = out();
        async move { o.contains(login_line) }
    })
    .await;
    let printed = out();
    assert!(
        printed.contains(&format!("Console / 控制台:  {base}/")),
        "{printed}"
    );
    assert!(printed.contains("sandbox mode"), "{printed}");
    assert!(printed.contains("admin / admin1234"), "{printed}");

    // The printed sign-in works: the login form, then the dashboard.
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let (status, page) = read(browser.get(format!("{base}/login"))).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{page}");
    let csrf = csrf_of(&page).expect("the login form's token");
    let (status, body) = read(browser.post(format!("{base}/login")).form(&[
        ("_csrf", csrf.as_str()),
        ("username", "demo"),
        ("password", "demo1234"),
    ]))
    .await;
    assert_eq!(status, reqwest::StatusCode::SEE_OTHER, "{body}");
    let (status, page) = read(browser.get(format!("{base}/"))).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{page}");
    assert!(page.contains(zhanggui::demo::DEMO_MERCHANT), "{page}");
    served.child.kill().await.expect("stop zhanggui");
}

/// True when `url`'s database has been migrated (without migrating it ourselves).
async fn is_migrated(url: &str) -> bool {
    let Ok(db) = zhanggui::platform::db::Db::connect(url, Default::default()).await else {
        return false;
    };
    let applied = zhanggui::on_pool!(&db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM _sqlx_migrations"
    )
    .fetch_one(p)
    .await);
    db.close().await;
    applied.is_ok_and(|n| n > 0)
}

/// Settings from a TOML file: ./zhanggui.toml when present, or the file `--config` or
/// `ZG_CONFIG` names; `ZG_*` variables still win over it.
#[tokio::test]
async fn the_database_comes_from_the_config_file() {
    let dir = tempfile::tempdir().expect("an empty working folder");
    let here = dir.path();
    std::fs::write(
        here.join("zhanggui.toml"),
        "database_url = \"sqlite://from-toml/zg.db\"\nworkers = 1\n",
    )
    .expect("write zhanggui.toml");
    let o = zg_in(here, &[], &["migrate"]).await;
    assert!(o.status.success(), "{}\n{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("up to date"), "{}", stdout(&o));
    assert!(
        here.join("from-toml").join("zg.db").is_file(),
        "the file zhanggui.toml names"
    );
    assert!(!here.join("data").exists(), "not the default database");
    let from_toml = format!(
        "sqlite://{}",
        here.join("from-toml").join("zg.db").display()
    );
    assert!(is_migrated(&from_toml).await, "and migrated");

    // The environment outranks the file.
    let o = zg_in(
        here,
        &[("ZG_DATABASE_URL", "sqlite://from-env.db")],
        &["migrate"],
    )
    .await;
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(here.join("from-env.db").is_file());

    // Another file, named by --config or by ZG_CONFIG (on the test's backend).
    for how in ["--config", "ZG_CONFIG"] {
        let url = fresh_db_url().await;
        std::fs::write(
            here.join("other.toml"),
            format!("database_url = \"{url}\"\n"),
        )
        .expect("write other.toml");
        assert!(!is_migrated(&url).await, "{how}: a new database");
        let o = if how == "--config" {
            zg_in(here, &[], &["--config", "other.toml", "migrate"]).await
        } else {
            zg_in(here, &[("ZG_CONFIG", "other.toml")], &["migrate"]).await
        };
        assert!(o.status.success(), "{how}: {}\n{}", stdout(&o), stderr(&o));
        assert!(
            is_migrated(&url).await,
            "{how}: the database other.toml names"
        );
    }

    // A missing or mistyped file is an error naming it, not a silent default.
    let o = zg_in(here, &[], &["--config", "missing.toml", "migrate"]).await;
    assert!(!o.status.success());
    assert!(stderr(&o).contains("missing.toml"), "{}", stderr(&o));
    std::fs::write(here.join("typo.toml"), "databse_url = \"sqlite://x.db\"\n").expect("write");
    let o = zg_in(here, &[], &["--config", "typo.toml", "migrate"]).await;
    assert!(!o.status.success());
    assert!(stderr(&o).contains("typo.toml"), "{}", stderr(&o));
    assert!(!here.join("x.db").exists());
}
