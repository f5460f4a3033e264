//! Channel QR codes (渠道二维码): what a channel is, WeChat's limits on parametric codes, how a
//! scan is read from a logged event, and days in the merchant's time zone. Pure: no I/O.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use wechat::Message;
use wechat::message::Event;

use crate::merchants::model::check_name;
use crate::platform::error::FieldErrors;
use crate::platform::i18n::Msg;

/// WeChat's longest life of a temporary code: 30 days.
pub const MAX_EXPIRE_SECONDS: u32 = wechat::api::qrcode::MAX_EXPIRE_SECONDS;
/// WeChat keeps at most this many permanent codes per account, and never forgets one.
pub const MAX_PERMANENT_CODES: i64 = 100_000;
/// Permanent codes with a numeric scene take 1..=100,000.
pub const MAX_PERMANENT_SCENE_ID: u32 = 100_000;
/// Scene strings are 1..=64 characters.
pub const MAX_SCENE_STR_CHARS: usize = 64;
pub const MAX_NAME_CHARS: usize = 60;
/// A text reply WeChat shows in full (the account's own welcome has the same limit).
pub const MAX_WELCOME_CHARS: usize = crate::accounts::model::MAX_REPLY_CHARS;
/// The merchant's words on a poster or table card: a few short lines.
pub const MAX_POSTER_CHARS: usize = 120;
/// A statistics page covers at most this many days.
pub const MAX_RANGE_DAYS: i64 = 366;
/// What a page shows when no range is asked for.
pub const DEFAULT_RANGE_DAYS: i64 = 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// 临时二维码: up to 30 days, no limit on how many.
    Temporary,
    /// 永久二维码: at most 100,000 per account.
    Permanent,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 2] = [ChannelKind::Permanent, ChannelKind::Temporary];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Temporary => "temporary",
            ChannelKind::Permanent => "permanent",
        }
    }

    pub fn parse(s: &str) -> Option<ChannelKind> {
        ChannelKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            ChannelKind::Temporary => "channel.kind.temporary",
            ChannelKind::Permanent => "channel.kind.permanent",
        }
    }
}

/// Where the code is spread. Seed 002 counts follows from printed codes (线下扫码) apart from
/// codes passed around online (线上传播).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Medium {
    /// 海报
    Poster,
    /// 桌贴 / 台卡
    TableCard,
    /// 线上链接 (articles, groups, websites)
    Link,
    Other,
}

/// Offline (printed) or online spread.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    Offline,
    Online,
    Other,
}

impl Medium {
    pub const ALL: [Medium; 4] = [
        Medium::Poster,
        Medium::TableCard,
        Medium::Link,
        Medium::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Poster => "poster",
            Medium::TableCard => "table_card",
            Medium::Link => "link",
            Medium::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Medium> {
        Medium::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Medium::Poster => "channel.medium.poster",
            Medium::TableCard => "channel.medium.table_card",
            Medium::Link => "channel.medium.link",
            Medium::Other => "channel.medium.other",
        }
    }

    pub fn reach(self) -> Reach {
        match self {
            Medium::Poster | Medium::TableCard => Reach::Offline,
            Medium::Link => Reach::Online,
            Medium::Other => Reach::Other,
        }
    }
}

impl Reach {
    pub fn label_key(self) -> &'static str {
        match self {
            Reach::Offline => "channel.reach.offline",
            Reach::Online => "channel.reach.online",
            Reach::Other => "channel.reach.other",
        }
    }
}

/// What WeChat sends back on a scan: a number or a string. Stored as its text (the decimal
/// id, or the string), which is exactly the EventKey after `qrscene_`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelScene {
    Id(u32),
    Str(String),
}

impl ChannelScene {
    /// A scene typed by a person: digits are a scene id (WeChat reports ids as decimal text,
    /// so a digit string could never be told apart from one), anything else a scene string.
    pub fn parse(text: &str, kind: ChannelKind) -> Result<ChannelScene, Msg> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Msg::new("error.required"));
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            let max = match kind {
                ChannelKind::Permanent => MAX_PERMANENT_SCENE_ID,
                ChannelKind::Temporary => u32::MAX,
            };
            return match text.parse::<u32>() {
                Ok(id) if (1..=max).contains(&id) => Ok(ChannelScene::Id(id)),
                _ => Err(Msg::new("channel.scene_id_range").arg("max", max)),
            };
        }
        if text.chars().count() > MAX_SCENE_STR_CHARS {
            return Err(Msg::new("channel.scene_str_long").arg("max", MAX_SCENE_STR_CHARS));
        }
        if text.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(Msg::new("channel.scene_str_chars"));
        }
        Ok(ChannelScene::Str(text.to_string()))
    }

    /// The stored text, which is what a scan reports.
    pub fn text(&self) -> String {
        match self {
            ChannelScene::Id(id) => id.to_string(),
            ChannelScene::Str(s) => s.clone(),
        }
    }

    pub fn to_wechat(&self) -> wechat::api::qrcode::Scene {
        match self {
            ChannelScene::Id(id) => wechat::api::qrcode::Scene::Id(*id),
            ChannelScene::Str(s) => wechat::api::qrcode::Scene::Str(s.clone()),
        }
    }
}

/// The smallest scene id not taken yet among `used` (the account's scenes), within what a
/// permanent code may take, so an automatic scene suits both kinds.
pub fn next_free_scene_id<'a>(used: impl IntoIterator<Item = &'a str>) -> Option<u32> {
    let mut taken: Vec<u32> = used
        .into_iter()
        .filter_map(|s| s.parse::<u32>().ok())
        .filter(|id| (1..=MAX_PERMANENT_SCENE_ID).contains(id))
        .collect();
    taken.sort_unstable();
    taken.dedup();
    let mut next = 1;
    for id in taken {
        if id != next {
            break;
        }
        next += 1;
    }
    (next <= MAX_PERMANENT_SCENE_ID).then_some(next)
}

/// What a form or JSON body says about a new channel.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct ChannelInput {
    #[schema(example = "门店海报")]
    pub name: String,
    /// `temporary` or `permanent`.
    #[schema(example = "permanent")]
    pub kind: String,
    /// A scene id (digits) or scene string; empty or absent: the next free scene id.
    #[serde(default)]
    #[schema(example = "")]
    pub scene: Option<String>,
    /// Temporary codes only: 1 to 2,592,000 seconds (30 days).
    #[serde(default)]
    #[schema(example = 2592000)]
    pub expire_seconds: Option<i64>,
    /// `poster`, `table_card`, `link` or `other`.
    #[schema(example = "poster")]
    pub medium: String,
    /// A tag of the account applied to whoever scans the code.
    #[serde(default)]
    pub tag_id: Option<i64>,
    /// Answered to a follow (or a scan by a follower) through this code; empty: the
    /// account's welcome on a follow, nothing on a scan.
    #[serde(default)]
    #[schema(example = "欢迎光临掌柜咖啡！扫码关注送一张第二杯半价券。")]
    pub welcome_text: String,
    /// The merchant's words printed on the poster or table card.
    #[serde(default)]
    #[schema(example = "扫码关注 · 第二杯半价")]
    pub poster_text: String,
}

/// What may change on an existing channel: never its code.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
pub struct ChannelEdit {
    pub name: String,
    pub medium: String,
    #[serde(default)]
    pub tag_id: Option<i64>,
    #[serde(default)]
    pub welcome_text: String,
    #[serde(default)]
    pub poster_text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidEdit {
    pub name: String,
    pub medium: Medium,
    pub tag_id: Option<i64>,
    pub welcome_text: String,
    pub poster_text: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidChannel {
    pub edit: ValidEdit,
    pub kind: ChannelKind,
    /// `None`: the next free scene id.
    pub scene: Option<ChannelScene>,
    /// Temporary codes only.
    pub expire_seconds: Option<u32>,
}

impl ValidChannel {
    /// The code to ask WeChat for, once the scene is known.
    pub fn code(&self, scene: &ChannelScene) -> wechat::api::qrcode::QrCode {
        match (self.kind, self.expire_seconds) {
            (ChannelKind::Temporary, Some(expire_seconds)) => {
                wechat::api::qrcode::QrCode::Temporary {
                    expire_seconds,
                    scene: scene.to_wechat(),
                }
            }
            _ => wechat::api::qrcode::QrCode::Permanent {
                scene: scene.to_wechat(),
            },
        }
    }
}

pub fn validate_edit(input: &ChannelEdit, errors: &mut FieldErrors) -> Option<ValidEdit> {
    let name = input.name.trim().to_string();
    check_name(errors, "name", &name, MAX_NAME_CHARS);
    let medium = Medium::parse(input.medium.trim());
    if medium.is_none() {
        errors.add("medium", Msg::new("channel.bad_medium"));
    }
    let welcome_text = input.welcome_text.trim().to_string();
    if welcome_text.chars().count() > MAX_WELCOME_CHARS {
        errors.add(
            "welcome_text",
            Msg::new("error.too_long").arg("max", MAX_WELCOME_CHARS),
        );
    }
    let poster_text = input.poster_text.trim().to_string();
    if poster_text.chars().count() > MAX_POSTER_CHARS {
        errors.add(
            "poster_text",
            Msg::new("error.too_long").arg("max", MAX_POSTER_CHARS),
        );
    } else if poster_text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r')
    {
        errors.add("poster_text", Msg::new("error.control_chars"));
    }
    Some(ValidEdit {
        name,
        medium: medium?,
        tag_id: input.tag_id,
        welcome_text,
        poster_text,
    })
}

pub fn validate_edit_only(input: &ChannelEdit) -> Result<ValidEdit, FieldErrors> {
    let mut errors = FieldErrors::default();
    match validate_edit(input, &mut errors) {
        Some(v) if errors.is_empty() => Ok(v),
        _ => Err(errors),
    }
}

/// Checks a new channel against WeChat's rules before WeChat is asked.
pub fn validate_new(input: &ChannelInput) -> Result<ValidChannel, FieldErrors> {
    let mut errors = FieldErrors::default();
    let edit = validate_edit(
        &ChannelEdit {
            name: input.name.clone(),
            medium: input.medium.clone(),
            tag_id: input.tag_id,
            welcome_text: input.welcome_text.clone(),
            poster_text: input.poster_text.clone(),
        },
        &mut errors,
    );
    let kind = ChannelKind::parse(input.kind.trim());
    if kind.is_none() {
        errors.add("kind", Msg::new("channel.bad_kind"));
    }
    let scene_text = input.scene.as_deref().map(str::trim).unwrap_or_default();
    let scene = match (kind, scene_text.is_empty()) {
        (Some(kind), false) => match ChannelScene::parse(scene_text, kind) {
            Ok(s) => Some(s),
            Err(m) => {
                errors.add("scene", m);
                None
            }
        },
        _ => None,
    };
    let expire_seconds = match kind {
        Some(ChannelKind::Temporary) => match input.expire_seconds {
            Some(s) if (1..=i64::from(MAX_EXPIRE_SECONDS)).contains(&s) => u32::try_from(s).ok(),
            Some(_) => {
                errors.add("expire_seconds", expire_range());
                None
            }
            None => {
                errors.add("expire_seconds", Msg::new("error.required"));
                None
            }
        },
        _ => None,
    };
    match (edit, kind) {
        (Some(edit), Some(kind)) if errors.is_empty() => Ok(ValidChannel {
            edit,
            kind,
            scene,
            expire_seconds,
        }),
        _ => Err(errors),
    }
}

pub fn expire_range() -> Msg {
    Msg::new("channel.expire_range").arg("max_days", MAX_EXPIRE_SECONDS / 86_400)
}

/// How a logged event counts for a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanKind {
    /// A follow through the code (`subscribe` with `qrscene_…`).
    NewFollow,
    /// A scan by someone already following (`SCAN`).
    Rescan,
}

/// The scene and kind of a scan, if `msg` is one.
pub fn scan_of<'m>(msg: &'m Message<'_>) -> Option<(&'m str, ScanKind)> {
    let event = msg.event()?;
    let kind = match event {
        Event::Subscribe { .. } => ScanKind::NewFollow,
        Event::Scan { .. } => ScanKind::Rescan,
        _ => return None,
    };
    let scene = event.qr_scene().filter(|s| !s.is_empty())?;
    Some((scene, kind))
}

/// The merchant's calendar day of an instant, `YYYY-MM-DD`.
pub fn day_of(ms: i64, tz: Tz) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.with_timezone(&tz).format("%Y-%m-%d").to_string(),
        None => String::new(),
    }
}

/// The merchant's day of an instant as a date.
pub fn date_of(ms: i64, tz: Tz) -> NaiveDate {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|t| t.with_timezone(&tz).date_naive())
        .unwrap_or_default()
}

/// The first instant (ms) of a day in the merchant's zone.
pub fn day_start_ms(day: NaiveDate, tz: Tz) -> i64 {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map(|t| t.timestamp_millis())
        // A zone that skips midnight that day: its first hour.
        .unwrap_or_else(|| midnight.and_utc().timestamp_millis())
}

/// An inclusive range of days.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DayRange {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl DayRange {
    /// The range asked for (`YYYY-MM-DD`, either may be absent), else the last
    /// [`DEFAULT_RANGE_DAYS`] days up to `today`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
    ) -> Result<DayRange, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut day = |field: &str, text: Option<&str>| match text.map(str::trim) {
            None | Some("") => None,
            Some(t) => match NaiveDate::parse_from_str(t, "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    errors.add(field, Msg::new("channel.bad_date"));
                    None
                }
            },
        };
        let to_day = day("to", to).unwrap_or(today);
        let from_day =
            day("from", from).unwrap_or_else(|| to_day - Duration::days(DEFAULT_RANGE_DAYS - 1));
        if errors.is_empty() {
            if from_day > to_day {
                errors.add("from", Msg::new("channel.range_order"));
            } else if (to_day - from_day).num_days() >= MAX_RANGE_DAYS {
                errors.add(
                    "from",
                    Msg::new("channel.range_long").arg("max", MAX_RANGE_DAYS),
                );
            }
        }
        if errors.is_empty() {
            Ok(DayRange {
                from: from_day,
                to: to_day,
            })
        } else {
            Err(errors)
        }
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> + '_ {
        self.from.iter_days().take_while(|d| *d <= self.to)
    }

    pub fn from_text(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }

    pub fn to_text(&self) -> String {
        self.to.format("%Y-%m-%d").to_string()
    }
}

/// A channel's numbers of one day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DayStats {
    #[schema(example = "2026-11-23")]
    pub day: String,
    /// Follows through the code.
    pub new_follows: i64,
    /// Scans by people already following.
    pub rescans: i64,
    /// Followers who came through the code and unfollowed that day (and have not come back).
    pub unfollows: i64,
}

impl DayStats {
    /// Every scan of the code: follows and rescans.
    pub fn scans(&self) -> i64 {
        self.new_follows + self.rescans
    }
}

/// Totals of a channel or a group of channels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Totals {
    pub scans: i64,
    pub new_follows: i64,
    pub rescans: i64,
    pub unfollows: i64,
}

impl Totals {
    pub fn add(&mut self, other: &Totals) {
        self.scans += other.scans;
        self.new_follows += other.new_follows;
        self.rescans += other.rescans;
        self.unfollows += other.unfollows;
    }

    /// Follows that stayed: new follows less those who left again.
    pub fn net(&self) -> i64 {
        self.new_follows - self.unfollows
    }
}

/// Every day of `range` with its numbers (zero where nothing happened).
pub fn fill_days(
    range: &DayRange,
    counted: &[(String, i64, i64)],
    unfollows: &[(String, i64)],
) -> Vec<DayStats> {
    range
        .days()
        .map(|d| {
            let day = d.format("%Y-%m-%d").to_string();
            let (new_follows, rescans) = counted
                .iter()
                .filter(|(k, _, _)| *k == day)
                .fold((0, 0), |(n, r), (_, a, b)| (n + a, r + b));
            let gone = unfollows
                .iter()
                .filter(|(k, _)| *k == day)
                .map(|(_, n)| n)
                .sum();
            DayStats {
                day,
                new_follows,
                rescans,
                unfollows: gone,
            }
        })
        .collect()
}

/// One day's bars of the statistics chart, in the chart's own units (0..=100 high).
#[derive(Clone, Debug, PartialEq)]
pub struct ChartDay {
    pub label: String,
    pub x: f64,
    pub width: f64,
    pub follows_h: f64,
    pub rescans_h: f64,
    pub unfollows_h: f64,
    pub title: String,
}

/// Bars for each day: follows and rescans stacked upwards, unfollows beside them; heights
/// relative to the busiest day.
pub fn chart(days: &[DayStats]) -> Vec<ChartDay> {
    let top = days
        .iter()
        .map(|d| d.scans().max(d.unfollows))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let slot = 1000.0 / days.len().max(1) as f64;
    let scale = |n: i64| n as f64 / top * 100.0;
    days.iter()
        .enumerate()
        .map(|(i, d)| ChartDay {
            label: d.day.get(5..).unwrap_or_default().to_string(),
            x: i as f64 * slot + slot * 0.15,
            width: slot * 0.7,
            follows_h: scale(d.new_follows),
            rescans_h: scale(d.rescans),
            unfollows_h: scale(d.unfollows),
            title: format!(
                "{}: +{} / {} / -{}",
                d.day, d.new_follows, d.rescans, d.unfollows
            ),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ChannelInput {
        ChannelInput {
            name: "门店海报".into(),
            kind: "permanent".into(),
            scene: None,
            expire_seconds: None,
            medium: "poster".into(),
            tag_id: None,
            welcome_text: "欢迎".into(),
            poster_text: "扫码关注".into(),
        }
    }

    #[test]
    fn scenes_follow_wechats_ranges() {
        use ChannelKind::*;
        assert_eq!(
            ChannelScene::parse("42", Permanent),
            Ok(ChannelScene::Id(42))
        );
        assert!(ChannelScene::parse("0", Permanent).is_err());
        assert!(ChannelScene::parse("100001", Permanent).is_err());
        assert_eq!(
            ChannelScene::parse("100001", Temporary),
            Ok(ChannelScene::Id(100_001))
        );
        assert!(ChannelScene::parse("4294967296", Temporary).is_err());
        assert_eq!(
            ChannelScene::parse(" table_7 ", Permanent),
            Ok(ChannelScene::Str("table_7".into()))
        );
        assert!(ChannelScene::parse(&"x".repeat(65), Permanent).is_err());
        assert!(ChannelScene::parse(&"码".repeat(64), Permanent).is_ok());
        assert!(ChannelScene::parse("a b", Permanent).is_err());
    }

    #[test]
    fn the_next_free_scene_fills_the_first_gap() {
        assert_eq!(next_free_scene_id([]), Some(1));
        assert_eq!(next_free_scene_id(["1", "2", "poster", "4"]), Some(3));
        assert_eq!(next_free_scene_id(["2", "3"]), Some(1));
        assert_eq!(next_free_scene_id(["1", "1", "2"]), Some(3));
    }

    #[test]
    fn new_channels_are_checked_before_wechat_is_asked() {
        let v = validate_new(&input()).expect("valid");
        assert_eq!(v.kind, ChannelKind::Permanent);
        assert_eq!(v.scene, None);
        assert_eq!(v.edit.medium.reach(), Reach::Offline);

        let temp = ChannelInput {
            kind: "temporary".into(),
            expire_seconds: Some(2_592_001),
            ..input()
        };
        let e = validate_new(&temp).expect_err("too long");
        assert!(e.has("expire_seconds"));
        let temp = ChannelInput {
            kind: "temporary".into(),
            expire_seconds: None,
            ..input()
        };
        assert!(
            validate_new(&temp)
                .expect_err("needed")
                .has("expire_seconds")
        );
        let bad = ChannelInput {
            name: " ".into(),
            kind: "forever".into(),
            medium: "sky".into(),
            welcome_text: "字".repeat(MAX_WELCOME_CHARS + 1),
            ..input()
        };
        let e = validate_new(&bad).expect_err("bad");
        for f in ["name", "kind", "medium", "welcome_text"] {
            assert!(e.has(f), "{f}");
        }
        let scene = ChannelInput {
            scene: Some("0".into()),
            ..input()
        };
        assert!(validate_new(&scene).expect_err("scene").has("scene"));
    }

    #[test]
    fn scans_are_read_from_follows_and_scan_events() {
        let follow = "<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_poster]]></EventKey><Ticket><![CDATA[T]]></Ticket></xml>";
        let plain = "<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>";
        let scan = "<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[7]]></EventKey><Ticket><![CDATA[T]]></Ticket></xml>";
        let m = Message::parse(follow).expect("follow");
        assert_eq!(scan_of(&m), Some(("poster", ScanKind::NewFollow)));
        let m = Message::parse(plain).expect("plain");
        assert_eq!(scan_of(&m), None);
        let m = Message::parse(scan).expect("scan");
        assert_eq!(scan_of(&m), Some(("7", ScanKind::Rescan)));
    }

    #[test]
    fn days_are_the_merchants_days() {
        let tz = chrono_tz::Asia::Shanghai;
        // 2026-01-01 16:30 UTC is already the 2nd in Shanghai.
        let ms = 1_767_285_000_000;
        assert_eq!(day_of(ms, tz), "2026-01-02");
        let d = date_of(ms, tz);
        assert_eq!(day_start_ms(d, tz), 1_767_283_200_000);
    }

    #[test]
    fn ranges_default_to_the_last_thirty_days_and_are_bounded() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).expect("date");
        let r = DayRange::parse(None, None, today).expect("default");
        assert_eq!(r.days().count(), 30);
        assert_eq!(r.from_text(), "2026-03-02");
        assert!(DayRange::parse(Some("2026-04-01"), Some("2026-03-01"), today).is_err());
        assert!(DayRange::parse(Some("2024-01-01"), None, today).is_err());
        assert!(DayRange::parse(Some("yesterday"), None, today).is_err());
    }

    #[test]
    fn days_are_filled_and_charted() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 3).expect("date");
        let r = DayRange::parse(Some("2026-03-01"), None, today).expect("range");
        let days = fill_days(
            &r,
            &[("2026-03-02".into(), 3, 1)],
            &[("2026-03-03".into(), 2)],
        );
        assert_eq!(days.len(), 3);
        assert_eq!((days[1].new_follows, days[1].rescans), (3, 1));
        assert_eq!(days[2].unfollows, 2);
        let bars = chart(&days);
        assert_eq!(bars[1].follows_h + bars[1].rescans_h, 100.0);
        assert_eq!(bars[0].follows_h, 0.0);
        assert_eq!(bars[1].label, "03-02");
    }
}
