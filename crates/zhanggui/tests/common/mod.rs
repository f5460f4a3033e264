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
/// folder that lives as long as the test process) and returns its URL, not yet migrated.
/// Use it with [`connect`] to open several pools on one database, as separate instances would.
pub async fn fresh_db_url() -> String {
    let name = format!("zg_test_{}", hex::encode(rand::random::<[u8; 8]>()));
    match std::env::var("ZG_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.trim().is_empty() => {
            create_pg_database(&admin_url, &name).await
        }
        _ => {
            let dir = tempfile::tempdir().expect("temporary folder for the test database");
            let path = dir.path().join(format!("{name}.db"));
            keep_alive(dir);
            format!("sqlite://{}", path.display())
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
