//! SQL for channel QR codes, their daily numbers and the channel projection.

use crate::platform::db::{Db, Tx};
use crate::platform::jobs::{self, NewJob};
use crate::{on_pool, on_tx};

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct ChannelRow {
    pub id: i64,
    pub merchant_id: i64,
    pub account_id: i64,
    pub name: String,
    pub kind: String,
    pub scene: String,
    pub medium: String,
    pub tag_id: Option<i64>,
    pub welcome_text: String,
    pub poster_text: String,
    pub ticket: String,
    pub qr_url: String,
    pub expires_at: Option<i64>,
    pub archived_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, merchant_id, account_id, name, kind, scene, medium, tag_id, \
    welcome_text, poster_text, ticket, qr_url, expires_at, archived_at, created_at, updated_at";

/// A channel to insert, after WeChat made its code.
pub struct NewChannel<'a> {
    pub merchant_id: i64,
    pub account_id: i64,
    pub name: &'a str,
    pub kind: &'a str,
    pub scene: &'a str,
    pub medium: &'a str,
    pub tag_id: Option<i64>,
    pub welcome_text: &'a str,
    pub poster_text: &'a str,
    pub ticket: &'a str,
    pub qr_url: &'a str,
    pub expires_at: Option<i64>,
}

pub async fn insert(db: &Db, c: &NewChannel<'_>, now: i64) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "INSERT INTO channels (merchant_id, account_id, name, kind, scene, medium, tag_id, \
         welcome_text, poster_text, ticket, qr_url, expires_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING id"
    )
    .bind(c.merchant_id)
    .bind(c.account_id)
    .bind(c.name)
    .bind(c.kind)
    .bind(c.scene)
    .bind(c.medium)
    .bind(c.tag_id)
    .bind(c.welcome_text)
    .bind(c.poster_text)
    .bind(c.ticket)
    .bind(c.qr_url)
    .bind(c.expires_at)
    .bind(now)
    .fetch_one(p)
    .await)
}

/// A channel of this merchant.
pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<Option<ChannelRow>, sqlx::Error> {
    let sql = format!("SELECT {COLUMNS} FROM channels WHERE merchant_id = $1 AND id = $2");
    on_pool!(db, |p| sqlx::query_as::<_, ChannelRow>(&sql)
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(p)
        .await)
}

/// An account's channels by id, after `after_id`; archived ones only when asked.
pub async fn list(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    with_archived: bool,
    after_id: i64,
    limit: i64,
) -> Result<Vec<ChannelRow>, sqlx::Error> {
    let sql = format!(
        "SELECT {COLUMNS} FROM channels WHERE merchant_id = $1 AND account_id = $2 \
         AND ($3 OR archived_at IS NULL) AND id > $4 ORDER BY id LIMIT $5"
    );
    on_pool!(db, |p| sqlx::query_as::<_, ChannelRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(with_archived)
        .bind(after_id)
        .bind(limit)
        .fetch_all(p)
        .await)
}

/// Every scene the account's channels use (archived ones keep theirs: WeChat may still
/// report it, and the statistics are kept by scene).
pub async fn scenes(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<String>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, String>(
        "SELECT scene FROM channels WHERE merchant_id = $1 AND account_id = $2"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_all(p)
    .await)
}

pub async fn scene_taken(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    scene: &str,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| {
        sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM channels WHERE merchant_id = $1 AND account_id = $2 AND scene = $3"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(scene)
    .fetch_one(p)
    .await
    })?;
    Ok(n > 0)
}

/// How many permanent codes the account has made through us (WeChat never deletes one).
pub async fn permanent_count(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM channels WHERE merchant_id = $1 AND account_id = $2 \
         AND kind = 'permanent'"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_one(p)
    .await)
}

/// The editable fields.
pub struct ChannelChange<'a> {
    pub name: &'a str,
    pub medium: &'a str,
    pub tag_id: Option<i64>,
    pub welcome_text: &'a str,
    pub poster_text: &'a str,
}

pub async fn update(
    db: &Db,
    merchant_id: i64,
    id: i64,
    c: &ChannelChange<'_>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "UPDATE channels SET name = $1, medium = $2, tag_id = $3, welcome_text = $4, \
         poster_text = $5, updated_at = $6 WHERE merchant_id = $7 AND id = $8"
    )
    .bind(c.name)
    .bind(c.medium)
    .bind(c.tag_id)
    .bind(c.welcome_text)
    .bind(c.poster_text)
    .bind(now)
    .bind(merchant_id)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Archives a channel (its numbers stay); false when there is no such channel.
pub async fn archive(db: &Db, merchant_id: i64, id: i64, now: i64) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |p| sqlx::query(
        "UPDATE channels SET archived_at = COALESCE(archived_at, $1), updated_at = $1 \
         WHERE merchant_id = $2 AND id = $3"
    )
    .bind(now)
    .bind(merchant_id)
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// The account's tags (id, name), to pick the one a scan applies. The tags capability owns
/// the table; channels only read it.
pub async fn tags(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (i64, String)>(
        "SELECT id, name FROM tags WHERE merchant_id = $1 AND account_id = $2 ORDER BY name"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_all(p)
    .await)
}

/// The welcome of each live channel of an account that has one: (scene, text), for the
/// callback's in-memory directory.
pub async fn welcomes(db: &Db, account_id: i64) -> Result<Vec<(String, String)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, String)>(
        "SELECT scene, welcome_text FROM channels WHERE account_id = $1 \
         AND archived_at IS NULL AND welcome_text <> ''"
    )
    .bind(account_id)
    .fetch_all(p)
    .await)
}

/// (scene, new follows, rescans) of every scene of the account, all time.
pub async fn totals_by_scene(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT scene, CAST(SUM(new_follows) AS BIGINT), CAST(SUM(rescans) AS BIGINT) \
         FROM channel_days WHERE merchant_id = $1 AND account_id = $2 GROUP BY scene"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_all(p)
    .await)
}

/// (scene, followers who came through it and are gone now) of the account.
pub async fn unfollows_by_scene(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, i64)>(
        "SELECT channel, COUNT(*) FROM followers WHERE merchant_id = $1 AND account_id = $2 \
         AND channel IS NOT NULL AND subscribed = $3 GROUP BY channel"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(false)
    .fetch_all(p)
    .await)
}

/// (day, new follows, rescans) of one scene between two days (`YYYY-MM-DD`, inclusive).
pub async fn days(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    scene: &str,
    from: &str,
    to: &str,
) -> Result<Vec<(String, i64, i64)>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_as::<_, (String, i64, i64)>(
        "SELECT day, new_follows, rescans FROM channel_days WHERE merchant_id = $1 \
         AND account_id = $2 AND scene = $3 AND day >= $4 AND day <= $5 ORDER BY day"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(scene)
    .bind(from)
    .bind(to)
    .fetch_all(p)
    .await)
}

/// When each follower who came through `scene` and is gone now unfollowed, within
/// [from_ms, to_ms).
pub async fn unfollow_times(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    scene: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<i64>, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT unsubscribed_at FROM followers WHERE merchant_id = $1 AND account_id = $2 \
         AND channel = $3 AND subscribed = $4 AND unsubscribed_at >= $5 AND unsubscribed_at < $6"
    )
    .bind(merchant_id)
    .bind(account_id)
    .bind(scene)
    .bind(false)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(p)
    .await)
}

// ---- the projection ----

pub const PROJECTION: &str = "channels";

/// `$first, $first+1, …` for `n` parameters.
fn params(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// (account id, merchant id, merchant's time zone) of the accounts named.
pub async fn account_zones(
    db: &Db,
    account_ids: &[i64],
) -> Result<Vec<(i64, i64, String)>, sqlx::Error> {
    if account_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT a.id, a.merchant_id, m.timezone FROM accounts a \
         JOIN merchants m ON m.id = a.merchant_id WHERE a.id IN ({})",
        params(1, account_ids.len())
    );
    on_pool!(db, |p| {
        let mut q = sqlx::query_as::<_, (i64, i64, String)>(&sql);
        for id in account_ids {
            q = q.bind(*id);
        }
        q.fetch_all(p).await
    })
}

/// (account id, scene, tag id) of the live channels of these accounts that tag on scan.
pub async fn tagging_channels(
    db: &Db,
    account_ids: &[i64],
) -> Result<Vec<(i64, String, i64)>, sqlx::Error> {
    if account_ids.is_empty() {
        return Ok(vec![]);
    }
    let sql = format!(
        "SELECT account_id, scene, tag_id FROM channels WHERE tag_id IS NOT NULL \
         AND archived_at IS NULL AND account_id IN ({})",
        params(1, account_ids.len())
    );
    on_pool!(db, |p| {
        let mut q = sqlx::query_as::<_, (i64, String, i64)>(&sql);
        for id in account_ids {
            q = q.bind(*id);
        }
        q.fetch_all(p).await
    })
}

/// Scans of one scene on one day, to add to `channel_days`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayCount {
    pub merchant_id: i64,
    pub account_id: i64,
    pub scene: String,
    pub day: String,
    pub new_follows: i64,
    pub rescans: i64,
}

/// A follower to tag because they scanned a channel's code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagOnScan {
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: String,
    pub tag_id: i64,
}

/// The job that makes WeChat's tags of a follower equal ours (the tags capability handles it).
pub const PUSH_FOLLOWER_TAGS: &str = "tags.push_follower";

/// What applying a pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// False when the cursor was no longer at `from`: another pass applied these rows.
    pub moved: bool,
    pub tagged: usize,
    /// Followers who already carry WeChat's maximum of tags.
    pub skipped_full: usize,
}

/// Applies one pass in ONE transaction: the cursor moves from `from` to `to` by
/// compare-and-set first (it is the pass's lock: a second pass over the same rows waits
/// for it, then finds the cursor moved and changes nothing), then the counters grow, then
/// scanners get their channel's tag with a job to push it to WeChat. Counters are sums, not
/// merges, so only this all-or-nothing makes a pass count once. A pass with no scans (most
/// of them: the log is mostly messages) only moves the cursor, in one statement: on SQLite
/// a transaction of several holds the write lock the log's committer waits for while it
/// goes back and forth between statements.
pub async fn apply_pass(
    db: &Db,
    from: i64,
    to: i64,
    counts: &[DayCount],
    tags: &[TagOnScan],
    max_tags_per_follower: i64,
    now: i64,
) -> Result<Applied, sqlx::Error> {
    if counts.is_empty() && tags.is_empty() {
        return Ok(Applied {
            moved: crate::messages::store::advance_cursor(db, PROJECTION, from, to).await?,
            ..Applied::default()
        });
    }
    let mut tx = db.begin().await?;
    let moved = on_tx!(&mut tx, |c| sqlx::query(
        "UPDATE log_projections SET last_id = $1 WHERE name = $2 AND last_id = $3"
    )
    .bind(to)
    .bind(PROJECTION)
    .bind(from)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))?;
    if moved != 1 {
        tx.rollback().await?;
        return Ok(Applied::default());
    }
    for c in counts {
        add_day(&mut tx, c).await?;
    }
    let mut applied = Applied {
        moved: true,
        ..Applied::default()
    };
    for t in tags {
        match tag_follower(&mut tx, t, max_tags_per_follower, now).await? {
            Tagging::Tagged => {
                enqueue_push(&mut tx, t, now).await?;
                applied.tagged += 1;
            }
            Tagging::AlreadyTagged => {}
            Tagging::Full => {
                tracing::info!(
                    account_id = t.account_id,
                    tag_id = t.tag_id,
                    "channel scan: follower already has the most tags WeChat allows; tag skipped"
                );
                applied.skipped_full += 1;
            }
        }
    }
    tx.commit().await?;
    Ok(applied)
}

async fn add_day(tx: &mut Tx, c: &DayCount) -> Result<(), sqlx::Error> {
    on_tx!(tx, |x| sqlx::query(
        "INSERT INTO channel_days (merchant_id, account_id, scene, day, new_follows, rescans) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account_id, scene, day) DO UPDATE SET \
         new_follows = channel_days.new_follows + excluded.new_follows, \
         rescans = channel_days.rescans + excluded.rescans"
    )
    .bind(c.merchant_id)
    .bind(c.account_id)
    .bind(&c.scene)
    .bind(&c.day)
    .bind(c.new_follows)
    .bind(c.rescans)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Whether tagging a follower added the tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tagging {
    Tagged,
    AlreadyTagged,
    /// The follower carries WeChat's maximum of tags already.
    Full,
}

async fn enqueue_push(tx: &mut Tx, t: &TagOnScan, now: i64) -> Result<(), sqlx::Error> {
    jobs::enqueue(
        tx,
        now,
        NewJob::new(
            PUSH_FOLLOWER_TAGS,
            serde_json::json!({
                "merchant_id": t.merchant_id,
                "account_id": t.account_id,
                "openid": t.openid,
            }),
        )
        .merchant(t.merchant_id),
    )
    .await
    .map(|_| ())
}

/// Tags one follower (within WeChat's limit) and enqueues the push of their tags to WeChat,
/// in one transaction (flows tag whoever chooses an option).
pub async fn tag_one(
    db: &Db,
    t: &TagOnScan,
    max_tags_per_follower: i64,
    now: i64,
) -> Result<Tagging, sqlx::Error> {
    let mut tx = db.begin().await?;
    let tagging = tag_follower(&mut tx, t, max_tags_per_follower, now).await?;
    if tagging == Tagging::Tagged {
        enqueue_push(&mut tx, t, now).await?;
    }
    tx.commit().await?;
    Ok(tagging)
}

async fn tag_follower(
    tx: &mut Tx,
    t: &TagOnScan,
    max: i64,
    now: i64,
) -> Result<Tagging, sqlx::Error> {
    let (has, count) = on_tx!(tx, |x| sqlx::query_as::<_, (i64, i64)>(
        "SELECT COALESCE(SUM(CASE WHEN tag_id = $3 THEN 1 ELSE 0 END), 0), COUNT(*) \
         FROM follower_tags WHERE account_id = $1 AND openid = $2"
    )
    .bind(t.account_id)
    .bind(&t.openid)
    .bind(t.tag_id)
    .fetch_one(x)
    .await)?;
    if has > 0 {
        return Ok(Tagging::AlreadyTagged);
    }
    if count >= max {
        return Ok(Tagging::Full);
    }
    let n = on_tx!(tx, |x| sqlx::query(
        "INSERT INTO follower_tags (merchant_id, account_id, openid, tag_id, tagged_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, openid, tag_id) DO NOTHING"
    )
    .bind(t.merchant_id)
    .bind(t.account_id)
    .bind(&t.openid)
    .bind(t.tag_id)
    .bind(now)
    .execute(x)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(if n == 1 {
        Tagging::Tagged
    } else {
        Tagging::AlreadyTagged
    })
}
