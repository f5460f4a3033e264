//! Shared test support: a fresh, migrated database per test, on SQLite by default or on
//! PostgreSQL when `ZG_TEST_DATABASE_URL` is set (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`; CI sets it).
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
