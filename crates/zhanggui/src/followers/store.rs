//! SQL for followers and the projection cursor.

use super::model::{Follower, LOG_BUCKET_IDS, log_bucket, timeline_buckets};
use crate::messages::store::LogRange;
use crate::on_pool;
use crate::platform::db::{Db, Dialect, Script, Value};
use sqlx::Arguments;
use sqlx::sqlite::SqliteArguments;

#[derive(sqlx::FromRow)]
struct FollowerRow {
    merchant_id: i64,
    account_id: i64,
    openid: String,
    first_seen_at: i64,
    last_interaction_at: i64,
    subscribed: bool,
    subscription_changed_at: Option<i64>,
    subscribed_at: Option<i64>,
    unsubscribed_at: Option<i64>,
    channel: Option<String>,
    channel_at: Option<i64>,
    last_latitude: Option<f64>,
    last_longitude: Option<f64>,
    last_location_at: Option<i64>,
    first_message_id: Option<i64>,
    last_message_id: Option<i64>,
}

impl From<FollowerRow> for Follower {
    fn from(r: FollowerRow) -> Follower {
        Follower {
            merchant_id: r.merchant_id,
            account_id: r.account_id,
            openid: r.openid,
            first_seen_at: r.first_seen_at,
            last_interaction_at: r.last_interaction_at,
            subscribed: r.subscribed,
            subscription_changed_at: r.subscription_changed_at,
            subscribed_at: r.subscribed_at,
            unsubscribed_at: r.unsubscribed_at,
            channel: r.channel,
            channel_at: r.channel_at,
            last_latitude: r.last_latitude,
            last_longitude: r.last_longitude,
            last_location_at: r.last_location_at,
            first_message_id: r.first_message_id,
            last_message_id: r.last_message_id,
        }
    }
}

const COLUMNS: &str = "merchant_id, account_id, openid, first_seen_at, last_interaction_at, \
     subscribed, subscription_changed_at, subscribed_at, unsubscribed_at, channel, channel_at, \
     last_latitude, last_longitude, last_location_at, first_message_id, last_message_id";

/// A follower of one of this merchant's accounts.
pub async fn get(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
) -> Result<Option<Follower>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM followers WHERE merchant_id = $1 AND account_id = $2 AND openid = $3"
    );
    let row = on_pool!(db, |p| sqlx::query_as::<_, FollowerRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(openid)
        .fetch_optional(p)
        .await)?;
    Ok(row.map(Follower::from))
}

/// Followers written per statement: each statement holds SQLite's write lock while it runs,
/// and the message log's writer waits for it, so it stays short (~0.2 ms).
const CHUNK: usize = 128;

/// How a stored follower and a partial one (a batch folded by `Follower::merge`) combine,
/// column by column: the same merges by timestamp as `Follower::merge`, so joining is
/// order-independent and idempotent. Any change to the model's rules must be made here too
/// (tests/followers.rs checks that both agree). The first four are all that a follower who
/// only interacted changes (`INTERACTION_JOINED`).
const JOINED: [(&str, &str); 13] = [
    (
        "first_seen_at",
        "CASE WHEN excluded.first_seen_at < followers.first_seen_at \
         THEN excluded.first_seen_at ELSE followers.first_seen_at END",
    ),
    (
        "last_interaction_at",
        "CASE WHEN excluded.last_interaction_at > followers.last_interaction_at \
         THEN excluded.last_interaction_at ELSE followers.last_interaction_at END",
    ),
    (
        "first_message_id",
        "CASE WHEN followers.first_message_id IS NULL \
         OR excluded.first_message_id < followers.first_message_id \
         THEN excluded.first_message_id ELSE followers.first_message_id END",
    ),
    (
        "last_message_id",
        "CASE WHEN followers.last_message_id IS NULL \
         OR excluded.last_message_id > followers.last_message_id \
         THEN excluded.last_message_id ELSE followers.last_message_id END",
    ),
    (
        "subscribed",
        "CASE WHEN {SUB} THEN excluded.subscribed ELSE followers.subscribed END",
    ),
    (
        "subscription_changed_at",
        "CASE WHEN {SUB} THEN excluded.subscription_changed_at \
         ELSE followers.subscription_changed_at END",
    ),
    (
        "subscribed_at",
        "CASE WHEN followers.subscribed_at IS NULL \
         OR excluded.subscribed_at > followers.subscribed_at \
         THEN excluded.subscribed_at ELSE followers.subscribed_at END",
    ),
    (
        "unsubscribed_at",
        "CASE WHEN followers.unsubscribed_at IS NULL \
         OR excluded.unsubscribed_at > followers.unsubscribed_at \
         THEN excluded.unsubscribed_at ELSE followers.unsubscribed_at END",
    ),
    (
        "channel",
        "CASE WHEN {CHAN} THEN excluded.channel ELSE followers.channel END",
    ),
    (
        "channel_at",
        "CASE WHEN {CHAN} THEN excluded.channel_at ELSE followers.channel_at END",
    ),
    (
        "last_latitude",
        "CASE WHEN {LOC} THEN excluded.last_latitude ELSE followers.last_latitude END",
    ),
    (
        "last_longitude",
        "CASE WHEN {LOC} THEN excluded.last_longitude ELSE followers.last_longitude END",
    ),
    (
        "last_location_at",
        "CASE WHEN {LOC} THEN excluded.last_location_at ELSE followers.last_location_at END",
    ),
];
/// The newest follow/unfollow decides; at the same instant a follow wins.
const NEWER_SUBSCRIPTION: &str = "(excluded.subscription_changed_at > followers.subscription_changed_at \
    OR (followers.subscription_changed_at IS NULL AND excluded.subscription_changed_at IS NOT NULL) \
    OR (excluded.subscription_changed_at = followers.subscription_changed_at \
        AND excluded.subscribed AND NOT followers.subscribed))";
/// The earliest QR scene is the channel.
const EARLIER_CHANNEL: &str = "(excluded.channel_at < followers.channel_at \
    OR (followers.channel_at IS NULL AND excluded.channel_at IS NOT NULL))";
/// The newest location; at the same instant the one applied last.
const NEWER_LOCATION: &str = "(excluded.last_location_at >= followers.last_location_at \
    OR (followers.last_location_at IS NULL AND excluded.last_location_at IS NOT NULL))";

/// `ON CONFLICT … DO UPDATE` setting each of `joined` (a part of [`JOINED`]).
fn join_clause(joined: &[(&str, &str)]) -> String {
    let set: Vec<String> = joined
        .iter()
        .map(|(column, value)| {
            let value = value
                .replace("{SUB}", NEWER_SUBSCRIPTION)
                .replace("{CHAN}", EARLIER_CHANNEL)
                .replace("{LOC}", NEWER_LOCATION);
            format!("{column} = {value}")
        })
        .collect();
    format!(
        " ON CONFLICT (account_id, openid) DO UPDATE SET {}",
        set.join(", ")
    )
}

/// Joins partial followers into the stored ones (inserting those not stored yet), one
/// autocommit statement per chunk: each statement is atomic and joining is idempotent, so a
/// chunk applied twice, or a batch cut short by a crash and re-read, leaves the same rows.
pub async fn merge(db: &Db, followers: &[Follower]) -> Result<(), sqlx::Error> {
    match db {
        Db::Sqlite(p) => {
            // Joining is order-independent, and SQLite's one writer cannot deadlock, so
            // those who only interacted go first, whatever their keys.
            let (interactions, others): (Vec<&Follower>, Vec<&Follower>) =
                followers.iter().partition(|f| f.only_interacted());
            for chunk in interactions.chunks(CHUNK) {
                merge_sqlite(p, Shape::Interaction, chunk).await?;
            }
            for chunk in others.chunks(CHUNK) {
                merge_sqlite(p, Shape::Whole, chunk).await?;
            }
        }
        Db::Postgres(p) => {
            for chunk in followers.chunks(CHUNK) {
                merge_postgres(p, chunk).await?;
            }
        }
    }
    Ok(())
}

/// Which of a follower's columns a SQLite join writes.
#[derive(Clone, Copy)]
enum Shape {
    /// Every column (`COLUMNS`).
    Whole,
    /// Those of a follower who only interacted (`Follower::only_interacted`), most of a
    /// busy account's: the join leaves their other columns as they are, so it binds 7
    /// values instead of 16 and sets 4 columns instead of 13.
    Interaction,
}

impl Shape {
    /// The columns inserted, then the values' placeholders (a literal where every follower
    /// of the shape has the same value), then the columns a conflict sets.
    fn columns(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    ) {
        match self {
            Shape::Whole => (COLUMNS, WHOLE_VALUES, &JOINED),
            Shape::Interaction => (
                "merchant_id, account_id, openid, first_seen_at, last_interaction_at, \
                 first_message_id, last_message_id, subscribed",
                "(?,?,?,?,?,?,?,FALSE)",
                &JOINED[..INTERACTION_JOINED],
            ),
        }
    }

    fn values(self) -> usize {
        match self {
            Shape::Whole => MERGE_COLUMNS,
            Shape::Interaction => 7,
        }
    }

    fn add<'q>(
        self,
        arguments: &mut SqliteArguments<'q>,
        f: &'q Follower,
    ) -> Result<(), sqlx::error::BoxDynError> {
        match self {
            Shape::Whole => add_follower(arguments, f),
            Shape::Interaction => add_interaction(arguments, f),
        }
    }
}

const WHOLE_VALUES: &str = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
/// How many of [`JOINED`]'s columns, from its start, a follower who only interacted sets.
const INTERACTION_JOINED: usize = 4;

async fn merge_sqlite(
    pool: &sqlx::SqlitePool,
    shape: Shape,
    chunk: &[&Follower],
) -> Result<(), sqlx::Error> {
    let Some(last) = chunk.last() else {
        return Ok(());
    };
    // Padded up to a statement's size with the last follower again: joining a follower with
    // itself changes nothing. (`merge` cuts chunks of at most CHUNK, the largest size.)
    let at = padded_size(&MERGE_SIZES, chunk.len());
    let padding = std::iter::repeat_n(last, MERGE_SIZES[at].saturating_sub(chunk.len()));
    let mut arguments = SqliteArguments::default();
    arguments.reserve(shape.values() * MERGE_SIZES[at], 0);
    for f in chunk.iter().chain(padding) {
        shape.add(&mut arguments, f).map_err(sqlx::Error::Encode)?;
    }
    sqlx::query_with(merge_statement(shape, at), arguments)
        .execute(pool)
        .await?;
    Ok(())
}

/// The values of a follower in a join's statement, one per column of `COLUMNS`.
const MERGE_COLUMNS: usize = 16;

/// Adds `f`'s values to a join's arguments, in `COLUMNS`' order. Added straight to arguments
/// made big enough at once: through `Query::bind`, 16 values a follower moved the query 16
/// times and regrew its vector (BENCHMARKS.md, callback, thirty-second round).
fn add_follower<'q>(
    arguments: &mut SqliteArguments<'q>,
    f: &'q Follower,
) -> Result<(), sqlx::error::BoxDynError> {
    arguments.add(f.merchant_id)?;
    arguments.add(f.account_id)?;
    arguments.add(f.openid.as_str())?;
    arguments.add(f.first_seen_at)?;
    arguments.add(f.last_interaction_at)?;
    arguments.add(f.subscribed)?;
    arguments.add(f.subscription_changed_at)?;
    arguments.add(f.subscribed_at)?;
    arguments.add(f.unsubscribed_at)?;
    arguments.add(f.channel.as_deref())?;
    arguments.add(f.channel_at)?;
    arguments.add(f.last_latitude)?;
    arguments.add(f.last_longitude)?;
    arguments.add(f.last_location_at)?;
    arguments.add(f.first_message_id)?;
    arguments.add(f.last_message_id)
}

/// Adds the values of a follower who only interacted, in `Shape::Interaction`'s order.
fn add_interaction<'q>(
    arguments: &mut SqliteArguments<'q>,
    f: &'q Follower,
) -> Result<(), sqlx::error::BoxDynError> {
    arguments.add(f.merchant_id)?;
    arguments.add(f.account_id)?;
    arguments.add(f.openid.as_str())?;
    arguments.add(f.first_seen_at)?;
    arguments.add(f.last_interaction_at)?;
    arguments.add(f.first_message_id)?;
    arguments.add(f.last_message_id)
}

/// The follower counts of the SQLite join's statements. sqlx keeps every statement it runs
/// prepared on its connection (up to 100 a connection): a statement for each count up to
/// 128 would be up to 128 texts, ~14 MB a connection, each prepared again whenever it fell
/// out of that cache.
const MERGE_SIZES: [usize; 5] = [1, 4, 16, 64, CHUNK];

/// Which of `sizes` (ascending) a statement of `rows` rows is padded up to: the first that
/// holds them, else the largest (callers cut chunks no longer than it).
fn padded_size(sizes: &[usize], rows: usize) -> usize {
    sizes
        .iter()
        .position(|&size| size >= rows)
        .unwrap_or(sizes.len().saturating_sub(1))
}

/// `INSERT … VALUES` of `MERGE_SIZES[size]` followers of `shape`, joined into the stored
/// ones.
fn merge_statement(shape: Shape, size: usize) -> &'static str {
    static SQL: std::sync::OnceLock<[Vec<String>; 2]> = std::sync::OnceLock::new();
    let texts = SQL.get_or_init(|| [Shape::Whole, Shape::Interaction].map(statements_of));
    texts[shape as usize].get(size).map_or("", String::as_str)
}

/// The statements of `shape`, one for each of `MERGE_SIZES`.
fn statements_of(shape: Shape) -> Vec<String> {
    // Anonymous `?`: sqlx looks every parameter's name up, which costs O(n²) with numbered
    // ones on SQLite (see messages/store.rs).
    let (columns, row, joined) = shape.columns();
    MERGE_SIZES
        .iter()
        .map(|&n| {
            format!(
                "INSERT INTO followers ({columns}) VALUES {}{}",
                vec![row; n].join(","),
                join_clause(joined)
            )
        })
        .collect()
}

/// One statement whatever the chunk's size: the columns go as arrays (`UNNEST`), so Postgres
/// prepares it once per connection.
async fn merge_postgres(pool: &sqlx::PgPool, chunk: &[Follower]) -> Result<(), sqlx::Error> {
    let sql = format!(
        "INSERT INTO followers ({COLUMNS}) SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], \
         $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BOOLEAN[], $7::BIGINT[], $8::BIGINT[], \
         $9::BIGINT[], $10::TEXT[], $11::BIGINT[], $12::FLOAT8[], $13::FLOAT8[], $14::BIGINT[], $15::BIGINT[], \
         $16::BIGINT[]){}",
        join_clause(&JOINED)
    );
    let col = |f: fn(&Follower) -> i64| chunk.iter().map(f).collect::<Vec<i64>>();
    let opt = |f: fn(&Follower) -> Option<i64>| chunk.iter().map(f).collect::<Vec<_>>();
    let real = |f: fn(&Follower) -> Option<f64>| chunk.iter().map(f).collect::<Vec<_>>();
    sqlx::query(&sql)
        .bind(col(|f| f.merchant_id))
        .bind(col(|f| f.account_id))
        .bind(chunk.iter().map(|f| f.openid.as_str()).collect::<Vec<_>>())
        .bind(col(|f| f.first_seen_at))
        .bind(col(|f| f.last_interaction_at))
        .bind(chunk.iter().map(|f| f.subscribed).collect::<Vec<_>>())
        .bind(opt(|f| f.subscription_changed_at))
        .bind(opt(|f| f.subscribed_at))
        .bind(opt(|f| f.unsubscribed_at))
        .bind(
            chunk
                .iter()
                .map(|f| f.channel.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(opt(|f| f.channel_at))
        .bind(real(|f| f.last_latitude))
        .bind(real(|f| f.last_longitude))
        .bind(opt(|f| f.last_location_at))
        .bind(opt(|f| f.first_message_id))
        .bind(opt(|f| f.last_message_id))
        .execute(pool)
        .await?;
    Ok(())
}

/// Followers of an account, most recently active first.
pub async fn list(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    limit: i64,
) -> Result<Vec<Follower>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM followers WHERE merchant_id = $1 AND account_id = $2 \
         ORDER BY last_interaction_at DESC LIMIT $3"
    );
    let rows = on_pool!(db, |p| sqlx::query_as::<_, FollowerRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(limit)
        .fetch_all(p)
        .await)?;
    Ok(rows.into_iter().map(Follower::from).collect())
}

// ---- the per-follower index of the log (follower_log) ----

/// Adds to `script` the indexing of the log rows `after_id < id <= upto` under their bucket
/// and sender: one statement, idempotent (a row indexed twice is one row).
pub fn index_log_range(script: &mut Script, after_id: i64, upto: i64) {
    script.push(
        "INSERT INTO follower_log (account_id, bucket, openid, message_id) \
         SELECT account_id, id / ?, openid, id FROM wx_messages WHERE id > ? AND id <= ? \
         ON CONFLICT (account_id, bucket, openid, message_id) DO NOTHING",
        vec![
            Value::Int(LOG_BUCKET_IDS),
            Value::Int(after_id),
            Value::Int(upto),
        ],
    );
}

/// Adds to `script` the indexing of log rows the committer's tap holds: `(account_id, openid,
/// id)` each, bound as the values of a multi-row statement, so the statement inserts without
/// reading `wx_messages` back (a pool connection's cache holds none of those pages: every
/// commit of the log empties it) while it holds SQLite's write lock. The inserts themselves
/// are most of that time, which is why a pass takes at most `jobs::LOG_INDEX_BATCH` rows
/// (BENCHMARKS.md, callback, twenty-third round). A statement has one of
/// `TAPPED_INDEX_SIZES` rows, so that each connection prepares it once: a pass fills the
/// rows it does not have with its last row again, which the conflict clause skips. SQLite
/// only: the tap exists only there.
pub fn index_tapped_rows<'a>(
    script: &mut Script,
    range: LogRange,
    rows: impl Iterator<Item = (i64, &'a str, i64)>,
) {
    // In the index's key order: each row goes in after the one before, on the same page.
    let mut rows: Vec<(i64, i64, &str, i64)> = rows
        .map(|(account_id, openid, id)| (account_id, log_bucket(id), openid, id))
        .collect();
    rows.sort_unstable();
    if rows.is_empty() {
        return index_log_range(script, range.after_id, range.upto);
    }
    for chunk in rows.chunks(LARGEST_TAPPED_INDEX) {
        let size = TAPPED_INDEX_SIZES[padded_size(&TAPPED_INDEX_SIZES, chunk.len())];
        let mut values = Vec::with_capacity(4 * size);
        let last = chunk.len() - 1;
        for i in 0..size {
            let (account_id, bucket, openid, id) = chunk[i.min(last)];
            values.extend([
                Value::Int(account_id),
                Value::Int(bucket),
                Value::Text(openid.to_string()),
                Value::Int(id),
            ]);
        }
        script.push(tapped_index_statement(size), values);
    }
    script.keep_prepared();
}

/// The row counts of the tapped index's statements. A pass is padded up to the next: up to
/// three quarters of a statement can be padding, when the log is quiet and a pass small;
/// under load passes are whole buckets of 1,024 ids and fill their statement.
const TAPPED_INDEX_SIZES: [usize; 6] = [1, 4, 16, 64, 256, 1024];
const LARGEST_TAPPED_INDEX: usize = TAPPED_INDEX_SIZES[TAPPED_INDEX_SIZES.len() - 1];

/// `INSERT … VALUES (?, ?, ?, ?), …` of `rows` rows into `follower_log`.
fn tapped_index_statement(rows: usize) -> String {
    const HEAD: &str = "INSERT INTO follower_log (account_id, bucket, openid, message_id) VALUES ";
    const TAIL: &str = " ON CONFLICT (account_id, bucket, openid, message_id) DO NOTHING";
    let mut sql = String::with_capacity(HEAD.len() + rows * 14 + TAIL.len());
    sql.push_str(HEAD);
    for i in 0..rows {
        sql.push_str(if i == 0 {
            "(?, ?, ?, ?)"
        } else {
            ", (?, ?, ?, ?)"
        });
    }
    sql.push_str(TAIL);
    sql
}

/// Log rows past the index's cursor that a timeline reads directly from `wx_messages` (by its
/// primary key, so only that stretch is scanned): a message shows at once, before the
/// projection has indexed it. A projection further behind than this shows messages when it
/// catches up.
pub const UNINDEXED_TAIL: i64 = 20_000;

/// Buckets a timeline asks for in its first read of `follower_log`; each further read asks
/// for twice as many, up to the last, so a follower who wrote rarely over a long log costs a
/// few statements, not one per bucket. (32,768 and 16.8 million log ids.)
const FIRST_BUCKETS: usize = 32;
const MOST_BUCKETS: usize = 16_384;

/// One page of a follower's messages, newest first, older than `before_id`: the indexed part
/// through `follower_log`, the part the projection has not reached yet straight from the log.
pub async fn timeline(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<crate::messages::store::MessageRow>, sqlx::Error> {
    use crate::messages::store::MessageRow;
    // The cursors before the follower: a span read later can only be wider than the cursor
    // says, never narrower, so no bucket the follower wrote in is skipped.
    let projected_upto = crate::messages::store::cursor(db, super::jobs::PROJECTION).await?;
    let indexed_upto = crate::messages::store::cursor(db, super::jobs::LOG_INDEX).await?;
    let span = get(db, merchant_id, account_id, openid)
        .await?
        .and_then(|f| f.first_message_id.zip(f.last_message_id));
    let before = before_id.unwrap_or(i64::MAX);
    let mut rows = on_pool!(db, |p| sqlx::query_as::<_, MessageRow>(
        "SELECT id, account_id, openid, kind, sent_at, received_at, body, reply \
         FROM wx_messages WHERE id > $1 AND id <= $2 AND id < $3 \
         AND merchant_id = $4 AND account_id = $5 AND openid = $6 ORDER BY id DESC LIMIT $7"
    )
    .bind(indexed_upto)
    .bind(indexed_upto.saturating_add(UNINDEXED_TAIL))
    .bind(before)
    .bind(merchant_id)
    .bind(account_id)
    .bind(openid)
    .bind(limit)
    .fetch_all(p)
    .await)?;
    let upto = indexed_upto.min(before.saturating_sub(1));
    let mut buckets = timeline_buckets(upto, span, projected_upto).peekable();
    let mut take = FIRST_BUCKETS;
    while (rows.len() as i64) < limit && buckets.peek().is_some() {
        let chunk: Vec<i64> = buckets.by_ref().take(take).collect();
        let wanted = limit - rows.len() as i64;
        rows.extend(indexed_rows(db, merchant_id, account_id, openid, &chunk, upto, wanted).await?);
        take = (take * 2).min(MOST_BUCKETS);
    }
    Ok(rows.into_iter().map(MessageRow::with_whole_body).collect())
}

/// The follower's indexed messages in `buckets` with ids up to `upto`, newest first.
async fn indexed_rows(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    buckets: &[i64],
    upto: i64,
    limit: i64,
) -> Result<Vec<crate::messages::store::MessageRow>, sqlx::Error> {
    use crate::messages::store::MessageRow;
    // The buckets go as one JSON list and each is one seek of follower_log's key: SQLite
    // iterates the IN list, PostgreSQL the array.
    let in_buckets = match db.dialect() {
        Dialect::Sqlite => "IN (SELECT value FROM json_each($2))",
        Dialect::Postgres => "= ANY(ARRAY(SELECT json_array_elements_text($2::json)::BIGINT))",
    };
    let sql = format!(
        "SELECT m.id, m.account_id, m.openid, m.kind, m.sent_at, m.received_at, m.body, m.reply \
         FROM follower_log l JOIN wx_messages m ON m.id = l.message_id \
         WHERE l.account_id = $1 AND l.bucket {in_buckets} AND l.openid = $3 \
         AND l.message_id <= $4 AND m.merchant_id = $5 ORDER BY l.message_id DESC LIMIT $6"
    );
    let list = serde_json::to_string(buckets).unwrap_or_else(|_| "[]".into());
    on_pool!(db, |p| sqlx::query_as::<_, MessageRow>(&sql)
        .bind(account_id)
        .bind(&list)
        .bind(openid)
        .bind(upto)
        .bind(merchant_id)
        .bind(limit)
        .fetch_all(p)
        .await)
}

// ---- what the merchant and WeChat know (0008's columns) ----

/// Sets the collected profile fields (the remark has its own path through WeChat).
pub async fn set_profile(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    p: &super::model::ProfileFields,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |c| sqlx::query(
        "UPDATE followers SET name = $4, phone = $5, gender = $6, birthday = $7, city = $8, \
         profile_updated_at = $9 WHERE merchant_id = $1 AND account_id = $2 AND openid = $3"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(openid)
    .bind(&p.name)
    .bind(&p.phone)
    .bind(p.gender.and_then(super::filter::Gender::stored))
    .bind(&p.birthday)
    .bind(&p.city)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

pub async fn set_remark(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    remark: &str,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |c| {
        sqlx::query(
        "UPDATE followers SET remark = $4 WHERE merchant_id = $1 AND account_id = $2 AND openid = $3"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(openid)
    .bind(remark)
    .execute(c)
    .await
    .map(|r| r.rows_affected())
    })?;
    Ok(n == 1)
}

pub async fn set_blacklisted(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    blacklisted: bool,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |c| sqlx::query(
        "UPDATE followers SET blacklisted = $4 \
         WHERE merchant_id = $1 AND account_id = $2 AND openid = $3"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(openid)
    .bind(blacklisted)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

// ---- names the list shows: tags, channels and segments of an account (read only) ----

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TagName {
    pub id: i64,
    pub name: String,
}

pub async fn tag_names(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<TagName>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, TagName>(
        "SELECT id, name FROM tags WHERE merchant_id = $1 AND account_id = $2 ORDER BY name, id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_all(p)
    .await)
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChannelName {
    pub scene: String,
    pub name: String,
}

pub async fn channel_names(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<ChannelName>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, ChannelName>(
        "SELECT scene, name FROM channels WHERE merchant_id = $1 AND account_id = $2 \
         ORDER BY name, id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_all(p)
    .await)
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SegmentRow {
    pub id: i64,
    pub name: String,
    /// followers/filter.rs `Filter` as JSON.
    pub filter: String,
}

pub async fn segments(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<SegmentRow>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, SegmentRow>(
        "SELECT id, name, filter FROM segments WHERE merchant_id = $1 AND account_id = $2 \
         ORDER BY name, id"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_all(p)
    .await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_join_binds_one_value_for_each_column() {
        for shape in [Shape::Whole, Shape::Interaction] {
            let (columns, row, _) = shape.columns();
            assert_eq!(columns.split(',').count(), row.split(',').count());
            assert_eq!(row.matches('?').count(), shape.values());
        }
        assert_eq!(COLUMNS.split(',').count(), MERGE_COLUMNS);
    }

    #[test]
    fn a_join_sets_every_column_it_inserts_but_the_key() {
        let key = ["merchant_id", "account_id", "openid"];
        for shape in [Shape::Whole, Shape::Interaction] {
            let (columns, row, joined) = shape.columns();
            let mut set: Vec<&str> = columns
                .split(',')
                .map(str::trim)
                .zip(row.trim_matches(['(', ')']).split(','))
                .filter(|(column, value)| !key.contains(column) && *value == "?")
                .map(|(column, _)| column)
                .collect();
            let mut joined: Vec<&str> = joined.iter().map(|(column, _)| *column).collect();
            set.sort_unstable();
            joined.sort_unstable();
            assert_eq!(set, joined);
        }
    }
}
