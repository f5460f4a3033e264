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
            db: app.running.state.db.clone(),
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
    /// The app's database, for what WeChat's side knows (the sandbox account's AppSecret).
    db: zhanggui::platform::db::Db,
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
    set_viewport(&c, DESKTOP).await;
    menus_journey(&c, &ctx).await;
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

    simulator_journey(c, ctx).await;
    followers_journey(c, ctx).await;
    library_journey(c, ctx).await;
    replies_journey(c, ctx).await;
    account_id
}

/// Automatic replies: the test box explains which rule answers; a rule made in the form
/// answers the follower in the phone simulator.
async fn replies_journey(c: &Client, ctx: &Ctx) {
    goto(c, &ctx.url("/replies")).await;
    wait_text(c, ".page-head h1", "自动回复").await;
    wait_text(c, "#rules", "营业时间").await;
    fill(c, "#test-text", "请问几点开门").await;
    submit(c, "form.test-form").await;
    wait_text(c, ".test-result", "由这条规则回复").await;
    wait_text(c, ".test-result", "营业时间").await;
    shot(c, ctx, "replies", DESKTOP).await;

    goto(c, &ctx.url("/replies/new")).await;
    fill(c, "#name", "办会员卡").await;
    fill(c, "#exact", "办卡").await;
    fill(c, "#contains", "会员卡怎么办").await;
    fill(
        c,
        "#reply_0_text",
        "到店报手机号即可办卡，当天消费就能积分。",
    )
    .await;
    click(c, ".add-reply").await;
    select_label(
        c,
        "#reply_1_source",
        "图文 · 外送上线：3 公里内 30 分钟送达",
    )
    .await;
    shot(c, ctx, "replies-new", DESKTOP).await;
    submit(c, "form.rule-form").await;
    wait_text(c, "#rules", "办会员卡").await;

    goto(c, &ctx.url("/simulator")).await;
    wait_text(c, ".phone-title", SIM_ACCOUNT).await;
    // The menu the simulator journey published arrives after the page: then the keyboard.
    wait_text(c, "#sim-menu-buttons", "今日推荐").await;
    show_keyboard(c).await;
    fill(c, "#sim-text", "办卡").await;
    click(c, "#sim-form button[type=submit]").await;
    wait_text(c, "#sim-chat", "到店报手机号即可办卡").await;
    // The rule's second reply, the news, follows as a customer-service message.
    wait_text(c, "#sim-chat", "外送上线").await;
    shot(c, ctx, "simulator-rule", DESKTOP).await;
}

/// The content library: the demo's articles listed, one edited in the formatting editor
/// (a line typed, a library image inserted), its public page opened and its read counted.
async fn library_journey(c: &Client, ctx: &Ctx) {
    goto(c, &ctx.url("/library")).await;
    wait_text(c, ".table", "秋季新品上市").await;
    shot(c, ctx, "library", DESKTOP).await;
    let news = js(
        c,
        "return [...document.querySelectorAll('a.lib-item')] \
           .find(a => a.textContent.includes('新店开业')).getAttribute('href')",
    )
    .await;
    let news = news.as_str().expect("the news item's link").to_string();
    goto(c, &ctx.url(&news)).await;
    wait_text(c, ".lib-articles", "阅读 0").await;
    click(c, ".lib-actions a.btn").await;
    let editor = find(c, ".rich-editor").await;
    editor.click().await.expect("focus the editor");
    editor
        .send_keys("浏览器里加的一句")
        .await
        .expect("type into the editor");
    select_label(c, ".rich-pick", "门店环境封面").await;
    shot(c, ctx, "library-article-edit", DESKTOP).await;
    submit(c, "form.form").await;
    wait_text(c, ".lib-articles", "新店开业").await;
    let page = js(
        c,
        "return document.querySelector('.lib-articles a[target=_blank]').getAttribute('href')",
    )
    .await;
    let page = page.as_str().expect("the article page's link").to_string();
    goto(c, &ctx.url(&page)).await;
    wait_text(c, ".article-body", "浏览器里加的一句").await;
    let images = js(
        c,
        "return [...document.querySelectorAll('.article-body img')] \
           .filter(i => i.complete && i.naturalWidth > 0).length",
    )
    .await;
    assert_eq!(
        images,
        json!(1),
        "the inserted library image loads on the article page"
    );
    shot(c, ctx, "article", DESKTOP).await;
    goto(c, &ctx.url(&news)).await;
    wait_text(c, ".lib-articles", "阅读 1").await;
}

/// Custom menus: the demo's 3×5 menu in the editor, names over WeChat's byte limits
/// explained while typing, a sub-button changed, saved and published, the live menu pulled
/// and compared, then tapped in the phone simulator (a view button opens its article, a click
/// button's tap is counted beside it). Last, at phone size too.
async fn menus_journey(c: &Client, ctx: &Ctx) {
    let editor_buttons =
        "return [...document.querySelectorAll('#menu-editor .me-top:not(.me-add)')].length";
    let subs = "return [...document.querySelectorAll('#menu-editor .me-subbtn')].map(b => b.className.includes('me-add') ? '+' : b.textContent)";
    goto(c, &ctx.url("/menus")).await;
    wait_text(c, ".page-head h1", "自定义菜单").await;
    use_account(c, SIM_ACCOUNT).await;
    goto(c, &ctx.url("/menus")).await;
    wait_text(c, ".me-summary", "默认菜单").await;
    wait_text(c, ".me-summary", "发位置找门店").await;
    shot(c, ctx, "menus", DESKTOP).await;
    let href = attr(c, ".me-summary .card-title a", "href").await;
    goto(c, &ctx.url(&href)).await;
    wait_for("the editor's three buttons", || async {
        js(c, editor_buttons).await == json!(3)
    })
    .await;
    assert_eq!(css(c, "#menu-fallback", "display").await, "none");
    // Five sub-buttons under the first: no room for a sixth.
    click(c, "#menu-editor .me-top[data-place='1']").await;
    wait_for("five sub-buttons and no add", || async {
        js(c, subs)
            .await
            .as_array()
            .is_some_and(|s| s.len() == 5 && !s.contains(&json!("+")))
    })
    .await;
    click(c, "#menu-editor .me-subbtn[data-place='1-1']").await;
    // 21 Chinese characters are 63 bytes: over a sub-button's 60, said at once.
    fill(c, "#me-name", &"推".repeat(21)).await;
    wait_text(c, ".me-panel .field-error", "60 字节").await;
    wait_text(c, ".me-panel .me-count", "63/60").await;
    assert!(
        attr(c, "#menu-editor .me-subbtn[data-place='1-1']", "class")
            .await
            .contains("has-error"),
        "the preview marks the button"
    );
    shot(c, ctx, "menus-editor-limit", DESKTOP).await;
    fill(c, "#me-name", "今日推荐").await;
    // A top button takes 16 bytes: 会员中心会员 is 18.
    click(c, "#menu-editor .me-top[data-place='3']").await;
    fill(c, "#me-name", "会员中心会员").await;
    wait_text(c, ".me-panel .field-error", "16 字节").await;
    fill(c, "#me-name", "会员").await;
    // The fourth sub-button of 会员 now explains the Wi-Fi, answering with the library text.
    click(c, "#menu-editor .me-subbtn[data-place='3-4']").await;
    fill(c, "#me-name", "Wi-Fi 说明").await;
    let wifi = js(
        c,
        "const o = [...document.querySelector('#me-item').options].find(o => o.text.includes('Wi-Fi 密码')); \
         return o ? o.value : null;",
    )
    .await;
    select(
        c,
        "#me-item",
        wifi.as_str().expect("the Wi-Fi text in the picker"),
    )
    .await;
    shot(c, ctx, "menus-editor", DESKTOP).await;
    click(c, "#menu-save").await;
    wait_text(c, ".toast", "菜单已保存").await;
    wait_text(c, ".page-head h1", "有未发布的修改").await;
    // Saved, not published: WeChat still serves the menu the simulator journey published
    // through the API, and the comparison says where it differs.
    let editor = current(c).await;
    goto(c, &ctx.url("/menus/live")).await;
    wait_text(c, "#live-summary", "不一致").await;
    wait_text(c, ".me-diff", "今日推荐").await;
    wait_text(c, ".me-diff", "类型不同").await;
    wait_text(c, ".me-diff", "微信上没有这个按钮").await;
    shot(c, ctx, "menus-live-differs", DESKTOP).await;
    goto(c, &editor).await;
    click(c, "#menu-publish").await;
    wait_text(c, ".toast", "菜单已发布").await;
    wait_text(c, ".page-head h1", "已发布").await;
    goto(c, &ctx.url("/menus/live")).await;
    wait_text(c, "#live-summary", "完全一致").await;
    shot(c, ctx, "menus-live", DESKTOP).await;

    // The follower's phone shows the menu; a view button opens its article inside.
    goto(c, &ctx.url("/simulator")).await;
    wait_for("the simulator's follower", || async {
        current_simulator_openid(c).await.is_some()
    })
    .await;
    click(c, ".sim-follower[aria-pressed='true']").await;
    wait_text(c, "#sim-menu-buttons", "会员").await;
    click(c, "#sim-menu-buttons .menu-btn:nth-child(1)").await;
    wait_text(c, "#sim-submenu", "秋季新品").await;
    click(c, "#sim-submenu .submenu-item:nth-child(2)").await;
    wait_for("the article in the phone's browser", || async {
        js(
            c,
            "const d = document.querySelector('#sim-browser-frame').contentDocument; \
             return d && d.body ? d.body.innerText : ''",
        )
        .await
        .as_str()
        .is_some_and(|t| t.contains("秋季新品上市"))
    })
    .await;
    shot(c, ctx, "menus-simulator-page", DESKTOP).await;
    click(c, "#sim-browser-close").await;
    // A click button: the tap reaches the callback and is counted beside the button.
    click(c, "#sim-menu-buttons .menu-btn:nth-child(3)").await;
    wait_text(c, "#sim-submenu", "Wi-Fi 说明").await;
    shot(c, ctx, "menus-simulator-submenu", DESKTOP).await;
    click(c, "#sim-submenu .submenu-item:nth-child(4)").await;
    let taps_of = |name: &'static str| async move {
        js(
            c,
            &format!(
                "const r = [...document.querySelectorAll('.me-summary tbody tr')] \
                   .find(r => r.children[1].textContent.includes({name})); \
                 return r ? r.lastElementChild.textContent.trim() : ''",
                name = json!(name)
            ),
        )
        .await
    };
    goto(c, &ctx.url("/menus")).await;
    wait_for("the taps counted beside their buttons", || async {
        c.refresh().await.ok();
        taps_of("Wi-Fi 说明").await == json!("1") && taps_of("秋季新品").await == json!("1")
    })
    .await;
    shot(c, ctx, "menus-taps", DESKTOP).await;

    // At phone size: the list, and the editor with the phone preview above its fields.
    set_viewport(c, PHONE).await;
    goto(c, &ctx.url("/menus")).await;
    wait_text(c, ".me-summary", "Wi-Fi 说明").await;
    phone_shot(c, ctx, "menus").await;
    goto(c, &ctx.url(&href)).await;
    wait_for("the editor", || async {
        js(c, editor_buttons).await == json!(3)
    })
    .await;
    click(c, "#menu-editor .me-top[data-place='2']").await;
    click(c, "#menu-editor .me-subbtn[data-place='2-4']").await;
    wait_text(c, ".me-panel", "发送位置").await;
    phone_shot(c, ctx, "menus-editor").await;
    set_viewport(c, DESKTOP).await;
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

    phone_simulator_journey(c, ctx).await;
    phone_followers_journey(c, ctx).await;
}

/// Issue 5's pages at phone size: every one fits the width, lists become cards.
async fn phone_followers_journey(c: &Client, ctx: &Ctx) {
    goto(c, &ctx.url("/followers")).await;
    use_account(c, SIM_ACCOUNT).await;
    goto(c, &ctx.url("/followers")).await;
    wait_text(c, "#match-total", "位").await;
    phone_shot(c, ctx, "followers").await;
    click(c, "#followers tbody tr:first-child a.follower-name").await;
    find(c, "#follower-title").await;
    phone_shot(c, ctx, "follower").await;
    goto(c, &ctx.url("/segments/new")).await;
    wait_for("the live count", || async {
        text_now(c, "#preview-count")
            .await
            .trim()
            .parse::<i64>()
            .is_ok()
    })
    .await;
    phone_shot(c, ctx, "segment-builder").await;
    goto(c, &ctx.url("/segments")).await;
    wait_text(c, ".table", "浏览器里建的常客").await;
    assert_stacked_table(c).await;
    phone_shot(c, ctx, "segments").await;
    goto(c, &ctx.url("/channels")).await;
    wait_text(c, "main", "二楼桌贴").await;
    phone_shot(c, ctx, "channels").await;
    goto(c, &ctx.url("/tags")).await;
    wait_text(c, "main", "常客").await;
    phone_shot(c, ctx, "tags").await;
    goto(c, &ctx.url("/library")).await;
    wait_text(c, ".table", "秋季新品上市").await;
    assert_stacked_table(c).await;
    phone_shot(c, ctx, "library").await;
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
// The phone simulator

/// The demo's service account, as the phone simulator's current account.
const SIM_ACCOUNT: &str = "掌柜咖啡服务号";
/// What the stand-in merchant server answers a tap on 今日推荐 with.
const SIM_NEWS_TITLE: &str = "本周新品：桂花拿铁";
/// A customer-service message the account pushes while the chat is open.
const SIM_PUSHED: &str = "您点的拿铁做好啦，请到一号柜台取餐。";

/// Makes `name` the console's current account (the top bar's switcher).
async fn use_account(c: &Client, name: &str) {
    let value = c
        .execute(
            "const s = document.querySelector('#account-switch'); if (!s) { return null; } \
             const o = [...s.options].find(o => o.text.includes(arguments[0])); \
             return o && !o.selected ? o.value : null;",
            vec![json!(name)],
        )
        .await
        .expect("read the account switcher");
    if let Some(value) = value.as_str() {
        select(c, "#account-switch", value).await;
        wait_for("the account switch", || async {
            js(
                c,
                "const s = document.querySelector('#account-switch'); \
                 return s ? s.options[s.selectedIndex].text : ''",
            )
            .await
            .as_str()
            .is_some_and(|t| t.contains(SIM_ACCOUNT))
        })
        .await;
    }
}

/// The sandbox account behind the simulator page, as WeChat knows it.
async fn simulator_app(c: &Client, ctx: &Ctx) -> sandbox::SandboxApp {
    let app_id = attr(c, "#simulator", "data-app").await;
    zhanggui::sandbox_mode::of(ctx.db.clone(), Clock::default())
        .docs
        .app(&app_id)
        .await
        .expect("read the sandbox account")
        .expect("the simulator's account is a sandbox account")
}

/// An access token of the sandbox account, as the merchant's server fetches it.
async fn sandbox_token(ctx: &Ctx, app: &sandbox::SandboxApp) -> String {
    let res: Value = reqwest::get(ctx.url(&format!(
        "/sandbox/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
        app.app_id, app.app_secret
    )))
    .await
    .expect("GET /sandbox/cgi-bin/token")
    .json()
    .await
    .expect("token JSON");
    res["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {res}"))
        .to_string()
}

/// POSTs WeChat API JSON to the sandbox and expects errcode 0 (or no errcode).
async fn sandbox_call(ctx: &Ctx, path: &str, token: &str, body: Value) -> Value {
    let res: Value = reqwest::Client::new()
        .post(ctx.url(&format!("/sandbox{path}?access_token={token}")))
        .json(&body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{path} JSON: {e}"));
    assert!(
        res.get("errcode").is_none_or(|code| code == 0),
        "{path}: {res}"
    );
    res
}

/// The openid of the follower the simulator acts as right now, read in one step (the list
/// re-renders while a choice is applied).
async fn current_simulator_openid(c: &Client) -> Option<String> {
    js(
        c,
        "const e = document.querySelector(\".sim-follower[aria-pressed='true']\"); \
         return e ? e.getAttribute('data-openid') : null;",
    )
    .await
    .as_str()
    .map(str::to_string)
}

/// The openid of the follower the simulator acts as.
async fn simulator_openid(c: &Client) -> String {
    attr(c, ".sim-follower[aria-pressed='true']", "data-openid").await
}

/// The whole desktop story: pick and search followers, a new follower follows and chats with
/// the real product, the details of a delivery, a pushed customer-service message arriving
/// without a reload, the published menu (click, sub-menus, location picker, scan, an H5 page
/// opened as the follower), and every reply bubble from a stand-in merchant server.
async fn simulator_journey(c: &Client, ctx: &Ctx) {
    goto(c, &ctx.url("/simulator")).await;
    wait_text(c, ".page-head h1", "手机模拟器").await;
    use_account(c, SIM_ACCOUNT).await;
    goto(c, &ctx.url("/simulator")).await;
    wait_text(c, ".phone-title", SIM_ACCOUNT).await;
    let app = simulator_app(c, ctx).await;

    // The demo's followers, newest first, with nicknames; the search box finds them.
    wait_text(c, "#sim-total", "200").await;
    wait_text(c, "#sim-list", "已关注").await;
    fill(c, "#sim-search", "小鱼1").await;
    wait_for("the search to keep only 小鱼1…", || async {
        let names = js(
            c,
            "return [...document.querySelectorAll('#sim-list .sim-name')].map(e => e.textContent)",
        )
        .await;
        let names = names.as_array().cloned().unwrap_or_default();
        !names.is_empty()
            && names
                .iter()
                .all(|n| n.as_str().is_some_and(|n| n.starts_with("小鱼1")))
    })
    .await;
    fill(c, "#sim-search", "").await;
    wait_for("the whole list again", || async {
        js(
            c,
            "return document.querySelectorAll('#sim-list .sim-follower').length",
        )
        .await
        .as_u64()
            == Some(100)
    })
    .await;

    // A new follower follows and chats: the real product answers through its callback.
    click(c, "#sim-new").await;
    wait_text(c, "#sim-chat", "你关注了公众号").await;
    wait_text(c, "#sim-chat", "欢迎关注掌柜咖啡").await;
    wait_text(c, "#sim-who", "新粉丝").await;
    // The demo account has a menu: the input bar shows it first.
    wait_text(c, "#sim-menu-buttons", "新品").await;
    click(c, "#sim-to-input").await;
    fill(c, "#sim-text", "有拿铁吗").await;
    click(c, "#sim-form button[type=submit]").await;
    wait_text(c, "#sim-chat .msg-row.me", "有拿铁吗").await;
    wait_text(c, "#sim-chat", "收到您的消息啦").await;
    assert!(
        !text(c, "#sim-chat").await.contains("毫秒"),
        "delivery details stay hidden until asked for"
    );
    shot(c, ctx, "simulator", DESKTOP).await;

    // Delivery details, from the chat info sheet.
    click(c, "#sim-more").await;
    wait_text(c, "#sim-sheet-title", "聊天信息").await;
    click(c, "#sim-details").await;
    click(c, "#sim-sheet-close").await;
    fill(c, "#sim-text", "几点关门").await;
    click(c, "#sim-form button[type=submit]").await;
    wait_text(c, "#sim-chat", "毫秒").await;

    // The account pushes a customer-service message: it appears without a reload.
    let openid = simulator_openid(c).await;
    let token = sandbox_token(ctx, &app).await;
    sandbox_call(
        ctx,
        "/cgi-bin/message/custom/send",
        &token,
        json!({"touser": openid, "msgtype": "text", "text": {"content": SIM_PUSHED}}),
    )
    .await;
    wait_text(c, "#sim-chat", SIM_PUSHED).await;
    wait_text(c, "#sim-chat .msg-source", "客服消息").await;
    // And a template message: WeChat's card with its title and fields.
    sandbox_call(
        ctx,
        "/cgi-bin/template/api_set_industry",
        &token,
        json!({"industry_id1": "1", "industry_id2": "31"}),
    )
    .await;
    let template = sandbox_call(
        ctx,
        "/cgi-bin/template/api_add_template",
        &token,
        json!({"template_id_short": "OPENTM200565259"}),
    )
    .await;
    sandbox_call(
        ctx,
        "/cgi-bin/message/template/send",
        &token,
        json!({"touser": openid, "template_id": template["template_id"],
               "url": "https://zhanggui.example/orders/1024",
               "data": {"first": {"value": "您的订单已发货"},
                        "keyword1": {"value": "ZG20261130001"},
                        "keyword2": {"value": "顺丰速运"},
                        "keyword3": {"value": "SF1234567890"},
                        "remark": {"value": "点击查看物流详情"}}}),
    )
    .await;
    wait_text(c, "#sim-chat .template-card", "订单发货提醒").await;
    wait_text(c, "#sim-chat .template-card", "SF1234567890").await;
    wait_text(c, "#sim-chat", "模板消息").await;
    shot(c, ctx, "simulator-pushed", DESKTOP).await;

    // The account publishes a menu; the follower's phone shows it at the bottom.
    let authorize = format!(
        "{}/sandbox/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope=snsapi_userinfo&state=member#wechat_redirect",
        ctx.base,
        app.app_id,
        url::form_urlencoded::byte_serialize(ctx.url("/sandbox/member").as_bytes())
            .collect::<String>()
    );
    sandbox_call(
        ctx,
        "/cgi-bin/menu/create",
        &token,
        json!({"button": [
            {"type": "click", "name": "今日推荐", "key": "TODAY"},
            {"name": "点单", "sub_button": [
                {"type": "click", "name": "新品上市", "key": "NEW"},
                {"type": "view", "name": "会员中心", "url": authorize},
                {"type": "scancode_waitmsg", "name": "扫码点单", "key": "SCAN_ORDER"},
                {"type": "location_select", "name": "附近门店", "key": "NEARBY"}
            ]},
            {"type": "click", "name": "联系我们", "key": "CONTACT"}
        ]}),
    )
    .await;
    // Choosing the follower again reads the menu they see.
    click(c, ".sim-follower[aria-pressed='true']").await;
    wait_text(c, "#sim-menu-buttons", "今日推荐").await;
    assert_eq!(
        js(
            c,
            "return document.querySelectorAll('#sim-menu-buttons .menu-btn').length"
        )
        .await,
        json!(3)
    );

    // From here a stand-in merchant server answers, with every kind of passive reply WeChat
    // knows (the product's rules send text and news; this shows the phone draws them all).
    let image = upload_image(ctx, &token).await;
    let stand_in = RichReplies::start(app.clone(), image).await;
    set_callback(ctx, &app.app_id, &stand_in.url).await;

    click(c, "#sim-menu-buttons .menu-btn:first-child").await;
    // (The chat already holds the welcome's news: the new one is the last.)
    wait_text(
        c,
        "#sim-chat .msg-row:last-child .news-single",
        SIM_NEWS_TITLE,
    )
    .await;
    click(c, "#sim-menu-buttons .menu-btn:nth-child(2)").await;
    wait_text(c, "#sim-submenu", "新品上市").await;
    shot(c, ctx, "simulator-submenu", DESKTOP).await;
    click(c, "#sim-submenu .submenu-item:first-child").await;
    wait_text(c, "#sim-chat .news-multi", "手冲咖啡豆上新").await;
    js(
        c,
        "[...document.querySelectorAll('#sim-chat .news-single')].pop().scrollIntoView({block: 'start'}); return 0",
    )
    .await;
    shot(c, ctx, "simulator-news", DESKTOP).await;
    click(c, "#sim-to-input").await;
    for (say, shows) in [
        ("音乐", ".msg-row.them .music-card"),
        ("图片", ".msg-row.them .msg-picture img"),
        ("视频", ".msg-row.them .video-card"),
        ("门店", ".msg-row.them .bubble a.msg-link"),
    ] {
        fill(c, "#sim-text", say).await;
        click(c, "#sim-form button[type=submit]").await;
        find(c, shows).await;
    }
    wait_for("the uploaded image to show", || async {
        js(
            c,
            "const i = [...document.querySelectorAll('.msg-row.them .msg-picture img')].pop(); \
             return !!i && i.complete && i.naturalWidth > 0",
        )
        .await
            == json!(true)
    })
    .await;
    shot(c, ctx, "simulator-cards", DESKTOP).await;

    // Scan one of the account's QR codes, from the + panel: the follower follows already,
    // so WeChat sends SCAN with the code's scene.
    sandbox_call(
        ctx,
        "/cgi-bin/qrcode/create",
        &token,
        json!({"action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": "table_card"}}}),
    )
    .await;
    show_keyboard(c).await;
    click(c, "#sim-plus").await;
    click(c, "#sim-panel [data-tile='scan']").await;
    wait_text(c, "#sim-sheet .qr-list", "table_card").await;
    shot(c, ctx, "simulator-scan", DESKTOP).await;
    // The demo's channel codes are listed too: pick this one by its scene.
    click(c, "#sim-sheet .qr-item[data-scene='table_card']").await;
    wait_text(c, "#sim-chat", "你扫了公众号的二维码（场景 table_card）").await;
    click(c, "#sim-to-menu").await;

    // Location picker and scan from the menu.
    click(c, "#sim-menu-buttons .menu-btn:nth-child(2)").await;
    click(c, "#sim-submenu .submenu-item:nth-child(4)").await;
    wait_text(c, "#sim-sheet-title", "选择位置").await;
    click(c, "#sim-sheet .sheet-actions .btn-primary").await;
    wait_text(c, "#sim-chat .location-card", "人民广场").await;
    wait_text(c, "#sim-chat", "离你最近的门店").await;
    click(c, "#sim-menu-buttons .menu-btn:nth-child(2)").await;
    click(c, "#sim-submenu .submenu-item:nth-child(3)").await;
    wait_text(c, "#sim-sheet-title", "扫码").await;
    click(c, "#sim-sheet .sheet-actions .btn-primary").await;
    wait_text(c, "#sim-chat", "扫码结果").await;
    wait_text(c, "#sim-chat", "已收到扫码").await;
    shot(c, ctx, "simulator-replies", DESKTOP).await;

    // A view button opens the page inside the phone, as this follower: WeChat's consent page
    // of web authorization.
    click(c, "#sim-menu-buttons .menu-btn:nth-child(2)").await;
    click(c, "#sim-submenu .submenu-item:nth-child(2)").await;
    wait_for("the phone's browser", || async {
        css(c, "#sim-browser", "display").await != "none"
    })
    .await;
    assert!(
        attr(c, "#sim-browser-frame", "src")
            .await
            .contains(&format!("/followers/{openid}/browse?url=")),
        "pages open through the sandbox's browse-as-follower endpoint"
    );
    wait_for("the consent page in the phone", || async {
        js(
            c,
            "const d = document.querySelector('#sim-browser-frame').contentDocument; \
             return d && d.body ? d.body.innerText : ''",
        )
        .await
        .as_str()
        .is_some_and(|t| t.contains("允许"))
    })
    .await;
    shot(c, ctx, "simulator-h5", DESKTOP).await;
    click(c, "#sim-browser-close").await;
    set_callback(ctx, &app.app_id, &app.callback_url).await;
    stand_in.stop();

    // In English, every string of the page and its script from the catalogue.
    click(c, ".topbar .lang-switch button[value='en']").await;
    wait_text(c, ".page-head h1", "Phone simulator").await;
    wait_text(c, "#sim-total", "in all").await;
    wait_text(c, "#sim-list", "Following").await;
    shot(c, ctx, "simulator-en", DESKTOP).await;
    click(c, ".topbar .lang-switch button[value='zh-CN']").await;
    wait_text(c, ".page-head h1", "手机模拟器").await;
}

// ---------------------------------------------------------------------------------------------
// Followers (粉丝), segments (人群) and channel QR codes (渠道二维码)

/// The number in a followers list's "共 N 位粉丝".
/// A long list's total arrives after the page: wait for the number.
async fn match_total(c: &Client) -> i64 {
    let read = || async { text(c, "#match-total strong").await.replace(',', "") };
    wait_for("the list's total", || async {
        read().await.parse::<i64>().is_ok()
    })
    .await;
    let t = read().await;
    t.parse().unwrap_or_else(|_| panic!("a total, not {t:?}"))
}

/// The demo account has a menu, so the phone's input bar shows it first: once the menu has
/// arrived (the simulator reads it after choosing a follower), switch to the keyboard.
async fn show_keyboard(c: &Client) {
    // The menu of the follower the phone acts as: a menu still loading for a follower just
    // chosen would switch the bar back to the menu after our click.
    wait_for("the phone's menu", || async {
        js(
            c,
            "const who = document.querySelector(\".sim-follower[aria-pressed='true']\"); \
             const bar = document.querySelector('#sim-menu-bar'); \
             return !!who && bar.getAttribute('data-menu-of') === who.getAttribute('data-openid') \
               && document.querySelectorAll('#sim-menu-buttons .menu-btn').length > 0",
        )
        .await
            == json!(true)
    })
    .await;
    js(
        c,
        "const b = document.querySelector('#sim-to-input'); if (b && b.offsetParent) { b.click(); } return null;",
    )
    .await;
}

/// Chooses the option of `selector` whose text is `label`.
async fn select_label(c: &Client, selector: &str, label: &str) {
    find(c, selector).await;
    let value = js(
        c,
        &format!(
            "const o = [...document.querySelector({sel}).options].find(o => o.text.trim() === {label}); \
             return o ? o.value : null;",
            sel = json!(selector),
            label = json!(label)
        ),
    )
    .await;
    let value = value
        .as_str()
        .unwrap_or_else(|| panic!("{selector} has no option {label:?}"))
        .to_string();
    select(c, selector, &value).await;
}

/// Issue 5's story at desktop size: filter the followers and open one, tag them, build a
/// segment watching its live count, then create a channel QR code, scan it in the phone
/// simulator and see its welcome, its tag and its numbers.
async fn followers_journey(c: &Client, ctx: &Ctx) {
    goto(c, &ctx.url("/followers")).await;
    use_account(c, SIM_ACCOUNT).await;
    goto(c, &ctx.url("/followers")).await;
    wait_text(c, ".page-head h1", "粉丝").await;
    let following = match_total(c).await;
    assert!(following > 0, "the demo account has followers");

    // Two filters and a sort: regulars (常客) by newest follow.
    click(c, "#follower-filters details.filter-more summary").await;
    select_label(c, "#f-tag", "常客").await;
    select(c, "#f-sort", "newest").await;
    submit(c, "#follower-filters").await;
    wait_for("the filtered list", || async {
        current(c).await.contains("tag=")
    })
    .await;
    let regulars = match_total(c).await;
    assert!(
        regulars > 0 && regulars < following,
        "the tag narrows the list: {regulars} of {following}"
    );
    let tag_cells = js(
        c,
        "return [...document.querySelectorAll('#followers tbody tr')].map(r => r.textContent)",
    )
    .await;
    let rows = tag_cells.as_array().cloned().unwrap_or_default();
    assert!(!rows.is_empty(), "rows are listed");
    assert!(
        rows.iter()
            .all(|r| r.as_str().is_some_and(|r| r.contains("常客"))),
        "every row carries the tag: {rows:?}"
    );
    shot(c, ctx, "followers-filtered", DESKTOP).await;

    // Open the first, and give them a tag they do not have yet.
    click(c, "#followers tbody tr:first-child a.follower-name").await;
    find(c, "#follower-title").await;
    let openid = text(c, "#follower-openid").await;
    let new_tag = js(
        c,
        "const o = [...document.querySelector('#tag-add').options].find(o => o.value); \
         return o ? o.text.trim() : null;",
    )
    .await
    .as_str()
    .expect("a tag the follower does not have")
    .to_string();
    select_label(c, "#tag-add", &new_tag).await;
    click(c, "[data-add-tag]").await;
    wait_text(c, "#tag-chips", &new_tag).await;
    let tags = wait_until_tagged(ctx, &openid, &new_tag).await;
    assert!(tags.contains(&new_tag), "saved: {tags:?}");
    shot(c, ctx, "follower", DESKTOP).await;

    // A segment: following (the builder's first row) and tagged 常客; the live count agrees
    // with the list, and follows each change.
    goto(c, &ctx.url("/segments/new")).await;
    wait_text(c, "#segment-preview", "位粉丝符合条件").await;
    wait_text(c, "#preview-count", &following.to_string()).await;
    fill(c, "#name", "浏览器里建的常客").await;
    select(c, "#builder-add-field", "tags").await;
    click(c, "#builder-add").await;
    let regular_chip = js(
        c,
        "const l = [...document.querySelectorAll('.builder-row[data-field=\"tags\"] .chip-check')].find(l => l.textContent.trim() === '常客'); \
         if (l) { l.querySelector('input').click(); return true; } return false;",
    )
    .await;
    assert_eq!(regular_chip, json!(true), "the builder lists the tag 常客");
    wait_text(c, "#preview-count", &regulars.to_string()).await;
    assert!(
        prop(c, "#filter", "value").await.contains("\"tag_ids\""),
        "the JSON field follows the rows"
    );
    shot(c, ctx, "segment-builder", DESKTOP).await;
    submit(c, "#segment-form").await;
    wait_for("the saved segment", || async {
        current(c).await.contains("notice=segment_saved")
    })
    .await;
    goto(c, &ctx.url("/segments")).await;
    wait_text(c, ".table", "浏览器里建的常客").await;
    wait_text(c, ".table", &regulars.to_string()).await;
    shot(c, ctx, "segments", DESKTOP).await;

    // A channel code for a table card, with a tag and a welcome of its own.
    goto(c, &ctx.url("/channels/new")).await;
    fill(c, "#name", "二楼桌贴").await;
    click(c, "input[name=medium][value=table_card]").await;
    click(c, "input[name=kind][value=permanent]").await;
    fill(c, "#scene", "browser_card").await;
    select_label(c, "#tag_id", "新客").await;
    fill(c, "#welcome_text", "欢迎来到二楼！扫码送小饼干一份。").await;
    submit(c, "form.form").await;
    wait_for("the channel's page", || async {
        current(c).await.contains("notice=channel_created")
    })
    .await;
    let channel_page = current(c).await;
    shot(c, ctx, "channel", DESKTOP).await;

    // A new follower scans it in the simulator: the channel's welcome answers.
    goto(c, &ctx.url("/simulator")).await;
    wait_text(c, ".phone-title", SIM_ACCOUNT).await;
    wait_for("the simulator's follower", || async {
        current_simulator_openid(c).await.is_some()
    })
    .await;
    let earlier = current_simulator_openid(c)
        .await
        .expect("the simulator acts as a follower");
    click(c, "#sim-new").await;
    wait_text(c, "#sim-chat", "欢迎关注掌柜咖啡").await;
    wait_for("the new follower chosen", || async {
        current_simulator_openid(c)
            .await
            .is_some_and(|o| o != earlier)
    })
    .await;
    let scanner = current_simulator_openid(c)
        .await
        .expect("the simulator acts as the new follower");
    show_keyboard(c).await;
    click(c, "#sim-plus").await;
    click(c, "#sim-panel [data-tile='scan']").await;
    wait_text(c, "#sim-sheet .qr-list", "browser_card").await;
    click(c, "#sim-sheet .qr-item[data-scene='browser_card']").await;
    wait_text(c, "#sim-chat", "欢迎来到二楼！扫码送小饼干一份。").await;
    shot(c, ctx, "simulator-channel-scan", DESKTOP).await;
    // The simulator goes back to the follower it acted as before (the phone journey's).
    click(c, &format!(".sim-follower[data-openid='{earlier}']")).await;
    wait_for("the earlier follower again", || async {
        current_simulator_openid(c).await.as_deref() == Some(earlier.as_str())
    })
    .await;

    // The scan tagged them (here and at WeChat), and the code counts it.
    let tags = wait_until_tagged(ctx, &scanner, "新客").await;
    assert!(tags.iter().any(|t| t == "新客"), "tagged on scan: {tags:?}");
    goto(c, &ctx.url(&format!("/followers/{scanner}"))).await;
    wait_text(c, "#tag-chips", "新客").await;
    goto(c, &channel_page).await;
    wait_for("the scan in the code's numbers", || async {
        c.refresh().await.ok();
        text_now(c, ".stats .stat:nth-child(1) .stat-value")
            .await
            .trim()
            == "1"
    })
    .await;
    shot(c, ctx, "channel-stats", DESKTOP).await;
}

/// The names of a follower's tags, once `tag` is among them (jobs and projections apply
/// scans within a second).
async fn wait_until_tagged(ctx: &Ctx, openid: &str, tag: &str) -> Vec<String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let names = tag_names(ctx, openid).await;
        if names.iter().any(|n| n == tag) || Instant::now() > deadline {
            return names;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn tag_names(ctx: &Ctx, openid: &str) -> Vec<String> {
    zhanggui::on_pool!(&ctx.db, |p| sqlx::query_scalar::<_, String>(
        "SELECT t.name FROM follower_tags ft JOIN tags t ON t.id = ft.tag_id WHERE ft.openid = $1"
    )
    .bind(openid)
    .fetch_all(p)
    .await)
    .expect("read the follower's tags")
}

/// Points WeChat's record of the account's callback somewhere else.
async fn set_callback(ctx: &Ctx, app_id: &str, url: &str) {
    common::exec(
        &ctx.db,
        &format!("UPDATE sandbox_apps SET callback_url = '{url}' WHERE app_id = '{app_id}'"),
    )
    .await;
}

/// Uploads a picture as temporary media; returns its media_id.
async fn upload_image(ctx: &Ctx, token: &str) -> String {
    let png = sandbox::qrcode::qr_png("https://zhanggui.example/latte").expect("a PNG");
    let form = reqwest::multipart::Form::new().part(
        "media",
        reqwest::multipart::Part::bytes(png)
            .file_name("latte.png")
            .mime_str("image/png")
            .expect("mime"),
    );
    let res: Value = reqwest::Client::new()
        .post(ctx.url(&format!(
            "/sandbox/cgi-bin/media/upload?access_token={token}&type=image"
        )))
        .multipart(form)
        .send()
        .await
        .expect("upload media")
        .json()
        .await
        .expect("upload JSON");
    res["media_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no media_id: {res}"))
        .to_string()
}

/// A stand-in for the merchant's server: it opens WeChat's messages (signed and encrypted
/// per the account's mode) and answers each with a different kind of passive reply.
struct RichReplies {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl RichReplies {
    async fn start(app: sandbox::SandboxApp, image_media_id: String) -> RichReplies {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stand-in");
        let addr = listener.local_addr().expect("stand-in address");
        let router = axum::Router::new().route(
            "/wx",
            axum::routing::post(
                move |axum::extract::RawQuery(query): axum::extract::RawQuery,
                      body: axum::body::Bytes| {
                    let app = app.clone();
                    let image = image_media_id.clone();
                    async move { rich_reply(&app, &image, query.as_deref().unwrap_or(""), &body) }
                },
            ),
        );
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.ok();
        });
        RichReplies {
            url: format!("http://{addr}/wx"),
            task,
        }
    }

    fn stop(self) {
        self.task.abort();
    }
}

/// An SVG picture as a data URL: a cover for the stand-in's articles.
fn cover(from: &str, to: &str) -> String {
    format!(
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='500' height='250'%3E\
         %3Cdefs%3E%3ClinearGradient id='g' x1='0' y1='0' x2='1' y2='1'%3E\
         %3Cstop offset='0' stop-color='%23{from}'/%3E%3Cstop offset='1' stop-color='%23{to}'/%3E\
         %3C/linearGradient%3E%3C/defs%3E%3Crect width='500' height='250' fill='url(%23g)'/%3E\
         %3Ccircle cx='250' cy='125' r='60' fill='%23fff' fill-opacity='.35'/%3E%3C/svg%3E"
    )
}

fn rich_reply(app: &sandbox::SandboxApp, image: &str, query: &str, body: &[u8]) -> String {
    use wechat::message::Event;
    use wechat::{Article, MessageBody, ReplyBody, ReplyMessage};
    let mode = match app.security_mode.as_str() {
        "plaintext" => wechat::SecurityMode::Plaintext,
        "compatible" => wechat::SecurityMode::Compatible,
        _ => wechat::SecurityMode::Safe,
    };
    let endpoint = wechat::Endpoint::official_account(
        mode,
        &app.token,
        Some(&app.encoding_aes_key),
        &app.app_id,
    )
    .expect("the stand-in's endpoint");
    let query = wechat::CallbackQuery::parse(query);
    let Ok(inbound) = endpoint.open_post(&query, body) else {
        return "success".into();
    };
    let Ok(msg) = inbound.message() else {
        return "success".into();
    };
    let article = |title: &str, from: &str, to: &str| Article {
        title: title.to_string().into(),
        description: "秋天的第一杯，用本地桂花慢慢熬的糖浆。".into(),
        pic_url: cover(from, to).into(),
        url: "https://zhanggui.example/articles/osmanthus".into(),
    };
    let text = |s: &str| ReplyBody::Text {
        content: s.to_string().into(),
    };
    let reply = match &msg.body {
        MessageBody::Event(Event::Click { event_key }) if event_key == "TODAY" => ReplyBody::News {
            articles: vec![article(SIM_NEWS_TITLE, "c8a27a", "7a4b2a")],
        },
        MessageBody::Event(Event::Click { event_key }) if event_key == "NEW" => ReplyBody::News {
            articles: vec![
                article("秋季限定：桂花拿铁、栗子摩卡", "d9b38c", "8c5a3c"),
                article("手冲咖啡豆上新：云南保山", "9cc5a1", "3f7d4e"),
                article("会员日：周三第二杯半价", "f2c46d", "c9772b"),
            ],
        },
        MessageBody::Location(_) => text("离你最近的门店：人民广场店，步行 5 分钟。"),
        MessageBody::Event(Event::ScanCodeWaitMsg(_)) => text("已收到扫码结果，正在为你下单。"),
        MessageBody::Text(t) => match t.content.trim() {
            "音乐" => ReplyBody::Music {
                title: Some("店里的歌单".into()),
                description: Some("午后爵士".into()),
                music_url: Some("https://zhanggui.example/music.mp3".into()),
                hq_music_url: Some("https://zhanggui.example/music-hq.mp3".into()),
                thumb_media_id: image.to_string().into(),
            },
            "图片" => ReplyBody::Image {
                media_id: image.to_string().into(),
            },
            "视频" => ReplyBody::Video {
                media_id: image.to_string().into(),
                title: Some("拉花教学".into()),
                description: Some("三分钟学会郁金香".into()),
            },
            "门店" => text("门店地址见 <a href=\"https://zhanggui.example/stores\">门店列表</a>"),
            other => text(&format!("收到：{other}")),
        },
        _ => return "success".into(),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let xml = ReplyMessage::answering(&msg, now, reply).to_xml();
    endpoint
        .seal_reply(&inbound, &xml, now, "stand-in", &rand::random())
        .map(|sealed| sealed.into_owned())
        .unwrap_or_else(|_| "success".into())
}

/// At phone size the simulator fills the screen; the follower list comes on demand.
async fn phone_simulator_journey(c: &Client, ctx: &Ctx) {
    goto(c, &ctx.url("/simulator")).await;
    wait_text(c, ".page-head h1", "手机模拟器").await;
    use_account(c, SIM_ACCOUNT).await;
    goto(c, &ctx.url("/simulator")).await;
    // The same follower as before, and the chat of this browser session.
    wait_text(c, "#sim-chat", SIM_PUSHED).await;
    wait_text(c, "#sim-menu-buttons", "今日推荐").await;
    assert_eq!(
        css(c, "#sim-followers", "display").await,
        "none",
        "on a phone the chat has the screen"
    );
    let phone = rect(c, ".phone").await;
    assert!(
        phone.right - phone.left >= f64::from(PHONE.0) - 2.0,
        "the phone fills the width: {} to {}",
        phone.left,
        phone.right
    );
    phone_shot(c, ctx, "simulator").await;
    click(c, "#sim-menu-buttons .menu-btn:nth-child(2)").await;
    wait_text(c, "#sim-submenu", "会员中心").await;
    phone_shot(c, ctx, "simulator-submenu").await;
    click(c, "#sim-menu-buttons .menu-btn:nth-child(2)").await;
    click(c, "#sim-to-input").await;
    click(c, "#sim-plus").await;
    wait_text(c, "#sim-panel", "扫一扫").await;
    phone_shot(c, ctx, "simulator-panel").await;
    click(c, "#sim-panel [data-tile='scan']").await;
    wait_text(c, "#sim-sheet", "公众号的二维码").await;
    click(c, "#sim-sheet-close").await;
    click(c, "#sim-pick").await;
    wait_text(c, "#sim-list", "已关注").await;
    phone_shot(c, ctx, "simulator-followers").await;
    click(c, "#sim-list li:nth-child(2) .sim-follower").await;
    wait_for("the chat of the chosen follower", || async {
        css(c, ".phone", "display").await != "none"
    })
    .await;
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
    registry.register("datacube.refresh", |_| async {
        Err(JobError::permanent(
            "微信接口返回 45009：reach max api daily quota limit（接口调用次数已达今日上限）",
        ))
    });
    for job in [
        NewJob::new("reports.daily", json!({})),
        NewJob::new("datacube.refresh", json!({})).max_attempts(1),
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
