//! Tenancy and roles through the real HTTP surface: a user or API key of merchant A gets 404
//! or 403 (never data) on every endpoint that names merchant B's objects, lists show only A's
//! rows, every role gets exactly what `Role::allows` grants, and only the platform admin
//! reaches the platform pages.

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use zhanggui::on_pool;
use zhanggui::platform::auth::model::{Permission, Role};
use zhanggui::platform::auth::store as auth_store;
use zhanggui::platform::db::Db;
use zhanggui::platform::jobs::{JobFilter, JobStatus, store as job_store};

/// A request body.
#[derive(Clone, Debug)]
enum Body {
    None,
    Form(Vec<(String, String)>),
    Json(Value),
    Csv(&'static str),
    /// A multipart upload of a small PNG (the library's media).
    Png,
}

/// One endpoint call: the route template (as the router and the OpenAPI document spell it),
/// the concrete path, and the permission the route should ask for.
#[derive(Clone, Debug)]
struct Call {
    method: Method,
    template: &'static str,
    path: String,
    body: Body,
}

fn call(method: Method, template: &'static str, path: String, body: Body) -> Call {
    Call {
        method,
        template,
        path,
        body,
    }
}

fn form(fields: &[(&str, &str)]) -> Body {
    Body::Form(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

async fn send(who: &dyn Who, c: &Call) -> (StatusCode, String) {
    let req = who.request(c.method.clone(), &c.path);
    let req = match &c.body {
        Body::None => req,
        Body::Form(f) => req.form(f),
        Body::Json(v) => req.json(v),
        Body::Csv(text) => req.header("content-type", "text/csv").body(*text),
        Body::Png => {
            let png =
                zhanggui::library::gradient_png(8, 8, [0, 0, 0], [255, 255, 255]).expect("a PNG");
            let part = reqwest::multipart::Part::bytes(png)
                .file_name("x.png")
                .mime_str("image/png")
                .expect("mime");
            req.multipart(
                reqwest::multipart::Form::new()
                    .text("kind", "image")
                    .part("file", part),
            )
        }
    };
    read(req).await
}

/// Everything of one merchant that an endpoint could change, in one comparable string.
/// (`last_used_at` of keys and session times are left out: using a key or a session touches
/// them by design.)
async fn snapshot(db: &Db, merchant_id: i64) -> String {
    let merchant = zhanggui::merchants::get(db, merchant_id)
        .await
        .expect("merchant");
    let accounts = zhanggui::accounts::store::list(db, merchant_id, 0, 1000)
        .await
        .expect("accounts");
    let mut sandbox = vec![];
    let mut channels = vec![];
    for a in &accounts {
        channels.push(
            zhanggui::channels::store::list(db, merchant_id, a.id, true, 0, 1000)
                .await
                .expect("channels"),
        );
        sandbox.push(
            zhanggui::accounts::store::sandbox_app(db, &a.app_id)
                .await
                .expect("sandbox app"),
        );
    }
    let keys: Vec<_> = zhanggui::apikeys::store::list(db, merchant_id, 0, 1000)
        .await
        .expect("keys")
        .into_iter()
        .map(|k| (k.id, k.name, k.prefix, k.role, k.revoked_at))
        .collect();
    let staff = auth_store::staff_of(db, merchant_id).await.expect("staff");
    let mut users = vec![];
    for s in &staff {
        let u = auth_store::user_by_id(db, s.user_id)
            .await
            .expect("user")
            .expect("exists");
        users.push((u.id, u.password_hash, u.disabled, u.lang));
    }
    let jobs: Vec<_> = job_store::list(db, Some(merchant_id), &JobFilter::default(), 1000, None)
        .await
        .expect("jobs")
        .into_iter()
        .map(|j| (j.id, j.status, j.attempts, j.run_at, j.updated_at))
        .collect();
    let library = library_snapshot(db, merchant_id).await;
    let mut replies = vec![];
    for a in &accounts {
        replies.push((
            zhanggui::replies::store::list(db, merchant_id, a.id)
                .await
                .expect("reply rules"),
            zhanggui::replies::store::settings(db, a.id)
                .await
                .expect("reply settings"),
            zhanggui::flows::store::list(db, merchant_id, a.id)
                .await
                .expect("flows"),
        ));
    }
    let menus = zhanggui::menus::store::of_merchant(db, merchant_id)
        .await
        .expect("menus");
    format!(
        "{merchant:?}\n{accounts:?}\n{sandbox:?}\n{keys:?}\n{staff:?}\n{users:?}\n{jobs:?}\n{channels:?}\n{library}\n{replies:?}\n{menus:?}"
    )
}

/// A merchant's library items and articles.
async fn library_snapshot(db: &Db, merchant_id: i64) -> String {
    let filter = zhanggui::library::store::ListFilter { kind: "", q: "" };
    let items = zhanggui::library::store::list(db, merchant_id, &filter, 0, false, 1000)
        .await
        .expect("library");
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    let articles = zhanggui::library::store::articles(db, merchant_id, &ids)
        .await
        .expect("articles");
    format!("{items:?}\n{articles:?}")
}

/// Library items for the calls to act on: a text, an image, a news item of three articles
/// (edited, moved, removed) and a text to delete. (text, image, news, [articles], doomed)
async fn library_items(app: &TestApp, merchant: i64, tag: &str) -> (i64, i64, i64, [i64; 3], i64) {
    use zhanggui::library::model::{ArticleInput, NewsInput, TextInput};
    let now = app.now();
    let text = |title: String| TextInput {
        title,
        text: "文字".into(),
    };
    let t = zhanggui::library::create_text(&app.db, merchant, &text(format!("{tag}素材")), now)
        .await
        .expect("text")
        .id;
    let doomed =
        zhanggui::library::create_text(&app.db, merchant, &text(format!("{tag}待删")), now)
            .await
            .expect("text")
            .id;
    let png = zhanggui::library::gradient_png(8, 8, [0, 0, 0], [9, 9, 9]).expect("png");
    let image = zhanggui::library::upload(
        &app.db,
        merchant,
        &png,
        "i.png",
        &format!("{tag}图片"),
        None,
        now,
    )
    .await
    .expect("image")
    .id;
    let article = |n: usize| ArticleInput {
        title: format!("{tag}图文{n}"),
        ..Default::default()
    };
    let news = zhanggui::library::create_news(
        &app.db,
        merchant,
        &NewsInput {
            articles: vec![article(1), article(2), article(3)],
        },
        now,
    )
    .await
    .expect("news")
    .id;
    let a = zhanggui::library::store::articles(&app.db, merchant, &[news])
        .await
        .expect("articles");
    (t, image, news, [a[0].id, a[1].id, a[2].id], doomed)
}

/// Waits until none of the merchant's jobs is queued or running.
async fn jobs_settled(db: &Db, merchant_id: i64) {
    wait_until("the merchant's jobs settle", 20, || {
        let db = db.clone();
        async move {
            job_store::list(&db, Some(merchant_id), &JobFilter::default(), 1000, None)
                .await
                .expect("jobs")
                .iter()
                .all(|j| matches!(j.status, JobStatus::Dead | JobStatus::Done))
        }
    })
    .await;
}

/// Fails when `body` mentions any of `markers`.
fn assert_no_leak(body: &str, markers: &[String], what: &str) {
    for m in markers {
        assert!(!body.contains(m.as_str()), "{what} leaks {m:?}:\n{body}");
    }
}

/// One merchant with an account, an API key, staff and a dead job.
struct Tenant {
    id: i64,
    name: String,
    account_id: i64,
    account_name: String,
    app_id: String,
    owner: String,
    owner_key: String,
    tag_id: i64,
    operation: i64,
    key_id: i64,
    key_name: String,
    /// Active staff, and staff already disabled (for "enable").
    staff_id: i64,
    sleeper_id: i64,
    staff_names: Vec<String>,
    job_id: i64,
    job_kind: String,
    channel_id: i64,
    channel_name: String,
    segment_id: i64,
    segment_name: String,
    import_id: i64,
    /// Library items: a text, an image, a news item and its articles, a text to delete.
    lib: (i64, i64, i64, [i64; 3], i64),
    /// A keyword reply rule of the account, and a flow.
    rule_id: i64,
    rule_name: String,
    flow_id: i64,
    /// The account's default menu (published) and its button's name.
    menu_id: i64,
    menu_name: String,
}

/// A one-question flow of `account_id`.
async fn flow(app: &TestApp, merchant: i64, account_id: i64, name: &str) -> i64 {
    let input: zhanggui::flows::model::FlowInput = serde_json::from_value(json!({
        "name": name,
        "steps": [{"question": format!("{name}?"), "options": [{"label": "是"}, {"label": "否"}]}]
    }))
    .expect("flow input");
    zhanggui::flows::create(&app.db, merchant, account_id, &input, app.now())
        .await
        .expect("flow")
        .id
}

/// Every flow call naming the account `acc` and its flow `id`: console or API; the
/// deletion last.
fn flow_calls(acc: i64, id: i64, console: bool) -> Vec<Call> {
    let flow_json = json!({
        "name": "Hijacked",
        "steps": [{"question": "?", "options": [{"label": "x"}]}]
    });
    let flow_form = |name: &str| {
        form(&[
            ("account_id", &acc.to_string()),
            ("name", name),
            ("idle_minutes", "30"),
            ("enabled", "1"),
            ("s0_question", "?"),
            ("s0_o0_label", "x"),
        ])
    };
    if console {
        return vec![
            call(
                Method::GET,
                "/flows/{id}",
                format!("/flows/{id}"),
                Body::None,
            ),
            call(
                Method::POST,
                "/flows",
                "/flows".into(),
                flow_form("console new"),
            ),
            call(
                Method::POST,
                "/flows/{id}",
                format!("/flows/{id}"),
                flow_form("console edit"),
            ),
            call(
                Method::POST,
                "/flows/{id}/delete",
                format!("/flows/{id}/delete"),
                form(&[]),
            ),
        ];
    }
    let flows = format!("/api/v1/accounts/{acc}/flows");
    let one = format!("{flows}/{id}");
    vec![
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/flows",
            flows.clone(),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{account_id}/flows",
            flows,
            Body::Json(flow_json.clone()),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/flows/{flow_id}",
            one.clone(),
            Body::None,
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{account_id}/flows/{flow_id}",
            one.clone(),
            Body::Json(flow_json),
        ),
        call(
            Method::DELETE,
            "/api/v1/accounts/{account_id}/flows/{flow_id}",
            one,
            Body::None,
        ),
    ]
}

/// A keyword rule of `account_id` answering with a text.
async fn reply_rule(app: &TestApp, merchant: i64, account_id: i64, name: &str) -> i64 {
    let input = zhanggui::replies::model::RuleInput {
        name: name.to_string(),
        keywords: vec![zhanggui::replies::model::Keyword {
            text: name.to_string(),
            mode: zhanggui::replies::model::MatchMode::Exact,
        }],
        enabled: true,
        replies: vec![zhanggui::replies::model::ReplyItem::Text {
            text: format!("{name} answer"),
        }],
        ..Default::default()
    };
    zhanggui::replies::create(&app.db, merchant, account_id, &input, &[], app.now())
        .await
        .expect("reply rule")
        .id
}

/// Every reply-rule call naming the account `acc` and its rule `rule`: console pages and
/// forms (`console`) or the API. The rule's deletion comes last.
fn reply_calls(acc: i64, rule: i64, console: bool) -> Vec<Call> {
    let rule_form = |name: &str| {
        form(&[
            ("account_id", &acc.to_string()),
            ("kind", "keyword"),
            ("name", name),
            ("exact", name),
            ("reply_0_source", "text"),
            ("reply_0_text", "hijacked"),
            ("enabled", "1"),
        ])
    };
    let rule_json = json!({
        "name": "Hijacked", "keywords": [{"text": "hijacked", "mode": "exact"}],
        "replies": [{"type": "text", "text": "hijacked"}],
    });
    if console {
        return vec![
            call(
                Method::GET,
                "/replies/{id}",
                format!("/replies/{rule}"),
                Body::None,
            ),
            call(
                Method::POST,
                "/replies",
                "/replies".into(),
                rule_form("console new"),
            ),
            call(
                Method::POST,
                "/replies/settings",
                "/replies/settings".into(),
                form(&[
                    ("account_id", &acc.to_string()),
                    ("handoff_words", "人工"),
                    ("handoff_reply", "hijacked"),
                ]),
            ),
            call(
                Method::POST,
                "/replies/{id}",
                format!("/replies/{rule}"),
                rule_form("console edit"),
            ),
            call(
                Method::POST,
                "/replies/{id}/toggle",
                format!("/replies/{rule}/toggle"),
                form(&[]),
            ),
            call(
                Method::POST,
                "/replies/{id}/delete",
                format!("/replies/{rule}/delete"),
                form(&[]),
            ),
        ];
    }
    let rules = format!("/api/v1/accounts/{acc}/reply-rules");
    let one = format!("{rules}/{rule}");
    vec![
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/reply-rules",
            rules.clone(),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{account_id}/reply-rules",
            rules.clone(),
            Body::Json(rule_json.clone()),
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{account_id}/reply-rules/test",
            format!("{rules}/test"),
            Body::Json(json!({"text": "hijacked"})),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/reply-rules/unmatched",
            format!("{rules}/unmatched"),
            Body::None,
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/reply-settings",
            format!("/api/v1/accounts/{acc}/reply-settings"),
            Body::None,
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{account_id}/reply-settings",
            format!("/api/v1/accounts/{acc}/reply-settings"),
            Body::Json(json!({"courtesy_hourly": true, "handoff_words": [], "handoff_reply": ""})),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/reply-rules/{rule_id}",
            one.clone(),
            Body::None,
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{account_id}/reply-rules/{rule_id}",
            one.clone(),
            Body::Json(rule_json),
        ),
        call(
            Method::DELETE,
            "/api/v1/accounts/{account_id}/reply-rules/{rule_id}",
            one,
            Body::None,
        ),
    ]
}

/// A menu of `account_id` with one click button named `name` (personalized for `tag_id`
/// when given); published when `publish`.
async fn menu(
    app: &TestApp,
    merchant: i64,
    account_id: i64,
    tag_id: Option<i64>,
    name: &str,
    publish: bool,
) -> i64 {
    let input = zhanggui::menus::MenuInput {
        tag_id,
        button: vec![zhanggui::menus::model::MenuButton {
            name: name.to_string(),
            kind: "click".into(),
            ..Default::default()
        }],
    };
    let id = zhanggui::menus::create(&app.db, merchant, account_id, &input, app.now())
        .await
        .expect("create menu")
        .id;
    if publish {
        zhanggui::menus::publish(app.state(), merchant, account_id, id)
            .await
            .expect("publish menu");
    }
    id
}

/// The account's default menu, published (made the first time).
async fn default_menu(app: &TestApp, merchant: i64, account_id: i64) -> i64 {
    let menus = zhanggui::menus::list(&app.db, merchant, account_id)
        .await
        .expect("menus");
    match menus.iter().find(|m| m.tag_id.is_none()) {
        Some(m) => m.id,
        None => menu(app, merchant, account_id, None, "默认", true).await,
    }
}

/// A channel QR code of `account_id`, made at the sandbox.
async fn channel(app: &TestApp, merchant: i64, account_id: i64, name: &str) -> i64 {
    let account = zhanggui::accounts::get(&app.db, merchant, account_id)
        .await
        .expect("read")
        .expect("account");
    let input = zhanggui::channels::model::ChannelInput {
        name: name.to_string(),
        kind: "permanent".into(),
        medium: "poster".into(),
        ..Default::default()
    };
    zhanggui::channels::create(app.state(), merchant, &account, &input)
        .await
        .expect("create channel")
        .id
}

impl Tenant {
    async fn create(app: &TestApp, tag: &str) -> Tenant {
        let name = format!("{tag}商户");
        let id = app.merchant(&name).await;
        let account_name = format!("{tag}公众号");
        let account = app.account(id, &account_name).await;
        let owner = format!("{}_owner", tag.to_lowercase());
        app.user(id, &owner, Role::Owner).await;
        let staff_name = format!("{}_staff", tag.to_lowercase());
        let staff_id = app.user(id, &staff_name, Role::Clerk).await;
        let sleeper_name = format!("{}_sleeper", tag.to_lowercase());
        let sleeper_id = app.user(id, &sleeper_name, Role::Agent).await;
        auth_store::set_user_disabled(&app.db, id, sleeper_id, true)
            .await
            .expect("disable");
        let key_name = format!("{tag}密钥");
        let (key_id, owner_key) = app.api_key(id, &key_name, Role::Owner).await;
        let job_kind = format!("{}.secret_kind", tag.to_lowercase());
        let job_id = app.dead_job(id, &job_kind).await;
        let channel_name = format!("{tag}渠道海报");
        let channel_id = channel(app, id, account.id, &channel_name).await;
        let tag_id = zhanggui::tags::create(app.state(), id, account.id, &format!("{tag}标签"))
            .await
            .expect("tag")
            .id;
        let operation = zhanggui::tags::start_bulk(
            app.state(),
            id,
            account.id,
            tag_id,
            zhanggui::tags::model::BulkAction::Tag,
            &json!({}),
        )
        .await
        .expect("operation");
        jobs_settled(&app.db, id).await;
        let segment_name = format!("{tag}人群");
        let (segment_id, import_id) = segment_and_import(app, id, account.id, &segment_name).await;
        let lib = library_items(app, id, tag).await;
        let rule_name = format!("{tag}回复规则");
        let rule_id = reply_rule(app, id, account.id, &rule_name).await;
        let flow_id = flow(app, id, account.id, &format!("{tag}问答")).await;
        let menu_name = format!("{tag}菜单");
        let menu_id = menu(app, id, account.id, None, &menu_name, true).await;
        Tenant {
            lib,
            rule_id,
            flow_id,
            rule_name,
            menu_id,
            menu_name,
            segment_id,
            segment_name,
            import_id,
            tag_id,
            operation,
            id,
            name,
            account_id: account.id,
            account_name,
            app_id: account.app_id,
            owner,
            owner_key,
            key_id,
            key_name,
            staff_id,
            sleeper_id,
            staff_names: vec![staff_name, sleeper_name],
            job_id,
            job_kind,
            channel_id,
            channel_name,
        }
    }

    /// Strings that only this merchant's data contains.
    async fn markers(&self, app: &TestApp) -> Vec<String> {
        let row = zhanggui::accounts::store::get_any(&app.db, self.account_id)
            .await
            .expect("read")
            .expect("account");
        let mut m = vec![
            self.name.clone(),
            self.account_name.clone(),
            self.app_id.clone(),
            row.callback_key,
            row.app_secret,
            row.token,
            row.encoding_aes_key,
            self.owner.clone(),
            self.key_name.clone(),
            self.job_kind.clone(),
            self.channel_name.clone(),
            self.segment_name.clone(),
            self.rule_name.clone(),
            format!("{}问答", self.name.trim_end_matches("商户")),
            self.menu_name.clone(),
            format!("{}素材", self.name.trim_end_matches("商户")),
            format!("{}图文1", self.name.trim_end_matches("商户")),
        ];
        m.extend(self.staff_names.iter().cloned());
        m.extend(self.owner_key.get(..9).map(str::to_string));
        m
    }
}

/// Every call that names one of `b`'s objects.
fn calls_on(b: &Tenant) -> Vec<Call> {
    let acc = b.account_id;
    let update = [
        ("name", "Hijacked"),
        ("kind", "service"),
        ("verified", "on"),
        ("app_id", "wx00000000000000aa"),
        ("app_secret", "0123456789abcdef0123456789abcdef"),
        ("security_mode", "plaintext"),
    ];
    let update_json = json!({
        "name": "Hijacked", "kind": "service", "verified": true,
        "app_id": "wx00000000000000aa", "app_secret": "0123456789abcdef0123456789abcdef",
        "security_mode": "plaintext"
    });
    let mid = b.menu_id;
    let menu_json = json!([{"name": "Hijacked", "type": "click"}]).to_string();
    let menu_calls = vec![
        call(
            Method::GET,
            "/menus/{id}",
            format!("/menus/{mid}"),
            Body::None,
        ),
        call(
            Method::POST,
            "/menus/{id}",
            format!("/menus/{mid}"),
            form(&[("buttons", &menu_json)]),
        ),
        call(
            Method::POST,
            "/menus/{id}/publish",
            format!("/menus/{mid}/publish"),
            form(&[]),
        ),
        call(
            Method::POST,
            "/menus/{id}/delete",
            format!("/menus/{mid}/delete"),
            form(&[]),
        ),
        call(
            Method::POST,
            "/menus",
            "/menus".into(),
            form(&[
                ("account_id", &acc.to_string()),
                ("tag_id", &b.tag_id.to_string()),
                ("buttons", &menu_json),
            ]),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/menus",
            format!("/api/v1/accounts/{acc}/menus"),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{account_id}/menus",
            format!("/api/v1/accounts/{acc}/menus"),
            Body::Json(
                json!({"tag_id": b.tag_id, "button": [{"name": "Hijacked", "type": "click"}]}),
            ),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/menus/live",
            format!("/api/v1/accounts/{acc}/menus/live"),
            Body::None,
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/menus/{menu_id}",
            format!("/api/v1/accounts/{acc}/menus/{mid}"),
            Body::None,
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{account_id}/menus/{menu_id}",
            format!("/api/v1/accounts/{acc}/menus/{mid}"),
            Body::Json(json!({"button": [{"name": "Hijacked", "type": "click"}]})),
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{account_id}/menus/{menu_id}/publish",
            format!("/api/v1/accounts/{acc}/menus/{mid}/publish"),
            Body::None,
        ),
        call(
            Method::DELETE,
            "/api/v1/accounts/{account_id}/menus/{menu_id}",
            format!("/api/v1/accounts/{acc}/menus/{mid}"),
            Body::None,
        ),
    ];
    let ch = b.channel_id;
    let channel_calls = vec![
        call(
            Method::GET,
            "/channels/{id}",
            format!("/channels/{ch}"),
            Body::None,
        ),
        call(
            Method::GET,
            "/channels/{id}/edit",
            format!("/channels/{ch}/edit"),
            Body::None,
        ),
        call(
            Method::POST,
            "/channels/{id}",
            format!("/channels/{ch}"),
            form(&[("name", "Hijacked"), ("medium", "poster")]),
        ),
        call(
            Method::POST,
            "/channels/{id}/archive",
            format!("/channels/{ch}/archive"),
            form(&[]),
        ),
        call(
            Method::GET,
            "/channels/{id}/qrcode.png",
            format!("/channels/{ch}/qrcode.png"),
            Body::None,
        ),
        call(
            Method::GET,
            "/channels/{id}/poster.svg",
            format!("/channels/{ch}/poster.svg"),
            Body::None,
        ),
        call(
            Method::POST,
            "/channels",
            "/channels".into(),
            form(&[
                ("account_id", &acc.to_string()),
                ("name", "Hijacked"),
                ("kind", "permanent"),
                ("medium", "poster"),
            ]),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/channels",
            format!("/api/v1/accounts/{acc}/channels"),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{account_id}/channels",
            format!("/api/v1/accounts/{acc}/channels"),
            Body::Json(json!({"name": "Hijacked", "kind": "permanent", "medium": "poster"})),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/channels/{channel_id}",
            format!("/api/v1/accounts/{acc}/channels/{ch}"),
            Body::None,
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{account_id}/channels/{channel_id}",
            format!("/api/v1/accounts/{acc}/channels/{ch}"),
            Body::Json(json!({"name": "Hijacked", "medium": "poster"})),
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{account_id}/channels/{channel_id}/archive",
            format!("/api/v1/accounts/{acc}/channels/{ch}/archive"),
            Body::None,
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/channels/{channel_id}/qrcode.png",
            format!("/api/v1/accounts/{acc}/channels/{ch}/qrcode.png"),
            Body::None,
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{account_id}/channels/{channel_id}/poster.svg",
            format!("/api/v1/accounts/{acc}/channels/{ch}/poster.svg"),
            Body::None,
        ),
    ];
    let mut calls = vec![
        call(
            Method::GET,
            "/accounts/{id}",
            format!("/accounts/{acc}"),
            Body::None,
        ),
        call(
            Method::GET,
            "/accounts/{id}/edit",
            format!("/accounts/{acc}/edit"),
            Body::None,
        ),
        call(
            Method::POST,
            "/accounts/{id}",
            format!("/accounts/{acc}"),
            form(&update),
        ),
        call(
            Method::POST,
            "/accounts/{id}/test",
            format!("/accounts/{acc}/test"),
            form(&[]),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}",
            format!("/api/v1/accounts/{acc}"),
            Body::None,
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{id}",
            format!("/api/v1/accounts/{acc}"),
            Body::Json(update_json),
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/test-connection",
            format!("/api/v1/accounts/{acc}/test-connection"),
            Body::None,
        ),
        call(
            Method::POST,
            "/accounts/{id}/replies",
            format!("/accounts/{acc}/replies"),
            form(&[
                ("welcome_text", "Hijacked"),
                ("default_reply_text", "Hijacked"),
            ]),
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{id}/replies",
            format!("/api/v1/accounts/{acc}/replies"),
            Body::Json(json!({"welcome_text": "Hijacked", "default_reply_text": "Hijacked"})),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/messages",
            format!("/api/v1/accounts/{acc}/messages"),
            Body::None,
        ),
        call(
            Method::GET,
            "/followers/{openid}",
            format!("/followers/oAnyone?account={acc}"),
            Body::None,
        ),
        call(
            Method::POST,
            "/followers/{openid}/profile",
            "/followers/oAnyone/profile".into(),
            form(&[("account_id", &acc.to_string()), ("city", "Hijacked")]),
        ),
        call(
            Method::POST,
            "/followers/{openid}/handoff/clear",
            "/followers/oAnyone/handoff/clear".into(),
            form(&[("account_id", &acc.to_string())]),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/followers",
            format!("/api/v1/accounts/{acc}/followers"),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/followers/search",
            format!("/api/v1/accounts/{acc}/followers/search"),
            Body::Json(json!({})),
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/followers/count",
            format!("/api/v1/accounts/{acc}/followers/count"),
            Body::Json(json!({})),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/followers/{openid}",
            format!("/api/v1/accounts/{acc}/followers/oAnyone"),
            Body::None,
        ),
        call(
            Method::PATCH,
            "/api/v1/accounts/{id}/followers/{openid}",
            format!("/api/v1/accounts/{acc}/followers/oAnyone"),
            Body::Json(json!({"city": "Hijacked"})),
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{id}/followers/{openid}/blacklist",
            format!("/api/v1/accounts/{acc}/followers/oAnyone/blacklist"),
            Body::Json(json!({"blacklisted": true})),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/followers/{openid}/timeline",
            format!("/api/v1/accounts/{acc}/followers/oAnyone/timeline"),
            Body::None,
        ),
        call(
            Method::POST,
            "/api-keys/{id}/revoke",
            format!("/api-keys/{}/revoke", b.key_id),
            form(&[]),
        ),
        call(
            Method::DELETE,
            "/api/v1/api-keys/{id}",
            format!("/api/v1/api-keys/{}", b.key_id),
            Body::None,
        ),
        call(
            Method::POST,
            "/staff/{user_id}/disable",
            format!("/staff/{}/disable", b.staff_id),
            form(&[]),
        ),
        call(
            Method::POST,
            "/staff/{user_id}/enable",
            format!("/staff/{}/enable", b.sleeper_id),
            form(&[]),
        ),
        call(
            Method::PATCH,
            "/api/v1/staff/{user_id}",
            format!("/api/v1/staff/{}", b.staff_id),
            Body::Json(json!({"disabled": true})),
        ),
        call(
            Method::PATCH,
            "/api/v1/staff/{user_id}",
            format!("/api/v1/staff/{}", b.sleeper_id),
            Body::Json(json!({"disabled": false})),
        ),
        call(
            Method::POST,
            "/jobs/{id}/retry",
            format!("/jobs/{}/retry", b.job_id),
            form(&[]),
        ),
        call(
            Method::POST,
            "/api/v1/jobs/{id}/retry",
            format!("/api/v1/jobs/{}/retry", b.job_id),
            Body::None,
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/tags",
            format!("/api/v1/accounts/{acc}/tags"),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/tags",
            format!("/api/v1/accounts/{acc}/tags"),
            Body::Json(json!({"name": "Hijacked"})),
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{id}/tags/{tag_id}",
            format!("/api/v1/accounts/{acc}/tags/{}", b.tag_id),
            Body::Json(json!({"name": "Hijacked"})),
        ),
        call(
            Method::DELETE,
            "/api/v1/accounts/{id}/tags/{tag_id}",
            format!("/api/v1/accounts/{acc}/tags/{}", b.tag_id),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/tags/pull",
            format!("/api/v1/accounts/{acc}/tags/pull"),
            Body::None,
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{id}/followers/{openid}/tags",
            format!("/api/v1/accounts/{acc}/followers/oSomeone/tags"),
            Body::Json(json!({"tag_ids": [b.tag_id]})),
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/tags/{tag_id}/members",
            format!("/api/v1/accounts/{acc}/tags/{}/members", b.tag_id),
            Body::Json(json!({"openids": ["oSomeone"]})),
        ),
        call(
            Method::DELETE,
            "/api/v1/accounts/{id}/tags/{tag_id}/members",
            format!("/api/v1/accounts/{acc}/tags/{}/members", b.tag_id),
            Body::Json(json!({"openids": ["oSomeone"]})),
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/tags/{tag_id}/bulk",
            format!("/api/v1/accounts/{acc}/tags/{}/bulk", b.tag_id),
            Body::Json(json!({"action": "untag", "filter": {}})),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/tag-operations/{op_id}",
            format!("/api/v1/accounts/{acc}/tag-operations/{}", b.operation),
            Body::None,
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/followers/sync",
            format!("/api/v1/accounts/{acc}/followers/sync"),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/followers/sync",
            format!("/api/v1/accounts/{acc}/followers/sync"),
            Body::None,
        ),
        call(
            Method::POST,
            "/tags/{id}/rename",
            format!("/tags/{}/rename", b.tag_id),
            form(&[("account_id", &acc.to_string()), ("name", "Hijacked")]),
        ),
        call(
            Method::POST,
            "/tags/{id}/delete",
            format!("/tags/{}/delete", b.tag_id),
            form(&[("account_id", &acc.to_string())]),
        ),
        call(
            Method::POST,
            "/tags/pull",
            "/tags/pull".into(),
            form(&[("account_id", &acc.to_string())]),
        ),
        call(
            Method::POST,
            "/tags/bulk",
            "/tags/bulk".into(),
            form(&[
                ("account_id", &acc.to_string()),
                ("tag_id", &b.tag_id.to_string()),
                ("action", "tag"),
            ]),
        ),
        call(
            Method::POST,
            "/followers/sync",
            "/followers/sync".into(),
            form(&[("account_id", &acc.to_string())]),
        ),
        call(
            Method::POST,
            "/switch",
            "/switch".into(),
            form(&[("merchant_id", &b.id.to_string())]),
        ),
        call(
            Method::POST,
            "/switch",
            "/switch".into(),
            form(&[("account_id", &acc.to_string())]),
        ),
    ];
    calls.extend(channel_calls);
    calls.extend(menu_calls);
    calls.extend(segment_and_csv_calls(b));
    calls.extend(library_calls(b.lib, acc, true));
    calls.extend(library_calls(b.lib, acc, false));
    calls.extend(reply_calls(acc, b.rule_id, true));
    calls.extend(reply_calls(acc, b.rule_id, false));
    calls.extend(flow_calls(acc, b.flow_id, true));
    calls.extend(flow_calls(acc, b.flow_id, false));
    calls
}

/// Every library call naming the items `lib` (text, image, news, articles, doomed):
/// console pages and forms (`console`) and the API.
fn library_calls(lib: (i64, i64, i64, [i64; 3], i64), acc: i64, console: bool) -> Vec<Call> {
    let (t, img, n, [a1, a2, a3], doomed) = lib;
    let mut calls = vec![];
    if console {
        calls.extend([
            call(
                Method::POST,
                "/library/{id}/wechat",
                format!("/library/{img}/wechat"),
                form(&[("account_id", &acc.to_string())]),
            ),
            call(
                Method::GET,
                "/library/{id}",
                format!("/library/{n}"),
                Body::None,
            ),
            call(
                Method::GET,
                "/library/{id}",
                format!("/library/{img}"),
                Body::None,
            ),
            call(
                Method::GET,
                "/library/{id}/edit",
                format!("/library/{t}/edit"),
                Body::None,
            ),
            call(
                Method::GET,
                "/library/{id}/articles/new",
                format!("/library/{n}/articles/new"),
                Body::None,
            ),
            call(
                Method::GET,
                "/library/{id}/articles/{aid}/edit",
                format!("/library/{n}/articles/{a1}/edit"),
                Body::None,
            ),
            call(
                Method::POST,
                "/library/{id}",
                format!("/library/{t}"),
                form(&[("title", "Hijacked"), ("text", "Hijacked")]),
            ),
            call(
                Method::POST,
                "/library/{id}",
                format!("/library/{img}"),
                form(&[("title", "Hijacked")]),
            ),
            call(
                Method::POST,
                "/library/{id}/articles",
                format!("/library/{n}/articles"),
                form(&[("title", "Hijacked")]),
            ),
            call(
                Method::POST,
                "/library/{id}/articles/{aid}",
                format!("/library/{n}/articles/{a1}"),
                form(&[("title", "Hijacked")]),
            ),
            call(
                Method::POST,
                "/library/{id}/articles/{aid}/move",
                format!("/library/{n}/articles/{a2}/move"),
                form(&[("dir", "up")]),
            ),
            call(
                Method::POST,
                "/library/{id}/articles/{aid}/delete",
                format!("/library/{n}/articles/{a3}/delete"),
                form(&[]),
            ),
            call(
                Method::POST,
                "/library/{id}/delete",
                format!("/library/{doomed}/delete"),
                form(&[]),
            ),
        ]);
    } else {
        calls.extend([
            call(
                Method::POST,
                "/api/v1/library/items/{id}/wechat",
                format!("/api/v1/library/items/{img}/wechat"),
                Body::Json(json!({"account_id": acc})),
            ),
            call(
                Method::GET,
                "/api/v1/library/items/{id}",
                format!("/api/v1/library/items/{n}"),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/library/items/{id}/usages",
                format!("/api/v1/library/items/{img}/usages"),
                Body::None,
            ),
            call(
                Method::PUT,
                "/api/v1/library/texts/{id}",
                format!("/api/v1/library/texts/{t}"),
                Body::Json(json!({"title": "Hijacked", "text": "Hijacked"})),
            ),
            call(
                Method::PUT,
                "/api/v1/library/media/{id}",
                format!("/api/v1/library/media/{img}"),
                Body::Json(json!({"title": "Hijacked"})),
            ),
            call(
                Method::PUT,
                "/api/v1/library/news/{id}",
                format!("/api/v1/library/news/{n}"),
                Body::Json(json!({"articles": [{"id": a1, "title": "Hijacked"}]})),
            ),
            call(
                Method::DELETE,
                "/api/v1/library/items/{id}",
                format!("/api/v1/library/items/{doomed}"),
                Body::None,
            ),
        ]);
    }
    calls
}

/// Every call on `b`'s segments, imports and follower export.
fn segment_and_csv_calls(b: &Tenant) -> Vec<Call> {
    let acc = b.account_id;
    let sid = b.segment_id;
    let iid = b.import_id;
    vec![
        call(
            Method::GET,
            "/api/v1/accounts/{id}/segments",
            format!("/api/v1/accounts/{acc}/segments"),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/segments",
            format!("/api/v1/accounts/{acc}/segments"),
            Body::Json(json!({"name": "Hijacked", "filter": {}})),
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/segments/preview",
            format!("/api/v1/accounts/{acc}/segments/preview"),
            Body::Json(json!({"filter": {}})),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/segments/{sid}",
            format!("/api/v1/accounts/{acc}/segments/{sid}"),
            Body::None,
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/segments/{sid}/count",
            format!("/api/v1/accounts/{acc}/segments/{sid}/count"),
            Body::None,
        ),
        call(
            Method::PUT,
            "/api/v1/accounts/{id}/segments/{sid}",
            format!("/api/v1/accounts/{acc}/segments/{sid}"),
            Body::Json(json!({"name": "Hijacked", "filter": {}})),
        ),
        call(
            Method::DELETE,
            "/api/v1/accounts/{id}/segments/{sid}",
            format!("/api/v1/accounts/{acc}/segments/{sid}"),
            Body::None,
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/followers/export.csv",
            format!("/api/v1/accounts/{acc}/followers/export.csv"),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/followers/imports",
            format!("/api/v1/accounts/{acc}/followers/imports"),
            Body::Csv("openid,remark\r\nnobody,x\r\n"),
        ),
        call(
            Method::GET,
            "/api/v1/accounts/{id}/followers/imports/{iid}",
            format!("/api/v1/accounts/{acc}/followers/imports/{iid}"),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/accounts/{id}/followers/imports/{iid}/apply",
            format!("/api/v1/accounts/{acc}/followers/imports/{iid}/apply"),
            Body::None,
        ),
        call(
            Method::GET,
            "/segments/{id}",
            format!("/segments/{sid}"),
            Body::None,
        ),
        call(
            Method::POST,
            "/segments/{id}",
            format!("/segments/{sid}"),
            form(&[("name", "Hijacked"), ("filter", "{}")]),
        ),
        call(
            Method::POST,
            "/segments/{id}/delete",
            format!("/segments/{sid}/delete"),
            form(&[]),
        ),
        call(
            Method::GET,
            "/followers/export.csv",
            format!("/followers/export.csv?account={acc}"),
            Body::None,
        ),
        call(
            Method::GET,
            "/followers/import/{id}",
            format!("/followers/import/{iid}"),
            Body::None,
        ),
        call(
            Method::POST,
            "/followers/import/{id}/apply",
            format!("/followers/import/{iid}/apply"),
            form(&[]),
        ),
    ]
}

#[tokio::test]
async fn merchant_a_never_reaches_merchant_bs_objects() {
    let app = TestApp::spawn().await;
    let a = Tenant::create(&app, "Alpha").await;
    let b = Tenant::create(&app, "Bravo").await;
    let b_markers = b.markers(&app).await;
    let a_session = app.sign_in(&a.owner).await;
    let a_key = app.key(&a.owner_key);
    // A's operator key too: a lesser role must not find a way round either.
    let (_, op_key) = app.api_key(a.id, "Alpha operator", Role::Operator).await;
    let a_operator = app.key(&op_key);
    let b_before = snapshot(&app.db, b.id).await;
    let a_before = snapshot(&app.db, a.id).await;
    let session_context = "SELECT COUNT(*) FROM sessions WHERE merchant_id IS NULL \
                           AND account_id IS NULL";
    let contexts_before = app.count(session_context).await;

    let callers: [(&str, &dyn Who); 3] = [
        ("A's owner (session)", &a_session),
        ("A's owner key", &a_key),
        ("A's operator key", &a_operator),
    ];
    let calls = calls_on(&b);
    for (who_name, who) in callers {
        for c in &calls {
            let (status, body) = send(who, c).await;
            let what = format!("{who_name}: {} {}", c.method, c.path);
            assert!(
                status == StatusCode::NOT_FOUND || status == StatusCode::FORBIDDEN,
                "{what} answered {status}: {body}"
            );
            if who_name == "A's owner (session)" {
                // Owners may do everything in A: for them B's objects simply do not exist.
                assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {body}");
            }
            assert_no_leak(&body, &b_markers, &what);
        }
    }
    assert_eq!(snapshot(&app.db, b.id).await, b_before, "B is unchanged");
    assert_eq!(snapshot(&app.db, a.id).await, a_before, "A is unchanged");
    assert_eq!(
        app.count(session_context).await,
        contexts_before,
        "no session switched to B's merchant or account"
    );
    // A can still work in A after all that.
    let (status, page) = a_session.get(&format!("/accounts/{}", a.account_id)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&a.account_name));
    app.stop().await;
}

#[tokio::test]
async fn lists_show_only_the_callers_merchant() {
    let app = TestApp::spawn().await;
    let a = Tenant::create(&app, "Alpha").await;
    let b = Tenant::create(&app, "Bravo").await;
    let b_markers = b.markers(&app).await;
    let a_session = app.sign_in(&a.owner).await;
    let a_key = app.key(&a.owner_key);

    let a_accounts: BTreeSet<i64> = [a.account_id].into();
    let a_keys: BTreeSet<i64> = zhanggui::apikeys::store::list(&app.db, a.id, 0, 100)
        .await
        .expect("keys")
        .iter()
        .map(|k| k.id)
        .collect();
    let a_staff: BTreeSet<i64> = auth_store::staff_of(&app.db, a.id)
        .await
        .expect("staff")
        .iter()
        .map(|s| s.user_id)
        .collect();
    // The dead job made for the test, and the jobs of A's tag operation.
    let a_jobs: BTreeSet<i64> = zhanggui::on_pool!(&app.db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT id FROM jobs WHERE merchant_id = $1"
    )
    .bind(a.id)
    .fetch_all(p)
    .await)
    .expect("A's jobs")
    .into_iter()
    .collect();
    assert!(a_jobs.contains(&a.job_id));

    let callers: [(&str, &dyn Who); 2] = [("A's session", &a_session), ("A's key", &a_key)];
    for (who_name, who) in callers {
        for (path, id_field, expected) in [
            ("/api/v1/accounts", "id", &a_accounts),
            ("/api/v1/api-keys", "id", &a_keys),
            ("/api/v1/staff", "user_id", &a_staff),
            ("/api/v1/jobs", "id", &a_jobs),
        ] {
            let (status, body) = read(who.request(Method::GET, path)).await;
            assert_eq!(status, StatusCode::OK, "{who_name} {path}: {body}");
            assert_no_leak(&body, &b_markers, &format!("{who_name} {path}"));
            let page: Value = serde_json::from_str(&body).expect("JSON");
            let ids: BTreeSet<i64> = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|i| i[id_field].as_i64().expect("id"))
                .collect();
            assert_eq!(&ids, expected, "{who_name} {path}");
        }
        let (status, body) = read(who.request(Method::GET, "/api/v1/dashboard")).await;
        assert_eq!(status, StatusCode::OK);
        assert_no_leak(&body, &b_markers, &format!("{who_name} dashboard"));
        let d: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(d["merchant_id"], a.id);
        assert_eq!(d["merchant_name"], a.name.as_str());
        assert_eq!(d["accounts"], 1);
        assert_eq!(d["staff"], 3);
        assert_eq!(d["api_keys"], 1);
        assert_eq!(d["jobs_dead"], 1);
    }

    for path in [
        "/",
        "/accounts",
        "/staff",
        "/api-keys",
        "/jobs",
        "/jobs?status=dead",
        "/library",
        "/library?q=Bravo",
        "/menus",
        "/menus/live",
    ] {
        let (status, page) = a_session.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {page}");
        assert_no_leak(&page, &b_markers, path);
        assert!(page.contains(&a.name), "{path} shows A's own merchant");
    }
    let (_, page) = a_session.get("/accounts").await;
    assert!(page.contains(&a.account_name));
    let (_, page) = a_session.get("/jobs?status=dead").await;
    assert!(page.contains(&a.job_kind));
    let (_, page) = a_session.get("/staff").await;
    assert!(page.contains("alpha_staff"));

    // The platform admin, by contrast, sees every merchant.
    app.platform_admin("root").await;
    let admin = app.sign_in("root").await;
    let (status, page) = admin.get("/platform/merchants").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&a.name) && page.contains(&b.name));
    app.stop().await;
}

/// The permission each merchant endpoint asks for: the table the routes must enforce.
fn permission_of(method: &Method, template: &str) -> Permission {
    use Permission::*;
    match (method.as_str(), template) {
        ("GET", "/" | "/api/v1/dashboard") => ViewDashboard,
        ("GET", "/accounts" | "/accounts/{id}" | "/api/v1/accounts" | "/api/v1/accounts/{id}") => {
            ViewAccounts
        }
        ("POST", "/accounts/{id}/test" | "/api/v1/accounts/{id}/test-connection") => ViewAccounts,
        ("GET", "/accounts/new" | "/accounts/{id}/edit") => ManageAccounts,
        ("POST", "/accounts" | "/accounts/{id}" | "/api/v1/accounts") => ManageAccounts,
        ("PUT", "/api/v1/accounts/{id}" | "/api/v1/accounts/{id}/replies") => ManageAccounts,
        ("POST", "/accounts/{id}/replies") => ManageAccounts,
        ("GET", "/messages" | "/api/v1/accounts/{id}/messages") => ViewMessages,
        ("GET", "/staff" | "/api/v1/staff") => ManageStaff,
        ("POST", "/staff" | "/staff/{user_id}/disable" | "/staff/{user_id}/enable") => ManageStaff,
        ("POST", "/api/v1/staff") | ("PATCH", "/api/v1/staff/{user_id}") => ManageStaff,
        ("GET", "/api-keys" | "/api/v1/api-keys") => ManageApiKeys,
        ("POST", "/api-keys" | "/api-keys/{id}/revoke" | "/api/v1/api-keys") => ManageApiKeys,
        ("DELETE", "/api/v1/api-keys/{id}") => ManageApiKeys,
        ("GET", "/wechat-sandbox") | ("POST", "/wechat-sandbox/check") => ViewAccounts,
        ("POST", "/wechat-sandbox/faults" | "/wechat-sandbox/expire-tokens") => ManageAccounts,
        (
            "GET",
            "/followers"
            | "/followers/{openid}"
            | "/api/v1/accounts/{id}/followers"
            | "/api/v1/accounts/{id}/followers/{openid}"
            | "/api/v1/accounts/{id}/followers/{openid}/timeline",
        )
        | ("POST", "/api/v1/accounts/{id}/followers/search")
        | ("POST", "/api/v1/accounts/{id}/followers/count") => ViewFollowers,
        (
            "POST",
            "/followers/{openid}/remark"
            | "/followers/{openid}/profile"
            | "/followers/{openid}/blacklist",
        )
        | ("PATCH", "/api/v1/accounts/{id}/followers/{openid}")
        | ("PUT", "/api/v1/accounts/{id}/followers/{openid}/blacklist") => ManageFollowers,
        ("POST", "/followers/{openid}/handoff/clear") => ViewMessages,
        ("GET", "/jobs" | "/api/v1/jobs") => ViewJobs,
        (
            "GET",
            "/channels"
            | "/channels/{id}"
            | "/channels/{id}/qrcode.png"
            | "/channels/{id}/poster.svg"
            | "/api/v1/accounts/{account_id}/channels"
            | "/api/v1/accounts/{account_id}/channels/{channel_id}"
            | "/api/v1/accounts/{account_id}/channels/{channel_id}/qrcode.png"
            | "/api/v1/accounts/{account_id}/channels/{channel_id}/poster.svg",
        ) => ViewFollowers,
        ("GET", "/channels/new" | "/channels/{id}/edit") => ManageFollowers,
        (
            "POST",
            "/channels"
            | "/channels/{id}"
            | "/channels/{id}/archive"
            | "/api/v1/accounts/{account_id}/channels"
            | "/api/v1/accounts/{account_id}/channels/{channel_id}/archive",
        ) => ManageFollowers,
        ("PUT", "/api/v1/accounts/{account_id}/channels/{channel_id}") => ManageFollowers,
        (
            "GET",
            "/menus"
            | "/menus/live"
            | "/menus/{id}"
            | "/api/v1/accounts/{account_id}/menus"
            | "/api/v1/accounts/{account_id}/menus/live"
            | "/api/v1/accounts/{account_id}/menus/{menu_id}",
        ) => ViewReplies,
        ("GET", "/menus/new") => ManageReplies,
        (
            "POST",
            "/menus"
            | "/menus/{id}"
            | "/menus/{id}/publish"
            | "/menus/{id}/delete"
            | "/api/v1/accounts/{account_id}/menus"
            | "/api/v1/accounts/{account_id}/menus/{menu_id}/publish",
        ) => ManageReplies,
        ("PUT" | "DELETE", "/api/v1/accounts/{account_id}/menus/{menu_id}") => ManageReplies,
        ("POST", "/jobs/{id}/retry" | "/api/v1/jobs/{id}/retry") => ManageJobs,
        ("GET", "/tags" | "/api/v1/accounts/{id}/tags") => ViewTags,
        ("GET", "/api/v1/accounts/{id}/tag-operations/{op_id}") => ViewTags,
        (
            "POST",
            "/tags" | "/tags/pull" | "/tags/bulk" | "/tags/{id}/rename" | "/tags/{id}/delete",
        ) => ManageTags,
        ("POST", "/api/v1/accounts/{id}/tags" | "/api/v1/accounts/{id}/tags/pull") => ManageTags,
        ("PUT" | "DELETE", "/api/v1/accounts/{id}/tags/{tag_id}") => ManageTags,
        ("POST" | "DELETE", "/api/v1/accounts/{id}/tags/{tag_id}/members") => ManageTags,
        ("POST", "/api/v1/accounts/{id}/tags/{tag_id}/bulk") => ManageTags,
        ("PUT", "/api/v1/accounts/{id}/followers/{openid}/tags") => ManageTags,
        ("GET", "/api/v1/accounts/{id}/followers/sync") => ViewFollowers,
        ("POST", "/api/v1/accounts/{id}/followers/sync" | "/followers/sync") => ManageFollowers,
        (
            "GET",
            "/segments"
            | "/segments/{id}"
            | "/api/v1/accounts/{id}/segments"
            | "/api/v1/accounts/{id}/segments/{sid}"
            | "/api/v1/accounts/{id}/segments/{sid}/count",
        )
        | ("POST", "/api/v1/accounts/{id}/segments/preview") => ViewFollowers,
        ("GET", "/segments/new" | "/followers/export.csv" | "/followers/import")
        | ("GET", "/followers/import/{id}" | "/api/v1/accounts/{id}/followers/export.csv")
        | ("GET", "/api/v1/accounts/{id}/followers/imports/{iid}") => ManageFollowers,
        (
            "POST",
            "/segments"
            | "/segments/{id}"
            | "/segments/{id}/delete"
            | "/followers/import/{id}/apply"
            | "/api/v1/accounts/{id}/segments"
            | "/api/v1/accounts/{id}/followers/imports"
            | "/api/v1/accounts/{id}/followers/imports/{iid}/apply",
        ) => ManageFollowers,
        ("PUT" | "DELETE", "/api/v1/accounts/{id}/segments/{sid}") => ManageFollowers,
        (
            "GET",
            "/library"
            | "/library/{id}"
            | "/api/v1/library/items"
            | "/api/v1/library/items/{id}"
            | "/api/v1/library/items/{id}/usages",
        ) => ViewLibrary,
        (
            "GET",
            "/library/new"
            | "/library/{id}/edit"
            | "/library/{id}/articles/new"
            | "/library/{id}/articles/{aid}/edit",
        ) => ManageLibrary,
        (
            "POST",
            "/library/texts"
            | "/library/media"
            | "/library/news"
            | "/library/{id}"
            | "/library/{id}/delete"
            | "/library/{id}/wechat"
            | "/api/v1/library/items/{id}/wechat"
            | "/library/{id}/articles"
            | "/library/{id}/articles/{aid}"
            | "/library/{id}/articles/{aid}/delete"
            | "/library/{id}/articles/{aid}/move"
            | "/api/v1/library/texts"
            | "/api/v1/library/media"
            | "/api/v1/library/news",
        ) => ManageLibrary,
        (
            "PUT",
            "/api/v1/library/texts/{id}"
            | "/api/v1/library/media/{id}"
            | "/api/v1/library/news/{id}",
        )
        | ("DELETE", "/api/v1/library/items/{id}") => ManageLibrary,
        (
            "GET",
            "/replies"
            | "/replies/{id}"
            | "/api/v1/accounts/{account_id}/reply-rules"
            | "/api/v1/accounts/{account_id}/reply-rules/{rule_id}"
            | "/api/v1/accounts/{account_id}/reply-rules/unmatched"
            | "/api/v1/accounts/{account_id}/reply-settings",
        )
        | ("POST", "/api/v1/accounts/{account_id}/reply-rules/test") => ViewReplies,
        ("GET", "/replies/new")
        | (
            "POST",
            "/replies"
            | "/replies/settings"
            | "/replies/{id}"
            | "/replies/{id}/toggle"
            | "/replies/{id}/delete"
            | "/api/v1/accounts/{account_id}/reply-rules",
        )
        | (
            "PUT",
            "/api/v1/accounts/{account_id}/reply-rules/{rule_id}"
            | "/api/v1/accounts/{account_id}/reply-settings",
        )
        | ("DELETE", "/api/v1/accounts/{account_id}/reply-rules/{rule_id}") => ManageReplies,
        (
            "GET",
            "/flows"
            | "/flows/{id}"
            | "/api/v1/accounts/{account_id}/flows"
            | "/api/v1/accounts/{account_id}/flows/{flow_id}",
        ) => ViewReplies,
        ("GET", "/flows/new")
        | (
            "POST",
            "/flows" | "/flows/{id}" | "/flows/{id}/delete" | "/api/v1/accounts/{account_id}/flows",
        )
        | ("PUT" | "DELETE", "/api/v1/accounts/{account_id}/flows/{flow_id}") => ManageReplies,
        other => panic!("no permission listed for {other:?}"),
    }
}

/// Objects an iteration of the role matrix may change.
struct Victims {
    account: i64,
    app_id: String,
    key_console: i64,
    key_api: i64,
    staff_console: i64,
    staff_api: i64,
    job_console: i64,
    job_api: i64,
    tag: String,
    channel_console: i64,
    channel_api: i64,
    /// Tags of the account: renamed, deleted, and a bulk operation's.
    tag_renamed: i64,
    tag_deleted_console: i64,
    tag_deleted_api: i64,
    tag_members: i64,
    operation: i64,
    /// A sandbox follower of the account.
    openid: String,
    /// A second account, whose followers the console syncs (the API syncs the first: one
    /// run at a time per account).
    sync_account: i64,
    segment_console: i64,
    segment_api: i64,
    import_console: i64,
    import_api: i64,
    /// Library items for the console's calls and the API's.
    lib_console: (i64, i64, i64, [i64; 3], i64),
    lib_api: (i64, i64, i64, [i64; 3], i64),
    /// Reply rules for the console's calls and the API's.
    rule_console: i64,
    rule_api: i64,
    flow_console: i64,
    flow_api: i64,
    /// Personalized menus (on tags of their own) for the console's calls and the API's,
    /// and tags with no menu yet to create one for.
    menu_console: i64,
    menu_api: i64,
    menu_tag_console: i64,
    menu_tag_api: i64,
}

/// A segment and a checked import of the account, for the role matrix to act on.
async fn segment_and_import(app: &TestApp, merchant: i64, account: i64, name: &str) -> (i64, i64) {
    let input = zhanggui::segments::model::SegmentInput {
        name: name.to_string(),
        filter: Default::default(),
    };
    let segment = zhanggui::segments::create(&app.db, merchant, account, &input, app.now())
        .await
        .expect("segment")
        .row
        .id;
    let import = zhanggui::followers::csv::upload(
        &app.db,
        merchant,
        account,
        "v.csv",
        "openid,remark\r\nnobody,x\r\n",
        app.now(),
    )
    .await
    .expect("store")
    .expect("a valid file");
    (segment, import)
}

impl Victims {
    async fn create(app: &TestApp, merchant: i64, account: i64, app_id: &str, tag: &str) -> Self {
        // A sync or bulk operation of the previous round must be over before this one.
        jobs_settled(&app.db, merchant).await;
        let state = app.state();
        let new_tag = |suffix: &str| {
            let name = format!("{tag}{suffix}");
            async move {
                zhanggui::tags::create(state, merchant, account, &name)
                    .await
                    .expect("victim tag")
                    .id
            }
        };
        let tag_renamed = new_tag("r").await;
        let tag_deleted_console = new_tag("dc").await;
        let tag_deleted_api = new_tag("da").await;
        let tag_members = new_tag("m").await;
        default_menu(app, merchant, account).await;
        let menu_console = menu(
            app,
            merchant,
            account,
            Some(new_tag("mc").await),
            "c",
            false,
        )
        .await;
        let menu_api = menu(
            app,
            merchant,
            account,
            Some(new_tag("ma").await),
            "a",
            false,
        )
        .await;
        let menu_tag_console = new_tag("nc").await;
        let menu_tag_api = new_tag("na").await;
        let operation = zhanggui::tags::start_bulk(
            state,
            merchant,
            account,
            tag_members,
            zhanggui::tags::model::BulkAction::Tag,
            &json!({}),
        )
        .await
        .expect("victim operation");
        let (_, made) = read_json(
            app.client()
                .post(app.url(&format!("/sandbox/api/apps/{app_id}/followers")))
                .json(&json!({"count": 1})),
        )
        .await;
        let openid = made["openids"][0].as_str().expect("openid").to_string();
        let sync_account = app.account(merchant, &format!("sync {tag}")).await.id;
        jobs_settled(&app.db, merchant).await;
        // A follower for the follower endpoints (the calls below change nothing at WeChat).
        app.exec(&format!(
            "INSERT INTO followers (merchant_id, account_id, openid, first_seen_at, \
             last_interaction_at, subscribed) VALUES ({merchant}, {account}, 'oVictim_{tag}', 1, 1, TRUE)"
        ))
        .await;
        Victims {
            menu_console,
            menu_api,
            menu_tag_console,
            menu_tag_api,
            tag_renamed,
            tag_deleted_console,
            tag_deleted_api,
            tag_members,
            operation,
            openid,
            sync_account,
            account,
            app_id: app_id.to_string(),
            key_console: app.api_key(merchant, "victim", Role::Clerk).await.0,
            key_api: app.api_key(merchant, "victim", Role::Clerk).await.0,
            staff_console: app
                .user(merchant, &format!("victim_c_{tag}"), Role::Clerk)
                .await,
            staff_api: app
                .user(merchant, &format!("victim_a_{tag}"), Role::Clerk)
                .await,
            job_console: app.dead_job(merchant, "victim.kind").await,
            job_api: app.dead_job(merchant, "victim.kind").await,
            segment_console: segment_and_import(app, merchant, account, &format!("c{tag}"))
                .await
                .0,
            segment_api: segment_and_import(app, merchant, account, &format!("a{tag}"))
                .await
                .0,
            import_console: segment_and_import(app, merchant, account, &format!("ic{tag}"))
                .await
                .1,
            import_api: segment_and_import(app, merchant, account, &format!("ia{tag}"))
                .await
                .1,
            lib_console: library_items(app, merchant, &format!("c{tag}")).await,
            lib_api: library_items(app, merchant, &format!("a{tag}")).await,
            rule_console: reply_rule(app, merchant, account, &format!("rc{tag}")).await,
            rule_api: reply_rule(app, merchant, account, &format!("ra{tag}")).await,
            flow_console: flow(app, merchant, account, &format!("fc{tag}")).await,
            flow_api: flow(app, merchant, account, &format!("fa{tag}")).await,
            tag: tag.to_string(),
            channel_console: channel(app, merchant, account, &format!("victim c {tag}")).await,
            channel_api: channel(app, merchant, account, &format!("victim a {tag}")).await,
        }
    }

    fn menu_api_calls(&self) -> Vec<Call> {
        let acc = self.account;
        let m = self.menu_api;
        vec![
            call(
                Method::GET,
                "/api/v1/accounts/{account_id}/menus",
                format!("/api/v1/accounts/{acc}/menus"),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{account_id}/menus",
                format!("/api/v1/accounts/{acc}/menus"),
                Body::Json(json!({"tag_id": self.menu_tag_api,
                                  "button": [{"name": "新建", "type": "click"}]})),
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{account_id}/menus/{menu_id}",
                format!("/api/v1/accounts/{acc}/menus/{m}"),
                Body::None,
            ),
            call(
                Method::PUT,
                "/api/v1/accounts/{account_id}/menus/{menu_id}",
                format!("/api/v1/accounts/{acc}/menus/{m}"),
                Body::Json(json!({"button": [{"name": "改过", "type": "click"}]})),
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{account_id}/menus/{menu_id}/publish",
                format!("/api/v1/accounts/{acc}/menus/{m}/publish"),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{account_id}/menus/live",
                format!("/api/v1/accounts/{acc}/menus/live"),
                Body::None,
            ),
            call(
                Method::DELETE,
                "/api/v1/accounts/{account_id}/menus/{menu_id}",
                format!("/api/v1/accounts/{acc}/menus/{m}"),
                Body::None,
            ),
        ]
    }

    fn menu_console_calls(&self) -> Vec<Call> {
        let m = self.menu_console;
        let buttons = json!([{"name": "控制台", "type": "click"}]).to_string();
        vec![
            call(Method::GET, "/menus", "/menus".into(), Body::None),
            call(Method::GET, "/menus/new", "/menus/new".into(), Body::None),
            call(Method::GET, "/menus/live", "/menus/live".into(), Body::None),
            call(
                Method::GET,
                "/menus/{id}",
                format!("/menus/{m}"),
                Body::None,
            ),
            call(
                Method::POST,
                "/menus",
                "/menus".into(),
                form(&[
                    ("account_id", &self.account.to_string()),
                    ("tag_id", &self.menu_tag_console.to_string()),
                    ("buttons", &buttons),
                ]),
            ),
            call(
                Method::POST,
                "/menus/{id}",
                format!("/menus/{m}"),
                form(&[("buttons", &buttons)]),
            ),
            call(
                Method::POST,
                "/menus/{id}/publish",
                format!("/menus/{m}/publish"),
                form(&[]),
            ),
            call(
                Method::POST,
                "/menus/{id}/delete",
                format!("/menus/{m}/delete"),
                form(&[]),
            ),
        ]
    }

    fn api_calls(&self) -> Vec<Call> {
        let mut calls = self.api_calls_before_library();
        calls.extend(self.menu_api_calls());
        calls.extend(library_calls(self.lib_api, self.account, false));
        calls.extend(reply_calls(self.account, self.rule_api, false));
        calls.extend(flow_calls(self.account, self.flow_api, false));
        calls.extend([
            call(
                Method::GET,
                "/api/v1/library/items",
                "/api/v1/library/items".into(),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/library/texts",
                "/api/v1/library/texts".into(),
                Body::Json(json!({"title": "api", "text": "api"})),
            ),
            call(
                Method::POST,
                "/api/v1/library/media",
                "/api/v1/library/media".into(),
                Body::Png,
            ),
            call(
                Method::POST,
                "/api/v1/library/news",
                "/api/v1/library/news".into(),
                Body::Json(json!({"articles": [{"title": "api"}]})),
            ),
        ]);
        calls
    }

    fn api_calls_before_library(&self) -> Vec<Call> {
        let acc = self.account;
        let tag = &self.tag;
        vec![
            call(
                Method::GET,
                "/api/v1/dashboard",
                "/api/v1/dashboard".into(),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/accounts",
                "/api/v1/accounts".into(),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts",
                "/api/v1/accounts".into(),
                Body::Json(json!({
                    "name": format!("api {tag}"), "kind": "subscription", "app_id": "",
                    "security_mode": "plaintext", "sandbox": true
                })),
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}",
                format!("/api/v1/accounts/{acc}"),
                Body::None,
            ),
            call(
                Method::PUT,
                "/api/v1/accounts/{id}",
                format!("/api/v1/accounts/{acc}"),
                Body::Json(json!({
                    "name": "Alpha 服务号", "kind": "service", "verified": true,
                    "app_id": self.app_id, "security_mode": "safe"
                })),
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/test-connection",
                format!("/api/v1/accounts/{acc}/test-connection"),
                Body::None,
            ),
            call(
                Method::PUT,
                "/api/v1/accounts/{id}/replies",
                format!("/api/v1/accounts/{acc}/replies"),
                Body::Json(json!({"welcome_text": "欢迎", "default_reply_text": "收到"})),
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/messages",
                format!("/api/v1/accounts/{acc}/messages"),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/staff",
                "/api/v1/staff".into(),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/staff",
                "/api/v1/staff".into(),
                Body::Json(json!({
                    "username": format!("new_api_{tag}"), "password": PASSWORD, "role": "clerk"
                })),
            ),
            call(
                Method::PATCH,
                "/api/v1/staff/{user_id}",
                format!("/api/v1/staff/{}", self.staff_api),
                Body::Json(json!({"disabled": true})),
            ),
            call(
                Method::GET,
                "/api/v1/api-keys",
                "/api/v1/api-keys".into(),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/api-keys",
                "/api/v1/api-keys".into(),
                Body::Json(json!({"name": format!("key {tag}"), "role": "clerk"})),
            ),
            call(
                Method::DELETE,
                "/api/v1/api-keys/{id}",
                format!("/api/v1/api-keys/{}", self.key_api),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/followers",
                format!("/api/v1/accounts/{acc}/followers?status=all"),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/followers/search",
                format!("/api/v1/accounts/{acc}/followers/search"),
                Body::Json(json!({"filter": {"conditions": []}})),
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/followers/count",
                format!("/api/v1/accounts/{acc}/followers/count"),
                Body::Json(json!({"filter": {"conditions": []}})),
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/followers/{openid}",
                format!("/api/v1/accounts/{acc}/followers/oVictim_{tag}"),
                Body::None,
            ),
            call(
                Method::PATCH,
                "/api/v1/accounts/{id}/followers/{openid}",
                format!("/api/v1/accounts/{acc}/followers/oVictim_{tag}"),
                Body::Json(json!({"city": "杭州"})),
            ),
            call(
                Method::PUT,
                "/api/v1/accounts/{id}/followers/{openid}/blacklist",
                format!("/api/v1/accounts/{acc}/followers/oVictim_{tag}/blacklist"),
                Body::Json(json!({"blacklisted": false})),
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/followers/{openid}/timeline",
                format!("/api/v1/accounts/{acc}/followers/oVictim_{tag}/timeline"),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/jobs",
                "/api/v1/jobs".into(),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/jobs/{id}/retry",
                format!("/api/v1/jobs/{}/retry", self.job_api),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{account_id}/channels",
                format!("/api/v1/accounts/{acc}/channels"),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{account_id}/channels",
                format!("/api/v1/accounts/{acc}/channels"),
                Body::Json(
                    json!({"name": format!("api {tag}"), "kind": "permanent", "medium": "link"}),
                ),
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{account_id}/channels/{channel_id}",
                format!("/api/v1/accounts/{acc}/channels/{}", self.channel_api),
                Body::None,
            ),
            call(
                Method::PUT,
                "/api/v1/accounts/{account_id}/channels/{channel_id}",
                format!("/api/v1/accounts/{acc}/channels/{}", self.channel_api),
                Body::Json(json!({"name": format!("api {tag} renamed"), "medium": "poster"})),
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{account_id}/channels/{channel_id}/qrcode.png",
                format!(
                    "/api/v1/accounts/{acc}/channels/{}/qrcode.png",
                    self.channel_api
                ),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{account_id}/channels/{channel_id}/poster.svg",
                format!(
                    "/api/v1/accounts/{acc}/channels/{}/poster.svg",
                    self.channel_api
                ),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{account_id}/channels/{channel_id}/archive",
                format!(
                    "/api/v1/accounts/{acc}/channels/{}/archive",
                    self.channel_api
                ),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/tags",
                format!("/api/v1/accounts/{acc}/tags"),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/tags",
                format!("/api/v1/accounts/{acc}/tags"),
                Body::Json(json!({"name": format!("{tag}new")})),
            ),
            call(
                Method::PUT,
                "/api/v1/accounts/{id}/tags/{tag_id}",
                format!("/api/v1/accounts/{acc}/tags/{}", self.tag_renamed),
                Body::Json(json!({"name": format!("{tag}ren")})),
            ),
            call(
                Method::DELETE,
                "/api/v1/accounts/{id}/tags/{tag_id}",
                format!("/api/v1/accounts/{acc}/tags/{}", self.tag_deleted_api),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/tags/pull",
                format!("/api/v1/accounts/{acc}/tags/pull"),
                Body::None,
            ),
            call(
                Method::PUT,
                "/api/v1/accounts/{id}/followers/{openid}/tags",
                format!("/api/v1/accounts/{acc}/followers/{}/tags", self.openid),
                Body::Json(json!({"tag_ids": [self.tag_renamed]})),
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/tags/{tag_id}/members",
                format!("/api/v1/accounts/{acc}/tags/{}/members", self.tag_members),
                Body::Json(json!({"openids": [self.openid]})),
            ),
            call(
                Method::DELETE,
                "/api/v1/accounts/{id}/tags/{tag_id}/members",
                format!("/api/v1/accounts/{acc}/tags/{}/members", self.tag_members),
                Body::Json(json!({"openids": [self.openid]})),
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/tags/{tag_id}/bulk",
                format!("/api/v1/accounts/{acc}/tags/{}/bulk", self.tag_members),
                Body::Json(json!({"action": "untag", "filter": {}})),
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/tag-operations/{op_id}",
                format!("/api/v1/accounts/{acc}/tag-operations/{}", self.operation),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/followers/sync",
                format!("/api/v1/accounts/{acc}/followers/sync"),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/followers/sync",
                format!("/api/v1/accounts/{acc}/followers/sync"),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/segments",
                format!("/api/v1/accounts/{acc}/segments"),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/segments",
                format!("/api/v1/accounts/{acc}/segments"),
                Body::Json(json!({"name": format!("api seg {tag}"), "filter": {}})),
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/segments/preview",
                format!("/api/v1/accounts/{acc}/segments/preview"),
                Body::Json(json!({"filter": {}})),
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/segments/{sid}",
                format!("/api/v1/accounts/{acc}/segments/{}", self.segment_api),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/segments/{sid}/count",
                format!("/api/v1/accounts/{acc}/segments/{}/count", self.segment_api),
                Body::None,
            ),
            call(
                Method::PUT,
                "/api/v1/accounts/{id}/segments/{sid}",
                format!("/api/v1/accounts/{acc}/segments/{}", self.segment_api),
                Body::Json(json!({"name": format!("renamed {tag}"), "filter": {}})),
            ),
            call(
                Method::DELETE,
                "/api/v1/accounts/{id}/segments/{sid}",
                format!("/api/v1/accounts/{acc}/segments/{}", self.segment_api),
                Body::None,
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/followers/export.csv",
                format!("/api/v1/accounts/{acc}/followers/export.csv"),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/followers/imports",
                format!("/api/v1/accounts/{acc}/followers/imports"),
                Body::Csv("openid,remark\r\nnobody,x\r\n"),
            ),
            call(
                Method::GET,
                "/api/v1/accounts/{id}/followers/imports/{iid}",
                format!(
                    "/api/v1/accounts/{acc}/followers/imports/{}",
                    self.import_api
                ),
                Body::None,
            ),
            call(
                Method::POST,
                "/api/v1/accounts/{id}/followers/imports/{iid}/apply",
                format!(
                    "/api/v1/accounts/{acc}/followers/imports/{}/apply",
                    self.import_api
                ),
                Body::None,
            ),
        ]
    }

    fn console_calls(&self) -> Vec<Call> {
        let mut calls = self.console_calls_before_library();
        calls.extend(self.menu_console_calls());
        calls.extend(library_calls(self.lib_console, self.account, true));
        calls.extend(reply_calls(self.account, self.rule_console, true));
        calls.extend(flow_calls(self.account, self.flow_console, true));
        calls.extend([
            call(Method::GET, "/flows", "/flows".into(), Body::None),
            call(Method::GET, "/flows/new", "/flows/new".into(), Body::None),
        ]);
        calls.extend([
            call(Method::GET, "/replies", "/replies".into(), Body::None),
            call(
                Method::GET,
                "/replies/new",
                "/replies/new".into(),
                Body::None,
            ),
        ]);
        calls.extend([
            call(Method::GET, "/library", "/library".into(), Body::None),
            call(
                Method::GET,
                "/library/new",
                "/library/new?kind=text".into(),
                Body::None,
            ),
            call(
                Method::POST,
                "/library/texts",
                "/library/texts".into(),
                form(&[("title", "console"), ("text", "console")]),
            ),
            call(
                Method::POST,
                "/library/media",
                "/library/media".into(),
                Body::Png,
            ),
            call(
                Method::POST,
                "/library/news",
                "/library/news".into(),
                form(&[("title", "console")]),
            ),
        ]);
        calls
    }

    fn console_calls_before_library(&self) -> Vec<Call> {
        let acc = self.account;
        let tag = &self.tag;
        let new_name = format!("console {tag}");
        let new_user = format!("new_console_{tag}");
        vec![
            call(Method::GET, "/", "/".into(), Body::None),
            call(Method::GET, "/accounts", "/accounts".into(), Body::None),
            call(Method::GET, "/followers", "/followers".into(), Body::None),
            call(
                Method::GET,
                "/followers/{openid}",
                format!("/followers/oVictim_{tag}?account={acc}"),
                Body::None,
            ),
            call(
                Method::POST,
                "/followers/{openid}/profile",
                format!("/followers/oVictim_{tag}/profile"),
                form(&[("account_id", &acc.to_string()), ("city", "杭州")]),
            ),
            call(
                Method::POST,
                "/followers/{openid}/remark",
                format!("/followers/oVictim_{tag}/remark"),
                form(&[("account_id", &acc.to_string()), ("remark", "")]),
            ),
            call(
                Method::POST,
                "/followers/{openid}/blacklist",
                format!("/followers/oVictim_{tag}/blacklist"),
                form(&[("account_id", &acc.to_string()), ("blacklisted", "0")]),
            ),
            call(
                Method::POST,
                "/followers/{openid}/handoff/clear",
                format!("/followers/oVictim_{tag}/handoff/clear"),
                form(&[("account_id", &acc.to_string())]),
            ),
            call(
                Method::GET,
                "/accounts/new",
                "/accounts/new".into(),
                Body::None,
            ),
            call(
                Method::POST,
                "/accounts",
                "/accounts".into(),
                form(&[
                    ("name", &new_name),
                    ("kind", "subscription"),
                    ("security_mode", "plaintext"),
                    ("sandbox", "on"),
                ]),
            ),
            call(
                Method::GET,
                "/accounts/{id}",
                format!("/accounts/{acc}"),
                Body::None,
            ),
            call(
                Method::GET,
                "/accounts/{id}/edit",
                format!("/accounts/{acc}/edit"),
                Body::None,
            ),
            call(
                Method::POST,
                "/accounts/{id}",
                format!("/accounts/{acc}"),
                form(&[
                    ("name", "Alpha 服务号"),
                    ("kind", "service"),
                    ("verified", "on"),
                    ("app_id", &self.app_id),
                    ("security_mode", "safe"),
                ]),
            ),
            call(
                Method::POST,
                "/accounts/{id}/test",
                format!("/accounts/{acc}/test"),
                form(&[]),
            ),
            call(Method::GET, "/staff", "/staff".into(), Body::None),
            call(
                Method::POST,
                "/staff",
                "/staff".into(),
                form(&[
                    ("username", &new_user),
                    ("password", PASSWORD),
                    ("role", "clerk"),
                ]),
            ),
            call(
                Method::POST,
                "/staff/{user_id}/disable",
                format!("/staff/{}/disable", self.staff_console),
                form(&[]),
            ),
            call(
                Method::POST,
                "/staff/{user_id}/enable",
                format!("/staff/{}/enable", self.staff_console),
                form(&[]),
            ),
            call(Method::GET, "/api-keys", "/api-keys".into(), Body::None),
            call(
                Method::POST,
                "/api-keys",
                "/api-keys".into(),
                form(&[("name", &format!("key {tag}")), ("role", "clerk")]),
            ),
            call(
                Method::POST,
                "/api-keys/{id}/revoke",
                format!("/api-keys/{}/revoke", self.key_console),
                form(&[]),
            ),
            call(
                Method::GET,
                "/wechat-sandbox",
                "/wechat-sandbox".into(),
                Body::None,
            ),
            call(
                Method::POST,
                "/wechat-sandbox/check",
                "/wechat-sandbox/check".into(),
                form(&[]),
            ),
            call(
                Method::POST,
                "/wechat-sandbox/faults",
                "/wechat-sandbox/faults".into(),
                form(&[("latency_ms", "0")]),
            ),
            call(
                Method::POST,
                "/wechat-sandbox/expire-tokens",
                "/wechat-sandbox/expire-tokens".into(),
                form(&[]),
            ),
            call(Method::GET, "/jobs", "/jobs".into(), Body::None),
            call(
                Method::POST,
                "/jobs/{id}/retry",
                format!("/jobs/{}/retry", self.job_console),
                form(&[]),
            ),
            call(Method::GET, "/channels", "/channels".into(), Body::None),
            call(
                Method::GET,
                "/channels/new",
                "/channels/new".into(),
                Body::None,
            ),
            call(
                Method::POST,
                "/channels",
                "/channels".into(),
                form(&[
                    ("account_id", &acc.to_string()),
                    ("name", &format!("console {tag}")),
                    ("kind", "permanent"),
                    ("medium", "poster"),
                ]),
            ),
            call(
                Method::GET,
                "/channels/{id}",
                format!("/channels/{}", self.channel_console),
                Body::None,
            ),
            call(
                Method::GET,
                "/channels/{id}/edit",
                format!("/channels/{}/edit", self.channel_console),
                Body::None,
            ),
            call(
                Method::POST,
                "/channels/{id}",
                format!("/channels/{}", self.channel_console),
                form(&[
                    ("name", &format!("console {tag} renamed")),
                    ("medium", "poster"),
                ]),
            ),
            call(
                Method::GET,
                "/channels/{id}/qrcode.png",
                format!("/channels/{}/qrcode.png", self.channel_console),
                Body::None,
            ),
            call(
                Method::GET,
                "/channels/{id}/poster.svg",
                format!("/channels/{}/poster.svg", self.channel_console),
                Body::None,
            ),
            call(
                Method::POST,
                "/channels/{id}/archive",
                format!("/channels/{}/archive", self.channel_console),
                form(&[]),
            ),
            call(Method::GET, "/tags", "/tags".into(), Body::None),
            call(
                Method::POST,
                "/tags",
                "/tags".into(),
                form(&[
                    ("account_id", &acc.to_string()),
                    ("name", &format!("{tag}c")),
                ]),
            ),
            call(
                Method::POST,
                "/tags/{id}/rename",
                format!("/tags/{}/rename", self.tag_renamed),
                form(&[
                    ("account_id", &acc.to_string()),
                    ("name", &format!("{tag}cr")),
                ]),
            ),
            call(
                Method::POST,
                "/tags/{id}/delete",
                format!("/tags/{}/delete", self.tag_deleted_console),
                form(&[("account_id", &acc.to_string())]),
            ),
            call(
                Method::POST,
                "/tags/pull",
                "/tags/pull".into(),
                form(&[("account_id", &acc.to_string())]),
            ),
            call(
                Method::POST,
                "/tags/bulk",
                "/tags/bulk".into(),
                form(&[
                    ("account_id", &acc.to_string()),
                    ("tag_id", &self.tag_members.to_string()),
                    ("action", "tag"),
                ]),
            ),
            call(
                Method::POST,
                "/followers/sync",
                "/followers/sync".into(),
                form(&[("account_id", &self.sync_account.to_string())]),
            ),
            call(Method::GET, "/segments", "/segments".into(), Body::None),
            call(
                Method::GET,
                "/segments/new",
                "/segments/new".into(),
                Body::None,
            ),
            call(
                Method::POST,
                "/segments",
                "/segments".into(),
                form(&[
                    ("name", &format!("console seg {tag}")),
                    ("filter", "{}"),
                    ("account_id", &acc.to_string()),
                ]),
            ),
            call(
                Method::GET,
                "/segments/{id}",
                format!("/segments/{}", self.segment_console),
                Body::None,
            ),
            call(
                Method::POST,
                "/segments/{id}",
                format!("/segments/{}", self.segment_console),
                form(&[
                    ("name", &format!("console renamed {tag}")),
                    ("filter", "{}"),
                ]),
            ),
            call(
                Method::POST,
                "/segments/{id}/delete",
                format!("/segments/{}/delete", self.segment_console),
                form(&[]),
            ),
            call(
                Method::GET,
                "/followers/export.csv",
                format!("/followers/export.csv?account={acc}"),
                Body::None,
            ),
            call(
                Method::GET,
                "/followers/import",
                "/followers/import".into(),
                Body::None,
            ),
            call(
                Method::GET,
                "/followers/import/{id}",
                format!("/followers/import/{}", self.import_console),
                Body::None,
            ),
            call(
                Method::POST,
                "/followers/import/{id}/apply",
                format!("/followers/import/{}/apply", self.import_console),
                form(&[]),
            ),
        ]
    }
}

/// Runs `calls` as `who` acting with `role`: allowed calls succeed, the others are refused
/// with 403 and change nothing.
async fn check_role(
    app: &TestApp,
    merchant: i64,
    who: &dyn Who,
    who_name: &str,
    role: Role,
    calls: &[Call],
) {
    for c in calls {
        let p = permission_of(&c.method, c.template);
        let allowed = role.allows(p);
        let before = if allowed {
            String::new()
        } else {
            // An allowed retry a moment ago hands a job back to the workers; let them finish
            // with it so that only the refused call could change the snapshot.
            jobs_settled(&app.db, merchant).await;
            snapshot(&app.db, merchant).await
        };
        let (status, body) = send(who, c).await;
        let what = format!("{who_name} ({role:?}) {} {} needs {p:?}", c.method, c.path);
        if allowed {
            assert!(
                status.is_success() || status.is_redirection(),
                "{what}: allowed, but answered {status}: {body}"
            );
        } else {
            assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
            assert_eq!(
                snapshot(&app.db, merchant).await,
                before,
                "{what}: a refused call changed something"
            );
        }
    }
}

#[tokio::test]
async fn every_role_gets_exactly_what_its_permissions_allow() {
    let app = TestApp::spawn().await;
    let m = app.merchant("Alpha").await;
    let account = app.account(m, "Alpha 服务号").await;
    app.user(m, "boss", Role::Owner).await;
    let mut tag = 0;
    for role in Role::ALL {
        let username = format!("as_{}", role.as_str());
        app.user(m, &username, role).await;
        let session = app.sign_in(&username).await;
        let (_, key) = app.api_key(m, &format!("{role:?} key"), role).await;
        let key = app.key(&key);

        tag += 1;
        let v = Victims::create(&app, m, account.id, &account.app_id, &format!("s{tag}")).await;
        let mut calls = v.console_calls();
        calls.extend(v.api_calls());
        check_role(&app, m, &session, "session", role, &calls).await;

        tag += 1;
        let v = Victims::create(&app, m, account.id, &account.app_id, &format!("k{tag}")).await;
        check_role(&app, m, &key, "API key", role, &v.api_calls()).await;
    }
    app.stop().await;
}

/// The matrix above covers every merchant endpoint the OpenAPI document lists.
#[tokio::test]
async fn the_role_matrix_covers_every_api_endpoint() {
    let app = TestApp::spawn().await;
    let (status, doc) = read_json(app.client().get(app.url("/api/v1/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    let v = Victims {
        account: 1,
        app_id: String::new(),
        key_console: 1,
        key_api: 1,
        staff_console: 1,
        staff_api: 1,
        job_console: 1,
        job_api: 1,
        segment_console: 1,
        segment_api: 1,
        import_console: 1,
        import_api: 1,
        tag: String::new(),
        tag_renamed: 1,
        tag_deleted_console: 1,
        tag_deleted_api: 1,
        tag_members: 1,
        operation: 1,
        openid: String::new(),
        sync_account: 1,
        channel_console: 1,
        channel_api: 1,
        lib_console: (1, 1, 1, [1, 1, 1], 1),
        lib_api: (1, 1, 1, [1, 1, 1], 1),
        rule_console: 1,
        rule_api: 1,
        flow_console: 1,
        flow_api: 1,
        menu_console: 1,
        menu_api: 1,
        menu_tag_console: 1,
        menu_tag_api: 1,
    };
    let covered: BTreeSet<(String, String)> = v
        .api_calls()
        .iter()
        .map(|c| (c.method.as_str().to_lowercase(), c.template.to_string()))
        .collect();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, ops) in paths {
        for method in ops.as_object().expect("operations").keys() {
            if path == "/api/v1/merchants" {
                continue; // platform admin only: see the test below
            }
            if path.starts_with("/sandbox/") {
                continue; // the emulated WeChat's side, not a merchant's: no roles
            }
            assert!(
                covered.contains(&(method.clone(), path.clone())),
                "{method} {path} is missing from the role matrix"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn only_the_platform_admin_reaches_the_platform_pages() {
    let app = TestApp::spawn().await;
    let m = app.merchant("Alpha").await;
    app.user(m, "boss", Role::Owner).await;
    app.platform_admin("root").await;
    let owner = app.sign_in("boss").await;
    let (_, key) = app.api_key(m, "owner key", Role::Owner).await;
    let key = app.key(&key);
    let merchants = "SELECT COUNT(*) FROM merchants";

    let calls = [
        call(
            Method::GET,
            "/platform/merchants",
            "/platform/merchants".into(),
            Body::None,
        ),
        call(
            Method::POST,
            "/platform/merchants",
            "/platform/merchants".into(),
            form(&[("name", "Sneaky")]),
        ),
        call(
            Method::GET,
            "/api/v1/merchants",
            "/api/v1/merchants".into(),
            Body::None,
        ),
        call(
            Method::POST,
            "/api/v1/merchants",
            "/api/v1/merchants".into(),
            Body::Json(json!({"name": "Sneaky"})),
        ),
    ];
    let callers: [(&str, &dyn Who); 2] = [("owner session", &owner), ("owner key", &key)];
    for (who_name, who) in callers {
        for c in &calls {
            let (status, body) = send(who, c).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{who_name} {} {}: {body}",
                c.method,
                c.path
            );
        }
    }
    assert_eq!(app.count(merchants).await, 1, "no merchant was created");
    // The owner's navigation does not offer it.
    let (_, page) = owner.get("/").await;
    assert!(!page.contains("/platform/merchants"));

    let admin = app.sign_in("root").await;
    let (status, page) = admin.get("/platform/merchants").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Alpha"));
    let (status, _) = admin
        .post_form("/platform/merchants", &[("name", "Bravo")])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, created) = read_json(
        admin
            .request(Method::POST, "/api/v1/merchants")
            .json(&json!({"name": "Charlie", "timezone": "Asia/Urumqi"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["timezone"], "Asia/Urumqi");
    let (status, list) = read_json(admin.request(Method::GET, "/api/v1/merchants")).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert_eq!(names, ["Alpha", "Bravo", "Charlie"]);
    let (status, err) = read_json(
        admin
            .request(Method::POST, "/api/v1/merchants")
            .json(&json!({"name": "Charlie"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(err["error"]["fields"]["name"].is_string(), "{err}");
    assert_eq!(app.count(merchants).await, 3);
    app.stop().await;
}

#[tokio::test]
async fn nobody_grants_a_role_above_their_own() {
    let app = TestApp::spawn().await;
    let m = app.merchant("Alpha").await;
    let (_, op_key) = app.api_key(m, "operator key", Role::Operator).await;
    let op = app.key(&op_key);
    let users = "SELECT COUNT(*) FROM users";
    let keys = "SELECT COUNT(*) FROM api_keys";
    let (users_before, keys_before) = (app.count(users).await, app.count(keys).await);

    // Through HTTP an operator key cannot reach key or staff creation at all.
    let (status, _) = read(
        op.request(Method::POST, "/api/v1/api-keys")
            .json(&json!({"name": "escalate", "role": "owner"})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = read(op.request(Method::POST, "/api/v1/staff").json(&json!({
        "username": "escalated", "password": PASSWORD, "role": "owner"
    })))
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(app.count(users).await, users_before);
    assert_eq!(app.count(keys).await, keys_before);

    // The rule itself, as the endpoints call it: a field error on `role`.
    let err = zhanggui::apikeys::create(
        app.state(),
        m,
        &zhanggui::apikeys::NewApiKeyInput {
            name: "escalate".into(),
            role: Role::Owner,
        },
        Role::Operator,
        None,
    )
    .await
    .expect_err("an operator cannot grant owner");
    match err {
        zhanggui::platform::error::AppError::Validation(f) => assert!(f.has("role")),
        other => panic!("expected a field error, got {other:?}"),
    }
    let err = zhanggui::merchants::add_staff(
        &app.db,
        m,
        &zhanggui::merchants::model::StaffInput {
            username: "escalated".into(),
            display_name: String::new(),
            password: PASSWORD.into(),
            role: Role::Owner,
        },
        Role::Operator,
        app.now(),
    )
    .await
    .expect_err("an operator cannot grant owner");
    match err {
        zhanggui::platform::error::AppError::Validation(f) => assert!(f.has("role")),
        other => panic!("expected a field error, got {other:?}"),
    }
    assert_eq!(app.count(users).await, users_before);
    assert_eq!(app.count(keys).await, keys_before);

    // An owner key grants any role; the answer names the field when the role is unknown.
    let (_, owner_key) = app.api_key(m, "owner key", Role::Owner).await;
    let owner = app.key(&owner_key);
    let (status, created) = read_json(
        owner
            .request(Method::POST, "/api/v1/api-keys")
            .json(&json!({"name": "second owner", "role": "owner"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, _) = read(
        owner
            .request(Method::POST, "/api/v1/api-keys")
            .json(&json!({"name": "x", "role": "emperor"})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.stop().await;
}

#[tokio::test]
async fn the_switcher_chooses_only_the_callers_merchants_and_accounts() {
    let app = TestApp::spawn().await;
    let a = app.merchant("Alpha").await;
    let b = app.merchant("Bravo").await;
    let c = app.merchant("Charlie").await;
    let a1 = app.account(a, "Alpha one").await;
    let a2 = app.account(a, "Alpha two").await;
    let b1 = app.account(b, "Bravo one").await;
    let c1 = app.account(c, "Charlie one").await;
    let both = app.user(a, "both", Role::Owner).await;
    let mut tx = app.db.begin().await.expect("begin");
    auth_store::upsert_membership(&mut tx, b, both, Role::Clerk, app.now())
        .await
        .expect("membership");
    tx.commit().await.expect("commit");
    let s = app.sign_in("both").await;
    let context = |s: &Session| {
        let hash = zhanggui::platform::auth::model::token_hash(&s.token().expect("token"));
        let db = app.db.clone();
        async move {
            let row = auth_store::session_by_hash(&db, &hash, 0)
                .await
                .expect("read")
                .expect("session");
            (row.merchant_id, row.account_id)
        }
    };

    // A user who never chose a merchant works in their first one and may pick its accounts.
    let (status, _) = s
        .post_form(
            "/switch",
            &[("account_id", &a2.id.to_string()), ("back", "/accounts")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(context(&s).await, (Some(a), Some(a2.id)));
    let (_, page) = s.get("/").await;
    assert!(
        page.contains(&format!("<option value=\"{}\" selected>", a2.id)),
        "{page}"
    );
    let (status, _) = s
        .post_form("/switch", &[("account_id", &a1.id.to_string())])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(context(&s).await, (Some(a), Some(a1.id)));

    // Not another merchant's account, nor a merchant the user does not belong to.
    for fields in [
        vec![("account_id", b1.id.to_string())],
        vec![("account_id", c1.id.to_string())],
        vec![("merchant_id", c.to_string())],
        vec![
            ("merchant_id", b.to_string()),
            ("account_id", a1.id.to_string()),
        ],
    ] {
        let f: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _) = s.post_form("/switch", &f).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{fields:?}");
        assert_eq!(context(&s).await, (Some(a), Some(a1.id)), "{fields:?}");
    }

    // Switching to a merchant the user belongs to changes the role with it.
    let (status, _) = s
        .post_form("/switch", &[("merchant_id", &b.to_string())])
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(context(&s).await, (Some(b), None));
    let (status, _) = read(s.request(Method::GET, "/api/v1/accounts")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a clerk in Bravo");
    let (status, d) = read_json(s.request(Method::GET, "/api/v1/dashboard")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(d["merchant_name"], "Bravo");
    app.stop().await;
}

/// `calls_on` names every API endpoint that takes an object's id or key in its path, so the
/// cross-merchant sweep above cannot fall behind the router. (The sandbox's own API and the
/// platform admin's merchants are not a merchant's objects.)
#[tokio::test]
async fn the_cross_merchant_sweep_covers_every_api_path_with_a_parameter() {
    let app = TestApp::spawn().await;
    let (status, doc) = read_json(app.client().get(app.url("/api/v1/openapi.json"))).await;
    assert_eq!(status, StatusCode::OK);
    let b = Tenant {
        id: 1,
        name: String::new(),
        account_id: 1,
        account_name: String::new(),
        app_id: String::new(),
        owner: String::new(),
        owner_key: String::new(),
        tag_id: 1,
        operation: 1,
        key_id: 1,
        key_name: String::new(),
        staff_id: 1,
        sleeper_id: 1,
        staff_names: vec![],
        job_id: 1,
        job_kind: String::new(),
        channel_id: 1,
        channel_name: String::new(),
        segment_id: 1,
        segment_name: String::new(),
        import_id: 1,
        lib: (1, 1, 1, [1, 1, 1], 1),
        rule_id: 1,
        rule_name: String::new(),
        flow_id: 1,
        menu_id: 1,
        menu_name: String::new(),
    };
    let covered: BTreeSet<(String, String)> = calls_on(&b)
        .iter()
        .map(|c| (c.method.as_str().to_lowercase(), c.template.to_string()))
        .collect();
    let mut missing = vec![];
    let mut checked = 0;
    for (path, ops) in doc["paths"].as_object().expect("paths") {
        if !path.contains('{')
            || path.starts_with("/sandbox/")
            || path.starts_with("/api/v1/merchants")
        {
            continue;
        }
        for method in ops.as_object().expect("operations").keys() {
            checked += 1;
            if !covered.contains(&(method.clone(), path.clone())) {
                missing.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(checked > 50, "the document lists the API: {checked}");
    assert!(
        missing.is_empty(),
        "missing from calls_on (merchant_a_never_reaches_merchant_bs_objects):\n{}",
        missing.join("\n")
    );
    app.stop().await;
}

/// Stands in for a signed-in browser that a forged request rides on: it carries the session
/// cookie but neither the `_csrf` field nor the X-CSRF-Token header.
struct Forged<'a>(&'a Session);

impl Who for Forged<'_> {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.0.raw(method, path)
    }
}

/// Row counts of every table, the merchant's snapshot, and its account's tags, segments and
/// followers: what a write through any endpoint would show in.
async fn fingerprint(app: &TestApp, merchant: i64, account: i64) -> String {
    let mut out = String::new();
    for table in table_names(&app.db).await {
        let n = app.count(&format!("SELECT COUNT(*) FROM {table}")).await;
        out.push_str(&format!("{table}: {n}\n"));
    }
    let tags = zhanggui::tags::store::list(&app.db, merchant, account)
        .await
        .expect("tags");
    let segments = zhanggui::segments::store::list(&app.db, merchant, account, 0, 1000)
        .await
        .expect("segments");
    let followers = zhanggui::followers::store::list(&app.db, merchant, account, 1000)
        .await
        .expect("followers");
    // Sessions: which exist and the merchant and account each works in.
    let sessions = on_pool!(&app.db, |p| sqlx::query_as::<
        _,
        (String, Option<i64>, Option<i64>),
    >(
        "SELECT token_hash, merchant_id, account_id FROM sessions ORDER BY token_hash"
    )
    .fetch_all(p)
    .await)
    .expect("sessions");
    format!(
        "{out}{}\n{tags:?}\n{segments:?}\n{followers:?}\n{sessions:?}",
        snapshot(&app.db, merchant).await
    )
}

/// Every console form and every API write, sent with a valid session but without its CSRF
/// token, is refused with 403 and changes nothing; the session itself goes on.
#[tokio::test]
async fn every_write_a_browser_could_forge_needs_the_csrf_token() {
    let app = TestApp::spawn().await;
    let m = app.merchant("Alpha").await;
    let account = app.account(m, "Alpha 服务号").await;
    app.user(m, "boss", Role::Owner).await;
    let session = app.sign_in("boss").await;
    let v = Victims::create(&app, m, account.id, &account.app_id, "x").await;
    let mut calls: Vec<Call> = v
        .console_calls()
        .into_iter()
        .chain(v.api_calls())
        .filter(|c| c.method != Method::GET)
        .collect();
    for path in ["/logout", "/password", "/lang", "/switch"] {
        calls.push(call(
            Method::POST,
            "(session)",
            path.into(),
            form(&[
                ("current", PASSWORD),
                ("new", "forged-password-1"),
                ("confirm", "forged-password-1"),
                ("lang", "en"),
                ("account_id", &account.id.to_string()),
            ]),
        ));
    }
    assert!(calls.len() > 100, "{} writes", calls.len());
    // Settle first: the projectors and the workers finish what making the victims started.
    jobs_settled(&app.db, m).await;
    let mut before = fingerprint(&app, m, account.id).await;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = fingerprint(&app, m, account.id).await;
        if now == before {
            break;
        }
        before = now;
    }
    let forged = Forged(&session);
    for c in &calls {
        let (status, body) = send(&forged, c).await;
        let what = format!("{} {} without a CSRF token", c.method, c.path);
        assert_eq!(status, StatusCode::FORBIDDEN, "{what}: {body}");
        assert_eq!(
            fingerprint(&app, m, account.id).await,
            before,
            "{what} changed something"
        );
    }
    // The session was not signed out, switched or given a new password.
    let (status, page) = session.get("/password").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    app.stop().await;
}

/// The side navigation of each role (and of the platform admin) offers only pages that
/// answer that role with 200, each showing itself as the current entry: no link to a
/// refusal, no placeholder.
#[tokio::test]
async fn every_navigation_link_opens_for_the_role_that_sees_it() {
    let app = TestApp::spawn().await;
    let m = app.merchant("Alpha").await;
    app.account(m, "Alpha 服务号").await;
    let mut who: Vec<(String, Session)> = vec![];
    for role in Role::ALL {
        let username = format!("nav_{}", role.as_str());
        app.user(m, &username, role).await;
        who.push((format!("{role:?}"), app.sign_in(&username).await));
    }
    app.platform_admin("nav_root").await;
    who.push(("platform admin".into(), app.sign_in("nav_root").await));

    let mut seen = BTreeSet::new();
    for (name, s) in &who {
        let (status, page) = s.get("/").await;
        assert_eq!(status, StatusCode::OK, "{name}: {page}");
        let links = nav_links(&page);
        assert!(links.contains(&"/".to_string()), "{name}: {links:?}");
        for href in &links {
            seen.insert(href.clone());
            let (status, page) = s.get(href).await;
            assert_eq!(status, StatusCode::OK, "{name}: {href}: {page}");
            let nav = nav_html(&page);
            assert!(
                nav.contains(&format!("href=\"{href}\" class=\"nav-item active\"")),
                "{name}: {href} does not show itself as the current entry:\n{nav}"
            );
            assert_eq!(
                nav_links(&page),
                links,
                "{name}: {href} has the same navigation"
            );
        }
    }
    // The roles see different things, and together everything the console has.
    assert!(seen.contains("/platform/merchants") && seen.contains("/api-keys"));
    assert!(seen.len() >= 15, "{seen:?}");
    app.stop().await;
}

/// The `<nav id="sidenav">` element of a console page.
fn nav_html(page: &str) -> &str {
    let start = page.find("<nav id=\"sidenav\"").expect("a side navigation");
    let end = page[start..].find("</nav>").expect("its end") + start;
    &page[start..end]
}

/// The links of a page's side navigation, in order.
fn nav_links(page: &str) -> Vec<String> {
    nav_html(page)
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}
