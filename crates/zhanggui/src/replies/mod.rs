//! Automatic replies (自动回复): keyword rules, the welcome and the default reply made of any
//! replies, triggers (menu keys, QR scenes, kinds of message), hand-off words and the
//! once-an-hour courtesy. The callback answers from a per-account [`index::Index`] compiled
//! here and cached by `messages::directory`; the replies projector (`jobs.rs`) counts hits,
//! keeps unmatched texts, marks hand-offs and sends a rule's further replies.

pub mod hits;
pub mod index;
pub mod jobs;
pub mod model;
pub mod routes;
pub mod store;

use std::collections::HashMap;

use index::{Answer, CompiledRule, Index, PlainReplies};
use model::{ReplyItem, RuleInput};
use wechat::ReplyBody;
use wechat::reply::Article;

use crate::library::model::Kind;
use crate::platform::db::Db;
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;
use crate::platform::state::AppState;
pub use store::RuleRow;

impl RuleRow {
    /// The rule as the merchant edited it (JSON columns written by us; a column that no
    /// longer reads gives an empty list rather than an error).
    pub fn input(&self) -> RuleInput {
        RuleInput {
            name: self.name.clone(),
            kind: model::RuleKind::parse(&self.kind).unwrap_or_default(),
            keywords: serde_json::from_str(&self.keywords).unwrap_or_default(),
            triggers: serde_json::from_str(&self.triggers).unwrap_or_default(),
            priority: self.priority,
            reply_mode: model::ReplyMode::parse(&self.reply_mode).unwrap_or_default(),
            enabled: self.enabled,
            schedule: serde_json::from_str(&self.schedule).unwrap_or_default(),
            replies: serde_json::from_str(&self.replies).unwrap_or_default(),
        }
    }
}

/// A rule of this merchant (404 otherwise).
pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<RuleRow, AppError> {
    store::get(db, merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Checks a rule and the library items it sends (the merchant's own, of a kind a reply can
/// carry).
pub async fn check(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    input: &RuleInput,
    modules: &[&str],
) -> Result<RuleInput, AppError> {
    let mut errors = match model::validate(input, modules) {
        Ok(rule) => return check_items(db, merchant_id, account_id, rule).await,
        Err(e) => e,
    };
    // Report missing items too, so the form shows every problem at once.
    if let Err(AppError::Validation(more)) =
        check_items(db, merchant_id, account_id, input.clone()).await
    {
        for e in more.0 {
            errors.add(&e.field, e.msg);
        }
    }
    Err(AppError::Validation(errors))
}

async fn check_items(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    rule: RuleInput,
) -> Result<RuleInput, AppError> {
    let mut errors = FieldErrors::default();
    let at_wechat = media_ids_of(db, account_id).await?;
    for (i, r) in rule.replies.iter().enumerate() {
        if let ReplyItem::Flow { flow_id } = r {
            let flow = crate::flows::store::get(db, merchant_id, *flow_id).await?;
            if flow.is_none_or(|f| f.account_id != account_id) {
                errors.add(&format!("replies.{i}"), Msg::new("replies.no_such_flow"));
            }
            continue;
        }
        let ReplyItem::Library { item_id } = r else {
            continue;
        };
        match crate::library::store::get(db, merchant_id, *item_id).await? {
            None => errors.add(&format!("replies.{i}"), Msg::new("replies.no_such_item")),
            // A medium is sent by the media_id WeChat gave it for this account:
            // `upload_media` gets it before a rule is saved, so the callback never waits.
            Some(item) if item.kind().is_media() && !at_wechat.contains_key(item_id) => errors.add(
                &format!("replies.{i}"),
                Msg::new("replies.media_not_uploaded"),
            ),
            Some(_) => {}
        }
    }
    errors.into_result(rule)
}

async fn media_ids_of(db: &Db, account_id: i64) -> Result<HashMap<i64, String>, sqlx::Error> {
    Ok(crate::library::wechat::cached_media_ids(db, account_id)
        .await?
        .into_iter()
        .collect())
}

/// Uploads the images, voices and videos a rule sends to WeChat as the account's permanent
/// material (once per item; library/wechat.rs caches the media_id), so that answering with
/// them needs no call to WeChat. Permanent material never expires, unlike the 3-day
/// temporary media. WeChat's refusal is reported on the reply it concerns.
pub async fn upload_media(
    state: &AppState,
    merchant_id: i64,
    account_id: i64,
    input: &RuleInput,
) -> Result<(), AppError> {
    let mut errors = FieldErrors::default();
    for (i, r) in input.replies.iter().enumerate() {
        let ReplyItem::Library { item_id } = r else {
            continue;
        };
        let is_media = crate::library::store::get(&state.db, merchant_id, *item_id)
            .await?
            .is_some_and(|item| item.kind().is_media());
        if !is_media {
            continue; // Unknown items are reported by the rule's check.
        }
        match crate::library::wechat::permanent_media_id(state, merchant_id, account_id, *item_id)
            .await
        {
            Ok(_) => {}
            Err(AppError::Conflict(msg) | AppError::Upstream(msg)) => {
                errors.add(&format!("replies.{i}"), msg)
            }
            Err(e) => return Err(e),
        }
    }
    errors.into_result(())
}

/// The names of the modules a rule may start.
pub fn module_names(modules: &crate::messages::modules::Modules) -> Vec<&'static str> {
    modules.names()
}

pub async fn create(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    input: &RuleInput,
    modules: &[&str],
    now: i64,
) -> Result<RuleRow, AppError> {
    let rule = check(db, merchant_id, account_id, input, modules).await?;
    if rule.kind != model::RuleKind::Keyword
        && store::list(db, merchant_id, account_id)
            .await?
            .iter()
            .any(|r| r.kind == rule.kind.as_str())
    {
        return Err(AppError::Conflict(Msg::new("replies.already_have_one")));
    }
    let id = store::insert(db, merchant_id, account_id, &rule, now).await?;
    get(db, merchant_id, id).await
}

pub async fn update(
    db: &Db,
    merchant_id: i64,
    id: i64,
    input: &RuleInput,
    modules: &[&str],
    now: i64,
) -> Result<RuleRow, AppError> {
    let old = get(db, merchant_id, id).await?;
    let mut input = input.clone();
    // A rule keeps what it is for.
    input.kind = model::RuleKind::parse(&old.kind).unwrap_or_default();
    let rule = check(db, merchant_id, old.account_id, &input, modules).await?;
    if !store::update(db, merchant_id, id, &rule, now).await? {
        return Err(AppError::NotFound);
    }
    get(db, merchant_id, id).await
}

pub async fn delete(db: &Db, merchant_id: i64, id: i64) -> Result<(), AppError> {
    if !store::delete(db, merchant_id, id).await? {
        return Err(AppError::NotFound);
    }
    Ok(())
}

/// Rules that send a library item (the library's deletion guard asks).
pub async fn rules_sending_item(
    db: &Db,
    merchant_id: i64,
    item_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    store::rules_sending_item(db, merchant_id, item_id).await
}

/// (rule id, name) of the merchant's rules that start a flow.
pub async fn rules_starting_flow(
    db: &Db,
    merchant_id: i64,
    flow_id: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    store::rules_with_reply(db, merchant_id, &format!("\"flow_id\":{flow_id}}}")).await
}

/// Compiles the index of an account: its enabled rules with their library items read into
/// ready replies, and its settings. `public_url` makes the article and picture links of news.
pub async fn compile(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    public_url: &str,
) -> Result<Index, sqlx::Error> {
    let rows = store::enabled_rules(db, account_id).await?;
    let settings = store::settings(db, account_id).await?;
    let tz = crate::channels::store::account_zones(db, &[account_id])
        .await?
        .into_iter()
        .next()
        .and_then(|(_, _, tz)| crate::platform::clock::parse_timezone(&tz))
        .unwrap_or(chrono_tz::Asia::Shanghai);
    let mut library = Library::new(db, merchant_id, public_url);
    library.media_ids = media_ids_of(db, account_id).await?;
    let mut rules = Vec::with_capacity(rows.len());
    for row in &rows {
        let input = row.input();
        let answers = library.answers(&input.replies).await?;
        rules.push(CompiledRule {
            id: row.id,
            name: input.name,
            kind: input.kind,
            priority: input.priority,
            reply_mode: input.reply_mode,
            schedule: input.schedule,
            keywords: input.keywords,
            triggers: input.triggers,
            answers,
        });
    }
    let mut index = compile_apart(rules, settings, tz).await?;
    index.flows = crate::flows::enabled(db, account_id).await?;
    for (key, item_id) in crate::menus::click_replies(db, account_id).await? {
        if let Some(answer) = library.answer(&ReplyItem::Library { item_id }).await? {
            index.menu_clicks.insert(key, answer);
        }
    }
    Ok(index)
}

/// Builds the automata on a thread of the blocking pool, not the runtime's: 10,000 rules
/// take ~40 ms (BENCHMARKS.md, "Reply rules"), which every callback would otherwise wait
/// out, and the megabytes of scratch memory they are built with come and go on that thread
/// instead of among the callbacks' allocations, and are given back before it goes idle.
async fn compile_apart(
    rules: Vec<CompiledRule>,
    settings: model::Settings,
    tz: chrono_tz::Tz,
) -> Result<Index, sqlx::Error> {
    tokio::task::spawn_blocking(move || {
        let index = Index::compile(rules, settings, tz);
        crate::platform::memory::release_freed_on_this_thread();
        index
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "compiling a reply index failed");
        sqlx::Error::WorkerCrashed
    })
}

/// A rule's replies as they would be sent now (the further replies of a rule go out later,
/// by customer-service message, from the rule as it is then).
pub async fn rule_answers(
    db: &Db,
    rule: &RuleRow,
    public_url: &str,
) -> Result<Vec<Answer>, sqlx::Error> {
    Library::new(db, rule.merchant_id, public_url)
        .answers(&rule.input().replies)
        .await
}

/// The plain texts an account answers with besides rules.
pub async fn plain_replies(
    db: &Db,
    account_id: i64,
    welcome_text: &str,
    default_reply_text: &str,
) -> Result<PlainReplies, sqlx::Error> {
    Ok(PlainReplies {
        welcome_text: welcome_text.to_string(),
        default_reply_text: default_reply_text.to_string(),
        channel_welcomes: crate::channels::store::welcomes(db, account_id)
            .await?
            .into_iter()
            .collect(),
    })
}

/// Reads library items into replies, each item once.
struct Library<'a> {
    db: &'a Db,
    merchant_id: i64,
    public_url: &'a str,
    answers: HashMap<i64, Option<Answer>>,
    covers: Option<HashMap<i64, String>>,
    /// The account's media already at WeChat (library/wechat.rs): item → media_id.
    media_ids: HashMap<i64, String>,
}

impl<'a> Library<'a> {
    fn new(db: &'a Db, merchant_id: i64, public_url: &'a str) -> Library<'a> {
        Library {
            db,
            merchant_id,
            public_url,
            answers: HashMap::new(),
            covers: None,
            media_ids: HashMap::new(),
        }
    }

    async fn answers(&mut self, items: &[ReplyItem]) -> Result<Vec<Answer>, sqlx::Error> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(answer) = self.answer(item).await? {
                out.push(answer);
            }
        }
        Ok(out)
    }

    async fn answer(&mut self, item: &ReplyItem) -> Result<Option<Answer>, sqlx::Error> {
        match item {
            ReplyItem::Text { text } => Ok(Some(Answer::reply(ReplyBody::Text {
                content: text.clone().into(),
            }))),
            ReplyItem::Module { name } => Ok(Some(Answer::Module(name.clone()))),
            ReplyItem::Flow { flow_id } => Ok(Some(Answer::Flow(*flow_id))),
            ReplyItem::Library { item_id } => {
                if let Some(known) = self.answers.get(item_id) {
                    return Ok(known.clone());
                }
                let answer = self.read(*item_id).await?;
                self.answers.insert(*item_id, answer.clone());
                Ok(answer)
            }
        }
    }

    async fn read(&mut self, item_id: i64) -> Result<Option<Answer>, sqlx::Error> {
        let Some(item) = crate::library::store::get(self.db, self.merchant_id, item_id).await?
        else {
            return Ok(None);
        };
        match item.kind() {
            Kind::Text => Ok(Some(Answer::reply(ReplyBody::Text {
                content: item.body.into(),
            }))),
            Kind::News => {
                let articles =
                    crate::library::store::articles(self.db, self.merchant_id, &[item_id]).await?;
                let public_url = self.public_url;
                let covers = self.covers().await?;
                let articles: Vec<Article<'static>> = articles
                    .iter()
                    .map(|a| Article {
                        title: a.title.clone().into(),
                        description: a.digest.clone().into(),
                        pic_url: a
                            .cover_item_id
                            .and_then(|c| covers.get(&c))
                            .map(|token| format!("{public_url}/m/{token}"))
                            .unwrap_or_default()
                            .into(),
                        url: format!("{public_url}{}", a.page_path()).into(),
                    })
                    .collect();
                Ok((!articles.is_empty()).then_some(Answer::reply(ReplyBody::News { articles })))
            }
            // Sent by the media_id WeChat gave when the item was uploaded for the account (a
            // menu's publish uploads what its buttons send); rules refuse media when saved
            // (`check_items`).
            kind => Ok(self.media_ids.get(&item_id).map(|media_id| {
                let media_id = media_id.clone().into();
                Answer::reply(match kind {
                    Kind::Voice => ReplyBody::Voice { media_id },
                    Kind::Video => ReplyBody::Video {
                        media_id,
                        title: Some(item.title.clone().into()),
                        description: None,
                    },
                    _ => ReplyBody::Image { media_id },
                })
            })),
        }
    }

    async fn covers(&mut self) -> Result<&HashMap<i64, String>, sqlx::Error> {
        if self.covers.is_none() {
            let images = crate::library::store::image_tokens(self.db, self.merchant_id).await?;
            self.covers = Some(images.into_iter().map(|(id, _, t)| (id, t)).collect());
        }
        Ok(self.covers.get_or_insert_with(HashMap::new))
    }
}
