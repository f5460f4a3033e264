//! Data cube (数据统计), computed from what the sandbox saw happen:
//!
//! - `POST /datacube/getusersummary {begin_date, end_date}` →
//!   `{"list":[{ref_date, user_source, new_user, cancel_user}]}`: one `user_source: 0` row per
//!   day (even when nothing happened, as WeChat answers) and a row per other channel that had
//!   follows or unfollows that day. At most 7 days per call.
//! - `POST /datacube/getusercumulate` → `{"list":[{ref_date, cumulate_user}]}`, one row per
//!   day, 7 days per call.
//! - `POST /datacube/getupstreammsg` → `{"list":[{ref_date, msg_type, msg_user, msg_count}]}`
//!   for days with messages from followers (1 text, 2 image, 3 voice, 4 video, 6 link), 7 days.
//! - `POST /datacube/getinterfacesummary` →
//!   `{"list":[{ref_date, callback_count, fail_count, total_time_cost, max_time_cost}]}` for
//!   days with deliveries to the merchant's callback (times in ms), 30 days.
//!
//! Rules, as WeChat applies them: dates are `yyyy-MM-dd` (else 61500 "date format error");
//! `begin_date ≤ end_date ≤ yesterday` in Beijing time and at most the endpoint's span of days,
//! counting both ends (else 61501 "date range error"); WeChat keeps no data before 2014-12-01,
//! so earlier days have no rows. Verified accounts only (rights.rs).
//!
//! Where the figures come from: [`record_action`] (one call in the followers' `act`) counts
//! every follow and unfollow per Beijing day and channel, every text a follower sends, and
//! every delivery to the callback, in documents of this module's kinds. Followers created in
//! bulk already following count as `user_source: 0` follows of the day they were created, so
//! that `cumulate(day) = cumulate(day - 1) + new_user - cancel_user` always holds.

use std::collections::{BTreeMap, HashMap};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Sandbox;
use crate::caller::{ApiCaller, json_body};
use crate::error::{WxError, WxResult};
use crate::followers::{self, Action, Delivery, Follower};
use crate::registry::StoreError;

/// Follows and unfollows of one Beijing day, keyed by `yyyy-MM-dd`.
const USERS: &str = "cube:users";
/// Whether a follower was following before their first action, keyed by openid.
const ORIGIN: &str = "cube:origin";
/// Messages followers sent on one day, keyed by `yyyy-MM-dd`.
const UPSTREAM: &str = "cube:upstream";
/// Deliveries to the callback on one day, keyed by `yyyy-MM-dd`.
const INTERFACE: &str = "cube:interface";

/// The first day WeChat has data for: 2014-12-01.
const FIRST_DAY: i64 = 16_405;
const DAY_MS: i64 = 86_400_000;
const BEIJING_MS: i64 = 8 * 3_600_000;

pub const USER_SPAN_DAYS: i64 = 7;
pub const UPSTREAM_SPAN_DAYS: i64 = 7;
pub const INTERFACE_SPAN_DAYS: i64 = 30;

/// `user_source` codes WeChat reports (its documentation's list).
pub const SOURCE_OTHERS: u32 = 0;
pub const SOURCE_SEARCH: u32 = 1;
pub const SOURCE_PROFILE_CARD: u32 = 17;
pub const SOURCE_QR_CODE: u32 = 30;
pub const SOURCE_ARTICLE: u32 = 57;
pub const SOURCE_ADVERTISEMENT: u32 = 100;
pub const SOURCE_MINI_PROGRAM: u32 = 149;
pub const SOURCE_REPRINT: u32 = 161;
pub const SOURCE_CHANNELS: u32 = 200;
pub const SOURCE_LIVESTREAM: u32 = 201;

/// `msg_type` of a text message in `getupstreammsg`.
pub const MSG_TEXT: u32 = 1;

pub fn router() -> Router<Sandbox> {
    Router::new()
        .route("/datacube/getusersummary", post(get_user_summary))
        .route("/datacube/getusercumulate", post(get_user_cumulate))
        .route("/datacube/getupstreammsg", post(get_upstream_msg))
        .route("/datacube/getinterfacesummary", post(get_interface_summary))
}

/// A follow or an unfollow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowChange {
    Follow,
    Unfollow,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
struct SourceCount {
    new_user: u64,
    cancel_user: u64,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct UserDay {
    /// `user_source` → that day's follows and unfollows.
    #[serde(default)]
    sources: BTreeMap<u32, SourceCount>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Origin {
    following_before_first_action: bool,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
struct MsgCount {
    msg_user: u64,
    msg_count: u64,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct UpstreamDay {
    /// `msg_type` → senders and messages.
    #[serde(default)]
    types: BTreeMap<u32, MsgCount>,
}

#[derive(Debug, Default, Deserialize, Serialize)]
struct InterfaceDay {
    callback_count: u64,
    fail_count: u64,
    total_time_cost: u64,
    max_time_cost: u64,
}

/// The Beijing calendar day of `ms`, as days since 1970-01-01.
pub fn beijing_day(ms: i64) -> i64 {
    (ms + BEIJING_MS).div_euclid(DAY_MS)
}

/// `yyyy-MM-dd` of a day number.
pub fn date_of(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day number of a strict `yyyy-MM-dd` date that exists on the calendar.
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let digits_at = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    if !(digits_at(0..4) && digits_at(5..7) && digits_at(8..10)) {
        return None;
    }
    let y: i64 = s[0..4].parse().ok()?;
    let m: u32 = s[5..7].parse().ok()?;
    let d: u32 = s[8..10].parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let day = days_from_civil(y, m, d);
    // Feb 30 would silently become Mar 2: only dates that survive the round trip exist.
    (civil_from_days(day) == (y, m, d)).then_some(day)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The `user_source` WeChat reports for a follower's `subscribe_scene`. Payments count as
/// "others" since June 2023, as do scenes the report has no channel for.
pub fn user_source_of(subscribe_scene: &str) -> u32 {
    match subscribe_scene {
        "ADD_SCENE_SEARCH" => SOURCE_SEARCH,
        "ADD_SCENE_PROFILE_CARD" => SOURCE_PROFILE_CARD,
        "ADD_SCENE_QR_CODE" => SOURCE_QR_CODE,
        "ADD_SCENE_PROFILE_LINK" => SOURCE_ARTICLE,
        "ADD_SCENE_WECHAT_ADVERTISEMENT" => SOURCE_ADVERTISEMENT,
        "ADD_SCENE_WXA" => SOURCE_MINI_PROGRAM,
        "ADD_SCENE_REPRINT" => SOURCE_REPRINT,
        "ADD_SCENE_CHANNELS" => SOURCE_CHANNELS,
        "ADD_SCENE_LIVESTREAM" => SOURCE_LIVESTREAM,
        _ => SOURCE_OTHERS,
    }
}

/// Counts one follow or unfollow through `user_source` on the Beijing day of `now_ms`.
pub async fn record_follow_change(
    sb: &Sandbox,
    app_id: &str,
    change: FollowChange,
    user_source: u32,
    now_ms: i64,
) -> Result<(), StoreError> {
    let key = date_of(beijing_day(now_ms));
    sb.docs
        .update(app_id, USERS, &key, |day: Option<UserDay>| {
            let mut day = day.unwrap_or_default();
            let count = day.sources.entry(user_source).or_default();
            match change {
                FollowChange::Follow => count.new_user += 1,
                FollowChange::Unfollow => count.cancel_user += 1,
            }
            Ok::<_, StoreError>((day, ()))
        })
        .await?
}

/// Counts what one follower action did: the follow or unfollow, the message, and its
/// delivery to the callback. Called by the followers' `act` once WeChat delivered it, with
/// whether the follower was following before (`None` counts as not following). A failure to
/// count is logged and never fails the action: statistics are not the action.
pub async fn record_action(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    action: &Action,
    was_following: Option<bool>,
    delivery: &Delivery,
    now_ms: i64,
) {
    let was_following = was_following == Some(true);
    let recorded = record(sb, app_id, openid, action, was_following, delivery, now_ms).await;
    if let Err(e) = recorded {
        tracing::warn!(error = %e, app_id, "data cube could not count a follower action");
    }
}

async fn record(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    action: &Action,
    was_following: bool,
    delivery: &Delivery,
    now_ms: i64,
) -> Result<(), StoreError> {
    remember_origin(sb, app_id, openid, was_following).await?;
    if let Some(change) = follow_change(action, was_following) {
        let source = followers::follower(sb, app_id, openid)
            .await?
            .map_or(SOURCE_OTHERS, |f| user_source_of(&f.subscribe_scene));
        record_follow_change(sb, app_id, change, source, now_ms).await?;
    }
    if let Some(msg_type) = upstream_msg_type(action) {
        record_upstream(sb, app_id, openid, msg_type, now_ms).await?;
    }
    record_delivery(sb, app_id, delivery, now_ms).await
}

/// Only a change of subscription counts: following again while following does not.
fn follow_change(action: &Action, was_following: bool) -> Option<FollowChange> {
    match action {
        Action::Follow { .. } if !was_following => Some(FollowChange::Follow),
        Action::Unfollow if was_following => Some(FollowChange::Unfollow),
        _ => None,
    }
}

/// Messages count in `getupstreammsg`; events (follow, click, location report) do not.
fn upstream_msg_type(action: &Action) -> Option<u32> {
    match action {
        Action::Text { .. } => Some(MSG_TEXT),
        _ => None,
    }
}

/// The state before a follower's first action is the state they were created in; bulk
/// followers created following are counted from it (see [`created_following_per_day`]).
async fn remember_origin(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    was_following: bool,
) -> Result<(), StoreError> {
    let origin = Origin {
        following_before_first_action: was_following,
    };
    sb.docs
        .create(app_id, ORIGIN, openid, &origin)
        .await
        .map(|_| ())
}

async fn record_upstream(
    sb: &Sandbox,
    app_id: &str,
    openid: &str,
    msg_type: u32,
    now_ms: i64,
) -> Result<(), StoreError> {
    let key = date_of(beijing_day(now_ms));
    // One marker per sender, type and day makes `msg_user` a count of distinct senders
    // without keeping every openid in the day's document.
    let senders = format!("cube:upstream-senders:{key}");
    let first_of_day = sb
        .docs
        .create(app_id, &senders, &format!("{msg_type}:{openid}"), &true)
        .await?;
    sb.docs
        .update(app_id, UPSTREAM, &key, |day: Option<UpstreamDay>| {
            let mut day = day.unwrap_or_default();
            let count = day.types.entry(msg_type).or_default();
            count.msg_count += 1;
            count.msg_user += u64::from(first_of_day);
            Ok::<_, StoreError>((day, ()))
        })
        .await?
}

async fn record_delivery(
    sb: &Sandbox,
    app_id: &str,
    delivery: &Delivery,
    now_ms: i64,
) -> Result<(), StoreError> {
    let key = date_of(beijing_day(now_ms));
    sb.docs
        .update(app_id, INTERFACE, &key, |day: Option<InterfaceDay>| {
            let mut day = day.unwrap_or_default();
            day.callback_count += 1;
            day.fail_count += u64::from(delivery.error.is_some());
            day.total_time_cost += delivery.elapsed_ms;
            day.max_time_cost = day.max_time_cost.max(delivery.elapsed_ms);
            Ok::<_, StoreError>((day, ()))
        })
        .await?
}

#[derive(Deserialize)]
struct DateRange {
    begin_date: Option<String>,
    end_date: Option<String>,
}

fn date_format_error() -> WxError {
    WxError::new(61500, "date format error")
}

fn date_range_error() -> WxError {
    WxError::new(61501, "date range error")
}

/// The requested days (inclusive) after WeChat's checks.
fn requested_days(body: &[u8], span_days: i64, now_ms: i64) -> Result<(i64, i64), WxError> {
    let range: DateRange = json_body(body)?;
    let parse = |d: Option<String>| {
        d.as_deref()
            .and_then(parse_date)
            .ok_or_else(date_format_error)
    };
    let begin = parse(range.begin_date)?;
    let end = parse(range.end_date)?;
    let yesterday = beijing_day(now_ms) - 1;
    if begin > end || end > yesterday || end - begin >= span_days {
        return Err(date_range_error());
    }
    Ok((begin, end))
}

fn listing(rows: Vec<Value>) -> Response {
    Json(json!({ "list": rows })).into_response()
}

/// `POST /datacube/getusersummary`.
async fn get_user_summary(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let (begin, end) = requested_days(&body, USER_SPAN_DAYS, sb.now_ms())?;
    let days = user_days(&sb, &caller.app.app_id).await?;
    let rows = (begin.max(FIRST_DAY)..=end)
        .flat_map(|day| {
            let mut sources = days.get(&day).cloned().unwrap_or_default();
            sources.entry(SOURCE_OTHERS).or_default();
            sources.into_iter().map(move |(source, count)| {
                json!({
                    "ref_date": date_of(day),
                    "user_source": source,
                    "new_user": count.new_user,
                    "cancel_user": count.cancel_user,
                })
            })
        })
        .collect();
    Ok(listing(rows))
}

/// `POST /datacube/getusercumulate`.
async fn get_user_cumulate(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let (begin, end) = requested_days(&body, USER_SPAN_DAYS, sb.now_ms())?;
    let days = user_days(&sb, &caller.app.app_id).await?;
    let net = |sources: &BTreeMap<u32, SourceCount>| -> i64 {
        sources
            .values()
            .map(|c| c.new_user as i64 - c.cancel_user as i64)
            .sum()
    };
    let before: i64 = days.range(..begin).map(|(_, s)| net(s)).sum();
    let mut cumulate = before;
    let mut rows = Vec::new();
    for day in begin..=end {
        cumulate += days.get(&day).map_or(0, net);
        if day >= FIRST_DAY {
            rows.push(json!({ "ref_date": date_of(day), "cumulate_user": cumulate }));
        }
    }
    Ok(listing(rows))
}

/// `POST /datacube/getupstreammsg`.
async fn get_upstream_msg(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let (begin, end) = requested_days(&body, UPSTREAM_SPAN_DAYS, sb.now_ms())?;
    let mut rows = Vec::new();
    for day in begin.max(FIRST_DAY)..=end {
        let key = date_of(day);
        let Some(found) = sb
            .docs
            .get::<UpstreamDay>(&caller.app.app_id, UPSTREAM, &key)
            .await?
        else {
            continue;
        };
        for (msg_type, count) in found.types {
            rows.push(json!({
                "ref_date": key,
                "msg_type": msg_type,
                "msg_user": count.msg_user,
                "msg_count": count.msg_count,
            }));
        }
    }
    Ok(listing(rows))
}

/// `POST /datacube/getinterfacesummary`.
async fn get_interface_summary(
    State(sb): State<Sandbox>,
    caller: ApiCaller,
    body: axum::body::Bytes,
) -> WxResult {
    let (begin, end) = requested_days(&body, INTERFACE_SPAN_DAYS, sb.now_ms())?;
    let mut rows = Vec::new();
    for day in begin.max(FIRST_DAY)..=end {
        let key = date_of(day);
        if let Some(d) = sb
            .docs
            .get::<InterfaceDay>(&caller.app.app_id, INTERFACE, &key)
            .await?
        {
            rows.push(json!({
                "ref_date": key,
                "callback_count": d.callback_count,
                "fail_count": d.fail_count,
                "total_time_cost": d.total_time_cost,
                "max_time_cost": d.max_time_cost,
            }));
        }
    }
    Ok(listing(rows))
}

/// Every day's follows and unfollows by channel: those recorded, plus followers created in
/// bulk already following, as channel 0 follows of their creation day.
async fn user_days(
    sb: &Sandbox,
    app_id: &str,
) -> Result<BTreeMap<i64, BTreeMap<u32, SourceCount>>, StoreError> {
    let mut days: BTreeMap<i64, BTreeMap<u32, SourceCount>> = BTreeMap::new();
    for (key, day) in sb.docs.all::<UserDay>(app_id, USERS).await? {
        if let Some(n) = parse_date(&key) {
            days.insert(n, day.sources);
        }
    }
    for (day, created) in created_following_per_day(sb, app_id).await? {
        let others = days
            .entry(day)
            .or_default()
            .entry(SOURCE_OTHERS)
            .or_default();
        others.new_user += created;
    }
    Ok(days)
}

/// How many followers were created already following, per day of creation. A follower who
/// acted since is judged by the state recorded before their first action.
async fn created_following_per_day(
    sb: &Sandbox,
    app_id: &str,
) -> Result<BTreeMap<i64, u64>, StoreError> {
    let origins: HashMap<String, Origin> = sb.docs.all(app_id, ORIGIN).await?.into_iter().collect();
    let mut per_day = BTreeMap::new();
    for (openid, f) in sb.docs.all::<Follower>(app_id, followers::KIND).await? {
        let created_following = origins
            .get(&openid)
            .map_or(f.subscribe, |o| o.following_before_first_action);
        if created_following {
            *per_day.entry(beijing_day(f.created_at)).or_default() += 1;
        }
    }
    Ok(per_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_strict_and_round_trip() {
        assert_eq!(parse_date("2014-12-01"), Some(FIRST_DAY));
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(date_of(FIRST_DAY), "2014-12-01");
        assert_eq!(
            parse_date("2024-02-29").map(date_of).as_deref(),
            Some("2024-02-29")
        );
        for bad in [
            "2023-02-29",
            "2014-13-01",
            "2014-12-00",
            "2014-12-2",
            "20141201",
            "",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        for day in [-1000, 0, 59, 16_405, 20_000, 73_000] {
            assert_eq!(parse_date(&date_of(day)), Some(day));
        }
    }

    #[test]
    fn the_day_turns_at_beijing_midnight() {
        // 2026-11-30 15:59:59 UTC is 23:59:59 in Beijing.
        let before = 1_796_054_399_000;
        assert_eq!(date_of(beijing_day(before)), "2026-11-30");
        assert_eq!(date_of(beijing_day(before + 1000)), "2026-12-01");
    }

    #[test]
    fn channels_follow_the_subscribe_scene() {
        assert_eq!(user_source_of("ADD_SCENE_QR_CODE"), 30);
        assert_eq!(user_source_of("ADD_SCENE_SEARCH"), 1);
        assert_eq!(user_source_of("ADD_SCENE_PROFILE_CARD"), 17);
        assert_eq!(user_source_of("ADD_SCENE_PAID"), 0);
        assert_eq!(user_source_of(""), 0);
    }
}
