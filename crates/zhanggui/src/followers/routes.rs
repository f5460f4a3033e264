//! The follower list (粉丝, `/followers`), a follower's page (粉丝详情,
//! `/followers/{openid}?account=`) and `/api/v1/accounts/{id}/followers…`.
//!
//! Lists go through the one filter (filter.rs, query.rs): the quick filters of the page and
//! of `GET …/followers` are turned into a `Filter` here, `POST …/followers/search` takes one
//! whole. Pages are keyset pages (no OFFSET): a cursor is the last row's sort value and
//! openid.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{NaiveDate, TimeZone};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::filter::{Combine, Condition, Filter, FollowerRecord, TagOp, TimeRange};
use super::model::FollowerPatch;
use super::query::{After, Sort};
use super::store::{ChannelName, SegmentRow, TagName};
use crate::accounts::AccountRow;
use crate::platform::api::{ApiJson, DEFAULT_LIMIT, MAX_LIMIT, encode_cursor};
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::{Millis, format_local, rfc3339};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::{Lang, Msg};
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/followers", get(list_page))
        .route("/followers/{openid}", get(show_page))
        .route("/followers/{openid}/remark", post(remark_form))
        .route("/followers/{openid}/profile", post(profile_form))
        .route("/followers/{openid}/blacklist", post(blacklist_form))
        .route(
            "/followers/{openid}/handoff/clear",
            post(clear_handoff_form),
        )
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list))
        .routes(routes!(api_search))
        .routes(routes!(api_count))
        .routes(routes!(api_get, api_patch))
        .routes(routes!(api_blacklist))
        .routes(routes!(api_timeline))
}

const PAGE_SIZE: i64 = 20;
const TIMELINE_PAGE: i64 = 30;

// ---- quick filters: query parameters → Filter ----

/// The quick filters of the follower list, as query parameters (the page's form and
/// `GET /api/v1/accounts/{id}/followers`). Empty values are ignored, so a form can send
/// every field.
#[derive(Clone, Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QuickFilter {
    /// `subscribed` (default), `unsubscribed` or `all`.
    pub status: Option<String>,
    /// A tag id (`tags` of the account).
    pub tag: Option<String>,
    /// A channel's scene (`channels` of the account).
    pub channel: Option<String>,
    /// Followed on or after this day (YYYY-MM-DD, the merchant's time zone).
    pub followed_from: Option<String>,
    /// Followed on or before this day.
    pub followed_to: Option<String>,
    /// Last active on or after this day.
    pub active_from: Option<String>,
    /// Last active on or before this day.
    pub active_to: Option<String>,
    /// An openid, or text in the remark, nickname, name or phone.
    pub q: Option<String>,
    /// `1`: only the blacklisted; `0`: only those not blacklisted.
    pub blacklisted: Option<String>,
    /// A saved segment's id: its filter, with the quick filters added.
    pub segment: Option<String>,
    /// `last_active` (default), `newest` or `oldest`.
    pub sort: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 20).
    pub limit: Option<i64>,
    /// `true`: also count every match (`total`). A count reads every candidate follower,
    /// so it is asked for, not paid by every page.
    pub total: Option<bool>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// What the quick filters mean, ready to query.
struct Selection {
    filter: Filter,
    sort: Sort,
    after: Option<After>,
    limit: i64,
    /// The chosen segment's conditions match "any": the quick filters could not be added.
    quick_ignored: bool,
    /// Count every match too.
    with_total: bool,
}

fn parse_sort(v: Option<&str>) -> Result<Sort, Msg> {
    match v {
        None | Some("last_active") | Some("last_interaction") => Ok(Sort::LastInteraction),
        Some("newest") => Ok(Sort::Newest),
        Some("oldest") => Ok(Sort::Oldest),
        Some(_) => Err(Msg::new("followers.error.sort")),
    }
}

fn parse_day(v: &str) -> Result<NaiveDate, Msg> {
    NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| Msg::new("followers.error.date"))
}

/// The first millisecond of `day` in `tz`.
fn day_start(day: NaiveDate, tz: chrono_tz::Tz) -> Millis {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map_or(0, |t| t.timestamp_millis())
}

/// A day range as a time range: both days inclusive.
fn day_range(
    from: Option<&str>,
    to: Option<&str>,
    tz: chrono_tz::Tz,
    field: &str,
    errors: &mut FieldErrors,
) -> Option<TimeRange> {
    if from.is_none() && to.is_none() {
        return None;
    }
    let mut parse = |v: Option<&str>, name: String| match v.map(parse_day).transpose() {
        Ok(d) => d,
        Err(m) => {
            errors.add(&name, m);
            None
        }
    };
    let from_day = parse(from, format!("{field}_from"));
    let to_day = parse(to, format!("{field}_to"));
    let from = from_day.map(|d| day_start(d, tz));
    let to = to_day.and_then(|d| d.succ_opt()).map(|d| day_start(d, tz));
    if let (Some(f), Some(t)) = (from, to)
        && t <= f
    {
        errors.add(&format!("{field}_to"), Msg::new("followers.error.range"));
        return None;
    }
    Some(TimeRange::Between { from, to })
}

fn quick_conditions(
    q: &QuickFilter,
    tz: chrono_tz::Tz,
    errors: &mut FieldErrors,
) -> Vec<Condition> {
    let mut c = vec![];
    match given(&q.status) {
        None | Some("subscribed") => c.push(Condition::Subscribed { value: true }),
        Some("unsubscribed") => c.push(Condition::Subscribed { value: false }),
        Some("all") => {}
        Some(_) => errors.add("status", Msg::new("followers.error.status")),
    }
    if let Some(tag) = given(&q.tag) {
        match tag.parse::<i64>() {
            Ok(id) => c.push(Condition::Tags {
                op: TagOp::Any,
                tag_ids: vec![id],
            }),
            Err(_) => errors.add("tag", Msg::new("followers.error.tag")),
        }
    }
    if let Some(scene) = given(&q.channel) {
        c.push(Condition::Channel {
            op: super::filter::ListOp::In,
            scenes: vec![scene.to_string()],
        });
    }
    if let Some(range) = day_range(
        given(&q.followed_from),
        given(&q.followed_to),
        tz,
        "followed",
        errors,
    ) {
        c.push(Condition::SubscribedAt { range });
    }
    if let Some(range) = day_range(
        given(&q.active_from),
        given(&q.active_to),
        tz,
        "active",
        errors,
    ) {
        c.push(Condition::LastInteraction { range });
    }
    if let Some(text) = given(&q.q) {
        if text.chars().count() > super::filter::MAX_TEXT_CHARS {
            errors.add(
                "q",
                Msg::new("error.too_long").arg("max", super::filter::MAX_TEXT_CHARS),
            );
        } else {
            c.push(Condition::Search {
                text: text.to_string(),
            });
        }
    }
    match given(&q.blacklisted) {
        None => {}
        Some("1" | "true" | "on") => c.push(Condition::Blacklisted { value: true }),
        Some("0" | "false") => c.push(Condition::Blacklisted { value: false }),
        Some(_) => errors.add("blacklisted", Msg::new("followers.error.blacklisted")),
    }
    c
}

/// The segment's filter with the quick filters added (when its conditions are joined by
/// "all", or it has at most one: a filter has one level, so "any" cannot take more).
fn with_segment(segment: Filter, quick: Vec<Condition>) -> (Filter, bool) {
    if quick.is_empty() {
        return (segment, false);
    }
    if segment.combine == Combine::Any && segment.conditions.len() > 1 {
        return (segment, true);
    }
    let mut conditions = segment.conditions;
    conditions.extend(quick);
    (
        Filter {
            combine: Combine::All,
            conditions,
        },
        false,
    )
}

fn select(
    q: &QuickFilter,
    tz: chrono_tz::Tz,
    segments: &[SegmentRow],
    default_limit: i64,
) -> Result<Selection, FieldErrors> {
    let mut errors = FieldErrors::default();
    let quick = quick_conditions(q, tz, &mut errors);
    let sort = parse_sort(given(&q.sort)).unwrap_or_else(|m| {
        errors.add("sort", m);
        Sort::default()
    });
    let after = given(&q.cursor).and_then(|c| {
        let a = After::decode(c);
        if a.is_none() {
            errors.add("cursor", Msg::new("error.bad_cursor"));
        }
        a
    });
    let limit = q.limit.unwrap_or(default_limit);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.add(
            "limit",
            Msg::new("error.range").arg("min", 1).arg("max", MAX_LIMIT),
        );
    }
    let segment = match given(&q.segment) {
        None => None,
        Some(s) => {
            let found = s
                .parse::<i64>()
                .ok()
                .and_then(|id| segments.iter().find(|seg| seg.id == id))
                .and_then(|seg| serde_json::from_str::<Filter>(&seg.filter).ok());
            if found.is_none() {
                errors.add("segment", Msg::new("followers.error.segment"));
            }
            found
        }
    };
    let (filter, quick_ignored) = match segment {
        Some(seg) => with_segment(seg, quick),
        None => (
            Filter {
                combine: Combine::All,
                conditions: quick,
            },
            false,
        ),
    };
    if let Err(e) = filter.validate() {
        errors.add("filter", Msg::new(e.message_key()));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Selection {
        filter,
        sort,
        after,
        limit,
        quick_ignored,
        with_total: q.total.unwrap_or(false),
    })
}

/// A page of matches, the cursor of the next one, and how many match in all.
async fn run_selection(
    state: &AppState,
    account: &AccountRow,
    s: &Selection,
) -> Result<(Vec<FollowerRecord>, Option<String>, Option<i64>), AppError> {
    let now = state.clock.now_ms();
    let db = &state.db;
    let (m, a) = (account.merchant_id, account.id);
    let rows =
        super::query::page_quickly(db, m, a, &s.filter, now, s.sort, s.after.as_ref(), s.limit)
            .await?;
    let whole_match = s.after.is_none() && (rows.len() as i64) < s.limit;
    let total = if whole_match {
        Some(rows.len() as i64)
    } else if s.with_total {
        Some(super::query::count(db, m, a, &s.filter, now).await?)
    } else {
        None
    };
    let next = (rows.len() as i64 == s.limit)
        .then(|| rows.last().map(|r| After::of(s.sort, &r.follower).encode()))
        .flatten();
    Ok((rows, next, total))
}

// ---- names: tags by id, channels by scene ----

struct Names {
    tags: HashMap<i64, String>,
    channels: HashMap<String, String>,
}

impl Names {
    fn new(tags: &[TagName], channels: &[ChannelName]) -> Names {
        Names {
            tags: tags.iter().map(|t| (t.id, t.name.clone())).collect(),
            channels: channels
                .iter()
                .map(|c| (c.scene.clone(), c.name.clone()))
                .collect(),
        }
    }

    async fn load(state: &AppState, account: &AccountRow) -> Result<Names, AppError> {
        let tags = super::store::tag_names(&state.db, account.merchant_id, account.id).await?;
        let channels =
            super::store::channel_names(&state.db, account.merchant_id, account.id).await?;
        Ok(Names::new(&tags, &channels))
    }

    fn tag_list(&self, ids: &[i64]) -> Vec<TagOut> {
        let mut tags: Vec<TagOut> = ids
            .iter()
            .filter_map(|id| {
                self.tags.get(id).map(|name| TagOut {
                    id: *id,
                    name: name.clone(),
                })
            })
            .collect();
        tags.sort_by(|a, b| a.name.cmp(&b.name));
        tags
    }
}

// ---- JSON shapes ----

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TagOut {
    pub id: i64,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ChannelOut {
    /// The QR scene WeChat reported (EventKey after `qrscene_`).
    pub scene: String,
    /// The channel's name when the scene is one of our channel QR codes.
    pub name: Option<String>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LocationOut {
    pub latitude: f64,
    pub longitude: f64,
    pub at: String,
}

/// A follower with everything we know of them.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FollowerOut {
    pub openid: String,
    /// Following the account now.
    pub subscribed: bool,
    pub blacklisted: bool,
    /// The remark (WeChat's, set by the merchant).
    pub remark: String,
    pub nickname: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// `male`, `female` or null (unknown).
    pub gender: Option<String>,
    /// YYYY-MM-DD
    pub birthday: Option<String>,
    pub city: Option<String>,
    pub profile_updated_at: Option<String>,
    pub first_seen_at: String,
    pub last_interaction_at: String,
    /// The latest follow.
    pub subscribed_at: Option<String>,
    /// The latest unfollow.
    pub unsubscribed_at: Option<String>,
    /// The QR code that first brought them.
    pub channel: Option<ChannelOut>,
    pub tags: Vec<TagOut>,
    /// From WeChat's `user/info` (the sync).
    pub unionid: Option<String>,
    pub language: Option<String>,
    pub subscribe_scene: Option<String>,
    pub synced_at: Option<String>,
    pub last_location: Option<LocationOut>,
}

fn follower_out(r: &FollowerRecord, names: &Names, tz: chrono_tz::Tz) -> FollowerOut {
    let f = &r.follower;
    let p = &r.profile;
    let time = |t: Option<Millis>| t.map(|t| rfc3339(t, tz));
    FollowerOut {
        openid: f.openid.clone(),
        subscribed: f.subscribed,
        blacklisted: p.blacklisted,
        remark: p.remark.clone(),
        nickname: p.nickname.clone(),
        name: p.name.clone(),
        phone: p.phone.clone(),
        gender: p
            .gender
            .as_deref()
            .and_then(|g| super::filter::Gender::of(Some(g)).stored())
            .map(str::to_string),
        birthday: p.birthday.clone(),
        city: p.city.clone(),
        profile_updated_at: time(p.profile_updated_at),
        first_seen_at: rfc3339(f.first_seen_at, tz),
        last_interaction_at: rfc3339(f.last_interaction_at, tz),
        subscribed_at: time(f.subscribed_at),
        unsubscribed_at: time(f.unsubscribed_at),
        channel: f.channel.as_ref().map(|scene| ChannelOut {
            scene: scene.clone(),
            name: names.channels.get(scene).cloned(),
        }),
        tags: names.tag_list(&r.tag_ids),
        unionid: p.unionid.clone(),
        language: p.language.clone(),
        subscribe_scene: p.subscribe_scene.clone(),
        synced_at: time(p.synced_at),
        last_location: match (f.last_latitude, f.last_longitude, f.last_location_at) {
            (Some(latitude), Some(longitude), Some(at)) => Some(LocationOut {
                latitude,
                longitude,
                at: rfc3339(at, tz),
            }),
            _ => None,
        },
    }
}

/// WeChat lets an account send customer-service messages for 48 hours after a follower's
/// last message.
const SERVICE_WINDOW_MS: i64 = 48 * 3_600_000;

/// One page of followers: `next_cursor` is null on the last page.
#[derive(Serialize, ToSchema)]
pub struct FollowerPage {
    pub items: Vec<FollowerOut>,
    pub next_cursor: Option<String>,
    /// How many followers match in all: when asked for (`total=true`), or when this page
    /// is the whole match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

/// One message or event of a follower's timeline, with our reply.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct TimelineItem {
    pub id: i64,
    /// `text`, `image`, … or `event:subscribe`, `event:click`, …
    pub kind: String,
    /// The kind in the caller's language.
    pub label: String,
    /// What the follower sent: their text, the menu key, the QR scene …
    pub detail: String,
    /// The text we answered with; empty when we answered nothing.
    pub reply: String,
    pub sent_at: String,
    /// `sent_at` in the merchant's time zone, for display.
    pub local: String,
}

fn timeline_item(
    row: &crate::messages::store::MessageRow,
    tz: chrono_tz::Tz,
    lang: Lang,
) -> TimelineItem {
    let (label_key, detail) = match wechat::Message::parse(&row.body) {
        Ok(m) => crate::messages::model::describe(&m),
        Err(_) => ("msgkind.other", String::new()),
    };
    TimelineItem {
        id: row.id,
        kind: row.kind.clone(),
        label: lang.t(label_key).to_string(),
        detail,
        reply: crate::messages::model::reply_text(&row.reply),
        sent_at: rfc3339(row.sent_at, tz),
        local: crate::platform::clock::utc(row.sent_at)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default(),
    }
}

// ---- console: the list ----

/// One row of the list as the page shows it.
struct RowView {
    openid: String,
    title: String,
    subtitle: String,
    tags: Vec<String>,
    channel: String,
    followed: String,
    last_active: String,
    subscribed: bool,
    blacklisted: bool,
}

/// A follower's name for people: the remark, else the name, else the nickname, else
/// nothing (the page then shows the openid).
fn display_name(r: &FollowerRecord) -> Option<String> {
    let p = &r.profile;
    [Some(&p.remark), p.name.as_ref(), p.nickname.as_ref()]
        .into_iter()
        .flatten()
        .find(|s| !s.trim().is_empty())
        .cloned()
}

fn channel_label(scene: Option<&String>, names: &Names) -> String {
    match scene {
        Some(s) => names.channels.get(s).cloned().unwrap_or_else(|| s.clone()),
        None => String::new(),
    }
}

fn row_view(r: &FollowerRecord, names: &Names, tz: chrono_tz::Tz) -> RowView {
    let f = &r.follower;
    let name = display_name(r);
    RowView {
        openid: f.openid.clone(),
        subtitle: if name.is_some() {
            f.openid.clone()
        } else {
            String::new()
        },
        title: name.unwrap_or_else(|| f.openid.clone()),
        tags: names
            .tag_list(&r.tag_ids)
            .into_iter()
            .map(|t| t.name)
            .collect(),
        channel: channel_label(f.channel.as_ref(), names),
        followed: f
            .subscribed_at
            .map(|t| format_local(t, tz))
            .unwrap_or_default(),
        last_active: format_local(f.last_interaction_at, tz),
        subscribed: f.subscribed,
        blacklisted: r.profile.blacklisted,
    }
}

#[derive(Template)]
#[template(path = "followers/list.html")]
struct ListPage {
    shell: Shell,
    account_id: Option<i64>,
    account_name: String,
    q: QuickFilter,
    tags: Vec<TagName>,
    channels: Vec<ChannelName>,
    segments: Vec<SegmentRow>,
    rows: Vec<RowView>,
    /// Known at once when the page is the whole match; else the page asks for the count
    /// after it shows (a count reads every candidate follower).
    total: Option<i64>,
    next_href: Option<String>,
    paged: bool,
    errors: Vec<String>,
    quick_ignored: bool,
    /// The whole match as JSON, for bulk tagging and export.
    filter_json: String,
    export_href: String,
    can_manage: bool,
    /// The card of the account's latest sync from WeChat.
    sync: Option<super::sync::routes::SyncPanel>,
}

impl ListPage {
    fn status_is(&self, v: &str) -> bool {
        given(&self.q.status).unwrap_or("subscribed") == v
    }

    fn sort_is(&self, v: &str) -> bool {
        given(&self.q.sort).unwrap_or("last_active") == v
    }

    fn tag_selected(&self, id: &i64) -> bool {
        given(&self.q.tag) == Some(id.to_string().as_str())
    }

    fn channel_selected(&self, scene: &str) -> bool {
        given(&self.q.channel) == Some(scene)
    }

    fn segment_selected(&self, id: &i64) -> bool {
        given(&self.q.segment) == Some(id.to_string().as_str())
    }

    fn blacklisted_is(&self, v: &str) -> bool {
        given(&self.q.blacklisted).unwrap_or("") == v
    }

    fn value<'a>(&self, v: &'a Option<String>) -> &'a str {
        v.as_deref().unwrap_or("")
    }

    fn has_filters(&self) -> bool {
        let q = &self.q;
        [
            &q.tag,
            &q.channel,
            &q.followed_from,
            &q.followed_to,
            &q.active_from,
            &q.active_to,
            &q.q,
            &q.blacklisted,
            &q.segment,
        ]
        .into_iter()
        .any(|v| given(v).is_some())
            || given(&q.status).is_some_and(|s| s != "subscribed")
    }

    fn first_href(&self) -> String {
        page_href(&self.q, None)
    }

    fn follower_href(&self, openid: &str) -> String {
        format!(
            "/followers/{}?account={}",
            urlencoding(openid),
            self.account_id.unwrap_or(0)
        )
    }
}

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The list's query string with the cursor replaced.
fn page_href(q: &QuickFilter, cursor: Option<&str>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    let fields = [
        ("status", &q.status),
        ("tag", &q.tag),
        ("channel", &q.channel),
        ("followed_from", &q.followed_from),
        ("followed_to", &q.followed_to),
        ("active_from", &q.active_from),
        ("active_to", &q.active_to),
        ("q", &q.q),
        ("blacklisted", &q.blacklisted),
        ("segment", &q.segment),
        ("sort", &q.sort),
    ];
    for (name, value) in fields {
        if let Some(v) = given(value) {
            out.append_pair(name, v);
        }
    }
    if let Some(c) = cursor {
        out.append_pair("cursor", c);
    }
    format!("/followers?{}", out.finish())
}

/// The account a page works on: the switcher's, which agents (who cannot see the accounts
/// page) also get here.
async fn shell_with_account(
    state: &AppState,
    caller: &Caller,
    title_key: &str,
    uri: &Uri,
) -> Result<Shell, AppError> {
    let mut shell = Shell::for_caller(state, caller, "followers", title_key, uri).await?;
    if shell.accounts.is_empty() {
        shell.accounts = crate::accounts::choices(&state.db, caller.merchant_id).await?;
        shell.account_id = caller
            .user()
            .and_then(|u| u.account_id)
            .filter(|id| shell.accounts.iter().any(|a| a.id == *id))
            .or_else(|| shell.accounts.first().map(|a| a.id));
    }
    Ok(shell)
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Query(q): Query<QuickFilter>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let shell = shell_with_account(&state, &caller, "followers.title", &uri).await?;
    let account_id = shell.account_id;
    let account_name = shell
        .accounts
        .iter()
        .find(|a| Some(a.id) == account_id)
        .map(|a| a.name.clone())
        .unwrap_or_default();
    let mut view = ListPage {
        can_manage: caller.role.allows(Permission::ManageFollowers),
        shell,
        account_id,
        account_name,
        q: q.clone(),
        tags: vec![],
        channels: vec![],
        segments: vec![],
        rows: vec![],
        total: None,
        next_href: None,
        paged: given(&q.cursor).is_some(),
        errors: vec![],
        quick_ignored: false,
        filter_json: String::new(),
        export_href: String::new(),
        sync: None,
    };
    let Some(id) = account_id else {
        return page(&view);
    };
    view.sync = Some(super::sync::routes::panel(&state, &caller, id, "/followers").await?);
    let account = super::account_of(&state, caller.merchant_id, id).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    view.tags = super::store::tag_names(&state.db, caller.merchant_id, id).await?;
    view.channels = super::store::channel_names(&state.db, caller.merchant_id, id).await?;
    view.segments = super::store::segments(&state.db, caller.merchant_id, id).await?;
    let names = Names::new(&view.tags, &view.channels);
    match select(&q, tz, &view.segments, PAGE_SIZE) {
        Ok(selection) => {
            let (rows, next, total) = run_selection(&state, &account, &selection).await?;
            view.rows = rows.iter().map(|r| row_view(r, &names, tz)).collect();
            view.total = total;
            view.next_href = next.map(|c| page_href(&q, Some(&c)));
            view.quick_ignored = selection.quick_ignored;
            view.filter_json = serde_json::to_string(&selection.filter).unwrap_or_default();
            view.export_href = format!(
                "/followers/export.csv?account={id}&filter={}",
                urlencoding(&view.filter_json)
            );
        }
        Err(errors) => {
            let colon = if caller.lang == Lang::ZhCn {
                "："
            } else {
                ": "
            };
            view.errors = errors
                .0
                .iter()
                .map(|e| {
                    let label = caller.lang.t(field_label(&e.field));
                    format!("{label}{colon}{}", caller.lang.render(&e.msg))
                })
                .collect();
        }
    }
    let mut res = page(&view)?;
    if !view.errors.is_empty() {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

fn field_label(field: &str) -> &'static str {
    match field {
        "status" => "followers.status",
        "tag" => "followers.tag",
        "followed_from" | "followed_to" => "followers.followed_range",
        "active_from" | "active_to" => "followers.active_range",
        "q" => "followers.search",
        "blacklisted" => "followers.blacklist",
        "segment" => "followers.segment",
        "sort" => "followers.sort",
        "cursor" | "limit" => "followers.paging",
        "remark" => "follower.remark",
        "name" => "follower.name",
        "phone" => "follower.phone",
        "gender" => "follower.gender",
        "birthday" => "follower.birthday",
        "city" => "follower.city",
        _ => "followers.filter",
    }
}

// ---- console: one follower ----

#[derive(Debug, Default, Deserialize)]
struct ShowQuery {
    account: Option<i64>,
    /// Older timeline entries: those before this message id.
    before: Option<i64>,
}

/// What the page's profile form shows.
#[derive(Default)]
struct ProfileForm {
    remark: String,
    name: String,
    phone: String,
    gender: String,
    birthday: String,
    city: String,
}

#[derive(Template)]
#[template(path = "followers/show.html")]
struct ShowPage {
    shell: Shell,
    account_id: i64,
    openid: String,
    title: String,
    f: FollowerOut,
    first_seen: String,
    followed: String,
    unfollowed: String,
    last_active: String,
    synced: String,
    profile_updated: String,
    location_at: String,
    form: ProfileForm,
    errors: FieldErrors,
    alert: Option<String>,
    all_tags: Vec<TagName>,
    timeline: Vec<TimelineItem>,
    older_href: Option<String>,
    newer: bool,
    can_manage: bool,
    today: String,
    /// When the follower asked for a person (replies' hand-off words), until handled.
    handoff: Option<String>,
    /// Until when customer-service messages reach them (48 hours after their last message).
    service_window: Option<String>,
    can_handle: bool,
    /// Their latest answers in the account's flows (互动问答).
    flow_answers: Vec<FlowAnswerView>,
}

struct FlowAnswerView {
    flow: String,
    step: String,
    answer: String,
    at: String,
}

/// How many flow answers the page lists.
const FLOW_ANSWERS_SHOWN: i64 = 20;

fn flow_answer_view(a: crate::flows::GivenAnswer, lang: Lang, tz: chrono_tz::Tz) -> FlowAnswerView {
    FlowAnswerView {
        flow: a
            .flow
            .unwrap_or_else(|| lang.t("builder.deleted_flow").to_string()),
        step: format!(
            "{} {}",
            lang.t("builder.step").replace("{n}", &a.step.to_string()),
            a.question
        ),
        answer: a.answer,
        at: format_local(a.answered_at, tz),
    }
}

impl ShowPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }

    fn has_tag(&self, id: &i64) -> bool {
        self.f.tags.iter().any(|t| t.id == *id)
    }

    fn tag_ids_json(&self) -> String {
        let ids: Vec<i64> = self.f.tags.iter().map(|t| t.id).collect();
        serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into())
    }

    fn gender_is(&self, v: &str) -> bool {
        self.form.gender == v
    }

    fn self_href(&self) -> String {
        format!(
            "/followers/{}?account={}",
            urlencoding(&self.openid),
            self.account_id
        )
    }
}

/// The account named by `?account=`, else the switcher's.
async fn chosen_account(
    state: &AppState,
    caller: &Caller,
    shell: &Shell,
    asked: Option<i64>,
) -> Result<AccountRow, AppError> {
    let id = asked.or(shell.account_id).ok_or(AppError::NotFound)?;
    super::account_of(state, caller.merchant_id, id).await
}

async fn show_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(openid): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let shell = shell_with_account(&state, &caller, "follower.title", &uri).await?;
    let account = chosen_account(&state, &caller, &shell, q.account).await?;
    render_show(
        &state,
        &caller,
        shell,
        &account,
        &openid,
        q.before,
        None,
        FieldErrors::default(),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn render_show(
    state: &AppState,
    caller: &Caller,
    shell: Shell,
    account: &AccountRow,
    openid: &str,
    before: Option<i64>,
    submitted: Option<&FollowerPatch>,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let record = super::record_of(state, account, openid).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let names = Names::load(state, account).await?;
    let f = follower_out(&record, &names, tz);
    let rows = super::store::timeline(
        &state.db,
        caller.merchant_id,
        account.id,
        openid,
        before,
        TIMELINE_PAGE,
    )
    .await?;
    let timeline: Vec<TimelineItem> = rows
        .iter()
        .map(|r| timeline_item(r, tz, caller.lang))
        .collect();
    let older_href = (timeline.len() as i64 == TIMELINE_PAGE)
        .then(|| timeline.last())
        .flatten()
        .map(|last| {
            format!(
                "/followers/{}?account={}&before={}#timeline",
                urlencoding(openid),
                account.id,
                last.id
            )
        });
    let r = &record;
    let local = |t: Option<Millis>| t.map(|t| format_local(t, tz)).unwrap_or_default();
    let stored_form = ProfileForm {
        remark: r.profile.remark.clone(),
        name: r.profile.name.clone().unwrap_or_default(),
        phone: r.profile.phone.clone().unwrap_or_default(),
        gender: f.gender.clone().unwrap_or_default(),
        birthday: r.profile.birthday.clone().unwrap_or_default(),
        city: r.profile.city.clone().unwrap_or_default(),
    };
    // A refused form shows what was typed, not what is stored.
    let form = match submitted {
        Some(p) => ProfileForm {
            remark: p.remark.clone().unwrap_or(stored_form.remark),
            name: p.name.clone().unwrap_or(stored_form.name),
            phone: p.phone.clone().unwrap_or(stored_form.phone),
            gender: p.gender.clone().unwrap_or(stored_form.gender),
            birthday: p.birthday.clone().unwrap_or(stored_form.birthday),
            city: p.city.clone().unwrap_or(stored_form.city),
        },
        None => stored_form,
    };
    let alert = errors
        .get("wechat")
        .or_else(|| errors.get("blacklist"))
        .map(|m| caller.lang.render(m));
    let all_tags = super::store::tag_names(&state.db, caller.merchant_id, account.id).await?;
    let now = state.clock.now_ms();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = page(&ShowPage {
        title: display_name(r).unwrap_or_else(|| openid.to_string()),
        first_seen: format_local(r.follower.first_seen_at, tz),
        followed: local(r.follower.subscribed_at),
        unfollowed: local(r.follower.unsubscribed_at),
        last_active: format_local(r.follower.last_interaction_at, tz),
        synced: local(r.profile.synced_at),
        profile_updated: local(r.profile.profile_updated_at),
        location_at: local(r.follower.last_location_at),
        can_manage: caller.role.allows(Permission::ManageFollowers),
        handoff: crate::replies::store::handoff_of(
            &state.db,
            caller.merchant_id,
            account.id,
            openid,
        )
        .await?
        .map(|at| format_local(at, tz)),
        service_window: Some(r.follower.last_interaction_at + SERVICE_WINDOW_MS)
            // (A follower we saw leave cannot get them; one we never saw follow may be an
            // old follower not synced yet.)
            .filter(|until| {
                *until > now && (r.follower.subscribed || r.follower.unsubscribed_at.is_none())
            })
            .map(|until| format_local(until, tz)),
        can_handle: caller.role.allows(Permission::ViewMessages),
        flow_answers: crate::flows::answers_of(
            &state.db,
            caller.merchant_id,
            account.id,
            openid,
            FLOW_ANSWERS_SHOWN,
        )
        .await?
        .into_iter()
        .map(|a| flow_answer_view(a, caller.lang, tz))
        .collect(),
        today: crate::platform::clock::utc(now)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        shell,
        account_id: account.id,
        openid: openid.to_string(),
        f,
        form,
        errors,
        alert,
        all_tags,
        timeline,
        older_href,
        newer: before.is_some(),
    })?;
    *res.status_mut() = status;
    Ok(res)
}

/// The page's forms: the account, and the fields of the form that was sent.
#[derive(Debug, Default, Deserialize)]
struct FollowerForm {
    #[serde(default)]
    account_id: i64,
    remark: Option<String>,
    name: Option<String>,
    phone: Option<String>,
    gender: Option<String>,
    birthday: Option<String>,
    city: Option<String>,
    blacklisted: Option<String>,
}

impl FollowerForm {
    fn patch(&self) -> FollowerPatch {
        FollowerPatch {
            remark: self.remark.clone(),
            name: self.name.clone(),
            phone: self.phone.clone(),
            gender: self.gender.clone(),
            birthday: self.birthday.clone(),
            city: self.city.clone(),
        }
    }
}

/// Saves a form's change, then back to the page with a notice; a refusal re-renders the
/// page with the message where the form is.
async fn save_form(
    state: AppState,
    caller: Caller,
    uri: Uri,
    openid: String,
    form: FollowerForm,
    patch: FollowerPatch,
    notice: &str,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let account = super::account_of(&state, caller.merchant_id, form.account_id).await?;
    match super::update(&state, &account, &openid, &patch).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/followers/{}?account={}&notice={notice}",
            urlencoding(&openid),
            account.id
        ))
        .into_response()),
        Err(e) => refused(&state, &caller, &uri, &account, &openid, Some(&patch), e).await,
    }
}

/// Re-renders the page with a validation or WeChat error; anything else is the error page.
async fn refused(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    account: &AccountRow,
    openid: &str,
    patch: Option<&FollowerPatch>,
    e: AppError,
) -> Result<Response, AppError> {
    let errors = match e {
        AppError::Validation(f) => f,
        AppError::Upstream(m) => {
            let mut f = FieldErrors::default();
            f.add("wechat", m);
            f
        }
        other => return Err(other),
    };
    let shell = shell_with_account(state, caller, "follower.title", uri).await?;
    render_show(state, caller, shell, account, openid, None, patch, errors).await
}

async fn remark_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(openid): Path<String>,
    Form(form): Form<FollowerForm>,
) -> Result<Response, AppError> {
    let patch = FollowerPatch {
        remark: Some(form.remark.clone().unwrap_or_default()),
        ..FollowerPatch::default()
    };
    save_form(state, caller, uri, openid, form, patch, "remark_saved").await
}

async fn profile_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(openid): Path<String>,
    Form(form): Form<FollowerForm>,
) -> Result<Response, AppError> {
    let patch = FollowerPatch {
        remark: None,
        ..form.patch()
    };
    save_form(state, caller, uri, openid, form, patch, "profile_saved").await
}

async fn blacklist_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(openid): Path<String>,
    Form(form): Form<FollowerForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let account = super::account_of(&state, caller.merchant_id, form.account_id).await?;
    let on = matches!(form.blacklisted.as_deref(), Some("1" | "true" | "on"));
    match super::set_blacklisted(&state, &account, &openid, on).await {
        Ok(_) => {
            let notice = if on { "blacklisted" } else { "unblacklisted" };
            Ok(Redirect::to(&format!(
                "/followers/{}?account={}&notice={notice}",
                urlencoding(&openid),
                account.id
            ))
            .into_response())
        }
        Err(e) => refused(&state, &caller, &uri, &account, &openid, None, e).await,
    }
}

/// A person took over the conversation a follower asked for: the marker goes.
async fn clear_handoff_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(openid): Path<String>,
    Form(form): Form<FollowerForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewMessages)?;
    let account = super::account_of(&state, caller.merchant_id, form.account_id).await?;
    crate::replies::store::clear_handoff(&state.db, caller.merchant_id, account.id, &openid)
        .await?;
    Ok(Redirect::to(&format!(
        "/followers/{}?account={}&notice=saved",
        urlencoding(&openid),
        account.id
    ))
    .into_response())
}

// ---- JSON API ----

/// An account's followers through the quick filters (owner, operator, agent). For any
/// filter use `POST …/followers/search`.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/followers", tag = "followers",
    params(("id" = i64, Path), QuickFilter),
    responses((status = 200, body = FollowerPage), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    Query(q): Query<QuickFilter>,
) -> Result<Json<FollowerPage>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let account = super::account_of(&state, caller.merchant_id, id).await?;
    let segments = super::store::segments(&state.db, caller.merchant_id, id).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let selection = select(&q, tz, &segments, DEFAULT_LIMIT).map_err(AppError::Validation)?;
    follower_page(&state, &account, &selection, tz).await
}

async fn follower_page(
    state: &AppState,
    account: &AccountRow,
    selection: &Selection,
    tz: chrono_tz::Tz,
) -> Result<Json<FollowerPage>, AppError> {
    let (rows, next_cursor, total) = run_selection(state, account, selection).await?;
    let names = Names::load(state, account).await?;
    Ok(Json(FollowerPage {
        items: rows.iter().map(|r| follower_out(r, &names, tz)).collect(),
        next_cursor,
        total,
    }))
}

/// A search with any filter.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SearchBody {
    /// The filter (`{"combine":"all","conditions":[…]}`); empty: every follower.
    #[serde(default)]
    pub filter: Filter,
    #[serde(default)]
    pub sort: Option<Sort>,
    /// `next_cursor` of the previous page (same filter and sort).
    #[serde(default)]
    pub cursor: Option<String>,
    /// 1 to 500 (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
    /// Also count every match (`total`).
    #[serde(default)]
    pub total: bool,
}

/// An account's followers matching a filter (owner, operator, agent).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/followers/search", tag = "followers",
    params(("id" = i64, Path)), request_body = SearchBody,
    responses((status = 200, body = FollowerPage), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_search(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<FollowerPage>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let account = super::account_of(&state, caller.merchant_id, id).await?;
    let mut errors = FieldErrors::default();
    if let Err(e) = body.filter.validate() {
        errors.add("filter", Msg::new(e.message_key()));
    }
    let after = body.cursor.as_deref().and_then(|c| {
        let a = After::decode(c);
        if a.is_none() {
            errors.add("cursor", Msg::new("error.bad_cursor"));
        }
        a
    });
    let limit = body.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        errors.add(
            "limit",
            Msg::new("error.range").arg("min", 1).arg("max", MAX_LIMIT),
        );
    }
    let selection = errors.into_result(Selection {
        filter: body.filter,
        sort: body.sort.unwrap_or_default(),
        after,
        limit,
        quick_ignored: false,
        with_total: body.total,
    })?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    follower_page(&state, &account, &selection, tz).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CountQuery {
    /// The filter; empty: every follower.
    #[serde(default)]
    pub filter: Filter,
}

#[derive(Serialize, ToSchema)]
pub struct MatchCount {
    pub count: i64,
}

/// How many of an account's followers match a filter (the list shows its first page at
/// once and asks for this count after).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/followers/count", tag = "followers",
    params(("id" = i64, Path)), request_body = CountQuery,
    responses((status = 200, body = MatchCount), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_count(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<CountQuery>,
) -> Result<Json<MatchCount>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let account = super::account_of(&state, caller.merchant_id, id).await?;
    if let Err(e) = body.filter.validate() {
        let mut errors = FieldErrors::default();
        errors.add("filter", Msg::new(e.message_key()));
        return Err(AppError::Validation(errors));
    }
    let now = state.clock.now_ms();
    let count = super::query::count(
        &state.db,
        account.merchant_id,
        account.id,
        &body.filter,
        now,
    )
    .await?;
    Ok(Json(MatchCount { count }))
}

/// One follower: log, profile, tags by name, channel name (owner, operator, agent).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/followers/{openid}", tag = "followers",
    params(("id" = i64, Path), ("openid" = String, Path)),
    responses((status = 200, body = FollowerOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_get(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, openid)): Path<(i64, String)>,
) -> Result<Json<FollowerOut>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let account = super::account_of(&state, caller.merchant_id, id).await?;
    let record = super::record_of(&state, &account, &openid).await?;
    one(&state, &account, &record).await
}

async fn one(
    state: &AppState,
    account: &AccountRow,
    record: &FollowerRecord,
) -> Result<Json<FollowerOut>, AppError> {
    let tz = crate::merchants::timezone(&state.db, account.merchant_id).await?;
    let names = Names::load(state, account).await?;
    Ok(Json(follower_out(record, &names, tz)))
}

/// Changes the remark (sent to WeChat first) and the collected profile fields (owner,
/// operator). Fields left out keep their value; an empty string clears one.
#[utoipa::path(patch, path = "/api/v1/accounts/{id}/followers/{openid}", tag = "followers",
    params(("id" = i64, Path), ("openid" = String, Path)), request_body = FollowerPatch,
    responses((status = 200, body = FollowerOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope), (status = 502, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_patch(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, openid)): Path<(i64, String)>,
    ApiJson(patch): ApiJson<FollowerPatch>,
) -> Result<Json<FollowerOut>, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let account = super::account_of(&state, caller.merchant_id, id).await?;
    let record = super::update(&state, &account, &openid, &patch).await?;
    one(&state, &account, &record).await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BlacklistBody {
    pub blacklisted: bool,
}

/// Puts a follower on the account's blacklist or takes them off, at WeChat first (owner,
/// operator).
#[utoipa::path(put, path = "/api/v1/accounts/{id}/followers/{openid}/blacklist", tag = "followers",
    params(("id" = i64, Path), ("openid" = String, Path)), request_body = BlacklistBody,
    responses((status = 200, body = FollowerOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope), (status = 502, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_blacklist(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, openid)): Path<(i64, String)>,
    ApiJson(body): ApiJson<BlacklistBody>,
) -> Result<Json<FollowerOut>, AppError> {
    caller.require(Permission::ManageFollowers)?;
    let account = super::account_of(&state, caller.merchant_id, id).await?;
    let record = super::set_blacklisted(&state, &account, &openid, body.blacklisted).await?;
    one(&state, &account, &record).await
}

/// A page of the timeline: `{items, next_cursor}`.
#[derive(Serialize, ToSchema)]
pub struct TimelinePage {
    pub items: Vec<TimelineItem>,
    pub next_cursor: Option<String>,
}

/// A follower's messages and events, newest first, with our replies (owner, operator,
/// agent).
#[utoipa::path(get, path = "/api/v1/accounts/{id}/followers/{openid}/timeline", tag = "followers",
    params(("id" = i64, Path), ("openid" = String, Path), crate::platform::api::ListQuery),
    responses((status = 200, body = TimelinePage), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_timeline(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, openid)): Path<(i64, String)>,
    Query(q): Query<crate::platform::api::ListQuery>,
) -> Result<Json<TimelinePage>, AppError> {
    caller.require(Permission::ViewFollowers)?;
    let (after, limit) = q.window()?;
    let account = super::account_of(&state, caller.merchant_id, id).await?;
    super::record_of(&state, &account, &openid).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let before = (after > 0).then_some(after);
    let rows =
        super::store::timeline(&state.db, caller.merchant_id, id, &openid, before, limit).await?;
    let items: Vec<TimelineItem> = rows
        .iter()
        .map(|r| timeline_item(r, tz, caller.lang))
        .collect();
    let next_cursor = (items.len() as i64 == limit)
        .then(|| items.last().map(|i| encode_cursor(i.id)))
        .flatten();
    Ok(Json(TimelinePage { items, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> chrono_tz::Tz {
        chrono_tz::Asia::Shanghai
    }

    #[test]
    fn quick_filters_become_one_filter() {
        let q = QuickFilter {
            status: Some("all".into()),
            tag: Some("7".into()),
            followed_from: Some("2026-01-01".into()),
            followed_to: Some("2026-01-01".into()),
            q: Some(" 王 ".into()),
            ..QuickFilter::default()
        };
        let s = select(&q, tz(), &[], 20).expect("valid");
        assert_eq!(s.filter.conditions.len(), 3);
        let day = 86_400_000;
        let start = 1_767_196_800_000; // 2026-01-01 00:00 +08:00
        assert!(s.filter.conditions.contains(&Condition::SubscribedAt {
            range: TimeRange::Between {
                from: Some(start),
                to: Some(start + day)
            }
        }));
        assert!(
            s.filter
                .conditions
                .contains(&Condition::Search { text: "王".into() })
        );
    }

    #[test]
    fn by_default_the_list_shows_followers_and_empty_fields_are_ignored() {
        let q = QuickFilter {
            tag: Some(String::new()),
            segment: Some(" ".into()),
            ..QuickFilter::default()
        };
        let s = select(&q, tz(), &[], 20).expect("valid");
        assert_eq!(
            s.filter.conditions,
            vec![Condition::Subscribed { value: true }]
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        let q = QuickFilter {
            tag: Some("x".into()),
            followed_from: Some("2026-13-01".into()),
            active_from: Some("2026-02-02".into()),
            active_to: Some("2026-02-01".into()),
            sort: Some("random".into()),
            segment: Some("9".into()),
            ..QuickFilter::default()
        };
        let e = select(&q, tz(), &[], 20).err().expect("refused");
        for f in ["tag", "followed_from", "active_to", "sort", "segment"] {
            assert!(e.has(f), "{f}: {e:?}");
        }
    }

    #[test]
    fn a_segment_takes_the_quick_filters_unless_it_matches_any() {
        let seg = |combine| SegmentRow {
            id: 3,
            name: "s".into(),
            filter: serde_json::to_string(&Filter {
                combine,
                conditions: vec![
                    Condition::HasChannel { value: true },
                    Condition::Blacklisted { value: false },
                ],
            })
            .expect("json"),
        };
        let q = QuickFilter {
            segment: Some("3".into()),
            ..QuickFilter::default()
        };
        let s = select(&q, tz(), &[seg(Combine::All)], 20).expect("valid");
        assert_eq!(s.filter.conditions.len(), 3);
        assert!(!s.quick_ignored);
        let s = select(&q, tz(), &[seg(Combine::Any)], 20).expect("valid");
        assert_eq!(s.filter.conditions.len(), 2);
        assert!(s.quick_ignored);
    }
}
