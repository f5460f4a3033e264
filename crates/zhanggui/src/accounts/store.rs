//! SQL for official accounts and the sandbox side's record of its apps.

use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::{on_pool, on_tx};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub merchant_id: i64,
    pub name: String,
    pub kind: String,
    pub verified: bool,
    pub app_id: String,
    pub app_secret: String,
    pub token: String,
    pub encoding_aes_key: String,
    pub security_mode: String,
    pub sandbox: bool,
    pub callback_key: String,
    pub welcome_text: String,
    pub default_reply_text: String,
    /// Bumped by every change of the account's reply rules (replies/).
    pub replies_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, merchant_id, name, kind, verified, app_id, app_secret, token, \
     encoding_aes_key, security_mode, sandbox, callback_key, welcome_text, default_reply_text, \
     replies_version, created_at, updated_at";

pub struct NewAccount<'a> {
    pub merchant_id: i64,
    pub name: &'a str,
    pub kind: &'a str,
    pub verified: bool,
    pub app_id: &'a str,
    pub app_secret: &'a str,
    pub token: &'a str,
    pub encoding_aes_key: &'a str,
    pub security_mode: &'a str,
    pub sandbox: bool,
    pub callback_key: &'a str,
}

pub async fn insert(tx: &mut Tx, a: &NewAccount<'_>, now: Millis) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO accounts (merchant_id, name, kind, verified, app_id, app_secret, token, \
         encoding_aes_key, security_mode, sandbox, callback_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id"
    )
    .bind(a.merchant_id)
    .bind(a.name)
    .bind(a.kind)
    .bind(a.verified)
    .bind(a.app_id)
    .bind(a.app_secret)
    .bind(a.token)
    .bind(a.encoding_aes_key)
    .bind(a.security_mode)
    .bind(a.sandbox)
    .bind(a.callback_key)
    .bind(now)
    .fetch_one(c)
    .await)
}

pub struct AccountUpdate<'a> {
    pub name: &'a str,
    pub kind: &'a str,
    pub verified: bool,
    pub app_id: &'a str,
    pub app_secret: &'a str,
    pub token: &'a str,
    pub encoding_aes_key: &'a str,
    pub security_mode: &'a str,
}

/// Updates an account of this merchant; false when there is none.
pub async fn update(
    tx: &mut Tx,
    merchant_id: i64,
    id: i64,
    a: &AccountUpdate<'_>,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let done = on_tx!(tx, |c| {
        sqlx::query(
        "UPDATE accounts SET name = $1, kind = $2, verified = $3, app_id = $4, app_secret = $5, \
         token = $6, encoding_aes_key = $7, security_mode = $8, updated_at = $9 \
         WHERE id = $10 AND merchant_id = $11"
    )
    .bind(a.name)
    .bind(a.kind)
    .bind(a.verified)
    .bind(a.app_id)
    .bind(a.app_secret)
    .bind(a.token)
    .bind(a.encoding_aes_key)
    .bind(a.security_mode)
    .bind(now)
    .bind(id)
    .bind(merchant_id)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(done == 1)
}

pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<Option<AccountRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1 AND merchant_id = $2");
    on_pool!(db, |p| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(id)
        .bind(merchant_id)
        .fetch_optional(p)
        .await)
}

pub async fn get_for_update(
    tx: &mut Tx,
    merchant_id: i64,
    id: i64,
) -> Result<Option<AccountRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1 AND merchant_id = $2");
    on_tx!(tx, |c| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(id)
        .bind(merchant_id)
        .fetch_optional(c)
        .await)
}

pub async fn list(
    db: &Db,
    merchant_id: i64,
    after_id: i64,
    limit: i64,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM accounts WHERE merchant_id = $1 AND id > $2 ORDER BY id LIMIT $3"
    );
    on_pool!(db, |p| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(merchant_id)
        .bind(after_id)
        .bind(limit)
        .fetch_all(p)
        .await)
}

/// Every account on the platform, for the CLI.
pub async fn list_all(db: &Db) -> Result<Vec<AccountRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM accounts ORDER BY merchant_id, id");
    on_pool!(db, |p| sqlx::query_as::<_, AccountRow>(&sql)
        .fetch_all(p)
        .await)
}

pub async fn get_any(db: &Db, id: i64) -> Result<Option<AccountRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE id = $1");
    on_pool!(db, |p| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(id)
        .fetch_optional(p)
        .await)
}

pub async fn by_app_id(db: &Db, app_id: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE app_id = $1");
    on_pool!(db, |p| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(app_id)
        .fetch_optional(p)
        .await)
}

/// The account a callback URL belongs to.
pub async fn by_callback_key(
    db: &Db,
    callback_key: &str,
) -> Result<Option<AccountRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE callback_key = $1");
    on_pool!(db, |p| sqlx::query_as::<_, AccountRow>(&sql)
        .bind(callback_key)
        .fetch_optional(p)
        .await)
}

/// Sets what the account answers before reply rules exist.
pub async fn set_replies(
    db: &Db,
    merchant_id: i64,
    id: i64,
    welcome_text: &str,
    default_reply_text: &str,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, |p| sqlx::query(
        "UPDATE accounts SET welcome_text = $1, default_reply_text = $2, updated_at = $3 \
         WHERE id = $4 AND merchant_id = $5"
    )
    .bind(welcome_text)
    .bind(default_reply_text)
    .bind(now)
    .bind(id)
    .bind(merchant_id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

pub async fn names(db: &Db, merchant_id: i64) -> Result<Vec<(i64, String)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, String)>(
        "SELECT id, name FROM accounts WHERE merchant_id = $1 ORDER BY id"
    )
    .bind(merchant_id)
    .fetch_all(p)
    .await)
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SandboxAppRow {
    pub app_id: String,
    pub app_secret: String,
    pub token: String,
    pub encoding_aes_key: String,
    pub security_mode: String,
    /// Where the emulated WeChat delivers this app's messages.
    pub callback_url: String,
    pub kind: String,
    pub verified: bool,
}

/// Registers (or re-registers) an app on the emulated WeChat side.
pub async fn upsert_sandbox_app(
    tx: &mut Tx,
    app: &SandboxAppRow,
    now: Millis,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO sandbox_apps (app_id, app_secret, token, encoding_aes_key, security_mode, \
         callback_url, kind, verified, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (app_id) DO UPDATE SET app_secret = excluded.app_secret, \
         token = excluded.token, encoding_aes_key = excluded.encoding_aes_key, \
         security_mode = excluded.security_mode, callback_url = excluded.callback_url, \
         kind = excluded.kind, verified = excluded.verified"
    )
    .bind(&app.app_id)
    .bind(&app.app_secret)
    .bind(&app.token)
    .bind(&app.encoding_aes_key)
    .bind(&app.security_mode)
    .bind(&app.callback_url)
    .bind(&app.kind)
    .bind(app.verified)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn sandbox_app(db: &Db, app_id: &str) -> Result<Option<SandboxAppRow>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, SandboxAppRow>(
        "SELECT app_id, app_secret, token, encoding_aes_key, security_mode, callback_url, kind, \
         verified FROM sandbox_apps WHERE app_id = $1"
    )
    .bind(app_id)
    .fetch_optional(p)
    .await)
}

/// Adds simulated followers in one transaction, in chunks that stay under every backend's
/// parameter limit.
pub async fn add_sandbox_followers(
    db: &Db,
    app_id: &str,
    openids: &[String],
    now: Millis,
) -> Result<(), sqlx::Error> {
    const CHUNK: usize = 500;
    let mut tx = db.begin().await?;
    for chunk in openids.chunks(CHUNK) {
        let mut sql =
            String::from("INSERT INTO sandbox_followers (app_id, openid, created_at) VALUES ");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!("($1, ${}, $2)", i + 3));
        }
        sql.push_str(" ON CONFLICT (app_id, openid) DO NOTHING");
        on_tx!(&mut tx, |c| {
            let mut q = sqlx::query(&sql).bind(app_id).bind(now);
            for o in chunk {
                q = q.bind(o);
            }
            q.execute(c).await.map(|r| r.rows_affected())
        })?;
    }
    tx.commit().await
}

pub async fn has_sandbox_follower(
    db: &Db,
    app_id: &str,
    openid: &str,
) -> Result<bool, sqlx::Error> {
    // COUNT(*) is a BIGINT on both backends (a bare `SELECT 1` is an INT4 on Postgres).
    let found = on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM sandbox_followers WHERE app_id = $1 AND openid = $2"
    )
    .bind(app_id)
    .bind(openid)
    .fetch_one(p)
    .await)?;
    Ok(found > 0)
}

pub async fn sandbox_followers(
    db: &Db,
    app_id: &str,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT openid FROM sandbox_followers WHERE app_id = $1 \
         ORDER BY created_at DESC, openid LIMIT $2"
    )
    .bind(app_id)
    .bind(limit)
    .fetch_all(p)
    .await)
}
