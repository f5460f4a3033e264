//! SQL for the message log.

use std::fmt::Write as _;

use crate::on_pool;
use crate::on_tx;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Dialect, Tx};

/// One inbound message or event with the reply we gave it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRow {
    pub merchant_id: i64,
    pub account_id: i64,
    pub dedup_key: String,
    pub openid: String,
    /// `text`, `image`, … or `event:subscribe`, `event:click`, …
    pub kind: String,
    /// WeChat's CreateTime, in milliseconds.
    pub sent_at: Millis,
    pub received_at: Millis,
    /// The inbound XML as WeChat sent it (decrypted): derived state is rebuilt from it.
    pub body: String,
    /// The passive reply we answered with (plaintext XML, or `success`).
    pub reply: String,
}

/// What appending a row did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Logged {
    /// First delivery: logged under this id.
    New(i64),
    /// A retry (or a concurrent delivery) of a logged message: answer as we answered then.
    Duplicate { id: i64, reply: String },
}

const COLUMNS: usize = 9;

/// Appends rows in one transaction with one multi-row INSERT; duplicates of logged messages
/// (same account and dedup key) are not inserted and come back with the reply first given.
pub async fn append_batch(db: &Db, rows: &[LogRow]) -> Result<Vec<Logged>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut inserted = insert_new(&mut tx, rows).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        // Each inserted row answers one caller: a second copy of the same message in this
        // batch is a duplicate of the first.
        let id = inserted
            .iter()
            .position(|(a, k, _)| *a == row.account_id && *k == row.dedup_key)
            .map(|i| inserted.swap_remove(i).2);
        out.push(match id {
            Some(id) => Logged::New(id),
            None => {
                let (id, reply) = first_answer(&mut tx, row.account_id, &row.dedup_key).await?;
                Logged::Duplicate { id, reply }
            }
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// (account_id, dedup_key, id) of the rows that were new.
async fn insert_new(tx: &mut Tx, rows: &[LogRow]) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = String::with_capacity(200 + rows.len() * 60);
    sql.push_str(
        "INSERT INTO wx_messages (merchant_id, account_id, dedup_key, openid, kind, sent_at, \
         received_at, body, reply) VALUES ",
    );
    // SQLite gets anonymous `?` parameters: sqlx looks up every parameter's name before
    // binding it, and SQLite finds a name by walking a list of all the statement's names, so
    // numbered ones cost O(parameters²) per batch (3–5% of the callback's CPU at ~60 rows).
    let numbered = tx.dialect() == Dialect::Postgres;
    for i in 0..rows.len() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..COLUMNS {
            if c > 0 {
                sql.push(',');
            }
            if numbered {
                let _ = write!(sql, "${}", i * COLUMNS + c + 1);
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql.push_str(
        " ON CONFLICT (account_id, dedup_key) DO NOTHING RETURNING account_id, dedup_key, id",
    );
    on_tx!(tx, |c| {
        let mut q = sqlx::query_as::<_, (i64, String, i64)>(&sql);
        for r in rows {
            q = q
                .bind(r.merchant_id)
                .bind(r.account_id)
                .bind(&r.dedup_key)
                .bind(&r.openid)
                .bind(&r.kind)
                .bind(r.sent_at)
                .bind(r.received_at)
                .bind(&r.body)
                .bind(&r.reply);
        }
        q.fetch_all(c).await
    })
}

async fn first_answer(
    tx: &mut Tx,
    account_id: i64,
    dedup_key: &str,
) -> Result<(i64, String), sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_as::<_, (i64, String)>(
        "SELECT id, reply FROM wx_messages WHERE account_id = $1 AND dedup_key = $2"
    )
    .bind(account_id)
    .bind(dedup_key)
    .fetch_one(c)
    .await)
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MessageRow {
    pub id: i64,
    pub account_id: i64,
    pub openid: String,
    pub kind: String,
    pub sent_at: i64,
    pub received_at: i64,
    pub body: String,
    pub reply: String,
}

/// An account's newest messages, newest first; `before_id` pages back, `after_id` polls for
/// what arrived since.
pub async fn recent(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    after_id: i64,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<MessageRow>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, MessageRow>(
        "SELECT id, account_id, openid, kind, sent_at, received_at, body, reply FROM wx_messages \
         WHERE merchant_id = $1 AND account_id = $2 AND id > $3 AND id < $4 \
         ORDER BY id DESC LIMIT $5"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(after_id)
    .bind(before_id.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// A logged message as projections read it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct LoggedMessage {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: String,
    pub sent_at: i64,
    pub received_at: i64,
    pub body: String,
}

/// Log rows after `after_id`, in id order.
pub async fn read_after(
    tx: &mut Tx,
    after_id: i64,
    limit: i64,
) -> Result<Vec<LoggedMessage>, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_as::<_, LoggedMessage>(
        "SELECT id, merchant_id, account_id, openid, sent_at, received_at, body FROM wx_messages \
         WHERE id > $1 ORDER BY id LIMIT $2"
    )
    .bind(after_id)
    .bind(limit)
    .fetch_all(c)
    .await)
}
