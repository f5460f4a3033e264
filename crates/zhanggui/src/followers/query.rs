//! Filters compiled to SQL, and the reads built on them: a page of the follower list, a
//! count, the openids of every match (bulk operations, export).
//!
//! Every condition compiles to an expression that is never NULL (NULL columns are tested
//! explicitly), so conditions combine with AND / OR exactly as `Filter::matches` does in
//! memory. Values always travel as bound parameters, never inside the SQL text.

use super::filter::{
    Area, Combine, Condition, Filter, FollowerRecord, Gender, ListOp, Profile, TagOp, TextOp,
    TimeRange,
};
use super::model::Follower;
use crate::on_pool;
use crate::platform::clock::Millis;
use crate::platform::db::{Db, Dialect};

/// A bound value of a compiled filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Int(i64),
    Real(f64),
    Text(String),
    Bool(bool),
}

/// A filter as a SQL condition on `followers f`, with its arguments numbered from the
/// `first_arg` given to [`compile`].
#[derive(Clone, Debug, PartialEq)]
pub struct Compiled {
    pub sql: String,
    pub args: Vec<Arg>,
}

/// Binds compiled arguments to a sqlx query in order (works for either driver's query type,
/// so it is a macro).
#[macro_export]
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut q = $query;
        for a in $args {
            q = match a {
                $crate::followers::query::Arg::Int(v) => q.bind(*v),
                $crate::followers::query::Arg::Real(v) => q.bind(*v),
                $crate::followers::query::Arg::Text(v) => q.bind(v.as_str()),
                $crate::followers::query::Arg::Bool(v) => q.bind(*v),
            };
        }
        q
    }};
}

struct Builder {
    dialect: Dialect,
    now: Millis,
    first_arg: usize,
    args: Vec<Arg>,
}

impl Builder {
    /// Adds an argument and returns its placeholder.
    fn arg(&mut self, a: Arg) -> String {
        self.args.push(a);
        format!("${}", self.first_arg + self.args.len() - 1)
    }

    fn list(&mut self, values: impl IntoIterator<Item = Arg>) -> String {
        let placeholders: Vec<String> = values.into_iter().map(|v| self.arg(v)).collect();
        placeholders.join(", ")
    }

    fn like(&self) -> &'static str {
        // ASCII case-insensitive on both: SQLite's LIKE already is.
        match self.dialect {
            Dialect::Sqlite => "LIKE",
            Dialect::Postgres => "ILIKE",
        }
    }
}

/// Compiles `filter` for the moment `now`; placeholders start at `$first_arg`.
pub fn compile(filter: &Filter, dialect: Dialect, now: Millis, first_arg: usize) -> Compiled {
    let mut b = Builder {
        dialect,
        now,
        first_arg,
        args: Vec::new(),
    };
    if filter.conditions.is_empty() {
        return Compiled {
            sql: "1 = 1".into(),
            args: vec![],
        };
    }
    let parts: Vec<String> = filter
        .conditions
        .iter()
        .map(|c| condition(&mut b, c))
        .collect();
    let joiner = match filter.combine {
        Combine::All => " AND ",
        Combine::Any => " OR ",
    };
    Compiled {
        sql: format!("({})", parts.join(joiner)),
        args: b.args,
    }
}

fn condition(b: &mut Builder, c: &Condition) -> String {
    match c {
        Condition::Subscribed { value } => format!("f.subscribed = {}", b.arg(Arg::Bool(*value))),
        Condition::Blacklisted { value } => {
            format!("f.blacklisted = {}", b.arg(Arg::Bool(*value)))
        }
        Condition::Tags { op, tag_ids } => tags(b, *op, tag_ids),
        Condition::Channel { op, scenes } => {
            let list = b.list(scenes.iter().map(|s| Arg::Text(s.clone())));
            match op {
                ListOp::In => format!("(f.channel IS NOT NULL AND f.channel IN ({list}))"),
                ListOp::NotIn => format!("(f.channel IS NULL OR f.channel NOT IN ({list}))"),
            }
        }
        Condition::HasChannel { value: true } => "f.channel IS NOT NULL".into(),
        Condition::HasChannel { value: false } => "f.channel IS NULL".into(),
        Condition::SubscribedAt { range } => time(b, "f.subscribed_at", range),
        Condition::FirstSeen { range } => time(b, "f.first_seen_at", range),
        Condition::LastInteraction { range } => time(b, "f.last_interaction_at", range),
        Condition::Gender { values } => {
            let parts: Vec<String> = values.iter().map(|g| gender(b, *g)).collect();
            format!("({})", parts.join(" OR "))
        }
        Condition::Profile { name, op, value } => {
            text(b, &format!("f.{}", name.column()), *op, value)
        }
        Condition::BirthdayMonth { months } => {
            let list = b.list(months.iter().map(|m| Arg::Text(format!("{m:02}"))));
            format!("(f.birthday IS NOT NULL AND SUBSTR(f.birthday, 6, 2) IN ({list}))")
        }
        Condition::Near {
            latitude,
            longitude,
            radius_m,
            within_days,
        } => near(
            b,
            Area::around(*latitude, *longitude, *radius_m),
            *within_days,
        ),
        Condition::Search { text: t } => {
            let t = t.trim();
            let exact = b.arg(Arg::Text(t.to_string()));
            let fields = ["f.remark", "f.nickname", "f.name", "f.phone"]
                .map(|col| text(b, col, TextOp::Contains, t))
                .join(" OR ");
            format!("(f.openid = {exact} OR {fields})")
        }
        Condition::FlowAnswer {
            flow_id,
            step,
            choices,
            answered,
        } => flow_answer(b, *flow_id, *step, choices, *answered),
    }
}

fn flow_answer(
    b: &mut Builder,
    flow_id: i64,
    step: Option<u32>,
    choices: &[String],
    answered: bool,
) -> String {
    let mut sql = format!(
        "EXISTS (SELECT 1 FROM flow_answers a WHERE a.account_id = f.account_id \
         AND a.openid = f.openid AND a.merchant_id = f.merchant_id AND a.flow_id = {}",
        b.arg(Arg::Int(flow_id))
    );
    if let Some(step) = step {
        // Conditions count steps from 1 as flows' `next` does; answers are stored from 0.
        sql.push_str(&format!(
            " AND a.step = {}",
            b.arg(Arg::Int(i64::from(step) - 1))
        ));
    }
    if !choices.is_empty() {
        let list = b.list(choices.iter().map(|c| Arg::Text(c.clone())));
        sql.push_str(&format!(" AND a.choice IN ({list})"));
    }
    sql.push(')');
    if answered { sql } else { format!("NOT {sql}") }
}

fn tags(b: &mut Builder, op: TagOp, tag_ids: &[i64]) -> String {
    let mut ids = tag_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let count = ids.len() as i64;
    let list = b.list(ids.into_iter().map(Arg::Int));
    let of_follower = format!(
        "FROM follower_tags t WHERE t.account_id = f.account_id AND t.openid = f.openid \
         AND t.tag_id IN ({list})"
    );
    match op {
        TagOp::Any => format!("EXISTS (SELECT 1 {of_follower})"),
        TagOp::None => format!("NOT EXISTS (SELECT 1 {of_follower})"),
        TagOp::All => {
            let n = b.arg(Arg::Int(count));
            format!("(SELECT COUNT(*) {of_follower}) = {n}")
        }
    }
}

fn time(b: &mut Builder, col: &str, range: &TimeRange) -> String {
    let (from, to) = range.bounds(b.now);
    let mut parts = vec![format!("{col} IS NOT NULL")];
    if let Some(from) = from {
        parts.push(format!("{col} >= {}", b.arg(Arg::Int(from))));
    }
    if let Some(to) = to {
        parts.push(format!("{col} < {}", b.arg(Arg::Int(to))));
    }
    format!("({})", parts.join(" AND "))
}

fn gender(b: &mut Builder, g: Gender) -> String {
    match g.stored() {
        Some(v) => format!(
            "(f.gender IS NOT NULL AND f.gender = {})",
            b.arg(Arg::Text(v.into()))
        ),
        None => "(f.gender IS NULL OR f.gender NOT IN ('male', 'female'))".into(),
    }
}

/// `%`, `_` and the escape character itself are literal in what the merchant typed.
fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

fn text(b: &mut Builder, col: &str, op: TextOp, value: &str) -> String {
    match op {
        TextOp::IsSet => format!("({col} IS NOT NULL AND {col} <> '')"),
        TextOp::NotSet => format!("({col} IS NULL OR {col} = '')"),
        TextOp::Equals => format!(
            "({col} IS NOT NULL AND {col} = {})",
            b.arg(Arg::Text(value.into()))
        ),
        TextOp::Contains => {
            let like = b.like();
            let pattern = b.arg(Arg::Text(like_pattern(value)));
            format!("({col} IS NOT NULL AND {col} {like} {pattern} ESCAPE '\\')")
        }
    }
}

/// The same arithmetic as `Area::contains`, in the same order.
fn near(b: &mut Builder, area: Area, within_days: Option<u32>) -> String {
    let lat = b.arg(Arg::Real(area.latitude));
    let lng = b.arg(Arg::Real(area.longitude));
    let scale = b.arg(Arg::Real(area.lng_scale));
    let r2 = b.arg(Arg::Real(area.radius_deg_sq));
    let recent = match within_days {
        Some(d) => format!(
            " AND f.last_location_at >= {}",
            b.arg(Arg::Int(b.now - i64::from(d) * super::filter::DAY_MS))
        ),
        None => String::new(),
    };
    format!(
        "(f.last_latitude IS NOT NULL AND f.last_longitude IS NOT NULL \
         AND f.last_location_at IS NOT NULL{recent} \
         AND (f.last_latitude - {lat}) * (f.last_latitude - {lat}) \
           + ((f.last_longitude - {lng}) * {scale}) * ((f.last_longitude - {lng}) * {scale}) \
           <= {r2})"
    )
}

// ---- reads ----

/// The order of the follower list; ties broken by openid so that pages never overlap.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Most recently active first.
    #[default]
    LastInteraction,
    /// Newest first seen first.
    Newest,
    /// Oldest first seen first.
    Oldest,
}

impl Sort {
    fn column(self) -> &'static str {
        match self {
            Sort::LastInteraction => "f.last_interaction_at",
            Sort::Newest | Sort::Oldest => "f.first_seen_at",
        }
    }

    /// SQLite's clause naming the index in this sort's order (migrations 0003 and 0013).
    fn sqlite_index(self) -> &'static str {
        match self {
            Sort::LastInteraction => " INDEXED BY followers_merchant",
            Sort::Newest | Sort::Oldest => " INDEXED BY followers_first_seen",
        }
    }

    fn descending(self) -> bool {
        !matches!(self, Sort::Oldest)
    }

    /// `DESC` or `ASC`.
    fn direction(self) -> &'static str {
        if self.descending() { "DESC" } else { "ASC" }
    }

    fn key(self, f: &Follower) -> Millis {
        match self {
            Sort::LastInteraction => f.last_interaction_at,
            Sort::Newest | Sort::Oldest => f.first_seen_at,
        }
    }
}

/// Where the next page starts: the last row's sort value and openid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct After {
    pub value: Millis,
    pub openid: String,
}

impl After {
    pub fn of(sort: Sort, f: &Follower) -> After {
        After {
            value: sort.key(f),
            openid: f.openid.clone(),
        }
    }

    /// As an opaque cursor string for the API.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.value, self.openid)
    }

    pub fn decode(s: &str) -> Option<After> {
        let (value, openid) = s.split_once('.')?;
        Some(After {
            value: value.parse().ok()?,
            openid: openid.to_string(),
        })
    }
}

pub const RECORD_COLUMNS: &str = "f.merchant_id, f.account_id, f.openid, f.first_seen_at, \
    f.last_interaction_at, f.subscribed, f.subscription_changed_at, f.subscribed_at, \
    f.unsubscribed_at, f.channel, f.channel_at, f.last_latitude, f.last_longitude, \
    f.last_location_at, f.remark, f.unionid, f.language, f.subscribe_scene, f.synced_at, \
    f.blacklisted, f.nickname, f.name, f.phone, f.gender, f.birthday, f.city, \
    f.profile_updated_at, f.first_message_id, f.last_message_id";

#[derive(sqlx::FromRow)]
pub struct RecordRow {
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
    remark: String,
    unionid: Option<String>,
    language: Option<String>,
    subscribe_scene: Option<String>,
    synced_at: Option<i64>,
    blacklisted: bool,
    nickname: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    gender: Option<String>,
    birthday: Option<String>,
    city: Option<String>,
    profile_updated_at: Option<i64>,
    first_message_id: Option<i64>,
    last_message_id: Option<i64>,
}

impl From<RecordRow> for FollowerRecord {
    fn from(r: RecordRow) -> FollowerRecord {
        FollowerRecord {
            follower: Follower {
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
            },
            profile: Profile {
                remark: r.remark,
                unionid: r.unionid,
                language: r.language,
                subscribe_scene: r.subscribe_scene,
                synced_at: r.synced_at,
                blacklisted: r.blacklisted,
                nickname: r.nickname,
                name: r.name,
                phone: r.phone,
                gender: r.gender,
                birthday: r.birthday,
                city: r.city,
                profile_updated_at: r.profile_updated_at,
            },
            tag_ids: vec![],
            flow_answers: vec![],
        }
    }
}

/// How a page is read. PostgreSQL's planner chooses well by itself (it keeps statistics);
/// SQLite's, without statistics, reads every match through a filter's index and sorts them
/// all to return fifty: 5 s at 1,000,000 followers where walking the sort's index until the
/// page is full takes 35 ms (BENCHMARKS.md, "Followers at 1,000,000").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Plan {
    /// The database's own choice.
    #[default]
    Auto,
    /// Walk the sort's index, testing each follower, until the page is full (SQLite).
    SortIndex,
}

impl Plan {
    /// From the number of matches: walking the sort's index reads about
    /// `limit × followers / matches` rows, reading the matches and sorting them reads
    /// `matches`; walk when that is less.
    pub fn for_matches(matches: i64, followers: i64, limit: i64) -> Plan {
        if matches > 0 && limit.saturating_mul(followers) / matches <= matches {
            Plan::SortIndex
        } else {
            Plan::Auto
        }
    }
}

/// How many followers an account has (all states), from an index alone.
pub async fn account_size(db: &Db, merchant_id: i64, account_id: i64) -> Result<i64, sqlx::Error> {
    on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM followers WHERE merchant_id = $1 AND account_id = $2"
    )
    .bind(merchant_id)
    .bind(account_id)
    .fetch_one(p)
    .await)
}

/// The plan for a page of a match of `matches` followers (one more read on SQLite, none on
/// PostgreSQL).
pub async fn plan_for(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    matches: i64,
    limit: i64,
) -> Result<Plan, sqlx::Error> {
    if db.dialect() == Dialect::Postgres {
        return Ok(Plan::Auto);
    }
    let followers = account_size(db, merchant_id, account_id).await?;
    Ok(Plan::for_matches(matches, followers, limit))
}

/// One page of an account's followers matching `filter`, in `sort` order, after `after`,
/// with their tags.
#[allow(clippy::too_many_arguments)]
pub async fn page(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    filter: &Filter,
    now: Millis,
    sort: Sort,
    after: Option<&After>,
    limit: i64,
    plan: Plan,
) -> Result<Vec<FollowerRecord>, sqlx::Error> {
    let where_ = compile(filter, db.dialect(), now, 3);
    let mut args = where_.args;
    let col = sort.column();
    let dir = sort.direction();
    let keyset = keyset(sort, after, "f", &mut args);
    args.push(Arg::Int(limit));
    let index = match (plan, db.dialect()) {
        (Plan::SortIndex, Dialect::Sqlite) => sort.sqlite_index(),
        _ => "",
    };
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM followers f{index} \
         WHERE f.merchant_id = $1 AND f.account_id = $2 AND {}{keyset} \
         ORDER BY {col} {dir}, f.openid {dir} LIMIT ${}",
        where_.sql,
        2 + args.len()
    );
    records_with_tags(db, merchant_id, account_id, &sql, &args).await
}

/// `(sort value, openid)` after the cursor, on the follower table aliased `alias`, with its
/// two arguments appended (placeholders numbered after the merchant, account and `args`).
fn keyset(sort: Sort, after: Option<&After>, alias: &str, args: &mut Vec<Arg>) -> String {
    let Some(a) = after else {
        return String::new();
    };
    let col = sort.column().replace("f.", &format!("{alias}."));
    let cmp = if sort.descending() { "<" } else { ">" };
    let v = format!("${}", 3 + args.len());
    let o = format!("${}", 4 + args.len());
    args.push(Arg::Int(a.value));
    args.push(Arg::Text(a.openid.clone()));
    format!(" AND ({col} {cmp} {v} OR ({col} = {v} AND {alias}.openid {cmp} {o}))")
}

/// Runs a query of [`RECORD_COLUMNS`] bound to the merchant, the account and `args`, and
/// gives the followers their tags.
async fn records_with_tags(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    sql: &str,
    args: &[Arg],
) -> Result<Vec<FollowerRecord>, sqlx::Error> {
    let rows = on_pool!(db, |p| bind_args!(
        sqlx::query_as::<_, RecordRow>(sql)
            .bind(merchant_id)
            .bind(account_id),
        args
    )
    .fetch_all(p)
    .await)?;
    let mut records: Vec<FollowerRecord> = rows.into_iter().map(FollowerRecord::from).collect();
    attach_tags(db, merchant_id, account_id, &mut records).await?;
    Ok(records)
}

/// Followers a page may walk on SQLite before it asks for the count instead. Matches are
/// rarely spread evenly along the sort: in the benchmark's list (a tag and "followed 30 to
/// 365 days ago", sorted by last interaction, 8.7% of the followers match) the 50th match
/// is the 7,253rd follower walked, because the most active followers followed recently.
/// 20,000 followers walk in about 90 ms at 1,000,000 (BENCHMARKS.md).
pub const WALK_BUDGET: i64 = 20_000;

/// A page without counting first, which is what makes a list fast whatever the size of the
/// match: on SQLite it walks the sort's index over at most `max(WALK_BUDGET, 40 × limit)`
/// followers (a matching follower is then never further than that in the sort); when that fills the page it is exactly the page (those followers are the first
/// in order), otherwise the match is rare and the count picks the plan ([`plan_for`]).
/// PostgreSQL plans a page well by itself.
#[allow(clippy::too_many_arguments)]
pub async fn page_quickly(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    filter: &Filter,
    now: Millis,
    sort: Sort,
    after: Option<&After>,
    limit: i64,
) -> Result<Vec<FollowerRecord>, sqlx::Error> {
    let budget = WALK_BUDGET.max(limit.saturating_mul(40));
    let s = Slice { sort, after, limit };
    page_walking(db, merchant_id, account_id, filter, now, s, budget).await
}

/// Where a page starts and how long it is.
#[derive(Clone, Copy, Debug)]
pub struct Slice<'a> {
    pub sort: Sort,
    pub after: Option<&'a After>,
    pub limit: i64,
}

/// [`page_quickly`] with the walk's budget given (tests walk short budgets).
pub async fn page_walking(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    filter: &Filter,
    now: Millis,
    s: Slice<'_>,
    budget: i64,
) -> Result<Vec<FollowerRecord>, sqlx::Error> {
    let (m, a) = (merchant_id, account_id);
    let Slice { sort, after, limit } = s;
    if db.dialect() == Dialect::Postgres {
        return page(db, m, a, filter, now, sort, after, limit, Plan::Auto).await;
    }
    let walked = page_within(db, m, a, filter, now, sort, after, limit, budget).await?;
    if walked.len() as i64 == limit {
        return Ok(walked);
    }
    let matches = count(db, m, a, filter, now).await?;
    let plan = plan_for(db, m, a, matches, limit).await?;
    page(db, m, a, filter, now, sort, after, limit, plan).await
}

/// The matches among the first `budget` followers in `sort` order after `after` (SQLite).
#[allow(clippy::too_many_arguments)]
async fn page_within(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    filter: &Filter,
    now: Millis,
    sort: Sort,
    after: Option<&After>,
    limit: i64,
    budget: i64,
) -> Result<Vec<FollowerRecord>, sqlx::Error> {
    let where_ = compile(filter, db.dialect(), now, 3);
    let mut args = where_.args;
    let col = sort.column();
    let inner_col = col.replace("f.", "w.");
    let dir = sort.direction();
    let keyset = keyset(sort, after, "w", &mut args);
    args.push(Arg::Int(budget));
    let budget_arg = 2 + args.len();
    args.push(Arg::Int(limit));
    let limit_arg = 2 + args.len();
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM (SELECT w.rowid AS rid FROM followers w{index} \
           WHERE w.merchant_id = $1 AND w.account_id = $2{keyset} \
           ORDER BY {inner_col} {dir}, w.openid {dir} LIMIT ${budget_arg}) walked \
         JOIN followers f ON f.rowid = walked.rid \
         WHERE {} ORDER BY {col} {dir}, f.openid {dir} LIMIT ${limit_arg}",
        where_.sql,
        index = sort.sqlite_index(),
    );
    records_with_tags(db, merchant_id, account_id, &sql, &args).await
}

/// Whether the account holds at least a quarter of all the followers stored. SQLite reads a
/// table in order far faster than row by row through an index (at 1,000,000 followers, 1.1 s
/// against 5 s for a count matching 12%), so such an account's count reads the whole table;
/// a small account among many (an agency's) reads only its own rows, through an index.
/// Two index-only counts decide.
async fn holds_a_large_share(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
) -> Result<bool, sqlx::Error> {
    let mine = account_size(db, merchant_id, account_id).await?;
    let all = on_pool!(db, |p| sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM followers"
    )
    .fetch_one(p)
    .await)?;
    Ok(mine.saturating_mul(4) >= all)
}

/// How many of an account's followers match.
pub async fn count(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    filter: &Filter,
    now: Millis,
) -> Result<i64, sqlx::Error> {
    let where_ = compile(filter, db.dialect(), now, 3);
    let scan = if db.dialect() == Dialect::Sqlite
        && holds_a_large_share(db, merchant_id, account_id).await?
    {
        " NOT INDEXED"
    } else {
        ""
    };
    let sql = format!(
        "SELECT COUNT(*) FROM followers f{scan} WHERE f.merchant_id = $1 AND f.account_id = $2 AND {}",
        where_.sql
    );
    on_pool!(db, |p| bind_args!(
        sqlx::query_scalar::<_, i64>(&sql)
            .bind(merchant_id)
            .bind(account_id),
        &where_.args
    )
    .fetch_one(p)
    .await)
}

/// The openids of matching followers after `after_openid`, ascending: walk a whole match
/// set in slices (bulk operations resume from the last openid they handled).
#[allow(clippy::too_many_arguments)]
pub async fn openids_matching(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    filter: &Filter,
    now: Millis,
    after_openid: &str,
    limit: i64,
) -> Result<Vec<String>, sqlx::Error> {
    let where_ = compile(filter, db.dialect(), now, 5);
    let sql = format!(
        "SELECT f.openid FROM followers f WHERE f.merchant_id = $1 AND f.account_id = $2 \
         AND f.openid > $3 AND {} ORDER BY f.openid LIMIT $4",
        where_.sql
    );
    on_pool!(db, |p| bind_args!(
        sqlx::query_scalar::<_, String>(&sql)
            .bind(merchant_id)
            .bind(account_id)
            .bind(after_openid)
            .bind(limit),
        &where_.args
    )
    .fetch_all(p)
    .await)
}

/// One follower with everything we know of them.
pub async fn record(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
) -> Result<Option<FollowerRecord>, sqlx::Error> {
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM followers f \
         WHERE f.merchant_id = $1 AND f.account_id = $2 AND f.openid = $3"
    );
    let row = on_pool!(db, |p| sqlx::query_as::<_, RecordRow>(&sql)
        .bind(merchant_id)
        .bind(account_id)
        .bind(openid)
        .fetch_optional(p)
        .await)?;
    let mut records: Vec<FollowerRecord> = row.into_iter().map(FollowerRecord::from).collect();
    attach_tags(db, merchant_id, account_id, &mut records).await?;
    Ok(records.pop())
}

/// Fills in the tag ids of a page of followers (one query).
async fn attach_tags(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    records: &mut [FollowerRecord],
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (0..records.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "SELECT openid, tag_id FROM follower_tags WHERE merchant_id = $1 AND account_id = $2 \
         AND openid IN ({}) ORDER BY openid, tag_id",
        placeholders.join(", ")
    );
    let args: Vec<Arg> = records
        .iter()
        .map(|r| Arg::Text(r.follower.openid.clone()))
        .collect();
    let pairs = on_pool!(db, |p| bind_args!(
        sqlx::query_as::<_, (String, i64)>(&sql)
            .bind(merchant_id)
            .bind(account_id),
        &args
    )
    .fetch_all(p)
    .await)?;
    let mut by_openid: std::collections::HashMap<String, Vec<i64>> =
        std::collections::HashMap::new();
    for (openid, tag_id) in pairs {
        by_openid.entry(openid).or_default().push(tag_id);
    }
    for r in records.iter_mut() {
        r.tag_ids = by_openid.remove(&r.follower.openid).unwrap_or_default();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::followers::filter::ProfileField;

    #[test]
    fn placeholders_are_numbered_from_the_first_argument() {
        let f = Filter {
            combine: Combine::Any,
            conditions: vec![
                Condition::Tags {
                    op: TagOp::All,
                    tag_ids: vec![4, 2, 4],
                },
                Condition::Profile {
                    name: ProfileField::Remark,
                    op: TextOp::Contains,
                    value: "50%_off".into(),
                },
            ],
        };
        let c = compile(&f, Dialect::Postgres, 0, 3);
        assert!(c.sql.contains("t.tag_id IN ($3, $4)"), "{}", c.sql);
        assert!(c.sql.contains("= $5"), "{}", c.sql);
        assert!(c.sql.contains("f.remark ILIKE $6"), "{}", c.sql);
        assert!(c.sql.contains(" OR "));
        assert_eq!(
            c.args,
            vec![
                Arg::Int(2),
                Arg::Int(4),
                Arg::Int(2),
                Arg::Text("%50\\%\\_off%".into())
            ]
        );
    }

    #[test]
    fn no_condition_is_everyone() {
        let c = compile(&Filter::everyone(), Dialect::Sqlite, 0, 3);
        assert_eq!(c.sql, "1 = 1");
        assert!(c.args.is_empty());
    }

    #[test]
    fn cursors_round_trip() {
        let a = After {
            value: 1_700_000_000_000,
            openid: "o.x-y".into(),
        };
        assert_eq!(After::decode(&a.encode()), Some(a));
        assert_eq!(After::decode("nonsense"), None);
    }

    #[test]
    fn a_page_walks_the_sort_index_when_matches_are_common() {
        // 86,656 of 1,000,000 (the benchmark's list): about 577 rows read against 86,656.
        assert_eq!(Plan::for_matches(86_656, 1_000_000, 50), Plan::SortIndex);
        // 500 of 1,000,000: a walk would read 100,000 rows to find 50; sort the 500.
        assert_eq!(Plan::for_matches(500, 1_000_000, 50), Plan::Auto);
        assert_eq!(Plan::for_matches(0, 1_000_000, 50), Plan::Auto);
        assert_eq!(Plan::for_matches(10, 10, 50), Plan::Auto);
        assert_eq!(Plan::for_matches(200, 200, 50), Plan::SortIndex);
    }
}
