//! Fills a database with generated followers for the followers benchmark
//! (`bench/followers.sh`): one account's N followers (default 1,000,000) with a realistic
//! spread, their tags and channels, deterministic for a seed and a `--now`.
//!
//! ```text
//! gen_followers --db sqlite:///tmp/zg.db [--account ID] [--count 1000000] [--seed 1] \
//!   [--now EPOCH_MS] [--api-key NAME]
//! ```
//!
//! The database is migrated by the product's own migrations first. Without `--account` the
//! followers go to the first account of the demo merchant (run `zhanggui demo` against the
//! same URL first), so the console shows them when signed in as demo / demo1234. With
//! `--api-key` an owner API key of the account's merchant is made and printed.
//!
//! The spread: first seen over two years (more of them recent); ~85% subscribed (a few of
//! them after an unfollow), the others unsubscribed; the last interaction between the last
//! follow/unfollow and now; ~30% came through one of 4 channel QR codes made here; 10 tags
//! made here, each follower has 0–3 of them (some tags much more common than others);
//! profile fields (name, phone, gender, birthday, city) on ~20%; a last location on ~10%;
//! WeChat's profile (synced_at, language, subscribe_scene, some unionids) on ~60%.
//!
//! SQLite is written through rusqlite (the same SQLite the product links) in transactions of
//! 50,000 followers with 400-row INSERT statements prepared once; PostgreSQL through one
//! `COPY … FROM STDIN (FORMAT csv)` per table. Prints what it made, one `key value` a line:
//! `merchant`, `account`, `tags` (ids, most common first), `scenes`, `api_key`, `followers`,
//! `follower_tags`, `seconds`.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{Context, bail};
use sqlx::postgres::PgPoolCopyExt;
use zhanggui::platform::db::{ConnectOptions, Db};

const DAY: i64 = 86_400_000;
const TWO_YEARS: i64 = 730 * DAY;
const TAGS: [&str; 10] = [
    "压测·会员",
    "压测·新客",
    "压测·常客",
    "压测·咖啡",
    "压测·甜品",
    "压测·外卖",
    "压测·企业",
    "压测·学生",
    "压测·沉睡",
    "压测·高价值",
];
/// How common each tag is, relative to the others (the order of `TAGS`).
const TAG_WEIGHTS: [u32; 10] = [30, 20, 14, 10, 8, 6, 5, 3, 2, 2];
/// (scene, name, medium, share of the followers who came through a channel, in %)
const CHANNELS: [(&str, &str, &str, u32); 4] = [
    ("bench_poster", "压测·门店海报", "poster", 40),
    ("bench_table", "压测·桌贴", "table_card", 30),
    ("bench_link", "压测·公众号文章", "link", 20),
    ("bench_event", "压测·市集活动", "other", 10),
];
const CITIES: [(&str, f64, f64); 8] = [
    ("上海", 31.2304, 121.4737),
    ("北京", 39.9042, 116.4074),
    ("杭州", 30.2741, 120.1551),
    ("深圳", 22.5431, 114.0579),
    ("广州", 23.1291, 113.2644),
    ("成都", 30.5728, 104.0668),
    ("南京", 32.0603, 118.7969),
    ("苏州", 31.2989, 120.5853),
];
const SURNAMES: [&str; 12] = [
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙",
];
const GIVEN: [&str; 12] = [
    "伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "杰", "婷", "强",
];
const SCENES: [&str; 5] = [
    "ADD_SCENE_SEARCH",
    "ADD_SCENE_PROFILE_CARD",
    "ADD_SCENE_ACCOUNT_MIGRATION",
    "ADD_SCENE_PROFILE_LINK",
    "ADD_SCENE_OTHERS",
];
const OPENID_CHARS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const FOLLOWER_COLUMNS: &str = "merchant_id, account_id, openid, first_seen_at, \
    last_interaction_at, subscribed, subscription_changed_at, subscribed_at, unsubscribed_at, \
    channel, channel_at, last_latitude, last_longitude, last_location_at, remark, unionid, \
    language, subscribe_scene, synced_at, blacklisted, nickname, name, phone, gender, birthday, \
    city, profile_updated_at";
const FOLLOWER_ARITY: usize = 27;
const TAG_COLUMNS: &str = "merchant_id, account_id, openid, tag_id, tagged_at";

#[derive(Clone)]
struct Args {
    db: String,
    account: Option<i64>,
    count: u64,
    seed: u64,
    now: i64,
    api_key: Option<String>,
}

const USAGE: &str = "usage: gen_followers --db URL [--account ID] [--count N] [--seed N] \
    [--now EPOCH_MS] [--api-key NAME]";

fn parse_args() -> anyhow::Result<Args> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("clock before 1970")?
        .as_millis() as i64;
    let mut args = Args {
        db: String::new(),
        account: None,
        count: 1_000_000,
        seed: 1,
        now,
        api_key: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().context(USAGE)?;
        match flag.as_str() {
            "--db" => args.db = value,
            "--account" => args.account = Some(value.parse().context(USAGE)?),
            "--count" => args.count = value.parse().context(USAGE)?,
            "--seed" => args.seed = value.parse().context(USAGE)?,
            "--now" => args.now = value.parse().context(USAGE)?,
            "--api-key" => args.api_key = Some(value),
            _ => bail!(USAGE),
        }
    }
    if args.db.is_empty() {
        bail!(USAGE);
    }
    Ok(args)
}

/// splitmix64: small, fast, and the same sequence everywhere for a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Uniform in [from, to] (to >= from).
    fn between(&mut self, from: i64, to: i64) -> i64 {
        from + (self.unit() * (to - from) as f64) as i64
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// An index drawn with these weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(u64::from(total)) as u32;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

#[derive(Default)]
struct Follower {
    openid: String,
    first_seen_at: i64,
    last_interaction_at: i64,
    subscribed: bool,
    subscription_changed_at: Option<i64>,
    subscribed_at: Option<i64>,
    unsubscribed_at: Option<i64>,
    channel: Option<&'static str>,
    channel_at: Option<i64>,
    last_latitude: Option<f64>,
    last_longitude: Option<f64>,
    last_location_at: Option<i64>,
    remark: &'static str,
    unionid: Option<String>,
    language: Option<&'static str>,
    subscribe_scene: Option<&'static str>,
    synced_at: Option<i64>,
    blacklisted: bool,
    nickname: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    gender: Option<&'static str>,
    birthday: Option<String>,
    city: Option<&'static str>,
    profile_updated_at: Option<i64>,
    /// (index into the account's tags, tagged_at)
    tags: Vec<(usize, i64)>,
}

/// 64 bits as 11 characters of the openid alphabet.
fn push_b64(out: &mut String, mut x: u64, chars: usize) {
    for _ in 0..chars {
        out.push(OPENID_CHARS[(x & 63) as usize] as char);
        x >>= 6;
    }
}

/// Follower `i`: its openid is unique by construction (an odd multiplier is a bijection of
/// u64), the rest is drawn from `rng`.
fn follower(i: u64, seed: u64, now: i64, rng: &mut Rng) -> Follower {
    let mut openid = String::with_capacity(28);
    openid.push_str("oBnch");
    push_b64(
        &mut openid,
        (i ^ seed.rotate_left(17)).wrapping_mul(0xD1B5_4A32_D192_ED03),
        11,
    );
    push_b64(&mut openid, rng.next(), 11);
    push_b64(&mut openid, rng.next(), 1);

    let mut f = Follower {
        openid,
        ..Follower::default()
    };
    // More followers are recent than old: the account grew.
    let age = (TWO_YEARS as f64 * rng.unit().powf(1.6)) as i64;
    let first = now - DAY / 24 - age;
    f.first_seen_at = first;
    f.subscribed = rng.chance(0.85);
    if f.subscribed && rng.chance(0.05) {
        // Unfollowed once, then came back.
        let gone = rng.between(first, first + (now - first) / 2);
        let back = rng.between(gone, now);
        f.unsubscribed_at = Some(gone);
        f.subscribed_at = Some(back);
        f.subscription_changed_at = Some(back);
    } else if f.subscribed {
        f.subscribed_at = Some(first);
        f.subscription_changed_at = Some(first);
    } else {
        let gone = rng.between(first, now);
        f.subscribed_at = Some(first);
        f.unsubscribed_at = Some(gone);
        f.subscription_changed_at = Some(gone);
    }
    let changed = f.subscription_changed_at.unwrap_or(first);
    f.last_interaction_at = if f.subscribed {
        // Active followers lean to recent activity.
        changed + ((now - changed) as f64 * rng.unit().sqrt()) as i64
    } else {
        changed
    };
    if rng.chance(0.30) {
        let weights: Vec<u32> = CHANNELS.iter().map(|c| c.3).collect();
        f.channel = Some(CHANNELS[rng.weighted(&weights)].0);
        f.channel_at = Some(first);
        f.subscribe_scene = Some("ADD_SCENE_QR_CODE");
    }
    if rng.chance(0.60) {
        f.synced_at = Some(rng.between(now - 30 * DAY, now));
        f.language = Some("zh_CN");
        if f.subscribe_scene.is_none() {
            f.subscribe_scene = Some(*rng.pick(&SCENES));
        }
        if rng.chance(0.5) {
            let mut u = String::from("oUnio");
            push_b64(&mut u, (i ^ seed).wrapping_mul(0x9E37_79B9_7F4A_7C15), 11);
            push_b64(&mut u, rng.next(), 11);
            push_b64(&mut u, rng.next(), 1);
            f.unionid = Some(u);
        }
    }
    if rng.chance(0.03) {
        f.remark = "老客户";
    }
    f.blacklisted = rng.chance(0.002);
    if rng.chance(0.20) {
        let name = format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN));
        f.nickname = Some(format!("{name}{}", rng.below(100)));
        f.name = Some(name);
        f.phone = Some(format!("13{:09}", rng.below(1_000_000_000)));
        f.gender = match rng.below(20) {
            0..=8 => Some("male"),
            9..=17 => Some("female"),
            _ => None,
        };
        f.birthday = Some(format!(
            "{}-{:02}-{:02}",
            1960 + rng.below(46),
            1 + rng.below(12),
            1 + rng.below(28)
        ));
        f.city = Some(rng.pick(&CITIES).0);
        f.profile_updated_at = Some(rng.between(first, now));
    }
    if rng.chance(0.10) {
        let (_, lat, lng) = *rng.pick(&CITIES);
        f.last_latitude = Some(lat + (rng.unit() - 0.5) * 0.2);
        f.last_longitude = Some(lng + (rng.unit() - 0.5) * 0.2);
        f.last_location_at = Some(rng.between(first, f.last_interaction_at));
    }
    let n = [0, 0, 0, 0, 1, 1, 1, 2, 2, 3][rng.below(10) as usize];
    while f.tags.len() < n {
        let t = rng.weighted(&TAG_WEIGHTS);
        if !f.tags.iter().any(|(x, _)| *x == t) {
            f.tags.push((t, rng.between(first, now)));
        }
    }
    f
}

/// A CSV field for COPY: NULL is an empty unquoted field, text is always quoted.
fn csv_text(out: &mut String, v: Option<&str>) {
    if let Some(s) = v {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    }
    out.push(',');
}

fn csv_num<T: std::fmt::Display>(out: &mut String, v: Option<T>) {
    if let Some(n) = v {
        let _ = write!(out, "{n}");
    }
    out.push(',');
}

fn csv_follower(out: &mut String, m: i64, a: i64, f: &Follower) {
    csv_num(out, Some(m));
    csv_num(out, Some(a));
    csv_text(out, Some(&f.openid));
    csv_num(out, Some(f.first_seen_at));
    csv_num(out, Some(f.last_interaction_at));
    csv_num(out, Some(f.subscribed));
    csv_num(out, f.subscription_changed_at);
    csv_num(out, f.subscribed_at);
    csv_num(out, f.unsubscribed_at);
    csv_text(out, f.channel);
    csv_num(out, f.channel_at);
    csv_num(out, f.last_latitude);
    csv_num(out, f.last_longitude);
    csv_num(out, f.last_location_at);
    csv_text(out, Some(f.remark));
    csv_text(out, f.unionid.as_deref());
    csv_text(out, f.language);
    csv_text(out, f.subscribe_scene);
    csv_num(out, f.synced_at);
    csv_num(out, Some(f.blacklisted));
    csv_text(out, f.nickname.as_deref());
    csv_text(out, f.name.as_deref());
    csv_text(out, f.phone.as_deref());
    csv_text(out, f.gender);
    csv_text(out, f.birthday.as_deref());
    csv_text(out, f.city);
    if let Some(t) = f.profile_updated_at {
        let _ = write!(out, "{t}");
    }
    out.push('\n');
}

/// The account's merchant, or the demo merchant's first account.
async fn target(db: &Db, account: Option<i64>) -> anyhow::Result<(i64, i64)> {
    let row: Option<(i64, i64)> = match account {
        Some(id) => zhanggui::on_pool!(db, |p| sqlx::query_as(
            "SELECT merchant_id, id FROM accounts WHERE id = $1"
        )
        .bind(id)
        .fetch_optional(p)
        .await)?,
        None => zhanggui::on_pool!(db, |p| {
            sqlx::query_as(
            "SELECT a.merchant_id, a.id FROM accounts a JOIN merchants m ON m.id = a.merchant_id \
             WHERE m.name = $1 ORDER BY a.id LIMIT 1"
        )
        .bind(zhanggui::demo::DEMO_MERCHANT)
        .fetch_optional(p)
        .await
        })?,
    };
    row.context("no such account (without --account, run `zhanggui demo` first)")
}

/// The 10 tags and 4 channels of the benchmark, made in the account.
async fn tags_and_channels(db: &Db, m: i64, a: i64, now: i64) -> anyhow::Result<Vec<i64>> {
    let top: i64 = zhanggui::on_pool!(db, |p| sqlx::query_scalar(
        "SELECT COALESCE(MAX(wx_tag_id), 99) FROM tags WHERE account_id = $1"
    )
    .bind(a)
    .fetch_one(p)
    .await)?;
    let mut ids = vec![];
    for (i, name) in TAGS.iter().enumerate() {
        let id: i64 = zhanggui::on_pool!(db, |p| {
            sqlx::query_scalar(
            "INSERT INTO tags (merchant_id, account_id, name, wx_tag_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING id"
        )
        .bind(m)
        .bind(a)
        .bind(*name)
        .bind(top + 1 + i as i64)
        .bind(now - TWO_YEARS)
        .fetch_one(p)
        .await
        })
        .with_context(|| format!("tag {name} (already generated into this account?)"))?;
        ids.push(id);
    }
    for (i, (scene, name, medium, _)) in CHANNELS.iter().enumerate() {
        zhanggui::on_pool!(db, |p| sqlx::query(
            "INSERT INTO channels (merchant_id, account_id, name, kind, scene, medium, tag_id, \
             ticket, qr_url, created_at, updated_at) \
             VALUES ($1, $2, $3, 'permanent', $4, $5, $6, $7, $8, $9, $9)"
        )
        .bind(m)
        .bind(a)
        .bind(*name)
        .bind(*scene)
        .bind(*medium)
        .bind(ids[i])
        .bind(format!("gQBench{i}"))
        .bind(format!("http://weixin.qq.com/q/bench{i}"))
        .bind(now - TWO_YEARS)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    }
    Ok(ids)
}

fn insert_sql(table: &str, columns: &str, arity: usize, rows: usize) -> String {
    let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..arity {
            if c > 0 {
                sql.push(',');
            }
            let _ = write!(sql, "?{}", r * arity + c + 1);
        }
        sql.push(')');
    }
    sql
}

fn bind_follower(
    stmt: &mut rusqlite::Statement<'_>,
    base: usize,
    m: i64,
    a: i64,
    f: &Follower,
) -> rusqlite::Result<()> {
    let vals: [&dyn rusqlite::ToSql; FOLLOWER_ARITY] = [
        &m,
        &a,
        &f.openid,
        &f.first_seen_at,
        &f.last_interaction_at,
        &f.subscribed,
        &f.subscription_changed_at,
        &f.subscribed_at,
        &f.unsubscribed_at,
        &f.channel,
        &f.channel_at,
        &f.last_latitude,
        &f.last_longitude,
        &f.last_location_at,
        &f.remark,
        &f.unionid,
        &f.language,
        &f.subscribe_scene,
        &f.synced_at,
        &f.blacklisted,
        &f.nickname,
        &f.name,
        &f.phone,
        &f.gender,
        &f.birthday,
        &f.city,
        &f.profile_updated_at,
    ];
    for (k, v) in vals.iter().enumerate() {
        stmt.raw_bind_parameter(base + k + 1, v)?;
    }
    Ok(())
}

const SQLITE_ROWS: usize = 400;
const SQLITE_TAG_ROWS: usize = 2000;
const TX_FOLLOWERS: u64 = 50_000;

/// Writes the followers through rusqlite: (followers, follower_tags) written.
fn fill_sqlite(
    path: &str,
    args: &Args,
    m: i64,
    a: i64,
    tag_ids: &[i64],
) -> anyhow::Result<(u64, u64)> {
    let mut conn = rusqlite::Connection::open(path).with_context(|| format!("open {path}"))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -262_144)?; // 256 MiB while loading
    let full = insert_sql("followers", FOLLOWER_COLUMNS, FOLLOWER_ARITY, SQLITE_ROWS);
    let full_tags = insert_sql("follower_tags", TAG_COLUMNS, 5, SQLITE_TAG_ROWS);
    let mut rng = Rng(args.seed);
    let (mut written, mut tagged) = (0u64, 0u64);
    while written < args.count {
        let n = TX_FOLLOWERS.min(args.count - written);
        let batch: Vec<Follower> = (written..written + n)
            .map(|i| follower(i, args.seed, args.now, &mut rng))
            .collect();
        let tx = conn.transaction()?;
        for chunk in batch.chunks(SQLITE_ROWS) {
            let sql = if chunk.len() == SQLITE_ROWS {
                full.clone()
            } else {
                insert_sql("followers", FOLLOWER_COLUMNS, FOLLOWER_ARITY, chunk.len())
            };
            let mut stmt = tx.prepare_cached(&sql)?;
            for (r, f) in chunk.iter().enumerate() {
                bind_follower(&mut stmt, r * FOLLOWER_ARITY, m, a, f)?;
            }
            stmt.raw_execute()?;
        }
        let pairs: Vec<(&str, i64, i64)> = batch
            .iter()
            .flat_map(|f| {
                f.tags
                    .iter()
                    .map(|(t, at)| (f.openid.as_str(), tag_ids[*t], *at))
            })
            .collect();
        for chunk in pairs.chunks(SQLITE_TAG_ROWS) {
            let sql = if chunk.len() == SQLITE_TAG_ROWS {
                full_tags.clone()
            } else {
                insert_sql("follower_tags", TAG_COLUMNS, 5, chunk.len())
            };
            let mut stmt = tx.prepare_cached(&sql)?;
            for (r, (openid, tag, at)) in chunk.iter().enumerate() {
                let base = r * 5;
                stmt.raw_bind_parameter(base + 1, m)?;
                stmt.raw_bind_parameter(base + 2, a)?;
                stmt.raw_bind_parameter(base + 3, openid)?;
                stmt.raw_bind_parameter(base + 4, tag)?;
                stmt.raw_bind_parameter(base + 5, at)?;
            }
            stmt.raw_execute()?;
        }
        tx.commit()?;
        written += n;
        tagged += pairs.len() as u64;
    }
    Ok((written, tagged))
}

/// Writes the followers with one COPY per table: (followers, follower_tags) written.
async fn fill_postgres(
    pool: &sqlx::PgPool,
    args: &Args,
    m: i64,
    a: i64,
    tag_ids: &[i64],
) -> anyhow::Result<(u64, u64)> {
    let mut rng = Rng(args.seed);
    let mut followers = pool
        .copy_in_raw(&format!(
            "COPY followers ({FOLLOWER_COLUMNS}) FROM STDIN (FORMAT csv)"
        ))
        .await?;
    // follower_tags waits in memory (~40 bytes a row) until the followers are in.
    let mut tags = String::new();
    let mut written = 0u64;
    while written < args.count {
        let n = TX_FOLLOWERS.min(args.count - written);
        let mut buf = String::with_capacity(n as usize * 200);
        for i in written..written + n {
            let f = follower(i, args.seed, args.now, &mut rng);
            csv_follower(&mut buf, m, a, &f);
            for (t, at) in &f.tags {
                let _ = writeln!(tags, "{m},{a},{},{},{at}", f.openid, tag_ids[*t]);
            }
        }
        followers.send(buf.into_bytes()).await?;
        written += n;
    }
    followers.finish().await?;
    let mut copy = pool
        .copy_in_raw(&format!(
            "COPY follower_tags ({TAG_COLUMNS}) FROM STDIN (FORMAT csv)"
        ))
        .await?;
    copy.send(tags.into_bytes()).await?;
    let tagged = copy.finish().await?;
    // What autovacuum would do shortly after a load this size; done now so that the
    // benchmark's plans do not depend on when it runs.
    sqlx::query("ANALYZE followers").execute(pool).await?;
    sqlx::query("ANALYZE follower_tags").execute(pool).await?;
    Ok((written, tagged))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let db = Db::connect(&args.db, ConnectOptions { max_connections: 2 }).await?;
    db.migrate().await?;
    let (m, a) = target(&db, args.account).await?;
    let started = Instant::now();
    let tag_ids = tags_and_channels(&db, m, a, args.now).await?;
    let (followers, tagged) = match &db {
        Db::Sqlite(_) => {
            let path = args
                .db
                .trim_start_matches("sqlite://")
                .trim_start_matches("sqlite:");
            let path = path.split('?').next().unwrap_or(path).to_string();
            // rusqlite blocks: off the runtime's thread.
            let (tag_ids, args2) = (tag_ids.clone(), args.clone());
            tokio::task::spawn_blocking(move || fill_sqlite(&path, &args2, m, a, &tag_ids))
                .await
                .context("the SQLite writer panicked")??
        }
        Db::Postgres(pool) => fill_postgres(pool, &args, m, a, &tag_ids).await?,
    };
    let seconds = started.elapsed().as_secs_f64();
    println!("merchant {m}");
    println!("account {a}");
    println!(
        "tags {}",
        tag_ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    println!(
        "scenes {}",
        CHANNELS.iter().map(|c| c.0).collect::<Vec<_>>().join(",")
    );
    println!("followers {followers}");
    println!("follower_tags {tagged}");
    println!("seconds {seconds:.2}");
    if let Some(name) = &args.api_key {
        let (key, prefix) = zhanggui::platform::auth::model::new_api_key();
        zhanggui::apikeys::store::insert(
            &db,
            &zhanggui::apikeys::store::NewKey {
                merchant_id: m,
                name,
                prefix: &prefix,
                key_hash: &zhanggui::platform::auth::model::token_hash(&key),
                role: "owner",
                created_by: None,
            },
            args.now,
        )
        .await?;
        println!("api_key {key}");
    }
    db.close().await;
    Ok(())
}
