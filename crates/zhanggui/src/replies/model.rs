//! Automatic replies (自动回复): what a rule is, how its keywords, triggers, schedule and
//! replies are checked, and the route a decision leaves in the message log. Pure: no I/O.
//! The compiled per-account index that decides lives in `index.rs`.

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::platform::error::FieldErrors;
use crate::platform::i18n::Msg;

pub const MAX_NAME_CHARS: usize = 60;
/// A keyword is a word or a short phrase; WeChat's own keyword screen allows 30 characters.
pub const MAX_KEYWORD_CHARS: usize = 30;
/// A regular expression may be longer than a keyword.
pub const MAX_PATTERN_CHARS: usize = 200;
pub const MAX_KEYWORDS_PER_RULE: usize = 50;
pub const MAX_TRIGGERS_PER_RULE: usize = 20;
/// WeChat's own screen allows 5 replies per rule; a sequence longer than that tires a follower.
pub const MAX_REPLIES_PER_RULE: usize = 5;
pub const MAX_REPLY_TEXT_CHARS: usize = crate::accounts::model::MAX_REPLY_CHARS;
pub const MAX_HANDOFF_WORDS: usize = 20;
/// A compiled regex of a rule may not grow past this (a hostile pattern cannot eat memory).
pub const REGEX_SIZE_LIMIT: usize = 256 * 1024;
/// Priorities run from -100 to 100; 0 is the default.
pub const PRIORITY_RANGE: std::ops::RangeInclusive<i64> = -100..=100;

/// How a keyword matches a follower's text (after [`normalize`]).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum MatchMode {
    /// 完全匹配: the whole message is the keyword.
    Exact,
    /// 包含: the keyword appears anywhere in the message.
    Contains,
    /// 正则: a regular expression (case-insensitive) finds a match in the message.
    Regex,
}

impl MatchMode {
    pub const ALL: [MatchMode; 3] = [MatchMode::Exact, MatchMode::Contains, MatchMode::Regex];

    pub fn as_str(self) -> &'static str {
        match self {
            MatchMode::Exact => "exact",
            MatchMode::Contains => "contains",
            MatchMode::Regex => "regex",
        }
    }

    pub fn parse(s: &str) -> Option<MatchMode> {
        MatchMode::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            MatchMode::Exact => "replies.mode.exact",
            MatchMode::Contains => "replies.mode.contains",
            MatchMode::Regex => "replies.mode.regex",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Keyword {
    pub text: String,
    pub mode: MatchMode,
}

/// What else than a follower's words fires a rule.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Trigger {
    /// A menu button's key (CLICK, and the scan / photo / location buttons that carry a key).
    Click(String),
    /// A QR scene: a follow through the code (`qrscene_…`) or a scan by a follower.
    Scene(String),
    /// A kind of message: image, voice, video, location, link.
    Message(MessageKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Image,
    Voice,
    Video,
    Location,
    Link,
}

impl MessageKind {
    pub const ALL: [MessageKind; 5] = [
        MessageKind::Image,
        MessageKind::Voice,
        MessageKind::Video,
        MessageKind::Location,
        MessageKind::Link,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Image => "image",
            MessageKind::Voice => "voice",
            MessageKind::Video => "video",
            MessageKind::Location => "location",
            MessageKind::Link => "link",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        MessageKind::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// When a rule answers, in the merchant's time zone. Empty means always.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Schedule {
    /// Minutes of the day the rule starts and stops answering; `to < from` spans midnight
    /// (22:00–06:00).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<(u16, u16)>,
    /// Days of the week it answers, Monday = 1 … Sunday = 7; empty means every day.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub weekdays: Vec<u8>,
    /// First and last day it answers (both included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub from: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = Date)]
    pub until: Option<NaiveDate>,
}

impl Schedule {
    pub fn is_always(&self) -> bool {
        self == &Schedule::default()
    }

    /// Whether the rule answers at this local time.
    pub fn is_open_at(&self, local: NaiveDateTime) -> bool {
        let day = local.date();
        if self.from.is_some_and(|f| day < f) || self.until.is_some_and(|u| day > u) {
            return false;
        }
        let weekday = local.weekday().number_from_monday() as u8;
        if !self.weekdays.is_empty() && !self.weekdays.contains(&weekday) {
            return false;
        }
        match self.hours {
            None => true,
            Some((from, to)) => {
                let minute = (local.hour() * 60 + local.minute()) as u16;
                if from <= to {
                    (from..to).contains(&minute)
                } else {
                    minute >= from || minute < to
                }
            }
        }
    }
}

/// One reply of a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ReplyItem {
    /// Words typed into the rule itself.
    Text { text: String },
    /// An item of the content library: text, image, voice, video or news.
    Library { item_id: i64 },
    /// Hand the message to a module (member card, wheel, booking …) by its name.
    Module { name: String },
    /// Start a conversational flow (flows/) of the account.
    Flow { flow_id: i64 },
}

/// Reply with every reply in order (the first as the passive reply, the others right after
/// as customer-service messages), or with one of them at random.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplyMode {
    #[default]
    All,
    Random,
}

impl ReplyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplyMode::All => "all",
            ReplyMode::Random => "random",
        }
    }

    pub fn parse(s: &str) -> Option<ReplyMode> {
        [ReplyMode::All, ReplyMode::Random]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// What a rule is for: keyword rules, or the account's welcome or default reply made of any
/// replies (they override the plain texts in the account's settings).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    #[default]
    Keyword,
    Welcome,
    Default,
}

impl RuleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Keyword => "keyword",
            RuleKind::Welcome => "welcome",
            RuleKind::Default => "default",
        }
    }

    pub fn parse(s: &str) -> Option<RuleKind> {
        [RuleKind::Keyword, RuleKind::Welcome, RuleKind::Default]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A rule as the merchant edits it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RuleInput {
    pub name: String,
    #[serde(default)]
    pub kind: RuleKind,
    #[serde(default)]
    pub keywords: Vec<Keyword>,
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub reply_mode: ReplyMode,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub schedule: Schedule,
    pub replies: Vec<ReplyItem>,
}

fn yes() -> bool {
    true
}

/// A rule as the index uses it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: i64,
    pub input: RuleInput,
}

/// The text a keyword is compared with: trimmed, lower case, full-width ASCII (ＶＩＰ, ？)
/// folded to half-width, runs of white space made one space. Followers type the same word
/// many ways; a merchant should not need a keyword for each.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    // Blanks at either end would never be written (a space is written only before what
    // follows it), but trimming them first skips them faster than one char at a time.
    let mut rest = text.trim();
    while !rest.is_empty() {
        // Runs of what stays as it is are copied whole: decoding and encoding each char
        // again cost ~100 instructions a char (BENCHMARKS.md, callback, thirty-second round).
        let run = kept_as_is(rest.as_bytes());
        if run > 0 {
            push_after_space(&mut out, &mut space);
            out.push_str(&rest[..run]);
            rest = &rest[run..];
            continue;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            push_normalized(&mut out, &mut space, c);
        }
        rest = chars.as_str();
    }
    out
}

/// How many bytes at the start of `bytes` `normalize` copies as they are, read off the bytes
/// for what followers mostly type: ASCII other than capitals and blanks, and CJK ideographs
/// and punctuation (U+3001 to U+9FFF: three bytes led by E3 to E9; U+3000 is the one blank
/// among them). Always a whole number of chars; anything else is left to `push_normalized`.
fn kept_as_is(bytes: &[u8]) -> usize {
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'A'..=b'Z' | b'\t'..=b'\r' | b' ' => break,
            0x00..=0x7F => i += 1,
            0xE3..=0xE9 if bytes.get(i..i + 3) != Some("\u{3000}".as_bytes()) => i += 3,
            _ => break,
        }
    }
    i
}

/// Appends `c` as `normalize` reads it: full-width ASCII folded, blanks made one space
/// before what follows them, lower case.
fn push_normalized(out: &mut String, space: &mut bool, c: char) {
    let c = match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    };
    // Caseless chars and ASCII skip Unicode's tables.
    if c.is_ascii() {
        if c.is_ascii_whitespace() || c == '\u{0B}' {
            *space = true;
            return;
        }
        push_after_space(out, space);
        out.push(c.to_ascii_lowercase());
        return;
    }
    let caseless = is_caseless(c);
    if !caseless && c.is_whitespace() {
        *space = true;
        return;
    }
    push_after_space(out, space);
    if caseless {
        out.push(c);
    } else {
        out.extend(c.to_lowercase());
    }
}

/// One space for the blanks before a char, unless they started the text.
fn push_after_space(out: &mut String, space: &mut bool) {
    if *space && !out.is_empty() {
        out.push(' ');
    }
    *space = false;
}

/// Kana, CJK punctuation and ideographs, and Hangul have no case: most of what followers
/// type skips the binary search of Unicode's case table that `to_lowercase` does per char.
fn is_caseless(c: char) -> bool {
    matches!(c, '\u{3001}'..='\u{9FFF}' | '\u{AC00}'..='\u{D7A3}' | '\u{F900}'..='\u{FAFF}')
}

/// Checks a rule; the errors name fields as the form does (`keywords.2`, `replies.0` …).
pub fn validate(input: &RuleInput, known_modules: &[&str]) -> Result<RuleInput, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut rule = input.clone();
    rule.name = input.name.trim().to_string();
    if rule.name.is_empty() {
        errors.add("name", Msg::new("replies.name_required"));
    } else if rule.name.chars().count() > MAX_NAME_CHARS {
        errors.add(
            "name",
            Msg::new("replies.name_too_long").arg("max", MAX_NAME_CHARS),
        );
    }
    rule.keywords = check_keywords(&input.keywords, &mut errors);
    rule.triggers = check_triggers(&input.triggers, &mut errors);
    if rule.kind == RuleKind::Keyword && rule.keywords.is_empty() && rule.triggers.is_empty() {
        errors.add("keywords", Msg::new("replies.keyword_required"));
    }
    if rule.kind != RuleKind::Keyword {
        // The welcome and the default answer their own moments, not words.
        rule.keywords.clear();
        rule.triggers.clear();
    }
    if !PRIORITY_RANGE.contains(&input.priority) {
        errors.add(
            "priority",
            Msg::new("replies.priority_range")
                .arg("min", PRIORITY_RANGE.start())
                .arg("max", PRIORITY_RANGE.end()),
        );
    }
    check_schedule(&input.schedule, &mut errors);
    rule.replies = check_replies(&input.replies, known_modules, &mut errors);
    if errors.is_empty() {
        Ok(rule)
    } else {
        Err(errors)
    }
}

fn check_keywords(keywords: &[Keyword], errors: &mut FieldErrors) -> Vec<Keyword> {
    if keywords.len() > MAX_KEYWORDS_PER_RULE {
        errors.add(
            "keywords",
            Msg::new("replies.too_many_keywords").arg("max", MAX_KEYWORDS_PER_RULE),
        );
    }
    let mut out: Vec<Keyword> = vec![];
    for (i, k) in keywords.iter().enumerate() {
        let field = format!("keywords.{i}");
        let text = match k.mode {
            MatchMode::Regex => k.text.trim().to_string(),
            _ => normalize(&k.text),
        };
        if text.is_empty() {
            continue;
        }
        let max = match k.mode {
            MatchMode::Regex => MAX_PATTERN_CHARS,
            _ => MAX_KEYWORD_CHARS,
        };
        if text.chars().count() > max {
            errors.add(&field, Msg::new("replies.keyword_too_long").arg("max", max));
            continue;
        }
        if k.mode == MatchMode::Regex
            && let Err(e) = compile_regex(&text)
        {
            errors.add(&field, Msg::new("replies.bad_regex").arg("reason", e));
            continue;
        }
        let keyword = Keyword { text, mode: k.mode };
        if !out.contains(&keyword) {
            out.push(keyword);
        }
    }
    out
}

/// A merchant's pattern as the index compiles it. Patterns match the normalized text (see
/// [`normalize`]: full-width digits are already ASCII there), so `\d` is written `[0-9]`:
/// Unicode's digit class is hundreds of ranges, and 500 patterns with it took 20 MB of
/// automaton where ASCII digits take under 6 (BENCHMARKS.md, "Reply rules").
pub fn prepared_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') if in_class => out.push_str("0-9"),
                Some('d') => out.push_str("[0-9]"),
                Some('D') if !in_class => out.push_str("[^0-9]"),
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` right after `[` or `[^` is a literal, not the end of the class.
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push(']');
                    chars.next();
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// A follower's pattern, compiled as the index compiles it: on the normalized text,
/// case-insensitive, ASCII digits, bounded size.
pub fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(&prepared_pattern(pattern))
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| first_line(&e.to_string()))
}

fn first_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| s.lines().next().unwrap_or_default())
        .trim()
        .to_string()
}

fn check_triggers(triggers: &[Trigger], errors: &mut FieldErrors) -> Vec<Trigger> {
    if triggers.len() > MAX_TRIGGERS_PER_RULE {
        errors.add(
            "triggers",
            Msg::new("replies.too_many_triggers").arg("max", MAX_TRIGGERS_PER_RULE),
        );
    }
    let mut out: Vec<Trigger> = vec![];
    for (i, t) in triggers.iter().enumerate() {
        let t = match t {
            Trigger::Click(k) => Trigger::Click(k.trim().to_string()),
            Trigger::Scene(s) => Trigger::Scene(s.trim().to_string()),
            Trigger::Message(m) => Trigger::Message(*m),
        };
        let value_len = match &t {
            Trigger::Click(k) => Some(k.len()),
            Trigger::Scene(s) => Some(s.chars().count()),
            Trigger::Message(_) => None,
        };
        match value_len {
            Some(0) => continue,
            // WeChat's limits: a button key is ≤ 128 bytes, a scene string ≤ 64 characters.
            Some(n) if n > 128 => {
                errors.add(
                    &format!("triggers.{i}"),
                    Msg::new("replies.trigger_too_long"),
                );
                continue;
            }
            _ => {}
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    out
}

fn check_schedule(s: &Schedule, errors: &mut FieldErrors) {
    if let Some((from, to)) = s.hours
        && (from >= 24 * 60 || to > 24 * 60 || from == to)
    {
        errors.add("schedule.hours", Msg::new("replies.bad_hours"));
    }
    if s.weekdays.iter().any(|d| !(1..=7).contains(d)) {
        errors.add("schedule.weekdays", Msg::new("replies.bad_weekday"));
    }
    if let (Some(from), Some(until)) = (s.from, s.until)
        && until < from
    {
        errors.add("schedule.until", Msg::new("replies.bad_dates"));
    }
}

fn check_replies(
    replies: &[ReplyItem],
    known_modules: &[&str],
    errors: &mut FieldErrors,
) -> Vec<ReplyItem> {
    let mut out = vec![];
    for (i, r) in replies.iter().enumerate() {
        let field = format!("replies.{i}");
        match r {
            ReplyItem::Text { text } => {
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                if text.chars().count() > MAX_REPLY_TEXT_CHARS {
                    errors.add(
                        &field,
                        Msg::new("replies.text_too_long").arg("max", MAX_REPLY_TEXT_CHARS),
                    );
                }
                out.push(ReplyItem::Text {
                    text: text.to_string(),
                });
            }
            ReplyItem::Library { item_id } => out.push(ReplyItem::Library { item_id: *item_id }),
            ReplyItem::Module { name } => {
                if !known_modules.contains(&name.as_str()) {
                    errors.add(&field, Msg::new("replies.unknown_module").arg("name", name));
                }
                out.push(r.clone());
            }
            ReplyItem::Flow { .. } => out.push(r.clone()),
        }
    }
    let modules = out
        .iter()
        .filter(|r| matches!(r, ReplyItem::Module { .. } | ReplyItem::Flow { .. }))
        .count();
    if out.is_empty() {
        errors.add("replies", Msg::new("replies.reply_required"));
    } else if modules > 0 && out.len() > 1 {
        // A module answers by itself (perhaps late, by customer-service message); other
        // replies around it would arrive in an order nobody chose.
        errors.add("replies", Msg::new("replies.module_alone"));
    } else if out.len() > MAX_REPLIES_PER_RULE {
        errors.add(
            "replies",
            Msg::new("replies.too_many_replies").arg("max", MAX_REPLIES_PER_RULE),
        );
    }
    out
}

/// The account's reply settings besides rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    /// Answer unmatched text with the default reply at most once an hour per follower, so
    /// a follower chatting away is not answered "we got your message" every time.
    pub courtesy_hourly: bool,
    /// Words that ask for a person (人工, 客服 …): exact matches hand the follower over.
    pub handoff_words: Vec<String>,
    /// What a follower asking for a person is told.
    pub handoff_reply: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            courtesy_hourly: false,
            handoff_words: vec!["人工".into(), "客服".into(), "人工客服".into()],
            handoff_reply: "已为您转接人工客服，请稍候，客服会尽快回复您。".into(),
        }
    }
}

pub fn validate_settings(input: &Settings) -> Result<Settings, FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut words: Vec<String> = vec![];
    for w in &input.handoff_words {
        let w = normalize(w);
        if w.is_empty() || words.contains(&w) {
            continue;
        }
        if w.chars().count() > MAX_KEYWORD_CHARS {
            errors.add(
                "handoff_words",
                Msg::new("replies.keyword_too_long").arg("max", MAX_KEYWORD_CHARS),
            );
        }
        words.push(w);
    }
    if words.len() > MAX_HANDOFF_WORDS {
        errors.add(
            "handoff_words",
            Msg::new("replies.too_many_keywords").arg("max", MAX_HANDOFF_WORDS),
        );
    }
    let reply = input.handoff_reply.trim().to_string();
    if reply.chars().count() > MAX_REPLY_TEXT_CHARS {
        errors.add(
            "handoff_reply",
            Msg::new("replies.text_too_long").arg("max", MAX_REPLY_TEXT_CHARS),
        );
    }
    let settings = Settings {
        courtesy_hourly: input.courtesy_hourly,
        handoff_words: words,
        handoff_reply: reply,
    };
    if errors.is_empty() {
        Ok(settings)
    } else {
        Err(errors)
    }
}

/// What a decision leaves in the message log's `route` column, read back by the replies
/// projector (jobs.rs) for hit counts, unmatched messages, hand-offs and follow-up replies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// A rule answered; `more` replies follow as customer-service messages; `keyword` is the
    /// keyword that matched ('' for a trigger, the welcome or the default rule).
    Rule {
        rule_id: i64,
        more: usize,
        keyword: String,
    },
    /// Text no rule matched; the default rule, if one answered, and how many of its replies
    /// follow.
    Unmatched { default: Option<(i64, usize)> },
    /// The follower asked for a person.
    Handoff,
}

impl Route {
    /// Whether an encoded route is a text no rule matched (with or without a default rule):
    /// the rows whose text the replies projection counts.
    pub fn is_unmatched(encoded: &str) -> bool {
        encoded.starts_with("unmatched")
    }

    /// The `route` column's text. Written by hand: `format!` cost ~0.1 µs a callback
    /// (BENCHMARKS.md, callback, twenty-eighth round).
    pub fn encode(&self) -> String {
        match self {
            Route::Rule {
                rule_id,
                more,
                keyword,
            } => Route::encode_rule(*rule_id, *more, keyword),
            Route::Unmatched { default: None } => "unmatched".into(),
            Route::Unmatched {
                default: Some((rule_id, more)),
            } => {
                let mut out = String::with_capacity(32);
                out.push_str("unmatched:");
                push_numbers(&mut out, *rule_id, *more);
                out
            }
            Route::Handoff => "handoff".into(),
        }
    }

    /// [`Route::Rule`]'s text, without building the route first.
    pub fn encode_rule(rule_id: i64, more: usize, keyword: &str) -> String {
        let mut out = String::with_capacity(32 + keyword.len());
        out.push_str("rule:");
        push_numbers(&mut out, rule_id, more);
        out.push(':');
        out.push_str(keyword);
        out
    }

    /// The route a text holds, owned. The projections read routes as [`RouteView`]s; this
    /// is for checking that a text reads back as the route written.
    #[cfg(test)]
    pub fn decode(s: &str) -> Option<Route> {
        Some(match RouteView::of(s)? {
            RouteView::Rule {
                rule_id,
                more,
                keyword,
            } => Route::Rule {
                rule_id,
                more,
                keyword: keyword.to_string(),
            },
            RouteView::Unmatched { default } => Route::Unmatched { default },
            RouteView::Handoff => Route::Handoff,
        })
    }
}

/// "{rule_id}:{more}".
fn push_numbers(out: &mut String, rule_id: i64, more: usize) {
    out.push_str(itoa::Buffer::new().format(rule_id));
    out.push(':');
    out.push_str(itoa::Buffer::new().format(more));
}

/// A [`Route`] read from its text, the keyword borrowed from it: the projections read one
/// for every logged row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteView<'a> {
    Rule {
        rule_id: i64,
        more: usize,
        keyword: &'a str,
    },
    Unmatched {
        default: Option<(i64, usize)>,
    },
    Handoff,
}

impl<'a> RouteView<'a> {
    pub fn of(s: &'a str) -> Option<RouteView<'a>> {
        match s {
            "unmatched" => return Some(RouteView::Unmatched { default: None }),
            "handoff" => return Some(RouteView::Handoff),
            _ => {}
        }
        if let Some(rest) = s.strip_prefix("unmatched:") {
            let (rule_id, rest) = number_before_colon(rest)?;
            return Some(RouteView::Unmatched {
                default: Some((rule_id, rest.parse().ok()?)),
            });
        }
        let (rule_id, rest) = number_before_colon(s.strip_prefix("rule:")?)?;
        let (more, keyword) = number_before_colon(rest)?;
        Some(RouteView::Rule {
            rule_id,
            more,
            keyword,
        })
    }
}

/// The number before the first ':' of `s`, and what follows that ':'.
fn number_before_colon<N: std::str::FromStr>(s: &str) -> Option<(N, &str)> {
    let colon = s.bytes().position(|b| b == b':')?;
    Some((s[..colon].parse().ok()?, &s[colon + 1..]))
}

/// The longest unmatched text kept.
pub const MAX_UNMATCHED_CHARS: usize = 200;

/// The words of a text (or recognized voice) message as the unmatched texts count them:
/// trimmed and cut to `MAX_UNMATCHED_CHARS`; `None` for other messages and empty words.
pub fn unmatched_text(msg: &wechat::Message<'_>) -> Option<String> {
    let text = match &msg.body {
        wechat::MessageBody::Text(t) => t.content.trim(),
        wechat::MessageBody::Voice(v) => v.recognition.as_deref()?.trim(),
        _ => return None,
    };
    if text.is_empty() {
        return None;
    }
    // Runs on the callback's path: most texts are shorter in bytes than the limit in chars.
    Some(if text.len() <= MAX_UNMATCHED_CHARS {
        text.to_string()
    } else {
        text.chars().take(MAX_UNMATCHED_CHARS).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    /// What `normalize` did before its ASCII path and without its trim: every keyword
    /// stored was compared in this form.
    fn normalize_as_before(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut space = false;
        for c in text.trim().chars() {
            let c = match c {
                '\u{3000}' => ' ',
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                _ => c,
            };
            if c.is_whitespace() {
                space = true;
                continue;
            }
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn normalizing_reads_every_text_as_before(
            text in "[ -~\t\n\u{0B}\u{0C}\r\u{85}\u{A0}\u{1680}\u{2000}-\u{200B}\u{2028}\u{3000}\u{FF01}-\u{FF5E}ÀÉİıΣσßẞ你好，？\u{2FFF}\u{3001}-\u{3003}\u{4E00}-\u{4E08}\u{9FFF}\u{A000}\u{AC00}]{0,24}",
            cjk in "[a-z0-9 \u{3000}-\u{3003}\u{4E00}-\u{4E08}\u{9FFF}]{0,12}",
            any in ".{0,8}",
        ) {
            proptest::prop_assert_eq!(normalize(&text), normalize_as_before(&text));
            proptest::prop_assert_eq!(normalize(&any), normalize_as_before(&any));
            proptest::prop_assert_eq!(normalize(&cjk), normalize_as_before(&cjk));
        }
    }

    #[test]
    fn normalizing_folds_case_width_and_spaces() {
        assert_eq!(normalize("  ＶＩＰ　会员  "), "vip 会员");
        assert_eq!(normalize("Hello\n\tWorld"), "hello world");
        assert_eq!(normalize("价格？"), "价格?");
        assert_eq!(normalize(""), "");
    }

    #[test]
    fn the_caseless_ranges_have_no_case_and_no_white_space() {
        let caseless: Vec<char> = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .filter(|&c| is_caseless(c))
            .collect();
        assert!(caseless.len() > 40_000, "the ranges hold the ideographs");
        for c in caseless {
            assert!(
                c.to_lowercase().eq([c]) && !c.is_whitespace(),
                "U+{:04X} changes when normalized",
                u32::from(c)
            );
        }
    }

    #[test]
    fn schedules_open_by_hours_days_and_dates() {
        let s = Schedule {
            hours: Some((22 * 60, 6 * 60)),
            ..Schedule::default()
        };
        assert!(s.is_open_at(at("2026-12-01 23:30")));
        assert!(s.is_open_at(at("2026-12-01 05:59")));
        assert!(!s.is_open_at(at("2026-12-01 06:00")));
        assert!(!s.is_open_at(at("2026-12-01 12:00")));
        let weekend = Schedule {
            weekdays: vec![6, 7],
            ..Schedule::default()
        };
        // 2026-12-05 is a Saturday.
        assert!(weekend.is_open_at(at("2026-12-05 10:00")));
        assert!(!weekend.is_open_at(at("2026-12-04 10:00")));
        let december = Schedule {
            from: NaiveDate::from_ymd_opt(2026, 12, 1),
            until: NaiveDate::from_ymd_opt(2026, 12, 31),
            ..Schedule::default()
        };
        assert!(december.is_open_at(at("2026-12-31 23:59")));
        assert!(!december.is_open_at(at("2027-01-01 00:00")));
        assert!(Schedule::default().is_open_at(at("2000-01-01 00:00")));
    }

    fn rule(keywords: Vec<Keyword>, replies: Vec<ReplyItem>) -> RuleInput {
        RuleInput {
            name: "价格".into(),
            keywords,
            replies,
            enabled: true,
            ..RuleInput::default()
        }
    }

    fn text(t: &str) -> ReplyItem {
        ReplyItem::Text { text: t.into() }
    }

    #[test]
    fn rules_need_a_keyword_and_a_reply() {
        let e = validate(&rule(vec![], vec![]), &[]).expect_err("empty");
        assert!(e.has("keywords") && e.has("replies"));
        let ok = validate(
            &rule(
                vec![
                    Keyword {
                        text: " 价格 ".into(),
                        mode: MatchMode::Exact,
                    },
                    Keyword {
                        text: "价格".into(),
                        mode: MatchMode::Exact,
                    },
                    Keyword {
                        text: "".into(),
                        mode: MatchMode::Contains,
                    },
                ],
                vec![text(" 一百元 ")],
            ),
            &[],
        )
        .expect("valid");
        assert_eq!(ok.keywords.len(), 1, "duplicates and blanks are dropped");
        assert_eq!(ok.replies, vec![text("一百元")]);
    }

    #[test]
    fn bad_regexes_and_unknown_modules_are_refused_per_row() {
        let e = validate(
            &rule(
                vec![
                    Keyword {
                        text: "ok".into(),
                        mode: MatchMode::Exact,
                    },
                    Keyword {
                        text: "(unclosed".into(),
                        mode: MatchMode::Regex,
                    },
                ],
                vec![
                    text("x"),
                    ReplyItem::Module {
                        name: "nope".into(),
                    },
                ],
            ),
            &["wheel"],
        )
        .expect_err("refused");
        assert!(e.has("keywords.1"));
        assert!(e.has("replies.1"));
        assert!(!e.has("keywords.0"));
    }

    #[test]
    fn digits_in_patterns_are_ascii_digits_of_the_normalized_text() {
        assert_eq!(prepared_pattern(r"^订单\d{4,}$"), "^订单[0-9]{4,}$");
        assert_eq!(prepared_pattern(r"[\dA-F]+\D"), "[0-9A-F]+[^0-9]");
        assert_eq!(prepared_pattern(r"\\d\.\w"), r"\\d\.\w", "escapes stay");
        assert_eq!(prepared_pattern(r"[]\d]"), "[]0-9]");
        let re = compile_regex(r"^订单\d+$").expect("compiles");
        assert!(
            re.is_match(&normalize("订单１２３")),
            "full-width digits are folded first"
        );
    }

    #[test]
    fn a_hostile_regex_is_bounded() {
        assert!(compile_regex("(a{1000}){1000}").is_err());
    }

    #[test]
    fn routes_round_trip_even_with_colons_in_keywords() {
        for r in [
            Route::Rule {
                rule_id: 7,
                more: 2,
                keyword: "a:b".into(),
            },
            Route::Rule {
                rule_id: 1,
                more: 0,
                keyword: String::new(),
            },
            Route::Unmatched { default: None },
            Route::Unmatched {
                default: Some((3, 1)),
            },
            Route::Handoff,
        ] {
            assert_eq!(Route::decode(&r.encode()), Some(r));
        }
        assert_eq!(Route::decode(""), None);
        assert_eq!(Route::decode("rule:x"), None);
        for broken in [
            "rule:7",
            "rule:7:2",
            "rule::2:k",
            "rule:7:x:k",
            "rule:7:-1:k",
            "unmatched:3",
            "unmatched:3:",
            "unmatched:x:1",
            "unmatched:3:1:k",
            "Rule:7:2:k",
            "handoff:",
        ] {
            assert_eq!(Route::decode(broken), None, "{broken}");
        }
        assert_eq!(
            RouteView::of("rule:12:0:营业:时间"),
            Some(RouteView::Rule {
                rule_id: 12,
                more: 0,
                keyword: "营业:时间",
            })
        );
        assert_eq!(Route::encode_rule(12, 3, "k"), "rule:12:3:k");
        assert_eq!(
            Route::Unmatched {
                default: Some((-4, 0))
            }
            .encode(),
            "unmatched:-4:0"
        );
    }
}
