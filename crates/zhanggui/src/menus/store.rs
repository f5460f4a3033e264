//! SQL for menus, their tap counters and the menu projection.

use crate::messages::store as log;
use crate::on_pool;
use crate::platform::db::{Db, Script, Value};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MenuRow {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    /// Our tags.id of a personalized menu; `None` for the default menu.
    pub tag_id: Option<i64>,
    /// The buttons as JSON (model::MenuButton).
    pub buttons: String,
    /// The buttons as WeChat last accepted them.
    pub published: Option<String>,
    pub published_at: Option<i64>,
    pub wx_menuid: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, merchant_id, account_id, tag_id, buttons, published, published_at, \
    wx_menuid, created_at, updated_at";

pub async fn insert(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    tag_id: Option<i64>,
    buttons: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO menus (merchant_id, account_id, tag_id, buttons, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) RETURNING id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(tag_id)
    .bind(buttons)
    .bind(now)
    .fetch_one(p)
    .await)
}

/// A menu of this merchant.
pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<Option<MenuRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM menus WHERE merchant_id = $1 AND id = $2");
    on_pool!(db, |p| sqlx::query_as::<_, MenuRow>(&sql)
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// An account's menus: the default one first, then personalized ones by id.
pub async fn list(db: &Db, merchant_id: i64, account_id: i64) -> Result<Vec<MenuRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM menus WHERE merchant_id = $1 AND account_id = $2 \
         ORDER BY CASE WHEN tag_id IS NULL THEN 0 ELSE 1 END, id"
    );
    on_pool!(db, |p| sqlx::query_as::<_, MenuRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .fetch_all(p)
        .await)
}

/// Every menu of the merchant (for the library's deletion guard).
pub async fn of_merchant(db: &Db, merchant_id: i64) -> Result<Vec<MenuRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM menus WHERE merchant_id = $1 ORDER BY id");
    on_pool!(db, |p| sqlx::query_as::<_, MenuRow>(&sql)
        .bind(merchant_id)
        .fetch_all(p)
        .await)
}

/// The published trees of an account's menus (for click replies).
pub async fn published_of(db: &Db, account_id: i64) -> Result<Vec<String>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT published FROM menus WHERE account_id = $1 AND published IS NOT NULL \
         ORDER BY CASE WHEN tag_id IS NULL THEN 0 ELSE 1 END, id"
    )
    .bind(account_id)
    .fetch_all(p)
    .await)
}

pub async fn update_buttons(
    db: &Db,
    merchant_id: i64,
    id: i64,
    buttons: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "UPDATE menus SET buttons = $1, updated_at = $2 WHERE merchant_id = $3 AND id = $4"
    )
    .bind(buttons)
    .bind(now)
    .bind(merchant_id)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Records what WeChat accepted.
pub async fn mark_published(
    db: &Db,
    merchant_id: i64,
    id: i64,
    published: &str,
    wx_menuid: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "UPDATE menus SET published = $1, published_at = $2, wx_menuid = $3 \
         WHERE merchant_id = $4 AND id = $5"
    )
    .bind(published)
    .bind(now)
    .bind(wx_menuid)
    .bind(merchant_id)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    bump_replies(db, merchant_id, id).await?;
    Ok(n == 1)
}

/// Forgets that one menu is at WeChat.
pub async fn mark_unpublished(db: &Db, merchant_id: i64, id: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE menus SET published = NULL, published_at = NULL, wx_menuid = NULL \
         WHERE merchant_id = $1 AND id = $2"
    )
    .bind(merchant_id)
    .bind(id)
    .execute(p)
    .await
    .map(|_| ()))?;
    bump_replies(db, merchant_id, id).await
}

/// The callback answers the published menus' click buttons from the account's reply index:
/// a publish makes every instance compile it again (replies/, `replies_version`).
async fn bump_replies(db: &Db, merchant_id: i64, menu_id: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE accounts SET replies_version = replies_version + 1 WHERE id = \
         (SELECT account_id FROM menus WHERE merchant_id = $1 AND id = $2)"
    )
    .bind(merchant_id)
    .bind(menu_id)
    .execute(p)
    .await
    .map(|_| ()))
}

pub async fn delete(db: &Db, merchant_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "DELETE FROM menus WHERE merchant_id = $1 AND id = $2"
    )
    .bind(merchant_id)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// (id, WeChat's tag id, name) of the account's tags.
pub async fn tags(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<(i64, i64, String)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, i64, String)>(
        "SELECT id, wx_tag_id, name FROM tags WHERE merchant_id = $1 AND account_id = $2 \
         ORDER BY name"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_all(p)
    .await)
}

/// (kind, target, taps) of the account, all time.
pub async fn taps(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, String, i64)>(
        "SELECT kind, target, CAST(SUM(clicks) AS BIGINT) FROM menu_clicks \
         WHERE merchant_id = $1 AND account_id = $2 GROUP BY kind, target"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_all(p)
    .await)
}

// ---- the projection ----

pub const PROJECTION: &str = "menus";

/// Taps of one button target on one day, to add to `menu_clicks`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TapCount {
    pub merchant_id: i64,
    pub account_id: i64,
    pub kind: String,
    pub target: String,
    pub day: String,
    pub clicks: i64,
}

/// Applies one pass as ONE transaction: the counters grow and the cursor moves from `from`
/// to `to`, or, when the cursor was no longer at `from` (a concurrent pass over the same rows
/// got there first), nothing happens and the answer is false. A pass with no taps only moves
/// the cursor, in one statement (channels::store::apply_pass says why).
pub async fn apply_pass(
    db: &Db,
    from: i64,
    to: i64,
    counts: &[TapCount],
) -> Result<bool, sqlx::Error> {
    if counts.is_empty() {
        return log::advance_cursor(db, PROJECTION, from, to).await;
    }
    let mut script = Script::new();
    for t in counts {
        script.push(
            "INSERT INTO menu_clicks (merchant_id, account_id, kind, target, day, clicks) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, kind, target, day) \
             DO UPDATE SET clicks = menu_clicks.clicks + excluded.clicks",
            vec![
                Value::Int(t.merchant_id),
                Value::Int(t.account_id),
                Value::Text(t.kind.clone()),
                Value::Text(t.target.clone()),
                Value::Text(t.day.clone()),
                Value::Int(t.clicks),
            ],
        );
    }
    log::commit_pass(db, script, PROJECTION, from, to).await
}

/// (account id, merchant id, merchant's time zone) of the accounts named.
pub async fn account_zones(
    db: &Db,
    account_ids: &[i64],
) -> Result<Vec<(i64, i64, String)>, sqlx::Error> {
    if account_ids.is_empty() {
        return Ok(vec![]);
    }
    let params: Vec<String> = (1..=account_ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT a.id, a.merchant_id, m.timezone FROM accounts a \
         JOIN merchants m ON m.id = a.merchant_id WHERE a.id IN ({})",
        params.join(", ")
    );
    on_pool!(db, |p| {
        let mut q = sqlx::query_as::<_, (i64, i64, String)>(&sql);
        for id in account_ids {
            q = q.bind(*id);
        }
        q.fetch_all(p).await
    })
}
