//! The per-account index that decides which rule answers a message: compiled once from the
//! account's rules (a hash for exact keywords, one Aho–Corasick automaton for the contains
//! keywords, one RegexSet for the patterns, hashes for menu keys, QR scenes and message
//! kinds) and shared read-only behind an `Arc`, so a change swaps a whole new index in and
//! a message being answered never sees half of one. Pure: no I/O.
//!
//! The documented order when several rules match a text: higher priority first; then the
//! way the keyword matched, exact before contains before regex; then the newest rule. A rule
//! outside its schedule is passed over. Hand-off words come before every rule.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use aho_corasick::AhoCorasick;
use chrono::NaiveDateTime;
use chrono_tz::Tz;
use regex::RegexSet;
use wechat::message::Event;
use wechat::{Message, MessageBody, PreparedReply, ReplyBody};

use crate::platform::clock::Zone;

use super::model::{
    Keyword, MatchMode, MessageKind, ReplyMode, RuleKind, Schedule, Settings, Trigger, normalize,
};

/// One reply of a compiled rule, ready to send.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// A reply message, written once for every follower it answers.
    Reply(PreparedReply),
    /// A module answers (messages/modules.rs), by its name.
    Module(String),
    /// A conversational flow starts (flows/), by its id.
    Flow(i64),
}

/// A rule as the index keeps it.
#[derive(Clone, Debug)]
pub struct CompiledRule {
    pub id: i64,
    pub name: String,
    pub kind: RuleKind,
    pub priority: i64,
    pub reply_mode: ReplyMode,
    pub schedule: Schedule,
    pub keywords: Vec<Keyword>,
    pub triggers: Vec<Trigger>,
    pub answers: Vec<Answer>,
}

impl Answer {
    pub fn reply(body: ReplyBody<'static>) -> Answer {
        Answer::Reply(PreparedReply::new(body))
    }
}

impl CompiledRule {
    fn is_open_at(&self, local: NaiveDateTime) -> bool {
        self.schedule.is_open_at(local)
    }
}

/// (rule position, keyword position) of one keyword.
type Hit = (usize, usize);

/// The sort key of the documented order: priority (high first), how the keyword matched
/// (exact, contains, regex), the rule's id (newest first).
type Order = (Reverse<i64>, u8, Reverse<i64>);

/// What the account answers besides rules (its settings' plain texts, the channels' welcomes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlainReplies {
    pub welcome_text: String,
    pub default_reply_text: String,
    /// The welcomes of the account's channel QR codes, by scene (channels/).
    pub channel_welcomes: HashMap<String, String>,
}

#[derive(Default)]
pub struct Index {
    /// The account's zone, for schedules; UTC when none (an index compiled from nothing).
    zone: Option<Zone>,
    rules: Vec<CompiledRule>,
    /// Hashed with foldhash rather than SipHash: the keys are the merchant's keywords, so a
    /// follower's text can only look a key up, not add colliding ones.
    exact: HashMap<String, Vec<Hit>, foldhash::fast::RandomState>,
    contains: Option<AhoCorasick>,
    contains_hits: Vec<Vec<Hit>>,
    regexes: Option<RegexSet>,
    regex_hits: Vec<Hit>,
    /// The highest priority of a rule with a contains keyword, and with a pattern: an open
    /// exact match at least this high needs neither automaton (see `best_keyword`).
    top_contains: Option<i64>,
    top_regex: Option<i64>,
    clicks: HashMap<String, Vec<usize>>,
    scenes: HashMap<String, Vec<usize>>,
    kinds: HashMap<MessageKind, Vec<usize>>,
    welcome: Option<usize>,
    default: Option<usize>,
    handoff_words: HashSet<String, foldhash::fast::RandomState>,
    pub settings: Settings,
    /// The account's enabled conversational flows.
    pub flows: HashMap<i64, Arc<crate::flows::Flow>>,
    /// What the published menus' click buttons answer, by key (menus/): after the rules
    /// that name the key.
    pub menu_clicks: HashMap<String, Answer>,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

/// Why a rule answers, or would have.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub rule_id: i64,
    pub name: String,
    pub priority: i64,
    /// How it matched; `None` for a trigger (menu key, scene, kind of message).
    pub mode: Option<MatchMode>,
    /// The keyword or trigger value that matched.
    pub keyword: String,
    /// Whether its schedule lets it answer now.
    pub open: bool,
}

/// What answers a message.
#[derive(Clone, Debug)]
pub enum Choice<'i> {
    /// A rule: its answers (or one of them, at random) are the reply.
    Rule {
        rule: &'i CompiledRule,
        keyword: &'i str,
    },
    /// The follower asked for a person.
    Handoff,
    /// A plain text from the account's settings or a channel.
    Plain(&'i str),
    /// A menu button's own reply (a library item chosen in the menu editor).
    Menu(&'i Answer),
    /// The default reply to text that no rule matched: a rule or a plain text. Subject to the
    /// once-an-hour courtesy when the settings ask for it.
    Unmatched(Option<&'i CompiledRule>, &'i str),
    Nothing,
}

impl Index {
    /// Compiles the enabled rules of an account. Rules are given newest last or in any order;
    /// patterns that do not compile are left out (they were checked when saved).
    pub fn compile(rules: Vec<CompiledRule>, settings: Settings, tz: Tz) -> Index {
        let mut index = Index {
            zone: Some(Zone::new(tz)),
            settings,
            ..Index::default()
        };
        index.handoff_words = index.settings.handoff_words.iter().cloned().collect();
        let mut contains_patterns: Vec<String> = vec![];
        let mut contains_at: HashMap<String, usize> = HashMap::new();
        let mut regex_patterns: Vec<String> = vec![];
        for (r, rule) in rules.iter().enumerate() {
            match rule.kind {
                RuleKind::Welcome => keep_newest(&mut index.welcome, r, &rules),
                RuleKind::Default => keep_newest(&mut index.default, r, &rules),
                RuleKind::Keyword => {}
            }
            for (k, kw) in rule.keywords.iter().enumerate() {
                match kw.mode {
                    MatchMode::Exact => {
                        index.exact.entry(kw.text.clone()).or_default().push((r, k))
                    }
                    MatchMode::Contains => {
                        raise(&mut index.top_contains, rule.priority);
                        let at = *contains_at.entry(kw.text.clone()).or_insert_with(|| {
                            contains_patterns.push(kw.text.clone());
                            index.contains_hits.push(vec![]);
                            contains_patterns.len() - 1
                        });
                        index.contains_hits[at].push((r, k));
                    }
                    MatchMode::Regex => {
                        if super::model::compile_regex(&kw.text).is_ok() {
                            raise(&mut index.top_regex, rule.priority);
                            let pattern = super::model::prepared_pattern(&kw.text);
                            regex_patterns.push(format!("(?i:{pattern})"));
                            index.regex_hits.push((r, k));
                        }
                    }
                }
            }
        }
        for (r, rule) in rules.iter().enumerate() {
            index.add_triggers(r, &rule.triggers);
        }
        if !contains_patterns.is_empty() {
            index.contains = AhoCorasick::new(&contains_patterns).ok();
        }
        if !regex_patterns.is_empty() {
            index.regexes = regex::RegexSetBuilder::new(&regex_patterns)
                .size_limit(super::model::REGEX_SIZE_LIMIT * regex_patterns.len().max(1))
                .build()
                .ok();
        }
        index.rules = rules;
        index
    }

    /// Adds the triggers of the rule at `position` (menu keys, scenes, kinds of message).
    fn add_triggers(&mut self, position: usize, triggers: &[Trigger]) {
        for t in triggers {
            match t {
                Trigger::Click(k) => self.clicks.entry(k.clone()).or_default().push(position),
                Trigger::Scene(s) => self.scenes.entry(s.clone()).or_default().push(position),
                Trigger::Message(m) => self.kinds.entry(*m).or_default().push(position),
            }
        }
    }

    /// Whether a follower of this account may be in a flow (only then is their position read).
    pub fn has_flows(&self) -> bool {
        !self.flows.is_empty()
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    pub fn rule(&self, id: i64) -> Option<&CompiledRule> {
        self.rules.iter().find(|r| r.id == id)
    }

    fn local(&self, now_ms: i64) -> NaiveDateTime {
        match &self.zone {
            Some(zone) => zone.local(now_ms),
            None => chrono::DateTime::from_timestamp_millis(now_ms)
                .unwrap_or_default()
                .naive_utc(),
        }
    }

    /// Every keyword of every rule that matches `text`, best first by the documented order,
    /// each marked open or closed by its rule's schedule at `now_ms`.
    pub fn explain(&self, text: &str, now_ms: i64) -> Vec<Candidate> {
        let local = self.local(now_ms);
        let mut hits = self.keyword_hits(&normalize(text));
        hits.sort_by_key(|&(r, k)| self.order_of(r, Some(self.rules[r].keywords[k].mode)));
        let mut seen = HashSet::new();
        hits.into_iter()
            .filter(|&(r, _)| seen.insert(r))
            .map(|(r, k)| {
                let rule = &self.rules[r];
                let kw = &rule.keywords[k];
                Candidate {
                    rule_id: rule.id,
                    name: rule.name.clone(),
                    priority: rule.priority,
                    mode: Some(kw.mode),
                    keyword: kw.text.clone(),
                    open: rule.is_open_at(local),
                }
            })
            .collect()
    }

    /// Whether `text` is one of the hand-off words.
    pub fn is_handoff(&self, text: &str) -> bool {
        !self.handoff_words.is_empty() && self.is_handoff_word(&normalize(text))
    }

    fn is_handoff_word(&self, normalized: &str) -> bool {
        self.handoff_words.contains(normalized)
    }

    /// What answers `msg` at `now_ms`; `plain` holds the account's plain texts.
    pub fn decide<'i>(
        &'i self,
        msg: &Message<'_>,
        plain: &'i PlainReplies,
        now_ms: i64,
    ) -> Choice<'i> {
        match &msg.body {
            MessageBody::Text(t) => self.decide_text(&t.content, plain, now_ms),
            MessageBody::Voice(v) => {
                // A voice message WeChat recognized is words like any other.
                let spoken = normalize(v.recognition.as_deref().unwrap_or_default());
                match self.best_keyword(&spoken, now_ms) {
                    Some(choice) => choice,
                    _ => self.by_kind(MessageKind::Voice, now_ms),
                }
            }
            MessageBody::Image(_) => self.by_kind(MessageKind::Image, now_ms),
            MessageBody::Video(_) | MessageBody::ShortVideo(_) => {
                self.by_kind(MessageKind::Video, now_ms)
            }
            MessageBody::Location(_) => self.by_kind(MessageKind::Location, now_ms),
            MessageBody::Link(_) => self.by_kind(MessageKind::Link, now_ms),
            MessageBody::Event(e) => self.decide_event(e, plain, now_ms),
            _ => Choice::Nothing,
        }
    }

    /// What answers a text (the console's "test a message" box asks this too).
    pub fn decide_text<'i>(
        &'i self,
        text: &str,
        plain: &'i PlainReplies,
        now_ms: i64,
    ) -> Choice<'i> {
        let normalized = normalize(text);
        if self.is_handoff_word(&normalized) {
            return Choice::Handoff;
        }
        if let Some(choice) = self.best_keyword(&normalized, now_ms) {
            return choice;
        }
        let local = self.local(now_ms);
        match self.default.map(|d| &self.rules[d]) {
            Some(rule) if rule.is_open_at(local) => Choice::Unmatched(Some(rule), ""),
            _ => Choice::Unmatched(None, &plain.default_reply_text),
        }
    }

    /// The documented order decides among every keyword that matches. The stages go from
    /// cheap to dear and stop as soon as no later stage could win: a match of the same
    /// priority outranks contains and patterns, so an open exact match at least as high as
    /// every contains (and pattern) rule ends the search before the automata run. With
    /// 10,000 keywords those walk megabytes of tables a callback has to bring into cache.
    /// `normalized` is the text as [`normalize`] leaves it.
    fn best_keyword<'i>(&'i self, normalized: &str, now_ms: i64) -> Option<Choice<'i>> {
        if normalized.is_empty() {
            return None;
        }
        let local = self.local(now_ms);
        let mut best = self.best_of(self.exact_hits(normalized), None, local);
        if !self.beats(best, self.top_contains.max(self.top_regex)) {
            best = self.best_of(self.contains_matches(normalized), best, local);
            if !self.beats(best, self.top_regex) {
                best = self.best_of(self.regex_matches(normalized), best, local);
            }
        }
        best.map(|(r, k)| Choice::Rule {
            rule: &self.rules[r],
            keyword: &self.rules[r].keywords[k].text,
        })
    }

    /// The better of `best` and the open ones of `hits`, in the documented order.
    fn best_of(
        &self,
        hits: impl IntoIterator<Item = Hit>,
        best: Option<Hit>,
        local: NaiveDateTime,
    ) -> Option<Hit> {
        hits.into_iter()
            .filter(|&(r, _)| self.rules[r].is_open_at(local))
            .chain(best)
            .min_by_key(|&(r, k)| self.order_of(r, Some(self.rules[r].keywords[k].mode)))
    }

    /// Whether `best` outranks every rule of a later stage, whose top priority is `top`
    /// (later stages lose ties: exact before contains before patterns).
    fn beats(&self, best: Option<Hit>, top: Option<i64>) -> bool {
        match (best, top) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some((r, _)), Some(top)) => self.rules[r].priority >= top,
        }
    }

    fn decide_event<'i>(
        &'i self,
        e: &Event<'_>,
        plain: &'i PlainReplies,
        now_ms: i64,
    ) -> Choice<'i> {
        let scene_rule = || {
            e.qr_scene()
                .and_then(|s| self.best_trigger(&self.scenes, s, now_ms))
        };
        let channel = || {
            e.qr_scene()
                .and_then(|s| plain.channel_welcomes.get(s))
                .filter(|t| !t.is_empty())
                .map(|t| Choice::Plain(t))
        };
        match e {
            Event::Subscribe { .. } => scene_rule()
                .or_else(channel)
                .or_else(|| self.welcome_rule(now_ms))
                .unwrap_or(if plain.welcome_text.is_empty() {
                    Choice::Nothing
                } else {
                    Choice::Plain(&plain.welcome_text)
                }),
            Event::Scan { .. } => scene_rule().or_else(channel).unwrap_or(Choice::Nothing),
            Event::Unsubscribe | Event::View { .. } | Event::Location { .. } => Choice::Nothing,
            _ => e
                .event_key()
                .and_then(|key| {
                    self.best_trigger(&self.clicks, key, now_ms)
                        .or_else(|| self.menu_clicks.get(key).map(Choice::Menu))
                })
                .unwrap_or(Choice::Nothing),
        }
    }

    fn welcome_rule(&self, now_ms: i64) -> Option<Choice<'_>> {
        let rule = &self.rules[self.welcome?];
        rule.is_open_at(self.local(now_ms))
            .then_some(Choice::Rule { rule, keyword: "" })
    }

    fn by_kind(&self, kind: MessageKind, now_ms: i64) -> Choice<'_> {
        let local = self.local(now_ms);
        self.kinds
            .get(&kind)
            .and_then(|rules| self.best_open(rules, local))
            .map(|rule| Choice::Rule { rule, keyword: "" })
            .unwrap_or(Choice::Nothing)
    }

    fn best_trigger<'i>(
        &'i self,
        map: &'i HashMap<String, Vec<usize>>,
        value: &str,
        now_ms: i64,
    ) -> Option<Choice<'i>> {
        let rules = map.get(value)?;
        let rule = self.best_open(rules, self.local(now_ms))?;
        Some(Choice::Rule { rule, keyword: "" })
    }

    fn best_open(&self, positions: &[usize], local: NaiveDateTime) -> Option<&CompiledRule> {
        positions
            .iter()
            .copied()
            .filter(|&r| self.rules[r].is_open_at(local))
            .min_by_key(|&r| self.order_of(r, None))
            .map(|r| &self.rules[r])
    }

    /// The sort key of the documented order: priority, then how it matched, then newest.
    fn order_of(&self, r: usize, mode: Option<MatchMode>) -> Order {
        let rule = &self.rules[r];
        let rank = match mode {
            Some(MatchMode::Exact) | None => 0,
            Some(MatchMode::Contains) => 1,
            Some(MatchMode::Regex) => 2,
        };
        (Reverse(rule.priority), rank, Reverse(rule.id))
    }

    /// (rule, keyword) of every keyword that matches the normalized text (the console's
    /// explanation lists them all).
    fn keyword_hits(&self, normalized: &str) -> Vec<Hit> {
        if normalized.is_empty() {
            return vec![];
        }
        self.exact_hits(normalized)
            .chain(self.contains_matches(normalized))
            .chain(self.regex_matches(normalized))
            .collect()
    }

    fn exact_hits<'a>(&'a self, normalized: &str) -> impl Iterator<Item = Hit> + 'a {
        self.exact.get(normalized).into_iter().flatten().copied()
    }

    fn contains_matches<'a>(&'a self, normalized: &'a str) -> impl Iterator<Item = Hit> + 'a {
        self.contains
            .iter()
            .flat_map(move |ac| ac.find_overlapping_iter(normalized))
            .filter_map(|m| self.contains_hits.get(m.pattern().as_usize()))
            .flatten()
            .copied()
    }

    fn regex_matches<'a>(&'a self, normalized: &'a str) -> impl Iterator<Item = Hit> + 'a {
        self.regexes
            .iter()
            .flat_map(move |set| set.matches(normalized).into_iter())
            .filter_map(|i| self.regex_hits.get(i).copied())
    }
}

fn raise(top: &mut Option<i64>, priority: i64) {
    *top = Some(top.map_or(priority, |t| t.max(priority)));
}

fn keep_newest(slot: &mut Option<usize>, r: usize, rules: &[CompiledRule]) {
    if slot.is_none_or(|old| rules[old].id < rules[r].id) {
        *slot = Some(r);
    }
}

/// The answers a rule gives this time: all in order, or one at random.
pub fn answers_now(rule: &CompiledRule, pick: impl FnOnce(usize) -> usize) -> Vec<&Answer> {
    match rule.reply_mode {
        ReplyMode::All => rule.answers.iter().collect(),
        ReplyMode::Random if rule.answers.is_empty() => vec![],
        ReplyMode::Random => {
            let i = pick(rule.answers.len()).min(rule.answers.len() - 1);
            vec![&rule.answers[i]]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text_reply(t: &str) -> Answer {
        Answer::reply(ReplyBody::Text {
            content: t.to_string().into(),
        })
    }

    fn rule(id: i64, priority: i64, keywords: &[(&str, MatchMode)]) -> CompiledRule {
        CompiledRule {
            id,
            name: format!("rule {id}"),
            kind: RuleKind::Keyword,
            priority,
            reply_mode: ReplyMode::All,
            schedule: Schedule::default(),
            keywords: keywords
                .iter()
                .map(|(t, mode)| Keyword {
                    text: t.to_string(),
                    mode: *mode,
                })
                .collect(),
            triggers: vec![],
            answers: vec![text_reply(&format!("answer {id}"))],
        }
    }

    fn index(rules: Vec<CompiledRule>) -> Index {
        Index::compile(rules, Settings::default(), chrono_tz::Asia::Shanghai)
    }

    fn winner(index: &Index, text: &str) -> Option<i64> {
        match index.decide_text(text, &PlainReplies::default(), 0) {
            Choice::Rule { rule, .. } => Some(rule.id),
            _ => None,
        }
    }

    fn msg(xml_body: &str) -> String {
        format!(
            "<xml><ToUserName><![CDATA[gh]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1</CreateTime>{xml_body}</xml>"
        )
    }

    #[test]
    fn the_documented_order_decides() {
        use MatchMode::*;
        let idx = index(vec![
            rule(1, 0, &[("价格", Contains)]),
            rule(2, 0, &[("价格", Exact)]),
            rule(3, 0, &[("^价", Regex)]),
            rule(4, 5, &[("价", Contains)]),
            rule(5, 0, &[("地址", Contains)]),
            rule(6, 0, &[("地址", Contains)]),
        ]);
        // Priority beats everything.
        assert_eq!(winner(&idx, "价格"), Some(4));
        let idx = index(vec![
            rule(1, 0, &[("价格", Contains)]),
            rule(2, 0, &[("价格", Exact)]),
            rule(3, 0, &[("^价", Regex)]),
            rule(5, 0, &[("地址", Contains)]),
            rule(6, 0, &[("地址", Contains)]),
        ]);
        // Exact before contains before regex.
        assert_eq!(winner(&idx, "价格"), Some(2));
        assert_eq!(winner(&idx, "价格多少"), Some(1));
        assert_eq!(winner(&idx, "价钱"), Some(3));
        // Then the newest.
        assert_eq!(winner(&idx, "你们的地址"), Some(6));
        assert_eq!(winner(&idx, "你好"), None);
        let explained = idx.explain("价格", 0);
        assert_eq!(
            explained.iter().map(|c| c.rule_id).collect::<Vec<_>>(),
            vec![2, 1, 3]
        );
    }

    #[test]
    fn keywords_match_whatever_the_case_and_width() {
        let idx = index(vec![rule(1, 0, &[("vip", MatchMode::Exact)])]);
        assert_eq!(winner(&idx, " ＶＩＰ "), Some(1));
        assert_eq!(winner(&idx, "Vip"), Some(1));
        let idx = index(vec![rule(
            1,
            0,
            &[("(?:订单|order)\\d+", MatchMode::Regex)],
        )]);
        assert_eq!(winner(&idx, "ORDER123"), Some(1));
    }

    #[test]
    fn a_rule_outside_its_schedule_lets_the_next_one_answer() {
        let mut night = rule(2, 10, &[("营业", MatchMode::Contains)]);
        night.schedule.hours = Some((22 * 60, 6 * 60));
        let idx = index(vec![rule(1, 0, &[("营业", MatchMode::Contains)]), night]);
        // 2026-12-01 12:00 and 23:00 in Shanghai.
        let noon = 1_764_561_600_000;
        let late = noon + 11 * 3_600_000;
        let at = |now| match idx.decide_text("营业时间", &PlainReplies::default(), now) {
            Choice::Rule { rule, .. } => rule.id,
            _ => 0,
        };
        assert_eq!(at(noon), 1);
        assert_eq!(at(late), 2);
        assert!(!idx.explain("营业时间", noon)[0].open);
    }

    #[test]
    fn handoff_words_come_first_and_unmatched_text_gets_the_default() {
        let idx = index(vec![rule(1, 0, &[("人工", MatchMode::Exact)])]);
        let plain = PlainReplies {
            default_reply_text: "收到".into(),
            ..PlainReplies::default()
        };
        assert!(matches!(
            idx.decide_text("人工", &plain, 0),
            Choice::Handoff
        ));
        assert!(matches!(
            idx.decide_text("随便", &plain, 0),
            Choice::Unmatched(None, "收到")
        ));
    }

    #[test]
    fn events_fire_their_triggers_and_welcomes() {
        let mut click = rule(1, 0, &[]);
        click.triggers = vec![Trigger::Click("MENU_PRICE".into())];
        let mut scene = rule(2, 0, &[]);
        scene.triggers = vec![Trigger::Scene("poster".into())];
        let mut images = rule(3, 0, &[]);
        images.triggers = vec![Trigger::Message(MessageKind::Image)];
        let mut welcome = rule(4, 0, &[]);
        welcome.kind = RuleKind::Welcome;
        let idx = index(vec![click, scene, images, welcome]);
        let plain = PlainReplies {
            welcome_text: "欢迎".into(),
            channel_welcomes: [("table".to_string(), "桌贴欢迎".to_string())].into(),
            ..PlainReplies::default()
        };
        let decide = |body: &str| {
            let xml = msg(body);
            let m = Message::parse(&xml).expect("message");
            match idx.decide(&m, &plain, 0) {
                Choice::Rule { rule, .. } => format!("rule {}", rule.id),
                Choice::Plain(t) => t.to_string(),
                Choice::Nothing => "nothing".into(),
                other => format!("{other:?}"),
            }
        };
        let event = |e: &str, key: &str| {
            format!(
                "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{e}]]></Event><EventKey><![CDATA[{key}]]></EventKey>"
            )
        };
        assert_eq!(decide(&event("CLICK", "MENU_PRICE")), "rule 1");
        assert_eq!(decide(&event("CLICK", "OTHER")), "nothing");
        assert_eq!(decide(&event("subscribe", "qrscene_poster")), "rule 2");
        assert_eq!(decide(&event("SCAN", "poster")), "rule 2");
        assert_eq!(decide(&event("subscribe", "qrscene_table")), "桌贴欢迎");
        assert_eq!(decide(&event("SCAN", "table")), "桌贴欢迎");
        assert_eq!(decide(&event("subscribe", "")), "rule 4");
        assert_eq!(
            decide(
                "<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[http://x]]></PicUrl><MediaId><![CDATA[m]]></MediaId><MsgId>1</MsgId>"
            ),
            "rule 3"
        );
    }

    /// The slow definition: every keyword of every rule tried one by one.
    fn brute_force(rules: &[CompiledRule], text: &str) -> Option<i64> {
        let norm = normalize(text);
        let mut best: Option<(Order, i64)> = None;
        for r in rules {
            for k in &r.keywords {
                let hit = match k.mode {
                    MatchMode::Exact => !norm.is_empty() && norm == k.text,
                    MatchMode::Contains => !norm.is_empty() && norm.contains(&k.text),
                    MatchMode::Regex => super::super::model::compile_regex(&k.text)
                        .is_ok_and(|re| !norm.is_empty() && re.is_match(&norm)),
                };
                if hit {
                    let rank = match k.mode {
                        MatchMode::Exact => 0,
                        MatchMode::Contains => 1,
                        MatchMode::Regex => 2,
                    };
                    let key = (Reverse(r.priority), rank, Reverse(r.id));
                    if best.as_ref().is_none_or(|(b, _)| key < *b) {
                        best = Some((key, r.id));
                    }
                }
            }
        }
        best.map(|(_, id)| id)
    }

    fn word() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            "价格",
            "价",
            "地址",
            "a",
            "ab",
            "b",
            "会员",
            "会员卡",
            "卡",
        ])
        .prop_map(str::to_string)
    }

    proptest! {
        #[test]
        fn the_index_agrees_with_trying_every_keyword(
            rules in prop::collection::vec(
                (-2i64..3, prop::collection::vec((word(), 0u8..3), 1..4)),
                0..12,
            ),
            texts in prop::collection::vec(prop::collection::vec(word(), 0..4), 1..8),
        ) {
            let compiled: Vec<CompiledRule> = rules
                .iter()
                .enumerate()
                .map(|(i, (priority, kws))| {
                    let kws: Vec<(String, MatchMode)> = kws
                        .iter()
                        .map(|(w, m)| match m {
                            0 => (w.clone(), MatchMode::Exact),
                            1 => (w.clone(), MatchMode::Contains),
                            _ => (format!("^{w}"), MatchMode::Regex),
                        })
                        .collect();
                    let refs: Vec<(&str, MatchMode)> =
                        kws.iter().map(|(w, m)| (w.as_str(), *m)).collect();
                    rule(i as i64 + 1, *priority, &refs)
                })
                .collect();
            let idx = index(compiled.clone());
            for words in texts {
                let text = words.join("");
                prop_assert_eq!(winner(&idx, &text), brute_force(&compiled, &text), "text {:?}", text);
            }
        }
    }
}
