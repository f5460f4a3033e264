//! A follower as the message log tells it, and how each logged message changes that picture.
//!
//! Every rule is a merge by timestamp (earliest first-seen, newest interaction, newest
//! follow/unfollow decides the state, earliest QR scene is the channel, newest location), so
//! applying the same message twice, or messages out of order, gives the same follower. That
//! is what lets the projector re-read the log freely and rebuild it from scratch.

use chrono::{Datelike, NaiveDate};

use super::filter::Gender;
use crate::platform::clock::Millis;
use crate::platform::error::FieldErrors;
use crate::platform::i18n::Msg;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Follower {
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: String,
    pub first_seen_at: Millis,
    pub last_interaction_at: Millis,
    pub subscribed: bool,
    pub subscription_changed_at: Option<Millis>,
    pub subscribed_at: Option<Millis>,
    pub unsubscribed_at: Option<Millis>,
    pub channel: Option<String>,
    pub channel_at: Option<Millis>,
    pub last_latitude: Option<f64>,
    pub last_longitude: Option<f64>,
    pub last_location_at: Option<Millis>,
    /// The follower's first and last row in the message log that the projection has seen:
    /// the stretch of the log their timeline reads (`timeline_buckets`).
    pub first_message_id: Option<i64>,
    pub last_message_id: Option<i64>,
}

/// What one logged message says about its sender.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// Any message or event from the follower.
    Interaction,
    /// A follow; `scene` is the parametric QR code's scene when a code brought them.
    Follow {
        scene: Option<String>,
    },
    Unfollow,
    /// A reported or sent location.
    Location {
        latitude: f64,
        longitude: f64,
    },
}

impl Follower {
    pub fn new(merchant_id: i64, account_id: i64, openid: &str, at: Millis) -> Follower {
        Follower {
            merchant_id,
            account_id,
            openid: openid.to_string(),
            first_seen_at: at,
            last_interaction_at: at,
            ..Follower::default()
        }
    }

    /// Folds one observation made at `at` into the follower.
    pub fn merge(&mut self, at: Millis, obs: &Observation) {
        self.first_seen_at = self.first_seen_at.min(at);
        self.last_interaction_at = self.last_interaction_at.max(at);
        match obs {
            Observation::Interaction => {}
            Observation::Follow { scene } => {
                self.set_subscription(at, true);
                self.subscribed_at = Some(self.subscribed_at.map_or(at, |t| t.max(at)));
                if let Some(scene) = scene
                    && self.channel_at.is_none_or(|t| at < t)
                {
                    self.channel = Some(scene.clone());
                    self.channel_at = Some(at);
                }
            }
            Observation::Unfollow => {
                self.set_subscription(at, false);
                self.unsubscribed_at = Some(self.unsubscribed_at.map_or(at, |t| t.max(at)));
            }
            Observation::Location {
                latitude,
                longitude,
            } => {
                if self.last_location_at.is_none_or(|t| at >= t) {
                    self.last_latitude = Some(*latitude);
                    self.last_longitude = Some(*longitude);
                    self.last_location_at = Some(at);
                }
            }
        }
    }

    /// Whether all the follower says is that they wrote, clicked or scanned: no follow,
    /// unfollow, QR scene or location, so that joining them into the stored follower
    /// changes only their times and their stretch of the log.
    pub fn only_interacted(&self) -> bool {
        // Every field named, so that a new one must be placed on one side or the other.
        let Follower {
            merchant_id: _,
            account_id: _,
            openid: _,
            first_seen_at: _,
            last_interaction_at: _,
            first_message_id: _,
            last_message_id: _,
            subscribed,
            subscription_changed_at,
            subscribed_at,
            unsubscribed_at,
            channel,
            channel_at,
            last_latitude,
            last_longitude,
            last_location_at,
        } = self;
        !subscribed
            && subscription_changed_at.is_none()
            && subscribed_at.is_none()
            && unsubscribed_at.is_none()
            && channel.is_none()
            && channel_at.is_none()
            && last_latitude.is_none()
            && last_longitude.is_none()
            && last_location_at.is_none()
    }

    /// Widens the follower's stretch of the log to take in rows `first_id..=last_id`.
    pub fn saw_log_rows(&mut self, first_id: i64, last_id: i64) {
        self.first_message_id = Some(self.first_message_id.map_or(first_id, |f| f.min(first_id)));
        self.last_message_id = Some(self.last_message_id.map_or(last_id, |l| l.max(last_id)));
    }

    /// The newest follow or unfollow decides; at the same instant a follow wins (WeChat
    /// sends an unfollow and a re-follow a second apart at the earliest).
    fn set_subscription(&mut self, at: Millis, subscribed: bool) {
        let newer = match self.subscription_changed_at {
            None => true,
            Some(t) => at > t || (at == t && subscribed),
        };
        if newer {
            self.subscribed = subscribed;
            self.subscription_changed_at = Some(at);
        }
    }
}

// ---- where a follower's timeline is in the log ----

/// Log ids per bucket of `follower_log`: one full pass of its projection, which ends its
/// passes at a bucket's end (`bucket_end`), so that under load each pass fills a bucket of
/// its own, appending pages in key order. With buckets of four passes each pass inserted
/// its rows among the earlier passes' and rewrote the whole bucket's pages: ~1.2 µs a row
/// against ~0.8 (a scratch measurement, BENCHMARKS.md, callback, twenty-fourth round).
pub const LOG_BUCKET_IDS: i64 = 1_024;

pub fn log_bucket(message_id: i64) -> i64 {
    message_id.div_euclid(LOG_BUCKET_IDS)
}

/// The last id of the bucket `message_id` falls in.
pub fn bucket_end(message_id: i64) -> i64 {
    (log_bucket(message_id) + 1) * LOG_BUCKET_IDS - 1
}

/// The buckets of `follower_log` that can hold a follower's rows with ids up to `upto`,
/// newest first: those between the follower's first and last row the followers projection
/// has seen (`span`), and every bucket past that projection's cursor (`projected_upto`),
/// where it does not know yet.
pub fn timeline_buckets(
    upto: i64,
    span: Option<(i64, i64)>,
    projected_upto: i64,
) -> impl Iterator<Item = i64> {
    let unknown_from = (upto > projected_upto).then(|| log_bucket(projected_upto.max(0) + 1));
    let unknown = unknown_from
        .map(|from| from..=log_bucket(upto))
        .into_iter()
        .flatten()
        .rev();
    let known = span
        .filter(|(first, _)| *first <= upto)
        .map(|(first, last)| log_bucket(first)..=log_bucket(last.min(upto)))
        .into_iter()
        .flatten()
        .rev()
        .filter(move |b| unknown_from.is_none_or(|from| *b < from));
    unknown.chain(known)
}

// ---- what the merchant edits: the remark (WeChat's) and the collected profile (ours) ----

/// A remark WeChat accepts: `user/info/updateremark` refuses 30 bytes or more (40092).
/// Empty clears it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remark(String);

pub const REMARK_MAX_BYTES: usize = 29;
pub const PROFILE_TEXT_MAX_CHARS: usize = 32;

impl Remark {
    pub fn parse(input: &str) -> Result<Remark, Msg> {
        let r = input.trim();
        if r.len() > REMARK_MAX_BYTES {
            return Err(Msg::new("follower.error.remark_long").arg("max", REMARK_MAX_BYTES));
        }
        if r.chars().any(char::is_control) {
            return Err(Msg::new("follower.error.control_chars"));
        }
        Ok(Remark(r.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The collected profile fields as stored: `None` is unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileFields {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub gender: Option<Gender>,
    /// YYYY-MM-DD
    pub birthday: Option<String>,
    pub city: Option<String>,
}

/// A change of a follower, as the API's PATCH and the page's forms send it: a field left
/// out keeps its value, an empty string clears it.
#[derive(Clone, Debug, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct FollowerPatch {
    /// Shown in WeChat's follower list; under 30 bytes (about 9 Chinese characters).
    pub remark: Option<String>,
    pub name: Option<String>,
    /// A Chinese mobile number, or any number of digits with `+` and `-`.
    pub phone: Option<String>,
    /// `male`, `female`, or empty for unknown.
    pub gender: Option<String>,
    /// YYYY-MM-DD, not in the future.
    pub birthday: Option<String>,
    pub city: Option<String>,
}

impl FollowerPatch {
    pub fn touches_profile(&self) -> bool {
        self.name.is_some()
            || self.phone.is_some()
            || self.gender.is_some()
            || self.birthday.is_some()
            || self.city.is_some()
    }

    /// The remark to send to WeChat, if the patch has one.
    pub fn remark(&self) -> Result<Option<Remark>, Msg> {
        self.remark.as_deref().map(Remark::parse).transpose()
    }

    /// `current` with this patch applied, every field checked; `today` is the merchant's
    /// date (a birthday may not be after it).
    pub fn apply(
        &self,
        current: &ProfileFields,
        today: NaiveDate,
    ) -> Result<ProfileFields, FieldErrors> {
        let mut errors = FieldErrors::default();
        let mut out = current.clone();
        if let Err(m) = self.remark() {
            errors.add("remark", m);
        }
        let mut field =
            |name: &str, value: &Option<String>, check: &dyn Fn(&str) -> Result<String, Msg>| {
                match value.as_deref().map(str::trim) {
                    None => None,
                    Some("") => Some(None),
                    Some(v) => match check(v) {
                        Ok(v) => Some(Some(v)),
                        Err(m) => {
                            errors.add(name, m);
                            None
                        }
                    },
                }
            };
        if let Some(v) = field("name", &self.name, &short_text) {
            out.name = v;
        }
        if let Some(v) = field("phone", &self.phone, &phone) {
            out.phone = v;
        }
        if let Some(v) = field("birthday", &self.birthday, &|v| birthday(v, today)) {
            out.birthday = v;
        }
        if let Some(v) = field("city", &self.city, &short_text) {
            out.city = v;
        }
        if let Some(v) = field("gender", &self.gender, &gender) {
            out.gender = v.map(|g| Gender::of(Some(g.as_str())));
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

fn short_text(v: &str) -> Result<String, Msg> {
    if v.chars().count() > PROFILE_TEXT_MAX_CHARS {
        return Err(Msg::new("error.too_long").arg("max", PROFILE_TEXT_MAX_CHARS));
    }
    if v.chars().any(char::is_control) {
        return Err(Msg::new("follower.error.control_chars"));
    }
    Ok(v.to_string())
}

/// A Chinese mobile number (11 digits, 1[3-9]…), or any phone number written with digits,
/// an optional leading `+` and `-` between groups (5 to 20 digits).
pub fn phone(v: &str) -> Result<String, Msg> {
    let bad = || Msg::new("follower.error.phone");
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let body = v.strip_prefix('+').unwrap_or(v);
    let well_formed = !body.is_empty()
        && body.chars().all(|c| c.is_ascii_digit() || c == '-')
        && !body.starts_with('-')
        && !body.ends_with('-')
        && !body.contains("--");
    if !well_formed || !(5..=20).contains(&digits) {
        return Err(bad());
    }
    // Eleven digits starting with 1 and nothing else is meant as a mainland mobile number.
    let mobile_like =
        !v.starts_with('+') && digits == 11 && body.len() == 11 && body.starts_with('1');
    if mobile_like && !matches!(body.as_bytes().get(1), Some(b'3'..=b'9')) {
        return Err(bad());
    }
    Ok(v.to_string())
}

/// A real date, YYYY-MM-DD, from 1900 and not after `today`.
pub fn birthday(v: &str, today: NaiveDate) -> Result<String, Msg> {
    let date = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map_err(|_| Msg::new("follower.error.birthday"))?;
    if date > today {
        return Err(Msg::new("follower.error.birthday_future"));
    }
    if date.year() < 1900 {
        return Err(Msg::new("follower.error.birthday"));
    }
    Ok(date.format("%Y-%m-%d").to_string())
}

fn gender(v: &str) -> Result<String, Msg> {
    match v {
        "male" | "female" => Ok(v.to_string()),
        "unknown" => Ok(String::new()),
        _ => Err(Msg::new("follower.error.gender")),
    }
}

/// Great-circle distance in kilometres (haversine), for "n km from …" on the follower page.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lng1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lng2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lng2 - lng1) / 2.0).sin().powi(2);
    2.0 * 6_371.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs() -> Vec<(Millis, Observation)> {
        vec![
            (
                1_000,
                Observation::Follow {
                    scene: Some("poster".into()),
                },
            ),
            (2_000, Observation::Interaction),
            (
                3_000,
                Observation::Location {
                    latitude: 31.2,
                    longitude: 121.5,
                },
            ),
            (4_000, Observation::Unfollow),
            (
                5_000,
                Observation::Follow {
                    scene: Some("table".into()),
                },
            ),
            (
                6_000,
                Observation::Location {
                    latitude: 39.9,
                    longitude: 116.4,
                },
            ),
        ]
    }

    fn fold(order: &[(Millis, Observation)]) -> Follower {
        let mut f = Follower::new(1, 2, "o1", order[0].0);
        for (at, o) in order {
            f.merge(*at, o);
        }
        f
    }

    #[test]
    fn a_follower_history_folds_into_its_state() {
        let f = fold(&obs());
        assert!(f.subscribed);
        assert_eq!(f.first_seen_at, 1_000);
        assert_eq!(f.last_interaction_at, 6_000);
        assert_eq!(
            f.channel.as_deref(),
            Some("poster"),
            "the first QR code is the channel"
        );
        assert_eq!(f.unsubscribed_at, Some(4_000));
        assert_eq!(f.subscribed_at, Some(5_000));
        assert_eq!(f.last_latitude, Some(39.9));
    }

    #[test]
    fn order_and_repetition_do_not_matter() {
        let expected = fold(&obs());
        let mut reversed = obs();
        reversed.reverse();
        assert_eq!(fold(&reversed), expected);
        let mut twice = obs();
        twice.extend(obs());
        assert_eq!(fold(&twice), expected);
    }

    #[test]
    fn a_follower_stretch_of_the_log_only_widens() {
        let mut f = Follower::new(1, 2, "o1", 0);
        f.saw_log_rows(50, 60);
        f.saw_log_rows(70, 70);
        f.saw_log_rows(10, 20);
        f.saw_log_rows(30, 40);
        assert_eq!(
            (f.first_message_id, f.last_message_id),
            (Some(10), Some(70))
        );
    }

    #[test]
    fn a_bucket_ends_one_id_before_the_next_begins() {
        let b = LOG_BUCKET_IDS;
        assert_eq!(bucket_end(0), b - 1);
        assert_eq!(bucket_end(b - 1), b - 1);
        assert_eq!(bucket_end(b), 2 * b - 1);
        assert_eq!(log_bucket(bucket_end(7 * b + 5) + 1), 8);
    }

    fn buckets(upto: i64, span: Option<(i64, i64)>, projected: i64) -> Vec<i64> {
        timeline_buckets(upto, span, projected).collect()
    }

    #[test]
    fn a_timeline_reads_the_follower_buckets_and_those_not_projected_yet() {
        let b = LOG_BUCKET_IDS;
        // All projected: only the follower's own stretch, newest first.
        assert_eq!(
            buckets(10 * b, Some((2 * b, 4 * b + 5)), 10 * b),
            vec![4, 3, 2]
        );
        // Past the cursor every bucket may hold their rows.
        assert_eq!(
            buckets(10 * b + 7, Some((2 * b, 3 * b)), 8 * b + 1),
            vec![10, 9, 8, 3, 2]
        );
        // The two ranges meet in one bucket: read once.
        assert_eq!(
            buckets(5 * b, Some((b, 4 * b + 9)), 4 * b + 100),
            vec![5, 4, 3, 2, 1]
        );
        // Paging back below the stretch's top; below its first row nothing.
        assert_eq!(buckets(3 * b - 1, Some((b, 6 * b)), 9 * b), vec![2, 1]);
        assert_eq!(buckets(b - 1, Some((b, 6 * b)), 9 * b), Vec::<i64>::new());
        // A follower the projection has not met: only what it has not read.
        assert_eq!(buckets(3 * b, None, 2 * b), vec![3, 2]);
        assert_eq!(buckets(3 * b, None, 3 * b), Vec::<i64>::new());
        assert_eq!(buckets(5, None, 0), vec![0]);
    }

    #[test]
    fn the_newest_of_follow_and_unfollow_decides() {
        let f = fold(&[
            (1, Observation::Follow { scene: None }),
            (2, Observation::Unfollow),
        ]);
        assert!(!f.subscribed);
        let f = fold(&[
            (2, Observation::Unfollow),
            (1, Observation::Follow { scene: None }),
        ]);
        assert!(!f.subscribed);
    }

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, 1).expect("date")
    }

    #[test]
    fn remarks_are_under_thirty_bytes_as_wechat_wants() {
        assert!(Remark::parse("老客户VIP").is_ok());
        assert!(Remark::parse(&"备".repeat(9)).is_ok(), "27 bytes");
        assert!(Remark::parse(&"备".repeat(10)).is_err(), "30 bytes");
        assert_eq!(
            Remark::parse("  a  ").map(|r| r.as_str().to_string()),
            Ok("a".into())
        );
    }

    #[test]
    fn phones_birthdays_and_genders_are_checked() {
        assert!(phone("13812345678").is_ok());
        assert!(phone("+86-21-6123-4567").is_ok());
        assert!(phone("12812345678").is_err(), "no such mobile prefix");
        assert!(phone("138 1234 5678").is_err());
        assert!(phone("call me").is_err());
        assert!(phone("123").is_err());
        assert!(birthday("1990-02-28", today()).is_ok());
        assert!(birthday("1990-02-30", today()).is_err());
        assert!(birthday("2026-05-02", today()).is_err(), "future");
        let p = FollowerPatch {
            gender: Some("female".into()),
            city: Some("".into()),
            ..FollowerPatch::default()
        };
        let current = ProfileFields {
            city: Some("上海".into()),
            name: Some("王".into()),
            ..ProfileFields::default()
        };
        let out = p.apply(&current, today()).expect("valid");
        assert_eq!(out.gender, Some(Gender::Female));
        assert_eq!(out.city, None, "empty clears");
        assert_eq!(out.name.as_deref(), Some("王"), "left out keeps");
        let bad = FollowerPatch {
            phone: Some("x".into()),
            birthday: Some("2099-01-01".into()),
            gender: Some("other".into()),
            ..FollowerPatch::default()
        };
        let errors = bad.apply(&current, today()).expect_err("invalid");
        assert!(errors.has("phone") && errors.has("birthday") && errors.has("gender"));
    }

    #[test]
    fn distances_are_great_circle_kilometres() {
        let d = distance_km((31.2304, 121.4737), (39.9042, 116.4074));
        assert!((1060.0..1075.0).contains(&d), "{d}");
    }
}
