//! The automatic replies pages (`/replies`: the rules with their hits, the welcome and the
//! default reply, hand-off words, the "test a message" box and the unmatched texts; a rule's
//! form) and `/api/v1/accounts/{account_id}/reply-rules…`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{NaiveDate, NaiveTime, Timelike};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::RuleRow;
use super::index::{Answer, Candidate, Choice, Index, PlainReplies};
use super::model::{
    Keyword, MAX_REPLIES_PER_RULE, MatchMode, MessageKind, ReplyItem, ReplyMode, RuleInput,
    RuleKind, Schedule, Settings, Trigger,
};
use crate::accounts::AccountRow;
use crate::channels::model::day_of;
use crate::platform::api::ApiJson;
use crate::platform::auth::Caller;
use crate::platform::auth::model::Permission;
use crate::platform::clock::{format_local, rfc3339};
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Lang;
use crate::platform::state::AppState;
use crate::platform::web::{Shell, page};

const DAY_MS: i64 = 86_400_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/replies", get(list_page).post(create_form))
        .route("/replies/new", get(new_page))
        .route("/replies/settings", post(settings_form))
        .route("/replies/{id}", get(edit_page).post(update_form))
        .route("/replies/{id}/toggle", post(toggle_form))
        .route("/replies/{id}/delete", post(delete_form))
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(api_list, api_create))
        .routes(routes!(api_get, api_update, api_delete))
        .routes(routes!(api_settings, api_save_settings))
        .routes(routes!(api_test))
        .routes(routes!(api_unmatched))
}

// ---- shared ----

/// The account the console works on: the switcher's.
async fn current_account(
    state: &AppState,
    caller: &Caller,
    shell: &Shell,
) -> Result<Option<AccountRow>, AppError> {
    match shell.account_id {
        Some(id) => Ok(crate::accounts::get(&state.db, caller.merchant_id, id).await?),
        None => Ok(None),
    }
}

fn modules(state: &AppState) -> Vec<&'static str> {
    super::module_names(&state.modules)
}

/// A rule's hits over the last 7 and 30 days (the merchant's days).
#[derive(Clone, Copy, Debug, Default, Serialize, ToSchema)]
pub struct Hits {
    pub last_7_days: i64,
    pub last_30_days: i64,
}

async fn hits(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    tz: chrono_tz::Tz,
) -> Result<HashMap<i64, Hits>, AppError> {
    let now = state.clock.now_ms();
    let week = day_of(now - 6 * DAY_MS, tz);
    let month = day_of(now - 29 * DAY_MS, tz);
    let mut out: HashMap<i64, Hits> = HashMap::new();
    for (rule, n) in super::store::hits_by_rule(&state.db, merchant_id, account_id, &month).await? {
        out.entry(rule).or_default().last_30_days = n;
    }
    for (rule, n) in super::store::hits_by_rule(&state.db, merchant_id, account_id, &week).await? {
        out.entry(rule).or_default().last_7_days = n;
    }
    Ok(out)
}

/// Library items a rule may send: (value for the form, label).
async fn library_choices(
    state: &AppState,
    merchant_id: i64,
    lang: Lang,
) -> Result<Vec<(String, String)>, AppError> {
    let filter = crate::library::store::ListFilter { kind: "", q: "" };
    let items = crate::library::store::list(&state.db, merchant_id, &filter, 0, true, 500).await?;
    Ok(items
        .iter()
        .map(|i| {
            let label = format!("{} · {}", lang.t(i.kind().label_key()), i.title);
            (format!("item:{}", i.id), label)
        })
        .collect())
}

/// What replies refer to, by id: library items (kind, title) and the account's flows.
struct Names {
    items: HashMap<i64, (crate::library::model::Kind, String)>,
    flows: HashMap<i64, String>,
}

async fn names(state: &AppState, merchant_id: i64, account_id: i64) -> Result<Names, AppError> {
    let filter = crate::library::store::ListFilter { kind: "", q: "" };
    let items =
        crate::library::store::list(&state.db, merchant_id, &filter, 0, true, 10_000).await?;
    let flows = crate::flows::store::list(&state.db, merchant_id, account_id).await?;
    Ok(Names {
        items: items
            .into_iter()
            .map(|i| (i.id, (i.kind(), i.title.clone())))
            .collect(),
        flows: flows.into_iter().map(|f| (f.id, f.name)).collect(),
    })
}

// ---- views ----

struct RuleView {
    id: i64,
    name: String,
    kind: RuleKind,
    enabled: bool,
    keywords: Vec<(String, &'static str)>,
    triggers: Vec<String>,
    replies: Vec<String>,
    random: bool,
    priority: i64,
    schedule: String,
    hits: Hits,
}

fn colon(lang: Lang) -> &'static str {
    if lang == Lang::ZhCn { "：" } else { ": " }
}

fn describe_reply(
    r: &ReplyItem,
    titles: &HashMap<i64, (crate::library::model::Kind, String)>,
    flows: &HashMap<i64, String>,
    lang: Lang,
) -> String {
    let colon = colon(lang);
    match r {
        ReplyItem::Text { text } => {
            let short: String = text.chars().take(40).collect();
            let more = if text.chars().count() > 40 { "…" } else { "" };
            format!("{}{colon}{short}{more}", lang.t("replies.reply.text"))
        }
        ReplyItem::Library { item_id } => match titles.get(item_id) {
            Some((kind, title)) => format!("{}{colon}{title}", lang.t(kind.label_key())),
            None => lang.t("replies.reply.missing").to_string(),
        },
        ReplyItem::Module { name } => format!("{}{colon}{name}", lang.t("replies.reply.module")),
        ReplyItem::Flow { flow_id } => match flows.get(flow_id) {
            Some(name) => format!("{}{colon}{name}", lang.t("replies.reply.flow")),
            None => lang.t("replies.reply.missing").to_string(),
        },
    }
}

fn describe_trigger(t: &Trigger, lang: Lang) -> String {
    let colon = colon(lang);
    match t {
        Trigger::Click(k) => format!("{}{colon}{k}", lang.t("replies.trigger.click")),
        Trigger::Scene(s) => format!("{}{colon}{s}", lang.t("replies.trigger.scene")),
        Trigger::Message(m) => lang.t(kind_key(*m)).to_string(),
    }
}

fn kind_key(m: MessageKind) -> &'static str {
    match m {
        MessageKind::Image => "replies.on.image",
        MessageKind::Voice => "replies.on.voice",
        MessageKind::Video => "replies.on.video",
        MessageKind::Location => "replies.on.location",
        MessageKind::Link => "replies.on.link",
    }
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn describe_schedule(s: &Schedule, lang: Lang) -> String {
    if s.is_always() {
        return lang.t("replies.schedule.always").to_string();
    }
    let mut parts = vec![];
    if let Some((from, to)) = s.hours {
        parts.push(format!("{}–{}", hhmm(from), hhmm(to)));
    }
    if !s.weekdays.is_empty() {
        let days: Vec<&str> = s.weekdays.iter().map(|d| lang.t(weekday_key(*d))).collect();
        parts.push(days.join(if lang == Lang::ZhCn { "、" } else { ", " }));
    }
    match (s.from, s.until) {
        (Some(f), Some(u)) => parts.push(format!("{f} – {u}")),
        (Some(f), None) => parts.push(format!("{f} –")),
        (None, Some(u)) => parts.push(format!("– {u}")),
        (None, None) => {}
    }
    parts.join(" · ")
}

fn weekday_key(d: u8) -> &'static str {
    match d {
        1 => "weekday.1",
        2 => "weekday.2",
        3 => "weekday.3",
        4 => "weekday.4",
        5 => "weekday.5",
        6 => "weekday.6",
        _ => "weekday.7",
    }
}

fn rule_view(row: &RuleRow, hits: &HashMap<i64, Hits>, names: &Names, lang: Lang) -> RuleView {
    let input = row.input();
    RuleView {
        id: row.id,
        name: input.name.clone(),
        kind: input.kind,
        enabled: input.enabled,
        keywords: input
            .keywords
            .iter()
            .map(|k| (k.text.clone(), k.mode.label_key()))
            .collect(),
        triggers: input
            .triggers
            .iter()
            .map(|t| describe_trigger(t, lang))
            .collect(),
        replies: input
            .replies
            .iter()
            .map(|r| describe_reply(r, &names.items, &names.flows, lang))
            .collect(),
        random: input.reply_mode == ReplyMode::Random,
        priority: input.priority,
        schedule: describe_schedule(&input.schedule, lang),
        hits: hits.get(&row.id).copied().unwrap_or_default(),
    }
}

// ---- the test box ----

/// Why each matching rule does or does not answer.
struct CandidateView {
    rule_id: i64,
    name: String,
    keyword: String,
    mode_key: &'static str,
    priority: i64,
    verdict_key: &'static str,
}

struct TestView {
    text: String,
    /// `replies.test.rule` / `.handoff` / `.default` / `.courtesy` / `.nothing`
    outcome_key: &'static str,
    rule_name: Option<(i64, String)>,
    reply: String,
    candidates: Vec<CandidateView>,
}

fn verdict_of(c: &Candidate, winner: Option<&Candidate>, is_handoff: bool) -> &'static str {
    if is_handoff {
        return "replies.verdict.handoff_first";
    }
    if !c.open {
        return "replies.verdict.closed";
    }
    match winner {
        Some(w) if w.rule_id == c.rule_id => "replies.verdict.answers",
        Some(w) if w.priority > c.priority => "replies.verdict.lower_priority",
        Some(w) if w.mode < c.mode => "replies.verdict.weaker_match",
        _ => "replies.verdict.older",
    }
}

fn answer_preview(answer: Option<&Answer>, lang: Lang) -> String {
    let colon = colon(lang);
    match answer {
        Some(Answer::Reply(reply)) => match reply.body() {
            wechat::ReplyBody::Text { content } => content.to_string(),
            wechat::ReplyBody::News { articles } => format!(
                "{}{colon}{}",
                lang.t("library.kind.news"),
                articles.first().map(|a| a.title.as_ref()).unwrap_or("")
            ),
            other => format!("[{}]", other.msg_type()),
        },
        Some(Answer::Module(name)) => format!("{}{colon}{name}", lang.t("replies.reply.module")),
        Some(Answer::Flow(_)) => lang.t("replies.reply.flow").to_string(),
        None => String::new(),
    }
}

/// What the account would answer to `text` now, and why.
fn test_message(index: &Index, plain: &PlainReplies, text: &str, now: i64, lang: Lang) -> TestView {
    let candidates = index.explain(text, now);
    let is_handoff = index.is_handoff(text);
    let winner = candidates.iter().find(|c| c.open);
    let views = candidates
        .iter()
        .map(|c| CandidateView {
            rule_id: c.rule_id,
            name: c.name.clone(),
            keyword: c.keyword.clone(),
            mode_key: c.mode.map_or("replies.trigger", MatchMode::label_key),
            priority: c.priority,
            verdict_key: verdict_of(c, winner, is_handoff),
        })
        .collect();
    let (outcome_key, rule_name, reply) = match index.decide_text(text, plain, now) {
        Choice::Rule { rule, .. } => (
            "replies.test.rule",
            Some((rule.id, rule.name.clone())),
            answer_preview(rule.answers.first(), lang),
        ),
        Choice::Handoff => (
            "replies.test.handoff",
            None,
            index.settings.handoff_reply.clone(),
        ),
        Choice::Unmatched(Some(rule), _) => (
            "replies.test.default",
            Some((rule.id, rule.name.clone())),
            answer_preview(rule.answers.first(), lang),
        ),
        Choice::Unmatched(None, t) if !t.is_empty() => {
            ("replies.test.default", None, t.to_string())
        }
        _ => ("replies.test.nothing", None, String::new()),
    };
    TestView {
        text: text.to_string(),
        outcome_key,
        rule_name,
        reply,
        candidates: views,
    }
}

// ---- the list page ----

#[derive(Template)]
#[template(path = "replies/list.html")]
struct ListPage {
    shell: Shell,
    account: Option<(i64, String)>,
    can_manage: bool,
    rules: Vec<RuleView>,
    welcome: Option<RuleView>,
    default: Option<RuleView>,
    welcome_text: String,
    default_reply_text: String,
    settings: Settings,
    handoff_words: String,
    settings_errors: FieldErrors,
    test: Option<TestView>,
    /// (text, times, last time, link to a new rule for it)
    unmatched: Vec<(String, i64, String, String)>,
}

impl ListPage {
    fn settings_err(&self, field: &str) -> Option<String> {
        self.settings_errors
            .get(field)
            .map(|m| self.shell.lang.render(m))
    }
}

#[derive(Deserialize, Default)]
struct ListParams {
    test: Option<String>,
}

async fn list_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    render_list(&state, &caller, &uri, params.test, None).await
}

async fn render_list(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    test: Option<String>,
    settings_form: Option<(Settings, String, FieldErrors)>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewReplies)?;
    let shell = Shell::for_caller(state, caller, "replies", "replies.title", uri).await?;
    let can_manage = caller.role.allows(Permission::ManageReplies);
    let Some(account) = current_account(state, caller, &shell).await? else {
        return page(&ListPage {
            shell,
            account: None,
            can_manage,
            rules: vec![],
            welcome: None,
            default: None,
            welcome_text: String::new(),
            default_reply_text: String::new(),
            settings: Settings::default(),
            handoff_words: String::new(),
            settings_errors: FieldErrors::default(),
            test: None,
            unmatched: vec![],
        });
    };
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let now = state.clock.now_ms();
    let rows = super::store::list(&state.db, caller.merchant_id, account.id).await?;
    let hits = hits(state, caller.merchant_id, account.id, tz).await?;
    let names = names(state, caller.merchant_id, account.id).await?;
    let mut rules = vec![];
    let (mut welcome, mut default) = (None, None);
    for row in &rows {
        let view = rule_view(row, &hits, &names, shell.lang);
        match view.kind {
            RuleKind::Keyword => rules.push(view),
            RuleKind::Welcome => welcome = Some(view),
            RuleKind::Default => default = Some(view),
        }
    }
    let stored = super::store::settings(&state.db, account.id).await?;
    let (settings, handoff_words, settings_errors) = match settings_form {
        Some(f) => f,
        None => {
            let words = stored.handoff_words.join("\n");
            (stored, words, FieldErrors::default())
        }
    };
    let test = match test.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => {
            let index = super::compile(
                &state.db,
                caller.merchant_id,
                account.id,
                &state.config.public_url,
            )
            .await?;
            let plain = super::plain_replies(
                &state.db,
                account.id,
                &account.welcome_text,
                &account.default_reply_text,
            )
            .await?;
            Some(test_message(&index, &plain, text, now, shell.lang))
        }
        _ => None,
    };
    let unmatched = super::store::top_unmatched(
        &state.db,
        caller.merchant_id,
        account.id,
        now - 30 * DAY_MS,
        20,
    )
    .await?
    .into_iter()
    .map(|(text, n, last)| {
        let href = format!(
            "/replies/new?{}",
            url::form_urlencoded::Serializer::new(String::new())
                .append_pair("keyword", &text)
                .finish()
        );
        (text, n, format_local(last, tz), href)
    })
    .collect();
    page(&ListPage {
        shell,
        account: Some((account.id, account.name.clone())),
        can_manage,
        rules,
        welcome,
        default,
        welcome_text: account.welcome_text.clone(),
        default_reply_text: account.default_reply_text.clone(),
        settings,
        handoff_words,
        settings_errors,
        test,
        unmatched,
    })
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    account_id: String,
    #[serde(default)]
    courtesy_hourly: Option<String>,
    #[serde(default)]
    handoff_words: String,
    #[serde(default)]
    handoff_reply: String,
}

async fn settings_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<SettingsForm>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageReplies)?;
    let account = form_account(&state, &caller, &f.account_id).await?;
    let input = Settings {
        courtesy_hourly: f.courtesy_hourly.is_some(),
        handoff_words: lines(&f.handoff_words),
        handoff_reply: f.handoff_reply.clone(),
    };
    match super::model::validate_settings(&input) {
        Ok(settings) => {
            super::store::save_settings(
                &state.db,
                caller.merchant_id,
                account.id,
                &settings,
                state.clock.now_ms(),
            )
            .await?;
            Ok(Redirect::to("/replies?notice=saved").into_response())
        }
        Err(errors) => {
            let mut res = render_list(
                &state,
                &caller,
                &uri,
                None,
                Some((input, f.handoff_words, errors)),
            )
            .await?;
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(res)
        }
    }
}

async fn form_account(
    state: &AppState,
    caller: &Caller,
    account_id: &str,
) -> Result<AccountRow, AppError> {
    let id: i64 = account_id.trim().parse().map_err(|_| AppError::NotFound)?;
    crate::followers::account_of(state, caller.merchant_id, id).await
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

// ---- the rule form ----

/// The form's values, as typed.
#[derive(Default)]
struct FormValues {
    account_id: i64,
    kind: String,
    name: String,
    priority: String,
    reply_mode: String,
    enabled: bool,
    exact: String,
    contains: String,
    regex: String,
    clicks: String,
    scenes: String,
    on: Vec<&'static str>,
    hours_from: String,
    hours_to: String,
    weekdays: Vec<u8>,
    date_from: String,
    date_until: String,
    /// (source, text) of each reply slot.
    replies: Vec<(String, String)>,
}

impl FormValues {
    fn of_rule(account_id: i64, r: &RuleInput) -> FormValues {
        let words = |mode: MatchMode| {
            r.keywords
                .iter()
                .filter(|k| k.mode == mode)
                .map(|k| k.text.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let triggers = |f: fn(&Trigger) -> Option<&str>| {
            r.triggers
                .iter()
                .filter_map(f)
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut replies: Vec<(String, String)> = r
            .replies
            .iter()
            .map(|item| match item {
                ReplyItem::Text { text } => ("text".to_string(), text.clone()),
                ReplyItem::Library { item_id } => (format!("item:{item_id}"), String::new()),
                ReplyItem::Module { name } => (format!("module:{name}"), String::new()),
                ReplyItem::Flow { flow_id } => (format!("flow:{flow_id}"), String::new()),
            })
            .collect();
        replies.resize(MAX_REPLIES_PER_RULE, ("text".into(), String::new()));
        FormValues {
            account_id,
            kind: r.kind.as_str().into(),
            name: r.name.clone(),
            priority: r.priority.to_string(),
            reply_mode: r.reply_mode.as_str().into(),
            enabled: r.enabled,
            exact: words(MatchMode::Exact),
            contains: words(MatchMode::Contains),
            regex: words(MatchMode::Regex),
            clicks: triggers(|t| match t {
                Trigger::Click(k) => Some(k.as_str()),
                _ => None,
            }),
            scenes: triggers(|t| match t {
                Trigger::Scene(s) => Some(s.as_str()),
                _ => None,
            }),
            on: r
                .triggers
                .iter()
                .filter_map(|t| match t {
                    Trigger::Message(m) => Some(m.as_str()),
                    _ => None,
                })
                .collect(),
            hours_from: r.schedule.hours.map(|(f, _)| hhmm(f)).unwrap_or_default(),
            hours_to: r.schedule.hours.map(|(_, t)| hhmm(t)).unwrap_or_default(),
            weekdays: r.schedule.weekdays.clone(),
            date_from: r.schedule.from.map(|d| d.to_string()).unwrap_or_default(),
            date_until: r.schedule.until.map(|d| d.to_string()).unwrap_or_default(),
            replies,
        }
    }
}

/// A rule's form as posted, with where each model field came from so errors land on the
/// right form field.
struct Posted {
    input: RuleInput,
    values: FormValues,
    /// The form field of each keyword, trigger and reply the input holds, in order.
    keyword_fields: Vec<&'static str>,
    trigger_fields: Vec<&'static str>,
    reply_slots: Vec<usize>,
    /// Errors found while reading the form (times and dates that are not ones).
    errors: FieldErrors,
}

fn posted(f: &HashMap<String, String>) -> Posted {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let mut errors = FieldErrors::default();
    let mut keywords = vec![];
    let mut keyword_fields = vec![];
    for (field, mode) in [
        ("exact", MatchMode::Exact),
        ("contains", MatchMode::Contains),
        ("regex", MatchMode::Regex),
    ] {
        for line in lines(&get(field)) {
            keywords.push(Keyword { text: line, mode });
            keyword_fields.push(field);
        }
    }
    let mut triggers = vec![];
    let mut trigger_fields = vec![];
    for line in lines(&get("clicks")) {
        triggers.push(Trigger::Click(line));
        trigger_fields.push("clicks");
    }
    for line in lines(&get("scenes")) {
        triggers.push(Trigger::Scene(line));
        trigger_fields.push("scenes");
    }
    let mut on = vec![];
    for kind in MessageKind::ALL {
        if f.contains_key(&format!("on_{}", kind.as_str())) {
            triggers.push(Trigger::Message(kind));
            trigger_fields.push("on");
            on.push(kind.as_str());
        }
    }
    let time = |field: &str, errors: &mut FieldErrors| -> Option<u16> {
        let t = get(field);
        if t.trim().is_empty() {
            return None;
        }
        match NaiveTime::parse_from_str(t.trim(), "%H:%M") {
            Ok(t) => Some((t.hour() * 60 + t.minute()) as u16),
            Err(_) => {
                errors.add(
                    "hours",
                    crate::platform::i18n::Msg::new("replies.bad_hours"),
                );
                None
            }
        }
    };
    let hours = match (
        time("hours_from", &mut errors),
        time("hours_to", &mut errors),
    ) {
        (Some(from), Some(to)) => Some((from, if to == 0 { 24 * 60 } else { to })),
        (None, None) => None,
        _ => {
            errors.add(
                "hours",
                crate::platform::i18n::Msg::new("replies.bad_hours"),
            );
            None
        }
    };
    let date = |field: &str, errors: &mut FieldErrors| -> Option<NaiveDate> {
        let d = get(field);
        if d.trim().is_empty() {
            return None;
        }
        NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map_err(|_| {
                errors.add(
                    "dates",
                    crate::platform::i18n::Msg::new("replies.bad_dates"),
                )
            })
            .ok()
    };
    let weekdays: Vec<u8> = (1..=7u8)
        .filter(|d| f.contains_key(&format!("wd_{d}")))
        .collect();
    let schedule = Schedule {
        hours,
        weekdays: if weekdays.len() == 7 {
            vec![]
        } else {
            weekdays.clone()
        },
        from: date("date_from", &mut errors),
        until: date("date_until", &mut errors),
    };
    let mut replies = vec![];
    let mut reply_slots = vec![];
    let mut slots = vec![];
    for i in 0..MAX_REPLIES_PER_RULE {
        let source = get(&format!("reply_{i}_source"));
        let text = get(&format!("reply_{i}_text"));
        let item = if let Some(id) = source.strip_prefix("item:") {
            id.parse()
                .ok()
                .map(|item_id| ReplyItem::Library { item_id })
        } else if let Some(id) = source.strip_prefix("flow:") {
            id.parse().ok().map(|flow_id| ReplyItem::Flow { flow_id })
        } else if let Some(name) = source.strip_prefix("module:") {
            Some(ReplyItem::Module {
                name: name.to_string(),
            })
        } else if !text.trim().is_empty() {
            Some(ReplyItem::Text { text: text.clone() })
        } else {
            None
        };
        if let Some(item) = item {
            replies.push(item);
            reply_slots.push(i);
        }
        slots.push((
            if source.is_empty() {
                "text".into()
            } else {
                source
            },
            text,
        ));
    }
    let input = RuleInput {
        name: get("name"),
        kind: RuleKind::parse(&get("kind")).unwrap_or_default(),
        keywords,
        triggers,
        priority: get("priority").trim().parse().unwrap_or(0),
        reply_mode: ReplyMode::parse(&get("reply_mode")).unwrap_or_default(),
        enabled: f.contains_key("enabled"),
        schedule,
        replies,
    };
    let values = FormValues {
        account_id: get("account_id").trim().parse().unwrap_or(0),
        kind: input.kind.as_str().into(),
        name: get("name"),
        priority: get("priority"),
        reply_mode: input.reply_mode.as_str().into(),
        enabled: input.enabled,
        exact: get("exact"),
        contains: get("contains"),
        regex: get("regex"),
        clicks: get("clicks"),
        scenes: get("scenes"),
        on,
        hours_from: get("hours_from"),
        hours_to: get("hours_to"),
        weekdays,
        date_from: get("date_from"),
        date_until: get("date_until"),
        replies: slots,
    };
    Posted {
        input,
        values,
        keyword_fields,
        trigger_fields,
        reply_slots,
        errors,
    }
}

impl Posted {
    /// The model's errors named by the form's fields.
    fn form_errors(&self, model: FieldErrors) -> FieldErrors {
        let mut out = self.errors.clone();
        for e in model.0 {
            let field = self.form_field(&e.field);
            out.add(&field, e.msg);
        }
        out
    }

    fn form_field(&self, field: &str) -> String {
        let indexed = |prefix: &str| {
            field
                .strip_prefix(prefix)
                .and_then(|i| i.parse::<usize>().ok())
        };
        if let Some(i) = indexed("keywords.") {
            return self.keyword_fields.get(i).unwrap_or(&"exact").to_string();
        }
        if let Some(i) = indexed("triggers.") {
            return self.trigger_fields.get(i).unwrap_or(&"clicks").to_string();
        }
        if let Some(i) = indexed("replies.") {
            return format!("reply_{}", self.reply_slots.get(i).copied().unwrap_or(0));
        }
        match field {
            "keywords" => "exact".into(),
            "triggers" => "clicks".into(),
            "replies" => "reply_0".into(),
            "schedule.hours" => "hours".into(),
            "schedule.weekdays" => "weekdays".into(),
            "schedule.until" => "dates".into(),
            other => other.into(),
        }
    }
}

#[derive(Template)]
#[template(path = "replies/form.html")]
struct FormPage {
    shell: Shell,
    id: Option<i64>,
    account_name: String,
    form: FormValues,
    errors: FieldErrors,
    sources: Vec<(String, String)>,
    /// (value, name) of the account's flows a rule may start.
    flows: Vec<(String, String)>,
    modules: Vec<&'static str>,
    kinds: Vec<MessageKind>,
    keyword_hits: Vec<(String, i64)>,
    slots: Vec<Slot>,
    all_weekdays: Vec<u8>,
    /// Agents look at rules; only those who may change them see Save and Delete.
    can_manage: bool,
}

/// One reply of the form: a library item, a module or typed text.
struct Slot {
    index: usize,
    number: usize,
    source: String,
    text: String,
}

impl Slot {
    fn is_module(&self, name: &&str) -> bool {
        self.source.strip_prefix("module:") == Some(*name)
    }
}

impl FormPage {
    fn err(&self, field: &str) -> Option<String> {
        self.errors.get(field).map(|m| self.shell.lang.render(m))
    }

    fn slot_err(&self, i: &usize) -> Option<String> {
        self.err(&format!("reply_{i}"))
    }

    fn error_summary(&self) -> Vec<(String, String)> {
        let colon = if self.shell.is_zh() { "：" } else { ": " };
        self.errors
            .0
            .iter()
            .map(|e| {
                let label = self.shell.t(field_label(&e.field));
                let message = self.shell.lang.render(&e.msg);
                (e.field.clone(), format!("{label}{colon}{message}"))
            })
            .collect()
    }

    fn is_on(&self, kind: &MessageKind) -> bool {
        self.form.on.contains(&kind.as_str())
    }

    fn has_weekday(&self, d: &u8) -> bool {
        self.form.weekdays.contains(d)
    }

    fn is_keyword_rule(&self) -> bool {
        self.form.kind == "keyword"
    }

    fn weekday_label(&self, d: &u8) -> &'static str {
        self.shell.t(weekday_key(*d))
    }

    fn kind_label(&self, k: &MessageKind) -> &'static str {
        self.shell.t(kind_key(*k))
    }
}

fn field_label(field: &str) -> &'static str {
    match field {
        "name" => "replies.name",
        "priority" => "replies.priority",
        "exact" => "replies.mode.exact",
        "contains" => "replies.mode.contains",
        "regex" => "replies.mode.regex",
        "clicks" => "replies.trigger.click",
        "scenes" => "replies.trigger.scene",
        "hours" => "replies.hours",
        "weekdays" => "replies.weekdays",
        "dates" => "replies.dates",
        _ => "replies.replies",
    }
}

async fn render_form(
    state: &AppState,
    caller: &Caller,
    uri: &Uri,
    id: Option<i64>,
    account: &AccountRow,
    form: FormValues,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let title = match (id, form.kind.as_str()) {
        (_, "welcome") => "replies.welcome_title",
        (_, "default") => "replies.default_title",
        (Some(_), _) => "replies.edit_title",
        (None, _) => "replies.new_title",
    };
    let shell = Shell::for_caller(state, caller, "replies", title, uri).await?;
    let keyword_hits = match id {
        Some(id) => {
            let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
            let month = day_of(state.clock.now_ms() - 29 * DAY_MS, tz);
            super::store::hits_by_keyword(&state.db, caller.merchant_id, id, &month).await?
        }
        None => vec![],
    };
    let failed = !errors.is_empty();
    let slots = form
        .replies
        .iter()
        .enumerate()
        .map(|(index, (source, text))| Slot {
            index,
            number: index + 1,
            source: source.clone(),
            text: text.clone(),
        })
        .collect();
    let mut res = page(&FormPage {
        shell,
        id,
        account_name: account.name.clone(),
        form,
        slots,
        all_weekdays: (1..=7).collect(),
        errors,
        sources: library_choices(state, caller.merchant_id, caller.lang).await?,
        flows: crate::flows::store::list(&state.db, caller.merchant_id, account.id)
            .await?
            .into_iter()
            .map(|f| (format!("flow:{}", f.id), f.name))
            .collect(),
        modules: modules(state),
        kinds: MessageKind::ALL.to_vec(),
        keyword_hits,
        can_manage: caller.role.allows(Permission::ManageReplies),
    })?;
    if failed {
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

#[derive(Deserialize, Default)]
struct NewParams {
    kind: Option<String>,
    keyword: Option<String>,
}

async fn new_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Query(params): Query<NewParams>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageReplies)?;
    let shell = Shell::for_caller(&state, &caller, "replies", "replies.new_title", &uri).await?;
    let account = current_account(&state, &caller, &shell)
        .await?
        .ok_or(AppError::NotFound)?;
    let kind = params
        .kind
        .as_deref()
        .and_then(RuleKind::parse)
        .unwrap_or_default();
    // The welcome and the default start from the account's plain text.
    let first = match kind {
        RuleKind::Welcome => account.welcome_text.clone(),
        RuleKind::Default => account.default_reply_text.clone(),
        RuleKind::Keyword => String::new(),
    };
    let keyword = params.keyword.unwrap_or_default();
    let input = RuleInput {
        name: match kind {
            RuleKind::Keyword => keyword.clone(),
            _ => shell
                .t(if kind == RuleKind::Welcome {
                    "replies.welcome"
                } else {
                    "replies.default"
                })
                .to_string(),
        },
        kind,
        keywords: if keyword.is_empty() {
            vec![]
        } else {
            vec![Keyword {
                text: keyword,
                mode: MatchMode::Exact,
            }]
        },
        enabled: true,
        replies: if first.is_empty() {
            vec![]
        } else {
            vec![ReplyItem::Text { text: first }]
        },
        ..RuleInput::default()
    };
    let form = FormValues::of_rule(account.id, &input);
    render_form(
        &state,
        &caller,
        &uri,
        None,
        &account,
        form,
        FieldErrors::default(),
    )
    .await
}

async fn create_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageReplies)?;
    let p = posted(&f);
    let account = form_account(&state, &caller, &p.values.account_id.to_string()).await?;
    if !p.errors.is_empty() {
        let errors = p.errors.clone();
        return render_form(&state, &caller, &uri, None, &account, p.values, errors).await;
    }
    match save(&state, caller.merchant_id, account.id, None, &p.input).await {
        Ok(_) => Ok(Redirect::to("/replies?notice=saved").into_response()),
        Err(AppError::Validation(e)) => {
            let errors = p.form_errors(e);
            render_form(&state, &caller, &uri, None, &account, p.values, errors).await
        }
        Err(e) => Err(e),
    }
}

async fn edit_page(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ViewReplies)?;
    let rule = super::get(&state.db, caller.merchant_id, id).await?;
    let account = crate::followers::account_of(&state, caller.merchant_id, rule.account_id).await?;
    let form = FormValues::of_rule(account.id, &rule.input());
    render_form(
        &state,
        &caller,
        &uri,
        Some(id),
        &account,
        form,
        FieldErrors::default(),
    )
    .await
}

async fn update_form(
    State(state): State<AppState>,
    caller: Caller,
    uri: Uri,
    Path(id): Path<i64>,
    Form(f): Form<HashMap<String, String>>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageReplies)?;
    let rule = super::get(&state.db, caller.merchant_id, id).await?;
    let account = crate::followers::account_of(&state, caller.merchant_id, rule.account_id).await?;
    let mut p = posted(&f);
    p.values.kind = rule.kind.clone();
    p.values.account_id = account.id;
    if !p.errors.is_empty() {
        let errors = p.errors.clone();
        return render_form(&state, &caller, &uri, Some(id), &account, p.values, errors).await;
    }
    match save(&state, caller.merchant_id, account.id, Some(id), &p.input).await {
        Ok(_) => Ok(Redirect::to("/replies?notice=saved").into_response()),
        Err(AppError::Validation(e)) => {
            let errors = p.form_errors(e);
            render_form(&state, &caller, &uri, Some(id), &account, p.values, errors).await
        }
        Err(e) => Err(e),
    }
}

async fn toggle_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageReplies)?;
    let rule = super::get(&state.db, caller.merchant_id, id).await?;
    super::store::set_enabled(
        &state.db,
        caller.merchant_id,
        id,
        !rule.enabled,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Redirect::to("/replies?notice=saved").into_response())
}

async fn delete_form(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    caller.require(Permission::ManageReplies)?;
    super::delete(&state.db, caller.merchant_id, id).await?;
    Ok(Redirect::to("/replies?notice=deleted").into_response())
}

// ---- API ----

/// A rule with its recent hits.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RuleOut {
    pub id: i64,
    pub account_id: i64,
    #[serde(flatten)]
    pub rule: RuleInput,
    pub hits: Hits,
    pub created_at: String,
    pub updated_at: String,
}

/// A rule with its hits per keyword over the last 30 days.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RuleDetail {
    #[serde(flatten)]
    pub rule: RuleOut,
    /// (keyword, hits); '' stands for triggers, the welcome and the default.
    pub keyword_hits: Vec<(String, i64)>,
}

fn rule_out(row: &RuleRow, hits: &HashMap<i64, Hits>, tz: chrono_tz::Tz) -> RuleOut {
    RuleOut {
        id: row.id,
        account_id: row.account_id,
        rule: row.input(),
        hits: hits.get(&row.id).copied().unwrap_or_default(),
        created_at: rfc3339(row.created_at, tz),
        updated_at: rfc3339(row.updated_at, tz),
    }
}

/// A rule of this account, or 404.
/// Uploads the media the rule sends to WeChat, then creates the rule (`id` none) or
/// replaces rule `id`.
async fn save(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    id: Option<i64>,
    input: &RuleInput,
) -> Result<RuleRow, AppError> {
    super::upload_media(state, merchant_id, account_id, input).await?;
    let modules = modules(state);
    let now = state.clock.now_ms();
    match id {
        None => super::create(&state.db, merchant_id, account_id, input, &modules, now).await,
        Some(id) => super::update(&state.db, merchant_id, id, input, &modules, now).await,
    }
}

async fn rule_of(
    state: &AppState,
    caller: &Caller,
    account_id: i64,
    rule_id: i64,
) -> Result<RuleRow, AppError> {
    let rule = super::get(&state.db, caller.merchant_id, rule_id).await?;
    if rule.account_id != account_id {
        return Err(AppError::NotFound);
    }
    Ok(rule)
}

async fn out_of(state: &AppState, caller: &Caller, row: &RuleRow) -> Result<RuleOut, AppError> {
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let hits = hits(state, caller.merchant_id, row.account_id, tz).await?;
    Ok(rule_out(row, &hits, tz))
}

/// Every reply rule of an account (keyword rules, the welcome and the default), newest first.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/reply-rules", tag = "replies",
    params(("account_id" = i64, Path)),
    responses((status = 200, body = Vec<RuleOut>), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_list(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
) -> Result<Json<Vec<RuleOut>>, AppError> {
    caller.require(Permission::ViewReplies)?;
    let account = crate::followers::account_of(&state, caller.merchant_id, account_id).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let hits = hits(&state, caller.merchant_id, account.id, tz).await?;
    let rows = super::store::list(&state.db, caller.merchant_id, account.id).await?;
    Ok(Json(rows.iter().map(|r| rule_out(r, &hits, tz)).collect()))
}

/// Creates a rule. An account has at most one welcome and one default rule (409).
#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/reply-rules", tag = "replies",
    params(("account_id" = i64, Path)), request_body = RuleInput,
    responses((status = 201, body = RuleOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 409, body = crate::platform::error::ApiErrorEnvelope), (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_create(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
    ApiJson(input): ApiJson<RuleInput>,
) -> Result<(StatusCode, Json<RuleOut>), AppError> {
    caller.require(Permission::ManageReplies)?;
    let account = crate::followers::account_of(&state, caller.merchant_id, account_id).await?;
    let row = save(&state, caller.merchant_id, account.id, None, &input).await?;
    Ok((
        StatusCode::CREATED,
        Json(out_of(&state, &caller, &row).await?),
    ))
}

/// One rule with its hits per keyword.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/reply-rules/{rule_id}", tag = "replies",
    params(("account_id" = i64, Path), ("rule_id" = i64, Path)),
    responses((status = 200, body = RuleDetail), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_get(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, rule_id)): Path<(i64, i64)>,
) -> Result<Json<RuleDetail>, AppError> {
    caller.require(Permission::ViewReplies)?;
    let row = rule_of(&state, &caller, account_id, rule_id).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let month = day_of(state.clock.now_ms() - 29 * DAY_MS, tz);
    let keyword_hits =
        super::store::hits_by_keyword(&state.db, caller.merchant_id, rule_id, &month).await?;
    Ok(Json(RuleDetail {
        rule: out_of(&state, &caller, &row).await?,
        keyword_hits,
    }))
}

/// Replaces a rule (its kind stays what it was).
#[utoipa::path(put, path = "/api/v1/accounts/{account_id}/reply-rules/{rule_id}", tag = "replies",
    params(("account_id" = i64, Path), ("rule_id" = i64, Path)), request_body = RuleInput,
    responses((status = 200, body = RuleOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_update(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, rule_id)): Path<(i64, i64)>,
    ApiJson(input): ApiJson<RuleInput>,
) -> Result<Json<RuleOut>, AppError> {
    caller.require(Permission::ManageReplies)?;
    let rule = rule_of(&state, &caller, account_id, rule_id).await?;
    let row = save(
        &state,
        caller.merchant_id,
        rule.account_id,
        Some(rule_id),
        &input,
    )
    .await?;
    Ok(Json(out_of(&state, &caller, &row).await?))
}

#[utoipa::path(delete, path = "/api/v1/accounts/{account_id}/reply-rules/{rule_id}", tag = "replies",
    params(("account_id" = i64, Path), ("rule_id" = i64, Path)),
    responses((status = 204), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_delete(
    State(state): State<AppState>,
    caller: Caller,
    Path((account_id, rule_id)): Path<(i64, i64)>,
) -> Result<StatusCode, AppError> {
    caller.require(Permission::ManageReplies)?;
    rule_of(&state, &caller, account_id, rule_id).await?;
    super::delete(&state.db, caller.merchant_id, rule_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Hand-off words and the once-an-hour courtesy of the default reply.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/reply-settings", tag = "replies",
    params(("account_id" = i64, Path)),
    responses((status = 200, body = Settings), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
) -> Result<Json<Settings>, AppError> {
    caller.require(Permission::ViewReplies)?;
    let account = crate::followers::account_of(&state, caller.merchant_id, account_id).await?;
    Ok(Json(super::store::settings(&state.db, account.id).await?))
}

#[utoipa::path(put, path = "/api/v1/accounts/{account_id}/reply-settings", tag = "replies",
    params(("account_id" = i64, Path)), request_body = Settings,
    responses((status = 200, body = Settings), (status = 404, body = crate::platform::error::ApiErrorEnvelope),
        (status = 422, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_save_settings(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
    ApiJson(input): ApiJson<Settings>,
) -> Result<Json<Settings>, AppError> {
    caller.require(Permission::ManageReplies)?;
    let account = crate::followers::account_of(&state, caller.merchant_id, account_id).await?;
    let settings = super::model::validate_settings(&input).map_err(AppError::Validation)?;
    super::store::save_settings(
        &state.db,
        caller.merchant_id,
        account.id,
        &settings,
        state.clock.now_ms(),
    )
    .await?;
    Ok(Json(settings))
}

#[derive(Deserialize, ToSchema)]
pub struct TestInput {
    /// A message as a follower would type it.
    pub text: String,
}

/// A rule that matched a tested message and whether it answers.
#[derive(Serialize, ToSchema)]
pub struct CandidateOut {
    pub rule_id: i64,
    pub name: String,
    pub keyword: String,
    pub mode: Option<MatchMode>,
    pub priority: i64,
    /// `answers`, `closed` (outside its schedule), `lower_priority`, `weaker_match`,
    /// `older` or `handoff_first`.
    pub verdict: String,
    /// The verdict in the caller's language.
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct TestOut {
    /// `rule`, `handoff`, `default` or `nothing`.
    pub outcome: String,
    pub rule_id: Option<i64>,
    /// What the follower would see first.
    pub reply: String,
    pub candidates: Vec<CandidateOut>,
}

/// Which rule would answer a message now, and why the other matching rules would not.
#[utoipa::path(post, path = "/api/v1/accounts/{account_id}/reply-rules/test", tag = "replies",
    params(("account_id" = i64, Path)), request_body = TestInput,
    responses((status = 200, body = TestOut), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_test(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
    ApiJson(input): ApiJson<TestInput>,
) -> Result<Json<TestOut>, AppError> {
    caller.require(Permission::ViewReplies)?;
    let account = crate::followers::account_of(&state, caller.merchant_id, account_id).await?;
    let index = super::compile(
        &state.db,
        caller.merchant_id,
        account.id,
        &state.config.public_url,
    )
    .await?;
    let plain = super::plain_replies(
        &state.db,
        account.id,
        &account.welcome_text,
        &account.default_reply_text,
    )
    .await?;
    let lang = caller.lang;
    let view = test_message(&index, &plain, &input.text, state.clock.now_ms(), lang);
    let candidates = index.explain(&input.text, state.clock.now_ms());
    Ok(Json(TestOut {
        outcome: view
            .outcome_key
            .trim_start_matches("replies.test.")
            .to_string(),
        rule_id: view.rule_name.map(|(id, _)| id),
        reply: view.reply,
        candidates: candidates
            .iter()
            .zip(view.candidates)
            .map(|(c, v)| CandidateOut {
                rule_id: c.rule_id,
                name: c.name.clone(),
                keyword: c.keyword.clone(),
                mode: c.mode,
                priority: c.priority,
                verdict: v
                    .verdict_key
                    .trim_start_matches("replies.verdict.")
                    .to_string(),
                reason: lang.t(v.verdict_key).to_string(),
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct UnmatchedOut {
    pub text: String,
    pub count: i64,
    pub last_sent_at: String,
}

/// The texts no rule matched over the last 30 days, most frequent first.
#[utoipa::path(get, path = "/api/v1/accounts/{account_id}/reply-rules/unmatched", tag = "replies",
    params(("account_id" = i64, Path)),
    responses((status = 200, body = Vec<UnmatchedOut>), (status = 404, body = crate::platform::error::ApiErrorEnvelope)))]
async fn api_unmatched(
    State(state): State<AppState>,
    caller: Caller,
    Path(account_id): Path<i64>,
) -> Result<Json<Vec<UnmatchedOut>>, AppError> {
    caller.require(Permission::ViewReplies)?;
    let account = crate::followers::account_of(&state, caller.merchant_id, account_id).await?;
    let tz = crate::merchants::timezone(&state.db, caller.merchant_id).await?;
    let now = state.clock.now_ms();
    let rows = super::store::top_unmatched(
        &state.db,
        caller.merchant_id,
        account.id,
        now - 30 * DAY_MS,
        200,
    )
    .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(text, count, last)| UnmatchedOut {
                text,
                count,
                last_sent_at: rfc3339(last, tz),
            })
            .collect(),
    ))
}
