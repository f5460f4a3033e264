//! Shared test support: a fresh, migrated database per test, on SQLite by default or on
//! PostgreSQL when `ZG_TEST_DATABASE_URL` is set (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`; CI sets it); and [`TestApp`], the real server
//! on a random port with signed-in clients and API keys.
#![allow(dead_code)]

use std::sync::{Mutex, OnceLock};

use sqlx::Connection;
use zhanggui::platform::db::{ConnectOptions, Db};

/// Connections per pool in tests: enough for a few workers, small enough that many tests can
/// share one PostgreSQL server.
pub const TEST_MAX_CONNECTIONS: u32 = 8;

/// A migrated database of its own, on the backend the environment chooses.
pub async fn fresh_db() -> Db {
    let url = fresh_db_url().await;
    connect(&url).await
}

/// Creates an empty database (a new PostgreSQL database, or a new SQLite file in a temporary
/// folder under cargo's `target/tmp` that lives as long as the test process) and returns its
/// URL, not yet migrated. Use it with [`connect`] to open several pools on one database, as
/// separate instances would.
///
/// Test databases are not deleted when the process ends; the first call of each process sweeps
/// away those left by runs more than an hour old.
pub async fn fresh_db_url() -> String {
    let name = format!(
        "{PREFIX}{}_{}",
        unix_secs(),
        hex::encode(rand::random::<[u8; 6]>())
    );
    match std::env::var("ZG_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.trim().is_empty() => {
            create_pg_database(&admin_url, &name).await
        }
        _ => {
            let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
            if first_call() {
                sweep_sqlite(root);
            }
            let dir = tempfile::Builder::new()
                .prefix(PREFIX)
                .tempdir_in(root)
                .expect("temporary folder for the test database");
            let path = dir.path().join(format!("{name}.db"));
            keep_alive(dir);
            format!("sqlite://{}", path.display())
        }
    }
}

/// Names of test databases and folders: `zg_test_<unix seconds>_<random>`.
const PREFIX: &str = "zg_test_";
const STALE_SECS: u64 = 3_600;

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn first_call() -> bool {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    !SWEPT.swap(true, std::sync::atomic::Ordering::SeqCst)
}

fn is_stale(modified: std::time::SystemTime) -> bool {
    modified
        .elapsed()
        .is_ok_and(|age| age.as_secs() > STALE_SECS)
}

/// Removes test folders under `root` untouched for an hour (left by earlier runs).
fn sweep_sqlite(root: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(is_stale);
        if old && entry.file_name().to_string_lossy().starts_with(PREFIX) {
            std::fs::remove_dir_all(entry.path()).ok();
        }
    }
}

/// Drops test databases created more than an hour ago (the time is in their name). One still
/// in use refuses to be dropped, which is fine.
async fn sweep_pg(admin: &mut sqlx::PgConnection) {
    let Ok(names) = sqlx::query_scalar::<_, String>(
        "SELECT datname FROM pg_database WHERE datname LIKE 'zg\\_test\\_%'",
    )
    .fetch_all(&mut *admin)
    .await
    else {
        return;
    };
    let now = unix_secs();
    for name in names {
        let created = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        let safe = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if safe && created.is_some_and(|c| now.saturating_sub(c) > STALE_SECS) {
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut *admin)
                .await
                .ok();
        }
    }
}

/// Opens `url` and brings it to the latest migration (idempotent).
pub async fn connect(url: &str) -> Db {
    let db = Db::connect(
        url,
        ConnectOptions {
            max_connections: TEST_MAX_CONNECTIONS,
        },
    )
    .await
    .expect("connect to the test database");
    db.migrate().await.expect("migrate the test database");
    db
}

async fn create_pg_database(admin_url: &str, name: &str) -> String {
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to ZG_TEST_DATABASE_URL");
    if first_call() {
        sweep_pg(&mut admin).await;
    }
    // `name` is ours: lowercase letters, digits and underscores only.
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    admin.close().await.ok();
    let mut url = url::Url::parse(admin_url).expect("ZG_TEST_DATABASE_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// Keeps temporary folders until the process ends (their databases outlive any one pool).
fn keep_alive(dir: tempfile::TempDir) {
    static DIRS: OnceLock<Mutex<Vec<tempfile::TempDir>>> = OnceLock::new();
    DIRS.get_or_init(|| Mutex::new(Vec::new()))
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .push(dir);
}

/// True when the tests run on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var("ZG_TEST_DATABASE_URL").is_ok_and(|u| !u.trim().is_empty())
}

// ---------------------------------------------------------------------------------------------
// TestApp: the real server on a random port, with its fresh database and the in-process sandbox
// as the WeChat side.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Method, RequestBuilder, StatusCode};
use zhanggui::accounts::AccountRow;
use zhanggui::accounts::model::AccountInput;
use zhanggui::apikeys::NewApiKeyInput;
use zhanggui::merchants::model::MerchantInput;
use zhanggui::on_pool;
use zhanggui::platform::auth::model::{Role, hash_password};
use zhanggui::platform::auth::store as auth_store;
use zhanggui::platform::clock::Clock;
use zhanggui::platform::config::{Config, Mode};
use zhanggui::platform::jobs::{self, JobStatus, NewJob};
use zhanggui::platform::server::{self, Running};
use zhanggui::platform::state::AppState;

/// The password of every user the helpers create.
pub const PASSWORD: &str = "correct-horse-9";

/// How long any one HTTP request of a test may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TestApp {
    pub addr: SocketAddr,
    /// `http://127.0.0.1:<port>`, also the configured public URL.
    pub base: String,
    pub db: Db,
    pub db_url: String,
    /// The server's clock: `app.clock.advance(ms)` moves the server's time.
    pub clock: Clock,
    running: Running,
}

impl TestApp {
    /// The real router on 127.0.0.1 with a fresh database, in sandbox mode.
    pub async fn spawn() -> TestApp {
        let url = fresh_db_url().await;
        TestApp::spawn_on(&url).await
    }

    /// An instance on an existing database (several instances may share one).
    pub async fn spawn_on(db_url: &str) -> TestApp {
        TestApp::spawn_on_with(db_url, |_| {}).await
    }

    /// A fresh instance whose configuration `adjust` changes first (e.g. an https public URL).
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let url = fresh_db_url().await;
        TestApp::spawn_on_with(&url, adjust).await
    }

    async fn spawn_on_with(db_url: &str, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let db = connect(db_url).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a random port");
        let addr = listener.local_addr().expect("local address");
        let base = format!("http://{addr}");
        let config = Config {
            database_url: db_url.to_string(),
            listen: addr,
            public_url: base.clone(),
            mode: Mode::Sandbox,
            workers: 1,
            max_db_connections: TEST_MAX_CONNECTIONS,
            // Nothing listens there: a live account's calls fail fast instead of leaving.
            wechat_api_base: "http://127.0.0.1:9".to_string(),
            sandbox_api_base: format!("{base}/sandbox"),
        };
        let mut config = config;
        adjust(&mut config);
        let clock = Clock::default();
        let state = AppState::new(db.clone(), config, clock.clone());
        let running = server::start(state, listener, server::job_registry())
            .await
            .expect("start the server");
        TestApp {
            addr,
            base,
            db,
            db_url: db_url.to_string(),
            clock,
            running,
        }
    }

    pub fn state(&self) -> &AppState {
        &self.running.state
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and its workers and closes the pool.
    pub async fn stop(self) {
        let db = self.db.clone();
        tokio::time::timeout(Duration::from_secs(30), self.running.stop())
            .await
            .expect("the server stops within 30 s");
        db.close().await;
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    // ---- data ----

    pub async fn merchant(&self, name: &str) -> i64 {
        zhanggui::merchants::create(
            &self.db,
            &MerchantInput {
                name: name.to_string(),
                timezone: None,
            },
            self.now(),
        )
        .await
        .expect("create merchant")
        .id
    }

    /// A member of staff of `merchant_id` with `role`, password [`PASSWORD`].
    pub async fn user(&self, merchant_id: i64, username: &str, role: Role) -> i64 {
        self.insert_user(username, false, Some((merchant_id, role)))
            .await
    }

    /// A platform admin (member of no merchant), password [`PASSWORD`].
    pub async fn platform_admin(&self, username: &str) -> i64 {
        self.insert_user(username, true, None).await
    }

    /// Through the auth store, with one password hash computed once per process: argon2 is
    /// slow in debug builds and the hashing itself is tested elsewhere.
    async fn insert_user(
        &self,
        username: &str,
        is_platform_admin: bool,
        membership: Option<(i64, Role)>,
    ) -> i64 {
        let now = self.now();
        let mut tx = self.db.begin().await.expect("begin");
        let id = auth_store::insert_user(
            &mut tx,
            &auth_store::NewUser {
                username,
                display_name: &format!("{username} display"),
                password_hash: password_hash(),
                is_platform_admin,
            },
            now,
        )
        .await
        .expect("insert user");
        if let Some((merchant_id, role)) = membership {
            auth_store::upsert_membership(&mut tx, merchant_id, id, role, now)
                .await
                .expect("add membership");
        }
        tx.commit().await.expect("commit user");
        id
    }

    /// An API key of `merchant_id` with `role`: (its id, the key).
    pub async fn api_key(&self, merchant_id: i64, name: &str, role: Role) -> (i64, String) {
        let (id, key, _) = zhanggui::apikeys::create(
            self.state(),
            merchant_id,
            &NewApiKeyInput {
                name: name.to_string(),
                role,
            },
            Role::Owner,
            None,
        )
        .await
        .expect("create API key");
        (id, key)
    }

    /// A verified service account on the sandbox, with generated credentials.
    pub async fn account(&self, merchant_id: i64, name: &str) -> AccountRow {
        let input = AccountInput {
            name: name.to_string(),
            kind: "service".to_string(),
            verified: true,
            security_mode: "safe".to_string(),
            sandbox: Some(true),
            ..AccountInput::default()
        };
        zhanggui::accounts::create(
            &self.db,
            merchant_id,
            &input,
            Mode::Sandbox,
            &self.base,
            self.now(),
        )
        .await
        .expect("create account")
    }

    /// A job of `merchant_id` that the workers killed: its kind has no handler and it had one
    /// attempt.
    pub async fn dead_job(&self, merchant_id: i64, kind: &str) -> i64 {
        let id = jobs::enqueue_alone(
            &self.db,
            self.now(),
            NewJob::new(kind, serde_json::json!({"merchant": merchant_id}))
                .merchant(merchant_id)
                .max_attempts(1),
        )
        .await
        .expect("enqueue");
        self.state().jobs.wake();
        let db = self.db.clone();
        wait_until(&format!("job {id} is dead"), 20, || {
            let db = db.clone();
            async move { job_status(&db, id).await == JobStatus::Dead }
        })
        .await;
        id
    }

    // ---- clients ----

    /// A client without cookies that does not follow redirects.
    pub fn client(&self) -> reqwest::Client {
        plain_client()
    }

    pub fn key(&self, key: &str) -> KeyClient {
        KeyClient {
            client: plain_client(),
            key: key.to_string(),
            base: self.base.clone(),
        }
    }

    /// A client with an empty cookie jar (what a browser would be).
    pub fn browser(&self) -> (reqwest::Client, Arc<Jar>) {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .build()
            .expect("build a client");
        (client, jar)
    }

    /// Signs in through the login form with [`PASSWORD`].
    pub async fn sign_in(&self, username: &str) -> Session {
        self.sign_in_with(username, PASSWORD).await
    }

    /// GET /login (the pre-session CSRF cookie), POST the form, then reads the session's CSRF
    /// token from a page. Panics unless the sign-in succeeds.
    pub async fn sign_in_with(&self, username: &str, password: &str) -> Session {
        let (client, jar) = self.browser();
        let (status, body) = self.login_attempt(&client, username, password, &[]).await;
        assert_eq!(
            status,
            StatusCode::SEE_OTHER,
            "sign-in of {username} should succeed: {body}"
        );
        let mut s = Session {
            client,
            jar,
            csrf: String::new(),
            base: self.base.clone(),
        };
        s.refresh_csrf().await;
        s
    }

    /// One trip through the login form with `client` (its jar keeps the cookies): GET /login,
    /// then POST it with the pre-session token. Returns the POST's status and body.
    pub async fn login_attempt(
        &self,
        client: &reqwest::Client,
        username: &str,
        password: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let mut get = client.get(self.url("/login"));
        for (k, v) in headers {
            get = get.header(*k, *v);
        }
        let (status, page) = read(get).await;
        assert_eq!(status, StatusCode::OK, "the login page: {page}");
        let token = csrf_of(&page).expect("the login form carries _csrf");
        let mut post = client.post(self.url("/login")).form(&[
            ("_csrf", token.as_str()),
            ("username", username),
            ("password", password),
            ("next", "/"),
        ]);
        for (k, v) in headers {
            post = post.header(*k, *v);
        }
        read(post).await
    }

    // ---- database ----

    pub async fn count(&self, sql: &str) -> i64 {
        scalar(&self.db, sql).await
    }

    pub async fn exec(&self, sql: &str) {
        exec(&self.db, sql).await
    }

    /// The one text value `sql` selects.
    pub async fn text(&self, sql: &str) -> String {
        on_pool!(&self.db, |p| sqlx::query_scalar::<_, String>(sql)
            .fetch_one(p)
            .await)
        .expect(sql)
    }
}

fn plain_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("build a client")
}

/// argon2 of [`PASSWORD`], computed once per test process.
pub fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash_password(PASSWORD).expect("hash the test password"))
}

/// Someone who calls the server: a signed-in session or an API key.
pub trait Who {
    /// A request with this caller's credentials (and, for a session, its CSRF header).
    fn request(&self, method: Method, path: &str) -> RequestBuilder;
}

/// A signed-in browser: its cookie jar holds the session.
pub struct Session {
    pub client: reqwest::Client,
    pub jar: Arc<Jar>,
    /// The session's CSRF token, as pages carry it in `_csrf`.
    pub csrf: String,
    pub base: String,
}

impl Session {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the session cookie but no CSRF token.
    pub fn raw(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        read(self.raw(Method::GET, path)).await
    }

    /// POSTs a form with the session's `_csrf` field added.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut form: Vec<(&str, &str)> = vec![("_csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        read(self.raw(Method::POST, path).form(&form)).await
    }

    /// Reads the session's CSRF token from a page.
    pub async fn refresh_csrf(&mut self) {
        let (status, page) = self.get("/password").await;
        assert_eq!(status, StatusCode::OK, "a signed-in page: {page}");
        self.csrf = csrf_of(&page).expect("the page carries _csrf");
    }

    /// The value of the session cookie, if the jar holds one.
    pub fn token(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.base).expect("base URL");
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split(';')
            .find_map(|c| c.trim().strip_prefix("zg_session=").map(str::to_string))
    }

    /// The same browser (same cookies) talking to another instance.
    pub fn at(&self, other: &TestApp) -> Session {
        Session {
            client: self.client.clone(),
            jar: self.jar.clone(),
            csrf: self.csrf.clone(),
            base: other.base.clone(),
        }
    }
}

impl Who for Session {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.raw(method, path)
            .header("x-csrf-token", self.csrf.as_str())
    }
}

/// An integrator with an API key.
pub struct KeyClient {
    pub client: reqwest::Client,
    pub key: String,
    pub base: String,
}

impl Who for KeyClient {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }
}

/// Sends a request and reads the whole answer.
pub async fn read(req: RequestBuilder) -> (StatusCode, String) {
    let res = req.send().await.expect("the server answers");
    let status = res.status();
    let body = res.text().await.expect("read the body");
    (status, body)
}

/// Sends a request and parses the answer as JSON (`Null` when it is not JSON).
pub async fn read_json(req: RequestBuilder) -> (StatusCode, serde_json::Value) {
    let (status, body) = read(req).await;
    (
        status,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

/// The value of the first `_csrf` hidden input of a page.
pub fn csrf_of(html: &str) -> Option<String> {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_string())
}

pub async fn exec(db: &Db, sql: &str) {
    on_pool!(db, |p| sqlx::query(sql).execute(p).await.map(|_| ())).expect(sql);
}

/// After log rows written with ids of the test's choosing: on PostgreSQL the identity's
/// sequence is moved past them, as INSERTs that take their ids from it leave it, since a
/// projection reads the log only up to the last id taken (`messages::settled`).
pub async fn log_ids_taken(db: &Db) {
    if let Db::Postgres(pool) = db {
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('wx_messages', 'id'), MAX(id)) \
             FROM wx_messages HAVING MAX(id) IS NOT NULL",
        )
        .execute(pool)
        .await
        .expect("the log's sequence moved past its rows");
    }
}

pub async fn scalar(db: &Db, sql: &str) -> i64 {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await).expect(sql)
}

/// The tables of the database (SQLite's own and sqlx's migration table included), by name.
pub async fn table_names(db: &Db) -> Vec<String> {
    on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        match db.dialect() {
            zhanggui::platform::db::Dialect::Sqlite =>
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
            zhanggui::platform::db::Dialect::Postgres =>
                "SELECT table_name::TEXT FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             ORDER BY table_name",
        }
    )
    .fetch_all(p)
    .await)
    .expect("list the tables")
}

pub async fn job_status(db: &Db, id: i64) -> JobStatus {
    jobs::store::get(db, None, id)
        .await
        .expect("read job")
        .expect("job exists")
        .status
}

/// Polls `check` until it holds, failing the test after `secs` seconds.
pub async fn wait_until<F, Fut>(what: &str, secs: u64, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let waited = tokio::time::timeout(Duration::from_secs(secs), async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        waited.is_ok(),
        "timed out after {secs} s waiting until {what}"
    );
}

/// A simulated follower of the sandbox account `app_id` (they follow it now).
pub async fn sandbox_follower(app: &TestApp, app_id: &str) -> String {
    let made: serde_json::Value = app
        .client()
        .post(app.url(&format!("/sandbox/api/apps/{app_id}/followers")))
        .json(&serde_json::json!({"count": 1}))
        .send()
        .await
        .expect("make a follower")
        .json()
        .await
        .expect("followers json");
    made["openids"][0].as_str().expect("openid").to_string()
}

/// Makes a simulated follower act (`{"type": "text", "content": …}`, a click, a scan …):
/// WeChat delivers it to the callback; the answer is what the follower got back.
pub async fn sandbox_act(
    app: &TestApp,
    app_id: &str,
    openid: &str,
    action: serde_json::Value,
) -> serde_json::Value {
    app.client()
        .post(app.url(&format!(
            "/sandbox/api/apps/{app_id}/followers/{openid}/actions"
        )))
        .json(&action)
        .send()
        .await
        .expect("act")
        .json()
        .await
        .unwrap_or(serde_json::Value::Null)
}

/// What the account sent the follower outside passive replies (customer-service messages …).
pub async fn sandbox_inbox(app: &TestApp, app_id: &str, openid: &str) -> serde_json::Value {
    app.client()
        .get(app.url(&format!(
            "/sandbox/api/apps/{app_id}/followers/{openid}/inbox"
        )))
        .send()
        .await
        .expect("inbox")
        .json()
        .await
        .expect("inbox json")
}
