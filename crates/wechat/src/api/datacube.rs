//! Data cube (数据统计): `POST /datacube/getusersummary`, `getusercumulate`,
//! `getupstreammsg` and `getinterfacesummary`, each `{begin_date, end_date}` → `{list}`.
//!
//! Dates are Beijing days (`yyyy-MM-dd`), `end_date` at most yesterday (61501 otherwise), and
//! each endpoint takes a limited span per call (7 days for users and messages, 30 for the
//! interface): the functions here split longer ranges into calls. Data exists from
//! 2014-12-01; ask after 08:00 for the day before, and keep what you got (it does not change).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ApiError;
use crate::token::TokenCache;

pub const USER_SUMMARY_PATH: &str = "/datacube/getusersummary";
pub const USER_CUMULATE_PATH: &str = "/datacube/getusercumulate";
pub const UPSTREAM_MSG_PATH: &str = "/datacube/getupstreammsg";
pub const INTERFACE_SUMMARY_PATH: &str = "/datacube/getinterfacesummary";

/// Days per call, both ends counted.
pub const USER_SPAN_DAYS: i64 = 7;
pub const UPSTREAM_SPAN_DAYS: i64 = 7;
pub const INTERFACE_SPAN_DAYS: i64 = 30;

const DAY_MS: i64 = 86_400_000;
const BEIJING_OFFSET_MS: i64 = 8 * 3_600_000;

/// A calendar day, written `yyyy-MM-dd` as WeChat wants it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Days since 1970-01-01.
    days: i64,
}

impl Date {
    /// `None` for a day that does not exist.
    pub fn from_ymd(year: i64, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return None;
        }
        Some(Date {
            days: days_from_civil(year, month, day),
        })
    }

    /// Reads `yyyy-MM-dd`.
    pub fn parse(s: &str) -> Option<Date> {
        let mut parts = s.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if !(digits(y) && digits(m) && digits(d)) {
            return None;
        }
        Date::from_ymd(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
    }

    /// The Beijing day of a moment (Unix milliseconds): WeChat's days turn at midnight there.
    pub fn beijing(unix_ms: i64) -> Date {
        Date {
            days: (unix_ms + BEIJING_OFFSET_MS).div_euclid(DAY_MS),
        }
    }

    pub fn ymd(self) -> (i64, u32, u32) {
        civil_from_days(self.days)
    }

    pub fn add_days(self, n: i64) -> Date {
        Date {
            days: self.days + n,
        }
    }

    /// Days from `self` to `other` (negative when `other` is earlier).
    pub fn days_until(self, other: Date) -> i64 {
        other.days - self.days
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not a yyyy-MM-dd date")))
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `[begin, end]` cut into pieces of at most `span` days, in order.
pub fn spans(begin: Date, end: Date, span: i64) -> Vec<(Date, Date)> {
    let span = span.max(1);
    let mut out = Vec::new();
    let mut from = begin;
    while from <= end {
        let to = from.add_days(span - 1).min(end);
        out.push((from, to));
        from = to.add_days(1);
    }
    out
}

#[derive(Serialize)]
struct Range {
    begin_date: Date,
    end_date: Date,
}

#[derive(Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    list: Vec<T>,
}

async fn rows<T: serde::de::DeserializeOwned>(
    tokens: &TokenCache,
    api: &'static str,
    path: &str,
    begin: Date,
    end: Date,
    span: i64,
) -> Result<Vec<T>, ApiError> {
    let mut all = Vec::new();
    for (begin_date, end_date) in spans(begin, end, span) {
        let answer: List<T> = tokens
            .post(
                api,
                path,
                &Range {
                    begin_date,
                    end_date,
                },
            )
            .await?;
        all.extend(answer.list);
    }
    Ok(all)
}

/// Follows and unfollows of a day by channel (`user_source`: 0 others, 1 search, 17 profile
/// card, 30 QR code, 57 article, 100 ads, …).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct UserSummary {
    pub ref_date: Date,
    #[serde(default)]
    pub user_source: i64,
    #[serde(default)]
    pub new_user: u64,
    #[serde(default)]
    pub cancel_user: u64,
}

/// Followers at the end of a day.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct UserCumulate {
    pub ref_date: Date,
    #[serde(default)]
    pub cumulate_user: u64,
}

/// Messages followers sent on a day, by type (1 text, 2 image, 3 voice, 4 video, 6 link).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct UpstreamMsg {
    pub ref_date: Date,
    #[serde(default)]
    pub msg_type: i64,
    #[serde(default)]
    pub msg_user: u64,
    #[serde(default)]
    pub msg_count: u64,
}

/// WeChat's calls to the callback on a day (times in milliseconds).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct InterfaceSummary {
    pub ref_date: Date,
    #[serde(default)]
    pub callback_count: u64,
    #[serde(default)]
    pub fail_count: u64,
    #[serde(default)]
    pub total_time_cost: u64,
    #[serde(default)]
    pub max_time_cost: u64,
}

/// `POST /datacube/getusersummary`, 7 days a call.
pub async fn user_summary(
    tokens: &TokenCache,
    begin: Date,
    end: Date,
) -> Result<Vec<UserSummary>, ApiError> {
    rows(
        tokens,
        "datacube.getusersummary",
        USER_SUMMARY_PATH,
        begin,
        end,
        USER_SPAN_DAYS,
    )
    .await
}

/// `POST /datacube/getusercumulate`, 7 days a call.
pub async fn user_cumulate(
    tokens: &TokenCache,
    begin: Date,
    end: Date,
) -> Result<Vec<UserCumulate>, ApiError> {
    rows(
        tokens,
        "datacube.getusercumulate",
        USER_CUMULATE_PATH,
        begin,
        end,
        USER_SPAN_DAYS,
    )
    .await
}

/// `POST /datacube/getupstreammsg`, 7 days a call.
pub async fn upstream_msg(
    tokens: &TokenCache,
    begin: Date,
    end: Date,
) -> Result<Vec<UpstreamMsg>, ApiError> {
    rows(
        tokens,
        "datacube.getupstreammsg",
        UPSTREAM_MSG_PATH,
        begin,
        end,
        UPSTREAM_SPAN_DAYS,
    )
    .await
}

/// `POST /datacube/getinterfacesummary`, 30 days a call.
pub async fn interface_summary(
    tokens: &TokenCache,
    begin: Date,
    end: Date,
) -> Result<Vec<InterfaceSummary>, ApiError> {
    rows(
        tokens,
        "datacube.getinterfacesummary",
        INTERFACE_SUMMARY_PATH,
        begin,
        end,
        INTERFACE_SPAN_DAYS,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn date(s: &str) -> Date {
        Date::parse(s).expect("a date")
    }

    #[test]
    fn dates_are_wechats_days() {
        assert_eq!(date("1970-01-01").ymd(), (1970, 1, 1));
        assert_eq!(date("2014-12-01").days_until(date("2014-12-07")), 6);
        assert_eq!(date("2024-02-29").add_days(1).to_string(), "2024-03-01");
        assert_eq!(date("2023-12-31").add_days(1).to_string(), "2024-01-01");
        assert_eq!(Date::parse("2023-02-29"), None);
        assert_eq!(Date::parse("2023-2-01"), None);
        assert_eq!(Date::parse("2023-02-01x"), None);
        assert_eq!(Date::from_ymd(2000, 13, 1), None);
        // 2014-12-07 15:59:59 UTC is 23:59:59 in Beijing; a second later it is the 8th.
        let last_second = 1_417_967_999_000;
        assert_eq!(Date::beijing(last_second).to_string(), "2014-12-07");
        assert_eq!(Date::beijing(last_second + 1000).to_string(), "2014-12-08");
        for days in [-800_000, -1, 0, 59, 365, 11_016, 20_000, 2_932_896] {
            let d = Date { days };
            let (y, m, dd) = d.ymd();
            assert_eq!(Date::from_ymd(y, m, dd), Some(d));
        }
    }

    #[test]
    fn long_ranges_are_split_at_the_span() {
        let got = spans(date("2014-12-01"), date("2014-12-16"), 7);
        let text: Vec<(String, String)> = got
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(
            text,
            [
                ("2014-12-01".to_string(), "2014-12-07".to_string()),
                ("2014-12-08".to_string(), "2014-12-14".to_string()),
                ("2014-12-15".to_string(), "2014-12-16".to_string())
            ]
        );
        assert_eq!(spans(date("2014-12-02"), date("2014-12-02"), 7).len(), 1);
        assert!(spans(date("2014-12-03"), date("2014-12-02"), 7).is_empty());
    }

    #[test]
    fn the_body_matches_wechats_example() {
        assert_eq!(
            serde_json::to_value(Range {
                begin_date: date("2014-12-02"),
                end_date: date("2014-12-07")
            })
            .expect("json"),
            json!({"begin_date": "2014-12-02", "end_date": "2014-12-07"})
        );
    }

    #[test]
    fn answers_of_wechats_examples_are_read() {
        let summary: List<UserSummary> = serde_json::from_value(json!({"list": [
            {"ref_date": "2014-12-07", "user_source": 0, "new_user": 0, "cancel_user": 0}]}))
        .expect("getusersummary");
        assert_eq!(summary.list[0].ref_date, date("2014-12-07"));
        let cumulate: List<UserCumulate> = serde_json::from_value(json!({"list": [
            {"ref_date": "2014-12-07", "cumulate_user": 1217056}]}))
        .expect("getusercumulate");
        assert_eq!(cumulate.list[0].cumulate_user, 1_217_056);
        let upstream: List<UpstreamMsg> = serde_json::from_value(json!({"list": [
            {"ref_date": "2014-12-07", "msg_type": 1, "msg_user": 282, "msg_count": 817}]}))
        .expect("getupstreammsg");
        assert_eq!(upstream.list[0].msg_count, 817);
        let interface: List<InterfaceSummary> = serde_json::from_value(json!({"list": [
            {"ref_date": "2014-12-07", "callback_count": 36974, "fail_count": 67,
             "total_time_cost": 14994291, "max_time_cost": 5044}]}))
        .expect("getinterfacesummary");
        assert_eq!(interface.list[0].max_time_cost, 5044);
        let empty: List<UserCumulate> = serde_json::from_value(json!({})).expect("no list");
        assert!(empty.list.is_empty());
    }
}
