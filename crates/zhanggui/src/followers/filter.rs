//! Which followers: the one filter behind the follower list, saved segments (人群), bulk
//! tagging, CSV export and, later, broadcasts and campaigns.
//!
//! A filter is a list of conditions joined by "all" or "any". It is evaluated in two ways
//! that must agree: compiled to SQL (followers/query.rs) for real lists and counts, and
//! [`Filter::matches`] here over one follower in memory, which is the definition the SQL is
//! tested against (tests/segments.rs compares both on random data). Every rule below is
//! therefore written to be expressible the same way in SQLite and PostgreSQL: text
//! comparisons are exact or ASCII case-insensitive, distances use a flat-earth
//! approximation computed in the same order on both sides.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::Follower;
use crate::platform::clock::Millis;

pub const DAY_MS: Millis = 86_400_000;
/// Metres per degree of latitude (and of longitude at the equator).
pub const METRES_PER_DEGREE: f64 = 111_320.0;

/// Bounds that keep a filter's SQL small and its meaning sane.
pub const MAX_CONDITIONS: usize = 20;
pub const MAX_LIST: usize = 100;
pub const MAX_TEXT_CHARS: usize = 64;
pub const MAX_DAYS: u32 = 36_500;
pub const MAX_RADIUS_M: f64 = 1_000_000.0;
/// A flow's steps and options (flows/model.rs).
pub const MAX_FLOW_STEP: u32 = crate::flows::model::MAX_STEPS as u32;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Filter {
    /// `all` (every condition holds, the default) or `any` (at least one holds).
    #[serde(default)]
    pub combine: Combine,
    /// No conditions: every follower of the account.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Combine {
    #[default]
    All,
    Any,
}

/// One condition on a follower. `field` names it in JSON:
/// `{"field":"tags","op":"any","tag_ids":[3,4]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum Condition {
    /// Following the account now (true) or having unfollowed (false).
    Subscribed {
        value: bool,
    },
    Blacklisted {
        value: bool,
    },
    /// Our tags (ids of the `tags` table).
    Tags {
        op: TagOp,
        tag_ids: Vec<i64>,
    },
    /// The channel (QR scene) that first brought the follower.
    Channel {
        op: ListOp,
        scenes: Vec<String>,
    },
    /// Came through any channel QR code (true) or none (false).
    HasChannel {
        value: bool,
    },
    /// When they last followed.
    SubscribedAt {
        range: TimeRange,
    },
    /// When we first saw them.
    FirstSeen {
        range: TimeRange,
    },
    /// Their last message or event.
    LastInteraction {
        range: TimeRange,
    },
    /// Collected gender; `unknown` matches followers who never told.
    Gender {
        values: Vec<Gender>,
    },
    /// A collected profile field, or the remark.
    Profile {
        name: ProfileField,
        op: TextOp,
        #[serde(default)]
        value: String,
    },
    /// Birthday in one of these months (1–12).
    BirthdayMonth {
        months: Vec<u8>,
    },
    /// Last reported location within `radius_m` metres of a point (精准定位), optionally
    /// reported within the last `within_days` days.
    Near {
        latitude: f64,
        longitude: f64,
        radius_m: f64,
        #[serde(default)]
        within_days: Option<u32>,
    },
    /// The openid, or text contained in the remark, nickname, name or phone.
    Search {
        text: String,
    },
    /// Answered a conversational flow (互动问答): any answer of flow `flow_id`, or at its
    /// step `step` (counted from 1), or there one of the lettered `choices` ("A", "B" ...).
    /// `answered: false` selects those who gave no such answer.
    FlowAnswer {
        flow_id: i64,
        #[serde(default)]
        step: Option<u32>,
        #[serde(default)]
        choices: Vec<String>,
        #[serde(default = "yes")]
        answered: bool,
    },
}

fn yes() -> bool {
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TagOp {
    /// Has at least one of the tags.
    Any,
    /// Has every one of the tags.
    All,
    /// Has none of the tags.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListOp {
    In,
    NotIn,
}

/// A time window, absolute or relative to the moment the filter runs (a saved segment
/// "followed in the last 7 days" stays true to its name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimeRange {
    /// `from` inclusive, `to` exclusive, epoch milliseconds; either may be open.
    Between {
        #[serde(default)]
        from: Option<Millis>,
        #[serde(default)]
        to: Option<Millis>,
    },
    /// Within the last `days` days.
    LastDays { days: u32 },
    /// More than `days` days ago.
    OlderThanDays { days: u32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    Male,
    Female,
    Unknown,
}

impl Gender {
    pub fn stored(self) -> Option<&'static str> {
        match self {
            Gender::Male => Some("male"),
            Gender::Female => Some("female"),
            Gender::Unknown => None,
        }
    }

    /// What a stored value means; anything but male/female is unknown.
    pub fn of(stored: Option<&str>) -> Gender {
        match stored {
            Some("male") => Gender::Male,
            Some("female") => Gender::Female,
            _ => Gender::Unknown,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfileField {
    Remark,
    Nickname,
    Name,
    Phone,
    City,
}

impl ProfileField {
    pub fn column(self) -> &'static str {
        match self {
            ProfileField::Remark => "remark",
            ProfileField::Nickname => "nickname",
            ProfileField::Name => "name",
            ProfileField::Phone => "phone",
            ProfileField::City => "city",
        }
    }

    pub fn value(self, p: &Profile) -> Option<&str> {
        match self {
            ProfileField::Remark => Some(p.remark.as_str()),
            ProfileField::Nickname => p.nickname.as_deref(),
            ProfileField::Name => p.name.as_deref(),
            ProfileField::Phone => p.phone.as_deref(),
            ProfileField::City => p.city.as_deref(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TextOp {
    /// Present and not empty.
    IsSet,
    NotSet,
    /// Exactly the value.
    Equals,
    /// Contains the value, ignoring ASCII case.
    Contains,
}

/// What the merchant and WeChat know of a follower beside the message log's picture.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct Profile {
    pub remark: String,
    pub unionid: Option<String>,
    pub language: Option<String>,
    pub subscribe_scene: Option<String>,
    pub synced_at: Option<Millis>,
    pub blacklisted: bool,
    pub nickname: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub gender: Option<String>,
    /// YYYY-MM-DD
    pub birthday: Option<String>,
    pub city: Option<String>,
    pub profile_updated_at: Option<Millis>,
}

/// A follower with everything a filter looks at.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FollowerRecord {
    pub follower: Follower,
    pub profile: Profile,
    /// Our tag ids, ascending.
    pub tag_ids: Vec<i64>,
    /// Every answer they gave in a flow (read only where a filter or test needs them).
    pub flow_answers: Vec<FlowAnswer>,
}

/// One answer a follower gave in a flow (the `flow_answers` table).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowAnswer {
    pub flow_id: i64,
    /// Counted from 0, as stored: a flow's step 1 is 0.
    pub step: i64,
    /// The option's letter; empty for a free-text answer.
    pub choice: String,
}

/// Why a filter is refused; `condition` is the index of the offending condition.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FilterError {
    #[error("a filter has at most {MAX_CONDITIONS} conditions")]
    TooManyConditions,
    #[error("condition {condition}: choose at least one value")]
    EmptyList { condition: usize },
    #[error("condition {condition}: at most {MAX_LIST} values")]
    ListTooLong { condition: usize },
    #[error("condition {condition}: text is empty or longer than {MAX_TEXT_CHARS} characters")]
    BadText { condition: usize },
    #[error("condition {condition}: days must be 1..={MAX_DAYS}")]
    BadDays { condition: usize },
    #[error("condition {condition}: the time range ends before it starts")]
    BadRange { condition: usize },
    #[error("condition {condition}: months are 1..=12")]
    BadMonth { condition: usize },
    #[error("condition {condition}: not a point on Earth or a radius of 1 m..1000 km")]
    BadPlace { condition: usize },
    #[error("condition {condition}: choose a step (1..={MAX_FLOW_STEP}) before its options A..F")]
    BadFlowAnswer { condition: usize },
}

impl FilterError {
    /// The catalogue key of the user-facing message (platform/messages.rs).
    pub fn message_key(&self) -> &'static str {
        match self {
            FilterError::TooManyConditions => "filter.error.too_many",
            FilterError::EmptyList { .. } => "filter.error.empty_list",
            FilterError::ListTooLong { .. } => "filter.error.list_too_long",
            FilterError::BadText { .. } => "filter.error.text",
            FilterError::BadDays { .. } => "filter.error.days",
            FilterError::BadRange { .. } => "filter.error.range",
            FilterError::BadMonth { .. } => "filter.error.month",
            FilterError::BadPlace { .. } => "filter.error.place",
            FilterError::BadFlowAnswer { .. } => "filter.error.flow_answer",
        }
    }
}

impl Filter {
    pub fn everyone() -> Filter {
        Filter::default()
    }

    pub fn validate(&self) -> Result<(), FilterError> {
        if self.conditions.len() > MAX_CONDITIONS {
            return Err(FilterError::TooManyConditions);
        }
        for (i, c) in self.conditions.iter().enumerate() {
            c.validate(i)?;
        }
        Ok(())
    }

    /// Whether `f` belongs, at `now`. The definition the SQL must agree with.
    pub fn matches(&self, f: &FollowerRecord, now: Millis) -> bool {
        if self.conditions.is_empty() {
            return true;
        }
        match self.combine {
            Combine::All => self.conditions.iter().all(|c| c.matches(f, now)),
            Combine::Any => self.conditions.iter().any(|c| c.matches(f, now)),
        }
    }
}

fn check_list<T>(values: &[T], condition: usize) -> Result<(), FilterError> {
    if values.is_empty() {
        return Err(FilterError::EmptyList { condition });
    }
    if values.len() > MAX_LIST {
        return Err(FilterError::ListTooLong { condition });
    }
    Ok(())
}

fn check_text(text: &str, condition: usize) -> Result<(), FilterError> {
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_TEXT_CHARS {
        return Err(FilterError::BadText { condition });
    }
    Ok(())
}

fn check_days(days: u32, condition: usize) -> Result<(), FilterError> {
    if days == 0 || days > MAX_DAYS {
        return Err(FilterError::BadDays { condition });
    }
    Ok(())
}

impl Condition {
    fn validate(&self, i: usize) -> Result<(), FilterError> {
        match self {
            Condition::Subscribed { .. }
            | Condition::Blacklisted { .. }
            | Condition::HasChannel { .. } => Ok(()),
            Condition::Tags { tag_ids, .. } => check_list(tag_ids, i),
            Condition::Channel { scenes, .. } => {
                check_list(scenes, i)?;
                scenes.iter().try_for_each(|s| check_text(s, i))
            }
            Condition::SubscribedAt { range }
            | Condition::FirstSeen { range }
            | Condition::LastInteraction { range } => range.validate(i),
            Condition::Gender { values } => check_list(values, i),
            Condition::Profile { op, value, .. } => match op {
                TextOp::IsSet | TextOp::NotSet => Ok(()),
                TextOp::Equals | TextOp::Contains => check_text(value, i),
            },
            Condition::BirthdayMonth { months } => {
                check_list(months, i)?;
                if months.iter().all(|m| (1..=12).contains(m)) {
                    Ok(())
                } else {
                    Err(FilterError::BadMonth { condition: i })
                }
            }
            Condition::Near {
                latitude,
                longitude,
                radius_m,
                within_days,
            } => {
                let place_ok = (-90.0..=90.0).contains(latitude)
                    && (-180.0..=180.0).contains(longitude)
                    && (1.0..=MAX_RADIUS_M).contains(radius_m);
                if !place_ok {
                    return Err(FilterError::BadPlace { condition: i });
                }
                within_days.map_or(Ok(()), |d| check_days(d, i))
            }
            Condition::Search { text } => check_text(text.trim(), i),
            Condition::FlowAnswer { step, choices, .. } => {
                let step_ok = step.is_none_or(|s| (1..=MAX_FLOW_STEP).contains(&s));
                let choices_ok = choices.is_empty()
                    || (step.is_some()
                        && choices.len() <= MAX_LIST
                        && choices.iter().all(|c| is_option_letter(c)));
                if step_ok && choices_ok {
                    Ok(())
                } else {
                    Err(FilterError::BadFlowAnswer { condition: i })
                }
            }
        }
    }

    fn matches(&self, r: &FollowerRecord, now: Millis) -> bool {
        let f = &r.follower;
        let p = &r.profile;
        match self {
            Condition::Subscribed { value } => f.subscribed == *value,
            Condition::Blacklisted { value } => p.blacklisted == *value,
            Condition::Tags { op, tag_ids } => {
                let has = |t: &i64| r.tag_ids.contains(t);
                match op {
                    TagOp::Any => tag_ids.iter().any(has),
                    TagOp::All => tag_ids.iter().all(has),
                    TagOp::None => !tag_ids.iter().any(has),
                }
            }
            Condition::Channel { op, scenes } => {
                let listed = f.channel.as_ref().is_some_and(|c| scenes.contains(c));
                match op {
                    ListOp::In => listed,
                    ListOp::NotIn => !listed,
                }
            }
            Condition::HasChannel { value } => f.channel.is_some() == *value,
            Condition::SubscribedAt { range } => range.contains(f.subscribed_at, now),
            Condition::FirstSeen { range } => range.contains(Some(f.first_seen_at), now),
            Condition::LastInteraction { range } => {
                range.contains(Some(f.last_interaction_at), now)
            }
            Condition::Gender { values } => values.contains(&Gender::of(p.gender.as_deref())),
            Condition::Profile { name, op, value } => text_matches(name.value(p), *op, value),
            Condition::BirthdayMonth { months } => {
                birthday_month(p.birthday.as_deref()).is_some_and(|m| months.contains(&m))
            }
            Condition::Near {
                latitude,
                longitude,
                radius_m,
                within_days,
            } => {
                let (Some(lat), Some(lng), Some(at)) =
                    (f.last_latitude, f.last_longitude, f.last_location_at)
                else {
                    return false;
                };
                let recent = within_days.is_none_or(|d| at >= now - i64::from(d) * DAY_MS);
                let area = Area::around(*latitude, *longitude, *radius_m);
                recent && area.contains(lat, lng)
            }
            Condition::Search { text } => {
                let text = text.trim();
                f.openid == text
                    || [
                        Some(p.remark.as_str()),
                        p.nickname.as_deref(),
                        p.name.as_deref(),
                        p.phone.as_deref(),
                    ]
                    .into_iter()
                    .any(|v| text_matches(v, TextOp::Contains, text))
            }
            Condition::FlowAnswer {
                flow_id,
                step,
                choices,
                answered,
            } => {
                let gave = r.flow_answers.iter().any(|a| {
                    a.flow_id == *flow_id
                        && step.is_none_or(|s| a.step == i64::from(s) - 1)
                        && (choices.is_empty() || choices.contains(&a.choice))
                });
                gave == *answered
            }
        }
    }
}

/// "A" to "F", as flows letter their options.
fn is_option_letter(choice: &str) -> bool {
    let max = crate::flows::model::letter(crate::flows::model::MAX_OPTIONS - 1);
    let mut chars = choice.chars();
    matches!((chars.next(), chars.next()), (Some(c), None) if ('A'..=max).contains(&c))
}

fn text_matches(value: Option<&str>, op: TextOp, wanted: &str) -> bool {
    let set = value.is_some_and(|v| !v.is_empty());
    match op {
        TextOp::IsSet => set,
        TextOp::NotSet => !set,
        TextOp::Equals => value == Some(wanted),
        TextOp::Contains => value.is_some_and(|v| {
            v.to_ascii_lowercase()
                .contains(&wanted.to_ascii_lowercase())
        }),
    }
}

/// The month of a `YYYY-MM-DD` birthday, read the way SQL's `substr(birthday, 6, 2)` does.
fn birthday_month(birthday: Option<&str>) -> Option<u8> {
    let mm = birthday?.get(5..7)?;
    if mm.bytes().all(|b| b.is_ascii_digit()) {
        mm.parse().ok()
    } else {
        None
    }
}

impl TimeRange {
    fn validate(&self, i: usize) -> Result<(), FilterError> {
        match *self {
            TimeRange::Between {
                from: Some(from),
                to: Some(to),
            } if to <= from => Err(FilterError::BadRange { condition: i }),
            TimeRange::Between { .. } => Ok(()),
            TimeRange::LastDays { days } | TimeRange::OlderThanDays { days } => check_days(days, i),
        }
    }

    /// The window as `[from, to)` at `now`.
    pub fn bounds(&self, now: Millis) -> (Option<Millis>, Option<Millis>) {
        match *self {
            TimeRange::Between { from, to } => (from, to),
            TimeRange::LastDays { days } => (Some(now - i64::from(days) * DAY_MS), None),
            TimeRange::OlderThanDays { days } => (None, Some(now - i64::from(days) * DAY_MS)),
        }
    }

    fn contains(&self, at: Option<Millis>, now: Millis) -> bool {
        let Some(at) = at else {
            return false;
        };
        let (from, to) = self.bounds(now);
        from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t)
    }
}

/// A circle on a small patch of Earth, flattened: one degree of longitude is shortened by
/// the cosine of the centre's latitude. Within a city the error is far below GPS noise, and
/// the test is plain arithmetic that SQL evaluates exactly as Rust does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub latitude: f64,
    pub longitude: f64,
    /// cos(latitude): degrees of longitude to degrees of latitude.
    pub lng_scale: f64,
    /// The radius in degrees of latitude, squared.
    pub radius_deg_sq: f64,
}

impl Area {
    pub fn around(latitude: f64, longitude: f64, radius_m: f64) -> Area {
        let r = radius_m / METRES_PER_DEGREE;
        Area {
            latitude,
            longitude,
            lng_scale: latitude.to_radians().cos(),
            radius_deg_sq: r * r,
        }
    }

    /// Same operations in the same order as the SQL in followers/query.rs.
    pub fn contains(&self, lat: f64, lng: f64) -> bool {
        let dy = lat - self.latitude;
        let dx = (lng - self.longitude) * self.lng_scale;
        dy * dy + dx * dx <= self.radius_deg_sq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> FollowerRecord {
        let mut f = Follower::new(1, 2, "oABC", 1_000);
        f.subscribed = true;
        f.subscribed_at = Some(1_000);
        f.last_interaction_at = 10 * DAY_MS;
        f.channel = Some("poster".into());
        f.last_latitude = Some(31.2304);
        f.last_longitude = Some(121.4737);
        f.last_location_at = Some(9 * DAY_MS);
        FollowerRecord {
            follower: f,
            profile: Profile {
                remark: "VIP Zhang".into(),
                phone: Some("13800001111".into()),
                gender: Some("female".into()),
                birthday: Some("1990-07-15".into()),
                ..Profile::default()
            },
            tag_ids: vec![3, 5],
            flow_answers: vec![FlowAnswer {
                flow_id: 7,
                step: 0,
                choice: "B".into(),
            }],
        }
    }

    fn one(c: Condition) -> Filter {
        Filter {
            combine: Combine::All,
            conditions: vec![c],
        }
    }

    #[test]
    fn tags_any_all_none() {
        let r = record();
        let tags = |op, ids: &[i64]| {
            one(Condition::Tags {
                op,
                tag_ids: ids.to_vec(),
            })
            .matches(&r, 0)
        };
        assert!(tags(TagOp::Any, &[5, 9]));
        assert!(!tags(TagOp::All, &[5, 9]));
        assert!(tags(TagOp::All, &[3, 5]));
        assert!(tags(TagOp::None, &[9]));
        assert!(!tags(TagOp::None, &[3]));
    }

    #[test]
    fn relative_time_windows_move_with_now() {
        let r = record();
        let recent = one(Condition::LastInteraction {
            range: TimeRange::LastDays { days: 3 },
        });
        assert!(recent.matches(&r, 12 * DAY_MS));
        assert!(!recent.matches(&r, 14 * DAY_MS));
        let old = one(Condition::LastInteraction {
            range: TimeRange::OlderThanDays { days: 3 },
        });
        assert!(old.matches(&r, 14 * DAY_MS));
    }

    #[test]
    fn near_is_a_circle_of_metres() {
        let r = record();
        // People's Square to the Bund is about 1.5 km.
        let near = |radius_m| {
            one(Condition::Near {
                latitude: 31.2397,
                longitude: 121.4906,
                radius_m,
                within_days: None,
            })
            .matches(&r, 10 * DAY_MS)
        };
        assert!(near(2_500.0));
        assert!(!near(1_000.0));
    }

    #[test]
    fn text_search_ignores_ascii_case_and_any_of_all_conditions() {
        let r = record();
        assert!(one(Condition::Search { text: "vip".into() }).matches(&r, 0));
        assert!(
            one(Condition::Search {
                text: "oABC".into()
            })
            .matches(&r, 0)
        );
        let any = Filter {
            combine: Combine::Any,
            conditions: vec![
                Condition::Subscribed { value: false },
                Condition::BirthdayMonth { months: vec![7] },
            ],
        };
        assert!(any.matches(&r, 0));
        let all = Filter {
            combine: Combine::All,
            ..any
        };
        assert!(!all.matches(&r, 0));
    }

    #[test]
    fn flow_answers_by_flow_step_and_choice_or_their_absence() {
        let r = record();
        let answered = |flow_id, step, choices: &[&str], answered| {
            one(Condition::FlowAnswer {
                flow_id,
                step,
                choices: choices.iter().map(|c| c.to_string()).collect(),
                answered,
            })
            .matches(&r, 0)
        };
        assert!(answered(7, None, &[], true));
        assert!(answered(7, Some(1), &["A", "B"], true));
        assert!(!answered(7, Some(1), &["A"], true));
        assert!(!answered(7, Some(2), &[], true));
        assert!(!answered(8, None, &[], true));
        assert!(answered(8, None, &[], false));
        assert!(!answered(7, Some(1), &["B"], false));
    }

    #[test]
    fn flow_answer_choices_need_a_step_and_letters() {
        let check = |step, choices: &[&str]| {
            one(Condition::FlowAnswer {
                flow_id: 1,
                step,
                choices: choices.iter().map(|c| c.to_string()).collect(),
                answered: true,
            })
            .validate()
        };
        assert_eq!(check(Some(2), &["A", "F"]), Ok(()));
        assert_eq!(check(None, &[]), Ok(()));
        let bad = Err(FilterError::BadFlowAnswer { condition: 0 });
        assert_eq!(check(None, &["A"]), bad);
        assert_eq!(check(Some(1), &["G"]), bad);
        assert_eq!(check(Some(1), &["AB"]), bad);
        assert_eq!(check(Some(0), &[]), bad);
        assert_eq!(check(Some(MAX_FLOW_STEP + 1), &[]), bad);
    }

    #[test]
    fn gender_unknown_covers_missing_values() {
        let mut r = record();
        let unknown = one(Condition::Gender {
            values: vec![Gender::Unknown],
        });
        assert!(!unknown.matches(&r, 0));
        r.profile.gender = None;
        assert!(unknown.matches(&r, 0));
    }

    #[test]
    fn bad_filters_are_refused_with_the_condition() {
        let f = Filter {
            combine: Combine::All,
            conditions: vec![
                Condition::Subscribed { value: true },
                Condition::Tags {
                    op: TagOp::Any,
                    tag_ids: vec![],
                },
            ],
        };
        assert_eq!(f.validate(), Err(FilterError::EmptyList { condition: 1 }));
        let far = one(Condition::Near {
            latitude: 95.0,
            longitude: 0.0,
            radius_m: 10.0,
            within_days: None,
        });
        assert!(matches!(far.validate(), Err(FilterError::BadPlace { .. })));
    }

    #[test]
    fn filters_read_and_write_as_json() {
        let json = r#"{"combine":"any","conditions":[
            {"field":"tags","op":"all","tag_ids":[1,2]},
            {"field":"subscribed_at","range":{"kind":"last_days","days":7}},
            {"field":"near","latitude":31.2,"longitude":121.4,"radius_m":3000}]}"#;
        let f: Filter = serde_json::from_str(json).expect("valid filter");
        assert_eq!(f.combine, Combine::Any);
        assert_eq!(f.conditions.len(), 3);
        let again: Filter =
            serde_json::from_str(&serde_json::to_string(&f).expect("serializes")).expect("reads");
        assert_eq!(again, f);
    }
}
