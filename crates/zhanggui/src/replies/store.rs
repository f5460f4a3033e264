//! SQL for reply rules, reply settings, hit counts, unmatched messages, hand-offs and the
//! replies projection's passes.

use std::collections::BTreeMap;

use super::model::{RuleInput, Settings};
use crate::messages::store as log;
use crate::messages::tap::TapRows;
use crate::platform::db::{Db, Script, Tx, Value};
use crate::platform::jobs::{self, NewJob};
use crate::{on_pool, on_tx};

pub const PROJECTION: &str = "replies";
/// The hit counts' own projection (`replies::hits`).
pub const HITS: &str = "reply_hits";

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RuleRow {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub kind: String,
    pub name: String,
    pub priority: i64,
    pub reply_mode: String,
    pub enabled: bool,
    pub keywords: String,
    pub triggers: String,
    pub schedule: String,
    pub replies: String,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, merchant_id, account_id, kind, name, priority, reply_mode, enabled, \
    keywords, triggers, schedule, replies, created_at, updated_at";

/// The JSON columns of a rule.
struct Encoded {
    keywords: String,
    triggers: String,
    schedule: String,
    replies: String,
}

fn encode(r: &RuleInput) -> Encoded {
    let json = |v: serde_json::Result<String>| v.unwrap_or_else(|_| "[]".into());
    Encoded {
        keywords: json(serde_json::to_string(&r.keywords)),
        triggers: json(serde_json::to_string(&r.triggers)),
        schedule: serde_json::to_string(&r.schedule).unwrap_or_else(|_| "{}".into()),
        replies: json(serde_json::to_string(&r.replies)),
    }
}

/// Tells every instance to recompile the account's index (directory.rs compares versions).
pub async fn bump_version(tx: &mut Tx, account_id: i64) -> Result<(), sqlx::Error> {
    on_tx!(tx, |c| sqlx::query(
        "UPDATE accounts SET replies_version = replies_version + 1 WHERE id = $1"
    )
    .bind(account_id)
    .execute(c)
    .await
    .map(|_| ()))
}

/// Recompiles every account of a merchant (their rules may send a library item that changed).
pub async fn bump_merchant(db: &Db, merchant_id: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "UPDATE accounts SET replies_version = replies_version + 1 WHERE merchant_id = $1"
    )
    .bind(merchant_id)
    .execute(p)
    .await
    .map(|_| ()))
}

pub async fn insert(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    r: &RuleInput,
    now: i64,
) -> Result<i64, sqlx::Error> {
    let e = encode(r);
    let mut tx = db.begin().await?;
    let id = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "INSERT INTO reply_rules (merchant_id, account_id, kind, name, priority, reply_mode, \
         enabled, keywords, triggers, schedule, replies, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) RETURNING id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(r.kind.as_str())
    .bind(&r.name)
    .bind(r.priority)
    .bind(r.reply_mode.as_str())
    .bind(r.enabled)
    .bind(&e.keywords)
    .bind(&e.triggers)
    .bind(&e.schedule)
    .bind(&e.replies)
    .bind(now)
    .fetch_one(c)
    .await)?;
    bump_version(&mut tx, account_id).await?;
    tx.commit().await?;
    Ok(id)
}

/// Replaces a rule's content; false when the merchant has no such rule.
pub async fn update(
    db: &Db,
    merchant_id: i64,
    id: i64,
    r: &RuleInput,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let e = encode(r);
    let mut tx = db.begin().await?;
    let account = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "UPDATE reply_rules SET name = $3, priority = $4, reply_mode = $5, enabled = $6, \
         keywords = $7, triggers = $8, schedule = $9, replies = $10, updated_at = $11 \
         WHERE merchant_id = $1 AND id = $2 RETURNING account_id"
    )
    .bind(merchant_id)
    .bind(id)
    .bind(&r.name)
    .bind(r.priority)
    .bind(r.reply_mode.as_str())
    .bind(r.enabled)
    .bind(&e.keywords)
    .bind(&e.triggers)
    .bind(&e.schedule)
    .bind(&e.replies)
    .bind(now)
    .fetch_optional(c)
    .await)?;
    finish_change(tx, account).await
}

pub async fn set_enabled(
    db: &Db,
    merchant_id: i64,
    id: i64,
    enabled: bool,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let account = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "UPDATE reply_rules SET enabled = $3, updated_at = $4 \
         WHERE merchant_id = $1 AND id = $2 RETURNING account_id"
    )
    .bind(merchant_id)
    .bind(id)
    .bind(enabled)
    .bind(now)
    .fetch_optional(c)
    .await)?;
    finish_change(tx, account).await
}

pub async fn delete(db: &Db, merchant_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin().await?;
    let account = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
        "DELETE FROM reply_rules WHERE merchant_id = $1 AND id = $2 RETURNING account_id"
    )
    .bind(merchant_id)
    .bind(id)
    .fetch_optional(c)
    .await)?;
    finish_change(tx, account).await
}

/// Bumps the account's version and commits when a row changed; rolls back otherwise (flows
/// change the index too).
pub async fn finish_change(mut tx: Tx, account: Option<i64>) -> Result<bool, sqlx::Error> {
    match account {
        Some(account_id) => {
            bump_version(&mut tx, account_id).await?;
            tx.commit().await?;
            Ok(true)
        }
        None => {
            tx.rollback().await?;
            Ok(false)
        }
    }
}

pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<Option<RuleRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM reply_rules WHERE merchant_id = $1 AND id = $2");
    on_pool!(db, |p| sqlx::query_as::<_, RuleRow>(&sql)
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// Every rule of an account, newest first.
pub async fn list(db: &Db, merchant_id: i64, account_id: i64) -> Result<Vec<RuleRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reply_rules WHERE merchant_id = $1 AND account_id = $2 \
         ORDER BY id DESC"
    );
    on_pool!(db, |p| sqlx::query_as::<_, RuleRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .fetch_all(p)
        .await)
}

/// The enabled rules of an account, for its index.
pub async fn enabled_rules(db: &Db, account_id: i64) -> Result<Vec<RuleRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM reply_rules WHERE account_id = $1 AND enabled = $2 ORDER BY id"
    );
    on_pool!(db, |p| sqlx::query_as::<_, RuleRow>(&sql)
        .bind(account_id)
        .bind(true)
        .fetch_all(p)
        .await)
}

/// (rule id, name) of the merchant's rules that send a library item.
pub async fn rules_sending_item(
    db: &Db,
    merchant_id: i64,
    item_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    rules_with_reply(db, merchant_id, &format!("\"item_id\":{item_id}}}")).await
}

/// (rule id, name) of the merchant's rules whose replies hold `json` (a fragment such as
/// `"item_id":7}`). The replies column is our own JSON (`{"type":"library","item_id":7}`),
/// so an id followed by the closing brace names it exactly.
pub async fn rules_with_reply(
    db: &Db,
    merchant_id: i64,
    json: &str,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let pattern = format!("%{json}%");
    on_pool!(db, |p| sqlx::query_as::<_, (i64, String)>(
        "SELECT id, name FROM reply_rules WHERE merchant_id = $1 AND replies LIKE $2 ORDER BY id"
    )
    .bind(merchant_id)
    .bind(&pattern)
    .fetch_all(p)
    .await)
}

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SettingsRow {
    pub courtesy_hourly: bool,
    pub handoff_words: String,
    pub handoff_reply: String,
}

impl SettingsRow {
    pub fn settings(&self) -> Settings {
        Settings {
            courtesy_hourly: self.courtesy_hourly,
            handoff_words: serde_json::from_str(&self.handoff_words).unwrap_or_default(),
            handoff_reply: self.handoff_reply.clone(),
        }
    }
}

/// The account's settings, the defaults when it never changed them.
pub async fn settings(db: &Db, account_id: i64) -> Result<Settings, sqlx::Error> {
    let row = on_pool!(db, |p| sqlx::query_as::<_, SettingsRow>(
        "SELECT courtesy_hourly, handoff_words, handoff_reply FROM reply_settings \
         WHERE account_id = $1"
    )
    .bind(account_id)
    .fetch_optional(p)
    .await)?;
    Ok(row.map(|r| r.settings()).unwrap_or_default())
}

pub async fn save_settings(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    s: &Settings,
    now: i64,
) -> Result<(), sqlx::Error> {
    let words = serde_json::to_string(&s.handoff_words).unwrap_or_else(|_| "[]".into());
    let mut tx = db.begin().await?;
    on_tx!(&mut tx, |c| sqlx::query(
        "INSERT INTO reply_settings (account_id, merchant_id, courtesy_hourly, handoff_words, \
         handoff_reply, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (account_id) DO UPDATE SET courtesy_hourly = excluded.courtesy_hourly, \
         handoff_words = excluded.handoff_words, handoff_reply = excluded.handoff_reply, \
         updated_at = excluded.updated_at"
    )
    .bind(account_id)
    .bind(merchant_id)
    .bind(s.courtesy_hourly)
    .bind(&words)
    .bind(&s.handoff_reply)
    .bind(now)
    .execute(c)
    .await
    .map(|_| ()))?;
    bump_version(&mut tx, account_id).await?;
    tx.commit().await
}

/// (rule id, hits) of an account's rules since `from_day` (YYYY-MM-DD, the merchant's days).
pub async fn hits_by_rule(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    from_day: &str,
) -> Result<Vec<(i64, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, i64)>(
        "SELECT rule_id, CAST(SUM(hits) AS BIGINT) FROM reply_hits \
         WHERE merchant_id = $1 AND account_id = $2 AND day >= $3 GROUP BY rule_id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(from_day)
    .fetch_all(p)
    .await)
}

/// (keyword, hits) of one rule since `from_day`, most hit first.
pub async fn hits_by_keyword(
    db: &Db,
    merchant_id: i64,
    rule_id: i64,
    from_day: &str,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, i64)>(
        "SELECT keyword, CAST(SUM(hits) AS BIGINT) AS n FROM reply_hits \
         WHERE merchant_id = $1 AND rule_id = $2 AND day >= $3 GROUP BY keyword \
         ORDER BY n DESC, keyword"
    )
    .bind(merchant_id)
    .bind(rule_id)
    .bind(from_day)
    .fetch_all(p)
    .await)
}

/// The texts no rule matched since the hour (UTC) of `since`, most frequent first: (text,
/// messages, when the last was sent).
pub async fn top_unmatched(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    since: i64,
    limit: i64,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT text, CAST(SUM(messages) AS BIGINT) AS n, MAX(last_at) AS last \
         FROM reply_unmatched_texts \
         WHERE merchant_id = $1 AND account_id = $2 AND hour >= $3 \
         GROUP BY text ORDER BY n DESC, last DESC LIMIT $4"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(since.div_euclid(HOUR_MS))
    .bind(limit)
    .fetch_all(p)
    .await)
}

/// When the follower asked for a person, if they are waiting for one.
pub async fn handoff_of(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
) -> Result<Option<i64>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT requested_at FROM follower_handoffs \
         WHERE merchant_id = $1 AND account_id = $2 AND openid = $3"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(openid)
    .fetch_optional(p)
    .await)
}

/// Marks the follower's request for a person as dealt with.
pub async fn clear_handoff(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
) -> Result<bool, sqlx::Error> {
    on_pool!(db, |p| sqlx::query(
        "DELETE FROM follower_handoffs WHERE merchant_id = $1 AND account_id = $2 AND openid = $3"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(openid)
    .execute(p)
    .await
    .map(|r| r.rows_affected() > 0))
}

// ---- the replies projection ----

/// A logged message a rule (or no rule) answered.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RoutedRow {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: String,
    pub sent_at: i64,
    pub body: String,
    pub route: String,
}

/// A routed row as the pass reads it, borrowed from a row read from the database or from the
/// log's tap (no copy of the strings either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routed<'a> {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: &'a str,
    pub sent_at: i64,
    /// The body of an unmatched message whose words are not in `text`, '' for the others
    /// (as `routed` reads it).
    pub body: &'a str,
    pub route: &'a str,
    /// An unmatched message's words as the callback read them (rows from the log's tap).
    pub text: Option<&'a str>,
}

impl RoutedRow {
    pub fn view(&self) -> Routed<'_> {
        Routed {
            id: self.id,
            merchant_id: self.merchant_id,
            account_id: self.account_id,
            openid: &self.openid,
            sent_at: self.sent_at,
            body: &self.body,
            route: &self.route,
            text: None,
        }
    }
}

impl Routed<'_> {
    /// The words of an unmatched message: as the callback took them (rows from the log's
    /// tap), else parsed again from the logged body.
    pub fn words(&self) -> Option<String> {
        match self.text {
            Some(text) => Some(text.to_string()),
            None => super::model::unmatched_text(&wechat::Message::parse(self.body).ok()?),
        }
    }
}

/// What `routed` reads, from the tap: the routed rows, in id order. No body: the callback
/// took an unmatched message's words already (`LogRow::unmatched_text`, `None` for one that
/// has none), and the tap keeps no body of what followers write (`keeps_body_of`).
pub fn routed_in(rows: &TapRows) -> impl Iterator<Item = Routed<'_>> {
    rows.iter().filter(|t| !t.row.route.is_empty()).map(|t| {
        let r = &t.row;
        Routed {
            id: t.id,
            merchant_id: r.merchant_id,
            account_id: r.account_id,
            openid: &r.openid,
            sent_at: r.sent_at,
            body: "",
            route: &r.route,
            text: r.unmatched_text.as_deref(),
        }
    })
}

/// The routed rows of a range as the replies' passes read them: from the committer's tap
/// when it holds every row of the range (`log::Stretch`), else from the database.
pub enum RoutedRange {
    Tapped(TapRows),
    Read(Vec<RoutedRow>),
}

impl RoutedRange {
    /// `projection` names the reader in the metrics, as for `log::Stretch`.
    pub async fn load(
        db: &Db,
        tap: Option<&crate::messages::LogTap>,
        projection: &'static str,
        range: log::LogRange,
    ) -> Result<RoutedRange, sqlx::Error> {
        match log::Stretch::new(db, tap, projection, range).into_tapped() {
            Some(rows) => Ok(RoutedRange::Tapped(rows)),
            None => Ok(RoutedRange::Read(
                routed(db, range.after_id, range.upto).await?,
            )),
        }
    }

    /// The rows, in id order.
    pub fn rows(&self) -> Vec<Routed<'_>> {
        match self {
            RoutedRange::Tapped(rows) => {
                // Room for every row at once: collected from a filter, the vector grew by
                // doubling, each time copying what it held (thirty-second round).
                let mut routed = Vec::with_capacity(rows.most());
                routed.extend(routed_in(rows));
                routed
            }
            RoutedRange::Read(rows) => rows.iter().map(RoutedRow::view).collect(),
        }
    }
}

/// The routed rows of a range of the log, in id order. Only an unmatched message's body is
/// read (its text is kept); the others' would be copied out of the database for nothing.
pub async fn routed(db: &Db, after_id: i64, upto: i64) -> Result<Vec<RoutedRow>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, RoutedRow>(
        "SELECT id, merchant_id, account_id, openid, sent_at, \
         CASE WHEN route LIKE 'unmatched%' THEN body ELSE '' END AS body, route \
         FROM wx_messages WHERE id > $1 AND id <= $2 AND route <> '' ORDER BY id"
    )
    .bind(after_id)
    .bind(upto)
    .fetch_all(p)
    .await)
    .map(|mut rows| {
        for r in &mut rows {
            crate::messages::store::whole_body(&mut r.body, &r.openid, r.sent_at);
        }
        rows
    })
}

/// Hits of one (account, rule, keyword, day) in a flush of the hit counts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HitCount {
    pub account_id: i64,
    pub rule_id: i64,
    pub keyword: String,
    pub day: String,
    pub merchant_id: i64,
    pub hits: i64,
}

/// How often a text no rule matched was sent to an account within an hour (UTC), in a pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmatched {
    pub merchant_id: i64,
    pub account_id: i64,
    /// `sent_at / HOUR_MS` of the messages.
    pub hour: i64,
    pub text: String,
    pub messages: i64,
    /// When the last of them was sent (ms).
    pub last_at: i64,
}

/// The unmatched texts' buckets.
pub const HOUR_MS: i64 = 3_600_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handoff {
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: String,
    pub requested_at: i64,
}

/// What one pass writes (hit counts have their own projection: `add_hits`).
#[derive(Clone, Debug, Default)]
pub struct Pass {
    pub unmatched: Vec<Unmatched>,
    pub handoffs: Vec<Handoff>,
    pub follow_ups: Vec<NewJob>,
}

/// Writes a pass and moves the cursor from `from` to `to` in one transaction
/// (`messages::store::commit_pass`): false, with nothing written, when the cursor was no
/// longer at `from` (another pass got there first).
pub async fn apply_pass(
    db: &Db,
    from: i64,
    to: i64,
    pass: &Pass,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let mut script = Script::new();
    for chunk in pass.unmatched.chunks(ROWS_PER_STATEMENT) {
        add_unmatched(&mut script, chunk);
    }
    for chunk in latest_handoffs(&pass.handoffs).chunks(ROWS_PER_STATEMENT) {
        upsert_handoffs(&mut script, chunk);
    }
    for job in &pass.follow_ups {
        jobs::enqueue_in(&mut script, now, job);
    }
    log::commit_pass(db, script, PROJECTION, from, to).await
}

/// Where the hit counts' projection has counted up to, and the end of a flush that began
/// and has not finished (`add_hits`), if any.
pub async fn hits_cursor(db: &Db) -> Result<(i64, Option<i64>), sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, Option<i64>)>(
        "SELECT last_id, flushing FROM log_projections WHERE name = $1"
    )
    .bind(HITS)
    .fetch_one(p)
    .await)
}

/// Hit counts written per transaction of a flush: SQLite's write lock, which the message
/// log waits for, is held for about this many upserts at a time.
pub const HITS_PER_TRANSACTION: usize = 1_000;

/// Adds `hits`, a part of the counts of the log range (`from`, `to`], in one transaction.
/// The first part claims the flush (`flushing` = `to`); `last` also moves the cursor to `to`
/// and ends it. A row already holding this flush's counts (its `upto` is `to`: the part was
/// written before the flush was interrupted) is left as it is, so finishing an interrupted
/// flush counts nothing twice. False, with nothing written, when the cursor is no longer
/// at `from` or another flush of a different range holds the claim.
pub async fn add_hits(
    db: &Db,
    from: i64,
    to: i64,
    hits: &[HitCount],
    last: bool,
) -> Result<bool, sqlx::Error> {
    let mut script = Script::new();
    // First, and failing the whole script (a NOT NULL violation) when the claim is lost.
    script.push(
        "UPDATE log_projections SET flushing = ?, last_id = CASE WHEN last_id = ? AND \
         (flushing IS NULL OR flushing <= last_id OR flushing = ?) THEN last_id END \
         WHERE name = ?",
        vec![
            Value::Int(to),
            Value::Int(from),
            Value::Int(to),
            Value::Text(HITS.to_string()),
        ],
    );
    for chunk in hits.chunks(HITS_PER_STATEMENT) {
        upsert_hits(&mut script, chunk, to);
    }
    if last {
        script.push(
            "UPDATE log_projections SET last_id = ?, flushing = NULL WHERE name = ?",
            vec![Value::Int(to), Value::Text(HITS.to_string())],
        );
    }
    match db.run_script(script).await {
        Ok(()) => Ok(true),
        Err(e) => match hits_cursor(db).await? {
            (cursor, flushing)
                if cursor != from || flushing.is_some_and(|f| f > from && f != to) =>
            {
                Ok(false)
            }
            _ => Err(e),
        },
    }
}

/// Hit counts per statement: 7 values a row, a few hundred rows, well within SQLite's and
/// PostgreSQL's limits on parameters.
const HITS_PER_STATEMENT: usize = 200;

/// Adds counts, all in one statement, to rows that do not hold the flush up to `upto` yet.
/// A flush holds each (account, rule, keyword, day) once, which PostgreSQL's ON CONFLICT DO
/// UPDATE requires of one statement.
fn upsert_hits(script: &mut Script, hits: &[HitCount], upto: i64) {
    if hits.is_empty() {
        return;
    }
    push_rows(
        script,
        "INSERT INTO reply_hits (merchant_id, account_id, rule_id, keyword, day, hits, upto) \
         VALUES",
        "ON CONFLICT (account_id, rule_id, keyword, day) DO UPDATE SET \
         hits = reply_hits.hits + excluded.hits, upto = excluded.upto \
         WHERE reply_hits.upto < excluded.upto",
        hits,
        |h| {
            [
                Value::Int(h.merchant_id),
                Value::Int(h.account_id),
                Value::Int(h.rule_id),
                Value::Text(h.keyword.clone()),
                Value::Text(h.day.clone()),
                Value::Int(h.hits),
                Value::Int(upto),
            ]
        },
    );
}

/// Unmatched texts and hand-offs written per statement (6 and 4 values a row); a pass of
/// default-reply traffic holds up to one unmatched text per message.
const ROWS_PER_STATEMENT: usize = 200;

/// `(?, ?, …), (…)`: `rows` rows of `width` values.
fn values_rows(rows: usize, width: usize) -> String {
    let row = format!("({})", vec!["?"; width].join(", "));
    vec![row; rows].join(", ")
}

/// One multi-row statement, `head (?, …), (?, …) tail`, with each row's values.
fn push_rows<T, const W: usize>(
    script: &mut Script,
    head: &str,
    tail: &str,
    rows: &[T],
    values_of: impl Fn(&T) -> [Value; W],
) {
    let sql = format!("{head} {} {tail}", values_rows(rows.len(), W));
    script.push(sql, rows.iter().flat_map(values_of).collect());
}

/// Adds a pass's counts of unmatched texts (each (account, hour, text) once in a pass, as
/// PostgreSQL's ON CONFLICT DO UPDATE requires of one statement).
fn add_unmatched(script: &mut Script, rows: &[Unmatched]) {
    if rows.is_empty() {
        return;
    }
    push_rows(
        script,
        "INSERT INTO reply_unmatched_texts \
         (merchant_id, account_id, hour, text, messages, last_at) VALUES",
        "ON CONFLICT (account_id, hour, text) DO UPDATE SET \
         messages = reply_unmatched_texts.messages + excluded.messages, \
         last_at = CASE WHEN excluded.last_at > reply_unmatched_texts.last_at \
         THEN excluded.last_at ELSE reply_unmatched_texts.last_at END",
        rows,
        |u| {
            [
                Value::Int(u.merchant_id),
                Value::Int(u.account_id),
                Value::Int(u.hour),
                Value::Text(u.text.clone()),
                Value::Int(u.messages),
                Value::Int(u.last_at),
            ]
        },
    );
}

/// Each follower's latest request of a pass: one statement may not upsert a row twice.
fn latest_handoffs(handoffs: &[Handoff]) -> Vec<Handoff> {
    let mut latest: BTreeMap<(i64, &str), &Handoff> = BTreeMap::new();
    for h in handoffs {
        latest
            .entry((h.account_id, h.openid.as_str()))
            .and_modify(|kept| {
                if h.requested_at > kept.requested_at {
                    *kept = h;
                }
            })
            .or_insert(h);
    }
    latest.into_values().cloned().collect()
}

fn upsert_handoffs(script: &mut Script, rows: &[Handoff]) {
    if rows.is_empty() {
        return;
    }
    push_rows(
        script,
        "INSERT INTO follower_handoffs (merchant_id, account_id, openid, requested_at) VALUES",
        "ON CONFLICT (account_id, openid) DO UPDATE SET requested_at = excluded.requested_at \
         WHERE follower_handoffs.requested_at < excluded.requested_at",
        rows,
        |h| {
            [
                Value::Int(h.merchant_id),
                Value::Int(h.account_id),
                Value::Text(h.openid.clone()),
                Value::Int(h.requested_at),
            ]
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handoff(account_id: i64, openid: &str, requested_at: i64) -> Handoff {
        Handoff {
            merchant_id: 1,
            account_id,
            openid: openid.into(),
            requested_at,
        }
    }

    #[test]
    fn a_follower_asking_twice_in_a_pass_is_written_once_with_the_latest_time() {
        let pass = [
            handoff(1, "a", 10),
            handoff(1, "b", 11),
            handoff(1, "a", 30),
            handoff(2, "a", 5),
            handoff(1, "a", 20),
        ];
        let mut latest = latest_handoffs(&pass);
        latest.sort_by_key(|h| (h.account_id, h.openid.clone()));
        assert_eq!(
            latest,
            vec![handoff(1, "a", 30), handoff(1, "b", 11), handoff(2, "a", 5)]
        );
    }

    #[test]
    fn values_rows_are_anonymous_placeholders() {
        assert_eq!(values_rows(2, 2), "(?, ?), (?, ?)");
    }
}
