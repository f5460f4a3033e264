//! The console in a real browser: headless Chromium driven through chromedriver.
//!
//! One browser session walks the main journeys (sign in, switch language, add an account and
//! see its credentials once, test its connection, field errors, API keys used from Rust and
//! revoked, the platform admin adding a merchant), then does it again at phone size, checking
//! the layout with `getComputedStyle`. Every main page is saved as a PNG, desktop (1366 wide)
//! and phone (390 wide), under `target/screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`, `chromium-driver`; or set
//! `ZG_CHROMIUM` / `ZG_CHROMEDRIVER`). Without them the test is skipped, unless `CI` is set:
//! then it fails, because CI must run it.

mod common;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use zhanggui::demo::{
    DEMO_ADMIN, DEMO_ADMIN_PASSWORD, DEMO_MERCHANT, DEMO_OWNER, DEMO_PASSWORD, ensure_demo,
};
use zhanggui::platform::clock::Clock;
use zhanggui::platform::config::{Config, Mode};
use zhanggui::platform::jobs::{self, JobError, NewJob};
use zhanggui::platform::server::{self, Running};
use zhanggui::platform::state::AppState;

const DESKTOP: (u32, u32) = (1366, 900);
const PHONE: (u32, u32) = (390, 844);
/// How long to wait for anything the page should show.
const PATIENCE: Duration = Duration::from_secs(10);
/// A hung browser must not hang the test suite.
const WHOLE_RUN: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// The test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_headless_chromium() {
    let started = Instant::now();
    let Some(tools) = find_tools() else {
        return;
    };
    let app = start_app().await;
    let driver = Chromedriver::start(&tools);
    let client = driver.session(&tools).await;
    let shots = screenshot_dir();

    // Run the journeys in a task of their own so that a failed assertion still lets us save
    // what the browser showed, close the session and stop chromedriver.
    let mut journey = tokio::spawn(journeys(
        client.clone(),
        Ctx {
            base: app.base.clone(),
            shots: shots.clone(),
        },
    ));
    type Panic = Box<dyn std::any::Any + Send>;
    let outcome: Result<(), Panic> = match tokio::time::timeout(WHOLE_RUN, &mut journey).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(match e.try_into_panic() {
            Ok(panic) => panic,
            Err(e) => Box::new(format!("browser journeys did not finish: {e}")) as Panic,
        }),
        Err(_) => {
            journey.abort();
            Err(Box::new(format!("browser journeys took longer than {WHOLE_RUN:?}")) as Panic)
        }
    };
    if outcome.is_err() {
        if let Ok(png) = client.screenshot().await {
            std::fs::write(shots.join("failure.png"), png).ok();
        }
        if let Ok(url) = client.current_url().await {
            eprintln!("browser test failed on {url}; see {}", shots.display());
        }
    }
    client.close().await.ok();
    drop(driver);
    app.running.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    println!(
        "browser tests passed in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        shots.display()
    );
}

/// What the journeys need besides the browser.
struct Ctx {
    base: String,
    shots: PathBuf,
}

impl Ctx {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

async fn journeys(c: Client, ctx: Ctx) {
    set_viewport(&c, DESKTOP).await;
    let account_id = desktop_merchant_journey(&c, &ctx).await;
    desktop_platform_admin_journey(&c, &ctx).await;
    phone_journey(&c, &ctx, account_id).await;
}

/// Steps 1–5 at desktop size, as the demo merchant's owner. Returns the added account's id.
async fn desktop_merchant_journey(c: &Client, ctx: &Ctx) -> i64 {
    // 1. Sign in through the form and land on the dashboard.
    goto(c, &ctx.url("/")).await;
    wait_text(c, ".login-card h2", "登录").await;
    assert!(
        c.current_url()
            .await
            .expect("current url")
            .path()
            .starts_with("/login"),
        "signed-out visitors are sent to the sign-in page"
    );
    shot(c, ctx, "login", DESKTOP).await;
    sign_in(c, DEMO_OWNER, DEMO_PASSWORD).await;
    wait_text(c, ".page-head h1", "经营概况").await;
    wait_text(c, ".page-head .muted", DEMO_MERCHANT).await;
    assert_eq!(js(c, "return document.documentElement.lang").await, "zh-CN");
    assert_eq!(
        css(c, ".nav-toggle", "display").await,
        "none",
        "no hamburger on a desktop"
    );
    assert!(
        rect(c, "#sidenav").await.left >= 0.0,
        "the side navigation is visible on a desktop"
    );
    shot(c, ctx, "dashboard", DESKTOP).await;

    // 2. English and back.
    click(c, ".topbar .lang-switch button[value='en']").await;
    wait_text(c, "#sidenav", "Official accounts").await;
    let nav = text(c, "#sidenav").await;
    assert!(nav.contains("Dashboard"), "English navigation: {nav}");
    wait_text(c, ".page-head h1", "Dashboard").await;
    assert_eq!(js(c, "return document.documentElement.lang").await, "en");
    shot(c, ctx, "dashboard-en", DESKTOP).await;
    click(c, ".topbar .lang-switch button[value='zh-CN']").await;
    wait_text(c, "#sidenav", "公众号").await;
    wait_text(c, ".page-head h1", "经营概况").await;

    // 3. Add a sandbox subscription account; its credentials are shown once, then masked.
    goto(c, &ctx.url("/accounts")).await;
    wait_text(c, "table", "掌柜咖啡服务号").await;
    shot(c, ctx, "accounts", DESKTOP).await;
    click(c, ".page-head a[href='/accounts/new']").await;
    wait_text(c, "legend", "基本信息").await;
    fill(c, "#name", "浏览器测试号").await;
    select(c, "#kind", "subscription").await;
    assert!(
        is_checked(c, "#sandbox").await,
        "sandbox mode ticks the sandbox box by default"
    );
    shot(c, ctx, "account-new", DESKTOP).await;
    submit(c, "form.form").await;
    wait_text(c, ".page-head h1", "接入微信").await;
    let callback = text(c, "#c-url").await;
    let token = text(c, "#c-token").await;
    let aes_key = text(c, "#c-aes").await;
    assert!(
        callback.starts_with(&ctx.base) && callback.contains("/wx/"),
        "the callback URL is on our public URL: {callback}"
    );
    assert_eq!(token.len(), 32, "token shown in full: {token}");
    assert!(token.chars().all(|ch| ch.is_ascii_alphanumeric()));
    assert_eq!(aes_key.len(), 43, "EncodingAESKey shown in full: {aes_key}");
    assert!(aes_key.chars().all(|ch| ch.is_ascii_alphanumeric()));
    shot(c, ctx, "account-connect", DESKTOP).await;
    click(c, ".form-actions a.btn-primary").await;
    wait_text(c, ".page-actions", "测试连接").await;
    let path = c
        .current_url()
        .await
        .expect("current url")
        .path()
        .to_string();
    let account_id: i64 = path
        .strip_prefix("/accounts/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("the connect page leads to the account page, not {path}"));
    wait_text(c, ".page-head h1", "浏览器测试号").await;
    let html = c.source().await.expect("page source");
    assert!(
        !html.contains(&token),
        "the token is never shown again in full"
    );
    assert!(
        !html.contains(&aes_key),
        "the EncodingAESKey is never shown again in full"
    );
    assert!(html.contains(&format!("••••••••{}", &token[28..])));
    assert!(html.contains(&format!("••••••••{}", &aes_key[39..])));
    assert!(html.contains(&callback), "the callback URL stays visible");
    click(c, ".page-actions button[data-busy]").await;
    wait_text(c, "#test-result", "连接正常").await;
    assert!(
        attr(c, "#test-result", "class").await.contains("alert-ok"),
        "a passing connection test shows the success alert"
    );
    shot(c, ctx, "account", DESKTOP).await;

    // 4. Field errors for bad credentials, the summary on top, and what was typed kept.
    add_account_with_errors(c, ctx, DESKTOP).await;

    // 5. An API key, shown once, works against the JSON API until revoked.
    let http = reqwest::Client::new();
    let key = create_api_key(c, ctx, "ERP 同步", "operator", DESKTOP).await;
    let res = api_accounts(&http, ctx, &key).await;
    assert_eq!(res.0, 200, "a fresh API key is accepted: {}", res.1);
    let names: Vec<&str> = res.1["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    assert!(
        names.contains(&"浏览器测试号") && names.contains(&"掌柜咖啡服务号"),
        "the key sees the merchant's accounts: {names:?}"
    );
    let before = c.source().await.expect("page source");
    assert!(
        before.contains("badge-ok"),
        "the new key is listed as active"
    );
    click(c, "form[data-confirm] button").await;
    let question = wait_for_alert(c).await;
    assert!(question.contains("吊销"), "confirm dialog asks: {question}");
    c.accept_alert().await.expect("accept the confirm dialog");
    wait_text(c, ".table", "已吊销").await;
    let res = api_accounts(&http, ctx, &key).await;
    assert_eq!(res.0, 401, "a revoked key is refused: {}", res.1);

    goto(c, &ctx.url("/staff")).await;
    wait_text(c, ".table", "xiaozhou").await;
    shot(c, ctx, "staff", DESKTOP).await;
    goto(c, &ctx.url("/jobs")).await;
    wait_text(c, ".page-head h1", "后台任务").await;
    wait_for("the failing job to be run and given up", || async {
        c.refresh().await.ok();
        text_now(c, ".table").await.contains("已失败")
    })
    .await;
    wait_text(c, ".table", "45009").await;
    wait_text(c, ".table", "重试").await;
    shot(c, ctx, "jobs", DESKTOP).await;

    // The phone simulator: a new simulated follower follows, says something, and sees the
    // account's answers come back through the real callback.
    goto(c, &ctx.url("/simulator")).await;
    wait_text(c, ".page-head h1", "手机模拟器").await;
    click(c, "#sim-new").await;
    wait_text(c, "#sim-chat", "你关注了公众号").await;
    wait_text(c, "#sim-chat", " ms").await;
    fill(c, "#sim-text", "有拿铁吗").await;
    click(c, "#sim-form button").await;
    wait_text(c, "#sim-chat", "有拿铁吗").await;
    wait_for("the reply to the text", || async {
        text_now(c, "#sim-chat").await.matches(" ms").count() >= 2
    })
    .await;
    shot(c, ctx, "simulator", DESKTOP).await;
    account_id
}

/// Step 6: the platform admin adds a merchant and sees it listed.
async fn desktop_platform_admin_journey(c: &Client, ctx: &Ctx) {
    sign_out(c).await;
    sign_in(c, DEMO_ADMIN, DEMO_ADMIN_PASSWORD).await;
    wait_for("the admin to be signed in", || async {
        c.find(Locator::Css(".topbar .avatar")).await.is_ok()
    })
    .await;
    goto(c, &ctx.url("/platform/merchants")).await;
    wait_text(c, ".page-head h1", "商户").await;
    wait_text(c, ".table", DEMO_MERCHANT).await;
    fill(c, "form.form #name", "云南小馆").await;
    fill(c, "form.form #timezone", "Asia/Shanghai").await;
    submit(c, "form.form").await;
    wait_text(c, ".table", "云南小馆").await;
    shot(c, ctx, "merchants", DESKTOP).await;
}

/// Step 7: the same pages at phone size: hamburger, drawer, stacked table rows, no sideways
/// scrolling.
async fn phone_journey(c: &Client, ctx: &Ctx, account_id: i64) {
    set_viewport(c, PHONE).await;
    let width = js(c, "return window.innerWidth").await;
    assert_eq!(width, json!(PHONE.0), "the viewport is phone-sized");

    // Still the platform admin: the merchants table as cards.
    goto(c, &ctx.url("/platform/merchants")).await;
    wait_text(c, ".table", "云南小馆").await;
    assert_stacked_table(c).await;
    phone_shot(c, ctx, "merchants").await;

    sign_out(c).await;
    wait_text(c, ".login-card h2", "登录").await;
    phone_shot(c, ctx, "login").await;
    sign_in(c, DEMO_OWNER, DEMO_PASSWORD).await;
    wait_text(c, ".page-head h1", "经营概况").await;

    // The drawer: hidden behind the hamburger until asked for.
    assert_ne!(
        css(c, ".nav-toggle", "display").await,
        "none",
        "a phone shows the hamburger"
    );
    assert!(
        rect(c, "#sidenav").await.right <= 0.0,
        "the side navigation starts off-screen"
    );
    phone_shot(c, ctx, "dashboard").await;
    click(c, ".nav-toggle").await;
    wait_for("the navigation drawer to slide in", || async {
        rect(c, "#sidenav").await.left >= 0.0
    })
    .await;
    assert_eq!(attr(c, ".nav-toggle", "aria-expanded").await, "true");
    phone_shot(c, ctx, "dashboard-nav-open").await;
    click(c, ".nav-toggle").await;
    wait_for("the navigation drawer to slide out", || async {
        rect(c, "#sidenav").await.right <= 0.0
    })
    .await;

    goto(c, &ctx.url("/accounts")).await;
    wait_text(c, ".table", "浏览器测试号").await;
    assert_stacked_table(c).await;
    phone_shot(c, ctx, "accounts").await;

    goto(c, &ctx.url(&format!("/accounts/{account_id}"))).await;
    wait_text(c, ".page-head h1", "浏览器测试号").await;
    phone_shot(c, ctx, "account").await;

    add_account_with_errors(c, ctx, PHONE).await;

    goto(c, &ctx.url("/accounts/new")).await;
    wait_text(c, "legend", "基本信息").await;
    phone_shot(c, ctx, "account-new").await;
    fill(c, "#name", "掌柜咖啡二号店").await;
    submit(c, "form.form").await;
    wait_text(c, ".page-head h1", "接入微信").await;
    assert_eq!(text(c, "#c-aes").await.len(), 43);
    phone_shot(c, ctx, "account-connect").await;

    create_api_key(c, ctx, "小程序", "agent", PHONE).await;
    assert_stacked_table(c).await;

    goto(c, &ctx.url("/staff")).await;
    wait_text(c, ".table", "xiaozhou").await;
    assert_stacked_table(c).await;
    phone_shot(c, ctx, "staff").await;

    goto(c, &ctx.url("/jobs")).await;
    wait_text(c, ".table", "45009").await;
    assert_stacked_table(c).await;
    phone_shot(c, ctx, "jobs").await;
}

/// Submits the add-account form with a bad AppID and AppSecret and checks the errors.
async fn add_account_with_errors(c: &Client, ctx: &Ctx, viewport: (u32, u32)) {
    goto(c, &ctx.url("/accounts/new")).await;
    wait_text(c, "legend", "基本信息").await;
    fill(c, "#name", "填错的公众号").await;
    if is_checked(c, "#sandbox").await {
        click(c, "#sandbox").await;
    }
    assert!(!is_checked(c, "#sandbox").await, "sandbox box unticked");
    fill(c, "#app_id", "gh_123").await;
    fill(c, "#app_secret", "short").await;
    submit(c, "form.form").await;
    wait_text(c, ".alert-error", "提交的内容有误").await;
    let summary = text(c, ".alert-error ul").await;
    assert!(
        summary.contains("AppID") && summary.contains("AppSecret"),
        "the summary lists both mistakes: {summary}"
    );
    let app_id_error = text(c, ".field.has-error:has(#app_id) .field-error").await;
    assert!(
        app_id_error.contains("wx"),
        "inline AppID error: {app_id_error}"
    );
    let secret_error = text(c, ".field.has-error:has(#app_secret) .field-error").await;
    assert!(
        secret_error.contains("32"),
        "inline AppSecret error: {secret_error}"
    );
    assert_eq!(prop(c, "#name", "value").await, "填错的公众号", "name kept");
    assert_eq!(prop(c, "#app_id", "value").await, "gh_123", "AppID kept");
    assert!(
        !is_checked(c, "#sandbox").await,
        "the sandbox choice is kept"
    );
    // The summary links to the fields.
    let link = attr(c, ".alert-error ul a", "href").await;
    assert!(link.starts_with('#'), "summary links to its field: {link}");
    if viewport == PHONE {
        phone_shot(c, ctx, "account-form-errors").await;
    } else {
        shot(c, ctx, "account-form-errors", viewport).await;
    }
}

/// Creates an API key on /api-keys and returns it as shown once.
async fn create_api_key(
    c: &Client,
    ctx: &Ctx,
    name: &str,
    role: &str,
    viewport: (u32, u32),
) -> String {
    goto(c, &ctx.url("/api-keys")).await;
    wait_text(c, ".page-head h1", "API 密钥").await;
    fill(c, "#key-name", name).await;
    select(c, "#key-role", role).await;
    submit(c, "form.form").await;
    wait_text(c, "#new-key", "只显示这一次").await;
    let key = text(c, "#new-key-value").await;
    assert!(key.starts_with("zg_"), "API keys start with zg_: {key}");
    assert!(key.len() > 20, "an API key is long: {key}");
    wait_text(c, ".table", name).await;
    if viewport == PHONE {
        phone_shot(c, ctx, "api-keys").await;
    } else {
        shot(c, ctx, "api-keys", viewport).await;
    }
    key
}

async fn api_accounts(http: &reqwest::Client, ctx: &Ctx, key: &str) -> (u16, Value) {
    let res = http
        .get(ctx.url("/api/v1/accounts"))
        .bearer_auth(key)
        .send()
        .await
        .expect("GET /api/v1/accounts");
    let status = res.status().as_u16();
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

async fn sign_in(c: &Client, username: &str, password: &str) {
    wait_text(c, ".login-card h2", "登录").await;
    fill(c, "#username", username).await;
    fill(c, "#password", password).await;
    submit(c, ".login-card").await;
    wait_for("the sign-in to finish", || async {
        c.find(Locator::Css(".topbar")).await.is_ok()
    })
    .await;
}

async fn sign_out(c: &Client) {
    click(c, ".user-menu summary").await;
    click(c, ".user-menu-panel .link-button").await;
    wait_text(c, ".login-card h2", "登录").await;
}

/// Every phone page: table rows become cards (header hidden, cells as label/value lines).
async fn assert_stacked_table(c: &Client) {
    assert_eq!(
        css(c, ".table thead", "display").await,
        "none",
        "no table header on a phone"
    );
    assert_eq!(css(c, ".table tbody tr", "display").await, "block");
    assert_eq!(css(c, ".table td[data-label]", "display").await, "block");
    let label = js(
        c,
        "return getComputedStyle(document.querySelector('.table td[data-label]'), '::before').content",
    )
    .await;
    assert_ne!(
        label,
        json!("none"),
        "each cell is labelled with its column"
    );
}

// ---------------------------------------------------------------------------------------------
// The application under test

struct App {
    base: String,
    running: Running,
}

async fn start_app() -> App {
    let db = common::fresh_db().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let addr = listener.local_addr().expect("local address");
    let base = format!("http://{addr}");
    let config = Config {
        database_url: "sqlite::memory:".into(),
        listen: addr,
        public_url: base.clone(),
        mode: Mode::Sandbox,
        workers: 1,
        max_db_connections: common::TEST_MAX_CONNECTIONS,
        wechat_api_base: format!("{base}/sandbox"),
        sandbox_api_base: format!("{base}/sandbox"),
    };
    let clock = Clock::default();
    let now = clock.now_ms();
    let merchant_id = ensure_demo(&db, &base, now)
        .await
        .expect("seed the demo merchant");
    // A few jobs so that the jobs page has a table: one done, one failed for good, one
    // waiting for later.
    let mut registry = server::job_registry();
    registry.register("reports.daily", |_| async { Ok(()) });
    registry.register("followers.sync", |_| async {
        Err(JobError::permanent(
            "微信接口返回 45009：reach max api daily quota limit（接口调用次数已达今日上限）",
        ))
    });
    for job in [
        NewJob::new("reports.daily", json!({})),
        NewJob::new("followers.sync", json!({})).max_attempts(1),
        NewJob::new("broadcast.send", json!({})).run_at(now + 3_600_000),
    ] {
        jobs::enqueue_alone(&db, now, job.merchant(merchant_id))
            .await
            .expect("enqueue a job");
    }
    let state = AppState::new(db, config, clock);
    let running = server::start(state, listener, registry)
        .await
        .expect("start the server");
    App { base, running }
}

// ---------------------------------------------------------------------------------------------
// Chromium and chromedriver

struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// Finds Chromium and chromedriver; `None` (skip) when missing, a failure when `CI` is set.
fn find_tools() -> Option<Tools> {
    let chromium = from_env_or("ZG_CHROMIUM", &["chromium", "chromium-browser"]);
    let chromedriver = from_env_or("ZG_CHROMEDRIVER", &["chromedriver"]);
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Some(Tools {
            chromium,
            chromedriver,
        }),
        (chromium, chromedriver) => {
            let missing = [
                chromium.is_none().then_some("chromium (or ZG_CHROMIUM)"),
                chromedriver
                    .is_none()
                    .then_some("chromedriver (or ZG_CHROMEDRIVER)"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" and ");
            if std::env::var_os("CI").is_some() {
                panic!(
                    "browser tests need {missing}; CI must run them (apt-get install chromium chromium-driver)"
                );
            }
            eprintln!(
                "SKIPPED browser tests: {missing} not found (Debian: apt-get install chromium chromium-driver)"
            );
            None
        }
    }
}

fn from_env_or(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    names.iter().find_map(|name| {
        dirs.iter()
            .map(|d| d.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// A chromedriver of our own, in its own process group: dropping it kills chromedriver and
/// the Chromium it started, even when the test fails.
struct Chromedriver {
    child: Child,
    port: u16,
    profile: tempfile::TempDir,
}

impl Chromedriver {
    fn start(tools: &Tools) -> Chromedriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("find a free port for chromedriver")
            .port();
        let profile = tempfile::Builder::new()
            .prefix("zg-chromium-")
            .tempdir()
            .expect("temporary Chromium profile");
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(&tools.chromedriver)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("start chromedriver")
        };
        Chromedriver {
            child,
            port,
            profile,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Waits for chromedriver to answer, then opens a browser session.
    async fn session(&self, tools: &Tools) -> Client {
        let http = reqwest::Client::new();
        wait_for("chromedriver to answer", || async {
            http.get(format!("{}/status", self.url()))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            "--disable-quic".into(),
            "--hide-scrollbars".into(),
            "--lang=zh-CN".into(),
            "--force-device-scale-factor=1".into(),
            format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
            format!("--user-data-dir={}", self.profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        // Leave confirm() dialogs open until the test answers them.
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": tools.chromium,
                "args": args,
                // A browser in China: the console's default language comes from Accept-Language.
                "prefs": { "intl.accept_languages": "zh-CN,zh" },
            }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url())
            .await
            .expect("open a Chromium session through chromedriver")
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the browser processes it started.
        let group = format!("-{}", self.child.id());
        let killed = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !killed {
            self.child.kill().ok();
        }
        self.child.wait().ok();
    }
}

// ---------------------------------------------------------------------------------------------
// Browser helpers

async fn goto(c: &Client, url: &str) {
    c.goto(url)
        .await
        .unwrap_or_else(|e| panic!("open {url}: {e}"));
}

/// The first element matching `selector`, waiting for it to appear.
async fn find(c: &Client, selector: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match c.find(Locator::Css(selector)).await {
            Ok(e) => return e,
            Err(e) if Instant::now() > deadline => {
                panic!("{selector} never appeared on {}: {e}", current(c).await)
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn current(c: &Client) -> String {
    c.current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default()
}

async fn click(c: &Client, selector: &str) {
    find(c, selector)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click {selector}: {e}"));
}

async fn fill(c: &Client, selector: &str, value: &str) {
    let field = find(c, selector).await;
    field
        .clear()
        .await
        .unwrap_or_else(|e| panic!("clear {selector}: {e}"));
    field
        .send_keys(value)
        .await
        .unwrap_or_else(|e| panic!("type into {selector}: {e}"));
    assert_eq!(
        prop(c, selector, "value").await,
        value,
        "typed into {selector}"
    );
}

async fn select(c: &Client, selector: &str, value: &str) {
    find(c, selector)
        .await
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("choose {value} in {selector}: {e}"));
}

/// Clicks the form's submit button, as a person would.
async fn submit(c: &Client, form: &str) {
    click(c, &format!("{form} button[type=submit]")).await;
}

async fn is_checked(c: &Client, selector: &str) -> bool {
    find(c, selector)
        .await
        .is_selected()
        .await
        .unwrap_or_else(|e| panic!("read {selector}: {e}"))
}

async fn text(c: &Client, selector: &str) -> String {
    find(c, selector)
        .await
        .text()
        .await
        .unwrap_or_else(|e| panic!("read {selector}: {e}"))
        .trim()
        .to_string()
}

/// The text of `selector` right now, or empty when it is not on the page.
async fn text_now(c: &Client, selector: &str) -> String {
    match c.find(Locator::Css(selector)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

async fn attr(c: &Client, selector: &str, name: &str) -> String {
    find(c, selector)
        .await
        .attr(name)
        .await
        .unwrap_or_else(|e| panic!("read {selector}[{name}]: {e}"))
        .unwrap_or_default()
}

async fn prop(c: &Client, selector: &str, name: &str) -> String {
    find(c, selector)
        .await
        .prop(name)
        .await
        .unwrap_or_else(|e| panic!("read {selector}.{name}: {e}"))
        .unwrap_or_default()
}

/// The computed style of the first element matching `selector`.
async fn css(c: &Client, selector: &str, property: &str) -> String {
    find(c, selector).await;
    let v = c
        .execute(
            "return getComputedStyle(document.querySelector(arguments[0])).getPropertyValue(arguments[1])",
            vec![json!(selector), json!(property)],
        )
        .await
        .unwrap_or_else(|e| panic!("style of {selector}: {e}"));
    v.as_str().unwrap_or_default().to_string()
}

struct Rect {
    left: f64,
    right: f64,
}

async fn rect(c: &Client, selector: &str) -> Rect {
    find(c, selector).await;
    let v = c
        .execute(
            "const r = document.querySelector(arguments[0]).getBoundingClientRect(); return [r.left, r.right];",
            vec![json!(selector)],
        )
        .await
        .unwrap_or_else(|e| panic!("bounds of {selector}: {e}"));
    Rect {
        left: v[0].as_f64().unwrap_or(f64::NAN),
        right: v[1].as_f64().unwrap_or(f64::NAN),
    }
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("run {script}: {e}"))
}

/// Waits for the text of `selector` to contain `needle` (pages load after clicks).
async fn wait_text(c: &Client, selector: &str, needle: &str) {
    let deadline = Instant::now() + PATIENCE;
    let mut last = String::new();
    loop {
        if let Ok(e) = c.find(Locator::Css(selector)).await
            && let Ok(t) = e.text().await
        {
            if t.contains(needle) {
                return;
            }
            last = t;
        }
        if Instant::now() > deadline {
            panic!(
                "{selector} never showed {needle:?} on {}; it showed {last:?}",
                current(c).await
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for<F, Fut>(what: &str, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !ready().await {
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn wait_for_alert(c: &Client) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match c.get_alert_text().await {
            Ok(t) => return t,
            Err(e) if Instant::now() > deadline => panic!("no confirm dialog appeared: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Makes the page area (not the window) `size` CSS pixels.
async fn set_viewport(c: &Client, (width, height): (u32, u32)) {
    c.set_window_size(width, height)
        .await
        .expect("resize the window");
    let inner = js(c, "return [window.innerWidth, window.innerHeight]").await;
    let dw = i64::from(width) - inner[0].as_i64().unwrap_or(i64::from(width));
    let dh = i64::from(height) - inner[1].as_i64().unwrap_or(i64::from(height));
    if dw != 0 || dh != 0 {
        let w = u32::try_from(i64::from(width) + dw).unwrap_or(width);
        let h = u32::try_from(i64::from(height) + dh).unwrap_or(height);
        c.set_window_size(w, h).await.expect("resize the window");
    }
}

fn screenshot_dir() -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    std::fs::remove_file(dir.join("failure.png")).ok();
    dir
}

async fn phone_shot(c: &Client, ctx: &Ctx, name: &str) {
    // Nothing on a phone page may force sideways scrolling.
    let overflow = js(
        c,
        "const w = document.documentElement.clientWidth; \
         const wide = [...document.querySelectorAll('main *')] \
           .filter(e => e.getBoundingClientRect().right > w + 1 && getComputedStyle(e).position !== 'fixed') \
           .slice(0, 5).map(e => e.tagName + '.' + e.className); \
         return [document.documentElement.scrollWidth, w, wide];",
    )
    .await;
    assert!(
        overflow[0].as_i64() <= overflow[1].as_i64(),
        "{name} scrolls sideways on a phone: {overflow}"
    );
    shot(c, ctx, name, PHONE).await;
}

/// Saves a full-page PNG as `target/screenshots/<name>-<desktop|phone>.png`.
async fn shot(c: &Client, ctx: &Ctx, name: &str, viewport: (u32, u32)) {
    let kind = if viewport == PHONE {
        "phone"
    } else {
        "desktop"
    };
    let full = js(c, "return Math.ceil(document.documentElement.scrollHeight)")
        .await
        .as_u64()
        .and_then(|h| u32::try_from(h).ok())
        .unwrap_or(viewport.1);
    let tall = full.clamp(viewport.1, 4000);
    if tall != viewport.1 {
        set_viewport(c, (viewport.0, tall)).await;
    }
    let png = c.screenshot().await.expect("take a screenshot");
    if tall != viewport.1 {
        set_viewport(c, viewport).await;
    }
    let path = ctx.shots.join(format!("{name}-{kind}.png"));
    std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}
