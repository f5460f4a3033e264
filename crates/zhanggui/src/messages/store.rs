//! SQL for the message log.

use std::fmt::Write as _;

pub use super::settled::{Settled, settled};
use super::tap::{LogTap, TapRows};
use crate::on_pool;
use crate::on_tx;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Dialect, Script, Tx, Value};

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
    /// The passive reply we answered with (plaintext XML, or `success`). The callback keeps a
    /// reply message without its header (`wechat::reply::without_header`): the row's
    /// `openid`, the account in `body` and `received_at` give it back (`with_header`).
    pub reply: String,
    /// Which reply rule answered (replies::model::Route), '' when none was asked.
    pub route: String,
    /// Not stored: the words of a text no rule matched, as the callback read them
    /// (`replies::model::unmatched_text`), so that the replies projection counts them from the
    /// log's tap, which keeps no body of a text (rows read back from the database have `None`
    /// and their body is parsed again). Set by the callback whenever the committer has a tap
    /// and no rule matched: `None` there means the message has no words to count.
    pub unmatched_text: Option<String>,
}

/// What appending a row did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Logged {
    /// First delivery: logged under this id.
    New(i64),
    /// A retry (or a concurrent delivery) of a logged message: answer as we answered then.
    /// `reply` is as the log keeps it (`wechat::reply::without_header`); `received_at` is
    /// when that answer was given, the time its header carried.
    Duplicate {
        id: i64,
        reply: String,
        received_at: i64,
    },
}

/// The values a log row binds, in the order of the INSERTs' columns.
pub(super) const COLUMNS: usize = 10;

/// Appends rows through the pool; duplicates of logged messages (same account and dedup
/// key) are not inserted and come back with the reply first given. (On a SQLite file the log
/// writer uses its own connection instead: sqlite_log.rs.)
pub async fn append_batch(db: &Db, rows: &[LogRow]) -> Result<Vec<Logged>, sqlx::Error> {
    match db {
        Db::Postgres(pool) => append_unnest(pool, rows).await,
        Db::Sqlite(_) => append_in_transaction(db, rows).await,
    }
}

/// One statement, committed on its own (one round trip): the columns go as arrays, so it is
/// prepared once whatever the batch's size. A conflicting row of a concurrent transaction is
/// waited for by `ON CONFLICT`, so the follow-up read of first answers finds it committed.
async fn append_unnest(pool: &sqlx::PgPool, rows: &[LogRow]) -> Result<Vec<Logged>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let ints = |f: fn(&LogRow) -> i64| rows.iter().map(f).collect::<Vec<i64>>();
    let texts = |f: fn(&LogRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let inserted: Vec<(i64, String, i64)> = sqlx::query_as(
        "INSERT INTO wx_messages (merchant_id, account_id, dedup_key, openid, kind, sent_at, \
         received_at, body, reply, route) SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], \
         $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::TEXT[], $9::TEXT[], \
         $10::TEXT[]) \
         ON CONFLICT (account_id, dedup_key) DO NOTHING RETURNING account_id, dedup_key, id",
    )
    .bind(ints(|r| r.merchant_id))
    .bind(ints(|r| r.account_id))
    .bind(texts(|r| &r.dedup_key))
    .bind(texts(|r| &r.openid))
    .bind(texts(|r| &r.kind))
    .bind(ints(|r| r.sent_at))
    .bind(ints(|r| r.received_at))
    .bind(texts(|r| &r.body))
    .bind(texts(|r| &r.reply))
    .bind(texts(|r| &r.route))
    .fetch_all(pool)
    .await?;
    let mut new: std::collections::HashMap<(i64, &str), i64> = inserted
        .iter()
        .map(|(a, k, id)| ((*a, k.as_str()), *id))
        .collect();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        // Each inserted row answers one caller: a second copy of the same message in this
        // batch is a duplicate of the first.
        out.push(
            match new.remove(&(row.account_id, row.dedup_key.as_str())) {
                Some(id) => Logged::New(id),
                None => {
                    let first = sqlx::query_as::<_, FirstAnswer>(FIRST_ANSWER)
                        .bind(row.account_id)
                        .bind(&row.dedup_key)
                        .fetch_one(pool)
                        .await?;
                    duplicate_of(first)
                }
            },
        );
    }
    Ok(out)
}

const FIRST_ANSWER: &str = "SELECT id, reply, received_at FROM wx_messages \
     WHERE account_id = $1 AND dedup_key = $2";

/// What `FIRST_ANSWER` reads: (id, reply, received_at).
pub(super) type FirstAnswer = (i64, String, i64);

/// The first answer as every backend gives it: a reply the SQLite committer kept with short
/// tags (`wechat::kept::markup`) has them whole again.
pub(super) fn duplicate_of((id, reply, received_at): FirstAnswer) -> Logged {
    let reply = match wechat::kept::whole(&reply) {
        std::borrow::Cow::Owned(whole) => whole,
        std::borrow::Cow::Borrowed(_) => reply,
    };
    Logged::Duplicate {
        id,
        reply,
        received_at,
    }
}

/// One multi-row INSERT in one transaction (the pool's SQLite, i.e. in-memory databases).
async fn append_in_transaction(db: &Db, rows: &[LogRow]) -> Result<Vec<Logged>, sqlx::Error> {
    let mut tx = db.begin().await?;
    let mut inserted = insert_new(&mut tx, rows).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let id = inserted
            .iter()
            .position(|(a, k, _)| *a == row.account_id && *k == row.dedup_key)
            .map(|i| inserted.swap_remove(i).2);
        out.push(match id {
            Some(id) => Logged::New(id),
            None => duplicate_of(first_answer(&mut tx, row.account_id, &row.dedup_key).await?),
        });
    }
    tx.commit().await?;
    Ok(out)
}

/// Appends `rows` rows of COLUMNS placeholders each to a `VALUES` clause: PostgreSQL's
/// numbered `$n` when `numbered`, else anonymous `?`.
pub(super) fn push_value_rows(sql: &mut String, rows: usize, numbered: bool) {
    for i in 0..rows {
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
}

/// (account_id, dedup_key, id) of the rows that were new.
async fn insert_new(tx: &mut Tx, rows: &[LogRow]) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let mut sql = String::with_capacity(200 + rows.len() * 60);
    sql.push_str(
        "INSERT INTO wx_messages (merchant_id, account_id, dedup_key, openid, kind, sent_at, \
         received_at, body, reply, route) VALUES ",
    );
    // SQLite gets anonymous `?` parameters: sqlx looks up every parameter's name before
    // binding it, and SQLite finds a name by walking a list of all the statement's names, so
    // numbered ones cost O(parameters²) per batch (3–5% of the callback's CPU at ~60 rows).
    push_value_rows(&mut sql, rows.len(), tx.dialect() == Dialect::Postgres);
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
                .bind(&r.reply)
                .bind(&r.route);
        }
        q.fetch_all(c).await
    })
}

async fn first_answer(
    tx: &mut Tx,
    account_id: i64,
    dedup_key: &str,
) -> Result<FirstAnswer, sqlx::Error> {
    on_tx!(tx, |c| sqlx::query_as::<_, FirstAnswer>(FIRST_ANSWER)
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

impl MessageRow {
    /// The row with its body as WeChat sent it ([`whole_body`]).
    pub fn with_whole_body(mut self) -> MessageRow {
        whole_body(&mut self.body, &self.openid, self.sent_at);
        self
    }
}

/// Puts back into a body read from the log what the log's SQLite committer leaves out of
/// it (`wechat::kept::message`): the sender's and the time's elements, which the row's
/// `openid` and `sent_at` columns hold, and the tags' full text. A body kept whole stays as
/// it is. Every query that reads `wx_messages.body` passes it through this.
pub fn whole_body(body: &mut String, openid: &str, sent_at: Millis) {
    if let std::borrow::Cow::Owned(whole) =
        wechat::kept::whole_message(body, openid, sent_at / 1000)
    {
        *body = whole;
    }
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
    .map(|rows| rows.into_iter().map(MessageRow::with_whole_body).collect())
}

/// The next stretch of the log a projection reads: rows after `after_id` up to `upto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogRange {
    pub after_id: i64,
    pub upto: i64,
    /// True when the stretch was cut at the reader's limit (there is more to read now).
    pub full: bool,
}

impl LogRange {
    /// The stretch cut at `last_id` (past `after_id`) when it reaches further, and then
    /// `full`: the rest is there to read now.
    pub fn ending_by(self, last_id: i64) -> LogRange {
        if self.upto <= last_id {
            return self;
        }
        LogRange {
            upto: last_id,
            full: true,
            ..self
        }
    }
}

/// Rows a projection handles before it lets the callbacks run: a pass takes up to 16,384
/// rows at once (a few milliseconds of parsing and counting), and on one core the runtime's
/// thread is the callbacks' too, so a pass done in one go is a stall every callback in
/// flight waits out (the tail of BENCHMARKS "The callback endpoint").
pub const ROWS_BETWEEN_YIELDS: usize = 256;

/// How far one projection of the log is behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectionLag {
    pub name: String,
    /// Log rows past its cursor.
    pub rows: i64,
    /// When the oldest of those rows was received; `None` when it has read them all.
    pub oldest_received_at: Option<Millis>,
}

/// Every projection's [`ProjectionLag`], by name: a seek by id each, whatever the log's size.
pub async fn projection_lags(db: &Db) -> Result<Vec<ProjectionLag>, sqlx::Error> {
    let rows: Vec<(String, i64, Option<i64>)> = on_pool!(db, |p| sqlx::query_as(
        "SELECT p.name, COALESCE((SELECT MAX(id) FROM wx_messages), 0) - p.last_id, \
                (SELECT m.received_at FROM wx_messages m WHERE m.id > p.last_id \
                 ORDER BY m.id LIMIT 1) \
         FROM log_projections p ORDER BY p.name"
    )
    .fetch_all(p)
    .await)?;
    Ok(rows
        .into_iter()
        .map(|(name, rows, oldest_received_at)| ProjectionLag {
            name,
            rows: rows.max(0),
            oldest_received_at,
        })
        .collect())
}

/// Where the projection of the log named `name` has read up to (`log_projections`).
pub async fn cursor(db: &Db, name: &str) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT last_id FROM log_projections WHERE name = $1"
    )
    .bind(name)
    .fetch_one(p)
    .await)
}

/// Moves the cursor from `from` to `to`; false when it was no longer at `from` (another
/// instance projected those rows, or the projection is being rebuilt).
pub async fn advance_cursor(db: &Db, name: &str, from: i64, to: i64) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "UPDATE log_projections SET last_id = $1 WHERE name = $2 AND last_id = $3"
    )
    .bind(to)
    .bind(name)
    .bind(from)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Commits a projection's pass: `script`, then the move of cursor `name` from `from` to `to`,
/// as one transaction (platform::db::Script: on SQLite the write lock is never held across
/// a wait for the runtime). False, with nothing written, when the cursor was no longer at
/// `from` (another instance or a rebuild got there first).
pub async fn commit_pass(
    db: &Db,
    mut script: Script,
    name: &str,
    from: i64,
    to: i64,
) -> Result<bool, sqlx::Error> {
    // Last, and failing the whole script (a NOT NULL violation) when the cursor moved on.
    script.push(
        "UPDATE log_projections SET last_id = CASE WHEN last_id = ? THEN ? END WHERE name = ?",
        vec![
            Value::Int(from),
            Value::Int(to),
            Value::Text(name.to_string()),
        ],
    );
    match db.run_script(script).await {
        Ok(()) => Ok(true),
        Err(_) if cursor(db, name).await? != from => Ok(false),
        Err(e) => Err(e),
    }
}

/// The next (at most) `limit` rows after `after_id`, up to where the log is `settled`;
/// `None` when there is nothing to read.
pub async fn next_range(
    db: &Db,
    after_id: i64,
    limit: i64,
    settled: Settled,
) -> Result<Option<LogRange>, sqlx::Error> {
    let settled_upto = match settled {
        Settled::Everything => return next_id_span(db, after_id, limit).await,
        Settled::UpTo(id) if id <= after_id => return Ok(None),
        Settled::UpTo(id) => id,
    };
    let (count, last) = on_pool!(db, |p| sqlx::query_as::<_, (i64, Option<i64>)>(
        "SELECT COUNT(*), MAX(id) FROM \
         (SELECT id FROM wx_messages WHERE id > $1 AND id <= $3 ORDER BY id LIMIT $2) AS next"
    )
    .bind(after_id)
    .bind(limit)
    .bind(settled_upto)
    .fetch_one(p)
    .await)?;
    Ok(last.map(|upto| LogRange {
        after_id,
        upto,
        full: count == limit,
    }))
}

/// Without rows to wait for, a range of at most `limit` ids is enough, and the newest id is
/// one index lookup (counting rows would read them all).
async fn next_id_span(db: &Db, after_id: i64, limit: i64) -> Result<Option<LogRange>, sqlx::Error> {
    let newest = on_pool!(db, |p| sqlx::query_scalar::<_, Option<i64>>(
        "SELECT MAX(id) FROM wx_messages"
    )
    .fetch_one(p)
    .await)?
    .unwrap_or(0);
    let upto = newest.min(after_id.saturating_add(limit));
    Ok((upto > after_id).then_some(LogRange {
        after_id,
        upto,
        full: newest > upto,
    }))
}

/// A range of the log as a projection reads it: from the committer's tap when that holds
/// every row of the range (tap.rs), else from the database.
pub struct Stretch<'a> {
    db: &'a Db,
    pub range: LogRange,
    tapped: Option<TapRows>,
}

impl<'a> Stretch<'a> {
    /// `projection` names the reader in the metrics (how many passes memory served).
    pub fn new(
        db: &'a Db,
        tap: Option<&LogTap>,
        projection: &'static str,
        range: LogRange,
    ) -> Stretch<'a> {
        let tapped = tap.and_then(|t| {
            t.reading(projection, range.after_id);
            t.covering(range)
        });
        let from = if tapped.is_some() {
            "memory"
        } else {
            "database"
        };
        metrics::counter!("zhanggui_projection_reads_total", "projection" => projection, "from" => from)
            .increment(1);
        Stretch { db, range, tapped }
    }

    /// The rows, when the tap holds them.
    pub fn tapped(&self) -> Option<&TapRows> {
        self.tapped.as_ref()
    }

    /// The rows, when the tap holds them, for a reader that keeps them past the stretch.
    pub fn into_tapped(self) -> Option<TapRows> {
        self.tapped
    }

    /// Every sender of the range, summed up (`senders`).
    pub async fn senders(&self, kinds: &[&str]) -> Result<Vec<SenderSummary>, sqlx::Error> {
        match &self.tapped {
            Some(rows) => Ok(rows.senders(kinds).await),
            None => senders(self.db, self.range, kinds).await,
        }
    }

    /// The rows whose kind is one of `kinds`, in id order (`of_kinds`).
    pub async fn of_kinds(&self, kinds: &[&str]) -> Result<Vec<LoggedMessage>, sqlx::Error> {
        match self.tapped.as_ref().and_then(|rows| rows.of_kinds(kinds)) {
            Some(rows) => Ok(rows),
            None => of_kinds(self.db, self.range, kinds).await,
        }
    }
}

/// One sender's messages in a range, summed up: when they first and last wrote, and whether
/// any of them is of the kinds asked for.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SenderSummary {
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: String,
    pub first_at: i64,
    pub last_at: i64,
    pub first_id: i64,
    pub last_id: i64,
    pub of_kinds: bool,
}

/// Every sender of a range with the times and ids of their first and last message, grouped
/// by the database (a sender who wrote a hundred times is one row here), and whether they
/// sent anything of `kinds`.
pub async fn senders(
    db: &Db,
    range: LogRange,
    kinds: &[&str],
) -> Result<Vec<SenderSummary>, sqlx::Error> {
    let sql = format!(
        "SELECT merchant_id, account_id, openid, MIN(sent_at) AS first_at, \
         MAX(sent_at) AS last_at, MIN(id) AS first_id, MAX(id) AS last_id, \
         MAX(CASE WHEN kind IN ({}) THEN 1 ELSE 0 END) = 1 AS of_kinds \
         FROM wx_messages WHERE id > $1 AND id <= $2 GROUP BY merchant_id, account_id, openid",
        kind_params(kinds)
    );
    on_pool!(db, |p| {
        let mut q = sqlx::query_as::<_, SenderSummary>(&sql)
            .bind(range.after_id)
            .bind(range.upto);
        for kind in kinds {
            q = q.bind(*kind);
        }
        q.fetch_all(p).await
    })
}

/// `$3, $4, …` for `kinds` (after the range's two parameters); `NULL` for none, which
/// matches nothing.
fn kind_params(kinds: &[&str]) -> String {
    if kinds.is_empty() {
        return "NULL".to_string();
    }
    let params: Vec<String> = (0..kinds.len()).map(|i| format!("${}", i + 3)).collect();
    params.join(", ")
}

/// A logged message read in full by a projection.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LoggedMessage {
    pub id: i64,
    pub account_id: i64,
    pub openid: String,
    pub kind: String,
    pub sent_at: i64,
    pub body: String,
}

/// The rows of a range whose kind is one of `kinds`, in id order.
pub async fn of_kinds(
    db: &Db,
    range: LogRange,
    kinds: &[&str],
) -> Result<Vec<LoggedMessage>, sqlx::Error> {
    if kinds.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT id, account_id, openid, kind, sent_at, body FROM wx_messages \
         WHERE id > $1 AND id <= $2 AND kind IN ({}) ORDER BY id",
        kind_params(kinds)
    );
    on_pool!(db, |p| {
        let mut q = sqlx::query_as::<_, LoggedMessage>(&sql)
            .bind(range.after_id)
            .bind(range.upto);
        for kind in kinds {
            q = q.bind(*kind);
        }
        q.fetch_all(p).await
    })
    .map(|mut rows| {
        for m in &mut rows {
            whole_body(&mut m.body, &m.openid, m.sent_at);
        }
        rows
    })
}
