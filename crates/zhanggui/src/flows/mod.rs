//! Conversational flows (互动问答): started by a reply rule (a keyword, a menu key, a QR scene
//! or the welcome), they ask lettered questions; each answer can tag the follower, fill a
//! profile field, reply and lead on. Where a follower is lives in `flow_sessions`, shared by
//! every instance, so a conversation survives restarts; it times out after the flow's idle
//! time; an unexpected answer is asked again politely, twice, before the follower is let go.
//!
//! The callback reads the follower's position only for accounts that have an enabled flow,
//! and writes one transaction per turn (position, answer, the job applying its effects).

pub mod jobs;
pub mod model;
pub mod routes;
pub mod store;

use std::collections::HashMap;
use std::sync::Arc;

use model::{FlowInput, Position, Turn};
pub use store::FlowRow;

use crate::platform::db::Db;
use crate::platform::error::{AppError, FieldErrors};
use crate::platform::i18n::Msg;

/// A flow as the callback keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flow {
    pub id: i64,
    pub def: FlowInput,
}

impl FlowRow {
    pub fn input(&self) -> FlowInput {
        let mut def: FlowInput = serde_json::from_str(&self.definition).unwrap_or_default();
        def.name = self.name.clone();
        def.enabled = self.enabled;
        def
    }
}

/// One answer a follower gave, in words (their page lists them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GivenAnswer {
    pub flow_id: i64,
    /// The flow's name; `None` when the flow was deleted since.
    pub flow: Option<String>,
    /// Counted from 1.
    pub step: i64,
    /// The question as it reads now (a flow may have been edited since).
    pub question: String,
    /// "B 是的" for an option, else the text they sent.
    pub answer: String,
    pub answered_at: i64,
}

/// A follower's latest answers in the account's flows, newest first.
pub async fn answers_of(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    openid: &str,
    limit: i64,
) -> Result<Vec<GivenAnswer>, sqlx::Error> {
    let rows = store::answers_of(db, merchant_id, account_id, openid, limit).await?;
    let flows: HashMap<i64, FlowInput> = store::list(db, merchant_id, account_id)
        .await?
        .iter()
        .map(|f| (f.id, f.input()))
        .collect();
    Ok(rows
        .into_iter()
        .map(|(flow_id, step, choice, text, answered_at)| {
            let def = flows.get(&flow_id);
            let step_def = def.and_then(|d| d.steps.get(usize::try_from(step).ok()?));
            let label = step_def.and_then(|s| {
                s.options
                    .iter()
                    .enumerate()
                    .find(|(i, _)| model::letter(*i).to_string() == choice)
                    .map(|(_, o)| o.label.clone())
            });
            let answer = match label {
                Some(label) => format!("{choice} {label}"),
                None if choice.is_empty() => text,
                None => choice,
            };
            GivenAnswer {
                flow_id,
                flow: def.map(|d| d.name.clone()),
                step: step + 1,
                question: step_def.map(|s| s.question.clone()).unwrap_or_default(),
                answer,
                answered_at,
            }
        })
        .collect())
}

pub async fn get(db: &Db, merchant_id: i64, id: i64) -> Result<FlowRow, AppError> {
    store::get(db, merchant_id, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Checks a flow and the tags it puts on followers (the account's own).
async fn check(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    input: &FlowInput,
) -> Result<FlowInput, AppError> {
    let flow = model::validate(input).map_err(AppError::Validation)?;
    let tags: Vec<i64> = crate::channels::store::tags(db, merchant_id, account_id)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut errors = FieldErrors::default();
    for (i, s) in flow.steps.iter().enumerate() {
        for (j, o) in s.options.iter().enumerate() {
            if o.tag_id.is_some_and(|t| !tags.contains(&t)) {
                errors.add(
                    &format!("steps.{i}.options.{j}.tag_id"),
                    Msg::new("flows.no_such_tag"),
                );
            }
        }
    }
    errors.into_result(flow)
}

fn definition(flow: &FlowInput) -> String {
    serde_json::to_string(flow).unwrap_or_else(|_| "{}".into())
}

pub async fn create(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    input: &FlowInput,
    now: i64,
) -> Result<FlowRow, AppError> {
    let flow = check(db, merchant_id, account_id, input).await?;
    let id = store::insert(
        db,
        merchant_id,
        account_id,
        &flow.name,
        flow.enabled,
        &definition(&flow),
        now,
    )
    .await?;
    get(db, merchant_id, id).await
}

pub async fn update(
    db: &Db,
    merchant_id: i64,
    id: i64,
    input: &FlowInput,
    now: i64,
) -> Result<FlowRow, AppError> {
    let old = get(db, merchant_id, id).await?;
    let flow = check(db, merchant_id, old.account_id, input).await?;
    store::update(
        db,
        merchant_id,
        id,
        &flow.name,
        flow.enabled,
        &definition(&flow),
        now,
    )
    .await?;
    get(db, merchant_id, id).await
}

/// Deletes a flow unless a reply rule starts it (409 naming the rule).
pub async fn delete(db: &Db, merchant_id: i64, id: i64) -> Result<(), AppError> {
    get(db, merchant_id, id).await?;
    if let Some((_, rule)) = crate::replies::rules_starting_flow(db, merchant_id, id)
        .await?
        .first()
    {
        return Err(AppError::Conflict(
            Msg::new("flows.in_use").arg("name", rule),
        ));
    }
    store::delete(db, merchant_id, id).await?;
    Ok(())
}

/// The enabled flows of an account, for its reply index.
pub async fn enabled(db: &Db, account_id: i64) -> Result<HashMap<i64, Arc<Flow>>, sqlx::Error> {
    Ok(store::enabled(db, account_id)
        .await?
        .iter()
        .map(|r| {
            (
                r.id,
                Arc::new(Flow {
                    id: r.id,
                    def: r.input(),
                }),
            )
        })
        .collect())
}

/// Who is talking, about which message, and when.
pub struct Speaker<'a> {
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: &'a str,
    pub dedup_key: &'a str,
    pub now: i64,
}

fn expires(flow: &Flow, now: i64) -> i64 {
    now + flow.def.idle_minutes * 60_000
}

/// Starts `flow` for the follower: records their position and returns the opening.
pub async fn start(db: &Db, who: &Speaker<'_>, flow: &Flow) -> Result<String, sqlx::Error> {
    let reply = model::opening(&flow.def);
    store::record_turn(
        db,
        &store::TurnWrite {
            merchant_id: who.merchant_id,
            account_id: who.account_id,
            openid: who.openid,
            flow_id: flow.id,
            step: 0,
            reasks: 0,
            ended: false,
            expires_at: expires(flow, who.now),
            dedup_key: who.dedup_key,
            reply: &reply,
            answer: None,
            job: None,
        },
        who.now,
    )
    .await?;
    Ok(reply)
}

/// What a follower in a flow says: `Some((reply, route))` when the flow answers it, `None`
/// when they are in no flow (or have just left it) and the message goes to the rules.
pub async fn answer(
    db: &Db,
    who: &Speaker<'_>,
    flows: &HashMap<i64, Arc<Flow>>,
    text: &str,
) -> Result<Option<(String, String)>, sqlx::Error> {
    let Some(session) = store::session(db, who.account_id, who.openid).await? else {
        return Ok(None);
    };
    if session.last_key == who.dedup_key {
        // WeChat delivering the same message again: the same answer, no second step.
        return Ok(Some((
            session.last_reply,
            route(session.flow_id, session.step),
        )));
    }
    if session.ended || session.expires_at <= who.now {
        return Ok(None);
    }
    let Some(flow) = flows.get(&session.flow_id) else {
        return Ok(None);
    };
    let at = Position {
        step: usize::try_from(session.step).unwrap_or(0),
        reasks: session.reasks,
    };
    let (reply, step, reasks, ended, effects) = match model::answer(&flow.def, at, text) {
        Turn::Next {
            reply,
            step,
            effects,
        } => (reply, step, 0, false, Some(effects)),
        Turn::End { reply, effects } => (reply, at.step, 0, true, Some(effects)),
        Turn::Reask { reply, reasks } => (reply, at.step, reasks, false, None),
        Turn::Leave => (String::new(), at.step, 0, true, None),
    };
    let answer = effects.as_ref().map(|e| {
        (
            e.step as i64,
            e.option.map(String::from).unwrap_or_default(),
            e.text.clone(),
        )
    });
    let job = effects
        .as_ref()
        .filter(|e| e.tag_id.is_some() || e.field.is_some())
        .map(|e| jobs::apply_job(who, e));
    store::record_turn(
        db,
        &store::TurnWrite {
            merchant_id: who.merchant_id,
            account_id: who.account_id,
            openid: who.openid,
            flow_id: flow.id,
            step: step as i64,
            reasks,
            ended,
            expires_at: expires(flow, who.now),
            dedup_key: who.dedup_key,
            reply: &reply,
            answer,
            job,
        },
        who.now,
    )
    .await?;
    if reply.is_empty() && ended && effects.is_none() {
        return Ok(None); // left the flow: the rules answer this message
    }
    Ok(Some((reply, route(flow.id, step as i64))))
}

fn route(flow_id: i64, step: i64) -> String {
    format!("flow:{flow_id}:{step}")
}
