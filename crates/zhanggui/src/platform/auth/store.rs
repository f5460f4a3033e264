//! SQL for users, memberships (a user's role in a merchant) and sessions.

use crate::platform::clock::Millis;
use crate::platform::db::{Db, Tx};
use crate::{on_pool, on_tx};

use super::model::Role;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_platform_admin: bool,
    pub lang: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub disabled: bool,
    pub created_at: i64,
}

const USER_COLUMNS: &str = "id, username, display_name, password_hash, is_platform_admin, lang, \
     failed_logins, locked_until, disabled, created_at";

/// A session joined with its user: everything the auth middleware needs in one query.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub token_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub merchant_id: Option<i64>,
    pub account_id: Option<i64>,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub username: String,
    pub display_name: String,
    pub is_platform_admin: bool,
    pub disabled: bool,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MembershipRow {
    pub merchant_id: i64,
    pub merchant_name: String,
    pub role: String,
}

impl MembershipRow {
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub is_platform_admin: bool,
}

pub async fn insert_user(tx: &mut Tx, u: &NewUser<'_>, now: Millis) -> Result<i64, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO users (username, display_name, password_hash, is_platform_admin, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id"
    )
    .bind(u.username)
    .bind(u.display_name)
    .bind(u.password_hash)
    .bind(u.is_platform_admin)
    .bind(now)
    .fetch_one(c)
    .await)
}

pub async fn user_by_username(db: &Db, username: &str) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
    on_pool!(db, |p| sqlx::query_as::<_, UserRow>(&sql)
        .bind(username)
        .fetch_optional(p)
        .await)
}

pub async fn user_by_id(db: &Db, id: i64) -> Result<Option<UserRow>, sqlx::Error> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    on_pool!(db, |p| sqlx::query_as::<_, UserRow>(&sql)
        .bind(id)
        .fetch_optional(p)
        .await)
}

pub async fn record_failed_login(
    db: &Db,
    user_id: i64,
    failed: i64,
    locked_until: Option<Millis>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE users SET failed_logins = $1, locked_until = $2 WHERE id = $3"
    )
    .bind(failed)
    .bind(locked_until)
    .bind(user_id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn clear_failed_logins(db: &Db, user_id: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1"
    )
    .bind(user_id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_password_hash(db: &Db, user_id: i64, hash: &str) -> Result<bool, sqlx::Error> {
    let done = on_pool!(db, |p| {
        sqlx::query(
        "UPDATE users SET password_hash = $1, failed_logins = 0, locked_until = NULL WHERE id = $2"
    )
    .bind(hash)
    .bind(user_id)
    .execute(p)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(done == 1)
}

pub async fn set_user_lang(db: &Db, user_id: i64, lang: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE users SET lang = $1 WHERE id = $2"
    )
    .bind(lang)
    .bind(user_id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_user_disabled(
    db: &Db,
    merchant_id: i64,
    user_id: i64,
    disabled: bool,
) -> Result<bool, sqlx::Error> {
    // Only a user who belongs to this merchant can be disabled from it.
    let done = on_pool!(db, |p| sqlx::query(
        "UPDATE users SET disabled = $1 WHERE id = $2 AND EXISTS \
         (SELECT 1 FROM memberships m WHERE m.user_id = $2 AND m.merchant_id = $3)"
    )
    .bind(disabled)
    .bind(user_id)
    .bind(merchant_id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

pub async fn upsert_membership(
    tx: &mut Tx,
    merchant_id: i64,
    user_id: i64,
    role: Role,
    now: Millis,
) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| sqlx::query(
        "INSERT INTO memberships (merchant_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (merchant_id, user_id) DO UPDATE SET role = excluded.role"
    )
    .bind(merchant_id)
    .bind(user_id)
    .bind(role.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The merchants a user works for, by name.
pub async fn memberships_of(db: &Db, user_id: i64) -> Result<Vec<MembershipRow>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, MembershipRow>(
        "SELECT m.merchant_id, x.name AS merchant_name, m.role FROM memberships m \
         JOIN merchants x ON x.id = m.merchant_id WHERE m.user_id = $1 ORDER BY x.name, x.id"
    )
    .bind(user_id)
    .fetch_all(p)
    .await)
}

pub async fn role_in(db: &Db, user_id: i64, merchant_id: i64) -> Result<Option<Role>, sqlx::Error> {
    let role: Option<String> = on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT role FROM memberships WHERE user_id = $1 AND merchant_id = $2"
    )
    .bind(user_id)
    .bind(merchant_id)
    .fetch_optional(p)
    .await)?;
    Ok(role.as_deref().and_then(Role::parse))
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StaffRow {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub disabled: bool,
    pub locked_until: Option<i64>,
    pub created_at: i64,
}

pub async fn staff_of(db: &Db, merchant_id: i64) -> Result<Vec<StaffRow>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, StaffRow>(
        "SELECT u.id AS user_id, u.username, u.display_name, m.role, u.disabled, u.locked_until, \
         m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
         WHERE m.merchant_id = $1 ORDER BY m.created_at, u.id"
    )
    .bind(merchant_id)
    .fetch_all(p)
    .await)
}

pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub user_id: i64,
    pub csrf_token: &'a str,
    pub merchant_id: Option<i64>,
}

pub async fn insert_session(
    db: &Db,
    s: &NewSession<'_>,
    now: Millis,
    expires_at: Millis,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, merchant_id, created_at, \
         last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $5, $6)"
    )
    .bind(s.token_hash)
    .bind(s.user_id)
    .bind(s.csrf_token)
    .bind(s.merchant_id)
    .bind(now)
    .bind(expires_at)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn session_by_hash(
    db: &Db,
    token_hash: &str,
    now: Millis,
) -> Result<Option<SessionRow>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, SessionRow>(
        "SELECT s.token_hash, s.user_id, s.csrf_token, s.merchant_id, s.account_id, \
         s.last_seen_at, s.expires_at, u.username, u.display_name, u.is_platform_admin, u.disabled \
         FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.token_hash = $1 AND s.expires_at > $2"
    )
    .bind(token_hash)
    .bind(now)
    .fetch_optional(p)
    .await)
}

pub async fn touch_session(
    db: &Db,
    token_hash: &str,
    now: Millis,
    expires_at: Millis,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3"
    )
    .bind(now)
    .bind(expires_at)
    .bind(token_hash)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_session_context(
    db: &Db,
    token_hash: &str,
    merchant_id: Option<i64>,
    account_id: Option<i64>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE sessions SET merchant_id = $1, account_id = $2 WHERE token_hash = $3"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(token_hash)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "DELETE FROM sessions WHERE token_hash = $1"
    )
    .bind(token_hash)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Signs a user out everywhere but here (after a password change) or everywhere.
pub async fn delete_sessions_of(
    db: &Db,
    user_id: i64,
    except_hash: Option<&str>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2"
    )
    .bind(user_id)
    .bind(except_hash.unwrap_or(""))
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn purge_expired_sessions(db: &Db, now: Millis) -> Result<u64, sqlx::Error> {
    let done = on_pool!(db, |p| sqlx::query(
        "DELETE FROM sessions WHERE expires_at <= $1"
    )
    .bind(now)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(done)
}
